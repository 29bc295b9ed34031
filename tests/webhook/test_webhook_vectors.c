/* Webhook signatures through the public C API: every vector of
 * tests/vectors/webhook-signatures.json, the published Standard Webhooks
 * vectors, the Stripe-algorithm anchor, sign/verify round trips. */
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

#include "vectors.h"

static cJSON *g_root;

static int group_setup(void **state)
{
    (void)state;
    g_root = wh_load_vectors();
    return g_root ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    cJSON_Delete(g_root);
    return 0;
}

static constra_webhook_params params_of(const wh_vector *v)
{
    constra_webhook_params p = CONSTRA_WEBHOOK_PARAMS_INIT;
    p.scheme = v->scheme;
    p.secret = v->secret;
    p.body = (const uint8_t *)v->body;
    p.body_len = v->body_len;
    p.signature = v->signature;
    p.msg_id = v->msg_id;
    p.timestamp_header = v->timestamp;
    p.now = v->now;
    p.tolerance_s = v->tolerance;
    return p;
}

/* Every vector: valid ones verify, invalid ones fail with the reason the
 * file names (mapped in vectors.h). */
static void test_all_vectors(void **state)
{
    (void)state;
    int n = wh_vector_count(g_root);
    assert_int_equal(n, 192);
    int per_scheme[4] = {0, 0, 0, 0};
    int valid = 0, invalid = 0;
    for (int i = 0; i < n; i++) {
        wh_vector v;
        if (wh_vector_at(g_root, i, &v) != 0) {
            fail_msg("vector %d is malformed", i);
        }
        if (v.expected_result < 0) {
            fail_msg("vector %d: reason '%s' has no mapping in vectors.h", i, v.reason);
        }
        assert_int_equal(v.valid, v.expected_result == CONSTRA_WEBHOOK_OK);
        per_scheme[v.scheme]++;
        constra_webhook_params p = params_of(&v);
        constra_error err = CONSTRA_ERROR_INIT;
        int reason = -1;
        int rc = constra_webhook_verify(&p, &reason, &err);
        if (reason != v.expected_result) {
            fail_msg("vector %d (%s, '%s'): reason %s, want %s (%s)", i, v.scheme_name,
                     v.reason, constra_webhook_result_name(reason),
                     constra_webhook_result_name(v.expected_result), err.message);
        }
        if (v.valid) {
            assert_int_equal(rc, CONSTRA_OK);
            assert_int_equal(err.status, CONSTRA_OK);
            valid++;
        } else {
            assert_int_equal(rc, CONSTRA_E_SIGNATURE);
            assert_int_equal(err.status, CONSTRA_E_SIGNATURE);
            assert_string_equal(err.code, constra_webhook_result_name(reason));
            assert_int_equal(err.http_status, 401);
            assert_true(err.message[0] != '\0');
            /* The secret never appears in a message. */
            assert_null(strstr(err.message, v.secret));
            invalid++;
        }
        /* Same answer without reason/err outputs. */
        assert_int_equal(constra_webhook_verify(&p, NULL, NULL), rc);
    }
    assert_int_equal(valid, 72);
    assert_int_equal(invalid, 120);
    assert_true(per_scheme[CONSTRA_WEBHOOK_T_V1] > 0);
    assert_true(per_scheme[CONSTRA_WEBHOOK_BODY_HEX] > 0);
    assert_true(per_scheme[CONSTRA_WEBHOOK_STANDARD] > 0);
    printf("# %d vectors: %d valid, %d invalid (t_v1 %d, body_hex %d, standard %d)\n", n, valid,
           invalid, per_scheme[1], per_scheme[2], per_scheme[3]);
}

/* The cases the Stripe SDKs and the Standard Webhooks libraries test
 * (tests/vectors/webhook-reference-libraries.json, recomputed at fixed
 * times by scripts/gen_webhook_reference_vectors.py). */
