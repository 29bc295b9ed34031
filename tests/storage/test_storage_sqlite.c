/* The SQLite storage through the conformance suite (on a file and on
 * ":memory:") and its own tests: reopen, schema version, the
 * cross-process idempotency race, rollback on a failing commit, options.
 * One cmocka group per run (one TAP plan per process): argv[1] picks it. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, fork */
#include "../unit/testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "constra_config.h"
#include "conformance.h"
#include "fault_storage.h"
#include "storage/storage_internal.h"

#if CONSTRA_HAVE_SQLITE
#include <sqlite3.h>

/* ---- temp files -------------------------------------------------------- */

static char tmp_dir[64];
static int file_counter;

static void remove_tmp_dir(void)
{
    if (tmp_dir[0] == '\0') {
        return;
    }
    DIR *d = opendir(tmp_dir);
    if (d) {
        struct dirent *e;
        char path[512];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                snprintf(path, sizeof(path), "%s/%s", tmp_dir, e->d_name);
                unlink(path);
            }
        }
        closedir(d);
    }
    rmdir(tmp_dir);
    tmp_dir[0] = '\0';
}

/* A fresh path in this run's private directory (removed at exit). */
static void new_path(char *out, size_t size)
{
    if (tmp_dir[0] == '\0') {
        snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/constra-sqlite-XXXXXX");
        if (mkdtemp(tmp_dir) == NULL) {
            fprintf(stderr, "mkdtemp failed\n");
            abort();
        }
        atexit(remove_tmp_dir);
    }
    snprintf(out, size, "%s/db-%d.sqlite", tmp_dir, ++file_counter);
}

static int open_path(constra_storage *out, const constra_platform *platform, const char *path)
{
    constra_sqlite_options o = CONSTRA_SQLITE_OPTIONS_INIT;
    o.path = path;
    constra_storage init = CONSTRA_STORAGE_INIT;
    *out = init;
    return constra_storage_sqlite(out, platform, &o, NULL);
}

static int make_file(constra_storage *out, const constra_platform *platform, void *arg)
{
    (void)arg;
    char path[256];
    new_path(path, sizeof(path));
    return open_path(out, platform, path);
}

static int make_memory(constra_storage *out, const constra_platform *platform, void *arg)
{
    (void)arg;
    return open_path(out, platform, ":memory:");
}

/* Through the fault wrapper with no fault injected. */
static fault_storage wrapper_state;
static int make_wrapped(constra_storage *out, const constra_platform *platform, void *arg)
{
    constra_storage inner;
    int rc = make_file(&inner, platform, arg);
    if (rc == CONSTRA_OK) {
        wrapper_state.forward_meta = 1; /* the whole vtable, metadata included */
        fault_storage_wrap(&wrapper_state, &inner, out);
    }
    return rc;
}

/* ---- helpers ------------------------------------------------------------ */

typedef struct seen {
    int count;
    char status[64];
    int64_t version;
    char doc[128];
    size_t doc_len;
    int idem_state, http_status;
    size_t response_len;
    int64_t expires_at_ms, lease_expires_at_ms;
} seen;

static int on_intent(void *ctx, const constra_storage_intent *r)
{
    seen *s = ctx;
    s->count++;
    snprintf(s->status, sizeof(s->status), "%s", r->status);
    s->version = r->version;
    s->doc_len = r->document_len < sizeof(s->doc) ? r->document_len : sizeof(s->doc);
    memcpy(s->doc, r->document, s->doc_len);
    return 0;
}

static int on_event(void *ctx, const constra_storage_event *r)
{
    (void)r;
    ((seen *)ctx)->count++;
    return 0;
}

static int on_idem(void *ctx, const constra_storage_idempotency *r)
{
    seen *s = ctx;
    s->count++;
    s->idem_state = r->state;
    s->http_status = r->http_status;
    s->response_len = r->response_len;
    s->expires_at_ms = r->expires_at_ms;
    s->lease_expires_at_ms = r->lease_expires_at_ms;
    return 0;
}

static seen get_intent(constra_storage *s, const char *id)
{
    seen x;
    memset(&x, 0, sizeof(x));
    s->get_intent(s->user_data, id, on_intent, &x);
    return x;
}

static int count_events(constra_storage *s, const char *intent_id)
{
    seen x;
    memset(&x, 0, sizeof(x));
    assert_int_equal(s->list_events(s->user_data, intent_id, 0, 1000, on_event, &x), CONSTRA_OK);
    return x.count;
}

static int count_intents(constra_storage *s)
{
    seen x;
    memset(&x, 0, sizeof(x));
    constra_storage_query q = {sizeof(q), NULL, NULL, 0, 0, NULL, 1000};
    assert_int_equal(s->list_intents(s->user_data, &q, on_intent, &x), CONSTRA_OK);
    return x.count;
}

