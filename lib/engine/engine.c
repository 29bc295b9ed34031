/*
 * The payment-intent engine: create, operator actions, provider results,
 * time-outs. Every change is one compare-and-set commit of the intent with
 * the one event that records it (DESIGN.md sections 5 to 7).
 *
 * The rule that keeps money safe: before any rail call, the attempt is
 * committed as "sending"; after it, the outcome is committed. If storage
 * fails in between, the attempt stays "sending" and the time-out sends the
 * intent to review. Nothing ever calls the rail twice for one attempt, and
 * an idempotency key whose request reached the rail is never released.
 */
#include <stdio.h>
#include <string.h>

#include "constra/money.h"
#include "constra/mpesa_fields.h"
#include "engine/cache.h"
#include "engine/engine.h"
#include "platform/platform.h"
#include "mpesa/receipt.h"
#include "util/check.h"
#include "util/encode.h"
#include "util/sbuf.h"
#include "util/hmac.h"

#define CAS_RETRIES 8
#define IDEM_KEY_MAX 255

/* ---- snapshots and loading -------------------------------------------- */

static struct constra_intent *new_intent(constra_t *h)
{
    struct constra_intent *in = constra__malloc(&h->platform, sizeof(*in));
    if (in) {
        constra__model_clear(in);
        in->platform = h->platform;
    }
    return in;
}

void constra_intent_free(constra_intent *in)
{
    if (in == NULL) {
        return;
    }
    constra_platform p = in->platform;
    constra__free(&p, in->json);
    constra__free(&p, in);
}

typedef struct load_ctx {
    constra_t *h;
    struct constra_intent *in;
    int rc;
} load_ctx;

static int load_row(void *ctx, const constra_storage_intent *row)
{
    load_ctx *l = ctx;
    if (constra__cache_get(l->h, row->id, row->version, l->in)) {
        l->rc = CONSTRA_OK;
        return 1;
    }
    l->rc = constra__model_parse(l->in, row->document, row->document_len);
    l->in->version = row->version;
    return 1;
}

static int storage_error(constra_error *e, int rc, const char *what)
{
    if (rc == CONSTRA_E_NOT_FOUND || rc == CONSTRA_E_CONFLICT || rc == CONSTRA_E_NOMEM ||
        rc == CONSTRA_E_INVALID_ARGUMENT) {
        return rc;
    }
    return constra__fail(e, CONSTRA_E_STORAGE, "storage_error", NULL,
                         "storage failed while %s (status %d); nothing was changed", what, rc);
}

static int load(constra_t *h, const char *id, struct constra_intent *in, constra_error *e)
{
    load_ctx l = {h, in, CONSTRA_E_STORAGE};
    int rc = h->storage.get_intent(h->storage.user_data, id, load_row, &l);
    if (rc == CONSTRA_E_NOT_FOUND) {
        return constra__fail(e, CONSTRA_E_NOT_FOUND, "resource_missing", "id",
                             "no payment intent %s", id);
    }
    if (rc != CONSTRA_OK) {
        return storage_error(e, rc, "reading the intent");
    }
    if (l.rc != CONSTRA_OK) {
        return constra__fail(e, CONSTRA_E_STORAGE, "storage_error", NULL,
                             "the stored document of %s cannot be read", id);
    }
    return CONSTRA_OK;
}

/* Ids are opaque here (a remote server's need not look like ours): a
 * well-formed one that names no intent is NOT_FOUND, not a bad argument. */
static int check_id(const char *id, constra_error *e)
{
    return constra__id_check_opaque(id, "id", e);
}

