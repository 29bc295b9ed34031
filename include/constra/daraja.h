/*
 * libconstra — Safaricom Daraja (M-Pesa) requests and responses.
 *
 * The pure layer: request builders and response / callback parsers with
 * no handle and no I/O. Everything is written into caller memory:
 *
 *   - builders write JSON (or a header value) into `char *out, size_t
 *     out_size` and report the length in `*out_len`;
 *   - parsers take the raw body as pointer + length (it need not be
 *     NUL-terminated) and fill a caller-owned, versioned result struct
 *     made of fixed-size char arrays: no pointer into the input survives
 *     the call and nothing is handed back to free.
 *
 * Time: no function reads a clock. Builders take the current time as
 * `now_unix` (seconds since 1970-01-01 UTC); Daraja timestamps are East
 * Africa Time (UTC+3, no daylight saving), YYYYMMDDHHMMSS.
 *
 * Memory: the parsers use cJSON, which allocates through its own
 * allocator (malloc, unless the host process called cJSON_InitHooks);
 * every such allocation is freed before the call returns. Builders do not
 * allocate.
 *
 * Thread-safety: every function here is reentrant and thread-safe; it
 * touches only its arguments. (The parsers check the body against the
 * JSON grammar themselves before cJSON sees it, so cJSON's failure path,
 * which writes a process-wide error record, is reached only when an
 * allocation fails.)
 *
 * Errors: every function returns CONSTRA_OK or a negative constra_status
 * and, if `err` is not NULL, fills it (see error.h). Messages never
 * contain a passkey, consumer secret, password or access token.
 *
 *   CONSTRA_E_INVALID_ARGUMENT  a NULL pointer (code "parameter_missing"),
 *                               a bad parameter ("parameter_invalid",
 *                               "parameter_invalid_empty"); err->param
 *                               names it, e.g. "params.phone_number".
 *   CONSTRA_E_ABI               a versioned struct with a bad struct_size.
 *   CONSTRA_E_BUFFER_TOO_SMALL  an output buffer is too small; the
 *                               message says how many bytes are needed.
 *   CONSTRA_E_NOMEM             cJSON's allocator failed (parsers).
 *   CONSTRA_E_PARSE             the body is not what Daraja sends. err->code:
 *     "body_empty"              zero-length body;
 *     "body_too_large"          longer than CONSTRA_DARAJA_BODY_MAX;
 *     "callback_malformed" /    not strict JSON (RFC 8259): truncated,
 *     "response_malformed"      trailing data (a trailing NUL included: pass
 *                               the length without it), a NUL byte or a
 *                               "\u0000" escape anywhere, a raw control
 *                               character or an unpaired surrogate escape
 *                               in a string, a number outside the JSON
 *                               grammar or longer than 63 characters,
 *                               comments, nesting deeper than
 *                               CONSTRA_DARAJA_JSON_DEPTH_MAX, a root that
 *                               is not an object, ... (a leading UTF-8 BOM
 *                               is tolerated); "callback_" for what Daraja
 *                               POSTs to us, "response_" for what it
 *                               answers our requests with;
 *     "response_unexpected"     a shape that does not fit the HTTP status
 *                               (e.g. a success body with HTTP 500);
 *     "field_missing"           a required field is absent or null;
 *     "field_invalid"           wrong JSON type, bad characters, a
 *                               fraction where a whole number is needed,
 *                               out of range, an array where an object is
 *                               expected, ...;
 *     "field_too_long"          a text longer than its result field (ids
 *                               are never truncated);
 *     "field_duplicate"         a key the parser reads appears twice in
 *                               one object, or a known Item /
 *                               ResultParameter name appears twice.
 *                               and err->param holds the JSON path of the
 *                               field, e.g. "Body.stkCallback.ResultCode"
 *                               or "Body.stkCallback.CallbackMetadata.Item[0].Value".
 *
 * Parsing rules common to all parsers (Daraja mixes numbers and strings):
 *   - keys are matched case-sensitively; unknown keys are ignored, but a
 *     key the parser reads must appear at most once in its object
 *     (duplicates are rejected, never "first wins" or "last wins");
 *   - a JSON null counts as absent;
 *   - "code" fields (ResultCode, ResponseCode, errorCode) accept a number
 *     or a string and are reported as text: a number must be whole
 *     ("0", 1032, 1.0 -> "1"); a string is kept as sent if it is 1..31
 *     characters of [A-Za-z0-9_.-] (e.g. "SFC_IC0003", "500.001.1001");
 *   - whole amounts accept a number or a numeric string in JSON number
 *     syntax ("1.00", 1.0, 1, "5.00", 1e2): a non-zero fraction, a
 *     negative value or an overflow is refused (field_invalid);
 *   - digit fields (phone numbers, dates, shortcodes) accept a string or
 *     a plain non-negative integer number (254708374149) and are reported
 *     as the exact digits (no floating point is involved anywhere);
 *   - identifiers must be printable ASCII without spaces; descriptive
 *     texts must be valid UTF-8 without control characters.
 *
 * Result structs: initialise with the _INIT macro or the _init()
 * function. On success the library overwrites the whole struct it knows
 * (struct_size is kept); on failure it zeroes it (struct_size kept), so a
 * failed parse never leaves a stale result behind.
 */
