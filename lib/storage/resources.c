/*
 * The resource table's argument checks (resources.h): what the adapter
 * (on_records.c) refuses before it touches the storage.
 */
#include <stddef.h>
#include <string.h>

#include "constra/storage.h"
#include "storage/resources.h"
#include "util/check.h"

int constra__res_meta_key_valid(const char *key)
{
    return constra__res_valid_text(key) && key[0] != '\0';
}

int constra__res_meta_put_valid(const char *key, const char *value)
{
    return constra__res_meta_key_valid(key) && constra__res_valid_text(value);
}

/* 0 for NULL or a text over CONSTRA__RES_TEXT_MAX bytes, else its
 * length + 1 (so "" gives 1). */
static size_t long_text_size(const char *t)
{
    size_t n = t ? constra__strnlen(t, CONSTRA__RES_TEXT_MAX + 1) : SIZE_MAX - 1;
    return n <= CONSTRA__RES_TEXT_MAX ? n + 1 : 0;
}

int constra__res_endpoint_valid(const constra__res_endpoint *ep)
{
    return ep != NULL && ep->struct_size >= sizeof(*ep) && constra__res_valid_text(ep->id) &&
           ep->id[0] != '\0' && long_text_size(ep->url) > 1 && long_text_size(ep->secret) > 1 &&
           long_text_size(ep->event_types) > 1 && long_text_size(ep->attributes) > 0 &&
           (ep->enabled == 0 || ep->enabled == 1) &&
           ep->version >= 1 && ep->version < INT64_MAX;
}

int constra__res_delivery_valid(const constra__res_delivery *d)
{
    if (d == NULL || d->struct_size < sizeof(*d) || !constra__res_valid_text(d->id) ||
        d->id[0] == '\0' || !constra__res_valid_text(d->endpoint_id) ||
        d->endpoint_id[0] == '\0' || !constra__res_valid_text(d->event_id) ||
        d->event_id[0] == '\0' || !constra__res_valid_text(d->event_type) ||
        !constra__res_valid_text(d->state) || !constra__res_valid_text(d->last_error) ||
        d->attempts < 0 || d->version < 1 || d->version == INT64_MAX ||
        (d->body == NULL && d->body_len > 0) || (d->log == NULL && d->log_len > 0)) {
        return 0;
    }
    return strcmp(d->state, "pending") == 0 || strcmp(d->state, "delivered") == 0 ||
           strcmp(d->state, "failed") == 0;
}

int constra__res_delivery_query_valid(const constra__res_delivery_query *q)
{
    return q != NULL && q->struct_size >= sizeof(*q) && q->limit > 0 &&
           (q->id == NULL || constra__res_valid_text(q->id)) &&
           (q->endpoint_id == NULL || constra__res_valid_text(q->endpoint_id)) &&
           (q->state == NULL || constra__res_valid_text(q->state)) &&
           (q->starting_after == NULL || constra__res_valid_text(q->starting_after)) &&
           q->due_at_ms >= 0;
}

int constra__res_delivery_matches(const constra__res_delivery_query *q,
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

int constra__res_valid_text(const char *t)
{
    return t != NULL && constra__strnlen(t, CONSTRA__RES_KEY_MAX + 1) <= CONSTRA__RES_KEY_MAX;
}

int constra__res_idem_valid(const constra__res_idempotency *r)
{
    return r != NULL && r->struct_size >= sizeof(*r) && constra__res_valid_text(r->key) &&
           r->key[0] && constra__res_valid_text(r->fingerprint) && r->fingerprint[0] &&
           (r->response != NULL || r->response_len == 0);
}

int constra__res_check_write(const constra__res_write *w)
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
    const constra__res_intent *in = w->intent;
    if (in && (in->struct_size < sizeof(*in) || !constra__res_valid_text(in->id) || in->id[0] == '\0' ||
               !constra__res_valid_text(in->status) || (in->reference && !constra__res_valid_text(in->reference)) ||
               (in->checkout_request_id && !constra__res_valid_text(in->checkout_request_id)) ||
               (in->document == NULL && in->document_len > 0) || w->expected_version < 0 ||
               w->expected_version == INT64_MAX || in->version != w->expected_version + 1)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    for (size_t i = 0; i < w->event_count; i++) {
        const constra__res_event *e = &w->events[i];
        const char *owner = e->intent_id ? e->intent_id : "";
        if (!constra__res_valid_text(e->id) || !constra__res_valid_text(e->type) || !constra__res_valid_text(owner) ||
            (e->document == NULL && e->document_len > 0)) {
            return CONSTRA_E_INVALID_ARGUMENT;
        }
        /* An event belongs to the intent written with it, or to none. */
        if (owner[0] != '\0' && (in == NULL || strcmp(owner, in->id) != 0)) {
            return CONSTRA_E_INVALID_ARGUMENT;
        }
    }
    const constra__res_idempotency *r = w->idempotency;
    if (r && (!constra__res_valid_text(r->key) || !constra__res_valid_text(r->fingerprint) ||
              (r->response == NULL && r->response_len > 0))) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    /* A reservation made by the commit comes with the intent it creates. */
    if (w->idempotency_insert && (r == NULL || in == NULL || w->expected_version != 0)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    /* COMPLETED completes; IN_FLIGHT links, and a link names something. */
    if (r && r->state != CONSTRA__IDEM_COMPLETED &&
        !(r->state == CONSTRA__IDEM_IN_FLIGHT && r->response_len > 0)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    return CONSTRA_OK;
}
