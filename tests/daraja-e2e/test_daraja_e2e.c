/* End to end: the engine with the Daraja rail over a loopback transport
 * into the Daraja emulator, whose callbacks loop back into the handle's
 * REST router. The happy path, every fault mode, and hostile upstream
 * input; each ends in a defined state with an event saying why, and no
 * push is repeated (the emulator counts them). */
#include "e2e.h"

#include <pthread.h>
#include "../test_error.h"

#define PHONE_OK "254708374149"

static void test_happy_path(void **state)
{
    (void)state;
    e2e *f = e2e_open();
    char id[64];
    assert_int_equal(e2e_create(f, "0708374149", 10, id, sizeof(id)), CONSTRA_OK);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_PENDING_USER_ACTION);
    char co[128];
    e2e_get(f, id, co, sizeof(co), constra_intent_checkout_request_id);
    assert_true(strncmp(co, "ws_CO_", 6) == 0);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_OAUTH), 1);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_PUSH), 1);
    /* The result is due after 20 s: the callback arrives, the rail
     * confirms it by query, the intent succeeds with the receipt. */
    e2e_advance(f, 20000);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_CALLBACKS), 1);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_SUCCEEDED);
    char receipt[32];
    e2e_get(f, id, receipt, sizeof(receipt), constra_intent_receipt);
    assert_int_equal(strlen(receipt), 10);
    assert_true(e2e_event_has(f, id, "payment_intent.succeeded"));
    assert_true(e2e_count(f, CONSTRA_DARAJA_EMU_QUERY) >= 1);
    /* Later ticks change nothing, push nothing. */
    e2e_advance(f, 60000);
    e2e_advance(f, 600000);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_SUCCEEDED);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_PUSH), 1);
    /* The token is cached: one OAuth call for the whole flow. */
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_OAUTH), 1);
    e2e_close(f);
}

static void test_outcomes_by_phone(void **state)
{
    (void)state;
    e2e *f = e2e_open();
    struct {
        const char *phone;
        int status;
        const char *code;
    } cases[] = {{"254711000001", CONSTRA_INTENT_REQUIRES_RECOVERY, "1"},
                 {"254711000003", CONSTRA_INTENT_REQUIRES_RECOVERY, "1032"},
                 {"254711000002", CONSTRA_INTENT_REQUIRES_RECOVERY, "1037"}};
    char ids[3][64];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(e2e_create(f, cases[i].phone, 5, ids[i], sizeof(ids[i])), CONSTRA_OK);
    }
    e2e_advance(f, 20000);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(e2e_status(f, ids[i]), cases[i].status);
        char code[32];
        e2e_get(f, ids[i], code, sizeof(code), constra_intent_result_code);
        assert_string_equal(code, cases[i].code);
    }
    /* Failures are trusted without a query: no queries were needed. */
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_QUERY), 0);
    e2e_close(f);
}

static void test_callback_never(void **state)
{
    (void)state;
    e2e *f = e2e_open();
    constra_daraja_emulator_set_fault(f->emu, CONSTRA_DARAJA_FAULT_CALLBACK_NEVER, 1);
    char id[64];
    assert_int_equal(e2e_create(f, PHONE_OK, 10, id, sizeof(id)), CONSTRA_OK);
    e2e_advance(f, 15000); /* first query: still pending (500.001.1001) */
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_PENDING_USER_ACTION);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_QUERY), 1);
    e2e_advance(f, 10000); /* second query: final 0 */
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_CALLBACKS), 0);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_SUCCEEDED);
    assert_true(e2e_event_has(f, id, "payment_intent.succeeded"));
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_PUSH), 1);
    e2e_close(f);
}

/* constra_intent_refresh: with the callback lost, a refresh asks now and
 * settles (success, and a 1032 failure); before the result it changes
 * nothing; a settled intent is not queried again. */
