/*
 * The payment-intent lifecycle: create, reads, operator actions and
 * provider results. Every change is one compare-and-set commit of the
 * intent with the one event that records it (lifecycle.h). Beside it:
 * idempotency.c (which request a key belongs to, replays) and tick.c
 * (what the clock makes due: time-outs, auto-retries).
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
#include "engine/idempotency.h"
#include "engine/lifecycle.h"
#include "platform/platform.h"
#include "mpesa/receipt.h"
#include "util/check.h"
#include "util/encode.h"
#include "util/sbuf.h"
#include "util/hmac.h"


/* ---- snapshots and loading -------------------------------------------- */

struct constra_intent *constra__intent_new(constra_t *h)
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
    constra__model_release(in);
    constra__free(&p, in->json);
    constra__free(&p, in);
}

typedef struct load_ctx {
    constra_t *h;
    struct constra_intent *in;
    int rc;
} load_ctx;

static int load_row(void *ctx, const constra__res_intent *row)
{
    load_ctx *l = ctx;
    if (constra__cache_get(l->h, row->id, row->version, l->in)) {
        l->rc = CONSTRA_OK;
    } else {
        l->rc = constra__model_parse(l->in, row->document, row->document_len);
        l->in->version = row->version;
    }
    l->in->indexed_due_ms = row->due_at_ms;
    return 1;
}

int constra__storage_error(constra_error *e, int rc, const char *what)
{
    if (rc == CONSTRA_E_NOT_FOUND || rc == CONSTRA_E_CONFLICT || rc == CONSTRA_E_NOMEM ||
        rc == CONSTRA_E_INVALID_ARGUMENT) {
        return rc;
    }
    return constra__fail(e, CONSTRA_E_STORAGE, "storage_error", NULL,
                         "storage failed while %s (status %d); nothing was changed", what, rc);
}

