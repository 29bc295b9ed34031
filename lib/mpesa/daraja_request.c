/*
 * Daraja request builders: OAuth header, timestamp, password, STK push and
 * STK query bodies (include/constra/daraja.h). No allocation, no clock.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "util/intfmt.h"
#include "constra/daraja.h"
#include "constra/mpesa_fields.h"
#include "mpesa/json_read.h"
#include "util/check.h"
#include "util/hmac.h" /* constra__wipe */
#include "util/civil.h"
#include "util/encode.h"
#include "util/ascii.h"

/* Latest Unix time whose EAT date is still in year 9999. */
#define NOW_MAX INT64_C(253402289999)

/* Result structs are written whole: a caller's must be at least ours. */
static int init_struct(void *p, size_t known, size_t struct_size)
{
    return constra__init_struct(p, struct_size, known, known, NULL);
}

int constra_daraja_stk_push_params_init(constra_daraja_stk_push_params *params,
                                        size_t struct_size)
{
    return init_struct(params, sizeof(*params), struct_size);
}

int constra_daraja_stk_query_params_init(constra_daraja_stk_query_params *params,
                                         size_t struct_size)
{
    return init_struct(params, sizeof(*params), struct_size);
}

/* ---- validation --------------------------------------------------------- */

/* `fmt` takes the parameter name, then the variadic arguments (a macro, so
 * the format stays a literal the compiler checks). */
#define invalid(err, param, fmt, ...) \
    constra__fail((err), CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", (param), fmt, (param), \
                  __VA_ARGS__)

static int check_digits(const char *s, size_t min, size_t max, const char *param,
                        constra_error *err)
{
    size_t n;
    int rc = constra__check_str(s, max, 0, param, &n, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (n < min) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", param,
                             "%s must be %zu to %zu digits", param, min, max);
    }
    for (size_t i = 0; i < n; i++) {
        if (!constra__ascii_is_digit(s[i])) {
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", param,
                                 "%s must be %zu to %zu digits", param, min, max);
        }
    }
    return CONSTRA_OK;
}

/* Keys, secrets, passkeys: printable ASCII without space (and without ':'
 * unless allow_colon). The value never appears in a message. */
static int check_credential(const char *s, int allow_colon, const char *param,
                            constra_error *err)
{
    size_t n;
    int rc = constra__check_str(s, CONSTRA_DARAJA_CREDENTIAL_MAX, 0, param, &n, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c > 0x7e || (c == ':' && !allow_colon)) {
            return invalid(err, param,
                           "%s must be printable ASCII without spaces%s (check for stray "
                           "whitespace copied from the portal)",
                           allow_colon ? "" : " or ':'");
        }
    }
    return CONSTRA_OK;
}

