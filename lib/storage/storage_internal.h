/*
 * Internal: the argument checks of the storage contract (storage.h),
 * shared by every shipped implementation so they refuse exactly the same
 * inputs.
 */
#ifndef CONSTRA_STORAGE_INTERNAL_H
#define CONSTRA_STORAGE_INTERNAL_H

#include "constra/storage.h"

/* A non-NULL id, status, type or key of at most CONSTRA_STORAGE_KEY_MAX bytes. */
int constra__storage_valid_text(const char *t);

/* A usable idempotency record: non-empty key and fingerprint, response
 * bytes present when a length is given. */
int constra__storage_idem_valid(const constra_storage_idempotency *r);

/* CONSTRA_OK, or CONSTRA_E_INVALID_ARGUMENT for a write no storage may
 * accept: nothing to write, bad texts, version not expected + 1, an event
 * that names an intent not written with it. */
int constra__storage_check_write(const constra_storage_write *w);

#endif
