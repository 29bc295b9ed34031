/*
 * libconstra — the Daraja rail (`mpesa`): M-Pesa STK push, STK query and
 * callbacks against Safaricom's Daraja API over a constra_transport
 * (transport.h). Implements the rail vtable (rail.h).
 *
 * OAuth. One access token is cached per (base URL, consumer key) for the
 * whole process and shared by every Daraja rail with those credentials
 * (Daraja's documentation says a new token may invalidate the previous
 * one: minting per rail would knock rails out). It is refreshed before it
 * expires (at 5/6 of its lifetime, e.g. after 50 minutes of 60) and, when
 * an API answers with one of the three invalid-token answers (404.001.03,
 * 400.003.01, 401.002.01), refreshed once and the request replayed once.
 *
 * Collect (STK push): ACCEPTED with the CheckoutRequestID; REJECTED with
 * Daraja's errorCode and errorMessage as result_code / result_desc, which
 * the engine classifies through the result-code catalogue (configuration
 * errors such as "Merchant does not exist" or "Wrong credentials" fail
 * the intent with an operator note; "Unable to lock subscriber" is retry
 * later; unknown answers go to review). CONSTRA_E_TRANSPORT when Daraja
 * provably did not process the request (could not connect, OAuth failed,
 * spike arrest / quota / system busy twice in a row, circuit open);
 * CONSTRA_E_OUTCOME_UNKNOWN when the request may have been processed but
 * no usable answer came back (time-out, 5xx, an empty, HTML or
 * wrong-shaped body): the engine never re-sends those, it reconciles.
 *
 * Retries: spike arrest, quota and "system busy" get one bounded retry
 * after a short back-off with jitter (retry_delay_ms, +0..50 % from the
 * platform's randomness). Nothing else is retried inside the rail.
 *
 * Circuit breaker: after breaker_threshold consecutive failures (no
 * answer, 5xx, unusable bodies, rate limits) the rail stops calling
 * Daraja: collect returns CONSTRA_E_TRANSPORT ("circuit_open") and query
 * an error, until breaker_half_open_ms have passed on the engine's clock;
 * then one request is let through: success closes the breaker, failure
 * opens it again.
 *
 * Polling: after each accepted push the rail keeps the CheckoutRequestID
 * and poll() queries it on a schedule (first after query_first_ms, then
 * every query_interval_ms) until a final answer or until prompt_life_ms
 * have passed; final results are handed to the engine through emit. Both
 * pending shapes of the query (HTTP 500 500.001.1001 "being processed",
 * HTTP 200 ResultCode 4999) read as PENDING.
 *
 * Callbacks. The CallBackURL sent to Daraja is callback_url with
 * "?token=<callback_token>" appended ('&' if it already has a query).
 * The engine asks the rail to authenticate every callback by its query
 * string (rail.h authenticate_callback): a callback without the token,
 * or with a wrong one, is refused (CONSTRA_E_AUTH, HTTP 401 from the
 * router) and changes nothing. A success callback (ResultCode 0) is a
 * claim until confirmed (unless skip_success_confirmation): the rail
 * queries Daraja at once; if the query confirms, the callback's result
 * (with its receipt) is final; if the query reports another final code,
 * that code wins; if the query is still pending or fails, the callback
 * is held (parse_callback answers PENDING, the engine records nothing)
 * and poll() confirms it later.
 *
 * Secrets (consumer secret, passkey, access token, STK password,
 * callback token) never appear in errors, logs or events.
 *
 * Threads: the rail may be used from several threads at once.
 */
#ifndef CONSTRA_RAIL_DARAJA_H
#define CONSTRA_RAIL_DARAJA_H

#include <stddef.h>
#include <stdint.h>

#include "constra/error.h"
#include "constra/export.h"
#include "constra/platform.h"
#include "constra/rail.h"
#include "constra/transport.h"

CONSTRA_BEGIN_DECLS

/** Daraja environments. */
typedef enum constra_daraja_environment {
    CONSTRA_DARAJA_ENV_SANDBOX = 1,    /* https://sandbox.safaricom.co.ke */
    CONSTRA_DARAJA_ENV_PRODUCTION = 2  /* https://api.safaricom.co.ke */
} constra_daraja_environment;