static void test_reference_libraries(void **state)
{
    (void)state;
    cJSON *root = wh_load_vectors_named("webhook-reference-libraries.json");
    assert_non_null(root);
    int n = wh_vector_count(root);
    assert_int_equal(n, 24);
    int skipped_ok = 0;
    for (int i = 0; i < n; i++) {
        wh_vector v;
        if (wh_vector_at(root, i, &v) != 0 || v.expected_result < 0) {
            fail_msg("reference vector %d is malformed or unmapped", i);
        }
        constra_webhook_params p = params_of(&v);
        int reason = -1;
        constra_error err = CONSTRA_ERROR_INIT;
        int rc = constra_webhook_verify(&p, &reason, &err);
        if (reason != v.expected_result || (rc == CONSTRA_OK) != v.valid) {
            fail_msg("reference vector %d (%s, '%s'): %s, want %s (%s)", i, v.scheme_name,
                     v.reason, constra_webhook_result_name(reason),
                     constra_webhook_result_name(v.expected_result), err.message);
        }
        skipped_ok += strcmp(v.reason, "unreadable candidate skipped") == 0;
    }
    assert_int_equal(skipped_ok, 5);
    cJSON_Delete(root);
}

/* Signing the inputs of every "ok" vector reproduces its header exactly. */
static void test_sign_reproduces_vectors(void **state)
{
    (void)state;
    int n = wh_vector_count(g_root), checked = 0;
    for (int i = 0; i < n; i++) {
        wh_vector v;
        assert_int_equal(wh_vector_at(g_root, i, &v), 0);
        if (strcmp(v.reason, "ok") != 0) {
            continue;
        }
        constra_webhook_params p = params_of(&v);
        if (v.scheme == CONSTRA_WEBHOOK_T_V1) {
            assert_int_equal(sscanf(v.header, "t=%" SCNd64, &p.timestamp), 1);
        } else if (v.scheme == CONSTRA_WEBHOOK_STANDARD) {
            assert_int_equal(sscanf(v.timestamp, "%" SCNd64, &p.timestamp), 1);
        }
        char out[CONSTRA_WEBHOOK_SIGNATURE_SIZE];
        constra_error err = CONSTRA_ERROR_INIT;
        assert_int_equal(constra_webhook_sign(&p, out, sizeof(out), &err), CONSTRA_OK);
        assert_string_equal(out, v.signature);
        checked++;
    }
    assert_int_equal(checked, 36);
}

static int verify_std(const char *secret, const char *id, const char *ts, const char *body,
                      const char *sig, int64_t now, int *reason)
{
    constra_webhook_params p = CONSTRA_WEBHOOK_PARAMS_INIT;
    p.scheme = CONSTRA_WEBHOOK_STANDARD;
    p.secret = secret;
    p.msg_id = id;
    p.timestamp_header = ts;
    p.body = (const uint8_t *)body;
    p.body_len = strlen(body);
    p.signature = sig;
    p.now = now;
    return constra_webhook_verify(&p, reason, NULL);
}

/* Vectors A and B as published in the Standard Webhooks reference
 * libraries (github.com/standard-webhooks/standard-webhooks), and their negative cases. */
