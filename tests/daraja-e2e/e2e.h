/* Shared fixture of the Daraja end-to-end tests: a handle with the Daraja
 * rail, the emulator mounted at the sandbox origin of a loopback table,
 * the emulator's callbacks looping into the handle's REST router, and a
 * driven clock. Everything secret the fixture uses is listed so the tests
 * can grep every error, event and log line for it. */
#ifndef TESTS_DARAJA_E2E_H
#define TESTS_DARAJA_E2E_H

#include "../unit/testutil.h"
#include "../unit/live_rail.h"

#include <stdio.h>
#include <string.h>

#include "constra/daraja_emulator.h"
#include "constra/rail_daraja.h"
#include "../test_error.h"

#define E2E_KEY "e2eConsumerKey0123456789"
#define E2E_SECRET "e2eConsumerSecretZ9y8x7w6"
#define E2E_CB_TOKEN "cbTokenSecret_0123456789abcdef"
#define E2E_MERCHANT "https://merchant.example"
#define E2E_CALLBACK E2E_MERCHANT "/v1/providers/mpesa/callback"
#define E2E_API_KEY "cs_test_e2e_secret_key_0001"

void constra__daraja_token_cache_clear(void);

static int64_t e2e_clock = INT64_C(1764239894625); /* 2025-11-27T10:38:14.625Z */
static char e2e_log[1 << 16];
static size_t e2e_log_len;

static inline int64_t e2e_now(void *ud)
{
    (void)ud;
    return e2e_clock;
}

static inline void e2e_log_fn(void *ud, int level, const char *msg)
{
    (void)ud;
    (void)level;
    size_t n = strlen(msg);
    if (e2e_log_len + n + 2 < sizeof(e2e_log)) {
        memcpy(e2e_log + e2e_log_len, msg, n);
        e2e_log_len += n;
        e2e_log[e2e_log_len++] = '\n';
        e2e_log[e2e_log_len] = '\0';
    }
}

typedef struct e2e {
    constra_platform plat;
    constra_loopback *lb;
    constra_daraja_emulator *emu;
    constra_t *h;
    /* Every text produced (errors, events, intents) for the secret grep. */
    char seen[1 << 17];
    size_t seen_len;
} e2e;

static inline void e2e_saw(e2e *f, const char *text);

/* The handle's last error, also added to the secret grep. */
static inline constra_error e2e_last(e2e *f)
{
    constra_error e = t_last_error();
    e2e_saw(f, e.message);
    return e;
}

static inline void e2e_saw(e2e *f, const char *text)
{
    size_t n = strlen(text);
    if (f->seen_len + n + 2 < sizeof(f->seen)) {
        memcpy(f->seen + f->seen_len, text, n);
        f->seen_len += n;
        f->seen[f->seen_len++] = '\n';
        f->seen[f->seen_len] = '\0';
    }
}

/* Opens the fixture; `cfg_edit` may change the rail config; `rail_tr`
 * (NULL: the loopback) is the rail's transport. */
static inline e2e *e2e_open_with(void (*cfg_edit)(constra_daraja_config *), const constra_transport *rail_tr)
{
    constra__daraja_token_cache_clear();
    e2e *f = calloc(1, sizeof(*f));
    e2e_log_len = 0;
    e2e_log[0] = '\0';
    constra_platform p = CONSTRA_PLATFORM_INIT;
    p.wall_time_ms = e2e_now;
    p.log = e2e_log_fn;
    p.log_min_level = CONSTRA_LOG_DEBUG;
    f->plat = p;
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_loopback_new(&f->lb, &f->plat, &err), CONSTRA_OK);
    constra_transport cb_tr, tr;
    assert_int_equal(constra_loopback_transport(f->lb, &cb_tr, &err), CONSTRA_OK);
    constra_daraja_emulator_options eo = CONSTRA_DARAJA_EMULATOR_OPTIONS_INIT;
    eo.consumer_key = E2E_KEY;
    eo.consumer_secret = E2E_SECRET;
    assert_int_equal(constra_daraja_emulator_new(&f->emu, &eo, &cb_tr, &f->plat, &err), CONSTRA_OK);
    assert_int_equal(constra_loopback_mount(f->lb, CONSTRA_DARAJA_SANDBOX_BASE_URL,
                                            constra_daraja_emulator_handler, f->emu, &err),
                     CONSTRA_OK);
    if (rail_tr) {
        tr = *rail_tr;
    } else {
        assert_int_equal(constra_loopback_transport(f->lb, &tr, &err), CONSTRA_OK);
    }
    constra_daraja_config c;
    emulator_rail_config(&c, E2E_KEY, E2E_SECRET, E2E_CALLBACK, E2E_CB_TOKEN);
    c.retry_delay_ms = 1;
    if (cfg_edit) {
        cfg_edit(&c);
    }
    constra_rail rail;
    int rc = constra_rail_daraja(&rail, &c, &tr, &f->plat, &err);
    if (rc != CONSTRA_OK) {
        fail_msg("rail: %s", err.message);
    }
    constra_config hc = CONSTRA_CONFIG_INIT;
    hc.platform = &f->plat;
    hc.rail = &rail;
    hc.mode = CONSTRA_MODE_SANDBOX;
    hc.callback_timeout_ms = 300000;
    hc.secret_key = E2E_API_KEY;
    if (constra_open(&f->h, &hc, &err) != CONSTRA_OK) {
        fail_msg("open: %s", err.message);
    }
    assert_int_equal(constra_loopback_mount(f->lb, E2E_MERCHANT, constra_api_loopback_handler,
                                            f->h, &err),
                     CONSTRA_OK);
    return f;
}

