/*
 * Webhook signatures (include/constra/webhook_signature.h): t_v1, body_hex and
 * Standard Webhooks, sign and verify, over the HMAC-SHA256 seam.
 *
 * Parsing is strict and bounded: header values are read up to
 * CONSTRA_WEBHOOK_HEADER_MAX bytes, every candidate is decoded to its 32
 * raw bytes at parse time, and the computed MAC is compared with all of
 * them in constant time (constra__ct_equal, results OR-ed, no early exit).
 * No allocation: keys and MACs live on the stack and are wiped on the way
 * out.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/intfmt.h"
#include "constra/webhook_signature.h"
#include "util/check.h"
#include "util/encode.h"
#include "util/hmac.h"

#define MAC_LEN CONSTRA__SHA256_SIZE
#define MAC_HEX_LEN (2 * MAC_LEN)                   /* 64 */
#define MAC_B64_LEN (((MAC_LEN + 2) / 3) * 4)       /* 44 */
#define STD_PREFIX "whsec_"
#define STD_PREFIX_LEN (sizeof(STD_PREFIX) - 1)
/* Largest key a base64 secret of CONSTRA_WEBHOOK_SECRET_MAX chars gives. */
#define STD_KEY_MAX ((CONSTRA_WEBHOOK_SECRET_MAX / 4) * 3)
/* Decimal digits of INT64_MAX. */
#define UNIX_DIGITS_MAX 19
#define SCHEME_NAME_MAX 32

_Static_assert(CONSTRA_WEBHOOK_SIGNATURE_SIZE >= 2 + UNIX_DIGITS_MAX + 4 + MAC_HEX_LEN + 1,
               "CONSTRA_WEBHOOK_SIGNATURE_SIZE too small for t_v1");
_Static_assert(CONSTRA_WEBHOOK_SIGNATURE_SIZE >= 3 + MAC_B64_LEN + 1,
               "CONSTRA_WEBHOOK_SIGNATURE_SIZE too small for standard_webhooks");

static const char *const result_names[] = {
    "ok",               /* CONSTRA_WEBHOOK_OK */
    "signature_malformed", /* CONSTRA_WEBHOOK_MALFORMED */
    "signature_expired",   /* CONSTRA_WEBHOOK_EXPIRED */
    "signature_future",    /* CONSTRA_WEBHOOK_FUTURE */
    "signature_mismatch",  /* CONSTRA_WEBHOOK_MISMATCH */
    "secret_invalid",      /* CONSTRA_WEBHOOK_SECRET_INVALID */
    "invalid_argument",    /* CONSTRA_WEBHOOK_INVALID_ARGUMENT */
    "internal_error",      /* CONSTRA_WEBHOOK_ERROR */
};

const char *constra_webhook_result_name(int reason)
{
    if (reason < 0 || (size_t)reason >= CONSTRA__ARRAY_LEN(result_names)) {
        return "unknown";
    }
    return result_names[reason];
}

const char *constra_webhook_hmac_backend(void)
{
    return constra__hmac_backend();
}

/* ---- names -------------------------------------------------------------- */

static const struct {
    const char *name;
    int scheme;
} scheme_names[] = {
    {"t_v1", CONSTRA_WEBHOOK_T_V1},
    {"constra", CONSTRA_WEBHOOK_T_V1},
    {"stripe", CONSTRA_WEBHOOK_T_V1},
    {"body_hex", CONSTRA_WEBHOOK_BODY_HEX},
    {"body-hex", CONSTRA_WEBHOOK_BODY_HEX},
    {"standard_webhooks", CONSTRA_WEBHOOK_STANDARD},
    {"standard-webhooks", CONSTRA_WEBHOOK_STANDARD},
    {"svix", CONSTRA_WEBHOOK_STANDARD},
};

int constra_webhook_scheme_from_name(const char *name, int *scheme, constra_error *err)
{
    if (name == NULL) {
        return constra__fail_null(err, "name");
    }
    if (scheme == NULL) {
        return constra__fail_null(err, "scheme");
    }
    size_t len = constra__strnlen(name, SCHEME_NAME_MAX + 1);
    if (len <= SCHEME_NAME_MAX) {
        for (size_t i = 0; i < CONSTRA__ARRAY_LEN(scheme_names); i++) {
            if (strcmp(name, scheme_names[i].name) == 0) {
                *scheme = scheme_names[i].scheme;
                return CONSTRA_OK;
            }
        }
    }
    return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "webhook_scheme_unknown", "name",
                         "unknown webhook scheme name (expected t_v1, body_hex or "
                         "standard_webhooks)");
}

