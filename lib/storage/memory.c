/*
 * The in-memory storage: the default, and the reference the conformance
 * suite is written against.
 *
 * Atomicity without transactions: every write first validates and
 * allocates everything it will need (copies of strings and documents,
 * room in arrays and maps), and only then mutates, in steps that cannot
 * fail. A failure at any point before that leaves the state untouched.
 */
#include <string.h>

#include "constra/storage.h"
#include "storage/storage_internal.h"
#include "platform/platform.h"
#include "util/check.h"
#include "util/strmap.h"

typedef struct mem_intent {
    char *id;
    char *status;
    char *reference;
    char *checkout;
    /* Checkout ids the intent had before `checkout` (earlier attempts):
     * still in by_checkout, findable for the life of the intent. */
    char **former_checkouts;
    size_t former_count;
    size_t former_cap;
    int64_t created_at_ms;
    int64_t updated_at_ms;
    int64_t version;
    char *document;
    size_t document_len;
    size_t *events; /* indexes into mem_store.events, in commit order */
    size_t event_count;
    size_t event_cap;
} mem_intent;

typedef struct mem_event {
    char *id;
    char *intent_id;
    char *type;
    int64_t created_at_ms;
    char *document;
    size_t document_len;
} mem_event; /* sequence = index + 1 */

typedef struct mem_idem {
    char *key;
    char *fingerprint;
    int state;
    int http_status;
    char *response;
    size_t response_len;
    int64_t created_at_ms;
    int64_t expires_at_ms;
    int64_t lease_expires_at_ms;
} mem_idem;

/* The texts an update replaces, in one array so that insert and update
 * copy and free them in one loop (code size counts on firmware). */
enum { EP_URL, EP_SECRET, EP_TYPES, EP_ATTRIBUTES, EP_TEXTS };
typedef struct mem_endpoint_texts {
    char *t[EP_TEXTS];
} mem_endpoint_texts;

typedef struct mem_endpoint {
    char *id;
    mem_endpoint_texts t;
    int enabled;
    int64_t created_at_ms, updated_at_ms, cursor, version;
} mem_endpoint;

typedef struct mem_delivery {
    char *id, *endpoint_id, *event_id, *event_type;
    char *pair; /* "<endpoint_id> <event_id>": key of mem_store.pairs */
    int64_t event_sequence;
    char *state;
    int attempts, last_status;
    char *last_error;
    int64_t next_attempt_at_ms, created_at_ms, updated_at_ms, version;
    char *body, *log;
    size_t body_len, log_len;
} mem_delivery;

typedef struct mem_store {
    constra_platform platform;
    void *mutex;
    constra__strmap by_id;       /* id -> mem_intent */
    constra__strmap by_checkout; /* checkout id -> mem_intent */
    constra__strmap idem;        /* key -> mem_idem */
    mem_intent **sorted;         /* ascending by id */
    size_t intent_count, sorted_cap;
    mem_event **events;
    size_t event_count, event_cap;
    mem_endpoint **endpoints;    /* ascending by id */
    size_t endpoint_count, endpoint_cap;
    mem_delivery **deliveries;   /* ascending by id */
    size_t delivery_count, delivery_cap;
    constra__strmap pairs;       /* (endpoint, event) -> mem_delivery */
    constra__strmap meta;        /* workspace metadata: key -> mem_meta */
} mem_store;

typedef struct mem_meta {
    char *key;
    char *value;
} mem_meta;

/* ---- small helpers ---------------------------------------------------- */

static char *dup_str(mem_store *s, const char *text)
{
    const char *t = text ? text : "";
    return constra__strndup(&s->platform, t, strlen(t));
}

static char *dup_mem(mem_store *s, const char *data, size_t len)
{
    return constra__strndup(&s->platform, data ? data : "", data ? len : 0);
}

/* Grows *arr (elements of `size`) to hold `need`; 0 or -1 (unchanged). */
static int grow(mem_store *s, void **arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) {
        return 0;
    }
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / size) {
            return -1;
        }
        ncap *= 2;
    }
    void *p = constra__realloc(&s->platform, *arr, ncap * size);
    if (p == NULL) {
        return -1;
    }
    *arr = p;
    *cap = ncap;
    return 0;
}

static void free_former_checkouts(mem_store *s, mem_intent *i)
{
    for (size_t k = 0; k < i->former_count; k++) {
        constra__free(&s->platform, i->former_checkouts[k]);
    }
    constra__free(&s->platform, i->former_checkouts);
}

static void free_intent_fields(mem_store *s, mem_intent *i)
{
    constra__free(&s->platform, i->status);
    constra__free(&s->platform, i->reference);
    constra__free(&s->platform, i->checkout);
    constra__free(&s->platform, i->document);
}

static void free_event(mem_store *s, mem_event *e)
{
    if (e == NULL) {
        return;
    }
    constra__free(&s->platform, e->id);
    constra__free(&s->platform, e->intent_id);
    constra__free(&s->platform, e->type);
    constra__free(&s->platform, e->document);
    constra__free(&s->platform, e);
}

static void free_idem(mem_store *s, mem_idem *r)
{
    if (r == NULL) {
        return;
    }
    constra__free(&s->platform, r->key);
    constra__free(&s->platform, r->fingerprint);
    constra__free(&s->platform, r->response);
    constra__free(&s->platform, r);
}

