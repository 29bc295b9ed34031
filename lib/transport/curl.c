/*
 * The libcurl transport (transport_curl.h). One easy handle per exchange,
 * taken from a small pool so that its connection and DNS caches are
 * reused by the next exchange to the same host; the pool is guarded by a
 * mutex, so send() is safe from many threads (an easy handle is used by
 * one thread at a time, as libcurl requires).
 */
#include "constra_config.h"

#include <string.h>

#include "constra/transport_curl.h"
#include "platform/platform.h"
#include "transport/transport_internal.h"
#include "util/check.h"

int constra_curl_options_init(constra_curl_options *options, size_t struct_size)
{
    /* Any size from sizeof(size_t) up: fields past an older caller's
     * struct_size are read as zero (constra__copy_struct). */
    return constra__init_struct(options, struct_size, sizeof(size_t), sizeof(*options), NULL);
}

#if !CONSTRA_HAVE_CURL

int constra_transport_curl(constra_transport *out, const constra_curl_options *options,
                           constra_error *err)
{
    (void)out;
    (void)options;
    return constra__fail(err, CONSTRA_E_UNSUPPORTED, NULL, NULL,
                         "this libconstra was built without libcurl");
}

#else /* CONSTRA_HAVE_CURL */

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#include "constra/version.h"

#define POOL_MAX 8
#define UA_MAX 255

typedef struct curl_transport {
    constra_platform platform;
    pthread_mutex_t mutex;
    CURL *pool[POOL_MAX]; /* idle handles, keeping their connections */
    size_t pool_count;
    char *ca_bundle;
    char user_agent[UA_MAX + 1];
    int64_t connect_timeout_ms;
    int64_t timeout_ms;
    int verbose;
} curl_transport;

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

/* curl_global_init is not thread-safe on older libcurl: run it once for
 * the process, and never clean up (other users may share libcurl). */
static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

typedef struct exchange {
    constra_transport_response *response;
    int capped; /* the write callback refused the body (TOO_LARGE) */
} exchange;

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    exchange *x = ud;
    size_t len = size * n;
    if (constra_transport_response_append(x->response, data, len) != CONSTRA_OK) {
        x->capped = 1;
        return 0; /* stops the transfer: CURLE_WRITE_ERROR */
    }
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
    exchange *x = ud;
    size_t len = size * n;
    /* Status lines and the blank line end a block; we keep the fields. */
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        return len;
    }
    const char *colon = memchr(data, ':', len);
    if (colon == NULL) {
        return len;
    }
    size_t name_len = (size_t)(colon - data);
    const char *v = colon + 1;
    const char *end = data + len;
    while (v < end && (*v == ' ' || *v == '\t')) {
        v++;
    }
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }
    if (constra_transport_response_add_header(x->response, data, name_len, v,
                                              (size_t)(end - v)) != CONSTRA_OK) {
        return 0;
    }
    return len;
}

static CURL *take_handle(curl_transport *t)
{
    CURL *c = NULL;
    pthread_mutex_lock(&t->mutex);
    if (t->pool_count > 0) {
        c = t->pool[--t->pool_count];
    }
    pthread_mutex_unlock(&t->mutex);
    if (c == NULL) {
        c = curl_easy_init();
    } else {
        /* Keeps the connection cache, the DNS cache and TLS sessions. */
        curl_easy_reset(c);
    }
    return c;
}

static void give_back(curl_transport *t, CURL *c)
{
    pthread_mutex_lock(&t->mutex);
    if (t->pool_count < POOL_MAX) {
        t->pool[t->pool_count++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&t->mutex);
    if (c) {
        curl_easy_cleanup(c);
    }
}

/* Maps a libcurl failure onto the transport's failure kinds. */
/* What happened, in the words a person debugging it needs: "could not
 * connect to 127.0.0.1:9: connection refused", not curl's generic text. */
static void describe_failure(CURL *c, CURLcode cc, const char *url, const char *curl_error,
                             char *out, size_t size)
{
    if (cc == CURLE_COULDNT_CONNECT) {
        /* host:port as the URL names them (scheme://[userinfo@]host[:port]/...). */
        const char *h = strstr(url, "://");
        h = h ? h + 3 : url;
        size_t n = strcspn(h, "/?#");
        const char *at = memchr(h, '@', n);
        if (at) {
            n -= (size_t)(at + 1 - h);
            h = at + 1;
        }
        long port = 0, os_errno = 0;
        curl_easy_getinfo(c, CURLINFO_PRIMARY_PORT, &port);
        curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
        const char *why = os_errno == ECONNREFUSED   ? "connection refused"
                          : os_errno == ETIMEDOUT    ? "connection timed out"
                          : os_errno == EHOSTUNREACH ? "host unreachable"
                          : os_errno == ENETUNREACH  ? "network unreachable"
                                                     : "no connection";
        int has_port = memchr(h, ':', n) != NULL && h[0] != '[';
        if (port > 0 && !has_port) {
            snprintf(out, size, "could not connect to %.*s:%ld: %s", (int)n, h, port, why);
        } else {
            snprintf(out, size, "could not connect to %.*s: %s", (int)n, h, why);
        }
        return;
    }
    if (cc == CURLE_COULDNT_RESOLVE_HOST) {
        const char *h = strstr(url, "://");
        h = h ? h + 3 : url;
        snprintf(out, size, "could not resolve the host of %.*s", (int)strcspn(h, "/?#"), h);
        return;
    }
    /* curl's own detail when it has one ("Operation timed out after 2001
     * milliseconds ..."), else its generic text; lower-case first letter. */
    snprintf(out, size, "%s", curl_error[0] ? curl_error : curl_easy_strerror(cc));
    size_t len = strlen(out);
    while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '.')) {
        out[--len] = '\0';
    }
    if (out[0] >= 'A' && out[0] <= 'Z' && !(out[1] >= 'A' && out[1] <= 'Z')) {
        out[0] = (char)(out[0] - 'A' + 'a');
    }
}

