/* The in-process REST router (api.h) end to end on memory storage and the
 * simulator: the seed flow, byte-level idempotent replay, both path
 * prefixes, every kind of bad input (with proof that storage did not
 * change), authentication, 404/405/409, the Daraja callback route with
 * the sample callbacks, typed instructions, the overview, storage
 * failures (5xx, not stored) and allocation failures. */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "../unit/testutil.h"

#include <stdio.h>

#include <cjson/cJSON.h>

#include "../storage/fault_storage.h"
#include "../unit/live_rail.h"
#include "engine/engine.h"
#include "../test_error.h"

#define SECRET "cs_test_router_secret_0001"

/* ---- fixtures ------------------------------------------------------------- */

static int64_t clock_ms = INT64_C(1764239894625); /* 2025-11-27T10:38:14.625Z */
static int64_t driven_clock(void *ud)
{
    (void)ud;
    return clock_ms;
}

typedef struct env {
    constra_t *h;
    fault_storage faults;
    live_rail lr; /* live handles: the Daraja rail against the emulator */
} env;

static env *open_env_mode(int mode, const char *secret)
{
    env *v = calloc(1, sizeof(*v));
    constra_platform p = CONSTRA_PLATFORM_INIT;
    p.wall_time_ms = driven_clock;
    constra_storage mem = CONSTRA_STORAGE_INIT, wrapped;
    assert_int_equal(constra_storage_memory(&mem, NULL, NULL), CONSTRA_OK);
    v->faults.forward_meta = 1; /* the workspace records its mode and id */
    fault_storage_wrap(&v->faults, &mem, &wrapped);
    constra_config cfg = CONSTRA_CONFIG_INIT;
    cfg.platform = &p;
    cfg.storage = &wrapped;
    cfg.mode = mode;
    cfg.secret_key = secret;
    constra_rail rail;
    if (mode == CONSTRA_MODE_LIVE) {
        live_rail_open(&v->lr, NULL, &rail);
        cfg.rail = &rail;
    }
    constra_error err = CONSTRA_ERROR_INIT;
    if (constra_open(&v->h, &cfg, &err) != CONSTRA_OK) {
        fail_msg("open: %s", err.message);
    }
    return v;
}

static env *open_env(void)
{
    return open_env_mode(CONSTRA_MODE_SANDBOX, SECRET);
}

static void close_env(env *v)
{
    constra_close(v->h);
    if (v->lr.lb) {
        live_rail_close(&v->lr);
    }
    free(v);
}

/* A request: `extra` is name, value, ..., NULL; auth adds the bearer. */
static constra_api_response *call_h(env *v, const char *method, const char *target,
                                    const char *body, size_t body_len, int auth,
                                    const char *const *extra)
{
    constra_http_header hs[16];
    size_t n = 0;
    if (auth) {
        hs[n].name = "Authorization";
        hs[n].value = "Bearer " SECRET;
        n++;
    }
    for (size_t i = 0; extra && extra[i]; i += 2) {
        hs[n].name = extra[i];
        hs[n].value = extra[i + 1];
        n++;
    }
    constra_api_request rq = CONSTRA_API_REQUEST_INIT;
    rq.method = method;
    rq.target = target;
    rq.headers = n ? hs : NULL;
    rq.header_count = n;
    rq.body = body;
    rq.body_len = body ? body_len : 0;
    constra_api_response *r = NULL;
    int rc = constra_api_handle(v->h, &rq, &r, T_ERR);
    if (rc != CONSTRA_OK) {
        fail_msg("constra_api_handle %s %s: %s", method, target, constra_strerror(rc));
    }
    assert_non_null(r);
    assert_string_equal(constra_api_response_header(r, "content-type"), "application/json");
    return r;
}

static constra_api_response *call(env *v, const char *method, const char *target,
                                  const char *body)
{
    return call_h(v, method, target, body, body ? strlen(body) : 0, 1, NULL);
}

static const char *body_of(const constra_api_response *r)
{
    return constra_api_response_body(r, NULL);
}

/* The string at a dotted path of a JSON document ("a.b"), into a static
 * buffer; NULL when absent or not a string. Numbers come back as text. */
static const char *jget(const char *doc, const char *path)
{
    static char out[1024];
    cJSON *root = cJSON_Parse(doc);
    if (root == NULL) {
        fail_msg("not JSON: %s", doc);
    }
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    const cJSON *cur = root;
    for (char *tok = strtok(buf, "."); tok && cur; tok = strtok(NULL, ".")) {
        cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
    }
    const char *res = NULL;
    if (cur && cJSON_IsString(cur)) {
        snprintf(out, sizeof(out), "%s", cur->valuestring);
        res = out;
    } else if (cur && cJSON_IsNumber(cur)) {
        snprintf(out, sizeof(out), "%.0f", cur->valuedouble);
        res = out;
    } else if (cur && cJSON_IsBool(cur)) {
        snprintf(out, sizeof(out), "%s", cJSON_IsTrue(cur) ? "true" : "false");
        res = out;
    } else if (cur && cJSON_IsNull(cur)) {
        snprintf(out, sizeof(out), "null");
        res = out;
    }
    cJSON_Delete(root);
    return res;
}

static void expect_status(const constra_api_response *r, int status)
{
    if (constra_api_response_status(r) != status) {
        fail_msg("status %d, want %d: %s", constra_api_response_status(r), status, body_of(r));
    }
}

/* Checks an error response: status, code, param (NULL: null). */
static void expect_error(constra_api_response *r, int status, const char *code, const char *param)
{
    expect_status(r, status);
    const char *b = body_of(r);
    const char *got = jget(b, "error.code");
    if (got == NULL || strcmp(got, code) != 0) {
        fail_msg("code %s, want %s: %s", got ? got : "(none)", code, b);
    }
    assert_non_null(jget(b, "error.message"));
    got = jget(b, "error.param");
    if (param == NULL) {
        if (got == NULL || strcmp(got, "null") != 0) {
            fail_msg("param %s, want null: %s", got ? got : "(absent)", b);
        }
    } else if (got == NULL || strcmp(got, param) != 0) {
        fail_msg("param %s, want %s: %s", got ? got : "(none)", param, b);
    }
}

static void check_error(env *v, const char *method, const char *target, const char *body,
                        int status, const char *code, const char *param)
{
    constra_api_response *r = call(v, method, target, body);
    expect_error(r, status, code, param);
    constra_api_response_free(r);
}

/* Everything observable in storage: every intent's JSON and the number
 * of events. */
static int count_event(void *ctx, const constra__res_event *row)
{
    (void)row;
    (*(size_t *)ctx)++;
    return 0;
}

static char *snapshot(env *v)
{
    constra_intent_list_params lp = CONSTRA_INTENT_LIST_PARAMS_INIT;
    lp.limit = 100;
    constra_intent_list *l = NULL;
    assert_int_equal(constra_intent_list_get(v->h, &lp, &l, T_ERR), CONSTRA_OK);
    size_t events = 0;
    assert_int_equal(v->h->storage.list_events(v->h->storage.user_data, NULL, 0, 100000,
                                               count_event, &events),
                     CONSTRA_OK);
    size_t len = 0;
    const char *json = constra_intent_list_json(l, &len);
    char *s = malloc(len + 64);
    snprintf(s, len + 64, "%s|events=%zu", json, events);
    constra_intent_list_free(l);
    return s;
}

static void expect_unchanged(env *v, const char *before)
{
    char *now = snapshot(v);
    assert_string_equal(now, before);
    free(now);
}

static const char seed_body[] =
    "{\"amount\":1250,\"currency\":\"KES\",\"provider\":\"mpesa\",\"customer\":{\"name\":"
    "\"Amina N.\",\"phone_number\":\"254700000000\"},\"reference\":\"order_7429\","
    "\"description\":\"Solar home kit deposit\",\"agent_policy\":\"operator_review\"}";

/* POST /v1/payment-intents with a key; returns the response. */
static constra_api_response *create(env *v, const char *prefix, const char *key,
                                    const char *body)
{
    char target[64];
    snprintf(target, sizeof(target), "%s/payment-intents", prefix);
    const char *hdr[] = {"Idempotency-Key", key, "Content-Type", "application/json", NULL};
    return call_h(v, "POST", target, body, strlen(body), 1, key ? hdr : hdr + 4);
}

/* Creates an intent and copies its id and checkout id. */
static void create_ok(env *v, const char *key, const char *body, char *id, char *checkout)
{
    constra_api_response *r = create(v, "/v1", key, body);
    expect_status(r, 201);
    strcpy(id, jget(body_of(r), "id"));
    if (checkout) {
        const char *co = jget(body_of(r), "provider_action.checkout_request_id");
        strcpy(checkout, co ? co : "");
    }
    constra_api_response_free(r);
}

static char *read_vector(const char *name)
{
    const char *dir = getenv("CONSTRA_VECTORS");
    char path[1024];
    snprintf(path, sizeof(path), "%s/daraja/%s", dir ? dir : "tests/vectors", name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fail_msg("cannot open %s", path);
    }
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* The vector with its CheckoutRequestID value replaced by `checkout`. */
static char *vector_for(const char *name, const char *checkout)
{
    char *v = read_vector(name);
    const char *k = strstr(v, "\"CheckoutRequestID\": \"");
    assert_non_null(k);
    const char *start = k + strlen("\"CheckoutRequestID\": \"");
    const char *end = strchr(start, '"');
    char *out = calloc(1, strlen(v) + strlen(checkout) + 1);
    memcpy(out, v, (size_t)(start - v));
    strcat(out, checkout);
    strcat(out, end);
    free(v);
    return out;
}

static void expect_event_types(env *v, const char *prefix, const char *id,
                               const char *const *types, size_t n)
{
    char target[128];
    snprintf(target, sizeof(target), "%s/payment-intents/%s/events", prefix, id);
    constra_api_response *r = call(v, "GET", target, NULL);
    expect_status(r, 200);
    cJSON *root = cJSON_Parse(body_of(r));
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    if ((size_t)cJSON_GetArraySize(data) != n) {
        fail_msg("%d events, want %zu: %s", cJSON_GetArraySize(data), n, body_of(r));
    }
    for (size_t i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(data, (int)i);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "type")->valuestring, types[i]);
    }
    cJSON_Delete(root);
    constra_api_response_free(r);
}

/* ---- the seed flow ------------------------------------------------------------ */

