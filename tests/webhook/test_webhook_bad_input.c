/* Webhook signatures: hostile and wrong inputs. Every rejection must come
 * with the right status, reason and machine code; nothing may crash, read
 * out of bounds (ASan build) or accept a forgery. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <constra.h>

#define SECRET "whsec_bad_input_secret"
#define STD_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define T0 1764689191
#define BODY "{\"id\":\"evt_bad\",\"type\":\"payment_intent.succeeded\"}"

static constra_webhook_params t_v1_params(const char *header, int64_t now)
{
    constra_webhook_params p = CONSTRA_WEBHOOK_PARAMS_INIT;
    p.scheme = CONSTRA_WEBHOOK_T_V1;
    p.secret = SECRET;
    p.body = (const uint8_t *)BODY;
    p.body_len = strlen(BODY);
    p.signature = header;
    p.now = now;
    return p;
}

/* A valid t_v1 header for BODY at time t. */
static void sign_t(int64_t t, char out[CONSTRA_WEBHOOK_SIGNATURE_SIZE])
{
    constra_webhook_params p = t_v1_params(NULL, 0);
    p.timestamp = t;
    assert_int_equal(constra_webhook_sign(&p, out, CONSTRA_WEBHOOK_SIGNATURE_SIZE, NULL),
                     CONSTRA_OK);
}

/* The 64 hex digits of a valid t_v1 header. */
static const char *v1_of(const char *header)
{
    const char *v = strstr(header, "v1=");
    assert_non_null(v);
    return v + 3;
}

/* Verifies and checks status, reason and err.code / err.param. */
static void expect_result(const constra_webhook_params *p, int status, int reason_want,
                          const char *code, const char *param)
{
    constra_error err = CONSTRA_ERROR_INIT;
    int reason = -1;
    int rc = constra_webhook_verify(p, &reason, &err);
    if (rc != status || reason != reason_want) {
        fail_msg("got %s/%s, want %s/%s (%s: %s)", constra_status_name(rc),
                 constra_webhook_result_name(reason), constra_status_name(status),
                 constra_webhook_result_name(reason_want), err.code, err.message);
    }
    if (code) {
        assert_string_equal(err.code, code);
    }
    if (param) {
        assert_string_equal(err.param, param);
    }
    assert_int_equal(err.status, status);
}

static void expect_malformed(const char *header)
{
    constra_webhook_params p = t_v1_params(header, T0);
    expect_result(&p, CONSTRA_E_SIGNATURE, CONSTRA_WEBHOOK_MALFORMED, "signature_malformed",
                  "signature");
}

/* Copies `pattern` into buf with every '@' replaced by `value` (the
 * patterns are data, not printf formats). */
static void subst(char *buf, size_t size, const char *pattern, const char *value)
{
    size_t o = 0;
    for (const char *c = pattern; *c && o + 1 < size; c++) {
        if (*c == '@') {
            size_t n = strlen(value);
            if (n > size - 1 - o) {
                n = size - 1 - o;
            }
            memcpy(buf + o, value, n);
            o += n;
        } else {
            buf[o++] = *c;
        }
    }
    buf[o] = '\0';
}

