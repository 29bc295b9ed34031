/*
 * A static-arena platform for firmware: every byte libconstra (and cJSON,
 * through constra_platform_install_json_allocator) allocates comes from
 * one static array, with a first-fit free list, a limit that can be lowered
 * at run time (to find the smallest arena that works), and a high-water
 * mark. Plus the clocks and random bytes a bare-metal build must supply.
 */
#ifndef FW_ARENA_H
#define FW_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include <constra.h>

/* The arena's capacity (the static array's size). */
#define FW_ARENA_CAPACITY (96 * 1024)

/* Resets the arena (nothing may be allocated) and sets its usable size. */
void fw_arena_reset(size_t limit);
/* Bytes in use now (blocks and their headers), the highest the arena's
 * top has reached since the reset (what an arena of that size needs), and
 * the number of allocations made. */
size_t fw_arena_in_use(void);
size_t fw_arena_high_water(void);
size_t fw_arena_allocations(void);

/* A platform over the arena, the simulated board clock and the random
 * source. `with_clocks` 0 leaves the clocks and random source out (to show
 * constra_open naming what a bare-metal build must supply). */
void fw_platform(constra_platform *p, int with_clocks);

/* Moves the simulated board clock on (the lifecycle has no real waits). */
void fw_clock_advance_ms(int64_t ms);

#endif
