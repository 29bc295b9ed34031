#include "engine/model.h"

#include <stddef.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "util/check.h"
#include "util/sbuf.h"

static const char *const policy_names[] = {"operator_review", "auto_retry", "none"};
static const char *const attempt_state_names[] = {"unknown", "sending", "sent_to_customer",
                                                  "outcome_unknown", "rejected", "not_sent",
                                                  "completed", "timed_out"};

const char *constra__agent_policy_name(int policy)
{
    return (policy >= 0 && policy <= CONSTRA_AGENT_NONE) ? policy_names[policy] : "unknown";
}

static const char *attempt_state_name(int state)
{
    return (state >= CONSTRA__ATTEMPT_SENDING && state <= CONSTRA__ATTEMPT_TIMED_OUT)
               ? attempt_state_names[state]
               : attempt_state_names[0];
}

int constra__attempt_state_from_name(const char *name)
{
    for (int st = CONSTRA__ATTEMPT_SENDING; st <= CONSTRA__ATTEMPT_TIMED_OUT; st++) {
        if (strcmp(attempt_state_names[st], name) == 0) {
            return st;
        }
    }
    return 0;
}

int constra__model_copy(struct constra_intent *dst, const struct constra_intent *src)
{
    const size_t head = offsetof(struct constra_intent, attempts);
    const size_t tail = offsetof(struct constra_intent, result_code);
    int n = src->attempt_count;
    if (n < 0 || n > CONSTRA__ATTEMPTS_MAX) {
        n = CONSTRA__ATTEMPTS_MAX; /* cannot happen; copy all rather than misread */
    }
    constra_platform own = dst->platform;
    char *metadata = NULL;
    if (src->metadata != NULL) {
        metadata = own.malloc_fn ? own.malloc_fn(own.user_data, src->metadata_len + 1) : NULL;
        if (metadata == NULL) {
            constra__model_release(dst);
            constra__model_clear(dst);
            dst->platform = own;
            return CONSTRA_E_NOMEM;
        }
        memcpy(metadata, src->metadata, src->metadata_len + 1);
    }
    constra__model_release(dst);
    memcpy(dst, src, head);
    memcpy(dst->attempts, src->attempts, (size_t)n * sizeof(src->attempts[0]));
    memcpy((char *)dst + tail, (const char *)src + tail, sizeof(*src) - tail);
    dst->platform = own;
    dst->metadata = metadata;
    return CONSTRA_OK;
}

void constra__model_clear(struct constra_intent *in)
{
    const size_t head = offsetof(struct constra_intent, attempts);
    const size_t tail = offsetof(struct constra_intent, result_code);
    memset(in, 0, head);
    memset((char *)in + tail, 0, sizeof(*in) - tail);
}

void constra__model_release(struct constra_intent *in)
{
    if (in->metadata != NULL && in->platform.free_fn != NULL) {
        in->platform.free_fn(in->platform.user_data, in->metadata);
    }
    in->metadata = NULL;
    in->metadata_len = 0;
}

constra__attempt *constra__model_current(struct constra_intent *in)
{
    return in->attempt_count > 0 ? &in->attempts[in->attempt_count - 1] : NULL;
}

constra__attempt *constra__model_attempt_by_checkout(struct constra_intent *in,
                                                      const char *checkout)
{
    for (int i = in->attempt_count - 1; i >= 0; i--) {
        if (in->attempts[i].checkout[0] != '\0' && strcmp(in->attempts[i].checkout, checkout) == 0) {
            return &in->attempts[i];
        }
    }
    return NULL;
}

const char *constra__next_action(const struct constra_intent *in)
{
    switch (in->status) {
    case CONSTRA_INTENT_DRAFT:
        return "confirm";
    case CONSTRA_INTENT_PENDING_USER_ACTION:
        return "wait_for_callback";
    case CONSTRA_INTENT_REQUIRES_RECOVERY:
        return "recover";
    case CONSTRA_INTENT_REVIEW_REQUIRED:
        return "review";
    default:
        return "none";
    }
}

