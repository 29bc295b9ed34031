/*
 * Internal: the library's resolved copy of a constra_platform. Every
 * member is non-NULL after constra__platform_resolve(): methods the host
 * left NULL are replaced by the defaults (POSIX, or on bare metal the few
 * that need no operating system), so callers never test.
 */
#ifndef CONSTRA_PLATFORM_INTERNAL_H
#define CONSTRA_PLATFORM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "constra/platform.h"
#include "util/check.h"

/* Resolves `in` (NULL = all defaults) into `out`: checks it exactly as
 * constra_platform_check() does, copies it, fills defaults. On failure
 * `out` is untouched. The caller's struct is not kept. */
int constra__platform_resolve(constra_platform *out, const constra_platform *in,
                              constra_error *err);

static inline void *constra__malloc(const constra_platform *p, size_t n)
{
    return p->malloc_fn(p->user_data, n);
}

static inline void *constra__realloc(const constra_platform *p, void *ptr, size_t n)
{
    return p->realloc_fn(p->user_data, ptr, n);
}

static inline void constra__free(const constra_platform *p, void *ptr)
{
    if (ptr != NULL) {
        p->free_fn(p->user_data, ptr);
    }
}

/* Zeroed allocation of n * size bytes; NULL on overflow or failure. */
void *constra__calloc(const constra_platform *p, size_t n, size_t size);

/* Copies of strings through the platform allocator (NULL on failure). */
char *constra__strndup(const constra_platform *p, const char *s, size_t len);

static inline int64_t constra__wall_ms(const constra_platform *p)
{
    return p->wall_time_ms(p->user_data);
}

static inline int64_t constra__mono_ns(const constra_platform *p)
{
    return p->monotonic_ns(p->user_data);
}

/* 0 on success; anything else is CONSTRA_E_PLATFORM for the caller. */
static inline int constra__random(const constra_platform *p, uint8_t *buf, size_t len)
{
    return p->random_bytes(p->user_data, buf, len);
}

static inline void constra__lock(const constra_platform *p, void *m)
{
    p->mutex_lock(p->user_data, m);
}

static inline void constra__unlock(const constra_platform *p, void *m)
{
    p->mutex_unlock(p->user_data, m);
}

/* Waits about `ms` milliseconds through the platform (no-op for ms <= 0). */
static inline void constra__sleep_ms(const constra_platform *p, int64_t ms)
{
    if (ms > 0) {
        p->sleep_ms(p->user_data, ms);
    }
}

/* Formats and logs one line if level >= the platform's minimum. */
void constra__log(const constra_platform *p, int level, const char *fmt, ...)
    CONSTRA__PRINTF(3, 4);

#endif /* CONSTRA_PLATFORM_INTERNAL_H */
