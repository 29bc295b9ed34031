/* The transport vtable (transport.h): request checks (no header
 * injection), the library-owned response and its size cap, failure
 * classification (not sent vs outcome unknown), the loopback table, and
 * the REST router behind the loopback (constra_api_loopback_handler). */
#include "../unit/testutil.h"

#include <stdio.h>
#include <string.h>

#include "constra/api.h"
#include "constra/transport.h"

#define SECRET "cs_test_transport_secret_01"

/* ---- a scripted handler ------------------------------------------------ */

typedef struct script {
    int status;
    const char *body;
    size_t repeat;       /* body appended this many times */
    int failure;         /* when non-zero: fail with it */
    int return_ok_blank; /* return OK without setting anything */
    int calls;
    char last_method[16];
    char last_url[256];
    char last_body[256];
    char last_auth[128];
} script;

static int scripted(void *ctx, const constra_transport_request *req,
                    constra_transport_response *resp)
{
    script *s = ctx;
    s->calls++;
    snprintf(s->last_method, sizeof(s->last_method), "%s", req->method);
    snprintf(s->last_url, sizeof(s->last_url), "%s", req->url);
    snprintf(s->last_body, sizeof(s->last_body), "%.*s", (int)req->body_len,
             req->body ? req->body : "");
    s->last_auth[0] = '\0';
    for (size_t i = 0; i < req->header_count; i++) {
        if (strcmp(req->headers[i].name, "Authorization") == 0) {
            snprintf(s->last_auth, sizeof(s->last_auth), "%s", req->headers[i].value);
        }
    }
    if (s->return_ok_blank) {
        return CONSTRA_OK;
    }
    if (s->failure) {
        return constra_transport_response_fail(resp, s->failure, "scripted failure");
    }
    int rc = constra_transport_response_set_status(resp, s->status);
    if (rc == CONSTRA_OK) {
        rc = constra_transport_response_add_header(resp, "Content-Type", 12,
                                                   "application/json", 16);
    }
    for (size_t i = 0; rc == CONSTRA_OK && i < (s->repeat ? s->repeat : 1); i++) {
        rc = constra_transport_response_append(resp, s->body, strlen(s->body));
    }
    return rc;
}

typedef struct lb_env {
    constra_loopback *lb;
    constra_transport t;
} lb_env;

static void lb_open(lb_env *e)
{
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_loopback_new(&e->lb, NULL, &err), CONSTRA_OK);
    assert_int_equal(constra_loopback_transport(e->lb, &e->t, &err), CONSTRA_OK);
    assert_int_equal(constra_transport_check(&e->t, &err), CONSTRA_OK);
}

static void lb_close(lb_env *e)
{
    constra_loopback_free(e->lb);
    e->t.destroy(e->t.user_data); /* the last reference: frees the table */
}