static void test_refresh_settles_lost_callback(void **state)
{
    (void)state;
    e2e *f = e2e_open();
    constra_daraja_emulator_set_fault(f->emu, CONSTRA_DARAJA_FAULT_CALLBACK_NEVER, 2);
    char ok_id[64], fail_id[64];
    assert_int_equal(e2e_create(f, PHONE_OK, 10, ok_id, sizeof(ok_id)), CONSTRA_OK);
    assert_int_equal(e2e_create(f, "254711000003", 10, fail_id, sizeof(fail_id)), CONSTRA_OK);
    constra_intent *in = NULL;
    assert_int_equal(constra_intent_refresh(f->h, ok_id, &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_PENDING_USER_ACTION);
    constra_intent_free(in);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_QUERY), 1);
    /* The customer answers; the emulator knows, the callbacks never come,
     * and no tick runs (the time-out is far). */
    e2e_clock += 25000;
    constra_daraja_emulator_pump(f->emu, e2e_clock);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_CALLBACKS), 0);
    assert_int_equal(e2e_status(f, ok_id), CONSTRA_INTENT_PENDING_USER_ACTION);
    assert_int_equal(constra_intent_refresh(f->h, ok_id, &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_SUCCEEDED);
    assert_string_equal(constra_intent_result_code(in), "0");
    constra_intent_free(in);
    assert_int_equal(e2e_status(f, ok_id), CONSTRA_INTENT_SUCCEEDED); /* stored */
    assert_true(e2e_event_has(f, ok_id, "payment_intent.succeeded"));
    assert_int_equal(constra_intent_refresh(f->h, fail_id, &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_REQUIRES_RECOVERY);
    assert_string_equal(constra_intent_result_code(in), "1032");
    constra_intent_free(in);
    uint64_t queries = e2e_count(f, CONSTRA_DARAJA_EMU_QUERY);
    assert_int_equal(constra_intent_refresh(f->h, ok_id, &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_SUCCEEDED);
    constra_intent_free(in);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_QUERY), queries);
    assert_int_equal(constra_intent_refresh(f->h, "pi_nope", &in, T_ERR), CONSTRA_E_NOT_FOUND);
    assert_null(in);
    assert_int_equal(constra_intent_refresh(f->h, ok_id, NULL, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_intent_refresh(NULL, ok_id, &in, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    /* One push each: a refresh never pushes. */
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_PUSH), 2);
    e2e_close(f);
}

static void test_callback_twice_and_replayed(void **state)
{
    (void)state;
    e2e *f = e2e_open();
    constra_daraja_emulator_set_fault(f->emu, CONSTRA_DARAJA_FAULT_CALLBACK_TWICE, 1);
    char id[64];
    assert_int_equal(e2e_create(f, PHONE_OK, 10, id, sizeof(id)), CONSTRA_OK);
    e2e_advance(f, 20000);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_CALLBACKS), 2);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_SUCCEEDED);
    assert_true(e2e_event_has(f, id, "payment_intent.callback_duplicate"));
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_PUSH), 1);
    e2e_close(f);
}

static void test_callback_late(void **state)
{
    (void)state;
    e2e *f = e2e_open();
    constra_daraja_emulator_set_fault(f->emu, CONSTRA_DARAJA_FAULT_CALLBACK_LATE, 1);
    char id[64];
    assert_int_equal(e2e_create(f, PHONE_OK, 10, id, sizeof(id)), CONSTRA_OK);
    e2e_advance(f, 15000);
    e2e_advance(f, 10000); /* the query learns it */
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_SUCCEEDED);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_CALLBACKS), 0);
    e2e_advance(f, 10 * 60 * 1000); /* the late callback: a duplicate */
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_CALLBACKS), 1);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_SUCCEEDED);
    assert_true(e2e_event_has(f, id, "payment_intent.callback_duplicate"));
    e2e_close(f);
}

static void test_callback_before_query(void **state)
{
    (void)state;
    e2e *f = e2e_open();
    constra_daraja_emulator_set_fault(f->emu, CONSTRA_DARAJA_FAULT_CALLBACK_BEFORE_QUERY, 1);
    char id[64];
    assert_int_equal(e2e_create(f, PHONE_OK, 10, id, sizeof(id)), CONSTRA_OK);
    e2e_advance(f, 20000); /* success callback; the query still says pending */
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_CALLBACKS), 1);
    /* Unconfirmed: the engine has not marked it succeeded; the rail says
     * why in the log. */
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_PENDING_USER_ACTION);
    assert_non_null(strstr(e2e_log, "held until an STK query confirms it"));
    e2e_advance(f, 30000);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_PENDING_USER_ACTION);
    e2e_advance(f, 35000); /* the query now confirms: the held claim wins */
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_SUCCEEDED);
    char receipt[32];
    e2e_get(f, id, receipt, sizeof(receipt), constra_intent_receipt);
    assert_int_equal(strlen(receipt), 10); /* from the held callback */
    e2e_close(f);
}

static void skip_confirm(constra_daraja_config *c)
{
    c->skip_success_confirmation = 1;
}

static void test_confirmation_off(void **state)
{
    (void)state;
    e2e *f = e2e_open_with(skip_confirm, NULL);
    constra_daraja_emulator_set_fault(f->emu, CONSTRA_DARAJA_FAULT_CALLBACK_BEFORE_QUERY, 1);
    char id[64];
    assert_int_equal(e2e_create(f, PHONE_OK, 10, id, sizeof(id)), CONSTRA_OK);
    e2e_advance(f, 20000);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_SUCCEEDED);
    e2e_close(f);
}

