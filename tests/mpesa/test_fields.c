/* M-Pesa amounts and free-text fields: limits, text forms, sanitising,
 * and the rule "check accepts exactly what sanitize leaves unchanged". */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <constra.h>

enum { AR = CONSTRA_MPESA_FIELD_ACCOUNT_REFERENCE, TD = CONSTRA_MPESA_FIELD_TRANSACTION_DESC,
       RM = CONSTRA_MPESA_FIELD_REMARKS, OC = CONSTRA_MPESA_FIELD_OCCASION };

static void expect_amount_error(int rc, const constra_error *err, int want_rc,
                                const char *want_code, const char *want_param, const char *what)
{
    if (rc != want_rc || strcmp(err->code, want_code) != 0 ||
        strcmp(err->param, want_param) != 0) {
        fail_msg("%s: rc %d code '%s' param '%s' (%s); want %d %s %s", what, rc, err->code,
                 err->param, err->message, want_rc, want_code, want_param);
    }
}

static void test_amount_check(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_mpesa_amount_check(1, 0, &err), CONSTRA_OK);
    assert_int_equal(constra_mpesa_amount_check(250000, 0, &err), CONSTRA_OK);
    assert_int_equal(constra_mpesa_amount_check(250000, CONSTRA_MPESA_AMOUNT_MAX_DEFAULT, &err),
                     CONSTRA_OK);
    assert_int_equal(constra_mpesa_amount_check(150000, 150000, &err), CONSTRA_OK);
    assert_int_equal(constra_mpesa_amount_check(300000, 500000, &err), CONSTRA_OK);
    assert_int_equal(constra_mpesa_amount_check(INT64_MAX, INT64_MAX, &err), CONSTRA_OK);
    assert_int_equal(constra_mpesa_amount_check(1, 1, &err), CONSTRA_OK);
    static const struct {
        int64_t amount, max;
        const char *code, *param;
    } bad[] = {
        {250001, 0, "amount_too_large", "amount"},
        {150001, 150000, "amount_too_large", "amount"},
        {INT64_MAX, 0, "amount_too_large", "amount"},
        {2, 1, "amount_too_large", "amount"},
        {0, 0, "amount_too_small", "amount"},
        {-1, 0, "amount_negative", "amount"},
        {INT64_MIN, 0, "amount_negative", "amount"},
        {10, -1, "parameter_invalid", "max_amount"},
        {10, INT64_MIN, "parameter_invalid", "max_amount"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        constra_error_clear(&err);
        int rc = constra_mpesa_amount_check(bad[i].amount, bad[i].max, &err);
        expect_amount_error(rc, &err, CONSTRA_E_INVALID_ARGUMENT, bad[i].code, bad[i].param,
                            "amount_check");
    }
    assert_int_equal(constra_mpesa_amount_check(0, 0, NULL), CONSTRA_E_INVALID_ARGUMENT);
}

