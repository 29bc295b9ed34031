/*
 * The REST routes on payment intents, the Daraja callback and typed
 * instructions (api.h describes each). Each handler validates everything
 * it can before calling the engine, so a refused request never reaches
 * storage; the engine validates again and its errors pass through.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api/routes.h"
#include "constra/instruction.h"
#include "platform/platform.h"
#include "util/check.h"
#include "util/ids.h"
#include "util/encode.h"
#include "util/hmac.h"

#define IDEM_KEY_MAX 255

/* Engine parameter names -> the REST body's. */
static const char *const create_params[] = {
    "phone_number", "customer.phone_number",
    "phone", "customer.phone_number",
    "customer_name", "customer.name",
    NULL, NULL,
};

/* ---- shared pieces ------------------------------------------------------------ */

static int reply_intent(constra__api_ctx *c, int status, const constra_intent *in)
{
    size_t len = 0;
    const char *json = constra_intent_json(in, &len);
    if (constra_intent_replayed(in)) {
        constra__api_header(c, "Idempotent-Replayed", "true");
    }
    return constra__api_reply(c, status, json, len);
}

static int key_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-' || ch == ':' || ch == '.';
}

/*
 * Reads Idempotency-Key into key[IDEM_KEY_MAX + 1]. Returns 1 when a
 * valid key is there, 0 when absent and not required; otherwise makes the
 * 400 reply, sets *replied and returns the reply's status.
 */
static int read_key(constra__api_ctx *c, char *key, int required, int *replied)
{
    *replied = 0;
    char v[CONSTRA__API_HEADER_VALUE_MAX + 1];
    int found = constra__api_find_header(c, "idempotency-key", v, sizeof(v));
    if (found < 0) {
        *replied = 1;
        return constra__api_error(c, 400, "idempotency_key_invalid", "Idempotency-Key",
                                  "the Idempotency-Key header appears more than once");
    }
    if (found == 0) {
        if (!required) {
            return 0;
        }
        *replied = 1;
        return constra__api_error(c, 400, "idempotency_key_missing", "Idempotency-Key",
                                  "this request needs an Idempotency-Key header (1-255 of "
                                  "A-Z a-z 0-9 _ - : .)");
    }
    /* The IETF draft sends it as a quoted structured-field string. */
    char *k = v;
    size_t n = strlen(k);
    if (n >= 2 && k[0] == '"' && k[n - 1] == '"') {
        k++;
        n -= 2;
    }
    int ok = n >= 1 && n <= IDEM_KEY_MAX;
    for (size_t i = 0; ok && i < n; i++) {
        ok = key_char(k[i]);
    }
    if (!ok) {
        *replied = 1;
        return constra__api_error(c, 400, "idempotency_key_invalid", "Idempotency-Key",
                                  "Idempotency-Key must be 1-255 of A-Z a-z 0-9 _ - : .");
    }
    memcpy(key, k, n);
    key[n] = '\0';
    return 1;
}

/* ---- create ----------------------------------------------------------------------- */

typedef struct create_text {
    char currency[8];
    char provider[16];
    char name[CONSTRA__NAME_MAX + 1];
    char phone[64];
    char reference[CONSTRA__REFERENCE_MAX + 1];
    char description[CONSTRA__DESCRIPTION_MAX + 1];
    char policy[24];
    char *metadata; /* canonical text, allocated; freed by the caller */
} create_text;

