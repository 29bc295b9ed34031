/*
 * The in-memory record store (storage.h): the reference the record
 * conformance suite is written against.
 *
 * Four sorted arrays make every read and the purge proportional to what
 * it returns, not to what is stored: the records by (kind, id), their
 * index entries by (kind, index, value, id), the records that expire by
 * (expires_at_ms, kind, id), and the events by sequence (with a stream
 * index by (stream, sequence) and one of expiring events).
 *
 * Atomicity without transactions, as in memory.c: a commit first judges
 * every operation against the state the earlier ones of the same commit
 * leave, then allocates everything it will need (copies, room in every
 * array and map), and only then mutates, in steps that cannot fail.
 */
#include <string.h>

#include "constra/storage.h"
#include "platform/platform.h"
#include "storage/record_internal.h"
#include "util/check.h"
#include "util/strmap.h"

typedef struct mrec {
    char *kind, *id;
    int64_t version, expires_at_ms;
    char *document;
    size_t document_len;
    constra_record_key *keys; /* owned strings */
    size_t key_count;
} mrec;

typedef struct ment { /* one index entry, borrowing the record's strings */
    mrec *rec;
    const char *index, *value;
    int unique;
} ment;

typedef struct mevent {
    int64_t sequence;
    char *stream, *id, *type;
    int64_t created_at_ms, expires_at_ms;
    char *document;
    size_t document_len;
} mevent;

typedef struct vec { /* a growable array of pointers or entries */
    void *items;
    size_t count, cap;
} vec;

typedef struct mstore {
    constra_platform platform;
    void *mutex;
    vec recs;       /* mrec *, by (kind, id) */
    vec ents;       /* ment, by (kind, index, value, id) */
    vec expiring;   /* mrec *, by (expires_at_ms, kind, id); only expires_at_ms > 0 */
    vec events;     /* mevent *, by sequence */
    vec by_stream;  /* mevent *, by (stream, sequence) */
    vec ev_expiring; /* mevent *, by (expires_at_ms, sequence) */
    constra__strmap event_ids;
    int64_t last_sequence;
} mstore;

/* ---- ordering ----------------------------------------------------------- */

static int cmp_i64(int64_t a, int64_t b)
{
    return a < b ? -1 : a > b;
}

static int rec_cmp(const mrec *r, const char *kind, const char *id)
{
    int c = strcmp(r->kind, kind);
    return c ? c : strcmp(r->id, id);
}

/* Entry order: kind, index, value, id; a NULL id sorts before every id
 * (a lower bound for a value). */
static int ent_cmp(const ment *e, const char *kind, const char *index, const char *value,
                   const char *id)
{
    int c = strcmp(e->rec->kind, kind);
    if (c == 0) {
        c = strcmp(e->index, index);
    }
    if (c == 0) {
        c = constra__record_cmp(e->value, value);
    }
    if (c == 0) {
        c = id == NULL ? 1 : strcmp(e->rec->id, id);
    }
    return c;
}

static int exp_cmp(const mrec *r, int64_t at, const char *kind, const char *id)
{
    int c = cmp_i64(r->expires_at_ms, at);
    return c ? c : rec_cmp(r, kind, id);
}

/* First position whose element is not below the key (binary search with
 * a comparison closure spelled out per array). */
#define LOWER_BOUND(result, count, less_expr) \
    do {                                      \
        size_t lo_ = 0, hi_ = (count);        \
        while (lo_ < hi_) {                   \
            size_t i = lo_ + (hi_ - lo_) / 2; \
            if (less_expr) {                  \
                lo_ = i + 1;                  \
            } else {                          \
                hi_ = i;                      \
            }                                 \
        }                                     \
        (result) = lo_;                       \
    } while (0)

static size_t rec_pos(const mstore *s, const char *kind, const char *id)
{
    mrec *const *r = s->recs.items;
    size_t pos;
    LOWER_BOUND(pos, s->recs.count, rec_cmp(r[i], kind, id) < 0);
    return pos;
}

static mrec *rec_find(const mstore *s, const char *kind, const char *id)
{
    size_t pos = rec_pos(s, kind, id);
    mrec *const *r = s->recs.items;
    return pos < s->recs.count && rec_cmp(r[pos], kind, id) == 0 ? r[pos] : NULL;
}