int constra__intent_load(constra_t *h, const char *id, struct constra_intent *in, constra_error *e)
{
    load_ctx l = {h, in, CONSTRA_E_STORAGE};
    int rc = h->storage.get_intent(h->storage.user_data, id, load_row, &l);
    if (rc == CONSTRA_E_NOT_FOUND) {
        return constra__fail(e, CONSTRA_E_NOT_FOUND, "resource_missing", "id",
                             "no payment intent %s", id);
    }
    if (rc != CONSTRA_OK) {
        return constra__storage_error(e, rc, "reading the intent");
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
int constra__intent_finish(constra_t *h, struct constra_intent *in, constra_error *e)
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
        rc = constra__intent_finish(h, in, e);
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
    constra__sbuf_json_key(&b, "metadata", 0);
    constra__metadata_write(&b, in);
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
                const char *reason, const constra__res_idempotency *idem, int idem_insert,
                int64_t now, constra_error *e);

int constra__intent_save(constra_t *h, struct constra_intent *in, int64_t expected, const char *event,
                const char *reason, const constra__res_idempotency *idem, int64_t now,
                constra_error *e)
{
    return save(h, in, expected, event, reason, idem, 0, now, e);
}

/* constra__intent_save(), and with idem_insert the key's reservation in
 * the same commit (constra__res_write.idempotency_insert). */
static int save(constra_t *h, struct constra_intent *in, int64_t expected, const char *event,
                const char *reason, const constra__res_idempotency *idem, int idem_insert,
                int64_t now, constra_error *e)
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
    constra__res_idempotency done;
    if (idem) {
        done = *idem;
        if (idem->state == CONSTRA__IDEM_COMPLETED) {
            done.response = resp;
            done.response_len = resp_len;
        }
    }
    if (doc == NULL || (event && evt == NULL)) {
        rc = constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    } else {
        constra__res_intent row = {sizeof(row), in->id,
                                      constra_intent_status_name(in->status), in->reference,
                                      cur ? cur->checkout : "", in->created_at_ms,
                                      in->updated_at_ms, in->version, doc, doc_len,
                                      constra__tick_due_at(h, in)};
        in->indexed_due_ms = row.due_at_ms;
        constra__res_event ev = {sizeof(ev), evt_id, in->id, event, now, 0, evt, evt_len};
        constra__res_write w = {sizeof(w), &row, expected, event ? &ev : NULL, event ? 1 : 0,
                                   idem ? &done : NULL, idem_insert};
        rc = h->storage.commit(h->storage.user_data, &w);
        if (rc == CONSTRA_E_CONFLICT) {
            constra__fail(e, CONSTRA_E_CONFLICT, "conflict", NULL,
                          "the intent was changed concurrently");
        } else if (rc != CONSTRA_OK) {
            rc = constra__storage_error(e, rc, "saving the intent");
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
void constra__intent_apply_move(constra_t *h, struct constra_intent *in, const constra__step *st,
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
int constra__intent_run_attempt(constra_t *h, struct constra_intent *in, int inserting,
                       const constra__res_idempotency *idem, constra_error *e)
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
    constra__res_idempotency link, done;
    char link_body[CONSTRA_ID_SIZE + 16];
    if (idem) {
        link = *idem;
        link.state = CONSTRA__IDEM_IN_FLIGHT;
        link.http_status = 0;
        int n = snprintf(link_body, sizeof(link_body), "{\"id\":\"%s\"}", in->id);
        link.response = link_body;
        link.response_len = (size_t)n;
        done = *idem;
        done.state = CONSTRA__IDEM_COMPLETED;
    }
    rc = save(h, in, expected, inserting ? "payment_intent.created" : NULL, "created",
              idem ? &link : NULL, inserting == CONSTRA__INSERT_RESERVING, now, e);
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
        constra__intent_apply_move(h, in, &st, have_class ? &c : NULL, now);
    }
    int64_t sent_version = in->version;
    rc = constra__intent_save(h, in, sent_version, st.event, st.reason, idem ? &done : NULL, now, e);
    if (rc == CONSTRA_E_CONFLICT && idem) {
        /* The key is no longer ours to complete: this call outlived the
         * lease and a retry answered with the intent as it then was
         * (completing the key), or the key expired. The outcome (the
         * checkout id above all) must still be recorded: save it alone.
         * If the intent itself moved, this conflicts too and is reported
         * below, as any lost outcome. */
        rc = constra__intent_save(h, in, sent_version, st.event, st.reason, NULL, now, e);
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
    if ((rc = constra__metadata_from_text(q.metadata, &h->platform, &in->metadata,
                                          &in->metadata_len, e)) != CONSTRA_OK) {
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


/* Builds the intent a create asks for, and its request fingerprint. */
static int create_prepare(constra_t *h, const constra_intent_params *params,
                          struct constra_intent **out, char fp[65], constra_error *e)
{
    struct constra_intent *in = constra__intent_new(h);
    if (in == NULL) {
        return constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    int rc = fill_params(h, params, in, e);
    if (rc == CONSTRA_OK && constra__idem_fingerprint(in, in->status == CONSTRA_INTENT_DRAFT, fp)) {
        rc = constra__fail(e, CONSTRA_E_GENERIC, NULL, NULL,
                           "cannot compute the request fingerprint");
    }
    if (rc != CONSTRA_OK) {
        constra_intent_free(in);
        return rc;
    }
    *out = in;
    return CONSTRA_OK;
}

/* The intent's first commit (and for a pending one the rail call and the
 * outcome), with the key reserved before (reserving 0) or by that commit. */
static int create_run(constra_t *h, struct constra_intent *in, const constra__res_idempotency *rec,
                      int reserving, int64_t now, constra_error *e)
{
    in->created_at_ms = now;
    int rc = constra__new_id(h, "pi", in->id, sizeof(in->id), e);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (in->status == CONSTRA_INTENT_DRAFT) {
        /* A draft makes no rail call: its one commit inserts it and
         * completes the key. */
        set_recovery(in, "none", 0, "", "");
        in->recommended_action[0] = '\0';
        constra__res_idempotency done = *rec;
        done.state = CONSTRA__IDEM_COMPLETED;
        return save(h, in, 0, "payment_intent.created", "draft", &done, reserving, now, e);
    }
    return constra__intent_run_attempt(
        h, in, reserving ? CONSTRA__INSERT_RESERVING : CONSTRA__INSERT_RESERVED, rec, e);
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
    int rc = constra__idem_check_key(idempotency_key, &e);
    if (rc == CONSTRA_OK && h->remote_ops) {
        rc = h->remote_ops->create(h, params, idempotency_key, out, &e);
        return constra__report(rc, &e, err);
    }
    struct constra_intent *in = NULL;
    char fp[65];
    if (rc == CONSTRA_OK) {
        rc = create_prepare(h, params, &in, fp, &e);
    }
    if (rc != CONSTRA_OK) {
        return constra__report(rc, &e, err);
    }

    int64_t now = constra__wall_ms(&h->platform);
    /* lease_expires_at_ms past the expiry: no storage takes the key over
     * before it expires; the engine's lease decides (idempotency.c). */
    constra__res_idempotency rec = {sizeof(rec), idempotency_key, fp,
                                       CONSTRA__IDEM_IN_FLIGHT, 201, NULL, 0, now,
                                       now + h->idempotency_retention_ms,
                                       now + h->idempotency_retention_ms + 1};
    /* A key nobody holds (the usual case) is reserved by the intent's
     * first commit itself: one durable write reserves the key, inserts the
     * intent and records the attempt as "sending", before the rail call.
     * It conflicts, writing nothing and sending nothing, when the key has
     * a live record: then the key's holder is answered as always (a
     * replay, in flight, reused, or an abandoned key freed) and, if it
     * turns out free, the create runs on a key reserved first. */
    rc = create_run(h, in, &rec, 1, now, &e);
    if (rc == CONSTRA_E_CONFLICT && strcmp(e.code, "conflict") == 0) {
        constra_intent_free(in);
        in = NULL;
        e = (constra_error)CONSTRA_ERROR_INIT;
        rc = create_prepare(h, params, &in, fp, &e);
        struct constra_intent *got = NULL;
        if (rc == CONSTRA_OK) {
            rc = constra__idem_reserve(h, &rec, now, &got, &e);
        }
        if (rc != CONSTRA_OK || got != NULL) {
            constra_intent_free(in);
            return got ? hand_out(h, got, CONSTRA_OK, &e, out, err) : constra__report(rc, &e, err);
        }
        /* The key is ours. From here, a failure before the rail call
         * releases it (a retry runs afresh); after the rail call it is
         * never released (nor can it be: it is linked to the intent by
         * then). */
        rc = create_run(h, in, &rec, 0, now, &e);
        if (rc != CONSTRA_OK && strcmp(e.code, "outcome_unrecorded") != 0) {
            h->storage.idempotency_release(h->storage.user_data, idempotency_key, fp,
                                           rec.created_at_ms);
        }
        if (rc == CONSTRA_E_CONFLICT && strcmp(e.code, "conflict") == 0) {
            /* The first commit found the key taken over (this call
             * outlived the lease before it): another request owns it. */
            e = (constra_error)CONSTRA_ERROR_INIT;
            rc = constra__idem_in_flight(&e);
        }
    }
    /* A reserving commit that failed otherwise wrote nothing, the key
     * included: there is nothing to release (and releasing could drop a
     * reservation another request made meanwhile). */
    if (rc != CONSTRA_OK) {
        constra_intent_free(in);
        return constra__report(rc, &e, err);
    }
    return hand_out(h, in, CONSTRA_OK, &e, out, err);
}


/* ---- reads ------------------------------------------------------------------ */

/* Forward: refresh's settle step is with the provider results below. */
static int settle_now(constra_t *h, struct constra_intent *in, constra_error *e);

/* constra_intent_get() and, with `refresh`, constra_intent_refresh(). */
static int read_intent(constra_t *h, const char *id, int refresh, constra_intent **out,
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
        rc = refresh ? h->remote_ops->refresh(h, id, out, &e) : h->remote_ops->get(h, id, out, &e);
        return constra__report(rc, &e, err);
    }
    struct constra_intent *in = NULL;
    if (rc == CONSTRA_OK && (in = constra__intent_new(h)) == NULL) {
        rc = constra__fail(&e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    if (rc == CONSTRA_OK) {
        rc = constra__intent_load(h, id, in, &e);
    }
    if (rc == CONSTRA_OK && refresh) {
        rc = settle_now(h, in, &e);
    }
    return hand_out(h, in, rc, &e, out, err);
}

int constra_intent_get(constra_t *h, const char *id, constra_intent **out, constra_error *err)
{
    return read_intent(h, id, 0, out, err);
}

int constra_intent_refresh(constra_t *h, const char *id, constra_intent **out, constra_error *err)
{
    return read_intent(h, id, 1, out, err);
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
        return constra__intent_run_attempt(h, in, 0, NULL, e);
    case CONSTRA__MOVE:
        if (a->input == CONSTRA__IN_RESOLVE_SUCCEEDED) {
            constra__strlcpy(in->receipt, a->receipt, sizeof(in->receipt));
        }
        if (a->note) {
            constra__strlcpy(in->agent_note, a->note, sizeof(in->agent_note));
        }
        constra__intent_apply_move(h, in, &st, NULL, now);
        if (a->note && st.to != CONSTRA_INTENT_CANCELLED) {
            constra__strlcpy(in->agent_note, a->note, sizeof(in->agent_note));
        }
        return constra__intent_save(h, in, in->version, st.event, st.reason, NULL, now, e);
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
    if (rc == CONSTRA_OK && (in = constra__intent_new(h)) == NULL) {
        rc = constra__fail(&e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    /* Compare-and-set: if another writer got there first, look again. */
    for (int tries = 0; rc == CONSTRA_OK && tries < CONSTRA__CAS_RETRIES; tries++) {
        rc = constra__intent_load(h, id, in, &e);
        if (rc != CONSTRA_OK) {
            break;
        }
        rc = act_once(h, in, a, &e);
        if (rc != CONSTRA_E_CONFLICT || strcmp(e.code, "conflict") != 0) {
            break;
        }
        rc = CONSTRA_OK; /* lost the race: retry */
        if (tries == CONSTRA__CAS_RETRIES - 1) {
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
    constra__res_event ev = {sizeof(ev), evt_id, "", "callback.unmatched", now, 0, doc, len};
    constra__res_write w = {sizeof(w), NULL, 0, &ev, 1, NULL, 0};
    rc = h->storage.commit(h->storage.user_data, &w);
    constra__free(&h->platform, doc);
    return rc == CONSTRA_OK ? CONSTRA_OK : constra__storage_error(e, rc, "keeping an unmatched callback");
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
int constra__intent_apply_result(constra_t *h, struct constra_intent *in, const constra_rail_result *r,
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
        constra__intent_apply_move(h, in, &st,
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
    int rc = constra__intent_save(h, in, in->version, st.event, st.reason, NULL, now, e);
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
    struct constra_intent *in = constra__intent_new(h);
    if (in == NULL) {
        return constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    int rc = CONSTRA_OK;
    for (int tries = 0; tries < CONSTRA__CAS_RETRIES; tries++) {
        load_ctx l = {h, in, CONSTRA_E_STORAGE};
        rc = h->storage.find_by_checkout(h->storage.user_data, r->checkout_request_id, load_row,
                                         &l);
        if (rc == CONSTRA_E_NOT_FOUND) {
            rc = keep_unmatched(h, r, now, e);
            break;
        }
        if (rc != CONSTRA_OK || l.rc != CONSTRA_OK) {
            rc = constra__storage_error(e, rc != CONSTRA_OK ? rc : l.rc, "finding the intent");
            break;
        }
        rc = constra__intent_apply_result(h, in, r, by_rail, now, e);
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
    if (rc == CONSTRA_OK && (in = constra__intent_new(h)) == NULL) {
        rc = constra__fail(&e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    /* One read per try: the result is applied to the intent as loaded, and
     * the snapshot handed back is the state just committed. */
    for (int tries = 0; rc == CONSTRA_OK && tries < CONSTRA__CAS_RETRIES; tries++) {
        rc = constra__intent_load(h, id, in, &e);
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
        rc = constra__intent_apply_result(h, in, &r, 0, now, &e);
        if (rc != CONSTRA_E_CONFLICT) {
            break;
        }
        rc = CONSTRA_OK; /* lost a race: read again and re-decide */
        if (tries == CONSTRA__CAS_RETRIES - 1) {
            rc = constra__fail(&e, CONSTRA_E_CONFLICT, "conflict", "id",
                               "the intent keeps changing; try again");
        }
    }
    return hand_out(h, in, rc, &e, out, err);
}


int constra__intent_query_attempt(constra_t *h, const constra__attempt *a, int64_t now,
                                  constra_rail_result *q)
{
    if (h->rail.query == NULL) {
        return 0;
    }
    memset(q, 0, sizeof(*q));
    q->struct_size = sizeof(*q);
    if (h->rail.query(h->rail.user_data, a->checkout, now, q) != CONSTRA_OK ||
        q->outcome != CONSTRA_RAIL_FINAL) {
        return 0;
    }
    constra__strlcpy(q->checkout_request_id, a->checkout, sizeof(q->checkout_request_id));
    q->amount = q->receipt[0] ? q->amount : -1;
    return 1;
}

/*
 * constra_intent_refresh() on the loaded `in`: asks the rail now, as the
 * time-out would. A final answer settles the attempt exactly as a
 * confirmed callback does, and `in` is reloaded; anything else (still
 * pending, the rail unreachable, no attempt waiting) leaves it as it was.
 */
static int settle_now(constra_t *h, struct constra_intent *in, constra_error *e)
{
    char id[CONSTRA_ID_SIZE];
    constra__strlcpy(id, in->id, sizeof(id));
    for (int tries = 0; tries < CONSTRA__CAS_RETRIES; tries++) {
        if (tries > 0) {
            int rc = constra__intent_load(h, id, in, e);
            if (rc != CONSTRA_OK) {
                return rc;
            }
        }
        constra__attempt *a = constra__model_current(in);
        if (in->status != CONSTRA_INTENT_PENDING_USER_ACTION || a == NULL ||
            a->state != CONSTRA__ATTEMPT_SENT || a->checkout[0] == '\0') {
            return CONSTRA_OK;
        }
        int64_t now = constra__wall_ms(&h->platform);
        constra_rail_result q;
        if (!constra__intent_query_attempt(h, a, now, &q)) {
            return CONSTRA_OK;
        }
        int rc = constra__intent_apply_result(h, in, &q, 1, now, e);
        if (rc != CONSTRA_E_CONFLICT) {
            return rc == CONSTRA_OK ? constra__intent_load(h, id, in, e) : rc;
        }
        /* Changed meanwhile (a callback): look again. */
    }
    /* Still racing after every try: answer with what is stored, never
     * with the lost write's state. */
    return constra__intent_load(h, id, in, e);
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

const char *constra_intent_metadata_json(const constra_intent *in, size_t *len)
{
    const char *m = in && in->metadata ? in->metadata : "{}";
    if (len) {
        *len = in && in->metadata ? in->metadata_len : 2;
    }
    return m;
}
