/*
 * libconstra — the REST surface as a function (doc/DESIGN.md section 11).
 *
 * constra_api_handle() takes one HTTP-shaped request (method, target,
 * headers, body) and returns the HTTP answer (status, headers, JSON body)
 * the Constra API gives, without any I/O: `constra serve` puts it behind
 * an HTTP server, the remote client and the bindings call it in process.
 *
 * Routes (each under both /v1 and /api/v1):
 *
 *   POST /payment-intents                      create (Idempotency-Key required)
 *   GET  /payment-intents                      list, newest first
 *   GET  /payment-intents/{id}                 one intent (?refresh=true: a pending
 *                                              one is first settled from the rail)
 *   GET  /payment-intents/{id}/events          its events, oldest first
 *   POST /payment-intents/{id}/simulate-callback  sandbox only
 *   POST /payment-intents/{id}/retry | cancel | confirm | resolve
 *   POST /providers/mpesa/callback             Daraja STK callback
 *        (also /api/v1/mpesa/callback)
 *   GET  /sandbox/overview                     counts and recent activity
 *   POST /instructions                         typed instruction -> draft
 *   GET  /workspace                            the workspace's configuration
 *   POST /webhook-endpoints                    {url, enabled_events?}: 201 with
 *                                              the signing secret (only here)
 *   GET  /webhook-endpoints                    every endpoint (no secrets)
 *   GET | DELETE /webhook-endpoints/{id}       one (no secret) | remove it
 *   POST /webhook-endpoints/{id}/enable | disable
 *   POST /webhook-endpoints/{id}/rotate-secret {overlap_seconds?}: the new secret;
 *                                              both sign during the overlap
 *   POST /webhook-endpoints/{id}/test          202: a webhook.test event to it
 *   GET  /webhook-deliveries                   ?endpoint=&status=&limit=&cursor=
 *                                              (attempts, last HTTP status, next try)
 *   POST /webhook-deliveries/{id}/replay       202: due again, same id and body
 *
 * Authentication: every route but the Daraja callback needs
 * `Authorization: Bearer <secret key>` equal to the handle's
 * constra_config.secret_key (compared in constant time). Missing or not a
 * Bearer credential: 401 `authentication_required`; wrong: 401
 * `invalid_api_key`; a cs_live_ key on a sandbox handle (or cs_test_ on a
 * live one): 401 `api_key_mode_mismatch`. A handle opened without a secret
 * key answers 401 to every authenticated route.
 *
 * The callback route carries no bearer credential (Daraja cannot send
 * one). Its query string is handed to the rail's authenticate_callback
 * (rail.h): the Daraja rail (rail_daraja.h) puts a secret token in the
 * CallBackURL (`?token=...`) and a callback without it is refused with
 * 401 `callback_unauthenticated` (nothing recorded). Rails without that
 * check (the simulator) accept any query. Allow-listing Safaricom's IP
 * ranges in front of the library remains a good idea. Every success
 * callback is a claim until the rail confirms it (STK query).
 *
 * Errors are always {"error":{"code":"...","message":"...","param":...}}
 * (param a string or null) with the status that fits: 400 bad input, 401,
 * 403 (simulated callbacks on a live handle), 404 unknown path or id, 405
 * known path with another method (with an `Allow` header), 409 state or
 * idempotency conflicts, 413 body over 64 KiB, 414 target over 8 KiB, 415
 * a Content-Type other than application/json on a route with a JSON body,
 * 422 an instruction that is refused or incomplete, 431 a header over
 * 8 KiB, 5xx storage failures (never stored for idempotent replay). Every
 * response has `Content-Type: application/json` and
 * `Cache-Control: no-store`.
 *
 * Request rules:
 *   - header names are case-insensitive; a header the router reads
 *     (Authorization, Idempotency-Key, Content-Type) may appear once;
 *     other headers are ignored;
 *   - bodies must be strict JSON objects (RFC 8259): no NUL bytes or
 *     "\u0000", no duplicate keys, no trailing data; unknown fields are
 *     refused with 400 `parameter_unknown` (a typo must not be dropped
 *     silently on a payment); JSON null counts as absent; wrong types,
 *     fractions (12.5), negative, out-of-range or huge (1e30) numbers are
 *     400 `parameter_invalid`, with `param` naming the field
 *     ("customer.phone_number"); an amount must be a whole JSON number
 *     (1250, 1250.0 and 1.25e3 are the same amount; the string "1250"
 *     is refused);
 *   - POST routes without fields (retry, cancel, confirm) accept an empty
 *     body or {};
 *   - query strings are form-encoded ('+' is a space, %XX escapes); each
 *     parameter at most once; unknown parameters are refused with 400
 *     `parameter_unknown`;
 *   - path ids must be well-formed payment intent ids (pi_...): 400
 *     `parameter_invalid` (param "id") otherwise, 404 `resource_missing`
 *     when well-formed but absent.
 *
 * Create: body {"amount":1250,"currency":"KES","provider":"mpesa",
 * "customer":{"name":"Amina N.","phone_number":"254700000000"},
 * "reference":"order_7429","description":"...","agent_policy":
 * "operator_review" | "auto_retry" | "none","draft":false}; 201 with the
 * intent (constra_intent_json()). Idempotency-Key (1-255 of A-Z a-z 0-9
 * _ - : ., optionally in double quotes as the IETF draft writes it):
 * missing 400 `idempotency_key_missing`, malformed 400
 * `idempotency_key_invalid`. A replay of the same key and request returns
 * the first body byte for byte with status 201 and `Idempotent-Replayed:
 * true`; another request under the key: 409 `idempotency_key_reused`;
 * while the first still runs (within the handle's idempotency lease,
 * 60 s by default): 409 `idempotent_request_in_flight`; after the lease,
 * 201 with the intent the first request created (replayed, its current
 * state) or a fresh run if it created nothing. Other
 * POST routes ignore Idempotency-Key: their actions are guarded by the
 * intent's status (a repeated retry meets 409 `invalid_state`).
 *
 * List query: status (a status name), reference, created[gte] (inclusive)
 * and created[lt] (exclusive) or their aliases created_from / created_to,
 * each either Unix seconds ("1764239894") or an RFC 3339 time
 * ("2025-11-27T10:38:14Z", "2025-11-27T13:38:14.625+03:00"; a space
 * where the '+' of the offset was, as '+'-decoding leaves it, is read as
 * '+'), starting_after (an intent id: the cursor), limit (1-100, default
 * 10). Body: {"object":"list","data":[...],"has_more":...}.
 *
 * Resolve body: {"outcome":"succeeded","receipt":"TKR1234567","note":
 * "..."} (receipt required then, 1-63 letters and digits) or
 * {"outcome":"failed","note":"..."}. Simulate-callback body:
 * {"result_code":1032 or "1032","result_desc":"..."}. Actions not allowed
 * in the intent's status: 409 `invalid_state`, the message naming it.
 *
 * Daraja callback: the body is parsed (by the rail's parse_callback, or
 * constra_daraja_parse_stk_callback()) and applied by
 * constra_handle_mpesa_callback() (intent.h); a success the rail
 * holds for confirmation is acknowledged (200) and recorded later. Once parsed and recorded
 * (matched, duplicate, or unknown checkout id kept for reconciliation) the
 * answer is 200 {"ResultCode":0,"ResultDesc":"Accepted"}. A malformed body
 * is 400 with the error JSON (retrying it cannot help, so it is not
 * worth a 5xx; nothing was recorded); a storage failure is a 5xx so that
 * a sender that retries does so (nothing was recorded either).
 *
 * Overview: {"object":"sandbox_overview","livemode":...,"intents":
 * {"total":N,"by_status":{...every status...}},"callbacks":{"total":...,
 * "applied":...,"duplicates":...,"unmatched":...},"recent_intents":[5
 * newest],"recent_events":[10 newest events, newest first]}. "applied"
 * counts provider results that settled an attempt (real, simulated or
 * learnt by STK query), "duplicates" repeated results, "unmatched"
 * callbacks for unknown checkout ids. Served in both modes (read-only).
 *
 * Workspace: {"object":"workspace","api_version":"v1","library_version":
 * "0.1.0","livemode":false,"workspace_id":"ws_...","callback_url":
 * "https://pay.example.com/api/v1/providers/mpesa/callback?token=...",
 * "rail":{"name":"sim","provider":"mpesa","shortcode":"174379",
 * "callback_path":"/api/v1/providers/mpesa/callback"},"retry_policy":
 * {"max_attempts":3,"callback_timeout_ms":120000,
 * "idempotency_retention_ms":86400000}} from the handle's configuration
 * (what an operator console shows; never the key). workspace_id is the id
 * the storage recorded when it was first opened (handle.h), null on a
 * storage without workspace metadata. callback_url is the URL to give the
 * provider, with the workspace's callback token: built from the base set
 * by constra_api_set_public_url() (below), null while none is set or when
 * the handle has no callback token. It is a credential for callbacks:
 * the route needs the secret key, so only the key's holder sees it.
 * shortcode is the Daraja sandbox's 174379 on a sandbox handle, null on a
 * live one (it belongs to the Daraja rail's configuration). Served in
 * both modes.
 *
 * Instructions: body {"text":"charge 0712 345 678 KES 1,250 for order
 * 7429 solar kit deposit"} (see instruction.h). Refused: 422
 * `instruction_refused` (message = the refusal); no amount or no phone
 * number: 422 `instruction_incomplete` (message lists what is missing);
 * otherwise a DRAFT intent (it moves no money until confirmed) and 201
 * {"object":"instruction","draft":<intent>,"not_understood":"..." or
 * null}. Idempotency-Key is optional here: when absent the key is derived
 * from the text ("instruction:" + a hash of it), so the same words sent
 * twice within the retention window give the same draft (replayed, with
 * `Idempotent-Replayed: true`); send a distinct key to make a second
 * draft from identical words.
 *
 * Threads: constra_api_handle() may be called from many threads at once
 * on one handle. Responses are independent objects owned by the caller.
 */
