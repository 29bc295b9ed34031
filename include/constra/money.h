/*
 * libconstra — money: a currency table and int64 arithmetic that refuses
 * to overflow.
 *
 * An amount is an int64_t count of the unit the rail settles in, never a
 * float. The table below decides that unit per currency: mobile-money
 * currencies whose rails settle whole units (KES, UGX, TZS, RWF, ...)
 * have exponent 0, so 1250 KES is one thousand two hundred and fifty
 * shillings; currencies with cents (USD, EUR, ...) have exponent 2 and
 * count cents. The ISO 4217 minor-unit exponent is reported alongside for
 * display and conversion.
 *
 * All functions here are pure (no handle, no allocation) and thread-safe.
 * Every one returns CONSTRA_OK or an error status and fills `err` (may be
 * NULL) with the detail; outputs are written only on success.
 */
#ifndef CONSTRA_MONEY_H
#define CONSTRA_MONEY_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "export.h"

CONSTRA_BEGIN_DECLS

/** Rounding of a fee or any division that does not come out whole. */
typedef enum constra_rounding {
    /** Towards zero (truncate). */
    CONSTRA_ROUND_DOWN = 0,
    /** Away from zero: any remainder rounds up in magnitude. */
    CONSTRA_ROUND_UP = 1,
    /** To nearest; exact halves away from zero (commercial rounding). */
    CONSTRA_ROUND_HALF_UP = 2,
    /** To nearest; exact halves to the even neighbour (banker's). */
    CONSTRA_ROUND_HALF_EVEN = 3
} constra_rounding;

/**
 * Looks up a currency by its three-letter upper-case ISO 4217 code.
 * `code` must be exactly 3 upper-case ASCII letters followed by NUL (at
 * most 4 bytes are read). On success writes the settlement exponent (the
 * unit amounts count in) to *exponent and, if iso_exponent is not NULL,
 * the ISO 4217 minor-unit exponent.
 * Errors: CONSTRA_E_INVALID_ARGUMENT (NULL, malformed code; param
 * "currency"), CONSTRA_E_NOT_FOUND (a well-formed code not in the table,
 * code "currency_unsupported").
 */
CONSTRA_API int constra_currency_lookup(const char *code, int *exponent, int *iso_exponent,
                                        constra_error *err);

/** Number of currencies in the table. */
CONSTRA_API size_t constra_currency_count(void);

/**
 * The index-th currency of the table (0 <= index < count): its code
 * (static storage) and settlement exponent. CONSTRA_E_INVALID_ARGUMENT
 * for an index out of range or NULL outputs (param "index", "code").
 */
CONSTRA_API int constra_currency_at(size_t index, const char **code, int *exponent,
                                    constra_error *err);

/** *out = a + b, or CONSTRA_E_OVERFLOW (param "amount"), *out untouched. */
CONSTRA_API int constra_money_add(int64_t a, int64_t b, int64_t *out, constra_error *err);

/** *out = a - b, or CONSTRA_E_OVERFLOW, *out untouched. */
CONSTRA_API int constra_money_sub(int64_t a, int64_t b, int64_t *out, constra_error *err);

/** *out = amount * factor, or CONSTRA_E_OVERFLOW, *out untouched. */
CONSTRA_API int constra_money_mul(int64_t amount, int64_t factor, int64_t *out,
                                  constra_error *err);

/**
 * A fee of `basis_points` (1/100 of a percent: 150 = 1.5%) of `amount`,
 * rounded by `rounding`, computed exactly (no intermediate overflow for
 * any int64 amount and 0 <= basis_points <= 1,000,000).
 * Errors: CONSTRA_E_INVALID_ARGUMENT for negative or out-of-range
 * basis_points (param "basis_points"), an unknown rounding (param
 * "rounding") or NULL out; CONSTRA_E_OVERFLOW if the fee does not fit.
 */
CONSTRA_API int constra_money_fee_bps(int64_t amount, int32_t basis_points,
                                      constra_rounding rounding, int64_t *out,
                                      constra_error *err);

/**
 * Formats `amount` of `currency` as a plain decimal in major units with
 * exactly the settlement exponent's digits after the point and no
 * grouping: 1250 KES -> "1250", 125050 USD -> "1250.50", -5 USD -> "-0.05".
 * Writes at most out_size bytes including the NUL.
 * Errors: CONSTRA_E_INVALID_ARGUMENT / CONSTRA_E_NOT_FOUND for the
 * currency, CONSTRA_E_INVALID_ARGUMENT for NULL out, and
 * CONSTRA_E_BUFFER_TOO_SMALL (out untouched) when out_size is too small:
 * 32 bytes always suffice.
 */
CONSTRA_API int constra_money_format(int64_t amount, const char *currency, char *out,
                                     size_t out_size, constra_error *err);

/**
 * Parses a decimal amount in major units into the settlement unit of
 * `currency`: "1250", "1,250", "1 250", "1250.00" (KES) -> 1250;
 * "12.5" (USD) -> 1250. An optional leading '-' is allowed. Group
 * separators (',' ' ' '_') are accepted only between digits before the
 * point. Digits after the point beyond the exponent are refused unless
 * they are zeros ("1250.50" KES is refused: KES settles whole shillings).
 * At most `max_len` bytes of `text` are read; a text with no NUL within
 * max_len is refused.
 * Errors: CONSTRA_E_INVALID_ARGUMENT (param "text" or "currency"),
 * CONSTRA_E_NOT_FOUND (currency), CONSTRA_E_OVERFLOW.
 */
CONSTRA_API int constra_money_parse(const char *text, size_t max_len, const char *currency,
                                    int64_t *out, constra_error *err);

CONSTRA_END_DECLS

#endif /* CONSTRA_MONEY_H */
