/*
 * Firmware suite, the engine on the target (TAP): the whole intent
 * lifecycle on the simulator with the memory storage from the static
 * arena, nothing left allocated after constra_close; its arena high-water
 * within the budget; the smallest arena that runs it (found by bisection
 * and printed); below it every run fails cleanly with CONSTRA_E_NOMEM, no
 * fault, no leak; and constra_open without clocks naming the member a
 * bare-metal build must supply.
 */
#include <string.h>

#include <constra.h>

#include "arena.h"
#include "board.h"
#include "engine/model.h"
#include "payment_loop.h"

/* 32 KB until storage 2 (issue 12): the engine's resources as records of
 * the generic memory storage cost about 6 KB more at the peak (bench/README.md). */
#ifndef FW_ARENA_BUDGET
#define FW_ARENA_BUDGET (40 * 1024)
#endif

static int n_test;
static int failed;

static void check(int ok, const char *name)
{
    n_test++;
    fw_printf("%s %d - %s", ok ? "ok" : "not ok", n_test, name);
    if (!ok) {
        failed++;
    }
}

static int run_with(size_t limit, constra_error *err)
{
    fw_arena_reset(limit);
    constra_error_init(err, sizeof(*err));
    return fw_payment_loop(0, err);
}

int main(void)
{
    constra_error err = CONSTRA_ERROR_INIT;

    /* Bare metal has no POSIX defaults: the member is named. */
    fw_arena_reset(FW_ARENA_CAPACITY);
    constra_platform noclock;
    fw_platform(&noclock, 0);
    constra_config cfg = CONSTRA_CONFIG_INIT;
    cfg.platform = &noclock;
    constra_t *h = NULL;
    int rc = constra_open(&h, &cfg, &err);
    check(rc == CONSTRA_E_INVALID_ARGUMENT && strcmp(err.param, "platform.wall_time_ms") == 0 &&
              h == NULL,
          "constra_open without clocks names platform.wall_time_ms");
    fw_printf("# %s", err.message);

    rc = run_with(FW_ARENA_CAPACITY, &err);
    size_t high = fw_arena_high_water();
    size_t count = fw_arena_allocations();
    check(rc == CONSTRA_OK, "lifecycle: create, cancel 1032, retry, pay, timeline");
    if (rc != CONSTRA_OK) {
        fw_printf("# failed: %s (%s)", err.message, err.code);
    }
    check(fw_arena_in_use() == 0, "nothing left allocated after constra_close");
    fw_printf("# arena-high-water %u B, %u allocations", (unsigned)high, (unsigned)count);
    check(high <= FW_ARENA_BUDGET, "arena high-water within the budget");

    /* The smallest arena that runs the lifecycle: every arena below the
     * high-water mark is tried by bisection (failure is monotonic enough
     * for a first-fit arena; the result is checked on both sides). */
    size_t lo = 1024, hi = high; /* lo fails, hi works */
    while (hi - lo > 8) {
        size_t mid = (lo + hi) / 2 & ~(size_t)7;
        if (run_with(mid, &err) == CONSTRA_OK && fw_arena_in_use() == 0) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    rc = run_with(hi, &err);
    check(rc == CONSTRA_OK && fw_arena_in_use() == 0, "the smallest arena runs the lifecycle");
    fw_printf("# arena-minimum %u B", (unsigned)hi);

    /* Below it: every size fails with CONSTRA_E_NOMEM and leaks nothing. */
    int clean = 1;
    size_t sizes[] = {hi - 8, hi - 64, hi - 1024, hi / 2, 4096, 1024, 256};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        rc = run_with(sizes[i], &err);
        if (rc != CONSTRA_E_NOMEM || fw_arena_in_use() != 0) {
            fw_printf("# arena %u B: status %d (%s), %u B left", (unsigned)sizes[i], rc, err.code,
                      (unsigned)fw_arena_in_use());
            clean = 0;
        }
    }
    check(clean, "below the minimum: CONSTRA_E_NOMEM, nothing leaked");

    fw_printf("# intent-record %u B", (unsigned)sizeof(struct constra_intent));
    fw_printf("# stack %u B of %u", (unsigned)fw_stack_used(), (unsigned)fw_stack_size());
    fw_printf("1..%d", n_test);
    return failed ? 1 : 0;
}
