/*
 * The record store on PostgreSQL (storage.h), through libpq.
 *
 * Tables, prefixed rs_ so they can share a schema with other data, and
 * found through the connection's search_path:
 *   rs_records (kind, id) -> version, expires_at, document, keys: the
 *              record and its index entries serialised for reading back
 *              (index NUL value NUL '0'|'1', as the SQLite store does);
 *   rs_keys    (kind, idx, value, id) -> uniq: the index entries, the
 *              primary key being the scan order;
 *   rs_events  sequence (an identity column: a sequence is never reused,
 *              not after a rollback nor after a purge) -> stream, id
 *              (unique), type, times, document;
 *   rs_meta    the schema version.
 *
 * Ids, index values, event streams, ids and types are BYTEA, not TEXT:
 * the contract allows any bytes but NUL ("a\xff" is a valid value), which
 * a UTF-8 database refuses as TEXT, and BYTEA compares as memcmp with a
 * prefix first, exactly the contract's order, whatever the database's
 * collation. Kinds and index names are [a-z0-9_]: TEXT COLLATE "C".
 *
 * Commits. Each is one READ COMMITTED transaction that first takes a
 * transaction-level advisory lock, the writers' lock, keyed by this
 * schema's rs_events (its OID under a class constant of this library, so
 * two record stores in two schemas of one database do not share it):
 * commits (and purges) of every process on the database are serialised;
 * readers take no lock and are never blocked. An advisory lock rather
 * than LOCK TABLE ... IN EXCLUSIVE MODE: a table lock also conflicts with
 * autovacuum's and with a host's maintenance on the table (every commit
 * would wait for a vacuum of rs_events to be cancelled, up to
 * deadlock_timeout). Serialising is what makes the rest simple and
 * exact: every statement after the lock sees everything committed before
 * it, so a compare-and-set read (SELECT ... FOR UPDATE) or a unique-key
 * check cannot go stale, and the event sequence is taken in commit order
 * (PostgreSQL makes a transaction visible before it releases its locks,
 * so once a reader has seen sequence N, every smaller sequence that will
 * ever exist has committed or rolled back). The price is one writer at a
 * time per database, as SQLite has per file. Serialisation failures and
 * deadlocks (SQLSTATE 40001, 40P01: possible if a host runs the database
 * at SERIALIZABLE or touches the tables itself) are retried a bounded
 * number of times.
 *
 * Connections. A small pool (POOL_SIZE), each connection under its own
 * platform mutex; calls take them round-robin, opening one on first use.
 * A connection the server dropped (PQstatus CONNECTION_BAD) is reset on
 * the next call that gets it; a read, or a commit whose COMMIT was not
 * sent yet, is tried once more on the fresh connection (nothing of it
 * was applied: the server rolls back a transaction whose client went
 * away). A commit whose connection died after COMMIT was sent asks the
 * server what became of its transaction (txid_status) and reports that;
 * only when the server cannot tell (it is still away) does it return
 * CONSTRA_E_STORAGE for a commit that may have been applied. While the
 * server is away calls return CONSTRA_E_STORAGE.
 *
 * Every value travels as a parameter of PQexecParams (BYTEA in binary
 * format, numbers as text); SQL text is built only from fixed fragments
 * and parameter numbers. Every scan shape gets its own SQL with only the
 * conditions it needs, so each uses the primary key's order.
 *
 * The conninfo may hold a password: it is kept (to reconnect) but never
 * put into an error message, and libpq's own connection messages are
 * used only when they do not contain it.
 */
#include "constra_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "constra/storage.h"
#include "platform/platform.h"
#include "storage/record_internal.h"
#include "util/check.h"

#if !CONSTRA_HAVE_POSTGRES

int constra_storage_postgres(constra_storage *out, const constra_platform *platform,
                                  const char *conninfo, constra_error *err)
{
    (void)out;
    (void)platform;
    (void)conninfo;
    return constra__fail(err, CONSTRA_E_UNSUPPORTED, NULL, NULL,
                         "libconstra was built without PostgreSQL");
}

const char *constra__record_postgres_sql(size_t i, char *buf, size_t size)
{
    (void)i;
    (void)buf;
    (void)size;
    return NULL;
}

#else

#include <libpq-fe.h>

#define SCHEMA_VERSION "1"
#define POOL_SIZE 4
#define MAX_TRIES 8 /* attempts of one commit on serialisation failures */
#define SCAN_SHAPES 32

/* Parameter type OIDs (pg_type.h is a server header: the values are
 * fixed by PostgreSQL's catalogue). */
#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_TEXT 25

/* Internal outcomes of one statement, beside the CONSTRA_ codes. */
#define RC_RETRY (-1001)  /* 40001 or 40P01: roll back, run the commit again */
#define RC_LOST (-1002)   /* the connection is gone */
#define RC_UNIQUE (-1003) /* 23505: a unique constraint */

typedef struct slot {
    void *mutex;
    PGconn *conn; /* NULL until first used */
} slot;

typedef struct rstore {
    constra_platform platform;
    char *conninfo;
    void *pool_mutex; /* guards `next` */
    unsigned next;
    slot slots[POOL_SIZE];
} rstore;

/* ---- parameters --------------------------------------------------------- */

#define MAX_PARAMS 12

typedef struct params {
    int n;
    Oid type[MAX_PARAMS];
    const char *value[MAX_PARAMS];
    int len[MAX_PARAMS];
    int fmt[MAX_PARAMS];
    char num[MAX_PARAMS][24]; /* numbers in text form */
} params;

