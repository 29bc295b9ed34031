/* The M-Pesa result-code catalogue: classes per API context, message-
 * selected meanings, normalisation, unknown codes, bad input, and the
 * catalogue's own integrity. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <constra.h>

enum { AUTO = CONSTRA_MPESA_API_AUTO, STK = CONSTRA_MPESA_API_STK, B2C = CONSTRA_MPESA_API_B2C,
       C2B = CONSTRA_MPESA_API_C2B, SYNC = CONSTRA_MPESA_API_SYNC };
enum { S = CONSTRA_OUTCOME_SUCCEEDED, P = CONSTRA_OUTCOME_PENDING,
       R = CONSTRA_OUTCOME_REQUIRES_RECOVERY, RL = CONSTRA_OUTCOME_RETRY_LATER,
       T = CONSTRA_OUTCOME_FAILED, C = CONSTRA_OUTCOME_FAILED_CONFIGURATION,
       V = CONSTRA_OUTCOME_REVIEW_REQUIRED };

static constra_result_info look(const char *code, int api, const char *msg)
{
    constra_result_info info = CONSTRA_RESULT_INFO_INIT;
    constra_error err = CONSTRA_ERROR_INIT;
    int rc = constra_mpesa_result_lookup(code, CONSTRA_MPESA_CODE_NTS, api, msg, &info, &err);
    if (rc != CONSTRA_OK) {
        fail_msg("lookup of '%s' failed: %s", code, err.message);
    }
    return info;
}

typedef struct expect {
    const char *code;
    int api;
    const char *message;
    int want_api;
    int want_outcome;
    int want_known;
    const char *want_action;
} expect;

static const expect cases[] = {
    /* every class, STK */
    {"0", STK, NULL, STK, S, 1, "none"},
    {"4999", STK, NULL, STK, P, 1, "none"},
    {"1032", STK, NULL, STK, R, 1, "retry"},
    {"1037", STK, NULL, STK, R, 1, "retry"},
    {"1", STK, NULL, STK, R, 1, "contact_customer"},
    {"17", STK, NULL, STK, RL, 1, "retry_later"},
    {"26", STK, NULL, STK, RL, 1, "retry_later"},
    {"1001", STK, NULL, STK, RL, 1, "retry_later"},
    {"2", STK, NULL, STK, T, 1, "none"},
    {"8006", STK, NULL, STK, T, 1, "contact_customer"},
    {"2028", STK, NULL, STK, C, 1, "operator_review"},
    {"2029", STK, NULL, STK, V, 1, "operator_review"},
    {"1050", STK, NULL, STK, V, 1, "operator_review"},
    {"1019", STK, NULL, STK, R, 1, "retry"},
    {"E3008", STK, NULL, STK, T, 1, "none"},
    /* the same code, different APIs */
    {"2001", STK, NULL, STK, R, 1, "retry"},
    {"2001", B2C, NULL, B2C, C, 1, "operator_review"},
    {"1", B2C, NULL, B2C, RL, 1, "retry_later"},
    {"8006", B2C, NULL, B2C, C, 1, "operator_review"},
    {"17", B2C, NULL, B2C, RL, 1, "retry_later"},
    {"SFC_IC0003", STK, NULL, STK, C, 1, "operator_review"},
    {"SFC_IC0003", B2C, NULL, B2C, T, 1, "contact_customer"},
    {"SFC_IC0003", AUTO, NULL, STK, C, 1, "operator_review"},
    {"0", B2C, NULL, B2C, S, 1, "none"},
    {"0", C2B, NULL, C2B, S, 1, "none"},
    {"0", SYNC, NULL, SYNC, P, 1, "none"}, /* ResponseCode 0: accepted, not paid */
    {"15", B2C, NULL, B2C, V, 1, "operator_review"},
    {"R000001", B2C, NULL, B2C, T, 1, "none"},
    {"R000002", AUTO, NULL, B2C, T, 1, "none"},
    {"100000100", AUTO, NULL, B2C, RL, 1, "retry_later"},
    /* C2B */
    {"C2B00011", AUTO, NULL, C2B, T, 1, "contact_customer"},
    {"C2B00016", C2B, NULL, C2B, T, 1, "operator_review"},
    /* synchronous errorCodes; dotted codes are SYNC whatever the api */
    {"400.002.02", AUTO, "Bad Request - Invalid PhoneNumber", SYNC, T, 1, "none"},
    {"400.002.02", STK, NULL, SYNC, T, 1, "none"},
    {"404.001.03", B2C, "Invalid Access Token", SYNC, RL, 1, "retry"},
    {"400.003.01", AUTO, NULL, SYNC, RL, 1, "retry"},
    {"401.002.01", AUTO, NULL, SYNC, RL, 1, "retry"},
    {"400.008.02", AUTO, NULL, SYNC, C, 1, "operator_review"},
    {"405.001", AUTO, NULL, SYNC, C, 1, "operator_review"},
    {"500.003.02", AUTO, "Error Occurred: Spike Arrest Violation", SYNC, RL, 1, "retry_later"},
    {"500.003.03", AUTO, NULL, SYNC, RL, 1, "retry_later"},
    {"500.002.1001", AUTO, NULL, SYNC, V, 1, "operator_review"},
    {"00.002.1001", AUTO, NULL, SYNC, RL, 1, "retry_later"},
    /* 500.001.1001 by message */
    {"500.001.1001", AUTO, "The transaction is being processed", SYNC, P, 1, "none"},
    {"500.001.1001", STK, "The transaction is still under processing", SYNC, P, 1, "none"},
    {"500.001.1001", AUTO, "THE TRANSACTION IS BEING PROCESSED", SYNC, P, 1, "none"},
    {"500.001.1001", AUTO, "Merchant does not exist", SYNC, C, 1, "operator_review"},
    {"500.001.1001", AUTO, "[MerchantValidate] - Wrong credentials", SYNC, C, 1,
     "operator_review"},
    {"500.001.1001", AUTO,
     "Unable to lock subscriber, a transaction is already in process for the current "
     "subscriber", SYNC, RL, 1, "retry_later"},
    {"500.001.1001", AUTO, "Internal Server Error", SYNC, V, 1, "operator_review"},
    {"500.001.1001", AUTO, NULL, SYNC, V, 1, "operator_review"},
    {"500.001.1001", AUTO, "", SYNC, V, 1, "operator_review"},
    {"500.001.1001", AUTO, "Something new", SYNC, V, 1, "operator_review"},
    {"500.003.1001", AUTO, "Urls are already registered", SYNC, C, 1, "operator_review"},
    {"500.003.1001", AUTO, "Duplicate notification info, SP ID is 107031", SYNC, C, 1,
     "operator_review"},
    {"500.003.1001", AUTO, "Internal Server Error", SYNC, RL, 1, "retry_later"},
    /* message ignored for single-meaning codes */
    {"1032", STK, "The transaction is being processed", STK, R, 1, "retry"},
    /* B2C gateway range, by message */
    {"100000002", AUTO, "Throttling error", B2C, RL, 1, "retry_later"},
    {"100000001", B2C, "The system is overload", B2C, RL, 1, "retry_later"},
    {"100000004", B2C, "Invalid input %1", B2C, T, 1, "none"},
    {"100000010", B2C, "Insufficient permissions", B2C, C, 1, "operator_review"},
    {"100000000", B2C, NULL, B2C, V, 1, "operator_review"},
    {"100000011", B2C, "Request cached", B2C, V, 1, "operator_review"},
    {"100000012", B2C, "Throttling error", B2C, V, 0, "operator_review"},
    {"099999999", B2C, NULL, B2C, V, 0, "operator_review"},
    {"100000000-100000011", B2C, NULL, B2C, V, 0, "operator_review"},
    /* whitespace trimmed */
    {" 0 ", AUTO, NULL, STK, S, 1, "none"},
    {"\t1032\r\n", STK, NULL, STK, R, 1, "retry"},
    {" SFC_IC0003\n", B2C, NULL, B2C, T, 1, "contact_customer"},
    /* unknown: review, never success or failure */
    {"99999", STK, NULL, STK, V, 0, "operator_review"},
    {"01032", STK, NULL, STK, V, 0, "operator_review"},
    {"00", STK, NULL, STK, V, 0, "operator_review"},
    {"sfc_ic0003", STK, NULL, STK, V, 0, "operator_review"},
    {"c2b00011", AUTO, NULL, STK, V, 0, "operator_review"},
    {"C2B00017", AUTO, NULL, C2B, V, 0, "operator_review"},
    {"C2B00011", STK, NULL, STK, V, 0, "operator_review"},
    {"4999", B2C, NULL, B2C, V, 0, "operator_review"},
    {"999.999.999", AUTO, NULL, SYNC, V, 0, "operator_review"},
    {"1032.0", STK, NULL, SYNC, V, 0, "operator_review"},
    {"-1", AUTO, NULL, STK, V, 0, "operator_review"},
    {"+0", AUTO, NULL, STK, V, 0, "operator_review"},
    {"R", AUTO, NULL, STK, V, 0, "operator_review"},
    {"R00000X", AUTO, NULL, STK, V, 0, "operator_review"},
};

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const expect *c = &cases[i];
        constra_result_info info = look(c->code, c->api, c->message);
        if (info.api != c->want_api || info.outcome != c->want_outcome ||
            info.known != c->want_known || strcmp(info.recommended_action, c->want_action) != 0) {
            fail_msg("case %zu '%s' api %d msg '%s': got api %s class %s known %d action %s", i,
                     c->code, c->api, c->message ? c->message : "(null)",
                     constra_mpesa_api_name(info.api), constra_outcome_name(info.outcome),
                     info.known, info.recommended_action);
        }
        assert_int_equal(info.retry_allowed, c->want_outcome == R || c->want_outcome == RL);
        assert_non_null(info.description);
        assert_non_null(info.recovery_note);
        assert_true(info.description[0] != '\0');
        assert_true(info.recovery_note[0] != '\0');
        assert_non_null(info.message_match);
        assert_int_equal(info.struct_size, sizeof(info));
    }
}

