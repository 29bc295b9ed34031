/*
 * The SQLite storage (include/constra/storage_sqlite.h).
 *
 * One connection per storage, serialised by a platform mutex; statements
 * are prepared once and cached. Every write runs in BEGIN IMMEDIATE: it
 * takes the database's write lock up front, so a read-check-write
 * (compare-and-set, insert-if-absent) cannot interleave with another
 * connection's, in this process or another. Any failure rolls back.
 *
 * SQLITE_BUSY (the lock was not free within the busy time-out) maps to
 * CONSTRA_E_STORAGE, never CONSTRA_E_CONFLICT: the engine reads CONFLICT
 * as "key taken / version moved" and would act on a record it never got.
 */
#include "constra_config.h"

#include <stdio.h>
#include <string.h>

#include "constra/storage_sqlite.h"
#include "storage/storage_internal.h"
#include "platform/platform.h"
#include "util/check.h"

int constra_sqlite_options_init(constra_sqlite_options *options, size_t struct_size)
{
    return constra__init_struct(options, struct_size, sizeof(*options), sizeof(*options), NULL);
}

#if !CONSTRA_HAVE_SQLITE

int constra_storage_sqlite(constra_storage *out, const constra_platform *platform,
                           const constra_sqlite_options *options, constra_error *err)
{
    (void)out;
    (void)platform;
    (void)options;
    return constra__fail(err, CONSTRA_E_UNSUPPORTED, NULL, NULL,
                         "libconstra was built without SQLite");
}

const char *constra__sqlite_statement_sql(size_t i)
{
    (void)i;
    return NULL;
}

#else /* CONSTRA_HAVE_SQLITE */

#include <sqlite3.h>

#define DEFAULT_BUSY_MS 5000

/* ---- schema ----------------------------------------------------------- */

/* Migration i brings the schema from version i to i + 1. Append only. */
static const char *const migrations[] = {
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
#define SCHEMA_VERSION ((int64_t)CONSTRA__ARRAY_LEN(migrations))

/* ---- statements ------------------------------------------------------- */

#define INTENT_COLS \
    "id, status, reference, checkout_request_id, created_at_ms, updated_at_ms, version, document"
#define EVENT_COLS "sequence, id, intent_id, type, created_at_ms, document"
#define IDEM_COLS                                                                          \
    "key, fingerprint, state, http_status, response, created_at_ms, expires_at_ms, " \
    "lease_expires_at_ms"

#define ENDPOINT_COLS \
    "id, url, secret, event_types, enabled, created_at_ms, updated_at_ms, cursor, version, attributes"
#define DELIVERY_COLS                                                                          \
    "id, endpoint_id, event_id, event_type, event_sequence, state, attempts, last_status, " \
    "last_error, next_attempt_at_ms, created_at_ms, updated_at_ms, version, body, log"

enum {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_INTENT_GET,
    ST_INTENT_BY_CHECKOUT,
    ST_INTENT_VERSION,
    ST_INTENT_INSERT,
    ST_INTENT_UPDATE,
    ST_CHECKOUT_ADD,
    ST_CHECKOUT_OWNER,
    ST_INTENT_LIST,           /* the four list statements, in this order: */
    ST_INTENT_LIST_STATUS,    /* ... + status = */
    ST_INTENT_LIST_REFERENCE, /* ... + reference = */
    ST_INTENT_LIST_BOTH,      /* ... + both */
    ST_EVENT_INSERT,
    ST_EVENTS_OF,
    ST_EVENTS_ALL,
    ST_IDEM_GET,
    ST_IDEM_PUT,
    ST_IDEM_COMPLETE,
    ST_IDEM_RELEASE,
    ST_IDEM_PURGE,
    ST_UNMATCHED_PURGE,
    ST_EVENTS_HEAD,
    ST_EP_INSERT,
    ST_EP_STATE,
    ST_EP_UPDATE,
    ST_EP_DELETE,
    ST_EP_DELETE_DELIVERIES,
    ST_EP_LIST,
    ST_EP_CURSOR,
    ST_DL_INSERT,
    ST_DL_LIST,
    ST_DL_VERSION,
    ST_DL_UPDATE,
    ST_META_GET,
    ST_META_PUT,
    ST_COUNT
};

static const char *const statement_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_INTENT_GET] = "SELECT " INTENT_COLS " FROM intents WHERE id = ?1",
    [ST_INTENT_BY_CHECKOUT] = "SELECT " INTENT_COLS " FROM intents WHERE id ="
                              " (SELECT intent_id FROM intent_checkouts"
                              " WHERE checkout_request_id = ?1)",
    [ST_CHECKOUT_ADD] = "INSERT OR IGNORE INTO intent_checkouts (checkout_request_id, intent_id)"
                        " VALUES (?1, ?2)",
    [ST_CHECKOUT_OWNER] = "SELECT intent_id FROM intent_checkouts WHERE checkout_request_id = ?1",
    [ST_INTENT_VERSION] = "SELECT version FROM intents WHERE id = ?1",
    [ST_INTENT_INSERT] = "INSERT INTO intents (" INTENT_COLS ")"
                         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_INTENT_UPDATE] = "UPDATE intents SET status = ?2, reference = ?3,"
                         " checkout_request_id = ?4, created_at_ms = ?5, updated_at_ms = ?6,"
                         " version = ?7, document = ?8 WHERE id = ?1 AND version = ?9",
    /* One statement per filter shape, so that each one's equality and the
     * cursor are an index range (intents_status, intents_reference, the
     * primary key): "(?1 = '' OR status = ?1)" would make SQLite scan the
     * whole table. ?5 is the cursor, bound to a byte above every id
     * (0xFF) for the first page; the created_at bounds stay filters. ?6 (LIMIT)
     * is the highest parameter in each, so the binds are the same. */
#define LIST_RANGE " AND (?3 = 0 OR created_at_ms >= ?3) AND (?4 = 0 OR created_at_ms < ?4)" \
                   " AND id < ?5 ORDER BY id DESC LIMIT ?6"
    [ST_INTENT_LIST] = "SELECT " INTENT_COLS " FROM intents WHERE 1" LIST_RANGE,
    [ST_INTENT_LIST_STATUS] = "SELECT " INTENT_COLS " FROM intents"
                              " INDEXED BY intents_status WHERE status = ?1" LIST_RANGE,
    [ST_INTENT_LIST_REFERENCE] = "SELECT " INTENT_COLS " FROM intents"
                                 " INDEXED BY intents_reference WHERE reference = ?2" LIST_RANGE,
    [ST_INTENT_LIST_BOTH] = "SELECT " INTENT_COLS " FROM intents INDEXED BY intents_reference"
                            " WHERE reference = ?2 AND status = ?1" LIST_RANGE,
