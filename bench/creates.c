/*
 * bench/creates — durable intent creates per second on a SQLite file
 * (synchronous=FULL) against raw SQLite committing single transactions of
 * a similar size, in the same run on the same disk (issue 12).
 *
 * A create: constra_intent_create with a fresh Idempotency-Key on the
 * simulator rail (its STK push included), through the SQLite storage. The
 * reference: raw SQLite, one BEGIN IMMEDIATE ... COMMIT per row, each
 * inserting a 1.6 KB blob and a small index row (about what one commit of
 * a create writes), synchronous=FULL in WAL mode, as the storage runs.
 * Also prints the storage commits per create, counted by a wrapper around
 * the storage (every one of them is a durable write): fsyncs per create
 * are then measured by `strace -f -c -e trace=fdatasync,fsync` around
 * `--creates-only` (bench/README.md).
 *
 *   build/bench/creates [--runs N] [--creates N] [--dir DIR]
 *   build/bench/creates --creates-only N [--dir DIR]
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <constra.h>
#include <sqlite3.h>

#include "bench.h"

static void die(const char *what)
{
    fprintf(stderr, "bench/creates: %s failed\n", what);
    exit(1);
}

/* ---- counting wrapper: commits per create ------------------------------ */

typedef struct counter {
    constra_storage inner;
    long commits;
} counter;

static int count_commit(void *ud, const constra_record_commit *c, size_t *failed)
{
    counter *k = ud;
    k->commits++;
    return k->inner.commit(k->inner.user_data, c, failed);
}

static int pass_get(void *ud, const char *kind, const char *id, int64_t now,
                    constra_record_fn emit, void *ctx)
{
    counter *k = ud;
    return k->inner.get(k->inner.user_data, kind, id, now, emit, ctx);
}

static int pass_scan(void *ud, const constra_record_scan *q, constra_record_scan_fn emit,
                     void *ctx)
{
    counter *k = ud;
    return k->inner.scan(k->inner.user_data, q, emit, ctx);
}

static int pass_events(void *ud, const char *stream, int64_t after, size_t limit,
                       constra_record_event_fn emit, void *ctx)
{
    counter *k = ud;
    return k->inner.events(k->inner.user_data, stream, after, limit, emit, ctx);
}

static int pass_purge(void *ud, int64_t now, size_t max, size_t *purged)
{
    counter *k = ud;
    return k->inner.purge(k->inner.user_data, now, max, purged);
}

static void pass_destroy(void *ud)
{
    counter *k = ud;
    k->inner.destroy(k->inner.user_data);
}

/* ---- the two sides ----------------------------------------------------- */

static void path_in(char *out, size_t size, const char *dir, const char *name)
{
    snprintf(out, size, "%s/%s", dir, name);
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char p[600];
        snprintf(p, sizeof(p), "%s%s", out, suffix[i]);
        unlink(p);
    }
}

/* Creates per second through the library; *commits_per gets the storage
 * commits per create. */
static double constra_side(const char *dir, int run, int creates, double *commits_per)
{
    char path[512];
    path_in(path, sizeof(path), dir, "bench-creates.db");
    constra_sqlite_options o = CONSTRA_SQLITE_OPTIONS_INIT;
    o.path = path;
    o.synchronous = CONSTRA_SQLITE_SYNC_FULL;
    counter k;
    memset(&k, 0, sizeof(k));
    constra_storage_init(&k.inner, sizeof(k.inner));
    if (constra_storage_sqlite(&k.inner, NULL, &o, NULL) != CONSTRA_OK) {
        die("constra_storage_sqlite");
    }
    constra_storage st = CONSTRA_STORAGE_INIT;
    st.user_data = &k;
    st.commit = count_commit;
    st.get = pass_get;
    st.scan = pass_scan;
    st.events = pass_events;
    st.purge = pass_purge;
    st.destroy = pass_destroy;
    constra_config cfg = CONSTRA_CONFIG_INIT;
    cfg.storage = &st;
    cfg.secret_key = "cs_test_bench_creates_0123456789";
    constra_t *h = NULL;
    if (constra_open(&h, &cfg, NULL) != CONSTRA_OK) {
        die("constra_open");
    }
    constra_intent_params p = CONSTRA_INTENT_PARAMS_INIT;
    p.amount = 1250;
    p.currency = "KES";
    p.customer_name = "Amina N.";
    p.phone_number = "254700000000";
    p.reference = "bench-creates";
    p.description = "A durable create";
    long before = k.commits;
    double t0 = now_s();
    for (int i = 0; i < creates; i++) {
        char key[64];
        snprintf(key, sizeof(key), "bench-%d-%d", run, i);
        constra_intent *in = NULL;
        if (constra_intent_create(h, &p, key, &in, NULL) != CONSTRA_OK) {
            die("constra_intent_create");
        }
        constra_intent_free(in);
    }
    double s = now_s() - t0;
    *commits_per = (double)(k.commits - before) / creates;
    constra_close(h);
    return creates / s;
}

