/*
 * The Daraja rail (rail_daraja.h): STK push, STK query and callbacks over
 * a transport, with a process-wide OAuth token cache, one bounded retry of
 * rate-limited requests, a circuit breaker and a polling schedule.
 *
 * Everything Daraja-specific about bodies (building, parsing, the
 * password) lives in lib/mpesa (daraja.h); this file is the behaviour.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "constra/daraja.h"
#include "constra/rail_daraja.h"
#include "platform/platform.h"
#include "rails/daraja_result.h"
#include "util/check.h"

#define ORIGIN_MAX 255
#define CRED_MAX CONSTRA_DARAJA_CREDENTIAL_MAX
#define TOKEN_MAX 128
#define CACHE_SLOTS 16
#define BODY_SIZE 2048

/* ---- the process-wide token cache ---------------------------------------- */

/* One token per (origin, consumer key), shared by every rail in the
 * process (doc/DARAJA.md section 2: a new token may invalidate the last).
 * The library calls no thread API itself: the cache's two mutexes are made
 * through the platform of the first rail that is created (and kept, with a
 * copy of that platform, until the last rail is destroyed). A spin flag
 * guards only that count, never a wait. */
typedef struct token_slot {
    char origin[ORIGIN_MAX + 1];
    char key[CRED_MAX + 1];
    char token[CONSTRA_DARAJA_TOKEN_SIZE];
    int64_t refresh_at_ms; /* refresh from here on (early) */
    uint64_t last_used;
} token_slot;

static atomic_flag cache_guard = ATOMIC_FLAG_INIT;
static int cache_users;            /* rails alive; under cache_guard */
static constra_platform cache_plat; /* whose mutexes these are */
static void *cache_mu;
/* Serialises token fetches, so threads that find no token mint one, not
 * one each (held only around an OAuth request, which is rare). */
static void *fetch_mu;
static token_slot cache[CACHE_SLOTS];
static uint64_t cache_clock;

static void guard_enter(void)
{
    while (atomic_flag_test_and_set_explicit(&cache_guard, memory_order_acquire)) {
    }
}

static void guard_leave(void)
{
    atomic_flag_clear_explicit(&cache_guard, memory_order_release);
}

/* A rail starts using the cache: the first one makes its mutexes. */
static int cache_join(const constra_platform *p)
{
    int rc = 0;
    guard_enter();
    if (cache_users == 0) {
        void *a = NULL, *b = NULL;
        if (p->mutex_create(p->user_data, &a) != 0) {
            rc = -1;
        } else if (p->mutex_create(p->user_data, &b) != 0) {
            p->mutex_destroy(p->user_data, a);
            rc = -1;
        } else {
            cache_plat = *p;
            cache_mu = a;
            fetch_mu = b;
        }
    }
    if (rc == 0) {
        cache_users++;
    }
    guard_leave();
    return rc;
}

/* A rail is destroyed: the last one destroys the mutexes (the tokens stay,
 * for the next rail of the process). */
static void cache_leave(void)
{
    guard_enter();
    if (--cache_users == 0) {
        cache_plat.mutex_destroy(cache_plat.user_data, cache_mu);
        cache_plat.mutex_destroy(cache_plat.user_data, fetch_mu);
        cache_mu = fetch_mu = NULL;
    }
    guard_leave();
}

static void cache_lock(void *m)
{
    cache_plat.mutex_lock(cache_plat.user_data, m);
}

static void cache_unlock(void *m)
{
    cache_plat.mutex_unlock(cache_plat.user_data, m);
}

/* Tests: forget every cached token. */
void constra__daraja_token_cache_clear(void);
void constra__daraja_token_cache_clear(void)
{
    guard_enter();
    if (cache_users > 0) {
        cache_lock(cache_mu);
    }
    memset(cache, 0, sizeof(cache));
    if (cache_users > 0) {
        cache_unlock(cache_mu);
    }
    guard_leave();
}

static int cache_get(const char *origin, const char *key, int64_t now, char *out, size_t size)
{
    int found = 0;
    cache_lock(cache_mu);
    for (int i = 0; i < CACHE_SLOTS; i++) {
        token_slot *s = &cache[i];
        if (s->token[0] && strcmp(s->origin, origin) == 0 && strcmp(s->key, key) == 0 &&
            now < s->refresh_at_ms) {
            constra__strlcpy(out, s->token, size);
            s->last_used = ++cache_clock;
            found = 1;
            break;
        }
    }
    cache_unlock(cache_mu);
    return found;
}

static void cache_put(const char *origin, const char *key, const char *token, int64_t refresh_at)
{
    cache_lock(cache_mu);
    token_slot *victim = &cache[0];
    for (int i = 0; i < CACHE_SLOTS; i++) {
        token_slot *s = &cache[i];
        if (strcmp(s->origin, origin) == 0 && strcmp(s->key, key) == 0) {
            victim = s;
            break;
        }
        if (s->last_used < victim->last_used) {
            victim = s;
        }
    }
    constra__strlcpy(victim->origin, origin, sizeof(victim->origin));
    constra__strlcpy(victim->key, key, sizeof(victim->key));
    constra__strlcpy(victim->token, token, sizeof(victim->token));
    victim->refresh_at_ms = refresh_at;
    victim->last_used = ++cache_clock;
    cache_unlock(cache_mu);
}

/* Drops the cached token if it is still `token` (another thread may have
 * refreshed it already). */
static void cache_drop(const char *origin, const char *key, const char *token)
{
    cache_lock(cache_mu);
    for (int i = 0; i < CACHE_SLOTS; i++) {
        token_slot *s = &cache[i];
        if (strcmp(s->origin, origin) == 0 && strcmp(s->key, key) == 0 &&
            strcmp(s->token, token) == 0) {
            memset(s->token, 0, sizeof(s->token));
        }
    }
    cache_unlock(cache_mu);
}

