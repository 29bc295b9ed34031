#define _POSIX_C_SOURCE 200809L /* pthread barriers */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"

static conformance_factory factory;
static void *factory_arg;

/* ---- fixtures ---------------------------------------------------------- */

static int setup(void **state)
{
    constra__res_table *s = calloc(1, sizeof(*s));
    s->struct_size = sizeof(*s);
    if (factory(s, NULL, factory_arg) != CONSTRA_OK) {
        free(s);
        return -1;
    }
    assert_non_null(s->commit);
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    constra__res_table *s = *state;
    if (s->destroy) {
        s->destroy(s->user_data);
    }
    free(s);
    return 0;
}

/* A copied-out intent row. */
typedef struct intent_copy {
    int count;
    char id[64], status[64], reference[64], checkout[64];
    int64_t created, updated, version;
    char doc[512];
    size_t doc_len;
} intent_copy;

static int copy_intent(void *ctx, const constra__res_intent *r)
{
    intent_copy *c = ctx;
    c->count++;
    snprintf(c->id, sizeof(c->id), "%s", r->id);
    snprintf(c->status, sizeof(c->status), "%s", r->status);
    snprintf(c->reference, sizeof(c->reference), "%s", r->reference ? r->reference : "");
    snprintf(c->checkout, sizeof(c->checkout), "%s",
             r->checkout_request_id ? r->checkout_request_id : "");
    c->created = r->created_at_ms;
    c->updated = r->updated_at_ms;
    c->version = r->version;
    assert_true(r->document_len <= sizeof(c->doc));
    memcpy(c->doc, r->document, r->document_len);
    c->doc_len = r->document_len;
    return 0;
}

typedef struct id_list {
    int count;
    char ids[64][64];
    int64_t seqs[64];
    int stop_after; /* 0 = never */
} id_list;

static int collect_intent(void *ctx, const constra__res_intent *r)
{
    id_list *l = ctx;
    assert_true(l->count < 64);
    snprintf(l->ids[l->count++], 64, "%s", r->id);
    return l->stop_after && l->count >= l->stop_after;
}

static int collect_event(void *ctx, const constra__res_event *r)
{
    id_list *l = ctx;
    assert_true(l->count < 64);
    l->seqs[l->count] = r->sequence;
    snprintf(l->ids[l->count++], 64, "%s", r->id);
    return l->stop_after && l->count >= l->stop_after;
}

typedef struct idem_copy {
    int count;
    int state, http_status;
    char fingerprint[80];
    char response[256];
    size_t response_len;
    int64_t created_at_ms, expires_at_ms, lease_expires_at_ms;
} idem_copy;

static int copy_idem(void *ctx, const constra__res_idempotency *r)
{
    idem_copy *c = ctx;
    c->count++;
    c->state = r->state;
    c->http_status = r->http_status;
    snprintf(c->fingerprint, sizeof(c->fingerprint), "%s", r->fingerprint);
    assert_true(r->response_len <= sizeof(c->response));
    if (r->response_len) {
        memcpy(c->response, r->response, r->response_len);
    }
    c->response_len = r->response_len;
    c->created_at_ms = r->created_at_ms;
    c->expires_at_ms = r->expires_at_ms;
    c->lease_expires_at_ms = r->lease_expires_at_ms;
    return 0;
}

static constra__res_intent intent_rec(const char *id, const char *status, int64_t version,
                                         const char *doc)
{
    constra__res_intent r = {sizeof(r), id, status, "", "", 1000, 1000 + version, version,
                                doc, strlen(doc), 0};
    return r;
}

static constra__res_event event_rec(const char *id, const char *intent_id, const char *type)
{
    constra__res_event e = {sizeof(e), id, intent_id, type, 1000, 0, "{}", 2};
    return e;
}

static int write_intent(constra__res_table *s, const constra__res_intent *in, int64_t expected,
                        const constra__res_event *ev, size_t nev)
{
    constra__res_write w = {sizeof(w), in, expected, ev, nev, NULL, 0};
    return s->commit(s->user_data, &w);
}

static intent_copy get(constra__res_table *s, const char *id, int expect_rc)
{
    intent_copy c;
    memset(&c, 0, sizeof(c));
    assert_int_equal(s->get_intent(s->user_data, id, copy_intent, &c), expect_rc);
    assert_int_equal(c.count, expect_rc == CONSTRA_OK ? 1 : 0);
    return c;
}

static id_list events_of(constra__res_table *s, const char *intent_id)
{
    id_list l;
    memset(&l, 0, sizeof(l));
    assert_int_equal(s->list_events(s->user_data, intent_id, 0, 64, collect_event, &l),
                     CONSTRA_OK);
    return l;
}

/* ---- intents ----------------------------------------------------------- */

static void test_insert_and_get_roundtrip(void **state)
{
    constra__res_table *s = *state;
    static const char doc[] = "{\"a\":1,\"nul\":\"\0 inside\"}";
    constra__res_intent in = {sizeof(in), "pi_0001", "pending_user_action", "order_7429",
                                 "ws_CO_1", 1111, 2222, 1, doc, sizeof(doc) - 1, 0};
    constra__res_event ev = event_rec("evt_0001", "pi_0001", "payment_intent.created");
    assert_int_equal(write_intent(s, &in, 0, &ev, 1), CONSTRA_OK);
    intent_copy c = get(s, "pi_0001", CONSTRA_OK);
    assert_string_equal(c.id, "pi_0001");
    assert_string_equal(c.status, "pending_user_action");
    assert_string_equal(c.reference, "order_7429");
    assert_string_equal(c.checkout, "ws_CO_1");
    assert_int_equal(c.created, 1111);
    assert_int_equal(c.updated, 2222);
    assert_int_equal(c.version, 1);
    assert_int_equal(c.doc_len, sizeof(doc) - 1);
    assert_memory_equal(c.doc, doc, sizeof(doc) - 1); /* byte for byte, NUL included */
    get(s, "pi_missing", CONSTRA_E_NOT_FOUND);
}

static void test_duplicate_insert_conflicts(void **state)
{
    constra__res_table *s = *state;
    constra__res_intent a = intent_rec("pi_1", "draft", 1, "{\"v\":\"first\"}");
    assert_int_equal(write_intent(s, &a, 0, NULL, 0), CONSTRA_OK);
    constra__res_intent b = intent_rec("pi_1", "succeeded", 1, "{\"v\":\"second\"}");
    constra__res_event ev = event_rec("evt_x", "pi_1", "payment_intent.created");
    assert_int_equal(write_intent(s, &b, 0, &ev, 1), CONSTRA_E_CONFLICT);
    intent_copy c = get(s, "pi_1", CONSTRA_OK);
    assert_string_equal(c.status, "draft");
    assert_int_equal(events_of(s, "pi_1").count, 0); /* the event did not land either */
}

