/*
 * libconstra — M-Pesa request fields: Kenyan phone numbers (MSISDN),
 * amounts, and the free-text fields (AccountReference, TransactionDesc,
 * Remarks, Occasion).
 *
 * Everything here is pure: no handle, no I/O, no allocation; every
 * function is thread-safe. Each returns CONSTRA_OK or an error status and
 * fills `err` (may be NULL) with the detail: a machine code naming the
 * exact reason (listed per function), a message, and the parameter at
 * fault. Outputs are written only on success. Messages never repeat the
 * phone number itself.
 */
#ifndef CONSTRA_MPESA_FIELDS_H
#define CONSTRA_MPESA_FIELDS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "export.h"

CONSTRA_BEGIN_DECLS

/* ---- Phone numbers --------------------------------------------------- */

/** Length of a normalised MSISDN: "254" + 9 digits. */
#define CONSTRA_MSISDN_LEN 12
/** A buffer of this size holds a normalised MSISDN and its NUL. */
#define CONSTRA_MSISDN_SIZE (CONSTRA_MSISDN_LEN + 1)
/** Longest phone input accepted, in bytes (separators included). */
#define CONSTRA_MSISDN_INPUT_MAX 64

/**
 * Normalises a Kenyan mobile number to Daraja's form, "254" followed by
 * the 9-digit national number (e.g. "254712345678").
 *
 * Accepted forms (doc/DARAJA.md section 8), after dropping leading/trailing
 * ASCII whitespace and the separators space, '-', '(' and ')' anywhere:
 *   0 + 9 digits          0712345678, 0110123456
 *   9 digits (7... 1...)  712345678, 110123456
 *   254 + 9 digits        254712345678
 *   +254 + 9 digits       +254712345678 ('+' only as the first character)
 *   00254 / 000254 + 9    00254712345678, 000254712345678
 * and the national number must be a Kenyan mobile number:
 * 1(0[0-8]|[18]d|2[014]|30|4[0-5]) or 7dd, then 6 digits.
 * Anything else is refused; in particular dots and other punctuation,
 * letters, a trunk 0 after the country code ("+254 (0)712...",
 * "2540712..."), landlines ("020...") and other countries' numbers.
 * The operator is not checked: see constra_msisdn_is_safaricom().
 *
 * `input`: NUL-terminated; at most min(max_len, CONSTRA_MSISDN_INPUT_MAX)
 * + 1 bytes are read. `out`: at least CONSTRA_MSISDN_SIZE (13) bytes; it
 * may be the same buffer as `input`.
 *
 * Errors: CONSTRA_E_INVALID_ARGUMENT, param "phone", with err->code one
 * of
 *   "parameter_missing"        input is NULL
 *   "phone_too_long"           no NUL within max_len, or longer than
 *                              CONSTRA_MSISDN_INPUT_MAX bytes
 *   "phone_empty"              empty, or no digits at all
 *   "phone_invalid_character"  a byte other than digits, separators and a
 *                              leading '+' (message names it and its
 *                              position)
 *   "phone_too_few_digits"     national number shorter than 9 digits
 *   "phone_too_many_digits"    national number longer than 9 digits
 *   "phone_not_kenyan"         another country's code (+255..., 00255...,
 *                              or 11+ digits not starting 254/0)
 *   "phone_not_mobile"         9 digits but not a Kenyan mobile range
 *                              (landline, 08xx, national number starting
 *                              with 0)
 * CONSTRA_E_INVALID_ARGUMENT "parameter_missing" with param "out" for a
 * NULL out; CONSTRA_E_BUFFER_TOO_SMALL (param "out") when out_size < 13,
 * checked before the input. Thread-safe.
 */
CONSTRA_API int constra_msisdn_normalize(const char *input, size_t max_len, char *out,
                                         size_t out_size, constra_error *err);

