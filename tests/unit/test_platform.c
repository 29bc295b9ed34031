#include "testutil.h"

#include <cjson/cJSON.h>

#include "platform/platform.h"
#include "../test_error.h"

static void test_init_function_matches_macro(void **state)
{
    (void)state;
    constra_platform a = CONSTRA_PLATFORM_INIT;
    constra_platform b;
    memset(&b, 0x7f, sizeof(b));
    assert_int_equal(constra_platform_init(&b, sizeof(b)), CONSTRA_OK);
    assert_memory_equal(&a, &b, sizeof(a));
    assert_int_equal(constra_platform_init(NULL, sizeof(b)), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_platform_init(&b, 0), CONSTRA_E_ABI);
    /* The first layout ends before the appended sleep_ms. */
    size_t v1 = offsetof(constra_platform, sleep_ms);
    assert_int_equal(constra_platform_init(&b, v1 - 1), CONSTRA_E_ABI);
    assert_int_equal(constra_platform_init(&b, v1), CONSTRA_OK);
    assert_int_equal(constra_platform_check(&b, NULL), CONSTRA_OK);
    assert_int_equal(constra_platform_check(&a, NULL), CONSTRA_OK);
}

/* sleep_ms (appended): defaulted, and a host's is called. */
static int slept_ms;
static void record_sleep(void *ud, int64_t ms)
{
    (void)ud;
    slept_ms += (int)ms;
}

static void test_sleep_member(void **state)
{
    (void)state;
    constra_platform r;
    assert_int_equal(constra__platform_resolve(&r, NULL, NULL), CONSTRA_OK);
    assert_non_null(r.sleep_ms);
    constra__sleep_ms(&r, 1);
    constra_platform p = CONSTRA_PLATFORM_INIT;
    p.sleep_ms = record_sleep;
    assert_int_equal(constra__platform_resolve(&r, &p, NULL), CONSTRA_OK);
    constra__sleep_ms(&r, 25);
    constra__sleep_ms(&r, 0);
    assert_int_equal(slept_ms, 25);
}

