/*
 * The PostgreSQL record store's commit rate at a given concurrency (issue
 * 12: "on PostgreSQL with 8 concurrent clients against raw INSERT ...;
 * COMMIT at the same concurrency"), both in this process, on one server:
 *
 *   store  each thread commits what a payment-intent create writes: one
 *          record (a ~600-byte document, a unique reference key and an
 *          ordered status key) plus one event, through
 *          constra_storage_postgres() (its pool, its serialising
 *          lock, its compare-and-set checks);
 *   raw    each thread on its own libpq connection: BEGIN; INSERT the
 *          same document; INSERT the event; COMMIT. The floor: what the
 *          server does for that much data with no checks at all.
 *
 * Each side runs `rounds` times for `seconds`, alternating; the figures
 * are medians of commits/s and of the per-commit latency.
 *
 * usage: records_pg CONNINFO [--threads N] [--seconds S] [--rounds R]
 * CONNINFO "" reads CONSTRA_BENCH_PG, then CONSTRA_TEST_PG. The bench
 * works in its own schema, constra_bench, dropped before and after.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <constra.h>
#include <libpq-fe.h>

#include "bench.h"

#define MAX_THREADS 64
#define MAX_SAMPLES 200000

static const char *conninfo;
static char schema_conninfo[1024];
static double seconds = 2.0;
static char doc[600];
static atomic_long next_id;

typedef struct worker {
    pthread_t thread;
    int raw;
    constra_storage *store;
    long commits, failures;
    double *lat;
    long nlat;
} worker;

static PGconn *connect_or_die(const char *ci)
{
    PGconn *c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "records_pg: cannot connect: %s", PQerrorMessage(c));
        exit(1);
    }
    return c;
}

static void exec_or_die(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "records_pg: %s: %s", sql, PQerrorMessage(c));
        exit(1);
    }
    PQclear(r);
}

static int store_commit(constra_storage *s, long n)
{
    char id[32], ref[32], status[48], evt[32];
    snprintf(id, sizeof(id), "pi_%012ld", n);
    snprintf(ref, sizeof(ref), "order_%ld", n);
    snprintf(status, sizeof(status), "pending_user_action|%016ld", n);
    snprintf(evt, sizeof(evt), "evt_%012ld", n);
    constra_record_key keys[] = {{"reference", ref, 1}, {"status", status, 0}};
    constra_record rec = {sizeof(rec), "intent", id, 0, 0, doc, sizeof(doc), keys, 2};
    constra_record_op op = {CONSTRA_RECORD_PUT, &rec, 0};
    constra_record_event ev = {sizeof(ev), 0, id, evt, "payment_intent.created", 1, 0, doc, 200};
    constra_record_commit c = {sizeof(c), 1, &op, 1, &ev, 1};
    return s->commit(s->user_data, &c, NULL);
}

static int raw_commit(PGconn *c, long n)
{
    char id[32], evt[32];
    snprintf(id, sizeof(id), "pi_%012ld", n);
    snprintf(evt, sizeof(evt), "evt_%012ld", n);
    const char *p1[] = {id, doc};
    int l1[] = {(int)strlen(id), (int)sizeof(doc)};
    int f1[] = {0, 1};
    const char *p2[] = {evt, id, doc};
    int l2[] = {(int)strlen(evt), (int)strlen(id), 200};
    int f2[] = {0, 0, 1};
    int ok = 1;
    PGresult *r = PQexec(c, "BEGIN");
    ok &= PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    r = PQexecParams(c, "INSERT INTO constra_bench.raw_records (id, document) VALUES ($1, $2)",
                     2, NULL, p1, l1, f1, 0);
    ok &= PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    r = PQexecParams(c, "INSERT INTO constra_bench.raw_events (id, stream, document)"
                        " VALUES ($1, $2, $3)", 3, NULL, p2, l2, f2, 0);
    ok &= PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    r = PQexec(c, ok ? "COMMIT" : "ROLLBACK");
    ok &= PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok ? 0 : -1;
}

static void *run_worker(void *arg)
{
    worker *w = arg;
    PGconn *c = w->raw ? connect_or_die(schema_conninfo) : NULL;
    double end = now_s() + seconds;
    for (double t = now_s(); t < end;) {
        long n = atomic_fetch_add(&next_id, 1);
        int rc = w->raw ? raw_commit(c, n) : store_commit(w->store, n);
        double t2 = now_s();
        if (rc == 0) {
            w->commits++;
            if (w->nlat < MAX_SAMPLES) {
                w->lat[w->nlat++] = t2 - t;
            }
        } else {
            w->failures++;
        }
        t = t2;
    }
    if (c) {
        PQfinish(c);
    }
    return NULL;
}

/* One timed round: commits/s, *p50 (ms) the median latency. */
static double round_of(int raw, int threads, constra_storage *s, double *p50, long *failed)
{
    worker w[MAX_THREADS];
    memset(w, 0, sizeof(w));
    double t0 = now_s();
    for (int i = 0; i < threads; i++) {
        w[i].raw = raw;
        w[i].store = s;
        w[i].lat = malloc(sizeof(double) * MAX_SAMPLES);
        pthread_create(&w[i].thread, NULL, run_worker, &w[i]);
    }
    long commits = 0, nlat = 0;
    *failed = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(w[i].thread, NULL);
        commits += w[i].commits;
        *failed += w[i].failures;
        nlat += w[i].nlat;
    }
    double elapsed = now_s() - t0;
    double *all = malloc(sizeof(double) * (size_t)(nlat ? nlat : 1));
    long k = 0;
    for (int i = 0; i < threads; i++) {
        memcpy(all + k, w[i].lat, sizeof(double) * (size_t)w[i].nlat);
        k += w[i].nlat;
        free(w[i].lat);
    }
    *p50 = nlat ? median(all, (int)nlat) * 1000 : 0;
    free(all);
    return (double)commits / elapsed;
}

