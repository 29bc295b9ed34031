#include "util/sbuf.h"

#include <stdio.h>
#include <string.h>

#include "util/civil.h"

void constra__sbuf_init(constra__sbuf *b, const constra_platform *platform)
{
    memset(b, 0, sizeof(*b));
    b->platform = platform;
}

void constra__sbuf_free(constra__sbuf *b)
{
    if (b->data) {
        b->platform->free_fn(b->platform->user_data, b->data);
    }
    b->data = NULL;
    b->len = b->cap = 0;
}

char *constra__sbuf_take(constra__sbuf *b, size_t *len)
{
    if (b->failed) {
        constra__sbuf_free(b);
        return NULL;
    }
    if (b->data == NULL) {
        constra__sbuf_append(b, "", 0);
        if (b->failed) {
            return NULL;
        }
    }
    char *d = b->data;
    if (len) {
        *len = b->len;
    }
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

int constra__sbuf_failed(const constra__sbuf *b)
{
    return b->failed;
}

static int reserve(constra__sbuf *b, size_t extra)
{
    if (b->failed) {
        return -1;
    }
    if (extra > SIZE_MAX - b->len - 1) {
        b->failed = 1;
        return -1;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) {
        return 0;
    }
    /* Intent documents are 1-2 KiB: start there, not at a few bytes. */
    size_t cap = b->cap ? b->cap : 2048;
    while (cap < need) {
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    }
    char *d = b->platform->realloc_fn(b->platform->user_data, b->data, cap);
    if (d == NULL) {
        b->failed = 1;
        return -1;
    }
    b->data = d;
    b->cap = cap;
    return 0;
}

void constra__sbuf_append(constra__sbuf *b, const char *data, size_t len)
{
    if (reserve(b, len) != 0) {
        return;
    }
    if (len) {
        memcpy(b->data + b->len, data, len);
    }
    b->len += len;
    b->data[b->len] = '\0';
}

void constra__sbuf_puts(constra__sbuf *b, const char *s)
{
    constra__sbuf_append(b, s, strlen(s));
}

/* Writes the decimal digits of v right-aligned ending at end; returns the
 * start. (printf's machinery is the slowest part of writing a document.) */
static char *digits(uint64_t v, char *end)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

void constra__sbuf_int(constra__sbuf *b, int64_t v)
{
    char tmp[24];
    char *end = tmp + sizeof(tmp);
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    char *p = digits(mag, end);
    if (v < 0) {
        *--p = '-';
    }
    constra__sbuf_append(b, p, (size_t)(end - p));
}

/* Two or more zero-padded digits. */
static char *put_padded(char *out, int v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return out + width;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80) {
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        return (s[1] & 0xc0) == 0x80 ? 2 : 0;
    }
    if (s[0] >= 0xe0 && s[0] <= 0xef) {
        if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80) {
            return 0;
        }
        if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f)) {
            return 0; /* overlong, surrogate */
        }
        return 3;
    }
    if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80) {
            return 0;
        }
        if ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f)) {
            return 0;
        }
        return 4;
    }
    return 0;
}

void constra__sbuf_json_str(constra__sbuf *b, const char *s)
{
    if (s == NULL) {
        constra__sbuf_append(b, "null", 4);
        return;
    }
    size_t len = strlen(s);
    /* Worst case: every byte becomes a 6-byte \u escape, plus quotes.
     * Reserve once and write straight into the buffer. */
    if (len > (SIZE_MAX - 2) / 6 || reserve(b, len * 6 + 2) != 0) {
        b->failed = 1;
        return;
    }
    char *out = b->data + b->len;
    *out++ = '"';
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned char c = *p;
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            *out++ = (char)c;
            p++;
            continue;
        }
        switch (c) {
        case '"': *out++ = '\\'; *out++ = '"'; p++; continue;
        case '\\': *out++ = '\\'; *out++ = '\\'; p++; continue;
        case '\n': *out++ = '\\'; *out++ = 'n'; p++; continue;
        case '\r': *out++ = '\\'; *out++ = 'r'; p++; continue;
        case '\t': *out++ = '\\'; *out++ = 't'; p++; continue;
        default: break;
        }
        if (c < 0x20) {
            static const char hex[] = "0123456789abcdef";
            memcpy(out, "\\u00", 4);
            out[4] = hex[c >> 4];
            out[5] = hex[c & 15];
            out += 6;
            p++;
            continue;
        }
        size_t n = utf8_len(p);
        if (n == 0) {
            memcpy(out, "\xef\xbf\xbd", 3); /* U+FFFD for a byte that is not UTF-8 */
            out += 3;
            p++;
        } else {
            memcpy(out, p, n);
            out += n;
            p += n;
        }
    }
    *out++ = '"';
    b->len = (size_t)(out - b->data);
    b->data[b->len] = '\0';
}

void constra__sbuf_json_key_n(constra__sbuf *b, const char *key, size_t len, int first)
{
    if (len > SIZE_MAX / 2 || reserve(b, len + 4) != 0) {
        b->failed = 1;
        return;
    }
    char *out = b->data + b->len;
    if (!first) {
        *out++ = ',';
    }
    *out++ = '"';
    memcpy(out, key, len);
    out += len;
    *out++ = '"';
    *out++ = ':';
    b->len = (size_t)(out - b->data);
    b->data[b->len] = '\0';
}

void constra__sbuf_json_time(constra__sbuf *b, int64_t unix_ms)
{
    if (unix_ms <= 0) {
        constra__sbuf_append(b, "null", 4);
        return;
    }
    constra__civil c;
    constra__civil_from_ms(unix_ms, 0, &c);
    char tmp[32];
    char *p = tmp;
    *p++ = '"';
    p = put_padded(p, c.year, 4);
    *p++ = '-';
    p = put_padded(p, c.month, 2);
    *p++ = '-';
    p = put_padded(p, c.day, 2);
    *p++ = 'T';
    p = put_padded(p, c.hour, 2);
    *p++ = ':';
    p = put_padded(p, c.minute, 2);
    *p++ = ':';
    p = put_padded(p, c.second, 2);
    *p++ = '.';
    p = put_padded(p, c.ms, 3);
    *p++ = 'Z';
    *p++ = '"';
    constra__sbuf_append(b, tmp, (size_t)(p - tmp));
}
