/* Built without libpq (-Dpostgres=disabled): the PostgreSQL record store's
 * entry point exists, says so, and the feature is not reported. */
#include "../unit/testutil.h"

static void test_unsupported(void **state)
{
    (void)state;
    constra_storage st = CONSTRA_STORAGE_INIT;
    constra_error e = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_storage_postgres(&st, NULL, "host=/tmp dbname=x", &e),
                     CONSTRA_E_UNSUPPORTED);
    assert_non_null(strstr(e.message, "without PostgreSQL"));
    assert_int_equal(constra_feature_enabled("postgres"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_unsupported)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
