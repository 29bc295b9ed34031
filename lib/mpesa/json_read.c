/*
 * Strict typed reads from cJSON for the Daraja parsers (see json_read.h).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/intfmt.h"
#include "mpesa/json_read.h"
#include "util/check.h"
#include "util/ascii.h"

static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int constra__jr_fail(constra__jr *jr, const char *code, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = constra__failv(jr->err, CONSTRA_E_PARSE, code, path, fmt, ap);
    va_end(ap);
    return rc;
}

static int fail_malformed(constra__jr *jr, size_t offset, const char *why)
{
    char code[32];
    snprintf(code, sizeof(code), "%s_malformed", jr->kind);
    return constra__fail(jr->err, CONSTRA_E_PARSE, code, "body", "%s body is not valid JSON: %s "
                         "(at byte %zu)", jr->kind, why, offset);
}

/* Length of the JSON number token at t[i..n) per RFC 8259, or 0 if the
 * text there is not one. */
static size_t number_token(const char *t, size_t n, size_t i)
{
    size_t j = i;
    if (j < n && t[j] == '-') {
        j++;
    }
    if (j >= n || !constra__ascii_is_digit((unsigned char)t[j])) {
        return 0;
    }
    if (t[j] == '0') {
        j++;
    } else {
        while (j < n && constra__ascii_is_digit((unsigned char)t[j])) {
            j++;
        }
    }
    if (j < n && t[j] == '.') {
        j++;
        if (j >= n || !constra__ascii_is_digit((unsigned char)t[j])) {
            return 0;
        }
        while (j < n && constra__ascii_is_digit((unsigned char)t[j])) {
            j++;
        }
    }
    if (j < n && (t[j] == 'e' || t[j] == 'E')) {
        j++;
        if (j < n && (t[j] == '+' || t[j] == '-')) {
            j++;
        }
        if (j >= n || !constra__ascii_is_digit((unsigned char)t[j])) {
            return 0;
        }
        while (j < n && constra__ascii_is_digit((unsigned char)t[j])) {
            j++;
        }
    }
    return j - i;
}