/* Each adder returns the parameter's number ($n) for the SQL text. */
static int p_text(params *p, const char *t)
{
    int i = p->n++;
    p->type[i] = OID_TEXT;
    p->value[i] = t;
    p->len[i] = 0;
    p->fmt[i] = 0;
    return i + 1;
}

static int p_bytes(params *p, const char *b, size_t len)
{
    int i = p->n++;
    p->type[i] = OID_BYTEA;
    p->value[i] = b ? b : "";
    p->len[i] = (int)len;
    p->fmt[i] = 1; /* binary: the bytes as they are, no escaping */
    return i + 1;
}

static int p_str(params *p, const char *s)
{
    return p_bytes(p, s, strlen(s));
}

static int p_int(params *p, int64_t v)
{
    int i = p->n++;
    p->type[i] = OID_INT8;
    snprintf(p->num[i], sizeof(p->num[i]), "%lld", (long long)v);
    p->value[i] = p->num[i];
    p->len[i] = 0;
    p->fmt[i] = 0;
    return i + 1;
}

static int p_bool(params *p, int v)
{
    int i = p->n++;
    p->type[i] = OID_BOOL;
    p->value[i] = v ? "t" : "f";
    p->len[i] = 0;
    p->fmt[i] = 0;
    return i + 1;
}

/* ---- running statements ------------------------------------------------- */

/* The outcome of a statement: CONSTRA_OK or one of the RC_ / CONSTRA_
 * codes. Keeps the result in *out when asked (caller PQclear()s it). */
static int outcome(PGconn *c, PGresult *r, PGresult **out)
{
    int rc;
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        rc = CONSTRA_OK;
    } else if (PQstatus(c) == CONNECTION_BAD) {
        rc = RC_LOST;
    } else if (r == NULL) {
        rc = CONSTRA_E_NOMEM; /* libpq could not allocate the result */
    } else {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)) {
            rc = RC_RETRY;
        } else if (state && strcmp(state, "23505") == 0) {
            rc = RC_UNIQUE;
        } else {
            rc = CONSTRA_E_STORAGE;
        }
    }
    if (out != NULL && rc == CONSTRA_OK) {
        *out = r;
    } else {
        PQclear(r);
    }
    return rc;
}

/* A statement with parameters; results in binary format. */
static int run(PGconn *c, const char *sql, const params *p, PGresult **out)
{
    PGresult *r = PQexecParams(c, sql, p ? p->n : 0, p ? p->type : NULL, p ? p->value : NULL,
                               p ? p->len : NULL, p ? p->fmt : NULL, 1);
    return outcome(c, r, out);
}

/* A fixed statement (or several) without parameters. */
static int run_simple(PGconn *c, const char *sql)
{
    return outcome(c, PQexec(c, sql), NULL);
}

/* A CONSTRA_ code for the caller: the internal ones are storage errors. */
static int public_rc(int rc)
{
    return rc == RC_RETRY || rc == RC_LOST || rc == RC_UNIQUE ? CONSTRA_E_STORAGE : rc;
}

/* ---- reading columns (binary format) ------------------------------------ */

static int64_t col_int8(const PGresult *r, int row, int col)
{
    const unsigned char *b = (const unsigned char *)PQgetvalue(r, row, col);
    if (PQgetlength(r, row, col) != 8) {
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | b[i]; /* network byte order */
    }
    return (int64_t)v;
}

/* A text-like column as a C string (libpq terminates every value with a
 * NUL, binary ones too); NULL if it holds a NUL of its own or is too
 * long: a corrupt row. */
static const char *col_str(const PGresult *r, int row, int col, size_t max)
{
    const char *v = PQgetvalue(r, row, col);
    size_t n = (size_t)PQgetlength(r, row, col);
    if (PQgetisnull(r, row, col) || n > max || memchr(v, '\0', n) != NULL) {
        return NULL;
    }
    return v;
}

/* The record in columns [first, first + 5) of row `row`: id, version,
 * expires_at, document, keys; the kind is the caller's. */
static int read_record(const PGresult *r, int row, int first, const char *kind,
                       constra_record *out, constra_record_key keys[CONSTRA_RECORD_KEYS_MAX])
{
    memset(out, 0, sizeof(*out));
    out->struct_size = sizeof(*out);
    out->kind = kind;
    out->id = col_str(r, row, first, CONSTRA_RECORD_VALUE_MAX);
    out->version = col_int8(r, row, first + 1);
    out->expires_at_ms = col_int8(r, row, first + 2);
    out->document = PQgetvalue(r, row, first + 3);
    out->document_len = (size_t)PQgetlength(r, row, first + 3);
    out->keys = keys;
    if (out->id == NULL || out->version < 1 ||
        constra__record_keys_read(PQgetvalue(r, row, first + 4),
                                  (size_t)PQgetlength(r, row, first + 4), keys,
                                  &out->key_count) != 0) {
        return CONSTRA_E_STORAGE; /* never emitted half-read */
    }
    return CONSTRA_OK;
}

/* ---- connections -------------------------------------------------------- */

/* Opens a connection. The caller's conninfo is expanded as the dbname
 * (a URI or key=value string); the defaults before it (a connect
 * time-out, an application name) give way to what it says itself. */
static void no_notices(void *arg, const char *message)
{
    (void)arg; /* a library does not write to stderr ("relation exists, skipping") */
    (void)message;
}