int main(int argc, char **argv)
{
    int threads = 8, rounds = 3;
    conninfo = argc > 1 ? argv[1] : "";
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--threads") == 0) {
            threads = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--seconds") == 0) {
            seconds = atof(argv[i + 1]);
        } else if (strcmp(argv[i], "--rounds") == 0) {
            rounds = atoi(argv[i + 1]);
        }
    }
    if (conninfo[0] == '\0') {
        conninfo = getenv("CONSTRA_BENCH_PG") ? getenv("CONSTRA_BENCH_PG") : getenv("CONSTRA_TEST_PG");
    }
    if (conninfo == NULL || threads < 1 || threads > MAX_THREADS || rounds < 1 || rounds > 15 ||
        seconds <= 0) {
        fprintf(stderr, "usage: records_pg CONNINFO [--threads 1..64] [--seconds S] "
                        "[--rounds 1..15]\n");
        return 2;
    }
    memset(doc, 'd', sizeof(doc));
    /* Both sides in a schema of their own: the store's tables go where
     * search_path points, the raw ones are named. */
    PGconn *admin = connect_or_die(conninfo);
    exec_or_die(admin, "DROP SCHEMA IF EXISTS constra_bench CASCADE");
    exec_or_die(admin, "CREATE SCHEMA constra_bench");
    exec_or_die(admin, "CREATE TABLE constra_bench.raw_records (id text PRIMARY KEY,"
                       " document bytea NOT NULL)");
    exec_or_die(admin, "CREATE TABLE constra_bench.raw_events (seq bigint GENERATED ALWAYS AS"
                       " IDENTITY PRIMARY KEY, id text UNIQUE NOT NULL, stream text NOT NULL,"
                       " document bytea NOT NULL)");
    snprintf(schema_conninfo, sizeof(schema_conninfo), "%s options='-c search_path=constra_bench'",
             conninfo);
    constra_storage s = CONSTRA_STORAGE_INIT;
    constra_error err = CONSTRA_ERROR_INIT;
    if (constra_storage_postgres(&s, NULL, schema_conninfo, &err) != CONSTRA_OK) {
        fprintf(stderr, "records_pg: %s\n", err.message);
        return 1;
    }
    double store_r[15], raw_r[15], store_l[15], raw_l[15];
    long failed_store = 0, failed_raw = 0;
    for (int r = 0; r < rounds; r++) {
        long f = 0;
        store_r[r] = round_of(0, threads, &s, &store_l[r], &f);
        failed_store += f;
        raw_r[r] = round_of(1, threads, NULL, &raw_l[r], &f);
        failed_raw += f;
    }
    double sm = median(store_r, rounds), rm = median(raw_r, rounds);
    printf("PostgreSQL commits, %d threads, %d rounds of %.1f s (medians)\n", threads, rounds,
           seconds);
    printf("  record store (record + 2 keys + event): %8.0f commits/s  p50 %.2f ms  failed %ld\n",
           sm, median(store_l, rounds), failed_store);
    printf("  raw BEGIN; 2 INSERT; COMMIT:            %8.0f commits/s  p50 %.2f ms  failed %ld\n",
           rm, median(raw_l, rounds), failed_raw);
    printf("  ratio store / raw: %.2f\n", rm > 0 ? sm / rm : 0);
    s.destroy(s.user_data);
    exec_or_die(admin, "DROP SCHEMA constra_bench CASCADE");
    PQfinish(admin);
    return 0;
}
