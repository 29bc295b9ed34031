/* The record store conformance suite (record_conformance.h): the contract
 * of include/constra/storage.h, case by case, and its races. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record_conformance.h"

static const record_conformance *impl;

/* ---- fixtures ----------------------------------------------------------- */

typedef struct fx {
    constra_storage st;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    constra_storage init = CONSTRA_STORAGE_INIT;
    f->st = init;
    if (impl->make(&f->st, impl->arg) != CONSTRA_OK) {
        free(f);
        return -1;
    }
    assert_int_equal(constra_storage_check(&f->st, NULL), CONSTRA_OK);
    *state = f;
    return 0;
}

static void destroy(constra_storage *st)
{
    if (st->destroy) {
        st->destroy(st->user_data);
    }
}

static int teardown(void **state)
{
    fx *f = *state;
    destroy(&f->st);
    free(f);
    return 0;
}

#define NOW INT64_C(1764239894625)

/* ---- helpers: one operation per commit, read-back copies ---------------- */

typedef struct keyspec {
    const char *index, *value;
    int unique;
} keyspec;

static int commit_ops(constra_storage *st, const constra_record_op *ops, size_t n,
                      const constra_record_event *ev, size_t nev, int64_t now, size_t *failed)
{
    constra_record_commit c = {sizeof(c), now, ops, n, ev, nev};
    return st->commit(st->user_data, &c, failed);
}

static int put_at(constra_storage *st, const char *kind, const char *id, int64_t expected,
                  const char *doc, int64_t expires, const keyspec *keys, size_t nkeys,
                  int64_t now)
{
    constra_record_key k[CONSTRA_RECORD_KEYS_MAX + 2];
    for (size_t i = 0; i < nkeys; i++) {
        k[i] = (constra_record_key){keys[i].index, keys[i].value, keys[i].unique};
    }
    constra_record r = {sizeof(r), kind, id, 0, expires, doc, doc ? strlen(doc) : 0, k, nkeys};
    constra_record_op op = {CONSTRA_RECORD_PUT, &r, expected};
    return commit_ops(st, &op, 1, NULL, 0, now, NULL);
}

static int put(constra_storage *st, const char *kind, const char *id, int64_t expected,
               const char *doc, const keyspec *keys, size_t nkeys)
{
    return put_at(st, kind, id, expected, doc, 0, keys, nkeys, NOW);
}

static int del(constra_storage *st, const char *kind, const char *id, int64_t expected)
{
    constra_record r = {sizeof(r), kind, id, 0, 0, NULL, 0, NULL, 0};
    constra_record_op op = {CONSTRA_RECORD_DELETE, &r, expected};
    return commit_ops(st, &op, 1, NULL, 0, NOW, NULL);
}

typedef struct got {
    int count;
    int64_t version, expires;
    char id[300], doc[64];
    size_t doc_len;
    size_t key_count;
    char keys[CONSTRA_RECORD_KEYS_MAX][300];
} got;

static int copy_rec(void *ctx, const constra_record *r)
{
    got *g = ctx;
    g->count++;
    g->version = r->version;
    g->expires = r->expires_at_ms;
    snprintf(g->id, sizeof(g->id), "%s", r->id);
    g->doc_len = r->document_len;
    memcpy(g->doc, r->document ? r->document : "", r->document_len < 64 ? r->document_len : 64);
    g->key_count = r->key_count;
    for (size_t k = 0; k < r->key_count && k < CONSTRA_RECORD_KEYS_MAX; k++) {
        snprintf(g->keys[k], sizeof(g->keys[k]), "%s=%s%s", r->keys[k].index, r->keys[k].value,
                 r->keys[k].unique ? "!" : "");
    }
    return 0;
}

static got get_at(constra_storage *st, const char *kind, const char *id, int64_t now,
                  int expect_rc)
{
    got g;
    memset(&g, 0, sizeof(g));
    assert_int_equal(st->get(st->user_data, kind, id, now, copy_rec, &g), expect_rc);
    assert_int_equal(g.count, expect_rc == CONSTRA_OK ? 1 : 0);
    return g;
}

static got get(constra_storage *st, const char *kind, const char *id, int expect_rc)
{
    return get_at(st, kind, id, NOW, expect_rc);
}

/* A scan's rows as "value/id" joined by spaces. */
typedef struct rows {
    char text[8192];
    size_t n;
    int stop_after;
} rows;

static int add_row(void *ctx, const char *value, const constra_record *r)
{
    rows *w = ctx;
    size_t len = strlen(w->text);
    snprintf(w->text + len, sizeof(w->text) - len, "%s%s/%s", w->n ? " " : "", value, r->id);
    w->n++;
    return w->stop_after && (int)w->n >= w->stop_after;
}

static rows scan(constra_storage *st, const char *kind, const char *index, const char *from,
                 const char *to, const char *prefix, int descending, size_t limit)
{
    rows w;
    memset(&w, 0, sizeof(w));
    constra_record_scan q = {sizeof(q), kind, index, from, to, prefix, NULL, NULL, descending,
                             limit, NOW};
    assert_int_equal(st->scan(st->user_data, &q, add_row, &w), CONSTRA_OK);
    return w;
}

/* Pages through a whole scan `page` rows at a time with the cursor. */
static rows scan_paged(constra_storage *st, const char *kind, const char *index,
                       int descending, size_t page)
{
    rows all;
    memset(&all, 0, sizeof(all));
    char after_value[300] = "", after_id[300] = "";
    for (int guard = 0; guard < 1000; guard++) {
        rows w;
        memset(&w, 0, sizeof(w));
        constra_record_scan q = {sizeof(q), kind, index, NULL, NULL, NULL,
                                 guard ? after_value : NULL, guard ? after_id : NULL,
                                 descending, page, NOW};
        assert_int_equal(st->scan(st->user_data, &q, add_row, &w), CONSTRA_OK);
        if (w.n == 0) {
            break;
        }
        size_t len = strlen(all.text);
        snprintf(all.text + len, sizeof(all.text) - len, "%s%s", all.n ? " " : "", w.text);
        all.n += w.n;
        /* The cursor: the last row's value and id. */
        const char *last = strrchr(w.text, ' ');
        last = last ? last + 1 : w.text;
        const char *slash = strrchr(last, '/');
        snprintf(after_value, sizeof(after_value), "%.*s", (int)(slash - last), last);
        snprintf(after_id, sizeof(after_id), "%s", slash + 1);
        if (w.n < page) {
            break;
        }
    }
    return all;
}

typedef struct evs {
    size_t n;
    int64_t seq[512];
    char ids[512][32];
    char stream[512][32];
    int stop_after;
} evs;

