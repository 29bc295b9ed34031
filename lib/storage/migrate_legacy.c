/*
 * A file of the old SQLite storage (lib/storage/sqlite.c), made a record
 * store in place when constra_storage_sqlite() opens it.
 *
 * Every release before the record store wrote that storage's tables:
 * schema version 2 is libconstra 0.1's, 5 the last. The file is first
 * brought to version 5 by that storage's own migration steps (copied
 * below, unchanged: they are what a later release would have run on it),
 * then each row becomes the record constra__res_open() would
 * have written for it (documents from on_records.c's own builders), and
 * the old tables go. All of it runs in the caller's one write transaction:
 * any failure, a row the record store cannot hold among them, rolls the
 * file back to exactly what it was.
 *
 * Versions of the records: an intent's and a delivery's are the row's
 * own (the old table's compare-and-set versions, which the engine holds);
 * an endpoint's is its version (the adapter only compares it); every
 * other record starts at 1. Events keep their sequences, so endpoint
 * cursors and delivery event_sequence still name the same events.
 */
#include "constra_config.h"

#if CONSTRA_HAVE_SQLITE

#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "constra/storage.h"
#include "platform/platform.h"
#include "storage/migrate_legacy.h"
#include "storage/record_internal.h"
#include "util/check.h"

/* Migration i brings the old schema from version i to i + 1: sqlite.c's
 * migrations[], copied as they were (never edit them; a file of any
 * version must get exactly what that storage would have given it). */
static const char *const legacy_steps[] = {
    /* 0 -> 1 */
    "CREATE TABLE intents ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " status TEXT NOT NULL,"
    " reference TEXT NOT NULL DEFAULT '',"
    " checkout_request_id TEXT NOT NULL DEFAULT '',"
    " created_at_ms INTEGER NOT NULL,"
    " updated_at_ms INTEGER NOT NULL,"
    " version INTEGER NOT NULL,"
    " document BLOB NOT NULL);"
    "CREATE UNIQUE INDEX intents_checkout ON intents(checkout_request_id)"
    " WHERE checkout_request_id <> '';"
    "CREATE INDEX intents_status ON intents(status, id);"
    "CREATE INDEX intents_reference ON intents(reference, id);"
    "CREATE INDEX intents_created ON intents(created_at_ms);"
    "CREATE TABLE events ("
    " sequence INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id TEXT NOT NULL UNIQUE,"
    " intent_id TEXT NOT NULL,"
    " type TEXT NOT NULL,"
    " created_at_ms INTEGER NOT NULL,"
    " document BLOB NOT NULL);"
    "CREATE INDEX events_intent ON events(intent_id, sequence);"
    "CREATE TABLE idempotency ("
    " key TEXT PRIMARY KEY NOT NULL,"
    " fingerprint TEXT NOT NULL,"
    " state INTEGER NOT NULL,"
    " http_status INTEGER NOT NULL DEFAULT 0,"
    " response BLOB,"
    " created_at_ms INTEGER NOT NULL,"
    " expires_at_ms INTEGER NOT NULL,"
    " lease_expires_at_ms INTEGER NOT NULL);"
    "CREATE INDEX idempotency_expires ON idempotency(expires_at_ms);",
    /* 1 -> 2: webhook endpoints (with their cursor into the event log) and
     * the delivery queue. */
    "CREATE TABLE webhook_endpoints ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " url TEXT NOT NULL,"
    " secret TEXT NOT NULL,"
    " event_types TEXT NOT NULL,"
    " enabled INTEGER NOT NULL,"
    " created_at_ms INTEGER NOT NULL,"
    " updated_at_ms INTEGER NOT NULL,"
    " cursor INTEGER NOT NULL,"
    " version INTEGER NOT NULL);"
    "CREATE TABLE webhook_deliveries ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " endpoint_id TEXT NOT NULL,"
    " event_id TEXT NOT NULL,"
    " event_type TEXT NOT NULL,"
    " event_sequence INTEGER NOT NULL,"
    " state TEXT NOT NULL,"
    " attempts INTEGER NOT NULL,"
    " last_status INTEGER NOT NULL,"
    " last_error TEXT NOT NULL,"
    " next_attempt_at_ms INTEGER NOT NULL,"
    " created_at_ms INTEGER NOT NULL,"
    " updated_at_ms INTEGER NOT NULL,"
    " version INTEGER NOT NULL,"
    " body BLOB NOT NULL,"
    " log BLOB NOT NULL,"
    " UNIQUE (endpoint_id, event_id));"
    "CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_attempt_at_ms);",
    /* 2 -> 3: every checkout id an intent has had (one per attempt), so a
     * late result for a superseded attempt still finds its intent. */
    "CREATE TABLE intent_checkouts ("
    " checkout_request_id TEXT PRIMARY KEY NOT NULL,"
    " intent_id TEXT NOT NULL) WITHOUT ROWID;"
    "INSERT INTO intent_checkouts (checkout_request_id, intent_id)"
    " SELECT checkout_request_id, id FROM intents WHERE checkout_request_id <> '';"
    /* Earlier attempts' ids, which 0.1 stopped indexing, from the stored
     * documents (SQLite's built-in JSON functions, 3.38+). */
    "INSERT OR IGNORE INTO intent_checkouts (checkout_request_id, intent_id)"
    " SELECT json_extract(a.value, '$.checkout_request_id'), i.id"
    " FROM intents i, json_each(CAST(i.document AS TEXT), '$.attempts') a"
    " WHERE json_valid(CAST(i.document AS TEXT))"
    " AND ifnull(json_extract(a.value, '$.checkout_request_id'), '') <> '';",
    /* 3 -> 4: the workspace metadata of the storage vtable (the mode and
     * workspace id constra_open() records). Not the `meta` table, which
     * is this file's own bookkeeping (schema_version). */
    "CREATE TABLE workspace_meta ("
    " key TEXT PRIMARY KEY NOT NULL,"
    " value TEXT NOT NULL);",
    /* 4 -> 5: an endpoint's settings the storage keeps as given (its
     * description and signature scheme, as a JSON object); "" for the
     * endpoints registered before. */
    "ALTER TABLE webhook_endpoints ADD COLUMN attributes TEXT NOT NULL DEFAULT '';",
};
#define LEGACY_VERSION ((int64_t)CONSTRA__ARRAY_LEN(legacy_steps))

