/*
 * Daraja response and callback parsers (include/constra/daraja.h).
 *
 * Each parser fills a local result, then copies it to the caller only on
 * success (on failure the caller's struct is zeroed): a half-parsed
 * callback never reaches the caller. cJSON's tree is freed before return.
 */
#include <stdint.h>
#include <string.h>

#include "constra/daraja.h"
#include "mpesa/json_read.h"
#include "util/ascii.h"
#include "util/check.h"
#include "util/hmac.h" /* constra__wipe */

#define REQ CONSTRA__JR_REQUIRED
#define ID_ CONSTRA__JR_ID
#define FREE_ CONSTRA__JR_FREE
#define DIGITS CONSTRA__JR_DIGITS
#define NUM_OK CONSTRA__JR_NUMBER_OK
#define NONEMPTY CONSTRA__JR_NONEMPTY
#define STR_OK CONSTRA__JR_STRING_OK
#define EMPTY_ABSENT CONSTRA__JR_EMPTY_ABSENT

/* ---- result struct initialisers --------------------------------------- */

/* Result structs are written whole: a caller's must be at least ours. */
static int init_struct(void *p, size_t known, size_t struct_size)
{
    return constra__init_struct(p, struct_size, known, known, NULL);
}

int constra_daraja_error_envelope_init(constra_daraja_error_envelope *out, size_t struct_size)
{
    return init_struct(out, sizeof(*out), struct_size);
}

int constra_daraja_stk_push_response_init(constra_daraja_stk_push_response *out,
                                          size_t struct_size)
{
    return init_struct(out, sizeof(*out), struct_size);
}

int constra_daraja_stk_query_response_init(constra_daraja_stk_query_response *out,
                                           size_t struct_size)
{
    return init_struct(out, sizeof(*out), struct_size);
}

int constra_daraja_stk_callback_init(constra_daraja_stk_callback *out, size_t struct_size)
{
    return init_struct(out, sizeof(*out), struct_size);
}

int constra_daraja_c2b_init(constra_daraja_c2b *out, size_t struct_size)
{
    return init_struct(out, sizeof(*out), struct_size);
}

int constra_daraja_b2c_result_init(constra_daraja_b2c_result *out, size_t struct_size)
{
    return init_struct(out, sizeof(*out), struct_size);
}

int constra_daraja_oauth_response_init(constra_daraja_oauth_response *out, size_t struct_size)
{
    return init_struct(out, sizeof(*out), struct_size);
}

/* ---- common prologue / epilogue ------------------------------------------ */

/* Argument checks shared by all parsers. A failure after the struct
 * check zeroes the caller's struct (via finish). */
#define NO_HTTP INT32_MIN
static int check_args(const char *body, int http_status, constra_error *err)
{
    if (body == NULL) {
        return constra__fail_null(err, "body");
    }
    if (http_status != NO_HTTP && (http_status < 100 || http_status > 599)) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "http_status",
                             "http_status %d is not an HTTP status (100 to 599)", http_status);
    }
    return CONSTRA_OK;
}

static int finish(void *out, const void *local, size_t known, int rc)
{
    size_t keep;
    memcpy(&keep, out, sizeof(keep));
    if (rc == CONSTRA_OK) {
        memcpy(out, local, known);
    } else {
        memset(out, 0, known);
    }
    memcpy(out, &keep, sizeof(keep));
    return rc;
}

static int is_2xx(int http_status)
{
    return http_status >= 200 && http_status <= 299;
}

/* Whether `key` has a (non-null) value in obj; duplicates are errors. */
static int has_member(constra__jr *jr, const cJSON *obj, const char *parent, const char *key,
                      int *present)
{
    char path[CONSTRA__JR_PATH_SIZE];
    const cJSON *item;
    int rc = constra__jr_member(jr, obj, parent, key, &item, path, sizeof(path));
    *present = item != NULL;
    return rc;
}

static int contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++) {
        size_t i = 0;
        while (i < n && p[i] &&
               constra__ascii_lower((unsigned char)p[i]) == constra__ascii_lower(needle[i])) {
            i++;
        }
        if (i == n) {
            return 1;
        }
    }
    return 0;
}

/* requestId / errorCode / errorMessage of an error envelope at the root. */
static int read_envelope(constra__jr *jr, char *request_id, char *error_code,
                         char *error_message)
{
    int rc;
    if ((rc = constra__jr_text(jr, jr->root, "", "requestId", ID_, request_id,
                               CONSTRA_DARAJA_ID_SIZE, NULL)) != CONSTRA_OK ||
        (rc = constra__jr_code(jr, jr->root, "", "errorCode", REQ, error_code,
                               CONSTRA_DARAJA_CODE_SIZE, NULL)) != CONSTRA_OK ||
        (rc = constra__jr_text(jr, jr->root, "", "errorMessage", FREE_, error_message,
                               CONSTRA_DARAJA_TEXT_SIZE, NULL)) != CONSTRA_OK) {
        return rc;
    }
    return CONSTRA_OK;
}

