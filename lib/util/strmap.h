/*
 * Internal: a hash map from NUL-terminated string keys to pointers, open
 * addressing with linear probing. Keys are borrowed: the caller keeps each
 * key alive while it is in the map (typically the value owns it).
 * Allocation goes through the platform vtable's allocator; every function
 * that may allocate can fail without changing the map.
 */
#ifndef CONSTRA_UTIL_STRMAP_H
#define CONSTRA_UTIL_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#include "constra/platform.h"

typedef struct constra__strmap_slot {
    const char *key; /* NULL: empty; constra__strmap_tombstone: deleted */
    void *value;
    uint64_t hash;
} constra__strmap_slot;

typedef struct constra__strmap {
    const constra_platform *platform;
    constra__strmap_slot *slots;
    size_t capacity; /* power of two, or 0 */
    size_t count;    /* live entries */
    size_t used;     /* live + tombstones */
} constra__strmap;

void constra__strmap_init(constra__strmap *m, const constra_platform *platform);
void constra__strmap_free(constra__strmap *m);

/* Makes room so that `extra` more insertions cannot fail. 0 or -1. */
int constra__strmap_reserve(constra__strmap *m, size_t extra);

/* The value for key, or NULL. */
void *constra__strmap_get(const constra__strmap *m, const char *key);

/* Inserts or replaces (key pointer replaced too). 0, or -1 if it had to
 * grow and could not (never after a successful reserve). */
int constra__strmap_put(constra__strmap *m, const char *key, void *value);

/* Removes key; returns its value or NULL. Never allocates. */
void *constra__strmap_remove(constra__strmap *m, const char *key);

#endif