static int add_event(void *ctx, const constra_record_event *e)
{
    evs *v = ctx;
    if (v->n < 512) {
        v->seq[v->n] = e->sequence;
        snprintf(v->ids[v->n], sizeof(v->ids[0]), "%s", e->id);
        snprintf(v->stream[v->n], sizeof(v->stream[0]), "%s", e->stream);
    }
    v->n++;
    return v->stop_after && (int)v->n >= v->stop_after;
}

static evs events(constra_storage *st, const char *stream, int64_t after, size_t limit)
{
    evs v;
    memset(&v, 0, sizeof(v));
    assert_int_equal(st->events(st->user_data, stream, after, limit, add_event, &v), CONSTRA_OK);
    return v;
}

static constra_record_event event(const char *stream, const char *id, int64_t expires)
{
    constra_record_event e = {sizeof(e), 0, stream, id, "thing.happened", NOW, expires,
                              "{\"e\":1}", 7};
    return e;
}

/* ---- records ------------------------------------------------------------ */

static void test_put_get_round_trip(void **state)
{
    constra_storage *st = &((fx *)*state)->st;
    static const keyspec keys[] = {{"reference", "order-7429", 0}, {"checkout", "ws_CO_1", 1}};
    assert_int_equal(put(st, "intent", "pi_1", 0, "{\"a\":1}", keys, 2), CONSTRA_OK);
    got g = get(st, "intent", "pi_1", CONSTRA_OK);
    assert_int_equal(g.version, 1);
    assert_int_equal(g.expires, 0);
    assert_int_equal(g.doc_len, 7);
    assert_memory_equal(g.doc, "{\"a\":1}", 7);
    assert_int_equal(g.key_count, 2);
    int seen_ref = 0, seen_co = 0;
    for (size_t k = 0; k < g.key_count; k++) {
        seen_ref += strcmp(g.keys[k], "reference=order-7429") == 0;
        seen_co += strcmp(g.keys[k], "checkout=ws_CO_1!") == 0;
    }
    assert_true(seen_ref == 1 && seen_co == 1);
    /* Kinds are namespaces; ids are exact. */
    get(st, "payout", "pi_1", CONSTRA_E_NOT_FOUND);
    get(st, "intent", "pi_", CONSTRA_E_NOT_FOUND);
    get(st, "intent", "pi_10", CONSTRA_E_NOT_FOUND);
    assert_int_equal(put(st, "payout", "pi_1", 0, "other", NULL, 0), CONSTRA_OK);
    assert_int_equal(get(st, "payout", "pi_1", CONSTRA_OK).doc_len, 5);
    assert_int_equal(get(st, "intent", "pi_1", CONSTRA_OK).doc_len, 7);
}

typedef struct doc_check {
    const char *want;
    size_t want_len, len;
    int same;
} doc_check;

static int compare_doc(void *ctx, const constra_record *r)
{
    doc_check *c = ctx;
    c->len = r->document_len;
    c->same = r->document_len == c->want_len && memcmp(r->document, c->want, c->want_len) == 0;
    return 0;
}

/* Documents are bytes: NULs inside, empty, and 1 MiB come back exactly. */
static void test_documents_are_bytes(void **state)
{
    constra_storage *st = &((fx *)*state)->st;
    static const char bin[] = {'a', '\0', 'b', (char)0xff, '\0'};
    constra_record r = {sizeof(r), "blob", "b1", 0, 0, bin, sizeof(bin), NULL, 0};
    constra_record_op op = {CONSTRA_RECORD_PUT, &r, 0};
    assert_int_equal(commit_ops(st, &op, 1, NULL, 0, NOW, NULL), CONSTRA_OK);
    got g = get(st, "blob", "b1", CONSTRA_OK);
    assert_int_equal(g.doc_len, sizeof(bin));
    assert_memory_equal(g.doc, bin, sizeof(bin));
    assert_int_equal(put(st, "blob", "empty", 0, NULL, NULL, 0), CONSTRA_OK);
    assert_int_equal(get(st, "blob", "empty", CONSTRA_OK).doc_len, 0);

    size_t big = CONSTRA_RECORD_DOCUMENT_MIN_MAX;
    char *doc = malloc(big);
    for (size_t i = 0; i < big; i++) {
        doc[i] = (char)(i * 31 + 7);
    }
    constra_record rb = {sizeof(rb), "blob", "big", 0, 0, doc, big, NULL, 0};
    op.record = &rb;
    assert_int_equal(commit_ops(st, &op, 1, NULL, 0, NOW, NULL), CONSTRA_OK);
    doc_check c = {doc, big, 0, 0};
    assert_int_equal(st->get(st->user_data, "blob", "big", NOW, compare_doc, &c), CONSTRA_OK);
    assert_int_equal(c.len, big);
    assert_true(c.same);
    free(doc);
}

static void test_compare_and_set(void **state)
{
    constra_storage *st = &((fx *)*state)->st;
    assert_int_equal(put(st, "intent", "pi_1", 0, "v1", NULL, 0), CONSTRA_OK);
    assert_int_equal(put(st, "intent", "pi_1", 0, "again", NULL, 0), CONSTRA_E_CONFLICT);
    assert_int_equal(put(st, "intent", "pi_1", 1, "v2", NULL, 0), CONSTRA_OK);
    assert_int_equal(put(st, "intent", "pi_1", 1, "stale", NULL, 0), CONSTRA_E_CONFLICT);
    assert_int_equal(put(st, "intent", "pi_1", 3, "future", NULL, 0), CONSTRA_E_CONFLICT);
    got g = get(st, "intent", "pi_1", CONSTRA_OK);
    assert_int_equal(g.version, 2);
    assert_memory_equal(g.doc, "v2", 2);
    assert_int_equal(put(st, "intent", "pi_none", 4, "x", NULL, 0), CONSTRA_E_CONFLICT);
    get(st, "intent", "pi_none", CONSTRA_E_NOT_FOUND);

    assert_int_equal(del(st, "intent", "pi_1", 1), CONSTRA_E_CONFLICT);
    assert_int_equal(get(st, "intent", "pi_1", CONSTRA_OK).version, 2);
    assert_int_equal(del(st, "intent", "pi_1", 2), CONSTRA_OK);
    get(st, "intent", "pi_1", CONSTRA_E_NOT_FOUND);
    assert_int_equal(del(st, "intent", "pi_1", 2), CONSTRA_E_CONFLICT);
    /* Inserted again, it starts over at version 1. */
    assert_int_equal(put(st, "intent", "pi_1", 0, "v1'", NULL, 0), CONSTRA_OK);
    assert_int_equal(get(st, "intent", "pi_1", CONSTRA_OK).version, 1);

    /* ASSERT: a read the commit depends on. */
    constra_record a = {sizeof(a), "intent", "pi_1", 0, 0, NULL, 0, NULL, 0};
    constra_record w = {sizeof(w), "intent", "pi_2", 0, 0, "w", 1, NULL, 0};
    constra_record_op ops[2] = {{CONSTRA_RECORD_ASSERT, &a, 2}, {CONSTRA_RECORD_PUT, &w, 0}};
    size_t failed = 99;
    assert_int_equal(commit_ops(st, ops, 2, NULL, 0, NOW, &failed), CONSTRA_E_CONFLICT);
    assert_int_equal(failed, 0);
    get(st, "intent", "pi_2", CONSTRA_E_NOT_FOUND);
    ops[0].expected_version = 1;
    assert_int_equal(commit_ops(st, ops, 2, NULL, 0, NOW, NULL), CONSTRA_OK);
    assert_int_equal(get(st, "intent", "pi_1", CONSTRA_OK).version, 1); /* ASSERT wrote nothing */
    get(st, "intent", "pi_2", CONSTRA_OK);
    constra_record absent = {sizeof(absent), "intent", "pi_3", 0, 0, NULL, 0, NULL, 0};
    constra_record_op must_not_exist = {CONSTRA_RECORD_ASSERT, &absent, 0};
    assert_int_equal(commit_ops(st, &must_not_exist, 1, NULL, 0, NOW, NULL), CONSTRA_OK);
    must_not_exist.record = &a;
    assert_int_equal(commit_ops(st, &must_not_exist, 1, NULL, 0, NOW, NULL), CONSTRA_E_CONFLICT);
}

