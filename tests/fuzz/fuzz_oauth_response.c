/* libFuzzer harness: constra_daraja_parse_oauth_response(). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int statuses[] = {200, 400};
    for (size_t i = 0; i < 2; i++) {
        constra_daraja_oauth_response r = CONSTRA_DARAJA_OAUTH_RESPONSE_INIT;
        constra_error err = CONSTRA_ERROR_INIT;
        int rc = constra_daraja_parse_oauth_response(fuzz_body(data), size, statuses[i], &r,
                                                     &err);
        if (rc != CONSTRA_OK) {
            FUZZ_FAILED_PARSE(rc, err, r);
            continue;
        }
        FUZZ_STR(r.access_token);
        FUZZ_STR(r.error_code);
        FUZZ_CHECK(r.is_error ? r.error_code[0] != '\0'
                              : (r.access_token[0] != '\0' && r.expires_in > 0));
    }
    return 0;
}
