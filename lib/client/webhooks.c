/*
 * The webhook calls of a remote handle (webhook_delivery.h over REST):
 *
 *   add         POST   /webhook-endpoints {url, enabled_events, description?, scheme?}
 *   get, list   GET    /webhook-endpoints[/{id}]
 *   enable ...  POST   /webhook-endpoints/{id}/enable|disable
 *   remove      DELETE /webhook-endpoints/{id}
 *   rotate      POST   /webhook-endpoints/{id}/rotate-secret {overlap_seconds}
 *   test        POST   /webhook-endpoints/{id}/test
 *   deliveries  GET    /webhook-deliveries?endpoint=&status=&limit=&starting_after=
 *   replay      POST   /webhook-deliveries/{id}/replay
 *
 * Retries: reads and enable/disable (the same state however often) are
 * repeated on any failure; the others only when the request was never
 * sent, since a second add, rotation or test would make a second
 * endpoint, secret or event. Answers are read tolerantly (unknown fields
 * ignored, optional ones may be absent) but never trusted: every field
 * is checked for type and size, and an answer about another id than the
 * one asked for is refused.
 */
#include <stdio.h>
#include <string.h>

#include "client/client.h"
#include "platform/platform.h"
#include "util/check.h"
#include "util/ids.h"

/* The REST API pages deliveries by at most this many. */
#define REST_PAGE_MAX 100

/* ---- reading the server's objects ------------------------------------------- */

/* enabled_events ["a","b"] (or absent or empty: every event) -> "a,b" / "*". */
static int read_events(constra__jr *jr, const cJSON *obj, char *out, size_t size)
{
    const cJSON *arr = NULL;
    int rc = constra__jr_array(jr, obj, "", "enabled_events", 0, &arr);
    if (rc == CONSTRA_OK) {
        rc = constra__jr_join_texts(jr, arr, "enabled_events", CONSTRA__JR_ID |
                                    CONSTRA__JR_NONEMPTY | CONSTRA__JR_REQUIRED, out, size, NULL);
    }
    if (rc == CONSTRA_OK && out[0] == '\0') {
        memcpy(out, "*", 2);
    }
    return rc;
}

static int read_endpoint(constra_t *h, constra__jr *jr, const cJSON *obj,
                         constra_webhook_endpoint **out)
{
    char id[CONSTRA_ID_SIZE], url[CONSTRA_WEBHOOK_URL_MAX + 1], status[16] = "";
    char secret[CONSTRA_WEBHOOK_ENDPOINT_SECRET_MAX + 1] = "";
    char events[CONSTRA_WEBHOOK_EVENT_TYPES_MAX + 1];
    char description[CONSTRA_WEBHOOK_DESCRIPTION_MAX + 1] = "", scheme[32] = "";
    int64_t created = 0;
    int rc;
    if ((rc = constra__jr_text(jr, obj, "", "id", CONSTRA__JR_REQUIRED | CONSTRA__JR_ID |
                               CONSTRA__JR_NONEMPTY, id, sizeof(id), NULL)) ||
        (rc = constra__id_check_opaque(id, "id", jr->err)) ||
        (rc = constra__jr_text(jr, obj, "", "url", CONSTRA__JR_REQUIRED | CONSTRA__JR_ID |
                               CONSTRA__JR_NONEMPTY, url, sizeof(url), NULL)) ||
        (rc = read_events(jr, obj, events, sizeof(events))) ||
        (rc = constra__jr_text(jr, obj, "", "status", CONSTRA__JR_ID, status, sizeof(status),
                               NULL)) ||
        (rc = constra__jr_text(jr, obj, "", "secret", CONSTRA__JR_ID, secret, sizeof(secret),
                               NULL)) ||
        (rc = constra__jr_text(jr, obj, "", "description", CONSTRA__JR_FREE, description,
                               sizeof(description), NULL)) ||
        (rc = constra__jr_text(jr, obj, "", "scheme", CONSTRA__JR_ID, scheme, sizeof(scheme),
                               NULL)) ||
        (rc = constra__client_read_time(jr, obj, "", "created_at", &created))) {
        return rc;
    }
    /* Anything but "disabled" sends: a server's newer status words must
     * not read as switched off. */
    constra__wh_endpoint_fields f = {id,          url,    secret, events, description,
                                     scheme,      strcmp(status, "disabled") != 0, created};
    rc = constra__wh_endpoint_make(&h->platform, &f, out);
    memset(secret, 0, sizeof(secret));
    return rc == CONSTRA_OK ? rc : constra__fail(jr->err, rc, NULL, NULL, "out of memory");
}