/* The value of the 4 hex digits at s. */
static unsigned hex4(const char *s)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned char c = (unsigned char)s[k];
        v = v * 16u + (unsigned)(constra__ascii_is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

/* Length of the \u escape at t[i] (already known to be six well-formed
 * characters) with its pair: 6, or 12 for a high surrogate followed by a
 * \u low surrogate; 0 for an unpaired surrogate (cJSON refuses those). */
static size_t unicode_escape(const char *t, size_t n, size_t i)
{
    unsigned u = hex4(t + i + 2);
    if (u >= 0xDC00 && u <= 0xDFFF) {
        return 0;
    }
    if (u >= 0xD800 && u <= 0xDBFF) {
        if (i + 11 >= n || t[i + 6] != '\\' || t[i + 7] != 'u') {
            return 0;
        }
        for (size_t k = 8; k < 12; k++) {
            if (!constra__ascii_is_hex((unsigned char)t[i + k])) {
                return 0;
            }
        }
        unsigned lo = hex4(t + i + 8);
        return lo >= 0xDC00 && lo <= 0xDFFF ? 12 : 0;
    }
    return 6;
}

/* Skips the string starting at t[i] == '"'. Returns the index after the
 * closing quote, or 0 with *why set. */
static size_t skip_string(const char *t, size_t n, size_t i, const char **why, size_t *where)
{
    i++;
    while (i < n) {
        unsigned char c = (unsigned char)t[i];
        if (c == '"') {
            return i + 1;
        }
        if (c < 0x20) {
            *why = c == 0 ? "NUL byte in a string" : "raw control character in a string";
            *where = i;
            return 0;
        }
        if (c == '\\') {
            if (i + 1 >= n) {
                break;
            }
            switch (t[i + 1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                i += 2;
                break;
            case 'u': {
                if (i + 5 >= n) {
                    *why = "truncated \\u escape";
                    *where = i;
                    return 0;
                }
                for (size_t k = 2; k < 6; k++) {
                    if (!constra__ascii_is_hex((unsigned char)t[i + k])) {
                        *why = "bad \\u escape";
                        *where = i;
                        return 0;
                    }
                }
                if (memcmp(t + i + 2, "0000", 4) == 0) {
                    *why = "\\u0000 escape in a string";
                    *where = i;
                    return 0;
                }
                size_t esc = unicode_escape(t, n, i);
                if (esc == 0) {
                    *why = "unpaired UTF-16 surrogate escape";
                    *where = i;
                    return 0;
                }
                i += esc;
                break;
            }
            default:
                *why = "bad escape in a string";
                *where = i;
                return 0;
            }
            continue;
        }
        i++;
    }
    *why = "unterminated string";
    *where = n;
    return 0;
}

/* Longest number token accepted: cJSON copies at most 63 characters of a
 * number and would fail on a longer one. */
#define NUMBER_MAX 63

/* The full pre-check, so that cJSON only ever sees text it accepts (its
 * failure path writes a process-wide error record): strict RFC 8259
 * grammar, clean strings, nesting within max_depth. */
static int scan(const char *t, size_t n, int max_depth, const char **why, size_t *where)
{
    enum { S_VALUE, S_VALUE_OR_CLOSE, S_KEY, S_KEY_OR_CLOSE, S_COLON, S_AFTER, S_END };
    char stack[64];
    int depth = 0, st = S_VALUE;
    size_t i = 0;
    if (max_depth > (int)sizeof(stack)) {
        max_depth = (int)sizeof(stack);
    }
    while (i < n) {
        unsigned char c = (unsigned char)t[i];
        *where = i;
        if (is_ws(c)) {
            i++;
            continue;
        }
        switch (st) {
        case S_END:
            *why = "data after the JSON value";
            return -1;
        case S_COLON:
            if (c != ':') {
                *why = "expected ':'";
                return -1;
            }
            i++;
            st = S_VALUE;
            continue;
        case S_KEY:
        case S_KEY_OR_CLOSE:
            if (c == '"') {
                size_t next = skip_string(t, n, i, why, where);
                if (next == 0) {
                    return -1;
                }
                i = next;
                st = S_COLON;
                continue;
            }
            if (c == '}' && st == S_KEY_OR_CLOSE) {
                break; /* close below */
            }
            *why = "expected a string key";
            return -1;
        case S_AFTER:
            if (c == ',') {
                i++;
                st = stack[depth - 1] == '{' ? S_KEY : S_VALUE;
                continue;
            }
            if ((c == '}' && stack[depth - 1] == '{') || (c == ']' && stack[depth - 1] == '[')) {
                break; /* close below */
            }
            *why = "expected ',' or the closing bracket";
            return -1;
        default: /* S_VALUE, S_VALUE_OR_CLOSE */
            if (c == ']' && st == S_VALUE_OR_CLOSE) {
                break; /* close below */
            }
            if (c == '{' || c == '[') {
                if (depth >= max_depth) {
                    *why = "nested too deeply";
                    return -1;
                }
                stack[depth++] = (char)c;
                st = c == '{' ? S_KEY_OR_CLOSE : S_VALUE_OR_CLOSE;
                i++;
                continue;
            }
            if (c == '"') {
                size_t next = skip_string(t, n, i, why, where);
                if (next == 0) {
                    return -1;
                }
                i = next;
            } else if (c == '-' || constra__ascii_is_digit(c)) {
                size_t k = number_token(t, n, i);
                if (k == 0 || (i + k < n && (constra__ascii_is_digit((unsigned char)t[i + k]) ||
                                             t[i + k] == '.' || t[i + k] == 'e' ||
                                             t[i + k] == 'E' || t[i + k] == '+' ||
                                             t[i + k] == '-'))) {
                    *why = "number outside the JSON grammar";
                    return -1;
                }
                if (k > NUMBER_MAX) {
                    *why = "number longer than 63 characters";
                    return -1;
                }
                i += k;
            } else if (c == 't' && n - i >= 4 && memcmp(t + i, "true", 4) == 0) {
                i += 4;
            } else if (c == 'f' && n - i >= 5 && memcmp(t + i, "false", 5) == 0) {
                i += 5;
            } else if (c == 'n' && n - i >= 4 && memcmp(t + i, "null", 4) == 0) {
                i += 4;
            } else {
                *why = c == 0 ? "NUL byte" : "expected a value";
                return -1;
            }
            st = depth == 0 ? S_END : S_AFTER;
            continue;
        }
        /* A closing bracket that matches the innermost container. */
        depth--;
        i++;
        st = depth == 0 ? S_END : S_AFTER;
    }
    if (st != S_END) {
        *why = "truncated";
        *where = n;
        return -1;
    }
    return 0;
}

int constra__jr_parse(constra__jr *jr, const char *body, size_t len, size_t max_len,
                      int max_depth, const char *kind, constra_error *err)
{
    memset(jr, 0, sizeof(*jr));
    jr->kind = kind;
    jr->err = err;
    if (len == 0) {
        return constra__fail(err, CONSTRA_E_PARSE, "body_empty", "body", "the %s body is empty",
                             kind);
    }
    if (len > max_len) {
        return constra__fail(err, CONSTRA_E_PARSE, "body_too_large", "body",
                             "the %s body is %zu bytes; the limit is %zu", kind, len, max_len);
    }
    /* A UTF-8 byte order mark is tolerated (RFC 8259 section 8.1). */
    size_t base = 0;
    if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0) {
        base = 3;
    }
    jr->text = body + base;
    jr->len = len - base;
    const char *why = NULL;
    size_t where = 0;
    if (scan(jr->text, jr->len, max_depth, &why, &where) != 0) {
        return fail_malformed(jr, where + base, why);
    }
    const char *end = NULL;
    jr->root = cJSON_ParseWithLengthOpts(jr->text, jr->len, &end, 0);
    if (jr->root == NULL) {
        /* The text passed the strict scan, which accepts only what cJSON
         * accepts: its failure is an allocation failure. */
        return constra__fail(err, CONSTRA_E_NOMEM, NULL, "body",
                             "out of memory while parsing the %s body", kind);
    }
    if (end == NULL || end < jr->text || end > jr->text + jr->len) {
        constra__jr_free(jr);
        return fail_malformed(jr, 0, "parser end out of range");
    }
    for (const char *p = end; p < jr->text + jr->len; p++) {
        if (!is_ws((unsigned char)*p)) {
            size_t off = (size_t)(p - jr->text) + base;
            constra__jr_free(jr);
            return fail_malformed(jr, off, "data after the JSON value");
        }
    }
    if (!cJSON_IsObject(jr->root)) {
        constra__jr_free(jr);
        return fail_malformed(jr, 0, "the top level is not an object");
    }
    return CONSTRA_OK;
}

void constra__jr_free(constra__jr *jr)
{
    if (jr->root) {
        cJSON_Delete(jr->root);
        jr->root = NULL;
    }
}

void constra__jr_path(char *out, size_t out_size, const char *parent, const char *key)
{
    if (parent == NULL || parent[0] == '\0') {
        snprintf(out, out_size, "%s", key);
    } else {
        snprintf(out, out_size, "%s.%s", parent, key);
    }
}

void constra__jr_path_index(char *out, size_t out_size, const char *parent, size_t index)
{
    snprintf(out, out_size, "%s[%zu]", parent, index);
}

int constra__jr_member(constra__jr *jr, const cJSON *obj, const char *parent, const char *key,
                       const cJSON **item, char *path, size_t path_size)
{
    constra__jr_path(path, path_size, parent, key);
    *item = NULL;
    const cJSON *found = NULL;
    size_t count = 0;
    for (const cJSON *c = obj ? obj->child : NULL; c != NULL; c = c->next) {
        if (c->string != NULL && strcmp(c->string, key) == 0) {
            if (found == NULL) {
                found = c;
            }
            count++;
        }
    }
    if (count > 1) {
        return constra__jr_fail(jr, "field_duplicate", path,
                                "%s appears %zu times in its object", path, count);
    }
    if (found != NULL && !cJSON_IsNull(found)) {
        *item = found;
    }
    return CONSTRA_OK;
}

static int container(constra__jr *jr, const cJSON *obj, const char *parent, const char *key,
                     int flags, const cJSON **out, int want_object)
{
    char path[CONSTRA__JR_PATH_SIZE];
    const cJSON *item;
    *out = NULL;
    int rc = constra__jr_member(jr, obj, parent, key, &item, path, sizeof(path));
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (item == NULL) {
        if (flags & CONSTRA__JR_REQUIRED) {
            return constra__jr_fail(jr, "field_missing", path, "%s is required", path);
        }
        return CONSTRA_OK;
    }
    if (want_object ? !cJSON_IsObject(item) : !cJSON_IsArray(item)) {
        return constra__jr_fail(jr, "field_invalid", path, "%s must be an %s", path,
                                want_object ? "object" : "array");
    }
    *out = item;
    return CONSTRA_OK;
}

int constra__jr_object(constra__jr *jr, const cJSON *obj, const char *parent, const char *key,
                       int flags, const cJSON **out)
{
    return container(jr, obj, parent, key, flags, out, 1);
}

int constra__jr_array(constra__jr *jr, const cJSON *obj, const char *parent, const char *key,
                      int flags, const cJSON **out)
{
    return container(jr, obj, parent, key, flags, out, 0);
}

/* Depth-first, document-order index of `target` among the number nodes
 * before it. Recursion depth is bounded by the scan's depth limit. */
static int preorder_numbers(const cJSON *node, const cJSON *target, size_t *count)
{
    if (node == target) {
        return 1;
    }
    if (cJSON_IsNumber(node)) {
        (*count)++;
    }
    for (const cJSON *c = node->child; c != NULL; c = c->next) {
        if (preorder_numbers(c, target, count)) {
            return 1;
        }
    }
    return 0;
}

/* The text of number node `item`, found in the body. */
static int number_text(constra__jr *jr, const cJSON *item, const char **p, size_t *n)
{
    size_t k = 0;
    if (!preorder_numbers(jr->root, item, &k)) {
        return -1;
    }
    const char *t = jr->text;
    size_t len = jr->len, i = 0, seen = 0;
    while (i < len) {
        unsigned char c = (unsigned char)t[i];
        if (c == '"') {
            const char *why;
            size_t where;
            size_t next = skip_string(t, len, i, &why, &where);
            if (next == 0) {
                return -1;
            }
            i = next;
        } else if (c == '-' || constra__ascii_is_digit(c)) {
            size_t tok = number_token(t, len, i);
            if (tok == 0) {
                return -1;
            }
            if (seen == k) {
                *p = t + i;
                *n = tok;
                return 0;
            }
            seen++;
            i += tok;
        } else {
            i++;
        }
    }
    return -1;
}

int constra__jr_decimal(const char *s, size_t n, int scale, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    if (i < n && s[i] == '-') {
        neg = 1;
        i++;
    }
    size_t int_start = i;
    if (i >= n || !constra__ascii_is_digit((unsigned char)s[i])) {
        return -1;
    }
    if (s[i] == '0') {
        i++;
    } else {
        while (i < n && constra__ascii_is_digit((unsigned char)s[i])) {
            i++;
        }
    }
    size_t int_len = i - int_start;
    size_t frac_start = i, frac_len = 0;
    if (i < n && s[i] == '.') {
        i++;
        frac_start = i;
        if (i >= n || !constra__ascii_is_digit((unsigned char)s[i])) {
            return -1;
        }
        while (i < n && constra__ascii_is_digit((unsigned char)s[i])) {
            i++;
        }
        frac_len = i - frac_start;
    }
    long exp = 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        int eneg = 0;
        if (i < n && (s[i] == '+' || s[i] == '-')) {
            eneg = s[i] == '-';
            i++;
        }
        if (i >= n || !constra__ascii_is_digit((unsigned char)s[i])) {
            return -1;
        }
        while (i < n && constra__ascii_is_digit((unsigned char)s[i])) {
            if (exp < 1000000) {
                exp = exp * 10 + (s[i] - '0');
            }
            i++;
        }
        if (eneg) {
            exp = -exp;
        }
    }
    if (i != n || scale < 0 || scale > 18) {
        return -1;
    }
    /* The digits d[0..nd) with the decimal point after `point` of them,
     * once multiplied by 10^(exp + scale). */
    size_t nd = int_len + frac_len;
    long point = (long)int_len + exp + scale;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    uint64_t acc = 0;
    for (size_t idx = 0; idx < nd; idx++) {
        unsigned v = (unsigned)((idx < int_len ? s[int_start + idx]
                                               : s[frac_start + idx - int_len]) - '0');
        if ((long)idx < point) {
            if (acc > (limit - v) / 10u) {
                return -3;
            }
            acc = acc * 10u + v;
        } else if (v != 0) {
            return -2;
        }
    }
    if (acc != 0) {
        for (long k = (long)nd; k < point; k++) {
            if (acc > limit / 10u) {
                return -3;
            }
            acc *= 10u;
        }
    }
    if (neg) {
        *out = acc == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)acc;
    } else {
        *out = (int64_t)acc;
    }
    return 0;
}

