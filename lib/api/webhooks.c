/*
 * The webhook routes of the REST router (api.h): endpoints and their
 * deliveries, over the engine's webhook_delivery.h calls.
 *
 *   POST   /webhook-endpoints                {url, enabled_events?, description?,
 *                                            scheme?}: 201 with the signing
 *                                            secret (shown only here)
 *   GET    /webhook-endpoints                every endpoint (no secrets)
 *   GET    /webhook-endpoints/{id}           one (no secret)
 *   DELETE /webhook-endpoints/{id}           removes it and its deliveries
 *   POST   /webhook-endpoints/{id}/enable    sends again (queued ones first)
 *   POST   /webhook-endpoints/{id}/disable   sends nothing meanwhile
 *   POST   /webhook-endpoints/{id}/rotate-secret  {overlap_seconds?}: the new
 *                                            secret (shown only here); both sign
 *                                            during the overlap (default 24 h)
 *   POST   /webhook-endpoints/{id}/test      queues a webhook.test event to it
 *   GET    /webhook-deliveries?endpoint=&status=&limit=&starting_after=
 *   POST   /webhook-deliveries/{id}/replay   due now, same id and body
 */
#include <stdio.h>
#include <string.h>

#include "api/routes.h"
#include "constra/webhook_delivery.h"
#include "util/check.h"
#include "util/ids.h"
#include "webhook/ssrf.h"

/* ---- the endpoint object --------------------------------------------------------- */

/* note: NULL, or a url_note to add (see sandbox_only). */
static void endpoint_json(constra__sbuf *b, const constra_t *h,
                          const constra_webhook_endpoint *ep, int with_secret, const char *note)
{
    constra__sbuf_puts(b, "{\"id\":");
    constra__sbuf_json_str(b, constra_webhook_endpoint_id(ep));
    constra__sbuf_puts(b, ",\"object\":\"webhook_endpoint\",\"url\":");
    constra__sbuf_json_str(b, constra_webhook_endpoint_url(ep));
    constra__sbuf_puts(b, ",\"enabled_events\":[");
    const char *types = constra_webhook_endpoint_event_types(ep);
    for (int first = 1; *types;) {
        size_t n = strcspn(types, ",");
        char one[128];
        snprintf(one, sizeof(one), "%.*s", (int)(n < sizeof(one) - 1 ? n : sizeof(one) - 1),
                 types);
        if (!first) {
            constra__sbuf_puts(b, ",");
        }
        constra__sbuf_json_str(b, one);
        first = 0;
        types += n;
        if (*types == ',') {
            types++;
        }
    }
    constra__sbuf_puts(b, "],\"description\":");
    const char *description = constra_webhook_endpoint_description(ep);
    constra__sbuf_json_str(b, description[0] ? description : NULL);
    constra__sbuf_puts(b, ",\"scheme\":");
    constra__sbuf_json_str(b, constra_webhook_endpoint_scheme(ep));
    constra__sbuf_puts(b, ",\"status\":");
    constra__sbuf_puts(b, constra_webhook_endpoint_enabled(ep) ? "\"enabled\"" : "\"disabled\"");
    constra__sbuf_puts(b, ",\"created_at\":");
    constra__sbuf_json_time(b, constra_webhook_endpoint_created_at_ms(ep));
    constra__sbuf_puts(b, ",\"livemode\":");
    constra__sbuf_puts(b, h->mode == CONSTRA_MODE_LIVE ? "true" : "false");
    if (with_secret) {
        /* Only in the answer to the create: it is never shown again. */
        constra__sbuf_puts(b, ",\"secret\":");
        constra__sbuf_json_str(b, constra_webhook_endpoint_secret(ep));
    }
    if (note != NULL) {
        constra__sbuf_puts(b, ",\"url_note\":");
        constra__sbuf_json_str(b, note);
    }
    constra__sbuf_puts(b, "}");
}

/* Why a URL a sandbox accepted would be refused in live mode (no name
 * lookup: only what the URL itself shows), or NULL. */