static size_t ent_pos(const mstore *s, const char *kind, const char *index, const char *value,
                      const char *id)
{
    const ment *e = s->ents.items;
    size_t pos;
    LOWER_BOUND(pos, s->ents.count, ent_cmp(&e[i], kind, index, value, id) < 0);
    return pos;
}

static int live(const mrec *r, int64_t now_ms)
{
    return r != NULL && (r->expires_at_ms == 0 || r->expires_at_ms > now_ms);
}

/* ---- arrays ------------------------------------------------------------- */

static int vec_reserve(mstore *s, vec *v, size_t extra, size_t size)
{
    if (extra > SIZE_MAX / size - v->count) {
        return -1;
    }
    size_t need = v->count + extra;
    if (need <= v->cap) {
        return 0;
    }
    size_t ncap = v->cap ? v->cap : 16;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / size) {
            return -1;
        }
        ncap *= 2;
    }
    void *p = constra__realloc(&s->platform, v->items, ncap * size);
    if (p == NULL) {
        return -1;
    }
    v->items = p;
    v->cap = ncap;
    return 0;
}

/* Insert / remove at a position; room was reserved. */
static void vec_insert(vec *v, size_t pos, const void *item, size_t size)
{
    char *b = v->items;
    memmove(b + (pos + 1) * size, b + pos * size, (v->count - pos) * size);
    memcpy(b + pos * size, item, size);
    v->count++;
}

static void vec_remove(vec *v, size_t pos, size_t size)
{
    char *b = v->items;
    memmove(b + pos * size, b + (pos + 1) * size, (v->count - pos - 1) * size);
    v->count--;
}

/* ---- records ------------------------------------------------------------ */

static void rec_free(mstore *s, mrec *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t k = 0; k < r->key_count; k++) {
        constra__free(&s->platform, (void *)r->keys[k].index);
        constra__free(&s->platform, (void *)r->keys[k].value);
    }
    constra__free(&s->platform, r->keys);
    constra__free(&s->platform, r->document);
    constra__free(&s->platform, r->kind);
    constra__free(&s->platform, r->id);
    constra__free(&s->platform, r);
}

static char *dup(mstore *s, const char *t, size_t n)
{
    return constra__strndup(&s->platform, t ? t : "", t ? n : 0);
}

/* A copy of `in` with version `version`; entries given twice in one
 * record collapse into one (unique if either is). NULL on no memory. */
static mrec *rec_copy(mstore *s, const constra_record *in, int64_t version)
{
    mrec *r = constra__calloc(&s->platform, 1, sizeof(*r));
    if (r == NULL) {
        return NULL;
    }
    r->version = version;
    r->expires_at_ms = in->expires_at_ms;
    r->kind = dup(s, in->kind, strlen(in->kind));
    r->id = dup(s, in->id, strlen(in->id));
    r->document = dup(s, in->document, in->document_len);
    r->document_len = in->document_len;
    r->keys = in->key_count ? constra__calloc(&s->platform, in->key_count, sizeof(*r->keys))
                            : NULL;
    if (!r->kind || !r->id || !r->document || (in->key_count && !r->keys)) {
        rec_free(s, r);
        return NULL;
    }
    for (size_t k = 0; k < in->key_count; k++) {
        const constra_record_key *key = &in->keys[k];
        size_t j = 0;
        while (j < r->key_count && (strcmp(r->keys[j].index, key->index) != 0 ||
                                    strcmp(r->keys[j].value, key->value) != 0)) {
            j++;
        }
        if (j < r->key_count) {
            r->keys[j].unique |= key->unique != 0;
            continue;
        }
        constra_record_key *out = &r->keys[r->key_count];
        out->index = dup(s, key->index, strlen(key->index));
        out->value = dup(s, key->value, strlen(key->value));
        out->unique = key->unique != 0;
        r->key_count++; /* counted before the check: rec_free frees it */
        if (out->index == NULL || out->value == NULL) {
            rec_free(s, r);
            return NULL;
        }
    }
    return r;
}

static void emit_rec(const mrec *r, constra_record *out)
{
    memset(out, 0, sizeof(*out));
    out->struct_size = sizeof(*out);
    out->kind = r->kind;
    out->id = r->id;
    out->version = r->version;
    out->expires_at_ms = r->expires_at_ms;
    out->document = r->document;
    out->document_len = r->document_len;
    out->keys = r->keys;
    out->key_count = r->key_count;
}

