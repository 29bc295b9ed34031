/*
 * A storage wrapper (storage.h) that fails on demand: it forwards every
 * call to an inner storage, except the fail_at-th call (1-based, counting every
 * method) and the fail_count - 1 calls after it, which return
 * CONSTRA_E_STORAGE without touching the inner storage. Used to prove that
 * a failure at any point leaves no partial state and never causes a
 * second rail call; a large fail_count models a process killed at that
 * call (nothing it would do afterwards reaches the storage).
 */
#ifndef CONSTRA_TEST_FAULT_STORAGE_H
#define CONSTRA_TEST_FAULT_STORAGE_H

#include <constra.h>

typedef struct fault_storage {
    constra_storage inner;
    long calls;    /* calls seen so far */
    long fail_at;  /* 0 = never fail */
    long fail_count; /* calls failed from fail_at on; 0 means 1 */
    long failures; /* failures injected */
    int destroyed;
    /* Set before fault_storage_wrap to count and fail the workspace
     * metadata's calls (records of kind "meta") like every other. Off by
     * default: they pass through uncounted, so the storage calls
     * constra_open makes are not part of a sweep and the N-th call of a
     * sweep is the N-th call after open. */
    int forward_meta;
    /* Non-zero: only commits are counted and failed (reads pass through),
     * so a test can name "the N-th write" whatever reads come between. */
    int commits_only;
} fault_storage;

/* Fills `out` with a vtable over `f` (which must outlive it). Destroying
 * the wrapper destroys the inner storage. */
void fault_storage_wrap(fault_storage *f, const constra_storage *inner, constra_storage *out);

#endif
