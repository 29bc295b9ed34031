#include "constra/intent.h"

static const char *const status_names[] = {
    "unknown", "draft", "pending_user_action", "succeeded", "requires_recovery",
    "review_required", "failed", "cancelled",
};

const char *constra_intent_status_name(int status)
{
    return (status >= CONSTRA_INTENT_DRAFT && status <= CONSTRA_INTENT_CANCELLED)
               ? status_names[status]
               : status_names[0];
}
