/*
 * bench/webhooks — webhook deliveries per second: payments are made
 * (3 events each), then one constra_webhooks_tick() derives, signs
 * (t_v1 + body-hex + Standard Webhooks), POSTs through the loopback
 * transport (a receiver answering 200) and records every delivery. Timed
 * on memory storage and on a SQLite file (synchronous=FULL: one fsync per
 * claim and per outcome). Prints the median of several runs.
 *
 *   build/bench/webhooks [--runs N] [--payments N]
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <constra.h>

#include "bench.h"

static long received;
static int ok_200(void *ctx, const constra_transport_request *req,
                  constra_transport_response *resp)
{
    (void)ctx;
    (void)req;
    received++;
    return constra_transport_response_set_status(resp, 200);
}

static void die(const char *what)
{
    fprintf(stderr, "bench/webhooks: %s failed\n", what);
    exit(1);
}

/* One run: returns deliveries per second of the tick. */
static double run(int sqlite, int payments)
{
    char path[] = "/tmp/constra_bench_wh_XXXXXX";
    constra_storage st = CONSTRA_STORAGE_INIT;
    if (sqlite) {
        int fd = mkstemp(path);
        if (fd < 0) {
            die("mkstemp");
        }
        close(fd);
        constra_sqlite_options o = CONSTRA_SQLITE_OPTIONS_INIT;
        o.path = path;
        if (constra_storage_sqlite(&st, NULL, &o, NULL) != CONSTRA_OK) {
            die("sqlite storage");
        }
    } else if (constra_storage_memory(&st, NULL, NULL) != CONSTRA_OK) {
        die("memory storage");
    }
    constra_loopback *lb = NULL;
    constra_transport t;
    constra_transport_init(&t, sizeof(t));
    if (constra_loopback_new(&lb, NULL, NULL) != CONSTRA_OK ||
        constra_loopback_mount(lb, "http://hooks.bench", ok_200, NULL, NULL) != CONSTRA_OK ||
        constra_loopback_transport(lb, &t, NULL) != CONSTRA_OK) {
        die("loopback");
    }
    constra_config cfg = CONSTRA_CONFIG_INIT;
    cfg.storage = &st;
    cfg.transport = &t;
    constra_t *h = NULL;
    if (constra_open(&h, &cfg, NULL) != CONSTRA_OK) {
        die("open");
    }
    constra_webhook_endpoint_params p = CONSTRA_WEBHOOK_ENDPOINT_PARAMS_INIT;
    p.url = "http://hooks.bench/constra";
    if (constra_webhook_endpoint_add(h, &p, NULL, NULL) != CONSTRA_OK) {
        die("endpoint");
    }
    for (int i = 0; i < payments; i++) {
        char key[32];
        snprintf(key, sizeof(key), "bench-%d", i);
        constra_intent_params ip = CONSTRA_INTENT_PARAMS_INIT;
        ip.amount = 100;
        ip.currency = "KES";
        ip.provider = "mpesa";
        ip.phone_number = "254700000000";
        constra_intent *in = NULL;
        if (constra_intent_create(h, &ip, key, &in, NULL) != CONSTRA_OK) {
            die("create");
        }
        char id[CONSTRA_ID_SIZE];
        snprintf(id, sizeof(id), "%s", constra_intent_id(in));
        constra_intent_free(in);
        if (constra_intent_simulate_callback(h, id, "0", NULL, &in, NULL) != CONSTRA_OK) {
            die("callback");
        }
        constra_intent_free(in);
    }
    received = 0;
    double t0 = now_s();
    if (constra_webhooks_tick(h, constra_now_ms(h), NULL) != CONSTRA_OK) {
        die("tick");
    }
    double dt = now_s() - t0;
    long n = received;
    constra_close(h);
    constra_loopback_free(lb);
    if (sqlite) {
        char aux[64];
        unlink(path);
        snprintf(aux, sizeof(aux), "%s-wal", path);
        unlink(aux);
        snprintf(aux, sizeof(aux), "%s-shm", path);
        unlink(aux);
    }
    if (n != 3L * payments) {
        fprintf(stderr, "bench/webhooks: %ld deliveries, want %d\n", n, 3 * payments);
        exit(1);
    }
    return (double)n / dt;
}

int main(int argc, char **argv)
{
    int runs = 5, payments = 300;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--runs") == 0) {
            runs = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--payments") == 0) {
            payments = atoi(argv[i + 1]);
        }
    }
    if (runs < 1 || runs > 100 || payments < 1 || payments > 100000) {
        fprintf(stderr, "usage: webhooks [--runs 1..100] [--payments 1..100000]\n");
        return 2;
    }
    for (int sqlite = 0; sqlite <= 1; sqlite++) {
        if (sqlite && !constra_feature_enabled("sqlite")) {
            break;
        }
        double v[100];
        for (int r = 0; r < runs; r++) {
            v[r] = run(sqlite, payments);
        }
        qsort(v, (size_t)runs, sizeof(double), cmp_double);
        printf("webhook deliveries/s (%s storage, %d per tick, median of %d): %.0f\n",
               sqlite ? "sqlite file" : "memory", 3 * payments, runs, v[runs / 2]);
    }
    return 0;
}
