#define _POSIX_C_SOURCE 200809L
/* The same scenario functions run against a local handle and against a
 * remote handle (loopback transport -> REST router -> a local engine), and
 * must give identical results: each scenario checks itself, and also
 * writes a transcript (statuses, actions, codes, attempts, event types,
 * error codes and params, rail calls) that must be equal, byte for byte,
 * between the two runs. */
#include <strings.h>
#include <time.h>

#include "client_env.h"
#include "../test_error.h"

/* ---- transcript --------------------------------------------------------- */

static char transcript[16384];
static size_t tlen;

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(transcript + tlen, sizeof(transcript) - tlen, fmt, ap);
    va_end(ap);
    if (n > 0) {
        tlen += (size_t)n;
        if (tlen >= sizeof(transcript)) {
            fail_msg("transcript overflow");
        }
    }
}

static void note_intent(const char *label, const constra_intent *in)
{
    note("%s: %s action=%s state=%s code=%s desc=%s rec=%s retry=%d used=%d left=%d "
         "note=%zu replayed=%d amount=%lld phone=%s ref=%s policy=%d receipt=%zu\n",
         label, constra_intent_status_name(constra_intent_status(in)),
         constra_intent_next_action(in), constra_intent_provider_action_state(in),
         constra_intent_result_code(in), constra_intent_result_desc(in),
         constra_intent_recommended_action(in), constra_intent_retry_allowed(in),
         constra_intent_attempts_used(in), constra_intent_attempts_left(in),
         /* The REST JSON carries the agent note only in a recovery
          * summary (client.h): compare it where there is one. */
         strstr(constra_intent_json(in, NULL), "\"recovery\":null")
             ? (size_t)0
             : strlen(constra_intent_agent_note(in)),
         constra_intent_replayed(in),
         (long long)constra_intent_amount(in), constra_intent_phone_number(in),
         constra_intent_reference(in), constra_intent_agent_policy(in),
         strlen(constra_intent_receipt(in)));
}

/* Argument errors: the REST router validates a body before the engine
 * sees it and names the failure with its own, more general code
 * ("parameter_invalid" where the engine says "amount_invalid"), so for
 * those the status, param and HTTP status are compared, not the code. */
static void note_error(constra_t *h, const char *label, int rc)
{
    constra_error err = last(h);
    note("%s: rc=%s code=%s param=%s http=%d\n", label, constra_status_name(rc),
         rc == CONSTRA_E_INVALID_ARGUMENT ? "-" : err.code, err.param, err.http_status);
}

static void expect_events(env *v, const char *id, const char *const *types, size_t n)
{
    constra_event_list *ev = NULL;
    assert_int_equal(constra_event_list_get(v->h, id, &ev, T_ERR), CONSTRA_OK);
    note("events:");
    for (size_t i = 0; i < constra_event_list_count(ev); i++) {
        note(" %s", constra_event_list_type(ev, i));
        assert_true(strncmp(constra_event_list_id(ev, i), "evt_", 4) == 0);
        assert_non_null(strstr(constra_event_list_event_json(ev, i), constra_event_list_type(ev, i)));
    }
    note("\n");
    if (constra_event_list_count(ev) != n) {
        fail_msg("%zu events, want %zu", constra_event_list_count(ev), n);
    }
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(constra_event_list_type(ev, i), types[i]);
    }
    constra_event_list_free(ev);
}

/* In remote mode, the snapshot's JSON is the server's: the same bytes the
 * engine renders for the intent now. */
static void same_json_as_server(env *v, const constra_intent *in)
{
    if (!v->remote) {
        return;
    }
    constra_intent *srv = NULL;
    assert_int_equal(constra_intent_get(v->engine, constra_intent_id(in), &srv, T_ERR), CONSTRA_OK);
    size_t a, b;
    const char *ja = constra_intent_json(in, &a);
    const char *jb = constra_intent_json(srv, &b);
    assert_int_equal(a, b);
    assert_memory_equal(ja, jb, a);
    assert_int_equal(constra_intent_created_at_ms(in), constra_intent_created_at_ms(srv));
    assert_int_equal(constra_intent_updated_at_ms(in), constra_intent_updated_at_ms(srv));
    assert_string_equal(constra_intent_checkout_request_id(in),
                        constra_intent_checkout_request_id(srv));
    if (strstr(constra_intent_json(in, NULL), "\"recovery\":null") == NULL) {
        assert_string_equal(constra_intent_agent_note(in), constra_intent_agent_note(srv));
    }
    constra_intent_free(srv);
}

