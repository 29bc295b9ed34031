/*
 * Internal: the id generator's pure core. The caller (the handle) supplies
 * the clock reading and fresh random bytes, so this layer stays free of
 * platform calls and is exactly testable with driven time.
 */
#ifndef CONSTRA_UTIL_IDS_H
#define CONSTRA_UTIL_IDS_H

#include <stddef.h>
#include <stdint.h>

#include "constra/error.h"
#include "constra/id.h"

#define CONSTRA__ID_RAND_BYTES 10 /* 80 bits */

/* Per-generator state: the last id's time and random part, so ids from
 * one generator strictly increase. Zero-initialise. */
typedef struct constra__idgen {
    int64_t last_ms;
    uint8_t last_rand[CONSTRA__ID_RAND_BYTES];
    int have_last;
} constra__idgen;

/* Checks a prefix: 1..CONSTRA_ID_PREFIX_MAX lower-case ASCII letters. */
int constra__id_check_prefix(const char *prefix, size_t *len_out, constra_error *err);

/*
 * Writes the next id "<prefix>_<26 chars>" into out. `now_ms` is the wall
 * clock (negative treated as 0), `fresh` 10 new random bytes. If now_ms is
 * not after the previous id's time (same millisecond, or the clock went
 * back) the previous time is kept and its random part incremented, so the
 * new id sorts after the previous one. `g` is only updated on success.
 */
int constra__id_next(constra__idgen *g, int64_t now_ms, const uint8_t *fresh,
                     const char *prefix, char *out, size_t out_size, constra_error *err);

/* Ids as opaque values (a server's, a caller's): 1 to CONSTRA_ID_SIZE - 1
 * characters of [A-Za-z0-9_-]. Anything else fails with
 * CONSTRA_E_INVALID_ARGUMENT, code "parameter_invalid", param `param`.
 * Whether such an id exists is the storage's (or server's) to say. */
int constra__id_check_opaque(const char *id, const char *param, constra_error *err);

#endif /* CONSTRA_UTIL_IDS_H */