static const char *overview(e2e *f)
{
    static char out[16384];
    constra_http_header h[] = {{"Authorization", "Bearer " E2E_API_KEY}};
    constra_api_request r = CONSTRA_API_REQUEST_INIT;
    r.method = "GET";
    r.target = "/v1/sandbox/overview";
    r.headers = h;
    r.header_count = 1;
    constra_api_response *resp = NULL;
    assert_int_equal(constra_api_handle(f->h, &r, &resp, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_api_response_status(resp), 200);
    snprintf(out, sizeof(out), "%s", constra_api_response_body(resp, NULL));
    constra_api_response_free(resp);
    e2e_saw(f, out);
    return out;
}

/* A push answered with no usable body: the rail says outcome unknown; the
 * engine never re-sends and sends the intent to review at its time-out. */
static void garbled_push(int fault, int processed)
{
    e2e *f = e2e_open();
    constra_daraja_emulator_set_fault(f->emu, fault, 1);
    char id[64];
    assert_int_equal(e2e_create(f, PHONE_OK, 10, id, sizeof(id)), CONSTRA_OK);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_PENDING_USER_ACTION);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_PROMPTS), (uint64_t)processed);
    e2e_advance(f, 20000); /* a processed push calls back: unmatched, kept */
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_CALLBACKS), (uint64_t)processed);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_PENDING_USER_ACTION);
    constra_intent *in = NULL;
    assert_int_equal(constra_intent_retry(f->h, id, &in, T_ERR), CONSTRA_E_INVALID_STATE);
    e2e_last(f);
    /* The callback of a processed push is kept (unmatched), not lost. */
    char want[64];
    snprintf(want, sizeof(want), "\"unmatched\":%d", processed);
    assert_non_null(strstr(overview(f), want));
    e2e_advance(f, 300000); /* the callback time-out */
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_REVIEW_REQUIRED);
    assert_true(e2e_event_has(f, id, "outcome_unknown"));
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_PUSH), 1);
    e2e_close(f);
}

static void test_push_503(void **state)
{
    (void)state;
    garbled_push(CONSTRA_DARAJA_FAULT_PUSH_503, 0);
}

static void test_push_empty(void **state)
{
    (void)state;
    garbled_push(CONSTRA_DARAJA_FAULT_PUSH_EMPTY, 1);
}

static void test_push_html(void **state)
{
    (void)state;
    garbled_push(CONSTRA_DARAJA_FAULT_PUSH_HTML, 1);
}

static void test_push_wrong_shape(void **state)
{
    (void)state;
    garbled_push(CONSTRA_DARAJA_FAULT_PUSH_WRONG_SHAPE, 1);
}

static void test_token_expires_mid_flow(void **state)
{
    (void)state;
    e2e *f = e2e_open();
    char id1[64], id2[64];
    assert_int_equal(e2e_create(f, PHONE_OK, 10, id1, sizeof(id1)), CONSTRA_OK);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_OAUTH), 1);
    constra_daraja_emulator_expire_tokens(f->emu);
    /* The query after the callback meets 404.001.03: refresh, replay. */
    e2e_advance(f, 20000);
    assert_int_equal(e2e_status(f, id1), CONSTRA_INTENT_SUCCEEDED);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_OAUTH), 2);
    constra_daraja_emulator_expire_tokens(f->emu);
    assert_int_equal(e2e_create(f, "254711000000", 10, id2, sizeof(id2)), CONSTRA_OK);
    assert_int_equal(e2e_status(f, id2), CONSTRA_INTENT_PENDING_USER_ACTION);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_OAUTH), 3);
    /* Two push requests (refused, replayed), one prompt. */
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_PUSH), 3);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_PROMPTS), 2);
    e2e_close(f);
}

/* Two rails (two handles) with the same consumer key share one token. */
static void test_token_shared_across_rails(void **state)
{
    (void)state;
    e2e *f = e2e_open();
    constra_transport tr;
    assert_int_equal(constra_loopback_transport(f->lb, &tr, NULL), CONSTRA_OK);
    constra_daraja_config c = CONSTRA_DARAJA_CONFIG_INIT;
    c.environment = CONSTRA_DARAJA_ENV_SANDBOX;
    c.consumer_key = E2E_KEY;
    c.consumer_secret = E2E_SECRET;
    c.shortcode = CONSTRA_DARAJA_SANDBOX_SHORTCODE;
    c.passkey = CONSTRA_DARAJA_SANDBOX_PASSKEY;
    c.transaction_type = CONSTRA_DARAJA_STK_PAYBILL;
    c.callback_url = E2E_CALLBACK;
    c.callback_token = E2E_CB_TOKEN;
    constra_rail rail;
    assert_int_equal(constra_rail_daraja(&rail, &c, &tr, &f->plat, NULL), CONSTRA_OK);
    constra_config hc = CONSTRA_CONFIG_INIT;
    hc.platform = &f->plat;
    hc.rail = &rail;
    constra_t *h2 = NULL;
    assert_int_equal(constra_open(&h2, &hc, NULL), CONSTRA_OK);
    char id[64];
    assert_int_equal(e2e_create(f, PHONE_OK, 10, id, sizeof(id)), CONSTRA_OK);
    constra_intent_params ip = CONSTRA_INTENT_PARAMS_INIT;
    ip.amount = 5;
    ip.currency = "KES";
    ip.phone_number = "254711000000";
    constra_intent *in = NULL;
    assert_int_equal(constra_intent_create(h2, &ip, "second-handle-1", &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_PENDING_USER_ACTION);
    constra_intent_free(in);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_OAUTH), 1);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_PROMPTS), 2);
    constra_close(h2);
    e2e_close(f);
}

/* The rail calls no thread or sleep API itself: its back-off goes through
 * the platform's sleep_ms, and its mutexes (its own; the process-wide
 * token cache's, made with the first live rail's platform) through the
 * platform's mutex methods. */