#ifndef CONSTRA_API_H
#define CONSTRA_API_H

#include <stddef.h>

#include "constra/error.h"
#include "constra/export.h"
#include "constra/handle.h"
#include "constra/http.h"
#include "constra/transport.h"

CONSTRA_BEGIN_DECLS

/**
 * One HTTP request. Initialise with CONSTRA_API_REQUEST_INIT or
 * constra_api_request_init(); fields are appended over time, never
 * reordered. Everything is borrowed for the duration of the call only.
 */
typedef struct constra_api_request {
    /** sizeof(constra_api_request) as the caller compiled it. */
    size_t struct_size;
    /** "GET", "POST", ... (case-sensitive, as HTTP says). Required. */
    const char *method;
    /** Origin-form target: path plus optional "?query", e.g.
     *  "/v1/payment-intents?limit=5". Required. */
    const char *target;
    /** header_count headers (NULL when header_count is 0). */
    const constra_http_header *headers;
    size_t header_count;
    /** The raw body, body_len bytes, need not be NUL-terminated (NULL
     *  when body_len is 0). */
    const char *body;
    size_t body_len;
    /* New fields are appended here. */
} constra_api_request;

#define CONSTRA_API_REQUEST_INIT { sizeof(constra_api_request), NULL, NULL, NULL, 0, NULL, 0 }

