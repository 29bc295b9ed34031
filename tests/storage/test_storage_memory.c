/* The memory storage through the conformance suite, through the fault
 * wrapper, and under allocation failure at every point of a commit. */
#include "../unit/testutil.h"

#include <stdio.h>

#include "conformance.h"
#include "fault_storage.h"

static int make_memory(constra_storage *out, const constra_platform *platform, void *arg)
{
    (void)arg;
    return constra_storage_memory(out, platform, NULL);
}

/* The same suite through the fault wrapper with no fault: the wrapper is
 * transparent, so later engine tests can trust it. */
static fault_storage wrapper_state;
static int make_wrapped(constra_storage *out, const constra_platform *platform, void *arg)
{
    (void)arg;
    constra_storage inner = CONSTRA_STORAGE_INIT;
    int rc = constra_storage_memory(&inner, platform, NULL);
    if (rc == CONSTRA_OK) {
        fault_storage_wrap(&wrapper_state, &inner, out);
    }
    return rc;
}

typedef struct snapshot {
    char status[32];
    int64_t version;
    int events;
    int by_checkout_old, by_checkout_new;
    int idem_state;
} snapshot;

static int snap_intent(void *ctx, const constra_storage_intent *r)
{
    snapshot *s = ctx;
    snprintf(s->status, sizeof(s->status), "%s", r->status);
    s->version = r->version;
    return 0;
}
static int count_event(void *ctx, const constra_storage_event *r)
{
    (void)r;
    ((snapshot *)ctx)->events++;
    return 0;
}
static int ignore_intent(void *ctx, const constra_storage_intent *r)
{
    (void)ctx;
    (void)r;
    return 0;
}
static int snap_idem(void *ctx, const constra_storage_idempotency *r)
{
    ((snapshot *)ctx)->idem_state = r->state;
    return 0;
}

static snapshot take(constra_storage *s)
{
    snapshot snap;
    memset(&snap, 0, sizeof(snap));
    assert_int_equal(s->get_intent(s->user_data, "pi_1", snap_intent, &snap), CONSTRA_OK);
    s->list_events(s->user_data, "pi_1", 0, 100, count_event, &snap);
    snap.by_checkout_old =
        s->find_by_checkout(s->user_data, "ws_CO_old", ignore_intent, NULL) == CONSTRA_OK;
    snap.by_checkout_new =
        s->find_by_checkout(s->user_data, "ws_CO_new", ignore_intent, NULL) == CONSTRA_OK;
    constra_storage_idempotency probe = {sizeof(probe), "key1", "fp-probe", 1, 0, NULL, 0, 0,
                                         INT64_MAX, INT64_MAX};
    s->idempotency_reserve(s->user_data, &probe, 0, snap_idem, &snap);
    return snap;
}

/* Fail the N-th allocation of a commit, for every N: the state is either
 * entirely the old one or entirely the new one, and nothing leaks. */