const char *constra__provider_action_state(const struct constra_intent *in)
{
    if (in->attempt_count == 0) {
        return "not_sent";
    }
    return attempt_state_name(in->attempts[in->attempt_count - 1].state);
}

/* "" becomes null: absent values read as null in the API. */
static void str_or_null(constra__sbuf *b, const char *s)
{
    constra__sbuf_json_str(b, (s && s[0]) ? s : NULL);
}

static void write_attempt(constra__sbuf *b, const constra__attempt *a)
{
    constra__sbuf_puts(b, "{");
    constra__sbuf_json_key(b, "id", 1);
    constra__sbuf_json_str(b, a->id);
    constra__sbuf_json_key(b, "state", 0);
    constra__sbuf_json_str(b, attempt_state_name(a->state));
    constra__sbuf_json_key(b, "checkout_request_id", 0);
    str_or_null(b, a->checkout);
    constra__sbuf_json_key(b, "merchant_request_id", 0);
    str_or_null(b, a->merchant);
    constra__sbuf_json_key(b, "result_code", 0);
    str_or_null(b, a->result_code);
    constra__sbuf_json_key(b, "result_desc", 0);
    str_or_null(b, a->result_desc);
    constra__sbuf_json_key(b, "receipt", 0);
    str_or_null(b, a->receipt);
    constra__sbuf_json_key(b, "created_at", 0);
    constra__sbuf_json_time(b, a->started_at_ms);
    constra__sbuf_json_key(b, "completed_at", 0);
    constra__sbuf_json_time(b, a->completed_at_ms);
    constra__sbuf_puts(b, "}");
}

static int has_recovery(const struct constra_intent *in)
{
    return in->status == CONSTRA_INTENT_REQUIRES_RECOVERY ||
           in->status == CONSTRA_INTENT_REVIEW_REQUIRED || in->status == CONSTRA_INTENT_FAILED ||
           in->status == CONSTRA_INTENT_CANCELLED;
}