static void test_seed_flow(void **state)
{
    (void)state;
    env *v = open_env();
    constra_api_response *r = create(v, "/v1", "order_7429_deposit", seed_body);
    expect_status(r, 201);
    const char *b = body_of(r);
    assert_null(constra_api_response_header(r, "Idempotent-Replayed"));
    assert_string_equal(constra_api_response_header(r, "Cache-Control"), "no-store");
    assert_string_equal(jget(b, "status"), "pending_user_action");
    assert_string_equal(jget(b, "amount"), "1250");
    assert_string_equal(jget(b, "currency"), "KES");
    assert_string_equal(jget(b, "customer.phone_number"), "254700000000");
    assert_string_equal(jget(b, "provider_action.type"), "stk_push");
    assert_string_equal(jget(b, "provider_action.state"), "sent_to_customer");
    assert_true(strncmp(jget(b, "provider_action.checkout_request_id"), "ws_CO_", 6) == 0);
    assert_string_equal(jget(b, "next_action"), "wait_for_callback");
    char id[CONSTRA_ID_SIZE], target[128];
    strcpy(id, jget(b, "id"));
    constra_api_response_free(r);

    /* The customer cancels the prompt. */
    snprintf(target, sizeof(target), "/v1/payment-intents/%s/simulate-callback", id);
    r = call(v, "POST", target, "{\"result_code\":1032,\"result_desc\":\"Request cancelled by user.\"}");
    expect_status(r, 200);
    b = body_of(r);
    assert_string_equal(jget(b, "status"), "requires_recovery");
    assert_string_equal(jget(b, "next_action"), "recover");
    assert_string_equal(jget(b, "recovery.recommended_action"), "retry");
    assert_true(strlen(jget(b, "recovery.agent_note")) > 10);
    constra_api_response_free(r);

    static const char *const t3[] = {"payment_intent.created",
                                     "payment_intent.pending_user_action",
                                     "payment_intent.requires_recovery"};
    expect_event_types(v, "/v1", id, t3, 3);

    /* An operator retries; the customer pays. */
    snprintf(target, sizeof(target), "/v1/payment-intents/%s/retry", id);
    r = call(v, "POST", target, NULL);
    expect_status(r, 200);
    assert_string_equal(jget(body_of(r), "status"), "pending_user_action");
    constra_api_response_free(r);
    snprintf(target, sizeof(target), "/api/v1/payment-intents/%s/simulate-callback", id);
    r = call(v, "POST", target, "{\"result_code\":\"0\"}");
    expect_status(r, 200);
    assert_string_equal(jget(body_of(r), "status"), "succeeded");
    assert_int_equal(strlen(jget(body_of(r), "receipt")), 10);
    constra_api_response_free(r);

    static const char *const t5[] = {
        "payment_intent.created", "payment_intent.pending_user_action",
        "payment_intent.requires_recovery", "payment_intent.pending_user_action",
        "payment_intent.succeeded"};
    expect_event_types(v, "/api/v1", id, t5, 5);

    /* GET under both prefixes gives the same intent. */
    snprintf(target, sizeof(target), "/v1/payment-intents/%s", id);
    constra_api_response *a = call(v, "GET", target, NULL);
    snprintf(target, sizeof(target), "/api/v1/payment-intents/%s", id);
    constra_api_response *c = call(v, "GET", target, NULL);
    expect_status(a, 200);
    expect_status(c, 200);
    assert_string_equal(body_of(a), body_of(c));
    assert_string_equal(jget(body_of(a), "status"), "succeeded");
    constra_api_response_free(a);
    constra_api_response_free(c);
    close_env(v);
}

/* ---- idempotency ------------------------------------------------------------------ */