static int check_phone(const char *s, const char *param, constra_error *err)
{
    size_t n;
    int rc = constra__check_str(s, 12, 0, param, &n, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    int ok = n == 12 && memcmp(s, "254", 3) == 0 && (s[3] == '7' || s[3] == '1');
    for (size_t i = 0; ok && i < n; i++) {
        ok = constra__ascii_is_digit(s[i]);
    }
    if (!ok) {
        return invalid(err, param,
                       "%s must be a normalised Kenyan MSISDN: 254, then 7 or 1, then 8 digits%s",
                       "");
    }
    return CONSTRA_OK;
}

static int prefix_nocase(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    if (n < k) {
        return 0;
    }
    for (size_t i = 0; i < k; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        if (c != prefix[i]) {
            return 0;
        }
    }
    return 1;
}

static int check_url(const char *s, int allow_insecure, const char *param, constra_error *err)
{
    size_t n;
    int rc = constra__check_str(s, CONSTRA_DARAJA_URL_MAX, 0, param, &n, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    size_t host;
    if (prefix_nocase(s, n, "https://")) {
        host = 8;
    } else if (allow_insecure && prefix_nocase(s, n, "http://")) {
        host = 7;
    } else {
        return invalid(err, param, "%s must start with https://%s",
                       allow_insecure ? " or http://" : " (http:// only with allow_insecure_callback, "
                                                        "in sandbox)");
    }
    unsigned char h = host < n ? (unsigned char)s[host] : 0;
    if (!(constra__ascii_is_alpha(h) || constra__ascii_is_digit(h) || h == '[')) {
        return invalid(err, param, "%s has no host name after the scheme%s", "");
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c > 0x7e || strchr("\"<>\\^`{|}", c) != NULL) {
            return invalid(err, param,
                           "%s contains a character not allowed in a URL (space, control, "
                           "non-ASCII, quote, <, >, {, }, |, \\, ^ or `)%s",
                           "");
        }
    }
    return CONSTRA_OK;
}

/* AccountReference / TransactionDesc: the one definition of a valid field
 * (lib/mpesa/fields.c), with the error naming the params member. */
static int check_label(int field, const char *s, const char *param, constra_error *err)
{
    int rc = constra_mpesa_field_check(field, s, CONSTRA_MPESA_FIELD_INPUT_MAX, err);
    if (rc != CONSTRA_OK && err != NULL) {
        constra__strlcpy(err->param, param, sizeof(err->param));
    }
    return rc;
}

static int two(const char *s)
{
    return (s[0] - '0') * 10 + (s[1] - '0');
}

static int check_timestamp(const char *s, const char *param, constra_error *err)
{
    int rc = check_digits(s, 14, 14, param, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    int64_t unix_s;
    if (constra__jr_eat_unix(two(s) * 100 + two(s + 2), two(s + 4), two(s + 6), two(s + 8),
                             two(s + 10), two(s + 12), &unix_s) != 0) {
        return invalid(err, param, "%s is not a real date and time (YYYYMMDDHHMMSS)%s", "");
    }
    return CONSTRA_OK;
}

/* ---- timestamp and password -------------------------------------------- */

static int make_timestamp(int64_t now_unix, char ts[CONSTRA_DARAJA_TIMESTAMP_SIZE],
                          constra_error *err)
{
    if (now_unix < 0 || now_unix > NOW_MAX) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "now_unix",
                             "now_unix %" PRId64 " is out of range (0 to %" PRId64 ")", now_unix,
                             NOW_MAX);
    }
    constra__civil c;
    constra__civil_from_ms(now_unix * 1000, 10800, &c);
    snprintf(ts, CONSTRA_DARAJA_TIMESTAMP_SIZE, "%04d%02d%02d%02d%02d%02d", c.year, c.month,
             c.day, c.hour, c.minute, c.second);
    return CONSTRA_OK;
}