#undef LIST_RANGE
    [ST_EVENT_INSERT] = "INSERT INTO events (id, intent_id, type, created_at_ms, document)"
                        " VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_EVENTS_OF] = "SELECT " EVENT_COLS " FROM events WHERE intent_id = ?1 AND sequence > ?2"
                     " ORDER BY sequence LIMIT ?3",
    [ST_EVENTS_ALL] = "SELECT " EVENT_COLS " FROM events WHERE sequence > ?1"
                      " ORDER BY sequence LIMIT ?2",
    [ST_IDEM_GET] = "SELECT " IDEM_COLS " FROM idempotency WHERE key = ?1",
    [ST_IDEM_PUT] = "INSERT OR REPLACE INTO idempotency (" IDEM_COLS ")"
                    " VALUES (?1, ?2, ?3, 0, NULL, ?4, ?5, ?6)",
    /* ?3 COMPLETED completes an IN_FLIGHT key; ?3 IN_FLIGHT links one
     * that is not linked yet (0.1 files hold NULL there). */
    [ST_IDEM_COMPLETE] = "UPDATE idempotency SET state = ?3, http_status = ?4, response = ?5,"
                         " expires_at_ms = ?6 WHERE key = ?1 AND fingerprint = ?2 AND state = ?7"
                         " AND (?3 <> ?7 OR response IS NULL OR length(response) = 0)",
    /* A linked key is never dropped. */
    [ST_IDEM_RELEASE] = "DELETE FROM idempotency WHERE key = ?1 AND fingerprint = ?2"
                        " AND state = ?3 AND (response IS NULL OR length(response) = 0)",
    [ST_IDEM_PURGE] = "DELETE FROM idempotency WHERE expires_at_ms <= ?1",
    [ST_UNMATCHED_PURGE] = "DELETE FROM events WHERE intent_id = '' AND type = 'callback.unmatched'"
                           " AND created_at_ms <= ?1",
    [ST_EVENTS_HEAD] = "SELECT COALESCE(MAX(sequence), 0) FROM events",
    [ST_EP_INSERT] = "INSERT INTO webhook_endpoints (" ENDPOINT_COLS ")"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?9)",
    [ST_EP_STATE] = "SELECT version, cursor FROM webhook_endpoints WHERE id = ?1",
    [ST_EP_UPDATE] = "UPDATE webhook_endpoints SET url = ?2, secret = ?3, event_types = ?4,"
                     " enabled = ?5, updated_at_ms = ?6, version = ?7, attributes = ?9"
                     " WHERE id = ?1 AND version = ?8",
    [ST_EP_DELETE] = "DELETE FROM webhook_endpoints WHERE id = ?1",
    [ST_EP_DELETE_DELIVERIES] = "DELETE FROM webhook_deliveries WHERE endpoint_id = ?1",
    [ST_EP_LIST] = "SELECT " ENDPOINT_COLS " FROM webhook_endpoints ORDER BY id",
    [ST_EP_CURSOR] = "UPDATE webhook_endpoints SET cursor = ?2 WHERE id = ?1 AND cursor = ?3",
    [ST_DL_INSERT] = "INSERT INTO webhook_deliveries (" DELIVERY_COLS ")"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 1, ?13, ?14)",
    [ST_DL_LIST] = "SELECT " DELIVERY_COLS " FROM webhook_deliveries"
                   " WHERE (?1 = '' OR id = ?1) AND (?2 = '' OR endpoint_id = ?2)"
                   " AND (?3 = '' OR state = ?3) AND (?4 = 0 OR next_attempt_at_ms <= ?4)"
                   " AND (?5 = '' OR id > ?5) ORDER BY id LIMIT ?6",
    [ST_DL_VERSION] = "SELECT version FROM webhook_deliveries WHERE id = ?1",
    [ST_DL_UPDATE] = "UPDATE webhook_deliveries SET state = ?2, attempts = ?3,"
                     " last_status = ?4, last_error = ?5, next_attempt_at_ms = ?6,"
                     " updated_at_ms = ?7, version = ?8, log = ?9"
                     " WHERE id = ?1 AND version = ?10",
    [ST_META_GET] = "SELECT value FROM workspace_meta WHERE key = ?1",
    [ST_META_PUT] = "INSERT INTO workspace_meta (key, value) VALUES (?1, ?2)",
};

/* The SQL of statement i (NULL past the end), for the test that checks
 * every query's plan uses an index. */
const char *constra__sqlite_statement_sql(size_t i)
{
    return i < ST_COUNT ? statement_sql[i] : NULL;
}

typedef struct sq_store {
    constra_platform platform;
    void *mutex;
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
} sq_store;

/* ---- helpers ---------------------------------------------------------- */

/* SQLite result code -> status. */
static int status_of(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return CONSTRA_OK;
    case SQLITE_NOMEM:
        return CONSTRA_E_NOMEM;
    default:
        return CONSTRA_E_STORAGE; /* BUSY, LOCKED, IOERR, CORRUPT, FULL, ... */
    }
}

/* A unique / primary key violation (duplicate id, taken checkout id). */
static int is_duplicate(int rc)
{
    return rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE;
}