/* The old tables, children first; their indexes go with them. */
static const char drop_legacy[] = "DROP TABLE intent_checkouts; DROP TABLE webhook_deliveries;"
                                  " DROP TABLE webhook_endpoints; DROP TABLE idempotency;"
                                  " DROP TABLE events; DROP TABLE intents;"
                                  " DROP TABLE workspace_meta; DROP TABLE meta;";

typedef struct mig {
    sqlite3 *db;
    const constra_platform *platform;
    constra_error *err;
    sqlite3_stmt *put_rec, *put_key, *put_event;
} mig;

static int db_fail(mig *m, const char *what)
{
    int code = sqlite3_errcode(m->db) & 0xff;
    return constra__fail(m->err, code == SQLITE_NOMEM ? CONSTRA_E_NOMEM : CONSTRA_E_STORAGE, NULL,
                         "path", "migrating the old SQLite storage: %s: %s", what,
                         sqlite3_errmsg(m->db));
}

static int nomem(mig *m)
{
    return constra__fail(m->err, CONSTRA_E_NOMEM, NULL, NULL,
                         "migrating the old SQLite storage: out of memory");
}

/* A row the record store cannot hold as on_records.c would: the whole
 * migration stops (the file stays the old storage's, readable by the
 * release that wrote it) rather than drop or alter it. */