static int utf8_clean(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f) {
                return 0;
            }
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1Fu;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0Fu;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07u;
        } else {
            return 0;
        }
        if (n - i < len) {
            return 0;
        }
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0x80 && cp <= 0x9F)) {
            return 0;
        }
        i += len;
    }
    return 1;
}

static int chars_ok(const char *s, size_t n, int flags)
{
    if (flags & CONSTRA__JR_DIGITS) {
        for (size_t i = 0; i < n; i++) {
            if (!constra__ascii_is_digit((unsigned char)s[i])) {
                return 0;
            }
        }
        return 1;
    }
    if (flags & CONSTRA__JR_ID) {
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c < 0x21 || c > 0x7e) {
                return 0;
            }
        }
        return 1;
    }
    return utf8_clean((const unsigned char *)s, n);
}

static const char *class_name(int flags)
{
    if (flags & CONSTRA__JR_DIGITS) {
        return "digits only";
    }
    if (flags & CONSTRA__JR_ID) {
        return "printable ASCII without spaces";
    }
    return "UTF-8 text without control characters";
}

static int absent(constra__jr *jr, const char *path, int flags, int *present)
{
    if (present) {
        *present = 0;
    }
    if (flags & CONSTRA__JR_REQUIRED) {
        return constra__jr_fail(jr, "field_missing", path, "%s is required", path);
    }
    return CONSTRA_OK;
}

