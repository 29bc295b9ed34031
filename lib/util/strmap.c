#include "util/strmap.h"

#include <string.h>

static const char tombstone_key[] = "";
#define TOMBSTONE tombstone_key

static uint64_t hash_str(const char *s)
{
    uint64_t h = 14695981039346656037u; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211u;
    }
    return h;
}

void constra__strmap_init(constra__strmap *m, const constra_platform *platform)
{
    memset(m, 0, sizeof(*m));
    m->platform = platform;
}

void constra__strmap_free(constra__strmap *m)
{
    if (m->slots) {
        m->platform->free_fn(m->platform->user_data, m->slots);
    }
    m->slots = NULL;
    m->capacity = m->count = m->used = 0;
}

static int rehash(constra__strmap *m, size_t capacity)
{
    size_t bytes = capacity * sizeof(constra__strmap_slot);
    if (capacity != 0 && bytes / capacity != sizeof(constra__strmap_slot)) {
        return -1;
    }
    constra__strmap_slot *slots = m->platform->malloc_fn(m->platform->user_data, bytes);
    if (slots == NULL) {
        return -1;
    }
    memset(slots, 0, bytes);
    for (size_t i = 0; i < m->capacity; i++) {
        constra__strmap_slot *s = &m->slots[i];
        if (s->key == NULL || s->key == TOMBSTONE) {
            continue;
        }
        size_t j = (size_t)s->hash & (capacity - 1);
        while (slots[j].key != NULL) {
            j = (j + 1) & (capacity - 1);
        }
        slots[j] = *s;
    }
    if (m->slots) {
        m->platform->free_fn(m->platform->user_data, m->slots);
    }
    m->slots = slots;
    m->capacity = capacity;
    m->used = m->count;
    return 0;
}

int constra__strmap_reserve(constra__strmap *m, size_t extra)
{
    /* Keep the load (live + tombstones) at most 3/4. */
    size_t need = m->used + extra;
    if (need < m->used) {
        return -1;
    }
    if (m->capacity != 0 && need <= m->capacity / 4 * 3) {
        return 0;
    }
    size_t cap = m->capacity ? m->capacity : 16;
    while ((m->count + extra) > cap / 4 * 3) {
        if (cap > SIZE_MAX / 2) {
            return -1;
        }
        cap *= 2;
    }
    return rehash(m, cap);
}

static constra__strmap_slot *find(const constra__strmap *m, const char *key, uint64_t h)
{
    if (m->capacity == 0) {
        return NULL;
    }
    size_t i = (size_t)h & (m->capacity - 1);
    for (;;) {
        constra__strmap_slot *s = &m->slots[i];
        if (s->key == NULL) {
            return NULL;
        }
        if (s->key != TOMBSTONE && s->hash == h && strcmp(s->key, key) == 0) {
            return s;
        }
        i = (i + 1) & (m->capacity - 1);
    }
}

void *constra__strmap_get(const constra__strmap *m, const char *key)
{
    constra__strmap_slot *s = find(m, key, hash_str(key));
    return s ? s->value : NULL;
}

int constra__strmap_put(constra__strmap *m, const char *key, void *value)
{
    uint64_t h = hash_str(key);
    constra__strmap_slot *s = find(m, key, h);
    if (s) {
        s->key = key;
        s->value = value;
        return 0;
    }
    if (constra__strmap_reserve(m, 1) != 0) {
        return -1;
    }
    size_t i = (size_t)h & (m->capacity - 1);
    while (m->slots[i].key != NULL && m->slots[i].key != TOMBSTONE) {
        i = (i + 1) & (m->capacity - 1);
    }
    if (m->slots[i].key == NULL) {
        m->used++;
    }
    m->slots[i] = (constra__strmap_slot){key, value, h};
    m->count++;
    return 0;
}

void *constra__strmap_remove(constra__strmap *m, const char *key)
{
    constra__strmap_slot *s = find(m, key, hash_str(key));
    if (s == NULL) {
        return NULL;
    }
    void *v = s->value;
    s->key = TOMBSTONE;
    s->value = NULL;
    m->count--;
    return v;
}