/* Several operations: all or nothing, each judged after the earlier ones. */
static void test_commit_is_atomic_and_ordered(void **state)
{
    constra_storage *st = &((fx *)*state)->st;
    assert_int_equal(put(st, "intent", "pi_b", 0, "b1", NULL, 0), CONSTRA_OK);
    constra_record ra = {sizeof(ra), "intent", "pi_a", 0, 0, "a1", 2, NULL, 0};
    constra_record rb = {sizeof(rb), "intent", "pi_b", 0, 0, "b2", 2, NULL, 0};
    constra_record_event ev[2] = {event("pi_a", "evt_1", 0), event("pi_b", "evt_2", 0)};
    constra_record_op ops[2] = {{CONSTRA_RECORD_PUT, &ra, 0}, {CONSTRA_RECORD_PUT, &rb, 5}};
    size_t failed = 99;
    assert_int_equal(commit_ops(st, ops, 2, ev, 2, NOW, &failed), CONSTRA_E_CONFLICT);
    assert_int_equal(failed, 1);
    get(st, "intent", "pi_a", CONSTRA_E_NOT_FOUND);
    assert_int_equal(get(st, "intent", "pi_b", CONSTRA_OK).version, 1);
    assert_int_equal(events(st, NULL, 0, 100).n, 0);

    ops[1].expected_version = 1;
    assert_int_equal(commit_ops(st, ops, 2, ev, 2, NOW, NULL), CONSTRA_OK);
    assert_int_equal(get(st, "intent", "pi_a", CONSTRA_OK).version, 1);
    assert_int_equal(get(st, "intent", "pi_b", CONSTRA_OK).version, 2);
    assert_int_equal(events(st, NULL, 0, 100).n, 2);

    /* The same record twice in one commit: the second sees the first. */
    constra_record c1 = {sizeof(c1), "intent", "pi_c", 0, 0, "c1", 2, NULL, 0};
    constra_record c2 = {sizeof(c2), "intent", "pi_c", 0, 0, "c2", 2, NULL, 0};
    constra_record_op twice[2] = {{CONSTRA_RECORD_PUT, &c1, 0}, {CONSTRA_RECORD_PUT, &c2, 1}};
    assert_int_equal(commit_ops(st, twice, 2, NULL, 0, NOW, NULL), CONSTRA_OK);
    got g = get(st, "intent", "pi_c", CONSTRA_OK);
    assert_int_equal(g.version, 2);
    assert_memory_equal(g.doc, "c2", 2);
    /* Delete then insert again in one commit: a fresh record. */
    constra_record_op again[2] = {{CONSTRA_RECORD_DELETE, &c1, 2}, {CONSTRA_RECORD_PUT, &c1, 0}};
    assert_int_equal(commit_ops(st, again, 2, NULL, 0, NOW, NULL), CONSTRA_OK);
    g = get(st, "intent", "pi_c", CONSTRA_OK);
    assert_int_equal(g.version, 1);
    assert_memory_equal(g.doc, "c1", 2);
    /* Judged in order: a second insert of one id in one commit conflicts. */
    constra_record_op dup2[2] = {{CONSTRA_RECORD_PUT, &ra, 1}, {CONSTRA_RECORD_PUT, &ra, 1}};
    failed = 99;
    assert_int_equal(commit_ops(st, dup2, 2, NULL, 0, NOW, &failed), CONSTRA_E_CONFLICT);
    assert_int_equal(failed, 1);
    assert_int_equal(get(st, "intent", "pi_a", CONSTRA_OK).version, 1);
}

