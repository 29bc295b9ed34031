/* Sandbox and live apart at the data level (issue 11, deliverable 6):
 * constra_open() records a storage's mode and workspace id the first time
 * and refuses a handle of the other mode with nothing written; a live
 * handle needs a real rail. On the memory storage, on SQLite files
 * (written live then opened sandbox and the reverse), on a SQLite file
 * written by 0.1 (schema version 2: tests/storage/fixtures/v01.db), and
 * with the storage failing at every metadata call. */
#define _POSIX_C_SOURCE 200809L
#include "../unit/testutil.h"

#include <stdio.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../storage/fault_storage.h"
#include "storage/resources.h"
#include "../unit/live_rail.h"
#include "../test_error.h"

#define LIVE_KEY "cs_live_workspace_mode_0001"
#define TEST_KEY "cs_test_workspace_mode_0001"

/* ---- helpers -------------------------------------------------------------- */

static void temp_path(char *out, size_t size, const char *tag)
{
    snprintf(out, size, "/tmp/constra_wsmode_%ld_%s.db", (long)getpid(), tag);
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char p[300];
        snprintf(p, sizeof(p), "%s%s", out, suffixes[i]);
        unlink(p);
    }
}

static void remove_db(const char *path)
{
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char p[300];
        snprintf(p, sizeof(p), "%s%s", path, suffixes[i]);
        unlink(p);
    }
}

static void sqlite_on(constra_storage *s, const char *path)
{
    constra_storage init = CONSTRA_STORAGE_INIT;
    *s = init;
    constra_sqlite_options o = CONSTRA_SQLITE_OPTIONS_INIT;
    o.path = path;
    constra_error err = CONSTRA_ERROR_INIT;
    if (constra_storage_sqlite(s, NULL, &o, &err) != CONSTRA_OK) {
        fail_msg("sqlite %s: %s", path, err.message);
    }
}

/* Opens a handle of `mode` on `storage` (live: the Daraja rail against
 * the emulator, in *lr, freed again when the open fails). Returns
 * constra_open's status. */
static int open_mode(constra_t **h, int mode, const constra_storage *storage, live_rail *lr,
                     constra_error *err)
{
    constra_config cfg = CONSTRA_CONFIG_INIT;
    cfg.mode = mode;
    cfg.storage = storage;
    cfg.secret_key = mode == CONSTRA_MODE_LIVE ? LIVE_KEY : TEST_KEY;
    constra_rail rail;
    if (mode == CONSTRA_MODE_LIVE) {
        live_rail_open(lr, NULL, &rail);
        cfg.rail = &rail;
    }
    int rc = constra_open(h, &cfg, err);
    if (rc != CONSTRA_OK && mode == CONSTRA_MODE_LIVE) {
        rail.destroy(rail.user_data); /* not handed over */
        live_rail_close(lr);
    }
    return rc;
}

static void close_mode(constra_t *h, int mode, live_rail *lr)
{
    constra_close(h);
    if (mode == CONSTRA_MODE_LIVE) {
        live_rail_close(lr);
    }
}

