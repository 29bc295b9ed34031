/*
 * Internal: the payment-intent state machine (doc/DESIGN.md section 5) as one
 * pure function over (status, input). The engine classifies what happened
 * (a provider result through the result-code catalogue, a time-out, an
 * operator action) into a machine input, asks the machine, and writes the
 * answer: the new status and the one event that records it, atomically.
 * No I/O here, so tests/engine walks every (status, input) pair.
 */
#ifndef CONSTRA_ENGINE_MACHINE_H
#define CONSTRA_ENGINE_MACHINE_H

#include "constra/intent.h"

/* What happened to the intent. */
typedef enum constra__input {
    /* Provider outcomes for the intent's current attempt, classified. */
    CONSTRA__IN_SUCCEEDED = 0,
    CONSTRA__IN_PENDING,          /* "still processing": nothing to do yet */
    CONSTRA__IN_RECOVERABLE,      /* cancelled, timed out, insufficient funds, wrong PIN */
    CONSTRA__IN_RETRY_LATER,      /* provider busy or failing: same path, later */
    CONSTRA__IN_FAILED,           /* terminal for this payment */
    CONSTRA__IN_REVIEW,           /* unknown code, amount or phone mismatch */
    /* The same provider result again (an attempt that already has one). */
    CONSTRA__IN_DUPLICATE,
    /* A success for an attempt that is not the current one. */
    CONSTRA__IN_OTHER_ATTEMPT_SUCCEEDED,
    /* Any other first result for an attempt that is not the current one. */
    CONSTRA__IN_OTHER_ATTEMPT_RESULT,
    /* No result within the callback time-out, and the query settled nothing. */
    CONSTRA__IN_TIMEOUT,
    /* Operator actions. */
    CONSTRA__IN_CONFIRM,
    CONSTRA__IN_RETRY,
    CONSTRA__IN_CANCEL,
    CONSTRA__IN_RESOLVE_SUCCEEDED,
    CONSTRA__IN_RESOLVE_FAILED,
    CONSTRA__IN_COUNT
} constra__input;

/* What the machine decides. */
typedef enum constra__verdict {
    CONSTRA__MOVE,           /* go to `to`, append payment_intent.<to> */
    CONSTRA__CALL_RAIL,      /* start a new attempt (confirm, retry); its
                                outcome is a further step */
    CONSTRA__RECORD,         /* status unchanged; append `event` (duplicate or note) */
    CONSTRA__NOTHING,        /* nothing to write (a "pending" answer, a time-out
                                of an intent not waiting) */
    CONSTRA__REFUSE          /* not allowed in this status: 409 invalid_state */
} constra__verdict;

typedef struct constra__step {
    constra__verdict verdict;
    int to;              /* constra_intent_status for MOVE */
    const char *event;   /* event type for MOVE and RECORD */
    const char *reason;  /* short machine reason: "retries_exhausted", ... */
} constra__step;

/* attempts_left: attempts the intent may still make (max - used). */
constra__step constra__machine_step(int status, constra__input input, int attempts_left);

const char *constra__input_name(constra__input input);

#endif
