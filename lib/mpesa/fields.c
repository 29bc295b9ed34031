/*
 * M-Pesa amounts (whole shillings, 1 to a configurable maximum) and the
 * free-text request fields (AccountReference, TransactionDesc, Remarks,
 * Occasion): checking and sanitising. Limits from doc/DARAJA.md 3.1, 7.2, 7.8.
 */
#include <stdarg.h>
#include <string.h>

#include "constra/mpesa_fields.h"
#include "mpesa/ascii.h"
#include "util/check.h"

/* ---- amounts ------------------------------------------------------------ */

static int amount_fail(constra_error *err, const char *code, const char *fmt, ...)
    CONSTRA__PRINTF(3, 4);

static int amount_fail(constra_error *err, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = constra__failv(err, CONSTRA_E_INVALID_ARGUMENT, code, "amount", fmt, ap);
    va_end(ap);
    return rc;
}

static int resolve_max(int64_t max_amount, int64_t *max, constra_error *err)
{
    if (max_amount < 0) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "max_amount",
                             "max_amount must be positive, or 0 for the default");
    }
    *max = max_amount == 0 ? CONSTRA_MPESA_AMOUNT_MAX_DEFAULT : max_amount;
    return CONSTRA_OK;
}

int constra_mpesa_amount_check(int64_t amount, int64_t max_amount, constra_error *err)
{
    int64_t max = 0;
    int rc = resolve_max(max_amount, &max, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (amount < 0) {
        return amount_fail(err, "amount_negative", "amount must not be negative");
    }
    if (amount < CONSTRA_MPESA_AMOUNT_MIN) {
        return amount_fail(err, "amount_too_small", "amount must be at least %d shilling",
                           CONSTRA_MPESA_AMOUNT_MIN);
    }
    if (amount > max) {
        return amount_fail(err, "amount_too_large",
                           "amount is above the maximum of %lld shillings", (long long)max);
    }
    return CONSTRA_OK;
}

int constra_mpesa_amount_parse(const char *text, size_t max_len, int64_t max_amount,
                               int64_t *out, constra_error *err)
{
    if (out == NULL) {
        return constra__fail_null(err, "out");
    }
    int64_t max = 0;
    int rc = resolve_max(max_amount, &max, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (text == NULL) {
        return constra__fail_null(err, "amount");
    }
    size_t bound =
        max_len < CONSTRA_MPESA_AMOUNT_TEXT_MAX ? max_len : CONSTRA_MPESA_AMOUNT_TEXT_MAX;
    size_t n = constra__strnlen(text, bound + 1);
    if (n > bound) {
        return amount_fail(err, "amount_invalid", "amount text is longer than %zu bytes or "
                           "not terminated", bound);
    }
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    mpesa_trim(s, &i, &n);
    if (i == n) {
        return amount_fail(err, "amount_invalid", "amount is empty");
    }
    if (s[i] == '-') {
        return amount_fail(err, "amount_negative", "amount must not be negative");
    }
    /* Whole part. value never exceeds max: the first test keeps value * 10
     * + d within max when max - d >= 0 (so nothing can overflow even for
     * max = INT64_MAX); the second catches d > max at value 0. */
    int64_t value = 0;
    int too_large = 0;
    size_t digits = 0;
    for (; i < n && mpesa_is_digit(s[i]); i++, digits++) {
        int d = s[i] - '0';
        if (too_large || value > (max - d) / 10 || value * 10 + d > max) {
            too_large = 1;
        } else {
            value = value * 10 + d;
        }
    }
    if (digits == 0) {
        return amount_fail(err, "amount_invalid", "amount must start with a digit");
    }
    if (i < n && s[i] == '.') {
        i++;
        size_t frac = 0;
        int nonzero = 0;
        for (; i < n && mpesa_is_digit(s[i]); i++, frac++) {
            nonzero |= s[i] != '0';
        }
        if (frac == 0) {
            return amount_fail(err, "amount_invalid", "amount has no digits after the point");
        }
        if (i == n && nonzero) {
            return amount_fail(err, "amount_not_whole",
                               "amount must be whole shillings (M-Pesa has no cents)");
        }
    }
    if (i < n) {
        return amount_fail(err, "amount_invalid",
                           "amount may contain only digits and a '.00' fraction");
    }
    if (too_large) {
        return amount_fail(err, "amount_too_large",
                           "amount is above the maximum of %lld shillings", (long long)max);
    }
    rc = constra_mpesa_amount_check(value, max, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    *out = value;
    return CONSTRA_OK;
}

/* ---- free-text fields --------------------------------------------------- */

typedef struct field_rule {
    const char *param;
    size_t min, max;
    const char *default_text; /* NULL: none */
} field_rule;

static const field_rule field_rules[] = {
    {NULL, 0, 0, NULL}, /* 0 is not a field */
    {"account_reference", 1, CONSTRA_MPESA_ACCOUNT_REFERENCE_MAX, NULL},
    {"transaction_desc", 1, CONSTRA_MPESA_TRANSACTION_DESC_MAX,
     CONSTRA_MPESA_TRANSACTION_DESC_DEFAULT},
    {"remarks", 2, CONSTRA_MPESA_REMARKS_MAX, NULL},
    {"occasion", 0, CONSTRA_MPESA_OCCASION_MAX, NULL},
};

/* The largest field maximum: sizes the sanitiser's scratch buffer. */
#define FIELD_MAX_MAX 100

static int find_rule(int field, const field_rule **out, constra_error *err)
{
    if (field <= 0 || (size_t)field >= CONSTRA__ARRAY_LEN(field_rules)) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "field",
                             "field %d is not a constra_mpesa_field value", field);
    }
    *out = &field_rules[field];
    return CONSTRA_OK;
}

static int is_safe(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || mpesa_is_digit(c) || c == ' ' ||
           c == '-';
}

static int short_fail(const field_rule *r, size_t len, constra_error *err)
{
    if (len == 0) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "field_empty", r->param,
                             "%s must not be empty", r->param);
    }
    return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "field_too_short", r->param,
                         "%s must have at least %zu characters", r->param, r->min);
}