int constra__jr_value_text(constra__jr *jr, const cJSON *item, const char *path, int flags,
                           char *out, size_t out_size, int *present)
{
    out[0] = '\0';
    if (item == NULL) {
        return absent(jr, path, flags, present);
    }
    const char *s;
    size_t n;
    if (cJSON_IsString(item) && item->valuestring != NULL) {
        s = item->valuestring;
        n = strlen(s);
        if (!chars_ok(s, n, flags)) {
            return constra__jr_fail(jr, "field_invalid", path, "%s must be %s", path,
                                    class_name(flags));
        }
    } else if (cJSON_IsNumber(item) && (flags & CONSTRA__JR_NUMBER_OK)) {
        if (number_text(jr, item, &s, &n) != 0) {
            return constra__jr_fail(jr, "field_invalid", path, "%s: number not found", path);
        }
        for (size_t i = 0; i < n; i++) {
            if (!constra__ascii_is_digit((unsigned char)s[i])) {
                return constra__jr_fail(jr, "field_invalid", path,
                                        "%s must be a whole non-negative number written in "
                                        "plain digits", path);
            }
        }
    } else {
        return constra__jr_fail(jr, "field_invalid", path, "%s must be a string%s", path,
                                (flags & CONSTRA__JR_NUMBER_OK) ? " or a number" : "");
    }
    if (n == 0 && (flags & CONSTRA__JR_NONEMPTY)) {
        return constra__jr_fail(jr, "field_invalid", path, "%s must not be empty", path);
    }
    if (n >= out_size) {
        return constra__jr_fail(jr, "field_too_long", path, "%s is %zu bytes; at most %zu fit",
                                path, n, out_size - 1);
    }
    memcpy(out, s, n);
    out[n] = '\0';
    if (present) {
        *present = 1;
    }
    return CONSTRA_OK;
}