static void test_every_class_reached(void **state)
{
    (void)state;
    int seen[8] = {0};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        seen[look(cases[i].code, cases[i].api, cases[i].message).outcome] = 1;
    }
    for (int o = CONSTRA_OUTCOME_SUCCEEDED; o <= CONSTRA_OUTCOME_REVIEW_REQUIRED; o++) {
        if (!seen[o]) {
            fail_msg("class %s never reached", constra_outcome_name(o));
        }
    }
    assert_false(seen[CONSTRA_OUTCOME_NONE]);
}

static void test_unknown_is_review(void **state)
{
    (void)state;
    constra_result_info info = look("77777", AUTO, NULL);
    assert_int_equal(info.known, 0);
    assert_int_equal(info.outcome, CONSTRA_OUTCOME_REVIEW_REQUIRED);
    assert_int_equal(info.retry_allowed, 0);
    assert_string_equal(info.recommended_action, "operator_review");
    assert_string_equal(info.code, "77777");
    assert_string_equal(info.message_match, "");
    assert_non_null(strstr(info.description, "Unknown"));
    assert_non_null(strstr(info.recovery_note, "Do not treat it as success or failure"));
}

static void test_descriptions(void **state)
{
    (void)state;
    constra_result_info info = look("1032", STK, NULL);
    assert_string_equal(info.recovery_note,
                        "Customer cancelled the prompt. Offer retry or alternate payment timing.");
    assert_string_equal(info.code, "1032");
    info = look("2001", STK, NULL);
    assert_non_null(strstr(info.description, "PIN"));
    info = look("2001", B2C, NULL);
    assert_null(strstr(info.description, "wrong M-Pesa PIN"));
    assert_non_null(strstr(info.description, "certificate"));
    info = look("500.001.1001", AUTO, "The transaction is being processed");
    assert_string_equal(info.message_match, "being processed");
    assert_string_equal(info.code, "500.001.1001");
    info = look("100000002", AUTO, "Throttling error");
    assert_string_equal(info.code, "100000002"); /* the caller's code, not the range key */
}