static sqlite3_stmt *stmt(sq_store *s, int which)
{
    sqlite3_stmt *st = s->st[which];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

static void done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Binds a NUL-terminated string (NULL as ""). The statement is reset
 * before the call returns, so the caller's memory may be borrowed. */
static int bind_text(sqlite3_stmt *st, int i, const char *text)
{
    return sqlite3_bind_text(st, i, text ? text : "", -1, SQLITE_STATIC);
}

static int bind_blob(sqlite3_stmt *st, int i, const char *data, size_t len)
{
    if (len > (size_t)0x7fffffff) {
        return SQLITE_TOOBIG;
    }
    return sqlite3_bind_blob(st, i, data ? data : "", (int)len, SQLITE_STATIC);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

static const char *col_blob(sqlite3_stmt *st, int i, size_t *len)
{
    const void *b = sqlite3_column_blob(st, i);
    *len = (size_t)sqlite3_column_bytes(st, i);
    if (b == NULL) {
        *len = 0;
        return "";
    }
    return b;
}

/* Runs a statement that returns no rows; SQLite's code. */
static int run(sq_store *s, int which)
{
    sqlite3_stmt *st = s->st[which];
    int rc = sqlite3_step(st);
    done(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void log_failure(sq_store *s, const char *what, int rc)
{
    constra__log(&s->platform, CONSTRA_LOG_WARN, "sqlite storage: %s failed: %s (%d)", what,
                 sqlite3_errstr(rc), rc);
}

static void intent_row(sqlite3_stmt *st, constra_storage_intent *row)
{
    memset(row, 0, sizeof(*row));
    row->struct_size = sizeof(*row);
    row->id = col_text(st, 0);
    row->status = col_text(st, 1);
    row->reference = col_text(st, 2);
    row->checkout_request_id = col_text(st, 3);
    row->created_at_ms = sqlite3_column_int64(st, 4);
    row->updated_at_ms = sqlite3_column_int64(st, 5);
    row->version = sqlite3_column_int64(st, 6);
    row->document = col_blob(st, 7, &row->document_len);
}

static void event_row(sqlite3_stmt *st, constra_storage_event *row)
{
    memset(row, 0, sizeof(*row));
    row->struct_size = sizeof(*row);
    row->sequence = sqlite3_column_int64(st, 0);
    row->id = col_text(st, 1);
    row->intent_id = col_text(st, 2);
    row->type = col_text(st, 3);
    row->created_at_ms = sqlite3_column_int64(st, 4);
    row->document = col_blob(st, 5, &row->document_len);
}

static void idem_row(sqlite3_stmt *st, constra_storage_idempotency *row)
{
    memset(row, 0, sizeof(*row));
    row->struct_size = sizeof(*row);
    row->key = col_text(st, 0);
    row->fingerprint = col_text(st, 1);
    row->state = sqlite3_column_int(st, 2);
    row->http_status = sqlite3_column_int(st, 3);
    row->response = col_blob(st, 4, &row->response_len);
    row->created_at_ms = sqlite3_column_int64(st, 5);
    row->expires_at_ms = sqlite3_column_int64(st, 6);
    row->lease_expires_at_ms = sqlite3_column_int64(st, 7);
}

static int64_t limit_of(size_t limit)
{
    return limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)limit;
}

/* ---- transactions ----------------------------------------------------- */

static int begin(sq_store *s)
{
    int rc = run(s, ST_BEGIN);
    if (rc != SQLITE_OK) {
        log_failure(s, "BEGIN IMMEDIATE", rc);
    }
    return status_of(rc);
}

/* Commits when status is OK, else rolls back; returns the final status. */
static int finish(sq_store *s, int status)
{
    if (status == CONSTRA_OK) {
        int rc = run(s, ST_COMMIT);
        if (rc == SQLITE_OK) {
            return CONSTRA_OK;
        }
        log_failure(s, "COMMIT", rc);
        status = status_of(rc);
        if (status == CONSTRA_OK) {
            status = CONSTRA_E_STORAGE;
        }
    }
    if (!sqlite3_get_autocommit(s->db)) {
        int rc = run(s, ST_ROLLBACK);
        if (rc != SQLITE_OK) {
            log_failure(s, "ROLLBACK", rc);
        }
    }
    return status;
}

/* ---- commit ----------------------------------------------------------- */

/* Records that `checkout` belongs to intent `id` for the life of the
 * intent (inside the commit's transaction). A checkout id another intent
 * has ever had is a conflict: one provider request, one intent. */
static int claim_checkout(sq_store *s, const char *checkout, const char *id)
{
    sqlite3_stmt *st = stmt(s, ST_CHECKOUT_ADD);
    int rc = bind_text(st, 1, checkout);
    if (rc == SQLITE_OK) rc = bind_text(st, 2, id);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    done(st);
    if (rc != SQLITE_DONE) {
        return status_of(rc) == CONSTRA_OK ? CONSTRA_E_STORAGE : status_of(rc);
    }
    if (sqlite3_changes(s->db) == 1) {
        return CONSTRA_OK;
    }
    st = stmt(s, ST_CHECKOUT_OWNER);
    rc = bind_text(st, 1, checkout);
    int owned = 0;
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *owner = (const char *)sqlite3_column_text(st, 0);
        owned = owner != NULL && strcmp(owner, id) == 0;
        rc = SQLITE_DONE;
    }
    done(st);
    if (rc != SQLITE_DONE) {
        return status_of(rc) == CONSTRA_OK ? CONSTRA_E_STORAGE : status_of(rc);
    }
    return owned ? CONSTRA_OK : CONSTRA_E_CONFLICT;
}

static int write_intent(sq_store *s, const constra_storage_write *w)
{
    const constra_storage_intent *in = w->intent;
    /* The current version, if any: decides insert / CAS outcomes. */
    sqlite3_stmt *st = stmt(s, ST_INTENT_VERSION);
    bind_text(st, 1, in->id);
    int rc = sqlite3_step(st);
    int exists = rc == SQLITE_ROW;
    int64_t current = exists ? sqlite3_column_int64(st, 0) : 0;
    done(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return status_of(rc);
    }
    if (w->expected_version == 0) {
        if (exists) {
            return CONSTRA_E_CONFLICT;
        }
    } else if (!exists) {
        return CONSTRA_E_NOT_FOUND;
    } else if (current != w->expected_version) {
        return CONSTRA_E_CONFLICT;
    }
    int which = w->expected_version == 0 ? ST_INTENT_INSERT : ST_INTENT_UPDATE;
    st = stmt(s, which);
    rc = bind_text(st, 1, in->id);
    if (rc == SQLITE_OK) rc = bind_text(st, 2, in->status);
    if (rc == SQLITE_OK) rc = bind_text(st, 3, in->reference);
    if (rc == SQLITE_OK) rc = bind_text(st, 4, in->checkout_request_id);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 5, in->created_at_ms);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 6, in->updated_at_ms);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 7, in->version);
    if (rc == SQLITE_OK) rc = bind_blob(st, 8, in->document, in->document_len);
    if (rc == SQLITE_OK && which == ST_INTENT_UPDATE) {
        rc = sqlite3_bind_int64(st, 9, w->expected_version);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    done(st);
    if (rc != SQLITE_DONE) {
        /* Duplicate id or a checkout id owned by another intent. */
        return is_duplicate(rc) ? CONSTRA_E_CONFLICT
                   : (status_of(rc) == CONSTRA_OK ? CONSTRA_E_STORAGE : status_of(rc));
    }
    if (sqlite3_changes(s->db) != 1) {
        return CONSTRA_E_CONFLICT;
    }
    return in->checkout_request_id[0] ? claim_checkout(s, in->checkout_request_id, in->id)
                                      : CONSTRA_OK;
}

static int write_event(sq_store *s, const constra_storage_event *e)
{
    sqlite3_stmt *st = stmt(s, ST_EVENT_INSERT);
    int rc = bind_text(st, 1, e->id);
    if (rc == SQLITE_OK) rc = bind_text(st, 2, e->intent_id);
    if (rc == SQLITE_OK) rc = bind_text(st, 3, e->type);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 4, e->created_at_ms);
    if (rc == SQLITE_OK) rc = bind_blob(st, 5, e->document, e->document_len);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    done(st);
    if (rc == SQLITE_DONE) {
        return CONSTRA_OK;
    }
    if (is_duplicate(rc)) {
        return CONSTRA_E_CONFLICT; /* an event id already stored */
    }
    return status_of(rc) == CONSTRA_OK ? CONSTRA_E_STORAGE : status_of(rc);
}

