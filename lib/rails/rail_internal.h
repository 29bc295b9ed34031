/*
 * Internal: what the shipped rails share beyond rail.h.
 */
#ifndef CONSTRA_RAIL_INTERNAL_H
#define CONSTRA_RAIL_INTERNAL_H

#include <stddef.h>

#include "constra/rail.h"

/* The first published layout ended at `destroy`: rails handed to, or
 * made by, callers of that version have this struct_size. */
#define CONSTRA__RAIL_V1_SIZE offsetof(constra_rail, authenticate_callback)

/* 1 when `rail` (a checked vtable, read in full) is the simulator or
 * stands in for it: constra_rail_sim()'s own collect (sim.c), or the name
 * "sim" (a wrapper around the simulator reports that name). A live
 * handle refuses such a rail (handle.h). */
int constra__rail_is_sim(const constra_rail *rail);

#endif
