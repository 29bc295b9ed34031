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
} mem_store;

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
        if (p->idem == NULL || p->idem->state != CONSTRA_IDEMPOTENCY_IN_FLIGHT ||
            strcmp(p->idem->fingerprint, w->idempotency->fingerprint) != 0) {
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
            constra__strmap_remove(&s->by_checkout, t->checkout);
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
        p->idem->state = CONSTRA_IDEMPOTENCY_COMPLETED;
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
    if (cur && cur->state == CONSTRA_IDEMPOTENCY_IN_FLIGHT &&
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

/* ---- lifetime --------------------------------------------------------- */

static void mem_destroy(void *ud)
{
    mem_store *s = ud;
    constra_platform plat = s->platform;
    for (size_t i = 0; i < s->intent_count; i++) {
        mem_intent *t = s->sorted[i];
        free_intent_fields(s, t);
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
    int rc = constra__check_struct(out, sizeof(*out), sizeof(*out), "out", err);
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
    *out = st;
    return CONSTRA_OK;
}