static void test_standard_published(void **state)
{
    (void)state;
    const char *sa = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const char *ida = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const char *tsa = "1614265330";
    const char *ba = "{\"test\": 2432232314}";
    const char *siga = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    const int64_t ta = 1614265330;
    int reason = -1;
    assert_int_equal(verify_std(sa, ida, tsa, ba, siga, ta, &reason), CONSTRA_OK);
    assert_int_equal(reason, CONSTRA_WEBHOOK_OK);

    const char *sb = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const char *idb = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const char *bb = "{\"email\":\"test@example.com\",\"username\":\"test_user\"}";
    const char *sigb = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
    assert_int_equal(verify_std(sb, idb, "1649367553", bb, sigb, 1649367553, &reason), CONSTRA_OK);

    /* Signing reproduces both. */
    constra_webhook_params p = CONSTRA_WEBHOOK_PARAMS_INIT;
    p.scheme = CONSTRA_WEBHOOK_STANDARD;
    p.secret = sa;
    p.msg_id = ida;
    p.timestamp = ta;
    p.body = (const uint8_t *)ba;
    p.body_len = strlen(ba);
    char out[CONSTRA_WEBHOOK_SIGNATURE_SIZE];
    assert_int_equal(constra_webhook_sign(&p, out, sizeof(out), NULL), CONSTRA_OK);
    assert_string_equal(out, siga);
    p.secret = sb;
    p.msg_id = idb;
    p.timestamp = 1649367553;
    p.body = (const uint8_t *)bb;
    p.body_len = strlen(bb);
    assert_int_equal(constra_webhook_sign(&p, out, sizeof(out), NULL), CONSTRA_OK);
    assert_string_equal(out, sigb);

    /* The secret without its whsec_ prefix is the same key. */
    assert_int_equal(verify_std("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", ida, tsa, ba, siga, ta,
                                &reason),
                     CONSTRA_OK);

    /* Negative cases of the reference suites. */
    assert_int_equal(verify_std(sa, ida, tsa, ba, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
                                ta, &reason),
                     CONSTRA_E_SIGNATURE);
    assert_int_equal(reason, CONSTRA_WEBHOOK_MISMATCH);
    assert_int_equal(verify_std(sa, ida, tsa, ba, "v1,", ta, &reason), CONSTRA_E_SIGNATURE);
    assert_int_equal(reason, CONSTRA_WEBHOOK_MALFORMED);
    assert_int_equal(verify_std(sa, ida, tsa, ba, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=",
                                ta, &reason),
                     CONSTRA_E_SIGNATURE);
    assert_int_equal(reason, CONSTRA_WEBHOOK_MISMATCH);
    const char *multi = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= "
                        "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= "
                        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= "
                        "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
    assert_int_equal(verify_std(sa, ida, tsa, ba, multi, ta, &reason), CONSTRA_OK);
    /* Asymmetric v1a entries are ignored, the v1 one still counts. */
    assert_int_equal(verify_std(sa, ida, tsa, ba, "v1a,AAAA v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                                ta, &reason),
                     CONSTRA_OK);
    /* Window: exactly -tolerance and +tolerance pass, one more second fails. */
    assert_int_equal(verify_std(sa, ida, tsa, ba, siga, ta + 300, &reason), CONSTRA_OK);
    assert_int_equal(verify_std(sa, ida, tsa, ba, siga, ta - 300, &reason), CONSTRA_OK);
    assert_int_equal(verify_std(sa, ida, tsa, ba, siga, ta + 301, &reason), CONSTRA_E_SIGNATURE);
    assert_int_equal(reason, CONSTRA_WEBHOOK_EXPIRED);
    assert_int_equal(verify_std(sa, ida, tsa, ba, siga, ta - 301, &reason), CONSTRA_E_SIGNATURE);
    assert_int_equal(reason, CONSTRA_WEBHOOK_FUTURE);
}

/* Stripe's documented algorithm (docs.stripe.com/webhooks/signature), key = the whole secret
 * string including "whsec_". */
static void test_stripe_anchor(void **state)
{
    (void)state;
    const char *body = "{\"id\":\"evt_1\",\"type\":\"payment_intent.succeeded\"}";
    constra_webhook_params p = CONSTRA_WEBHOOK_PARAMS_INIT;
    int scheme = 0;
    assert_int_equal(constra_webhook_scheme_from_name("stripe", &scheme, NULL), CONSTRA_OK);
    p.scheme = scheme;
    p.secret = "whsec_test_secret";
    p.body = (const uint8_t *)body;
    p.body_len = strlen(body);
    p.timestamp = 1700000000;
    char out[CONSTRA_WEBHOOK_SIGNATURE_SIZE];
    assert_int_equal(constra_webhook_sign(&p, out, sizeof(out), NULL), CONSTRA_OK);
    assert_string_equal(out, "t=1700000000,v1="
                             "22d8dc182f5c588077683bd378368e29765bfe5df2560112b4f28fef120f0e31");
    p.signature = "t=1700000000,v1=22d8dc182f5c588077683bd378368e29765bfe5df2560112b4f28fef120f0e31,"
                  "v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39";
    p.now = 1700000100;
    int reason = -1;
    assert_int_equal(constra_webhook_verify(&p, &reason, NULL), CONSTRA_OK);
    assert_int_equal(reason, CONSTRA_WEBHOOK_OK);
}

/* Deterministic pseudo-random bytes (xorshift). */
static void fill_random(uint8_t *buf, size_t n, uint32_t seed)
{
    uint32_t x = seed ? seed : 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
}

/* sign then verify for each scheme over bodies of many lengths, NUL bytes
 * included; any flipped bit is then a mismatch. */
static void test_round_trips(void **state)
{
    (void)state;
    const size_t lens[] = {0, 1, 2, 55, 56, 63, 64, 65, 119, 120, 1000, 4096, 100000};
    static uint8_t body[100000];
    const int schemes[] = {CONSTRA_WEBHOOK_T_V1, CONSTRA_WEBHOOK_BODY_HEX,
                           CONSTRA_WEBHOOK_STANDARD};
    for (size_t s = 0; s < 3; s++) {
        for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
            size_t len = lens[l];
            fill_random(body, len, (uint32_t)(len * 31 + s));
            if (len > 2) {
                body[1] = 0; /* NUL bytes inside the body */
                body[len - 1] = 0;
            }
            constra_webhook_params p = CONSTRA_WEBHOOK_PARAMS_INIT;
            p.scheme = schemes[s];
            p.secret = schemes[s] == CONSTRA_WEBHOOK_STANDARD
                           ? "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
                           : "whsec_round_trip_secret";
            p.body = len ? body : NULL;
            p.body_len = len;
            p.msg_id = "msg_round_trip";
            p.timestamp = 1764689191;
            char sig[CONSTRA_WEBHOOK_SIGNATURE_SIZE];
            constra_error err = CONSTRA_ERROR_INIT;
            assert_int_equal(constra_webhook_sign(&p, sig, sizeof(sig), &err), CONSTRA_OK);
            char ts[24];
            snprintf(ts, sizeof(ts), "%" PRId64, p.timestamp);
            p.signature = sig;
            p.timestamp_header = ts;
            p.now = p.timestamp + 10;
            int reason = -1;
            if (constra_webhook_verify(&p, &reason, &err) != CONSTRA_OK) {
                fail_msg("scheme %d len %zu: %s", p.scheme, len, err.message);
            }
            assert_int_equal(reason, CONSTRA_WEBHOOK_OK);
            if (len > 0) {
                body[len / 2] ^= 0x01;
                assert_int_equal(constra_webhook_verify(&p, &reason, &err), CONSTRA_E_SIGNATURE);
                assert_int_equal(reason, CONSTRA_WEBHOOK_MISMATCH);
                assert_string_equal(err.code, "signature_mismatch");
                body[len / 2] ^= 0x01;
                /* One byte shorter: mismatch too (the length is covered). */
                p.body_len = len - 1;
                assert_int_equal(constra_webhook_verify(&p, &reason, NULL), CONSTRA_E_SIGNATURE);
                assert_int_equal(reason, CONSTRA_WEBHOOK_MISMATCH);
            }
        }
    }
}

