/* Files of the old SQLite storage (lib/storage/sqlite.c) opened with the
 * SQLite record store, which migrates them in place
 * (lib/storage/migrate_legacy.c): the file libconstra 0.1 wrote
 * (fixtures/v01.db) and a schema-5 one with every resource
 * (fixtures/v05.db) read back through constra__res_open()
 * exactly as the old storage reads them (legacy_dump.c prints both
 * sides), the 0.1 keys replay through the engine, a migrated file
 * reopens as records, and a file of a newer old schema or with a row the
 * record store cannot hold is refused and left byte for byte as it was. */
#define _POSIX_C_SOURCE 200809L
#include "../unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <sqlite3.h>

#include "constra/storage_sqlite.h"
#include "legacy_dump.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define V01_NOW (INT64_C(1767225616000) + 120000) /* two leases after 0.1 stopped */

static const char *const v01_keys[] = {"fx-pending", "fx-succeeded", "fx-recovery", "fx-draft",
                                       "fx-cancelled", "fx-inflight", NULL};
static const char *const v01_meta[] = {"mode", "workspace_id", NULL};
static const char *const v05_keys[] = {V05_IDEM_KEYS, NULL};
static const char *const v05_meta[] = {V05_META_KEYS, NULL};

/* ---- files ------------------------------------------------------------- */

static char paths[4][64];
static size_t npaths;

static void remove_all(void)
{
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < npaths; i++) {
        for (size_t j = 0; j < 3; j++) {
            char p[320];
            snprintf(p, sizeof(p), "%s%s", paths[i], suffixes[j]);
            unlink(p);
        }
    }
    npaths = 0;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = NULL;
    size_t n = 0, cap = 0, got;
    char chunk[8192];
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (n + got + 1 > cap) {
            cap = (n + got + 1) * 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        memcpy(buf + n, chunk, got);
        n += got;
    }
    fclose(f);
    if (buf == NULL) {
        buf = calloc(1, 1);
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static const char *fixture(const char *name)
{
    static char p[512];
    const char *vec = getenv("CONSTRA_VECTORS");
    assert_non_null(vec);
    snprintf(p, sizeof(p), "%s/../storage/fixtures/%s", vec, name);
    return p;
}

/* A fresh temporary copy of a fixture. */
static const char *copy_of(const char *name)
{
    assert_true(npaths < 4);
    char *path = paths[npaths++];
    snprintf(path, sizeof(paths[0]), "/tmp/constra-legacy-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    size_t len;
    char *bytes = read_all(fixture(name), &len);
    FILE *to = fopen(path, "wb");
    assert_non_null(to);
    assert_int_equal(fwrite(bytes, 1, len, to), len);
    assert_int_equal(fclose(to), 0);
    free(bytes);
    return path;
}

static void sql(const char *path, const char *text)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, text, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "sql: %s\n", msg ? msg : "?");
    }
    sqlite3_free(msg);
    assert_int_equal(rc, SQLITE_OK);
    sqlite3_close(db);
}

/* One integer a query returns. */
static int64_t sql_int(const char *path, const char *text)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, text, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* ---- the two readers --------------------------------------------------- */

static int open_records(constra__res_table *st, const char *path, constra_error *err)
{
    constra_storage rs = CONSTRA_STORAGE_INIT;
    constra_sqlite_options so = CONSTRA_SQLITE_OPTIONS_INIT;
    so.path = path;
    int rc = constra_storage_sqlite(&rs, NULL, &so, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    rc = constra__res_open(st, NULL, &rs, err);
    if (rc != CONSTRA_OK) {
        rs.destroy(rs.user_data);
    }
    return rc;
}

static char *dump_of(const constra__res_table *st, int64_t now, const char *const *keys,
                     const char *const *meta)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(legacy_dump(st, now, keys, meta, f), 0);
    long n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void assert_same_dump(const char *want, const char *got)
{
    if (strcmp(want, got) != 0) {
        fprintf(stderr, "--- old storage\n%s--- migrated\n%s", want, got);
    }
    assert_string_equal(want, got);
}

/* The old storage's tables are gone, the record store's are there. */
static void assert_migrated(const char *path)
{
    assert_int_equal(sql_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND"
                                   " name IN ('meta', 'intents', 'events', 'idempotency',"
                                   " 'webhook_endpoints', 'webhook_deliveries',"
                                   " 'intent_checkouts', 'workspace_meta')"),
                     0);
    assert_int_equal(sql_int(path, "SELECT value FROM rs_meta WHERE key = 'schema'"), 1);
}

