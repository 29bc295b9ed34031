/* libFuzzer harness: constra_msisdn_normalize() and
 * constra_msisdn_is_safaricom(). The input is used both as an unterminated
 * buffer (max_len = its size: nothing past it may be read) and as a
 * NUL-terminated string. */
#include "fuzz_common.h"

static void check_normalized(const char *out)
{
    FUZZ_CHECK(strlen(out) == 12);
    FUZZ_CHECK(memcmp(out, "254", 3) == 0);
    for (size_t i = 0; i < 12; i++) {
        FUZZ_CHECK(out[i] >= '0' && out[i] <= '9');
    }
    /* Idempotent. */
    char again[32];
    FUZZ_CHECK(constra_msisdn_normalize(out, 12, again, sizeof(again), NULL) == CONSTRA_OK);
    FUZZ_CHECK(strcmp(out, again) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[32];
    constra_error err = CONSTRA_ERROR_INIT;

    /* Unterminated: an exact-size copy, so ASan sees any over-read. The
     * contract reads at most max_len + 1 bytes: max_len = size - 1. */
    int rc;
    if (size > 0) {
        char *raw = malloc(size);
        FUZZ_CHECK(raw != NULL);
        memcpy(raw, data, size);
        rc = constra_msisdn_normalize(raw, size - 1, out, sizeof(out), &err);
        FUZZ_CHECK(rc == CONSTRA_OK || rc == CONSTRA_E_INVALID_ARGUMENT);
        if (rc == CONSTRA_OK) {
            check_normalized(out);
        } else {
            FUZZ_CHECK(err.code[0] != '\0');
        }
        free(raw);
    }

    /* Terminated. */
    char *s = malloc(size + 1);
    FUZZ_CHECK(s != NULL);
    if (size) {
        memcpy(s, data, size);
    }
    s[size] = '\0';
    rc = constra_msisdn_normalize(s, size, out, sizeof(out), &err);
    FUZZ_CHECK(rc == CONSTRA_OK || rc == CONSTRA_E_INVALID_ARGUMENT);
    if (rc == CONSTRA_OK) {
        check_normalized(out);
        int saf = constra_msisdn_is_safaricom(s, NULL);
        FUZZ_CHECK(saf == CONSTRA_OK || saf == CONSTRA_E_INVALID_ARGUMENT);
    }
    /* A too-small output is refused before the input is looked at. */
    FUZZ_CHECK(constra_msisdn_normalize(s, size, out, 12, NULL) == CONSTRA_E_BUFFER_TOO_SMALL);
    free(s);
    return 0;
}