#ifndef CONSTRA_DARAJA_H
#define CONSTRA_DARAJA_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "export.h"

CONSTRA_BEGIN_DECLS

/* ---- endpoints -------------------------------------------------------- */

#define CONSTRA_DARAJA_SANDBOX_BASE_URL "https://sandbox.safaricom.co.ke"
#define CONSTRA_DARAJA_PRODUCTION_BASE_URL "https://api.safaricom.co.ke"
/** OAuth: GET, no body, header `Authorization: Basic ...`. */
#define CONSTRA_DARAJA_OAUTH_METHOD "GET"
#define CONSTRA_DARAJA_OAUTH_PATH "/oauth/v1/generate?grant_type=client_credentials"
/** STK push and STK query: POST, JSON body, `Authorization: Bearer <token>`. */
#define CONSTRA_DARAJA_STK_PUSH_PATH "/mpesa/stkpush/v1/processrequest"
#define CONSTRA_DARAJA_STK_QUERY_PATH "/mpesa/stkpushquery/v1/query"

/* ---- limits and sizes (bytes, NUL included) ----------------------------- */

/** Largest body any parser accepts: 64 KiB. Real Daraja bodies are < 4 KiB. */
#define CONSTRA_DARAJA_BODY_MAX 65536
/** Deepest nesting of JSON arrays/objects accepted (real bodies: 5). */
#define CONSTRA_DARAJA_JSON_DEPTH_MAX 16
/** Default largest STK amount in whole KES (doc/DARAJA.md 7.8). */
#define CONSTRA_DARAJA_AMOUNT_MAX_DEFAULT 250000
/** Longest consumer key / secret / passkey accepted by the builders. */
#define CONSTRA_DARAJA_CREDENTIAL_MAX 256
/** Longest callback URL accepted by the STK push builder. */
#define CONSTRA_DARAJA_URL_MAX 511
/** Longest AccountReference / TransactionDesc (Daraja's documented limits). */
#define CONSTRA_DARAJA_ACCOUNT_REFERENCE_MAX 12
#define CONSTRA_DARAJA_TRANSACTION_DESC_MAX 13

/** Identifiers: MerchantRequestID, CheckoutRequestID, ConversationID, ... */
#define CONSTRA_DARAJA_ID_SIZE 128
/** Result / response / error codes as text: "0", "1032", "500.001.1001". */
#define CONSTRA_DARAJA_CODE_SIZE 32
/** Descriptions and messages. */
#define CONSTRA_DARAJA_TEXT_SIZE 512
/** Names and references (FirstName, BillRefNumber, ...). */
#define CONSTRA_DARAJA_NAME_SIZE 128
/** M-Pesa receipt numbers (10 characters today). */
#define CONSTRA_DARAJA_RECEIPT_SIZE 32
/** A Daraja timestamp YYYYMMDDHHMMSS. */
#define CONSTRA_DARAJA_TIMESTAMP_SIZE 15
/** Phone numbers as reported in callbacks (digits, or masked). */
#define CONSTRA_DARAJA_PHONE_SIZE 32
/** Free-form date-times such as "06.07.2024 22:48:52". */
#define CONSTRA_DARAJA_DATETIME_SIZE 32
/** URLs reported in results (ReferenceData QueueTimeoutURL). */
#define CONSTRA_DARAJA_URL_SIZE 512
/** OAuth access tokens. */
#define CONSTRA_DARAJA_TOKEN_SIZE 512
/** Always enough for an STK password (base64 of shortcode+passkey+timestamp). */
#define CONSTRA_DARAJA_PASSWORD_SIZE 512
/** Always enough for the OAuth Authorization header value. */
#define CONSTRA_DARAJA_AUTH_HEADER_SIZE 700

/* ---- builders ----------------------------------------------------------- */