/* ---- the 0.1 file ------------------------------------------------------ */

typedef struct seen {
    int count, stop;
    char id[80], status[64], last_type[64], secret[64], url[128];
    int64_t seq[64], cursor, expires, lease;
    int state, http, delivered, pending, attempts_other;
} seen;

static int on_intent(void *ctx, const constra__res_intent *in)
{
    seen *s = ctx;
    s->count++;
    snprintf(s->id, sizeof(s->id), "%s", in->id);
    snprintf(s->status, sizeof(s->status), "%s", in->status);
    return 0;
}

static int on_event(void *ctx, const constra__res_event *e)
{
    seen *s = ctx;
    if (s->count < 64) {
        s->seq[s->count] = e->sequence;
    }
    s->count++;
    snprintf(s->last_type, sizeof(s->last_type), "%s", e->type);
    return 0;
}

static int on_idem(void *ctx, const constra__res_idempotency *r)
{
    seen *s = ctx;
    s->count++;
    s->state = r->state;
    s->http = r->http_status;
    s->expires = r->expires_at_ms;
    s->lease = r->lease_expires_at_ms;
    snprintf(s->id, sizeof(s->id), "%s", r->fingerprint);
    return 0;
}

static int on_endpoint(void *ctx, const constra__res_endpoint *ep)
{
    seen *s = ctx;
    s->count++;
    s->cursor = ep->cursor;
    snprintf(s->secret, sizeof(s->secret), "%s", ep->secret);
    snprintf(s->url, sizeof(s->url), "%s", ep->url);
    return 0;
}

static int on_delivery(void *ctx, const constra__res_delivery *d)
{
    seen *s = ctx;
    s->count++;
    s->delivered += strcmp(d->state, "delivered") == 0 && d->attempts == 1;
    s->pending += strcmp(d->state, "pending") == 0 && d->attempts == 1;
    return 0;
}

/* The README's table, read through the adapter over the migrated file,
 * and the whole of it compared with what the old storage reads. */
