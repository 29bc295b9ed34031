/* The PostgreSQL record store through the record conformance suite, on a
 * database of its own per test program, emptied for each test (reopened
 * for durability, a second connection for the races); then what only a
 * server can show: a database of a newer schema, connection strings that
 * must not leak into messages, a second process racing on one database,
 * the server stopped mid-use and started again, and the plans of every
 * read statement.
 *
 * The server comes from the environment: CONSTRA_TEST_PG, a libpq
 * conninfo of a role that may create databases (scripts/test.sh starts a
 * throwaway cluster with scripts/pg_cluster.sh and exports it), and for
 * the "away" part CONSTRA_TEST_PGCTL, a command that runs pg_ctl on that
 * cluster. A build that reports the postgres feature never skips this
 * test: without CONSTRA_TEST_PG it fails.
 *
 *   test_record_postgres conformance|specific|away|explain
 */
#define _POSIX_C_SOURCE 200809L
#include "../unit/testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "pg_testdb.h"
#include "record_conformance.h"
#include "storage/record_internal.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- factories ------------------------------------------------------------ */

/* A fresh, empty store: the schema dropped, the store creates it again. */
static int make_fresh(constra_storage *out, void *arg)
{
    (void)arg;
    if (!db_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")) {
        return CONSTRA_E_STORAGE;
    }
    return constra_storage_postgres(out, NULL, conninfo, NULL);
}

/* Another handle (its own connections) on the same database. */
static int open_again(constra_storage *out, void *arg)
{
    (void)arg;
    return constra_storage_postgres(out, NULL, conninfo, NULL);
}

/* ---- helpers -------------------------------------------------------------- */

static int read_version(void *ctx, const constra_record *r)
{
    *(int64_t *)ctx = r->version;
    return 0;
}

static int put1(constra_storage *st, const char *kind, const char *id, int64_t expected)
{
    constra_record r = {sizeof(r), kind, id, 0, 0, "x", 1, NULL, 0};
    constra_record_op op = {CONSTRA_RECORD_PUT, &r, expected};
    constra_record_commit c = {sizeof(c), 1, &op, 1, NULL, 0};
    return st->commit(st->user_data, &c, NULL);
}

/* ---- specific ------------------------------------------------------------- */

static void test_newer_schema_refused(void **state)
{
    (void)state;
    constra_storage st = CONSTRA_STORAGE_INIT;
    assert_int_equal(make_fresh(&st, NULL), CONSTRA_OK);
    st.destroy(st.user_data);
    assert_true(db_sql("UPDATE rs_meta SET value = '2' WHERE key = 'schema'"));
    constra_error e = CONSTRA_ERROR_INIT;
    constra_storage again = CONSTRA_STORAGE_INIT;
    assert_int_equal(constra_storage_postgres(&again, NULL, conninfo, &e),
                     CONSTRA_E_STORAGE);
    assert_string_equal(e.code, "schema_unsupported");
    if (strstr(e.message, "schema 2") == NULL) {
        fail_msg("message: %s", e.message);
    }
    /* The refusal changed nothing: still schema 2, still refused. */
    assert_int_equal(constra_storage_postgres(&again, NULL, conninfo, &e),
                     CONSTRA_E_STORAGE);
    assert_true(db_sql("UPDATE rs_meta SET value = '1' WHERE key = 'schema'"));
    assert_int_equal(open_again(&again, NULL), CONSTRA_OK);
    again.destroy(again.user_data);
}

/* A password in the conninfo never reaches an error message, whether
 * the server is not there or the string is malformed. */
static void test_conninfo_never_in_messages(void **state)
{
    (void)state;
    const char *bad[] = {
        "host=/nonexistent/constra port=1 dbname=x user=u password=Sekr1tPw",
        "postgresql://u:Sekr1tPw@/x?host=/nonexistent/constra",
        "host=/nonexistent password=Sekr1tPw 'unterminated",
        "host=/nonexistent password=Sekr1tPw nosuchoption=1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        constra_error e = CONSTRA_ERROR_INIT;
        constra_storage st = CONSTRA_STORAGE_INIT;
        assert_int_equal(constra_storage_postgres(&st, NULL, bad[i], &e), CONSTRA_E_STORAGE);
        assert_true(e.message[0] != '\0');
        if (strstr(e.message, "Sekr1tPw") != NULL || strstr(e.message, bad[i]) != NULL) {
            fail_msg("conninfo in the message: %s", e.message);
        }
    }
    constra_error e = CONSTRA_ERROR_INIT;
    constra_storage st = CONSTRA_STORAGE_INIT;
    assert_int_equal(constra_storage_postgres(&st, NULL, NULL, &e),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_storage_postgres(NULL, NULL, conninfo, &e),
                     CONSTRA_E_INVALID_ARGUMENT);
}