/**
 * The OAuth token request: GET CONSTRA_DARAJA_OAUTH_PATH with header
 * `Authorization: <out>`, where out = "Basic " + base64(key ":" secret).
 *
 * consumer_key: 1..CONSTRA_DARAJA_CREDENTIAL_MAX bytes of printable ASCII
 * without space or ':'. consumer_secret: the same, ':' allowed. (Stray
 * spaces copied from the portal are a classic cause of auth failures, so
 * they are refused rather than sent.)
 * method, path: if not NULL, receive static strings (the macros above).
 * out: the header value, NUL-terminated; CONSTRA_DARAJA_AUTH_HEADER_SIZE
 * always suffices. out_len (may be NULL): its length without the NUL.
 *
 * The header value is a secret (it decodes to the key and secret).
 * Errors: CONSTRA_E_INVALID_ARGUMENT (param "consumer_key",
 * "consumer_secret", "out"), CONSTRA_E_BUFFER_TOO_SMALL (out untouched,
 * *out_len = the out_size needed, NUL included).
 */
CONSTRA_API int constra_daraja_oauth_request(const char *consumer_key,
                                             const char *consumer_secret, const char **method,
                                             const char **path, char *out, size_t out_size,
                                             size_t *out_len, constra_error *err);

/**
 * Formats `now_unix` as a Daraja timestamp in East Africa Time (UTC+3):
 * 14 digits YYYYMMDDHHMMSS and a NUL into `out` (out_size >= 15).
 * now_unix must be >= 0 and give a year <= 9999 in EAT.
 * Errors: CONSTRA_E_INVALID_ARGUMENT (param "now_unix", "out"),
 * CONSTRA_E_BUFFER_TOO_SMALL.
 */
CONSTRA_API int constra_daraja_timestamp(int64_t now_unix, char *out, size_t out_size,
                                         constra_error *err);

/**
 * The STK password: base64(shortcode + passkey + timestamp), plain
 * concatenation. shortcode: 5..7 digits; passkey:
 * 1..CONSTRA_DARAJA_CREDENTIAL_MAX bytes of printable ASCII without
 * space; timestamp: a valid YYYYMMDDHHMMSS. out gets the NUL-terminated
 * base64 (CONSTRA_DARAJA_PASSWORD_SIZE always suffices); out_len (may be
 * NULL) its length. The password is a secret: it decodes to the passkey.
 * Errors: CONSTRA_E_INVALID_ARGUMENT (param "shortcode", "passkey",
 * "timestamp", "out"), CONSTRA_E_BUFFER_TOO_SMALL (*out_len = needed).
 */
CONSTRA_API int constra_daraja_password(const char *shortcode, const char *passkey,
                                        const char *timestamp, char *out, size_t out_size,
                                        size_t *out_len, constra_error *err);

/** STK push flavours (TransactionType). */
typedef enum constra_daraja_stk_type {
    /** CustomerPayBillOnline: PartyB = BusinessShortCode (the Paybill). */
    CONSTRA_DARAJA_STK_PAYBILL = 1,
    /** CustomerBuyGoodsOnline: BusinessShortCode = the HO/store number used
     *  at Go-Live, PartyB = the Till number. */
    CONSTRA_DARAJA_STK_TILL = 2
} constra_daraja_stk_type;

/**
 * What an STK push asks for. Initialise with CONSTRA_DARAJA_STK_PUSH_INIT
 * or constra_daraja_stk_push_params_init(); fields are appended over
 * time, never reordered. Read only during the call; no pointer is kept.
 */