static const char *sandbox_only(const char *url)
{
    constra__url u;
    if (constra__url_parse(url, &u, "url", NULL) != CONSTRA_OK) {
        return NULL;
    }
    uint8_t a4[4];
    if (!u.https) {
        return "accepted in sandbox mode only: live mode needs an https URL";
    }
    if (strcmp(u.host, "localhost") == 0 ||
        (constra__ipv4_literal(u.host, a4) && constra__ip_forbidden(4, a4) != NULL) ||
        u.ipv6_literal) {
        return "accepted in sandbox mode only: live mode needs a public address";
    }
    return NULL;
}

static int reply_endpoint(constra__api_ctx *c, int status, const constra_webhook_endpoint *ep,
                          int with_secret)
{
    constra__sbuf b;
    constra__sbuf_init(&b, &c->h->platform);
    /* Registering in sandbox: say when the URL could not be a live one
     * (a developer receiving on localhost, as the Stripe CLI forwards). */
    const char *note = status == 201 && c->h->mode != CONSTRA_MODE_LIVE
                           ? sandbox_only(constra_webhook_endpoint_url(ep))
                           : NULL;
    endpoint_json(&b, c->h, ep, with_secret, note);
    return constra__api_reply_sbuf(c, status, &b);
}

/* {"id":<id>,"object":<object><rest>} with status. */
static int reply_ref(constra__api_ctx *c, int status, const char *id, const char *object,
                     const char *rest)
{
    constra__sbuf b;
    constra__sbuf_init(&b, &c->h->platform);
    constra__sbuf_puts(&b, "{\"id\":");
    constra__sbuf_json_str(&b, id);
    constra__sbuf_puts(&b, ",\"object\":");
    constra__sbuf_json_str(&b, object);
    constra__sbuf_puts(&b, rest);
    constra__sbuf_puts(&b, "}");
    return constra__api_reply_sbuf(c, status, &b);
}

/* REST names of the engine's parameters. */
static const char *const endpoint_params[] = {"event_types", "enabled_events", NULL};

/* enabled_events: an array of event types (or ["*"]) joined with commas
 * for the engine, which checks each name. */
static int read_events(constra__jr *jr, const cJSON *root, char *out, size_t size,
                       constra_error *e)
{
    const cJSON *arr = NULL;
    int rc = constra__jr_array(jr, root, "", "enabled_events", 0, &arr);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    size_t count = 0;
    rc = constra__jr_join_texts(jr, arr, "enabled_events", CONSTRA__JR_ID | CONSTRA__JR_NONEMPTY |
                                CONSTRA__JR_REQUIRED, out, size, &count);
    if (rc != CONSTRA_OK && strcmp(e->code, "field_too_long") == 0 &&
        strcmp(e->param, "enabled_events") == 0) {
        return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             "enabled_events", "enabled_events is too long");
    }
    if (rc != CONSTRA_OK || arr == NULL) {
        return rc; /* absent: every event */
    }
    if (count == 0) {
        return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             "enabled_events",
                             "enabled_events must list at least one event type (or \"*\")");
    }
    return CONSTRA_OK;
}

static int create_endpoint(constra__api_ctx *c)
{
    static const char *const fields[] = {"url", "enabled_events", "description", "scheme", NULL};
    constra__jr jr;
    constra_error e = CONSTRA_ERROR_INIT;
    int replied = 0;
    int rc = constra__api_body(c, &jr, &e, fields, 0, &replied);
    if (replied) {
        return rc;
    }
    char url[CONSTRA_WEBHOOK_URL_MAX + 1];
    char events[CONSTRA_WEBHOOK_EVENT_TYPES_MAX + 1];
    char description[CONSTRA_WEBHOOK_DESCRIPTION_MAX + 1], scheme[32];
    int has_scheme = 0;
    rc = constra__jr_text(&jr, jr.root, "", "url",
                          CONSTRA__JR_REQUIRED | CONSTRA__JR_ID | CONSTRA__JR_NONEMPTY, url,
                          sizeof(url), NULL);
    if (rc == CONSTRA_OK) {
        rc = read_events(&jr, jr.root, events, sizeof(events), &e);
    }
    /* description: text shown to people ("" or null for none); scheme:
     * the engine names the known ones (webhook_scheme_unknown). */
    if (rc == CONSTRA_OK) {
        description[0] = '\0';
        rc = constra__jr_text(&jr, jr.root, "", "description", CONSTRA__JR_FREE, description,
                              sizeof(description), NULL);
    }
    if (rc == CONSTRA_OK) {
        rc = constra__jr_text(&jr, jr.root, "", "scheme", CONSTRA__JR_ID | CONSTRA__JR_NONEMPTY,
                              scheme, sizeof(scheme), &has_scheme);
    }
    constra__jr_free(&jr);
    if (rc != CONSTRA_OK) {
        return constra__api_body_error(c, &e);
    }
    constra_webhook_endpoint_params p = CONSTRA_WEBHOOK_ENDPOINT_PARAMS_INIT;
    p.url = url;
    p.event_types = events[0] ? events : NULL;
    p.description = description;
    p.scheme = has_scheme ? scheme : NULL;
    constra_webhook_endpoint *ep = NULL;
    constra_error detail = CONSTRA_ERROR_INIT;
    rc = constra_webhook_endpoint_add(c->h, &p, &ep, &detail);
    if (rc != CONSTRA_OK) {
        return constra__api_engine_error(c, rc, &detail, endpoint_params);
    }
    rc = reply_endpoint(c, 201, ep, 1);
    constra_webhook_endpoint_free(ep);
    return rc;
}

