/*
 * The bytes constra__fmt_* must write (util/intfmt.h), shared by the host
 * test (tests/unit/test_intfmt.c) and the target's
 * (examples/firmware/test_intfmt.c), so both C libraries are held to the
 * same text.
 */
#ifndef CONSTRA_INTFMT_VECTORS_H
#define CONSTRA_INTFMT_VECTORS_H

#include <stdint.h>

static const struct {
    int64_t v;
    const char *text;
} intfmt_i64_vectors[] = {
    {0, "0"},
    {7, "7"},
    {-1, "-1"},
    {10, "10"},
    {1700000000, "1700000000"},
    {1700000000123, "1700000000123"},
    {4294967295, "4294967295"},
    {4294967296, "4294967296"},
    {-4294967296, "-4294967296"},
    {INT64_MAX, "9223372036854775807"},
    {INT64_MIN, "-9223372036854775808"},
};

static const struct {
    uint64_t v;
    unsigned width;
    const char *text;
} intfmt_u64_vectors[] = {
    {0, 0, "0"},
    {5, 2, "05"},
    {50, 2, "50"},
    {123, 2, "123"},
    {7, 4, "0007"},
    {UINT64_MAX, 0, "18446744073709551615"},
    {UINT64_MAX, 20, "18446744073709551615"},
};

#endif