static void test_compare_and_set(void **state)
{
    constra__res_table *s = *state;
    constra__res_intent v1 = intent_rec("pi_cas", "pending_user_action", 1, "{}");
    assert_int_equal(write_intent(s, &v1, 0, NULL, 0), CONSTRA_OK);
    constra__res_intent v2 = intent_rec("pi_cas", "succeeded", 2, "{\"v\":2}");
    constra__res_event e2 = event_rec("evt_2", "pi_cas", "payment_intent.succeeded");
    assert_int_equal(write_intent(s, &v2, 1, &e2, 1), CONSTRA_OK);
    /* A second writer that also read version 1 loses, and changes nothing. */
    constra__res_intent stale = intent_rec("pi_cas", "failed", 2, "{\"v\":\"stale\"}");
    constra__res_event es = event_rec("evt_s", "pi_cas", "payment_intent.failed");
    assert_int_equal(write_intent(s, &stale, 1, &es, 1), CONSTRA_E_CONFLICT);
    intent_copy c = get(s, "pi_cas", CONSTRA_OK);
    assert_string_equal(c.status, "succeeded");
    assert_int_equal(c.version, 2);
    id_list l = events_of(s, "pi_cas");
    assert_int_equal(l.count, 1);
    assert_string_equal(l.ids[0], "evt_2");
    /* Updating what does not exist. */
    constra__res_intent ghost = intent_rec("pi_ghost", "failed", 2, "{}");
    assert_int_equal(write_intent(s, &ghost, 1, NULL, 0), CONSTRA_E_NOT_FOUND);
    /* version must be expected + 1. */
    constra__res_intent skip = intent_rec("pi_cas", "failed", 5, "{}");
    assert_int_equal(write_intent(s, &skip, 2, NULL, 0), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(get(s, "pi_cas", CONSTRA_OK).version, 2);
}

/* ---- events ------------------------------------------------------------ */

static void test_event_order(void **state)
{
    constra__res_table *s = *state;
    char id[32], evid[32];
    int64_t last_seq = 0;
    for (int i = 0; i < 3; i++) {
        snprintf(id, sizeof(id), "pi_%d", i);
        constra__res_intent in = intent_rec(id, "draft", 1, "{}");
        snprintf(evid, sizeof(evid), "evt_%d_a", i);
        constra__res_event ev = event_rec(evid, id, "payment_intent.created");
        assert_int_equal(write_intent(s, &in, 0, &ev, 1), CONSTRA_OK);
    }
    /* Two events in one commit for pi_1, interleaved with pi_0. */
    constra__res_intent in1 = intent_rec("pi_1", "pending_user_action", 2, "{}");
    constra__res_event two[2] = {event_rec("evt_1_b", "pi_1", "x.b"),
                                    event_rec("evt_1_c", "pi_1", "x.c")};
    assert_int_equal(write_intent(s, &in1, 1, two, 2), CONSTRA_OK);
    constra__res_intent in0 = intent_rec("pi_0", "cancelled", 2, "{}");
    constra__res_event e0 = event_rec("evt_0_b", "pi_0", "x.b");
    assert_int_equal(write_intent(s, &in0, 1, &e0, 1), CONSTRA_OK);

    id_list l = events_of(s, "pi_1");
    assert_int_equal(l.count, 3);
    assert_string_equal(l.ids[0], "evt_1_a");
    assert_string_equal(l.ids[1], "evt_1_b");
    assert_string_equal(l.ids[2], "evt_1_c");

    id_list all = events_of(s, NULL);
    assert_int_equal(all.count, 6);
    const char *order[] = {"evt_0_a", "evt_1_a", "evt_2_a", "evt_1_b", "evt_1_c", "evt_0_b"};
    for (int i = 0; i < 6; i++) {
        assert_string_equal(all.ids[i], order[i]);
        assert_true(all.seqs[i] > last_seq);
        last_seq = all.seqs[i];
    }
    /* Paging by sequence covers everything once. */
    id_list page;
    memset(&page, 0, sizeof(page));
    assert_int_equal(s->list_events(s->user_data, NULL, all.seqs[2], 2, collect_event, &page),
                     CONSTRA_OK);
    assert_int_equal(page.count, 2);
    assert_string_equal(page.ids[0], "evt_1_b");
    assert_string_equal(page.ids[1], "evt_1_c");
    /* Stopping early from the sink. */
    memset(&page, 0, sizeof(page));
    page.stop_after = 1;
    assert_int_equal(s->list_events(s->user_data, NULL, 0, 64, collect_event, &page), CONSTRA_OK);
    assert_int_equal(page.count, 1);
    /* Events of an unknown intent: none. */
    assert_int_equal(events_of(s, "pi_nope").count, 0);
}

static void test_unmatched_callbacks_kept(void **state)
{
    constra__res_table *s = *state;
    constra__res_event orphan = event_rec("evt_orphan", "", "callback.unmatched");
    constra__res_write w = {sizeof(w), NULL, 0, &orphan, 1, NULL, 0};
    assert_int_equal(s->commit(s->user_data, &w), CONSTRA_OK);
    constra__res_intent in = intent_rec("pi_1", "draft", 1, "{}");
    constra__res_event ev = event_rec("evt_1", "pi_1", "payment_intent.created");
    assert_int_equal(write_intent(s, &in, 0, &ev, 1), CONSTRA_OK);
    id_list unmatched = events_of(s, "");
    assert_int_equal(unmatched.count, 1);
    assert_string_equal(unmatched.ids[0], "evt_orphan");
    assert_int_equal(events_of(s, NULL).count, 2);
    /* An event may not claim an intent that is not written with it. */
    constra__res_event stray = event_rec("evt_stray", "pi_1", "x");
    constra__res_write w2 = {sizeof(w2), NULL, 0, &stray, 1, NULL, 0};
    assert_int_not_equal(s->commit(s->user_data, &w2), CONSTRA_OK);
    assert_int_equal(events_of(s, "pi_1").count, 1);
}

/* ---- lookups and lists -------------------------------------------------- */

static void test_find_by_checkout(void **state)
{
    constra__res_table *s = *state;
    constra__res_intent a = intent_rec("pi_a", "pending_user_action", 1, "{}");
    a.checkout_request_id = "ws_CO_A";
    assert_int_equal(write_intent(s, &a, 0, NULL, 0), CONSTRA_OK);
    intent_copy c;
    memset(&c, 0, sizeof(c));
    assert_int_equal(s->find_by_checkout(s->user_data, "ws_CO_A", copy_intent, &c), CONSTRA_OK);
    assert_string_equal(c.id, "pi_a");
    /* A retry moves the intent to a new checkout id, through a "sending"
     * attempt that has none yet: the old id still finds the intent (a late
     * result for the superseded attempt must reach it). */
    constra__res_intent mid = intent_rec("pi_a", "pending_user_action", 2, "{}");
    mid.checkout_request_id = "";
    assert_int_equal(write_intent(s, &mid, 1, NULL, 0), CONSTRA_OK);
    constra__res_intent a2 = intent_rec("pi_a", "pending_user_action", 3, "{}");
    a2.checkout_request_id = "ws_CO_A2";
    assert_int_equal(write_intent(s, &a2, 2, NULL, 0), CONSTRA_OK);
    constra__res_intent a3 = intent_rec("pi_a", "requires_recovery", 4, "{}");
    a3.checkout_request_id = "ws_CO_A2"; /* same id again: still one mapping */
    assert_int_equal(write_intent(s, &a3, 3, NULL, 0), CONSTRA_OK);
    const char *const ids[] = {"ws_CO_A", "ws_CO_A2"};
    for (size_t i = 0; i < 2; i++) {
        memset(&c, 0, sizeof(c));
        assert_int_equal(s->find_by_checkout(s->user_data, ids[i], copy_intent, &c), CONSTRA_OK);
        assert_string_equal(c.id, "pi_a");
        assert_int_equal(c.version, 4);
    }
    /* One checkout id belongs to one intent, its current one or a former. */
    for (size_t i = 0; i < 2; i++) {
        constra__res_intent b = intent_rec("pi_b", "pending_user_action", 1, "{}");
        b.checkout_request_id = ids[i];
        assert_int_equal(write_intent(s, &b, 0, NULL, 0), CONSTRA_E_CONFLICT);
    }
    constra__res_intent b = intent_rec("pi_b", "pending_user_action", 1, "{}");
    b.checkout_request_id = "ws_CO_B";
    assert_int_equal(write_intent(s, &b, 0, NULL, 0), CONSTRA_OK);
    constra__res_intent b2 = intent_rec("pi_b", "pending_user_action", 2, "{}");
    b2.checkout_request_id = "ws_CO_A";
    assert_int_equal(write_intent(s, &b2, 1, NULL, 0), CONSTRA_E_CONFLICT);
    memset(&c, 0, sizeof(c));
    assert_int_equal(s->find_by_checkout(s->user_data, "ws_CO_A", copy_intent, &c), CONSTRA_OK);
    assert_string_equal(c.id, "pi_a");
    memset(&c, 0, sizeof(c));
    assert_int_equal(s->find_by_checkout(s->user_data, "ws_CO_B", copy_intent, &c), CONSTRA_OK);
    assert_string_equal(c.id, "pi_b");
    assert_int_equal(c.version, 1);
}

static void test_list_filters_and_cursor(void **state)
{
    constra__res_table *s = *state;
    /* 10 intents, ids sorting by creation; alternate statuses. */
    for (int i = 0; i < 10; i++) {
        char id[32];
        snprintf(id, sizeof(id), "pi_%02d", i);
        constra__res_intent in = intent_rec(id, i % 2 ? "succeeded" : "failed", 1, "{}");
        in.created_at_ms = 1000 + i * 10;
        in.reference = i < 3 ? "order_a" : "order_b";
        assert_int_equal(write_intent(s, &in, 0, NULL, 0), CONSTRA_OK);
    }
    constra__res_query q = {sizeof(q), NULL, NULL, 0, 0, NULL, 100};
    id_list l;
    memset(&l, 0, sizeof(l));
    assert_int_equal(s->list_intents(s->user_data, &q, collect_intent, &l), CONSTRA_OK);
    assert_int_equal(l.count, 10);
    assert_string_equal(l.ids[0], "pi_09"); /* newest first */
    assert_string_equal(l.ids[9], "pi_00");

    q.status = "succeeded";
    memset(&l, 0, sizeof(l));
    s->list_intents(s->user_data, &q, collect_intent, &l);
    assert_int_equal(l.count, 5);
    assert_string_equal(l.ids[0], "pi_09");

    q.status = NULL;
    q.reference = "order_a";
    memset(&l, 0, sizeof(l));
    s->list_intents(s->user_data, &q, collect_intent, &l);
    assert_int_equal(l.count, 3);
    assert_string_equal(l.ids[0], "pi_02");

    q.reference = NULL;
    q.created_from_ms = 1020; /* inclusive */
    q.created_to_ms = 1050;   /* exclusive */
    memset(&l, 0, sizeof(l));
    s->list_intents(s->user_data, &q, collect_intent, &l);
    assert_int_equal(l.count, 3);
    assert_string_equal(l.ids[0], "pi_04");
    assert_string_equal(l.ids[2], "pi_02");

    /* Cursor paging, 3 at a time, visits every intent exactly once. */
    constra__res_query p = {sizeof(p), NULL, NULL, 0, 0, NULL, 3};
    char cursor[64] = "";
    int seen = 0;
    for (int page = 0; page < 10; page++) {
        memset(&l, 0, sizeof(l));
        p.starting_after = cursor[0] ? cursor : NULL;
        assert_int_equal(s->list_intents(s->user_data, &p, collect_intent, &l), CONSTRA_OK);
        for (int i = 0; i < l.count; i++) {
            char want[32];
            snprintf(want, sizeof(want), "pi_%02d", 9 - seen);
            assert_string_equal(l.ids[i], want);
            seen++;
        }
        if (l.count < 3) {
            break;
        }
        snprintf(cursor, sizeof(cursor), "%s", l.ids[l.count - 1]);
    }
    assert_int_equal(seen, 10);
    /* limit 0 is refused. */
    p.limit = 0;
    assert_int_not_equal(s->list_intents(s->user_data, &p, collect_intent, &l), CONSTRA_OK);
}

/* ---- idempotency ----------------------------------------------------------- */

static constra__res_idempotency idem_rec(const char *key, const char *fp, int64_t now)
{
    constra__res_idempotency r = {sizeof(r), key, fp, CONSTRA__IDEM_IN_FLIGHT, 0, NULL,
                                     0, now, now + 86400000, now + 30000};
    return r;
}

/* `r` with a response: completed (COMPLETED, 201) or a link (IN_FLIGHT, 0). */
static constra__res_idempotency with_response(const constra__res_idempotency *r, int state,
                                                 const char *body)
{
    constra__res_idempotency d = *r;
    d.state = state;
    d.http_status = state == CONSTRA__IDEM_COMPLETED ? 201 : 0;
    d.response = body;
    d.response_len = strlen(body);
    return d;
}
#define completed_rec(r, body) with_response((r), CONSTRA__IDEM_COMPLETED, (body))
#define link_rec(r, body) with_response((r), CONSTRA__IDEM_IN_FLIGHT, (body))

static void test_idempotency_lifecycle(void **state)
{
    constra__res_table *s = *state;
    int64_t now = 1000000;
    constra__res_idempotency r = idem_rec("order_7429_deposit", "fp1", now);
    idem_copy c;
    memset(&c, 0, sizeof(c));
    assert_int_equal(s->idempotency_reserve(s->user_data, &r, now, copy_idem, &c), CONSTRA_OK);
    assert_int_equal(c.count, 0);
    /* Second reservation: conflict, sees the in-flight record. */
    assert_int_equal(s->idempotency_reserve(s->user_data, &r, now + 1, copy_idem, &c),
                     CONSTRA_E_CONFLICT);
    assert_int_equal(c.count, 1);
    assert_int_equal(c.state, CONSTRA__IDEM_IN_FLIGHT);
    assert_string_equal(c.fingerprint, "fp1");

    /* Completing with another fingerprint is refused. */
    constra__res_idempotency wrong = r;
    wrong.fingerprint = "fp2";
    wrong.state = CONSTRA__IDEM_COMPLETED;
    assert_int_equal(s->idempotency_complete(s->user_data, &wrong), CONSTRA_E_CONFLICT);

    /* Complete together with the intent, in one commit. */
    static const char body[] = "{\"id\":\"pi_1\",\"status\":\"pending_user_action\"}";
    constra__res_idempotency done = completed_rec(&r, body);
    constra__res_intent in = intent_rec("pi_1", "pending_user_action", 1, "{}");
    constra__res_write w = {sizeof(w), &in, 0, NULL, 0, &done, 0};
    assert_int_equal(s->commit(s->user_data, &w), CONSTRA_OK);

    memset(&c, 0, sizeof(c));
    assert_int_equal(s->idempotency_reserve(s->user_data, &r, now + 2, copy_idem, &c),
                     CONSTRA_E_CONFLICT);
    assert_int_equal(c.state, CONSTRA__IDEM_COMPLETED);
    assert_int_equal(c.http_status, 201);
    assert_int_equal(c.response_len, sizeof(body) - 1);
    assert_memory_equal(c.response, body, sizeof(body) - 1);
    /* A completed record is not released by release(). */
    assert_int_equal(s->idempotency_release(s->user_data, "order_7429_deposit", "fp1", r.created_at_ms),
                     CONSTRA_OK);
    memset(&c, 0, sizeof(c));
    assert_int_equal(s->idempotency_reserve(s->user_data, &r, now + 3, copy_idem, &c),
                     CONSTRA_E_CONFLICT);
    assert_int_equal(c.state, CONSTRA__IDEM_COMPLETED);

    /* Retention: after expiry the key is free again. */
    memset(&c, 0, sizeof(c));
    assert_int_equal(s->idempotency_reserve(s->user_data, &r, r.expires_at_ms, copy_idem, &c),
                     CONSTRA_OK);
}

static void test_idempotency_commit_atomic(void **state)
{
    constra__res_table *s = *state;
    /* Completing a key that was never reserved fails the whole commit. */
    constra__res_idempotency done = idem_rec("never_reserved", "fp", 1);
    done.state = CONSTRA__IDEM_COMPLETED;
    done.http_status = 201;
    constra__res_intent in = intent_rec("pi_1", "pending_user_action", 1, "{}");
    constra__res_event ev = event_rec("evt_1", "pi_1", "payment_intent.created");
    constra__res_write w = {sizeof(w), &in, 0, &ev, 1, &done, 0};
    assert_int_equal(s->commit(s->user_data, &w), CONSTRA_E_CONFLICT);
    get(s, "pi_1", CONSTRA_E_NOT_FOUND);
    assert_int_equal(events_of(s, NULL).count, 0);
}

static void test_idempotency_release_and_lease(void **state)
{
    constra__res_table *s = *state;
    int64_t now = 5000;
    constra__res_idempotency r = idem_rec("k1", "fpA", now);
    assert_int_equal(s->idempotency_reserve(s->user_data, &r, now, NULL, NULL), CONSTRA_OK);
    /* Wrong fingerprint: release is a no-op. */
    assert_int_equal(s->idempotency_release(s->user_data, "k1", "fpB", now), CONSTRA_OK);
    assert_int_equal(s->idempotency_reserve(s->user_data, &r, now, NULL, NULL),
                     CONSTRA_E_CONFLICT);
    /* Another reservation than the one named (created at another time):
     * a no-op, so a request that saw an abandoned reservation never drops
     * the fresh one made in its place. */
    assert_int_equal(s->idempotency_release(s->user_data, "k1", "fpA", now - 1), CONSTRA_OK);
    assert_int_equal(s->idempotency_reserve(s->user_data, &r, now, NULL, NULL),
                     CONSTRA_E_CONFLICT);
    assert_int_equal(s->idempotency_release(s->user_data, "k1", "fpA", now), CONSTRA_OK);
    assert_int_equal(s->idempotency_reserve(s->user_data, &r, now, NULL, NULL), CONSTRA_OK);
    /* The owner died: after its lease the key can be taken over. */
    constra__res_idempotency r2 = idem_rec("k1", "fpC", r.lease_expires_at_ms);
    assert_int_equal(s->idempotency_reserve(s->user_data, &r2, r.lease_expires_at_ms - 1, NULL,
                                            NULL), CONSTRA_E_CONFLICT);
    idem_copy c;
    memset(&c, 0, sizeof(c));
    assert_int_equal(s->idempotency_reserve(s->user_data, &r2, r.lease_expires_at_ms, copy_idem,
                                            &c), CONSTRA_OK);
    /* Taking over the reservation seen: once; the second, holding the
     * same sight, conflicts (the version moved: never reused). */
    constra__res_idempotency t1 = idem_rec("k1", "fpC", r2.created_at_ms + 100);
    assert_int_equal(s->idempotency_take_over(s->user_data, &t1, r2.created_at_ms + 1),
                     CONSTRA_E_CONFLICT); /* not the one seen */
    assert_int_equal(s->idempotency_take_over(s->user_data, &t1, r2.created_at_ms), CONSTRA_OK);
    constra__res_idempotency t2 = idem_rec("k1", "fpC", r2.created_at_ms + 200);
    assert_int_equal(s->idempotency_take_over(s->user_data, &t2, r2.created_at_ms),
                     CONSTRA_E_CONFLICT);
    idem_copy tc;
    memset(&tc, 0, sizeof(tc));
    constra__res_idempotency probe = idem_rec("k1", "fpC", r2.created_at_ms + 300);
    assert_int_equal(s->idempotency_reserve(s->user_data, &probe, r2.created_at_ms + 300,
                                            copy_idem, &tc),
                     CONSTRA_E_CONFLICT);
    assert_int_equal(tc.created_at_ms, t1.created_at_ms);
    constra__res_idempotency wrong = idem_rec("k1", "fpX", r2.created_at_ms + 200);
    assert_int_equal(s->idempotency_take_over(s->user_data, &wrong, t1.created_at_ms),
                     CONSTRA_E_CONFLICT); /* another request's key */
    constra__res_idempotency none = idem_rec("k_none", "fpC", 1);
    assert_int_equal(s->idempotency_take_over(s->user_data, &none, 1), CONSTRA_E_NOT_FOUND);
    /* Releasing a missing key is fine. */
    assert_int_equal(s->idempotency_release(s->user_data, "nope", "fp", 0), CONSTRA_OK);
    if (s->purge_expired) {
        assert_int_equal(s->purge_expired(s->user_data, r2.expires_at_ms), CONSTRA_OK);
        constra__res_idempotency r3 = idem_rec("k1", "fpD", 0);
        assert_int_equal(s->idempotency_reserve(s->user_data, &r3, 0, NULL, NULL), CONSTRA_OK);
    }
}

/* The record the key holds now (count 0: free at `now`, and then
 * reserved by this probe: only for the end of a test). */
static idem_copy held(constra__res_table *s, const char *key, const char *fp, int64_t now)
{
    constra__res_idempotency probe = idem_rec(key, fp, now);
    idem_copy c;
    memset(&c, 0, sizeof(c));
    int rc = s->idempotency_reserve(s->user_data, &probe, now, copy_idem, &c);
    assert_int_equal(rc, c.count ? CONSTRA_E_CONFLICT : CONSTRA_OK);
    return c;
}

/* A key is linked to its intent in the commit that inserts the intent:
 * it stays in flight, shows the link when reserved again, links once,
 * is never released, and completes as before. */
static void test_idempotency_link(void **state)
{
    constra__res_table *s = *state;
    int64_t now = 2000000;
    constra__res_idempotency r = idem_rec("order_link", "fpL", now);
    r.expires_at_ms = now + 86400000;
    r.lease_expires_at_ms = r.expires_at_ms + 1; /* as the engine reserves */
    assert_int_equal(s->idempotency_reserve(s->user_data, &r, now, NULL, NULL), CONSTRA_OK);

    static const char link1[] = "{\"id\":\"pi_l1\"}";
    constra__res_intent in1 = intent_rec("pi_l1", "pending_user_action", 1, "{}");
    constra__res_event ev1 = event_rec("evt_l1", "pi_l1", "payment_intent.created");

    /* Refused links write nothing of the commit. */
    constra__res_idempotency bad = link_rec(&r, link1);
    bad.fingerprint = "fpOther";
    constra__res_write w = {sizeof(w), &in1, 0, &ev1, 1, &bad, 0};
    assert_int_equal(s->commit(s->user_data, &w), CONSTRA_E_CONFLICT);
    bad = link_rec(&r, "");
    assert_int_equal(s->commit(s->user_data, &w), CONSTRA_E_INVALID_ARGUMENT);
    bad = link_rec(&r, link1);
    bad.state = 7;
    assert_int_equal(s->commit(s->user_data, &w), CONSTRA_E_INVALID_ARGUMENT);
    bad.state = 0;
    assert_int_equal(s->commit(s->user_data, &w), CONSTRA_E_INVALID_ARGUMENT);
    get(s, "pi_l1", CONSTRA_E_NOT_FOUND);
    assert_int_equal(events_of(s, NULL).count, 0);
    idem_copy c = held(s, "order_link", "fpL", now + 1);
    assert_int_equal(c.state, CONSTRA__IDEM_IN_FLIGHT);
    assert_int_equal(c.response_len, 0);

    /* The link lands with the intent. */
    constra__res_idempotency l1 = link_rec(&r, link1);
    w.idempotency = &l1;
    assert_int_equal(s->commit(s->user_data, &w), CONSTRA_OK);
    c = held(s, "order_link", "fpL", now + 2);
    assert_int_equal(c.count, 1);
    assert_int_equal(c.state, CONSTRA__IDEM_IN_FLIGHT);
    assert_int_equal(c.http_status, 0);
    assert_int_equal(c.response_len, sizeof(link1) - 1);
    assert_memory_equal(c.response, link1, sizeof(link1) - 1);
    assert_string_equal(c.fingerprint, "fpL");
    /* The reservation's times are kept exactly. */
    assert_int_equal(c.created_at_ms, now);
    assert_int_equal(c.expires_at_ms, r.expires_at_ms);
    assert_int_equal(c.lease_expires_at_ms, r.lease_expires_at_ms);

    /* A key links once: a second intent under it is refused whole. */
    static const char link2[] = "{\"id\":\"pi_l2\"}";
    constra__res_intent in2 = intent_rec("pi_l2", "pending_user_action", 1, "{}");
    constra__res_event ev2 = event_rec("evt_l2", "pi_l2", "payment_intent.created");
    constra__res_idempotency l2 = link_rec(&r, link2);
    constra__res_write w2 = {sizeof(w2), &in2, 0, &ev2, 1, &l2, 0};
    assert_int_equal(s->commit(s->user_data, &w2), CONSTRA_E_CONFLICT);
    assert_int_equal(s->idempotency_complete(s->user_data, &l2), CONSTRA_E_CONFLICT);
    get(s, "pi_l2", CONSTRA_E_NOT_FOUND);
    assert_int_equal(events_of(s, NULL).count, 1);

    /* A linked key is never released. */
    assert_int_equal(s->idempotency_release(s->user_data, "order_link", "fpL", now), CONSTRA_OK);
    c = held(s, "order_link", "fpL", now + 3);
    assert_int_equal(c.count, 1);
    assert_int_equal(c.response_len, sizeof(link1) - 1);

    /* The owner's outcome commit completes it (intent CAS + COMPLETED). */
    static const char body[] = "{\"id\":\"pi_l1\",\"status\":\"pending_user_action\"}";
    constra__res_idempotency done = completed_rec(&r, body);
    constra__res_intent in1b = intent_rec("pi_l1", "pending_user_action", 2, "{\"v\":2}");
    constra__res_write w3 = {sizeof(w3), &in1b, 1, NULL, 0, &done, 0};
    assert_int_equal(s->commit(s->user_data, &w3), CONSTRA_OK);
    c = held(s, "order_link", "fpL", now + 4);
    assert_int_equal(c.state, CONSTRA__IDEM_COMPLETED);
    assert_int_equal(c.http_status, 201);
    assert_int_equal(c.response_len, sizeof(body) - 1);
    assert_memory_equal(c.response, body, sizeof(body) - 1);
    assert_int_equal(c.lease_expires_at_ms, r.lease_expires_at_ms);
    /* Completed: neither linked nor completed again; the commit that
     * tried is refused whole (the intent stays at version 2). */
    assert_int_equal(s->idempotency_complete(s->user_data, &l1), CONSTRA_E_CONFLICT);
    assert_int_equal(s->idempotency_complete(s->user_data, &done), CONSTRA_E_CONFLICT);
    constra__res_intent in1c = intent_rec("pi_l1", "succeeded", 3, "{\"v\":3}");
    constra__res_write w4 = {sizeof(w4), &in1c, 2, NULL, 0, &done, 0};
    assert_int_equal(s->commit(s->user_data, &w4), CONSTRA_E_CONFLICT);
    assert_int_equal(get(s, "pi_l1", CONSTRA_OK).version, 2);
    /* ... and the same commit without the key lands (the engine's
     * fallback when a retry completed the key first). */
    w4.idempotency = NULL;
    assert_int_equal(s->commit(s->user_data, &w4), CONSTRA_OK);
    assert_int_equal(get(s, "pi_l1", CONSTRA_OK).version, 3);

    /* A retry completing a linked key on its own (idempotency_complete),
     * the owner's outcome commit then refused. */
    constra__res_idempotency k2 = idem_rec("order_link2", "fpM", now);
    k2.lease_expires_at_ms = k2.expires_at_ms + 1;
    assert_int_equal(s->idempotency_reserve(s->user_data, &k2, now, NULL, NULL), CONSTRA_OK);
    static const char link3[] = "{\"id\":\"pi_l3\"}";
    constra__res_intent in3 = intent_rec("pi_l3", "pending_user_action", 1, "{}");
    constra__res_idempotency l3 = link_rec(&k2, link3);
    constra__res_write w5 = {sizeof(w5), &in3, 0, NULL, 0, &l3, 0};
    assert_int_equal(s->commit(s->user_data, &w5), CONSTRA_OK);
    constra__res_idempotency by_retry = completed_rec(&k2, body);
    assert_int_equal(s->idempotency_complete(s->user_data, &by_retry), CONSTRA_OK);
    constra__res_intent in3b = intent_rec("pi_l3", "pending_user_action", 2, "{}");
    constra__res_write w6 = {sizeof(w6), &in3b, 1, NULL, 0, &by_retry, 0};
    assert_int_equal(s->commit(s->user_data, &w6), CONSTRA_E_CONFLICT);
    c = held(s, "order_link2", "fpM", now + 5);
    assert_int_equal(c.state, CONSTRA__IDEM_COMPLETED);
}

/* With lease_expires_at_ms past the expiry (as the engine reserves), the
 * storage never takes a reservation over before it expires; an unlinked
 * one is released, and a 0.1-style record (lease == expiry) behaves as
 * it always did. */
static void test_idempotency_no_takeover_before_expiry(void **state)
{
    constra__res_table *s = *state;
    int64_t now = 3000000;
    constra__res_idempotency r = idem_rec("k_engine", "fpE", now);
    r.expires_at_ms = now + 60000;
    r.lease_expires_at_ms = r.expires_at_ms + 1;
    assert_int_equal(s->idempotency_reserve(s->user_data, &r, now, NULL, NULL), CONSTRA_OK);
    constra__res_idempotency other = idem_rec("k_engine", "fpF", now);
    assert_int_equal(s->idempotency_reserve(s->user_data, &other, r.expires_at_ms - 1, NULL,
                                            NULL), CONSTRA_E_CONFLICT);
    idem_copy c = held(s, "k_engine", "fpE", r.expires_at_ms - 1);
    assert_string_equal(c.fingerprint, "fpE");
    assert_int_equal(c.lease_expires_at_ms, r.lease_expires_at_ms);
    /* Unlinked: the engine may release it (a request that created nothing). */
    assert_int_equal(s->idempotency_release(s->user_data, "k_engine", "fpE", r.created_at_ms), CONSTRA_OK);
    assert_int_equal(s->idempotency_reserve(s->user_data, &r, now + 1, NULL, NULL), CONSTRA_OK);
    /* Expired: free whatever the lease says. */
    assert_int_equal(s->idempotency_reserve(s->user_data, &other, r.expires_at_ms, NULL, NULL),
                     CONSTRA_OK);

    /* A record as 0.1 reserved it (lease == expiry) reads back as such. */
    constra__res_idempotency old = idem_rec("k_old", "fpO", now);
    old.lease_expires_at_ms = old.expires_at_ms;
    assert_int_equal(s->idempotency_reserve(s->user_data, &old, now, NULL, NULL), CONSTRA_OK);
    c = held(s, "k_old", "fpO", now + 1);
    assert_int_equal(c.lease_expires_at_ms, c.expires_at_ms);
    assert_int_equal(c.response_len, 0);
}

/* ---- concurrency -------------------------------------------------------------- */

typedef struct race {
    constra__res_table *s;
    pthread_barrier_t *barrier;
    int index;
    int rc;
} race;

static void *race_reserve(void *p)
{
    race *r = p;
    char fp[16];
    snprintf(fp, sizeof(fp), "fp%d", r->index);
    constra__res_idempotency rec = idem_rec("contended", fp, 100);
    pthread_barrier_wait(r->barrier);
    r->rc = r->s->idempotency_reserve(r->s->user_data, &rec, 100, NULL, NULL);
    return NULL;
}

static void *race_update(void *p)
{
    race *r = p;
    char doc[32];
    snprintf(doc, sizeof(doc), "{\"writer\":%d}", r->index);
    constra__res_intent in = intent_rec("pi_race", "succeeded", 2, doc);
    char evid[32];
    snprintf(evid, sizeof(evid), "evt_w%d", r->index);
    constra__res_event ev = event_rec(evid, "pi_race", "payment_intent.succeeded");
    pthread_barrier_wait(r->barrier);
    r->rc = write_intent(r->s, &in, 1, &ev, 1);
    return NULL;
}

static void run_race(constra__res_table *s, void *(*fn)(void *))
{
    enum { N = 8 };
    pthread_t t[N];
    race r[N];
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, N);
    for (int i = 0; i < N; i++) {
        r[i] = (race){s, &barrier, i, 99};
        assert_int_equal(pthread_create(&t[i], NULL, fn, &r[i]), 0);
    }
    int wins = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        if (r[i].rc == CONSTRA_OK) {
            wins++;
        } else {
            assert_int_equal(r[i].rc, CONSTRA_E_CONFLICT);
        }
    }
    pthread_barrier_destroy(&barrier);
    assert_int_equal(wins, 1);
}

