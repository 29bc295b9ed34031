#define _POSIX_C_SOURCE 200809L
/* The remote client's own behaviour: retries by safety policy (503s, lost
 * answers after the server acted, 409 in flight, exhaustion), errors with
 * the server's detail (400, 401, 404), malformed answers, configuration
 * from the environment, open's checks, allocation failures, threads, and
 * a hook to run against a real `constra serve`. */
#include <strings.h>
#include <time.h>

#include "client_env.h"
#include "client/client.h"
#include "../test_error.h"

static void script(env *v, const int *steps, size_t n)
{
    memset(v->script, 0, sizeof(v->script));
    memcpy(v->script, steps, n * sizeof(*steps));
    v->requests = 0;
    v->sleeps = 0;
    v->slept_ms = 0;
}

#define SCRIPT(v, ...)                                                      \
    do {                                                                    \
        static const int steps_[] = {__VA_ARGS__};                          \
        script((v), steps_, sizeof(steps_) / sizeof(steps_[0]));            \
    } while (0)

static constra_intent *create_ok(env *v, const char *key)
{
    constra_intent_params p = seed_params("254712345678");
    constra_intent *in = NULL;
    if (constra_intent_create(v->h, &p, key, &in, T_ERR) != CONSTRA_OK) {
        fail_msg("create: %s", last(v->h).message);
    }
    return in;
}

/* ---- retries ----------------------------------------------------------------- */

static void test_503_twice_then_ok(void **state)
{
    (void)state;
    env *v = open_env(1, 0);
    SCRIPT(v, F_503, F_503, F_PASS);
    constra_intent *in = create_ok(v, "order_1");
    assert_int_equal(v->requests, 3);
    assert_int_equal(v->sleeps, 2);
    /* The same key on every try. */
    assert_string_equal(v->keys[0], "order_1");
    assert_string_equal(v->keys[1], "order_1");
    assert_string_equal(v->keys[2], "order_1");
    assert_int_equal(constra_intent_replayed(in), 0);
    constra_intent_free(in);
    assert_int_equal(engine_intents(v), 1);
    assert_int_equal(v->rail.collects, 1);
    close_env(v);
}