static void test_amount_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t max;
        int64_t want;
    } good[] = {
        {"1", 0, 1},          {"10", 0, 10},          {"250000", 0, 250000},
        {"10.00", 0, 10},     {"1.0", 0, 1},          {"1.00", 0, 1},
        {"10500.00", 0, 10500}, {"0010", 0, 10},      {" 10 ", 0, 10},
        {"\t10\r\n", 0, 10},  {"10.000000", 0, 10},   {"150000", 150000, 150000},
        {"300000", 500000, 300000},
        {"00000000000000000000000000000001", 0, 1}, /* 32 bytes: the limit */
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int64_t v = -7;
        constra_error err = CONSTRA_ERROR_INIT;
        if (constra_mpesa_amount_parse(good[i].text, 64, good[i].max, &v, &err) != CONSTRA_OK) {
            fail_msg("'%s' refused: %s", good[i].text, err.message);
        }
        assert_int_equal(v, good[i].want);
    }
    static const struct {
        const char *text;
        int64_t max;
        const char *code;
    } bad[] = {
        {"10.5", 0, "amount_not_whole"},
        {"10.05", 0, "amount_not_whole"},
        {"0.5", 0, "amount_not_whole"},
        {"250000.01", 0, "amount_not_whole"},
        {"10.", 0, "amount_invalid"},
        {".5", 0, "amount_invalid"},
        {"-10", 0, "amount_negative"},
        {"-0", 0, "amount_negative"},
        {" -1", 0, "amount_negative"},
        {"+10", 0, "amount_invalid"},
        {"1,000", 0, "amount_invalid"},
        {"1 000", 0, "amount_invalid"},
        {"1_000", 0, "amount_invalid"},
        {"1e3", 0, "amount_invalid"},
        {"0x10", 0, "amount_invalid"},
        {"10.5x", 0, "amount_invalid"},
        {"10.0.0", 0, "amount_invalid"},
        {"NaN", 0, "amount_invalid"},
        {"Infinity", 0, "amount_invalid"},
        {"KES 10", 0, "amount_invalid"},
        {"\xef\xbc\x91\xef\xbc\x90", 0, "amount_invalid"},
        {"", 0, "amount_invalid"},
        {"   ", 0, "amount_invalid"},
        {"0", 0, "amount_too_small"},
        {"0.00", 0, "amount_too_small"},
        {"000", 0, "amount_too_small"},
        {"250001", 0, "amount_too_large"},
        {"150001", 150000, "amount_too_large"},
        {"9223372036854775807", 0, "amount_too_large"},
        {"9223372036854775808", INT64_MAX, "amount_too_large"},
        {"99999999999999999999999999999999", INT64_MAX, "amount_too_large"},
        {"000000000000000000000000000000001", 0, "amount_invalid"}, /* 33 bytes */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t v = -7;
        constra_error err = CONSTRA_ERROR_INIT;
        int rc = constra_mpesa_amount_parse(bad[i].text, 64, bad[i].max, &v, &err);
        expect_amount_error(rc, &err, CONSTRA_E_INVALID_ARGUMENT, bad[i].code, "amount",
                            bad[i].text);
        assert_int_equal(v, -7);
    }
    /* a NUL ends the text */
    int64_t v = 0;
    assert_int_equal(constra_mpesa_amount_parse("10\0" ".5", 64, 0, &v, NULL), CONSTRA_OK);
    assert_int_equal(v, 10);
    /* INT64_MAX fits when the limit allows it */
    assert_int_equal(constra_mpesa_amount_parse("9223372036854775807", 64, INT64_MAX, &v, NULL),
                     CONSTRA_OK);
    assert_int_equal(v, INT64_MAX);
}

