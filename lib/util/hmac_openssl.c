/*
 * HMAC-SHA256 on OpenSSL 3 libcrypto (-Dcrypto=openssl, or auto with libcrypto 3 found).
 *
 * RFC 2104 computed here over OpenSSL's SHA-256 through the EVP_Digest
 * API, with the digest fetched explicitly (EVP_MD_fetch) per context:
 *   HMAC(K, m) = H((K0 ^ opad) || H((K0 ^ ipad) || m))
 * Why not EVP_MAC or HMAC(): in OpenSSL 3.0 each EVP_MAC operation pays
 * for fetching the HMAC algorithm, fetching the digest again inside the
 * provider and allocating three digest contexts; measured here that made a
 * 1 KiB webhook verification only ~1.1x faster than Python's hmac.digest
 * (which pays the same). One explicit fetch and one EVP_MD_CTX reused for
 * the inner and outer hash cost about 60% of that. (HMAC_CTX and the
 * SHA256_* functions are deprecated in 3.0; nothing deprecated is used.)
 *
 * No cache and no global state: the digest is fetched from the default
 * library context at every _init, so a host that reconfigures providers
 * (e.g. FIPS) is honoured. OpenSSL allocates the fetched method and the
 * digest context with its own allocator; _final and _abort free them.
 * The padded key for the outer hash stays in the caller's stack context
 * until _final/_abort, which wipe it.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "constra/error.h"
#include "util/hmac.h"

#if !defined(OPENSSL_VERSION_MAJOR) || OPENSSL_VERSION_MAJOR < 3
#  error "the OpenSSL HMAC backend needs OpenSSL 3.0 or later"
#endif

#define HMAC_LIVE 0x484d4143u /* "HMAC": set between _init and _final/_abort */

typedef struct hmac_state {
    EVP_MD *md;
    EVP_MD_CTX *ctx;                     /* the inner hash, then the outer */
    uint8_t opad[CONSTRA__SHA256_BLOCK]; /* K0 ^ opad, for _final */
    uint32_t live;
} hmac_state;

_Static_assert(sizeof(hmac_state) <= CONSTRA__HMAC_CTX_SIZE,
               "CONSTRA__HMAC_CTX_SIZE too small for the OpenSSL HMAC state");
_Static_assert(_Alignof(hmac_state) <= _Alignof(max_align_t),
               "OpenSSL HMAC state needs more than max_align_t alignment");

static hmac_state *state_of(constra__hmac_ctx *ctx)
{
    return (hmac_state *)(void *)ctx->u.bytes;
}

void constra__wipe(void *p, size_t len)
{
    if (p != NULL && len > 0) {
        OPENSSL_cleanse(p, len);
    }
}

static void state_release(hmac_state *s)
{
    EVP_MD_CTX_free(s->ctx); /* cleanses the digest state */
    EVP_MD_free(s->md);
    constra__wipe(s, sizeof(*s));
}

int constra__hmac_sha256_init(constra__hmac_ctx *ctx, const uint8_t *key, size_t key_len)
{
    if (ctx == NULL || (key == NULL && key_len > 0)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    hmac_state *s = state_of(ctx);
    memset(s, 0, sizeof(*s));
    s->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (s->md == NULL) {
        return CONSTRA_E_UNSUPPORTED;
    }
    s->ctx = EVP_MD_CTX_new();
    if (s->ctx == NULL) {
        state_release(s);
        return CONSTRA_E_NOMEM;
    }
    uint8_t k0[CONSTRA__SHA256_BLOCK];
    uint8_t ipad[CONSTRA__SHA256_BLOCK];
    memset(k0, 0, sizeof(k0));
    int ok = 1;
    if (key_len > CONSTRA__SHA256_BLOCK) {
        /* A long key is hashed first (RFC 2104 section 2). */
        unsigned int n = 0;
        ok = EVP_DigestInit_ex2(s->ctx, s->md, NULL) == 1 &&
             EVP_DigestUpdate(s->ctx, key, key_len) == 1 &&
             EVP_DigestFinal_ex(s->ctx, k0, &n) == 1 && n == CONSTRA__SHA256_SIZE;
    } else if (key_len > 0) {
        memcpy(k0, key, key_len);
    }
    for (size_t i = 0; i < CONSTRA__SHA256_BLOCK; i++) {
        ipad[i] = (uint8_t)(k0[i] ^ 0x36u);
        s->opad[i] = (uint8_t)(k0[i] ^ 0x5cu);
    }
    ok = ok && EVP_DigestInit_ex2(s->ctx, s->md, NULL) == 1 &&
         EVP_DigestUpdate(s->ctx, ipad, sizeof(ipad)) == 1;
    constra__wipe(k0, sizeof(k0));
    constra__wipe(ipad, sizeof(ipad));
    if (!ok) {
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
    if (EVP_DigestUpdate(s->ctx, data, len) != 1) {
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
    uint8_t inner[CONSTRA__SHA256_SIZE];
    unsigned int n1 = 0, n2 = 0;
    int ok = EVP_DigestFinal_ex(s->ctx, inner, &n1) == 1 && n1 == CONSTRA__SHA256_SIZE &&
             EVP_DigestInit_ex2(s->ctx, s->md, NULL) == 1 &&
             EVP_DigestUpdate(s->ctx, s->opad, sizeof(s->opad)) == 1 &&
             EVP_DigestUpdate(s->ctx, inner, sizeof(inner)) == 1 &&
             EVP_DigestFinal_ex(s->ctx, out, &n2) == 1 && n2 == CONSTRA__SHA256_SIZE;
    constra__wipe(inner, sizeof(inner));
    state_release(s);
    if (!ok) {
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
    return "openssl";
}
