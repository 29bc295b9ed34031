/*
 * constra serve: the HTTP side, on libmicrohttpd.
 *
 * libmicrohttpd calls, per request:
 *   1. on_uri()       once the request line is read: allocates the request
 *                     context and keeps the RAW target (the router must see
 *                     the query and the undecoded path; libmicrohttpd would
 *                     split and percent-decode them);
 *   2. on_request()   first after the headers (*upload_data_size == 0):
 *                     a Content-Length over 64 KiB is refused here with 413
 *                     before one body byte is read (libmicrohttpd then
 *                     closes the connection instead of reading the body);
 *                     the rate limit is decided here too;
 *                     a chunked body is refused with 411 before it is
 *                     read (framing_error);
 *                     then once per body chunk: appended up to 64 KiB (a
 *                     body past it, which a Content-Length already
 *                     refused, is dropped as it comes, never buffered,
 *                     and the connection cut after 1 MiB of it);
 *                     last with the request complete: answered;
 *   3. on_completed() when the response is sent or the connection died:
 *                     writes the access log line and frees the context.
 *
 * With --emulate-daraja, Daraja's own paths (/oauth/v1/generate and the
 * two /mpesa/stkpush... paths) go to the Daraja emulator first: its
 * clients carry Daraja credentials (Basic, then the emulator's Bearer
 * tokens), never the Constra key, so the REST router and its key check
 * are not involved. The per-client rate limit and the body cap still
 * apply (they protect the process, whoever the client is); the access
 * log line is the usual one (no query string, no Authorization, no body:
 * the STK Password never reaches the log).
 *
 * Everything else that is not an embedded dashboard file goes to the REST
 * router (constra_api_handle), which answers every API path and every
 * unknown path (404), method (405), media type (415) and bad header with
 * its error JSON. The first request head of every connection has been
 * judged by the gate (serve_gate.c) before libmicrohttpd sees it, so what
 * libmicrohttpd would answer with its own HTML (bad request line, broken
 * field syntax, an unsupported version, a head over its memory) is
 * answered in JSON there.
 */
#define _POSIX_C_SOURCE 200809L /* getaddrinfo, strdup, gmtime_r, clocks, sigtimedwait */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "serve.h"

/* The router refuses bodies over CONSTRA_API_BODY_MAX with 413 too; we
 * enforce it before buffering. */
#define BODY_MAX CONSTRA_API_BODY_MAX
/* A refused request's body (rate-limited, too large) is read and
 * dropped up to this much, to answer; beyond it the connection is cut. */
#define DISCARD_MAX (1024 * 1024)
/* Headers passed to the router; more is 431. */
#define HEADERS_MAX 100
#define IDEM_KEY_MAX 255

typedef struct serve_request {
    serve_server *server;
    char *target;              /* raw request target (path + query) */
    int started;               /* on_request has seen this request */
    int64_t wall_ms;           /* start, for the log */
    double start_ms;           /* start, monotonic, for the duration */
    char remote[INET6_ADDRSTRLEN];
    char method[16];           /* for the log ("-" if longer) */
    int has_idem;
    char idem[IDEM_KEY_MAX + 1];
    serve_limit_verdict limit;
    int limiter_on;
    int too_large;             /* body went past BODY_MAX: dropping it */
    size_t dropped;
    char *body;
    size_t body_len, body_cap;
    int status;                /* 0 until a response is queued */
    size_t bytes;
} serve_request;

/* ---- helpers ---------------------------------------------------------------- */

/* Constant-time comparison, so that the rate limiter does not leak the
 * key through timing either. */
static int same_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < la; i++) {
        diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
    }
    return diff == 0;
}

static size_t path_len_of(const char *target)
{
    return strcspn(target, "?");
}

static void fill_remote(struct MHD_Connection *conn, char *out, size_t size)
{
    snprintf(out, size, "-");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci == NULL || ci->client_addr == NULL) {
        return;
    }
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)size);
    } else if (sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)size);
    }
}

/* Headers every response carries: nosniff (a JSON error must never be
 * sniffed into HTML), the rate-limit state, and "Connection: close"
 * unless --keep-alive (serve.h) and always while shutting down, so that
 * keep-alive clients move on. The dashboard's own policy headers are
 * added by send_asset(). */
