/*
 * The Daraja emulator (daraja_emulator.h): OAuth, STK push and STK query
 * with Daraja's checks and answers, STK callbacks sent by pump(), and
 * fault modes. Builders/parsers of the mpesa/ layer compute what a valid
 * request must contain (password, Basic header), so the emulator and the
 * rail cannot drift apart silently: tests of the rail go through here.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "util/intfmt.h"
#include "constra/daraja.h"
#include "constra/daraja_emulator.h"
#include "platform/platform.h"
#include "mpesa/receipt.h"
#include "transport/transport_internal.h"
#include "util/check.h"
#include "util/ascii.h"
#include "util/civil.h"
#include "util/encode.h"

#define MAX_SHORTCODES 8
#define MAX_TOKENS 64
#define MAX_OUTCOMES 32
#define FAULT_KINDS 14
#define DEFAULT_DELAY_MS 20000
#define LATE_MS (10 * 60 * 1000)
#define QUERY_LAG_MS 60000
#define EAT_OFFSET_S 10800

typedef struct emu_push {
    char checkout[64];
    char merchant[64];
    char phone[16];
    char shortcode[8];
    char callback_url[CONSTRA_DARAJA_URL_MAX + 1];
    char code[32];
    int64_t amount;
    int64_t created_ms;
    int64_t result_ms;   /* when the query learns the result */
    int64_t callback_ms; /* when the callback is due; 0 = never */
    int callbacks_left;
    int fault_flags;     /* bit per fault applied at push time */
    int queries;
    char receipt[11];
} emu_push;

struct constra_daraja_emulator {
    constra_platform platform;
    void *mutex;
    constra_transport cb;
    int have_cb;
    char key[CONSTRA_DARAJA_CREDENTIAL_MAX + 1];
    char secret[CONSTRA_DARAJA_CREDENTIAL_MAX + 1];
    int64_t token_ttl_s;
    int64_t delay_ms;
    int64_t amount_max;
    struct {
        char shortcode[8];
        char passkey[CONSTRA_DARAJA_CREDENTIAL_MAX + 1];
    } codes[MAX_SHORTCODES];
    int code_count;
    struct {
        char token[40];
        int64_t expires_ms;
    } tokens[MAX_TOKENS];
    int token_next;
    struct {
        char phone[16];
        char code[32];
    } outcomes[MAX_OUTCOMES];
    int outcome_count;
    int faults[FAULT_KINDS]; /* remaining uses; < 0 forever */
    emu_push *pushes;
    size_t push_count, push_cap;
    uint32_t counter;
    uint64_t counts[6];
};

int constra_daraja_emulator_options_init(constra_daraja_emulator_options *o, size_t struct_size)
{
    /* Any size from sizeof(size_t) up: fields past an older caller's
     * struct_size are read as zero (constra__copy_struct). */
    return constra__init_struct(o, struct_size, sizeof(size_t), sizeof(*o), NULL);
}

/* ---- small helpers ------------------------------------------------------ */

static int all_digits(const char *s, size_t min, size_t max)
{
    size_t n = constra__strnlen(s, max + 1);
    if (n < min || n > max) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return 1;
}

/* A whole amount 1..max from its digits; 0 when out of range. */
static int64_t strtoll_ok(const char *digits, int64_t max)
{
    int64_t v = 0;
    for (const char *d = digits; *d; d++) {
        v = v * 10 + (*d - '0');
        if (v > max) {
            return 0;
        }
    }
    return v;
}

static int valid_phone(const char *p)
{
    return all_digits(p, 12, 12) && strncmp(p, "254", 3) == 0 && (p[3] == '7' || p[3] == '1');
}

/* Consumes one use of a fault; 1 if it applies. Caller holds the lock. */
static int take_fault(constra_daraja_emulator *e, int fault)
{
    if (e->faults[fault] == 0) {
        return 0;
    }
    if (e->faults[fault] > 0) {
        e->faults[fault]--;
    }
    return 1;
}

static int reply(constra_transport_response *resp, int status, const char *ctype,
                 const char *body)
{
    int rc = constra_transport_response_set_status(resp, status);
    if (rc == CONSTRA_OK && ctype) {
        rc = constra_transport_response_add_header(resp, "Content-Type", 12, ctype,
                                                   strlen(ctype));
    }
    if (rc == CONSTRA_OK && body) {
        rc = constra_transport_response_append(resp, body, strlen(body));
    }
    return rc;
}

/* Daraja's error envelope. */
static int envelope(constra_daraja_emulator *e, constra_transport_response *resp, int status,
                    const char *code, const char *message)
{
    char body[512];
    uint8_t r[4] = {0};
    constra__random(&e->platform, r, sizeof(r));
    snprintf(body, sizeof(body),
             "{\"requestId\":\"%02x%02x-4ba8-815c-ac45c57a3db0%u\",\"errorCode\":\"%s\","
             "\"errorMessage\":\"%s\"}",
             r[0], r[1], (unsigned)r[2] * 256u + r[3], code, message);
    return reply(resp, status, "application/json", body);
}