/** Largest body the router reads (bytes); larger is 413. */
#define CONSTRA_API_BODY_MAX 65536

/**
 * Run-time initialiser for languages without C macros: zero-fills `req`
 * and sets its struct_size (pass sizeof(constra_api_request) as the
 * caller sees it). Returns CONSTRA_OK, CONSTRA_E_INVALID_ARGUMENT (NULL)
 * or CONSTRA_E_ABI (struct_size too small). Thread-safe.
 */
CONSTRA_API int constra_api_request_init(constra_api_request *req, size_t struct_size);

/** An HTTP response produced by constra_api_handle(). Opaque. */
typedef struct constra_api_response constra_api_response;

/**
 * Handles one request on `handle` and stores the answer in *out.
 *
 * Returns CONSTRA_OK whenever an HTTP response was produced, including
 * 4xx and 5xx answers: read its status with constra_api_response_status().
 * Returns an error (and sets *out to NULL, if `out` is not NULL) only when
 * no response can be produced: CONSTRA_E_INVALID_ARGUMENT (handle, req,
 * out, method or target NULL; headers NULL with a count; a header with a
 * NULL name or value; body NULL with a length), CONSTRA_E_ABI (bad
 * req->struct_size), CONSTRA_E_NOMEM; `err` (may be NULL) gets the
 * detail.
 *
 * The response is owned by the caller: free it with
 * constra_api_response_free(). It was allocated with the handle's
 * platform allocator, so free it before closing the handle if that
 * allocator's memory dies with the handle. Thread-safe.
 */
