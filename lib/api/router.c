/*
 * The in-process REST router (api.h): request checks, authentication,
 * route matching and dispatch to the routes (routes.h: routes.c,
 * overview.c, workspace.c, webhooks.c). What a route reads and answers
 * with is in request.h (request.c, response.c, body.c).
 */
#include <stdio.h>
#include <string.h>

#include "api/routes.h"
#include "platform/platform.h"
#include "util/ascii.h"
#include "util/ids.h"
#include "util/check.h"
#include "util/hmac.h"

int constra_api_request_init(constra_api_request *req, size_t struct_size)
{
    static const constra_api_request init = CONSTRA_API_REQUEST_INIT;
    return constra__init_struct(req, struct_size, sizeof(init), sizeof(init), &init);
}


/* ---- authentication ------------------------------------------------------------ */

/* Constant time in the content of both: each is copied into a zeroed
 * buffer of the longest key size and the whole buffers are compared, so
 * where they differ is never timed. (This replaced comparing two HMACs:
 * same guarantee, and it was 6% of serving a GET.) A given key too long to
 * be a key is refused outright; its length is the caller's own. */
static int key_matches(const char *given, const char *secret)
{
    enum { KEY_ROOM = 128 }; /* constra_config.secret_key: at most 127 */
    size_t given_len = constra__strnlen(given, KEY_ROOM);
    size_t secret_len = constra__strnlen(secret, KEY_ROOM);
    if (given_len >= KEY_ROOM || secret_len >= KEY_ROOM) {
        return 0;
    }
    uint8_t a[KEY_ROOM] = {0}, b[KEY_ROOM] = {0};
    memcpy(a, given, given_len);
    memcpy(b, secret, secret_len);
    int eq = constra__ct_equal(a, b, sizeof(a));
    constra__wipe(a, sizeof(a));
    constra__wipe(b, sizeof(b));
    return eq;
}

static int unauthorized(constra__api_ctx *c, const char *code, const char *message)
{
    constra__api_header(c, "WWW-Authenticate", "Bearer realm=\"constra\"");
    return constra__api_error(c, 401, code, NULL, message);
}

/* CONSTRA_OK with *ok = 1 when authenticated; otherwise the 401/400 reply
 * is made (*ok = 0). */
static int authenticate(constra__api_ctx *c, int *ok)
{
    *ok = 0;
    char value[CONSTRA__API_HEADER_VALUE_MAX + 1];
    int found = constra__api_find_header(c, "authorization", value, sizeof(value));
    if (found < 0) {
        return constra__api_error(c, 400, "header_duplicate", "Authorization",
                                  "the Authorization header appears more than once");
    }
    if (found == 0) {
        return unauthorized(c, "authentication_required",
                            "authentication required: send Authorization: Bearer <secret key>");
    }
    if (strlen(value) < 7 || !constra__ascii_ieq_n("bearer", value, 6) || !constra__api_is_ows(value[6])) {
        return unauthorized(c, "authentication_required",
                            "the Authorization header must use the Bearer scheme");
    }
    const char *token = value + 7;
    while (constra__api_is_ows(*token)) {
        token++;
    }
    if (*token == '\0') {
        return unauthorized(c, "authentication_required", "the Bearer token is empty");
    }
    const constra_t *h = c->h;
    if (h->secret_key[0] == '\0') {
        return unauthorized(c, "invalid_api_key",
                            "this workspace has no API key configured: every request is refused");
    }
    if (key_matches(token, h->secret_key)) {
        *ok = 1;
        return CONSTRA_OK;
    }
    if (h->mode == CONSTRA_MODE_SANDBOX && strncmp(token, "cs_live_", 8) == 0) {
        return unauthorized(c, "api_key_mode_mismatch",
                            "a live key (cs_live_...) cannot be used on a sandbox workspace");
    }
    if (h->mode == CONSTRA_MODE_LIVE && strncmp(token, "cs_test_", 8) == 0) {
        return unauthorized(c, "api_key_mode_mismatch",
                            "a test key (cs_test_...) cannot be used on a live workspace");
    }
    return unauthorized(c, "invalid_api_key", "the API key is not valid");
}

/* ---- routing --------------------------------------------------------------------- */

