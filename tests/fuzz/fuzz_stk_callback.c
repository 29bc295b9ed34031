/* libFuzzer harness: constra_daraja_parse_stk_callback(). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    constra_daraja_stk_callback r = CONSTRA_DARAJA_STK_CALLBACK_INIT, again;
    constra_error err = CONSTRA_ERROR_INIT;
    int rc = constra_daraja_parse_stk_callback(fuzz_body(data), size, &r, &err);
    if (rc != CONSTRA_OK) {
        FUZZ_FAILED_PARSE(rc, err, r);
        return 0;
    }
    FUZZ_STR(r.merchant_request_id);
    FUZZ_STR(r.checkout_request_id);
    FUZZ_STR(r.result_code);
    FUZZ_STR(r.result_desc);
    FUZZ_STR(r.mpesa_receipt_number);
    FUZZ_STR(r.transaction_date);
    FUZZ_STR(r.phone_number);
    FUZZ_CHECK(r.merchant_request_id[0] && r.checkout_request_id[0] && r.result_code[0]);
    FUZZ_CHECK(!r.has_amount || r.amount >= 0);
    FUZZ_CHECK(r.has_amount || r.amount == 0);
    FUZZ_CHECK(!r.has_transaction_date || strlen(r.transaction_date) == 14);
    FUZZ_CHECK(!r.has_transaction_unix || r.has_transaction_date);
    FUZZ_CHECK(!r.has_receipt || r.mpesa_receipt_number[0]);
    FUZZ_CHECK(r.has_metadata || !(r.has_amount || r.has_receipt || r.has_phone_number));
    /* Deterministic. */
    again = (constra_daraja_stk_callback)CONSTRA_DARAJA_STK_CALLBACK_INIT;
    FUZZ_CHECK(constra_daraja_parse_stk_callback(fuzz_body(data), size, &again, NULL) == 0);
    FUZZ_CHECK(memcmp(&r, &again, sizeof(r)) == 0);
    return 0;
}