static int bad_row(mig *m, const char *table, const char *id, const char *why)
{
    return constra__fail(m->err, CONSTRA_E_STORAGE, NULL, "path",
                         "migrating the old SQLite storage: %s row '%.64s' %s; the file is "
                         "left unchanged",
                         table, id, why);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

static const char *col_blob(sqlite3_stmt *st, int i, size_t *len)
{
    const void *b = sqlite3_column_blob(st, i);
    *len = b ? (size_t)sqlite3_column_bytes(st, i) : 0;
    return b ? b : "";
}

/* The adapter joins index parts with \x01 and assumes no part holds it
 * (on_records.c's header): a part that does would be found under the
 * wrong prefix. */
static int has_separator(const char *t)
{
    return strchr(t, '\x01') != NULL;
}

/* Writes one record as record_sqlite.c's write_record does (index
 * values as BLOBs, the entries serialised beside the document), after
 * the checks a commit of it would pass. */
static int put_record(mig *m, const char *table, const constra_record *r, int64_t version)
{
    constra_record_op op = {CONSTRA_RECORD_PUT, r, 0};
    constra_record_commit c = {sizeof(c), 0, &op, 1, NULL, 0};
    constra_error why = CONSTRA_ERROR_INIT;
    if (constra_record_commit_check(&c, &why) != CONSTRA_OK || version < 1) {
        return bad_row(m, table, r->id, version < 1 ? "has a version below 1" : why.message);
    }
    size_t klen = constra__record_keys_size(r);
    char *kb = constra__malloc(m->platform, klen ? klen : 1);
    if (kb == NULL) {
        return nomem(m);
    }
    constra__record_keys_write(r, kb);
    sqlite3_stmt *st = m->put_rec;
    sqlite3_bind_text(st, 1, r->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, version);
    sqlite3_bind_int64(st, 4, r->expires_at_ms);
    sqlite3_bind_blob64(st, 5, r->document ? r->document : "", r->document_len, SQLITE_STATIC);
    sqlite3_bind_blob64(st, 6, kb, klen, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    constra__free(m->platform, kb);
    for (size_t k = 0; k < r->key_count && rc == SQLITE_DONE; k++) {
        st = m->put_key;
        sqlite3_bind_text(st, 1, r->kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, r->keys[k].index, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, r->keys[k].value, (int)strlen(r->keys[k].value), SQLITE_STATIC);
        sqlite3_bind_text(st, 4, r->id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 5, r->keys[k].unique != 0);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
    }
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        return bad_row(m, table, r->id, "collides with another row's record");
    }
    return rc == SQLITE_DONE ? CONSTRA_OK : db_fail(m, "writing a record");
}

/* Steps a SELECT over an old table, calling row() on each; stops at the
 * first failure. */
static int each_row(mig *m, const char *sql, int (*row)(mig *m, sqlite3_stmt *st))
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(m->db, sql, -1, &st, NULL) != SQLITE_OK) {
        return db_fail(m, "reading the old tables");
    }
    int rc = CONSTRA_OK, step;
    while (rc == CONSTRA_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
        rc = row(m, st);
    }
    if (rc == CONSTRA_OK && step != SQLITE_DONE) {
        rc = db_fail(m, "reading the old tables");
    }
    sqlite3_finalize(st);
    return rc;
}

/* ---- one old table each -------------------------------------------------- */

static int intent_row(mig *m, sqlite3_stmt *st)
{
    constra__res_intent in = {sizeof(in),
                                 col_text(st, 0),
                                 col_text(st, 1),
                                 col_text(st, 2),
                                 col_text(st, 3),
                                 sqlite3_column_int64(st, 4),
                                 sqlite3_column_int64(st, 5),
                                 sqlite3_column_int64(st, 6),
                                 NULL,
                                 0,
                                 0}; /* no due time: the tick's sweep finds it (tick.c) */
    in.document = col_blob(st, 7, &in.document_len);
    if (has_separator(in.id) || has_separator(in.status) || has_separator(in.reference)) {
        return bad_row(m, "intents", in.id, "holds the index separator byte 0x01");
    }
    /* Its index entries as on_records.c builds them. */
    char bufs[3][CONSTRA_RECORD_VALUE_MAX + 1];
    constra_record_key keys[3];
    size_t nk = 0;
    if (constra__on_records_intent_keys(&in, bufs, keys, &nk) != 0) {
        return bad_row(m, "intents", in.id, "has a status or reference too long to index");
    }
    size_t len = 0;
    char *doc = constra__on_records_intent_doc(m->platform, &in, &len);
    if (doc == NULL) {
        return nomem(m);
    }
    constra_record r = {sizeof(r), "intent", in.id, 0, 0, doc, len, keys, nk};
    int rc = put_record(m, "intents", &r, in.version);
    constra__free(m->platform, doc);
    return rc;
}

static int checkout_row(mig *m, sqlite3_stmt *st)
{
    const char *co = col_text(st, 0), *owner = col_text(st, 1);
    constra_record r = {sizeof(r), "checkout_ref", co, 0, 0, owner, strlen(owner), NULL, 0};
    return put_record(m, "intent_checkouts", &r, 1);
}