/* Removes a stored record from every array (it is freed by the caller). */
static void unlink_rec(mstore *s, mrec *r)
{
    for (size_t k = 0; k < r->key_count; k++) {
        size_t pos = ent_pos(s, r->kind, r->keys[k].index, r->keys[k].value, r->id);
        vec_remove(&s->ents, pos, sizeof(ment));
    }
    if (r->expires_at_ms > 0) {
        mrec *const *x = s->expiring.items;
        size_t pos;
        LOWER_BOUND(pos, s->expiring.count, exp_cmp(x[i], r->expires_at_ms, r->kind, r->id) < 0);
        vec_remove(&s->expiring, pos, sizeof(mrec *));
    }
    vec_remove(&s->recs, rec_pos(s, r->kind, r->id), sizeof(mrec *));
}

static void link_rec(mstore *s, mrec *r)
{
    vec_insert(&s->recs, rec_pos(s, r->kind, r->id), &r, sizeof(mrec *));
    for (size_t k = 0; k < r->key_count; k++) {
        ment e = {r, r->keys[k].index, r->keys[k].value, r->keys[k].unique};
        vec_insert(&s->ents, ent_pos(s, r->kind, e.index, e.value, r->id), &e, sizeof(e));
    }
    if (r->expires_at_ms > 0) {
        mrec *const *x = s->expiring.items;
        size_t pos;
        LOWER_BOUND(pos, s->expiring.count, exp_cmp(x[i], r->expires_at_ms, r->kind, r->id) < 0);
        vec_insert(&s->expiring, pos, &r, sizeof(mrec *));
    }
}

/* ---- commit ------------------------------------------------------------- */

/* The last operation before `upto` on the same kind and id, or NULL. */
static const constra_record_op *earlier_op(const constra_record_commit *c, size_t upto,
                                           const char *kind, const char *id)
{
    for (size_t j = upto; j-- > 0;) {
        const constra_record *r = c->ops[j].record;
        if (strcmp(r->kind, kind) == 0 && strcmp(r->id, id) == 0) {
            return &c->ops[j];
        }
    }
    return NULL;
}

/* The live version of (kind, id) as the commit's operations before
 * `upto` leave it: 0 when absent. */
static int64_t version_before(const mstore *s, const constra_record_commit *c, size_t upto,
                              const char *kind, const char *id)
{
    for (size_t j = upto; j-- > 0;) {
        const constra_record_op *op = &c->ops[j];
        if (strcmp(op->record->kind, kind) != 0 || strcmp(op->record->id, id) != 0) {
            continue;
        }
        if (op->type == CONSTRA_RECORD_PUT) {
            return op->expected_version + 1;
        }
        if (op->type == CONSTRA_RECORD_DELETE) {
            return 0;
        }
        /* ASSERT changes nothing: look further back */
    }
    const mrec *r = rec_find(s, kind, id);
    return live(r, c->now_ms) ? r->version : 0;
}

/* 1 when one of the keys of the PUT at `i` collides with another live
 * record's entry, as the earlier operations leave the store. */
static int key_conflict(const mstore *s, const constra_record_commit *c, size_t i)
{
    const constra_record *r = c->ops[i].record;
    for (size_t k = 0; k < r->key_count; k++) {
        const constra_record_key *key = &r->keys[k];
        /* Stored entries of other records, unless an earlier operation
         * of this commit replaced or deleted that record. */
        const ment *e = s->ents.items;
        for (size_t pos = ent_pos(s, r->kind, key->index, key->value, NULL);
             pos < s->ents.count && strcmp(e[pos].rec->kind, r->kind) == 0 &&
             strcmp(e[pos].index, key->index) == 0 && strcmp(e[pos].value, key->value) == 0;
             pos++) {
            const mrec *other = e[pos].rec;
            if (strcmp(other->id, r->id) == 0 || !live(other, c->now_ms) ||
                !(key->unique || e[pos].unique)) {
                continue;
            }
            const constra_record_op *later = earlier_op(c, i, other->kind, other->id);
            if (later == NULL || later->type == CONSTRA_RECORD_ASSERT) {
                return 1;
            }
        }
        /* Records this commit put before `i` and did not remove since. */
        for (size_t j = 0; j < i; j++) {
            const constra_record_op *op = &c->ops[j];
            const constra_record *o = op->record;
            if (op->type != CONSTRA_RECORD_PUT || strcmp(o->kind, r->kind) != 0 ||
                strcmp(o->id, r->id) == 0 || earlier_op(c, i, o->kind, o->id) != op ||
                (o->expires_at_ms > 0 && o->expires_at_ms <= c->now_ms)) {
                continue;
            }
            for (size_t m = 0; m < o->key_count; m++) {
                if ((key->unique || o->keys[m].unique) &&
                    strcmp(o->keys[m].index, key->index) == 0 &&
                    strcmp(o->keys[m].value, key->value) == 0) {
                    return 1;
                }
            }
        }
    }
    return 0;
}