static int complete_idem(sq_store *s, const constra_storage_idempotency *r)
{
    sqlite3_stmt *st = stmt(s, ST_IDEM_COMPLETE);
    int rc = bind_text(st, 1, r->key);
    if (rc == SQLITE_OK) rc = bind_text(st, 2, r->fingerprint);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int(st, 3, r->state); /* checked: 1 or 2 */
    if (rc == SQLITE_OK) rc = sqlite3_bind_int(st, 4, r->http_status);
    if (rc == SQLITE_OK) rc = bind_blob(st, 5, r->response, r->response_len);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 6, r->expires_at_ms);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int(st, 7, CONSTRA_IDEMPOTENCY_IN_FLIGHT);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    done(st);
    if (rc != SQLITE_DONE) {
        return status_of(rc) == CONSTRA_OK ? CONSTRA_E_STORAGE : status_of(rc);
    }
    /* Not reserved, completed already, linked already (a link), or
     * another request's key. */
    return sqlite3_changes(s->db) == 1 ? CONSTRA_OK : CONSTRA_E_CONFLICT;
}

static int sq_commit(void *ud, const constra_storage_write *w)
{
    sq_store *s = ud;
    int rc = constra__storage_check_write(w);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra__lock(&s->platform, s->mutex);
    rc = begin(s);
    if (rc == CONSTRA_OK) {
        if (w->intent) {
            rc = write_intent(s, w);
        }
        for (size_t i = 0; rc == CONSTRA_OK && i < w->event_count; i++) {
            rc = write_event(s, &w->events[i]);
        }
        if (rc == CONSTRA_OK && w->idempotency) {
            rc = complete_idem(s, w->idempotency);
        }
        rc = finish(s, rc);
    }
    constra__unlock(&s->platform, s->mutex);
    return rc;
}

/* ---- reads ------------------------------------------------------------ */

