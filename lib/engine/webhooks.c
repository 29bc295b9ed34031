/*
 * Webhook delivery (include/constra/webhook_delivery.h): endpoints, deliveries
 * derived from the event log by a per-endpoint cursor, the send loop with
 * its retry schedule, replay, and the SSRF guard at both ends.
 *
 * Why a cursor and not a queue row written with each transition: the
 * event is already committed atomically with its transition (storage.h),
 * so the log is the durable outbox. Deriving deliveries from it keeps the
 * money path (engine.c) unaware of webhooks, and moving the cursor in the
 * same storage write that queues the deliveries makes the derivation
 * exactly-once per (endpoint, event): a crash before that write derives
 * the same events again, a crash after it finds them queued.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "util/intfmt.h"
#include "constra/version.h"
#include "constra/webhook_signature.h"
#include "constra/webhook_delivery.h"
#include "engine/engine.h"
#include "mpesa/json_read.h"
#include "platform/platform.h"
#include "storage/resources.h"
#include "util/check.h"
#include "util/encode.h"
#include "util/ids.h"
#include "util/sbuf.h"
#include "webhook/ssrf.h"

#define SEND_TIMEOUT_MS 15000
#define CONNECT_TIMEOUT_MS 5000
#define RESPONSE_MAX (64u * 1024u)
/* A claimed delivery whose sender died is taken over after this. */
#define CLAIM_LEASE_MS INT64_C(120000)
#define EVENT_PAGE 100
#define DUE_PAGE 50
/* Webhook POSTs one tick sends at most (each may take SEND_TIMEOUT_MS). */
#define SENDS_MAX 64
#define LOG_MAX 8192

/* Delay before the retry that follows the n-th failed attempt (n = 1..5);
 * the sixth failure is final. */
static const int64_t retry_delay_ms[] = {
    INT64_C(60000), INT64_C(300000), INT64_C(1800000), INT64_C(7200000), INT64_C(86400000),
};
#define MAX_ATTEMPTS ((int)CONSTRA__ARRAY_LEN(retry_delay_ms) + 1)

/* The event types an endpoint may subscribe to (the engine's events). */
static const char *const event_types[] = {
    "payment_intent.created",           "payment_intent.pending_user_action",
    "payment_intent.succeeded",         "payment_intent.failed",
    "payment_intent.cancelled",         "payment_intent.requires_recovery",
    "payment_intent.review_required",   "payment_intent.callback_duplicate",
    "payment_intent.note_added",
};

struct constra_webhook_endpoint {
    constra_platform platform;
    char id[CONSTRA__RES_KEY_MAX + 1];
    char *url, *secret, *types;
    /* While a rotation's overlap lasts: the secret before it, and until
     * when deliveries are signed with it too (0: no previous secret). */
    char *previous;
    int64_t previous_until_ms;
    /* The storage's attributes text, kept to be written back as it was,
     * and what it says (read_attributes). */
    char *attributes;
    char *description;
    int scheme; /* endpoint_scheme */
    int enabled;
    int64_t created_at_ms, updated_at_ms, cursor, version;
};

/* Which signature headers an endpoint's deliveries carry
 * (constra_webhook_endpoint_params.scheme). */
enum endpoint_scheme { SCHEME_ALL, SCHEME_CONSTRA, SCHEME_STANDARD };
static const char *const scheme_names[] = {"all", "constra", "standard_webhooks"};

/* The endpoint_scheme a name stands for, or -1. */
static int scheme_index(const char *name)
{
    for (int i = 0; i < (int)CONSTRA__ARRAY_LEN(scheme_names); i++) {
        if (strcmp(name, scheme_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

struct constra_webhook_endpoint_list {
    constra_platform platform;
    constra_webhook_endpoint **items;
    size_t count, cap;
    int failed;
};

typedef struct delivery {
    char id[CONSTRA__RES_KEY_MAX + 1];
    char endpoint_id[CONSTRA__RES_KEY_MAX + 1];
    char event_id[CONSTRA__RES_KEY_MAX + 1];
    char event_type[CONSTRA__RES_KEY_MAX + 1];
    char state[16];
    char last_error[CONSTRA__RES_KEY_MAX + 1];
    int64_t event_sequence;
    int attempts, last_status;
    int64_t next_attempt_at_ms, created_at_ms, updated_at_ms, version;
    char *body, *log;
    size_t body_len, log_len;
} delivery;

struct constra_webhook_delivery_list {
    constra_platform platform;
    delivery *items;
    size_t count, cap;
    int failed;
};

/* ---- helpers -------------------------------------------------------------- */

/* A remote handle (lib/client) keeps no endpoints of its own: each call,
 * its arguments checked here as for a local handle, goes to the server. */
static int is_remote(const constra_t *h)
{
    return h->remote_ops != NULL && h->remote_ops->webhooks != NULL;
}

static int remote_call(constra_t *h, int op, const char *id, constra_error *e)
{
    constra__remote_wh req = {0};
    req.op = op;
    req.id = id;
    return h->remote_ops->webhooks(h, &req, e);
}

static int storage_fail(constra_error *e, int rc, const char *what)
{
    switch (rc) {
    case CONSTRA_E_NOT_FOUND:
        return constra__fail(e, rc, NULL, NULL, "%s: not found", what);
    case CONSTRA_E_CONFLICT:
        return constra__fail(e, rc, "conflict", NULL, "%s: changed concurrently, retry", what);
    case CONSTRA_E_NOMEM:
        return constra__fail(e, rc, NULL, NULL, "%s: out of memory", what);
    case CONSTRA_E_INVALID_ARGUMENT:
        return constra__fail(e, rc, NULL, NULL, "%s: refused by the storage", what);
    default:
        return constra__fail(e, CONSTRA_E_STORAGE, NULL, NULL, "%s: storage failure (%d)", what,
                             rc);
    }
}

/* 1 when `type` is in the comma-separated `filter` (or it is "*"). */
static int type_matches(const char *filter, const char *type)
{
    if (strcmp(filter, "*") == 0) {
        return 1;
    }
    size_t tl = strlen(type);
    const char *p = filter;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n == tl && memcmp(p, type, n) == 0) {
            return 1;
        }
        p += n;
        if (*p == ',') {
            p++;
        }
    }
    return 0;
}

static int check_event_types(const char *types, constra_error *e)
{
    size_t len;
    int rc = constra__check_str(types, CONSTRA_WEBHOOK_EVENT_TYPES_MAX, 0, "event_types", &len, e);
    if (rc != CONSTRA_OK || strcmp(types, "*") == 0) {
        return rc;
    }
    const char *p = types;
    for (;;) {
        size_t n = strcspn(p, ",");
        int known = 0;
        for (size_t i = 0; i < CONSTRA__ARRAY_LEN(event_types); i++) {
            known |= strlen(event_types[i]) == n && memcmp(event_types[i], p, n) == 0;
        }
        if (!known) {
            return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "event_type_unknown",
                                 "event_types",
                                 "event_types must be \"*\" or a comma-separated list of known "
                                 "event types (payment_intent.succeeded, ...), without spaces");
        }
        if (p[n] == '\0') {
            return CONSTRA_OK;
        }
        p += n + 1;
    }
}

static int check_secret(const char *secret, constra_error *e)
{
    size_t len;
    int rc = constra__check_str(secret, CONSTRA_WEBHOOK_ENDPOINT_SECRET_MAX, 0, "secret", &len, e);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    int printable = 1;
    for (size_t i = 0; i < len; i++) {
        printable &= secret[i] > 0x20 && secret[i] < 0x7f;
    }
    if (len < CONSTRA_WEBHOOK_ENDPOINT_SECRET_MIN || !printable) {
        return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "secret_invalid", "secret",
                             "secret must be %d to %d printable ASCII characters without spaces",
                             CONSTRA_WEBHOOK_ENDPOINT_SECRET_MIN,
                             CONSTRA_WEBHOOK_ENDPOINT_SECRET_MAX);
    }
    return CONSTRA_OK;
}

static int url_check(constra_t *h, const char *url, constra_error *e)
{
    return constra__webhook_url_check(url, h->mode == CONSTRA_MODE_LIVE, h->resolve,
                                      h->resolve_ctx, "url", e);
}