static void add_common_headers(const serve_request *r, struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (r->limiter_on) {
        char v[32];
        snprintf(v, sizeof(v), "%ld", r->limit.limit);
        MHD_add_response_header(resp, "X-RateLimit-Limit", v);
        snprintf(v, sizeof(v), "%ld", r->limit.remaining);
        MHD_add_response_header(resp, "X-RateLimit-Remaining", v);
        snprintf(v, sizeof(v), "%ld", r->limit.reset_s);
        MHD_add_response_header(resp, "X-RateLimit-Reset", v);
    }
    if (!r->server->keep_alive || atomic_load(&r->server->draining)) {
        MHD_add_response_header(resp, "Connection", "close");
    }
}

/* Queues `resp` (consumed) with status; records what the log needs. */
static enum MHD_Result answer(struct MHD_Connection *conn, serve_request *r, unsigned status,
                              struct MHD_Response *resp, size_t body_bytes)
{
    if (resp == NULL) {
        return MHD_NO; /* out of memory: drop the connection */
    }
    add_common_headers(r, resp);
    r->status = (int)status;
    r->bytes = body_bytes;
    enum MHD_Result ok = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ok;
}

size_t serve_error_json(char *out, size_t size, const char *code, const char *message,
                        const char *param)
{
    int n = param ? snprintf(out, size,
                             "{\"error\":{\"code\":\"%s\",\"message\":\"%s\",\"param\":\"%s\"}}",
                             code, message, param)
                  : snprintf(out, size,
                             "{\"error\":{\"code\":\"%s\",\"message\":\"%s\",\"param\":null}}",
                             code, message);
    return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

size_t serve_raw_error(char *out, size_t size, int status, const char *code,
                       const char *message, const char *param)
{
    static const struct {
        int status;
        const char *reason;
    } reasons[] = {{400, "Bad Request"},       {408, "Request Timeout"},
                   {413, "Content Too Large"}, {414, "URI Too Long"},
                   {431, "Request Header Fields Too Large"},
                   {505, "HTTP Version Not Supported"}};
    const char *reason = "Bad Request";
    for (size_t k = 0; k < sizeof(reasons) / sizeof(reasons[0]); k++) {
        if (reasons[k].status == status) {
            reason = reasons[k].reason;
        }
    }
    char body[400];
    size_t bn = serve_error_json(body, sizeof(body), code, message, param);
    int n = snprintf(out, size,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                     "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
                     "Connection: close\r\nContent-Length: %zu\r\n\r\n%s",
                     status, reason, bn, body);
    return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

/* An error in the router's shape (serve_error_json). */
static enum MHD_Result send_error(struct MHD_Connection *conn, serve_request *r, unsigned status,
                                  const char *code, const char *param, const char *message,
                                  const char *extra_name, const char *extra_value)
{
    char body[512];
    size_t len = serve_error_json(body, sizeof(body), code, message, param);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (extra_name) {
        MHD_add_response_header(resp, extra_name, extra_value);
    }
    return answer(conn, r, status, resp, len);
}

/* ---- static files ---------------------------------------------------------- */

static const serve_asset *find_asset(const char *path, size_t len)
{
    if (len == 1 && path[0] == '/') {
        path = "/index.html";
        len = strlen(path);
    }
    for (const serve_asset *a = serve_assets; a->path; a++) {
        if (strlen(a->path) == len && memcmp(a->path, path, len) == 0) {
            return a;
        }
    }
    return NULL;
}

static enum MHD_Result send_asset(struct MHD_Connection *conn, serve_request *r,
                                  const serve_asset *a, const char *method)
{
    if (strcmp(method, "OPTIONS") == 0) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        if (resp) {
            MHD_add_response_header(resp, "Allow", "GET, HEAD, OPTIONS");
        }
        return answer(conn, r, MHD_HTTP_NO_CONTENT, resp, 0);
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        return send_error(conn, r, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL,
                          "this path accepts GET, HEAD and OPTIONS only", "Allow",
                          "GET, HEAD, OPTIONS");
    }
    /* The file is compiled in: it changes only with the binary, and its
     * ETag with it. no-cache makes the browser revalidate (cheap 304), so
     * a new build is never hidden behind a stale cache. */
    const char *inm = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-None-Match");
    int fresh = inm && (strstr(inm, a->etag) != NULL || strcmp(inm, "*") == 0);
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        fresh ? 0 : a->size, fresh ? NULL : (void *)(uintptr_t)a->data, MHD_RESPMEM_PERSISTENT);
    if (resp == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", a->content_type);
    MHD_add_response_header(resp, "ETag", a->etag);
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    /* The page may load only its own files, may not be framed, and leaks
     * no URL (the key may sit in its fragment) to anyone. */
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                            "base-uri 'none'; form-action 'self'");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    int head = strcmp(method, "HEAD") == 0;
    return answer(conn, r, fresh ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, resp,
                fresh || head ? 0 : a->size);
}

