#include "util/encode.h"

#include "util/ascii.h"

static const char hex_digits[] = "0123456789abcdef";
static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t constra__hex_encode(const uint8_t *in, size_t len, char *out, size_t out_size)
{
    if (out == NULL || out_size < CONSTRA__HEX_SIZE(len) || (in == NULL && len > 0)) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex_digits[in[i] >> 4];
        out[2 * i + 1] = hex_digits[in[i] & 0x0f];
    }
    out[2 * len] = '\0';
    return 2 * len;
}

long constra__hex_decode(const char *in, size_t len, uint8_t *out, size_t out_size)
{
    if (in == NULL || out == NULL || len % 2 != 0 || len / 2 > out_size) {
        return -1;
    }
    for (size_t i = 0; i < len / 2; i++) {
        int hi = constra__ascii_hex_value((unsigned char)in[2 * i]);
        int lo = constra__ascii_hex_value((unsigned char)in[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return -1;
        }
        out[i] = (uint8_t)((hi << 4) | lo);
    }
    return (long)(len / 2);
}

size_t constra__base64_encode(const uint8_t *in, size_t len, char *out, size_t out_size)
{
    if (out == NULL || out_size < CONSTRA__BASE64_SIZE(len) || (in == NULL && len > 0)) {
        return 0;
    }
    size_t o = 0;
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = b64_alphabet[(v >> 6) & 63];
        out[o++] = b64_alphabet[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len) {
            v |= (uint32_t)in[i + 1] << 8;
        }
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = (i + 1 < len) ? b64_alphabet[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

long constra__base64_decode(const char *in, size_t len, uint8_t *out, size_t out_size,
                            int strict)
{
    if (in == NULL || out == NULL) {
        return -1;
    }
    /* Strip up to two '=' of padding; they must close a 4-char group. */
    size_t pad = 0;
    while (len > 0 && in[len - 1] == '=' && pad < 2) {
        len--;
        pad++;
    }
    if (pad > 0 && (len + pad) % 4 != 0) {
        return -1;
    }
    if (strict && pad == 0 && len % 4 != 0) {
        return -1;
    }
    if (len % 4 == 1) {
        return -1; /* a single leftover char encodes no whole byte */
    }
    size_t need = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
    if (need > out_size) {
        return -1;
    }
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value(in[i]);
        if (v < 0) {
            return -1;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)((acc >> bits) & 0xff);
        }
    }
    /* Leftover bits must be zero (canonical encoding). */
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
        return -1;
    }
    return (long)o;
}

/* Code points in s[0..n), or -1 when it is not valid UTF-8 (overlong
 * forms, surrogates and values past U+10FFFF are invalid). */
long constra__utf8_count(const char *s, size_t n)
{
    static const uint32_t min_of[] = {0, 0x80, 0x800, 0x10000};
    const unsigned char *p = (const unsigned char *)s;
    long count = 0;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t extra = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2
                                   : (c & 0xF8) == 0xF0 ? 3 : 4;
        if (extra == 4 || n - i <= extra) {
            return -1; /* not a lead byte, or cut short */
        }
        uint32_t cp = c & (0x7Fu >> extra);
        for (size_t k = 1; k <= extra; k++) {
            if ((p[i + k] & 0xC0) != 0x80) {
                return -1;
            }
            cp = (cp << 6) | (p[i + k] & 0x3Fu);
        }
        if (cp < min_of[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return -1;
        }
        i += extra + 1;
        count++;
    }
    return count;
}
