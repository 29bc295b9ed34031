/* Kenyan MSISDN normalisation (doc/DARAJA.md section 8) and the Safaricom
 * range check: table-driven accepted and rejected forms, bounds, buffers,
 * and an exhaustive check of every 3-digit national prefix. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <constra.h>

typedef struct ok_case {
    const char *in;
    const char *out;
} ok_case;

static const ok_case accepted[] = {
    {"0712345678", "254712345678"},
    {"0110123456", "254110123456"},
    {"712345678", "254712345678"},
    {"110123456", "254110123456"},
    {"254712345678", "254712345678"},
    {"+254712345678", "254712345678"},
    {"00254712345678", "254712345678"},
    {"000254712345678", "254712345678"},
    {"0712 345 678", "254712345678"},
    {"0712-345-678", "254712345678"},
    {"(0712) 345-678", "254712345678"},
    {"+254 712 345 678", "254712345678"},
    {"+254-712-345-678", "254712345678"},
    {"+254 (712) 345678", "254712345678"},
    {"(+254) 712 345 678", "254712345678"},
    {" 0712345678 ", "254712345678"},
    {"\t0712345678\r\n", "254712345678"},
    {"254 712 345 678", "254712345678"},
    {"00 254 712 345 678", "254712345678"},
    {"07 12 34 56 78", "254712345678"},
    {"0 7 1 2 3 4 5 6 7 8", "254712345678"},
    {"0722000000", "254722000000"},
    {"254708374149", "254708374149"},
    {"0100123456", "254100123456"},
    {"0108999999", "254108999999"},
    {"0733123456", "254733123456"},
    {"0770123456", "254770123456"},
    {"0140123456", "254140123456"},
    {"0145999999", "254145999999"},
    {"0120123456", "254120123456"},
    {"0121123456", "254121123456"},
    {"0124123456", "254124123456"},
    {"0130123456", "254130123456"},
    {"0181234567", "254181234567"},
    {"0799999999", "254799999999"},
    {"700000000", "254700000000"},
    {"+254110000000", "254110000000"},
};

typedef struct bad_case {
    const char *in;
    const char *code;
} bad_case;

static const bad_case rejected[] = {
    {"", "phone_empty"},
    {"   ", "phone_empty"},
    {"\t\n", "phone_empty"},
    {"()- ", "phone_empty"},
    {"+", "phone_empty"},
    {"07123456", "phone_too_few_digits"},
    {"071234567", "phone_too_few_digits"},
    {"71234567", "phone_too_few_digits"},
    {"12345", "phone_too_few_digits"},
    {"0", "phone_too_few_digits"},
    {"00", "phone_too_few_digits"},
    {"00254", "phone_too_few_digits"},
    {"+25", "phone_too_few_digits"},
    {"+254", "phone_too_few_digits"},
    {"2547123456", "phone_too_few_digits"},
    {"+25471234567", "phone_too_few_digits"},
    {"07123456789", "phone_too_many_digits"},
    {"7123456789", "phone_too_many_digits"},
    {"2547123456789", "phone_too_many_digits"},
    {"+2540712345678", "phone_too_many_digits"},
    {"+254 (0) 712 345 678", "phone_too_many_digits"},
    {"2540712345678", "phone_too_many_digits"},
    {"0254712345678", "phone_too_many_digits"},
    {"07123456789012345678901234567890", "phone_too_many_digits"},
    {"254012345678", "phone_not_mobile"},
    {"0201234567", "phone_not_mobile"},
    {"0800123456", "phone_not_mobile"},
    {"0109123456", "phone_not_mobile"},
    {"0122123456", "phone_not_mobile"},
    {"0131123456", "phone_not_mobile"},
    {"0146123456", "phone_not_mobile"},
    {"0150123456", "phone_not_mobile"},
    {"0612345678", "phone_not_mobile"},
    {"812345678", "phone_not_mobile"},
    {"9712345678", "phone_not_mobile"},
    {"+255712345678", "phone_not_kenyan"},
    {"00255712345678", "phone_not_kenyan"},
    {"000255712345678", "phone_not_kenyan"},
    {"255712345678", "phone_not_kenyan"},
    {"+1 415 555 0100", "phone_not_kenyan"},
    {"+0712345678", "phone_not_kenyan"},
    {"0712.345.678", "phone_invalid_character"},
    {"0712/345678", "phone_invalid_character"},
    {"07l2345678", "phone_invalid_character"},
    {"0712345678x", "phone_invalid_character"},
    {"tel:0712345678", "phone_invalid_character"},
    {"+254+712345678", "phone_invalid_character"},
    {"254+712345678", "phone_invalid_character"},
    {"0712\x01" "345678", "phone_invalid_character"},
    {"0712\t345678", "phone_invalid_character"},
    {"0712\xc2\xa0" "345678", "phone_invalid_character"},
    {"\xef\xbc\x90\xef\xbc\x97" "12345678", "phone_invalid_character"},
    {"0712_345_678", "phone_invalid_character"},
    {"0712,345,678", "phone_invalid_character"},
    {"[0712]345678", "phone_invalid_character"},
};

static void test_accepted(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
        char out[CONSTRA_MSISDN_SIZE];
        constra_error err = CONSTRA_ERROR_INIT;
        int rc = constra_msisdn_normalize(accepted[i].in, 64, out, sizeof(out), &err);
        if (rc != CONSTRA_OK) {
            fail_msg("'%s' rejected: %s (%s)", accepted[i].in, err.message, err.code);
        }
        assert_string_equal(out, accepted[i].out);
        /* idempotent */
        char again[CONSTRA_MSISDN_SIZE];
        assert_int_equal(constra_msisdn_normalize(out, 64, again, sizeof(again), NULL), CONSTRA_OK);
        assert_string_equal(again, out);
    }
    assert_true(sizeof(accepted) / sizeof(accepted[0]) >= 25);
}