static int read_create(constra__api_ctx *c, constra__jr *jr, constra_intent_params *p,
                       create_text *t, constra_error *e)
{
    static const char *const customer_fields[] = {"name", "phone_number", NULL};
    const cJSON *root = jr->root;
    int present = 0, rc;
    if ((rc = constra__jr_int(jr, root, "", "amount", CONSTRA__JR_REQUIRED, 0, 1,
                              c->h->amount_max, &p->amount, NULL)) != CONSTRA_OK ||
        (rc = constra__jr_text(jr, root, "", "currency",
                               CONSTRA__JR_REQUIRED | CONSTRA__JR_ID | CONSTRA__JR_NONEMPTY,
                               t->currency, sizeof(t->currency), NULL)) != CONSTRA_OK ||
        (rc = constra__jr_text(jr, root, "", "provider", CONSTRA__JR_ID | CONSTRA__JR_NONEMPTY,
                               t->provider, sizeof(t->provider), &present)) != CONSTRA_OK) {
        return rc;
    }
    p->currency = t->currency;
    p->provider = present ? t->provider : NULL;
    const cJSON *customer = NULL;
    if ((rc = constra__jr_object(jr, root, "", "customer", CONSTRA__JR_REQUIRED, &customer)) !=
            CONSTRA_OK ||
        (rc = constra__api_check_members(customer, "customer", customer_fields, e)) !=
            CONSTRA_OK ||
        (rc = constra__jr_text(jr, customer, "customer", "name", 0, t->name, sizeof(t->name),
                               &present)) != CONSTRA_OK) {
        return rc;
    }
    p->customer_name = present ? t->name : NULL;
    if ((rc = constra__jr_text(jr, customer, "customer", "phone_number",
                               CONSTRA__JR_REQUIRED | CONSTRA__JR_NONEMPTY, t->phone,
                               sizeof(t->phone), NULL)) != CONSTRA_OK) {
        return rc;
    }
    p->phone_number = t->phone;
    if ((rc = constra__jr_text(jr, root, "", "reference", 0, t->reference, sizeof(t->reference),
                               &present)) != CONSTRA_OK) {
        return rc;
    }
    p->reference = present ? t->reference : NULL;
    if ((rc = constra__jr_text(jr, root, "", "description", 0, t->description,
                               sizeof(t->description), &present)) != CONSTRA_OK) {
        return rc;
    }
    p->description = present ? t->description : NULL;
    if ((rc = constra__jr_text(jr, root, "", "agent_policy", CONSTRA__JR_ID | CONSTRA__JR_NONEMPTY,
                               t->policy, sizeof(t->policy), &present)) != CONSTRA_OK) {
        return rc;
    }
    if (present) {
        if (strcmp(t->policy, "operator_review") == 0) {
            p->agent_policy = CONSTRA_AGENT_OPERATOR_REVIEW;
        } else if (strcmp(t->policy, "auto_retry") == 0) {
            p->agent_policy = CONSTRA_AGENT_AUTO_RETRY;
        } else if (strcmp(t->policy, "none") == 0) {
            p->agent_policy = CONSTRA_AGENT_NONE;
        } else {
            return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                                 "agent_policy",
                                 "agent_policy must be operator_review, auto_retry or none");
        }
    }
    const cJSON *draft = NULL;
    char path[CONSTRA__JR_PATH_SIZE];
    if ((rc = constra__jr_member(jr, root, "", "draft", &draft, path, sizeof(path))) !=
        CONSTRA_OK) {
        return rc;
    }
    if (draft != NULL) {
        if (!cJSON_IsBool(draft)) {
            return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "draft",
                                 "draft must be true or false");
        }
        p->draft = cJSON_IsTrue(draft) ? 1 : 0;
    }
    const cJSON *metadata = NULL;
    if ((rc = constra__jr_member(jr, root, "", "metadata", &metadata, path, sizeof(path))) !=
        CONSTRA_OK) {
        return rc;
    }
    size_t len = 0;
    if ((rc = constra__metadata_from_tree(metadata, &c->h->platform, &t->metadata, &len, e)) !=
        CONSTRA_OK) {
        return rc;
    }
    p->metadata = t->metadata;
    return CONSTRA_OK;
}