static void test_null_and_struct(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    int reason = -1;
    assert_int_equal(constra_webhook_verify(NULL, &reason, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(reason, CONSTRA_WEBHOOK_INVALID_ARGUMENT);
    assert_string_equal(err.param, "params");
    assert_int_equal(constra_webhook_verify(NULL, NULL, NULL), CONSTRA_E_INVALID_ARGUMENT);
    char out[CONSTRA_WEBHOOK_SIGNATURE_SIZE];
    assert_int_equal(constra_webhook_sign(NULL, out, sizeof(out), &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "params");

    char hdr[CONSTRA_WEBHOOK_SIGNATURE_SIZE];
    sign_t(T0, hdr);
    constra_webhook_params p = t_v1_params(hdr, T0);
    /* Forgot the INIT macro. */
    p.struct_size = 0;
    expect_result(&p, CONSTRA_E_ABI, CONSTRA_WEBHOOK_INVALID_ARGUMENT, "abi_mismatch", "params");
    p.struct_size = 3;
    expect_result(&p, CONSTRA_E_ABI, CONSTRA_WEBHOOK_INVALID_ARGUMENT, NULL, "params");
    p.struct_size = (size_t)1 << 40;
    expect_result(&p, CONSTRA_E_ABI, CONSTRA_WEBHOOK_INVALID_ARGUMENT, NULL, "params");
    /* A caller built against a larger (newer) struct: fine while the tail
     * is zero, refused when a newer field is set. */
    struct {
        constra_webhook_params p;
        uint64_t newer[2];
    } big;
    memset(&big, 0, sizeof(big));
    big.p = t_v1_params(hdr, T0);
    big.p.struct_size = sizeof(big);
    expect_result(&big.p, CONSTRA_OK, CONSTRA_WEBHOOK_OK, NULL, NULL);
    big.newer[1] = 7;
    expect_result(&big.p, CONSTRA_E_ABI, CONSTRA_WEBHOOK_INVALID_ARGUMENT, NULL, NULL);

    /* params_init. */
    constra_webhook_params q;
    memset(&q, 0xab, sizeof(q));
    assert_int_equal(constra_webhook_params_init(&q, sizeof(q)), CONSTRA_OK);
    assert_int_equal(q.struct_size, sizeof(q));
    assert_null(q.secret);
    assert_int_equal(q.scheme, 0);
    assert_int_equal(q.tolerance_s, 0);
    assert_int_equal(constra_webhook_params_init(NULL, sizeof(q)), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_webhook_params_init(&q, 8), CONSTRA_E_ABI);
    assert_int_equal(constra_webhook_params_init(&q, 1u << 20), CONSTRA_E_ABI);

    /* NULL members. */
    p = t_v1_params(hdr, T0);
    p.secret = NULL;
    expect_result(&p, CONSTRA_E_INVALID_ARGUMENT, CONSTRA_WEBHOOK_INVALID_ARGUMENT,
                  "parameter_missing", "secret");
    p = t_v1_params(NULL, T0);
    expect_result(&p, CONSTRA_E_INVALID_ARGUMENT, CONSTRA_WEBHOOK_INVALID_ARGUMENT,
                  "parameter_missing", "signature");
    p = t_v1_params(hdr, T0);
    p.body = NULL; /* with a length */
    expect_result(&p, CONSTRA_E_INVALID_ARGUMENT, CONSTRA_WEBHOOK_INVALID_ARGUMENT,
                  "parameter_missing", "body");
    p = t_v1_params(hdr, T0);
    p.scheme = 0;
    expect_result(&p, CONSTRA_E_INVALID_ARGUMENT, CONSTRA_WEBHOOK_INVALID_ARGUMENT,
                  "webhook_scheme_unknown", "scheme");
    p.scheme = 4;
    expect_result(&p, CONSTRA_E_INVALID_ARGUMENT, CONSTRA_WEBHOOK_INVALID_ARGUMENT, NULL,
                  "scheme");
    p = t_v1_params(hdr, -1);
    expect_result(&p, CONSTRA_E_INVALID_ARGUMENT, CONSTRA_WEBHOOK_INVALID_ARGUMENT,
                  "parameter_invalid", "now");
    p = t_v1_params(hdr, T0);
    p.tolerance_s = -1;
    expect_result(&p, CONSTRA_E_INVALID_ARGUMENT, CONSTRA_WEBHOOK_INVALID_ARGUMENT,
                  "parameter_invalid", "tolerance_s");

    /* Scheme names. */
    int s = 0;
    assert_int_equal(constra_webhook_scheme_from_name(NULL, &s, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "name");
    assert_int_equal(constra_webhook_scheme_from_name("t_v1", NULL, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "scheme");
    const char *bad[] = {"", "T_V1", "t_v2", "t_v1 ", "hmac", "standard"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(constra_webhook_scheme_from_name(bad[i], &s, &err),
                         CONSTRA_E_INVALID_ARGUMENT);
        assert_string_equal(err.code, "webhook_scheme_unknown");
    }
    char longname[100];
    memset(longname, 'a', sizeof(longname));
    longname[99] = '\0';
    assert_int_equal(constra_webhook_scheme_from_name(longname, &s, NULL),
                     CONSTRA_E_INVALID_ARGUMENT);
}

static void test_secret(void **state)
{
    (void)state;
    char hdr[CONSTRA_WEBHOOK_SIGNATURE_SIZE];
    sign_t(T0, hdr);
    constra_webhook_params p = t_v1_params(hdr, T0);
    p.secret = "";
    expect_result(&p, CONSTRA_E_INVALID_ARGUMENT, CONSTRA_WEBHOOK_SECRET_INVALID,
                  "secret_invalid", "secret");
    /* 1024 bytes is the limit, 1025 is refused. */
    static char big[CONSTRA_WEBHOOK_SECRET_MAX + 2];
    memset(big, 'k', CONSTRA_WEBHOOK_SECRET_MAX + 1);
    big[CONSTRA_WEBHOOK_SECRET_MAX + 1] = '\0';
    p.secret = big;
    expect_result(&p, CONSTRA_E_INVALID_ARGUMENT, CONSTRA_WEBHOOK_SECRET_INVALID,
                  "secret_invalid", "secret");
    big[CONSTRA_WEBHOOK_SECRET_MAX] = '\0';
    p.timestamp = T0;
    char hdr2[CONSTRA_WEBHOOK_SIGNATURE_SIZE];
    assert_int_equal(constra_webhook_sign(&p, hdr2, sizeof(hdr2), NULL), CONSTRA_OK);
    p.signature = hdr2;
    expect_result(&p, CONSTRA_OK, CONSTRA_WEBHOOK_OK, NULL, NULL);

    /* Wrong secret: mismatch; a secret that is a prefix of the right one
     * too. */
    p = t_v1_params(hdr, T0);
    p.secret = "whsec_bad_input_secreT";
    expect_result(&p, CONSTRA_E_SIGNATURE, CONSTRA_WEBHOOK_MISMATCH, "signature_mismatch",
                  "signature");
    p.secret = "whsec_bad_input_secre";
    expect_result(&p, CONSTRA_E_SIGNATURE, CONSTRA_WEBHOOK_MISMATCH, NULL, NULL);
    /* t_v1 takes the string literally: without whsec_ it is another key. */
    p.secret = "bad_input_secret";
    expect_result(&p, CONSTRA_E_SIGNATURE, CONSTRA_WEBHOOK_MISMATCH, NULL, NULL);

    /* Standard Webhooks secrets must decode. */
    constra_webhook_params s = CONSTRA_WEBHOOK_PARAMS_INIT;
    s.scheme = CONSTRA_WEBHOOK_STANDARD;
    s.msg_id = "msg_1";
    s.timestamp_header = "1614265330";
    s.now = 1614265330;
    s.signature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    s.body = (const uint8_t *)"{}";
    s.body_len = 2;
    const char *bad[] = {"", "whsec_", "whsec_!!!!", "whsec_a", "whsec_ab cd", "whsec_====",
                         "not base64 at all", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        s.secret = bad[i];
        expect_result(&s, CONSTRA_E_INVALID_ARGUMENT, CONSTRA_WEBHOOK_SECRET_INVALID,
                      "secret_invalid", "secret");
        char out[CONSTRA_WEBHOOK_SIGNATURE_SIZE];
        constra_error err = CONSTRA_ERROR_INIT;
        assert_int_equal(constra_webhook_sign(&s, out, sizeof(out), &err),
                         CONSTRA_E_INVALID_ARGUMENT);
        assert_string_equal(err.code, "secret_invalid");
    }
    /* Unpadded base64 is accepted (the Python reference adds padding):
     * "whsec_AAECAwQ" is the 5-byte key 00 01 02 03 04, same as padded. */
    s.timestamp = 1614265330;
    char a[CONSTRA_WEBHOOK_SIGNATURE_SIZE], b[CONSTRA_WEBHOOK_SIGNATURE_SIZE];
    s.secret = "whsec_AAECAwQ";
    assert_int_equal(constra_webhook_sign(&s, a, sizeof(a), NULL), CONSTRA_OK);
    s.secret = "whsec_AAECAwQ=";
    assert_int_equal(constra_webhook_sign(&s, b, sizeof(b), NULL), CONSTRA_OK);
    assert_string_equal(a, b);
}

static void test_t_v1_malformed(void **state)
{
    (void)state;
    char hdr[CONSTRA_WEBHOOK_SIGNATURE_SIZE];
    sign_t(T0, hdr);
    const char *v1 = v1_of(hdr);
    char buf[1024];
    /* The brief's list and more. */
    const char *fixed[] = {"", "t=", "t=abc,v1=", "v1=zz", "t", "=", ",", "t=,v1=", "garbage",
                           "t=1764689191", "t=1764689191,v1=", "t=1764689191,v1=zz",
                           "t=1764689191;v1=00", "t=-1,v1=00",
                           "t=99999999999999999999999,v1=00"};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        expect_malformed(fixed[i]);
    }
    /* Each of these wraps the valid v1: only the framing is wrong. */
    const char *fmts[] = {
        "v1=@",                        /* no t */
        "t=1764689191,t=1764689191,v1=@", /* duplicate t */
        "t=1764689191,t=1764689192,v1=@",
        "t=abc,v1=@",
        "t=+1764689191,v1=@",
        "t= 1764689191,v1=@",
        "t=01764689191,v1=@",          /* leading zero: another spelling of t */
        "t=1764689191.0,v1=@",
        "t=1764689191 ,v1=@",
        "t=1764689191,v1=@,",          /* trailing comma */
        ",t=1764689191,v1=@",          /* leading comma */
        "t=1764689191,,v1=@",          /* empty entry */
        "t=1764689191, v1=@",          /* space before a key */
        "T=1764689191,v1=@",           /* keys are case-sensitive: no t */
        "t=1764689191,V1=@",           /* ... and no v1 */
        "t=1764689191,v1=@0",          /* 65 digits */
        "t=1764689191,v1=0@",
        "t=1764689191,v1==@",
        "t=1764689191,=x,v1=@",
        "t=1764689191,v0,v1=@",        /* unknown entry without '=' */
        "t=9223372036854775808,v1=@",  /* INT64_MAX + 1 */
        "t=18446744073709551616,v1=@", /* 2^64 */
        "t=-1764689191,v1=@",
    };
    for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
        subst(buf, sizeof(buf), fmts[i], v1);
        expect_malformed(buf);
    }
    /* 63 digits (truncated) and a non-hex digit. */
    snprintf(buf, sizeof(buf), "t=1764689191,v1=%.63s", v1);
    expect_malformed(buf);
    snprintf(buf, sizeof(buf), "t=1764689191,v1=%.63sg", v1);
    expect_malformed(buf);

    /* Unknown keys are ignored, whatever their value; order is free. */
    snprintf(buf, sizeof(buf), "v0=whatever,v1=%s,t=1764689191,x-y_z=,v2=%%", v1);
    constra_webhook_params p = t_v1_params(buf, T0);
    expect_result(&p, CONSTRA_OK, CONSTRA_WEBHOOK_OK, NULL, NULL);
    /* Only v0 entries: nothing to check. */
    snprintf(buf, sizeof(buf), "t=1764689191,v0=%s", v1);
    expect_malformed(buf);
    /* Unreadable v1 candidates beside a valid one are skipped, as the
     * Stripe SDKs' own tests require ("v1=bad_signature", "v1=potato");
     * on their own they never verify. */
    static const char *const extra[] = {"v1=bad_signature", "v1=potato", "v1=abc", "v1=",
                                        "v1=@0"};
    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
        char one[200];
        subst(one, sizeof(one), extra[i], v1);
        snprintf(buf, sizeof(buf), "t=1764689191,v1=%s,%s", v1, one);
        p = t_v1_params(buf, T0);
        expect_result(&p, CONSTRA_OK, CONSTRA_WEBHOOK_OK, NULL, NULL);
        snprintf(buf, sizeof(buf), "t=1764689191,%s,v1=%s", one, v1);
        p = t_v1_params(buf, T0);
        expect_result(&p, CONSTRA_OK, CONSTRA_WEBHOOK_OK, NULL, NULL);
        snprintf(buf, sizeof(buf), "t=1764689191,%s", one);
        expect_malformed(buf);
    }
    /* A readable but wrong candidate beside an unreadable one: a mismatch. */
    snprintf(buf, sizeof(buf), "t=1764689191,v1=potato,v1=%064d", 0);
    p = t_v1_params(buf, T0);
    expect_result(&p, CONSTRA_E_SIGNATURE, CONSTRA_WEBHOOK_MISMATCH, NULL, NULL);
}

static void test_t_v1_many_entries(void **state)
{
    (void)state;
    char hdr[CONSTRA_WEBHOOK_SIGNATURE_SIZE];
    sign_t(T0, hdr);
    const char *v1 = v1_of(hdr);
    static char buf[CONSTRA_WEBHOOK_HEADER_MAX * 2];
    const char *wrong = "0000000000000000000000000000000000000000000000000000000000000000";
    /* 16 v1 entries, the valid one last: accepted. */
    size_t o = (size_t)snprintf(buf, sizeof(buf), "t=1764689191");
    for (int i = 0; i < 15; i++) {
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, ",v1=%s", wrong);
    }
    o += (size_t)snprintf(buf + o, sizeof(buf) - o, ",v1=%s", v1);
    constra_webhook_params p = t_v1_params(buf, T0);
    expect_result(&p, CONSTRA_OK, CONSTRA_WEBHOOK_OK, NULL, NULL);
    /* 17: refused as malformed, even though one matches. */
    snprintf(buf + o, sizeof(buf) - o, ",v1=%s", wrong);
    expect_malformed(buf);

    /* 10,000 commas: over the length limit. */
    o = (size_t)snprintf(buf, sizeof(buf), "t=1764689191,v1=%s", v1);
    memset(buf + o, ',', 10000);
    buf[o + 10000] = '\0';
    expect_malformed(buf);
    /* 8,000 commas: within the limit, empty entries. */
    buf[o + 8000] = '\0';
    expect_malformed(buf);

    /* Exactly CONSTRA_WEBHOOK_HEADER_MAX bytes is read; one more is not. */
    o = (size_t)snprintf(buf, sizeof(buf), "t=1764689191,v1=%s,v0=", v1);
    memset(buf + o, 'a', CONSTRA_WEBHOOK_HEADER_MAX - o);
    buf[CONSTRA_WEBHOOK_HEADER_MAX] = '\0';
    assert_int_equal(strlen(buf), CONSTRA_WEBHOOK_HEADER_MAX);
    p = t_v1_params(buf, T0);
    expect_result(&p, CONSTRA_OK, CONSTRA_WEBHOOK_OK, NULL, NULL);
    buf[CONSTRA_WEBHOOK_HEADER_MAX] = 'a';
    buf[CONSTRA_WEBHOOK_HEADER_MAX + 1] = '\0';
    expect_malformed(buf);

    /* A 1 MiB header: refused without reading past the limit (ASan would
     * not notice a full read, so the bytes past the limit are not even
     * terminated in a buffer of exactly limit + 1 bytes below). */
    size_t big = 1u << 20;
    char *h = malloc(big + 1);
    assert_non_null(h);
    for (size_t i = 0; i < big; i++) {
        h[i] = "v1=abc,"[i % 7];
    }
    h[big] = '\0';
    expect_malformed(h);
    free(h);
    /* Unterminated: limit + 1 bytes, no NUL anywhere. */
    h = malloc(CONSTRA_WEBHOOK_HEADER_MAX + 1);
    assert_non_null(h);
    memset(h, 'a', CONSTRA_WEBHOOK_HEADER_MAX + 1);
    expect_malformed(h);
    free(h);
}

static void test_t_v1_nul_in_header(void **state)
{
    (void)state;
    char hdr[CONSTRA_WEBHOOK_SIGNATURE_SIZE];
    sign_t(T0, hdr);
    char buf[256];
    /* "t=...\0,v1=...": the string ends at the NUL, so no v1 is seen. */
    int n = snprintf(buf, sizeof(buf), "t=1764689191#,v1=%s", v1_of(hdr));
    assert_true(n > 0);
    *strchr(buf, '#') = '\0';
    expect_malformed(buf);
    /* A NUL inside the v1 digits: truncated entry, malformed. */
    snprintf(buf, sizeof(buf), "%s", hdr);
    buf[strlen(buf) - 10] = '\0';
    expect_malformed(buf);
    /* Bytes after the terminating NUL are never seen. */
    snprintf(buf, sizeof(buf), "%s#,v1=zz", hdr);
    *strchr(buf, '#') = '\0';
    constra_webhook_params p = t_v1_params(buf, T0);
    expect_result(&p, CONSTRA_OK, CONSTRA_WEBHOOK_OK, NULL, NULL);
}

static void test_t_v1_window(void **state)
{
    (void)state;
    char hdr[CONSTRA_WEBHOOK_SIGNATURE_SIZE];
    sign_t(T0, hdr);
    constra_webhook_params p = t_v1_params(hdr, T0);
    /* Default tolerance (0 => 300 s), both ends inclusive. */
    const struct {
        int64_t now, tol;
        int reason;
    } cases[] = {
        {T0, 0, CONSTRA_WEBHOOK_OK},
        {T0 + 300, 0, CONSTRA_WEBHOOK_OK},
        {T0 + 301, 0, CONSTRA_WEBHOOK_EXPIRED},
        {T0 - 300, 0, CONSTRA_WEBHOOK_OK},
        {T0 - 301, 0, CONSTRA_WEBHOOK_FUTURE},
        {T0 + 10, 10, CONSTRA_WEBHOOK_OK},
        {T0 + 11, 10, CONSTRA_WEBHOOK_EXPIRED},
        {T0 - 10, 10, CONSTRA_WEBHOOK_OK},
        {T0 - 11, 10, CONSTRA_WEBHOOK_FUTURE},
        {T0 + 300, 300, CONSTRA_WEBHOOK_OK},
        {T0 + 86400, 86400, CONSTRA_WEBHOOK_OK},
        {0, 0, CONSTRA_WEBHOOK_FUTURE},
        {INT64_MAX, 0, CONSTRA_WEBHOOK_EXPIRED},
        {INT64_MAX, INT64_MAX, CONSTRA_WEBHOOK_OK}, /* window disabled */
        {0, INT64_MAX, CONSTRA_WEBHOOK_OK},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        p.now = cases[i].now;
        p.tolerance_s = cases[i].tol;
        if (cases[i].reason == CONSTRA_WEBHOOK_OK) {
            expect_result(&p, CONSTRA_OK, CONSTRA_WEBHOOK_OK, NULL, NULL);
        } else {
            expect_result(&p, CONSTRA_E_SIGNATURE, cases[i].reason,
                          cases[i].reason == CONSTRA_WEBHOOK_EXPIRED ? "signature_expired"
                                                                     : "signature_future",
                          "signature");
        }
    }
    /* A forged signature outside the window is a mismatch, not "expired":
     * the MAC is checked first. */
    char forged[CONSTRA_WEBHOOK_SIGNATURE_SIZE];
    snprintf(forged, sizeof(forged), "%s", hdr);
    forged[strlen(forged) - 1] = forged[strlen(forged) - 1] == '0' ? '1' : '0';
    p = t_v1_params(forged, T0 + 10000);
    expect_result(&p, CONSTRA_E_SIGNATURE, CONSTRA_WEBHOOK_MISMATCH, NULL, NULL);

    /* Extreme timestamps sign and verify without overflow. */
    sign_t(INT64_MAX, hdr);
    assert_non_null(strstr(hdr, "t=9223372036854775807,v1="));
    p = t_v1_params(hdr, INT64_MAX);
    expect_result(&p, CONSTRA_OK, CONSTRA_WEBHOOK_OK, NULL, NULL);
    p.now = 0;
    expect_result(&p, CONSTRA_E_SIGNATURE, CONSTRA_WEBHOOK_FUTURE, NULL, NULL);
    sign_t(0, hdr);
    assert_int_equal(strncmp(hdr, "t=0,v1=", 7), 0);
    p = t_v1_params(hdr, 300);
    expect_result(&p, CONSTRA_OK, CONSTRA_WEBHOOK_OK, NULL, NULL);
    p.now = INT64_MAX;
    expect_result(&p, CONSTRA_E_SIGNATURE, CONSTRA_WEBHOOK_EXPIRED, NULL, NULL);
}

static void test_body_with_nul(void **state)
{
    (void)state;
    const uint8_t body[] = {'{', '"', 'a', '"', ':', 0, 0, '1', '}', 0};
    constra_webhook_params p = CONSTRA_WEBHOOK_PARAMS_INIT;
    p.scheme = CONSTRA_WEBHOOK_T_V1;
    p.secret = SECRET;
    p.body = body;
    p.body_len = sizeof(body);
    p.timestamp = T0;
    char hdr[CONSTRA_WEBHOOK_SIGNATURE_SIZE];
    assert_int_equal(constra_webhook_sign(&p, hdr, sizeof(hdr), NULL), CONSTRA_OK);
    p.signature = hdr;
    p.now = T0;
    expect_result(&p, CONSTRA_OK, CONSTRA_WEBHOOK_OK, NULL, NULL);
    /* A caller that stops at the first NUL (strlen) gets a mismatch. */
    p.body_len = strlen((const char *)body);
    expect_result(&p, CONSTRA_E_SIGNATURE, CONSTRA_WEBHOOK_MISMATCH, NULL, NULL);
    /* Body with one NUL changed into another byte. */
    uint8_t other[sizeof(body)];
    memcpy(other, body, sizeof(body));
    other[5] = ' ';
    p.body = other;
    p.body_len = sizeof(other);
    expect_result(&p, CONSTRA_E_SIGNATURE, CONSTRA_WEBHOOK_MISMATCH, NULL, NULL);
    /* An empty body (NULL, 0) signs and verifies. */
    p.body = NULL;
    p.body_len = 0;
    assert_int_equal(constra_webhook_sign(&p, hdr, sizeof(hdr), NULL), CONSTRA_OK);
    expect_result(&p, CONSTRA_OK, CONSTRA_WEBHOOK_OK, NULL, NULL);
}

static void test_body_hex(void **state)
{
    (void)state;
    constra_webhook_params p = CONSTRA_WEBHOOK_PARAMS_INIT;
    p.scheme = CONSTRA_WEBHOOK_BODY_HEX;
    p.secret = SECRET;
    p.body = (const uint8_t *)BODY;
    p.body_len = strlen(BODY);
    char sig[CONSTRA_WEBHOOK_SIGNATURE_SIZE];
    assert_int_equal(constra_webhook_sign(&p, sig, sizeof(sig), NULL), CONSTRA_OK);
    assert_int_equal(strlen(sig), 64);
    p.signature = sig;
    /* now and tolerance are ignored (even invalid ones). */
    p.now = -5;
    p.tolerance_s = -5;
    expect_result(&p, CONSTRA_OK, CONSTRA_WEBHOOK_OK, NULL, NULL);
    char buf[256];
    for (size_t i = 0; sig[i]; i++) {
        buf[i] = (sig[i] >= 'a' && sig[i] <= 'f') ? (char)(sig[i] - 32) : sig[i];
    }
    buf[64] = '\0';
    p.signature = buf; /* upper case */
    expect_result(&p, CONSTRA_OK, CONSTRA_WEBHOOK_OK, NULL, NULL);
    char sig63[64];
    snprintf(sig63, sizeof(sig63), "%.63s", sig);
    assert_int_equal(strlen(sig63), 63);
    p.signature = sig63;
    expect_result(&p, CONSTRA_E_SIGNATURE, CONSTRA_WEBHOOK_MALFORMED, "signature_malformed",
                  "signature");
    const char *fmts[] = {"@0", "0@", "sha256=@", " @", "@ ", "@,@", "t=1,v1=@"};
    for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
        subst(buf, sizeof(buf), fmts[i], sig);
        p.signature = buf;
        expect_result(&p, CONSTRA_E_SIGNATURE, CONSTRA_WEBHOOK_MALFORMED, "signature_malformed",
                      "signature");
    }
    p.signature = "";
    expect_result(&p, CONSTRA_E_SIGNATURE, CONSTRA_WEBHOOK_MALFORMED, NULL, NULL);
    snprintf(buf, sizeof(buf), "%s", sig);
    buf[0] = buf[0] == 'a' ? 'b' : 'a';
    p.signature = buf;
    expect_result(&p, CONSTRA_E_SIGNATURE, CONSTRA_WEBHOOK_MISMATCH, "signature_mismatch", NULL);
}