static const char *header(const constra_transport_request *req, const char *name)
{
    for (size_t i = 0; i < req->header_count; i++) {
        if (constra__ascii_casecmp(req->headers[i].name, name) == 0) {
            return req->headers[i].value;
        }
    }
    return NULL;
}

static const char *passkey_of(const constra_daraja_emulator *e, const char *shortcode)
{
    for (int i = 0; i < e->code_count; i++) {
        if (strcmp(e->codes[i].shortcode, shortcode) == 0) {
            return e->codes[i].passkey;
        }
    }
    return NULL;
}

/* ---- OAuth ---------------------------------------------------------------- */

static int serve_oauth(constra_daraja_emulator *e, const constra_transport_request *req,
                       const char *query, constra_transport_response *resp)
{
    if (query == NULL || strcmp(query, "grant_type=client_credentials") != 0) {
        return envelope(e, resp, 400, "400.008.02", "Invalid grant type passed");
    }
    const char *auth = header(req, "Authorization");
    if (auth == NULL || strncmp(auth, "Basic ", 6) != 0) {
        return envelope(e, resp, 400, "400.008.01", "Invalid Authentication passed");
    }
    char want[CONSTRA_DARAJA_AUTH_HEADER_SIZE];
    if (constra_daraja_oauth_request(e->key, e->secret, NULL, NULL, want, sizeof(want), NULL,
                                     NULL) != CONSTRA_OK ||
        strcmp(auth, want) != 0) {
        /* Production answers wrong credentials with 400 and no body. */
        return reply(resp, 400, NULL, NULL);
    }
    uint8_t raw[20];
    if (constra__random(&e->platform, raw, sizeof(raw)) != 0) {
        return envelope(e, resp, 500, "500.003.1001", "Internal Server Error");
    }
    char token[40];
    size_t n = constra__base64_encode(raw, sizeof(raw), token, sizeof(token));
    /* Daraja's tokens are alphanumeric (28 characters). */
    for (size_t i = 0; i < n; i++) {
        if (token[i] == '+' || token[i] == '/' || token[i] == '=') {
            token[i] = 'A';
        }
    }
    token[28] = '\0';
    int slot = e->token_next++ % MAX_TOKENS;
    constra__strlcpy(e->tokens[slot].token, token, sizeof(e->tokens[slot].token));
    e->tokens[slot].expires_ms = constra__wall_ms(&e->platform) + e->token_ttl_s * 1000;
    char body[128];
    char ttl[CONSTRA__INT_TEXT_MAX];
    constra__fmt_i64(ttl, (int64_t)e->token_ttl_s);
    snprintf(body, sizeof(body), "{\"access_token\":\"%s\",\"expires_in\":\"%s\"}", token,
             ttl);
    return reply(resp, 200, "application/json", body);
}

static int token_ok(constra_daraja_emulator *e, const constra_transport_request *req)
{
    const char *auth = header(req, "Authorization");
    if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0 || auth[7] == '\0') {
        return 0;
    }
    int64_t now = constra__wall_ms(&e->platform);
    for (int i = 0; i < MAX_TOKENS; i++) {
        if (e->tokens[i].token[0] && strcmp(e->tokens[i].token, auth + 7) == 0) {
            return now < e->tokens[i].expires_ms;
        }
    }
    return 0;
}

/* ---- JSON fields ---------------------------------------------------------- */

/* A field as text: strings as sent, whole numbers as digits. */
static int field_text(const cJSON *obj, const char *name, char *out, size_t size)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(obj, name);
    out[0] = '\0';
    if (cJSON_IsString(f) && f->valuestring) {
        if (strlen(f->valuestring) >= size) {
            return 0;
        }
        constra__strlcpy(out, f->valuestring, size);
        return 1;
    }
    if (cJSON_IsNumber(f)) {
        double d = f->valuedouble;
        if (d < 0 || d > 1e15 || d != (double)(long long)d) {
            return 0;
        }
        char text[CONSTRA__INT_TEXT_MAX];
        constra__fmt_i64(text, (int64_t)d);
        constra__strlcpy(out, text, size);
        return 1;
    }
    return 0;
}

static int valid_timestamp(const char *ts)
{
    if (!all_digits(ts, 14, 14)) {
        return 0;
    }
    int mo = (ts[4] - '0') * 10 + (ts[5] - '0');
    int d = (ts[6] - '0') * 10 + (ts[7] - '0');
    int h = (ts[8] - '0') * 10 + (ts[9] - '0');
    int mi = (ts[10] - '0') * 10 + (ts[11] - '0');
    int s = (ts[12] - '0') * 10 + (ts[13] - '0');
    return mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && s <= 59;
}

