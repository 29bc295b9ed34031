/*
 * Internal: the engine's resource table (until 0.2 this was the public
 * storage vtable, include/constra/storage.h before storage 2).
 *
 * The engine reads and writes intents, their events, idempotency
 * reservations, webhook endpoints and deliveries and the workspace
 * metadata through this table. Since storage 2 there is one
 * implementation, lib/storage/on_records.c (constra__res_open), which keeps
 * every resource as records of a kind in whatever generic storage the
 * host gave (storage.h: memory, SQLite, PostgreSQL or its own): so a new
 * resource is new code here and in on_records.c, never a new member of
 * the host's vtable. The table stays a vtable, not direct calls, because
 * the adapter's contract below is exactly what tests/storage/conformance.c
 * proves case by case.
 *
 * The contract the adapter keeps:
 *   - commit() is atomic: the intent's new state, its events and the
 *     idempotency record are all written, or none is. It is guarded by the
 *     intent's version (compare-and-set): two writers can never both win.
 *   - idempotency_reserve() is an atomic insert-if-absent.
 *   - an idempotency key is linked to the intent it created in the very
 *     commit that inserts the intent (see constra__res_write), and a
 *     linked key is never released: a key can create one intent only.
 *   - events are read back in commit order (by `sequence`), per intent and
 *     globally; once a reader has seen sequence N, no event below N may
 *     commit later (storage.h's guarantee, which webhook delivery needs).
 *   - a failing call leaves the previous state intact.
 * Data crosses as borrowed pointers (copied by the callee on writes,
 * passed to `emit` callbacks on reads). Status codes as in storage.h.
 */
#ifndef CONSTRA_STORAGE_RESOURCES_H
#define CONSTRA_STORAGE_RESOURCES_H

#include <stddef.h>
#include <stdint.h>

#include "constra/error.h"
#include "constra/platform.h"
#include "constra/storage.h"

/** Longest id, status, type or key a storage must be able to hold. */
#define CONSTRA__RES_KEY_MAX 255

/** One payment intent as storage keeps it: the columns the engine
 *  searches by, plus its JSON document (opaque to storage). */
typedef struct constra__res_intent {
    size_t struct_size;
    const char *id;                  /* "pi_..."; sorts by creation time */
    const char *status;              /* "pending_user_action", ... */
    const char *reference;           /* merchant reference, "" if none */
    const char *checkout_request_id; /* provider's id, "" if none yet */
    int64_t created_at_ms;
    int64_t updated_at_ms;
    int64_t version;                 /* 1 when inserted, +1 per commit */
    const char *document;            /* UTF-8 JSON, not NUL-terminated */
    size_t document_len;
    /* When the engine's tick must next look at the intent (a time-out, an
     * automatic retry), 0 for never; list_due() finds it from then on.
     * Read back as stored: 0 for a row written without one (by 0.2). */
    int64_t due_at_ms;
} constra__res_intent;

/* Sink of list_due(): an intent due at due_at_ms; `cursor` (valid during
 * the call) continues the listing after it. Return 0 to go on. */
typedef int (*constra__res_due_fn)(void *ctx, const char *cursor, const char *intent_id,
                                   int64_t due_at_ms);

/** One event of an intent's timeline (or, with intent_id "", a callback
 *  kept for reconciliation that matched no intent). */
typedef struct constra__res_event {
    size_t struct_size;
    const char *id;        /* "evt_..." */
    const char *intent_id; /* "" for an unmatched callback */
    const char *type;      /* "payment_intent.created", ... */
    int64_t created_at_ms;
    /* Commit order, assigned by the storage: strictly increasing across
     * all events of one storage. Ignored on write. */
    int64_t sequence;
    const char *document;  /* UTF-8 JSON, not NUL-terminated */
    size_t document_len;
} constra__res_event;

/** How long a storage keeps a provider callback that matched no intent
 *  (for reconciliation): 30 days. The engine also bounds how many it
 *  keeps (CONSTRA_UNMATCHED_CALLBACKS_PER_HOUR, intent.h). */
