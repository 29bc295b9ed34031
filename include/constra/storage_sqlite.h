/*
 * libconstra — the SQLite storage (doc/DESIGN.md sections 6 and 7).
 *
 * A constra_storage kept in one SQLite database file: the default for
 * `constra serve`. Several processes may open the same file: commits are
 * serialised by SQLite's write lock (BEGIN IMMEDIATE), so the
 * compare-and-set on an intent's version and the idempotency reservation
 * are atomic across processes, not only across threads.
 *
 * The database runs in WAL mode (not for ":memory:") with a busy time-out;
 * commits are durable (synchronous=FULL) unless NORMAL is asked for. The
 * schema carries a version in its `meta` table and is migrated forward
 * when an older database is opened; a database from a newer library is
 * refused (CONSTRA_E_STORAGE).
 *
 * This header is always installed. When the library is built without
 * SQLite (-Dsqlite=disabled), constra_storage_sqlite() still exists and
 * returns CONSTRA_E_UNSUPPORTED.
 */
#ifndef CONSTRA_STORAGE_SQLITE_H
#define CONSTRA_STORAGE_SQLITE_H

#include <stddef.h>

#include "constra/error.h"
#include "constra/export.h"
#include "constra/platform.h"
#include "constra/storage.h"

CONSTRA_BEGIN_DECLS

/** synchronous=FULL: every commit reaches the disk before it returns. */
#define CONSTRA_SQLITE_SYNC_FULL 0
/** synchronous=NORMAL: faster; in WAL mode a power loss may drop the last
 *  commits (never corrupt the database). */
#define CONSTRA_SQLITE_SYNC_NORMAL 1

/** Options of constra_storage_sqlite(). Versioned struct: struct_size
 *  first, set by CONSTRA_SQLITE_OPTIONS_INIT or
 *  constra_sqlite_options_init(); new members are only appended. */
typedef struct constra_sqlite_options {
    size_t struct_size;
    /* UTF-8 file path (created if absent) or ":memory:" (private to this
     * storage, gone when destroyed). Required; copied. */
    const char *path;
    /* CONSTRA_SQLITE_SYNC_FULL (0, the default) or CONSTRA_SQLITE_SYNC_NORMAL. */
    int synchronous;
    /* How long a call waits for another connection's write lock before it
     * fails with CONSTRA_E_STORAGE; 0 = 5000 ms; negative is refused. */
    int busy_timeout_ms;
    /* New members are appended here. */
} constra_sqlite_options;

#define CONSTRA_SQLITE_OPTIONS_INIT { sizeof(constra_sqlite_options), NULL, 0, 0 }

/** Run-time initialiser (FFI): zeroes and sets struct_size. Returns
 *  CONSTRA_OK, CONSTRA_E_INVALID_ARGUMENT (NULL) or CONSTRA_E_ABI. */
CONSTRA_API int constra_sqlite_options_init(constra_sqlite_options *options, size_t struct_size);

/**
 * Fills `out` with a storage kept in the SQLite database options->path,
 * creating or migrating its schema. `platform` (may be NULL: POSIX
 * defaults; copied) supplies the allocator and mutex for the library's own
 * memory; SQLite allocates its own. `options` is read during the call only.
 *
 * On success the caller owns `out`: hand it to a config (which copies it
 * and will call destroy) or call out->destroy(out->user_data) itself,
 * which closes the database. `out` must be initialised
 * (CONSTRA_STORAGE_INIT).
 *
 * Thread-safety: the storage's methods may be called from any thread,
 * concurrently (one connection, serialised by a mutex); other processes
 * may use the same file at the same time. A call that cannot get the
 * database's write lock within the busy time-out returns
 * CONSTRA_E_STORAGE (never CONSTRA_E_CONFLICT, which means "key taken" or
 * "version changed").
 *
 * Errors: CONSTRA_E_INVALID_ARGUMENT (NULL out/options/path, bad
 * synchronous or busy_timeout_ms), CONSTRA_E_ABI (struct_size),
 * CONSTRA_E_NOMEM, CONSTRA_E_PLATFORM, CONSTRA_E_STORAGE (cannot open or
 * migrate the database; err's message carries SQLite's), and
 * CONSTRA_E_UNSUPPORTED when built without SQLite.
 */
CONSTRA_API int constra_storage_sqlite(constra_storage *out, const constra_platform *platform,
                                       const constra_sqlite_options *options, constra_error *err);

CONSTRA_END_DECLS

#endif /* CONSTRA_STORAGE_SQLITE_H */
