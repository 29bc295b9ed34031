/*
 * Shared by the libFuzzer harnesses. Each harness defines
 * LLVMFuzzerTestOneInput(); built with -Dfuzzing=true (clang) it links
 * against libFuzzer, otherwise against replay_main.c, which runs the seed
 * corpus as an ordinary test (suite fuzz-replay).
 *
 * A harness checks invariants and calls FUZZ_CHECK(): a violated one
 * aborts, which both libFuzzer and the replay test report as a crash.
 */
#ifndef CONSTRA_FUZZ_COMMON_H
#define CONSTRA_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <constra.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

/* A fixed char array holds a NUL-terminated string. */
#define FUZZ_STR(arr) FUZZ_CHECK(memchr((arr), '\0', sizeof(arr)) != NULL)

/* Bytes [sizeof(size_t), size) of a result struct are all zero. */
static inline int fuzz_zeroed(const void *s, size_t size)
{
    const unsigned char *p = s;
    for (size_t i = sizeof(size_t); i < size; i++) {
        if (p[i] != 0) {
            return 0;
        }
    }
    return 1;
}

/* What every failed parse must look like: a parse error that names a
 * machine code and a parameter, and a zeroed result. */
#define FUZZ_FAILED_PARSE(rc, err, result)                                          \
    do {                                                                            \
        FUZZ_CHECK((rc) == CONSTRA_E_PARSE);                                        \
        FUZZ_CHECK((err).status == CONSTRA_E_PARSE);                                \
        FUZZ_CHECK((err).code[0] != '\0' && (err).param[0] != '\0');                \
        FUZZ_STR((err).message);                                                    \
        FUZZ_CHECK((result).struct_size == sizeof(result));                         \
        FUZZ_CHECK(fuzz_zeroed(&(result), sizeof(result)));                        \
    } while (0)

/* A non-NULL pointer even for an empty input. */
static inline const char *fuzz_body(const uint8_t *data)
{
    return data ? (const char *)data : "";
}

#endif