static void test_unique_keys(void **state)
{
    constra_storage *st = &((fx *)*state)->st;
    static const keyspec uref = {"checkout", "ws_CO_1", 1}, ref = {"checkout", "ws_CO_1", 0};
    static const keyspec other = {"checkout", "ws_CO_2", 1};
    assert_int_equal(put(st, "intent", "pi_a", 0, "a", &uref, 1), CONSTRA_OK);
    assert_int_equal(put(st, "intent", "pi_b", 0, "b", &uref, 1), CONSTRA_E_CONFLICT);
    assert_int_equal(put(st, "intent", "pi_b", 0, "b", &ref, 1), CONSTRA_E_CONFLICT);
    get(st, "intent", "pi_b", CONSTRA_E_NOT_FOUND);
    /* Another kind, another index, another value: no conflict. */
    assert_int_equal(put(st, "payout", "po_b", 0, "b", &uref, 1), CONSTRA_OK);
    static const keyspec idx2 = {"receipt", "ws_CO_1", 1};
    assert_int_equal(put(st, "intent", "pi_b", 0, "b", &idx2, 1), CONSTRA_OK);
    assert_int_equal(put(st, "intent", "pi_c", 0, "c", &other, 1), CONSTRA_OK);
    /* The holder itself may keep it across writes. */
    assert_int_equal(put(st, "intent", "pi_a", 1, "a2", &uref, 1), CONSTRA_OK);
    /* Non-unique entries share a value freely. */
    static const keyspec r1 = {"reference", "order-1", 0};
    assert_int_equal(put(st, "intent", "pi_r1", 0, "", &r1, 1), CONSTRA_OK);
    assert_int_equal(put(st, "intent", "pi_r2", 0, "", &r1, 1), CONSTRA_OK);
    /* ...but a unique one cannot join them. */
    static const keyspec ur1 = {"reference", "order-1", 1};
    assert_int_equal(put(st, "intent", "pi_r3", 0, "", &ur1, 1), CONSTRA_E_CONFLICT);

    /* In one commit: release by one record, take by another. */
    constra_record_key none[1];
    constra_record a3 = {sizeof(a3), "intent", "pi_a", 0, 0, "a3", 2, none, 0};
    constra_record_key k = {"checkout", "ws_CO_1", 1};
    constra_record d = {sizeof(d), "intent", "pi_d", 0, 0, "d", 1, &k, 1};
    constra_record_op swap[2] = {{CONSTRA_RECORD_PUT, &a3, 2}, {CONSTRA_RECORD_PUT, &d, 0}};
    constra_record_op wrong_order[2] = {{CONSTRA_RECORD_PUT, &d, 0}, {CONSTRA_RECORD_PUT, &a3, 2}};
    size_t failed = 99;
    assert_int_equal(commit_ops(st, wrong_order, 2, NULL, 0, NOW, &failed), CONSTRA_E_CONFLICT);
    assert_int_equal(failed, 0);
    assert_int_equal(commit_ops(st, swap, 2, NULL, 0, NOW, NULL), CONSTRA_OK);
    get(st, "intent", "pi_d", CONSTRA_OK);
    /* Two new records of one commit with one unique value: the second fails. */
    constra_record_key ko = {"checkout", "ws_CO_9", 1};
    constra_record e1 = {sizeof(e1), "intent", "pi_e1", 0, 0, "", 0, &ko, 1};
    constra_record e2 = e1;
    e2.id = "pi_e2";
    constra_record_op both[2] = {{CONSTRA_RECORD_PUT, &e1, 0}, {CONSTRA_RECORD_PUT, &e2, 0}};
    failed = 99;
    assert_int_equal(commit_ops(st, both, 2, NULL, 0, NOW, &failed), CONSTRA_E_CONFLICT);
    assert_int_equal(failed, 1);
    get(st, "intent", "pi_e1", CONSTRA_E_NOT_FOUND);
    /* Deleting the holder frees the value. */
    assert_int_equal(put(st, "intent", "pi_f", 0, "", &other, 1), CONSTRA_E_CONFLICT);
    assert_int_equal(del(st, "intent", "pi_c", 1), CONSTRA_OK);
    assert_int_equal(put(st, "intent", "pi_f", 0, "", &other, 1), CONSTRA_OK);
}

static void test_expiry(void **state)
{
    constra_storage *st = &((fx *)*state)->st;
    static const keyspec k = {"key", "idem-1", 1};
    assert_int_equal(put_at(st, "idempotency", "idem-1", 0, "held", NOW + 1000, &k, 1, NOW),
                     CONSTRA_OK);
    assert_int_equal(get_at(st, "idempotency", "idem-1", NOW + 999, CONSTRA_OK).expires,
                     NOW + 1000);
    get_at(st, "idempotency", "idem-1", NOW + 1000, CONSTRA_E_NOT_FOUND);
    /* While live, nobody else takes its unique value or its id. */
    assert_int_equal(put_at(st, "idempotency", "idem-1", 0, "x", 0, NULL, 0, NOW + 999),
                     CONSTRA_E_CONFLICT);
    assert_int_equal(put_at(st, "idempotency", "other", 0, "x", 0, &k, 1, NOW + 999),
                     CONSTRA_E_CONFLICT);
    /* Dead: its version no longer matches, its value is free, an insert replaces it. */
    assert_int_equal(put_at(st, "idempotency", "idem-1", 1, "late", 0, NULL, 0, NOW + 1000),
                     CONSTRA_E_CONFLICT);
    assert_int_equal(put_at(st, "idempotency", "other", 0, "x", 0, &k, 1, NOW + 1000),
                     CONSTRA_OK);
    assert_int_equal(put_at(st, "idempotency", "idem-1", 0, "fresh", NOW + 5000, NULL, 0,
                            NOW + 1000),
                     CONSTRA_OK);
    got g = get_at(st, "idempotency", "idem-1", NOW + 1000, CONSTRA_OK);
    assert_int_equal(g.version, 1);
    assert_memory_equal(g.doc, "fresh", 5);
    /* Scans skip the dead too. */
    rows w;
    memset(&w, 0, sizeof(w));
    constra_record_scan q = {sizeof(q), "idempotency", "", NULL, NULL, NULL, NULL, NULL, 0, 10,
                             NOW + 5000};
    assert_int_equal(st->scan(st->user_data, &q, add_row, &w), CONSTRA_OK);
    assert_string_equal(w.text, "other/other");
}

static void test_purge_is_bounded(void **state)
{
    constra_storage *st = &((fx *)*state)->st;
    char id[32];
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof(id), "k%02d", i);
        assert_int_equal(put_at(st, "idempotency", id, 0, "x", NOW + 10 + i, NULL, 0, NOW),
                         CONSTRA_OK);
    }
    assert_int_equal(put(st, "idempotency", "forever", 0, "x", NULL, 0), CONSTRA_OK);
    constra_record_event ev[3] = {event("", "evt_u1", NOW + 5), event("", "evt_u2", NOW + 50),
                                  event("pi_1", "evt_k", 0)};
    assert_int_equal(commit_ops(st, NULL, 0, ev, 3, NOW, NULL), CONSTRA_OK);
    size_t purged = 99;
    assert_int_equal(st->purge(st->user_data, NOW + 9, 100, &purged), CONSTRA_OK);
    assert_int_equal(purged, 1); /* evt_u1 only */
    assert_int_equal(events(st, NULL, 0, 10).n, 2);
    /* Ten dead records, three at a time. */
    size_t total = 0;
    for (int round = 0; round < 10; round++) {
        assert_int_equal(st->purge(st->user_data, NOW + 100, 3, &purged), CONSTRA_OK);
        assert_true(purged <= 6);
        total += purged;
        if (purged == 0) {
            break;
        }
    }
    assert_int_equal(total, 11); /* ten records and evt_u2 */
    get_at(st, "idempotency", "forever", NOW + 100, CONSTRA_OK);
    evs v = events(st, NULL, 0, 10);
    assert_int_equal(v.n, 1);
    assert_string_equal(v.ids[0], "evt_k");
    /* A purged id is free again, even at an earlier `now`. */
    assert_int_equal(put_at(st, "idempotency", "k00", 0, "y", 0, NULL, 0, NOW), CONSTRA_OK);
}

/* ---- scans -------------------------------------------------------------- */