static void *race_link(void *p)
{
    race *r = p;
    char id[32], evid[32], body[64];
    snprintf(id, sizeof(id), "pi_lr%d", r->index);
    snprintf(evid, sizeof(evid), "evt_lr%d", r->index);
    snprintf(body, sizeof(body), "{\"id\":\"%s\"}", id);
    constra__res_intent in = intent_rec(id, "pending_user_action", 1, "{}");
    constra__res_event ev = event_rec(evid, id, "payment_intent.created");
    constra__res_idempotency rec = idem_rec("link_contended", "fpR", 100);
    constra__res_idempotency l = link_rec(&rec, body);
    constra__res_write w = {sizeof(w), &in, 0, &ev, 1, &l, 0};
    pthread_barrier_wait(r->barrier);
    r->rc = r->s->commit(r->s->user_data, &w);
    return NULL;
}

/* Eight requests that all think they own one key (retries after a lease):
 * exactly one intent is created under it, the one the link names. */
static void test_race_one_link_wins(void **state)
{
    constra__res_table *s = *state;
    constra__res_idempotency rec = idem_rec("link_contended", "fpR", 100);
    assert_int_equal(s->idempotency_reserve(s->user_data, &rec, 100, NULL, NULL), CONSTRA_OK);
    run_race(s, race_link);
    id_list all = events_of(s, NULL);
    assert_int_equal(all.count, 1);
    idem_copy c = held(s, "link_contended", "fpR", 101);
    char want[64];
    snprintf(want, sizeof(want), "{\"id\":\"pi_lr%.8s\"}", all.ids[0] + strlen("evt_lr"));
    assert_int_equal(c.response_len, strlen(want));
    assert_memory_equal(c.response, want, strlen(want));
}