const char *constra_webhook_scheme_name(int scheme)
{
    switch (scheme) {
    case CONSTRA_WEBHOOK_T_V1:
        return "t_v1";
    case CONSTRA_WEBHOOK_BODY_HEX:
        return "body_hex";
    case CONSTRA_WEBHOOK_STANDARD:
        return "standard_webhooks";
    default:
        return NULL;
    }
}

int constra_webhook_params_init(constra_webhook_params *params, size_t struct_size)
{
    return constra__init_struct(params, struct_size, sizeof(*params), sizeof(*params), NULL);
}

/* ---- shared helpers ----------------------------------------------------- */

/* A signature rejection: CONSTRA_E_SIGNATURE with the reason's code. */
static int reject(constra_error *err, int *reason, int why, const char *param, const char *fmt,
                  ...) CONSTRA__PRINTF(5, 6);

static int reject(constra_error *err, int *reason, int why, const char *param, const char *fmt,
                  ...)
{
    *reason = why;
    va_list ap;
    va_start(ap, fmt);
    int rc = constra__failv(err, CONSTRA_E_SIGNATURE, constra_webhook_result_name(why), param,
                            fmt, ap);
    va_end(ap);
    return rc;
}

static int secret_invalid(constra_error *err, int *reason, const char *fmt, ...)
    CONSTRA__PRINTF(3, 4);

static int secret_invalid(constra_error *err, int *reason, const char *fmt, ...)
{
    *reason = CONSTRA_WEBHOOK_SECRET_INVALID;
    va_list ap;
    va_start(ap, fmt);
    int rc = constra__failv(err, CONSTRA_E_INVALID_ARGUMENT, "secret_invalid", "secret", fmt, ap);
    va_end(ap);
    return rc;
}

static int backend_failed(constra_error *err, int *reason, int rc)
{
    *reason = CONSTRA_WEBHOOK_ERROR;
    if (rc == CONSTRA_E_INVALID_ARGUMENT || rc == CONSTRA_E_INVALID_STATE) {
        rc = CONSTRA_E_GENERIC; /* our own misuse of the seam: not the caller's */
    }
    return constra__fail(err, rc, "internal_error", NULL, "HMAC-SHA256 (%s) failed",
                         constra__hmac_backend());
}

/*
 * A unix time in seconds written strictly: 1 to 19 decimal digits, no
 * sign, no leading zero (except "0" itself), at most INT64_MAX. The text
 * is what gets signed, so it must have exactly one spelling.
 */