static constra_storage_idempotency idem(const char *key, const char *fp)
{
    constra_storage_idempotency r = {sizeof(r), key, fp, CONSTRA_IDEMPOTENCY_IN_FLIGHT, 0, NULL,
                                     0, 100, INT64_MAX, INT64_MAX};
    return r;
}

/* ---- (a) reopen ------------------------------------------------------------ */

static void test_reopen_keeps_data(void **state)
{
    (void)state;
    char path[256];
    new_path(path, sizeof(path));
    constra_storage s;
    assert_int_equal(open_path(&s, NULL, path), CONSTRA_OK);
    static const char doc[] = "{\"a\":\"\0b\"}";
    constra_storage_intent in = {sizeof(in), "pi_1", "pending_user_action", "order_1", "ws_CO_1",
                                 10, 20, 1, doc, sizeof(doc) - 1};
    constra_storage_event ev = {sizeof(ev), "evt_1", "pi_1", "payment_intent.created", 10, 0,
                                "{}", 2};
    constra_storage_idempotency r = idem("key_1", "fp1");
    assert_int_equal(s.idempotency_reserve(s.user_data, &r, 100, NULL, NULL), CONSTRA_OK);
    constra_storage_idempotency d = r;
    d.state = CONSTRA_IDEMPOTENCY_COMPLETED;
    d.http_status = 201;
    d.response = "{}";
    d.response_len = 2;
    constra_storage_write w = {sizeof(w), &in, 0, &ev, 1, &d};
    assert_int_equal(s.commit(s.user_data, &w), CONSTRA_OK);
    s.destroy(s.user_data);

    assert_int_equal(open_path(&s, NULL, path), CONSTRA_OK);
    seen x = get_intent(&s, "pi_1");
    assert_int_equal(x.count, 1);
    assert_string_equal(x.status, "pending_user_action");
    assert_int_equal(x.doc_len, sizeof(doc) - 1);
    assert_memory_equal(x.doc, doc, sizeof(doc) - 1);
    assert_int_equal(count_events(&s, "pi_1"), 1);
    memset(&x, 0, sizeof(x));
    assert_int_equal(s.find_by_checkout(s.user_data, "ws_CO_1", on_intent, &x), CONSTRA_OK);
    memset(&x, 0, sizeof(x));
    assert_int_equal(s.idempotency_reserve(s.user_data, &r, 200, on_idem, &x),
                     CONSTRA_E_CONFLICT);
    assert_int_equal(x.idem_state, CONSTRA_IDEMPOTENCY_COMPLETED);
    assert_int_equal(x.http_status, 201);
    s.destroy(s.user_data);

    /* The schema version is stored; the file is in WAL mode. */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='schema_version'",
                                        -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(st, 0), 5);
    sqlite3_finalize(st);
    /* A version-1 file (before webhooks and workspace metadata) is
     * migrated in place: its data stays, the newer tables appear. */
    assert_int_equal(sqlite3_exec(db, "DROP TABLE webhook_endpoints; DROP TABLE webhook_deliveries;"
                                  " DROP TABLE intent_checkouts; DROP TABLE workspace_meta;"
                                  " UPDATE meta SET value = 1 WHERE key='schema_version'",
                                  NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    {
        constra_sqlite_options o1 = CONSTRA_SQLITE_OPTIONS_INIT;
        o1.path = path;
        constra_storage s1 = CONSTRA_STORAGE_INIT;
        assert_int_equal(constra_storage_sqlite(&s1, NULL, &o1, NULL), CONSTRA_OK);
        memset(&x, 0, sizeof(x));
        assert_int_equal(s1.get_intent(s1.user_data, "pi_1", on_intent, &x), CONSTRA_OK);
        constra_storage_webhook_endpoint ep = {sizeof(ep), "we_1", "https://a.example/h", "whsec_x",
                                               "*", 1, 1, 1, 0, 1, ""};
        assert_int_equal(s1.webhook_endpoint_insert(s1.user_data, &ep), CONSTRA_OK);
        s1.destroy(s1.user_data);
    }
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='schema_version'",
                                        -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(st, 0), 5);
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT cursor FROM webhook_endpoints WHERE id='we_1'",
                                        -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(st, 0), 1); /* after the one event stored */
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    /* A database from a newer library is refused, not damaged. */
    assert_int_equal(sqlite3_exec(db, "UPDATE meta SET value = 99 WHERE key='schema_version'",
                                  NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    constra_error err = CONSTRA_ERROR_INIT;
    constra_sqlite_options o = CONSTRA_SQLITE_OPTIONS_INIT;
    o.path = path;
    constra_storage s2 = CONSTRA_STORAGE_INIT;
    assert_int_equal(constra_storage_sqlite(&s2, NULL, &o, &err), CONSTRA_E_STORAGE);
}

/* ---- (b) two processes, one key ------------------------------------------ */

enum { CHILDREN = 4, ROUNDS = 3 };

/* Child: open, wait for the go signal, reserve; the winner "calls the
 * rail" (appends to a file) and commits its intent with the completion.
 * Exit 0 = won, 1 = conflict, 2+ = failure. */
static int child(const char *path, const char *rail, const char *key, int index, int ready_fd,
                 int go_fd)
{
    constra_storage s;
    if (open_path(&s, NULL, path) != CONSTRA_OK) {
        return 2;
    }
    char byte = 'r';
    if (write(ready_fd, &byte, 1) != 1) {
        return 3;
    }
    (void)read(go_fd, &byte, 1); /* returns 0 when the parent closes it */
    char fp[32];
    snprintf(fp, sizeof(fp), "fp-%d", index);
    constra_storage_idempotency r = idem(key, fp);
    int rc = s.idempotency_reserve(s.user_data, &r, 100, NULL, NULL);
    int result = 4;
    if (rc == CONSTRA_E_CONFLICT) {
        result = 1;
    } else if (rc == CONSTRA_OK) {
        int fd = open(rail, O_WRONLY | O_APPEND | O_CREAT, 0600);
        if (fd >= 0) {
            (void)!write(fd, "x", 1);
            close(fd);
        }
        char id[64];
        snprintf(id, sizeof(id), "pi_%s_%d", key, index);
        constra_storage_intent in = {sizeof(in), id, "pending_user_action", "", "", 1, 1, 1,
                                     "{}", 2};
        constra_storage_idempotency d = r;
        d.state = CONSTRA_IDEMPOTENCY_COMPLETED;
        d.http_status = 201;
        d.response = "{}";
        d.response_len = 2;
        constra_storage_write w = {sizeof(w), &in, 0, NULL, 0, &d};
        result = s.commit(s.user_data, &w) == CONSTRA_OK ? 0 : 5;
    }
    s.destroy(s.user_data);
    return result;
}

static void test_cross_process_one_reservation(void **state)
{
    (void)state;
    char path[256], rail[300];
    new_path(path, sizeof(path));
    snprintf(rail, sizeof(rail), "%s.rail", path);
    constra_storage s;
    assert_int_equal(open_path(&s, NULL, path), CONSTRA_OK); /* creates the schema */
    s.destroy(s.user_data);

    for (int round = 0; round < ROUNDS; round++) {
        char key[32];
        snprintf(key, sizeof(key), "key%d", round);
        int ready[2], go[2];
        assert_int_equal(pipe(ready), 0);
        assert_int_equal(pipe(go), 0);
        pid_t pids[CHILDREN];
        for (int i = 0; i < CHILDREN; i++) {
            pids[i] = fork();
            assert_true(pids[i] >= 0);
            if (pids[i] == 0) {
                close(ready[0]);
                close(go[1]);
                _exit(child(path, rail, key, i, ready[1], go[0]));
            }
        }
        close(ready[1]);
        close(go[0]);
        for (int i = 0; i < CHILDREN; i++) { /* all open and waiting */
            char b;
            assert_int_equal(read(ready[0], &b, 1), 1);
        }
        close(go[1]); /* release them together */
        close(ready[0]);
        int wins = 0, conflicts = 0;
        for (int i = 0; i < CHILDREN; i++) {
            int status = 0;
            assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
            assert_true(WIFEXITED(status));
            int code = WEXITSTATUS(status);
            if (code == 0) {
                wins++;
            } else {
                assert_int_equal(code, 1);
                conflicts++;
            }
        }
        assert_int_equal(wins, 1);
        assert_int_equal(conflicts, CHILDREN - 1);
    }

    assert_int_equal(open_path(&s, NULL, path), CONSTRA_OK);
    assert_int_equal(count_intents(&s), ROUNDS); /* one intent per key */
    for (int round = 0; round < ROUNDS; round++) {
        char key[32];
        snprintf(key, sizeof(key), "key%d", round);
        constra_storage_idempotency r = idem(key, "fp-other");
        seen x;
        memset(&x, 0, sizeof(x));
        assert_int_equal(s.idempotency_reserve(s.user_data, &r, 100, on_idem, &x),
                         CONSTRA_E_CONFLICT);
        assert_int_equal(x.idem_state, CONSTRA_IDEMPOTENCY_COMPLETED);
    }
    s.destroy(s.user_data);
    FILE *f = fopen(rail, "rb");
    assert_non_null(f);
    char buf[64];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    assert_int_equal(n, ROUNDS); /* exactly one rail call per key */
}

/* ---- (c) a failing commit leaves the state intact ------------------------- */

static void test_failed_commit_rolls_back(void **state)
{
    (void)state;
    constra_storage s;
    assert_int_equal(make_file(&s, NULL, NULL), CONSTRA_OK);
    constra_storage_intent v1 = {sizeof(v1), "pi_1", "pending_user_action", "", "ws_CO_1", 1, 1,
                                 1, "{\"v\":1}", 7};
    constra_storage_event e1 = {sizeof(e1), "evt_1", "pi_1", "payment_intent.created", 1, 0,
                                "{}", 2};
    constra_storage_write w1 = {sizeof(w1), &v1, 0, &e1, 1, NULL};
    assert_int_equal(s.commit(s.user_data, &w1), CONSTRA_OK);
    constra_storage_idempotency r = idem("k", "fp");
    assert_int_equal(s.idempotency_reserve(s.user_data, &r, 100, NULL, NULL), CONSTRA_OK);

    constra_storage_intent v2 = {sizeof(v2), "pi_1", "succeeded", "", "ws_CO_2", 1, 2, 2,
                                 "{\"v\":2}", 7};
    /* The intent row is updated first, then the event insert fails on a
     * duplicate id: the update must be rolled back. */
    constra_storage_event dup = {sizeof(dup), "evt_1", "pi_1", "payment_intent.succeeded", 2, 0,
                                 "{}", 2};
    constra_storage_write w2 = {sizeof(w2), &v2, 1, &dup, 1, NULL};
    assert_int_equal(s.commit(s.user_data, &w2), CONSTRA_E_CONFLICT);
    /* Intent and event fine, idempotency completion with the wrong
     * fingerprint fails last. */
    constra_storage_event e2 = {sizeof(e2), "evt_2", "pi_1", "payment_intent.succeeded", 2, 0,
                                "{}", 2};
    constra_storage_idempotency wrong = r;
    wrong.fingerprint = "fp-wrong";
    wrong.state = CONSTRA_IDEMPOTENCY_COMPLETED;
    constra_storage_write w3 = {sizeof(w3), &v2, 1, &e2, 1, &wrong};
    assert_int_equal(s.commit(s.user_data, &w3), CONSTRA_E_CONFLICT);
    /* An insert of an id that exists. */
    constra_storage_write w4 = {sizeof(w4), &v2, 0, &e2, 1, NULL};
    v2.version = 1;
    assert_int_equal(s.commit(s.user_data, &w4), CONSTRA_E_CONFLICT);

    seen x = get_intent(&s, "pi_1");
    assert_string_equal(x.status, "pending_user_action");
    assert_int_equal(x.version, 1);
    assert_int_equal(count_events(&s, NULL), 1);
    memset(&x, 0, sizeof(x));
    assert_int_equal(s.find_by_checkout(s.user_data, "ws_CO_1", on_intent, &x), CONSTRA_OK);
    assert_int_equal(s.find_by_checkout(s.user_data, "ws_CO_2", on_intent, &x),
                     CONSTRA_E_NOT_FOUND);
    memset(&x, 0, sizeof(x));
    assert_int_equal(s.idempotency_reserve(s.user_data, &r, 100, on_idem, &x),
                     CONSTRA_E_CONFLICT);
    assert_int_equal(x.idem_state, CONSTRA_IDEMPOTENCY_IN_FLIGHT);
    /* And the storage still works afterwards (no transaction left open). */
    v2.version = 2;
    constra_storage_idempotency ok = r;
    ok.state = CONSTRA_IDEMPOTENCY_COMPLETED;
    constra_storage_write w5 = {sizeof(w5), &v2, 1, &e2, 1, &ok};
    assert_int_equal(s.commit(s.user_data, &w5), CONSTRA_OK);
    assert_int_equal(get_intent(&s, "pi_1").version, 2);
    s.destroy(s.user_data);
}

/* Another connection holds the write lock past the busy time-out: the
 * commit and the reservation fail with CONSTRA_E_STORAGE (not CONFLICT,
 * which would mean "version changed" or "key taken"), nothing changes,
 * and once the lock is gone the same calls succeed. */
static void test_busy_lock_is_storage_error(void **state)
{
    (void)state;
    char path[256];
    new_path(path, sizeof(path));
    constra_storage s = CONSTRA_STORAGE_INIT;
    constra_sqlite_options o = CONSTRA_SQLITE_OPTIONS_INIT;
    o.path = path;
    o.busy_timeout_ms = 50;
    assert_int_equal(constra_storage_sqlite(&s, NULL, &o, NULL), CONSTRA_OK);
    constra_storage_intent v1 = {sizeof(v1), "pi_1", "pending_user_action", "", "ws_CO_1", 1, 1,
                                 1, "{\"v\":1}", 7};
    constra_storage_event e1 = {sizeof(e1), "evt_1", "pi_1", "payment_intent.created", 1, 0,
                                "{}", 2};
    constra_storage_write w1 = {sizeof(w1), &v1, 0, &e1, 1, NULL};
    assert_int_equal(s.commit(s.user_data, &w1), CONSTRA_OK);

    sqlite3 *other = NULL;
    assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);

    constra_storage_intent v2 = {sizeof(v2), "pi_1", "succeeded", "", "ws_CO_1", 1, 2, 2,
                                 "{\"v\":2}", 7};
    constra_storage_event e2 = {sizeof(e2), "evt_2", "pi_1", "payment_intent.succeeded", 2, 0,
                                "{}", 2};
    constra_storage_write w2 = {sizeof(w2), &v2, 1, &e2, 1, NULL};
    assert_int_equal(s.commit(s.user_data, &w2), CONSTRA_E_STORAGE);
    constra_storage_idempotency r = idem("k-busy", "fp");
    assert_int_equal(s.idempotency_reserve(s.user_data, &r, 100, NULL, NULL), CONSTRA_E_STORAGE);
    /* Reads still work under WAL while another connection writes. */
    seen x = get_intent(&s, "pi_1");
    assert_int_equal(x.version, 1);

    assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    assert_int_equal(get_intent(&s, "pi_1").version, 1);
    assert_int_equal(count_events(&s, NULL), 1);
    assert_int_equal(s.commit(s.user_data, &w2), CONSTRA_OK);
    assert_int_equal(s.idempotency_reserve(s.user_data, &r, 100, NULL, NULL), CONSTRA_OK);
    assert_int_equal(get_intent(&s, "pi_1").version, 2);
    s.destroy(s.user_data);
}

