#include "../unit/testutil.h"

#include <stdio.h>

typedef struct got {
    int count;
    constra_rail_result last;
} got;

static int collect_result(void *ctx, const constra_rail_result *r)
{
    got *g = ctx;
    g->count++;
    g->last = *r;
    return 0;
}

static constra_rail make_sim(int64_t delay)
{
    constra_rail r;
    constra_rail_init(&r, sizeof(r));
    constra_sim_options o = CONSTRA_SIM_OPTIONS_INIT;
    o.outcome_delay_ms = delay;
    assert_int_equal(constra_rail_sim(&r, NULL, &o, NULL), CONSTRA_OK);
    assert_int_equal(constra_rail_check(&r, NULL), CONSTRA_OK);
    assert_string_equal(r.name, "sim");
    return r;
}

/* 2025-11-27 10:38:14.625 UTC = 13:38:14.625 in Nairobi. */
static const int64_t T0 = INT64_C(1764239894625);

static constra_rail_result push(constra_rail *r, const char *phone, int64_t amount, int64_t now)
{
    constra_rail_collect req = {sizeof(req), "pi_1", "att_1", amount, "KES", phone, "order_7429",
                                "Deposit", now};
    constra_rail_result out;
    memset(&out, 0, sizeof(out));
    out.struct_size = sizeof(out);
    assert_int_equal(r->collect(r->user_data, &req, &out), CONSTRA_OK);
    return out;
}

static void test_checkout_ids_look_real(void **state)
{
    (void)state;
    constra_rail r = make_sim(0);
    constra_rail_result a = push(&r, "254708374149", 1250, T0);
    assert_int_equal(a.outcome, CONSTRA_RAIL_ACCEPTED);
    /* ws_CO_<DDMMYYYYHHmmss in EAT><20 hex digits: 80 random bits>: the
     * phone, the milliseconds and a counter are no longer in it (they made
     * ids guessable and let two processes repeat them). */
    assert_int_equal(strlen(a.checkout_request_id), 40);
    assert_true(strncmp(a.checkout_request_id, "ws_CO_27112025133814", 20) == 0);
    assert_null(strstr(a.checkout_request_id, "708374149"));
    for (size_t i = 20; i < 40; i++) {
        assert_non_null(strchr("0123456789abcdef", a.checkout_request_id[i]));
    }
    /* 2,000 pushes in one millisecond to one phone: all different. */
    char seen[2000][41];
    for (int i = 0; i < 2000; i++) {
        constra_rail_result b = push(&r, "254708374149", 1250, T0);
        assert_int_equal(strlen(b.checkout_request_id), 40);
        memcpy(seen[i], b.checkout_request_id, 41);
        assert_string_not_equal(a.checkout_request_id, b.checkout_request_id);
        for (int k = 0; k < i; k++) {
            assert_string_not_equal(seen[k], seen[i]);
        }
    }
    assert_true(strlen(a.merchant_request_id) > 0);
    r.destroy(r.user_data);
}

