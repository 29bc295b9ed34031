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

typedef struct id_batch {
    char ids[64][CONSTRA_ID_SIZE];
    int64_t due[64];
    int policy[64];
    int count;
} id_batch;

static int batch_row(void *ctx, const constra__res_intent *row)
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
        constra__res_query q = {sizeof(q), status, NULL, 0, 0, cursor[0] ? cursor : NULL, 64};
        int rc = h->storage.list_intents(h->storage.user_data, &q, batch_row, &b);
        if (rc != CONSTRA_OK) {
            return constra__storage_error(e, rc, "listing intents");
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
    int rc = for_each_status(h, "pending_user_action", now_ms, &e, expire_one);
    if (rc != CONSTRA_OK && t.rc == CONSTRA_OK) {
        t.rc = rc;
    }
    rc = for_each_status(h, "requires_recovery", now_ms, &e, auto_retry_one);
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
