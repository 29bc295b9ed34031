/* Intent metadata (intent.h, constra_intent_params.metadata) through the
 * public API, on memory storage and on a SQLite file: stored in one
 * canonical form and read back the same after a restart, echoed in every
 * event, part of the idempotency request (another order of the same keys
 * is the same request; other values are not), and every malformed or
 * oversized object refused with its parameter and nothing stored. */
#define _POSIX_C_SOURCE 200809L
#include "../unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../test_error.h"
#include "constra/storage_sqlite.h"

#include <cjson/cJSON.h>

typedef struct env {
    constra_t *h;
    char db_path[64]; /* "" on memory */
} env;

static void open_handle(env *v)
{
    constra_storage st = CONSTRA_STORAGE_INIT;
    if (v->db_path[0] == '\0') {
        assert_int_equal(constra_storage_memory(&st, NULL, T_ERR), CONSTRA_OK);
    } else {
        constra_sqlite_options o = CONSTRA_SQLITE_OPTIONS_INIT;
        o.path = v->db_path;
        o.synchronous = CONSTRA_SQLITE_SYNC_NORMAL;
        assert_int_equal(constra_storage_sqlite(&st, NULL, &o, T_ERR), CONSTRA_OK);
    }
    constra_config cfg = CONSTRA_CONFIG_INIT;
    cfg.storage = &st;
    if (constra_open(&v->h, &cfg, T_ERR) != CONSTRA_OK) {
        fail_msg("open: %s", t_last_error().message);
    }
}

static env *open_env(int on_sqlite)
{
    env *v = calloc(1, sizeof(*v));
    if (on_sqlite) {
        if (!constra_feature_enabled("sqlite")) {
            free(v);
            return NULL;
        }
        snprintf(v->db_path, sizeof(v->db_path), "/tmp/constra-metadata-XXXXXX");
        int fd = mkstemp(v->db_path);
        assert_true(fd >= 0);
        close(fd);
    }
    open_handle(v);
    return v;
}

static void close_env(env *v)
{
    constra_close(v->h);
    if (v->db_path[0] != '\0') {
        static const char *const suffixes[] = {"", "-wal", "-shm"};
        for (size_t i = 0; i < 3; i++) {
            char p[80];
            snprintf(p, sizeof(p), "%s%s", v->db_path, suffixes[i]);
            unlink(p);
        }
    }
    free(v);
}

static int create(env *v, const char *metadata, const char *key, constra_intent **out)
{
    constra_intent_params p = CONSTRA_INTENT_PARAMS_INIT;
    p.amount = 1250;
    p.currency = "KES";
    p.phone_number = "0712345678";
    p.reference = "order-7429";
    p.metadata = metadata;
    return constra_intent_create(v->h, &p, key, out, T_ERR);
}

static size_t stored_count(env *v)
{
    constra_intent_list *l = NULL;
    constra_intent_list_params lp = CONSTRA_INTENT_LIST_PARAMS_INIT;
    lp.limit = 100;
    assert_int_equal(constra_intent_list_get(v->h, &lp, &l, T_ERR), CONSTRA_OK);
    size_t n = constra_intent_list_count(l);
    constra_intent_list_free(l);
    return n;
}

/* The "metadata" member of a JSON document, printed unformatted. */
static char *metadata_of(const char *json)
{
    cJSON *doc = cJSON_Parse(json);
    assert_non_null(doc);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(doc, "metadata");
    if (m == NULL) {
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(doc, "data");
        const cJSON *obj = cJSON_GetObjectItemCaseSensitive(data, "object");
        m = cJSON_GetObjectItemCaseSensitive(obj ? obj : data, "metadata");
    }
    assert_non_null(m);
    char *s = cJSON_PrintUnformatted(m);
    cJSON_Delete(doc);
    return s;
}

static const char canonical[] = "{\"order_id\":\"7429\",\"till\":\"A\xc3\xa9\"}";

static void expect_metadata(const constra_intent *in, const char *want)
{
    size_t len = 0;
    const char *m = constra_intent_metadata_json(in, &len);
    assert_string_equal(m, want);
    assert_int_equal(len, strlen(want));
    char *from_json = metadata_of(constra_intent_json(in, NULL));
    assert_string_equal(from_json, want);
    free(from_json);
}

/* Every event of the intent carries the intent's metadata. */
static void expect_events_carry(env *v, const char *id, const char *want, size_t min_events)
{
    constra_event_list *ev = NULL;
    assert_int_equal(constra_event_list_get(v->h, id, &ev, T_ERR), CONSTRA_OK);
    size_t n = constra_event_list_count(ev);
    assert_true(n >= min_events);
    for (size_t i = 0; i < n; i++) {
        char *m = metadata_of(constra_event_list_event_json(ev, i));
        if (strcmp(m, want) != 0) {
            fail_msg("event %s: metadata %s, want %s", constra_event_list_type(ev, i), m, want);
        }
        free(m);
    }
    constra_event_list_free(ev);
}

