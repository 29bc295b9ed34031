/*
 * libconstra — the storage contract (doc/DESIGN.md section 7).
 *
 * Storage keeps records of a *kind* (intent, idempotency, webhook
 * endpoint, delivery, and every later kind: payout, refund, ledger entry,
 * key) without knowing them: an id, a version, opaque document bytes and
 * a few secondary index entries the engine chooses, written several at a
 * time in one atomic commit together with the events of the change. A new
 * resource is a new kind, never a new member, so a host implements this
 * table once, in an afternoon, as SQLite's VFS and libgit2's ODB backends
 * are implemented once. Shipped: memory (below; the default),
 * SQLite (storage_sqlite.h) and PostgreSQL (below). Every implementation
 * must pass tests/storage/record_conformance.c.
 *
 * What changed in 0.3 (soname 0 allows the break): until 0.2,
 * constra_storage was a table of 21 resource-specific members
 * (get_intent, find_by_checkout, list_intents, idempotency_*,
 * webhook_endpoint_*, webhook_delivery_*, meta_*), each of which every
 * host storage had to implement again. It is now this generic table of
 * five methods (commit, get, scan, events, purge) and destroy; how the
 * engine keeps its resources in records is its own business
 * (lib/storage/on_records.c). A host storage written for 0.2 no longer
 * fits: constra_open() refuses it (its struct_size is larger than this
 * table's and its tail is not zero: CONSTRA_E_ABI, param
 * "config.storage"). Files written by the 0.1 and 0.2 SQLite storage are
 * migrated in place when opened (storage_sqlite.h).
 *
 * ---- The model ----------------------------------------------------------
 *
 * A record is (kind, id) -> version, expires_at_ms, document, keys.
 *   - kind: 1 to CONSTRA_RECORD_NAME_MAX bytes of [a-z0-9_] ("intent",
 *     "idempotency", "webhook_endpoint", ...). Kinds are separate
 *     namespaces: the same id may exist in two kinds.
 *   - id: 1 to CONSTRA_RECORD_VALUE_MAX bytes of text without NUL.
 *   - version: 1 when inserted, +1 per write; compare-and-set guards
 *     every write and delete.
 *   - expires_at_ms: 0 for never; otherwise from that instant on the
 *     record is dead: get() and scan() do not see it, an insert may take
 *     its place, and purge() may delete it. (Idempotency keys, leases and
 *     kept-for-a-while data use this instead of members of their own.)
 *   - document: opaque bytes (the engine writes JSON), 0 to at least
 *     CONSTRA_RECORD_DOCUMENT_MIN_MAX bytes; stored and returned exactly.
 *   - keys: 0 to CONSTRA_RECORD_KEYS_MAX secondary index entries, each an
 *     (index, value) pair: index 1 to CONSTRA_RECORD_NAME_MAX bytes of
 *     [a-z0-9_], value 0 to CONSTRA_RECORD_VALUE_MAX bytes without NUL.
 *     One record may have several entries in one index (every provider
 *     request id an intent ever had). An entry marked `unique` may be held
 *     by one live record of the kind only (per index and value). Values
 *     compare as bytes (memcmp, a prefix first), so the engine builds
 *     ordered keys that sort as text: "pending_user_action|0001764239894625".
 *
 * An event is (sequence, stream, id, type, created_at_ms, expires_at_ms,
 * document), appended by a commit. Sequences are assigned by the store,
 * strictly increasing across the whole store in commit order: once a
 * reader has seen sequence N, no event below N may commit later (webhook
 * delivery walks the log by cursor and would step over a late one).
 * Stream: the record the event is about (an intent id), "" for none.
 *
 * ---- The guarantees -----------------------------------------------------
 *
 *   - commit() is atomic and isolated: every operation and every event of
 *     it is applied, or none is, and no reader ever sees part of one.
 *   - Each operation states the version it expects; a mismatch, or a
 *     unique key held by another live record, fails the whole commit with
 *     CONSTRA_E_CONFLICT and names the operation. Two writers can never
 *     both win, in one process or in several on one database.
 *   - A failing call leaves every stored record and event as it was.
 *   - Reads see only committed data; a scan or an event read is not a
 *     snapshot across calls (a cursor continues where it left off).
 *
 * Data crosses the boundary as borrowed pointers: on
 * writes the store copies what it keeps before returning; on reads it
 * passes each row to an `emit` callback (return 0 to go on, non-zero to
 * stop: the read then returns CONSTRA_OK), valid only during that call.
 *
 * Vtable rules as for constra_platform (platform.h): struct_size first,
 * CONSTRA_STORAGE_INIT / constra_storage_init(), copied when
 * registered, user_data first argument, destroy called exactly once.
 * Threads: any method may be called from any thread, concurrently; an
 * implementation serialises internally as it needs. Methods never call
 * back into the library except through `emit`, and emit never calls the
 * store.
 *
 * Status codes: CONSTRA_OK; CONSTRA_E_NOT_FOUND; CONSTRA_E_CONFLICT;
 * CONSTRA_E_INVALID_ARGUMENT (a malformed request: bad kind, too many
 * keys); CONSTRA_E_NOMEM; CONSTRA_E_STORAGE for anything else (I/O,
 * corruption, a database that went away). Any other value is treated as
 * CONSTRA_E_STORAGE.
 */