static PGconn *connect_to(const char *conninfo)
{
    const char *const keys[] = {"connect_timeout", "fallback_application_name", "dbname", NULL};
    const char *const values[] = {"10", "libconstra", conninfo, NULL};
    PGconn *c = PQconnectdbParams(keys, values, 1);
    if (c != NULL) {
        PQsetNoticeProcessor(c, no_notices, NULL);
    }
    return c;
}

/* Takes the next slot of the pool, round-robin, and locks it: a call
 * waits only for the one call ahead of it on that connection (the
 * platform has mutexes, no condition variables, so no "first free"
 * wait). ensure() then connects it. */
static slot *acquire(rstore *s)
{
    constra__lock(&s->platform, s->pool_mutex);
    slot *sl = &s->slots[s->next++ % POOL_SIZE];
    constra__unlock(&s->platform, s->pool_mutex);
    constra__lock(&s->platform, sl->mutex);
    return sl;
}

static void release(rstore *s, slot *sl)
{
    constra__unlock(&s->platform, sl->mutex);
}

/* Makes sure the slot's connection is up: opens it, or resets one the
 * server dropped (libpq notices when a statement fails on it). */
static int ensure(slot *sl, const char *conninfo)
{
    if (sl->conn == NULL) {
        sl->conn = connect_to(conninfo);
        if (sl->conn == NULL) {
            return CONSTRA_E_NOMEM;
        }
    } else if (PQstatus(sl->conn) == CONNECTION_BAD) {
        PQreset(sl->conn);
    }
    return PQstatus(sl->conn) == CONNECTION_OK ? CONSTRA_OK : CONSTRA_E_STORAGE;
}

/* ---- commit ------------------------------------------------------------- */

/* The statements of a commit that read (the tests EXPLAIN them). */
static const char live_sql[] =
    "SELECT version, expires_at FROM rs_records WHERE kind = $1 AND id = $2 FOR UPDATE";
static const char del_keys_sql[] = "DELETE FROM rs_keys WHERE kind = $1 AND id = $2";
static const char del_rec_sql[] = "DELETE FROM rs_records WHERE kind = $1 AND id = $2";

/* The open write transaction, as constra__record_apply's context. */
typedef struct txn {
    rstore *s;
    PGconn *c;
} txn;

/* The live version of (kind, id), its row locked: 0 when absent. */
static int live_version(void *ctx, const char *kind, const char *id, int64_t now,
                        int64_t *version)
{
    PGconn *c = ((txn *)ctx)->c;
    params p = {0};
    p_text(&p, kind);
    p_str(&p, id);
    PGresult *r = NULL;
    int rc = run(c, live_sql, &p, &r);
    *version = 0;
    if (rc == CONSTRA_OK && PQntuples(r) == 1) {
        int64_t exp = col_int8(r, 0, 1);
        if (exp == 0 || exp > now) {
            *version = col_int8(r, 0, 0);
        }
    }
    PQclear(r);
    return rc;
}

/* Whether an entry of the record is held by another live record in a
 * way that forbids it (either side unique). */
static int clashes(void *ctx, const constra_record *r, int64_t now, int *clash)
{
    PGconn *c = ((txn *)ctx)->c;
    *clash = 0;
    for (size_t k = 0; k < r->key_count && !*clash; k++) {
        params p = {0};
        p_text(&p, r->kind);
        p_text(&p, r->keys[k].index);
        p_str(&p, r->keys[k].value);
        p_str(&p, r->id);
        p_int(&p, now);
        p_bool(&p, r->keys[k].unique);
        PGresult *res = NULL;
        int rc = run(c,
                     "SELECT 1 FROM rs_keys k JOIN rs_records r ON r.kind = k.kind AND"
                     " r.id = k.id WHERE k.kind = $1 AND k.idx = $2 AND k.value = $3 AND"
                     " k.id <> $4 AND (r.expires_at = 0 OR r.expires_at > $5) AND"
                     " (k.uniq OR $6) LIMIT 1",
                     &p, &res);
        if (rc != CONSTRA_OK) {
            return rc;
        }
        *clash = PQntuples(res) > 0;
        PQclear(res);
    }
    return CONSTRA_OK;
}

static int remove_keys(PGconn *c, const char *kind, const char *id)
{
    params p = {0};
    p_text(&p, kind);
    p_str(&p, id);
    return run(c, del_keys_sql, &p, NULL);
}

/* A unique violation cannot happen under the writers' lock (every write
 * was judged against committed data); if a host writes the tables
 * itself, another writer won this operation: a conflict. */
static int unique_is_conflict(int rc)
{
    return rc == RC_UNIQUE ? CONSTRA_E_CONFLICT : rc;
}

static int remove_record(void *ctx, const char *kind, const char *id)
{
    PGconn *c = ((txn *)ctx)->c;
    int rc = remove_keys(c, kind, id);
    if (rc == CONSTRA_OK) {
        params p = {0};
        p_text(&p, kind);
        p_str(&p, id);
        rc = run(c, del_rec_sql, &p, NULL);
    }
    return unique_is_conflict(rc);
}

