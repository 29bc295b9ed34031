/*
 * The storage vtable's checks, shared by every implementation and by the
 * engine when a host registers one.
 */
#include <string.h>

#include "constra/storage.h"
#include "storage/storage_internal.h"
#include "util/check.h"

#define STORAGE_V1_SIZE sizeof(constra_storage)

int constra_storage_init(constra_storage *storage, size_t struct_size)
{
    if (storage == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    if (struct_size < STORAGE_V1_SIZE || struct_size > CONSTRA__STRUCT_SIZE_MAX) {
        return CONSTRA_E_ABI;
    }
    constra_storage init = CONSTRA_STORAGE_INIT;
    *storage = init;
    storage->struct_size = struct_size;
    return CONSTRA_OK;
}

int constra_storage_check(const constra_storage *s, constra_error *err)
{
    int rc = constra__check_struct(s, STORAGE_V1_SIZE, sizeof(*s), "storage", err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    const struct {
        int present;
        const char *name;
    } required[] = {
        {s->commit != NULL, "storage.commit"},
        {s->get_intent != NULL, "storage.get_intent"},
        {s->find_by_checkout != NULL, "storage.find_by_checkout"},
        {s->list_intents != NULL, "storage.list_intents"},
        {s->list_events != NULL, "storage.list_events"},
        {s->idempotency_reserve != NULL, "storage.idempotency_reserve"},
        {s->idempotency_complete != NULL, "storage.idempotency_complete"},
        {s->idempotency_release != NULL, "storage.idempotency_release"},
    };
    for (size_t i = 0; i < CONSTRA__ARRAY_LEN(required); i++) {
        if (!required[i].present) {
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_missing",
                                 required[i].name, "%s is required", required[i].name);
        }
    }
    return CONSTRA_OK;
}

int constra__storage_valid_text(const char *t)
{
    return t != NULL && constra__strnlen(t, CONSTRA_STORAGE_KEY_MAX + 1) <= CONSTRA_STORAGE_KEY_MAX;
}

int constra__storage_idem_valid(const constra_storage_idempotency *r)
{
    return r != NULL && r->struct_size >= sizeof(*r) && constra__storage_valid_text(r->key) &&
           r->key[0] && constra__storage_valid_text(r->fingerprint) && r->fingerprint[0] &&
           (r->response != NULL || r->response_len == 0);
}

int constra__storage_check_write(const constra_storage_write *w)
{
    if (w == NULL || w->struct_size < sizeof(*w)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    if (w->intent == NULL && w->event_count == 0 && w->idempotency == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    if (w->event_count > 0 && w->events == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    const constra_storage_intent *in = w->intent;
    if (in && (in->struct_size < sizeof(*in) || !constra__storage_valid_text(in->id) || in->id[0] == '\0' ||
               !constra__storage_valid_text(in->status) || (in->reference && !constra__storage_valid_text(in->reference)) ||
               (in->checkout_request_id && !constra__storage_valid_text(in->checkout_request_id)) ||
               (in->document == NULL && in->document_len > 0) || w->expected_version < 0 ||
               w->expected_version == INT64_MAX || in->version != w->expected_version + 1)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    for (size_t i = 0; i < w->event_count; i++) {
        const constra_storage_event *e = &w->events[i];
        const char *owner = e->intent_id ? e->intent_id : "";
        if (!constra__storage_valid_text(e->id) || !constra__storage_valid_text(e->type) || !constra__storage_valid_text(owner) ||
            (e->document == NULL && e->document_len > 0)) {
            return CONSTRA_E_INVALID_ARGUMENT;
        }
        /* An event belongs to the intent written with it, or to none. */
        if (owner[0] != '\0' && (in == NULL || strcmp(owner, in->id) != 0)) {
            return CONSTRA_E_INVALID_ARGUMENT;
        }
    }
    const constra_storage_idempotency *r = w->idempotency;
    if (r && (!constra__storage_valid_text(r->key) || !constra__storage_valid_text(r->fingerprint) ||
              (r->response == NULL && r->response_len > 0))) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    return CONSTRA_OK;
}
