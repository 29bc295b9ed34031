/*
 * libconstra — webhook signatures: sign and verify (HMAC-SHA256).
 *
 * Three schemes (doc/DESIGN.md section 10):
 *
 *   CONSTRA_WEBHOOK_T_V1 ("t_v1", also "constra", "stripe")
 *     Header value `t=<unix seconds>,v1=<hex>[,v1=<hex>...]`, as sent in
 *     Constra-Signature, Stripe-Signature, x-webhook-signature,
 *     Centry-Signature. v1 = lower-case hex of HMAC-SHA256(key, "<t>.<raw
 *     body>"), where the key is the secret string's bytes exactly as given
 *     (a "whsec_" prefix is part of the key, as in Stripe's SDKs). Several
 *     v1 entries are allowed (secret rotation: any one matching is
 *     enough); entries with other keys (v0, ...) are ignored. Hex is read
 *     case-insensitively. Replay protection: `t` must lie within the
 *     tolerance of `now`, in both directions.
 *
 *   CONSTRA_WEBHOOK_BODY_HEX ("body_hex", also "body-hex")
 *     Header value = hex of HMAC-SHA256(secret string bytes, raw body)
 *     (the Constra docs' verifyConstraWebhook). NO REPLAY PROTECTION:
 *     nothing in the signature says when it was made, so a captured
 *     delivery verifies forever. Deduplicate on the event id, or prefer
 *     t_v1 / standard_webhooks. `now` and `tolerance_s` are ignored.
 *
 *   CONSTRA_WEBHOOK_STANDARD ("standard_webhooks", also
 *   "standard-webhooks", "svix")
 *     Standard Webhooks (standardwebhooks.com): headers webhook-id,
 *     webhook-timestamp, webhook-signature. webhook-signature is a
 *     space-separated list of `<version>,<base64>`; only `v1` (HMAC-SHA256)
 *     is checked, other versions (v1a, v2, ...) are ignored. The secret is
 *     `whsec_<base64>`; as in the reference libraries, a secret without
 *     the prefix is taken to be the base64 itself (padding optional). The
 *     signed content is "<webhook-id>.<webhook-timestamp>.<raw body>".
 *     The timestamp must lie within the tolerance of `now`, both ways.
 *
 * Verification rules common to all schemes:
 *   - the body is raw bytes (pointer + length; may contain NUL bytes):
 *     pass exactly what came over the wire, before any JSON parsing;
 *   - header values are NUL-terminated strings of at most
 *     CONSTRA_WEBHOOK_HEADER_MAX bytes (bytes after a NUL are not seen;
 *     a longer or unterminated value is MALFORMED and no more than
 *     CONSTRA_WEBHOOK_HEADER_MAX + 1 bytes of it are read; likewise the
 *     secret, webhook-id and webhook-timestamp are read at most one byte
 *     past their limits); the framing is parsed strictly: anything
 *     malformed is rejected, never guessed;
 *   - a v1 candidate that cannot be read (not 64 hex digits for t_v1, not
 *     the base64 of 32 bytes for standard_webhooks, e.g. "v1=bad_signature")
 *     is skipped when the header carries another one, as the Stripe SDKs and
 *     the Standard Webhooks libraries do; unreadable candidates alone are
 *     MALFORMED, never enough to verify;
 *   - a standard_webhooks secret is canonical base64 after "whsec_": the
 *     standard alphabet (A-Z a-z 0-9 + /), '=' padding optional, no
 *     whitespace, no URL-safe '-' '_' (the error message says so);
 *   - the computed MAC is compared with every candidate in constant time
 *     (no early exit on the first difference or the first match);
 *   - the signature is checked before the timestamp window, so EXPIRED and
 *     FUTURE mean "authentic, but outside the window" (replay or a clock
 *     off by more than the tolerance);
 *   - window: a timestamp `ts` is accepted when
 *     now - tolerance <= ts <= now + tolerance (both ends inclusive).
 *
 * Everything here is pure: no handle, no I/O, no global state, no
 * allocation by libconstra (with the OpenSSL backend, libcrypto allocates a
 * digest context with its own allocator and frees it before the call
 * returns). All functions are thread-safe.
 */