static int list_endpoints(constra__api_ctx *c)
{
    constra_webhook_endpoint_list *l = NULL;
    constra_error detail = CONSTRA_ERROR_INIT;
    int rc = constra_webhook_endpoint_list_get(c->h, &l, &detail);
    if (rc != CONSTRA_OK) {
        return constra__api_engine_error(c, rc, &detail, NULL);
    }
    constra__sbuf b;
    constra__sbuf_init(&b, &c->h->platform);
    constra__sbuf_puts(&b, "{\"object\":\"list\",\"data\":[");
    size_t n = constra_webhook_endpoint_list_count(l);
    for (size_t i = 0; i < n; i++) {
        if (i) {
            constra__sbuf_puts(&b, ",");
        }
        endpoint_json(&b, c->h, constra_webhook_endpoint_list_at(l, i), 0, NULL);
    }
    constra__sbuf_puts(&b, "],\"has_more\":false}");
    constra_webhook_endpoint_list_free(l);
    return constra__api_reply_sbuf(c, 200, &b);
}

int constra__api_wh_endpoints(constra__api_ctx *c)
{
    return strcmp(c->req->method, "POST") == 0 ? create_endpoint(c) : list_endpoints(c);
}

int constra__api_wh_endpoint(constra__api_ctx *c)
{
    constra_error detail = CONSTRA_ERROR_INIT;
    if (strcmp(c->req->method, "DELETE") == 0) {
        int rc = constra_webhook_endpoint_remove(c->h, c->id, &detail);
        if (rc != CONSTRA_OK) {
            return constra__api_engine_error(c, rc, &detail, NULL);
        }
        return reply_ref(c, 200, c->id, "webhook_endpoint", ",\"deleted\":true");
    }
    constra_webhook_endpoint *ep = NULL;
    int rc = constra_webhook_endpoint_get(c->h, c->id, &ep, &detail);
    if (rc != CONSTRA_OK) {
        return constra__api_engine_error(c, rc, &detail, NULL);
    }
    rc = reply_endpoint(c, 200, ep, 0);
    constra_webhook_endpoint_free(ep);
    return rc;
}

static int rotate(constra__api_ctx *c, int64_t overlap_s)
{
    constra_webhook_endpoint *ep = NULL;
    constra_error detail = CONSTRA_ERROR_INIT;
    int rc = constra_webhook_endpoint_rotate_secret(c->h, c->id, overlap_s * 1000, &ep, &detail);
    if (rc != CONSTRA_OK) {
        static const char *const map[] = {"overlap_ms", "overlap_seconds", NULL};
        return constra__api_engine_error(c, rc, &detail, map);
    }
    rc = reply_endpoint(c, 200, ep, 1);
    constra_webhook_endpoint_free(ep);
    return rc;
}