static int read_delivery(constra__jr *jr, const cJSON *obj, constra_webhook_delivery_list *l)
{
    char id[CONSTRA_ID_SIZE], endpoint[CONSTRA_ID_SIZE] = "", event[CONSTRA_ID_SIZE] = "";
    char type[CONSTRA__RES_KEY_MAX + 1] = "", status[16] = "", error[CONSTRA__RES_KEY_MAX + 1] = "";
    int64_t attempts = 0, last = 0, next = 0, created = 0;
    int rc;
    if ((rc = constra__jr_text(jr, obj, "", "id", CONSTRA__JR_REQUIRED | CONSTRA__JR_ID |
                               CONSTRA__JR_NONEMPTY, id, sizeof(id), NULL)) ||
        (rc = constra__jr_text(jr, obj, "", "endpoint", CONSTRA__JR_ID, endpoint,
                               sizeof(endpoint), NULL)) ||
        (rc = constra__jr_text(jr, obj, "", "event", CONSTRA__JR_ID, event, sizeof(event),
                               NULL)) ||
        (rc = constra__jr_text(jr, obj, "", "event_type", CONSTRA__JR_ID, type, sizeof(type),
                               NULL)) ||
        (rc = constra__jr_text(jr, obj, "", "status", CONSTRA__JR_REQUIRED | CONSTRA__JR_ID,
                               status, sizeof(status), NULL)) ||
        (rc = constra__jr_int(jr, obj, "", "attempt_count", 0, 0, 0, 1000000, &attempts,
                              NULL)) ||
        (rc = constra__jr_int(jr, obj, "", "last_http_status", 0, 0, 0, 999, &last, NULL)) ||
        (rc = constra__jr_text(jr, obj, "", "last_error", CONSTRA__JR_ID, error, sizeof(error),
                               NULL)) ||
        (rc = constra__client_read_time(jr, obj, "", "next_attempt_at", &next)) ||
        (rc = constra__client_read_time(jr, obj, "", "created_at", &created))) {
        return rc;
    }
    const cJSON *log_item = NULL;
    if ((rc = constra__jr_array(jr, obj, "", "attempts", 0, &log_item)) != CONSTRA_OK) {
        return rc;
    }
    char *log = log_item ? cJSON_PrintUnformatted(log_item) : NULL;
    constra__res_delivery row = {sizeof(row), id, endpoint, event, type, 0, status,
                                    (int)attempts, (int)last, error, next, created, created, 1,
                                    "", 0, log ? log : "[]", log ? strlen(log) : 2};
    rc = constra__wh_delivery_list_add(l, &row);
    cJSON_free(log);
    return rc == CONSTRA_OK ? rc : constra__fail(jr->err, rc, NULL, NULL, "out of memory");
}

/* ---- the calls ----------------------------------------------------------------- */

/* A 2xx answer: its JSON, read in place from the response's body, which
 * therefore lives as long as the reader (numbers are read from the text). */
typedef struct answer {
    constra__jr jr;
    constra_transport_response *resp;
} answer;

static void answer_free(answer *a)
{
    constra__jr_free(&a->jr);
    constra_transport_response_free(a->resp);
    a->resp = NULL;
}

