/*
 * Reading many: intent lists and event timelines, copied out of storage
 * into caller-owned objects.
 */
#include <string.h>

#include "engine/engine.h"
#include "engine/lists.h"
#include "platform/platform.h"
#include "util/check.h"
#include "util/ids.h"
#include "util/sbuf.h"

#define LIST_DEFAULT 10
#define LIST_MAX 100
#define EVENTS_MAX 1000


int constra_intent_list_params_init(constra_intent_list_params *p, size_t struct_size)
{
    static const constra_intent_list_params init = CONSTRA_INTENT_LIST_PARAMS_INIT;
    return constra__init_struct(p, struct_size, sizeof(init), sizeof(init), &init);
}

void constra_intent_list_free(constra_intent_list *l)
{
    if (l == NULL) {
        return;
    }
    constra_platform p = l->platform;
    for (size_t i = 0; i < l->count; i++) {
        constra_intent_free(l->items[i]);
    }
    constra__free(&p, l->items);
    constra__free(&p, l->json);
    constra__free(&p, l);
}

typedef struct list_fill {
    constra_t *h;
    constra_intent_list *list;
    size_t want; /* the page size; one more row tells has_more */
    int rc;
} list_fill;

static int list_row(void *ctx, const constra__res_intent *row)
{
    list_fill *f = ctx;
    if (f->list->count == f->want) {
        f->list->has_more = 1;
        return 1;
    }
    struct constra_intent *in = constra__calloc(&f->h->platform, 1, sizeof(*in));
    if (in == NULL) {
        f->rc = CONSTRA_E_NOMEM;
        return 1;
    }
    in->platform = f->h->platform;
    if (constra__model_parse(in, row->document, row->document_len) != CONSTRA_OK) {
        constra_intent_free(in);
        f->rc = CONSTRA_E_STORAGE;
        return 1;
    }
    in->version = row->version;
    in->json = constra__model_json(in, 0, &f->h->platform, &in->json_len);
    if (in->json == NULL) {
        constra_intent_free(in);
        f->rc = CONSTRA_E_NOMEM;
        return 1;
    }
    f->list->items[f->list->count++] = in;
    return 0;
}