static void test_v01(void **state)
{
    (void)state;
    const char *path = copy_of("v01.db");
    int64_t cursor = sql_int(path, "SELECT cursor FROM webhook_endpoints");
    assert_int_equal(sql_int(path, "SELECT value FROM meta WHERE key = 'schema_version'"), 2);

    /* What the 0.2 storage read from the file (recorded with it when the
     * old storage was retired: fixtures/README.md). */
    size_t want_len;
    char *want = read_all(fixture("v01.dump"), &want_len);

    constra__res_table st;
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(open_records(&st, path, &err), CONSTRA_OK);
    void *u = st.user_data;
    static const struct {
        const char *id, *status, *checkouts[2];
    } intents[] = {
        {"pi_01kdvdna00p9z6ng9yjb72azr9", "pending_user_action",
         {"ws_CO_010120260300000007123456781", NULL}},
        {"pi_01kdvdnaz804jgexm6mhp63e90", "succeeded", {"ws_CO_010120260300010007083741492", NULL}},
        {"pi_01kdvdnbyg2ctsappa597aehef", "requires_recovery",
         {"ws_CO_010120260300020007110000033", "ws_CO_010120260300100007110000035"}},
        {"pi_01kdvdncxrhmzckzvhf59hwawv", "draft", {NULL, NULL}},
        {"pi_01kdvdndx0abrkhqm6fn7j2kp0", "cancelled", {"ws_CO_010120260300040007123456704", NULL}},
    };
    for (size_t i = 0; i < ARRAY_LEN(intents); i++) {
        seen s = {0};
        assert_int_equal(st.get_intent(u, intents[i].id, on_intent, &s), CONSTRA_OK);
        assert_string_equal(s.status, intents[i].status);
        for (size_t c = 0; c < 2 && intents[i].checkouts[c]; c++) {
            memset(&s, 0, sizeof(s));
            assert_int_equal(st.find_by_checkout(u, intents[i].checkouts[c], on_intent, &s),
                             CONSTRA_OK);
            assert_string_equal(s.id, intents[i].id);
        }
    }
    seen s = {0};
    assert_int_equal(st.find_by_checkout(u, "ws_CO_FIXTURE_UNKNOWN", on_intent, &s),
                     CONSTRA_E_NOT_FOUND);
    constra__res_query q = {sizeof(q), NULL, NULL, 0, 0, NULL, 100};
    assert_int_equal(st.list_intents(u, &q, on_intent, &s), CONSTRA_OK);
    assert_int_equal(s.count, 5);
    memset(&s, 0, sizeof(s));
    assert_int_equal(st.list_events(u, NULL, 0, 100, on_event, &s), CONSTRA_OK);
    assert_int_equal(s.count, 15);
    for (int i = 1; i < 15; i++) {
        assert_true(s.seq[i] > s.seq[i - 1]);
    }
    memset(&s, 0, sizeof(s));
    assert_int_equal(st.list_events(u, "", 0, 100, on_event, &s), CONSTRA_OK);
    assert_int_equal(s.count, 1);
    assert_string_equal(s.last_type, "callback.unmatched");
    /* Completed keys, 24 h after their creation, one a second. */
    for (int i = 0; i < 5; i++) {
        constra__res_idempotency probe = {sizeof(probe), v01_keys[i], "probe",
                                             CONSTRA__IDEM_IN_FLIGHT, 0, NULL, 0, V01_NOW,
                                             V01_NOW + 60000, V01_NOW + 60000};
        memset(&s, 0, sizeof(s));
        assert_int_equal(st.idempotency_reserve(u, &probe, V01_NOW, on_idem, &s),
                         CONSTRA_E_CONFLICT);
        assert_int_equal(s.state, CONSTRA__IDEM_COMPLETED);
        assert_int_equal(s.http, 201);
        assert_int_equal(s.expires, INT64_C(1767312000000) + 1000 * i);
    }
    constra__res_idempotency probe = {sizeof(probe), "fx-inflight", "probe",
                                         CONSTRA__IDEM_IN_FLIGHT, 0, NULL, 0, V01_NOW,
                                         V01_NOW + 60000, V01_NOW + 60000};
    memset(&s, 0, sizeof(s));
    assert_int_equal(st.idempotency_reserve(u, &probe, V01_NOW, on_idem, &s), CONSTRA_E_CONFLICT);
    assert_int_equal(s.state, CONSTRA__IDEM_IN_FLIGHT);
    assert_string_equal(s.id, "00000000000000000000000000000000000000000000000000000000000000ff");
    assert_int_equal(s.expires, INT64_C(1767312016000));
    assert_int_equal(s.lease, s.expires);
    memset(&s, 0, sizeof(s));
    assert_int_equal(constra__res_endpoint_list(&st, on_endpoint, &s), CONSTRA_OK);
    assert_int_equal(s.count, 1);
    assert_int_equal(s.cursor, cursor);
    assert_string_equal(s.secret, "whsec_fixturefixturefixture0123");
    assert_string_equal(s.url, "http://hooks.fixture.test/constra");
    memset(&s, 0, sizeof(s));
    constra__res_delivery_query dq = {sizeof(dq), NULL, NULL, NULL, 0, NULL, 100, 0};
    assert_int_equal(constra__res_delivery_list(&st, &dq, on_delivery, &s), CONSTRA_OK);
    assert_int_equal(s.count, 14);
    assert_int_equal(s.delivered, 3);
    assert_int_equal(s.pending, 11);
    st.destroy(u);

    /* The same probes again, on the whole file: what the old storage read. */
    assert_int_equal(open_records(&st, copy_of("v01.db"), &err), CONSTRA_OK);
    char *got = dump_of(&st, V01_NOW, v01_keys, v01_meta);
    st.destroy(st.user_data);
    assert_same_dump(want, got);
    free(want);
    free(got);
    assert_migrated(path);
    remove_all();
}