typedef struct constra_daraja_stk_push_params {
    /** sizeof(constra_daraja_stk_push_params) as the caller compiled it. */
    size_t struct_size;
    /** A constra_daraja_stk_type; 0 is refused (choose explicitly). */
    int transaction_type;
    /** BusinessShortCode, 5..7 digits: the Paybill, or for a Till the
     *  HO/store number (NOT the till number). Also what the password is
     *  made of. */
    const char *business_shortcode;
    /** TILL only: the Till number (PartyB), 5..7 digits. Must be NULL for
     *  PAYBILL (PartyB is then the shortcode): mixing the two up is what
     *  makes Daraja answer 2028 / SFC_IC0003. */
    const char *till_number;
    /** The Lipa na M-Pesa passkey of business_shortcode (a secret). */
    const char *passkey;
    /** Whole KES, 1..amount_max. */
    int64_t amount;
    /** Largest amount accepted; 0 means CONSTRA_DARAJA_AMOUNT_MAX_DEFAULT. */
    int64_t amount_max;
    /** Paying MSISDN (PartyA and PhoneNumber), already normalised:
     *  "254" then 7 or 1 then 8 digits (12 digits). */
    const char *phone_number;
    /** CallBackURL: "https://host..." (at most CONSTRA_DARAJA_URL_MAX bytes
     *  of printable ASCII without space, quotes, <>, {}, |, \, ^, `). */
    const char *callback_url;
    /** AccountReference, 1..12 characters of [A-Za-z0-9 -] (shown to the
     *  customer; special characters are known to cause silent failures). */
    const char *account_reference;
    /** TransactionDesc, 1..13 characters of [A-Za-z0-9 -]; always sent
     *  (Daraja rejects a missing one with "Invalid Remarks"). */
    const char *transaction_desc;
    /** Non-zero: also accept an "http://" callback_url (sandbox only;
     *  production requires HTTPS). */
    int allow_insecure_callback;
    /* New fields are appended here. */
} constra_daraja_stk_push_params;

#define CONSTRA_DARAJA_STK_PUSH_INIT \
    { sizeof(constra_daraja_stk_push_params), 0, NULL, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, 0 }

/** Run-time initialiser (FFI): zeroes and sets struct_size. Returns
 *  CONSTRA_OK, CONSTRA_E_INVALID_ARGUMENT (NULL) or CONSTRA_E_ABI. */
CONSTRA_API int constra_daraja_stk_push_params_init(constra_daraja_stk_push_params *params,
                                                    size_t struct_size);

/**
 * Builds the STK push JSON body (POST CONSTRA_DARAJA_STK_PUSH_PATH):
 * BusinessShortCode, Password, Timestamp, TransactionType, Amount, PartyA,
 * PartyB, PhoneNumber, CallBackURL, AccountReference, TransactionDesc.
 * The timestamp is computed once from now_unix (EAT) and the same bytes
 * are used in the Password.
 *
 * out: the NUL-terminated JSON; *out_len (out_len required) its length.
 * timestamp (may be NULL): receives the Timestamp (timestamp_size >= 15).
 * password (may be NULL): receives the Password (a secret: do not log
 * it in production; CONSTRA_DARAJA_PASSWORD_SIZE suffices).
 * Nothing is written unless everything fits.
 *
 * Errors: CONSTRA_E_INVALID_ARGUMENT (param "params.<field>", "now_unix",
 * "out", "out_len"), CONSTRA_E_ABI (params.struct_size),
 * CONSTRA_E_BUFFER_TOO_SMALL (param "out", "timestamp" or "password";
 * for "out", *out_len = the out_size needed, NUL included).
 */
CONSTRA_API int constra_daraja_stk_push_body(const constra_daraja_stk_push_params *params,
                                             int64_t now_unix, char *out, size_t out_size,
                                             size_t *out_len, char *timestamp,
                                             size_t timestamp_size, char *password,
                                             size_t password_size, constra_error *err);

/**
 * What an STK query asks for. Initialise with CONSTRA_DARAJA_STK_QUERY_INIT
 * or constra_daraja_stk_query_params_init().
 */
typedef struct constra_daraja_stk_query_params {
    /** sizeof(constra_daraja_stk_query_params) as the caller compiled it. */
    size_t struct_size;
    /** BusinessShortCode, 5..7 digits (the one the push used). */
    const char *business_shortcode;
    /** Its passkey (a secret). */
    const char *passkey;
    /** The CheckoutRequestID the push response returned: 1..127 bytes of
     *  printable ASCII without space. */
    const char *checkout_request_id;
    /* New fields are appended here. */
} constra_daraja_stk_query_params;

#define CONSTRA_DARAJA_STK_QUERY_INIT { sizeof(constra_daraja_stk_query_params), NULL, NULL, NULL }

/** Run-time initialiser (FFI): zeroes and sets struct_size. */
CONSTRA_API int constra_daraja_stk_query_params_init(constra_daraja_stk_query_params *params,
                                                     size_t struct_size);

/**
 * Builds the STK query JSON body (POST CONSTRA_DARAJA_STK_QUERY_PATH):
 * BusinessShortCode, Password, Timestamp, CheckoutRequestID. Outputs and
 * errors as constra_daraja_stk_push_body().
 */
CONSTRA_API int constra_daraja_stk_query_body(const constra_daraja_stk_query_params *params,
                                              int64_t now_unix, char *out, size_t out_size,
                                              size_t *out_len, char *timestamp,
                                              size_t timestamp_size, char *password,
                                              size_t password_size, constra_error *err);