/* Checks the token, method, content type, body, shortcode and password
 * common to push and query. Returns the parsed body, or NULL after
 * answering. */
static cJSON *common_checks(constra_daraja_emulator *e, const constra_transport_request *req,
                            constra_transport_response *resp, char *shortcode, int *rc)
{
    *rc = CONSTRA_OK;
    if (strcmp(req->method, "POST") != 0) {
        *rc = envelope(e, resp, 405, "405.001", "Method Not Allowed");
        return NULL;
    }
    if (take_fault(e, CONSTRA_DARAJA_FAULT_TOKEN_EXPIRE)) {
        for (int i = 0; i < MAX_TOKENS; i++) {
            e->tokens[i].expires_ms = INT64_MIN;
        }
    }
    if (!token_ok(e, req)) {
        *rc = envelope(e, resp, 404, "404.001.03", "Invalid Access Token");
        return NULL;
    }
    if (take_fault(e, CONSTRA_DARAJA_FAULT_SPIKE_ARREST)) {
        *rc = envelope(e, resp, 500, "500.003.02", "Error Occurred: Spike Arrest Violation");
        return NULL;
    }
    const char *ct = header(req, "Content-Type");
    cJSON *root = NULL;
    if (ct && strncmp(ct, "application/json", 16) == 0 && req->body_len > 0) {
        root = cJSON_ParseWithLength(req->body, req->body_len);
    }
    char ts[32], pw[CONSTRA_DARAJA_PASSWORD_SIZE];
    if (!cJSON_IsObject(root) || !field_text(root, "BusinessShortCode", shortcode, 8) ||
        !all_digits(shortcode, 5, 7)) {
        /* Daraja's misleading answer to a missing JSON content type. */
        cJSON_Delete(root);
        *rc = envelope(e, resp, 400, "400.002.02", "Bad Request - Invalid BusinessShortCode");
        return NULL;
    }
    if (!field_text(root, "Timestamp", ts, sizeof(ts)) || !valid_timestamp(ts)) {
        cJSON_Delete(root);
        *rc = envelope(e, resp, 400, "400.002.02", "Bad Request - Invalid Timestamp");
        return NULL;
    }
    const char *passkey = passkey_of(e, shortcode);
    if (passkey == NULL) {
        cJSON_Delete(root);
        *rc = envelope(e, resp, 500, "500.001.1001", "Merchant does not exist");
        return NULL;
    }
    char want[CONSTRA_DARAJA_PASSWORD_SIZE];
    if (!field_text(root, "Password", pw, sizeof(pw)) ||
        constra_daraja_password(shortcode, passkey, ts, want, sizeof(want), NULL, NULL) !=
            CONSTRA_OK ||
        strcmp(pw, want) != 0) {
        cJSON_Delete(root);
        *rc = envelope(e, resp, 500, "500.001.1001", "[MerchantValidate] - Wrong credentials");
        return NULL;
    }
    return root;
}

/* ---- STK push ------------------------------------------------------------- */

static const char *default_code(const constra_daraja_emulator *e, const char *phone)
{
    for (int i = 0; i < e->outcome_count; i++) {
        if (strcmp(e->outcomes[i].phone, phone) == 0) {
            return e->outcomes[i].code;
        }
    }
    static const struct {
        const char *phone, *code;
    } magic[] = {{"254711000001", "1"},
                 {"254711000002", "1037"},
                 {"254711000003", "1032"},
                 {"254711000004", "2001"}};
    for (size_t i = 0; i < CONSTRA__ARRAY_LEN(magic); i++) {
        if (strcmp(magic[i].phone, phone) == 0) {
            return magic[i].code;
        }
    }
    return "0";
}

static const char *desc_of(const char *code)
{
    if (strcmp(code, "0") == 0) {
        return "The service request is processed successfully.";
    }
    if (strcmp(code, "1") == 0) {
        return "The balance is insufficient for the transaction.";
    }
    if (strcmp(code, "1032") == 0) {
        return "Request cancelled by user";
    }
    if (strcmp(code, "1037") == 0) {
        return "DS timeout user cannot be reached";
    }
    if (strcmp(code, "2001") == 0) {
        return "The initiator information is invalid.";
    }
    return "Result";
}

#define BAD(field) envelope(e, resp, 400, "400.002.02", "Bad Request - Invalid " field)