static void test_number_and_string_forms(void **state)
{
    (void)state;
    static const int64_t nums[] = {0, 1, 2, 17, 26, 1001, 1019, 1032, 1037, 2001, 4999, 8006,
                                   9999, 123456, 100000002, 100000100};
    static const int apis[] = {AUTO, STK, B2C, C2B, SYNC};
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        for (size_t a = 0; a < sizeof(apis) / sizeof(apis[0]); a++) {
            char text[32];
            snprintf(text, sizeof(text), "%lld", (long long)nums[i]);
            constra_result_info s = look(text, apis[a], "Throttling error");
            constra_result_info n = CONSTRA_RESULT_INFO_INIT;
            assert_int_equal(constra_mpesa_result_lookup_int(nums[i], apis[a], "Throttling error",
                                                             &n, NULL),
                             CONSTRA_OK);
            assert_int_equal(s.api, n.api);
            assert_int_equal(s.outcome, n.outcome);
            assert_int_equal(s.known, n.known);
            assert_int_equal(s.retry_allowed, n.retry_allowed);
            assert_ptr_equal(s.description, n.description);
            assert_ptr_equal(s.recovery_note, n.recovery_note);
            assert_ptr_equal(s.recommended_action, n.recommended_action);
            assert_ptr_equal(s.message_match, n.message_match);
            assert_string_equal(s.code, n.code);
        }
    }
    constra_result_info n = CONSTRA_RESULT_INFO_INIT;
    assert_int_equal(constra_mpesa_result_lookup_int(INT64_MIN, AUTO, NULL, &n, NULL), CONSTRA_OK);
    assert_string_equal(n.code, "-9223372036854775808");
    assert_int_equal(n.known, 0);
    assert_int_equal(n.outcome, CONSTRA_OUTCOME_REVIEW_REQUIRED);
    assert_int_equal(constra_mpesa_result_lookup_int(INT64_MAX, AUTO, NULL, &n, NULL), CONSTRA_OK);
    assert_int_equal(n.known, 0);
    assert_int_equal(n.api, B2C); /* 19 digits: shaped like a gateway code */
}

