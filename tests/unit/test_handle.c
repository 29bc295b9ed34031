#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include "../test_error.h"

static void test_open_close_defaults(void **state)
{
    (void)state;
    constra_t *h = NULL;
    assert_int_equal(constra_open(&h, NULL, NULL), CONSTRA_OK);
    assert_non_null(h);
    assert_true(constra_now_ms(h) > INT64_C(1700000000000));
    constra_close(h);
    constra_close(NULL); /* no-op */
    assert_int_equal(constra_now_ms(NULL), 0);
}

static void test_open_bad_arguments(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_open(NULL, NULL, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "out");
    assert_string_equal(err.code, "parameter_missing");

    constra_t *h = NULL;
    constra_config cfg;
    memset(&cfg, 0, sizeof(cfg)); /* forgot CONSTRA_CONFIG_INIT */
    assert_int_equal(constra_open(&h, &cfg, &err), CONSTRA_E_ABI);
    assert_null(h);
    assert_string_equal(err.param, "config");

    assert_int_equal(constra_config_init(&cfg, sizeof(cfg)), CONSTRA_OK);
    assert_int_equal(cfg.struct_size, sizeof(cfg));
    assert_null(cfg.platform);
    assert_int_equal(constra_config_init(NULL, sizeof(cfg)), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_config_init(&cfg, 1), CONSTRA_E_ABI);

    /* A NULL handle is named in err; an err without struct_size (forgot
     * CONSTRA_ERROR_INIT) is never written. */
    char id[CONSTRA_ID_SIZE];
    assert_int_equal(constra_id_new(NULL, "pi", id, sizeof(id), &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "handle");
    assert_int_equal(constra_open(&h, NULL, NULL), CONSTRA_OK);
    constra_error zero;
    memset(&zero, 0, sizeof(zero));
    assert_int_equal(constra_id_new(h, "PI", id, sizeof(id), &zero), CONSTRA_E_INVALID_ARGUMENT);
    constra_error untouched;
    memset(&untouched, 0, sizeof(untouched));
    assert_memory_equal(&zero, &untouched, sizeof(zero));
    constra_close(h);
}

/* Every allocation goes through the platform allocator and comes back. */
static void test_allocator_balance(void **state)
{
    (void)state;
    counting_alloc ca = {0};
    constra_platform p;
    ca_platform(&p, &ca);
    constra_config cfg = CONSTRA_CONFIG_INIT;
    cfg.platform = &p;
    constra_t *h = NULL;
    assert_int_equal(constra_open(&h, &cfg, NULL), CONSTRA_OK);
    assert_true(ca.allocs >= 1);
    char id[CONSTRA_ID_SIZE];
    for (int i = 0; i < 100; i++) {
        assert_int_equal(constra_id_new(h, "pi", id, sizeof(id), T_ERR), CONSTRA_OK);
    }
    constra_close(h);
    assert_int_equal(ca.live, 0);
    assert_int_equal(ca.destroyed, 1);
}

/* config.intent_cache_slots: the default 16 from the macro and the init
 * function, 0 turns the cache off (reads still work, and the handle holds
 * no slot block), out of range is refused naming the field. */
static long reads_allocs(int slots, int *status_out)
{
    counting_alloc ca = {0};
    constra_platform p;
    ca_platform(&p, &ca);
    constra_config cfg = CONSTRA_CONFIG_INIT;
    cfg.platform = &p;
    cfg.intent_cache_slots = slots;
    constra_t *h = NULL;
    assert_int_equal(constra_open(&h, &cfg, NULL), CONSTRA_OK);
    constra_intent_params ip = CONSTRA_INTENT_PARAMS_INIT;
    ip.amount = 100;
    ip.currency = "KES";
    ip.phone_number = "0712345678";
    constra_intent *in = NULL;
    if (constra_intent_create(h, &ip, "cache_slots_key", &in, T_ERR) != CONSTRA_OK) {
        fail_msg("create: %s", t_last_error().message);
    }
    char id[CONSTRA_ID_SIZE];
    snprintf(id, sizeof(id), "%s", constra_intent_id(in));
    constra_intent_free(in);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(constra_intent_get(h, id, &in, T_ERR), CONSTRA_OK);
        *status_out = constra_intent_status(in);
        constra_intent_free(in);
    }
    long used = ca.live; /* what the handle holds: the cache's blocks among it */
    constra_close(h);
    assert_int_equal(ca.live, 0);
    return used;
}