int constra_daraja_timestamp(int64_t now_unix, char *out, size_t out_size, constra_error *err)
{
    if (out == NULL) {
        return constra__fail_null(err, "out");
    }
    char ts[CONSTRA_DARAJA_TIMESTAMP_SIZE];
    int rc = make_timestamp(now_unix, ts, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (out_size < sizeof(ts)) {
        return constra__fail(err, CONSTRA_E_BUFFER_TOO_SMALL, NULL, "out",
                             "out needs %zu bytes, got %zu", sizeof(ts), out_size);
    }
    memcpy(out, ts, sizeof(ts));
    return CONSTRA_OK;
}

/* base64(shortcode + passkey + timestamp) into pw (validated inputs). */
static size_t make_password(const char *shortcode, const char *passkey, const char *ts,
                            char pw[CONSTRA_DARAJA_PASSWORD_SIZE])
{
    char raw[8 + CONSTRA_DARAJA_CREDENTIAL_MAX + CONSTRA_DARAJA_TIMESTAMP_SIZE];
    size_t a = strlen(shortcode), b = strlen(passkey), c = strlen(ts);
    memcpy(raw, shortcode, a);
    memcpy(raw + a, passkey, b);
    memcpy(raw + a + b, ts, c);
    size_t n = constra__base64_encode((const uint8_t *)raw, a + b + c, pw,
                                      CONSTRA_DARAJA_PASSWORD_SIZE);
    constra__wipe(raw, sizeof(raw));
    return n;
}

int constra_daraja_password(const char *shortcode, const char *passkey, const char *timestamp,
                            char *out, size_t out_size, size_t *out_len, constra_error *err)
{
    int rc;
    if ((rc = check_digits(shortcode, 5, 7, "shortcode", err)) != CONSTRA_OK ||
        (rc = check_credential(passkey, 0, "passkey", err)) != CONSTRA_OK ||
        (rc = check_timestamp(timestamp, "timestamp", err)) != CONSTRA_OK) {
        return rc;
    }
    if (out == NULL) {
        return constra__fail_null(err, "out");
    }
    char pw[CONSTRA_DARAJA_PASSWORD_SIZE];
    size_t n = make_password(shortcode, passkey, timestamp, pw);
    if (out_size < n + 1) {
        constra__wipe(pw, sizeof(pw));
        if (out_len) {
            *out_len = n + 1;
        }
        return constra__fail(err, CONSTRA_E_BUFFER_TOO_SMALL, NULL, "out",
                             "out needs %zu bytes, got %zu", n + 1, out_size);
    }
    memcpy(out, pw, n + 1);
    constra__wipe(pw, sizeof(pw));
    if (out_len) {
        *out_len = n;
    }
    return CONSTRA_OK;
}

/* ---- OAuth -------------------------------------------------------------- */

int constra_daraja_oauth_request(const char *consumer_key, const char *consumer_secret,
                                 const char **method, const char **path, char *out,
                                 size_t out_size, size_t *out_len, constra_error *err)
{
    int rc;
    if ((rc = check_credential(consumer_key, 0, "consumer_key", err)) != CONSTRA_OK ||
        (rc = check_credential(consumer_secret, 1, "consumer_secret", err)) != CONSTRA_OK) {
        return rc;
    }
    if (out == NULL) {
        return constra__fail_null(err, "out");
    }
    char raw[2 * CONSTRA_DARAJA_CREDENTIAL_MAX + 2];
    char value[CONSTRA_DARAJA_AUTH_HEADER_SIZE];
    size_t a = strlen(consumer_key), b = strlen(consumer_secret);
    memcpy(raw, consumer_key, a);
    raw[a] = ':';
    memcpy(raw + a + 1, consumer_secret, b);
    memcpy(value, "Basic ", 6);
    size_t n = constra__base64_encode((const uint8_t *)raw, a + 1 + b, value + 6,
                                      sizeof(value) - 6);
    constra__wipe(raw, sizeof(raw));
    n += 6;
    if (out_size < n + 1) {
        constra__wipe(value, sizeof(value));
        if (out_len) {
            *out_len = n + 1;
        }
        return constra__fail(err, CONSTRA_E_BUFFER_TOO_SMALL, NULL, "out",
                             "out needs %zu bytes, got %zu", n + 1, out_size);
    }
    memcpy(out, value, n + 1);
    constra__wipe(value, sizeof(value));
    if (out_len) {
        *out_len = n;
    }
    if (method) {
        *method = CONSTRA_DARAJA_OAUTH_METHOD;
    }
    if (path) {
        *path = CONSTRA_DARAJA_OAUTH_PATH;
    }
    return CONSTRA_OK;
}

/* ---- a JSON writer into a caller buffer ------------------------------- */

/* With buf NULL it only counts, so a body is measured, then written once
 * it is known to fit. */
typedef struct jw {
    char *buf;
    size_t cap;
    size_t len;
} jw;

static void jw_raw(jw *w, const char *s, size_t n)
{
    if (w->buf != NULL && w->len + n < w->cap) {
        memcpy(w->buf + w->len, s, n);
    }
    w->len += n;
}

static void jw_str(jw *w, const char *s)
{
    jw_raw(w, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            jw_raw(w, esc, 2);
        } else if (*p < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", *p);
            jw_raw(w, esc, 6);
        } else {
            jw_raw(w, (const char *)p, 1);
        }
    }
    jw_raw(w, "\"", 1);
}

/* "key":"value" with a comma before all but the first member. */
static void jw_member(jw *w, const char *key, const char *value, int first)
{
    if (!first) {
        jw_raw(w, ",", 1);
    }
    jw_str(w, key);
    jw_raw(w, ":", 1);
    jw_str(w, value);
}

typedef struct kv {
    const char *key;
    const char *value;
} kv;