/* Two processes increment one counter by compare-and-set, 200 times
 * each, every thread of them on its own handle: every increment lands
 * exactly once. */
static void bump(int times)
{
    constra_storage st = CONSTRA_STORAGE_INIT;
    if (open_again(&st, NULL) != CONSTRA_OK) {
        _exit(2);
    }
    for (int done = 0; done < times;) {
        int64_t v = 0;
        if (st.get(st.user_data, "counter", "c", 1, read_version, &v) != CONSTRA_OK) {
            v = 0;
        }
        int rc = put1(&st, "counter", "c", v);
        if (rc == CONSTRA_OK) {
            done++;
        } else if (rc != CONSTRA_E_CONFLICT) {
            _exit(3);
        }
    }
    st.destroy(st.user_data);
}

static void test_two_processes(void **state)
{
    (void)state;
    constra_storage st = CONSTRA_STORAGE_INIT;
    assert_int_equal(make_fresh(&st, NULL), CONSTRA_OK);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        bump(200);
        _exit(0);
    }
    bump(200);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    int64_t v = 0;
    assert_int_equal(st.get(st.user_data, "counter", "c", 1, read_version, &v), CONSTRA_OK);
    assert_int_equal(v, 400);
    st.destroy(st.user_data);
}

/* Two processes append events under one another: each sees the log in
 * strictly increasing sequences with nothing arriving behind its cursor
 * (a reader in a third process checks), 300 events each. */
static void append_events(int who, int n)
{
    constra_storage st = CONSTRA_STORAGE_INIT;
    if (open_again(&st, NULL) != CONSTRA_OK) {
        _exit(2);
    }
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof(id), "evt_%d_%d", who, i);
        constra_record_event e = {sizeof(e), 0, "", id, "t", 1, 0, "{}", 2};
        constra_record_commit c = {sizeof(c), 1, NULL, 0, &e, 1};
        if (st.commit(st.user_data, &c, NULL) != CONSTRA_OK) {
            _exit(3);
        }
    }
    st.destroy(st.user_data);
}

typedef struct tailer {
    int64_t last;
    size_t seen;
    int bad;
} tailer;

static int tail_one(void *ctx, const constra_record_event *e)
{
    tailer *t = ctx;
    if (e->sequence <= t->last) {
        t->bad = 1;
    }
    t->last = e->sequence;
    t->seen++;
    return 0;
}

static void test_event_order_across_processes(void **state)
{
    (void)state;
    constra_storage st = CONSTRA_STORAGE_INIT;
    assert_int_equal(make_fresh(&st, NULL), CONSTRA_OK);
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            append_events(k, 300);
            _exit(0);
        }
    }
    tailer t = {0, 0, 0};
    int running = 2;
    for (;;) {
        size_t before = t.seen;
        assert_int_equal(st.events(st.user_data, NULL, t.last, 13, tail_one, &t), CONSTRA_OK);
        for (int k = 0; k < 2; k++) {
            int status;
            if (kids[k] > 0 && waitpid(kids[k], &status, WNOHANG) == kids[k]) {
                assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
                kids[k] = 0;
                running--;
            }
        }
        if (running == 0 && t.seen == before) {
            /* One more read after both exited: nothing may turn up. */
            assert_int_equal(st.events(st.user_data, NULL, t.last, 13, tail_one, &t),
                             CONSTRA_OK);
            if (t.seen == before) {
                break;
            }
        }
    }
    assert_false(t.bad);
    assert_int_equal(t.seen, 600);
    st.destroy(st.user_data);
}

/* Opening the store while other processes commit on it, and several
 * processes creating a new schema at once: every open succeeds (the
 * schema is created once, and never touched again once it is there:
 * DDL on tables in use would deadlock against commits). */
