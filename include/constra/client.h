/*
 * libconstra — the remote backend (doc/DESIGN.md section 1): a handle whose
 * intent calls go to a Constra-compatible HTTP API (a hosted one, or
 * `constra serve`) instead of the in-process engine.
 *
 * A handle made by constra_open_remote() is an ordinary constra_t: the
 * calls of intent.h (constra_intent_create, _get, constra_intent_list_get,
 * constra_event_list_get, _confirm, _retry, _cancel, _resolve,
 * _simulate_callback) work on it unchanged and hand back the same
 * snapshot, list and event-list objects, built from the server's JSON:
 * constra_intent_json() of a remote intent is the server's JSON for it,
 * byte for byte, and the call's `err` carries the server's error code,
 * message, param (engine names: "phone_number", "customer_name",
 * "idempotency_key") and HTTP status. Host code is written once and
 * switches between local and remote by configuration only.
 *
 * Differences from a local handle, all deliberate:
 *   - constra_tick() does nothing and returns CONSTRA_OK: the server
 *     drives its own time-outs;
 *   - constra_handle_mpesa_callback() is CONSTRA_E_UNSUPPORTED: Daraja
 *     calls the server, not the client;
 *   - constra_intent_attempts_left() uses the server's recovery summary
 *     when the intent has one; otherwise it counts against
 *     constra_remote_config.max_attempts (set it to the server's setting;
 *     0 means 3, the engine's default);
 *   - constra_intent_agent_note() is the note of the recovery summary
 *     (the only place the REST JSON carries it).
 *
 * Retries (all bounded by max_tries, with exponential backoff and full
 * jitter from the platform's random source, sleeping through sleep_ms).
 * Every try of one call sends the same request, Idempotency-Key included.
 *   - a request the transport could not send (CONSTRA_E_TRANSPORT:
 *     connect, TLS) is always repeated;
 *   - a lost answer (CONSTRA_E_OUTCOME_UNKNOWN: time-out, reset, a body
 *     over max_response_bytes), HTTP 5xx and 429 are repeated for every
 *     call but `retry` (below);
 *   - create carries the caller's Idempotency-Key (required, as on a local
 *     handle), so a repeat is answered by the server's idempotency
 *     (replayed, byte for byte: constra_intent_replayed() is 1) and never
 *     makes a second intent or a second STK push; 409
 *     `idempotent_request_in_flight` means an earlier try still runs on
 *     the server: wait (at least backoff_base_ms) and ask again;
 *   - reads (get, list, events) are always safe to repeat; so is
 *     simulate-callback (sandbox only; a repeat of one that took effect is
 *     recorded as a duplicate and changes nothing);
 *   - cancel, resolve and confirm are guarded by the intent's status on
 *     the server, so a repeat of one that took effect meets 409
 *     `invalid_state`: after a repeated try the client then reads the
 *     intent, and if it is in the state the action leads to (cancelled;
 *     succeeded with that receipt, or failed, for resolve; no longer a
 *     draft for confirm) that is the answer; otherwise the 409 is;
 *   - retry (a new STK push) is repeated only when the request provably
 *     never left (CONSTRA_E_TRANSPORT). After a lost answer it fails with
 *     CONSTRA_E_OUTCOME_UNKNOWN ("read the intent before trying again"),
 *     and a 5xx is returned as the server's error: a blind repeat could
 *     prompt the customer twice (the server refuses a new attempt while an
 *     earlier one's outcome is unknown, but not once the customer has
 *     answered the first prompt);
 *   - every POST carries an Idempotency-Key (the caller's for create, a
 *     fresh "req_..." id per call otherwise): the Constra router ignores
 *     it on actions, a server that honours it replays instead of acting
 *     twice;
 *   - any other 4xx is returned at once with the server's detail; when
 *     the tries run out, the last failure is returned, except that if an
 *     earlier try's answer was lost (or a 5xx was followed by a request
 *     that could not be sent) the call fails with
 *     CONSTRA_E_OUTCOME_UNKNOWN, code "outcome_unknown" (the server may
 *     have acted: repeat the create under the same key, or read the
 *     intent), the last failure quoted in the message.
 *
 * Error statuses from HTTP: 400/413/414/415/422/431 INVALID_ARGUMENT,
 * 401 AUTH, 403 `sandbox_only` UNSUPPORTED (else AUTH), 404 NOT_FOUND,
 * 405/501 UNSUPPORTED, 409 `invalid_state` INVALID_STATE (else
 * CONFLICT), 429 RATE_LIMITED, 503 or `storage_error` STORAGE, 502/504
 * OUTCOME_UNKNOWN, other 5xx GENERIC; an error body without the
 * {"error":{...}} shape gives code "http_error". Argument errors carry the
 * REST API's code (which may be more general than a local engine's, e.g.
 * "parameter_invalid" for "amount_invalid") with the same param and HTTP
 * status.
 *
 * Malformed 2xx answers (a Content-Type other than application/json, not
 * strict JSON, not an object of the promised shape, strings too long for
 * their field, an intent other than the one asked for) fail with
 * CONSTRA_E_PARSE, code "response_malformed", HTTP status 502 (the
 * server's fault), param naming the field, and are not repeated: the
 * server did answer (a create whose answer was unreadable is safe to call
 * again under the same key: it replays).
 *
 * What a server may send is read tolerantly: ids are opaque (1 to 42
 * characters of [A-Za-z0-9_-], whatever their shape); members the client
 * does not know are ignored and kept in constra_intent_json(), which is
 * the server's JSON as it came; members the docs mark optional (customer,
 * attempts, recovery, provider_result, times) may be absent or null;
 * times are RFC 3339 with or without fractions, "Z" or "+hh:mm"; a status
 * this library does not know reads as CONSTRA_INTENT_UNKNOWN. What the
 * client sends is strict (the same checks as a local handle).
 *
 * Threads: a remote handle may be shared by threads as a local one; the
 * transport's send must then be thread-safe (the curl and loopback ones
 * are).
 */