static int write_record(void *ctx, const constra_record *r, int64_t version)
{
    rstore *s = ((txn *)ctx)->s;
    PGconn *c = ((txn *)ctx)->c;
    int rc = remove_keys(c, r->kind, r->id); /* a dead record's, or the old version's */
    if (rc != CONSTRA_OK) {
        return rc;
    }
    size_t klen = constra__record_keys_size(r);
    char *kb = constra__malloc(&s->platform, klen ? klen : 1);
    if (kb == NULL) {
        return CONSTRA_E_NOMEM;
    }
    constra__record_keys_write(r, kb);
    params p = {0};
    p_text(&p, r->kind);
    p_str(&p, r->id);
    p_int(&p, version);
    p_int(&p, r->expires_at_ms);
    p_bytes(&p, r->document, r->document_len);
    p_bytes(&p, kb, klen);
    /* Insert, or replace the old version (or a dead record) in place. */
    rc = run(c,
             "INSERT INTO rs_records (kind, id, version, expires_at, document, keys)"
             " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kind, id) DO UPDATE SET"
             " version = excluded.version, expires_at = excluded.expires_at,"
             " document = excluded.document, keys = excluded.keys",
             &p, NULL);
    constra__free(&s->platform, kb);
    for (size_t k = 0; k < r->key_count && rc == CONSTRA_OK; k++) {
        params q = {0};
        p_text(&q, r->kind);
        p_text(&q, r->keys[k].index);
        p_str(&q, r->keys[k].value);
        p_str(&q, r->id);
        p_bool(&q, r->keys[k].unique);
        /* One entry given twice: kept once, unique if either says so. */
        rc = run(c,
                 "INSERT INTO rs_keys (kind, idx, value, id, uniq) VALUES ($1, $2, $3, $4, $5)"
                 " ON CONFLICT (kind, idx, value, id) DO UPDATE SET"
                 " uniq = rs_keys.uniq OR excluded.uniq",
                 &q, NULL);
    }
    return unique_is_conflict(rc);
}

/* One event; CONSTRA_E_CONFLICT when its id is taken. */
static int add_event(void *ctx, const constra_record_event *e)
{
    params p = {0};
    p_str(&p, e->stream);
    p_str(&p, e->id);
    p_str(&p, e->type);
    p_int(&p, e->created_at_ms);
    p_int(&p, e->expires_at_ms);
    p_bytes(&p, e->document, e->document_len);
    return unique_is_conflict(
        run(((txn *)ctx)->c,
            "INSERT INTO rs_events (stream, id, type, created_at, expires_at, document)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            &p, NULL));
}

/* Leaves the connection outside any transaction after a failure. */
static void roll_back(PGconn *c)
{
    if (PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) != PQTRANS_IDLE) {
        run_simple(c, "ROLLBACK");
    }
}

/* Opens the write transaction: serialised with every other writer on
 * the database (see the top of the file). The key: "cons" in its high 32
 * bits, the OID of rs_events (an unsigned 32-bit number) in the low. The
 * transaction's id comes back, to learn its fate if the connection dies
 * while COMMIT is under way. */
static const char begin_sql[] =
    "BEGIN ISOLATION LEVEL READ COMMITTED;"
    " SELECT pg_advisory_xact_lock((x'636f6e73'::bigint << 32) |"
    " 'rs_events'::regclass::oid::bigint), txid_current()";

static int begin_tx(PGconn *c, int64_t *xid)
{
    PGresult *r = PQexec(c, begin_sql); /* text results */
    int rc = outcome(c, r, &r);
    *xid = 0;
    if (rc == CONSTRA_OK) {
        if (PQntuples(r) == 1 && PQnfields(r) == 2) {
            *xid = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
        }
        PQclear(r);
    }
    return rc;
}

/* The fate of transaction `xid` after the connection died with its
 * COMMIT sent: 1 committed, 0 rolled back (nothing of it stays), -1
 * unknown (the server cannot be reached, or it does not say). Asked on
 * the slot's connection, reset. */
static int fate(slot *sl, const char *conninfo, int64_t xid)
{
    if (xid <= 0 || ensure(sl, conninfo) != CONSTRA_OK) {
        return -1;
    }
    params p = {0};
    p_int(&p, xid);
    PGresult *r = PQexecParams(sl->conn, "SELECT txid_status($1)", p.n, p.type, p.value, p.len,
                               p.fmt, 0);
    int known = -1;
    if (outcome(sl->conn, r, &r) == CONSTRA_OK) {
        const char *st = PQntuples(r) == 1 && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0) : "";
        known = strcmp(st, "committed") == 0 ? 1 : strcmp(st, "aborted") == 0 ? 0 : -1;
        PQclear(r);
    }
    return known;
}

static int pg_commit(void *ud, const constra_record_commit *cm, size_t *failed_op)
{
    rstore *s = ud;
    int rc = constra_record_commit_check(cm, NULL);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    size_t failed = 0;
    slot *sl = acquire(s);
    int lost_once = 0;
    for (int attempt = 0; attempt < MAX_TRIES; attempt++) {
        if ((rc = ensure(sl, s->conninfo)) != CONSTRA_OK) {
            break;
        }
        int commit_sent = 0;
        int64_t xid = 0;
        rc = begin_tx(sl->conn, &xid);
        if (rc == CONSTRA_OK) {
            txn t = {s, sl->conn};
            constra__record_tx tx = {&t, live_version, clashes, write_record, remove_record,
                                     add_event};
            rc = constra__record_apply(&tx, cm, &failed);
        }
        if (rc == CONSTRA_OK) {
            commit_sent = 1;
            rc = run_simple(sl->conn, "COMMIT");
        }
        if (rc == CONSTRA_OK) {
            break;
        }
        roll_back(sl->conn);
        if (rc == RC_RETRY) {
            continue;
        }
        /* A connection that died before COMMIT was sent: the server rolled
         * the transaction back, so one more try on a new connection cannot
         * apply it twice. Died with COMMIT sent: the server is asked what
         * became of the transaction (txid_status): committed is success,
         * rolled back is as if COMMIT had not been sent; when it cannot
         * say (it is still away) the outcome is unknown, reported as a
         * storage error and never retried. */
        if (rc == RC_LOST && commit_sent) {
            int known = fate(sl, s->conninfo, xid);
            if (known == 1) {
                rc = CONSTRA_OK;
                break;
            }
            commit_sent = known == 0 ? 0 : 1;
        }
        if (rc == RC_LOST && !commit_sent && !lost_once) {
            lost_once = 1;
            continue;
        }
        break;
    }
    release(s, sl);
    if (rc == CONSTRA_E_CONFLICT && failed_op != NULL) {
        *failed_op = failed;
    }
    return public_rc(rc);
}

