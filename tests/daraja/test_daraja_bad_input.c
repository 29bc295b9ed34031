/* Every parser against hostile input: NULL arguments, bad struct sizes,
 * empty and oversized bodies, every truncation of every sample, NUL bytes,
 * "\u0000", deep nesting, non-JSON numbers, wrong types, huge numbers,
 * fractions, duplicate keys and items, missing fields, arrays where
 * objects belong, oversize texts, bad UTF-8 — and a seeded mutation loop.
 * Each must fail with CONSTRA_E_PARSE (or INVALID_ARGUMENT / ABI for
 * caller errors), name the JSON path in err->param, and leave the result
 * struct zeroed. */
#include "daraja_test.h"

/* ---- one adapter per parser ------------------------------------------- */

typedef struct parser {
    const char *name;
    const char *vector;  /* a valid sample */
    int http_status;     /* for the sample; -1: the parser takes none */
    int (*parse)(const char *body, size_t len, int http_status, void *out, constra_error *err);
    size_t size;         /* sizeof the result struct */
    const char *malformed; /* expected code for bad JSON */
} parser;

static int p_callback(const char *b, size_t n, int h, void *out, constra_error *e)
{
    (void)h;
    return constra_daraja_parse_stk_callback(b, n, out, e);
}
static int p_c2b(const char *b, size_t n, int h, void *out, constra_error *e)
{
    (void)h;
    return constra_daraja_parse_c2b(b, n, out, e);
}
static int p_b2c(const char *b, size_t n, int h, void *out, constra_error *e)
{
    (void)h;
    return constra_daraja_parse_b2c_result(b, n, out, e);
}
static int p_push(const char *b, size_t n, int h, void *out, constra_error *e)
{
    return constra_daraja_parse_stk_push_response(b, n, h, out, e);
}
static int p_query(const char *b, size_t n, int h, void *out, constra_error *e)
{
    return constra_daraja_parse_stk_query_response(b, n, h, out, e);
}
static int p_envelope(const char *b, size_t n, int h, void *out, constra_error *e)
{
    return constra_daraja_parse_error_envelope(b, n, h, out, e);
}
static int p_oauth(const char *b, size_t n, int h, void *out, constra_error *e)
{
    return constra_daraja_parse_oauth_response(b, n, h, out, e);
}

static const parser parsers[] = {
    {"stk_callback", "stk_callback_success.json", -1, p_callback,
     sizeof(constra_daraja_stk_callback), "callback_malformed"},
    {"stk_callback_cancelled", "stk_callback_cancelled.json", -1, p_callback,
     sizeof(constra_daraja_stk_callback), "callback_malformed"},
    {"c2b", "c2b_confirmation.json", -1, p_c2b, sizeof(constra_daraja_c2b), "callback_malformed"},
    {"b2c", "b2c_result.json", -1, p_b2c, sizeof(constra_daraja_b2c_result),
     "callback_malformed"},
    {"stk_push_response", "stk_push_response.json", 200, p_push,
     sizeof(constra_daraja_stk_push_response), "response_malformed"},
    {"stk_query_final", "stk_query_response_final.json", 200, p_query,
     sizeof(constra_daraja_stk_query_response), "response_malformed"},
    {"stk_query_500", "stk_query_pending_500.json", 500, p_query,
     sizeof(constra_daraja_stk_query_response), "response_malformed"},
    {"stk_query_4999", "stk_query_pending_4999.json", 200, p_query,
     sizeof(constra_daraja_stk_query_response), "response_malformed"},
    {"error_envelope", "error_envelope.json", 400, p_envelope,
     sizeof(constra_daraja_error_envelope), "response_malformed"},
    {"oauth", "oauth_response.json", 200, p_oauth, sizeof(constra_daraja_oauth_response),
     "response_malformed"},
};
#define NPARSERS (sizeof(parsers) / sizeof(parsers[0]))

/* Large enough for every result struct, with a guard tail. */
typedef struct result_buf {
    union {
        size_t struct_size;
        unsigned char bytes[4096];
    } u;
} result_buf;

static void result_reset(result_buf *r, size_t size)
{
    memset(r, 0, sizeof(*r));
    r->u.struct_size = size;
}

/* Runs a parser; on failure checks the result struct was zeroed. */
static int run(const parser *p, const char *body, size_t len, int http, constra_error *err)
{
    static result_buf r;
    result_reset(&r, p->size);
    /* A previous success must not survive a failure. */
    size_t vlen;
    char sample[8192];
    const char *v = vector(p->vector, &vlen);
    memcpy(sample, v, vlen);
    if (p->parse(sample, vlen, p->http_status < 0 ? 200 : p->http_status, &r, NULL) !=
        CONSTRA_OK) {
        fail_msg("%s: the sample does not parse", p->name);
    }
    int rc = p->parse(body, len, http, &r, err);
    if (rc != CONSTRA_OK) {
        assert_int_equal(r.u.struct_size, p->size);
        for (size_t i = sizeof(size_t); i < p->size; i++) {
            if (r.u.bytes[i] != 0) {
                fail_msg("%s: result byte %zu not zeroed after failure", p->name, i);
            }
        }
    }
    for (size_t i = p->size; i < sizeof(r.u.bytes); i++) {
        if (r.u.bytes[i] != 0) {
            fail_msg("%s: wrote past the result struct (byte %zu)", p->name, i);
        }
    }
    return rc;
}

static int http_of(const parser *p)
{
    return p->http_status < 0 ? 200 : p->http_status;
}

/* ---- generic checks for all parsers -------------------------------------- */

static void test_arguments(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    for (size_t i = 0; i < NPARSERS; i++) {
        const parser *p = &parsers[i];
        size_t len;
        const char *body = vector(p->vector, &len);
        result_buf r;
        result_reset(&r, p->size);
        assert_fails(p->parse(NULL, len, http_of(p), &r, &err), err, CONSTRA_E_INVALID_ARGUMENT,
                     "parameter_missing", "body");
        assert_fails(p->parse(NULL, 0, http_of(p), &r, &err), err, CONSTRA_E_INVALID_ARGUMENT,
                     "parameter_missing", "body");
        assert_fails(p->parse(body, len, http_of(p), NULL, &err), err,
                     CONSTRA_E_INVALID_ARGUMENT, "parameter_missing", "out");
        r.u.struct_size = 0;
        assert_fails(p->parse(body, len, http_of(p), &r, &err), err, CONSTRA_E_ABI,
                     "abi_mismatch", "out");
        r.u.struct_size = p->size - 1;
        assert_fails(p->parse(body, len, http_of(p), &r, &err), err, CONSTRA_E_ABI,
                     "abi_mismatch", "out");
        r.u.struct_size = (size_t)-1;
        assert_fails(p->parse(body, len, http_of(p), &r, &err), err, CONSTRA_E_ABI,
                     "abi_mismatch", "out");
        /* Newer caller: a bigger struct with a dirty tail is refused. */
        result_reset(&r, p->size + 8);
        r.u.bytes[p->size + 2] = 1;
        assert_fails(p->parse(body, len, http_of(p), &r, &err), err, CONSTRA_E_ABI,
                     "abi_mismatch", "out");
        /* err NULL is fine. */
        result_reset(&r, p->size);
        assert_int_equal(p->parse(NULL, 0, http_of(p), &r, NULL), CONSTRA_E_INVALID_ARGUMENT);
        if (p->http_status >= 0) {
            const int bad[] = {0, 99, 600, -5, 1000};
            for (size_t k = 0; k < 5; k++) {
                result_reset(&r, p->size);
                assert_fails(p->parse(body, len, bad[k], &r, &err), err,
                             CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "http_status");
            }
        }
    }
}