#ifndef CONSTRA_CLIENT_H
#define CONSTRA_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "constra/error.h"
#include "constra/export.h"
#include "constra/handle.h"
#include "constra/platform.h"
#include "constra/transport.h"

CONSTRA_BEGIN_DECLS

/** Sleeps `ms` milliseconds (the backoff between tries). */
typedef void (*constra_sleep_fn)(void *user_data, int64_t ms);

/** Reads an environment variable: NULL when unset. The default is
 *  getenv(3). */
typedef const char *(*constra_getenv_fn)(void *user_data, const char *name);

/**
 * How to reach a remote Constra API. Initialise with
 * CONSTRA_REMOTE_CONFIG_INIT or constra_remote_config_init(), or fill it
 * from the environment with constra_remote_config_from_env(). Fields are
 * appended over time, never reordered. Copied by constra_open_remote().
 */
typedef struct constra_remote_config {
    /** sizeof(constra_remote_config) as the caller compiled it. */
    size_t struct_size;
    /** Platform vtable (copied); NULL for the POSIX defaults. Supplies the
     *  allocator, clock, the random source of jitter and keys, mutex. */
    const constra_platform *platform;
    /** The API's base URL, up to and without the resource paths:
     *  "http://localhost:8000/api/v1", "https://api.constra.example/v1".
     *  http:// or https://, at most 2000 bytes, no query or fragment; a
     *  trailing '/' is dropped. Required. */
    const char *base_url;
    /** The workspace's secret key, sent as "Authorization: Bearer ...":
     *  "cs_test_..." for sandbox, "cs_live_..." for live, 16 to 127
     *  printable characters. Required. Never appears in errors or logs. */
    const char *secret_key;
    /** CONSTRA_MODE_SANDBOX (default) or CONSTRA_MODE_LIVE; must agree
     *  with the key's prefix. */
    int mode;
    /** The transport (copied; its destroy runs when the handle closes,
     *  and also when constra_open_remote fails after copying it: see
     *  there). NULL means the libcurl transport when the library is built
     *  with it; this build without one fails with CONSTRA_E_UNSUPPORTED
     *  (param "config.transport"). */
    const constra_transport *transport;
    /** Provider used when constra_intent_params.provider is NULL; NULL
     *  means "mpesa" (the only one known). */
    const char *default_provider;
    /** The webhook signing secret, when the host verifies the server's
     *  webhooks (webhook_signature.h). Not used by the handle itself; carried so
     *  that constra_remote_config_from_env() hands it over. */
    const char *webhook_secret;
    /** Tries per call, 1 to 10; 0 means 3. */
    int max_tries;
    /** Backoff: try n waits a random time in [0, min(max, base * 2^n)]
     *  ms ("full jitter"). 0 means 200 / 5000. A 409 in flight waits at
     *  least base. */
    int64_t backoff_base_ms;
    int64_t backoff_max_ms;
    /** Per-try time limits handed to the transport; 0 = its defaults. */
    int64_t connect_timeout_ms;
    int64_t timeout_ms;
    /** Largest answer accepted; 0 means 1 MiB (CONSTRA_TRANSPORT_RESPONSE_MAX). */
    size_t max_response_bytes;
    /** The backoff sleep; NULL means the platform's sleep_ms (platform.h:
     *  nanosleep(2) on POSIX). Tests pass a recorder. */
    constra_sleep_fn sleep_ms;
    void *sleep_user_data;
    /** The server's max_attempts, for constra_intent_attempts_left() of
     *  intents without a recovery summary; 0 means 3. */
    int max_attempts;
    /* New fields are appended here. */
} constra_remote_config;