static int send_simple(const constra_transport *t, const char *method, const char *url,
                       constra_transport_response **out, constra_error *err)
{
    constra_transport_request req = CONSTRA_TRANSPORT_REQUEST_INIT;
    req.method = method;
    req.url = url;
    return constra_transport_send(t, NULL, &req, out, err);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_loopback_dispatch(void **state)
{
    (void)state;
    lb_env e;
    lb_open(&e);
    script a = {.status = 200, .body = "{\"a\":1}"}, b = {.status = 503, .body = "busy"};
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_loopback_mount(e.lb, "https://sandbox.safaricom.co.ke", scripted,
                                            &a, &err), CONSTRA_OK);
    assert_int_equal(constra_loopback_mount(e.lb, "http://127.0.0.1:8000", scripted, &b, &err),
                     CONSTRA_OK);

    constra_http_header hs[] = {{"Authorization", "Bearer abc"}};
    constra_transport_request req = CONSTRA_TRANSPORT_REQUEST_INIT;
    req.method = "POST";
    req.url = "https://SANDBOX.safaricom.co.ke/mpesa/stkpush/v1/processrequest?x=1";
    req.headers = hs;
    req.header_count = 1;
    req.body = "{\"k\":2}";
    req.body_len = 7;
    constra_transport_response *resp = NULL;
    assert_int_equal(constra_transport_send(&e.t, NULL, &req, &resp, &err), CONSTRA_OK);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 0);
    assert_string_equal(a.last_method, "POST");
    assert_string_equal(a.last_body, "{\"k\":2}");
    assert_string_equal(a.last_auth, "Bearer abc");
    assert_int_equal(constra_transport_response_status(resp), 200);
    size_t len = 0;
    assert_string_equal(constra_transport_response_body(resp, &len), "{\"a\":1}");
    assert_int_equal(len, 7);
    assert_string_equal(constra_transport_response_header(resp, "content-type"),
                        "application/json");
    assert_null(constra_transport_response_header(resp, "X-Missing"));
    assert_int_equal(constra_transport_response_header_count(resp), 1);
    assert_string_equal(constra_transport_response_header_name(resp, 0), "Content-Type");
    assert_null(constra_transport_response_header_name(resp, 1));
    assert_null(constra_transport_response_header_value(resp, 1));
    constra_transport_response_free(resp);

    /* A non-2xx answer is still a response: the caller decides. */
    assert_int_equal(send_simple(&e.t, "GET", "http://127.0.0.1:8000/", &resp, &err),
                     CONSTRA_OK);
    assert_int_equal(constra_transport_response_status(resp), 503);
    constra_transport_response_free(resp);

    /* Same host, other port: a different origin, nobody there. */
    assert_int_equal(send_simple(&e.t, "GET", "http://127.0.0.1:8001/", &resp, &err),
                     CONSTRA_E_TRANSPORT);
    assert_null(resp);
    assert_string_equal(err.code, "transport_connect");
    assert_int_equal(constra_loopback_request_count(e.lb), 3);

    /* Re-mounting replaces. */
    assert_int_equal(constra_loopback_mount(e.lb, "http://127.0.0.1:8000", scripted, &a, &err),
                     CONSTRA_OK);
    assert_int_equal(send_simple(&e.t, "GET", "http://127.0.0.1:8000/x", &resp, &err),
                     CONSTRA_OK);
    assert_int_equal(constra_transport_response_status(resp), 200);
    assert_int_equal(a.calls, 2);
    constra_transport_response_free(resp);
    lb_close(&e);
}

static void test_failure_classification(void **state)
{
    (void)state;
    static const struct {
        int failure;
        int status;
        const char *code;
    } cases[] = {
        {CONSTRA_TRANSPORT_CONNECT, CONSTRA_E_TRANSPORT, "transport_connect"},
        {CONSTRA_TRANSPORT_TLS, CONSTRA_E_TRANSPORT, "transport_tls"},
        {CONSTRA_TRANSPORT_TIMEOUT, CONSTRA_E_OUTCOME_UNKNOWN, "transport_timeout"},
        {CONSTRA_TRANSPORT_TOO_LARGE, CONSTRA_E_OUTCOME_UNKNOWN, "response_too_large"},
        {CONSTRA_TRANSPORT_PROTOCOL, CONSTRA_E_OUTCOME_UNKNOWN, "transport_protocol"},
        {CONSTRA_TRANSPORT_OTHER, CONSTRA_E_OUTCOME_UNKNOWN, "transport_failed"},
        {99, CONSTRA_E_OUTCOME_UNKNOWN, "transport_failed"}, /* unknown kind: worst case */
    };
    lb_env e;
    lb_open(&e);
    script s = {0};
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_loopback_mount(e.lb, "http://h", scripted, &s, &err), CONSTRA_OK);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        s.failure = cases[i].failure;
        constra_transport_response *resp = (constra_transport_response *)&s; /* must be reset */
        constra_error_clear(&err);
        assert_int_equal(send_simple(&e.t, "POST", "http://h/p", &resp, &err), cases[i].status);
        assert_null(resp);
        assert_string_equal(err.code, cases[i].code);
        assert_int_equal(err.status, cases[i].status);
        assert_non_null(strstr(err.message, "scripted failure"));
    }
    assert_int_equal(constra_transport_failure_not_sent(CONSTRA_TRANSPORT_CONNECT), 1);
    assert_int_equal(constra_transport_failure_not_sent(CONSTRA_TRANSPORT_TIMEOUT), 0);
    assert_string_equal(constra_transport_failure_code(CONSTRA_TRANSPORT_NO_FAILURE), "");

    /* A transport that says OK but produced no status broke its contract:
     * the outcome is unknown, never "fine". */
    s.failure = 0;
    s.return_ok_blank = 1;
    constra_transport_response *resp = NULL;
    assert_int_equal(send_simple(&e.t, "POST", "http://h/p", &resp, &err),
                     CONSTRA_E_OUTCOME_UNKNOWN);
    assert_string_equal(err.code, "transport_protocol");
    assert_null(resp);
    lb_close(&e);
}