static int idem_row(mig *m, sqlite3_stmt *st)
{
    constra__res_idempotency r = {sizeof(r),
                                     col_text(st, 0),
                                     col_text(st, 1),
                                     sqlite3_column_int(st, 2),
                                     sqlite3_column_int(st, 3),
                                     NULL,
                                     0,
                                     sqlite3_column_int64(st, 5),
                                     sqlite3_column_int64(st, 6),
                                     sqlite3_column_int64(st, 7)};
    r.response = col_blob(st, 4, &r.response_len);
    /* The old storage held a row with no expiry, or in flight with no
     * lease, as dead at any time (its purge drops it); the adapter would
     * read "0" as never: such a row is not carried over. */
    if (r.expires_at_ms <= 0 ||
        (r.state == CONSTRA__IDEM_IN_FLIGHT && r.lease_expires_at_ms <= 0)) {
        return CONSTRA_OK;
    }
    size_t len = 0;
    char *doc = constra__on_records_idem_doc(m->platform, &r, &len);
    if (doc == NULL) {
        return nomem(m);
    }
    constra_record rec = {sizeof(rec), "idempotency", r.key, 0, constra__on_records_idem_death(&r),
                          doc, len, NULL, 0};
    int rc = put_record(m, "idempotency", &rec, 1);
    constra__free(m->platform, doc);
    return rc;
}

static int endpoint_row(mig *m, sqlite3_stmt *st)
{
    constra__res_endpoint ep = {sizeof(ep),
                                           col_text(st, 0),
                                           col_text(st, 1),
                                           col_text(st, 2),
                                           col_text(st, 3),
                                           sqlite3_column_int(st, 4),
                                           sqlite3_column_int64(st, 5),
                                           sqlite3_column_int64(st, 6),
                                           sqlite3_column_int64(st, 7),
                                           sqlite3_column_int64(st, 8),
                                           col_text(st, 9)};
    size_t len = 0;
    char *doc = constra__on_records_endpoint_doc(m->platform, &ep, ep.cursor, &len);
    if (doc == NULL) {
        return nomem(m);
    }
    constra_record r = {sizeof(r), "wh_endpoint", ep.id, 0, 0, doc, len, NULL, 0};
    int rc = put_record(m, "webhook_endpoints", &r, ep.version);
    constra__free(m->platform, doc);
    return rc;
}

static int delivery_row(mig *m, sqlite3_stmt *st)
{
    constra__res_delivery d = {sizeof(d),
                                  col_text(st, 0),
                                  col_text(st, 1),
                                  col_text(st, 2),
                                  col_text(st, 3),
                                  sqlite3_column_int64(st, 4),
                                  col_text(st, 5),
                                  sqlite3_column_int(st, 6),
                                  sqlite3_column_int(st, 7),
                                  col_text(st, 8),
                                  sqlite3_column_int64(st, 9),
                                  sqlite3_column_int64(st, 10),
                                  sqlite3_column_int64(st, 11),
                                  sqlite3_column_int64(st, 12),
                                  NULL,
                                  0,
                                  NULL,
                                  0};
    d.body = col_blob(st, 13, &d.body_len);
    d.log = col_blob(st, 14, &d.log_len);
    if (has_separator(d.id) || has_separator(d.endpoint_id) || has_separator(d.state) ||
        has_separator(d.event_id)) {
        return bad_row(m, "webhook_deliveries", d.id, "holds the index separator byte 0x01");
    }
    size_t len = 0;
    char *doc = constra__on_records_delivery_doc(m->platform, &d, &len);
    if (doc == NULL) {
        return nomem(m);
    }
    char bufs[CONSTRA__DL_KEYS][CONSTRA_RECORD_VALUE_MAX + 1];
    constra_record_key keys[CONSTRA__DL_KEYS];
    constra_record r;
    int rc = constra__on_records_delivery_record(&d, doc, len, bufs, keys, &r);
    rc = rc == CONSTRA_OK ? put_record(m, "webhook_deliveries", &r, d.version)
                          : bad_row(m, "webhook_deliveries", d.id, "is too long to index");
    constra__free(m->platform, doc);
    return rc;
}

static int meta_row(mig *m, sqlite3_stmt *st)
{
    const char *key = col_text(st, 0), *value = col_text(st, 1);
    constra_record r = {sizeof(r), "meta", key, 0, 0, value, strlen(value), NULL, 0};
    return put_record(m, "workspace_meta", &r, 1);
}