static void event_free(mstore *s, mevent *e)
{
    if (e == NULL) {
        return;
    }
    constra__free(&s->platform, e->stream);
    constra__free(&s->platform, e->id);
    constra__free(&s->platform, e->type);
    constra__free(&s->platform, e->document);
    constra__free(&s->platform, e);
}

static mevent *event_copy(mstore *s, const constra_record_event *in)
{
    mevent *e = constra__calloc(&s->platform, 1, sizeof(*e));
    if (e == NULL) {
        return NULL;
    }
    e->stream = dup(s, in->stream, strlen(in->stream));
    e->id = dup(s, in->id, strlen(in->id));
    e->type = dup(s, in->type, strlen(in->type));
    e->document = dup(s, in->document, in->document_len);
    e->document_len = in->document_len;
    e->created_at_ms = in->created_at_ms;
    e->expires_at_ms = in->expires_at_ms;
    if (!e->stream || !e->id || !e->type || !e->document) {
        event_free(s, e);
        return NULL;
    }
    return e;
}

static int stream_less(const mevent *e, const char *stream, int64_t seq)
{
    int c = strcmp(e->stream, stream);
    return c < 0 || (c == 0 && e->sequence < seq);
}

static int ev_exp_less(const mevent *e, int64_t at, int64_t seq)
{
    return e->expires_at_ms < at || (e->expires_at_ms == at && e->sequence < seq);
}

static void link_event(mstore *s, mevent *e)
{
    mevent **v = s->events.items;
    v[s->events.count++] = e; /* sequences only grow: always last */
    mevent *const *b = s->by_stream.items;
    size_t pos;
    LOWER_BOUND(pos, s->by_stream.count, stream_less(b[i], e->stream, e->sequence));
    vec_insert(&s->by_stream, pos, &e, sizeof(e));
    if (e->expires_at_ms > 0) {
        mevent *const *x = s->ev_expiring.items;
        LOWER_BOUND(pos, s->ev_expiring.count, ev_exp_less(x[i], e->expires_at_ms, e->sequence));
        vec_insert(&s->ev_expiring, pos, &e, sizeof(e));
    }
    /* Room was reserved: cannot fail. */
    (void)constra__strmap_put(&s->event_ids, e->id, e);
}