enum route {
    R_NONE = 0,
    R_INTENTS,         /* /payment-intents: GET, POST */
    R_INTENT,          /* /payment-intents/{id}: GET */
    R_EVENTS,          /* /payment-intents/{id}/events: GET */
    R_ACTION,          /* /payment-intents/{id}/<action>: POST */
    R_CALLBACK,        /* Daraja callback: POST, no bearer auth */
    R_OVERVIEW,        /* /sandbox/overview: GET */
    R_INSTRUCTIONS,    /* /instructions: POST */
    R_WORKSPACE,       /* /workspace: GET */
    R_WH_ENDPOINTS,    /* /webhook-endpoints: GET, POST */
    R_WH_ENDPOINT,     /* /webhook-endpoints/{id}: GET, DELETE */
    R_WH_ENDPOINT_ACTION, /* /webhook-endpoints/{id}/enable|disable|rotate-secret|test: POST */
    R_WH_DELIVERIES,   /* /webhook-deliveries: GET */
    R_WH_REPLAY        /* /webhook-deliveries/{id}/replay: POST */
};

static const char *const actions[] = {"simulate-callback", "retry", "cancel", "confirm",
                                      "resolve", NULL};

/* Does the path (p, n) equal the literal s? */
static int seg_eq(const char *p, size_t n, const char *s)
{
    return strlen(s) == n && memcmp(p, s, n) == 0;
}

static int starts(const char *p, size_t n, const char *s)
{
    size_t k = strlen(s);
    return n >= k && memcmp(p, s, k) == 0;
}

/* Copies the {id} segment at the start of (path, n) into the context;
 * *rest is what follows its '/' (NULL when nothing does). 0, or -1 when
 * the segment is empty. */
static int take_id(constra__api_ctx *c, const char *path, size_t n, const char **rest,
                   size_t *rest_len)
{
    const char *slash = memchr(path, '/', n);
    size_t id_len = slash ? (size_t)(slash - path) : n;
    if (id_len == 0) {
        return -1;
    }
    /* Longer than any id: copied cut, refused as malformed later. */
    size_t keep = id_len < sizeof(c->id_buf) - 1 ? id_len : sizeof(c->id_buf) - 1;
    memcpy(c->id_buf, path, keep);
    c->id_buf[keep] = '\0';
    c->id = c->id_buf;
    *rest = slash ? slash + 1 : NULL;
    *rest_len = slash ? n - id_len - 1 : 0;
    return 0;
}

static const char *const endpoint_actions[] = {"enable", "disable", "rotate-secret", "test",
                                               NULL};

/* Matches the path; *action gets the action name of R_ACTION, the {id}
 * segment is copied into the context. */
static enum route match(constra__api_ctx *c, const char *path, size_t n, const char **action)
{
    int api_prefix = 0;
    if (starts(path, n, "/api/v1/")) {
        path += 7;
        n -= 7;
        api_prefix = 1;
    } else if (starts(path, n, "/v1/")) {
        path += 3;
        n -= 3;
    } else {
        return R_NONE;
    }
    if (seg_eq(path, n, "/payment-intents")) {
        return R_INTENTS;
    }
    if (seg_eq(path, n, "/providers/mpesa/callback") ||
        (api_prefix && seg_eq(path, n, "/mpesa/callback"))) {
        return R_CALLBACK;
    }
    if (seg_eq(path, n, "/sandbox/overview")) {
        return R_OVERVIEW;
    }
    if (seg_eq(path, n, "/instructions")) {
        return R_INSTRUCTIONS;
    }
    if (seg_eq(path, n, "/workspace")) {
        return R_WORKSPACE;
    }
    if (seg_eq(path, n, "/webhook-endpoints")) {
        return R_WH_ENDPOINTS;
    }
    if (seg_eq(path, n, "/webhook-deliveries")) {
        return R_WH_DELIVERIES;
    }
    const char *rest = NULL;
    size_t rest_len = 0;
    if (starts(path, n, "/webhook-endpoints/")) {
        if (take_id(c, path + 19, n - 19, &rest, &rest_len) != 0) {
            return R_NONE;
        }
        if (rest == NULL) {
            return R_WH_ENDPOINT;
        }
        for (size_t i = 0; endpoint_actions[i]; i++) {
            if (seg_eq(rest, rest_len, endpoint_actions[i])) {
                *action = endpoint_actions[i];
                return R_WH_ENDPOINT_ACTION;
            }
        }
        return R_NONE;
    }
    if (starts(path, n, "/webhook-deliveries/")) {
        if (take_id(c, path + 20, n - 20, &rest, &rest_len) != 0) {
            return R_NONE;
        }
        return rest != NULL && seg_eq(rest, rest_len, "replay") ? R_WH_REPLAY : R_NONE;
    }
    if (!starts(path, n, "/payment-intents/")) {
        return R_NONE;
    }
    if (take_id(c, path + 17, n - 17, &rest, &rest_len) != 0) {
        return R_NONE;
    }
    if (rest == NULL) {
        return R_INTENT;
    }
    if (seg_eq(rest, rest_len, "events")) {
        return R_EVENTS;
    }
    for (size_t i = 0; actions[i]; i++) {
        if (seg_eq(rest, rest_len, actions[i])) {
            *action = actions[i];
            return R_ACTION;
        }
    }
    return R_NONE;
}

