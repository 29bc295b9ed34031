/*
 * Internal: a SQLite file of the old storage (lib/storage/sqlite.c,
 * schema versions 1..5) turned into a record store in place, so that
 * constra__res_open() over it reads what the old storage read.
 */
#ifndef CONSTRA_MIGRATE_LEGACY_H
#define CONSTRA_MIGRATE_LEGACY_H

#include <stddef.h>
#include <stdint.h>

#include "constra/error.h"
#include "constra/platform.h"
#include "constra/storage.h"
#include "storage/resources.h"

struct sqlite3;

/* Inside the caller's open write transaction (BEGIN IMMEDIATE), with the
 * rs_ tables created: when the file holds the old storage's tables
 * (`meta` with a schema_version), brings them to schema 5 with the old
 * storage's own migration steps, copies every row into rs_records,
 * rs_keys and rs_events as on_records.c writes them, and drops them.
 * CONSTRA_OK with nothing done when there are none. On any failure err
 * says why and the caller must roll back: the file is then as it was. */
int constra__migrate_legacy(struct sqlite3 *db, const constra_platform *platform,
                            constra_error *err);

/* on_records.c's own document and index builders (defined there), so that
 * a migrated row is byte for byte what the adapter writes and parses.
 * Each returns a platform allocation (NULL: out of memory). */
char *constra__on_records_intent_doc(const constra_platform *platform,
                                     const constra__res_intent *in, size_t *len);
char *constra__on_records_idem_doc(const constra_platform *platform,
                                   const constra__res_idempotency *r, size_t *len);
int64_t constra__on_records_idem_death(const constra__res_idempotency *r);
/* The intent's index entries (values in bufs); -1 when one does not
 * fit. */
int constra__on_records_intent_keys(const constra__res_intent *in,
                                    char bufs[3][CONSTRA_RECORD_VALUE_MAX + 1],
                                    constra_record_key keys[3], size_t *count);
char *constra__on_records_endpoint_doc(const constra_platform *platform,
                                       const constra__res_endpoint *ep,
                                       int64_t cursor, size_t *len);
char *constra__on_records_delivery_doc(const constra_platform *platform,
                                       const constra__res_delivery *d, size_t *len);
/* The delivery's record with its index entries (values in bufs);
 * CONSTRA_E_INVALID_ARGUMENT when a value does not fit. */
#define CONSTRA__DL_KEYS 4
int constra__on_records_delivery_record(const constra__res_delivery *d, const char *doc,
                                        size_t len,
                                        char bufs[CONSTRA__DL_KEYS][CONSTRA_RECORD_VALUE_MAX + 1],
                                        constra_record_key keys[CONSTRA__DL_KEYS],
                                        constra_record *rec);

#endif /* CONSTRA_MIGRATE_LEGACY_H */