static void test_race_one_reservation_wins(void **state)
{
    run_race(*state, race_reserve);
}

static void test_race_one_writer_wins(void **state)
{
    constra__res_table *s = *state;
    constra__res_intent in = intent_rec("pi_race", "pending_user_action", 1, "{}");
    assert_int_equal(write_intent(s, &in, 0, NULL, 0), CONSTRA_OK);
    run_race(s, race_update);
    assert_int_equal(get(s, "pi_race", CONSTRA_OK).version, 2);
    assert_int_equal(events_of(s, "pi_race").count, 1); /* only the winner's event */
}

/* ---- bad input ------------------------------------------------------------------ */

static void test_bad_input_changes_nothing(void **state)
{
    constra__res_table *s = *state;
    constra__res_intent ok = intent_rec("pi_ok", "draft", 1, "{}");
    assert_int_equal(write_intent(s, &ok, 0, NULL, 0), CONSTRA_OK);

    char longid[400];
    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    constra__res_intent bad[] = {
        intent_rec(longid, "draft", 1, "{}"),
        intent_rec("", "draft", 1, "{}"),
        intent_rec("pi_x", "draft", 7, "{}"), /* version must be 1 on insert */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_not_equal(write_intent(s, &bad[i], 0, NULL, 0), CONSTRA_OK);
    }
    constra__res_intent nulls = intent_rec("pi_n", "draft", 1, "{}");
    nulls.status = NULL;
    assert_int_not_equal(write_intent(s, &nulls, 0, NULL, 0), CONSTRA_OK);
    constra__res_event ev = event_rec(NULL, "pi_ok", "x");
    constra__res_intent ok2 = intent_rec("pi_ok", "succeeded", 2, "{}");
    assert_int_not_equal(write_intent(s, &ok2, 1, &ev, 1), CONSTRA_OK);
    assert_int_not_equal(s->commit(s->user_data, NULL), CONSTRA_OK);
    constra__res_write empty = {sizeof(empty), NULL, 0, NULL, 0, NULL, 0};
    assert_int_not_equal(s->commit(s->user_data, &empty), CONSTRA_OK);

    assert_int_not_equal(s->get_intent(s->user_data, NULL, copy_intent, NULL), CONSTRA_OK);
    assert_int_not_equal(s->get_intent(s->user_data, longid, copy_intent, NULL), CONSTRA_OK);
    assert_int_not_equal(s->idempotency_reserve(s->user_data, NULL, 0, NULL, NULL), CONSTRA_OK);
    constra__res_idempotency noid = idem_rec("", "fp", 0);
    assert_int_not_equal(s->idempotency_reserve(s->user_data, &noid, 0, NULL, NULL), CONSTRA_OK);

    /* Everything as it was. */
    intent_copy c = get(s, "pi_ok", CONSTRA_OK);
    assert_string_equal(c.status, "draft");
    assert_int_equal(c.version, 1);
    get(s, "pi_x", CONSTRA_E_NOT_FOUND);
    assert_int_equal(events_of(s, NULL).count, 0);
}