static void test_replay_byte_for_byte(void **state)
{
    (void)state;
    env *v = open_env();
    constra_api_response *first = create(v, "/v1", "order_7429_deposit", seed_body);
    expect_status(first, 201);
    char *before = snapshot(v);

    constra_api_response *again = create(v, "/api/v1", "order_7429_deposit", seed_body);
    expect_status(again, 201);
    size_t l1, l2;
    const char *b1 = constra_api_response_body(first, &l1);
    const char *b2 = constra_api_response_body(again, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(b1, b2, l1);
    assert_string_equal(constra_api_response_header(again, "idempotent-replayed"), "true");
    expect_unchanged(v, before);

    /* The same request written differently (key order, spacing, a quoted
     * key as the IETF draft sends it, a local phone form) is the same
     * request. */
    static const char reordered[] =
        "{ \"customer\": {\"phone_number\": \"0700 000 000\", \"name\": \"Amina N.\"},\n"
        "  \"description\": \"Solar home kit deposit\", \"reference\": \"order_7429\",\n"
        "  \"currency\": \"KES\", \"amount\": 1250.0, \"provider\": \"mpesa\" }";
    constra_api_response *third = create(v, "/v1", "\"order_7429_deposit\"", reordered);
    expect_status(third, 201);
    assert_string_equal(body_of(third), b1);
    assert_string_equal(constra_api_response_header(third, "Idempotent-Replayed"), "true");
    expect_unchanged(v, before);

    /* The same key with another request: 409, nothing changes. */
    char *other = strdup(seed_body);
    memcpy(strstr(other, "1250"), "1251", 4);
    constra_api_response *reused = create(v, "/v1", "order_7429_deposit", other);
    expect_error(reused, 409, "idempotency_key_reused", "idempotency_key");
    expect_unchanged(v, before);

    free(other);
    free(before);
    constra_api_response_free(first);
    constra_api_response_free(again);
    constra_api_response_free(third);
    constra_api_response_free(reused);
    close_env(v);
}

/* ---- bad input --------------------------------------------------------------------- */

typedef struct bad_case {
    const char *body;
    int status;
    const char *code;
    const char *param;
} bad_case;

static void test_bad_create_bodies(void **state)
{
    (void)state;
    env *v = open_env();
    char id[CONSTRA_ID_SIZE];
    create_ok(v, "seed", seed_body, id, NULL);
    char *before = snapshot(v);

#define SEED_WITH(amount) \
    "{\"amount\":" amount ",\"currency\":\"KES\",\"customer\":{\"phone_number\":\"254700000000\"}}"
    static const bad_case cases[] = {
        {SEED_WITH("\"1250\""), 400, "parameter_invalid", "amount"},
        {SEED_WITH("12.5"), 400, "parameter_invalid", "amount"},
        {SEED_WITH("-5"), 400, "parameter_invalid", "amount"},
        {SEED_WITH("0"), 400, "parameter_invalid", "amount"},
        {SEED_WITH("1e30"), 400, "parameter_invalid", "amount"},
        {SEED_WITH("250001"), 400, "parameter_invalid", "amount"},
        {SEED_WITH("99999999999999999999999"), 400, "parameter_invalid", "amount"},
        {SEED_WITH("null"), 400, "parameter_missing", "amount"},
        {SEED_WITH("true"), 400, "parameter_invalid", "amount"},
        {SEED_WITH("[1250]"), 400, "parameter_invalid", "amount"},
        {"{\"currency\":\"KES\",\"customer\":{\"phone_number\":\"254700000000\"}}", 400,
         "parameter_missing", "amount"},
        {"{\"amount\":1250,\"amount\":1250,\"currency\":\"KES\",\"customer\":{\"phone_number\":"
         "\"254700000000\"}}",
         400, "parameter_duplicate", "amount"},
        {"{\"amount\":1250,\"currency\":\"KES\",\"customer\":{\"phone_number\":\"254700000000\","
         "\"phone_number\":\"254700000001\"}}",
         400, "parameter_duplicate", "customer.phone_number"},
        {"{\"ammount\":1250,\"currency\":\"KES\",\"customer\":{\"phone_number\":\"254700000000\"}}",
         400, "parameter_unknown", "ammount"},
        {"{\"amount\":1250,\"currency\":\"KES\",\"customer\":{\"phone_number\":\"254700000000\","
         "\"email\":\"a@b.c\"}}",
         400, "parameter_unknown", "customer.email"},
        {"{\"amount\":1250,\"currency\":\"USD\",\"customer\":{\"phone_number\":\"254700000000\"}}",
         400, "currency_unsupported", "currency"},
        {"{\"amount\":1250,\"currency\":5,\"customer\":{\"phone_number\":\"254700000000\"}}", 400,
         "parameter_invalid", "currency"},
        {"{\"amount\":1250,\"customer\":{\"phone_number\":\"254700000000\"}}", 400,
         "parameter_missing", "currency"},
        {"{\"amount\":1250,\"currency\":\"KES\",\"provider\":\"airtel\",\"customer\":"
         "{\"phone_number\":\"254700000000\"}}",
         400, "provider_unsupported", "provider"},
        {"{\"amount\":1250,\"currency\":\"KES\"}", 400, "parameter_missing", "customer"},
        {"{\"amount\":1250,\"currency\":\"KES\",\"customer\":\"Amina\"}", 400,
         "parameter_invalid", "customer"},
        {"{\"amount\":1250,\"currency\":\"KES\",\"customer\":{\"name\":\"Amina\"}}", 400,
         "parameter_missing", "customer.phone_number"},
        {"{\"amount\":1250,\"currency\":\"KES\",\"customer\":{\"phone_number\":254700000000}}",
         400, "parameter_invalid", "customer.phone_number"},
        {"{\"amount\":1250,\"currency\":\"KES\",\"customer\":{\"phone_number\":\"12345\"}}", 400,
         "phone_too_few_digits", "customer.phone_number"},
        {"{\"amount\":1250,\"currency\":\"KES\",\"customer\":{\"phone_number\":\"254700000000\"},"
         "\"draft\":\"yes\"}",
         400, "parameter_invalid", "draft"},
        {"{\"amount\":1250,\"currency\":\"KES\",\"customer\":{\"phone_number\":\"254700000000\"},"
         "\"agent_policy\":\"yolo\"}",
         400, "parameter_invalid", "agent_policy"},
        {"{\"amount\":1250,\"currency\":\"KES\",\"customer\":{\"phone_number\":\"254700000000\"},"
         "\"description\":\"line\\nbreak\"}",
         400, "parameter_invalid", "description"},
        {"{\"amount\":1250,\"currency\":\"KES\",\"customer\":{\"phone_number\":\"254700000000\","
         "\"name\":\"Ami\\u0000na\"}}",
         400, "parameter_invalid", "customer.name"},
        {"{\"amount\":1250,", 400, "json_invalid", "body"},
        {"{\"amount\":1250} {}", 400, "json_invalid", "body"},
        {"{'amount':1250}", 400, "json_invalid", "body"},
        {"{\"amount\":01250}", 400, "json_invalid", "body"},
        {"[]", 400, "json_invalid", "body"},
        {"\"text\"", 400, "json_invalid", "body"},
        {"42", 400, "json_invalid", "body"},
        {"null", 400, "json_invalid", "body"},
        {"", 400, "body_missing", "body"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char key[32];
        snprintf(key, sizeof(key), "bad_%zu", i);
        constra_api_response *r = create(v, "/v1", key, cases[i].body);
        expect_error(r, cases[i].status, cases[i].code, cases[i].param);
        constra_api_response_free(r);
        expect_unchanged(v, before);
    }

    /* A raw NUL byte inside the description: the member is named. */
    static const char nul_body[] = "{\"amount\":1250,\"currency\":\"KES\",\"customer\":"
                                   "{\"phone_number\":\"254700000000\"},\"description\":\"a\0b\"}";
    const char *hdr[] = {"Idempotency-Key", "nul_1", NULL};
    constra_api_response *r =
        call_h(v, "POST", "/v1/payment-intents", nul_body, sizeof(nul_body) - 1, 1, hdr);
    expect_error(r, 400, "parameter_invalid", "description");
    constra_api_response_free(r);
    /* A NUL outside any string. */
    static const char nul_top[] = "{\"amount\":1250\0}";
    r = call_h(v, "POST", "/v1/payment-intents", nul_top, sizeof(nul_top) - 1, 1, hdr);
    expect_error(r, 400, "parameter_invalid", "amount");
    constra_api_response_free(r);
    expect_unchanged(v, before);

    /* Idempotency-Key: missing, malformed, too long, twice. */
    r = create(v, "/v1", NULL, seed_body);
    expect_error(r, 400, "idempotency_key_missing", "Idempotency-Key");
    constra_api_response_free(r);
    r = create(v, "/v1", "bad key!", seed_body);
    expect_error(r, 400, "idempotency_key_invalid", "Idempotency-Key");
    constra_api_response_free(r);
    r = create(v, "/v1", "", seed_body);
    expect_error(r, 400, "idempotency_key_invalid", "Idempotency-Key");
    constra_api_response_free(r);
    char longkey[300];
    memset(longkey, 'k', 256);
    longkey[256] = '\0';
    r = create(v, "/v1", longkey, seed_body);
    expect_error(r, 400, "idempotency_key_invalid", "Idempotency-Key");
    constra_api_response_free(r);
    const char *twice[] = {"Idempotency-Key", "k1", "idempotency-key", "k2", NULL};
    r = call_h(v, "POST", "/v1/payment-intents", seed_body, strlen(seed_body), 1, twice);
    expect_error(r, 400, "idempotency_key_invalid", "Idempotency-Key");
    constra_api_response_free(r);

    /* 413: a body over 64 KiB (even if it would be valid). */
    size_t big = CONSTRA_API_BODY_MAX + 1;
    char *huge = malloc(big + 1);
    memset(huge, ' ', big);
    memcpy(huge, seed_body, strlen(seed_body));
    huge[big] = '\0';
    const char *k413[] = {"Idempotency-Key", "big_1", NULL};
    r = call_h(v, "POST", "/v1/payment-intents", huge, big, 1, k413);
    expect_error(r, 413, "body_too_large", "body");
    constra_api_response_free(r);
    free(huge);

    /* 415: a Content-Type that is not JSON; JSON with a charset is fine. */
    const char *plain[] = {"Idempotency-Key", "ct_1", "Content-Type", "text/plain", NULL};
    r = call_h(v, "POST", "/v1/payment-intents", seed_body, strlen(seed_body), 1, plain);
    expect_error(r, 415, "unsupported_media_type", "Content-Type");
    constra_api_response_free(r);
    expect_unchanged(v, before);
    const char *charset[] = {"Idempotency-Key", "ct_2", "CONTENT-TYPE",
                             "Application/JSON; charset=utf-8", NULL};
    r = call_h(v, "POST", "/v1/payment-intents", seed_body, strlen(seed_body), 1, charset);
    expect_status(r, 201);
    constra_api_response_free(r);

    free(before);
    close_env(v);
}

/* ---- authentication ---------------------------------------------------------------- */

static void test_auth(void **state)
{
    (void)state;
    env *v = open_env();
    char id[CONSTRA_ID_SIZE];
    create_ok(v, "auth_seed", seed_body, id, NULL);
    char *before = snapshot(v);
    const char *key[] = {"Idempotency-Key", "auth_1", NULL};

    constra_api_response *r =
        call_h(v, "POST", "/v1/payment-intents", seed_body, strlen(seed_body), 0, key);
    expect_error(r, 401, "authentication_required", NULL);
    assert_non_null(constra_api_response_header(r, "WWW-Authenticate"));
    constra_api_response_free(r);

    static const struct {
        const char *value;
        const char *code;
    } cases[] = {
        {"Bearer cs_test_wrong_wrong_wrong_0", "invalid_api_key"},
        {"Bearer " SECRET "x", "invalid_api_key"},
        {"Bearer cs_test_router_secret_000", "invalid_api_key"},
        {"Bearer cs_live_router_secret_0001", "api_key_mode_mismatch"},
        {"Basic Y3M6dGVzdA==", "authentication_required"},
        {"Bearer", "authentication_required"},
        {"Bearer    ", "authentication_required"},
        {SECRET, "authentication_required"},
        {"", "authentication_required"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *h[] = {"Authorization", cases[i].value, "Idempotency-Key", "auth_2", NULL};
        r = call_h(v, "POST", "/v1/payment-intents", seed_body, strlen(seed_body), 0, h);
        expect_error(r, 401, cases[i].code, NULL);
        /* The key never appears in an answer. */
        assert_null(strstr(body_of(r), "secret_0"));
        constra_api_response_free(r);
        r = call_h(v, "GET", "/v1/payment-intents", NULL, 0, 0, h);
        expect_error(r, 401, cases[i].code, NULL);
        constra_api_response_free(r);
    }
    expect_unchanged(v, before);

    /* Case-insensitive header name and scheme; extra spaces. */
    const char *ok[] = {"AUTHORIZATION", "bearer   " SECRET "  ", NULL};
    r = call_h(v, "GET", "/v1/payment-intents", NULL, 0, 0, ok);
    expect_status(r, 200);
    constra_api_response_free(r);
    /* Two Authorization headers: refused. */
    const char *two[] = {"authorization", "Bearer " SECRET, NULL};
    r = call_h(v, "GET", "/v1/payment-intents", NULL, 0, 1, two);
    expect_error(r, 400, "header_duplicate", "Authorization");
    constra_api_response_free(r);
    /* Unknown routes also need the key first. */
    r = call_h(v, "GET", "/v1/nothing", NULL, 0, 0, NULL);
    expect_error(r, 401, "authentication_required", NULL);
    constra_api_response_free(r);
    free(before);
    close_env(v);

    /* A handle without a secret key refuses every authenticated route. */
    v = open_env_mode(CONSTRA_MODE_SANDBOX, NULL);
    r = call(v, "GET", "/v1/payment-intents", NULL);
    expect_error(r, 401, "invalid_api_key", NULL);
    constra_api_response_free(r);
    close_env(v);
}

static void test_live_mode(void **state)
{
    (void)state;
    static const char live_secret[] = "cs_live_router_secret_0001";
    env *v = open_env_mode(CONSTRA_MODE_LIVE, live_secret);
    const char *test_key[] = {"Authorization", "Bearer " SECRET, NULL};
    constra_api_response *r = call_h(v, "GET", "/v1/payment-intents", NULL, 0, 0, test_key);
    expect_error(r, 401, "api_key_mode_mismatch", NULL);
    constra_api_response_free(r);
    const char *live[] = {"Authorization", "Bearer cs_live_router_secret_0001",
                          "Idempotency-Key", "live_1", NULL};
    r = call_h(v, "POST", "/v1/payment-intents", seed_body, strlen(seed_body), 0, live);
    expect_status(r, 201);
    char id[CONSTRA_ID_SIZE], target[128];
    strcpy(id, jget(body_of(r), "id"));
    assert_string_equal(jget(body_of(r), "livemode"), "true");
    constra_api_response_free(r);
    snprintf(target, sizeof(target), "/v1/payment-intents/%s/simulate-callback", id);
    r = call_h(v, "POST", target, "{\"result_code\":0}", 17, 0, live);
    expect_error(r, 403, "sandbox_only", NULL);
    constra_api_response_free(r);
    r = call_h(v, "GET", "/v1/sandbox/overview", NULL, 0, 0, live);
    expect_status(r, 200);
    assert_string_equal(jget(body_of(r), "livemode"), "true");
    constra_api_response_free(r);
    close_env(v);
}

/* ---- GET /workspace ---------------------------------------------------------------- */

static constra_api_response *post_callback(env *v, const char *target, const char *body,
                                           size_t len);
static void expect_ack(constra_api_response *r);

static void test_workspace(void **state)
{
    (void)state;
    /* Defaults: sandbox, the simulator, 3 attempts, 2 min, 24 h. */
    env *v = open_env();
    static const char *const paths[] = {"/v1/workspace", "/api/v1/workspace"};
    for (size_t i = 0; i < 2; i++) {
        constra_api_response *r = call(v, "GET", paths[i], NULL);
        expect_status(r, 200);
        const char *b = body_of(r);
        assert_string_equal(constra_api_response_header(r, "cache-control"), "no-store");
        assert_string_equal(jget(b, "object"), "workspace");
        assert_string_equal(jget(b, "api_version"), "v1");
        assert_string_equal(jget(b, "library_version"), constra_version());
        assert_string_equal(jget(b, "livemode"), "false");
        assert_string_equal(jget(b, "rail.name"), "sim");
        assert_string_equal(jget(b, "rail.provider"), "mpesa");
        assert_string_equal(jget(b, "rail.shortcode"), "174379");
        assert_string_equal(jget(b, "rail.callback_path"), "/api/v1/providers/mpesa/callback");
        assert_string_equal(jget(b, "retry_policy.max_attempts"), "3");
        assert_string_equal(jget(b, "retry_policy.callback_timeout_ms"), "120000");
        assert_string_equal(jget(b, "retry_policy.idempotency_retention_ms"), "86400000");
        /* The key is never part of it. */
        assert_null(strstr(b, "cs_test_"));
        constra_api_response_free(r);
    }
    /* The callback path it names is the one the router serves (a bad
     * body there is a 400 from the callback handler, not a 404). */
    constra_api_response *r = post_callback(v, "/api/v1/providers/mpesa/callback", "{}", 2);
    expect_status(r, 400);
    constra_api_response_free(r);

    /* Authentication first, then 405 with Allow, no query, no subpaths. */
    char *before = snapshot(v);
    r = call_h(v, "GET", "/v1/workspace", NULL, 0, 0, NULL);
    expect_error(r, 401, "authentication_required", NULL);
    constra_api_response_free(r);
    const char *wrong[] = {"Authorization", "Bearer cs_test_wrong_wrong_wrong_0", NULL};
    r = call_h(v, "GET", "/api/v1/workspace", NULL, 0, 0, wrong);
    expect_error(r, 401, "invalid_api_key", NULL);
    constra_api_response_free(r);
    const char *live[] = {"Authorization", "Bearer cs_live_router_secret_0001", NULL};
    r = call_h(v, "GET", "/api/v1/workspace", NULL, 0, 0, live);
    expect_error(r, 401, "api_key_mode_mismatch", NULL);
    constra_api_response_free(r);
    static const char *const methods[] = {"POST", "PUT", "DELETE", "PATCH"};
    for (size_t i = 0; i < 4; i++) {
        r = call(v, methods[i], "/v1/workspace", "{}");
        expect_error(r, 405, "method_not_allowed", NULL);
        assert_string_equal(constra_api_response_header(r, "Allow"), "GET");
        constra_api_response_free(r);
    }
    check_error(v, "GET", "/v1/workspace?verbose=1", NULL, 400, "parameter_unknown", "verbose");
    check_error(v, "GET", "/v1/workspace/", NULL, 404, "route_not_found", NULL);
    check_error(v, "GET", "/v1/workspaces", NULL, 404, "route_not_found", NULL);
    check_error(v, "GET", "/v2/workspace", NULL, 404, "route_not_found", NULL);
    expect_unchanged(v, before);
    free(before);
    close_env(v);

    /* The configured values, and a live handle (no sandbox short code). */
    constra_t *h = NULL;
    live_rail lr;
    constra_rail rail;
    live_rail_open(&lr, NULL, &rail);
    constra_config cfg = CONSTRA_CONFIG_INIT;
    cfg.rail = &rail;
    cfg.mode = CONSTRA_MODE_LIVE;
    cfg.secret_key = "cs_live_router_secret_0001";
    cfg.max_attempts = 5;
    cfg.callback_timeout_ms = 45000;
    cfg.idempotency_retention_ms = 3600000;
    assert_int_equal(constra_open(&h, &cfg, NULL), CONSTRA_OK);
    constra_http_header auth = {"Authorization", "Bearer cs_live_router_secret_0001"};
    constra_api_request rq = CONSTRA_API_REQUEST_INIT;
    rq.method = "GET";
    rq.target = "/api/v1/workspace";
    rq.headers = &auth;
    rq.header_count = 1;
    r = NULL;
    assert_int_equal(constra_api_handle(h, &rq, &r, T_ERR), CONSTRA_OK);
    expect_status(r, 200);
    const char *b = body_of(r);
    assert_string_equal(jget(b, "livemode"), "true");
    assert_string_equal(jget(b, "rail.shortcode"), "null");
    assert_string_equal(jget(b, "retry_policy.max_attempts"), "5");
    assert_string_equal(jget(b, "retry_policy.callback_timeout_ms"), "45000");
    assert_string_equal(jget(b, "retry_policy.idempotency_retention_ms"), "3600000");
    assert_null(strstr(b, "cs_live_"));
    assert_string_equal(jget(b, "rail.name"), "mpesa");
    constra_api_response_free(r);
    constra_close(h);
    live_rail_close(&lr);
}

/* ---- 404, 405, 409 --------------------------------------------------------------------- */

static void test_not_found_and_methods(void **state)
{
    (void)state;
    env *v = open_env();
    char id[CONSTRA_ID_SIZE], target[160];
    create_ok(v, "nf_seed", seed_body, id, NULL);
    char *before = snapshot(v);

    /* A well-formed id that does not exist. */
    char ghost[CONSTRA_ID_SIZE];
    strcpy(ghost, id);
    ghost[strlen(ghost) - 1] = ghost[strlen(ghost) - 1] == '0' ? '1' : '0';
    snprintf(target, sizeof(target), "/v1/payment-intents/%s", ghost);
    check_error(v, "GET", target, NULL, 404, "resource_missing", "id");
    snprintf(target, sizeof(target), "/api/v1/payment-intents/%s/events", ghost);
    check_error(v, "GET", target, NULL, 404, "resource_missing", "id");
    snprintf(target, sizeof(target), "/v1/payment-intents/%s/cancel", ghost);
    check_error(v, "POST", target, NULL, 404, "resource_missing", "id");
    /* Malformed ids. */
    /* Ids are opaque: an unknown well-formed one is 404, a malformed one 400. */
    check_error(v, "GET", "/v1/payment-intents/pi_nope", NULL, 404, "resource_missing", "id");
    check_error(v, "GET", "/v1/payment-intents/pi_n%2Fope", NULL, 400, "parameter_invalid", "id");
    check_error(v, "GET", "/v1/payment-intents/evt_01kb0000000000000000000000", NULL, 404,
                "resource_missing", "id");
    check_error(v, "POST", "/v1/payment-intents/..%2F..%2Fetc/retry", NULL, 400,
                "parameter_invalid", "id");
    /* Unknown paths. */
    static const char *const unknown[] = {
        "/", "/v1", "/v2/payment-intents", "/v1/payment-intents/", "/v1/payment_intents",
        "/v1/payment-intents/x/y/z", "/api/v2/payment-intents", "/v1/mpesa/callback",
        "/V1/payment-intents", "/v1//payment-intents", "v1/payment-intents",
    };
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        check_error(v, "GET", unknown[i], NULL, 404, "route_not_found", NULL);
    }
    snprintf(target, sizeof(target), "/v1/payment-intents/%s/refund", id);
    check_error(v, "POST", target, "{}", 404, "route_not_found", NULL);

    /* 405 with Allow. */
    static const struct {
        const char *method, *target, *allow;
    } m[] = {
        {"DELETE", "/v1/payment-intents", "GET, POST"},
        {"PUT", "/api/v1/payment-intents", "GET, POST"},
        {"get", "/v1/payment-intents", "GET, POST"},
        {"POST", "/v1/sandbox/overview", "GET"},
        {"GET", "/v1/instructions", "POST"},
        {"GET", "/v1/providers/mpesa/callback", "POST"},
    };
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        constra_api_response *r = call(v, m[i].method, m[i].target, NULL);
        expect_error(r, 405, "method_not_allowed", NULL);
        assert_string_equal(constra_api_response_header(r, "allow"), m[i].allow);
        constra_api_response_free(r);
    }
    snprintf(target, sizeof(target), "/v1/payment-intents/%s/retry", id);
    constra_api_response *r = call(v, "GET", target, NULL);
    expect_error(r, 405, "method_not_allowed", NULL);
    assert_string_equal(constra_api_response_header(r, "Allow"), "POST");
    constra_api_response_free(r);
    snprintf(target, sizeof(target), "/v1/payment-intents/%s", id);
    r = call(v, "POST", target, "{}");
    expect_error(r, 405, "method_not_allowed", NULL);
    assert_string_equal(constra_api_response_header(r, "Allow"), "GET");
    constra_api_response_free(r);

    /* Query parameters where none are read. */
    snprintf(target, sizeof(target), "/v1/payment-intents/%s?expand=attempts", id);
    check_error(v, "GET", target, NULL, 400, "parameter_unknown", "expand");

    /* 414: a target over 8 KiB. */
    char *longt = malloc(9000);
    strcpy(longt, "/v1/payment-intents?reference=");
    memset(longt + strlen(longt), 'a', 8900 - strlen(longt));
    longt[8900] = '\0';
    check_error(v, "GET", longt, NULL, 414, "uri_too_long", NULL);
    free(longt);
    expect_unchanged(v, before);
    free(before);
    close_env(v);
}

static void test_wrong_state(void **state)
{
    (void)state;
    env *v = open_env();
    char id[CONSTRA_ID_SIZE], target[160];
    create_ok(v, "ws_seed", seed_body, id, NULL);
    char *before = snapshot(v);

    static const struct {
        const char *action, *body;
    } pending[] = {
        {"retry", NULL}, {"confirm", NULL}, {"resolve", "{\"outcome\":\"failed\"}"},
    };
    for (size_t i = 0; i < sizeof(pending) / sizeof(pending[0]); i++) {
        snprintf(target, sizeof(target), "/v1/payment-intents/%s/%s", id, pending[i].action);
        constra_api_response *r = call(v, "POST", target, pending[i].body);
        expect_error(r, 409, "invalid_state", "id");
        assert_non_null(strstr(jget(body_of(r), "error.message"), "pending_user_action"));
        constra_api_response_free(r);
        expect_unchanged(v, before);
    }
    /* Pay it, then nothing but reads is allowed. */
    snprintf(target, sizeof(target), "/v1/payment-intents/%s/simulate-callback", id);
    constra_api_response *r = call(v, "POST", target, "{\"result_code\":0}");
    expect_status(r, 200);
    constra_api_response_free(r);
    free(before);
    before = snapshot(v);
    static const char *const acts[] = {"retry", "cancel", "confirm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(target, sizeof(target), "/v1/payment-intents/%s/%s", id, acts[i]);
        r = call(v, "POST", target, "");
        expect_error(r, 409, "invalid_state", "id");
        assert_non_null(strstr(jget(body_of(r), "error.message"), "succeeded"));
        constra_api_response_free(r);
        expect_unchanged(v, before);
    }
    /* Bodies of field-less actions: empty or {} only. */
    snprintf(target, sizeof(target), "/v1/payment-intents/%s/cancel", id);
    check_error(v, "POST", target, "{\"reason\":\"x\"}", 400, "parameter_unknown", "reason");
    check_error(v, "POST", target, "[]", 400, "json_invalid", "body");
    check_error(v, "POST", target, "{}", 409, "invalid_state", "id");
    expect_unchanged(v, before);
    free(before);
    close_env(v);
}

static void test_simulate_and_resolve(void **state)
{
    (void)state;
    env *v = open_env();
    char id[CONSTRA_ID_SIZE], target[160];
    char co[CONSTRA_RAIL_ID_SIZE];
    create_ok(v, "sr_seed", seed_body, id, co);
    char *before = snapshot(v);
    snprintf(target, sizeof(target), "/v1/payment-intents/%s/simulate-callback", id);
    static const bad_case sim[] = {
        {"{}", 400, "parameter_missing", "result_code"},
        {"{\"result_code\":null}", 400, "parameter_missing", "result_code"},
        {"{\"result_code\":12.5}", 400, "parameter_invalid", "result_code"},
        {"{\"result_code\":\"\"}", 400, "parameter_invalid", "result_code"},
        {"{\"result_code\":\"10 32\"}", 400, "parameter_invalid", "result_code"},
        {"{\"result_code\":true}", 400, "parameter_invalid", "result_code"},
        {"{\"result_code\":1032,\"result_desc\":5}", 400, "parameter_invalid", "result_desc"},
        {"{\"result_code\":1032,\"extra\":1}", 400, "parameter_unknown", "extra"},
        {"", 400, "body_missing", "body"},
    };
    for (size_t i = 0; i < sizeof(sim) / sizeof(sim[0]); i++) {
        check_error(v, "POST", target, sim[i].body, sim[i].status, sim[i].code, sim[i].param);
        expect_unchanged(v, before);
    }
    /* M-Pesa reports 1 KES paid for this 1250 KES intent: review. */
    char *wrong = vector_for("stk_callback_success.json", co);
    expect_ack(post_callback(v, "/v1/providers/mpesa/callback", wrong, strlen(wrong)));
    free(wrong);
    snprintf(target, sizeof(target), "/v1/payment-intents/%s", id);
    constra_api_response *r = call(v, "GET", target, NULL);
    expect_status(r, 200);
    assert_string_equal(jget(body_of(r), "status"), "review_required");
    assert_string_equal(jget(body_of(r), "next_action"), "review");
    constra_api_response_free(r);
    free(before);
    before = snapshot(v);

    snprintf(target, sizeof(target), "/v1/payment-intents/%s/resolve", id);
    static const bad_case res[] = {
        {"{}", 400, "parameter_missing", "outcome"},
        {"{\"outcome\":\"maybe\"}", 400, "parameter_invalid", "outcome"},
        {"{\"outcome\":\"succeeded\"}", 400, "parameter_missing", "receipt"},
        {"{\"outcome\":\"succeeded\",\"receipt\":\"TKR 123\"}", 400, "parameter_invalid",
         "receipt"},
        {"{\"outcome\":\"succeeded\",\"receipt\":\"TKR-123\"}", 400, "parameter_invalid",
         "receipt"},
        {"{\"outcome\":\"failed\",\"receipt\":\"TKR1234567\"}", 400, "parameter_invalid",
         "receipt"},
        {"{\"outcome\":\"succeeded\",\"receipt\":\"TKR1234567\",\"note\":7}", 400,
         "parameter_invalid", "note"},
        {"{\"outcome\":\"succeeded\",\"receipt\":\"TKR1234567\",\"by\":\"me\"}", 400,
         "parameter_unknown", "by"},
    };
    for (size_t i = 0; i < sizeof(res) / sizeof(res[0]); i++) {
        check_error(v, "POST", target, res[i].body, res[i].status, res[i].code, res[i].param);
        expect_unchanged(v, before);
    }
    r = call(v, "POST", target,
             "{\"outcome\":\"succeeded\",\"receipt\":\"TKR1234567\",\"note\":\"Checked the "
             "statement.\"}");
    expect_status(r, 200);
    assert_string_equal(jget(body_of(r), "status"), "succeeded");
    assert_string_equal(jget(body_of(r), "receipt"), "TKR1234567");
    constra_api_response_free(r);
    free(before);
    close_env(v);
}

/* ---- list ------------------------------------------------------------------------------- */

static size_t list_count(const char *body)
{
    cJSON *root = cJSON_Parse(body);
    size_t n = (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "data"));
    cJSON_Delete(root);
    return n;
}