static int unexpected(constra__jr *jr, int http_status, const char *what)
{
    return constra__jr_fail(jr, "response_unexpected", "body",
                            "HTTP %d with %s: expected an error envelope with errorCode",
                            http_status, what);
}

static int ambiguous(constra__jr *jr, const char *a, const char *b)
{
    return constra__jr_fail(jr, "field_invalid", a,
                            "%s and %s are both present: the body is ambiguous", a, b);
}

/* ---- error envelope ------------------------------------------------------ */

int constra_daraja_parse_error_envelope(const char *body, size_t len, int http_status,
                                        constra_daraja_error_envelope *out, constra_error *err)
{
    constra_daraja_error_envelope r;
    int rc = constra__check_struct(out, sizeof(r), sizeof(r), "out", err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    memset(&r, 0, sizeof(r));
    rc = check_args(body, http_status, err);
    if (rc == CONSTRA_OK) {
        constra__jr jr;
        rc = constra__jr_parse(&jr, body, len, CONSTRA_DARAJA_BODY_MAX,
                               CONSTRA_DARAJA_JSON_DEPTH_MAX, "response", err);
        if (rc == CONSTRA_OK) {
            r.http_status = http_status;
            rc = read_envelope(&jr, r.request_id, r.error_code, r.error_message);
            constra__jr_free(&jr);
        }
    }
    return finish(out, &r, sizeof(r), rc);
}

/* ---- STK push response -------------------------------------------------- */

static int stk_push_response(constra__jr *jr, int http_status,
                             constra_daraja_stk_push_response *r)
{
    int has_error, has_response, rc;
    if ((rc = has_member(jr, jr->root, "", "errorCode", &has_error)) != CONSTRA_OK ||
        (rc = has_member(jr, jr->root, "", "ResponseCode", &has_response)) != CONSTRA_OK) {
        return rc;
    }
    if (has_error && has_response) {
        return ambiguous(jr, "errorCode", "ResponseCode");
    }
    if (has_error) {
        r->outcome = CONSTRA_DARAJA_PUSH_ERROR;
        return read_envelope(jr, r->error_request_id, r->error_code, r->error_message);
    }
    if (!is_2xx(http_status)) {
        return unexpected(jr, http_status, "no errorCode");
    }
    if ((rc = constra__jr_code(jr, jr->root, "", "ResponseCode", REQ, r->response_code,
                               sizeof(r->response_code), NULL)) != CONSTRA_OK ||
        (rc = constra__jr_text(jr, jr->root, "", "ResponseDescription", FREE_,
                               r->response_description, sizeof(r->response_description),
                               NULL)) != CONSTRA_OK ||
        (rc = constra__jr_text(jr, jr->root, "", "CustomerMessage", FREE_, r->customer_message,
                               sizeof(r->customer_message), NULL)) != CONSTRA_OK) {
        return rc;
    }
    int accepted = strcmp(r->response_code, "0") == 0;
    int ids = ID_ | (accepted ? REQ | NONEMPTY : 0);
    if ((rc = constra__jr_text(jr, jr->root, "", "MerchantRequestID", ids,
                               r->merchant_request_id, sizeof(r->merchant_request_id), NULL)) !=
            CONSTRA_OK ||
        (rc = constra__jr_text(jr, jr->root, "", "CheckoutRequestID", ids,
                               r->checkout_request_id, sizeof(r->checkout_request_id), NULL)) !=
            CONSTRA_OK) {
        return rc;
    }
    r->outcome = accepted ? CONSTRA_DARAJA_PUSH_ACCEPTED : CONSTRA_DARAJA_PUSH_REJECTED;
    return CONSTRA_OK;
}

int constra_daraja_parse_stk_push_response(const char *body, size_t len, int http_status,
                                           constra_daraja_stk_push_response *out,
                                           constra_error *err)
{
    constra_daraja_stk_push_response r;
    int rc = constra__check_struct(out, sizeof(r), sizeof(r), "out", err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    memset(&r, 0, sizeof(r));
    rc = check_args(body, http_status, err);
    if (rc == CONSTRA_OK) {
        constra__jr jr;
        rc = constra__jr_parse(&jr, body, len, CONSTRA_DARAJA_BODY_MAX,
                               CONSTRA_DARAJA_JSON_DEPTH_MAX, "response", err);
        if (rc == CONSTRA_OK) {
            r.http_status = http_status;
            rc = stk_push_response(&jr, http_status, &r);
            constra__jr_free(&jr);
        }
    }
    return finish(out, &r, sizeof(r), rc);
}

/* ---- STK query response ------------------------------------------------- */

static int stk_query_response(constra__jr *jr, int http_status,
                              constra_daraja_stk_query_response *r)
{
    int has_error, has_result, rc;
    if ((rc = has_member(jr, jr->root, "", "errorCode", &has_error)) != CONSTRA_OK ||
        (rc = has_member(jr, jr->root, "", "ResultCode", &has_result)) != CONSTRA_OK) {
        return rc;
    }
    if (has_error && has_result) {
        return ambiguous(jr, "errorCode", "ResultCode");
    }
    if (has_error) {
        rc = read_envelope(jr, r->error_request_id, r->error_code, r->error_message);
        if (rc != CONSTRA_OK) {
            return rc;
        }
        /* 500.001.1001 also means "merchant does not exist", "wrong
         * credentials", "unable to lock subscriber": only the "being
         * processed" wording is the pending answer. */
        r->state = strcmp(r->error_code, "500.001.1001") == 0 &&
                           contains_nocase(r->error_message, "being processed")
                       ? CONSTRA_DARAJA_QUERY_PENDING
                       : CONSTRA_DARAJA_QUERY_ERROR;
        return CONSTRA_OK;
    }
    if (!is_2xx(http_status)) {
        return unexpected(jr, http_status, has_result ? "a result body" : "no errorCode");
    }
    if ((rc = constra__jr_code(jr, jr->root, "", "ResultCode", REQ, r->result_code,
                               sizeof(r->result_code), NULL)) != CONSTRA_OK ||
        (rc = constra__jr_text(jr, jr->root, "", "ResultDesc", FREE_, r->result_desc,
                               sizeof(r->result_desc), NULL)) != CONSTRA_OK ||
        (rc = constra__jr_code(jr, jr->root, "", "ResponseCode", 0, r->response_code,
                               sizeof(r->response_code), NULL)) != CONSTRA_OK ||
        (rc = constra__jr_text(jr, jr->root, "", "ResponseDescription", FREE_,
                               r->response_description, sizeof(r->response_description),
                               NULL)) != CONSTRA_OK) {
        return rc;
    }
    int pending = strcmp(r->result_code, "4999") == 0;
    int ids = ID_ | (pending ? 0 : REQ | NONEMPTY);
    if ((rc = constra__jr_text(jr, jr->root, "", "MerchantRequestID", ID_,
                               r->merchant_request_id, sizeof(r->merchant_request_id), NULL)) !=
            CONSTRA_OK ||
        (rc = constra__jr_text(jr, jr->root, "", "CheckoutRequestID", ids,
                               r->checkout_request_id, sizeof(r->checkout_request_id), NULL)) !=
            CONSTRA_OK) {
        return rc;
    }
    r->state = pending ? CONSTRA_DARAJA_QUERY_PENDING : CONSTRA_DARAJA_QUERY_FINAL;
    return CONSTRA_OK;
}

int constra_daraja_parse_stk_query_response(const char *body, size_t len, int http_status,
                                            constra_daraja_stk_query_response *out,
                                            constra_error *err)
{
    constra_daraja_stk_query_response r;
    int rc = constra__check_struct(out, sizeof(r), sizeof(r), "out", err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    memset(&r, 0, sizeof(r));
    rc = check_args(body, http_status, err);
    if (rc == CONSTRA_OK) {
        constra__jr jr;
        rc = constra__jr_parse(&jr, body, len, CONSTRA_DARAJA_BODY_MAX,
                               CONSTRA_DARAJA_JSON_DEPTH_MAX, "response", err);
        if (rc == CONSTRA_OK) {
            r.http_status = http_status;
            rc = stk_query_response(&jr, http_status, &r);
            constra__jr_free(&jr);
        }
    }
    return finish(out, &r, sizeof(r), rc);
}

/* ---- dates -------------------------------------------------------------- */

static int digit2(const char *s)
{
    return (s[0] - '0') * 10 + (s[1] - '0');
}

/* 14 digits YYYYMMDDHHMMSS (EAT) -> Unix seconds; 0 if a real time. */
static int ymdhms_unix(const char *s, int64_t *out)
{
    return constra__jr_eat_unix(digit2(s) * 100 + digit2(s + 2), digit2(s + 4), digit2(s + 6),
                                digit2(s + 8), digit2(s + 10), digit2(s + 12), out);
}

/* "dd.MM.yyyy HH:mm:ss" (EAT) -> Unix seconds; 0 if it is one. */
static int dotted_unix(const char *s, int64_t *out)
{
    static const char shape[] = "99.99.9999 99:99:99";
    if (strlen(s) != sizeof(shape) - 1) {
        return -1;
    }
    for (size_t i = 0; i < sizeof(shape) - 1; i++) {
        if (shape[i] == '9' ? !constra__ascii_is_digit(s[i]) : s[i] != shape[i]) {
            return -1;
        }
    }
    return constra__jr_eat_unix(digit2(s + 6) * 100 + digit2(s + 8), digit2(s + 3), digit2(s),
                                digit2(s + 11), digit2(s + 14), digit2(s + 17), out);
}

/* A 14-digit timestamp field (number or string) into ts; unix if real. */
static int read_timestamp_value(constra__jr *jr, const cJSON *item, const char *path, int flags,
                                char ts[CONSTRA_DARAJA_TIMESTAMP_SIZE], int *present,
                                int *has_unix, int64_t *unix_s)
{
    int rc = constra__jr_value_text(jr, item, path, flags | DIGITS | NUM_OK, ts,
                                    CONSTRA_DARAJA_TIMESTAMP_SIZE, present);
    if (rc != CONSTRA_OK || !*present) {
        return rc;
    }
    if (strlen(ts) != 14) {
        ts[0] = '\0';
        return constra__jr_fail(jr, "field_invalid", path,
                                "%s must be 14 digits YYYYMMDDHHMMSS", path);
    }
    *has_unix = ymdhms_unix(ts, unix_s) == 0;
    if (!*has_unix) {
        *unix_s = 0;
    }
    return CONSTRA_OK;
}

/* ---- name/value lists --------------------------------------------------- */

/* Iterates the elements of a list that is an array of objects, or (when
 * single_ok) a single object. */
typedef struct list_iter {
    const cJSON *list;
    const cJSON *next;
    const char *path;
    size_t index;
    int single;
} list_iter;

static int list_open(constra__jr *jr, const cJSON *obj, const char *parent, const char *key,
                     int flags, int single_ok, list_iter *it, char *path, size_t path_size)
{
    const cJSON *item;
    memset(it, 0, sizeof(*it));
    int rc = constra__jr_member(jr, obj, parent, key, &item, path, path_size);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    it->path = path;
    if (item == NULL) {
        if (flags & REQ) {
            return constra__jr_fail(jr, "field_missing", path, "%s is required", path);
        }
        return CONSTRA_OK;
    }
    if (cJSON_IsArray(item)) {
        it->list = item;
        it->next = item->child;
    } else if (single_ok && cJSON_IsObject(item)) {
        it->list = item;
        it->next = item;
        it->single = 1;
    } else {
        return constra__jr_fail(jr, "field_invalid", path, "%s must be an array%s", path,
                                single_ok ? " or an object" : "");
    }
    return CONSTRA_OK;
}

/* The next element (must be an object): 1 with *elem and its path, 0 at
 * the end, negative on error. */
static int list_next(constra__jr *jr, list_iter *it, const cJSON **elem, char *path,
                     size_t path_size)
{
    if (it->next == NULL) {
        return 0;
    }
    const cJSON *e = it->next;
    if (it->single) {
        constra__jr_path(path, path_size, "", it->path);
        it->next = NULL;
    } else {
        constra__jr_path_index(path, path_size, it->path, it->index);
        it->next = e->next;
        it->index++;
    }
    if (!cJSON_IsObject(e)) {
        return constra__jr_fail(jr, "field_invalid", path, "%s must be an object", path);
    }
    *elem = e;
    return 1;
}

/* The name (Name / Key) of a list element: a string, required. */
static int element_name(constra__jr *jr, const cJSON *elem, const char *path, const char *key,
                        const char **name)
{
    char npath[CONSTRA__JR_PATH_SIZE];
    const cJSON *item;
    int rc = constra__jr_member(jr, elem, path, key, &item, npath, sizeof(npath));
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (item == NULL) {
        return constra__jr_fail(jr, "field_missing", npath, "%s is required", npath);
    }
    if (!cJSON_IsString(item) || item->valuestring == NULL) {
        return constra__jr_fail(jr, "field_invalid", npath, "%s must be a string", npath);
    }
    *name = item->valuestring;
    return CONSTRA_OK;
}

/* Index of name in names[], or -1; a second sighting is a duplicate. */
static int known_name(constra__jr *jr, const char *name, const char *const *names, size_t count,
                      int *seen, const char *path)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(name, names[i]) == 0) {
            if (seen[i]) {
                return constra__jr_fail(jr, "field_duplicate", path,
                                        "%s: %s appears more than once in the list", path,
                                        names[i]);
            }
            seen[i] = 1;
            return (int)i;
        }
    }
    return -1;
}