int constra__api_create(constra__api_ctx *c)
{
    static const char *const fields[] = {"amount", "currency", "provider", "customer",
                                         "reference", "description", "agent_policy", "draft",
                                         "metadata", NULL};
    char key[IDEM_KEY_MAX + 1];
    int replied = 0;
    int rc = read_key(c, key, 1, &replied);
    if (replied) {
        return rc;
    }
    constra__jr jr;
    constra_error e = CONSTRA_ERROR_INIT;
    rc = constra__api_body(c, &jr, &e, fields, 0, &replied);
    if (replied) {
        return rc;
    }
    constra_intent_params p = CONSTRA_INTENT_PARAMS_INIT;
    create_text t;
    memset(&t, 0, sizeof(t));
    rc = read_create(c, &jr, &p, &t, &e);
    constra__jr_free(&jr);
    if (rc != CONSTRA_OK) {
        constra__free(&c->h->platform, t.metadata);
        return constra__api_body_error(c, &e);
    }
    constra_intent *in = NULL;
    constra_error detail = CONSTRA_ERROR_INIT;
    rc = constra_intent_create(c->h, &p, key, &in, &detail);
    constra__free(&c->h->platform, t.metadata);
    if (rc != CONSTRA_OK) {
        return constra__api_engine_error(c, rc, &detail, create_params);
    }
    rc = reply_intent(c, 201, in);
    constra_intent_free(in);
    return rc;
}

/* ---- list ---------------------------------------------------------------------------- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Unix seconds ("1764239894") or RFC 3339 ("2025-11-27T10:38:14.625Z",
 * "...+03:00"; a space may stand for the offset's '+'). 0 ok, -1 bad. */
static int parse_time(const char *s, int64_t *out_ms)
{
    size_t n = strlen(s);
    size_t k = 0;
    while (k < n && s[k] >= '0' && s[k] <= '9') {
        k++;
    }
    if (k == n) {
        if (n == 0 || n > 12) {
            return -1;
        }
        int64_t v = 0;
        for (size_t i = 0; i < n; i++) {
            v = v * 10 + (s[i] - '0');
        }
        *out_ms = v * 1000;
        return 0;
    }
    int y, mo, d, hh, mi, ss;
    if (n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
        s[16] != ':' || digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
        digits(s + 11, 2, &hh) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &ss)) {
        return -1;
    }
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap) ||
        hh > 23 || mi > 59 || ss > 59) {
        return -1;
    }
    size_t i = 19;
    int ms = 0;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (i - start < 3) {
                ms = ms * 10 + (s[i] - '0');
            }
            i++;
        }
        size_t nd = i - start;
        if (nd == 0 || nd > 9) {
            return -1;
        }
        for (size_t z = nd; z < 3; z++) {
            ms *= 10;
        }
    }
    int64_t offset_s = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
        offset_s = 0;
    } else if (i + 6 == n && (s[i] == '+' || s[i] == '-' || s[i] == ' ') && s[i + 3] == ':') {
        int oh, om;
        if (digits(s + i + 1, 2, &oh) || digits(s + i + 4, 2, &om) || oh > 23 || om > 59) {
            return -1;
        }
        offset_s = (int64_t)oh * 3600 + om * 60;
        if (s[i] == '-') {
            offset_s = -offset_s;
        }
    } else {
        return -1;
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss - offset_s;
    if (secs < 0) {
        return -1;
    }
    *out_ms = secs * 1000 + ms;
    return 0;
}

enum { Q_STATUS, Q_REFERENCE, Q_FROM, Q_TO, Q_AFTER, Q_LIMIT, Q_COUNT };

typedef struct list_query {
    constra_intent_list_params p;
    char reference[CONSTRA__REFERENCE_MAX + 1];
    char after[CONSTRA_ID_SIZE];
    int to_zero; /* created[lt]=0: nothing can match */
} list_query;

static const constra__api_qname list_names[] = {
    {"status", Q_STATUS},        {"reference", Q_REFERENCE}, {"created[gte]", Q_FROM},
    {"created_from", Q_FROM},    {"created[lt]", Q_TO},      {"created_to", Q_TO},
    {"starting_after", Q_AFTER}, {"limit", Q_LIMIT},         {NULL, 0},
};