static constra_api_response *list(env *v, const char *query)
{
    char target[512];
    snprintf(target, sizeof(target), "/v1/payment-intents%s", query);
    constra_api_response *r = call(v, "GET", target, NULL);
    return r;
}

static void expect_list(env *v, const char *query, size_t n)
{
    constra_api_response *r = list(v, query);
    expect_status(r, 200);
    if (list_count(body_of(r)) != n) {
        fail_msg("%s: %zu intents, want %zu", query, list_count(body_of(r)), n);
    }
    constra_api_response_free(r);
}

static void test_list(void **state)
{
    (void)state;
    env *v = open_env();
    int64_t t0 = clock_ms;
    char ids[5][CONSTRA_ID_SIZE];
    for (int i = 0; i < 5; i++) {
        char key[16], body[400];
        snprintf(key, sizeof(key), "list_%d", i);
        snprintf(body, sizeof(body),
                 "{\"amount\":%d,\"currency\":\"KES\",\"customer\":{\"phone_number\":"
                 "\"254700000000\"},\"reference\":\"%s\"%s}",
                 100 + i, i % 2 ? "order 7" : "order_8", i == 4 ? ",\"draft\":true" : "");
        create_ok(v, key, body, ids[i], NULL);
        clock_ms += 60000; /* one a minute */
    }
    char *before = snapshot(v);
    /* Newest first. */
    constra_api_response *r = list(v, "");
    expect_status(r, 200);
    assert_int_equal(list_count(body_of(r)), 5);
    assert_non_null(strstr(body_of(r), ids[4]));
    assert_true(strstr(body_of(r), ids[4]) < strstr(body_of(r), ids[0]));
    assert_string_equal(jget(body_of(r), "object"), "list");
    assert_string_equal(jget(body_of(r), "has_more"), "false");
    constra_api_response_free(r);
    /* Same under /api/v1. */
    r = call(v, "GET", "/api/v1/payment-intents", NULL);
    expect_status(r, 200);
    assert_int_equal(list_count(body_of(r)), 5);
    constra_api_response_free(r);

    expect_list(v, "?status=draft", 1);
    expect_list(v, "?status=pending_user_action", 4);
    expect_list(v, "?status=succeeded", 0);
    expect_list(v, "?reference=order_8", 3);
    expect_list(v, "?reference=order+7", 2);
    expect_list(v, "?reference=order%207", 2);
    expect_list(v, "?reference=order%207&status=draft", 0);

    /* created: Unix seconds or RFC 3339; [gte] inclusive, [lt] exclusive. */
    char q[256];
    snprintf(q, sizeof(q), "?created[gte]=%lld", (long long)((t0 + 60000) / 1000));
    expect_list(v, q, 4);
    snprintf(q, sizeof(q), "?created%%5Bgte%%5D=%lld&created%%5Blt%%5D=%lld",
             (long long)((t0 + 60000) / 1000), (long long)((t0 + 180000) / 1000));
    expect_list(v, q, 2);
    /* t0 is 2025-11-27T10:38:14.625Z. */
    expect_list(v, "?created_from=2025-11-27T10:38:14.625Z", 5);
    expect_list(v, "?created_from=2025-11-27T10:38:14.626Z", 4);
    expect_list(v, "?created_to=2025-11-27T10:39:14.625Z", 1);
    expect_list(v, "?created_to=2025-11-27T13:39:14.625%2B03:00", 1);
    expect_list(v, "?created_to=2025-11-27T13:39:14.625+03:00", 1);
    expect_list(v, "?created_to=2025-11-27T09:39:14.625-01:00", 1);
    expect_list(v, "?created[lt]=0", 0);
    expect_list(v, "?created[gte]=0", 5);

    /* Paging. */
    r = list(v, "?limit=2");
    assert_int_equal(list_count(body_of(r)), 2);
    assert_string_equal(jget(body_of(r), "has_more"), "true");
    constra_api_response_free(r);
    snprintf(q, sizeof(q), "?limit=2&starting_after=%s", ids[3]);
    r = list(v, q);
    assert_int_equal(list_count(body_of(r)), 2);
    assert_non_null(strstr(body_of(r), ids[2]));
    assert_non_null(strstr(body_of(r), ids[1]));
    assert_string_equal(jget(body_of(r), "has_more"), "true");
    constra_api_response_free(r);
    snprintf(q, sizeof(q), "?starting_after=%s", ids[0]);
    expect_list(v, q, 0);
    expect_list(v, "?limit=100", 5);
    expect_list(v, "?limit=1&", 1);

    static const struct {
        const char *query, *code, *param;
    } bad[] = {
        {"?limit=0", "parameter_invalid", "limit"},
        {"?limit=101", "parameter_invalid", "limit"},
        {"?limit=abc", "parameter_invalid", "limit"},
        {"?limit=-1", "parameter_invalid", "limit"},
        {"?limit=", "parameter_invalid", "limit"},
        {"?limit", "parameter_invalid", "limit"},
        {"?limit=1&limit=2", "parameter_duplicate", "limit"},
        {"?status=paid", "parameter_invalid", "status"},
        {"?sort=asc", "parameter_unknown", "sort"},
        {"?created[gt]=5", "parameter_unknown", "created[gt]"},
        {"?created[gte]=5&created_from=6", "parameter_duplicate", "created_from"},
        {"?created[gte]=yesterday", "parameter_invalid", "created[gte]"},
        {"?created[gte]=2025-13-01T00:00:00Z", "parameter_invalid", "created[gte]"},
        {"?created[gte]=2025-02-29T00:00:00Z", "parameter_invalid", "created[gte]"},
        {"?created[gte]=2025-11-27T10:38:14", "parameter_invalid", "created[gte]"},
        {"?created[gte]=1969-12-31T23:59:59Z", "parameter_invalid", "created[gte]"},
        {"?created[lt]=9999999999999", "parameter_invalid", "created[lt]"},
        {"?starting_after=pi_b.d", "parameter_invalid", "starting_after"},
        {"?reference=%zz", "parameter_invalid", "reference"},
        {"?reference=a%00b", "parameter_invalid", "reference"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = list(v, bad[i].query);
        expect_error(r, 400, bad[i].code, bad[i].param);
        constra_api_response_free(r);
    }
    expect_unchanged(v, before);
    free(before);
    close_env(v);
}

/* ---- the Daraja callback route ------------------------------------------------------------ */

/* The callback URL: null until a public base is set, then absolute with
 * the handle's callback token (the one constra_derive_callback_token()
 * gives for the key); a POST to it reaches the callback route. */
static void test_workspace_callback_url(void **state)
{
    (void)state;
    env *v = open_env();
    constra_api_response *r = call(v, "GET", "/v1/workspace", NULL);
    expect_status(r, 200);
    assert_string_equal(jget(body_of(r), "callback_url"), "null");
    const char *ws = jget(body_of(r), "workspace_id");
    assert_int_equal(strncmp(ws, "ws_", 3), 0);
    assert_int_equal(strlen(ws), 29);
    char wsid[64];
    strcpy(wsid, ws);
    constra_api_response_free(r);
    char url[1200];
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_api_callback_url(v->h, url, sizeof(url), &err),
                     CONSTRA_E_INVALID_STATE);
    assert_string_equal(err.code, "callback_url_unavailable");

    assert_int_equal(constra_api_set_public_url(v->h, "https://pay.example.com/shop//", T_ERR),
                     CONSTRA_OK);
    char token[65], want[512];
    assert_int_equal(constra_derive_callback_token(SECRET, token, sizeof(token), T_ERR),
                     CONSTRA_OK);
    assert_int_equal(strlen(token), 32);
    snprintf(want, sizeof(want),
             "https://pay.example.com/shop/api/v1/providers/mpesa/callback?token=%s", token);
    r = call(v, "GET", "/api/v1/workspace", NULL);
    assert_string_equal(jget(body_of(r), "callback_url"), want);
    assert_string_equal(jget(body_of(r), "workspace_id"), wsid); /* same on every read */
    assert_null(strstr(body_of(r), SECRET));
    constra_api_response_free(r);
    assert_int_equal(constra_api_callback_url(v->h, url, sizeof(url), T_ERR), CONSTRA_OK);
    assert_string_equal(url, want);
    /* Too small: refused, out untouched. */
    char tiny[16] = "untouched";
    err = (constra_error)CONSTRA_ERROR_INIT;
    assert_int_equal(constra_api_callback_url(v->h, tiny, sizeof(tiny), &err),
                     CONSTRA_E_BUFFER_TOO_SMALL);
    assert_string_equal(tiny, "untouched");
    assert_int_equal(constra_api_callback_url(v->h, url, strlen(want) + 1, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_api_callback_url(NULL, url, sizeof(url), T_ERR),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_api_callback_url(v->h, NULL, 1, T_ERR), CONSTRA_E_INVALID_ARGUMENT);

    /* The URL's path and query are what the router serves: a callback
     * there (an unknown checkout id) is acknowledged by the callback route. */
    const char *target = want + strlen("https://pay.example.com/shop");
    static const char cb[] = "{\"Body\":{\"stkCallback\":{\"MerchantRequestID\":\"m\","
                             "\"CheckoutRequestID\":\"ws_CO_router_unknown\",\"ResultCode\":1032,"
                             "\"ResultDesc\":\"Request cancelled by user\"}}}";
    const char *ct[] = {"Content-Type", "application/json", NULL};
    expect_ack(call_h(v, "POST", target, cb, sizeof(cb) - 1, 0, ct)); /* frees it */
    /* The same without the token, or with another: refused. */
    r = call_h(v, "POST", "/api/v1/providers/mpesa/callback", cb, sizeof(cb) - 1, 0, ct);
    assert_int_equal(constra_api_response_status(r), 401);
    constra_api_response_free(r);
    /* The token in the URL is the handle's own. */
    char htoken[65];
    assert_int_equal(constra_callback_token(v->h, htoken, sizeof(htoken), T_ERR), CONSTRA_OK);
    assert_string_equal(htoken, token);

    /* Malformed bases are refused and the previous one kept. */
    static const char *const bad[] = {
        "ftp://pay.example.com", "pay.example.com", "https://", "https://a b.example",
        "https://pay.example.com/?q=1", "https://pay.example.com/#f", "https://u:p@pay.example.com",
        "https://pay.example.com/\"x", "https://pay.example.com/<script>", "http://[::1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = (constra_error)CONSTRA_ERROR_INIT;
        assert_int_equal(constra_api_set_public_url(v->h, bad[i], &err),
                         CONSTRA_E_INVALID_ARGUMENT);
        assert_string_equal(err.param, "base_url");
    }
    char longurl[1100];
    memcpy(longurl, "https://a.example/", 18);
    memset(longurl + 18, 'p', sizeof(longurl) - 19);
    longurl[sizeof(longurl) - 1] = '\0';
    assert_int_equal(constra_api_set_public_url(v->h, longurl, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_api_set_public_url(NULL, "https://a.example", T_ERR),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_api_callback_url(v->h, url, sizeof(url), T_ERR), CONSTRA_OK);
    assert_string_equal(url, want);
    /* NULL clears it. */
    assert_int_equal(constra_api_set_public_url(v->h, NULL, T_ERR), CONSTRA_OK);
    r = call(v, "GET", "/v1/workspace", NULL);
    assert_string_equal(jget(body_of(r), "callback_url"), "null");
    constra_api_response_free(r);
    close_env(v);

    /* A handle with neither key nor token refuses every callback: no URL. */
    constra_t *h = NULL;
    assert_int_equal(constra_open(&h, NULL, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_api_set_public_url(h, "http://127.0.0.1:8000", T_ERR), CONSTRA_OK);
    err = (constra_error)CONSTRA_ERROR_INIT;
    assert_int_equal(constra_api_callback_url(h, url, sizeof(url), &err), CONSTRA_E_INVALID_STATE);
    assert_non_null(strstr(err.message, "no callback token"));
    constra_close(h);

    /* An explicit config.callback_token is the one in the URL. */
    constra_config cfg = CONSTRA_CONFIG_INIT;
    cfg.secret_key = SECRET;
    cfg.callback_token = "explicit_token_0123456789";
    assert_int_equal(constra_open(&h, &cfg, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_api_set_public_url(h, "http://127.0.0.1:8000", T_ERR), CONSTRA_OK);
    assert_int_equal(constra_api_callback_url(h, url, sizeof(url), T_ERR), CONSTRA_OK);
    assert_string_equal(url, "http://127.0.0.1:8000/api/v1/providers/mpesa/callback"
                             "?token=explicit_token_0123456789");
    constra_close(h);

    /* The derivation's own checks. */
    assert_int_equal(constra_derive_callback_token(NULL, token, sizeof(token), T_ERR),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_derive_callback_token("sk_test_0123456789abcdef", token,
                                                   sizeof(token), T_ERR),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_derive_callback_token("cs_test_short", token, sizeof(token), T_ERR),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_derive_callback_token(SECRET, NULL, 33, T_ERR),
                     CONSTRA_E_INVALID_ARGUMENT);
    char small[32] = "untouched";
    assert_int_equal(constra_derive_callback_token(SECRET, small, sizeof(small), T_ERR),
                     CONSTRA_E_BUFFER_TOO_SMALL);
    assert_string_equal(small, "untouched");
    char other[65];
    assert_int_equal(constra_derive_callback_token("cs_test_router_secret_0002", other,
                                                   sizeof(other), T_ERR),
                     CONSTRA_OK);
    assert_string_not_equal(other, token); /* another key, another token */
}

/* A callback as Daraja sends it: to the workspace's callback URL, which
 * carries the callback token, with no bearer key. */
static constra_api_response *post_callback(env *v, const char *target, const char *body,
                                           size_t len)
{
    const char *ct[] = {"Content-Type", "application/json", NULL};
    char token[65], with_token[300];
    assert_int_equal(constra_callback_token(v->h, token, sizeof(token), T_ERR), CONSTRA_OK);
    snprintf(with_token, sizeof(with_token), "%s%ctoken=%s", target,
             strchr(target, '?') ? '&' : '?', token);
    return call_h(v, "POST", with_token, body, len, 0, ct); /* no bearer: Daraja sends none */
}

static void expect_ack(constra_api_response *r)
{
    expect_status(r, 200);
    assert_string_equal(body_of(r), "{\"ResultCode\":0,\"ResultDesc\":\"Accepted\"}");
    constra_api_response_free(r);
}

/* Callbacks that do not carry the workspace's token, on every callback
 * path, as Daraja or a browser page (text/plain, no-cors) would send them:
 * 401 with the JSON error, nothing stored, only the overview's counter. */
static void test_callback_forgeries(void **state)
{
    (void)state;
    env *v = open_env();
    char a[CONSTRA_ID_SIZE], a_co[CONSTRA_RAIL_ID_SIZE];
    create_ok(v, "forge_a",
              "{\"amount\":1,\"currency\":\"KES\",\"customer\":{\"phone_number\":\"254708374149\"}}",
              a, a_co);
    char *success = vector_for("stk_callback_success.json", a_co);
    char token[65];
    assert_int_equal(constra_callback_token(v->h, token, sizeof(token), T_ERR), CONSTRA_OK);
    char near[80], upper[80];
    snprintf(near, sizeof(near), "?token=%.31s", token);
    snprintf(upper, sizeof(upper), "?TOKEN=%s", token);
    static const char *const paths[] = {"/v1/providers/mpesa/callback",
                                        "/api/v1/providers/mpesa/callback",
                                        "/api/v1/mpesa/callback"};
    const char *const queries[] = {"", "?token=", "?token=s3cret", near, upper, "?x=1"};
    static const char *const types[] = {"application/json", "text/plain"};
    char *before = snapshot(v);
    int refused = 0;
    for (size_t p = 0; p < 3; p++) {
        for (size_t q = 0; q < sizeof(queries) / sizeof(queries[0]); q++) {
            for (size_t t = 0; t < 2; t++) {
                char target[200];
                snprintf(target, sizeof(target), "%s%s", paths[p], queries[q]);
                const char *hs[] = {"Content-Type", types[t], NULL};
                constra_api_response *r =
                    call_h(v, "POST", target, success, strlen(success), 0, hs);
                expect_error(r, 401, "callback_unauthenticated", "token");
                constra_api_response_free(r);
                refused++;
            }
        }
    }
    /* Guessing checkout ids without the token: none is even looked at. */
    for (int i = 0; i < 2000; i++) {
        char body[400], target[80];
        snprintf(body, sizeof(body),
                 "{\"Body\":{\"stkCallback\":{\"MerchantRequestID\":\"m\",\"CheckoutRequestID\":"
                 "\"ws_CO_%020d\",\"ResultCode\":0,\"ResultDesc\":\"x\"}}}",
                 i);
        snprintf(target, sizeof(target), "/v1/providers/mpesa/callback?token=guess%d", i);
        const char *hs[] = {"Content-Type", "text/plain", NULL};
        constra_api_response *r = call_h(v, "POST", target, body, strlen(body), 0, hs);
        assert_int_equal(constra_api_response_status(r), 401);
        constra_api_response_free(r);
        refused++;
    }
    expect_unchanged(v, before);
    free(before);
    char target[120];
    snprintf(target, sizeof(target), "/v1/payment-intents/%s", a);
    constra_api_response *r = call(v, "GET", target, NULL);
    assert_string_equal(jget(body_of(r), "status"), "pending_user_action");
    constra_api_response_free(r);
    r = call(v, "GET", "/v1/sandbox/overview", NULL);
    char want[32];
    snprintf(want, sizeof(want), "%d", refused);
    assert_string_equal(jget(body_of(r), "callbacks.refused"), want);
    assert_string_equal(jget(body_of(r), "callbacks.total"), "0");
    constra_api_response_free(r);
    /* With the token it is applied. */
    expect_ack(post_callback(v, "/v1/providers/mpesa/callback", success, strlen(success)));
    r = call(v, "GET", target, NULL);
    assert_string_equal(jget(body_of(r), "status"), "succeeded");
    constra_api_response_free(r);
    free(success);
    close_env(v);
}

static void test_callback_route(void **state)
{
    (void)state;
    env *v = open_env();
    /* An intent matching the success sample: 1 KES from 254708374149. */
    char a[CONSTRA_ID_SIZE], a_co[CONSTRA_RAIL_ID_SIZE], target[160];
    create_ok(v, "cb_a",
              "{\"amount\":1,\"currency\":\"KES\",\"customer\":{\"phone_number\":\"254708374149\"}}",
              a, a_co);
    char *success = vector_for("stk_callback_success.json", a_co);
    expect_ack(post_callback(v, "/v1/providers/mpesa/callback", success, strlen(success)));
    snprintf(target, sizeof(target), "/v1/payment-intents/%s", a);
    constra_api_response *r = call(v, "GET", target, NULL);
    expect_status(r, 200);
    assert_string_equal(jget(body_of(r), "status"), "succeeded");
    assert_string_equal(jget(body_of(r), "receipt"), "NLJ7RT61SV");
    constra_api_response_free(r);
    /* The same callback again: acknowledged, recorded as a duplicate. */
    char *before = snapshot(v);
    expect_ack(post_callback(v, "/api/v1/providers/mpesa/callback", success, strlen(success)));
    static const char *const ta[] = {"payment_intent.created",
                                     "payment_intent.pending_user_action",
                                     "payment_intent.succeeded",
                                     "payment_intent.callback_duplicate"};
    expect_event_types(v, "/v1", a, ta, 4);
    free(before);

    /* The seed intent, cancelled by the customer (no metadata), through
     * the local-sandbox path. */
    char b[CONSTRA_ID_SIZE], b_co[CONSTRA_RAIL_ID_SIZE];
    create_ok(v, "cb_b", seed_body, b, b_co);
    char *cancelled = vector_for("stk_callback_cancelled.json", b_co);
    expect_ack(post_callback(v, "/api/v1/mpesa/callback", cancelled,
                             strlen(cancelled)));
    snprintf(target, sizeof(target), "/v1/payment-intents/%s", b);
    r = call(v, "GET", target, NULL);
    assert_string_equal(jget(body_of(r), "status"), "requires_recovery");
    assert_string_equal(jget(body_of(r), "provider_result.code"), "1032");
    assert_true(strlen(jget(body_of(r), "recovery.agent_note")) > 10);
    constra_api_response_free(r);

    /* A success of the wrong amount (1 KES for 1250): review. */
    char c[CONSTRA_ID_SIZE], c_co[CONSTRA_RAIL_ID_SIZE];
    create_ok(v, "cb_c", seed_body, c, c_co);
    char *wrong = vector_for("stk_callback_success.json", c_co);
    expect_ack(post_callback(v, "/v1/providers/mpesa/callback", wrong, strlen(wrong)));
    snprintf(target, sizeof(target), "/v1/payment-intents/%s", c);
    r = call(v, "GET", target, NULL);
    assert_string_equal(jget(body_of(r), "status"), "review_required");
    constra_api_response_free(r);

    /* A masked payer number is unknown, not a mismatch. */
    char d[CONSTRA_ID_SIZE], d_co[CONSTRA_RAIL_ID_SIZE];
    create_ok(v, "cb_d",
              "{\"amount\":1,\"currency\":\"KES\",\"customer\":{\"phone_number\":\"254708374149\"}}",
              d, d_co);
    char *masked = vector_for("stk_callback_success.json", d_co);
    char *num = strstr(masked, "254708374149}");
    assert_non_null(num);
    char *tmp = calloc(1, strlen(masked) + 8);
    memcpy(tmp, masked, (size_t)(num - masked));
    strcat(tmp, "\"2547*****149\"");
    strcat(tmp, num + 12);
    expect_ack(post_callback(v, "/v1/providers/mpesa/callback", tmp, strlen(tmp)));
    snprintf(target, sizeof(target), "/v1/payment-intents/%s", d);
    r = call(v, "GET", target, NULL);
    assert_string_equal(jget(body_of(r), "status"), "succeeded");
    constra_api_response_free(r);
    free(tmp);
    free(masked);

    /* Unknown checkout ids (the samples as they are): acknowledged, kept. */
    char *plain = read_vector("stk_callback_success.json");
    before = snapshot(v);
    expect_ack(post_callback(v, "/v1/providers/mpesa/callback", plain, strlen(plain)));
    char *after = snapshot(v);
    assert_string_not_equal(before, after); /* one more event: the unmatched callback */
    free(before);
    free(after);
    char *plain2 = read_vector("stk_callback_cancelled.json");
    expect_ack(post_callback(v, "/v1/providers/mpesa/callback", plain2, strlen(plain2)));

    /* Malformed bodies: 400 with the error JSON, nothing recorded. */
    before = snapshot(v);
    static const struct {
        const char *body, *code;
    } bad[] = {
        {"", "body_empty"},
        {"{", "callback_malformed"},
        {"[]", "callback_malformed"},
        {"{\"Body\":{}}", "field_missing"},
        {"{\"Body\":{\"stkCallback\":{\"MerchantRequestID\":\"m\",\"CheckoutRequestID\":\"c\"}}}",
         "field_missing"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = post_callback(v, "/v1/providers/mpesa/callback", bad[i].body, strlen(bad[i].body));
        expect_status(r, 400);
        assert_string_equal(jget(body_of(r), "error.code"), bad[i].code);
        constra_api_response_free(r);
        expect_unchanged(v, before);
    }
    /* Too large: 413. */
    size_t big = CONSTRA_API_BODY_MAX + 10;
    char *huge = malloc(big);
    memset(huge, ' ', big);
    huge[0] = '{';
    huge[big - 1] = '}';
    r = post_callback(v, "/v1/providers/mpesa/callback", huge, big);
    expect_error(r, 413, "body_too_large", "body");
    constra_api_response_free(r);
    free(huge);
    expect_unchanged(v, before);
    free(before);

    /* The overview counts it all. */
    r = call(v, "GET", "/v1/sandbox/overview", NULL);
    expect_status(r, 200);
    const char *o = body_of(r);
    assert_string_equal(jget(o, "object"), "sandbox_overview");
    assert_string_equal(jget(o, "livemode"), "false");
    assert_string_equal(jget(o, "intents.total"), "4");
    assert_string_equal(jget(o, "intents.by_status.succeeded"), "2");
    assert_string_equal(jget(o, "intents.by_status.requires_recovery"), "1");
    assert_string_equal(jget(o, "intents.by_status.review_required"), "1");
    assert_string_equal(jget(o, "intents.by_status.draft"), "0");
    assert_string_equal(jget(o, "callbacks.applied"), "4");
    assert_string_equal(jget(o, "callbacks.duplicates"), "1");
    assert_string_equal(jget(o, "callbacks.unmatched"), "2");
    assert_string_equal(jget(o, "callbacks.total"), "7");
    cJSON *root = cJSON_Parse(o);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "recent_intents")), 4);
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(root, "recent_events");
    assert_int_equal(cJSON_GetArraySize(ev), 10);
    /* Newest first: the last thing stored was an unmatched callback. */
    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(ev, 0), "type")->valuestring,
        "callback.unmatched");
    cJSON_Delete(root);
    constra_api_response_free(r);

    free(success);
    free(cancelled);
    free(wrong);
    free(plain);
    free(plain2);
    close_env(v);
}