/* Finishes a snapshot for the caller: its public JSON. */
static int finish(constra_t *h, struct constra_intent *in, constra_error *e)
{
    if (in->json != NULL && (in->replayed || in->json_version == in->version)) {
        return CONSTRA_OK; /* the text of exactly this state already exists */
    }
    constra__free(&h->platform, in->json);
    in->json = constra__cache_json(h, in->id, in->version, &in->json_len);
    if (in->json == NULL) {
        in->json = constra__model_json(in, 0, &h->platform, &in->json_len);
    }
    in->json_version = in->version;
    if (in->json == NULL) {
        return constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    return CONSTRA_OK;
}

/* Ends a public call: on success the snapshot gets its JSON and goes to
 * the caller; on failure it is freed and the error goes to the caller's
 * `err`. */
static int hand_out(constra_t *h, struct constra_intent *in, int rc, constra_error *e,
                    constra_intent **out, constra_error *err)
{
    if (rc == CONSTRA_OK) {
        rc = finish(h, in, e);
    }
    if (rc != CONSTRA_OK) {
        constra_intent_free(in);
        return constra__report(rc, e, err);
    }
    *out = in;
    return CONSTRA_OK;
}

/* ---- writing ---------------------------------------------------------- */

static char *event_json(constra_t *h, const struct constra_intent *in, const char *evt_id,
                        const char *type, const char *reason, int64_t now, size_t *len)
{
    constra__sbuf b;
    constra__sbuf_init(&b, &h->platform);
    constra__sbuf_puts(&b, "{");
    constra__sbuf_json_key(&b, "id", 1);
    constra__sbuf_json_str(&b, evt_id);
    constra__sbuf_json_key(&b, "type", 0);
    constra__sbuf_json_str(&b, type);
    constra__sbuf_json_key(&b, "created_at", 0);
    constra__sbuf_json_time(&b, now);
    constra__sbuf_json_key(&b, "data", 0);
    constra__sbuf_puts(&b, "{");
    constra__sbuf_json_key(&b, "payment_intent_id", 1);
    constra__sbuf_json_str(&b, in->id);
    constra__sbuf_json_key(&b, "status", 0);
    constra__sbuf_json_str(&b, constra_intent_status_name(in->status));
    constra__sbuf_json_key(&b, "amount", 0);
    constra__sbuf_int(&b, in->amount);
    constra__sbuf_json_key(&b, "currency", 0);
    constra__sbuf_json_str(&b, in->currency);
    constra__sbuf_json_key(&b, "provider", 0);
    constra__sbuf_json_str(&b, in->provider);
    /* The attempt the event is about: the one a result was for, else the
     * current one. */
    const constra__attempt *a =
        in->event_attempt > 0 && in->event_attempt <= in->attempt_count
            ? &in->attempts[in->event_attempt - 1]
            : (in->attempt_count ? &in->attempts[in->attempt_count - 1] : NULL);
    constra__sbuf_json_key(&b, "attempt_id", 0);
    constra__sbuf_json_str(&b, a ? a->id : NULL);
    constra__sbuf_json_key(&b, "checkout_request_id", 0);
    constra__sbuf_json_str(&b, a && a->checkout[0] ? a->checkout : NULL);
    constra__sbuf_json_key(&b, "provider_result_code", 0);
    constra__sbuf_json_str(&b, in->result_code[0] ? in->result_code : NULL);
    constra__sbuf_json_key(&b, "provider_result_desc", 0);
    constra__sbuf_json_str(&b, in->result_desc[0] ? in->result_desc : NULL);
    constra__sbuf_json_key(&b, "receipt", 0);
    constra__sbuf_json_str(&b, a && a->receipt[0] ? a->receipt
                                                 : (in->receipt[0] ? in->receipt : NULL));
    constra__sbuf_json_key(&b, "receipts", 0);
    constra__sbuf_puts(&b, "[");
    for (int i = 0; i < in->receipt_count; i++) {
        if (i) {
            constra__sbuf_puts(&b, ",");
        }
        constra__sbuf_json_str(&b, in->receipts[i]);
    }
    constra__sbuf_puts(&b, "]");
    constra__sbuf_json_key(&b, "reason", 0);
    constra__sbuf_json_str(&b, reason);
    constra__sbuf_json_key(&b, "agent_note", 0);
    constra__sbuf_json_str(&b, in->agent_policy != CONSTRA_AGENT_NONE && in->agent_note[0]
                                   ? in->agent_note
                                   : NULL);
    constra__sbuf_puts(&b, "}}");
    return constra__sbuf_take(&b, len);
}

/*
 * Commits `in` (version expected -> expected + 1) with at most one event
 * and optionally an idempotency record: state COMPLETED completes it with
 * `in`'s public JSON as the response (status idem->http_status); state
 * IN_FLIGHT is written as given (the link of a new intent, storage.h).
 */
static int save(constra_t *h, struct constra_intent *in, int64_t expected, const char *event,
                const char *reason, const constra_storage_idempotency *idem, int64_t now,
                constra_error *e)
{
    in->updated_at_ms = now;
    in->version = expected + 1;
    const constra__attempt *cur = in->attempt_count ? &in->attempts[in->attempt_count - 1] : NULL;
    char evt_id[CONSTRA_ID_SIZE];
    size_t doc_len = 0, evt_len = 0, resp_len = 0;
    char *doc = NULL, *evt = NULL, *resp = NULL;
    int rc = CONSTRA_OK;
    if (event && (rc = constra__new_id(h, "evt", evt_id, sizeof(evt_id), e)) != CONSTRA_OK) {
        return rc;
    }
    /* One rendering serves the stored document, the idempotent response
     * and, once committed, the snapshot's JSON. */
    if (constra__model_render(in, &h->platform, &resp, &resp_len, &doc, &doc_len) != 0) {
        resp = doc = NULL;
    }
    if (event) {
        evt = event_json(h, in, evt_id, event, reason, now, &evt_len);
    }
    constra_storage_idempotency done;
    if (idem) {
        done = *idem;
        if (idem->state == CONSTRA_IDEMPOTENCY_COMPLETED) {
            done.response = resp;
            done.response_len = resp_len;
        }
    }
    if (doc == NULL || (event && evt == NULL)) {
        rc = constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    } else {
        constra_storage_intent row = {sizeof(row), in->id,
                                      constra_intent_status_name(in->status), in->reference,
                                      cur ? cur->checkout : "", in->created_at_ms,
                                      in->updated_at_ms, in->version, doc, doc_len};
        constra_storage_event ev = {sizeof(ev), evt_id, in->id, event, now, 0, evt, evt_len};
        constra_storage_write w = {sizeof(w), &row, expected, event ? &ev : NULL, event ? 1 : 0,
                                   idem ? &done : NULL};
        rc = h->storage.commit(h->storage.user_data, &w);
        if (rc == CONSTRA_E_CONFLICT) {
            constra__fail(e, CONSTRA_E_CONFLICT, "conflict", NULL,
                          "the intent was changed concurrently");
        } else if (rc != CONSTRA_OK) {
            rc = storage_error(e, rc, "saving the intent");
        }
    }
    constra__free(&h->platform, doc);
    constra__free(&h->platform, evt);
    if (rc == CONSTRA_OK) {
        constra__cache_put(h, in, resp, resp_len);
    }
    if (rc == CONSTRA_OK && resp != NULL) {
        constra__free(&h->platform, in->json);
        in->json = resp;
        in->json_len = resp_len;
        in->json_version = in->version;
    } else {
        constra__free(&h->platform, resp);
    }
    return rc;
}

/* ---- recovery summaries ------------------------------------------------- */

static void set_recovery(struct constra_intent *in, const char *action, int retry_allowed,
                         const char *reason, const char *note)
{
    int left = in->max_attempts - in->attempt_count;
    constra__strlcpy(in->recommended_action, action, sizeof(in->recommended_action));
    in->retry_allowed = retry_allowed && left > 0;
    constra__strlcpy(in->reason, reason ? reason : "", sizeof(in->reason));
    constra__strlcpy(in->agent_note, note ? note : "", sizeof(in->agent_note));
    if (retry_allowed && left <= 0) {
        constra__strlcpy(in->recommended_action, "contact_customer",
                         sizeof(in->recommended_action));
        snprintf(in->agent_note, sizeof(in->agent_note),
                 "%s All %d attempts are used: contact the customer or close the order.",
                 note ? note : "", in->max_attempts);
    }
}

static void clear_recovery(struct constra_intent *in)
{
    in->recommended_action[0] = '\0';
    in->retry_allowed = 0;
    in->reason[0] = '\0';
    in->agent_note[0] = '\0';
}

/* Fills status, recovery and timers for a MOVE to `to`. */
static void apply_move(constra_t *h, struct constra_intent *in, const constra__step *st,
                       const constra__classified *c, int64_t now)
{
    in->status = st->to;
    in->due_at_ms = 0;
    switch (st->to) {
    case CONSTRA_INTENT_PENDING_USER_ACTION:
        clear_recovery(in);
        in->due_at_ms = now + h->callback_timeout_ms;
        break;
    case CONSTRA_INTENT_SUCCEEDED:
        clear_recovery(in);
        break;
    case CONSTRA_INTENT_REQUIRES_RECOVERY:
        set_recovery(in, c ? c->recommended_action : "retry", 1, st->reason,
                     c ? c->note : "The payment did not complete. Offer a retry.");
        break;
    case CONSTRA_INTENT_FAILED:
        if (strcmp(st->reason, "retries_exhausted") == 0) {
            char note[CONSTRA__NOTE_MAX + 1];
            snprintf(note, sizeof(note),
                     "%s%sAll %d attempts are used: contact the customer or close the order.",
                     c && c->note ? c->note : "", c && c->note ? " " : "", in->max_attempts);
            set_recovery(in, "contact_customer", 0, st->reason, note);
        } else if (strcmp(st->reason, "operator_resolved") == 0) {
            /* The operator's note (if any) is kept as it is. */
            constra__strlcpy(in->recommended_action, "none", sizeof(in->recommended_action));
            in->retry_allowed = 0;
            constra__strlcpy(in->reason, st->reason, sizeof(in->reason));
        } else {
            set_recovery(in, c ? c->recommended_action : "none", 0, st->reason,
                         c ? c->note : "The payment failed.");
        }
        break;
    case CONSTRA_INTENT_REVIEW_REQUIRED:
        set_recovery(in, "operator_review", 0, st->reason,
                     c && c->note ? c->note
                                  : "The outcome is ambiguous. Check the M-Pesa statement before "
                                    "acting: refund or honour the payment.");
        break;
    case CONSTRA_INTENT_CANCELLED:
        set_recovery(in, "none", 0, st->reason, "Cancelled by an operator.");
        break;
    default:
        break;
    }
}

/* ---- the rail call ------------------------------------------------------ */

/* Commits a new "sending" attempt, calls the rail, commits the outcome.
 * `inserting`: the intent is new (commit #1 inserts it with its creation
 * event). `idem` (only when inserting): the reservation of the create's
 * key. Commit #1 links it to the intent, so that from then on the key can
 * only ever answer with this intent (a retry after the lease replays it,
 * never pushes again); commit #2 completes it with the outcome. */
static int run_attempt(constra_t *h, struct constra_intent *in, int inserting,
                       const constra_storage_idempotency *idem, constra_error *e)
{
    int64_t now = constra__wall_ms(&h->platform);
    if (in->attempt_count >= CONSTRA__ATTEMPTS_MAX || in->attempt_count >= in->max_attempts) {
        return constra__fail_http(e, CONSTRA_E_INVALID_STATE, 409, "invalid_state", "id",
                                  "no attempts left");
    }
    /* A push whose outcome is unknown may still be paid: never send
     * another until it is settled (by query, callback or an operator). */
    const constra__attempt *prev = constra__model_current(in);
    if (!inserting && prev &&
        (prev->state == CONSTRA__ATTEMPT_SENDING || prev->state == CONSTRA__ATTEMPT_UNKNOWN)) {
        return constra__fail_http(e, CONSTRA_E_INVALID_STATE, 409, "previous_attempt_unresolved",
                                  "id",
                                  "the previous payment prompt's outcome is unknown; reconcile it "
                                  "before sending another");
    }
    constra__attempt *a = &in->attempts[in->attempt_count];
    memset(a, 0, sizeof(*a));
    /* The intent's latest result is the new attempt's, once it has one. */
    in->result_code[0] = '\0';
    in->result_desc[0] = '\0';
    int rc = constra__new_id(h, "att", a->id, sizeof(a->id), e);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    a->state = CONSTRA__ATTEMPT_SENDING;
    a->started_at_ms = now;
    in->attempt_count++;
    int64_t expected = inserting ? 0 : in->version;
    if (inserting) {
        in->status = CONSTRA_INTENT_PENDING_USER_ACTION;
        in->due_at_ms = now + h->callback_timeout_ms;
    }
    constra_storage_idempotency link, done;
    char link_body[CONSTRA_ID_SIZE + 16];
    if (idem) {
        link = *idem;
        link.state = CONSTRA_IDEMPOTENCY_IN_FLIGHT;
        link.http_status = 0;
        int n = snprintf(link_body, sizeof(link_body), "{\"id\":\"%s\"}", in->id);
        link.response = link_body;
        link.response_len = (size_t)n;
        done = *idem;
        done.state = CONSTRA_IDEMPOTENCY_COMPLETED;
    }
    rc = save(h, in, expected, inserting ? "payment_intent.created" : NULL, "created",
              idem ? &link : NULL, now, e);
    if (rc != CONSTRA_OK) {
        return rc; /* nothing was sent */
    }

    constra_rail_collect req = {sizeof(req), in->id, a->id, in->amount, in->currency, in->phone,
                                in->reference, in->description, now};
    constra_rail_result res;
    memset(&res, 0, sizeof(res));
    res.struct_size = sizeof(res);
    int rail_rc = h->rail.collect(h->rail.user_data, &req, &res);

    constra__step st = {CONSTRA__MOVE, CONSTRA_INTENT_PENDING_USER_ACTION,
                        "payment_intent.pending_user_action", "sent_to_customer"};
    constra__classified c;
    int have_class = 0;
    if (rail_rc == CONSTRA_OK && res.outcome == CONSTRA_RAIL_ACCEPTED &&
        res.checkout_request_id[0] != '\0') {
        a->state = CONSTRA__ATTEMPT_SENT;
        constra__strlcpy(a->checkout, res.checkout_request_id, sizeof(a->checkout));
        constra__strlcpy(a->merchant, res.merchant_request_id, sizeof(a->merchant));
    } else if (rail_rc == CONSTRA_OK && res.outcome == CONSTRA_RAIL_REJECTED) {
        a->state = CONSTRA__ATTEMPT_REJECTED;
        a->completed_at_ms = now;
        constra__strlcpy(a->result_code, res.result_code, sizeof(a->result_code));
        constra__strlcpy(a->result_desc, res.result_desc, sizeof(a->result_desc));
        constra__strlcpy(in->result_code, res.result_code, sizeof(in->result_code));
        constra__strlcpy(in->result_desc, res.result_desc, sizeof(in->result_desc));
        constra__classify(res.result_code, res.result_desc, &c);
        have_class = 1;
        /* A refusal is not a success, whatever code it carries. */
        constra__input input = c.input == CONSTRA__IN_SUCCEEDED || c.input == CONSTRA__IN_PENDING
                                   ? CONSTRA__IN_REVIEW
                                   : c.input;
        st = constra__machine_step(CONSTRA_INTENT_PENDING_USER_ACTION, input,
                                   in->max_attempts - in->attempt_count);
    } else if (rail_rc == CONSTRA_E_TRANSPORT) {
        /* Never left: safe to retry later. */
        a->state = CONSTRA__ATTEMPT_NOT_SENT;
        a->completed_at_ms = now;
        c = (constra__classified){CONSTRA__IN_RETRY_LATER, "retry_later", 1,
                                  "The payment provider could not be reached; nothing was sent. "
                                  "Retry in a few minutes."};
        have_class = 1;
        st = constra__machine_step(CONSTRA_INTENT_PENDING_USER_ACTION, CONSTRA__IN_RETRY_LATER,
                                   in->max_attempts - in->attempt_count);
    } else {
        /* Sent, but no usable answer: wait, then reconcile. Never resend. */
        a->state = CONSTRA__ATTEMPT_UNKNOWN;
        st.reason = "outcome_unknown";
    }
    if (st.verdict == CONSTRA__MOVE) {
        apply_move(h, in, &st, have_class ? &c : NULL, now);
    }
    int64_t sent_version = in->version;
    rc = save(h, in, sent_version, st.event, st.reason, idem ? &done : NULL, now, e);
    if (rc == CONSTRA_E_CONFLICT && idem) {
        /* The key is no longer ours to complete: this call outlived the
         * lease and a retry answered with the intent as it then was
         * (completing the key), or the key expired. The outcome (the
         * checkout id above all) must still be recorded: save it alone.
         * If the intent itself moved, this conflicts too and is reported
         * below, as any lost outcome. */
        rc = save(h, in, sent_version, st.event, st.reason, NULL, now, e);
    }
    if (rc != CONSTRA_OK) {
        /* The rail was called: the attempt stays "sending" in storage and
         * the time-out sends it to review. Say so plainly. */
        constra__fail(e, rc == CONSTRA_E_NOMEM ? CONSTRA_E_NOMEM : CONSTRA_E_STORAGE,
                      "outcome_unrecorded", NULL,
                      "the payment prompt was sent but its outcome could not be saved; "
                      "the intent will go to review, do not retry");
        return e ? e->status : CONSTRA_E_STORAGE;
    }
    return CONSTRA_OK;
}

/* ---- create --------------------------------------------------------------- */

int constra_intent_params_init(constra_intent_params *p, size_t struct_size)
{
    static const constra_intent_params init = CONSTRA_INTENT_PARAMS_INIT;
    return constra__init_struct(p, struct_size, sizeof(init), sizeof(init), &init);
}

static int check_key(const char *key, constra_error *e)
{
    size_t len;
    int rc = constra__check_str(key, IDEM_KEY_MAX, 0, "idempotency_key", &len, e);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    for (size_t i = 0; i < len; i++) {
        char c = key[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == ':' || c == '.')) {
            return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "idempotency_key_invalid",
                                 "idempotency_key",
                                 "idempotency_key may hold only A-Z a-z 0-9 _ - : .");
        }
    }
    return CONSTRA_OK;
}

