/*
 * The transport vtable's checks, the library-owned response a transport
 * fills in, and constra_transport_send(), the one place where a failed
 * exchange is classified as "not sent" or "outcome unknown".
 */
#include <stdio.h>
#include <string.h>

#include "constra/transport.h"
#include "platform/platform.h"
#include "transport/transport_internal.h"
#include "util/ascii.h"
#include "util/check.h"
#include "util/sbuf.h"

#define REQUEST_V1_SIZE sizeof(constra_transport_request)
#define TRANSPORT_V1_SIZE sizeof(constra_transport)
#define URL_MAX 8192u
#define HEADER_MAX 8192u
#define HEADERS_MAX 100u
#define REQUEST_HEADERS_MAX 100u

struct constra_transport_response {
    constra_platform platform;
    size_t max_body;
    int status;
    int failure;
    char failure_message[CONSTRA_ERROR_MESSAGE_SIZE];
    constra__sbuf body;
    size_t header_count;
    char *header_names[HEADERS_MAX];
    char *header_values[HEADERS_MAX];
};

int constra_transport_failure_not_sent(int failure)
{
    return failure == CONSTRA_TRANSPORT_CONNECT || failure == CONSTRA_TRANSPORT_TLS;
}

const char *constra_transport_failure_code(int failure)
{
    switch (failure) {
    case CONSTRA_TRANSPORT_NO_FAILURE: return "";
    case CONSTRA_TRANSPORT_CONNECT: return "transport_connect";
    case CONSTRA_TRANSPORT_TLS: return "transport_tls";
    case CONSTRA_TRANSPORT_TIMEOUT: return "transport_timeout";
    case CONSTRA_TRANSPORT_TOO_LARGE: return "response_too_large";
    case CONSTRA_TRANSPORT_PROTOCOL: return "transport_protocol";
    default: return "transport_failed";
    }
}

int constra_transport_request_init(constra_transport_request *request, size_t struct_size)
{
    return constra__init_struct(request, struct_size, REQUEST_V1_SIZE, sizeof(*request), NULL);
}

int constra_transport_init(constra_transport *transport, size_t struct_size)
{
    return constra__init_struct(transport, struct_size, TRANSPORT_V1_SIZE, sizeof(*transport),
                                NULL);
}

int constra_transport_check(const constra_transport *t, constra_error *err)
{
    int rc = constra__check_struct(t, TRANSPORT_V1_SIZE, sizeof(*t), "transport", err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    size_t len = constra__strnlen(t->name, sizeof(t->name));
    int ok = len > 0 && len < sizeof(t->name);
    for (size_t i = 0; ok && i < len; i++) {
        char c = t->name[i];
        ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    }
    if (!ok) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             "transport.name",
                             "transport.name must be 1 to %zu lower-case letters, digits "
                             "or '-'", sizeof(t->name) - 1);
    }
    if (t->send == NULL) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_missing",
                             "transport.send", "transport.send is required");
    }
    return CONSTRA_OK;
}

/* RFC 9110 tchar: what a method or a header name may be made of. */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return 1;
    }
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int check_token(const char *s, size_t max, const char *param, constra_error *err)
{
    size_t len;
    int rc = constra__check_str(s, max, 0, param, &len, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    for (size_t i = 0; i < len; i++) {
        if (!is_tchar((unsigned char)s[i])) {
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", param,
                                 "%s must be an HTTP token (byte %zu is not)", param, i);
        }
    }
    return CONSTRA_OK;
}

/* A header value may hold visible ASCII, spaces, tabs and UTF-8 bytes;
 * never CR, LF, NUL or other controls (they would split the request). */
static int check_header_value(const char *s, const char *param, constra_error *err)
{
    size_t len;
    int rc = constra__check_str(s, HEADER_MAX, 1, param, &len, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", param,
                                 "%s contains a control character (byte %zu)", param, i);
        }
    }
    return CONSTRA_OK;
}

int constra__transport_url_origin_len(const char *url, size_t *origin_len)
{
    size_t scheme;
    if (strncmp(url, "http://", 7) == 0) {
        scheme = 7;
    } else if (strncmp(url, "https://", 8) == 0) {
        scheme = 8;
    } else {
        return 0;
    }
    size_t i = scheme;
    while (url[i] != '\0' && url[i] != '/' && url[i] != '?' && url[i] != '#') {
        i++;
    }
    if (i == scheme) {
        return 0;
    }
    *origin_len = i;
    return 1;
}

