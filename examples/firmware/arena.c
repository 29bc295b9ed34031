/*
 * The static-arena platform (arena.h). Blocks carry an 8-byte header (the
 * payload size, and the previous block's size with a "free" bit) so that
 * free() merges a block with both neighbours; allocation is first fit
 * over the blocks, else from the top. One thread: no locking.
 */
#include "arena.h"

#include <string.h>

#define ALIGN 8u
#define HDR 8u
#define FREE_BIT 1u

typedef struct block {
    uint32_t size; /* payload bytes, a multiple of ALIGN */
    uint32_t prev; /* the previous block's payload size | FREE_BIT if this one is free */
} block;

static _Alignas(8) uint8_t arena[FW_ARENA_CAPACITY];
static size_t top;       /* bytes of the arena holding blocks */
static size_t limit;     /* usable bytes */
static size_t in_use;
static size_t high_water;
static size_t allocations;
static uint32_t last_size; /* payload size of the block that ends at top */

static block *at(size_t off)
{
    return (block *)(void *)(arena + off);
}

static size_t off_of(const block *b)
{
    return (size_t)((const uint8_t *)b - arena);
}

static int is_free(const block *b)
{
    return (b->prev & FREE_BIT) != 0;
}

static block *next_of(block *b)
{
    size_t off = off_of(b) + HDR + b->size;
    return off < top ? at(off) : NULL;
}

static block *prev_of(block *b)
{
    if (off_of(b) == 0) {
        return NULL;
    }
    return at(off_of(b) - (b->prev & ~FREE_BIT) - HDR);
}

static void set_size(block *b, uint32_t size)
{
    b->size = size;
    block *n = next_of(b);
    if (n != NULL) {
        n->prev = size | (n->prev & FREE_BIT);
    }
}

void fw_arena_reset(size_t new_limit)
{
    top = 0;
    in_use = 0;
    high_water = 0;
    allocations = 0;
    last_size = 0;
    limit = new_limit < sizeof(arena) ? new_limit : sizeof(arena);
}

size_t fw_arena_in_use(void)
{
    return in_use;
}

size_t fw_arena_high_water(void)
{
    return high_water;
}

size_t fw_arena_allocations(void)
{
    return allocations;
}

static void *arena_malloc(void *ud, size_t n)
{
    (void)ud;
    if (n == 0) {
        n = 1;
    }
    if (n > limit) {
        return NULL;
    }
    uint32_t want = (uint32_t)((n + ALIGN - 1) & ~(size_t)(ALIGN - 1));
    /* First fit among the free blocks. */
    for (size_t off = 0; off < top; off += HDR + at(off)->size) {
        block *b = at(off);
        if (!is_free(b) || b->size < want) {
            continue;
        }
        if (b->size >= want + HDR + ALIGN) { /* split: the rest stays free */
            uint32_t rest = b->size - want - HDR;
            set_size(b, want);
            block *r = at(off + HDR + want);
            r->prev = want | FREE_BIT;
            set_size(r, rest);
        }
        b->prev &= ~FREE_BIT;
        in_use += HDR + b->size;
        allocations++;
        return b + 1;
    }
    if (top + HDR + want > limit) {
        return NULL;
    }
    block *b = at(top);
    b->size = want;
    b->prev = top > 0 ? last_size : 0;
    top += HDR + want;
    last_size = want;
    in_use += HDR + want;
    if (top > high_water) {
        high_water = top;
    }
    allocations++;
    return b + 1;
}

static void arena_free(void *ud, void *ptr)
{
    (void)ud;
    if (ptr == NULL) {
        return;
    }
    block *b = (block *)ptr - 1;
    in_use -= HDR + b->size;
    b->prev |= FREE_BIT;
    block *n = next_of(b);
    if (n != NULL && is_free(n)) {
        set_size(b, b->size + HDR + n->size);
    }
    block *p = prev_of(b);
    if (p != NULL && is_free(p)) {
        set_size(p, p->size + HDR + b->size);
        b = p;
    }
    if (off_of(b) + HDR + b->size == top) {
        /* The top block is given back; the one before it (in use, since
         * free neighbours merge) ends the arena now. */
        top = off_of(b);
        last_size = top > 0 ? (b->prev & ~FREE_BIT) : 0;
    }
}

static void *arena_realloc(void *ud, void *ptr, size_t n)
{
    if (ptr == NULL) {
        return arena_malloc(ud, n);
    }
    block *b = (block *)ptr - 1;
    if (n <= b->size) {
        return ptr;
    }
    void *fresh = arena_malloc(ud, n);
    if (fresh == NULL) {
        return NULL;
    }
    memcpy(fresh, ptr, b->size);
    arena_free(ud, ptr);
    return fresh;
}

/* ---- the simulated board: clock and random source ----------------------- */

/* A real board reads an RTC set from the network (wall clock) and a
 * free-running timer (monotonic); here both advance by 1 ms per reading
 * from a fixed date, so runs are reproducible. */
static int64_t clock_ms = 1765000000000; /* 2025-12-06 */

void fw_clock_advance_ms(int64_t ms)
{
    clock_ms += ms;
}

static int64_t board_wall_ms(void *ud)
{
    (void)ud;
    return ++clock_ms;
}

static int64_t board_mono_ns(void *ud)
{
    (void)ud;
    return ++clock_ms * 1000000;
}

/* NOT a secure source: a fixed-seed xorshift, so that QEMU runs repeat. A
 * real board must read its hardware TRNG here (README.md). */
static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static int board_random(void *ud, uint8_t *buf, size_t len)
{
    (void)ud;
    for (size_t i = 0; i < len; i++) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        buf[i] = (uint8_t)(rng_state >> 32);
    }
    return 0;
}

void fw_platform(constra_platform *p, int with_clocks)
{
    constra_platform_init(p, sizeof(*p));
    p->malloc_fn = arena_malloc;
    p->realloc_fn = arena_realloc;
    p->free_fn = arena_free;
    if (with_clocks) {
        p->wall_time_ms = board_wall_ms;
        p->monotonic_ns = board_mono_ns;
        p->random_bytes = board_random;
    }
}