static size_t jw_object(char *buf, size_t cap, const kv *members, size_t count)
{
    jw w = {buf, cap, 0};
    jw_raw(&w, "{", 1);
    for (size_t i = 0; i < count; i++) {
        jw_member(&w, members[i].key, members[i].value, i == 0);
    }
    jw_raw(&w, "}", 1);
    if (buf != NULL && w.len < cap) {
        buf[w.len] = '\0';
    }
    return w.len;
}

/* Measures, checks every output's size, then writes: all or nothing. */
static int emit(const kv *members, size_t count, const char *ts, const char *pw, char *out,
                size_t out_size, size_t *out_len, char *timestamp, size_t timestamp_size,
                char *password, size_t password_size, constra_error *err)
{
    size_t need = jw_object(NULL, 0, members, count) + 1;
    if (out_size < need) {
        *out_len = need;
        return constra__fail(err, CONSTRA_E_BUFFER_TOO_SMALL, NULL, "out",
                             "out needs %zu bytes, got %zu", need, out_size);
    }
    size_t ts_len = strlen(ts), pw_len = strlen(pw);
    if (timestamp != NULL && timestamp_size < ts_len + 1) {
        return constra__fail(err, CONSTRA_E_BUFFER_TOO_SMALL, NULL, "timestamp",
                             "timestamp needs %zu bytes, got %zu", ts_len + 1, timestamp_size);
    }
    if (password != NULL && password_size < pw_len + 1) {
        return constra__fail(err, CONSTRA_E_BUFFER_TOO_SMALL, NULL, "password",
                             "password needs %zu bytes, got %zu", pw_len + 1, password_size);
    }
    *out_len = jw_object(out, out_size, members, count);
    if (timestamp != NULL) {
        memcpy(timestamp, ts, ts_len + 1);
    }
    if (password != NULL) {
        memcpy(password, pw, pw_len + 1);
    }
    return CONSTRA_OK;
}

/* ---- STK push and query ------------------------------------------------- */

int constra_daraja_stk_push_body(const constra_daraja_stk_push_params *params,
                                 int64_t now_unix, char *out, size_t out_size, size_t *out_len,
                                 char *timestamp, size_t timestamp_size, char *password,
                                 size_t password_size, constra_error *err)
{
    constra_daraja_stk_push_params p;
    int rc = constra__check_struct(params, sizeof(p), sizeof(p), "params", err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra__copy_struct(&p, sizeof(p), params);
    if (out == NULL) {
        return constra__fail_null(err, "out");
    }
    if (out_len == NULL) {
        return constra__fail_null(err, "out_len");
    }

    const char *type_name, *party_b;
    if (p.transaction_type == CONSTRA_DARAJA_STK_PAYBILL) {
        if (p.till_number != NULL) {
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                                 "params.till_number",
                                 "params.till_number must be NULL for a Paybill push (PartyB is "
                                 "the shortcode); use CONSTRA_DARAJA_STK_TILL for a Till");
        }
        type_name = "CustomerPayBillOnline";
        party_b = p.business_shortcode;
    } else if (p.transaction_type == CONSTRA_DARAJA_STK_TILL) {
        if (p.till_number == NULL) {
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_missing",
                                 "params.till_number",
                                 "params.till_number is required for a Till push (PartyB); "
                                 "business_shortcode is then the HO/store number");
        }
        rc = check_digits(p.till_number, 5, 7, "params.till_number", err);
        if (rc != CONSTRA_OK) {
            return rc;
        }
        type_name = "CustomerBuyGoodsOnline";
        party_b = p.till_number;
    } else {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             "params.transaction_type",
                             "params.transaction_type must be CONSTRA_DARAJA_STK_PAYBILL or "
                             "CONSTRA_DARAJA_STK_TILL");
    }
    if ((rc = check_digits(p.business_shortcode, 5, 7, "params.business_shortcode", err)) !=
            CONSTRA_OK ||
        (rc = check_credential(p.passkey, 0, "params.passkey", err)) != CONSTRA_OK) {
        return rc;
    }
    int64_t max = p.amount_max == 0 ? CONSTRA_DARAJA_AMOUNT_MAX_DEFAULT : p.amount_max;
    if (max < 1) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             "params.amount_max", "params.amount_max must be 0 (default) or >= 1");
    }
    if (p.amount < 1 || p.amount > max) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             "params.amount",
                             "params.amount %" PRId64 " is out of range: whole KES from 1 to %"
                             PRId64, p.amount, max);
    }
    if ((rc = check_phone(p.phone_number, "params.phone_number", err)) != CONSTRA_OK ||
        (rc = check_url(p.callback_url, p.allow_insecure_callback, "params.callback_url", err)) !=
            CONSTRA_OK ||
        (rc = check_label(CONSTRA_MPESA_FIELD_ACCOUNT_REFERENCE, p.account_reference,
                          "params.account_reference", err)) != CONSTRA_OK ||
        (rc = check_label(CONSTRA_MPESA_FIELD_TRANSACTION_DESC, p.transaction_desc,
                          "params.transaction_desc", err)) != CONSTRA_OK) {
        return rc;
    }

    char ts[CONSTRA_DARAJA_TIMESTAMP_SIZE];
    if ((rc = make_timestamp(now_unix, ts, err)) != CONSTRA_OK) {
        return rc;
    }
    char pw[CONSTRA_DARAJA_PASSWORD_SIZE];
    make_password(p.business_shortcode, p.passkey, ts, pw);
    char amount[24];
    constra__fmt_i64(amount, p.amount);
    const kv members[] = {
        {"BusinessShortCode", p.business_shortcode},
        {"Password", pw},
        {"Timestamp", ts},
        {"TransactionType", type_name},
        {"Amount", amount},
        {"PartyA", p.phone_number},
        {"PartyB", party_b},
        {"PhoneNumber", p.phone_number},
        {"CallBackURL", p.callback_url},
        {"AccountReference", p.account_reference},
        {"TransactionDesc", p.transaction_desc},
    };
    rc = emit(members, CONSTRA__ARRAY_LEN(members), ts, pw, out, out_size, out_len, timestamp,
              timestamp_size, password, password_size, err);
    constra__wipe(pw, sizeof(pw));
    return rc;
}

