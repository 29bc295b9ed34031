/*
 * libconstra — the catalogue of M-Pesa (Daraja) result and error codes.
 *
 * Turns a code Safaricom sent (STK callback/query ResultCode, the
 * Result.ResultCode of B2C and related asynchronous results, a C2B
 * validation code, or a synchronous dotted `errorCode`) into an outcome
 * class, a short description and a recovery note in plain words.
 *
 * The same code means different things in different APIs (2001 is the
 * customer's wrong PIN in STK, but wrong API credentials in B2C), so every
 * lookup names the API context, or asks for a guess from the code's shape.
 *
 * Safety rule: a code this catalogue does not know classifies as
 * CONSTRA_OUTCOME_REVIEW_REQUIRED with `known` = 0 — never as success and
 * never as failure. Classify by code, never by description text; the
 * message is consulted only for the few codes Safaricom reuses for
 * unrelated meanings (500.001.1001, 500.003.1001, the 100000000 gateway
 * range), and an unrecognised message there also gives review_required.
 *
 * Everything here is pure: no handle, no I/O, no allocation. All strings
 * handed out are static storage (valid for the life of the process, never
 * freed). All functions are thread-safe.
 */
#ifndef CONSTRA_RESULT_CODES_H
#define CONSTRA_RESULT_CODES_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "export.h"

CONSTRA_BEGIN_DECLS

/**
 * Outcome classes. Append-only; never renumbered. 0 is "none" so that a
 * zero-filled result never claims success.
 */
typedef enum constra_outcome {
    /** No classification (a zero-filled constra_result_info). */
    CONSTRA_OUTCOME_NONE = 0,
    /** Money moved / the request was completed. */
    CONSTRA_OUTCOME_SUCCEEDED = 1,
    /** Still in flight: keep waiting for the callback or query again
     *  later. Never start a new payment attempt on this answer. */
    CONSTRA_OUTCOME_PENDING = 2,
    /** Did not complete for a reason the customer or caller can fix
     *  (cancelled, timed out, wrong PIN, insufficient funds): a new
     *  attempt may succeed. Intent status `requires_recovery`. */
    CONSTRA_OUTCOME_REQUIRES_RECOVERY = 3,
    /** Did not complete because of a temporary system or rate condition:
     *  retry after a delay. Intent status `requires_recovery` with the
     *  action `retry_later`. */
    CONSTRA_OUTCOME_RETRY_LATER = 4,
    /** Terminal failure of this request (bad amount, bad field, recipient
     *  not on M-Pesa): retrying it unchanged will not help. */
    CONSTRA_OUTCOME_FAILED = 5,
    /** Terminal failure caused by the merchant's setup (credentials,
     *  shortcode, product assignment, URLs): fix the configuration; do
     *  not retry. Intent status `failed` with an operator note. */
    CONSTRA_OUTCOME_FAILED_CONFIGURATION = 6,
    /** Ambiguous: unknown code, duplicate detection, a code whose meaning
     *  is uncertain. Money may or may not have moved: a person (or a
     *  status query) must decide. */
    CONSTRA_OUTCOME_REVIEW_REQUIRED = 7
    /* Append new classes here. Never renumber. */
} constra_outcome;

/** API contexts a code is read in. Append-only; never renumbered. */
typedef enum constra_mpesa_api {
    /** Guess the context from the code's shape: a code containing '.' is
     *  a synchronous errorCode (SYNC); one starting "C2B" is a C2B
     *  validation code (C2B); "R" followed by digits (reversal results)
     *  and all-digit codes of 9 or more digits (gateway codes) are
     *  asynchronous results (B2C); anything else is read as STK. */
    CONSTRA_MPESA_API_AUTO = 0,
    /** STK push (M-Pesa Express): callback ResultCode and STK query
     *  ResultCode. */
    CONSTRA_MPESA_API_STK = 1,
    /** Asynchronous Result.ResultCode of B2C, B2B, reversal, transaction
     *  status and account balance requests (one table in Daraja's docs;
     *  their codes do not conflict). */
    CONSTRA_MPESA_API_B2C = 2,
    /** C2B validation response codes (C2B00011 ... C2B00016, 0). */
    CONSTRA_MPESA_API_C2B = 3,
    /** Synchronous answers of any API: the dotted `errorCode` of the
     *  error envelope (400.002.02, 500.001.1001, ...) and the
     *  `ResponseCode` of an accepted request ("0" = accepted, pending). */
    CONSTRA_MPESA_API_SYNC = 4
    /* Append new contexts here. Never renumber. */
} constra_mpesa_api;