static constra_intent *create_for(env *v, const char *phone, const char *key)
{
    constra_intent_params p = seed_params(phone);
    constra_intent *in = NULL;
    if (constra_intent_create(v->h, &p, key, &in, T_ERR) != CONSTRA_OK) {
        fail_msg("create: %s", last(v->h).message);
    }
    return in;
}

/* ---- scenarios (from tests/engine/test_engine.c) ----------------------------- */

static void sc_seed_flow(env *v)
{
    constra_intent_params p = seed_params("254700000000");
    constra_intent *in = NULL;
    assert_int_equal(constra_intent_create(v->h, &p, "order_7429_deposit", &in, T_ERR), CONSTRA_OK);
    note_intent("create", in);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_PENDING_USER_ACTION);
    assert_string_equal(constra_intent_provider_action_state(in), "sent_to_customer");
    assert_true(strncmp(constra_intent_checkout_request_id(in), "ws_CO_", 6) == 0);
    assert_string_equal(constra_intent_next_action(in), "wait_for_callback");
    assert_non_null(strstr(constra_intent_json(in, NULL),
                           "\"provider_action\":{\"type\":\"stk_push\",\"state\":"
                           "\"sent_to_customer\",\"checkout_request_id\":\"ws_CO_"));
    same_json_as_server(v, in);
    char id[CONSTRA_ID_SIZE];
    strcpy(id, constra_intent_id(in));
    constra_intent_free(in);

    assert_int_equal(constra_intent_simulate_callback(v->h, id, "1032",
                                                      "Request cancelled by user.", &in, T_ERR),
                     CONSTRA_OK);
    note_intent("cancelled by user", in);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_REQUIRES_RECOVERY);
    assert_string_equal(constra_intent_recommended_action(in), "retry");
    assert_int_equal(constra_intent_attempts_left(in), 2);
    assert_true(strlen(constra_intent_agent_note(in)) > 10);
    same_json_as_server(v, in);
    constra_intent_free(in);

    assert_int_equal(constra_intent_retry(v->h, id, &in, T_ERR), CONSTRA_OK);
    note_intent("retry", in);
    assert_int_equal(constra_intent_attempts_used(in), 2);
    constra_intent_free(in);
    assert_int_equal(constra_intent_simulate_callback(v->h, id, "0", NULL, &in, T_ERR), CONSTRA_OK);
    note_intent("paid", in);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_SUCCEEDED);
    assert_int_equal(strlen(constra_intent_receipt(in)), 10);
    same_json_as_server(v, in);
    constra_intent_free(in);

    static const char *const timeline[] = {
        "payment_intent.created", "payment_intent.pending_user_action",
        "payment_intent.requires_recovery", "payment_intent.pending_user_action",
        "payment_intent.succeeded"};
    expect_events(v, id, timeline, 5);
    if (v->remote) {
        /* The event list's JSON is the server's, byte for byte. */
        constra_event_list *a = NULL, *b = NULL;
        assert_int_equal(constra_event_list_get(v->h, id, &a, T_ERR), CONSTRA_OK);
        assert_int_equal(constra_event_list_get(v->engine, id, &b, T_ERR), CONSTRA_OK);
        assert_string_equal(constra_event_list_json(a, NULL), constra_event_list_json(b, NULL));
        assert_string_equal(constra_event_list_event_json(a, 4),
                            constra_event_list_event_json(b, 4));
        constra_event_list_free(a);
        constra_event_list_free(b);
    }
    note("collects=%d\n", v->rail.collects);
    assert_int_equal(v->rail.collects, 2);
}

