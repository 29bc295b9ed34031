#include "util/ids.h"

#include <string.h>

#include "util/check.h"

/* Crockford's base32, lower case; ascending in ASCII, so the encoding
 * preserves numeric order. */
static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";

#define TIME_CHARS 10
#define RAND_CHARS 16
#define MS_MAX ((INT64_C(1) << 48) - 1)

static int decode_char(char c)
{
    const char *p = (c != '\0') ? strchr(alphabet, c) : NULL;
    return p ? (int)(p - alphabet) : -1;
}

int constra__id_check_prefix(const char *prefix, size_t *len_out, constra_error *err)
{
    size_t len;
    int rc = constra__check_str(prefix, CONSTRA_ID_PREFIX_MAX, 0, "prefix", &len, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    for (size_t i = 0; i < len; i++) {
        if (prefix[i] < 'a' || prefix[i] > 'z') {
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "prefix",
                                 "prefix must be lower-case ASCII letters");
        }
    }
    *len_out = len;
    return CONSTRA_OK;
}

/* Increments a big-endian 80-bit number; returns 1 on wrap-around. */
static int increment80(uint8_t *r)
{
    for (int i = CONSTRA__ID_RAND_BYTES - 1; i >= 0; i--) {
        if (++r[i] != 0) {
            return 0;
        }
    }
    return 1;
}

int constra__id_next(constra__idgen *g, int64_t now_ms, const uint8_t *fresh,
                     const char *prefix, char *out, size_t out_size, constra_error *err)
{
    size_t plen = 0;
    int rc = constra__id_check_prefix(prefix, &plen, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (out == NULL) {
        return constra__fail_null(err, "out");
    }
    size_t need = plen + 1 + CONSTRA_ID_BODY_LEN + 1;
    if (out_size < need) {
        return constra__fail(err, CONSTRA_E_BUFFER_TOO_SMALL, NULL, "out",
                             "out needs %zu bytes, got %zu", need, out_size);
    }

    int64_t ms = now_ms < 0 ? 0 : (now_ms > MS_MAX ? MS_MAX : now_ms);
    uint8_t rand[CONSTRA__ID_RAND_BYTES];
    if (g->have_last && ms <= g->last_ms) {
        ms = g->last_ms;
        memcpy(rand, g->last_rand, sizeof(rand));
        if (increment80(rand)) {
            /* 2^80 ids in one millisecond cannot happen; if the random
             * part wraps anyway, move to the next millisecond. */
            if (ms == MS_MAX) {
                return constra__fail(err, CONSTRA_E_OVERFLOW, NULL, NULL, "id space exhausted");
            }
            ms++;
            memcpy(rand, fresh, sizeof(rand));
        }
    } else {
        memcpy(rand, fresh, sizeof(rand));
    }

    memcpy(out, prefix, plen);
    char *body = out + plen;
    *body++ = '_';
    uint64_t t = (uint64_t)ms;
    for (int i = TIME_CHARS - 1; i >= 0; i--) {
        body[i] = alphabet[t & 31];
        t >>= 5;
    }
    /* 80 bits = 16 groups of 5, most significant first. */
    for (int i = 0; i < RAND_CHARS; i++) {
        int bit = i * 5;
        int byte = bit / 8;
        int shift = bit % 8;
        unsigned v = (unsigned)rand[byte] << 8;
        if (byte + 1 < CONSTRA__ID_RAND_BYTES) {
            v |= rand[byte + 1];
        }
        body[TIME_CHARS + i] = alphabet[(v >> (11 - shift)) & 31];
    }
    body[CONSTRA_ID_BODY_LEN] = '\0';

    g->last_ms = ms;
    memcpy(g->last_rand, rand, sizeof(rand));
    g->have_last = 1;
    return CONSTRA_OK;
}

int constra_id_parse(const char *id, const char *prefix, int64_t *out_ms, constra_error *err)
{
    size_t len;
    int rc = constra__check_str(id, CONSTRA_ID_SIZE - 1, 0, "id", &len, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    const char *us = memchr(id, '_', len);
    size_t plen = us ? (size_t)(us - id) : 0;
    if (us == NULL || plen == 0 || plen > CONSTRA_ID_PREFIX_MAX ||
        len != plen + 1 + CONSTRA_ID_BODY_LEN) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "id",
                             "id must look like <prefix>_<%d characters>", CONSTRA_ID_BODY_LEN);
    }
    for (size_t i = 0; i < plen; i++) {
        if (id[i] < 'a' || id[i] > 'z') {
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "id",
                                 "id prefix must be lower-case letters");
        }
    }
    if (prefix != NULL) {
        size_t want = 0;
        rc = constra__id_check_prefix(prefix, &want, err);
        if (rc != CONSTRA_OK) {
            return rc;
        }
        if (want != plen || memcmp(prefix, id, plen) != 0) {
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "id",
                                 "id does not start with %s_", prefix);
        }
    }
    const char *body = us + 1;
    uint64_t ms = 0;
    for (int i = 0; i < CONSTRA_ID_BODY_LEN; i++) {
        int v = decode_char(body[i]);
        if (v < 0 || (i == 0 && v > 7)) { /* 10 chars carry 48 bits: first < 8 */
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "id",
                                 "id has an invalid character at position %zu",
                                 plen + 1 + (size_t)i);
        }
        if (i < TIME_CHARS) {
            ms = (ms << 5) | (uint64_t)v;
        }
    }
    if (out_ms) {
        *out_ms = (int64_t)ms;
    }
    return CONSTRA_OK;
}

int constra__id_check_opaque(const char *id, const char *param, constra_error *err)
{
    size_t len = 0;
    int rc = constra__check_str(id, CONSTRA_ID_SIZE - 1, 0, param, &len, err);
    if (rc != CONSTRA_OK && id == NULL) {
        return rc; /* missing, not malformed */
    }
    int ok = rc == CONSTRA_OK && len > 0;
    for (size_t i = 0; ok && i < len; i++) {
        char c = id[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '-';
    }
    if (!ok) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", param,
                             "%s must be 1 to %d characters of A-Z a-z 0-9 _ -", param,
                             CONSTRA_ID_SIZE - 1);
    }
    return CONSTRA_OK;
}
