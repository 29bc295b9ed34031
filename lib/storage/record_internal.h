/*
 * Internal: what every shipped record store (storage.h) shares, so
 * that memory, SQLite and PostgreSQL refuse exactly the same requests and
 * read one scan the same way.
 */
#ifndef CONSTRA_RECORD_INTERNAL_H
#define CONSTRA_RECORD_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "constra/storage.h"

/* A kind or index name: 1 to CONSTRA_RECORD_NAME_MAX bytes of [a-z0-9_]. */
int constra__record_name_valid(const char *name);

/* An id, key value (empty allowed when `empty_ok`), stream or type:
 * non-NULL, at most CONSTRA_RECORD_VALUE_MAX bytes. */
int constra__record_text_valid(const char *text, int empty_ok);

/* A get() and an events() request within the contract (a kind and id,
 * or a stream; a limit >= 1; an emitter): what every store refuses with
 * CONSTRA_E_INVALID_ARGUMENT before touching its data. */
int constra__record_get_valid(const char *kind, const char *id, constra_record_fn emit);
int constra__record_events_valid(const char *stream, size_t limit, constra_record_event_fn emit);

/* A scan request within the contract (kind, index, limit >= 1, a cursor
 * that has both halves or neither). */
int constra__record_scan_check(const constra_record_scan *scan, constra_error *err);

/* The half-open byte range [lo, hi) a scan covers, from its from/to and
 * prefix: lo NULL means unbounded below, hi NULL unbounded above; *empty
 * is set when the range holds nothing. lo and hi point into the scan's
 * strings or into `hi_buf` (the prefix's successor: the prefix with its
 * trailing 0xFF bytes dropped and the last byte incremented). Byte order
 * is memcmp with a prefix first: "a" < "a\x01" < "b". */
void constra__record_scan_range(const constra_record_scan *scan, const char **lo,
                                const char **hi, char hi_buf[CONSTRA_RECORD_VALUE_MAX + 1],
                                int *empty);

/* A record's index entries as one byte string, the form the SQL stores
 * keep them in to read a record back in one row: for each entry, index
 * NUL value NUL and '1' (unique) or '0'. _size is the bytes _write
 * writes into `out`; _read parses `len` bytes into `keys`, pointing into
 * `blob`, and returns -1 for a corrupt string or more than
 * CONSTRA_RECORD_KEYS_MAX entries. */
size_t constra__record_keys_size(const constra_record *r);
void constra__record_keys_write(const constra_record *r, char *out);
int constra__record_keys_read(const char *blob, size_t len, constra_record_key *keys,
                              size_t *count);

/* A SQL record store's primitives inside its open write transaction,
 * for constra__record_apply. Each returns CONSTRA_OK or a status, which
 * apply passes back unchanged (a store's own internal codes included),
 * except CONSTRA_E_CONFLICT from write, remove or add_event: the database
 * itself refused a duplicate (an event id already stored, for add_event). */
typedef struct constra__record_tx {
    void *ctx;
    /* The live version of (kind, id) at `now`, 0 when there is none. */
    int (*live_version)(void *ctx, const char *kind, const char *id, int64_t now,
                        int64_t *version);
    /* *clash = 1 when an entry of r is held by another live record in a
     * way that forbids it (either side unique). */
    int (*clashes)(void *ctx, const constra_record *r, int64_t now, int *clash);
    /* Stores r (and only its entries) as `version`, over a dead or older one. */
    int (*write)(void *ctx, const constra_record *r, int64_t version);
    int (*remove)(void *ctx, const char *kind, const char *id);
    int (*add_event)(void *ctx, const constra_record_event *e);
} constra__record_tx;

/* The contract's rules for one commit, in one place: the operations in
 * order, each judged against what the earlier ones left (its expected
 * version; for a PUT, the unique entries of other live records), then
 * the events. On CONSTRA_E_CONFLICT *failed is the operation that
 * conflicted (op_count for an event id). The caller owns the
 * transaction: it commits on CONSTRA_OK and rolls back otherwise. */
int constra__record_apply(const constra__record_tx *tx, const constra_record_commit *c,
                          size_t *failed);

/* memcmp order of two NUL-terminated byte strings (unsigned bytes). */
int constra__record_cmp(const char *a, const char *b);

/* For tests: the SQL of the SQLite record store's i-th statement (its
 * fixed statements, then every scan shape, written into buf), or NULL
 * past the last (or without SQLite). */
const char *constra__record_sqlite_sql(size_t i, char *buf, size_t size);

/* For tests: the SQL of the PostgreSQL record store's i-th statement
 * that reads (its fixed ones, then every scan shape, written into buf),
 * or NULL past the last (or without PostgreSQL). */
const char *constra__record_postgres_sql(size_t i, char *buf, size_t size);

#endif /* CONSTRA_RECORD_INTERNAL_H */