static int event_row(mig *m, sqlite3_stmt *st)
{
    /* on_records.c's ad_commit: the intent id is the stream; an event of
     * no intent (an unmatched callback) expires after the retention the
     * old storage purged it at. */
    const char *stream = col_text(st, 2);
    int64_t created = sqlite3_column_int64(st, 4);
    constra_record_event e = {sizeof(e),
                              sqlite3_column_int64(st, 0),
                              stream,
                              col_text(st, 1),
                              col_text(st, 3),
                              created,
                              stream[0] ? 0 : created + CONSTRA_UNMATCHED_RETENTION_MS,
                              NULL,
                              0};
    e.document = col_blob(st, 5, &e.document_len);
    constra_record_commit c = {sizeof(c), 0, NULL, 0, &e, 1};
    constra_error why = CONSTRA_ERROR_INIT;
    if (constra_record_commit_check(&c, &why) != CONSTRA_OK || e.sequence < 1) {
        return bad_row(m, "events", e.id, e.sequence < 1 ? "has a sequence below 1" : why.message);
    }
    /* The same sequence: endpoint cursors and deliveries point at it. */
    sqlite3_stmt *ins = m->put_event;
    sqlite3_bind_int64(ins, 1, e.sequence);
    sqlite3_bind_text(ins, 2, e.stream, -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 3, e.id, -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 4, e.type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(ins, 5, e.created_at_ms);
    sqlite3_bind_int64(ins, 6, e.expires_at_ms);
    sqlite3_bind_blob64(ins, 7, e.document, e.document_len, SQLITE_STATIC);
    int rc = sqlite3_step(ins);
    sqlite3_reset(ins);
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        return bad_row(m, "events", e.id, "collides with another event");
    }
    return rc == SQLITE_DONE ? CONSTRA_OK : db_fail(m, "writing an event");
}

/* ---- detection and the whole ---------------------------------------------- */

/* 1 with the schema version when the file holds the old storage (its
 * `meta` table with a schema_version row), 0 when it does not. */
static int legacy_version(mig *m, int *present, int64_t *version, int *integer)
{
    *present = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(m->db,
                           "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
                           -1, &st, NULL) != SQLITE_OK) {
        return db_fail(m, "looking for the old tables");
    }
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step == SQLITE_DONE) {
        return CONSTRA_OK;
    }
    if (step != SQLITE_ROW ||
        sqlite3_prepare_v2(m->db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st,
                           NULL) != SQLITE_OK) {
        return db_fail(m, "reading the old schema version");
    }
    step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        *present = 1;
        *integer = sqlite3_column_type(st, 0) == SQLITE_INTEGER;
        *version = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return step == SQLITE_ROW || step == SQLITE_DONE ? CONSTRA_OK
                                                     : db_fail(m, "reading the old schema version");
}

static int exec_step(mig *m, const char *sql, const char *what)
{
    return sqlite3_exec(m->db, sql, NULL, NULL, NULL) == SQLITE_OK ? CONSTRA_OK
                                                                 : db_fail(m, what);
}

/* Nothing of the record store may be there yet: merging the old rows into
 * records written since would be guessing. */
static int records_empty(mig *m)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(m->db,
                           "SELECT EXISTS (SELECT 1 FROM rs_records) OR"
                           " EXISTS (SELECT 1 FROM rs_events)",
                           -1, &st, NULL) != SQLITE_OK) {
        return db_fail(m, "reading the record store");
    }
    int step = sqlite3_step(st);
    int used = step == SQLITE_ROW && sqlite3_column_int(st, 0) != 0;
    sqlite3_finalize(st);
    if (step != SQLITE_ROW) {
        return db_fail(m, "reading the record store");
    }
    return used ? constra__fail(m->err, CONSTRA_E_STORAGE, NULL, "path",
                                "the database holds both the old SQLite storage's tables and "
                                "records; it is left unchanged")
                : CONSTRA_OK;
}