static void test_sizes(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    size_t big = (size_t)1 << 20;
    char *buf = malloc(big + 16);
    assert_non_null(buf);
    for (size_t i = 0; i < NPARSERS; i++) {
        const parser *p = &parsers[i];
        assert_fails(run(p, "", 0, http_of(p), &err), err, CONSTRA_E_PARSE, "body_empty", "body");
        /* A sample padded with whitespace to exactly the limit parses. */
        size_t len;
        const char *v = vector(p->vector, &len);
        memcpy(buf, v, len);
        memset(buf + len, ' ', CONSTRA_DARAJA_BODY_MAX - len);
        assert_ok(run(p, buf, CONSTRA_DARAJA_BODY_MAX, http_of(p), &err), err);
        buf[CONSTRA_DARAJA_BODY_MAX] = ' ';
        assert_fails(run(p, buf, CONSTRA_DARAJA_BODY_MAX + 1, http_of(p), &err), err,
                     CONSTRA_E_PARSE, "body_too_large", "body");
        /* A 1 MiB string. */
        memcpy(buf, "{\"Body\":\"", 9);
        memset(buf + 9, 'A', big - 11);
        memcpy(buf + big - 2, "\"}", 2);
        assert_fails(run(p, buf, big, http_of(p), &err), err, CONSTRA_E_PARSE, "body_too_large",
                     "body");
    }
    free(buf);
}

static void test_truncations(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    for (size_t i = 0; i < NPARSERS; i++) {
        const parser *p = &parsers[i];
        size_t len;
        char sample[8192];
        const char *v = vector(p->vector, &len);
        memcpy(sample, v, len);
        while (len > 0 && (sample[len - 1] == '\n' || sample[len - 1] == ' ')) {
            len--;
        }
        for (size_t n = 1; n < len; n++) {
            /* A copy of exactly n bytes, so ASan sees any over-read. */
            char *copy = malloc(n);
            assert_non_null(copy);
            memcpy(copy, sample, n);
            int rc = run(p, copy, n, http_of(p), &err);
            free(copy);
            if (rc != CONSTRA_E_PARSE || strcmp(err.code, p->malformed) != 0) {
                fail_msg("%s truncated to %zu bytes: rc %d code %s", p->name, n, rc, err.code);
            }
        }
    }
}

/* Bodies that are not strict JSON: rejected by every parser alike. */
static void test_not_json(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    static const struct {
        const char *body;
        size_t len; /* 0: strlen */
    } cases[] = {
        {"{\"Body\":}", 0},
        {"{'Body':1}", 0},
        {"{\"Body\":{}} x", 0},
        {"{}{}", 0},
        {"{\"a\":01}", 0},
        {"{\"a\":+1}", 0},
        {"{\"a\":1.}", 0},
        {"{\"a\":.5}", 0},
        {"{\"a\":NaN}", 0},
        {"{\"a\":Infinity}", 0},
        {"{\"a\":-}", 0},
        {"{\"a\":1e}", 0},
        {"{\"a\":1e+}", 0},
        {"{\"a\":0x10}", 0},
        {"{\"a\":1.5.3}", 0},
        {"{\"a\":1-2}", 0},
        {"/*c*/{}", 0},
        {"{} // c", 0},
        {"{\"a\":\"\x01\"}", 0},
        {"{\"a\":\"tab\there\"}", 0},
        {"{\"a\":\"\\u0000\"}", 0},
        {"{\"a\\u0000b\":1}", 0},
        {"{\"a\":\"\\q\"}", 0},
        {"{\"a\":\"\\u12\"}", 0},
        {"{\"a\":\"\\u12G4\"}", 0},
        {"{\"a\":\"\\ud800\"}", 0},
        {"{\"a\":\"\\udc00\"}", 0},
        {"{\"a\":\"\\ud800\\u0041\"}", 0},
        {"{\"a\":\"\\ud800x\"}", 0},
        {"{\"a\":\"\\ud800\\ud800\"}", 0},
        /* 64 digits: longer than any number cJSON can take */
        {"{\"a\":1234567890123456789012345678901234567890123456789012345678901234}", 0},
        {"{\"a\":[1 2]}", 0},
        {"{\"a\":{\"b\"}}", 0},
        {"{\"a\":{1:2}}", 0},
        {"{,}", 0},
        {"{\"a\":1,,\"b\":2}", 0},
        {"{\"a\"::1}", 0},
        {"[}", 0},
        {"{]", 0},
        {"{\"a\":[}]}", 0},
        {"{\"a\":tru}", 0},
        {"{\"a\":nul}", 0},
        {"{\"a\":1,}", 0},
        {"{\"a\" 1}", 0},
        {"{\"a\":1]", 0},
        {"]", 0},
        {"{\"a\":[1,2}", 0},
        {"\f{}", 0},
        {"{}\v", 0},
        {"\xc2\xa0{}", 0},
        {"[]", 0},
        {"[{\"Body\":{}}]", 0},
        {"\"Body\"", 0},
        {"1", 0},
        {"null", 0},
        {"true", 0},
        {" ", 0},
        {"\xEF\xBB\xBF", 0},
        {"\xEF\xBB", 0},
        {"{\"unterminated", 0},
        {"{\"a\":\"x\\", 0},
        /* NUL bytes: inside a string, between tokens, after the value. */
        {"{\"a\":\"x\0y\"}", 11},
        {"{\"a\":1,\0\"b\":2}", 14},
        {"{}\0", 3},
        {"\0{}", 3},
    };
    for (size_t i = 0; i < NPARSERS; i++) {
        const parser *p = &parsers[i];
        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
            size_t len = cases[k].len ? cases[k].len : strlen(cases[k].body);
            char *copy = malloc(len);
            assert_non_null(copy);
            memcpy(copy, cases[k].body, len);
            int rc = run(p, copy, len, http_of(p), &err);
            free(copy);
            if (rc != CONSTRA_E_PARSE || strcmp(err.code, p->malformed) != 0 ||
                strcmp(err.param, "body") != 0) {
                fail_msg("%s case %zu: rc %d code %s param %s (%s)", p->name, k, rc, err.code,
                         err.param, err.message);
            }
        }
    }
}