/* ---- STK callback ------------------------------------------------------- */

enum { STK_AMOUNT, STK_RECEIPT, STK_DATE, STK_PHONE, STK_NAMES };
static const char *const stk_names[STK_NAMES] = {"Amount", "MpesaReceiptNumber",
                                                 "TransactionDate", "PhoneNumber"};

static int stk_item(constra__jr *jr, const cJSON *elem, const char *path, int *seen,
                    constra_daraja_stk_callback *r)
{
    const char *name;
    int rc = element_name(jr, elem, path, "Name", &name);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    int k = known_name(jr, name, stk_names, STK_NAMES, seen, path);
    if (k < -1) {
        return k;
    }
    if (k < 0) {
        return CONSTRA_OK; /* unknown items (Balance, ...) are ignored */
    }
    char vpath[CONSTRA__JR_PATH_SIZE];
    const cJSON *value;
    rc = constra__jr_member(jr, elem, path, "Value", &value, vpath, sizeof(vpath));
    if (rc != CONSTRA_OK) {
        return rc;
    }
    switch (k) {
    case STK_AMOUNT:
        return constra__jr_value_int(jr, value, vpath, STR_OK, 0, 0, INT64_MAX, &r->amount,
                                     &r->has_amount);
    case STK_RECEIPT:
        return constra__jr_value_text(jr, value, vpath, ID_ | NONEMPTY, r->mpesa_receipt_number,
                                      sizeof(r->mpesa_receipt_number), &r->has_receipt);
    case STK_DATE:
        return read_timestamp_value(jr, value, vpath, 0, r->transaction_date,
                                    &r->has_transaction_date, &r->has_transaction_unix,
                                    &r->transaction_unix);
    default:
        return constra__jr_value_text(jr, value, vpath, FREE_ | NUM_OK | NONEMPTY,
                                      r->phone_number, sizeof(r->phone_number),
                                      &r->has_phone_number);
    }
}