/* ---- the router -------------------------------------------------------------- */

typedef struct header_vec {
    constra_http_header items[HEADERS_MAX];
    size_t count;
    int overflow;
} header_vec;

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    header_vec *v = cls;
    if (v->count == HEADERS_MAX) {
        v->overflow = 1;
        return MHD_NO;
    }
    v->items[v->count].name = key;
    v->items[v->count].value = value ? value : "";
    v->count++;
    return MHD_YES;
}

static void free_api_response(void *cls)
{
    constra_api_response_free(cls);
}

static enum MHD_Result send_api(struct MHD_Connection *conn, serve_request *r,
                                const char *method)
{
    header_vec hv;
    hv.count = 0;
    hv.overflow = 0;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, &hv);
    if (hv.overflow) {
        return send_error(conn, r, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE, "header_too_large",
                          NULL, "the request has more than 100 headers", NULL, NULL);
    }
    constra_api_request req = CONSTRA_API_REQUEST_INIT;
    /* HEAD is GET without the body (libmicrohttpd leaves the body out). */
    req.method = strcmp(method, "HEAD") == 0 ? "GET" : method;
    req.target = r->target;
    req.headers = hv.count ? hv.items : NULL;
    req.header_count = hv.count;
    req.body = r->body_len ? r->body : NULL;
    req.body_len = r->body_len;

    constra_api_response *res = NULL;
    if (constra_api_handle(r->server->handle, &req, &res, NULL) != CONSTRA_OK) {
        return send_error(conn, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "api_error", NULL,
                          "the request could not be handled (out of memory?)", NULL, NULL);
    }
    size_t len = 0;
    const char *body = constra_api_response_body(res, &len);
    unsigned status = (unsigned)constra_api_response_status(res);
    /* The body is handed over without a copy: libmicrohttpd frees the
     * router's response (free_api_response) once it has sent it. */
    struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback_cls(
        len, (void *)(uintptr_t)body, free_api_response, res);
    if (resp == NULL) {
        constra_api_response_free(res);
        return MHD_NO;
    }
    size_t n = constra_api_response_header_count(res);
    for (size_t i = 0; i < n; i++) {
        MHD_add_response_header(resp, constra_api_response_header_name(res, i),
                                constra_api_response_header_value(res, i));
    }
    return answer(conn, r, status, resp, strcmp(method, "HEAD") == 0 ? 0 : len);
}

/* ---- the Daraja emulator ------------------------------------------------------- */

static int is_emulator_path(const char *target, size_t len)
{
    static const char *const paths[] = {"/oauth/v1/generate", "/mpesa/stkpush/v1/processrequest",
                                        "/mpesa/stkpushquery/v1/query"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        if (strlen(paths[i]) == len && memcmp(paths[i], target, len) == 0) {
            return 1;
        }
    }
    return 0;
}

static void free_transport_response(void *cls)
{
    constra_transport_response_free(cls);
}

/* Daraja's envelope for a request the emulator could not take at all
 * (a header it refuses, a target too long): a literal, nothing to escape. */
static enum MHD_Result send_daraja_error(struct MHD_Connection *conn, serve_request *r,
                                         unsigned status, const char *code, const char *message)
{
    char body[256];
    int n = snprintf(body, sizeof(body),
                     "{\"requestId\":\"\",\"errorCode\":\"%s\",\"errorMessage\":\"%s\"}",
                     code, message);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof(body) ? (size_t)n : sizeof(body) - 1;
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    return answer(conn, r, status, resp, len);
}