/* The public members, from '{' up to (not including) the closing '}'. */
static void write_public(constra__sbuf *b, const struct constra_intent *in)
{
    constra__sbuf_puts(b, "{");
    constra__sbuf_json_key(b, "id", 1);
    constra__sbuf_json_str(b, in->id);
    constra__sbuf_json_key(b, "object", 0);
    constra__sbuf_json_str(b, "payment_intent");
    constra__sbuf_json_key(b, "status", 0);
    constra__sbuf_json_str(b, constra_intent_status_name(in->status));
    constra__sbuf_json_key(b, "amount", 0);
    constra__sbuf_int(b, in->amount);
    constra__sbuf_json_key(b, "currency", 0);
    constra__sbuf_json_str(b, in->currency);
    constra__sbuf_json_key(b, "provider", 0);
    constra__sbuf_json_str(b, in->provider);
    constra__sbuf_json_key(b, "rail", 0);
    constra__sbuf_json_str(b, in->rail);
    constra__sbuf_json_key(b, "livemode", 0);
    constra__sbuf_puts(b, in->livemode ? "true" : "false");
    constra__sbuf_json_key(b, "reference", 0);
    str_or_null(b, in->reference);
    constra__sbuf_json_key(b, "description", 0);
    str_or_null(b, in->description);
    constra__sbuf_json_key(b, "metadata", 0);
    constra__metadata_write(b, in);
    constra__sbuf_json_key(b, "customer", 0);
    constra__sbuf_puts(b, "{");
    constra__sbuf_json_key(b, "name", 1);
    str_or_null(b, in->customer_name);
    constra__sbuf_json_key(b, "phone_number", 0);
    constra__sbuf_json_str(b, in->phone);
    constra__sbuf_puts(b, "}");
    constra__sbuf_json_key(b, "agent_policy", 0);
    constra__sbuf_json_str(b, constra__agent_policy_name(in->agent_policy));

    const constra__attempt *cur = in->attempt_count ? &in->attempts[in->attempt_count - 1] : NULL;
    constra__sbuf_json_key(b, "provider_action", 0);
    constra__sbuf_puts(b, "{");
    constra__sbuf_json_key(b, "type", 1);
    constra__sbuf_json_str(b, "stk_push");
    constra__sbuf_json_key(b, "state", 0);
    constra__sbuf_json_str(b, constra__provider_action_state(in));
    constra__sbuf_json_key(b, "checkout_request_id", 0);
    str_or_null(b, cur ? cur->checkout : NULL);
    constra__sbuf_puts(b, "}");

    constra__sbuf_json_key(b, "provider_result", 0);
    if (in->result_code[0]) {
        constra__sbuf_puts(b, "{");
        constra__sbuf_json_key(b, "code", 1);
        constra__sbuf_json_str(b, in->result_code);
        constra__sbuf_json_key(b, "description", 0);
        str_or_null(b, in->result_desc);
        constra__sbuf_puts(b, "}");
    } else {
        constra__sbuf_puts(b, "null");
    }
    constra__sbuf_json_key(b, "receipt", 0);
    str_or_null(b, in->receipt);
    constra__sbuf_json_key(b, "receipts", 0);
    constra__sbuf_puts(b, "[");
    for (int i = 0; i < in->receipt_count; i++) {
        if (i) {
            constra__sbuf_puts(b, ",");
        }
        constra__sbuf_json_str(b, in->receipts[i]);
    }
    constra__sbuf_puts(b, "]");
    constra__sbuf_json_key(b, "next_action", 0);
    constra__sbuf_json_str(b, constra__next_action(in));

    constra__sbuf_json_key(b, "recovery", 0);
    if (has_recovery(in)) {
        int used = in->attempt_count;
        int left = in->max_attempts - used;
        constra__sbuf_puts(b, "{");
        constra__sbuf_json_key(b, "recommended_action", 1);
        constra__sbuf_json_str(b, in->recommended_action[0] ? in->recommended_action : "none");
        constra__sbuf_json_key(b, "retry_allowed", 0);
        constra__sbuf_puts(b, in->retry_allowed ? "true" : "false");
        constra__sbuf_json_key(b, "attempts_used", 0);
        constra__sbuf_int(b, used);
        constra__sbuf_json_key(b, "attempts_left", 0);
        constra__sbuf_int(b, left > 0 ? left : 0);
        constra__sbuf_json_key(b, "reason", 0);
        str_or_null(b, in->reason);
        constra__sbuf_json_key(b, "agent_note", 0);
        str_or_null(b, in->agent_policy == CONSTRA_AGENT_NONE ? NULL : in->agent_note);
        constra__sbuf_puts(b, "}");
    } else {
        constra__sbuf_puts(b, "null");
    }

    constra__sbuf_json_key(b, "attempts", 0);
    constra__sbuf_puts(b, "[");
    for (int i = 0; i < in->attempt_count; i++) {
        if (i) {
            constra__sbuf_puts(b, ",");
        }
        write_attempt(b, &in->attempts[i]);
    }
    constra__sbuf_puts(b, "]");
    constra__sbuf_json_key(b, "created_at", 0);
    constra__sbuf_json_time(b, in->created_at_ms);
    constra__sbuf_json_key(b, "updated_at", 0);
    constra__sbuf_json_time(b, in->updated_at_ms);
}

/* The stored document's extra member: bookkeeping the public form does not
 * show, in exact integers. */