static void test_open_beside_commits(void **state)
{
    (void)state;
    assert_true(db_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public"));
    pid_t kids[3];
    for (int k = 0; k < 3; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            /* All three find no schema and create it at once. */
            constra_storage st = CONSTRA_STORAGE_INIT;
            if (open_again(&st, NULL) != CONSTRA_OK) {
                _exit(2);
            }
            for (int i = 0; i < 150; i++) {
                char id[32];
                snprintf(id, sizeof(id), "k%d_%d", k, i);
                if (put1(&st, "thing", id, 0) != CONSTRA_OK) {
                    _exit(3);
                }
            }
            st.destroy(st.user_data);
            _exit(0);
        }
    }
    int opened = 0;
    for (int round = 0; round < 20; round++) {
        constra_storage st = CONSTRA_STORAGE_INIT;
        constra_error e = CONSTRA_ERROR_INIT;
        int rc = constra_storage_postgres(&st, NULL, conninfo, &e);
        if (rc != CONSTRA_OK) {
            fail_msg("open %d beside commits: %s", round, e.message);
        }
        opened++;
        st.destroy(st.user_data);
    }
    for (int k = 0; k < 3; k++) {
        int status = 0;
        assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    assert_int_equal(opened, 20);
}

/* ---- the server goes away ------------------------------------------------- */

static int pgctl(const char *args)
{
    const char *cmd = getenv("CONSTRA_TEST_PGCTL");
    if (cmd == NULL || cmd[0] == '\0') {
        fail_msg("CONSTRA_TEST_PGCTL is not set (scripts/pg_cluster.sh start prints it)");
    }
    char line[1024];
    snprintf(line, sizeof(line), "%s %s >/dev/null 2>&1", cmd, args);
    return system(line);
}

/* Commits of two records and one event each, numbered: either all three
 * of commit i are stored or none is. */
typedef struct writer {
    constra_storage *st;
    volatile int stop;
    int attempted, ok, failed, unexpected;
    int ok_at[4096]; /* 1: commit i reported CONSTRA_OK */
} writer;

static int commit_pair(constra_storage *st, int i)
{
    char a[32], b[32], ev[32];
    snprintf(a, sizeof(a), "a_%d", i);
    snprintf(b, sizeof(b), "b_%d", i);
    snprintf(ev, sizeof(ev), "evt_%d", i);
    constra_record ra = {sizeof(ra), "pair", a, 0, 0, "A", 1, NULL, 0};
    constra_record rb = {sizeof(rb), "pair", b, 0, 0, "B", 1, NULL, 0};
    constra_record_op ops[2] = {{CONSTRA_RECORD_PUT, &ra, 0}, {CONSTRA_RECORD_PUT, &rb, 0}};
    constra_record_event e = {sizeof(e), 0, a, ev, "pair.created", 1, 0, "{}", 2};
    constra_record_commit c = {sizeof(c), 1, ops, 2, &e, 1};
    return st->commit(st->user_data, &c, NULL);
}

static void *write_pairs(void *p)
{
    writer *w = p;
    for (int i = 0; !w->stop && i < 4096; i++) {
        int rc = commit_pair(w->st, i);
        w->attempted = i + 1;
        if (rc == CONSTRA_OK) {
            w->ok_at[i] = 1;
            w->ok++;
        } else {
            if (rc != CONSTRA_E_STORAGE) {
                w->unexpected++; /* checked by the main thread */
            }
            w->failed++;
            sleep_ms(2);
        }
    }
    return NULL;
}

static int found(void *ctx, const constra_record *r)
{
    (void)r;
    *(int *)ctx = 1;
    return 0;
}

static int count_event(void *ctx, const constra_record_event *e)
{
    (void)e;
    (*(int *)ctx)++;
    return 0;
}

static void test_server_away(void **state)
{
    (void)state;
    constra_storage st = CONSTRA_STORAGE_INIT;
    assert_int_equal(make_fresh(&st, NULL), CONSTRA_OK);
    assert_int_equal(put1(&st, "thing", "before", 0), CONSTRA_OK);

    /* A writer commits all along; the server dies under it. */
    writer *w = calloc(1, sizeof(*w));
    w->st = &st;
    pthread_t t;
    pthread_create(&t, NULL, write_pairs, w);
    sleep_ms(300);
    assert_int_equal(pgctl("stop -m immediate -w"), 0);
    sleep_ms(300);
    /* During the outage every call fails as a storage error. */
    int seen = 0;
    assert_int_equal(st.get(st.user_data, "thing", "before", 1, found, &seen), CONSTRA_E_STORAGE);
    assert_int_equal(put1(&st, "thing", "during", 0), CONSTRA_E_STORAGE);
    int during_ok = w->ok;
    sleep_ms(200);
    assert_int_equal(w->ok, during_ok); /* nothing commits while it is down */
    assert_int_equal(pgctl("start -w -t 60"), 0);
    sleep_ms(500);
    w->stop = 1;
    pthread_join(t, NULL);
    fprintf(stderr, "# writer: %d commits tried, %d ok, %d failed\n", w->attempted, w->ok,
            w->failed);
    assert_int_equal(w->unexpected, 0);
    assert_true(w->failed > 0);
    assert_true(w->ok > during_ok); /* it came back by itself */

    /* The same handle works again, and nothing is half-written: every
     * commit is whole or absent, every one reported OK is whole. */
    assert_int_equal(st.get(st.user_data, "thing", "before", 1, found, &seen), CONSTRA_OK);
    assert_int_equal(st.get(st.user_data, "thing", "during", 1, found, &seen),
                     CONSTRA_E_NOT_FOUND);
    assert_int_equal(put1(&st, "thing", "after", 0), CONSTRA_OK);
    int whole = 0;
    for (int i = 0; i < w->attempted; i++) {
        char a[32], b[32], ev[32];
        snprintf(a, sizeof(a), "a_%d", i);
        snprintf(b, sizeof(b), "b_%d", i);
        snprintf(ev, sizeof(ev), "evt_%d", i);
        int ha = 0, hb = 0, he = 0;
        int rca = st.get(st.user_data, "pair", a, 1, found, &ha);
        int rcb = st.get(st.user_data, "pair", b, 1, found, &hb);
        assert_true(rca == CONSTRA_OK || rca == CONSTRA_E_NOT_FOUND);
        assert_true(rcb == CONSTRA_OK || rcb == CONSTRA_E_NOT_FOUND);
        assert_int_equal(st.events(st.user_data, a, 0, 10, count_event, &he), CONSTRA_OK);
        if (ha != hb || he != ha) {
            fail_msg("commit %d is half-written: a %d, b %d, events %d", i, ha, hb, he);
        }
        if (w->ok_at[i] && !ha) {
            fail_msg("commit %d was reported committed but is not stored", i);
        }
        whole += ha;
    }
    /* A commit whose answer was lost with the server may be stored
     * although it was reported as failed (the server, asked, could not
     * say: it was down; the store never retries one whose COMMIT was
     * sent): at most one such. */
    assert_true(whole >= w->ok && whole <= w->ok + 1);
    free(w);
    st.destroy(st.user_data);
}

/* The answer to COMMIT lost although the server committed: with a
 * synchronous standby required that does not exist, COMMIT commits
 * locally and then waits for the standby; terminating that backend
 * drops the connection with the transaction committed (PostgreSQL says
 * so in a warning the client never gets). The store asks the server
 * (txid_status) and reports success: a failing commit would have to
 * leave nothing behind. Runs in the "away" part, alone: the setting
 * holds every other commit on the cluster while it is on. */
typedef struct killer {
    volatile int done;
    int killed;
} killer;

static void *kill_sync_waiter(void *p)
{
    killer *k = p;
    PGconn *c = admin(conninfo);
    for (int i = 0; c && i < 500 && !k->killed; i++) {
        PGresult *r = PQexec(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                " WHERE wait_event = 'SyncRep' AND datname = current_database()");
        k->killed = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
        PQclear(r);
        sleep_ms(10);
    }
    PQfinish(c);
    k->done = 1;
    return NULL;
}

static int sync_standby(int on)
{
    PGconn *c = admin(conninfo);
    int ok = c && sql_ok(c, on ? "ALTER SYSTEM SET synchronous_standby_names ="
                                 " 'constra_no_such_standby'"
                               : "ALTER SYSTEM RESET synchronous_standby_names") &&
             sql_ok(c, "SELECT pg_reload_conf()");
    PQfinish(c);
    sleep_ms(500); /* the checkpointer and the backends take the new setting */
    return ok;
}

static void test_lost_commit_answer(void **state)
{
    (void)state;
    constra_storage st = CONSTRA_STORAGE_INIT;
    assert_int_equal(make_fresh(&st, NULL), CONSTRA_OK);
    assert_int_equal(put1(&st, "thing", "warm", 0), CONSTRA_OK); /* connection open */
    assert_true(sync_standby(1));
    killer k = {0, 0};
    pthread_t t;
    pthread_create(&t, NULL, kill_sync_waiter, &k);
    int rc = put1(&st, "thing", "lost_answer", 0);
    pthread_join(t, NULL);
    assert_true(sync_standby(0));
    assert_true(k.killed);
    int seen = 0;
    assert_int_equal(st.get(st.user_data, "thing", "lost_answer", 1, found, &seen), CONSTRA_OK);
    assert_int_equal(rc, CONSTRA_OK); /* stored, so reported committed */
    /* And the handle goes on. */
    assert_int_equal(put1(&st, "thing", "after", 0), CONSTRA_OK);
    st.destroy(st.user_data);
}

static int reset_sync_standby(void **state)
{
    (void)state;
    return sync_standby(0) ? 0 : -1; /* never leave the cluster waiting */
}

/* ---- plans ---------------------------------------------------------------- */

/* Every statement that reads (the reads, a commit's compare-and-set and
 * deletes, the purges) runs through an index in its own order: with
 * sequential scans and sorts priced out, a plan still holding a Seq Scan
 * or a Sort has no index to use. */
static void test_every_read_uses_an_index(void **state)
{
    (void)state;
    constra_storage st = CONSTRA_STORAGE_INIT;
    assert_int_equal(make_fresh(&st, NULL), CONSTRA_OK);
    record_conformance_fill_for_plans(&st);
    st.destroy(st.user_data);
    PGconn *c = admin(conninfo);
    assert_non_null(c);
    assert_true(sql_ok(c, "ANALYZE"));
    assert_true(sql_ok(c, "SET enable_seqscan = off"));
    assert_true(sql_ok(c, "SET enable_sort = off"));
    char buf[1024];
    size_t checked = 0;
    int failures = 0;
    for (size_t i = 0; constra__record_postgres_sql(i, buf, sizeof(buf)) != NULL; i++) {
        const char *sql = constra__record_postgres_sql(i, buf, sizeof(buf));
        /* The parameter types as the server infers them, then a value of
         * each type (what a value is does not matter for the check). */
        PGresult *prep = PQprepare(c, "", sql, 0, NULL);
        assert_int_equal(PQresultStatus(prep), PGRES_COMMAND_OK);
        PQclear(prep);
        PGresult *d = PQdescribePrepared(c, "");
        int n = PQnparams(d);
        Oid types[16];
        const char *values[16];
        for (int p = 0; p < n && p < 16; p++) {
            types[p] = PQparamtype(d, p);
            values[p] = types[p] == 20 ? "10" : types[p] == 16 ? "f" : "intent";
        }
        PQclear(d);
        char q[1200];
        snprintf(q, sizeof(q), "EXPLAIN %s", sql);
        PGresult *r = PQexecParams(c, q, n, types, values, NULL, NULL, 0);
        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        int bad = 0;
        char plan[2048] = "";
        for (int row = 0; row < PQntuples(r); row++) {
            const char *line = PQgetvalue(r, row, 0);
            size_t used = strlen(plan);
            snprintf(plan + used, sizeof(plan) - used, "%s%s", used ? " | " : "", line);
            if (strstr(line, "Seq Scan") != NULL || strstr(line, "Sort  (") != NULL ||
                strstr(line, "-> Sort") != NULL) {
                bad = 1;
            }
        }
        PQclear(r);
        checked++;
        if (bad) {
            failures++;
            fprintf(stderr, "# not through an index: %s\n#   plan: %s\n", sql, plan);
        }
    }
    PQfinish(c);
    assert_int_equal(checked, 9 + 32);
    assert_int_equal(failures, 0);
}

int main(int argc, char **argv)
{
    const char *part = argc > 1 ? argv[1] : "conformance";
    admin_conninfo = getenv("CONSTRA_TEST_PG");
    if (admin_conninfo == NULL || admin_conninfo[0] == '\0') {
        /* Never a skip: this build reports the postgres feature. */
        printf("1..1\nnot ok 1 - CONSTRA_TEST_PG is not set: start a server with "
               "eval $(bash scripts/pg_cluster.sh start /tmp/constra-pg) "
               "(scripts/test.sh does)\n");
        return 1;
    }
    if (create_database(part) != 0) {
        printf("1..1\nnot ok 1 - cannot create a test database through CONSTRA_TEST_PG\n");
        return 1;
    }
    int rc;
    if (strcmp(part, "conformance") == 0) {
        const record_conformance impl = {make_fresh, open_again, open_again, NULL};
        rc = record_conformance_run("record-postgres", &impl);
    } else if (strcmp(part, "specific") == 0) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_newer_schema_refused),
            cmocka_unit_test(test_conninfo_never_in_messages),
            cmocka_unit_test(test_two_processes),
            cmocka_unit_test(test_event_order_across_processes),
            cmocka_unit_test(test_open_beside_commits),
        };
        rc = cmocka_run_group_tests(tests, NULL, NULL);
    } else if (strcmp(part, "away") == 0) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_server_away),
            cmocka_unit_test_teardown(test_lost_commit_answer, reset_sync_standby),
        };
        /* Reset first too: a run killed inside test_lost_commit_answer
         * would have left every commit on the cluster waiting. */
        rc = cmocka_run_group_tests(tests, reset_sync_standby, NULL);
    } else {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_every_read_uses_an_index),
        };
        rc = cmocka_run_group_tests(tests, NULL, NULL);
    }
    drop_database();
    return rc;
}