static enum MHD_Result send_emulator(struct MHD_Connection *conn, serve_request *r,
                                     const char *method)
{
    header_vec hv;
    hv.count = 0;
    hv.overflow = 0;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, &hv);
    if (hv.overflow) {
        return send_daraja_error(conn, r, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
                                 "400.002.02", "Bad Request - Too many headers");
    }
    /* The emulator rebuilds an absolute URL in a 1 KiB buffer: refuse a
     * longer target rather than let it be cut. */
    if (strlen(r->target) > 900) {
        return send_daraja_error(conn, r, MHD_HTTP_URI_TOO_LONG, "400.002.02",
                                 "Bad Request - URL too long");
    }
    constra_transport_request req = CONSTRA_TRANSPORT_REQUEST_INIT;
    req.method = method;
    req.url = r->target; /* a bare target, query string kept */
    req.headers = hv.count ? hv.items : NULL;
    req.header_count = hv.count;
    req.body = r->body_len ? r->body : NULL;
    req.body_len = r->body_len;

    constra_transport_response *res = NULL;
    constra_error err = CONSTRA_ERROR_INIT;
    int rc = constra_daraja_emulator_serve(r->server->emulator, &req, &res, &err);
    if (rc == CONSTRA_E_OUTCOME_UNKNOWN) {
        return MHD_NO; /* a fault mode answering nothing: cut the connection */
    }
    if (rc != CONSTRA_OK) {
        /* A header value or method the transport rules refuse. */
        return send_daraja_error(conn, r, MHD_HTTP_BAD_REQUEST, "400.002.02",
                                 "Bad Request - Invalid request");
    }
    size_t len = 0;
    const char *body = constra_transport_response_body(res, &len);
    int st = constra_transport_response_status(res);
    if (st < 100 || st > 599) {
        constra_transport_response_free(res);
        return MHD_NO;
    }
    unsigned status = (unsigned)st;
    struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback_cls(
        len, (void *)(uintptr_t)body, free_transport_response, res);
    if (resp == NULL) {
        constra_transport_response_free(res);
        return MHD_NO;
    }
    size_t n = constra_transport_response_header_count(res);
    for (size_t i = 0; i < n; i++) {
        const char *name = constra_transport_response_header_name(res, i);
        /* libmicrohttpd frames the message itself. */
        if (strcasecmp(name, "Content-Length") == 0 || strcasecmp(name, "Connection") == 0 ||
            strcasecmp(name, "Transfer-Encoding") == 0) {
            continue;
        }
        MHD_add_response_header(resp, name, constra_transport_response_header_value(res, i));
    }
    return answer(conn, r, status, resp, strcmp(method, "HEAD") == 0 ? 0 : len);
}

/* ---- framing (RFC 9112) ------------------------------------------------------ */

#define FRAMING_FIELDS_MAX (HEADERS_MAX + 1)

typedef struct framing_scan {
    struct {
        const char *key, *value;
        size_t key_size, value_size;
    } fields[FRAMING_FIELDS_MAX];
    size_t count;
    int content_length;     /* how many Content-Length fields */
    int transfer_encoding;  /* how many Transfer-Encoding fields */
    int te_not_chunked;     /* a Transfer-Encoding other than exactly "chunked" */
    int bad_octet;          /* a control octet in a name or value */
} framing_scan;

static int has_bad_octet(const char *p, size_t n, int in_value)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        /* A value may hold HTAB (RFC 9110 5.5); nothing else below 0x20,
         * and no DEL. A name is a token: no controls, no space. */
        if ((c < 0x20 && !(in_value && c == '\t')) || c == 0x7f || (!in_value && c == ' ')) {
            return 1;
        }
    }
    return 0;
}

static enum MHD_Result scan_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                  size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    framing_scan *f = cls;
    if (key == NULL) {
        return MHD_YES;
    }
    if (f->count < FRAMING_FIELDS_MAX) {
        f->fields[f->count].key = key;
        f->fields[f->count].key_size = key_size;
        f->fields[f->count].value = value;
        f->fields[f->count].value_size = value_size;
        f->count++;
    }
    if (strlen(key) != key_size || has_bad_octet(key, key_size, 0) ||
        (value != NULL && (strlen(value) != value_size ||
                           has_bad_octet(value, value_size, 1)))) {
        f->bad_octet = 1;
        return MHD_YES;
    }
    if (strcasecmp(key, "Content-Length") == 0) {
        f->content_length++;
    } else if (strcasecmp(key, "Transfer-Encoding") == 0) {
        f->transfer_encoding++;
        /* The only coding a server must know, and the only one we
         * decode (libmicrohttpd): "gzip, chunked" would otherwise wait
         * for a body it never reads. */
        if (value == NULL || strcasecmp(value, "chunked") != 0) {
            f->te_not_chunked = 1;
        }
    }
    return MHD_YES;
}

