/*
 * libconstra — the handle: one `constra_t` per workspace the host talks
 * to. It owns a copy of the platform vtable and the id generator; the
 * engine, storage and rail hang off it. It keeps no error state: every
 * fallible call reports into its own `constra_error *err` (error.h).
 *
 * Threads: a handle may be shared by threads; it locks through the
 * platform mutex. The library starts no threads of its own.
 */
#ifndef CONSTRA_HANDLE_H
#define CONSTRA_HANDLE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "export.h"
#include "platform.h"

CONSTRA_BEGIN_DECLS

struct constra_storage;
struct constra_rail;
struct constra_transport;

/** Opaque handle. Created by constra_open(), freed by constra_close(). */
typedef struct constra constra_t;

/**
 * Configuration of a handle. Initialise with CONSTRA_CONFIG_INIT or
 * constra_config_init(); fields are appended over time, never reordered.
 * Copied by constra_open(): the caller may free it (and the platform it
 * points to) right after the call.
 */
typedef struct constra_config {
    /** sizeof(constra_config) as the caller compiled it. */
    size_t struct_size;
    /** Platform vtable (copied); NULL for the POSIX defaults. */
    const constra_platform *platform;
    /** Storage vtable (copied; the handle calls its destroy when closed);
     *  NULL for a fresh in-memory storage. See storage.h. */
    const struct constra_storage *storage;
    /** Rail vtable (copied; destroyed with the handle); NULL for the
     *  simulator. See rail.h. */
    const struct constra_rail *rail;
    /** CONSTRA_MODE_SANDBOX (0, default) or CONSTRA_MODE_LIVE. Sandbox
     *  allows simulated callbacks; live refuses them. */
    int mode;
    /** How long a pending intent waits for its callback before the engine
     *  asks the rail and then gives up. 0 means 120000 (2 minutes). */
    int64_t callback_timeout_ms;
    /** Attempts an intent may make (1 to 10). 0 means 3. */
    int max_attempts;
    /** How long idempotency keys are kept. 0 means 24 hours. */
    int64_t idempotency_retention_ms;
    /** Largest amount accepted, in settlement units. 0 means 250000 (the
     *  M-Pesa single-transaction limit). */
    int64_t amount_max;
    /** The workspace's secret API key ("cs_test_..." in sandbox,
     *  "cs_live_..." in live; 16 to 127 characters), copied. The REST
     *  router (api.h) requires it as the bearer token; NULL means the
     *  router refuses every request (401). */
    const char *secret_key;
    /** Transport for outbound webhook deliveries (copied; its destroy is
     *  called when the handle closes; if constra_open() fails the caller
     *  still owns it). NULL: endpoints can be registered and their events
     *  wait in the durable event log (constra_webhooks_tick() queues
     *  them), but nothing is sent until a handle with a transport ticks
     *  on the same storage. See webhook_delivery.h and transport.h. */
    const struct constra_transport *transport;
    /** Resolver for the webhook SSRF guard (webhook_delivery.h): writes the
     *  numeric addresses of `host` into `out` (NUL-terminated, separated
     *  by spaces) and returns 0, or non-zero if the name does not
     *  resolve. Called with resolve_ctx, from the thread that registers
     *  an endpoint or ticks. NULL: getaddrinfo() on POSIX builds; a
     *  bare-metal build has none, so live mode then refuses host names
     *  (IP literals are still judged). */
    int (*resolve)(void *ctx, const char *host, char *out, size_t out_size);
    void *resolve_ctx;
    /** How long the first request with an idempotency key holds it "in
     *  flight" (appended in 0.2). A retry with the same key within the
     *  lease gets 409 idempotent_request_in_flight; after it, a definite
     *  answer: the intent that request created (its current state), or
     *  the request runs afresh when it created nothing (a crash or a
     *  storage failure before anything was written). 0 means 60000
     *  (60 s); 1000 to idempotency_retention_ms. */
    int64_t idempotency_lease_ms;
    /** The workspace's callback token (appended in 0.2), copied: 16 to 64
     *  characters of [A-Za-z0-9_-]. Provider callbacks are accepted only
     *  with "token=<it>" in the query of the URL they arrive on
     *  (constra_handle_mpesa_callback(), the REST callback route), compared
     *  in constant time. NULL: derived from secret_key (HMAC-SHA256 of a
     *  fixed label under the key, 32 hex characters), so every process of
     *  the workspace accepts the same callbacks and a new key makes old
     *  callback URLs stop working. With neither, every callback is refused
     *  (401) except through constra_handle_mpesa_callback_preauthenticated(). */
    const char *callback_token;
    /** Webhook endpoint health (appended in 0.2): an endpoint whose
     *  deliveries have all failed for this long is disabled when one of
     *  them fails for good (after its last retry); a 410 Gone answer
     *  disables it at once. 0 means 3 days; -1 never (410 still
     *  disables); otherwise 1 hour to 90 days. A disabled endpoint keeps
     *  its failed deliveries for replay (webhook_delivery.h). */
    int64_t webhook_disable_after_ms;
    /** Slots of the decoded-intent cache (appended in 0.2): reads of an
     *  intent whose stored version is cached skip decoding its document.
     *  The cache is allocated on first use, one intent record per slot:
     *  sizeof(struct constra_intent) plus a few words, 9,416 B on a 32-bit
     *  target (the firmware suite prints "# intent-record"), a little more
     *  on 64-bit hosts, so 16 slots take about 150 KB. 0 turns the cache off (each
     *  read decodes; what small parts want: see examples/firmware); 0 to
     *  1024. CONSTRA_CONFIG_INIT and constra_config_init() set 16, as do
     *  callers compiled before this field existed. */
    int intent_cache_slots;
    /** Webhook work on a thread of its own (appended in 0.2): non-zero
     *  makes constra_tick() leave webhooks to constra_webhooks_tick(),
     *  which the host then calls from another thread (constra serve
     *  does), so that a slow receiver (each send may take up to 15 s)
     *  never delays time-outs and retries. 0: constra_tick() does both. */
    int webhooks_own_thread;
    /* New fields are appended here. */
} constra_config;