static void test_nesting(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    static char buf[200010];
    for (size_t i = 0; i < NPARSERS; i++) {
        const parser *p = &parsers[i];
        /* Exactly the limit is fine as far as nesting goes... */
        size_t n = 0;
        buf[n++] = '{';
        memcpy(buf + n, "\"x\":", 4);
        n += 4;
        for (int d = 1; d < CONSTRA_DARAJA_JSON_DEPTH_MAX; d++) {
            buf[n++] = '[';
        }
        for (int d = 1; d < CONSTRA_DARAJA_JSON_DEPTH_MAX; d++) {
            buf[n++] = ']';
        }
        buf[n++] = '}';
        int rc = run(p, buf, n, http_of(p), &err);
        assert_int_equal(rc, CONSTRA_E_PARSE);
        assert_string_not_equal(err.code, p->malformed); /* a field error instead */
        /* ...one more level is not. */
        n = 0;
        buf[n++] = '{';
        memcpy(buf + n, "\"x\":", 4);
        n += 4;
        for (int d = 0; d < CONSTRA_DARAJA_JSON_DEPTH_MAX; d++) {
            buf[n++] = '[';
        }
        for (int d = 0; d < CONSTRA_DARAJA_JSON_DEPTH_MAX; d++) {
            buf[n++] = ']';
        }
        buf[n++] = '}';
        assert_fails(run(p, buf, n, http_of(p), &err), err, CONSTRA_E_PARSE, p->malformed, "body");
        assert_non_null(strstr(err.message, "deep"));
        /* 100,000 levels (within the size limit? no: 64 KiB of '[' ) */
        memset(buf, '[', 60000);
        assert_fails(run(p, buf, 60000, http_of(p), &err), err, CONSTRA_E_PARSE, p->malformed,
                     "body");
        memset(buf, '{', 1);
        for (size_t k = 1; k + 5 < 60000; k += 5) {
            memcpy(buf + k, "\"a\":{", 5);
        }
        assert_fails(run(p, buf, 60000, http_of(p), &err), err, CONSTRA_E_PARSE, p->malformed,
                     "body");
    }
}

/* ---- STK callback field errors -------------------------------------------- */

typedef struct bad_case {
    const char *json;
    const char *code;
    const char *param;
} bad_case;

static void run_cases(const parser *p, const bad_case *cases, size_t count, int http)
{
    constra_error err = CONSTRA_ERROR_INIT;
    for (size_t i = 0; i < count; i++) {
        int rc = run(p, cases[i].json, strlen(cases[i].json), http, &err);
        if (rc != CONSTRA_E_PARSE || strcmp(err.code, cases[i].code) != 0 ||
            strcmp(err.param, cases[i].param) != 0) {
            fail_msg("%s case %zu %s\n  got rc %d code '%s' param '%s' (%s)\n  want code '%s' "
                     "param '%s'",
                     p->name, i, cases[i].json, rc, err.code, err.param, err.message,
                     cases[i].code, cases[i].param);
        }
        assert_true(err.message[0] != '\0');
    }
}

#define CB_HEAD "{\"Body\":{\"stkCallback\":{"
#define CB_IDS "\"MerchantRequestID\":\"m\",\"CheckoutRequestID\":\"c\","
#define CB_OK CB_HEAD CB_IDS "\"ResultCode\":0,"
#define ITEMS(x) CB_OK "\"CallbackMetadata\":{\"Item\":[" x "]}}}}"
#define P_CB "Body.stkCallback."
#define P_ITEM(i) P_CB "CallbackMetadata.Item[" #i "]"

