/*
 * libconstra — payment intents: create, read, list, and the operator
 * actions, on a handle opened with constra_open() (handle.h).
 *
 * An intent is the source of truth for one attempted payment (DESIGN.md
 * section 5). Functions here hand out `constra_intent` snapshots: an
 * immutable copy of the intent as it was when read, owned by the caller
 * and freed with constra_intent_free(). Strings returned by accessors
 * belong to the snapshot and stay valid until it is freed.
 *
 * Every function returns CONSTRA_OK or an error status; the detail
 * (code such as "idempotency_key_reused", HTTP status, message, param) is
 * kept in the handle for constra_last_error(). On any error, stored state
 * is exactly as it was and *out is NULL.
 *
 * Threads: all functions may be called concurrently on one handle.
 */
#ifndef CONSTRA_INTENT_H
#define CONSTRA_INTENT_H

#include <stddef.h>
#include <stdint.h>

#include "constra/error.h"
#include "constra/export.h"
#include "constra/handle.h"

CONSTRA_BEGIN_DECLS

/** Intent statuses (DESIGN.md section 5). Values are stable. */
typedef enum constra_intent_status {
    CONSTRA_INTENT_DRAFT = 1,
    CONSTRA_INTENT_PENDING_USER_ACTION = 2,
    CONSTRA_INTENT_SUCCEEDED = 3,
    CONSTRA_INTENT_REQUIRES_RECOVERY = 4,
    CONSTRA_INTENT_REVIEW_REQUIRED = 5,
    CONSTRA_INTENT_FAILED = 6,
    CONSTRA_INTENT_CANCELLED = 7
} constra_intent_status;

/** "draft", "pending_user_action", ...; "unknown" for other values.
 *  Static storage. */
CONSTRA_API const char *constra_intent_status_name(int status);

/** Who may move money after a recoverable outcome. */
typedef enum constra_agent_policy {
    /** Default: nothing moves without an operator's approval. */
    CONSTRA_AGENT_OPERATOR_REVIEW = 0,
    /** Recoverable outcomes are retried automatically, within max_attempts. */
    CONSTRA_AGENT_AUTO_RETRY = 1,
    /** No agent notes, no automatic action. */
    CONSTRA_AGENT_NONE = 2
} constra_agent_policy;

/** Opaque snapshot of one intent. */
typedef struct constra_intent constra_intent;

CONSTRA_END_DECLS

#endif /* CONSTRA_INTENT_H */