static void test_lost_answer_after_create_replays(void **state)
{
    (void)state;
    env *v = open_env(1, 0);
    /* The server made the intent and pushed; the answer was lost. */
    SCRIPT(v, F_AFTER_TIMEOUT, F_PASS);
    constra_intent *in = create_ok(v, "order_2");
    assert_int_equal(v->requests, 2);
    assert_int_equal(constra_intent_replayed(in), 1);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_PENDING_USER_ACTION);
    constra_intent_free(in);
    assert_int_equal(engine_intents(v), 1);
    assert_int_equal(v->rail.collects, 1);
    /* A connect failure, then lost answers until the tries run out: the
     * outcome is unknown, and still one intent per key. */
    SCRIPT(v, F_CONNECT, F_AFTER_TIMEOUT, F_AFTER_TIMEOUT);
    constra_intent_params p = seed_params("254712345678");
    assert_int_equal(constra_intent_create(v->h, &p, "order_3", &in, T_ERR), CONSTRA_E_OUTCOME_UNKNOWN);
    assert_null(in);
    assert_int_equal(v->requests, 3);
    assert_int_equal(engine_intents(v), 2);
    assert_int_equal(v->rail.collects, 2);
    /* A lost answer, then 503s until the tries run out: still unknown
     * (the first try made the intent), not a plain 503. */
    SCRIPT(v, F_AFTER_TIMEOUT, F_503, F_503);
    assert_int_equal(constra_intent_create(v->h, &p, "order_3b", &in, T_ERR), CONSTRA_E_OUTCOME_UNKNOWN);
    assert_string_equal(last(v->h).code, "outcome_unknown");
    assert_non_null(strstr(last(v->h).message, "try later"));
    assert_int_equal(engine_intents(v), 3);
    SCRIPT(v, F_PASS);
    assert_int_equal(constra_intent_create(v->h, &p, "order_3b", &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_replayed(in), 1);
    constra_intent_free(in);
    assert_int_equal(engine_intents(v), 3);
    /* Asking again under the key gives the intent the server made. */
    SCRIPT(v, F_PASS);
    assert_int_equal(constra_intent_create(v->h, &p, "order_3", &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_replayed(in), 1);
    constra_intent_free(in);
    assert_int_equal(engine_intents(v), 3);
    close_env(v);
}

static void test_in_flight_then_ok(void **state)
{
    (void)state;
    env *v = open_env(1, 0);
    SCRIPT(v, F_IN_FLIGHT, F_PASS);
    constra_intent *in = create_ok(v, "order_4");
    assert_int_equal(v->requests, 2);
    assert_int_equal(v->sleeps, 1);
    assert_true(v->slept_ms >= 200); /* at least the backoff base */
    constra_intent_free(in);
    /* In flight on every try: the conflict is the answer. */
    SCRIPT(v, F_IN_FLIGHT, F_IN_FLIGHT, F_IN_FLIGHT);
    constra_intent_params p = seed_params("254712345678");
    assert_int_equal(constra_intent_create(v->h, &p, "order_5", &in, T_ERR), CONSTRA_E_CONFLICT);
    assert_string_equal(last(v->h).code, "idempotent_request_in_flight");
    assert_int_equal(last(v->h).http_status, 409);
    assert_int_equal(v->requests, 3);
    close_env(v);
}

static void test_exhausted(void **state)
{
    (void)state;
    env *v = open_env(1, 0);
    constra_intent *in = NULL;
    constra_intent_params p = seed_params("254712345678");
    SCRIPT(v, F_503, F_503, F_503);
    assert_int_equal(constra_intent_create(v->h, &p, "order_6", &in, T_ERR), CONSTRA_E_STORAGE);
    assert_int_equal(last(v->h).http_status, 503);
    assert_string_equal(last(v->h).code, "unavailable");
    assert_string_equal(last(v->h).message, "try later");
    assert_int_equal(v->requests, 3);
    assert_int_equal(v->sleeps, 2);
    SCRIPT(v, F_CONNECT, F_CONNECT, F_CONNECT);
    assert_int_equal(constra_intent_create(v->h, &p, "order_6", &in, T_ERR), CONSTRA_E_TRANSPORT);
    assert_string_equal(last(v->h).code, "transport_connect");
    SCRIPT(v, F_500_HTML, F_500_HTML, F_500_HTML);
    assert_int_equal(constra_intent_get(v->h, "pi_00000000000000000000000000", &in, T_ERR),
                     CONSTRA_E_GENERIC);
    assert_string_equal(last(v->h).code, "http_error");
    assert_int_equal(last(v->h).http_status, 500);
    assert_int_equal(engine_intents(v), 0);
    assert_int_equal(v->rail.collects, 0);
    close_env(v);
}

static void test_backoff_grows_and_is_bounded(void **state)
{
    (void)state;
    env *v = open_env(1, 0);
    constra_close(v->h);
    constra_remote_config rc = CONSTRA_REMOTE_CONFIG_INIT;
    rc.max_tries = 10;
    rc.backoff_base_ms = 100;
    rc.backoff_max_ms = 400;
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(open_remote_on(v, &rc, NULL, &v->h, &err), CONSTRA_OK);
    SCRIPT(v, F_CONNECT, F_CONNECT, F_CONNECT, F_CONNECT, F_CONNECT, F_CONNECT, F_CONNECT,
           F_CONNECT, F_CONNECT, F_CONNECT);
    constra_intent *in = NULL;
    assert_int_equal(constra_intent_get(v->h, "pi_00000000000000000000000000", &in, T_ERR),
                     CONSTRA_E_TRANSPORT);
    assert_int_equal(v->requests, 10);
    assert_int_equal(v->sleeps, 9);
    /* Full jitter under caps 100, 200, 400, 400...: never more than 3500. */
    assert_true(v->slept_ms <= 100 + 200 + 400 * 7);
    close_env(v);
}

static void test_retry_action_not_repeated_after_lost_answer(void **state)
{
    (void)state;
    env *v = open_env(1, 0);
    constra_intent *in = create_ok(v, "order_7");
    char id[CONSTRA_ID_SIZE];
    strcpy(id, constra_intent_id(in));
    constra_intent_free(in);
    assert_int_equal(constra_intent_simulate_callback(v->h, id, "1032", NULL, &in, T_ERR), CONSTRA_OK);
    constra_intent_free(in);
    assert_int_equal(v->rail.collects, 1);
    /* The retry reaches the server (a second push), the answer is lost:
     * not repeated, the caller is told to look. */
    SCRIPT(v, F_AFTER_TIMEOUT, F_PASS);
    assert_int_equal(constra_intent_retry(v->h, id, &in, T_ERR), CONSTRA_E_OUTCOME_UNKNOWN);
    assert_null(in);
    assert_int_equal(v->requests, 1);
    assert_non_null(strstr(last(v->h).message, "read the intent"));
    assert_int_equal(v->rail.collects, 2);
    /* 503 is the server's answer: not repeated for a retry either. */
    assert_int_equal(constra_intent_simulate_callback(v->h, id, "1032", NULL, &in, T_ERR), CONSTRA_OK);
    constra_intent_free(in);
    SCRIPT(v, F_503, F_PASS);
    assert_int_equal(constra_intent_retry(v->h, id, &in, T_ERR), CONSTRA_E_STORAGE);
    assert_int_equal(v->requests, 1);
    /* Not sent at all: repeated. */
    SCRIPT(v, F_CONNECT, F_PASS);
    assert_int_equal(constra_intent_retry(v->h, id, &in, T_ERR), CONSTRA_OK);
    assert_int_equal(v->requests, 2);
    assert_int_equal(constra_intent_attempts_used(in), 3);
    constra_intent_free(in);
    assert_int_equal(v->rail.collects, 3);
    /* Every POST carries a key, the same on each try, fresh per call. */
    assert_true(strncmp(v->keys[0], "req_", 4) == 0);
    assert_string_equal(v->keys[0], v->keys[1]);
    close_env(v);
}

static void test_guarded_actions_reconcile(void **state)
{
    (void)state;
    env *v = open_env(1, 0);
    constra_intent *in = create_ok(v, "order_8");
    char id[CONSTRA_ID_SIZE];
    strcpy(id, constra_intent_id(in));
    constra_intent_free(in);
    /* Cancel applied, answer lost; the repeat meets 409 invalid_state;
     * the client reads the intent and finds it cancelled: success. */
    SCRIPT(v, F_AFTER_TIMEOUT, F_PASS, F_PASS);
    assert_int_equal(constra_intent_cancel(v->h, id, &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_CANCELLED);
    constra_intent_free(in);
    assert_int_equal(v->requests, 3);
    assert_string_equal(v->methods[2], "GET");
    /* A 409 on the first try is the answer (cancelling a cancelled intent). */
    SCRIPT(v, F_PASS);
    assert_int_equal(constra_intent_cancel(v->h, id, &in, T_ERR), CONSTRA_E_INVALID_STATE);
    assert_int_equal(v->requests, 1);
    /* Resolve: money arrived after the cancel; resolved, answer lost. */
    assert_int_equal(constra_intent_simulate_callback(v->h, id, "0", NULL, &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_REVIEW_REQUIRED);
    constra_intent_free(in);
    SCRIPT(v, F_AFTER_TIMEOUT, F_PASS, F_PASS);
    assert_int_equal(constra_intent_resolve(v->h, id, 1, "TKR7654321", NULL, &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_SUCCEEDED);
    constra_intent_free(in);
    /* A repeat whose 409 is NOT the expected state stays an error: resolve
     * "failed" on an intent resolved as paid. */
    SCRIPT(v, F_503, F_PASS, F_PASS);
    assert_int_equal(constra_intent_resolve(v->h, id, 0, NULL, NULL, &in, T_ERR),
                     CONSTRA_E_INVALID_STATE);
    assert_null(in);
    /* Confirm of a draft, answer lost: reconciled (no longer a draft), one push. */
    constra_intent_params p = seed_params("254712345678");
    p.draft = 1;
    SCRIPT(v, F_PASS);
    assert_int_equal(constra_intent_create(v->h, &p, "draft_9", &in, T_ERR), CONSTRA_OK);
    strcpy(id, constra_intent_id(in));
    constra_intent_free(in);
    int collects = v->rail.collects;
    SCRIPT(v, F_AFTER_TIMEOUT, F_PASS, F_PASS);
    assert_int_equal(constra_intent_confirm(v->h, id, &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_PENDING_USER_ACTION);
    constra_intent_free(in);
    assert_int_equal(v->rail.collects, collects + 1);
    close_env(v);
}

/* ---- errors from the server --------------------------------------------------- */

static void test_4xx_surface(void **state)
{
    (void)state;
    env *v = open_env(1, 0);
    constra_intent_params p = seed_params("12345");
    constra_intent *in = NULL;
    assert_int_equal(constra_intent_create(v->h, &p, "bad_1", &in, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    constra_error err = last(v->h);
    assert_string_equal(err.param, "phone_number");
    assert_int_equal(err.http_status, 400);
    assert_true(err.code[0] != '\0');
    assert_int_equal(v->requests, 1); /* never repeated */
    p = seed_params("254712345678");
    p.customer_name = "Amina\x01";
    assert_int_equal(constra_intent_create(v->h, &p, "bad_2", &in, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(last(v->h).param, "customer_name");
    /* 404 */
    v->requests = 0;
    assert_int_equal(constra_event_list_get(v->h, "pi_00000000000000000000000000", NULL, T_ERR),
                     CONSTRA_E_INVALID_ARGUMENT);
    constra_event_list *ev = NULL;
    assert_int_equal(constra_event_list_get(v->h, "pi_00000000000000000000000000", &ev, T_ERR),
                     CONSTRA_E_NOT_FOUND);
    assert_string_equal(last(v->h).code, "resource_missing");
    assert_int_equal(v->requests, 1);
    close_env(v);
}

static void test_401_wrong_key_and_live_simulate(void **state)
{
    (void)state;
    env *v = open_env(1, 0);
    constra_close(v->h);
    constra_remote_config rc = CONSTRA_REMOTE_CONFIG_INIT;
    rc.secret_key = "cs_test_someone_elses_key_99";
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(open_remote_on(v, &rc, NULL, &v->h, &err), CONSTRA_OK);
    constra_intent *in = NULL;
    constra_intent_params p = seed_params("254712345678");
    v->requests = 0;
    assert_int_equal(constra_intent_create(v->h, &p, "k_401", &in, T_ERR), CONSTRA_E_AUTH);
    err = last(v->h);
    assert_string_equal(err.code, "invalid_api_key");
    assert_int_equal(err.http_status, 401);
    assert_null(strstr(err.message, "someone_elses")); /* no secret in messages */
    assert_int_equal(v->requests, 1);
    assert_int_equal(engine_intents(v), 0);
    constra_close(v->h);
    /* A live key against the sandbox server: 401 mode mismatch. */
    rc.secret_key = "cs_live_client_suite_key_01";
    rc.mode = CONSTRA_MODE_LIVE;
    assert_int_equal(open_remote_on(v, &rc, NULL, &v->h, &err), CONSTRA_OK);
    assert_int_equal(constra_intent_create(v->h, &p, "k_401", &in, T_ERR), CONSTRA_E_AUTH);
    assert_string_equal(last(v->h).code, "api_key_mode_mismatch");
    /* Simulated callbacks are refused locally on a live handle, as by a
     * local live handle (never sent). */
    v->requests = 0;
    assert_int_equal(constra_intent_simulate_callback(v->h, "pi_00000000000000000000000000", "0",
                                                      NULL, &in, T_ERR),
                     CONSTRA_E_UNSUPPORTED);
    assert_int_equal(last(v->h).http_status, 403);
    assert_int_equal(v->requests, 0);
    close_env(v);
}

/* ---- malformed answers ----------------------------------------------------------- */

static void test_malformed_answers(void **state)
{
    (void)state;
    env *v = open_env(1, 0);
    constra_intent *in = create_ok(v, "order_m");
    char id[CONSTRA_ID_SIZE];
    strcpy(id, constra_intent_id(in));
    constra_intent_free(in);
    static const int faults[] = {F_HTML, F_NOT_JSON, F_WRONG_SHAPE, F_TRUNCATED};
    static const char *const params[] = {"Content-Type", NULL, NULL, NULL};
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
        int steps[1] = {faults[i]};
        script(v, steps, 1);
        in = (constra_intent *)v;
        assert_int_equal(constra_intent_get(v->h, id, &in, T_ERR), CONSTRA_E_PARSE);
        assert_null(in);
        constra_error err = last(v->h);
        assert_string_equal(err.code, "response_malformed");
        assert_int_equal(err.http_status, 502); /* the server's fault, not the caller's */
        if (params[i]) {
            assert_string_equal(err.param, params[i]);
        }
        assert_int_equal(v->requests, 1); /* an answer came: no repeat */
        /* Lists and events, too. */
        script(v, steps, 1);
        constra_intent_list *l = (constra_intent_list *)v;
        assert_int_equal(constra_intent_list_get(v->h, NULL, &l, T_ERR), CONSTRA_E_PARSE);
        assert_null(l);
        script(v, steps, 1);
        constra_event_list *ev = (constra_event_list *)v;
        assert_int_equal(constra_event_list_get(v->h, id, &ev, T_ERR), CONSTRA_E_PARSE);
        assert_null(ev);
        /* A create whose answer is unreadable is not repeated: one intent. */
        script(v, steps, 1);
        char key[16];
        snprintf(key, sizeof(key), "mal_%zu", i);
        constra_intent_params p = seed_params("254712345678");
        assert_int_equal(constra_intent_create(v->h, &p, key, &in, T_ERR), CONSTRA_E_PARSE);
        assert_int_equal(v->requests, 1);
        assert_int_equal(engine_intents(v), 2 + i); /* the server did make it */
        /* The same key later: the replay of the one intent. */
        assert_int_equal(constra_intent_create(v->h, &p, key, &in, T_ERR), CONSTRA_OK);
        assert_int_equal(constra_intent_replayed(in), 1);
        constra_intent_free(in);
        assert_int_equal(engine_intents(v), 2 + i);
    }
    /* A body over the cap: the transport stops reading; outcome unknown,
     * repeated under the same key, never a second intent. */
    SCRIPT(v, F_HUGE, F_HUGE, F_HUGE);
    constra_intent_params p = seed_params("254712345678");
    assert_int_equal(constra_intent_create(v->h, &p, "order_huge", &in, T_ERR),
                     CONSTRA_E_OUTCOME_UNKNOWN);
    assert_int_equal(v->requests, 3);
    assert_int_equal(engine_intents(v), 6);
    assert_int_equal(v->rail.collects, 1 + 4 + 1);
    assert_int_equal(constra_intent_create(v->h, &p, "order_huge", &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_replayed(in), 1);
    constra_intent_free(in);
    close_env(v);
}

/* Shapes that are JSON but not an intent, straight into the parser. */
static void test_parser_refuses_wrong_shapes(void **state)
{
    (void)state;
    env *v = open_env(1, 0);
    constra_intent *in = create_ok(v, "order_shape");
    const char *good = constra_intent_json(in, NULL);
    char *doc = strdup(good);
    constra_intent_free(in);
    struct {
        const char *from, *to;
    } edits[] = {
        {"\"amount\":1250", "\"amount\":\"1250\""},
        {"\"amount\":1250", "\"amount\":12.5"},
        {"\"currency\":\"KES\"", "\"currency\":\"KESX\""},
        {"\"customer\":{", "\"customer\":[{"},
        {"\"attempts\":[", "\"attempts\":{\"x\":["},
        {"\"id\":\"pi_", "\"id\":\"pi_/"},
        {"\"agent_policy\":\"operator_review\"", "\"agent_policy\":\"yolo\""},
        {"\"created_at\":\"", "\"created_at\":\"yesterday"},
    };
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        /* The last occurrence: the attempt's state, not provider_action's. */
        const char *at = NULL;
        for (const char *q = strstr(doc, edits[i].from); q; q = strstr(q + 1, edits[i].from)) {
            at = q;
        }
        assert_non_null(at);
        char bad[8192];
        snprintf(bad, sizeof(bad), "%.*s%s%s", (int)(at - doc), doc, edits[i].to,
                 at + strlen(edits[i].from));
        constra_error e = CONSTRA_ERROR_INIT;
        constra_intent *out = NULL;
        int rc = constra__client_parse_intent(v->h, bad, strlen(bad), 0, &out, &e);
        if (rc != CONSTRA_E_PARSE) {
            fail_msg("edit %zu: rc %d", i, rc);
        }
        assert_null(out);
        assert_string_equal(e.code, "response_malformed");
    }
    /* An attempt state this library does not know (a newer server) is
     * read as the cautious one, not refused: the outcome is unknown. */
    {
        const char *from = "\"state\":\"sent_to_customer\",\"checkout";
        const char *at = NULL;
        for (const char *q = strstr(doc, from); q; q = strstr(q + 1, from)) {
            at = q;
        }
        assert_non_null(at);
        char newer[8192];
        snprintf(newer, sizeof(newer), "%.*s\"state\":\"teleported\",\"checkout%s",
                 (int)(at - doc), doc, at + strlen(from));
        constra_intent *out = NULL;
        assert_int_equal(constra__client_parse_intent(v->h, newer, strlen(newer), 0, &out, NULL),
                         CONSTRA_OK);
        assert_string_equal(constra_intent_provider_action_state(out), "outcome_unknown");
        constra_intent_free(out);
    }
    /* The untouched document parses. */
    constra_error e = CONSTRA_ERROR_INIT;
    assert_int_equal(constra__client_parse_intent(v->h, doc, strlen(doc), 0, &in, &e), CONSTRA_OK);
    assert_string_equal(constra_intent_json(in, NULL), doc);
    constra_intent_free(in);
    /* Lists: not a list, too long, an entry that is not an intent. */
    const char *lists[] = {"{\"object\":\"thing\",\"data\":[],\"has_more\":false}",
                           "{\"object\":\"list\",\"data\":{},\"has_more\":false}",
                           "{\"object\":\"list\",\"data\":[1],\"has_more\":false}",
                           "{\"object\":\"list\",\"data\":[],\"has_more\":\"no\"}", "[]"};
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        constra_intent_list *l = NULL;
        assert_int_equal(constra__client_parse_list(v->h, lists[i], strlen(lists[i]), &l, &e),
                         CONSTRA_E_PARSE);
        assert_null(l);
        constra_event_list *ev = NULL;
        int rc = constra__client_parse_events(v->h, lists[i], strlen(lists[i]), &ev, &e);
        if (i == 2) {
            assert_int_equal(rc, CONSTRA_E_PARSE); /* 1 is not an event */
        } else {
            assert_int_equal(rc, CONSTRA_E_PARSE);
        }
        assert_null(ev);
    }
    char big[120 * 4 + 64];
    strcpy(big, "{\"object\":\"list\",\"data\":[");
    for (int i = 0; i < 101; i++) {
        strcat(big, i ? ",{}" : "{}");
    }
    strcat(big, "],\"has_more\":false}");
    constra_intent_list *l = NULL;
    assert_int_equal(constra__client_parse_list(v->h, big, strlen(big), &l, &e), CONSTRA_E_PARSE);
    /* Events with whitespace and nesting keep their exact bytes. */
    const char *evs = "{ \"object\" : \"list\" , \"data\" : [ {\"id\":\"evt_1\",\"type\":\"a.b\","
                      "\"data\":{\"x\":[1,{\"y\":\"]\\\"\"}]}} ,{\"id\":\"evt_2\",\"type\":\"c\"} ],"
                      "\"has_more\":false}";
    constra_event_list *ev = NULL;
    assert_int_equal(constra__client_parse_events(v->h, evs, strlen(evs), &ev, &e), CONSTRA_OK);
    assert_int_equal(constra_event_list_count(ev), 2);
    assert_string_equal(constra_event_list_event_json(ev, 0),
                        "{\"id\":\"evt_1\",\"type\":\"a.b\",\"data\":{\"x\":[1,{\"y\":\"]\\\"\"}]}}");
    assert_string_equal(constra_event_list_type(ev, 1), "c");
    assert_string_equal(constra_event_list_json(ev, NULL), evs);
    constra_event_list_free(ev);
    free(doc);
    close_env(v);
}

/* An answer about another intent than the one asked for is refused. */
/* Intents shaped as the hosted Constra docs show them: their ids, their
 * times, only the documented fields, unknown fields and statuses. */
static void test_docs_shapes(void **state)
{
    (void)state;
    env *v = open_env(1, 0);
    static const struct {
        const char *json;
        const char *id;
        int status;
        int64_t created_ms;
    } cases[] = {
        {"{\"id\":\"pi_01hx9k7s4v3p9e7m5n2\",\"object\":\"payment_intent\",\"status\":"
         "\"pending_user_action\",\"amount\":1250,\"currency\":\"KES\",\"created_at\":"
         "\"2026-05-15T13:41:08Z\"}",
         "pi_01hx9k7s4v3p9e7m5n2", CONSTRA_INTENT_PENDING_USER_ACTION, INT64_C(1778852468000)},
        {"{\"id\":\"pi_01hx9k7s4v3p9e7m5n2\",\"status\":\"succeeded\",\"amount\":1250,"
         "\"currency\":\"KES\",\"created_at\":\"2026-05-15T16:41:08.5+03:00\","
         "\"receipt\":\"TEB7Q2M1Z8\",\"brand_new_field\":{\"nested\":[1,2]}}",
         "pi_01hx9k7s4v3p9e7m5n2", CONSTRA_INTENT_SUCCEEDED, INT64_C(1778852468500)},
        {"{\"id\":\"pi-short\",\"status\":\"awaiting_settlement\",\"amount\":1,\"currency\":"
         "\"KES\",\"created_at\":\"2026-05-15t13:41:08.123456789z\"}",
         "pi-short", CONSTRA_INTENT_UNKNOWN, INT64_C(1778852468123)},
        {"{\"id\":\"x\",\"status\":\"failed\",\"amount\":1,\"currency\":\"KES\","
         "\"created_at\":\"2026-05-15T10:11:08-03:30\",\"customer\":null,\"attempts\":null}",
         "x", CONSTRA_INTENT_FAILED, INT64_C(1778852468000)},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        constra_intent *in = NULL;
        constra_error e = CONSTRA_ERROR_INIT;
        int rc = constra__client_parse_intent(v->h, cases[i].json, strlen(cases[i].json), 0, &in,
                                              &e);
        if (rc != CONSTRA_OK) {
            fail_msg("case %zu: %s (%s)", i, e.message, e.param);
        }
        assert_string_equal(constra_intent_id(in), cases[i].id);
        assert_int_equal(constra_intent_status(in), cases[i].status);
        assert_int_equal(constra_intent_created_at_ms(in), cases[i].created_ms);
        /* The server's JSON as it came: unknown fields and words kept. */
        assert_string_equal(constra_intent_json(in, NULL), cases[i].json);
        constra_intent_free(in);
    }
    static const char *const times[] = {"2026-05-15T13:41:08", "2026-05-15T13:41:08+0300",
                                        "2026-05-15T13:41:08.Z", "2026-02-30T13:41:08Z",
                                        "2026-05-15T24:41:08Z", "15/05/2026 13:41"};
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        char json[256];
        snprintf(json, sizeof(json),
                 "{\"id\":\"pi_1\",\"status\":\"draft\",\"amount\":1,\"currency\":\"KES\","
                 "\"created_at\":\"%s\"}",
                 times[i]);
        constra_intent *in = NULL;
        constra_error e = CONSTRA_ERROR_INIT;
        assert_int_equal(constra__client_parse_intent(v->h, json, strlen(json), 0, &in, &e),
                         CONSTRA_E_PARSE);
        assert_string_equal(e.param, "created_at");
    }
    close_env(v);
}

static void test_answer_for_another_id(void **state)
{
    (void)state;
    env *v = open_env(1, 0);
    constra_intent *a = create_ok(v, "order_a");
    constra_intent *b = create_ok(v, "order_b");
    snprintf(v->canned, sizeof(v->canned), "%s", constra_intent_json(b, NULL));
    constra_intent *in = NULL;
    SCRIPT(v, F_CANNED);
    assert_int_equal(constra_intent_get(v->h, constra_intent_id(a), &in, T_ERR), CONSTRA_E_PARSE);
    assert_null(in);
    assert_string_equal(last(v->h).code, "response_malformed");
    assert_string_equal(last(v->h).param, "id");
    SCRIPT(v, F_CANNED);
    assert_int_equal(constra_intent_cancel(v->h, constra_intent_id(a), &in, T_ERR), CONSTRA_E_PARSE);
    assert_null(in);
    SCRIPT(v, F_CANNED);
    assert_int_equal(constra_intent_get(v->h, constra_intent_id(b), &in, T_ERR), CONSTRA_OK);
    constra_intent_free(in);
    constra_intent_free(a);
    constra_intent_free(b);
    close_env(v);
}

/* Deterministic mutations of real answers (byte flips, cuts, inserted
 * bytes) into the three parsers: each either parses or fails with
 * CONSTRA_E_PARSE, never crashes (the ASan build runs this too). */
static void test_mutated_answers(void **state)
{
    (void)state;
    env *v = open_env(1, 0);
    constra_intent *in = create_ok(v, "order_mut");
    char id[CONSTRA_ID_SIZE];
    strcpy(id, constra_intent_id(in));
    constra_intent_free(in);
    assert_int_equal(constra_intent_simulate_callback(v->h, id, "1032", NULL, &in, T_ERR), CONSTRA_OK);
    char *docs[3];
    docs[0] = strdup(constra_intent_json(in, NULL));
    constra_intent_free(in);
    constra_intent_list *l = NULL;
    assert_int_equal(constra_intent_list_get(v->h, NULL, &l, T_ERR), CONSTRA_OK);
    docs[1] = strdup(constra_intent_list_json(l, NULL));
    constra_intent_list_free(l);
    constra_event_list *ev = NULL;
    assert_int_equal(constra_event_list_get(v->h, id, &ev, T_ERR), CONSTRA_OK);
    docs[2] = strdup(constra_event_list_json(ev, NULL));
    constra_event_list_free(ev);
    uint32_t seed = 12345;
    int parsed = 0, refused = 0;
    for (int round = 0; round < 3000; round++) {
        int which = round % 3;
        size_t n = strlen(docs[which]);
        char *m = malloc(n + 8);
        memcpy(m, docs[which], n + 1);
        size_t len = n;
        int edits = 1 + round % 4;
        for (int k = 0; k < edits; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % len;
            static const char bytes[] = "{}[]\",:0 9\x00-.eE\\u";
            char ch = bytes[(seed >> 20) % (sizeof(bytes) - 1)];
            switch ((seed >> 28) % 3) {
            case 0:
                m[at] = ch;
                break;
            case 1:
                len = at; /* cut */
                break;
            default:
                memmove(m + at + 1, m + at, len - at);
                m[at] = ch;
                len++;
                break;
            }
            if (len == 0) {
                break;
            }
        }
        constra_error e = CONSTRA_ERROR_INIT;
        int rc;
        if (which == 0) {
            constra_intent *x = NULL;
            rc = constra__client_parse_intent(v->h, m, len, 0, &x, &e);
            constra_intent_free(x);
        } else if (which == 1) {
            constra_intent_list *x = NULL;
            rc = constra__client_parse_list(v->h, m, len, &x, &e);
            constra_intent_list_free(x);
        } else {
            constra_event_list *x = NULL;
            rc = constra__client_parse_events(v->h, m, len, &x, &e);
            constra_event_list_free(x);
        }
        if (rc == CONSTRA_OK) {
            parsed++;
        } else {
            assert_int_equal(rc, CONSTRA_E_PARSE);
            refused++;
        }
        free(m);
    }
    assert_true(refused > 1000);
    assert_true(parsed > 0); /* some edits land in free text */
    for (int i = 0; i < 3; i++) {
        free(docs[i]);
    }
    close_env(v);
}

/* ---- configuration ----------------------------------------------------------------- */

typedef struct fake_env {
    const char *pairs[12];
} fake_env;

static const char *fake_getenv(void *ud, const char *name)
{
    fake_env *f = ud;
    for (int i = 0; f->pairs[i]; i += 2) {
        if (strcmp(f->pairs[i], name) == 0) {
            return f->pairs[i + 1];
        }
    }
    return NULL;
}

static void test_env_configuration(void **state)
{
    (void)state;
    static const struct {
        fake_env env;
        int rc;
        const char *param;
        const char *code;
    } cases[] = {
        {{{"CONSTRA_SECRET_KEY", SECRET, NULL}}, CONSTRA_E_INVALID_ARGUMENT,
         "CONSTRA_API_BASE_URL", "environment_missing"},
        {{{"CONSTRA_API_BASE_URL", "http://x/v1", NULL}}, CONSTRA_E_INVALID_ARGUMENT,
         "CONSTRA_SECRET_KEY", "environment_missing"},
        {{{"CONSTRA_API_BASE_URL", "", "CONSTRA_SECRET_KEY", SECRET, NULL}},
         CONSTRA_E_INVALID_ARGUMENT, "CONSTRA_API_BASE_URL", "environment_missing"},
        {{{"CONSTRA_API_BASE_URL", "ftp://x/v1", "CONSTRA_SECRET_KEY", SECRET, NULL}},
         CONSTRA_E_INVALID_ARGUMENT, "CONSTRA_API_BASE_URL", "environment_invalid"},
        {{{"CONSTRA_API_BASE_URL", "http://x/v1?a=b", "CONSTRA_SECRET_KEY", SECRET, NULL}},
         CONSTRA_E_INVALID_ARGUMENT, "CONSTRA_API_BASE_URL", "environment_invalid"},
        {{{"CONSTRA_API_BASE_URL", "http://x/v1", "CONSTRA_SECRET_KEY", "sk_test_abcdefghijklmnop",
           NULL}},
         CONSTRA_E_INVALID_ARGUMENT, "CONSTRA_SECRET_KEY", "environment_invalid"},
        {{{"CONSTRA_API_BASE_URL", "http://x/v1", "CONSTRA_SECRET_KEY", "cs_test_short", NULL}},
         CONSTRA_E_INVALID_ARGUMENT, "CONSTRA_SECRET_KEY", "environment_invalid"},
        {{{"CONSTRA_API_BASE_URL", "http://x/v1", "CONSTRA_SECRET_KEY", SECRET,
           "CONSTRA_ENVIRONMENT", "live", NULL}},
         CONSTRA_E_INVALID_ARGUMENT, "CONSTRA_ENVIRONMENT", "environment_invalid"},
        {{{"CONSTRA_API_BASE_URL", "http://x/v1", "CONSTRA_SECRET_KEY", SECRET,
           "CONSTRA_ENVIRONMENT", "production", NULL}},
         CONSTRA_E_INVALID_ARGUMENT, "CONSTRA_ENVIRONMENT", "environment_invalid"},
        /* "production" is live: with a live key it is accepted. */
        {{{"CONSTRA_API_BASE_URL", "http://x/v1", "CONSTRA_SECRET_KEY",
           "cs_live_abcdefghijklmnop", "CONSTRA_ENVIRONMENT", "production", NULL}},
         CONSTRA_OK, "", ""},
        {{{"CONSTRA_API_BASE_URL", "http://x/v1", "CONSTRA_SECRET_KEY", SECRET,
           "CONSTRA_ENVIRONMENT", "staging", NULL}},
         CONSTRA_E_INVALID_ARGUMENT, "CONSTRA_ENVIRONMENT", "environment_invalid"},
        {{{"CONSTRA_API_BASE_URL", "http://x/v1", "CONSTRA_SECRET_KEY", SECRET,
           "CONSTRA_DEFAULT_PROVIDER", "airtel", NULL}},
         CONSTRA_E_INVALID_ARGUMENT, "CONSTRA_DEFAULT_PROVIDER", "environment_invalid"},
        {{{"CONSTRA_API_BASE_URL", "http://x/v1", "CONSTRA_SECRET_KEY", SECRET,
           "CONSTRA_ENVIRONMENT", "sandbox", "CONSTRA_DEFAULT_PROVIDER", "mpesa",
           "CONSTRA_WEBHOOK_SECRET", "whsec_test_secret", NULL}},
         CONSTRA_OK, "", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        constra_remote_config cfg = CONSTRA_REMOTE_CONFIG_INIT;
        constra_error err = CONSTRA_ERROR_INIT;
        fake_env f = cases[i].env;
        int rc = constra_remote_config_from_env(&cfg, fake_getenv, &f, &err);
        if (rc != cases[i].rc || strcmp(err.param, cases[i].param) != 0 ||
            strcmp(err.code, cases[i].code) != 0) {
            fail_msg("case %zu: rc %d param '%s' code '%s' (%s)", i, rc, err.param, err.code,
                     err.message);
        }
        if (rc != CONSTRA_OK) {
            assert_null(cfg.base_url); /* unchanged on error */
            assert_null(strstr(err.message, SECRET));
            assert_non_null(strstr(err.message, cases[i].param));
        }
    }
    /* A live key, environment unset: live mode from the prefix. */
    fake_env live = {{"CONSTRA_API_BASE_URL", "https://api.constra.example/v1/",
                      "CONSTRA_SECRET_KEY", "cs_live_0123456789abcdef", NULL}};
    constra_remote_config cfg = CONSTRA_REMOTE_CONFIG_INIT;
    assert_int_equal(constra_remote_config_from_env(&cfg, fake_getenv, &live, NULL), CONSTRA_OK);
    assert_int_equal(cfg.mode, CONSTRA_MODE_LIVE);
    assert_string_equal(cfg.base_url, "https://api.constra.example/v1/");
    assert_null(cfg.webhook_secret);
    /* The real environment by default. */
    setenv("CONSTRA_API_BASE_URL", "http://constra.test/api/v1", 1);
    setenv("CONSTRA_SECRET_KEY", SECRET, 1);
    setenv("CONSTRA_WEBHOOK_SECRET", "whsec_test_secret", 1);
    unsetenv("CONSTRA_ENVIRONMENT");
    unsetenv("CONSTRA_DEFAULT_PROVIDER");
    cfg = (constra_remote_config)CONSTRA_REMOTE_CONFIG_INIT;
    assert_int_equal(constra_remote_config_from_env(&cfg, NULL, NULL, NULL), CONSTRA_OK);
    assert_int_equal(cfg.mode, CONSTRA_MODE_SANDBOX);
    assert_string_equal(cfg.webhook_secret, "whsec_test_secret");
    /* ... and a handle from it works (over the loopback; /api/v1 paths). */
    env *v = open_env(0, 0);
    constra_transport t;
    assert_int_equal(constra_loopback_transport(v->lb, &t, NULL), CONSTRA_OK);
    cfg.transport = &t;
    constra_t *h = NULL;
    assert_int_equal(constra_open_remote(&h, &cfg, NULL), CONSTRA_OK);
    assert_true(constra_is_remote(h));
    assert_false(constra_is_remote(v->engine));
    constra_intent_params p = seed_params("254712345678");
    constra_intent *in = NULL;
    assert_int_equal(constra_intent_create(h, &p, "from_env", &in, T_ERR), CONSTRA_OK);
    assert_string_equal(v->targets[0], "/api/v1/payment-intents");
    constra_intent_free(in);
    constra_close(h);
    close_env(v);
    unsetenv("CONSTRA_API_BASE_URL");
    unsetenv("CONSTRA_SECRET_KEY");
    unsetenv("CONSTRA_WEBHOOK_SECRET");
    /* Bad arguments. */
    assert_int_equal(constra_remote_config_from_env(NULL, fake_getenv, &live, NULL),
                     CONSTRA_E_INVALID_ARGUMENT);
    constra_remote_config zero;
    memset(&zero, 0, sizeof(zero));
    assert_int_equal(constra_remote_config_from_env(&zero, fake_getenv, &live, NULL),
                     CONSTRA_E_ABI);
    assert_int_equal(constra_remote_config_init(&zero, sizeof(zero)), CONSTRA_OK);
    assert_int_equal(zero.struct_size, sizeof(zero));
    assert_int_equal(constra_remote_config_init(&zero, 3), CONSTRA_E_ABI);
    assert_int_equal(constra_remote_config_init(NULL, sizeof(zero)), CONSTRA_E_INVALID_ARGUMENT);
}

static void test_open_checks(void **state)
{
    (void)state;
    env *v = open_env(0, 0);
    constra_t *h = (constra_t *)v;
    constra_error err = CONSTRA_ERROR_INIT;
    constra_remote_config cfg = CONSTRA_REMOTE_CONFIG_INIT;
    cfg.base_url = ORIGIN "/v1";
    cfg.secret_key = SECRET;
    /* No transport: the built-in one (libcurl) if the build has it,
     * else CONSTRA_E_UNSUPPORTED naming the field. */
    int rc = constra_open_remote(&h, &cfg, &err);
    if (rc == CONSTRA_OK) {
        assert_true(constra_is_remote(h));
        constra_close(h);
    } else {
        assert_int_equal(rc, CONSTRA_E_UNSUPPORTED);
        assert_null(h);
        assert_string_equal(err.param, "config.transport");
    }
    struct {
        const char *field;
        int rc;
    } bad[] = {{"mode", CONSTRA_E_INVALID_ARGUMENT},   {"mode_live", CONSTRA_E_INVALID_ARGUMENT},
               {"tries", CONSTRA_E_INVALID_ARGUMENT},  {"url", CONSTRA_E_INVALID_ARGUMENT},
               {"key", CONSTRA_E_INVALID_ARGUMENT},    {"provider", CONSTRA_E_INVALID_ARGUMENT},
               {"backoff", CONSTRA_E_INVALID_ARGUMENT}, {"cap", CONSTRA_E_INVALID_ARGUMENT}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        constra_remote_config c = cfg;
        const char *f = bad[i].field;
        if (strcmp(f, "mode") == 0) {
            c.mode = 7;
        } else if (strcmp(f, "mode_live") == 0) {
            c.mode = CONSTRA_MODE_LIVE; /* with a cs_test_ key */
        } else if (strcmp(f, "tries") == 0) {
            c.max_tries = 11;
        } else if (strcmp(f, "url") == 0) {
            c.base_url = "http://";
        } else if (strcmp(f, "key") == 0) {
            c.secret_key = NULL;
        } else if (strcmp(f, "provider") == 0) {
            c.default_provider = "airtel";
        } else if (strcmp(f, "backoff") == 0) {
            c.backoff_base_ms = -1;
        } else {
            c.max_response_bytes = CONSTRA_TRANSPORT_RESPONSE_LIMIT + 1;
        }
        constra_transport t;
        assert_int_equal(constra_loopback_transport(v->lb, &t, NULL), CONSTRA_OK);
        c.transport = &t;
        if (constra_open_remote(&h, &c, &err) != bad[i].rc) {
            fail_msg("%s accepted", f);
        }
        assert_null(h);
        t.destroy(t.user_data); /* still ours after a failed open */
    }
    assert_int_equal(constra_open_remote(NULL, &cfg, NULL), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_open_remote(&h, NULL, NULL), CONSTRA_E_INVALID_ARGUMENT);
    constra_remote_config zero;
    memset(&zero, 0, sizeof(zero));
    assert_int_equal(constra_open_remote(&h, &zero, NULL), CONSTRA_E_ABI);
    assert_false(constra_is_remote(NULL));
    close_env(v);
}

static void test_remote_only_differences(void **state)
{
    (void)state;
    env *v = open_env(1, 0);
    v->requests = 0;
    assert_int_equal(constra_tick(v->h, clock_ms + 100000, T_ERR), CONSTRA_OK);
    static const char cb[] = "{\"Body\":{}}";
    assert_int_equal(constra_handle_mpesa_callback(v->h, NULL, 0, cb, sizeof(cb) - 1, T_ERR),
                     CONSTRA_E_UNSUPPORTED);
    assert_string_equal(last(v->h).code, "remote_handle");
    assert_int_equal(v->requests, 0);
    /* The router on a remote handle proxies intent routes; the overview
     * is its server's business. */
    constra_http_header hd[] = {{"Authorization", "Bearer " SECRET}};
    constra_api_request ar = CONSTRA_API_REQUEST_INIT;
    ar.method = "GET";
    ar.target = "/v1/sandbox/overview";
    ar.headers = hd;
    ar.header_count = 1;
    constra_api_response *resp = NULL;
    assert_int_equal(constra_api_handle(v->h, &ar, &resp, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_api_response_status(resp), 501);
    constra_api_response_free(resp);
    ar.target = "/v1/workspace";
    assert_int_equal(constra_api_handle(v->h, &ar, &resp, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_api_response_status(resp), 501);
    constra_api_response_free(resp);
    ar.target = "/v1/payment-intents";
    assert_int_equal(constra_api_handle(v->h, &ar, &resp, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_api_response_status(resp), 200);
    constra_api_response_free(resp);
    assert_int_equal(v->requests, 1);
    close_env(v);
}

/* ---- allocation failures --------------------------------------------------------- */

static void test_allocation_failures(void **state)
{
    (void)state;
    int clean = 0;
    for (long n = 1; n <= 400 && clean < 3; n++) {
        env *v = open_env(0, 0);
        counting_alloc ca = {0};
        constra_platform p;
        ca_platform(&p, &ca);
        constra_t *h = NULL;
        constra_remote_config rc = CONSTRA_REMOTE_CONFIG_INIT;
        ca.fail_at = n;
        constra_error err = CONSTRA_ERROR_INIT;
        int orc = open_remote_on(v, &rc, &p, &h, &err);
        int failures = 0;
        if (orc != CONSTRA_OK) {
            assert_int_equal(orc, CONSTRA_E_NOMEM);
            assert_null(h);
            failures++;
        } else {
            constra_intent_params ip = seed_params("254712345678");
            constra_intent *in = NULL;
            char id[CONSTRA_ID_SIZE] = "";
            int r = constra_intent_create(h, &ip, "alloc_key", &in, T_ERR);
            failures += r != CONSTRA_OK;
            if (r == CONSTRA_OK) {
                strcpy(id, constra_intent_id(in));
                constra_intent_free(in);
            } else {
                assert_null(in);
            }
            r = constra_intent_create(h, &ip, "alloc_key", &in, T_ERR); /* a replay */
            failures += r != CONSTRA_OK;
            if (r == CONSTRA_OK) {
                strcpy(id, constra_intent_id(in));
                constra_intent_free(in);
            }
            if (id[0]) {
                r = constra_intent_cancel(h, id, &in, T_ERR);
                failures += r != CONSTRA_OK && r != CONSTRA_E_INVALID_STATE;
                constra_intent_free(in);
                constra_event_list *ev = NULL;
                r = constra_event_list_get(h, id, &ev, T_ERR);
                failures += r != CONSTRA_OK;
                constra_event_list_free(ev);
            }
            constra_intent_list *l = NULL;
            r = constra_intent_list_get(h, NULL, &l, T_ERR);
            failures += r != CONSTRA_OK;
            constra_intent_list_free(l);
            constra_close(h);
        }
        /* Whatever failed, the key made at most one intent and one push,
         * and nothing leaked. */
        assert_true(engine_intents(v) <= 1);
        assert_true(v->rail.collects <= 1);
        if (ca.live != 0) {
            fail_msg("fail_at %ld: %ld allocations leaked", n, ca.live);
        }
        if (ca.attempts < n) {
            clean++; /* the allocation to fail was never reached */
        }
        close_env(v);
    }
    assert_true(clean >= 1);
}

/* ---- threads ------------------------------------------------------------------- */

typedef struct hammer {
    env *v;
    pthread_barrier_t *barrier;
    int rc;
    char id[CONSTRA_ID_SIZE];
} hammer;

static void *hammer_one(void *arg)
{
    hammer *t = arg;
    constra_intent_params p = seed_params("254700000000");
    pthread_barrier_wait(t->barrier);
    constra_intent *in = NULL;
    t->rc = constra_intent_create(t->v->h, &p, "contended-key", &in, T_ERR);
    if (t->rc == CONSTRA_OK) {
        strcpy(t->id, constra_intent_id(in));
        constra_intent_free(in);
    }
    return NULL;
}

/* Many threads on one remote handle, one key: one intent, one push; the
 * in-flight conflicts are waited out, so every thread gets the intent
 * (or, when its tries ran out, the conflict). */
static void test_threads_one_key(void **state)
{
    (void)state;
    enum { N = 8 };
    for (int round = 0; round < 5; round++) {
        env *v = open_env(0, 0);
        constra_remote_config rc = CONSTRA_REMOTE_CONFIG_INIT;
        rc.backoff_base_ms = 1;
        rc.backoff_max_ms = 4;
        rc.max_tries = 10;
        rc.sleep_ms = real_sleep;
        rc.sleep_user_data = v;
        constra_error err = CONSTRA_ERROR_INIT;
        assert_int_equal(open_remote_on(v, &rc, NULL, &v->h, &err), CONSTRA_OK);
        pthread_t th[N];
        hammer t[N];
        pthread_barrier_t barrier;
        pthread_barrier_init(&barrier, NULL, N);
        for (int i = 0; i < N; i++) {
            memset(&t[i], 0, sizeof(t[i]));
            t[i].v = v;
            t[i].barrier = &barrier;
            pthread_create(&th[i], NULL, hammer_one, &t[i]);
        }
        const char *winner = NULL;
        for (int i = 0; i < N; i++) {
            pthread_join(th[i], NULL);
            if (t[i].rc == CONSTRA_OK) {
                if (winner) {
                    assert_string_equal(winner, t[i].id);
                }
                winner = t[i].id;
            } else {
                assert_int_equal(t[i].rc, CONSTRA_E_CONFLICT);
            }
        }
        pthread_barrier_destroy(&barrier);
        assert_non_null(winner);
        assert_int_equal(v->rail.collects, 1);
        assert_int_equal(engine_intents(v), 1);
        close_env(v);
    }
}

/* ---- against a real server ------------------------------------------------------ */

/* Registered only when CONSTRA_TEST_SERVE_URL (a base URL such as
 * http://127.0.0.1:8000/v1 of a `constra serve` in sandbox mode) and
 * CONSTRA_TEST_SERVE_KEY are set: the seed flow over the library's
 * built-in transport (libcurl). Without them it is not run (and not
 * counted), and a TAP comment says so. */
static void test_against_constra_serve(void **state)
{
    (void)state;
    const char *url = getenv("CONSTRA_TEST_SERVE_URL");
    const char *key = getenv("CONSTRA_TEST_SERVE_KEY");
    assert_non_null(url);
    assert_non_null(key);
    constra_remote_config cfg = CONSTRA_REMOTE_CONFIG_INIT;
    cfg.base_url = url;
    cfg.secret_key = key;
    cfg.mode = strncmp(key, "cs_live_", 8) == 0;
    constra_t *h = NULL;
    constra_error err = CONSTRA_ERROR_INIT;
    if (constra_open_remote(&h, &cfg, &err) != CONSTRA_OK) {
        fail_msg("open_remote: %s", err.message);
    }
    char idem[64];
    snprintf(idem, sizeof(idem), "client_suite_%lld", (long long)time(NULL));
    constra_intent_params p = seed_params("254700000000");
    constra_intent *in = NULL;
    if (constra_intent_create(h, &p, idem, &in, T_ERR) != CONSTRA_OK) {
        fail_msg("create: %s", last(h).message);
    }
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_PENDING_USER_ACTION);
    char id[CONSTRA_ID_SIZE];
    strcpy(id, constra_intent_id(in));
    constra_intent_free(in);
    assert_int_equal(constra_intent_create(h, &p, idem, &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_replayed(in), 1);
    constra_intent_free(in);
    assert_int_equal(constra_intent_simulate_callback(h, id, "1032", NULL, &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_REQUIRES_RECOVERY);
    constra_intent_free(in);
    assert_int_equal(constra_intent_retry(h, id, &in, T_ERR), CONSTRA_OK);
    constra_intent_free(in);
    assert_int_equal(constra_intent_simulate_callback(h, id, "0", NULL, &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_SUCCEEDED);
    constra_intent_free(in);
    constra_event_list *ev = NULL;
    assert_int_equal(constra_event_list_get(h, id, &ev, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_event_list_count(ev), 5);
    constra_event_list_free(ev);
    constra_close(h);
}

/* ---- webhook endpoints and deliveries on a remote handle ---------------------------- */

static constra_webhook_endpoint *wh_add(env *v, const char *description, const char *scheme,
                                        const char *types)
{
    constra_webhook_endpoint_params p = CONSTRA_WEBHOOK_ENDPOINT_PARAMS_INIT;
    p.url = "http://127.0.0.1:9/hooks";
    p.description = description;
    p.scheme = scheme;
    p.event_types = types;
    constra_webhook_endpoint *ep = NULL;
    if (constra_webhook_endpoint_add(v->h, &p, &ep, T_ERR) != CONSTRA_OK) {
        fail_msg("add: %s (%s)", last(v->h).message, last(v->h).code);
    }
    return ep;
}

static size_t server_endpoints(env *v)
{
    constra_webhook_endpoint_list *l = NULL;
    assert_int_equal(constra_webhook_endpoint_list_get(v->engine, &l, T_ERR), CONSTRA_OK);
    size_t n = constra_webhook_endpoint_list_count(l);
    constra_webhook_endpoint_list_free(l);
    return n;
}

static void test_remote_webhooks(void **state)
{
    (void)state;
    env *v = open_env(1, 0);
    constra_webhook_endpoint *ep = wh_add(v, "Till \xc3\xa9 4", "constra",
                                          "payment_intent.succeeded,payment_intent.failed");
    char id[CONSTRA_ID_SIZE], secret[300];
    strcpy(id, constra_webhook_endpoint_id(ep));
    strcpy(secret, constra_webhook_endpoint_secret(ep));
    assert_true(strncmp(secret, "whsec_", 6) == 0);
    assert_string_equal(constra_webhook_endpoint_description(ep), "Till \xc3\xa9 4");
    assert_string_equal(constra_webhook_endpoint_scheme(ep), "constra");
    assert_string_equal(constra_webhook_endpoint_event_types(ep),
                        "payment_intent.succeeded,payment_intent.failed");
    assert_int_equal(constra_webhook_endpoint_enabled(ep), 1);
    assert_true(constra_webhook_endpoint_created_at_ms(ep) > 0);
    constra_webhook_endpoint_free(ep);
    /* It is the server's: its engine has it, the remote handle kept nothing. */
    assert_int_equal(server_endpoints(v), 1);
    assert_string_equal(v->methods[v->requests - 1], "POST");
    assert_string_equal(v->targets[v->requests - 1], "/v1/webhook-endpoints");

    /* Refused before anything is sent: a given secret (REST makes its
     * own), an unknown scheme, a bad description, bad ids. */
    int sent = v->requests;
    constra_webhook_endpoint_params p = CONSTRA_WEBHOOK_ENDPOINT_PARAMS_INIT;
    p.url = "http://127.0.0.1:9/hooks";
    p.secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    assert_int_equal(constra_webhook_endpoint_add(v->h, &p, NULL, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(last(v->h).param, "secret");
    p.secret = NULL;
    p.scheme = "t_v1";
    assert_int_equal(constra_webhook_endpoint_add(v->h, &p, NULL, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(last(v->h).code, "webhook_scheme_unknown");
    p.scheme = NULL;
    p.description = "bell\a";
    assert_int_equal(constra_webhook_endpoint_add(v->h, &p, NULL, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_webhook_endpoint_get(v->h, "we/../x", &ep, T_ERR),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(v->requests, sent);
    /* The server's own refusals come back as errors. */
    p.description = NULL;
    p.url = "ftp://hooks.example/";
    assert_int_equal(constra_webhook_endpoint_add(v->h, &p, NULL, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(last(v->h).param, "url");
    assert_int_equal(server_endpoints(v), 1);

    /* get, list: without the secret. */
    assert_int_equal(constra_webhook_endpoint_get(v->h, id, &ep, T_ERR), CONSTRA_OK);
    assert_string_equal(constra_webhook_endpoint_secret(ep), "");
    assert_string_equal(constra_webhook_endpoint_scheme(ep), "constra");
    constra_webhook_endpoint_free(ep);
    assert_int_equal(constra_webhook_endpoint_get(v->h, "we_nope", &ep, T_ERR), CONSTRA_E_NOT_FOUND);
    assert_null(ep);
    constra_webhook_endpoint_list *l = NULL;
    assert_int_equal(constra_webhook_endpoint_list_get(v->h, &l, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_webhook_endpoint_list_count(l), 1);
    assert_string_equal(constra_webhook_endpoint_id(constra_webhook_endpoint_list_at(l, 0)), id);
    constra_webhook_endpoint_list_free(l);

    /* disable / enable, read back through the server. */
    assert_int_equal(constra_webhook_endpoint_set_enabled(v->h, id, 0, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_webhook_endpoint_get(v->engine, id, &ep, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_webhook_endpoint_enabled(ep), 0);
    constra_webhook_endpoint_free(ep);
    assert_int_equal(constra_webhook_endpoint_set_enabled(v->h, id, 1, T_ERR), CONSTRA_OK);

    /* Test events, and the deliveries list paged past the API's 100. */
    char did[CONSTRA_ID_SIZE];
    assert_int_equal(constra_webhook_endpoint_send_test(v->h, id, did, sizeof(did), T_ERR),
                     CONSTRA_OK);
    assert_true(strncmp(did, "whd_", 4) == 0);
    for (int i = 0; i < 120; i++) {
        assert_int_equal(constra_webhook_endpoint_send_test(v->h, id, NULL, 0, T_ERR), CONSTRA_OK);
    }
    constra_webhook_delivery_list *dl = NULL;
    if (constra_webhook_delivery_list_get(v->h, id, "pending", NULL, 0, &dl, T_ERR) != CONSTRA_OK) {
        fail_msg("deliveries: %s (%s, %s)", last(v->h).message, last(v->h).code, last(v->h).param);
    }
    assert_int_equal(constra_webhook_delivery_list_count(dl), 100);
    assert_string_equal(constra_webhook_delivery_id(dl, 0), did);
    assert_string_equal(constra_webhook_delivery_event_type(dl, 0), "webhook.test");
    assert_string_equal(constra_webhook_delivery_endpoint_id(dl, 0), id);
    assert_string_equal(constra_webhook_delivery_state(dl, 0), "pending");
    constra_webhook_delivery_list_free(dl);
    v->requests = 0;
    assert_int_equal(constra_webhook_delivery_list_get(v->h, NULL, NULL, NULL, 1000, &dl, T_ERR),
                     CONSTRA_OK);
    assert_int_equal(constra_webhook_delivery_list_count(dl), 121);
    assert_int_equal(v->requests, 2); /* 100, then 21 */
    char tenth[CONSTRA_ID_SIZE];
    strcpy(tenth, constra_webhook_delivery_id(dl, 9));
    const char *eleventh = constra_webhook_delivery_id(dl, 10);
    constra_webhook_delivery_list *after = NULL;
    assert_int_equal(constra_webhook_delivery_list_get(v->h, NULL, NULL, tenth, 5, &after, T_ERR),
                     CONSTRA_OK);
    assert_int_equal(constra_webhook_delivery_list_count(after), 5);
    assert_string_equal(constra_webhook_delivery_id(after, 0), eleventh);
    constra_webhook_delivery_list_free(after);
    constra_webhook_delivery_list_free(dl);
    /* A pending delivery cannot be replayed: the server says so. */
    assert_int_not_equal(constra_webhook_delivery_replay(v->h, did, T_ERR), CONSTRA_OK);
    assert_string_equal(last(v->h).code, "delivery_pending");
    assert_int_equal(constra_webhook_delivery_replay(v->h, "whd_nope", T_ERR), CONSTRA_E_NOT_FOUND);

    /* Rotation: a new secret, once. */
    constra_webhook_endpoint *rot = NULL;
    assert_int_equal(constra_webhook_endpoint_rotate_secret(v->h, id, 1500, &rot, T_ERR), CONSTRA_OK);
    assert_true(strncmp(constra_webhook_endpoint_secret(rot), "whsec_", 6) == 0);
    assert_string_not_equal(constra_webhook_endpoint_secret(rot), secret);
    constra_webhook_endpoint_free(rot);

    /* An answer about another endpoint is refused. */
    constra_webhook_endpoint *other = wh_add(v, NULL, NULL, NULL);
    snprintf(v->canned, sizeof(v->canned),
             "{\"id\":\"%s\",\"object\":\"webhook_endpoint\",\"url\":\"http://127.0.0.1:9/h\"}",
             constra_webhook_endpoint_id(other));
    SCRIPT(v, F_CANNED);
    assert_int_equal(constra_webhook_endpoint_get(v->h, id, &ep, T_ERR), CONSTRA_E_PARSE);
    assert_string_equal(last(v->h).code, "response_malformed");
    /* Tolerant of what the server may add or leave out: only id and url
     * are required; unknown fields and statuses are ignored. */
    snprintf(v->canned, sizeof(v->canned),
             "{\"id\":\"%s\",\"url\":\"https://h.example/x\",\"status\":\"paused_by_ops\","
             "\"future\":{\"a\":[1,2]},\"scheme\":\"ed25519\",\"created_at\":\"2026-05-15T13:41:08Z\"}",
             id);
    SCRIPT(v, F_CANNED);
    assert_int_equal(constra_webhook_endpoint_get(v->h, id, &ep, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_webhook_endpoint_enabled(ep), 1);
    assert_string_equal(constra_webhook_endpoint_event_types(ep), "*");
    assert_string_equal(constra_webhook_endpoint_scheme(ep), "all");
    assert_true(constra_webhook_endpoint_created_at_ms(ep) == INT64_C(1778852468000));
    constra_webhook_endpoint_free(ep);
    for (int f = F_HTML; f <= F_TRUNCATED; f++) {
        script(v, &f, 1);
        assert_int_equal(constra_webhook_endpoint_get(v->h, id, &ep, T_ERR), CONSTRA_E_PARSE);
        assert_null(ep);
    }
    /* A lost answer to an add is not repeated (it would make a second
     * endpoint): the caller learns the outcome is unknown. */
    size_t before = server_endpoints(v);
    SCRIPT(v, F_AFTER_TIMEOUT);
    assert_int_not_equal(constra_webhook_endpoint_add(v->h, &(constra_webhook_endpoint_params)
                         {sizeof(constra_webhook_endpoint_params), "http://127.0.0.1:9/a", NULL,
                          NULL, NULL, NULL}, NULL, T_ERR), CONSTRA_OK);
    assert_int_equal(server_endpoints(v), before + 1);
    /* A read is repeated after a 503. */
    SCRIPT(v, F_503);
    assert_int_equal(constra_webhook_endpoint_get(v->h, id, &ep, T_ERR), CONSTRA_OK);
    constra_webhook_endpoint_free(ep);

    /* remove */
    assert_int_equal(constra_webhook_endpoint_remove(v->h, constra_webhook_endpoint_id(other), T_ERR),
                     CONSTRA_OK);
    assert_int_equal(constra_webhook_endpoint_remove(v->h, constra_webhook_endpoint_id(other), T_ERR),
                     CONSTRA_E_NOT_FOUND);
    constra_webhook_endpoint_free(other);
    assert_int_equal(server_endpoints(v), before);
    close_env(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_503_twice_then_ok),
        cmocka_unit_test(test_lost_answer_after_create_replays),
        cmocka_unit_test(test_in_flight_then_ok),
        cmocka_unit_test(test_exhausted),
        cmocka_unit_test(test_backoff_grows_and_is_bounded),
        cmocka_unit_test(test_retry_action_not_repeated_after_lost_answer),
        cmocka_unit_test(test_guarded_actions_reconcile),
        cmocka_unit_test(test_4xx_surface),
        cmocka_unit_test(test_401_wrong_key_and_live_simulate),
        cmocka_unit_test(test_malformed_answers),
        cmocka_unit_test(test_parser_refuses_wrong_shapes),
        cmocka_unit_test(test_docs_shapes),
        cmocka_unit_test(test_answer_for_another_id),
        cmocka_unit_test(test_mutated_answers),
        cmocka_unit_test(test_env_configuration),
        cmocka_unit_test(test_open_checks),
        cmocka_unit_test(test_remote_only_differences),
        cmocka_unit_test(test_remote_webhooks),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_threads_one_key),
        cmocka_unit_test(test_against_constra_serve),
    };
    size_t n = sizeof(tests) / sizeof(tests[0]);
    if (getenv("CONSTRA_TEST_SERVE_URL") == NULL || getenv("CONSTRA_TEST_SERVE_KEY") == NULL) {
        printf("# CONSTRA_TEST_SERVE_URL / CONSTRA_TEST_SERVE_KEY not set: "
               "test_against_constra_serve not run\n");
        n--; /* the last entry */
    }
    return _cmocka_run_group_tests("tests", tests, n, NULL, NULL);
}