static void sc_replay(env *v)
{
    constra_intent_params p = seed_params("254700000000");
    constra_intent *a = NULL, *b = NULL;
    assert_int_equal(constra_intent_create(v->h, &p, "key-1", &a, T_ERR), CONSTRA_OK);
    clock_ms += 1000;
    p.phone_number = "0700 000 000";
    assert_int_equal(constra_intent_create(v->h, &p, "key-1", &b, T_ERR), CONSTRA_OK);
    note_intent("replay", b);
    assert_int_equal(constra_intent_replayed(b), 1);
    size_t la, lb;
    const char *ja = constra_intent_json(a, &la);
    const char *jb = constra_intent_json(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(ja, jb, la);
    assert_string_equal(constra_intent_id(a), constra_intent_id(b));
    constra_intent_free(b);
    p.amount = 1300;
    int rc = constra_intent_create(v->h, &p, "key-1", &b, T_ERR);
    note_error(v->h, "reused", rc);
    assert_int_equal(rc, CONSTRA_E_CONFLICT);
    assert_null(b);
    assert_string_equal(last(v->h).code, "idempotency_key_reused");
    clock_ms += INT64_C(86400000) + 1;
    /* Expiry runs in the engine's tick (the server's, for a remote). */
    assert_int_equal(constra_tick(v->engine, clock_ms, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_create(v->h, &p, "key-1", &b, T_ERR), CONSTRA_OK);
    assert_string_not_equal(constra_intent_id(a), constra_intent_id(b));
    assert_int_equal(constra_intent_replayed(b), 0);
    constra_intent_free(a);
    constra_intent_free(b);
    note("collects=%d\n", v->rail.collects);
}

static void sc_magic_numbers(env *v)
{
    static const struct {
        const char *phone;
        int status;
        const char *code;
    } cases[] = {
        {"254708374149", CONSTRA_INTENT_SUCCEEDED, "0"},
        {"254711000001", CONSTRA_INTENT_REQUIRES_RECOVERY, "1"},
        {"254711000002", CONSTRA_INTENT_REQUIRES_RECOVERY, "1037"},
        {"254711000003", CONSTRA_INTENT_REQUIRES_RECOVERY, "1032"},
        {"254711000004", CONSTRA_INTENT_REQUIRES_RECOVERY, "2001"},
    };
    char ids[5][CONSTRA_ID_SIZE];
    for (int i = 0; i < 5; i++) {
        char key[32];
        snprintf(key, sizeof(key), "magic-%d", i);
        constra_intent *in = create_for(v, cases[i].phone, key);
        strcpy(ids[i], constra_intent_id(in));
        constra_intent_free(in);
    }
    /* The host's tick: a no-op on a remote handle, the engine's own. */
    assert_int_equal(constra_tick(v->h, clock_ms + 3000, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_tick(v->engine, clock_ms + 3000, T_ERR), CONSTRA_OK);
    for (int i = 0; i < 5; i++) {
        constra_intent *in = NULL;
        assert_int_equal(constra_intent_get(v->h, ids[i], &in, T_ERR), CONSTRA_OK);
        note_intent(cases[i].phone, in);
        assert_int_equal(constra_intent_status(in), cases[i].status);
        assert_string_equal(constra_intent_result_code(in), cases[i].code);
        same_json_as_server(v, in);
        constra_intent_free(in);
    }
}

static void sc_timeout_retries_exhausted(env *v)
{
    constra_intent *in = create_for(v, "254712345678", "timeout-1");
    char id[CONSTRA_ID_SIZE];
    strcpy(id, constra_intent_id(in));
    constra_intent_free(in);
    clock_ms += 60000;
    assert_int_equal(constra_tick(v->engine, clock_ms, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_get(v->h, id, &in, T_ERR), CONSTRA_OK);
    note_intent("timed out", in);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_REQUIRES_RECOVERY);
    assert_int_equal(constra_intent_attempts_left(in), 1);
    constra_intent_free(in);
    assert_int_equal(constra_intent_retry(v->h, id, &in, T_ERR), CONSTRA_OK);
    note_intent("retried", in);
    constra_intent_free(in);
    clock_ms += 60000;
    assert_int_equal(constra_tick(v->engine, clock_ms, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_get(v->h, id, &in, T_ERR), CONSTRA_OK);
    note_intent("exhausted", in);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_FAILED);
    assert_string_equal(constra_intent_recommended_action(in), "contact_customer");
    constra_intent_free(in);
    int rc = constra_intent_retry(v->h, id, &in, T_ERR);
    note_error(v->h, "retry failed", rc);
    assert_int_equal(rc, CONSTRA_E_INVALID_STATE);
    assert_int_equal(last(v->h).http_status, 409);
    assert_non_null(strstr(last(v->h).message, "failed"));
    note("collects=%d\n", v->rail.collects);
}

static void sc_duplicates_late_callbacks(env *v)
{
    constra_intent *in = create_for(v, "254712345678", "dup-1");
    char id[CONSTRA_ID_SIZE];
    strcpy(id, constra_intent_id(in));
    constra_intent_free(in);
    assert_int_equal(constra_intent_simulate_callback(v->h, id, "0", NULL, &in, T_ERR), CONSTRA_OK);
    char receipt[16];
    strcpy(receipt, constra_intent_receipt(in));
    constra_intent_free(in);
    assert_int_equal(constra_intent_simulate_callback(v->h, id, "0", NULL, &in, T_ERR), CONSTRA_OK);
    note_intent("duplicate", in);
    assert_string_equal(constra_intent_receipt(in), receipt);
    constra_intent_free(in);
    static const char *const t1[] = {"payment_intent.created", "payment_intent.pending_user_action",
                                     "payment_intent.succeeded",
                                     "payment_intent.callback_duplicate"};
    expect_events(v, id, t1, 4);

    in = create_for(v, "254712345678", "late-1");
    strcpy(id, constra_intent_id(in));
    constra_intent_free(in);
    assert_int_equal(constra_intent_cancel(v->h, id, &in, T_ERR), CONSTRA_OK);
    note_intent("cancel", in);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_CANCELLED);
    constra_intent_free(in);
    assert_int_equal(constra_intent_simulate_callback(v->h, id, "0", NULL, &in, T_ERR), CONSTRA_OK);
    note_intent("paid after cancel", in);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_REVIEW_REQUIRED);
    constra_intent_free(in);
    int rc = constra_intent_resolve(v->h, id, 1, NULL, NULL, &in, T_ERR);
    note_error(v->h, "resolve without receipt", rc);
    assert_int_equal(rc, CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_intent_resolve(v->h, id, 1, "TKR1234567", "verified on statement",
                                            &in, T_ERR), CONSTRA_OK);
    note_intent("resolved", in);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_SUCCEEDED);
    assert_string_equal(constra_intent_receipt(in), "TKR1234567");
    same_json_as_server(v, in);
    constra_intent_free(in);
    rc = constra_intent_cancel(v->h, id, &in, T_ERR);
    note_error(v->h, "cancel succeeded", rc);
    assert_int_equal(rc, CONSTRA_E_INVALID_STATE);

    in = create_for(v, "254712345678", "unknown-1");
    strcpy(id, constra_intent_id(in));
    constra_intent_free(in);
    assert_int_equal(constra_intent_simulate_callback(v->h, id, "777777", "???", &in, T_ERR), CONSTRA_OK);
    note_intent("unknown code", in);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_REVIEW_REQUIRED);
    constra_intent_free(in);
    assert_int_equal(constra_intent_resolve(v->h, id, 0, NULL, "no money arrived", &in, T_ERR),
                     CONSTRA_OK);
    note_intent("resolved failed", in);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_FAILED);
    constra_intent_free(in);
}

