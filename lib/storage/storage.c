/*
 * The storage vtable's checks, shared by every implementation and by the
 * engine when a host registers one.
 */
#include <stddef.h>
#include <string.h>

#include "constra/storage.h"
#include "storage/storage_internal.h"
#include "util/check.h"

/* The first published layout ends after `destroy`; the webhook group was
 * appended after it, so a host storage built before it still registers. */
#define STORAGE_V1_SIZE CONSTRA__STORAGE_V1_SIZE /* storage_internal.h */

int constra_storage_init(constra_storage *storage, size_t struct_size)
{
    static const constra_storage init = CONSTRA_STORAGE_INIT;
    return constra__init_struct(storage, struct_size, STORAGE_V1_SIZE, sizeof(init), &init);
}

int constra_storage_check(const constra_storage *caller, constra_error *err)
{
    int rc = constra__check_struct(caller, STORAGE_V1_SIZE, sizeof(*caller), "storage", err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    /* A caller built against an older storage.h passes a shorter struct:
     * read members only through a copy of our layout (missing tail zero). */
    constra_storage local;
    constra__copy_struct(&local, sizeof(local), caller);
    const constra_storage *s = &local;
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
    const struct {
        int present;
        const char *name;
    } group[] = {
        {s->webhook_endpoint_insert != NULL, "storage.webhook_endpoint_insert"},
        {s->webhook_endpoint_update != NULL, "storage.webhook_endpoint_update"},
        {s->webhook_endpoint_delete != NULL, "storage.webhook_endpoint_delete"},
        {s->webhook_endpoint_list != NULL, "storage.webhook_endpoint_list"},
        {s->webhook_enqueue != NULL, "storage.webhook_enqueue"},
        {s->webhook_delivery_list != NULL, "storage.webhook_delivery_list"},
        {s->webhook_delivery_update != NULL, "storage.webhook_delivery_update"},
    };
    size_t present = 0;
    for (size_t i = 0; i < CONSTRA__ARRAY_LEN(group); i++) {
        present += group[i].present ? 1 : 0;
    }
    /* Half a group would fail at the first delivery, long after open. */
    for (size_t i = 0; present != 0 && i < CONSTRA__ARRAY_LEN(group); i++) {
        if (!group[i].present) {
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_missing",
                                 group[i].name,
                                 "%s is required when any webhook method is present",
                                 group[i].name);
        }
    }
    /* The metadata pair: one without the other would record a mode that
     * is never read back, or read one that can never be recorded. */
    if ((s->meta_get == NULL) != (s->meta_put_if_absent == NULL)) {
        const char *missing = s->meta_get ? "storage.meta_put_if_absent" : "storage.meta_get";
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_missing", missing,
                             "%s is required when the other workspace metadata method is "
                             "present", missing);
    }
    return CONSTRA_OK;
}

int constra__storage_has_webhooks(const constra_storage *s)
{
    return s->struct_size > offsetof(constra_storage, webhook_delivery_update) &&
           s->webhook_endpoint_insert != NULL;
}

int constra__storage_has_meta(const constra_storage *s)
{
    return s->struct_size > offsetof(constra_storage, meta_put_if_absent) && s->meta_get != NULL &&
           s->meta_put_if_absent != NULL;
}

int constra__storage_meta_key_valid(const char *key)
{
    return constra__storage_valid_text(key) && key[0] != '\0';
}

int constra__storage_meta_put_valid(const char *key, const char *value)
{
    return constra__storage_meta_key_valid(key) && constra__storage_valid_text(value);
}

/* 0 for NULL or a text over CONSTRA_STORAGE_TEXT_MAX bytes, else its
 * length + 1 (so "" gives 1). */
static size_t long_text_size(const char *t)
{
    size_t n = t ? constra__strnlen(t, CONSTRA_STORAGE_TEXT_MAX + 1) : SIZE_MAX - 1;
    return n <= CONSTRA_STORAGE_TEXT_MAX ? n + 1 : 0;
}

int constra__storage_endpoint_valid(const constra_storage_webhook_endpoint *ep)
{
    return ep != NULL && ep->struct_size >= sizeof(*ep) && constra__storage_valid_text(ep->id) &&
           ep->id[0] != '\0' && long_text_size(ep->url) > 1 && long_text_size(ep->secret) > 1 &&
           long_text_size(ep->event_types) > 1 && long_text_size(ep->attributes) > 0 &&
           (ep->enabled == 0 || ep->enabled == 1) &&
           ep->version >= 1 && ep->version < INT64_MAX;
}

int constra__storage_delivery_valid(const constra_storage_delivery *d)
{
    if (d == NULL || d->struct_size < sizeof(*d) || !constra__storage_valid_text(d->id) ||
        d->id[0] == '\0' || !constra__storage_valid_text(d->endpoint_id) ||
        d->endpoint_id[0] == '\0' || !constra__storage_valid_text(d->event_id) ||
        d->event_id[0] == '\0' || !constra__storage_valid_text(d->event_type) ||
        !constra__storage_valid_text(d->state) || !constra__storage_valid_text(d->last_error) ||
        d->attempts < 0 || d->version < 1 || d->version == INT64_MAX ||
        (d->body == NULL && d->body_len > 0) || (d->log == NULL && d->log_len > 0)) {
        return 0;
    }
    return strcmp(d->state, "pending") == 0 || strcmp(d->state, "delivered") == 0 ||
           strcmp(d->state, "failed") == 0;
}

int constra__storage_delivery_query_valid(const constra_storage_delivery_query *q)
{
    return q != NULL && q->struct_size >= sizeof(*q) && q->limit > 0 &&
           (q->id == NULL || constra__storage_valid_text(q->id)) &&
           (q->endpoint_id == NULL || constra__storage_valid_text(q->endpoint_id)) &&
           (q->state == NULL || constra__storage_valid_text(q->state)) &&
           (q->starting_after == NULL || constra__storage_valid_text(q->starting_after)) &&
           q->due_at_ms >= 0;
}

int constra__storage_delivery_matches(const constra_storage_delivery_query *q,
                                      const char *id, const char *endpoint_id, const char *state,
                                      int64_t next_attempt_at_ms)
{
    if (q->id && q->id[0] && strcmp(q->id, id) != 0) {
        return 0;
    }
    if (q->endpoint_id && q->endpoint_id[0] && strcmp(q->endpoint_id, endpoint_id) != 0) {
        return 0;
    }
    if (q->state && q->state[0] && strcmp(q->state, state) != 0) {
        return 0;
    }
    if (q->due_at_ms > 0 && next_attempt_at_ms > q->due_at_ms) {
        return 0;
    }
    return !(q->starting_after && q->starting_after[0] && strcmp(id, q->starting_after) <= 0);
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
    /* COMPLETED completes; IN_FLIGHT links, and a link names something. */
    if (r && r->state != CONSTRA_IDEMPOTENCY_COMPLETED &&
        !(r->state == CONSTRA_IDEMPOTENCY_IN_FLIGHT && r->response_len > 0)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    return CONSTRA_OK;
}