#if MHD_VERSION <= 0x00097500
/*
 * libmicrohttpd 0.9.75 (Debian 12's) parses a field line in place in its
 * read buffer: the ':' and the line's CR and LF become NUL bytes and the
 * value is measured with strlen. So a NUL inside a value silently ends it
 * ("Bearer <key>\0junk" reads as "Bearer <key>") and an obsolete folded
 * line (RFC 9112 5.2) is glued onto the field name in a new buffer. Both
 * leave a trace in where the fields lie, which this reads back: each name
 * is followed by its NUL (the ':'), optional blanks and its value; the
 * value by one NUL per line terminator byte and then the next name. Only
 * bytes between fields libmicrohttpd handed us are read (all inside its
 * read buffer, which holds the whole head). Later versions parse
 * differently and refuse these themselves (MHD_OPTION_CLIENT_DISCIPLINE_LVL),
 * so this is compiled for 0.9.75 and older only.
 */
static const char *layout_error(const framing_scan *f)
{
    for (size_t i = 0; i < f->count && i < FRAMING_FIELDS_MAX; i++) {
        const char *key = f->fields[i].key, *value = f->fields[i].value;
        size_t ks = f->fields[i].key_size, vs = f->fields[i].value_size;
        if (value == NULL) {
            continue;
        }
        /* The value after its name: name NUL [blanks] value. Compared
         * as integers: a folded name lives in another buffer. */
        uintptr_t k = (uintptr_t)key, v = (uintptr_t)value;
        if (v < k + ks + 1 || v > k + ks + 1 + 256) {
            return "a header field is folded over several lines (obsolete line folding)";
        }
        for (const char *p = key + ks + 1; p < value; p++) {
            if (*p != ' ' && *p != '\t') {
                return "a header field is folded over several lines (obsolete line folding)";
            }
        }
        const char *end = value + vs; /* the NUL that ended the value */
        if (i + 1 < f->count && i + 1 < FRAMING_FIELDS_MAX) {
            uintptr_t next = (uintptr_t)f->fields[i + 1].key, e = (uintptr_t)end;
            /* CR LF -> two NULs; a bare LF -> one. Anything else between
             * this value and the next name was cut off at a NUL. */
            if (next != e + 1 && !(next == e + 2 && end[1] == '\0')) {
                /* The next name elsewhere: glued from a folded line. */
                return next < e || next > e + 65536
                           ? "a header field is folded over several lines (obsolete line folding)"
                           : "a header field value has a NUL byte";
            }
        } else if (end[1] != '\0') {
            /* The last field: its terminator (or the empty line's) follows. */
            return "a header field value has a NUL byte";
        }
    }
    return NULL;
}
#endif

/* Why the request's framing is refused, or NULL when it is sound. The
 * refusals are those of RFC 9112 sections 5, 6.1 and 6.3, where a sender
 * and a proxy could read the same bytes as different requests (request
 * smuggling): several Content-Length fields (even equal ones: a proxy
 * may have joined two), Content-Length beside Transfer-Encoding, a coding
 * other than chunked, control octets in fields, obsolete line folding. */
static const char LENGTH_REQUIRED[] =
    "a request body must come with a Content-Length (chunked bodies are not accepted)";

static const char *framing_error(struct MHD_Connection *conn)
{
    framing_scan *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        return "the request could not be checked (out of memory)";
    }
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, scan_field, f);
    const char *why = NULL;
    if (f->bad_octet) {
        why = "a header field has a control character (NUL, CR, LF) in its name or value";
    } else if (f->content_length > 1) {
        why = "the request has more than one Content-Length";
    } else if (f->content_length && f->transfer_encoding) {
        why = "the request has both Content-Length and Transfer-Encoding";
    } else if (f->transfer_encoding > 1 || f->te_not_chunked) {
        why = "the only transfer coding accepted is a single 'chunked'";
    } else if (f->transfer_encoding) {
        /* A chunked body is refused before a byte of it is read: a
         * framing error inside one would be answered by libmicrohttpd
         * itself, in HTML. 411: send a Content-Length (RFC 9110 15.5.12). */
        why = LENGTH_REQUIRED;
    }
#if MHD_VERSION <= 0x00097500
    if (why == NULL) {
        why = layout_error(f);
    }