static void sc_drafts(env *v)
{
    constra_intent_params p = seed_params("0712 345 678");
    p.draft = 1;
    constra_intent *in = NULL;
    assert_int_equal(constra_intent_create(v->h, &p, "draft-1", &in, T_ERR), CONSTRA_OK);
    note_intent("draft", in);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_DRAFT);
    assert_string_equal(constra_intent_next_action(in), "confirm");
    char id[CONSTRA_ID_SIZE];
    strcpy(id, constra_intent_id(in));
    constra_intent_free(in);
    assert_int_equal(v->rail.collects, 0);
    int rc = constra_intent_retry(v->h, id, &in, T_ERR);
    note_error(v->h, "retry draft", rc);
    assert_int_equal(rc, CONSTRA_E_INVALID_STATE);
    rc = constra_intent_simulate_callback(v->h, id, "0", NULL, &in, T_ERR);
    note_error(v->h, "simulate draft", rc);
    assert_int_equal(rc, CONSTRA_E_INVALID_STATE);
    assert_int_equal(constra_intent_confirm(v->h, id, &in, T_ERR), CONSTRA_OK);
    note_intent("confirmed", in);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_PENDING_USER_ACTION);
    constra_intent_free(in);
    rc = constra_intent_confirm(v->h, id, &in, T_ERR);
    note_error(v->h, "confirm again", rc);
    assert_int_equal(rc, CONSTRA_E_INVALID_STATE);
    note("collects=%d\n", v->rail.collects);
    assert_int_equal(v->rail.collects, 1);
}

