/*
 * The SQLite storage's intent list at 1k, 10k and 100k stored intents:
 * a first page (limit 10) filtered by status, by reference, and unfiltered,
 * and a page deep in the table (cursor at the middle), each through the
 * storage's list_intents. The reference in the same run is the list query
 * the storage had before (one statement with "(?1 = '' OR status = ?1)"
 * filters), run through sqlite3 on the same file: it scanned the table.
 *
 * usage: list [MAX_N]   (default 100000; figures: median of 101 runs, µs)
 */
#define _POSIX_C_SOURCE 200809L
#include <constra.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define RUNS 101

static const char *const status_of[4] = {"succeeded", "succeeded", "failed",
                                         "pending_user_action"};

static int count_row(void *ctx, const constra_storage_intent *row)
{
    (void)row;
    ++*(int *)ctx;
    return 0;
}

static int fill(constra_storage *s, int from, int to)
{
    for (int i = from; i < to; i++) {
        char id[40], ref[40], co[40];
        snprintf(id, sizeof(id), "pi_%010d", i);
        snprintf(ref, sizeof(ref), "order_%d", i % 5000);
        snprintf(co, sizeof(co), "ws_CO_%010d", i);
        static const char doc[] = "{\"amount\":1250,\"currency\":\"KES\"}";
        /* One in 1000 needs recovery: the rare status an operator filters on. */
        const char *status = i % 1000 == 7 ? "requires_recovery" : status_of[i % 4];
        constra_storage_intent in = {sizeof(in), id, status, ref, co, 1000 + i,
                                     1000 + i, 1, doc, sizeof(doc) - 1};
        constra_storage_write w = {sizeof(w), &in, 0, NULL, 0, NULL};
        if (s->commit(s->user_data, &w) != CONSTRA_OK) {
            return -1;
        }
    }
    return 0;
}

static double time_list(constra_storage *s, const char *status, const char *ref,
                        const char *after)
{
    double t[RUNS];
    for (int r = 0; r < RUNS; r++) {
        constra_storage_query q = {sizeof(q), status, ref, 0, 0, after, 10};
        int n = 0;
        double t0 = now_s();
        if (s->list_intents(s->user_data, &q, count_row, &n) != CONSTRA_OK || n == 0) {
            fprintf(stderr, "list failed\n");
            exit(1);
        }
        t[r] = (now_s() - t0) * 1e6;
    }
    return median(t, RUNS);
}

/* The statement the storage used before, on the same file. */
static double time_old(sqlite3 *db, const char *status, const char *ref, const char *after)
{
    static const char sql[] =
        "SELECT id, status, reference, checkout_request_id, created_at_ms, updated_at_ms,"
        " version, document FROM intents"
        " WHERE (?1 = '' OR status = ?1) AND (?2 = '' OR reference = ?2)"
        " AND (?3 = 0 OR created_at_ms >= ?3) AND (?4 = 0 OR created_at_ms < ?4)"
        " AND (?5 = '' OR id < ?5) ORDER BY id DESC LIMIT ?6";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "prepare: %s\n", sqlite3_errmsg(db));
        exit(1);
    }
    double t[RUNS];
    for (int r = 0; r < RUNS; r++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, status ? status : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, ref ? ref : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, 0);
        sqlite3_bind_int64(st, 4, 0);
        sqlite3_bind_text(st, 5, after ? after : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, 10);
        double t0 = now_s();
        while (sqlite3_step(st) == SQLITE_ROW) {
            (void)sqlite3_column_blob(st, 7);
        }
        t[r] = (now_s() - t0) * 1e6;
    }
    sqlite3_finalize(st);
    return median(t, RUNS);
}

int main(int argc, char **argv)
{
    int max_n = argc > 1 ? atoi(argv[1]) : 100000;
    char dir[] = "/tmp/constra-bench-list-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        return 1;
    }
    char path[128];
    snprintf(path, sizeof(path), "%s/list.db", dir);
    constra_sqlite_options o = CONSTRA_SQLITE_OPTIONS_INIT;
    o.path = path;
    o.synchronous = CONSTRA_SQLITE_SYNC_NORMAL; /* filling is not what is measured */
    constra_storage s = CONSTRA_STORAGE_INIT;
    constra_error e = CONSTRA_ERROR_INIT;
    if (constra_storage_sqlite(&s, NULL, &o, &e) != CONSTRA_OK) {
        fprintf(stderr, "open: %s\n", e.message);
        return 1;
    }
    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        return 1;
    }
    printf("SQLite intent list, first page of 10 unless said (median of %d, µs):\n", RUNS);
    printf("%8s  %-26s %10s %12s %8s\n", "stored", "query", "now", "before", "ratio");
    int have = 0;
    for (int n = 1000; n <= max_n; n *= 10) {
        if (fill(&s, have, n) != 0) {
            fprintf(stderr, "fill failed at %d\n", n);
            return 1;
        }
        have = n;
        char middle[40];
        snprintf(middle, sizeof(middle), "pi_%010d", n / 2);
        struct {
            const char *name, *status, *ref, *after;
        } cases[] = {{"no filter", NULL, NULL, NULL},
                     {"status=pending_user_action", "pending_user_action", NULL, NULL},
                     {"status=requires_recovery", "requires_recovery", NULL, NULL},
                     {"reference=order_42", NULL, "order_42", NULL},
                     {"status, page at the middle", "succeeded", NULL, middle}};
        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
            double now = time_list(&s, cases[c].status, cases[c].ref, cases[c].after);
            double old = time_old(db, cases[c].status, cases[c].ref, cases[c].after);
            printf("%8d  %-26s %10.1f %12.1f %7.1fx\n", n, cases[c].name, now, old, old / now);
        }
    }
    sqlite3_close(db);
    s.destroy(s.user_data);
    char wal[160];
    unlink(path);
    snprintf(wal, sizeof(wal), "%s-wal", path);
    unlink(wal);
    snprintf(wal, sizeof(wal), "%s-shm", path);
    unlink(wal);
    rmdir(dir);
    return 0;
}
