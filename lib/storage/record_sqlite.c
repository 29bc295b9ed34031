/*
 * The record store on SQLite (storage.h).
 *
 * Four tables, prefixed rs_ so they can share a file with other data:
 *   rs_records (kind, id) -> version, expires_at, document, keys: the
 *              record, its index entries serialised for reading back;
 *   rs_keys    (kind, idx, value, id) -> uniq: the index entries, the
 *              primary key being the scan order (value is a BLOB, so
 *              comparisons are memcmp, as the contract says);
 *   rs_events  sequence (AUTOINCREMENT: never reused, even after a purge)
 *              -> stream, id (unique), type, times, document;
 *   rs_meta    the schema version.
 * A commit is one BEGIN IMMEDIATE transaction: SQLite has one writer at a
 * time per file, across processes, so sequences commit in order and a
 * compare-and-set read inside the transaction cannot go stale.
 *
 * Every scan shape (which bounds, which direction, which index) gets its
 * own SQL text with only the conditions it needs, so each query can use
 * its index; an "(? IS NULL OR ...)" condition would defeat it.
 */
#include "constra_config.h"

#include <stdio.h>
#include <string.h>

#include "constra/storage.h"
#include "constra/storage_sqlite.h"
#include "platform/platform.h"
#include "storage/migrate_legacy.h"
#include "storage/record_internal.h"
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

const char *constra__record_sqlite_sql(size_t i, char *buf, size_t size)
{
    (void)i;
    (void)buf;
    (void)size;
    return NULL;
}

#else

#include <sqlite3.h>

#define SCHEMA_VERSION "1"
#define DEFAULT_BUSY_MS 5000
#define SCAN_SHAPES 32 /* on_ids, descending, lo, hi, cursor */

typedef struct rstore {
    constra_platform platform;
    void *mutex; /* one connection: calls on it are serialised */
    sqlite3 *db;
    sqlite3_stmt *get, *version, *key_clash, *del_keys, *put_rec, *put_key, *del_rec;
    sqlite3_stmt *add_event, *events_all, *events_stream, *dead_recs, *purge_events;
    sqlite3_stmt *scans[SCAN_SHAPES];
} rstore;

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
        return CONSTRA_E_STORAGE;
    }
}

static int exec(rstore *s, const char *sql)
{
    return status_of(sqlite3_exec(s->db, sql, NULL, NULL, NULL));
}

static int prepare(rstore *s, sqlite3_stmt **st, const char *sql)
{
    return status_of(sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL));
}

static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? CONSTRA_OK : status_of(rc == SQLITE_ROW ? SQLITE_ERROR : rc);
}

static void bind_text(sqlite3_stmt *st, int i, const char *t)
{
    sqlite3_bind_text(st, i, t, -1, SQLITE_STATIC);
}

static void bind_value(sqlite3_stmt *st, int i, const char *v)
{
    /* Index values are BLOBs: compared as bytes, whatever their text. */
    sqlite3_bind_blob(st, i, v, (int)strlen(v), SQLITE_STATIC);
}

/* ---- reading a row back ----------------------------------------------- */

/* Emits the record in columns [first, first + 5) of `st`: id, version,
 * expires_at, document, keys; the kind is the caller's. */
static int emit_row(sqlite3_stmt *st, int first, const char *kind, constra_record *out,
                    constra_record_key keys[CONSTRA_RECORD_KEYS_MAX])
{
    memset(out, 0, sizeof(*out));
    out->struct_size = sizeof(*out);
    out->kind = kind;
    out->id = (const char *)sqlite3_column_text(st, first);
    out->version = sqlite3_column_int64(st, first + 1);
    out->expires_at_ms = sqlite3_column_int64(st, first + 2);
    out->document = sqlite3_column_blob(st, first + 3);
    out->document_len = (size_t)sqlite3_column_bytes(st, first + 3);
    const char *kb = sqlite3_column_blob(st, first + 4);
    size_t kl = (size_t)sqlite3_column_bytes(st, first + 4);
    out->keys = keys;
    if (out->id == NULL || (kl && kb == NULL) ||
        constra__record_keys_read(kb ? kb : "", kl, keys, &out->key_count) != 0) {
        return CONSTRA_E_STORAGE; /* a corrupt row: never emitted half-read */
    }
    if (out->document == NULL) {
        out->document = "";
    }
    return CONSTRA_OK;
}