static void test_amount_parse_args(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    int64_t v = -7;
    assert_int_equal(constra_mpesa_amount_parse(NULL, 64, 0, &v, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.code, "parameter_missing");
    assert_string_equal(err.param, "amount");
    assert_int_equal(constra_mpesa_amount_parse("10", 64, 0, NULL, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "out");
    assert_int_equal(constra_mpesa_amount_parse("10", 64, -5, &v, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "max_amount");
    /* max_len bounds */
    assert_int_equal(constra_mpesa_amount_parse("100", 2, 0, &v, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.code, "amount_invalid");
    assert_int_equal(constra_mpesa_amount_parse("100", 3, 0, &v, &err), CONSTRA_OK);
    assert_int_equal(v, 100);
    assert_int_equal(constra_mpesa_amount_parse("", 0, 0, &v, &err), CONSTRA_E_INVALID_ARGUMENT);
    /* unterminated: at most max_len + 1 bytes read (ASan) */
    char *raw = malloc(4);
    assert_non_null(raw);
    memcpy(raw, "1000", 4);
    assert_int_equal(constra_mpesa_amount_parse(raw, 3, 0, &v, &err), CONSTRA_E_INVALID_ARGUMENT);
    free(raw);
    raw = malloc(CONSTRA_MPESA_AMOUNT_TEXT_MAX + 1);
    assert_non_null(raw);
    memset(raw, '1', CONSTRA_MPESA_AMOUNT_TEXT_MAX + 1);
    assert_int_equal(constra_mpesa_amount_parse(raw, SIZE_MAX, 0, &v, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.code, "amount_invalid");
    free(raw);
    size_t mib = (size_t)1 << 20;
    char *huge = malloc(mib + 1);
    assert_non_null(huge);
    memset(huge, '1', mib);
    huge[mib] = '\0';
    assert_int_equal(constra_mpesa_amount_parse(huge, SIZE_MAX, 0, &v, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    free(huge);
    assert_int_equal(v, 100);
}

typedef struct field_case {
    int field;
    const char *text;
    const char *code; /* NULL: valid */
} field_case;

static const field_case checks[] = {
    {AR, "INV123", NULL},
    {AR, "A", NULL},
    {AR, "ABCDEFGHIJKL", NULL},
    {AR, "Order 12", NULL},
    {AR, "Order-12", NULL},
    {AR, "a-b c-d", NULL},
    {AR, "ABCDEFGHIJKLM", "field_too_long"},
    {AR, "", "field_empty"},
    {AR, "Order#12", "field_invalid_character"},
    {AR, "a@b", "field_invalid_character"},
    {AR, "Tom&Jerry", "field_invalid_character"},
    {AR, "INV_1", "field_invalid_character"},
    {AR, "INV.1", "field_invalid_character"},
    {AR, "Caf\xc3\xa9", "field_invalid_character"},
    {AR, "A\tB", "field_invalid_character"},
    {AR, " A", "field_whitespace"},
    {AR, "A ", "field_whitespace"},
    {AR, "A  B", "field_whitespace"},
    {AR, " ", "field_whitespace"},
    {TD, "Payment", NULL},
    {TD, "ABCDEFGHIJKLM", NULL},
    {TD, "ABCDEFGHIJKLMN", "field_too_long"},
    {TD, "", "field_empty"},
    {TD, "Pay 'n' go", "field_invalid_character"},
    {RM, "AB", NULL},
    {RM, "A", "field_too_short"},
    {RM, "", "field_empty"},
    {OC, "", NULL},
    {OC, "Christmas Pay", NULL},
};

static void test_field_check(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
        constra_error err = CONSTRA_ERROR_INIT;
        int rc = constra_mpesa_field_check(checks[i].field, checks[i].text, 4096, &err);
        if (checks[i].code == NULL) {
            if (rc != CONSTRA_OK) {
                fail_msg("case %zu '%s' refused: %s", i, checks[i].text, err.message);
            }
        } else if (rc != CONSTRA_E_INVALID_ARGUMENT || strcmp(err.code, checks[i].code) != 0) {
            fail_msg("case %zu '%s': rc %d code '%s', want %s", i, checks[i].text, rc, err.code,
                     checks[i].code);
        }
    }
    /* lengths at the limits, for the long fields */
    char text[128];
    memset(text, 'x', sizeof(text));
    text[100] = '\0';
    assert_int_equal(constra_mpesa_field_check(RM, text, 4096, NULL), CONSTRA_OK);
    assert_int_equal(constra_mpesa_field_check(OC, text, 4096, NULL), CONSTRA_OK);
    text[100] = 'x';
    text[101] = '\0';
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_mpesa_field_check(RM, text, 4096, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.code, "field_too_long");
    assert_string_equal(err.param, "remarks");
    assert_int_equal(constra_mpesa_field_check(OC, text, 4096, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "occasion");
    /* messages name the character and position */
    assert_int_equal(constra_mpesa_field_check(AR, "Order#12", 64, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "account_reference");
    assert_non_null(strstr(err.message, "'#'"));
    assert_non_null(strstr(err.message, "position 6"));
    assert_int_equal(constra_mpesa_field_check(TD, "x\x80", 64, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "transaction_desc");
    assert_non_null(strstr(err.message, "0x80"));
}

static void test_field_check_args(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_mpesa_field_check(AR, NULL, 64, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.code, "parameter_missing");
    assert_string_equal(err.param, "account_reference");
    assert_int_equal(constra_mpesa_field_check(0, "x", 64, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "field");
    assert_int_equal(constra_mpesa_field_check(5, "x", 64, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "field");
    assert_int_equal(constra_mpesa_field_check(-1, "x", 64, &err), CONSTRA_E_INVALID_ARGUMENT);
    /* max_len below the text: not terminated within the bound */
    assert_int_equal(constra_mpesa_field_check(AR, "ABCDEF", 3, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.code, "field_too_long");
    assert_int_equal(constra_mpesa_field_check(AR, "ABC", 3, &err), CONSTRA_OK);
    assert_int_equal(constra_mpesa_field_check(OC, "", 0, &err), CONSTRA_OK);
    /* unterminated buffers: at most min(max_len, max) + 1 bytes read (ASan) */
    char *raw = malloc(13);
    assert_non_null(raw);
    memset(raw, 'A', 13);
    assert_int_equal(constra_mpesa_field_check(AR, raw, SIZE_MAX, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.code, "field_too_long");
    assert_int_equal(constra_mpesa_field_check(AR, raw, 5, &err), CONSTRA_E_INVALID_ARGUMENT);
    free(raw);
    size_t mib = (size_t)1 << 20;
    char *huge = malloc(mib + 1);
    assert_non_null(huge);
    memset(huge, 'A', mib);
    huge[mib] = '\0';
    assert_int_equal(constra_mpesa_field_check(TD, huge, SIZE_MAX, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.code, "field_too_long");
    /* sanitize: over CONSTRA_MPESA_FIELD_INPUT_MAX */
    char out[128];
    assert_int_equal(constra_mpesa_field_sanitize(TD, huge, SIZE_MAX, out, sizeof(out), NULL,
                                                  &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.code, "field_too_long");
    huge[CONSTRA_MPESA_FIELD_INPUT_MAX] = '\0';
    unsigned changes = 0;
    assert_int_equal(constra_mpesa_field_sanitize(TD, huge, SIZE_MAX, out, sizeof(out), &changes,
                                                  &err),
                     CONSTRA_OK);
    assert_string_equal(out, "AAAAAAAAAAAAA");
    assert_int_equal(changes, CONSTRA_SANITIZE_TRUNCATED);
    free(huge);
}

typedef struct san_case {
    int field;
    const char *in;
    const char *out; /* NULL: error with `code` */
    unsigned changes;
    const char *code;
} san_case;

#define REP CONSTRA_SANITIZE_REPLACED
#define WS CONSTRA_SANITIZE_WHITESPACE
#define TR CONSTRA_SANITIZE_TRUNCATED
#define DF CONSTRA_SANITIZE_DEFAULTED

static const san_case sanitize_cases[] = {
    {AR, "INV123", "INV123", 0, NULL},
    {AR, "Order #12", "Order 12", REP, NULL},
    {AR, "Tom & Jerry", "Tom Jerry", REP | WS, NULL},
    {AR, "INV/2024/001", "INV-2024-001", REP, NULL},
    {AR, "INV_1.2", "INV-1-2", REP, NULL},
    {AR, "a@b.co", "ab-co", REP, NULL},
    {AR, "ABCDEFGHIJKLMNOP", "ABCDEFGHIJKL", TR, NULL},
    {AR, "ABCDEFGHIJK LMN", "ABCDEFGHIJK", TR, NULL},
    {AR, "ABCDEFGHIJKL   ", "ABCDEFGHIJKL", WS, NULL},
    {AR, "  A  ", "A", WS, NULL},
    {AR, "@@@", NULL, 0, "field_empty"},
    {AR, "", NULL, 0, "field_empty"},
    {AR, "   ", NULL, 0, "field_empty"},
    {TD, "  hello  world  ", "hello world", WS, NULL},
    {TD, "", "Payment", DF, NULL},
    {TD, "@@@", "Payment", REP | DF, NULL},
    {TD, " \t ", "Payment", REP | WS | DF, NULL},
    {TD, "Caf\xc3\xa9 Java", "Caf Java", REP, NULL},
    {TD, "Payment for order 1234", "Payment for o", TR, NULL},
    {RM, "line1\nline2", "line1 line2", REP, NULL},
    {RM, "A", NULL, 0, "field_too_short"},
    {RM, "#A#", NULL, 0, "field_too_short"},
    {OC, "", "", 0, NULL},
    {OC, "&&", "", REP, NULL},
};

static void test_field_sanitize(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(sanitize_cases) / sizeof(sanitize_cases[0]); i++) {
        const san_case *c = &sanitize_cases[i];
        char out[128] = "untouched";
        unsigned changes = 0xdead;
        constra_error err = CONSTRA_ERROR_INIT;
        int rc = constra_mpesa_field_sanitize(c->field, c->in, 4096, out, sizeof(out), &changes,
                                              &err);
        if (c->out != NULL) {
            if (rc != CONSTRA_OK) {
                fail_msg("case %zu: %s", i, err.message);
            }
            if (strcmp(out, c->out) != 0 || changes != c->changes) {
                fail_msg("case %zu: '%s' changes 0x%x; want '%s' 0x%x", i, out, changes, c->out,
                         c->changes);
            }
            assert_int_equal(constra_mpesa_field_check(c->field, out, sizeof(out), NULL),
                             CONSTRA_OK);
        } else {
            if (rc != CONSTRA_E_INVALID_ARGUMENT || strcmp(err.code, c->code) != 0) {
                fail_msg("case %zu: rc %d code '%s', want %s", i, rc, err.code, c->code);
            }
            assert_string_equal(out, "untouched");
            assert_int_equal(changes, 0xdead);
        }
    }
}

static void test_field_sanitize_args(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    char out[128];
    assert_int_equal(constra_mpesa_field_sanitize(AR, "x", 64, NULL, 13, NULL, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "out");
    char small[13];
    memset(small, 'Z', sizeof(small));
    assert_int_equal(constra_mpesa_field_sanitize(AR, "x", 64, small, 12, NULL, &err),
                     CONSTRA_E_BUFFER_TOO_SMALL);
    assert_string_equal(err.param, "out");
    assert_int_equal(small[0], 'Z');
    assert_int_equal(constra_mpesa_field_sanitize(AR, "x", 64, small, 13, NULL, &err), CONSTRA_OK);
    assert_string_equal(small, "x");
    assert_int_equal(constra_mpesa_field_sanitize(TD, "x", 64, small, 13, NULL, &err),
                     CONSTRA_E_BUFFER_TOO_SMALL);
    assert_int_equal(constra_mpesa_field_sanitize(RM, "xx", 64, out, 100, NULL, &err),
                     CONSTRA_E_BUFFER_TOO_SMALL);
    assert_int_equal(constra_mpesa_field_sanitize(RM, "xx", 64, out, 101, NULL, &err), CONSTRA_OK);
    assert_int_equal(constra_mpesa_field_sanitize(AR, NULL, 64, out, sizeof(out), NULL, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.code, "parameter_missing");
    assert_string_equal(err.param, "account_reference");
    assert_int_equal(constra_mpesa_field_sanitize(9, "x", 64, out, sizeof(out), NULL, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "field");
    /* in place, with a long input */
    char buf[64] = "  Invoice #2024/07 for Tom & Jerry's  ";
    unsigned changes = 0;
    assert_int_equal(constra_mpesa_field_sanitize(AR, buf, sizeof(buf), buf, sizeof(buf),
                                                  &changes, &err),
                     CONSTRA_OK);
    assert_string_equal(buf, "Invoice 2024");
    assert_int_equal(changes, REP | WS | TR);
    /* unterminated: max_len + 1 bytes at most (ASan) */
    char *raw = malloc(9);
    assert_non_null(raw);
    memcpy(raw, "ABCDEFGHI", 9);
    assert_int_equal(constra_mpesa_field_sanitize(AR, raw, 8, out, sizeof(out), NULL, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.code, "field_too_long");
    free(raw);
}

/* Property: check(x) == OK exactly when sanitize(x) succeeds unchanged;
 * sanitize's output always passes check and is a fixed point. */
static void test_check_sanitize_agree(void **state)
{
    (void)state;
    static const char alphabet[] = "aZ09 -  #&@_./\t\n'\x80\xc3\xa9";
    uint32_t seed = 12345;
    for (int iter = 0; iter < 40000; iter++) {
        char text[40];
        seed = seed * 1103515245u + 12345u;
        size_t len = (seed >> 16) % 20;
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            text[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
        }
        text[len] = '\0';
        int field = 1 + iter % 4;
        char out[128];
        unsigned changes = 0;
        int crc = constra_mpesa_field_check(field, text, sizeof(text), NULL);
        int src = constra_mpesa_field_sanitize(field, text, sizeof(text), out, sizeof(out),
                                               &changes, NULL);
        int unchanged = src == CONSTRA_OK && changes == 0;
        if ((crc == CONSTRA_OK) != unchanged) {
            fail_msg("field %d '%s': check %d, sanitize %d changes 0x%x", field, text, crc, src,
                     changes);
        }
        if (unchanged) {
            assert_string_equal(out, text);
        }
        if (src == CONSTRA_OK) {
            assert_int_equal(constra_mpesa_field_check(field, out, sizeof(out), NULL), CONSTRA_OK);
            char again[128];
            unsigned changes2 = 1;
            assert_int_equal(constra_mpesa_field_sanitize(field, out, sizeof(out), again,
                                                          sizeof(again), &changes2, NULL),
                             CONSTRA_OK);
            assert_string_equal(again, out);
            assert_int_equal(changes2, 0);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_amount_check),         cmocka_unit_test(test_amount_parse),
        cmocka_unit_test(test_amount_parse_args),    cmocka_unit_test(test_field_check),
        cmocka_unit_test(test_field_check_args),     cmocka_unit_test(test_field_sanitize),
        cmocka_unit_test(test_field_sanitize_args),  cmocka_unit_test(test_check_sanitize_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