static void test_struct_size_rules(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    /* Forgot the INIT macro. */
    constra_platform zero;
    memset(&zero, 0, sizeof(zero));
    assert_int_equal(constra_platform_check(&zero, &err), CONSTRA_E_ABI);
    assert_string_equal(err.param, "platform");
    assert_non_null(strstr(err.message, "_INIT"));

    /* Newer headers with an appended member: fine while it is zero. */
    struct {
        constra_platform p;
        void *newer_member;
    } newer;
    memset(&newer, 0, sizeof(newer));
    newer.p.struct_size = sizeof(newer);
    assert_int_equal(constra_platform_check(&newer.p, &err), CONSTRA_OK);
    newer.newer_member = &newer;
    assert_int_equal(constra_platform_check(&newer.p, &err), CONSTRA_E_ABI);
    assert_string_equal(err.code, "abi_mismatch");

    /* Garbage sizes. */
    constra_platform p = CONSTRA_PLATFORM_INIT;
    p.struct_size = 3;
    assert_int_equal(constra_platform_check(&p, &err), CONSTRA_E_ABI);
    p.struct_size = (size_t)-1;
    assert_int_equal(constra_platform_check(&p, &err), CONSTRA_E_ABI);
    assert_int_equal(constra_platform_check(NULL, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.code, "parameter_missing");
}

static void test_groups_all_or_nothing(void **state)
{
    (void)state;
    counting_alloc ca = {0};
    constra_error err = CONSTRA_ERROR_INIT;
    constra_platform p;

    ca_platform(&p, &ca);
    p.free_fn = NULL;
    assert_int_equal(constra_platform_check(&p, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "platform.free_fn");

    ca_platform(&p, &ca);
    p.malloc_fn = NULL;
    assert_int_equal(constra_platform_check(&p, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "platform.malloc_fn");

    constra_platform m = CONSTRA_PLATFORM_INIT;
    m.mutex_lock = (void (*)(void *, void *))ca_free; /* any non-NULL pointer */
    assert_int_equal(constra_platform_check(&m, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "platform.mutex_create");

    constra_platform l = CONSTRA_PLATFORM_INIT;
    l.log_min_level = -1;
    assert_int_equal(constra_platform_check(&l, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "platform.log_min_level");

    /* A bad platform refuses to open a handle and leaves nothing behind. */
    ca_platform(&p, &ca);
    p.realloc_fn = NULL;
    constra_config cfg = CONSTRA_CONFIG_INIT;
    cfg.platform = &p;
    constra_t *h = (constra_t *)&cfg; /* must be reset to NULL */
    assert_int_equal(constra_open(&h, &cfg, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_null(h);
    assert_int_equal(ca.attempts, 0);
    assert_int_equal(ca.destroyed, 0);
}

static void test_defaults_work(void **state)
{
    (void)state;
    constra_platform p;
    assert_int_equal(constra__platform_resolve(&p, NULL, NULL), CONSTRA_OK);
    int64_t wall = constra__wall_ms(&p);
    assert_true(wall > INT64_C(1700000000000)); /* after 2023 */
    int64_t m1 = constra__mono_ns(&p);
    int64_t m2 = constra__mono_ns(&p);
    assert_true(m2 >= m1);
    uint8_t a[32] = {0}, b[32] = {0};
    assert_int_equal(constra__random(&p, a, sizeof(a)), 0);
    assert_int_equal(constra__random(&p, b, sizeof(b)), 0);
    assert_memory_not_equal(a, b, sizeof(a));
    void *mtx = NULL;
    assert_int_equal(p.mutex_create(p.user_data, &mtx), 0);
    constra__lock(&p, mtx);
    constra__unlock(&p, mtx);
    p.mutex_destroy(p.user_data, mtx);
    char *s = constra__strndup(&p, "hello", 3);
    assert_string_equal(s, "hel");
    constra__free(&p, s);
    assert_null(constra__calloc(&p, SIZE_MAX / 2, 4)); /* n * size overflows */
}

typedef struct log_capture {
    int lines;
    int last_level;
    char last[128];
} log_capture;

static void capture_log(void *ud, int level, const char *message)
{
    log_capture *c = ud;
    c->lines++;
    c->last_level = level;
    strncpy(c->last, message, sizeof(c->last) - 1);
}

static void test_log_levels(void **state)
{
    (void)state;
    log_capture cap = {0};
    constra_platform in = CONSTRA_PLATFORM_INIT;
    in.user_data = &cap;
    in.log = capture_log;
    constra_platform p;
    assert_int_equal(constra__platform_resolve(&p, &in, NULL), CONSTRA_OK);
    assert_int_equal(p.log_min_level, CONSTRA_LOG_WARN); /* 0 means WARN */
    constra__log(&p, CONSTRA_LOG_INFO, "not shown %d", 1);
    assert_int_equal(cap.lines, 0);
    constra__log(&p, CONSTRA_LOG_ERROR, "shown %d", 2);
    assert_int_equal(cap.lines, 1);
    assert_int_equal(cap.last_level, CONSTRA_LOG_ERROR);
    assert_string_equal(cap.last, "shown 2");

    in.log_min_level = CONSTRA_LOG_DEBUG;
    assert_int_equal(constra__platform_resolve(&p, &in, NULL), CONSTRA_OK);
    constra__log(&p, CONSTRA_LOG_DEBUG, "debug");
    assert_int_equal(cap.lines, 2);
}

/* The caller's struct is copied: changing it after registration has no
 * effect on the library's copy. */
static void test_platform_is_copied(void **state)
{
    (void)state;
    counting_alloc ca = {0};
    constra_platform p;
    ca_platform(&p, &ca);
    constra_config cfg = CONSTRA_CONFIG_INIT;
    cfg.platform = &p;
    constra_t *h = NULL;
    assert_int_equal(constra_open(&h, &cfg, NULL), CONSTRA_OK);
    memset(&p, 0, sizeof(p)); /* scribble over the caller's copy */
    memset(&cfg, 0, sizeof(cfg));
    char id[CONSTRA_ID_SIZE];
    assert_int_equal(constra_id_new(h, "pi", id, sizeof(id), T_ERR), CONSTRA_OK);
    constra_close(h);
    assert_int_equal(ca.live, 0);
    assert_int_equal(ca.destroyed, 1);
}

static void test_json_allocator_opt_in(void **state)
{
    (void)state;
    counting_alloc ca = {0};
    constra_platform p;
    ca_platform(&p, &ca);
    p.destroy = NULL;

    /* Not installed: cJSON uses libc, our counter stays at zero. */
    cJSON *j = cJSON_Parse("{\"a\":[1,2,3]}");
    assert_non_null(j);
    cJSON_Delete(j);
    assert_int_equal(ca.attempts, 0);

    assert_int_equal(constra_platform_install_json_allocator(&p, NULL), CONSTRA_OK);
    j = cJSON_Parse("{\"a\":[1,2,3]}");
    assert_non_null(j);
    assert_true(ca.allocs > 0);
    cJSON_Delete(j);
    assert_int_equal(ca.live, 0);

    /* A bad vtable changes nothing. */
    constra_platform bad = p;
    bad.free_fn = NULL;
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_platform_install_json_allocator(&bad, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    long before = ca.allocs;
    j = cJSON_Parse("[1]");
    cJSON_Delete(j);
    assert_true(ca.allocs > before);

    /* NULL restores libc. */
    assert_int_equal(constra_platform_install_json_allocator(NULL, NULL), CONSTRA_OK);
    before = ca.attempts;
    j = cJSON_Parse("[1]");
    cJSON_Delete(j);
    assert_int_equal(ca.attempts, before);
    assert_int_equal(ca.live, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_function_matches_macro),
        cmocka_unit_test(test_sleep_member),
        cmocka_unit_test(test_struct_size_rules),
        cmocka_unit_test(test_groups_all_or_nothing),
        cmocka_unit_test(test_defaults_work),
        cmocka_unit_test(test_log_levels),
        cmocka_unit_test(test_platform_is_copied),
        cmocka_unit_test(test_json_allocator_opt_in),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