/* ---- commit ------------------------------------------------------------- */

/* The live version of (kind, id) inside the transaction: 0 when absent. */
static int live_version(void *ctx, const char *kind, const char *id, int64_t now,
                        int64_t *version)
{
    rstore *s = ctx;
    sqlite3_stmt *st = s->version;
    bind_text(st, 1, kind);
    bind_text(st, 2, id);
    int rc = sqlite3_step(st);
    *version = 0;
    if (rc == SQLITE_ROW) {
        int64_t exp = sqlite3_column_int64(st, 1);
        if (exp == 0 || exp > now) {
            *version = sqlite3_column_int64(st, 0);
        }
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? CONSTRA_OK : status_of(rc);
}

/* 1 when an entry of the record collides with another live record's. */
static int clashes(void *ctx, const constra_record *r, int64_t now, int *clash)
{
    rstore *s = ctx;
    *clash = 0;
    for (size_t k = 0; k < r->key_count && !*clash; k++) {
        sqlite3_stmt *st = s->key_clash;
        bind_text(st, 1, r->kind);
        bind_text(st, 2, r->keys[k].index);
        bind_value(st, 3, r->keys[k].value);
        bind_text(st, 4, r->id);
        sqlite3_bind_int64(st, 5, now);
        sqlite3_bind_int(st, 6, r->keys[k].unique != 0);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_ROW) {
            *clash = 1;
        } else if (rc != SQLITE_DONE) {
            return status_of(rc);
        }
    }
    return CONSTRA_OK;
}

static int remove_record(void *ctx, const char *kind, const char *id)
{
    rstore *s = ctx;
    bind_text(s->del_keys, 1, kind);
    bind_text(s->del_keys, 2, id);
    int rc = step_done(s->del_keys);
    if (rc == CONSTRA_OK) {
        bind_text(s->del_rec, 1, kind);
        bind_text(s->del_rec, 2, id);
        rc = step_done(s->del_rec);
    }
    return rc;
}

static int write_record(void *ctx, const constra_record *r, int64_t version)
{
    rstore *s = ctx;
    int rc = remove_record(s, r->kind, r->id); /* a dead one, or the old version */
    if (rc != CONSTRA_OK) {
        return rc;
    }
    size_t klen = constra__record_keys_size(r);
    char *kb = constra__malloc(&s->platform, klen ? klen : 1);
    if (kb == NULL) {
        return CONSTRA_E_NOMEM;
    }
    constra__record_keys_write(r, kb);
    sqlite3_stmt *st = s->put_rec;
    bind_text(st, 1, r->kind);
    bind_text(st, 2, r->id);
    sqlite3_bind_int64(st, 3, version);
    sqlite3_bind_int64(st, 4, r->expires_at_ms);
    sqlite3_bind_blob64(st, 5, r->document ? r->document : "", r->document_len, SQLITE_STATIC);
    sqlite3_bind_blob64(st, 6, kb, klen, SQLITE_STATIC);
    rc = step_done(st);
    constra__free(&s->platform, kb);
    for (size_t k = 0; k < r->key_count && rc == CONSTRA_OK; k++) {
        st = s->put_key;
        bind_text(st, 1, r->kind);
        bind_text(st, 2, r->keys[k].index);
        bind_value(st, 3, r->keys[k].value);
        bind_text(st, 4, r->id);
        sqlite3_bind_int(st, 5, r->keys[k].unique != 0);
        rc = step_done(st);
    }
    return rc;
}