/**
 * Strict-mode check: is `msisdn` in a range allocated to Safaricom
 * (doc/DARAJA.md section 8: 0110-0119, 0140-0145, 0180-0189, 0700-0729,
 * 0740-0749 except 0744 and 0747, 0757-0759, 0768-0769, 0790-0799)?
 *
 * `msisdn` is any form constra_msisdn_normalize() accepts (NUL-terminated,
 * at most CONSTRA_MSISDN_INPUT_MAX + 1 bytes read); it is normalised
 * first, with the same errors. Returns CONSTRA_OK for a Safaricom range;
 * CONSTRA_E_INVALID_ARGUMENT with code "phone_not_safaricom" (param
 * "phone") and a message naming the range's holder (Airtel, Telkom, ...)
 * otherwise.
 *
 * Kenya has number portability: a prefix does not prove the network.
 * Use this as a warning or an opt-in strict mode, not as the only gate.
 * Thread-safe.
 */
CONSTRA_API int constra_msisdn_is_safaricom(const char *msisdn, constra_error *err);

/* ---- Amounts ----------------------------------------------------------- */

/** Smallest M-Pesa amount: 1 shilling. */
#define CONSTRA_MPESA_AMOUNT_MIN 1
/** Default per-transaction maximum (Daraja portal FAQ: Ksh 250,000). */
#define CONSTRA_MPESA_AMOUNT_MAX_DEFAULT 250000
/** Longest amount text accepted, in bytes. */
#define CONSTRA_MPESA_AMOUNT_TEXT_MAX 32

/**
 * Checks an amount in whole shillings: CONSTRA_MPESA_AMOUNT_MIN <=
 * amount <= max_amount. `max_amount` 0 means
 * CONSTRA_MPESA_AMOUNT_MAX_DEFAULT; any positive value is accepted (the
 * limit has changed over the years, and merchants may have lower ones).
 * Errors: CONSTRA_E_INVALID_ARGUMENT, param "amount", code
 * "amount_negative", "amount_too_small" (0) or "amount_too_large"; param
 * "max_amount" (code "parameter_invalid") for a negative max_amount.
 * Thread-safe.
 */
CONSTRA_API int constra_mpesa_amount_check(int64_t amount, int64_t max_amount,
                                           constra_error *err);

/**
 * Parses an amount given as text ("10", "10.00", "1.00" from a callback)
 * into whole shillings, then checks it like constra_mpesa_amount_check().
 *
 * Grammar, after dropping leading/trailing ASCII whitespace: one or more
 * ASCII digits (leading zeros allowed: decimal, never octal), optionally
 * followed by '.' and one or more digits that must all be '0'. Refused:
 * a non-zero fraction ("10.5", code "amount_not_whole"), a sign ('-' gives
 * "amount_negative", '+' is "amount_invalid"), group separators, spaces
 * inside, exponents, "10.", ".5", and empty text ("amount_invalid").
 * Values too large for any limit are refused as "amount_too_large" (never
 * wrapped). `text` is NUL-terminated; at most
 * min(max_len, CONSTRA_MPESA_AMOUNT_TEXT_MAX) + 1 bytes are read, longer
 * text is "amount_invalid". *out is written only on success.
 * Errors: CONSTRA_E_INVALID_ARGUMENT, param "amount" (codes above,
 * "parameter_missing" for NULL), "max_amount" or "out". Thread-safe.
 */
CONSTRA_API int constra_mpesa_amount_parse(const char *text, size_t max_len, int64_t max_amount,
                                           int64_t *out, constra_error *err);

/* ---- Free-text fields -------------------------------------------------- */

/** Free-text request fields. Append-only; never renumbered. */
typedef enum constra_mpesa_field {
    /** STK AccountReference: 1 to 12 characters, shown to the customer
     *  (for a paybill it is the account number). No default. */
    CONSTRA_MPESA_FIELD_ACCOUNT_REFERENCE = 1,
    /** STK TransactionDesc: 1 to 13 characters. Always sent (Daraja
     *  rejects a missing one with "Invalid Remarks"): sanitising an empty
     *  or unusable text gives the default "Payment". */
    CONSTRA_MPESA_FIELD_TRANSACTION_DESC = 2,
    /** Remarks of B2C, transaction status, balance, reversal: 2 to 100
     *  characters. No default. */
    CONSTRA_MPESA_FIELD_REMARKS = 3,
    /** Occasion of B2C and related requests: optional, 0 to 100. */
    CONSTRA_MPESA_FIELD_OCCASION = 4
    /* Append new fields here. Never renumber. */
} constra_mpesa_field;