static int parse_unix(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > UNIX_DIGITS_MAX || (s[0] == '0' && len > 1)) {
        return -1;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10u + (uint64_t)(s[i] - '0'); /* 19 digits fit in uint64 */
    }
    if (v > (uint64_t)INT64_MAX) {
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

/* Decimal text of a non-negative int64 into buf (no printf: intfmt.h). */
static size_t format_unix(int64_t v, char *buf, size_t size)
{
    if (size < CONSTRA__INT_TEXT_MAX) {
        return 0;
    }
    return constra__fmt_i64(buf, v);
}

/* Checks the timestamp window; both ends inclusive. ts, now >= 0 so the
 * differences cannot overflow. */
static int check_window(int64_t ts, int64_t now, int64_t tolerance, const char *param,
                        int *reason, constra_error *err)
{
    if (now > ts && now - ts > tolerance) {
        return reject(err, reason, CONSTRA_WEBHOOK_EXPIRED, param,
                      "signature timestamp %" PRId64 " is %" PRId64
                      " s before now (%" PRId64 "); tolerance is %" PRId64 " s",
                      ts, now - ts, now, tolerance);
    }
    if (ts > now && ts - now > tolerance) {
        return reject(err, reason, CONSTRA_WEBHOOK_FUTURE, param,
                      "signature timestamp %" PRId64 " is %" PRId64
                      " s after now (%" PRId64 "); tolerance is %" PRId64 " s",
                      ts, ts - now, now, tolerance);
    }
    return CONSTRA_OK;
}

/* Reads a header value: non-empty, at most CONSTRA_WEBHOOK_HEADER_MAX. */
static int header_len(const char *h, const char *param, const char *what, size_t *len,
                      int *reason, constra_error *err)
{
    size_t n = constra__strnlen(h, CONSTRA_WEBHOOK_HEADER_MAX + 1);
    if (n == 0) {
        return reject(err, reason, CONSTRA_WEBHOOK_MALFORMED, param, "%s is empty", what);
    }
    if (n > CONSTRA_WEBHOOK_HEADER_MAX) {
        return reject(err, reason, CONSTRA_WEBHOOK_MALFORMED, param,
                      "%s is longer than %d bytes", what, CONSTRA_WEBHOOK_HEADER_MAX);
    }
    *len = n;
    return CONSTRA_OK;
}

/* The webhook-id: 1..CONSTRA_WEBHOOK_ID_MAX printable ASCII bytes, no
 * space, no '.'. Returns 0 with *len, or -1 with a reason text. */
static int check_msg_id(const char *id, size_t *len, const char **why)
{
    size_t n = constra__strnlen(id, CONSTRA_WEBHOOK_ID_MAX + 1);
    if (n == 0) {
        *why = "webhook-id is empty";
        return -1;
    }
    if (n > CONSTRA_WEBHOOK_ID_MAX) {
        *why = "webhook-id is too long";
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        if (c <= 0x20 || c >= 0x7f || c == '.') {
            *why = "webhook-id must be printable ASCII without spaces or '.'";
            return -1;
        }
    }
    *len = n;
    return 0;
}

/* The key: the secret's bytes (t_v1, body_hex) or its base64 decoding
 * (standard_webhooks). `buf` holds a decoded key: key_release() wipes
 * the part used (only that part was written). */
typedef struct wh_key {
    const uint8_t *bytes;
    size_t len;
    uint8_t buf[STD_KEY_MAX];
} wh_key;

static void key_release(wh_key *k)
{
    if (k->bytes == k->buf) {
        constra__wipe(k->buf, k->len);
    }
    k->bytes = NULL;
    k->len = 0;
}

static int load_key(const constra_webhook_params *p, wh_key *k, int *reason, constra_error *err)
{
    k->bytes = NULL;
    k->len = 0;
    if (p->secret == NULL) {
        *reason = CONSTRA_WEBHOOK_INVALID_ARGUMENT;
        return constra__fail_null(err, "secret");
    }
    size_t n = constra__strnlen(p->secret, CONSTRA_WEBHOOK_SECRET_MAX + 1);
    if (n == 0) {
        return secret_invalid(err, reason, "secret is empty");
    }
    if (n > CONSTRA_WEBHOOK_SECRET_MAX) {
        return secret_invalid(err, reason, "secret is longer than %d bytes or not terminated",
                              CONSTRA_WEBHOOK_SECRET_MAX);
    }
    if (p->scheme != CONSTRA_WEBHOOK_STANDARD) {
        k->bytes = (const uint8_t *)p->secret;
        k->len = n;
        return CONSTRA_OK;
    }
    const char *b64 = p->secret;
    size_t b64_len = n;
    if (n >= STD_PREFIX_LEN && memcmp(b64, STD_PREFIX, STD_PREFIX_LEN) == 0) {
        b64 += STD_PREFIX_LEN;
        b64_len -= STD_PREFIX_LEN;
    }
    if (b64_len == 0) {
        return secret_invalid(err, reason, "secret has nothing after its whsec_ prefix");
    }
    long got = constra__base64_decode(b64, b64_len, k->buf, sizeof(k->buf), 0);
    if (got <= 0) {
        constra__wipe(k->buf, sizeof(k->buf)); /* a failed decode may have written some */
        return secret_invalid(err, reason,
                              "a standard_webhooks secret must be whsec_ followed by base64 of "
                              "the key: the standard alphabet (A-Z a-z 0-9 + /), '=' padding "
                              "optional, no whitespace or URL-safe characters, at most %d "
                              "bytes decoded",
                              (int)sizeof(k->buf));
    }
    k->bytes = k->buf;
    k->len = (size_t)got;
    return CONSTRA_OK;
}

/* Checks and copies the caller's params; validates what every scheme
 * needs (scheme, body). */
static int load_params(const constra_webhook_params *in, constra_webhook_params *p,
                       constra_error *err)
{
    int rc = constra__check_struct(in, sizeof(*p), sizeof(*p), "params", err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra__copy_struct(p, sizeof(*p), in);
    if (constra_webhook_scheme_name(p->scheme) == NULL) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "webhook_scheme_unknown",
                             "scheme", "unknown webhook scheme %d", p->scheme);
    }
    if (p->body == NULL && p->body_len > 0) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_missing", "body",
                             "body is NULL but body_len is %zu", p->body_len);
    }
    return CONSTRA_OK;
}