/* ---- endpoint snapshots --------------------------------------------------- */

void constra_webhook_endpoint_free(constra_webhook_endpoint *ep)
{
    if (ep == NULL) {
        return;
    }
    constra_platform plat = ep->platform;
    constra__free(&plat, ep->url);
    constra__free(&plat, ep->secret);
    constra__free(&plat, ep->previous);
    constra__free(&plat, ep->types);
    constra__free(&plat, ep->attributes);
    constra__free(&plat, ep->description);
    constra__free(&plat, ep);
}

/*
 * The storage's `attributes` text of an endpoint (storage.h): a JSON
 * object with "description" and "scheme", each left out at its default
 * ("" and "all"). Text that does not read (a newer library's, a damaged
 * row) gives the defaults: the endpoint still delivers, with every header.
 */
static int read_attributes(const constra_platform *p, constra_webhook_endpoint *ep,
                           const char *text)
{
    char description[CONSTRA_WEBHOOK_DESCRIPTION_MAX + 1] = "", scheme[32] = "";
    constra_error ignored = CONSTRA_ERROR_INIT;
    constra__jr jr;
    size_t len = strlen(text);
    if (len > 0 &&
        constra__jr_parse(&jr, text, len, CONSTRA__RES_TEXT_MAX, 4, "attributes",
                          &ignored) == CONSTRA_OK) {
        if (constra__jr_text(&jr, jr.root, "", "description", CONSTRA__JR_FREE, description,
                             sizeof(description), NULL) != CONSTRA_OK) {
            description[0] = '\0';
        }
        if (constra__jr_text(&jr, jr.root, "", "scheme", CONSTRA__JR_ID, scheme,
                             sizeof(scheme), NULL) != CONSTRA_OK) {
            scheme[0] = '\0';
        }
        constra__jr_free(&jr);
    }
    int known = scheme_index(scheme);
    ep->scheme = known < 0 ? SCHEME_ALL : known;
    ep->attributes = constra__strndup(p, text, len);
    ep->description = constra__strndup(p, description, strlen(description));
    return ep->attributes && ep->description ? 0 : -1;
}

/*
 * The storage's `secret` text of an endpoint: "<current>", or while a
 * rotation overlaps "<current> <previous> <until, Unix ms>". Secrets have
 * no spaces (check_secret), so the text splits unambiguously, and every
 * storage keeps it as the opaque text it already stores: no new column.
 */
#define SECRET_TEXT_MAX (2 * CONSTRA_WEBHOOK_ENDPOINT_SECRET_MAX + 24)

static int split_secret(const constra_platform *p, constra_webhook_endpoint *ep,
                        const char *text)
{
    size_t n = strcspn(text, " ");
    ep->secret = constra__strndup(p, text, n);
    if (ep->secret == NULL) {
        return -1;
    }
    if (text[n] != ' ') {
        return 0;
    }
    const char *prev = text + n + 1;
    size_t m = strcspn(prev, " ");
    int64_t until = 0;
    const char *u = prev[m] == ' ' ? prev + m + 1 : "";
    for (; *u >= '0' && *u <= '9' && until < INT64_MAX / 10; u++) {
        until = until * 10 + (*u - '0');
    }
    if (m == 0 || until <= 0) {
        return 0; /* unreadable overlap: the current secret alone */
    }
    ep->previous = constra__strndup(p, prev, m);
    if (ep->previous == NULL) {
        return -1;
    }
    ep->previous_until_ms = until;
    return 0;
}

/* The storage text for an endpoint's secrets (see split_secret). */
static void join_secret(const constra_webhook_endpoint *ep, char *out, size_t size)
{
    if (ep->previous != NULL && ep->previous_until_ms > 0) {
        char until[CONSTRA__INT_TEXT_MAX];
        constra__fmt_i64(until, ep->previous_until_ms);
        snprintf(out, size, "%s %s %s", ep->secret, ep->previous, until);
    } else {
        snprintf(out, size, "%s", ep->secret);
    }
}

static constra_webhook_endpoint *endpoint_copy(const constra_platform *p,
                                               const constra__res_endpoint *r)
{
    constra_webhook_endpoint *ep = constra__calloc(p, 1, sizeof(*ep));
    if (ep == NULL) {
        return NULL;
    }
    ep->platform = *p;
    constra__strlcpy(ep->id, r->id, sizeof(ep->id));
    ep->url = constra__strndup(p, r->url, strlen(r->url));
    int secret_ok = split_secret(p, ep, r->secret) == 0;
    ep->types = constra__strndup(p, r->event_types, strlen(r->event_types));
    int attributes_ok = read_attributes(p, ep, r->attributes ? r->attributes : "") == 0;
    if (!ep->url || !secret_ok || !ep->types || !attributes_ok) {
        constra_webhook_endpoint_free(ep);
        return NULL;
    }
    ep->enabled = r->enabled;
    ep->created_at_ms = r->created_at_ms;
    ep->updated_at_ms = r->updated_at_ms;
    ep->cursor = r->cursor;
    ep->version = r->version;
    return ep;
}

int constra__wh_endpoint_list_new(const constra_platform *p, constra_webhook_endpoint_list **out)
{
    *out = constra__calloc(p, 1, sizeof(**out));
    if (*out == NULL) {
        return CONSTRA_E_NOMEM;
    }
    (*out)->platform = *p;
    return CONSTRA_OK;
}

int constra__wh_endpoint_list_take(constra_webhook_endpoint_list *l, constra_webhook_endpoint *ep)
{
    if (l->count == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 8;
        void *n = constra__realloc(&l->platform, l->items, ncap * sizeof(*l->items));
        if (n == NULL) {
            constra_webhook_endpoint_free(ep);
            return CONSTRA_E_NOMEM;
        }
        l->items = n;
        l->cap = ncap;
    }
    l->items[l->count++] = ep;
    return CONSTRA_OK;
}

static int collect_endpoint(void *ctx, const constra__res_endpoint *r)
{
    constra_webhook_endpoint_list *l = ctx;
    constra_webhook_endpoint *ep = endpoint_copy(&l->platform, r);
    if (ep == NULL || constra__wh_endpoint_list_take(l, ep) != CONSTRA_OK) {
        l->failed = 1;
        return 1;
    }
    return 0;
}

void constra_webhook_endpoint_list_free(constra_webhook_endpoint_list *l)
{
    if (l == NULL) {
        return;
    }
    constra_platform plat = l->platform;
    for (size_t i = 0; i < l->count; i++) {
        constra_webhook_endpoint_free(l->items[i]);
    }
    constra__free(&plat, l->items);
    constra__free(&plat, l);
}

static int load_endpoints(constra_t *h, constra_webhook_endpoint_list **out, constra_error *e)
{
    *out = NULL;
    constra_webhook_endpoint_list *l = NULL;
    if (constra__wh_endpoint_list_new(&h->platform, &l) != CONSTRA_OK) {
        return constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    int rc = constra__res_endpoint_list(&h->storage, collect_endpoint, l);
    if (rc == CONSTRA_OK && l->failed) {
        rc = CONSTRA_E_NOMEM;
    }
    if (rc != CONSTRA_OK) {
        constra_webhook_endpoint_list_free(l);
        return storage_fail(e, rc, "listing webhook endpoints");
    }
    *out = l;
    return CONSTRA_OK;
}

static constra_webhook_endpoint *find_endpoint(const constra_webhook_endpoint_list *l,
                                               const char *id)
{
    for (size_t i = 0; i < l->count; i++) {
        if (strcmp(l->items[i]->id, id) == 0) {
            return l->items[i];
        }
    }
    return NULL;
}

/* ---- endpoints: public calls ---------------------------------------------- */

/* The params as 0.1 callers compiled them: up to event_types. */
#define ENDPOINT_PARAMS_V1_SIZE \
    (offsetof(constra_webhook_endpoint_params, event_types) + sizeof(const char *))

int constra_webhook_endpoint_params_init(constra_webhook_endpoint_params *p, size_t struct_size)
{
    return constra__init_struct(p, struct_size, ENDPOINT_PARAMS_V1_SIZE, sizeof(*p), NULL);
}

/* A description a caller gave: valid UTF-8, no control characters. */
static int check_description(const char *d, constra_error *e)
{
    size_t len;
    int rc = constra__check_str(d, CONSTRA_WEBHOOK_DESCRIPTION_MAX, 1, "description", &len, e);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    int clean = constra__utf8_count(d, len) >= 0;
    for (size_t i = 0; i < len; i++) {
        clean &= (unsigned char)d[i] >= 0x20 && d[i] != 0x7f;
    }
    if (!clean) {
        return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "description",
                             "description must be at most %d bytes of UTF-8 text without "
                             "control characters", CONSTRA_WEBHOOK_DESCRIPTION_MAX);
    }
    return CONSTRA_OK;
}

