/*
 * Internal: locale-independent ASCII case folding for protocol text (HTTP
 * header names, URL schemes and hosts), where <strings.h> strcasecmp
 * would follow the C locale.
 */
#ifndef CONSTRA_UTIL_ASCII_H
#define CONSTRA_UTIL_ASCII_H

#include <stddef.h>

static inline int constra__ascii_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* 0 when a and b are equal ignoring ASCII case; otherwise the sign of
 * the first difference of the folded bytes. */
int constra__ascii_casecmp(const char *a, const char *b);

/* 1 when the first n bytes of a and b are equal ignoring ASCII case
 * (a NUL in either ends the comparison as a mismatch unless both end). */
int constra__ascii_ncaseeq(const char *a, const char *b, size_t n);

#endif