/* Copies an optional text field, refusing what is too long or not UTF-8
 * text (control characters). */
static int copy_text(const char *src, size_t max, const char *param, char *dst, size_t dst_size,
                     constra_error *e)
{
    if (src == NULL) {
        dst[0] = '\0';
        return CONSTRA_OK;
    }
    size_t len;
    int rc = constra__check_str(src, max, 1, param, &len, e);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)src[i] < 0x20 || src[i] == 0x7f) {
            return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", param,
                                 "%s contains a control character", param);
        }
    }
    memcpy(dst, src, len + 1 <= dst_size ? len + 1 : dst_size);
    dst[dst_size - 1] = '\0';
    return CONSTRA_OK;
}

static int fill_params(constra_t *h, const constra_intent_params *p, struct constra_intent *in,
                       constra_error *e)
{
    int rc = constra__check_struct(p, sizeof(*p), sizeof(*p), "params", e);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra_intent_params q;
    constra__copy_struct(&q, sizeof(q), p);
    int exponent;
    if ((rc = constra_currency_lookup(q.currency, &exponent, NULL, e)) != CONSTRA_OK) {
        /* An unknown currency is a bad parameter (400), not a missing
         * resource (404). */
        return rc == CONSTRA_E_NOT_FOUND
                   ? constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "currency_unsupported",
                                   "currency", "currency %s is not supported", q.currency)
                   : rc;
    }
    if (strcmp(q.currency, "KES") != 0) {
        return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "currency_unsupported", "currency",
                             "M-Pesa collects KES only, not %s", q.currency);
    }
    if (q.amount < 1 || q.amount > h->amount_max) {
        return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "amount_invalid", "amount",
                             "amount must be a whole number of KES from 1 to %lld",
                             (long long)h->amount_max);
    }
    if (q.provider && strcmp(q.provider, "mpesa") != 0) {
        return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "provider_unsupported", "provider",
                             "provider must be \"mpesa\"");
    }
    if (q.agent_policy < CONSTRA_AGENT_OPERATOR_REVIEW || q.agent_policy > CONSTRA_AGENT_NONE) {
        return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "agent_policy",
                             "agent_policy must be operator_review, auto_retry or none");
    }
    if (q.phone_number == NULL) {
        return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "parameter_missing", "phone_number",
                             "phone_number is required");
    }
    rc = constra_msisdn_normalize(q.phone_number, 64, in->phone, sizeof(in->phone), e);
    if (rc != CONSTRA_OK) {
        constra__strlcpy(e->param, "phone_number", sizeof(e->param));
        return rc;
    }
    if ((rc = copy_text(q.customer_name, CONSTRA__NAME_MAX, "customer_name", in->customer_name,
                        sizeof(in->customer_name), e)) ||
        (rc = copy_text(q.reference, CONSTRA__REFERENCE_MAX, "reference", in->reference,
                        sizeof(in->reference), e)) ||
        (rc = copy_text(q.description, CONSTRA__DESCRIPTION_MAX, "description", in->description,
                        sizeof(in->description), e))) {
        return rc;
    }
    in->amount = q.amount;
    memcpy(in->currency, "KES", 4);
    constra__strlcpy(in->provider, "mpesa", sizeof(in->provider));
    constra__strlcpy(in->rail, h->rail.name, sizeof(in->rail));
    in->livemode = h->mode == CONSTRA_MODE_LIVE;
    in->agent_policy = q.agent_policy;
    in->max_attempts = h->max_attempts;
    in->status = q.draft ? CONSTRA_INTENT_DRAFT : CONSTRA_INTENT_PENDING_USER_ACTION;
    return CONSTRA_OK;
}

/* The request's fingerprint: a keyed SHA-256 (HMAC with a fixed,
 * versioned key) of its canonical form after normalisation, so "0712..."
 * and "254712..." are the same request. */
/* Decimal digits of v (v >= 0) at *p; returns the end. */
static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) {
        *p++ = tmp[--n];
    }
    return p;
}

static int fingerprint(const struct constra_intent *in, int draft, char out[65])
{
    static const char key[] = "constra idempotency fingerprint v1";
    /* The canonical form, built in one buffer (it was 16 snprintf and 14
     * HMAC updates per create): "v1|<amount>|<policy>|<draft>|" and each
     * text field, every part prefixed by "<length>:" so boundaries
     * cannot be forged. The bytes are exactly those of version 1. */
    char num[64];
    char *n = num;
    memcpy(n, "v1|", 3);
    n += 3;
    if (in->amount < 0) {
        *n++ = '-';
    }
    n = put_u64(n, in->amount < 0 ? (uint64_t)0 - (uint64_t)in->amount : (uint64_t)in->amount);
    *n++ = '|';
    n = put_u64(n, (uint64_t)(unsigned)in->agent_policy);
    *n++ = '|';
    n = put_u64(n, (uint64_t)(unsigned)draft);
    *n++ = '|';
    *n = '\0';
    const char *fields[] = {num, in->currency, in->provider, in->phone, in->customer_name,
                            in->reference, in->description};
    /* Every field is bounded by its array in struct constra_intent. */
    char buf[sizeof(num) + sizeof(in->currency) + sizeof(in->provider) + sizeof(in->phone) +
             sizeof(in->customer_name) + sizeof(in->reference) + sizeof(in->description) +
             7 * 21];
    char *b = buf;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        size_t len = strlen(fields[i]);
        b = put_u64(b, len);
        *b++ = ':';
        memcpy(b, fields[i], len);
        b += len;
    }
    uint8_t digest[CONSTRA__SHA256_SIZE];
    if (constra__hmac_sha256((const uint8_t *)key, sizeof(key) - 1, buf, (size_t)(b - buf),
                             digest) != CONSTRA_OK) {
        return -1;
    }
    constra__hex_encode(digest, sizeof(digest), out, 65);
    return 0;
}

typedef struct idem_seen {
    int state;
    int http_status;
    char fingerprint[80];
    char *response; /* NUL-terminated copy, NULL when the record has none */
    size_t response_len;
    int64_t created_at_ms;
    int64_t expires_at_ms;
    int64_t lease_expires_at_ms;
    const constra_platform *platform;
} idem_seen;

static int seen_row(void *ctx, const constra_storage_idempotency *r)
{
    idem_seen *s = ctx;
    s->state = r->state;
    s->http_status = r->http_status;
    constra__strlcpy(s->fingerprint, r->fingerprint ? r->fingerprint : "",
                     sizeof(s->fingerprint));
    s->created_at_ms = r->created_at_ms;
    s->expires_at_ms = r->expires_at_ms;
    s->lease_expires_at_ms = r->lease_expires_at_ms;
    if (r->response != NULL && r->response_len > 0) {
        s->response = constra__strndup(s->platform, r->response, r->response_len);
        s->response_len = s->response ? r->response_len : 0;
    }
    return 1;
}

/* The id in a stored response or link ("{"id":"pi_..."): the intent. */
static int response_id(const char *resp, char *id, size_t size)
{
    const char *p = strstr(resp, "\"id\":\"");
    if (p == NULL) {
        return -1;
    }
    p += 6;
    size_t n = strcspn(p, "\"");
    if (n == 0 || n >= size) {
        return -1;
    }
    memcpy(id, p, n);
    id[n] = '\0';
    return 0;
}

/* What answer_held_key() may ask of its caller besides an answer. */
enum { KEY_FREED = 1, /* released a dead reservation: reserve again */
       KEY_MOVED = 2  /* the record changed meanwhile: look again */ };

static int in_flight(constra_error *e)
{
    return constra__fail_http(e, CONSTRA_E_CONFLICT, 409, "idempotent_request_in_flight",
                              "idempotency_key",
                              "a request with this idempotency key is still in progress");
}

