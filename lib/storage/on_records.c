/*
 * The engine's resource table (resources.h) served by a storage
 * (storage.h): every resource as records of a kind, so that the engine
 * runs on any storage (memory, SQLite, PostgreSQL, a host's own) and a
 * new resource needs no new storage member.
 *
 * Kinds and their index entries (\x01 separates parts of one value; no
 * id, status or reference contains it):
 *   intent        id; status_id "status\x01id", ref_id "reference\x01id",
 *                 due "<due_at_ms, 19 digits>\x01id" while the tick has work
 *                 for it
 *   checkout_ref  one per provider request id an intent ever had; its
 *                 document is the intent id (a checkout id belongs to one
 *                 intent forever: inserting it twice conflicts)
 *   idempotency   the key; dead (record expiry) when the record expires or,
 *                 in flight, when its lease does
 *   wh_endpoint   id; the row's own version and cursor in the document
 *                 (the cursor moves without a version change)
 *   wh_delivery   id; endpoint "endpoint\x01id", state "state\x01id",
 *                 pair "endpoint\x01event" (unique), and while pending
 *                 due "<next_attempt_at_ms, 19 digits>\x01id"
 *   meta          the key; its value
 * Documents are the row's texts, each NUL-terminated, then its opaque
 * bytes. Events are the record store's, the intent id as their stream.
 */
#include <stdlib.h>
#include <string.h>

#include "constra/storage.h"
#include "platform/platform.h"
#include "storage/migrate_legacy.h"
#include "storage/record_internal.h"
#include "storage/resources.h"
#include "util/check.h"
#include "util/sbuf.h"

#define SEP "\x01"
#define PAGE 64

typedef struct adapter {
    constra_platform platform;
    constra_storage rs;
    int own; /* destroy rs with the adapter */
} adapter;

/* ---- documents ---------------------------------------------------------- */

static void put_text(constra__sbuf *b, const char *t)
{
    constra__sbuf_append(b, t ? t : "", strlen(t ? t : "") + 1);
}

static void put_int(constra__sbuf *b, int64_t v)
{
    constra__sbuf_int(b, v);
    constra__sbuf_append(b, "", 1);
}

/* Splits a document into n NUL-terminated fields and the bytes after
 * them; -1 when it has fewer fields (a corrupt record). */
static int unpack(const char *doc, size_t len, const char **f, size_t n, const char **tail,
                  size_t *tail_len)
{
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const char *end = at < len ? memchr(doc + at, '\0', len - at) : NULL;
        if (end == NULL) {
            return -1;
        }
        f[i] = doc + at;
        at = (size_t)(end - doc) + 1;
    }
    if (tail) {
        *tail = doc + at;
        *tail_len = len - at;
    }
    return 0;
}

/* Copies a value of at most CONSTRA_RECORD_VALUE_MAX bytes (the store
 * guarantees the bound) into a buffer one byte larger. */
static void copy_value(char dst[CONSTRA_RECORD_VALUE_MAX + 1], const char *src)
{
    size_t n = strlen(src);
    n = n > CONSTRA_RECORD_VALUE_MAX ? CONSTRA_RECORD_VALUE_MAX : n;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int64_t num(const char *t)
{
    return strtoll(t, NULL, 10);
}

/* A value of two parts joined by \x01, in buf. */
static const char *joined(char *buf, size_t size, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la + 1 + lb >= size) {
        return NULL;
    }
    memcpy(buf, a, la);
    buf[la] = '\x01';
    memcpy(buf + la + 1, b, lb + 1);
    return buf;
}

/* ---- reading one record back ------------------------------------------- */

typedef struct one {
    adapter *a;
    char *doc; /* copy of the document, NUL-terminated after it */
    size_t len;
    int64_t version;
    int found, nomem;
} one;

static int copy_one(void *ctx, const constra_record *r)
{
    one *o = ctx;
    o->found = 1;
    o->version = r->version;
    o->len = r->document_len;
    o->doc = constra__strndup(&o->a->platform, r->document ? r->document : "", r->document_len);
    o->nomem = o->doc == NULL;
    return 0;
}

static int read_one(adapter *a, const char *kind, const char *id, int64_t now, one *o)
{
    memset(o, 0, sizeof(*o));
    o->a = a;
    int rc = a->rs.get(a->rs.user_data, kind, id, now, copy_one, o);
    if (rc == CONSTRA_OK && o->nomem) {
        rc = CONSTRA_E_NOMEM;
    }
    return rc;
}

static void one_free(one *o)
{
    constra__free(&o->a->platform, o->doc);
    o->doc = NULL;
}

static int commit(adapter *a, const constra_record_op *ops, size_t n,
                  const constra_record_event *ev, size_t nev, int64_t now, size_t *failed)
{
    constra_record_commit c = {sizeof(c), now, ops, n, ev, nev};
    return a->rs.commit(a->rs.user_data, &c, failed);
}

/* ---- intents ------------------------------------------------------------ */

static char *intent_doc(adapter *a, const constra__res_intent *in, size_t *len)
{
    constra__sbuf b;
    constra__sbuf_init(&b, &a->platform);
    put_text(&b, in->status);
    put_text(&b, in->reference);
    put_text(&b, in->checkout_request_id);
    put_int(&b, in->created_at_ms);
    put_int(&b, in->updated_at_ms);
    constra__sbuf_append(&b, in->document ? in->document : "", in->document_len);
    return constra__sbuf_take(&b, len);
}

static int intent_row(const constra_record *r, constra__res_intent *row)
{
    const char *f[5];
    memset(row, 0, sizeof(*row));
    row->struct_size = sizeof(*row);
    if (unpack(r->document, r->document_len, f, 5, &row->document, &row->document_len) != 0) {
        return -1;
    }
    row->id = r->id;
    row->status = f[0];
    row->reference = f[1];
    row->checkout_request_id = f[2];
    row->created_at_ms = num(f[3]);
    row->updated_at_ms = num(f[4]);
    row->version = r->version;
    for (size_t i = 0; i < r->key_count; i++) {
        if (strcmp(r->keys[i].index, "due") == 0) {
            row->due_at_ms = num(r->keys[i].value); /* the digits before \x01 */
        }
    }
    return 0;
}

static char *idem_doc(adapter *a, const constra__res_idempotency *r, size_t *len)
{
    constra__sbuf b;
    constra__sbuf_init(&b, &a->platform);
    put_text(&b, r->fingerprint);
    put_int(&b, r->state);
    put_int(&b, r->http_status);
    put_int(&b, r->created_at_ms);
    put_int(&b, r->expires_at_ms);
    put_int(&b, r->lease_expires_at_ms);
    constra__sbuf_append(&b, r->response ? r->response : "", r->response ? r->response_len : 0);
    return constra__sbuf_take(&b, len);
}

static int idem_parse(const char *key, const char *doc, size_t len,
                      constra__res_idempotency *r)
{
    const char *f[6];
    memset(r, 0, sizeof(*r));
    r->struct_size = sizeof(*r);
    if (unpack(doc, len, f, 6, &r->response, &r->response_len) != 0) {
        return -1;
    }
    r->key = key;
    r->fingerprint = f[0];
    r->state = (int)num(f[1]);
    r->http_status = (int)num(f[2]);
    r->created_at_ms = num(f[3]);
    r->expires_at_ms = num(f[4]);
    r->lease_expires_at_ms = num(f[5]);
    return 0;
}

/* When the record store should treat the key as absent. */
static int64_t idem_death(const constra__res_idempotency *r)
{
    int64_t d = r->expires_at_ms;
    if (r->state == CONSTRA__IDEM_IN_FLIGHT && r->lease_expires_at_ms > 0 &&
        (d == 0 || r->lease_expires_at_ms < d)) {
        d = r->lease_expires_at_ms;
    }
    return d;
}

/* The idempotency part of a write: checks the stored record (as the old
 * contract says) and fills the PUT that updates it. */
