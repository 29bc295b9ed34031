/*
 * One remote API call: build the request, send it through the transport,
 * and decide after each failed try whether repeating it is safe (the
 * policies of client.h), with exponential backoff and full jitter.
 */
#include <stdio.h>
#include <string.h>

#include "client/client.h"
#include "mpesa/json_read.h"
#include "platform/platform.h"
#include "util/check.h"

/* The URL buffer: base (<= 2000) + the longest path we build. */
#define URL_MAX 4096

/* Server parameter names -> the engine's (what a local handle reports). */
static const char *const param_map[][2] = {
    {"customer.phone_number", "phone_number"},
    {"customer.name", "customer_name"},
    {"Idempotency-Key", "idempotency_key"},
};

static int ieq_prefix(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++) {
        char a = *s, b = *prefix;
        if (a >= 'A' && a <= 'Z') {
            a = (char)(a - 'A' + 'a');
        }
        if (a != b) {
            return 0;
        }
    }
    return 1;
}

/* What an HTTP error status and code mean as a constra_status. */
static int status_for(int http, const char *code)
{
    if (strcmp(code, "invalid_state") == 0) {
        return CONSTRA_E_INVALID_STATE;
    }
    if (strcmp(code, "storage_error") == 0) {
        return CONSTRA_E_STORAGE;
    }
    switch (http) {
    case 400: case 413: case 414: case 415: case 422: case 431:
        return CONSTRA_E_INVALID_ARGUMENT;
    case 401:
        return CONSTRA_E_AUTH;
    case 403:
        /* The router's only 403: simulated callbacks on a live handle,
         * which a local handle reports as unsupported. */
        return strcmp(code, "sandbox_only") == 0 ? CONSTRA_E_UNSUPPORTED : CONSTRA_E_AUTH;
    case 404:
        return CONSTRA_E_NOT_FOUND;
    case 405: case 501:
        return CONSTRA_E_UNSUPPORTED;
    case 409:
        return CONSTRA_E_CONFLICT;
    case 429:
        return CONSTRA_E_RATE_LIMITED;
    case 503:
        return CONSTRA_E_STORAGE;
    case 502: case 504:
        return CONSTRA_E_OUTCOME_UNKNOWN;
    default:
        return http >= 400 && http < 500 ? CONSTRA_E_INVALID_ARGUMENT : CONSTRA_E_GENERIC;
    }
}

/* Fills e from an error answer: {"error":{"code","message","param"}}. An
 * answer without that shape still fails with its HTTP status. */
static void server_error(const char *body, size_t len, int http, constra_error *e)
{
    char code[CONSTRA_ERROR_CODE_SIZE] = "";
    char message[CONSTRA_ERROR_MESSAGE_SIZE] = "";
    char param[CONSTRA_ERROR_PARAM_SIZE] = "";
    constra__jr jr;
    constra_error ignore = CONSTRA_ERROR_INIT;
    const cJSON *obj = NULL;
    if (constra__jr_parse(&jr, body, len, CONSTRA_TRANSPORT_RESPONSE_LIMIT, 16, "response",
                          &ignore) == CONSTRA_OK) {
        if (constra__jr_object(&jr, jr.root, "", "error", CONSTRA__JR_REQUIRED, &obj) ==
                CONSTRA_OK &&
            constra__jr_text(&jr, obj, "error", "code", CONSTRA__JR_ID, code, sizeof(code),
                             NULL) == CONSTRA_OK) {
            /* Over-long texts are cut, not refused: the code is what matters. */
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, "message");
            const cJSON *p = cJSON_GetObjectItemCaseSensitive(obj, "param");
            if (cJSON_IsString(m)) {
                constra__strlcpy(message, m->valuestring, sizeof(message));
            }
            if (cJSON_IsString(p)) {
                constra__strlcpy(param, p->valuestring, sizeof(param));
            }
        } else {
            code[0] = '\0';
        }
        constra__jr_free(&jr);
    }
    for (size_t i = 0; i < CONSTRA__ARRAY_LEN(param_map); i++) {
        if (strcmp(param, param_map[i][0]) == 0) {
            constra__strlcpy(param, param_map[i][1], sizeof(param));
        }
    }
    if (code[0] == '\0') {
        constra__fail_http(e, status_for(http, ""), http, "http_error", NULL,
                           "the server answered HTTP %d without an error body", http);
        return;
    }
    constra__fail_http(e, status_for(http, code), http, code, param[0] ? param : NULL, "%s",
                       message[0] ? message : "the server refused the request");
}

/* Full jitter: a random wait in [floor, min(max, base * 2^n)]. */
static void backoff(constra_t *h, const constra__client *c, int n, int64_t floor_ms)
{
    int64_t cap = c->backoff_base_ms;
    for (int i = 0; i < n && cap < c->backoff_max_ms; i++) {
        cap *= 2;
    }
    if (cap > c->backoff_max_ms) {
        cap = c->backoff_max_ms;
    }
    if (cap < floor_ms) {
        cap = floor_ms;
    }
    uint32_t r = 0;
    if (constra__random(&h->platform, (uint8_t *)&r, sizeof(r)) != 0) {
        r = UINT32_MAX / 2; /* no randomness: wait half the cap */
    }
    int64_t wait = (int64_t)((double)r / (double)UINT32_MAX * (double)cap);
    if (wait < floor_ms) {
        wait = floor_ms;
    }
    c->sleep_ms(c->sleep_user_data, wait);
}

/* A 2xx answer must be JSON: anything else (an HTML error page from a
 * proxy, a captive portal) is refused before it is parsed. */
