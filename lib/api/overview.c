/*
 * GET /sandbox/overview: counts by status, callback volume, the newest
 * intents and events. Reads storage directly (one pass over intents, one
 * over events): meant for a sandbox dashboard, not a hot path.
 */
#include <stdint.h>
#include <string.h>

#include "api/routes.h"
#include "platform/platform.h"
#include "util/check.h"

#define RECENT_INTENTS 5
#define RECENT_EVENTS 10
#define SCAN_LIMIT ((size_t)INT32_MAX)

typedef struct intent_scan {
    constra_t *h;
    struct constra_intent *scratch;
    int64_t total;
    int64_t by_status[CONSTRA_INTENT_CANCELLED + 1];
    int64_t applied; /* attempts that received their final result */
    int rc;
} intent_scan;

static int intent_row(void *ctx, const constra__res_intent *row)
{
    intent_scan *s = ctx;
    s->total++;
    for (int st = CONSTRA_INTENT_DRAFT; st <= CONSTRA_INTENT_CANCELLED; st++) {
        if (row->status && strcmp(row->status, constra_intent_status_name(st)) == 0) {
            s->by_status[st]++;
            break;
        }
    }
    if (constra__model_parse(s->scratch, row->document, row->document_len) == CONSTRA_OK) {
        for (int i = 0; i < s->scratch->attempt_count && i < CONSTRA__ATTEMPTS_MAX; i++) {
            if (s->scratch->attempts[i].state == CONSTRA__ATTEMPT_COMPLETED) {
                s->applied++;
            }
        }
    }
    return 0;
}

typedef struct event_scan {
    const constra_platform *platform;
    int64_t duplicates;
    int64_t unmatched;
    /* The newest RECENT_EVENTS documents, a ring. */
    char *docs[RECENT_EVENTS];
    size_t lens[RECENT_EVENTS];
    size_t next, kept;
    int nomem;
} event_scan;

static int event_row(void *ctx, const constra__res_event *row)
{
    event_scan *s = ctx;
    if (row->intent_id == NULL || row->intent_id[0] == '\0') {
        s->unmatched++;
    } else if (row->type && strcmp(row->type, "payment_intent.callback_duplicate") == 0) {
        s->duplicates++;
    }
    char *doc = constra__strndup(s->platform, row->document ? row->document : "",
                                 row->document ? row->document_len : 0);
    if (doc == NULL) {
        s->nomem = 1;
        return 1;
    }
    constra__free(s->platform, s->docs[s->next]);
    s->docs[s->next] = doc;
    s->lens[s->next] = row->document ? row->document_len : 0;
    s->next = (s->next + 1) % RECENT_EVENTS;
    if (s->kept < RECENT_EVENTS) {
        s->kept++;
    }
    return 0;
}

static void event_scan_free(event_scan *s)
{
    for (size_t i = 0; i < RECENT_EVENTS; i++) {
        constra__free(s->platform, s->docs[i]);
    }
}

static int storage_reply(constra__api_ctx *c, int rc)
{
    if (rc == CONSTRA_E_NOMEM) {
        return CONSTRA_E_NOMEM;
    }
    return constra__api_error(c, 503, "storage_error", NULL,
                              "storage failed while reading the overview; nothing was changed");
}

