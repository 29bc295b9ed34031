/* libFuzzer harness: constra_daraja_parse_error_envelope(). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    constra_daraja_error_envelope r = CONSTRA_DARAJA_ERROR_ENVELOPE_INIT;
    constra_error err = CONSTRA_ERROR_INIT;
    int rc = constra_daraja_parse_error_envelope(fuzz_body(data), size, 500, &r, &err);
    if (rc != CONSTRA_OK) {
        FUZZ_FAILED_PARSE(rc, err, r);
        return 0;
    }
    FUZZ_STR(r.request_id);
    FUZZ_STR(r.error_code);
    FUZZ_STR(r.error_message);
    FUZZ_CHECK(r.error_code[0] != '\0');
    FUZZ_CHECK(r.http_status == 500);
    return 0;
}