/* Rotation: header carries v1 for the old and the new secret; either
 * secret verifies, a third does not. Standard Webhooks likewise. */
static void test_rotation(void **state)
{
    (void)state;
    const char *body = "{\"id\":\"evt_rot\"}";
    constra_webhook_params p = CONSTRA_WEBHOOK_PARAMS_INIT;
    p.scheme = CONSTRA_WEBHOOK_T_V1;
    p.body = (const uint8_t *)body;
    p.body_len = strlen(body);
    p.timestamp = 1764689191;
    char a[CONSTRA_WEBHOOK_SIGNATURE_SIZE], b[CONSTRA_WEBHOOK_SIGNATURE_SIZE];
    p.secret = "whsec_old";
    assert_int_equal(constra_webhook_sign(&p, a, sizeof(a), NULL), CONSTRA_OK);
    p.secret = "whsec_new";
    assert_int_equal(constra_webhook_sign(&p, b, sizeof(b), NULL), CONSTRA_OK);
    char header[256];
    snprintf(header, sizeof(header), "%s,%s", a, strchr(b, ',') + 1); /* t=..,v1=A,v1=B */
    p.signature = header;
    p.now = p.timestamp;
    int reason = -1;
    p.secret = "whsec_old";
    assert_int_equal(constra_webhook_verify(&p, &reason, NULL), CONSTRA_OK);
    p.secret = "whsec_new";
    assert_int_equal(constra_webhook_verify(&p, &reason, NULL), CONSTRA_OK);
    p.secret = "whsec_other";
    assert_int_equal(constra_webhook_verify(&p, &reason, NULL), CONSTRA_E_SIGNATURE);
    assert_int_equal(reason, CONSTRA_WEBHOOK_MISMATCH);

    /* Standard Webhooks: two keys, space-separated. */
    const char *k1 = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const char *k2 = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    constra_webhook_params s = CONSTRA_WEBHOOK_PARAMS_INIT;
    s.scheme = CONSTRA_WEBHOOK_STANDARD;
    s.body = (const uint8_t *)body;
    s.body_len = strlen(body);
    s.msg_id = "msg_rot";
    s.timestamp = 1764689191;
    s.secret = k1;
    assert_int_equal(constra_webhook_sign(&s, a, sizeof(a), NULL), CONSTRA_OK);
    s.secret = k2;
    assert_int_equal(constra_webhook_sign(&s, b, sizeof(b), NULL), CONSTRA_OK);
    snprintf(header, sizeof(header), "%s %s", a, b);
    s.signature = header;
    s.timestamp_header = "1764689191";
    s.now = 1764689191;
    s.secret = k1;
    assert_int_equal(constra_webhook_verify(&s, &reason, NULL), CONSTRA_OK);
    s.secret = k2;
    assert_int_equal(constra_webhook_verify(&s, &reason, NULL), CONSTRA_OK);
}