/* ---- the 0.1 keys through the engine ----------------------------------- */

static int64_t engine_clock;
static int64_t engine_now(void *ud)
{
    (void)ud;
    return engine_clock;
}

typedef struct replay {
    char id[64], status[32], checkout[64];
    int replayed;
    int64_t updated;
} replay;

static int run_replays(const constra_storage *st, replay out[6], char *inflight_code,
                       size_t code_size)
{
    constra_platform p = CONSTRA_PLATFORM_INIT;
    p.wall_time_ms = engine_now;
    engine_clock = V01_NOW;
    constra_config cfg = CONSTRA_CONFIG_INIT;
    cfg.platform = &p;
    cfg.storage = st;
    constra_t *h = NULL;
    assert_int_equal(constra_open(&h, &cfg, NULL), CONSTRA_OK);
    /* The requests as make_v01_fixture.c made them. */
    static const struct {
        const char *key;
        int64_t amount;
        const char *phone, *ref;
        int draft;
    } req[] = {{"fx-pending", 1250, "254712345678", "order-pending", 0},
               {"fx-succeeded", 2500, "254708374149", "order-paid", 0},
               {"fx-recovery", 700, "254711000003", "order-recovery", 0},
               {"fx-draft", 99, "254712345679", "order-draft", 1},
               {"fx-cancelled", 10, "254712345670", "order-cancelled", 0}};
    for (size_t i = 0; i < ARRAY_LEN(req); i++) {
        constra_intent_params ip = CONSTRA_INTENT_PARAMS_INIT;
        ip.currency = "KES";
        ip.customer_name = "Fixture Customer";
        ip.description = "0.1 fixture";
        ip.amount = req[i].amount;
        ip.phone_number = req[i].phone;
        ip.reference = req[i].ref;
        ip.draft = req[i].draft;
        constra_intent *in = NULL;
        assert_int_equal(constra_intent_create(h, &ip, req[i].key, &in, NULL), CONSTRA_OK);
        snprintf(out[i].id, sizeof(out[i].id), "%s", constra_intent_id(in));
        snprintf(out[i].status, sizeof(out[i].status), "%s",
                 constra_intent_status_name(constra_intent_status(in)));
        snprintf(out[i].checkout, sizeof(out[i].checkout), "%s",
                 constra_intent_checkout_request_id(in) ? constra_intent_checkout_request_id(in)
                                                        : "");
        out[i].replayed = constra_intent_replayed(in);
        out[i].updated = constra_intent_updated_at_ms(in);
        constra_intent_free(in);
    }
    constra_intent_params ip = CONSTRA_INTENT_PARAMS_INIT;
    ip.currency = "KES";
    ip.amount = 5;
    ip.phone_number = "254712345678";
    constra_intent *in = NULL;
    constra_error err = CONSTRA_ERROR_INIT;
    int rc = constra_intent_create(h, &ip, "fx-inflight", &in, &err);
    snprintf(inflight_code, code_size, "%s", err.code);
    constra_close(h);
    return rc;
}

/* Each completed 0.1 key replays its first response (replayed = 1, the
 * intent of the README's table), the same through the old storage and
 * through the adapter over the migrated file; the killed 0.1 request's
 * key is never run. */