/* ---- the rail ------------------------------------------------------------ */

typedef struct watch {
    char checkout[CONSTRA_RAIL_ID_SIZE];
    int64_t next_query_ms;
    int64_t deadline_ms;
    int held; /* a success callback awaiting confirmation */
    constra_rail_result claim;
} watch;

typedef struct daraja_rail {
    constra_platform platform;
    void *mutex;
    constra_transport tr;
    char origin[ORIGIN_MAX + 1];
    char key[CRED_MAX + 1];
    char secret[CRED_MAX + 1];
    char shortcode[8];
    char passkey[CRED_MAX + 1];
    int type;
    char till[8];
    char callback[CONSTRA_DARAJA_URL_MAX + 1]; /* with the token */
    char cb_token[TOKEN_MAX + 1];
    int confirm;
    int breaker_threshold;
    int64_t half_open_ms, first_ms, interval_ms, life_ms, retry_delay_ms, timeout_ms;
    int64_t amount_max;
    int insecure;
    /* breaker (under mutex) */
    int failures;
    int open;
    int64_t opened_at_ms;
    /* outstanding checkouts (under mutex) */
    watch *watches;
    size_t watch_count, watch_cap;
} daraja_rail;

static int64_t now_ms(const daraja_rail *d)
{
    return constra__wall_ms(&d->platform);
}

/* 1 when a request may go out now (closed, or half-open trial). */
static int breaker_allows(daraja_rail *d, int64_t now)
{
    constra__lock(&d->platform, d->mutex);
    int ok = 1;
    if (d->open) {
        if (now - d->opened_at_ms >= d->half_open_ms) {
            /* Half-open: this request is the trial; others wait another
             * period unless it succeeds. */
            d->opened_at_ms = now;
        } else {
            ok = 0;
        }
    }
    constra__unlock(&d->platform, d->mutex);
    return ok;
}

static void breaker_result(daraja_rail *d, int success, int64_t now)
{
    constra__lock(&d->platform, d->mutex);
    if (success) {
        d->failures = 0;
        d->open = 0;
    } else {
        d->failures++;
        if (d->open || d->failures >= d->breaker_threshold) {
            if (!d->open) {
                constra__log(&d->platform, CONSTRA_LOG_WARN,
                             "daraja: circuit opened after %d consecutive failures", d->failures);
            }
            d->open = 1;
            d->opened_at_ms = now;
        }
    }
    constra__unlock(&d->platform, d->mutex);
}

/* Sleeps for the back-off before the one retry: base + 0..50 % jitter. */
static void backoff(daraja_rail *d)
{
    uint8_t r = 0;
    constra__random(&d->platform, &r, 1);
    int64_t ms = d->retry_delay_ms + d->retry_delay_ms * (int64_t)r / 510;
    constra__sleep_ms(&d->platform, ms);
}

/* Replaces every occurrence of the rail's secrets in `text` (e.g. an
 * upstream message echoing the token) with "[redacted]". */
static void scrub(const daraja_rail *d, const char *token, char *text, size_t size)
{
    const char *secrets[] = {d->secret, d->passkey, d->cb_token, token};
    for (size_t i = 0; i < CONSTRA__ARRAY_LEN(secrets); i++) {
        const char *s = secrets[i];
        size_t n = s ? strlen(s) : 0;
        if (n < 4) {
            continue;
        }
        char *hit;
        while ((hit = strstr(text, s)) != NULL) {
            static const char red[] = "[redacted]";
            size_t tail = strlen(hit + n) + 1;
            if ((size_t)(hit - text) + sizeof(red) - 1 + tail > size) {
                *hit = '\0';
                break;
            }
            memmove(hit + sizeof(red) - 1, hit + n, tail);
            memcpy(hit, red, sizeof(red) - 1);
        }
    }
}

/* Fetches a token into `out`. CONSTRA_OK, CONSTRA_E_TRANSPORT (no token:
 * nothing was sent to the API itself, whatever happened to OAuth). */
static int fetch_token(daraja_rail *d, int64_t now, char *out, size_t size, char *auth_code)
{
    char auth[CONSTRA_DARAJA_AUTH_HEADER_SIZE];
    const char *method = NULL, *path = NULL;
    if (constra_daraja_oauth_request(d->key, d->secret, &method, &path, auth, sizeof(auth), NULL,
                                     NULL) != CONSTRA_OK) {
        return CONSTRA_E_TRANSPORT;
    }
    char url[ORIGIN_MAX + 80];
    snprintf(url, sizeof(url), "%s%s", d->origin, path);
    constra_http_header h[] = {{"Authorization", auth}, {"Accept", "application/json"}};
    constra_transport_request req = CONSTRA_TRANSPORT_REQUEST_INIT;
    req.method = method;
    req.url = url;
    req.headers = h;
    req.header_count = 2;
    req.timeout_ms = d->timeout_ms;
    req.max_response_bytes = CONSTRA_DARAJA_BODY_MAX;
    constra_transport_response *resp = NULL;
    int rc = constra_transport_send(&d->tr, &d->platform, &req, &resp, NULL);
    memset(auth, 0, sizeof(auth));
    if (rc != CONSTRA_OK) {
        return CONSTRA_E_TRANSPORT;
    }
    size_t len;
    const char *body = constra_transport_response_body(resp, &len);
    constra_daraja_oauth_response o = CONSTRA_DARAJA_OAUTH_RESPONSE_INIT;
    int status = constra_transport_response_status(resp);
    rc = constra_daraja_parse_oauth_response(body, len, status, &o, NULL);
    constra_transport_response_free(resp);
    if (rc != CONSTRA_OK || o.is_error || o.access_token[0] == '\0') {
        constra__log(&d->platform, CONSTRA_LOG_WARN,
                     "daraja: OAuth refused (HTTP %d%s%s); check the consumer key and secret "
                     "and the environment",
                     status, o.error_code[0] ? ", " : "", o.error_code);
        if (status >= 400 && status < 500) {
            /* Daraja answered: the credentials (or the request) are wrong.
             * A configuration error, not a network one. */
            constra__strlcpy(auth_code, o.error_code[0] ? o.error_code : "400.008.01",
                             CONSTRA_RAIL_CODE_SIZE);
            return CONSTRA_E_AUTH;
        }
        return CONSTRA_E_TRANSPORT;
    }
    /* Refresh at 5/6 of the lifetime (50 of 60 minutes). */
    int64_t life_ms = o.expires_in * 1000;
    cache_put(d->origin, d->key, o.access_token, now + life_ms - life_ms / 6);
    constra__strlcpy(out, o.access_token, size);
    memset(&o, 0, sizeof(o));
    return CONSTRA_OK;
}