static int send_test(constra__api_ctx *c)
{
    char did[CONSTRA_ID_SIZE + 1];
    constra_error detail = CONSTRA_ERROR_INIT;
    int rc = constra_webhook_endpoint_send_test(c->h, c->id, did, sizeof(did), &detail);
    if (rc != CONSTRA_OK) {
        return constra__api_engine_error(c, rc, &detail, NULL);
    }
    constra__sbuf b;
    constra__sbuf_init(&b, &c->h->platform);
    constra__sbuf_puts(&b, "{\"id\":");
    constra__sbuf_json_str(&b, did);
    constra__sbuf_puts(&b, ",\"object\":\"webhook_delivery\",\"endpoint\":");
    constra__sbuf_json_str(&b, c->id);
    constra__sbuf_puts(&b, ",\"event_type\":\"webhook.test\",\"status\":\"pending\"}");
    return constra__api_reply_sbuf(c, 202, &b);
}

int constra__api_wh_endpoint_action(constra__api_ctx *c, const char *action)
{
    constra__jr jr;
    constra_error e = CONSTRA_ERROR_INIT;
    int replied = 0;
    int rotating = strcmp(action, "rotate-secret") == 0;
    static const char *const none[] = {NULL};
    static const char *const rotate_fields[] = {"overlap_seconds", NULL};
    int rc = constra__api_body(c, &jr, &e, rotating ? rotate_fields : none, 1, &replied);
    if (replied) {
        return rc;
    }
    int64_t overlap_s = 0;
    if (rotating && jr.root != NULL) {
        rc = constra__jr_int(&jr, jr.root, "", "overlap_seconds", 0, 0, 0,
                             CONSTRA_WEBHOOK_ROTATION_OVERLAP_MAX_MS / 1000, &overlap_s, NULL);
    }
    constra__jr_free(&jr);
    if (rc != CONSTRA_OK) {
        return constra__api_body_error(c, &e);
    }
    if (rotating) {
        return rotate(c, overlap_s);
    }
    if (strcmp(action, "test") == 0) {
        return send_test(c);
    }
    constra_error detail = CONSTRA_ERROR_INIT;
    rc = constra_webhook_endpoint_set_enabled(c->h, c->id, strcmp(action, "enable") == 0,
                                              &detail);
    if (rc != CONSTRA_OK) {
        return constra__api_engine_error(c, rc, &detail, NULL);
    }
    constra_webhook_endpoint *ep = NULL;
    rc = constra_webhook_endpoint_get(c->h, c->id, &ep, &detail);
    if (rc != CONSTRA_OK) {
        return constra__api_engine_error(c, rc, &detail, NULL);
    }
    rc = reply_endpoint(c, 200, ep, 0);
    constra_webhook_endpoint_free(ep);
    return rc;
}

/* ---- deliveries ----------------------------------------------------------------------- */

enum { D_ENDPOINT, D_STATUS, D_LIMIT, D_AFTER };

typedef struct delivery_query {
    char endpoint[CONSTRA_ID_SIZE + 1];
    char status[16];
    char after[CONSTRA_ID_SIZE + 1];
    size_t limit;
} delivery_query;

static const constra__api_qname delivery_names[] = {
    {"endpoint", D_ENDPOINT}, {"status", D_STATUS},         {"limit", D_LIMIT},
    {"cursor", D_AFTER},      {"starting_after", D_AFTER},  {NULL, 0},
};

static int delivery_param(void *ctx, int slot, const char *name, const char *value,
                          constra_error *e)
{
    delivery_query *q = ctx;
    switch (slot) {
    case D_ENDPOINT:
    case D_AFTER:
        if (constra__id_check_opaque(value, name, e) != CONSTRA_OK) {
            return e ? e->status : CONSTRA_E_INVALID_ARGUMENT;
        }
        constra__strlcpy(slot == D_ENDPOINT ? q->endpoint : q->after, value,
                         sizeof(q->endpoint));
        return CONSTRA_OK;
    case D_STATUS:
        if (strcmp(value, "pending") != 0 && strcmp(value, "delivered") != 0 &&
            strcmp(value, "failed") != 0) {
            return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", name,
                                 "status must be pending, delivered or failed");
        }
        constra__strlcpy(q->status, value, sizeof(q->status));
        return CONSTRA_OK;
    default: /* D_LIMIT */
        return constra__api_query_limit(value, name, &q->limit, e);
    }
}