static void test_stk_callback_fields(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        /* structure */
        {"{}", "field_missing", "Body"},
        {"{\"body\":{}}", "field_missing", "Body"},
        {"{\"Body\":null}", "field_missing", "Body"},
        {"{\"Body\":[]}", "field_invalid", "Body"},
        {"{\"Body\":\"x\"}", "field_invalid", "Body"},
        {"{\"Body\":1}", "field_invalid", "Body"},
        {"{\"Body\":{}}", "field_missing", "Body.stkCallback"},
        {"{\"Body\":{\"stkCallback\":[]}}", "field_invalid", "Body.stkCallback"},
        {"{\"Body\":{\"stkCallback\":[{\"ResultCode\":0}]}}", "field_invalid", "Body.stkCallback"},
        {"{\"Body\":{\"stkCallback\":true}}", "field_invalid", "Body.stkCallback"},
        /* required fields */
        {CB_HEAD "\"CheckoutRequestID\":\"c\",\"ResultCode\":0}}}", "field_missing",
         P_CB "MerchantRequestID"},
        {CB_HEAD "\"MerchantRequestID\":\"m\",\"ResultCode\":0}}}", "field_missing",
         P_CB "CheckoutRequestID"},
        {CB_HEAD CB_IDS "\"ResultDesc\":\"x\"}}}", "field_missing", P_CB "ResultCode"},
        {CB_HEAD CB_IDS "\"ResultCode\":null}}}", "field_missing", P_CB "ResultCode"},
        {CB_HEAD "\"MerchantRequestID\":null,\"CheckoutRequestID\":\"c\",\"ResultCode\":0}}}",
         "field_missing", P_CB "MerchantRequestID"},
        /* ids */
        {CB_HEAD "\"MerchantRequestID\":\"m\",\"CheckoutRequestID\":\"\",\"ResultCode\":0}}}",
         "field_invalid", P_CB "CheckoutRequestID"},
        {CB_HEAD "\"MerchantRequestID\":\"m\",\"CheckoutRequestID\":123,\"ResultCode\":0}}}",
         "field_invalid", P_CB "CheckoutRequestID"},
        {CB_HEAD "\"MerchantRequestID\":\"m\",\"CheckoutRequestID\":[\"c\"],\"ResultCode\":0}}}",
         "field_invalid", P_CB "CheckoutRequestID"},
        {CB_HEAD "\"MerchantRequestID\":\"m\",\"CheckoutRequestID\":\"ws CO\",\"ResultCode\":0}}}",
         "field_invalid", P_CB "CheckoutRequestID"},
        {CB_HEAD "\"MerchantRequestID\":\"m\",\"CheckoutRequestID\":\"ws\\nCO\",\"ResultCode\":0}}}",
         "field_invalid", P_CB "CheckoutRequestID"},
        {CB_HEAD "\"MerchantRequestID\":\"m\",\"CheckoutRequestID\":\"ws_\xc3\xa4\",\"ResultCode\":0}}}",
         "field_invalid", P_CB "CheckoutRequestID"},
        {CB_HEAD "\"MerchantRequestID\":{},\"CheckoutRequestID\":\"c\",\"ResultCode\":0}}}",
         "field_invalid", P_CB "MerchantRequestID"},
        /* ResultCode: wrong types, fractions, huge numbers, odd strings */
        {CB_HEAD CB_IDS "\"ResultCode\":true}}}", "field_invalid", P_CB "ResultCode"},
        {CB_HEAD CB_IDS "\"ResultCode\":false}}}", "field_invalid", P_CB "ResultCode"},
        {CB_HEAD CB_IDS "\"ResultCode\":[0]}}}", "field_invalid", P_CB "ResultCode"},
        {CB_HEAD CB_IDS "\"ResultCode\":{}}}}", "field_invalid", P_CB "ResultCode"},
        {CB_HEAD CB_IDS "\"ResultCode\":0.5}}}", "field_invalid", P_CB "ResultCode"},
        {CB_HEAD CB_IDS "\"ResultCode\":1e-400}}}", "field_invalid", P_CB "ResultCode"},
        {CB_HEAD CB_IDS "\"ResultCode\":0.0000000000000000001}}}", "field_invalid",
         P_CB "ResultCode"},
        {CB_HEAD CB_IDS "\"ResultCode\":1e400}}}", "field_invalid", P_CB "ResultCode"},
        {CB_HEAD CB_IDS "\"ResultCode\":99999999999999999999}}}", "field_invalid",
         P_CB "ResultCode"},
        {CB_HEAD CB_IDS "\"ResultCode\":\"\"}}}", "field_invalid", P_CB "ResultCode"},
        {CB_HEAD CB_IDS "\"ResultCode\":\"0 \"}}}", "field_invalid", P_CB "ResultCode"},
        {CB_HEAD CB_IDS "\"ResultCode\":\" 0\"}}}", "field_invalid", P_CB "ResultCode"},
        {CB_HEAD CB_IDS "\"ResultCode\":\"a b\"}}}", "field_invalid", P_CB "ResultCode"},
        {CB_HEAD CB_IDS "\"ResultCode\":\"0\\n\"}}}", "field_invalid", P_CB "ResultCode"},
        {CB_HEAD CB_IDS "\"ResultCode\":\"0123456789012345678901234567890123\"}}}",
         "field_too_long", P_CB "ResultCode"},
        /* ResultDesc */
        {CB_HEAD CB_IDS "\"ResultCode\":0,\"ResultDesc\":5}}}", "field_invalid", P_CB "ResultDesc"},
        {CB_HEAD CB_IDS "\"ResultCode\":0,\"ResultDesc\":\"\xff\"}}}", "field_invalid",
         P_CB "ResultDesc"},
        {CB_HEAD CB_IDS "\"ResultCode\":0,\"ResultDesc\":\"\xc0\xaf\"}}}", "field_invalid",
         P_CB "ResultDesc"},
        {CB_HEAD CB_IDS "\"ResultCode\":0,\"ResultDesc\":\"\xed\xa0\x80\"}}}", "field_invalid",
         P_CB "ResultDesc"},
        {CB_HEAD CB_IDS "\"ResultCode\":0,\"ResultDesc\":\"\xe2\x82\"}}}", "field_invalid",
         P_CB "ResultDesc"},
        {CB_HEAD CB_IDS "\"ResultCode\":0,\"ResultDesc\":\"bell\\u0007\"}}}", "field_invalid",
         P_CB "ResultDesc"},
        /* duplicate keys on the path */
        {CB_HEAD CB_IDS "\"ResultCode\":1032,\"ResultCode\":0}}}", "field_duplicate",
         P_CB "ResultCode"},
        {CB_HEAD CB_IDS "\"ResultCode\":0,\"ResultCode\":0}}}", "field_duplicate",
         P_CB "ResultCode"},
        {CB_HEAD CB_IDS "\"CheckoutRequestID\":\"d\",\"ResultCode\":0}}}", "field_duplicate",
         P_CB "CheckoutRequestID"},
        {"{\"Body\":{\"stkCallback\":{}},\"Body\":{}}", "field_duplicate", "Body"},
        {"{\"Body\":{\"stkCallback\":{},\"stkCallback\":{}}}", "field_duplicate",
         "Body.stkCallback"},
        {CB_OK "\"CallbackMetadata\":{},\"CallbackMetadata\":{}}}}", "field_duplicate",
         P_CB "CallbackMetadata"},
        /* CallbackMetadata and Item shapes */
        {CB_OK "\"CallbackMetadata\":[]}}}", "field_invalid", P_CB "CallbackMetadata"},
        {CB_OK "\"CallbackMetadata\":\"\"}}}", "field_invalid", P_CB "CallbackMetadata"},
        {CB_OK "\"CallbackMetadata\":{}}}}", "field_missing", P_CB "CallbackMetadata.Item"},
        {CB_OK "\"CallbackMetadata\":{\"Item\":{\"Name\":\"Amount\",\"Value\":1}}}}}",
         "field_invalid", P_CB "CallbackMetadata.Item"},
        {CB_OK "\"CallbackMetadata\":{\"Item\":\"x\"}}}}", "field_invalid",
         P_CB "CallbackMetadata.Item"},
        {CB_OK "\"CallbackMetadata\":{\"Item\":[],\"Item\":[]}}}}", "field_duplicate",
         P_CB "CallbackMetadata.Item"},
        {ITEMS("1"), "field_invalid", P_ITEM(0)},
        {ITEMS("{\"Name\":\"Amount\",\"Value\":1},[]"), "field_invalid", P_ITEM(1)},
        {ITEMS("{\"Value\":1}"), "field_missing", P_ITEM(0) ".Name"},
        {ITEMS("{\"Name\":null,\"Value\":1}"), "field_missing", P_ITEM(0) ".Name"},
        {ITEMS("{\"Name\":5,\"Value\":1}"), "field_invalid", P_ITEM(0) ".Name"},
        {ITEMS("{\"Name\":[\"Amount\"],\"Value\":1}"), "field_invalid", P_ITEM(0) ".Name"},
        {ITEMS("{\"Name\":\"Amount\",\"Name\":\"Balance\",\"Value\":1}"), "field_duplicate",
         P_ITEM(0) ".Name"},
        {ITEMS("{\"Name\":\"Amount\",\"Value\":1,\"Value\":1000}"), "field_duplicate",
         P_ITEM(0) ".Value"},
        /* duplicate known items */
        {ITEMS("{\"Name\":\"Amount\",\"Value\":1},{\"Name\":\"Amount\",\"Value\":1000}"),
         "field_duplicate", P_ITEM(1)},
        {ITEMS("{\"Name\":\"Amount\",\"Value\":1},{\"Name\":\"Amount\"}"), "field_duplicate",
         P_ITEM(1)},
        {ITEMS("{\"Name\":\"MpesaReceiptNumber\",\"Value\":\"A\"},{\"Name\":\"Balance\"},"
               "{\"Name\":\"MpesaReceiptNumber\",\"Value\":\"B\"}"),
         "field_duplicate", P_ITEM(2)},
        {ITEMS("{\"Name\":\"PhoneNumber\",\"Value\":1},{\"Name\":\"PhoneNumber\",\"Value\":1}"),
         "field_duplicate", P_ITEM(1)},
        {ITEMS("{\"Name\":\"TransactionDate\",\"Value\":20191219102115},"
               "{\"Name\":\"TransactionDate\",\"Value\":20191219102115}"),
         "field_duplicate", P_ITEM(1)},
        /* Amount */
        {ITEMS("{\"Name\":\"Amount\",\"Value\":1.5}"), "field_invalid", P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"Amount\",\"Value\":\"1.5\"}"), "field_invalid", P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"Amount\",\"Value\":1.01}"), "field_invalid", P_ITEM(0) ".Value"},
        /* a double would round this one to 1: it must not */
        {ITEMS("{\"Name\":\"Amount\",\"Value\":1.0000000000000000001}"), "field_invalid",
         P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"Amount\",\"Value\":0.000000000000000000001}"), "field_invalid",
         P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"Amount\",\"Value\":-1}"), "field_invalid", P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"Amount\",\"Value\":\"-1.00\"}"), "field_invalid", P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"Amount\",\"Value\":1e400}"), "field_invalid", P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"Amount\",\"Value\":9223372036854775808}"), "field_invalid",
         P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"Amount\",\"Value\":99999999999999999999999999999}"), "field_invalid",
         P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"Amount\",\"Value\":\"abc\"}"), "field_invalid", P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"Amount\",\"Value\":\"\"}"), "field_invalid", P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"Amount\",\"Value\":\" 1\"}"), "field_invalid", P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"Amount\",\"Value\":\"1,000\"}"), "field_invalid", P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"Amount\",\"Value\":\"+1\"}"), "field_invalid", P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"Amount\",\"Value\":\"01\"}"), "field_invalid", P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"Amount\",\"Value\":\"1.\"}"), "field_invalid", P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"Amount\",\"Value\":\"0x10\"}"), "field_invalid", P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"Amount\",\"Value\":\"KES 1\"}"), "field_invalid", P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"Amount\",\"Value\":true}"), "field_invalid", P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"Amount\",\"Value\":[1]}"), "field_invalid", P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"Amount\",\"Value\":{\"v\":1}}"), "field_invalid", P_ITEM(0) ".Value"},
        /* MpesaReceiptNumber */
        {ITEMS("{\"Name\":\"MpesaReceiptNumber\",\"Value\":12345}"), "field_invalid",
         P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"MpesaReceiptNumber\",\"Value\":\"\"}"), "field_invalid",
         P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"MpesaReceiptNumber\",\"Value\":\"NLJ 7RT61SV\"}"), "field_invalid",
         P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"MpesaReceiptNumber\",\"Value\":\"NLJ7RT61SVNLJ7RT61SVNLJ7RT61SVNLJ\"}"),
         "field_too_long", P_ITEM(0) ".Value"},
        /* TransactionDate */
        {ITEMS("{\"Name\":\"TransactionDate\",\"Value\":2019121910211}"), "field_invalid",
         P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"TransactionDate\",\"Value\":201912191021150}"), "field_too_long",
         P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"TransactionDate\",\"Value\":\"2019-12-19 10:21\"}"), "field_invalid",
         P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"TransactionDate\",\"Value\":2.0191219102115e13}"), "field_invalid",
         P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"TransactionDate\",\"Value\":20191219102115.0}"), "field_invalid",
         P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"TransactionDate\",\"Value\":-20191219102115}"), "field_invalid",
         P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"TransactionDate\",\"Value\":\"\"}"), "field_invalid",
         P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"TransactionDate\",\"Value\":true}"), "field_invalid",
         P_ITEM(0) ".Value"},
        /* PhoneNumber */
        {ITEMS("{\"Name\":\"PhoneNumber\",\"Value\":2.54708374149e11}"), "field_invalid",
         P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"PhoneNumber\",\"Value\":254708374149.0}"), "field_invalid",
         P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"PhoneNumber\",\"Value\":-254708374149}"), "field_invalid",
         P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"PhoneNumber\",\"Value\":1e400}"), "field_invalid",
         P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"PhoneNumber\",\"Value\":\"\"}"), "field_invalid", P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"PhoneNumber\",\"Value\":false}"), "field_invalid", P_ITEM(0) ".Value"},
        {ITEMS("{\"Name\":\"PhoneNumber\",\"Value\":123456789012345678901234567890123}"),
         "field_too_long", P_ITEM(0) ".Value"},
    };
    run_cases(&parsers[0], cases, sizeof(cases) / sizeof(cases[0]), 200);
}