static void row_of(const mem_intent *i, constra_storage_intent *row)
{
    *row = (constra_storage_intent){sizeof(*row), i->id, i->status, i->reference, i->checkout,
                                    i->created_at_ms, i->updated_at_ms, i->version,
                                    i->document, i->document_len};
}

static void event_row(const mem_event *e, size_t index, constra_storage_event *row)
{
    *row = (constra_storage_event){sizeof(*row), e->id, e->intent_id, e->type,
                                   e->created_at_ms, (int64_t)index + 1, e->document,
                                   e->document_len};
}

static void idem_row(const mem_idem *r, constra_storage_idempotency *row)
{
    *row = (constra_storage_idempotency){sizeof(*row), r->key, r->fingerprint, r->state,
                                         r->http_status, r->response, r->response_len,
                                         r->created_at_ms, r->expires_at_ms,
                                         r->lease_expires_at_ms};
}

/* Position of the first intent with id >= `id` in the sorted array. */
static size_t lower_bound(const mem_store *s, const char *id)
{
    size_t lo = 0, hi = s->intent_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(s->sorted[mid]->id, id) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* ---- commit ----------------------------------------------------------- */

typedef struct prepared {
    mem_intent fresh;     /* new field values (strings owned until applied) */
    mem_intent *target;   /* existing intent, or a new allocation */
    int inserting;
    mem_event **events;   /* new event records */
    size_t event_count;
    char *response;       /* copy of the idempotency response */
    mem_idem *idem;       /* the record to complete */
} prepared;

static void discard(mem_store *s, prepared *p)
{
    free_intent_fields(s, &p->fresh);
    if (p->inserting && p->target) {
        constra__free(&s->platform, p->target->id);
        constra__free(&s->platform, p->target->events);
        constra__free(&s->platform, p->target);
    }
    if (p->events) {
        for (size_t i = 0; i < p->event_count; i++) {
            free_event(s, p->events[i]);
        }
        constra__free(&s->platform, p->events);
    }
    constra__free(&s->platform, p->response);
}

static int prepare(mem_store *s, const constra_storage_write *w, prepared *p)
{
    memset(p, 0, sizeof(*p));
    const constra_storage_intent *in = w->intent;
    if (in) {
        mem_intent *existing = constra__strmap_get(&s->by_id, in->id);
        if (w->expected_version == 0) {
            if (existing) {
                return CONSTRA_E_CONFLICT;
            }
        } else if (existing == NULL) {
            return CONSTRA_E_NOT_FOUND;
        } else if (existing->version != w->expected_version) {
            return CONSTRA_E_CONFLICT;
        }
        const char *checkout = in->checkout_request_id ? in->checkout_request_id : "";
        if (checkout[0] != '\0') {
            mem_intent *owner = constra__strmap_get(&s->by_checkout, checkout);
            if (owner && owner != existing) {
                return CONSTRA_E_CONFLICT; /* one checkout id, one intent */
            }
        }
        /* A new current checkout keeps the old one findable: room for it. */
        if (existing && existing->checkout[0] != '\0' && strcmp(existing->checkout, checkout) != 0 &&
            grow(s, (void **)&existing->former_checkouts, &existing->former_cap,
                 existing->former_count + 1, sizeof(char *))) {
            return CONSTRA_E_NOMEM;
        }
        p->inserting = existing == NULL;
        if (p->inserting) {
            p->target = constra__calloc(&s->platform, 1, sizeof(mem_intent));
            if (p->target == NULL || (p->target->id = dup_str(s, in->id)) == NULL) {
                return CONSTRA_E_NOMEM;
            }
        } else {
            p->target = existing;
        }
        p->fresh.status = dup_str(s, in->status);
        p->fresh.reference = dup_str(s, in->reference);
        p->fresh.checkout = dup_str(s, checkout);
        p->fresh.document = dup_mem(s, in->document, in->document_len);
        if (!p->fresh.status || !p->fresh.reference || !p->fresh.checkout ||
            !p->fresh.document) {
            return CONSTRA_E_NOMEM;
        }
        p->fresh.document_len = in->document_len;
        p->fresh.created_at_ms = in->created_at_ms;
        p->fresh.updated_at_ms = in->updated_at_ms;
        p->fresh.version = in->version;
        size_t need = p->target->event_count + w->event_count;
        if (grow(s, (void **)&p->target->events, &p->target->event_cap, need, sizeof(size_t)) ||
            (p->inserting && grow(s, (void **)&s->sorted, &s->sorted_cap, s->intent_count + 1,
                                  sizeof(mem_intent *))) ||
            constra__strmap_reserve(&s->by_id, 1) || constra__strmap_reserve(&s->by_checkout, 1)) {
            return CONSTRA_E_NOMEM;
        }
    }
    if (w->event_count > 0) {
        p->events = constra__calloc(&s->platform, w->event_count, sizeof(mem_event *));
        if (p->events == NULL) {
            return CONSTRA_E_NOMEM;
        }
        p->event_count = w->event_count;
        for (size_t i = 0; i < w->event_count; i++) {
            const constra_storage_event *e = &w->events[i];
            mem_event *m = constra__calloc(&s->platform, 1, sizeof(*m));
            p->events[i] = m;
            if (m == NULL || !(m->id = dup_str(s, e->id)) ||
                !(m->intent_id = dup_str(s, e->intent_id)) || !(m->type = dup_str(s, e->type)) ||
                !(m->document = dup_mem(s, e->document, e->document_len))) {
                return CONSTRA_E_NOMEM;
            }
            m->document_len = e->document_len;
            m->created_at_ms = e->created_at_ms;
        }
        if (grow(s, (void **)&s->events, &s->event_cap, s->event_count + w->event_count,
                 sizeof(mem_event *))) {
            return CONSTRA_E_NOMEM;
        }
    }
    if (w->idempotency) {
        p->idem = constra__strmap_get(&s->idem, w->idempotency->key);
        /* Reserved for this request; a link only onto an unlinked key. */
        if (p->idem == NULL || p->idem->state != CONSTRA_IDEMPOTENCY_IN_FLIGHT ||
            strcmp(p->idem->fingerprint, w->idempotency->fingerprint) != 0 ||
            (w->idempotency->state == CONSTRA_IDEMPOTENCY_IN_FLIGHT &&
             p->idem->response_len > 0)) {
            return CONSTRA_E_CONFLICT;
        }
        p->response = dup_mem(s, w->idempotency->response, w->idempotency->response_len);
        if (p->response == NULL) {
            return CONSTRA_E_NOMEM;
        }
    }
    return CONSTRA_OK;
}

/* Nothing below can fail: all room was made in prepare(). */
static void apply(mem_store *s, const constra_storage_write *w, prepared *p)
{
    if (p->target) {
        mem_intent *t = p->target;
        if (!p->inserting && t->checkout[0] != '\0') {
            if (strcmp(t->checkout, p->fresh.checkout) != 0) {
                /* The earlier attempt's id stays mapped (room made in
                 * prepare): a late result for it still finds the intent. */
                t->former_checkouts[t->former_count++] = t->checkout;
                t->checkout = NULL;
            } else {
                /* Same id: mapped again below with the new string. */
                constra__strmap_remove(&s->by_checkout, t->checkout);
            }
        }
        free_intent_fields(s, t);
        t->status = p->fresh.status;
        t->reference = p->fresh.reference;
        t->checkout = p->fresh.checkout;
        t->document = p->fresh.document;
        t->document_len = p->fresh.document_len;
        t->created_at_ms = p->fresh.created_at_ms;
        t->updated_at_ms = p->fresh.updated_at_ms;
        t->version = p->fresh.version;
        memset(&p->fresh, 0, sizeof(p->fresh));
        if (t->checkout[0] != '\0') {
            constra__strmap_put(&s->by_checkout, t->checkout, t);
        }
        if (p->inserting) {
            constra__strmap_put(&s->by_id, t->id, t);
            size_t at = lower_bound(s, t->id);
            memmove(&s->sorted[at + 1], &s->sorted[at],
                    (s->intent_count - at) * sizeof(mem_intent *));
            s->sorted[at] = t;
            s->intent_count++;
            p->inserting = 0;
        }
    }
    for (size_t i = 0; i < p->event_count; i++) {
        if (p->target && p->events[i]->intent_id[0] != '\0') {
            p->target->events[p->target->event_count++] = s->event_count;
        }
        s->events[s->event_count++] = p->events[i];
        p->events[i] = NULL;
    }
    if (p->idem) {
        constra__free(&s->platform, p->idem->response);
        p->idem->response = p->response;
        p->idem->response_len = w->idempotency->response_len;
        p->idem->http_status = w->idempotency->http_status;
        p->idem->state = w->idempotency->state;
        p->idem->expires_at_ms = w->idempotency->expires_at_ms;
        p->response = NULL;
    }
}

static int mem_commit(void *ud, const constra_storage_write *w)
{
    mem_store *s = ud;
    int rc = constra__storage_check_write(w);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    prepared p;
    constra__lock(&s->platform, s->mutex);
    rc = prepare(s, w, &p);
    if (rc == CONSTRA_OK) {
        apply(s, w, &p);
    }
    discard(s, &p);
    constra__unlock(&s->platform, s->mutex);
    return rc;
}

/* ---- reads ------------------------------------------------------------ */

static int emit_intent(mem_store *s, const mem_intent *i, constra_storage_intent_fn emit, void *ctx)
{
    (void)s;
    constra_storage_intent row;
    row_of(i, &row);
    return emit(ctx, &row);
}

static int mem_get_intent(void *ud, const char *id, constra_storage_intent_fn emit, void *ctx)
{
    mem_store *s = ud;
    if (!constra__storage_valid_text(id) || emit == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra__lock(&s->platform, s->mutex);
    mem_intent *i = constra__strmap_get(&s->by_id, id);
    if (i) {
        emit_intent(s, i, emit, ctx);
    }
    constra__unlock(&s->platform, s->mutex);
    return i ? CONSTRA_OK : CONSTRA_E_NOT_FOUND;
}

static int mem_find_by_checkout(void *ud, const char *checkout, constra_storage_intent_fn emit,
                                void *ctx)
{
    mem_store *s = ud;
    if (!constra__storage_valid_text(checkout) || checkout[0] == '\0' || emit == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra__lock(&s->platform, s->mutex);
    mem_intent *i = constra__strmap_get(&s->by_checkout, checkout);
    if (i) {
        emit_intent(s, i, emit, ctx);
    }
    constra__unlock(&s->platform, s->mutex);
    return i ? CONSTRA_OK : CONSTRA_E_NOT_FOUND;
}

static int mem_list_intents(void *ud, const constra_storage_query *q,
                            constra_storage_intent_fn emit, void *ctx)
{
    mem_store *s = ud;
    if (q == NULL || q->struct_size < sizeof(*q) || q->limit == 0 || emit == NULL ||
        (q->status && !constra__storage_valid_text(q->status)) || (q->reference && !constra__storage_valid_text(q->reference)) ||
        (q->starting_after && !constra__storage_valid_text(q->starting_after))) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra__lock(&s->platform, s->mutex);
    size_t end = s->intent_count;
    if (q->starting_after && q->starting_after[0] != '\0') {
        end = lower_bound(s, q->starting_after); /* ids strictly less */
    }
    size_t emitted = 0;
    for (size_t k = end; k > 0 && emitted < q->limit; k--) {
        const mem_intent *i = s->sorted[k - 1];
        if ((q->status && q->status[0] && strcmp(i->status, q->status) != 0) ||
            (q->reference && q->reference[0] && strcmp(i->reference, q->reference) != 0) ||
            (q->created_from_ms && i->created_at_ms < q->created_from_ms) ||
            (q->created_to_ms && i->created_at_ms >= q->created_to_ms)) {
            continue;
        }
        emitted++;
        if (emit_intent(s, i, emit, ctx) != 0) {
            break;
        }
    }
    constra__unlock(&s->platform, s->mutex);
    return CONSTRA_OK;
}

static int mem_list_events(void *ud, const char *intent_id, int64_t after, size_t limit,
                           constra_storage_event_fn emit, void *ctx)
{
    mem_store *s = ud;
    if ((intent_id && !constra__storage_valid_text(intent_id)) || emit == NULL || after < 0) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra__lock(&s->platform, s->mutex);
    constra_storage_event row;
    size_t emitted = 0;
    if (intent_id && intent_id[0] != '\0') {
        const mem_intent *i = constra__strmap_get(&s->by_id, intent_id);
        for (size_t k = 0; i && k < i->event_count && emitted < limit; k++) {
            size_t idx = i->events[k];
            if ((int64_t)idx + 1 <= after) {
                continue;
            }
            event_row(s->events[idx], idx, &row);
            emitted++;
            if (emit(ctx, &row) != 0) {
                break;
            }
        }
    } else {
        for (size_t idx = (size_t)(after < (int64_t)s->event_count ? after : (int64_t)s->event_count);
             idx < s->event_count && emitted < limit; idx++) {
            if (intent_id && s->events[idx]->intent_id[0] != '\0') {
                continue; /* "" asks for unmatched callbacks only */
            }
            event_row(s->events[idx], idx, &row);
            emitted++;
            if (emit(ctx, &row) != 0) {
                break;
            }
        }
    }
    constra__unlock(&s->platform, s->mutex);
    return CONSTRA_OK;
}

/* ---- idempotency ------------------------------------------------------ */

static int mem_idem_reserve(void *ud, const constra_storage_idempotency *r, int64_t now,
                            constra_storage_idempotency_fn emit, void *ctx)
{
    mem_store *s = ud;
    if (!constra__storage_idem_valid(r)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    int rc = CONSTRA_OK;
    constra__lock(&s->platform, s->mutex);
    mem_idem *cur = constra__strmap_get(&s->idem, r->key);
    int dead = cur && (cur->expires_at_ms <= now ||
                       (cur->state == CONSTRA_IDEMPOTENCY_IN_FLIGHT &&
                        cur->lease_expires_at_ms <= now));
    if (cur && !dead) {
        if (emit) {
            constra_storage_idempotency row;
            idem_row(cur, &row);
            emit(ctx, &row);
        }
        rc = CONSTRA_E_CONFLICT;
    } else {
        mem_idem *n = constra__calloc(&s->platform, 1, sizeof(*n));
        if (n == NULL || !(n->key = dup_str(s, r->key)) ||
            !(n->fingerprint = dup_str(s, r->fingerprint)) ||
            constra__strmap_reserve(&s->idem, 1) != 0) {
            free_idem(s, n);
            rc = CONSTRA_E_NOMEM;
        } else {
            n->state = CONSTRA_IDEMPOTENCY_IN_FLIGHT;
            n->created_at_ms = r->created_at_ms;
            n->expires_at_ms = r->expires_at_ms;
            n->lease_expires_at_ms = r->lease_expires_at_ms;
            constra__strmap_put(&s->idem, n->key, n);
            free_idem(s, cur); /* the dead record it replaces */
        }
    }
    constra__unlock(&s->platform, s->mutex);
    return rc;
}

static int mem_idem_complete(void *ud, const constra_storage_idempotency *r)
{
    mem_store *s = ud;
    if (!constra__storage_idem_valid(r)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra_storage_write w = {sizeof(w), NULL, 0, NULL, 0, r};
    return mem_commit(s, &w);
}

static int mem_idem_release(void *ud, const char *key, const char *fingerprint)
{
    mem_store *s = ud;
    if (!constra__storage_valid_text(key) || !constra__storage_valid_text(fingerprint)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra__lock(&s->platform, s->mutex);
    mem_idem *cur = constra__strmap_get(&s->idem, key);
    if (cur && cur->state == CONSTRA_IDEMPOTENCY_IN_FLIGHT && cur->response_len == 0 &&
        strcmp(cur->fingerprint, fingerprint) == 0) {
        constra__strmap_remove(&s->idem, key);
        free_idem(s, cur);
    }
    constra__unlock(&s->platform, s->mutex);
    return CONSTRA_OK;
}

static int mem_purge_expired(void *ud, int64_t now)
{
    mem_store *s = ud;
    constra__lock(&s->platform, s->mutex);
    for (size_t i = 0; i < s->idem.capacity; i++) {
        constra__strmap_slot *slot = &s->idem.slots[i];
        if (slot->key == NULL || slot->value == NULL) {
            continue;
        }
        mem_idem *r = slot->value;
        if (r->expires_at_ms <= now) {
            constra__strmap_remove(&s->idem, r->key);
            free_idem(s, r);
        }
    }
    constra__unlock(&s->platform, s->mutex);
    return CONSTRA_OK;
}

/* ---- webhook delivery ------------------------------------------------- */

static void free_endpoint_texts(mem_store *s, mem_endpoint_texts *t)
{
    for (size_t i = 0; i < EP_TEXTS; i++) {
        constra__free(&s->platform, t->t[i]);
        t->t[i] = NULL;
    }
}

/* Copies the row's texts into *t; 0, or -1 with nothing kept. */
static int copy_endpoint_texts(mem_store *s, const constra_storage_webhook_endpoint *ep,
                               mem_endpoint_texts *t)
{
    const char *from[EP_TEXTS] = {ep->url, ep->secret, ep->event_types, ep->attributes};
    int ok = 1;
    for (size_t i = 0; i < EP_TEXTS; i++) {
        t->t[i] = dup_str(s, from[i]);
        ok &= t->t[i] != NULL;
    }
    if (!ok) {
        free_endpoint_texts(s, t);
    }
    return ok ? 0 : -1;
}

static void free_endpoint(mem_store *s, mem_endpoint *e)
{
    if (e == NULL) {
        return;
    }
    constra__free(&s->platform, e->id);
    free_endpoint_texts(s, &e->t);
    constra__free(&s->platform, e);
}

static void free_delivery(mem_store *s, mem_delivery *d)
{
    if (d == NULL) {
        return;
    }
    constra__free(&s->platform, d->id);
    constra__free(&s->platform, d->endpoint_id);
    constra__free(&s->platform, d->event_id);
    constra__free(&s->platform, d->event_type);
    constra__free(&s->platform, d->pair);
    constra__free(&s->platform, d->state);
    constra__free(&s->platform, d->last_error);
    constra__free(&s->platform, d->body);
    constra__free(&s->platform, d->log);
    constra__free(&s->platform, d);
}

/* Index of the first element whose id is >= id (arrays of structs whose
 * first member is `char *id`). */
static size_t bound_ep(mem_endpoint *const *a, size_t n, const char *id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(a[mid]->id, id) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static size_t bound_dl(mem_delivery *const *a, size_t n, const char *id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(a[mid]->id, id) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static mem_endpoint *find_ep(mem_store *s, const char *id)
{
    size_t at = bound_ep(s->endpoints, s->endpoint_count, id);
    return at < s->endpoint_count && strcmp(s->endpoints[at]->id, id) == 0 ? s->endpoints[at]
                                                                            : NULL;
}

static mem_delivery *find_dl(mem_store *s, const char *id)
{
    size_t at = bound_dl(s->deliveries, s->delivery_count, id);
    return at < s->delivery_count && strcmp(s->deliveries[at]->id, id) == 0 ? s->deliveries[at]
                                                                              : NULL;
}

static char *pair_key(mem_store *s, const char *endpoint_id, const char *event_id)
{
    size_t a = strlen(endpoint_id), b = strlen(event_id);
    char *k = constra__malloc(&s->platform, a + b + 2);
    if (k) {
        memcpy(k, endpoint_id, a);
        k[a] = ' ';
        memcpy(k + a + 1, event_id, b + 1);
    }
    return k;
}

static void endpoint_row(const mem_endpoint *e, constra_storage_webhook_endpoint *row)
{
    const char *const *t = (const char *const *)e->t.t;
    *row = (constra_storage_webhook_endpoint){sizeof(*row), e->id, t[EP_URL], t[EP_SECRET],
                                              t[EP_TYPES], e->enabled, e->created_at_ms,
                                              e->updated_at_ms, e->cursor, e->version,
                                              t[EP_ATTRIBUTES]};
}

static void delivery_row(const mem_delivery *d, constra_storage_delivery *row)
{
    *row = (constra_storage_delivery){sizeof(*row), d->id, d->endpoint_id, d->event_id,
                                      d->event_type, d->event_sequence, d->state, d->attempts,
                                      d->last_status, d->last_error, d->next_attempt_at_ms,
                                      d->created_at_ms, d->updated_at_ms, d->version, d->body,
                                      d->body_len, d->log, d->log_len};
}

static int mem_ep_insert(void *ud, const constra_storage_webhook_endpoint *ep)
{
    mem_store *s = ud;
    if (!constra__storage_endpoint_valid(ep) || ep->version != 1) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    int rc = CONSTRA_OK;
    constra__lock(&s->platform, s->mutex);
    if (find_ep(s, ep->id)) {
        rc = CONSTRA_E_CONFLICT;
    } else {
        mem_endpoint *n = constra__calloc(&s->platform, 1, sizeof(*n));
        if (n == NULL || !(n->id = dup_str(s, ep->id)) || copy_endpoint_texts(s, ep, &n->t) ||
            grow(s, (void **)&s->endpoints, &s->endpoint_cap, s->endpoint_count + 1,
                 sizeof(mem_endpoint *))) {
            free_endpoint(s, n);
            rc = CONSTRA_E_NOMEM;
        } else {
            n->enabled = ep->enabled;
            n->created_at_ms = ep->created_at_ms;
            n->updated_at_ms = ep->updated_at_ms;
            n->cursor = (int64_t)s->event_count; /* the last sequence assigned */
            n->version = 1;
            size_t at = bound_ep(s->endpoints, s->endpoint_count, n->id);
            memmove(&s->endpoints[at + 1], &s->endpoints[at],
                    (s->endpoint_count - at) * sizeof(mem_endpoint *));
            s->endpoints[at] = n;
            s->endpoint_count++;
        }
    }
    constra__unlock(&s->platform, s->mutex);
    return rc;
}

static int mem_ep_update(void *ud, const constra_storage_webhook_endpoint *ep, int64_t expected)
{
    mem_store *s = ud;
    if (!constra__storage_endpoint_valid(ep) || expected < 1 || ep->version != expected + 1) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    int rc = CONSTRA_OK;
    constra__lock(&s->platform, s->mutex);
    mem_endpoint *cur = find_ep(s, ep->id);
    if (cur == NULL) {
        rc = CONSTRA_E_NOT_FOUND;
    } else if (cur->version != expected) {
        rc = CONSTRA_E_CONFLICT;
    } else {
        mem_endpoint_texts t;
        if (copy_endpoint_texts(s, ep, &t) != 0) {
            rc = CONSTRA_E_NOMEM;
        } else {
            free_endpoint_texts(s, &cur->t);
            cur->t = t;
            cur->enabled = ep->enabled;
            cur->updated_at_ms = ep->updated_at_ms;
            cur->version = ep->version;
        }
    }
    constra__unlock(&s->platform, s->mutex);
    return rc;
}

static int mem_ep_delete(void *ud, const char *id)
{
    mem_store *s = ud;
    if (!constra__storage_valid_text(id)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    int rc = CONSTRA_OK;
    constra__lock(&s->platform, s->mutex);
    size_t at = bound_ep(s->endpoints, s->endpoint_count, id);
    if (at >= s->endpoint_count || strcmp(s->endpoints[at]->id, id) != 0) {
        rc = CONSTRA_E_NOT_FOUND;
    } else {
        free_endpoint(s, s->endpoints[at]);
        memmove(&s->endpoints[at], &s->endpoints[at + 1],
                (s->endpoint_count - at - 1) * sizeof(mem_endpoint *));
        s->endpoint_count--;
        size_t keep = 0;
        for (size_t i = 0; i < s->delivery_count; i++) {
            mem_delivery *d = s->deliveries[i];
            if (strcmp(d->endpoint_id, id) == 0) {
                constra__strmap_remove(&s->pairs, d->pair);
                free_delivery(s, d);
            } else {
                s->deliveries[keep++] = d;
            }
        }
        s->delivery_count = keep;
    }
    constra__unlock(&s->platform, s->mutex);
    return rc;
}

static int mem_ep_list(void *ud, constra_storage_endpoint_fn emit, void *ctx)
{
    mem_store *s = ud;
    if (emit == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra__lock(&s->platform, s->mutex);
    for (size_t i = 0; i < s->endpoint_count; i++) {
        constra_storage_webhook_endpoint row;
        endpoint_row(s->endpoints[i], &row);
        if (emit(ctx, &row) != 0) {
            break;
        }
    }
    constra__unlock(&s->platform, s->mutex);
    return CONSTRA_OK;
}

/* Copies one delivery record; NULL when out of memory. */
static mem_delivery *copy_delivery(mem_store *s, const constra_storage_delivery *d)
{
    mem_delivery *n = constra__calloc(&s->platform, 1, sizeof(*n));
    if (n == NULL || !(n->id = dup_str(s, d->id)) || !(n->endpoint_id = dup_str(s, d->endpoint_id)) ||
        !(n->event_id = dup_str(s, d->event_id)) || !(n->event_type = dup_str(s, d->event_type)) ||
        !(n->pair = pair_key(s, d->endpoint_id, d->event_id)) ||
        !(n->state = dup_str(s, d->state)) || !(n->last_error = dup_str(s, d->last_error)) ||
        !(n->body = dup_mem(s, d->body, d->body_len)) || !(n->log = dup_mem(s, d->log, d->log_len))) {
        free_delivery(s, n);
        return NULL;
    }
    n->event_sequence = d->event_sequence;
    n->attempts = d->attempts;
    n->last_status = d->last_status;
    n->next_attempt_at_ms = d->next_attempt_at_ms;
    n->created_at_ms = d->created_at_ms;
    n->updated_at_ms = d->updated_at_ms;
    n->version = d->version;
    n->body_len = d->body ? d->body_len : 0;
    n->log_len = d->log ? d->log_len : 0;
    return n;
}

static int mem_enqueue(void *ud, const char *endpoint_id, int64_t expected, int64_t cursor,
                       const constra_storage_delivery *d, size_t count)
{
    mem_store *s = ud;
    if (!constra__storage_valid_text(endpoint_id) || expected < 0 || cursor < expected ||
        (count > 0 && d == NULL)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    for (size_t i = 0; i < count; i++) {
        if (!constra__storage_delivery_valid(&d[i]) || d[i].version != 1 ||
            strcmp(d[i].endpoint_id, endpoint_id) != 0) {
            return CONSTRA_E_INVALID_ARGUMENT;
        }
    }
    int rc = CONSTRA_OK;
    mem_delivery **fresh = NULL;
    constra__lock(&s->platform, s->mutex);
    mem_endpoint *ep = find_ep(s, endpoint_id);
    if (ep == NULL) {
        rc = CONSTRA_E_NOT_FOUND;
    } else if (ep->cursor != expected) {
        rc = CONSTRA_E_CONFLICT;
    } else if (count > 0) {
        fresh = constra__calloc(&s->platform, count, sizeof(*fresh));
        if (fresh == NULL || grow(s, (void **)&s->deliveries, &s->delivery_cap,
                                  s->delivery_count + count, sizeof(mem_delivery *)) ||
            constra__strmap_reserve(&s->pairs, count)) {
            rc = CONSTRA_E_NOMEM;
        }
        for (size_t i = 0; rc == CONSTRA_OK && i < count; i++) {
            fresh[i] = copy_delivery(s, &d[i]);
            if (fresh[i] == NULL) {
                rc = CONSTRA_E_NOMEM;
            } else if (find_dl(s, fresh[i]->id) || constra__strmap_get(&s->pairs, fresh[i]->pair)) {
                rc = CONSTRA_E_CONFLICT;
            }
            for (size_t j = 0; rc == CONSTRA_OK && j < i; j++) {
                if (strcmp(fresh[j]->id, fresh[i]->id) == 0 ||
                    strcmp(fresh[j]->pair, fresh[i]->pair) == 0) {
                    rc = CONSTRA_E_CONFLICT; /* duplicates within the batch */
                }
            }
        }
    }
    if (rc == CONSTRA_OK) {
        ep->cursor = cursor;
        for (size_t i = 0; i < count; i++) {
            mem_delivery *n = fresh[i];
            size_t at = bound_dl(s->deliveries, s->delivery_count, n->id);
            memmove(&s->deliveries[at + 1], &s->deliveries[at],
                    (s->delivery_count - at) * sizeof(mem_delivery *));
            s->deliveries[at] = n;
            s->delivery_count++;
            constra__strmap_put(&s->pairs, n->pair, n);
            fresh[i] = NULL;
        }
    }
    for (size_t i = 0; fresh && i < count; i++) {
        free_delivery(s, fresh[i]);
    }
    constra__free(&s->platform, fresh);
    constra__unlock(&s->platform, s->mutex);
    return rc;
}

static int mem_dl_list(void *ud, const constra_storage_delivery_query *q,
                       constra_storage_delivery_fn emit, void *ctx)
{
    mem_store *s = ud;
    if (!constra__storage_delivery_query_valid(q) || emit == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra__lock(&s->platform, s->mutex);
    size_t emitted = 0;
    size_t from = q->starting_after && q->starting_after[0]
                      ? bound_dl(s->deliveries, s->delivery_count, q->starting_after)
                      : 0;
    for (size_t i = from; i < s->delivery_count && emitted < q->limit; i++) {
        const mem_delivery *d = s->deliveries[i];
        if (!constra__storage_delivery_matches(q, d->id, d->endpoint_id, d->state,
                                               d->next_attempt_at_ms)) {
            continue;
        }
        constra_storage_delivery row;
        delivery_row(d, &row);
        emitted++;
        if (emit(ctx, &row) != 0) {
            break;
        }
    }
    constra__unlock(&s->platform, s->mutex);
    return CONSTRA_OK;
}

static int mem_dl_update(void *ud, const constra_storage_delivery *d, int64_t expected)
{
    mem_store *s = ud;
    if (!constra__storage_delivery_valid(d) || expected < 1 || d->version != expected + 1) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    int rc = CONSTRA_OK;
    constra__lock(&s->platform, s->mutex);
    mem_delivery *cur = find_dl(s, d->id);
    if (cur == NULL) {
        rc = CONSTRA_E_NOT_FOUND;
    } else if (cur->version != expected) {
        rc = CONSTRA_E_CONFLICT;
    } else {
        char *state = dup_str(s, d->state), *err = dup_str(s, d->last_error);
        char *log = dup_mem(s, d->log, d->log_len);
        if (!state || !err || !log) {
            constra__free(&s->platform, state);
            constra__free(&s->platform, err);
            constra__free(&s->platform, log);
            rc = CONSTRA_E_NOMEM;
        } else {
            constra__free(&s->platform, cur->state);
            constra__free(&s->platform, cur->last_error);
            constra__free(&s->platform, cur->log);
            cur->state = state;
            cur->last_error = err;
            cur->log = log;
            cur->log_len = d->log ? d->log_len : 0;
            cur->attempts = d->attempts;
            cur->last_status = d->last_status;
            cur->next_attempt_at_ms = d->next_attempt_at_ms;
            cur->updated_at_ms = d->updated_at_ms;
            cur->version = d->version;
        }
    }
    constra__unlock(&s->platform, s->mutex);
    return rc;
}

/* ---- workspace metadata --------------------------------------------- */

static int mem_meta_get(void *ud, const char *key, constra_storage_meta_fn emit, void *ctx)
{
    mem_store *s = ud;
    if (!constra__storage_meta_key_valid(key) || emit == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra__lock(&s->platform, s->mutex);
    const mem_meta *m = constra__strmap_get(&s->meta, key);
    if (m != NULL) {
        emit(ctx, m->value);
    }
    constra__unlock(&s->platform, s->mutex);
    return m != NULL ? CONSTRA_OK : CONSTRA_E_NOT_FOUND;
}

static void free_meta(mem_store *s, mem_meta *m)
{
    if (m != NULL) {
        constra__free(&s->platform, m->key);
        constra__free(&s->platform, m->value);
        constra__free(&s->platform, m);
    }
}

static int mem_meta_put(void *ud, const char *key, const char *value,
                        constra_storage_meta_fn emit, void *ctx)
{
    mem_store *s = ud;
    if (!constra__storage_meta_put_valid(key, value)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra__lock(&s->platform, s->mutex);
    int rc = CONSTRA_OK;
    const mem_meta *held = constra__strmap_get(&s->meta, key);
    if (held != NULL) {
        if (emit != NULL) {
            emit(ctx, held->value);
        }
        rc = CONSTRA_E_CONFLICT;
    } else {
        /* Everything allocated first: a failure leaves the map as it was. */
        mem_meta *m = constra__calloc(&s->platform, 1, sizeof(*m));
        if (m != NULL) {
            m->key = dup_str(s, key);
            m->value = dup_str(s, value);
        }
        if (m == NULL || m->key == NULL || m->value == NULL ||
            constra__strmap_put(&s->meta, m->key, m) != 0) {
            free_meta(s, m);
            rc = CONSTRA_E_NOMEM;
        }
    }
    constra__unlock(&s->platform, s->mutex);
    return rc;
}

/* ---- lifetime --------------------------------------------------------- */

static void mem_destroy(void *ud)
{
    mem_store *s = ud;
    constra_platform plat = s->platform;
    for (size_t i = 0; i < s->intent_count; i++) {
        mem_intent *t = s->sorted[i];
        free_intent_fields(s, t);
        free_former_checkouts(s, t);
        constra__free(&plat, t->id);
        constra__free(&plat, t->events);
        constra__free(&plat, t);
    }
    for (size_t i = 0; i < s->event_count; i++) {
        free_event(s, s->events[i]);
    }
    for (size_t i = 0; i < s->idem.capacity; i++) {
        if (s->idem.slots[i].key != NULL && s->idem.slots[i].value != NULL) {
            free_idem(s, s->idem.slots[i].value);
        }
    }
    for (size_t i = 0; i < s->endpoint_count; i++) {
        free_endpoint(s, s->endpoints[i]);
    }
    for (size_t i = 0; i < s->delivery_count; i++) {
        free_delivery(s, s->deliveries[i]);
    }
    constra__strmap_free(&s->pairs);
    for (size_t i = 0; i < s->meta.capacity; i++) {
        if (s->meta.slots[i].key != NULL && s->meta.slots[i].value != NULL) {
            free_meta(s, s->meta.slots[i].value);
        }
    }
    constra__strmap_free(&s->meta);
    constra__free(&plat, s->endpoints);
    constra__free(&plat, s->deliveries);
    constra__strmap_free(&s->by_id);
    constra__strmap_free(&s->by_checkout);
    constra__strmap_free(&s->idem);
    constra__free(&plat, s->sorted);
    constra__free(&plat, s->events);
    plat.mutex_destroy(plat.user_data, s->mutex);
    constra__free(&plat, s);
}

int constra_storage_memory(constra_storage *out, const constra_platform *platform,
                           constra_error *err)
{
    int rc = constra__check_struct(out, CONSTRA__STORAGE_V1_SIZE, sizeof(*out), "out", err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra_platform plat;
    rc = constra__platform_resolve(&plat, platform, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    mem_store *s = constra__calloc(&plat, 1, sizeof(*s));
    if (s == NULL) {
        return constra__fail(err, CONSTRA_E_NOMEM, NULL, NULL, "cannot allocate memory storage");
    }
    s->platform = plat;
    /* The maps point at the store's own copy of the platform. */
    constra__strmap_init(&s->by_id, &s->platform);
    constra__strmap_init(&s->by_checkout, &s->platform);
    constra__strmap_init(&s->idem, &s->platform);
    constra__strmap_init(&s->pairs, &s->platform);
    constra__strmap_init(&s->meta, &s->platform);
    if (plat.mutex_create(plat.user_data, &s->mutex) != 0) {
        constra__free(&plat, s);
        return constra__fail(err, CONSTRA_E_PLATFORM, NULL, "platform.mutex_create",
                             "cannot create the storage mutex");
    }
    constra_storage st = CONSTRA_STORAGE_INIT;
    st.user_data = s;
    st.commit = mem_commit;
    st.get_intent = mem_get_intent;
    st.find_by_checkout = mem_find_by_checkout;
    st.list_intents = mem_list_intents;
    st.list_events = mem_list_events;
    st.idempotency_reserve = mem_idem_reserve;
    st.idempotency_complete = mem_idem_complete;
    st.idempotency_release = mem_idem_release;
    st.purge_expired = mem_purge_expired;
    st.destroy = mem_destroy;
    st.webhook_endpoint_insert = mem_ep_insert;
    st.webhook_endpoint_update = mem_ep_update;
    st.webhook_endpoint_delete = mem_ep_delete;
    st.webhook_endpoint_list = mem_ep_list;
    st.webhook_enqueue = mem_enqueue;
    st.webhook_delivery_list = mem_dl_list;
    st.webhook_delivery_update = mem_dl_update;
    st.meta_get = mem_meta_get;
    st.meta_put_if_absent = mem_meta_put;
    constra__fill_struct(out, &st, sizeof(st));
    return CONSTRA_OK;
}