/* One event; CONSTRA_E_CONFLICT when its id is taken. */
static int add_event(void *ctx, const constra_record_event *e)
{
    rstore *s = ctx;
    sqlite3_stmt *st = s->add_event;
    bind_text(st, 1, e->stream);
    bind_text(st, 2, e->id);
    bind_text(st, 3, e->type);
    sqlite3_bind_int64(st, 4, e->created_at_ms);
    sqlite3_bind_int64(st, 5, e->expires_at_ms);
    sqlite3_bind_blob64(st, 6, e->document ? e->document : "", e->document_len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        return CONSTRA_E_CONFLICT;
    }
    return rc == SQLITE_DONE ? CONSTRA_OK : status_of(rc);
}


static int sq_commit(void *ud, const constra_record_commit *c, size_t *failed_op)
{
    rstore *s = ud;
    int rc = constra_record_commit_check(c, NULL);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra__lock(&s->platform, s->mutex);
    size_t failed = 0;
    rc = exec(s, "BEGIN IMMEDIATE");
    if (rc == CONSTRA_OK) {
        /* One writer per file (BEGIN IMMEDIATE): a check inside the
         * transaction cannot go stale. */
        constra__record_tx tx = {s, live_version, clashes, write_record, remove_record,
                                 add_event};
        rc = constra__record_apply(&tx, c, &failed);
        if (rc == CONSTRA_OK) {
            rc = exec(s, "COMMIT");
        }
        if (rc != CONSTRA_OK && sqlite3_get_autocommit(s->db) == 0) {
            exec(s, "ROLLBACK"); /* nothing of the commit stays */
        }
    }
    constra__unlock(&s->platform, s->mutex);
    if (rc == CONSTRA_E_CONFLICT && failed_op != NULL) {
        *failed_op = failed;
    }
    return rc;
}

/* ---- reads -------------------------------------------------------------- */

