/*
 * libconstra — the storage vtable (doc/DESIGN.md section 7).
 *
 * The engine persists intents, their events and idempotency records
 * through this table. Shipped implementations: memory (default, below),
 * SQLite and PostgreSQL (later). A host may supply its own (flash on a
 * terminal, its own database on a backend); tests/storage holds the
 * conformance suite every implementation must pass.
 *
 * The contract every implementation keeps:
 *   - commit() is atomic: the intent's new state, its events and the
 *     idempotency record are all written, or none is. It is guarded by the
 *     intent's version (compare-and-set): two writers can never both win.
 *   - idempotency_reserve() is an atomic insert-if-absent.
 *   - an idempotency key is linked to the intent it created in the very
 *     commit that inserts the intent (see constra_storage_write), and a
 *     linked key is never released: a key can create one intent only.
 *   - events are read back in commit order (by `sequence`), per intent and
 *     globally. Webhook delivery relies on this strictly: once a reader
 *     has seen sequence N, no event with a sequence below N may commit
 *     later (a database whose sequences can commit out of order, such as
 *     a PostgreSQL SEQUENCE under concurrent writers, must serialise event
 *     appends, or a cursor would step over the late one).
 *   - a failing call leaves the previous state intact.
 *
 * Data crosses the boundary as records of borrowed pointers: on writes the
 * library owns them for the duration of the call (copy what you keep); on
 * reads the storage passes each row to an `emit` callback, and the library
 * copies what it needs before emit returns. Nothing is allocated on one
 * side and freed on the other.
 *
 * Vtable rules as for constra_platform (platform.h): struct_size first,
 * CONSTRA_STORAGE_INIT / constra_storage_init(), copied when registered,
 * user_data first argument, destroy called exactly once.
 *
 * Threads: the engine may call any method from any thread that calls into
 * it, concurrently; an implementation serialises internally as it needs.
 * Methods must not call back into the engine.
 *
 * Status codes methods return: CONSTRA_OK; CONSTRA_E_NOT_FOUND;
 * CONSTRA_E_CONFLICT (version mismatch, duplicate id, key taken);
 * CONSTRA_E_NOMEM; CONSTRA_E_STORAGE for anything else (I/O, corruption).
 * Any other value is treated as CONSTRA_E_STORAGE.
 */
#ifndef CONSTRA_STORAGE_H
#define CONSTRA_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include "constra/error.h"
#include "constra/export.h"
#include "constra/platform.h"

CONSTRA_BEGIN_DECLS

/** Longest id, status, type or key a storage must be able to hold. */
#define CONSTRA_STORAGE_KEY_MAX 255

/** One payment intent as storage keeps it: the columns the engine
 *  searches by, plus its JSON document (opaque to storage). */
typedef struct constra_storage_intent {
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
} constra_storage_intent;

/** One event of an intent's timeline (or, with intent_id "", a callback
 *  kept for reconciliation that matched no intent). */
typedef struct constra_storage_event {
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
} constra_storage_event;

/** How long a storage keeps a provider callback that matched no intent
 *  (for reconciliation): 30 days. The engine also bounds how many it
 *  keeps (CONSTRA_UNMATCHED_CALLBACKS_PER_HOUR, intent.h). */
#define CONSTRA_STORAGE_UNMATCHED_RETENTION_MS INT64_C(2592000000)

/** States of an idempotency record. */
typedef enum constra_idempotency_state {
    /* Reserved, request running. With a non-empty `response` (0.2 on) the
     * record is *linked*: the request created the intent whose id the
     * response names ({"id":"pi_..."}, http_status 0), and the rest of
     * the request (the rail call, its outcome) may still be running. */
    CONSTRA_IDEMPOTENCY_IN_FLIGHT = 1,
    CONSTRA_IDEMPOTENCY_COMPLETED = 2  /* response stored for replay */
} constra_idempotency_state;

/** An idempotency record: the key, what request it was for, and (once
 *  linked or completed) its response. */
typedef struct constra_storage_idempotency {
    size_t struct_size;
    const char *key;
    const char *fingerprint;    /* hash of the canonical request */
    int state;                  /* constra_idempotency_state */
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
} constra_storage_idempotency;

/** One atomic write (see commit()). */
typedef struct constra_storage_write {
    size_t struct_size;
    /* The intent's new state, or NULL to append events only. */
    const constra_storage_intent *intent;
    /* 0: insert (CONSTRA_E_CONFLICT if the id exists); otherwise the
     * version the caller read: CONSTRA_E_CONFLICT unless it is current.
     * intent->version must be expected_version + 1. */
    int64_t expected_version;
    const constra_storage_event *events;
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
    const constra_storage_idempotency *idempotency;
} constra_storage_write;