static int serve_push(constra_daraja_emulator *e, const constra_transport_request *req,
                      constra_transport_response *resp)
{
    e->counts[CONSTRA_DARAJA_EMU_PUSH]++;
    if (take_fault(e, CONSTRA_DARAJA_FAULT_PUSH_503)) {
        return reply(resp, 503, "text/html",
                     "<html><body><h1>503 Service Unavailable</h1></body></html>");
    }
    char shortcode[8];
    int rc;
    cJSON *root = common_checks(e, req, resp, shortcode, &rc);
    if (root == NULL) {
        return rc;
    }
    char type[40], amount[24], party_a[24], party_b[24], phone[24], ref[64], desc[64];
    char url[CONSTRA_DARAJA_URL_MAX + 2];
    int ok = 1;
    if (!field_text(root, "TransactionType", type, sizeof(type)) ||
        (strcmp(type, "CustomerPayBillOnline") != 0 && strcmp(type, "CustomerBuyGoodsOnline") != 0)) {
        rc = BAD("TransactionType");
        ok = 0;
    } else if (!field_text(root, "Amount", amount, sizeof(amount)) || !all_digits(amount, 1, 9) ||
               strtoll_ok(amount, e->amount_max) == 0) {
        rc = BAD("Amount");
        ok = 0;
    } else if (!field_text(root, "PartyA", party_a, sizeof(party_a)) || !valid_phone(party_a)) {
        rc = BAD("PartyA");
        ok = 0;
    } else if (!field_text(root, "PartyB", party_b, sizeof(party_b)) ||
               !all_digits(party_b, 5, 7)) {
        rc = BAD("PartyB");
        ok = 0;
    } else if (!field_text(root, "PhoneNumber", phone, sizeof(phone)) || !valid_phone(phone)) {
        rc = BAD("PhoneNumber");
        ok = 0;
    } else if (!field_text(root, "CallBackURL", url, sizeof(url)) ||
               (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) ||
               strchr(url, ' ') != NULL) {
        rc = BAD("CallBackURL");
        ok = 0;
    } else if (!field_text(root, "AccountReference", ref, sizeof(ref)) || ref[0] == '\0' ||
               strlen(ref) > CONSTRA_DARAJA_ACCOUNT_REFERENCE_MAX) {
        rc = BAD("AccountReference");
        ok = 0;
    } else if (!field_text(root, "TransactionDesc", desc, sizeof(desc)) || desc[0] == '\0' ||
               strlen(desc) > CONSTRA_DARAJA_TRANSACTION_DESC_MAX) {
        rc = BAD("Remarks");
        ok = 0;
    }
    cJSON_Delete(root);
    if (!ok) {
        return rc;
    }
    int64_t now = constra__wall_ms(&e->platform);
    /* One open prompt per subscriber. */
    for (size_t i = 0; i < e->push_count; i++) {
        if (strcmp(e->pushes[i].phone, phone) == 0 && e->pushes[i].result_ms > now) {
            return envelope(e, resp, 500, "500.001.1001",
                            "Unable to lock subscriber, a transaction is already in process "
                            "for the current subscriber");
        }
    }
    if (e->push_count == e->push_cap) {
        size_t cap = e->push_cap ? e->push_cap * 2 : 16;
        emu_push *p = constra__realloc(&e->platform, e->pushes, cap * sizeof(*p));
        if (p == NULL) {
            return envelope(e, resp, 500, "500.003.1001", "Internal Server Error");
        }
        e->pushes = p;
        e->push_cap = cap;
    }
    emu_push *p = &e->pushes[e->push_count++];
    memset(p, 0, sizeof(*p));
    e->counts[CONSTRA_DARAJA_EMU_PROMPTS]++;
    e->counter++;
    constra__civil c;
    constra__civil_from_ms(now, EAT_OFFSET_S, &c);
    snprintf(p->checkout, sizeof(p->checkout), "ws_CO_%02d%02d%04d%02d%02d%02d%03d%s%04u", c.day,
             c.month, c.year, c.hour, c.minute, c.second, (int)(now % 1000), phone + 3,
             (unsigned)(e->counter % 10000u));
    uint8_t r[6] = {0};
    constra__random(&e->platform, r, sizeof(r));
    snprintf(p->merchant, sizeof(p->merchant), "%02x%02x-4b64-97ff-b827b542%02x%02x%02x%02x%u",
             r[0], r[1], r[2], r[3], r[4], r[5], (unsigned)e->counter);
    constra__strlcpy(p->phone, phone, sizeof(p->phone));
    constra__strlcpy(p->shortcode, shortcode, sizeof(p->shortcode));
    constra__strlcpy(p->callback_url, url, sizeof(p->callback_url));
    constra__strlcpy(p->code, default_code(e, phone), sizeof(p->code));
    p->amount = strtoll_ok(amount, e->amount_max);
    p->created_ms = now;
    p->result_ms = now + e->delay_ms;
    p->callback_ms = p->result_ms;
    p->callbacks_left = 1;
    if (constra__mpesa_receipt_random(&e->platform, now, p->receipt) != 0) {
        constra__strlcpy(p->receipt, "SIM0000000", sizeof(p->receipt));
    }
    for (int f = CONSTRA_DARAJA_FAULT_CALLBACK_NEVER; f <= CONSTRA_DARAJA_FAULT_CALLBACK_TRUNCATED;
         f++) {
        int per_push = f == CONSTRA_DARAJA_FAULT_CALLBACK_NEVER ||
                       f == CONSTRA_DARAJA_FAULT_CALLBACK_TWICE ||
                       f == CONSTRA_DARAJA_FAULT_CALLBACK_LATE ||
                       f == CONSTRA_DARAJA_FAULT_CALLBACK_BEFORE_QUERY ||
                       f == CONSTRA_DARAJA_FAULT_QUERY_4999_THEN_1037 ||
                       f == CONSTRA_DARAJA_FAULT_CALLBACK_WRONG_ID ||
                       f == CONSTRA_DARAJA_FAULT_CALLBACK_TRUNCATED;
        if (per_push && take_fault(e, f)) {
            p->fault_flags |= 1 << f;
        }
    }
    if (p->fault_flags & (1 << CONSTRA_DARAJA_FAULT_CALLBACK_NEVER)) {
        p->callbacks_left = 0;
    }
    if (p->fault_flags & (1 << CONSTRA_DARAJA_FAULT_CALLBACK_TWICE)) {
        p->callbacks_left = 2;
    }
    if (p->fault_flags & (1 << CONSTRA_DARAJA_FAULT_CALLBACK_LATE)) {
        p->callback_ms = p->result_ms + LATE_MS;
    }
    if (p->fault_flags & (1 << CONSTRA_DARAJA_FAULT_CALLBACK_BEFORE_QUERY)) {
        p->result_ms = p->callback_ms + QUERY_LAG_MS;
    }
    if (p->fault_flags & (1 << CONSTRA_DARAJA_FAULT_QUERY_4999_THEN_1037)) {
        p->callbacks_left = 0;
        constra__strlcpy(p->code, "1037", sizeof(p->code));
    }
    /* Garbled answers to a push that was processed. */
    if (take_fault(e, CONSTRA_DARAJA_FAULT_PUSH_EMPTY)) {
        return reply(resp, 200, "application/json", NULL);
    }
    if (take_fault(e, CONSTRA_DARAJA_FAULT_PUSH_HTML)) {
        return reply(resp, 200, "text/html", "<html><body>OK</body></html>");
    }
    if (take_fault(e, CONSTRA_DARAJA_FAULT_PUSH_WRONG_SHAPE)) {
        return reply(resp, 200, "application/json", "{\"status\":\"ok\",\"data\":[1,2,3]}");
    }
    char body[512];
    snprintf(body, sizeof(body),
             "{\"MerchantRequestID\":\"%s\",\"CheckoutRequestID\":\"%s\",\"ResponseCode\":\"0\","
             "\"ResponseDescription\":\"Success. Request accepted for processing\","
             "\"CustomerMessage\":\"Success. Request accepted for processing\"}",
             p->merchant, p->checkout);
    return reply(resp, 200, "application/json", body);
}

