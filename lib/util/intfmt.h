/*
 * Internal: decimal text of integers, the project's own (no printf).
 *
 * Every integer that ends up in data — a signature's signed text, a
 * request field, money text, a timestamp, a stored document — is written
 * by these, so that every C library gives the same bytes: newlib-nano's
 * printf has no "%lld" (it prints "ld"), and a C library's PRId64 may be
 * missing or differ. Error messages may keep using printf.
 * tests/unit/test_intfmt.c pins the bytes on the host, and the firmware
 * suite (examples/firmware/test_intfmt.c) the same bytes on the target.
 */
#ifndef CONSTRA_UTIL_INTFMT_H
#define CONSTRA_UTIL_INTFMT_H

#include <stddef.h>
#include <stdint.h>

/* Room for any int64 or uint64 with its sign and NUL ("-9223372036854775808"). */
#define CONSTRA__INT_TEXT_MAX 21

/* Writes `v` in decimal with its '-' and a NUL into out (at least
 * CONSTRA__INT_TEXT_MAX bytes); returns the length without the NUL. */
size_t constra__fmt_i64(char *out, int64_t v);
size_t constra__fmt_u64(char *out, uint64_t v);

/* As constra__fmt_u64, left-padded with '0' to at least `width` digits
 * (width <= 20). */
size_t constra__fmt_u64_pad(char *out, uint64_t v, unsigned width);

/* Appends the decimal text of `v` to the NUL-terminated string in
 * out[0..size): returns 0, or -1 (out unchanged) when it does not fit. */
int constra__cat_i64(char *out, size_t size, int64_t v);

#endif