/* ---- reads -------------------------------------------------------------- */

/* Runs one read statement on a pooled connection: once more on a reset
 * connection if the first one turns out to be dead (a read has no side
 * effect, and no row was emitted before the whole result arrived). */
static int read_query(rstore *s, const char *sql, const params *p, PGresult **out)
{
    slot *sl = acquire(s);
    int rc = CONSTRA_E_STORAGE;
    for (int attempt = 0; attempt < 2; attempt++) {
        if ((rc = ensure(sl, s->conninfo)) != CONSTRA_OK) {
            break;
        }
        rc = run(sl->conn, sql, p, out);
        if (rc != RC_LOST && rc != RC_RETRY) {
            break;
        }
    }
    release(s, sl);
    return public_rc(rc);
}

static int pg_get(void *ud, const char *kind, const char *id, int64_t now_ms,
                  constra_record_fn emit, void *ctx)
{
    rstore *s = ud;
    if (!constra__record_get_valid(kind, id, emit)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    params p = {0};
    p_text(&p, kind);
    p_str(&p, id);
    p_int(&p, now_ms);
    PGresult *r = NULL;
    int rc = read_query(s,
                        "SELECT id, version, expires_at, document, keys FROM rs_records"
                        " WHERE kind = $1 AND id = $2 AND (expires_at = 0 OR expires_at > $3)",
                        &p, &r);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (PQntuples(r) == 0) {
        rc = CONSTRA_E_NOT_FOUND;
    } else {
        constra_record rec;
        constra_record_key keys[CONSTRA_RECORD_KEYS_MAX];
        rc = read_record(r, 0, 0, kind, &rec, keys);
        if (rc == CONSTRA_OK) {
            emit(ctx, &rec);
        }
    }
    PQclear(r);
    return rc;
}

/* The SQL of one scan shape (a bit each: on_ids, descending, lo, hi,
 * cursor), numbering the parameters as the scan adds them: kind, index
 * (not on ids), lo, hi, cursor value and id (id not on ids), now, limit.
 * Only parameter numbers are written into the text, never a value. */
static void scan_sql(char *sql, size_t size, int shape)
{
    int on_ids = shape & 1, desc = shape >> 1 & 1, lo = shape >> 2 & 1, hi = shape >> 3 & 1,
        cursor = shape >> 4 & 1;
    const char *v = on_ids ? "r.id" : "k.value";
    int arg = on_ids ? 2 : 3; /* the next parameter's number */
    int n = snprintf(sql, size,
                     on_ids ? "SELECT r.id, r.id, r.version, r.expires_at, r.document, r.keys "
                              "FROM rs_records r WHERE r.kind = $1"
                            : "SELECT k.value, r.id, r.version, r.expires_at, r.document, r.keys "
                              "FROM rs_keys k JOIN rs_records r ON r.kind = k.kind AND "
                              "r.id = k.id WHERE k.kind = $1 AND k.idx = $2");
    if (lo) {
        n += snprintf(sql + n, size - (size_t)n, " AND %s >= $%d", v, arg++);
    }
    if (hi) {
        n += snprintf(sql + n, size - (size_t)n, " AND %s < $%d", v, arg++);
    }
    if (cursor && on_ids) {
        n += snprintf(sql + n, size - (size_t)n, " AND r.id %s $%d", desc ? "<" : ">", arg++);
    } else if (cursor) {
        n += snprintf(sql + n, size - (size_t)n, " AND (k.value, k.id) %s ($%d, $%d)",
                      desc ? "<" : ">", arg, arg + 1);
        arg += 2;
    }
    snprintf(sql + n, size - (size_t)n,
             " AND (r.expires_at = 0 OR r.expires_at > $%d) ORDER BY %s %s%s LIMIT $%d", arg, v,
             desc ? "DESC" : "ASC", on_ids ? "" : desc ? ", k.id DESC" : ", k.id ASC", arg + 1);
}

static int pg_scan(void *ud, const constra_record_scan *q, constra_record_scan_fn emit, void *ctx)
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
    int shape = on_ids | (q->descending != 0) << 1 | (lo != NULL) << 2 | (hi != NULL) << 3 |
                (q->after_value != NULL) << 4;
    char sql[1024];
    scan_sql(sql, sizeof(sql), shape);
    /* The parameters in the order scan_sql numbers them. */
    params p = {0};
    p_text(&p, q->kind);
    if (!on_ids) {
        p_text(&p, q->index);
    }
    if (lo) {
        p_str(&p, lo);
    }
    if (hi) {
        p_str(&p, hi);
    }
    if (q->after_value) {
        p_str(&p, q->after_value);
        if (!on_ids) {
            p_str(&p, q->after_id);
        }
    }
    p_int(&p, q->now_ms);
    p_int(&p, q->limit > INT64_MAX ? INT64_MAX : (int64_t)q->limit);
    PGresult *r = NULL;
    int rc = read_query(s, sql, &p, &r);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    for (int row = 0; row < PQntuples(r); row++) {
        constra_record rec;
        constra_record_key keys[CONSTRA_RECORD_KEYS_MAX];
        const char *value = col_str(r, row, 0, CONSTRA_RECORD_VALUE_MAX);
        if (value == NULL || (rc = read_record(r, row, 1, q->kind, &rec, keys)) != CONSTRA_OK) {
            rc = CONSTRA_E_STORAGE;
            break;
        }
        if (emit(ctx, value, &rec) != 0) {
            break;
        }
    }
    PQclear(r);
    return rc;
}