int constra_intent_list_get(constra_t *h, const constra_intent_list_params *params,
                            constra_intent_list **out, constra_error *err)
{
    if (h == NULL) {
        return constra__fail_null(err, "handle");
    }
    constra_error e = CONSTRA_ERROR_INIT;
    if (out == NULL) {
        return constra__report(constra__fail_null(&e, "out"), &e, err);
    }
    *out = NULL;
    constra_intent_list_params p = CONSTRA_INTENT_LIST_PARAMS_INIT;
    int rc = CONSTRA_OK;
    if (params) {
        rc = constra__check_struct(params, sizeof(p), sizeof(p), "params", &e);
        if (rc == CONSTRA_OK) {
            constra__copy_struct(&p, sizeof(p), params);
        }
    }
    if (rc == CONSTRA_OK && p.status != 0 &&
        (p.status < CONSTRA_INTENT_DRAFT || p.status > CONSTRA_INTENT_CANCELLED)) {
        rc = constra__fail(&e, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "status",
                           "unknown status %d", p.status);
    }
    if (rc == CONSTRA_OK && p.limit > LIST_MAX) {
        rc = constra__fail(&e, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "limit",
                           "limit must be 1 to %d", LIST_MAX);
    }
    if (rc == CONSTRA_OK && p.reference) {
        rc = constra__check_str(p.reference, CONSTRA__REFERENCE_MAX, 1, "reference", NULL, &e);
    }
    if (rc == CONSTRA_OK && p.starting_after && p.starting_after[0]) {
        rc = constra__id_check_opaque(p.starting_after, "starting_after", &e);
    }
    if (rc == CONSTRA_OK && (p.created_from_ms < 0 || p.created_to_ms < 0)) {
        rc = constra__fail(&e, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "created",
                           "created bounds must not be negative");
    }
    if (rc == CONSTRA_OK && h->remote_ops) {
        rc = h->remote_ops->list(h, &p, out, &e);
    }
    if (rc != CONSTRA_OK || h->remote_ops) {
        return constra__report(rc, &e, err);
    }
    size_t want = p.limit ? p.limit : LIST_DEFAULT;
    constra_intent_list *l = constra__calloc(&h->platform, 1, sizeof(*l));
    if (l == NULL || (l->items = constra__calloc(&h->platform, want, sizeof(*l->items))) == NULL) {
        constra__free(&h->platform, l);
        return constra__report(constra__fail(&e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory"),
                               &e, err);
    }
    l->platform = h->platform;
    list_fill f = {h, l, want, CONSTRA_OK};
    constra__res_query q = {sizeof(q), p.status ? constra_intent_status_name(p.status) : NULL,
                               p.reference, p.created_from_ms, p.created_to_ms, p.starting_after,
                               want + 1};
    rc = h->storage.list_intents(h->storage.user_data, &q, list_row, &f);
    if (rc == CONSTRA_OK) {
        rc = f.rc;
    }
    if (rc == CONSTRA_OK) {
        constra__sbuf b;
        constra__sbuf_init(&b, &h->platform);
        constra__sbuf_puts(&b, "{\"object\":\"list\",\"data\":[");
        for (size_t i = 0; i < l->count; i++) {
            if (i) {
                constra__sbuf_puts(&b, ",");
            }
            constra__sbuf_append(&b, l->items[i]->json, l->items[i]->json_len);
        }
        constra__sbuf_puts(&b, l->has_more ? "],\"has_more\":true}" : "],\"has_more\":false}");
        l->json = constra__sbuf_take(&b, &l->json_len);
        if (l->json == NULL) {
            rc = CONSTRA_E_NOMEM;
        }
    }
    if (rc != CONSTRA_OK) {
        constra_intent_list_free(l);
        if (rc == CONSTRA_E_NOMEM) {
            constra__fail(&e, rc, NULL, NULL, "out of memory");
        } else {
            constra__fail(&e, CONSTRA_E_STORAGE, "storage_error", NULL,
                          "storage failed while listing intents (status %d)", rc);
            rc = CONSTRA_E_STORAGE;
        }
        return constra__report(rc, &e, err);
    }
    *out = l;
    return CONSTRA_OK;
}

size_t constra_intent_list_count(const constra_intent_list *l)
{
    return l ? l->count : 0;
}

const constra_intent *constra_intent_list_at(const constra_intent_list *l, size_t i)
{
    return (l && i < l->count) ? l->items[i] : NULL;
}

int constra_intent_list_has_more(const constra_intent_list *l)
{
    return l ? l->has_more : 0;
}

const char *constra_intent_list_json(const constra_intent_list *l, size_t *len)
{
    if (len) {
        *len = l && l->json ? l->json_len : 0;
    }
    return l && l->json ? l->json : "";
}

/* ---- events ------------------------------------------------------------- */


void constra_event_list_free(constra_event_list *l)
{
    if (l == NULL) {
        return;
    }
    constra_platform p = l->platform;
    for (size_t i = 0; i < l->count; i++) {
        constra__free(&p, l->items[i].json);
    }
    constra__free(&p, l->items);
    constra__free(&p, l->json);
    constra__free(&p, l);
}

typedef struct event_fill {
    constra_event_list *list;
    int rc;
} event_fill;

static int event_row(void *ctx, const constra__res_event *row)
{
    event_fill *f = ctx;
    constra_event_list *l = f->list;
    if (l->count == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 8;
        constra__event_item *n = constra__realloc(&l->platform, l->items, ncap * sizeof(*n));
        if (n == NULL) {
            f->rc = CONSTRA_E_NOMEM;
            return 1;
        }
        l->items = n;
        l->cap = ncap;
    }
    constra__event_item *it = &l->items[l->count];
    memset(it, 0, sizeof(*it));
    constra__strlcpy(it->id, row->id, sizeof(it->id));
    constra__strlcpy(it->type, row->type, sizeof(it->type));
    it->json = constra__strndup(&l->platform, row->document ? row->document : "",
                                row->document ? row->document_len : 0);
    if (it->json == NULL) {
        f->rc = CONSTRA_E_NOMEM;
        return 1;
    }
    l->count++;
    return 0;
}

static int exists_row(void *ctx, const constra__res_intent *row)
{
    (void)ctx;
    (void)row;
    return 1;
}

int constra_event_list_get(constra_t *h, const char *id, constra_event_list **out,
                           constra_error *err)
{
    if (h == NULL) {
        return constra__fail_null(err, "handle");
    }
    constra_error e = CONSTRA_ERROR_INIT;
    if (out == NULL) {
        return constra__report(constra__fail_null(&e, "out"), &e, err);
    }
    *out = NULL;
    int rc = constra__id_check_opaque(id, "id", &e);
    if (rc == CONSTRA_OK && h->remote_ops) {
        rc = h->remote_ops->events(h, id, out, &e);
    }
    if (rc != CONSTRA_OK || h->remote_ops) {
        return constra__report(rc, &e, err);
    }
    rc = h->storage.get_intent(h->storage.user_data, id, exists_row, NULL);
    if (rc != CONSTRA_OK) {
        if (rc == CONSTRA_E_NOT_FOUND) {
            constra__fail(&e, rc, "resource_missing", "id", "no payment intent %s", id);
        } else {
            rc = constra__fail(&e, CONSTRA_E_STORAGE, "storage_error", NULL,
                               "storage failed while reading the intent (status %d)", rc);
        }
        return constra__report(rc, &e, err);
    }
    constra_event_list *l = constra__calloc(&h->platform, 1, sizeof(*l));
    if (l == NULL) {
        return constra__report(constra__fail(&e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory"),
                               &e, err);
    }
    l->platform = h->platform;
    event_fill f = {l, CONSTRA_OK};
    rc = h->storage.list_events(h->storage.user_data, id, 0, EVENTS_MAX, event_row, &f);
    if (rc == CONSTRA_OK) {
        rc = f.rc;
    }
    if (rc == CONSTRA_OK) {
        constra__sbuf b;
        constra__sbuf_init(&b, &h->platform);
        constra__sbuf_puts(&b, "{\"object\":\"list\",\"data\":[");
        for (size_t i = 0; i < l->count; i++) {
            if (i) {
                constra__sbuf_puts(&b, ",");
            }
            constra__sbuf_puts(&b, l->items[i].json);
        }
        constra__sbuf_puts(&b, "],\"has_more\":false}");
        l->json = constra__sbuf_take(&b, &l->json_len);
        if (l->json == NULL) {
            rc = CONSTRA_E_NOMEM;
        }
    }
    if (rc != CONSTRA_OK) {
        constra_event_list_free(l);
        rc = rc == CONSTRA_E_NOMEM
                 ? constra__fail(&e, rc, NULL, NULL, "out of memory")
                 : constra__fail(&e, CONSTRA_E_STORAGE, "storage_error", NULL,
                                 "storage failed while reading events (status %d)", rc);
        return constra__report(rc, &e, err);
    }
    *out = l;
    return CONSTRA_OK;
}

size_t constra_event_list_count(const constra_event_list *l)
{
    return l ? l->count : 0;
}

const char *constra_event_list_type(const constra_event_list *l, size_t i)
{
    return (l && i < l->count) ? l->items[i].type : "";
}

const char *constra_event_list_id(const constra_event_list *l, size_t i)
{
    return (l && i < l->count) ? l->items[i].id : "";
}

const char *constra_event_list_event_json(const constra_event_list *l, size_t i)
{
    return (l && i < l->count) ? l->items[i].json : "";
}

const char *constra_event_list_json(const constra_event_list *l, size_t *len)
{
    if (len) {
        *len = l && l->json ? l->json_len : 0;
    }
    return l && l->json ? l->json : "";
}