static int sleeps, slept_ms_total, mutexes_made, mutexes_gone;
static void rec_sleep(void *ud, int64_t ms)
{
    (void)ud;
    sleeps++;
    slept_ms_total += (int)ms;
}
static int rec_mutex_create(void *ud, void **out)
{
    (void)ud;
    pthread_mutex_t *m = malloc(sizeof(*m));
    pthread_mutex_init(m, NULL);
    *out = m;
    mutexes_made++;
    return 0;
}
static void rec_mutex_lock(void *ud, void *m)
{
    (void)ud;
    pthread_mutex_lock(m);
}
static void rec_mutex_unlock(void *ud, void *m)
{
    (void)ud;
    pthread_mutex_unlock(m);
}
static void rec_mutex_destroy(void *ud, void *m)
{
    (void)ud;
    pthread_mutex_destroy(m);
    free(m);
    mutexes_gone++;
}

static void test_backoff_and_locks_through_platform(void **state)
{
    (void)state;
    e2e *f = e2e_open(); /* its rail (default mutexes) keeps the cache's */
    constra_transport tr;
    assert_int_equal(constra_loopback_transport(f->lb, &tr, NULL), CONSTRA_OK);
    constra_daraja_config c = CONSTRA_DARAJA_CONFIG_INIT;
    c.environment = CONSTRA_DARAJA_ENV_SANDBOX;
    c.consumer_key = E2E_KEY;
    c.consumer_secret = E2E_SECRET;
    c.shortcode = CONSTRA_DARAJA_SANDBOX_SHORTCODE;
    c.passkey = CONSTRA_DARAJA_SANDBOX_PASSKEY;
    c.transaction_type = CONSTRA_DARAJA_STK_PAYBILL;
    c.callback_url = E2E_CALLBACK;
    c.callback_token = E2E_CB_TOKEN;
    c.retry_delay_ms = 40;
    constra_platform p = f->plat;
    p.sleep_ms = rec_sleep;
    p.mutex_create = rec_mutex_create;
    p.mutex_lock = rec_mutex_lock;
    p.mutex_unlock = rec_mutex_unlock;
    p.mutex_destroy = rec_mutex_destroy;
    constra_rail rail;
    assert_int_equal(constra_rail_daraja(&rail, &c, &tr, &p, NULL), CONSTRA_OK);
    assert_int_equal(mutexes_made, 1); /* the cache's exist already */
    constra_config hc = CONSTRA_CONFIG_INIT;
    hc.platform = &p;
    hc.rail = &rail;
    constra_t *h2 = NULL;
    assert_int_equal(constra_open(&h2, &hc, NULL), CONSTRA_OK);
    constra_daraja_emulator_set_fault(f->emu, CONSTRA_DARAJA_FAULT_SPIKE_ARREST, 1);
    constra_intent_params ip = CONSTRA_INTENT_PARAMS_INIT;
    ip.amount = 5;
    ip.currency = "KES";
    ip.phone_number = "254711000000";
    constra_intent *in = NULL;
    assert_int_equal(constra_intent_create(h2, &ip, "backoff-1", &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_PENDING_USER_ACTION);
    constra_intent_free(in);
    /* One rate-limited push, one back-off of 40 ms + up to 50 % jitter. */
    assert_int_equal(sleeps, 1);
    assert_true(slept_ms_total >= 40 && slept_ms_total <= 60);
    constra_close(h2);
    assert_int_equal(mutexes_gone, mutexes_made);
    e2e_close(f);
}

typedef struct worker {
    e2e *f;
    int index;
    int ok;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < 10; i++) {
        char phone[16], key[32];
        snprintf(phone, sizeof(phone), "25472%d%06d", w->index, i);
        snprintf(key, sizeof(key), "thread-%d-%d", w->index, i);
        constra_intent_params ip = CONSTRA_INTENT_PARAMS_INIT;
        ip.amount = 10;
        ip.currency = "KES";
        ip.phone_number = phone;
        constra_intent *in = NULL;
        if (constra_intent_create(w->f->h, &ip, key, &in, T_ERR) == CONSTRA_OK &&
            constra_intent_status(in) == CONSTRA_INTENT_PENDING_USER_ACTION) {
            w->ok++;
        }
        constra_intent_free(in);
        constra_tick(w->f->h, e2e_clock, T_ERR);
    }
    return NULL;
}

/* Four threads push through one handle and rail at once (while ticking):
 * one token is minted, every push gets its own prompt, all succeed. */
static void test_threads(void **state)
{
    (void)state;
    e2e *f = e2e_open();
    pthread_t t[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){f, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].ok, 10);
    }
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_OAUTH), 1);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_PROMPTS), 40);
    e2e_advance(f, 20000);
    constra_intent_list_params lp = CONSTRA_INTENT_LIST_PARAMS_INIT;
    lp.status = CONSTRA_INTENT_SUCCEEDED;
    lp.limit = 100;
    constra_intent_list *l = NULL;
    assert_int_equal(constra_intent_list_get(f->h, &lp, &l, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_list_count(l), 40);
    constra_intent_list_free(l);
    e2e_close(f);
}