static void test_response_cap(void **state)
{
    (void)state;
    lb_env e;
    lb_open(&e);
    script s = {.status = 200, .body = "0123456789", .repeat = 100}; /* 1000 bytes */
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_loopback_mount(e.lb, "http://h", scripted, &s, &err), CONSTRA_OK);
    constra_transport_request req = CONSTRA_TRANSPORT_REQUEST_INIT;
    req.method = "GET";
    req.url = "http://h/";
    req.max_response_bytes = 1000;
    constra_transport_response *resp = NULL;
    assert_int_equal(constra_transport_send(&e.t, NULL, &req, &resp, &err), CONSTRA_OK);
    size_t len;
    constra_transport_response_body(resp, &len);
    assert_int_equal(len, 1000);
    constra_transport_response_free(resp);

    req.max_response_bytes = 999;
    assert_int_equal(constra_transport_send(&e.t, NULL, &req, &resp, &err),
                     CONSTRA_E_OUTCOME_UNKNOWN);
    assert_string_equal(err.code, "response_too_large");
    assert_null(resp);

    /* The default cap is 1 MiB; 2 MiB is refused. */
    s.repeat = 2 * 1024 * 1024 / 10;
    req.max_response_bytes = 0;
    assert_int_equal(constra_transport_send(&e.t, NULL, &req, &resp, &err),
                     CONSTRA_E_OUTCOME_UNKNOWN);
    assert_string_equal(err.code, "response_too_large");

    req.max_response_bytes = CONSTRA_TRANSPORT_RESPONSE_LIMIT + 1;
    assert_int_equal(constra_transport_send(&e.t, NULL, &req, &resp, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "request.max_response_bytes");
    lb_close(&e);
}

