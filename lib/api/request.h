/*
 * Internal: what the REST router (router.c) and its routes share — the
 * response being built, the parsed request, replies and error envelopes
 * (response.c), header and query reads (request.c), strict JSON bodies
 * (body.c). The routes themselves are declared in routes.h, which only
 * the router includes: routes depend on this file, never on the router.
 *
 * Convention of every handler: it returns CONSTRA_OK once the response
 * holds an answer (any HTTP status), or CONSTRA_E_NOMEM when no answer
 * could be built; constra_api_handle() passes that on.
 */
#ifndef CONSTRA_API_REQUEST_H
#define CONSTRA_API_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "constra/api.h"
#include "engine/engine.h"
#include "mpesa/json_read.h"
#include "util/sbuf.h"

#define CONSTRA__API_HEADERS_MAX 8
/* Longest target (path + query), header name and header value read. */
#define CONSTRA__API_TARGET_MAX 8192
#define CONSTRA__API_HEADER_NAME_MAX 256
#define CONSTRA__API_HEADER_VALUE_MAX 8192
#define CONSTRA__API_JSON_DEPTH 16

struct constra_api_response {
    constra_platform platform; /* owns body; responses outlive no handle call */
    int status;
    size_t header_count;
    /* Static strings only: nothing to free per header. */
    const char *names[CONSTRA__API_HEADERS_MAX];
    const char *values[CONSTRA__API_HEADERS_MAX];
    char *body;
    size_t body_len;
};

/* One request being answered. */
typedef struct constra__api_ctx {
    constra_t *h;
    const constra_api_request *req;
    struct constra_api_response *res;
    const char *query;   /* after '?', or NULL */
    size_t query_len;
    const char *id;      /* the {id} path segment, NUL-terminated copy */
    char id_buf[CONSTRA_ID_SIZE + 64];
} constra__api_ctx;

/* ---- responses (response.c) ------------------------------------------------ */

/* Adds a header (static strings). */
void constra__api_header(constra__api_ctx *c, const char *name, const char *value);

/* Sets status and a copy of `body` (len bytes). CONSTRA_OK or NOMEM. */
int constra__api_reply(constra__api_ctx *c, int status, const char *body, size_t len);

/* Takes ownership of an sbuf's document (or fails with NOMEM if the sbuf
 * failed). */
int constra__api_reply_sbuf(constra__api_ctx *c, int status, constra__sbuf *b);

/* An error reply {"error":{...}}; param NULL or "" gives null. */
int constra__api_error(constra__api_ctx *c, int status, const char *code, const char *param,
                       const char *message);

/* An error reply from an error detail (its http_status, or
 * constra_status_http(e->status) when that is 0). NOMEM detail gives
 * CONSTRA_E_NOMEM (no reply). */
int constra__api_error_from(constra__api_ctx *c, const constra_error *e);

/* The reply for an engine call on c->h that returned rc != OK: its own
 * `detail` (the call's err argument; a detail made from rc alone if it
 * was not filled). `param_map` (may be NULL): pairs
 * {engine param, REST param, ..., NULL}. */
int constra__api_engine_error(constra__api_ctx *c, int rc, const constra_error *detail,
                              const char *const *param_map);

/* ---- request headers (request.c) -------------------------------------------- */

/* HTTP's optional white space (RFC 9110 section 5.6.3). */
static inline int constra__api_is_ows(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* First request header called `name` (case-insensitive), trimmed of
 * spaces and tabs into out. Returns 1 found, 0 absent, -1 more than one
 * (the caller answers 400). */
int constra__api_find_header(const constra__api_ctx *c, const char *name, char *out,
                             size_t out_size);

/* ---- JSON bodies (body.c) -------------------------------------------------- */

/*
 * Reads the request body as a strict JSON object whose members are all in
 * `allowed` (NULL-terminated list). On success jr->root is the object
 * (free with constra__jr_free) and CONSTRA_OK is returned. Otherwise the
 * 400 reply is already made and the reply's status is returned through
 * *replied = 1 (return value CONSTRA_OK or NOMEM as for handlers).
 * `allow_empty`: an empty body counts as {} (jr->root then NULL).
 */
int constra__api_body(constra__api_ctx *c, constra__jr *jr, constra_error *e,
                      const char *const *allowed, int allow_empty, int *replied);

/* Checks an object's members: no duplicate key, each one of `allowed`.
 * Fails with CONSTRA_E_INVALID_ARGUMENT, code parameter_duplicate /
 * parameter_unknown, param parent.key. */
int constra__api_check_members(const cJSON *obj, const char *parent, const char *const *allowed,
                               constra_error *e);

/* Replies 400 for a failed typed read (codes of json_read.h mapped to
 * the REST ones: parameter_missing, parameter_invalid, ...). */
int constra__api_body_error(constra__api_ctx *c, constra_error *e);

/* ---- query strings (request.c) ------------------------------------------------ */

/* A query parameter name and its slot (aliases share one; slots < 32). */
typedef struct constra__api_qname {
    const char *name; /* NULL ends a table */
    int slot;
} constra__api_qname;

typedef int (*constra__api_qparam_fn)(void *ctx, int slot, const char *name, const char *value,
                                      constra_error *e);

/* Walks c->query (form-decoded name=value pairs): an unknown name, a
 * repeated slot, a bad escape, a NUL or an empty value fails into e
 * (param = the name); each other pair goes to fn. */
int constra__api_query_parse(const constra__api_ctx *c, const constra__api_qname *names,
                             constra__api_qparam_fn fn, void *ctx, constra_error *e);

/* A page size: a whole number from 1 to 100 into *out; fails into e. */
int constra__api_query_limit(const char *value, const char *name, size_t *out, constra_error *e);

#endif