/* Names and enums. */
static void test_names(void **state)
{
    (void)state;
    const struct {
        const char *name;
        int scheme;
    } ok[] = {{"t_v1", 1}, {"constra", 1}, {"stripe", 1}, {"body_hex", 2}, {"body-hex", 2},
              {"standard_webhooks", 3}, {"standard-webhooks", 3}, {"svix", 3}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int s = 0;
        assert_int_equal(constra_webhook_scheme_from_name(ok[i].name, &s, NULL), CONSTRA_OK);
        assert_int_equal(s, ok[i].scheme);
    }
    assert_string_equal(constra_webhook_scheme_name(1), "t_v1");
    assert_string_equal(constra_webhook_scheme_name(2), "body_hex");
    assert_string_equal(constra_webhook_scheme_name(3), "standard_webhooks");
    assert_null(constra_webhook_scheme_name(0));
    assert_null(constra_webhook_scheme_name(4));
    const char *names[] = {"ok", "signature_malformed", "signature_expired", "signature_future",
                           "signature_mismatch", "secret_invalid", "invalid_argument",
                           "internal_error"};
    for (int i = 0; i < 8; i++) {
        assert_string_equal(constra_webhook_result_name(i), names[i]);
    }
    assert_string_equal(constra_webhook_result_name(-1), "unknown");
    assert_string_equal(constra_webhook_result_name(8), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_vectors),
        cmocka_unit_test(test_sign_reproduces_vectors),
        cmocka_unit_test(test_standard_published),
        cmocka_unit_test(test_stripe_anchor),
        cmocka_unit_test(test_reference_libraries),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests_name("webhook_vectors", tests, group_setup, group_teardown);
}
