/* The HMAC-SHA256 seam (lib/util/hmac.h): RFC 4231 vectors, incremental
 * use, key lengths around the block size, misuse. Runs against whichever
 * backend the build compiled in. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <constra.h>

#include "util/encode.h"
#include "util/hmac.h"

static void hex_of(const uint8_t mac[CONSTRA__SHA256_SIZE], char out[65])
{
    assert_int_equal(constra__hex_encode(mac, CONSTRA__SHA256_SIZE, out, 65), 64);
}

typedef struct rfc_case {
    uint8_t key[131];
    size_t key_len;
    uint8_t data[160];
    size_t data_len;
    const char *mac_hex; /* full 64 digits; case 5 is checked on 32 */
    size_t check_digits;
} rfc_case;

static void fill(uint8_t *dst, uint8_t v, size_t n)
{
    memset(dst, v, n);
}

static void set_text(uint8_t *dst, size_t *len, const char *s)
{
    *len = strlen(s);
    memcpy(dst, s, *len);
}

/* RFC 4231 section 4, test cases 1 to 7 (HMAC-SHA-256 column). */
static void test_rfc4231(void **state)
{
    (void)state;
    static rfc_case c[7];
    memset(c, 0, sizeof(c));
    fill(c[0].key, 0x0b, c[0].key_len = 20);
    set_text(c[0].data, &c[0].data_len, "Hi There");
    c[0].mac_hex = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
    set_text(c[1].key, &c[1].key_len, "Jefe");
    set_text(c[1].data, &c[1].data_len, "what do ya want for nothing?");
    c[1].mac_hex = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    fill(c[2].key, 0xaa, c[2].key_len = 20);
    fill(c[2].data, 0xdd, c[2].data_len = 50);
    c[2].mac_hex = "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe";
    for (size_t i = 0; i < 25; i++) {
        c[3].key[i] = (uint8_t)(i + 1);
    }
    c[3].key_len = 25;
    fill(c[3].data, 0xcd, c[3].data_len = 50);
    c[3].mac_hex = "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b";
    fill(c[4].key, 0x0c, c[4].key_len = 20);
    set_text(c[4].data, &c[4].data_len, "Test With Truncation");
    c[4].mac_hex = "a3b6167473100ee06e0c796c2955552b";
    c[4].check_digits = 32; /* the RFC gives only the first 128 bits */
    fill(c[5].key, 0xaa, c[5].key_len = 131);
    set_text(c[5].data, &c[5].data_len, "Test Using Larger Than Block-Size Key - Hash Key First");
    c[5].mac_hex = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54";
    fill(c[6].key, 0xaa, c[6].key_len = 131);
    set_text(c[6].data, &c[6].data_len,
             "This is a test using a larger than block-size key and a larger than block-size "
             "data. The key needs to be hashed before being used by the HMAC algorithm.");
    c[6].mac_hex = "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2";

    for (size_t i = 0; i < 7; i++) {
        uint8_t mac[CONSTRA__SHA256_SIZE];
        char hex[65];
        assert_int_equal(constra__hmac_sha256(c[i].key, c[i].key_len, c[i].data, c[i].data_len,
                                              mac),
                         CONSTRA_OK);
        hex_of(mac, hex);
        size_t digits = c[i].check_digits ? c[i].check_digits : 64;
        if (strncmp(hex, c[i].mac_hex, digits) != 0) {
            fail_msg("RFC 4231 case %zu: got %s want %s", i + 1, hex, c[i].mac_hex);
        }
        /* The same through init/update/final, one byte at a time. */
        constra__hmac_ctx ctx;
        assert_int_equal(constra__hmac_sha256_init(&ctx, c[i].key, c[i].key_len), CONSTRA_OK);
        for (size_t j = 0; j < c[i].data_len; j++) {
            assert_int_equal(constra__hmac_sha256_update(&ctx, c[i].data + j, 1), CONSTRA_OK);
        }
        uint8_t mac2[CONSTRA__SHA256_SIZE];
        assert_int_equal(constra__hmac_sha256_final(&ctx, mac2), CONSTRA_OK);
        assert_memory_equal(mac, mac2, sizeof(mac));
    }
}

