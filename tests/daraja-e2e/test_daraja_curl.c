/* End to end over real HTTP: the Daraja rail's curl transport talks to
 * the emulator behind a tiny HTTP server on 127.0.0.1 (tests/transport/
 * http_server.c), as `constra serve --emulate-daraja` would serve it. */
#define _GNU_SOURCE
#include "e2e.h"

#include "constra/transport_curl.h"
#include "constra_config.h"
#include "../transport/http_server.h"

#if CONSTRA_HAVE_CURL

static char base_url[64];
static constra_daraja_emulator *served;

/* Serves one HTTP request with the emulator. */
static int serve(void *ctx, int fd, const test_http_request *req)
{
    (void)ctx;
    constra_http_header hs[32];
    char names[32][64], values[32][512];
    size_t n = 0;
    const char *p = req->headers;
    while (*p && n < 32) {
        const char *eol = strstr(p, "\r\n");
        const char *colon = memchr(p, ':', eol ? (size_t)(eol - p) : 0);
        if (eol == NULL) {
            break;
        }
        if (colon) {
            snprintf(names[n], sizeof(names[n]), "%.*s", (int)(colon - p), p);
            const char *v = colon + 1;
            while (*v == ' ') {
                v++;
            }
            snprintf(values[n], sizeof(values[n]), "%.*s", (int)(eol - v), v);
            hs[n].name = names[n];
            hs[n].value = values[n];
            n++;
        }
        p = eol + 2;
    }
    constra_transport_request r = CONSTRA_TRANSPORT_REQUEST_INIT;
    r.method = req->method;
    r.url = req->target;
    r.headers = hs;
    r.header_count = n;
    r.body = req->body;
    r.body_len = req->body_len;
    constra_transport_response *resp = NULL;
    char head[256];
    if (constra_daraja_emulator_serve(served, &r, &resp, NULL) != CONSTRA_OK) {
        int k = snprintf(head, sizeof(head), "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n");
        test_http_write(fd, head, (size_t)k);
        return 0;
    }
    size_t len;
    const char *body = constra_transport_response_body(resp, &len);
    const char *ct = constra_transport_response_header(resp, "Content-Type");
    int k = snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\n%s%s%sContent-Length: %zu\r\n\r\n",
                     constra_transport_response_status(resp), ct ? "Content-Type: " : "",
                     ct ? ct : "", ct ? "\r\n" : "", len);
    test_http_write(fd, head, (size_t)k);
    test_http_write(fd, body, len);
    constra_transport_response_free(resp);
    return 1;
}

static void over_http(constra_daraja_config *c)
{
    c->base_url = base_url;
    c->request_timeout_ms = 10000;
}

static e2e *open_curl(test_http_server **srv)
{
    *srv = test_http_start(serve, NULL);
    assert_non_null(*srv);
    snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%d", test_http_port(*srv));
    constra_transport tr;
    assert_int_equal(constra_transport_curl(&tr, NULL, NULL), CONSTRA_OK);
    /* The emulator is created inside e2e_open_with; the server reads
     * `served` only once a request arrives (after open). */
    e2e *f = e2e_open_with(over_http, &tr);
    served = f->emu;
    return f;
}

static void close_curl(e2e *f, test_http_server *srv)
{
    e2e_close(f); /* the rail (and its curl connections) go first */
    test_http_stop(srv);
}

static void test_happy_path_over_curl(void **state)
{
    (void)state;
    test_http_server *srv;
    e2e *f = open_curl(&srv);
    char id[64];
    assert_int_equal(e2e_create(f, "0708374149", 10, id, sizeof(id)), CONSTRA_OK);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_PENDING_USER_ACTION);
    e2e_advance(f, 20000);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_SUCCEEDED);
    char receipt[32];
    e2e_get(f, id, receipt, sizeof(receipt), constra_intent_receipt);
    assert_int_equal(strlen(receipt), 10);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_OAUTH), 1);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_PUSH), 1);
    /* OAuth + push + confirming query went over HTTP. */
    assert_true(test_http_count(srv) >= 3);
    close_curl(f, srv);
}

static void test_faults_over_curl(void **state)
{
    (void)state;
    test_http_server *srv;
    e2e *f = open_curl(&srv);
    /* 503 with HTML on the push: outcome unknown, then review. */
    constra_daraja_emulator_set_fault(f->emu, CONSTRA_DARAJA_FAULT_PUSH_503, 1);
    char id[64];
    assert_int_equal(e2e_create(f, "254708374149", 10, id, sizeof(id)), CONSTRA_OK);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_PENDING_USER_ACTION);
    e2e_advance(f, 300000);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_REVIEW_REQUIRED);
    assert_true(e2e_event_has(f, id, "outcome_unknown"));
    /* Spike arrest once, then a token expiring mid-flow. */
    constra_daraja_emulator_set_fault(f->emu, CONSTRA_DARAJA_FAULT_SPIKE_ARREST, 1);
    assert_int_equal(e2e_create(f, "254711000000", 10, id, sizeof(id)), CONSTRA_OK);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_PENDING_USER_ACTION);
    constra_daraja_emulator_expire_tokens(f->emu);
    e2e_advance(f, 20000);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_SUCCEEDED);
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_PROMPTS), 1);
    close_curl(f, srv);
}

static void test_emulator_down_over_curl(void **state)
{
    (void)state;
    test_http_server *srv;
    e2e *f = open_curl(&srv);
    /* Nobody listens any more: not sent, retry later; nothing pushed. */
    int port = test_http_port(srv);
    (void)port;
    test_http_stop(srv);
    char id[64];
    assert_int_equal(e2e_create(f, "254708374149", 10, id, sizeof(id)), CONSTRA_OK);
    assert_int_equal(e2e_status(f, id), CONSTRA_INTENT_REQUIRES_RECOVERY);
    char action[32];
    e2e_get(f, id, action, sizeof(action), constra_intent_recommended_action);
    assert_string_equal(action, "retry_later");
    assert_int_equal(e2e_count(f, CONSTRA_DARAJA_EMU_PUSH), 0);
    e2e_close(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_happy_path_over_curl),
        cmocka_unit_test(test_faults_over_curl),
        cmocka_unit_test(test_emulator_down_over_curl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#else

static void test_no_curl(void **state)
{
    (void)state;
    constra_transport tr;
    assert_int_equal(constra_transport_curl(&tr, NULL, NULL), CONSTRA_E_UNSUPPORTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_no_curl)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
