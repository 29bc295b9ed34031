/* libFuzzer harness: constra_daraja_parse_stk_push_response(), under the
 * HTTP statuses that take different paths. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int statuses[] = {200, 400, 404, 500};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        constra_daraja_stk_push_response r = CONSTRA_DARAJA_STK_PUSH_RESPONSE_INIT;
        constra_error err = CONSTRA_ERROR_INIT;
        int rc = constra_daraja_parse_stk_push_response(fuzz_body(data), size, statuses[i], &r,
                                                        &err);
        if (rc != CONSTRA_OK) {
            FUZZ_FAILED_PARSE(rc, err, r);
            continue;
        }
        FUZZ_STR(r.merchant_request_id);
        FUZZ_STR(r.checkout_request_id);
        FUZZ_STR(r.response_code);
        FUZZ_STR(r.response_description);
        FUZZ_STR(r.customer_message);
        FUZZ_STR(r.error_request_id);
        FUZZ_STR(r.error_code);
        FUZZ_STR(r.error_message);
        FUZZ_CHECK(r.http_status == statuses[i]);
        switch (r.outcome) {
        case CONSTRA_DARAJA_PUSH_ACCEPTED:
            FUZZ_CHECK(statuses[i] == 200);
            FUZZ_CHECK(strcmp(r.response_code, "0") == 0);
            FUZZ_CHECK(r.merchant_request_id[0] && r.checkout_request_id[0]);
            FUZZ_CHECK(r.error_code[0] == '\0');
            break;
        case CONSTRA_DARAJA_PUSH_REJECTED:
            FUZZ_CHECK(statuses[i] == 200);
            FUZZ_CHECK(r.response_code[0] && strcmp(r.response_code, "0") != 0);
            break;
        case CONSTRA_DARAJA_PUSH_ERROR:
            FUZZ_CHECK(r.error_code[0] && r.response_code[0] == '\0');
            break;
        default:
            FUZZ_CHECK(!"unknown outcome");
        }
    }
    return 0;
}
