/*
 * libconstra — webhook delivery (doc/DESIGN.md section 10): workspace
 * endpoints, and the events of the engine delivered to them at least once.
 *
 * (webhook_signature.h is the pure layer a receiver uses: sign and verify.)
 *
 * How it works. Every state change of an intent appends an event to the
 * storage in the same atomic write as the change (storage.h). Each
 * endpoint keeps a cursor into that durable event log; a tick derives the
 * endpoint's deliveries from the events past its cursor and, in ONE
 * atomic storage write, queues them and moves the cursor. So an event
 * that was committed is never lost for an endpoint (a crash before the
 * queue write leaves the cursor where it was, and the next tick derives
 * the same events again), and an event is never queued twice for one
 * endpoint (the storage refuses a second (endpoint, event) pair). A new
 * endpoint starts after the last event stored when it is added; while it
 * is disabled, its cursor moves past events without queueing them.
 *
 * Each delivery is POSTed through the handle's transport
 * (constra_config.transport) with:
 *   Content-Type: application/json
 *   User-Agent: libconstra/<version>
 *   Constra-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
 *   Constra-Signature-Body: <hex HMAC-SHA256(secret, body)>   (no replay
 *       protection: prefer Constra-Signature)
 *   Constra-Delivery-Id: whd_...   (one per (endpoint, event), the same on
 *       every retry and replay: deduplicate on it, or on the event id)
 *   Constra-Event-Id, Constra-Event-Type
 *   webhook-id, webhook-timestamp, webhook-signature (Standard Webhooks;
 *       sent when the secret is a "whsec_<base64>" secret, as generated
 *       ones are; webhook-id is the delivery id)
 * The body is the event envelope: {"id":"evt_...","type":...,
 * "created_at":"<RFC 3339 UTC>","data":{"payment_intent_id",...}}.
 *
 * Any 2xx within 15 s is delivered. A time-out, a transport failure, a
 * non-2xx (3xx included: redirects are not followed) or a URL refused by
 * the SSRF rule at send time is a failed attempt, retried 1 min, 5 min,
 * 30 min, 2 h and 24 h after the failure, on the clock passed to the
 * tick; after the sixth failed attempt the delivery is "failed" and stays
 * listed until replayed (constra_webhook_delivery_replay()).
 *
 * Endpoint health. A 410 Gone answer fails that delivery at once (no
 * retry) and disables the endpoint. A delivery failing for good disables
 * its endpoint when none of the endpoint's deliveries succeeded within
 * constra_config.webhook_disable_after_ms (default 3 days; -1 never) and
 * the endpoint is at least that old. A disabled endpoint is sent nothing
 * (events meanwhile are skipped for it, as for one disabled by hand);
 * enable it again and replay its failed deliveries to catch up.
 *
 * SSRF rule. In live mode a URL must be https and its host must not be,
 * or resolve to, a private (10/8, 172.16/12, 192.168/16, fc00::/7),
 * loopback (127/8, ::1, "localhost"), link-local (169.254/16, fe80::/10),
 * metadata (169.254.169.254, fd00:ec2::254), unspecified (0/8, ::), CGNAT
 * (100.64/10), multicast or reserved address; IPv4 literals in any form
 * ("2130706433", "0177.0.0.1", "0x7f.1", "::ffff:127.0.0.1") are read as
 * such. A host name is refused if ANY of its addresses is. Checked when an
 * endpoint is added and again before every send (DNS can change). In
 * sandbox mode any http(s) URL is allowed. In every mode: only http and
 * https, a host, no "user@" in the URL. The check and the transport's own
 * name lookup are separate, so a name that changes between the two in
 * the same second is not caught here: run deliveries through an egress
 * proxy if that matters to you.
 *
 * On a remote handle (client.h) every call here is the server's: it goes
 * to its REST API (/v1/webhook-endpoints, /v1/webhook-deliveries), with
 * the arguments checked here first; the server makes each secret (a
 * given secret is refused, param "secret"), and a delivery listed has no
 * body (REST does not return it). An add, rotation, test or replay whose
 * answer was lost is not repeated (it could make a second endpoint,
 * secret or event); reads and enable/disable are.
 *
 * Threads: every call may be made from any thread on a shared handle.
 * Concurrent ticks (threads or processes sharing a storage) claim each
 * delivery with a compare-and-set before sending it, so one sends it;
 * a claim whose owner died is taken over two minutes later.
 */
