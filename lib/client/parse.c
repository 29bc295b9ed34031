/*
 * The server's JSON -> the objects of intent.h. Nothing from the network
 * is trusted: the body is checked as strict JSON first (json_read.h),
 * every member is read with its type and size checked, and each object's
 * JSON text is the server's own bytes (an intent in a list is the byte
 * span of that element), so constra_intent_json() of a remote intent is
 * exactly what the server sent.
 */
#include <stdio.h>
#include <string.h>

#include "client/client.h"
#include "engine/lists.h"
#include "mpesa/json_read.h"
#include "platform/platform.h"
#include "util/check.h"
#include "util/ids.h"
#include "util/civil.h"

#define JSON_DEPTH 16

/* ---- byte spans of a validated document -------------------------------- */

static size_t skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) {
        i++;
    }
    return i;
}

/* Index just past the value starting at i. The document is already known
 * to be strict JSON, so only strings and nesting need care. */
static size_t skip_value(const char *s, size_t i, size_t n)
{
    int depth = 0;
    int in_str = 0;
    for (; i < n; i++) {
        char ch = s[i];
        if (in_str) {
            if (ch == '\\') {
                i++;
            } else if (ch == '"') {
                in_str = 0;
                if (depth == 0) {
                    return i + 1;
                }
            }
            continue;
        }
        if (ch == '"') {
            in_str = 1;
        } else if (ch == '{' || ch == '[') {
            depth++;
        } else if (ch == '}' || ch == ']') {
            if (depth == 0) {
                return i; /* the end of a scalar inside a container */
            }
            if (--depth == 0) {
                return i + 1;
            }
        } else if (depth == 0 && (ch == ',' || ch == ' ' || ch == '\t' || ch == '\r' ||
                                  ch == '\n')) {
            return i;
        }
    }
    return n;
}

typedef struct span {
    size_t start, len;
} span;

/* The spans of the elements of the top-level member "data" (an array).
 * Returns the number found (up to max), or -1 when there is no such
 * array. */
static long data_spans(const char *s, size_t n, span *out, size_t max)
{
    size_t i = skip_ws(s, 0, n);
    if (i >= n || s[i] != '{') {
        return -1;
    }
    i = skip_ws(s, i + 1, n);
    while (i < n && s[i] == '"') {
        size_t key = i;
        i = skip_value(s, i, n);
        int is_data = i - key == 6 && memcmp(s + key, "\"data\"", 6) == 0;
        i = skip_ws(s, i, n);
        if (i >= n || s[i] != ':') {
            return -1;
        }
        i = skip_ws(s, i + 1, n);
        if (is_data) {
            if (i >= n || s[i] != '[') {
                return -1;
            }
            long count = 0;
            i = skip_ws(s, i + 1, n);
            while (i < n && s[i] != ']') {
                size_t start = i;
                i = skip_value(s, i, n);
                if ((size_t)count < max) {
                    out[count].start = start;
                    out[count].len = i - start;
                }
                count++;
                i = skip_ws(s, i, n);
                if (i < n && s[i] == ',') {
                    i = skip_ws(s, i + 1, n);
                }
            }
            return count;
        }
        i = skip_ws(s, skip_value(s, i, n), n);
        if (i < n && s[i] == ',') {
            i = skip_ws(s, i + 1, n);
        }
    }
    return -1;
}

/* ---- typed reads -------------------------------------------------------- */

/* Every failure below reads as one kind of error to the caller: the
 * server's answer is not what the API promises. */
int constra__client_malformed(constra_error *e, const char *what)
{
    char param[CONSTRA_ERROR_PARAM_SIZE];
    char why[CONSTRA_ERROR_MESSAGE_SIZE];
    constra__strlcpy(param, e->param, sizeof(param));
    constra__strlcpy(why, e->message, sizeof(why));
    if (e->status == CONSTRA_E_NOMEM) {
        return CONSTRA_E_NOMEM;
    }
    return constra__fail_http(e, CONSTRA_E_PARSE, 502, "response_malformed", param[0] ? param : NULL,
                         "the server's answer is not %s: %.160s", what,
                         why[0] ? why : "wrong shape");
}

/* Reads `n` decimal digits at s; -1 if any is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* An RFC 3339 date-time -> Unix ms: "2026-05-15T13:41:08Z" (the docs),
 * "2025-11-27T10:38:14.625Z" (what this library writes), any number of
 * fraction digits (truncated to ms), "t"/" " for "T", "z" for "Z", or a
 * "+hh:mm" / "-hh:mm" offset. 0 on success, -1 otherwise. */
