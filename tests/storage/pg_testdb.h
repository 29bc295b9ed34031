/* Test helper: a PostgreSQL database of its own for a test program, on
 * the server in CONSTRA_TEST_PG (a conninfo of a role that may create
 * databases; scripts/pg_cluster.sh starts one). */
#ifndef CONSTRA_TEST_PG_TESTDB_H
#define CONSTRA_TEST_PG_TESTDB_H

#include <libpq-fe.h>

extern const char *admin_conninfo; /* CONSTRA_TEST_PG */
extern char conninfo[2048];        /* the test database's conninfo */

/* Creates constra_rs_<part>_<pid> (dropped first if left over) and fills
 * conninfo; -1 when CONSTRA_TEST_PG is unset or the server refuses. */
int create_database(const char *part);
/* Drops it (WITH (FORCE): connections left open do not stop it). */
void drop_database(void);
/* A connection (notices silenced), or NULL after printing why. */
PGconn *admin(const char *ci);
/* Runs sql on c; 0 after printing the error. */
int sql_ok(PGconn *c, const char *sql);
/* Runs sql on the test database on a connection of its own. */
int db_sql(const char *sql);

#endif
