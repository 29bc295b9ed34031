/*
 * The REST router's answers: the response object callers read
 * (constra_api_response_*, api.h) and the reply helpers every route
 * builds it with (request.h): status, headers, JSON bodies and error
 * envelopes.
 */
#include <stdio.h>
#include <string.h>

#include "api/request.h"
#include "platform/platform.h"
#include "util/ascii.h"
#include "util/check.h"

int constra_api_response_status(const constra_api_response *r)
{
    return r ? r->status : 0;
}

const char *constra_api_response_body(const constra_api_response *r, size_t *len)
{
    if (len) {
        *len = r && r->body ? r->body_len : 0;
    }
    return r && r->body ? r->body : "";
}

size_t constra_api_response_header_count(const constra_api_response *r)
{
    return r ? r->header_count : 0;
}

const char *constra_api_response_header_name(const constra_api_response *r, size_t i)
{
    return r && i < r->header_count ? r->names[i] : NULL;
}

const char *constra_api_response_header_value(const constra_api_response *r, size_t i)
{
    return r && i < r->header_count ? r->values[i] : NULL;
}

/* Case-insensitive equality of a NUL-terminated string and n bytes. */
const char *constra_api_response_header(const constra_api_response *r, const char *name)
{
    if (r == NULL || name == NULL) {
        return NULL;
    }
    size_t n = constra__strnlen(name, CONSTRA__API_HEADER_NAME_MAX + 1);
    for (size_t i = 0; i < r->header_count; i++) {
        if (constra__ascii_ieq_n(r->names[i], name, n)) {
            return r->values[i];
        }
    }
    return NULL;
}

void constra_api_response_free(constra_api_response *r)
{
    if (r == NULL) {
        return;
    }
    constra_platform p = r->platform;
    constra__free(&p, r->body);
    constra__free(&p, r);
}

void constra__api_header(constra__api_ctx *c, const char *name, const char *value)
{
    struct constra_api_response *r = c->res;
    if (r->header_count < CONSTRA__API_HEADERS_MAX) {
        r->names[r->header_count] = name;
        r->values[r->header_count] = value;
        r->header_count++;
    }
}

int constra__api_reply(constra__api_ctx *c, int status, const char *body, size_t len)
{
    char *copy = constra__strndup(&c->h->platform, body, len);
    if (copy == NULL) {
        return CONSTRA_E_NOMEM;
    }
    constra__free(&c->h->platform, c->res->body);
    c->res->body = copy;
    c->res->body_len = len;
    c->res->status = status;
    return CONSTRA_OK;
}

int constra__api_reply_sbuf(constra__api_ctx *c, int status, constra__sbuf *b)
{
    size_t len = 0;
    char *doc = constra__sbuf_take(b, &len);
    if (doc == NULL) {
        return CONSTRA_E_NOMEM;
    }
    constra__free(&c->h->platform, c->res->body);
    c->res->body = doc;
    c->res->body_len = len;
    c->res->status = status;
    return CONSTRA_OK;
}

int constra__api_error(constra__api_ctx *c, int status, const char *code, const char *param,
                       const char *message)
{
    constra__sbuf b;
    constra__sbuf_init(&b, &c->h->platform);
    constra__sbuf_puts(&b, "{\"error\":{");
    constra__sbuf_json_key(&b, "code", 1);
    constra__sbuf_json_str(&b, code);
    constra__sbuf_json_key(&b, "message", 0);
    constra__sbuf_json_str(&b, message);
    constra__sbuf_json_key(&b, "param", 0);
    constra__sbuf_json_str(&b, param && param[0] ? param : NULL);
    constra__sbuf_puts(&b, "}}");
    return constra__api_reply_sbuf(c, status, &b);
}

int constra__api_error_from(constra__api_ctx *c, const constra_error *e)
{
    if (e->status == CONSTRA_E_NOMEM) {
        return CONSTRA_E_NOMEM;
    }
    int http = e->http_status >= 400 && e->http_status <= 599 ? e->http_status
                                                                : constra_status_http(e->status);
    if (http < 400) {
        http = 500;
    }
    const char *code = e->code[0] ? e->code : "api_error";
    const char *message = e->message[0] ? e->message : constra_strerror(e->status);
    return constra__api_error(c, http, code, e->param, message);
}

int constra__api_engine_error(constra__api_ctx *c, int rc, const constra_error *detail,
                              const char *const *param_map)
{
    if (rc == CONSTRA_E_NOMEM) {
        return CONSTRA_E_NOMEM;
    }
    /* The engine call's own detail (its `err` argument). */
    constra_error e = CONSTRA_ERROR_INIT;
    if (detail != NULL && detail->status == rc) {
        e = *detail;
    } else {
        constra__fail(&e, rc, NULL, NULL, "%s", constra_strerror(rc));
    }
    for (size_t i = 0; param_map && param_map[i] && param_map[i + 1]; i += 2) {
        if (strcmp(e.param, param_map[i]) == 0) {
            constra__strlcpy(e.param, param_map[i + 1], sizeof(e.param));
            break;
        }
    }
    return constra__api_error_from(c, &e);
}