/* Reads one parameter into q; fails into e (param = the name). */
static int list_param(int slot, const char *name, const char *value, list_query *q,
                      constra_error *e)
{
    switch (slot) {
    case Q_STATUS:
        for (int s = CONSTRA_INTENT_DRAFT; s <= CONSTRA_INTENT_CANCELLED; s++) {
            if (strcmp(constra_intent_status_name(s), value) == 0) {
                q->p.status = s;
                return CONSTRA_OK;
            }
        }
        return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", name,
                             "status must be one of draft, pending_user_action, succeeded, "
                             "requires_recovery, review_required, failed, cancelled");
    case Q_REFERENCE:
        if (strlen(value) > CONSTRA__REFERENCE_MAX) {
            return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", name,
                                 "reference is at most %d bytes", CONSTRA__REFERENCE_MAX);
        }
        constra__strlcpy(q->reference, value, sizeof(q->reference));
        q->p.reference = q->reference;
        return CONSTRA_OK;
    case Q_FROM:
    case Q_TO: {
        int64_t ms = 0;
        if (parse_time(value, &ms) != 0) {
            return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", name,
                                 "%s must be Unix seconds or an RFC 3339 time such as "
                                 "2025-11-27T10:38:14Z",
                                 name);
        }
        if (slot == Q_FROM) {
            q->p.created_from_ms = ms;
        } else {
            q->p.created_to_ms = ms;
            q->to_zero = ms == 0;
        }
        return CONSTRA_OK;
    }
    case Q_AFTER:
        if (constra__id_check_opaque(value, name, e) != CONSTRA_OK) {
            return e ? e->status : CONSTRA_E_INVALID_ARGUMENT;
        }
        constra__strlcpy(q->after, value, sizeof(q->after));
        q->p.starting_after = q->after;
        return CONSTRA_OK;
    default: /* Q_LIMIT */
        return constra__api_query_limit(value, name, &q->p.limit, e);
    }
}

static int list_param_fn(void *ctx, int slot, const char *name, const char *value,
                         constra_error *e)
{
    return list_param(slot, name, value, ctx, e);
}

int constra__api_list(constra__api_ctx *c)
{
    list_query q;
    memset(&q, 0, sizeof(q));
    constra_intent_list_params init = CONSTRA_INTENT_LIST_PARAMS_INIT;
    q.p = init;
    constra_error e = CONSTRA_ERROR_INIT;
    if (constra__api_query_parse(c, list_names, list_param_fn, &q, &e) != CONSTRA_OK) {
        return constra__api_error_from(c, &e);
    }
    if (q.to_zero) {
        static const char empty[] = "{\"object\":\"list\",\"data\":[],\"has_more\":false}";
        return constra__api_reply(c, 200, empty, sizeof(empty) - 1);
    }
    constra_intent_list *l = NULL;
    constra_error detail = CONSTRA_ERROR_INIT;
    int rc = constra_intent_list_get(c->h, &q.p, &l, &detail);
    if (rc != CONSTRA_OK) {
        return constra__api_engine_error(c, rc, &detail, NULL);
    }
    size_t len = 0;
    const char *json = constra_intent_list_json(l, &len);
    rc = constra__api_reply(c, 200, json, len);
    constra_intent_list_free(l);
    return rc;
}

/* ---- one intent ------------------------------------------------------------------------ */

static int refresh_param(void *ctx, int slot, const char *name, const char *value,
                         constra_error *e)
{
    (void)slot;
    if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
        return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", name,
                             "refresh must be true or false");
    }
    *(int *)ctx = strcmp(value, "true") == 0;
    return CONSTRA_OK;
}

/* GET /payment-intents/{id}[?refresh=true]: refresh asks the rail now
 * about a pending intent (constra_intent_refresh). */
int constra__api_get(constra__api_ctx *c)
{
    static const constra__api_qname names[] = {{"refresh", 0}, {NULL, 0}};
    int refresh = 0;
    constra_error qe = CONSTRA_ERROR_INIT;
    if (constra__api_query_parse(c, names, refresh_param, &refresh, &qe) != CONSTRA_OK) {
        return constra__api_error_from(c, &qe);
    }
    constra_intent *in = NULL;
    constra_error detail = CONSTRA_ERROR_INIT;
    int rc = refresh ? constra_intent_refresh(c->h, c->id, &in, &detail)
                     : constra_intent_get(c->h, c->id, &in, &detail);
    if (rc != CONSTRA_OK) {
        return constra__api_engine_error(c, rc, &detail, NULL);
    }
    rc = reply_intent(c, 200, in);
    constra_intent_free(in);
    return rc;
}