#ifndef CONSTRA_STORAGE_H
#define CONSTRA_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include "constra/error.h"
#include "constra/export.h"
#include "constra/platform.h"

CONSTRA_BEGIN_DECLS

/** Longest kind or index name. */
#define CONSTRA_RECORD_NAME_MAX 32
/** Longest id, key value, event id, type or stream. */
#define CONSTRA_RECORD_VALUE_MAX 255
/** Most index entries one record may have. */
#define CONSTRA_RECORD_KEYS_MAX 16
/** A store must hold documents of at least this many bytes (1 MiB). */
#define CONSTRA_RECORD_DOCUMENT_MIN_MAX (1024 * 1024)
/** Most operations, and most events, in one commit. */
#define CONSTRA_RECORD_COMMIT_MAX 1024

/** One secondary index entry of a record. */
typedef struct constra_record_key {
    const char *index; /* [a-z0-9_], 1 to CONSTRA_RECORD_NAME_MAX bytes */
    const char *value; /* NUL-terminated, 0 to CONSTRA_RECORD_VALUE_MAX bytes */
    int unique;        /* non-zero: no other live record of the kind holds it */
} constra_record_key;

/** A record as written and as read. */
typedef struct constra_record {
    size_t struct_size;
    const char *kind;
    const char *id;
    /* Read: the stored version. Write: ignored (the store sets
     * expected_version + 1). */
    int64_t version;
    int64_t expires_at_ms; /* 0: never */
    const char *document;  /* not NUL-terminated; NULL only with length 0 */
    size_t document_len;
    const constra_record_key *keys;
    size_t key_count;
} constra_record;

/** What one operation of a commit does. */
typedef enum constra_record_op_type {
    /* Insert (expected_version 0: no live record has this kind and id; a
     * dead one is replaced) or replace (expected_version = the stored
     * live version). The record's keys replace all its previous ones. */
    CONSTRA_RECORD_PUT = 1,
    /* Delete the live record whose version is expected_version (>= 1),
     * with its keys. */
    CONSTRA_RECORD_DELETE = 2,
    /* Write nothing, but fail the commit unless the record's live version
     * is expected_version (0: it must not exist): a read the commit
     * depends on (an idempotency key the caller checked). */
    CONSTRA_RECORD_ASSERT = 3
} constra_record_op_type;

typedef struct constra_record_op {
    int type; /* constra_record_op_type */
    /* PUT: the whole record. DELETE and ASSERT: kind and id only. */
    const constra_record *record;
    int64_t expected_version;
} constra_record_op;