#ifndef CONSTRA_WEBHOOK_SIGNATURE_H
#define CONSTRA_WEBHOOK_SIGNATURE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "export.h"

CONSTRA_BEGIN_DECLS

/** Signature schemes. Values are stable; new ones are appended. */
typedef enum constra_webhook_scheme {
    CONSTRA_WEBHOOK_T_V1 = 1,
    CONSTRA_WEBHOOK_BODY_HEX = 2,
    CONSTRA_WEBHOOK_STANDARD = 3
} constra_webhook_scheme;

/**
 * Why a verification ended as it did, for callers and bindings that
 * branch without comparing strings. Values are stable; new ones are
 * appended. constra_webhook_result_name() gives its machine code, which
 * is also what constra_error.code holds for the signature outcomes and
 * SECRET_INVALID (other argument errors carry the usual
 * "parameter_missing" / "parameter_invalid" / "abi_mismatch" codes).
 */
typedef enum constra_webhook_result {
    /** The signature is valid ("ok"). */
    CONSTRA_WEBHOOK_OK = 0,
    /** The header (or webhook-id / webhook-timestamp) could not be parsed,
     *  is empty or oversize, or carries no v1 signature
     *  ("signature_malformed"). Status CONSTRA_E_SIGNATURE. */
    CONSTRA_WEBHOOK_MALFORMED = 1,
    /** Signature valid but the timestamp is older than now - tolerance
     *  ("signature_expired"). Status CONSTRA_E_SIGNATURE. */
    CONSTRA_WEBHOOK_EXPIRED = 2,
    /** Signature valid but the timestamp is later than now + tolerance
     *  ("signature_future"). Status CONSTRA_E_SIGNATURE. */
    CONSTRA_WEBHOOK_FUTURE = 3,
    /** Well-formed, but no candidate matches: wrong secret, or body, id
     *  or timestamp altered ("signature_mismatch"). CONSTRA_E_SIGNATURE. */
    CONSTRA_WEBHOOK_MISMATCH = 4,
    /** The caller's secret is unusable: empty, longer than
     *  CONSTRA_WEBHOOK_SECRET_MAX, or (standard_webhooks) not base64
     *  ("secret_invalid"). A configuration error, not an attack: status
     *  CONSTRA_E_INVALID_ARGUMENT, param "secret". */
    CONSTRA_WEBHOOK_SECRET_INVALID = 5,
    /** Any other caller error: NULL or missing argument, unknown scheme,
     *  bad struct_size, negative now/tolerance (name "invalid_argument").
     *  Status CONSTRA_E_INVALID_ARGUMENT or CONSTRA_E_ABI; err->param
     *  names the argument. */
    CONSTRA_WEBHOOK_INVALID_ARGUMENT = 6,
    /** The crypto backend failed (should not happen; "internal_error").
     *  Status CONSTRA_E_GENERIC, CONSTRA_E_NOMEM or CONSTRA_E_UNSUPPORTED. */
    CONSTRA_WEBHOOK_ERROR = 7
} constra_webhook_result;

/** Tolerance used when params.tolerance_s is 0: five minutes. */
#define CONSTRA_WEBHOOK_DEFAULT_TOLERANCE 300
/** Longest secret accepted, in bytes (the string, before any decoding). */
#define CONSTRA_WEBHOOK_SECRET_MAX 1024
/** Longest signature header value accepted, in bytes. */
#define CONSTRA_WEBHOOK_HEADER_MAX 8192
/** Longest webhook-id accepted, in bytes. */
#define CONSTRA_WEBHOOK_ID_MAX 256
/** Most v1 signatures one header may carry (more: MALFORMED). */
#define CONSTRA_WEBHOOK_MAX_SIGNATURES 16
/** A buffer of this size holds the output of constra_webhook_sign() for
 *  every scheme, NUL included. */