static void test_rejected(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++) {
        char out[CONSTRA_MSISDN_SIZE] = "untouched";
        constra_error err = CONSTRA_ERROR_INIT;
        int rc = constra_msisdn_normalize(rejected[i].in, 64, out, sizeof(out), &err);
        if (rc != CONSTRA_E_INVALID_ARGUMENT || strcmp(err.code, rejected[i].code) != 0) {
            fail_msg("case %zu: rc %d code '%s' (%s), want %s", i, rc, err.code, err.message,
                     rejected[i].code);
        }
        assert_string_equal(err.param, "phone");
        assert_true(err.message[0] != '\0');
        assert_string_equal(out, "untouched");
        /* the message never repeats the number */
        assert_null(strstr(err.message, "345678"));
        assert_null(strstr(err.message, "2345"));
        /* the Safaricom check reports the same reason */
        constra_error err2 = CONSTRA_ERROR_INIT;
        assert_int_equal(constra_msisdn_is_safaricom(rejected[i].in, &err2),
                         CONSTRA_E_INVALID_ARGUMENT);
        assert_string_equal(err2.code, rejected[i].code);
    }
    assert_true(sizeof(rejected) / sizeof(rejected[0]) >= 25);
}

static void test_messages(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    char out[CONSTRA_MSISDN_SIZE];
    assert_int_equal(constra_msisdn_normalize("0712x45678", 64, out, sizeof(out), &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "'x'"));
    assert_non_null(strstr(err.message, "position 5"));
    assert_int_equal(constra_msisdn_normalize("  0712\x01", 64, out, sizeof(out), &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "0x01"));
    assert_non_null(strstr(err.message, "position 7"));
    assert_int_equal(constra_msisdn_normalize("+254 (0) 712 345 678", 64, out, sizeof(out), &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "drop the 0 after 254"));
    assert_int_equal(constra_msisdn_normalize("0201234567", 64, out, sizeof(out), &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "0201"));
    assert_int_equal(err.http_status, 400);
}