static void sc_auto_retry(env *v)
{
    constra_intent_params p = seed_params("254711000003");
    p.agent_policy = CONSTRA_AGENT_AUTO_RETRY;
    constra_intent *in = NULL;
    assert_int_equal(constra_intent_create(v->h, &p, "auto-1", &in, T_ERR), CONSTRA_OK);
    char id[CONSTRA_ID_SIZE];
    strcpy(id, constra_intent_id(in));
    constra_intent_free(in);
    for (int i = 0; i < 6; i++) {
        clock_ms += 3000;
        assert_int_equal(constra_tick(v->engine, clock_ms, T_ERR), CONSTRA_OK);
    }
    assert_int_equal(constra_intent_get(v->h, id, &in, T_ERR), CONSTRA_OK);
    note_intent("auto retried", in);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_FAILED);
    assert_int_equal(constra_intent_attempts_used(in), 3);
    constra_intent_free(in);
    note("collects=%d\n", v->rail.collects);
    assert_int_equal(v->rail.collects, 3);
}

static void sc_list_filters(env *v)
{
    for (int i = 0; i < 25; i++) {
        char key[32];
        snprintf(key, sizeof(key), "list-%d", i);
        constra_intent_params p = seed_params("254712345678");
        p.reference = i % 5 == 0 ? "order five" : "order_other";
        p.draft = i % 2;
        constra_intent *in = NULL;
        clock_ms += 10;
        assert_int_equal(constra_intent_create(v->h, &p, key, &in, T_ERR), CONSTRA_OK);
        constra_intent_free(in);
    }
    constra_intent_list_params lp = CONSTRA_INTENT_LIST_PARAMS_INIT;
    lp.limit = 10;
    constra_intent_list *l = NULL;
    int seen = 0;
    char cursor[CONSTRA_ID_SIZE] = "";
    int64_t prev_created = INT64_MAX;
    for (;;) {
        lp.starting_after = cursor[0] ? cursor : NULL;
        assert_int_equal(constra_intent_list_get(v->h, &lp, &l, T_ERR), CONSTRA_OK);
        note("page %zu more=%d\n", constra_intent_list_count(l), constra_intent_list_has_more(l));
        for (size_t i = 0; i < constra_intent_list_count(l); i++) {
            const constra_intent *it = constra_intent_list_at(l, i);
            int64_t c = constra_intent_created_at_ms(it);
            assert_true(c < prev_created);
            prev_created = c;
            note_intent("item", it);
            /* Each item's JSON is its own element of the list's JSON. */
            assert_non_null(strstr(constra_intent_list_json(l, NULL), constra_intent_json(it, NULL)));
            seen++;
        }
        int more = constra_intent_list_has_more(l);
        if (constra_intent_list_count(l)) {
            strcpy(cursor, constra_intent_id(
                               constra_intent_list_at(l, constra_intent_list_count(l) - 1)));
        }
        constra_intent_list_free(l);
        if (!more) {
            break;
        }
    }
    assert_int_equal(seen, 25);
    lp = (constra_intent_list_params)CONSTRA_INTENT_LIST_PARAMS_INIT;
    lp.status = CONSTRA_INTENT_DRAFT;
    lp.limit = 100;
    assert_int_equal(constra_intent_list_get(v->h, &lp, &l, T_ERR), CONSTRA_OK);
    note("drafts %zu\n", constra_intent_list_count(l));
    assert_int_equal(constra_intent_list_count(l), 12);
    assert_non_null(strstr(constra_intent_list_json(l, NULL), "\"has_more\":false"));
    constra_intent_list_free(l);
    lp.status = 0;
    lp.reference = "order five"; /* a space: percent-encoded on the wire */
    assert_int_equal(constra_intent_list_get(v->h, &lp, &l, T_ERR), CONSTRA_OK);
    note("order five %zu\n", constra_intent_list_count(l));
    assert_int_equal(constra_intent_list_count(l), 5);
    constra_intent_list_free(l);
    /* A created window: the 5 created in [start+60, start+110). */
    lp = (constra_intent_list_params)CONSTRA_INTENT_LIST_PARAMS_INIT;
    lp.created_from_ms = CLOCK_START + 60;
    lp.created_to_ms = CLOCK_START + 110;
    lp.limit = 100;
    assert_int_equal(constra_intent_list_get(v->h, &lp, &l, T_ERR), CONSTRA_OK);
    note("window %zu\n", constra_intent_list_count(l));
    assert_int_equal(constra_intent_list_count(l), 5);
    constra_intent_list_free(l);
    lp.limit = 101;
    int rc = constra_intent_list_get(v->h, &lp, &l, T_ERR);
    note_error(v->h, "limit 101", rc);
    assert_int_equal(rc, CONSTRA_E_INVALID_ARGUMENT);
    lp.limit = 10;
    lp.status = 42;
    rc = constra_intent_list_get(v->h, &lp, &l, T_ERR);
    note_error(v->h, "status 42", rc);
    assert_int_equal(rc, CONSTRA_E_INVALID_ARGUMENT);
}