static int check_url(const char *url, constra_error *err)
{
    size_t len;
    int rc = constra__check_str(url, URL_MAX, 0, "request.url", &len, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c >= 0x7f) {
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                                 "request.url",
                                 "request.url must be printable ASCII without spaces "
                                 "(byte %zu is not)", i);
        }
    }
    size_t origin;
    if (!constra__transport_url_origin_len(url, &origin)) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             "request.url",
                             "request.url must be an absolute http:// or https:// URL");
    }
    return CONSTRA_OK;
}

int constra__transport_request_check(const constra_transport_request *req, constra_error *err)
{
    int rc = constra__check_struct(req, REQUEST_V1_SIZE, sizeof(*req), "request", err);
    if (rc == CONSTRA_OK) {
        rc = check_token(req->method, 32, "request.method", err);
    }
    if (rc == CONSTRA_OK) {
        rc = check_url(req->url, err);
    }
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (req->header_count > REQUEST_HEADERS_MAX) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             "request.header_count", "at most %u request headers",
                             REQUEST_HEADERS_MAX);
    }
    if (req->header_count > 0 && req->headers == NULL) {
        return constra__fail_null(err, "request.headers");
    }
    for (size_t i = 0; i < req->header_count; i++) {
        char param[48];
        snprintf(param, sizeof(param), "request.headers[%zu].name", i);
        rc = check_token(req->headers[i].name, 256, param, err);
        if (rc != CONSTRA_OK) {
            return rc;
        }
        snprintf(param, sizeof(param), "request.headers[%zu].value", i);
        rc = check_header_value(req->headers[i].value, param, err);
        if (rc != CONSTRA_OK) {
            return rc;
        }
    }
    if (req->body_len > 0 && req->body == NULL) {
        return constra__fail_null(err, "request.body");
    }
    if (req->connect_timeout_ms < 0 || req->timeout_ms < 0) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             req->timeout_ms < 0 ? "request.timeout_ms"
                                                 : "request.connect_timeout_ms",
                             "time-outs must be 0 (default) or positive");
    }
    if (req->max_response_bytes > CONSTRA_TRANSPORT_RESPONSE_LIMIT) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             "request.max_response_bytes",
                             "max_response_bytes may be at most %u",
                             CONSTRA_TRANSPORT_RESPONSE_LIMIT);
    }
    return CONSTRA_OK;
}

/* ---- the response ------------------------------------------------------ */

int constra__transport_response_new(const constra_platform *resolved, size_t max_body,
                                    constra_transport_response **out)
{
    constra_transport_response *r = constra__calloc(resolved, 1, sizeof(*r));
    if (r == NULL) {
        return CONSTRA_E_NOMEM;
    }
    r->platform = *resolved;
    r->max_body = max_body ? max_body : CONSTRA_TRANSPORT_RESPONSE_MAX;
    constra__sbuf_init(&r->body, &r->platform);
    *out = r;
    return CONSTRA_OK;
}

int constra__transport_response_failure(const constra_transport_response *r)
{
    return r->failure;
}

const char *constra__transport_response_failure_message(const constra_transport_response *r)
{
    return r->failure_message;
}

void constra_transport_response_free(constra_transport_response *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->header_count; i++) {
        constra__free(&r->platform, r->header_names[i]);
        constra__free(&r->platform, r->header_values[i]);
    }
    constra__sbuf_free(&r->body);
    constra__free(&r->platform, r);
}