/** Modes of a handle. */
#define CONSTRA_MODE_SANDBOX 0
#define CONSTRA_MODE_LIVE 1

#define CONSTRA_CONFIG_INIT \
    { sizeof(constra_config), NULL, NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, 0, NULL, 0, \
      CONSTRA_INTENT_CACHE_SLOTS_DEFAULT, 0 }

/** The decoded-intent cache's default size (constra_config.intent_cache_slots). */
#define CONSTRA_INTENT_CACHE_SLOTS_DEFAULT 16

/**
 * Run-time initialiser (for FFI languages): zero-fills `config`, sets its
 * struct_size and intent_cache_slots (16) if the caller's size has it. Returns CONSTRA_OK, CONSTRA_E_INVALID_ARGUMENT (NULL) or
 * CONSTRA_E_ABI (struct_size too small). Thread-safe.
 */
CONSTRA_API int constra_config_init(constra_config *config, size_t struct_size);

/**
 * Opens a handle. `config` may be NULL for all defaults.
 *
 * On success stores the new handle in *out (free it with constra_close())
 * and returns CONSTRA_OK. On failure *out is set to NULL, `err` (may be
 * NULL) gets the detail, and nothing is left allocated; the platform's
 * `destroy` is NOT called on failure (the caller still owns user_data).
 * Errors: CONSTRA_E_INVALID_ARGUMENT (out NULL, bad platform groups),
 * CONSTRA_E_ABI (struct sizes), CONSTRA_E_NOMEM, CONSTRA_E_PLATFORM
 * (mutex creation failed). Thread-safe.
 *
 * Sandbox and live are kept apart:
 *   - a live handle (CONSTRA_MODE_LIVE) needs a real rail: with no rail
 *     (the simulator is the default), the simulator itself, or a rail
 *     named "sim", it fails with CONSTRA_E_INVALID_ARGUMENT, code
 *     `live_needs_real_rail`, param "config.rail". The simulator's magic
 *     phone numbers therefore exist only in sandbox.
 *   - on a storage with workspace metadata (storage.h; the memory and
 *     SQLite storages have it), the first handle to open it records its
 *     mode ("sandbox" / "live") and a new workspace id ("ws_..."). A
 *     handle of the other mode then fails with CONSTRA_E_INVALID_STATE
 *     (HTTP 409), code `workspace_mode_mismatch`, param "config.mode",
 *     the message naming the mode the data belongs to; nothing is
 *     written. A storage that fails while this is read or recorded:
 *     CONSTRA_E_STORAGE (param "config.storage"). Storages without the
 *     metadata pair are not checked.
 */