/* Loads the intent a stored response or link names into a new snapshot. */
static int load_named(constra_t *h, const idem_seen *seen, struct constra_intent **got,
                      constra_error *e)
{
    char id[CONSTRA_ID_SIZE];
    if (seen->response == NULL || response_id(seen->response, id, sizeof(id)) != 0) {
        return constra__fail(e, CONSTRA_E_STORAGE, "storage_error", NULL,
                             "the stored response of this key cannot be read");
    }
    *got = new_intent(h);
    if (*got == NULL) {
        return constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    int rc = load(h, id, *got, e);
    if (rc == CONSTRA_E_NOT_FOUND) {
        /* Not the caller's fault (a create names no id): the storage lost
         * what the key says it holds. */
        rc = constra__fail(e, CONSTRA_E_STORAGE, "storage_error", NULL,
                           "the payment intent %s this idempotency key names is missing", id);
    }
    if (rc == CONSTRA_OK) {
        (*got)->replayed = 1;
    } else {
        constra_intent_free(*got);
        *got = NULL;
    }
    return rc;
}

/*
 * The key is held (the reservation conflicted with `seen`). The answers:
 *   - another request's key: 409 idempotency_key_reused;
 *   - completed: its first response, byte for byte (*got, replayed);
 *   - in flight within the handle's lease (from the reservation's
 *     created_at_ms): 409 idempotent_request_in_flight;
 *   - in flight past the lease, linked: the request created that intent
 *     and its owner is gone (killed, or its last commit failed). The
 *     answer is the intent as it is now, never a second push, and that
 *     answer becomes the key's stored response (a failure to store it
 *     leaves the link: the next retry answers the same way);
 *   - in flight past the lease, not linked: nothing was created. The
 *     reservation is released (when `may_free`) and KEY_FREED returned:
 *     the caller reserves again and runs the request afresh.
 *   - in flight, reserved by 0.1 (which linked nothing: its intent may
 *     exist and its prompt may have been sent): 409 until it expires.
 *
 * Races: two retries may both release and reserve; only one can link (a
 * key links once, storage.h) and only a linked request calls the rail,
 * so one intent and one push whatever the interleaving. An owner that is
 * merely slow (past the lease before its first commit) loses the key the
 * same way and answers 409. An owner slow past the lease after its push
 * finds the key completed by a retry and saves its outcome alone (see
 * run_attempt): the key's stored response is then the intent as the
 * retry saw it, the intent itself is current. Leases are measured on the
 * reading process's clock against the reserving process's: processes
 * sharing a storage need clocks within a small part of the lease.
 */
static int answer_held_key(constra_t *h, idem_seen *seen, const char *key, const char *fp,
                           int64_t now, int may_free, struct constra_intent **got,
                           constra_error *e)
{
    if (strcmp(seen->fingerprint, fp) != 0) {
        return constra__fail_http(e, CONSTRA_E_CONFLICT, 409, "idempotency_key_reused",
                                  "idempotency_key",
                                  "this idempotency key was used with a different request");
    }
    if (seen->state == CONSTRA_IDEMPOTENCY_COMPLETED) {
        int rc = load_named(h, seen, got, e);
        if (rc == CONSTRA_OK && seen->http_status != 0) {
            /* The first response, byte for byte; accessors show the
             * intent now. (http_status 0: a storage that ignores the link
             * state completed the key with its link: answer with the
             * intent as it is.) */
            (*got)->json = seen->response;
            (*got)->json_len = seen->response_len;
            seen->response = NULL;
        }
        return rc;
    }
    if (seen->created_at_ms > now - h->idempotency_lease_ms) {
        return in_flight(e);
    }
    if (seen->response_len > 0) {
        int rc = load_named(h, seen, got, e);
        if (rc == CONSTRA_OK) {
            rc = finish(h, *got, e);
        }
        if (rc != CONSTRA_OK) {
            constra_intent_free(*got);
            *got = NULL;
            return rc;
        }
        constra_storage_idempotency done = {sizeof(done), key, fp,
                                            CONSTRA_IDEMPOTENCY_COMPLETED, 201, (*got)->json,
                                            (*got)->json_len, seen->created_at_ms,
                                            seen->expires_at_ms, seen->lease_expires_at_ms};
        if (h->storage.idempotency_complete(h->storage.user_data, &done) == CONSTRA_E_CONFLICT) {
            constra_intent_free(*got); /* completed meanwhile: replay that */
            *got = NULL;
            return KEY_MOVED;
        }
        return CONSTRA_OK;
    }
    if (seen->lease_expires_at_ms <= seen->expires_at_ms) {
        return constra__fail_http(e, CONSTRA_E_CONFLICT, 409, "idempotent_request_in_flight",
                                  "idempotency_key",
                                  "a request with this idempotency key was started by an earlier "
                                  "library version and may have sent a prompt; the key frees when "
                                  "it expires");
    }
    if (!may_free) {
        return in_flight(e);
    }
    int rc = h->storage.idempotency_release(h->storage.user_data, key, fp);
    if (rc != CONSTRA_OK) {
        return storage_error(e, rc, "releasing an abandoned idempotency key");
    }
    return KEY_FREED;
}

int constra_intent_create(constra_t *h, const constra_intent_params *params,
                          const char *idempotency_key, constra_intent **out, constra_error *err)
{
    if (h == NULL) {
        return constra__fail_null(err, "handle");
    }
    constra_error e = CONSTRA_ERROR_INIT;
    if (out == NULL) {
        return constra__report(constra__fail_null(&e, "out"), &e, err);
    }
    *out = NULL;
    int rc = check_key(idempotency_key, &e);
    if (rc == CONSTRA_OK && h->remote_ops) {
        rc = h->remote_ops->create(h, params, idempotency_key, out, &e);
        return constra__report(rc, &e, err);
    }
    struct constra_intent *in = rc == CONSTRA_OK ? new_intent(h) : NULL;
    if (rc == CONSTRA_OK && in == NULL) {
        rc = constra__fail(&e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    if (rc == CONSTRA_OK) {
        rc = fill_params(h, params, in, &e);
    }
    if (rc != CONSTRA_OK) {
        constra_intent_free(in);
        return constra__report(rc, &e, err);
    }
    int draft = in->status == CONSTRA_INTENT_DRAFT;
    char fp[65];
    if (fingerprint(in, draft, fp) != 0) {
        constra_intent_free(in);
        return constra__report(constra__fail(&e, CONSTRA_E_GENERIC, NULL, NULL,
                                                "cannot compute the request fingerprint"), &e, err);
    }

    int64_t now = constra__wall_ms(&h->platform);
    /* lease_expires_at_ms past the expiry: no storage takes the key over
     * before it expires; the engine's lease decides (answer_held_key). */
    constra_storage_idempotency rec = {sizeof(rec), idempotency_key, fp,
                                       CONSTRA_IDEMPOTENCY_IN_FLIGHT, 201, NULL, 0, now,
                                       now + h->idempotency_retention_ms,
                                       now + h->idempotency_retention_ms + 1};
    int freed = 0;
    for (int round = 0;; round++) {
        idem_seen seen = {0, 0, "", NULL, 0, 0, 0, 0, &h->platform};
        rc = h->storage.idempotency_reserve(h->storage.user_data, &rec, now, seen_row, &seen);
        if (rc != CONSTRA_E_CONFLICT) {
            constra__free(&h->platform, seen.response);
            break;
        }
        struct constra_intent *got = NULL;
        rc = answer_held_key(h, &seen, idempotency_key, fp, now, !freed, &got, &e);
        constra__free(&h->platform, seen.response);
        if (rc == CONSTRA_OK) {
            constra_intent_free(in);
            return hand_out(h, got, CONSTRA_OK, &e, out, err);
        }
        if (rc > 0 && round < 2) {
            freed |= rc == KEY_FREED;
            continue;
        }
        if (rc > 0) {
            rc = in_flight(&e); /* the record keeps moving: someone works on it */
        }
        constra_intent_free(in);
        return constra__report(rc, &e, err);
    }
    if (rc != CONSTRA_OK) {
        constra_intent_free(in);
        return constra__report(storage_error(&e, rc, "reserving the idempotency key"), &e, err);
    }

    /* The key is ours. From here, a failure before the rail call releases
     * it (a retry runs afresh); after the rail call it is never released
     * (nor can it be: it is linked to the intent by then). A draft makes
     * no rail call: its one commit inserts it and completes the key. */
    in->created_at_ms = now;
    if ((rc = constra__new_id(h, "pi", in->id, sizeof(in->id), &e)) == CONSTRA_OK) {
        if (draft) {
            set_recovery(in, "none", 0, "", "");
            in->recommended_action[0] = '\0';
            constra_storage_idempotency done = rec;
            done.state = CONSTRA_IDEMPOTENCY_COMPLETED;
            rc = save(h, in, 0, "payment_intent.created", "draft", &done, now, &e);
        } else {
            rc = run_attempt(h, in, 1, &rec, &e);
        }
    }
    if (rc != CONSTRA_OK) {
        if (strcmp(e.code, "outcome_unrecorded") != 0) {
            h->storage.idempotency_release(h->storage.user_data, idempotency_key, fp);
        }
        if (rc == CONSTRA_E_CONFLICT && strcmp(e.code, "conflict") == 0) {
            /* The first commit found the key taken over (this call
             * outlived the lease before it): another request owns it. */
            e = (constra_error)CONSTRA_ERROR_INIT;
            rc = in_flight(&e);
        }
        constra_intent_free(in);
        return constra__report(rc, &e, err);
    }
    return hand_out(h, in, CONSTRA_OK, &e, out, err);
}


/* ---- reads ------------------------------------------------------------------ */

int constra_intent_get(constra_t *h, const char *id, constra_intent **out, constra_error *err)
{
    if (h == NULL) {
        return constra__fail_null(err, "handle");
    }
    constra_error e = CONSTRA_ERROR_INIT;
    if (out == NULL) {
        return constra__report(constra__fail_null(&e, "out"), &e, err);
    }
    *out = NULL;
    int rc = check_id(id, &e);
    if (rc == CONSTRA_OK && h->remote_ops) {
        rc = h->remote_ops->get(h, id, out, &e);
        return constra__report(rc, &e, err);
    }
    struct constra_intent *in = NULL;
    if (rc == CONSTRA_OK && (in = new_intent(h)) == NULL) {
        rc = constra__fail(&e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    if (rc == CONSTRA_OK) {
        rc = load(h, id, in, &e);
    }
    return hand_out(h, in, rc, &e, out, err);
}


/* ---- operator actions --------------------------------------------------------- */

typedef struct action {
    constra__input input;
    int succeeded;
    const char *receipt;
    const char *note;
    const char *result_code; /* simulate-callback */
    const char *result_desc;
} action;

static int refuse(const struct constra_intent *in, constra__input input, constra_error *e)
{
    return constra__fail_http(e, CONSTRA_E_INVALID_STATE, 409, "invalid_state", "id",
                              "cannot %s a payment intent in status %s",
                              constra__input_name(input), constra_intent_status_name(in->status));
}

static int act_once(constra_t *h, struct constra_intent *in, const action *a, constra_error *e)
{
    int64_t now = constra__wall_ms(&h->platform);
    constra__step st = constra__machine_step(in->status, a->input,
                                             in->max_attempts - in->attempt_count);
    switch (st.verdict) {
    case CONSTRA__REFUSE:
        return refuse(in, a->input, e);
    case CONSTRA__CALL_RAIL:
        return run_attempt(h, in, 0, NULL, e);
    case CONSTRA__MOVE:
        if (a->input == CONSTRA__IN_RESOLVE_SUCCEEDED) {
            constra__strlcpy(in->receipt, a->receipt, sizeof(in->receipt));
        }
        if (a->note) {
            constra__strlcpy(in->agent_note, a->note, sizeof(in->agent_note));
        }
        apply_move(h, in, &st, NULL, now);
        if (a->note && st.to != CONSTRA_INTENT_CANCELLED) {
            constra__strlcpy(in->agent_note, a->note, sizeof(in->agent_note));
        }
        return save(h, in, in->version, st.event, st.reason, NULL, now, e);
    default:
        return refuse(in, a->input, e);
    }
}

static int remote_kind(constra__input input)
{
    switch (input) {
    case CONSTRA__IN_CONFIRM:
        return CONSTRA__ACT_CONFIRM;
    case CONSTRA__IN_RETRY:
        return CONSTRA__ACT_RETRY;
    case CONSTRA__IN_CANCEL:
        return CONSTRA__ACT_CANCEL;
    default:
        return CONSTRA__ACT_RESOLVE;
    }
}

static int run_action(constra_t *h, const char *id, const action *a, constra_intent **out,
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
    int rc = check_id(id, &e);
    if (rc == CONSTRA_OK && h->remote_ops) {
        constra__remote_action ra = {remote_kind(a->input), id, a->succeeded, a->receipt,
                                     a->note, NULL, NULL};
        rc = h->remote_ops->action(h, &ra, out, &e);
        return constra__report(rc, &e, err);
    }
    struct constra_intent *in = NULL;
    if (rc == CONSTRA_OK && (in = new_intent(h)) == NULL) {
        rc = constra__fail(&e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    /* Compare-and-set: if another writer got there first, look again. */
    for (int tries = 0; rc == CONSTRA_OK && tries < CAS_RETRIES; tries++) {
        rc = load(h, id, in, &e);
        if (rc != CONSTRA_OK) {
            break;
        }
        rc = act_once(h, in, a, &e);
        if (rc != CONSTRA_E_CONFLICT || strcmp(e.code, "conflict") != 0) {
            break;
        }
        rc = CONSTRA_OK; /* lost the race: retry */
        if (tries == CAS_RETRIES - 1) {
            rc = constra__fail(&e, CONSTRA_E_CONFLICT, "conflict", "id",
                               "the intent keeps changing; try again");
        }
    }
    return hand_out(h, in, rc, &e, out, err);
}

int constra_intent_confirm(constra_t *h, const char *id, constra_intent **out, constra_error *err)
{
    action a = {CONSTRA__IN_CONFIRM, 0, NULL, NULL, NULL, NULL};
    return run_action(h, id, &a, out, err);
}

int constra_intent_retry(constra_t *h, const char *id, constra_intent **out, constra_error *err)
{
    action a = {CONSTRA__IN_RETRY, 0, NULL, NULL, NULL, NULL};
    return run_action(h, id, &a, out, err);
}

int constra_intent_cancel(constra_t *h, const char *id, constra_intent **out, constra_error *err)
{
    action a = {CONSTRA__IN_CANCEL, 0, NULL, NULL, NULL, NULL};
    return run_action(h, id, &a, out, err);
}

int constra_intent_resolve(constra_t *h, const char *id, int succeeded, const char *receipt,
                           const char *note, constra_intent **out, constra_error *err)
{
    if (h == NULL) {
        return constra__fail_null(err, "handle");
    }
    constra_error e = CONSTRA_ERROR_INIT;
    int rc = CONSTRA_OK;
    if (succeeded) {
        size_t len;
        rc = constra__check_str(receipt, CONSTRA_RAIL_RECEIPT_SIZE - 1, 0, "receipt", &len, &e);
    }
    if (rc == CONSTRA_OK && note) {
        rc = constra__check_str(note, CONSTRA__NOTE_MAX, 1, "note", NULL, &e);
    }
    if (rc != CONSTRA_OK) {
        if (out) {
            *out = NULL;
        }
        return constra__report(rc, &e, err);
    }
    action a = {succeeded ? CONSTRA__IN_RESOLVE_SUCCEEDED : CONSTRA__IN_RESOLVE_FAILED, succeeded,
                receipt, note, NULL, NULL};
    return run_action(h, id, &a, out, err);
}


/* ---- provider results ----------------------------------------------------------- */

/* Room to keep one more unmatched callback this hour (see
 * CONSTRA_UNMATCHED_CALLBACKS_PER_HOUR): 1, or 0 and counted as dropped. */
static int unmatched_room(constra_t *h, int64_t now)
{
    constra__lock(&h->platform, h->mutex);
    if (now - h->unmatched_window_ms >= INT64_C(3600000) || now < h->unmatched_window_ms) {
        h->unmatched_window_ms = now;
        h->unmatched_in_window = 0;
    }
    int room = h->unmatched_in_window < CONSTRA_UNMATCHED_CALLBACKS_PER_HOUR;
    if (room) {
        h->unmatched_in_window++;
    } else {
        h->unmatched_dropped++;
    }
    uint64_t dropped = h->unmatched_dropped;
    constra__unlock(&h->platform, h->mutex);
    if (!room && (dropped == 1 || dropped % 1000 == 0)) {
        constra__log(&h->platform, CONSTRA_LOG_WARN,
                     "dropped an unmatched callback past %d this hour (%llu so far)",
                     CONSTRA_UNMATCHED_CALLBACKS_PER_HOUR, (unsigned long long)dropped);
    }
    return room;
}

static int keep_unmatched(constra_t *h, const constra_rail_result *r, int64_t now, constra_error *e)
{
    if (!unmatched_room(h, now)) {
        return CONSTRA_OK; /* acknowledged, counted, not stored */
    }
    char evt_id[CONSTRA_ID_SIZE];
    int rc = constra__new_id(h, "evt", evt_id, sizeof(evt_id), e);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra__sbuf b;
    constra__sbuf_init(&b, &h->platform);
    constra__sbuf_puts(&b, "{");
    constra__sbuf_json_key(&b, "id", 1);
    constra__sbuf_json_str(&b, evt_id);
    constra__sbuf_json_key(&b, "type", 0);
    constra__sbuf_json_str(&b, "callback.unmatched");
    constra__sbuf_json_key(&b, "created_at", 0);
    constra__sbuf_json_time(&b, now);
    constra__sbuf_json_key(&b, "data", 0);
    constra__sbuf_puts(&b, "{");
    constra__sbuf_json_key(&b, "checkout_request_id", 1);
    constra__sbuf_json_str(&b, r->checkout_request_id);
    constra__sbuf_json_key(&b, "merchant_request_id", 0);
    constra__sbuf_json_str(&b, r->merchant_request_id);
    constra__sbuf_json_key(&b, "provider_result_code", 0);
    constra__sbuf_json_str(&b, r->result_code);
    constra__sbuf_json_key(&b, "provider_result_desc", 0);
    constra__sbuf_json_str(&b, r->result_desc);
    constra__sbuf_json_key(&b, "receipt", 0);
    constra__sbuf_json_str(&b, r->receipt[0] ? r->receipt : NULL);
    constra__sbuf_json_key(&b, "amount", 0);
    constra__sbuf_int(&b, r->amount);
    constra__sbuf_puts(&b, "}}");
    size_t len;
    char *doc = constra__sbuf_take(&b, &len);
    if (doc == NULL) {
        return constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    constra_storage_event ev = {sizeof(ev), evt_id, "", "callback.unmatched", now, 0, doc, len};
    constra_storage_write w = {sizeof(w), NULL, 0, &ev, 1, NULL};
    rc = h->storage.commit(h->storage.user_data, &w);
    constra__free(&h->platform, doc);
    return rc == CONSTRA_OK ? CONSTRA_OK : storage_error(e, rc, "keeping an unmatched callback");
}

/* A final failure (or refusal) is already recorded for this attempt. */
static int attempt_has_failure(const constra__attempt *a)
{
    return a->state == CONSTRA__ATTEMPT_REJECTED ||
           (a->state == CONSTRA__ATTEMPT_COMPLETED && a->result_code[0] != '\0' &&
            strcmp(a->result_code, "0") != 0);
}

/* The same success again: a receipt the intent holds, or a receipt-less
 * repeat for an attempt that already succeeded. */
static int is_repeat_success(const struct constra_intent *in, const constra__attempt *a,
                             const char *receipt)
{
    if (receipt[0] != '\0') {
        return constra__model_has_receipt(in, receipt);
    }
    return a->state == CONSTRA__ATTEMPT_COMPLETED && strcmp(a->result_code, "0") == 0;
}

/* The receipts on the intent as "A, B" for notes. */
static void receipt_list(const struct constra_intent *in, char *out, size_t size)
{
    out[0] = '\0';
    size_t n = 0;
    for (int i = 0; i < in->receipt_count && n + 1 < size; i++) {
        int w = snprintf(out + n, size - n, "%s%s", i ? ", " : "", in->receipts[i]);
        if (w < 0) {
            break;
        }
        n += (size_t)w < size - n ? (size_t)w : size - n - 1;
    }
}

/* The operator's note for a success that needs a person (or tells one). */
static void success_note(const struct constra_intent *in, int from_status, const char *reason,
                         const char *receipt, int attempt_no, char *note, size_t size)
{
    char all[CONSTRA__RECEIPTS_MAX * (CONSTRA_RAIL_RECEIPT_SIZE + 2) + 1];
    receipt_list(in, all, sizeof(all));
    if (strcmp(reason, "success_without_receipt") == 0) {
        snprintf(note, size,
                 "M-Pesa reported attempt %d as paid but sent no receipt number: there is no "
                 "proof of payment. Find the payment on the M-Pesa statement, then resolve as "
                 "succeeded with its receipt, or as failed. Do not charge again meanwhile.",
                 attempt_no);
    } else if (strcmp(reason, "paid_twice") == 0) {
        snprintf(note, size,
                 "The customer paid twice (receipts %s). Refund the extra payment, then resolve "
                 "as succeeded.",
                 all);
    } else if (strcmp(reason, "late_success") == 0) {
        snprintf(note, size,
                 "Money arrived (receipt %s, attempt %d) after this intent was %s. Do not charge "
                 "again: honour the order (resolve as succeeded) or refund the customer and "
                 "resolve as failed.",
                 receipt[0] ? receipt : "unknown", attempt_no,
                 from_status == CONSTRA_INTENT_REQUIRES_RECOVERY ? "marked for recovery"
                                                                 : constra_intent_status_name(
                                                                       from_status));
    } else if (strcmp(reason, "earlier_attempt_paid") == 0) {
        snprintf(note, size,
                 "Paid on an earlier prompt (attempt %d, receipt %s). A newer prompt may still be "
                 "on the customer's phone: if it is paid too, this intent goes to review.",
                 attempt_no, receipt[0] ? receipt : "unknown");
    } else if (strcmp(reason, "result_during_review") == 0) {
        snprintf(note, size,
                 "Another payment arrived during review (attempt %d, receipt %s). Receipts on "
                 "this intent: %s. Refund what is not owed before resolving.",
                 attempt_no, receipt[0] ? receipt : "unknown", all);
    } else {
        note[0] = '\0';
    }
}

/*
 * Decides what a provider result means for this intent and commits it:
 * one rule set for every attempt, current or superseded, at any time
 * (the table test in tests/engine/test_engine.c walks it):
 *
 *   - the same receipt again, or a failure for an attempt that already has
 *     one: a duplicate, recorded, nothing changes;
 *   - a success while pending: succeeded (the current attempt's, or an
 *     earlier one's while a newer prompt is open), unless it carries no
 *     receipt (success_without_receipt) or not the money asked for
 *     (amount_mismatch, phone_mismatch): review;
 *   - a success after the intent reached requires_recovery, failed or
 *     cancelled: review, late_success; after succeeded: review,
 *     paid_twice; during review: recorded for the person deciding. Every
 *     receipt stays on the intent; retries are refused in review.
 *   - a failure for the current attempt while pending: the machine's
 *     recovery rules; for a superseded attempt or a closed intent: a note.
 *
 * `by_rail`: the result came from the rail itself (its query or poll:
 * the provider asked over its authenticated API, or the in-process
 * simulator), not from a request off the network; a query learns no
 * receipt, so such a success needs none. Callbacks and simulated
 * callbacks must carry one.
 */
static int apply_to(constra_t *h, struct constra_intent *in, const constra_rail_result *r,
                    int by_rail, int64_t now, constra_error *e)
{
    constra__attempt *a = constra__model_attempt_by_checkout(in, r->checkout_request_id);
    if (a == NULL) {
        return constra__fail(e, CONSTRA_E_NOT_FOUND, "resource_missing", "checkout_request_id",
                             "no attempt with this checkout id");
    }
    constra__classified c;
    constra__classify(r->result_code, r->result_desc, &c);
    int current = a == constra__model_current(in);
    int attempt_no = (int)(a - in->attempts) + 1;
    int success = c.input == CONSTRA__IN_SUCCEEDED;
    int from_status = in->status;
    constra__input input = c.input;
    const char *doubt = NULL; /* why a success is not taken as paid */
    int fills_receipt = 0;    /* the receipt of a payment known without one */
    if (success && r->receipt[0] && a->state == CONSTRA__ATTEMPT_COMPLETED &&
        strcmp(a->result_code, "0") == 0 && a->receipt[0] == '\0') {
        /* The attempt's success was learnt by query (no receipt); this is
         * the callback of the same payment: its receipt, not a second one. */
        input = CONSTRA__IN_DUPLICATE;
        fills_receipt = !constra__model_has_receipt(in, r->receipt);
    } else if (success && is_repeat_success(in, a, r->receipt)) {
        input = CONSTRA__IN_DUPLICATE;
    } else if (!success && c.input != CONSTRA__IN_PENDING && attempt_has_failure(a)) {
        input = CONSTRA__IN_DUPLICATE;
    } else if (success) {
        if (r->receipt[0] == '\0' && !by_rail) {
            doubt = "success_without_receipt";
        } else if (r->amount >= 0 && r->amount != in->amount) {
            doubt = "amount_mismatch";
        } else if (r->phone[0] != '\0' && strcmp(r->phone, in->phone) != 0) {
            doubt = "phone_mismatch";
        }
        if (doubt && in->status == CONSTRA_INTENT_PENDING_USER_ACTION) {
            input = CONSTRA__IN_REVIEW;
        } else {
            input = current ? CONSTRA__IN_SUCCEEDED : CONSTRA__IN_OTHER_ATTEMPT_SUCCEEDED;
        }
    } else if (!current) {
        input = CONSTRA__IN_OTHER_ATTEMPT_RESULT;
    }
    constra__step st = constra__machine_step(in->status, input,
                                             in->max_attempts - in->attempt_count);
    if (st.verdict == CONSTRA__NOTHING || st.verdict == CONSTRA__REFUSE ||
        st.verdict == CONSTRA__CALL_RAIL) {
        return CONSTRA_OK;
    }
    if (fills_receipt) {
        constra__strlcpy(a->receipt, r->receipt, sizeof(a->receipt));
        (void)constra__model_add_receipt(in, r->receipt);
    }
    if (input != CONSTRA__IN_DUPLICATE) {
        a->state = CONSTRA__ATTEMPT_COMPLETED;
        a->completed_at_ms = now;
        constra__strlcpy(a->result_code, r->result_code, sizeof(a->result_code));
        constra__strlcpy(a->result_desc, r->result_desc, sizeof(a->result_desc));
        if (success && r->receipt[0]) {
            constra__strlcpy(a->receipt, r->receipt, sizeof(a->receipt));
            /* Past CONSTRA__RECEIPTS_MAX payments for one intent the list
             * is full; the attempt and the event below still name it. */
            (void)constra__model_add_receipt(in, r->receipt);
        }
    }
    in->event_attempt = attempt_no;
    char note[CONSTRA__NOTE_MAX + 1];
    if (st.verdict == CONSTRA__MOVE) {
        constra__strlcpy(in->result_code, r->result_code, sizeof(in->result_code));
        constra__strlcpy(in->result_desc, r->result_desc, sizeof(in->result_desc));
        constra__classified review = {CONSTRA__IN_REVIEW, "operator_review", 0, NULL};
        if (st.to == CONSTRA_INTENT_REVIEW_REQUIRED && doubt &&
            strcmp(doubt, "success_without_receipt") != 0 && strcmp(doubt, "paid_twice") != 0) {
            snprintf(note, sizeof(note),
                     "M-Pesa reports a payment that does not match this intent (%s: paid %lld "
                     "from %s). Check the statement, then refund or resolve.",
                     doubt, (long long)r->amount, r->phone[0] ? "the payer" : "unknown");
            review.note = note;
            st.reason = doubt;
        } else if (st.to == CONSTRA_INTENT_REVIEW_REQUIRED && success) {
            if (doubt) {
                st.reason = doubt;
            }
            success_note(in, from_status, st.reason, r->receipt, attempt_no, note, sizeof(note));
            review.note = note;
        }
        apply_move(h, in, &st,
                   st.to == CONSTRA_INTENT_REVIEW_REQUIRED && review.note ? &review : &c, now);
        if (st.to == CONSTRA_INTENT_SUCCEEDED && !current) {
            success_note(in, from_status, st.reason, r->receipt, attempt_no, in->agent_note,
                         sizeof(in->agent_note));
        }
    } else if (success && input != CONSTRA__IN_DUPLICATE &&
               in->status == CONSTRA_INTENT_REVIEW_REQUIRED) {
        st.reason = "result_during_review";
        success_note(in, from_status, st.reason, r->receipt, attempt_no, in->agent_note,
                     sizeof(in->agent_note));
    }
    int rc = save(h, in, in->version, st.event, st.reason, NULL, now, e);
    in->event_attempt = 0;
    return rc;
}

typedef struct find_ctx {
    struct constra_intent *in;
    int rc;
} find_ctx;

int constra__engine_apply_result(constra_t *h, const constra_rail_result *r, int by_rail,
                                 int64_t now, constra_error *e)
{
    if (r->checkout_request_id[0] == '\0') {
        return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "parameter_missing",
                             "checkout_request_id", "the result names no checkout request");
    }
    struct constra_intent *in = new_intent(h);
    if (in == NULL) {
        return constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    int rc = CONSTRA_OK;
    for (int tries = 0; tries < CAS_RETRIES; tries++) {
        load_ctx l = {h, in, CONSTRA_E_STORAGE};
        rc = h->storage.find_by_checkout(h->storage.user_data, r->checkout_request_id, load_row,
                                         &l);
        if (rc == CONSTRA_E_NOT_FOUND) {
            rc = keep_unmatched(h, r, now, e);
            break;
        }
        if (rc != CONSTRA_OK || l.rc != CONSTRA_OK) {
            rc = storage_error(e, rc != CONSTRA_OK ? rc : l.rc, "finding the intent");
            break;
        }
        rc = apply_to(h, in, r, by_rail, now, e);
        if (rc != CONSTRA_E_CONFLICT) {
            break;
        }
    }
    constra_intent_free(in);
    return rc;
}

int constra_intent_simulate_callback(constra_t *h, const char *id, const char *result_code,
                                     const char *result_desc, constra_intent **out,
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
    int rc = CONSTRA_OK;
    if (h->mode != CONSTRA_MODE_SANDBOX) {
        rc = constra__fail_http(&e, CONSTRA_E_UNSUPPORTED, 403, "sandbox_only", NULL,
                                "simulated callbacks are refused on a live handle");
    }
    if (rc == CONSTRA_OK) {
        rc = constra__check_str(result_code, CONSTRA_RAIL_CODE_SIZE - 1, 0, "result_code", NULL,
                                &e);
    }
    if (rc == CONSTRA_OK && result_desc) {
        rc = constra__check_str(result_desc, CONSTRA_RAIL_DESC_SIZE - 1, 1, "result_desc", NULL, &e);
    }
    if (rc == CONSTRA_OK) {
        rc = check_id(id, &e);
    }
    if (rc == CONSTRA_OK && h->remote_ops) {
        constra__remote_action ra = {CONSTRA__ACT_SIMULATE, id, 0, NULL, NULL, result_code,
                                     result_desc};
        rc = h->remote_ops->action(h, &ra, out, &e);
        return constra__report(rc, &e, err);
    }
    struct constra_intent *in = NULL;
    if (rc == CONSTRA_OK && (in = new_intent(h)) == NULL) {
        rc = constra__fail(&e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    /* One read per try: the result is applied to the intent as loaded, and
     * the snapshot handed back is the state just committed. */
    for (int tries = 0; rc == CONSTRA_OK && tries < CAS_RETRIES; tries++) {
        rc = load(h, id, in, &e);
        constra__attempt *a = rc == CONSTRA_OK ? constra__model_current(in) : NULL;
        if (rc == CONSTRA_OK && (a == NULL || a->checkout[0] == '\0')) {
            rc = constra__fail_http(&e, CONSTRA_E_INVALID_STATE, 409, "invalid_state", "id",
                                    "payment intent in status %s has no prompt to answer",
                                    constra_intent_status_name(in->status));
        }
        if (rc != CONSTRA_OK) {
            break;
        }
        int64_t now = constra__wall_ms(&h->platform);
        constra_rail_result r;
        memset(&r, 0, sizeof(r));
        r.struct_size = sizeof(r);
        r.outcome = CONSTRA_RAIL_FINAL;
        constra__strlcpy(r.checkout_request_id, a->checkout, sizeof(r.checkout_request_id));
        constra__strlcpy(r.result_code, result_code, sizeof(r.result_code));
        constra__strlcpy(r.result_desc, result_desc ? result_desc : "", sizeof(r.result_desc));
        r.amount = -1;
        if (strcmp(result_code, "0") == 0) {
            /* A receipt as the simulator makes them. */
            /* Derived from the attempt: simulating one payment twice is
             * a duplicate, as a repeated real callback would be. */
            constra__mpesa_receipt_derived(a->id, a->started_at_ms, r.receipt);
            r.amount = in->amount;
            constra__strlcpy(r.phone, in->phone, sizeof(r.phone));
            r.paid_at_ms = now;
        }
        rc = apply_to(h, in, &r, 0, now, &e);
        if (rc != CONSTRA_E_CONFLICT) {
            break;
        }
        rc = CONSTRA_OK; /* lost a race: read again and re-decide */
        if (tries == CAS_RETRIES - 1) {
            rc = constra__fail(&e, CONSTRA_E_CONFLICT, "conflict", "id",
                               "the intent keeps changing; try again");
        }
    }
    return hand_out(h, in, rc, &e, out, err);
}


int constra_intent_refresh(constra_t *h, const char *id, constra_intent **out, constra_error *err)
{
    if (h == NULL) {
        return constra__fail_null(err, "handle");
    }
    constra_error e = CONSTRA_ERROR_INIT;
    if (out == NULL) {
        return constra__report(constra__fail_null(&e, "out"), &e, err);
    }
    *out = NULL;
    int rc = check_id(id, &e);
    if (rc == CONSTRA_OK && h->remote_ops) {
        rc = h->remote_ops->refresh(h, id, out, &e);
        return constra__report(rc, &e, err);
    }
    struct constra_intent *in = NULL;
    if (rc == CONSTRA_OK && (in = new_intent(h)) == NULL) {
        rc = constra__fail(&e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    for (int tries = 0; rc == CONSTRA_OK && tries < CAS_RETRIES; tries++) {
        rc = load(h, id, in, &e);
        if (rc != CONSTRA_OK || in->status != CONSTRA_INTENT_PENDING_USER_ACTION ||
            h->rail.query == NULL) {
            break;
        }
        constra__attempt *a = constra__model_current(in);
        if (a == NULL || a->state != CONSTRA__ATTEMPT_SENT || a->checkout[0] == '\0') {
            break;
        }
        /* Ask the rail now, as the time-out would: a final answer settles
         * the attempt exactly as a confirmed callback does; anything else
         * (still pending, the rail unreachable) leaves it as it was. */
        int64_t now = constra__wall_ms(&h->platform);
        constra_rail_result q;
        memset(&q, 0, sizeof(q));
        q.struct_size = sizeof(q);
        if (h->rail.query(h->rail.user_data, a->checkout, now, &q) != CONSTRA_OK ||
            q.outcome != CONSTRA_RAIL_FINAL) {
            break;
        }
        constra__strlcpy(q.checkout_request_id, a->checkout, sizeof(q.checkout_request_id));
        q.amount = q.receipt[0] ? q.amount : -1;
        rc = apply_to(h, in, &q, 1, now, &e);
        if (rc == CONSTRA_E_CONFLICT) {
            rc = CONSTRA_OK; /* changed meanwhile (a callback): look again */
            continue;
        }
        if (rc == CONSTRA_OK) {
            rc = load(h, id, in, &e);
        }
        break;
    }
    return hand_out(h, in, rc, &e, out, err);
}

/* ---- time ----------------------------------------------------------------------- */

typedef struct tick_ctx {
    constra_t *h;
    int64_t now;
    int rc;
    constra_error *e;
} tick_ctx;

static int tick_result(void *ctx, const constra_rail_result *r)
{
    tick_ctx *t = ctx;
    int rc = constra__engine_apply_result(t->h, r, 1, t->now, t->e);
    if (rc != CONSTRA_OK && t->rc == CONSTRA_OK) {
        t->rc = rc;
    }
    return 0;
}

/* A pending intent past its time-out: ask the rail, else give up waiting. */
static int expire_one(constra_t *h, const char *id, int64_t now, constra_error *e)
{
    struct constra_intent *in = new_intent(h);
    if (in == NULL) {
        return constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    int rc = CONSTRA_OK;
    for (int tries = 0; tries < CAS_RETRIES; tries++) {
        rc = load(h, id, in, e);
        if (rc != CONSTRA_OK || in->status != CONSTRA_INTENT_PENDING_USER_ACTION ||
            in->due_at_ms == 0 || in->due_at_ms > now) {
            break;
        }
        constra__attempt *a = constra__model_current(in);
        if (a && a->state == CONSTRA__ATTEMPT_SENT && h->rail.query) {
            constra_rail_result q;
            memset(&q, 0, sizeof(q));
            q.struct_size = sizeof(q);
            if (h->rail.query(h->rail.user_data, a->checkout, now, &q) == CONSTRA_OK &&
                q.outcome == CONSTRA_RAIL_FINAL) {
                constra__strlcpy(q.checkout_request_id, a->checkout, sizeof(q.checkout_request_id));
                q.amount = q.receipt[0] ? q.amount : -1;
                rc = apply_to(h, in, &q, 1, now, e);
                if (rc == CONSTRA_E_CONFLICT) {
                    continue;
                }
                break;
            }
        }
        constra__step st;
        constra__classified c;
        if (a && a->state == CONSTRA__ATTEMPT_SENT) {
            c = (constra__classified){CONSTRA__IN_TIMEOUT, "retry", 1,
                                      "No answer from the customer's phone in time. The prompt "
                                      "may still be paid: check for a payment before offering a "
                                      "retry."};
            st = constra__machine_step(in->status, CONSTRA__IN_TIMEOUT,
                                       in->max_attempts - in->attempt_count);
        } else {
            /* Sent with no answer, or its outcome was never recorded: money
             * may have moved. A person checks before anything else. */
            c = (constra__classified){CONSTRA__IN_REVIEW, "operator_review", 0,
                                      "A payment prompt may have reached the customer but its "
                                      "outcome is unknown. Check the M-Pesa statement before "
                                      "retrying."};
            st = constra__machine_step(in->status, CONSTRA__IN_REVIEW,
                                       in->max_attempts - in->attempt_count);
            st.reason = "outcome_unknown";
        }
        if (a) {
            /* Not a result: the prompt may still be paid, and a success
             * arriving later is news (late_success), never a duplicate. */
            a->state = CONSTRA__ATTEMPT_TIMED_OUT;
            a->completed_at_ms = now;
        }
        if (st.verdict == CONSTRA__MOVE) {
            apply_move(h, in, &st, &c, now);
        }
        rc = save(h, in, in->version, st.event, st.reason, NULL, now, e);
        if (rc != CONSTRA_E_CONFLICT) {
            break;
        }
    }
    constra_intent_free(in);
    return rc;
}

typedef struct id_batch {
    char ids[64][CONSTRA_ID_SIZE];
    int64_t due[64];
    int policy[64];
    int count;
} id_batch;

static int batch_row(void *ctx, const constra_storage_intent *row)
{
    id_batch *b = ctx;
    constra__strlcpy(b->ids[b->count], row->id, CONSTRA_ID_SIZE);
    b->count++;
    return b->count == 64;
}

/* Calls fn for every intent with this status, in pages. */
static int for_each_status(constra_t *h, const char *status, int64_t now, constra_error *e,
                           int (*fn)(constra_t *, const char *, int64_t, constra_error *))
{
    char cursor[CONSTRA_ID_SIZE] = "";
    int first_rc = CONSTRA_OK;
    for (;;) {
        id_batch b;
        b.count = 0;
        constra_storage_query q = {sizeof(q), status, NULL, 0, 0, cursor[0] ? cursor : NULL, 64};
        int rc = h->storage.list_intents(h->storage.user_data, &q, batch_row, &b);
        if (rc != CONSTRA_OK) {
            return storage_error(e, rc, "listing intents");
        }
        for (int i = 0; i < b.count; i++) {
            rc = fn(h, b.ids[i], now, e);
            if (rc != CONSTRA_OK && first_rc == CONSTRA_OK) {
                first_rc = rc;
            }
        }
        if (b.count < 64) {
            return first_rc;
        }
        constra__strlcpy(cursor, b.ids[b.count - 1], sizeof(cursor));
    }
}

/* Whether an attempt can still turn out paid: no result yet (timed out,
 * outcome unknown), or 1037 ("DS timeout user cannot be reached": the
 * prompt may still reach the phone; daraja.md says query before
 * re-pushing). Anything else final by callback or query is settled. */
static int attempt_may_still_pay(const constra__attempt *a)
{
    switch (a->state) {
    case CONSTRA__ATTEMPT_SENDING:
    case CONSTRA__ATTEMPT_SENT:
    case CONSTRA__ATTEMPT_UNKNOWN:
    case CONSTRA__ATTEMPT_TIMED_OUT:
        return 1;
    case CONSTRA__ATTEMPT_COMPLETED:
        return strcmp(a->result_code, "1037") == 0;
    default:
        return 0;
    }
}

/* How often auto-retry asks the rail about an unsettled prompt. */
#define AUTO_RETRY_QUERY_EVERY_MS INT64_C(30000)

/*
 * agent_policy auto_retry: sends the next attempt by itself, but never
 * while an earlier attempt of the intent can still be paid. Such an
 * attempt is first asked about (the rail's query, at most every 30 s):
 * a final failure settles it and the retry goes out; a success is applied
 * (the intent goes to review: late_success); "still processing", an
 * error, or a rail that cannot query leave it waiting for a person, who
 * may retry after checking (constra_intent_retry()).
 */
static int auto_retry_one(constra_t *h, const char *id, int64_t now, constra_error *e)
{
    struct constra_intent *in = new_intent(h);
    if (in == NULL) {
        return constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    int rc = load(h, id, in, e);
    if (rc != CONSTRA_OK || in->agent_policy != CONSTRA_AGENT_AUTO_RETRY || !in->retry_allowed ||
        in->status != CONSTRA_INTENT_REQUIRES_RECOVERY ||
        strcmp(in->recommended_action, "retry") != 0 || in->attempt_count >= in->max_attempts) {
        constra_intent_free(in);
        return rc;
    }
    constra__attempt *a = constra__model_current(in);
    if (a && attempt_may_still_pay(a)) {
        int settled = 0;
        if (h->rail.query && a->checkout[0] && now - a->queried_at_ms >= AUTO_RETRY_QUERY_EVERY_MS) {
            constra_rail_result q;
            memset(&q, 0, sizeof(q));
            q.struct_size = sizeof(q);
            int qrc = h->rail.query(h->rail.user_data, a->checkout, now, &q);
            a->queried_at_ms = now;
            if (qrc == CONSTRA_OK && q.outcome == CONSTRA_RAIL_FINAL) {
                constra__strlcpy(q.checkout_request_id, a->checkout, sizeof(q.checkout_request_id));
                constra__classified qc;
                constra__classify(q.result_code, q.result_desc, &qc);
                if (qc.input == CONSTRA__IN_SUCCEEDED || qc.input == CONSTRA__IN_REVIEW ||
                    qc.input == CONSTRA__IN_PENDING) {
                    q.amount = q.receipt[0] ? q.amount : -1;
                    rc = apply_to(h, in, &q, 1, now, e); /* paid after all: to review */
                    constra_intent_free(in);
                    return rc == CONSTRA_E_CONFLICT ? CONSTRA_OK : rc;
                }
                /* Settled as not paid, by the provider's own answer. */
                a->state = CONSTRA__ATTEMPT_COMPLETED;
                a->completed_at_ms = now;
                constra__strlcpy(a->result_code, q.result_code, sizeof(a->result_code));
                constra__strlcpy(a->result_desc, q.result_desc, sizeof(a->result_desc));
                settled = 1;
            } else {
                /* Remember when it was asked, so the provider is not asked
                 * every tick. */
                rc = save(h, in, in->version, NULL, NULL, NULL, now, e);
            }
        }
        if (!settled) {
            constra_intent_free(in);
            return rc == CONSTRA_E_CONFLICT ? CONSTRA_OK : rc;
        }
    }
    rc = run_attempt(h, in, 0, NULL, e);
    if (rc == CONSTRA_E_CONFLICT) {
        rc = CONSTRA_OK; /* someone else acted first: fine */
    }
    constra_intent_free(in);
    return rc;
}

int constra_tick(constra_t *h, int64_t now_ms, constra_error *err)
{
    if (h == NULL) {
        return constra__fail_null(err, "handle");
    }
    if (h->remote_ops) {
        return CONSTRA_OK; /* a remote server drives its own time */
    }
    constra_error e = CONSTRA_ERROR_INIT;
    tick_ctx t = {h, now_ms, CONSTRA_OK, &e};
    if (h->rail.poll) {
        int rc = h->rail.poll(h->rail.user_data, now_ms, tick_result, &t);
        if (rc != CONSTRA_OK && t.rc == CONSTRA_OK) {
            t.rc = constra__fail(&e, CONSTRA_E_PROVIDER, "rail_error", NULL,
                                 "the rail's poll failed (status %d)", rc);
        }
    }
    int rc = for_each_status(h, "pending_user_action", now_ms, &e, expire_one);
    if (rc != CONSTRA_OK && t.rc == CONSTRA_OK) {
        t.rc = rc;
    }
    rc = for_each_status(h, "requires_recovery", now_ms, &e, auto_retry_one);
    if (rc != CONSTRA_OK && t.rc == CONSTRA_OK) {
        t.rc = rc;
    }
    if (h->storage.purge_expired) {
        h->storage.purge_expired(h->storage.user_data, now_ms);
    }
    /* Webhooks only with a transport: a handle that cannot send leaves
     * its storage untouched here (constra_webhooks_tick() still queues). */
    if (h->transport.send != NULL) {
        rc = constra__webhooks_tick(h, now_ms, &e);
        if (rc != CONSTRA_OK && t.rc == CONSTRA_OK) {
            t.rc = rc;
        }
    }
    return constra__report(t.rc, &e, err);
}

/* ---- accessors ----------------------------------------------------------------- */

#define GETTER(type, name, expr, fallback)                 \
    type constra_intent_##name(const constra_intent *in)   \
    {                                                      \
        return in ? (expr) : (fallback);                   \
    }

GETTER(const char *, id, in->id, "")
GETTER(int, status, in->status, 0)
GETTER(int64_t, amount, in->amount, 0)
GETTER(const char *, currency, in->currency, "")
GETTER(const char *, provider, in->provider, "")
GETTER(const char *, reference, in->reference, "")
GETTER(const char *, description, in->description, "")
GETTER(const char *, customer_name, in->customer_name, "")
GETTER(const char *, phone_number, in->phone, "")
GETTER(int, agent_policy, in->agent_policy, 0)
GETTER(const char *, checkout_request_id,
       in->attempt_count ? in->attempts[in->attempt_count - 1].checkout : "", "")
GETTER(const char *, provider_action_state, constra__provider_action_state(in), "")
GETTER(const char *, next_action, constra__next_action(in), "")
GETTER(const char *, result_code, in->result_code, "")
GETTER(const char *, result_desc, in->result_desc, "")
GETTER(const char *, receipt, in->receipt, "")
GETTER(const char *, recommended_action, in->recommended_action, "")
GETTER(int, retry_allowed, in->retry_allowed, 0)
GETTER(int, attempts_used, in->attempt_count, 0)
GETTER(int, attempts_left,
       in->max_attempts > in->attempt_count ? in->max_attempts - in->attempt_count : 0, 0)
GETTER(const char *, agent_note, in->agent_policy == CONSTRA_AGENT_NONE ? "" : in->agent_note, "")
GETTER(int64_t, created_at_ms, in->created_at_ms, 0)
GETTER(int64_t, updated_at_ms, in->updated_at_ms, 0)
GETTER(int, replayed, in->replayed, 0)

const char *constra_intent_json(const constra_intent *in, size_t *len)
{
    if (len) {
        *len = in && in->json ? in->json_len : 0;
    }
    return in && in->json ? in->json : "";
}
