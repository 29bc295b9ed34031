/*
 * What a provider result code means for an intent, from the M-Pesa
 * result-code catalogue (lib/mpesa). The engine reads STK push results
 * (callback and query); codes the catalogue does not know are ambiguous
 * and go to review, never to success or failure.
 */
#include <string.h>

#include "constra/result_codes.h"
#include "engine/engine.h"

void constra__classify(const char *code, const char *desc, constra__classified *out)
{
    constra_result_info info = CONSTRA_RESULT_INFO_INIT;
    int rc = constra_mpesa_result_lookup(code ? code : "", CONSTRA_MPESA_CODE_NTS,
                                         CONSTRA_MPESA_API_AUTO, desc, &info, NULL);
    if (rc != CONSTRA_OK) {
        /* A malformed code is as ambiguous as an unknown one. */
        *out = (constra__classified){CONSTRA__IN_REVIEW, "operator_review", 0,
                                     "The provider sent a result code that cannot be read. "
                                     "Check the M-Pesa statement before acting."};
        return;
    }
    constra__input input;
    switch (info.outcome) {
    case CONSTRA_OUTCOME_SUCCEEDED:
        input = CONSTRA__IN_SUCCEEDED;
        break;
    case CONSTRA_OUTCOME_PENDING:
        input = CONSTRA__IN_PENDING;
        break;
    case CONSTRA_OUTCOME_REQUIRES_RECOVERY:
        input = CONSTRA__IN_RECOVERABLE;
        break;
    case CONSTRA_OUTCOME_RETRY_LATER:
        input = CONSTRA__IN_RETRY_LATER;
        break;
    case CONSTRA_OUTCOME_FAILED:
    case CONSTRA_OUTCOME_FAILED_CONFIGURATION:
        input = CONSTRA__IN_FAILED;
        break;
    default:
        input = CONSTRA__IN_REVIEW;
        break;
    }
    *out = (constra__classified){input,
                                 info.recommended_action ? info.recommended_action : "operator_review",
                                 info.retry_allowed,
                                 info.recovery_note ? info.recovery_note : ""};
}