static void test_stk_callback_long_ids(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    static char buf[65536];
    char id[CONSTRA_DARAJA_ID_SIZE + 1];
    memset(id, 'w', sizeof(id) - 1);
    /* 127 bytes fit... */
    id[CONSTRA_DARAJA_ID_SIZE - 1] = '\0';
    snprintf(buf, sizeof(buf), CB_HEAD "\"MerchantRequestID\":\"m\",\"CheckoutRequestID\":\"%s\","
             "\"ResultCode\":0}}}", id);
    assert_ok(run(&parsers[0], buf, strlen(buf), 200, &err), err);
    /* ...128 do not: ids are never truncated. */
    id[CONSTRA_DARAJA_ID_SIZE - 1] = 'w';
    id[CONSTRA_DARAJA_ID_SIZE] = '\0';
    snprintf(buf, sizeof(buf), CB_HEAD "\"MerchantRequestID\":\"m\",\"CheckoutRequestID\":\"%s\","
             "\"ResultCode\":0}}}", id);
    assert_fails(run(&parsers[0], buf, strlen(buf), 200, &err), err, CONSTRA_E_PARSE,
                 "field_too_long", P_CB "CheckoutRequestID");
    /* A 60,000-byte id, and a 60,000-byte description. */
    int n = snprintf(buf, sizeof(buf), CB_HEAD "\"MerchantRequestID\":\"m\",\"CheckoutRequestID\":\"");
    memset(buf + n, 'A', 60000);
    memcpy(buf + n + 60000, "\",\"ResultCode\":0}}}", 20);
    assert_fails(run(&parsers[0], buf, strlen(buf), 200, &err), err, CONSTRA_E_PARSE,
                 "field_too_long", P_CB "CheckoutRequestID");
    n = snprintf(buf, sizeof(buf), CB_OK "\"ResultDesc\":\"");
    memset(buf + n, 'A', 60000);
    memcpy(buf + n + 60000, "\"}}}", 5);
    assert_fails(run(&parsers[0], buf, strlen(buf), 200, &err), err, CONSTRA_E_PARSE,
                 "field_too_long", P_CB "ResultDesc");
    /* The largest amount that fits int64 is accepted (the engine compares). */
    const char *max = ITEMS("{\"Name\":\"Amount\",\"Value\":9223372036854775807}");
    assert_ok(run(&parsers[0], max, strlen(max), 200, &err), err);
    /* A mid-document NUL must not cut the callback short. */
    const char nul[] = CB_OK "\"ResultDesc\":\"ok\"}}}\0{\"Body\":1}";
    assert_fails(run(&parsers[0], nul, sizeof(nul) - 1, 200, &err), err, CONSTRA_E_PARSE,
                 "callback_malformed", "body");
}

