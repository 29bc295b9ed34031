#include "testutil.h"

#include "util/encode.h"

/* RFC 4648 section 10 test vectors. */
static void test_base64_rfc4648(void **state)
{
    (void)state;
    const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char out[16];
        size_t n = strlen(plain[i]);
        assert_int_equal(constra__base64_encode((const uint8_t *)plain[i], n, out, sizeof(out)),
                         strlen(enc[i]));
        assert_string_equal(out, enc[i]);
        uint8_t back[16];
        assert_int_equal(constra__base64_decode(enc[i], strlen(enc[i]), back, sizeof(back), 1),
                         (long)n);
        assert_memory_equal(back, plain[i], n);
    }
}

static void test_base64_bad(void **state)
{
    (void)state;
    uint8_t out[16];
    const char *bad[] = {"Zg=", "Z", "Zm9v!", "Zm 9v", "Zh==", "====", "Zg==Zg==", "Zm9=v"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(constra__base64_decode(bad[i], strlen(bad[i]), out, sizeof(out), 1), -1);
    }
    /* Unpadded is accepted only when not strict. */
    assert_int_equal(constra__base64_decode("Zm8", 3, out, sizeof(out), 1), -1);
    assert_int_equal(constra__base64_decode("Zm8", 3, out, sizeof(out), 0), 2);
    /* Output capacity respected. */
    assert_int_equal(constra__base64_decode("Zm9vYmFy", 8, out, 5, 1), -1);
    char small[4];
    assert_int_equal(constra__base64_encode((const uint8_t *)"foo", 3, small, sizeof(small)), 0);
    assert_int_equal(constra__base64_decode(NULL, 0, out, sizeof(out), 1), -1);
}

static void test_hex(void **state)
{
    (void)state;
    const uint8_t bytes[] = {0x00, 0x01, 0xab, 0xff};
    char out[9];
    assert_int_equal(constra__hex_encode(bytes, 4, out, sizeof(out)), 8);
    assert_string_equal(out, "0001abff");
    assert_int_equal(constra__hex_encode(bytes, 4, out, 8), 0);
    uint8_t back[4];
    assert_int_equal(constra__hex_decode("0001ABff", 8, back, sizeof(back)), 4);
    assert_memory_equal(back, bytes, 4);
    assert_int_equal(constra__hex_decode("000", 3, back, sizeof(back)), -1);
    assert_int_equal(constra__hex_decode("0g", 2, back, sizeof(back)), -1);
    assert_int_equal(constra__hex_decode("0001abff00", 10, back, sizeof(back)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_rfc4648),
        cmocka_unit_test(test_base64_bad),
        cmocka_unit_test(test_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