static const char *allowed_methods(enum route r)
{
    switch (r) {
    case R_INTENTS:
    case R_WH_ENDPOINTS:
        return "GET, POST";
    case R_WH_ENDPOINT:
        return "GET, DELETE";
    case R_WH_DELIVERIES:
        return "GET";
    case R_INTENT:
    case R_EVENTS:
    case R_OVERVIEW:
    case R_WORKSPACE:
        return "GET";
    default:
        return "POST";
    }
}

static int method_allowed(enum route r, const char *method)
{
    int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    switch (r) {
    case R_INTENTS:
    case R_WH_ENDPOINTS:
        return get || post;
    case R_WH_ENDPOINT:
        return get || strcmp(method, "DELETE") == 0;
    case R_WH_DELIVERIES:
        return get;
    case R_INTENT:
    case R_EVENTS:
    case R_OVERVIEW:
    case R_WORKSPACE:
        return get;
    default:
        return post;
    }
}

/* Routes whose body the router reads as JSON: Content-Type is checked. */
static int json_body_route(enum route r, const char *method)
{
    return strcmp(method, "POST") == 0 && r != R_CALLBACK;
}

/* A present Content-Type must be application/json (parameters such as
 * charset are allowed). Returns 1 ok, 0 not JSON, -1 duplicated. */
static int content_type_ok(const constra__api_ctx *c)
{
    char v[256];
    int found = constra__api_find_header(c, "content-type", v, sizeof(v));
    if (found <= 0) {
        return found == 0 ? 1 : -1; /* absent is fine */
    }
    size_t n = strcspn(v, ";");
    while (n > 0 && constra__api_is_ows(v[n - 1])) {
        n--;
    }
    v[n] = '\0';
    return constra__ascii_ieq_n("application/json", v, n) ? 1 : 0;
}

/* Answers a request whose arguments are usable. */
static int dispatch(constra__api_ctx *c)
{
    const constra_api_request *q = c->req;
    size_t tlen = constra__strnlen(q->target, CONSTRA__API_TARGET_MAX + 1);
    if (tlen > CONSTRA__API_TARGET_MAX) {
        return constra__api_error(c, 414, "uri_too_long", NULL,
                                  "the request target is longer than 8192 bytes");
    }
    for (size_t i = 0; i < q->header_count; i++) {
        if (constra__strnlen(q->headers[i].name, CONSTRA__API_HEADER_NAME_MAX + 1) >
                CONSTRA__API_HEADER_NAME_MAX ||
            constra__strnlen(q->headers[i].value, CONSTRA__API_HEADER_VALUE_MAX + 1) >
                CONSTRA__API_HEADER_VALUE_MAX) {
            return constra__api_error(c, 431, "header_too_large", NULL,
                                      "a request header is larger than 8192 bytes");
        }
    }
    const char *qmark = memchr(q->target, '?', tlen);
    size_t path_len = qmark ? (size_t)(qmark - q->target) : tlen;
    if (qmark) {
        c->query = qmark + 1;
        c->query_len = tlen - path_len - 1;
    }
    const char *action = NULL;
    enum route r = match(c, q->target, path_len, &action);
    const char *method = q->method;

    if (r != R_CALLBACK) {
        int ok = 0;
        int rc = authenticate(c, &ok);
        if (rc != CONSTRA_OK || !ok) {
            return rc;
        }
    }
    if (r == R_NONE) {
        return constra__api_error(c, 404, "route_not_found", NULL,
                                  "no such route (paths start with /v1 or /api/v1)");
    }
    if (!method_allowed(r, method)) {
        constra__api_header(c, "Allow", allowed_methods(r));
        char msg[128];
        snprintf(msg, sizeof(msg), "this route accepts %s only", allowed_methods(r));
        return constra__api_error(c, 405, "method_not_allowed", NULL, msg);
    }
    if (q->body_len > CONSTRA_API_BODY_MAX) {
        return constra__api_error(c, 413, "body_too_large", "body",
                                  "the request body is larger than 65536 bytes");
    }
    if (json_body_route(r, method)) {
        int ct = content_type_ok(c);
        if (ct < 0) {
            return constra__api_error(c, 400, "header_duplicate", "Content-Type",
                                      "the Content-Type header appears more than once");
        }
        if (ct == 0) {
            return constra__api_error(c, 415, "unsupported_media_type", "Content-Type",
                                      "the body must be JSON (Content-Type: application/json)");
        }
    }
    /* Only the list reads a query; the callback ignores one (a secret in
     * the CallBackURL's query is fine); elsewhere parameters are unknown. */
    if (r != R_CALLBACK && !(r == R_INTENTS && strcmp(method, "GET") == 0) &&
        r != R_WH_DELIVERIES && r != R_INTENT && c->query &&
        c->query_len > 0) {
        size_t k = strcspn(c->query, "=&");
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)(k < 63 ? k : 63), c->query);
        return constra__api_error(c, 400, "parameter_unknown", name,
                                  "this route takes no query parameters");
    }
    if (c->id) {
        constra_error e = CONSTRA_ERROR_INIT;
        if (constra__id_check_opaque(c->id, "id", &e) != CONSTRA_OK) {
            return constra__api_error(c, 400, "parameter_invalid", "id", e.message);
        }
    }
    switch (r) {
    case R_INTENTS:
        return strcmp(method, "GET") == 0 ? constra__api_list(c) : constra__api_create(c);
    case R_INTENT:
        return constra__api_get(c);
    case R_EVENTS:
        return constra__api_events(c);
    case R_ACTION:
        return constra__api_action(c, action);
    case R_CALLBACK:
        return constra__api_callback(c);
    case R_OVERVIEW:
        return constra__api_overview(c);
    case R_INSTRUCTIONS:
        return constra__api_instructions(c);
    case R_WORKSPACE:
        return constra__api_workspace(c);
    case R_WH_ENDPOINTS:
        return constra__api_wh_endpoints(c);
    case R_WH_ENDPOINT:
        return constra__api_wh_endpoint(c);
    case R_WH_ENDPOINT_ACTION:
        return constra__api_wh_endpoint_action(c, action);
    case R_WH_DELIVERIES:
        return constra__api_wh_deliveries(c);
    case R_WH_REPLAY:
        return constra__api_wh_replay(c);
    default:
        return constra__api_error(c, 404, "route_not_found", NULL, "no such route");
    }
}