static void write_engine(constra__sbuf *b, const struct constra_intent *in)
{
    constra__sbuf_json_key(b, "_engine", 0);
    constra__sbuf_puts(b, "{");
    constra__sbuf_json_key(b, "v", 1);
    constra__sbuf_int(b, 1);
    constra__sbuf_json_key(b, "max_attempts", 0);
    constra__sbuf_int(b, in->max_attempts);
    constra__sbuf_json_key(b, "created_at_ms", 0);
    constra__sbuf_int(b, in->created_at_ms);
    constra__sbuf_json_key(b, "updated_at_ms", 0);
    constra__sbuf_int(b, in->updated_at_ms);
    constra__sbuf_json_key(b, "due_at_ms", 0);
    constra__sbuf_int(b, in->due_at_ms);
    constra__sbuf_json_key(b, "agent_note", 0);
    constra__sbuf_json_str(b, in->agent_note);
    constra__sbuf_json_key(b, "attempts", 0);
    constra__sbuf_puts(b, "[");
    for (int i = 0; i < in->attempt_count; i++) {
        constra__sbuf_puts(b, i ? ",[" : "[");
        constra__sbuf_int(b, in->attempts[i].state);
        constra__sbuf_puts(b, ",");
        constra__sbuf_int(b, in->attempts[i].started_at_ms);
        constra__sbuf_puts(b, ",");
        constra__sbuf_int(b, in->attempts[i].completed_at_ms);
        constra__sbuf_puts(b, ",");
        constra__sbuf_int(b, in->attempts[i].queried_at_ms);
        constra__sbuf_puts(b, "]");
    }
    constra__sbuf_puts(b, "]}");
}

char *constra__model_json(const struct constra_intent *in, int stored,
                          const constra_platform *platform, size_t *len)
{
    constra__sbuf b;
    constra__sbuf_init(&b, platform);
    write_public(&b, in);
    if (stored) {
        write_engine(&b, in);
    }
    constra__sbuf_puts(&b, "}");
    return constra__sbuf_take(&b, len);
}

int constra__model_render(const struct constra_intent *in, const constra_platform *platform,
                          char **public_json, size_t *public_len, char **stored_doc,
                          size_t *stored_len)
{
    constra__sbuf b;
    constra__sbuf_init(&b, platform);
    write_public(&b, in);
    size_t members = b.len; /* everything but the closing brace */
    constra__sbuf_puts(&b, "}");
    char *pub = constra__sbuf_take(&b, public_len);
    if (pub == NULL) {
        return -1;
    }
    /* The stored document is the public one with one member more. */
    constra__sbuf_init(&b, platform);
    constra__sbuf_append(&b, pub, members);
    write_engine(&b, in);
    constra__sbuf_puts(&b, "}");
    char *doc = constra__sbuf_take(&b, stored_len);
    if (doc == NULL) {
        platform->free_fn(platform->user_data, pub);
        return -1;
    }
    *public_json = pub;
    *stored_doc = doc;
    return 0;
}

/* ---- reading a stored document back ------------------------------------ */

/* Copies a string member (null or absent gives ""); fails when it is not
 * a string or does not fit. */
static int get_str(const cJSON *obj, const char *name, char *out, size_t size)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (v == NULL || cJSON_IsNull(v)) {
        out[0] = '\0';
        return 0;
    }
    if (!cJSON_IsString(v) || v->valuestring == NULL || strlen(v->valuestring) >= size) {
        return -1;
    }
    memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
    return 0;
}

/* Integers are written by us as exact decimal; cJSON reads them as
 * double, exact up to 2^53, which covers milliseconds and amounts. */
static int get_int(const cJSON *obj, const char *name, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsNumber(v) || v->valuedouble < -9007199254740992.0 ||
        v->valuedouble > 9007199254740992.0) {
        return -1;
    }
    *out = (int64_t)v->valuedouble;
    return 0;
}

static int lookup(const char *const *names, int lo, int hi, const char *s)
{
    for (int i = lo; i <= hi; i++) {
        if (strcmp(names[i], s) == 0) {
            return i;
        }
    }
    return -1;
}

