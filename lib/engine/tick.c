/*
 * Time (constra_tick, include/constra/intent.h): what the engine does
 * because the clock moved rather than because a caller or the provider
 * spoke. One tick: the rail's own poll results; pending intents past
 * their time-out (asked about once, else timed out or sent to review);
 * auto-retries of intents whose policy allows it; expired idempotency
 * records purged; and, on a handle with a transport, webhook delivery
 * (lib/engine/webhooks.c). Every change goes through the lifecycle's
 * compare-and-set commits (lifecycle.h), so a tick racing a callback or
 * another process's tick applies each change once.
 */
#include <string.h>

#include "engine/lifecycle.h"
#include "platform/platform.h"
#include "util/check.h"

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
    struct constra_intent *in = constra__intent_new(h);
    if (in == NULL) {
        return constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    int rc = CONSTRA_OK;
    for (int tries = 0; tries < CONSTRA__CAS_RETRIES; tries++) {
        rc = constra__intent_load(h, id, in, e);
        if (rc != CONSTRA_OK || in->status != CONSTRA_INTENT_PENDING_USER_ACTION ||
            in->due_at_ms == 0 || in->due_at_ms > now) {
            break;
        }
        constra__attempt *a = constra__model_current(in);
        constra_rail_result q;
        if (a && a->state == CONSTRA__ATTEMPT_SENT && constra__intent_query_attempt(h, a, now, &q)) {
            rc = constra__intent_apply_result(h, in, &q, 1, now, e);
            if (rc == CONSTRA_E_CONFLICT) {
                continue;
            }
            break;
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
            constra__intent_apply_move(h, in, &st, &c, now);
        }
        rc = constra__intent_save(h, in, in->version, st.event, st.reason, NULL, now, e);
        if (rc != CONSTRA_E_CONFLICT) {
            break;
        }
    }
    constra_intent_free(in);
    return rc;
}

/* A tick's work is bounded: at most DUE_BATCH intents found by their due
 * time and SWEEP_PAGE per status of the sweep, so that a tick (and a
 * shutdown waiting for one) takes as long as one batch whatever is
 * stored; what is left is the next tick's. */
#define DUE_BATCH 64
#define SWEEP_PAGE 64
_Static_assert(SWEEP_PAGE <= DUE_BATCH, "a sweep page fits an id_batch");
/* The sweep walks every pending and recovering intent, a page per status
 * at most every SWEEP_STEP_MS, from the first tick on and then again
 * SWEEP_EVERY_MS after each walk ends: it finds intents stored without a
 * due time (written by 0.2, or migrated from its files) and anything the
 * due time does not foresee (a rail that could not query then can now).
 * At most 2 * SWEEP_PAGE intent reads a second, whatever is stored. */
#define SWEEP_STEP_MS INT64_C(1000)
#define SWEEP_EVERY_MS INT64_C(600000)

typedef struct id_batch {
    char ids[DUE_BATCH][CONSTRA_ID_SIZE];
    int count;
} id_batch;

static int batch_row(void *ctx, const constra__res_intent *row)
{
    id_batch *b = ctx;
    constra__strlcpy(b->ids[b->count], row->id, CONSTRA_ID_SIZE);
    b->count++;
    return b->count == SWEEP_PAGE;
}

static int batch_due(void *ctx, const char *cursor, const char *id, int64_t due_at_ms)
{
    (void)cursor; /* one batch a tick: what it handles leaves the range */
    (void)due_at_ms;
    id_batch *b = ctx;
    constra__strlcpy(b->ids[b->count], id, CONSTRA_ID_SIZE);
    b->count++;
    return b->count == DUE_BATCH;
}

static int auto_retry_one(constra_t *h, const char *id, int64_t now, constra_error *e);

/* One intent the tick found: each step loads it and acts only when its
 * state still asks for it (a callback may have come first). */
static int tick_one(constra_t *h, const char *id, int64_t now, constra_error *e)
{
    int rc = expire_one(h, id, now, e);
    int rc2 = auto_retry_one(h, id, now, e);
    return rc != CONSTRA_OK ? rc : rc2;
}

