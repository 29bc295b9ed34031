/*
 * libconstra — the transport vtable (doc/DESIGN.md section 8): everything that
 * crosses a network (Daraja, a remote Constra API, merchants' webhook
 * endpoints) is one call, send(request) -> response, through a
 * constra_transport. Shipped: libcurl (constra_transport_curl(), when built
 * with curl) and a loopback that hands requests to in-process handlers
 * (constra_loopback, below). Firmware supplies its own.
 *
 * Responses are written by the transport into a library-owned
 * constra_transport_response through the setter functions below
 * (status, headers, body appended in pieces, or a failure), so nothing is
 * allocated across the boundary and the size cap is enforced in one place.
 *
 * Failures and money. A transport says how a request failed, because it
 * decides whether retrying is safe:
 *   CONNECT, TLS            the request never reached the server: nothing
 *                           happened there, retrying is safe
 *                           (constra_transport_send() returns
 *                           CONSTRA_E_TRANSPORT);
 *   TIMEOUT, PROTOCOL,      the request may have been received and acted
 *   TOO_LARGE, OTHER        on: the outcome is unknown
 *                           (CONSTRA_E_OUTCOME_UNKNOWN). Reconcile (query),
 *                           or retry only under the same idempotency key.
 * Retries, backoff and circuit breaking are above the transport (rails,
 * the remote client, webhook delivery), never in it.
 *
 * Vtable rules as for constra_platform (platform.h): struct_size first,
 * copied at registration, `destroy` called once when the last copy is
 * dropped. send() may be called from several threads at once.
 */
#ifndef CONSTRA_TRANSPORT_H
#define CONSTRA_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "constra/error.h"
#include "constra/export.h"
#include "constra/http.h"
#include "constra/platform.h"

CONSTRA_BEGIN_DECLS

/** Defaults applied where a request leaves a limit at 0. */
#define CONSTRA_TRANSPORT_CONNECT_TIMEOUT_MS 10000
#define CONSTRA_TRANSPORT_TIMEOUT_MS 30000
#define CONSTRA_TRANSPORT_RESPONSE_MAX (1024u * 1024u)
/** Hard ceiling on max_response_bytes (a larger value is refused). */
#define CONSTRA_TRANSPORT_RESPONSE_LIMIT (64u * 1024u * 1024u)

/** One outgoing HTTP request. Everything is borrowed for the call. */
typedef struct constra_transport_request {
    /** sizeof(constra_transport_request) as the caller compiled it. */
    size_t struct_size;
    /** An HTTP method token: "GET", "POST", ... Required. */
    const char *method;
    /** Absolute URL, "http://" or "https://", no whitespace, no control
     *  characters, at most 8 KiB. Required. */
    const char *url;
    /** header_count headers; names are HTTP tokens, values carry no CR,
     *  LF or NUL (checked: no header injection). */
    const constra_http_header *headers;
    size_t header_count;
    /** body_len bytes (NULL when 0); need not be NUL-terminated. */
    const char *body;
    size_t body_len;
    /** Time to establish the connection (TCP + TLS); 0 = default. */
    int64_t connect_timeout_ms;
    /** Whole exchange, connect to last byte; 0 = default. */
    int64_t timeout_ms;
    /** Largest response body accepted; 0 = CONSTRA_TRANSPORT_RESPONSE_MAX.
     *  A larger body fails the request with TOO_LARGE. */
    size_t max_response_bytes;
    /* New fields are appended here. */
} constra_transport_request;

#define CONSTRA_TRANSPORT_REQUEST_INIT \
    { sizeof(constra_transport_request), NULL, NULL, NULL, 0, NULL, 0, 0, 0, 0 }

/** Run-time initialiser (FFI): zero-fills, sets struct_size. Returns
 *  CONSTRA_OK, CONSTRA_E_INVALID_ARGUMENT (NULL) or CONSTRA_E_ABI. */
CONSTRA_API int constra_transport_request_init(constra_transport_request *request,
                                               size_t struct_size);

