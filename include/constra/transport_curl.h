/*
 * libconstra — the libcurl transport (transport.h): real HTTP(S) to
 * Daraja, a remote Constra API and merchants' webhook endpoints.
 *
 * Compiled when the build finds libcurl (meson feature `curl`); otherwise
 * constra_transport_curl() returns CONSTRA_E_UNSUPPORTED, so the ABI is
 * the same either way.
 *
 * Security: TLS peer and host verification are always on. There is no
 * option to turn them off: a transport that can be told to skip
 * verification will, one day, be told so in production. Tests use plain
 * http:// on 127.0.0.1 instead. A private CA can be given (ca_bundle).
 * Proxies come from the environment (http_proxy, https_proxy, no_proxy),
 * as libcurl reads them by default.
 *
 * Threads: send() may be called from many threads at once. Connections
 * (and DNS answers) are reused through a small pool of easy handles
 * guarded by a mutex; curl_global_init runs once per process.
 */
#ifndef CONSTRA_TRANSPORT_CURL_H
#define CONSTRA_TRANSPORT_CURL_H

#include <stddef.h>
#include <stdint.h>

#include "constra/error.h"
#include "constra/export.h"
#include "constra/transport.h"

CONSTRA_BEGIN_DECLS

/** Options of the curl transport. Zero-filled means the defaults. */
typedef struct constra_curl_options {
    size_t struct_size;
    /** Path of a PEM CA bundle to trust instead of the system's; NULL =
     *  the system default. Copied. */
    const char *ca_bundle;
    /** Used when a request leaves connect_timeout_ms / timeout_ms at 0;
     *  0 here means CONSTRA_TRANSPORT_CONNECT_TIMEOUT_MS /
     *  CONSTRA_TRANSPORT_TIMEOUT_MS. Negative is refused. */
    int64_t connect_timeout_ms;
    int64_t timeout_ms;
    /** User-Agent header; NULL = "libconstra/<version>". At most 255
     *  printable ASCII bytes. Copied. */
    const char *user_agent;
    /** Non-zero: libcurl's verbose trace on stderr (debugging only: it
     *  prints headers, including Authorization). Off by default. */
    int verbose;
    /* New fields are appended here. */
} constra_curl_options;

#define CONSTRA_CURL_OPTIONS_INIT { sizeof(constra_curl_options), NULL, 0, 0, NULL, 0 }

/** Run-time initialiser (FFI): zero-fills, sets struct_size. */
CONSTRA_API int constra_curl_options_init(constra_curl_options *options, size_t struct_size);

/**
 * Fills `out` with a transport named "curl". Its own state (the handle
 * pool) uses the default platform (malloc, pthread mutex); responses are
 * allocated by the caller of constra_transport_send(). `options` may be
 * NULL. The caller owns
 * `out` until it hands it over (whoever holds it calls destroy once).
 *
 * Failures of send() (transport.h): cannot resolve or connect -> CONNECT;
 * TLS handshake or certificate -> TLS; a time-out before any request
 * byte left -> CONNECT, after -> TIMEOUT; a body over the request's cap
 * -> TOO_LARGE (reading stops there, nothing more is buffered); reset,
 * nothing received, truncated body -> PROTOCOL.
 *
 * Errors: CONSTRA_E_UNSUPPORTED (built without libcurl),
 * CONSTRA_E_INVALID_ARGUMENT, CONSTRA_E_ABI, CONSTRA_E_NOMEM,
 * CONSTRA_E_PLATFORM (mutex), CONSTRA_E_TRANSPORT (libcurl failed to
 * initialise). Thread-safe.
 */
CONSTRA_API int constra_transport_curl(constra_transport *out, const constra_curl_options *options,
                                       constra_error *err);

CONSTRA_END_DECLS

#endif /* CONSTRA_TRANSPORT_CURL_H */