static void test_token_expire_fault(void **state)
{
    (void)state;
    e2e *f = e2e_open();
    char id[64];
    assert_int_equal(e2e_create(f, PHONE_OK, 10, id, sizeof(id)), CONSTRA_OK);
    /* The next request (the confirming query) finds its token expired. */
    constra_daraja_emulator_set_fault(f->emu, CONSTRA_DARAJA_FAULT_TOKEN_EXPIRE, 1);
    e2e_advance(f, 20000);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_SUCCEEDED);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_OAUTH), 2);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_PUSH), 1);
    e2e_close(f);
}

static void test_token_refreshed_early(void **state)
{
    (void)state;
    e2e *f = e2e_open();
    char id[64];
    assert_int_equal(e2e_create(f, PHONE_OK, 10, id, sizeof(id)), CONSTRA_OK);
    e2e_advance(f, 20000);
    /* 51 minutes later the token (3599 s) is still valid at Daraja, but
     * the rail refreshes it early (after 5/6 of its life). */
    e2e_advance(f, 51 * 60 * 1000);
    assert_int_equal(e2e_create(f, "254711000000", 10, id, sizeof(id)), CONSTRA_OK);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_OAUTH), 2);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_PUSH), 2);
    e2e_close(f);
}

static void test_query_4999_then_1037(void **state)
{
    (void)state;
    e2e *f = e2e_open();
    constra_daraja_emulator_set_fault(f->emu, CONSTRA_DARAJA_FAULT_QUERY_4999_THEN_1037, 1);
    char id[64];
    assert_int_equal(e2e_create(f, PHONE_OK, 10, id, sizeof(id)), CONSTRA_OK);
    e2e_advance(f, 15000); /* 4999: pending, not a failure */
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_PENDING_USER_ACTION);
    e2e_advance(f, 10000); /* 1037 */
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_REQUIRES_RECOVERY);
    char code[32];
    e2e_get(f, id, code, sizeof(code), constra_intent_result_code);
    assert_string_equal(code, "1037");
    assert_true(e2e_event_has(f, id, "payment_intent.requires_recovery"));
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_PUSH), 1);
    e2e_close(f);
}

static void test_spike_arrest_retried_once(void **state)
{
    (void)state;
    e2e *f = e2e_open();
    constra_daraja_emulator_set_fault(f->emu, CONSTRA_DARAJA_FAULT_SPIKE_ARREST, 1);
    char id[64];
    assert_int_equal(e2e_create(f, PHONE_OK, 10, id, sizeof(id)), CONSTRA_OK);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_PENDING_USER_ACTION);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_PUSH), 2);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_PROMPTS), 1);
    e2e_close(f);
}

static void test_spike_arrest_twice_is_retry_later(void **state)
{
    (void)state;
    e2e *f = e2e_open();
    constra_daraja_emulator_set_fault(f->emu, CONSTRA_DARAJA_FAULT_SPIKE_ARREST, 2);
    char id[64];
    assert_int_equal(e2e_create(f, PHONE_OK, 10, id, sizeof(id)), CONSTRA_OK);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_REQUIRES_RECOVERY);
    char action[32];
    e2e_get(f, id, action, sizeof(action), constra_intent_recommended_action);
    assert_string_equal(action, "retry_later");
    /* Exactly one bounded retry; no prompt went out. */
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_PUSH), 2);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_PROMPTS), 0);
    /* Retrying now works. */
    constra_intent *in = NULL;
    assert_int_equal(constra_intent_retry(f->h, id, &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_PENDING_USER_ACTION);
    constra_intent_free(in);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_PROMPTS), 1);
    e2e_close(f);
}

static void breaker_cfg(constra_daraja_config *c)
{
    c->breaker_threshold = 3;
    c->breaker_half_open_ms = 60000;
}

static void test_circuit_breaker(void **state)
{
    (void)state;
    e2e *f = e2e_open_with(breaker_cfg, NULL);
    constra_daraja_emulator_set_fault(f->emu, CONSTRA_DARAJA_FAULT_PUSH_503, -1);
    char id[64];
    /* Three failed pushes (outcome unknown each) open the breaker. */
    const char *phones[] = {"254711000010", "254711000011", "254711000012", "254711000013"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(e2e_create(f, phones[i], 10, id, sizeof(id)), CONSTRA_OK);
    }
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_PUSH), 3);
    /* Open: the fourth is not sent at all (retry later). */
    assert_int_equal(e2e_create(f, phones[3], 10, id, sizeof(id)), CONSTRA_OK);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_PUSH), 3);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_REQUIRES_RECOVERY);
    /* Half-open after 60 s: one trial goes out; it succeeds and closes. */
    constra_daraja_emulator_set_fault(f->emu, CONSTRA_DARAJA_FAULT_PUSH_503, 0);
    e2e_clock += 60000;
    constra_intent *in = NULL;
    assert_int_equal(constra_intent_retry(f->h, id, &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_PENDING_USER_ACTION);
    constra_intent_free(in);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_PUSH), 4);
    e2e_close(f);
}