static void test_v01_engine(void **state)
{
    (void)state;
    static const char *const ids[] = {"pi_01kdvdna00p9z6ng9yjb72azr9",
                                      "pi_01kdvdnaz804jgexm6mhp63e90",
                                      "pi_01kdvdnbyg2ctsappa597aehef",
                                      "pi_01kdvdncxrhmzckzvhf59hwawv",
                                      "pi_01kdvdndx0abrkhqm6fn7j2kp0"};
    /* What the 0.2 storage replayed from the same file (status, the
     * current attempt's checkout id, updated_at), recorded when it was
     * retired. */
    static const replay want[5] = {
        {"pi_01kdvdna00p9z6ng9yjb72azr9", "pending_user_action",
         "ws_CO_010120260300000007123456781", 1, 0},
        {"pi_01kdvdnaz804jgexm6mhp63e90", "succeeded", "ws_CO_010120260300010007083741492", 1, 0},
        {"pi_01kdvdnbyg2ctsappa597aehef", "requires_recovery",
         "ws_CO_010120260300100007110000035", 1, 0},
        {"pi_01kdvdncxrhmzckzvhf59hwawv", "draft", "", 1, 0},
        {"pi_01kdvdndx0abrkhqm6fn7j2kp0", "cancelled", "ws_CO_010120260300040007123456704", 1, 0},
    };
    replay got[6];
    memset(got, 0, sizeof(got));
    char code_new[64];
    constra_storage st = CONSTRA_STORAGE_INIT;
    constra_sqlite_options so = CONSTRA_SQLITE_OPTIONS_INIT;
    so.path = copy_of("v01.db");
    assert_int_equal(constra_storage_sqlite(&st, NULL, &so, NULL), CONSTRA_OK);
    assert_int_equal(run_replays(&st, got, code_new, sizeof(code_new)), CONSTRA_E_CONFLICT);
    assert_string_equal(code_new, "idempotency_key_reused");
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(got[i].replayed, 1);
        assert_string_equal(got[i].id, ids[i]);
        assert_string_equal(got[i].id, want[i].id);
        assert_string_equal(got[i].status, want[i].status);
        assert_string_equal(got[i].checkout, want[i].checkout);
        assert_int_equal(want[i].replayed, 1);
    }
    remove_all();
}

/* ---- the schema-5 file ------------------------------------------------- */

/* Every resource of v05.db reads back through the adapter as through the
 * old storage, and as the old storage printed when the fixture was made. */
static void test_v05(void **state)
{
    (void)state;
    size_t len;
    char *recorded = read_all(fixture("v05.txt"), &len);
    const char *want = recorded; /* what the 0.2 storage read from it */

    const char *path = copy_of("v05.db");
    assert_int_equal(sql_int(path, "SELECT value FROM meta WHERE key = 'schema_version'"), 5);
    constra__res_table st;
    assert_int_equal(open_records(&st, path, NULL), CONSTRA_OK);
    char *got = dump_of(&st, V05_NOW, v05_keys, v05_meta);
    st.destroy(st.user_data);
    assert_same_dump(want, got);
    assert_migrated(path);
    free(recorded);
    free(got);
    remove_all();
}

/* A migrated file opens as a record store (no second migration: the same
 * records, the same versions), and new events go on after the largest
 * sequence the old table ever gave, a purged one's too. */