int constra__api_events(constra__api_ctx *c)
{
    constra_event_list *l = NULL;
    constra_error detail = CONSTRA_ERROR_INIT;
    int rc = constra_event_list_get(c->h, c->id, &l, &detail);
    if (rc != CONSTRA_OK) {
        return constra__api_engine_error(c, rc, &detail, NULL);
    }
    size_t len = 0;
    const char *json = constra_event_list_json(l, &len);
    rc = constra__api_reply(c, 200, json, len);
    constra_event_list_free(l);
    return rc;
}

/* ---- actions ----------------------------------------------------------------------------- */

typedef struct action_text {
    char code[CONSTRA_RAIL_CODE_SIZE];
    char desc[CONSTRA_RAIL_DESC_SIZE];
    char outcome[16];
    char receipt[CONSTRA_RAIL_RECEIPT_SIZE];
    char note[CONSTRA__NOTE_MAX + 1];
    int has_desc, has_receipt, has_note, succeeded;
} action_text;

static int read_simulate(constra__jr *jr, action_text *t)
{
    int rc = constra__jr_code(jr, jr->root, "", "result_code", CONSTRA__JR_REQUIRED, t->code,
                              sizeof(t->code), NULL);
    if (rc == CONSTRA_OK) {
        rc = constra__jr_text(jr, jr->root, "", "result_desc", 0, t->desc, sizeof(t->desc),
                              &t->has_desc);
    }
    return rc;
}

static int read_resolve(constra__jr *jr, action_text *t, constra_error *e)
{
    int rc = constra__jr_text(jr, jr->root, "", "outcome",
                              CONSTRA__JR_REQUIRED | CONSTRA__JR_ID | CONSTRA__JR_NONEMPTY,
                              t->outcome, sizeof(t->outcome), NULL);
    if (rc == CONSTRA_OK && strcmp(t->outcome, "succeeded") != 0 &&
        strcmp(t->outcome, "failed") != 0) {
        return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "outcome",
                             "outcome must be succeeded or failed");
    }
    t->succeeded = rc == CONSTRA_OK && strcmp(t->outcome, "succeeded") == 0;
    if (rc == CONSTRA_OK) {
        rc = constra__jr_text(jr, jr->root, "", "receipt", CONSTRA__JR_ID | CONSTRA__JR_NONEMPTY,
                              t->receipt, sizeof(t->receipt), &t->has_receipt);
    }
    if (rc == CONSTRA_OK) {
        rc = constra__jr_text(jr, jr->root, "", "note", 0, t->note, sizeof(t->note),
                              &t->has_note);
    }
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (t->succeeded && !t->has_receipt) {
        return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "parameter_missing", "receipt",
                             "receipt (the M-Pesa receipt you verified) is required when "
                             "outcome is succeeded");
    }
    if (!t->succeeded && t->has_receipt) {
        return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "receipt",
                             "receipt is only accepted when outcome is succeeded");
    }
    for (size_t i = 0; t->has_receipt && t->receipt[i]; i++) {
        char ch = t->receipt[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))) {
            return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "receipt",
                                 "receipt must be letters and digits (e.g. TKR1234567)");
        }
    }
    return CONSTRA_OK;
}

