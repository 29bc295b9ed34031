/*
 * Internal: strict, typed reads from a cJSON tree for the Daraja parsers.
 *
 * constra__jr_parse() first scans the raw bytes itself and refuses
 * anything that is not strict JSON (RFC 8259): NUL bytes, raw control
 * characters in strings, "\u0000" escapes (they would silently cut a C
 * string short), numbers outside the JSON grammar, whitespace other than
 * space/tab/CR/LF, nesting deeper than a limit, trailing data. Only then
 * does cJSON build the tree.
 *
 * Numbers are never read through cJSON's double: the reader finds the
 * number's own text in the body (the k-th number node in document order
 * is the k-th number token) and converts it exactly, so "1.00" is 1,
 * "1.5" is refused where a whole number is required, and 254708374149 is
 * exactly those digits.
 *
 * Every read names the field by its JSON path ("Body.stkCallback.
 * ResultCode") in err->param. Reading a key that occurs more than once in
 * its object is an error ("field_duplicate").
 */
#ifndef CONSTRA_MPESA_JSON_READ_H
#define CONSTRA_MPESA_JSON_READ_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "constra/error.h"

/* A path is at most this long (longer ones are cut in messages only). */
#define CONSTRA__JR_PATH_SIZE 96

typedef struct constra__jr {
    const char *text;     /* the raw body (not NUL-terminated) */
    size_t len;
    cJSON *root;          /* owned; freed by constra__jr_free */
    const char *kind;     /* "callback" or "response": prefix of *_malformed */
    constra_error *err;
} constra__jr;

/* Checks and parses `body`. On success jr->root is an object (a non-object
 * root is "<kind>_malformed"). Errors: body_empty, body_too_large,
 * <kind>_malformed, all CONSTRA_E_PARSE. */
int constra__jr_parse(constra__jr *jr, const char *body, size_t len, size_t max_len,
                      int max_depth, const char *kind, constra_error *err);
void constra__jr_free(constra__jr *jr);

/* Flags of the typed reads. */
enum {
    CONSTRA__JR_REQUIRED = 1 << 0,    /* absent / null -> field_missing */
    CONSTRA__JR_ID = 1 << 1,          /* text: printable ASCII, no space */
    CONSTRA__JR_FREE = 1 << 2,        /* text: UTF-8, no control characters */
    CONSTRA__JR_DIGITS = 1 << 3,      /* text: ASCII digits only */
    CONSTRA__JR_NUMBER_OK = 1 << 4,   /* text: a plain non-negative integer
                                         number is accepted as its digits */
    CONSTRA__JR_NONEMPTY = 1 << 5,    /* text: "" -> field_invalid */
    CONSTRA__JR_STRING_OK = 1 << 6,   /* number: a numeric string is accepted */
    CONSTRA__JR_EMPTY_ABSENT = 1 << 7 /* number: "" counts as absent */
};

/* Joins parent and key into `out` ("a.b"; just "b" if parent is ""). */
void constra__jr_path(char *out, size_t out_size, const char *parent, const char *key);
/* "parent[index]" */
void constra__jr_path_index(char *out, size_t out_size, const char *parent, size_t index);

/* Finds `key` in object `obj`. *item = NULL when absent or null. Errors:
 * field_duplicate. `path` receives parent.key. */
int constra__jr_member(constra__jr *jr, const cJSON *obj, const char *parent, const char *key,
                       const cJSON **item, char *path, size_t path_size);

/* The member as an object / array (absent: *out NULL unless REQUIRED).
 * Errors: field_missing, field_invalid (wrong type), field_duplicate. */
int constra__jr_object(constra__jr *jr, const cJSON *obj, const char *parent, const char *key,
                       int flags, const cJSON **out);
int constra__jr_array(constra__jr *jr, const cJSON *obj, const char *parent, const char *key,
                      int flags, const cJSON **out);

/* Text of a value item (string; or number with NUMBER_OK) into out.
 * item NULL: absent. *present (may be NULL) says whether a value was
 * there. Errors: field_missing, field_invalid, field_too_long. */
int constra__jr_value_text(constra__jr *jr, const cJSON *item, const char *path, int flags,
                           char *out, size_t out_size, int *present);
int constra__jr_text(constra__jr *jr, const cJSON *obj, const char *parent, const char *key,
                     int flags, char *out, size_t out_size, int *present);

/* A whole number scaled by 10^scale (scale 0: whole units; 2: cents)
 * from a number, or a numeric string with STRING_OK. Fractions beyond the
 * scale must be zero. Range [min, max]. */
int constra__jr_value_int(constra__jr *jr, const cJSON *item, const char *path, int flags,
                          int scale, int64_t min, int64_t max, int64_t *out, int *present);
int constra__jr_int(constra__jr *jr, const cJSON *obj, const char *parent, const char *key,
                    int flags, int scale, int64_t min, int64_t max, int64_t *out, int *present);

/* A code: a whole number (as canonical decimal text) or a string of
 * 1..31 characters of [A-Za-z0-9_.-]. */
int constra__jr_value_code(constra__jr *jr, const cJSON *item, const char *path, int flags,
                           char *out, size_t out_size, int *present);
int constra__jr_code(constra__jr *jr, const cJSON *obj, const char *parent, const char *key,
                     int flags, char *out, size_t out_size, int *present);

/* The strings of array `arr` (named `name` in paths: "name[2]"), each
 * read with `flags`, joined by commas into out: ["a","b"] -> "a,b".
 * *count (may be NULL) gets how many. An element that is not fitting
 * text fails as constra__jr_value_text does; the joined text too long
 * for out fails with "field_too_long". arr NULL: "" and 0. */
int constra__jr_join_texts(constra__jr *jr, const cJSON *arr, const char *name, int flags,
                           char *out, size_t out_size, size_t *count);

/* Exact conversion of a JSON-grammar number text to value * 10^scale.
 * Returns 0 on success, -1 for bad syntax, -2 for a non-zero fraction
 * beyond the scale, -3 for overflow of int64. */
int constra__jr_decimal(const char *s, size_t n, int scale, int64_t *out);

/* A calendar time in East Africa Time (UTC+3) as Unix seconds. Returns 0,
 * or -1 when the fields are not a real date-time in years 1970..9999. */
int constra__jr_eat_unix(int year, int month, int day, int hour, int minute, int second,
                         int64_t *out);

/* Fails with CONSTRA_E_PARSE, code `code`, param `path`. */
int constra__jr_fail(constra__jr *jr, const char *code, const char *path, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#endif /* CONSTRA_MPESA_JSON_READ_H */
