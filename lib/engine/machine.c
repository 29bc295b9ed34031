#include "engine/machine.h"

#include <stddef.h>

static const char *const input_names[CONSTRA__IN_COUNT] = {
    "succeeded",    "pending",  "recoverable", "retry_later",       "failed",
    "review",       "duplicate", "other_attempt_succeeded", "other_attempt_result", "timeout",
    "confirm",
    "retry",        "cancel",   "resolve_succeeded", "resolve_failed",
};

const char *constra__input_name(constra__input input)
{
    return ((int)input >= 0 && (int)input < (int)CONSTRA__IN_COUNT) ? input_names[input] : "unknown";
}

static constra__step move(int to, const char *event, const char *reason)
{
    constra__step s = {CONSTRA__MOVE, to, event, reason};
    return s;
}

static constra__step simple(constra__verdict v, const char *event, const char *reason)
{
    constra__step s = {v, 0, event, reason};
    return s;
}

#define EV_DUPLICATE "payment_intent.callback_duplicate"
#define EV_NOTE "payment_intent.note_added"

static int is_terminal(int status)
{
    return status == CONSTRA_INTENT_SUCCEEDED || status == CONSTRA_INTENT_FAILED ||
           status == CONSTRA_INTENT_CANCELLED;
}

/* A recoverable outcome while attempts remain asks for recovery; with
 * none left it is final. */
static constra__step recover_or_fail(int attempts_left, const char *reason)
{
    if (attempts_left > 0) {
        return move(CONSTRA_INTENT_REQUIRES_RECOVERY, "payment_intent.requires_recovery", reason);
    }
    return move(CONSTRA_INTENT_FAILED, "payment_intent.failed", "retries_exhausted");
}

