/* The decoded-intent cache; see cache.h for why it is safe. */
#include <string.h>

#include "engine/cache.h"
#include "engine/model.h"
#include "platform/platform.h"

struct constra__cache_slot {
    int used;
    struct constra_intent model; /* json always NULL here */
};

static size_t slot_of(const char *id)
{
    /* FNV-1a over the id: its random tail spreads the slots. */
    uint32_t hash = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        hash = (hash ^ *p) * 16777619u;
    }
    return hash % CONSTRA__MODEL_CACHE_SLOTS;
}

int constra__cache_get(constra_t *h, const char *id, int64_t version, struct constra_intent *in)
{
    int hit = 0;
    constra__lock(&h->platform, h->mutex);
    if (h->cache != NULL) {
        const struct constra__cache_slot *s = &h->cache[slot_of(id)];
        if (s->used && s->model.version == version && strcmp(s->model.id, id) == 0) {
            constra_platform keep = in->platform;
            char *old_json = in->json;
            constra__model_copy(in, &s->model);
            in->platform = keep;
            in->json = NULL;
            in->json_len = 0;
            in->replayed = 0;
            hit = 1;
            if (old_json != NULL) {
                keep.free_fn(keep.user_data, old_json);
            }
        }
    }
    constra__unlock(&h->platform, h->mutex);
    return hit;
}

void constra__cache_put(constra_t *h, const struct constra_intent *in)
{
    constra__lock(&h->platform, h->mutex);
    if (h->cache == NULL) {
        h->cache = constra__calloc(&h->platform, CONSTRA__MODEL_CACHE_SLOTS, sizeof(*h->cache));
    }
    if (h->cache != NULL) {
        struct constra__cache_slot *s = &h->cache[slot_of(in->id)];
        constra__model_copy(&s->model, in);
        s->model.json = NULL;
        s->model.json_len = 0;
        s->model.replayed = 0;
        s->used = 1;
    }
    constra__unlock(&h->platform, h->mutex);
}

void constra__cache_free(constra_t *h)
{
    constra__free(&h->platform, h->cache);
    h->cache = NULL;
}