static int check_json_answer(const constra_transport_response *resp, constra_error *e)
{
    const char *ct = constra_transport_response_header(resp, "Content-Type");
    if (ct == NULL || !ieq_prefix(ct, "application/json") ||
        (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' ')) {
        return constra__fail_http(e, CONSTRA_E_PARSE, 502, "response_malformed", "Content-Type",
                             "the server answered with Content-Type %.60s, not "
                             "application/json", ct ? ct : "(none)");
    }
    return CONSTRA_OK;
}

int constra__client_call(constra_t *h, constra__call *call, constra_transport_response **out,
                         constra_error *e)
{
    constra__client *c = h->remote;
    *out = NULL;
    call->tries = 0;
    char *url = constra__malloc(&h->platform, URL_MAX);
    if (url == NULL) {
        return constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    int n = snprintf(url, URL_MAX, "%s%s", c->base_url, call->path);
    if (n < 0 || n >= URL_MAX) {
        constra__free(&h->platform, url);
        return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, NULL, NULL,
                             "the request URL would be longer than %d bytes", URL_MAX - 1);
    }
    constra_http_header headers[4];
    size_t nh = 0;
    headers[nh++] = (constra_http_header){"Authorization", c->auth};
    headers[nh++] = (constra_http_header){"Accept", "application/json"};
    if (call->body) {
        headers[nh++] = (constra_http_header){"Content-Type", "application/json"};
    }
    if (call->idempotency_key) {
        headers[nh++] = (constra_http_header){"Idempotency-Key", call->idempotency_key};
    }
    constra_transport_request req = CONSTRA_TRANSPORT_REQUEST_INIT;
    req.method = call->method;
    req.url = url;
    req.headers = headers;
    req.header_count = nh;
    req.body = call->body;
    req.body_len = call->body ? call->body_len : 0;
    req.connect_timeout_ms = c->connect_timeout_ms;
    req.timeout_ms = c->timeout_ms;
    req.max_response_bytes = c->max_response_bytes;

    int rc = CONSTRA_E_GENERIC;
    int maybe_received = 0; /* a try may have reached the server */
    int lost = 0;           /* a try's answer was lost (the server may have acted) */
    int exhausted = 1;      /* no answer settled the call: the tries ran out */
    int64_t floor_ms = 0;
    for (int t = 0; t < c->max_tries; t++) {
        if (t > 0) {
            backoff(h, c, t - 1, floor_ms);
        }
        floor_ms = 0;
        call->tries = t + 1;
        constra_transport_response *resp = NULL;
        constra_error te = CONSTRA_ERROR_INIT;
        rc = constra_transport_send(&c->transport, &h->platform, &req, &resp, &te);
        if (rc == CONSTRA_E_TRANSPORT) {
            *e = te; /* never reached the server: always safe to repeat */
            continue;
        }
        if (rc == CONSTRA_E_OUTCOME_UNKNOWN) {
            *e = te;
            maybe_received = 1;
            lost = 1;
            if (call->policy == CONSTRA__RETRY_NOT_SENT) {
                break;
            }
            continue;
        }
        if (rc != CONSTRA_OK) {
            *e = te; /* our own request is wrong, or out of memory: no repeat */
            exhausted = 0;
            break;
        }
        int http = constra_transport_response_status(resp);
        size_t len = 0;
        const char *body = constra_transport_response_body(resp, &len);
        if (http >= 200 && http < 300) {
            rc = check_json_answer(resp, e);
            if (rc == CONSTRA_OK) {
                *out = resp;
            } else {
                constra_transport_response_free(resp);
            }
            exhausted = 0;
            break;
        }
        server_error(body, len, http, e);
        constra_transport_response_free(resp);
        rc = e->status;
        if (http >= 500 || http == 429) {
            maybe_received = maybe_received || http >= 500;
            if (call->policy == CONSTRA__RETRY_NOT_SENT) {
                break;
            }
            continue;
        }
        if (http == 409 && strcmp(e->code, "idempotent_request_in_flight") == 0) {
            /* The first try still runs on the server: ask again later. */
            floor_ms = c->backoff_base_ms;
            continue;
        }
        exhausted = 0;
        break; /* any other 4xx is the answer */
    }
    constra__free(&h->platform, url);
    if (rc == CONSTRA_OK) {
        return CONSTRA_OK;
    }
    if (exhausted && rc != CONSTRA_E_OUTCOME_UNKNOWN &&
        (lost || (rc == CONSTRA_E_TRANSPORT && maybe_received))) {
        /* The last try failed plainly (not sent, 5xx, in flight), but an
         * earlier one may have been acted on: that is what the caller
         * must know. */
        char why[CONSTRA_ERROR_MESSAGE_SIZE];
        constra__strlcpy(why, e->message, sizeof(why));
        rc = constra__fail(e, CONSTRA_E_OUTCOME_UNKNOWN, "outcome_unknown", NULL,
                           "no answer after %d tries and an earlier try may have reached the "
                           "server (last: %.80s); read the intent, or repeat the create with "
                           "the same idempotency key", call->tries, why);
    } else if (rc == CONSTRA_E_OUTCOME_UNKNOWN && strcmp(e->code, "outcome_unknown") != 0 &&
               call->policy == CONSTRA__RETRY_NOT_SENT) {
        char why[CONSTRA_ERROR_MESSAGE_SIZE];
        char code[CONSTRA_ERROR_CODE_SIZE];
        constra__strlcpy(why, e->message, sizeof(why));
        constra__strlcpy(code, e->code, sizeof(code));
        rc = constra__fail(e, CONSTRA_E_OUTCOME_UNKNOWN, code, NULL,
                           "%.120s; the server may have acted: read the intent before trying "
                           "again", why);
    }
    return rc;
}
