/*
 * Internal: a growable string buffer on the platform allocator, with JSON
 * string escaping. Errors are sticky: after a failed allocation every
 * append is a no-op and constra__sbuf_failed() says so, so a writer can
 * append a whole document and check once at the end.
 */
#ifndef CONSTRA_UTIL_SBUF_H
#define CONSTRA_UTIL_SBUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "constra/platform.h"

typedef struct constra__sbuf {
    const constra_platform *platform;
    char *data;
    size_t len, cap;
    int failed;
} constra__sbuf;

void constra__sbuf_init(constra__sbuf *b, const constra_platform *platform);
void constra__sbuf_free(constra__sbuf *b);
/* Hands the NUL-terminated buffer to the caller (free with the platform). */
char *constra__sbuf_take(constra__sbuf *b, size_t *len);
int constra__sbuf_failed(const constra__sbuf *b);

void constra__sbuf_append(constra__sbuf *b, const char *data, size_t len);
void constra__sbuf_puts(constra__sbuf *b, const char *s);
void constra__sbuf_int(constra__sbuf *b, int64_t v);
/* A JSON string literal (with quotes) of `s`; NULL gives null. Invalid
 * UTF-8 bytes are replaced by U+FFFD so the output is always valid JSON. */
void constra__sbuf_json_str(constra__sbuf *b, const char *s);
/* "key": at the start of an object member (with a leading comma unless first). */
/* Keys are the library's own names (ASCII letters, digits, '_', '.'):
 * copied without escaping, which was a tenth of rendering an intent.
 * Inline so that strlen of a literal folds to a constant. */
void constra__sbuf_json_key_n(constra__sbuf *b, const char *key, size_t len, int first);
static inline void constra__sbuf_json_key(constra__sbuf *b, const char *key, int first)
{
    constra__sbuf_json_key_n(b, key, strlen(key), first);
}
/* RFC 3339 UTC timestamp string with milliseconds, quoted; 0 gives null. */
void constra__sbuf_json_time(constra__sbuf *b, int64_t unix_ms);

#endif