#endif
    free(f);
    return why;
}

/* ---- operations: health, readiness, metrics ------------------------------------ */

static int is_ops_path(const char *target, size_t len)
{
    return (len == 8 && memcmp(target, "/healthz", 8) == 0) ||
           (len == 7 && memcmp(target, "/readyz", 7) == 0) ||
           (len == 8 && memcmp(target, "/metrics", 8) == 0);
}

static enum MHD_Result send_json_text(struct MHD_Connection *conn, serve_request *r,
                                      unsigned status, const char *body, int head)
{
    size_t len = strlen(body);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    return answer(conn, r, status, resp, head ? 0 : len);
}

static void free_text(void *cls)
{
    free(cls);
}

/* /healthz: the process answers (no storage involved). /readyz: the
 * storage answers a read (a lookup of an id no intent has: "not found" is
 * the healthy answer). Neither needs the key: a load balancer calls them.
 * /metrics: the key, as every API route (the counters tell traffic). */
static enum MHD_Result send_ops(struct MHD_Connection *conn, serve_request *r,
                                const char *method)
{
    int head = strcmp(method, "HEAD") == 0;
    if (strcmp(method, "GET") != 0 && !head) {
        return send_error(conn, r, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL,
                          "this path accepts GET and HEAD only", "Allow", "GET, HEAD");
    }
    size_t len = path_len_of(r->target);
    if (len == 8 && memcmp(r->target, "/healthz", 8) == 0) {
        return send_json_text(conn, r, MHD_HTTP_OK, "{\"status\":\"ok\"}", head);
    }
    if (len == 7) {
        constra_intent *probe = NULL;
        constra_error err = CONSTRA_ERROR_INIT;
        int rc = constra_intent_get(r->server->handle, "pi_readyz", &probe, &err);
        constra_intent_free(probe);
        if (rc == CONSTRA_E_NOT_FOUND || rc == CONSTRA_OK) {
            return send_json_text(conn, r, MHD_HTTP_OK,
                                  "{\"status\":\"ready\",\"storage\":\"ok\"}", head);
        }
        return send_error(conn, r, MHD_HTTP_SERVICE_UNAVAILABLE, "storage_unavailable", NULL,
                          "the storage does not answer", "Retry-After", "1");
    }
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0 || r->server->secret_key == NULL ||
        !same_secret(auth + 7, r->server->secret_key)) {
        return send_error(conn, r, MHD_HTTP_UNAUTHORIZED, auth ? "invalid_api_key"
                                                                : "authentication_required",
                          NULL, "/metrics needs 'Authorization: Bearer <secret key>'",
                          "WWW-Authenticate", "Bearer realm=\"constra\"");
    }
    size_t n = 0;
    char *body = serve_metrics_text(r->server, &n);
    if (body == NULL) {
        return send_error(conn, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "api_error", NULL,
                          "out of memory", NULL, NULL);
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback_cls(n, body, free_text, body);
    if (resp == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    return answer(conn, r, MHD_HTTP_OK, resp, head ? 0 : n);
}

/* ---- connections ------------------------------------------------------------- */

static serve_conn *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci != NULL ? ci->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    serve_server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci != NULL ? serve_conn_opened(s->conns, ci->connect_fd) : NULL;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        serve_conn_closed(s->conns, *socket_context);
        *socket_context = NULL;
    }
}

/* ---- callbacks --------------------------------------------------------------- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    serve_server *s = cls;
    serve_conn_line(s->conns, conn_of(conn));
    serve_request *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return NULL; /* on_request sees NULL and drops the connection */
    }
    r->target = strdup(uri ? uri : "/");
    if (r->target == NULL) {
        free(r);
        return NULL;
    }
    r->server = s;
    r->wall_ms = constra_now_ms(s->handle);
    r->start_ms = serve_mono_ms_f();
    atomic_fetch_add(&s->in_flight, 1);
    return r;
}

/* Two buckets: one per client address (every request), and one per
 * workspace key (requests that carry it), so that neither a flood from
 * one address nor a key used from many rotating addresses gets more than
 * its share. Invented tokens only ever count against their address. The
 * headers report the tighter of the two. */
