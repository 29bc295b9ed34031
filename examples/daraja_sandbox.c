/*
 * How a merchant configures the Daraja rail (rail_daraja.h) against the
 * Daraja sandbox: shortcode 174379 with its published passkey, a Paybill
 * STK push to the sandbox test number 254708374149, callbacks into the
 * library's REST router, success confirmed by an STK query.
 *
 *   export DARAJA_CONSUMER_KEY=...       # from your Daraja app
 *   export DARAJA_CONSUMER_SECRET=...
 *   export DARAJA_CALLBACK_URL=https://your.host/v1/providers/mpesa/callback
 *   export DARAJA_CALLBACK_TOKEN=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')
 *   ./daraja_sandbox                     # real sandbox over HTTPS (libcurl)
 *
 *   ./daraja_sandbox --emulate           # offline: the in-process emulator
 *
 * Against the real sandbox the callback reaches you only if your HTTP
 * server forwards POST /v1/providers/mpesa/callback?token=... to
 * constra_api_handle(); this example polls (STK query) either way.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <constra.h>

#define MERCHANT_ORIGIN "https://merchant.example"

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    int emulate = argc > 1 && strcmp(argv[1], "--emulate") == 0;
    constra_error err = CONSTRA_ERROR_INIT;

    /* 1. The rail's configuration. Secrets come from the environment;
     *    the placeholders only work against the emulator. */
    constra_daraja_config cfg = CONSTRA_DARAJA_CONFIG_INIT;
    cfg.environment = CONSTRA_DARAJA_ENV_SANDBOX;
    cfg.consumer_key = env_or("DARAJA_CONSUMER_KEY", "emulator-consumer-key");
    cfg.consumer_secret = env_or("DARAJA_CONSUMER_SECRET", "emulator-consumer-secret");
    cfg.shortcode = CONSTRA_DARAJA_SANDBOX_SHORTCODE; /* 174379 */
    cfg.passkey = env_or("DARAJA_PASSKEY", CONSTRA_DARAJA_SANDBOX_PASSKEY);
    cfg.transaction_type = CONSTRA_DARAJA_STK_PAYBILL;
    cfg.callback_url = env_or("DARAJA_CALLBACK_URL", MERCHANT_ORIGIN "/v1/providers/mpesa/callback");
    /* Appended to the CallBackURL as ?token=...; callbacks without it are
     * refused. Use 16+ random URL-safe characters. */
    cfg.callback_token = env_or("DARAJA_CALLBACK_TOKEN", "change-me-0123456789abcdef");
    /* Confirm-by-query is on by default; the breaker opens after 5
     * failures and half-opens after 60 s. */
    cfg.query_first_ms = 3000;
    cfg.query_interval_ms = 3000;

    /* 2. The transport: libcurl for the real sandbox, or a loopback with
     *    the emulator at the sandbox origin. */
    constra_transport transport;
    constra_loopback *lb = NULL;
    constra_daraja_emulator *emu = NULL;
    if (emulate) {
        constra_transport callbacks;
        constra_daraja_emulator_options eo = CONSTRA_DARAJA_EMULATOR_OPTIONS_INIT;
        eo.result_delay_ms = 1000;
        if (constra_loopback_new(&lb, NULL, &err) != CONSTRA_OK ||
            constra_loopback_transport(lb, &callbacks, &err) != CONSTRA_OK ||
            constra_daraja_emulator_new(&emu, &eo, &callbacks, NULL, &err) != CONSTRA_OK ||
            constra_loopback_mount(lb, CONSTRA_DARAJA_SANDBOX_BASE_URL,
                                   constra_daraja_emulator_handler, emu, &err) != CONSTRA_OK ||
            constra_loopback_transport(lb, &transport, &err) != CONSTRA_OK) {
            fprintf(stderr, "emulator: %s\n", err.message);
            return 1;
        }
    } else {
        if (getenv("DARAJA_CONSUMER_KEY") == NULL || getenv("DARAJA_CALLBACK_URL") == NULL) {
            fprintf(stderr, "set DARAJA_CONSUMER_KEY, DARAJA_CONSUMER_SECRET, DARAJA_CALLBACK_URL "
                            "and DARAJA_CALLBACK_TOKEN, or run with --emulate\n");
            return 2;
        }
        if (constra_transport_curl(&transport, NULL, &err) != CONSTRA_OK) {
            fprintf(stderr, "curl: %s\n", err.message);
            return 1;
        }
    }

    /* 3. The rail, then a handle using it. */
    constra_rail rail;
    if (constra_rail_daraja(&rail, &cfg, &transport, NULL, &err) != CONSTRA_OK) {
        fprintf(stderr, "Daraja rail: %s (%s)\n", err.message, err.param);
        return 1;
    }
    constra_config hc = CONSTRA_CONFIG_INIT;
    hc.rail = &rail;
    hc.mode = CONSTRA_MODE_SANDBOX;
    hc.secret_key = "cs_test_daraja_sandbox_example";
    constra_t *h = NULL;
    if (constra_open(&h, &hc, &err) != CONSTRA_OK) {
        fprintf(stderr, "open: %s\n", err.message);
        return 1;
    }
    if (emulate) {
        /* The emulator's callbacks reach the handle's callback route. */
        constra_loopback_mount(lb, MERCHANT_ORIGIN, constra_api_loopback_handler, h, &err);
    }

    /* 4. Collect KES 1 from the sandbox test number. */
    constra_intent_params p = CONSTRA_INTENT_PARAMS_INIT;
    p.amount = 1;
    p.currency = "KES";
    p.phone_number = "0708374149";
    p.reference = "order-1001";
    p.description = "Sandbox test";
    constra_intent *in = NULL;
    if (constra_intent_create(h, &p, "daraja-sandbox-order-1001", &in, &err) != CONSTRA_OK) {
        fprintf(stderr, "create: %s\n", err.message);
        return 1;
    }
    char id[64];
    snprintf(id, sizeof(id), "%s", constra_intent_id(in));
    printf("%s status=%s checkout=%s\n", id, constra_intent_status_name(constra_intent_status(in)),
           constra_intent_checkout_request_id(in));
    constra_intent_free(in);

    /* 5. Drive time: callbacks (emulator pump) and polling (tick). A
     *    server calls constra_tick() from its own loop. */
    int status = CONSTRA_INTENT_PENDING_USER_ACTION;
    for (int i = 0; i < 600 && status == CONSTRA_INTENT_PENDING_USER_ACTION; i++) {
        sleep_ms(100);
        if (emu) {
            constra_daraja_emulator_pump(emu, now_ms());
        }
        constra_tick(h, now_ms(), &err);
        if (constra_intent_get(h, id, &in, &err) == CONSTRA_OK) {
            status = constra_intent_status(in);
            if (status != CONSTRA_INTENT_PENDING_USER_ACTION) {
                printf("%s status=%s result=%s receipt=%s\n", id,
                       constra_intent_status_name(status), constra_intent_result_code(in),
                       constra_intent_receipt(in));
            }
            constra_intent_free(in);
        }
    }
    constra_close(h);
    constra_daraja_emulator_free(emu);
    constra_loopback_free(lb);
    return status == CONSTRA_INTENT_SUCCEEDED ? 0 : 1;
}