static int idem_update(adapter *a, const constra__res_idempotency *w, one *stored,
                       constra_record *rec, char **doc)
{
    int rc = read_one(a, "idempotency", w->key, 0, stored);
    if (rc == CONSTRA_E_NOT_FOUND) {
        return CONSTRA_E_CONFLICT;
    }
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra__res_idempotency cur;
    if (idem_parse(w->key, stored->doc, stored->len, &cur) != 0) {
        return CONSTRA_E_STORAGE;
    }
    if (cur.state != CONSTRA__IDEM_IN_FLIGHT || strcmp(cur.fingerprint, w->fingerprint) ||
        (w->state == CONSTRA__IDEM_IN_FLIGHT && cur.response_len > 0)) {
        return CONSTRA_E_CONFLICT;
    }
    constra__res_idempotency next = cur; /* key, fingerprint, created, lease stay */
    next.state = w->state;
    next.http_status = w->http_status;
    next.response = w->response;
    next.response_len = w->response_len;
    next.expires_at_ms = w->expires_at_ms;
    size_t len = 0;
    if ((*doc = idem_doc(a, &next, &len)) == NULL) {
        return CONSTRA_E_NOMEM;
    }
    *rec = (constra_record){sizeof(*rec), "idempotency", w->key, 0, idem_death(&next), *doc, len,
                            NULL, 0};
    return CONSTRA_OK;
}

