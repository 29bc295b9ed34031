/*
 * bench/engine — full payment lifecycles per second on memory storage.
 *
 * A lifecycle: create with an idempotency key (the simulator's STK push
 * included), a provider callback reporting success, reading the event
 * timeline. Measured on one thread and on two threads sharing one handle,
 * and, in the same run, the floor: parsing and printing the same intent
 * JSON with cJSON alone. Each figure is the median of several timed runs.
 *
 *   build/bench/engine [--runs N] [--lifecycles N]
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <constra.h>

#include "bench.h"

typedef struct worker {
    constra_t *h;
    int thread;
    int run;
    int count;
    int failures;
} worker;

static void *run_lifecycles(void *arg)
{
    worker *w = arg;
    constra_intent_params p = CONSTRA_INTENT_PARAMS_INIT;
    p.amount = 1250;
    p.currency = "KES";
    p.customer_name = "Amina N.";
    p.phone_number = "254700000000";
    p.reference = "order_7429";
    p.description = "Solar home kit deposit";
    for (int i = 0; i < w->count; i++) {
        char key[64];
        snprintf(key, sizeof(key), "bench-%d-%d-%d", w->run, w->thread, i);
        constra_intent *in = NULL, *done = NULL;
        constra_event_list *ev = NULL;
        if (constra_intent_create(w->h, &p, key, &in, NULL) != CONSTRA_OK ||
            constra_intent_simulate_callback(w->h, constra_intent_id(in), "0", NULL, &done, NULL) !=
                CONSTRA_OK ||
            constra_intent_status(done) != CONSTRA_INTENT_SUCCEEDED ||
            constra_event_list_get(w->h, constra_intent_id(in), &ev, NULL) != CONSTRA_OK ||
            constra_event_list_count(ev) != 3) {
            w->failures++;
        }
        constra_event_list_free(ev);
        constra_intent_free(done);
        constra_intent_free(in);
    }
    return NULL;
}

/* Lifecycles per second with `threads` threads on one fresh handle. */
static double measure(int threads, int per_thread, int run, int *failures)
{
    constra_t *h = NULL;
    if (constra_open(&h, NULL, NULL) != CONSTRA_OK) {
        fprintf(stderr, "constra_open failed\n");
        exit(1);
    }
    pthread_t t[8];
    worker w[8];
    double t0 = now_s();
    for (int i = 0; i < threads; i++) {
        w[i] = (worker){h, i, run, per_thread, 0};
        pthread_create(&t[i], NULL, run_lifecycles, &w[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        *failures += w[i].failures;
    }
    double dt = now_s() - t0;
    constra_close(h);
    return (double)(threads * per_thread) / dt;
}

/* The floor: cJSON parse + print of the same intent document. */
static double measure_cjson(const char *json, int count)
{
    double t0 = now_s();
    for (int i = 0; i < count; i++) {
        cJSON *j = cJSON_Parse(json);
        char *s = cJSON_PrintUnformatted(j);
        cJSON_free(s);
        cJSON_Delete(j);
    }
    return (double)count / (now_s() - t0);
}

int main(int argc, char **argv)
{
    int runs = 5, lifecycles = 20000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--runs") == 0) {
            runs = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--lifecycles") == 0) {
            lifecycles = atoi(argv[i + 1]);
        }
    }
    if (runs < 1 || runs > 50 || lifecycles < 100) {
        fprintf(stderr, "usage: engine [--runs 1..50] [--lifecycles >=100]\n");
        return 2;
    }

    /* One finished intent's JSON for the floor. */
    constra_t *h = NULL;
    constra_open(&h, NULL, NULL);
    constra_intent_params p = CONSTRA_INTENT_PARAMS_INIT;
    p.amount = 1250;
    p.currency = "KES";
    p.phone_number = "254700000000";
    p.reference = "order_7429";
    p.description = "Solar home kit deposit";
    constra_intent *in = NULL, *done = NULL;
    constra_intent_create(h, &p, "floor", &in, NULL);
    constra_intent_simulate_callback(h, constra_intent_id(in), "0", NULL, &done, NULL);
    char *json = strdup(constra_intent_json(done, NULL));
    constra_intent_free(in);
    constra_intent_free(done);
    constra_close(h);

    double one[50], two[50], floor_rate[50];
    int failures = 0;
    for (int r = 0; r < runs; r++) {
        one[r] = measure(1, lifecycles, r, &failures);
        two[r] = measure(2, lifecycles / 2, r, &failures);
        floor_rate[r] = measure_cjson(json, lifecycles);
    }
    double m1 = median(one, runs), m2 = median(two, runs), mf = median(floor_rate, runs);
    printf("engine lifecycles/s (create+push, callback, success, events; memory storage, sim rail)\n");
    printf("  1 thread : %10.0f /s  (median of %d runs x %d)\n", m1, runs, lifecycles);
    printf("  2 threads: %10.0f /s  (one shared handle)\n", m2);
    printf("floor: cJSON parse+print of the same intent JSON (%zu bytes)\n", strlen(json));
    printf("  1 thread : %10.0f /s\n", mf);
    printf("ratio lifecycle/floor (1 thread): %.3f  (one lifecycle costs %.1f cJSON round trips)\n",
           m1 / mf, mf / m1);
    printf("failures: %d\n", failures);
    free(json);
    return failures ? 1 : 0;
}