static void test_code_len(void **state)
{
    (void)state;
    constra_result_info info = CONSTRA_RESULT_INFO_INIT;
    /* Not NUL-terminated: exactly code_len bytes are used. */
    const char buf[] = {'1', '0', '3', '2', 'X', 'Y'};
    assert_int_equal(constra_mpesa_result_lookup(buf, 4, STK, NULL, &info, NULL), CONSTRA_OK);
    assert_string_equal(info.code, "1032");
    assert_int_equal(info.outcome, R);
    assert_int_equal(constra_mpesa_result_lookup(buf, 3, STK, NULL, &info, NULL), CONSTRA_OK);
    assert_string_equal(info.code, "103");
    assert_int_equal(info.known, 0);
    /* A JSON-parser slice with surrounding spaces. */
    const char *json = "{\"ResultCode\": \" 1037 \"}";
    assert_int_equal(constra_mpesa_result_lookup(json + 16, 6, STK, NULL, &info, NULL),
                     CONSTRA_OK);
    assert_string_equal(info.code, "1037");
    /* Exactly 64 bytes is accepted (unknown); 65 is not. */
    char big[CONSTRA_MPESA_CODE_MAX + 2];
    memset(big, 'A', sizeof(big));
    assert_int_equal(constra_mpesa_result_lookup(big, CONSTRA_MPESA_CODE_MAX, STK, NULL, &info,
                                                 NULL),
                     CONSTRA_OK);
    assert_int_equal(strlen(info.code), CONSTRA_MPESA_CODE_MAX);
    assert_int_equal(info.known, 0);
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_mpesa_result_lookup(big, CONSTRA_MPESA_CODE_MAX + 1, STK, NULL,
                                                 &info, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "code");
    big[CONSTRA_MPESA_CODE_MAX] = '\0';
    assert_int_equal(constra_mpesa_result_lookup(big, CONSTRA_MPESA_CODE_NTS, STK, NULL, &info,
                                                 NULL),
                     CONSTRA_OK);
}