/* A usable token: the cached one, or a fresh one fetched by one thread
 * while the others wait for it. */
static int get_token(daraja_rail *d, int64_t now, char *out, size_t size, char *auth_code)
{
    if (cache_get(d->origin, d->key, now, out, size)) {
        return CONSTRA_OK;
    }
    cache_lock(fetch_mu);
    int rc = CONSTRA_OK;
    if (!cache_get(d->origin, d->key, now, out, size)) {
        rc = fetch_token(d, now, out, size, auth_code);
    }
    cache_unlock(fetch_mu);
    return rc;
}

static int is_token_error(const char *code)
{
    return strcmp(code, "404.001.03") == 0 || strcmp(code, "400.003.01") == 0 ||
           strcmp(code, "401.002.01") == 0;
}

/* POSTs `body` to `path` with a cached token; on an invalid-token answer
 * refreshes once and replays once. Returns the transport's status
 * (CONSTRA_OK with *out, CONSTRA_E_TRANSPORT, CONSTRA_E_OUTCOME_UNKNOWN),
 * or CONSTRA_E_AUTH when OAuth refused the credentials (`auth_code`, of
 * CONSTRA_RAIL_CODE_SIZE bytes, gets the code to report).
 * `token_used` gets the token (to scrub it from messages). */
static int api_post(daraja_rail *d, const char *path, const char *body, size_t len, int64_t now,
                    constra_transport_response **out, char *token_used, size_t token_size,
                    char *auth_code)
{
    *out = NULL;
    char token[CONSTRA_DARAJA_TOKEN_SIZE];
    int trc = get_token(d, now, token, sizeof(token), auth_code);
    if (trc != CONSTRA_OK) {
        return trc;
    }
    char url[ORIGIN_MAX + 80];
    snprintf(url, sizeof(url), "%s%s", d->origin, path);
    for (int replay = 0;; replay++) {
        char bearer[CONSTRA_DARAJA_TOKEN_SIZE + 8];
        snprintf(bearer, sizeof(bearer), "Bearer %s", token);
        constra_http_header h[] = {{"Authorization", bearer},
                                   {"Content-Type", "application/json"},
                                   {"Accept", "application/json"}};
        constra_transport_request req = CONSTRA_TRANSPORT_REQUEST_INIT;
        req.method = "POST";
        req.url = url;
        req.headers = h;
        req.header_count = 3;
        req.body = body;
        req.body_len = len;
        req.timeout_ms = d->timeout_ms;
        req.max_response_bytes = CONSTRA_DARAJA_BODY_MAX;
        constra_transport_response *resp = NULL;
        int rc = constra_transport_send(&d->tr, &d->platform, &req, &resp, NULL);
        memset(bearer, 0, sizeof(bearer));
        constra__strlcpy(token_used, token, token_size);
        if (rc != CONSTRA_OK) {
            return rc;
        }
        size_t blen;
        const char *b = constra_transport_response_body(resp, &blen);
        constra_daraja_error_envelope env = CONSTRA_DARAJA_ERROR_ENVELOPE_INIT;
        int status = constra_transport_response_status(resp);
        if (replay == 0 && status >= 400 &&
            constra_daraja_parse_error_envelope(b, blen, status, &env, NULL) == CONSTRA_OK &&
            is_token_error(env.error_code)) {
            /* Not processed: refresh once and replay once. */
            constra_transport_response_free(resp);
            cache_drop(d->origin, d->key, token);
            trc = get_token(d, now, token, sizeof(token), auth_code);
            if (trc != CONSTRA_OK) {
                return trc;
            }
            continue;
        }
        *out = resp;
        return CONSTRA_OK;
    }
}

static int is_rate_limit(const char *code, const char *msg)
{
    (void)msg;
    return strcmp(code, "500.003.02") == 0 || strcmp(code, "500.003.03") == 0;
}

static void set_text(char *dst, size_t size, const char *src)
{
    constra__copy_utf8(dst, size, src ? src : "");
}

/* ---- watches (outstanding checkouts) ----------------------------------- */

static watch *find_watch(daraja_rail *d, const char *checkout)
{
    for (size_t i = 0; i < d->watch_count; i++) {
        if (strcmp(d->watches[i].checkout, checkout) == 0) {
            return &d->watches[i];
        }
    }
    return NULL;
}