/* A time as 19 decimal digits, so that due values sort as text. */
static void due_text(char out[20], int64_t ms)
{
    uint64_t v = ms > 0 ? (uint64_t)ms : 0;
    for (int i = 18; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
    out[19] = '\0';
}

/* An intent's index entries: status_id always, ref_id with a reference,
 * due with a due time (values in bufs); -1 when a value does not fit. */
static int intent_keys(const constra__res_intent *in, char bufs[3][CONSTRA_RECORD_VALUE_MAX + 1],
                       constra_record_key keys[3], size_t *count)
{
    const char *ref = in->reference ? in->reference : "";
    char due[20];
    due_text(due, in->due_at_ms);
    if (!joined(bufs[0], CONSTRA_RECORD_VALUE_MAX + 1, in->status, in->id) ||
        !joined(bufs[1], CONSTRA_RECORD_VALUE_MAX + 1, ref, in->id) ||
        !joined(bufs[2], CONSTRA_RECORD_VALUE_MAX + 1, due, in->id)) {
        return -1;
    }
    *count = 0;
    keys[(*count)++] = (constra_record_key){"status_id", bufs[0], 0};
    if (ref[0] != '\0') {
        keys[(*count)++] = (constra_record_key){"ref_id", bufs[1], 0};
    }
    if (in->due_at_ms > 0) {
        keys[(*count)++] = (constra_record_key){"due", bufs[2], 0};
    }
    return 0;
}

static int ad_commit(void *ud, const constra__res_write *w)
{
    adapter *a = ud;
    int rc = constra__res_check_write(w);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    const constra__res_intent *in = w->intent;
    constra_record_op ops[3];
    constra_record recs[3];
    size_t n = 0;
    char *docs[2] = {NULL, NULL};
    one existing = {a, NULL, 0, 0, 0, 0}, stored = {a, NULL, 0, 0, 0, 0};
    char key_bufs[3][CONSTRA_RECORD_VALUE_MAX + 1];
    constra_record_key keys[3];
    if (in != NULL) {
        rc = read_one(a, "intent", in->id, 0, &existing);
        if (rc == CONSTRA_OK && w->expected_version == 0) {
            rc = CONSTRA_E_CONFLICT;
        } else if (rc == CONSTRA_E_NOT_FOUND) {
            rc = w->expected_version == 0 ? CONSTRA_OK : CONSTRA_E_NOT_FOUND;
        } else if (rc == CONSTRA_OK && existing.version != w->expected_version) {
            rc = CONSTRA_E_CONFLICT;
        }
        size_t klen = 0, nk = 0;
        if (rc == CONSTRA_OK && intent_keys(in, key_bufs, keys, &nk) != 0) {
            rc = CONSTRA_E_INVALID_ARGUMENT;
        }
        if (rc == CONSTRA_OK && (docs[0] = intent_doc(a, in, &klen)) == NULL) {
            rc = CONSTRA_E_NOMEM;
        }
        if (rc == CONSTRA_OK) {
            recs[n] = (constra_record){sizeof(recs[n]), "intent", in->id, 0, 0, docs[0], klen,
                                       keys, nk};
            ops[n] = (constra_record_op){CONSTRA_RECORD_PUT, &recs[n], w->expected_version};
            n++;
        }
        /* The checkout id, once per intent, forever. */
        const char *co = in->checkout_request_id ? in->checkout_request_id : "";
        if (rc == CONSTRA_OK && co[0] != '\0') {
            one owner;
            int orc = read_one(a, "checkout_ref", co, 0, &owner);
            if (orc == CONSTRA_OK) {
                if (strcmp(owner.doc, in->id) != 0) {
                    rc = CONSTRA_E_CONFLICT;
                }
                one_free(&owner);
            } else if (orc == CONSTRA_E_NOT_FOUND) {
                recs[n] = (constra_record){sizeof(recs[n]), "checkout_ref", co, 0, 0, in->id,
                                           strlen(in->id), NULL, 0};
                ops[n] = (constra_record_op){CONSTRA_RECORD_PUT, &recs[n], 0};
                n++;
            } else {
                rc = orc;
            }
        }
    }
    int64_t now = 0; /* no record is judged dead, but by a reservation */
    if (rc == CONSTRA_OK && w->idempotency != NULL && w->idempotency_insert) {
        /* The reservation itself: an insert, which a live record of the
         * key makes conflict (the store judges liveness at `now`). */
        const constra__res_idempotency *r = w->idempotency;
        size_t len = 0;
        if ((docs[1] = idem_doc(a, r, &len)) == NULL) {
            rc = CONSTRA_E_NOMEM;
        } else {
            now = r->created_at_ms;
            recs[n] = (constra_record){sizeof(recs[n]), "idempotency", r->key, 0, idem_death(r),
                                       docs[1], len, NULL, 0};
            ops[n] = (constra_record_op){CONSTRA_RECORD_PUT, &recs[n], 0};
            n++;
        }
    } else if (rc == CONSTRA_OK && w->idempotency != NULL) {
        rc = idem_update(a, w->idempotency, &stored, &recs[n], &docs[1]);
        if (rc == CONSTRA_OK) {
            ops[n] = (constra_record_op){CONSTRA_RECORD_PUT, &recs[n], stored.version};
            n++;
        }
    }
    constra_record_event *ev = NULL;
    if (rc == CONSTRA_OK && w->event_count > 0) {
        ev = constra__calloc(&a->platform, w->event_count, sizeof(*ev));
        if (ev == NULL) {
            rc = CONSTRA_E_NOMEM;
        }
        for (size_t i = 0; ev && i < w->event_count; i++) {
            const constra__res_event *e = &w->events[i];
            const char *stream = e->intent_id ? e->intent_id : "";
            ev[i] = (constra_record_event){
                sizeof(ev[i]), 0, stream, e->id, e->type, e->created_at_ms,
                stream[0] ? 0 : e->created_at_ms + CONSTRA_UNMATCHED_RETENTION_MS,
                e->document, e->document_len};
        }
    }
    if (rc == CONSTRA_OK) {
        /* Every read above is re-checked by the commit's expected versions:
         * a writer in between makes it conflict, never overwrite. */
        rc = commit(a, ops, n, ev, w->event_count, now, NULL);
    }
    constra__free(&a->platform, ev);
    constra__free(&a->platform, docs[0]);
    constra__free(&a->platform, docs[1]);
    if (existing.doc) {
        one_free(&existing);
    }
    if (stored.doc) {
        one_free(&stored);
    }
    return rc;
}

typedef struct intent_sink {
    constra__res_intent_fn emit;
    void *ctx;
    const constra__res_query *q; /* NULL: no filter */
    size_t emitted;
    int stop, corrupt;
    char last_value[CONSTRA_RECORD_VALUE_MAX + 1], last_id[CONSTRA_RECORD_VALUE_MAX + 1];
    size_t rows;
} intent_sink;

static int sink_intent(void *ctx, const char *value, const constra_record *r)
{
    intent_sink *s = ctx;
    s->rows++;
    copy_value(s->last_value, value);
    copy_value(s->last_id, r->id);
    constra__res_intent row;
    if (intent_row(r, &row) != 0) {
        s->corrupt = 1;
        return 1;
    }
    const constra__res_query *q = s->q;
    if (q && ((q->status && q->status[0] && strcmp(row.status, q->status) != 0) ||
              (q->reference && q->reference[0] && strcmp(row.reference, q->reference) != 0) ||
              (q->created_from_ms && row.created_at_ms < q->created_from_ms) ||
              (q->created_to_ms && row.created_at_ms >= q->created_to_ms))) {
        return 0;
    }
    s->emitted++;
    if (s->emit(s->ctx, &row) != 0 || (q && s->emitted >= q->limit)) {
        s->stop = 1;
        return 1;
    }
    return 0;
}

static int get_sink(void *ctx, const constra_record *r)
{
    return sink_intent(ctx, r->id, r);
}

static int ad_get_intent(void *ud, const char *id, constra__res_intent_fn emit, void *ctx)
{
    adapter *a = ud;
    if (!constra__res_valid_text(id) || id[0] == '\0' || emit == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    intent_sink s = {emit, ctx, NULL, 0, 0, 0, "", "", 0};
    int rc = a->rs.get(a->rs.user_data, "intent", id, 0, get_sink, &s);
    return rc == CONSTRA_OK && s.corrupt ? CONSTRA_E_STORAGE : rc;
}

static int ad_find_by_checkout(void *ud, const char *checkout, constra__res_intent_fn emit,
                               void *ctx)
{
    adapter *a = ud;
    if (!constra__res_valid_text(checkout) || checkout[0] == '\0' || emit == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    one owner;
    int rc = read_one(a, "checkout_ref", checkout, 0, &owner);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    rc = ad_get_intent(ud, owner.doc, emit, ctx);
    one_free(&owner);
    return rc;
}

/* Pages through one scan, filtering, until the sink stops or the scan
 * ends. */
static int scan_all(adapter *a, constra_record_scan *q, constra_record_scan_fn fn,
                    intent_sink *s)
{
    for (;;) {
        s->rows = 0;
        int rc = a->rs.scan(a->rs.user_data, q, fn, s);
        if (rc != CONSTRA_OK) {
            return rc;
        }
        if (s->corrupt) {
            return CONSTRA_E_STORAGE;
        }
        if (s->stop || s->rows < q->limit) {
            return CONSTRA_OK;
        }
        q->after_value = s->last_value;
        q->after_id = s->last_id;
    }
}

typedef struct due_sink {
    constra__res_due_fn emit;
    void *ctx;
    int corrupt;
} due_sink;

static int sink_due(void *ctx, const char *value, const constra_record *r)
{
    due_sink *s = ctx;
    const char *sep = strchr(value, '\x01');
    if (sep == NULL || sep - value != 19 || strcmp(sep + 1, r->id) != 0) {
        s->corrupt = 1;
        return 1;
    }
    return s->emit(s->ctx, value, r->id, num(value));
}

static int ad_list_due(void *ud, int64_t until_ms, const char *cursor, size_t limit,
                       constra__res_due_fn emit, void *ctx)
{
    adapter *a = ud;
    if (emit == NULL || limit == 0 || until_ms < 0 || until_ms == INT64_MAX ||
        (cursor && !constra__res_valid_text(cursor))) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    /* Values are "<19 digits>\x01id": everything below until + 1's digits
     * is due by until. */
    char to[20];
    due_text(to, until_ms + 1);
    const char *after_id = cursor ? strchr(cursor, '\x01') : NULL;
    if (cursor && after_id == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra_record_scan scan = {sizeof(scan), "intent", "due", NULL, to, NULL, cursor,
                                after_id ? after_id + 1 : NULL, 0, limit, 0};
    due_sink s = {emit, ctx, 0};
    int rc = a->rs.scan(a->rs.user_data, &scan, sink_due, &s);
    return rc == CONSTRA_OK && s.corrupt ? CONSTRA_E_STORAGE : rc;
}

static int ad_list_intents(void *ud, const constra__res_query *q,
                           constra__res_intent_fn emit, void *ctx)
{
    adapter *a = ud;
    if (q == NULL || q->struct_size < sizeof(*q) || q->limit == 0 || emit == NULL ||
        (q->status && !constra__res_valid_text(q->status)) ||
        (q->reference && !constra__res_valid_text(q->reference)) ||
        (q->starting_after && !constra__res_valid_text(q->starting_after))) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    /* Newest first (ids sort by creation): by the status or reference
     * index when filtered (its values end in the id), else by id; the
     * cursor is an upper bound. */
    const char *index = "", *filter = NULL;
    if (q->status && q->status[0]) {
        index = "status_id";
        filter = q->status;
    } else if (q->reference && q->reference[0]) {
        index = "ref_id";
        filter = q->reference;
    }
    char prefix[CONSTRA_RECORD_VALUE_MAX + 1], to[CONSTRA_RECORD_VALUE_MAX + 1];
    const char *after = q->starting_after && q->starting_after[0] ? q->starting_after : NULL;
    constra_record_scan scan = {sizeof(scan), "intent", index, NULL, after, NULL, NULL, NULL, 1,
                                PAGE, 0};
    if (filter) {
        if (!joined(prefix, sizeof(prefix), filter, "") ||
            (after && !joined(to, sizeof(to), filter, after))) {
            return CONSTRA_OK; /* longer than any stored value: nothing */
        }
        scan.prefix = prefix;
        scan.to = after ? to : NULL;
    }
    intent_sink s = {emit, ctx, q, 0, 0, 0, "", "", 0};
    return scan_all(a, &scan, sink_intent, &s);
}

typedef struct event_sink {
    constra__res_event_fn emit;
    void *ctx;
} event_sink;

static int sink_event(void *ctx, const constra_record_event *e)
{
    event_sink *s = ctx;
    constra__res_event row = {sizeof(row), e->id, e->stream, e->type, e->created_at_ms,
                                 e->sequence, e->document, e->document_len};
    return s->emit(s->ctx, &row);
}

static int ad_list_events(void *ud, const char *intent_id, int64_t after, size_t limit,
                          constra__res_event_fn emit, void *ctx)
{
    adapter *a = ud;
    if ((intent_id && !constra__res_valid_text(intent_id)) || emit == NULL || after < 0) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    if (limit == 0) {
        return CONSTRA_OK;
    }
    event_sink s = {emit, ctx};
    return a->rs.events(a->rs.user_data, intent_id, after, limit, sink_event, &s);
}

/* ---- idempotency -------------------------------------------------------- */

typedef struct idem_sink {
    constra__res_idempotency_fn emit;
    void *ctx;
    int corrupt;
} idem_sink;

static int sink_idem(void *ctx, const constra_record *r)
{
    idem_sink *s = ctx;
    constra__res_idempotency row;
    if (idem_parse(r->id, r->document, r->document_len, &row) != 0) {
        s->corrupt = 1;
        return 1;
    }
    if (s->emit) {
        s->emit(s->ctx, &row);
    }
    return 0;
}

/* The record of a new reservation of r's key: IN_FLIGHT, not linked,
 * r's times (its document a platform allocation in *doc). */
static int reservation(adapter *a, const constra__res_idempotency *r, char **doc,
                       constra_record *rec)
{
    constra__res_idempotency fresh = *r;
    fresh.state = CONSTRA__IDEM_IN_FLIGHT;
    fresh.http_status = 0;
    fresh.response = NULL;
    fresh.response_len = 0;
    size_t len = 0;
    if ((*doc = idem_doc(a, &fresh, &len)) == NULL) {
        return CONSTRA_E_NOMEM;
    }
    *rec = (constra_record){sizeof(*rec), "idempotency", r->key, 0, idem_death(&fresh), *doc,
                            len, NULL, 0};
    return CONSTRA_OK;
}

static int ad_idem_reserve(void *ud, const constra__res_idempotency *r, int64_t now,
                           constra__res_idempotency_fn emit, void *ctx)
{
    adapter *a = ud;
    if (!constra__res_idem_valid(r)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    char *doc;
    constra_record rec;
    if (reservation(a, r, &doc, &rec) != CONSTRA_OK) {
        return CONSTRA_E_NOMEM;
    }
    constra_record_op op = {CONSTRA_RECORD_PUT, &rec, 0};
    int rc = CONSTRA_E_CONFLICT;
    /* Taken: report the holder. It may die between the two calls; then
     * try again (a few times: each round someone else made progress). */
    for (int round = 0; round < 4 && rc == CONSTRA_E_CONFLICT; round++) {
        rc = commit(a, &op, 1, NULL, 0, now, NULL);
        if (rc == CONSTRA_E_CONFLICT) {
            idem_sink s = {emit, ctx, 0};
            int grc = a->rs.get(a->rs.user_data, "idempotency", r->key, now, sink_idem, &s);
            if (grc == CONSTRA_OK) {
                break;
            }
            if (grc != CONSTRA_E_NOT_FOUND) {
                rc = grc;
            }
        }
    }
    constra__free(&a->platform, doc);
    return rc;
}

static int ad_idem_complete(void *ud, const constra__res_idempotency *r)
{
    if (!constra__res_idem_valid(r)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra__res_write w = {sizeof(w), NULL, 0, NULL, 0, r, 0};
    return ad_commit(ud, &w);
}

static int ad_idem_release(void *ud, const char *key, const char *fingerprint,
                           int64_t created_at_ms)
{
    adapter *a = ud;
    if (!constra__res_valid_text(key) || !constra__res_valid_text(fingerprint)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    one cur;
    int rc = read_one(a, "idempotency", key, 0, &cur);
    if (rc == CONSTRA_E_NOT_FOUND) {
        return CONSTRA_OK;
    }
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra__res_idempotency r;
    if (idem_parse(key, cur.doc, cur.len, &r) != 0) {
        rc = CONSTRA_E_STORAGE;
    } else if (r.state == CONSTRA__IDEM_IN_FLIGHT && r.response_len == 0 &&
               strcmp(r.fingerprint, fingerprint) == 0 && r.created_at_ms == created_at_ms) {
        constra_record rec = {sizeof(rec), "idempotency", key, 0, 0, NULL, 0, NULL, 0};
        constra_record_op op = {CONSTRA_RECORD_DELETE, &rec, cur.version};
        rc = commit(a, &op, 1, NULL, 0, 0, NULL);
        if (rc == CONSTRA_E_CONFLICT) {
            rc = CONSTRA_OK; /* changed meanwhile (linked, completed): keep it */
        }
    }
    one_free(&cur);
    return rc;
}

static int ad_idem_take_over(void *ud, const constra__res_idempotency *fresh,
                             int64_t seen_created_at_ms)
{
    adapter *a = ud;
    if (!constra__res_idem_valid(fresh)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    one cur;
    int rc = read_one(a, "idempotency", fresh->key, 0, &cur);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra__res_idempotency r;
    if (idem_parse(fresh->key, cur.doc, cur.len, &r) != 0) {
        rc = CONSTRA_E_STORAGE;
    } else if (r.state != CONSTRA__IDEM_IN_FLIGHT || r.response_len != 0 ||
               strcmp(r.fingerprint, fresh->fingerprint) != 0 ||
               r.created_at_ms != seen_created_at_ms) {
        rc = CONSTRA_E_CONFLICT; /* not the reservation seen any more */
    } else {
        char *doc;
        constra_record rec;
        if ((rc = reservation(a, fresh, &doc, &rec)) == CONSTRA_OK) {
            constra_record_op op = {CONSTRA_RECORD_PUT, &rec, cur.version};
            rc = commit(a, &op, 1, NULL, 0, 0, NULL);
            constra__free(&a->platform, doc);
        }
    }
    one_free(&cur);
    return rc;
}

static int ad_purge(void *ud, int64_t now_ms)
{
    adapter *a = ud;
    /* Bounded rounds: a tick never waits for more than a few batches. */
    for (int round = 0; round < 16; round++) {
        size_t purged = 0;
        int rc = a->rs.purge(a->rs.user_data, now_ms, 256, &purged);
        if (rc != CONSTRA_OK || purged < 256) {
            return rc;
        }
    }
    return CONSTRA_OK;
}

static void ad_destroy(void *ud)
{
    adapter *a = ud;
    if (a->own && a->rs.destroy) {
        a->rs.destroy(a->rs.user_data);
    }
    constra_platform p = a->platform;
    constra__free(&p, a);
}

/* ---- webhook endpoints and deliveries ---------------------------------- */

typedef struct last_seq {
    int64_t seq;
} last_seq;

static int note_seq(void *ctx, const constra_record_event *e)
{
    ((last_seq *)ctx)->seq = e->sequence;
    return 0;
}

/* The sequence of the last event stored: found by doubling, then halving
 * on "is there an event after x" (an indexed read each, ~2 log2 N). */
static int last_sequence(adapter *a, int64_t *out)
{
    int64_t lo = 0, hi = 1; /* no event after hi is unknown yet */
    for (;;) {
        last_seq s = {0};
        int rc = a->rs.events(a->rs.user_data, NULL, hi, 1, note_seq, &s);
        if (rc != CONSTRA_OK) {
            return rc;
        }
        if (s.seq == 0) {
            break;
        }
        lo = hi;
        if (hi > INT64_MAX / 2) {
            break;
        }
        hi *= 2;
    }
    /* An event after lo exists (or lo = 0); none after hi. */
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        last_seq s = {0};
        int rc = a->rs.events(a->rs.user_data, NULL, mid, 1, note_seq, &s);
        if (rc != CONSTRA_OK) {
            return rc;
        }
        if (s.seq != 0) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    last_seq s = {0};
    int rc = a->rs.events(a->rs.user_data, NULL, lo, 1, note_seq, &s);
    *out = s.seq != 0 ? s.seq : lo;
    return rc;
}

static char *endpoint_doc(adapter *a, const constra__res_endpoint *ep, int64_t cursor,
                          size_t *len)
{
    constra__sbuf b;
    constra__sbuf_init(&b, &a->platform);
    put_text(&b, ep->url);
    put_text(&b, ep->secret);
    put_text(&b, ep->event_types);
    put_int(&b, ep->enabled);
    put_int(&b, ep->created_at_ms);
    put_int(&b, ep->updated_at_ms);
    put_int(&b, cursor);
    put_int(&b, ep->version);
    put_text(&b, ep->attributes);
    return constra__sbuf_take(&b, len);
}

static int endpoint_parse(const char *id, const char *doc, size_t len,
                          constra__res_endpoint *ep)
{
    const char *f[9];
    memset(ep, 0, sizeof(*ep));
    ep->struct_size = sizeof(*ep);
    /* Nine fields; a document written before the attributes has eight. */
    if (unpack(doc, len, f, 9, NULL, NULL) != 0) {
        if (unpack(doc, len, f, 8, NULL, NULL) != 0) {
            return -1;
        }
        f[8] = "";
    }
    ep->attributes = f[8];
    ep->id = id;
    ep->url = f[0];
    ep->secret = f[1];
    ep->event_types = f[2];
    ep->enabled = (int)num(f[3]);
    ep->created_at_ms = num(f[4]);
    ep->updated_at_ms = num(f[5]);
    ep->cursor = num(f[6]);
    ep->version = num(f[7]);
    return 0;
}

static int ad_ep_insert(void *ud, const constra__res_endpoint *ep)
{
    adapter *a = ud;
    if (!constra__res_endpoint_valid(ep) || ep->version != 1) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    int64_t cursor = 0;
    int rc = last_sequence(a, &cursor);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    size_t len = 0;
    char *doc = endpoint_doc(a, ep, cursor, &len);
    if (doc == NULL) {
        return CONSTRA_E_NOMEM;
    }
    constra_record rec = {sizeof(rec), "wh_endpoint", ep->id, 0, 0, doc, len, NULL, 0};
    constra_record_op op = {CONSTRA_RECORD_PUT, &rec, 0};
    rc = commit(a, &op, 1, NULL, 0, 0, NULL);
    constra__free(&a->platform, doc);
    return rc;
}

/* The stored endpoint, parsed (its strings in o->doc). */
static int endpoint_read(adapter *a, const char *id, one *o,
                         constra__res_endpoint *ep)
{
    int rc = read_one(a, "wh_endpoint", id, 0, o);
    if (rc == CONSTRA_OK && endpoint_parse(id, o->doc, o->len, ep) != 0) {
        one_free(o);
        rc = CONSTRA_E_STORAGE;
    }
    return rc;
}

static int ad_ep_update(void *ud, const constra__res_endpoint *ep, int64_t expected)
{
    adapter *a = ud;
    if (!constra__res_endpoint_valid(ep) || ep->version != expected + 1) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    one o;
    constra__res_endpoint cur;
    int rc = endpoint_read(a, ep->id, &o, &cur);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (cur.version != expected) {
        one_free(&o);
        return CONSTRA_E_CONFLICT;
    }
    constra__res_endpoint next = *ep;
    next.created_at_ms = cur.created_at_ms;
    size_t len = 0;
    char *doc = endpoint_doc(a, &next, cur.cursor, &len);
    if (doc == NULL) {
        one_free(&o);
        return CONSTRA_E_NOMEM;
    }
    constra_record rec = {sizeof(rec), "wh_endpoint", ep->id, 0, 0, doc, len, NULL, 0};
    constra_record_op op = {CONSTRA_RECORD_PUT, &rec, o.version};
    rc = commit(a, &op, 1, NULL, 0, 0, NULL);
    constra__free(&a->platform, doc);
    one_free(&o);
    return rc;
}

typedef struct id_sink {
    adapter *a;
    char **ids;
    int64_t *versions;
    size_t count, cap, rows;
    int nomem;
    char last_value[CONSTRA_RECORD_VALUE_MAX + 1], last_id[CONSTRA_RECORD_VALUE_MAX + 1];
} id_sink;

static int collect_id(void *ctx, const char *value, const constra_record *r)
{
    id_sink *s = ctx;
    s->rows++;
    copy_value(s->last_value, value);
    copy_value(s->last_id, r->id);
    if (s->count == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 16;
        char **ids = constra__realloc(&s->a->platform, s->ids, ncap * sizeof(*ids));
        if (ids) {
            s->ids = ids;
        }
        int64_t *v = ids ? constra__realloc(&s->a->platform, s->versions, ncap * sizeof(*v))
                         : NULL;
        if (v) {
            s->versions = v;
            s->cap = ncap;
        } else {
            s->nomem = 1;
            return 1;
        }
    }
    if ((s->ids[s->count] = constra__strndup(&s->a->platform, r->id, strlen(r->id))) == NULL) {
        s->nomem = 1;
        return 1;
    }
    s->versions[s->count++] = r->version;
    return 0;
}

static void id_sink_free(id_sink *s)
{
    for (size_t i = 0; i < s->count; i++) {
        constra__free(&s->a->platform, s->ids[i]);
    }
    constra__free(&s->a->platform, s->ids);
    constra__free(&s->a->platform, s->versions);
}

static int ad_ep_delete(void *ud, const char *id)
{
    adapter *a = ud;
    if (!constra__res_valid_text(id) || id[0] == '\0') {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    one o;
    int rc = read_one(a, "wh_endpoint", id, 0, &o);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    char prefix[CONSTRA_RECORD_VALUE_MAX + 1];
    joined(prefix, sizeof(prefix), id, "");
    id_sink s = {a, NULL, NULL, 0, 0, 0, 0, "", ""};
    constra_record_scan q = {sizeof(q), "wh_delivery", "endpoint", NULL, NULL, prefix, NULL,
                             NULL, 0, PAGE, 0};
    for (;;) {
        s.rows = 0;
        rc = a->rs.scan(a->rs.user_data, &q, collect_id, &s);
        if (rc != CONSTRA_OK || s.nomem || s.rows < PAGE) {
            break;
        }
        q.after_value = s.last_value;
        q.after_id = s.last_id;
    }
    if (rc == CONSTRA_OK && s.nomem) {
        rc = CONSTRA_E_NOMEM;
    }
    /* The deliveries in batches, the endpoint with the last one: until
     * then it stands, so a failure half-way leaves an endpoint with
     * fewer deliveries, never deliveries without an endpoint. */
    size_t done = 0;
    while (rc == CONSTRA_OK) {
        size_t batch = s.count - done;
        int last = batch < CONSTRA_RECORD_COMMIT_MAX;
        if (!last) {
            batch = CONSTRA_RECORD_COMMIT_MAX - 1;
        }
        constra_record_op *ops = constra__calloc(&a->platform, batch + 1, sizeof(*ops));
        constra_record *recs = constra__calloc(&a->platform, batch + 1, sizeof(*recs));
        if (ops == NULL || recs == NULL) {
            constra__free(&a->platform, ops);
            constra__free(&a->platform, recs);
            rc = CONSTRA_E_NOMEM;
            break;
        }
        for (size_t i = 0; i < batch; i++) {
            recs[i] = (constra_record){sizeof(recs[i]), "wh_delivery", s.ids[done + i], 0, 0,
                                       NULL, 0, NULL, 0};
            ops[i] = (constra_record_op){CONSTRA_RECORD_DELETE, &recs[i], s.versions[done + i]};
        }
        size_t n = batch;
        if (last) {
            recs[n] = (constra_record){sizeof(recs[n]), "wh_endpoint", id, 0, 0, NULL, 0, NULL, 0};
            ops[n] = (constra_record_op){CONSTRA_RECORD_DELETE, &recs[n], o.version};
            n++;
        }
        rc = commit(a, ops, n, NULL, 0, 0, NULL);
        constra__free(&a->platform, ops);
        constra__free(&a->platform, recs);
        done += batch;
        if (last) {
            break;
        }
    }
    id_sink_free(&s);
    one_free(&o);
    return rc;
}

typedef struct ep_sink {
    constra__res_endpoint_fn emit;
    void *ctx;
    int stop, corrupt;
    size_t rows;
    char last[CONSTRA_RECORD_VALUE_MAX + 1];
} ep_sink;

static int sink_endpoint(void *ctx, const char *value, const constra_record *r)
{
    ep_sink *s = ctx;
    s->rows++;
    copy_value(s->last, value);
    constra__res_endpoint ep;
    if (endpoint_parse(r->id, r->document, r->document_len, &ep) != 0) {
        s->corrupt = 1;
        return 1;
    }
    if (s->emit(s->ctx, &ep) != 0) {
        s->stop = 1;
        return 1;
    }
    return 0;
}

static int ad_ep_list(void *ud, constra__res_endpoint_fn emit, void *ctx)
{
    adapter *a = ud;
    if (emit == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    ep_sink s = {emit, ctx, 0, 0, 0, ""};
    constra_record_scan q = {sizeof(q), "wh_endpoint", "", NULL, NULL, NULL, NULL, NULL, 0, PAGE,
                             0};
    for (;;) {
        s.rows = 0;
        int rc = a->rs.scan(a->rs.user_data, &q, sink_endpoint, &s);
        if (rc != CONSTRA_OK || s.corrupt) {
            return rc != CONSTRA_OK ? rc : CONSTRA_E_STORAGE;
        }
        if (s.stop || s.rows < PAGE) {
            return CONSTRA_OK;
        }
        q.after_value = s.last;
        q.after_id = s.last;
    }
}

static char *delivery_doc(adapter *a, const constra__res_delivery *d, size_t *len)
{
    constra__sbuf b;
    constra__sbuf_init(&b, &a->platform);
    put_text(&b, d->endpoint_id);
    put_text(&b, d->event_id);
    put_text(&b, d->event_type);
    put_int(&b, d->event_sequence);
    put_text(&b, d->state);
    put_int(&b, d->attempts);
    put_int(&b, d->last_status);
    put_text(&b, d->last_error);
    put_int(&b, d->next_attempt_at_ms);
    put_int(&b, d->created_at_ms);
    put_int(&b, d->updated_at_ms);
    put_int(&b, (int64_t)d->body_len);
    constra__sbuf_append(&b, d->body ? d->body : "", d->body ? d->body_len : 0);
    constra__sbuf_append(&b, d->log ? d->log : "", d->log ? d->log_len : 0);
    return constra__sbuf_take(&b, len);
}

static int delivery_parse(const constra_record *r, constra__res_delivery *d)
{
    const char *f[12], *tail;
    size_t tail_len;
    memset(d, 0, sizeof(*d));
    d->struct_size = sizeof(*d);
    if (unpack(r->document, r->document_len, f, 12, &tail, &tail_len) != 0) {
        return -1;
    }
    int64_t body_len = num(f[11]);
    if (body_len < 0 || (uint64_t)body_len > tail_len) {
        return -1;
    }
    d->id = r->id;
    d->endpoint_id = f[0];
    d->event_id = f[1];
    d->event_type = f[2];
    d->event_sequence = num(f[3]);
    d->state = f[4];
    d->attempts = (int)num(f[5]);
    d->last_status = (int)num(f[6]);
    d->last_error = f[7];
    d->next_attempt_at_ms = num(f[8]);
    d->created_at_ms = num(f[9]);
    d->updated_at_ms = num(f[10]);
    d->version = r->version;
    d->body = tail;
    d->body_len = (size_t)body_len;
    d->log = tail + body_len;
    d->log_len = tail_len - (size_t)body_len;
    return 0;
}

/* The record of a delivery with its three index entries (values in bufs). */
static int delivery_record(const constra__res_delivery *d, const char *doc, size_t len,
                           char bufs[CONSTRA__DL_KEYS][CONSTRA_RECORD_VALUE_MAX + 1],
                           constra_record_key keys[CONSTRA__DL_KEYS], constra_record *rec)
{
    char due[20];
    due_text(due, d->next_attempt_at_ms);
    if (!joined(bufs[0], sizeof(bufs[0]), d->endpoint_id, d->id) ||
        !joined(bufs[1], sizeof(bufs[1]), d->state, d->id) ||
        !joined(bufs[2], sizeof(bufs[2]), d->endpoint_id, d->event_id) ||
        !joined(bufs[3], sizeof(bufs[3]), due, d->id)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    keys[0] = (constra_record_key){"endpoint", bufs[0], 0};
    keys[1] = (constra_record_key){"state", bufs[1], 0};
    keys[2] = (constra_record_key){"pair", bufs[2], 1};
    /* Only a pending delivery is ever due: the tick finds it by this. */
    keys[3] = (constra_record_key){"due", bufs[3], 0};
    size_t nk = strcmp(d->state, "pending") == 0 ? 4 : 3;
    *rec = (constra_record){sizeof(*rec), "wh_delivery", d->id, 0, 0, doc, len, keys, nk};
    return CONSTRA_OK;
}

static int ad_enqueue(void *ud, const char *endpoint_id, int64_t expected_cursor,
                      int64_t new_cursor, const constra__res_delivery *ds, size_t count)
{
    adapter *a = ud;
    if (!constra__res_valid_text(endpoint_id) || new_cursor < expected_cursor ||
        (count && ds == NULL) || count >= CONSTRA_RECORD_COMMIT_MAX) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    for (size_t i = 0; i < count; i++) {
        if (!constra__res_delivery_valid(&ds[i]) || ds[i].version != 1 ||
            strcmp(ds[i].endpoint_id, endpoint_id) != 0) {
            return CONSTRA_E_INVALID_ARGUMENT;
        }
    }
    one o;
    constra__res_endpoint ep;
    int rc = endpoint_read(a, endpoint_id, &o, &ep);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (ep.cursor != expected_cursor) {
        one_free(&o);
        return CONSTRA_E_CONFLICT;
    }
    size_t n = count + 1;
    constra_record_op *ops = constra__calloc(&a->platform, n, sizeof(*ops));
    constra_record *recs = constra__calloc(&a->platform, n, sizeof(*recs));
    char **docs = constra__calloc(&a->platform, n, sizeof(*docs));
    char(*bufs)[CONSTRA__DL_KEYS][CONSTRA_RECORD_VALUE_MAX + 1] =
        constra__calloc(&a->platform, n, sizeof(*bufs));
    constra_record_key(*keys)[CONSTRA__DL_KEYS] = constra__calloc(&a->platform, n, sizeof(*keys));
    if (!ops || !recs || !docs || !bufs || !keys) {
        rc = CONSTRA_E_NOMEM;
    }
    size_t len = 0;
    if (rc == CONSTRA_OK && (docs[0] = endpoint_doc(a, &ep, new_cursor, &len)) == NULL) {
        rc = CONSTRA_E_NOMEM;
    }
    if (rc == CONSTRA_OK) {
        recs[0] = (constra_record){sizeof(recs[0]), "wh_endpoint", endpoint_id, 0, 0, docs[0],
                                   len, NULL, 0};
        ops[0] = (constra_record_op){CONSTRA_RECORD_PUT, &recs[0], o.version};
    }
    for (size_t i = 0; i < count && rc == CONSTRA_OK; i++) {
        if ((docs[i + 1] = delivery_doc(a, &ds[i], &len)) == NULL) {
            rc = CONSTRA_E_NOMEM;
        } else if ((rc = delivery_record(&ds[i], docs[i + 1], len, bufs[i + 1], keys[i + 1],
                                         &recs[i + 1])) == CONSTRA_OK) {
            ops[i + 1] = (constra_record_op){CONSTRA_RECORD_PUT, &recs[i + 1], 0};
        }
    }
    if (rc == CONSTRA_OK) {
        rc = commit(a, ops, n, NULL, 0, 0, NULL);
    }
    for (size_t i = 0; docs && i < n; i++) {
        constra__free(&a->platform, docs[i]);
    }
    constra__free(&a->platform, ops);
    constra__free(&a->platform, recs);
    constra__free(&a->platform, docs);
    constra__free(&a->platform, bufs);
    constra__free(&a->platform, keys);
    one_free(&o);
    return rc;
}

typedef struct dl_sink {
    constra__res_delivery_fn emit;
    void *ctx;
    const constra__res_delivery_query *q;
    size_t emitted, rows;
    int stop, corrupt;
    char last_value[CONSTRA_RECORD_VALUE_MAX + 1], last_id[CONSTRA_RECORD_VALUE_MAX + 1];
} dl_sink;

static int sink_delivery(void *ctx, const char *value, const constra_record *r)
{
    dl_sink *s = ctx;
    s->rows++;
    copy_value(s->last_value, value);
    copy_value(s->last_id, r->id);
    constra__res_delivery d;
    if (delivery_parse(r, &d) != 0) {
        s->corrupt = 1;
        return 1;
    }
    if (!constra__res_delivery_matches(s->q, d.id, d.endpoint_id, d.state,
                                           d.next_attempt_at_ms)) {
        return 0;
    }
    s->emitted++;
    if (s->emit(s->ctx, &d) != 0 || s->emitted >= s->q->limit) {
        s->stop = 1;
        return 1;
    }
    return 0;
}

/* Pages the scan through sink_delivery until the sink stops, a page comes
 * back short, or (one_page) after the first. */
static int scan_deliveries(adapter *a, constra_record_scan *scan, dl_sink *s, int one_page)
{
    for (;;) {
        s->rows = 0;
        int rc = a->rs.scan(a->rs.user_data, scan, sink_delivery, s);
        if (rc != CONSTRA_OK || s->corrupt) {
            return rc != CONSTRA_OK ? rc : CONSTRA_E_STORAGE;
        }
        if (s->stop || s->rows < scan->limit || one_page) {
            return CONSTRA_OK;
        }
        scan->after_value = s->last_value;
        scan->after_id = s->last_id;
    }
}

static int ad_dl_list(void *ud, const constra__res_delivery_query *q,
                      constra__res_delivery_fn emit, void *ctx)
{
    adapter *a = ud;
    if (!constra__res_delivery_query_valid(q) || emit == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    dl_sink s = {emit, ctx, q, 0, 0, 0, 0, "", ""};
    if (q->due_at_ms > 0 && q->state && strcmp(q->state, "pending") == 0 &&
        !(q->id && q->id[0]) && !(q->endpoint_id && q->endpoint_id[0])) {
        /* The due listing: the due index up to due_at_ms, after the cursor
         * (a position in the index: rows are not filtered by id). */
        constra__res_delivery_query dq = *q;
        dq.starting_after = NULL;
        s.q = &dq;
        char to[20], av[CONSTRA_RECORD_VALUE_MAX + 1], due[20];
        due_text(to, q->due_at_ms == INT64_MAX ? INT64_MAX : q->due_at_ms + 1);
        const char *after = q->starting_after && q->starting_after[0] ? q->starting_after : NULL;
        constra_record_scan scan = {sizeof(scan), "wh_delivery", "due", NULL, to, NULL, NULL,
                                    NULL, 0, q->limit < PAGE ? q->limit : PAGE, 0};
        if (after) {
            due_text(due, q->after_due_ms);
            if (!joined(av, sizeof(av), due, after)) {
                return CONSTRA_OK;
            }
            scan.after_value = av;
            scan.after_id = after;
        }
        return scan_deliveries(a, &scan, &s, 0);
    }
    /* By id ascending, through the narrowest index the query names. */
    const char *index = "", *part = NULL;
    if (q->endpoint_id && q->endpoint_id[0]) {
        index = "endpoint";
        part = q->endpoint_id;
    } else if (q->state && q->state[0]) {
        index = "state";
        part = q->state;
    }
    char prefix[CONSTRA_RECORD_VALUE_MAX + 1], from[CONSTRA_RECORD_VALUE_MAX + 1];
    const char *after = q->starting_after && q->starting_after[0] ? q->starting_after : NULL;
    constra_record_scan scan = {sizeof(scan), "wh_delivery", index, NULL, NULL, NULL, NULL, NULL,
                                0, PAGE, 0};
    if (part) {
        if (!joined(prefix, sizeof(prefix), part, "")) {
            return CONSTRA_OK;
        }
        scan.prefix = prefix;
    }
    if (q->id && q->id[0]) { /* one id: start there */
        if (part ? !joined(from, sizeof(from), part, q->id) : strlen(q->id) >= sizeof(from)) {
            return CONSTRA_OK;
        }
        if (!part) {
            strcpy(from, q->id);
        }
        scan.from = from;
    }
    char av[CONSTRA_RECORD_VALUE_MAX + 1];
    if (after) {
        if (part ? !joined(av, sizeof(av), part, after) : strlen(after) >= sizeof(av)) {
            return CONSTRA_OK;
        }
        if (!part) {
            strcpy(av, after);
        }
        scan.after_value = av;
        scan.after_id = after;
    }
    return scan_deliveries(a, &scan, &s, q->id && q->id[0]); /* one id: one page holds it */
}

static int ad_dl_update(void *ud, const constra__res_delivery *d, int64_t expected)
{
    adapter *a = ud;
    if (!constra__res_delivery_valid(d) || d->version != expected + 1) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    one o;
    int rc = read_one(a, "wh_delivery", d->id, 0, &o);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra_record stored = {sizeof(stored), "wh_delivery", d->id, o.version, 0, o.doc, o.len,
                             NULL, 0};
    constra__res_delivery cur;
    if (delivery_parse(&stored, &cur) != 0) {
        one_free(&o);
        return CONSTRA_E_STORAGE;
    }
    if (cur.version != expected) {
        one_free(&o);
        return CONSTRA_E_CONFLICT;
    }
    /* Only the moving parts change; endpoint, event and body stay. */
    constra__res_delivery next = cur;
    next.state = d->state;
    next.attempts = d->attempts;
    next.last_status = d->last_status;
    next.last_error = d->last_error ? d->last_error : "";
    next.next_attempt_at_ms = d->next_attempt_at_ms;
    next.updated_at_ms = d->updated_at_ms;
    next.log = d->log;
    next.log_len = d->log ? d->log_len : 0;
    size_t len = 0;
    char *doc = delivery_doc(a, &next, &len);
    char bufs[CONSTRA__DL_KEYS][CONSTRA_RECORD_VALUE_MAX + 1];
    constra_record_key keys[CONSTRA__DL_KEYS];
    constra_record rec;
    if (doc == NULL) {
        rc = CONSTRA_E_NOMEM;
    } else if ((rc = delivery_record(&next, doc, len, bufs, keys, &rec)) == CONSTRA_OK) {
        constra_record_op op = {CONSTRA_RECORD_PUT, &rec, expected};
        rc = commit(a, &op, 1, NULL, 0, 0, NULL);
    }
    constra__free(&a->platform, doc);
    one_free(&o);
    return rc;
}

/* ---- workspace metadata ------------------------------------------------- */

typedef struct meta_sink {
    constra__res_meta_fn emit;
    void *ctx;
    adapter *a;
    int nomem;
} meta_sink;

static int sink_meta(void *ctx, const constra_record *r)
{
    meta_sink *s = ctx;
    char *v = constra__strndup(&s->a->platform, r->document ? r->document : "", r->document_len);
    if (v == NULL) {
        s->nomem = 1;
        return 1;
    }
    if (s->emit) {
        s->emit(s->ctx, v);
    }
    constra__free(&s->a->platform, v);
    return 0;
}

static int ad_meta_get(void *ud, const char *key, constra__res_meta_fn emit, void *ctx)
{
    adapter *a = ud;
    if (!constra__res_meta_key_valid(key) || emit == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    meta_sink s = {emit, ctx, a, 0};
    int rc = a->rs.get(a->rs.user_data, "meta", key, 0, sink_meta, &s);
    return rc == CONSTRA_OK && s.nomem ? CONSTRA_E_NOMEM : rc;
}

static int ad_meta_put(void *ud, const char *key, const char *value, constra__res_meta_fn emit,
                       void *ctx)
{
    adapter *a = ud;
    if (!constra__res_meta_put_valid(key, value)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra_record rec = {sizeof(rec), "meta", key, 0, 0, value, strlen(value), NULL, 0};
    constra_record_op op = {CONSTRA_RECORD_PUT, &rec, 0};
    int rc = commit(a, &op, 1, NULL, 0, 0, NULL);
    if (rc == CONSTRA_E_CONFLICT && emit != NULL) {
        meta_sink s = {emit, ctx, a, 0};
        int grc = a->rs.get(a->rs.user_data, "meta", key, 0, sink_meta, &s);
        if (grc != CONSTRA_OK) {
            rc = grc == CONSTRA_E_NOT_FOUND ? CONSTRA_E_STORAGE : grc;
        }
    }
    return rc;
}

void constra__res_own(const constra__res_table *t, int own)
{
    ((adapter *)t->user_data)->own = own;
}

int constra__res_open(constra__res_table *out, const constra_platform *platform,
                      const constra_storage *records, constra_error *err)
{
    int rc = constra_storage_check(records, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra_platform plat;
    if ((rc = constra__platform_resolve(&plat, platform, err)) != CONSTRA_OK) {
        return rc;
    }
    adapter *a = constra__calloc(&plat, 1, sizeof(*a));
    if (a == NULL) {
        return constra__fail(err, CONSTRA_E_NOMEM, NULL, NULL, "cannot allocate the adapter");
    }
    a->platform = plat;
    a->rs = *records;
    a->own = 1;
    constra__res_table st;
    memset(&st, 0, sizeof(st));
    st.struct_size = sizeof(st);
    st.user_data = a;
    st.commit = ad_commit;
    st.get_intent = ad_get_intent;
    st.find_by_checkout = ad_find_by_checkout;
    st.list_intents = ad_list_intents;
    st.list_due = ad_list_due;
    st.list_events = ad_list_events;
    st.idempotency_reserve = ad_idem_reserve;
    st.idempotency_complete = ad_idem_complete;
    st.idempotency_release = ad_idem_release;
    st.idempotency_take_over = ad_idem_take_over;
    st.purge_expired = ad_purge;
    st.destroy = ad_destroy;
    st.meta_get = ad_meta_get;
    st.meta_put_if_absent = ad_meta_put;
    *out = st;
    return CONSTRA_OK;
}

/* ---- webhook delivery (resources.h: functions, so unused ones are not
 * linked) ---------------------------------------------------------------- */

int constra__res_endpoint_insert(const constra__res_table *t, const constra__res_endpoint *ep)
{
    return ad_ep_insert(t->user_data, ep);
}

int constra__res_endpoint_update(const constra__res_table *t, const constra__res_endpoint *ep,
                                 int64_t expected_version)
{
    return ad_ep_update(t->user_data, ep, expected_version);
}

int constra__res_endpoint_delete(const constra__res_table *t, const char *id)
{
    return ad_ep_delete(t->user_data, id);
}

int constra__res_endpoint_list(const constra__res_table *t, constra__res_endpoint_fn emit,
                               void *ctx)
{
    return ad_ep_list(t->user_data, emit, ctx);
}

int constra__res_enqueue(const constra__res_table *t, const char *endpoint_id,
                         int64_t expected_cursor, int64_t new_cursor,
                         const constra__res_delivery *deliveries, size_t count)
{
    return ad_enqueue(t->user_data, endpoint_id, expected_cursor, new_cursor, deliveries, count);
}

int constra__res_delivery_list(const constra__res_table *t, const constra__res_delivery_query *q,
                               constra__res_delivery_fn emit, void *ctx)
{
    return ad_dl_list(t->user_data, q, emit, ctx);
}

int constra__res_delivery_update(const constra__res_table *t, const constra__res_delivery *d,
                                 int64_t expected_version)
{
    return ad_dl_update(t->user_data, d, expected_version);
}

/* Pending deliveries written before the due index (by 0.2 on a storage
 * of the generic kind: PostgreSQL) get their due entry: each is written
 * again as it is, compare-and-set on its version (a writer in between
 * wrote the entry itself). Once done, a "meta" record says so and later
 * calls cost one read. */
#define DUE_LAYOUT_KEY "layout_delivery_due"

int constra__res_reindex_deliveries(const constra__res_table *t)
{
    adapter *a = t->user_data;
    one mark;
    int rc = read_one(a, "meta", DUE_LAYOUT_KEY, 0, &mark);
    if (rc == CONSTRA_OK) {
        one_free(&mark);
        return CONSTRA_OK;
    }
    if (rc != CONSTRA_E_NOT_FOUND) {
        return rc;
    }
    char prefix[CONSTRA_RECORD_VALUE_MAX + 1];
    joined(prefix, sizeof(prefix), "pending", "");
    constra_record_scan scan = {sizeof(scan), "wh_delivery", "state", NULL, NULL, prefix, NULL,
                                NULL, 0, PAGE, 0};
    char last_value[CONSTRA_RECORD_VALUE_MAX + 1], last_id[CONSTRA_RECORD_VALUE_MAX + 1];
    for (;;) {
        id_sink ids = {a, NULL, NULL, 0, 0, 0, 0, "", ""};
        rc = a->rs.scan(a->rs.user_data, &scan, collect_id, &ids);
        if (rc == CONSTRA_OK && ids.nomem) {
            rc = CONSTRA_E_NOMEM;
        }
        for (size_t i = 0; rc == CONSTRA_OK && i < ids.count; i++) {
            one o;
            if ((rc = read_one(a, "wh_delivery", ids.ids[i], 0, &o)) == CONSTRA_E_NOT_FOUND) {
                rc = CONSTRA_OK;
                continue;
            }
            if (rc != CONSTRA_OK) {
                break;
            }
            constra_record r = {sizeof(r), "wh_delivery", ids.ids[i], o.version, 0, o.doc, o.len,
                                NULL, 0};
            constra__res_delivery d;
            char bufs[CONSTRA__DL_KEYS][CONSTRA_RECORD_VALUE_MAX + 1];
            constra_record_key keys[CONSTRA__DL_KEYS];
            constra_record rec;
            if (delivery_parse(&r, &d) != 0 ||
                delivery_record(&d, o.doc, o.len, bufs, keys, &rec) != CONSTRA_OK) {
                rc = CONSTRA_E_STORAGE;
            } else {
                constra_record_op op = {CONSTRA_RECORD_PUT, &rec, o.version};
                rc = commit(a, &op, 1, NULL, 0, 0, NULL);
                if (rc == CONSTRA_E_CONFLICT) {
                    rc = CONSTRA_OK;
                }
            }
            one_free(&o);
        }
        size_t rows = ids.rows;
        memcpy(last_value, ids.last_value, sizeof(last_value));
        memcpy(last_id, ids.last_id, sizeof(last_id));
        id_sink_free(&ids);
        if (rc != CONSTRA_OK) {
            return rc;
        }
        if (rows < PAGE) {
            break;
        }
        scan.after_value = last_value;
        scan.after_id = last_id;
    }
    rc = ad_meta_put(a, DUE_LAYOUT_KEY, "1", NULL, NULL);
    return rc == CONSTRA_E_CONFLICT ? CONSTRA_OK : rc;
}

/* ---- the builders, for the legacy SQLite migration ---------------------- */

/* migrate_legacy.c writes an old storage's rows as records through these,
 * so a migrated file holds exactly what this adapter writes and parses. */
static adapter builder(const constra_platform *platform)
{
    adapter a;
    memset(&a, 0, sizeof(a));
    a.platform = *platform;
    return a;
}

char *constra__on_records_intent_doc(const constra_platform *platform,
                                     const constra__res_intent *in, size_t *len)
{
    adapter a = builder(platform);
    return intent_doc(&a, in, len);
}

char *constra__on_records_idem_doc(const constra_platform *platform,
                                   const constra__res_idempotency *r, size_t *len)
{
    adapter a = builder(platform);
    return idem_doc(&a, r, len);
}

int constra__on_records_intent_keys(const constra__res_intent *in,
                                    char bufs[3][CONSTRA_RECORD_VALUE_MAX + 1],
                                    constra_record_key keys[3], size_t *count)
{
    return intent_keys(in, bufs, keys, count);
}

int64_t constra__on_records_idem_death(const constra__res_idempotency *r)
{
    return idem_death(r);
}

char *constra__on_records_endpoint_doc(const constra_platform *platform,
                                       const constra__res_endpoint *ep,
                                       int64_t cursor, size_t *len)
{
    adapter a = builder(platform);
    return endpoint_doc(&a, ep, cursor, len);
}

char *constra__on_records_delivery_doc(const constra_platform *platform,
                                       const constra__res_delivery *d, size_t *len)
{
    adapter a = builder(platform);
    return delivery_doc(&a, d, len);
}

int constra__on_records_delivery_record(const constra__res_delivery *d, const char *doc,
                                        size_t len,
                                        char bufs[CONSTRA__DL_KEYS][CONSTRA_RECORD_VALUE_MAX + 1],
                                        constra_record_key keys[CONSTRA__DL_KEYS],
                                        constra_record *rec)
{
    return delivery_record(d, doc, len, bufs, keys, rec);
}