static void expect_bad_code(const char *code, size_t len, const char *why)
{
    constra_result_info info = CONSTRA_RESULT_INFO_INIT;
    info.outcome = 42;
    constra_error err = CONSTRA_ERROR_INIT;
    int rc = constra_mpesa_result_lookup(code, len, AUTO, NULL, &info, &err);
    if (rc != CONSTRA_E_INVALID_ARGUMENT) {
        fail_msg("%s: rc %d, want CONSTRA_E_INVALID_ARGUMENT", why, rc);
    }
    assert_string_equal(err.param, "code");
    assert_int_equal(err.status, CONSTRA_E_INVALID_ARGUMENT);
    assert_true(err.message[0] != '\0');
    /* untouched */
    assert_int_equal(info.outcome, 42);
    assert_int_equal(info.api, 0);
    assert_null(info.description);
    assert_string_equal(info.code, "");
    /* err NULL is fine too */
    assert_int_equal(constra_mpesa_result_lookup(code, len, AUTO, NULL, &info, NULL),
                     CONSTRA_E_INVALID_ARGUMENT);
}

static void test_bad_codes(void **state)
{
    (void)state;
    expect_bad_code(NULL, CONSTRA_MPESA_CODE_NTS, "NULL");
    expect_bad_code(NULL, 4, "NULL with length");
    expect_bad_code("", CONSTRA_MPESA_CODE_NTS, "empty");
    expect_bad_code("1032", 0, "zero length");
    expect_bad_code("   ", CONSTRA_MPESA_CODE_NTS, "only spaces");
    expect_bad_code("\t\r\n", CONSTRA_MPESA_CODE_NTS, "only whitespace");
    expect_bad_code("10\0" "32", 5, "NUL inside code_len");
    expect_bad_code("\0" "1032", 5, "leading NUL");
    expect_bad_code("10 32", CONSTRA_MPESA_CODE_NTS, "inner space");
    expect_bad_code("10\t32", CONSTRA_MPESA_CODE_NTS, "inner tab");
    expect_bad_code("10\x01" "32", CONSTRA_MPESA_CODE_NTS, "control byte");
    expect_bad_code("\x7f", CONSTRA_MPESA_CODE_NTS, "DEL");
    expect_bad_code("10\xc3\xa9", CONSTRA_MPESA_CODE_NTS, "UTF-8");
    expect_bad_code("\xff", CONSTRA_MPESA_CODE_NTS, "0xff");
    char over[CONSTRA_MPESA_CODE_MAX + 2];
    memset(over, '1', sizeof(over) - 1);
    over[sizeof(over) - 1] = '\0';
    expect_bad_code(over, CONSTRA_MPESA_CODE_NTS, "65 bytes");
    expect_bad_code(over, SIZE_MAX - 1, "huge code_len");
    /* 64 spaces around a short code still count toward the input limit */
    char padded[80];
    memset(padded, ' ', sizeof(padded));
    padded[40] = '0';
    padded[79] = '\0';
    expect_bad_code(padded, CONSTRA_MPESA_CODE_NTS, "79 bytes with padding");

    /* No NUL anywhere: NTS reads at most 65 bytes (ASan checks). */
    char *raw = malloc(CONSTRA_MPESA_CODE_MAX + 1);
    assert_non_null(raw);
    memset(raw, '7', CONSTRA_MPESA_CODE_MAX + 1);
    expect_bad_code(raw, CONSTRA_MPESA_CODE_NTS, "unterminated");
    free(raw);

    /* 1 MiB string */
    size_t mib = (size_t)1 << 20;
    char *huge = malloc(mib + 1);
    assert_non_null(huge);
    memset(huge, '1', mib);
    huge[mib] = '\0';
    expect_bad_code(huge, CONSTRA_MPESA_CODE_NTS, "1 MiB NTS");
    expect_bad_code(huge, mib, "1 MiB with length");
    free(huge);
}