/* ---- webhook endpoints and deliveries ----------------------------------- */

typedef struct ep_copy {
    int count;
    char id[8][64], url[8][128], types[8][128], attributes[8][128];
    int enabled[8];
    int64_t cursor[8], version[8];
} ep_copy;

static int copy_ep(void *ctx, const constra__res_endpoint *r)
{
    ep_copy *c = ctx;
    assert_true(c->count < 8);
    int i = c->count++;
    snprintf(c->id[i], 64, "%s", r->id);
    snprintf(c->url[i], 128, "%s", r->url);
    snprintf(c->types[i], 128, "%s", r->event_types);
    snprintf(c->attributes[i], 128, "%s", r->attributes);
    c->enabled[i] = r->enabled;
    c->cursor[i] = r->cursor;
    c->version[i] = r->version;
    return 0;
}

static ep_copy endpoints(constra__res_table *s)
{
    ep_copy c;
    memset(&c, 0, sizeof(c));
    assert_int_equal(constra__res_endpoint_list(s, copy_ep, &c), CONSTRA_OK);
    return c;
}

static constra__res_endpoint ep_rec(const char *id, int64_t version)
{
    constra__res_endpoint e = {sizeof(e), id, "https://hooks.example/a", "whsec_abc",
                                          "*", 1, 1000, 1000, 0, version, ""};
    return e;
}

static constra__res_delivery dl_rec(const char *id, const char *ep, const char *event,
                                       int64_t next)
{
    constra__res_delivery d = {sizeof(d), id, ep, event, "payment_intent.created", 1,
                                  "pending", 0, 0, "", next, 1000, 1000, 1, "{\"a\":1}", 7,
                                  "[]", 2};
    return d;
}

typedef struct dl_copy {
    int count;
    char id[16][64], state[16][16], error[16][64], body[16][64], log[16][64];
    int attempts[16], last_status[16];
    int64_t next[16], version[16], seq[16];
    int stop_after;
} dl_copy;