#define CONSTRA_MPESA_ACCOUNT_REFERENCE_MAX 12
#define CONSTRA_MPESA_TRANSACTION_DESC_MAX 13
#define CONSTRA_MPESA_REMARKS_MAX 100
#define CONSTRA_MPESA_OCCASION_MAX 100
/** The default TransactionDesc used by sanitising. */
#define CONSTRA_MPESA_TRANSACTION_DESC_DEFAULT "Payment"
/** Longest text constra_mpesa_field_sanitize() accepts, in bytes. */
#define CONSTRA_MPESA_FIELD_INPUT_MAX 4096

/* Bits of the `changes` reported by constra_mpesa_field_sanitize(). */
/** A character outside the safe set was removed or replaced. */
#define CONSTRA_SANITIZE_REPLACED 0x1u
/** Leading/trailing spaces were dropped or runs of spaces collapsed. */
#define CONSTRA_SANITIZE_WHITESPACE 0x2u
/** The text was cut to the field's maximum length. */
#define CONSTRA_SANITIZE_TRUNCATED 0x4u
/** Nothing usable was left and the field's default was used. */
#define CONSTRA_SANITIZE_DEFAULTED 0x8u

/**
 * Checks `text` for `field` (a constra_mpesa_field) without changing it.
 *
 * The safe character set is ASCII letters, digits, space and '-'
 * (doc/DARAJA.md 3.1: '@', '#', '&' and the like have made Daraja fail
 * silently). Valid means: length within the field's limits, only safe
 * characters, no leading or trailing space and no two spaces in a row.
 * A text is valid exactly when constra_mpesa_field_sanitize() would leave
 * it unchanged.
 *
 * `text`: NUL-terminated; at most min(max_len, field maximum) + 1 bytes
 * are read. Errors: CONSTRA_E_INVALID_ARGUMENT with param the field's
 * name ("account_reference", "transaction_desc", "remarks", "occasion")
 * and code "parameter_missing" (NULL), "field_empty", "field_too_short",
 * "field_too_long" (also: no NUL within max_len), "field_invalid_character"
 * (message names it and its position) or "field_whitespace"; param
 * "field" for an unknown field. Thread-safe.
 */
CONSTRA_API int constra_mpesa_field_check(int field, const char *text, size_t max_len,
                                          constra_error *err);

/**
 * Produces the safe version of `text` for `field` into `out`:
 *   1. ASCII whitespace becomes a space; '_' '.' '/' '\\' ',' ':' ';' '|'
 *      become '-'; every other character outside the safe set (including
 *      every byte of a non-ASCII UTF-8 character) is removed;
 *   2. leading and trailing spaces are dropped and runs of spaces
 *      collapse to one;
 *   3. the result is cut to the field's maximum (trailing space dropped);
 *   4. a result shorter than the field's minimum becomes the field's
 *      default if it has one (TransactionDesc: "Payment"), else is an
 *      error.
 * *changes (may be NULL) gets the CONSTRA_SANITIZE_* bits of what was
 * done, 0 when out equals text. A caller that must not alter a reference
 * silently (a paybill account number) should refuse on
 * CONSTRA_SANITIZE_TRUNCATED or use constra_mpesa_field_check() instead.
 *
 * `text`: NUL-terminated; at most min(max_len, CONSTRA_MPESA_FIELD_INPUT_MAX)
 * + 1 bytes are read. `out`: at least the field's maximum + 1 bytes
 * (13, 14, 101, 101); may be the same buffer as `text`.
 * Errors: CONSTRA_E_INVALID_ARGUMENT (param the field's name: code
 * "parameter_missing", "field_too_long" for input over the bound,
 * "field_empty" / "field_too_short" when nothing usable is left and there
 * is no default; param "field" or "out"); CONSTRA_E_BUFFER_TOO_SMALL
 * (param "out"). Out and *changes untouched on error. Thread-safe.
 */
CONSTRA_API int constra_mpesa_field_sanitize(int field, const char *text, size_t max_len,
                                             char *out, size_t out_size, unsigned *changes,
                                             constra_error *err);

CONSTRA_END_DECLS

#endif /* CONSTRA_MPESA_FIELDS_H */