static watch *add_watch(daraja_rail *d, const char *checkout, int64_t now)
{
    watch *w = find_watch(d, checkout);
    if (w) {
        return w;
    }
    if (d->watch_count == d->watch_cap) {
        size_t cap = d->watch_cap ? d->watch_cap * 2 : 16;
        watch *n = constra__realloc(&d->platform, d->watches, cap * sizeof(*n));
        if (n == NULL) {
            return NULL;
        }
        d->watches = n;
        d->watch_cap = cap;
    }
    w = &d->watches[d->watch_count++];
    memset(w, 0, sizeof(*w));
    constra__strlcpy(w->checkout, checkout, sizeof(w->checkout));
    w->next_query_ms = now + d->first_ms;
    w->deadline_ms = now + d->life_ms;
    return w;
}

static void drop_watch(daraja_rail *d, const char *checkout)
{
    for (size_t i = 0; i < d->watch_count; i++) {
        if (strcmp(d->watches[i].checkout, checkout) == 0) {
            d->watches[i] = d->watches[--d->watch_count];
            return;
        }
    }
}

/* ---- collect ------------------------------------------------------------- */

/* Daraja shows AccountReference / TransactionDesc on the phone; special
 * characters are known to break prompts: keep [A-Za-z0-9 -], cut. */
static void sanitize(const char *in, size_t max, const char *fallback, char *out)
{
    size_t n = 0;
    for (; in && *in && n < max; in++) {
        char c = *in;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == ' ' || c == '-') {
            out[n++] = c;
        }
    }
    while (n > 0 && out[n - 1] == ' ') {
        n--;
    }
    out[n] = '\0';
    if (n == 0 || out[0] == ' ') {
        strcpy(out, fallback);
    }
}

static int daraja_collect(void *ud, const constra_rail_collect *req, constra_rail_result *out)
{
    daraja_rail *d = ud;
    int64_t now = req->now_ms;
    char ref[CONSTRA_DARAJA_ACCOUNT_REFERENCE_MAX + 1], desc[CONSTRA_DARAJA_TRANSACTION_DESC_MAX + 1];
    sanitize(req->reference, CONSTRA_DARAJA_ACCOUNT_REFERENCE_MAX, "Payment", ref);
    sanitize(req->description, CONSTRA_DARAJA_TRANSACTION_DESC_MAX, "Payment", desc);
    constra_daraja_stk_push_params p = CONSTRA_DARAJA_STK_PUSH_INIT;
    p.transaction_type = d->type;
    p.business_shortcode = d->shortcode;
    p.till_number = d->type == CONSTRA_DARAJA_STK_TILL ? d->till : NULL;
    p.passkey = d->passkey;
    p.amount = req->amount;
    p.amount_max = d->amount_max;
    p.phone_number = req->phone;
    p.callback_url = d->callback;
    p.account_reference = ref;
    p.transaction_desc = desc;
    p.allow_insecure_callback = d->insecure;
    char body[BODY_SIZE];
    size_t len = 0;
    constra_error e = CONSTRA_ERROR_INIT;
    if (req->currency && strcmp(req->currency, "KES") != 0) {
        out->outcome = CONSTRA_RAIL_REJECTED;
        set_text(out->result_code, sizeof(out->result_code), "400.002.02");
        set_text(out->result_desc, sizeof(out->result_desc),
                 "Bad Request - Invalid Amount (M-Pesa collects KES only)");
        return CONSTRA_OK;
    }
    if (constra_daraja_stk_push_body(&p, now / 1000, body, sizeof(body), &len, NULL, 0, NULL, 0,
                                     &e) != CONSTRA_OK) {
        /* Refused before sending: Daraja would refuse it too. */
        out->outcome = CONSTRA_RAIL_REJECTED;
        set_text(out->result_code, sizeof(out->result_code), "400.002.02");
        char msg[CONSTRA_RAIL_DESC_SIZE];
        snprintf(msg, sizeof(msg), "Bad Request - Invalid %s (refused before sending)",
                 e.param[0] ? e.param : "request");
        set_text(out->result_desc, sizeof(out->result_desc), msg);
        return CONSTRA_OK;
    }
    if (!breaker_allows(d, now)) {
        return CONSTRA_E_TRANSPORT; /* circuit open: nothing sent */
    }
    char token[CONSTRA_DARAJA_TOKEN_SIZE] = "";
    for (int attempt = 0;; attempt++) {
        constra_transport_response *resp = NULL;
        char auth_code[CONSTRA_RAIL_CODE_SIZE] = "";
        int rc = api_post(d, CONSTRA_DARAJA_STK_PUSH_PATH, body, len, now, &resp, token,
                          sizeof(token), auth_code);
        if (rc == CONSTRA_E_AUTH) {
            /* OAuth refused the app's credentials: nothing was pushed, and
             * retrying cannot help until the configuration is fixed. */
            out->outcome = CONSTRA_RAIL_REJECTED;
            set_text(out->result_code, sizeof(out->result_code), auth_code);
            set_text(out->result_desc, sizeof(out->result_desc),
                     "OAuth refused the consumer key and secret: check them and the "
                     "environment (sandbox or production)");
            return CONSTRA_OK;
        }
        if (rc != CONSTRA_OK) {
            breaker_result(d, 0, now);
            return rc == CONSTRA_E_TRANSPORT ? CONSTRA_E_TRANSPORT : CONSTRA_E_OUTCOME_UNKNOWN;
        }
        size_t blen;
        const char *b = constra_transport_response_body(resp, &blen);
        int status = constra_transport_response_status(resp);
        constra_daraja_stk_push_response pr = CONSTRA_DARAJA_STK_PUSH_RESPONSE_INIT;
        rc = constra_daraja_parse_stk_push_response(b, blen, status, &pr, NULL);
        constra_transport_response_free(resp);
        if (rc != CONSTRA_OK) {
            /* Empty, HTML, wrong shape, 5xx without an envelope: the push
             * may have been processed. Never re-send; reconcile. */
            constra__log(&d->platform, CONSTRA_LOG_WARN,
                         "daraja: unusable answer to an STK push (HTTP %d); outcome unknown",
                         status);
            breaker_result(d, 0, now);
            return CONSTRA_E_OUTCOME_UNKNOWN;
        }
        if (pr.outcome == CONSTRA_DARAJA_PUSH_ACCEPTED) {
            if (strlen(pr.checkout_request_id) >= sizeof(out->checkout_request_id) ||
                strlen(pr.merchant_request_id) >= sizeof(out->merchant_request_id)) {
                breaker_result(d, 0, now);
                return CONSTRA_E_OUTCOME_UNKNOWN;
            }
            breaker_result(d, 1, now);
            out->outcome = CONSTRA_RAIL_ACCEPTED;
            constra__strlcpy(out->checkout_request_id, pr.checkout_request_id,
                             sizeof(out->checkout_request_id));
            constra__strlcpy(out->merchant_request_id, pr.merchant_request_id,
                             sizeof(out->merchant_request_id));
            constra__lock(&d->platform, d->mutex);
            watch *w = add_watch(d, pr.checkout_request_id, now);
            constra__unlock(&d->platform, d->mutex);
            if (w == NULL) {
                constra__log(&d->platform, CONSTRA_LOG_WARN,
                             "daraja: out of memory; this push will not be polled");
            }
            return CONSTRA_OK;
        }
        if (pr.outcome == CONSTRA_DARAJA_PUSH_REJECTED) {
            breaker_result(d, 1, now);
            out->outcome = CONSTRA_RAIL_REJECTED;
            set_text(out->result_code, sizeof(out->result_code), pr.response_code);
            set_text(out->result_desc, sizeof(out->result_desc), pr.response_description);
            scrub(d, token, out->result_desc, sizeof(out->result_desc));
            return CONSTRA_OK;
        }
        /* An error envelope. */
        if (is_rate_limit(pr.error_code, pr.error_message)) {
            breaker_result(d, 0, now);
            if (attempt == 0) {
                backoff(d); /* the one bounded retry */
                continue;
            }
            return CONSTRA_E_TRANSPORT; /* refused at the gateway: not processed */
        }
        if (is_token_error(pr.error_code)) {
            /* Still refused after a fresh token: credentials or product
             * set-up. Not processed. */
            breaker_result(d, 0, now);
            return CONSTRA_E_TRANSPORT;
        }
        /* Business answers (bad field, merchant, credentials, locked
         * subscriber) are answers: the engine classifies them. Internal
         * server errors count against the breaker. */
        breaker_result(d, status < 500 || strcmp(pr.error_code, "500.001.1001") == 0, now);
        out->outcome = CONSTRA_RAIL_REJECTED;
        set_text(out->result_code, sizeof(out->result_code), pr.error_code);
        set_text(out->result_desc, sizeof(out->result_desc), pr.error_message);
        scrub(d, token, out->result_desc, sizeof(out->result_desc));
        return CONSTRA_OK;
    }
}