typedef struct bad_case {
    const char *what;
    int64_t amount;
    const char *currency;
    const char *phone;
    const char *key;
    const char *param;
} bad_case;

static void sc_bad_input(env *v)
{
    char long_text[400];
    memset(long_text, 'x', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    const bad_case cases[] = {
        {"zero amount", 0, "KES", "254712345678", "k1", "amount"},
        {"negative amount", -5, "KES", "254712345678", "k2", "amount"},
        {"huge amount", INT64_MAX, "KES", "254712345678", "k3", "amount"},
        {"over limit", 250001, "KES", "254712345678", "k4", "amount"},
        {"unknown currency", 10, "XYZ", "254712345678", "k5", "currency"},
        {"not KES", 10, "USD", "254712345678", "k6", "currency"},
        {"no currency", 10, NULL, "254712345678", "k7", "currency"},
        {"bad phone", 10, "KES", "12345", "k8", "phone_number"},
        {"no phone", 10, "KES", NULL, "k9", "phone_number"},
        {"bad key", 10, "KES", "254712345678", "bad key!", "idempotency_key"},
        {"empty key", 10, "KES", "254712345678", "", "idempotency_key"},
        {"no key", 10, "KES", "254712345678", NULL, "idempotency_key"},
        {"long key", 10, "KES", "254712345678", long_text, "idempotency_key"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        constra_intent_params p = seed_params(cases[i].phone);
        p.amount = cases[i].amount;
        p.currency = cases[i].currency;
        constra_intent *in = (constra_intent *)&p;
        int rc = constra_intent_create(v->h, &p, cases[i].key, &in, T_ERR);
        note_error(v->h, cases[i].what, rc);
        if (rc != CONSTRA_E_INVALID_ARGUMENT) {
            fail_msg("%s: rc %d", cases[i].what, rc);
        }
        assert_null(in);
        constra_error err = last(v->h);
        if (strcmp(err.param, cases[i].param) != 0) {
            fail_msg("%s: param '%s', want '%s'", cases[i].what, err.param, cases[i].param);
        }
        assert_int_equal(err.http_status, 400);
    }
    constra_intent_params p = seed_params("254712345678");
    p.description = long_text;
    constra_intent *in = NULL;
    int rc = constra_intent_create(v->h, &p, "k-desc", &in, T_ERR);
    note_error(v->h, "long description", rc);
    assert_int_equal(rc, CONSTRA_E_INVALID_ARGUMENT);
    p = seed_params("254712345678");
    p.customer_name = "Amina\nN.";
    rc = constra_intent_create(v->h, &p, "k-ctl", &in, T_ERR);
    note_error(v->h, "control char", rc);
    assert_int_equal(rc, CONSTRA_E_INVALID_ARGUMENT);
    p = seed_params("254712345678");
    p.agent_policy = 9;
    rc = constra_intent_create(v->h, &p, "k-pol", &in, T_ERR);
    note_error(v->h, "policy 9", rc);
    assert_int_equal(rc, CONSTRA_E_INVALID_ARGUMENT);
    constra_intent_params zero;
    memset(&zero, 0, sizeof(zero));
    assert_int_equal(constra_intent_create(v->h, &zero, "k-abi", &in, T_ERR), CONSTRA_E_ABI);
    assert_int_equal(constra_intent_create(v->h, NULL, "k-null", &in, T_ERR), CONSTRA_E_INVALID_ARGUMENT);

    rc = constra_intent_get(v->h, "pi_00000000000000000000000000", &in, T_ERR);
    note_error(v->h, "unknown id", rc);
    assert_int_equal(rc, CONSTRA_E_NOT_FOUND);
    assert_int_equal(last(v->h).http_status, 404);
    rc = constra_intent_get(v->h, "pi_../x", &in, T_ERR);
    note_error(v->h, "bad id", rc);
    assert_int_equal(rc, CONSTRA_E_INVALID_ARGUMENT);
    /* An opaque id the server does not know: its 404, not a local refusal. */
    rc = constra_intent_get(v->h, "nonsense", &in, T_ERR);
    assert_int_equal(rc, CONSTRA_E_NOT_FOUND);
    assert_int_equal(constra_intent_cancel(v->h, NULL, &in, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    constra_event_list *ev = NULL;
    rc = constra_event_list_get(v->h, "pi_00000000000000000000000000", &ev, T_ERR);
    note_error(v->h, "events unknown id", rc);
    assert_int_equal(rc, CONSTRA_E_NOT_FOUND);
    rc = constra_intent_cancel(v->h, "pi_00000000000000000000000000", &in, T_ERR);
    note_error(v->h, "cancel unknown id", rc);
    assert_int_equal(rc, CONSTRA_E_NOT_FOUND);
    rc = constra_intent_simulate_callback(v->h, "pi_00000000000000000000000000", "0", NULL, &in, T_ERR);
    note_error(v->h, "simulate unknown id", rc);

    constra_intent_list *l = NULL;
    assert_int_equal(constra_intent_list_get(v->h, NULL, &l, T_ERR), CONSTRA_OK);
    note("stored %zu\n", constra_intent_list_count(l));
    assert_int_equal(constra_intent_list_count(l), 0);
    constra_intent_list_free(l);
    assert_int_equal(v->rail.collects, 0);
}

/* ---- local vs remote -------------------------------------------------------- */

typedef void (*scenario_fn)(env *v);

static void run_both(scenario_fn fn, int max_attempts)
{
    static char local[sizeof(transcript)];
    for (int remote = 0; remote <= 1; remote++) {
        tlen = 0;
        transcript[0] = '\0';
        env *v = open_env(remote, max_attempts);
        fn(v);
        if (remote) {
            /* No failures were injected: no try was repeated. */
            assert_int_equal(v->sleeps, 0);
        }
        close_env(v);
        if (getenv("CLIENT_TRANSCRIPT")) { /* to read what is compared */
            fprintf(stderr, "# --- %s\n%s", remote ? "remote" : "local", transcript);
        }
        if (!remote) {
            memcpy(local, transcript, tlen + 1);
        }
    }
    if (strcmp(local, transcript) != 0) {
        const char *a = local, *b = transcript;
        while (*a && *a == *b) {
            a++;
            b++;
        }
        while (a > local && a[-1] != '\n') {
            a--;
            b--;
        }
        fprintf(stderr, "# local:  %.200s\n# remote: %.200s\n", a, b);
        fail_msg("the remote handle's transcript differs from the local one");
    }
}

static void test_seed_flow(void **state)
{
    (void)state;
    run_both(sc_seed_flow, 0);
}
static void test_idempotent_replay(void **state)
{
    (void)state;
    run_both(sc_replay, 0);
}
static void test_magic_numbers(void **state)
{
    (void)state;
    run_both(sc_magic_numbers, 0);
}
static void test_timeout_retries_exhausted(void **state)
{
    (void)state;
    run_both(sc_timeout_retries_exhausted, 2);
}
static void test_duplicates_late_callbacks(void **state)
{
    (void)state;
    run_both(sc_duplicates_late_callbacks, 0);
}
static void test_drafts(void **state)
{
    (void)state;
    run_both(sc_drafts, 0);
}
static void test_auto_retry(void **state)
{
    (void)state;
    run_both(sc_auto_retry, 3);
}
static void test_list_filters(void **state)
{
    (void)state;
    run_both(sc_list_filters, 0);
}
static void test_bad_input(void **state)
{
    (void)state;
    run_both(sc_bad_input, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_flow),
        cmocka_unit_test(test_idempotent_replay),
        cmocka_unit_test(test_magic_numbers),
        cmocka_unit_test(test_timeout_retries_exhausted),
        cmocka_unit_test(test_duplicates_late_callbacks),
        cmocka_unit_test(test_drafts),
        cmocka_unit_test(test_auto_retry),
        cmocka_unit_test(test_list_filters),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