static int parse_rfc3339(const char *t, int64_t *out)
{
    size_t len = strlen(t);
    if (len < 20 || t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != 't' && t[10] != ' ') ||
        t[13] != ':' || t[16] != ':') {
        return -1;
    }
    int year = digits(t, 4), month = digits(t + 5, 2), day = digits(t + 8, 2);
    int hour = digits(t + 11, 2), minute = digits(t + 14, 2), second = digits(t + 17, 2);
    if (year < 0 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 ||
        minute < 0 || minute > 59 || second < 0 || second > 60) {
        return -1;
    }
    size_t at = 19;
    int ms = 0;
    if (t[at] == '.') {
        size_t k = ++at;
        while (at < len && t[at] >= '0' && t[at] <= '9') {
            if (at - k < 3) {
                ms = ms * 10 + (t[at] - '0');
            }
            at++;
        }
        if (at == k || at - k > 9) {
            return -1;
        }
        for (size_t pad = at - k; pad < 3; pad++) {
            ms *= 10;
        }
    }
    int64_t offset_s = 0;
    if ((t[at] == 'Z' || t[at] == 'z') && at + 1 == len) {
        offset_s = 0;
    } else if ((t[at] == '+' || t[at] == '-') && at + 6 == len && t[at + 3] == ':') {
        int oh = digits(t + at + 1, 2), om = digits(t + at + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59) {
            return -1;
        }
        offset_s = (int64_t)(oh * 3600 + om * 60) * (t[at] == '-' ? -1 : 1);
    } else {
        return -1;
    }
    int64_t secs = 0;
    /* The EAT helper does the calendar (and checks the day exists); undo
     * its +3 h, then the time's own offset. */
    if (constra__jr_eat_unix(year, month, day, hour, minute, second > 59 ? 59 : second, &secs) !=
        0) {
        return -1;
    }
    *out = (secs + 10800 - offset_s) * 1000 + ms;
    return 0;
}

/* An RFC 3339 time or null/absent (0) -> Unix ms. */
int constra__client_read_time(constra__jr *jr, const cJSON *obj, const char *parent,
                              const char *key, int64_t *out)
{
    char text[48];
    int present = 0;
    int rc = constra__jr_text(jr, obj, parent, key, CONSTRA__JR_FREE, text, sizeof(text),
                              &present);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    *out = 0;
    if (present && parse_rfc3339(text, out) != 0) {
        char path[CONSTRA__JR_PATH_SIZE];
        constra__jr_path(path, sizeof(path), parent, key);
        return constra__jr_fail(jr, "field_invalid", path, "%s is not an RFC 3339 time", path);
    }
    return CONSTRA_OK;
}

static int lookup_name(const char *const *names, int lo, int hi, const char *s)
{
    for (int i = lo; i <= hi; i++) {
        if (names[i] && strcmp(names[i], s) == 0) {
            return i;
        }
    }
    return -1;
}

static const char *const policies[] = {"operator_review", "auto_retry", "none"};

static int bad(constra__jr *jr, const char *path, const char *what)
{
    return constra__jr_fail(jr, "field_invalid", path, "%s %s", path, what);
}

static int read_attempt(constra__jr *jr, const cJSON *item, const char *path, constra__attempt *a)
{
    char state[24];
    int rc;
    if (!cJSON_IsObject(item)) {
        return bad(jr, path, "must be an object");
    }
    if ((rc = constra__jr_text(jr, item, path, "id", CONSTRA__JR_ID, a->id, sizeof(a->id),
                               NULL)) ||
        (rc = constra__jr_text(jr, item, path, "state", CONSTRA__JR_REQUIRED | CONSTRA__JR_ID,
                               state, sizeof(state), NULL)) ||
        (rc = constra__jr_text(jr, item, path, "checkout_request_id", CONSTRA__JR_ID,
                               a->checkout, sizeof(a->checkout), NULL)) ||
        (rc = constra__jr_text(jr, item, path, "merchant_request_id", CONSTRA__JR_ID,
                               a->merchant, sizeof(a->merchant), NULL)) ||
        (rc = constra__jr_text(jr, item, path, "result_code", CONSTRA__JR_ID, a->result_code,
                               sizeof(a->result_code), NULL)) ||
        (rc = constra__jr_text(jr, item, path, "result_desc", CONSTRA__JR_FREE, a->result_desc,
                               sizeof(a->result_desc), NULL)) ||
        (rc = constra__jr_text(jr, item, path, "receipt", CONSTRA__JR_ID, a->receipt,
                               sizeof(a->receipt), NULL)) ||
        (rc = constra__client_read_time(jr, item, path, "created_at", &a->started_at_ms)) ||
        (rc = constra__client_read_time(jr, item, path, "completed_at", &a->completed_at_ms))) {
        return rc;
    }
    /* A state this library does not know (a newer server) is read as the
     * cautious one: the outcome is unknown, money may have moved. */
    a->state = constra__attempt_state_from_name(state);
    if (a->state == 0) {
        a->state = CONSTRA__ATTEMPT_UNKNOWN;
    }
    return CONSTRA_OK;
}

