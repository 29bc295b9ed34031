/*
 * Status names, messages and HTTP mapping; constra_error filling; the
 * argument and struct checks every module shares.
 */
#include <stdio.h>
#include <string.h>

#include "constra/error.h"
#include "constra/version.h"
#include "util/check.h"

typedef struct status_info {
    int status;
    const char *name;
    const char *text;
    const char *code; /* default machine code for constra_error.code */
    int http;
} status_info;

/* Indexed by -status. Keep in the enum's order; append only. */
static const status_info status_table[] = {
    {CONSTRA_OK, "CONSTRA_OK", "success", "", 200},
    {CONSTRA_E_GENERIC, "CONSTRA_E_GENERIC", "generic error", "api_error", 500},
    {CONSTRA_E_INVALID_ARGUMENT, "CONSTRA_E_INVALID_ARGUMENT", "invalid argument",
     "parameter_invalid", 400},
    {CONSTRA_E_NOMEM, "CONSTRA_E_NOMEM", "out of memory", "out_of_memory", 500},
    {CONSTRA_E_NOT_FOUND, "CONSTRA_E_NOT_FOUND", "not found", "resource_missing", 404},
    {CONSTRA_E_CONFLICT, "CONSTRA_E_CONFLICT", "conflict", "conflict", 409},
    {CONSTRA_E_INVALID_STATE, "CONSTRA_E_INVALID_STATE", "operation not allowed in this state",
     "invalid_state", 409},
    {CONSTRA_E_BUFFER_TOO_SMALL, "CONSTRA_E_BUFFER_TOO_SMALL", "buffer too small",
     "buffer_too_small", 500},
    {CONSTRA_E_OVERFLOW, "CONSTRA_E_OVERFLOW", "arithmetic overflow", "amount_too_large", 422},
    {CONSTRA_E_UNSUPPORTED, "CONSTRA_E_UNSUPPORTED", "not supported by this build",
     "unsupported", 501},
    {CONSTRA_E_ABI, "CONSTRA_E_ABI", "struct version mismatch", "abi_mismatch", 500},
    {CONSTRA_E_PARSE, "CONSTRA_E_PARSE", "malformed input", "parse_error", 400},
    {CONSTRA_E_SIGNATURE, "CONSTRA_E_SIGNATURE", "signature verification failed",
     "signature_invalid", 401},
    {CONSTRA_E_STORAGE, "CONSTRA_E_STORAGE", "storage failure", "storage_error", 503},
    {CONSTRA_E_TRANSPORT, "CONSTRA_E_TRANSPORT", "transport failed before sending",
     "transport_error", 502},
    {CONSTRA_E_OUTCOME_UNKNOWN, "CONSTRA_E_OUTCOME_UNKNOWN",
     "request sent but outcome unknown; reconcile before retrying", "outcome_unknown", 504},
    {CONSTRA_E_PROVIDER, "CONSTRA_E_PROVIDER", "payment provider rejected the request",
     "provider_error", 502},
    {CONSTRA_E_CALLBACK, "CONSTRA_E_CALLBACK", "host callback failed", "callback_error", 500},
    {CONSTRA_E_AUTH, "CONSTRA_E_AUTH", "authentication failed", "authentication_required", 401},
    {CONSTRA_E_RATE_LIMITED, "CONSTRA_E_RATE_LIMITED", "rate limited", "rate_limited", 429},
    {CONSTRA_E_PLATFORM, "CONSTRA_E_PLATFORM", "platform failure", "platform_error", 500},
};

static const status_info *status_find(int status)
{
    if (status > 0 || status < CONSTRA_STATUS_MIN) {
        return NULL;
    }
    size_t idx = (size_t)(-(long)status);
    return idx < CONSTRA__ARRAY_LEN(status_table) ? &status_table[idx] : NULL;
}

const char *constra_strerror(int status)
{
    const status_info *s = status_find(status);
    return s ? s->text : "unknown error";
}

const char *constra_status_name(int status)
{
    const status_info *s = status_find(status);
    return s ? s->name : "CONSTRA_E_UNKNOWN";
}