/* Steps `st` emitting each row until done or the sink stops; counts rows. */
static int emit_intents(sq_store *s, sqlite3_stmt *st, constra_storage_intent_fn emit, void *ctx,
                        int *count)
{
    (void)s;
    int rc;
    *count = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        constra_storage_intent row;
        intent_row(st, &row);
        (*count)++;
        if (emit(ctx, &row) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    done(st);
    return rc == SQLITE_DONE ? CONSTRA_OK : status_of(rc) == CONSTRA_OK ? CONSTRA_E_STORAGE
                                                                        : status_of(rc);
}

static int sq_get_intent(void *ud, const char *id, constra_storage_intent_fn emit, void *ctx)
{
    sq_store *s = ud;
    if (!constra__storage_valid_text(id) || emit == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    int count = 0;
    constra__lock(&s->platform, s->mutex);
    sqlite3_stmt *st = stmt(s, ST_INTENT_GET);
    bind_text(st, 1, id);
    int rc = emit_intents(s, st, emit, ctx, &count);
    constra__unlock(&s->platform, s->mutex);
    return rc != CONSTRA_OK ? rc : count ? CONSTRA_OK : CONSTRA_E_NOT_FOUND;
}

static int sq_find_by_checkout(void *ud, const char *checkout, constra_storage_intent_fn emit,
                               void *ctx)
{
    sq_store *s = ud;
    if (!constra__storage_valid_text(checkout) || checkout[0] == '\0' || emit == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    int count = 0;
    constra__lock(&s->platform, s->mutex);
    sqlite3_stmt *st = stmt(s, ST_INTENT_BY_CHECKOUT);
    bind_text(st, 1, checkout);
    int rc = emit_intents(s, st, emit, ctx, &count);
    constra__unlock(&s->platform, s->mutex);
    return rc != CONSTRA_OK ? rc : count ? CONSTRA_OK : CONSTRA_E_NOT_FOUND;
}

static int sq_list_intents(void *ud, const constra_storage_query *q,
                           constra_storage_intent_fn emit, void *ctx)
{
    sq_store *s = ud;
    if (q == NULL || q->struct_size < sizeof(*q) || q->limit == 0 || emit == NULL ||
        (q->status && !constra__storage_valid_text(q->status)) || (q->reference && !constra__storage_valid_text(q->reference)) ||
        (q->starting_after && !constra__storage_valid_text(q->starting_after))) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    int count = 0;
    constra__lock(&s->platform, s->mutex);
    int by_status = q->status && q->status[0];
    int by_reference = q->reference && q->reference[0];
    sqlite3_stmt *st = stmt(s, ST_INTENT_LIST + by_status + 2 * by_reference);
    bind_text(st, 1, q->status);
    bind_text(st, 2, q->reference);
    sqlite3_bind_int64(st, 3, q->created_from_ms);
    sqlite3_bind_int64(st, 4, q->created_to_ms);
    /* The byte 0xFF never occurs in UTF-8, so under SQLite's BINARY
     * collation it sorts above every stored id: the first page. */
    bind_text(st, 5, q->starting_after && q->starting_after[0] ? q->starting_after : "\xff");
    sqlite3_bind_int64(st, 6, limit_of(q->limit));
    int rc = emit_intents(s, st, emit, ctx, &count);
    constra__unlock(&s->platform, s->mutex);
    return rc;
}

static int sq_list_events(void *ud, const char *intent_id, int64_t after, size_t limit,
                          constra_storage_event_fn emit, void *ctx)
{
    sq_store *s = ud;
    if ((intent_id && !constra__storage_valid_text(intent_id)) || emit == NULL || after < 0) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra__lock(&s->platform, s->mutex);
    sqlite3_stmt *st;
    if (intent_id) { /* "" selects the unmatched callbacks */
        st = stmt(s, ST_EVENTS_OF);
        bind_text(st, 1, intent_id);
        sqlite3_bind_int64(st, 2, after);
        sqlite3_bind_int64(st, 3, limit_of(limit));
    } else {
        st = stmt(s, ST_EVENTS_ALL);
        sqlite3_bind_int64(st, 1, after);
        sqlite3_bind_int64(st, 2, limit_of(limit));
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        constra_storage_event row;
        event_row(st, &row);
        if (emit(ctx, &row) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    done(st);
    constra__unlock(&s->platform, s->mutex);
    return rc == SQLITE_DONE ? CONSTRA_OK : status_of(rc) == CONSTRA_OK ? CONSTRA_E_STORAGE
                                                                        : status_of(rc);
}

/* ---- idempotency ------------------------------------------------------ */

/* Inside the write transaction: CONFLICT (emitted) if a live record holds
 * the key, else replaces whatever is there with the new reservation. */
static int reserve_locked(sq_store *s, const constra_storage_idempotency *r, int64_t now,
                          constra_storage_idempotency_fn emit, void *ctx)
{
    sqlite3_stmt *st = stmt(s, ST_IDEM_GET);
    bind_text(st, 1, r->key);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        constra_storage_idempotency cur;
        idem_row(st, &cur);
        int dead = cur.expires_at_ms <= now || (cur.state == CONSTRA_IDEMPOTENCY_IN_FLIGHT &&
                                                cur.lease_expires_at_ms <= now);
        if (!dead) {
            if (emit) {
                emit(ctx, &cur);
            }
            done(st);
            return CONSTRA_E_CONFLICT;
        }
    } else if (rc != SQLITE_DONE) {
        done(st);
        return status_of(rc) == CONSTRA_OK ? CONSTRA_E_STORAGE : status_of(rc);
    }
    done(st);
    st = stmt(s, ST_IDEM_PUT);
    rc = bind_text(st, 1, r->key);
    if (rc == SQLITE_OK) rc = bind_text(st, 2, r->fingerprint);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int(st, 3, CONSTRA_IDEMPOTENCY_IN_FLIGHT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 4, r->created_at_ms);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 5, r->expires_at_ms);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 6, r->lease_expires_at_ms);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    done(st);
    if (rc != SQLITE_DONE) {
        return status_of(rc) == CONSTRA_OK ? CONSTRA_E_STORAGE : status_of(rc);
    }
    return CONSTRA_OK;
}

static int sq_idem_reserve(void *ud, const constra_storage_idempotency *r, int64_t now,
                           constra_storage_idempotency_fn emit, void *ctx)
{
    sq_store *s = ud;
    if (!constra__storage_idem_valid(r)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra__lock(&s->platform, s->mutex);
    int rc = begin(s);
    if (rc == CONSTRA_OK) {
        rc = reserve_locked(s, r, now, emit, ctx);
        /* A conflict wrote nothing: end the transaction either way. */
        rc = finish(s, rc);
    }
    constra__unlock(&s->platform, s->mutex);
    return rc;
}

static int sq_idem_complete(void *ud, const constra_storage_idempotency *r)
{
    if (!constra__storage_idem_valid(r)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra_storage_write w = {sizeof(w), NULL, 0, NULL, 0, r};
    return sq_commit(ud, &w);
}

static int sq_idem_release(void *ud, const char *key, const char *fingerprint)
{
    sq_store *s = ud;
    if (!constra__storage_valid_text(key) || !constra__storage_valid_text(fingerprint)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra__lock(&s->platform, s->mutex);
    sqlite3_stmt *st = stmt(s, ST_IDEM_RELEASE);
    bind_text(st, 1, key);
    bind_text(st, 2, fingerprint);
    sqlite3_bind_int(st, 3, CONSTRA_IDEMPOTENCY_IN_FLIGHT);
    int rc = run(s, ST_IDEM_RELEASE);
    if (rc != SQLITE_OK) {
        log_failure(s, "idempotency_release", rc);
    }
    constra__unlock(&s->platform, s->mutex);
    return status_of(rc);
}

static int sq_purge_expired(void *ud, int64_t now)
{
    sq_store *s = ud;
    constra__lock(&s->platform, s->mutex);
    sqlite3_stmt *st = stmt(s, ST_IDEM_PURGE);
    sqlite3_bind_int64(st, 1, now);
    int rc = run(s, ST_IDEM_PURGE);
    if (rc == SQLITE_OK) {
        /* Unmatched callbacks are kept for reconciliation for
         * CONSTRA_STORAGE_UNMATCHED_RETENTION_MS (storage.h). */
        st = stmt(s, ST_UNMATCHED_PURGE);
        sqlite3_bind_int64(st, 1, now - CONSTRA_STORAGE_UNMATCHED_RETENTION_MS);
        rc = run(s, ST_UNMATCHED_PURGE);
    }
    if (rc != SQLITE_OK) {
        log_failure(s, "purge_expired", rc);
    }
    constra__unlock(&s->platform, s->mutex);
    return status_of(rc);
}

/* ---- webhook delivery ------------------------------------------------- */

/* The status of a finished step that should have been SQLITE_DONE. */
static int step_status(int rc)
{
    if (rc == SQLITE_DONE) {
        return CONSTRA_OK;
    }
    if (is_duplicate(rc)) {
        return CONSTRA_E_CONFLICT;
    }
    return status_of(rc) == CONSTRA_OK ? CONSTRA_E_STORAGE : status_of(rc);
}

/* Runs a bound statement expected to return no rows. */
static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    done(st);
    return step_status(rc);
}

/* Reads one int64 column of the single row `st` returns; NOT_FOUND when
 * there is none. */
static int step_int64(sqlite3_stmt *st, int col, int64_t *out)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, col);
    }
    done(st);
    return rc == SQLITE_ROW ? CONSTRA_OK : rc == SQLITE_DONE ? CONSTRA_E_NOT_FOUND : step_status(rc);
}

static int sq_ep_insert(void *ud, const constra_storage_webhook_endpoint *ep)
{
    sq_store *s = ud;
    if (!constra__storage_endpoint_valid(ep) || ep->version != 1) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra__lock(&s->platform, s->mutex);
    int rc = begin(s);
    if (rc == CONSTRA_OK) {
        int64_t head = 0;
        rc = step_int64(stmt(s, ST_EVENTS_HEAD), 0, &head);
        if (rc == CONSTRA_OK) {
            sqlite3_stmt *st = stmt(s, ST_EP_INSERT);
            bind_text(st, 1, ep->id);
            bind_text(st, 2, ep->url);
            bind_text(st, 3, ep->secret);
            bind_text(st, 4, ep->event_types);
            sqlite3_bind_int(st, 5, ep->enabled);
            sqlite3_bind_int64(st, 6, ep->created_at_ms);
            sqlite3_bind_int64(st, 7, ep->updated_at_ms);
            sqlite3_bind_int64(st, 8, head);
            bind_text(st, 9, ep->attributes);
            rc = step_done(st);
        }
        rc = finish(s, rc);
    }
    constra__unlock(&s->platform, s->mutex);
    return rc;
}

static int sq_ep_update(void *ud, const constra_storage_webhook_endpoint *ep, int64_t expected)
{
    sq_store *s = ud;
    if (!constra__storage_endpoint_valid(ep) || expected < 1 || ep->version != expected + 1) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra__lock(&s->platform, s->mutex);
    int rc = begin(s);
    if (rc == CONSTRA_OK) {
        sqlite3_stmt *st = stmt(s, ST_EP_STATE);
        bind_text(st, 1, ep->id);
        int64_t version = 0;
        rc = step_int64(st, 0, &version);
        if (rc == CONSTRA_OK && version != expected) {
            rc = CONSTRA_E_CONFLICT;
        }
        if (rc == CONSTRA_OK) {
            st = stmt(s, ST_EP_UPDATE);
            bind_text(st, 1, ep->id);
            bind_text(st, 2, ep->url);
            bind_text(st, 3, ep->secret);
            bind_text(st, 4, ep->event_types);
            sqlite3_bind_int(st, 5, ep->enabled);
            sqlite3_bind_int64(st, 6, ep->updated_at_ms);
            sqlite3_bind_int64(st, 7, ep->version);
            sqlite3_bind_int64(st, 8, expected);
            bind_text(st, 9, ep->attributes);
            rc = step_done(st);
            if (rc == CONSTRA_OK && sqlite3_changes(s->db) != 1) {
                rc = CONSTRA_E_CONFLICT;
            }
        }
        rc = finish(s, rc);
    }
    constra__unlock(&s->platform, s->mutex);
    return rc;
}

static int sq_ep_delete(void *ud, const char *id)
{
    sq_store *s = ud;
    if (!constra__storage_valid_text(id)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra__lock(&s->platform, s->mutex);
    int rc = begin(s);
    if (rc == CONSTRA_OK) {
        sqlite3_stmt *st = stmt(s, ST_EP_DELETE);
        bind_text(st, 1, id);
        rc = step_done(st);
        if (rc == CONSTRA_OK && sqlite3_changes(s->db) != 1) {
            rc = CONSTRA_E_NOT_FOUND;
        }
        if (rc == CONSTRA_OK) {
            st = stmt(s, ST_EP_DELETE_DELIVERIES);
            bind_text(st, 1, id);
            rc = step_done(st);
        }
        rc = finish(s, rc);
    }
    constra__unlock(&s->platform, s->mutex);
    return rc;
}

static int sq_ep_list(void *ud, constra_storage_endpoint_fn emit, void *ctx)
{
    sq_store *s = ud;
    if (emit == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra__lock(&s->platform, s->mutex);
    sqlite3_stmt *st = stmt(s, ST_EP_LIST);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        constra_storage_webhook_endpoint row = {sizeof(row), col_text(st, 0), col_text(st, 1),
                                                col_text(st, 2), col_text(st, 3),
                                                sqlite3_column_int(st, 4),
                                                sqlite3_column_int64(st, 5),
                                                sqlite3_column_int64(st, 6),
                                                sqlite3_column_int64(st, 7),
                                                sqlite3_column_int64(st, 8),
                                                col_text(st, 9)};
        if (emit(ctx, &row) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    done(st);
    constra__unlock(&s->platform, s->mutex);
    return step_status(rc);
}

static int insert_delivery(sq_store *s, const constra_storage_delivery *d)
{
    sqlite3_stmt *st = stmt(s, ST_DL_INSERT);
    int rc = bind_text(st, 1, d->id);
    if (rc == SQLITE_OK) rc = bind_text(st, 2, d->endpoint_id);
    if (rc == SQLITE_OK) rc = bind_text(st, 3, d->event_id);
    if (rc == SQLITE_OK) rc = bind_text(st, 4, d->event_type);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 5, d->event_sequence);
    if (rc == SQLITE_OK) rc = bind_text(st, 6, d->state);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int(st, 7, d->attempts);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int(st, 8, d->last_status);
    if (rc == SQLITE_OK) rc = bind_text(st, 9, d->last_error);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 10, d->next_attempt_at_ms);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 11, d->created_at_ms);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 12, d->updated_at_ms);
    if (rc == SQLITE_OK) rc = bind_blob(st, 13, d->body, d->body_len);
    if (rc == SQLITE_OK) rc = bind_blob(st, 14, d->log, d->log_len);
    if (rc != SQLITE_OK) {
        done(st);
        return status_of(rc) == CONSTRA_OK ? CONSTRA_E_STORAGE : status_of(rc);
    }
    return step_done(st);
}

