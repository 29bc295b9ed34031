/* A program compiled against an older header passes shorter structs: the
 * first version of constra_config ends at `secret_key`. (constra_storage
 * has one layout since storage 2: a 0.2 storage table is refused, see
 * test_old_storage_table_refused in tests/engine/test_engine.c.) Every struct here is a heap block of exactly the old size,
 * so under AddressSanitizer any read or write past it fails the test. The
 * library must accept them, fill only what the caller has, and work. */
#include "../unit/testutil.h"

#include <stddef.h>
#include "../test_error.h"

#define OLD_CONFIG_SIZE (offsetof(constra_config, secret_key) + sizeof(const char *))

/* Members of the short blocks are reached by offset and memcpy, as the
 * compiler (rightly) refuses member access through a too-small object. */
static size_t size_at(const void *base)
{
    size_t v;
    memcpy(&v, base, sizeof(v));
    return v;
}

static int ptr_set_at(const void *base, size_t off)
{
    void *v;
    memcpy(&v, (const char *)base + off, sizeof(v));
    return v != NULL;
}

static void put_ptr(void *base, size_t off, const void *v)
{
    memcpy((char *)base + off, &v, sizeof(v));
}

static void test_old_storage_and_config(void **state)
{
    (void)state;
    assert_true(OLD_CONFIG_SIZE < sizeof(constra_config));
    constra_error err = CONSTRA_ERROR_INIT;

    constra_storage *st = malloc(sizeof(*st));
    assert_int_equal(constra_storage_init(st, sizeof(*st)), CONSTRA_OK);
    assert_int_equal(constra_storage_memory(st, NULL, &err), CONSTRA_OK);
    assert_int_equal(size_at(st), sizeof(*st));
    assert_true(ptr_set_at(st, offsetof(constra_storage, commit)));
    assert_true(ptr_set_at(st, offsetof(constra_storage, destroy)));
    assert_int_equal(constra_storage_check(st, &err), CONSTRA_OK);

    void *cfg = malloc(OLD_CONFIG_SIZE);
    assert_int_equal(constra_config_init(cfg, OLD_CONFIG_SIZE), CONSTRA_OK);
    put_ptr(cfg, offsetof(constra_config, storage), st);
    put_ptr(cfg, offsetof(constra_config, secret_key), "cs_test_old_caller_key_0001");
    constra_t *h = NULL;
    assert_int_equal(constra_open(&h, cfg, &err), CONSTRA_OK);
    free(cfg);
    free(st); /* copied by constra_open */

    constra_intent_params *p = malloc(sizeof(*p));
    assert_int_equal(constra_intent_params_init(p, sizeof(*p)), CONSTRA_OK);
    p->amount = 1250;
    p->currency = "KES";
    p->phone_number = "254700000000";
    constra_intent *in = NULL;
    assert_int_equal(constra_intent_create(h, p, "old-caller", &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_PENDING_USER_ACTION);
    constra_intent_free(in);
    free(p);
    constra_close(h);
}

/* constra_platform's first layout ends at `destroy` (sleep_ms appended):
 * a platform block of exactly that size is accepted, and the handle
 * defaults the sleep it does not have. */
#define OLD_PLATFORM_SIZE (offsetof(constra_platform, destroy) + sizeof(void (*)(void *)))

static void test_old_platform(void **state)
{
    (void)state;
    assert_true(OLD_PLATFORM_SIZE < sizeof(constra_platform));
    void *plat = malloc(OLD_PLATFORM_SIZE);
    assert_int_equal(constra_platform_init(plat, OLD_PLATFORM_SIZE), CONSTRA_OK);
    assert_int_equal(size_at(plat), OLD_PLATFORM_SIZE);
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_platform_check(plat, &err), CONSTRA_OK);
    constra_config cfg = CONSTRA_CONFIG_INIT;
    cfg.platform = plat;
    constra_t *h = NULL;
    assert_int_equal(constra_open(&h, &cfg, &err), CONSTRA_OK);
    free(plat); /* copied by constra_open */
    char id[CONSTRA_ID_SIZE];
    assert_int_equal(constra_id_new(h, "pi", id, sizeof(id), T_ERR), CONSTRA_OK);
    constra_close(h);
}

static void test_old_sizes_below_v1_refused(void **state)
{
    (void)state;
    constra_storage st;
    constra_config cfg;
    assert_int_equal(constra_storage_init(&st, sizeof(st) - 1), CONSTRA_E_ABI);
    assert_int_equal(constra_storage_init(&st, sizeof(st)), CONSTRA_OK);
    assert_int_equal(constra_config_init(&cfg, sizeof(size_t)), CONSTRA_E_ABI);
    assert_int_equal(constra_storage_init(&st, 0), CONSTRA_E_ABI);
    assert_int_equal(constra_storage_init(NULL, sizeof(st)), CONSTRA_E_INVALID_ARGUMENT);
}

/* A newer caller: a longer struct whose unknown tail is zero is accepted
 * and its tail zeroed by _init. */
static void test_newer_caller_tail(void **state)
{
    (void)state;
    size_t size = sizeof(constra_storage) + 16;
    unsigned char *buf = malloc(size);
    memset(buf, 0xAB, size);
    assert_int_equal(constra_storage_init((constra_storage *)buf, size), CONSTRA_OK);
    for (size_t i = sizeof(constra_storage); i < size; i++) {
        assert_int_equal(buf[i], 0);
    }
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_old_storage_and_config),
        cmocka_unit_test(test_old_platform),
        cmocka_unit_test(test_old_sizes_below_v1_refused),
        cmocka_unit_test(test_newer_caller_tail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