static void test_configuration_errors(void **state)
{
    (void)state;
    e2e *f = e2e_open();
    /* The emulator knows another passkey for 174379: Wrong credentials. */
    assert_int_equal(constra_daraja_emulator_add_shortcode(f->emu, "174379", "differentpasskey",
                                                           NULL),
                     CONSTRA_OK);
    char id[64];
    assert_int_equal(e2e_create(f, PHONE_OK, 10, id, sizeof(id)), CONSTRA_OK);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_FAILED);
    char code[32], note[512];
    e2e_get(f, id, code, sizeof(code), constra_intent_result_code);
    assert_string_equal(code, "500.001.1001");
    e2e_get(f, id, note, sizeof(note), constra_intent_recommended_action);
    assert_string_equal(note, "operator_review");
    assert_true(e2e_event_has(f, id, "payment_intent.failed"));
    e2e_close(f);
}

static void wrong_secret(constra_daraja_config *c)
{
    c->consumer_secret = "notTheRightSecret42";
}

static void test_wrong_consumer_secret(void **state)
{
    (void)state;
    e2e *f = e2e_open_with(wrong_secret, NULL);
    char id[64];
    assert_int_equal(e2e_create(f, PHONE_OK, 10, id, sizeof(id)), CONSTRA_OK);
    /* OAuth answered 400 (empty): configuration, failed with a note. */
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_FAILED);
    assert_true(e2e_event_has(f, id, "OAuth refused"));
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_PUSH), 0);
    assert_null(strstr(f->seen, "notTheRightSecret42"));
    assert_null(strstr(e2e_log, "notTheRightSecret42"));
    e2e_close(f);
}

static void test_unable_to_lock_subscriber(void **state)
{
    (void)state;
    e2e *f = e2e_open();
    char id1[64], id2[64];
    assert_int_equal(e2e_create(f, PHONE_OK, 10, id1, sizeof(id1)), CONSTRA_OK);
    assert_int_equal(e2e_create(f, PHONE_OK, 20, id2, sizeof(id2)), CONSTRA_OK);
    assert_int_equal(e2e_status(f, id2), CONSTRA_INTENT_REQUIRES_RECOVERY);
    char action[32];
    e2e_get(f, id2, action, sizeof(action), constra_intent_recommended_action);
    assert_string_equal(action, "retry_later");
    e2e_close(f);
}

static void test_forged_callbacks_refused(void **state)
{
    (void)state;
    e2e *f = e2e_open();
    char id[64], co[128];
    assert_int_equal(e2e_create(f, "254711000003", 10, id, sizeof(id)), CONSTRA_OK);
    e2e_get(f, id, co, sizeof(co), constra_intent_checkout_request_id);
    char body[512];
    int n = snprintf(body, sizeof(body),
                     "{\"Body\":{\"stkCallback\":{\"MerchantRequestID\":\"x\","
                     "\"CheckoutRequestID\":\"%s\",\"ResultCode\":1032,"
                     "\"ResultDesc\":\"Request cancelled by user\"}}}",
                     co);
    assert_int_equal(e2e_post_callback(f, "", body, (size_t)n), 401);
    assert_int_equal(e2e_post_callback(f, "token=wrongwrongwrongwrong", body, (size_t)n), 401);
    assert_int_equal(e2e_post_callback(f, "token=" E2E_CB_TOKEN "x", body, (size_t)n), 401);
    assert_int_equal(e2e_post_callback(f, "token=", body, (size_t)n), 401);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_PENDING_USER_ACTION);
    /* The public call without a query is refused too. */
    assert_int_equal(constra_handle_mpesa_callback(f->h, NULL, 0, body, (size_t)n, T_ERR), CONSTRA_E_AUTH);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_PENDING_USER_ACTION);
    /* With the token (among other parameters) it is accepted. */
    assert_int_equal(e2e_post_callback(f, "a=1&token=" E2E_CB_TOKEN, body, (size_t)n), 200);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_REQUIRES_RECOVERY);
    /* Replayed: recorded as a duplicate, nothing changes. */
    assert_int_equal(e2e_post_callback(f, "token=" E2E_CB_TOKEN, body, (size_t)n), 200);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_REQUIRES_RECOVERY);
    assert_true(e2e_event_has(f, id, "payment_intent.callback_duplicate"));
    e2e_close(f);
}

static void test_forged_success_not_trusted(void **state)
{
    (void)state;
    e2e *f = e2e_open();
    /* The customer cancels (1032), but a "success" callback arrives first
     * with the right token (a leaked token, or a confused proxy). */
    char id[64], co[128];
    assert_int_equal(e2e_create(f, "254711000003", 10, id, sizeof(id)), CONSTRA_OK);
    e2e_get(f, id, co, sizeof(co), constra_intent_checkout_request_id);
    char body[1024];
    int n = snprintf(body, sizeof(body),
                     "{\"Body\":{\"stkCallback\":{\"MerchantRequestID\":\"x\","
                     "\"CheckoutRequestID\":\"%s\",\"ResultCode\":0,\"ResultDesc\":\"ok\","
                     "\"CallbackMetadata\":{\"Item\":[{\"Name\":\"Amount\",\"Value\":10},"
                     "{\"Name\":\"MpesaReceiptNumber\",\"Value\":\"FAKE000000\"}]}}}}",
                     co);
    assert_int_equal(e2e_post_callback(f, "token=" E2E_CB_TOKEN, body, (size_t)n), 200);
    /* The query says pending: held, not trusted. */
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_PENDING_USER_ACTION);
    e2e_advance(f, 20000); /* the real 1032 arrives (callback and query) */
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_REQUIRES_RECOVERY);
    char receipt[32];
    e2e_get(f, id, receipt, sizeof(receipt), constra_intent_receipt);
    assert_string_equal(receipt, "");
    /* After the result, a forged success is contradicted by the query. */
    assert_int_equal(e2e_post_callback(f, "token=" E2E_CB_TOKEN, body, (size_t)n), 200);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_REQUIRES_RECOVERY);
    e2e_close(f);
}

