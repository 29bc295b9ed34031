/* The engine's resource table (resources.h, constra__res_open) on each
 * storage: the resource conformance suite, whole, on the memory storage,
 * on the SQLite one (a file, and a second process racing on it) and, in a build
 * with PostgreSQL, on the PostgreSQL one (a database of its own on the
 * server in CONSTRA_TEST_PG, emptied per test), so every resource the
 * engine keeps is shown to fit the generic contract. */
#define _POSIX_C_SOURCE 200809L
#include "../unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "conformance.h"
#if defined(CONSTRA_TEST_WITH_PG)
#include "pg_testdb.h"
#endif

static int make_on_memory(constra__res_table *out, const constra_platform *platform, void *arg)
{
    (void)arg;
    constra_storage rs = CONSTRA_STORAGE_INIT;
    int rc = constra_storage_memory(&rs, platform, NULL);
    if (rc == CONSTRA_OK && (rc = constra__res_open(out, platform, &rs, NULL)) != 0) {
        rs.destroy(rs.user_data);
    }
    return rc;
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

static int make_on_sqlite(constra__res_table *out, const constra_platform *platform, void *arg)
{
    (void)arg;
    remove_files();
    snprintf(path, sizeof(path), "/tmp/constra-onrecords-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) {
        return CONSTRA_E_STORAGE;
    }
    close(fd);
    constra_storage rs = CONSTRA_STORAGE_INIT;
    constra_sqlite_options o = CONSTRA_SQLITE_OPTIONS_INIT;
    o.path = path;
    o.synchronous = CONSTRA_SQLITE_SYNC_NORMAL;
    int rc = constra_storage_sqlite(&rs, platform, &o, NULL);
    if (rc == CONSTRA_OK && (rc = constra__res_open(out, platform, &rs, NULL)) != 0) {
        rs.destroy(rs.user_data);
    }
    return rc;
}

#if defined(CONSTRA_TEST_WITH_PG)
static int make_on_postgres(constra__res_table *out, const constra_platform *platform, void *arg)
{
    (void)arg;
    if (!db_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")) {
        return CONSTRA_E_STORAGE;
    }
    constra_storage rs = CONSTRA_STORAGE_INIT;
    int rc = constra_storage_postgres(&rs, platform, conninfo, NULL);
    if (rc == CONSTRA_OK && (rc = constra__res_open(out, platform, &rs, NULL)) != 0) {
        rs.destroy(rs.user_data);
    }
    return rc;
}
#endif

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "memory";
    int rc;
    if (strcmp(which, "sqlite") == 0) {
        if (!constra_feature_enabled("sqlite")) {
            fprintf(stderr, "built without SQLite\n");
            return 1;
        }
        rc = conformance_run("storage conformance: on the SQLite record store", make_on_sqlite,
                             NULL);
    } else if (strcmp(which, "postgres") == 0) {
#if defined(CONSTRA_TEST_WITH_PG)
        if (create_database("onrecords") != 0) {
            /* Never a skip: this build has the postgres feature. */
            printf("1..1\nnot ok 1 - CONSTRA_TEST_PG is not set or its server refuses\n");
            return 1;
        }
        rc = conformance_run("storage conformance: on the PostgreSQL record store",
                             make_on_postgres, NULL);
        drop_database();
#else
        fprintf(stderr, "built without PostgreSQL\n");
        rc = 1;
#endif
    } else {
        rc = conformance_run("storage conformance: on the memory record store", make_on_memory,
                             NULL);
    }
    remove_files();
    return rc;
}
