/*
 * Internal: M-Pesa-style receipt numbers for the simulator, the Daraja
 * emulator and the engine's simulated callbacks. Pure: no handle, no I/O.
 */
#ifndef CONSTRA_MPESA_RECEIPT_H
#define CONSTRA_MPESA_RECEIPT_H

#include <stdint.h>

#include "constra/platform.h"

/* Characters of a receipt number (upper-case alphanumerics). */
#define CONSTRA__RECEIPT_LEN 10

/* A receipt for a payment at now_ms: year, month and day letters in East
 * Africa Time, then 7 random upper-case alphanumerics (the shape real
 * receipts have). 0, or -1 when the random source fails. */
int constra__mpesa_receipt_random(const constra_platform *platform, int64_t now_ms,
                                  char out[CONSTRA__RECEIPT_LEN + 1]);

/* The same shape with the 7 characters derived from `seed` (e.g. an
 * attempt id): one payment simulated twice gets one receipt, so the
 * repeat is a duplicate, not a second payment. Not secret. */
void constra__mpesa_receipt_derived(const char *seed, int64_t now_ms,
                                    char out[CONSTRA__RECEIPT_LEN + 1]);

#endif