CONSTRA_API int constra_api_handle(constra_t *handle, const constra_api_request *req,
                                   constra_api_response **out, constra_error *err);

/** The HTTP status (200, 201, 400, ...); 0 for NULL. */
CONSTRA_API int constra_api_response_status(const constra_api_response *response);

/**
 * The body: JSON, NUL-terminated, never NULL ("" for NULL response).
 * *len (may be NULL) gets its length without the NUL. Valid until the
 * response is freed.
 */
CONSTRA_API const char *constra_api_response_body(const constra_api_response *response,
                                                  size_t *len);

/** Number of response headers (at least Content-Type); 0 for NULL. */
CONSTRA_API size_t constra_api_response_header_count(const constra_api_response *response);

/** Name / value of the index-th header (static or response-owned
 *  strings, valid until the response is freed); NULL past the end. */
CONSTRA_API const char *constra_api_response_header_name(const constra_api_response *response,
                                                         size_t index);
CONSTRA_API const char *constra_api_response_header_value(const constra_api_response *response,
                                                          size_t index);

/** The value of the first header called `name` (case-insensitive), or
 *  NULL when there is none. */
CONSTRA_API const char *constra_api_response_header(const constra_api_response *response,
                                                    const char *name);

/** Frees a response. NULL is a no-op. */
CONSTRA_API void constra_api_response_free(constra_api_response *response);

/**
 * Sets the externally reachable base of the server that puts this
 * handle's router on the network, e.g. "https://pay.example.com" or
 * "http://127.0.0.1:8000" (an http(s) origin with an optional path
 * prefix; no query, fragment, credentials or spaces; at most 1024 bytes;
 * trailing '/' dropped). Copied. The router never learns it from a
 * request (a Host header is the client's to choose). It is used only to
 * show the callback URL (GET /workspace `callback_url`,
 * constra_api_callback_url()); it changes no route. NULL or "" clears it.
 * Errors: CONSTRA_E_INVALID_ARGUMENT (handle NULL; base_url malformed:
 * code `url_invalid`, param "base_url"), the previous value kept.
 * Thread-safe: may be called while other threads serve requests.
 */
CONSTRA_API int constra_api_set_public_url(constra_t *handle, const char *base_url,
                                           constra_error *err);

/**
 * Writes the callback URL to hand the provider (the Daraja rail's
 * callback_url plus token, the one GET /workspace shows):
 * "<public url>/api/v1/providers/mpesa/callback?token=<callback token>",
 * NUL-terminated, into `out` (out_size bytes; 1200 always suffice). It
 * contains the workspace's callback token: show it only to whoever holds
 * the secret key. Errors: CONSTRA_E_INVALID_ARGUMENT (handle or out
 * NULL), CONSTRA_E_INVALID_STATE `callback_url_unavailable` (no public
 * URL set, or the handle has no callback token), CONSTRA_E_UNSUPPORTED
 * (a remote handle), CONSTRA_E_BUFFER_TOO_SMALL (out untouched; the
 * message says how many bytes). Thread-safe.
 */
CONSTRA_API int constra_api_callback_url(constra_t *handle, char *out, size_t out_size,
                                         constra_error *err);

/**
 * A constra_loopback_handler (transport.h) that serves the REST router of
 * the handle passed as `handle` (a constra_t *): the request URL's path
 * and query become the target, method, headers and body are passed
 * through, and the router's status, headers and body are written into
 * `response`. Mount it to let a remote client (or any HTTP caller) talk
 * to an in-process engine with no network:
 *     constra_loopback_mount(lb, "http://constra.test",
 *                            constra_api_loopback_handler, handle, &err);
 * A body over CONSTRA_API_BODY_MAX is answered 413 by the router, as over
 * HTTP. Returns CONSTRA_OK with a response, or fails the exchange
 * (CONSTRA_TRANSPORT_OTHER) when the router could not produce one (out
 * of memory). Thread-safe as constra_api_handle() is.
 */
CONSTRA_API int constra_api_loopback_handler(void *handle,
                                             const constra_transport_request *request,
                                             constra_transport_response *response);

CONSTRA_END_DECLS

#endif /* CONSTRA_API_H */