/* ---- parsers ------------------------------------------------------------ */

/**
 * The synchronous error envelope every Daraja API may answer with, at
 * any HTTP status: {"requestId": ..., "errorCode": "400.002.02",
 * "errorMessage": "Bad Request - Invalid BusinessShortCode"}.
 */
typedef struct constra_daraja_error_envelope {
    size_t struct_size;
    /** The http_status given to the parser. */
    int http_status;
    /** requestId ("" if absent). */
    char request_id[CONSTRA_DARAJA_ID_SIZE];
    /** errorCode (required), e.g. "500.001.1001". */
    char error_code[CONSTRA_DARAJA_CODE_SIZE];
    /** errorMessage ("" if absent). Log it whole: for 400.002.02 it names
     *  the bad field. */
    char error_message[CONSTRA_DARAJA_TEXT_SIZE];
} constra_daraja_error_envelope;

#define CONSTRA_DARAJA_ERROR_ENVELOPE_INIT { sizeof(constra_daraja_error_envelope), 0, "", "", "" }
CONSTRA_API int constra_daraja_error_envelope_init(constra_daraja_error_envelope *out,
                                                   size_t struct_size);

/**
 * Parses an error envelope. http_status: 100..599, recorded as is.
 * errorCode is required (field_missing otherwise, e.g. for Apigee fault
 * bodies or an empty JSON object).
 */
CONSTRA_API int constra_daraja_parse_error_envelope(const char *body, size_t len,
                                                    int http_status,
                                                    constra_daraja_error_envelope *out,
                                                    constra_error *err);

/** What an STK push answer says. */
typedef enum constra_daraja_push_outcome {
    /** HTTP 2xx, ResponseCode "0": the prompt is queued (NOT paid).
     *  merchant_request_id and checkout_request_id are set. */
    CONSTRA_DARAJA_PUSH_ACCEPTED = 1,
    /** HTTP 2xx with a non-zero ResponseCode: not queued. */
    CONSTRA_DARAJA_PUSH_REJECTED = 2,
    /** An error envelope: error_* are set. */
    CONSTRA_DARAJA_PUSH_ERROR = 3
} constra_daraja_push_outcome;

/** The synchronous answer to an STK push. */
typedef struct constra_daraja_stk_push_response {
    size_t struct_size;
    /** A constra_daraja_push_outcome. */
    int outcome;
    int http_status;
    char merchant_request_id[CONSTRA_DARAJA_ID_SIZE];
    char checkout_request_id[CONSTRA_DARAJA_ID_SIZE];
    char response_code[CONSTRA_DARAJA_CODE_SIZE];
    char response_description[CONSTRA_DARAJA_TEXT_SIZE];
    char customer_message[CONSTRA_DARAJA_TEXT_SIZE];
    /** Error envelope fields (outcome ERROR only). */
    char error_request_id[CONSTRA_DARAJA_ID_SIZE];
    char error_code[CONSTRA_DARAJA_CODE_SIZE];
    char error_message[CONSTRA_DARAJA_TEXT_SIZE];
} constra_daraja_stk_push_response;

#define CONSTRA_DARAJA_STK_PUSH_RESPONSE_INIT \
    { sizeof(constra_daraja_stk_push_response), 0, 0, "", "", "", "", "", "", "", "" }
CONSTRA_API int constra_daraja_stk_push_response_init(constra_daraja_stk_push_response *out,
                                                      size_t struct_size);

/**
 * Parses the answer to an STK push. A body with errorCode is an envelope
 * (outcome ERROR, any status). Otherwise the status must be 2xx
 * ("response_unexpected" if not) and ResponseCode is required; with "0"
 * both MerchantRequestID and CheckoutRequestID are required. A body with
 * both errorCode and ResponseCode is refused as ambiguous.
 */
CONSTRA_API int constra_daraja_parse_stk_push_response(const char *body, size_t len,
                                                       int http_status,
                                                       constra_daraja_stk_push_response *out,
                                                       constra_error *err);

/** What an STK query answer says. */
typedef enum constra_daraja_query_state {
    /** The payment reached a final result: result_code / result_desc
     *  ("0" = paid; anything else per the result-code table).
     *  checkout_request_id is set: check it matches the one queried. */
    CONSTRA_DARAJA_QUERY_FINAL = 1,
    /** Still in flight, keep waiting: HTTP 200 with ResultCode "4999", or
     *  the envelope errorCode "500.001.1001" whose errorMessage says
     *  "being processed" (any HTTP status, normally 500). */
    CONSTRA_DARAJA_QUERY_PENDING = 2,
    /** Any other error envelope (error_* set): the query itself failed;
     *  this says nothing about the payment. */
    CONSTRA_DARAJA_QUERY_ERROR = 3
} constra_daraja_query_state;