static void fill_for_scans(constra_storage *st)
{
    /* ids pi_00 .. pi_24; status|created ordered entries; two checkout
     * entries on pi_03 (one per attempt). */
    for (int i = 0; i < 25; i++) {
        char id[16], sc[64];
        snprintf(id, sizeof(id), "pi_%02d", i);
        snprintf(sc, sizeof(sc), "%s|%013d", i % 3 == 0 ? "succeeded" : "pending", 1000 + i);
        keyspec keys[3] = {{"status_created", sc, 0}, {"reference", i < 20 ? "same" : id, 0}};
        size_t nk = 2;
        if (i == 3) {
            keys[2] = (keyspec){"checkout", "ws_CO_3b", 1};
            nk = 3;
        }
        assert_int_equal(put(st, "intent", id, 0, "d", keys, nk), CONSTRA_OK);
    }
    /* pi_03 rewritten with both its checkouts: two entries in one index. */
    static const keyspec both[4] = {{"checkout", "ws_CO_3a", 1}, {"checkout", "ws_CO_3b", 1},
                                    {"status_created", "succeeded|0000000001003", 0},
                                    {"reference", "same", 0}};
    assert_int_equal(put(st, "intent", "pi_03", 1, "d", both, 4), CONSTRA_OK);
    assert_int_equal(put(st, "payout", "po_1", 0, "d", NULL, 0), CONSTRA_OK);
}

static void test_scan_ids_and_ranges(void **state)
{
    constra_storage *st = &((fx *)*state)->st;
    fill_for_scans(st);
    assert_string_equal(scan(st, "intent", "", NULL, NULL, NULL, 0, 3).text,
                        "pi_00/pi_00 pi_01/pi_01 pi_02/pi_02");
    assert_string_equal(scan(st, "intent", "", NULL, NULL, NULL, 1, 2).text,
                        "pi_24/pi_24 pi_23/pi_23");
    assert_string_equal(scan(st, "intent", "", "pi_10", "pi_13", NULL, 0, 10).text,
                        "pi_10/pi_10 pi_11/pi_11 pi_12/pi_12");
    assert_string_equal(scan(st, "intent", "", "pi_10", "pi_13", NULL, 1, 10).text,
                        "pi_12/pi_12 pi_11/pi_11 pi_10/pi_10");
    assert_string_equal(scan(st, "intent", "", NULL, NULL, "pi_2", 0, 10).text,
                        "pi_20/pi_20 pi_21/pi_21 pi_22/pi_22 pi_23/pi_23 pi_24/pi_24");
    assert_string_equal(scan(st, "payout", "", NULL, NULL, NULL, 0, 10).text, "po_1/po_1");
    assert_int_equal(scan(st, "refund", "", NULL, NULL, NULL, 0, 10).n, 0);
    assert_int_equal(scan(st, "intent", "", "pi_13", "pi_10", NULL, 0, 10).n, 0);
    /* Early stop by the emitter: OK, and no more rows. */
    rows w;
    memset(&w, 0, sizeof(w));
    w.stop_after = 2;
    constra_record_scan q = {sizeof(q), "intent", "", NULL, NULL, NULL, NULL, NULL, 0, 10, NOW};
    assert_int_equal(st->scan(st->user_data, &q, add_row, &w), CONSTRA_OK);
    assert_int_equal(w.n, 2);
    /* Paging both ways gives everything once, in order. */
    rows up = scan_paged(st, "intent", "", 0, 7), down = scan_paged(st, "intent", "", 1, 4);
    assert_int_equal(up.n, 25);
    assert_int_equal(down.n, 25);
    assert_string_equal(up.text, scan(st, "intent", "", NULL, NULL, NULL, 0, 100).text);
    assert_string_equal(down.text, scan(st, "intent", "", NULL, NULL, NULL, 1, 100).text);
}

static void test_scan_secondary_index(void **state)
{
    constra_storage *st = &((fx *)*state)->st;
    fill_for_scans(st);
    /* Exact match on a shared value: ties in id order, both ways. */
    rows same = scan(st, "intent", "reference", "same", NULL, "same", 0, 3);
    assert_string_equal(same.text, "same/pi_00 same/pi_01 same/pi_02");
    assert_string_equal(scan(st, "intent", "reference", NULL, NULL, "same", 1, 2).text,
                        "same/pi_19 same/pi_18");
    rows all_same = scan_paged(st, "intent", "reference", 0, 3);
    assert_int_equal(all_same.n, 25);
    rows same_down = scan_paged(st, "intent", "reference", 1, 6);
    assert_int_equal(same_down.n, 25);
    assert_string_equal(same_down.text, scan(st, "intent", "reference", NULL, NULL, NULL, 1, 100).text);
    /* An ordered key: the newest pending first. */
    assert_string_equal(scan(st, "intent", "status_created", NULL, NULL, "pending|", 1, 2).text,
                        "pending|0000000001023/pi_23 pending|0000000001022/pi_22");
    assert_int_equal(scan(st, "intent", "status_created", NULL, NULL, "succeeded|", 0, 100).n, 9);
    /* Range on the ordered key: succeeded created in [1003, 1010). */
    assert_string_equal(scan(st, "intent", "status_created", "succeeded|0000000001003",
                             "succeeded|0000000001010", NULL, 0, 100).text,
                        "succeeded|0000000001003/pi_03 succeeded|0000000001006/pi_06 "
                        "succeeded|0000000001009/pi_09");
    /* One record, two entries in the index: two rows. */
    assert_string_equal(scan(st, "intent", "checkout", NULL, NULL, NULL, 0, 10).text,
                        "ws_CO_3a/pi_03 ws_CO_3b/pi_03");
    assert_string_equal(scan(st, "intent", "checkout", "ws_CO_3b", NULL, NULL, 0, 10).text,
                        "ws_CO_3b/pi_03");
    /* An index nobody uses, and an index of another kind. */
    assert_int_equal(scan(st, "intent", "nothing", NULL, NULL, NULL, 0, 10).n, 0);
    assert_int_equal(scan(st, "payout", "reference", NULL, NULL, NULL, 0, 10).n, 0);
    /* Rewriting a record replaces its entries. */
    static const keyspec moved = {"reference", "moved", 0};
    assert_int_equal(put(st, "intent", "pi_00", 1, "d", &moved, 1), CONSTRA_OK);
    assert_string_equal(scan(st, "intent", "reference", NULL, NULL, "same", 0, 1).text,
                        "same/pi_01");
    assert_int_equal(scan(st, "intent", "status_created", NULL, NULL, "succeeded|", 0, 100).n, 8);
    assert_string_equal(scan(st, "intent", "reference", NULL, NULL, "moved", 0, 5).text,
                        "moved/pi_00");
}

/* Values compare as unsigned bytes, a prefix first; prefixes ending in
 * 0xFF bytes still find everything that starts with them. */
