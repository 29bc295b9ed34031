/*
 * Internal: a small per-handle cache of decoded intents, keyed by
 * (id, version). Reading an intent back from its stored JSON document was
 * the largest single cost of a lifecycle (a cJSON parse plus field
 * extraction, about a third of bench/engine); the engine has usually just
 * written the very version it is about to read.
 *
 * Safe because storage guards every write by compare-and-set on the
 * version (doc/DESIGN.md section 7): a given (id, version) names exactly one
 * committed document, whichever process wrote it, so a cached model of
 * that version is that document decoded. Entries are only put after a
 * commit succeeded, and a lookup only hits when the version storage just
 * returned is the cached one, so a change by another writer (another
 * process on the same SQLite file) is never masked.
 */
#ifndef CONSTRA_ENGINE_CACHE_H
#define CONSTRA_ENGINE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"

/* Direct-mapped slots, config.intent_cache_slots of them (0: no cache);
 * each holds one struct constra_intent (~8.5 KB). Allocated on first use;
 * if that allocation fails the engine simply parses, the cache being only
 * a shortcut. */

/* Copies the cached model of (id, version) into `in` (keeping in's
 * platform, freeing any snapshot text it held) and returns 1; 0 on a
 * miss, `in` untouched. */
int constra__cache_get(constra_t *h, const char *id, int64_t version, struct constra_intent *in);

/* Remembers `in` (its id and version) after a successful commit, with
 * its public JSON (json_len bytes; may be NULL: then none is kept). */
void constra__cache_put(constra_t *h, const struct constra_intent *in, const char *json,
                        size_t json_len);

/* A copy (platform-allocated, NUL-terminated) of the public JSON of
 * (id, version) when the cache has it, so a read need not render it
 * again; NULL otherwise. */
char *constra__cache_json(constra_t *h, const char *id, int64_t version, size_t *len);

/* Frees the slots (at close). */
void constra__cache_free(constra_t *h);

#endif