static int pg_events(void *ud, const char *stream, int64_t after, size_t limit,
                     constra_record_event_fn emit, void *ctx)
{
    rstore *s = ud;
    if (!constra__record_events_valid(stream, limit, emit)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    params p = {0};
    p_int(&p, after);
    p_int(&p, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
    if (stream) {
        p_str(&p, stream);
    }
    PGresult *r = NULL;
    int rc = read_query(s,
                        stream ? "SELECT sequence, stream, id, type, created_at, expires_at,"
                                 " document FROM rs_events WHERE stream = $3 AND sequence > $1"
                                 " ORDER BY sequence LIMIT $2"
                               : "SELECT sequence, stream, id, type, created_at, expires_at,"
                                 " document FROM rs_events WHERE sequence > $1"
                                 " ORDER BY sequence LIMIT $2",
                        &p, &r);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    for (int row = 0; row < PQntuples(r); row++) {
        constra_record_event e = {sizeof(e),
                                  col_int8(r, row, 0),
                                  col_str(r, row, 1, CONSTRA_RECORD_VALUE_MAX),
                                  col_str(r, row, 2, CONSTRA_RECORD_VALUE_MAX),
                                  col_str(r, row, 3, CONSTRA_RECORD_VALUE_MAX),
                                  col_int8(r, row, 4),
                                  col_int8(r, row, 5),
                                  PQgetvalue(r, row, 6),
                                  (size_t)PQgetlength(r, row, 6)};
        if (e.stream == NULL || e.id == NULL || e.type == NULL) {
            rc = CONSTRA_E_STORAGE;
            break;
        }
        if (emit(ctx, &e) != 0) {
            break;
        }
    }
    PQclear(r);
    return rc;
}

/* Dead records first (with their entries), then expired events; the
 * rows are chosen through the partial expiry indexes. */
static const char purge_records_sql[] =
    "WITH dead AS (DELETE FROM rs_records WHERE (kind, id) IN (SELECT kind, id FROM"
    " rs_records WHERE expires_at > 0 AND expires_at <= $1 ORDER BY expires_at LIMIT $2)"
    " AND expires_at > 0 AND expires_at <= $1 RETURNING kind, id),"
    " gone AS (DELETE FROM rs_keys k USING dead WHERE k.kind = dead.kind AND k.id = dead.id)"
    " SELECT count(*) FROM dead";
static const char purge_events_sql[] =
    "DELETE FROM rs_events WHERE sequence IN (SELECT sequence FROM rs_events"
    " WHERE expires_at > 0 AND expires_at <= $1 ORDER BY expires_at LIMIT $2)";

static int purge_in_tx(PGconn *c, int64_t now, size_t max, size_t *done)
{
    params p = {0};
    p_int(&p, now);
    p_int(&p, max > INT64_MAX ? INT64_MAX : (int64_t)max);
    PGresult *r = NULL;
    int rc = run(c, purge_records_sql, &p, &r);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    size_t records = PQntuples(r) == 1 ? (size_t)col_int8(r, 0, 0) : 0;
    PQclear(r);
    r = NULL;
    PGresult *ev = PQexecParams(c, purge_events_sql, p.n, p.type, p.value, p.len, p.fmt, 1);
    size_t events = 0; /* PQcmdTuples: the row count as digits, "" if none */
    for (const char *d = ev ? PQcmdTuples(ev) : ""; *d >= '0' && *d <= '9'; d++) {
        events = events * 10 + (size_t)(*d - '0');
    }
    rc = outcome(c, ev, NULL);
    *done = records + (rc == CONSTRA_OK ? events : 0);
    return rc;
}

static int pg_purge(void *ud, int64_t now_ms, size_t max, size_t *purged)
{
    rstore *s = ud;
    size_t done = 0;
    if (max == 0) {
        if (purged) {
            *purged = 0;
        }
        return CONSTRA_OK;
    }
    slot *sl = acquire(s);
    int rc = CONSTRA_E_STORAGE;
    for (int attempt = 0; attempt < MAX_TRIES; attempt++) {
        if ((rc = ensure(sl, s->conninfo)) != CONSTRA_OK) {
            break;
        }
        /* Under the writers' lock: a purge and a commit judging the same
         * dead record never interleave. */
        rc = run_simple(sl->conn, begin_sql);
        if (rc == CONSTRA_OK) {
            rc = purge_in_tx(sl->conn, now_ms, max, &done);
        }
        if (rc == CONSTRA_OK) {
            rc = run_simple(sl->conn, "COMMIT");
        }
        if (rc == CONSTRA_OK) {
            break;
        }
        done = 0;
        roll_back(sl->conn);
        if (rc != RC_RETRY) {
            break; /* a purge is idempotent: the caller runs it again later */
        }
    }
    release(s, sl);
    if (purged) {
        *purged = done;
    }
    return public_rc(rc);
}

/* ---- open and close ----------------------------------------------------- */

static void close_store(rstore *s)
{
    constra_platform p = s->platform;
    for (size_t i = 0; i < POOL_SIZE; i++) {
        if (s->slots[i].conn != NULL) {
            PQfinish(s->slots[i].conn);
        }
        if (s->slots[i].mutex != NULL) {
            p.mutex_destroy(p.user_data, s->slots[i].mutex);
        }
    }
    if (s->pool_mutex != NULL) {
        p.mutex_destroy(p.user_data, s->pool_mutex);
    }
    if (s->conninfo != NULL) {
        /* It may hold a password: not left behind in freed memory. */
        volatile char *c = s->conninfo;
        for (size_t i = 0; c[i] != '\0'; i++) {
            c[i] = '\0';
        }
        constra__free(&p, s->conninfo);
    }
    constra__free(&p, s);
}

static void pg_destroy(void *ud)
{
    close_store(ud);
}

/* Created when missing, under a transaction-level advisory lock so that
 * two processes opening a new database at once do not race on CREATE
 * (IF NOT EXISTS is not safe against a concurrent CREATE). The lock key
 * is an arbitrary constant of this library ("rsschema" in ASCII). */
static const char schema_sql[] =
    "BEGIN ISOLATION LEVEL READ COMMITTED;"
    "SET LOCAL client_min_messages = warning;"
    "SELECT pg_advisory_xact_lock(7310593858020451693);"
    "CREATE TABLE IF NOT EXISTS rs_meta (key text COLLATE \"C\" PRIMARY KEY,"
    " value text NOT NULL);"
    "CREATE TABLE IF NOT EXISTS rs_records (kind text COLLATE \"C\" NOT NULL, id bytea NOT NULL,"
    " version bigint NOT NULL, expires_at bigint NOT NULL, document bytea NOT NULL,"
    " keys bytea NOT NULL, PRIMARY KEY (kind, id));"
    "CREATE INDEX IF NOT EXISTS rs_records_expiry ON rs_records (expires_at)"
    " WHERE expires_at > 0;"
    "CREATE TABLE IF NOT EXISTS rs_keys (kind text COLLATE \"C\" NOT NULL,"
    " idx text COLLATE \"C\" NOT NULL, value bytea NOT NULL, id bytea NOT NULL,"
    " uniq boolean NOT NULL, PRIMARY KEY (kind, idx, value, id));"
    "CREATE INDEX IF NOT EXISTS rs_keys_by_record ON rs_keys (kind, id);"
    "CREATE TABLE IF NOT EXISTS rs_events (sequence bigint GENERATED ALWAYS AS IDENTITY"
    " PRIMARY KEY, stream bytea NOT NULL, id bytea NOT NULL UNIQUE, type bytea NOT NULL,"
    " created_at bigint NOT NULL, expires_at bigint NOT NULL, document bytea NOT NULL);"
    "CREATE INDEX IF NOT EXISTS rs_events_stream ON rs_events (stream, sequence);"
    "CREATE INDEX IF NOT EXISTS rs_events_expiry ON rs_events (expires_at)"
    " WHERE expires_at > 0;"
    "INSERT INTO rs_meta (key, value) VALUES ('schema', '" SCHEMA_VERSION "')"
    " ON CONFLICT (key) DO NOTHING";

/* The server's message of a failed statement, first line only (it names
 * tables and SQLSTATE conditions, never the conninfo). */
static const char *server_message(PGconn *c)
{
    const char *m = PQerrorMessage(c);
    return m && m[0] ? m : "no message";
}

/* The stored schema version into `v`: "" when the database has no
 * record store yet (no rs_meta, or no version in it). */
static int read_version(PGconn *c, char *v, size_t size)
{
    v[0] = '\0';
    PGresult *r = PQexec(c, "SELECT to_regclass('rs_meta') IS NOT NULL");
    int rc = outcome(c, r, &r);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    int present = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!present) {
        return CONSTRA_OK;
    }
    r = PQexec(c, "SELECT value FROM rs_meta WHERE key = 'schema'");
    if ((rc = outcome(c, r, &r)) == CONSTRA_OK) {
        if (PQntuples(r) == 1) {
            snprintf(v, size, "%s", PQgetvalue(r, 0, 0));
        }
        PQclear(r);
    }
    return rc;
}

/* Reads the schema version and creates the schema only when there is
 * none: DDL on tables in use (even CREATE INDEX IF NOT EXISTS takes a
 * SHARE lock) would deadlock against other processes' commits. Two
 * processes creating it at once are serialised by the advisory lock in
 * schema_sql; a deadlock or serialisation failure is tried again. */
static int open_schema(PGconn *c, constra_error *err)
{
    char v[40];
    int rc;
    for (int attempt = 0;; attempt++) {
        rc = read_version(c, v, sizeof(v));
        if (rc != CONSTRA_OK || v[0] != '\0' || attempt == MAX_TRIES) {
            break;
        }
        rc = outcome(c, PQexec(c, schema_sql), NULL);
        if (rc == CONSTRA_OK) {
            rc = run_simple(c, "COMMIT");
        }
        if (rc != CONSTRA_OK) {
            roll_back(c);
            if (rc != RC_RETRY) {
                break;
            }
        }
    }
    if (rc != CONSTRA_OK || v[0] == '\0') {
        return constra__fail(err, rc == CONSTRA_OK ? CONSTRA_E_STORAGE : public_rc(rc), NULL,
                             "conninfo", "cannot create the record store schema: %.200s",
                             rc == CONSTRA_OK ? "no schema version recorded" : server_message(c));
    }
    if (strcmp(v, SCHEMA_VERSION) != 0) {
        return constra__fail(err, CONSTRA_E_STORAGE, "schema_unsupported", "conninfo",
                             "the database holds record store schema %.32s; this library "
                             "reads schema " SCHEMA_VERSION,
                             v);
    }
    return CONSTRA_OK;
}

/* Whether libpq's message about a failed connection may be shown: not if
 * it quotes the conninfo or a password given in it (a malformed string
 * is quoted back by the parser). */
static int message_is_safe(const char *msg, const char *conninfo)
{
    if (strstr(msg, conninfo) != NULL) {
        return 0;
    }
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
    if (opts == NULL) {
        PQfreemem(perr);
        return 0; /* unparseable: its message may quote any part of it */
    }
    int safe = 1;
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        if (o->val != NULL && o->val[0] != '\0' && strcmp(o->keyword, "password") == 0 &&
            strstr(msg, o->val) != NULL) {
            safe = 0;
        }
    }
    PQconninfoFree(opts);
    return safe;
}