int constra__jr_text(constra__jr *jr, const cJSON *obj, const char *parent, const char *key,
                     int flags, char *out, size_t out_size, int *present)
{
    char path[CONSTRA__JR_PATH_SIZE];
    const cJSON *item;
    out[0] = '\0';
    int rc = constra__jr_member(jr, obj, parent, key, &item, path, sizeof(path));
    if (rc != CONSTRA_OK) {
        return rc;
    }
    return constra__jr_value_text(jr, item, path, flags, out, out_size, present);
}

int constra__jr_value_int(constra__jr *jr, const cJSON *item, const char *path, int flags,
                          int scale, int64_t min, int64_t max, int64_t *out, int *present)
{
    *out = 0;
    if (item == NULL) {
        return absent(jr, path, flags, present);
    }
    const char *s;
    size_t n;
    if (cJSON_IsNumber(item)) {
        if (number_text(jr, item, &s, &n) != 0) {
            return constra__jr_fail(jr, "field_invalid", path, "%s: number not found", path);
        }
    } else if (cJSON_IsString(item) && item->valuestring != NULL &&
               (flags & CONSTRA__JR_STRING_OK)) {
        s = item->valuestring;
        n = strlen(s);
        if (n == 0 && (flags & CONSTRA__JR_EMPTY_ABSENT)) {
            return absent(jr, path, flags, present);
        }
    } else {
        return constra__jr_fail(jr, "field_invalid", path, "%s must be a number%s", path,
                                (flags & CONSTRA__JR_STRING_OK) ? " or a numeric string" : "");
    }
    int64_t v = 0;
    switch (constra__jr_decimal(s, n, scale, &v)) {
    case 0:
        break;
    case -2:
        if (scale == 0) {
            return constra__jr_fail(jr, "field_invalid", path,
                                    "%s has a non-zero fraction; a whole number is required",
                                    path);
        }
        return constra__jr_fail(jr, "field_invalid", path,
                                "%s has non-zero digits beyond %d decimals", path, scale);
    case -3:
        return constra__jr_fail(jr, "field_invalid", path, "%s is too large", path);
    default:
        return constra__jr_fail(jr, "field_invalid", path, "%s is not a number", path);
    }
    if (v < min || v > max) {
        if (v < 0 && min >= 0) {
            return constra__jr_fail(jr, "field_invalid", path, "%s must not be negative", path);
        }
        return constra__jr_fail(jr, "field_invalid", path,
                                "%s is out of range (%" PRId64 " to %" PRId64 ")", path, min, max);
    }
    *out = v;
    if (present) {
        *present = 1;
    }
    return CONSTRA_OK;
}