static void test_reopen(void **state)
{
    (void)state;
    const char *path = copy_of("v05.db");
    /* The last event purged: the old table's sequence stays past it. */
    sql(path, "DELETE FROM events WHERE id = 'evt_v05_08'");
    int64_t top = sql_int(path, "SELECT seq FROM sqlite_sequence WHERE name = 'events'");
    assert_int_equal(top, 8);
    constra__res_table st;
    assert_int_equal(open_records(&st, path, NULL), CONSTRA_OK);
    char *first = dump_of(&st, V05_NOW, v05_keys, v05_meta);
    st.destroy(st.user_data);
    assert_migrated(path);
    int64_t records = sql_int(path, "SELECT count(*) FROM rs_records");
    int64_t versions = sql_int(path, "SELECT sum(version) FROM rs_records");

    assert_int_equal(open_records(&st, path, NULL), CONSTRA_OK);
    assert_int_equal(sql_int(path, "SELECT count(*) FROM rs_records"), records);
    assert_int_equal(sql_int(path, "SELECT sum(version) FROM rs_records"), versions);
    /* Not migrated twice: the records are the ones the first open wrote
     * (the dump's probes reserved v05-dead and v05-none then). */
    constra__res_event ev = {sizeof(ev), "evt_after", "", "callback.unmatched", V05_NOW, 0,
                                "{}", 2};
    constra__res_write w = {sizeof(w), NULL, 0, &ev, 1, NULL, 0};
    assert_int_equal(st.commit(st.user_data, &w), CONSTRA_OK);
    seen s = {0};
    assert_int_equal(st.list_events(st.user_data, NULL, 7, 10, on_event, &s), CONSTRA_OK);
    assert_int_equal(s.count, 1);
    assert_int_equal(s.seq[0], top + 1);
    /* The endpoint cursors still name the events they named. */
    memset(&s, 0, sizeof(s));
    assert_int_equal(st.list_events(st.user_data, NULL, 0, 3, on_event, &s), CONSTRA_OK);
    assert_int_equal(s.seq[2], 3);
    assert_non_null(strstr(first, "endpoint id=\"we_v05_orders\""));
    assert_non_null(strstr(first, "cursor=3 version=2"));
    st.destroy(st.user_data);
    free(first);
    remove_all();
}

/* ---- refusals ----------------------------------------------------------- */

/* A file of an old schema newer than the last one (5) is not touched. */
static void test_newer(void **state)
{
    (void)state;
    const char *path = copy_of("v01.db");
    sql(path, "UPDATE meta SET value = 6 WHERE key = 'schema_version'");
    size_t before_len, after_len;
    char *before = read_all(path, &before_len);
    constra__res_table st;
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(open_records(&st, path, &err), CONSTRA_E_STORAGE);
    assert_string_equal(err.code, "schema_unsupported");
    assert_non_null(strstr(err.message, "schema version 6"));
    char *after = read_all(path, &after_len);
    assert_int_equal(after_len, before_len);
    assert_memory_equal(after, before, before_len);
    free(before);
    free(after);
    remove_all();
}

/* A row the record store cannot hold (a delivery state with the index
 * separator byte, the last table converted, after every other row went
 * in): the open fails and the file is byte for byte the old one, still
 * at schema 2 with its tables; mended, it migrates. */
