/*
 * Money: the currency table and exact int64 arithmetic. Nothing here ever
 * wraps around: an operation that does not fit is refused.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "util/intfmt.h"
#include "constra/money.h"
#include "util/check.h"
#include "util/ascii.h"

typedef struct currency {
    char code[4];
    int exponent;     /* the unit the rail settles in: amounts count this */
    int iso_exponent; /* ISO 4217 minor unit */
} currency;

/* Mobile-money rails in East Africa settle whole units even where ISO 4217
 * defines cents (KES, TZS): those rows have exponent 0. Sorted by code. */
static const currency currencies[] = {
    {"BHD", 3, 3}, {"BIF", 0, 0}, {"BWP", 2, 2}, {"CDF", 2, 2}, {"EGP", 2, 2},
    {"ETB", 2, 2}, {"EUR", 2, 2}, {"GBP", 2, 2}, {"GHS", 2, 2}, {"JPY", 0, 0},
    {"KES", 0, 2}, {"KWD", 3, 3}, {"LSL", 2, 2}, {"MAD", 2, 2}, {"MWK", 2, 2},
    {"MZN", 2, 2}, {"NGN", 2, 2}, {"RWF", 0, 0}, {"SOS", 2, 2}, {"SSP", 2, 2},
    {"TZS", 0, 2}, {"UGX", 0, 0}, {"USD", 2, 2}, {"XAF", 0, 0}, {"XOF", 0, 0},
    {"ZAR", 2, 2}, {"ZMW", 2, 2},
};

static const uint64_t pow10_table[] = {1, 10, 100, 1000};

static int find_currency(const char *code, const currency **out, constra_error *err)
{
    size_t len;
    int rc = constra__check_str(code, 3, 0, "currency", &len, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (len != 3 || code[0] < 'A' || code[0] > 'Z' || code[1] < 'A' || code[1] > 'Z' ||
        code[2] < 'A' || code[2] > 'Z') {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "currency_invalid", "currency",
                             "currency must be a three-letter upper-case ISO 4217 code");
    }
    for (size_t i = 0; i < CONSTRA__ARRAY_LEN(currencies); i++) {
        if (memcmp(currencies[i].code, code, 3) == 0) {
            *out = &currencies[i];
            return CONSTRA_OK;
        }
    }
    return constra__fail(err, CONSTRA_E_NOT_FOUND, "currency_unsupported", "currency",
                         "currency %s is not supported", code);
}

int constra_currency_lookup(const char *code, int *exponent, int *iso_exponent,
                            constra_error *err)
{
    if (exponent == NULL) {
        return constra__fail_null(err, "exponent");
    }
    const currency *c = NULL;
    int rc = find_currency(code, &c, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    *exponent = c->exponent;
    if (iso_exponent) {
        *iso_exponent = c->iso_exponent;
    }
    return CONSTRA_OK;
}

size_t constra_currency_count(void)
{
    return CONSTRA__ARRAY_LEN(currencies);
}

int constra_currency_at(size_t index, const char **code, int *exponent, constra_error *err)
{
    if (code == NULL) {
        return constra__fail_null(err, "code");
    }
    if (index >= CONSTRA__ARRAY_LEN(currencies)) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "index",
                             "index %zu is past the table's %zu currencies", index,
                             CONSTRA__ARRAY_LEN(currencies));
    }
    *code = currencies[index].code;
    if (exponent) {
        *exponent = currencies[index].exponent;
    }
    return CONSTRA_OK;
}

static int overflow(constra_error *err, const char *what)
{
    return constra__fail(err, CONSTRA_E_OVERFLOW, "amount_too_large", "amount",
                         "%s does not fit in a 64-bit amount", what);
}

int constra_money_add(int64_t a, int64_t b, int64_t *out, constra_error *err)
{
    if (out == NULL) {
        return constra__fail_null(err, "out");
    }
    if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b)) {
        return overflow(err, "the sum");
    }
    *out = a + b;
    return CONSTRA_OK;
}

