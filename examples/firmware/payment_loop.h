/* The payment loop of the firmware example (payment_loop.c). */
#ifndef FW_PAYMENT_LOOP_H
#define FW_PAYMENT_LOOP_H

#include <constra.h>

/* One whole intent lifecycle on the simulator rail with the memory
 * storage, every byte from the arena platform: create (STK push), the
 * customer cancels (1032), retry, the customer pays, read the timeline,
 * close. Returns CONSTRA_OK, or the status of the first call that failed
 * (its detail in *err). `verbose` prints each step. */
int fw_payment_loop(int verbose, constra_error *err);

#endif