static int sq_enqueue(void *ud, const char *endpoint_id, int64_t expected, int64_t cursor,
                      const constra_storage_delivery *d, size_t count)
{
    sq_store *s = ud;
    if (!constra__storage_valid_text(endpoint_id) || expected < 0 || cursor < expected ||
        (count > 0 && d == NULL)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    for (size_t i = 0; i < count; i++) {
        if (!constra__storage_delivery_valid(&d[i]) || d[i].version != 1 ||
            strcmp(d[i].endpoint_id, endpoint_id) != 0) {
            return CONSTRA_E_INVALID_ARGUMENT;
        }
    }
    constra__lock(&s->platform, s->mutex);
    int rc = begin(s);
    if (rc == CONSTRA_OK) {
        sqlite3_stmt *st = stmt(s, ST_EP_STATE);
        bind_text(st, 1, endpoint_id);
        int64_t current = 0;
        rc = step_int64(st, 1, &current);
        if (rc == CONSTRA_OK && current != expected) {
            rc = CONSTRA_E_CONFLICT;
        }
        if (rc == CONSTRA_OK) {
            st = stmt(s, ST_EP_CURSOR);
            bind_text(st, 1, endpoint_id);
            sqlite3_bind_int64(st, 2, cursor);
            sqlite3_bind_int64(st, 3, expected);
            rc = step_done(st);
        }
        for (size_t i = 0; rc == CONSTRA_OK && i < count; i++) {
            rc = insert_delivery(s, &d[i]);
        }
        rc = finish(s, rc);
    }
    constra__unlock(&s->platform, s->mutex);
    return rc;
}

static int sq_dl_list(void *ud, const constra_storage_delivery_query *q,
                      constra_storage_delivery_fn emit, void *ctx)
{
    sq_store *s = ud;
    if (!constra__storage_delivery_query_valid(q) || emit == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra__lock(&s->platform, s->mutex);
    sqlite3_stmt *st = stmt(s, ST_DL_LIST);
    bind_text(st, 1, q->id);
    bind_text(st, 2, q->endpoint_id);
    bind_text(st, 3, q->state);
    sqlite3_bind_int64(st, 4, q->due_at_ms);
    bind_text(st, 5, q->starting_after);
    sqlite3_bind_int64(st, 6, limit_of(q->limit));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        constra_storage_delivery row;
        memset(&row, 0, sizeof(row));
        row.struct_size = sizeof(row);
        row.id = col_text(st, 0);
        row.endpoint_id = col_text(st, 1);
        row.event_id = col_text(st, 2);
        row.event_type = col_text(st, 3);
        row.event_sequence = sqlite3_column_int64(st, 4);
        row.state = col_text(st, 5);
        row.attempts = sqlite3_column_int(st, 6);
        row.last_status = sqlite3_column_int(st, 7);
        row.last_error = col_text(st, 8);
        row.next_attempt_at_ms = sqlite3_column_int64(st, 9);
        row.created_at_ms = sqlite3_column_int64(st, 10);
        row.updated_at_ms = sqlite3_column_int64(st, 11);
        row.version = sqlite3_column_int64(st, 12);
        row.body = col_blob(st, 13, &row.body_len);
        row.log = col_blob(st, 14, &row.log_len);
        if (emit(ctx, &row) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    done(st);
    constra__unlock(&s->platform, s->mutex);
    return step_status(rc);
}

static int sq_dl_update(void *ud, const constra_storage_delivery *d, int64_t expected)
{
    sq_store *s = ud;
    if (!constra__storage_delivery_valid(d) || expected < 1 || d->version != expected + 1) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra__lock(&s->platform, s->mutex);
    int rc = begin(s);
    if (rc == CONSTRA_OK) {
        sqlite3_stmt *st = stmt(s, ST_DL_VERSION);
        bind_text(st, 1, d->id);
        int64_t version = 0;
        rc = step_int64(st, 0, &version);
        if (rc == CONSTRA_OK && version != expected) {
            rc = CONSTRA_E_CONFLICT;
        }
        if (rc == CONSTRA_OK) {
            st = stmt(s, ST_DL_UPDATE);
            int brc = bind_text(st, 1, d->id);
            if (brc == SQLITE_OK) brc = bind_text(st, 2, d->state);
            if (brc == SQLITE_OK) brc = sqlite3_bind_int(st, 3, d->attempts);
            if (brc == SQLITE_OK) brc = sqlite3_bind_int(st, 4, d->last_status);
            if (brc == SQLITE_OK) brc = bind_text(st, 5, d->last_error);
            if (brc == SQLITE_OK) brc = sqlite3_bind_int64(st, 6, d->next_attempt_at_ms);
            if (brc == SQLITE_OK) brc = sqlite3_bind_int64(st, 7, d->updated_at_ms);
            if (brc == SQLITE_OK) brc = sqlite3_bind_int64(st, 8, d->version);
            if (brc == SQLITE_OK) brc = bind_blob(st, 9, d->log, d->log_len);
            if (brc == SQLITE_OK) brc = sqlite3_bind_int64(st, 10, expected);
            if (brc != SQLITE_OK) {
                done(st);
                rc = status_of(brc) == CONSTRA_OK ? CONSTRA_E_STORAGE : status_of(brc);
            } else {
                rc = step_done(st);
                if (rc == CONSTRA_OK && sqlite3_changes(s->db) != 1) {
                    rc = CONSTRA_E_CONFLICT;
                }
            }
        }
        rc = finish(s, rc);
    }
    constra__unlock(&s->platform, s->mutex);
    return rc;
}

/* ---- workspace metadata --------------------------------------------- */

/* Emits the value of `key` if it has one: CONSTRA_OK or CONSTRA_E_NOT_FOUND.
 * Called with the mutex held. */
static int meta_read(sq_store *s, const char *key, constra_storage_meta_fn emit, void *ctx)
{
    sqlite3_stmt *st = stmt(s, ST_META_GET);
    bind_text(st, 1, key);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && emit != NULL) {
        emit(ctx, col_text(st, 0));
    }
    done(st);
    return rc == SQLITE_ROW ? CONSTRA_OK : rc == SQLITE_DONE ? CONSTRA_E_NOT_FOUND : step_status(rc);
}

static int sq_meta_get(void *ud, const char *key, constra_storage_meta_fn emit, void *ctx)
{
    sq_store *s = ud;
    if (!constra__storage_meta_key_valid(key) || emit == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra__lock(&s->platform, s->mutex);
    int rc = meta_read(s, key, emit, ctx);
    constra__unlock(&s->platform, s->mutex);
    return rc;
}

static int sq_meta_put(void *ud, const char *key, const char *value,
                       constra_storage_meta_fn emit, void *ctx)
{
    sq_store *s = ud;
    if (!constra__storage_meta_put_valid(key, value)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra__lock(&s->platform, s->mutex);
    /* Read and insert under the write lock: another process cannot slip
     * its value in between. */
    int rc = begin(s);
    if (rc == CONSTRA_OK) {
        rc = meta_read(s, key, emit, ctx);
        if (rc == CONSTRA_OK) {
            rc = CONSTRA_E_CONFLICT;
        } else if (rc == CONSTRA_E_NOT_FOUND) {
            sqlite3_stmt *st = stmt(s, ST_META_PUT);
            bind_text(st, 1, key);
            bind_text(st, 2, value);
            rc = step_done(st);
        }
        rc = finish(s, rc);
    }
    constra__unlock(&s->platform, s->mutex);
    return rc;
}

/* ---- lifetime --------------------------------------------------------- */

static void close_store(sq_store *s)
{
    constra_platform plat = s->platform;
    for (int i = 0; i < ST_COUNT; i++) {
        sqlite3_finalize(s->st[i]); /* NULL is a no-op */
    }
    sqlite3_close(s->db); /* NULL is a no-op */
    if (s->mutex) {
        plat.mutex_destroy(plat.user_data, s->mutex);
    }
    constra__free(&plat, s);
}

static void sq_destroy(void *ud)
{
    close_store(ud);
}

static int db_fail(sq_store *s, constra_error *err, const char *what)
{
    int rc = sqlite3_extended_errcode(s->db);
    int status = status_of(rc);
    if (status == CONSTRA_OK) {
        status = CONSTRA_E_STORAGE;
    }
    return constra__fail(err, status, NULL, "options.path", "sqlite storage: %s: %s", what,
                         sqlite3_errmsg(s->db));
}

/* Runs one SQL text; on failure records it in err. */
static int exec_sql(sq_store *s, const char *sql, const char *what, constra_error *err)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        return db_fail(s, err, what);
    }
    return CONSTRA_OK;
}

/* SQLite opens a file it may not write read-only without a word, and an
 * existing database needs no write to open: the first payment would be
 * the first write to fail. So take the write lock once, here (and give
 * it back): a read-only file, directory or file system fails the open
 * with a clear error. Busy (another process writing) is writable. */
static int check_writable(sq_store *s, constra_error *err)
{
    if (sqlite3_db_readonly(s->db, "main") == 1) {
        return constra__fail(err, CONSTRA_E_STORAGE, "storage_read_only", "options.path",
                             "sqlite storage: the database can only be opened read-only "
                             "(check the permissions of the file and of its directory)");
    }
    int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return CONSTRA_OK;
    }
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
        return CONSTRA_OK;
    }
    return constra__fail(err, CONSTRA_E_STORAGE, "storage_read_only", "options.path",
                         "sqlite storage: the database cannot be written: %s (check the "
                         "permissions of the file and of its directory)",
                         sqlite3_errmsg(s->db));
}

