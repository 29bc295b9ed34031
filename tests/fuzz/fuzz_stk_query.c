/* libFuzzer harness: constra_daraja_parse_stk_query_response(), under the
 * HTTP statuses that take different paths. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int statuses[] = {200, 500, 404};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        constra_daraja_stk_query_response r = CONSTRA_DARAJA_STK_QUERY_RESPONSE_INIT;
        constra_error err = CONSTRA_ERROR_INIT;
        int rc = constra_daraja_parse_stk_query_response(fuzz_body(data), size, statuses[i], &r,
                                                         &err);
        if (rc != CONSTRA_OK) {
            FUZZ_FAILED_PARSE(rc, err, r);
            continue;
        }
        FUZZ_STR(r.result_code);
        FUZZ_STR(r.result_desc);
        FUZZ_STR(r.response_code);
        FUZZ_STR(r.response_description);
        FUZZ_STR(r.merchant_request_id);
        FUZZ_STR(r.checkout_request_id);
        FUZZ_STR(r.error_request_id);
        FUZZ_STR(r.error_code);
        FUZZ_STR(r.error_message);
        switch (r.state) {
        case CONSTRA_DARAJA_QUERY_FINAL:
            /* A final answer needs a result and the id to correlate. */
            FUZZ_CHECK(statuses[i] == 200);
            FUZZ_CHECK(r.result_code[0] && strcmp(r.result_code, "4999") != 0);
            FUZZ_CHECK(r.checkout_request_id[0]);
            FUZZ_CHECK(r.error_code[0] == '\0');
            break;
        case CONSTRA_DARAJA_QUERY_PENDING:
            FUZZ_CHECK(strcmp(r.result_code, "4999") == 0 ||
                       strcmp(r.error_code, "500.001.1001") == 0);
            break;
        case CONSTRA_DARAJA_QUERY_ERROR:
            FUZZ_CHECK(r.error_code[0] && r.result_code[0] == '\0');
            break;
        default:
            FUZZ_CHECK(!"unknown state");
        }
    }
    return 0;
}
