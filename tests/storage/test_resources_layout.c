/* The resource layer over a storage written before the due index (0.2's
 * generic storages, PostgreSQL): a pending delivery stored without its due
 * entry is invisible to the due listing until constra__res_reindex_deliveries
 * writes it again with one, once, compare-and-set; a marker record makes
 * later calls a single read. */
#include "../unit/testutil.h"

#include "platform/platform.h"
#include "storage/migrate_legacy.h"
#include "storage/resources.h"

static int count_dl(void *ctx, const constra__res_delivery *d)
{
    (void)d;
    (*(int *)ctx)++;
    return 0;
}

static int due_count(const constra__res_table *t)
{
    int n = 0;
    constra__res_delivery_query q = {sizeof(q), NULL, NULL, "pending", 1000, NULL, 100, 0};
    assert_int_equal(constra__res_delivery_list(t, &q, count_dl, &n), CONSTRA_OK);
    return n;
}

static int64_t version_of(const constra_storage *raw, const char *kind, const char *id);

static int grab_version(void *ctx, const constra_record *r)
{
    *(int64_t *)ctx = r->version;
    return 0;
}

static int64_t version_of(const constra_storage *raw, const char *kind, const char *id)
{
    int64_t v = 0;
    assert_int_equal(raw->get(raw->user_data, kind, id, 0, grab_version, &v), CONSTRA_OK);
    return v;
}

static void test_old_delivery_reindexed_once(void **state)
{
    (void)state;
    constra_storage raw = CONSTRA_STORAGE_INIT;
    assert_int_equal(constra_storage_memory(&raw, NULL, NULL), CONSTRA_OK);
    constra_platform p;
    assert_int_equal(constra__platform_resolve(&p, NULL, NULL), CONSTRA_OK);
    /* As 0.2 wrote it: the endpoint, state and pair entries, no due. */
    constra__res_delivery d = {sizeof(d), "whd_old", "we_1", "evt_1", "payment_intent.created",
                               1, "pending", 0, 0, "", 500, 100, 100, 1, "{}", 2, "[]", 2};
    size_t len = 0;
    char *doc = constra__on_records_delivery_doc(&p, &d, &len);
    assert_non_null(doc);
    constra_record_key keys[3] = {{"endpoint", "we_1\x01whd_old", 0},
                                  {"state", "pending\x01whd_old", 0},
                                  {"pair", "we_1\x01evt_1", 1}};
    constra_record rec = {sizeof(rec), "wh_delivery", "whd_old", 0, 0, doc, len, keys, 3};
    constra_record_op op = {CONSTRA_RECORD_PUT, &rec, 0};
    constra_record_commit c = {sizeof(c), 0, &op, 1, NULL, 0};
    assert_int_equal(raw.commit(raw.user_data, &c, NULL), CONSTRA_OK);
    constra__free(&p, doc);

    constra__res_table t;
    assert_int_equal(constra__res_open(&t, NULL, &raw, NULL), CONSTRA_OK);
    assert_int_equal(due_count(&t), 0); /* no due entry: not found by it */
    assert_int_equal(constra__res_reindex_deliveries(&t), CONSTRA_OK);
    assert_int_equal(due_count(&t), 1);
    assert_int_equal(version_of(&raw, "wh_delivery", "whd_old"), 2);
    assert_int_equal(version_of(&raw, "meta", "layout_delivery_due"), 1);
    /* Done once: a second call writes nothing. */
    assert_int_equal(constra__res_reindex_deliveries(&t), CONSTRA_OK);
    assert_int_equal(version_of(&raw, "wh_delivery", "whd_old"), 2);
    t.destroy(t.user_data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_old_delivery_reindexed_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