static int connect_failure(constra_error *err, PGconn *c, const char *conninfo)
{
    char msg[256];
    snprintf(msg, sizeof(msg), "%s", c ? PQerrorMessage(c) : "out of memory");
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) {
        msg[--n] = '\0';
    }
    if (!message_is_safe(msg, conninfo)) {
        snprintf(msg, sizeof(msg), "%s", "the connection string is malformed or was refused");
    }
    return constra__fail(err, c ? CONSTRA_E_STORAGE : CONSTRA_E_NOMEM, "storage_unavailable",
                         "conninfo", "cannot connect to PostgreSQL: %s", msg);
}

const char *constra__record_postgres_sql(size_t i, char *buf, size_t size)
{
    static const char *const fixed[] = {
        "SELECT id, version, expires_at, document, keys FROM rs_records"
        " WHERE kind = $1 AND id = $2 AND (expires_at = 0 OR expires_at > $3)",
        "SELECT sequence, stream, id, type, created_at, expires_at, document FROM rs_events"
        " WHERE stream = $3 AND sequence > $1 ORDER BY sequence LIMIT $2",
        "SELECT sequence, stream, id, type, created_at, expires_at, document FROM rs_events"
        " WHERE sequence > $1 ORDER BY sequence LIMIT $2",
        "SELECT 1 FROM rs_keys k JOIN rs_records r ON r.kind = k.kind AND"
        " r.id = k.id WHERE k.kind = $1 AND k.idx = $2 AND k.value = $3 AND"
        " k.id <> $4 AND (r.expires_at = 0 OR r.expires_at > $5) AND"
        " (k.uniq OR $6) LIMIT 1",
        purge_events_sql,
        purge_records_sql,
        live_sql,
        del_keys_sql,
        del_rec_sql,
    };
    if (i < CONSTRA__ARRAY_LEN(fixed)) {
        return fixed[i];
    }
    i -= CONSTRA__ARRAY_LEN(fixed);
    if (i < SCAN_SHAPES) {
        scan_sql(buf, size, (int)i);
        return buf;
    }
    return NULL;
}

