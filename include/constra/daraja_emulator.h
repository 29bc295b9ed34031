/*
 * libconstra — an in-process emulator of the Daraja endpoints the Daraja
 * rail uses (OAuth, STK push, STK query) that also sends the STK callback
 * to the request's CallBackURL, and misbehaves on request the way Daraja
 * does (fault modes below). For tests, demos and `constra serve
 * --emulate-daraja`.
 *
 * Use it as a loopback handler (transport.h):
 *
 *     constra_loopback_mount(lb, CONSTRA_DARAJA_SANDBOX_BASE_URL,
 *                            constra_daraja_emulator_handler, emu, &err);
 *
 * or from an HTTP server: build a constra_transport_request from the
 * incoming request (method, an absolute URL or just the target
 * "/oauth/v1/generate?...", headers, body) and call
 * constra_daraja_emulator_handler() with a response from
 * constra_daraja_emulator_serve().
 *
 * Requests are checked as Daraja does (doc/DARAJA.md): the Basic credentials
 * and grant_type of OAuth; the Bearer token (known and unexpired on the
 * emulator's clock, else 404.001.03 "Invalid Access Token"); POST only
 * (405.001); Content-Type application/json (else, as Daraja, 400.002.02
 * "Invalid BusinessShortCode"); a known shortcode (else 500.001.1001
 * "Merchant does not exist"); Password = base64(shortcode + passkey +
 * timestamp) (else "[MerchantValidate] - Wrong credentials"); Timestamp
 * YYYYMMDDHHMMSS; TransactionType; whole Amount 1..amount_max; PartyA and
 * PhoneNumber 2547/2541 + 8 digits; PartyB; an http(s) CallBackURL;
 * AccountReference <= 12 and TransactionDesc <= 13 characters (each
 * "400.002.02 Bad Request - Invalid <Field>"); a second push to a phone
 * whose prompt is still open is refused with "Unable to lock
 * subscriber". The sandbox shortcode 174379 with its published passkey is
 * always configured.
 *
 * Outcomes by phone number, as the simulator rail (rail.h): 254708374149
 * and 254711000000 pay (0), 254711000001 -> 1, 254711000002 -> 1037,
 * 254711000003 -> 1032, 254711000004 -> 2001; every other number pays.
 * constra_daraja_emulator_set_outcome() overrides per number.
 *
 * Time: the emulator reads the clock of the platform it was given (tests
 * give the engine's fake clock). A prompt's result becomes known
 * `result_delay_ms` after the push: the query answers "pending" before
 * (alternating the two pending shapes: HTTP 500 500.001.1001 "The
 * transaction is being processed", then HTTP 200 ResultCode 4999), the
 * final result after. Callbacks are sent only by
 * constra_daraja_emulator_pump(), never from a hidden thread.
 *
 * Threads: every function may be called from several threads; callbacks
 * are sent outside the emulator's lock.
 */
#ifndef CONSTRA_DARAJA_EMULATOR_H
#define CONSTRA_DARAJA_EMULATOR_H

#include <stddef.h>
#include <stdint.h>

#include "constra/error.h"
#include "constra/export.h"
#include "constra/platform.h"
#include "constra/transport.h"

CONSTRA_BEGIN_DECLS

/** The sandbox STK shortcode and its published passkey (doc/DARAJA.md 7.7). */
#define CONSTRA_DARAJA_SANDBOX_SHORTCODE "174379"
#define CONSTRA_DARAJA_SANDBOX_PASSKEY \
    "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"

typedef struct constra_daraja_emulator constra_daraja_emulator;

/** Options. Zero-filled means the defaults. */
typedef struct constra_daraja_emulator_options {
    size_t struct_size;
    /** The one app's credentials; NULL = "emulator-consumer-key" /
     *  "emulator-consumer-secret". Copied. */
    const char *consumer_key;
    const char *consumer_secret;
    /** Token lifetime in seconds; 0 = 3599 (reported as the string
     *  "3599", as Daraja often does). */
    int64_t token_ttl_s;
    /** Delay from push to result (query final, callback due); 0 = 20000 ms. */
    int64_t result_delay_ms;
    /** Largest amount; 0 = CONSTRA_DARAJA_AMOUNT_MAX_DEFAULT. */
    int64_t amount_max;
    /* New fields are appended here. */
} constra_daraja_emulator_options;

#define CONSTRA_DARAJA_EMULATOR_OPTIONS_INIT \
    { sizeof(constra_daraja_emulator_options), NULL, NULL, 0, 0, 0 }

/** Run-time initialiser (FFI): zero-fills, sets struct_size. Returns
 *  CONSTRA_OK, CONSTRA_E_INVALID_ARGUMENT (NULL) or CONSTRA_E_ABI. */
CONSTRA_API int constra_daraja_emulator_options_init(constra_daraja_emulator_options *options,
                                                     size_t struct_size);

/**
 * Creates an emulator. `callback_transport` (may be NULL: callbacks are
 * then counted but not sent) is copied and destroyed with the emulator;
 * `platform` (may be NULL) gives allocator, mutex, clock and randomness;
 * `options` may be NULL. Free with constra_daraja_emulator_free().
 * Errors: CONSTRA_E_INVALID_ARGUMENT, CONSTRA_E_ABI, CONSTRA_E_NOMEM,
 * CONSTRA_E_PLATFORM.
 */
CONSTRA_API int constra_daraja_emulator_new(constra_daraja_emulator **out,
                                            const constra_daraja_emulator_options *options,
                                            const constra_transport *callback_transport,
                                            const constra_platform *platform, constra_error *err);

/** Frees the emulator (destroys its callback transport). NULL: no-op. */
CONSTRA_API void constra_daraja_emulator_free(constra_daraja_emulator *emulator);

