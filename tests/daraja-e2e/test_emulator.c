/* The Daraja emulator alone: it checks requests as Daraja does and
 * answers with Daraja's shapes (doc/DARAJA.md), which the library's own
 * parsers read back. */
#include "../unit/testutil.h"

#include <stdio.h>
#include <string.h>

#include "constra/daraja_emulator.h"

static int64_t clock_ms = INT64_C(1764239894625);
static int64_t now_fn(void *ud)
{
    (void)ud;
    return clock_ms;
}

typedef struct fx {
    constra_platform plat;
    constra_daraja_emulator *emu;
    char bearer[600];
} fx;

static constra_transport_response *call(fx *f, const char *method, const char *target,
                                        const char *auth, const char *ctype, const char *body)
{
    constra_http_header h[2];
    size_t n = 0;
    if (auth) {
        h[n++] = (constra_http_header){"Authorization", auth};
    }
    if (ctype) {
        h[n++] = (constra_http_header){"Content-Type", ctype};
    }
    constra_transport_request r = CONSTRA_TRANSPORT_REQUEST_INIT;
    r.method = method;
    r.url = target;
    r.headers = h;
    r.header_count = n;
    r.body = body;
    r.body_len = body ? strlen(body) : 0;
    constra_transport_response *resp = NULL;
    assert_int_equal(constra_daraja_emulator_serve(f->emu, &r, &resp, NULL), CONSTRA_OK);
    return resp;
}