/** The answer to an STK query. The query never carries a receipt. */
typedef struct constra_daraja_stk_query_response {
    size_t struct_size;
    /** A constra_daraja_query_state. */
    int state;
    int http_status;
    /** ResultCode / ResultDesc as text ("" for an envelope). */
    char result_code[CONSTRA_DARAJA_CODE_SIZE];
    char result_desc[CONSTRA_DARAJA_TEXT_SIZE];
    char response_code[CONSTRA_DARAJA_CODE_SIZE];
    char response_description[CONSTRA_DARAJA_TEXT_SIZE];
    char merchant_request_id[CONSTRA_DARAJA_ID_SIZE];
    char checkout_request_id[CONSTRA_DARAJA_ID_SIZE];
    /** Error envelope fields (also for the 500.001.1001 pending shape). */
    char error_request_id[CONSTRA_DARAJA_ID_SIZE];
    char error_code[CONSTRA_DARAJA_CODE_SIZE];
    char error_message[CONSTRA_DARAJA_TEXT_SIZE];
} constra_daraja_stk_query_response;

#define CONSTRA_DARAJA_STK_QUERY_RESPONSE_INIT \
    { sizeof(constra_daraja_stk_query_response), 0, 0, "", "", "", "", "", "", "", "", "" }
CONSTRA_API int constra_daraja_stk_query_response_init(constra_daraja_stk_query_response *out,
                                                       size_t struct_size);

/**
 * Parses the answer to an STK query (both pending shapes, see
 * constra_daraja_query_state). A result body (ResultCode) needs a 2xx
 * status; a body with both ResultCode and errorCode is refused.
 */
CONSTRA_API int constra_daraja_parse_stk_query_response(const char *body, size_t len,
                                                        int http_status,
                                                        constra_daraja_stk_query_response *out,
                                                        constra_error *err);

/** The STK callback Daraja POSTs to the CallBackURL (Body.stkCallback). */
typedef struct constra_daraja_stk_callback {
    size_t struct_size;
    /** MerchantRequestID, CheckoutRequestID: required, non-empty.
     *  Correlate by CheckoutRequestID (AccountReference is not echoed). */
    char merchant_request_id[CONSTRA_DARAJA_ID_SIZE];
    char checkout_request_id[CONSTRA_DARAJA_ID_SIZE];
    /** ResultCode (required; number or string, e.g. "0", "1032",
     *  "SFC_IC0003") and ResultDesc ("" if absent). Classify by the code,
     *  never by the description. */
    char result_code[CONSTRA_DARAJA_CODE_SIZE];
    char result_desc[CONSTRA_DARAJA_TEXT_SIZE];
    /** Non-zero when CallbackMetadata is present (normally only on
     *  success). Each has_* below says whether that item carried a Value:
     *  an item without Value (e.g. {"Name":"Balance"}) counts as absent.
     *  A result_code of "0" without has_amount / has_receipt is not a
     *  complete payment: confirm it by STK query before trusting it. */
    int has_metadata;
    int has_amount;
    /** Item Amount in whole units (1.00 -> 1; 1.5 is refused). */
    int64_t amount;
    int has_receipt;
    /** Item MpesaReceiptNumber, e.g. "NLJ7RT61SV". */
    char mpesa_receipt_number[CONSTRA_DARAJA_RECEIPT_SIZE];
    int has_transaction_date;
    /** Item TransactionDate as its 14 digits (EAT), e.g. "20191219102115". */
    char transaction_date[CONSTRA_DARAJA_TIMESTAMP_SIZE];
    /** Non-zero when transaction_date is a real calendar time; then
     *  transaction_unix is it in Unix seconds (UTC). */
    int has_transaction_unix;
    int64_t transaction_unix;
    int has_phone_number;
    /** Item PhoneNumber as text: the digits of the number (254708374149)
     *  or the string as sent. */
    char phone_number[CONSTRA_DARAJA_PHONE_SIZE];
} constra_daraja_stk_callback;

#define CONSTRA_DARAJA_STK_CALLBACK_INIT \
    { sizeof(constra_daraja_stk_callback), "", "", "", "", 0, 0, 0, 0, "", 0, "", 0, 0, 0, "" }
