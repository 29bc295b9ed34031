/* Everything a constra__res_table reads back, as text: the old SQLite storage
 * over a legacy file and the adapter over the same file migrated to a
 * record store must print the same (tests/storage/fixtures/v05.txt is
 * the old storage's print of v05.db). */
#ifndef CONSTRA_TEST_LEGACY_DUMP_H
#define CONSTRA_TEST_LEGACY_DUMP_H

#include <stdint.h>
#include <stdio.h>

#include "storage/resources.h"

/* Reads every intent (and each by every checkout id its document names,
 * and by its status and its reference), every event (all, per intent,
 * unmatched), each key of idem_keys (NULL-ended) through a reserve at
 * `now` with a fingerprint no request has, every endpoint, every
 * delivery and each key of meta_keys (NULL-ended). 0, or -1 when a read
 * failed unexpectedly (the failure is printed too). */
int legacy_dump(const constra__res_table *st, int64_t now, const char *const *idem_keys,
                const char *const *meta_keys, FILE *out);

/* What v05.db holds that the dump cannot list: its idempotency keys and
 * metadata keys (each with one that is not there), and the time of the
 * key probes (every key but v05-dead live, the in-flight leases too). */
#define V05_IDEM_KEYS "v05-a", "v05-b", "v05-inflight", "v05-dead", "v05-none"
#define V05_META_KEYS "mode", "workspace_id", "none"
#define V05_NOW (INT64_C(1767225600000) + 30000)

#endif
