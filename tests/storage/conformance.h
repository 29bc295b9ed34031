/*
 * The storage conformance suite: every constra__res_table implementation
 * (memory, SQLite, PostgreSQL, a host's own) must pass it. A test program
 * supplies a factory and runs the suite:
 *
 *   static int make(constra__res_table *out, const constra_platform *p, void *arg);
 *   int main(void) { return conformance_run("memory", make, NULL); }
 *
 * The factory creates a fresh, empty storage each time it is called, with
 * `p` (may be NULL) as its platform where the implementation takes one.
 */
#ifndef CONSTRA_TEST_CONFORMANCE_H
#define CONSTRA_TEST_CONFORMANCE_H

#include <constra.h>

#include "storage/resources.h"

typedef int (*conformance_factory)(constra__res_table *out, const constra_platform *platform,
                                   void *arg);

/* Runs every conformance test as one cmocka group; returns its result. */
int conformance_run(const char *name, conformance_factory factory, void *arg);

#endif