/* fn on every id of the batch, on through failures; the first one's status. */
static int each_id(constra_t *h, const id_batch *b, int64_t now, constra_error *e,
                   int (*fn)(constra_t *, const char *, int64_t, constra_error *))
{
    int first_rc = CONSTRA_OK;
    for (int i = 0; i < b->count; i++) {
        int rc = fn(h, b->ids[i], now, e);
        if (rc != CONSTRA_OK && first_rc == CONSTRA_OK) {
            first_rc = rc;
        }
    }
    return first_rc;
}

/* The intents due by now, by the due index: one batch. */
static int run_due(constra_t *h, int64_t now, constra_error *e)
{
    id_batch b;
    b.count = 0;
    int rc = h->storage.list_due(h->storage.user_data, now, NULL, DUE_BATCH, batch_due, &b);
    if (rc != CONSTRA_OK) {
        return constra__storage_error(e, rc, "listing the intents due");
    }
    return each_id(h, &b, now, e, tick_one);
}

/* The sweep's look at one intent: a row indexed under another due time
 * than the tick's own rule gives (a row of 0.2, which kept none) is
 * written again as it is, so that from now on the due index finds it;
 * then the tick's work on it, as for a due one. */
static int sweep_one(constra_t *h, const char *id, int64_t now, constra_error *e)
{
    struct constra_intent *in = constra__intent_new(h);
    if (in == NULL) {
        return constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    int rc = constra__intent_load(h, id, in, e);
    if (rc == CONSTRA_OK && constra__tick_due_at(h, in) != in->indexed_due_ms) {
        rc = constra__intent_save(h, in, in->version, NULL, NULL, NULL, now, e);
        if (rc == CONSTRA_E_CONFLICT) {
            rc = CONSTRA_OK; /* written meanwhile: indexed by that write */
        }
    }
    constra_intent_free(in);
    int rc2 = tick_one(h, id, now, e);
    return rc != CONSTRA_OK ? rc : rc2;
}

/* One page of the sweep for one status, from where the last one stopped. */
static int sweep_page(constra_t *h, int which, int64_t now, int *done, constra_error *e)
{
    static const char *const statuses[2] = {"pending_user_action", "requires_recovery"};
    char cursor[CONSTRA_ID_SIZE];
    constra__lock(&h->platform, h->mutex);
    constra__strlcpy(cursor, h->sweep_cursor[which], sizeof(cursor));
    constra__unlock(&h->platform, h->mutex);
    id_batch b;
    b.count = 0;
    constra__res_query q = {sizeof(q), statuses[which], NULL, 0, 0, cursor[0] ? cursor : NULL,
                            SWEEP_PAGE};
    int rc = h->storage.list_intents(h->storage.user_data, &q, batch_row, &b);
    if (rc != CONSTRA_OK) {
        return constra__storage_error(e, rc, "listing intents");
    }
    int first_rc = each_id(h, &b, now, e, sweep_one);
    *done = b.count < SWEEP_PAGE;
    constra__lock(&h->platform, h->mutex);
    constra__strlcpy(h->sweep_cursor[which], *done ? "" : b.ids[b.count - 1],
                     sizeof(h->sweep_cursor[which]));
    constra__unlock(&h->platform, h->mutex);
    return first_rc;
}

/* The sweep, when it is time: a page of each status (a status already
 * at its end starts over: harmless, its page is short). */
static int run_sweep(constra_t *h, int64_t now, constra_error *e)
{
    constra__lock(&h->platform, h->mutex);
    int due = now >= h->sweep_next_ms;
    constra__unlock(&h->platform, h->mutex);
    if (!due) {
        return CONSTRA_OK;
    }
    int done[2] = {0, 0};
    int rc = sweep_page(h, 0, now, &done[0], e);
    int rc2 = sweep_page(h, 1, now, &done[1], e);
    constra__lock(&h->platform, h->mutex);
    h->sweep_next_ms = now + (done[0] && done[1] ? SWEEP_EVERY_MS : SWEEP_STEP_MS);
    constra__unlock(&h->platform, h->mutex);
    return rc != CONSTRA_OK ? rc : rc2;
}

/* Whether an attempt can still turn out paid: no result yet (timed out,
 * outcome unknown), or 1037 ("DS timeout user cannot be reached": the
 * prompt may still reach the phone; doc/DARAJA.md says query before
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

int64_t constra__tick_due_at(const constra_t *h, const struct constra_intent *in)
{
    if (in->status == CONSTRA_INTENT_PENDING_USER_ACTION) {
        return in->due_at_ms; /* expire_one: the time-out */
    }
    /* auto_retry_one's conditions, as it checks them. */
    if (in->status != CONSTRA_INTENT_REQUIRES_RECOVERY ||
        in->agent_policy != CONSTRA_AGENT_AUTO_RETRY || !in->retry_allowed ||
        strcmp(in->recommended_action, "retry") != 0 || in->attempt_count >= in->max_attempts) {
        return 0;
    }
    const constra__attempt *a = in->attempt_count ? &in->attempts[in->attempt_count - 1] : NULL;
    if (a && attempt_may_still_pay(a)) {
        /* Asked about every 30 s; with no way to ask it waits for a
         * person (the sweep looks again now and then). */
        if (!h->rail.query || !a->checkout[0]) {
            return 0;
        }
        int64_t next = a->queried_at_ms + AUTO_RETRY_QUERY_EVERY_MS;
        return next > in->updated_at_ms ? next : in->updated_at_ms;
    }
    return in->updated_at_ms > 0 ? in->updated_at_ms : 1; /* at once */
}

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
    struct constra_intent *in = constra__intent_new(h);
    if (in == NULL) {
        return constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    int rc = constra__intent_load(h, id, in, e);
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
            int final = constra__intent_query_attempt(h, a, now, &q);
            a->queried_at_ms = now;
            if (final) {
                constra__classified qc;
                constra__classify(q.result_code, q.result_desc, &qc);
                if (qc.input == CONSTRA__IN_SUCCEEDED || qc.input == CONSTRA__IN_REVIEW ||
                    qc.input == CONSTRA__IN_PENDING) {
                    rc = constra__intent_apply_result(h, in, &q, 1, now, e); /* paid after all: to review */
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
                rc = constra__intent_save(h, in, in->version, NULL, NULL, NULL, now, e);
            }
        }
        if (!settled) {
            constra_intent_free(in);
            return rc == CONSTRA_E_CONFLICT ? CONSTRA_OK : rc;
        }
    }
    rc = constra__intent_run_attempt(h, in, 0, NULL, e);
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
    int rc = run_due(h, now_ms, &e);
    if (rc != CONSTRA_OK && t.rc == CONSTRA_OK) {
        t.rc = rc;
    }
    rc = run_sweep(h, now_ms, &e);
    if (rc != CONSTRA_OK && t.rc == CONSTRA_OK) {
        t.rc = rc;
    }
    if (h->storage.purge_expired) {
        /* Reported like any other failure of the tick, so that a host that
         * backs off on a failing tick (constra serve) also stops asking a
         * storage that cannot write. */
        rc = h->storage.purge_expired(h->storage.user_data, now_ms);
        if (rc != CONSTRA_OK && t.rc == CONSTRA_OK) {
            t.rc = constra__storage_error(&e, rc, "purging expired records");
        }
    }
    /* Webhooks only with a transport: a handle that cannot send leaves
     * its storage untouched here (constra_webhooks_tick() still queues);
     * and not when the host runs them on a thread of their own. */
    if (h->transport.send != NULL && !h->webhooks_own_thread) {
        rc = constra__webhooks_tick(h, now_ms, &e);
        if (rc != CONSTRA_OK && t.rc == CONSTRA_OK) {
            t.rc = rc;
        }
    }
    return constra__report(t.rc, &e, err);
}