static void test_scan_byte_order(void **state)
{
    constra_storage *st = &((fx *)*state)->st;
    const char *values[] = {"b", "a\x01", "a", "\xc3\xa9", "a\xff\xff", "a\xff", "ab", ""};
    for (size_t i = 0; i < 8; i++) {
        char id[8];
        snprintf(id, sizeof(id), "r%zu", i);
        keyspec k = {"v", values[i], 0};
        assert_int_equal(put(st, "thing", id, 0, "", &k, 1), CONSTRA_OK);
    }
    assert_string_equal(scan(st, "thing", "v", NULL, NULL, NULL, 0, 20).text,
                        "/r7 a/r2 a\x01/r1 ab/r6 a\xff/r5 a\xff\xff/r4 b/r0 \xc3\xa9/r3");
    assert_string_equal(scan(st, "thing", "v", NULL, NULL, "a\xff", 0, 20).text,
                        "a\xff/r5 a\xff\xff/r4");
    assert_string_equal(scan(st, "thing", "v", NULL, NULL, "\xff", 0, 20).text, "");
    assert_string_equal(scan(st, "thing", "v", NULL, NULL, "a", 1, 3).text,
                        "a\xff\xff/r4 a\xff/r5 ab/r6");
    assert_string_equal(scan(st, "thing", "v", "a\x01", "ab", NULL, 0, 20).text, "a\x01/r1");
}

/* ---- events ------------------------------------------------------------- */

static void test_events(void **state)
{
    constra_storage *st = &((fx *)*state)->st;
    constra_record r = {sizeof(r), "intent", "pi_1", 0, 0, "d", 1, NULL, 0};
    constra_record_op op = {CONSTRA_RECORD_PUT, &r, 0};
    constra_record_event e1[2] = {event("pi_1", "evt_1", 0), event("pi_1", "evt_2", 0)};
    assert_int_equal(commit_ops(st, &op, 1, e1, 2, NOW, NULL), CONSTRA_OK);
    constra_record_event e2[2] = {event("pi_2", "evt_3", 0), event("", "evt_4", 0)};
    assert_int_equal(commit_ops(st, NULL, 0, e2, 2, NOW, NULL), CONSTRA_OK);
    op.expected_version = 1;
    constra_record_event e3 = event("pi_1", "evt_5", 0);
    assert_int_equal(commit_ops(st, &op, 1, &e3, 1, NOW, NULL), CONSTRA_OK);

    evs all = events(st, NULL, 0, 100);
    assert_int_equal(all.n, 5);
    for (size_t i = 0; i < 5; i++) {
        char want[16];
        snprintf(want, sizeof(want), "evt_%zu", i + 1);
        assert_string_equal(all.ids[i], want);
        assert_true(i == 0 || all.seq[i] > all.seq[i - 1]);
    }
    evs one = events(st, "pi_1", 0, 100);
    assert_int_equal(one.n, 3);
    assert_string_equal(one.ids[0], "evt_1");
    assert_string_equal(one.ids[2], "evt_5");
    evs none = events(st, "", 0, 100);
    assert_int_equal(none.n, 1);
    assert_string_equal(none.ids[0], "evt_4");
    assert_int_equal(events(st, "pi_9", 0, 100).n, 0);
    /* Cursors and limits. */
    evs after = events(st, NULL, all.seq[1], 2);
    assert_int_equal(after.n, 2);
    assert_string_equal(after.ids[0], "evt_3");
    evs tail = events(st, "pi_1", one.seq[1], 10);
    assert_int_equal(tail.n, 1);
    assert_string_equal(tail.ids[0], "evt_5");
    assert_int_equal(events(st, NULL, all.seq[4], 10).n, 0);
    evs stop;
    memset(&stop, 0, sizeof(stop));
    stop.stop_after = 1;
    assert_int_equal(st->events(st->user_data, NULL, 0, 10, add_event, &stop), CONSTRA_OK);
    assert_int_equal(stop.n, 1);
    /* An event id given again: the whole commit fails, naming no operation. */
    constra_record other = {sizeof(other), "intent", "pi_new", 0, 0, "d", 1, NULL, 0};
    constra_record_op ins = {CONSTRA_RECORD_PUT, &other, 0};
    constra_record_event again = event("pi_new", "evt_2", 0);
    size_t failed = 99;
    assert_int_equal(commit_ops(st, &ins, 1, &again, 1, NOW, &failed), CONSTRA_E_CONFLICT);
    assert_int_equal(failed, 1);
    get(st, "intent", "pi_new", CONSTRA_E_NOT_FOUND);
    assert_int_equal(events(st, NULL, 0, 100).n, 5);
    /* Sequences keep growing after a refused commit. */
    constra_record_event e6 = event("pi_1", "evt_6", 0);
    assert_int_equal(commit_ops(st, NULL, 0, &e6, 1, NOW, NULL), CONSTRA_OK);
    evs last = events(st, NULL, all.seq[4], 10);
    assert_int_equal(last.n, 1);
    assert_true(last.seq[0] > all.seq[4]);
}

/* ---- bad input ---------------------------------------------------------- */