CONSTRA_API int constra_open(constra_t **out, const constra_config *config, constra_error *err);

/**
 * Closes a handle: frees everything it owns with the platform allocator,
 * then calls the platform's `destroy` (once). NULL is a no-op. No other
 * thread may be using the handle.
 */
CONSTRA_API void constra_close(constra_t *handle);

/**
 * Makes a new id `<prefix>_<26 chars>` (see id.h) from the handle's
 * platform clock and random source. Ids from one handle are strictly
 * increasing, even within a millisecond or if the clock steps back.
 * `prefix`: 1 to CONSTRA_ID_PREFIX_MAX lower-case ASCII letters.
 * `out` receives the id and its NUL; out_size >= CONSTRA_ID_SIZE always
 * suffices. Errors (in `err`): CONSTRA_E_INVALID_ARGUMENT
 * (param "prefix" or "out"), CONSTRA_E_BUFFER_TOO_SMALL (out untouched),
 * CONSTRA_E_PLATFORM (random source failed). Thread-safe.
 */
CONSTRA_API int constra_id_new(constra_t *handle, const char *prefix, char *out, size_t out_size,
                               constra_error *err);

/**
 * The callback token constra_open() derives from `secret_key` when
 * config.callback_token is NULL (HMAC-SHA256 of a fixed label under the
 * key, as 32 lower-case hex digits), written NUL-terminated into `out`
 * (out_size >= 33): what constra_callback_token() then returns for that
 * handle. For hosts that must know it before the handle exists (a Daraja
 * rail's callback_token goes into the rail given to constra_open(); give
 * the same value to config.callback_token, as `constra serve` does). `secret_key` must be a valid key (cs_test_ / cs_live_,
 * 16 to 127 characters). The token is a credential: never log it.
 * Errors: CONSTRA_E_INVALID_ARGUMENT (NULL, or a malformed key: param
 * "secret_key"), CONSTRA_E_BUFFER_TOO_SMALL (out untouched),
 * CONSTRA_E_PLATFORM (the HMAC failed). Thread-safe.
 */
CONSTRA_API int constra_derive_callback_token(const char *secret_key, char *out, size_t out_size,
                                              constra_error *err);

/** The handle's wall clock (platform wall_time_ms), for callers that must
 *  agree with the library's idea of "now". 0 for a NULL handle. */
CONSTRA_API int64_t constra_now_ms(constra_t *handle);

/**
 * Copies the workspace's callback token (NUL-terminated, at most 64
 * characters) into `out`: the value of "token=" that every provider
 * callback must carry in the URL it is sent to (see config.callback_token
 * and constra_handle_mpesa_callback()). Give the provider a CallBackURL
 * with it; treat it as a secret (whoever has it can post callbacks).
 *
 * On a handle whose rail checks callbacks itself (the Daraja rail: its
 * own callback_token) that rail's token is what counts, not this one.
 *
 * Errors: CONSTRA_E_INVALID_ARGUMENT (NULL handle or out),
 * CONSTRA_E_BUFFER_TOO_SMALL (size below the token's length + 1; use 65),
 * CONSTRA_E_NOT_FOUND (code "callback_token_missing": the handle has no
 * token, neither configured nor derivable without a secret key, so it
 * refuses every callback), CONSTRA_E_UNSUPPORTED on a remote handle.
 * Thread-safe.
 */
CONSTRA_API int constra_callback_token(constra_t *handle, char *out, size_t size,
                                       constra_error *err);

CONSTRA_END_DECLS

#endif /* CONSTRA_HANDLE_H */