static int parse_tree(struct constra_intent *in, const cJSON *root)
{
    char text[48];
    int64_t v;
    const cJSON *eng = cJSON_GetObjectItemCaseSensitive(root, "_engine");
    const cJSON *cust = cJSON_GetObjectItemCaseSensitive(root, "customer");
    const cJSON *prov = cJSON_GetObjectItemCaseSensitive(root, "provider_result");
    const cJSON *rec = cJSON_GetObjectItemCaseSensitive(root, "recovery");
    const cJSON *atts = cJSON_GetObjectItemCaseSensitive(root, "attempts");
    if (!cJSON_IsObject(root) || !cJSON_IsObject(eng) || !cJSON_IsObject(cust) ||
        !cJSON_IsArray(atts)) {
        return -1;
    }
    if (get_str(root, "id", in->id, sizeof(in->id)) || in->id[0] == '\0' ||
        get_str(root, "status", text, sizeof(text)) || get_int(root, "amount", &in->amount) ||
        get_str(root, "currency", in->currency, sizeof(in->currency)) ||
        get_str(root, "provider", in->provider, sizeof(in->provider)) ||
        get_str(root, "rail", in->rail, sizeof(in->rail)) ||
        get_str(root, "reference", in->reference, sizeof(in->reference)) ||
        get_str(root, "description", in->description, sizeof(in->description)) ||
        get_str(root, "receipt", in->receipt, sizeof(in->receipt)) ||
        get_str(cust, "name", in->customer_name, sizeof(in->customer_name)) ||
        get_str(cust, "phone_number", in->phone, sizeof(in->phone))) {
        return -1;
    }
    in->status = -1;
    for (int s = CONSTRA_INTENT_DRAFT; s <= CONSTRA_INTENT_CANCELLED; s++) {
        if (strcmp(text, constra_intent_status_name(s)) == 0) {
            in->status = s;
        }
    }
    if (in->status < 0) {
        return -1;
    }
    in->livemode = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "livemode"));
    if (get_str(root, "agent_policy", text, sizeof(text)) ||
        (in->agent_policy = lookup(policy_names, 0, CONSTRA_AGENT_NONE, text)) < 0) {
        return -1;
    }
    if (cJSON_IsObject(prov) &&
        (get_str(prov, "code", in->result_code, sizeof(in->result_code)) ||
         get_str(prov, "description", in->result_desc, sizeof(in->result_desc)))) {
        return -1;
    }
    if (cJSON_IsObject(rec)) {
        if (get_str(rec, "recommended_action", in->recommended_action,
                    sizeof(in->recommended_action)) ||
            get_str(rec, "reason", in->reason, sizeof(in->reason))) {
            return -1;
        }
        in->retry_allowed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "retry_allowed"));
    }
    if (get_int(eng, "max_attempts", &v) || v < 1 || v > CONSTRA__ATTEMPTS_MAX) {
        return -1;
    }
    in->max_attempts = (int)v;
    if (get_int(eng, "created_at_ms", &in->created_at_ms) ||
        get_int(eng, "updated_at_ms", &in->updated_at_ms) ||
        get_int(eng, "due_at_ms", &in->due_at_ms) ||
        get_str(eng, "agent_note", in->agent_note, sizeof(in->agent_note))) {
        return -1;
    }
    const cJSON *times = cJSON_GetObjectItemCaseSensitive(eng, "attempts");
    int n = cJSON_GetArraySize(atts);
    if (n > CONSTRA__ATTEMPTS_MAX || !cJSON_IsArray(times) || cJSON_GetArraySize(times) != n) {
        return -1;
    }
    in->attempt_count = n;
    for (int i = 0; i < n; i++) {
        constra__attempt *a = &in->attempts[i];
        const cJSON *j = cJSON_GetArrayItem(atts, i);
        const cJSON *t = cJSON_GetArrayItem(times, i);
        /* [state, started, completed] (0.1) or [..., queried] (0.2) */
        int tn = cJSON_GetArraySize(t);
        if (!cJSON_IsObject(j) || !cJSON_IsArray(t) || (tn != 3 && tn != 4) ||
            get_str(j, "id", a->id, sizeof(a->id)) ||
            get_str(j, "checkout_request_id", a->checkout, sizeof(a->checkout)) ||
            get_str(j, "merchant_request_id", a->merchant, sizeof(a->merchant)) ||
            get_str(j, "result_code", a->result_code, sizeof(a->result_code)) ||
            get_str(j, "result_desc", a->result_desc, sizeof(a->result_desc)) ||
            get_str(j, "receipt", a->receipt, sizeof(a->receipt))) {
            return -1;
        }
        const cJSON *st = cJSON_GetArrayItem(t, 0);
        const cJSON *t0 = cJSON_GetArrayItem(t, 1);
        const cJSON *t1 = cJSON_GetArrayItem(t, 2);
        if (!cJSON_IsNumber(st) || !cJSON_IsNumber(t0) || !cJSON_IsNumber(t1) ||
            st->valueint < CONSTRA__ATTEMPT_SENDING || st->valueint > CONSTRA__ATTEMPT_TIMED_OUT) {
            return -1;
        }
        a->state = st->valueint;
        a->started_at_ms = (int64_t)t0->valuedouble;
        a->completed_at_ms = (int64_t)t1->valuedouble;
        const cJSON *t2 = tn == 4 ? cJSON_GetArrayItem(t, 3) : NULL;
        if (t2 != NULL && !cJSON_IsNumber(t2)) {
            return -1;
        }
        a->queried_at_ms = t2 ? (int64_t)t2->valuedouble : 0;
    }
    /* Receipts: written since 0.2; older documents have at most the
     * intent's and the attempts' own, which are rebuilt from them. */
    const cJSON *recs = cJSON_GetObjectItemCaseSensitive(root, "receipts");
    if (recs != NULL && !cJSON_IsNull(recs)) {
        if (!cJSON_IsArray(recs) || cJSON_GetArraySize(recs) > CONSTRA__RECEIPTS_MAX) {
            return -1;
        }
        const cJSON *r;
        cJSON_ArrayForEach(r, recs)
        {
            if (!cJSON_IsString(r) || r->valuestring == NULL ||
                strlen(r->valuestring) >= CONSTRA_RAIL_RECEIPT_SIZE || r->valuestring[0] == '\0') {
                return -1;
            }
            constra__strlcpy(in->receipts[in->receipt_count++], r->valuestring,
                             CONSTRA_RAIL_RECEIPT_SIZE);
        }
    } else {
        if (in->receipt[0]) {
            constra__model_add_receipt(in, in->receipt);
        }
        for (int i = 0; i < n; i++) {
            if (in->attempts[i].receipt[0]) {
                constra__model_add_receipt(in, in->attempts[i].receipt);
            }
        }
    }
    return 0;
}

