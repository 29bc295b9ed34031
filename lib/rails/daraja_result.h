/* Internal: a parsed Daraja STK callback as a rail result; shared by the
 * Daraja rail and the engine's built-in callback path. */
#ifndef CONSTRA_RAILS_DARAJA_RESULT_H
#define CONSTRA_RAILS_DARAJA_RESULT_H

#include "constra/daraja.h"
#include "constra/rail.h"

/* Fills `r` (FINAL) from `cb`. CONSTRA_E_PARSE ("field_too_long") when an
 * id does not fit: ids are never cut. */
int constra__rail_result_from_stk_callback(const constra_daraja_stk_callback *cb,
                                           constra_rail_result *r, constra_error *e);

/* Copies at most dst_size - 1 bytes, never cutting a UTF-8 sequence. */
void constra__copy_utf8(char *dst, size_t dst_size, const char *src);

#endif