int constra_transport_response_fail(constra_transport_response *r, int failure,
                                    const char *message)
{
    if (r == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    if (r->failure == CONSTRA_TRANSPORT_NO_FAILURE) {
        if (failure < CONSTRA_TRANSPORT_CONNECT || failure > CONSTRA_TRANSPORT_OTHER) {
            failure = CONSTRA_TRANSPORT_OTHER;
        }
        r->failure = failure;
        constra__strlcpy(r->failure_message, message ? message : "",
                         sizeof(r->failure_message));
    }
    return CONSTRA_E_TRANSPORT;
}

int constra_transport_response_set_status(constra_transport_response *r, int status)
{
    if (r == NULL || status < 100 || status > 599) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    r->status = status;
    return CONSTRA_OK;
}

int constra_transport_response_add_header(constra_transport_response *r, const char *name,
                                          size_t name_len, const char *value,
                                          size_t value_len)
{
    if (r == NULL || (name == NULL && name_len > 0) || (value == NULL && value_len > 0)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    if (r->header_count == HEADERS_MAX || name_len > HEADER_MAX || value_len > HEADER_MAX) {
        return constra_transport_response_fail(r, CONSTRA_TRANSPORT_PROTOCOL,
                                               "response headers too many or too long");
    }
    char *n = constra__strndup(&r->platform, name ? name : "", name_len);
    char *v = constra__strndup(&r->platform, value ? value : "", value_len);
    if (n == NULL || v == NULL) {
        constra__free(&r->platform, n);
        constra__free(&r->platform, v);
        return CONSTRA_E_NOMEM;
    }
    r->header_names[r->header_count] = n;
    r->header_values[r->header_count] = v;
    r->header_count++;
    return CONSTRA_OK;
}

int constra_transport_response_append(constra_transport_response *r, const void *data,
                                      size_t len)
{
    if (r == NULL || (data == NULL && len > 0)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    if (len > r->max_body - r->body.len) {
        char msg[96];
        snprintf(msg, sizeof(msg), "response body larger than %zu bytes", r->max_body);
        return constra_transport_response_fail(r, CONSTRA_TRANSPORT_TOO_LARGE, msg);
    }
    constra__sbuf_append(&r->body, data, len);
    return constra__sbuf_failed(&r->body) ? CONSTRA_E_NOMEM : CONSTRA_OK;
}

int constra_transport_response_status(const constra_transport_response *r)
{
    return r ? r->status : 0;
}

const char *constra_transport_response_body(const constra_transport_response *r, size_t *len)
{
    if (len) {
        *len = (r && r->body.data) ? r->body.len : 0;
    }
    return (r && r->body.data) ? r->body.data : "";
}

const char *constra_transport_response_header(const constra_transport_response *r,
                                              const char *name)
{
    if (r == NULL || name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < r->header_count; i++) {
        if (constra__ascii_casecmp(r->header_names[i], name) == 0) {
            return r->header_values[i];
        }
    }
    return NULL;
}

size_t constra_transport_response_header_count(const constra_transport_response *r)
{
    return r ? r->header_count : 0;
}

const char *constra_transport_response_header_name(const constra_transport_response *r,
                                                   size_t index)
{
    return (r && index < r->header_count) ? r->header_names[index] : NULL;
}

const char *constra_transport_response_header_value(const constra_transport_response *r,
                                                    size_t index)
{
    return (r && index < r->header_count) ? r->header_values[index] : NULL;
}

/* ---- sending ------------------------------------------------------------ */

int constra_transport_send(const constra_transport *transport, const constra_platform *platform,
                           const constra_transport_request *request,
                           constra_transport_response **out, constra_error *err)
{
    if (out == NULL) {
        return constra__fail_null(err, "out");
    }
    *out = NULL;
    int rc = constra_transport_check(transport, err);
    if (rc == CONSTRA_OK) {
        rc = constra__transport_request_check(request, err);
    }
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra_platform plat;
    rc = constra__platform_resolve(&plat, platform, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra_transport_response *resp;
    if (constra__transport_response_new(&plat, request->max_response_bytes, &resp) !=
        CONSTRA_OK) {
        return constra__fail(err, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    rc = transport->send(transport->user_data, request, resp);
    if (rc == CONSTRA_OK && resp->failure == CONSTRA_TRANSPORT_NO_FAILURE &&
        resp->status == 0) {
        /* A transport that claims success without a status broke its
         * contract; what happened on the wire is unknown. */
        constra_transport_response_fail(resp, CONSTRA_TRANSPORT_PROTOCOL,
                                        "the transport returned no HTTP status");
    } else if (rc != CONSTRA_OK && resp->failure == CONSTRA_TRANSPORT_NO_FAILURE) {
        constra_transport_response_fail(resp, CONSTRA_TRANSPORT_OTHER, constra_strerror(rc));
    }
    if (resp->failure != CONSTRA_TRANSPORT_NO_FAILURE) {
        int not_sent = constra_transport_failure_not_sent(resp->failure);
        int status = not_sent ? CONSTRA_E_TRANSPORT : CONSTRA_E_OUTCOME_UNKNOWN;
        /* HTTP status 0: no answer came, the failure is on this side of
         * the wire (the message says what happened, then which request). */
        constra__fail_http(err, status, 0, constra_transport_failure_code(resp->failure), NULL,
                           "%s%s (%s via %s)",
                           resp->failure_message[0]
                               ? resp->failure_message
                               : constra_transport_failure_code(resp->failure),
                           not_sent ? "" : "; the request may have been received",
                           request->method, transport->name);
        constra_transport_response_free(resp);
        return status;
    }
    *out = resp;
    return CONSTRA_OK;
}