/** An event appended by a commit. */
typedef struct constra_record_event {
    size_t struct_size;
    int64_t sequence;      /* read: assigned by the store; write: ignored */
    const char *stream;    /* the record it is about, "" for none */
    const char *id;        /* unique in the store ("evt_..."); 1 to 255 bytes */
    const char *type;      /* "payment_intent.created", ... */
    int64_t created_at_ms;
    int64_t expires_at_ms; /* 0: kept; otherwise purge() may drop it from then on */
    const char *document;  /* not NUL-terminated */
    size_t document_len;
} constra_record_event;

/** One atomic write. */
typedef struct constra_record_commit {
    size_t struct_size;
    /* The instant expiry is judged at: records with 0 < expires_at_ms <=
     * now_ms are dead for this commit. */
    int64_t now_ms;
    const constra_record_op *ops;
    size_t op_count;
    const constra_record_event *events;
    size_t event_count;
} constra_record_commit;

/** An ordered scan over one index of one kind. */
typedef struct constra_record_scan {
    size_t struct_size;
    const char *kind;
    /* The index, or "" for the records' ids themselves. */
    const char *index;
    /* Value range: from (inclusive; NULL: unbounded) to (exclusive; NULL:
     * unbounded), as bytes. A prefix scan is from = "p", to = "p" with
     * its last byte + 1, or use `prefix`. */
    const char *from;
    const char *to;
    /* Non-NULL: only values that start with these bytes. */
    const char *prefix;
    /* Cursor: continue strictly after the entry (after_value, after_id)
     * in scan order; NULL after_value: from the start. */
    const char *after_value;
    const char *after_id;
    int descending;  /* non-zero: largest value first, ties by id descending */
    size_t limit;    /* at most this many rows, >= 1 */
    int64_t now_ms;  /* dead records are skipped */
} constra_record_scan;

/* Row sinks. `value` is the index value the row was found by (its id on
 * the id index): the cursor to continue from. */
typedef int (*constra_record_fn)(void *ctx, const constra_record *record);
typedef int (*constra_record_scan_fn)(void *ctx, const char *value, const constra_record *record);
typedef int (*constra_record_event_fn)(void *ctx, const constra_record_event *event);

typedef struct constra_storage {
    size_t struct_size;
    void *user_data;

    /** Applies the commit atomically (see "The guarantees"): the
     *  operations in order, each judged against the state the earlier
     *  ones of the same commit left, then the events, each given the next
     *  sequence. On CONSTRA_E_CONFLICT, *failed_op (when not NULL) is the
     *  index of the operation that conflicted (op_count when the conflict
     *  is an event id already stored), and nothing is written. */
    int (*commit)(void *user_data, const constra_record_commit *commit, size_t *failed_op);

    /** Emits the live record (kind, id) once, or returns
     *  CONSTRA_E_NOT_FOUND. */
    int (*get)(void *user_data, const char *kind, const char *id, int64_t now_ms,
               constra_record_fn emit, void *ctx);

    /** Emits live records by one index in order, one row per matching
     *  index entry (a record with two entries in range comes twice, with
     *  each value), at most scan->limit rows. */
    int (*scan)(void *user_data, const constra_record_scan *scan, constra_record_scan_fn emit,
                void *ctx);

    /** Emits events with sequence > after_sequence in sequence order, at
     *  most `limit`: of one stream, or of all when stream is NULL. Events
     *  whose expiry passed may still be emitted until purged. */
    int (*events)(void *user_data, const char *stream, int64_t after_sequence, size_t limit,
                  constra_record_event_fn emit, void *ctx);

    /** Deletes at most `max` dead records (0 < expires_at_ms <= now_ms)
     *  and at most `max` expired events; *purged (when not NULL) gets how
     *  many were deleted in all, so a caller can stop when it is below
     *  2 * max. Each deletion is atomic on its own. */
    int (*purge)(void *user_data, int64_t now_ms, size_t max, size_t *purged);

    /** Optional: called exactly once when the last user drops the copy. */
    void (*destroy)(void *user_data);
    /* New members are appended here. */
} constra_storage;