/** How a request failed (see the top of this file). */
typedef enum constra_transport_failure {
    CONSTRA_TRANSPORT_NO_FAILURE = 0,
    /** Could not connect (DNS, refused, unreachable): nothing was sent. */
    CONSTRA_TRANSPORT_CONNECT = 1,
    /** TLS handshake or certificate verification failed: nothing sent. */
    CONSTRA_TRANSPORT_TLS = 2,
    /** A time-out after the request may have left. */
    CONSTRA_TRANSPORT_TIMEOUT = 3,
    /** The response exceeded max_response_bytes. */
    CONSTRA_TRANSPORT_TOO_LARGE = 4,
    /** Malformed HTTP, connection reset mid-exchange. */
    CONSTRA_TRANSPORT_PROTOCOL = 5,
    /** Anything else (a host transport that cannot say). */
    CONSTRA_TRANSPORT_OTHER = 6
} constra_transport_failure;

/** 1 when a failure of this kind proves the request never reached the
 *  server (CONNECT, TLS), 0 otherwise (the outcome is unknown). */
CONSTRA_API int constra_transport_failure_not_sent(int failure);

/** The stable code string of a failure: "transport_connect",
 *  "transport_tls", "transport_timeout", "response_too_large",
 *  "transport_protocol", "transport_failed"; "" for NO_FAILURE. */
CONSTRA_API const char *constra_transport_failure_code(int failure);

/** A response being received or received. Opaque, library-owned. */
typedef struct constra_transport_response constra_transport_response;

/* ---- for transports: filling in a response ------------------------- */

/** Sets the HTTP status (100-599). CONSTRA_E_INVALID_ARGUMENT otherwise. */
CONSTRA_API int constra_transport_response_set_status(constra_transport_response *response,
                                                      int status);

/**
 * Adds a response header (name_len / value_len bytes, not necessarily
 * NUL-terminated; copied). At most 100 headers of 8 KiB each: beyond
 * that the response fails with PROTOCOL. CONSTRA_E_NOMEM.
 */
CONSTRA_API int constra_transport_response_add_header(constra_transport_response *response,
                                                      const char *name, size_t name_len,
                                                      const char *value, size_t value_len);

/**
 * Appends `len` body bytes. When the body would exceed the request's
 * max_response_bytes, nothing is appended, the response is marked failed
 * with TOO_LARGE and CONSTRA_E_TRANSPORT is returned: the transport must
 * stop reading and return that status from send().
 */
CONSTRA_API int constra_transport_response_append(constra_transport_response *response,
                                                  const void *data, size_t len);

/**
 * Marks the exchange failed with `failure` (a constra_transport_failure)
 * and a message (may be NULL; copied, truncated to fit the error
 * detail). The first failure recorded wins. Returns CONSTRA_E_TRANSPORT
 * so a transport may `return constra_transport_response_fail(...)`.
 */
CONSTRA_API int constra_transport_response_fail(constra_transport_response *response,
                                                int failure, const char *message);

/* ---- the vtable ------------------------------------------------------- */

typedef struct constra_transport {
    size_t struct_size;
    void *user_data;
    /** Short name ("curl", "loopback", a host's), 1-15 lower-case
     *  letters, digits or '-'. */
    char name[16];
    /**
     * Performs one exchange. Returns CONSTRA_OK once a complete response
     * (any HTTP status) is in `response`; otherwise a non-zero status,
     * after constra_transport_response_fail() said why (if it did not,
     * the failure counts as OTHER: outcome unknown). The request is valid
     * (checked by the library) and borrowed for the call. Required.
     */
    int (*send)(void *user_data, const constra_transport_request *request,
                constra_transport_response *response);
    /** Optional: called once when the last user drops the copy. */
    void (*destroy)(void *user_data);
    /* New members are appended here. */
} constra_transport;

/** Run-time initialiser (FFI): zero-fills, sets struct_size. */
CONSTRA_API int constra_transport_init(constra_transport *transport, size_t struct_size);

/** Checks a transport vtable (struct_size, name, send). Thread-safe. */
CONSTRA_API int constra_transport_check(const constra_transport *transport, constra_error *err);

/* ---- for callers: sending ------------------------------------------- */