/* ---- STK query ------------------------------------------------------------ */

static int serve_query(constra_daraja_emulator *e, const constra_transport_request *req,
                       constra_transport_response *resp)
{
    e->counts[CONSTRA_DARAJA_EMU_QUERY]++;
    char shortcode[8];
    int rc;
    cJSON *root = common_checks(e, req, resp, shortcode, &rc);
    if (root == NULL) {
        return rc;
    }
    char id[128];
    int have = field_text(root, "CheckoutRequestID", id, sizeof(id));
    cJSON_Delete(root);
    emu_push *p = NULL;
    for (size_t i = 0; have && i < e->push_count; i++) {
        if (strcmp(e->pushes[i].checkout, id) == 0 &&
            strcmp(e->pushes[i].shortcode, shortcode) == 0) {
            p = &e->pushes[i];
        }
    }
    if (p == NULL) {
        return BAD("CheckoutRequestID");
    }
    int64_t now = constra__wall_ms(&e->platform);
    char body[768];
    if (now < p->result_ms) {
        int classic = (p->queries++ % 2) == 0 &&
                      !(p->fault_flags & (1 << CONSTRA_DARAJA_FAULT_QUERY_4999_THEN_1037));
        if (classic) {
            return envelope(e, resp, 500, "500.001.1001", "The transaction is being processed");
        }
        snprintf(body, sizeof(body),
                 "{\"ResponseCode\":\"0\",\"ResponseDescription\":\"The service request has been "
                 "accepted successsfully\",\"MerchantRequestID\":\"%s\",\"CheckoutRequestID\":"
                 "\"%s\",\"ResultCode\":\"4999\",\"ResultDesc\":\"The transaction is still "
                 "under processing\"}",
                 p->merchant, p->checkout);
        return reply(resp, 200, "application/json", body);
    }
    snprintf(body, sizeof(body),
             "{\"ResponseCode\":\"0\",\"ResponseDescription\":\"The service request has been "
             "accepted successsfully\",\"MerchantRequestID\":\"%s\",\"CheckoutRequestID\":\"%s\","
             "\"ResultCode\":\"%s\",\"ResultDesc\":\"%s\"}",
             p->merchant, p->checkout, p->code,
             strcmp(p->code, "1037") == 0 ? "DS timeout user cannot be reached." : desc_of(p->code));
    return reply(resp, 200, "application/json", body);
}

