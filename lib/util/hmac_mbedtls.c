/*
 * HMAC-SHA256 on mbedTLS's SHA-256, without allocation (RFC 2104):
 *   HMAC(K, m) = H((K0 ^ opad) || H((K0 ^ ipad) || m))
 * where K0 is the key padded with zeros to the 64-byte block (a longer key
 * is first hashed). Both padded-key blocks are absorbed at _init into two
 * stack SHA-256 contexts, so _update feeds the inner hash directly and
 * _final costs one more block on the outer hash.
 *
 * The SHA-256 API differs between mbedTLS 2.28 (mbedtls_sha256_*_ret, the
 * un-suffixed names deprecated and returning void) and 3.x (int-returning
 * un-suffixed names, the _ret ones removed): chosen below by
 * MBEDTLS_VERSION_NUMBER.
 */
#include <string.h>

#include <mbedtls/version.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "constra/error.h"
#include "util/hmac.h"

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#  define sha256_starts(c) mbedtls_sha256_starts((c), 0)
#  define sha256_update(c, d, n) mbedtls_sha256_update((c), (d), (n))
#  define sha256_finish(c, o) mbedtls_sha256_finish((c), (o))
#  define sha256_oneshot(d, n, o) mbedtls_sha256((d), (n), (o), 0)
#else
#  define sha256_starts(c) mbedtls_sha256_starts_ret((c), 0)
#  define sha256_update(c, d, n) mbedtls_sha256_update_ret((c), (d), (n))
#  define sha256_finish(c, o) mbedtls_sha256_finish_ret((c), (o))
#  define sha256_oneshot(d, n, o) mbedtls_sha256_ret((d), (n), (o), 0)
#endif

#define HMAC_LIVE 0x484d4143u /* "HMAC": set between _init and _final/_abort */

typedef struct hmac_state {
    mbedtls_sha256_context inner; /* absorbed K0 ^ ipad, then the message */
    mbedtls_sha256_context outer; /* absorbed K0 ^ opad */
    uint32_t live;
} hmac_state;

_Static_assert(sizeof(hmac_state) <= CONSTRA__HMAC_CTX_SIZE,
               "CONSTRA__HMAC_CTX_SIZE too small for the mbedTLS HMAC state");
_Static_assert(_Alignof(hmac_state) <= _Alignof(max_align_t),
               "mbedTLS HMAC state needs more than max_align_t alignment");

static hmac_state *state_of(constra__hmac_ctx *ctx)
{
    return (hmac_state *)(void *)ctx->u.bytes;
}

void constra__wipe(void *p, size_t len)
{
    if (p != NULL && len > 0) {
        mbedtls_platform_zeroize(p, len);
    }
}

static void state_release(hmac_state *s)
{
    mbedtls_sha256_free(&s->inner); /* zeroizes */
    mbedtls_sha256_free(&s->outer);
    constra__wipe(s, sizeof(*s));
}

int constra__hmac_sha256_init(constra__hmac_ctx *ctx, const uint8_t *key, size_t key_len)
{
    if (ctx == NULL || (key == NULL && key_len > 0)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    hmac_state *s = state_of(ctx);
    uint8_t k0[CONSTRA__SHA256_BLOCK];
    uint8_t pad[CONSTRA__SHA256_BLOCK];
    memset(k0, 0, sizeof(k0));
    int rc = 0;
    if (key_len > CONSTRA__SHA256_BLOCK) {
        rc = sha256_oneshot(key, key_len, k0);
    } else if (key_len > 0) {
        memcpy(k0, key, key_len);
    }
    mbedtls_sha256_init(&s->inner);
    mbedtls_sha256_init(&s->outer);
    if (rc == 0) {
        for (size_t i = 0; i < sizeof(pad); i++) {
            pad[i] = (uint8_t)(k0[i] ^ 0x36u);
        }
        rc = sha256_starts(&s->inner);
        if (rc == 0) {
            rc = sha256_update(&s->inner, pad, sizeof(pad));
        }
    }
    if (rc == 0) {
        for (size_t i = 0; i < sizeof(pad); i++) {
            pad[i] = (uint8_t)(k0[i] ^ 0x5cu);
        }
        rc = sha256_starts(&s->outer);
        if (rc == 0) {
            rc = sha256_update(&s->outer, pad, sizeof(pad));
        }
    }
    constra__wipe(k0, sizeof(k0));
    constra__wipe(pad, sizeof(pad));
    if (rc != 0) {
        state_release(s);
        return CONSTRA_E_GENERIC;
    }
    s->live = HMAC_LIVE;
    return CONSTRA_OK;
}

int constra__hmac_sha256_update(constra__hmac_ctx *ctx, const void *data, size_t len)
{
    if (ctx == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    hmac_state *s = state_of(ctx);
    if (s->live != HMAC_LIVE) {
        return CONSTRA_E_INVALID_STATE;
    }
    if (data == NULL && len > 0) {
        state_release(s);
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    if (len == 0) {
        return CONSTRA_OK;
    }
    if (sha256_update(&s->inner, data, len) != 0) {
        state_release(s);
        return CONSTRA_E_GENERIC;
    }
    return CONSTRA_OK;
}

int constra__hmac_sha256_final(constra__hmac_ctx *ctx, uint8_t out[CONSTRA__SHA256_SIZE])
{
    if (ctx == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    hmac_state *s = state_of(ctx);
    if (s->live != HMAC_LIVE) {
        return CONSTRA_E_INVALID_STATE;
    }
    if (out == NULL) {
        state_release(s);
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    uint8_t inner_hash[CONSTRA__SHA256_SIZE];
    int rc = sha256_finish(&s->inner, inner_hash);
    if (rc == 0) {
        rc = sha256_update(&s->outer, inner_hash, sizeof(inner_hash));
    }
    if (rc == 0) {
        rc = sha256_finish(&s->outer, out);
    }
    constra__wipe(inner_hash, sizeof(inner_hash));
    state_release(s);
    if (rc != 0) {
        constra__wipe(out, CONSTRA__SHA256_SIZE);
        return CONSTRA_E_GENERIC;
    }
    return CONSTRA_OK;
}

void constra__hmac_sha256_abort(constra__hmac_ctx *ctx)
{
    if (ctx != NULL && state_of(ctx)->live == HMAC_LIVE) {
        state_release(state_of(ctx));
    }
}

const char *constra__hmac_backend(void)
{
    return "mbedtls";
}