CONSTRA_API int constra_daraja_stk_callback_init(constra_daraja_stk_callback *out,
                                                 size_t struct_size);

/**
 * Parses an STK callback body. Structure required: root object with
 * object Body, object stkCallback. CallbackMetadata is optional (absent
 * on failures); when present it must be an object whose Item is an array
 * of objects each with a string Name. Known names: Amount,
 * MpesaReceiptNumber, TransactionDate, PhoneNumber (each at most once);
 * others (Balance, ...) are ignored. A parsed callback is only a claim:
 * callbacks are not signed, so confirm by STK query before trusting one.
 */
CONSTRA_API int constra_daraja_parse_stk_callback(const char *body, size_t len,
                                                  constra_daraja_stk_callback *out,
                                                  constra_error *err);

/** How a C2B payload presents the payer's MSISDN. */
typedef enum constra_daraja_msisdn_form {
    /** No MSISDN field, or an empty one. */
    CONSTRA_DARAJA_MSISDN_ABSENT = 0,
    /** Plain digits, e.g. "254708374149". */
    CONSTRA_DARAJA_MSISDN_PLAIN = 1,
    /** Masked, contains '*': "2547 ***** 126" (C2B v2). */
    CONSTRA_DARAJA_MSISDN_MASKED = 2,
    /** 64 hex digits: a SHA-256 hash (said of C2B v1; uncertain). */
    CONSTRA_DARAJA_MSISDN_HASHED = 3,
    /** Anything else. */
    CONSTRA_DARAJA_MSISDN_OTHER = 4
} constra_daraja_msisdn_form;

/** A C2B validation or confirmation payload. */
typedef struct constra_daraja_c2b {
    size_t struct_size;
    /** TransactionType (required), e.g. "Pay Bill", "Buy Goods". */
    char transaction_type[CONSTRA_DARAJA_NAME_SIZE];
    /** TransID (required): the M-Pesa receipt, the idempotency key. */
    char trans_id[CONSTRA_DARAJA_ID_SIZE];
    /** TransTime (required): 14 digits YYYYMMDDHHMMSS, EAT. */
    char trans_time[CONSTRA_DARAJA_TIMESTAMP_SIZE];
    int has_trans_unix;
    /** TransTime in Unix seconds (UTC) when it is a real calendar time. */
    int64_t trans_unix;
    /** TransAmount (required) in whole units ("5.00" -> 5). */
    int64_t trans_amount;
    /** BusinessShortCode (required): digits. */
    char business_short_code[CONSTRA_DARAJA_CODE_SIZE];
    /** BillRefNumber, InvoiceNumber, ThirdPartyTransID ("" if absent). */
    char bill_ref_number[CONSTRA_DARAJA_NAME_SIZE];
    char invoice_number[CONSTRA_DARAJA_NAME_SIZE];
    char third_party_trans_id[CONSTRA_DARAJA_NAME_SIZE];
    /** OrgAccountBalance in hundredths ("25.00" -> 2500); blank in
     *  validation requests: has_org_account_balance 0. */
    int has_org_account_balance;
    int64_t org_account_balance_cents;
    /** MSISDN as sent ("" if absent) and its form. */
    char msisdn[CONSTRA_DARAJA_NAME_SIZE];
    int msisdn_form;
    char first_name[CONSTRA_DARAJA_NAME_SIZE];
    char middle_name[CONSTRA_DARAJA_NAME_SIZE];
    char last_name[CONSTRA_DARAJA_NAME_SIZE];
} constra_daraja_c2b;

#define CONSTRA_DARAJA_C2B_INIT \
    { sizeof(constra_daraja_c2b), "", "", "", 0, 0, 0, "", "", "", "", 0, 0, "", 0, "", "", "" }
CONSTRA_API int constra_daraja_c2b_init(constra_daraja_c2b *out, size_t struct_size);

/**
 * Parses a C2B validation/confirmation payload (flat object). Values are
 * strings in Daraja's samples; numbers are accepted for the numeric
 * fields (TransAmount, TransTime, BusinessShortCode, MSISDN,
 * OrgAccountBalance).
 */
CONSTRA_API int constra_daraja_parse_c2b(const char *body, size_t len, constra_daraja_c2b *out,
                                         constra_error *err);

/**
 * The asynchronous result of a B2C payment (Result: ...). The same
 * envelope is used by Transaction Status, Reversal and Account Balance
 * results: their common fields parse here too (unknown ResultParameter
 * keys are ignored).
 */