/* ---- (d) options ------------------------------------------------------------ */

static void test_bad_options(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    constra_storage s = CONSTRA_STORAGE_INIT;
    constra_sqlite_options o = CONSTRA_SQLITE_OPTIONS_INIT;
    assert_int_equal(constra_storage_sqlite(&s, NULL, NULL, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_storage_sqlite(&s, NULL, &o, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "options.path");
    o.path = "";
    assert_int_equal(constra_storage_sqlite(&s, NULL, &o, &err), CONSTRA_E_INVALID_ARGUMENT);
    o.path = ":memory:";
    assert_int_equal(constra_storage_sqlite(NULL, NULL, &o, &err), CONSTRA_E_INVALID_ARGUMENT);
    o.busy_timeout_ms = -1;
    assert_int_equal(constra_storage_sqlite(&s, NULL, &o, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "options.busy_timeout_ms");
    o.busy_timeout_ms = 0;
    o.synchronous = 7;
    assert_int_equal(constra_storage_sqlite(&s, NULL, &o, &err), CONSTRA_E_INVALID_ARGUMENT);
    o.synchronous = CONSTRA_SQLITE_SYNC_FULL;
    o.struct_size = 0;
    assert_int_equal(constra_storage_sqlite(&s, NULL, &o, &err), CONSTRA_E_ABI);
    o.struct_size = sizeof(o);
    constra_storage zero;
    memset(&zero, 0, sizeof(zero));
    assert_int_equal(constra_storage_sqlite(&zero, NULL, &o, &err), CONSTRA_E_ABI);
    o.path = "/nonexistent-dir-constra/x/db.sqlite";
    assert_int_equal(constra_storage_sqlite(&s, NULL, &o, &err), CONSTRA_E_STORAGE);

    assert_int_equal(constra_sqlite_options_init(NULL, sizeof(o)), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_sqlite_options_init(&o, 4), CONSTRA_E_ABI);
    assert_int_equal(constra_sqlite_options_init(&o, sizeof(o)), CONSTRA_OK);
    assert_null(o.path);

    /* NORMAL and an explicit time-out open fine. */
    char path[256];
    new_path(path, sizeof(path));
    o.path = path;
    o.synchronous = CONSTRA_SQLITE_SYNC_NORMAL;
    o.busy_timeout_ms = 100;
    assert_int_equal(constra_storage_sqlite(&s, NULL, &o, &err), CONSTRA_OK);
    assert_int_equal(constra_storage_check(&s, NULL), CONSTRA_OK);
    s.destroy(s.user_data);
}

/* Allocations of the library's own go through the platform allocator and
 * are all freed by destroy. */
static void test_platform_allocator(void **state)
{
    (void)state;
    counting_alloc ca = {0};
    constra_platform p;
    ca_platform(&p, &ca);
    p.destroy = NULL;
    constra_storage s;
    assert_int_equal(open_path(&s, &p, ":memory:"), CONSTRA_OK);
    assert_true(ca.live > 0);
    s.destroy(s.user_data);
    assert_int_equal(ca.live, 0);
}

/* ---- (g) keys in a file written by 0.1 --------------------------------- */

static int64_t v01_clock = INT64_C(1764239894625);
static int64_t v01_now(void *ud)
{
    (void)ud;
    return v01_clock;
}

static constra_t *v01_open(const char *path)
{
    constra_platform p = CONSTRA_PLATFORM_INIT;
    p.wall_time_ms = v01_now;
    constra_storage st;
    assert_int_equal(open_path(&st, NULL, path), CONSTRA_OK);
    constra_config cfg = CONSTRA_CONFIG_INIT;
    cfg.platform = &p;
    cfg.storage = &st;
    constra_t *h = NULL;
    assert_int_equal(constra_open(&h, &cfg, NULL), CONSTRA_OK);
    return h;
}

static int v01_create_p(constra_t *h, const constra_intent_params *p, const char *key,
                        int replayed, char *id, constra_error *err)
{
    constra_intent *in = NULL;
    int rc = constra_intent_create(h, p, key, &in, err);
    if (rc == CONSTRA_OK) {
        strcpy(id, constra_intent_id(in));
        assert_int_equal(constra_intent_replayed(in), replayed);
        constra_intent_free(in);
    }
    return rc;
}

static int v01_create(constra_t *h, const char *key, int replayed, char *id, constra_error *err)
{
    constra_intent_params p = CONSTRA_INTENT_PARAMS_INIT;
    p.amount = 1250;
    p.currency = "KES";
    p.phone_number = "254712345678";
    return v01_create_p(h, &p, key, replayed, id, err);
}

/* A schema-2 file as 0.1 left it: keys reserved with lease == expiry,
 * an in-flight one never linked (0.1 killed after its first commit: the
 * intent exists, its prompt may be out). It opens and works; the
 * completed key replays; the unlinked in-flight one stays 409 after the
 * lease (never a second intent); new keys link and lease as usual. */
static void test_v01_file_keys(void **state)
{
    (void)state;
    char path[256];
    new_path(path, sizeof(path));
    constra_t *h = v01_open(path);
    char id_stuck[CONSTRA_ID_SIZE], id_done[CONSTRA_ID_SIZE], id[CONSTRA_ID_SIZE];
    assert_int_equal(v01_create(h, "stuck", 0, id_stuck, NULL), CONSTRA_OK);
    assert_int_equal(v01_create(h, "done", 0, id_done, NULL), CONSTRA_OK);
    char id_gone[CONSTRA_ID_SIZE];
    assert_int_equal(v01_create(h, "gone", 0, id_gone, NULL), CONSTRA_OK);
    constra_close(h);

    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "UPDATE idempotency SET lease_expires_at_ms = expires_at_ms;"
                                  "UPDATE idempotency SET state = 1, http_status = 0,"
                                  " response = NULL WHERE key = 'stuck'",
                                  NULL, NULL, NULL), SQLITE_OK);
    /* A key whose intent the storage lost (deleted by hand). */
    char sql[256];
    snprintf(sql, sizeof(sql), "DELETE FROM intents WHERE id = '%s'", id_gone);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    v01_clock += 120000; /* two default leases */
    h = v01_open(path);
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(v01_create(h, "stuck", 1, id, &err), CONSTRA_E_CONFLICT);
    assert_string_equal(err.code, "idempotent_request_in_flight");
    assert_int_equal(v01_create(h, "done", 1, id, &err), CONSTRA_OK);
    assert_string_equal(id, id_done);
    /* Its key says what it held; the request is never run again. */
    assert_int_equal(v01_create(h, "gone", 1, id, &err), CONSTRA_E_STORAGE);
    assert_string_equal(err.code, "storage_error");
    assert_non_null(strstr(err.message, id_gone));
    assert_int_equal(v01_create(h, "fresh", 0, id, &err), CONSTRA_OK);
    assert_int_equal(v01_create(h, "fresh", 1, id, &err), CONSTRA_OK);
    constra_intent_list *l = NULL;
    assert_int_equal(constra_intent_list_get(h, NULL, &l, NULL), CONSTRA_OK);
    assert_int_equal(constra_intent_list_count(l), 3);
    constra_intent_list_free(l);
    constra_intent *in = NULL;
    assert_int_equal(constra_intent_get(h, id_stuck, &in, NULL), CONSTRA_OK);
    constra_intent_free(in);
    constra_close(h);
}

/* The file 0.1 really wrote (tests/storage/fixtures/v01.db, copied):
 * its completed keys replay their intents, its key left in flight by a
 * killed 0.1 process reads back unlinked with lease == expiry (so the
 * engine never takes it for one of its own abandoned keys) and can be
 * linked and kept like any, and new keys lease as usual on it. */
static void test_v01_fixture_keys(void **state)
{
    (void)state;
    const char *vec = getenv("CONSTRA_VECTORS");
    assert_non_null(vec);
    char src[512], path[256];
    snprintf(src, sizeof(src), "%s/../storage/fixtures/v01.db", vec);
    new_path(path, sizeof(path));
    FILE *from = fopen(src, "rb"), *to = fopen(path, "wb");
    assert_non_null(from);
    assert_non_null(to);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), from)) > 0) {
        assert_int_equal(fwrite(buf, 1, n, to), n);
    }
    fclose(from);
    assert_int_equal(fclose(to), 0);

    v01_clock = INT64_C(1767225616000) + 120000; /* two leases after 0.1 stopped */
    constra_t *h = v01_open(path);
    /* The requests as make_v01_fixture.c made them. */
    constra_intent_params p = CONSTRA_INTENT_PARAMS_INIT;
    p.currency = "KES";
    p.customer_name = "Fixture Customer";
    p.description = "0.1 fixture";
    struct { int64_t amount; const char *phone, *ref; } req[] = {
        {1250, "254712345678", "order-pending"}, {99, "254712345679", "order-draft"}};
    p.amount = req[0].amount, p.phone_number = req[0].phone, p.reference = req[0].ref;
    char id[CONSTRA_ID_SIZE];
    assert_int_equal(v01_create_p(h, &p, "fx-pending", 1, id, NULL), CONSTRA_OK);
    assert_string_equal(id, "pi_01kdvdna00p9z6ng9yjb72azr9");
    p.amount = req[1].amount, p.phone_number = req[1].phone, p.reference = req[1].ref;
    p.draft = 1;
    assert_int_equal(v01_create_p(h, &p, "fx-draft", 1, id, NULL), CONSTRA_OK);
    assert_string_equal(id, "pi_01kdvdncxrhmzckzvhf59hwawv");
    /* The killed 0.1 request's key: its fingerprint is not this request's,
     * and it is never run. */
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(v01_create_p(h, &p, "fx-inflight", 0, id, &err), CONSTRA_E_CONFLICT);
    assert_string_equal(err.code, "idempotency_key_reused");
    assert_int_equal(v01_create(h, "after-0.1", 0, id, NULL), CONSTRA_OK);
    assert_int_equal(v01_create(h, "after-0.1", 1, id, NULL), CONSTRA_OK);
    constra_close(h);

    constra_storage s;
    assert_int_equal(open_path(&s, NULL, path), CONSTRA_OK);
    static const char fp[] = "00000000000000000000000000000000000000000000000000000000000000ff";
    constra_storage_idempotency probe = idem("fx-inflight", fp);
    seen x;
    memset(&x, 0, sizeof(x));
    assert_int_equal(s.idempotency_reserve(s.user_data, &probe, v01_clock, on_idem, &x),
                     CONSTRA_E_CONFLICT);
    assert_int_equal(x.idem_state, CONSTRA_IDEMPOTENCY_IN_FLIGHT);
    assert_int_equal(x.response_len, 0);
    assert_int_equal(x.expires_at_ms, INT64_C(1767312016000));
    assert_int_equal(x.lease_expires_at_ms, x.expires_at_ms);
    /* A 0.1 row (response NULL) links, and is then kept. */
    constra_storage_idempotency link = probe;
    link.response = "{\"id\":\"pi_fx_link\"}";
    link.response_len = strlen(link.response);
    constra_storage_intent in = {sizeof(in), "pi_fx_link", "pending_user_action", "", "",
                                 v01_clock, v01_clock, 1, "{}", 2};
    constra_storage_write w = {sizeof(w), &in, 0, NULL, 0, &link};
    assert_int_equal(s.commit(s.user_data, &w), CONSTRA_OK);
    assert_int_equal(s.idempotency_release(s.user_data, "fx-inflight", fp), CONSTRA_OK);
    memset(&x, 0, sizeof(x));
    assert_int_equal(s.idempotency_reserve(s.user_data, &probe, v01_clock, on_idem, &x),
                     CONSTRA_E_CONFLICT);
    assert_int_equal(x.response_len, link.response_len);
    /* The new key: completed, with the engine's lease marker. */
    constra_storage_idempotency mine = idem("after-0.1", "any");
    memset(&x, 0, sizeof(x));
    assert_int_equal(s.idempotency_reserve(s.user_data, &mine, v01_clock, on_idem, &x),
                     CONSTRA_E_CONFLICT);
    assert_int_equal(x.idem_state, CONSTRA_IDEMPOTENCY_COMPLETED);
    assert_int_equal(x.http_status, 201);
    assert_true(x.lease_expires_at_ms > x.expires_at_ms);
    s.destroy(s.user_data);
}