/* ---- dispatch ------------------------------------------------------------- */

static int serve_locked(constra_daraja_emulator *e, const constra_transport_request *req,
                        constra_transport_response *resp)
{
    const char *target = req->url;
    size_t origin_len = 0;
    if (target[0] != '/' && constra__transport_url_origin_len(req->url, &origin_len)) {
        target = req->url + origin_len;
    }
    char path[128];
    const char *q = strchr(target, '?');
    size_t plen = q ? (size_t)(q - target) : strlen(target);
    if (plen >= sizeof(path)) {
        return envelope(e, resp, 404, "404.001.01", "Resource not found");
    }
    memcpy(path, target, plen);
    path[plen] = '\0';
    if (strcmp(path, "/oauth/v1/generate") == 0) {
        e->counts[CONSTRA_DARAJA_EMU_OAUTH]++;
        if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0) {
            return envelope(e, resp, 405, "405.001", "Method Not Allowed");
        }
        return serve_oauth(e, req, q ? q + 1 : NULL, resp);
    }
    if (strcmp(path, CONSTRA_DARAJA_STK_PUSH_PATH) == 0) {
        return serve_push(e, req, resp);
    }
    if (strcmp(path, CONSTRA_DARAJA_STK_QUERY_PATH) == 0) {
        return serve_query(e, req, resp);
    }
    return envelope(e, resp, 404, "404.001.01", "Resource not found");
}

int constra_daraja_emulator_handler(void *ctx, const constra_transport_request *request,
                                    constra_transport_response *response)
{
    constra_daraja_emulator *e = ctx;
    if (e == NULL || request == NULL || response == NULL || request->url == NULL ||
        request->method == NULL) {
        return constra_transport_response_fail(response, CONSTRA_TRANSPORT_OTHER,
                                               "emulator: bad arguments");
    }
    constra__lock(&e->platform, e->mutex);
    int rc = serve_locked(e, request, response);
    constra__unlock(&e->platform, e->mutex);
    return rc;
}