static int convert(mig *m)
{
    static const struct {
        const char *sql;
        int (*row)(mig *m, sqlite3_stmt *st);
    } tables[] = {
        {"SELECT id, status, reference, checkout_request_id, created_at_ms, updated_at_ms,"
         " version, document FROM intents ORDER BY id",
         intent_row},
        {"SELECT checkout_request_id, intent_id FROM intent_checkouts ORDER BY 1", checkout_row},
        {"SELECT key, fingerprint, state, http_status, response, created_at_ms, expires_at_ms,"
         " lease_expires_at_ms FROM idempotency ORDER BY key",
         idem_row},
        {"SELECT id, url, secret, event_types, enabled, created_at_ms, updated_at_ms, cursor,"
         " version, attributes FROM webhook_endpoints ORDER BY id",
         endpoint_row},
        {"SELECT key, value FROM workspace_meta ORDER BY key", meta_row},
        {"SELECT sequence, id, intent_id, type, created_at_ms, document FROM events"
         " ORDER BY sequence",
         event_row},
        {"SELECT id, endpoint_id, event_id, event_type, event_sequence, state, attempts,"
         " last_status, last_error, next_attempt_at_ms, created_at_ms, updated_at_ms, version,"
         " body, log FROM webhook_deliveries ORDER BY id",
         delivery_row},
    };
    int rc = CONSTRA_OK;
    for (size_t i = 0; i < CONSTRA__ARRAY_LEN(tables) && rc == CONSTRA_OK; i++) {
        rc = each_row(m, tables[i].sql, tables[i].row);
    }
    /* rs_events' AUTOINCREMENT goes on after the largest sequence the old
     * table ever gave, a purged one included: a sequence is never reused
     * (an endpoint cursor past it must not see a new event as old). */
    if (rc == CONSTRA_OK) {
        rc = exec_step(m,
                       "INSERT INTO sqlite_sequence (name, seq) SELECT 'rs_events', 0"
                       " WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'rs_events');"
                       "UPDATE sqlite_sequence SET seq = max(seq, ifnull((SELECT seq FROM"
                       " sqlite_sequence WHERE name = 'events'), 0), ifnull((SELECT"
                       " max(sequence) FROM rs_events), 0)) WHERE name = 'rs_events';",
                       "continuing the event sequence");
    }
    return rc;
}

int constra__migrate_legacy(sqlite3 *db, const constra_platform *platform, constra_error *err)
{
    mig m = {db, platform, err, NULL, NULL, NULL};
    int present = 0, integer = 0;
    int64_t version = 0;
    int rc = legacy_version(&m, &present, &version, &integer);
    if (rc != CONSTRA_OK || !present) {
        return rc;
    }
    if (integer && version > LEGACY_VERSION) {
        return constra__fail(err, CONSTRA_E_STORAGE, "schema_unsupported", "path",
                             "the database holds the old SQLite storage at schema version %lld, "
                             "newer than the %lld this library migrates; it is left unchanged",
                             (long long)version, (long long)LEGACY_VERSION);
    }
    if (!integer || version < 1) {
        return constra__fail(err, CONSTRA_E_STORAGE, NULL, "path",
                             "the database's old SQLite storage schema version is not 1 to "
                             "%lld; it is left unchanged",
                             (long long)LEGACY_VERSION);
    }
    rc = records_empty(&m);
    for (int64_t v = version; rc == CONSTRA_OK && v < LEGACY_VERSION; v++) {
        rc = exec_step(&m, legacy_steps[v], "bringing the old schema to version 5");
    }
    if (rc == CONSTRA_OK &&
        (sqlite3_prepare_v2(db,
                            "INSERT INTO rs_records (kind, id, version, expires_at, document, keys)"
                            " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                            -1, &m.put_rec, NULL) != SQLITE_OK ||
         sqlite3_prepare_v2(db,
                            "INSERT INTO rs_keys (kind, idx, value, id, uniq)"
                            " VALUES (?1, ?2, ?3, ?4, ?5)",
                            -1, &m.put_key, NULL) != SQLITE_OK ||
         sqlite3_prepare_v2(db,
                            "INSERT INTO rs_events (sequence, stream, id, type, created_at,"
                            " expires_at, document) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                            -1, &m.put_event, NULL) != SQLITE_OK)) {
        rc = db_fail(&m, "preparing the record writes");
    }
    if (rc == CONSTRA_OK) {
        rc = convert(&m);
    }
    sqlite3_finalize(m.put_rec);
    sqlite3_finalize(m.put_key);
    sqlite3_finalize(m.put_event);
    if (rc == CONSTRA_OK) {
        rc = exec_step(&m, drop_legacy, "dropping the old tables");
    }
    if (rc == CONSTRA_OK) {
        constra__log(platform, CONSTRA_LOG_INFO,
                     "sqlite record store: migrated the old storage's tables (schema version "
                     "%lld) to records",
                     (long long)version);
    }
    return rc;
}

#else

/* Without SQLite there is nothing to migrate (ISO C wants a declaration). */
typedef int constra__migrate_legacy_unused;

#endif /* CONSTRA_HAVE_SQLITE */