/* The scheme a caller named (NULL: "all"), and whether the secret suits it:
 * standard_webhooks needs a whsec_ secret, judged by the signer itself. */
static int check_scheme(const char *name, const char *secret, int *scheme, constra_error *e)
{
    *scheme = name == NULL ? SCHEME_ALL : scheme_index(name);
    if (*scheme < 0) {
        return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "webhook_scheme_unknown", "scheme",
                             "scheme must be \"all\", \"constra\" or \"standard_webhooks\"");
    }
    if (*scheme == SCHEME_STANDARD && secret != NULL) {
        char sig[CONSTRA_WEBHOOK_SIGNATURE_SIZE];
        constra_webhook_params wp = CONSTRA_WEBHOOK_PARAMS_INIT;
        wp.scheme = CONSTRA_WEBHOOK_STANDARD;
        wp.secret = secret;
        wp.body = (const uint8_t *)"{}";
        wp.body_len = 2;
        wp.timestamp = 1;
        wp.msg_id = "msg_check";
        constra_error se = CONSTRA_ERROR_INIT;
        if (constra_webhook_sign(&wp, sig, sizeof(sig), &se) != CONSTRA_OK) {
            return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "secret_invalid", "secret",
                                 "the standard_webhooks scheme needs a whsec_ secret: %s",
                                 se.message);
        }
    }
    return CONSTRA_OK;
}

/* The attributes text for a new endpoint (see read_attributes). */
static char *attributes_text(const constra_platform *p, const char *description, int scheme)
{
    constra__sbuf b;
    constra__sbuf_init(&b, p);
    constra__sbuf_puts(&b, "{");
    int first = 1;
    if (description != NULL && description[0] != '\0') {
        constra__sbuf_json_key(&b, "description", first);
        constra__sbuf_json_str(&b, description);
        first = 0;
    }
    if (scheme != SCHEME_ALL) {
        constra__sbuf_json_key(&b, "scheme", first);
        constra__sbuf_json_str(&b, scheme_names[scheme]);
    }
    constra__sbuf_puts(&b, "}");
    size_t len;
    return constra__sbuf_take(&b, &len);
}

/* A fresh Standard Webhooks secret ("whsec_" + base64 of 24 random
 * bytes), usable by every scheme we sign. */
static int generate_secret(constra_t *h, char *secret, size_t size, constra_error *e)
{
    uint8_t raw[24];
    if (constra__random(&h->platform, raw, sizeof(raw)) != 0) {
        return constra__fail(e, CONSTRA_E_PLATFORM, NULL, "platform.random_bytes",
                             "the random source failed");
    }
    memcpy(secret, "whsec_", 6);
    constra__base64_encode(raw, sizeof(raw), secret + 6, size - 6);
    memset(raw, 0, sizeof(raw));
    return CONSTRA_OK;
}

static int endpoint_add(constra_t *h, const constra_webhook_endpoint_params *params,
                        constra_webhook_endpoint **out, constra_error *e)
{
    int rc = constra__check_struct(params, ENDPOINT_PARAMS_V1_SIZE, sizeof(*params), "params", e);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra_webhook_endpoint_params p;
    constra__copy_struct(&p, sizeof(p), params);
    if (p.url == NULL) {
        return constra__fail_null(e, "url");
    }
    const char *types = p.event_types ? p.event_types : "*";
    /* A remote handle has no endpoints of its own (no storage to need)
     * and does not judge the URL's addresses: the server, which sends,
     * does (and makes the secret: REST takes none). */
    int remote = is_remote(h), scheme;
    if ((rc = constra__check_str(p.url, CONSTRA_WEBHOOK_URL_MAX, 0, "url", NULL, e)) !=
            CONSTRA_OK ||
        (!remote && (rc = url_check(h, p.url, e)) != CONSTRA_OK) ||
        (rc = check_event_types(types, e)) != CONSTRA_OK ||
        (p.description != NULL && (rc = check_description(p.description, e)) != CONSTRA_OK) ||
        (rc = check_scheme(p.scheme, NULL, &scheme, e)) != CONSTRA_OK) {
        return rc;
    }
    if (remote) {
        if (p.secret != NULL) {
            return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "secret",
                                 "a remote server generates the signing secret: secret must "
                                 "be NULL on a remote handle");
        }
        constra_webhook_endpoint *ep = NULL;
        constra__remote_wh req = {0};
        req.op = CONSTRA__WH_ADD;
        req.params = &p;
        req.endpoint = &ep;
        rc = h->remote_ops->webhooks(h, &req, e);
        if (out) {
            *out = ep;
        } else {
            constra_webhook_endpoint_free(ep);
        }
        return rc;
    }
    char secret[CONSTRA_WEBHOOK_ENDPOINT_SECRET_MAX + 1];
    if (p.secret) {
        if ((rc = check_secret(p.secret, e)) != CONSTRA_OK) {
            return rc;
        }
        constra__strlcpy(secret, p.secret, sizeof(secret));
    } else if ((rc = generate_secret(h, secret, sizeof(secret), e)) != CONSTRA_OK) {
        return rc;
    }
    char id[CONSTRA_ID_SIZE];
    if ((scheme == SCHEME_STANDARD &&
         (rc = check_scheme(p.scheme, secret, &scheme, e)) != CONSTRA_OK) ||
        (rc = constra__new_id(h, "we", id, sizeof(id), e)) != CONSTRA_OK) {
        memset(secret, 0, sizeof(secret));
        return rc;
    }
    char *attributes = attributes_text(&h->platform, p.description, scheme);
    if (attributes == NULL) {
        memset(secret, 0, sizeof(secret));
        return constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    int64_t now = constra__wall_ms(&h->platform);
    constra__res_endpoint row = {sizeof(row), id, p.url, secret, types, 1, now, now,
                                            0, 1, attributes};
    rc = constra__res_endpoint_insert(&h->storage, &row);
    if (rc != CONSTRA_OK) {
        constra__free(&h->platform, attributes);
        memset(secret, 0, sizeof(secret));
        return storage_fail(e, rc, "saving the webhook endpoint");
    }
    if (out) {
        *out = endpoint_copy(&h->platform, &row);
        memset(secret, 0, sizeof(secret));
        if (*out == NULL) {
            constra__free(&h->platform, attributes);
            return constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL,
                                 "out of memory (the endpoint was saved)");
        }
    }
    constra__free(&h->platform, attributes);
    memset(secret, 0, sizeof(secret));
    return CONSTRA_OK;
}

int constra_webhook_endpoint_add(constra_t *h, const constra_webhook_endpoint_params *params,
                                 constra_webhook_endpoint **out, constra_error *err)
{
    if (h == NULL) {
        return constra__fail_null(err, "handle");
    }
    if (out) {
        *out = NULL;
    }
    constra_error e = CONSTRA_ERROR_INIT;
    if (params == NULL) {
        return constra__report(constra__fail_null(&e, "params"), &e, err);
    }
    return constra__report(endpoint_add(h, params, out, &e), &e, err);
}

/* Loads the endpoint `id` (a private copy) or fails. */
static int endpoint_load(constra_t *h, const char *id, constra_webhook_endpoint **out,
                         constra_error *e)
{
    int rc = constra__id_check_opaque(id, "id", e);
    if (rc == CONSTRA_OK && is_remote(h)) {
        constra__remote_wh req = {0};
        req.op = CONSTRA__WH_GET;
        req.id = id;
        req.endpoint = out;
        return h->remote_ops->webhooks(h, &req, e);
    }
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra_webhook_endpoint_list *l;
    if ((rc = load_endpoints(h, &l, e)) != CONSTRA_OK) {
        return rc;
    }
    for (size_t i = 0; i < l->count; i++) {
        if (strcmp(l->items[i]->id, id) == 0) {
            *out = l->items[i];
            l->items[i] = l->items[--l->count];
            constra_webhook_endpoint_list_free(l);
            return CONSTRA_OK;
        }
    }
    constra_webhook_endpoint_list_free(l);
    return constra__fail(e, CONSTRA_E_NOT_FOUND, "resource_missing", "id",
                         "no webhook endpoint with this id");
}