static constra_webhook_params std_params(const char *sig)
{
    constra_webhook_params p = CONSTRA_WEBHOOK_PARAMS_INIT;
    p.scheme = CONSTRA_WEBHOOK_STANDARD;
    p.secret = STD_SECRET;
    p.msg_id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    p.timestamp_header = "1614265330";
    p.body = (const uint8_t *)"{\"test\": 2432232314}";
    p.body_len = strlen("{\"test\": 2432232314}");
    p.signature = sig;
    p.now = 1614265330;
    return p;
}

#define STD_SIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

static void test_standard_bad(void **state)
{
    (void)state;
    constra_webhook_params p = std_params(STD_SIG);
    expect_result(&p, CONSTRA_OK, CONSTRA_WEBHOOK_OK, NULL, NULL);
    /* Missing pieces are caller errors... */
    p.msg_id = NULL;
    expect_result(&p, CONSTRA_E_INVALID_ARGUMENT, CONSTRA_WEBHOOK_INVALID_ARGUMENT,
                  "parameter_missing", "msg_id");
    p = std_params(STD_SIG);
    p.timestamp_header = NULL;
    expect_result(&p, CONSTRA_E_INVALID_ARGUMENT, CONSTRA_WEBHOOK_INVALID_ARGUMENT,
                  "parameter_missing", "timestamp_header");
    /* ... while malformed header values are signature failures. */
    const char *ids[] = {"", "msg.1", "msg 1", "msg\t1", "msg\x7f", "m\xc3\xa9sg"};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        p = std_params(STD_SIG);
        p.msg_id = ids[i];
        expect_result(&p, CONSTRA_E_SIGNATURE, CONSTRA_WEBHOOK_MALFORMED, "signature_malformed",
                      "msg_id");
    }
    char longid[CONSTRA_WEBHOOK_ID_MAX + 2];
    memset(longid, 'x', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    p = std_params(STD_SIG);
    p.msg_id = longid;
    expect_result(&p, CONSTRA_E_SIGNATURE, CONSTRA_WEBHOOK_MALFORMED, NULL, "msg_id");
    /* A changed id with a valid format: mismatch. */
    p.msg_id = "msg_p5jXN8AQM9LWM0D4loKWxJel";
    expect_result(&p, CONSTRA_E_SIGNATURE, CONSTRA_WEBHOOK_MISMATCH, NULL, NULL);

    const char *tss[] = {"", "abc", "-1614265330", "+1614265330", "01614265330", "1614265330 ",
                         " 1614265330", "1614265330.0", "99999999999999999999",
                         "9223372036854775808", "1614265330\n"};
    for (size_t i = 0; i < sizeof(tss) / sizeof(tss[0]); i++) {
        p = std_params(STD_SIG);
        p.timestamp_header = tss[i];
        expect_result(&p, CONSTRA_E_SIGNATURE, CONSTRA_WEBHOOK_MALFORMED, "signature_malformed",
                      "timestamp_header");
    }
    /* Window, reported on the timestamp header. */
    p = std_params(STD_SIG);
    p.now = 1614265330 + 301;
    expect_result(&p, CONSTRA_E_SIGNATURE, CONSTRA_WEBHOOK_EXPIRED, "signature_expired",
                  "timestamp_header");
    p.now = 1614265330 - 301;
    expect_result(&p, CONSTRA_E_SIGNATURE, CONSTRA_WEBHOOK_FUTURE, "signature_future",
                  "timestamp_header");

    const char *sigs[] = {
        "",
        " ",
        "v1",
        ",g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "v1,",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE",   /* unpadded */
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1O=",   /* 43 chars */
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF=",  /* non-canonical last char */
        "v1,g0hM9SsE-OTPJTGt_tmIKtSyZlE3uFJELVlNIOLJ1OE=",  /* base64url alphabet */
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=\t",
        "v1 g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",  /* only unknown versions */
        "V1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= garbage",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=,v1,AAAA",
    };
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        p = std_params(sigs[i]);
        constra_error err = CONSTRA_ERROR_INIT;
        int reason = -1;
        if (constra_webhook_verify(&p, &reason, &err) != CONSTRA_E_SIGNATURE ||
            reason != CONSTRA_WEBHOOK_MALFORMED) {
            fail_msg("signature '%s': %s (%s)", sigs[i], constra_webhook_result_name(reason),
                     err.message);
        }
    }
    /* An unreadable v1 candidate beside the valid one is skipped, as the
     * Standard Webhooks libraries do; alone it never verifies (above). */
    p = std_params("v1,garbage " STD_SIG);
    expect_result(&p, CONSTRA_OK, CONSTRA_WEBHOOK_OK, NULL, NULL);
    p = std_params(STD_SIG " v1,AAAA v1,");
    expect_result(&p, CONSTRA_OK, CONSTRA_WEBHOOK_OK, NULL, NULL);
    /* Extra spaces between, before and after entries are tolerated. */
    p = std_params("  v2,xyz   " STD_SIG "  ");
    expect_result(&p, CONSTRA_OK, CONSTRA_WEBHOOK_OK, NULL, NULL);
    /* 17 v1 entries: malformed even with the valid one among them. */
    static char buf[4096];
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        o += (size_t)snprintf(buf + o, sizeof(buf) - o,
                              "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= ");
    }
    snprintf(buf + o, sizeof(buf) - o, "%s", STD_SIG);
    p = std_params(buf);
    expect_result(&p, CONSTRA_E_SIGNATURE, CONSTRA_WEBHOOK_MALFORMED, NULL, NULL);
    /* 16 with the valid one last: fine. */
    o = 0;
    for (int i = 0; i < 15; i++) {
        o += (size_t)snprintf(buf + o, sizeof(buf) - o,
                              "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= ");
    }
    snprintf(buf + o, sizeof(buf) - o, "%s", STD_SIG);
    p = std_params(buf);
    expect_result(&p, CONSTRA_OK, CONSTRA_WEBHOOK_OK, NULL, NULL);
    /* Oversize header. */
    char *h = malloc(1u << 20);
    assert_non_null(h);
    memset(h, ' ', (1u << 20) - 1);
    h[(1u << 20) - 1] = '\0';
    memcpy(h, STD_SIG, strlen(STD_SIG));
    p = std_params(h);
    expect_result(&p, CONSTRA_E_SIGNATURE, CONSTRA_WEBHOOK_MALFORMED, NULL, "signature");
    free(h);
}