int constra_money_sub(int64_t a, int64_t b, int64_t *out, constra_error *err)
{
    if (out == NULL) {
        return constra__fail_null(err, "out");
    }
    if ((b < 0 && a > INT64_MAX + b) || (b > 0 && a < INT64_MIN + b)) {
        return overflow(err, "the difference");
    }
    *out = a - b;
    return CONSTRA_OK;
}

/* |v| as an unsigned, correct for INT64_MIN. */
static uint64_t magnitude(int64_t v)
{
    return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

/* Applies a sign to a magnitude; fails if it does not fit. */
static int signed_result(uint64_t mag, int negative, int64_t *out)
{
    if (negative) {
        if (mag > (uint64_t)INT64_MAX + 1) {
            return -1;
        }
        *out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    } else {
        if (mag > (uint64_t)INT64_MAX) {
            return -1;
        }
        *out = (int64_t)mag;
    }
    return 0;
}

int constra_money_mul(int64_t amount, int64_t factor, int64_t *out, constra_error *err)
{
    if (out == NULL) {
        return constra__fail_null(err, "out");
    }
    uint64_t a = magnitude(amount);
    uint64_t f = magnitude(factor);
    if (a != 0 && f > UINT64_MAX / a) {
        return overflow(err, "the product");
    }
    int64_t r;
    if (signed_result(a * f, (amount < 0) != (factor < 0) && a * f != 0, &r) != 0) {
        return overflow(err, "the product");
    }
    *out = r;
    return CONSTRA_OK;
}

#define BPS_DENOMINATOR 10000u
#define BPS_MAX 1000000

int constra_money_fee_bps(int64_t amount, int32_t basis_points, constra_rounding rounding,
                          int64_t *out, constra_error *err)
{
    if (out == NULL) {
        return constra__fail_null(err, "out");
    }
    if (basis_points < 0 || basis_points > BPS_MAX) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             "basis_points", "basis_points must be 0 to %d", BPS_MAX);
    }
    if ((int)rounding < CONSTRA_ROUND_DOWN || (int)rounding > CONSTRA_ROUND_HALF_EVEN) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "rounding",
                             "unknown rounding mode %d", (int)rounding);
    }
    /* fee = a * bps / 10000, split so nothing overflows:
     * a = q * 10000 + r  =>  a * bps / 10000 = q * bps + r * bps / 10000. */
    uint64_t a = magnitude(amount);
    uint64_t bps = (uint64_t)basis_points;
    uint64_t q = a / BPS_DENOMINATOR;
    uint64_t r = a % BPS_DENOMINATOR;
    if (bps != 0 && q > UINT64_MAX / bps) {
        return overflow(err, "the fee");
    }
    uint64_t whole = q * bps;
    uint64_t rem = r * bps; /* < 10^4 * 10^6: fits */
    if (whole > UINT64_MAX - rem / BPS_DENOMINATOR) {
        return overflow(err, "the fee");
    }
    whole += rem / BPS_DENOMINATOR;
    uint64_t frac = rem % BPS_DENOMINATOR; /* remainder out of 10000 */
    int up = 0;
    switch (rounding) {
    case CONSTRA_ROUND_DOWN:
        break;
    case CONSTRA_ROUND_UP:
        up = frac > 0;
        break;
    case CONSTRA_ROUND_HALF_UP:
        up = frac >= BPS_DENOMINATOR / 2;
        break;
    case CONSTRA_ROUND_HALF_EVEN:
        up = frac > BPS_DENOMINATOR / 2 || (frac == BPS_DENOMINATOR / 2 && (whole & 1u));
        break;
    }
    if (up) {
        if (whole == UINT64_MAX) {
            return overflow(err, "the fee");
        }
        whole++;
    }
    int64_t fee;
    if (signed_result(whole, amount < 0 && whole != 0, &fee) != 0) {
        return overflow(err, "the fee");
    }
    *out = fee;
    return CONSTRA_OK;
}