/** Configuration of a Daraja rail. Strings are copied. Zero = default. */
typedef struct constra_daraja_config {
    size_t struct_size;
    /** A constra_daraja_environment; required. */
    int environment;
    /** NULL: the environment's base URL. Otherwise an http(s) origin
     *  without a trailing slash (tests, the emulator, a proxy). */
    const char *base_url;
    /** The Daraja app's consumer key and secret (secret). Required. */
    const char *consumer_key;
    const char *consumer_secret;
    /** BusinessShortCode (5..7 digits): the Paybill, or for a Till the
     *  HO/store number. Required. */
    const char *shortcode;
    /** Lipa na M-Pesa Online passkey (secret). Required. */
    const char *passkey;
    /** constra_daraja_stk_type: CONSTRA_DARAJA_STK_PAYBILL
     *  (CustomerPayBillOnline) or CONSTRA_DARAJA_STK_TILL
     *  (CustomerBuyGoodsOnline, PartyB = till_number). Required. */
    int transaction_type;
    /** Till number (TILL only; NULL for PAYBILL). */
    const char *till_number;
    /** The public URL of the callback route, e.g.
     *  "https://pay.example.com/v1/providers/mpesa/callback". Required. */
    const char *callback_url;
    /** Secret token added to the CallBackURL and required on every
     *  callback: 16..128 characters of [A-Za-z0-9_-]. Required. */
    const char *callback_token;
    /** Non-zero: trust success callbacks without an STK query first (not
     *  recommended: callbacks are not signed). */
    int skip_success_confirmation;
    /** Breaker: consecutive failures to open (0 = 5); time before a trial
     *  request (0 = 60000 ms). */
    int breaker_threshold;
    int64_t breaker_half_open_ms;
    /** Query schedule after a push: first query (0 = 15000 ms), then every
     *  query_interval_ms (0 = 10000), until prompt_life_ms (0 = 180000). */
    int64_t query_first_ms;
    int64_t query_interval_ms;
    int64_t prompt_life_ms;
    /** Back-off before the one retry of a rate-limited request (0 = 500
     *  ms; at most 5000), plus 0..50 % jitter. */
    int64_t retry_delay_ms;
    /** Per-request time-out (0 = CONSTRA_TRANSPORT_TIMEOUT_MS). */
    int64_t request_timeout_ms;
    /** Largest amount (0 = CONSTRA_DARAJA_AMOUNT_MAX_DEFAULT). */
    int64_t amount_max;
    /** Non-zero: accept an http:// callback_url (sandbox and tests only;
     *  refused in production). */
    int allow_insecure_callback;
    /* New fields are appended here. */
} constra_daraja_config;

#define CONSTRA_DARAJA_CONFIG_INIT \
    { sizeof(constra_daraja_config), 0, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, 0, \
      0, 0, 0, 0, 0, 0, 0, 0, 0 }

/** Run-time initialiser (FFI): zero-fills, sets struct_size. */
CONSTRA_API int constra_daraja_config_init(constra_daraja_config *config, size_t struct_size);

/**
 * Fills `out` with the Daraja rail (name "mpesa"). `transport` is copied
 * and owned by the rail from then on (destroyed with it, also when this
 * call fails); `platform` (may be NULL) supplies allocator, mutex, clock
 * and randomness (the engine's: the token expiry, breaker and polling
 * schedule run on its clock). Nothing is sent until the first collect.
 * Errors: CONSTRA_E_INVALID_ARGUMENT (param "config.<field>"; messages
 * never echo a secret), CONSTRA_E_ABI, CONSTRA_E_NOMEM,
 * CONSTRA_E_PLATFORM.
 */
CONSTRA_API int constra_rail_daraja(constra_rail *out, const constra_daraja_config *config,
                                    const constra_transport *transport,
                                    const constra_platform *platform, constra_error *err);

CONSTRA_END_DECLS

#endif /* CONSTRA_RAIL_DARAJA_H */
