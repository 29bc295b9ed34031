/* libFuzzer harness: a remote handle's reading of a server's answer
 * (lib/client: call.c, parse.c), through the public API only. The input's
 * first byte picks the call and the HTTP status; the rest is the answer's
 * body, served through the loopback transport (a first byte below 40:
 * the intent calls; from 40: the webhook endpoint and delivery calls). Whatever the body, the call
 * either succeeds with sane objects or fails with a status and no object;
 * a 2xx intent answer that succeeds is handed back byte for byte. */
#include "fuzz_common.h"
#include "../test_error.h"

#define FUZZ_ID "pi_01m848h4kpfv6093xw99s7nwaa"

static const uint8_t *cur_data;
static size_t cur_size;
static int cur_status;

static int answer(void *ctx, const constra_transport_request *req,
                  constra_transport_response *resp)
{
    (void)ctx;
    (void)req;
    int rc = constra_transport_response_set_status(resp, cur_status);
    if (rc == CONSTRA_OK) {
        rc = constra_transport_response_add_header(resp, "Content-Type", 12, "application/json",
                                                   16);
    }
    if (rc == CONSTRA_OK && cur_size) {
        rc = constra_transport_response_append(resp, cur_data, cur_size);
    }
    return rc;
}

static void no_sleep(void *ud, int64_t ms)
{
    (void)ud;
    (void)ms;
}

static constra_t *remote(void)
{
    static constra_t *h;
    if (h == NULL) {
        constra_loopback *lb = NULL;
        constra_transport t;
        FUZZ_CHECK(constra_loopback_new(&lb, NULL, NULL) == CONSTRA_OK);
        FUZZ_CHECK(constra_loopback_mount(lb, "http://fuzz.test", answer, NULL, NULL) ==
                   CONSTRA_OK);
        FUZZ_CHECK(constra_loopback_transport(lb, &t, NULL) == CONSTRA_OK);
        constra_loopback_free(lb); /* the transport keeps the table */
        constra_remote_config cfg = CONSTRA_REMOTE_CONFIG_INIT;
        cfg.base_url = "http://fuzz.test/v1";
        cfg.secret_key = "cs_test_fuzz_client_key_0001";
        cfg.transport = &t;
        cfg.max_tries = 1;
        cfg.sleep_ms = no_sleep;
        FUZZ_CHECK(constra_open_remote(&h, &cfg, NULL) == CONSTRA_OK);
    }
    return h;
}

