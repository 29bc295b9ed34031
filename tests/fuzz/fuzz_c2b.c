/* libFuzzer harness: constra_daraja_parse_c2b(). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    constra_daraja_c2b r = CONSTRA_DARAJA_C2B_INIT;
    constra_error err = CONSTRA_ERROR_INIT;
    int rc = constra_daraja_parse_c2b(fuzz_body(data), size, &r, &err);
    if (rc != CONSTRA_OK) {
        FUZZ_FAILED_PARSE(rc, err, r);
        return 0;
    }
    FUZZ_STR(r.transaction_type);
    FUZZ_STR(r.trans_id);
    FUZZ_STR(r.trans_time);
    FUZZ_STR(r.business_short_code);
    FUZZ_STR(r.bill_ref_number);
    FUZZ_STR(r.invoice_number);
    FUZZ_STR(r.third_party_trans_id);
    FUZZ_STR(r.msisdn);
    FUZZ_STR(r.first_name);
    FUZZ_STR(r.middle_name);
    FUZZ_STR(r.last_name);
    FUZZ_CHECK(r.trans_id[0] && r.transaction_type[0] && r.business_short_code[0]);
    FUZZ_CHECK(strlen(r.trans_time) == 14);
    FUZZ_CHECK(r.trans_amount >= 0);
    FUZZ_CHECK(r.msisdn_form >= CONSTRA_DARAJA_MSISDN_ABSENT &&
               r.msisdn_form <= CONSTRA_DARAJA_MSISDN_OTHER);
    FUZZ_CHECK((r.msisdn_form == CONSTRA_DARAJA_MSISDN_ABSENT) == (r.msisdn[0] == '\0'));
    return 0;
}