int constra__api_overview(constra__api_ctx *c)
{
    constra_t *h = c->h;
    if (h->remote_ops) {
        /* The overview reads storage directly; a remote handle has none
         * of its own (its intents live on the server it talks to). */
        return constra__api_error(c, 501, "remote_handle", NULL,
                                  "the overview is not served by a remote handle; ask its "
                                  "server");
    }
    intent_scan is;
    memset(&is, 0, sizeof(is));
    is.h = h;
    is.scratch = constra__calloc(&h->platform, 1, sizeof(*is.scratch));
    if (is.scratch == NULL) {
        return CONSTRA_E_NOMEM;
    }
    is.scratch->platform = h->platform;
    constra__res_query q = {sizeof(q), NULL, NULL, 0, 0, NULL, SCAN_LIMIT};
    int rc = h->storage.list_intents(h->storage.user_data, &q, intent_row, &is);
    constra__model_release(is.scratch);
    constra__free(&h->platform, is.scratch);
    if (rc != CONSTRA_OK) {
        return storage_reply(c, rc);
    }

    event_scan es;
    memset(&es, 0, sizeof(es));
    es.platform = &h->platform;
    rc = h->storage.list_events(h->storage.user_data, NULL, 0, SCAN_LIMIT, event_row, &es);
    if (rc != CONSTRA_OK || es.nomem) {
        event_scan_free(&es);
        return storage_reply(c, es.nomem ? CONSTRA_E_NOMEM : rc);
    }

    constra_intent_list_params lp = CONSTRA_INTENT_LIST_PARAMS_INIT;
    lp.limit = RECENT_INTENTS;
    constra_intent_list *recent = NULL;
    constra_error detail = CONSTRA_ERROR_INIT;
    rc = constra_intent_list_get(h, &lp, &recent, &detail);
    if (rc != CONSTRA_OK) {
        event_scan_free(&es);
        return constra__api_engine_error(c, rc, &detail, NULL);
    }

    constra__sbuf b;
    constra__sbuf_init(&b, &h->platform);
    constra__sbuf_puts(&b, "{\"object\":\"sandbox_overview\",\"livemode\":");
    constra__sbuf_puts(&b, h->mode == CONSTRA_MODE_LIVE ? "true" : "false");
    constra__sbuf_puts(&b, ",\"intents\":{\"total\":");
    constra__sbuf_int(&b, is.total);
    constra__sbuf_puts(&b, ",\"by_status\":{");
    for (int st = CONSTRA_INTENT_DRAFT; st <= CONSTRA_INTENT_CANCELLED; st++) {
        constra__sbuf_json_key(&b, constra_intent_status_name(st), st == CONSTRA_INTENT_DRAFT);
        constra__sbuf_int(&b, is.by_status[st]);
    }
    constra__sbuf_puts(&b, "}},\"callbacks\":{\"total\":");
    constra__sbuf_int(&b, is.applied + es.duplicates + es.unmatched);
    constra__sbuf_puts(&b, ",\"applied\":");
    constra__sbuf_int(&b, is.applied);
    constra__sbuf_puts(&b, ",\"duplicates\":");
    constra__sbuf_int(&b, es.duplicates);
    constra__sbuf_puts(&b, ",\"unmatched\":");
    constra__sbuf_int(&b, es.unmatched);
    /* Refused for a missing or wrong token since this process started:
     * counted, never stored (they are not in "total"). */
    constra__lock(&h->platform, h->mutex);
    uint64_t refused = h->callbacks_refused;
    uint64_t dropped = h->unmatched_dropped;
    constra__unlock(&h->platform, h->mutex);
    constra__sbuf_puts(&b, ",\"refused\":");
    constra__sbuf_int(&b, (int64_t)refused);
    constra__sbuf_puts(&b, ",\"unmatched_dropped\":");
    constra__sbuf_int(&b, (int64_t)dropped);
    constra__sbuf_puts(&b, "},\"recent_intents\":[");
    for (size_t i = 0; i < constra_intent_list_count(recent); i++) {
        size_t len = 0;
        const char *json = constra_intent_json(constra_intent_list_at(recent, i), &len);
        if (i) {
            constra__sbuf_puts(&b, ",");
        }
        constra__sbuf_append(&b, json, len);
    }
    constra__sbuf_puts(&b, "],\"recent_events\":[");
    /* Newest first: walk the ring backwards from the last one written. */
    for (size_t k = 0; k < es.kept; k++) {
        size_t idx = (es.next + RECENT_EVENTS - 1 - k) % RECENT_EVENTS;
        if (k) {
            constra__sbuf_puts(&b, ",");
        }
        if (es.lens[idx] == 0) {
            constra__sbuf_puts(&b, "null");
        } else {
            constra__sbuf_append(&b, es.docs[idx], es.lens[idx]);
        }
    }
    constra__sbuf_puts(&b, "]}");
    constra_intent_list_free(recent);
    event_scan_free(&es);
    return constra__api_reply_sbuf(c, 200, &b);
}