/* ---- the other parsers ------------------------------------------------------ */

static void test_push_and_query_shapes(void **state)
{
    (void)state;
    const parser *push = &parsers[4], *query = &parsers[5], *env = &parsers[8],
                 *oauth = &parsers[9];
    static const bad_case push_200[] = {
        {"{}", "field_missing", "ResponseCode"},
        {"{\"ResponseCode\":\"0\",\"MerchantRequestID\":\"m\"}", "field_missing",
         "CheckoutRequestID"},
        {"{\"ResponseCode\":\"0\",\"CheckoutRequestID\":\"c\"}", "field_missing",
         "MerchantRequestID"},
        {"{\"ResponseCode\":0,\"MerchantRequestID\":\"m\",\"CheckoutRequestID\":\"\"}",
         "field_invalid", "CheckoutRequestID"},
        {"{\"ResponseCode\":\"0\",\"errorCode\":\"400.002.02\"}", "field_invalid", "errorCode"},
        {"{\"ResponseCode\":[\"0\"]}", "field_invalid", "ResponseCode"},
        {"{\"ResponseCode\":0.5}", "field_invalid", "ResponseCode"},
        {"{\"ResponseCode\":\"0\",\"ResponseCode\":\"1\"}", "field_duplicate", "ResponseCode"},
        {"{\"errorCode\":\"1\",\"errorCode\":\"2\"}", "field_duplicate", "errorCode"},
        {"{\"ResponseCode\":\"0\",\"MerchantRequestID\":\"m\",\"CheckoutRequestID\":\"c\","
         "\"CustomerMessage\":7}",
         "field_invalid", "CustomerMessage"},
    };
    run_cases(push, push_200, sizeof(push_200) / sizeof(push_200[0]), 200);
    static const bad_case push_500[] = {
        {"{\"Envelope\":{\"Body\":{\"Fault\":{\"faultstring\":\"Execution of ServiceCallout "
         "failed\"}}}}",
         "response_unexpected", "body"},
        {"{\"MerchantRequestID\":\"m\",\"CheckoutRequestID\":\"c\",\"ResponseCode\":\"0\"}",
         "response_unexpected", "body"},
        {"{\"errorCode\":\"\"}", "field_invalid", "errorCode"},
        {"{\"errorCode\":\"500 001\"}", "field_invalid", "errorCode"},
        {"{\"errorCode\":true}", "field_invalid", "errorCode"},
        {"{\"errorCode\":\"500.001.1001\",\"requestId\":\"a b\"}", "field_invalid", "requestId"},
        {"{\"errorCode\":\"500.001.1001\",\"errorMessage\":[]}", "field_invalid", "errorMessage"},
    };
    run_cases(push, push_500, sizeof(push_500) / sizeof(push_500[0]), 500);

    static const bad_case query_200[] = {
        {"{}", "field_missing", "ResultCode"},
        {"{\"ResponseCode\":\"0\"}", "field_missing", "ResultCode"},
        {"{\"ResultCode\":\"0\",\"ResultDesc\":\"ok\"}", "field_missing", "CheckoutRequestID"},
        {"{\"ResultCode\":\"1032\",\"CheckoutRequestID\":\"\"}", "field_invalid",
         "CheckoutRequestID"},
        {"{\"ResultCode\":\"0\",\"CheckoutRequestID\":\"c\",\"errorCode\":\"500.001.1001\"}",
         "field_invalid", "errorCode"},
        {"{\"ResultCode\":\"0\",\"ResultCode\":\"4999\",\"CheckoutRequestID\":\"c\"}",
         "field_duplicate", "ResultCode"},
        {"{\"ResultCode\":4999.5}", "field_invalid", "ResultCode"},
        {"{\"ResultCode\":\"4999\",\"CheckoutRequestID\":7}", "field_invalid",
         "CheckoutRequestID"},
    };
    run_cases(query, query_200, sizeof(query_200) / sizeof(query_200[0]), 200);
    static const bad_case query_500[] = {
        {"{\"ResultCode\":\"0\",\"CheckoutRequestID\":\"c\"}", "response_unexpected", "body"},
        {"{\"ResultCode\":\"4999\"}", "response_unexpected", "body"},
        {"{}", "response_unexpected", "body"},
        {"{\"errorCode\":\"500.001.1001\",\"errorMessage\":\"The transaction is being "
         "processed\",\"errorMessage\":\"Merchant does not exist\"}",
         "field_duplicate", "errorMessage"},
    };
    run_cases(query, query_500, sizeof(query_500) / sizeof(query_500[0]), 500);

    static const bad_case envelopes[] = {
        {"{}", "field_missing", "errorCode"},
        {"{\"requestId\":\"r\",\"errorMessage\":\"m\"}", "field_missing", "errorCode"},
        {"{\"Envelope\":{\"Body\":{\"Fault\":{\"faultstring\":\"x\"}}}}", "field_missing",
         "errorCode"},
        {"{\"errorCode\":null}", "field_missing", "errorCode"},
        {"{\"errorCode\":[]}", "field_invalid", "errorCode"},
        {"{\"errorCode\":1.5}", "field_invalid", "errorCode"},
        {"{\"errorCode\":\"x\",\"errorMessage\":\"\\u001b[31m\"}", "field_invalid",
         "errorMessage"},
    };
    run_cases(env, envelopes, sizeof(envelopes) / sizeof(envelopes[0]), 400);

    static const bad_case oauths[] = {
        {"{}", "field_missing", "access_token"},
        {"{\"access_token\":\"t\"}", "field_missing", "expires_in"},
        {"{\"access_token\":\"\",\"expires_in\":3599}", "field_invalid", "access_token"},
        {"{\"access_token\":\"t\",\"expires_in\":\"soon\"}", "field_invalid", "expires_in"},
        {"{\"access_token\":\"t\",\"expires_in\":3599.5}", "field_invalid", "expires_in"},
        {"{\"access_token\":\"t\",\"expires_in\":-1}", "field_invalid", "expires_in"},
        {"{\"access_token\":\"t\",\"expires_in\":1e12}", "field_invalid", "expires_in"},
        {"{\"access_token\":\"t\",\"access_token\":\"u\",\"expires_in\":1}", "field_duplicate",
         "access_token"},
        {"{\"access_token\":\"t\",\"errorCode\":\"400.008.02\"}", "field_invalid", "errorCode"},
    };
    run_cases(oauth, oauths, sizeof(oauths) / sizeof(oauths[0]), 200);
}