/* MAC over up to three prefix pieces, then the body. */
typedef struct piece {
    const void *data;
    size_t len;
} piece;

static int compute_mac(const wh_key *k, const piece *pieces, size_t npieces,
                       const constra_webhook_params *p, uint8_t mac[MAC_LEN])
{
    constra__hmac_ctx ctx;
    int rc = constra__hmac_sha256_init(&ctx, k->bytes, k->len);
    for (size_t i = 0; rc == CONSTRA_OK && i < npieces; i++) {
        rc = constra__hmac_sha256_update(&ctx, pieces[i].data, pieces[i].len);
    }
    if (rc == CONSTRA_OK) {
        rc = constra__hmac_sha256_update(&ctx, p->body, p->body_len);
    }
    if (rc == CONSTRA_OK) {
        rc = constra__hmac_sha256_final(&ctx, mac);
    }
    return rc;
}

/* 1 when any of the n candidates equals mac; every candidate is compared
 * in full, whatever the outcome of the others. */
static int any_match(const uint8_t (*cands)[MAC_LEN], size_t n, const uint8_t mac[MAC_LEN])
{
    int match = 0;
    for (size_t i = 0; i < n; i++) {
        match |= constra__ct_equal(cands[i], mac, MAC_LEN);
    }
    return match;
}

/* ---- verify ------------------------------------------------------------- */

static int is_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

/* Finds the end of the next `sep`-separated item starting at pos. */
static size_t item_end(const char *s, size_t len, size_t pos, char sep)
{
    const char *e = memchr(s + pos, sep, len - pos);
    return e ? (size_t)(e - s) : len;
}

