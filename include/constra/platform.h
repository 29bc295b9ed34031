/*
 * libconstra — the platform vtable: allocator, clocks, randomness, mutex,
 * log and sleep, supplied by the host or defaulted to POSIX.
 *
 * Bare metal (a build whose host system is `none`, e.g. firmware for a
 * Cortex-M or RISC-V part): there are no POSIX defaults. The host must
 * supply wall_time_ms, monotonic_ns and random_bytes, else every call that
 * takes a platform (constra_open() first) fails with
 * CONSTRA_E_INVALID_ARGUMENT naming the missing member. The allocator
 * defaults to the C library's malloc; the mutex to none (one thread); the
 * log to discarding lines; sleep_ms to not waiting.
 *
 * This is also the model every libconstra vtable follows:
 *   - `struct_size` first, set by CONSTRA_PLATFORM_INIT or
 *     constra_platform_init(); new members are only ever appended;
 *   - the library COPIES the struct when it is registered: the caller's
 *     copy may be freed or reused right after the call;
 *   - `user_data` is passed as the first argument of every method;
 *   - a method left NULL means "use the default"; related methods come in
 *     groups that must be set together (allocator: malloc/realloc/free;
 *     mutex: create/lock/unlock/destroy), else CONSTRA_E_INVALID_ARGUMENT;
 *   - `destroy`, if set, is called exactly once, when the last object
 *     using the copy is closed.
 *
 * Threads: the methods are called on whichever thread called into the
 * library; the library starts no threads. The allocator, clocks and random
 * source must be safe to call from several threads at once if the host
 * shares a handle between threads.
 */
#ifndef CONSTRA_PLATFORM_H
#define CONSTRA_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "export.h"

CONSTRA_BEGIN_DECLS

/** Log levels, in increasing severity. */
typedef enum constra_log_level {
    CONSTRA_LOG_DEBUG = 10,
    CONSTRA_LOG_INFO = 20,
    CONSTRA_LOG_WARN = 30,
    CONSTRA_LOG_ERROR = 40
} constra_log_level;

typedef struct constra_platform {
    /** sizeof(constra_platform) as the caller compiled it. */
    size_t struct_size;
    /** Passed as the first argument of every method. */
    void *user_data;

    /* Allocator: all three or none. malloc_fn(0) may return NULL or a
     * unique pointer; realloc_fn(NULL, n) must behave as malloc_fn(n);
     * free_fn(NULL) must be a no-op. Default: libc. */
    void *(*malloc_fn)(void *user_data, size_t size);
    void *(*realloc_fn)(void *user_data, void *ptr, size_t size);
    void (*free_fn)(void *user_data, void *ptr);

    /** Wall-clock time in milliseconds since the Unix epoch (UTC).
     *  Default: clock_gettime(CLOCK_REALTIME). */
    int64_t (*wall_time_ms)(void *user_data);
    /** A monotonic clock in nanoseconds from an arbitrary origin.
     *  Default: clock_gettime(CLOCK_MONOTONIC). */
    int64_t (*monotonic_ns)(void *user_data);
    /** Fill `buf` with `len` cryptographically secure random bytes; return
     *  0 on success, non-zero on failure. Used for ids and secrets.
     *  Default: getrandom(2), falling back to /dev/urandom. */
    int (*random_bytes)(void *user_data, uint8_t *buf, size_t len);

    /* Mutex: all four or none. create returns 0 and stores an opaque
     * mutex in *out, non-zero on failure. Non-recursive is enough.
     * Default: pthread_mutex_t. */
    int (*mutex_create)(void *user_data, void **out);
    void (*mutex_lock)(void *user_data, void *mutex);
    void (*mutex_unlock)(void *user_data, void *mutex);
    void (*mutex_destroy)(void *user_data, void *mutex);

    /** One log line (no trailing newline), valid only during the call.
     *  Default: write lines of level >= log_min_level to stderr. */
    void (*log)(void *user_data, int level, const char *message);
    /** Lines below this level are not formatted nor passed to `log`.
     *  0 in a zero-filled struct means CONSTRA_LOG_WARN. */
    int log_min_level;

    /** Called exactly once when the library drops its copy. Optional. */
    void (*destroy)(void *user_data);

    /* ---- appended (the first layout ends after `destroy`) ---- */

    /** Wait about `ms` milliseconds (ms > 0): the Daraja rail's back-off
     *  between attempts, and the remote client's (client.h) when its
     *  config has no sleep_ms. Optional. Default: nanosleep(2) on POSIX;
     *  on bare metal, no waiting (supply one that sleeps or yields to your
     *  RTOS). */
    void (*sleep_ms)(void *user_data, int64_t ms);
    /* New members are appended here. */
} constra_platform;

/** Static initialiser: every method NULL (POSIX defaults). */
#define CONSTRA_PLATFORM_INIT { sizeof(constra_platform), NULL, NULL, NULL, NULL, \
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL }

/**
 * Run-time initialiser (for FFI languages): zero-fills `platform` and sets
 * struct_size to `struct_size`, the size the caller believes the struct
 * has. Returns CONSTRA_OK, CONSTRA_E_INVALID_ARGUMENT (NULL), or
 * CONSTRA_E_ABI (struct_size below the first version's size).
 * Thread-safe (touches only `platform`).
 */
CONSTRA_API int constra_platform_init(constra_platform *platform, size_t struct_size);

/**
 * Checks a platform vtable the way constra_open() will, without keeping
 * it: struct_size acceptable (see CONSTRA_E_ABI), method groups complete,
 * log_min_level in range. Returns CONSTRA_OK or the error, with `err`
 * (may be NULL) naming the member at fault. Thread-safe.
 */
CONSTRA_API int constra_platform_check(const constra_platform *platform, constra_error *err);

/**
 * Route cJSON's allocations through `platform`'s allocator, or back to
 * libc when `platform` is NULL.
 *
 * WARNING: cJSON's hooks are process-wide. On a system with a shared
 * libcjson this also changes the allocator of every other cJSON user in
 * the process, which is why the library never calls this by itself. Call
 * it only if your program owns the whole process (firmware), before any
 * thread uses cJSON, and keep the allocator alive until you call this
 * again with NULL. The library keeps a copy of the allocator methods
 * (the one piece of global state it has, and only on request).
 *
 * Returns CONSTRA_OK, or CONSTRA_E_INVALID_ARGUMENT / CONSTRA_E_ABI for a
 * bad vtable (nothing changed then). Not thread-safe.
 */
CONSTRA_API int constra_platform_install_json_allocator(const constra_platform *platform,
                                                        constra_error *err);

CONSTRA_END_DECLS

#endif /* CONSTRA_PLATFORM_H */