static void test_intent_cache_slots(void **state)
{
    (void)state;
    constra_config a = CONSTRA_CONFIG_INIT, b;
    assert_int_equal(a.intent_cache_slots, CONSTRA_INTENT_CACHE_SLOTS_DEFAULT);
    assert_int_equal(constra_config_init(&b, sizeof(b)), CONSTRA_OK);
    assert_int_equal(b.intent_cache_slots, 16);
    int st_on = -1, st_off = -2;
    long with_cache = reads_allocs(16, &st_on);
    long without = reads_allocs(0, &st_off);
    assert_int_equal(st_on, st_off);
    /* Without the cache the handle holds no slot block (nor cached JSON). */
    assert_true(with_cache > without);
    constra_error err = CONSTRA_ERROR_INIT;
    constra_t *h = NULL;
    a.intent_cache_slots = -1;
    assert_int_equal(constra_open(&h, &a, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "config.intent_cache_slots");
    a.intent_cache_slots = 1025;
    assert_int_equal(constra_open(&h, &a, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_null(h);
}

/* Failing the N-th allocation, for every N, fails cleanly: NOMEM, no
 * handle, nothing leaked, destroy not called (the caller still owns it). */
static void test_allocation_failure_injection(void **state)
{
    (void)state;
    int opened = 0;
    /* Open allocates the handle, the memory storage and its workspace
     * metadata (mode, workspace id), and the simulator. */
    for (long n = 1; n <= 40; n++) {
        counting_alloc ca = {0};
        ca.fail_at = n;
        constra_platform p;
        ca_platform(&p, &ca);
        constra_config cfg = CONSTRA_CONFIG_INIT;
        cfg.platform = &p;
        constra_t *h = NULL;
        constra_error err = CONSTRA_ERROR_INIT;
        int rc = constra_open(&h, &cfg, &err);
        if (rc == CONSTRA_OK) {
            opened++;
            constra_close(h);
            assert_int_equal(ca.destroyed, 1);
        } else {
            assert_int_equal(rc, CONSTRA_E_NOMEM);
            assert_null(h);
            assert_int_equal(ca.destroyed, 0);
            assert_int_equal(err.status, CONSTRA_E_NOMEM);
        }
        assert_int_equal(ca.live, 0);
    }
    assert_true(opened > 0); /* past the last allocation, open succeeds */
}

static int fail_mutex_create(void *ud, void **out)
{
    (void)ud;
    (void)out;
    return -1;
}
static void noop_mutex(void *ud, void *m)
{
    (void)ud;
    (void)m;
}

static void test_mutex_failure(void **state)
{
    (void)state;
    counting_alloc ca = {0};
    constra_platform p;
    ca_platform(&p, &ca);
    p.mutex_create = fail_mutex_create;
    p.mutex_lock = noop_mutex;
    p.mutex_unlock = noop_mutex;
    p.mutex_destroy = noop_mutex;
    constra_config cfg = CONSTRA_CONFIG_INIT;
    cfg.platform = &p;
    constra_t *h = NULL;
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_open(&h, &cfg, &err), CONSTRA_E_PLATFORM);
    assert_null(h);
    assert_string_equal(err.param, "platform.mutex_create");
    assert_int_equal(ca.live, 0);
}

/* A call's detail goes to its own err, whole; a later success leaves it. */
static void test_call_error_detail(void **state)
{
    (void)state;
    constra_t *h = NULL;
    assert_int_equal(constra_open(&h, NULL, NULL), CONSTRA_OK);
    constra_error err = CONSTRA_ERROR_INIT;
    char id[4];
    assert_int_equal(constra_id_new(h, "pi", id, sizeof(id), &err), CONSTRA_E_BUFFER_TOO_SMALL);
    char ok[CONSTRA_ID_SIZE];
    assert_int_equal(constra_id_new(h, "pi", ok, sizeof(ok), &err), CONSTRA_OK);
    assert_int_equal(err.status, CONSTRA_E_BUFFER_TOO_SMALL);
    assert_string_equal(err.code, "buffer_too_small");
    assert_string_equal(err.param, "out");
    assert_non_null(strstr(err.message, "30 bytes"));
    constra_close(h);
}

typedef struct thread_arg {
    constra_t *h;
    char (*ids)[CONSTRA_ID_SIZE];
    int count;
    int ok;
} thread_arg;

static void *make_ids(void *p)
{
    thread_arg *a = p;
    a->ok = 1;
    for (int i = 0; i < a->count; i++) {
        if (constra_id_new(a->h, "att", a->ids[i], CONSTRA_ID_SIZE, T_ERR) != CONSTRA_OK) {
            a->ok = 0;
        }
        if (i > 0 && strcmp(a->ids[i - 1], a->ids[i]) >= 0) {
            a->ok = 0;
        }
    }
    return NULL;
}

static int cmp_ids(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* One handle shared by threads: every id unique, each thread's rising. */
static void test_threads_share_a_handle(void **state)
{
    (void)state;
    enum { THREADS = 4, PER = 10000 };
    static char ids[THREADS * PER][CONSTRA_ID_SIZE];
    constra_t *h = NULL;
    assert_int_equal(constra_open(&h, NULL, NULL), CONSTRA_OK);
    pthread_t t[THREADS];
    thread_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (thread_arg){h, ids + i * PER, PER, 0};
        assert_int_equal(pthread_create(&t[i], NULL, make_ids, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_true(args[i].ok);
    }
    qsort(ids, THREADS * PER, sizeof(ids[0]), cmp_ids);
    for (int i = 1; i < THREADS * PER; i++) {
        assert_true(strcmp(ids[i - 1], ids[i]) < 0);
    }
    constra_close(h);
}

static void test_version(void **state)
{
    (void)state;
    assert_string_equal(constra_version(), CONSTRA_VERSION_STRING);
    assert_int_equal(constra_version_number(), CONSTRA_VERSION_NUMBER);
    assert_int_equal(CONSTRA_VERSION_NUMBER, CONSTRA_VERSION_MAJOR * 10000 +
                                                 CONSTRA_VERSION_MINOR * 100 +
                                                 CONSTRA_VERSION_PATCH);
    assert_non_null(constra_features());
    assert_int_equal(constra_feature_enabled(NULL), 0);
    assert_int_equal(constra_feature_enabled(""), 0);
    assert_int_equal(constra_feature_enabled("cur"), 0); /* whole words only */
    assert_int_equal(constra_feature_enabled("no-such-feature"), 0);
    if (strstr(constra_features(), "sqlite")) {
        assert_int_equal(constra_feature_enabled("sqlite"), 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_close_defaults),
        cmocka_unit_test(test_open_bad_arguments),
        cmocka_unit_test(test_allocator_balance),
        cmocka_unit_test(test_intent_cache_slots),
        cmocka_unit_test(test_allocation_failure_injection),
        cmocka_unit_test(test_mutex_failure),
        cmocka_unit_test(test_call_error_detail),
        cmocka_unit_test(test_threads_share_a_handle),
        cmocka_unit_test(test_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