static void exec_or_die(sqlite3 *db, const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "bench/creates: %s: %s\n", sql, sqlite3_errmsg(db));
        exit(1);
    }
}

/* Single-transaction commits per second with raw SQLite. */
static double raw_side(const char *dir, int run, int commits)
{
    char path[512];
    path_in(path, sizeof(path), dir, "bench-raw.db");
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        die("sqlite3_open");
    }
    exec_or_die(db, "PRAGMA journal_mode=WAL");
    exec_or_die(db, "PRAGMA synchronous=FULL");
    exec_or_die(db, "CREATE TABLE r (id TEXT PRIMARY KEY, doc BLOB) WITHOUT ROWID;"
                    "CREATE TABLE k (v BLOB, id TEXT, PRIMARY KEY (v, id)) WITHOUT ROWID");
    sqlite3_stmt *ins = NULL, *key = NULL;
    if (sqlite3_prepare_v2(db, "INSERT INTO r VALUES (?1, ?2)", -1, &ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO k VALUES (?1, ?2)", -1, &key, NULL) != SQLITE_OK) {
        die("sqlite3_prepare_v2");
    }
    char doc[1600];
    memset(doc, 'x', sizeof(doc));
    double t0 = now_s();
    for (int i = 0; i < commits; i++) {
        char id[64];
        snprintf(id, sizeof(id), "pi_%d_%08d", run, i);
        exec_or_die(db, "BEGIN IMMEDIATE");
        sqlite3_bind_text(ins, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_blob(ins, 2, doc, sizeof(doc), SQLITE_STATIC);
        sqlite3_bind_text(key, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(key, 2, id, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(ins) != SQLITE_DONE || sqlite3_step(key) != SQLITE_DONE) {
            die("insert");
        }
        sqlite3_reset(ins);
        sqlite3_reset(key);
        exec_or_die(db, "COMMIT");
    }
    double s = now_s() - t0;
    sqlite3_finalize(ins);
    sqlite3_finalize(key);
    sqlite3_close(db);
    return commits / s;
}

int main(int argc, char **argv)
{
    int runs = 5, creates = 300, only = 0;
    const char *dir = ".";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            runs = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--creates") == 0 && i + 1 < argc) {
            creates = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--creates-only") == 0 && i + 1 < argc) {
            only = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--runs N] [--creates N] [--dir DIR] | "
                            "--creates-only N [--dir DIR]\n", argv[0]);
            return 2;
        }
    }
    if (only > 0) {
        double per;
        double rate = constra_side(dir, 0, only, &per);
        printf("%d creates, %.2f storage commits per create, %.0f creates/s\n", only, per, rate);
        return 0;
    }
    if (runs < 1 || creates < 1) {
        return 2;
    }
    double *lib = calloc((size_t)runs, sizeof(double));
    double *raw = calloc((size_t)runs, sizeof(double));
    if (lib == NULL || raw == NULL) {
        die("calloc");
    }
    double per = 0;
    for (int r = 0; r < runs; r++) {
        lib[r] = constra_side(dir, r, creates, &per);
        raw[r] = raw_side(dir, r, creates);
    }
    double ml = median(lib, runs), mr = median(raw, runs);
    printf("durable creates on a SQLite file (synchronous=FULL), median of %d runs of %d\n",
           runs, creates);
    printf("  constra_intent_create      %8.0f creates/s  (%.2f storage commits per create)\n",
           ml, per);
    printf("  raw SQLite, 1 txn/commit   %8.0f commits/s\n", mr);
    printf("  ratio creates/raw commits  %8.2f\n", ml / mr);
    free(lib);
    free(raw);
    return 0;
}