/* Reads meta.schema_version (0 when the database is new). */
static int schema_version(sq_store *s, int64_t *version, constra_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st,
                           NULL) != SQLITE_OK) {
        return db_fail(s, err, "reading the schema version");
    }
    int rc = sqlite3_step(st);
    *version = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return db_fail(s, err, "reading the schema version");
    }
    return CONSTRA_OK;
}

/* Brings the schema to SCHEMA_VERSION in one write transaction, so two
 * processes opening a new file at once do not both create it. */
static int migrate(sq_store *s, constra_error *err)
{
    int rc = exec_sql(s, "BEGIN IMMEDIATE", "locking the database", err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    int64_t version = 0;
    rc = exec_sql(s, "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY NOT NULL, value)",
                  "creating the meta table", err);
    if (rc == CONSTRA_OK) {
        rc = schema_version(s, &version, err);
    }
    if (rc == CONSTRA_OK && (version < 0 || version > SCHEMA_VERSION)) {
        rc = constra__fail(err, CONSTRA_E_STORAGE, NULL, "options.path",
                           "sqlite storage: schema version %lld is newer than this library's %lld",
                           (long long)version, (long long)SCHEMA_VERSION);
    }
    for (int64_t v = version; rc == CONSTRA_OK && v < SCHEMA_VERSION; v++) {
        rc = exec_sql(s, migrations[v], "migrating the schema", err);
    }
    if (rc == CONSTRA_OK && version != SCHEMA_VERSION) {
        char sql[128];
        snprintf(sql, sizeof(sql),
                 "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', %lld)",
                 (long long)SCHEMA_VERSION);
        rc = exec_sql(s, sql, "recording the schema version", err);
    }
    if (rc == CONSTRA_OK) {
        return exec_sql(s, "COMMIT", "committing the schema", err);
    }
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int configure(sq_store *s, const constra_sqlite_options *o, constra_error *err)
{
    int memory = strcmp(o->path, ":memory:") == 0;
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, o->busy_timeout_ms ? o->busy_timeout_ms : DEFAULT_BUSY_MS);
    if (!memory) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK) {
            return db_fail(s, err, "setting WAL mode");
        }
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const char *mode = col_text(st, 0);
            if (strcmp(mode, "wal") != 0) {
                constra__log(&s->platform, CONSTRA_LOG_WARN,
                             "sqlite storage: WAL unavailable, journal mode is %s", mode);
            }
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            return db_fail(s, err, "setting WAL mode");
        }
    }
    int rc = exec_sql(s, o->synchronous == CONSTRA_SQLITE_SYNC_NORMAL ? "PRAGMA synchronous=NORMAL"
                                                                      : "PRAGMA synchronous=FULL",
                      "setting synchronous", err);
    if (rc == CONSTRA_OK) {
        rc = migrate(s, err);
    }
    for (int i = 0; rc == CONSTRA_OK && i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, statement_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                               NULL) != SQLITE_OK) {
            rc = db_fail(s, err, "preparing statements");
        }
    }
    return rc;
}