typedef struct constra_daraja_b2c_result {
    size_t struct_size;
    /** ResultType (0 = completed, 1 = waiting for further messages). */
    int64_t result_type;
    /** ResultCode (required) and ResultDesc ("" if absent). */
    char result_code[CONSTRA_DARAJA_CODE_SIZE];
    char result_desc[CONSTRA_DARAJA_TEXT_SIZE];
    /** Required: the correlation keys. */
    char originator_conversation_id[CONSTRA_DARAJA_ID_SIZE];
    char conversation_id[CONSTRA_DARAJA_ID_SIZE];
    /** TransactionID ("" if absent). */
    char transaction_id[CONSTRA_DARAJA_ID_SIZE];
    /** Non-zero when ResultParameters is present (absent on failures). */
    int has_parameters;
    int has_transaction_amount;
    /** TransactionAmount in whole units. */
    int64_t transaction_amount;
    /** TransactionReceipt ("" if absent). */
    char transaction_receipt[CONSTRA_DARAJA_RECEIPT_SIZE];
    /** ReceiverPartyPublicName, e.g. "254705912645 - NICHOLAS JOHN SONGOK". */
    char receiver_party_public_name[CONSTRA_DARAJA_NAME_SIZE];
    /** TransactionCompletedDateTime as sent ("06.07.2024 22:48:52", EAT). */
    char transaction_completed_datetime[CONSTRA_DARAJA_DATETIME_SIZE];
    int has_transaction_completed_unix;
    int64_t transaction_completed_unix;
    /** B2CRecipientIsRegisteredCustomer ("Y" / "N" / ""). */
    char recipient_is_registered_customer[CONSTRA_DARAJA_CODE_SIZE];
    /** Account balances after the payment, in hundredths (may be negative). */
    int has_utility_account_funds;
    int64_t utility_account_funds_cents;
    int has_working_account_funds;
    int64_t working_account_funds_cents;
    int has_charges_paid_account_funds;
    int64_t charges_paid_account_funds_cents;
    /** ReferenceData.ReferenceItem QueueTimeoutURL ("" if absent). */
    char queue_timeout_url[CONSTRA_DARAJA_URL_SIZE];
} constra_daraja_b2c_result;

#define CONSTRA_DARAJA_B2C_RESULT_INIT \
    { sizeof(constra_daraja_b2c_result), 0, "", "", "", "", "", 0, 0, 0, "", "", "", 0, 0, "", \
      0, 0, 0, 0, 0, 0, "" }
CONSTRA_API int constra_daraja_b2c_result_init(constra_daraja_b2c_result *out,
                                               size_t struct_size);

/**
 * Parses a B2C result body. Structure required: root object with object
 * Result. ResultParameters (optional) must be an object whose
 * ResultParameter is an array of {Key, Value} objects (a single object is
 * accepted too); likewise ReferenceData.ReferenceItem.
 */
CONSTRA_API int constra_daraja_parse_b2c_result(const char *body, size_t len,
                                                constra_daraja_b2c_result *out,
                                                constra_error *err);

/** The answer to the OAuth request. */
typedef struct constra_daraja_oauth_response {
    size_t struct_size;
    /** Non-zero when the body was an error envelope (error_* set). */
    int is_error;
    int http_status;
    /** access_token (a secret: never log it). */
    char access_token[CONSTRA_DARAJA_TOKEN_SIZE];
    /** expires_in seconds (3599; number or string). */
    int64_t expires_in;
    char error_request_id[CONSTRA_DARAJA_ID_SIZE];
    char error_code[CONSTRA_DARAJA_CODE_SIZE];
    char error_message[CONSTRA_DARAJA_TEXT_SIZE];
} constra_daraja_oauth_response;

#define CONSTRA_DARAJA_OAUTH_RESPONSE_INIT \
    { sizeof(constra_daraja_oauth_response), 0, 0, "", 0, "", "", "" }
CONSTRA_API int constra_daraja_oauth_response_init(constra_daraja_oauth_response *out,
                                                   size_t struct_size);

/**
 * Parses the OAuth answer: an error envelope (is_error, any status), or
 * with a 2xx status {"access_token": ..., "expires_in": 3599 or "3599"}
 * (both required; expires_in 1..31536000). Production has answered HTTP
 * 400 with an empty body: that is "body_empty".
 */
CONSTRA_API int constra_daraja_parse_oauth_response(const char *body, size_t len,
                                                    int http_status,
                                                    constra_daraja_oauth_response *out,
                                                    constra_error *err);

CONSTRA_END_DECLS

#endif /* CONSTRA_DARAJA_H */