#ifndef CONSTRA_WEBHOOK_DELIVERY_H
#define CONSTRA_WEBHOOK_DELIVERY_H

#include <stddef.h>
#include <stdint.h>

#include "constra/error.h"
#include "constra/export.h"
#include "constra/handle.h"

CONSTRA_BEGIN_DECLS

/** Longest endpoint URL, in bytes. */
#define CONSTRA_WEBHOOK_URL_MAX 2048
/** A given secret: 16 to 256 printable ASCII characters, no spaces. */
#define CONSTRA_WEBHOOK_ENDPOINT_SECRET_MIN 16
#define CONSTRA_WEBHOOK_ENDPOINT_SECRET_MAX 256
/** Longest event-type filter, in bytes. */
#define CONSTRA_WEBHOOK_EVENT_TYPES_MAX 1024

/** Parameters of constra_webhook_endpoint_add(). */
typedef struct constra_webhook_endpoint_params {
    /** sizeof(constra_webhook_endpoint_params) as the caller compiled it. */
    size_t struct_size;
    /** Where to POST, "https://..." (or "http://..." in sandbox). Required. */
    const char *url;
    /** The signing secret; NULL to have one generated ("whsec_" and the
     *  base64 of 24 random bytes; read it back with
     *  constra_webhook_endpoint_secret()). */
    const char *secret;
    /** "*" (every event), or a comma-separated list of event types
     *  ("payment_intent.succeeded,payment_intent.failed"), no spaces.
     *  NULL means "*". */
    const char *event_types;
    /* ---- added in 0.2 (a caller's struct may end before them) ---- */
    /** What the endpoint is for, shown to people: NULL or "" for none; at
     *  most CONSTRA_WEBHOOK_DESCRIPTION_MAX bytes of valid UTF-8 without
     *  control characters (code "parameter_invalid", param
     *  "description"). Stored as given, never interpreted. */
    const char *description;
    /** Which signature headers its deliveries carry:
     *   NULL or "all": Constra-Signature (t=,v1=) and
     *     Constra-Signature-Body (hex HMAC of the body), plus the Standard
     *     Webhooks headers (webhook-id, webhook-timestamp,
     *     webhook-signature) when the secret is a whsec_ one (a generated
     *     secret is);
     *   "constra": the two Constra headers only;
     *   "standard_webhooks": the Standard Webhooks headers only; the
     *     secret must be whsec_ followed by base64 (code
     *     "secret_invalid" otherwise).
     *  Every delivery also carries Constra-Delivery-Id, Constra-Event-Id
     *  and Constra-Event-Type. Unknown: code "webhook_scheme_unknown",
     *  param "scheme". */
    const char *scheme;
    /* New fields are appended here. */
} constra_webhook_endpoint_params;

/** Longest endpoint description, in bytes. */
#define CONSTRA_WEBHOOK_DESCRIPTION_MAX 500

#define CONSTRA_WEBHOOK_ENDPOINT_PARAMS_INIT \
    { sizeof(constra_webhook_endpoint_params), NULL, NULL, NULL, NULL, NULL }

/** Run-time initialiser (FFI). CONSTRA_OK, CONSTRA_E_INVALID_ARGUMENT
 *  (NULL) or CONSTRA_E_ABI. Thread-safe. */
CONSTRA_API int constra_webhook_endpoint_params_init(constra_webhook_endpoint_params *params,
                                                     size_t struct_size);

/** A snapshot of one endpoint. Opaque; immutable. */
typedef struct constra_webhook_endpoint constra_webhook_endpoint;
/** A snapshot of endpoints. Opaque; immutable. */
typedef struct constra_webhook_endpoint_list constra_webhook_endpoint_list;
/** A snapshot of deliveries. Opaque; immutable. */
typedef struct constra_webhook_delivery_list constra_webhook_delivery_list;