int constra_daraja_emulator_serve(constra_daraja_emulator *e,
                                  const constra_transport_request *request,
                                  constra_transport_response **out, constra_error *err)
{
    if (e == NULL || request == NULL || out == NULL) {
        return constra__fail_null(err, e == NULL ? "emulator" : request == NULL ? "request" : "out");
    }
    *out = NULL;
    constra_transport_request copy;
    int rc = constra__check_struct(request, sizeof(copy), sizeof(copy), "request", err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra__copy_struct(&copy, sizeof(copy), request);
    char url[1024];
    if (copy.url && copy.url[0] == '/') {
        snprintf(url, sizeof(url), "http://daraja-emulator%s", copy.url);
        copy.url = url;
    }
    rc = constra__transport_request_check(&copy, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra_transport_response *resp = NULL;
    if (constra__transport_response_new(&e->platform, 0, &resp) != CONSTRA_OK) {
        return constra__fail(err, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    rc = constra_daraja_emulator_handler(e, &copy, resp);
    if (rc != CONSTRA_OK) {
        constra_transport_response_free(resp);
        return constra__fail(err, CONSTRA_E_OUTCOME_UNKNOWN, "transport_failed", NULL,
                             "the emulator produced no response");
    }
    *out = resp;
    return CONSTRA_OK;
}

/* ---- callbacks -------------------------------------------------------- */

typedef struct pending_cb {
    char url[CONSTRA_DARAJA_URL_MAX + 2];
    char body[1024];
    size_t len;
} pending_cb;

static void callback_body(const emu_push *p, int64_t now, pending_cb *out)
{
    char id[80];
    constra__strlcpy(id, p->checkout, sizeof(id));
    if (p->fault_flags & (1 << CONSTRA_DARAJA_FAULT_CALLBACK_WRONG_ID)) {
        constra__strlcpy(id, "ws_CO_00000000000000000000000000", sizeof(id));
    }
    int n;
    if (strcmp(p->code, "0") == 0) {
        constra__civil c;
        constra__civil_from_ms(now, EAT_OFFSET_S, &c);
        char amount[CONSTRA__INT_TEXT_MAX];
        constra__fmt_i64(amount, (int64_t)p->amount);
        n = snprintf(out->body, sizeof(out->body),
                     "{\"Body\":{\"stkCallback\":{\"MerchantRequestID\":\"%s\","
                     "\"CheckoutRequestID\":\"%s\",\"ResultCode\":0,\"ResultDesc\":\"%s\","
                     "\"CallbackMetadata\":{\"Item\":[{\"Name\":\"Amount\",\"Value\":%s.00},"
                     "{\"Name\":\"MpesaReceiptNumber\",\"Value\":\"%s\"},{\"Name\":\"Balance\"},"
                     "{\"Name\":\"TransactionDate\",\"Value\":%04d%02d%02d%02d%02d%02d},"
                     "{\"Name\":\"PhoneNumber\",\"Value\":%s}]}}}}",
                     p->merchant, id, desc_of(p->code), amount, p->receipt, c.year,
                     c.month, c.day, c.hour, c.minute, c.second, p->phone);
    } else {
        int numeric = all_digits(p->code, 1, 9);
        n = snprintf(out->body, sizeof(out->body),
                     "{\"Body\":{\"stkCallback\":{\"MerchantRequestID\":\"%s\","
                     "\"CheckoutRequestID\":\"%s\",\"ResultCode\":%s%s%s,\"ResultDesc\":\"%s\"}}}",
                     p->merchant, id, numeric ? "" : "\"", p->code, numeric ? "" : "\"",
                     strcmp(p->code, "1037") == 0 ? "No response from user." : desc_of(p->code));
    }
    out->len = n > 0 ? (size_t)n : 0;
    if (p->fault_flags & (1 << CONSTRA_DARAJA_FAULT_CALLBACK_TRUNCATED)) {
        out->len /= 2;
    }
    constra__strlcpy(out->url, p->callback_url, sizeof(out->url));
}

int constra_daraja_emulator_pump(constra_daraja_emulator *e, int64_t now_ms)
{
    if (e == NULL) {
        return 0;
    }
    int sent = 0;
    for (;;) {
        pending_cb cb;
        int found = 0;
        constra__lock(&e->platform, e->mutex);
        for (size_t i = 0; i < e->push_count; i++) {
            emu_push *p = &e->pushes[i];
            if (p->callbacks_left > 0 && p->callback_ms <= now_ms) {
                p->callbacks_left--;
                callback_body(p, now_ms, &cb);
                e->counts[CONSTRA_DARAJA_EMU_CALLBACKS]++;
                found = 1;
                break;
            }
        }
        constra__unlock(&e->platform, e->mutex);
        if (!found) {
            return sent;
        }
        sent++;
        if (e->have_cb) {
            constra_http_header h[] = {{"Content-Type", "application/json"}};
            constra_transport_request r = CONSTRA_TRANSPORT_REQUEST_INIT;
            r.method = "POST";
            r.url = cb.url;
            r.headers = h;
            r.header_count = 1;
            r.body = cb.body;
            r.body_len = cb.len;
            constra_transport_response *resp = NULL;
            constra_transport_send(&e->cb, &e->platform, &r, &resp, NULL);
            constra_transport_response_free(resp);
        }
    }
}

/* ---- set-up --------------------------------------------------------------- */

int constra_daraja_emulator_add_shortcode(constra_daraja_emulator *e, const char *shortcode,
                                          const char *passkey, constra_error *err)
{
    if (e == NULL) {
        return constra__fail_null(err, "emulator");
    }
    if (shortcode == NULL || !all_digits(shortcode, 5, 7)) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "shortcode",
                             "shortcode must be 5 to 7 digits");
    }
    int rc = constra__check_str(passkey, CONSTRA_DARAJA_CREDENTIAL_MAX, 0, "passkey", NULL, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra__lock(&e->platform, e->mutex);
    int i = 0;
    while (i < e->code_count && strcmp(e->codes[i].shortcode, shortcode) != 0) {
        i++;
    }
    if (i == MAX_SHORTCODES) {
        constra__unlock(&e->platform, e->mutex);
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "shortcode",
                             "at most 8 shortcodes");
    }
    constra__strlcpy(e->codes[i].shortcode, shortcode, sizeof(e->codes[i].shortcode));
    constra__strlcpy(e->codes[i].passkey, passkey, sizeof(e->codes[i].passkey));
    if (i == e->code_count) {
        e->code_count++;
    }
    constra__unlock(&e->platform, e->mutex);
    return CONSTRA_OK;
}

int constra_daraja_emulator_set_outcome(constra_daraja_emulator *e, const char *phone,
                                        const char *code, constra_error *err)
{
    if (e == NULL || phone == NULL) {
        return constra__fail_null(err, e == NULL ? "emulator" : "phone");
    }
    if (!valid_phone(phone)) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "phone",
                             "phone must be 254 then 9 digits");
    }
    if (code) {
        int rc = constra__check_str(code, 31, 0, "result_code", NULL, err);
        if (rc != CONSTRA_OK) {
            return rc;
        }
    }
    constra__lock(&e->platform, e->mutex);
    int i = 0;
    while (i < e->outcome_count && strcmp(e->outcomes[i].phone, phone) != 0) {
        i++;
    }
    if (code == NULL) {
        if (i < e->outcome_count) {
            e->outcomes[i] = e->outcomes[--e->outcome_count];
        }
    } else if (i < MAX_OUTCOMES) {
        constra__strlcpy(e->outcomes[i].phone, phone, sizeof(e->outcomes[i].phone));
        constra__strlcpy(e->outcomes[i].code, code, sizeof(e->outcomes[i].code));
        if (i == e->outcome_count) {
            e->outcome_count++;
        }
    }
    constra__unlock(&e->platform, e->mutex);
    return CONSTRA_OK;
}

