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

#endif