/* One call; on success *a holds the answer (answer_free it). */
static int call_json(constra_t *h, const char *method, const char *path, const char *body,
                     int policy, answer *a, constra_error *e)
{
    constra__call call = {method, path, body, body ? strlen(body) : 0, NULL, policy, 0};
    a->resp = NULL;
    int rc = constra__client_call(h, &call, &a->resp, e);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    size_t len = 0;
    const char *text = constra_transport_response_body(a->resp, &len);
    rc = constra__client_parse_body(&a->jr, text, len, e);
    if (rc != CONSTRA_OK) {
        constra_transport_response_free(a->resp);
        a->resp = NULL;
    }
    return rc;
}

/* An answer that must be the endpoint `want_id` (NULL: any). */
static int endpoint_answer(constra_t *h, answer *a, const char *want_id,
                           constra_webhook_endpoint **out, constra_error *e)
{
    constra_webhook_endpoint *ep = NULL;
    int rc = read_endpoint(h, &a->jr, a->jr.root, &ep);
    answer_free(a);
    if (rc != CONSTRA_OK) {
        return constra__client_malformed(e, "a webhook endpoint");
    }
    if (want_id && strcmp(constra_webhook_endpoint_id(ep), want_id) != 0) {
        constra_webhook_endpoint_free(ep);
        return constra__fail_http(e, CONSTRA_E_PARSE, 502, "response_malformed", "id",
                                  "the server answered about another webhook endpoint than %s",
                                  want_id);
    }
    if (out) {
        *out = ep;
    } else {
        constra_webhook_endpoint_free(ep);
    }
    return CONSTRA_OK;
}