int constra_money_format(int64_t amount, const char *currency_code, char *out, size_t out_size,
                         constra_error *err)
{
    const currency *c = NULL;
    int rc = find_currency(currency_code, &c, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (out == NULL) {
        return constra__fail_null(err, "out");
    }
    uint64_t mag = magnitude(amount);
    uint64_t unit = pow10_table[c->exponent];
    /* No printf: intfmt.h (newlib-nano has no 64-bit conversions). */
    char tmp[48];
    size_t n = 0;
    if (amount < 0) {
        tmp[n++] = '-';
    }
    if (c->exponent == 0) {
        n += constra__fmt_u64(tmp + n, mag);
    } else {
        n += constra__fmt_u64(tmp + n, mag / unit);
        tmp[n++] = '.';
        n += constra__fmt_u64_pad(tmp + n, mag % unit, (unsigned)c->exponent);
    }
    if (n + 1 > out_size) {
        return constra__fail(err, CONSTRA_E_BUFFER_TOO_SMALL, NULL, "out",
                             "out needs %zu bytes, got %zu", n + 1, out_size);
    }
    memcpy(out, tmp, n + 1);
    return CONSTRA_OK;
}

static int is_group_separator(char ch)
{
    return ch == ',' || ch == ' ' || ch == '_';
}

static int parse_error(constra_error *err, const char *why)
{
    return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "amount_invalid", "text",
                         "amount %s", why);
}

int constra_money_parse(const char *text, size_t max_len, const char *currency_code,
                        int64_t *out, constra_error *err)
{
    size_t len;
    int rc = constra__check_str(text, max_len, 0, "text", &len, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    const currency *c = NULL;
    rc = find_currency(currency_code, &c, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (out == NULL) {
        return constra__fail_null(err, "out");
    }
    size_t i = 0;
    int negative = 0;
    if (text[i] == '-') {
        negative = 1;
        i++;
    }
    uint64_t units = 0; /* in settlement units */
    int digits = 0;
    const uint64_t limit = (uint64_t)INT64_MAX + (negative ? 1u : 0u);
    for (; i < len && text[i] != '.'; i++) {
        char ch = text[i];
        if (is_group_separator(ch)) {
            /* Only between digits: "1,250" yes; ",1250", "1,,250", "1250," no. */
            if (digits == 0 || i + 1 >= len || !constra__ascii_is_digit(text[i + 1])) {
                return parse_error(err, "has a misplaced group separator");
            }
            continue;
        }
        if (!constra__ascii_is_digit(ch)) {
            return parse_error(err, "must be digits, optionally with a decimal point");
        }
        if (units > (UINT64_MAX - 9) / 10) {
            return overflow(err, "the amount");
        }
        units = units * 10 + (uint64_t)(ch - '0');
        if (units > limit) {
            return overflow(err, "the amount");
        }
        digits++;
    }
    if (digits == 0) {
        return parse_error(err, "has no digits before the decimal point");
    }
    /* Scale the whole part to settlement units. */
    uint64_t unit = pow10_table[c->exponent];
    if (units > limit / unit) {
        return overflow(err, "the amount");
    }
    units *= unit;
    if (i < len) { /* text[i] == '.' */
        i++;
        if (i >= len) {
            return parse_error(err, "has no digits after the decimal point");
        }
        int frac_digits = 0;
        uint64_t frac = 0;
        for (; i < len; i++) {
            char ch = text[i];
            if (!constra__ascii_is_digit(ch)) {
                return parse_error(err, "has a non-digit after the decimal point");
            }
            if (frac_digits < c->exponent) {
                frac = frac * 10 + (uint64_t)(ch - '0');
            } else if (ch != '0') {
                return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "amount_invalid", "text",
                                     "%s amounts have at most %d decimal places", c->code,
                                     c->exponent);
            }
            frac_digits++;
        }
        for (int k = frac_digits; k < c->exponent; k++) {
            frac *= 10;
        }
        if (units > limit - frac) {
            return overflow(err, "the amount");
        }
        units += frac;
    }
    int64_t v;
    if (signed_result(units, negative && units != 0, &v) != 0) {
        return overflow(err, "the amount");
    }
    *out = v;
    return CONSTRA_OK;
}