static void test_commit_under_allocation_failure(void **state)
{
    (void)state;
    int succeeded = 0;
    for (long n = 1; n < 200 && !succeeded; n++) {
        counting_alloc ca = {0};
        constra_platform p;
        ca_platform(&p, &ca);
        p.destroy = NULL;
        constra_storage s = CONSTRA_STORAGE_INIT;
        assert_int_equal(constra_storage_memory(&s, &p, NULL), CONSTRA_OK);

        constra_storage_intent v1 = {sizeof(v1), "pi_1", "pending_user_action", "order", "ws_CO_old",
                                     1, 1, 1, "{}", 2};
        constra_storage_event e1 = {sizeof(e1), "evt_1", "pi_1", "payment_intent.created", 1, 0,
                                    "{}", 2};
        constra_storage_write w1 = {sizeof(w1), &v1, 0, &e1, 1, NULL};
        assert_int_equal(s.commit(s.user_data, &w1), CONSTRA_OK);
        constra_storage_idempotency r = {sizeof(r), "key1", "fp1", CONSTRA_IDEMPOTENCY_IN_FLIGHT,
                                         0, NULL, 0, 0, INT64_MAX, INT64_MAX};
        assert_int_equal(s.idempotency_reserve(s.user_data, &r, 0, NULL, NULL), CONSTRA_OK);
        snapshot before = take(&s);

        constra_storage_intent v2 = {sizeof(v2), "pi_1", "succeeded", "order", "ws_CO_new", 1, 2,
                                     2, "{\"done\":true}", 13};
        constra_storage_event e2[2] = {
            {sizeof(e2[0]), "evt_2", "pi_1", "payment_intent.succeeded", 2, 0, "{}", 2},
            {sizeof(e2[0]), "evt_3", "pi_1", "payment_intent.note_added", 2, 0, "{}", 2},
        };
        constra_storage_idempotency done = r;
        done.state = CONSTRA_IDEMPOTENCY_COMPLETED;
        done.http_status = 200;
        done.response = "{\"ok\":1}";
        done.response_len = 8;
        constra_storage_write w2 = {sizeof(w2), &v2, 1, e2, 2, &done};

        ca.fail_at = ca.attempts + n;
        int rc = s.commit(s.user_data, &w2);
        ca.fail_at = 0;
        snapshot after = take(&s);
        if (rc == CONSTRA_OK) {
            succeeded = 1;
            assert_string_equal(after.status, "succeeded");
            assert_int_equal(after.version, 2);
            assert_int_equal(after.events, 3);
            assert_true(after.by_checkout_old); /* former ids stay findable */
            assert_true(after.by_checkout_new);
            assert_int_equal(after.idem_state, CONSTRA_IDEMPOTENCY_COMPLETED);
        } else {
            assert_int_equal(rc, CONSTRA_E_NOMEM);
            assert_memory_equal(&before, &after, sizeof(before));
        }
        s.destroy(s.user_data);
        assert_int_equal(ca.live, 0);
    }
    assert_true(succeeded);
}

static void test_fault_wrapper_injects(void **state)
{
    (void)state;
    constra_storage inner = CONSTRA_STORAGE_INIT, s;
    assert_int_equal(constra_storage_memory(&inner, NULL, NULL), CONSTRA_OK);
    fault_storage f;
    fault_storage_wrap(&f, &inner, &s);
    f.fail_at = 2;
    constra_storage_intent v1 = {sizeof(v1), "pi_1", "draft", "", "", 1, 1, 1, "{}", 2};
    constra_storage_write w1 = {sizeof(w1), &v1, 0, NULL, 0, NULL};
    assert_int_equal(s.commit(s.user_data, &w1), CONSTRA_OK);      /* call 1 */
    assert_int_equal(s.get_intent(s.user_data, "pi_1", ignore_intent, NULL),
                     CONSTRA_E_STORAGE);                            /* call 2: injected */
    assert_int_equal(s.get_intent(s.user_data, "pi_1", ignore_intent, NULL), CONSTRA_OK);
    assert_int_equal(f.calls, 3);
    assert_int_equal(f.failures, 1);
    s.destroy(s.user_data);
    assert_int_equal(f.destroyed, 1);
}

static void test_vtable_checks(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    constra_storage s;
    assert_int_equal(constra_storage_init(&s, sizeof(s)), CONSTRA_OK);
    assert_int_equal(constra_storage_check(&s, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "storage.commit");
    assert_int_equal(constra_storage_init(NULL, sizeof(s)), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_storage_init(&s, 4), CONSTRA_E_ABI);
    constra_storage zero;
    memset(&zero, 0, sizeof(zero));
    assert_int_equal(constra_storage_check(&zero, &err), CONSTRA_E_ABI);
    assert_int_equal(constra_storage_memory(&zero, NULL, &err), CONSTRA_E_ABI);
    assert_int_equal(constra_storage_memory(NULL, NULL, &err), CONSTRA_E_INVALID_ARGUMENT);
    constra_platform bad = CONSTRA_PLATFORM_INIT;
    bad.malloc_fn = ca_malloc;
    assert_int_equal(constra_storage_memory(&s, &bad, &err), CONSTRA_E_INVALID_ARGUMENT);
}

/* One cmocka group per run (TAP allows one plan per process): the
 * argument picks which. */
int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "conformance";
    if (strcmp(which, "conformance") == 0) {
        return conformance_run("storage conformance: memory", make_memory, NULL);
    }
    if (strcmp(which, "wrapped") == 0) {
        return conformance_run("storage conformance: memory via fault wrapper", make_wrapped,
                               NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_under_allocation_failure),
        cmocka_unit_test(test_fault_wrapper_injects),
        cmocka_unit_test(test_vtable_checks),
    };
    return cmocka_run_group_tests_name("memory storage", tests, NULL, NULL);
}