static void token(fx *f)
{
    char basic[CONSTRA_DARAJA_AUTH_HEADER_SIZE];
    assert_int_equal(constra_daraja_oauth_request("emulator-consumer-key",
                                                  "emulator-consumer-secret", NULL, NULL, basic,
                                                  sizeof(basic), NULL, NULL),
                     CONSTRA_OK);
    constra_transport_response *r =
        call(f, "GET", "/oauth/v1/generate?grant_type=client_credentials", basic, NULL, NULL);
    assert_int_equal(constra_transport_response_status(r), 200);
    size_t len;
    const char *b = constra_transport_response_body(r, &len);
    constra_daraja_oauth_response o = CONSTRA_DARAJA_OAUTH_RESPONSE_INIT;
    assert_int_equal(constra_daraja_parse_oauth_response(b, len, 200, &o, NULL), CONSTRA_OK);
    assert_int_equal(o.expires_in, 3599);
    snprintf(f->bearer, sizeof(f->bearer), "Bearer %s", o.access_token);
    constra_transport_response_free(r);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    constra_platform p = CONSTRA_PLATFORM_INIT;
    p.wall_time_ms = now_fn;
    f->plat = p;
    assert_int_equal(constra_daraja_emulator_new(&f->emu, NULL, NULL, &f->plat, NULL), CONSTRA_OK);
    token(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    constra_daraja_emulator_free(f->emu);
    free(f);
    return 0;
}

static void push_body(char *out, size_t size, const char *shortcode, const char *passkey,
                      const char *phone, int64_t amount, const char *ref)
{
    constra_daraja_stk_push_params p = CONSTRA_DARAJA_STK_PUSH_INIT;
    p.transaction_type = CONSTRA_DARAJA_STK_PAYBILL;
    p.business_shortcode = shortcode;
    p.passkey = passkey;
    p.amount = amount;
    p.amount_max = 1000000;
    p.phone_number = phone;
    p.callback_url = "https://merchant.example/cb";
    p.account_reference = ref;
    p.transaction_desc = "Payment";
    size_t len;
    assert_int_equal(constra_daraja_stk_push_body(&p, clock_ms / 1000, out, size, &len, NULL, 0,
                                                  NULL, 0, NULL),
                     CONSTRA_OK);
}

/* Sends a push body; returns the status and the errorMessage (or ""). */
static int push(fx *f, const char *body, const char *ctype, char *msg, size_t msg_size,
                char *checkout)
{
    constra_transport_response *r = call(f, "POST", CONSTRA_DARAJA_STK_PUSH_PATH, f->bearer,
                                         ctype, body);
    int status = constra_transport_response_status(r);
    size_t len;
    const char *b = constra_transport_response_body(r, &len);
    constra_daraja_stk_push_response pr = CONSTRA_DARAJA_STK_PUSH_RESPONSE_INIT;
    assert_int_equal(constra_daraja_parse_stk_push_response(b, len, status, &pr, NULL), CONSTRA_OK);
    snprintf(msg, msg_size, "%s %s", pr.error_code, pr.error_message);
    if (checkout) {
        snprintf(checkout, 128, "%s", pr.checkout_request_id);
    }
    constra_transport_response_free(r);
    return status;
}

static void replace(char *s, const char *from, const char *to)
{
    char *p = strstr(s, from);
    assert_non_null(p);
    size_t fl = strlen(from), tl = strlen(to);
    memmove(p + tl, p + fl, strlen(p + fl) + 1);
    memcpy(p, to, tl);
}

static void test_push_checks(void **state)
{
    fx *f = *state;
    char body[2048], msg[600], co[128];
    push_body(body, sizeof(body), "174379", CONSTRA_DARAJA_SANDBOX_PASSKEY, "254708374149", 10,
              "order1");
    /* Without the JSON content type: Daraja's misleading answer. */
    assert_int_equal(push(f, body, "text/plain", msg, sizeof(msg), NULL), 400);
    assert_string_equal(msg, "400.002.02 Bad Request - Invalid BusinessShortCode");
    assert_int_equal(push(f, body, "application/json", msg, sizeof(msg), co), 200);
    assert_true(strncmp(co, "ws_CO_", 6) == 0);
    /* The same subscriber again while the prompt is open. */
    assert_int_equal(push(f, body, "application/json", msg, sizeof(msg), NULL), 500);
    assert_non_null(strstr(msg, "Unable to lock subscriber"));

    struct {
        const char *from, *to, *want;
    } cases[] = {
        {"\"Amount\":\"10\"", "\"Amount\":0", "Invalid Amount"},
        {"\"Amount\":\"10\"", "\"Amount\":\"250001\"", "Invalid Amount"},
        {"\"Amount\":\"10\"", "\"Amount\":1.5", "Invalid Amount"},
        {"\"PhoneNumber\":\"254708374149\"", "\"PhoneNumber\":\"0708374149\"", "Invalid PhoneNumber"},
        {"\"PartyA\":\"254708374149\"", "\"PartyA\":\"25470837414\"", "Invalid PartyA"},
        {"\"AccountReference\":\"order1\"", "\"AccountReference\":\"order12345678\"",
         "Invalid AccountReference"},
        {"\"TransactionDesc\":\"Payment\"", "\"TransactionDesc\":\"Payment123456789\"",
         "Invalid Remarks"},
        {"\"CallBackURL\":\"https://merchant.example/cb\"", "\"CallBackURL\":\"ftp://x\"",
         "Invalid CallBackURL"},
        {"\"TransactionType\":\"CustomerPayBillOnline\"", "\"TransactionType\":\"Pay\"",
         "Invalid TransactionType"},
    };
    clock_ms += 3600 * 1000; /* no open prompt for the number any more */
    token(f);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char b2[2048];
        push_body(b2, sizeof(b2), "174379", CONSTRA_DARAJA_SANDBOX_PASSKEY, "254708374149", 10,
                  "order1");
        replace(b2, cases[i].from, cases[i].to);
        assert_int_equal(push(f, b2, "application/json", msg, sizeof(msg), NULL), 400);
        if (strstr(msg, cases[i].want) == NULL) {
            fail_msg("case %zu: %s", i, msg);
        }
    }
    /* Timestamp: format, then password made of another timestamp. */
    char b3[2048];
    push_body(b3, sizeof(b3), "174379", CONSTRA_DARAJA_SANDBOX_PASSKEY, "254708374149", 10,
              "order1");
    char *ts = strstr(b3, "\"Timestamp\":\"") + 13;
    char saved = ts[13];
    ts[13] = 'X';
    assert_int_equal(push(f, b3, "application/json", msg, sizeof(msg), NULL), 400);
    assert_string_equal(msg, "400.002.02 Bad Request - Invalid Timestamp");
    ts[13] = saved == '9' ? '8' : (char)(saved + 1);
    assert_int_equal(push(f, b3, "application/json", msg, sizeof(msg), NULL), 500);
    assert_string_equal(msg, "500.001.1001 [MerchantValidate] - Wrong credentials");
    /* Wrong passkey; unknown shortcode. */
    push_body(b3, sizeof(b3), "174379", "wrongpasskey", "254708374149", 10, "order1");
    assert_int_equal(push(f, b3, "application/json", msg, sizeof(msg), NULL), 500);
    assert_string_equal(msg, "500.001.1001 [MerchantValidate] - Wrong credentials");
    push_body(b3, sizeof(b3), "600000", "anykey", "254708374149", 10, "order1");
    assert_int_equal(push(f, b3, "application/json", msg, sizeof(msg), NULL), 500);
    assert_string_equal(msg, "500.001.1001 Merchant does not exist");
    /* Another shortcode, once configured, works. */
    assert_int_equal(constra_daraja_emulator_add_shortcode(f->emu, "600000", "anykey", NULL),
                     CONSTRA_OK);
    assert_int_equal(push(f, b3, "application/json", msg, sizeof(msg), NULL), 200);
    assert_int_equal(constra_daraja_emulator_count(f->emu, CONSTRA_DARAJA_EMU_PROMPTS), 2);
}