/* Fills `in` from one intent object of the API (doc/DESIGN.md section 11). */
static int read_intent(constra_t *h, constra__jr *jr, const cJSON *obj, struct constra_intent *in)
{
    constra__client *c = h->remote;
    char text[32];
    int rc;
    const cJSON *cust = NULL, *prov = NULL, *rec = NULL, *atts = NULL;
    if (!cJSON_IsObject(obj)) {
        return bad(jr, "intent", "must be an object");
    }
    if ((rc = constra__jr_text(jr, obj, "", "id", CONSTRA__JR_REQUIRED | CONSTRA__JR_ID, in->id,
                               sizeof(in->id), NULL)) ||
        (rc = constra__jr_text(jr, obj, "", "status", CONSTRA__JR_REQUIRED | CONSTRA__JR_ID,
                               text, sizeof(text), NULL))) {
        return rc;
    }
    /* Ids are the server's: opaque, within CONSTRA_ID_SIZE - 1 characters
     * of [A-Za-z0-9_-] (id.h). */
    if (constra__id_check_opaque(in->id, "id", NULL) != CONSTRA_OK) {
        return bad(jr, "id", "is not an id this library can hold (1 to 42 of A-Z a-z 0-9 _ -)");
    }
    /* A status this library does not know (a newer server's) reads as
     * CONSTRA_INTENT_UNKNOWN; the server's word stays in the JSON. */
    in->status = CONSTRA_INTENT_UNKNOWN;
    for (int s = CONSTRA_INTENT_DRAFT; s <= CONSTRA_INTENT_CANCELLED; s++) {
        if (strcmp(text, constra_intent_status_name(s)) == 0) {
            in->status = s;
        }
    }
    if ((rc = constra__jr_int(jr, obj, "", "amount", CONSTRA__JR_REQUIRED, 0, 1, INT64_MAX,
                              &in->amount, NULL)) ||
        (rc = constra__jr_text(jr, obj, "", "currency", CONSTRA__JR_REQUIRED | CONSTRA__JR_ID,
                               in->currency, sizeof(in->currency), NULL)) ||
        (rc = constra__jr_text(jr, obj, "", "provider", CONSTRA__JR_ID, in->provider,
                               sizeof(in->provider), NULL)) ||
        (rc = constra__jr_text(jr, obj, "", "rail", CONSTRA__JR_ID, in->rail, sizeof(in->rail),
                               NULL)) ||
        (rc = constra__jr_text(jr, obj, "", "reference", CONSTRA__JR_FREE, in->reference,
                               sizeof(in->reference), NULL)) ||
        (rc = constra__jr_text(jr, obj, "", "description", CONSTRA__JR_FREE, in->description,
                               sizeof(in->description), NULL)) ||
        (rc = constra__jr_text(jr, obj, "", "receipt", CONSTRA__JR_ID, in->receipt,
                               sizeof(in->receipt), NULL)) ||
        (rc = constra__jr_object(jr, obj, "", "customer", 0, &cust)) ||
        (rc = constra__jr_text(jr, cust, "customer", "name", CONSTRA__JR_FREE, in->customer_name,
                               sizeof(in->customer_name), NULL)) ||
        (rc = constra__jr_text(jr, cust, "customer", "phone_number", CONSTRA__JR_DIGITS,
                               in->phone, sizeof(in->phone), NULL)) ||
        (rc = constra__jr_text(jr, obj, "", "agent_policy", CONSTRA__JR_ID, text, sizeof(text),
                               NULL)) ||
        (rc = constra__client_read_time(jr, obj, "", "created_at", &in->created_at_ms)) ||
        (rc = constra__client_read_time(jr, obj, "", "updated_at", &in->updated_at_ms))) {
        return rc;
    }
    in->agent_policy = text[0] ? lookup_name(policies, 0, CONSTRA_AGENT_NONE, text) : 0;
    if (in->agent_policy < 0) {
        return bad(jr, "agent_policy", "is not a known policy");
    }
    const cJSON *live = cJSON_GetObjectItemCaseSensitive(obj, "livemode");
    in->livemode = cJSON_IsTrue(live);
    if ((rc = constra__jr_object(jr, obj, "", "provider_result", 0, &prov)) ||
        (prov && ((rc = constra__jr_text(jr, prov, "provider_result", "code", CONSTRA__JR_ID,
                                         in->result_code, sizeof(in->result_code), NULL)) ||
                  (rc = constra__jr_text(jr, prov, "provider_result", "description",
                                         CONSTRA__JR_FREE, in->result_desc,
                                         sizeof(in->result_desc), NULL))))) {
        return rc;
    }
    int64_t used = 0, left = 0;
    if ((rc = constra__jr_object(jr, obj, "", "recovery", 0, &rec))) {
        return rc;
    }
    if (rec) {
        const cJSON *ra = cJSON_GetObjectItemCaseSensitive(rec, "retry_allowed");
        if ((rc = constra__jr_text(jr, rec, "recovery", "recommended_action", CONSTRA__JR_ID,
                                   in->recommended_action, sizeof(in->recommended_action),
                                   NULL)) ||
            (rc = constra__jr_text(jr, rec, "recovery", "reason", CONSTRA__JR_ID, in->reason,
                                   sizeof(in->reason), NULL)) ||
            (rc = constra__jr_text(jr, rec, "recovery", "agent_note", CONSTRA__JR_FREE,
                                   in->agent_note, sizeof(in->agent_note), NULL)) ||
            (rc = constra__jr_int(jr, rec, "recovery", "attempts_used", CONSTRA__JR_REQUIRED, 0,
                                  0, CONSTRA__ATTEMPTS_MAX, &used, NULL)) ||
            (rc = constra__jr_int(jr, rec, "recovery", "attempts_left", CONSTRA__JR_REQUIRED, 0,
                                  0, CONSTRA__ATTEMPTS_MAX, &left, NULL))) {
            return rc;
        }
        if (ra != NULL && !cJSON_IsBool(ra)) {
            return bad(jr, "recovery.retry_allowed", "must be true or false");
        }
        in->retry_allowed = cJSON_IsTrue(ra);
    }
    if ((rc = constra__jr_array(jr, obj, "", "attempts", 0, &atts))) {
        return rc;
    }
    int n = cJSON_GetArraySize(atts);
    if (n > CONSTRA__ATTEMPTS_MAX) {
        return bad(jr, "attempts", "has too many entries");
    }
    in->attempt_count = n;
    for (int i = 0; i < n; i++) {
        char path[CONSTRA__JR_PATH_SIZE];
        constra__jr_path_index(path, sizeof(path), "attempts", (size_t)i);
        if ((rc = read_attempt(jr, cJSON_GetArrayItem(atts, i), path, &in->attempts[i]))) {
            return rc;
        }
    }
    if (rec && used != n) {
        return bad(jr, "recovery.attempts_used", "disagrees with attempts");
    }
    /* Every receipt the server holds for the intent (0.2 servers). */
    const cJSON *recs = cJSON_GetObjectItemCaseSensitive(obj, "receipts");
    if (cJSON_IsArray(recs)) {
        const cJSON *r;
        cJSON_ArrayForEach(r, recs)
        {
            if (cJSON_IsString(r) && r->valuestring && r->valuestring[0] &&
                strlen(r->valuestring) < CONSTRA_RAIL_RECEIPT_SIZE) {
                (void)constra__model_add_receipt(in, r->valuestring);
            }
        }
    }
    if (in->receipt[0]) {
        (void)constra__model_add_receipt(in, in->receipt);
    }
    in->max_attempts = rec ? (int)(used + left) : c->max_attempts;
    if (in->max_attempts < n) {
        in->max_attempts = n;
    }
    /* Tolerant: metadata the library would not accept from a caller (a
     * newer server's limits, non-string values) is not an error; the
     * accessor then shows none and the server's JSON keeps it. */
    constra_error me = CONSTRA_ERROR_INIT;
    constra__model_release(in);
    if (constra__metadata_from_tree(cJSON_GetObjectItemCaseSensitive(obj, "metadata"),
                                    &in->platform, &in->metadata, &in->metadata_len,
                                    &me) == CONSTRA_E_NOMEM) {
        return constra__fail(jr->err, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    return CONSTRA_OK;
}

static struct constra_intent *new_intent(constra_t *h)
{
    struct constra_intent *in = constra__calloc(&h->platform, 1, sizeof(*in));
    if (in) {
        in->platform = h->platform;
    }
    return in;
}

/* One intent from `obj`, its JSON the `len` bytes at `text`. */
static int make_intent(constra_t *h, constra__jr *jr, const cJSON *obj, const char *text,
                       size_t len, struct constra_intent **out, constra_error *e)
{
    struct constra_intent *in = new_intent(h);
    if (in == NULL) {
        return constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    int rc = read_intent(h, jr, obj, in);
    if (rc != CONSTRA_OK) {
        constra_intent_free(in);
        return constra__client_malformed(e, "a payment intent");
    }
    in->json = constra__strndup(&h->platform, text, len);
    if (in->json == NULL) {
        constra_intent_free(in);
        return constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    in->json_len = len;
    *out = in;
    return CONSTRA_OK;
}

int constra__client_parse_body(constra__jr *jr, const char *body, size_t len, constra_error *e)
{
    int rc = constra__jr_parse(jr, body, len, CONSTRA_TRANSPORT_RESPONSE_LIMIT, JSON_DEPTH,
                               "response", e);
    if (rc != CONSTRA_OK) {
        return constra__client_malformed(e, "JSON");
    }
    return CONSTRA_OK;
}

int constra__client_parse_intent(constra_t *h, const char *body, size_t len, int replayed,
                                 constra_intent **out, constra_error *e)
{
    constra__jr jr;
    int rc = constra__client_parse_body(&jr, body, len, e);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    struct constra_intent *in = NULL;
    rc = make_intent(h, &jr, jr.root, body, len, &in, e);
    constra__jr_free(&jr);
    if (rc == CONSTRA_OK) {
        in->replayed = replayed;
        *out = in;
    }
    return rc;
}

/* The "object":"list" wrapper: data array and has_more. */
int constra__client_read_wrapper(constra__jr *jr, const cJSON **data, int *has_more)
{
    char object[16];
    const cJSON *more = cJSON_GetObjectItemCaseSensitive(jr->root, "has_more");
    int rc;
    if ((rc = constra__jr_text(jr, jr->root, "", "object", CONSTRA__JR_REQUIRED | CONSTRA__JR_ID,
                               object, sizeof(object), NULL)) ||
        (rc = constra__jr_array(jr, jr->root, "", "data", CONSTRA__JR_REQUIRED, data))) {
        return rc;
    }
    if (strcmp(object, "list") != 0) {
        return bad(jr, "object", "is not \"list\"");
    }
    if (more != NULL && !cJSON_IsBool(more)) {
        return bad(jr, "has_more", "must be true or false");
    }
    *has_more = cJSON_IsTrue(more);
    return CONSTRA_OK;
}

int constra__client_parse_list(constra_t *h, const char *body, size_t len,
                               constra_intent_list **out, constra_error *e)
{
    constra__jr jr;
    int rc = constra__client_parse_body(&jr, body, len, e);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    const cJSON *data = NULL;
    int has_more = 0;
    span spans[100];
    long n = -1;
    if (constra__client_read_wrapper(&jr, &data, &has_more) != CONSTRA_OK) {
        rc = constra__client_malformed(e, "a list");
    } else if ((n = data_spans(body, len, spans, 100)) != cJSON_GetArraySize(data) || n > 100) {
        rc = constra__fail_http(e, CONSTRA_E_PARSE, 502, "response_malformed", "data",
                           "the server's list has %d entries where at most 100 are allowed",
                           cJSON_GetArraySize(data));
    }
    constra_intent_list *l = NULL;
    if (rc == CONSTRA_OK) {
        l = constra__calloc(&h->platform, 1, sizeof(*l));
        if (l == NULL || (n && (l->items = constra__calloc(&h->platform, (size_t)n,
                                                           sizeof(*l->items))) == NULL)) {
            constra__free(&h->platform, l);
            l = NULL;
            rc = constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
        }
    }
    if (l) {
        l->platform = h->platform;
        l->has_more = has_more;
    }
    for (long i = 0; rc == CONSTRA_OK && i < n; i++) {
        rc = make_intent(h, &jr, cJSON_GetArrayItem(data, (int)i), body + spans[i].start,
                         spans[i].len, &l->items[i], e);
        if (rc == CONSTRA_OK) {
            l->count++;
        } else if (rc == CONSTRA_E_PARSE) {
            constra__fail_http(e, CONSTRA_E_PARSE, 502, "response_malformed", "data",
                          "entry %ld of the server's list is not a payment intent", i);
        }
    }
    constra__jr_free(&jr);
    if (rc == CONSTRA_OK && (l->json = constra__strndup(&h->platform, body, len)) == NULL) {
        rc = constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    if (rc != CONSTRA_OK) {
        constra_intent_list_free(l);
        return rc;
    }
    l->json_len = len;
    *out = l;
    return CONSTRA_OK;
}

int constra__client_parse_events(constra_t *h, const char *body, size_t len,
                                 constra_event_list **out, constra_error *e)
{
    enum { EVENTS_MAX = 1000 };
    constra__jr jr;
    int rc = constra__client_parse_body(&jr, body, len, e);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    const cJSON *data = NULL;
    int has_more = 0;
    long n = -1;
    span *spans = NULL;
    constra_event_list *l = NULL;
    if (constra__client_read_wrapper(&jr, &data, &has_more) != CONSTRA_OK) {
        rc = constra__client_malformed(e, "an event list");
    } else if (cJSON_GetArraySize(data) > EVENTS_MAX) {
        rc = constra__fail_http(e, CONSTRA_E_PARSE, 502, "response_malformed", "data",
                           "the server's event list is longer than %d", EVENTS_MAX);
    } else {
        size_t want = (size_t)cJSON_GetArraySize(data);
        spans = constra__calloc(&h->platform, want ? want : 1, sizeof(*spans));
        l = constra__calloc(&h->platform, 1, sizeof(*l));
        if (l) {
            l->platform = h->platform;
            l->cap = want;
        }
        if (spans == NULL || l == NULL ||
            (want && (l->items = constra__calloc(&h->platform, want, sizeof(*l->items))) ==
                         NULL)) {
            rc = constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
        } else if ((n = data_spans(body, len, spans, want)) != (long)want) {
            rc = constra__fail_http(e, CONSTRA_E_PARSE, 502, "response_malformed", "data",
                               "the server's event list cannot be read");
        }
    }
    for (long i = 0; rc == CONSTRA_OK && i < n; i++) {
        const cJSON *ev = cJSON_GetArrayItem(data, (int)i);
        char path[CONSTRA__JR_PATH_SIZE];
        constra__jr_path_index(path, sizeof(path), "data", (size_t)i);
        constra__event_item *it = &l->items[i];
        if (!cJSON_IsObject(ev) ||
            constra__jr_text(&jr, ev, path, "id", CONSTRA__JR_REQUIRED | CONSTRA__JR_ID, it->id,
                             sizeof(it->id), NULL) != CONSTRA_OK ||
            constra__jr_text(&jr, ev, path, "type", CONSTRA__JR_REQUIRED | CONSTRA__JR_ID,
                             it->type, sizeof(it->type), NULL) != CONSTRA_OK) {
            rc = constra__client_malformed(e, "an event list");
            break;
        }
        it->json = constra__strndup(&h->platform, body + spans[i].start, spans[i].len);
        if (it->json == NULL) {
            rc = constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
            break;
        }
        l->count++;
    }
    constra__jr_free(&jr);
    constra__free(&h->platform, spans);
    if (rc == CONSTRA_OK && (l->json = constra__strndup(&h->platform, body, len)) == NULL) {
        rc = constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    if (rc != CONSTRA_OK) {
        constra_event_list_free(l);
        return rc;
    }
    l->json_len = len;
    (void)has_more;
    *out = l;
    return CONSTRA_OK;
}

void constra__client_format_time(int64_t ms, char out[32])
{
    constra__civil c;
    constra__civil_from_ms(ms, 0, &c);
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", c.year, c.month, c.day, c.hour,
             c.minute, c.second, c.ms);
}
