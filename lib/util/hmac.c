/* The parts of the HMAC seam (hmac.h) that do not depend on the backend. */
#include "constra/error.h"
#include "util/hmac.h"

int constra__hmac_sha256(const uint8_t *key, size_t key_len, const void *data, size_t len,
                         uint8_t out[CONSTRA__SHA256_SIZE])
{
    if (out == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra__hmac_ctx ctx;
    int rc = constra__hmac_sha256_init(&ctx, key, key_len);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    rc = constra__hmac_sha256_update(&ctx, data, len);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    return constra__hmac_sha256_final(&ctx, out);
}