static int copy_dl(void *ctx, const constra__res_delivery *r)
{
    dl_copy *c = ctx;
    assert_true(c->count < 16);
    int i = c->count++;
    snprintf(c->id[i], 64, "%s", r->id);
    snprintf(c->state[i], 16, "%s", r->state);
    snprintf(c->error[i], 64, "%s", r->last_error);
    assert_true(r->body_len < 64 && r->log_len < 64);
    memcpy(c->body[i], r->body, r->body_len);
    c->body[i][r->body_len] = '\0';
    memcpy(c->log[i], r->log, r->log_len);
    c->log[i][r->log_len] = '\0';
    c->attempts[i] = r->attempts;
    c->last_status[i] = r->last_status;
    c->next[i] = r->next_attempt_at_ms;
    c->version[i] = r->version;
    c->seq[i] = r->event_sequence;
    return c->stop_after && c->count >= c->stop_after;
}

static dl_copy deliveries(constra__res_table *s, const char *id, const char *ep, const char *state,
                          int64_t due, const char *after, size_t limit)
{
    dl_copy c;
    memset(&c, 0, sizeof(c));
    constra__res_delivery_query q = {sizeof(q), id, ep, state, due, after, limit, 0};
    assert_int_equal(constra__res_delivery_list(s, &q, copy_dl, &c), CONSTRA_OK);
    return c;
}

static void test_webhook_endpoints(void **state)
{
    constra__res_table *s = *state;
    /* Two events already in the log: a new endpoint starts after them. */
    constra__res_intent in = intent_rec("pi_1", "draft", 1, "{}");
    constra__res_event ev[2] = {event_rec("evt_1", "pi_1", "a"), event_rec("evt_2", "pi_1", "b")};
    assert_int_equal(write_intent(s, &in, 0, ev, 2), CONSTRA_OK);
    id_list all = events_of(s, NULL);
    assert_int_equal(all.count, 2);

    constra__res_endpoint e = ep_rec("we_1", 1);
    e.cursor = 12345; /* ignored */
    assert_int_equal(constra__res_endpoint_insert(s, &e), CONSTRA_OK);
    assert_int_equal(constra__res_endpoint_insert(s, &e), CONSTRA_E_CONFLICT);
    constra__res_endpoint e0 = ep_rec("we_0", 1);
    e0.enabled = 0;
    e0.attributes = "{\"description\":\"A \\u00e9 \\\"b\\\"\"}"; /* kept byte for byte */
    assert_int_equal(constra__res_endpoint_insert(s, &e0), CONSTRA_OK);
    ep_copy c = endpoints(s);
    assert_int_equal(c.count, 2);
    assert_string_equal(c.id[0], "we_0"); /* by id */
    assert_string_equal(c.id[1], "we_1");
    assert_int_equal(c.cursor[1], all.seqs[1]);
    assert_int_equal(c.enabled[0], 0);
    assert_int_equal(c.version[1], 1);
    assert_string_equal(c.attributes[0], e0.attributes);
    assert_string_equal(c.attributes[1], "");

    /* Compare-and-set update; the cursor never moves through it. */
    constra__res_endpoint u = ep_rec("we_1", 2);
    u.url = "https://hooks.example/b";
    u.event_types = "payment_intent.succeeded";
    u.enabled = 0;
    u.cursor = 0;
    u.attributes = "{\"scheme\":\"t_v1\"}";
    assert_int_equal(constra__res_endpoint_update(s, &u, 1), CONSTRA_OK);
    assert_int_equal(constra__res_endpoint_update(s, &u, 1), CONSTRA_E_CONFLICT);
    constra__res_endpoint gone = ep_rec("we_9", 2);
    assert_int_equal(constra__res_endpoint_update(s, &gone, 1), CONSTRA_E_NOT_FOUND);
    c = endpoints(s);
    assert_string_equal(c.url[1], "https://hooks.example/b");
    assert_string_equal(c.types[1], "payment_intent.succeeded");
    assert_string_equal(c.attributes[1], "{\"scheme\":\"t_v1\"}");
    assert_int_equal(c.enabled[1], 0);
    assert_int_equal(c.version[1], 2);
    assert_int_equal(c.cursor[1], all.seqs[1]);

    assert_int_equal(constra__res_endpoint_delete(s, "we_0"), CONSTRA_OK);
    assert_int_equal(constra__res_endpoint_delete(s, "we_0"), CONSTRA_E_NOT_FOUND);
    assert_int_equal(endpoints(s).count, 1);
}

static dl_copy due_deliveries(constra__res_table *s, int64_t due, const char *after,
                              int64_t after_due, size_t limit)
{
    dl_copy c;
    memset(&c, 0, sizeof(c));
    constra__res_delivery_query q = {sizeof(q), NULL, NULL, "pending", due, after, limit,
                                     after_due};
    assert_int_equal(constra__res_delivery_list(s, &q, copy_dl, &c), CONSTRA_OK);
    return c;
}

/* The due listing: pending deliveries by next attempt (then id), up to
 * and including the time asked, with a (due, id) cursor; one rescheduled
 * moves, one delivered leaves it. */
static void test_delivery_due_listing(void **state)
{
    constra__res_table *s = *state;
    constra__res_endpoint e = ep_rec("we_1", 1);
    assert_int_equal(constra__res_endpoint_insert(s, &e), CONSTRA_OK);
    constra__res_delivery d[4] = {dl_rec("whd_a", "we_1", "evt_1", 500),
                                  dl_rec("whd_b", "we_1", "evt_2", 100),
                                  dl_rec("whd_c", "we_1", "evt_3", 300),
                                  dl_rec("whd_d", "we_1", "evt_4", 100)};
    assert_int_equal(constra__res_enqueue(s, "we_1", 0, 0, d, 4), CONSTRA_OK);
    assert_int_equal(due_deliveries(s, 99, NULL, 0, 16).count, 0);
    dl_copy c = due_deliveries(s, 300, NULL, 0, 16);
    assert_int_equal(c.count, 3);
    assert_string_equal(c.id[0], "whd_b");
    assert_string_equal(c.id[1], "whd_d");
    assert_string_equal(c.id[2], "whd_c");
    /* Two at a time, with the cursor. */
    c = due_deliveries(s, 1000, NULL, 0, 2);
    assert_int_equal(c.count, 2);
    c = due_deliveries(s, 1000, "whd_d", 100, 2);
    assert_int_equal(c.count, 2);
    assert_string_equal(c.id[0], "whd_c");
    assert_string_equal(c.id[1], "whd_a");
    /* Rescheduled earlier; then delivered. */
    constra__res_delivery u = d[0];
    u.next_attempt_at_ms = 50;
    u.version = 2;
    assert_int_equal(constra__res_delivery_update(s, &u, 1), CONSTRA_OK);
    c = due_deliveries(s, 100, NULL, 0, 16);
    assert_int_equal(c.count, 3);
    assert_string_equal(c.id[0], "whd_a");
    u.state = "delivered";
    u.next_attempt_at_ms = 0;
    u.version = 3;
    assert_int_equal(constra__res_delivery_update(s, &u, 2), CONSTRA_OK);
    c = due_deliveries(s, 1000, NULL, 0, 16);
    assert_int_equal(c.count, 3);
    assert_string_equal(c.id[0], "whd_b");
    /* Marking the storage's deliveries as indexed is idempotent. */
    assert_int_equal(constra__res_reindex_deliveries(s), CONSTRA_OK);
    assert_int_equal(constra__res_reindex_deliveries(s), CONSTRA_OK);
    assert_int_equal(due_deliveries(s, 1000, NULL, 0, 16).count, 3);
}

