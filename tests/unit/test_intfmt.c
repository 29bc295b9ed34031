/* util/intfmt.h: the exact bytes, the same table the firmware suite checks
 * on the target (intfmt_vectors.h), and agreement with glibc's printf. */
#include "testutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "intfmt_vectors.h"
#include "util/intfmt.h"

static void test_signed(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(intfmt_i64_vectors) / sizeof(intfmt_i64_vectors[0]); i++) {
        char out[CONSTRA__INT_TEXT_MAX], ref[32];
        size_t n = constra__fmt_i64(out, intfmt_i64_vectors[i].v);
        assert_string_equal(out, intfmt_i64_vectors[i].text);
        assert_int_equal(n, strlen(out));
        snprintf(ref, sizeof(ref), "%" PRId64, intfmt_i64_vectors[i].v);
        assert_string_equal(out, ref);
    }
}

static void test_unsigned_padded(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(intfmt_u64_vectors) / sizeof(intfmt_u64_vectors[0]); i++) {
        char out[CONSTRA__INT_TEXT_MAX], ref[32];
        size_t n = constra__fmt_u64_pad(out, intfmt_u64_vectors[i].v, intfmt_u64_vectors[i].width);
        assert_string_equal(out, intfmt_u64_vectors[i].text);
        assert_int_equal(n, strlen(out));
        snprintf(ref, sizeof(ref), "%0*" PRIu64, (int)intfmt_u64_vectors[i].width,
                 intfmt_u64_vectors[i].v);
        assert_string_equal(out, ref);
    }
}

static void test_many_agree_with_printf(void **state)
{
    (void)state;
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t v = (int64_t)(x >> (unsigned)(i % 64));
        if (i & 1) {
            v = -v;
        }
        char out[CONSTRA__INT_TEXT_MAX], ref[32];
        constra__fmt_i64(out, v);
        snprintf(ref, sizeof(ref), "%" PRId64, v);
        assert_string_equal(out, ref);
    }
}

static void test_cat(void **state)
{
    (void)state;
    char buf[13] = "t=";
    assert_int_equal(constra__cat_i64(buf, sizeof(buf), 1700000000), 0);
    assert_string_equal(buf, "t=1700000000");
    assert_int_equal(constra__cat_i64(buf, sizeof(buf), 1), -1);
    assert_string_equal(buf, "t=1700000000");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signed),
        cmocka_unit_test(test_unsigned_padded),
        cmocka_unit_test(test_many_agree_with_printf),
        cmocka_unit_test(test_cat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