static void test_bad_other_args(void **state)
{
    (void)state;
    constra_result_info info = CONSTRA_RESULT_INFO_INIT;
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_mpesa_result_lookup("0", 1, 5, NULL, &info, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "api");
    assert_int_equal(constra_mpesa_result_lookup("0", 1, -1, NULL, &info, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "api");
    assert_int_equal(constra_mpesa_result_lookup_int(0, 99, NULL, &info, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_mpesa_result_lookup("0", 1, STK, NULL, NULL, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "out");
    assert_int_equal(constra_mpesa_result_lookup_int(0, STK, NULL, NULL, NULL),
                     CONSTRA_E_INVALID_ARGUMENT);

    /* struct_size handling */
    constra_result_info zero;
    memset(&zero, 0, sizeof(zero));
    assert_int_equal(constra_mpesa_result_lookup("0", 1, STK, NULL, &zero, &err), CONSTRA_E_ABI);
    assert_string_equal(err.param, "out");
    assert_int_equal(zero.outcome, 0);
    zero.struct_size = 8;
    assert_int_equal(constra_mpesa_result_lookup("0", 1, STK, NULL, &zero, &err), CONSTRA_E_ABI);
    zero.struct_size = 1u << 20;
    assert_int_equal(constra_mpesa_result_lookup("0", 1, STK, NULL, &zero, &err), CONSTRA_E_ABI);

    /* A caller built against newer headers: larger struct, zero tail. */
    struct {
        constra_result_info info;
        char newer[32];
    } big;
    memset(&big, 0, sizeof(big));
    big.info.struct_size = sizeof(big);
    assert_int_equal(constra_mpesa_result_lookup("1032", 4, STK, NULL, &big.info, &err),
                     CONSTRA_OK);
    assert_int_equal(big.info.struct_size, sizeof(big)); /* kept */
    assert_int_equal(big.info.outcome, R);
    for (size_t i = 0; i < sizeof(big.newer); i++) {
        assert_int_equal(big.newer[i], 0); /* never written */
    }
    big.newer[5] = 1;
    assert_int_equal(constra_mpesa_result_lookup("1032", 4, STK, NULL, &big.info, &err),
                     CONSTRA_E_ABI);

    /* message: only the first CONSTRA_MPESA_MESSAGE_SCAN_MAX bytes */
    char *msg = malloc(CONSTRA_MPESA_MESSAGE_SCAN_MAX);
    assert_non_null(msg);
    memset(msg, 'x', CONSTRA_MPESA_MESSAGE_SCAN_MAX);
    memcpy(msg, "being processed", 15); /* no NUL at all: ASan checks the bound */
    info = look("500.001.1001", AUTO, msg);
    assert_int_equal(info.outcome, P);
    memset(msg, 'x', CONSTRA_MPESA_MESSAGE_SCAN_MAX);
    memcpy(msg + CONSTRA_MPESA_MESSAGE_SCAN_MAX - 10, "being processed", 10);
    info = look("500.001.1001", AUTO, msg);
    assert_int_equal(info.outcome, V); /* cut at the bound */
    free(msg);
}

static void test_info_init(void **state)
{
    (void)state;
    constra_result_info info;
    memset(&info, 0xab, sizeof(info));
    assert_int_equal(constra_result_info_init(&info, sizeof(info)), CONSTRA_OK);
    assert_int_equal(info.struct_size, sizeof(info));
    assert_int_equal(info.outcome, CONSTRA_OUTCOME_NONE);
    assert_null(info.description);
    assert_string_equal(info.code, "");
    assert_int_equal(constra_result_info_init(NULL, sizeof(info)), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_result_info_init(&info, 0), CONSTRA_E_ABI);
    /* version 1 ends after `code`; smaller is refused, that size is fine */
    size_t v1 = offsetof(constra_result_info, code) + CONSTRA_MPESA_CODE_MAX + 1;
    assert_int_equal(constra_result_info_init(&info, v1 - 1), CONSTRA_E_ABI);
    assert_int_equal(constra_result_info_init(&info, v1), CONSTRA_OK);
    assert_int_equal(info.struct_size, v1);
    assert_int_equal(constra_mpesa_result_lookup("1032", 4, STK, NULL, &info, NULL), CONSTRA_OK);
    assert_int_equal(info.struct_size, v1);
    assert_string_equal(info.code, "1032");
    assert_int_equal(constra_result_info_init(&info, (size_t)1 << 20), CONSTRA_E_ABI);
    constra_result_info m = CONSTRA_RESULT_INFO_INIT;
    assert_int_equal(constra_result_info_init(&info, sizeof(info)), CONSTRA_OK);
    assert_int_equal(m.struct_size, info.struct_size);
    assert_int_equal(m.api, info.api);
    assert_int_equal(m.outcome, info.outcome);
    assert_int_equal(m.known, info.known);
    assert_int_equal(m.retry_allowed, info.retry_allowed);
    assert_null(m.recommended_action);
    assert_null(info.recommended_action);
    assert_string_equal(m.code, info.code);
    assert_int_equal(constra_mpesa_result_lookup("0", 1, STK, NULL, &info, NULL), CONSTRA_OK);
    assert_int_equal(info.outcome, S);
}

static void test_names(void **state)
{
    (void)state;
    static const char *const outcomes[] = {"none", "succeeded", "pending", "requires_recovery",
                                           "retry_later", "failed", "failed_configuration",
                                           "review_required"};
    for (int i = 0; i < 8; i++) {
        assert_string_equal(constra_outcome_name(i), outcomes[i]);
    }
    assert_string_equal(constra_outcome_name(8), "unknown");
    assert_string_equal(constra_outcome_name(-1), "unknown");
    assert_string_equal(constra_outcome_name(INT32_MIN), "unknown");
    static const char *const apis[] = {"auto", "stk", "b2c", "c2b", "sync"};
    for (int i = 0; i < 5; i++) {
        assert_string_equal(constra_mpesa_api_name(i), apis[i]);
        int api = -1;
        assert_int_equal(constra_mpesa_api_parse(apis[i], &api, NULL), CONSTRA_OK);
        assert_int_equal(api, i);
    }
    assert_string_equal(constra_mpesa_api_name(5), "unknown");
    assert_string_equal(constra_mpesa_api_name(-1), "unknown");
    int api = 77;
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_mpesa_api_parse("STK", &api, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "name");
    assert_int_equal(api, 77);
    assert_int_equal(constra_mpesa_api_parse("", &api, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_mpesa_api_parse(NULL, &api, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_mpesa_api_parse("stk", NULL, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "api");
    assert_int_equal(constra_mpesa_api_parse("unknown", &api, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_mpesa_api_parse("stk-and-a-very-long-name", &api, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
}

static int is_action(const char *a)
{
    static const char *const actions[] = {"retry", "retry_later", "contact_customer",
                                          "operator_review", "none"};
    for (size_t i = 0; i < 5; i++) {
        if (strcmp(a, actions[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static void test_catalogue_integrity(void **state)
{
    (void)state;
    size_t n = constra_mpesa_result_count();
    assert_true(n > 90);
    constra_result_info *all = calloc(n, sizeof(*all));
    assert_non_null(all);
    for (size_t i = 0; i < n; i++) {
        constra_result_info *e = &all[i];
        e->struct_size = sizeof(*e);
        assert_int_equal(constra_mpesa_result_at(i, e, NULL), CONSTRA_OK);
        assert_int_equal(e->known, 1);
        assert_true(e->code[0] != '\0');
        for (const char *p = e->code; *p; p++) {
            assert_true(*p > 0x20 && *p < 0x7f);
        }
        assert_true(e->api >= STK && e->api <= SYNC);
        assert_true(e->outcome >= S && e->outcome <= V);
        assert_non_null(e->description);
        assert_non_null(e->recovery_note);
        assert_true(strlen(e->description) > 10);
        assert_true(strlen(e->recovery_note) > 10);
        assert_true(is_action(e->recommended_action));
        assert_int_equal(e->retry_allowed, e->outcome == R || e->outcome == RL);
        for (const char *p = e->message_match; *p; p++) {
            assert_false(*p >= 'A' && *p <= 'Z');
        }
        /* dotted codes live in SYNC only; C2B-prefixed in C2B only */
        assert_int_equal(strchr(e->code, '.') != NULL, e->api == SYNC && strcmp(e->code, "0"));
        if (strncmp(e->code, "C2B", 3) == 0) {
            assert_int_equal(e->api, C2B);
        }
        /* success is never selected by a message, and never outside code 0 */
        if (e->outcome == S) {
            assert_string_equal(e->code, "0");
            assert_string_equal(e->message_match, "");
        }
        /* pending, succeeded and review never invite a retry */
        if (e->outcome == S || e->outcome == P || e->outcome == V) {
            assert_true(strcmp(e->recommended_action, "retry") != 0);
            assert_true(strcmp(e->recommended_action, "retry_later") != 0);
        }
    }
    /* no duplicate (code, api, message_match); one fallback per (code, api) */
    for (size_t i = 0; i < n; i++) {
        int fallbacks = 0;
        for (size_t j = 0; j < n; j++) {
            if (strcmp(all[i].code, all[j].code) != 0 || all[i].api != all[j].api) {
                continue;
            }
            if (j != i && strcmp(all[i].message_match, all[j].message_match) == 0) {
                fail_msg("duplicate entry %s/%s/'%s' at %zu and %zu", all[i].code,
                         constra_mpesa_api_name(all[i].api), all[i].message_match, i, j);
            }
            fallbacks += all[j].message_match[0] == '\0';
        }
        if (fallbacks != 1) {
            fail_msg("%s/%s has %d entries without a message", all[i].code,
                     constra_mpesa_api_name(all[i].api), fallbacks);
        }
    }
    /* every entry is what a lookup of it returns (the range via a member) */
    for (size_t i = 0; i < n; i++) {
        const constra_result_info *e = &all[i];
        const char *code = strcmp(e->code, "100000000-100000011") == 0 ? "100000007" : e->code;
        constra_result_info got = look(code, e->api, e->message_match[0] ? e->message_match : NULL);
        assert_int_equal(got.api, e->api);
        assert_int_equal(got.outcome, e->outcome);
        assert_ptr_equal(got.description, e->description);
        assert_ptr_equal(got.recovery_note, e->recovery_note);
        assert_string_equal(got.message_match, e->message_match);
    }
    /* out of range */
    constra_result_info info = CONSTRA_RESULT_INFO_INIT;
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_mpesa_result_at(n, &info, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "index");
    assert_int_equal(constra_mpesa_result_at(SIZE_MAX, &info, NULL), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_mpesa_result_at(0, NULL, &err), CONSTRA_E_INVALID_ARGUMENT);
    free(all);
}

/* Every code doc/DARAJA.md section 6 lists is in the catalogue. */
static void test_reference_codes_present(void **state)
{
    (void)state;
    static const char *const stk[] = {"0", "1", "2", "3", "4", "8", "17", "26", "1001", "1019",
                                      "1025", "1031", "1032", "1036", "1037", "1050", "1101",
                                      "1102", "2001", "2026", "2028", "2029", "4999", "8006",
                                      "9999", "SFC_IC0003", "E3008"};
    static const char *const b2c[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "11", "12",
                                      "13", "14", "15", "17", "18", "20", "21", "22", "24", "25",
                                      "26", "29", "2001", "2006", "2007", "2028", "2033", "2040",
                                      "2043", "8006", "SFC_IC0003", "R000001", "R000002",
                                      "100000000", "100000011", "100000100"};
    static const char *const c2b[] = {"0", "C2B00011", "C2B00012", "C2B00013", "C2B00014",
                                      "C2B00015", "C2B00016"};
    static const char *const sync[] = {"400.002.02", "400.002.05", "400.003.02", "400.008.01",
                                       "400.008.02", "404.001.03", "400.003.01", "401.002.01",
                                       "404.001.01", "404.002.01", "404.003.01", "404.001.04",
                                       "405.001", "500.001.1001", "500.002.1001", "500.003.02",
                                       "500.003.03", "500.003.1001", "00.002.1001"};
    struct {
        int api;
        const char *const *codes;
        size_t n;
    } groups[] = {{STK, stk, sizeof(stk) / sizeof(*stk)},
                  {B2C, b2c, sizeof(b2c) / sizeof(*b2c)},
                  {C2B, c2b, sizeof(c2b) / sizeof(*c2b)},
                  {SYNC, sync, sizeof(sync) / sizeof(*sync)}};
    for (size_t g = 0; g < 4; g++) {
        for (size_t i = 0; i < groups[g].n; i++) {
            constra_result_info info = look(groups[g].codes[i], groups[g].api, NULL);
            if (!info.known) {
                fail_msg("%s missing from %s", groups[g].codes[i],
                         constra_mpesa_api_name(groups[g].api));
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_every_class_reached),
        cmocka_unit_test(test_unknown_is_review),
        cmocka_unit_test(test_descriptions),
        cmocka_unit_test(test_number_and_string_forms),
        cmocka_unit_test(test_code_len),
        cmocka_unit_test(test_bad_codes),
        cmocka_unit_test(test_bad_other_args),
        cmocka_unit_test(test_info_init),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_catalogue_integrity),
        cmocka_unit_test(test_reference_codes_present),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