#define CONSTRA_UNMATCHED_RETENTION_MS INT64_C(2592000000)

/** States of an idempotency record. */
typedef enum constra__idempotency_state {
    /* Reserved, request running. With a non-empty `response` (0.2 on) the
     * record is *linked*: the request created the intent whose id the
     * response names ({"id":"pi_..."}, http_status 0), and the rest of
     * the request (the rail call, its outcome) may still be running. */
    CONSTRA__IDEM_IN_FLIGHT = 1,
    CONSTRA__IDEM_COMPLETED = 2  /* response stored for replay */
} constra__idempotency_state;

/** An idempotency record: the key, what request it was for, and (once
 *  linked or completed) its response. */
typedef struct constra__res_idempotency {
    size_t struct_size;
    const char *key;
    const char *fingerprint;    /* hash of the canonical request */
    int state;                  /* constra__idempotency_state */
    int http_status;            /* COMPLETED: the stored response's status;
                                   0 for a link */
    const char *response;       /* COMPLETED: the body to replay; IN_FLIGHT:
                                   empty, or the link; not NUL-terminated */
    size_t response_len;
    int64_t created_at_ms;      /* when reserved (the engine's lease starts) */
    int64_t expires_at_ms;      /* record is dead (absent) from this time on */
    /* IN_FLIGHT: the storage itself treats the reservation as abandoned
     * (absent) from this time on. The engine (0.2 on) reserves with
     * lease_expires_at_ms = expires_at_ms + 1, so a storage never takes a
     * reservation over before it expires: the engine decides, from
     * created_at_ms, its own lease and the link. A record whose
     * lease_expires_at_ms is not past expires_at_ms was reserved by an
     * engine that did not link (0.1); the engine treats it as possibly
     * owning an intent. Storages keep the value exactly as given. */
    int64_t lease_expires_at_ms;
} constra__res_idempotency;

/** One atomic write (see commit()). */
typedef struct constra__res_write {
    size_t struct_size;
    /* The intent's new state, or NULL to append events only. */
    const constra__res_intent *intent;
    /* 0: insert (CONSTRA_E_CONFLICT if the id exists); otherwise the
     * version the caller read: CONSTRA_E_CONFLICT unless it is current.
     * intent->version must be expected_version + 1. */
    int64_t expected_version;
    const constra__res_event *events;
    size_t event_count;
    /* Optional: update this idempotency record in the same transaction,
     * by `state`:
     *   - COMPLETED: the stored record becomes COMPLETED with this
     *     http_status, response and expires_at_ms. Only if it is IN_FLIGHT
     *     (linked or not) with the same fingerprint.
     *   - IN_FLIGHT, with a non-empty response: links the key (the
     *     engine's first commit of a new intent). The record stays
     *     IN_FLIGHT and takes this http_status, response and
     *     expires_at_ms. Only if it is IN_FLIGHT with the same fingerprint
     *     and not yet linked (empty response): a key links once.
     * Otherwise CONSTRA_E_CONFLICT and nothing of the write is applied.
     * Any other state, or a link with an empty response:
     * CONSTRA_E_INVALID_ARGUMENT. key, fingerprint, created_at_ms and
     * lease_expires_at_ms of the stored record never change. */
    const constra__res_idempotency *idempotency;
    /* Non-zero: `idempotency` is not an update but the reservation itself,
     * inserted in this commit exactly as given (the key must have no live
     * record: a record past its expiry, or IN_FLIGHT past its lease, is
     * dead and replaced, judged at idempotency->created_at_ms; otherwise
     * CONSTRA_E_CONFLICT and nothing is written). A new intent's first
     * commit then reserves its key and records the attempt as "sending"
     * in one durable write. Requires an intent insert (expected 0). */
    int idempotency_insert;
} constra__res_write;

