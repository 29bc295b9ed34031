/*
 * bench/open — what the workspace check costs constra_open(): opens and
 * closes a handle (storage made fresh each time, simulator rail, sandbox)
 * with the storage's workspace metadata pair and, as the reference in the
 * same run, with the pair hidden (the handle then records and checks
 * nothing). Memory storage: a fresh store each time, so mode and
 * workspace id are recorded on every open (2 reads + 2 inserts). SQLite:
 * one file, recorded by the first open, so later opens read both values
 * (2 reads). Prints the median microseconds per open+close of several
 * runs and the ratio with / without.
 *
 *   build/bench/open [--runs N] [--opens N]
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <constra.h>

#include "bench.h"

static void die(const char *what)
{
    fprintf(stderr, "bench/open: %s failed\n", what);
    exit(1);
}

static void make_storage(constra_storage *st, const char *path)
{
    constra_storage init = CONSTRA_STORAGE_INIT;
    *st = init;
    if (path == NULL) {
        if (constra_storage_memory(st, NULL, NULL) != CONSTRA_OK) {
            die("constra_storage_memory");
        }
        return;
    }
    constra_sqlite_options o = CONSTRA_SQLITE_OPTIONS_INIT;
    o.path = path;
    if (constra_storage_sqlite(st, NULL, &o, NULL) != CONSTRA_OK) {
        die("constra_storage_sqlite");
    }
}

/* One run: microseconds per open + close. */
static double run(const char *path, int with_meta, int opens)
{
    double t0 = now_s();
    for (int i = 0; i < opens; i++) {
        constra_storage st;
        make_storage(&st, path);
        if (!with_meta) {
            st.meta_get = NULL;
            st.meta_put_if_absent = NULL;
        }
        constra_config cfg = CONSTRA_CONFIG_INIT;
        cfg.storage = &st;
        cfg.secret_key = "cs_test_bench_open_0123456789";
        constra_t *h = NULL;
        if (constra_open(&h, &cfg, NULL) != CONSTRA_OK) {
            die("constra_open");
        }
        constra_close(h);
    }
    return (now_s() - t0) / opens * 1e6;
}

static double median_of(const char *path, int with_meta, int runs, int opens)
{
    double *v = calloc((size_t)runs, sizeof(*v));
    if (v == NULL) {
        die("calloc");
    }
    for (int r = 0; r < runs; r++) {
        v[r] = run(path, with_meta, opens);
    }
    double m = median(v, runs);
    free(v);
    return m;
}

int main(int argc, char **argv)
{
    int runs = 7, opens = 2000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--runs") == 0) {
            runs = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--opens") == 0) {
            opens = atoi(argv[i + 1]);
        }
    }
    if (runs < 1 || opens < 1) {
        fprintf(stderr, "usage: open [--runs N] [--opens N]\n");
        return 2;
    }
    char path[] = "/tmp/constra_bench_open_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        die("mkstemp");
    }
    close(fd);
    unlink(path); /* SQLite creates it on the first open */
    printf("constra_open + constra_close, median of %d runs of %d opens\n", runs, opens);
    printf("%-8s %16s %16s %8s\n", "storage", "with check (us)", "without (us)", "ratio");
    double mw = median_of(NULL, 1, runs, opens), mo = median_of(NULL, 0, runs, opens);
    printf("%-8s %16.2f %16.2f %8.2f\n", "memory", mw, mo, mw / mo);
    int sq_opens = opens / 10 > 0 ? opens / 10 : 1;
    run(path, 1, 1); /* records mode and workspace id once */
    double sw = median_of(path, 1, runs, sq_opens), so = median_of(path, 0, runs, sq_opens);
    printf("%-8s %16.2f %16.2f %8.2f\n", "sqlite", sw, so, sw / so);
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char p[64];
        snprintf(p, sizeof(p), "%s%s", path, suffixes[i]);
        unlink(p);
    }
    return 0;
}
