/* The decoded-intent cache (lib/engine/cache.h): a cached model must be
 * exactly what parsing the stored document gives, for intents in every
 * status, and a write by another handle on the same storage must never be
 * masked by a stale entry. */
#include "../unit/testutil.h"

#include <stdio.h>

#include "engine/cache.h"
#include "engine/engine.h"
#include "engine/model.h"
#include "platform/platform.h"
#include "../test_error.h"

static constra_intent_params params(const char *phone, const char *reference)
{
    constra_intent_params p = CONSTRA_INTENT_PARAMS_INIT;
    p.amount = 1250;
    p.currency = "KES";
    p.customer_name = "Amina N. \"Ami\" \xc3\xa9";
    p.phone_number = phone;
    p.reference = reference;
    p.description = "Solar home kit deposit \\ 50% \"now\"";
    return p;
}

typedef struct doc_ctx {
    char *doc;
    size_t len;
    int64_t version;
} doc_ctx;

static int grab_doc(void *ctx, const constra__res_intent *row)
{
    doc_ctx *d = ctx;
    d->doc = malloc(row->document_len + 1);
    memcpy(d->doc, row->document, row->document_len);
    d->doc[row->document_len] = '\0';
    d->len = row->document_len;
    d->version = row->version;
    return 1;
}

/* The stored rendering of the cached model equals that of the parsed
 * stored document (the stored form carries every field the engine keeps). */
static int check_one(constra_t *h, const char *id)
{
    doc_ctx d = {0};
    assert_int_equal(h->storage.get_intent(h->storage.user_data, id, grab_doc, &d), CONSTRA_OK);
    struct constra_intent parsed, cached;
    memset(&parsed, 0, sizeof(parsed));
    memset(&cached, 0, sizeof(cached));
    parsed.platform = h->platform;
    cached.platform = h->platform;
    assert_int_equal(constra__model_parse(&parsed, d.doc, d.len), CONSTRA_OK);
    parsed.version = d.version;
    int hit = constra__cache_get(h, id, d.version, &cached);
    if (hit) {
        size_t a_len, b_len;
        char *a = constra__model_json(&parsed, 1, &h->platform, &a_len);
        char *b = constra__model_json(&cached, 1, &h->platform, &b_len);
        assert_non_null(a);
        assert_non_null(b);
        assert_string_equal(a, b);
        assert_int_equal(parsed.version, cached.version);
        assert_int_equal(parsed.status, cached.status);
        assert_int_equal(parsed.due_at_ms, cached.due_at_ms);
        assert_int_equal(parsed.attempt_count, cached.attempt_count);
        constra__free(&h->platform, a);
        constra__free(&h->platform, b);
        /* The public JSON kept with it is the parsed document's too. */
        size_t c_len = 0, p_len = 0;
        char *c = constra__cache_json(h, id, d.version, &c_len);
        char *pub = constra__model_json(&parsed, 0, &h->platform, &p_len);
        assert_non_null(c);
        assert_string_equal(c, pub);
        assert_int_equal(c_len, p_len);
        constra__free(&h->platform, c);
        constra__free(&h->platform, pub);
        assert_null(constra__cache_json(h, id, d.version + 1, &c_len));
    }
    free(d.doc);
    return hit;
}