int constra_daraja_emulator_set_fault(constra_daraja_emulator *e, int fault, int times)
{
    if (e == NULL || fault <= 0 || fault >= FAULT_KINDS) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra__lock(&e->platform, e->mutex);
    e->faults[fault] = times;
    constra__unlock(&e->platform, e->mutex);
    return CONSTRA_OK;
}

void constra_daraja_emulator_expire_tokens(constra_daraja_emulator *e)
{
    if (e == NULL) {
        return;
    }
    constra__lock(&e->platform, e->mutex);
    for (int i = 0; i < MAX_TOKENS; i++) {
        e->tokens[i].expires_ms = INT64_MIN;
    }
    constra__unlock(&e->platform, e->mutex);
}

uint64_t constra_daraja_emulator_count(const constra_daraja_emulator *e, int counter)
{
    if (e == NULL || counter < 1 || counter > 5) {
        return 0;
    }
    constra__lock(&e->platform, e->mutex);
    uint64_t n = e->counts[counter];
    constra__unlock(&e->platform, e->mutex);
    return n;
}

int constra_daraja_emulator_new(constra_daraja_emulator **out,
                                const constra_daraja_emulator_options *options,
                                const constra_transport *callback_transport,
                                const constra_platform *platform, constra_error *err)
{
    if (out == NULL) {
        return constra__fail_null(err, "out");
    }
    *out = NULL;
    constra_daraja_emulator_options o = CONSTRA_DARAJA_EMULATOR_OPTIONS_INIT;
    int rc;
    if (options) {
        rc = constra__check_struct(options, sizeof(o), sizeof(o), "options", err);
        if (rc != CONSTRA_OK) {
            return rc;
        }
        constra__copy_struct(&o, sizeof(o), options);
    }
    if (o.token_ttl_s < 0 || o.token_ttl_s > 31536000 || o.result_delay_ms < 0 ||
        o.amount_max < 0) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "options",
                             "negative or oversized option");
    }
    const char *key = o.consumer_key ? o.consumer_key : "emulator-consumer-key";
    const char *secret = o.consumer_secret ? o.consumer_secret : "emulator-consumer-secret";
    char probe[CONSTRA_DARAJA_AUTH_HEADER_SIZE];
    rc = constra_daraja_oauth_request(key, secret, NULL, NULL, probe, sizeof(probe), NULL, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (callback_transport) {
        rc = constra_transport_check(callback_transport, err);
        if (rc != CONSTRA_OK) {
            return rc;
        }
    }
    constra_platform plat;
    rc = constra__platform_resolve(&plat, platform, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra_daraja_emulator *e = constra__calloc(&plat, 1, sizeof(*e));
    if (e == NULL) {
        return constra__fail(err, CONSTRA_E_NOMEM, NULL, NULL, "cannot allocate the emulator");
    }
    e->platform = plat;
    if (plat.mutex_create(plat.user_data, &e->mutex) != 0) {
        constra__free(&plat, e);
        return constra__fail(err, CONSTRA_E_PLATFORM, NULL, "platform.mutex_create",
                             "cannot create the emulator's mutex");
    }
    constra__strlcpy(e->key, key, sizeof(e->key));
    constra__strlcpy(e->secret, secret, sizeof(e->secret));
    e->token_ttl_s = o.token_ttl_s ? o.token_ttl_s : 3599;
    e->delay_ms = o.result_delay_ms ? o.result_delay_ms : DEFAULT_DELAY_MS;
    e->amount_max = o.amount_max ? o.amount_max : CONSTRA_DARAJA_AMOUNT_MAX_DEFAULT;
    constra__strlcpy(e->codes[0].shortcode, CONSTRA_DARAJA_SANDBOX_SHORTCODE,
                     sizeof(e->codes[0].shortcode));
    constra__strlcpy(e->codes[0].passkey, CONSTRA_DARAJA_SANDBOX_PASSKEY,
                     sizeof(e->codes[0].passkey));
    e->code_count = 1;
    if (callback_transport) {
        constra__copy_struct(&e->cb, sizeof(e->cb), callback_transport);
        e->have_cb = 1;
    }
    *out = e;
    return CONSTRA_OK;
}

void constra_daraja_emulator_free(constra_daraja_emulator *e)
{
    if (e == NULL) {
        return;
    }
    constra_platform plat = e->platform;
    if (e->have_cb && e->cb.destroy) {
        e->cb.destroy(e->cb.user_data);
    }
    constra__free(&plat, e->pushes);
    plat.mutex_destroy(plat.user_data, e->mutex);
    constra__free(&plat, e);
}