int constra_daraja_stk_query_body(const constra_daraja_stk_query_params *params,
                                  int64_t now_unix, char *out, size_t out_size, size_t *out_len,
                                  char *timestamp, size_t timestamp_size, char *password,
                                  size_t password_size, constra_error *err)
{
    constra_daraja_stk_query_params p;
    int rc = constra__check_struct(params, sizeof(p), sizeof(p), "params", err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra__copy_struct(&p, sizeof(p), params);
    if (out == NULL) {
        return constra__fail_null(err, "out");
    }
    if (out_len == NULL) {
        return constra__fail_null(err, "out_len");
    }
    size_t n;
    if ((rc = check_digits(p.business_shortcode, 5, 7, "params.business_shortcode", err)) !=
            CONSTRA_OK ||
        (rc = check_credential(p.passkey, 0, "params.passkey", err)) != CONSTRA_OK ||
        (rc = constra__check_str(p.checkout_request_id, CONSTRA_DARAJA_ID_SIZE - 1, 0,
                                 "params.checkout_request_id", &n, err)) != CONSTRA_OK) {
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p.checkout_request_id[i];
        if (c < 0x21 || c > 0x7e) {
            return invalid(err, "params.checkout_request_id",
                           "%s must be printable ASCII without spaces%s", "");
        }
    }
    char ts[CONSTRA_DARAJA_TIMESTAMP_SIZE];
    if ((rc = make_timestamp(now_unix, ts, err)) != CONSTRA_OK) {
        return rc;
    }
    char pw[CONSTRA_DARAJA_PASSWORD_SIZE];
    make_password(p.business_shortcode, p.passkey, ts, pw);
    const kv members[] = {
        {"BusinessShortCode", p.business_shortcode},
        {"Password", pw},
        {"Timestamp", ts},
        {"CheckoutRequestID", p.checkout_request_id},
    };
    rc = emit(members, CONSTRA__ARRAY_LEN(members), ts, pw, out, out_size, out_len, timestamp,
              timestamp_size, password, password_size, err);
    constra__wipe(pw, sizeof(pw));
    return rc;
}
