/* The SQLite record store through the record conformance suite: on a
 * fresh file per test (reopened for durability, a second connection for
 * the races), and on ":memory:"; then what only a file can show: a
 * database of a newer schema, a file that is not a database, and a
 * second process racing on one file. */
#define _POSIX_C_SOURCE 200809L
#include "../unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "record_conformance.h"
#include "storage/record_internal.h"

/* The SQLite storage on `path`, synchronous=FULL when durable. */
static int open_sqlite(constra_storage *out, const char *path, int durable, constra_error *err)
{
    constra_sqlite_options o = CONSTRA_SQLITE_OPTIONS_INIT;
    o.path = path;
    o.synchronous = durable ? CONSTRA_SQLITE_SYNC_FULL : CONSTRA_SQLITE_SYNC_NORMAL;
    return constra_storage_sqlite(out, NULL, &o, err);
}

static char path[64];

static void remove_files(void)
{
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; path[0] && i < 3; i++) {
        char p[80];
        snprintf(p, sizeof(p), "%s%s", path, suffixes[i]);
        unlink(p);
    }
}

static int make_file(constra_storage *out, void *arg)
{
    (void)arg;
    remove_files();
    snprintf(path, sizeof(path), "/tmp/constra-records-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) {
        return CONSTRA_E_STORAGE;
    }
    close(fd);
    return open_sqlite(out, path, 0, NULL);
}

static int reopen_file(constra_storage *out, void *arg)
{
    (void)arg;
    return open_sqlite(out, path, 1, NULL);
}

static int make_memory(constra_storage *out, void *arg)
{
    (void)arg;
    return open_sqlite(out, ":memory:", 0, NULL);
}

static void test_newer_schema_refused(void **state)
{
    (void)state;
    constra_storage st = CONSTRA_STORAGE_INIT;
    assert_int_equal(make_file(&st, NULL), CONSTRA_OK);
    st.destroy(st.user_data);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE rs_meta SET value = '2' WHERE key = 'schema'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    constra_error e = CONSTRA_ERROR_INIT;
    constra_storage again = CONSTRA_STORAGE_INIT;
    assert_int_equal(open_sqlite(&again, path, 0, &e), CONSTRA_E_STORAGE);
    assert_string_equal(e.code, "schema_unsupported");
    if (strstr(e.message, "schema 2") == NULL) {
        fail_msg("message: %s", e.message);
    }
}

static void test_not_a_database(void **state)
{
    (void)state;
    remove_files();
    snprintf(path, sizeof(path), "/tmp/constra-records-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "this is not a database, just some bytes of text.....", 52), 52);
    close(fd);
    constra_error e = CONSTRA_ERROR_INIT;
    constra_storage st = CONSTRA_STORAGE_INIT;
    assert_int_equal(open_sqlite(&st, path, 0, &e), CONSTRA_E_STORAGE);
    assert_true(e.message[0] != '\0');
    assert_int_equal(open_sqlite(&st, "", 0, &e),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(open_sqlite(&st, "/nonexistent/dir/x.db", 0, &e),
                     CONSTRA_E_STORAGE);
}

static int read_version(void *ctx, const constra_record *r)
{
    *(int64_t *)ctx = r->version;
    return 0;
}

/* Two processes increment one counter by compare-and-set, 200 times
 * each: every increment lands exactly once. */
static void bump(const char *file, int times)
{
    constra_storage st = CONSTRA_STORAGE_INIT;
    if (open_sqlite(&st, file, 0, NULL) != CONSTRA_OK) {
        _exit(2);
    }
    for (int done = 0; done < times;) {
        int64_t v = 0;
        if (st.get(st.user_data, "counter", "c", 1, read_version, &v) != CONSTRA_OK) {
            v = 0;
        }
        constra_record r = {sizeof(r), "counter", "c", 0, 0, "x", 1, NULL, 0};
        constra_record_op op = {CONSTRA_RECORD_PUT, &r, v};
        constra_record_commit c = {sizeof(c), 1, &op, 1, NULL, 0};
        int rc = st.commit(st.user_data, &c, NULL);
        if (rc == CONSTRA_OK) {
            done++;
        } else if (rc != CONSTRA_E_CONFLICT) {
            _exit(3); /* a busy time-out of 5 s is not expected here */
        }
    }
    st.destroy(st.user_data);
}

static void test_two_processes(void **state)
{
    (void)state;
    constra_storage st = CONSTRA_STORAGE_INIT;
    assert_int_equal(make_file(&st, NULL), CONSTRA_OK);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        bump(path, 200);
        _exit(0);
    }
    bump(path, 200);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    int64_t v = 0;
    assert_int_equal(st.get(st.user_data, "counter", "c", 1, read_version, &v),
                     CONSTRA_OK);
    assert_int_equal(v, 400);
    st.destroy(st.user_data);
}

/* Every statement the store runs reads through an index: no full scan
 * of a table, no sort in a temporary b-tree (a scan page or a purge
 * batch costs what it returns). */
static void test_every_statement_uses_an_index(void **state)
{
    (void)state;
    constra_storage st = CONSTRA_STORAGE_INIT;
    assert_int_equal(make_file(&st, NULL), CONSTRA_OK);
    record_conformance_fill_for_plans(&st);
    st.destroy(st.user_data);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "ANALYZE", NULL, NULL, NULL), SQLITE_OK);
    char buf[1024];
    size_t checked = 0;
    int failures = 0;
    for (size_t i = 0; constra__record_sqlite_sql(i, buf, sizeof(buf)) != NULL; i++) {
        const char *sql = constra__record_sqlite_sql(i, buf, sizeof(buf));
        if (strncmp(sql, "INSERT", 6) == 0) {
            continue; /* writes by primary key: no read plan */
        }
        char q[1200], plan[1024] = "";
        snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql);
        sqlite3_stmt *ps = NULL;
        assert_int_equal(sqlite3_prepare_v2(db, q, -1, &ps, NULL), SQLITE_OK);
        int bad = 0;
        while (sqlite3_step(ps) == SQLITE_ROW) {
            const char *d = (const char *)sqlite3_column_text(ps, 3);
            size_t used = strlen(plan);
            snprintf(plan + used, sizeof(plan) - used, "%s%s", used ? " | " : "", d ? d : "");
            if (d && ((strncmp(d, "SCAN ", 5) == 0 && strstr(d, "CONSTANT ROW") == NULL) ||
                      strstr(d, "TEMP B-TREE") != NULL)) {
                bad = 1;
            }
        }
        sqlite3_finalize(ps);
        checked++;
        if (bad) {
            failures++;
            fprintf(stderr, "# not through an index: %s\n#   plan: %s\n", sql, plan);
        }
    }
    sqlite3_close(db);
    assert_int_equal(checked, 9 + 32);
    assert_int_equal(failures, 0);
}

int main(int argc, char **argv)
{
    const char *part = argc > 1 ? argv[1] : "file";
    int rc;
    if (strcmp(part, "file") == 0) {
        const record_conformance impl = {make_file, reopen_file, reopen_file, NULL};
        rc = record_conformance_run("record-sqlite-file", &impl);
    } else if (strcmp(part, "memory") == 0) {
        const record_conformance impl = {make_memory, NULL, NULL, NULL};
        rc = record_conformance_run("record-sqlite-memory", &impl);
    } else {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_newer_schema_refused),
            cmocka_unit_test(test_not_a_database),
            cmocka_unit_test(test_two_processes),
            cmocka_unit_test(test_every_statement_uses_an_index),
        };
        rc = cmocka_run_group_tests(tests, NULL, NULL);
    }
    remove_files();
    return rc;
}