static void round_trip(int on_sqlite)
{
    env *v = open_env(on_sqlite);
    if (v == NULL) {
        skip();
    }
    constra_intent *in = NULL;
    /* Out of order, with an empty value (left out, as Stripe does). */
    assert_int_equal(create(v, " { \"till\" : \"A\\u00e9\", \"gone\": \"\", \"order_id\": \"7429\" } ",
                            "meta-1", &in),
                     CONSTRA_OK);
    char id[CONSTRA_ID_SIZE];
    snprintf(id, sizeof(id), "%s", constra_intent_id(in));
    expect_metadata(in, canonical);
    constra_intent_free(in);

    assert_int_equal(constra_intent_simulate_callback(v->h, id, "0", NULL, &in, T_ERR),
                     CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_SUCCEEDED);
    expect_metadata(in, canonical);
    constra_intent_free(in);
    expect_events_carry(v, id, canonical, 2);

    /* Without metadata: {} in the intent and its events. */
    assert_int_equal(create(v, NULL, "meta-none", &in), CONSTRA_OK);
    char plain[CONSTRA_ID_SIZE];
    snprintf(plain, sizeof(plain), "%s", constra_intent_id(in));
    expect_metadata(in, "{}");
    constra_intent_free(in);
    expect_events_carry(v, plain, "{}", 1);

    if (on_sqlite) { /* a restart reads the same bytes back */
        constra_close(v->h);
        v->h = NULL;
        open_handle(v);
    }
    assert_int_equal(constra_intent_get(v->h, id, &in, T_ERR), CONSTRA_OK);
    expect_metadata(in, canonical);
    constra_intent_free(in);
    expect_events_carry(v, id, canonical, 2);
    assert_int_equal(constra_intent_get(v->h, plain, &in, T_ERR), CONSTRA_OK);
    expect_metadata(in, "{}");
    constra_intent_free(in);

    /* The same request again, keys in another order: a replay. */
    assert_int_equal(create(v, "{\"order_id\":\"7429\",\"till\":\"A\xc3\xa9\"}", "meta-1", &in),
                     CONSTRA_OK);
    assert_true(constra_intent_replayed(in));
    assert_string_equal(constra_intent_id(in), id);
    constra_intent_free(in);
    /* {} and all-empty values are no metadata: replays of "meta-none". */
    const char *none_alike[] = {"{}", "{\"x\":\"\"}"};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(create(v, none_alike[i], "meta-none", &in), CONSTRA_OK);
        assert_true(constra_intent_replayed(in));
        assert_string_equal(constra_intent_id(in), plain);
        constra_intent_free(in);
    }
    /* Other metadata under a used key: 409, whichever way it differs. */
    const char *other[] = {"{\"order_id\":\"7429\",\"till\":\"A\"}",
                           "{\"order_id\":\"7429\"}",
                           "{\"order_id\":\"7429\",\"till\":\"A\xc3\xa9\",\"x\":\"1\"}", NULL};
    for (size_t i = 0; i < 4; i++) {
        in = NULL;
        assert_int_equal(create(v, other[i], "meta-1", &in), CONSTRA_E_CONFLICT);
        assert_null(in);
        assert_string_equal(t_last_error().code, "idempotency_key_reused");
    }
    in = NULL;
    assert_int_equal(create(v, "{\"a\":\"1\"}", "meta-none", &in), CONSTRA_E_CONFLICT);
    assert_string_equal(t_last_error().code, "idempotency_key_reused");
    assert_int_equal(stored_count(v), 2);
    close_env(v);
}

static void test_round_trip_memory(void **state)
{
    (void)state;
    round_trip(0);
}

static void test_round_trip_sqlite(void **state)
{
    (void)state;
    round_trip(1);
}

/* n keys "k00".., each with value `value`. */
static char *object_of(size_t n, const char *value)
{
    size_t cap = 16 + n * (strlen(value) + 16);
    char *s = malloc(cap);
    size_t off = (size_t)snprintf(s, cap, "{");
    for (size_t i = 0; i < n; i++) {
        off += (size_t)snprintf(s + off, cap - off, "%s\"k%02zu\":\"%s\"", i ? "," : "", i,
                                value);
    }
    snprintf(s + off, cap - off, "}");
    return s;
}

static char *repeat(const char *unit, size_t times, const char *pre, const char *post)
{
    size_t cap = strlen(pre) + strlen(unit) * times + strlen(post) + 1;
    char *s = malloc(cap);
    strcpy(s, pre);
    for (size_t i = 0; i < times; i++) {
        strcat(s, unit);
    }
    strcat(s, post);
    return s;
}