int constra__jr_int(constra__jr *jr, const cJSON *obj, const char *parent, const char *key,
                    int flags, int scale, int64_t min, int64_t max, int64_t *out, int *present)
{
    char path[CONSTRA__JR_PATH_SIZE];
    const cJSON *item;
    *out = 0;
    int rc = constra__jr_member(jr, obj, parent, key, &item, path, sizeof(path));
    if (rc != CONSTRA_OK) {
        return rc;
    }
    return constra__jr_value_int(jr, item, path, flags, scale, min, max, out, present);
}

static int code_char(unsigned char c)
{
    return constra__ascii_is_digit(c) || constra__ascii_is_alpha(c) || c == '_' ||
           c == '.' || c == '-';
}

int constra__jr_value_code(constra__jr *jr, const cJSON *item, const char *path, int flags,
                           char *out, size_t out_size, int *present)
{
    out[0] = '\0';
    if (item == NULL) {
        return absent(jr, path, flags, present);
    }
    if (cJSON_IsNumber(item)) {
        const char *s;
        size_t n;
        int64_t v = 0;
        if (number_text(jr, item, &s, &n) != 0) {
            return constra__jr_fail(jr, "field_invalid", path, "%s: number not found", path);
        }
        int rc = constra__jr_decimal(s, n, 0, &v);
        if (rc != 0) {
            return constra__jr_fail(jr, "field_invalid", path, "%s must be a whole number",
                                    path);
        }
        char buf[CONSTRA__INT_TEXT_MAX];
        size_t w = constra__fmt_i64(buf, v);
        if (w >= out_size) {
            return constra__jr_fail(jr, "field_too_long", path, "%s is too long", path);
        }
        memcpy(out, buf, (size_t)w + 1);
    } else if (cJSON_IsString(item) && item->valuestring != NULL) {
        const char *s = item->valuestring;
        size_t n = strlen(s);
        if (n == 0) {
            return constra__jr_fail(jr, "field_invalid", path, "%s must not be empty", path);
        }
        if (n >= out_size) {
            return constra__jr_fail(jr, "field_too_long", path,
                                    "%s is %zu bytes; at most %zu fit", path, n, out_size - 1);
        }
        for (size_t i = 0; i < n; i++) {
            if (!code_char((unsigned char)s[i])) {
                return constra__jr_fail(jr, "field_invalid", path,
                                        "%s must be letters, digits, '_', '.' or '-'", path);
            }
        }
        memcpy(out, s, n + 1);
    } else {
        return constra__jr_fail(jr, "field_invalid", path, "%s must be a number or a string",
                                path);
    }
    if (present) {
        *present = 1;
    }
    return CONSTRA_OK;
}

