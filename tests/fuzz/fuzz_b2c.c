/* libFuzzer harness: constra_daraja_parse_b2c_result(). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    constra_daraja_b2c_result r = CONSTRA_DARAJA_B2C_RESULT_INIT;
    constra_error err = CONSTRA_ERROR_INIT;
    int rc = constra_daraja_parse_b2c_result(fuzz_body(data), size, &r, &err);
    if (rc != CONSTRA_OK) {
        FUZZ_FAILED_PARSE(rc, err, r);
        return 0;
    }
    FUZZ_STR(r.result_code);
    FUZZ_STR(r.result_desc);
    FUZZ_STR(r.originator_conversation_id);
    FUZZ_STR(r.conversation_id);
    FUZZ_STR(r.transaction_id);
    FUZZ_STR(r.transaction_receipt);
    FUZZ_STR(r.receiver_party_public_name);
    FUZZ_STR(r.transaction_completed_datetime);
    FUZZ_STR(r.recipient_is_registered_customer);
    FUZZ_STR(r.queue_timeout_url);
    FUZZ_CHECK(r.result_code[0] && r.originator_conversation_id[0] && r.conversation_id[0]);
    FUZZ_CHECK(r.result_type >= 0);
    FUZZ_CHECK(!r.has_transaction_amount || r.transaction_amount >= 0);
    FUZZ_CHECK(r.has_parameters || !r.has_transaction_amount);
    return 0;
}