static void test_bad_callbacks(void **state)
{
    (void)state;
    e2e *f = e2e_open();
    /* Truncated callback: refused (400), the query settles it. */
    constra_daraja_emulator_set_fault(f->emu, CONSTRA_DARAJA_FAULT_CALLBACK_TRUNCATED, 1);
    char id[64];
    assert_int_equal(e2e_create(f, PHONE_OK, 10, id, sizeof(id)), CONSTRA_OK);
    e2e_advance(f, 15000);
    e2e_advance(f, 5000);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_CALLBACKS), 1);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_PENDING_USER_ACTION);
    e2e_advance(f, 5000);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_SUCCEEDED);
    /* A callback naming another checkout id: kept as unmatched; the
     * intent is settled by its own query. */
    constra_daraja_emulator_set_fault(f->emu, CONSTRA_DARAJA_FAULT_CALLBACK_WRONG_ID, 1);
    assert_int_equal(e2e_create(f, "254711000003", 10, id, sizeof(id)), CONSTRA_OK);
    e2e_advance(f, 20000);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_REQUIRES_RECOVERY);
    /* Garbage bodies with the right token: 400, nothing recorded. */
    const char *bad[] = {"", "<html>hi</html>", "{\"Body\":{}}", "{\"Body\":{\"stkCallback\":"};
    for (size_t i = 0; i < 4; i++) {
        int s = e2e_post_callback(f, "token=" E2E_CB_TOKEN, bad[i], strlen(bad[i]));
        assert_true(s == 400 || s == 415);
    }
    e2e_close(f);
}

/* ---- hostile upstream: a wrapper around the emulator ------------------- */

typedef struct wrap {
    constra_daraja_emulator *emu;
    int mode; /* 1 bomb push answer, 2 truncate push answer, 3 query about another id */
} wrap;

static int wrapped(void *ctx, const constra_transport_request *req, constra_transport_response *resp)
{
    wrap *w = ctx;
    int is_push = strstr(req->url, "stkpush/v1") != NULL;
    int is_query = strstr(req->url, "stkpushquery") != NULL;
    if (w->mode == 1 && is_push) {
        int rc = constra_daraja_emulator_handler(w->emu, req, resp);
        static char chunk[65536];
        memset(chunk, ' ', sizeof(chunk));
        for (int i = 0; rc == CONSTRA_OK && i < 1600; i++) { /* 100 MiB */
            rc = constra_transport_response_append(resp, chunk, sizeof(chunk));
        }
        return rc;
    }
    if (w->mode == 2 && is_push) {
        constra_transport_response *inner = NULL;
        constra_daraja_emulator_serve(w->emu, req, &inner, NULL);
        size_t len;
        const char *b = constra_transport_response_body(inner, &len);
        constra_transport_response_set_status(resp, 200);
        constra_transport_response_append(resp, b, len / 2);
        constra_transport_response_free(inner);
        return CONSTRA_OK;
    }
    if (w->mode == 3 && is_query) {
        static const char other[] =
            "{\"ResponseCode\":\"0\",\"ResponseDescription\":\"ok\",\"MerchantRequestID\":\"m\","
            "\"CheckoutRequestID\":\"ws_CO_somebody_else\",\"ResultCode\":\"0\","
            "\"ResultDesc\":\"The service request is processed successfully.\"}";
        constra_transport_response_set_status(resp, 200);
        return constra_transport_response_append(resp, other, sizeof(other) - 1);
    }
    return constra_daraja_emulator_handler(w->emu, req, resp);
}

static void hostile(int mode)
{
    e2e *f = e2e_open();
    wrap w = {f->emu, mode};
    assert_int_equal(constra_loopback_mount(f->lb, CONSTRA_DARAJA_SANDBOX_BASE_URL, wrapped, &w,
                                            NULL),
                     CONSTRA_OK);
    if (mode == 3) {
        constra_daraja_emulator_set_fault(f->emu, CONSTRA_DARAJA_FAULT_CALLBACK_NEVER, 1);
    }
    char id[64];
    assert_int_equal(e2e_create(f, PHONE_OK, 10, id, sizeof(id)), CONSTRA_OK);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_PENDING_USER_ACTION);
    for (int i = 0; i < 6; i++) {
        e2e_advance(f, 10000);
    }
    /* Nothing was believed: still pending until the time-out, then review
     * (push answer unusable) or recovery by time-out (query lies). */
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_PENDING_USER_ACTION);
    e2e_advance(f, 300000);
    int s = e2e_status(f, id);
    if (mode == 3) {
        assert_true(s == CONSTRA_INTENT_REQUIRES_RECOVERY);
        assert_true(e2e_event_has(f, id, "timed_out") || e2e_event_has(f, id, "timeout"));
    } else {
        assert_int_equal(s, CONSTRA_INTENT_REVIEW_REQUIRED);
        assert_true(e2e_event_has(f, id, "outcome_unknown"));
    }
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_PUSH), 1);
    assert_int_equal(constra_loopback_mount(f->lb, CONSTRA_DARAJA_SANDBOX_BASE_URL,
                                            constra_daraja_emulator_handler, f->emu, NULL),
                     CONSTRA_OK);
    e2e_close(f);
}