static int sq_get(void *ud, const char *kind, const char *id, int64_t now_ms,
                  constra_record_fn emit, void *ctx)
{
    rstore *s = ud;
    if (!constra__record_get_valid(kind, id, emit)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra__lock(&s->platform, s->mutex);
    sqlite3_stmt *st = s->get;
    bind_text(st, 1, kind);
    bind_text(st, 2, id);
    sqlite3_bind_int64(st, 3, now_ms);
    int rc = sqlite3_step(st), out_rc;
    if (rc == SQLITE_ROW) {
        constra_record r;
        constra_record_key keys[CONSTRA_RECORD_KEYS_MAX];
        out_rc = emit_row(st, 0, kind, &r, keys);
        if (out_rc == CONSTRA_OK) {
            emit(ctx, &r);
        }
    } else {
        out_rc = rc == SQLITE_DONE ? CONSTRA_E_NOT_FOUND : status_of(rc);
    }
    sqlite3_reset(st);
    constra__unlock(&s->platform, s->mutex);
    return out_rc;
}

/* The SQL of one scan shape (a bit each: on_ids, descending, lo, hi,
 * cursor). Parameters: ?1 kind, ?2 index, ?3 lo, ?4 hi, ?5/?6 cursor
 * value and id, ?7 now, ?8 limit. */
static void scan_sql(char *sql, size_t size, int shape)
{
    int on_ids = shape & 1, desc = shape >> 1 & 1, lo = shape >> 2 & 1, hi = shape >> 3 & 1,
        cursor = shape >> 4 & 1;
    const char *v = on_ids ? "r.id" : "k.value";
    int n = snprintf(sql, size,
                     on_ids ? "SELECT r.id, r.id, r.version, r.expires_at, r.document, r.keys "
                              "FROM rs_records r WHERE r.kind = ?1"
                            : "SELECT k.value, r.id, r.version, r.expires_at, r.document, r.keys "
                              "FROM rs_keys k JOIN rs_records r ON r.kind = k.kind AND "
                              "r.id = k.id WHERE k.kind = ?1 AND k.idx = ?2");
    if (lo) {
        n += snprintf(sql + n, size - (size_t)n, " AND %s >= ?3", v);
    }
    if (hi) {
        n += snprintf(sql + n, size - (size_t)n, " AND %s < ?4", v);
    }
    if (cursor && on_ids) {
        n += snprintf(sql + n, size - (size_t)n, " AND r.id %s ?5", desc ? "<" : ">");
    } else if (cursor) {
        n += snprintf(sql + n, size - (size_t)n, " AND (k.value, k.id) %s (?5, ?6)",
                      desc ? "<" : ">");
    }
    snprintf(sql + n, size - (size_t)n,
             " AND (r.expires_at = 0 OR r.expires_at > ?7) ORDER BY %s %s%s LIMIT ?8", v,
             desc ? "DESC" : "ASC", on_ids ? "" : desc ? ", k.id DESC" : ", k.id ASC");
}

static sqlite3_stmt *scan_stmt(rstore *s, int on_ids, int desc, int lo, int hi, int cursor)
{
    int shape = on_ids | desc << 1 | lo << 2 | hi << 3 | cursor << 4;
    if (s->scans[shape] == NULL) {
        char sql[1024];
        scan_sql(sql, sizeof(sql), shape);
        if (prepare(s, &s->scans[shape], sql) != CONSTRA_OK) {
            s->scans[shape] = NULL;
        }
    }
    return s->scans[shape];
}

static int sq_scan(void *ud, const constra_record_scan *q, constra_record_scan_fn emit,
                   void *ctx)
{
    rstore *s = ud;
    if (constra__record_scan_check(q, NULL) != CONSTRA_OK || emit == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    const char *lo, *hi;
    char hi_buf[CONSTRA_RECORD_VALUE_MAX + 1];
    int empty;
    constra__record_scan_range(q, &lo, &hi, hi_buf, &empty);
    if (empty) {
        return CONSTRA_OK;
    }
    int on_ids = q->index[0] == '\0';
    constra__lock(&s->platform, s->mutex);
    sqlite3_stmt *st = scan_stmt(s, on_ids, q->descending != 0, lo != NULL, hi != NULL,
                                 q->after_value != NULL);
    int rc = st ? CONSTRA_OK : CONSTRA_E_STORAGE;
    if (st != NULL) {
        void (*bind)(sqlite3_stmt *, int, const char *) = on_ids ? bind_text : bind_value;
        bind_text(st, 1, q->kind);
        if (!on_ids) {
            bind_text(st, 2, q->index);
        }
        if (lo) {
            bind(st, 3, lo);
        }
        if (hi) {
            bind(st, 4, hi);
        }
        if (q->after_value) {
            bind(st, 5, q->after_value);
            if (!on_ids) {
                bind_text(st, 6, q->after_id);
            }
        }
        sqlite3_bind_int64(st, 7, q->now_ms);
        sqlite3_bind_int64(st, 8, q->limit > INT64_MAX ? INT64_MAX : (sqlite3_int64)q->limit);
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            constra_record r;
            constra_record_key keys[CONSTRA_RECORD_KEYS_MAX];
            char value[CONSTRA_RECORD_VALUE_MAX + 1];
            int vlen = sqlite3_column_bytes(st, 0);
            const void *vb = sqlite3_column_blob(st, 0);
            if (vlen < 0 || vlen > CONSTRA_RECORD_VALUE_MAX ||
                (rc = emit_row(st, 1, q->kind, &r, keys)) != CONSTRA_OK) {
                rc = CONSTRA_E_STORAGE;
                break;
            }
            memcpy(value, vb ? vb : "", (size_t)vlen);
            value[vlen] = '\0';
            if (emit(ctx, value, &r) != 0) {
                step = SQLITE_DONE;
                break;
            }
        }
        if (rc == CONSTRA_OK && step != SQLITE_DONE) {
            rc = status_of(step);
        }
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    constra__unlock(&s->platform, s->mutex);
    return rc;
}

static int sq_events(void *ud, const char *stream, int64_t after, size_t limit,
                     constra_record_event_fn emit, void *ctx)
{
    rstore *s = ud;
    if (!constra__record_events_valid(stream, limit, emit)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra__lock(&s->platform, s->mutex);
    sqlite3_stmt *st = stream ? s->events_stream : s->events_all;
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int64(st, 2, limit > INT64_MAX ? INT64_MAX : (sqlite3_int64)limit);
    if (stream) {
        bind_text(st, 3, stream);
    }
    int step, rc = CONSTRA_OK;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        constra_record_event e = {sizeof(e),
                                  sqlite3_column_int64(st, 0),
                                  (const char *)sqlite3_column_text(st, 1),
                                  (const char *)sqlite3_column_text(st, 2),
                                  (const char *)sqlite3_column_text(st, 3),
                                  sqlite3_column_int64(st, 4),
                                  sqlite3_column_int64(st, 5),
                                  sqlite3_column_blob(st, 6),
                                  (size_t)sqlite3_column_bytes(st, 6)};
        if (e.stream == NULL || e.id == NULL || e.type == NULL) {
            rc = CONSTRA_E_STORAGE;
            break;
        }
        if (e.document == NULL) {
            e.document = "";
        }
        if (emit(ctx, &e) != 0) {
            step = SQLITE_DONE;
            break;
        }
    }
    if (rc == CONSTRA_OK && step != SQLITE_DONE) {
        rc = status_of(step);
    }
    sqlite3_reset(st);
    constra__unlock(&s->platform, s->mutex);
    return rc;
}

static int purge_in_tx(rstore *s, int64_t now, size_t max, size_t *done)
{
    sqlite3_stmt *st = s->dead_recs;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, max > INT64_MAX ? INT64_MAX : (sqlite3_int64)max);
    /* Collect first: deleting while the select runs would move under it. */
    char (*kinds)[CONSTRA_RECORD_NAME_MAX + 1] = NULL;
    char (*ids)[CONSTRA_RECORD_VALUE_MAX + 1] = NULL;
    size_t n = 0, cap = max < 256 ? max : 256;
    int rc = CONSTRA_OK, step;
    kinds = constra__calloc(&s->platform, cap ? cap : 1, sizeof(*kinds));
    ids = constra__calloc(&s->platform, cap ? cap : 1, sizeof(*ids));
    if (kinds == NULL || ids == NULL) {
        rc = CONSTRA_E_NOMEM;
    }
    while (rc == CONSTRA_OK && n < cap && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(st, 0);
        const char *i = (const char *)sqlite3_column_text(st, 1);
        if (k == NULL || i == NULL || strlen(k) > CONSTRA_RECORD_NAME_MAX ||
            strlen(i) > CONSTRA_RECORD_VALUE_MAX) {
            rc = CONSTRA_E_STORAGE;
            break;
        }
        strcpy(kinds[n], k);
        strcpy(ids[n], i);
        n++;
    }
    sqlite3_reset(st);
    for (size_t j = 0; j < n && rc == CONSTRA_OK; j++) {
        rc = remove_record(s, kinds[j], ids[j]);
    }
    constra__free(&s->platform, kinds);
    constra__free(&s->platform, ids);
    if (rc == CONSTRA_OK) {
        sqlite3_bind_int64(s->purge_events, 1, now);
        sqlite3_bind_int64(s->purge_events, 2, max > INT64_MAX ? INT64_MAX : (sqlite3_int64)max);
        rc = step_done(s->purge_events);
        *done = n + (rc == CONSTRA_OK ? (size_t)sqlite3_changes(s->db) : 0);
    }
    return rc;
}

static int sq_purge(void *ud, int64_t now_ms, size_t max, size_t *purged)
{
    rstore *s = ud;
    size_t done = 0;
    if (max == 0) {
        if (purged) {
            *purged = 0;
        }
        return CONSTRA_OK;
    }
    constra__lock(&s->platform, s->mutex);
    int rc = exec(s, "BEGIN IMMEDIATE");
    if (rc == CONSTRA_OK) {
        rc = purge_in_tx(s, now_ms, max, &done);
        if (rc == CONSTRA_OK) {
            rc = exec(s, "COMMIT");
        }
        if (rc != CONSTRA_OK && sqlite3_get_autocommit(s->db) == 0) {
            exec(s, "ROLLBACK");
            done = 0;
        }
    }
    constra__unlock(&s->platform, s->mutex);
    if (purged) {
        *purged = done;
    }
    return rc;
}

/* ---- open and close ----------------------------------------------------- */

static void close_store(rstore *s)
{
    sqlite3_stmt *all[] = {s->get,       s->version,    s->key_clash,     s->del_keys,
                           s->put_rec,   s->put_key,    s->del_rec,       s->add_event,
                           s->events_all, s->events_stream, s->dead_recs, s->purge_events};
    for (size_t i = 0; i < CONSTRA__ARRAY_LEN(all); i++) {
        sqlite3_finalize(all[i]);
    }
    for (size_t i = 0; i < SCAN_SHAPES; i++) {
        sqlite3_finalize(s->scans[i]);
    }
    sqlite3_close(s->db);
    constra_platform p = s->platform;
    if (s->mutex) {
        p.mutex_destroy(p.user_data, s->mutex);
    }
    constra__free(&p, s);
}

static void sq_destroy(void *ud)
{
    close_store(ud);
}

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS rs_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS rs_records (kind TEXT NOT NULL, id TEXT NOT NULL,"
    " version INTEGER NOT NULL, expires_at INTEGER NOT NULL, document BLOB NOT NULL,"
    " keys BLOB NOT NULL, PRIMARY KEY (kind, id)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS rs_records_expiry ON rs_records (expires_at)"
    " WHERE expires_at > 0;"
    "CREATE TABLE IF NOT EXISTS rs_keys (kind TEXT NOT NULL, idx TEXT NOT NULL,"
    " value BLOB NOT NULL, id TEXT NOT NULL, uniq INTEGER NOT NULL,"
    " PRIMARY KEY (kind, idx, value, id)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS rs_keys_by_record ON rs_keys (kind, id);"
    "CREATE TABLE IF NOT EXISTS rs_events (sequence INTEGER PRIMARY KEY AUTOINCREMENT,"
    " stream TEXT NOT NULL, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,"
    " created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, document BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS rs_events_stream ON rs_events (stream, sequence);"
    "CREATE INDEX IF NOT EXISTS rs_events_expiry ON rs_events (expires_at)"
    " WHERE expires_at > 0;"
    "INSERT OR IGNORE INTO rs_meta (key, value) VALUES ('schema', '" SCHEMA_VERSION "');";

static int open_schema(rstore *s, int durable, int busy_ms, constra_error *err)
{
    sqlite3_busy_timeout(s->db, busy_ms);
    sqlite3_extended_result_codes(s->db, 1);
    /* WAL lets readers run beside the one writer; a ":memory:" database
     * stays in its own journal mode. */
    if (exec(s, "PRAGMA journal_mode=WAL") != CONSTRA_OK ||
        exec(s, durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL") !=
            CONSTRA_OK ||
        exec(s, "BEGIN IMMEDIATE") != CONSTRA_OK) {
        return constra__fail(err, CONSTRA_E_STORAGE, NULL, "path", "cannot open the database: %s",
                             sqlite3_errmsg(s->db));
    }
    int rc = exec(s, schema);
    sqlite3_stmt *st = NULL;
    if (rc == CONSTRA_OK) {
        rc = prepare(s, &st, "SELECT value FROM rs_meta WHERE key = 'schema'");
    }
    if (rc == CONSTRA_OK && sqlite3_step(st) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        if (v == NULL || strcmp(v, SCHEMA_VERSION) != 0) {
            char seen[32];
            snprintf(seen, sizeof(seen), "%s", v ? v : "(none)"); /* v dies with st */
            sqlite3_finalize(st);
            exec(s, "ROLLBACK");
            return constra__fail(err, CONSTRA_E_STORAGE, "schema_unsupported", "path",
                                 "the database holds record store schema %s; this library "
                                 "reads schema " SCHEMA_VERSION,
                                 seen);
        }
    }
    sqlite3_finalize(st);
    /* A file of the old SQLite storage becomes records in this same
     * transaction: a failure leaves it as it was. */
    if (rc == CONSTRA_OK && constra__migrate_legacy(s->db, &s->platform, err) != CONSTRA_OK) {
        exec(s, "ROLLBACK");
        return CONSTRA_E_STORAGE;
    }
    if (rc == CONSTRA_OK) {
        rc = exec(s, "COMMIT");
    }
    if (rc != CONSTRA_OK) {
        exec(s, "ROLLBACK");
        return constra__fail(err, rc, NULL, "path", "cannot create the record store schema: %s",
                             sqlite3_errmsg(s->db));
    }
    return CONSTRA_OK;
}

/* Every fixed statement, in the order of their slots in rstore. */
static const char *const fixed_sql[] = {
        "SELECT id, version, expires_at, document, keys FROM rs_records"
                  " WHERE kind = ?1 AND id = ?2 AND (expires_at = 0 OR expires_at > ?3)",
        "SELECT version, expires_at FROM rs_records WHERE kind = ?1 AND id = ?2",
        "SELECT 1 FROM rs_keys k JOIN rs_records r ON r.kind = k.kind AND"
                        " r.id = k.id WHERE k.kind = ?1 AND k.idx = ?2 AND k.value = ?3 AND"
                        " k.id <> ?4 AND (r.expires_at = 0 OR r.expires_at > ?5) AND"
                        " (k.uniq = 1 OR ?6 = 1) LIMIT 1",
        "DELETE FROM rs_keys WHERE kind = ?1 AND id = ?2",
        "INSERT INTO rs_records (kind, id, version, expires_at, document, keys)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        "INSERT INTO rs_keys (kind, idx, value, id, uniq) VALUES (?1, ?2, ?3, ?4,"
                      " ?5) ON CONFLICT (kind, idx, value, id) DO UPDATE SET"
                      " uniq = max(uniq, excluded.uniq)",
        "DELETE FROM rs_records WHERE kind = ?1 AND id = ?2",
        "INSERT INTO rs_events (stream, id, type, created_at, expires_at,"
                        " document) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        "SELECT sequence, stream, id, type, created_at, expires_at, document"
                         " FROM rs_events WHERE sequence > ?1 ORDER BY sequence LIMIT ?2",
        "SELECT sequence, stream, id, type, created_at, expires_at,"
                            " document FROM rs_events WHERE stream = ?3 AND sequence > ?1"
                            " ORDER BY sequence LIMIT ?2",
        "SELECT kind, id FROM rs_records WHERE expires_at > 0 AND"
                        " expires_at <= ?1 ORDER BY expires_at LIMIT ?2",
        "DELETE FROM rs_events WHERE sequence IN (SELECT sequence FROM"
                           " rs_events WHERE expires_at > 0 AND expires_at <= ?1"
                           " ORDER BY expires_at LIMIT ?2)",
};

static int prepare_all(rstore *s)
{
    sqlite3_stmt **slots[] = {&s->get,          &s->version,       &s->key_clash,
                              &s->del_keys,     &s->put_rec,       &s->put_key,
                              &s->del_rec,      &s->add_event,     &s->events_all,
                              &s->events_stream, &s->dead_recs,    &s->purge_events};
    _Static_assert(CONSTRA__ARRAY_LEN(slots) == CONSTRA__ARRAY_LEN(fixed_sql),
                   "one slot per statement");
    for (size_t i = 0; i < CONSTRA__ARRAY_LEN(slots); i++) {
        int rc = prepare(s, slots[i], fixed_sql[i]);
        if (rc != CONSTRA_OK) {
            return rc;
        }
    }
    return CONSTRA_OK;
}

const char *constra__record_sqlite_sql(size_t i, char *buf, size_t size)
{
    if (i < CONSTRA__ARRAY_LEN(fixed_sql)) {
        return fixed_sql[i];
    }
    i -= CONSTRA__ARRAY_LEN(fixed_sql);
    if (i < SCAN_SHAPES) {
        scan_sql(buf, size, (int)i);
        return buf;
    }
    return NULL;
}

int constra_storage_sqlite(constra_storage *out, const constra_platform *platform,
                           const constra_sqlite_options *options, constra_error *err)
{
    int rc = constra__check_struct(out, sizeof(*out), sizeof(*out), "out", err);
    if (rc == CONSTRA_OK) {
        rc = constra__check_struct(options, sizeof(*options), sizeof(*options), "options", err);
    }
    if (rc != CONSTRA_OK) {
        return rc;
    }
    const char *path = options->path;
    if (path == NULL || path[0] == '\0') {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_missing", "options.path",
                             "a database path is required (\":memory:\" for none)");
    }
    if (options->synchronous != CONSTRA_SQLITE_SYNC_FULL &&
        options->synchronous != CONSTRA_SQLITE_SYNC_NORMAL) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             "options.synchronous",
                             "synchronous must be CONSTRA_SQLITE_SYNC_FULL or _NORMAL");
    }
    if (options->busy_timeout_ms < 0) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             "options.busy_timeout_ms", "busy_timeout_ms must not be negative");
    }
    int durable = options->synchronous == CONSTRA_SQLITE_SYNC_FULL;
    int busy_ms = options->busy_timeout_ms ? options->busy_timeout_ms : DEFAULT_BUSY_MS;
    constra_platform plat;
    if ((rc = constra__platform_resolve(&plat, platform, err)) != CONSTRA_OK) {
        return rc;
    }
    rstore *s = constra__calloc(&plat, 1, sizeof(*s));
    if (s == NULL) {
        return constra__fail(err, CONSTRA_E_NOMEM, NULL, NULL, "cannot allocate a record store");
    }
    s->platform = plat;
    if (plat.mutex_create(plat.user_data, &s->mutex) != 0) {
        s->mutex = NULL;
        close_store(s);
        return constra__fail(err, CONSTRA_E_PLATFORM, NULL, "platform.mutex_create",
                             "cannot create the record store mutex");
    }
    int orc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (orc != SQLITE_OK) {
        rc = constra__fail(err, status_of(orc), NULL, "path", "cannot open %s: %s", path,
                           s->db ? sqlite3_errmsg(s->db) : "out of memory");
        close_store(s);
        return rc;
    }
    if ((rc = open_schema(s, durable, busy_ms, err)) != CONSTRA_OK) {
        close_store(s);
        return rc;
    }
    if ((rc = prepare_all(s)) != CONSTRA_OK) {
        rc = constra__fail(err, rc, NULL, "path", "cannot prepare the record store: %s",
                           sqlite3_errmsg(s->db));
        close_store(s);
        return rc;
    }
    constra_storage st = CONSTRA_STORAGE_INIT;
    st.user_data = s;
    st.commit = sq_commit;
    st.get = sq_get;
    st.scan = sq_scan;
    st.events = sq_events;
    st.purge = sq_purge;
    st.destroy = sq_destroy;
    constra__fill_struct(out, &st, sizeof(st));
    return CONSTRA_OK;
}

#endif /* CONSTRA_HAVE_SQLITE */