static int classify(CURL *c, CURLcode cc, const exchange *x)
{
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return CONSTRA_TRANSPORT_CONNECT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return CONSTRA_TRANSPORT_TLS;
    case CURLE_OPERATION_TIMEDOUT: {
        /* A time-out before any request byte left proves nothing was
         * sent: the connect phase never finished. */
        long sent = 0;
        if (curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &sent) == CURLE_OK && sent == 0) {
            return CONSTRA_TRANSPORT_CONNECT;
        }
        return CONSTRA_TRANSPORT_TIMEOUT;
    }
    case CURLE_WRITE_ERROR:
        return x->capped ? CONSTRA_TRANSPORT_TOO_LARGE : CONSTRA_TRANSPORT_PROTOCOL;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_BAD_CONTENT_ENCODING:
        return CONSTRA_TRANSPORT_PROTOCOL;
    default:
        return CONSTRA_TRANSPORT_OTHER;
    }
}

static int curl_send(void *ud, const constra_transport_request *req,
                     constra_transport_response *response)
{
    curl_transport *t = ud;
    CURL *c = take_handle(t);
    if (c == NULL) {
        return constra_transport_response_fail(response, CONSTRA_TRANSPORT_CONNECT,
                                               "curl: cannot create a handle");
    }
    struct curl_slist *hdrs = NULL;
    int ok = 1;
    for (size_t i = 0; ok && i < req->header_count; i++) {
        /* Checked by the library: names are tokens, values carry no CR/LF. */
        size_t n = strlen(req->headers[i].name) + strlen(req->headers[i].value) + 3;
        char *line = constra__malloc(&t->platform, n);
        if (line == NULL) {
            ok = 0;
            break;
        }
        snprintf(line, n, "%s: %s", req->headers[i].name, req->headers[i].value);
        struct curl_slist *next = curl_slist_append(hdrs, line);
        constra__free(&t->platform, line);
        if (next == NULL) {
            ok = 0;
            break;
        }
        hdrs = next;
    }
    if (ok) {
        /* No "Expect: 100-continue" round trip (and no interim headers). */
        struct curl_slist *next = curl_slist_append(hdrs, "Expect:");
        ok = next != NULL;
        if (ok) {
            hdrs = next;
        }
    }
    if (!ok) {
        curl_slist_free_all(hdrs);
        give_back(t, c);
        return constra_transport_response_fail(response, CONSTRA_TRANSPORT_CONNECT,
                                               "curl: out of memory building headers");
    }
    exchange x = {response, 0};
    int64_t connect_ms = req->connect_timeout_ms > 0 ? req->connect_timeout_ms
                                                     : t->connect_timeout_ms;
    int64_t total_ms = req->timeout_ms > 0 ? req->timeout_ms : t->timeout_ms;

    curl_easy_setopt(c, CURLOPT_URL, req->url);
    char curl_error[CURL_ERROR_SIZE];
    curl_error[0] = '\0';
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_error);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    /* Always verified; see transport_curl.h. */
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (t->ca_bundle) {
        curl_easy_setopt(c, CURLOPT_CAINFO, t->ca_bundle);
    }
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)total_ms);
    curl_easy_setopt(c, CURLOPT_USERAGENT, t->user_agent);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(c, CURLOPT_VERBOSE, t->verbose ? 1L : 0L);
    size_t cap = req->max_response_bytes ? req->max_response_bytes
                                         : CONSTRA_TRANSPORT_RESPONSE_MAX;
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cap);
    if (strcmp(req->method, "GET") == 0 && req->body_len == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(req->method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else {
        if (req->body_len > 0 || strcmp(req->method, "POST") == 0 ||
            strcmp(req->method, "PUT") == 0 || strcmp(req->method, "PATCH") == 0) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body_len ? req->body : "");
        }
        if (strcmp(req->method, "POST") != 0) {
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
        }
    }
    CURLcode cc = curl_easy_perform(c);
    int rc = CONSTRA_OK;
    if (cc == CURLE_FILESIZE_EXCEEDED) {
        /* The server announced a Content-Length over the cap: refused
         * before a byte of body was read. */
        x.capped = 1;
        cc = CURLE_WRITE_ERROR;
    }
    if (cc != CURLE_OK) {
        int failure = classify(c, cc, &x);
        char msg[200];
        describe_failure(c, cc, req->url, curl_error, msg, sizeof(msg));
        rc = constra_transport_response_fail(response, failure, msg);
    } else {
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (constra_transport_response_set_status(response, (int)status) != CONSTRA_OK) {
            rc = constra_transport_response_fail(response, CONSTRA_TRANSPORT_PROTOCOL,
                                                 "curl: the server sent no valid HTTP status");
        }
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    give_back(t, c);
    return rc;
}