#define CONSTRA_WEBHOOK_SIGNATURE_SIZE 128

/**
 * Parameters of constra_webhook_sign() and constra_webhook_verify().
 * Initialise with CONSTRA_WEBHOOK_PARAMS_INIT or
 * constra_webhook_params_init(); fields are appended over time, never
 * reordered. The library reads the struct and the memory it points to
 * only during the call and keeps no pointer.
 */
typedef struct constra_webhook_params {
    /** sizeof(constra_webhook_params) as the caller compiled it. */
    size_t struct_size;
    /** A constra_webhook_scheme. */
    int scheme;
    /** The shared secret, NUL-terminated, 1..CONSTRA_WEBHOOK_SECRET_MAX
     *  bytes. t_v1 / body_hex: its bytes are the key. standard_webhooks:
     *  "whsec_<base64>" (or bare base64), decoded to the key. */
    const char *secret;
    /** The raw body bytes; may contain NUL bytes; may be NULL only when
     *  body_len is 0. */
    const uint8_t *body;
    size_t body_len;
    /** verify: the signature header value (t_v1: "t=...,v1=...";
     *  body_hex: 64 hex digits; standard_webhooks: the webhook-signature
     *  header). Pass "" for an absent header: it is reported as
     *  MALFORMED. Ignored by sign. */
    const char *signature;
    /** standard_webhooks (sign and verify): the webhook-id header. At most
     *  CONSTRA_WEBHOOK_ID_MAX bytes of printable ASCII without space or
     *  '.' (the spec forbids '.', which would make the signed content
     *  ambiguous). Ignored by the other schemes. */
    const char *msg_id;
    /** verify, standard_webhooks: the webhook-timestamp header exactly as
     *  received. Parsed strictly: 1 to 19 decimal digits, no sign, no
     *  spaces, no leading zero (except "0"), at most INT64_MAX; anything
     *  else is MALFORMED. It is text so that the bytes signed are the
     *  bytes received. Ignored by sign and by the other schemes. */
    const char *timestamp_header;
    /** sign, t_v1 and standard_webhooks: the unix time (seconds, >= 0) to
     *  sign with (usually now). Ignored by verify (t comes from the
     *  header) and by body_hex. */
    int64_t timestamp;
    /** verify, t_v1 and standard_webhooks: the current unix time in
     *  seconds (>= 0). Explicit so that tests and replays drive time. */
    int64_t now;
    /** verify, t_v1 and standard_webhooks: the accepted distance between
     *  the signature's timestamp and `now`, in seconds, both ways. 0 means
     *  CONSTRA_WEBHOOK_DEFAULT_TOLERANCE; negative is invalid; INT64_MAX
     *  disables the window (not recommended). */
    int64_t tolerance_s;
    /* New fields are appended here. */
} constra_webhook_params;

/** Static initialiser: every field zero/NULL except struct_size. */
#define CONSTRA_WEBHOOK_PARAMS_INIT \
    { sizeof(constra_webhook_params), 0, NULL, NULL, 0, NULL, NULL, NULL, 0, 0, 0 }

/**
 * Run-time initialiser for languages without C macros: zeroes the first
 * min(struct_size, sizeof(constra_webhook_params)) bytes of `params` and
 * sets its struct_size to `struct_size` (pass the size the caller sees).
 * Returns CONSTRA_OK, CONSTRA_E_INVALID_ARGUMENT (NULL) or CONSTRA_E_ABI
 * (struct_size below the first version or absurdly large). Thread-safe.
 */
CONSTRA_API int constra_webhook_params_init(constra_webhook_params *params, size_t struct_size);