static inline e2e *e2e_open(void)
{
    return e2e_open_with(NULL, NULL);
}

static inline void e2e_no_secrets(e2e *f)
{
    const char *secrets[] = {E2E_SECRET, CONSTRA_DARAJA_SANDBOX_PASSKEY, E2E_CB_TOKEN,
                             /* base64 of "174379bfb279f9" (STK password prefix) */
                             "MTc0Mzc5YmZiMjc5Zjlh",
                             /* base64 of "e2eConsumerKey0123456789:" (Basic) */
                             "ZTJlQ29uc3VtZXJLZXkwMTIzNDU2Nzg5Oi"};
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
        if (strstr(f->seen, secrets[i]) || strstr(e2e_log, secrets[i])) {
            fail_msg("secret %zu leaked", i);
        }
    }
}

static inline void e2e_close(e2e *f)
{
    e2e_no_secrets(f);
    constra_close(f->h);
    constra_daraja_emulator_free(f->emu);
    constra_loopback_free(f->lb);
    free(f);
}

/* Creates an intent; returns its id in `id` and the create status. */
static inline int e2e_create(e2e *f, const char *phone, int64_t amount, char *id, size_t id_size)
{
    constra_intent_params ip = CONSTRA_INTENT_PARAMS_INIT;
    ip.amount = amount;
    ip.currency = "KES";
    ip.phone_number = phone;
    ip.reference = "order_7429";
    ip.description = "Solar kit deposit";
    constra_intent *in = NULL;
    static int seq;
    char key[64];
    snprintf(key, sizeof(key), "e2e-key-%d", ++seq);
    int rc = constra_intent_create(f->h, &ip, key, &in, T_ERR);
    id[0] = '\0';
    if (in) {
        snprintf(id, id_size, "%s", constra_intent_id(in));
        e2e_saw(f, constra_intent_json(in, NULL));
        constra_intent_free(in);
    } else {
        constra_error e = e2e_last(f);
        print_message("# create: %s (%s)\n", e.message, e.param);
    }
    return rc;
}

static inline int e2e_status(e2e *f, const char *id)
{
    constra_intent *in = NULL;
    assert_int_equal(constra_intent_get(f->h, id, &in, T_ERR), CONSTRA_OK);
    e2e_saw(f, constra_intent_json(in, NULL));
    int s = constra_intent_status(in);
    constra_intent_free(in);
    return s;
}

static inline void e2e_get(e2e *f, const char *id, char *field, size_t size,
                    const char *(*getter)(const constra_intent *))
{
    constra_intent *in = NULL;
    assert_int_equal(constra_intent_get(f->h, id, &in, T_ERR), CONSTRA_OK);
    snprintf(field, size, "%s", getter(in));
    constra_intent_free(in);
}

/* 1 when some event of the intent contains `needle` (all events are
 * added to the secret grep). */
static inline int e2e_event_has(e2e *f, const char *id, const char *needle)
{
    constra_event_list *l = NULL;
    assert_int_equal(constra_event_list_get(f->h, id, &l, T_ERR), CONSTRA_OK);
    int found = 0;
    for (size_t i = 0; i < constra_event_list_count(l); i++) {
        const char *j = constra_event_list_event_json(l, i);
        e2e_saw(f, j);
        if (strstr(j, needle)) {
            found = 1;
        }
    }
    constra_event_list_free(l);
    return found;
}

/* Moves the clock, sends due callbacks, ticks the engine. */
static inline void e2e_advance(e2e *f, int64_t ms)
{
    e2e_clock += ms;
    constra_daraja_emulator_pump(f->emu, e2e_clock);
    int rc = constra_tick(f->h, e2e_clock, T_ERR);
    if (rc != CONSTRA_OK) {
        e2e_last(f);
    }
}

static inline uint64_t e2e_count(e2e *f, int counter)
{
    return constra_daraja_emulator_count(f->emu, counter);
}

/* POSTs a callback body to the router with `query` ("" = none). */
static inline int e2e_post_callback(e2e *f, const char *query, const char *body, size_t len)
{
    char target[256];
    snprintf(target, sizeof(target), "/v1/providers/mpesa/callback%s%s", query[0] ? "?" : "", query);
    constra_http_header h[] = {{"Content-Type", "application/json"}};
    constra_api_request r = CONSTRA_API_REQUEST_INIT;
    r.method = "POST";
    r.target = target;
    r.headers = h;
    r.header_count = 1;
    r.body = body;
    r.body_len = len;
    constra_api_response *resp = NULL;
    assert_int_equal(constra_api_handle(f->h, &r, &resp, T_ERR), CONSTRA_OK);
    int status = constra_api_response_status(resp);
    e2e_saw(f, constra_api_response_body(resp, NULL));
    constra_api_response_free(resp);
    return status;
}

#endif
