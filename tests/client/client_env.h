/* Shared by the client tests: a local engine (memory storage, the
 * simulator behind a counting rail, a driven clock) and, in remote mode,
 * a remote handle that reaches it through the loopback transport and the
 * REST router (constra_api_loopback_handler), optionally through a
 * fault-injecting handler in between. */
#ifndef CONSTRA_TEST_CLIENT_ENV_H
#define CONSTRA_TEST_CLIENT_ENV_H

#include "../unit/testutil.h"
#include "../engine/counting_rail.h"

#include <pthread.h>
#include <stdio.h>
#include "../test_error.h"

#define SECRET "cs_test_client_suite_key_01"
#define ORIGIN "http://constra.test"
#define CLOCK_START INT64_C(1764239894625)

static int64_t clock_ms = CLOCK_START;
static int64_t driven_clock(void *ud)
{
    (void)ud;
    return clock_ms;
}

/* What the fault handler does with the n-th request. */
enum fault {
    F_PASS = 0,       /* to the router, answer as it answered */
    F_CONNECT,        /* fail CONNECT (never reached the server) */
    F_503,            /* answer 503 without reaching the router */
    F_AFTER_TIMEOUT,  /* the router acts, then the answer is lost (TIMEOUT) */
    F_IN_FLIGHT,      /* answer 409 idempotent_request_in_flight */
    /* the router acts, then the answer is replaced by: */
    F_HTML,           /* 200 text/html */
    F_NOT_JSON,       /* 200 application/json "not json" */
    F_WRONG_SHAPE,    /* 200 {"id":"pi_x"} */
    F_TRUNCATED,      /* the router's answer cut in half */
    F_HUGE,           /* a body over the response cap */
    F_500_HTML,       /* 500 with an HTML body */
    F_CANNED          /* 200 application/json with env.canned */
};

#define MAX_SEEN 64

typedef struct env {
    constra_t *engine;  /* the local engine */
    constra_t *h;       /* what the scenario calls: engine, or a remote handle */
    int remote;
    counting_rail rail;
    constra_loopback *lb;
    /* fault script, request log */
    int script[MAX_SEEN];
    int requests;
    char methods[MAX_SEEN][8];
    char targets[MAX_SEEN][160];
    char keys[MAX_SEEN][64];
    int sleeps;
    int64_t slept_ms;
    char canned[8192];
    pthread_mutex_t lock;
} env;

static inline const char *header_of(const constra_transport_request *req, const char *name)
{
    for (size_t i = 0; i < req->header_count; i++) {
        if (strcasecmp(req->headers[i].name, name) == 0) {
            return req->headers[i].value;
        }
    }
    return NULL;
}

static int put(constra_transport_response *resp, int status, const char *ct, const char *body,
               size_t len)
{
    int rc = constra_transport_response_set_status(resp, status);
    if (rc == CONSTRA_OK && ct) {
        rc = constra_transport_response_add_header(resp, "Content-Type", 12, ct, strlen(ct));
    }
    if (rc == CONSTRA_OK && len) {
        rc = constra_transport_response_append(resp, body, len);
    }
    return rc;
}

static int fault_handler(void *ctx, const constra_transport_request *req,
                         constra_transport_response *resp)
{
    env *v = ctx;
    pthread_mutex_lock(&v->lock);
    int n = v->requests++;
    int f = n < MAX_SEEN ? v->script[n] : F_PASS;
    if (n < MAX_SEEN) {
        snprintf(v->methods[n], sizeof(v->methods[n]), "%s", req->method);
        snprintf(v->targets[n], sizeof(v->targets[n]), "%s", req->url + strlen(ORIGIN));
        const char *k = header_of(req, "Idempotency-Key");
        snprintf(v->keys[n], sizeof(v->keys[n]), "%s", k ? k : "");
    }
    pthread_mutex_unlock(&v->lock);
    switch (f) {
    case F_CONNECT:
        return constra_transport_response_fail(resp, CONSTRA_TRANSPORT_CONNECT, "refused");
    case F_503: {
        static const char b[] = "{\"error\":{\"code\":\"unavailable\",\"message\":"
                                "\"try later\",\"param\":null}}";
        return put(resp, 503, "application/json", b, sizeof(b) - 1);
    }
    case F_IN_FLIGHT: {
        static const char b[] = "{\"error\":{\"code\":\"idempotent_request_in_flight\","
                                "\"message\":\"in flight\",\"param\":null}}";
        return put(resp, 409, "application/json", b, sizeof(b) - 1);
    }
    case F_500_HTML:
        return put(resp, 500, "text/html", "<html>oops</html>", 17);
    case F_CANNED:
        return put(resp, 200, "application/json", v->canned, strlen(v->canned));
    default:
        break;
    }
    /* To the router. */
    constra_api_request ar = CONSTRA_API_REQUEST_INIT;
    ar.method = req->method;
    ar.target = req->url + strlen(ORIGIN);
    ar.headers = req->headers;
    ar.header_count = req->header_count;
    ar.body = req->body;
    ar.body_len = req->body_len;
    constra_api_response *out = NULL;
    int rc = constra_api_handle(v->engine, &ar, &out, T_ERR);
    if (rc != CONSTRA_OK) {
        return constra_transport_response_fail(resp, CONSTRA_TRANSPORT_OTHER, "router failed");
    }
    /* The server acted; what comes back is lost or mangled on the way
     * (a proxy's error page, a cut connection). */
    switch (f) {
    case F_AFTER_TIMEOUT:
        constra_api_response_free(out);
        return constra_transport_response_fail(resp, CONSTRA_TRANSPORT_TIMEOUT, "timed out");
    case F_HTML:
        constra_api_response_free(out);
        return put(resp, 200, "text/html", "<html>hi</html>", 15);
    case F_NOT_JSON:
        constra_api_response_free(out);
        return put(resp, 200, "application/json", "not json", 8);
    case F_WRONG_SHAPE:
        constra_api_response_free(out);
        return put(resp, 200, "application/json", "{\"id\":\"pi_x\"}", 13);
    case F_HUGE: {
        constra_api_response_free(out);
        rc = put(resp, 200, "application/json", "[", 1);
        static char chunk[65536];
        memset(chunk, ' ', sizeof(chunk));
        for (int i = 0; rc == CONSTRA_OK && i < 64; i++) {
            rc = constra_transport_response_append(resp, chunk, sizeof(chunk));
        }
        return rc;
    }
    default:
        break;
    }
    size_t len = 0;
    const char *body = constra_api_response_body(out, &len);
    if (f == F_TRUNCATED) {
        len /= 2;
    }
    rc = constra_transport_response_set_status(resp, constra_api_response_status(out));
    for (size_t i = 0; rc == CONSTRA_OK && i < constra_api_response_header_count(out); i++) {
        const char *hn = constra_api_response_header_name(out, i);
        const char *hv = constra_api_response_header_value(out, i);
        rc = constra_transport_response_add_header(resp, hn, strlen(hn), hv, strlen(hv));
    }
    if (rc == CONSTRA_OK && len) {
        rc = constra_transport_response_append(resp, body, len);
    }
    constra_api_response_free(out);
    return rc;
}