static int stk_callback(constra__jr *jr, constra_daraja_stk_callback *r)
{
    static const char P[] = "Body.stkCallback";
    const cJSON *body, *cb, *md;
    int rc;
    if ((rc = constra__jr_object(jr, jr->root, "", "Body", REQ, &body)) != CONSTRA_OK ||
        (rc = constra__jr_object(jr, body, "Body", "stkCallback", REQ, &cb)) != CONSTRA_OK ||
        (rc = constra__jr_text(jr, cb, P, "MerchantRequestID", REQ | ID_ | NONEMPTY,
                               r->merchant_request_id, sizeof(r->merchant_request_id), NULL)) !=
            CONSTRA_OK ||
        (rc = constra__jr_text(jr, cb, P, "CheckoutRequestID", REQ | ID_ | NONEMPTY,
                               r->checkout_request_id, sizeof(r->checkout_request_id), NULL)) !=
            CONSTRA_OK ||
        (rc = constra__jr_code(jr, cb, P, "ResultCode", REQ, r->result_code,
                               sizeof(r->result_code), NULL)) != CONSTRA_OK ||
        (rc = constra__jr_text(jr, cb, P, "ResultDesc", FREE_, r->result_desc,
                               sizeof(r->result_desc), NULL)) != CONSTRA_OK ||
        (rc = constra__jr_object(jr, cb, P, "CallbackMetadata", 0, &md)) != CONSTRA_OK) {
        return rc;
    }
    if (md == NULL) {
        return CONSTRA_OK;
    }
    r->has_metadata = 1;
    char lpath[CONSTRA__JR_PATH_SIZE], epath[CONSTRA__JR_PATH_SIZE];
    list_iter it;
    rc = list_open(jr, md, "Body.stkCallback.CallbackMetadata", "Item", REQ, 0, &it, lpath,
                   sizeof(lpath));
    if (rc != CONSTRA_OK) {
        return rc;
    }
    int seen[STK_NAMES] = {0};
    const cJSON *elem = NULL;
    while ((rc = list_next(jr, &it, &elem, epath, sizeof(epath))) > 0) {
        rc = stk_item(jr, elem, epath, seen, r);
        if (rc != CONSTRA_OK) {
            return rc;
        }
    }
    return rc;
}