static void test_webhook_enqueue_and_update(void **state)
{
    constra__res_table *s = *state;
    constra__res_endpoint e = ep_rec("we_1", 1);
    assert_int_equal(constra__res_endpoint_insert(s, &e), CONSTRA_OK);
    assert_int_equal(endpoints(s).cursor[0], 0);

    constra__res_delivery d[3] = {dl_rec("whd_1", "we_1", "evt_1", 100),
                                     dl_rec("whd_2", "we_1", "evt_2", 200),
                                     dl_rec("whd_3", "we_1", "evt_3", 300)};
    assert_int_equal(constra__res_enqueue(s, "we_1", 0, 2, d, 2), CONSTRA_OK);
    assert_int_equal(endpoints(s).cursor[0], 2);
    /* A stale cursor: another worker enqueued first; nothing written. */
    assert_int_equal(constra__res_enqueue(s, "we_1", 0, 3, &d[2], 1), CONSTRA_E_CONFLICT);
    /* The same event twice for one endpoint: refused whole. */
    constra__res_delivery dup[2] = {dl_rec("whd_3", "we_1", "evt_3", 300),
                                       dl_rec("whd_4", "we_1", "evt_1", 300)};
    assert_int_equal(constra__res_enqueue(s, "we_1", 2, 4, dup, 2), CONSTRA_E_CONFLICT);
    constra__res_delivery dupid = dl_rec("whd_1", "we_1", "evt_9", 300);
    assert_int_equal(constra__res_enqueue(s, "we_1", 2, 4, &dupid, 1), CONSTRA_E_CONFLICT);
    assert_int_equal(constra__res_enqueue(s, "we_9", 0, 4, NULL, 0), CONSTRA_E_NOT_FOUND);
    assert_int_equal(endpoints(s).cursor[0], 2);
    assert_int_equal(deliveries(s, NULL, NULL, NULL, 0, NULL, 16).count, 2);
    /* A cursor move alone (events that matched nothing). */
    assert_int_equal(constra__res_enqueue(s, "we_1", 2, 5, NULL, 0), CONSTRA_OK);
    assert_int_equal(constra__res_enqueue(s, "we_1", 5, 6, &d[2], 1), CONSTRA_OK);
    assert_int_equal(endpoints(s).cursor[0], 6);

    dl_copy c = deliveries(s, NULL, NULL, NULL, 0, NULL, 16);
    assert_int_equal(c.count, 3);
    assert_string_equal(c.id[0], "whd_1");
    assert_string_equal(c.state[0], "pending");
    assert_string_equal(c.body[0], "{\"a\":1}");
    assert_string_equal(c.log[0], "[]");
    assert_int_equal(c.version[0], 1);
    assert_int_equal(c.next[2], 300);
    /* Filters: due, id, state, cursor, limit. */
    assert_int_equal(deliveries(s, NULL, NULL, "pending", 200, NULL, 16).count, 2);
    assert_int_equal(deliveries(s, "whd_2", NULL, NULL, 0, NULL, 16).count, 1);
    assert_int_equal(deliveries(s, NULL, "we_2", NULL, 0, NULL, 16).count, 0);
    c = deliveries(s, NULL, "we_1", NULL, 0, "whd_1", 1);
    assert_int_equal(c.count, 1);
    assert_string_equal(c.id[0], "whd_2");

    /* Compare-and-set update of the mutable columns. */
    constra__res_delivery u = dl_rec("whd_1", "we_1", "evt_1", 60100);
    u.state = "pending";
    u.attempts = 1;
    u.last_status = 500;
    u.last_error = "http_500";
    u.log = "[1]";
    u.log_len = 3;
    u.version = 2;
    assert_int_equal(constra__res_delivery_update(s, &u, 1), CONSTRA_OK);
    assert_int_equal(constra__res_delivery_update(s, &u, 1), CONSTRA_E_CONFLICT);
    constra__res_delivery missing = dl_rec("whd_9", "we_1", "evt_1", 1);
    missing.version = 2;
    assert_int_equal(constra__res_delivery_update(s, &missing, 1), CONSTRA_E_NOT_FOUND);
    c = deliveries(s, "whd_1", NULL, NULL, 0, NULL, 16);
    assert_int_equal(c.attempts[0], 1);
    assert_int_equal(c.last_status[0], 500);
    assert_string_equal(c.error[0], "http_500");
    assert_string_equal(c.log[0], "[1]");
    assert_int_equal(c.next[0], 60100);
    assert_int_equal(c.version[0], 2);
    assert_string_equal(c.body[0], "{\"a\":1}"); /* never changes */
    u.state = "delivered";
    u.version = 3;
    assert_int_equal(constra__res_delivery_update(s, &u, 2), CONSTRA_OK);
    assert_int_equal(deliveries(s, NULL, NULL, "delivered", 0, NULL, 16).count, 1);
    assert_int_equal(deliveries(s, NULL, NULL, "pending", 0, NULL, 16).count, 2);

    /* Deleting the endpoint takes its deliveries with it. */
    assert_int_equal(constra__res_endpoint_delete(s, "we_1"), CONSTRA_OK);
    assert_int_equal(deliveries(s, NULL, NULL, NULL, 0, NULL, 16).count, 0);
}

static void test_webhook_bad_input(void **state)
{
    constra__res_table *s = *state;
    constra__res_endpoint e = ep_rec("we_1", 1);
    assert_int_equal(constra__res_endpoint_insert(s, &e), CONSTRA_OK);
    constra__res_delivery d = dl_rec("whd_1", "we_1", "evt_1", 100);
    assert_int_equal(constra__res_enqueue(s, "we_1", 0, 1, &d, 1), CONSTRA_OK);

    static char huge[CONSTRA__RES_TEXT_MAX + 2];
    memset(huge, 'h', sizeof(huge) - 1);
    constra__res_endpoint bad[8];
    for (int i = 0; i < 8; i++) {
        bad[i] = ep_rec("we_2", 1);
    }
    bad[0].url = NULL;
    bad[1].url = huge;
    bad[2].secret = "";
    bad[3].event_types = NULL;
    bad[4].version = 3;
    bad[5].id = "";
    bad[6].attributes = NULL;
    bad[7].attributes = huge;
    for (int i = 0; i < 8; i++) {
        assert_int_equal(constra__res_endpoint_insert(s, &bad[i]),
                         CONSTRA_E_INVALID_ARGUMENT);
    }
    constra__res_endpoint en = ep_rec("we_1", 2);
    en.enabled = 7;
    assert_int_equal(constra__res_endpoint_update(s, &en, 1), CONSTRA_E_INVALID_ARGUMENT);
    en = ep_rec("we_1", 5);
    assert_int_equal(constra__res_endpoint_update(s, &en, 1), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra__res_endpoint_update(s, NULL, 1), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra__res_endpoint_delete(s, NULL), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra__res_endpoint_list(s, NULL, NULL), CONSTRA_E_INVALID_ARGUMENT);

    constra__res_delivery bd[5];
    for (int i = 0; i < 5; i++) {
        bd[i] = dl_rec("whd_2", "we_1", "evt_2", 100);
    }
    bd[0].state = "sent"; /* unknown state */
    bd[1].endpoint_id = "we_other";
    bd[2].event_id = NULL;
    bd[3].version = 2;
    bd[4].body = NULL; /* with a length */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(constra__res_enqueue(s, "we_1", 1, 2, &bd[i], 1),
                         CONSTRA_E_INVALID_ARGUMENT);
    }
    assert_int_equal(constra__res_enqueue(s, "we_1", 1, 0, NULL, 0),
                     CONSTRA_E_INVALID_ARGUMENT); /* cursor backwards */
    assert_int_equal(constra__res_enqueue(s, "we_1", 1, 2, NULL, 1),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra__res_enqueue(s, NULL, 1, 2, NULL, 0),
                     CONSTRA_E_INVALID_ARGUMENT);
    constra__res_delivery_query q0 = {sizeof(q0), NULL, NULL, NULL, 0, NULL, 0, 0};
    assert_int_equal(constra__res_delivery_list(s, &q0, copy_dl, NULL),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra__res_delivery_list(s, NULL, copy_dl, NULL),
                     CONSTRA_E_INVALID_ARGUMENT);
    constra__res_delivery u = dl_rec("whd_1", "we_1", "evt_1", 100);
    u.version = 2;
    u.state = "bogus";
    assert_int_equal(constra__res_delivery_update(s, &u, 1), CONSTRA_E_INVALID_ARGUMENT);
    u.state = "failed";
    u.version = 9;
    assert_int_equal(constra__res_delivery_update(s, &u, 1), CONSTRA_E_INVALID_ARGUMENT);
    u.version = 2;
    u.attempts = -1;
    assert_int_equal(constra__res_delivery_update(s, &u, 1), CONSTRA_E_INVALID_ARGUMENT);

    /* Everything as it was. */
    ep_copy c = endpoints(s);
    assert_int_equal(c.count, 1);
    assert_int_equal(c.version[0], 1);
    assert_int_equal(c.cursor[0], 1);
    dl_copy dc = deliveries(s, NULL, NULL, NULL, 0, NULL, 16);
    assert_int_equal(dc.count, 1);
    assert_int_equal(dc.version[0], 1);
    assert_string_equal(dc.state[0], "pending");
}

/* ---- workspace metadata ------------------------------------------------- */

typedef struct meta_seen {
    int count;
    char value[300];
} meta_seen;

static int on_meta(void *ctx, const char *value)
{
    meta_seen *m = ctx;
    m->count++;
    snprintf(m->value, sizeof(m->value), "%s", value);
    return 0;
}

static int has_meta(const constra__res_table *s)
{
    return s->meta_get != NULL && s->meta_put_if_absent != NULL;
}

/* The value of key, or "<absent>". */
static meta_seen meta_of(constra__res_table *s, const char *key)
{
    meta_seen m = {0, ""};
    int rc = s->meta_get(s->user_data, key, on_meta, &m);
    if (rc == CONSTRA_E_NOT_FOUND) {
        assert_int_equal(m.count, 0);
        snprintf(m.value, sizeof(m.value), "<absent>");
    } else {
        assert_int_equal(rc, CONSTRA_OK);
        assert_int_equal(m.count, 1);
    }
    return m;
}

