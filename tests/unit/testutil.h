/* Shared by the unit tests: cmocka, and a counting allocator that can be
 * told to fail the N-th allocation. */
#ifndef CONSTRA_TESTUTIL_H
#define CONSTRA_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <constra.h>

typedef struct counting_alloc {
    long allocs;     /* successful malloc/realloc(NULL) calls */
    long frees;      /* free of a non-NULL pointer */
    long live;       /* allocs - frees */
    long fail_at;    /* fail the fail_at-th allocation (1-based); 0 = never */
    long attempts;   /* allocation attempts so far */
    int destroyed;   /* times destroy was called */
} counting_alloc;

static inline void *ca_malloc(void *ud, size_t n)
{
    counting_alloc *ca = ud;
    ca->attempts++;
    if (ca->fail_at != 0 && ca->attempts == ca->fail_at) {
        return NULL;
    }
    void *p = malloc(n ? n : 1);
    if (p) {
        ca->allocs++;
        ca->live++;
    }
    return p;
}

static inline void *ca_realloc(void *ud, void *ptr, size_t n)
{
    counting_alloc *ca = ud;
    if (ptr == NULL) {
        return ca_malloc(ud, n);
    }
    ca->attempts++;
    if (ca->fail_at != 0 && ca->attempts == ca->fail_at) {
        return NULL;
    }
    return realloc(ptr, n ? n : 1);
}

static inline void ca_free(void *ud, void *ptr)
{
    counting_alloc *ca = ud;
    if (ptr) {
        ca->frees++;
        ca->live--;
        free(ptr);
    }
}

static inline void ca_destroy(void *ud)
{
    ((counting_alloc *)ud)->destroyed++;
}

static inline void ca_platform(constra_platform *p, counting_alloc *ca)
{
    constra_platform init = CONSTRA_PLATFORM_INIT;
    *p = init;
    p->user_data = ca;
    p->malloc_fn = ca_malloc;
    p->realloc_fn = ca_realloc;
    p->free_fn = ca_free;
    p->destroy = ca_destroy;
}

#endif
