/*
 * Internal: the intent lifecycle's building blocks (lib/engine/engine.c),
 * shared with the two concerns that live beside it: idempotency
 * (idempotency.c: which request a key belongs to, and its replay) and
 * time (tick.c: time-outs, auto-retries, what else is due).
 *
 * Every change to an intent is one compare-and-set commit of the intent
 * with the one event that records it (constra__intent_save); a caller
 * that loses the race (CONSTRA_E_CONFLICT) loads again and retries, at
 * most CONSTRA__CAS_RETRIES times.
 */
#ifndef CONSTRA_ENGINE_LIFECYCLE_H
#define CONSTRA_ENGINE_LIFECYCLE_H

#include "engine/engine.h"

/* How often a writer that lost a compare-and-set race loads and tries again. */
#define CONSTRA__CAS_RETRIES 8

/* A new, empty snapshot owned by the caller (constra_intent_free), or
 * NULL when out of memory. */
struct constra_intent *constra__intent_new(constra_t *h);

/* Reads intent `id` into `in` (through the decoded-intent cache).
 * CONSTRA_E_NOT_FOUND (resource_missing) when there is none;
 * CONSTRA_E_STORAGE when storage fails or its document cannot be read. */
int constra__intent_load(constra_t *h, const char *id, struct constra_intent *in,
                         constra_error *e);

/* Gives `in` its public JSON (kept when it already matches `in`'s version
 * or is a replayed response). CONSTRA_E_NOMEM. */
int constra__intent_finish(constra_t *h, struct constra_intent *in, constra_error *e);

/* Maps a storage status to the caller's: NOT_FOUND, CONFLICT, NOMEM and
 * INVALID_ARGUMENT pass through; anything else becomes CONSTRA_E_STORAGE
 * ("storage failed while <what>; nothing was changed"). */
int constra__storage_error(constra_error *e, int rc, const char *what);

/* Commits `in` (version expected -> expected + 1; 0 inserts) with at most
 * one event (`event` NULL: none) and optionally an idempotency record in
 * the same commit. CONSTRA_E_CONFLICT (code "conflict") when another
 * writer got there first: nothing was written. */
int constra__intent_save(constra_t *h, struct constra_intent *in, int64_t expected,
                         const char *event, const char *reason,
                         const constra__res_idempotency *idem, int64_t now, constra_error *e);

/* When constra_tick() must next look at `in` (tick.c): its time-out while
 * pending, the next automatic retry or query while it waits for one, 0
 * when time alone will not move it. Stored as the intent's due index
 * entry with every commit, so the tick finds its work by index. */
int64_t constra__tick_due_at(const constra_t *h, const struct constra_intent *in);

/* Sets status, recovery summary and due time of a machine move (st) on
 * `in`, in memory only; `c` (may be NULL) is the classified provider
 * result that caused it. */
void constra__intent_apply_move(constra_t *h, struct constra_intent *in, const constra__step *st,
                                const constra__classified *c, int64_t now);

/* Sends a new attempt: records it as "sending", calls the rail once, then
 * records the outcome (engine.c's money-safety rule). `inserting`: 0 for
 * an intent already stored; CONSTRA__INSERT_RESERVED for its first commit
 * (with `idem`, the link of the key reserved before);
 * CONSTRA__INSERT_RESERVING for its first commit reserving `idem`'s key
 * itself (CONSTRA_E_CONFLICT, code "conflict", when the key has a live
 * record: nothing was written nor sent). */
#define CONSTRA__INSERT_RESERVED 1
#define CONSTRA__INSERT_RESERVING 2
int constra__intent_run_attempt(constra_t *h, struct constra_intent *in, int inserting,
                                const constra__res_idempotency *idem, constra_error *e);

/* Applies a provider result to the loaded intent `in` (the attempt its
 * checkout id names) and commits. by_rail: it came from the rail's own
 * poll or query, not a callback off the network. CONSTRA_E_CONFLICT:
 * `in` is stale, load and retry. */
int constra__intent_apply_result(constra_t *h, struct constra_intent *in,
                                 const constra_rail_result *r, int by_rail, int64_t now,
                                 constra_error *e);

/* Asks the rail about attempt `a`'s prompt now (rail.query). Returns 1
 * when the answer is final, with *q filled as a result for `a` (its
 * checkout id; amount -1 unless a receipt came with it); 0 when the rail
 * cannot query, is unreachable or says "still processing". */
int constra__intent_query_attempt(constra_t *h, const constra__attempt *a, int64_t now,
                                  constra_rail_result *q);

#endif