constra__step constra__machine_step(int status, constra__input in, int attempts_left)
{
    if (status < CONSTRA_INTENT_DRAFT || status > CONSTRA_INTENT_CANCELLED || (int)in < 0 ||
        in >= CONSTRA__IN_COUNT) {
        return simple(CONSTRA__REFUSE, NULL, "invalid_input");
    }

    /* Operator actions first: each is allowed from a few statuses only. */
    switch (in) {
    case CONSTRA__IN_CONFIRM:
        return status == CONSTRA_INTENT_DRAFT ? simple(CONSTRA__CALL_RAIL, NULL, "confirmed")
                                              : simple(CONSTRA__REFUSE, NULL, "not_a_draft");
    case CONSTRA__IN_RETRY:
        if (status != CONSTRA_INTENT_REQUIRES_RECOVERY) {
            return simple(CONSTRA__REFUSE, NULL, "not_recoverable");
        }
        return attempts_left > 0
                   ? simple(CONSTRA__CALL_RAIL, NULL, "retry")
                   : move(CONSTRA_INTENT_FAILED, "payment_intent.failed", "retries_exhausted");
    case CONSTRA__IN_CANCEL:
        if (status == CONSTRA_INTENT_REVIEW_REQUIRED) {
            /* Money may have moved (a late or second payment, an unknown
             * outcome): a person resolves it as paid or not, never just
             * closes it. */
            return simple(CONSTRA__REFUSE, NULL, "in_review");
        }
        return is_terminal(status)
                   ? simple(CONSTRA__REFUSE, NULL, "terminal")
                   : move(CONSTRA_INTENT_CANCELLED, "payment_intent.cancelled", "operator_cancelled");
    case CONSTRA__IN_RESOLVE_SUCCEEDED:
        return status == CONSTRA_INTENT_REVIEW_REQUIRED
                   ? move(CONSTRA_INTENT_SUCCEEDED, "payment_intent.succeeded", "operator_resolved")
                   : simple(CONSTRA__REFUSE, NULL, "not_in_review");
    case CONSTRA__IN_RESOLVE_FAILED:
        return status == CONSTRA_INTENT_REVIEW_REQUIRED
                   ? move(CONSTRA_INTENT_FAILED, "payment_intent.failed", "operator_resolved")
                   : simple(CONSTRA__REFUSE, NULL, "not_in_review");
    default:
        break;
    }

    /* Provider news. A repeat of a known result never changes anything. */
    if (in == CONSTRA__IN_DUPLICATE) {
        return simple(CONSTRA__RECORD, EV_DUPLICATE, "duplicate_result");
    }
    if (in == CONSTRA__IN_OTHER_ATTEMPT_RESULT) {
        /* A superseded attempt's failure: the current attempt decides. */
        return simple(CONSTRA__RECORD, EV_NOTE, "superseded_attempt_result");
    }
    if (in == CONSTRA__IN_PENDING) {
        return simple(CONSTRA__NOTHING, NULL, "still_processing");
    }

    switch (status) {
    case CONSTRA_INTENT_DRAFT:
        /* A draft has sent nothing: provider news cannot be about it. */
        return in == CONSTRA__IN_TIMEOUT ? simple(CONSTRA__NOTHING, NULL, "draft")
                                         : simple(CONSTRA__RECORD, EV_NOTE, "unexpected_result");

    case CONSTRA_INTENT_PENDING_USER_ACTION:
        switch (in) {
        case CONSTRA__IN_SUCCEEDED:
            return move(CONSTRA_INTENT_SUCCEEDED, "payment_intent.succeeded", "paid");
        case CONSTRA__IN_RECOVERABLE:
            return recover_or_fail(attempts_left, "recoverable_result");
        case CONSTRA__IN_RETRY_LATER:
            return recover_or_fail(attempts_left, "provider_unavailable");
        case CONSTRA__IN_TIMEOUT:
            return recover_or_fail(attempts_left, "timeout");
        case CONSTRA__IN_FAILED:
            return move(CONSTRA_INTENT_FAILED, "payment_intent.failed", "failed_result");
        case CONSTRA__IN_OTHER_ATTEMPT_SUCCEEDED:
            /* An earlier prompt was paid while a newer one is open: that
             * payment is the intent's. Should the newer one be paid too,
             * that is paid_twice (below). */
            return move(CONSTRA_INTENT_SUCCEEDED, "payment_intent.succeeded",
                        "earlier_attempt_paid");
        case CONSTRA__IN_REVIEW:
            return move(CONSTRA_INTENT_REVIEW_REQUIRED, "payment_intent.review_required",
                        "ambiguous_result");
        default:
            break;
        }
        break;

    case CONSTRA_INTENT_REQUIRES_RECOVERY:
        switch (in) {
        case CONSTRA__IN_SUCCEEDED:
        case CONSTRA__IN_OTHER_ATTEMPT_SUCCEEDED:
            /* Money moved after the operator was told to recover (maybe
             * to charge again): a person honours it or refunds it, and no
             * retry may run meanwhile. */
            return move(CONSTRA_INTENT_REVIEW_REQUIRED, "payment_intent.review_required",
                        "late_success");
        case CONSTRA__IN_REVIEW:
            return move(CONSTRA_INTENT_REVIEW_REQUIRED, "payment_intent.review_required",
                        "ambiguous_result");
        case CONSTRA__IN_TIMEOUT:
            return simple(CONSTRA__NOTHING, NULL, "not_waiting");
        default:
            return simple(CONSTRA__RECORD, EV_NOTE, "late_result");
        }

    case CONSTRA_INTENT_REVIEW_REQUIRED:
        /* A person decides; news is recorded for them. */
        return in == CONSTRA__IN_TIMEOUT ? simple(CONSTRA__NOTHING, NULL, "not_waiting")
                                         : simple(CONSTRA__RECORD, EV_NOTE, "result_during_review");

    case CONSTRA_INTENT_SUCCEEDED:
        if (in == CONSTRA__IN_OTHER_ATTEMPT_SUCCEEDED || in == CONSTRA__IN_SUCCEEDED) {
            /* Paid twice: a person must refund one. */
            return move(CONSTRA_INTENT_REVIEW_REQUIRED, "payment_intent.review_required",
                        "paid_twice");
        }
        return in == CONSTRA__IN_TIMEOUT ? simple(CONSTRA__NOTHING, NULL, "not_waiting")
                                         : simple(CONSTRA__RECORD, EV_NOTE, "late_result");

    case CONSTRA_INTENT_FAILED:
    case CONSTRA_INTENT_CANCELLED:
        if (in == CONSTRA__IN_SUCCEEDED || in == CONSTRA__IN_OTHER_ATTEMPT_SUCCEEDED) {
            /* Money arrived after the intent was closed. */
            return move(CONSTRA_INTENT_REVIEW_REQUIRED, "payment_intent.review_required",
                        "late_success");
        }
        return in == CONSTRA__IN_TIMEOUT ? simple(CONSTRA__NOTHING, NULL, "not_waiting")
                                         : simple(CONSTRA__RECORD, EV_NOTE, "late_result");
    default:
        break;
    }
    return simple(CONSTRA__REFUSE, NULL, "invalid_input");
}