int constra_storage_postgres(constra_storage *out, const constra_platform *platform,
                                  const char *conninfo, constra_error *err)
{
    int rc = constra__check_struct(out, sizeof(*out), sizeof(*out), "out", err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (conninfo == NULL) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_missing", "conninfo",
                             "a PostgreSQL connection string is required");
    }
    constra_platform plat;
    if ((rc = constra__platform_resolve(&plat, platform, err)) != CONSTRA_OK) {
        return rc;
    }
    rstore *s = constra__calloc(&plat, 1, sizeof(*s));
    if (s == NULL) {
        return constra__fail(err, CONSTRA_E_NOMEM, NULL, NULL, "cannot allocate a record store");
    }
    s->platform = plat;
    s->conninfo = constra__strndup(&plat, conninfo, strlen(conninfo));
    if (s->conninfo == NULL) {
        close_store(s);
        return constra__fail(err, CONSTRA_E_NOMEM, NULL, NULL, "cannot allocate a record store");
    }
    int mrc = plat.mutex_create(plat.user_data, &s->pool_mutex);
    if (mrc != 0) {
        s->pool_mutex = NULL;
    }
    for (size_t i = 0; i < POOL_SIZE && mrc == 0; i++) {
        if ((mrc = plat.mutex_create(plat.user_data, &s->slots[i].mutex)) != 0) {
            s->slots[i].mutex = NULL;
        }
    }
    if (mrc != 0) {
        close_store(s);
        return constra__fail(err, CONSTRA_E_PLATFORM, NULL, "platform.mutex_create",
                             "cannot create the record store mutexes");
    }
    /* The first connection now: a wrong conninfo or a server that is not
     * there is reported here, not at the first commit. */
    s->slots[0].conn = connect_to(conninfo);
    if (s->slots[0].conn == NULL || PQstatus(s->slots[0].conn) != CONNECTION_OK) {
        rc = connect_failure(err, s->slots[0].conn, conninfo);
        close_store(s);
        return rc;
    }
    if ((rc = open_schema(s->slots[0].conn, err)) != CONSTRA_OK) {
        close_store(s);
        return rc;
    }
    constra_storage st = CONSTRA_STORAGE_INIT;
    st.user_data = s;
    st.commit = pg_commit;
    st.get = pg_get;
    st.scan = pg_scan;
    st.events = pg_events;
    st.purge = pg_purge;
    st.destroy = pg_destroy;
    constra__fill_struct(out, &st, sizeof(st));
    return CONSTRA_OK;
}

#endif /* CONSTRA_HAVE_POSTGRES */
