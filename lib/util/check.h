/*
 * Internal: filling constra_error, checking arguments and versioned
 * structs. Every module reports failures through these so that each error
 * carries a status, a machine code, an HTTP status, a message and the
 * parameter at fault in the same way.
 *
 * Internal symbols are prefixed `constra__` (two underscores): they are
 * hidden from the shared library and, in the static library, still cannot
 * clash with a host's own names.
 */
#ifndef CONSTRA_UTIL_CHECK_H
#define CONSTRA_UTIL_CHECK_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "constra/error.h"

#if defined(__GNUC__) || defined(__clang__)
#  define CONSTRA__PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#else
#  define CONSTRA__PRINTF(fmt_idx, arg_idx)
#endif

#define CONSTRA__ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Largest struct_size accepted for any versioned struct; a larger one is
 * garbage, not a newer header. */
#define CONSTRA__STRUCT_SIZE_MAX 4096u

/*
 * Records a failure in `err` (NULL allowed) and returns `status`, so call
 * sites read `return constra__fail(err, CONSTRA_E_..., "code", "param",
 * "fmt", ...)`. `code` NULL picks the default code of the status
 * ("parameter_invalid", "resource_missing", ...); `param` may be NULL.
 * The HTTP status is constra_status_http(status). Texts are truncated to
 * the fields' sizes, never overflowing them.
 */
int constra__fail(constra_error *err, int status, const char *code, const char *param,
                  const char *fmt, ...) CONSTRA__PRINTF(5, 6);
int constra__failv(constra_error *err, int status, const char *code, const char *param,
                   const char *fmt, va_list ap) CONSTRA__PRINTF(5, 0);

/* Like constra__fail, with an explicit HTTP status (e.g. 409 for a
 * conflict code whose status maps to something else). */
int constra__fail_http(constra_error *err, int status, int http_status, const char *code,
                       const char *param, const char *fmt, ...) CONSTRA__PRINTF(6, 7);

/* Copies `src` into a caller's `dst` honouring dst->struct_size. */
int constra__error_copy(constra_error *dst, const constra_error *src);

/* The end of every public call: when rc is an error and the caller passed
 * an `err`, copies the call's own detail `e` into it (a detail never
 * filled becomes the status's default code and message). Returns rc. */
int constra__report(int rc, const constra_error *e, constra_error *err);

/* The NULL-argument failure: CONSTRA_E_INVALID_ARGUMENT,
 * code "parameter_missing", message "<param> must not be NULL". */
int constra__fail_null(constra_error *err, const char *param);

/*
 * Checks the struct_size of a caller's versioned struct (xkbcommon/openat2
 * style): size 0 or below `min_size` -> CONSTRA_E_ABI (forgot the INIT
 * macro or garbage); size above CONSTRA__STRUCT_SIZE_MAX -> CONSTRA_E_ABI;
 * size above `known_size` (built against newer headers) is accepted only
 * if every byte past known_size is zero. The struct's first member must
 * be its size_t struct_size.
 */
int constra__check_struct(const void *s, size_t min_size, size_t known_size, const char *param,
                          constra_error *err);

/* Copies a caller's versioned struct into the library's own `dst` of
 * `known_size` bytes: the caller's prefix, the rest zero. Call after
 * constra__check_struct succeeded. */
void constra__copy_struct(void *dst, size_t known_size, const void *src);

/* The body of every public constra_x_init(p, struct_size): refuses NULL
 * (CONSTRA_E_INVALID_ARGUMENT) and sizes below the first version or above
 * CONSTRA__STRUCT_SIZE_MAX (CONSTRA_E_ABI); otherwise writes the defaults
 * (`defaults`, known_size bytes of our layout; NULL = all zero) into no
 * more than the caller's struct_size bytes — an older caller's struct is
 * shorter than ours — zeroes any tail beyond our layout, and stores
 * struct_size. */
int constra__init_struct(void *p, size_t struct_size, size_t v1_size, size_t known_size,
                         const void *defaults);

/* The other direction: hands a struct the library filled (`full`, of our
 * layout, full_size bytes) to a caller whose `out` may be an older,
 * shorter version: copies only out->struct_size bytes (at most
 * full_size) and leaves out->struct_size as the caller set it. A vtable
 * handed to an older caller thereby simply lacks the newer members. */
void constra__fill_struct(void *out, const void *full, size_t full_size);

/*
 * Length of a caller string, reading at most max_len + 1 bytes. Returns
 * CONSTRA_E_INVALID_ARGUMENT when `s` is NULL, when no NUL is found
 * within max_len bytes (message says "longer than N bytes or not
 * terminated"), or when empty and !allow_empty. On success *len_out (may
 * be NULL) gets the length.
 */
int constra__check_str(const char *s, size_t max_len, int allow_empty, const char *param,
                       size_t *len_out, constra_error *err);

/* strlen bounded by max: returns max if no NUL among the first max bytes. */
size_t constra__strnlen(const char *s, size_t max);

/* Copies at most dst_size - 1 bytes and always NUL-terminates (dst_size > 0). */
void constra__strlcpy(char *dst, const char *src, size_t dst_size);

/* Constant-time comparison of two byte strings of equal length: 1 if
 * equal, 0 otherwise. For secrets and signatures. */
int constra__ct_equal(const void *a, const void *b, size_t len);

/* 1 when the URL query `query` (without '?', `len` bytes, may be NULL)
 * has a parameter "token=<token>" whose value equals `token` exactly,
 * compared in constant time over the token's length; 0 otherwise, and
 * always 0 for an empty `token` (no secret: refuse, never accept all). */
int constra__query_has_token(const char *query, size_t len, const char *token);

#endif /* CONSTRA_UTIL_CHECK_H */