static void test_bad_input_changes_nothing(void **state)
{
    constra_storage *st = &((fx *)*state)->st;
    assert_int_equal(put(st, "intent", "pi_1", 0, "d", NULL, 0), CONSTRA_OK);
    const char *bad_kinds[] = {"", "Intent", "in tent", "intent-x",
                               "a23456789012345678901234567890123"};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(put(st, bad_kinds[i], "x", 0, "d", NULL, 0), CONSTRA_E_INVALID_ARGUMENT);
    }
    char long_id[300];
    memset(long_id, 'i', 256);
    long_id[256] = '\0';
    assert_int_equal(put(st, "intent", long_id, 0, "d", NULL, 0), CONSTRA_E_INVALID_ARGUMENT);
    long_id[255] = '\0';
    assert_int_equal(put(st, "intent", long_id, 0, "d", NULL, 0), CONSTRA_OK);
    assert_int_equal(put(st, "intent", "", 0, "d", NULL, 0), CONSTRA_E_INVALID_ARGUMENT);
    keyspec many[CONSTRA_RECORD_KEYS_MAX + 1];
    for (size_t i = 0; i <= CONSTRA_RECORD_KEYS_MAX; i++) {
        many[i] = (keyspec){"k", "v", 0};
    }
    assert_int_equal(put(st, "intent", "pi_2", 0, "d", many, CONSTRA_RECORD_KEYS_MAX + 1),
                     CONSTRA_E_INVALID_ARGUMENT);
    static const keyspec badidx = {"Bad", "v", 0};
    assert_int_equal(put(st, "intent", "pi_2", 0, "d", &badidx, 1), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(del(st, "intent", "pi_1", 0), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(put(st, "intent", "pi_1", -1, "d", NULL, 0), CONSTRA_E_INVALID_ARGUMENT);
    constra_record r = {sizeof(r), "intent", "pi_2", 0, 0, "d", 1, NULL, 0};
    constra_record_op op = {7, &r, 0};
    assert_int_equal(commit_ops(st, &op, 1, NULL, 0, NOW, NULL), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(commit_ops(st, NULL, 0, NULL, 0, NOW, NULL), CONSTRA_E_INVALID_ARGUMENT);
    /* A good operation with a bad event: nothing. */
    op.type = CONSTRA_RECORD_PUT;
    constra_record_event e = event("pi_2", "", 0);
    assert_int_equal(commit_ops(st, &op, 1, &e, 1, NOW, NULL), CONSTRA_E_INVALID_ARGUMENT);
    constra_record_event twice[2] = {event("pi_2", "evt_x", 0), event("pi_2", "evt_x", 0)};
    assert_int_equal(commit_ops(st, &op, 1, twice, 2, NOW, NULL), CONSTRA_E_INVALID_ARGUMENT);
    get(st, "intent", "pi_2", CONSTRA_E_NOT_FOUND);
    assert_int_equal(events(st, NULL, 0, 10).n, 0);
    assert_int_equal(get(st, "intent", "pi_1", CONSTRA_OK).version, 1);
    /* Bad reads. */
    got g;
    assert_int_equal(st->get(st->user_data, "Intent", "pi_1", NOW, copy_rec, &g),
                     CONSTRA_E_INVALID_ARGUMENT);
    rows w;
    constra_record_scan q = {sizeof(q), "intent", "", NULL, NULL, NULL, NULL, NULL, 0, 0, NOW};
    assert_int_equal(st->scan(st->user_data, &q, add_row, &w), CONSTRA_E_INVALID_ARGUMENT);
    q.limit = 1;
    q.after_value = "pi_1"; /* a cursor without its id */
    assert_int_equal(st->scan(st->user_data, &q, add_row, &w), CONSTRA_E_INVALID_ARGUMENT);
    evs v;
    assert_int_equal(st->events(st->user_data, NULL, 0, 0, add_event, &v),
                     CONSTRA_E_INVALID_ARGUMENT);
}

/* ---- races -------------------------------------------------------------- */

#define THREADS 8

typedef struct race {
    constra_storage *stores[THREADS];
    pthread_barrier_t barrier;
    int wins[THREADS];
    int rounds;
} race;

typedef struct race_arg {
    race *r;
    int n;
} race_arg;

static int64_t version_of(constra_storage *st, const char *kind, const char *id)
{
    got g;
    memset(&g, 0, sizeof(g));
    return st->get(st->user_data, kind, id, NOW, copy_rec, &g) == CONSTRA_OK ? g.version : 0;
}

/* Every thread increments one counter record `rounds` times by
 * compare-and-set, retrying on conflict: no increment is lost. */
static void *cas_worker(void *p)
{
    race_arg *a = p;
    constra_storage *st = a->r->stores[a->n];
    pthread_barrier_wait(&a->r->barrier);
    for (int i = 0; i < a->r->rounds;) {
        int64_t v = version_of(st, "counter", "c");
        char doc[32];
        snprintf(doc, sizeof(doc), "%lld", (long long)(v + 1));
        int rc = put(st, "counter", "c", v, doc, NULL, 0);
        if (rc == CONSTRA_OK) {
            a->r->wins[a->n]++;
            i++;
        } else if (rc != CONSTRA_E_CONFLICT) {
            a->r->wins[a->n] = -1000000;
            break;
        }
    }
    return NULL;
}

/* Every thread inserts the same id, and another id with the same unique
 * key: exactly one of each wins. */
static void *insert_worker(void *p)
{
    race_arg *a = p;
    constra_storage *st = a->r->stores[a->n];
    pthread_barrier_wait(&a->r->barrier);
    static const keyspec k = {"key", "one", 1};
    char id[16];
    snprintf(id, sizeof(id), "u%d", a->n);
    int rc1 = put(st, "race", "same", 0, "x", NULL, 0);
    int rc2 = put(st, "race", id, 0, "x", &k, 1);
    a->r->wins[a->n] = (rc1 == CONSTRA_OK) + 10 * (rc2 == CONSTRA_OK) +
                       100 * !((rc1 == CONSTRA_OK || rc1 == CONSTRA_E_CONFLICT) &&
                               (rc2 == CONSTRA_OK || rc2 == CONSTRA_E_CONFLICT));
    return NULL;
}

static void run_race(void *(*worker)(void *), race *r)
{
    pthread_t t[THREADS];
    race_arg args[THREADS];
    pthread_barrier_init(&r->barrier, NULL, THREADS);
    for (int i = 0; i < THREADS; i++) {
        args[i] = (race_arg){r, i};
        pthread_create(&t[i], NULL, worker, &args[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
    }
    pthread_barrier_destroy(&r->barrier);
}

/* The stores the race threads use: one shared handle, or, when the
 * implementation offers second handles, every other thread on its own. */
static void race_stores(race *r, constra_storage *first, constra_storage *extra)
{
    for (int i = 0; i < THREADS; i++) {
        r->stores[i] = first;
        if (impl->second != NULL && (i % 2) == 1) {
            constra_storage init = CONSTRA_STORAGE_INIT;
            extra[i] = init;
            assert_int_equal(impl->second(&extra[i], impl->arg), CONSTRA_OK);
            r->stores[i] = &extra[i];
        }
    }
}

static void race_done(race *r, constra_storage *first)
{
    for (int i = 0; i < THREADS; i++) {
        if (r->stores[i] != first) {
            destroy(r->stores[i]);
        }
    }
}

static void test_race_compare_and_set(void **state)
{
    constra_storage *st = &((fx *)*state)->st;
    assert_int_equal(put(st, "counter", "c", 0, "0", NULL, 0), CONSTRA_OK);
    race r;
    memset(&r, 0, sizeof(r));
    r.rounds = 50;
    constra_storage extra[THREADS];
    race_stores(&r, st, extra);
    run_race(cas_worker, &r);
    race_done(&r, st);
    int total = 0;
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(r.wins[i], r.rounds);
        total += r.wins[i];
    }
    assert_int_equal(version_of(st, "counter", "c"), 1 + total);
}

static void test_race_one_insert_wins(void **state)
{
    constra_storage *st = &((fx *)*state)->st;
    race r;
    memset(&r, 0, sizeof(r));
    constra_storage extra[THREADS];
    race_stores(&r, st, extra);
    run_race(insert_worker, &r);
    race_done(&r, st);
    int same = 0, unique = 0;
    for (int i = 0; i < THREADS; i++) {
        assert_true(r.wins[i] < 100); /* only OK or CONFLICT */
        same += r.wins[i] % 10;
        unique += r.wins[i] / 10;
    }
    assert_int_equal(same, 1);
    assert_int_equal(unique, 1);
    assert_int_equal(scan(st, "race", "key", NULL, NULL, NULL, 0, 10).n, 1);
}

/* Writers append events while a reader tails the log by cursor: when the
 * writers are done, the reader has seen every event, in sequence order.
 * An event that committed with a sequence below one already read would be
 * missed, as a webhook cursor would miss it. */
typedef struct tail {
    race *r;
    volatile int writers_done;
    int64_t seen_seq[THREADS * 40];
    size_t seen;
    int out_of_order;
} tail;

static tail *the_tail;

static void *event_writer(void *p)
{
    race_arg *a = p;
    constra_storage *st = a->r->stores[a->n];
    pthread_barrier_wait(&a->r->barrier);
    for (int i = 0; i < 40; i++) {
        char id[32], stream[16];
        snprintf(id, sizeof(id), "evt_%d_%d", a->n, i);
        snprintf(stream, sizeof(stream), "s%d", a->n);
        constra_record_event e = event(stream, id, 0);
        if (commit_ops(st, NULL, 0, &e, 1, NOW, NULL) != CONSTRA_OK) {
            a->r->wins[a->n] = -1;
        }
    }
    return NULL;
}

static int tail_event(void *ctx, const constra_record_event *e)
{
    tail *t = ctx;
    if (t->seen > 0 && e->sequence <= t->seen_seq[t->seen - 1]) {
        t->out_of_order = 1;
    }
    if (t->seen < THREADS * 40) {
        t->seen_seq[t->seen++] = e->sequence;
    }
    return 0;
}

static void *event_reader(void *p)
{
    tail *t = p;
    constra_storage *st = t->r->stores[0];
    for (;;) {
        int done = t->writers_done;
        int64_t after = t->seen ? t->seen_seq[t->seen - 1] : 0;
        st->events(st->user_data, NULL, after, 7, tail_event, t);
        if (done && (t->seen ? t->seen_seq[t->seen - 1] : 0) == after) {
            break;
        }
    }
    return NULL;
}

static void test_race_event_order(void **state)
{
    constra_storage *st = &((fx *)*state)->st;
    race r;
    memset(&r, 0, sizeof(r));
    constra_storage extra[THREADS];
    race_stores(&r, st, extra);
    tail *t = calloc(1, sizeof(*t));
    t->r = &r;
    the_tail = t;
    pthread_t reader;
    pthread_create(&reader, NULL, event_reader, t);
    run_race(event_writer, &r);
    t->writers_done = 1;
    pthread_join(reader, NULL);
    race_done(&r, st);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(r.wins[i], 0);
    }
    assert_false(t->out_of_order);
    assert_int_equal(t->seen, THREADS * 40);
    /* Per stream, each writer's own order. */
    evs s0 = events(st, "s0", 0, 100);
    assert_int_equal(s0.n, 40);
    for (size_t i = 0; i < 40; i++) {
        char want[32];
        snprintf(want, sizeof(want), "evt_0_%zu", i);
        assert_string_equal(s0.ids[i], want);
    }
    free(t);
}

/* ---- durability --------------------------------------------------------- */

static void test_reopen_keeps_everything(void **state)
{
    fx *f = *state;
    static const keyspec k = {"checkout", "ws_CO_1", 1};
    assert_int_equal(put(&f->st, "intent", "pi_1", 0, "d1", &k, 1), CONSTRA_OK);
    assert_int_equal(put(&f->st, "intent", "pi_1", 1, "d2", &k, 1), CONSTRA_OK);
    assert_int_equal(put_at(&f->st, "idempotency", "idem", 0, "x", NOW + 10, NULL, 0, NOW),
                     CONSTRA_OK);
    constra_record_event e[2] = {event("pi_1", "evt_1", 0), event("", "evt_2", NOW + 5)};
    assert_int_equal(commit_ops(&f->st, NULL, 0, e, 2, NOW, NULL), CONSTRA_OK);
    int64_t last = events(&f->st, NULL, 0, 10).seq[1];
    destroy(&f->st);
    constra_storage init = CONSTRA_STORAGE_INIT;
    f->st = init;
    assert_int_equal(impl->reopen(&f->st, impl->arg), CONSTRA_OK);
    got g = get(&f->st, "intent", "pi_1", CONSTRA_OK);
    assert_int_equal(g.version, 2);
    assert_memory_equal(g.doc, "d2", 2);
    assert_string_equal(g.keys[0], "checkout=ws_CO_1!");
    assert_int_equal(put(&f->st, "intent", "pi_2", 0, "x", &k, 1), CONSTRA_E_CONFLICT);
    get_at(&f->st, "idempotency", "idem", NOW + 9, CONSTRA_OK);
    get_at(&f->st, "idempotency", "idem", NOW + 10, CONSTRA_E_NOT_FOUND);
    evs v = events(&f->st, NULL, 0, 10);
    assert_int_equal(v.n, 2);
    constra_record_event e3 = event("pi_1", "evt_3", 0);
    assert_int_equal(commit_ops(&f->st, NULL, 0, &e3, 1, NOW, NULL), CONSTRA_OK);
    evs after = events(&f->st, NULL, last, 10);
    assert_int_equal(after.n, 1);
    assert_true(after.seq[0] > last);
    assert_int_equal(commit_ops(&f->st, NULL, 0, &e[0], 1, NOW, NULL), CONSTRA_E_CONFLICT);
}

int record_conformance_run(const char *name, const record_conformance *i)
{
    impl = i;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_documents_are_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compare_and_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_is_atomic_and_ordered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unique_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_purge_is_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_ids_and_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_secondary_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_byte_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_race_compare_and_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_race_one_insert_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_race_event_order, setup, teardown),
        /* Last: left out for a store whose data dies with it (memory). */
        cmocka_unit_test_setup_teardown(test_reopen_keeps_everything, setup, teardown),
    };
    size_t n = sizeof(tests) / sizeof(tests[0]) - (impl->reopen == NULL ? 1 : 0);
    return _cmocka_run_group_tests(name, tests, n, NULL, NULL);
}

void record_conformance_fill_for_plans(constra_storage *st)
{
    for (int i = 0; i < 300; i++) {
        char id[32], ref[32];
        snprintf(id, sizeof(id), "pi_%04d", i);
        snprintf(ref, sizeof(ref), "order_%d", i % 17);
        constra_record_key k[2] = {{"reference", ref, 0}, {"status_created", id, 0}};
        constra_record r = {sizeof(r), i % 2 ? "intent" : "payout", id, 0, i % 5 ? 0 : 5000 + i,
                            "{}", 2, k, 2};
        constra_record_op op = {CONSTRA_RECORD_PUT, &r, 0};
        constra_record_event e = {sizeof(e), 0, id, id, "t", 1, i % 3 ? 0 : 7000, "{}", 2};
        constra_record_commit c = {sizeof(c), 1, &op, 1, &e, 1};
        assert_int_equal(st->commit(st->user_data, &c, NULL), CONSTRA_OK);
    }
}