/**
 * Verifies a webhook delivery.
 *
 * Returns CONSTRA_OK when the signature is valid (and, for timestamped
 * schemes, within the window). Otherwise:
 *   - CONSTRA_E_SIGNATURE: the delivery must be rejected (HTTP 400/401);
 *     err->code is "signature_malformed", "signature_expired",
 *     "signature_future" or "signature_mismatch"; err->param names the
 *     field at fault ("signature", "msg_id", "timestamp_header");
 *   - CONSTRA_E_INVALID_ARGUMENT / CONSTRA_E_ABI: a caller or configuration
 *     error (NULL params/secret/signature, missing msg_id or
 *     timestamp_header for standard_webhooks, unknown scheme, negative
 *     now or tolerance, NULL body with a length, unusable secret with code
 *     "secret_invalid"); err->param names it;
 *   - CONSTRA_E_GENERIC / CONSTRA_E_NOMEM / CONSTRA_E_UNSUPPORTED: the
 *     crypto backend failed.
 * Treat every non-OK result as "not verified".
 *
 * `reason` (may be NULL) receives a constra_webhook_result in every case,
 * CONSTRA_WEBHOOK_OK only on success. `err` (may be NULL) receives the
 * detail; messages never contain the secret or a computed MAC.
 * Thread-safe; no allocation.
 */
CONSTRA_API int constra_webhook_verify(const constra_webhook_params *params, int *reason,
                                       constra_error *err);

/**
 * Computes the signature header value for params->scheme into `out`
 * (NUL-terminated): t_v1 "t=<timestamp>,v1=<64 hex>"; body_hex "<64 hex>";
 * standard_webhooks "v1,<44 base64>". Uses secret, body, body_len, and
 * timestamp (t_v1, standard_webhooks) and msg_id (standard_webhooks);
 * `signature`, `timestamp_header`, `now` and `tolerance_s` are ignored.
 * CONSTRA_WEBHOOK_SIGNATURE_SIZE bytes always suffice.
 *
 * Errors: CONSTRA_E_INVALID_ARGUMENT (NULL params/secret/out, unusable
 * secret with code "secret_invalid", negative timestamp, missing or
 * malformed msg_id, unknown scheme; param names it), CONSTRA_E_ABI,
 * CONSTRA_E_BUFFER_TOO_SMALL (out_size too small: the message gives the
 * size needed, NUL included; `out` is then left untouched), or a crypto
 * backend failure. Thread-safe; no allocation.
 */
CONSTRA_API int constra_webhook_sign(const constra_webhook_params *params, char *out,
                                     size_t out_size, constra_error *err);

/**
 * Maps a scheme name to a constra_webhook_scheme: "t_v1" (also "constra",
 * "stripe"), "body_hex" (also "body-hex"), "standard_webhooks" (also
 * "standard-webhooks", "svix"). Exact, case-sensitive; at most 32 bytes
 * of `name` are read. Errors: CONSTRA_E_INVALID_ARGUMENT (NULL name or
 * scheme, param "name"/"scheme"; unknown name, code
 * "webhook_scheme_unknown"). Thread-safe.
 */
CONSTRA_API int constra_webhook_scheme_from_name(const char *name, int *scheme,
                                                 constra_error *err);

/**
 * The canonical name of a scheme ("t_v1", "body_hex",
 * "standard_webhooks"), or NULL for an unknown value. Static storage.
 * Thread-safe.
 */
CONSTRA_API const char *constra_webhook_scheme_name(int scheme);

/**
 * The machine code of a constra_webhook_result: "ok",
 * "signature_malformed", "signature_expired", "signature_future",
 * "signature_mismatch", "secret_invalid", "invalid_argument",
 * "internal_error"; "unknown" for other values. Static storage, never
 * NULL. Thread-safe.
 */
CONSTRA_API const char *constra_webhook_result_name(int reason);

/**
 * The HMAC-SHA256 backend compiled into this library: "openssl" or
 * "mbedtls", as -Dcrypto chose (auto: OpenSSL 3 libcrypto when found at
 * build time, else mbedTLS); constra_features() lists it as
 * "crypto=<backend>". Static storage,
 * never NULL. Thread-safe.
 */
CONSTRA_API const char *constra_webhook_hmac_backend(void);

CONSTRA_END_DECLS

#endif /* CONSTRA_WEBHOOK_SIGNATURE_H */