static void record_sleep(void *ud, int64_t ms)
{
    env *v = ud;
    pthread_mutex_lock(&v->lock);
    v->sleeps++;
    v->slept_ms += ms;
    pthread_mutex_unlock(&v->lock);
}

static inline void real_sleep(void *ud, int64_t ms)
{
    record_sleep(ud, ms);
    struct timespec ts = {0, (long)(ms > 5 ? 5 : ms) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Opens a remote handle onto v->engine with `cfg_in`'s knobs (may be NULL). */
static inline int open_remote_on(env *v, const constra_remote_config *cfg_in, const constra_platform *p,
                          constra_t **out, constra_error *err)
{
    constra_transport t;
    assert_int_equal(constra_loopback_transport(v->lb, &t, NULL), CONSTRA_OK);
    constra_remote_config cfg = CONSTRA_REMOTE_CONFIG_INIT;
    if (cfg_in) {
        cfg = *cfg_in;
    }
    if (cfg.base_url == NULL) {
        cfg.base_url = ORIGIN "/v1";
    }
    if (cfg.secret_key == NULL) {
        cfg.secret_key = SECRET;
    }
    cfg.platform = p;
    cfg.transport = &t;
    if (cfg.sleep_ms == NULL) {
        cfg.sleep_ms = record_sleep;
        cfg.sleep_user_data = v;
    }
    int rc = constra_open_remote(out, &cfg, err);
    if (rc != CONSTRA_OK) {
        t.destroy(t.user_data); /* not handed over */
    }
    return rc;
}

static env *open_env(int remote, int max_attempts)
{
    clock_ms = CLOCK_START;
    env *v = calloc(1, sizeof(*v));
    pthread_mutex_init(&v->lock, NULL);
    v->remote = remote;
    constra_platform p = CONSTRA_PLATFORM_INIT;
    p.wall_time_ms = driven_clock;
    constra_rail r;
    counting_rail_open(&v->rail, &r);
    constra_config cfg = CONSTRA_CONFIG_INIT;
    cfg.platform = &p;
    cfg.rail = &r;
    cfg.max_attempts = max_attempts;
    cfg.callback_timeout_ms = 60000;
    cfg.secret_key = SECRET;
    constra_error err = CONSTRA_ERROR_INIT;
    if (constra_open(&v->engine, &cfg, &err) != CONSTRA_OK) {
        fail_msg("open: %s", err.message);
    }
    v->h = v->engine;
    assert_int_equal(constra_loopback_new(&v->lb, NULL, &err), CONSTRA_OK);
    assert_int_equal(constra_loopback_mount(v->lb, ORIGIN, fault_handler, v, &err), CONSTRA_OK);
    if (remote) {
        constra_remote_config rc = CONSTRA_REMOTE_CONFIG_INIT;
        rc.max_attempts = max_attempts;
        if (open_remote_on(v, &rc, NULL, &v->h, &err) != CONSTRA_OK) {
            fail_msg("open_remote: %s (%s)", err.message, err.param);
        }
    }
    return v;
}

static void close_env(env *v)
{
    if (v->h != v->engine) {
        constra_close(v->h);
    }
    constra_close(v->engine);
    constra_loopback_free(v->lb);
    pthread_mutex_destroy(&v->rail.lock);
    pthread_mutex_destroy(&v->lock);
    free(v);
}

static constra_intent_params seed_params(const char *phone)
{
    constra_intent_params p = CONSTRA_INTENT_PARAMS_INIT;
    p.amount = 1250;
    p.currency = "KES";
    p.provider = "mpesa";
    p.customer_name = "Amina N.";
    p.phone_number = phone;
    p.reference = "order_7429";
    p.description = "Solar home kit deposit";
    return p;
}

/* The detail of this thread's last failed call (every call gets T_ERR). */
static constra_error last(constra_t *h)
{
    (void)h;
    return t_last_error();
}

static inline size_t engine_intents(env *v)
{
    constra_intent_list *l = NULL;
    constra_intent_list_params lp = CONSTRA_INTENT_LIST_PARAMS_INIT;
    lp.limit = 100;
    assert_int_equal(constra_intent_list_get(v->engine, &lp, &l, T_ERR), CONSTRA_OK);
    size_t n = constra_intent_list_count(l);
    constra_intent_list_free(l);
    return n;
}

#endif
