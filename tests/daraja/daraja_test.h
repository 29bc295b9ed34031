/* Shared by the daraja tests: cmocka, the public API, and loading the
 * sample payloads of tests/vectors/daraja/ (copied from doc/DARAJA.md). */
#ifndef CONSTRA_DARAJA_TEST_H
#define CONSTRA_DARAJA_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <constra.h>

/* Reads tests/vectors/daraja/<name> into a static buffer (NUL-terminated
 * for convenience; pass the returned length, not strlen, to parsers). */
static inline const char *vector(const char *name, size_t *len)
{
    static char buf[65536];
    const char *dir = getenv("CONSTRA_VECTORS");
    char path[1024];
    snprintf(path, sizeof(path), "%s/daraja/%s", dir ? dir : "tests/vectors", name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fail_msg("cannot open %s", path);
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (len) {
        *len = n;
    }
    return buf;
}

/* Asserts status, err.code and (if not NULL) err.param. */
#define assert_fails(rc_expr, err, status, code_, param_)                                 \
    do {                                                                                   \
        int rc__ = (rc_expr);                                                              \
        if (rc__ != (status) || strcmp((err).code, (code_)) != 0 ||                        \
            ((param_) != NULL && strcmp((err).param, (const char *)(param_)) != 0)) {      \
            fail_msg("%s:%d: got %d code '%s' param '%s' (%s); want %d '%s' '%s'",        \
                     __FILE__, __LINE__, rc__, (err).code, (err).param, (err).message,    \
                     (int)(status), (code_), (param_) ? (const char *)(param_) : "*");    \
        }                                                                                  \
    } while (0)

#define assert_ok(rc_expr, err)                                                            \
    do {                                                                                   \
        int rc__ = (rc_expr);                                                              \
        if (rc__ != CONSTRA_OK) {                                                          \
            fail_msg("%s:%d: got %d code '%s' param '%s': %s", __FILE__, __LINE__, rc__,   \
                     (err).code, (err).param, (err).message);                              \
        }                                                                                  \
    } while (0)

#endif