static void test_magic_numbers(void **state)
{
    (void)state;
    static const struct {
        const char *phone, *code;
    } cases[] = {
        {"254708374149", "0"}, {"254711000000", "0"},    {"254711000001", "1"},
        {"254711000002", "1037"}, {"254711000003", "1032"}, {"254711000004", "2001"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        constra_rail r = make_sim(5000);
        constra_rail_result a = push(&r, cases[i].phone, 100, T0);
        got g = {0};
        /* Not due yet: nothing, and a query says pending (4999). */
        assert_int_equal(r.poll(r.user_data, T0 + 4999, collect_result, &g), CONSTRA_OK);
        assert_int_equal(g.count, 0);
        constra_rail_result q;
        memset(&q, 0, sizeof(q));
        assert_int_equal(r.query(r.user_data, a.checkout_request_id, T0 + 4999, &q), CONSTRA_OK);
        assert_int_equal(q.outcome, CONSTRA_RAIL_PENDING);
        assert_string_equal(q.result_code, "4999");
        /* Due: queries see the final code (without a receipt, as Daraja). */
        memset(&q, 0, sizeof(q));
        assert_int_equal(r.query(r.user_data, a.checkout_request_id, T0 + 5000, &q), CONSTRA_OK);
        assert_int_equal(q.outcome, CONSTRA_RAIL_FINAL);
        assert_string_equal(q.result_code, cases[i].code);
        assert_string_equal(q.receipt, "");
        /* Poll delivers it exactly once. */
        assert_int_equal(r.poll(r.user_data, T0 + 5000, collect_result, &g), CONSTRA_OK);
        assert_int_equal(g.count, 1);
        assert_int_equal(g.last.outcome, CONSTRA_RAIL_FINAL);
        assert_string_equal(g.last.checkout_request_id, a.checkout_request_id);
        assert_string_equal(g.last.result_code, cases[i].code);
        if (strcmp(cases[i].code, "0") == 0) {
            /* 2025 -> 'T' (S = 2024), November -> 'K', 27th -> 'R' (doc/DARAJA.md 3.4). */
            assert_int_equal(strlen(g.last.receipt), 10);
            assert_true(strncmp(g.last.receipt, "TKR", 3) == 0);
            for (int k = 0; k < 10; k++) {
                assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", g.last.receipt[k]));
            }
            assert_int_equal(g.last.amount, 100);
            assert_string_equal(g.last.phone, cases[i].phone);
        } else {
            assert_string_equal(g.last.receipt, "");
        }
        assert_int_equal(r.poll(r.user_data, T0 + 100000, collect_result, &g), CONSTRA_OK);
        assert_int_equal(g.count, 1);
        r.destroy(r.user_data);
    }
}

static void test_other_numbers_wait(void **state)
{
    (void)state;
    constra_rail r = make_sim(0);
    constra_rail_result a = push(&r, "254712345678", 10, T0);
    assert_int_equal(a.outcome, CONSTRA_RAIL_ACCEPTED);
    got g = {0};
    assert_int_equal(r.poll(r.user_data, T0 + 86400000, collect_result, &g), CONSTRA_OK);
    assert_int_equal(g.count, 0);
    constra_rail_result q;
    memset(&q, 0, sizeof(q));
    assert_int_equal(r.query(r.user_data, a.checkout_request_id, T0 + 86400000, &q), CONSTRA_OK);
    assert_int_equal(q.outcome, CONSTRA_RAIL_PENDING);
    assert_int_equal(r.query(r.user_data, "ws_CO_unknown", T0, &q), CONSTRA_E_NOT_FOUND);
    r.destroy(r.user_data);
}

/* A waiting push is forgotten an hour after it was sent, so a sandbox
 * that runs for days does not keep a record per payment: live
 * allocations stay bounded over 20,000 pushes spread over 20 hours. */
static void test_waiting_pushes_are_forgotten(void **state)
{
    (void)state;
    counting_alloc ca = {0};
    constra_platform p;
    ca_platform(&p, &ca);
    p.destroy = NULL;
    constra_rail r;
    constra_rail_init(&r, sizeof(r));
    assert_int_equal(constra_rail_sim(&r, &p, NULL, NULL), CONSTRA_OK);
    constra_rail_result first = push(&r, "254712345678", 10, T0);
    constra_rail_result q;
    memset(&q, 0, sizeof(q));
    assert_int_equal(r.query(r.user_data, first.checkout_request_id, T0 + 3599999, &q),
                     CONSTRA_OK);
    assert_int_equal(q.outcome, CONSTRA_RAIL_PENDING);
    /* The next push, an hour on, sweeps it out. */
    constra_rail_result second = push(&r, "254712345679", 10, T0 + 3600000);
    assert_int_equal(r.query(r.user_data, first.checkout_request_id, T0 + 3600000, &q),
                     CONSTRA_E_NOT_FOUND);
    assert_int_equal(r.query(r.user_data, second.checkout_request_id, T0 + 3600000, &q),
                     CONSTRA_OK);
    long peak = 0;
    for (int i = 0; i < 20000; i++) {
        int64_t now = T0 + 3600000 + (int64_t)i * 3600; /* 20 h in 3.6 s steps */
        push(&r, "254712345678", 10, now);
        if (i == 5000) {
            peak = ca.live;
        }
    }
    /* An hour holds 1,000 pushes: the second half of the run must not
     * have grown beyond the first's (map and FIFO at their high water). */
    assert_true(ca.live <= peak + 4);
    r.destroy(r.user_data);
    assert_int_equal(ca.live, 0);
}

static void test_rejections_and_bad_input(void **state)
{
    (void)state;
    constra_rail r = make_sim(0);
    const char *bad_phones[] = {"0712345678", "25471234567", "2547123456789", "254a12345678", ""};
    for (size_t i = 0; i < sizeof(bad_phones) / sizeof(bad_phones[0]); i++) {
        constra_rail_result a = push(&r, bad_phones[i], 10, T0);
        assert_int_equal(a.outcome, CONSTRA_RAIL_REJECTED);
        assert_string_equal(a.checkout_request_id, "");
    }
    int64_t bad_amounts[] = {0, -1, 250001, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof(bad_amounts) / sizeof(bad_amounts[0]); i++) {
        constra_rail_result a = push(&r, "254708374149", bad_amounts[i], T0);
        assert_int_equal(a.outcome, CONSTRA_RAIL_REJECTED);
    }
    assert_int_equal(push(&r, "254708374149", 250000, T0).outcome, CONSTRA_RAIL_ACCEPTED);
    constra_rail_result out;
    assert_int_equal(r.collect(r.user_data, NULL, &out), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(r.query(r.user_data, NULL, 0, &out), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(r.poll(r.user_data, 0, NULL, NULL), CONSTRA_E_INVALID_ARGUMENT);
    r.destroy(r.user_data);

    constra_error err = CONSTRA_ERROR_INIT;
    constra_sim_options o = CONSTRA_SIM_OPTIONS_INIT;
    o.outcome_delay_ms = -1;
    constra_rail x;
    constra_rail_init(&x, sizeof(x));
    assert_int_equal(constra_rail_sim(&x, NULL, &o, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "options.outcome_delay_ms");
    assert_int_equal(constra_rail_sim(NULL, NULL, NULL, &err), CONSTRA_E_INVALID_ARGUMENT);
    constra_rail zero;
    memset(&zero, 0, sizeof(zero));
    assert_int_equal(constra_rail_sim(&zero, NULL, NULL, &err), CONSTRA_E_ABI);
    assert_int_equal(constra_rail_check(&x, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "rail.name");
    strcpy(x.name, "Sim");
    assert_int_equal(constra_rail_check(&x, &err), CONSTRA_E_INVALID_ARGUMENT);
    strcpy(x.name, "sim");
    assert_int_equal(constra_rail_check(&x, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "rail.collect");
}

/* Allocation failures during pushes: clean errors, nothing leaked. */
static void test_allocation_failures(void **state)
{
    (void)state;
    for (long n = 1; n < 40; n++) {
        counting_alloc ca = {0};
        constra_platform p;
        ca_platform(&p, &ca);
        p.destroy = NULL;
        constra_rail r;
        constra_rail_init(&r, sizeof(r));
        ca.fail_at = n;
        if (constra_rail_sim(&r, &p, NULL, NULL) != CONSTRA_OK) {
            assert_int_equal(ca.live, 0);
            continue;
        }
        for (int i = 0; i < 20; i++) {
            constra_rail_collect req = {sizeof(req), "pi", "att", 10, "KES",
                                        i % 2 ? "254711000003" : "254712345678", "", "", T0};
            constra_rail_result out;
            memset(&out, 0, sizeof(out));
            int rc = r.collect(r.user_data, &req, &out);
            assert_true(rc == CONSTRA_OK || rc == CONSTRA_E_NOMEM);
        }
        got g = {0};
        r.poll(r.user_data, T0 + 10000, collect_result, &g);
        r.destroy(r.user_data);
        assert_int_equal(ca.live, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkout_ids_look_real),
        cmocka_unit_test(test_magic_numbers),
        cmocka_unit_test(test_other_numbers_wait),
        cmocka_unit_test(test_waiting_pushes_are_forgotten),
        cmocka_unit_test(test_rejections_and_bad_input),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
