#define _POSIX_C_SOURCE 200809L /* pthread barriers */
/* The engine end to end on memory storage and the simulator: the seed
 * flow, idempotency (threads included), time-outs on a driven clock,
 * provider-result edge cases, bad input, and storage faults at every point
 * of a lifecycle. */
#include "../unit/testutil.h"
#include "counting_rail.h"

#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "../storage/fault_storage.h"
#if defined(CONSTRA_TEST_WITH_PG)
#include "../storage/pg_testdb.h"
#endif
#include "../test_error.h"
#include "engine/engine.h"

#include <cjson/cJSON.h>

/* ---- fixtures ----------------------------------------------------------- */

static int64_t clock_ms = INT64_C(1764239894625);
static int64_t driven_clock(void *ud)
{
    (void)ud;
    return clock_ms;
}

typedef struct env {
    constra_t *h;
    counting_rail rail;
    fault_storage faults;
    char db_path[64]; /* "" unless on a SQLite file */
} env;

#if defined(CONSTRA_TEST_WITH_PG)
/* CONSTRA_TEST_STORAGE=postgres: one database for the run (on the server
 * in CONSTRA_TEST_PG, dropped at exit), a schema of its own per handle
 * (the storage finds its tables through search_path), so that handles
 * open at once never share data. */
static void drop_pg(void)
{
    drop_database();
}

static void open_postgres(constra_storage *out)
{
    static int ready, schemas;
    if (!ready) {
        if (create_database("engine") != 0) {
            fail_msg("CONSTRA_TEST_PG is not set or its server refuses (scripts/pg_cluster.sh)");
        }
        atexit(drop_pg);
        ready = 1;
    }
    char sql[64], ci[sizeof(conninfo) + 64];
    snprintf(sql, sizeof(sql), "CREATE SCHEMA e%d", ++schemas);
    assert_true(db_sql(sql));
    snprintf(ci, sizeof(ci), "%s options='-c search_path=e%d'", conninfo, schemas);
    constra_error err = CONSTRA_ERROR_INIT;
    if (constra_storage_postgres(out, NULL, ci, &err) != CONSTRA_OK) {
        fail_msg("postgres storage: %s", err.message);
    }
}
#endif

/* The whole suite runs on memory storage and, registered a second time
 * with CONSTRA_TEST_STORAGE=sqlite, on a fresh SQLite file per test
 * (tests/engine/meson.build): the fault sweep and the thread hammer then
 * prove the engine's rules on a real database too. */
static void open_storage(env *v, constra_storage *out)
{
    const char *kind = getenv("CONSTRA_TEST_STORAGE");
#if defined(CONSTRA_TEST_WITH_PG)
    if (kind != NULL && strcmp(kind, "postgres") == 0) {
        open_postgres(out);
        return;
    }
#endif
    if (kind == NULL || strcmp(kind, "sqlite") != 0) {
        assert_int_equal(constra_storage_memory(out, NULL, NULL), CONSTRA_OK);
        return;
    }
    snprintf(v->db_path, sizeof(v->db_path), "/tmp/constra-engine-XXXXXX");
    int fd = mkstemp(v->db_path);
    assert_true(fd >= 0);
    close(fd);
    constra_sqlite_options o = CONSTRA_SQLITE_OPTIONS_INIT;
    o.path = v->db_path;
    o.synchronous = CONSTRA_SQLITE_SYNC_NORMAL; /* durability is not under test here */
    constra_error err = CONSTRA_ERROR_INIT;
    if (constra_storage_sqlite(out, NULL, &o, &err) != CONSTRA_OK) {
        fail_msg("sqlite storage: %s", err.message);
    }
}

static void remove_db(const char *path)
{
    if (path[0] == '\0') {
        return;
    }
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char p[80];
        snprintf(p, sizeof(p), "%s%s", path, suffixes[i]);
        unlink(p);
    }
}

/* Called inside the rail's collect (NULL: nothing): lets a test act while
 * a create is between its first commit and its outcome commit. */
static void (*collect_hook)(env *v);
static env *hook_env;

static int hooked_collect(void *ud, const constra_rail_collect *req, constra_rail_result *out)
{
    if (collect_hook) {
        void (*hook)(env *) = collect_hook;
        collect_hook = NULL; /* once */
        hook(hook_env);
    }
    return counting_collect(ud, req, out);
}

static env *open_env_lease(int max_attempts, int64_t lease_ms)
{
    env *v = calloc(1, sizeof(*v));
    constra_platform p = CONSTRA_PLATFORM_INIT;
    p.wall_time_ms = driven_clock;
    constra_storage mem = CONSTRA_STORAGE_INIT, wrapped;
    open_storage(v, &mem);
    fault_storage_wrap(&v->faults, &mem, &wrapped);
    constra_rail r;
    counting_rail_open(&v->rail, &r);
    r.collect = hooked_collect;
    hook_env = v;
    constra_config cfg = CONSTRA_CONFIG_INIT;
    cfg.platform = &p;
    cfg.storage = &wrapped;
    cfg.rail = &r;
    cfg.max_attempts = max_attempts;
    cfg.callback_timeout_ms = 60000;
    cfg.idempotency_lease_ms = lease_ms;
    cfg.callback_token = "engine-test-callback-token";
    constra_error err = CONSTRA_ERROR_INIT;
    if (constra_open(&v->h, &cfg, &err) != CONSTRA_OK) {
        fail_msg("open: %s", err.message);
    }
    return v;
}

static env *open_env(int max_attempts)
{
    return open_env_lease(max_attempts, 0);
}

static void close_env(env *v)
{
    constra_close(v->h);
    remove_db(v->db_path);
    pthread_mutex_destroy(&v->rail.lock);
    free(v);
}

static constra_intent_params seed_params(const char *phone)
{
    constra_intent_params p = CONSTRA_INTENT_PARAMS_INIT;
    p.amount = 1250;
    p.currency = "KES";
    p.provider = "mpesa";
    p.customer_name = "Amina N.";
    p.phone_number = phone;
    p.reference = "order_7429";
    p.description = "Solar home kit deposit";
    return p;
}

/* The detail of this thread's last failed call (every call gets T_ERR). */
static constra_error last(env *v)
{
    (void)v;
    return t_last_error();
}

static void expect_events(env *v, const char *id, const char *const *types, size_t n)
{
    constra_event_list *ev = NULL;
    assert_int_equal(constra_event_list_get(v->h, id, &ev, T_ERR), CONSTRA_OK);
    if (constra_event_list_count(ev) != n) {
        for (size_t i = 0; i < constra_event_list_count(ev); i++) {
            print_message("event %zu: %s\n", i, constra_event_list_type(ev, i));
        }
        fail_msg("%zu events, want %zu", constra_event_list_count(ev), n);
    }
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(constra_event_list_type(ev, i), types[i]);
    }
    constra_event_list_free(ev);
}

/* ---- the seed flow ------------------------------------------------------ */