static int verify_t_v1(const constra_webhook_params *p, const wh_key *k, int64_t tolerance,
                       uint8_t (*cands)[MAC_LEN], int *reason, constra_error *err)
{
    size_t len = 0;
    int rc = header_len(p->signature, "signature", "signature header", &len, reason, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    const char *h = p->signature;
    const char *t_text = NULL;
    size_t t_len = 0;
    int64_t t = 0;
    size_t ncand = 0, unreadable = 0;
    size_t index = 0;
    for (size_t pos = 0;; index++) {
        size_t end = item_end(h, len, pos, ',');
        const char *item = h + pos;
        size_t item_len = end - pos;
        if (item_len == 0) {
            return reject(err, reason, CONSTRA_WEBHOOK_MALFORMED, "signature",
                          "signature header entry %zu is empty", index + 1);
        }
        const char *eq = memchr(item, '=', item_len);
        size_t key_len = eq ? (size_t)(eq - item) : 0;
        if (eq == NULL || key_len == 0) {
            return reject(err, reason, CONSTRA_WEBHOOK_MALFORMED, "signature",
                          "signature header entry %zu is not key=value", index + 1);
        }
        for (size_t i = 0; i < key_len; i++) {
            if (!is_key_char(item[i])) {
                return reject(err, reason, CONSTRA_WEBHOOK_MALFORMED, "signature",
                              "signature header entry %zu has an invalid key", index + 1);
            }
        }
        const char *val = eq + 1;
        size_t val_len = item_len - key_len - 1;
        if (key_len == 1 && item[0] == 't') {
            if (t_text != NULL) {
                return reject(err, reason, CONSTRA_WEBHOOK_MALFORMED, "signature",
                              "signature header has more than one t");
            }
            if (parse_unix(val, val_len, &t) != 0) {
                return reject(err, reason, CONSTRA_WEBHOOK_MALFORMED, "signature",
                              "t must be unix seconds (1 to 19 digits, no sign, no leading "
                              "zero, at most 2^63-1)");
            }
            t_text = val;
            t_len = val_len;
        } else if (key_len == 2 && item[0] == 'v' && item[1] == '1') {
            if (ncand + unreadable == CONSTRA_WEBHOOK_MAX_SIGNATURES) {
                return reject(err, reason, CONSTRA_WEBHOOK_MALFORMED, "signature",
                              "signature header has more than %d v1 entries",
                              CONSTRA_WEBHOOK_MAX_SIGNATURES);
            }
            /* An unreadable candidate is skipped, as the Stripe SDKs do:
             * it can never verify, and another entry may (rotation). */
            if (val_len == MAC_HEX_LEN &&
                constra__hex_decode(val, val_len, cands[ncand], MAC_LEN) == MAC_LEN) {
                ncand++;
            } else {
                unreadable++;
            }
        }
        /* Any other key (v0, future schemes) is ignored. */
        if (end == len) {
            break;
        }
        pos = end + 1;
    }
    if (t_text == NULL) {
        return reject(err, reason, CONSTRA_WEBHOOK_MALFORMED, "signature",
                      "signature header has no t=<timestamp>");
    }
    if (ncand == 0 && unreadable > 0) {
        return reject(err, reason, CONSTRA_WEBHOOK_MALFORMED, "signature",
                      "signature header has no readable v1 signature (%zu not 64 hex digits)",
                      unreadable);
    }
    if (ncand == 0) {
        return reject(err, reason, CONSTRA_WEBHOOK_MALFORMED, "signature",
                      "signature header has no v1 signature (other schemes are ignored)");
    }
    uint8_t mac[MAC_LEN];
    const piece pieces[] = {{t_text, t_len}, {".", 1}};
    rc = compute_mac(k, pieces, CONSTRA__ARRAY_LEN(pieces), p, mac);
    if (rc != CONSTRA_OK) {
        return backend_failed(err, reason, rc);
    }
    int match = any_match((const uint8_t(*)[MAC_LEN])cands, ncand, mac);
    constra__wipe(mac, sizeof(mac));
    if (!match) {
        return reject(err, reason, CONSTRA_WEBHOOK_MISMATCH, "signature",
                      "no v1 signature matches (%zu checked)", ncand);
    }
    return check_window(t, p->now, tolerance, "signature", reason, err);
}

static int verify_body_hex(const constra_webhook_params *p, const wh_key *k,
                           uint8_t (*cands)[MAC_LEN], int *reason, constra_error *err)
{
    size_t len = 0;
    int rc = header_len(p->signature, "signature", "signature", &len, reason, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (len != MAC_HEX_LEN || constra__hex_decode(p->signature, len, cands[0], MAC_LEN) != MAC_LEN) {
        return reject(err, reason, CONSTRA_WEBHOOK_MALFORMED, "signature",
                      "body_hex signature must be %d hex digits", MAC_HEX_LEN);
    }
    uint8_t mac[MAC_LEN];
    rc = compute_mac(k, NULL, 0, p, mac);
    if (rc != CONSTRA_OK) {
        return backend_failed(err, reason, rc);
    }
    int match = any_match((const uint8_t(*)[MAC_LEN])cands, 1, mac);
    constra__wipe(mac, sizeof(mac));
    if (!match) {
        return reject(err, reason, CONSTRA_WEBHOOK_MISMATCH, "signature",
                      "signature does not match");
    }
    return CONSTRA_OK;
}

static int verify_standard(const constra_webhook_params *p, const wh_key *k, int64_t tolerance,
                           uint8_t (*cands)[MAC_LEN], int *reason, constra_error *err)
{
    size_t id_len = 0;
    const char *why = NULL;
    if (check_msg_id(p->msg_id, &id_len, &why) != 0) {
        return reject(err, reason, CONSTRA_WEBHOOK_MALFORMED, "msg_id", "%s", why);
    }
    size_t ts_len = constra__strnlen(p->timestamp_header, UNIX_DIGITS_MAX + 1);
    int64_t ts = 0;
    if (parse_unix(p->timestamp_header, ts_len, &ts) != 0) {
        return reject(err, reason, CONSTRA_WEBHOOK_MALFORMED, "timestamp_header",
                      "webhook-timestamp must be unix seconds (1 to 19 digits, no sign, no "
                      "leading zero, at most 2^63-1)");
    }
    size_t len = 0;
    int rc = header_len(p->signature, "signature", "webhook-signature", &len, reason, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    const char *h = p->signature;
    size_t ncand = 0, unreadable = 0;
    size_t index = 0;
    for (size_t pos = 0; pos < len;) {
        if (h[pos] == ' ') { /* separators: one or more spaces */
            pos++;
            continue;
        }
        size_t end = item_end(h, len, pos, ' ');
        const char *tok = h + pos;
        size_t tok_len = end - pos;
        index++;
        const char *comma = memchr(tok, ',', tok_len);
        size_t ver_len = comma ? (size_t)(comma - tok) : 0;
        if (comma == NULL || ver_len == 0) {
            return reject(err, reason, CONSTRA_WEBHOOK_MALFORMED, "signature",
                          "webhook-signature entry %zu is not <version>,<signature>", index);
        }
        if (ver_len == 2 && tok[0] == 'v' && tok[1] == '1') {
            if (ncand + unreadable == CONSTRA_WEBHOOK_MAX_SIGNATURES) {
                return reject(err, reason, CONSTRA_WEBHOOK_MALFORMED, "signature",
                              "webhook-signature has more than %d v1 entries",
                              CONSTRA_WEBHOOK_MAX_SIGNATURES);
            }
            const char *sig = comma + 1;
            size_t sig_len = tok_len - ver_len - 1;
            /* Unreadable candidates are skipped (the Standard Webhooks
             * libraries do): never enough on their own to verify. */
            if (sig_len == MAC_B64_LEN &&
                constra__base64_decode(sig, sig_len, cands[ncand], MAC_LEN, 1) == MAC_LEN) {
                ncand++;
            } else {
                unreadable++;
            }
        }
        /* Other versions (v1a, v2, ...) are ignored. */
        pos = end;
    }
    if (ncand == 0 && unreadable > 0) {
        return reject(err, reason, CONSTRA_WEBHOOK_MALFORMED, "signature",
                      "webhook-signature has no readable v1 signature (%zu not the base64 of "
                      "32 bytes)",
                      unreadable);
    }
    if (ncand == 0) {
        return reject(err, reason, CONSTRA_WEBHOOK_MALFORMED, "signature",
                      "webhook-signature has no v1 signature (other versions are ignored)");
    }
    uint8_t mac[MAC_LEN];
    const piece pieces[] = {{p->msg_id, id_len}, {".", 1}, {p->timestamp_header, ts_len}, {".", 1}};
    rc = compute_mac(k, pieces, CONSTRA__ARRAY_LEN(pieces), p, mac);
    if (rc != CONSTRA_OK) {
        return backend_failed(err, reason, rc);
    }
    int match = any_match((const uint8_t(*)[MAC_LEN])cands, ncand, mac);
    constra__wipe(mac, sizeof(mac));
    if (!match) {
        return reject(err, reason, CONSTRA_WEBHOOK_MISMATCH, "signature",
                      "no v1 signature matches (%zu checked)", ncand);
    }
    return check_window(ts, p->now, tolerance, "timestamp_header", reason, err);
}

static int verify_args(const constra_webhook_params *p, int64_t *tolerance, constra_error *err)
{
    if (p->signature == NULL) {
        return constra__fail_null(err, "signature");
    }
    if (p->scheme == CONSTRA_WEBHOOK_STANDARD) {
        if (p->msg_id == NULL) {
            return constra__fail_null(err, "msg_id");
        }
        if (p->timestamp_header == NULL) {
            return constra__fail_null(err, "timestamp_header");
        }
    }
    if (p->scheme != CONSTRA_WEBHOOK_BODY_HEX) {
        if (p->now < 0) {
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "now",
                                 "now must be unix seconds >= 0 (got %" PRId64 ")", p->now);
        }
        if (p->tolerance_s < 0) {
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                                 "tolerance_s",
                                 "tolerance_s must be >= 0 (0 = %d s default; got %" PRId64
                                 ")", CONSTRA_WEBHOOK_DEFAULT_TOLERANCE, p->tolerance_s);
        }
        *tolerance = p->tolerance_s == 0 ? CONSTRA_WEBHOOK_DEFAULT_TOLERANCE : p->tolerance_s;
    }
    return CONSTRA_OK;
}

int constra_webhook_verify(const constra_webhook_params *params, int *reason, constra_error *err)
{
    int unused;
    if (reason == NULL) {
        reason = &unused;
    }
    *reason = CONSTRA_WEBHOOK_INVALID_ARGUMENT;
    constra_webhook_params p;
    int rc = load_params(params, &p, err);
    int64_t tolerance = 0;
    if (rc == CONSTRA_OK) {
        rc = verify_args(&p, &tolerance, err);
    }
    if (rc != CONSTRA_OK) {
        return rc;
    }
    wh_key key;
    rc = load_key(&p, &key, reason, err);
    if (rc == CONSTRA_OK) {
        uint8_t cands[CONSTRA_WEBHOOK_MAX_SIGNATURES][MAC_LEN];
        switch (p.scheme) {
        case CONSTRA_WEBHOOK_T_V1:
            rc = verify_t_v1(&p, &key, tolerance, cands, reason, err);
            break;
        case CONSTRA_WEBHOOK_BODY_HEX:
            rc = verify_body_hex(&p, &key, cands, reason, err);
            break;
        default:
            rc = verify_standard(&p, &key, tolerance, cands, reason, err);
            break;
        }
        if (rc == CONSTRA_OK) {
            *reason = CONSTRA_WEBHOOK_OK;
        }
    }
    key_release(&key);
    return rc;
}

/* ---- sign --------------------------------------------------------------- */

static int sign_with_key(const constra_webhook_params *p, const wh_key *k, char *out,
                         size_t out_size, int *reason, constra_error *err)
{
    char ts[UNIX_DIGITS_MAX + 2];
    size_t ts_len = 0;
    size_t id_len = 0;
    size_t need = 0;
    if (p->scheme != CONSTRA_WEBHOOK_BODY_HEX) {
        if (p->timestamp < 0) {
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                                 "timestamp", "timestamp must be unix seconds >= 0 (got %" PRId64
                                 ")", p->timestamp);
        }
        ts_len = format_unix(p->timestamp, ts, sizeof(ts));
    }
    switch (p->scheme) {
    case CONSTRA_WEBHOOK_T_V1:
        need = 2 + ts_len + 4 + MAC_HEX_LEN + 1; /* t=<ts>,v1=<hex> */
        break;
    case CONSTRA_WEBHOOK_BODY_HEX:
        need = MAC_HEX_LEN + 1;
        break;
    default: {
        if (p->msg_id == NULL) {
            return constra__fail_null(err, "msg_id");
        }
        const char *why = NULL;
        if (check_msg_id(p->msg_id, &id_len, &why) != 0) {
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "msg_id",
                                 "%s", why);
        }
        need = 3 + MAC_B64_LEN + 1; /* v1,<base64> */
        break;
    }
    }
    if (out_size < need) {
        return constra__fail(err, CONSTRA_E_BUFFER_TOO_SMALL, NULL, "out",
                             "out needs %zu bytes (NUL included), got %zu", need, out_size);
    }
    uint8_t mac[MAC_LEN];
    int rc;
    if (p->scheme == CONSTRA_WEBHOOK_T_V1) {
        const piece pieces[] = {{ts, ts_len}, {".", 1}};
        rc = compute_mac(k, pieces, CONSTRA__ARRAY_LEN(pieces), p, mac);
    } else if (p->scheme == CONSTRA_WEBHOOK_BODY_HEX) {
        rc = compute_mac(k, NULL, 0, p, mac);
    } else {
        const piece pieces[] = {{p->msg_id, id_len}, {".", 1}, {ts, ts_len}, {".", 1}};
        rc = compute_mac(k, pieces, CONSTRA__ARRAY_LEN(pieces), p, mac);
    }
    if (rc != CONSTRA_OK) {
        return backend_failed(err, reason, rc);
    }
    size_t o = 0;
    if (p->scheme == CONSTRA_WEBHOOK_T_V1) {
        memcpy(out, "t=", 2);
        memcpy(out + 2, ts, ts_len);
        memcpy(out + 2 + ts_len, ",v1=", 4);
        o = 2 + ts_len + 4;
        constra__hex_encode(mac, MAC_LEN, out + o, out_size - o);
    } else if (p->scheme == CONSTRA_WEBHOOK_BODY_HEX) {
        constra__hex_encode(mac, MAC_LEN, out, out_size);
    } else {
        memcpy(out, "v1,", 3);
        constra__base64_encode(mac, MAC_LEN, out + 3, out_size - 3);
    }
    constra__wipe(mac, sizeof(mac));
    return CONSTRA_OK;
}

int constra_webhook_sign(const constra_webhook_params *params, char *out, size_t out_size,
                         constra_error *err)
{
    constra_webhook_params p;
    int rc = load_params(params, &p, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (out == NULL) {
        return constra__fail_null(err, "out");
    }
    int reason = CONSTRA_WEBHOOK_INVALID_ARGUMENT;
    wh_key key;
    rc = load_key(&p, &key, &reason, err);
    if (rc == CONSTRA_OK) {
        rc = sign_with_key(&p, &key, out, out_size, &reason, err);
    }
    key_release(&key);
    return rc;
}