static int mem_commit(void *ud, const constra_record_commit *c, size_t *failed_op)
{
    mstore *s = ud;
    int rc = constra_record_commit_check(c, NULL);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    size_t nops = c->op_count, nev = c->event_count;
    mrec **fresh = constra__calloc(&s->platform, nops ? nops : 1, sizeof(*fresh));
    mevent **evs = constra__calloc(&s->platform, nev ? nev : 1, sizeof(*evs));
    if (fresh == NULL || evs == NULL) {
        constra__free(&s->platform, fresh);
        constra__free(&s->platform, evs);
        return CONSTRA_E_NOMEM;
    }
    constra__lock(&s->platform, s->mutex);
    /* 1. Judge every operation, then the event ids. */
    rc = CONSTRA_OK;
    size_t failed = nops;
    size_t new_keys = 0;
    for (size_t i = 0; i < nops && rc == CONSTRA_OK; i++) {
        const constra_record_op *op = &c->ops[i];
        int64_t current = version_before(s, c, i, op->record->kind, op->record->id);
        if (current != op->expected_version ||
            (op->type == CONSTRA_RECORD_PUT && key_conflict(s, c, i))) {
            rc = CONSTRA_E_CONFLICT;
            failed = i;
        }
        if (op->type == CONSTRA_RECORD_PUT) {
            new_keys += op->record->key_count;
        }
    }
    for (size_t i = 0; i < nev && rc == CONSTRA_OK; i++) {
        if (constra__strmap_get(&s->event_ids, c->events[i].id) != NULL) {
            rc = CONSTRA_E_CONFLICT;
            failed = nops;
        }
    }
    /* 2. Allocate everything. */
    for (size_t i = 0; i < nops && rc == CONSTRA_OK; i++) {
        if (c->ops[i].type == CONSTRA_RECORD_PUT &&
            (fresh[i] = rec_copy(s, c->ops[i].record, c->ops[i].expected_version + 1)) == NULL) {
            rc = CONSTRA_E_NOMEM;
        }
    }
    for (size_t i = 0; i < nev && rc == CONSTRA_OK; i++) {
        if ((evs[i] = event_copy(s, &c->events[i])) == NULL) {
            rc = CONSTRA_E_NOMEM;
        }
    }
    if (rc == CONSTRA_OK &&
        (vec_reserve(s, &s->recs, nops, sizeof(mrec *)) != 0 ||
         vec_reserve(s, &s->ents, new_keys, sizeof(ment)) != 0 ||
         vec_reserve(s, &s->expiring, nops, sizeof(mrec *)) != 0 ||
         vec_reserve(s, &s->events, nev, sizeof(mevent *)) != 0 ||
         vec_reserve(s, &s->by_stream, nev, sizeof(mevent *)) != 0 ||
         vec_reserve(s, &s->ev_expiring, nev, sizeof(mevent *)) != 0 ||
         constra__strmap_reserve(&s->event_ids, nev) != 0)) {
        rc = CONSTRA_E_NOMEM;
    }
    /* 3. Apply: nothing below can fail. */
    if (rc == CONSTRA_OK) {
        for (size_t i = 0; i < nops; i++) {
            const constra_record_op *op = &c->ops[i];
            if (op->type == CONSTRA_RECORD_ASSERT) {
                continue;
            }
            mrec *old = rec_find(s, op->record->kind, op->record->id);
            if (old != NULL) { /* the live version, or a dead one an insert replaces */
                unlink_rec(s, old);
                rec_free(s, old);
            }
            if (op->type == CONSTRA_RECORD_PUT) {
                link_rec(s, fresh[i]);
                fresh[i] = NULL;
            }
        }
        for (size_t i = 0; i < nev; i++) {
            evs[i]->sequence = ++s->last_sequence;
            link_event(s, evs[i]);
            evs[i] = NULL;
        }
    }
    constra__unlock(&s->platform, s->mutex);
    for (size_t i = 0; i < nops; i++) {
        rec_free(s, fresh[i]);
    }
    for (size_t i = 0; i < nev; i++) {
        event_free(s, evs[i]);
    }
    constra__free(&s->platform, fresh);
    constra__free(&s->platform, evs);
    if (rc == CONSTRA_E_CONFLICT && failed_op != NULL) {
        *failed_op = failed;
    }
    return rc;
}

/* ---- reads -------------------------------------------------------------- */

