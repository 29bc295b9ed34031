/*
 * Internal: idempotency keys of intent creates (lib/engine/idempotency.c).
 * The rules, and why they keep one key to one intent and one push, are
 * in answer_held_key() there and in storage.h's contract.
 */
#ifndef CONSTRA_ENGINE_IDEMPOTENCY_H
#define CONSTRA_ENGINE_IDEMPOTENCY_H

#include "engine/engine.h"

/* Longest idempotency key. */
#define CONSTRA__IDEM_KEY_MAX 255

/* A key of 1 to 255 characters from A-Z a-z 0-9 _ - : . (others are
 * refused: idempotency_key_invalid, or the length/NULL errors of
 * constra__check_str with param "idempotency_key"). */
int constra__idem_check_key(const char *key, constra_error *e);

/* The request's fingerprint: HMAC-SHA256 under a fixed, versioned key of
 * its canonical form after normalisation (amount, agent policy, draft,
 * then currency, provider, phone, customer name, reference and
 * description, each prefixed by its length; with metadata, an eighth
 * field: the hex HMAC-SHA256 under the same key of its canonical text),
 * as 64 lower-case hex digits
 * and a NUL in `out`. Byte-stable across versions: a stored key is
 * compared with it. Returns 0, or -1 when the HMAC backend fails. */
int constra__idem_fingerprint(const struct constra_intent *in, int draft, char out[65]);

/* The answer to a request whose key is held by another, still running
 * request: CONSTRA_E_CONFLICT, 409 idempotent_request_in_flight. */
int constra__idem_in_flight(constra_error *e);

/*
 * Reserves rec->key (an IN_FLIGHT record, as storage.h's
 * idempotency_reserve takes it) at `now`. Returns CONSTRA_OK with *got
 * NULL when the key is the caller's: the request runs. Returns CONSTRA_OK
 * with *got set (owned by the caller, replayed) when the key answers for
 * itself: a completed request's response, or the intent a dead owner
 * created. Otherwise an error: 409 idempotency_key_reused (another
 * request's key), 409 idempotent_request_in_flight, or a storage error.
 */
int constra__idem_reserve(constra_t *h, const constra__res_idempotency *rec, int64_t now,
                          struct constra_intent **got, constra_error *e);

#endif