/* Every statement the storage prepares, run through EXPLAIN QUERY PLAN on
 * a file holding rows (so the planner weighs a real table): none may scan
 * a whole table. The intent list had "(?1 = '' OR status = ?1)", which
 * made the status filter a full scan (192 ms on 100k rows, issue 12);
 * each filter shape is its own statement now. Known full scans are listed
 * with the reason and must stay true (a fixed one fails the test, so the
 * list shrinks). */
static int plan_scans_table(sqlite3 *db, const char *sql, char *plan, size_t plan_size)
{
    char q[2048];
    snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql);
    sqlite3_stmt *st = NULL;
    plan[0] = '\0';
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK) {
        snprintf(plan, plan_size, "prepare failed: %s", sqlite3_errmsg(db));
        return -1;
    }
    int scans = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *detail = (const char *)sqlite3_column_text(st, 3);
        size_t used = strlen(plan);
        snprintf(plan + used, plan_size - used, "%s%s", used ? " | " : "", detail ? detail : "");
        /* "SCAN t" reads every row, and so does "SCAN t USING INDEX i"
         * (all of i in order, the filter applied to each row: the old
         * list's plan); only SEARCH is a range of an index. */
        if (detail && strncmp(detail, "SCAN ", 5) == 0 && strstr(detail, "CONSTANT ROW") == NULL) {
            scans = 1;
        }
    }
    sqlite3_finalize(st);
    return scans;
}

