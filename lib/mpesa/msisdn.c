/*
 * Kenyan MSISDN normalisation to Daraja's "254" + 9 digits, and the
 * Safaricom range check. Rules from doc/DARAJA.md section 8 (libphonenumber's
 * KE metadata and carrier table).
 */
#include <stdarg.h>
#include <string.h>

#include "constra/mpesa_fields.h"
#include "mpesa/ascii.h"
#include "util/check.h"

#define NATIONAL_LEN 9

static int phone_fail(constra_error *err, const char *code, const char *fmt, ...)
    CONSTRA__PRINTF(3, 4);

static int phone_fail(constra_error *err, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = constra__failv(err, CONSTRA_E_INVALID_ARGUMENT, code, "phone", fmt, ap);
    va_end(ap);
    return rc;
}

static int is_separator(unsigned char c)
{
    return c == ' ' || c == '-' || c == '(' || c == ')';
}

static int starts_with(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

/* Mobile national numbers (9 digits):
 * 1(0[0-8]|[18]\d|2[014]|30|4[0-5])\d{6} or 7\d{8}. */
static int is_mobile(const char *nat)
{
    char a = nat[0], b = nat[1], c = nat[2];
    if (a == '7') {
        return 1;
    }
    if (a != '1') {
        return 0;
    }
    switch (b) {
    case '0':
        return c <= '8';
    case '1':
    case '8':
        return 1;
    case '2':
        return c == '0' || c == '1' || c == '4';
    case '3':
        return c == '0';
    case '4':
        return c <= '5';
    default:
        return 0;
    }
}

/* Parses `input` into the 9-digit national number `nat` (not terminated). */
static int parse_msisdn(const char *input, size_t max_len, char nat[NATIONAL_LEN],
                        constra_error *err)
{
    if (input == NULL) {
        return constra__fail_null(err, "phone");
    }
    size_t bound = max_len < CONSTRA_MSISDN_INPUT_MAX ? max_len : CONSTRA_MSISDN_INPUT_MAX;
    size_t n = constra__strnlen(input, bound + 1);
    if (n > bound) {
        return phone_fail(err, "phone_too_long",
                          "phone number is longer than %zu bytes or not terminated", bound);
    }
    const unsigned char *s = (const unsigned char *)input;
    size_t start = 0;
    size_t end = n;
    mpesa_trim(s, &start, &end);
    if (start == end) {
        return phone_fail(err, "phone_empty", "phone number is empty");
    }

    char digits[CONSTRA_MSISDN_INPUT_MAX];
    size_t nd = 0;
    int plus = 0;
    for (size_t i = start; i < end; i++) {
        unsigned char c = s[i];
        if (mpesa_is_digit(c)) {
            digits[nd++] = (char)c;
        } else if (is_separator(c)) {
            continue;
        } else if (c == '+' && nd == 0 && !plus) {
            plus = 1;
        } else if (c == '+') {
            return phone_fail(err, "phone_invalid_character",
                              "invalid character '+' at position %zu: '+' may only precede "
                              "the country code", i + 1);
        } else if (c > 0x20 && c < 0x7f) {
            return phone_fail(err, "phone_invalid_character",
                              "invalid character '%c' at position %zu", (char)c, i + 1);
        } else {
            return phone_fail(err, "phone_invalid_character",
                              "invalid byte 0x%02x at position %zu", c, i + 1);
        }
    }
    if (nd == 0) {
        return phone_fail(err, "phone_empty", "phone number has no digits");
    }

    size_t skip; /* digits before the national number */
    int after_cc = 1;
    if (plus) {
        if (!starts_with(digits, nd, "254")) {
            if (nd < 3 && memcmp(digits, "254", nd) == 0) {
                return phone_fail(err, "phone_too_few_digits", "phone number is incomplete");
            }
            return phone_fail(err, "phone_not_kenyan",
                              "not a Kenyan number: the country code must be +254");
        }
        skip = 3;
    } else if (starts_with(digits, nd, "000254")) {
        skip = 6;
    } else if (starts_with(digits, nd, "00254")) {
        skip = 5;
    } else if (starts_with(digits, nd, "00")) {
        if (nd < 6 && memcmp(digits, "000254", nd) == 0) { /* "00", "0002", ... */
            return phone_fail(err, "phone_too_few_digits", "phone number is incomplete");
        }
        if (nd < 5 && memcmp(digits, "00254", nd) == 0) {
            return phone_fail(err, "phone_too_few_digits", "phone number is incomplete");
        }
        return phone_fail(err, "phone_not_kenyan",
                          "not a Kenyan number: the international prefix is followed by a "
                          "country code other than 254");
    } else if (starts_with(digits, nd, "254")) {
        skip = 3;
    } else if (digits[0] == '0') {
        skip = 1;
        after_cc = 0;
    } else if (digits[0] == '7' || digits[0] == '1') {
        skip = 0;
        after_cc = 0;
    } else if (nd >= 11) {
        return phone_fail(err, "phone_not_kenyan",
                          "not a Kenyan number: %zu digits starting with a country code other "
                          "than 254", nd);
    } else if (nd < NATIONAL_LEN) {
        return phone_fail(err, "phone_too_few_digits",
                          "phone number has %zu digits; a Kenyan mobile number has 9 after "
                          "the leading 0 or 254", nd);
    } else {
        return phone_fail(err, "phone_not_mobile",
                          "not a Kenyan mobile number: it must start with 07, 01, 7, 1 or 254");
    }

    size_t nl = nd - skip;
    if (nl < NATIONAL_LEN) {
        return phone_fail(err, "phone_too_few_digits",
                          "phone number has %zu digits after the %s; 9 are needed", nl,
                          after_cc ? "country code" : "leading 0");
    }
    if (nl > NATIONAL_LEN) {
        if (after_cc && digits[skip] == '0') {
            return phone_fail(err, "phone_too_many_digits",
                              "phone number has %zu digits after the country code; 9 are "
                              "needed (drop the 0 after 254)", nl);
        }
        return phone_fail(err, "phone_too_many_digits",
                          "phone number has %zu digits after the %s; 9 are needed", nl,
                          after_cc ? "country code" : "leading 0");
    }
    if (!is_mobile(digits + skip)) {
        return phone_fail(err, "phone_not_mobile",
                          "not a Kenyan mobile number: prefix 0%.3s is not a mobile range",
                          digits + skip);
    }
    memcpy(nat, digits + skip, NATIONAL_LEN);
    return CONSTRA_OK;
}

int constra_msisdn_normalize(const char *input, size_t max_len, char *out, size_t out_size,
                             constra_error *err)
{
    if (out == NULL) {
        return constra__fail_null(err, "out");
    }
    if (out_size < CONSTRA_MSISDN_SIZE) {
        return constra__fail(err, CONSTRA_E_BUFFER_TOO_SMALL, NULL, "out",
                             "out needs %d bytes, has %zu", CONSTRA_MSISDN_SIZE, out_size);
    }
    char nat[NATIONAL_LEN];
    int rc = parse_msisdn(input, max_len, nat, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    memcpy(out, "254", 3);
    memcpy(out + 3, nat, NATIONAL_LEN);
    out[CONSTRA_MSISDN_LEN] = '\0';
    return CONSTRA_OK;
}

/* Holders of the mobile ranges by the national number's first three
 * digits (doc/DARAJA.md section 8, original allocation). */
typedef struct msisdn_range {
    unsigned short lo, hi;
    unsigned char safaricom;
    const char *holder;
} msisdn_range;

static const msisdn_range ranges[] = {
    {100, 108, 0, "Airtel"},         {110, 119, 1, "Safaricom"},
    {120, 120, 0, "Telkom"},         {121, 121, 0, "Infura"},
    {124, 124, 0, "Finserve (Equitel)"}, {130, 130, 0, "NRG Media"},
    {140, 145, 1, "Safaricom"},      {180, 189, 1, "Safaricom"},
    {700, 729, 1, "Safaricom"},      {730, 739, 0, "Airtel"},
    {740, 743, 1, "Safaricom"},      {744, 744, 0, "Homeland Media"},
    {745, 746, 1, "Safaricom"},      {747, 747, 0, "JTL (Faiba)"},
    {748, 749, 1, "Safaricom"},      {750, 756, 0, "Airtel"},
    {757, 759, 1, "Safaricom"},      {760, 760, 0, "Mobile Pay"},
    {761, 762, 0, "Airtel"},         {763, 766, 0, "Finserve (Equitel)"},
    {767, 767, 0, "Sema"},           {768, 769, 1, "Safaricom"},
    {770, 779, 0, "Telkom"},         {780, 789, 0, "Airtel"},
    {790, 799, 1, "Safaricom"},
};

int constra_msisdn_is_safaricom(const char *msisdn, constra_error *err)
{
    char nat[NATIONAL_LEN];
    int rc = parse_msisdn(msisdn, CONSTRA_MSISDN_INPUT_MAX, nat, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    unsigned prefix = (unsigned)(nat[0] - '0') * 100u + (unsigned)(nat[1] - '0') * 10u +
                      (unsigned)(nat[2] - '0');
    for (size_t i = 0; i < CONSTRA__ARRAY_LEN(ranges); i++) {
        if (prefix >= ranges[i].lo && prefix <= ranges[i].hi) {
            if (ranges[i].safaricom) {
                return CONSTRA_OK;
            }
            return phone_fail(err, "phone_not_safaricom",
                              "prefix 0%u is allocated to %s, not Safaricom", prefix,
                              ranges[i].holder);
        }
    }
    return phone_fail(err, "phone_not_safaricom",
                      "prefix 0%u is not allocated to Safaricom", prefix);
}
