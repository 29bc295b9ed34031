/*
 * bench/scale — what a stored intent costs the work that does not ask for
 * it (issue 12 item 4): with N intents stored, all waiting for their
 * callback (the worst case for time-outs: every one pending), the
 * median time of an idle constra_tick (nothing due), of the first page of
 * GET /v1/payment-intents?status=pending_user_action and of GET
 * /sandbox/overview, on memory and on a SQLite file, for N = 1k, 10k,
 * 100k (and 1M with --max 1000000). constra serve ticks every 250 ms, so
 * its idle CPU is 4 x the tick time a second. The figures should stay
 * flat as N grows; the overview does not yet (it still reads everything).
 *
 *   build/bench/scale [--max N] [--runs N] [--dir DIR] [--skip-overview]
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <constra.h>

#include "bench.h"

#define KEY "cs_test_bench_scale_0123456789ab"

static int64_t clock_ms = INT64_C(1767225600000);

static int64_t bench_clock(void *ud)
{
    (void)ud;
    return clock_ms;
}

static void die(const char *what, const constra_error *e)
{
    fprintf(stderr, "bench/scale: %s failed%s%s\n", what, e ? ": " : "", e ? e->message : "");
    exit(1);
}

static constra_t *open_handle(const char *path)
{
    static constra_platform p = CONSTRA_PLATFORM_INIT;
    p.wall_time_ms = bench_clock;
    constra_storage st = CONSTRA_STORAGE_INIT;
    constra_error e = CONSTRA_ERROR_INIT;
    constra_config cfg = CONSTRA_CONFIG_INIT;
    cfg.platform = &p;
    cfg.secret_key = KEY;
    cfg.callback_timeout_ms = INT64_C(86400000); /* nothing falls due meanwhile */
    if (path) {
        constra_sqlite_options o = CONSTRA_SQLITE_OPTIONS_INIT;
        o.path = path;
        o.synchronous = CONSTRA_SQLITE_SYNC_NORMAL; /* seeding speed; reads do not care */
        if (constra_storage_sqlite(&st, NULL, &o, &e) != CONSTRA_OK) {
            die("constra_storage_sqlite", &e);
        }
        cfg.storage = &st;
    }
    constra_t *h = NULL;
    if (constra_open(&h, &cfg, &e) != CONSTRA_OK) {
        die("constra_open", &e);
    }
    return h;
}

static void seed(constra_t *h, long from, long to)
{
    constra_intent_params p = CONSTRA_INTENT_PARAMS_INIT;
    p.amount = 1250;
    p.currency = "KES";
    p.phone_number = "254700000000";
    p.reference = "bench-scale";
    for (long i = from; i < to; i++) {
        char key[48];
        snprintf(key, sizeof(key), "scale-%ld", i);
        constra_intent *in = NULL;
        constra_error e = CONSTRA_ERROR_INIT;
        clock_ms++;
        if (constra_intent_create(h, &p, key, &in, &e) != CONSTRA_OK) {
            die("constra_intent_create", &e);
        }
        constra_intent_free(in);
    }
}

/* Median milliseconds of `runs` calls of what(h). */
static double median_ms(constra_t *h, int runs, void (*what)(constra_t *))
{
    double *v = calloc((size_t)runs, sizeof(double));
    if (v == NULL) {
        die("calloc", NULL);
    }
    for (int r = 0; r < runs; r++) {
        double t0 = now_s();
        what(h);
        v[r] = (now_s() - t0) * 1e3;
    }
    double m = median(v, runs);
    free(v);
    return m;
}

static void idle_tick(constra_t *h)
{
    constra_error e = CONSTRA_ERROR_INIT;
    clock_ms += 250;
    if (constra_tick(h, clock_ms, &e) != CONSTRA_OK) {
        die("constra_tick", &e);
    }
}

static void get(constra_t *h, const char *target)
{
    constra_http_header auth = {"Authorization", "Bearer " KEY};
    constra_api_request req = CONSTRA_API_REQUEST_INIT;
    req.method = "GET";
    req.target = target;
    req.headers = &auth;
    req.header_count = 1;
    constra_api_response *res = NULL;
    if (constra_api_handle(h, &req, &res, NULL) != CONSTRA_OK ||
        constra_api_response_status(res) != 200) {
        die(target, NULL);
    }
    constra_api_response_free(res);
}

static void list_page(constra_t *h)
{
    get(h, "/v1/payment-intents?status=pending_user_action&limit=10");
}

static void overview(constra_t *h)
{
    get(h, "/v1/sandbox/overview");
}

int main(int argc, char **argv)
{
    long max = 100000;
    int runs = 15, skip_overview = 0;
    const char *dir = ".";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--max") == 0 && i + 1 < argc) {
            max = atol(argv[++i]);
        } else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            runs = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strcmp(argv[i], "--skip-overview") == 0) {
            skip_overview = 1;
        } else {
            fprintf(stderr, "usage: %s [--max N] [--runs N] [--dir DIR] [--skip-overview]\n",
                    argv[0]);
            return 2;
        }
    }
    printf("# medians of %d runs; every stored intent pending (waiting for its callback)\n",
           runs);
    printf("%-8s %9s %14s %14s %16s %14s\n", "storage", "intents", "idle tick us",
           "serve idle CPU", "list page ms", "overview ms");
    for (int file = 0; file <= 1; file++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/bench-scale.db", dir);
        if (file) {
            static const char *const suffix[] = {"", "-wal", "-shm"};
            for (int i = 0; i < 3; i++) {
                char p[600];
                snprintf(p, sizeof(p), "%s%s", path, suffix[i]);
                unlink(p);
            }
        }
        constra_t *h = open_handle(file ? path : NULL);
        long have = 0;
        for (long n = 1000; n <= max; n *= 10) {
            seed(h, have, n);
            have = n;
            /* Past the sweep's first walk (a page a second): from then on
             * a tick is what an idle server's is. */
            for (long i = 0; i < n / 64 + 2; i++) {
                clock_ms += 1000;
                idle_tick(h);
            }
            double tick = median_ms(h, runs, idle_tick);
            double list = median_ms(h, runs, list_page);
            double ov = skip_overview ? 0 : median_ms(h, runs < 5 ? runs : 5, overview);
            printf("%-8s %9ld %14.1f %13.3f%% %16.3f %14.1f\n", file ? "sqlite" : "memory", n,
                   tick * 1e3, tick * 4 / 10.0, list, ov);
            fflush(stdout);
        }
        constra_close(h);
    }
    return 0;
}