/** Filters for list_intents(). Empty strings and zeros mean "any". */
typedef struct constra_storage_query {
    size_t struct_size;
    const char *status;
    const char *reference;
    int64_t created_from_ms;     /* inclusive; 0 = no lower bound */
    int64_t created_to_ms;       /* exclusive; 0 = no upper bound */
    const char *starting_after;  /* cursor: only ids strictly less than this */
    size_t limit;                /* at most this many rows (>= 1) */
} constra_storage_query;

/* Row sinks for reads: return 0 to go on, non-zero to stop early (the
 * read method then returns CONSTRA_OK). The row is valid only during the
 * call. */
typedef int (*constra_storage_intent_fn)(void *ctx, const constra_storage_intent *row);
typedef int (*constra_storage_event_fn)(void *ctx, const constra_storage_event *row);
typedef int (*constra_storage_idempotency_fn)(void *ctx, const constra_storage_idempotency *row);

/* ---- webhook delivery (webhook_delivery.h) ------------------------------------ */

/** Longest webhook URL, secret or event-type list a storage must hold. */
#define CONSTRA_STORAGE_TEXT_MAX 4096

/** A webhook endpoint. `cursor` is the sequence of the last event already
 *  considered for it: the engine derives deliveries from the durable
 *  event log (events with sequence > cursor), so an event committed with
 *  its transition can never be lost for an endpoint. */
typedef struct constra_storage_webhook_endpoint {
    size_t struct_size;
    const char *id;          /* "we_..." */
    const char *url;         /* at most CONSTRA_STORAGE_TEXT_MAX bytes */
    const char *secret;      /* at most CONSTRA_STORAGE_TEXT_MAX bytes */
    const char *event_types; /* "*" or a comma-separated list of types */
    int enabled;             /* 1 or 0 */
    int64_t created_at_ms;
    int64_t updated_at_ms;
    int64_t cursor;  /* set by the storage on insert; moved by webhook_enqueue */
    int64_t version; /* 1 when inserted, +1 per update */
    /* The endpoint's settings that storages need not understand (its
     * description and signature scheme, and any later one): a JSON object
     * the engine writes and reads back, kept as given; at most
     * CONSTRA_STORAGE_TEXT_MAX bytes. "" for none (rows written before
     * this field existed read back as ""). Added in 0.2: a row the engine
     * passes always has it; an insert or update whose struct_size ends
     * before it is refused. */
    const char *attributes;
} constra_storage_webhook_endpoint;

/** One event to deliver to one endpoint, and its attempts so far. */
typedef struct constra_storage_delivery {
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
    const char *last_error;  /* "" when none; at most CONSTRA_STORAGE_KEY_MAX */
    int64_t next_attempt_at_ms; /* pending: due from this time on */
    int64_t created_at_ms;
    int64_t updated_at_ms;
    int64_t version;         /* 1 when enqueued, +1 per update */
    const char *body;        /* the exact bytes POSTed, not NUL-terminated */
    size_t body_len;
    const char *log;         /* the engine's attempt log (JSON), opaque */
    size_t log_len;
} constra_storage_delivery;

/** Filters for webhook_delivery_list(). NULL or "" and 0 mean "any". */
typedef struct constra_storage_delivery_query {
    size_t struct_size;
    const char *id;
    const char *endpoint_id;
    const char *state;
    int64_t due_at_ms;          /* > 0: only next_attempt_at_ms <= this */
    const char *starting_after; /* cursor: only ids strictly greater */
    size_t limit;               /* at most this many rows (>= 1) */
} constra_storage_delivery_query;

/** Value sink of the workspace metadata methods (below): `value` is
 *  NUL-terminated and valid only during the call. Return 0. */
typedef int (*constra_storage_meta_fn)(void *ctx, const char *value);

typedef int (*constra_storage_endpoint_fn)(void *ctx, const constra_storage_webhook_endpoint *row);
typedef int (*constra_storage_delivery_fn)(void *ctx, const constra_storage_delivery *row);