/** Longest code accepted, in bytes, before trimming. */
#define CONSTRA_MPESA_CODE_MAX 64

/** Pass as code_len when `code` is NUL-terminated (at most
 *  CONSTRA_MPESA_CODE_MAX + 1 bytes are read). */
#define CONSTRA_MPESA_CODE_NTS ((size_t)-1)

/** Only this many leading bytes of a message are examined. */
#define CONSTRA_MPESA_MESSAGE_SCAN_MAX 1024

/**
 * What a code means. Caller-owned; initialise with CONSTRA_RESULT_INFO_INIT
 * or constra_result_info_init() before passing it to a lookup (the library
 * reads struct_size to know which fields the caller's copy has).
 */
typedef struct constra_result_info {
    /** sizeof(constra_result_info) as the caller compiled it. */
    size_t struct_size;
    /** The context the code was classified in (a constra_mpesa_api;
     *  never CONSTRA_MPESA_API_AUTO after a lookup). */
    int api;
    /** The outcome class (a constra_outcome). */
    int outcome;
    /** 1 if the code is in the catalogue, 0 if unknown (then outcome is
     *  CONSTRA_OUTCOME_REVIEW_REQUIRED and the texts are generic). */
    int known;
    /** 1 if a new attempt is allowed (outcome REQUIRES_RECOVERY or
     *  RETRY_LATER; read recovery_note for the conditions), else 0. */
    int retry_allowed;
    /** Short description of the code in this context. Static storage. */
    const char *description;
    /** What to do next, in plain words. Static storage. */
    const char *recovery_note;
    /** One of "retry", "retry_later", "contact_customer",
     *  "operator_review", "none". Static storage. */
    const char *recommended_action;
    /** For codes whose meaning depends on the message: the lower-case
     *  text that selected this entry (matched case-insensitively as a
     *  substring of the message); "" when the message played no part.
     *  Static storage. */
    const char *message_match;
    /** The code as classified: the input with surrounding ASCII
     *  whitespace removed, NUL-terminated. */
    char code[CONSTRA_MPESA_CODE_MAX + 1];
    /* New fields are appended here. */
} constra_result_info;

/** Static initialiser: `constra_result_info info = CONSTRA_RESULT_INFO_INIT;` */
#define CONSTRA_RESULT_INFO_INIT { sizeof(constra_result_info), 0, 0, 0, 0, \
    NULL, NULL, NULL, NULL, "" }

/**
 * Run-time initialiser (for FFI languages): zero-fills `info` and sets
 * struct_size to `struct_size` (pass sizeof(constra_result_info) as the
 * caller sees it). Returns CONSTRA_OK, CONSTRA_E_INVALID_ARGUMENT if
 * `info` is NULL, or CONSTRA_E_ABI if struct_size is below the first
 * version's size or absurdly large. Thread-safe (touches only `info`).
 */
CONSTRA_API int constra_result_info_init(constra_result_info *info, size_t struct_size);