static void test_meta_insert_if_absent(void **state)
{
    constra__res_table *s = *state;
    if (!has_meta(s)) {
        /* Optional as a pair: neither half alone (constra_storage_check). */
        assert_null(s->meta_get);
        assert_null(s->meta_put_if_absent);
        return;
    }
    assert_string_equal(meta_of(s, "mode").value, "<absent>");
    assert_int_equal(s->meta_put_if_absent(s->user_data, "mode", "sandbox", NULL, NULL), CONSTRA_OK);
    assert_string_equal(meta_of(s, "mode").value, "sandbox");
    /* Taken: nothing changes, the stored value is told. */
    meta_seen m = {0, ""};
    assert_int_equal(s->meta_put_if_absent(s->user_data, "mode", "live", on_meta, &m),
                     CONSTRA_E_CONFLICT);
    assert_int_equal(m.count, 1);
    assert_string_equal(m.value, "sandbox");
    assert_int_equal(s->meta_put_if_absent(s->user_data, "mode", "live", NULL, NULL),
                     CONSTRA_E_CONFLICT);
    assert_int_equal(s->meta_put_if_absent(s->user_data, "mode", "sandbox", NULL, NULL),
                     CONSTRA_E_CONFLICT); /* even the same value: it is not a second insert */
    assert_string_equal(meta_of(s, "mode").value, "sandbox");
    /* Keys are independent; an empty value is a value. */
    assert_string_equal(meta_of(s, "workspace_id").value, "<absent>");
    assert_int_equal(s->meta_put_if_absent(s->user_data, "empty", "", NULL, NULL), CONSTRA_OK);
    assert_string_equal(meta_of(s, "empty").value, "");
    assert_int_equal(s->meta_put_if_absent(s->user_data, "workspace_id",
                                           "ws_01kdvdna00p9z6ng9yjb72azr9", NULL, NULL),
                     CONSTRA_OK);
    assert_string_equal(meta_of(s, "workspace_id").value, "ws_01kdvdna00p9z6ng9yjb72azr9");
    assert_string_equal(meta_of(s, "mode").value, "sandbox");
    /* Longest key and value. */
    char k255[256], v255[256];
    memset(k255, 'k', 255);
    k255[255] = '\0';
    memset(v255, 'v', 255);
    v255[255] = '\0';
    assert_int_equal(s->meta_put_if_absent(s->user_data, k255, v255, NULL, NULL), CONSTRA_OK);
    assert_string_equal(meta_of(s, k255).value, v255);
    /* Metadata is not intents, events or idempotency. */
    assert_int_equal(events_of(s, NULL).count, 0);
}

static void test_meta_bad_input_changes_nothing(void **state)
{
    constra__res_table *s = *state;
    if (!has_meta(s)) {
        return; /* nothing to call (checked by the test above) */
    }
    assert_int_equal(s->meta_put_if_absent(s->user_data, "mode", "sandbox", NULL, NULL), CONSTRA_OK);
    char k256[257], v256[257];
    memset(k256, 'k', 256);
    k256[256] = '\0';
    memset(v256, 'v', 256);
    v256[256] = '\0';
    meta_seen m = {0, ""};
    const struct {
        const char *key, *value;
    } bad[] = {{NULL, "x"}, {"", "x"}, {k256, "x"}, {"other", NULL}, {"other", v256},
               {"mode", NULL}, {"mode", v256}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(s->meta_put_if_absent(s->user_data, bad[i].key, bad[i].value, on_meta, &m),
                         CONSTRA_E_INVALID_ARGUMENT);
    }
    assert_int_equal(s->meta_get(s->user_data, NULL, on_meta, &m), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(s->meta_get(s->user_data, "", on_meta, &m), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(s->meta_get(s->user_data, k256, on_meta, &m), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(s->meta_get(s->user_data, "mode", NULL, NULL), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(m.count, 0);
    assert_string_equal(meta_of(s, "mode").value, "sandbox");
    assert_string_equal(meta_of(s, "other").value, "<absent>");
}

typedef struct meta_race {
    constra__res_table *s;
    pthread_barrier_t *barrier;
    char mine[32];
    int rc;
    meta_seen seen;
} meta_race;

static void *race_meta(void *p)
{
    meta_race *r = p;
    pthread_barrier_wait(r->barrier);
    r->rc = r->s->meta_put_if_absent(r->s->user_data, "workspace_id", r->mine, on_meta, &r->seen);
    return NULL;
}

/* Two openers of one storage: exactly one records its value, every other
 * is told that one's (constra_open adopts it). */
static void test_meta_race_one_value_wins(void **state)
{
    constra__res_table *s = *state;
    if (!has_meta(s)) {
        return;
    }
    enum { N = 8 };
    pthread_t t[N];
    meta_race r[N];
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, N);
    for (int i = 0; i < N; i++) {
        memset(&r[i], 0, sizeof(r[i]));
        r[i].s = s;
        r[i].barrier = &barrier;
        snprintf(r[i].mine, sizeof(r[i].mine), "ws_racer_%d", i);
        r[i].rc = 99;
        assert_int_equal(pthread_create(&t[i], NULL, race_meta, &r[i]), 0);
    }
    int winner = -1;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        if (r[i].rc == CONSTRA_OK) {
            assert_int_equal(winner, -1);
            winner = i;
        } else {
            assert_int_equal(r[i].rc, CONSTRA_E_CONFLICT);
        }
    }
    pthread_barrier_destroy(&barrier);
    assert_int_not_equal(winner, -1);
    for (int i = 0; i < N; i++) {
        if (i != winner) {
            assert_int_equal(r[i].seen.count, 1);
            assert_string_equal(r[i].seen.value, r[winner].mine);
        }
    }
    assert_string_equal(meta_of(s, "workspace_id").value, r[winner].mine);
}

/* ---- the due index -------------------------------------------------------- */

typedef struct due_seen {
    int count;
    char ids[8][32];
    int64_t due[8];
    char cursor[CONSTRA__RES_KEY_MAX + 1];
} due_seen;

static int on_due(void *ctx, const char *cursor, const char *id, int64_t due_at_ms)
{
    due_seen *d = ctx;
    assert_true(d->count < 8);
    snprintf(d->ids[d->count], sizeof(d->ids[0]), "%s", id);
    d->due[d->count] = due_at_ms;
    snprintf(d->cursor, sizeof(d->cursor), "%s", cursor);
    d->count++;
    return 0;
}

static due_seen due_by(constra__res_table *s, int64_t until, const char *cursor, size_t limit)
{
    due_seen d;
    memset(&d, 0, sizeof(d));
    assert_int_equal(s->list_due(s->user_data, until, cursor, limit, on_due, &d), CONSTRA_OK);
    return d;
}

/* Intents written with a due time are listed by it (earliest first, ties
 * by id), up to and including `until`, with a cursor and a limit; one
 * rewritten with another due time moves, with 0 it leaves the index. */
static void test_due_index(void **state)
{
    constra__res_table *s = *state;
    static const struct {
        const char *id;
        int64_t due;
    } rows[] = {{"pi_d1", 5000}, {"pi_d2", 3000}, {"pi_d3", 0}, {"pi_d4", 3000},
                {"pi_d5", 9000000000000}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        constra__res_intent in = intent_rec(rows[i].id, "pending_user_action", 1, "{}");
        in.due_at_ms = rows[i].due;
        assert_int_equal(write_intent(s, &in, 0, NULL, 0), CONSTRA_OK);
    }
    due_seen d = due_by(s, 2999, NULL, 10);
    assert_int_equal(d.count, 0);
    d = due_by(s, 3000, NULL, 10);
    assert_int_equal(d.count, 2);
    assert_string_equal(d.ids[0], "pi_d2");
    assert_string_equal(d.ids[1], "pi_d4");
    assert_int_equal(d.due[0], 3000);
    d = due_by(s, 8999999999999, NULL, 10);
    assert_int_equal(d.count, 3);
    assert_string_equal(d.ids[2], "pi_d1");
    /* A limit and a cursor walk the same order. */
    d = due_by(s, INT64_C(9000000000000), NULL, 2);
    assert_int_equal(d.count, 2);
    char cursor[CONSTRA__RES_KEY_MAX + 1];
    snprintf(cursor, sizeof(cursor), "%s", d.cursor);
    d = due_by(s, INT64_C(9000000000000), cursor, 10);
    assert_int_equal(d.count, 2);
    assert_string_equal(d.ids[0], "pi_d1");
    assert_string_equal(d.ids[1], "pi_d5");
    /* Rewritten later, then with no due time. */
    constra__res_intent up = intent_rec("pi_d2", "pending_user_action", 2, "{}");
    up.due_at_ms = 6000;
    assert_int_equal(write_intent(s, &up, 1, NULL, 0), CONSTRA_OK);
    d = due_by(s, 5000, NULL, 10);
    assert_int_equal(d.count, 2);
    assert_string_equal(d.ids[0], "pi_d4");
    assert_string_equal(d.ids[1], "pi_d1");
    constra__res_intent off = intent_rec("pi_d4", "succeeded", 2, "{}");
    assert_int_equal(write_intent(s, &off, 1, NULL, 0), CONSTRA_OK);
    d = due_by(s, 6000, NULL, 10);
    assert_int_equal(d.count, 2);
    assert_string_equal(d.ids[0], "pi_d1");
    assert_string_equal(d.ids[1], "pi_d2");
    /* Bad arguments. */
    assert_int_equal(s->list_due(s->user_data, 1, NULL, 0, on_due, &d), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(s->list_due(s->user_data, 1, NULL, 1, NULL, NULL), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(s->list_due(s->user_data, -1, NULL, 1, on_due, &d), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(s->list_due(s->user_data, 1, "no-separator", 1, on_due, &d),
                     CONSTRA_E_INVALID_ARGUMENT);
}

int conformance_run(const char *name, conformance_factory f, void *arg)
{
    factory = f;
    factory_arg = arg;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_insert_and_get_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_insert_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compare_and_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unmatched_callbacks_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_find_by_checkout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_filters_and_cursor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_due_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotency_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotency_commit_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotency_release_and_lease, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotency_link, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotency_no_takeover_before_expiry, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_race_one_link_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_race_one_reservation_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_race_one_writer_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhook_endpoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhook_enqueue_and_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delivery_due_listing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhook_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meta_insert_if_absent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meta_bad_input_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meta_race_one_value_wins, setup, teardown),
    };
    return _cmocka_run_group_tests(name, tests, sizeof(tests) / sizeof(tests[0]), NULL, NULL);
}