static void test_push_answer_100mib(void **state)
{
    (void)state;
    hostile(1);
}

static void test_push_answer_truncated(void **state)
{
    (void)state;
    hostile(2);
}

static void test_query_about_another_id(void **state)
{
    (void)state;
    hostile(3);
}

/* ---- configuration checks --------------------------------------------- */

static void test_config_refused(void **state)
{
    (void)state;
    constra_loopback *lb = NULL;
    assert_int_equal(constra_loopback_new(&lb, NULL, NULL), CONSTRA_OK);
    struct {
        const char *param;
        void (*edit)(constra_daraja_config *);
    } cases[6];
    (void)cases;
    constra_daraja_config base = CONSTRA_DARAJA_CONFIG_INIT;
    base.environment = CONSTRA_DARAJA_ENV_SANDBOX;
    base.consumer_key = E2E_KEY;
    base.consumer_secret = E2E_SECRET;
    base.shortcode = "174379";
    base.passkey = CONSTRA_DARAJA_SANDBOX_PASSKEY;
    base.transaction_type = CONSTRA_DARAJA_STK_PAYBILL;
    base.callback_url = E2E_CALLBACK;
    base.callback_token = E2E_CB_TOKEN;
    for (int i = 0; i < 9; i++) {
        constra_daraja_config c = base;
        const char *param = NULL;
        switch (i) {
        case 0: c.environment = 0; param = "config.environment"; break;
        case 1: c.consumer_secret = "has space"; param = "config.consumer_secret"; break;
        case 2: c.shortcode = "12"; param = "config.shortcode"; break;
        case 3: c.callback_token = "short"; param = "config.callback_token"; break;
        case 4: c.callback_url = "http://insecure.example/cb"; param = "config.callback_url"; break;
        case 5: c.transaction_type = CONSTRA_DARAJA_STK_TILL; param = "config.till_number"; break;
        case 6: c.base_url = "https://x.example/"; param = "config.base_url"; break;
        case 7: c.passkey = "bad passkey"; param = "config.passkey"; break;
        default: c.struct_size = 0; param = "config"; break;
        }
        constra_transport tr;
        assert_int_equal(constra_loopback_transport(lb, &tr, NULL), CONSTRA_OK);
        constra_rail rail;
        constra_error err = CONSTRA_ERROR_INIT;
        int rc = constra_rail_daraja(&rail, &c, &tr, NULL, &err);
        assert_true(rc == CONSTRA_E_INVALID_ARGUMENT || rc == CONSTRA_E_ABI);
        assert_string_equal(err.param, param);
        assert_null(strstr(err.message, E2E_SECRET));
        assert_null(strstr(err.message, CONSTRA_DARAJA_SANDBOX_PASSKEY));
        assert_null(strstr(err.message, E2E_CB_TOKEN));
    }
    constra_loopback_free(lb); /* every transport was destroyed by the failed calls */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_happy_path),
        cmocka_unit_test(test_outcomes_by_phone),
        cmocka_unit_test(test_callback_never),
        cmocka_unit_test(test_refresh_settles_lost_callback),
        cmocka_unit_test(test_callback_twice_and_replayed),
        cmocka_unit_test(test_callback_late),
        cmocka_unit_test(test_callback_before_query),
        cmocka_unit_test(test_confirmation_off),
        cmocka_unit_test(test_push_503),
        cmocka_unit_test(test_push_empty),
        cmocka_unit_test(test_push_html),
        cmocka_unit_test(test_push_wrong_shape),
        cmocka_unit_test(test_token_expires_mid_flow),
        cmocka_unit_test(test_token_refreshed_early),
        cmocka_unit_test(test_token_expire_fault),
        cmocka_unit_test(test_token_shared_across_rails),
        cmocka_unit_test(test_backoff_and_locks_through_platform),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_query_4999_then_1037),
        cmocka_unit_test(test_spike_arrest_retried_once),
        cmocka_unit_test(test_spike_arrest_twice_is_retry_later),
        cmocka_unit_test(test_circuit_breaker),
        cmocka_unit_test(test_configuration_errors),
        cmocka_unit_test(test_unable_to_lock_subscriber),
        cmocka_unit_test(test_wrong_consumer_secret),
        cmocka_unit_test(test_forged_callbacks_refused),
        cmocka_unit_test(test_forged_success_not_trusted),
        cmocka_unit_test(test_bad_callbacks),
        cmocka_unit_test(test_push_answer_100mib),
        cmocka_unit_test(test_push_answer_truncated),
        cmocka_unit_test(test_query_about_another_id),
        cmocka_unit_test(test_config_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