static void test_request_checks(void **state)
{
    (void)state;
    lb_env e;
    lb_open(&e);
    script s = {.status = 200, .body = "{}"};
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_loopback_mount(e.lb, "http://h", scripted, &s, &err), CONSTRA_OK);
    constra_transport_response *resp = NULL;

    static const struct {
        const char *method, *url, *param;
    } bad[] = {
        {NULL, "http://h/", "request.method"},
        {"", "http://h/", "request.method"},
        {"GET /x HTTP/1.1\r\n", "http://h/", "request.method"},
        {"GET", NULL, "request.url"},
        {"GET", "", "request.url"},
        {"GET", "ftp://h/", "request.url"},
        {"GET", "http:///x", "request.url"},
        {"GET", "h/x", "request.url"},
        {"GET", "http://h/a b", "request.url"},
        {"GET", "http://h/\r\nX-Evil: 1", "request.url"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        constra_error_clear(&err);
        assert_int_not_equal(send_simple(&e.t, bad[i].method, bad[i].url, &resp, &err),
                             CONSTRA_OK);
        assert_string_equal(err.param, bad[i].param);
        assert_null(resp);
    }
    assert_int_equal(s.calls, 0); /* nothing invalid ever reached the wire */

    constra_transport_request req = CONSTRA_TRANSPORT_REQUEST_INIT;
    req.method = "GET";
    req.url = "http://h/";
    constra_http_header inj[] = {{"X-Ok", "fine"}, {"X-Id", "a\r\nAuthorization: Bearer x"}};
    req.headers = inj;
    req.header_count = 2;
    assert_int_equal(constra_transport_send(&e.t, NULL, &req, &resp, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "request.headers[1].value");
    constra_http_header badname[] = {{"X Bad", "v"}};
    req.headers = badname;
    req.header_count = 1;
    assert_int_equal(constra_transport_send(&e.t, NULL, &req, &resp, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "request.headers[0].name");
    req.headers = NULL;
    assert_int_equal(constra_transport_send(&e.t, NULL, &req, &resp, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "request.headers");
    req.header_count = 0;
    req.body_len = 4;
    assert_int_equal(constra_transport_send(&e.t, NULL, &req, &resp, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "request.body");
    req.body_len = 0;
    req.timeout_ms = -1;
    assert_int_equal(constra_transport_send(&e.t, NULL, &req, &resp, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "request.timeout_ms");
    req.timeout_ms = 0;
    req.struct_size = 0;
    assert_int_equal(constra_transport_send(&e.t, NULL, &req, &resp, &err), CONSTRA_E_ABI);
    req.struct_size = sizeof(req);
    assert_int_equal(constra_transport_send(&e.t, NULL, &req, NULL, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_transport_send(NULL, NULL, &req, &resp, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(s.calls, 0);

    /* A very long URL is refused before it goes anywhere. */
    char *huge = malloc(1 << 20);
    memset(huge, 'a', (1 << 20) - 1);
    memcpy(huge, "http://h/", 9);
    huge[(1 << 20) - 1] = '\0';
    assert_int_equal(send_simple(&e.t, "GET", huge, &resp, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "request.url");
    free(huge);
    lb_close(&e);
}

static void test_vtable_and_setters(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    constra_transport t;
    assert_int_equal(constra_transport_init(&t, sizeof(t)), CONSTRA_OK);
    assert_int_equal(constra_transport_init(NULL, sizeof(t)), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_transport_init(&t, 3), CONSTRA_E_ABI);
    assert_int_equal(constra_transport_check(&t, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "transport.name");
    snprintf(t.name, sizeof(t.name), "Upper");
    assert_int_equal(constra_transport_check(&t, &err), CONSTRA_E_INVALID_ARGUMENT);
    snprintf(t.name, sizeof(t.name), "host-2");
    assert_int_equal(constra_transport_check(&t, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "transport.send");
    t.struct_size = 0;
    assert_int_equal(constra_transport_check(&t, &err), CONSTRA_E_ABI);

    constra_transport_request r;
    assert_int_equal(constra_transport_request_init(&r, sizeof(r)), CONSTRA_OK);
    assert_int_equal(r.struct_size, sizeof(r));
    assert_int_equal(constra_transport_request_init(&r, 1), CONSTRA_E_ABI);

    /* Setters and getters refuse NULL without crashing. */
    assert_int_equal(constra_transport_response_set_status(NULL, 200),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_transport_response_append(NULL, "x", 1),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_transport_response_add_header(NULL, "a", 1, "b", 1),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_transport_response_fail(NULL, 1, "x"), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_transport_response_status(NULL), 0);
    size_t len = 9;
    assert_string_equal(constra_transport_response_body(NULL, &len), "");
    assert_int_equal(len, 0);
    assert_null(constra_transport_response_header(NULL, "a"));
    assert_int_equal(constra_transport_response_header_count(NULL), 0);
    constra_transport_response_free(NULL);

    /* Loopback arguments. */
    constra_loopback *lb = NULL;
    assert_int_equal(constra_loopback_new(NULL, NULL, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_loopback_new(&lb, NULL, &err), CONSTRA_OK);
    static const char *const bad_origins[] = {"", "http://h/", "http://h/path", "ftp://h",
                                              "http://", "http://h h", "h"};
    script s = {0};
    for (size_t i = 0; i < sizeof(bad_origins) / sizeof(bad_origins[0]); i++) {
        assert_int_equal(constra_loopback_mount(lb, bad_origins[i], scripted, &s, &err),
                         CONSTRA_E_INVALID_ARGUMENT);
        assert_string_equal(err.param, "origin");
    }
    assert_int_equal(constra_loopback_mount(lb, NULL, scripted, &s, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_loopback_mount(lb, "http://h", NULL, &s, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_loopback_mount(NULL, "http://h", scripted, &s, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_loopback_transport(lb, NULL, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_loopback_request_count(NULL), 0);
    constra_loopback_free(lb);
    constra_loopback_free(NULL);
}

/* The allocator fails at every allocation of a send: never a crash or a
 * leak, and the result is a clean error. */
static void test_allocation_failures(void **state)
{
    (void)state;
    lb_env e;
    lb_open(&e);
    script s = {.status = 200, .body = "{\"ok\":true}", .repeat = 50};
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_loopback_mount(e.lb, "http://h", scripted, &s, &err), CONSTRA_OK);
    int saw_ok = 0;
    for (long n = 1; n < 60 && !saw_ok; n++) {
        counting_alloc a = {.fail_at = n};
        constra_platform p;
        ca_platform(&p, &a);
        constra_transport_request req = CONSTRA_TRANSPORT_REQUEST_INIT;
        req.method = "GET";
        req.url = "http://h/";
        constra_transport_response *resp = NULL;
        int rc = constra_transport_send(&e.t, &p, &req, &resp, &err);
        if (rc == CONSTRA_OK) {
            saw_ok = 1;
            constra_transport_response_free(resp);
        } else {
            assert_null(resp);
            assert_true(rc == CONSTRA_E_NOMEM || rc == CONSTRA_E_OUTCOME_UNKNOWN);
        }
        assert_int_equal(a.live, 0);
    }
    assert_true(saw_ok);
    lb_close(&e);
}

/* The REST router behind the loopback: the seed create over "HTTP". */
static void test_api_loopback(void **state)
{
    (void)state;
    constra_config cfg = CONSTRA_CONFIG_INIT;
    cfg.secret_key = SECRET;
    constra_t *h = NULL;
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_open(&h, &cfg, &err), CONSTRA_OK);
    lb_env e;
    lb_open(&e);
    assert_int_equal(constra_loopback_mount(e.lb, "http://constra.test",
                                            constra_api_loopback_handler, h, &err),
                     CONSTRA_OK);
    static const char body[] =
        "{\"amount\":1250,\"currency\":\"KES\",\"provider\":\"mpesa\",\"customer\":{\"name\":"
        "\"Amina N.\",\"phone_number\":\"254700000000\"},\"reference\":\"order_7429\","
        "\"description\":\"Solar home kit deposit\",\"agent_policy\":\"operator_review\"}";
    constra_http_header hs[] = {{"Authorization", "Bearer " SECRET},
                                {"Idempotency-Key", "order_7429_deposit"},
                                {"Content-Type", "application/json"}};
    constra_transport_request req = CONSTRA_TRANSPORT_REQUEST_INIT;
    req.method = "POST";
    req.url = "http://constra.test/api/v1/payment-intents";
    req.headers = hs;
    req.header_count = 3;
    req.body = body;
    req.body_len = sizeof(body) - 1;
    constra_transport_response *first = NULL, *again = NULL;
    assert_int_equal(constra_transport_send(&e.t, NULL, &req, &first, &err), CONSTRA_OK);
    assert_int_equal(constra_transport_response_status(first), 201);
    const char *json = constra_transport_response_body(first, NULL);
    assert_non_null(strstr(json, "\"status\":\"pending_user_action\""));
    assert_string_equal(constra_transport_response_header(first, "content-type"),
                        "application/json");
    assert_int_equal(constra_transport_send(&e.t, NULL, &req, &again, &err), CONSTRA_OK);
    assert_string_equal(constra_transport_response_body(again, NULL), json);
    assert_string_equal(constra_transport_response_header(again, "Idempotent-Replayed"), "true");
    constra_transport_response_free(first);
    constra_transport_response_free(again);

    /* Without the key: the router's 401 comes back as a response. */
    req.header_count = 0;
    req.url = "http://constra.test/v1/payment-intents";
    req.method = "GET";
    req.body = NULL;
    req.body_len = 0;
    assert_int_equal(constra_transport_send(&e.t, NULL, &req, &first, &err), CONSTRA_OK);
    assert_int_equal(constra_transport_response_status(first), 401);
    constra_transport_response_free(first);
    /* A bare origin is the target "/": the router's 404. */
    req.url = "http://constra.test";
    req.header_count = 1;
    assert_int_equal(constra_transport_send(&e.t, NULL, &req, &first, &err), CONSTRA_OK);
    assert_int_equal(constra_transport_response_status(first), 404);
    constra_transport_response_free(first);
    lb_close(&e);
    constra_close(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loopback_dispatch),
        cmocka_unit_test(test_failure_classification),
        cmocka_unit_test(test_response_cap),
        cmocka_unit_test(test_request_checks),
        cmocka_unit_test(test_vtable_and_setters),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_api_loopback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