static void test_corrupt(void **state)
{
    (void)state;
    const char *path = copy_of("v01.db");
    sql(path, "UPDATE webhook_deliveries SET state = 'pend' || char(1) || 'ing'"
              " WHERE id = (SELECT max(id) FROM webhook_deliveries)");
    size_t before_len, after_len;
    char *before = read_all(path, &before_len);
    constra__res_table st;
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(open_records(&st, path, &err), CONSTRA_E_STORAGE);
    assert_non_null(strstr(err.message, "webhook_deliveries"));
    assert_non_null(strstr(err.message, "unchanged"));
    char *after = read_all(path, &after_len);
    assert_int_equal(after_len, before_len);
    assert_memory_equal(after, before, before_len);
    assert_int_equal(sql_int(path, "SELECT value FROM meta WHERE key = 'schema_version'"), 2);
    assert_int_equal(sql_int(path, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'rs_%'"),
                     0);
    assert_int_equal(sql_int(path, "SELECT count(*) FROM intents"), 5);
    assert_int_equal(sql_int(path, "SELECT count(*) FROM webhook_deliveries"), 14);
    /* An intent too: the first table converted. */
    sql(path, "UPDATE webhook_deliveries SET state = 'pending' WHERE state <> 'delivered';"
              "UPDATE intents SET status = 'dra' || char(1) || 'ft' WHERE status = 'draft'");
    assert_int_equal(open_records(&st, path, &err), CONSTRA_E_STORAGE);
    assert_non_null(strstr(err.message, "intents"));
    sql(path, "UPDATE intents SET status = 'draft' WHERE status LIKE 'dra%'");
    assert_int_equal(open_records(&st, path, &err), CONSTRA_OK);
    st.destroy(st.user_data);
    assert_migrated(path);
    free(before);
    free(after);
    remove_all();
}

/* A migrated intent has no due index entry (0.1 kept none): the tick's
 * sweep still finds it. fx-pending is due at 1767225720000: a tick before
 * leaves it pending, the first tick after times it out. */
static void test_v01_tick(void **state)
{
    (void)state;
    constra_storage st = CONSTRA_STORAGE_INIT;
    constra_sqlite_options so = CONSTRA_SQLITE_OPTIONS_INIT;
    so.path = copy_of("v01.db");
    assert_int_equal(constra_storage_sqlite(&st, NULL, &so, NULL), CONSTRA_OK);
    constra_platform p = CONSTRA_PLATFORM_INIT;
    p.wall_time_ms = engine_now;
    engine_clock = INT64_C(1767225720000) - 1;
    constra_config cfg = CONSTRA_CONFIG_INIT;
    cfg.platform = &p;
    cfg.storage = &st;
    constra_t *h = NULL;
    assert_int_equal(constra_open(&h, &cfg, NULL), CONSTRA_OK);
    static const char id[] = "pi_01kdvdna00p9z6ng9yjb72azr9";
    constra_intent *in = NULL;
    assert_int_equal(constra_tick(h, engine_clock, NULL), CONSTRA_OK);
    assert_int_equal(constra_intent_get(h, id, &in, NULL), CONSTRA_OK);
    assert_int_equal(constra_intent_status(in), CONSTRA_INTENT_PENDING_USER_ACTION);
    constra_intent_free(in);
    engine_clock += 2; /* past its time-out, and past the sweep's next step */
    for (int i = 0; i < 3; i++) {
        engine_clock += 1000;
        assert_int_equal(constra_tick(h, engine_clock, NULL), CONSTRA_OK);
    }
    assert_int_equal(constra_intent_get(h, id, &in, NULL), CONSTRA_OK);
    assert_int_not_equal(constra_intent_status(in), CONSTRA_INTENT_PENDING_USER_ACTION);
    constra_intent_free(in);
    constra_close(h);
    remove_all();
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "v01";
    int rc;
    if (strcmp(which, "v01") == 0) {
        const struct CMUnitTest t[] = {cmocka_unit_test(test_v01)};
        rc = cmocka_run_group_tests_name("legacy migration: the 0.1 file", t, NULL, NULL);
    } else if (strcmp(which, "v01-engine") == 0) {
        const struct CMUnitTest t[] = {cmocka_unit_test(test_v01_engine)};
        rc = cmocka_run_group_tests_name("legacy migration: 0.1 keys replay", t, NULL, NULL);
    } else if (strcmp(which, "v01-tick") == 0) {
        const struct CMUnitTest t[] = {cmocka_unit_test(test_v01_tick)};
        rc = cmocka_run_group_tests_name("legacy migration: the sweep finds 0.1 intents", t,
                                         NULL, NULL);
    } else if (strcmp(which, "v05") == 0) {
        const struct CMUnitTest t[] = {cmocka_unit_test(test_v05)};
        rc = cmocka_run_group_tests_name("legacy migration: the schema-5 file", t, NULL, NULL);
    } else if (strcmp(which, "reopen") == 0) {
        const struct CMUnitTest t[] = {cmocka_unit_test(test_reopen)};
        rc = cmocka_run_group_tests_name("legacy migration: reopened", t, NULL, NULL);
    } else if (strcmp(which, "newer") == 0) {
        const struct CMUnitTest t[] = {cmocka_unit_test(test_newer)};
        rc = cmocka_run_group_tests_name("legacy migration: newer schema", t, NULL, NULL);
    } else {
        const struct CMUnitTest t[] = {cmocka_unit_test(test_corrupt)};
        rc = cmocka_run_group_tests_name("legacy migration: a corrupt row", t, NULL, NULL);
    }
    remove_all();
    return rc;
}