/**
 * Registers an endpoint (stored; enabled). `out` (may be NULL) receives
 * its snapshot, which the caller frees with constra_webhook_endpoint_free().
 * Errors (in `err`): CONSTRA_E_INVALID_ARGUMENT with code
 * "url_invalid" (param "url"), "url_forbidden" (live mode SSRF rule),
 * "secret_invalid" (param "secret"), "event_type_unknown" (param
 * "event_types") or the usual argument codes; CONSTRA_E_ABI;
 * CONSTRA_E_UNSUPPORTED (the storage has no webhook methods);
 * CONSTRA_E_STORAGE; CONSTRA_E_NOMEM; CONSTRA_E_PLATFORM (random source).
 * Nothing is stored on failure.
 */
CONSTRA_API int constra_webhook_endpoint_add(constra_t *handle,
                                             const constra_webhook_endpoint_params *params,
                                             constra_webhook_endpoint **out, constra_error *err);

/** One endpoint by id into *out (free it). CONSTRA_E_NOT_FOUND,
 *  CONSTRA_E_INVALID_ARGUMENT, CONSTRA_E_UNSUPPORTED, CONSTRA_E_STORAGE. */
CONSTRA_API int constra_webhook_endpoint_get(constra_t *handle, const char *id,
                                             constra_webhook_endpoint **out, constra_error *err);

/** Every endpoint, by id, into *out (free with
 *  constra_webhook_endpoint_list_free()). */
CONSTRA_API int constra_webhook_endpoint_list_get(constra_t *handle,
                                                  constra_webhook_endpoint_list **out,
                                                  constra_error *err);
/** Number of endpoints in the list; 0 for NULL. Thread-safe (read-only). */
CONSTRA_API size_t constra_webhook_endpoint_list_count(const constra_webhook_endpoint_list *list);
/** The index-th endpoint, owned by the list; NULL past the end. */
CONSTRA_API const constra_webhook_endpoint *constra_webhook_endpoint_list_at(
    const constra_webhook_endpoint_list *list, size_t index);
/** Frees the list and every endpoint it owns. NULL is a no-op. */
CONSTRA_API void constra_webhook_endpoint_list_free(constra_webhook_endpoint_list *list);

/**
 * Enables (1) or disables (0) an endpoint. A disabled endpoint is sent
 * nothing: events committed meanwhile are skipped for it, and its queued
 * deliveries wait until it is enabled again. Errors:
 * CONSTRA_E_NOT_FOUND, CONSTRA_E_INVALID_ARGUMENT, CONSTRA_E_CONFLICT
 * (changed concurrently: retry), CONSTRA_E_UNSUPPORTED, CONSTRA_E_STORAGE.
 */
CONSTRA_API int constra_webhook_endpoint_set_enabled(constra_t *handle, const char *id,
                                                     int enabled, constra_error *err);

/** Removes an endpoint and its deliveries (pending ones are dropped).
 *  Errors: CONSTRA_E_NOT_FOUND, CONSTRA_E_INVALID_ARGUMENT,
 *  CONSTRA_E_UNSUPPORTED, CONSTRA_E_STORAGE. */
CONSTRA_API int constra_webhook_endpoint_remove(constra_t *handle, const char *id,
                                                constra_error *err);

/* Endpoint accessors: never fail; "" / 0 for NULL. Valid until freed. */
CONSTRA_API const char *constra_webhook_endpoint_id(const constra_webhook_endpoint *endpoint);
CONSTRA_API const char *constra_webhook_endpoint_url(const constra_webhook_endpoint *endpoint);
/** The signing secret (handle it as such: never log it). */
CONSTRA_API const char *constra_webhook_endpoint_secret(const constra_webhook_endpoint *endpoint);
CONSTRA_API const char *constra_webhook_endpoint_event_types(
    const constra_webhook_endpoint *endpoint);