int constra_webhook_endpoint_get(constra_t *h, const char *id, constra_webhook_endpoint **out,
                                 constra_error *err)
{
    if (h == NULL || out == NULL) {
        return constra__fail_null(err, h == NULL ? "handle" : "out");
    }
    *out = NULL;
    constra_error e = CONSTRA_ERROR_INIT;
    return constra__report(endpoint_load(h, id, out, &e), &e, err);
}

int constra_webhook_endpoint_list_get(constra_t *h, constra_webhook_endpoint_list **out,
                                      constra_error *err)
{
    if (h == NULL || out == NULL) {
        return constra__fail_null(err, h == NULL ? "handle" : "out");
    }
    *out = NULL;
    constra_error e = CONSTRA_ERROR_INIT;
    if (is_remote(h)) {
        constra__remote_wh req = {0};
        req.op = CONSTRA__WH_LIST;
        req.endpoints = out;
        return constra__report(h->remote_ops->webhooks(h, &req, &e), &e, err);
    }
    int rc = load_endpoints(h, out, &e);
    return constra__report(rc, &e, err);
}

size_t constra_webhook_endpoint_list_count(const constra_webhook_endpoint_list *l)
{
    return l ? l->count : 0;
}

const constra_webhook_endpoint *constra_webhook_endpoint_list_at(
    const constra_webhook_endpoint_list *l, size_t i)
{
    return l && i < l->count ? l->items[i] : NULL;
}

int constra_webhook_endpoint_set_enabled(constra_t *h, const char *id, int enabled,
                                         constra_error *err)
{
    if (h == NULL) {
        return constra__fail_null(err, "handle");
    }
    constra_error e = CONSTRA_ERROR_INIT;
    if (enabled != 0 && enabled != 1) {
        return constra__report(constra__fail(&e, CONSTRA_E_INVALID_ARGUMENT, NULL, "enabled",
                                                "enabled must be 0 or 1"), &e, err);
    }
    if (is_remote(h)) {
        int rc = constra__id_check_opaque(id, "id", &e);
        if (rc == CONSTRA_OK) {
            rc = remote_call(h, enabled ? CONSTRA__WH_ENABLE : CONSTRA__WH_DISABLE, id, &e);
        }
        return constra__report(rc, &e, err);
    }
    constra_webhook_endpoint *ep = NULL;
    int rc = endpoint_load(h, id, &ep, &e);
    if (rc == CONSTRA_OK) {
        char secrets[SECRET_TEXT_MAX];
        join_secret(ep, secrets, sizeof(secrets));
        constra__res_endpoint row = {sizeof(row), ep->id, ep->url, secrets,
                                                ep->types, enabled, ep->created_at_ms,
                                                constra__wall_ms(&h->platform), ep->cursor,
                                                ep->version + 1, ep->attributes};
        rc = constra__res_endpoint_update(&h->storage, &row, ep->version);
        memset(secrets, 0, sizeof(secrets));
        if (rc != CONSTRA_OK) {
            rc = storage_fail(&e, rc, "updating the webhook endpoint");
        }
    }
    constra_webhook_endpoint_free(ep);
    return constra__report(rc, &e, err);
}

int constra_webhook_endpoint_rotate_secret(constra_t *h, const char *id, int64_t overlap_ms,
                                           constra_webhook_endpoint **out, constra_error *err)
{
    if (h == NULL) {
        return constra__fail_null(err, "handle");
    }
    constra_error e = CONSTRA_ERROR_INIT;
    if (out != NULL) {
        *out = NULL;
    }
    if (overlap_ms < 0 || overlap_ms > CONSTRA_WEBHOOK_ROTATION_OVERLAP_MAX_MS) {
        return constra__report(constra__fail(&e, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                                             "overlap_ms",
                                             "overlap_ms must be 0 (24 hours) to 7 days"),
                               &e, err);
    }
    if (overlap_ms == 0) {
        overlap_ms = CONSTRA_WEBHOOK_ROTATION_OVERLAP_DEFAULT_MS;
    }
    if (is_remote(h)) {
        constra_webhook_endpoint *got = NULL;
        constra__remote_wh req = {0};
        req.op = CONSTRA__WH_ROTATE;
        req.id = id;
        req.overlap_ms = overlap_ms;
        req.endpoint = &got;
        int rc = constra__id_check_opaque(id, "id", &e);
        if (rc == CONSTRA_OK) {
            rc = h->remote_ops->webhooks(h, &req, &e);
        }
        if (out != NULL) {
            *out = got;
        } else {
            constra_webhook_endpoint_free(got);
        }
        return constra__report(rc, &e, err);
    }
    constra_webhook_endpoint *ep = NULL;
    int rc = endpoint_load(h, id, &ep, &e);
    char fresh[CONSTRA_WEBHOOK_ENDPOINT_SECRET_MAX + 1];
    if (rc == CONSTRA_OK) {
        rc = generate_secret(h, fresh, sizeof(fresh), &e);
    }
    if (rc == CONSTRA_OK) {
        int64_t now = constra__wall_ms(&h->platform);
        char secrets[SECRET_TEXT_MAX];
        /* The secret in use becomes the previous one; one before it (a
         * second rotation inside an overlap) stops being accepted now. */
        char until[CONSTRA__INT_TEXT_MAX];
        constra__fmt_i64(until, now + overlap_ms);
        snprintf(secrets, sizeof(secrets), "%s %s %s", fresh, ep->secret, until);
        constra__res_endpoint row = {sizeof(row), ep->id, ep->url, secrets,
                                                ep->types, ep->enabled, ep->created_at_ms,
                                                now, ep->cursor, ep->version + 1,
                                                ep->attributes};
        rc = constra__res_endpoint_update(&h->storage, &row, ep->version);
        if (rc != CONSTRA_OK) {
            rc = storage_fail(&e, rc, "rotating the webhook endpoint's secret");
        } else if (out != NULL) {
            *out = endpoint_copy(&h->platform, &row);
            if (*out == NULL) {
                rc = constra__fail(&e, CONSTRA_E_NOMEM, NULL, NULL,
                                   "out of memory (the new secret was saved)");
            }
        }
        memset(secrets, 0, sizeof(secrets));
    }
    memset(fresh, 0, sizeof(fresh));
    constra_webhook_endpoint_free(ep);
    return constra__report(rc, &e, err);
}