int constra__api_wh_deliveries(constra__api_ctx *c)
{
    delivery_query q;
    memset(&q, 0, sizeof(q));
    q.limit = 10;
    constra_error e = CONSTRA_ERROR_INIT;
    if (constra__api_query_parse(c, delivery_names, delivery_param, &q, &e) != CONSTRA_OK) {
        return constra__api_error_from(c, &e);
    }
    /* One more than asked for tells whether more follow. */
    constra_webhook_delivery_list *l = NULL;
    constra_error detail = CONSTRA_ERROR_INIT;
    int rc = constra_webhook_delivery_list_get(c->h, q.endpoint, q.status,
                                               q.after[0] ? q.after : NULL, q.limit + 1, &l,
                                               &detail);
    if (rc != CONSTRA_OK) {
        return constra__api_engine_error(c, rc, &detail, NULL);
    }
    size_t n = constra_webhook_delivery_list_count(l);
    int more = n > q.limit;
    if (more) {
        n = q.limit;
    }
    constra__sbuf b;
    constra__sbuf_init(&b, &c->h->platform);
    constra__sbuf_puts(&b, "{\"object\":\"list\",\"data\":[");
    for (size_t i = 0; i < n; i++) {
        const char *state = constra_webhook_delivery_state(l, i);
        constra__sbuf_puts(&b, i ? ",{\"id\":" : "{\"id\":");
        constra__sbuf_json_str(&b, constra_webhook_delivery_id(l, i));
        constra__sbuf_puts(&b, ",\"object\":\"webhook_delivery\",\"endpoint\":");
        constra__sbuf_json_str(&b, constra_webhook_delivery_endpoint_id(l, i));
        constra__sbuf_puts(&b, ",\"event\":");
        constra__sbuf_json_str(&b, constra_webhook_delivery_event_id(l, i));
        constra__sbuf_puts(&b, ",\"event_type\":");
        constra__sbuf_json_str(&b, constra_webhook_delivery_event_type(l, i));
        constra__sbuf_puts(&b, ",\"status\":");
        constra__sbuf_json_str(&b, state);
        constra__sbuf_puts(&b, ",\"attempt_count\":");
        constra__sbuf_int(&b, constra_webhook_delivery_attempts(l, i));
        int last = constra_webhook_delivery_last_status(l, i);
        constra__sbuf_puts(&b, ",\"last_http_status\":");
        if (last > 0) {
            constra__sbuf_int(&b, last);
        } else {
            constra__sbuf_puts(&b, "null");
        }
        const char *err = constra_webhook_delivery_last_error(l, i);
        constra__sbuf_puts(&b, ",\"last_error\":");
        constra__sbuf_json_str(&b, err[0] ? err : NULL);
        constra__sbuf_puts(&b, ",\"next_attempt_at\":");
        if (strcmp(state, "pending") == 0) {
            constra__sbuf_json_time(&b, constra_webhook_delivery_next_attempt_at_ms(l, i));
        } else {
            constra__sbuf_puts(&b, "null");
        }
        constra__sbuf_puts(&b, ",\"attempts\":");
        const char *attempts = constra_webhook_delivery_attempts_json(l, i);
        constra__sbuf_puts(&b, attempts[0] ? attempts : "[]");
        constra__sbuf_puts(&b, "}");
    }
    constra__sbuf_puts(&b, "],\"has_more\":");
    constra__sbuf_puts(&b, more ? "true" : "false");
    constra__sbuf_puts(&b, "}");
    constra_webhook_delivery_list_free(l);
    return constra__api_reply_sbuf(c, 200, &b);
}

int constra__api_wh_replay(constra__api_ctx *c)
{
    constra__jr jr;
    constra_error e = CONSTRA_ERROR_INIT;
    int replied = 0;
    static const char *const none[] = {NULL};
    int rc = constra__api_body(c, &jr, &e, none, 1, &replied);
    if (replied) {
        return rc;
    }
    constra__jr_free(&jr);
    constra_error detail = CONSTRA_ERROR_INIT;
    rc = constra_webhook_delivery_replay(c->h, c->id, &detail);
    if (rc != CONSTRA_OK) {
        return constra__api_engine_error(c, rc, &detail, NULL);
    }
    return reply_ref(c, 202, c->id, "webhook_delivery", ",\"status\":\"pending\"");
}
