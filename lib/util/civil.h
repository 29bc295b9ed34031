/*
 * Internal: calendar fields from Unix time, without the C library's time
 * zone machinery (portable to firmware, thread-safe, no TZ lookups).
 */
#ifndef CONSTRA_UTIL_CIVIL_H
#define CONSTRA_UTIL_CIVIL_H

#include <stdint.h>

typedef struct constra__civil {
    int year, month, day;          /* month 1-12, day 1-31 */
    int hour, minute, second, ms;
} constra__civil;

/* Breaks `unix_ms` shifted by `offset_s` seconds (East Africa Time is
 * +10800) into calendar fields. Valid for years 1970..9999. */
void constra__civil_from_ms(int64_t unix_ms, int32_t offset_s, constra__civil *out);

#endif