static void test_arguments(void **state)
{
    (void)state;
    char out[CONSTRA_MSISDN_SIZE];
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_msisdn_normalize(NULL, 64, out, sizeof(out), &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.code, "parameter_missing");
    assert_string_equal(err.param, "phone");
    assert_int_equal(constra_msisdn_normalize("0712345678", 64, NULL, 13, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "out");
    /* buffer too small, checked before the input; out untouched */
    char small[12];
    memset(small, 'Z', sizeof(small));
    assert_int_equal(constra_msisdn_normalize("0712345678", 64, small, sizeof(small), &err),
                     CONSTRA_E_BUFFER_TOO_SMALL);
    assert_string_equal(err.param, "out");
    for (size_t i = 0; i < sizeof(small); i++) {
        assert_int_equal(small[i], 'Z');
    }
    assert_int_equal(constra_msisdn_normalize("bad", 64, small, 0, &err),
                     CONSTRA_E_BUFFER_TOO_SMALL);
    /* exactly 13 is enough; bigger too */
    assert_int_equal(constra_msisdn_normalize("0712345678", 64, out, 13, NULL), CONSTRA_OK);
    char big[64];
    assert_int_equal(constra_msisdn_normalize("0712345678", 64, big, sizeof(big), NULL),
                     CONSTRA_OK);
    assert_string_equal(big, "254712345678");
    /* in place */
    char buf[32] = "+254 712-345 678";
    assert_int_equal(constra_msisdn_normalize(buf, sizeof(buf), buf, sizeof(buf), NULL),
                     CONSTRA_OK);
    assert_string_equal(buf, "254712345678");
    /* err NULL on failure */
    assert_int_equal(constra_msisdn_normalize("x", 64, out, sizeof(out), NULL),
                     CONSTRA_E_INVALID_ARGUMENT);
}

static void test_bounds(void **state)
{
    (void)state;
    char out[CONSTRA_MSISDN_SIZE];
    constra_error err = CONSTRA_ERROR_INIT;
    /* max_len shorter than the string */
    assert_int_equal(constra_msisdn_normalize("0712345678", 5, out, sizeof(out), &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.code, "phone_too_long");
    /* exactly the length: fine */
    assert_int_equal(constra_msisdn_normalize("0712345678", 10, out, sizeof(out), &err),
                     CONSTRA_OK);
    assert_int_equal(constra_msisdn_normalize("", 0, out, sizeof(out), &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.code, "phone_empty");
    assert_int_equal(constra_msisdn_normalize("0", 0, out, sizeof(out), &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.code, "phone_too_long");
    /* unterminated buffer: only max_len + 1 bytes may be read (ASan) */
    char *raw = malloc(11);
    assert_non_null(raw);
    memcpy(raw, "07123456789", 11);
    assert_int_equal(constra_msisdn_normalize(raw, 10, out, sizeof(out), &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.code, "phone_too_long");
    free(raw);
    /* unterminated, max_len huge: at most CONSTRA_MSISDN_INPUT_MAX + 1 read */
    raw = malloc(CONSTRA_MSISDN_INPUT_MAX + 1);
    assert_non_null(raw);
    memset(raw, '7', CONSTRA_MSISDN_INPUT_MAX + 1);
    assert_int_equal(constra_msisdn_normalize(raw, SIZE_MAX, out, sizeof(out), &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.code, "phone_too_long");
    free(raw);
    /* 64 bytes of padding around a valid number is accepted; 65 is not */
    char padded[CONSTRA_MSISDN_INPUT_MAX + 2];
    memset(padded, ' ', sizeof(padded));
    memcpy(padded + 20, "0712345678", 10);
    padded[CONSTRA_MSISDN_INPUT_MAX] = '\0';
    assert_int_equal(constra_msisdn_normalize(padded, SIZE_MAX, out, sizeof(out), &err),
                     CONSTRA_OK);
    padded[CONSTRA_MSISDN_INPUT_MAX] = ' ';
    padded[CONSTRA_MSISDN_INPUT_MAX + 1] = '\0';
    assert_int_equal(constra_msisdn_normalize(padded, SIZE_MAX, out, sizeof(out), &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.code, "phone_too_long");
    /* 1 MiB */
    size_t mib = (size_t)1 << 20;
    char *huge = malloc(mib + 1);
    assert_non_null(huge);
    memset(huge, '7', mib);
    huge[mib] = '\0';
    assert_int_equal(constra_msisdn_normalize(huge, SIZE_MAX, out, sizeof(out), &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.code, "phone_too_long");
    assert_int_equal(constra_msisdn_is_safaricom(huge, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.code, "phone_too_long");
    free(huge);
    /* a NUL byte ends the string */
    assert_int_equal(constra_msisdn_normalize("0712\0" "345678", 64, out, sizeof(out), &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.code, "phone_too_few_digits");
}

/* Every national prefix: accepted exactly when the libphonenumber KE
 * mobile pattern matches, in all input forms. */
static void test_all_prefixes(void **state)
{
    (void)state;
    regex_t re;
    assert_int_equal(regcomp(&re,
                             "^(1(0[0-8]|[18][0-9]|2[014]|30|4[0-5])|7[0-9][0-9])[0-9]{6}$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    int mobiles = 0;
    for (int p = 0; p < 1000; p++) {
        char nat[10];
        snprintf(nat, sizeof(nat), "%03d456789", p);
        int mobile = regexec(&re, nat, 0, NULL, 0) == 0;
        mobiles += mobile;
        static const char *const prefixes[] = {"0", "", "254", "+254", "00254", "000254"};
        for (size_t f = 0; f < sizeof(prefixes) / sizeof(prefixes[0]); f++) {
            char in[32];
            snprintf(in, sizeof(in), "%s%s", prefixes[f], nat);
            char out[CONSTRA_MSISDN_SIZE];
            constra_error err = CONSTRA_ERROR_INIT;
            int rc = constra_msisdn_normalize(in, 64, out, sizeof(out), &err);
            if (mobile) {
                if (rc != CONSTRA_OK) {
                    fail_msg("%s rejected: %s", in, err.message);
                }
                assert_string_equal(out + 3, nat);
                assert_memory_equal(out, "254", 3);
            } else if (rc == CONSTRA_OK) {
                fail_msg("%s accepted as %s", in, out);
            }
        }
    }
    regfree(&re);
    /* 7xx (100) + 100-108 (9) + 11x (10) + 120,121,124 (3) + 130 (1) +
     * 140-145 (6) + 18x (10) */
    assert_int_equal(mobiles, 139);
}

static int in_safaricom_range(int p)
{
    return (p >= 110 && p <= 119) || (p >= 140 && p <= 145) || (p >= 180 && p <= 189) ||
           (p >= 700 && p <= 729) || (p >= 740 && p <= 749 && p != 744 && p != 747) ||
           (p >= 757 && p <= 759) || (p >= 768 && p <= 769) || (p >= 790 && p <= 799);
}

static void test_safaricom(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    static const char *const yes[] = {"0712345678", "+254110123456", "0140000000", "0145999999",
                                      "0180000000", "0700000000", "0729999999", "0740123456",
                                      "0743123456", "0745123456", "0746123456", "0748123456",
                                      "0749123456", "0757123456", "0759123456", "0768123456",
                                      "0769123456", "0790123456", "0799123456", "254708374149"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (constra_msisdn_is_safaricom(yes[i], &err) != CONSTRA_OK) {
            fail_msg("%s: %s", yes[i], err.message);
        }
    }
    static const struct {
        const char *in;
        const char *holder;
    } no[] = {
        {"0744123456", "Homeland Media"}, {"0747123456", "JTL"},
        {"0733123456", "Airtel"},         {"0100123456", "Airtel"},
        {"0108123456", "Airtel"},         {"0750123456", "Airtel"},
        {"0756123456", "Airtel"},         {"0761123456", "Airtel"},
        {"0762123456", "Airtel"},         {"0780123456", "Airtel"},
        {"0770123456", "Telkom"},         {"0120123456", "Telkom"},
        {"0763123456", "Equitel"},        {"0124123456", "Equitel"},
        {"0767123456", "Sema"},           {"0760123456", "Mobile Pay"},
        {"0121123456", "Infura"},         {"0130123456", "NRG Media"},
    };
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        constra_error_clear(&err);
        assert_int_equal(constra_msisdn_is_safaricom(no[i].in, &err), CONSTRA_E_INVALID_ARGUMENT);
        assert_string_equal(err.code, "phone_not_safaricom");
        assert_string_equal(err.param, "phone");
        if (strstr(err.message, no[i].holder) == NULL) {
            fail_msg("%s: '%s' does not name %s", no[i].in, err.message, no[i].holder);
        }
    }
    /* exhaustive over mobile prefixes */
    for (int p = 100; p < 800; p++) {
        char in[16];
        snprintf(in, sizeof(in), "0%03d123456", p);
        char out[CONSTRA_MSISDN_SIZE];
        if (constra_msisdn_normalize(in, 64, out, sizeof(out), NULL) != CONSTRA_OK) {
            continue;
        }
        int rc = constra_msisdn_is_safaricom(in, &err);
        if ((rc == CONSTRA_OK) != in_safaricom_range(p)) {
            fail_msg("prefix 0%03d: rc %d (%s)", p, rc, err.message);
        }
    }
    assert_int_equal(constra_msisdn_is_safaricom(NULL, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.code, "parameter_missing");
    assert_int_equal(constra_msisdn_is_safaricom("0712345678", NULL), CONSTRA_OK);
    assert_int_equal(constra_msisdn_is_safaricom("0733123456", NULL), CONSTRA_E_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),  cmocka_unit_test(test_rejected),
        cmocka_unit_test(test_messages),  cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_bounds),    cmocka_unit_test(test_all_prefixes),
        cmocka_unit_test(test_safaricom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
