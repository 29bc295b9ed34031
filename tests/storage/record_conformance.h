/*
 * The record store conformance suite (storage.h): every
 * implementation (memory, SQLite, PostgreSQL, a host's own) passes it.
 * A test program supplies a factory and runs the suite:
 *
 *   static int make(constra_storage *out, void *arg);
 *   int main(void) { return record_conformance_run("memory", make, NULL); }
 *
 * The factory creates a fresh, empty store each time it is called. When
 * `reopen` is not NULL, the suite also checks durability: it calls
 * reopen(out, arg) after destroying a store to get a new handle on the
 * same data (NULL for stores whose data dies with them). When `second`
 * is not NULL it returns another, concurrently usable handle on the same
 * data as the last store made (another connection, another process's
 * view): the race tests then run across handles.
 */
#ifndef CONSTRA_TEST_RECORD_CONFORMANCE_H
#define CONSTRA_TEST_RECORD_CONFORMANCE_H

#include <constra.h>

typedef int (*record_store_factory)(constra_storage *out, void *arg);

typedef struct record_conformance {
    record_store_factory make;   /* a fresh, empty store; required */
    record_store_factory reopen; /* the last store's data again; optional */
    record_store_factory second; /* a second handle on the live data; optional */
    void *arg;
} record_conformance;

/* Runs every conformance test as one cmocka group; returns its result. */
int record_conformance_run(const char *name, const record_conformance *impl);

/* Fills a store with what the plan tests (EXPLAIN of every statement)
 * need to be realistic: 300 records of two kinds with a shared reference
 * key and an ordered key, some expiring, each with an event, some of
 * those expiring. Fails the test on any error. */
void record_conformance_fill_for_plans(constra_storage *st);

#endif