int constra_status_http(int status)
{
    const status_info *s = status_find(status);
    return s ? s->http : 500;
}

/* The first version of constra_error ends after `param`. */
#define ERROR_V1_SIZE (offsetof(constra_error, param) + CONSTRA_ERROR_PARAM_SIZE)

int constra_error_init(constra_error *err, size_t struct_size)
{
    return constra__init_struct(err, struct_size, ERROR_V1_SIZE, sizeof(*err), NULL);
}

/* A caller's constra_error is usable when its size covers version 1. */
static int error_usable(const constra_error *err)
{
    return err != NULL && err->struct_size >= ERROR_V1_SIZE &&
           err->struct_size <= CONSTRA__STRUCT_SIZE_MAX;
}

void constra_error_clear(constra_error *err)
{
    if (!error_usable(err)) {
        return;
    }
    err->status = CONSTRA_OK;
    err->http_status = 0;
    err->code[0] = '\0';
    err->message[0] = '\0';
    err->param[0] = '\0';
}

size_t constra__strnlen(const char *s, size_t max)
{
    const char *nul = memchr(s, '\0', max);
    return nul ? (size_t)(nul - s) : max;
}

void constra__strlcpy(char *dst, const char *src, size_t dst_size)
{
    if (dst_size == 0) {
        return;
    }
    size_t n = src ? constra__strnlen(src, dst_size - 1) : 0;
    if (n > 0) {
        memcpy(dst, src, n);
    }
    dst[n] = '\0';
}

static int fail_common(constra_error *err, int status, int http, const char *code,
                       const char *param, const char *fmt, va_list ap) CONSTRA__PRINTF(6, 0);

static int fail_common(constra_error *err, int status, int http, const char *code,
                       const char *param, const char *fmt, va_list ap)
{
    if (!error_usable(err)) {
        return status;
    }
    const status_info *s = status_find(status);
    err->status = status;
    err->http_status = http;
    constra__strlcpy(err->code, code ? code : (s ? s->code : "api_error"), sizeof(err->code));
    constra__strlcpy(err->param, param ? param : "", sizeof(err->param));
    if (fmt) {
        /* vsnprintf truncates safely and always terminates. */
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
    } else {
        constra__strlcpy(err->message, constra_strerror(status), sizeof(err->message));
    }
    return status;
}

int constra__failv(constra_error *err, int status, const char *code, const char *param,
                   const char *fmt, va_list ap)
{
    return fail_common(err, status, constra_status_http(status), code, param, fmt, ap);
}

int constra__fail(constra_error *err, int status, const char *code, const char *param,
                  const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = constra__failv(err, status, code, param, fmt, ap);
    va_end(ap);
    return rc;
}

int constra__fail_http(constra_error *err, int status, int http_status, const char *code,
                       const char *param, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = fail_common(err, status, http_status, code, param, fmt, ap);
    va_end(ap);
    return rc;
}

int constra__fail_null(constra_error *err, const char *param)
{
    return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_missing", param,
                         "%s must not be NULL", param ? param : "argument");
}