/** Filters for list_intents(). Empty strings and zeros mean "any". */
typedef struct constra__res_query {
    size_t struct_size;
    const char *status;
    const char *reference;
    int64_t created_from_ms;     /* inclusive; 0 = no lower bound */
    int64_t created_to_ms;       /* exclusive; 0 = no upper bound */
    const char *starting_after;  /* cursor: only ids strictly less than this */
    size_t limit;                /* at most this many rows (>= 1) */
} constra__res_query;

/* Row sinks for reads: return 0 to go on, non-zero to stop early (the
 * read method then returns CONSTRA_OK). The row is valid only during the
 * call. */
typedef int (*constra__res_intent_fn)(void *ctx, const constra__res_intent *row);
typedef int (*constra__res_event_fn)(void *ctx, const constra__res_event *row);
typedef int (*constra__res_idempotency_fn)(void *ctx, const constra__res_idempotency *row);

/* ---- webhook delivery (webhook_delivery.h) ------------------------------------ */

/** Longest webhook URL, secret or event-type list a storage must hold. */
#define CONSTRA__RES_TEXT_MAX 4096

/** A webhook endpoint. `cursor` is the sequence of the last event already
 *  considered for it: the engine derives deliveries from the durable
 *  event log (events with sequence > cursor), so an event committed with
 *  its transition can never be lost for an endpoint. */
typedef struct constra__res_endpoint {
    size_t struct_size;
    const char *id;          /* "we_..." */
    const char *url;         /* at most CONSTRA__RES_TEXT_MAX bytes */
    const char *secret;      /* at most CONSTRA__RES_TEXT_MAX bytes */
    const char *event_types; /* "*" or a comma-separated list of types */
    int enabled;             /* 1 or 0 */
    int64_t created_at_ms;
    int64_t updated_at_ms;
    int64_t cursor;  /* set by the storage on insert; moved by webhook_enqueue */
    int64_t version; /* 1 when inserted, +1 per update */
    /* The endpoint's settings that storages need not understand (its
     * description and signature scheme, and any later one): a JSON object
     * the engine writes and reads back, kept as given; at most
     * CONSTRA__RES_TEXT_MAX bytes. "" for none (rows written before
     * this field existed read back as ""). Added in 0.2: a row the engine
     * passes always has it; an insert or update whose struct_size ends
     * before it is refused. */
    const char *attributes;
} constra__res_endpoint;

/** One event to deliver to one endpoint, and its attempts so far. */
typedef struct constra__res_delivery {
    size_t struct_size;
    const char *id;          /* "whd_...": one per (endpoint, event), kept
                                across retries and replays */
    const char *endpoint_id;
    const char *event_id;
    const char *event_type;
    int64_t event_sequence;
    const char *state;       /* "pending", "delivered", "failed" */
    int attempts;            /* attempts made (>= 0) */
    int last_status;         /* HTTP status of the last attempt; 0 none */
    const char *last_error;  /* "" when none; at most CONSTRA__RES_KEY_MAX */
    int64_t next_attempt_at_ms; /* pending: due from this time on */
    int64_t created_at_ms;
    int64_t updated_at_ms;
    int64_t version;         /* 1 when enqueued, +1 per update */
    const char *body;        /* the exact bytes POSTed, not NUL-terminated */
    size_t body_len;
    const char *log;         /* the engine's attempt log (JSON), opaque */
    size_t log_len;
} constra__res_delivery;

/** Filters for webhook_delivery_list(). NULL or "" and 0 mean "any". */
typedef struct constra__res_delivery_query {
    size_t struct_size;
    const char *id;
    const char *endpoint_id;
    const char *state;
    int64_t due_at_ms;          /* > 0: only next_attempt_at_ms <= this */
    const char *starting_after; /* cursor: only ids strictly greater */
    size_t limit;               /* at most this many rows (>= 1) */
    /* The due listing: with state "pending", due_at_ms > 0 and neither id
     * nor endpoint_id, rows come by next_attempt_at_ms, then id (the due
     * index: what is due, not everything pending), and the cursor is the
     * last row emitted: (after_due_ms, starting_after). */
    int64_t after_due_ms;
} constra__res_delivery_query;