int constra_webhook_endpoint_send_test(constra_t *h, const char *id, char *delivery_id,
                                       size_t delivery_id_size, constra_error *err)
{
    if (h == NULL) {
        return constra__fail_null(err, "handle");
    }
    constra_error e = CONSTRA_ERROR_INIT;
    if (delivery_id != NULL && delivery_id_size > 0) {
        delivery_id[0] = '\0';
    }
    if (is_remote(h)) {
        constra__remote_wh req = {0};
        req.op = CONSTRA__WH_TEST;
        req.id = id;
        req.delivery_id = delivery_id;
        req.delivery_id_size = delivery_id_size;
        int rc = constra__id_check_opaque(id, "id", &e);
        if (rc == CONSTRA_OK) {
            rc = h->remote_ops->webhooks(h, &req, &e);
        }
        return constra__report(rc, &e, err);
    }
    constra_webhook_endpoint *ep = NULL;
    int rc = endpoint_load(h, id, &ep, &e);
    char did[CONSTRA_ID_SIZE], eid[CONSTRA_ID_SIZE];
    if (rc == CONSTRA_OK) {
        rc = constra__new_id(h, "whd", did, sizeof(did), &e);
    }
    if (rc == CONSTRA_OK) {
        rc = constra__new_id(h, "evt", eid, sizeof(eid), &e);
    }
    for (int tries = 0; rc == CONSTRA_OK && tries < 8; tries++) {
        int64_t now = constra__wall_ms(&h->platform);
        constra__sbuf b;
        constra__sbuf_init(&b, &h->platform);
        constra__sbuf_puts(&b, "{\"id\":");
        constra__sbuf_json_str(&b, eid);
        constra__sbuf_puts(&b, ",\"object\":\"event\",\"type\":\"webhook.test\",\"created_at\":");
        constra__sbuf_json_time(&b, now);
        constra__sbuf_puts(&b, ",\"livemode\":");
        constra__sbuf_puts(&b, h->mode == CONSTRA_MODE_LIVE ? "true" : "false");
        constra__sbuf_puts(&b, ",\"data\":{\"webhook_endpoint_id\":");
        constra__sbuf_json_str(&b, ep->id);
        constra__sbuf_puts(&b, "}}");
        size_t len = 0;
        char *body = constra__sbuf_take(&b, &len);
        if (body == NULL) {
            rc = constra__fail(&e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
            break;
        }
        /* Queued for this endpoint only, whatever its event filter, with
         * its cursor where it is (the test event is not in the event
         * log: no other endpoint sees it). */
        constra__res_delivery d = {sizeof(d), did, ep->id, eid, "webhook.test", 0,
                                      "pending", 0, 0, "", now, now, now, 1, body, len,
                                      "[]", 2};
        rc = constra__res_enqueue(&h->storage, ep->id, ep->cursor, ep->cursor,
                                        &d, 1);
        constra__free(&h->platform, body);
        if (rc == CONSTRA_E_CONFLICT) {
            /* The cursor moved under us (a tick queued events): reload. */
            constra_webhook_endpoint_free(ep);
            ep = NULL;
            rc = endpoint_load(h, id, &ep, &e);
            continue;
        }
        if (rc != CONSTRA_OK) {
            rc = storage_fail(&e, rc, "queueing the test event");
        }
        break;
    }
    if (rc == CONSTRA_OK && delivery_id != NULL) {
        if (delivery_id_size <= strlen(did)) {
            rc = constra__fail(&e, CONSTRA_E_INVALID_ARGUMENT, NULL, "delivery_id_size",
                               "the buffer is too small for the delivery id (queued anyway)");
        } else {
            constra__strlcpy(delivery_id, did, delivery_id_size);
        }
    }
    constra_webhook_endpoint_free(ep);
    return constra__report(rc, &e, err);
}

int constra_webhook_endpoint_remove(constra_t *h, const char *id, constra_error *err)
{
    if (h == NULL) {
        return constra__fail_null(err, "handle");
    }
    constra_error e = CONSTRA_ERROR_INIT;
    int rc = constra__id_check_opaque(id, "id", &e);
    if (rc == CONSTRA_OK && is_remote(h)) {
        return constra__report(remote_call(h, CONSTRA__WH_REMOVE, id, &e), &e, err);
    }
    if (rc == CONSTRA_OK) {
        rc = constra__res_endpoint_delete(&h->storage, id);
        if (rc == CONSTRA_E_NOT_FOUND) {
            rc = constra__fail(&e, rc, "resource_missing", "id",
                               "no webhook endpoint with this id");
        } else if (rc != CONSTRA_OK) {
            rc = storage_fail(&e, rc, "removing the webhook endpoint");
        }
    }
    return constra__report(rc, &e, err);
}

#define EP_GETTER(type, name, expr, fallback)                                \
    type constra_webhook_endpoint_##name(const constra_webhook_endpoint *ep) \
    {                                                                        \
        return ep ? (expr) : (fallback);                                     \
    }
EP_GETTER(const char *, id, ep->id, "")
EP_GETTER(const char *, url, ep->url, "")
EP_GETTER(const char *, secret, ep->secret, "")
EP_GETTER(const char *, event_types, ep->types, "")
EP_GETTER(int, enabled, ep->enabled, 0)
EP_GETTER(int64_t, created_at_ms, ep->created_at_ms, 0)
EP_GETTER(const char *, description, ep->description, "")
EP_GETTER(const char *, scheme, scheme_names[ep->scheme], "all")

/* ---- delivery lists ------------------------------------------------------- */

static void delivery_clear(const constra_platform *p, delivery *d)
{
    constra__free(p, d->body);
    constra__free(p, d->log);
    d->body = d->log = NULL;
}

static int collect_delivery(void *ctx, const constra__res_delivery *r)
{
    constra_webhook_delivery_list *l = ctx;
    if (l->count == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        void *n = constra__realloc(&l->platform, l->items, ncap * sizeof(*l->items));
        if (n == NULL) {
            l->failed = 1;
            return 1;
        }
        l->items = n;
        l->cap = ncap;
    }
    delivery *d = &l->items[l->count];
    memset(d, 0, sizeof(*d));
    constra__strlcpy(d->id, r->id, sizeof(d->id));
    constra__strlcpy(d->endpoint_id, r->endpoint_id, sizeof(d->endpoint_id));
    constra__strlcpy(d->event_id, r->event_id, sizeof(d->event_id));
    constra__strlcpy(d->event_type, r->event_type, sizeof(d->event_type));
    constra__strlcpy(d->state, r->state, sizeof(d->state));
    constra__strlcpy(d->last_error, r->last_error, sizeof(d->last_error));
    d->event_sequence = r->event_sequence;
    d->attempts = r->attempts;
    d->last_status = r->last_status;
    d->next_attempt_at_ms = r->next_attempt_at_ms;
    d->created_at_ms = r->created_at_ms;
    d->updated_at_ms = r->updated_at_ms;
    d->version = r->version;
    d->body = constra__strndup(&l->platform, r->body ? r->body : "", r->body_len);
    d->log = constra__strndup(&l->platform, r->log ? r->log : "", r->log_len);
    d->body_len = r->body_len;
    d->log_len = r->log_len;
    if (d->body == NULL || d->log == NULL) {
        delivery_clear(&l->platform, d);
        l->failed = 1;
        return 1;
    }
    l->count++;
    return 0;
}

void constra_webhook_delivery_list_free(constra_webhook_delivery_list *l)
{
    if (l == NULL) {
        return;
    }
    constra_platform plat = l->platform;
    for (size_t i = 0; i < l->count; i++) {
        delivery_clear(&plat, &l->items[i]);
    }
    constra__free(&plat, l->items);
    constra__free(&plat, l);
}

int constra__wh_delivery_list_new(const constra_platform *p, constra_webhook_delivery_list **out)
{
    *out = constra__calloc(p, 1, sizeof(**out));
    if (*out == NULL) {
        return CONSTRA_E_NOMEM;
    }
    (*out)->platform = *p;
    return CONSTRA_OK;
}

static int load_deliveries(constra_t *h, const constra__res_delivery_query *q,
                           constra_webhook_delivery_list **out, constra_error *e)
{
    *out = NULL;
    constra_webhook_delivery_list *l = NULL;
    if (constra__wh_delivery_list_new(&h->platform, &l) != CONSTRA_OK) {
        return constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    int rc = constra__res_delivery_list(&h->storage, q, collect_delivery, l);
    if (rc == CONSTRA_OK && l->failed) {
        rc = CONSTRA_E_NOMEM;
    }
    if (rc != CONSTRA_OK) {
        constra_webhook_delivery_list_free(l);
        return storage_fail(e, rc, "listing webhook deliveries");
    }
    *out = l;
    return CONSTRA_OK;
}

int constra_webhook_delivery_list_get(constra_t *h, const char *endpoint_id, const char *state,
                                      const char *starting_after, size_t limit,
                                      constra_webhook_delivery_list **out, constra_error *err)
{
    if (h == NULL || out == NULL) {
        return constra__fail_null(err, h == NULL ? "handle" : "out");
    }
    *out = NULL;
    constra_error e = CONSTRA_ERROR_INIT;
    int rc = CONSTRA_OK;
    if (endpoint_id && endpoint_id[0]) {
        rc = constra__id_check_opaque(endpoint_id, "endpoint_id", &e);
    }
    if (rc == CONSTRA_OK && starting_after) {
        rc = constra__check_str(starting_after, CONSTRA__RES_KEY_MAX, 1, "starting_after",
                                NULL, &e);
    }
    if (rc == CONSTRA_OK && state && state[0] && strcmp(state, "pending") != 0 &&
        strcmp(state, "delivered") != 0 && strcmp(state, "failed") != 0) {
        rc = constra__fail(&e, CONSTRA_E_INVALID_ARGUMENT, NULL, "state",
                           "state must be pending, delivered, failed or empty");
    }
    if (rc == CONSTRA_OK && limit > 1000) {
        rc = constra__fail(&e, CONSTRA_E_INVALID_ARGUMENT, NULL, "limit",
                           "limit must be 0 (100) to 1000");
    }
    if (rc == CONSTRA_OK && is_remote(h)) {
        constra__remote_wh req = {0};
        req.op = CONSTRA__WH_DELIVERIES;
        req.endpoint_id = endpoint_id;
        req.state = state;
        req.after = starting_after;
        req.limit = limit ? limit : 100;
        req.deliveries = out;
        rc = h->remote_ops->webhooks(h, &req, &e);
    } else if (rc == CONSTRA_OK) {
        constra__res_delivery_query q = {sizeof(q), NULL, endpoint_id, state, 0,
                                            starting_after, limit ? limit : 100, 0};
        rc = load_deliveries(h, &q, out, &e);
    }
    return constra__report(rc, &e, err);
}

size_t constra_webhook_delivery_list_count(const constra_webhook_delivery_list *l)
{
    return l ? l->count : 0;
}

#define DL_GETTER(type, name, expr, fallback)                                               \
    type constra_webhook_delivery_##name(const constra_webhook_delivery_list *l, size_t i) \
    {                                                                                       \
        return l && i < l->count ? (expr) : (fallback);                                     \
    }
DL_GETTER(const char *, id, l->items[i].id, "")
DL_GETTER(const char *, endpoint_id, l->items[i].endpoint_id, "")
DL_GETTER(const char *, event_id, l->items[i].event_id, "")
DL_GETTER(const char *, event_type, l->items[i].event_type, "")
DL_GETTER(const char *, state, l->items[i].state, "")
DL_GETTER(int, attempts, l->items[i].attempts, 0)
DL_GETTER(int, last_status, l->items[i].last_status, 0)
DL_GETTER(const char *, last_error, l->items[i].last_error, "")
DL_GETTER(int64_t, next_attempt_at_ms, l->items[i].next_attempt_at_ms, 0)
DL_GETTER(const char *, attempts_json, l->items[i].log, "")

const char *constra_webhook_delivery_body(const constra_webhook_delivery_list *l, size_t i,
                                          size_t *len)
{
    if (len) {
        *len = l && i < l->count ? l->items[i].body_len : 0;
    }
    return l && i < l->count ? l->items[i].body : "";
}

/* Writes `d` back (version + 1). */
static int delivery_save(constra_t *h, delivery *d)
{
    constra__res_delivery row = {sizeof(row), d->id, d->endpoint_id, d->event_id,
                                    d->event_type, d->event_sequence, d->state, d->attempts,
                                    d->last_status, d->last_error, d->next_attempt_at_ms,
                                    d->created_at_ms, d->updated_at_ms, d->version + 1,
                                    d->body, d->body_len, d->log, d->log_len};
    int rc = constra__res_delivery_update(&h->storage, &row, d->version);
    if (rc == CONSTRA_OK) {
        d->version++;
    }
    return rc;
}

int constra_webhook_delivery_replay(constra_t *h, const char *id, constra_error *err)
{
    if (h == NULL) {
        return constra__fail_null(err, "handle");
    }
    constra_error e = CONSTRA_ERROR_INIT;
    int rc = constra__id_check_opaque(id, "delivery_id", &e);
    if (rc == CONSTRA_OK && is_remote(h)) {
        return constra__report(remote_call(h, CONSTRA__WH_REPLAY, id, &e), &e, err);
    }
    constra_webhook_delivery_list *l = NULL;
    if (rc == CONSTRA_OK) {
        constra__res_delivery_query q = {sizeof(q), id, NULL, NULL, 0, NULL, 1, 0};
        rc = load_deliveries(h, &q, &l, &e);
    }
    if (rc == CONSTRA_OK && l->count == 0) {
        rc = constra__fail(&e, CONSTRA_E_NOT_FOUND, "resource_missing", "delivery_id",
                           "no webhook delivery with this id");
    }
    if (rc == CONSTRA_OK && strcmp(l->items[0].state, "pending") == 0) {
        rc = constra__fail(&e, CONSTRA_E_INVALID_STATE, "delivery_pending", "delivery_id",
                           "the delivery is already queued");
    }
    if (rc == CONSTRA_OK) {
        delivery *d = &l->items[0];
        int64_t now = constra__wall_ms(&h->platform);
        constra__strlcpy(d->state, "pending", sizeof(d->state));
        d->attempts = 0;
        d->next_attempt_at_ms = now;
        d->updated_at_ms = now;
        rc = delivery_save(h, d);
        if (rc != CONSTRA_OK) {
            rc = storage_fail(&e, rc, "replaying the webhook delivery");
        }
    }
    constra_webhook_delivery_list_free(l);
    return constra__report(rc, &e, err);
}

/* ---- snapshots from a server's answer (the remote backend) ---------------- */

int constra__wh_endpoint_make(const constra_platform *p, const constra__wh_endpoint_fields *f,
                              constra_webhook_endpoint **out)
{
    int scheme = f->scheme ? scheme_index(f->scheme) : -1; /* a newer server's: all */
    char *attributes = attributes_text(p, f->description, scheme < 0 ? SCHEME_ALL : scheme);
    if (attributes == NULL) {
        return CONSTRA_E_NOMEM;
    }
    constra__res_endpoint row = {sizeof(row), f->id, f->url, f->secret,
                                            f->event_types, f->enabled, f->created_at_ms,
                                            f->created_at_ms, 0, 1, attributes};
    *out = endpoint_copy(p, &row);
    constra__free(p, attributes);
    return *out ? CONSTRA_OK : CONSTRA_E_NOMEM;
}

int constra__wh_delivery_list_add(constra_webhook_delivery_list *l,
                                  const constra__res_delivery *row)
{
    return collect_delivery(l, row) == 0 ? CONSTRA_OK : CONSTRA_E_NOMEM;
}

/* ---- deriving deliveries from the event log ------------------------------- */

typedef struct event_page {
    constra_t *h;
    const constra_webhook_endpoint *ep;
    constra__res_delivery *rows;
    char (*ids)[CONSTRA_ID_SIZE];
    char **strings; /* copies the rows point at, freed after the write */
    size_t nstrings;
    size_t count, seen;
    int64_t last_sequence, now;
    int rc;
    constra_error *e;
} event_page;

static char *page_keep(event_page *pg, const char *s, size_t len)
{
    char *c = constra__strndup(&pg->h->platform, s ? s : "", s ? len : 0);
    if (c) {
        pg->strings[pg->nstrings++] = c;
    }
    return c;
}

static int on_event(void *ctx, const constra__res_event *ev)
{
    event_page *pg = ctx;
    pg->seen++;
    pg->last_sequence = ev->sequence;
    /* Unmatched callbacks (intent_id "") are reconciliation records, not
     * workspace events. */
    if (!pg->ep->enabled || ev->intent_id == NULL || ev->intent_id[0] == '\0' ||
        !type_matches(pg->ep->types, ev->type)) {
        return 0;
    }
    int rc = constra__new_id(pg->h, "whd", pg->ids[pg->count], CONSTRA_ID_SIZE, pg->e);
    const char *event_id = page_keep(pg, ev->id, strlen(ev->id));
    const char *type = page_keep(pg, ev->type, strlen(ev->type));
    const char *body = page_keep(pg, ev->document, ev->document_len);
    if (rc != CONSTRA_OK || !event_id || !type || !body) {
        pg->rc = rc != CONSTRA_OK ? rc
                                  : constra__fail(pg->e, CONSTRA_E_NOMEM, NULL, NULL,
                                                  "out of memory");
        return 1;
    }
    constra__res_delivery *d = &pg->rows[pg->count++];
    *d = (constra__res_delivery){sizeof(*d), pg->ids[pg->count - 1], pg->ep->id, event_id,
                                    type, ev->sequence, "pending", 0, 0, "", pg->now, pg->now,
                                    pg->now, 1, body, ev->document_len, "[]", 2};
    return 0;
}

/* Queues the events past one endpoint's cursor, a page per storage write. */
static int enqueue_endpoint(constra_t *h, constra_webhook_endpoint *ep, int64_t now,
                            constra_error *e)
{
    constra__res_delivery rows[EVENT_PAGE];
    char ids[EVENT_PAGE][CONSTRA_ID_SIZE];
    char *strings[EVENT_PAGE * 3];
    for (int pages = 0; pages < 1000; pages++) {
        event_page pg = {h, ep, rows, ids, strings, 0, 0, 0, ep->cursor, now, CONSTRA_OK, e};
        int rc = h->storage.list_events(h->storage.user_data, NULL, ep->cursor, EVENT_PAGE,
                                        on_event, &pg);
        if (rc != CONSTRA_OK) {
            rc = storage_fail(e, rc, "reading the event log");
        } else if (pg.rc != CONSTRA_OK) {
            rc = pg.rc;
        } else if (pg.seen > 0) {
            rc = constra__res_enqueue(&h->storage, ep->id, ep->cursor,
                                            pg.last_sequence, rows, pg.count);
            if (rc == CONSTRA_OK) {
                ep->cursor = pg.last_sequence;
            } else if (rc == CONSTRA_E_CONFLICT || rc == CONSTRA_E_NOT_FOUND) {
                /* Another worker queued these (or the endpoint went):
                 * nothing is lost, the next tick starts from its cursor. */
                pg.seen = 0;
                rc = CONSTRA_OK;
            } else {
                rc = storage_fail(e, rc, "queueing webhook deliveries");
            }
        }
        for (size_t i = 0; i < pg.nstrings; i++) {
            constra__free(&h->platform, strings[i]);
        }
        if (rc != CONSTRA_OK || pg.seen < EVENT_PAGE) {
            return rc;
        }
    }
    return CONSTRA_OK;
}

/* ---- sending -------------------------------------------------------------- */

/* Appends one attempt to the JSON log, dropping the oldest beyond LOG_MAX. */
static void log_attempt(constra_t *h, delivery *d, int64_t now, int status, const char *error)
{
    constra__sbuf b;
    constra__sbuf_init(&b, &h->platform);
    const char *old = d->log && d->log_len >= 2 ? d->log : "[]";
    size_t old_len = d->log && d->log_len >= 2 ? d->log_len : 2;
    const char *items = old + 1;
    size_t items_len = old_len - 2;
    while (items_len > LOG_MAX) {
        const char *next = strstr(items, "},{");
        if (next == NULL || next >= items + items_len) {
            items_len = 0;
            break;
        }
        items_len -= (size_t)(next + 2 - items);
        items = next + 2;
    }
    constra__sbuf_puts(&b, "[");
    constra__sbuf_append(&b, items, items_len);
    if (items_len > 0) {
        constra__sbuf_puts(&b, ",");
    }
    constra__sbuf_puts(&b, "{");
    constra__sbuf_json_key(&b, "at", 1);
    constra__sbuf_json_time(&b, now);
    constra__sbuf_json_key(&b, "status", 0);
    if (status > 0) {
        constra__sbuf_int(&b, status);
    } else {
        constra__sbuf_puts(&b, "null");
    }
    constra__sbuf_json_key(&b, "error", 0);
    constra__sbuf_json_str(&b, error[0] ? error : NULL);
    constra__sbuf_puts(&b, "}]");
    size_t len = 0;
    char *log = constra__sbuf_take(&b, &len);
    if (log) { /* out of memory: the counters still move, the log does not */
        constra__free(&h->platform, d->log);
        d->log = log;
        d->log_len = len;
    }
}

/* One HTTP exchange for `d`; fills *status (0 without a response) and
 * `error` ("" on a 2xx). */
static void send_one(constra_t *h, const constra_webhook_endpoint *ep, const delivery *d,
                     int64_t now, int *status, char *error, size_t error_size)
{
    *status = 0;
    error[0] = '\0';
    constra_error ce = CONSTRA_ERROR_INIT;
    if (url_check(h, ep->url, &ce) != CONSTRA_OK) {
        constra__strlcpy(error, ce.code, error_size);
        return;
    }
    int64_t t = now / 1000;
    /* Room for two signatures each (a rotation's overlap). */
    char sig[2 * CONSTRA_WEBHOOK_SIGNATURE_SIZE], body_sig[CONSTRA_WEBHOOK_SIGNATURE_SIZE];
    char std_sig[2 * CONSTRA_WEBHOOK_SIGNATURE_SIZE], ts[24], ua[64];
    constra_webhook_params wp = CONSTRA_WEBHOOK_PARAMS_INIT;
    wp.secret = ep->secret;
    wp.body = (const uint8_t *)d->body;
    wp.body_len = d->body_len;
    wp.timestamp = t;
    wp.msg_id = d->id;
    wp.scheme = CONSTRA_WEBHOOK_T_V1;
    int rc = constra_webhook_sign(&wp, sig, sizeof(sig), NULL);
    wp.scheme = CONSTRA_WEBHOOK_BODY_HEX;
    if (rc == CONSTRA_OK) {
        rc = constra_webhook_sign(&wp, body_sig, sizeof(body_sig), NULL);
    }
    if (rc != CONSTRA_OK) {
        constra__strlcpy(error, "signing_failed", error_size);
        return;
    }
    /* Standard Webhooks only for secrets of its shape (whsec_<base64>). */
    wp.scheme = CONSTRA_WEBHOOK_STANDARD;
    int standard = strncmp(ep->secret, "whsec_", 6) == 0 &&
                   constra_webhook_sign(&wp, std_sig, sizeof(std_sig), NULL) == CONSTRA_OK;
    /* During a rotation's overlap the previous secret signs too: one more
     * v1 entry in each list (t=..,v1=new,v1=old; "v1,new v1,old"), so a
     * receiver still on the old secret verifies. Constra-Signature-Body
     * holds one value: the current secret's. */
    if (ep->previous != NULL && now < ep->previous_until_ms) {
        char old_sig[CONSTRA_WEBHOOK_SIGNATURE_SIZE];
        wp.secret = ep->previous;
        wp.scheme = CONSTRA_WEBHOOK_T_V1;
        const char *v1 = NULL;
        if (constra_webhook_sign(&wp, old_sig, sizeof(old_sig), NULL) == CONSTRA_OK &&
            (v1 = strstr(old_sig, ",v1=")) != NULL) {
            size_t n = strlen(sig);
            snprintf(sig + n, sizeof(sig) - n, "%s", v1);
        }
        wp.scheme = CONSTRA_WEBHOOK_STANDARD;
        if (standard && strncmp(ep->previous, "whsec_", 6) == 0 &&
            constra_webhook_sign(&wp, old_sig, sizeof(old_sig), NULL) == CONSTRA_OK) {
            size_t n = strlen(std_sig);
            snprintf(std_sig + n, sizeof(std_sig) - n, " %s", old_sig);
        }
        memset(old_sig, 0, sizeof(old_sig));
        wp.secret = ep->secret;
    }
    constra__fmt_i64(ts, t);
    snprintf(ua, sizeof(ua), "libconstra/%s", constra_version());
    /* The endpoint's scheme picks the signature headers: the Constra pair
     * (first two below) unless standard_webhooks, the Standard Webhooks
     * three (last three) unless constra or the secret is not a whsec_ one. */
    constra_http_header headers[] = {
        {"Constra-Signature", sig},
        {"Constra-Signature-Body", body_sig},
        {"Content-Type", "application/json"},
        {"User-Agent", ua},
        {"Constra-Delivery-Id", d->id},
        {"Constra-Event-Id", d->event_id},
        {"Constra-Event-Type", d->event_type},
        {"webhook-id", d->id},
        {"webhook-timestamp", ts},
        {"webhook-signature", std_sig},
    };
    int skip = ep->scheme == SCHEME_STANDARD ? 2 : 0;
    standard &= ep->scheme != SCHEME_CONSTRA;
    constra_transport_request req = CONSTRA_TRANSPORT_REQUEST_INIT;
    req.method = "POST";
    req.url = ep->url;
    req.headers = headers + skip;
    req.header_count = CONSTRA__ARRAY_LEN(headers) - (size_t)skip - (standard ? 0 : 3);
    req.body = d->body;
    req.body_len = d->body_len;
    req.connect_timeout_ms = CONNECT_TIMEOUT_MS;
    req.timeout_ms = SEND_TIMEOUT_MS;
    req.max_response_bytes = RESPONSE_MAX;
    constra_transport_response *resp = NULL;
    rc = constra_transport_send(&h->transport, &h->platform, &req, &resp, &ce);
    if (rc != CONSTRA_OK) {
        constra__strlcpy(error, ce.code[0] ? ce.code : "transport_failed", error_size);
        return;
    }
    *status = constra_transport_response_status(resp);
    constra_transport_response_free(resp);
    if (*status < 200 || *status > 299) {
        snprintf(error, error_size, "http_%d", *status);
    }
}

static int on_due(void *ctx, const constra__res_delivery *r)
{
    return collect_delivery(ctx, r);
}

/* Whether the endpoint has failed every delivery for the handle's
 * webhook_disable_after_ms: it is that old and none of its deliveries was
 * delivered within that time. Called only when a delivery fails for good
 * (rare), so a scan of its delivered ones is affordable. A storage error
 * answers "no": never disable on a doubt. */
static int endpoint_failing_long(constra_t *h, const constra_webhook_endpoint *ep, int64_t now)
{
    int64_t window = h->webhook_disable_after_ms;
    if (window < 0 || now - ep->created_at_ms < window) {
        return 0;
    }
    char after[CONSTRA__RES_KEY_MAX + 1] = "";
    for (int pages = 0; pages < 1000; pages++) {
        constra__res_delivery_query q = {sizeof(q), NULL, ep->id, "delivered", 0,
                                            after[0] ? after : NULL, DUE_PAGE, 0};
        constra_webhook_delivery_list *l = NULL;
        constra_error e = CONSTRA_ERROR_INIT;
        if (load_deliveries(h, &q, &l, &e) != CONSTRA_OK) {
            return 0;
        }
        int recent = 0;
        for (size_t i = 0; i < l->count; i++) {
            recent |= l->items[i].updated_at_ms > now - window;
        }
        size_t count = l->count;
        if (count > 0) {
            constra__strlcpy(after, l->items[count - 1].id, sizeof(after));
        }
        constra_webhook_delivery_list_free(l);
        if (recent) {
            return 0;
        }
        if (count < DUE_PAGE) {
            return 1;
        }
    }
    return 0;
}

/* Sends the deliveries due at `now`, a page at a time. */
static int send_due(constra_t *h, constra_webhook_endpoint_list *eps, int64_t now,
                    constra_error *e)
{
    /* Earliest due first, by the due index; a cursor past the ones this
     * tick passes over (an endpoint disabled); at most SENDS_MAX sends a
     * tick, so a tick (and a shutdown waiting for it) lasts one batch. */
    char after[CONSTRA__RES_KEY_MAX + 1] = "";
    int64_t after_due = 0;
    int sends = 0;
    for (int pages = 0; pages < 1000 && sends < SENDS_MAX; pages++) {
        constra_webhook_delivery_list *l = constra__calloc(&h->platform, 1, sizeof(*l));
        if (l == NULL) {
            return constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
        }
        l->platform = h->platform;
        constra__res_delivery_query q = {sizeof(q), NULL, NULL, "pending", now > 0 ? now : 1,
                                            after, DUE_PAGE, after_due};
        int rc = constra__res_delivery_list(&h->storage, &q, on_due, l);
        if (rc == CONSTRA_OK && l->failed) {
            rc = CONSTRA_E_NOMEM;
        }
        if (rc != CONSTRA_OK) {
            constra_webhook_delivery_list_free(l);
            return storage_fail(e, rc, "listing due webhook deliveries");
        }
        size_t count = l->count;
        for (size_t i = 0; i < count && sends < SENDS_MAX; i++) {
            delivery *d = &l->items[i];
            constra__strlcpy(after, d->id, sizeof(after));
            after_due = d->next_attempt_at_ms;
            constra_webhook_endpoint *ep = find_endpoint(eps, d->endpoint_id);
            if (ep == NULL || !ep->enabled) {
                continue; /* waits until enabled; removed endpoints take theirs along */
            }
            /* Claim: only the writer that moves the version sends. */
            d->next_attempt_at_ms = now + CLAIM_LEASE_MS;
            d->updated_at_ms = now;
            rc = delivery_save(h, d);
            if (rc == CONSTRA_E_CONFLICT || rc == CONSTRA_E_NOT_FOUND) {
                continue;
            }
            if (rc != CONSTRA_OK) {
                constra_webhook_delivery_list_free(l);
                return storage_fail(e, rc, "claiming a webhook delivery");
            }
            int status;
            char error[CONSTRA__RES_KEY_MAX + 1];
            sends++;
            send_one(h, ep, d, now, &status, error, sizeof(error));
            d->attempts++;
            d->last_status = status;
            constra__strlcpy(d->last_error, error, sizeof(d->last_error));
            /* 410 Gone: the receiver says the endpoint no longer exists.
             * No retry; the endpoint is disabled (its deliveries keep
             * their record and can be replayed once it is enabled). */
            int gone = status == 410;
            int final = 0;
            if (error[0] == '\0') {
                constra__strlcpy(d->state, "delivered", sizeof(d->state));
                d->next_attempt_at_ms = 0;
            } else if (gone || d->attempts >= MAX_ATTEMPTS) {
                constra__strlcpy(d->state, "failed", sizeof(d->state));
                d->next_attempt_at_ms = 0;
                final = 1;
            } else {
                d->next_attempt_at_ms = now + retry_delay_ms[d->attempts - 1];
            }
            log_attempt(h, d, now, status, error);
            d->updated_at_ms = now;
            /* If this write fails the claim expires and the delivery is
             * sent again under the same id: at least once. */
            rc = delivery_save(h, d);
            if (rc != CONSTRA_OK && rc != CONSTRA_E_CONFLICT) {
                constra_webhook_delivery_list_free(l);
                return storage_fail(e, rc, "recording a webhook attempt");
            }
            if (gone || (final && endpoint_failing_long(h, ep, now))) {
                /* Skip its other deliveries in this tick too. A failure to
                 * disable is not an error of the tick: the next failure
                 * tries again. */
                ep->enabled = 0;
                constra_webhook_endpoint_set_enabled(h, ep->id, 0, NULL);
            }
        }
        constra_webhook_delivery_list_free(l);
        if (count < DUE_PAGE) {
            return CONSTRA_OK;
        }
    }
    return CONSTRA_OK;
}

int constra__webhooks_tick(constra_t *h, int64_t now, constra_error *e)
{
    constra__lock(&h->platform, h->mutex);
    int reindexed = h->deliveries_reindexed;
    constra__unlock(&h->platform, h->mutex);
    if (!reindexed) {
        /* Deliveries stored before the due index are found by it too. */
        int rc = constra__res_reindex_deliveries(&h->storage);
        if (rc != CONSTRA_OK) {
            return storage_fail(e, rc, "indexing webhook deliveries by due time");
        }
        constra__lock(&h->platform, h->mutex);
        h->deliveries_reindexed = 1;
        constra__unlock(&h->platform, h->mutex);
    }
    constra_webhook_endpoint_list *eps;
    int rc = load_endpoints(h, &eps, e);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    for (size_t i = 0; rc == CONSTRA_OK && i < eps->count; i++) {
        rc = enqueue_endpoint(h, eps->items[i], now, e);
    }
    if (rc == CONSTRA_OK && h->transport.send != NULL && eps->count > 0) {
        rc = send_due(h, eps, now, e);
    }
    constra_webhook_endpoint_list_free(eps);
    return rc;
}

int constra_webhooks_tick(constra_t *h, int64_t now_ms, constra_error *err)
{
    if (h == NULL) {
        return constra__fail_null(err, "handle");
    }
    constra_error e = CONSTRA_ERROR_INIT;
    if (now_ms < 0) {
        return constra__report(constra__fail(&e, CONSTRA_E_INVALID_ARGUMENT, NULL, "now_ms",
                                                "now_ms must not be negative"), &e, err);
    }
    return constra__report(constra__webhooks_tick(h, now_ms, &e), &e, err);
}
