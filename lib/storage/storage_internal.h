/*
 * Internal: the argument checks of the storage contract (storage.h),
 * shared by every shipped implementation so they refuse exactly the same
 * inputs.
 */
#ifndef CONSTRA_STORAGE_INTERNAL_H
#define CONSTRA_STORAGE_INTERNAL_H

#include <stddef.h>

#include "constra/storage.h"

/* The first version of the vtable ended at `destroy`: storages made for,
 * or by, callers of that version have this struct_size. */
#define CONSTRA__STORAGE_V1_SIZE offsetof(constra_storage, webhook_endpoint_insert)

/* A non-NULL id, status, type or key of at most CONSTRA_STORAGE_KEY_MAX bytes. */
int constra__storage_valid_text(const char *t);

/* A usable idempotency record: non-empty key and fingerprint, response
 * bytes present when a length is given. */
int constra__storage_idem_valid(const constra_storage_idempotency *r);

/* CONSTRA_OK, or CONSTRA_E_INVALID_ARGUMENT for a write no storage may
 * accept: nothing to write, bad texts, version not expected + 1, an event
 * that names an intent not written with it. */
int constra__storage_check_write(const constra_storage_write *w);

/* 1 when the storage has the webhook group (storage.h). */
int constra__storage_has_webhooks(const constra_storage *s);

/* 1 when the storage has the workspace metadata pair (storage.h). */
int constra__storage_has_meta(const constra_storage *s);

/* A metadata key (1 to CONSTRA_STORAGE_KEY_MAX bytes); and with a value
 * (non-NULL, 0 to CONSTRA_STORAGE_KEY_MAX bytes) for meta_put_if_absent. */
int constra__storage_meta_key_valid(const char *key);
int constra__storage_meta_put_valid(const char *key, const char *value);

/* Usable webhook records: ids and texts within bounds, a known state,
 * versions in range. */
int constra__storage_endpoint_valid(const constra_storage_webhook_endpoint *ep);
int constra__storage_delivery_valid(const constra_storage_delivery *d);
int constra__storage_delivery_query_valid(const constra_storage_delivery_query *q);

/* The one definition of which rows a delivery query selects. */
int constra__storage_delivery_matches(const constra_storage_delivery_query *q,
                                      const char *id, const char *endpoint_id, const char *state,
                                      int64_t next_attempt_at_ms);

/* The SQLite storage's prepared statements, in order; NULL past the last
 * (and always NULL in a build without SQLite). For tests of query plans. */
const char *constra__sqlite_statement_sql(size_t i);

#endif
