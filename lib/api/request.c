/*
 * What the REST routes read from a request besides its JSON body
 * (body.c): header values and query strings (request.h).
 */
#include <stdio.h>
#include <string.h>

#include "api/request.h"
#include "util/ascii.h"
#include "util/check.h"

/* ---- request headers ----------------------------------------------------------- */

int constra__api_find_header(const constra__api_ctx *c, const char *name, char *out,
                             size_t out_size)
{
    const constra_api_request *q = c->req;
    size_t name_len = strlen(name);
    int found = 0;
    for (size_t i = 0; i < q->header_count; i++) {
        if (!constra__ascii_ieq_n(q->headers[i].name, name, name_len)) {
            continue;
        }
        if (found) {
            return -1;
        }
        found = 1;
        const char *v = q->headers[i].value;
        size_t n = constra__strnlen(v, CONSTRA__API_HEADER_VALUE_MAX + 1);
        while (n > 0 && constra__api_is_ows(v[0])) {
            v++;
            n--;
        }
        while (n > 0 && constra__api_is_ows(v[n - 1])) {
            n--;
        }
        if (n >= out_size) {
            n = out_size - 1;
        }
        memcpy(out, v, n);
        out[n] = '\0';
    }
    return found;
}

/* ---- query strings ------------------------------------------------------------ */

/* Form decoding ('+' is a space, %XX). 0 ok; -1 bad escape; -2 too long;
 * -3 a NUL. */
static int form_decode(const char *s, size_t n, char *out, size_t out_size)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int ch = (unsigned char)s[i];
        if (ch == '+') {
            ch = ' ';
        } else if (ch == '%') {
            if (i + 2 >= n) {
                return -1;
            }
            int hi = constra__ascii_hex_value((unsigned char)s[i + 1]),
                lo = constra__ascii_hex_value((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0) {
                return -1;
            }
            ch = hi * 16 + lo;
            i += 2;
        }
        if (ch == 0) {
            return -3;
        }
        if (o + 1 >= out_size) {
            return -2;
        }
        out[o++] = (char)ch;
    }
    out[o] = '\0';
    return 0;
}

int constra__api_query_limit(const char *value, const char *name, size_t *out, constra_error *e)
{
    size_t n = strlen(value), v = 0;
    int ok = n <= 3;
    for (size_t i = 0; ok && i < n; i++) {
        ok = value[i] >= '0' && value[i] <= '9';
        v = v * 10 + (size_t)(value[i] - '0');
    }
    if (!ok || v < 1 || v > 100) {
        return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", name,
                             "limit must be a whole number from 1 to 100");
    }
    *out = v;
    return CONSTRA_OK;
}

int constra__api_query_parse(const constra__api_ctx *c, const constra__api_qname *names,
                             constra__api_qparam_fn fn, void *ctx, constra_error *e)
{
    const char *s = c->query;
    size_t n = c->query ? c->query_len : 0;
    unsigned seen = 0; /* a bit per slot (slots are < 32) */
    size_t i = 0;
    while (i < n) {
        const char *amp = memchr(s + i, '&', n - i);
        size_t end = amp ? (size_t)(amp - s) : n;
        if (end > i) {
            const char *eq = memchr(s + i, '=', end - i);
            size_t klen = eq ? (size_t)(eq - (s + i)) : end - i;
            char name[48], value[256];
            int kr = form_decode(s + i, klen, name, sizeof(name));
            if (kr != 0) {
                snprintf(name, sizeof(name), "%.*s", (int)(klen < 40 ? klen : 40), s + i);
                return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT,
                                     kr == -1 ? "parameter_invalid" : "parameter_unknown", name,
                                     "query parameter name cannot be read");
            }
            int slot = -1;
            for (size_t k = 0; names[k].name != NULL; k++) {
                if (strcmp(names[k].name, name) == 0) {
                    slot = names[k].slot;
                    break;
                }
            }
            if (slot < 0 || slot >= 32) {
                return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "parameter_unknown", name,
                                     "unknown query parameter %s", name);
            }
            if (seen & (1u << slot)) {
                return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "parameter_duplicate", name,
                                     "%s is given more than once (or with its alias)", name);
            }
            seen |= 1u << slot;
            const char *v = eq ? eq + 1 : s + end;
            size_t vlen = eq ? (size_t)(s + end - v) : 0;
            int vr = form_decode(v, vlen, value, sizeof(value));
            if (vr != 0) {
                return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", name,
                                     "%s %s", name,
                                     vr == -2   ? "is too long"
                                     : vr == -3 ? "must not contain NUL"
                                                : "has a bad %-escape");
            }
            if (value[0] == '\0') {
                return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", name,
                                     "%s must not be empty", name);
            }
            int rc = fn(ctx, slot, name, value, e);
            if (rc != CONSTRA_OK) {
                return rc;
            }
        }
        i = end + 1;
    }
    return CONSTRA_OK;
}