#define CONSTRA_REMOTE_CONFIG_INIT { sizeof(constra_remote_config), NULL, NULL, NULL, 0, NULL, \
    NULL, NULL, 0, 0, 0, 0, 0, 0, NULL, NULL, 0 }

/** Run-time initialiser (FFI): zero-fills, sets struct_size. Returns
 *  CONSTRA_OK, CONSTRA_E_INVALID_ARGUMENT (NULL) or CONSTRA_E_ABI. */
CONSTRA_API int constra_remote_config_init(constra_remote_config *config, size_t struct_size);

/**
 * Fills `config` from the Constra environment variables, leaving every
 * other field as it was (initialise it first):
 *   CONSTRA_API_BASE_URL     -> base_url (required)
 *   CONSTRA_SECRET_KEY       -> secret_key (required)
 *   CONSTRA_ENVIRONMENT      -> mode: "sandbox" or "live" ("production" is
 *                               accepted as live, as the hosted docs say); when unset,
 *                               taken from the key's prefix; when set it
 *                               must agree with the prefix
 *   CONSTRA_DEFAULT_PROVIDER -> default_provider (optional; "mpesa")
 *   CONSTRA_WEBHOOK_SECRET   -> webhook_secret (optional)
 * Values are checked as constra_open_remote() would check them. The
 * strings point into the environment (getenv's results): open the handle
 * before the environment changes. An empty variable counts as unset.
 * `getenv_fn` NULL means getenv(3) (not thread-safe against setenv).
 *
 * Errors: CONSTRA_E_INVALID_ARGUMENT with param = the variable at fault
 * ("CONSTRA_API_BASE_URL") and a message saying what is wrong (never the
 * secret's value); code "environment_missing" for a required variable
 * that is unset, "environment_invalid" for a bad value;
 * CONSTRA_E_ABI (config's struct_size). On error `config` is unchanged.
 */
CONSTRA_API int constra_remote_config_from_env(constra_remote_config *config,
                                               constra_getenv_fn getenv_fn, void *user_data,
                                               constra_error *err);

/**
 * Opens a handle whose intent calls go to the remote API of `config`
 * (see the top of this file). Nothing is sent until the first call.
 * On success *out is the handle (constra_close() frees it and destroys
 * the transport copy). On failure *out is NULL, `err` (may be NULL) says
 * why, and the transport's destroy has NOT been called (the caller still
 * owns it), nor the platform's.
 * Errors: CONSTRA_E_INVALID_ARGUMENT (param "config.base_url",
 * "config.secret_key", "config.mode", "config.max_tries", ...),
 * CONSTRA_E_UNSUPPORTED (no transport given and none built in),
 * CONSTRA_E_ABI, CONSTRA_E_NOMEM, CONSTRA_E_PLATFORM. Thread-safe.
 */
CONSTRA_API int constra_open_remote(constra_t **out, const constra_remote_config *config,
                                    constra_error *err);

/** 1 when `handle` was opened with constra_open_remote(), else 0. */
CONSTRA_API int constra_is_remote(const constra_t *handle);

CONSTRA_END_DECLS

#endif /* CONSTRA_CLIENT_H */