CONSTRA_API int constra_webhook_endpoint_enabled(const constra_webhook_endpoint *endpoint);
CONSTRA_API int64_t constra_webhook_endpoint_created_at_ms(
    const constra_webhook_endpoint *endpoint);
/** Its description ("" for none). */
CONSTRA_API const char *constra_webhook_endpoint_description(
    const constra_webhook_endpoint *endpoint);
/** Its signature scheme: "all", "constra" or "standard_webhooks" (see
 *  constra_webhook_endpoint_params.scheme). */
CONSTRA_API const char *constra_webhook_endpoint_scheme(const constra_webhook_endpoint *endpoint);
/** Frees a snapshot from add() or get(). NULL is a no-op. */
CONSTRA_API void constra_webhook_endpoint_free(constra_webhook_endpoint *endpoint);

/** Default and longest overlap of constra_webhook_endpoint_rotate_secret(). */
#define CONSTRA_WEBHOOK_ROTATION_OVERLAP_DEFAULT_MS INT64_C(86400000)
#define CONSTRA_WEBHOOK_ROTATION_OVERLAP_MAX_MS INT64_C(604800000)

/**
 * Gives an endpoint a new generated secret ("whsec_..."). For `overlap_ms`
 * (0: 24 hours; at most 7 days) deliveries are signed with both: the
 * Constra-Signature header carries two v1 entries (t=..,v1=<new>,v1=<old>)
 * and webhook-signature two ("v1,<new> v1,<old>"), so receivers switch
 * secrets at their own pace; Constra-Signature-Body (one value) uses the
 * new secret at once. A second rotation inside the overlap drops the
 * oldest secret. `out` (may be NULL) receives the endpoint with its new
 * secret (constra_webhook_endpoint_secret(); free it): that is the only
 * place the new secret is shown. Errors: CONSTRA_E_NOT_FOUND,
 * CONSTRA_E_INVALID_ARGUMENT (overlap_ms, id), CONSTRA_E_CONFLICT (changed
 * concurrently: retry), CONSTRA_E_UNSUPPORTED, CONSTRA_E_STORAGE,
 * CONSTRA_E_PLATFORM (random source), CONSTRA_E_NOMEM. Thread-safe.
 */
CONSTRA_API int constra_webhook_endpoint_rotate_secret(constra_t *handle, const char *id,
                                                       int64_t overlap_ms,
                                                       constra_webhook_endpoint **out,
                                                       constra_error *err);

/**
 * Queues a "webhook.test" event for this endpoint only (whatever its
 * event filter; disabled endpoints keep it until enabled): body
 * {"id":"evt_...","object":"event","type":"webhook.test","created_at":...,
 * "livemode":...,"data":{"webhook_endpoint_id":"we_..."}}, signed and
 * retried as every delivery. It is not written to the event log, so no
 * other endpoint receives it. The delivery id is copied into
 * `delivery_id` (may be NULL; CONSTRA_ID_SIZE bytes suffice). It is sent
 * by the next webhook tick. Errors: CONSTRA_E_NOT_FOUND,
 * CONSTRA_E_INVALID_ARGUMENT, CONSTRA_E_UNSUPPORTED, CONSTRA_E_STORAGE,
 * CONSTRA_E_NOMEM. Thread-safe.
 */
CONSTRA_API int constra_webhook_endpoint_send_test(constra_t *handle, const char *id,
                                                   char *delivery_id, size_t delivery_id_size,
                                                   constra_error *err);

/**
 * Deliveries, oldest first, at most `limit` (0 = 100; at most 1000):
 * those of `endpoint_id` (NULL or "" = all) in `state` ("pending",
 * "delivered", "failed"; NULL or "" = any), after the delivery id
 * `starting_after` (NULL = from the start). Free *out with
 * constra_webhook_delivery_list_free(). Errors: CONSTRA_E_INVALID_ARGUMENT,
 * CONSTRA_E_UNSUPPORTED, CONSTRA_E_STORAGE, CONSTRA_E_NOMEM.
 */