#define C2B_BASE                                                                               \
    "\"TransactionType\":\"Pay Bill\",\"TransID\":\"RKL51ZDR4F\",\"TransTime\":"           \
    "\"20231121121325\",\"BusinessShortCode\":\"600966\""

static void test_c2b_fields(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"{\"TransAmount\":\"5.50\"," C2B_BASE "}", "field_invalid", "TransAmount"},
        {"{\"TransAmount\":\"abc\"," C2B_BASE "}", "field_invalid", "TransAmount"},
        {"{\"TransAmount\":\"\"," C2B_BASE "}", "field_invalid", "TransAmount"},
        {"{\"TransAmount\":\"-5.00\"," C2B_BASE "}", "field_invalid", "TransAmount"},
        {"{\"TransAmount\":1e30," C2B_BASE "}", "field_invalid", "TransAmount"},
        {"{\"TransAmount\":{}," C2B_BASE "}", "field_invalid", "TransAmount"},
        {"{" C2B_BASE "}", "field_missing", "TransAmount"},
        {"{\"TransAmount\":\"5\",\"TransAmount\":\"500\"," C2B_BASE "}", "field_duplicate",
         "TransAmount"},
        {"{\"TransAmount\":\"5\",\"TransactionType\":\"Pay Bill\",\"TransTime\":\"20231121121325\","
         "\"BusinessShortCode\":\"600966\"}",
         "field_missing", "TransID"},
        {"{\"TransAmount\":\"5\",\"TransID\":\"A B\",\"TransactionType\":\"Pay Bill\","
         "\"TransTime\":\"20231121121325\",\"BusinessShortCode\":\"600966\"}",
         "field_invalid", "TransID"},
        {"{\"TransAmount\":\"5\",\"TransactionType\":\"Pay Bill\",\"TransID\":\"X\","
         "\"BusinessShortCode\":\"600966\"}",
         "field_missing", "TransTime"},
        {"{\"TransAmount\":\"5\",\"TransactionType\":\"Pay Bill\",\"TransID\":\"X\","
         "\"TransTime\":\"2023\",\"BusinessShortCode\":\"600966\"}",
         "field_invalid", "TransTime"},
        {"{\"TransAmount\":\"5\",\"TransactionType\":\"Pay Bill\",\"TransID\":\"X\","
         "\"TransTime\":\"2023112112132a\",\"BusinessShortCode\":\"600966\"}",
         "field_invalid", "TransTime"},
        {"{\"TransAmount\":\"5\",\"TransactionType\":\"Pay Bill\",\"TransID\":\"X\","
         "\"TransTime\":\"20231121121325\",\"BusinessShortCode\":\"60 0966\"}",
         "field_invalid", "BusinessShortCode"},
        {"{\"TransAmount\":\"5\",\"TransactionType\":\"Pay Bill\",\"TransID\":\"X\","
         "\"TransTime\":\"20231121121325\",\"BusinessShortCode\":600966.5}",
         "field_invalid", "BusinessShortCode"},
        {"{\"TransAmount\":\"5\",\"TransactionType\":\"\",\"TransID\":\"X\","
         "\"TransTime\":\"20231121121325\",\"BusinessShortCode\":\"600966\"}",
         "field_invalid", "TransactionType"},
        {"{\"TransAmount\":\"5\",\"TransID\":\"X\","
         "\"TransTime\":\"20231121121325\",\"BusinessShortCode\":\"600966\"}",
         "field_missing", "TransactionType"},
        {"{\"TransAmount\":\"5\"," C2B_BASE ",\"OrgAccountBalance\":\"25.001\"}", "field_invalid",
         "OrgAccountBalance"},
        {"{\"TransAmount\":\"5\"," C2B_BASE ",\"OrgAccountBalance\":\"n/a\"}", "field_invalid",
         "OrgAccountBalance"},
        {"{\"TransAmount\":\"5\"," C2B_BASE ",\"MSISDN\":2.54708374149e11}", "field_invalid",
         "MSISDN"},
        {"{\"TransAmount\":\"5\"," C2B_BASE ",\"MSISDN\":[]}", "field_invalid", "MSISDN"},
        {"{\"TransAmount\":\"5\"," C2B_BASE ",\"FirstName\":\"\xc3\"}", "field_invalid",
         "FirstName"},
        {"{\"TransAmount\":\"5\"," C2B_BASE ",\"BillRefNumber\":\"12345678901234567890123456789012345"
         "678901234567890123456789012345678901234567890123456789012345678901234567890123456789012"
         "345678901234567890123456789\"}",
         "field_too_long", "BillRefNumber"},
        {"{\"TransAmount\":\"5\"," C2B_BASE ",\"BillRefNumber\":12}", "field_invalid",
         "BillRefNumber"},
        {"{\"TransAmount\":\"5\"," C2B_BASE ",\"ThirdPartyTransID\":{}}", "field_invalid",
         "ThirdPartyTransID"},
    };
    run_cases(&parsers[2], cases, sizeof(cases) / sizeof(cases[0]), 200);
}

#define B2C_HEAD                                                                              \
    "{\"Result\":{\"ResultType\":0,\"ResultCode\":0,\"OriginatorConversationID\":\"o\","      \
    "\"ConversationID\":\"c\","
#define RP "Result.ResultParameters.ResultParameter"