int constra__jr_code(constra__jr *jr, const cJSON *obj, const char *parent, const char *key,
                     int flags, char *out, size_t out_size, int *present)
{
    char path[CONSTRA__JR_PATH_SIZE];
    const cJSON *item;
    out[0] = '\0';
    int rc = constra__jr_member(jr, obj, parent, key, &item, path, sizeof(path));
    if (rc != CONSTRA_OK) {
        return rc;
    }
    return constra__jr_value_code(jr, item, path, flags, out, out_size, present);
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int constra__jr_eat_unix(int year, int month, int day, int hour, int minute, int second,
                         int64_t *out)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (year < 1970 || year > 9999 || month < 1 || month > 12 || day < 1 || hour < 0 ||
        hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) {
        return -1;
    }
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    int dim = mdays[month - 1] + (month == 2 && leap);
    if (day > dim) {
        return -1;
    }
    int64_t days = days_from_civil(year, month, day);
    *out = days * 86400 + hour * 3600 + minute * 60 + second - 10800;
    return 0;
}

int constra__jr_join_texts(constra__jr *jr, const cJSON *arr, const char *name, int flags,
                           char *out, size_t out_size, size_t *count)
{
    size_t len = 0, i = 0;
    out[0] = '\0';
    for (const cJSON *it = arr ? arr->child : NULL; it != NULL; it = it->next, i++) {
        char path[CONSTRA__JR_PATH_SIZE], one[128];
        constra__jr_path_index(path, sizeof(path), name, i);
        int rc = constra__jr_value_text(jr, it, path, flags, one, sizeof(one), NULL);
        if (rc != CONSTRA_OK) {
            return rc;
        }
        size_t n = strlen(one);
        if (len + n + 2 > out_size) {
            return constra__jr_fail(jr, "field_too_long", name, "%s is too long", name);
        }
        if (len) {
            out[len++] = ',';
        }
        memcpy(out + len, one, n + 1);
        len += n;
    }
    if (count) {
        *count = i;
    }
    return CONSTRA_OK;
}