CONSTRA_API int constra_webhook_delivery_list_get(constra_t *handle, const char *endpoint_id,
                                                  const char *state, const char *starting_after,
                                                  size_t limit,
                                                  constra_webhook_delivery_list **out,
                                                  constra_error *err);
/** Number of deliveries in the list; 0 for NULL. Thread-safe (read-only). */
CONSTRA_API size_t constra_webhook_delivery_list_count(const constra_webhook_delivery_list *list);
/* The index-th delivery's fields; "" / 0 past the end. Valid until freed. */
CONSTRA_API const char *constra_webhook_delivery_id(const constra_webhook_delivery_list *list,
                                                    size_t index);
CONSTRA_API const char *constra_webhook_delivery_endpoint_id(
    const constra_webhook_delivery_list *list, size_t index);
CONSTRA_API const char *constra_webhook_delivery_event_id(
    const constra_webhook_delivery_list *list, size_t index);
CONSTRA_API const char *constra_webhook_delivery_event_type(
    const constra_webhook_delivery_list *list, size_t index);
/** "pending", "delivered" or "failed". */
CONSTRA_API const char *constra_webhook_delivery_state(const constra_webhook_delivery_list *list,
                                                       size_t index);
/** Attempts since it was queued or last replayed. */
CONSTRA_API int constra_webhook_delivery_attempts(const constra_webhook_delivery_list *list,
                                                  size_t index);
/** HTTP status of the last attempt (0: none, or no response). */
CONSTRA_API int constra_webhook_delivery_last_status(const constra_webhook_delivery_list *list,
                                                     size_t index);
/** Code of the last failure: "http_<status>", "transport_timeout",
 *  "transport_connect", ..., "url_forbidden"; "" after a success. */
CONSTRA_API const char *constra_webhook_delivery_last_error(
    const constra_webhook_delivery_list *list, size_t index);
/** Pending: when the next attempt is due (ms). */
CONSTRA_API int64_t constra_webhook_delivery_next_attempt_at_ms(
    const constra_webhook_delivery_list *list, size_t index);
/** Every attempt as a JSON array, oldest first (the oldest are dropped
 *  beyond 8 KiB): [{"at":"<RFC 3339>","status":500,"error":"http_500"},...] */
CONSTRA_API const char *constra_webhook_delivery_attempts_json(
    const constra_webhook_delivery_list *list, size_t index);
/** The exact body POSTed (*len may be NULL). */
CONSTRA_API const char *constra_webhook_delivery_body(const constra_webhook_delivery_list *list,
                                                      size_t index, size_t *len);
/** Frees the list (every string read from it dies with it). NULL is a
 *  no-op. */
CONSTRA_API void constra_webhook_delivery_list_free(constra_webhook_delivery_list *list);

/**
 * Queues a "failed" or "delivered" delivery again, due now, with a fresh
 * retry schedule (its attempt log is kept; the delivery id and body are
 * the same). Errors: CONSTRA_E_NOT_FOUND, CONSTRA_E_INVALID_STATE (it is
 * pending already), CONSTRA_E_CONFLICT (changed concurrently),
 * CONSTRA_E_INVALID_ARGUMENT, CONSTRA_E_UNSUPPORTED, CONSTRA_E_STORAGE.
 */
CONSTRA_API int constra_webhook_delivery_replay(constra_t *handle, const char *delivery_id,
                                                constra_error *err);

/**
 * The webhook work of a tick at `now_ms`: queues the deliveries of events
 * committed since the last tick, then sends every delivery due (through
 * constra_config.transport; without one, nothing is sent). constra_tick()
 * does this too when the handle has a transport, unless
 * constra_config.webhooks_own_thread is set: then call this one from a
 * thread of its own, so that slow receivers never delay time-outs. Blocks for the sends
 * (each at most 15 s). Returns CONSTRA_OK, or the first storage error
 * (failed sends are not errors: they are scheduled for retry).
 */
CONSTRA_API int constra_webhooks_tick(constra_t *handle, int64_t now_ms, constra_error *err);

CONSTRA_END_DECLS

#endif /* CONSTRA_WEBHOOK_DELIVERY_H */
