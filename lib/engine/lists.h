/*
 * Internal: the intent list and event list objects handed to callers.
 * Filled from storage by query.c, and from a server's JSON by the remote
 * client (lib/client); freed by constra_intent_list_free() /
 * constra_event_list_free() either way.
 */
#ifndef CONSTRA_ENGINE_LISTS_H
#define CONSTRA_ENGINE_LISTS_H

#include <stddef.h>

#include "constra/id.h"
#include "constra/intent.h"
#include "constra/platform.h"

struct constra_intent_list {
    constra_platform platform; /* the allocator of everything below */
    struct constra_intent **items;
    size_t count;
    int has_more;
    char *json;
    size_t json_len;
};

typedef struct constra__event_item {
    char id[CONSTRA_ID_SIZE];
    char type[64];
    char *json; /* the event's JSON, NUL-terminated */
} constra__event_item;

struct constra_event_list {
    constra_platform platform;
    constra__event_item *items;
    size_t count, cap;
    char *json;
    size_t json_len;
};

#endif