static void test_sign_bad(void **state)
{
    (void)state;
    constra_webhook_params p = t_v1_params(NULL, 0);
    p.timestamp = T0;
    char out[CONSTRA_WEBHOOK_SIGNATURE_SIZE];
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_webhook_sign(&p, NULL, sizeof(out), &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "out");
    /* "t=1764689191,v1=" + 64 + NUL = 81 bytes. */
    memset(out, 'X', sizeof(out));
    assert_int_equal(constra_webhook_sign(&p, out, 80, &err), CONSTRA_E_BUFFER_TOO_SMALL);
    assert_non_null(strstr(err.message, "81"));
    assert_string_equal(err.code, "buffer_too_small");
    assert_int_equal(out[0], 'X'); /* untouched */
    assert_int_equal(constra_webhook_sign(&p, out, 0, &err), CONSTRA_E_BUFFER_TOO_SMALL);
    assert_int_equal(constra_webhook_sign(&p, out, 81, &err), CONSTRA_OK);
    assert_int_equal(strlen(out), 80);
    p.timestamp = -1;
    assert_int_equal(constra_webhook_sign(&p, out, sizeof(out), &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "timestamp");
    p.timestamp = T0;
    p.secret = "";
    assert_int_equal(constra_webhook_sign(&p, out, sizeof(out), &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.code, "secret_invalid");
    p.secret = NULL;
    assert_int_equal(constra_webhook_sign(&p, out, sizeof(out), &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "secret");
    p.secret = SECRET;
    p.body = NULL;
    assert_int_equal(constra_webhook_sign(&p, out, sizeof(out), &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "body");

    /* body_hex: 65 bytes; standard: 48 bytes. */
    p = t_v1_params(NULL, 0);
    p.scheme = CONSTRA_WEBHOOK_BODY_HEX;
    p.timestamp = -1; /* ignored */
    assert_int_equal(constra_webhook_sign(&p, out, 64, &err), CONSTRA_E_BUFFER_TOO_SMALL);
    assert_non_null(strstr(err.message, "65"));
    assert_int_equal(constra_webhook_sign(&p, out, 65, &err), CONSTRA_OK);

    constra_webhook_params s = std_params(NULL);
    s.timestamp = 1614265330;
    assert_int_equal(constra_webhook_sign(&s, out, 47, &err), CONSTRA_E_BUFFER_TOO_SMALL);
    assert_non_null(strstr(err.message, "48"));
    assert_int_equal(constra_webhook_sign(&s, out, 48, &err), CONSTRA_OK);
    assert_string_equal(out, STD_SIG);
    s.msg_id = NULL;
    assert_int_equal(constra_webhook_sign(&s, out, sizeof(out), &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "msg_id");
    s.msg_id = "msg.with.dots";
    assert_int_equal(constra_webhook_sign(&s, out, sizeof(out), &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "msg_id");
    s.msg_id = "";
    assert_int_equal(constra_webhook_sign(&s, out, sizeof(out), &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    s.msg_id = "msg_1";
    s.timestamp = -5;
    assert_int_equal(constra_webhook_sign(&s, out, sizeof(out), &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "timestamp");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_and_struct),
        cmocka_unit_test(test_secret),
        cmocka_unit_test(test_t_v1_malformed),
        cmocka_unit_test(test_t_v1_many_entries),
        cmocka_unit_test(test_t_v1_nul_in_header),
        cmocka_unit_test(test_t_v1_window),
        cmocka_unit_test(test_body_with_nul),
        cmocka_unit_test(test_body_hex),
        cmocka_unit_test(test_standard_bad),
        cmocka_unit_test(test_sign_bad),
    };
    return cmocka_run_group_tests_name("webhook_bad_input", tests, NULL, NULL);
}