static void test_cached_equals_parsed(void **state)
{
    (void)state;
    constra_config cfg = CONSTRA_CONFIG_INIT;
    cfg.max_attempts = 3;
    constra_t *h = NULL;
    assert_int_equal(constra_open(&h, &cfg, NULL), CONSTRA_OK);
    /* One intent per shape: pending, cancelled-then-recovering, retried and
     * paid, failed (insufficient funds), draft, cancelled by the operator,
     * resolved from review. */
    const char *phones[] = {"254700000001", "254700000002", "254700000003", "254700000004",
                            "254700000005", "254700000006", "254700000007"};
    char ids[7][CONSTRA_ID_SIZE];
    for (int i = 0; i < 7; i++) {
        char key[32], ref[32];
        snprintf(key, sizeof(key), "cache-%d", i);
        snprintf(ref, sizeof(ref), "order_%d", i);
        constra_intent_params p = params(phones[i], ref);
        p.draft = i == 4;
        constra_intent *in = NULL;
        assert_int_equal(constra_intent_create(h, &p, key, &in, T_ERR), CONSTRA_OK);
        snprintf(ids[i], sizeof(ids[i]), "%s", constra_intent_id(in));
        constra_intent_free(in);
    }
    constra_intent *out = NULL;
    assert_int_equal(constra_intent_simulate_callback(h, ids[1], "1032", "Request cancelled by user.", &out, T_ERR), CONSTRA_OK);
    constra_intent_free(out);
    assert_int_equal(constra_intent_simulate_callback(h, ids[2], "1032", NULL, &out, T_ERR), CONSTRA_OK);
    constra_intent_free(out);
    assert_int_equal(constra_intent_retry(h, ids[2], &out, T_ERR), CONSTRA_OK);
    constra_intent_free(out);
    assert_int_equal(constra_intent_simulate_callback(h, ids[2], "0", NULL, &out, T_ERR), CONSTRA_OK);
    constra_intent_free(out);
    assert_int_equal(constra_intent_simulate_callback(h, ids[3], "1", NULL, &out, T_ERR), CONSTRA_OK);
    constra_intent_free(out);
    assert_int_equal(constra_intent_cancel(h, ids[5], &out, T_ERR), CONSTRA_OK);
    constra_intent_free(out);
    assert_int_equal(constra_intent_simulate_callback(h, ids[6], "2001", NULL, &out, T_ERR), CONSTRA_OK);
    constra_intent_free(out);

    int hits = 0;
    for (int i = 0; i < 7; i++) {
        hits += check_one(h, ids[i]);
    }
    /* 7 ids in 16 direct-mapped slots: most must be there, or the cache
     * is not being filled at all. */
    assert_true(hits >= 4);
    constra_close(h);
}

/* A write through another handle on the same storage moves the version
 * on; this handle's entry for the old version must not be served. */
static void test_other_writer_not_masked(void **state)
{
    (void)state;
    constra_storage shared = CONSTRA_STORAGE_INIT;
    assert_int_equal(constra_storage_memory(&shared, NULL, NULL), CONSTRA_OK);
    constra_storage borrowed = shared;
    borrowed.destroy = NULL; /* handle A owns it */
    constra_config a_cfg = CONSTRA_CONFIG_INIT, b_cfg = CONSTRA_CONFIG_INIT;
    a_cfg.storage = &shared;
    b_cfg.storage = &borrowed;
    constra_t *a = NULL, *b = NULL;
    assert_int_equal(constra_open(&a, &a_cfg, NULL), CONSTRA_OK);
    assert_int_equal(constra_open(&b, &b_cfg, NULL), CONSTRA_OK);

    constra_intent_params p = params("254700000009", "order_x");
    constra_intent *in = NULL, *seen = NULL;
    assert_int_equal(constra_intent_create(a, &p, "shared-1", &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_PENDING_USER_ACTION);
    /* A has the pending version cached; B settles it. */
    constra_intent *paid = NULL;
    assert_int_equal(constra_intent_simulate_callback(b, constra_intent_id(in), "0", NULL, &paid, T_ERR),
                     CONSTRA_OK);
    assert_int_equal(constra_intent_status(paid), CONSTRA_INTENT_SUCCEEDED);
    assert_int_equal(constra_intent_get(a, constra_intent_id(in), &seen, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(seen), CONSTRA_INTENT_SUCCEEDED);
    assert_string_equal(constra_intent_receipt(seen), constra_intent_receipt(paid));
    /* And A acting on it sees the settled state, not its cached pending. */
    constra_intent *again = NULL;
    assert_int_equal(constra_intent_cancel(a, constra_intent_id(in), &again, T_ERR),
                     CONSTRA_E_INVALID_STATE);
    constra_intent_free(in);
    constra_intent_free(seen);
    constra_intent_free(paid);
    constra_close(b);
    constra_close(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cached_equals_parsed),
        cmocka_unit_test(test_other_writer_not_masked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