static void curl_destroy(void *ud)
{
    curl_transport *t = ud;
    for (size_t i = 0; i < t->pool_count; i++) {
        curl_easy_cleanup(t->pool[i]);
    }
    pthread_mutex_destroy(&t->mutex);
    constra_platform plat = t->platform;
    constra__free(&plat, t->ca_bundle);
    constra__free(&plat, t);
}

static int printable(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7E) {
            return 0;
        }
    }
    return 1;
}

int constra_transport_curl(constra_transport *out, const constra_curl_options *options,
                           constra_error *err)
{
    if (out == NULL) {
        return constra__fail_null(err, "out");
    }
    constra_curl_options opt = CONSTRA_CURL_OPTIONS_INIT;
    if (options) {
        int rc = constra__check_struct(options, sizeof(opt), sizeof(opt), "options", err);
        if (rc != CONSTRA_OK) {
            return rc;
        }
        constra__copy_struct(&opt, sizeof(opt), options);
    }
    if (opt.connect_timeout_ms < 0 || opt.timeout_ms < 0) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             opt.timeout_ms < 0 ? "options.timeout_ms"
                                                : "options.connect_timeout_ms",
                             "time-outs must not be negative");
    }
    if (opt.user_agent &&
        (constra__strnlen(opt.user_agent, UA_MAX + 1) > UA_MAX || !printable(opt.user_agent))) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             "options.user_agent",
                             "user_agent must be at most 255 printable ASCII characters");
    }
    if (opt.ca_bundle && (opt.ca_bundle[0] == '\0' || constra__strnlen(opt.ca_bundle, 4097) > 4096)) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             "options.ca_bundle", "ca_bundle must be a path (1-4096 bytes)");
    }
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK) {
        return constra__fail(err, CONSTRA_E_TRANSPORT, "transport_failed", NULL,
                             "libcurl failed to initialise");
    }
    constra_platform plat;
    int rc = constra__platform_resolve(&plat, NULL, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    curl_transport *t = constra__calloc(&plat, 1, sizeof(*t));
    if (t == NULL) {
        return constra__fail(err, CONSTRA_E_NOMEM, NULL, NULL, "cannot allocate the transport");
    }
    t->platform = plat;
    if (opt.ca_bundle) {
        t->ca_bundle = constra__strndup(&plat, opt.ca_bundle, strlen(opt.ca_bundle));
        if (t->ca_bundle == NULL) {
            constra__free(&plat, t);
            return constra__fail(err, CONSTRA_E_NOMEM, NULL, NULL,
                                 "cannot allocate the transport");
        }
    }
    if (pthread_mutex_init(&t->mutex, NULL) != 0) {
        constra__free(&plat, t->ca_bundle);
        constra__free(&plat, t);
        return constra__fail(err, CONSTRA_E_PLATFORM, NULL, NULL, "cannot create a mutex");
    }
    if (opt.user_agent) {
        constra__strlcpy(t->user_agent, opt.user_agent, sizeof(t->user_agent));
    } else {
        snprintf(t->user_agent, sizeof(t->user_agent), "libconstra/%s", CONSTRA_VERSION_STRING);
    }
    t->connect_timeout_ms = opt.connect_timeout_ms ? opt.connect_timeout_ms
                                                   : CONSTRA_TRANSPORT_CONNECT_TIMEOUT_MS;
    t->timeout_ms = opt.timeout_ms ? opt.timeout_ms : CONSTRA_TRANSPORT_TIMEOUT_MS;
    t->verbose = opt.verbose;
    constra_transport tr;
    constra_transport_init(&tr, sizeof(tr));
    tr.user_data = t;
    constra__strlcpy(tr.name, "curl", sizeof(tr.name));
    tr.send = curl_send;
    tr.destroy = curl_destroy;
    *out = tr;
    return CONSTRA_OK;
}

#endif /* CONSTRA_HAVE_CURL */