int constra__api_action(constra__api_ctx *c, const char *action)
{
    static const char *const simulate_fields[] = {"result_code", "result_desc", NULL};
    static const char *const resolve_fields[] = {"outcome", "receipt", "note", NULL};
    static const char *const no_fields[] = {NULL};
    int simulate = strcmp(action, "simulate-callback") == 0;
    int resolve = strcmp(action, "resolve") == 0;
    if (simulate && c->h->mode != CONSTRA_MODE_SANDBOX) {
        return constra__api_error(c, 403, "sandbox_only", NULL,
                                  "simulated callbacks are refused on a live workspace");
    }
    constra__jr jr;
    constra_error e = CONSTRA_ERROR_INIT;
    int replied = 0;
    int rc = constra__api_body(c, &jr, &e,
                               simulate ? simulate_fields : resolve ? resolve_fields : no_fields,
                               !simulate && !resolve, &replied);
    if (replied) {
        return rc;
    }
    action_text t;
    memset(&t, 0, sizeof(t));
    rc = simulate ? read_simulate(&jr, &t) : resolve ? read_resolve(&jr, &t, &e) : CONSTRA_OK;
    constra__jr_free(&jr);
    if (rc != CONSTRA_OK) {
        return constra__api_body_error(c, &e);
    }
    constra_intent *in = NULL;
    constra_error detail = CONSTRA_ERROR_INIT;
    if (simulate) {
        rc = constra_intent_simulate_callback(c->h, c->id, t.code, t.has_desc ? t.desc : NULL,
                                                 &in, &detail);
    } else if (resolve) {
        rc = constra_intent_resolve(c->h, c->id, t.succeeded,
                                       t.has_receipt ? t.receipt : NULL,
                                       t.has_note ? t.note : NULL, &in, &detail);
    } else if (strcmp(action, "retry") == 0) {
        rc = constra_intent_retry(c->h, c->id, &in, &detail);
    } else if (strcmp(action, "cancel") == 0) {
        rc = constra_intent_cancel(c->h, c->id, &in, &detail);
    } else {
        rc = constra_intent_confirm(c->h, c->id, &in, &detail);
    }
    if (rc != CONSTRA_OK) {
        return constra__api_engine_error(c, rc, &detail, NULL);
    }
    rc = reply_intent(c, 200, in);
    constra_intent_free(in);
    return rc;
}

/* ---- the Daraja callback ---------------------------------------------------------------- */

int constra__api_callback(constra__api_ctx *c)
{
    const char *body = c->req->body ? c->req->body : "";
    constra_error detail = CONSTRA_ERROR_INIT;
    int rc = constra_handle_mpesa_callback(c->h, c->query, c->query_len, body,
                                              c->req->body_len, &detail);
    if (rc != CONSTRA_OK) {
        return constra__api_engine_error(c, rc, &detail, NULL);
    }
    static const char ack[] = "{\"ResultCode\":0,\"ResultDesc\":\"Accepted\"}";
    return constra__api_reply(c, 200, ack, sizeof(ack) - 1);
}

/* ---- typed instructions --------------------------------------------------------------------- */

/* "instruction:" + 40 hex digits of a keyed hash of the text. */
static int derive_key(const char *text, size_t len, char *key, size_t key_size)
{
    static const uint8_t k[] = "constra instruction idempotency v1";
    uint8_t mac[CONSTRA__SHA256_SIZE];
    if (constra__hmac_sha256(k, sizeof(k) - 1, text, len, mac) != CONSTRA_OK) {
        return -1;
    }
    char hex[CONSTRA__HEX_SIZE(CONSTRA__SHA256_SIZE)];
    constra__hex_encode(mac, sizeof(mac), hex, sizeof(hex));
    snprintf(key, key_size, "instruction:%.40s", hex);
    return 0;
}