int constra__model_has_receipt(const struct constra_intent *in, const char *receipt)
{
    for (int i = 0; i < in->receipt_count; i++) {
        if (strcmp(in->receipts[i], receipt) == 0) {
            return 1;
        }
    }
    return 0;
}

int constra__model_add_receipt(struct constra_intent *in, const char *receipt)
{
    if (constra__model_has_receipt(in, receipt)) {
        return 1;
    }
    if (in->receipt_count >= CONSTRA__RECEIPTS_MAX) {
        return -1;
    }
    constra__strlcpy(in->receipts[in->receipt_count++], receipt, CONSTRA_RAIL_RECEIPT_SIZE);
    if (in->receipt[0] == '\0') {
        constra__strlcpy(in->receipt, receipt, sizeof(in->receipt));
    }
    return 0;
}

int constra__model_parse(struct constra_intent *in, const char *doc, size_t len)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(doc, len, &end, 0);
    if (root == NULL) {
        /* cJSON cannot tell out-of-memory from bad input: either way the
         * stored document cannot be read now. */
        return CONSTRA_E_STORAGE;
    }
    constra_platform keep = in->platform;
    if (in->json != NULL) {
        keep.free_fn(keep.user_data, in->json); /* a previous read's snapshot text */
    }
    constra__model_release(in);
    constra__model_clear(in);
    in->platform = keep;
    int rc = parse_tree(in, root) == 0 ? CONSTRA_OK : CONSTRA_E_STORAGE;
    if (rc == CONSTRA_OK) {
        /* Absent in documents written before metadata existed. */
        constra_error e = CONSTRA_ERROR_INIT;
        rc = constra__metadata_from_tree(cJSON_GetObjectItemCaseSensitive(root, "metadata"),
                                         &in->platform, &in->metadata, &in->metadata_len, &e);
        rc = rc == CONSTRA_E_NOMEM ? rc : rc != CONSTRA_OK ? CONSTRA_E_STORAGE : CONSTRA_OK;
    }
    cJSON_Delete(root);
    return rc;
}
