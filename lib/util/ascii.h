/*
 * Internal: the one set of locale-independent ASCII helpers for protocol
 * text (HTTP header names, URL schemes and hosts, JSON, Daraja fields,
 * instructions): case folding, where <strings.h> strcasecmp would follow
 * the C locale, and character classes.
 */
#ifndef CONSTRA_UTIL_ASCII_H
#define CONSTRA_UTIL_ASCII_H

#include <stddef.h>

static inline int constra__ascii_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* Character classes of protocol text: ASCII only, whatever the locale
 * (<ctype.h> would follow it, and wants unsigned char values). */
static inline int constra__ascii_is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static inline int constra__ascii_is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline int constra__ascii_is_hex(int c)
{
    return constra__ascii_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* 0 when a and b are equal ignoring ASCII case; otherwise the sign of
 * the first difference of the folded bytes. */
int constra__ascii_casecmp(const char *a, const char *b);

/* 1 when the first n bytes of a and b are equal ignoring ASCII case
 * (a NUL in either ends the comparison as a mismatch unless both end). */
int constra__ascii_ncaseeq(const char *a, const char *b, size_t n);

/* 1 when the NUL-terminated string a is exactly the n bytes at b,
 * ignoring ASCII case (a header name against a length-delimited one). */
int constra__ascii_ieq_n(const char *a, const char *b, size_t n);

/* The value of a hex digit, or -1. */
static inline int constra__ascii_hex_value(int c)
{
    return constra__ascii_is_digit(c) ? c - '0'
           : (c >= 'a' && c <= 'f')   ? c - 'a' + 10
           : (c >= 'A' && c <= 'F')   ? c - 'A' + 10
                                      : -1;
}

#endif
