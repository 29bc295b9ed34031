/*
 * libFuzzer harness: constra_webhook_verify() (and a sign/verify round
 * trip as an oracle).
 *
 * Input layout: byte 0 picks the scheme; the rest is split at the first
 * three '\n' into the signature header, webhook-id and webhook-timestamp;
 * what follows is the body (raw bytes, NULs allowed).
 */
#include "fuzz_common.h"

#define NOW INT64_C(1700000000)
/* "whsec_" + base64 of 32 bytes; for t_v1/body_hex the string is the key. */
#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

static char *dup_field(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
    char *s = malloc(n + 1);
    FUZZ_CHECK(s != NULL);
    if (n) {
        memcpy(s, *p, n);
    }
    s[n] = '\0';
    *p += n + (nl ? 1 : 0);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    static const int schemes[] = {CONSTRA_WEBHOOK_T_V1, CONSTRA_WEBHOOK_BODY_HEX,
                                  CONSTRA_WEBHOOK_STANDARD};
    int scheme = schemes[data[0] % 3];
    const uint8_t *p = data + 1, *end = data + size;
    char *signature = dup_field(&p, end);
    char *msg_id = dup_field(&p, end);
    char *ts = dup_field(&p, end);
    size_t body_len = (size_t)(end - p);
    uint8_t *body = malloc(body_len ? body_len : 1);
    FUZZ_CHECK(body != NULL);
    if (body_len) {
        memcpy(body, p, body_len);
    }

    constra_webhook_params params = CONSTRA_WEBHOOK_PARAMS_INIT;
    params.scheme = scheme;
    params.secret = SECRET;
    params.body = body;
    params.body_len = body_len;
    params.signature = signature;
    params.msg_id = msg_id;
    params.timestamp_header = ts;
    params.now = NOW;
    constra_error err = CONSTRA_ERROR_INIT;
    int reason = -1;
    int rc = constra_webhook_verify(&params, &reason, &err);
    FUZZ_CHECK((rc == CONSTRA_OK) == (reason == CONSTRA_WEBHOOK_OK));
    FUZZ_CHECK(rc == CONSTRA_OK || rc == CONSTRA_E_SIGNATURE || rc == CONSTRA_E_INVALID_ARGUMENT);
    FUZZ_STR(err.message);

    /* Oracle: what sign() produces for this body verifies. */
    char sig[CONSTRA_WEBHOOK_SIGNATURE_SIZE], tsbuf[32];
    params.msg_id = "msg_fuzz";
    params.timestamp = NOW - 10;
    snprintf(tsbuf, sizeof(tsbuf), "%lld", (long long)(NOW - 10));
    params.timestamp_header = tsbuf;
    FUZZ_CHECK(constra_webhook_sign(&params, sig, sizeof(sig), NULL) == CONSTRA_OK);
    params.signature = sig;
    FUZZ_CHECK(constra_webhook_verify(&params, &reason, NULL) == CONSTRA_OK);
    /* ...and stops verifying once the body changes. */
    if (body_len > 0) {
        body[body_len / 2] ^= 0x01;
        FUZZ_CHECK(constra_webhook_verify(&params, &reason, NULL) == CONSTRA_E_SIGNATURE);
        FUZZ_CHECK(reason == CONSTRA_WEBHOOK_MISMATCH);
    }

    free(signature);
    free(msg_id);
    free(ts);
    free(body);
    return 0;
}