typedef struct constra_storage {
    size_t struct_size;
    void *user_data;

    /** Atomically: insert or compare-and-set the intent, append the events
     *  (assigning their sequence numbers), complete the idempotency record.
     *  All or nothing. */
    int (*commit)(void *user_data, const constra_storage_write *write);

    /** Emits the intent with this id once, or returns CONSTRA_E_NOT_FOUND. */
    int (*get_intent)(void *user_data, const char *id, constra_storage_intent_fn emit,
                      void *ctx);

    /** Emits the intent whose checkout_request_id is this one NOW OR EVER
     *  WAS (since 0.2: every attempt's provider request id stays findable
     *  for the life of the intent, so a late result for a superseded
     *  attempt still reaches it), or CONSTRA_E_NOT_FOUND. A checkout id
     *  belongs to one intent forever: commit() of another intent with it
     *  is CONSTRA_E_CONFLICT. */
    int (*find_by_checkout)(void *user_data, const char *checkout_request_id,
                            constra_storage_intent_fn emit, void *ctx);

    /** Emits matching intents newest first (by id, descending: ids sort by
     *  creation time), at most query->limit of them. */
    int (*list_intents)(void *user_data, const constra_storage_query *query,
                        constra_storage_intent_fn emit, void *ctx);

    /** Emits events with sequence > after_sequence in commit order, at most
     *  `limit`; only those of `intent_id` unless it is NULL (all events,
     *  including unmatched callbacks when intent_id is ""). */
    int (*list_events)(void *user_data, const char *intent_id, int64_t after_sequence,
                       size_t limit, constra_storage_event_fn emit, void *ctx);

    /** Atomic insert-if-absent of an IN_FLIGHT record (empty response,
     *  http_status 0; created_at_ms, expires_at_ms and lease_expires_at_ms
     *  as given). A record whose expires_at_ms <= now_ms counts as
     *  absent, and so does an IN_FLIGHT one whose lease_expires_at_ms <=
     *  now_ms: both are replaced. Returns CONSTRA_OK when reserved;
     *  otherwise emits the live record, every field as stored (the
     *  response of a linked IN_FLIGHT record included), and returns
     *  CONSTRA_E_CONFLICT. */
    int (*idempotency_reserve)(void *user_data, const constra_storage_idempotency *record,
                               int64_t now_ms, constra_storage_idempotency_fn emit, void *ctx);

    /** The idempotency member of commit() alone, when no intent changes
     *  with it: the engine completes a linked key whose owner is gone
     *  with the intent's current state. Same rules and errors. */
    int (*idempotency_complete)(void *user_data, const constra_storage_idempotency *record);

    /** Drops an IN_FLIGHT reservation (a 5xx, or a failure before commit)
     *  so a retry runs afresh. Only if its fingerprint matches and it is
     *  not linked (a linked key names an intent that exists: dropping it
     *  would let a retry create a second one and push again); otherwise,
     *  or for a missing key, nothing changes and CONSTRA_OK is returned. */
    int (*idempotency_release)(void *user_data, const char *key, const char *fingerprint);

    /** Optional: deletes idempotency records expired at now_ms, and
     *  unmatched callbacks (events with intent_id "") older than
     *  CONSTRA_STORAGE_UNMATCHED_RETENTION_MS. The memory storage keeps
     *  them for its lifetime (within the engine's rate bound). */
    int (*purge_expired)(void *user_data, int64_t now_ms);

    /** Optional: called exactly once when the last user drops the copy. */
    void (*destroy)(void *user_data);
    /* ---- webhook delivery: optional as a group (all seven or none; a
     * storage without them makes the webhook calls CONSTRA_E_UNSUPPORTED).
     * Rows are emitted by id ascending. */

    /** Inserts an endpoint (version must be 1; CONSTRA_E_CONFLICT if the id
     *  exists). In the same transaction the storage sets its cursor to the
     *  sequence of the last event stored so far (0 if none), ignoring
     *  record->cursor: the endpoint receives events committed after it. */
    int (*webhook_endpoint_insert)(void *user_data, const constra_storage_webhook_endpoint *ep);

    /** Compare-and-set update of url, secret, event_types, enabled and
     *  updated_at_ms (never the cursor). CONSTRA_E_NOT_FOUND if absent,
     *  CONSTRA_E_CONFLICT unless the stored version is expected_version;
     *  ep->version must be expected_version + 1. */
    int (*webhook_endpoint_update)(void *user_data, const constra_storage_webhook_endpoint *ep,
                                   int64_t expected_version);

    /** Deletes an endpoint and all its deliveries, atomically.
     *  CONSTRA_E_NOT_FOUND if absent. */
    int (*webhook_endpoint_delete)(void *user_data, const char *id);

    /** Emits every endpoint. */
    int (*webhook_endpoint_list)(void *user_data, constra_storage_endpoint_fn emit, void *ctx);

    /** Atomically: moves the endpoint's cursor from expected_cursor to
     *  new_cursor (>= expected_cursor) and inserts the deliveries (each
     *  with this endpoint_id, version 1). CONSTRA_E_NOT_FOUND if the
     *  endpoint is gone; CONSTRA_E_CONFLICT if its cursor moved, or a
     *  delivery id or (endpoint, event) pair exists. All or nothing. */
    int (*webhook_enqueue)(void *user_data, const char *endpoint_id, int64_t expected_cursor,
                           int64_t new_cursor, const constra_storage_delivery *deliveries,
                           size_t count);

    /** Emits matching deliveries, at most query->limit. */
    int (*webhook_delivery_list)(void *user_data, const constra_storage_delivery_query *query,
                                 constra_storage_delivery_fn emit, void *ctx);

    /** Compare-and-set update of state, attempts, last_status, last_error,
     *  next_attempt_at_ms, updated_at_ms and log (the rest never changes).
     *  CONSTRA_E_NOT_FOUND if absent; CONSTRA_E_CONFLICT unless the stored
     *  version is expected_version; d->version must be expected + 1. */
    int (*webhook_delivery_update)(void *user_data, const constra_storage_delivery *d,
                                   int64_t expected_version);

    /* ---- workspace metadata (appended in 0.2): optional as a pair (both
     * or neither; constra_storage_check() refuses one alone). A few
     * key/value texts that describe the data as a whole. constra_open()
     * records "mode" ("sandbox" or "live") and "workspace_id" ("ws_...")
     * the first time a handle opens the storage, and refuses a handle of
     * the other mode from then on (`workspace_mode_mismatch`, handle.h).
     * A storage without the pair is not checked: nothing stops a sandbox
     * handle from reading live data on it, so give shared storages the
     * pair. Keys are 1 to CONSTRA_STORAGE_KEY_MAX bytes, values 0 to
     * CONSTRA_STORAGE_KEY_MAX bytes, both NUL-terminated text. Entries
     * are never changed or deleted through the vtable. */

    /** Emits the value stored under `key` once (emit(ctx, value), the
     *  value NUL-terminated and valid during the call) and returns
     *  CONSTRA_OK, or returns CONSTRA_E_NOT_FOUND. */
    int (*meta_get)(void *user_data, const char *key, constra_storage_meta_fn emit, void *ctx);

    /** Atomic insert-if-absent: stores `value` under `key` and returns
     *  CONSTRA_OK when the key has no value; otherwise changes nothing,
     *  emits the stored value (when emit is not NULL) and returns
     *  CONSTRA_E_CONFLICT. Two processes racing on one key: exactly one
     *  stores, the other is told the winner's value. */
    int (*meta_put_if_absent)(void *user_data, const char *key, const char *value,
                              constra_storage_meta_fn emit, void *ctx);
    /* New members are appended here. */
} constra_storage;