int constra_storage_sqlite(constra_storage *out, const constra_platform *platform,
                           const constra_sqlite_options *options, constra_error *err)
{
    int rc = constra__check_struct(out, CONSTRA__STORAGE_V1_SIZE, sizeof(*out), "out", err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (options == NULL) {
        return constra__fail_null(err, "options");
    }
    rc = constra__check_struct(options, sizeof(*options), sizeof(*options), "options", err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra_sqlite_options o;
    constra__copy_struct(&o, sizeof(o), options);
    rc = constra__check_str(o.path, 4096, 0, "options.path", NULL, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (o.synchronous != CONSTRA_SQLITE_SYNC_FULL && o.synchronous != CONSTRA_SQLITE_SYNC_NORMAL) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, NULL, "options.synchronous",
                             "synchronous must be CONSTRA_SQLITE_SYNC_FULL or _NORMAL");
    }
    if (o.busy_timeout_ms < 0) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, NULL, "options.busy_timeout_ms",
                             "busy_timeout_ms must not be negative");
    }
    constra_platform plat;
    rc = constra__platform_resolve(&plat, platform, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    sq_store *s = constra__calloc(&plat, 1, sizeof(*s));
    if (s == NULL) {
        return constra__fail(err, CONSTRA_E_NOMEM, NULL, NULL, "cannot allocate sqlite storage");
    }
    s->platform = plat;
    if (plat.mutex_create(plat.user_data, &s->mutex) != 0) {
        s->mutex = NULL;
        close_store(s);
        return constra__fail(err, CONSTRA_E_PLATFORM, NULL, "platform.mutex_create",
                             "cannot create the storage mutex");
    }
    int orc = sqlite3_open_v2(o.path, &s->db,
                              SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                              NULL);
    if (orc != SQLITE_OK) {
        rc = s->db ? db_fail(s, err, "opening the database")
                   : constra__fail(err, CONSTRA_E_NOMEM, NULL, NULL, "cannot allocate sqlite");
        close_store(s);
        return rc;
    }
    rc = configure(s, &o, err);
    if (rc != CONSTRA_OK) {
        close_store(s);
        return rc;
    }
    rc = check_writable(s, err);
    if (rc != CONSTRA_OK) {
        close_store(s);
        return rc;
    }
    constra_storage st = CONSTRA_STORAGE_INIT;
    st.user_data = s;
    st.commit = sq_commit;
    st.get_intent = sq_get_intent;
    st.find_by_checkout = sq_find_by_checkout;
    st.list_intents = sq_list_intents;
    st.list_events = sq_list_events;
    st.idempotency_reserve = sq_idem_reserve;
    st.idempotency_complete = sq_idem_complete;
    st.idempotency_release = sq_idem_release;
    st.purge_expired = sq_purge_expired;
    st.destroy = sq_destroy;
    st.webhook_endpoint_insert = sq_ep_insert;
    st.webhook_endpoint_update = sq_ep_update;
    st.webhook_endpoint_delete = sq_ep_delete;
    st.webhook_endpoint_list = sq_ep_list;
    st.webhook_enqueue = sq_enqueue;
    st.webhook_delivery_list = sq_dl_list;
    st.webhook_delivery_update = sq_dl_update;
    st.meta_get = sq_meta_get;
    st.meta_put_if_absent = sq_meta_put;
    constra__fill_struct(out, &st, sizeof(st));
    return CONSTRA_OK;
}

#endif /* CONSTRA_HAVE_SQLITE */