static int mem_get(void *ud, const char *kind, const char *id, int64_t now_ms,
                   constra_record_fn emit, void *ctx)
{
    mstore *s = ud;
    if (!constra__record_get_valid(kind, id, emit)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra__lock(&s->platform, s->mutex);
    const mrec *r = rec_find(s, kind, id);
    int rc = CONSTRA_E_NOT_FOUND;
    if (live(r, now_ms)) {
        constra_record out;
        emit_rec(r, &out);
        emit(ctx, &out);
        rc = CONSTRA_OK;
    }
    constra__unlock(&s->platform, s->mutex);
    return rc;
}

/* Whether value v (of the row with id `id`) is inside the scan: the
 * range and the cursor. */
static int in_range(const constra_record_scan *q, const char *lo, const char *hi, const char *v,
                    const char *id)
{
    if ((lo && constra__record_cmp(v, lo) < 0) || (hi && constra__record_cmp(v, hi) >= 0)) {
        return 0;
    }
    if (q->after_value != NULL) {
        int c = constra__record_cmp(v, q->after_value);
        if (c == 0) {
            c = strcmp(id, q->after_id);
        }
        if (q->descending ? c >= 0 : c <= 0) {
            return 0;
        }
    }
    return 1;
}

static int mem_scan(void *ud, const constra_record_scan *q, constra_record_scan_fn emit,
                    void *ctx)
{
    mstore *s = ud;
    if (constra__record_scan_check(q, NULL) != CONSTRA_OK || emit == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    const char *lo, *hi;
    char hi_buf[CONSTRA_RECORD_VALUE_MAX + 1];
    int empty;
    constra__record_scan_range(q, &lo, &hi, hi_buf, &empty);
    if (empty) {
        return CONSTRA_OK;
    }
    constra__lock(&s->platform, s->mutex);
    size_t sent = 0;
    int on_ids = q->index[0] == '\0';
    /* Start where the scan can first match; walk in its direction and
     * stop at the first row past its end. */
    size_t n = on_ids ? s->recs.count : s->ents.count;
    mrec *const *recs = s->recs.items;
    const ment *ents = s->ents.items;
    /* Start exactly where the scan can first match (the range's end or
     * the cursor, whichever comes first in its direction), so that deep
     * pages cost what they return. */
    size_t start;
    if (!q->descending) {
        start = on_ids ? rec_pos(s, q->kind, lo ? lo : "")
                       : ent_pos(s, q->kind, q->index, lo ? lo : "", NULL);
        if (q->after_value != NULL) {
            size_t at = on_ids ? rec_pos(s, q->kind, q->after_value)
                               : ent_pos(s, q->kind, q->index, q->after_value, q->after_id);
            start = at > start ? at : start;
        }
    } else {
        /* One past the last entry of the kind (and index) below `hi`. */
        if (on_ids) {
            LOWER_BOUND(start, n,
                        strcmp(recs[i]->kind, q->kind) < 0 ||
                            (strcmp(recs[i]->kind, q->kind) == 0 &&
                             (hi == NULL || constra__record_cmp(recs[i]->id, hi) < 0)));
        } else {
            LOWER_BOUND(start, n,
                        strcmp(ents[i].rec->kind, q->kind) < 0 ||
                            (strcmp(ents[i].rec->kind, q->kind) == 0 &&
                             (strcmp(ents[i].index, q->index) < 0 ||
                              (strcmp(ents[i].index, q->index) == 0 &&
                               (hi == NULL || constra__record_cmp(ents[i].value, hi) < 0)))));
        }
        if (q->after_value != NULL) { /* entries before the cursor's are below it */
            size_t at = on_ids ? rec_pos(s, q->kind, q->after_value)
                               : ent_pos(s, q->kind, q->index, q->after_value, q->after_id);
            start = at < start ? at : start;
        }
    }
    for (size_t step = 0; sent < q->limit; step++) {
        size_t i;
        if (!q->descending) {
            i = start + step;
            if (i >= n) {
                break;
            }
        } else {
            if (step >= start) {
                break;
            }
            i = start - 1 - step;
        }
        const mrec *r = on_ids ? recs[i] : ents[i].rec;
        const char *value = on_ids ? r->id : ents[i].value;
        if (strcmp(r->kind, q->kind) != 0 || (!on_ids && strcmp(ents[i].index, q->index) != 0)) {
            break; /* left the kind or the index */
        }
        if ((!q->descending && hi && constra__record_cmp(value, hi) >= 0) ||
            (q->descending && lo && constra__record_cmp(value, lo) < 0)) {
            break; /* past the range */
        }
        if (!live(r, q->now_ms) || !in_range(q, lo, hi, value, r->id)) {
            continue;
        }
        constra_record out;
        emit_rec(r, &out);
        sent++;
        if (emit(ctx, value, &out) != 0) {
            break;
        }
    }
    constra__unlock(&s->platform, s->mutex);
    return CONSTRA_OK;
}

static int mem_events(void *ud, const char *stream, int64_t after, size_t limit,
                      constra_record_event_fn emit, void *ctx)
{
    mstore *s = ud;
    if (!constra__record_events_valid(stream, limit, emit)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra__lock(&s->platform, s->mutex);
    mevent *const *v = stream ? s->by_stream.items : s->events.items;
    size_t n = stream ? s->by_stream.count : s->events.count, pos;
    if (stream) {
        LOWER_BOUND(pos, n, stream_less(v[i], stream, after == INT64_MAX ? after : after + 1));
    } else {
        LOWER_BOUND(pos, n, v[i]->sequence <= after);
    }
    for (size_t sent = 0; pos < n && sent < limit; pos++, sent++) {
        const mevent *e = v[pos];
        if (e->sequence <= after || (stream && strcmp(e->stream, stream) != 0)) {
            break;
        }
        constra_record_event out = {sizeof(out), e->sequence, e->stream, e->id, e->type,
                                    e->created_at_ms, e->expires_at_ms, e->document,
                                    e->document_len};
        if (emit(ctx, &out) != 0) {
            break;
        }
    }
    constra__unlock(&s->platform, s->mutex);
    return CONSTRA_OK;
}

static void unlink_event(mstore *s, mevent *e)
{
    mevent *const *v = s->events.items;
    size_t pos;
    LOWER_BOUND(pos, s->events.count, v[i]->sequence < e->sequence);
    vec_remove(&s->events, pos, sizeof(mevent *));
    v = s->by_stream.items;
    LOWER_BOUND(pos, s->by_stream.count, stream_less(v[i], e->stream, e->sequence));
    vec_remove(&s->by_stream, pos, sizeof(mevent *));
    constra__strmap_remove(&s->event_ids, e->id);
}

static int mem_purge(void *ud, int64_t now_ms, size_t max, size_t *purged)
{
    mstore *s = ud;
    size_t done = 0;
    constra__lock(&s->platform, s->mutex);
    for (size_t k = 0; k < max && s->expiring.count > 0; k++) {
        mrec *r = ((mrec **)s->expiring.items)[0];
        if (r->expires_at_ms > now_ms) {
            break;
        }
        unlink_rec(s, r);
        rec_free(s, r);
        done++;
    }
    for (size_t k = 0; k < max && s->ev_expiring.count > 0; k++) {
        mevent *e = ((mevent **)s->ev_expiring.items)[0];
        if (e->expires_at_ms > now_ms) {
            break;
        }
        vec_remove(&s->ev_expiring, 0, sizeof(mevent *));
        unlink_event(s, e);
        event_free(s, e);
        done++;
    }
    constra__unlock(&s->platform, s->mutex);
    if (purged != NULL) {
        *purged = done;
    }
    return CONSTRA_OK;
}

static void mem_destroy(void *ud)
{
    mstore *s = ud;
    constra_platform p = s->platform;
    mrec **recs = s->recs.items;
    for (size_t i = 0; i < s->recs.count; i++) {
        rec_free(s, recs[i]);
    }
    mevent **evs = s->events.items;
    for (size_t i = 0; i < s->events.count; i++) {
        event_free(s, evs[i]);
    }
    constra__free(&p, s->recs.items);
    constra__free(&p, s->ents.items);
    constra__free(&p, s->expiring.items);
    constra__free(&p, s->events.items);
    constra__free(&p, s->by_stream.items);
    constra__free(&p, s->ev_expiring.items);
    constra__strmap_free(&s->event_ids);
    p.mutex_destroy(p.user_data, s->mutex);
    constra__free(&p, s);
}

int constra_storage_memory(constra_storage *out, const constra_platform *platform,
                                constra_error *err)
{
    int rc = constra__check_struct(out, sizeof(*out), sizeof(*out), "out", err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra_platform plat;
    if ((rc = constra__platform_resolve(&plat, platform, err)) != CONSTRA_OK) {
        return rc;
    }
    mstore *s = constra__calloc(&plat, 1, sizeof(*s));
    if (s == NULL) {
        return constra__fail(err, CONSTRA_E_NOMEM, NULL, NULL, "cannot allocate a record store");
    }
    s->platform = plat;
    constra__strmap_init(&s->event_ids, &s->platform);
    if (plat.mutex_create(plat.user_data, &s->mutex) != 0) {
        constra__free(&plat, s);
        return constra__fail(err, CONSTRA_E_PLATFORM, NULL, "platform.mutex_create",
                             "cannot create the record store mutex");
    }
    constra_storage st = CONSTRA_STORAGE_INIT;
    st.user_data = s;
    st.commit = mem_commit;
    st.get = mem_get;
    st.scan = mem_scan;
    st.events = mem_events;
    st.purge = mem_purge;
    st.destroy = mem_destroy;
    constra__fill_struct(out, &st, sizeof(st));
    return CONSTRA_OK;
}