#define CONSTRA_STORAGE_INIT { sizeof(constra_storage), NULL, NULL, NULL, NULL, NULL, NULL, \
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL }

/** Run-time initialiser (FFI): zero-fills and sets struct_size. Returns
 *  CONSTRA_OK, CONSTRA_E_INVALID_ARGUMENT (NULL) or CONSTRA_E_ABI. */
CONSTRA_API int constra_storage_init(constra_storage *storage, size_t struct_size);

/**
 * Checks a storage vtable as constra_open() will: struct_size, every
 * required method (all but purge_expired, destroy and the optional
 * groups) present, and each optional group (webhooks, workspace
 * metadata) complete or absent. Returns
 * CONSTRA_OK or the error, `err` naming the member. Thread-safe.
 */
CONSTRA_API int constra_storage_check(const constra_storage *storage, constra_error *err);

/**
 * Fills `out` with the in-memory storage: fast, thread-safe, gone when
 * destroyed. `platform` (may be NULL: POSIX defaults; copied) supplies its
 * allocator and mutex. On success the caller owns `out`: hand it to a
 * config (which copies it and will call destroy) or call
 * out->destroy(out->user_data) itself. `out` must be initialised
 * (CONSTRA_STORAGE_INIT). Errors: CONSTRA_E_INVALID_ARGUMENT,
 * CONSTRA_E_ABI, CONSTRA_E_NOMEM, CONSTRA_E_PLATFORM.
 */
CONSTRA_API int constra_storage_memory(constra_storage *out, const constra_platform *platform,
                                       constra_error *err);

CONSTRA_END_DECLS

#endif /* CONSTRA_STORAGE_H */
