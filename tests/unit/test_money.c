#include "testutil.h"

#include <inttypes.h>

static void test_currency_table(void **state)
{
    (void)state;
    int e = -1, iso = -1;
    assert_int_equal(constra_currency_lookup("KES", &e, &iso, NULL), CONSTRA_OK);
    assert_int_equal(e, 0);
    assert_int_equal(iso, 2);
    assert_int_equal(constra_currency_lookup("USD", &e, NULL, NULL), CONSTRA_OK);
    assert_int_equal(e, 2);
    assert_int_equal(constra_currency_lookup("UGX", &e, NULL, NULL), CONSTRA_OK);
    assert_int_equal(e, 0);
    assert_int_equal(constra_currency_lookup("KWD", &e, NULL, NULL), CONSTRA_OK);
    assert_int_equal(e, 3);

    /* Table integrity: sorted, unique, well-formed, exponents 0..3. */
    size_t n = constra_currency_count();
    assert_true(n >= 20);
    const char *prev = "";
    for (size_t i = 0; i < n; i++) {
        const char *code;
        int exp;
        assert_int_equal(constra_currency_at(i, &code, &exp, NULL), CONSTRA_OK);
        assert_int_equal(strlen(code), 3);
        assert_true(strcmp(prev, code) < 0);
        assert_true(exp >= 0 && exp <= 3);
        prev = code;
    }
    const char *code;
    assert_int_equal(constra_currency_at(n, &code, NULL, NULL), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_currency_at(0, NULL, NULL, NULL), CONSTRA_E_INVALID_ARGUMENT);
}

