#include "testutil.h"

#include <cjson/cJSON.h>

#include "platform/platform.h"
#include "util/sbuf.h"

static constra_platform plat;

static char *render_str(const char *s)
{
    constra__sbuf b;
    constra__sbuf_init(&b, &plat);
    constra__sbuf_json_str(&b, s);
    return constra__sbuf_take(&b, NULL);
}

static void test_json_escaping(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain", "\"plain\""},
        {"", "\"\""},
        {"quote\" back\\slash", "\"quote\\\" back\\\\slash\""},
        {"line\nfeed\rtab\t", "\"line\\nfeed\\rtab\\t\""},
        {"\x01\x1f", "\"\\u0001\\u001f\""},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""},
        {"bad \xff byte", "\"bad \xef\xbf\xbd byte\""},          /* not UTF-8 */
        {"\xc3", "\"\xef\xbf\xbd\""},                            /* truncated sequence */
        {"\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""}, /* surrogate */
        {"\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\""},            /* overlong */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = render_str(cases[i].in);
        assert_string_equal(got, cases[i].out);
        /* Whatever went in, what comes out is valid JSON a parser reads. */
        cJSON *j = cJSON_Parse(got);
        assert_non_null(j);
        cJSON_Delete(j);
        constra__free(&plat, got);
    }
    constra__sbuf b;
    constra__sbuf_init(&b, &plat);
    constra__sbuf_json_str(&b, NULL);
    char *n = constra__sbuf_take(&b, NULL);
    assert_string_equal(n, "null");
    constra__free(&plat, n);
    /* Every byte value 1..255 once: the worst case fits, output parses. */
    char all[256];
    for (int i = 1; i < 256; i++) {
        all[i - 1] = (char)i;
    }
    all[255] = '\0';
    char *got = render_str(all);
    cJSON *j = cJSON_Parse(got);
    assert_non_null(j);
    cJSON_Delete(j);
    constra__free(&plat, got);
}

static void test_numbers_and_times(void **state)
{
    (void)state;
    constra__sbuf b;
    constra__sbuf_init(&b, &plat);
    constra__sbuf_int(&b, 0);
    constra__sbuf_puts(&b, " ");
    constra__sbuf_int(&b, -42);
    constra__sbuf_puts(&b, " ");
    constra__sbuf_int(&b, INT64_MAX);
    constra__sbuf_puts(&b, " ");
    constra__sbuf_int(&b, INT64_MIN);
    constra__sbuf_puts(&b, " ");
    constra__sbuf_json_time(&b, INT64_C(1764239894625));
    constra__sbuf_puts(&b, " ");
    constra__sbuf_json_time(&b, 0);
    constra__sbuf_puts(&b, " ");
    constra__sbuf_json_time(&b, INT64_C(951782400000)); /* leap day 2000-02-29 */
    size_t len;
    char *s = constra__sbuf_take(&b, &len);
    assert_string_equal(s, "0 -42 9223372036854775807 -9223372036854775808 "
                           "\"2025-11-27T10:38:14.625Z\" null \"2000-02-29T00:00:00.000Z\"");
    assert_int_equal(len, strlen(s));
    constra__free(&plat, s);
}

/* A failed allocation is sticky: later appends do nothing, take gives
 * NULL, nothing leaks. */
static void test_allocation_failure_sticky(void **state)
{
    (void)state;
    counting_alloc ca = {0};
    constra_platform in;
    ca_platform(&in, &ca);
    in.destroy = NULL;
    constra_platform p;
    assert_int_equal(constra__platform_resolve(&p, &in, NULL), CONSTRA_OK);
    ca.fail_at = 1;
    constra__sbuf b;
    constra__sbuf_init(&b, &p);
    constra__sbuf_puts(&b, "hello");
    assert_true(constra__sbuf_failed(&b));
    constra__sbuf_json_str(&b, "more");
    constra__sbuf_int(&b, 5);
    assert_null(constra__sbuf_take(&b, NULL));
    assert_int_equal(ca.live, 0);
}

int main(void)
{
    assert_int_equal(constra__platform_resolve(&plat, NULL, NULL), CONSTRA_OK);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_escaping),
        cmocka_unit_test(test_numbers_and_times),
        cmocka_unit_test(test_allocation_failure_sticky),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