/** Value sink of the workspace metadata methods (below): `value` is
 *  NUL-terminated and valid only during the call. Return 0. */
typedef int (*constra__res_meta_fn)(void *ctx, const char *value);

typedef int (*constra__res_endpoint_fn)(void *ctx, const constra__res_endpoint *row);
typedef int (*constra__res_delivery_fn)(void *ctx, const constra__res_delivery *row);

typedef struct constra__res_table {
    size_t struct_size;
    void *user_data;

    /** Atomically: insert or compare-and-set the intent, append the events
     *  (assigning their sequence numbers), complete the idempotency record.
     *  All or nothing. */
    int (*commit)(void *user_data, const constra__res_write *write);

    /** Emits the intent with this id once, or returns CONSTRA_E_NOT_FOUND. */
    int (*get_intent)(void *user_data, const char *id, constra__res_intent_fn emit,
                      void *ctx);

    /** Emits the intent whose checkout_request_id is this one NOW OR EVER
     *  WAS (since 0.2: every attempt's provider request id stays findable
     *  for the life of the intent, so a late result for a superseded
     *  attempt still reaches it), or CONSTRA_E_NOT_FOUND. A checkout id
     *  belongs to one intent forever: commit() of another intent with it
     *  is CONSTRA_E_CONFLICT. */
    int (*find_by_checkout)(void *user_data, const char *checkout_request_id,
                            constra__res_intent_fn emit, void *ctx);

    /** Emits the intents whose due_at_ms is at most until_ms, earliest
     *  first, at most `limit`, continuing after `cursor` (NULL: from the
     *  start): the tick's work, found by an index, so that it costs what
     *  is due, not what is stored. */
    int (*list_due)(void *user_data, int64_t until_ms, const char *cursor, size_t limit,
                    constra__res_due_fn emit, void *ctx);

    /** Emits matching intents newest first (by id, descending: ids sort by
     *  creation time), at most query->limit of them. */
    int (*list_intents)(void *user_data, const constra__res_query *query,
                        constra__res_intent_fn emit, void *ctx);

    /** Emits events with sequence > after_sequence in commit order, at most
     *  `limit`; only those of `intent_id` unless it is NULL (all events,
     *  including unmatched callbacks when intent_id is ""). */
    int (*list_events)(void *user_data, const char *intent_id, int64_t after_sequence,
                       size_t limit, constra__res_event_fn emit, void *ctx);

    /** Atomic insert-if-absent of an IN_FLIGHT record (empty response,
     *  http_status 0; created_at_ms, expires_at_ms and lease_expires_at_ms
     *  as given). A record whose expires_at_ms <= now_ms counts as
     *  absent, and so does an IN_FLIGHT one whose lease_expires_at_ms <=
     *  now_ms: both are replaced. Returns CONSTRA_OK when reserved;
     *  otherwise emits the live record, every field as stored (the
     *  response of a linked IN_FLIGHT record included), and returns
     *  CONSTRA_E_CONFLICT. */
    int (*idempotency_reserve)(void *user_data, const constra__res_idempotency *record,
                               int64_t now_ms, constra__res_idempotency_fn emit, void *ctx);

    /** The idempotency member of commit() alone, when no intent changes
     *  with it: the engine completes a linked key whose owner is gone
     *  with the intent's current state. Same rules and errors. */
    int (*idempotency_complete)(void *user_data, const constra__res_idempotency *record);

    /** Drops an IN_FLIGHT reservation (a 5xx, or a failure before commit)
     *  so a retry runs afresh. Only the reservation the caller saw: its
     *  fingerprint and created_at_ms match, and it is not linked (a linked
     *  key names an intent that exists: dropping it would let a retry
     *  create a second one and push again). A caller that read an
     *  abandoned reservation must not drop the fresh one another request
     *  made in its place meanwhile: both would then run, and push twice.
     *  Otherwise, or for a missing key, nothing changes and CONSTRA_OK is
     *  returned. */
    int (*idempotency_release)(void *user_data, const char *key, const char *fingerprint,
                               int64_t created_at_ms);

    /** Takes over an abandoned reservation: replaces the stored record of
     *  fresh->key by `fresh` (a new IN_FLIGHT reservation, as reserve
     *  writes it) only if the stored one is the reservation the caller
     *  saw: IN_FLIGHT, not linked, the same fingerprint, created at
     *  seen_created_at_ms. One compare-and-set on its version: of several
     *  requests taking over one key, exactly one gets CONSTRA_OK, the
     *  others CONSTRA_E_CONFLICT (as for a key that changed otherwise).
     *  Never a delete then an insert: a version, once used, is never used
     *  again by that key, so no stale compare-and-set can match a newer
     *  reservation. CONSTRA_E_NOT_FOUND when the key has no record. */
    int (*idempotency_take_over)(void *user_data, const constra__res_idempotency *fresh,
                                 int64_t seen_created_at_ms);

    /** Deletes idempotency records expired at now_ms, and unmatched
     *  callbacks (events with intent_id "") older than
     *  CONSTRA_UNMATCHED_RETENTION_MS: a bounded batch per call. */
    int (*purge_expired)(void *user_data, int64_t now_ms);

    /** Called exactly once, when the handle closes. */
    void (*destroy)(void *user_data);
    /* ---- workspace metadata. A few key/value texts that describe the
     * data as a whole. constra_open() records "mode" ("sandbox" or
     * "live") and "workspace_id" ("ws_...") the first time a handle opens
     * the storage, and refuses a handle of the other mode from then on
     * (`workspace_mode_mismatch`, handle.h). Keys are 1 to CONSTRA__RES_KEY_MAX bytes, values 0 to
     * CONSTRA__RES_KEY_MAX bytes, both NUL-terminated text. Entries
     * are never changed or deleted through the vtable. */

    /** Emits the value stored under `key` once (emit(ctx, value), the
     *  value NUL-terminated and valid during the call) and returns
     *  CONSTRA_OK, or returns CONSTRA_E_NOT_FOUND. */
    int (*meta_get)(void *user_data, const char *key, constra__res_meta_fn emit, void *ctx);

    /** Atomic insert-if-absent: stores `value` under `key` and returns
     *  CONSTRA_OK when the key has no value; otherwise changes nothing,
     *  emits the stored value (when emit is not NULL) and returns
     *  CONSTRA_E_CONFLICT. Two processes racing on one key: exactly one
     *  stores, the other is told the winner's value. */
    int (*meta_put_if_absent)(void *user_data, const char *key, const char *value,
                              constra__res_meta_fn emit, void *ctx);
} constra__res_table;