/* ---- query --------------------------------------------------------------- */

static int query_once(daraja_rail *d, const char *checkout, int64_t now, constra_rail_result *out)
{
    constra_daraja_stk_query_params p = CONSTRA_DARAJA_STK_QUERY_INIT;
    p.business_shortcode = d->shortcode;
    p.passkey = d->passkey;
    p.checkout_request_id = checkout;
    char body[BODY_SIZE];
    size_t len = 0;
    if (constra_daraja_stk_query_body(&p, now / 1000, body, sizeof(body), &len, NULL, 0, NULL, 0,
                                      NULL) != CONSTRA_OK) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    if (!breaker_allows(d, now)) {
        return CONSTRA_E_TRANSPORT;
    }
    char token[CONSTRA_DARAJA_TOKEN_SIZE] = "";
    for (int attempt = 0;; attempt++) {
        constra_transport_response *resp = NULL;
        char auth_code[CONSTRA_RAIL_CODE_SIZE] = "";
        int rc = api_post(d, CONSTRA_DARAJA_STK_QUERY_PATH, body, len, now, &resp, token,
                          sizeof(token), auth_code);
        if (rc == CONSTRA_E_AUTH) {
            return CONSTRA_E_PROVIDER;
        }
        if (rc != CONSTRA_OK) {
            breaker_result(d, 0, now);
            return rc;
        }
        size_t blen;
        const char *b = constra_transport_response_body(resp, &blen);
        int status = constra_transport_response_status(resp);
        constra_daraja_stk_query_response q = CONSTRA_DARAJA_STK_QUERY_RESPONSE_INIT;
        rc = constra_daraja_parse_stk_query_response(b, blen, status, &q, NULL);
        constra_transport_response_free(resp);
        if (rc != CONSTRA_OK) {
            breaker_result(d, 0, now);
            return CONSTRA_E_PROVIDER;
        }
        if (q.state == CONSTRA_DARAJA_QUERY_PENDING) {
            breaker_result(d, 1, now);
            out->outcome = CONSTRA_RAIL_PENDING;
            constra__strlcpy(out->checkout_request_id, checkout, sizeof(out->checkout_request_id));
            set_text(out->result_code, sizeof(out->result_code),
                     q.result_code[0] ? q.result_code : q.error_code);
            set_text(out->result_desc, sizeof(out->result_desc),
                     q.result_desc[0] ? q.result_desc : q.error_message);
            return CONSTRA_OK;
        }
        if (q.state == CONSTRA_DARAJA_QUERY_FINAL) {
            breaker_result(d, 1, now);
            if (q.checkout_request_id[0] && strcmp(q.checkout_request_id, checkout) != 0) {
                /* An answer about another payment is no answer. */
                constra__log(&d->platform, CONSTRA_LOG_WARN,
                             "daraja: STK query answered for another CheckoutRequestID");
                return CONSTRA_E_PROVIDER;
            }
            out->outcome = CONSTRA_RAIL_FINAL;
            constra__strlcpy(out->checkout_request_id, checkout, sizeof(out->checkout_request_id));
            set_text(out->merchant_request_id, sizeof(out->merchant_request_id),
                     q.merchant_request_id);
            set_text(out->result_code, sizeof(out->result_code), q.result_code);
            set_text(out->result_desc, sizeof(out->result_desc), q.result_desc);
            out->amount = -1;
            return CONSTRA_OK;
        }
        if (is_rate_limit(q.error_code, q.error_message) && attempt == 0) {
            breaker_result(d, 0, now);
            backoff(d);
            continue;
        }
        breaker_result(d, status < 500, now);
        return CONSTRA_E_PROVIDER;
    }
}