/* ---- instructions ---------------------------------------------------------------------------- */

static void test_instructions(void **state)
{
    (void)state;
    env *v = open_env();
    static const char text[] =
        "{\"text\":\"charge 0712 345 678 KES 1,250 for order 7429 solar kit deposit\"}";
    constra_api_response *r = call(v, "POST", "/v1/instructions", text);
    expect_status(r, 201);
    const char *b = body_of(r);
    assert_string_equal(jget(b, "object"), "instruction");
    assert_string_equal(jget(b, "draft.status"), "draft");
    assert_string_equal(jget(b, "draft.amount"), "1250");
    assert_string_equal(jget(b, "draft.customer.phone_number"), "254712345678");
    assert_string_equal(jget(b, "draft.reference"), "order 7429");
    assert_string_equal(jget(b, "draft.next_action"), "confirm");
    assert_string_equal(jget(b, "draft.provider_action.state"), "not_sent");
    assert_string_equal(jget(b, "not_understood"), "null");
    assert_null(constra_api_response_header(r, "Idempotent-Replayed"));
    char id[CONSTRA_ID_SIZE], target[160];
    strcpy(id, jget(b, "draft.id"));
    char *first = strdup(b);
    constra_api_response_free(r);

    /* The same words again: the same draft (derived key), replayed. */
    char *before = snapshot(v);
    r = call(v, "POST", "/api/v1/instructions", text);
    expect_status(r, 201);
    assert_string_equal(body_of(r), first);
    assert_string_equal(constra_api_response_header(r, "Idempotent-Replayed"), "true");
    constra_api_response_free(r);
    expect_unchanged(v, before);
    /* With an explicit key: a second draft. */
    const char *key[] = {"Idempotency-Key", "instr_2", NULL};
    r = call_h(v, "POST", "/v1/instructions", text, strlen(text), 1, key);
    expect_status(r, 201);
    assert_string_not_equal(jget(body_of(r), "draft.id"), id);
    constra_api_response_free(r);
    free(before);
    before = snapshot(v);

    /* Refused and incomplete instructions: 422, nothing stored. */
    static const struct {
        const char *body, *code;
        int status;
        const char *param;
    } bad[] = {
        {"{\"text\":\"refund 0712345678 KES 500\"}", "instruction_refused", 422, "text"},
        {"{\"text\":\"send 500 to 0712345678\"}", "instruction_refused", 422, "text"},
        {"{\"text\":\"charge 0712345678 USD 20\"}", "instruction_refused", 422, "text"},
        {"{\"text\":\"\"}", "instruction_refused", 422, "text"},
        {"{\"text\":\"charge KES 500 for order 12\"}", "instruction_incomplete", 422, "text"},
        {"{\"text\":\"charge 0712345678\"}", "instruction_incomplete", 422, "text"},
        {"{}", "parameter_missing", 400, "text"},
        {"{\"text\":5}", "parameter_invalid", 400, "text"},
        {"{\"text\":\"charge\",\"auto_confirm\":true}", "parameter_unknown", 400, "auto_confirm"},
        {"{\"text\":\"charge 0712345678 KES 500\",\"text\":\"x\"}", "parameter_duplicate", 400,
         "text"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = call(v, "POST", "/v1/instructions", bad[i].body);
        expect_error(r, bad[i].status, bad[i].code, bad[i].param);
        constra_api_response_free(r);
        expect_unchanged(v, before);
    }
    r = call(v, "POST", "/v1/instructions", "{\"text\":\"charge KES 500 for order 12\"}");
    assert_non_null(strstr(jget(body_of(r), "error.message"), "phone number"));
    constra_api_response_free(r);
    r = call(v, "POST", "/v1/instructions", "{\"text\":\"refund 0712345678 KES 500\"}");
    assert_non_null(strstr(jget(body_of(r), "error.message"), "refund"));
    constra_api_response_free(r);
    /* Too long a text. */
    char *longtext = malloc(6000);
    strcpy(longtext, "{\"text\":\"");
    memset(longtext + 9, 'a', 5000);
    strcpy(longtext + 5009, "\"}");
    check_error(v, "POST", "/v1/instructions", longtext, 400, "parameter_invalid", "text");
    free(longtext);
    expect_unchanged(v, before);

    /* An operator confirms the draft: now the customer is prompted. */
    snprintf(target, sizeof(target), "/v1/payment-intents/%s/confirm", id);
    r = call(v, "POST", target, "{}");
    expect_status(r, 200);
    assert_string_equal(jget(body_of(r), "status"), "pending_user_action");
    assert_string_equal(jget(body_of(r), "provider_action.state"), "sent_to_customer");
    constra_api_response_free(r);

    r = call(v, "GET", "/v1/sandbox/overview", NULL);
    assert_string_equal(jget(body_of(r), "intents.by_status.draft"), "1");
    assert_string_equal(jget(body_of(r), "intents.by_status.pending_user_action"), "1");
    assert_string_equal(jget(body_of(r), "callbacks.total"), "0");
    constra_api_response_free(r);
    free(first);
    free(before);
    close_env(v);
}

/* ---- failures: storage, memory, arguments ---------------------------------------------------- */

static void test_storage_failure_not_stored(void **state)
{
    (void)state;
    env *v = open_env();
    /* The first storage call of a create is the key's reservation. */
    v->faults.fail_at = v->faults.calls + 1;
    constra_api_response *r = create(v, "/v1", "order_7429_deposit", seed_body);
    expect_error(r, 503, "storage_error", NULL);
    constra_api_response_free(r);
    /* Fail the first commit (before any rail call): the key is released. */
    v->faults.fail_at = v->faults.calls + 2;
    r = create(v, "/v1", "order_7429_deposit", seed_body);
    expect_error(r, 503, "storage_error", NULL);
    constra_api_response_free(r);
    assert_int_equal(v->faults.failures, 2);
    v->faults.fail_at = 0;
    r = create(v, "/v1", "order_7429_deposit", seed_body);
    /* A 5xx was never stored: the retry runs afresh. */
    expect_status(r, 201);
    assert_null(constra_api_response_header(r, "Idempotent-Replayed"));
    constra_api_response_free(r);
    /* Reads fail as 503 too. */
    v->faults.fail_at = v->faults.calls + 1;
    check_error(v, "GET", "/v1/payment-intents", NULL, 503, "storage_error", NULL);
    v->faults.fail_at = v->faults.calls + 1;
    check_error(v, "GET", "/v1/sandbox/overview", NULL, 503, "storage_error", NULL);
    /* A callback whose recording fails is a 5xx, not an acknowledgement. */
    char *plain = read_vector("stk_callback_cancelled.json");
    v->faults.fail_at = v->faults.calls + 1;
    r = post_callback(v, "/v1/providers/mpesa/callback", plain, strlen(plain));
    assert_true(constra_api_response_status(r) >= 500);
    constra_api_response_free(r);
    v->faults.fail_at = 0;
    free(plain);
    close_env(v);
}

/* Every allocation failure gives a response or CONSTRA_E_NOMEM, and
 * nothing leaks. */
static long run_oom(const char *method, const char *target, const char *body, int with_seed)
{
    for (long fail = 1; fail < 400; fail++) {
        counting_alloc ca = {0};
        constra_platform p;
        ca_platform(&p, &ca);
        p.wall_time_ms = driven_clock;
        constra_config cfg = CONSTRA_CONFIG_INIT;
        cfg.platform = &p;
        cfg.secret_key = SECRET;
        constra_t *h = NULL;
        assert_int_equal(constra_open(&h, &cfg, NULL), CONSTRA_OK);
        char seed_id[CONSTRA_ID_SIZE] = "";
        if (with_seed) {
            constra_intent_params ip = CONSTRA_INTENT_PARAMS_INIT;
            ip.amount = 1250;
            ip.currency = "KES";
            ip.phone_number = "254700000000";
            constra_intent *in = NULL;
            assert_int_equal(constra_intent_create(h, &ip, "oom_seed", &in, T_ERR), CONSTRA_OK);
            strcpy(seed_id, constra_intent_id(in));
            constra_intent_free(in);
        }
        /* target with its "{id}" (if any) replaced by the seed's id; a
         * callback goes to the callback URL with its token. */
        char t[300];
        const char *mark = strstr(target, "{id}");
        if (mark) {
            snprintf(t, sizeof(t), "%.*s%s%s", (int)(mark - target), target, seed_id, mark + 4);
        } else if (strstr(target, "/providers/mpesa/callback")) {
            char token[65];
            assert_int_equal(constra_callback_token(h, token, sizeof(token), NULL), CONSTRA_OK);
            snprintf(t, sizeof(t), "%s?token=%s", target, token);
        } else {
            snprintf(t, sizeof(t), "%s", target);
        }
        constra_http_header hs[] = {{"Authorization", "Bearer " SECRET},
                                    {"Idempotency-Key", "oom_1"}};
        constra_api_request rq = CONSTRA_API_REQUEST_INIT;
        rq.method = method;
        rq.target = t;
        rq.headers = hs;
        rq.header_count = 2;
        rq.body = body;
        rq.body_len = body ? strlen(body) : 0;
        ca.fail_at = ca.attempts + fail;
        constra_api_response *r = NULL;
        int rc = constra_api_handle(h, &rq, &r, T_ERR);
        int hit = ca.fail_at != 0 && ca.attempts >= ca.fail_at;
        ca.fail_at = 0;
        if (rc == CONSTRA_OK) {
            assert_non_null(r);
            assert_true(constra_api_response_status(r) >= 200);
        } else {
            assert_int_equal(rc, CONSTRA_E_NOMEM);
            assert_null(r);
        }
        constra_api_response_free(r);
        constra_close(h);
        assert_int_equal(ca.live, 0);
        if (!hit) {
            return fail - 1; /* no allocation failed: every point was tried */
        }
    }
    fail_msg("too many allocations for %s %s", method, target);
    return 0;
}

static void test_out_of_memory(void **state)
{
    (void)state;
    long points = run_oom("POST", "/v1/payment-intents", seed_body, 0);
    assert_true(points > 10);
    assert_true(run_oom("GET", "/v1/payment-intents/{id}", NULL, 1) > 2);
    assert_true(run_oom("GET", "/v1/payment-intents?status=pending_user_action", NULL, 1) > 3);
    assert_true(run_oom("GET", "/v1/payment-intents/{id}/events", NULL, 1) > 3);
    assert_true(run_oom("POST", "/v1/payment-intents/{id}/simulate-callback",
                        "{\"result_code\":1032}", 1) > 3);
    assert_true(run_oom("GET", "/v1/sandbox/overview", NULL, 1) > 5);
    assert_true(
        run_oom("POST", "/v1/instructions", "{\"text\":\"charge 0712345678 KES 500\"}", 0) > 10);
    char *cb = read_vector("stk_callback_cancelled.json");
    assert_true(run_oom("POST", "/v1/providers/mpesa/callback", cb, 0) > 3);
    free(cb);
    run_oom("POST", "/v1/payment-intents", "{\"amount\":\"x\"}", 0);
    run_oom("GET", "/v1/nothing", NULL, 0);
}

static void test_arguments(void **state)
{
    (void)state;
    env *v = open_env();
    constra_api_request rq = CONSTRA_API_REQUEST_INIT;
    rq.method = "GET";
    rq.target = "/v1/payment-intents";
    constra_api_response *r = (constra_api_response *)&rq; /* must be reset to NULL */
    assert_int_equal(constra_api_handle(NULL, &rq, &r, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_api_handle(v->h, &rq, NULL, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_api_handle(v->h, NULL, &r, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    assert_null(r);
    constra_api_request bad = rq;
    bad.method = NULL;
    assert_int_equal(constra_api_handle(v->h, &bad, &r, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    bad = rq;
    bad.target = NULL;
    assert_int_equal(constra_api_handle(v->h, &bad, &r, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    constra_error err = CONSTRA_ERROR_INIT;
    err = t_last_error();
    assert_string_equal(err.param, "req.target");
    bad = rq;
    bad.header_count = 1;
    assert_int_equal(constra_api_handle(v->h, &bad, &r, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    constra_http_header nul_name[] = {{NULL, "x"}};
    bad.headers = nul_name;
    assert_int_equal(constra_api_handle(v->h, &bad, &r, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    bad = rq;
    bad.body_len = 3;
    assert_int_equal(constra_api_handle(v->h, &bad, &r, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    bad = rq;
    bad.struct_size = 0;
    assert_int_equal(constra_api_handle(v->h, &bad, &r, T_ERR), CONSTRA_E_ABI);
    assert_null(r);

    constra_api_request init;
    memset(&init, 0xff, sizeof(init));
    assert_int_equal(constra_api_request_init(&init, sizeof(init)), CONSTRA_OK);
    assert_int_equal(init.struct_size, sizeof(init));
    assert_null(init.method);
    assert_int_equal(init.body_len, 0);
    assert_int_equal(constra_api_request_init(NULL, sizeof(init)), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_api_request_init(&init, 4), CONSTRA_E_ABI);

    /* Accessors on NULL. */
    size_t len = 7;
    assert_int_equal(constra_api_response_status(NULL), 0);
    assert_string_equal(constra_api_response_body(NULL, &len), "");
    assert_int_equal(len, 0);
    assert_int_equal(constra_api_response_header_count(NULL), 0);
    assert_null(constra_api_response_header_name(NULL, 0));
    assert_null(constra_api_response_header_value(NULL, 0));
    assert_null(constra_api_response_header(NULL, "Content-Type"));
    constra_api_response_free(NULL);

    /* Header enumeration. */
    r = call(v, "GET", "/v1/payment-intents", NULL);
    size_t n = constra_api_response_header_count(r);
    assert_true(n >= 2);
    assert_string_equal(constra_api_response_header_name(r, 0), "Content-Type");
    assert_string_equal(constra_api_response_header_value(r, 0), "application/json");
    assert_null(constra_api_response_header_name(r, n));
    assert_null(constra_api_response_header_value(r, n));
    assert_null(constra_api_response_header(r, "X-Nothing"));
    constra_api_response_body(r, &len);
    assert_int_equal(len, strlen(body_of(r)));
    constra_api_response_free(r);

    /* constra_handle_mpesa_callback directly. */
    assert_int_equal(constra_handle_mpesa_callback(NULL, NULL, 0, "{}", 2, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_handle_mpesa_callback(v->h, NULL, 0, NULL, 2, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    /* Without the token (or with a wrong one) nothing is even parsed. */
    assert_int_equal(constra_handle_mpesa_callback(v->h, NULL, 0, "{}", 2, T_ERR), CONSTRA_E_AUTH);
    assert_string_equal(t_last_error().code, "callback_unauthenticated");
    assert_int_equal(t_last_error().http_status, 401);
    assert_int_equal(constra_handle_mpesa_callback(v->h, "token=x", 7, "{}", 2, T_ERR),
                     CONSTRA_E_AUTH);
    char tok[65], q[80];
    assert_int_equal(constra_callback_token(v->h, tok, sizeof(tok), T_ERR), CONSTRA_OK);
    assert_int_equal(strlen(tok), 32);
    assert_int_equal(constra_callback_token(v->h, tok, 32, T_ERR), CONSTRA_E_BUFFER_TOO_SMALL);
    assert_int_equal(constra_callback_token(v->h, tok, sizeof(tok), T_ERR), CONSTRA_OK);
    int qn = snprintf(q, sizeof(q), "a=1&token=%s", tok);
    assert_int_equal(constra_handle_mpesa_callback(v->h, q, (size_t)qn, "{}", 2, T_ERR),
                     CONSTRA_E_PARSE);
    /* The query length bounds the token: one character short is refused. */
    assert_int_equal(constra_handle_mpesa_callback(v->h, q, (size_t)qn - 1, "{}", 2, T_ERR),
                     CONSTRA_E_AUTH);
    assert_int_equal(constra_handle_mpesa_callback_preauthenticated(v->h, "{}", 2, T_ERR),
                     CONSTRA_E_PARSE);
    err = t_last_error();
    assert_string_equal(err.code, "field_missing");
    assert_int_equal(err.http_status, 400);
    close_env(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_flow),
        cmocka_unit_test(test_replay_byte_for_byte),
        cmocka_unit_test(test_bad_create_bodies),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_live_mode),
        cmocka_unit_test(test_workspace),
        cmocka_unit_test(test_workspace_callback_url),
        cmocka_unit_test(test_not_found_and_methods),
        cmocka_unit_test(test_wrong_state),
        cmocka_unit_test(test_simulate_and_resolve),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_callback_route),
        cmocka_unit_test(test_callback_forgeries),
        cmocka_unit_test(test_instructions),
        cmocka_unit_test(test_storage_failure_not_stored),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
