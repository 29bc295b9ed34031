/*
 * Internal: the HMAC-SHA256 seam (RFC 2104 over FIPS 180-4 SHA-256).
 *
 * One interface, two backends; -Dcrypto chooses one at build time (root
 * meson.build; auto = OpenSSL when libcrypto 3 is found, else mbedTLS):
 *   - hmac_mbedtls.c (-Dcrypto=mbedtls, firmware): HMAC computed here on top of a stack
 *     mbedtls_sha256_context, so it never allocates (mbedtls_md_setup()
 *     would). Works with mbedTLS 2.28 (the *_ret functions) and 3.x.
 *   - hmac_openssl.c (-Dcrypto=openssl, auto's first choice): HMAC computed here
 *     over OpenSSL 3's SHA-256 (EVP_Digest with an explicitly fetched
 *     digest; faster than EVP_MAC, see the file). OpenSSL allocates the
 *     digest context with its own allocator; _final() or _abort() free it.
 *
 * The context is an opaque, suitably aligned block the caller places on
 * its stack. Sequence: _init, any number of _update, then exactly one of
 * _final or _abort (both wipe the key material and release anything the
 * backend holds). A context that failed _init needs neither.
 *
 * All functions are reentrant: no global state is touched.
 */
#ifndef CONSTRA_UTIL_HMAC_H
#define CONSTRA_UTIL_HMAC_H

#include <stddef.h>
#include <stdint.h>

/* Digest and block sizes of SHA-256, in bytes. */
#define CONSTRA__SHA256_SIZE 32
#define CONSTRA__SHA256_BLOCK 64

/* Room for the largest backend state (checked by each backend with a
 * static assertion). */
#define CONSTRA__HMAC_CTX_SIZE 512

typedef struct constra__hmac_ctx {
    union {
        max_align_t align;
        unsigned char bytes[CONSTRA__HMAC_CTX_SIZE];
    } u;
} constra__hmac_ctx;

/* Starts an HMAC with `key` (any length; key may be NULL only when
 * key_len is 0). Returns CONSTRA_OK, CONSTRA_E_INVALID_ARGUMENT (NULL
 * ctx, NULL key with a length) or CONSTRA_E_NOMEM / CONSTRA_E_UNSUPPORTED
 * (OpenSSL: no SHA-256 provider) / CONSTRA_E_GENERIC when the backend
 * fails; on failure nothing needs releasing. */
int constra__hmac_sha256_init(constra__hmac_ctx *ctx, const uint8_t *key, size_t key_len);

/* Feeds `len` bytes (data may be NULL when len is 0). On failure the
 * context is already released (no _final/_abort needed). */
int constra__hmac_sha256_update(constra__hmac_ctx *ctx, const void *data, size_t len);

/* Writes the 32-byte MAC and releases the context (always, even on
 * failure). */
int constra__hmac_sha256_final(constra__hmac_ctx *ctx, uint8_t out[CONSTRA__SHA256_SIZE]);

/* Releases a context without producing a MAC (wipes it). */
void constra__hmac_sha256_abort(constra__hmac_ctx *ctx);

/* One-shot: out = HMAC-SHA256(key, data). */
int constra__hmac_sha256(const uint8_t *key, size_t key_len, const void *data, size_t len,
                         uint8_t out[CONSTRA__SHA256_SIZE]);

/* "mbedtls" or "openssl": the backend compiled in. Static storage. */
const char *constra__hmac_backend(void);

/* Overwrites `len` bytes at `p` with zeros in a way the compiler cannot
 * drop (for keys and intermediate MACs). NULL/0 ignored. */
void constra__wipe(void *p, size_t len);

#endif /* CONSTRA_UTIL_HMAC_H */