/* Values computed with Python's hmac module. */
static void test_key_lengths_and_empty(void **state)
{
    (void)state;
    uint8_t key[65];
    for (size_t i = 0; i < sizeof(key); i++) {
        key[i] = (uint8_t)i;
    }
    uint8_t mac[CONSTRA__SHA256_SIZE];
    char hex[65];
    /* Key exactly one block: used as is. */
    assert_int_equal(constra__hmac_sha256(key, 64, "abc", 3, mac), CONSTRA_OK);
    hex_of(mac, hex);
    assert_string_equal(hex, "6ab541b4869dca71c4ca11d8bb1b02533b789a557583161429292c7404bc21f6");
    /* One byte more: hashed first. */
    assert_int_equal(constra__hmac_sha256(key, 65, "abc", 3, mac), CONSTRA_OK);
    hex_of(mac, hex);
    assert_string_equal(hex, "dfbffee4671bad00ed5d1e1999d55ed3b0cc774ac357f9ebf649c1612414fcec");
    /* Empty key, empty message (NULL allowed with length 0). */
    assert_int_equal(constra__hmac_sha256(NULL, 0, NULL, 0, mac), CONSTRA_OK);
    hex_of(mac, hex);
    assert_string_equal(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

/* Incremental updates in uneven chunks equal the one-shot MAC. */
static void test_incremental_chunks(void **state)
{
    (void)state;
    static uint8_t data[1000];
    for (size_t i = 0; i < sizeof(data); i++) {
        data[i] = (uint8_t)((i * 7) & 0xff);
    }
    uint8_t one[CONSTRA__SHA256_SIZE];
    char hex[65];
    assert_int_equal(constra__hmac_sha256((const uint8_t *)"key", 3, data, sizeof(data), one),
                     CONSTRA_OK);
    hex_of(one, hex);
    assert_string_equal(hex, "bcbddf13e808f3e29dc5bf65f4492381615c1cd2bf36ce2c4f29ea0a6874245f");
    const size_t chunks[] = {1, 63, 64, 65, 0, 127, 128, 3};
    for (size_t start = 0; start < 8; start++) {
        constra__hmac_ctx ctx;
        assert_int_equal(constra__hmac_sha256_init(&ctx, (const uint8_t *)"key", 3), CONSTRA_OK);
        size_t off = 0;
        size_t k = start;
        while (off < sizeof(data)) {
            size_t n = chunks[k++ % 8];
            if (n > sizeof(data) - off) {
                n = sizeof(data) - off;
            }
            assert_int_equal(constra__hmac_sha256_update(&ctx, data + off, n), CONSTRA_OK);
            off += n;
        }
        uint8_t inc[CONSTRA__SHA256_SIZE];
        assert_int_equal(constra__hmac_sha256_final(&ctx, inc), CONSTRA_OK);
        assert_memory_equal(one, inc, sizeof(one));
    }
}

static void test_misuse(void **state)
{
    (void)state;
    uint8_t mac[CONSTRA__SHA256_SIZE];
    constra__hmac_ctx ctx;
    assert_int_equal(constra__hmac_sha256_init(NULL, (const uint8_t *)"k", 1),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra__hmac_sha256_init(&ctx, NULL, 5), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra__hmac_sha256((const uint8_t *)"k", 1, "x", 1, NULL),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra__hmac_sha256((const uint8_t *)"k", 1, NULL, 1, mac),
                     CONSTRA_E_INVALID_ARGUMENT);
    /* NULL data with a length releases the context; later calls refuse. */
    assert_int_equal(constra__hmac_sha256_init(&ctx, (const uint8_t *)"k", 1), CONSTRA_OK);
    assert_int_equal(constra__hmac_sha256_update(&ctx, NULL, 3), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra__hmac_sha256_update(&ctx, "x", 1), CONSTRA_E_INVALID_STATE);
    assert_int_equal(constra__hmac_sha256_final(&ctx, mac), CONSTRA_E_INVALID_STATE);
    /* Final twice: the second refuses. */
    assert_int_equal(constra__hmac_sha256_init(&ctx, (const uint8_t *)"k", 1), CONSTRA_OK);
    assert_int_equal(constra__hmac_sha256_final(&ctx, mac), CONSTRA_OK);
    assert_int_equal(constra__hmac_sha256_final(&ctx, mac), CONSTRA_E_INVALID_STATE);
    /* Abort releases (leak-checked under ASan with the OpenSSL backend);
     * abort after release and abort(NULL) are harmless. */
    assert_int_equal(constra__hmac_sha256_init(&ctx, (const uint8_t *)"k", 1), CONSTRA_OK);
    assert_int_equal(constra__hmac_sha256_update(&ctx, "abc", 3), CONSTRA_OK);
    constra__hmac_sha256_abort(&ctx);
    constra__hmac_sha256_abort(&ctx);
    constra__hmac_sha256_abort(NULL);
    /* Final with NULL out releases too. */
    assert_int_equal(constra__hmac_sha256_init(&ctx, (const uint8_t *)"k", 1), CONSTRA_OK);
    assert_int_equal(constra__hmac_sha256_final(&ctx, NULL), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra__hmac_sha256_update(NULL, "x", 1), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra__hmac_sha256_final(NULL, mac), CONSTRA_E_INVALID_ARGUMENT);
    /* The wipe helper. */
    uint8_t buf[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    constra__wipe(buf, sizeof(buf));
    for (size_t i = 0; i < sizeof(buf); i++) {
        assert_int_equal(buf[i], 0);
    }
    constra__wipe(NULL, 4);
}

static void test_backend_name(void **state)
{
    (void)state;
    const char *b = constra_webhook_hmac_backend();
    assert_non_null(b);
    assert_string_equal(b, constra__hmac_backend());
    assert_true(strcmp(b, "mbedtls") == 0 || strcmp(b, "openssl") == 0);
    /* meson passes the backend -Dcrypto chose (auto: openssl when
     * libcrypto 3 is found, else mbedtls). */
    assert_string_equal(b, EXPECTED_HMAC_BACKEND);
    /* ...and constra_features() names it. */
    char word[32];
    snprintf(word, sizeof word, "crypto=%s", b);
    assert_int_equal(constra_feature_enabled(word), 1);
    assert_int_equal(constra_feature_enabled(strcmp(b, "openssl") == 0 ? "crypto=mbedtls"
                                                                       : "crypto=openssl"),
                     0);
    printf("# HMAC backend: %s\n", b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4231),
        cmocka_unit_test(test_key_lengths_and_empty),
        cmocka_unit_test(test_incremental_chunks),
        cmocka_unit_test(test_misuse),
        cmocka_unit_test(test_backend_name),
    };
    return cmocka_run_group_tests_name("hmac", tests, NULL, NULL);
}