/* ---- webhook delivery: functions, not members, so that an image that
 * sends no webhooks (the firmware profile) links none of it. Rows are
 * emitted by id ascending. */

/** Inserts an endpoint (version must be 1; CONSTRA_E_CONFLICT if the id
 *  exists). In the same transaction the storage sets its cursor to the
 *  sequence of the last event stored so far (0 if none), ignoring
 *  record->cursor: the endpoint receives events committed after it. */
int constra__res_endpoint_insert(const constra__res_table *t, const constra__res_endpoint *ep);

/** Compare-and-set update of url, secret, event_types, enabled and
 *  updated_at_ms (never the cursor). CONSTRA_E_NOT_FOUND if absent,
 *  CONSTRA_E_CONFLICT unless the stored version is expected_version;
 *  ep->version must be expected_version + 1. */
int constra__res_endpoint_update(const constra__res_table *t, const constra__res_endpoint *ep,
                                 int64_t expected_version);

/** Deletes an endpoint and all its deliveries, atomically.
 *  CONSTRA_E_NOT_FOUND if absent. */
int constra__res_endpoint_delete(const constra__res_table *t, const char *id);

/** Emits every endpoint. */
int constra__res_endpoint_list(const constra__res_table *t, constra__res_endpoint_fn emit,
                               void *ctx);

