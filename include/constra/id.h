/*
 * libconstra — prefixed, time-sortable identifiers.
 *
 * An id is `<prefix>_<26 characters>`: the first 10 characters encode the
 * creation time in milliseconds since the Unix epoch (48 bits), the last
 * 16 encode 80 random bits, both in lower-case Crockford base32
 * ("0123456789abcdefghjkmnpqrstvwxyz", ascending in ASCII). So:
 *   - ids with the same prefix sort by creation time as plain strings;
 *   - ids made by one handle within the same millisecond still sort in
 *     creation order (the random part is incremented, as ULID does), even
 *     if the wall clock steps backwards;
 *   - ids made by different processes sharing one storage do not collide:
 *     80 bits from the platform's secure random source per millisecond.
 *
 * Prefixes in use: "pi" payment intents, "evt" events, "att" attempts.
 * See constra_id_new() in handle.h for generating one.
 */
#ifndef CONSTRA_ID_H
#define CONSTRA_ID_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "export.h"

CONSTRA_BEGIN_DECLS

/** Longest prefix accepted (lower-case ASCII letters only). */
#define CONSTRA_ID_PREFIX_MAX 15
/** Length of the part after the underscore. */
#define CONSTRA_ID_BODY_LEN 26
/** A buffer of this size holds any id with its NUL. */
#define CONSTRA_ID_SIZE (CONSTRA_ID_PREFIX_MAX + 1 + CONSTRA_ID_BODY_LEN + 1)

/**
 * Checks that `id` is a well-formed id (optionally with the given prefix;
 * NULL accepts any) and returns the creation time it encodes in *out_ms
 * (may be NULL). At most CONSTRA_ID_SIZE bytes of `id` are read.
 * Errors: CONSTRA_E_INVALID_ARGUMENT with param "id" (malformed, wrong
 * prefix, too long) or "prefix". Pure and thread-safe.
 */
CONSTRA_API int constra_id_parse(const char *id, const char *prefix, int64_t *out_ms,
                                 constra_error *err);

CONSTRA_END_DECLS

#endif /* CONSTRA_ID_H */