static int daraja_query(void *ud, const char *checkout, int64_t now, constra_rail_result *out)
{
    daraja_rail *d = ud;
    if (checkout == NULL || checkout[0] == '\0') {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    int rc = query_once(d, checkout, now, out);
    if (rc == CONSTRA_OK && out->outcome == CONSTRA_RAIL_FINAL) {
        constra__lock(&d->platform, d->mutex);
        watch *w = find_watch(d, checkout);
        if (w && w->held && strcmp(out->result_code, "0") == 0) {
            /* The held callback carries the receipt the query lacks. */
            *out = w->claim;
        }
        drop_watch(d, checkout);
        constra__unlock(&d->platform, d->mutex);
    }
    return rc;
}

/* ---- callbacks ------------------------------------------------------------ */

static int daraja_authenticate(void *ud, const char *query, size_t len)
{
    daraja_rail *d = ud;
    return constra__query_has_token(query, len, d->cb_token) ? CONSTRA_OK : CONSTRA_E_AUTH;
}

static int daraja_parse_callback(void *ud, const char *body, size_t len, constra_rail_result *out)
{
    daraja_rail *d = ud;
    constra_daraja_stk_callback cb = CONSTRA_DARAJA_STK_CALLBACK_INIT;
    if (constra_daraja_parse_stk_callback(body, len, &cb, NULL) != CONSTRA_OK ||
        constra__rail_result_from_stk_callback(&cb, out, NULL) != CONSTRA_OK) {
        return CONSTRA_E_PARSE;
    }
    int64_t now = now_ms(d);
    if (strcmp(out->result_code, "0") != 0 || !d->confirm) {
        constra__lock(&d->platform, d->mutex);
        drop_watch(d, out->checkout_request_id);
        constra__unlock(&d->platform, d->mutex);
        return CONSTRA_OK;
    }
    /* A success is a claim until the query confirms it. */
    constra_rail_result claim = *out;
    constra_rail_result q;
    memset(&q, 0, sizeof(q));
    q.struct_size = sizeof(q);
    int rc = query_once(d, claim.checkout_request_id, now, &q);
    constra__lock(&d->platform, d->mutex);
    if (rc == CONSTRA_OK && q.outcome == CONSTRA_RAIL_FINAL) {
        drop_watch(d, claim.checkout_request_id);
        constra__unlock(&d->platform, d->mutex);
        if (strcmp(q.result_code, "0") != 0) {
            /* The query contradicts the callback: the query wins. */
            constra__log(&d->platform, CONSTRA_LOG_WARN,
                         "daraja: a success callback was contradicted by the STK query");
            *out = q;
        }
        return CONSTRA_OK;
    }
    /* Not confirmed yet: hold it; poll() confirms it later. */
    watch *w = add_watch(d, claim.checkout_request_id, now);
    if (w) {
        w->held = 1;
        w->claim = claim;
        w->next_query_ms = now + d->interval_ms;
        if (w->deadline_ms < now + d->life_ms) {
            w->deadline_ms = now + d->life_ms;
        }
    }
    constra__unlock(&d->platform, d->mutex);
    constra__log(&d->platform, CONSTRA_LOG_INFO,
                 "daraja: success callback for %s held until an STK query confirms it",
                 claim.checkout_request_id);
    out->outcome = CONSTRA_RAIL_PENDING;
    return CONSTRA_OK;
}

/* ---- poll ----------------------------------------------------------------- */

static int daraja_poll(void *ud, int64_t now, constra_rail_result_fn emit, void *ctx)
{
    daraja_rail *d = ud;
    if (emit == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    /* Take a snapshot of what is due; query without the lock. */
    size_t n = 0;
    char(*due)[CONSTRA_RAIL_ID_SIZE] = NULL;
    constra__lock(&d->platform, d->mutex);
    if (d->watch_count) {
        due = constra__malloc(&d->platform, d->watch_count * sizeof(*due));
    }
    for (size_t i = 0; due && i < d->watch_count; i++) {
        if (d->watches[i].next_query_ms <= now) {
            constra__strlcpy(due[n++], d->watches[i].checkout, sizeof(due[0]));
        }
    }
    constra__unlock(&d->platform, d->mutex);
    for (size_t i = 0; i < n; i++) {
        constra_rail_result r;
        memset(&r, 0, sizeof(r));
        r.struct_size = sizeof(r);
        int rc = query_once(d, due[i], now, &r);
        int give = 0;
        constra__lock(&d->platform, d->mutex);
        watch *w = find_watch(d, due[i]);
        if (w == NULL) {
            constra__unlock(&d->platform, d->mutex);
            continue; /* settled meanwhile */
        }
        if (rc == CONSTRA_OK && r.outcome == CONSTRA_RAIL_FINAL) {
            if (w->held && strcmp(r.result_code, "0") == 0) {
                r = w->claim;
            }
            drop_watch(d, due[i]);
            give = 1;
        } else if (now >= w->deadline_ms) {
            /* The prompt's life is over: stop polling. The engine's
             * callback time-out queries once more, then decides. */
            drop_watch(d, due[i]);
        } else {
            w->next_query_ms = now + d->interval_ms;
        }
        constra__unlock(&d->platform, d->mutex);
        if (give) {
            emit(ctx, &r);
        }
    }
    constra__free(&d->platform, due);
    return CONSTRA_OK;
}

/* ---- set-up ---------------------------------------------------------------- */

static void daraja_destroy(void *ud)
{
    daraja_rail *d = ud;
    constra_platform plat = d->platform;
    if (d->tr.destroy) {
        d->tr.destroy(d->tr.user_data);
    }
    constra__free(&plat, d->watches);
    plat.mutex_destroy(plat.user_data, d->mutex);
    cache_leave();
    memset(d, 0, sizeof(*d)); /* secrets */
    constra__free(&plat, d);
}

int constra_daraja_config_init(constra_daraja_config *c, size_t struct_size)
{
    /* Any size from sizeof(size_t) up: fields past an older caller's
     * struct_size are read as zero (constra__copy_struct). */
    return constra__init_struct(c, struct_size, sizeof(size_t), sizeof(*c), NULL);
}

static int bad(constra_error *err, const char *param, const char *msg)
{
    return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", param, "%s", msg);
}

static int token_chars_ok(const char *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

static int check_config(const constra_daraja_config *c, constra_error *err)
{
    if (c->environment != CONSTRA_DARAJA_ENV_SANDBOX &&
        c->environment != CONSTRA_DARAJA_ENV_PRODUCTION) {
        return bad(err, "config.environment", "environment must be sandbox or production");
    }
    if (c->base_url) {
        size_t n = constra__strnlen(c->base_url, ORIGIN_MAX + 1);
        if (n == 0 || n > ORIGIN_MAX ||
            (strncmp(c->base_url, "https://", 8) != 0 && strncmp(c->base_url, "http://", 7) != 0) ||
            c->base_url[n - 1] == '/' || strchr(c->base_url, '?') || strchr(c->base_url, ' ')) {
            return bad(err, "config.base_url",
                       "base_url must be an http(s) origin without a trailing slash");
        }
    }
    char probe[CONSTRA_DARAJA_AUTH_HEADER_SIZE];
    constra_error e = CONSTRA_ERROR_INIT;
    if (c->consumer_key == NULL || c->consumer_secret == NULL) {
        return constra__fail_null(err, c->consumer_key == NULL ? "config.consumer_key"
                                                               : "config.consumer_secret");
    }
    if (constra_daraja_oauth_request(c->consumer_key, c->consumer_secret, NULL, NULL, probe,
                                     sizeof(probe), NULL, &e) != CONSTRA_OK) {
        memset(probe, 0, sizeof(probe));
        return bad(err, strcmp(e.param, "consumer_key") == 0 ? "config.consumer_key"
                                                              : "config.consumer_secret",
                   "consumer key and secret must be 1-256 printable characters without spaces");
    }
    memset(probe, 0, sizeof(probe));
    if (c->shortcode == NULL || c->passkey == NULL) {
        return constra__fail_null(err, c->shortcode == NULL ? "config.shortcode"
                                                            : "config.passkey");
    }
    char pw[CONSTRA_DARAJA_PASSWORD_SIZE];
    if (constra_daraja_password(c->shortcode, c->passkey, "20240101000000", pw, sizeof(pw), NULL,
                                &e) != CONSTRA_OK) {
        return bad(err, strcmp(e.param, "shortcode") == 0 ? "config.shortcode" : "config.passkey",
                   strcmp(e.param, "shortcode") == 0
                       ? "shortcode must be 5 to 7 digits"
                       : "passkey must be 1-256 printable characters without spaces");
    }
    memset(pw, 0, sizeof(pw));
    if (c->transaction_type == CONSTRA_DARAJA_STK_PAYBILL) {
        if (c->till_number) {
            return bad(err, "config.till_number",
                       "a Paybill takes no till_number (PartyB is the shortcode)");
        }
    } else if (c->transaction_type == CONSTRA_DARAJA_STK_TILL) {
        size_t n = c->till_number ? constra__strnlen(c->till_number, 8) : 0;
        int ok = n >= 5 && n <= 7;
        for (size_t i = 0; ok && i < n; i++) {
            ok = c->till_number[i] >= '0' && c->till_number[i] <= '9';
        }
        if (!ok) {
            return bad(err, "config.till_number", "till_number must be 5 to 7 digits");
        }
    } else {
        return bad(err, "config.transaction_type", "transaction_type must be PAYBILL or TILL");
    }
    if (c->callback_url == NULL) {
        return constra__fail_null(err, "config.callback_url");
    }
    size_t un = constra__strnlen(c->callback_url, 400);
    int https = strncmp(c->callback_url, "https://", 8) == 0;
    int http = strncmp(c->callback_url, "http://", 7) == 0;
    if (un == 0 || un >= 400 || !(https || (http && c->allow_insecure_callback)) ||
        strchr(c->callback_url, '#')) {
        return bad(err, "config.callback_url",
                   "callback_url must be an https URL of at most 399 bytes "
                   "(http only with allow_insecure_callback)");
    }
    if (c->allow_insecure_callback && c->environment == CONSTRA_DARAJA_ENV_PRODUCTION) {
        return bad(err, "config.allow_insecure_callback",
                   "production requires an https callback_url");
    }
    if (c->callback_token == NULL) {
        return constra__fail_null(err, "config.callback_token");
    }
    size_t tn = constra__strnlen(c->callback_token, TOKEN_MAX + 1);
    if (tn < 16 || tn > TOKEN_MAX || !token_chars_ok(c->callback_token, tn)) {
        return bad(err, "config.callback_token",
                   "callback_token must be 16-128 characters of A-Z a-z 0-9 _ -");
    }
    if (c->breaker_threshold < 0 || c->breaker_half_open_ms < 0 || c->query_first_ms < 0 ||
        c->query_interval_ms < 0 || c->prompt_life_ms < 0 || c->retry_delay_ms < 0 ||
        c->retry_delay_ms > 5000 || c->request_timeout_ms < 0 || c->amount_max < 0) {
        return bad(err, "config", "limits and durations must be 0 (default) or positive");
    }
    return CONSTRA_OK;
}

int constra_rail_daraja(constra_rail *out, const constra_daraja_config *config,
                        const constra_transport *transport, const constra_platform *platform,
                        constra_error *err)
{
    constra_transport tr;
    int have_tr = 0;
    int rc = CONSTRA_OK;
    if (transport == NULL) {
        rc = constra__fail_null(err, "transport");
    } else if ((rc = constra_transport_check(transport, err)) == CONSTRA_OK) {
        constra__copy_struct(&tr, sizeof(tr), transport);
        have_tr = 1;
    }
    constra_daraja_config c = CONSTRA_DARAJA_CONFIG_INIT;
    if (rc == CONSTRA_OK && (out == NULL || config == NULL)) {
        rc = constra__fail_null(err, out == NULL ? "out" : "config");
    }
    if (rc == CONSTRA_OK) {
        rc = constra__check_struct(config, sizeof(c), sizeof(c), "config", err);
    }
    if (rc == CONSTRA_OK) {
        constra__copy_struct(&c, sizeof(c), config);
        rc = check_config(&c, err);
    }
    constra_platform plat;
    if (rc == CONSTRA_OK) {
        rc = constra__platform_resolve(&plat, platform, err);
    }
    daraja_rail *d = NULL;
    if (rc == CONSTRA_OK && (d = constra__calloc(&plat, 1, sizeof(*d))) == NULL) {
        rc = constra__fail(err, CONSTRA_E_NOMEM, NULL, NULL, "cannot allocate the Daraja rail");
    }
    if (rc == CONSTRA_OK && plat.mutex_create(plat.user_data, &d->mutex) != 0) {
        constra__free(&plat, d);
        d = NULL;
        rc = constra__fail(err, CONSTRA_E_PLATFORM, NULL, "platform.mutex_create",
                           "cannot create the rail's mutex");
    }
    if (rc == CONSTRA_OK && cache_join(&plat) != 0) {
        plat.mutex_destroy(plat.user_data, d->mutex);
        constra__free(&plat, d);
        d = NULL;
        rc = constra__fail(err, CONSTRA_E_PLATFORM, NULL, "platform.mutex_create",
                           "cannot create the token cache's mutexes");
    }
    if (rc != CONSTRA_OK || d == NULL) {
        if (have_tr && tr.destroy) {
            tr.destroy(tr.user_data); /* owned from the call on */
        }
        return rc;
    }
    d->platform = plat;
    d->tr = tr;
    constra__strlcpy(d->origin,
                     c.base_url ? c.base_url
                     : c.environment == CONSTRA_DARAJA_ENV_PRODUCTION
                         ? CONSTRA_DARAJA_PRODUCTION_BASE_URL
                         : CONSTRA_DARAJA_SANDBOX_BASE_URL,
                     sizeof(d->origin));
    constra__strlcpy(d->key, c.consumer_key, sizeof(d->key));
    constra__strlcpy(d->secret, c.consumer_secret, sizeof(d->secret));
    constra__strlcpy(d->shortcode, c.shortcode, sizeof(d->shortcode));
    constra__strlcpy(d->passkey, c.passkey, sizeof(d->passkey));
    d->type = c.transaction_type;
    if (c.till_number) {
        constra__strlcpy(d->till, c.till_number, sizeof(d->till));
    }
    constra__strlcpy(d->cb_token, c.callback_token, sizeof(d->cb_token));
    snprintf(d->callback, sizeof(d->callback), "%s%stoken=%s", c.callback_url,
             strchr(c.callback_url, '?') ? "&" : "?", c.callback_token);
    d->confirm = !c.skip_success_confirmation;
    d->breaker_threshold = c.breaker_threshold ? c.breaker_threshold : 5;
    d->half_open_ms = c.breaker_half_open_ms ? c.breaker_half_open_ms : 60000;
    d->first_ms = c.query_first_ms ? c.query_first_ms : 15000;
    d->interval_ms = c.query_interval_ms ? c.query_interval_ms : 10000;
    d->life_ms = c.prompt_life_ms ? c.prompt_life_ms : 180000;
    d->retry_delay_ms = c.retry_delay_ms ? c.retry_delay_ms : 500;
    d->timeout_ms = c.request_timeout_ms ? c.request_timeout_ms : CONSTRA_TRANSPORT_TIMEOUT_MS;
    d->amount_max = c.amount_max ? c.amount_max : CONSTRA_DARAJA_AMOUNT_MAX_DEFAULT;
    d->insecure = c.allow_insecure_callback;
    constra_rail r;
    constra_rail_init(&r, sizeof(r));
    r.user_data = d;
    constra__strlcpy(r.name, "mpesa", sizeof(r.name));
    r.collect = daraja_collect;
    r.query = daraja_query;
    r.parse_callback = daraja_parse_callback;
    r.poll = daraja_poll;
    r.destroy = daraja_destroy;
    r.authenticate_callback = daraja_authenticate;
    *out = r;
    return CONSTRA_OK;
}
