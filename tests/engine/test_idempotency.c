/* The idempotency fingerprint's bytes (lib/engine/idempotency.c) are part
 * of stored data: a key reserved by one library version is compared by
 * the next, so a change in them would turn a retry of the same request
 * into 409 idempotency_key_reused. The expected digests were computed in
 * Python from the canonical form idempotency.h documents (HMAC-SHA256
 * under "constra idempotency fingerprint v1" of
 * "<len>:v1|<amount>|<policy>|<draft>|" then "<len>:<field>" for
 * currency, provider, phone, customer name, reference, description;
 * with metadata an eighth, "<len>:<hex HMAC-SHA256 under the same key of
 * the canonical metadata text>"), not from the C code. */
#include "../unit/testutil.h"

#include <string.h>

#include "engine/idempotency.h"
#include "engine/model.h"

static void fill(struct constra_intent *in, int64_t amount, int policy, const char *phone,
                 const char *name, const char *reference, const char *description)
{
    constra__model_clear(in);
    in->amount = amount;
    in->agent_policy = policy;
    strcpy(in->currency, "KES");
    strcpy(in->provider, "mpesa");
    strcpy(in->phone, phone);
    strcpy(in->customer_name, name);
    strcpy(in->reference, reference);
    strcpy(in->description, description);
}

static void expect(const struct constra_intent *in, int draft, const char *hex)
{
    char fp[65];
    memset(fp, 'x', sizeof(fp));
    assert_int_equal(constra__idem_fingerprint(in, draft, fp), 0);
    assert_int_equal(strlen(fp), 64);
    assert_string_equal(fp, hex);
}

static void test_pinned_bytes(void **state)
{
    (void)state;
    struct constra_intent in;
    fill(&in, 1250, CONSTRA_AGENT_OPERATOR_REVIEW, "254712345678", "Wanjir\xc5\xa9",
         "order-7429", "Two loaves");
    expect(&in, 0, "31c55d6c1d581af1dca2d9067dabfd8f49348a15bd8519161dfd49ea5c5c377d");
    fill(&in, 1, CONSTRA_AGENT_NONE, "254700000001", "", "", "");
    expect(&in, 1, "1f9be5ad1fab883708b2ac451f656e6ed9affa5e12a5fb2d213c391deb307637");
    fill(&in, 150000, CONSTRA_AGENT_AUTO_RETRY, "254712345678", "", "", "");
    expect(&in, 0, "b90530a1d9113d67598f3942798e478e903f0e79fe41e28b9944ea0603fba82d");
}

/* Metadata adds an eighth field; none keeps the version-1 bytes above. */
static void test_metadata_field(void **state)
{
    (void)state;
    struct constra_intent in;
    fill(&in, 1250, CONSTRA_AGENT_OPERATOR_REVIEW, "254712345678", "Wanjir\xc5\xa9",
         "order-7429", "Two loaves");
    char meta[] = "{\"order_id\":\"7429\",\"till\":\"A\xc3\xa9\"}";
    in.metadata = meta;
    in.metadata_len = strlen(meta);
    expect(&in, 0, "409f26b76dba64881997be61844e4f7c7437bb434d659b729bf7479e6c64fbe0");
    in.metadata = NULL;
    in.metadata_len = 0;
    expect(&in, 0, "31c55d6c1d581af1dca2d9067dabfd8f49348a15bd8519161dfd49ea5c5c377d");
}

/* Moving a character from one field to the next changes the digest: the
 * length prefixes keep field boundaries from being forged. */
static void test_boundaries_count(void **state)
{
    (void)state;
    struct constra_intent in;
    fill(&in, 1250, CONSTRA_AGENT_OPERATOR_REVIEW, "254712345678", "Wanjir\xc5\xa9",
         "order-742", "9Two loaves");
    expect(&in, 0, "09ca3a48be41081d65437ea274a794285d4a6fe7f0108c677b9b995e0a023593");
}

static void test_key_rules(void **state)
{
    (void)state;
    constra_error e = CONSTRA_ERROR_INIT;
    assert_int_equal(constra__idem_check_key("order-7429:try.1_A", &e), CONSTRA_OK);
    char longest[CONSTRA__IDEM_KEY_MAX + 2];
    memset(longest, 'k', sizeof(longest));
    longest[CONSTRA__IDEM_KEY_MAX] = '\0';
    assert_int_equal(constra__idem_check_key(longest, &e), CONSTRA_OK);
    longest[CONSTRA__IDEM_KEY_MAX] = 'k';
    longest[CONSTRA__IDEM_KEY_MAX + 1] = '\0';
    assert_int_equal(constra__idem_check_key(longest, &e), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(e.param, "idempotency_key");
    const char *bad[] = {"", "has space", "semi;colon", "slash/", "tab\t", "\xc3\xa9"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        e = (constra_error)CONSTRA_ERROR_INIT;
        assert_int_equal(constra__idem_check_key(bad[i], &e), CONSTRA_E_INVALID_ARGUMENT);
        assert_string_equal(e.param, "idempotency_key");
    }
    assert_int_equal(constra__idem_check_key(NULL, &e), CONSTRA_E_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pinned_bytes),
        cmocka_unit_test(test_metadata_field),
        cmocka_unit_test(test_boundaries_count),
        cmocka_unit_test(test_key_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