int constra__api_instructions(constra__api_ctx *c)
{
    static const char *const fields[] = {"text", NULL};
    static const char *const instruction_params[] = {
        "phone_number", "text", "amount", "text", "customer_name", "text",
        "reference", "text", "description", "text", NULL, NULL,
    };
    char key[IDEM_KEY_MAX + 1];
    int replied = 0;
    int has_key = read_key(c, key, 0, &replied);
    if (replied) {
        return has_key;
    }
    constra__jr jr;
    constra_error e = CONSTRA_ERROR_INIT;
    int rc = constra__api_body(c, &jr, &e, fields, 0, &replied);
    if (replied) {
        return rc;
    }
    const cJSON *item = NULL;
    char path[CONSTRA__JR_PATH_SIZE];
    rc = constra__jr_member(&jr, jr.root, "", "text", &item, path, sizeof(path));
    if (rc == CONSTRA_OK && item == NULL) {
        rc = constra__fail(&e, CONSTRA_E_INVALID_ARGUMENT, "parameter_missing", "text",
                           "text is required");
    } else if (rc == CONSTRA_OK && (!cJSON_IsString(item) || item->valuestring == NULL)) {
        rc = constra__fail(&e, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "text",
                           "text must be a string");
    }
    constra_instruction ins = CONSTRA_INSTRUCTION_INIT;
    size_t text_len = 0;
    if (rc == CONSTRA_OK) {
        const char *text = item->valuestring;
        text_len = strlen(text);
        rc = constra_instruction_parse(text, text_len + 1, &ins, &e);
        if (rc == CONSTRA_OK && !has_key && derive_key(text, text_len, key, sizeof(key)) != 0) {
            rc = constra__fail(&e, CONSTRA_E_GENERIC, "api_error", NULL,
                               "cannot derive an idempotency key");
        }
        if (rc != CONSTRA_OK && e.param[0]) {
            constra__strlcpy(e.param, "text", sizeof(e.param));
        }
    }
    constra__jr_free(&jr);
    if (rc != CONSTRA_OK) {
        return rc == CONSTRA_E_GENERIC ? constra__api_error_from(c, &e)
                                       : constra__api_body_error(c, &e);
    }
    if (ins.refused) {
        return constra__api_error(c, 422, "instruction_refused", "text", ins.refusal);
    }
    int has_amount = (ins.found & CONSTRA_INSTRUCTION_HAS_AMOUNT) && ins.amount > 0;
    int has_phone = (ins.found & CONSTRA_INSTRUCTION_HAS_PHONE) && ins.phone_number[0];
    if (!has_amount || !has_phone) {
        char msg[CONSTRA_ERROR_MESSAGE_SIZE + 128];
        snprintf(msg, sizeof(msg), "the instruction needs %s%s%s",
                 !has_amount && !has_phone ? "an amount and a phone number"
                 : !has_amount             ? "an amount"
                                           : "a phone number",
                 ins.not_understood[0] ? ": " : "", ins.not_understood);
        return constra__api_error(c, 422, "instruction_incomplete", "text", msg);
    }
    constra_intent_params p = CONSTRA_INTENT_PARAMS_INIT;
    p.amount = ins.amount;
    p.currency = "KES";
    p.provider = "mpesa";
    p.phone_number = ins.phone_number;
    p.customer_name = (ins.found & CONSTRA_INSTRUCTION_HAS_NAME) ? ins.customer_name : NULL;
    p.reference = (ins.found & CONSTRA_INSTRUCTION_HAS_REFERENCE) ? ins.reference : NULL;
    p.description = (ins.found & CONSTRA_INSTRUCTION_HAS_DESCRIPTION) ? ins.description : NULL;
    p.draft = 1;
    constra_intent *in = NULL;
    constra_error detail = CONSTRA_ERROR_INIT;
    rc = constra_intent_create(c->h, &p, key, &in, &detail);
    if (rc != CONSTRA_OK) {
        return constra__api_engine_error(c, rc, &detail, instruction_params);
    }
    constra__sbuf b;
    constra__sbuf_init(&b, &c->h->platform);
    size_t len = 0;
    const char *json = constra_intent_json(in, &len);
    constra__sbuf_puts(&b, "{\"object\":\"instruction\",\"draft\":");
    constra__sbuf_append(&b, json, len);
    constra__sbuf_json_key(&b, "not_understood", 0);
    constra__sbuf_json_str(&b, ins.not_understood[0] ? ins.not_understood : NULL);
    constra__sbuf_puts(&b, "}");
    if (constra_intent_replayed(in)) {
        constra__api_header(c, "Idempotent-Replayed", "true");
    }
    constra_intent_free(in);
    return constra__api_reply_sbuf(c, 201, &b);
}
