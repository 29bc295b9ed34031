/*
 * Internal: the ASCII character tests and whitespace trimming shared by
 * lib/mpesa's parsers (codes, phone numbers, amounts, text fields). Never
 * locale-dependent, unlike <ctype.h>.
 */
#ifndef CONSTRA_MPESA_ASCII_H
#define CONSTRA_MPESA_ASCII_H

#include <stddef.h>

/* ASCII whitespace: space, \t, \n, \v, \f, \r. */
static inline int mpesa_is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static inline int mpesa_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Narrows [*start, *end) of `s` to drop leading and trailing whitespace. */
static inline void mpesa_trim(const unsigned char *s, size_t *start, size_t *end)
{
    while (*start < *end && mpesa_is_space(s[*start])) {
        (*start)++;
    }
    while (*end > *start && mpesa_is_space(s[*end - 1])) {
        (*end)--;
    }
}

#endif /* CONSTRA_MPESA_ASCII_H */
