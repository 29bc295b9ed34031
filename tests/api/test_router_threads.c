/* Many threads on one handle, each failing differently at the same time:
 * every response carries its own request's error, never another thread's
 * (the router reads each engine call's own detail, not the shared
 * constra_last_error). */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <constra.h>
#include "../test_error.h"

#define KEY "cs_test_threads_0123456789"

typedef struct job {
    constra_t *h;
    pthread_barrier_t *barrier;
    int kind; /* 0: unknown id (404), 1: bad phone (400), 2: action in wrong status (409) */
    const char *draft_id;
    int mismatches;
} job;

static void *run(void *arg)
{
    job *j = arg;
    constra_http_header hdr[2] = {{"Authorization", "Bearer " KEY},
                                  {"Idempotency-Key", "threads-key"}};
    char target[128];
    const char *body = NULL;
    constra_api_request req = CONSTRA_API_REQUEST_INIT;
    req.headers = hdr;
    req.header_count = 1;
    int want_status = 0;
    const char *want_code = NULL;
    if (j->kind == 0) {
        req.method = "GET";
        req.target = "/v1/payment-intents/pi_00000000000000000000000000";
        want_status = 404;
        want_code = "resource_missing";
    } else if (j->kind == 1) {
        req.method = "POST";
        req.target = "/v1/payment-intents";
        req.header_count = 2;
        /* Only the engine checks phone numbers: its own detail must arrive. */
        body = "{\"amount\":10,\"currency\":\"KES\",\"customer\":{\"phone_number\":\"12345\"}}";
        want_status = 400;
        want_code = "phone_";
    } else {
        snprintf(target, sizeof(target), "/v1/payment-intents/%s/retry", j->draft_id);
        req.method = "POST";
        req.target = target;
        want_status = 409;
        want_code = "invalid_state";
    }
    req.body = body;
    req.body_len = body ? strlen(body) : 0;
    pthread_barrier_wait(j->barrier);
    for (int i = 0; i < 300; i++) {
        constra_api_response *resp = NULL;
        if (constra_api_handle(j->h, &req, &resp, T_ERR) != CONSTRA_OK) {
            j->mismatches++;
            continue;
        }
        char needle[80];
        snprintf(needle, sizeof(needle), "\"code\":\"%s", want_code);
        if (constra_api_response_status(resp) != want_status ||
            strstr(constra_api_response_body(resp, NULL), needle) == NULL) {
            if (j->mismatches == 0) {
                print_message("kind %d: %d %s\n", j->kind, constra_api_response_status(resp),
                              constra_api_response_body(resp, NULL));
            }
            j->mismatches++;
        }
        constra_api_response_free(resp);
    }
    return NULL;
}

static void test_each_thread_gets_its_own_error(void **state)
{
    (void)state;
    constra_config cfg = CONSTRA_CONFIG_INIT;
    cfg.secret_key = KEY;
    constra_t *h = NULL;
    assert_int_equal(constra_open(&h, &cfg, NULL), CONSTRA_OK);
    /* A draft: retrying it is a 409 naming its status. */
    constra_intent_params p = CONSTRA_INTENT_PARAMS_INIT;
    p.amount = 100;
    p.currency = "KES";
    p.phone_number = "254712345678";
    p.draft = 1;
    constra_intent *draft = NULL;
    assert_int_equal(constra_intent_create(h, &p, "draft-for-threads", &draft, T_ERR), CONSTRA_OK);

    enum { N = 6 };
    pthread_t t[N];
    job jobs[N];
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, N);
    for (int i = 0; i < N; i++) {
        jobs[i] = (job){h, &barrier, i % 3, constra_intent_id(draft), 0};
        assert_int_equal(pthread_create(&t[i], NULL, run, &jobs[i]), 0);
    }
    int mismatches = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        mismatches += jobs[i].mismatches;
    }
    pthread_barrier_destroy(&barrier);
    assert_int_equal(mismatches, 0);
    constra_intent_free(draft);
    constra_close(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_thread_gets_its_own_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