int constra_api_handle(constra_t *h, const constra_api_request *req, constra_api_response **out,
                       constra_error *err)
{
    if (h == NULL) {
        return constra__fail_null(err, "handle");
    }
    constra_error e = CONSTRA_ERROR_INIT;
    if (out == NULL) {
        return constra__report(constra__fail_null(&e, "out"), &e, err);
    }
    *out = NULL;
    if (req == NULL) {
        return constra__report(constra__fail_null(&e, "req"), &e, err);
    }
    int rc = constra__check_struct(req, sizeof(*req), sizeof(*req), "req", &e);
    if (rc != CONSTRA_OK) {
        return constra__report(rc, &e, err);
    }
    if (req->method == NULL || req->target == NULL) {
        return constra__report(constra__fail_null(&e, req->method ? "req.target"
                                                                      : "req.method"), &e, err);
    }
    if (req->header_count > 0 && req->headers == NULL) {
        return constra__report(constra__fail_null(&e, "req.headers"), &e, err);
    }
    for (size_t i = 0; i < req->header_count; i++) {
        if (req->headers[i].name == NULL || req->headers[i].value == NULL) {
            return constra__report(constra__fail_null(&e, "req.headers[].name/value"), &e, err);
        }
    }
    if (req->body_len > 0 && req->body == NULL) {
        return constra__report(constra__fail_null(&e, "req.body"), &e, err);
    }

    struct constra_api_response *res = constra__calloc(&h->platform, 1, sizeof(*res));
    if (res == NULL) {
        return constra__report(constra__fail(&e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory"),
                               &e, err);
    }
    res->platform = h->platform;
    constra__api_ctx c;
    memset(&c, 0, sizeof(c));
    c.h = h;
    c.req = req;
    c.res = res;
    constra__api_header(&c, "Content-Type", "application/json");
    constra__api_header(&c, "Cache-Control", "no-store");
    rc = dispatch(&c);
    if (rc == CONSTRA_OK && res->body == NULL) {
        rc = constra__api_error(&c, 500, "api_error", NULL, "no response was produced");
    }
    if (rc != CONSTRA_OK) {
        constra_api_response_free(res);
        if (rc == CONSTRA_E_NOMEM) {
            constra__fail(&e, rc, NULL, NULL, "out of memory");
        } else {
            constra__fail(&e, rc, NULL, NULL, "no response could be produced");
        }
        return constra__report(rc, &e, err);
    }
    *out = res;
    return CONSTRA_OK;
}