/* One SQL answer as text ("" when no row). */
static void sql_text(const char *path, const char *sql, char *out, size_t size)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    out[0] = '\0';
    if (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(out, size, "%s", t ? (const char *)t : "");
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* The workspace metadata (records of kind "meta"), "key=value,...". */
#define META_SQL                                                                          \
    "SELECT group_concat(id || '=' || CAST(document AS TEXT), ',') FROM"                  \
    " (SELECT id, document FROM rs_records WHERE kind = 'meta' ORDER BY id)"

/* Everything a file holds, as one string: what "nothing written" means. */
static void file_state(const char *path, char *out, size_t size)
{
    char a[128], b[128], c[128], d[256], e[128];
    sql_text(path, "SELECT count(*) || ':' || COALESCE(max(version), 0) FROM rs_records"
                   " WHERE kind = 'intent'", a, sizeof(a));
    sql_text(path, "SELECT count(*) || ':' || COALESCE(max(sequence), 0) FROM rs_events", b,
             sizeof(b));
    sql_text(path, "SELECT count(*) FROM rs_records WHERE kind = 'idempotency'", c, sizeof(c));
    sql_text(path, META_SQL, d, sizeof(d));
    /* The status is the first part of the intent's status_id index entry. */
    sql_text(path, "SELECT group_concat(CAST(substr(value, 1, instr(value, X'01') - 1) AS TEXT),"
                   " ',') FROM (SELECT value FROM rs_keys WHERE kind = 'intent'"
                   " AND idx = 'status_id' ORDER BY id)", e, sizeof(e));
    snprintf(out, size, "intents %s events %s idem %s meta %s statuses %s", a, b, c, d, e);
}

/* GET /v1/workspace's body on h (caller frees). */
static char *workspace_json(constra_t *h, const char *key)
{
    char auth[128];
    snprintf(auth, sizeof(auth), "Bearer %s", key);
    constra_http_header hd = {"Authorization", auth};
    constra_api_request rq = CONSTRA_API_REQUEST_INIT;
    rq.method = "GET";
    rq.target = "/v1/workspace";
    rq.headers = &hd;
    rq.header_count = 1;
    constra_api_response *r = NULL;
    assert_int_equal(constra_api_handle(h, &rq, &r, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_api_response_status(r), 200);
    char *out = strdup(constra_api_response_body(r, NULL));
    constra_api_response_free(r);
    return out;
}

/* The "workspace_id" of a /workspace body, or "null". */
static void workspace_id_of(const char *json, char *out, size_t size)
{
    const char *p = strstr(json, "\"workspace_id\":");
    assert_non_null(p);
    p += strlen("\"workspace_id\":");
    if (strncmp(p, "null", 4) == 0) {
        snprintf(out, size, "null");
        return;
    }
    assert_int_equal(*p, '"');
    const char *end = strchr(p + 1, '"');
    assert_non_null(end);
    snprintf(out, size, "%.*s", (int)(end - p - 1), p + 1);
}

static char *make_intent(constra_t *h, const char *key)
{
    constra_intent_params p = CONSTRA_INTENT_PARAMS_INIT;
    p.amount = 1250;
    p.currency = "KES";
    p.phone_number = "254712345678";
    p.reference = "order_ws";
    constra_intent *in = NULL;
    if (constra_intent_create(h, &p, key, &in, T_ERR) != CONSTRA_OK) {
        fail_msg("create: %s", t_last_error().message);
    }
    char *id = strdup(constra_intent_id(in));
    constra_intent_free(in);
    return id;
}

static void expect_mismatch(const constra_error *err, int handle_mode)
{
    assert_int_equal(err->status, CONSTRA_E_INVALID_STATE);
    assert_string_equal(err->code, "workspace_mode_mismatch");
    assert_string_equal(err->param, "config.mode");
    assert_int_equal(constra_status_http(err->status), 409);
    /* The message says which mode the data belongs to. */
    assert_non_null(strstr(err->message, handle_mode == CONSTRA_MODE_LIVE ? "sandbox data"
                                                                          : "live data"));
}

/* ---- a SQLite file: one mode, then the other -------------------------------- */

static void file_first_mode_then_other(int first)
{
    int other = first == CONSTRA_MODE_LIVE ? CONSTRA_MODE_SANDBOX : CONSTRA_MODE_LIVE;
    char path[256];
    temp_path(path, sizeof(path), first == CONSTRA_MODE_LIVE ? "live" : "sandbox");
    live_rail lr;
    constra_storage s;
    sqlite_on(&s, path);
    constra_t *h = NULL;
    assert_int_equal(open_mode(&h, first, &s, &lr, T_ERR), CONSTRA_OK);
    char *id = make_intent(h, "wsmode_1");
    char *ws = workspace_json(h, first == CONSTRA_MODE_LIVE ? LIVE_KEY : TEST_KEY);
    char wsid[64];
    workspace_id_of(ws, wsid, sizeof(wsid));
    free(ws);
    assert_int_equal(strncmp(wsid, "ws_", 3), 0);
    assert_int_equal(strlen(wsid), 29);
    close_mode(h, first, &lr);

    char want[512], before[1024], after[1024];
    snprintf(want, sizeof(want), "mode=%s,workspace_id=%s",
             first == CONSTRA_MODE_LIVE ? "live" : "sandbox", wsid);
    file_state(path, before, sizeof(before));
    assert_non_null(strstr(before, want));

    /* The other mode: refused, nothing written, the storage still ours. */
    for (int round = 0; round < 2; round++) {
        sqlite_on(&s, path);
        constra_error err = CONSTRA_ERROR_INIT;
        h = NULL;
        assert_int_equal(open_mode(&h, other, &s, &lr, &err), CONSTRA_E_INVALID_STATE);
        assert_null(h);
        expect_mismatch(&err, other);
        s.destroy(s.user_data);
        file_state(path, after, sizeof(after));
        assert_string_equal(after, before);
    }

    /* The first mode again: the same workspace, its data intact. */
    sqlite_on(&s, path);
    assert_int_equal(open_mode(&h, first, &s, &lr, T_ERR), CONSTRA_OK);
    ws = workspace_json(h, first == CONSTRA_MODE_LIVE ? LIVE_KEY : TEST_KEY);
    char again[64];
    workspace_id_of(ws, again, sizeof(again));
    free(ws);
    assert_string_equal(again, wsid);
    constra_intent *in = NULL;
    assert_int_equal(constra_intent_get(h, id, &in, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_PENDING_USER_ACTION);
    assert_non_null(strstr(constra_intent_json(in, NULL), first == CONSTRA_MODE_LIVE
                                                              ? "\"livemode\":true"
                                                              : "\"livemode\":false"));
    constra_intent_free(in);
    close_mode(h, first, &lr);
    free(id);
    remove_db(path);
}

static void test_sqlite_live_then_sandbox(void **state)
{
    (void)state;
    file_first_mode_then_other(CONSTRA_MODE_LIVE);
}

static void test_sqlite_sandbox_then_live(void **state)
{
    (void)state;
    file_first_mode_then_other(CONSTRA_MODE_SANDBOX);
}

/* ---- a file written by 0.1 (schema 2, no workspace metadata) ------------- */

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    if (in == NULL) {
        fail_msg("cannot read the fixture %s", from);
    }
    FILE *out = fopen(to, "wb");
    assert_non_null(out);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
        assert_int_equal(fwrite(buf, 1, n, out), n);
    }
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

static void test_v01_file_gets_its_mode_on_first_open(void **state)
{
    (void)state;
    const char *dir = getenv("CONSTRA_TEST_FIXTURES");
    assert_non_null(dir);
    char fixture[512], path[256], text[256];
    snprintf(fixture, sizeof(fixture), "%s/v01.db", dir);
    temp_path(path, sizeof(path), "v01");
    copy_file(fixture, path);
    sql_text(path, "SELECT value FROM meta WHERE key = 'schema_version'", text, sizeof(text));
    assert_string_equal(text, "2");

    /* 0.1 wrote it in sandbox mode and recorded no mode: the first 0.2
     * handle to open it records its own. Open it as 0.1 did, in sandbox. */
    live_rail lr;
    constra_storage s;
    sqlite_on(&s, path);
    /* Migrated by opening the storage: the 0.1 tables are gone. */
    sql_text(path, "SELECT count(*) FROM sqlite_master WHERE name IN ('intents', 'events',"
                   " 'idempotency', 'meta')", text, sizeof(text));
    assert_string_equal(text, "0");
    sql_text(path, "SELECT count(*) FROM rs_records WHERE kind = 'meta'", text, sizeof(text));
    assert_string_equal(text, "0"); /* the storage alone records nothing */
    constra_t *h = NULL;
    assert_int_equal(open_mode(&h, CONSTRA_MODE_SANDBOX, &s, &lr, T_ERR), CONSTRA_OK);
    sql_text(path, "SELECT CAST(document AS TEXT) FROM rs_records WHERE kind = 'meta'"
                   " AND id = 'mode'", text, sizeof(text));
    assert_string_equal(text, "sandbox");
    sql_text(path, "SELECT CAST(document AS TEXT) FROM rs_records WHERE kind = 'meta'"
                   " AND id = 'workspace_id'", text, sizeof(text));
    assert_int_equal(strncmp(text, "ws_", 3), 0);
    /* 0.1's data reads as before. */
    constra_intent *in = NULL;
    assert_int_equal(constra_intent_get(h, "pi_01kdvdnaz804jgexm6mhp63e90", &in, T_ERR),
                     CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_SUCCEEDED);
    constra_intent_free(in);
    constra_intent_list *l = NULL;
    constra_intent_list_params lp = CONSTRA_INTENT_LIST_PARAMS_INIT;
    lp.limit = 100;
    assert_int_equal(constra_intent_list_get(h, &lp, &l, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_intent_list_count(l), 5);
    constra_intent_list_free(l);
    close_mode(h, CONSTRA_MODE_SANDBOX, &lr);

    /* From now on a live key cannot open it. */
    char before[1024], after[1024];
    file_state(path, before, sizeof(before));
    sqlite_on(&s, path);
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(open_mode(&h, CONSTRA_MODE_LIVE, &s, &lr, &err), CONSTRA_E_INVALID_STATE);
    expect_mismatch(&err, CONSTRA_MODE_LIVE);
    s.destroy(s.user_data);
    file_state(path, after, sizeof(after));
    assert_string_equal(after, before);
    remove_db(path);
}

/* ---- live needs a real rail ------------------------------------------------ */

static int noop_collect(void *ud, const constra_rail_collect *req, constra_rail_result *out)
{
    (void)ud;
    (void)req;
    (void)out;
    return CONSTRA_E_TRANSPORT;
}

static void expect_live_refused(const constra_error *err)
{
    assert_int_equal(err->status, CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err->code, "live_needs_real_rail");
    assert_string_equal(err->param, "config.rail");
}

static void test_live_refuses_the_simulator(void **state)
{
    (void)state;
    char path[256];
    temp_path(path, sizeof(path), "livesim");
    counting_alloc ca = {0};
    constra_platform p;
    ca_platform(&p, &ca);

    /* No rail (the simulator is the default). */
    constra_config cfg = CONSTRA_CONFIG_INIT;
    cfg.platform = &p;
    cfg.mode = CONSTRA_MODE_LIVE;
    cfg.secret_key = LIVE_KEY;
    constra_storage s;
    sqlite_on(&s, path);
    cfg.storage = &s;
    constra_t *h = NULL;
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_open(&h, &cfg, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_null(h);
    expect_live_refused(&err);

    /* The simulator itself: refused, and still the caller's. */
    constra_rail sim;
    constra_rail_init(&sim, sizeof(sim));
    assert_int_equal(constra_rail_sim(&sim, NULL, NULL, NULL), CONSTRA_OK);
    cfg.rail = &sim;
    err = (constra_error)CONSTRA_ERROR_INIT;
    assert_int_equal(constra_open(&h, &cfg, &err), CONSTRA_E_INVALID_ARGUMENT);
    expect_live_refused(&err);
    /* ... renamed, it is still the simulator. */
    strcpy(sim.name, "mpesa");
    err = (constra_error)CONSTRA_ERROR_INIT;
    assert_int_equal(constra_open(&h, &cfg, &err), CONSTRA_E_INVALID_ARGUMENT);
    expect_live_refused(&err);
    sim.destroy(sim.user_data);

    /* A wrapper of it that reports the name "sim". */
    constra_rail wrapper;
    constra_rail_init(&wrapper, sizeof(wrapper));
    strcpy(wrapper.name, "sim");
    wrapper.collect = noop_collect;
    cfg.rail = &wrapper;
    err = (constra_error)CONSTRA_ERROR_INIT;
    assert_int_equal(constra_open(&h, &cfg, &err), CONSTRA_E_INVALID_ARGUMENT);
    expect_live_refused(&err);
    assert_int_equal(ca.live, 0);  /* nothing left allocated */
    assert_int_equal(ca.destroyed, 0);

    /* Nothing was recorded: the file can still become a sandbox one. */
    char text[128];
    s.destroy(s.user_data);
    sql_text(path, "SELECT count(*) FROM rs_records WHERE kind = 'meta'", text, sizeof(text));
    assert_string_equal(text, "0");

    /* The same simulator in sandbox is fine, and so is a host rail in live. */
    cfg.mode = CONSTRA_MODE_SANDBOX;
    cfg.secret_key = TEST_KEY;
    cfg.rail = NULL;
    cfg.storage = NULL;
    assert_int_equal(constra_open(&h, &cfg, T_ERR), CONSTRA_OK);
    constra_close(h);
    constra_rail host;
    constra_rail_init(&host, sizeof(host));
    strcpy(host.name, "mpesa");
    host.collect = noop_collect;
    cfg.rail = &host;
    cfg.mode = CONSTRA_MODE_LIVE;
    cfg.secret_key = LIVE_KEY;
    ca.destroyed = 0;
    assert_int_equal(constra_open(&h, &cfg, T_ERR), CONSTRA_OK);
    constra_close(h);
    assert_int_equal(ca.live, 0);
    remove_db(path);
}

/* ---- storage failures ---------------------------------------------------- */

static void test_metadata_failure_at_every_call(void **state)
{
    (void)state;
    int opened = 0;
    for (long n = 1; n <= 6; n++) {
        fault_storage f;
        memset(&f, 0, sizeof(f));
        f.forward_meta = 1;
        constra_storage mem = CONSTRA_STORAGE_INIT, wrapped;
        assert_int_equal(constra_storage_memory(&mem, NULL, NULL), CONSTRA_OK);
        fault_storage_wrap(&f, &mem, &wrapped);
        f.fail_at = n;
        constra_config cfg = CONSTRA_CONFIG_INIT;
        cfg.storage = &wrapped;
        constra_t *h = NULL;
        constra_error err = CONSTRA_ERROR_INIT;
        int rc = constra_open(&h, &cfg, &err);
        if (rc == CONSTRA_OK) {
            opened++;
            assert_int_equal(f.failures, 0); /* past the last metadata call */
            constra_close(h);
            assert_int_equal(f.destroyed, 1);
        } else {
            assert_null(h);
            assert_int_equal(rc, CONSTRA_E_STORAGE);
            assert_string_equal(err.param, "config.storage");
            assert_int_equal(f.destroyed, 0); /* still the caller's */
            /* What was recorded before the failure is right: a retry opens. */
            f.fail_at = 0;
            assert_int_equal(constra_open(&h, &cfg, T_ERR), CONSTRA_OK);
            constra_close(h);
        }
        assert_true(f.calls <= 4 + 4); /* get+put per key, twice at most */
    }
    assert_int_equal(opened, 2); /* four metadata calls on a fresh storage */
}

static int copy_meta(void *ctx, const char *value)
{
    snprintf(ctx, 128, "%s", value);
    return 0;
}

/* A storage whose stored mode is neither "sandbox" nor "live" (written by
 * something else): refused in both modes, never overwritten. */
static void test_unknown_stored_mode(void **state)
{
    (void)state;
    char path[256], text[128];
    temp_path(path, sizeof(path), "odd");
    constra_storage s;
    sqlite_on(&s, path);
    constra__res_table res;
    assert_int_equal(constra__res_open(&res, NULL, &s, T_ERR), CONSTRA_OK);
    assert_int_equal(res.meta_put_if_absent(res.user_data, "mode", "staging", NULL, NULL),
                     CONSTRA_OK);
    res.destroy(res.user_data);
    live_rail lr;
    for (int mode = 0; mode <= 1; mode++) {
        sqlite_on(&s, path);
        constra_t *h = NULL;
        constra_error err = CONSTRA_ERROR_INIT;
        assert_int_equal(open_mode(&h, mode, &s, &lr, &err), CONSTRA_E_INVALID_STATE);
        assert_string_equal(err.code, "workspace_mode_mismatch");
        assert_non_null(strstr(err.message, "another mode's data"));
        s.destroy(s.user_data);
    }
    sqlite_on(&s, path);
    assert_int_equal(constra__res_open(&res, NULL, &s, T_ERR), CONSTRA_OK);
    assert_int_equal(res.meta_get(res.user_data, "mode", copy_meta, text), CONSTRA_OK);
    assert_string_equal(text, "staging");
    assert_int_equal(res.meta_get(res.user_data, "workspace_id", copy_meta, text),
                     CONSTRA_E_NOT_FOUND);
    res.destroy(res.user_data);
    remove_db(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sqlite_live_then_sandbox),
        cmocka_unit_test(test_sqlite_sandbox_then_live),
        cmocka_unit_test(test_v01_file_gets_its_mode_on_first_open),
        cmocka_unit_test(test_live_refuses_the_simulator),
        cmocka_unit_test(test_metadata_failure_at_every_call),
        cmocka_unit_test(test_unknown_stored_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