/**
 * Classifies `code` in the context `api` (a constra_mpesa_api).
 *
 * `code`: exactly `code_len` bytes (need not be NUL-terminated), or a
 * NUL-terminated string when code_len is CONSTRA_MPESA_CODE_NTS. Codes
 * arrive as JSON numbers or strings: pass the number's decimal text, or
 * use constra_mpesa_result_lookup_int(). Normalisation: leading and
 * trailing ASCII whitespace (space, \t, \n, \v, \f, \r) is removed;
 * nothing else is rewritten. Codes are matched exactly and
 * case-sensitively ("SFC_IC0003", not "sfc_ic0003"), and all-digit codes
 * are not stripped of leading zeros ("01032" is not 1032): a code in an
 * unexpected spelling is unknown, hence review_required, never guessed.
 *
 * A dotted code (containing '.') is a synchronous errorCode and is always
 * classified in CONSTRA_MPESA_API_SYNC, whatever `api` says: Daraja's
 * dotted codes are shared by all APIs and no ResultCode contains a dot.
 *
 * `message`: the accompanying text (errorMessage, ResultDesc), or NULL.
 * NUL-terminated; at most CONSTRA_MPESA_MESSAGE_SCAN_MAX bytes are read.
 * It only matters for codes with several meanings (e.g. 500.001.1001:
 * "The transaction is being processed" -> pending, "Merchant does not
 * exist" -> failed_configuration, "Unable to lock subscriber" ->
 * retry_later); without a recognised message those give review_required.
 *
 * On success fills `out` (which must have been initialised, see
 * constra_result_info) and returns CONSTRA_OK — also for an unknown
 * code, which gives known = 0 and CONSTRA_OUTCOME_REVIEW_REQUIRED.
 * Errors (out untouched): CONSTRA_E_INVALID_ARGUMENT with param "code"
 * (NULL, empty or only whitespace, longer than CONSTRA_MPESA_CODE_MAX
 * bytes, a NUL byte within code_len, whitespace inside the code, or a
 * byte outside printable ASCII), param "api" (not a constra_mpesa_api) or
 * param "out" (NULL); CONSTRA_E_ABI for a bad out->struct_size.
 * `err` may be NULL. Thread-safe.
 */
CONSTRA_API int constra_mpesa_result_lookup(const char *code, size_t code_len, int api,
                                            const char *message, constra_result_info *out,
                                            constra_error *err);

/**
 * As constra_mpesa_result_lookup() for a code that arrived as a JSON
 * number: `code` is formatted as decimal (0 -> "0", 1032 -> "1032").
 * Negative numbers are accepted and are unknown codes.
 */
CONSTRA_API int constra_mpesa_result_lookup_int(int64_t code, int api, const char *message,
                                                constra_result_info *out, constra_error *err);

/**
 * Number of entries in the catalogue. A code with several meanings
 * selected by message has one entry per meaning (plus one with an empty
 * message_match, used when no message matches). Thread-safe.
 */
CONSTRA_API size_t constra_mpesa_result_count(void);

/**
 * The index-th catalogue entry (0 <= index < count), for tools and
 * documentation: fills `out` as a lookup of that entry would (known = 1).
 * Entries are grouped by API context, in a fixed order. The B2C gateway
 * codes 100000000 to 100000011 share entries whose code reads
 * "100000000-100000011".
 * Errors: CONSTRA_E_INVALID_ARGUMENT (index out of range: param "index";
 * NULL out), CONSTRA_E_ABI (bad out->struct_size). Thread-safe.
 */
CONSTRA_API int constra_mpesa_result_at(size_t index, constra_result_info *out,
                                        constra_error *err);

/**
 * The name of an outcome class: "none", "succeeded", "pending",
 * "requires_recovery", "retry_later", "failed", "failed_configuration",
 * "review_required"; "unknown" for any other value. Static storage, never
 * NULL. Thread-safe.
 */
CONSTRA_API const char *constra_outcome_name(int outcome);

/**
 * The name of an API context: "auto", "stk", "b2c", "c2b", "sync";
 * "unknown" for any other value. Static storage, never NULL. Thread-safe.
 */
CONSTRA_API const char *constra_mpesa_api_name(int api);

/**
 * Parses an API context name as printed by constra_mpesa_api_name()
 * ("auto", "stk", "b2c", "c2b", "sync"; exact, lower-case; at most 16
 * bytes of `name` are read) into *api.
 * Errors: CONSTRA_E_INVALID_ARGUMENT (param "name" or "api"). Thread-safe.
 */
CONSTRA_API int constra_mpesa_api_parse(const char *name, int *api, constra_error *err);

CONSTRA_END_DECLS

#endif /* CONSTRA_RESULT_CODES_H */