/**
 * Checks `request`, then sends it through `transport` and stores the
 * received response in *out (free it with constra_transport_response_free).
 * `platform` (may be NULL) supplies the allocator for the response.
 * Returns CONSTRA_OK when an HTTP response arrived, whatever its status.
 * Otherwise *out is NULL, `err` (may be NULL) gets the failure's code
 * (constra_transport_failure_code()) and message, and the return says
 * what is known: CONSTRA_E_TRANSPORT (CONNECT, TLS: not sent, safe to
 * retry), CONSTRA_E_OUTCOME_UNKNOWN (the rest). Bad arguments:
 * CONSTRA_E_INVALID_ARGUMENT (param names the field: "request.url",
 * "request.headers[2].value"), CONSTRA_E_ABI; CONSTRA_E_NOMEM.
 * Thread-safe if the transport's send is.
 */
CONSTRA_API int constra_transport_send(const constra_transport *transport,
                                       const constra_platform *platform,
                                       const constra_transport_request *request,
                                       constra_transport_response **out, constra_error *err);

/** HTTP status of a received response; 0 for NULL. */
CONSTRA_API int constra_transport_response_status(const constra_transport_response *response);

/** The body, NUL-terminated (the NUL is not part of it); *len (may be
 *  NULL) gets its length. Never NULL: "" for NULL. Valid until freed. */
CONSTRA_API const char *constra_transport_response_body(
    const constra_transport_response *response, size_t *len);

/** Value of the first header called `name` (case-insensitive) or NULL. */
CONSTRA_API const char *constra_transport_response_header(
    const constra_transport_response *response, const char *name);

/** Header count, and the index-th header's name and value (NULL past the
 *  end). Valid until the response is freed. */
CONSTRA_API size_t constra_transport_response_header_count(
    const constra_transport_response *response);
CONSTRA_API const char *constra_transport_response_header_name(
    const constra_transport_response *response, size_t index);
CONSTRA_API const char *constra_transport_response_header_value(
    const constra_transport_response *response, size_t index);

/** Frees a response; NULL is a no-op. */
CONSTRA_API void constra_transport_response_free(constra_transport_response *response);

/* ---- loopback -------------------------------------------------------- */

/**
 * An in-process handler for the loopback transport: same contract as
 * constra_transport.send (fill `response`, return CONSTRA_OK, or fail it
 * to simulate a network failure). Called on the sender's thread.
 */
typedef int (*constra_loopback_handler)(void *ctx, const constra_transport_request *request,
                                        constra_transport_response *response);

/** A table of origins -> handlers behind a transport. Opaque. */
typedef struct constra_loopback constra_loopback;

/**
 * Creates an empty loopback table. `platform` (may be NULL) supplies the
 * allocator and mutex. Free with constra_loopback_free(). Errors:
 * CONSTRA_E_INVALID_ARGUMENT, CONSTRA_E_NOMEM, CONSTRA_E_PLATFORM.
 */
CONSTRA_API int constra_loopback_new(constra_loopback **out, const constra_platform *platform,
                                     constra_error *err);

/**
 * Routes requests whose URL starts with `origin` ("scheme://host[:port]",
 * compared case-insensitively, no path) to `handler` with `ctx`. A later
 * mount of the same origin replaces the earlier one. A request for an
 * origin nobody mounted fails with CONNECT, as an unreachable host would.
 * `ctx` is borrowed: it must outlive every send. May be called while
 * other threads send. Errors: CONSTRA_E_INVALID_ARGUMENT (param
 * "origin"), CONSTRA_E_NOMEM.
 */
CONSTRA_API int constra_loopback_mount(constra_loopback *loopback, const char *origin,
                                       constra_loopback_handler handler, void *ctx,
                                       constra_error *err);

/**
 * Fills `out` with a transport ("loopback") that dispatches through
 * `loopback`. The transport holds a reference: the table lives until both
 * constra_loopback_free() and the transport's destroy have run. Whoever
 * the transport is handed to (a rail, a client, a handle) calls destroy
 * when done with it; if you never hand it over, call
 * out->destroy(out->user_data) yourself.
 */
CONSTRA_API int constra_loopback_transport(constra_loopback *loopback, constra_transport *out,
                                           constra_error *err);

/** Number of requests dispatched so far (to any origin, including ones
 *  that failed with CONNECT). For tests. Thread-safe. */
CONSTRA_API uint64_t constra_loopback_request_count(const constra_loopback *loopback);

/** Drops the caller's reference. NULL is a no-op. */
CONSTRA_API void constra_loopback_free(constra_loopback *loopback);

CONSTRA_END_DECLS

#endif /* CONSTRA_TRANSPORT_H */