int constra_mpesa_field_check(int field, const char *text, size_t max_len, constra_error *err)
{
    const field_rule *r = NULL;
    int rc = find_rule(field, &r, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (text == NULL) {
        return constra__fail_null(err, r->param);
    }
    size_t b = max_len < r->max ? max_len : r->max;
    size_t n = constra__strnlen(text, b + 1);
    if (n > b) {
        if (b == r->max) {
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "field_too_long", r->param,
                                 "%s must have at most %zu characters", r->param, r->max);
        }
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "field_too_long", r->param,
                             "%s is not terminated within %zu bytes", r->param, b);
    }
    if (n < r->min) {
        return short_fail(r, n, err);
    }
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < n; i++) {
        if (!is_safe(s[i])) {
            if (s[i] > 0x20 && s[i] < 0x7f) {
                return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "field_invalid_character",
                                     r->param,
                                     "%s has character '%c' at position %zu; allowed are "
                                     "letters, digits, space and '-'", r->param, (char)s[i],
                                     i + 1);
            }
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "field_invalid_character",
                                 r->param,
                                 "%s has byte 0x%02x at position %zu; allowed are letters, "
                                 "digits, space and '-'", r->param, s[i], i + 1);
        }
        if (s[i] == ' ' && (i == 0 || i == n - 1 || s[i - 1] == ' ')) {
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "field_whitespace", r->param,
                                 "%s has a leading, trailing or repeated space at position %zu",
                                 r->param, i + 1);
        }
    }
    return CONSTRA_OK;
}

/* What one input byte becomes: itself, ' ', '-', or 0 (dropped). */
static unsigned char sanitize_map(unsigned char c)
{
    if (is_safe(c)) {
        return c;
    }
    if (mpesa_is_space(c)) {
        return ' ';
    }
    if (c != '\0' && strchr("_./\\,:;|", c) != NULL) {
        return '-';
    }
    return 0;
}

int constra_mpesa_field_sanitize(int field, const char *text, size_t max_len, char *out,
                                 size_t out_size, unsigned *changes, constra_error *err)
{
    const field_rule *r = NULL;
    int rc = find_rule(field, &r, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (out == NULL) {
        return constra__fail_null(err, "out");
    }
    if (out_size < r->max + 1) {
        return constra__fail(err, CONSTRA_E_BUFFER_TOO_SMALL, NULL, "out",
                             "out needs %zu bytes for %s, has %zu", r->max + 1, r->param,
                             out_size);
    }
    if (text == NULL) {
        return constra__fail_null(err, r->param);
    }
    size_t b = max_len < CONSTRA_MPESA_FIELD_INPUT_MAX ? max_len : CONSTRA_MPESA_FIELD_INPUT_MAX;
    size_t n = constra__strnlen(text, b + 1);
    if (n > b) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "field_too_long", r->param,
                             "%s is longer than %zu bytes or not terminated", r->param, b);
    }

    /* Built in scratch first: `out` may be `text`. */
    char buf[FIELD_MAX_MAX + 1];
    size_t pos = 0;
    unsigned flags = 0;
    int space_pending = 0;
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < n; i++) {
        unsigned char m = sanitize_map(s[i]);
        if (m != s[i]) {
            flags |= CONSTRA_SANITIZE_REPLACED;
        }
        if (m == 0) {
            continue;
        }
        if (m == ' ') {
            if (pos == 0 || space_pending) {
                flags |= CONSTRA_SANITIZE_WHITESPACE; /* leading or repeated */
            }
            space_pending = pos > 0;
            continue;
        }
        if (pos + (size_t)space_pending + 1 > r->max) {
            flags |= CONSTRA_SANITIZE_TRUNCATED;
            space_pending = 0;
            break;
        }
        if (space_pending) {
            buf[pos++] = ' ';
            space_pending = 0;
        }
        buf[pos++] = (char)m;
    }
    if (space_pending) {
        flags |= CONSTRA_SANITIZE_WHITESPACE; /* trailing */
    }
    buf[pos] = '\0';
    if (pos < r->min) {
        if (r->default_text == NULL) {
            return short_fail(r, pos, err);
        }
        constra__strlcpy(buf, r->default_text, sizeof(buf));
        pos = strlen(buf);
        flags |= CONSTRA_SANITIZE_DEFAULTED;
    }
    memcpy(out, buf, pos + 1);
    if (changes) {
        *changes = flags;
    }
    return CONSTRA_OK;
}