static void test_b2c_fields(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"{}", "field_missing", "Result"},
        {"{\"Result\":[]}", "field_invalid", "Result"},
        {"{\"Result\":{\"ResultCode\":0,\"OriginatorConversationID\":\"o\",\"ConversationID\":"
         "\"c\"}}",
         "field_missing", "Result.ResultType"},
        {"{\"Result\":{\"ResultType\":-1,\"ResultCode\":0,\"OriginatorConversationID\":\"o\","
         "\"ConversationID\":\"c\"}}",
         "field_invalid", "Result.ResultType"},
        {"{\"Result\":{\"ResultType\":0,\"OriginatorConversationID\":\"o\",\"ConversationID\":"
         "\"c\"}}",
         "field_missing", "Result.ResultCode"},
        {"{\"Result\":{\"ResultType\":0,\"ResultCode\":0,\"ConversationID\":\"c\"}}",
         "field_missing", "Result.OriginatorConversationID"},
        {"{\"Result\":{\"ResultType\":0,\"ResultCode\":0,\"OriginatorConversationID\":\"o\"}}",
         "field_missing", "Result.ConversationID"},
        {B2C_HEAD "\"ConversationID\":\"d\"}}", "field_duplicate", "Result.ConversationID"},
        {B2C_HEAD "\"TransactionID\":\"S G\"}}", "field_invalid", "Result.TransactionID"},
        {B2C_HEAD "\"ResultParameters\":[]}}", "field_invalid", "Result.ResultParameters"},
        {B2C_HEAD "\"ResultParameters\":{}}}", "field_missing", RP},
        {B2C_HEAD "\"ResultParameters\":{\"ResultParameter\":\"x\"}}}", "field_invalid", RP},
        {B2C_HEAD "\"ResultParameters\":{\"ResultParameter\":[1]}}}", "field_invalid", RP "[0]"},
        {B2C_HEAD "\"ResultParameters\":{\"ResultParameter\":[{\"Value\":1}]}}}", "field_missing",
         RP "[0].Key"},
        {B2C_HEAD "\"ResultParameters\":{\"ResultParameter\":[{\"Key\":1,\"Value\":1}]}}}",
         "field_invalid", RP "[0].Key"},
        {B2C_HEAD "\"ResultParameters\":{\"ResultParameter\":[{\"Key\":\"TransactionAmount\","
                  "\"Value\":10.5}]}}}",
         "field_invalid", RP "[0].Value"},
        {B2C_HEAD "\"ResultParameters\":{\"ResultParameter\":[{\"Key\":\"TransactionAmount\","
                  "\"Value\":10},{\"Key\":\"TransactionAmount\",\"Value\":10000}]}}}",
         "field_duplicate", RP "[1]"},
        {B2C_HEAD "\"ResultParameters\":{\"ResultParameter\":{\"Key\":\"TransactionAmount\","
                  "\"Value\":\"ten\"}}}}",
         "field_invalid", RP ".Value"},
        {B2C_HEAD "\"ResultParameters\":{\"ResultParameter\":[{\"Key\":"
                  "\"B2CUtilityAccountAvailableFunds\",\"Value\":1.234}]}}}",
         "field_invalid", RP "[0].Value"},
        {B2C_HEAD "\"ResultParameters\":{\"ResultParameter\":[{\"Key\":"
                  "\"B2CWorkingAccountAvailableFunds\",\"Value\":1e300}]}}}",
         "field_invalid", RP "[0].Value"},
        {B2C_HEAD "\"ResultParameters\":{\"ResultParameter\":[{\"Key\":\"TransactionReceipt\","
                  "\"Value\":[]}]}}}",
         "field_invalid", RP "[0].Value"},
        {B2C_HEAD "\"ReferenceData\":{\"ReferenceItem\":\"x\"}}}", "field_invalid",
         "Result.ReferenceData.ReferenceItem"},
        {B2C_HEAD "\"ReferenceData\":[]}}", "field_invalid", "Result.ReferenceData"},
        {B2C_HEAD "\"ReferenceData\":{\"ReferenceItem\":[{\"Key\":\"QueueTimeoutURL\",\"Value\":"
                  "\"a\"},{\"Key\":\"QueueTimeoutURL\",\"Value\":\"b\"}]}}}",
         "field_duplicate", "Result.ReferenceData.ReferenceItem[1]"},
    };
    run_cases(&parsers[3], cases, sizeof(cases) / sizeof(cases[0]), 200);
}

/* ---- seeded mutations ---------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static void test_mutations(void **state)
{
    (void)state;
    static const char alphabet[] = "{}[]\":,\\0123456789.eE+-tfnul \x00\x01\x7f\xc3\xa9\xff"
                                   "Amount\"Value\"Name";
    constra_error err = CONSTRA_ERROR_INIT;
    long ok = 0, parse = 0;
    for (size_t i = 0; i < NPARSERS; i++) {
        const parser *p = &parsers[i];
        size_t len;
        char sample[8192];
        const char *v = vector(p->vector, &len);
        memcpy(sample, v, len);
        for (int iter = 0; iter < 3000; iter++) {
            char buf[8400];
            memcpy(buf, sample, len);
            size_t n = len;
            int edits = 1 + (int)(rng() % 4);
            for (int e = 0; e < edits && n > 0; e++) {
                size_t at = (size_t)(rng() % n);
                switch (rng() % 4) {
                case 0: /* replace */
                    buf[at] = alphabet[rng() % (sizeof(alphabet) - 1)];
                    break;
                case 1: /* insert */
                    if (n < sizeof(buf) - 1) {
                        memmove(buf + at + 1, buf + at, n - at);
                        buf[at] = alphabet[rng() % (sizeof(alphabet) - 1)];
                        n++;
                    }
                    break;
                case 2: /* delete */
                    memmove(buf + at, buf + at + 1, n - at - 1);
                    n--;
                    break;
                default: { /* duplicate a chunk */
                    size_t k = 1 + (size_t)(rng() % 24);
                    if (at + k <= n && n + k < sizeof(buf)) {
                        memmove(buf + at + k, buf + at, n - at);
                        n += k;
                    }
                    break;
                }
                }
            }
            char *copy = malloc(n ? n : 1);
            assert_non_null(copy);
            memcpy(copy, buf, n);
            int http = (rng() % 3 == 0) ? 500 : http_of(p);
            int rc = run(p, copy, n, http, &err);
            free(copy);
            if (rc == CONSTRA_OK) {
                ok++;
            } else if (rc == CONSTRA_E_PARSE) {
                parse++;
                assert_true(err.param[0] != '\0');
            } else {
                fail_msg("%s mutation %d: unexpected status %d (%s)", p->name, iter, rc,
                         err.message);
            }
        }
    }
    assert_true(ok > 0);
    assert_true(parse > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_not_json),
        cmocka_unit_test(test_nesting),
        cmocka_unit_test(test_stk_callback_fields),
        cmocka_unit_test(test_stk_callback_long_ids),
        cmocka_unit_test(test_push_and_query_shapes),
        cmocka_unit_test(test_c2b_fields),
        cmocka_unit_test(test_b2c_fields),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
