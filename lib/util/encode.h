/*
 * Internal: hex and base64 (RFC 4648, standard alphabet, padded) into
 * caller buffers. No allocation, so the pure layers (mpesa/, webhook/)
 * can use them on firmware.
 */
#ifndef CONSTRA_UTIL_ENCODE_H
#define CONSTRA_UTIL_ENCODE_H

#include <stddef.h>
#include <stdint.h>

/* Bytes needed for the encodings of n input bytes, including a NUL. */
#define CONSTRA__HEX_SIZE(n) ((n) * 2 + 1)
#define CONSTRA__BASE64_SIZE(n) ((((n) + 2) / 3) * 4 + 1)

/* Lower-case hex of `in`; NUL-terminated. Returns the text length, or 0
 * if out_size < CONSTRA__HEX_SIZE(len) (out then untouched). */
size_t constra__hex_encode(const uint8_t *in, size_t len, char *out, size_t out_size);

/* Decodes exactly `len` hex digits (either case) into out. Returns the
 * byte count, or -1 for odd length, a non-hex digit or a small out. */
long constra__hex_decode(const char *in, size_t len, uint8_t *out, size_t out_size);

/* Padded standard base64 of `in`; NUL-terminated. Returns the text
 * length, or 0 if out_size < CONSTRA__BASE64_SIZE(len). */
size_t constra__base64_encode(const uint8_t *in, size_t len, char *out, size_t out_size);

/* Decodes standard base64 of `len` chars. Padding is required when the
 * length is not a multiple of 4 only if `strict`; whitespace is refused.
 * Returns the byte count, or -1 for bad input or a small out. */
long constra__base64_decode(const char *in, size_t len, uint8_t *out, size_t out_size,
                            int strict);

/* Code points in s[0..n), or -1 when it is not valid UTF-8 (overlong
 * forms, surrogates and values past U+10FFFF are invalid). */
long constra__utf8_count(const char *s, size_t n);

#endif /* CONSTRA_UTIL_ENCODE_H */