static void test_seed_flow(void **state)
{
    (void)state;
    env *v = open_env(0);
    constra_intent_params p = seed_params("254700000000");
    constra_intent *in = NULL;
    assert_int_equal(constra_intent_create(v->h, &p, "order_7429_deposit", &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_PENDING_USER_ACTION);
    assert_string_equal(constra_intent_provider_action_state(in), "sent_to_customer");
    assert_true(strncmp(constra_intent_checkout_request_id(in), "ws_CO_", 6) == 0);
    assert_string_equal(constra_intent_next_action(in), "wait_for_callback");
    assert_string_equal(constra_intent_phone_number(in), "254700000000");
    assert_int_equal(constra_intent_amount(in), 1250);
    assert_int_equal(constra_intent_replayed(in), 0);
    const char *json = constra_intent_json(in, NULL);
    assert_non_null(strstr(json, "\"status\":\"pending_user_action\""));
    assert_non_null(strstr(json, "\"provider_action\":{\"type\":\"stk_push\",\"state\":\"sent_to_customer\",\"checkout_request_id\":\"ws_CO_"));
    assert_non_null(strstr(json, "\"next_action\":\"wait_for_callback\""));
    char id[CONSTRA_ID_SIZE];
    strcpy(id, constra_intent_id(in));
    constra_intent_free(in);

    /* The customer cancels. */
    assert_int_equal(constra_intent_simulate_callback(v->h, id, "1032", "Request cancelled by user.",
                                                      &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_REQUIRES_RECOVERY);
    assert_string_equal(constra_intent_result_code(in), "1032");
    assert_string_equal(constra_intent_recommended_action(in), "retry");
    assert_true(constra_intent_retry_allowed(in));
    assert_int_equal(constra_intent_attempts_used(in), 1);
    assert_int_equal(constra_intent_attempts_left(in), 2);
    assert_true(strlen(constra_intent_agent_note(in)) > 10);
    assert_string_equal(constra_intent_next_action(in), "recover");
    constra_intent_free(in);

    /* An operator retries; the customer pays. */
    assert_int_equal(constra_intent_retry(v->h, id, &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_PENDING_USER_ACTION);
    assert_int_equal(constra_intent_attempts_used(in), 2);
    constra_intent_free(in);
    assert_int_equal(constra_intent_simulate_callback(v->h, id, "0", NULL, &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_SUCCEEDED);
    assert_int_equal(strlen(constra_intent_receipt(in)), 10);
    assert_string_equal(constra_intent_next_action(in), "none");
    assert_non_null(strstr(constra_intent_json(in, NULL), "\"recovery\":null"));
    constra_intent_free(in);

    static const char *const timeline[] = {
        "payment_intent.created", "payment_intent.pending_user_action",
        "payment_intent.requires_recovery", "payment_intent.pending_user_action",
        "payment_intent.succeeded"};
    expect_events(v, id, timeline, 5);
    assert_int_equal(v->rail.collects, 2);
    close_env(v);
}

/* ---- idempotency ----------------------------------------------------------- */

static void test_idempotent_replay_byte_for_byte(void **state)
{
    (void)state;
    env *v = open_env(0);
    constra_intent_params p = seed_params("254700000000");
    constra_intent *a = NULL, *b = NULL;
    assert_int_equal(constra_intent_create(v->h, &p, "key-1", &a, T_ERR), CONSTRA_OK);
    clock_ms += 1000;
    /* Same request, normalised the same way ("0700..." is "254700..."). */
    p.phone_number = "0700 000 000";
    assert_int_equal(constra_intent_create(v->h, &p, "key-1", &b, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_replayed(b), 1);
    size_t la, lb;
    const char *ja = constra_intent_json(a, &la);
    const char *jb = constra_intent_json(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(ja, jb, la);
    assert_string_equal(constra_intent_id(a), constra_intent_id(b));
    assert_int_equal(v->rail.collects, 1);
    constra_intent_free(b);

    /* Same key, different request. */
    p.amount = 1300;
    assert_int_equal(constra_intent_create(v->h, &p, "key-1", &b, T_ERR), CONSTRA_E_CONFLICT);
    assert_null(b);
    constra_error err = last(v);
    assert_string_equal(err.code, "idempotency_key_reused");
    assert_int_equal(err.http_status, 409);
    assert_int_equal(v->rail.collects, 1);

    /* After retention the key is free again: a new intent. */
    clock_ms += INT64_C(86400000) + 1;
    assert_int_equal(constra_intent_create(v->h, &p, "key-1", &b, T_ERR), CONSTRA_OK);
    assert_string_not_equal(constra_intent_id(a), constra_intent_id(b));
    assert_int_equal(constra_intent_replayed(b), 0);
    constra_intent_free(a);
    constra_intent_free(b);
    close_env(v);
}

typedef struct hammer {
    env *v;
    pthread_barrier_t *barrier;
    int rc;
    char id[CONSTRA_ID_SIZE];
    char code[64];
} hammer;

static void *hammer_one(void *arg)
{
    hammer *t = arg;
    constra_intent_params p = seed_params("254700000000");
    pthread_barrier_wait(t->barrier);
    constra_intent *in = NULL;
    t->rc = constra_intent_create(t->v->h, &p, "contended-key", &in, T_ERR);
    if (t->rc == CONSTRA_OK) {
        strcpy(t->id, constra_intent_id(in));
        constra_intent_free(in);
    } else {
        constra_error err = CONSTRA_ERROR_INIT;
        err = t_last_error();
        strcpy(t->code, err.code);
    }
    return NULL;
}

/* Many threads, one key: exactly one intent and one rail call. */
/* ---- per-call errors under threads ------------------------------------ */

/* Four kinds of failing call, each with its own cause (error.h: every call
 * reports into its own err, never into a slot on the handle). */
enum { FAIL_KINDS = 4, FAIL_CALLS = 3000 };

typedef struct fail_thread {
    env *v;
    int kind;
    const char *pending_id; /* for the invalid-state kind */
    constra_error want;
    int wrong;              /* calls whose error named another call's cause */
    int succeeded;          /* calls that did not fail at all */
} fail_thread;

static int failing_call(env *v, int kind, const char *pending_id, int i, constra_error *err)
{
    constra_intent *out = NULL;
    char key[48];
    snprintf(key, sizeof(key), "err-%d-%d", kind, i);
    int rc;
    switch (kind) {
    case 0:
        rc = constra_intent_get(v->h, "pi_00000000000000000000000000", &out, err);
        break;
    case 1: {
        constra_intent_params p = seed_params("254700000000");
        p.amount = -5;
        rc = constra_intent_create(v->h, &p, key, &out, err);
        break;
    }
    case 2: {
        constra_intent_params p = seed_params("12345");
        rc = constra_intent_create(v->h, &p, key, &out, err);
        break;
    }
    default:
        rc = constra_intent_confirm(v->h, pending_id, &out, err);
        break;
    }
    constra_intent_free(out);
    return rc;
}

static void *fail_many(void *arg)
{
    fail_thread *t = arg;
    for (int i = 0; i < FAIL_CALLS; i++) {
        constra_error e = CONSTRA_ERROR_INIT;
        if (failing_call(t->v, t->kind, t->pending_id, i, &e) == CONSTRA_OK) {
            t->succeeded++;
        } else if (strcmp(e.code, t->want.code) != 0 || strcmp(e.param, t->want.param) != 0 ||
                   strcmp(e.message, t->want.message) != 0) {
            t->wrong++;
        }
    }
    return NULL;
}

static void test_errors_are_per_call_across_threads(void **state)
{
    (void)state;
    env *v = open_env(3);
    constra_intent_params p = seed_params("254700000000");
    constra_intent *pending = NULL;
    assert_int_equal(constra_intent_create(v->h, &p, "err-pending", &pending, T_ERR), CONSTRA_OK);
    char pending_id[CONSTRA_ID_SIZE];
    snprintf(pending_id, sizeof(pending_id), "%s", constra_intent_id(pending));
    constra_intent_free(pending);

    fail_thread t[FAIL_KINDS];
    memset(t, 0, sizeof(t));
    for (int k = 0; k < FAIL_KINDS; k++) {
        t[k].v = v;
        t[k].kind = k;
        t[k].pending_id = pending_id;
        constra_error_init(&t[k].want, sizeof(t[k].want));
        assert_int_not_equal(failing_call(v, k, pending_id, -1, &t[k].want), CONSTRA_OK);
    }
    /* The four causes are told apart by code or parameter. */
    for (int a = 0; a < FAIL_KINDS; a++) {
        for (int b = a + 1; b < FAIL_KINDS; b++) {
            assert_true(strcmp(t[a].want.code, t[b].want.code) != 0 ||
                        strcmp(t[a].want.param, t[b].want.param) != 0);
        }
    }
    pthread_t th[FAIL_KINDS];
    for (int k = 0; k < FAIL_KINDS; k++) {
        assert_int_equal(pthread_create(&th[k], NULL, fail_many, &t[k]), 0);
    }
    for (int k = 0; k < FAIL_KINDS; k++) {
        pthread_join(th[k], NULL);
        if (t[k].wrong != 0 || t[k].succeeded != 0) {
            fail_msg("kind %d (%s/%s): %d foreign errors, %d successes", k, t[k].want.code,
                     t[k].want.param, t[k].wrong, t[k].succeeded);
        }
    }
    close_env(v);
}

static void test_threads_hammer_one_key(void **state)
{
    (void)state;
    enum { N = 8 };
    for (int round = 0; round < 20; round++) {
        env *v = open_env(0);
        pthread_t th[N];
        hammer t[N];
        pthread_barrier_t barrier;
        pthread_barrier_init(&barrier, NULL, N);
        for (int i = 0; i < N; i++) {
            memset(&t[i], 0, sizeof(t[i]));
            t[i].v = v;
            t[i].barrier = &barrier;
            pthread_create(&th[i], NULL, hammer_one, &t[i]);
        }
        const char *winner = NULL;
        for (int i = 0; i < N; i++) {
            pthread_join(th[i], NULL);
            if (t[i].rc == CONSTRA_OK) {
                if (winner) {
                    assert_string_equal(winner, t[i].id); /* replays name the same intent */
                }
                winner = t[i].id;
            } else {
                assert_int_equal(t[i].rc, CONSTRA_E_CONFLICT);
                /* in flight (the error code may race with other threads'
                 * errors on the shared handle, so only the status is firm) */
            }
        }
        pthread_barrier_destroy(&barrier);
        assert_non_null(winner);
        assert_int_equal(v->rail.collects, 1);
        constra_intent_list *l = NULL;
        assert_int_equal(constra_intent_list_get(v->h, NULL, &l, T_ERR), CONSTRA_OK);
        assert_int_equal(constra_intent_list_count(l), 1);
        constra_intent_list_free(l);
        close_env(v);
    }
}

/* ---- provider outcomes ---------------------------------------------------------- */

static constra_intent *create_for(env *v, const char *phone, const char *key)
{
    constra_intent_params p = seed_params(phone);
    constra_intent *in = NULL;
    if (constra_intent_create(v->h, &p, key, &in, T_ERR) != CONSTRA_OK) {
        fail_msg("create: %s", last(v).message);
    }
    return in;
}

static int status_of(env *v, const char *id)
{
    constra_intent *in = NULL;
    assert_int_equal(constra_intent_get(v->h, id, &in, T_ERR), CONSTRA_OK);
    int s = constra_intent_status(in);
    constra_intent_free(in);
    return s;
}

static void test_magic_numbers_via_tick(void **state)
{
    (void)state;
    static const struct {
        const char *phone;
        int status;
        const char *code;
    } cases[] = {
        {"254708374149", CONSTRA_INTENT_SUCCEEDED, "0"},
        {"254711000000", CONSTRA_INTENT_SUCCEEDED, "0"},
        {"254711000001", CONSTRA_INTENT_REQUIRES_RECOVERY, "1"},
        {"254711000002", CONSTRA_INTENT_REQUIRES_RECOVERY, "1037"},
        {"254711000003", CONSTRA_INTENT_REQUIRES_RECOVERY, "1032"},
        {"254711000004", CONSTRA_INTENT_REQUIRES_RECOVERY, "2001"},
    };
    env *v = open_env(0);
    char ids[6][CONSTRA_ID_SIZE];
    for (int i = 0; i < 6; i++) {
        char key[32];
        snprintf(key, sizeof(key), "magic-%d", i);
        constra_intent *in = create_for(v, cases[i].phone, key);
        strcpy(ids[i], constra_intent_id(in));
        constra_intent_free(in);
    }
    assert_int_equal(constra_tick(v->h, clock_ms + 2999, T_ERR), CONSTRA_OK);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(status_of(v, ids[i]), CONSTRA_INTENT_PENDING_USER_ACTION);
    }
    assert_int_equal(constra_tick(v->h, clock_ms + 3000, T_ERR), CONSTRA_OK);
    for (int i = 0; i < 6; i++) {
        constra_intent *in = NULL;
        assert_int_equal(constra_intent_get(v->h, ids[i], &in, T_ERR), CONSTRA_OK);
        assert_int_equal(constra_intent_status(in), cases[i].status);
        assert_string_equal(constra_intent_result_code(in), cases[i].code);
        constra_intent_free(in);
    }
    close_env(v);
}

static void test_timeout_then_retries_exhausted(void **state)
{
    (void)state;
    env *v = open_env(2);
    constra_intent *in = create_for(v, "254712345678", "timeout-1");
    char id[CONSTRA_ID_SIZE];
    strcpy(id, constra_intent_id(in));
    constra_intent_free(in);
    /* Nothing comes back: at the time-out the rail is asked (still
     * pending), and the intent stops waiting. */
    assert_int_equal(constra_tick(v->h, clock_ms + 59999, T_ERR), CONSTRA_OK);
    assert_int_equal(status_of(v, id), CONSTRA_INTENT_PENDING_USER_ACTION);
    clock_ms += 60000;
    assert_int_equal(constra_tick(v->h, clock_ms, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_get(v->h, id, &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_REQUIRES_RECOVERY);
    assert_int_equal(constra_intent_attempts_left(in), 1);
    constra_intent_free(in);
    assert_int_equal(constra_intent_retry(v->h, id, &in, T_ERR), CONSTRA_OK);
    constra_intent_free(in);
    clock_ms += 60000;
    assert_int_equal(constra_tick(v->h, clock_ms, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_get(v->h, id, &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_FAILED);
    assert_string_equal(constra_intent_recommended_action(in), "contact_customer");
    assert_int_equal(constra_intent_retry_allowed(in), 0);
    constra_intent_free(in);
    /* A retry now is refused with the status named. */
    assert_int_equal(constra_intent_retry(v->h, id, &in, T_ERR), CONSTRA_E_INVALID_STATE);
    constra_error err = last(v);
    assert_int_equal(err.http_status, 409);
    assert_non_null(strstr(err.message, "failed"));
    assert_int_equal(v->rail.collects, 2);
    close_env(v);
}

static void test_duplicate_and_late_callbacks(void **state)
{
    (void)state;
    env *v = open_env(0);
    constra_intent *in = create_for(v, "254712345678", "dup-1");
    char id[CONSTRA_ID_SIZE];
    strcpy(id, constra_intent_id(in));
    constra_intent_free(in);
    assert_int_equal(constra_intent_simulate_callback(v->h, id, "0", NULL, &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_SUCCEEDED);
    char receipt[16];
    strcpy(receipt, constra_intent_receipt(in));
    constra_intent_free(in);
    /* The same callback again: recorded, nothing changes. */
    assert_int_equal(constra_intent_simulate_callback(v->h, id, "0", NULL, &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_SUCCEEDED);
    assert_string_equal(constra_intent_receipt(in), receipt);
    constra_intent_free(in);
    static const char *const t1[] = {"payment_intent.created", "payment_intent.pending_user_action",
                                     "payment_intent.succeeded",
                                     "payment_intent.callback_duplicate"};
    expect_events(v, id, t1, 4);

    /* Cancelled, then the money arrives anyway: review. */
    in = create_for(v, "254712345678", "late-1");
    strcpy(id, constra_intent_id(in));
    constra_intent_free(in);
    assert_int_equal(constra_intent_cancel(v->h, id, &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_CANCELLED);
    constra_intent_free(in);
    assert_int_equal(constra_intent_simulate_callback(v->h, id, "0", NULL, &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_REVIEW_REQUIRED);
    assert_string_equal(constra_intent_recommended_action(in), "operator_review");
    constra_intent_free(in);
    /* An operator resolves it as paid. */
    assert_int_equal(constra_intent_resolve(v->h, id, 1, NULL, NULL, &in, T_ERR),
                     CONSTRA_E_INVALID_ARGUMENT); /* a receipt is required */
    assert_int_equal(constra_intent_resolve(v->h, id, 1, "TKR1234567", "verified on statement",
                                            &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_SUCCEEDED);
    assert_string_equal(constra_intent_receipt(in), "TKR1234567");
    constra_intent_free(in);

    /* An unknown code is never a success nor a failure. */
    in = create_for(v, "254712345678", "unknown-1");
    strcpy(id, constra_intent_id(in));
    constra_intent_free(in);
    assert_int_equal(constra_intent_simulate_callback(v->h, id, "777777", "???", &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_REVIEW_REQUIRED);
    constra_intent_free(in);
    close_env(v);
}

/* ---- provider results: one rule set, table-tested ---------------------- */

/* The checkout id of attempt `n` (1-based) of the intent, from its JSON. */
static void checkout_of(env *v, const char *id, int n, char *out, size_t size)
{
    constra_intent *in = NULL;
    assert_int_equal(constra_intent_get(v->h, id, &in, T_ERR), CONSTRA_OK);
    cJSON *j = cJSON_Parse(constra_intent_json(in, NULL));
    const cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "attempts"), n - 1);
    const cJSON *c = cJSON_GetObjectItem(a, "checkout_request_id");
    assert_true(cJSON_IsString(c));
    snprintf(out, size, "%s", c->valuestring);
    cJSON_Delete(j);
    constra_intent_free(in);
}

/* A Daraja STK callback, to the workspace's callback URL (with its token):
 * code "0" is a success of `amount` from 254712345678 with `receipt`
 * ("" leaves the receipt out), any other code a failure. */
static int deliver(env *v, const char *checkout, const char *code, const char *receipt,
                   int64_t amount)
{
    char body[1024];
    if (strcmp(code, "0") == 0) {
        char rec[96] = "";
        if (receipt[0]) {
            snprintf(rec, sizeof(rec), "{\"Name\":\"MpesaReceiptNumber\",\"Value\":\"%s\"},",
                     receipt);
        }
        snprintf(body, sizeof(body),
                 "{\"Body\":{\"stkCallback\":{\"MerchantRequestID\":\"m-1\","
                 "\"CheckoutRequestID\":\"%s\",\"ResultCode\":0,\"ResultDesc\":\"The service "
                 "request is processed successfully.\",\"CallbackMetadata\":{\"Item\":["
                 "{\"Name\":\"Amount\",\"Value\":%lld},%s"
                 "{\"Name\":\"TransactionDate\",\"Value\":20251127133814},"
                 "{\"Name\":\"PhoneNumber\",\"Value\":254712345678}]}}}}",
                 checkout, (long long)amount, rec);
    } else {
        snprintf(body, sizeof(body),
                 "{\"Body\":{\"stkCallback\":{\"MerchantRequestID\":\"m-1\","
                 "\"CheckoutRequestID\":\"%s\",\"ResultCode\":%s,\"ResultDesc\":\"x\"}}}",
                 checkout, code);
    }
    char token[65], query[80];
    assert_int_equal(constra_callback_token(v->h, token, sizeof(token), T_ERR), CONSTRA_OK);
    int qn = snprintf(query, sizeof(query), "token=%s", token);
    return constra_handle_mpesa_callback(v->h, query, (size_t)qn, body, strlen(body), T_ERR);
}

/* The intent as the table checks it. */
typedef struct view {
    int status;
    char reason[48];
    char receipts[200]; /* "A,B" */
    char last_event[64];
    char last_event_reason[48];
    int events;
} view;

static view look(env *v, const char *id)
{
    view s;
    memset(&s, 0, sizeof(s));
    constra_intent *in = NULL;
    assert_int_equal(constra_intent_get(v->h, id, &in, T_ERR), CONSTRA_OK);
    s.status = constra_intent_status(in);
    cJSON *j = cJSON_Parse(constra_intent_json(in, NULL));
    const cJSON *rec = cJSON_GetObjectItem(j, "recovery");
    const cJSON *reason = cJSON_GetObjectItem(rec, "reason");
    if (cJSON_IsString(reason)) {
        snprintf(s.reason, sizeof(s.reason), "%s", reason->valuestring);
    }
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItem(j, "receipts"))
    {
        size_t n = strlen(s.receipts);
        snprintf(s.receipts + n, sizeof(s.receipts) - n, "%s%s", n ? "," : "", r->valuestring);
    }
    cJSON_Delete(j);
    constra_intent_free(in);
    constra_event_list *ev = NULL;
    assert_int_equal(constra_event_list_get(v->h, id, &ev, T_ERR), CONSTRA_OK);
    s.events = (int)constra_event_list_count(ev);
    snprintf(s.last_event, sizeof(s.last_event), "%s",
             constra_event_list_type(ev, (size_t)s.events - 1));
    size_t len = 0;
    cJSON *ej = cJSON_Parse(constra_event_list_json(ev, &len));
    const cJSON *last = cJSON_GetArrayItem(cJSON_GetObjectItem(ej, "data"), s.events - 1);
    const cJSON *er = cJSON_GetObjectItem(cJSON_GetObjectItem(last, "data"), "reason");
    if (cJSON_IsString(er)) {
        snprintf(s.last_event_reason, sizeof(s.last_event_reason), "%s", er->valuestring);
    }
    cJSON_Delete(ej);
    constra_event_list_free(ev);
    return s;
}

enum setup {
    AT_PENDING,          /* attempt 1 waiting */
    AT_PENDING_SECOND,   /* attempt 1 cancelled (1032), attempt 2 waiting */
    AT_RECOVERY_TIMEOUT, /* attempt 1 timed out */
    AT_RECOVERY_1032,    /* attempt 1 cancelled by the customer */
    AT_RECOVERY_1037,    /* attempt 1 unreachable (1037) */
    AT_FAILED,           /* three attempts, all cancelled */
    AT_CANCELLED,        /* attempt 1 waiting, the operator cancelled */
    AT_SUCCEEDED,        /* attempt 1 paid, receipt RA00000001 */
    AT_REVIEW            /* attempt 1 answered with an unknown code */
};

/* Brings a fresh intent to `setup`; its id in `id`. */
static void reach(env *v, int setup, const char *key, char *id)
{
    constra_intent *in = create_for(v, "254712345678", key);
    strcpy(id, constra_intent_id(in));
    constra_intent_free(in);
    char co[CONSTRA_RAIL_ID_SIZE];
    checkout_of(v, id, 1, co, sizeof(co));
    switch (setup) {
    case AT_PENDING:
        break;
    case AT_PENDING_SECOND:
        assert_int_equal(deliver(v, co, "1032", "", 0), CONSTRA_OK);
        assert_int_equal(constra_intent_retry(v->h, id, &in, T_ERR), CONSTRA_OK);
        constra_intent_free(in);
        break;
    case AT_RECOVERY_TIMEOUT:
        clock_ms += 60001;
        assert_int_equal(constra_tick(v->h, clock_ms, T_ERR), CONSTRA_OK);
        break;
    case AT_RECOVERY_1032:
        assert_int_equal(deliver(v, co, "1032", "", 0), CONSTRA_OK);
        break;
    case AT_RECOVERY_1037:
        assert_int_equal(deliver(v, co, "1037", "", 0), CONSTRA_OK);
        break;
    case AT_FAILED:
        for (int n = 1; n <= 3; n++) {
            checkout_of(v, id, n, co, sizeof(co));
            assert_int_equal(deliver(v, co, "1032", "", 0), CONSTRA_OK);
            if (n < 3) {
                assert_int_equal(constra_intent_retry(v->h, id, &in, T_ERR), CONSTRA_OK);
                constra_intent_free(in);
            }
        }
        break;
    case AT_CANCELLED:
        assert_int_equal(constra_intent_cancel(v->h, id, &in, T_ERR), CONSTRA_OK);
        constra_intent_free(in);
        break;
    case AT_SUCCEEDED:
        assert_int_equal(deliver(v, co, "0", "RA00000001", 1250), CONSTRA_OK);
        break;
    case AT_REVIEW:
        assert_int_equal(deliver(v, co, "777777", "", 0), CONSTRA_OK);
        break;
    default:
        fail();
    }
}

static void test_result_rules_table(void **state)
{
    (void)state;
    static const char *const setups[] = {"pending", "pending_second", "recovery_timeout",
                                         "recovery_1032", "recovery_1037", "failed",
                                         "cancelled", "succeeded", "review"};
    /* attempt: 0 = the current one, 1 = attempt 1 (superseded where the
     * intent has more). receipt "" = none; "RA00000001" repeats the
     * receipt AT_SUCCEEDED recorded. */
    static const struct {
        int setup;
        int attempt;
        const char *code, *receipt;
        int64_t amount;
        int status;
        const char *reason;     /* recovery.reason after ("" = none) */
        const char *receipts;   /* every receipt on the intent after */
        const char *event;      /* the last event */
        const char *event_reason;
    } rows[] = {
        /* pending: the current attempt decides */
        {AT_PENDING, 0, "0", "RB00000001", 1250, CONSTRA_INTENT_SUCCEEDED, "", "RB00000001",
         "payment_intent.succeeded", "paid"},
        {AT_PENDING, 0, "0", "", 1250, CONSTRA_INTENT_REVIEW_REQUIRED, "success_without_receipt",
         "", "payment_intent.review_required", "success_without_receipt"},
        {AT_PENDING, 0, "0", "RB00000002", 1, CONSTRA_INTENT_REVIEW_REQUIRED, "amount_mismatch",
         "RB00000002", "payment_intent.review_required", "amount_mismatch"},
        {AT_PENDING, 0, "1032", "", 0, CONSTRA_INTENT_REQUIRES_RECOVERY, "recoverable_result", "",
         "payment_intent.requires_recovery", "recoverable_result"},
        /* pending on attempt 2: the superseded attempt 1 still counts */
        {AT_PENDING_SECOND, 1, "0", "RB00000003", 1250, CONSTRA_INTENT_SUCCEEDED, "",
         "RB00000003", "payment_intent.succeeded", "earlier_attempt_paid"},
        {AT_PENDING_SECOND, 0, "0", "RB00000004", 1250, CONSTRA_INTENT_SUCCEEDED, "",
         "RB00000004", "payment_intent.succeeded", "paid"},
        {AT_PENDING_SECOND, 1, "1032", "", 0, CONSTRA_INTENT_PENDING_USER_ACTION, "", "",
         "payment_intent.callback_duplicate", "duplicate_result"},
        {AT_PENDING_SECOND, 1, "1037", "", 0, CONSTRA_INTENT_PENDING_USER_ACTION, "", "",
         "payment_intent.callback_duplicate", "duplicate_result"},
        /* recovery: a late success goes to a person, never lost */
        {AT_RECOVERY_TIMEOUT, 0, "0", "RB00000005", 1250, CONSTRA_INTENT_REVIEW_REQUIRED,
         "late_success", "RB00000005", "payment_intent.review_required", "late_success"},
        {AT_RECOVERY_TIMEOUT, 0, "1032", "", 0, CONSTRA_INTENT_REQUIRES_RECOVERY, "timeout", "",
         "payment_intent.note_added", "late_result"},
        {AT_RECOVERY_1032, 0, "0", "RB00000006", 1250, CONSTRA_INTENT_REVIEW_REQUIRED,
         "late_success", "RB00000006", "payment_intent.review_required", "late_success"},
        {AT_RECOVERY_1032, 0, "1032", "", 0, CONSTRA_INTENT_REQUIRES_RECOVERY,
         "recoverable_result", "", "payment_intent.callback_duplicate", "duplicate_result"},
        {AT_RECOVERY_1037, 0, "0", "RB00000007", 1250, CONSTRA_INTENT_REVIEW_REQUIRED,
         "late_success", "RB00000007", "payment_intent.review_required", "late_success"},
        {AT_RECOVERY_1037, 0, "0", "", 1250, CONSTRA_INTENT_REVIEW_REQUIRED,
         "success_without_receipt", "", "payment_intent.review_required",
         "success_without_receipt"},
        /* closed: money arriving anyway is reviewed */
        {AT_FAILED, 0, "0", "RB00000008", 1250, CONSTRA_INTENT_REVIEW_REQUIRED, "late_success",
         "RB00000008", "payment_intent.review_required", "late_success"},
        {AT_FAILED, 1, "0", "RB00000009", 1250, CONSTRA_INTENT_REVIEW_REQUIRED, "late_success",
         "RB00000009", "payment_intent.review_required", "late_success"},
        {AT_FAILED, 1, "1032", "", 0, CONSTRA_INTENT_FAILED, "retries_exhausted", "",
         "payment_intent.callback_duplicate", "duplicate_result"},
        {AT_CANCELLED, 0, "0", "RB00000010", 1250, CONSTRA_INTENT_REVIEW_REQUIRED, "late_success",
         "RB00000010", "payment_intent.review_required", "late_success"},
        {AT_CANCELLED, 0, "1032", "", 0, CONSTRA_INTENT_CANCELLED, "operator_cancelled", "",
         "payment_intent.note_added", "late_result"},
        /* paid: the same receipt is a duplicate, another one a second payment */
        {AT_SUCCEEDED, 0, "0", "RA00000001", 1250, CONSTRA_INTENT_SUCCEEDED, "", "RA00000001",
         "payment_intent.callback_duplicate", "duplicate_result"},
        {AT_SUCCEEDED, 0, "0", "", 1250, CONSTRA_INTENT_SUCCEEDED, "", "RA00000001",
         "payment_intent.callback_duplicate", "duplicate_result"},
        {AT_SUCCEEDED, 0, "0", "RB00000011", 1250, CONSTRA_INTENT_REVIEW_REQUIRED, "paid_twice",
         "RA00000001,RB00000011", "payment_intent.review_required", "paid_twice"},
        {AT_SUCCEEDED, 0, "1032", "", 0, CONSTRA_INTENT_SUCCEEDED, "", "RA00000001",
         "payment_intent.note_added", "late_result"},
        /* review: news is kept for the person deciding */
        {AT_REVIEW, 0, "0", "RB00000012", 1250, CONSTRA_INTENT_REVIEW_REQUIRED,
         "ambiguous_result", "RB00000012", "payment_intent.note_added", "result_during_review"},
        {AT_REVIEW, 0, "1032", "", 0, CONSTRA_INTENT_REVIEW_REQUIRED, "ambiguous_result", "",
         "payment_intent.callback_duplicate", "duplicate_result"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        env *v = open_env(3);
        char id[CONSTRA_ID_SIZE], key[32], co[CONSTRA_RAIL_ID_SIZE];
        snprintf(key, sizeof(key), "rule-%zu", i);
        reach(v, rows[i].setup, key, id);
        view before = look(v, id);
        int pushes = v->rail.collects;
        constra_intent *in = NULL;
        assert_int_equal(constra_intent_get(v->h, id, &in, T_ERR), CONSTRA_OK);
        int n = rows[i].attempt ? rows[i].attempt : constra_intent_attempts_used(in);
        constra_intent_free(in);
        checkout_of(v, id, n, co, sizeof(co));
        int rc = deliver(v, co, rows[i].code, rows[i].receipt, rows[i].amount);
        view after = look(v, id);
        if (rc != CONSTRA_OK || after.status != rows[i].status ||
            strcmp(after.reason, rows[i].reason) != 0 ||
            strcmp(after.receipts, rows[i].receipts) != 0 ||
            strcmp(after.last_event, rows[i].event) != 0 ||
            strcmp(after.last_event_reason, rows[i].event_reason) != 0 ||
            after.events != before.events + 1) {
            fail_msg("row %zu (%s, attempt %d, code %s, receipt '%s'): rc %d, status %s, reason "
                     "'%s', receipts '%s', event %s/%s, %d events (before %d)",
                     i, setups[rows[i].setup], n, rows[i].code, rows[i].receipt, rc,
                     constra_intent_status_name(after.status), after.reason, after.receipts,
                     after.last_event, after.last_event_reason, after.events, before.events);
        }
        /* No result ever sends a push; in review a retry is refused. */
        assert_int_equal(v->rail.collects, pushes);
        if (after.status == CONSTRA_INTENT_REVIEW_REQUIRED) {
            assert_int_equal(constra_intent_retry(v->h, id, &in, T_ERR), CONSTRA_E_INVALID_STATE);
            assert_int_equal(constra_intent_cancel(v->h, id, &in, T_ERR),
                             CONSTRA_E_INVALID_STATE);
            clock_ms += 600000;
            assert_int_equal(constra_tick(v->h, clock_ms, T_ERR), CONSTRA_OK);
            assert_int_equal(v->rail.collects, pushes);
            assert_int_equal(status_of(v, id), CONSTRA_INTENT_REVIEW_REQUIRED);
        }
        /* The same callback once more changes nothing but the timeline. */
        rc = deliver(v, co, rows[i].code, rows[i].receipt, rows[i].amount);
        view again = look(v, id);
        assert_int_equal(rc, CONSTRA_OK);
        assert_int_equal(again.status, after.status);
        assert_string_equal(again.receipts, after.receipts);
        if (strcmp(again.last_event, "payment_intent.callback_duplicate") != 0 &&
            strcmp(again.last_event, "payment_intent.note_added") != 0) {
            fail_msg("row %zu: a repeat wrote %s", i, again.last_event);
        }
        close_env(v);
    }
}

/* The scenarios of issue 11, end to end through the engine. */
static void test_late_and_double_payments(void **state)
{
    (void)state;
    env *v = open_env(3);
    char id[CONSTRA_ID_SIZE], co1[CONSTRA_RAIL_ID_SIZE], co2[CONSTRA_RAIL_ID_SIZE];
    constra_intent *in = NULL;

    /* (a) time-out -> recovery -> the genuine success: review with the
     * receipt; the operator's retry is refused, no second push. */
    reach(v, AT_RECOVERY_TIMEOUT, "late-a", id);
    checkout_of(v, id, 1, co1, sizeof(co1));
    assert_int_equal(deliver(v, co1, "0", "QKA1111111", 1250), CONSTRA_OK);
    assert_int_equal(constra_intent_retry(v->h, id, &in, T_ERR), CONSTRA_E_INVALID_STATE);
    assert_int_equal(constra_intent_get(v->h, id, &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_REVIEW_REQUIRED);
    assert_string_equal(constra_intent_receipt(in), "QKA1111111");
    assert_non_null(strstr(constra_intent_agent_note(in), "QKA1111111"));
    assert_non_null(strstr(constra_intent_agent_note(in), "Do not charge again"));
    constra_intent_free(in);
    assert_int_equal(v->rail.collects, 1);

    /* (b) 1032 on attempt 1 -> retry -> success on attempt 1 -> success
     * on attempt 2: both receipts kept, paid twice, a person refunds. */
    reach(v, AT_PENDING_SECOND, "late-b", id);
    checkout_of(v, id, 1, co1, sizeof(co1));
    checkout_of(v, id, 2, co2, sizeof(co2));
    assert_int_equal(deliver(v, co1, "0", "QKB1111111", 1250), CONSTRA_OK);
    assert_int_equal(status_of(v, id), CONSTRA_INTENT_SUCCEEDED);
    assert_int_equal(deliver(v, co2, "0", "QKB2222222", 1250), CONSTRA_OK);
    view s = look(v, id);
    assert_int_equal(s.status, CONSTRA_INTENT_REVIEW_REQUIRED);
    assert_string_equal(s.reason, "paid_twice");
    assert_string_equal(s.receipts, "QKB1111111,QKB2222222");
    assert_int_equal(constra_intent_get(v->h, id, &in, T_ERR), CONSTRA_OK);
    assert_non_null(strstr(constra_intent_agent_note(in), "Refund"));
    constra_intent_free(in);
    /* Resolved by the operator: honoured, one refund done outside. */
    assert_int_equal(constra_intent_resolve(v->h, id, 1, "QKB1111111", "refunded QKB2222222",
                                            &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_SUCCEEDED);
    constra_intent_free(in);

    /* (c) auto_retry and 1037: no re-push until the rail says the prompt
     * is settled; the simulator answers the query once the 1037 is in. */
    constra_intent_params p = seed_params("254711000002"); /* 1037 after 3 s */
    p.agent_policy = CONSTRA_AGENT_AUTO_RETRY;
    assert_int_equal(constra_intent_create(v->h, &p, "late-c", &in, T_ERR), CONSTRA_OK);
    strcpy(id, constra_intent_id(in));
    constra_intent_free(in);
    int pushes = v->rail.collects;
    clock_ms += 3000;
    assert_int_equal(constra_tick(v->h, clock_ms, T_ERR), CONSTRA_OK); /* 1037 arrives */
    assert_int_equal(status_of(v, id), CONSTRA_INTENT_PENDING_USER_ACTION);
    assert_int_equal(v->rail.collects, pushes + 1); /* re-pushed after the query said 1037 */
    constra_intent *again = NULL;
    assert_int_equal(constra_intent_get(v->h, id, &again, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_attempts_used(again), 2);
    constra_intent_free(again);

    close_env(v);

    /* (d) auto_retry after a time-out: the prompt may still be paid and the
     * simulator cannot settle it, so nothing is re-sent by itself. */
    v = open_env(3);
    p = seed_params("254712345670");
    p.agent_policy = CONSTRA_AGENT_AUTO_RETRY;
    assert_int_equal(constra_intent_create(v->h, &p, "late-d", &in, T_ERR), CONSTRA_OK);
    strcpy(id, constra_intent_id(in));
    constra_intent_free(in);
    pushes = v->rail.collects;
    for (int i = 0; i < 10; i++) {
        clock_ms += 30000;
        assert_int_equal(constra_tick(v->h, clock_ms, T_ERR), CONSTRA_OK);
    }
    assert_int_equal(status_of(v, id), CONSTRA_INTENT_REQUIRES_RECOVERY);
    assert_int_equal(v->rail.collects, pushes);
    /* ...and the success that then arrives is honoured by a person. */
    checkout_of(v, id, 1, co1, sizeof(co1));
    assert_int_equal(deliver(v, co1, "0", "QKD1111111", 1250), CONSTRA_OK);
    assert_int_equal(status_of(v, id), CONSTRA_INTENT_REVIEW_REQUIRED);
    close_env(v);
}

static int copy_found_id(void *ctx, const constra__res_intent *row)
{
    snprintf(ctx, CONSTRA_ID_SIZE, "%s", row->id);
    return 1;
}

static int count_event(void *ctx, const constra__res_event *ev)
{
    (void)ev;
    (*(size_t *)ctx)++;
    return 0;
}

/* Every event in the storage, unmatched callbacks included. */
static size_t all_events(env *v)
{
    size_t n = 0;
    assert_int_equal(v->h->storage.list_events(v->h->storage.user_data, NULL, 0, 100000,
                                               count_event, &n),
                     CONSTRA_OK);
    return n;
}

/* Callbacks without the workspace's token: refused, nothing stored. */
static void test_forged_callbacks_store_nothing(void **state)
{
    (void)state;
    env *v = open_env(3);
    char id[CONSTRA_ID_SIZE], co[CONSTRA_RAIL_ID_SIZE];
    reach(v, AT_PENDING, "forged", id);
    checkout_of(v, id, 1, co, sizeof(co));
    char body[512];
    snprintf(body, sizeof(body),
             "{\"Body\":{\"stkCallback\":{\"MerchantRequestID\":\"m\",\"CheckoutRequestID\":"
             "\"%s\",\"ResultCode\":0,\"ResultDesc\":\"x\"}}}",
             co);
    size_t events_before = all_events(v);
    char token[65];
    assert_int_equal(constra_callback_token(v->h, token, sizeof(token), T_ERR), CONSTRA_OK);
    char wrong[80], prefix[80], longer[80], other[80];
    int cut = (int)strlen(token) - 1;
    snprintf(wrong, sizeof(wrong), "token=%.*sX", cut, token);
    snprintf(prefix, sizeof(prefix), "token=%.*s", cut, token);
    snprintf(longer, sizeof(longer), "token=%sX", token);
    snprintf(other, sizeof(other), "tokenx=%s", token);
    const char *const queries[] = {NULL, "", "token=", wrong, prefix, longer, other,
                                   "token=s3cret"};
    for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
        const char *q = queries[i];
        int rc = constra_handle_mpesa_callback(v->h, q, q ? strlen(q) : 0, body, strlen(body),
                                               T_ERR);
        if (rc != CONSTRA_E_AUTH) {
            fail_msg("query %zu '%s' accepted (rc %d)", i, q ? q : "(null)", rc);
        }
        assert_int_equal(t_last_error().http_status, 401);
        /* An unknown checkout id with a wrong token: not kept either. */
        char guess[512];
        snprintf(guess, sizeof(guess),
                 "{\"Body\":{\"stkCallback\":{\"MerchantRequestID\":\"m\",\"CheckoutRequestID\":"
                 "\"ws_CO_guess%zu\",\"ResultCode\":0,\"ResultDesc\":\"x\"}}}",
                 i);
        assert_int_equal(constra_handle_mpesa_callback(v->h, q, q ? strlen(q) : 0, guess,
                                                       strlen(guess), T_ERR),
                         CONSTRA_E_AUTH);
    }
    assert_int_equal(status_of(v, id), CONSTRA_INTENT_PENDING_USER_ACTION);
    assert_int_equal(all_events(v), events_before);
    /* The right token, a success without a receipt: still no success. */
    char q[80];
    int qn = snprintf(q, sizeof(q), "token=%s", token);
    assert_int_equal(constra_handle_mpesa_callback(v->h, q, (size_t)qn, body, strlen(body), T_ERR),
                     CONSTRA_OK);
    view s = look(v, id);
    assert_int_equal(s.status, CONSTRA_INTENT_REVIEW_REQUIRED);
    assert_string_equal(s.reason, "success_without_receipt");
    close_env(v);
}

/* Authenticated callbacks for unknown checkout ids are kept for
 * reconciliation, at most CONSTRA_UNMATCHED_CALLBACKS_PER_HOUR an hour;
 * a SQLite storage drops them after the retention. */
static void test_unmatched_callbacks_bounded(void **state)
{
    (void)state;
    env *v = open_env(3);
    size_t base = all_events(v);
    for (int i = 0; i < CONSTRA_UNMATCHED_CALLBACKS_PER_HOUR + 5; i++) {
        char co[48];
        snprintf(co, sizeof(co), "ws_CO_unknown_%d", i);
        assert_int_equal(deliver(v, co, "1032", "", 0), CONSTRA_OK);
    }
    assert_int_equal(all_events(v), base + CONSTRA_UNMATCHED_CALLBACKS_PER_HOUR);
    assert_int_equal(v->h->unmatched_dropped, 5);
    clock_ms += 3600000; /* a new hour: kept again */
    assert_int_equal(deliver(v, "ws_CO_unknown_next_hour", "1032", "", 0), CONSTRA_OK);
    assert_int_equal(all_events(v), base + CONSTRA_UNMATCHED_CALLBACKS_PER_HOUR + 1);
    if (v->db_path[0] != '\0') {
        /* SQLite: gone after the retention, intent events untouched. */
        char id[CONSTRA_ID_SIZE];
        reach(v, AT_PENDING, "kept", id);
        size_t with_intent = all_events(v);
        assert_int_equal(v->h->storage.purge_expired(v->h->storage.user_data,
                                                     clock_ms - 3600000 +
                                                         CONSTRA_UNMATCHED_RETENTION_MS),
                         CONSTRA_OK);
        assert_int_equal(all_events(v), with_intent - CONSTRA_UNMATCHED_CALLBACKS_PER_HOUR);
        assert_int_equal(v->h->storage.purge_expired(v->h->storage.user_data,
                                                     clock_ms + 1 +
                                                         CONSTRA_UNMATCHED_RETENTION_MS),
                         CONSTRA_OK);
        assert_int_equal(all_events(v),
                         with_intent - CONSTRA_UNMATCHED_CALLBACKS_PER_HOUR - 1);
        assert_int_equal(status_of(v, id), CONSTRA_INTENT_PENDING_USER_ACTION);
    }
    close_env(v);
}

/* A 0.1 SQLite file (tests/storage/fixtures): opened by this version, its
 * intents are all there and every attempt's checkout id finds its intent,
 * including the superseded one 0.1 stopped indexing. A late success for it
 * is reviewed, not lost. */
static void test_v01_file_late_success_on_old_attempt(void **state)
{
    (void)state;
    if (!constra_feature_enabled("sqlite")) {
        fail_msg("this build has no SQLite: the 0.1 file cannot be checked");
    }
    const char *vec = getenv("CONSTRA_VECTORS");
    assert_non_null(vec);
    char src[512], path[64];
    snprintf(src, sizeof(src), "%s/../storage/fixtures/v01.db", vec);
    snprintf(path, sizeof(path), "/tmp/constra-v01-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *in_f = fopen(src, "rb");
    assert_non_null(in_f);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in_f)) > 0) {
        assert_int_equal(write(fd, buf, n), (ssize_t)n);
    }
    fclose(in_f);
    close(fd);

    constra_sqlite_options o = CONSTRA_SQLITE_OPTIONS_INIT;
    o.path = path;
    constra_storage st = CONSTRA_STORAGE_INIT;
    assert_int_equal(constra_storage_sqlite(&st, NULL, &o, T_ERR), CONSTRA_OK);
    constra_config cfg = CONSTRA_CONFIG_INIT;
    cfg.storage = &st;
    cfg.callback_token = "engine-test-callback-token";
    env v;
    memset(&v, 0, sizeof(v));
    assert_int_equal(constra_open(&v.h, &cfg, T_ERR), CONSTRA_OK);
    static const struct {
        const char *checkout, *id;
    } known[] = {
        {"ws_CO_010120260300000007123456781", "pi_01kdvdna00p9z6ng9yjb72azr9"},
        {"ws_CO_010120260300010007083741492", "pi_01kdvdnaz804jgexm6mhp63e90"},
        {"ws_CO_010120260300020007110000033", "pi_01kdvdnbyg2ctsappa597aehef"},
        {"ws_CO_010120260300100007110000035", "pi_01kdvdnbyg2ctsappa597aehef"},
        {"ws_CO_010120260300040007123456704", "pi_01kdvdndx0abrkhqm6fn7j2kp0"},
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        char got[CONSTRA_ID_SIZE] = "";
        assert_int_equal(v.h->storage.find_by_checkout(v.h->storage.user_data, known[i].checkout,
                                                       copy_found_id, got),
                         CONSTRA_OK);
        assert_string_equal(got, known[i].id);
    }
    assert_int_equal(status_of(&v, "pi_01kdvdnbyg2ctsappa597aehef"),
                     CONSTRA_INTENT_REQUIRES_RECOVERY);
    /* The first, superseded attempt of fx-recovery turns out paid. */
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"Body\":{\"stkCallback\":{\"MerchantRequestID\":\"m-1\",\"CheckoutRequestID\":"
             "\"ws_CO_010120260300020007110000033\",\"ResultCode\":0,\"ResultDesc\":\"ok\","
             "\"CallbackMetadata\":{\"Item\":[{\"Name\":\"MpesaReceiptNumber\",\"Value\":"
             "\"UA1OLDPAID\"},{\"Name\":\"TransactionDate\",\"Value\":20260101030100}]}}}}");
    const char *q = "token=engine-test-callback-token";
    assert_int_equal(constra_handle_mpesa_callback(v.h, q, strlen(q), body, strlen(body), T_ERR),
                     CONSTRA_OK);
    view s = look(&v, "pi_01kdvdnbyg2ctsappa597aehef");
    assert_int_equal(s.status, CONSTRA_INTENT_REVIEW_REQUIRED);
    assert_string_equal(s.reason, "late_success");
    assert_string_equal(s.receipts, "UA1OLDPAID");
    /* The 0.1 receipt of fx-succeeded reads back as its receipts list. */
    s = look(&v, "pi_01kdvdnaz804jgexm6mhp63e90");
    assert_string_equal(s.receipts, "UA13UYXIZQ");
    constra_close(v.h);
    remove_db(path);
}

static void test_drafts(void **state)
{
    (void)state;
    env *v = open_env(0);
    constra_intent_params p = seed_params("0712 345 678");
    p.draft = 1;
    constra_intent *in = NULL;
    assert_int_equal(constra_intent_create(v->h, &p, "draft-1", &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_DRAFT);
    assert_string_equal(constra_intent_provider_action_state(in), "not_sent");
    assert_string_equal(constra_intent_next_action(in), "confirm");
    char id[CONSTRA_ID_SIZE];
    strcpy(id, constra_intent_id(in));
    constra_intent_free(in);
    assert_int_equal(v->rail.collects, 0); /* a draft never calls the rail */
    assert_int_equal(constra_intent_retry(v->h, id, &in, T_ERR), CONSTRA_E_INVALID_STATE);
    assert_int_equal(constra_intent_simulate_callback(v->h, id, "0", NULL, &in, T_ERR),
                     CONSTRA_E_INVALID_STATE);
    assert_int_equal(constra_intent_confirm(v->h, id, &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_PENDING_USER_ACTION);
    constra_intent_free(in);
    assert_int_equal(v->rail.collects, 1);
    assert_int_equal(constra_intent_confirm(v->h, id, &in, T_ERR), CONSTRA_E_INVALID_STATE);
    close_env(v);
}

static void test_auto_retry_policy(void **state)
{
    (void)state;
    env *v = open_env(3);
    constra_intent_params p = seed_params("254711000003"); /* always cancels */
    p.agent_policy = CONSTRA_AGENT_AUTO_RETRY;
    constra_intent *in = NULL;
    assert_int_equal(constra_intent_create(v->h, &p, "auto-1", &in, T_ERR), CONSTRA_OK);
    char id[CONSTRA_ID_SIZE];
    strcpy(id, constra_intent_id(in));
    constra_intent_free(in);
    for (int i = 0; i < 6; i++) {
        clock_ms += 3000;
        assert_int_equal(constra_tick(v->h, clock_ms, T_ERR), CONSTRA_OK);
    }
    assert_int_equal(constra_intent_get(v->h, id, &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_FAILED); /* bounded */
    assert_int_equal(constra_intent_attempts_used(in), 3);
    constra_intent_free(in);
    assert_int_equal(v->rail.collects, 3);
    close_env(v);
}

static void test_list_filters(void **state)
{
    (void)state;
    env *v = open_env(0);
    for (int i = 0; i < 25; i++) {
        char key[32];
        snprintf(key, sizeof(key), "list-%d", i);
        constra_intent_params p = seed_params("254712345678");
        p.reference = i % 5 == 0 ? "order_five" : "order_other";
        p.draft = i % 2;
        constra_intent *in = NULL;
        clock_ms += 10;
        assert_int_equal(constra_intent_create(v->h, &p, key, &in, T_ERR), CONSTRA_OK);
        constra_intent_free(in);
    }
    constra_intent_list_params lp = CONSTRA_INTENT_LIST_PARAMS_INIT;
    lp.limit = 10;
    constra_intent_list *l = NULL;
    int seen = 0;
    char cursor[CONSTRA_ID_SIZE] = "";
    int64_t prev_created = INT64_MAX;
    for (;;) {
        lp.starting_after = cursor[0] ? cursor : NULL;
        assert_int_equal(constra_intent_list_get(v->h, &lp, &l, T_ERR), CONSTRA_OK);
        for (size_t i = 0; i < constra_intent_list_count(l); i++) {
            int64_t c = constra_intent_created_at_ms(constra_intent_list_at(l, i));
            assert_true(c < prev_created); /* newest first */
            prev_created = c;
            seen++;
        }
        int more = constra_intent_list_has_more(l);
        if (constra_intent_list_count(l)) {
            strcpy(cursor, constra_intent_id(
                               constra_intent_list_at(l, constra_intent_list_count(l) - 1)));
        }
        constra_intent_list_free(l);
        if (!more) {
            break;
        }
    }
    assert_int_equal(seen, 25);
    lp = (constra_intent_list_params)CONSTRA_INTENT_LIST_PARAMS_INIT;
    lp.status = CONSTRA_INTENT_DRAFT;
    lp.limit = 100;
    assert_int_equal(constra_intent_list_get(v->h, &lp, &l, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_list_count(l), 12);
    assert_non_null(strstr(constra_intent_list_json(l, NULL), "\"has_more\":false"));
    constra_intent_list_free(l);
    lp.status = 0;
    lp.reference = "order_five";
    assert_int_equal(constra_intent_list_get(v->h, &lp, &l, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_list_count(l), 5);
    constra_intent_list_free(l);
    lp.limit = 101;
    assert_int_equal(constra_intent_list_get(v->h, &lp, &l, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    lp.limit = 10;
    lp.status = 42;
    assert_int_equal(constra_intent_list_get(v->h, &lp, &l, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    close_env(v);
}

/* ---- bad input ------------------------------------------------------------------- */

typedef struct bad_case {
    const char *what;
    int64_t amount;
    const char *currency;
    const char *phone;
    const char *key;
    const char *param;
} bad_case;

/* ---- the idempotency lease --------------------------------------------------------- */

#define LEASE_MS INT64_C(60000) /* the default */

static size_t intent_count(env *v)
{
    long fail_at = v->faults.fail_at;
    v->faults.fail_at = 0;
    constra_intent_list *l = NULL;
    assert_int_equal(constra_intent_list_get(v->h, NULL, &l, T_ERR), CONSTRA_OK);
    size_t n = constra_intent_list_count(l);
    constra_intent_list_free(l);
    v->faults.fail_at = fail_at;
    return n;
}

/* Creates the seed request under `key`; on success copies out id, JSON
 * and the replayed flag. */
typedef struct answer {
    int rc;
    char code[64];
    char id[CONSTRA_ID_SIZE];
    char json[4096];
    size_t json_len;
    int replayed;
    int status;
    char state[32];
} answer;

static answer create_seed(env *v, const char *key)
{
    answer a;
    memset(&a, 0, sizeof(a));
    constra_intent_params p = seed_params("254712345678");
    constra_intent *in = NULL;
    a.rc = constra_intent_create(v->h, &p, key, &in, T_ERR);
    if (a.rc == CONSTRA_OK) {
        strcpy(a.id, constra_intent_id(in));
        const char *j = constra_intent_json(in, &a.json_len);
        assert_true(a.json_len < sizeof(a.json));
        memcpy(a.json, j, a.json_len);
        a.replayed = constra_intent_replayed(in);
        a.status = constra_intent_status(in);
        snprintf(a.state, sizeof(a.state), "%s", constra_intent_provider_action_state(in));
        constra_intent_free(in);
    } else {
        assert_null(in);
        snprintf(a.code, sizeof(a.code), "%s", t_last_error().code);
    }
    return a;
}

/* A replay: the same intent, the same bytes as `first`. */
static void expect_replay_of(const answer *got, const answer *first)
{
    assert_int_equal(got->rc, CONSTRA_OK);
    assert_int_equal(got->replayed, 1);
    assert_string_equal(got->id, first->id);
    assert_int_equal(got->json_len, first->json_len);
    assert_memory_equal(got->json, first->json, first->json_len);
}

static void expect_in_flight(env *v, const char *key)
{
    answer a = create_seed(v, key);
    assert_int_equal(a.rc, CONSTRA_E_CONFLICT);
    assert_string_equal(a.code, "idempotent_request_in_flight");
}

static int grab_fingerprint(void *ctx, const constra__res_idempotency *r)
{
    snprintf(ctx, 65, "%s", r->fingerprint);
    return 0;
}

/* What a process killed between reserving `key` for create_seed's request
 * and its first commit left: the reservation alone, unlinked, with the
 * engine's lease marker. The engine itself reserves a fresh key in its
 * first commit since storage 2, so only an older one (or the fallback
 * path for a key that had a record) leaves this; the fingerprint comes
 * from the same request run on a storage of its own. */
static void abandon_reservation(env *v, const char *key)
{
    char fp[65] = "";
    env *probe = open_env(0);
    answer p = create_seed(probe, "fp-probe");
    assert_int_equal(p.rc, CONSTRA_OK);
    constra__res_idempotency any = {sizeof(any), "fp-probe", "x", CONSTRA__IDEM_IN_FLIGHT, 0,
                                    NULL, 0, clock_ms, clock_ms + 1, clock_ms + 2};
    assert_int_equal(probe->h->storage.idempotency_reserve(probe->h->storage.user_data, &any,
                                                           clock_ms, grab_fingerprint, fp),
                     CONSTRA_E_CONFLICT);
    close_env(probe);
    int64_t retention = INT64_C(86400000);
    constra__res_idempotency rec = {sizeof(rec), key, fp, CONSTRA__IDEM_IN_FLIGHT, 201, NULL, 0,
                                    clock_ms, clock_ms + retention, clock_ms + retention + 1};
    assert_int_equal(v->h->storage.idempotency_reserve(v->h->storage.user_data, &rec, clock_ms,
                                                       NULL, NULL),
                     CONSTRA_OK);
}

/* (a0) The first commit of a create reserves its key, inserts the intent
 * and records the attempt as sending, in one write: when it fails,
 * nothing at all is stored, so a retry runs at once (no lease to wait
 * out): one intent, one push. */
static void test_failed_first_commit_leaves_nothing(void **state)
{
    (void)state;
    env *v = open_env(0);
    v->faults.commits_only = 1;
    v->faults.calls = 0;
    v->faults.fail_at = 1;
    answer a = create_seed(v, "crash-0");
    assert_int_equal(a.rc, CONSTRA_E_STORAGE);
    assert_int_equal(v->faults.failures, 1);
    assert_int_equal(v->rail.collects, 0);
    assert_int_equal(intent_count(v), 0);
    v->faults.fail_at = 0;
    a = create_seed(v, "crash-0");
    assert_int_equal(a.rc, CONSTRA_OK);
    assert_int_equal(a.replayed, 0);
    assert_int_equal(v->rail.collects, 1);
    assert_int_equal(intent_count(v), 1);
    answer b = create_seed(v, "crash-0");
    expect_replay_of(&b, &a);
    close_env(v);
}

/* (a) Killed between the reservation and the first commit (an older
 * process, abandon_reservation): nothing was created. Within the lease
 * the key is in flight; from its end a retry runs afresh: one intent,
 * one push. */
static void test_lease_crash_after_reservation(void **state)
{
    (void)state;
    env *v = open_env(0);
    int64_t t0 = clock_ms;
    abandon_reservation(v, "crash-1");
    assert_int_equal(v->rail.collects, 0);
    expect_in_flight(v, "crash-1");
    clock_ms = t0 + LEASE_MS - 1;
    expect_in_flight(v, "crash-1");
    assert_int_equal(intent_count(v), 0);
    clock_ms = t0 + LEASE_MS;
    answer a = create_seed(v, "crash-1");
    assert_int_equal(a.rc, CONSTRA_OK);
    assert_int_equal(a.replayed, 0); /* a fresh run */
    assert_int_equal(a.status, CONSTRA_INTENT_PENDING_USER_ACTION);
    assert_int_equal(v->rail.collects, 1);
    assert_int_equal(intent_count(v), 1);
    /* From now on the key replays that run, byte for byte. */
    answer b = create_seed(v, "crash-1");
    expect_replay_of(&b, &a);
    /* The fresh run's lease is its own: a different request is still
     * refused as reused, never run. */
    constra_intent_params other = seed_params("254712345678");
    other.amount = 99;
    constra_intent *in = NULL;
    assert_int_equal(constra_intent_create(v->h, &other, "crash-1", &in, T_ERR),
                     CONSTRA_E_CONFLICT);
    assert_string_equal(t_last_error().code, "idempotency_key_reused");
    assert_int_equal(v->rail.collects, 1);
    close_env(v);
}

/* (b) Killed after the push, before its outcome was recorded (the outcome
 * commit fails, and anything after it): the intent exists, linked to the
 * key. Within the lease: in flight; after it: THAT intent, replayed, its
 * current state; never a second push, at any later time. */
static void test_lease_crash_after_first_commit(void **state)
{
    (void)state;
    env *v = open_env(0);
    v->faults.commits_only = 1;
    v->faults.calls = 0;
    v->faults.fail_at = 2; /* commit #1 (key, intent, sending) passes; #2 fails */
    v->faults.fail_count = 1000;             /* and everything after: killed */
    int64_t t0 = clock_ms;
    answer a = create_seed(v, "crash-2");
    assert_int_equal(a.rc, CONSTRA_E_STORAGE);
    assert_string_equal(a.code, "outcome_unrecorded");
    assert_int_equal(v->rail.collects, 1);
    v->faults.fail_at = 0;
    v->faults.fail_count = 0;
    assert_int_equal(intent_count(v), 1);
    expect_in_flight(v, "crash-2");
    clock_ms = t0 + LEASE_MS - 1;
    expect_in_flight(v, "crash-2");

    clock_ms = t0 + LEASE_MS;
    answer b = create_seed(v, "crash-2");
    assert_int_equal(b.rc, CONSTRA_OK);
    assert_int_equal(b.replayed, 1);
    assert_int_equal(b.status, CONSTRA_INTENT_PENDING_USER_ACTION);
    assert_string_equal(b.state, "sending"); /* as stored: the outcome was lost */
    assert_non_null(strstr(b.json, "\"status\":\"pending_user_action\""));
    assert_int_equal(v->rail.collects, 1);
    assert_int_equal(intent_count(v), 1);
    constra_intent_list *l = NULL;
    assert_int_equal(constra_intent_list_get(v->h, NULL, &l, T_ERR), CONSTRA_OK);
    assert_string_equal(constra_intent_id(constra_intent_list_at(l, 0)), b.id);
    constra_intent_list_free(l);

    /* The time-out sends the unknown outcome to review; the key keeps
     * answering the same bytes, its accessors the state now. */
    clock_ms += 61000;
    assert_int_equal(constra_tick(v->h, clock_ms, T_ERR), CONSTRA_OK);
    answer c = create_seed(v, "crash-2");
    expect_replay_of(&c, &b);
    assert_int_equal(c.status, CONSTRA_INTENT_REVIEW_REQUIRED);
    clock_ms += INT64_C(3600000);
    c = create_seed(v, "crash-2");
    assert_int_equal(c.rc, CONSTRA_OK);
    assert_string_equal(c.id, b.id);
    assert_int_equal(v->rail.collects, 1);
    assert_int_equal(intent_count(v), 1);
    close_env(v);
}

/* The owner is only slow: it outlives the lease during the rail call and
 * a retry answers with the intent meanwhile (completing the key). The
 * owner's outcome commit then cannot complete the key: it saves the
 * outcome alone, so the checkout id is never lost. */
static char slow_retry_id[CONSTRA_ID_SIZE];
static int slow_retry_rc;
static char slow_retry_state[32];

static void retry_after_lease(env *v)
{
    clock_ms += LEASE_MS;
    answer a = create_seed(v, "slow-1");
    slow_retry_rc = a.rc;
    strcpy(slow_retry_id, a.id);
    strcpy(slow_retry_state, a.state);
}

static void test_lease_slow_owner_keeps_its_outcome(void **state)
{
    (void)state;
    env *v = open_env(0);
    collect_hook = retry_after_lease;
    answer a = create_seed(v, "slow-1");
    assert_null(collect_hook);
    assert_int_equal(slow_retry_rc, CONSTRA_OK);
    assert_string_equal(slow_retry_state, "sending");
    assert_int_equal(a.rc, CONSTRA_OK);
    assert_string_equal(a.id, slow_retry_id);
    assert_string_equal(a.state, "sent_to_customer");
    assert_int_equal(v->rail.collects, 1);
    constra_intent *in = NULL;
    assert_int_equal(constra_intent_get(v->h, a.id, &in, T_ERR), CONSTRA_OK);
    assert_true(strncmp(constra_intent_checkout_request_id(in), "ws_CO_", 6) == 0);
    constra_intent_free(in);
    /* The key answers what the retry answered; the intent is current, and
     * its callback still lands. */
    answer b = create_seed(v, "slow-1");
    assert_int_equal(b.rc, CONSTRA_OK);
    assert_string_equal(b.id, a.id);
    assert_non_null(strstr(b.json, "\"state\":\"sending\""));
    assert_string_equal(b.state, "sent_to_customer");
    assert_int_equal(constra_intent_simulate_callback(v->h, a.id, "0", NULL, &in, T_ERR),
                     CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_SUCCEEDED);
    constra_intent_free(in);
    assert_int_equal(v->rail.collects, 1);
    close_env(v);
}

typedef struct racer {
    env *v;
    pthread_barrier_t *barrier;
    const char *key;
    answer a;
} racer;

static void *race_create(void *p)
{
    racer *r = p;
    pthread_barrier_wait(r->barrier);
    r->a = create_seed(r->v, r->key);
    return NULL;
}

/* Eight retries of one abandoned key at once, after the lease: unlinked
 * (nothing created) -> exactly one fresh run; linked -> all the same
 * intent. One push either way. */
static void test_lease_retries_race(void **state)
{
    (void)state;
    enum { N = 8 };
    for (int linked = 0; linked <= 1; linked++) {
        for (int round = 0; round < 10; round++) {
            env *v = open_env(0);
            if (linked) {
                v->faults.commits_only = 1;
                v->faults.calls = 0;
                v->faults.fail_at = 2; /* the outcome commit */
                v->faults.fail_count = 2;
                answer first = create_seed(v, "race-key");
                assert_int_not_equal(first.rc, CONSTRA_OK);
                v->faults.fail_at = 0;
            } else {
                abandon_reservation(v, "race-key");
            }
            int collects = v->rail.collects;
            assert_int_equal(collects, linked);
            clock_ms += LEASE_MS;
            pthread_t th[N];
            racer r[N];
            pthread_barrier_t barrier;
            pthread_barrier_init(&barrier, NULL, N);
            for (int i = 0; i < N; i++) {
                r[i] = (racer){v, &barrier, "race-key", {0}};
                pthread_create(&th[i], NULL, race_create, &r[i]);
            }
            const char *winner = NULL;
            int fresh = 0;
            for (int i = 0; i < N; i++) {
                pthread_join(th[i], NULL);
                if (r[i].a.rc == CONSTRA_OK) {
                    if (winner) {
                        assert_string_equal(winner, r[i].a.id);
                    }
                    winner = r[i].a.id;
                    fresh += !r[i].a.replayed;
                } else {
                    assert_int_equal(r[i].a.rc, CONSTRA_E_CONFLICT);
                    assert_string_equal(r[i].a.code, "idempotent_request_in_flight");
                    assert_int_equal(linked, 0); /* a link always has its answer */
                }
            }
            pthread_barrier_destroy(&barrier);
            if (winner == NULL) {
                for (int i = 0; i < N; i++) {
                    fprintf(stderr, "racer %d: rc %d code %s\n", i, r[i].a.rc, r[i].a.code);
                }
            }
            assert_non_null(winner);
            assert_int_equal(fresh, linked ? 0 : 1);
            assert_int_equal(v->rail.collects, 1);
            assert_int_equal(intent_count(v), 1);
            close_env(v);
        }
    }
}

/* A host storage written for 0.2 (the resource-specific table: struct
 * size, user data, 21 methods) is refused, never misread as this table:
 * its tail past the generic table is not zero. */
static int any_method(void)
{
    return CONSTRA_OK;
}

static void test_old_storage_table_refused(void **state)
{
    (void)state;
    struct {
        size_t struct_size;
        void *user_data;
        int (*methods[21])(void);
    } old;
    memset(&old, 0, sizeof(old));
    old.struct_size = sizeof(old);
    for (size_t i = 0; i < 21; i++) {
        old.methods[i] = any_method;
    }
    constra_config cfg = CONSTRA_CONFIG_INIT;
    cfg.storage = (const constra_storage *)(const void *)&old;
    constra_t *h = NULL;
    constra_error e = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_open(&h, &cfg, &e), CONSTRA_E_ABI);
    assert_null(h);
    assert_non_null(strstr(e.param, "storage"));
}

/* (d) The lease is configured on the handle: 0 is the default (60 s),
 * 1000 ms up to the retention; it is what the engine measures. */
static void test_lease_config(void **state)
{
    (void)state;
    static const struct {
        int64_t lease, retention;
        int rc;
    } cases[] = {
        {0, 0, CONSTRA_OK},
        {999, 0, CONSTRA_E_INVALID_ARGUMENT},
        {1000, 0, CONSTRA_OK},
        {-1, 0, CONSTRA_E_INVALID_ARGUMENT},
        {INT64_C(86400000), 0, CONSTRA_OK},
        {INT64_C(86400001), 0, CONSTRA_E_INVALID_ARGUMENT},
        {5000, 5000, CONSTRA_OK},
        {5001, 5000, CONSTRA_E_INVALID_ARGUMENT},
        {INT64_MAX, 0, CONSTRA_E_INVALID_ARGUMENT},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        constra_config cfg = CONSTRA_CONFIG_INIT;
        cfg.idempotency_lease_ms = cases[i].lease;
        cfg.idempotency_retention_ms = cases[i].retention;
        constra_t *h = NULL;
        constra_error err = CONSTRA_ERROR_INIT;
        int rc = constra_open(&h, &cfg, &err);
        if (rc != cases[i].rc) {
            fail_msg("lease %lld retention %lld: %d (%s)", (long long)cases[i].lease,
                     (long long)cases[i].retention, rc, err.message);
        }
        if (rc == CONSTRA_OK) {
            constra_close(h);
        } else {
            assert_null(h);
            assert_string_equal(err.param, "config.idempotency_lease_ms");
            assert_int_equal(err.http_status, 400);
        }
    }
    /* 1 s measured: 999 ms after the reservation still in flight, at 1 s
     * the abandoned key runs afresh. */
    env *v = open_env_lease(0, 1000);
    int64_t t0 = clock_ms;
    abandon_reservation(v, "short");
    clock_ms = t0 + 999;
    expect_in_flight(v, "short");
    clock_ms = t0 + 1000;
    answer a = create_seed(v, "short");
    assert_int_equal(a.rc, CONSTRA_OK);
    assert_int_equal(a.replayed, 0);
    assert_int_equal(v->rail.collects, 1);
    close_env(v);
}

static void test_bad_create_input_changes_nothing(void **state)
{
    (void)state;
    env *v = open_env(0);
    char long_text[400];
    memset(long_text, 'x', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    const bad_case cases[] = {
        {"zero amount", 0, "KES", "254712345678", "k1", "amount"},
        {"negative amount", -5, "KES", "254712345678", "k2", "amount"},
        {"huge amount", INT64_MAX, "KES", "254712345678", "k3", "amount"},
        {"over limit", 250001, "KES", "254712345678", "k4", "amount"},
        {"unknown currency", 10, "XYZ", "254712345678", "k5", "currency"},
        {"not KES", 10, "USD", "254712345678", "k6", "currency"},
        {"no currency", 10, NULL, "254712345678", "k7", "currency"},
        {"bad phone", 10, "KES", "12345", "k8", "phone_number"},
        {"no phone", 10, "KES", NULL, "k9", "phone_number"},
        {"bad key", 10, "KES", "254712345678", "bad key!", "idempotency_key"},
        {"empty key", 10, "KES", "254712345678", "", "idempotency_key"},
        {"no key", 10, "KES", "254712345678", NULL, "idempotency_key"},
        {"long key", 10, "KES", "254712345678", long_text, "idempotency_key"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        constra_intent_params p = seed_params(cases[i].phone);
        p.amount = cases[i].amount;
        p.currency = cases[i].currency;
        constra_intent *in = (constra_intent *)&p;
        int rc = constra_intent_create(v->h, &p, cases[i].key, &in, T_ERR);
        if (rc != CONSTRA_E_INVALID_ARGUMENT) {
            fail_msg("%s: rc %d", cases[i].what, rc);
        }
        assert_null(in);
        constra_error err = last(v);
        if (strcmp(err.param, cases[i].param) != 0) {
            fail_msg("%s: param '%s', want '%s'", cases[i].what, err.param, cases[i].param);
        }
        assert_int_equal(err.http_status, 400);
    }
    constra_intent_params p = seed_params("254712345678");
    p.description = long_text;
    constra_intent *in = NULL;
    assert_int_equal(constra_intent_create(v->h, &p, "k-desc", &in, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    p = seed_params("254712345678");
    p.customer_name = "Amina\nN.";
    assert_int_equal(constra_intent_create(v->h, &p, "k-ctl", &in, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    constra_intent_params zero;
    memset(&zero, 0, sizeof(zero));
    assert_int_equal(constra_intent_create(v->h, &zero, "k-abi", &in, T_ERR), CONSTRA_E_ABI);
    assert_int_equal(constra_intent_create(v->h, NULL, "k-null", &in, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_intent_create(NULL, &p, "k", &in, T_ERR), CONSTRA_E_INVALID_ARGUMENT);

    /* Unknown ids, malformed ids. */
    assert_int_equal(constra_intent_get(v->h, "pi_00000000000000000000000000", &in, T_ERR),
                     CONSTRA_E_NOT_FOUND);
    assert_int_equal(last(v).http_status, 404);
    /* Ids are opaque: a well-formed one that names nothing is not found,
     * one outside the id alphabet or too long is a bad argument. */
    assert_int_equal(constra_intent_get(v->h, "nonsense", &in, T_ERR), CONSTRA_E_NOT_FOUND);
    assert_int_equal(constra_intent_get(v->h, "pi_01hx9k7s4v3p9e7m5n2", &in, T_ERR),
                     CONSTRA_E_NOT_FOUND);
    assert_int_equal(constra_intent_get(v->h, "pi_../x", &in, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(last(v).code, "parameter_invalid");
    assert_string_equal(last(v).param, "id");
    assert_int_equal(constra_intent_get(v->h, "", &in, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_intent_get(v->h, "pi_0123456789012345678901234567890123456789x", &in,
                                        T_ERR),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_intent_cancel(v->h, NULL, &in, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    constra_event_list *ev = NULL;
    assert_int_equal(constra_event_list_get(v->h, "pi_00000000000000000000000000", &ev, T_ERR),
                     CONSTRA_E_NOT_FOUND);

    /* Nothing was stored and no rail was called. */
    constra_intent_list *l = NULL;
    assert_int_equal(constra_intent_list_get(v->h, NULL, &l, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_list_count(l), 0);
    constra_intent_list_free(l);
    assert_int_equal(v->rail.collects, 0);
    close_env(v);
}

/* ---- the tick's work: by the due index, bounded ------------------------------- */

static int count_row(void *ctx, const constra__res_intent *row)
{
    (void)row;
    (*(size_t *)ctx)++;
    return 0;
}

static size_t count_status(env *v, const char *status)
{
    size_t n = 0;
    constra__res_query q = {sizeof(q), status, NULL, 0, 0, NULL, 100000};
    assert_int_equal(v->h->storage.list_intents(v->h->storage.user_data, &q, count_row, &n),
                     CONSTRA_OK);
    return n;
}

/* 200 pending intents. Once the sweep has walked them (a page a second),
 * an idle tick reads the due index once and touches no intent; when all
 * time out at once, each tick handles one batch (64) and the next ticks
 * the rest: the work of a tick follows what is due, never what is stored,
 * and is bounded. */
static void test_tick_work_by_due_index_bounded(void **state)
{
    (void)state;
    env *v = open_env(0);
    enum { N = 200 };
    for (int i = 0; i < N; i++) {
        char key[32];
        snprintf(key, sizeof(key), "due-%d", i);
        assert_int_equal(create_seed(v, key).rc, CONSTRA_OK);
    }
    int64_t t0 = clock_ms;
    /* The sweep's walk: 4 pages of the 200 pending, one a second. */
    for (int i = 0; i < 6; i++) {
        assert_int_equal(constra_tick(v->h, t0 + 1000 * i, T_ERR), CONSTRA_OK);
    }
    assert_int_equal(count_status(v, "pending_user_action"), N);
    /* Idle: nothing due, the walk done: a handful of storage calls. */
    long before = v->faults.calls;
    assert_int_equal(constra_tick(v->h, t0 + 10000, T_ERR), CONSTRA_OK);
    long idle_calls = v->faults.calls - before;
    if (idle_calls > 3) {
        fail_msg("an idle tick with %d intents stored made %ld storage calls", N, idle_calls);
    }
    /* All due (60 s callback time-out): one batch per tick. */
    int64_t due = t0 + 61000;
    size_t pending = N;
    int ticks = 0;
    while (pending > 0) {
        before = v->faults.calls;
        assert_int_equal(constra_tick(v->h, due + ticks, T_ERR), CONSTRA_OK);
        size_t now_pending = count_status(v, "pending_user_action");
        assert_true(pending - now_pending <= 64);
        assert_true(now_pending < pending); /* progress every tick */
        pending = now_pending;
        ticks++;
        assert_true(ticks <= 4);
    }
    assert_int_equal(ticks, 4); /* 64 + 64 + 64 + 8 */
    assert_int_equal(count_status(v, "requires_recovery"), N);
    assert_int_equal(v->rail.collects, N); /* a time-out sends nothing */
    close_env(v);
}

/* ---- storage faults ----------------------------------------------------------------- */

/* The whole lifecycle with the N-th storage call failing, for every N:
 * the call that hit the fault reports an error; what is stored is always a
 * state the intent really passed through; the rail is never called twice
 * for one attempt; and replaying the request is always safe. */
/* For every N: the N-th storage call fails (mode 0), or it and every call
 * after it until the create returns (mode 1: the process is killed
 * there; a restart sees the storage as the kill left it). Whatever
 * failed: no partial state, never a second push, one intent at most;
 * and once the lease has passed, the same key answers definitely (the
 * intent, or a fresh run when nothing had been created): never 409 in
 * flight, never a push for a key whose intent exists. */
static void test_fault_at_every_storage_call(void **state)
{
    (void)state;
    int clean_runs = 0, answered_by_link = 0, ran_afresh = 0, retried_at_once = 0;
    for (int mode = 0; mode <= 1; mode++) {
        for (long n = 1; n <= 60; n++) {
            env *v = open_env(0);
            v->faults.fail_at = n;
            v->faults.fail_count = mode ? 1000 : 1;
            constra_intent_params p = seed_params("254712345678");
            constra_intent *in = NULL;
            int rc = constra_intent_create(v->h, &p, "fault-key", &in, T_ERR);
            int collects_after_create = v->rail.collects;
            assert_true(collects_after_create <= 1);
            if (mode) {
                v->faults.fail_count = 1; /* restarted: one more failure, at most */
                v->faults.fail_at = 0;
            }
            if (rc != CONSTRA_OK) {
                assert_null(in);
                /* Replaying the same request never pushes a second time once
                 * the first push happened, and never creates a second
                 * intent. */
                v->faults.fail_at = 0;
                rc = constra_intent_create(v->h, &p, "fault-key", &in, T_ERR);
                if (collects_after_create == 1) {
                    assert_int_equal(rc, CONSTRA_E_CONFLICT); /* in flight: don't push */
                    assert_string_equal(t_last_error().code, "idempotent_request_in_flight");
                    assert_int_equal(v->rail.collects, 1);
                } else if (rc == CONSTRA_E_CONFLICT) {
                    /* the reservation survived (its release failed too) */
                    assert_string_equal(t_last_error().code, "idempotent_request_in_flight");
                    assert_int_equal(v->rail.collects, 0);
                } else {
                    assert_int_equal(rc, CONSTRA_OK);
                    assert_int_equal(v->rail.collects, 1);
                    retried_at_once++; /* the failed create left nothing */
                }
            }
            if (in) {
                char id[CONSTRA_ID_SIZE];
                strcpy(id, constra_intent_id(in));
                constra_intent_free(in);
                constra_intent *out = NULL;
                rc = constra_intent_simulate_callback(v->h, id, "1032", NULL, &out, T_ERR);
                constra_intent_free(out);
                rc = constra_intent_retry(v->h, id, &out, T_ERR);
                constra_intent_free(out);
                rc = constra_intent_simulate_callback(v->h, id, "0", NULL, &out, T_ERR);
                constra_intent_free(out);
                /* Whatever failed, the intent is in a real state and has no
                 * more attempts than rail calls were made. */
                v->faults.fail_at = 0;
                assert_int_equal(constra_intent_get(v->h, id, &out, T_ERR), CONSTRA_OK);
                assert_true(constra_intent_attempts_used(out) <= v->rail.collects);
                assert_true(v->rail.collects <= 2);
                constra_intent_free(out);
            }
            if (v->faults.failures == 0) {
                clean_runs++;
            }
            /* Only one intent ever. */
            v->faults.fail_at = 0;
            size_t before = intent_count(v);
            assert_true(before <= 1);

            /* After the lease: a definite answer for the key. */
            int collects = v->rail.collects;
            clock_ms += LEASE_MS;
            answer a = create_seed(v, "fault-key");
            if (a.rc != CONSTRA_OK) {
                fail_msg("mode %d n=%ld: after the lease the key answers %d %s", mode, n, a.rc,
                         a.code);
            }
            if (before == 1) {
                assert_int_equal(a.replayed, 1); /* the intent that exists */
                assert_int_equal(v->rail.collects, collects);
                constra_intent_list *l = NULL;
                assert_int_equal(constra_intent_list_get(v->h, NULL, &l, T_ERR), CONSTRA_OK);
                assert_string_equal(constra_intent_id(constra_intent_list_at(l, 0)), a.id);
                constra_intent_list_free(l);
                answered_by_link += strstr(a.json, "\"state\":\"sending\"") != NULL;
            } else {
                assert_int_equal(collects, 0); /* nothing was ever pushed */
                assert_int_equal(a.replayed, 0);
                assert_int_equal(v->rail.collects, 1);
                ran_afresh++;
            }
            assert_int_equal(intent_count(v), 1);
            close_env(v);
        }
    }
    assert_true(clean_runs > 0);       /* the sweep went past the last storage call */
    assert_true(answered_by_link > 0); /* some N left a linked key, outcome unrecorded */
    /* Some N left nothing: the retry ran at once (a create's first commit
     * reserves its key, so no N leaves a bare reservation to wait out;
     * ran_afresh counts any that did, after the lease). */
    assert_true(retried_at_once > 0);
    (void)ran_afresh;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_flow),
        cmocka_unit_test(test_idempotent_replay_byte_for_byte),
        cmocka_unit_test(test_threads_hammer_one_key),
        cmocka_unit_test(test_errors_are_per_call_across_threads),
        cmocka_unit_test(test_result_rules_table),
        cmocka_unit_test(test_late_and_double_payments),
        cmocka_unit_test(test_forged_callbacks_store_nothing),
        cmocka_unit_test(test_v01_file_late_success_on_old_attempt),
        cmocka_unit_test(test_unmatched_callbacks_bounded),
        cmocka_unit_test(test_magic_numbers_via_tick),
        cmocka_unit_test(test_timeout_then_retries_exhausted),
        cmocka_unit_test(test_tick_work_by_due_index_bounded),
        cmocka_unit_test(test_duplicate_and_late_callbacks),
        cmocka_unit_test(test_drafts),
        cmocka_unit_test(test_auto_retry_policy),
        cmocka_unit_test(test_list_filters),
        cmocka_unit_test(test_bad_create_input_changes_nothing),
        cmocka_unit_test(test_fault_at_every_storage_call),
        cmocka_unit_test(test_failed_first_commit_leaves_nothing),
        cmocka_unit_test(test_lease_crash_after_reservation),
        cmocka_unit_test(test_lease_crash_after_first_commit),
        cmocka_unit_test(test_lease_slow_owner_keeps_its_outcome),
        cmocka_unit_test(test_lease_retries_race),
        cmocka_unit_test(test_lease_config),
        cmocka_unit_test(test_old_storage_table_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
