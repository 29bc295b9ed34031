/*
 * libconstra — status codes and error detail.
 *
 * Every call that can fail returns an `int` status: CONSTRA_OK (0) or one
 * of the negative constra_status values below. The enum is append-only:
 * a value is never renumbered or reused, so bindings may hard-code numbers,
 * and must treat an unknown negative number as a generic error.
 *
 * Detail about the failure (machine code string, HTTP status, message,
 * offending parameter) goes into a caller-owned `constra_error`:
 *   - every fallible function takes `constra_error *err` as its last
 *     argument, handle-less or on a handle alike; NULL means "I only want
 *     the status". On failure it gets this call's detail; on success it is
 *     left as it was. A handle keeps no error of its own, so threads
 *     sharing one never see each other's failures (there is no
 *     "last error" to race on).
 * The library never allocates for an error and never writes a secret
 * (keys, passkeys, tokens, full phone numbers) into a message.
 */
#ifndef CONSTRA_ERROR_H
#define CONSTRA_ERROR_H

#include <stddef.h>

#include "export.h"

CONSTRA_BEGIN_DECLS

/** Status codes. Append-only; never renumbered. */
typedef enum constra_status {
    CONSTRA_OK = 0,
    /** Something failed that has no more specific code. */
    CONSTRA_E_GENERIC = -1,
    /** An argument is NULL, empty, too long, malformed or out of range;
     *  `param` names it. Fix the input; retrying will not help. */
    CONSTRA_E_INVALID_ARGUMENT = -2,
    /** The allocator returned NULL. Nothing was changed. */
    CONSTRA_E_NOMEM = -3,
    /** The object asked for does not exist. */
    CONSTRA_E_NOT_FOUND = -4,
    /** A conflict: idempotency key reused with another request, a request
     *  with the same key still in flight, or a concurrent writer won. */
    CONSTRA_E_CONFLICT = -5,
    /** The operation is not allowed in the object's current state. */
    CONSTRA_E_INVALID_STATE = -6,
    /** A caller buffer is too small; the detail says how many bytes. */
    CONSTRA_E_BUFFER_TOO_SMALL = -7,
    /** Integer arithmetic would overflow (money is never wrapped). */
    CONSTRA_E_OVERFLOW = -8,
    /** The feature is compiled out of this build, or not implemented by
     *  the host-supplied vtable. */
    CONSTRA_E_UNSUPPORTED = -9,
    /** A versioned struct has a size this library cannot accept (zero:
     *  forgot the _INIT macro; larger with unknown non-zero fields: built
     *  against newer headers). */
    CONSTRA_E_ABI = -10,
    /** Input text (JSON, header, number) could not be parsed. */
    CONSTRA_E_PARSE = -11,
    /** A webhook signature did not verify (malformed, expired, future,
     *  mismatch: the detail says which). */
    CONSTRA_E_SIGNATURE = -12,
    /** The storage backend failed; the previous state is intact. */
    CONSTRA_E_STORAGE = -13,
    /** The transport failed before the request was sent: safe to retry. */
    CONSTRA_E_TRANSPORT = -14,
    /** The request was sent and no answer came back (time-out, dropped
     *  connection). Money may have moved: reconcile by query, never
     *  retry blindly. */
    CONSTRA_E_OUTCOME_UNKNOWN = -15,
    /** The payment provider rejected the request; the detail carries its
     *  code. */
    CONSTRA_E_PROVIDER = -16,
    /** A host-supplied callback (storage, transport, platform) reported a
     *  failure or misbehaved (e.g. returned more bytes than allowed). */
    CONSTRA_E_CALLBACK = -17,
    /** Authentication failed (missing or wrong API key). */
    CONSTRA_E_AUTH = -18,
    /** Too many requests; retry after the indicated delay. */
    CONSTRA_E_RATE_LIMITED = -19,
    /** The platform failed: no randomness, no clock, mutex failure. */
    CONSTRA_E_PLATFORM = -20
    /* Append new codes here. Never renumber. */
} constra_status;

/** The lowest status value this version of the library knows. */
#define CONSTRA_STATUS_MIN CONSTRA_E_PLATFORM

/**
 * A short English sentence describing `status`, e.g. "invalid argument".
 * Static storage, never NULL; unknown values give "unknown error".
 * Thread-safe.
 */
CONSTRA_API const char *constra_strerror(int status);

/**
 * The enum name of `status`, e.g. "CONSTRA_E_INVALID_ARGUMENT" (useful
 * for bindings and logs). Static storage, never NULL; unknown values give
 * "CONSTRA_E_UNKNOWN". Thread-safe.
 */
CONSTRA_API const char *constra_status_name(int status);

/**
 * The HTTP status a REST API answers with for `status` when nothing more
 * specific applies: 200 for CONSTRA_OK, 400, 401, 404, 409, 422, 429, 500,
 * 502, 504 for the error kinds. Unknown values give 500. Thread-safe.
 */
CONSTRA_API int constra_status_http(int status);

/** Sizes of the fixed text fields of constra_error (bytes, with NUL). */
#define CONSTRA_ERROR_CODE_SIZE 64
#define CONSTRA_ERROR_MESSAGE_SIZE 256
#define CONSTRA_ERROR_PARAM_SIZE 64

/**
 * Detail of one failure. Caller-owned, fixed size, never allocated by the
 * library. Initialise with CONSTRA_ERROR_INIT or constra_error_init()
 * before handing it to the library: `struct_size` is how the library knows
 * which fields the caller's copy has.
 */
typedef struct constra_error {
    /** sizeof(constra_error) as the caller compiled it. */
    size_t struct_size;
    /** The constra_status of the failure; CONSTRA_OK when none. */
    int status;
    /** The HTTP status this failure maps to in the REST API (0 if none). */
    int http_status;
    /** Machine-readable code, e.g. "idempotency_key_reused",
     *  "parameter_invalid"; "" when none. Stable across versions. */
    char code[CONSTRA_ERROR_CODE_SIZE];
    /** Human-readable message in English; never contains secrets. */
    char message[CONSTRA_ERROR_MESSAGE_SIZE];
    /** The parameter at fault (e.g. "currency", "config.platform"), or "". */
    char param[CONSTRA_ERROR_PARAM_SIZE];
    /* New fields are appended here. */
} constra_error;

/** Static initialiser: `constra_error err = CONSTRA_ERROR_INIT;` */
#define CONSTRA_ERROR_INIT { sizeof(constra_error), 0, 0, "", "", "" }

/**
 * Run-time initialiser for languages without C macros (ctypes, koffi):
 * zeroes `err` and sets its struct_size to `struct_size` (pass
 * sizeof(constra_error) as the caller sees it).
 *
 * Returns CONSTRA_OK, CONSTRA_E_INVALID_ARGUMENT if `err` is NULL, or
 * CONSTRA_E_ABI if `struct_size` is smaller than the first version of the
 * struct. Thread-safe (touches only `err`).
 */
CONSTRA_API int constra_error_init(constra_error *err, size_t struct_size);

/**
 * Empties `err` (status CONSTRA_OK, texts "") keeping its struct_size.
 * NULL is ignored. Thread-safe (touches only `err`).
 */
CONSTRA_API void constra_error_clear(constra_error *err);

CONSTRA_END_DECLS

#endif /* CONSTRA_ERROR_H */