#define CONSTRA_STORAGE_INIT { sizeof(constra_storage), NULL, NULL, NULL, NULL, \
    NULL, NULL, NULL }

/** Run-time initialiser (FFI): zero-fills and sets struct_size. Returns
 *  CONSTRA_OK, CONSTRA_E_INVALID_ARGUMENT (NULL) or CONSTRA_E_ABI. */
CONSTRA_API int constra_storage_init(constra_storage *store, size_t struct_size);

/** Checks a vtable: struct_size and every method but destroy present.
 *  Returns CONSTRA_OK or the error, `err` naming the member. Thread-safe. */
CONSTRA_API int constra_storage_check(const constra_storage *store, constra_error *err);

/** Checks one commit against the limits above (names, lengths, key and
 *  operation counts, expected versions) without a store: what every
 *  implementation refuses with CONSTRA_E_INVALID_ARGUMENT. Thread-safe. */
CONSTRA_API int constra_record_commit_check(const constra_record_commit *commit,
                                            constra_error *err);

/**
 * Fills `out` with the in-memory storage: thread-safe, ordered
 * indexes, gone when destroyed. `platform` (NULL: defaults; copied)
 * supplies its allocator and mutex. On success the caller owns `out`
 * (call out->destroy(out->user_data), or hand it over). `out` must be
 * initialised (CONSTRA_STORAGE_INIT). Errors: CONSTRA_E_INVALID_ARGUMENT,
 * CONSTRA_E_ABI, CONSTRA_E_NOMEM, CONSTRA_E_PLATFORM.
 */
CONSTRA_API int constra_storage_memory(constra_storage *out, const constra_platform *platform,
                                       constra_error *err);

/**
 * Fills `out` with a storage on PostgreSQL through libpq: `conninfo`
 * is a libpq connection string or URI ("postgresql://user@host/db",
 * "host=/tmp/pg dbname=constra"); its tables (rs_records, rs_keys,
 * rs_events, rs_meta) are found through the connection's search_path
 * and created when missing. Ids and values are BYTEA, so they compare
 * as bytes whatever the database's collation. Several processes may
 * share one database: each commit is one transaction that first takes
 * a transaction-level advisory lock (one per schema), so commits (and
 * purges) are serialised across every process on the database, one
 * writer at a time, while reads take no lock; that lock is what makes event
 * sequences commit in order and compare-and-set and unique keys exact.
 * Serialisation failures and deadlocks (SQLSTATE 40001, 40P01) are
 * retried up to 8 times. The store keeps a pool of up to 4 connections
 * (opened on first use, calls spread over them round-robin); one the
 * server dropped is reset on the next call, and a read, or a commit
 * whose COMMIT had not been sent, is tried once more on it; a commit
 * whose connection died after COMMIT was sent asks the server what
 * became of it (txid_status) and reports that. While the server is away
 * calls return CONSTRA_E_STORAGE; only a commit whose COMMIT was sent as
 * the server went away, which nobody can then ask about, may return
 * CONSTRA_E_STORAGE and yet have been applied (never twice).
 * Built without libpq (-Dpostgres=disabled): CONSTRA_E_UNSUPPORTED.
 * Other errors: CONSTRA_E_INVALID_ARGUMENT, CONSTRA_E_ABI, CONSTRA_E_NOMEM,
 * CONSTRA_E_PLATFORM, CONSTRA_E_STORAGE (cannot connect, not a record
 * store of this version: code "schema_unsupported"). The conninfo (it
 * may hold a password) never appears in an error.
 */
CONSTRA_API int constra_storage_postgres(constra_storage *out, const constra_platform *platform,
                                         const char *conninfo, constra_error *err);

CONSTRA_END_DECLS

#endif /* CONSTRA_STORAGE_H */