static void refuse(env *v, const char *metadata, const char *param)
{
    constra_intent *in = NULL;
    int rc = create(v, metadata, "meta-bad", &in);
    if (rc != CONSTRA_E_INVALID_ARGUMENT) {
        fail_msg("metadata %.80s: rc %d, want invalid argument", metadata, rc);
    }
    assert_null(in);
    constra_error e = t_last_error();
    assert_string_equal(e.code, "parameter_invalid");
    if (strcmp(e.param, param) != 0) {
        fail_msg("metadata %.80s: param '%s', want '%s' (%s)", metadata, e.param, param,
                 e.message);
    }
    assert_true(e.message[0] != '\0');
}

static void accept(env *v, const char *metadata, const char *key)
{
    constra_intent *in = NULL;
    if (create(v, metadata, key, &in) != CONSTRA_OK) {
        fail_msg("metadata %.80s refused: %s", metadata, t_last_error().message);
    }
    constra_intent_free(in);
}

static void limits(int on_sqlite)
{
    env *v = open_env(on_sqlite);
    if (v == NULL) {
        skip();
    }
    char *fifty = object_of(50, "v"), *fifty_one = object_of(51, "v");
    char *fifty_one_empty = object_of(51, "");
    char *key40 = repeat("k", 40, "{\"", "\":\"v\"}"), *key41 = repeat("k", 41, "{\"", "\":\"v\"}");
    char *key40_wide = repeat("\xc3\xa9", 40, "{\"", "\":\"v\"}");
    char *val500 = repeat("v", 500, "{\"k\":\"", "\"}"), *val501 = repeat("v", 501, "{\"k\":\"", "\"}");
    char *val500_wide = repeat("\xe2\x82\xac", 500, "{\"k\":\"", "\"}");
    char *val501_wide = repeat("\\u20ac", 501, "{\"k\":\"", "\"}");

    accept(v, fifty, "lim-50");
    accept(v, key40, "lim-k40");
    accept(v, key40_wide, "lim-k40w");
    accept(v, val500, "lim-v500");
    accept(v, val500_wide, "lim-v500w");
    size_t stored = stored_count(v);
    assert_int_equal(stored, 5);

    refuse(v, fifty_one, "metadata");
    refuse(v, key41, "metadata");
    refuse(v, val501, "metadata.k");
    refuse(v, val501_wide, "metadata.k");
    refuse(v, "{\"k\":1}", "metadata.k");
    refuse(v, "{\"k\":true}", "metadata.k");
    refuse(v, "{\"k\":null}", "metadata.k");
    refuse(v, "{\"k\":{\"n\":\"v\"}}", "metadata.k");
    refuse(v, "{\"k\":[\"v\"]}", "metadata.k");
    refuse(v, "[\"k\",\"v\"]", "metadata");
    refuse(v, "\"k=v\"", "metadata");
    refuse(v, "42", "metadata");
    refuse(v, "{\"k\":\"v\"", "metadata");
    refuse(v, "{\"k\":\"v\"} {}", "metadata");
    refuse(v, "", "metadata");
    refuse(v, "{\"k\":\"1\",\"k\":\"2\"}", "metadata.k");
    refuse(v, "{\"\":\"v\"}", "metadata");
    refuse(v, "{\"a[0]\":\"v\"}", "metadata.a[0]");
    refuse(v, "{\"k\":\"\xff\"}", "metadata.k");
    refuse(v, "{\"k\":\"\xed\xa0\x80\"}", "metadata.k"); /* a surrogate as UTF-8 */
    refuse(v, "{\"k\":\"\\ud800\"}", "metadata");      /* a lone surrogate escape */
    refuse(v, "{\"k\":\"a\\u0000b\"}", "metadata");    /* would cut the value */
    refuse(v, "{\"\xc0\xaf\":\"v\"}", "metadata");       /* overlong form */
    /* An empty value leaves its key out, but still counts as given:
     * towards the 50, and a key given twice, once empty, is refused. */
    refuse(v, fifty_one_empty, "metadata");
    refuse(v, "{\"k\":\"\",\"k\":\"v\"}", "metadata.k");

    assert_int_equal(stored_count(v), stored);
    /* A refused request reserved nothing: its key then works afresh. */
    constra_intent *in = NULL;
    assert_int_equal(create(v, "{\"k\":\"v\"}", "meta-bad", &in), CONSTRA_OK);
    assert_false(constra_intent_replayed(in));
    constra_intent_free(in);

    free(fifty);
    free(fifty_one);
    free(fifty_one_empty);
    free(key40);
    free(key41);
    free(key40_wide);
    free(val500);
    free(val501);
    free(val500_wide);
    free(val501_wide);
    close_env(v);
}

static void test_limits_memory(void **state)
{
    (void)state;
    limits(0);
}

static void test_limits_sqlite(void **state)
{
    (void)state;
    limits(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_memory),
        cmocka_unit_test(test_round_trip_sqlite),
        cmocka_unit_test(test_limits_memory),
        cmocka_unit_test(test_limits_sqlite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