/** Adds (or replaces) a shortcode and its passkey (both copied; shortcode
 *  5..7 digits, passkey 1..256 printable characters). */
CONSTRA_API int constra_daraja_emulator_add_shortcode(constra_daraja_emulator *emulator,
                                                      const char *shortcode, const char *passkey,
                                                      constra_error *err);

/** Forces the result code (e.g. "1032", "0") of later pushes to `phone`
 *  (12 digits). NULL code: back to the default. */
CONSTRA_API int constra_daraja_emulator_set_outcome(constra_daraja_emulator *emulator,
                                                    const char *phone, const char *result_code,
                                                    constra_error *err);

/** Fault modes. */
typedef enum constra_daraja_fault {
    CONSTRA_DARAJA_FAULT_NONE = 0,
    /** Pushes: the callback is never sent (the query still knows). */
    CONSTRA_DARAJA_FAULT_CALLBACK_NEVER = 1,
    /** Pushes: the callback is sent twice. */
    CONSTRA_DARAJA_FAULT_CALLBACK_TWICE = 2,
    /** Pushes: the callback is sent 10 minutes after the result. */
    CONSTRA_DARAJA_FAULT_CALLBACK_LATE = 3,
    /** Pushes: the callback arrives while the query still says pending
     *  (the query learns the result 60 s after the callback). */
    CONSTRA_DARAJA_FAULT_CALLBACK_BEFORE_QUERY = 4,
    /** Push requests: HTTP 503 with an HTML body, nothing processed. */
    CONSTRA_DARAJA_FAULT_PUSH_503 = 5,
    /** Push requests: processed (the prompt goes out), answered 200 with
     *  an empty body. */
    CONSTRA_DARAJA_FAULT_PUSH_EMPTY = 6,
    /** Push requests: processed, answered 200 with an HTML body. */
    CONSTRA_DARAJA_FAULT_PUSH_HTML = 7,
    /** Pushes: no callback; the query answers 4999 until the result,
     *  then 1037 (the customer could not be reached). */
    CONSTRA_DARAJA_FAULT_QUERY_4999_THEN_1037 = 8,
    /** Requests (push or query): HTTP 500 "Spike Arrest Violation". */
    CONSTRA_DARAJA_FAULT_SPIKE_ARREST = 9,
    /** Requests: processed, answered 200 with JSON of the wrong shape. */
    CONSTRA_DARAJA_FAULT_PUSH_WRONG_SHAPE = 10,
    /** Pushes: the callback names another CheckoutRequestID. */
    CONSTRA_DARAJA_FAULT_CALLBACK_WRONG_ID = 11,
    /** Pushes: the callback's body is cut in half. */
    CONSTRA_DARAJA_FAULT_CALLBACK_TRUNCATED = 12,
    /** Requests (push or query): every token issued so far expires just
     *  before this request is checked (a token expiring mid-flow). */
    CONSTRA_DARAJA_FAULT_TOKEN_EXPIRE = 13
} constra_daraja_fault;

/**
 * Arms `fault` for the next `times` requests or pushes it applies to
 * (times < 0: until cleared; 0 clears it). Returns CONSTRA_OK or
 * CONSTRA_E_INVALID_ARGUMENT.
 */
CONSTRA_API int constra_daraja_emulator_set_fault(constra_daraja_emulator *emulator, int fault,
                                                  int times);

/** Every token issued so far stops being valid now ("token expiring
 *  mid-flow"): the next API call answers 404.001.03. */
CONSTRA_API void constra_daraja_emulator_expire_tokens(constra_daraja_emulator *emulator);

/**
 * Sends every callback due by `now_ms` (through the callback transport,
 * on the calling thread). Returns the number sent (>= 0), whatever the
 * receiver answered.
 */
CONSTRA_API int constra_daraja_emulator_pump(constra_daraja_emulator *emulator, int64_t now_ms);

/** Counters. */
typedef enum constra_daraja_emulator_counter {
    CONSTRA_DARAJA_EMU_OAUTH = 1,    /* OAuth requests */
    CONSTRA_DARAJA_EMU_PUSH = 2,     /* STK push requests (any answer) */
    CONSTRA_DARAJA_EMU_PROMPTS = 3,  /* pushes processed: prompts sent */
    CONSTRA_DARAJA_EMU_QUERY = 4,    /* STK query requests */
    CONSTRA_DARAJA_EMU_CALLBACKS = 5 /* callbacks sent */
} constra_daraja_emulator_counter;

/** How many requests or callbacks of one kind (a
 *  constra_daraja_emulator_counter) the emulator has seen; 0 for NULL or
 *  an unknown counter. Thread-safe. */
CONSTRA_API uint64_t constra_daraja_emulator_count(const constra_daraja_emulator *emulator,
                                                   int counter);

/**
 * The loopback handler (constra_loopback_handler): serves one request.
 * `ctx` is the emulator. The URL may be absolute (any origin) or a bare
 * target starting with '/'. Always answers (an HTTP status and body)
 * unless a fault says otherwise; returns CONSTRA_OK.
 */
CONSTRA_API int constra_daraja_emulator_handler(void *ctx,
                                                const constra_transport_request *request,
                                                constra_transport_response *response);

/**
 * For HTTP servers: serves `request` and hands back a library-owned
 * response (free with constra_transport_response_free()). The request
 * is checked as constra_transport_send() checks it, except that the URL
 * may be a bare target ("/mpesa/stkpush/v1/processrequest").
 */
CONSTRA_API int constra_daraja_emulator_serve(constra_daraja_emulator *emulator,
                                              const constra_transport_request *request,
                                              constra_transport_response **out,
                                              constra_error *err);

CONSTRA_END_DECLS

#endif /* CONSTRA_DARAJA_EMULATOR_H */