int constra_daraja_parse_stk_callback(const char *body, size_t len,
                                      constra_daraja_stk_callback *out, constra_error *err)
{
    constra_daraja_stk_callback r;
    int rc = constra__check_struct(out, sizeof(r), sizeof(r), "out", err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    memset(&r, 0, sizeof(r));
    rc = check_args(body, NO_HTTP, err);
    if (rc == CONSTRA_OK) {
        constra__jr jr;
        rc = constra__jr_parse(&jr, body, len, CONSTRA_DARAJA_BODY_MAX,
                               CONSTRA_DARAJA_JSON_DEPTH_MAX, "callback", err);
        if (rc == CONSTRA_OK) {
            rc = stk_callback(&jr, &r);
            constra__jr_free(&jr);
        }
    }
    return finish(out, &r, sizeof(r), rc);
}

/* ---- C2B ------------------------------------------------------------------ */

static int msisdn_form(const char *s)
{
    size_t n = strlen(s), digits = 0, hex = 0;
    if (n == 0) {
        return CONSTRA_DARAJA_MSISDN_ABSENT;
    }
    if (strchr(s, '*') != NULL) {
        return CONSTRA_DARAJA_MSISDN_MASKED;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        digits += constra__ascii_is_digit(c);
        hex += constra__ascii_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    }
    if (digits == n) {
        return CONSTRA_DARAJA_MSISDN_PLAIN;
    }
    if (n == 64 && hex == n) {
        return CONSTRA_DARAJA_MSISDN_HASHED;
    }
    return CONSTRA_DARAJA_MSISDN_OTHER;
}

static int c2b(constra__jr *jr, constra_daraja_c2b *r)
{
    const cJSON *root = jr->root;
    char path[CONSTRA__JR_PATH_SIZE];
    const cJSON *item;
    int rc, present;
    if ((rc = constra__jr_text(jr, root, "", "TransactionType", REQ | FREE_ | NONEMPTY,
                               r->transaction_type, sizeof(r->transaction_type), NULL)) !=
            CONSTRA_OK ||
        (rc = constra__jr_text(jr, root, "", "TransID", REQ | ID_ | NONEMPTY, r->trans_id,
                               sizeof(r->trans_id), NULL)) != CONSTRA_OK ||
        (rc = constra__jr_member(jr, root, "", "TransTime", &item, path, sizeof(path))) !=
            CONSTRA_OK ||
        (rc = read_timestamp_value(jr, item, path, REQ, r->trans_time, &present,
                                   &r->has_trans_unix, &r->trans_unix)) != CONSTRA_OK ||
        (rc = constra__jr_int(jr, root, "", "TransAmount", REQ | STR_OK, 0, 0, INT64_MAX,
                              &r->trans_amount, NULL)) != CONSTRA_OK ||
        (rc = constra__jr_text(jr, root, "", "BusinessShortCode", REQ | DIGITS | NUM_OK | NONEMPTY,
                               r->business_short_code, sizeof(r->business_short_code), NULL)) !=
            CONSTRA_OK ||
        (rc = constra__jr_text(jr, root, "", "BillRefNumber", FREE_, r->bill_ref_number,
                               sizeof(r->bill_ref_number), NULL)) != CONSTRA_OK ||
        (rc = constra__jr_text(jr, root, "", "InvoiceNumber", FREE_, r->invoice_number,
                               sizeof(r->invoice_number), NULL)) != CONSTRA_OK ||
        (rc = constra__jr_int(jr, root, "", "OrgAccountBalance", STR_OK | EMPTY_ABSENT, 2,
                              INT64_MIN, INT64_MAX, &r->org_account_balance_cents,
                              &r->has_org_account_balance)) != CONSTRA_OK ||
        (rc = constra__jr_text(jr, root, "", "ThirdPartyTransID", FREE_, r->third_party_trans_id,
                               sizeof(r->third_party_trans_id), NULL)) != CONSTRA_OK ||
        (rc = constra__jr_text(jr, root, "", "MSISDN", FREE_ | NUM_OK, r->msisdn,
                               sizeof(r->msisdn), NULL)) != CONSTRA_OK ||
        (rc = constra__jr_text(jr, root, "", "FirstName", FREE_, r->first_name,
                               sizeof(r->first_name), NULL)) != CONSTRA_OK ||
        (rc = constra__jr_text(jr, root, "", "MiddleName", FREE_, r->middle_name,
                               sizeof(r->middle_name), NULL)) != CONSTRA_OK ||
        (rc = constra__jr_text(jr, root, "", "LastName", FREE_, r->last_name,
                               sizeof(r->last_name), NULL)) != CONSTRA_OK) {
        return rc;
    }
    r->msisdn_form = msisdn_form(r->msisdn);
    return CONSTRA_OK;
}

int constra_daraja_parse_c2b(const char *body, size_t len, constra_daraja_c2b *out,
                             constra_error *err)
{
    constra_daraja_c2b r;
    int rc = constra__check_struct(out, sizeof(r), sizeof(r), "out", err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    memset(&r, 0, sizeof(r));
    rc = check_args(body, NO_HTTP, err);
    if (rc == CONSTRA_OK) {
        constra__jr jr;
        rc = constra__jr_parse(&jr, body, len, CONSTRA_DARAJA_BODY_MAX,
                               CONSTRA_DARAJA_JSON_DEPTH_MAX, "callback", err);
        if (rc == CONSTRA_OK) {
            rc = c2b(&jr, &r);
            constra__jr_free(&jr);
        }
    }
    return finish(out, &r, sizeof(r), rc);
}

/* ---- B2C result ------------------------------------------------------------ */

enum {
    B2C_AMOUNT, B2C_RECEIPT, B2C_NAME, B2C_COMPLETED, B2C_UTILITY, B2C_WORKING, B2C_CHARGES,
    B2C_REGISTERED, B2C_NAMES
};
static const char *const b2c_names[B2C_NAMES] = {
    "TransactionAmount", "TransactionReceipt", "ReceiverPartyPublicName",
    "TransactionCompletedDateTime", "B2CUtilityAccountAvailableFunds",
    "B2CWorkingAccountAvailableFunds", "B2CChargesPaidAccountAvailableFunds",
    "B2CRecipientIsRegisteredCustomer"};

static int b2c_param(constra__jr *jr, const cJSON *elem, const char *path, int *seen,
                     constra_daraja_b2c_result *r)
{
    const char *name;
    int rc = element_name(jr, elem, path, "Key", &name);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    int k = known_name(jr, name, b2c_names, B2C_NAMES, seen, path);
    if (k < -1) {
        return k;
    }
    if (k < 0) {
        return CONSTRA_OK;
    }
    char vpath[CONSTRA__JR_PATH_SIZE];
    const cJSON *v;
    rc = constra__jr_member(jr, elem, path, "Value", &v, vpath, sizeof(vpath));
    if (rc != CONSTRA_OK) {
        return rc;
    }
    switch (k) {
    case B2C_AMOUNT:
        return constra__jr_value_int(jr, v, vpath, STR_OK, 0, 0, INT64_MAX,
                                     &r->transaction_amount, &r->has_transaction_amount);
    case B2C_RECEIPT:
        return constra__jr_value_text(jr, v, vpath, ID_, r->transaction_receipt,
                                      sizeof(r->transaction_receipt), NULL);
    case B2C_NAME:
        return constra__jr_value_text(jr, v, vpath, FREE_, r->receiver_party_public_name,
                                      sizeof(r->receiver_party_public_name), NULL);
    case B2C_COMPLETED:
        rc = constra__jr_value_text(jr, v, vpath, FREE_, r->transaction_completed_datetime,
                                    sizeof(r->transaction_completed_datetime), NULL);
        if (rc == CONSTRA_OK) {
            r->has_transaction_completed_unix =
                dotted_unix(r->transaction_completed_datetime, &r->transaction_completed_unix) ==
                0;
            if (!r->has_transaction_completed_unix) {
                r->transaction_completed_unix = 0;
            }
        }
        return rc;
    case B2C_UTILITY:
        return constra__jr_value_int(jr, v, vpath, STR_OK | EMPTY_ABSENT, 2, INT64_MIN,
                                     INT64_MAX, &r->utility_account_funds_cents,
                                     &r->has_utility_account_funds);
    case B2C_WORKING:
        return constra__jr_value_int(jr, v, vpath, STR_OK | EMPTY_ABSENT, 2, INT64_MIN,
                                     INT64_MAX, &r->working_account_funds_cents,
                                     &r->has_working_account_funds);
    case B2C_CHARGES:
        return constra__jr_value_int(jr, v, vpath, STR_OK | EMPTY_ABSENT, 2, INT64_MIN,
                                     INT64_MAX, &r->charges_paid_account_funds_cents,
                                     &r->has_charges_paid_account_funds);
    default:
        return constra__jr_value_text(jr, v, vpath, ID_, r->recipient_is_registered_customer,
                                      sizeof(r->recipient_is_registered_customer), NULL);
    }
}

static int b2c_reference(constra__jr *jr, const cJSON *result, constra_daraja_b2c_result *r)
{
    const cJSON *ref = NULL, *elem = NULL;
    int rc = constra__jr_object(jr, result, "Result", "ReferenceData", 0, &ref);
    if (rc != CONSTRA_OK || ref == NULL) {
        return rc;
    }
    char lpath[CONSTRA__JR_PATH_SIZE], epath[CONSTRA__JR_PATH_SIZE];
    list_iter it;
    rc = list_open(jr, ref, "Result.ReferenceData", "ReferenceItem", 0, 1, &it, lpath,
                   sizeof(lpath));
    if (rc != CONSTRA_OK) {
        return rc;
    }
    static const char *const names[1] = {"QueueTimeoutURL"};
    int seen[1] = {0};
    while ((rc = list_next(jr, &it, &elem, epath, sizeof(epath))) > 0) {
        const char *name;
        if ((rc = element_name(jr, elem, epath, "Key", &name)) != CONSTRA_OK) {
            return rc;
        }
        int k = known_name(jr, name, names, 1, seen, epath);
        if (k < -1) {
            return k;
        }
        if (k == 0) {
            rc = constra__jr_text(jr, elem, epath, "Value", ID_, r->queue_timeout_url,
                                  sizeof(r->queue_timeout_url), NULL);
            if (rc != CONSTRA_OK) {
                return rc;
            }
        }
    }
    return rc;
}

static int b2c_result(constra__jr *jr, constra_daraja_b2c_result *r)
{
    static const char P[] = "Result";
    const cJSON *res, *params;
    int rc;
    if ((rc = constra__jr_object(jr, jr->root, "", "Result", REQ, &res)) != CONSTRA_OK ||
        (rc = constra__jr_int(jr, res, P, "ResultType", REQ | STR_OK, 0, 0, INT64_MAX,
                              &r->result_type, NULL)) != CONSTRA_OK ||
        (rc = constra__jr_code(jr, res, P, "ResultCode", REQ, r->result_code,
                               sizeof(r->result_code), NULL)) != CONSTRA_OK ||
        (rc = constra__jr_text(jr, res, P, "ResultDesc", FREE_, r->result_desc,
                               sizeof(r->result_desc), NULL)) != CONSTRA_OK ||
        (rc = constra__jr_text(jr, res, P, "OriginatorConversationID", REQ | ID_ | NONEMPTY,
                               r->originator_conversation_id,
                               sizeof(r->originator_conversation_id), NULL)) != CONSTRA_OK ||
        (rc = constra__jr_text(jr, res, P, "ConversationID", REQ | ID_ | NONEMPTY,
                               r->conversation_id, sizeof(r->conversation_id), NULL)) !=
            CONSTRA_OK ||
        (rc = constra__jr_text(jr, res, P, "TransactionID", ID_, r->transaction_id,
                               sizeof(r->transaction_id), NULL)) != CONSTRA_OK ||
        (rc = constra__jr_object(jr, res, P, "ResultParameters", 0, &params)) != CONSTRA_OK) {
        return rc;
    }
    if (params != NULL) {
        r->has_parameters = 1;
        char lpath[CONSTRA__JR_PATH_SIZE], epath[CONSTRA__JR_PATH_SIZE];
        list_iter it;
        const cJSON *elem = NULL;
        rc = list_open(jr, params, "Result.ResultParameters", "ResultParameter", REQ, 1, &it,
                       lpath, sizeof(lpath));
        if (rc != CONSTRA_OK) {
            return rc;
        }
        int seen[B2C_NAMES] = {0};
        while ((rc = list_next(jr, &it, &elem, epath, sizeof(epath))) > 0) {
            rc = b2c_param(jr, elem, epath, seen, r);
            if (rc != CONSTRA_OK) {
                return rc;
            }
        }
        if (rc != CONSTRA_OK) {
            return rc;
        }
    }
    return b2c_reference(jr, res, r);
}

int constra_daraja_parse_b2c_result(const char *body, size_t len, constra_daraja_b2c_result *out,
                                    constra_error *err)
{
    constra_daraja_b2c_result r;
    int rc = constra__check_struct(out, sizeof(r), sizeof(r), "out", err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    memset(&r, 0, sizeof(r));
    rc = check_args(body, NO_HTTP, err);
    if (rc == CONSTRA_OK) {
        constra__jr jr;
        rc = constra__jr_parse(&jr, body, len, CONSTRA_DARAJA_BODY_MAX,
                               CONSTRA_DARAJA_JSON_DEPTH_MAX, "callback", err);
        if (rc == CONSTRA_OK) {
            rc = b2c_result(&jr, &r);
            constra__jr_free(&jr);
        }
    }
    return finish(out, &r, sizeof(r), rc);
}

/* ---- OAuth response ------------------------------------------------------ */

static int oauth_response(constra__jr *jr, int http_status, constra_daraja_oauth_response *r)
{
    int has_error, has_token, rc;
    if ((rc = has_member(jr, jr->root, "", "errorCode", &has_error)) != CONSTRA_OK ||
        (rc = has_member(jr, jr->root, "", "access_token", &has_token)) != CONSTRA_OK) {
        return rc;
    }
    if (has_error && has_token) {
        return ambiguous(jr, "errorCode", "access_token");
    }
    if (has_error) {
        r->is_error = 1;
        return read_envelope(jr, r->error_request_id, r->error_code, r->error_message);
    }
    if (!is_2xx(http_status)) {
        return unexpected(jr, http_status, has_token ? "an access_token" : "no errorCode");
    }
    if ((rc = constra__jr_text(jr, jr->root, "", "access_token", REQ | ID_ | NONEMPTY,
                               r->access_token, sizeof(r->access_token), NULL)) != CONSTRA_OK ||
        (rc = constra__jr_int(jr, jr->root, "", "expires_in", REQ | STR_OK, 0, 1, 31536000,
                              &r->expires_in, NULL)) != CONSTRA_OK) {
        return rc;
    }
    return CONSTRA_OK;
}

int constra_daraja_parse_oauth_response(const char *body, size_t len, int http_status,
                                        constra_daraja_oauth_response *out, constra_error *err)
{
    constra_daraja_oauth_response r;
    int rc = constra__check_struct(out, sizeof(r), sizeof(r), "out", err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    memset(&r, 0, sizeof(r));
    rc = check_args(body, http_status, err);
    if (rc == CONSTRA_OK) {
        constra__jr jr;
        rc = constra__jr_parse(&jr, body, len, CONSTRA_DARAJA_BODY_MAX,
                               CONSTRA_DARAJA_JSON_DEPTH_MAX, "response", err);
        if (rc == CONSTRA_OK) {
            r.http_status = http_status;
            rc = oauth_response(&jr, http_status, &r);
            constra__jr_free(&jr);
        }
    }
    rc = finish(out, &r, sizeof(r), rc);
    constra__wipe(&r, sizeof(r));
    return rc;
}
