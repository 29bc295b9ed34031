/* A PostgreSQL database of its own for a test program, on the server in
 * CONSTRA_TEST_PG (pg_testdb.h). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pg_testdb.h"

const char *admin_conninfo; /* CONSTRA_TEST_PG */
char conninfo[2048];        /* admin_conninfo with dbname replaced */
static char dbname[64];     /* this program's database */

/* ---- the test database -------------------------------------------------- */

/* conninfo = the admin conninfo's options with dbname = `db`, as
 * key='value' pairs (quotes and backslashes escaped). */
static int build_conninfo(const char *db)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(admin_conninfo, &perr);
    if (opts == NULL) {
        fprintf(stderr, "# CONSTRA_TEST_PG is not a valid conninfo\n");
        PQfreemem(perr);
        return -1;
    }
    size_t n = 0;
    conninfo[0] = '\0';
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        const char *v = strcmp(o->keyword, "dbname") == 0 ? db : o->val;
        if (v == NULL || v[0] == '\0') {
            continue;
        }
        n += (size_t)snprintf(conninfo + n, sizeof(conninfo) - n, "%s%s='", n ? " " : "",
                              o->keyword);
        for (const char *c = v; *c && n + 4 < sizeof(conninfo); c++) {
            if (*c == '\'' || *c == '\\') {
                conninfo[n++] = '\\';
            }
            conninfo[n++] = *c;
        }
        n += (size_t)snprintf(conninfo + n, sizeof(conninfo) - n, "'");
    }
    PQconninfoFree(opts);
    return 0;
}

static void quiet(void *arg, const char *message)
{
    (void)arg; /* DROP SCHEMA ... CASCADE lists what it drops */
    (void)message;
}

PGconn *admin(const char *ci)
{
    PGconn *c = PQconnectdb(ci);
    PQsetNoticeProcessor(c, quiet, NULL);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "# cannot connect: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

int sql_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok) {
        fprintf(stderr, "# %s: %s", sql, PQerrorMessage(c));
    }
    PQclear(r);
    return ok;
}

/* Runs SQL on the test database. */
int db_sql(const char *sql)
{
    PGconn *c = admin(conninfo);
    int ok = c && sql_ok(c, sql);
    PQfinish(c);
    return ok;
}

int create_database(const char *part)
{
    admin_conninfo = getenv("CONSTRA_TEST_PG");
    if (admin_conninfo == NULL || admin_conninfo[0] == '\0') {
        return -1;
    }
    snprintf(dbname, sizeof(dbname), "constra_rs_%s_%ld", part, (long)getpid());
    PGconn *c = admin(admin_conninfo);
    if (c == NULL) {
        return -1;
    }
    char sql[256];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", dbname);
    int ok = sql_ok(c, sql);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", dbname);
    ok = ok && sql_ok(c, sql);
    PQfinish(c);
    return ok && build_conninfo(dbname) == 0 ? 0 : -1;
}

void drop_database(void)
{
    PGconn *c = admin(admin_conninfo);
    if (c != NULL) {
        char sql[256];
        snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
        sql_ok(c, sql);
        PQfinish(c);
    }
}