static void take_token(serve_server *s, struct MHD_Connection *conn, serve_request *r)
{
    int by_ip = s->limiter->rate > 0;
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    int by_key = s->key_limiter->rate > 0 && auth && strncmp(auth, "Bearer ", 7) == 0 &&
                 s->secret_key && same_secret(auth + 7, s->secret_key);
    r->limiter_on = by_ip || s->key_limiter->rate > 0;
    r->limit.allowed = 1;
    if (!r->limiter_on) {
        return;
    }
    serve_limit_verdict ip = {1, 0, 0, 0, 0}, key = {1, 0, 0, 0, 0};
    if (by_ip) {
        char name[8 + INET6_ADDRSTRLEN];
        int n = snprintf(name, sizeof(name), "ip:%s", r->remote);
        size_t len = n > 0 && (size_t)n < sizeof(name) ? (size_t)n : strlen(name);
        serve_limiter_take(s->limiter, name, len, serve_mono_ms(), &ip);
    }
    if (by_key) {
        serve_limiter_take(s->key_limiter, "key", 3, serve_mono_ms(), &key);
    }
    const serve_limit_verdict *tight = !by_ip ? &key
                                       : !by_key ? &ip
                                       : (!key.allowed || (ip.allowed && key.remaining < ip.remaining))
                                           ? &key
                                           : &ip;
    if (!by_ip && !by_key) {
        /* Only a key limit, and no key: the key limit's shape, full. */
        r->limit.limit = (long)s->key_limiter->rate;
        r->limit.remaining = (long)s->key_limiter->burst;
        r->limit.reset_s = 0;
        return;
    }
    r->limit = *tight;
    r->limit.allowed = ip.allowed && key.allowed;
    if (!r->limit.allowed) {
        r->limit.retry_after_s = ip.retry_after_s > key.retry_after_s ? ip.retry_after_s
                                                                       : key.retry_after_s;
    }
}

static int start_request(serve_server *s, struct MHD_Connection *conn, serve_request *r,
                         const char *method, int *early_413)
{
    r->started = 1;
    fill_remote(conn, r->remote, sizeof(r->remote));
    snprintf(r->method, sizeof(r->method), "%s", strlen(method) < sizeof(r->method) ? method : "-");
    const char *idem = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Idempotency-Key");
    if (idem) {
        r->has_idem = 1;
        snprintf(r->idem, sizeof(r->idem), "%s", idem);
    }
    take_token(s, conn, r);
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    if (cl) {
        /* libmicrohttpd has already refused a malformed Content-Length. */
        unsigned long long n = strtoull(cl, NULL, 10);
        if (n > BODY_MAX) {
            *early_413 = 1;
            return 0;
        }
        if (n > 0 && r->limit.allowed) {
            r->body = malloc((size_t)n);
            if (r->body == NULL) {
                return -1;
            }
            r->body_cap = (size_t)n;
        }
    }
    return 0;
}