static void test_currency_bad_codes(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    int e;
    const char *bad[] = {"", "KE", "KESS", "kes", "K3S", "KE ", " KE"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(constra_currency_lookup(bad[i], &e, NULL, &err),
                         CONSTRA_E_INVALID_ARGUMENT);
        assert_string_equal(err.param, "currency");
    }
    assert_int_equal(constra_currency_lookup("XYZ", &e, NULL, &err), CONSTRA_E_NOT_FOUND);
    assert_string_equal(err.code, "currency_unsupported");
    assert_int_equal(constra_currency_lookup(NULL, &e, NULL, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.code, "parameter_missing");
    assert_int_equal(constra_currency_lookup("KES", NULL, NULL, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    char no_nul[8];
    memset(no_nul, 'K', sizeof(no_nul));
    assert_int_equal(constra_currency_lookup(no_nul, &e, NULL, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
}

static void test_add_sub_mul_bounds(void **state)
{
    (void)state;
    int64_t r = 77;
    assert_int_equal(constra_money_add(INT64_MAX - 1, 1, &r, NULL), CONSTRA_OK);
    assert_int_equal(r, INT64_MAX);
    r = 77;
    assert_int_equal(constra_money_add(INT64_MAX, 1, &r, NULL), CONSTRA_E_OVERFLOW);
    assert_int_equal(r, 77); /* untouched on failure */
    assert_int_equal(constra_money_add(INT64_MIN, -1, &r, NULL), CONSTRA_E_OVERFLOW);
    assert_int_equal(constra_money_add(INT64_MIN, INT64_MAX, &r, NULL), CONSTRA_OK);
    assert_int_equal(r, -1);
    assert_int_equal(constra_money_sub(INT64_MIN, 1, &r, NULL), CONSTRA_E_OVERFLOW);
    assert_int_equal(constra_money_sub(0, INT64_MIN, &r, NULL), CONSTRA_E_OVERFLOW);
    assert_int_equal(constra_money_sub(-1, INT64_MIN, &r, NULL), CONSTRA_OK);
    assert_int_equal(r, INT64_MAX);
    assert_int_equal(constra_money_sub(1250, 1300, &r, NULL), CONSTRA_OK);
    assert_int_equal(r, -50);
    assert_int_equal(constra_money_mul(INT64_MAX, 2, &r, NULL), CONSTRA_E_OVERFLOW);
    assert_int_equal(constra_money_mul(INT64_MIN, -1, &r, NULL), CONSTRA_E_OVERFLOW);
    assert_int_equal(constra_money_mul(INT64_MIN, 1, &r, NULL), CONSTRA_OK);
    assert_int_equal(r, INT64_MIN);
    assert_int_equal(constra_money_mul(-4611686018427387904LL, 2, &r, NULL), CONSTRA_OK);
    assert_int_equal(r, INT64_MIN);
    assert_int_equal(constra_money_mul(4611686018427387904LL, 2, &r, NULL), CONSTRA_E_OVERFLOW);
    assert_int_equal(constra_money_mul(1250, -3, &r, NULL), CONSTRA_OK);
    assert_int_equal(r, -3750);
    assert_int_equal(constra_money_mul(0, INT64_MIN, &r, NULL), CONSTRA_OK);
    assert_int_equal(r, 0);
    assert_int_equal(constra_money_add(1, 2, NULL, NULL), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_money_sub(1, 2, NULL, NULL), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_money_mul(1, 2, NULL, NULL), CONSTRA_E_INVALID_ARGUMENT);
}

typedef struct fee_case {
    int64_t amount;
    int32_t bps;
    constra_rounding mode;
    int64_t fee;
} fee_case;

/* The stated rounding, tested: 18.75 -> 19 half-up; halves per mode. */
static void test_fee_rounding(void **state)
{
    (void)state;
    static const fee_case cases[] = {
        {1250, 150, CONSTRA_ROUND_DOWN, 18},       {1250, 150, CONSTRA_ROUND_UP, 19},
        {1250, 150, CONSTRA_ROUND_HALF_UP, 19},    {1250, 150, CONSTRA_ROUND_HALF_EVEN, 19},
        /* exact half: 100 * 50 bps = 0.5 */
        {100, 50, CONSTRA_ROUND_DOWN, 0},          {100, 50, CONSTRA_ROUND_UP, 1},
        {100, 50, CONSTRA_ROUND_HALF_UP, 1},       {100, 50, CONSTRA_ROUND_HALF_EVEN, 0},
        {300, 50, CONSTRA_ROUND_HALF_EVEN, 2},     /* 1.5 -> 2 */
        {500, 50, CONSTRA_ROUND_HALF_EVEN, 2},     /* 2.5 -> 2 */
        {-100, 50, CONSTRA_ROUND_HALF_UP, -1},     /* symmetric for refunds */
        {-100, 50, CONSTRA_ROUND_DOWN, 0},
        {-1250, 150, CONSTRA_ROUND_UP, -19},
        {0, 150, CONSTRA_ROUND_UP, 0},
        {1, 1, CONSTRA_ROUND_UP, 1},               /* 0.0001 rounds up */
        {1, 1, CONSTRA_ROUND_HALF_UP, 0},
        {10000, 10000, CONSTRA_ROUND_DOWN, 10000}, /* 100% */
        {10000, 1000000, CONSTRA_ROUND_DOWN, 1000000},
        /* Exact for the largest amounts: no intermediate overflow. */
        {INT64_MAX, 10000, CONSTRA_ROUND_DOWN, INT64_MAX},
        {INT64_MAX, 5000, CONSTRA_ROUND_DOWN, 4611686018427387903LL},
        {INT64_MAX, 5000, CONSTRA_ROUND_HALF_UP, 4611686018427387904LL},
        {INT64_MIN, 10000, CONSTRA_ROUND_DOWN, INT64_MIN},
        {INT64_MIN, 1, CONSTRA_ROUND_DOWN, -922337203685477LL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t fee = 12345;
        int rc = constra_money_fee_bps(cases[i].amount, cases[i].bps, cases[i].mode, &fee, NULL);
        if (rc != CONSTRA_OK || fee != cases[i].fee) {
            fail_msg("case %zu: amount %" PRId64 " bps %d mode %d -> rc %d fee %" PRId64
                     ", want %" PRId64, i, cases[i].amount, cases[i].bps, cases[i].mode, rc, fee,
                     cases[i].fee);
        }
    }
}

static void test_fee_errors(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    int64_t fee = 5;
    assert_int_equal(constra_money_fee_bps(INT64_MAX, 10001, CONSTRA_ROUND_DOWN, &fee, &err),
                     CONSTRA_E_OVERFLOW);
    assert_int_equal(fee, 5);
    assert_int_equal(constra_money_fee_bps(100, -1, CONSTRA_ROUND_DOWN, &fee, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "basis_points");
    assert_int_equal(constra_money_fee_bps(100, 1000001, CONSTRA_ROUND_DOWN, &fee, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_money_fee_bps(100, 10, (constra_rounding)9, &fee, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "rounding");
    assert_int_equal(constra_money_fee_bps(100, 10, (constra_rounding)-1, &fee, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_money_fee_bps(100, 10, CONSTRA_ROUND_UP, NULL, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
}

static void test_format(void **state)
{
    (void)state;
    char out[32];
    assert_int_equal(constra_money_format(1250, "KES", out, sizeof(out), NULL), CONSTRA_OK);
    assert_string_equal(out, "1250");
    assert_int_equal(constra_money_format(125050, "USD", out, sizeof(out), NULL), CONSTRA_OK);
    assert_string_equal(out, "1250.50");
    assert_int_equal(constra_money_format(-5, "USD", out, sizeof(out), NULL), CONSTRA_OK);
    assert_string_equal(out, "-0.05");
    assert_int_equal(constra_money_format(1, "KWD", out, sizeof(out), NULL), CONSTRA_OK);
    assert_string_equal(out, "0.001");
    assert_int_equal(constra_money_format(INT64_MIN, "USD", out, sizeof(out), NULL), CONSTRA_OK);
    assert_string_equal(out, "-92233720368547758.08");
    assert_int_equal(constra_money_format(INT64_MIN, "KES", out, sizeof(out), NULL), CONSTRA_OK);
    assert_string_equal(out, "-9223372036854775808");

    constra_error err = CONSTRA_ERROR_INIT;
    memset(out, 'x', sizeof(out));
    assert_int_equal(constra_money_format(1250, "KES", out, 4, &err), CONSTRA_E_BUFFER_TOO_SMALL);
    assert_int_equal(out[0], 'x');
    assert_int_equal(constra_money_format(1250, "KES", out, 5, &err), CONSTRA_OK);
    assert_int_equal(constra_money_format(1250, "KES", NULL, 5, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_money_format(1250, "kes", out, 5, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_money_format(1250, "ABC", out, 5, &err), CONSTRA_E_NOT_FOUND);
}

typedef struct parse_case {
    const char *text;
    const char *currency;
    int rc;
    int64_t value;
} parse_case;

static void test_parse(void **state)
{
    (void)state;
    static const parse_case cases[] = {
        {"1250", "KES", CONSTRA_OK, 1250},
        {"1,250", "KES", CONSTRA_OK, 1250},
        {"1 250", "KES", CONSTRA_OK, 1250},
        {"1_250", "KES", CONSTRA_OK, 1250},
        {"1250.00", "KES", CONSTRA_OK, 1250},
        {"1250.50", "KES", CONSTRA_E_INVALID_ARGUMENT, 0}, /* KES settles whole units */
        {"12.5", "USD", CONSTRA_OK, 1250},
        {"12.50", "USD", CONSTRA_OK, 1250},
        {"12.500", "USD", CONSTRA_OK, 1250},
        {"12.505", "USD", CONSTRA_E_INVALID_ARGUMENT, 0},
        {"0.001", "KWD", CONSTRA_OK, 1},
        {"-7", "KES", CONSTRA_OK, -7},
        {"-0", "KES", CONSTRA_OK, 0},
        {"0", "KES", CONSTRA_OK, 0},
        {"9223372036854775807", "KES", CONSTRA_OK, INT64_MAX},
        {"-9223372036854775808", "KES", CONSTRA_OK, INT64_MIN},
        {"9223372036854775808", "KES", CONSTRA_E_OVERFLOW, 0},
        {"92233720368547758.07", "USD", CONSTRA_OK, INT64_MAX},
        {"92233720368547758.08", "USD", CONSTRA_E_OVERFLOW, 0},
        {"92233720368547759", "USD", CONSTRA_E_OVERFLOW, 0},
        {"99999999999999999999999", "KES", CONSTRA_E_OVERFLOW, 0},
        {"", "KES", CONSTRA_E_INVALID_ARGUMENT, 0},
        {"-", "KES", CONSTRA_E_INVALID_ARGUMENT, 0},
        {".5", "USD", CONSTRA_E_INVALID_ARGUMENT, 0},
        {"5.", "USD", CONSTRA_E_INVALID_ARGUMENT, 0},
        {"1,,250", "KES", CONSTRA_E_INVALID_ARGUMENT, 0},
        {",1250", "KES", CONSTRA_E_INVALID_ARGUMENT, 0},
        {"1250,", "KES", CONSTRA_E_INVALID_ARGUMENT, 0},
        {"1,250.5,0", "USD", CONSTRA_E_INVALID_ARGUMENT, 0},
        {"+5", "KES", CONSTRA_E_INVALID_ARGUMENT, 0},
        {" 5", "KES", CONSTRA_E_INVALID_ARGUMENT, 0},
        {"5 ", "KES", CONSTRA_E_INVALID_ARGUMENT, 0},
        {"1e3", "KES", CONSTRA_E_INVALID_ARGUMENT, 0},
        {"0x10", "KES", CONSTRA_E_INVALID_ARGUMENT, 0},
        {"--5", "KES", CONSTRA_E_INVALID_ARGUMENT, 0},
        {"1.2.3", "USD", CONSTRA_E_INVALID_ARGUMENT, 0},
        {"1250", "XYZ", CONSTRA_E_NOT_FOUND, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t v = 4242;
        int rc = constra_money_parse(cases[i].text, 64, cases[i].currency, &v, NULL);
        if (rc != cases[i].rc || (rc == CONSTRA_OK && v != cases[i].value) ||
            (rc != CONSTRA_OK && v != 4242)) {
            fail_msg("case %zu '%s' %s: rc %d v %" PRId64, i, cases[i].text, cases[i].currency,
                     rc, v);
        }
    }
    constra_error err = CONSTRA_ERROR_INIT;
    int64_t v;
    assert_int_equal(constra_money_parse(NULL, 10, "KES", &v, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "text");
    assert_int_equal(constra_money_parse("12", 10, "KES", NULL, &err), CONSTRA_E_INVALID_ARGUMENT);
    /* max_len bounds the read: a 1 MiB unterminated buffer is refused. */
    size_t big = 1u << 20;
    char *text = malloc(big);
    memset(text, '1', big);
    assert_int_equal(constra_money_parse(text, 64, "KES", &v, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "not terminated"));
    free(text);
}

/* parse(format(x)) == x over a spread of values and currencies. */
static void test_roundtrip(void **state)
{
    (void)state;
    const char *currencies[] = {"KES", "USD", "KWD"};
    int64_t values[] = {0, 1, -1, 9, 10, 99, 100, 101, 125050, -125050, INT64_MAX, INT64_MIN,
                        INT64_MAX / 7};
    for (size_t c = 0; c < 3; c++) {
        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
            char text[32];
            int64_t back;
            assert_int_equal(constra_money_format(values[i], currencies[c], text, sizeof(text),
                                                  NULL), CONSTRA_OK);
            assert_int_equal(constra_money_parse(text, sizeof(text), currencies[c], &back, NULL),
                             CONSTRA_OK);
            assert_int_equal(back, values[i]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_currency_table),
        cmocka_unit_test(test_currency_bad_codes),
        cmocka_unit_test(test_add_sub_mul_bounds),
        cmocka_unit_test(test_fee_rounding),
        cmocka_unit_test(test_fee_errors),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