static void check_intent(const constra_intent *in)
{
    /* Ids are the server's and opaque (client.h): any 1 to 42 characters
     * of [A-Za-z0-9_-], whatever their prefix. */
    const char *id = constra_intent_id(in);
    size_t idlen = strlen(id);
    FUZZ_CHECK(idlen >= 1 && idlen <= 42);
    FUZZ_CHECK(strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") ==
               idlen);
    /* A status this library does not know (a newer server's) reads as
     * CONSTRA_INTENT_UNKNOWN (client.h): tolerated, never out of range. */
    FUZZ_CHECK(constra_intent_status(in) >= CONSTRA_INTENT_UNKNOWN &&
               constra_intent_status(in) <= CONSTRA_INTENT_CANCELLED);
    FUZZ_CHECK(constra_intent_amount(in) >= 1);
    FUZZ_CHECK(constra_intent_attempts_used(in) >= 0 && constra_intent_attempts_used(in) <= 10);
    FUZZ_CHECK(constra_intent_attempts_left(in) >= 0);
    size_t len = 0;
    const char *json = constra_intent_json(in, &len);
    FUZZ_CHECK(strlen(json) == len);
    (void)strlen(constra_intent_agent_note(in));
    (void)strlen(constra_intent_checkout_request_id(in));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int statuses[] = {200, 201, 400, 404, 409, 429, 500, 503};
    constra_t *h = remote();
    int first = size ? data[0] : 0;
    int op = first < 40 ? first % 5 : 5 + (first - 40) % 2;
    cur_status = statuses[first < 40 ? (first / 5) % 8 : ((first - 40) / 2) % 8];
    cur_data = size ? data + 1 : data;
    cur_size = size ? size - 1 : 0;
    int ok_status = cur_status < 300;
    int rc;
    constra_error err = CONSTRA_ERROR_INIT;
    if (op == 0 || op == 3 || op == 4) {
        constra_intent *in = NULL;
        if (op == 0) {
            rc = constra_intent_get(h, FUZZ_ID, &in, T_ERR);
        } else if (op == 3) {
            constra_intent_params p = CONSTRA_INTENT_PARAMS_INIT;
            p.amount = 1250;
            p.currency = "KES";
            p.phone_number = "254700000000";
            rc = constra_intent_create(h, &p, "fuzz-key", &in, T_ERR);
        } else {
            rc = constra_intent_cancel(h, FUZZ_ID, &in, T_ERR);
        }
        if (rc == CONSTRA_OK) {
            FUZZ_CHECK(ok_status && in != NULL);
            check_intent(in);
            size_t len = 0;
            const char *json = constra_intent_json(in, &len);
            FUZZ_CHECK(len == cur_size && memcmp(json, cur_data, len) == 0);
            if (op != 3) {
                FUZZ_CHECK(strcmp(constra_intent_id(in), FUZZ_ID) == 0);
            }
            constra_intent_free(in);
        } else {
            FUZZ_CHECK(in == NULL);
        }
    } else if (op == 1) {
        constra_intent_list *l = NULL;
        rc = constra_intent_list_get(h, NULL, &l, T_ERR);
        if (rc == CONSTRA_OK) {
            FUZZ_CHECK(ok_status);
            FUZZ_CHECK(constra_intent_list_count(l) <= 100);
            for (size_t i = 0; i < constra_intent_list_count(l); i++) {
                check_intent(constra_intent_list_at(l, i));
            }
            FUZZ_CHECK(constra_intent_list_at(l, constra_intent_list_count(l)) == NULL);
            constra_intent_list_free(l);
        } else {
            FUZZ_CHECK(l == NULL);
        }
    } else if (op == 5) {
        constra_webhook_endpoint *ep = NULL;
        rc = constra_webhook_endpoint_get(h, "we_fuzz", &ep, T_ERR);
        if (rc == CONSTRA_OK) {
            FUZZ_CHECK(ok_status && ep != NULL);
            FUZZ_CHECK(strcmp(constra_webhook_endpoint_id(ep), "we_fuzz") == 0);
            (void)strlen(constra_webhook_endpoint_url(ep));
            FUZZ_CHECK(constra_webhook_endpoint_event_types(ep)[0] != '\0');
            FUZZ_CHECK(strlen(constra_webhook_endpoint_description(ep)) <=
                       CONSTRA_WEBHOOK_DESCRIPTION_MAX);
            const char *sc = constra_webhook_endpoint_scheme(ep);
            FUZZ_CHECK(strcmp(sc, "all") == 0 || strcmp(sc, "constra") == 0 ||
                       strcmp(sc, "standard_webhooks") == 0);
            constra_webhook_endpoint_free(ep);
        } else {
            FUZZ_CHECK(ep == NULL);
        }
    } else if (op == 6) {
        /* The same answer serves every page: a server that keeps saying
         * has_more is followed at most until the limit. */
        constra_webhook_delivery_list *l = NULL;
        rc = constra_webhook_delivery_list_get(h, NULL, NULL, NULL, 20, &l, T_ERR);
        if (rc == CONSTRA_OK) {
            FUZZ_CHECK(ok_status);
            size_t n = constra_webhook_delivery_list_count(l);
            FUZZ_CHECK(n <= 20);
            for (size_t i = 0; i < n; i++) {
                FUZZ_CHECK(constra_webhook_delivery_id(l, i)[0] != '\0');
                (void)strlen(constra_webhook_delivery_state(l, i));
                FUZZ_CHECK(constra_webhook_delivery_attempts(l, i) >= 0);
                (void)strlen(constra_webhook_delivery_attempts_json(l, i));
            }
            constra_webhook_delivery_list_free(l);
        } else {
            FUZZ_CHECK(l == NULL);
        }
    } else {
        constra_event_list *ev = NULL;
        rc = constra_event_list_get(h, FUZZ_ID, &ev, T_ERR);
        if (rc == CONSTRA_OK) {
            FUZZ_CHECK(ok_status);
            for (size_t i = 0; i < constra_event_list_count(ev); i++) {
                FUZZ_CHECK(constra_event_list_type(ev, i)[0] != '\0');
                (void)strlen(constra_event_list_event_json(ev, i));
            }
            constra_event_list_free(ev);
        } else {
            FUZZ_CHECK(ev == NULL);
        }
    }
    if (rc != CONSTRA_OK) {
        err = t_last_error();
        FUZZ_CHECK(err.status == rc && rc < 0);
        FUZZ_STR(err.code);
        FUZZ_STR(err.message);
        FUZZ_STR(err.param);
        FUZZ_CHECK(err.code[0] != '\0');
        if (ok_status) {
            FUZZ_CHECK(rc == CONSTRA_E_PARSE);
        }
    }
    return 0;
}