static int add(constra_t *h, const constra_webhook_endpoint_params *p,
               constra_webhook_endpoint **out, constra_error *e)
{
    constra__sbuf b;
    constra__sbuf_init(&b, &h->platform);
    constra__sbuf_puts(&b, "{\"url\":");
    constra__sbuf_json_str(&b, p->url);
    if (p->event_types && strcmp(p->event_types, "*") != 0) {
        constra__sbuf_puts(&b, ",\"enabled_events\":[");
        for (const char *t = p->event_types; *t;) {
            size_t n = strcspn(t, ",");
            char one[128];
            snprintf(one, sizeof(one), "%.*s", (int)(n < sizeof(one) ? n : sizeof(one) - 1), t);
            constra__sbuf_puts(&b, t == p->event_types ? "" : ",");
            constra__sbuf_json_str(&b, one);
            t += n + (t[n] == ',');
        }
        constra__sbuf_puts(&b, "]");
    }
    if (p->description && p->description[0]) {
        constra__sbuf_puts(&b, ",\"description\":");
        constra__sbuf_json_str(&b, p->description);
    }
    if (p->scheme) {
        constra__sbuf_puts(&b, ",\"scheme\":");
        constra__sbuf_json_str(&b, p->scheme);
    }
    constra__sbuf_puts(&b, "}");
    char *body = constra__sbuf_take(&b, NULL);
    if (body == NULL) {
        return constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    answer a;
    int rc = call_json(h, "POST", "/webhook-endpoints", body, CONSTRA__RETRY_NOT_SENT, &a, e);
    constra__free(&h->platform, body);
    return rc == CONSTRA_OK ? endpoint_answer(h, &a, NULL, out, e) : rc;
}

static int list_endpoints(constra_t *h, constra_webhook_endpoint_list **out, constra_error *e)
{
    answer a;
    int rc = call_json(h, "GET", "/webhook-endpoints", NULL, CONSTRA__RETRY_SAFE, &a, e);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    const cJSON *data = NULL;
    int more = 0;
    constra_webhook_endpoint_list *l = NULL;
    if (constra__client_read_wrapper(&a.jr, &data, &more) != CONSTRA_OK) {
        rc = constra__client_malformed(e, "a list of webhook endpoints");
    } else if ((rc = constra__wh_endpoint_list_new(&h->platform, &l)) != CONSTRA_OK) {
        rc = constra__fail(e, rc, NULL, NULL, "out of memory");
    }
    for (const cJSON *it = data ? data->child : NULL; rc == CONSTRA_OK && it; it = it->next) {
        constra_webhook_endpoint *ep = NULL;
        if (!cJSON_IsObject(it) || read_endpoint(h, &a.jr, it, &ep) != CONSTRA_OK) {
            rc = constra__client_malformed(e, "a list of webhook endpoints");
        } else if ((rc = constra__wh_endpoint_list_take(l, ep)) != CONSTRA_OK) {
            rc = constra__fail(e, rc, NULL, NULL, "out of memory");
        }
    }
    answer_free(&a);
    if (rc != CONSTRA_OK) {
        constra_webhook_endpoint_list_free(l);
        return rc;
    }
    *out = l;
    return CONSTRA_OK;
}

/* GET /webhook-deliveries, page after page until `limit` rows or the end. */
static int deliveries(constra_t *h, const constra__remote_wh *r, constra_error *e)
{
    constra_webhook_delivery_list *l = NULL;
    int rc = constra__wh_delivery_list_new(&h->platform, &l);
    if (rc != CONSTRA_OK) {
        return constra__fail(e, rc, NULL, NULL, "out of memory");
    }
    char after[CONSTRA__RES_KEY_MAX + 1] = "";
    if (r->after) {
        constra__strlcpy(after, r->after, sizeof(after));
    }
    for (int more = 1; rc == CONSTRA_OK && more;) {
        size_t want = r->limit - constra_webhook_delivery_list_count(l);
        char num[24];
        snprintf(num, sizeof(num), "%zu", want < REST_PAGE_MAX ? want : REST_PAGE_MAX);
        constra__sbuf q;
        constra__sbuf_init(&q, &h->platform); /* empty: the first parameter gets "?" */
        if (r->endpoint_id && r->endpoint_id[0]) {
            constra__client_query_param(&q, "endpoint", r->endpoint_id);
        }
        if (r->state && r->state[0]) {
            constra__client_query_param(&q, "status", r->state);
        }
        if (after[0]) {
            constra__client_query_param(&q, "starting_after", after);
        }
        constra__client_query_param(&q, "limit", num);
        char *query = constra__sbuf_take(&q, NULL);
        char path[1200];
        if (query == NULL) {
            rc = constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
            break;
        }
        snprintf(path, sizeof(path), "/webhook-deliveries%s", query);
        constra__free(&h->platform, query);
        answer a;
        if ((rc = call_json(h, "GET", path, NULL, CONSTRA__RETRY_SAFE, &a, e)) != CONSTRA_OK) {
            break;
        }
        const cJSON *data = NULL;
        size_t before = constra_webhook_delivery_list_count(l);
        if (constra__client_read_wrapper(&a.jr, &data, &more) != CONSTRA_OK) {
            rc = constra__client_malformed(e, "a list of webhook deliveries");
        }
        for (const cJSON *it = data ? data->child : NULL; rc == CONSTRA_OK && it;
             it = it->next) {
            if (!cJSON_IsObject(it) || read_delivery(&a.jr, it, l) != CONSTRA_OK) {
                rc = e->status == CONSTRA_E_NOMEM
                         ? CONSTRA_E_NOMEM
                         : constra__client_malformed(e, "a list of webhook deliveries");
            }
        }
        answer_free(&a);
        size_t got = constra_webhook_delivery_list_count(l);
        if (rc == CONSTRA_OK && got > r->limit) {
            rc = constra__fail_http(e, CONSTRA_E_PARSE, 502, "response_malformed", "data",
                                    "the server sent more deliveries than the limit asked for");
        }
        if (rc == CONSTRA_OK && more && got == before) {
            rc = constra__fail_http(e, CONSTRA_E_PARSE, 502, "response_malformed", "has_more",
                                    "the server says there is more but sent an empty page");
        }
        if (rc == CONSTRA_OK && got > 0) {
            constra__strlcpy(after, constra_webhook_delivery_id(l, got - 1), sizeof(after));
        }
        more = more && got < r->limit;
    }
    if (rc != CONSTRA_OK) {
        constra_webhook_delivery_list_free(l);
        return rc;
    }
    *r->deliveries = l;
    return CONSTRA_OK;
}

/* POST an action whose answer is only checked to be JSON. */
static int post_action(constra_t *h, const char *path, const char *body, int policy,
                       answer *a, constra_error *e)
{
    return call_json(h, "POST", path, body ? body : "{}", policy, a, e);
}

int constra__client_webhooks(constra_t *h, const constra__remote_wh *r, constra_error *e)
{
    char path[160];
    answer a;
    int rc;
    switch (r->op) {
    case CONSTRA__WH_ADD:
        return add(h, r->params, r->endpoint, e);
    case CONSTRA__WH_GET:
        snprintf(path, sizeof(path), "/webhook-endpoints/%s", r->id);
        rc = call_json(h, "GET", path, NULL, CONSTRA__RETRY_SAFE, &a, e);
        return rc == CONSTRA_OK ? endpoint_answer(h, &a, r->id, r->endpoint, e) : rc;
    case CONSTRA__WH_LIST:
        return list_endpoints(h, r->endpoints, e);
    case CONSTRA__WH_ENABLE:
    case CONSTRA__WH_DISABLE:
        snprintf(path, sizeof(path), "/webhook-endpoints/%s/%s", r->id,
                 r->op == CONSTRA__WH_ENABLE ? "enable" : "disable");
        rc = post_action(h, path, NULL, CONSTRA__RETRY_SAFE, &a, e);
        return rc == CONSTRA_OK ? endpoint_answer(h, &a, r->id, NULL, e) : rc;
    case CONSTRA__WH_REMOVE:
        snprintf(path, sizeof(path), "/webhook-endpoints/%s", r->id);
        rc = call_json(h, "DELETE", path, NULL, CONSTRA__RETRY_NOT_SENT, &a, e);
        if (rc == CONSTRA_OK) {
            answer_free(&a);
        }
        return rc;
    case CONSTRA__WH_ROTATE: {
        /* REST counts whole seconds; a fraction of one rounds up. */
        char body[64];
        snprintf(body, sizeof(body), "{\"overlap_seconds\":%lld}",
                 (long long)((r->overlap_ms + 999) / 1000));
        snprintf(path, sizeof(path), "/webhook-endpoints/%s/rotate-secret", r->id);
        rc = post_action(h, path, body, CONSTRA__RETRY_NOT_SENT, &a, e);
        return rc == CONSTRA_OK ? endpoint_answer(h, &a, r->id, r->endpoint, e) : rc;
    }
    case CONSTRA__WH_TEST: {
        snprintf(path, sizeof(path), "/webhook-endpoints/%s/test", r->id);
        rc = post_action(h, path, NULL, CONSTRA__RETRY_NOT_SENT, &a, e);
        if (rc != CONSTRA_OK) {
            return rc;
        }
        char did[CONSTRA_ID_SIZE];
        rc = constra__jr_text(&a.jr, a.jr.root, "", "id", CONSTRA__JR_REQUIRED | CONSTRA__JR_ID |
                              CONSTRA__JR_NONEMPTY, did, sizeof(did), NULL);
        answer_free(&a);
        if (rc != CONSTRA_OK) {
            return constra__client_malformed(e, "a webhook delivery");
        }
        if (r->delivery_id && r->delivery_id_size > 0) {
            constra__strlcpy(r->delivery_id, did, r->delivery_id_size);
        }
        return CONSTRA_OK;
    }
    case CONSTRA__WH_DELIVERIES:
        return deliveries(h, r, e);
    case CONSTRA__WH_REPLAY:
        snprintf(path, sizeof(path), "/webhook-deliveries/%s/replay", r->id);
        rc = post_action(h, path, NULL, CONSTRA__RETRY_NOT_SENT, &a, e);
        if (rc == CONSTRA_OK) {
            answer_free(&a);
        }
        return rc;
    default:
        return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, NULL, NULL, "unknown webhook call");
    }
}