static void test_auth_and_routes(void **state)
{
    fx *f = *state;
    constra_transport_response *r;
    char body[2048];
    push_body(body, sizeof(body), "174379", CONSTRA_DARAJA_SANDBOX_PASSKEY, "254711000000", 10,
              "order1");
    struct {
        const char *method, *target, *auth;
        int status;
        const char *code;
    } cases[] = {
        {"POST", CONSTRA_DARAJA_STK_PUSH_PATH, NULL, 404, "404.001.03"},
        {"POST", CONSTRA_DARAJA_STK_PUSH_PATH, "Bearer nope", 404, "404.001.03"},
        {"GET", CONSTRA_DARAJA_STK_PUSH_PATH, f->bearer, 405, "405.001"},
        {"POST", "/mpesa/nothing/v1", f->bearer, 404, "404.001.01"},
        {"GET", "/oauth/v1/generate?grant_type=password", NULL, 400, "400.008.02"},
        {"GET", "/oauth/v1/generate?grant_type=client_credentials", "Bearer x", 400, "400.008.01"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        r = call(f, cases[i].method, cases[i].target, cases[i].auth, "application/json", body);
        assert_int_equal(constra_transport_response_status(r), cases[i].status);
        size_t len;
        const char *b = constra_transport_response_body(r, &len);
        constra_daraja_error_envelope env = CONSTRA_DARAJA_ERROR_ENVELOPE_INIT;
        assert_int_equal(constra_daraja_parse_error_envelope(b, len, cases[i].status, &env, NULL),
                         CONSTRA_OK);
        assert_string_equal(env.error_code, cases[i].code);
        constra_transport_response_free(r);
    }
    /* Wrong consumer secret: 400 with an empty body (as production does). */
    r = call(f, "GET", "/oauth/v1/generate?grant_type=client_credentials",
             "Basic d3Jvbmc6d3Jvbmc=", NULL, NULL);
    assert_int_equal(constra_transport_response_status(r), 400);
    size_t len;
    constra_transport_response_body(r, &len);
    assert_int_equal(len, 0);
    constra_transport_response_free(r);
    /* An expired token is refused. */
    clock_ms += 3600 * 1000;
    char msg[600];
    assert_int_equal(push(f, body, "application/json", msg, sizeof(msg), NULL), 404);
    assert_string_equal(msg, "404.001.03 Invalid Access Token");
}

static int query(fx *f, const char *checkout, constra_daraja_stk_query_response *q)
{
    constra_daraja_stk_query_params p = CONSTRA_DARAJA_STK_QUERY_INIT;
    p.business_shortcode = "174379";
    p.passkey = CONSTRA_DARAJA_SANDBOX_PASSKEY;
    p.checkout_request_id = checkout;
    char body[1024];
    size_t blen;
    assert_int_equal(constra_daraja_stk_query_body(&p, clock_ms / 1000, body, sizeof(body), &blen,
                                                   NULL, 0, NULL, 0, NULL),
                     CONSTRA_OK);
    constra_transport_response *r = call(f, "POST", CONSTRA_DARAJA_STK_QUERY_PATH, f->bearer,
                                         "application/json", body);
    int status = constra_transport_response_status(r);
    size_t len;
    const char *b = constra_transport_response_body(r, &len);
    assert_int_equal(constra_daraja_parse_stk_query_response(b, len, status, q, NULL), CONSTRA_OK);
    constra_transport_response_free(r);
    return status;
}

static void test_query_shapes(void **state)
{
    fx *f = *state;
    char body[2048], msg[600], co[128];
    assert_int_equal(constra_daraja_emulator_set_outcome(f->emu, "254722000000", "1032", NULL),
                     CONSTRA_OK);
    push_body(body, sizeof(body), "174379", CONSTRA_DARAJA_SANDBOX_PASSKEY, "254722000000", 10,
              "order1");
    assert_int_equal(push(f, body, "application/json", msg, sizeof(msg), co), 200);
    constra_daraja_stk_query_response q = CONSTRA_DARAJA_STK_QUERY_RESPONSE_INIT;
    /* Both pending shapes, alternately. */
    assert_int_equal(query(f, co, &q), 500);
    assert_int_equal(q.state, CONSTRA_DARAJA_QUERY_PENDING);
    assert_string_equal(q.error_code, "500.001.1001");
    assert_int_equal(query(f, co, &q), 200);
    assert_int_equal(q.state, CONSTRA_DARAJA_QUERY_PENDING);
    assert_string_equal(q.result_code, "4999");
    clock_ms += 20000;
    assert_int_equal(query(f, co, &q), 200);
    assert_int_equal(q.state, CONSTRA_DARAJA_QUERY_FINAL);
    assert_string_equal(q.result_code, "1032");
    assert_string_equal(q.checkout_request_id, co);
    /* Unknown id. */
    assert_int_equal(query(f, "ws_CO_unknown", &q), 400);
    assert_int_equal(q.state, CONSTRA_DARAJA_QUERY_ERROR);
    assert_int_equal(constra_daraja_emulator_count(f->emu, CONSTRA_DARAJA_EMU_QUERY), 4);
    /* No callback transport: pumping counts the callback, sends nothing. */
    assert_int_equal(constra_daraja_emulator_pump(f->emu, clock_ms), 1);
    assert_int_equal(constra_daraja_emulator_pump(f->emu, clock_ms), 0);
}

static void test_bad_arguments(void **state)
{
    fx *f = *state;
    assert_int_equal(constra_daraja_emulator_add_shortcode(f->emu, "12", "k", NULL),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_daraja_emulator_add_shortcode(f->emu, "123456", NULL, NULL),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_daraja_emulator_set_outcome(f->emu, "0712", "0", NULL),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_daraja_emulator_set_fault(f->emu, 99, 1), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_daraja_emulator_set_fault(NULL, 1, 1), CONSTRA_E_INVALID_ARGUMENT);
    constra_daraja_emulator *e = NULL;
    constra_daraja_emulator_options o = CONSTRA_DARAJA_EMULATOR_OPTIONS_INIT;
    o.result_delay_ms = -1;
    assert_int_equal(constra_daraja_emulator_new(&e, &o, NULL, NULL, NULL),
                     CONSTRA_E_INVALID_ARGUMENT);
    o.result_delay_ms = 0;
    o.consumer_key = "has space";
    assert_int_equal(constra_daraja_emulator_new(&e, &o, NULL, NULL, NULL),
                     CONSTRA_E_INVALID_ARGUMENT);
    o.struct_size = 0;
    assert_int_equal(constra_daraja_emulator_new(&e, &o, NULL, NULL, NULL), CONSTRA_E_ABI);
    assert_null(e);
    constra_transport_request r = CONSTRA_TRANSPORT_REQUEST_INIT;
    r.method = "GET";
    r.url = "/oauth\r\n";
    constra_transport_response *resp = NULL;
    assert_int_equal(constra_daraja_emulator_serve(f->emu, &r, &resp, NULL),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_daraja_emulator_count(f->emu, 42), 0);
    constra_daraja_emulator_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_push_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_and_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
