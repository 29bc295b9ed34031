/* The decoded-intent cache; see cache.h for why it is safe. */
#include <string.h>

#include "engine/cache.h"
#include "engine/model.h"
#include "platform/platform.h"

static size_t slot_of(const char *id, size_t slots)
{
    /* FNV-1a over the id: its random tail spreads the slots. */
    uint32_t hash = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        hash = (hash ^ *p) * 16777619u;
    }
    return hash % slots;
}

struct constra__cache_slot {
    int used;
    struct constra_intent model; /* model.json always NULL */
    char *json;                  /* the public JSON of model.version, or NULL */
    size_t json_len;
};

static struct constra__cache_slot *find(constra_t *h, const char *id, int64_t version)
{
    if (h->cache == NULL) {
        return NULL;
    }
    struct constra__cache_slot *s = &h->cache[slot_of(id, h->cache_slots)];
    return (s->used && s->model.version == version && strcmp(s->model.id, id) == 0) ? s : NULL;
}

int constra__cache_get(constra_t *h, const char *id, int64_t version, struct constra_intent *in)
{
    int hit = 0;
    char *old_json = NULL;
    constra_platform keep = in->platform;
    constra__lock(&h->platform, h->mutex);
    const struct constra__cache_slot *s = find(h, id, version);
    if (s != NULL) {
        old_json = in->json;
        /* Out of memory for the metadata: a miss, the caller parses. */
        hit = constra__model_copy(in, &s->model) == CONSTRA_OK;
        in->platform = keep;
        in->json = NULL;
        in->json_len = 0;
        in->replayed = 0;
    }
    constra__unlock(&h->platform, h->mutex);
    if (old_json != NULL) {
        keep.free_fn(keep.user_data, old_json);
    }
    return hit;
}

char *constra__cache_json(constra_t *h, const char *id, int64_t version, size_t *len)
{
    char *copy = NULL;
    constra__lock(&h->platform, h->mutex);
    const struct constra__cache_slot *s = find(h, id, version);
    if (s != NULL && s->json != NULL) {
        copy = constra__strndup(&h->platform, s->json, s->json_len);
        if (copy != NULL) {
            *len = s->json_len;
        }
    }
    constra__unlock(&h->platform, h->mutex);
    return copy;
}

void constra__cache_put(constra_t *h, const struct constra_intent *in, const char *json,
                        size_t json_len)
{
    /* Copied outside the lock; dropped if memory is short (a cache). */
    char *copy = json ? constra__strndup(&h->platform, json, json_len) : NULL;
    char *old = NULL;
    constra__lock(&h->platform, h->mutex);
    if (h->cache == NULL && h->cache_slots > 0) {
        h->cache = constra__calloc(&h->platform, h->cache_slots, sizeof(*h->cache));
    }
    if (h->cache != NULL) {
        struct constra__cache_slot *s = &h->cache[slot_of(in->id, h->cache_slots)];
        s->model.platform = h->platform; /* the slot's metadata is the handle's */
        s->used = constra__model_copy(&s->model, in) == CONSTRA_OK;
        s->model.json = NULL;
        s->model.json_len = 0;
        s->model.replayed = 0;
        old = s->json;
        s->json = copy;
        s->json_len = copy ? json_len : 0;
        copy = NULL;
    }
    constra__unlock(&h->platform, h->mutex);
    constra__free(&h->platform, old);
    constra__free(&h->platform, copy);
}

void constra__cache_free(constra_t *h)
{
    if (h->cache != NULL) {
        for (size_t i = 0; i < h->cache_slots; i++) {
            constra__free(&h->platform, h->cache[i].json);
            constra__model_release(&h->cache[i].model);
        }
    }
    constra__free(&h->platform, h->cache);
    h->cache = NULL;
}
