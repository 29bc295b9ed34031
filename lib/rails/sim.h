/* Internal: what the simulator shares with the engine's simulated callbacks. */
#ifndef CONSTRA_RAILS_SIM_H
#define CONSTRA_RAILS_SIM_H

#include <stdint.h>

#include "constra/platform.h"
#include "constra/rail.h"

/* An M-Pesa-style receipt for a payment at now_ms: year, month and day
 * letters in East Africa Time, then 7 random upper-case alphanumerics
 * (daraja.md section 3.4). 0, or -1 when the random source fails. */
int constra__sim_receipt(const constra_platform *platform, int64_t now_ms, char out[11]);

/* 1 when `rail` (a checked vtable, read in full) is the simulator or
 * stands in for it: constra_rail_sim()'s own collect, or the name "sim"
 * (a wrapper around the simulator reports that name). A live handle
 * refuses such a rail (handle.h). */
int constra__rail_is_sim(const constra_rail *rail);

#endif
