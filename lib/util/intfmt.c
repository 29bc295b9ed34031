/* Decimal text of integers without printf (intfmt.h). */
#include "util/intfmt.h"

#include <string.h>

size_t constra__fmt_u64_pad(char *out, uint64_t v, unsigned width)
{
    char rev[20];
    size_t n = 0;
    do {
        rev[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0);
    if (width > sizeof(rev)) {
        width = sizeof(rev);
    }
    size_t len = 0;
    while (n + len < width) {
        out[len++] = '0';
    }
    while (n > 0) {
        out[len++] = rev[--n];
    }
    out[len] = '\0';
    return len;
}

size_t constra__fmt_u64(char *out, uint64_t v)
{
    return constra__fmt_u64_pad(out, v, 0);
}

size_t constra__fmt_i64(char *out, int64_t v)
{
    if (v >= 0) {
        return constra__fmt_u64(out, (uint64_t)v);
    }
    /* The magnitude of INT64_MIN does not fit an int64: negate unsigned. */
    out[0] = '-';
    return 1 + constra__fmt_u64(out + 1, 0u - (uint64_t)v);
}

int constra__cat_i64(char *out, size_t size, int64_t v)
{
    char text[CONSTRA__INT_TEXT_MAX];
    size_t n = constra__fmt_i64(text, v);
    size_t used = strlen(out);
    if (used + n + 1 > size) {
        return -1;
    }
    memcpy(out + used, text, n + 1);
    return 0;
}