static void test_every_query_uses_an_index(void **state)
{
    (void)state;
    char path[256];
    new_path(path, sizeof(path));
    constra_storage s;
    assert_int_equal(open_path(&s, NULL, path), CONSTRA_OK);
    for (int i = 0; i < 200; i++) {
        char id[32], ref[32], co[32];
        snprintf(id, sizeof(id), "pi_%04d", i);
        snprintf(ref, sizeof(ref), "order_%d", i % 17);
        snprintf(co, sizeof(co), "ws_CO_%04d", i);
        constra_storage_intent in = {sizeof(in), id, i % 3 ? "succeeded" : "pending_user_action",
                                     ref, co, 10 + i, 20 + i, 1, "{}", 2};
        constra_storage_write w = {sizeof(w), &in, 0, NULL, 0, NULL};
        assert_int_equal(s.commit(s.user_data, &w), CONSTRA_OK);
    }
    s.destroy(s.user_data);

    /* Full scans known and accepted, each with its reason. */
    static const char *const accepted[] = {
        /* the deliveries list's optional filters; the ticker's due query
         * goes through it: issue 12, with issue 13's delivery work */
        "FROM webhook_deliveries WHERE (?1 = '' OR id = ?1)",
        /* at most a handful of endpoints per workspace */
        "FROM webhook_endpoints ORDER BY id",
        NULL};
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "ANALYZE", NULL, NULL, NULL), SQLITE_OK);
    size_t checked = 0;
    int failures = 0;
    for (size_t i = 0; constra__sqlite_statement_sql(i) != NULL; i++) {
        const char *sql = constra__sqlite_statement_sql(i);
        if (strncmp(sql, "SELECT", 6) != 0 && strncmp(sql, "UPDATE", 6) != 0 &&
            strncmp(sql, "DELETE", 6) != 0) {
            continue; /* BEGIN, COMMIT, ROLLBACK, INSERT: no table read */
        }
        char plan[1024];
        int scans = plan_scans_table(db, sql, plan, sizeof(plan));
        int is_accepted = 0;
        for (size_t k = 0; accepted[k]; k++) {
            is_accepted |= strstr(sql, accepted[k]) != NULL;
        }
        checked++;
        if (scans < 0 || scans != is_accepted) {
            failures++;
            fprintf(stderr, "# %s: %s\n#   plan: %s\n",
                    scans < 0 ? "cannot plan" : is_accepted ? "no longer scans (drop it from the list)"
                                                            : "full table scan", sql, plan);
        }
    }
    sqlite3_close(db);
    assert_true(checked >= 20);
    assert_int_equal(failures, 0);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "file";
    if (strcmp(which, "file") == 0) {
        return conformance_run("storage conformance: sqlite (file)", make_file, NULL);
    }
    if (strcmp(which, "memory") == 0) {
        return conformance_run("storage conformance: sqlite (:memory:)", make_memory, NULL);
    }
    if (strcmp(which, "wrapped") == 0) {
        return conformance_run("storage conformance: sqlite via fault wrapper", make_wrapped,
                               NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reopen_keeps_data),
        cmocka_unit_test(test_cross_process_one_reservation),
        cmocka_unit_test(test_failed_commit_rolls_back),
        cmocka_unit_test(test_busy_lock_is_storage_error),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_platform_allocator),
        cmocka_unit_test(test_v01_file_keys),
        cmocka_unit_test(test_v01_fixture_keys),
        cmocka_unit_test(test_every_query_uses_an_index),
    };
    return cmocka_run_group_tests_name("sqlite storage", tests, NULL, NULL);
}

#else /* built without SQLite */

static void test_unsupported(void **state)
{
    (void)state;
    constra_error err = CONSTRA_ERROR_INIT;
    constra_storage s = CONSTRA_STORAGE_INIT;
    constra_sqlite_options o = CONSTRA_SQLITE_OPTIONS_INIT;
    o.path = ":memory:";
    assert_int_equal(constra_storage_sqlite(&s, NULL, &o, &err), CONSTRA_E_UNSUPPORTED);
    assert_int_equal(err.status, CONSTRA_E_UNSUPPORTED);
    assert_int_equal(constra_sqlite_options_init(&o, sizeof(o)), CONSTRA_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unsupported),
    };
    return cmocka_run_group_tests_name("sqlite storage (disabled)", tests, NULL, NULL);
}

#endif
