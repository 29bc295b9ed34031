#include "testutil.h"

/* Every status from CONSTRA_OK down to CONSTRA_STATUS_MIN has a distinct
 * name and message; unknown values never give NULL. */
static void test_every_status_named(void **state)
{
    (void)state;
    for (int s = 0; s >= CONSTRA_STATUS_MIN; s--) {
        const char *name = constra_status_name(s);
        const char *text = constra_strerror(s);
        assert_non_null(name);
        assert_non_null(text);
        assert_string_not_equal(name, "CONSTRA_E_UNKNOWN");
        assert_string_not_equal(text, "unknown error");
        assert_true(strncmp(name, "CONSTRA_", 8) == 0);
        for (int t = s + 1; t <= 0; t++) {
            assert_string_not_equal(name, constra_status_name(t));
        }
    }
}

static void test_numbers_are_stable(void **state)
{
    (void)state;
    /* Append-only: these values are part of the ABI. */
    assert_int_equal(CONSTRA_OK, 0);
    assert_int_equal(CONSTRA_E_GENERIC, -1);
    assert_int_equal(CONSTRA_E_INVALID_ARGUMENT, -2);
    assert_int_equal(CONSTRA_E_NOMEM, -3);
    assert_int_equal(CONSTRA_E_NOT_FOUND, -4);
    assert_int_equal(CONSTRA_E_CONFLICT, -5);
    assert_int_equal(CONSTRA_E_INVALID_STATE, -6);
    assert_int_equal(CONSTRA_E_BUFFER_TOO_SMALL, -7);
    assert_int_equal(CONSTRA_E_OVERFLOW, -8);
    assert_int_equal(CONSTRA_E_UNSUPPORTED, -9);
    assert_int_equal(CONSTRA_E_ABI, -10);
    assert_int_equal(CONSTRA_E_PARSE, -11);
    assert_int_equal(CONSTRA_E_SIGNATURE, -12);
    assert_int_equal(CONSTRA_E_STORAGE, -13);
    assert_int_equal(CONSTRA_E_TRANSPORT, -14);
    assert_int_equal(CONSTRA_E_OUTCOME_UNKNOWN, -15);
    assert_int_equal(CONSTRA_E_PROVIDER, -16);
    assert_int_equal(CONSTRA_E_CALLBACK, -17);
    assert_int_equal(CONSTRA_E_AUTH, -18);
    assert_int_equal(CONSTRA_E_RATE_LIMITED, -19);
    assert_int_equal(CONSTRA_E_PLATFORM, -20);
}

static void test_unknown_status(void **state)
{
    (void)state;
    int unknown[] = {1, 42, CONSTRA_STATUS_MIN - 1, -1000, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        assert_string_equal(constra_strerror(unknown[i]), "unknown error");
        assert_string_equal(constra_status_name(unknown[i]), "CONSTRA_E_UNKNOWN");
        assert_int_equal(constra_status_http(unknown[i]), 500);
    }
}

static void test_http_mapping(void **state)
{
    (void)state;
    assert_int_equal(constra_status_http(CONSTRA_OK), 200);
    assert_int_equal(constra_status_http(CONSTRA_E_INVALID_ARGUMENT), 400);
    assert_int_equal(constra_status_http(CONSTRA_E_AUTH), 401);
    assert_int_equal(constra_status_http(CONSTRA_E_NOT_FOUND), 404);
    assert_int_equal(constra_status_http(CONSTRA_E_CONFLICT), 409);
    assert_int_equal(constra_status_http(CONSTRA_E_OVERFLOW), 422);
    assert_int_equal(constra_status_http(CONSTRA_E_RATE_LIMITED), 429);
    assert_int_equal(constra_status_http(CONSTRA_E_OUTCOME_UNKNOWN), 504);
    for (int s = -1; s >= CONSTRA_STATUS_MIN; s--) {
        assert_true(constra_status_http(s) >= 400);
    }
}

static void test_error_init_and_clear(void **state)
{
    (void)state;
    constra_error e;
    memset(&e, 0x5a, sizeof(e));
    assert_int_equal(constra_error_init(&e, sizeof(e)), CONSTRA_OK);
    assert_int_equal(e.struct_size, sizeof(e));
    assert_int_equal(e.status, CONSTRA_OK);
    assert_string_equal(e.code, "");
    assert_int_equal(constra_error_init(NULL, sizeof(e)), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_error_init(&e, 0), CONSTRA_E_ABI);
    assert_int_equal(constra_error_init(&e, 8), CONSTRA_E_ABI);
    assert_int_equal(constra_error_init(&e, 1u << 20), CONSTRA_E_ABI);

    /* A failure fills every field; clear empties them, keeps the size. */
    int64_t out;
    assert_int_equal(constra_money_add(INT64_MAX, 1, &out, &e), CONSTRA_E_OVERFLOW);
    assert_int_equal(e.status, CONSTRA_E_OVERFLOW);
    assert_int_equal(e.http_status, 422);
    assert_string_equal(e.code, "amount_too_large");
    assert_string_equal(e.param, "amount");
    assert_true(strlen(e.message) > 0);
    constra_error_clear(&e);
    assert_int_equal(e.status, CONSTRA_OK);
    assert_string_equal(e.message, "");
    assert_int_equal(e.struct_size, sizeof(e));
    constra_error_clear(NULL); /* no crash */
}

/* An uninitialised (zero size) error struct is never written to. */
static void test_error_struct_size_respected(void **state)
{
    (void)state;
    constra_error e;
    memset(&e, 0, sizeof(e));
    int64_t out;
    assert_int_equal(constra_money_add(INT64_MAX, 1, &out, &e), CONSTRA_E_OVERFLOW);
    assert_int_equal(e.status, 0);
    assert_string_equal(e.message, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_status_named),
        cmocka_unit_test(test_numbers_are_stable),
        cmocka_unit_test(test_unknown_status),
        cmocka_unit_test(test_http_mapping),
        cmocka_unit_test(test_error_init_and_clear),
        cmocka_unit_test(test_error_struct_size_respected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