int constra__error_copy(constra_error *dst, const constra_error *src)
{
    if (dst == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    if (!error_usable(dst)) {
        return CONSTRA_E_ABI;
    }
    size_t keep = dst->struct_size;
    size_t n = keep < sizeof(*src) ? keep : sizeof(*src);
    memcpy(dst, src, n);
    dst->struct_size = keep;
    return CONSTRA_OK;
}

int constra__check_struct(const void *s, size_t min_size, size_t known_size, const char *param,
                          constra_error *err)
{
    if (s == NULL) {
        return constra__fail_null(err, param);
    }
    size_t size;
    memcpy(&size, s, sizeof(size));
    if (size == 0) {
        return constra__fail(err, CONSTRA_E_ABI, "abi_mismatch", param,
                             "%s.struct_size is 0: initialise it with its _INIT macro or "
                             "_init() function", param);
    }
    if (size < min_size || size > CONSTRA__STRUCT_SIZE_MAX) {
        return constra__fail(err, CONSTRA_E_ABI, "abi_mismatch", param,
                             "%s.struct_size %zu is not a size this library accepts "
                             "(%zu to %zu)", param, size, min_size, known_size);
    }
    if (size > known_size) {
        const unsigned char *tail = (const unsigned char *)s + known_size;
        for (size_t i = 0; i < size - known_size; i++) {
            if (tail[i] != 0) {
                return constra__fail(err, CONSTRA_E_ABI, "abi_mismatch", param,
                                     "%s uses fields newer than this library (version %s): "
                                     "byte %zu is set", param, CONSTRA_VERSION_STRING,
                                     known_size + i);
            }
        }
    }
    return CONSTRA_OK;
}

void constra__copy_struct(void *dst, size_t known_size, const void *src)
{
    size_t size;
    memcpy(&size, src, sizeof(size));
    size_t n = size < known_size ? size : known_size;
    memset(dst, 0, known_size);
    memcpy(dst, src, n);
    /* Record our own layout's size: the copy is ours now. */
    memcpy(dst, &known_size, sizeof(known_size));
}

int constra__init_struct(void *p, size_t struct_size, size_t v1_size, size_t known_size,
                         const void *defaults)
{
    if (p == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    if (struct_size < v1_size || struct_size < sizeof(size_t) ||
        struct_size > CONSTRA__STRUCT_SIZE_MAX) {
        return CONSTRA_E_ABI;
    }
    size_t ours = struct_size < known_size ? struct_size : known_size;
    memset(p, 0, struct_size);
    if (defaults != NULL) {
        memcpy(p, defaults, ours);
    }
    memcpy(p, &struct_size, sizeof(struct_size));
    return CONSTRA_OK;
}

void constra__fill_struct(void *out, const void *full, size_t full_size)
{
    size_t size;
    memcpy(&size, out, sizeof(size));
    size_t n = size < full_size ? size : full_size;
    memcpy((char *)out + sizeof(size), (const char *)full + sizeof(size), n - sizeof(size));
}

int constra__check_str(const char *s, size_t max_len, int allow_empty, const char *param,
                       size_t *len_out, constra_error *err)
{
    if (s == NULL) {
        return constra__fail_null(err, param);
    }
    size_t n = constra__strnlen(s, max_len + 1);
    if (n > max_len) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", param,
                             "%s is longer than %zu bytes or not terminated", param, max_len);
    }
    if (n == 0 && !allow_empty) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid_empty", param,
                             "%s must not be empty", param);
    }
    if (len_out) {
        *len_out = n;
    }
    return CONSTRA_OK;
}

int constra__ct_equal(const void *a, const void *b, size_t len)
{
    const volatile unsigned char *x = a;
    const volatile unsigned char *y = b;
    unsigned char diff = 0;
    for (size_t i = 0; i < len; i++) {
        diff |= (unsigned char)(x[i] ^ y[i]);
    }
    return diff == 0;
}

int constra__query_has_token(const char *query, size_t len, const char *token)
{
    size_t want = strlen(token);
    if (want == 0 || query == NULL) {
        return 0;
    }
    const char *p = query, *end = query + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - p) >= 6 && memcmp(p, "token=", 6) == 0) {
            const char *v = p + 6;
            size_t n = (size_t)(stop - v);
            /* The time depends on the expected token's length only. */
            const volatile unsigned char *t = (const unsigned char *)token;
            unsigned diff = (unsigned)(n != want);
            for (size_t i = 0; i < want; i++) {
                diff |= (unsigned)(t[i] ^ (unsigned char)(i < n ? v[i] : 0));
            }
            return diff == 0;
        }
        p = amp ? amp + 1 : end;
    }
    return 0;
}

int constra__report(int rc, const constra_error *e, constra_error *err)
{
    if (rc == CONSTRA_OK || err == NULL) {
        return rc;
    }
    if (e == NULL || e->status == CONSTRA_OK) {
        return constra__fail(err, rc, NULL, NULL, NULL);
    }
    constra__error_copy(err, e);
    return rc;
}