/** Atomically: moves the endpoint's cursor from expected_cursor to
 *  new_cursor (>= expected_cursor) and inserts the deliveries (each
 *  with this endpoint_id, version 1). CONSTRA_E_NOT_FOUND if the
 *  endpoint is gone; CONSTRA_E_CONFLICT if its cursor moved, or a
 *  delivery id or (endpoint, event) pair exists. All or nothing. */
int constra__res_enqueue(const constra__res_table *t, const char *endpoint_id,
                         int64_t expected_cursor, int64_t new_cursor,
                         const constra__res_delivery *deliveries, size_t count);

/** Emits matching deliveries, at most query->limit: by id, or for the due
 *  listing (constra__res_delivery_query) by due time. */
int constra__res_delivery_list(const constra__res_table *t,
                               const constra__res_delivery_query *query,
                               constra__res_delivery_fn emit, void *ctx);

/** Compare-and-set update of state, attempts, last_status, last_error,
 *  next_attempt_at_ms, updated_at_ms and log (the rest never changes).
 *  CONSTRA_E_NOT_FOUND if absent; CONSTRA_E_CONFLICT unless the stored
 *  version is expected_version; d->version must be expected + 1. */
int constra__res_delivery_update(const constra__res_table *t, const constra__res_delivery *d,
                                 int64_t expected_version);

/** Gives every pending delivery written before the due index its due
 *  entry (a storage of 0.2's generic kind), once per storage: a "meta"
 *  record marks it done. Safe beside other processes. */
int constra__res_reindex_deliveries(const constra__res_table *t);

/* A non-NULL id, status, type or key of at most CONSTRA__RES_KEY_MAX bytes. */
int constra__res_valid_text(const char *t);

/* A usable idempotency record: non-empty key and fingerprint, response
 * length consistent with its pointer. */
int constra__res_idem_valid(const constra__res_idempotency *r);

/* CONSTRA_OK, or CONSTRA_E_INVALID_ARGUMENT for a write no storage may
 * accept (missing intent fields, an event without id). */
int constra__res_check_write(const constra__res_write *w);

/* A metadata key (1 to CONSTRA__RES_KEY_MAX bytes); and with a value
 * (0 to CONSTRA__RES_KEY_MAX bytes). */
int constra__res_meta_key_valid(const char *key);
int constra__res_meta_put_valid(const char *key, const char *value);

/* Usable webhook records: ids and texts within bounds, a known state,
 * consistent lengths. */
int constra__res_endpoint_valid(const constra__res_endpoint *ep);
int constra__res_delivery_valid(const constra__res_delivery *d);
int constra__res_delivery_query_valid(const constra__res_delivery_query *q);

/* The one definition of which rows a delivery query selects. */
int constra__res_delivery_matches(const constra__res_delivery_query *q, const char *id,
                                  const char *endpoint_id, const char *state,
                                  int64_t next_attempt_at_ms);

/*
 * Fills `out` with the resource table over `storage` (storage.h), which is
 * taken over: on success its destroy is called when out's destroy is; on
 * failure the caller keeps it. `platform` (NULL: defaults) supplies the
 * allocator. Errors: CONSTRA_E_INVALID_ARGUMENT (a method missing: err
 * names it), CONSTRA_E_NOMEM, CONSTRA_E_PLATFORM.
 */
int constra__res_open(constra__res_table *out, const constra_platform *platform,
                      const constra_storage *storage, constra_error *err);

/* Whether out's destroy also destroys the storage it was opened on (1,
 * the default) or leaves it to its owner (0). */
void constra__res_own(const constra__res_table *t, int own);

#endif /* CONSTRA_STORAGE_RESOURCES_H */