/* Takes one chunk of the body. Returns 0, or -1 to cut the connection. */
static int take_body(serve_request *r, const char *data, size_t n)
{
    if (r->too_large || !r->limit.allowed) {
        /* Refused anyway: drop the bytes without keeping them. */
        r->dropped += n;
        return r->dropped > DISCARD_MAX ? -1 : 0;
    }
    if (n > BODY_MAX - r->body_len) {
        r->too_large = 1;
        r->dropped = r->body_len + n;
        free(r->body);
        r->body = NULL;
        r->body_len = r->body_cap = 0;
        return 0;
    }
    if (r->body_len + n > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 4096;
        while (cap < r->body_len + n) {
            cap *= 2;
        }
        if (cap > BODY_MAX) {
            cap = BODY_MAX;
        }
        char *grown = realloc(r->body, cap);
        if (grown == NULL) {
            return -1;
        }
        r->body = grown;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)url;
    (void)version;
    serve_server *s = cls;
    serve_request *r = *con_cls;
    if (r == NULL) {
        return MHD_NO;
    }
    if (!r->started) {
        serve_conn_head_done(s->conns, conn_of(conn));
        const char *bad_framing = framing_error(conn);
        if (bad_framing != NULL) {
            fill_remote(conn, r->remote, sizeof(r->remote));
            snprintf(r->method, sizeof(r->method), "%s",
                     strlen(method) < sizeof(r->method) ? method : "-");
            r->started = 1;
            serve_metrics_framing(s->metrics);
            /* Answered before the body, which is never read: libmicrohttpd
             * closes the connection after this answer. */
            if (bad_framing == LENGTH_REQUIRED) {
                return send_error(conn, r, MHD_HTTP_LENGTH_REQUIRED, "length_required", NULL,
                                  bad_framing, "Connection", "close");
            }
            return send_error(conn, r, MHD_HTTP_BAD_REQUEST, "request_malformed", NULL,
                              bad_framing, "Connection", "close");
        }
        int early_413 = 0;
        if (start_request(s, conn, r, method, &early_413) != 0) {
            return MHD_NO;
        }
        if (early_413) {
            /* Queued before the body: libmicrohttpd will not read it, and
             * closes the connection after this answer. */
            return send_error(conn, r, 413, "body_too_large", "body",
                              "the request body is larger than 65536 bytes", NULL, NULL);
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        return take_body(r, upload_data, n) == 0 ? MHD_YES : MHD_NO;
    }
    /* The whole request is in. */
    if (r->too_large) {
        return send_error(conn, r, 413, "body_too_large", "body",
                          "the request body is larger than 65536 bytes", "Connection", "close");
    }
    if (!r->limit.allowed) {
        char retry[32];
        snprintf(retry, sizeof(retry), "%ld", r->limit.retry_after_s);
        return send_error(conn, r, MHD_HTTP_TOO_MANY_REQUESTS, "rate_limited", NULL,
                          "too many requests: slow down and retry after the Retry-After seconds",
                          "Retry-After", retry);
    }
    if (is_ops_path(r->target, path_len_of(r->target))) {
        return send_ops(conn, r, method);
    }
    if (s->emulator != NULL && is_emulator_path(r->target, path_len_of(r->target))) {
        return send_emulator(conn, r, method);
    }
    const serve_asset *a = find_asset(r->target, path_len_of(r->target));
    if (a != NULL) {
        return send_asset(conn, r, a, method);
    }
    return send_api(conn, r, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    serve_server *s = cls;
    serve_request *r = *con_cls;
    *con_cls = NULL;
    /* The next request head on this connection gets a fresh budget. */
    serve_conn_next(s->conns, conn_of(conn));
    if (r == NULL) {
        return;
    }
    if (r->status != 0) {
        serve_metrics_request(s->metrics, r->method, r->target, r->status,
                              serve_mono_ms_f() - r->start_ms);
        serve_log_entry e;
        memset(&e, 0, sizeof(e));
        e.wall_ms = r->wall_ms;
        e.remote = r->remote;
        e.method = r->method;
        e.path = r->target;
        e.path_len = path_len_of(r->target);
        e.status = r->status;
        e.bytes = r->bytes;
        e.duration_ms = serve_mono_ms_f() - r->start_ms;
        e.idempotency_key = r->has_idem ? r->idem : NULL;
        serve_log_write(s->log, &e);
    }
    free(r->body);
    free(r->target);
    free(r);
    atomic_fetch_sub(&s->in_flight, 1);
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 0)))
#endif
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    fprintf(stderr, "constra serve: http: %s%s", msg,
            msg[0] && msg[strlen(msg) - 1] == '\n' ? "" : "\n");
}

struct MHD_Daemon *serve_http_start(serve_server *s, unsigned threads)
{
    /* No listening socket: the gate (serve_gate.c) accepts every
     * connection and hands over those whose first head is sound. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG |
                     MHD_USE_NO_LISTEN_SOCKET;
#if defined(__linux__)
    /* epoll: each pool thread waits on its own set. */
    flags |= MHD_USE_EPOLL | MHD_USE_TURBO;
#else
    flags |= MHD_USE_POLL;
#endif
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s,
        /* First, so that libmicrohttpd's own start-up messages use it. */
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        MHD_OPTION_THREAD_POOL_SIZE, threads,
        /* Idle or slow connections are closed after this; each pool
         * thread serves many sockets, so a stalled client never holds a
         * thread. */
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->connection_timeout_s,
        /* Per connection: request line + headers + read buffer (the body
         * is copied out chunk by chunk). libmicrohttpd's default; it zeroes
         * the pool between requests, so more costs time on every request.
         * The gate refuses first heads over 16 KiB, and the router single
         * headers over 8 KiB. */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
        MHD_OPTION_CONNECTION_LIMIT, 1000u,
        /* One client address holds at most this many: a flood from one
         * host cannot take the connection limit. */
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->max_client_connections,
        MHD_OPTION_STRICT_FOR_CLIENT, 1,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        MHD_OPTION_END);
    return d;
}
