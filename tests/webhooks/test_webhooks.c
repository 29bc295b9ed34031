#define _POSIX_C_SOURCE 200809L /* mkstemp, mkdtemp */
/* Webhook delivery end to end: deliveries received on a loopback endpoint
 * and verified by the library's verifier and by Python's hmac; the retry
 * schedule on a driven clock; replay; restart on a SQLite file; storage
 * faults at every call; the SSRF guard; bad endpoint input. */
#include "../unit/testutil.h"
#include "constra_config.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "../storage/fault_storage.h"
#include "../unit/live_rail.h"
#include "webhook/ssrf.h"
#include "../test_error.h"

/* ---- a recording receiver ------------------------------------------------ */

#define MAX_REQ 128
#define MAX_HDR 16

typedef struct received {
    char url[256];
    char body[4096];
    size_t body_len;
    char names[MAX_HDR][64];
    char values[MAX_HDR][256];
    size_t header_count;
} received;

typedef struct receiver {
    pthread_mutex_t lock; /* ticks may run on several threads */
    received req[MAX_REQ];
    size_t count;
    /* Answers, one per request in order; past the end: `otherwise`.
     * A negative value fails the exchange with that transport failure. */
    int script[16];
    size_t script_len;
    int otherwise;
    int delay_us; /* a slow receiver, so concurrent ticks overlap */
} receiver;

static int receive(void *ctx, const constra_transport_request *req,
                   constra_transport_response *resp)
{
    receiver *r = ctx;
    pthread_mutex_lock(&r->lock);
    size_t n = r->count;
    if (n < MAX_REQ) {
        received *q = &r->req[n];
        snprintf(q->url, sizeof(q->url), "%s", req->url);
        assert_true(req->body_len < sizeof(q->body));
        memcpy(q->body, req->body, req->body_len);
        q->body[req->body_len] = '\0';
        q->body_len = req->body_len;
        assert_true(req->header_count <= MAX_HDR);
        for (size_t i = 0; i < req->header_count; i++) {
            snprintf(q->names[i], 64, "%s", req->headers[i].name);
            snprintf(q->values[i], 256, "%s", req->headers[i].value);
        }
        q->header_count = req->header_count;
        r->count++;
    }
    int answer = n < r->script_len ? r->script[n] : r->otherwise;
    pthread_mutex_unlock(&r->lock);
    if (r->delay_us) {
        struct timespec ts = {0, (long)r->delay_us * 1000L};
        nanosleep(&ts, NULL);
    }
    if (answer < 0) {
        return constra_transport_response_fail(resp, -answer, "scripted failure");
    }
    return constra_transport_response_set_status(resp, answer);
}

static const char *header(const received *q, const char *name)
{
    for (size_t i = 0; i < q->header_count; i++) {
        if (strcasecmp(q->names[i], name) == 0) {
            return q->values[i];
        }
    }
    return NULL;
}

/* ---- fixtures ------------------------------------------------------------ */

static int64_t clock_ms = INT64_C(1764239894625);
static int64_t driven_clock(void *ud)
{
    (void)ud;
    return clock_ms;
}

/* A resolver from a table: "host=addr addr;host2=addr" */
static const char *dns_table = "";
static int fake_resolve(void *ctx, const char *host, char *out, size_t out_size)
{
    (void)ctx;
    size_t hl = strlen(host);
    const char *p = dns_table;
    while (*p) {
        const char *eq = strchr(p, '=');
        const char *end = strchr(p, ';');
        if (end == NULL) {
            end = p + strlen(p);
        }
        if (eq && eq < end && (size_t)(eq - p) == hl && strncmp(p, host, hl) == 0) {
            snprintf(out, out_size, "%.*s", (int)(end - eq - 1), eq + 1);
            return 0;
        }
        p = *end ? end + 1 : end;
    }
    return -1;
}

typedef struct wenv {
    constra_t *h;
    constra_loopback *lb;
    receiver rx;
    fault_storage faults;
    live_rail lr; /* live handles: the Daraja rail against the emulator */
} wenv;

/* When set, the handle allocates through it (allocation-failure runs). */
static counting_alloc *handle_alloc;
/* constra_config.webhook_disable_after_ms of the next open_env. */
static int64_t disable_after_ms;
/* constra_config.webhooks_own_thread of the next open_env. */
static int own_thread;

static wenv *open_env_with(int mode, const constra_storage *storage, int with_transport)
{
    wenv *v = calloc(1, sizeof(*v));
    v->rx.otherwise = 200;
    pthread_mutex_init(&v->rx.lock, NULL);
    constra_platform p = CONSTRA_PLATFORM_INIT;
    if (handle_alloc) {
        ca_platform(&p, handle_alloc);
    }
    p.wall_time_ms = driven_clock;
    constra_storage wrapped;
    if (storage == NULL) {
        constra_storage mem = CONSTRA_STORAGE_INIT;
        assert_int_equal(constra_storage_memory(&mem, NULL, NULL), CONSTRA_OK);
        fault_storage_wrap(&v->faults, &mem, &wrapped);
    } else {
        fault_storage_wrap(&v->faults, storage, &wrapped);
    }
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_loopback_new(&v->lb, NULL, &err), CONSTRA_OK);
    assert_int_equal(constra_loopback_mount(v->lb, "http://hooks.test", receive, &v->rx, &err),
                     CONSTRA_OK);
    assert_int_equal(constra_loopback_mount(v->lb, "https://hooks.example", receive, &v->rx, &err),
                     CONSTRA_OK);
    constra_transport t;
    constra_transport_init(&t, sizeof(t));
    constra_config cfg = CONSTRA_CONFIG_INIT;
    if (with_transport) {
        assert_int_equal(constra_loopback_transport(v->lb, &t, &err), CONSTRA_OK);
        cfg.transport = &t;
    }
    cfg.platform = &p;
    cfg.storage = &wrapped;
    cfg.mode = mode;
    cfg.secret_key = mode == CONSTRA_MODE_LIVE ? "cs_live_0123456789abcdef" : NULL;
    cfg.resolve = fake_resolve;
    cfg.webhook_disable_after_ms = disable_after_ms;
    cfg.webhooks_own_thread = own_thread;
    constra_rail rail;
    if (mode == CONSTRA_MODE_LIVE) {
        live_rail_open(&v->lr, NULL, &rail);
        cfg.rail = &rail;
    }
    if (constra_open(&v->h, &cfg, &err) != CONSTRA_OK) {
        fail_msg("open: %s", err.message);
    }
    return v;
}

static wenv *open_env(int mode)
{
    return open_env_with(mode, NULL, 1);
}

static void close_env(wenv *v)
{
    constra_close(v->h);
    if (v->lr.lb) {
        live_rail_close(&v->lr);
    }
    constra_loopback_free(v->lb);
    pthread_mutex_destroy(&v->rx.lock);
    free(v);
}

/* The detail of this thread's last failed call (every call gets T_ERR). */
static constra_error last(constra_t *h)
{
    (void)h;
    return t_last_error();
}

/* Adds an endpoint; returns its id in `id` and its secret in `secret`. */
static void add_endpoint(constra_t *h, const char *url, const char *secret_in, const char *types,
                         char *id, char *secret)
{
    constra_webhook_endpoint_params p = CONSTRA_WEBHOOK_ENDPOINT_PARAMS_INIT;
    p.url = url;
    p.secret = secret_in;
    p.event_types = types;
    constra_webhook_endpoint *ep = NULL;
    if (constra_webhook_endpoint_add(h, &p, &ep, T_ERR) != CONSTRA_OK) {
        fail_msg("endpoint_add: %s", last(h).message);
    }
    strcpy(id, constra_webhook_endpoint_id(ep));
    if (secret) {
        strcpy(secret, constra_webhook_endpoint_secret(ep));
    }
    assert_int_equal(constra_webhook_endpoint_enabled(ep), 1);
    constra_webhook_endpoint_free(ep);
}

/* Creates an intent and pays it: created, pending_user_action, succeeded.
 * Returns 0, or the first failing status (fault runs). */
static int pay(constra_t *h, const char *key, char *id_out)
{
    constra_intent_params p = CONSTRA_INTENT_PARAMS_INIT;
    p.amount = 1250;
    p.currency = "KES";
    p.provider = "mpesa";
    p.customer_name = "Amina N.";
    p.phone_number = "254700000000";
    p.reference = "order_7429";
    constra_intent *in = NULL;
    int rc = constra_intent_create(h, &p, key, &in, T_ERR);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    char id[CONSTRA_ID_SIZE];
    strcpy(id, constra_intent_id(in));
    if (id_out) {
        strcpy(id_out, id);
    }
    constra_intent_free(in);
    rc = constra_intent_simulate_callback(h, id, "0", NULL, &in, T_ERR);
    constra_intent_free(in);
    return rc;
}

static constra_webhook_delivery_list *deliveries(constra_t *h, const char *state)
{
    constra_webhook_delivery_list *l = NULL;
    assert_int_equal(constra_webhook_delivery_list_get(h, NULL, state, NULL, 0, &l, T_ERR), CONSTRA_OK);
    return l;
}

static size_t count_state(constra_t *h, const char *state)
{
    constra_webhook_delivery_list *l = deliveries(h, state);
    size_t n = constra_webhook_delivery_list_count(l);
    constra_webhook_delivery_list_free(l);
    return n;
}

/* ---- signed deliveries, verified twice ----------------------------------- */

static void verify_with_library(const received *q, const char *secret, int64_t now_s)
{
    constra_webhook_params wp = CONSTRA_WEBHOOK_PARAMS_INIT;
    wp.secret = secret;
    wp.body = (const uint8_t *)q->body;
    wp.body_len = q->body_len;
    wp.now = now_s;
    int reason = -1;
    wp.scheme = CONSTRA_WEBHOOK_T_V1;
    wp.signature = header(q, "Constra-Signature");
    assert_non_null(wp.signature);
    assert_int_equal(constra_webhook_verify(&wp, &reason, NULL), CONSTRA_OK);
    wp.scheme = CONSTRA_WEBHOOK_BODY_HEX;
    wp.signature = header(q, "Constra-Signature-Body");
    assert_non_null(wp.signature);
    assert_int_equal(constra_webhook_verify(&wp, &reason, NULL), CONSTRA_OK);
    wp.scheme = CONSTRA_WEBHOOK_STANDARD;
    wp.signature = header(q, "webhook-signature");
    wp.msg_id = header(q, "webhook-id");
    wp.timestamp_header = header(q, "webhook-timestamp");
    assert_non_null(wp.signature);
    assert_int_equal(constra_webhook_verify(&wp, &reason, NULL), CONSTRA_OK);
    /* And the verifier does reject: another secret. */
    wp.secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    assert_int_equal(constra_webhook_verify(&wp, &reason, NULL), CONSTRA_E_SIGNATURE);
    assert_int_equal(reason, CONSTRA_WEBHOOK_MISMATCH);
}

/* Writes the received deliveries for verify_hmac.py and runs it. */
static int verify_with_python(const receiver *rx, const char *secret)
{
    const char *script = getenv("CONSTRA_WEBHOOK_VERIFY");
    const char *python = getenv("CONSTRA_PYTHON");
    if (script == NULL || python == NULL) {
        fail_msg("CONSTRA_WEBHOOK_VERIFY / CONSTRA_PYTHON not set (tests/webhooks/meson.build)");
    }
    char path[] = "/tmp/constra_webhooks_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "{\"secret\":\"%s\",\"deliveries\":[", secret);
    for (size_t i = 0; i < rx->count; i++) {
        const received *q = &rx->req[i];
        fprintf(f, "%s{\"headers\":{", i ? "," : "");
        for (size_t k = 0; k < q->header_count; k++) {
            fprintf(f, "%s\"%s\":\"%s\"", k ? "," : "", q->names[k], q->values[k]);
        }
        fprintf(f, "},\"body_hex\":\"");
        for (size_t k = 0; k < q->body_len; k++) {
            fprintf(f, "%02x", (unsigned char)q->body[k]);
        }
        fprintf(f, "\"}");
    }
    fprintf(f, "]}");
    fclose(f);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s' '%s' '%s' 1>&2", python, script, path);
    int status = system(cmd);
    unlink(path);
    return status;
}

static void test_signed_deliveries_verified(void **state)
{
    (void)state;
    wenv *v = open_env(CONSTRA_MODE_SANDBOX);
    char ep[64], secret[300], pi[CONSTRA_ID_SIZE];
    add_endpoint(v->h, "http://hooks.test/constra", NULL, "*", ep, secret);
    assert_true(strncmp(secret, "whsec_", 6) == 0);
    assert_int_equal(strlen(secret), 6 + 32);
    assert_int_equal(pay(v->h, "k1", pi), CONSTRA_OK);

    assert_int_equal(constra_tick(v->h, clock_ms, T_ERR), CONSTRA_OK);
    constra_event_list *ev = NULL;
    assert_int_equal(constra_event_list_get(v->h, pi, &ev, T_ERR), CONSTRA_OK);
    size_t nev = constra_event_list_count(ev);
    assert_true(nev >= 3);
    assert_int_equal(v->rx.count, nev);
    for (size_t i = 0; i < v->rx.count; i++) {
        const received *q = &v->rx.req[i];
        assert_string_equal(q->url, "http://hooks.test/constra");
        assert_string_equal(header(q, "Content-Type"), "application/json");
        assert_true(strncmp(header(q, "User-Agent"), "libconstra/", 11) == 0);
        assert_true(strncmp(header(q, "Constra-Delivery-Id"), "whd_", 4) == 0);
        assert_string_equal(header(q, "webhook-id"), header(q, "Constra-Delivery-Id"));
        /* Oldest first, and the body is the event of the log. */
        assert_string_equal(header(q, "Constra-Event-Id"), constra_event_list_id(ev, i));
        assert_string_equal(header(q, "Constra-Event-Type"), constra_event_list_type(ev, i));
        assert_non_null(strstr(q->body, "\"id\":\"evt_"));
        assert_non_null(strstr(q->body, "\"created_at\":\""));
        assert_non_null(strstr(q->body, pi));
        assert_non_null(strstr(q->body, "\"provider_result_code\":"));
        verify_with_library(q, secret, clock_ms / 1000);
        for (size_t k = 0; k < i; k++) {
            assert_string_not_equal(header(q, "Constra-Delivery-Id"),
                                    header(&v->rx.req[k], "Constra-Delivery-Id"));
        }
    }
    assert_non_null(strstr(v->rx.req[nev - 1].body, "\"status\":\"succeeded\""));
    assert_non_null(strstr(v->rx.req[nev - 1].body, "\"provider_result_code\":\"0\""));
    constra_event_list_free(ev);
    assert_int_equal(verify_with_python(&v->rx, secret), 0);

    /* Recorded as delivered; a second tick sends nothing again. */
    constra_webhook_delivery_list *l = deliveries(v->h, "delivered");
    assert_int_equal(constra_webhook_delivery_list_count(l), nev);
    assert_int_equal(constra_webhook_delivery_attempts(l, 0), 1);
    assert_int_equal(constra_webhook_delivery_last_status(l, 0), 200);
    assert_string_equal(constra_webhook_delivery_last_error(l, 0), "");
    assert_string_equal(constra_webhook_delivery_endpoint_id(l, 0), ep);
    assert_non_null(strstr(constra_webhook_delivery_attempts_json(l, 0), "\"status\":200"));
    constra_webhook_delivery_list_free(l);
    assert_int_equal(constra_tick(v->h, clock_ms + 1000, T_ERR), CONSTRA_OK);
    assert_int_equal(v->rx.count, nev);

    /* A given secret (not whsec_): t_v1 and body-hex only. */
    char ep2[64];
    add_endpoint(v->h, "http://hooks.test/two", "my-own-secret-0123456789", "payment_intent.created",
                 ep2, NULL);
    size_t before = v->rx.count;
    assert_int_equal(pay(v->h, "k2", NULL), CONSTRA_OK);
    assert_int_equal(constra_webhooks_tick(v->h, clock_ms + 2000, T_ERR), CONSTRA_OK);
    size_t two = 0;
    for (size_t i = before; i < v->rx.count; i++) {
        const received *q = &v->rx.req[i];
        if (strcmp(q->url, "http://hooks.test/two") == 0) {
            two++;
            assert_string_equal(header(q, "Constra-Event-Type"), "payment_intent.created");
            assert_null(header(q, "webhook-signature"));
            constra_webhook_params wp = CONSTRA_WEBHOOK_PARAMS_INIT;
            wp.scheme = CONSTRA_WEBHOOK_T_V1;
            wp.secret = "my-own-secret-0123456789";
            wp.body = (const uint8_t *)q->body;
            wp.body_len = q->body_len;
            wp.now = (clock_ms + 2000) / 1000;
            wp.signature = header(q, "Constra-Signature");
            assert_int_equal(constra_webhook_verify(&wp, NULL, NULL), CONSTRA_OK);
        }
    }
    assert_int_equal(two, 1); /* the filter: only payment_intent.created */
    close_env(v);
}

/* ---- the retry schedule --------------------------------------------------- */

static void tick_at(wenv *v, int64_t t)
{
    clock_ms = t;
    assert_int_equal(constra_tick(v->h, t, T_ERR), CONSTRA_OK);
}

static void test_retry_schedule_and_replay(void **state)
{
    (void)state;
    wenv *v = open_env(CONSTRA_MODE_SANDBOX);
    char ep[64];
    add_endpoint(v->h, "http://hooks.test/flaky", NULL, "payment_intent.created", ep, NULL);
    v->rx.otherwise = 500;
    v->rx.script[0] = -CONSTRA_TRANSPORT_TIMEOUT; /* first: a time-out */
    v->rx.script_len = 1;
    int64_t t0 = clock_ms;
    assert_int_equal(pay(v->h, "k1", NULL), CONSTRA_OK);
    tick_at(v, t0);
    assert_int_equal(v->rx.count, 1);
    constra_webhook_delivery_list *l = deliveries(v->h, "pending");
    assert_int_equal(constra_webhook_delivery_list_count(l), 1);
    assert_string_equal(constra_webhook_delivery_last_error(l, 0), "transport_timeout");
    assert_int_equal(constra_webhook_delivery_last_status(l, 0), 0);
    assert_int_equal(constra_webhook_delivery_next_attempt_at_ms(l, 0), t0 + 60000);
    char did[64];
    strcpy(did, constra_webhook_delivery_id(l, 0));
    constra_webhook_delivery_list_free(l);

    /* Each retry is due exactly at its delay after the previous failure. */
    const int64_t delays[] = {60000, 300000, 1800000, 7200000, 86400000};
    int64_t t = t0;
    for (size_t i = 0; i < 5; i++) {
        tick_at(v, t + delays[i] - 1);
        assert_int_equal(v->rx.count, i + 1); /* not yet */
        t += delays[i];
        tick_at(v, t);
        assert_int_equal(v->rx.count, i + 2);
        l = deliveries(v->h, NULL);
        assert_int_equal(constra_webhook_delivery_attempts(l, 0), (int)i + 2);
        assert_int_equal(constra_webhook_delivery_last_status(l, 0), 500);
        assert_string_equal(constra_webhook_delivery_last_error(l, 0), "http_500");
        if (i < 4) {
            assert_string_equal(constra_webhook_delivery_state(l, 0), "pending");
            assert_int_equal(constra_webhook_delivery_next_attempt_at_ms(l, 0), t + delays[i + 1]);
        } else {
            assert_string_equal(constra_webhook_delivery_state(l, 0), "failed");
        }
        constra_webhook_delivery_list_free(l);
    }
    /* Failed stays failed: nothing more is sent. */
    tick_at(v, t + 10LL * 86400000);
    assert_int_equal(v->rx.count, 6);
    for (size_t i = 1; i < 6; i++) { /* one delivery id across every retry */
        assert_string_equal(header(&v->rx.req[i], "Constra-Delivery-Id"), did);
    }
    l = deliveries(v->h, "failed");
    assert_int_equal(constra_webhook_delivery_list_count(l), 1);
    const char *log = constra_webhook_delivery_attempts_json(l, 0);
    size_t entries = 0;
    for (const char *p = log; (p = strstr(p, "\"at\":")) != NULL; p++) {
        entries++;
    }
    assert_int_equal(entries, 6);
    assert_non_null(strstr(log, "\"error\":\"transport_timeout\""));
    constra_webhook_delivery_list_free(l);

    /* Replay: pending again, now answered 200. */
    assert_int_equal(constra_webhook_delivery_replay(v->h, did, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_webhook_delivery_replay(v->h, did, T_ERR), CONSTRA_E_INVALID_STATE);
    v->rx.otherwise = 200;
    tick_at(v, clock_ms);
    assert_int_equal(v->rx.count, 7);
    assert_string_equal(header(&v->rx.req[6], "Constra-Delivery-Id"), did);
    l = deliveries(v->h, "delivered");
    assert_int_equal(constra_webhook_delivery_list_count(l), 1);
    assert_int_equal(constra_webhook_delivery_attempts(l, 0), 1);
    assert_int_equal(constra_webhook_delivery_last_status(l, 0), 200);
    constra_webhook_delivery_list_free(l);
    assert_int_equal(constra_webhook_delivery_replay(v->h, "whd_nope", T_ERR), CONSTRA_E_NOT_FOUND);
    close_env(v);
}

static void test_500_then_200_and_3xx(void **state)
{
    (void)state;
    wenv *v = open_env(CONSTRA_MODE_SANDBOX);
    char ep[64];
    add_endpoint(v->h, "http://hooks.test/x", NULL, "payment_intent.created", ep, NULL);
    v->rx.script[0] = 500;
    v->rx.script[1] = 302; /* a redirect is not a success */
    v->rx.script[2] = 204;
    v->rx.script_len = 3;
    int64_t t0 = clock_ms;
    assert_int_equal(pay(v->h, "k1", NULL), CONSTRA_OK);
    tick_at(v, t0);
    tick_at(v, t0 + 60000);
    constra_webhook_delivery_list *l = deliveries(v->h, "pending");
    assert_int_equal(constra_webhook_delivery_list_count(l), 1);
    assert_string_equal(constra_webhook_delivery_last_error(l, 0), "http_302");
    constra_webhook_delivery_list_free(l);
    tick_at(v, t0 + 60000 + 300000);
    assert_int_equal(v->rx.count, 3);
    assert_int_equal(count_state(v->h, "delivered"), 1);
    close_env(v);
}

/* ---- restart on a SQLite file --------------------------------------------- */

static void open_sqlite(const char *path, constra_storage *out)
{
    constra_sqlite_options o = CONSTRA_SQLITE_OPTIONS_INIT;
    o.path = path;
    constra_storage init = CONSTRA_STORAGE_INIT;
    *out = init;
    assert_int_equal(constra_storage_sqlite(out, NULL, &o, NULL), CONSTRA_OK);
}

#if CONSTRA_HAVE_SQLITE
/* Removes a test database file, its WAL files and its directory. */
static void remove_db(const char *dir, const char *path)
{
    unlink(path);
    char aux[160];
    snprintf(aux, sizeof(aux), "%s-wal", path);
    unlink(aux);
    snprintf(aux, sizeof(aux), "%s-shm", path);
    unlink(aux);
    rmdir(dir);
}
#endif

#if CONSTRA_HAVE_SQLITE
static void test_survives_restart(void **state)
{
    (void)state;
    char dir[] = "/tmp/constra_wh_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/db.sqlite", dir);
    constra_storage s;

    /* Process 1: no transport. One payment's events are queued by a
     * webhooks tick, a second payment's are only in the event log. */
    open_sqlite(path, &s);
    wenv *v = open_env_with(CONSTRA_MODE_SANDBOX, &s, 0);
    char ep[64], secret[300];
    add_endpoint(v->h, "http://hooks.test/r", NULL, "*", ep, secret);
    assert_int_equal(pay(v->h, "k1", NULL), CONSTRA_OK);
    assert_int_equal(constra_webhooks_tick(v->h, clock_ms, T_ERR), CONSTRA_OK);
    size_t queued = count_state(v->h, "pending");
    assert_true(queued >= 3);
    assert_int_equal(pay(v->h, "k2", NULL), CONSTRA_OK);
    assert_int_equal(v->rx.count, 0);
    close_env(v);

    /* Process 2: the same file, a transport. Everything arrives. */
    open_sqlite(path, &s);
    v = open_env_with(CONSTRA_MODE_SANDBOX, &s, 1);
    assert_int_equal(constra_tick(v->h, clock_ms, T_ERR), CONSTRA_OK);
    assert_int_equal(v->rx.count, 2 * queued);
    assert_int_equal(count_state(v->h, "delivered"), 2 * queued);
    assert_int_equal(verify_with_python(&v->rx, secret), 0);
    close_env(v);
    remove_db(dir, path);
}
#endif

/* ---- storage faults: no event lost, one delivery id per event ------------ */

typedef struct evset {
    char ids[64][CONSTRA_ID_SIZE];
    size_t count;
} evset;

static int collect_events(void *ctx, const constra_record_event *e)
{
    evset *s = ctx;
    if (e->stream[0] != '\0') { /* an intent's event (not an unmatched callback) */
        assert_true(s->count < 64);
        snprintf(s->ids[s->count++], CONSTRA_ID_SIZE, "%s", e->id);
    }
    return 0;
}

static void faults_lose_nothing(int sqlite)
{
    int injected_runs = 0;
    for (long n = 1; n < 400; n++) {
        constra_storage s;
        if (sqlite) {
            open_sqlite(":memory:", &s);
        }
        wenv *v = open_env_with(CONSTRA_MODE_SANDBOX, sqlite ? &s : NULL, 1);
        char ep[64];
        add_endpoint(v->h, "http://hooks.test/f", NULL, "*", ep, NULL);
        int64_t t = clock_ms;
        v->faults.calls = 0;
        v->faults.fail_at = n;
        /* Transitions and ticks with one storage call failing. */
        (void)pay(v->h, "k1", NULL);
        (void)constra_tick(v->h, t, T_ERR);
        (void)pay(v->h, "k2", NULL);
        (void)constra_tick(v->h, t, T_ERR);
        long failures = v->faults.failures;
        v->faults.fail_at = 0;
        /* Then healthy ticks, past any claim lease. */
        for (int k = 1; k <= 3; k++) {
            assert_int_equal(constra_tick(v->h, t + k * 180000, T_ERR), CONSTRA_OK);
        }
        evset log;
        memset(&log, 0, sizeof(log));
        assert_int_equal(v->faults.inner.events(v->faults.inner.user_data, NULL, 0, 1000,
                                                collect_events, &log), CONSTRA_OK);
        assert_true(log.count >= 3);
        /* Every committed event: delivered, under exactly one delivery id,
         * received at least once, always with that id. */
        constra_webhook_delivery_list *l = deliveries(v->h, NULL);
        assert_int_equal(constra_webhook_delivery_list_count(l), log.count);
        for (size_t i = 0; i < log.count; i++) {
            size_t found = 0, at = 0;
            for (size_t k = 0; k < constra_webhook_delivery_list_count(l); k++) {
                if (strcmp(constra_webhook_delivery_event_id(l, k), log.ids[i]) == 0) {
                    found++;
                    at = k;
                }
            }
            assert_int_equal(found, 1);
            assert_string_equal(constra_webhook_delivery_state(l, at), "delivered");
            size_t got = 0;
            for (size_t r = 0; r < v->rx.count; r++) {
                if (strcmp(header(&v->rx.req[r], "Constra-Event-Id"), log.ids[i]) == 0) {
                    got++;
                    assert_string_equal(header(&v->rx.req[r], "Constra-Delivery-Id"),
                                        constra_webhook_delivery_id(l, at));
                }
            }
            assert_true(got >= 1);
        }
        constra_webhook_delivery_list_free(l);
        close_env(v);
        if (failures == 0) {
            break; /* n is past the last storage call of the scenario */
        }
        injected_runs++;
    }
    assert_true(injected_runs > 20);
}

static void test_faults_lose_nothing(void **state)
{
    (void)state;
    faults_lose_nothing(0);
}

#if CONSTRA_HAVE_SQLITE
static void test_faults_lose_nothing_sqlite(void **state)
{
    (void)state;
    faults_lose_nothing(1);
}
#endif

/* Out of memory at every allocation of a tick: no crash, no leak (ASan),
 * and a healthy tick afterwards delivers each event under one id. */
static void test_allocation_failures(void **state)
{
    (void)state;
    counting_alloc ca;
    int injected = 0;
    for (long n = 1; n < 2000; n++) {
        memset(&ca, 0, sizeof(ca));
        handle_alloc = &ca;
        wenv *v = open_env(CONSTRA_MODE_SANDBOX);
        handle_alloc = NULL;
        char ep[64];
        add_endpoint(v->h, "http://hooks.test/m", NULL, "*", ep, NULL);
        assert_int_equal(pay(v->h, "k1", NULL), CONSTRA_OK);
        int64_t t = clock_ms;
        ca.fail_at = ca.attempts + n;
        int rc = constra_webhooks_tick(v->h, t, T_ERR);
        int hit = ca.attempts >= ca.fail_at;
        ca.fail_at = 0;
        if (hit) {
            assert_int_not_equal(rc, CONSTRA_E_GENERIC); /* a defined status */
        } else {
            assert_int_equal(rc, CONSTRA_OK);
        }
        for (int k = 1; k <= 2; k++) {
            assert_int_equal(constra_webhooks_tick(v->h, t + k * 180000, T_ERR), CONSTRA_OK);
        }
        constra_webhook_delivery_list *l = deliveries(v->h, NULL);
        size_t count = constra_webhook_delivery_list_count(l);
        assert_true(count >= 3);
        for (size_t i = 0; i < count; i++) {
            assert_string_equal(constra_webhook_delivery_state(l, i), "delivered");
            for (size_t k = 0; k < i; k++) {
                assert_string_not_equal(constra_webhook_delivery_event_id(l, i),
                                        constra_webhook_delivery_event_id(l, k));
            }
        }
        constra_webhook_delivery_list_free(l);
        close_env(v);
        assert_int_equal(ca.live, 0);
        if (!hit) {
            break;
        }
        injected++;
    }
    assert_true(injected > 10);
}

/* Ticks on several threads at once: each delivery is claimed by one of
 * them, so each event arrives once. */
typedef struct ticker {
    constra_t *h;
    int64_t now;
    pthread_barrier_t *go;
    int rc;
} ticker;

static void *tick_thread(void *arg)
{
    ticker *t = arg;
    pthread_barrier_wait(t->go);
    t->rc = constra_webhooks_tick(t->h, t->now, T_ERR);
    return NULL;
}

static void test_concurrent_ticks(void **state)
{
    (void)state;
    wenv *v = open_env(CONSTRA_MODE_SANDBOX);
    char ep[64];
    add_endpoint(v->h, "http://hooks.test/c", NULL, "*", ep, NULL);
    for (int i = 0; i < 8; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(pay(v->h, key, NULL), CONSTRA_OK);
    }
    v->rx.delay_us = 2000;
    enum { THREADS = 4 };
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, THREADS);
    pthread_t th[THREADS];
    ticker tk[THREADS];
    for (int i = 0; i < THREADS; i++) {
        tk[i] = (ticker){v->h, clock_ms, &go, -99};
        pthread_create(&th[i], NULL, tick_thread, &tk[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(tk[i].rc, CONSTRA_OK);
    }
    pthread_barrier_destroy(&go);
    size_t n = count_state(v->h, "delivered");
    assert_true(n >= 24);
    assert_int_equal(count_state(v->h, NULL), n);
    assert_int_equal(v->rx.count, n); /* none twice */
    for (size_t i = 0; i < v->rx.count; i++) {
        for (size_t k = 0; k < i; k++) {
            assert_string_not_equal(header(&v->rx.req[i], "Constra-Delivery-Id"),
                                    header(&v->rx.req[k], "Constra-Delivery-Id"));
        }
    }
    close_env(v);
}

/* ---- SSRF ------------------------------------------------------------------ */

typedef struct url_case {
    const char *url;
    int live;
    const char *code; /* NULL = allowed */
} url_case;

static void test_ssrf_rules(void **state)
{
    (void)state;
    dns_table = "public.example=93.184.216.34 2606:2800:220:1::1;"
                "mixed.example=93.184.216.34 10.0.0.7;"
                "mixed6.example=93.184.216.34 fe80::1;"
                "meta.example=169.254.169.254;"
                "aws6.example=fd00:ec2::254;"
                "cgnat.example=100.64.1.1;"
                "mapped.example=::ffff:127.0.0.1;"
                "garbage.example=not-an-address;"
                "empty.example=";
    static const url_case cases[] = {
        {"https://public.example/hook", 1, NULL},
        {"https://PUBLIC.example:8443/hook?x=1", 1, NULL},
        {"https://93.184.216.34/h", 1, NULL},
        {"https://[2606:2800:220:1::1]/h", 1, NULL},
        /* every address class, as literals */
        {"https://10.1.2.3/", 1, "url_forbidden"},
        {"https://172.16.0.1/", 1, "url_forbidden"},
        {"https://172.31.255.255/", 1, "url_forbidden"},
        {"https://172.32.0.1/", 1, NULL},
        {"https://192.168.1.1/", 1, "url_forbidden"},
        {"https://127.0.0.1/", 1, "url_forbidden"},
        {"https://127.1.2.3/", 1, "url_forbidden"},
        {"https://169.254.10.10/", 1, "url_forbidden"},
        {"https://169.254.169.254/latest/meta-data", 1, "url_forbidden"},
        {"https://0.0.0.0/", 1, "url_forbidden"},
        {"https://100.64.0.1/", 1, "url_forbidden"},
        {"https://100.127.255.255/", 1, "url_forbidden"},
        {"https://100.128.0.1/", 1, NULL},
        {"https://224.0.0.1/", 1, "url_forbidden"},
        {"https://255.255.255.255/", 1, "url_forbidden"},
        {"https://[::1]/", 1, "url_forbidden"},
        {"https://[::]/", 1, "url_forbidden"},
        {"https://[fc00::1]/", 1, "url_forbidden"},
        {"https://[fd12:3456::1]/", 1, "url_forbidden"},
        {"https://[fe80::1]/", 1, "url_forbidden"},
        {"https://[fd00:ec2::254]/", 1, "url_forbidden"},
        {"https://[ff02::1]/", 1, "url_forbidden"},
        /* encodings of 127.0.0.1 and friends */
        {"https://2130706433/", 1, "url_forbidden"},
        {"https://0177.0.0.1/", 1, "url_forbidden"},
        {"https://0x7f.0.0.1/", 1, "url_forbidden"},
        {"https://0x7f000001/", 1, "url_forbidden"},
        {"https://127.1/", 1, "url_forbidden"},
        {"https://127.0.0.1./", 1, "url_forbidden"},
        {"https://017700000001/", 1, "url_forbidden"},
        {"https://0xa9.0xfe.0xa9.0xfe/", 1, "url_forbidden"},
        {"https://[::ffff:127.0.0.1]/", 1, "url_forbidden"},
        {"https://[::ffff:7f00:1]/", 1, "url_forbidden"},
        {"https://[::ffff:10.0.0.1]/", 1, "url_forbidden"},
        {"https://[::127.0.0.1]/", 1, "url_forbidden"},
        {"https://[64:ff9b::a9fe:a9fe]/", 1, "url_forbidden"},
        {"https://[2002:7f00:1::]/", 1, "url_forbidden"},
        {"https://[::ffff:93.184.216.34]/", 1, NULL},
        {"https://1.2.3.256/", 1, "url_invalid"},   /* numeric but not an address */
        {"https://08.1.1.1/", 1, "url_invalid"},
        {"https://[fe80::1%25eth0]/", 1, "url_invalid"},
        /* names */
        {"https://localhost/", 1, "url_forbidden"},
        {"https://api.localhost/", 1, "url_forbidden"},
        {"https://mixed.example/", 1, "url_forbidden"},  /* ANY address bad */
        {"https://mixed6.example/", 1, "url_forbidden"},
        {"https://meta.example/", 1, "url_forbidden"},
        {"https://aws6.example/", 1, "url_forbidden"},
        {"https://cgnat.example/", 1, "url_forbidden"},
        {"https://mapped.example/", 1, "url_forbidden"},
        {"https://garbage.example/", 1, "url_forbidden"},
        {"https://empty.example/", 1, "url_forbidden"},
        {"https://nxdomain.example/", 1, "url_forbidden"},
        /* live needs https; every mode needs http(s), a host, no user@ */
        {"http://public.example/", 1, "url_forbidden"},
        {"http://public.example/", 0, NULL},
        {"http://127.0.0.1:8080/hook", 0, NULL},
        {"https://10.0.0.1/", 0, NULL},
        {"http://localhost/", 0, NULL},
        {"ftp://public.example/", 0, "url_invalid"},
        {"file:///etc/passwd", 0, "url_invalid"},
        {"gopher://public.example/", 1, "url_invalid"},
        {"https://user:pw@public.example/", 1, "url_invalid"},
        {"https://public.example@127.0.0.1/", 0, "url_invalid"},
        {"https:///nohost", 0, "url_invalid"},
        {"https://", 0, "url_invalid"},
        {"https://pub lic.example/", 0, "url_invalid"},
        {"https://public.example\\@evil/", 0, "url_invalid"},
        {"https://127%2e0%2e0%2e1/", 1, "url_invalid"},
        {"https://public.example:0/", 0, "url_invalid"},
        {"https://public.example:99999/", 0, "url_invalid"},
        {"https://public.example:8x/", 0, "url_invalid"},
        {"https://[::1/", 0, "url_invalid"},
        {"", 0, "parameter_invalid_empty"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        constra_error err = CONSTRA_ERROR_INIT;
        int rc = constra__webhook_url_check(cases[i].url, cases[i].live, fake_resolve, NULL, "url",
                                            &err);
        if (cases[i].code == NULL) {
            if (rc != CONSTRA_OK) {
                fail_msg("case %zu %s: refused (%s: %s)", i, cases[i].url, err.code, err.message);
            }
        } else if (rc != CONSTRA_E_INVALID_ARGUMENT || strcmp(err.code, cases[i].code) != 0) {
            fail_msg("case %zu %s: rc %d code %s, want %s", i, cases[i].url, rc, err.code,
                     cases[i].code);
        }
    }
    assert_int_equal(constra__webhook_url_check(NULL, 1, fake_resolve, NULL, "url", NULL),
                     CONSTRA_E_INVALID_ARGUMENT);
    uint8_t a[4];
    assert_int_equal(constra__ipv4_literal("2130706433", a), 1);
    assert_int_equal(a[0], 127);
    assert_int_equal(a[3], 1);
    assert_int_equal(constra__ipv4_literal("1.2.3.4.5", a), 0);
    assert_int_equal(constra__ipv4_literal("4294967296", a), 0);
}

/* The guard's own IPv6 text parser (no inet_pton on bare metal) agrees
 * with glibc's inet_pton on accepted and refused forms. */
static void test_ipv6_parser_matches_inet_pton(void **state)
{
    (void)state;
    static const char *cases[] = {
        "::", "::1", "1::", "1::2", "2001:db8::8a2e:370:7334", "fe80::1", "::ffff:127.0.0.1",
        "::127.0.0.1", "64:ff9b::10.0.0.1", "2002:c0a8:101::", "1:2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1:2:3:4:5:6:1.2.3.4", "0:0:0:0:0:0:0:0",
        "FFFF:ffff::AbCd", "1:2:3:4:5:6:7:8:9", "1::2::3", ":1", "1:", ":::", "12345::",
        "1:2:3:4:5:6:7", "g::1", "::ffff:1.2.3", "::ffff:1.2.3.256", "::ffff:01.2.3.4",
        "1.2.3.4", "", "::1.2.3.4:5", "1:2:3:4:5:6:7:1.2.3.4", "::ffff:1.2.3.4.", "0::0:0",
        "1::2:3:4:5:6:7", "1::2:3:4:5:6:7:8",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t ours[16], ref[16];
        int a = constra__ipv6_text(cases[i], ours);
        int b = inet_pton(AF_INET6, cases[i], ref) == 1;
        if (a != b) {
            fail_msg("%s: ours %d, inet_pton %d", cases[i], a, b);
        }
        if (a) {
            assert_memory_equal(ours, ref, 16);
        }
    }
}

static void test_ssrf_at_registration_and_delivery(void **state)
{
    (void)state;
    dns_table = "hooks.example=93.184.216.34";
    wenv *v = open_env(CONSTRA_MODE_LIVE);
    constra_webhook_endpoint_params p = CONSTRA_WEBHOOK_ENDPOINT_PARAMS_INIT;
    const char *refused[] = {"https://127.0.0.1/h", "http://hooks.example/h",
                             "https://2130706433/h", "https://[::ffff:169.254.169.254]/"};
    for (size_t i = 0; i < 4; i++) {
        p.url = refused[i];
        assert_int_equal(constra_webhook_endpoint_add(v->h, &p, NULL, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
        assert_string_equal(last(v->h).code, "url_forbidden");
        assert_string_equal(last(v->h).param, "url");
    }
    constra_webhook_endpoint_list *el = NULL;
    assert_int_equal(constra_webhook_endpoint_list_get(v->h, &el, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_webhook_endpoint_list_count(el), 0);
    constra_webhook_endpoint_list_free(el);

    char ep[64];
    add_endpoint(v->h, "https://hooks.example/h", NULL, "payment_intent.created", ep, NULL);
    /* DNS now points at the metadata service: the send is refused. */
    dns_table = "hooks.example=169.254.169.254";
    constra_intent_params ip = CONSTRA_INTENT_PARAMS_INIT;
    ip.amount = 100;
    ip.currency = "KES";
    ip.provider = "mpesa";
    ip.phone_number = "254700000000";
    constra_intent *in = NULL;
    assert_int_equal(constra_intent_create(v->h, &ip, "k1", &in, T_ERR), CONSTRA_OK);
    constra_intent_free(in);
    int64_t t0 = clock_ms;
    tick_at(v, t0);
    assert_int_equal(v->rx.count, 0);
    constra_webhook_delivery_list *l = deliveries(v->h, "pending");
    assert_int_equal(constra_webhook_delivery_list_count(l), 1);
    assert_string_equal(constra_webhook_delivery_last_error(l, 0), "url_forbidden");
    assert_int_equal(constra_webhook_delivery_attempts(l, 0), 1);
    constra_webhook_delivery_list_free(l);
    /* Fixed again: the retry goes through. */
    dns_table = "hooks.example=93.184.216.34";
    tick_at(v, t0 + 60000);
    assert_int_equal(v->rx.count, 1);
    assert_int_equal(count_state(v->h, "delivered"), 1);
    close_env(v);
}

/* ---- endpoints: bad input, disable, remove -------------------------------- */

/* Case i of a bad-input table was refused as CONSTRA_E_INVALID_ARGUMENT
 * naming `param` (and `code`, when not NULL). */
static void expect_refused(constra_t *h, size_t i, int rc, const char *param, const char *code)
{
    constra_error e = last(h);
    if (rc != CONSTRA_E_INVALID_ARGUMENT || strcmp(e.param, param) != 0 ||
        (code && strcmp(e.code, code) != 0)) {
        fail_msg("case %zu: rc %d param %s code %s", i, rc, e.param, e.code);
    }
}

static void test_bad_endpoint_input(void **state)
{
    (void)state;
    wenv *v = open_env(CONSTRA_MODE_SANDBOX);
    constra_webhook_endpoint_params p = CONSTRA_WEBHOOK_ENDPOINT_PARAMS_INIT;
    constra_webhook_endpoint *out = (constra_webhook_endpoint *)&p; /* must be reset */
    assert_int_equal(constra_webhook_endpoint_add(NULL, &p, NULL, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_webhook_endpoint_add(v->h, NULL, &out, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    assert_null(out);
    assert_int_equal(constra_webhook_endpoint_add(v->h, &p, NULL, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(last(v->h).param, "url");
    constra_webhook_endpoint_params zero;
    memset(&zero, 0, sizeof(zero));
    assert_int_equal(constra_webhook_endpoint_add(v->h, &zero, NULL, T_ERR), CONSTRA_E_ABI);

    static char huge_url[3000], huge_secret[400], huge_types[2000];
    memcpy(huge_url, "https://a.example/", 18);
    memset(huge_url + 18, 'a', sizeof(huge_url) - 19);
    memset(huge_secret, 's', sizeof(huge_secret) - 1);
    memset(huge_types, 'x', sizeof(huge_types) - 1);
    struct {
        const char *url, *secret, *types, *param, *code;
    } bad[] = {
        {"ftp://hooks.test/", NULL, NULL, "url", "url_invalid"},
        {"hooks.test/x", NULL, NULL, "url", "url_invalid"},
        {"http://u@hooks.test/", NULL, NULL, "url", "url_invalid"},
        {"http://hooks.test/a b", NULL, NULL, "url", "url_invalid"},
        {huge_url, NULL, NULL, "url", NULL},
        {"http://hooks.test/", huge_secret, NULL, "secret", NULL},
        {"http://hooks.test/", "short", NULL, "secret", "secret_invalid"},
        {"http://hooks.test/", "sixteen chars with space", NULL, "secret", "secret_invalid"},
        {"http://hooks.test/", "tab\tinside-0123456789", NULL, "secret", "secret_invalid"},
        {"http://hooks.test/", NULL, "payment_intent.exploded", "event_types",
         "event_type_unknown"},
        {"http://hooks.test/", NULL, "payment_intent.created, payment_intent.failed",
         "event_types", "event_type_unknown"},
        {"http://hooks.test/", NULL, "payment_intent.created,", "event_types",
         "event_type_unknown"},
        {"http://hooks.test/", NULL, "", "event_types", NULL},
        {"http://hooks.test/", NULL, "**", "event_types", "event_type_unknown"},
        {"http://hooks.test/", NULL, huge_types, "event_types", NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        p.url = bad[i].url;
        p.secret = bad[i].secret;
        p.event_types = bad[i].types;
        int rc = constra_webhook_endpoint_add(v->h, &p, NULL, T_ERR);
        expect_refused(v->h, i, rc, bad[i].param, bad[i].code);
    }
    /* Nothing was stored. */
    constra_webhook_endpoint_list *el = NULL;
    assert_int_equal(constra_webhook_endpoint_list_get(v->h, &el, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_webhook_endpoint_list_count(el), 0);
    assert_null(constra_webhook_endpoint_list_at(el, 0));
    constra_webhook_endpoint_list_free(el);

    constra_webhook_endpoint *ep = NULL;
    assert_int_equal(constra_webhook_endpoint_get(v->h, "we_none", &ep, T_ERR), CONSTRA_E_NOT_FOUND);
    assert_null(ep);
    assert_int_equal(constra_webhook_endpoint_get(v->h, NULL, &ep, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_webhook_endpoint_get(NULL, "x", &ep, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_webhook_endpoint_remove(v->h, "we_none", T_ERR), CONSTRA_E_NOT_FOUND);
    assert_int_equal(constra_webhook_endpoint_remove(v->h, NULL, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_webhook_endpoint_set_enabled(v->h, "we_none", 0, T_ERR),
                     CONSTRA_E_NOT_FOUND);
    char id[64];
    add_endpoint(v->h, "http://hooks.test/", NULL, NULL, id, NULL);
    assert_int_equal(constra_webhook_endpoint_set_enabled(v->h, id, 2, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    constra_webhook_delivery_list *l = NULL;
    assert_int_equal(constra_webhook_delivery_list_get(v->h, NULL, "sent", NULL, 0, &l, T_ERR),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_webhook_delivery_list_get(v->h, NULL, NULL, NULL, 5000, &l, T_ERR),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_webhook_delivery_list_get(v->h, NULL, NULL, NULL, 0, NULL, T_ERR),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_webhook_delivery_replay(v->h, NULL, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_webhooks_tick(v->h, -1, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_webhooks_tick(NULL, 0, T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    /* NULL-safe accessors. */
    assert_string_equal(constra_webhook_endpoint_id(NULL), "");
    assert_string_equal(constra_webhook_delivery_id(NULL, 0), "");
    assert_int_equal(constra_webhook_delivery_list_count(NULL), 0);
    constra_webhook_endpoint_free(NULL);
    constra_webhook_delivery_list_free(NULL);
    constra_webhook_endpoint_list_free(NULL);
    assert_int_equal(constra_webhook_endpoint_params_init(&p, 3), CONSTRA_E_ABI);
    assert_int_equal(constra_webhook_endpoint_params_init(NULL, sizeof(p)),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_webhook_endpoint_params_init(&p, sizeof(p)), CONSTRA_OK);
    close_env(v);
}

static void test_disable_enable_remove(void **state)
{
    (void)state;
    wenv *v = open_env(CONSTRA_MODE_SANDBOX);
    char ep[64];
    add_endpoint(v->h, "http://hooks.test/d", "given-secret-0123456789", "payment_intent.created",
                 ep, NULL);
    constra_webhook_endpoint *got = NULL;
    assert_int_equal(constra_webhook_endpoint_get(v->h, ep, &got, T_ERR), CONSTRA_OK);
    assert_string_equal(constra_webhook_endpoint_url(got), "http://hooks.test/d");
    assert_string_equal(constra_webhook_endpoint_secret(got), "given-secret-0123456789");
    assert_string_equal(constra_webhook_endpoint_event_types(got), "payment_intent.created");
    assert_int_equal(constra_webhook_endpoint_created_at_ms(got), clock_ms);
    constra_webhook_endpoint_free(got);

    /* Queued while enabled, then disabled: it waits. Events while
     * disabled are skipped for it. */
    assert_int_equal(pay(v->h, "k1", NULL), CONSTRA_OK);
    assert_int_equal(constra_webhooks_tick(v->h, clock_ms, T_ERR), CONSTRA_OK); /* queued + sent */
    assert_int_equal(v->rx.count, 1);
    assert_int_equal(constra_webhook_endpoint_set_enabled(v->h, ep, 0, T_ERR), CONSTRA_OK);
    assert_int_equal(pay(v->h, "k2", NULL), CONSTRA_OK);
    assert_int_equal(constra_tick(v->h, clock_ms, T_ERR), CONSTRA_OK);
    assert_int_equal(v->rx.count, 1);
    assert_int_equal(constra_webhook_endpoint_set_enabled(v->h, ep, 1, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_tick(v->h, clock_ms, T_ERR), CONSTRA_OK);
    assert_int_equal(v->rx.count, 1); /* k2's event was skipped */
    assert_int_equal(pay(v->h, "k3", NULL), CONSTRA_OK);
    assert_int_equal(constra_tick(v->h, clock_ms, T_ERR), CONSTRA_OK);
    assert_int_equal(v->rx.count, 2);

    /* A new endpoint starts after the events already stored. */
    char ep2[64];
    add_endpoint(v->h, "http://hooks.test/new", NULL, "*", ep2, NULL);
    assert_int_equal(constra_tick(v->h, clock_ms, T_ERR), CONSTRA_OK);
    assert_int_equal(v->rx.count, 2);

    /* Removal takes the endpoint's deliveries along. */
    v->rx.otherwise = 500;
    assert_int_equal(pay(v->h, "k4", NULL), CONSTRA_OK);
    assert_int_equal(constra_tick(v->h, clock_ms, T_ERR), CONSTRA_OK);
    assert_true(count_state(v->h, "pending") >= 2);
    assert_int_equal(constra_webhook_endpoint_remove(v->h, ep2, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_webhook_endpoint_remove(v->h, ep2, T_ERR), CONSTRA_E_NOT_FOUND);
    constra_webhook_delivery_list *l = NULL;
    assert_int_equal(constra_webhook_delivery_list_get(v->h, ep2, NULL, NULL, 0, &l, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_webhook_delivery_list_count(l), 0);
    constra_webhook_delivery_list_free(l);
    constra_webhook_endpoint_list *el = NULL;
    assert_int_equal(constra_webhook_endpoint_list_get(v->h, &el, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_webhook_endpoint_list_count(el), 1);
    assert_string_equal(constra_webhook_endpoint_id(constra_webhook_endpoint_list_at(el, 0)), ep);
    constra_webhook_endpoint_list_free(el);
    close_env(v);
}

/* ---- secret rotation and test events -------------------------------------- */

static int verify_scheme(const received *q, const char *secret, int scheme, int64_t now_s)
{
    constra_webhook_params wp = CONSTRA_WEBHOOK_PARAMS_INIT;
    wp.secret = secret;
    wp.body = (const uint8_t *)q->body;
    wp.body_len = q->body_len;
    wp.now = now_s;
    wp.scheme = scheme;
    if (scheme == CONSTRA_WEBHOOK_T_V1) {
        wp.signature = header(q, "Constra-Signature");
    } else if (scheme == CONSTRA_WEBHOOK_BODY_HEX) {
        wp.signature = header(q, "Constra-Signature-Body");
    } else {
        wp.signature = header(q, "webhook-signature");
        wp.msg_id = header(q, "webhook-id");
        wp.timestamp_header = header(q, "webhook-timestamp");
    }
    return wp.signature ? constra_webhook_verify(&wp, NULL, NULL) : -1;
}

static int count_v1(const char *sig)
{
    int n = 0;
    for (const char *p = sig; p && (p = strstr(p, "v1=")) != NULL; p += 3) {
        n++;
    }
    return n;
}

static void rotate(constra_t *h, const char *ep, int64_t overlap_ms, char *secret_out)
{
    constra_webhook_endpoint *got = NULL;
    if (constra_webhook_endpoint_rotate_secret(h, ep, overlap_ms, &got, T_ERR) != CONSTRA_OK) {
        fail_msg("rotate: %s", last(h).message);
    }
    assert_string_equal(constra_webhook_endpoint_id(got), ep);
    strcpy(secret_out, constra_webhook_endpoint_secret(got));
    assert_true(strncmp(secret_out, "whsec_", 6) == 0);
    constra_webhook_endpoint_free(got);
}

/* Every request from `from` on verifies with `yes` (all three schemes, or
 * t_v1 and Standard Webhooks only when body_hex is 0) and never with `no`. */
static void all_verify(const receiver *rx, size_t from, const char *yes, int body_hex,
                       const char *no)
{
    assert_true(rx->count > from);
    int64_t now_s = clock_ms / 1000;
    for (size_t i = from; i < rx->count; i++) {
        const received *q = &rx->req[i];
        assert_int_equal(verify_scheme(q, yes, CONSTRA_WEBHOOK_T_V1, now_s), CONSTRA_OK);
        assert_int_equal(verify_scheme(q, yes, CONSTRA_WEBHOOK_STANDARD, now_s), CONSTRA_OK);
        assert_int_equal(verify_scheme(q, yes, CONSTRA_WEBHOOK_BODY_HEX, now_s),
                         body_hex ? CONSTRA_OK : CONSTRA_E_SIGNATURE);
        if (no != NULL) {
            assert_int_equal(verify_scheme(q, no, CONSTRA_WEBHOOK_T_V1, now_s),
                             CONSTRA_E_SIGNATURE);
            assert_int_equal(verify_scheme(q, no, CONSTRA_WEBHOOK_STANDARD, now_s),
                             CONSTRA_E_SIGNATURE);
            assert_int_equal(verify_scheme(q, no, CONSTRA_WEBHOOK_BODY_HEX, now_s),
                             CONSTRA_E_SIGNATURE);
        }
    }
}

static void rotation_and_test_events(const constra_storage *storage, const char *reopen_path)
{
    wenv *v = open_env_with(CONSTRA_MODE_SANDBOX, storage, 1);
    char ep[64], other[64], s0[300], s1[300], s2[300];
    add_endpoint(v->h, "http://hooks.test/rot", NULL, "*", ep, s0);
    add_endpoint(v->h, "http://hooks.test/other", NULL, "*", other, NULL);

    /* Before: one secret. */
    assert_int_equal(pay(v->h, "r0", NULL), CONSTRA_OK);
    size_t from = v->rx.count;
    assert_int_equal(constra_tick(v->h, clock_ms, T_ERR), CONSTRA_OK);
    assert_true(v->rx.count > from);
    assert_int_equal(verify_scheme(&v->rx.req[from], s0, CONSTRA_WEBHOOK_T_V1, clock_ms / 1000),
                     CONSTRA_OK);

    /* Rotated with a 10-minute overlap: new and old both verify (the
     * body-hex value is the new secret's only), also after a disable and
     * enable (which rewrite the endpoint) and, on a file, a restart. */
    rotate(v->h, ep, 600000, s1);
    assert_string_not_equal(s0, s1);
    constra_webhook_endpoint *got = NULL;
    assert_int_equal(constra_webhook_endpoint_get(v->h, ep, &got, T_ERR), CONSTRA_OK);
    assert_string_equal(constra_webhook_endpoint_secret(got), s1);
    constra_webhook_endpoint_free(got);
    assert_int_equal(constra_webhook_endpoint_set_enabled(v->h, ep, 0, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_webhook_endpoint_set_enabled(v->h, ep, 1, T_ERR), CONSTRA_OK);
    if (reopen_path != NULL) {
        close_env(v);
        constra_storage again;
        open_sqlite(reopen_path, &again);
        v = open_env_with(CONSTRA_MODE_SANDBOX, &again, 1);
    }
    assert_int_equal(constra_webhook_endpoint_set_enabled(v->h, other, 0, T_ERR), CONSTRA_OK);
    assert_int_equal(pay(v->h, "r1", NULL), CONSTRA_OK);
    from = v->rx.count;
    assert_int_equal(constra_tick(v->h, clock_ms, T_ERR), CONSTRA_OK);
    all_verify(&v->rx, from, s1, 1, NULL);
    all_verify(&v->rx, from, s0, 0, NULL);
    assert_int_equal(count_v1(header(&v->rx.req[from], "Constra-Signature")), 2);

    /* A second rotation inside the overlap drops the oldest secret. */
    rotate(v->h, ep, 0, s2);
    assert_int_equal(pay(v->h, "r2", NULL), CONSTRA_OK);
    from = v->rx.count;
    assert_int_equal(constra_tick(v->h, clock_ms, T_ERR), CONSTRA_OK);
    all_verify(&v->rx, from, s2, 1, s0);
    all_verify(&v->rx, from, s1, 0, NULL);

    /* After the overlap (24 h by default) only the newest signs. */
    clock_ms += INT64_C(86400000) + 1000;
    assert_int_equal(pay(v->h, "r3", NULL), CONSTRA_OK);
    from = v->rx.count;
    assert_int_equal(constra_tick(v->h, clock_ms, T_ERR), CONSTRA_OK);
    all_verify(&v->rx, from, s2, 1, s1);
    assert_int_equal(count_v1(header(&v->rx.req[from], "Constra-Signature")), 1);

    /* Bad rotations change nothing. */
    constra_webhook_endpoint *none = NULL;
    assert_int_equal(constra_webhook_endpoint_rotate_secret(v->h, ep, -1, &none, T_ERR),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(last(v->h).param, "overlap_ms");
    assert_int_equal(constra_webhook_endpoint_rotate_secret(
                         v->h, ep, CONSTRA_WEBHOOK_ROTATION_OVERLAP_MAX_MS + 1, &none, T_ERR),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_webhook_endpoint_rotate_secret(v->h, "we_nope", 0, &none, T_ERR),
                     CONSTRA_E_NOT_FOUND);
    assert_int_equal(constra_webhook_endpoint_rotate_secret(v->h, NULL, 0, &none, T_ERR),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_null(none);
    assert_int_equal(constra_webhook_endpoint_rotate_secret(NULL, ep, 0, &none, T_ERR),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_webhook_endpoint_get(v->h, ep, &got, T_ERR), CONSTRA_OK);
    assert_string_equal(constra_webhook_endpoint_secret(got), s2);
    constra_webhook_endpoint_free(got);
    /* A storage failure while rotating keeps the secret as it was. */
    v->faults.fail_at = v->faults.calls + 2;
    assert_int_not_equal(constra_webhook_endpoint_rotate_secret(v->h, ep, 0, &none, T_ERR),
                         CONSTRA_OK);
    v->faults.fail_at = 0;
    assert_int_equal(constra_webhook_endpoint_get(v->h, ep, &got, T_ERR), CONSTRA_OK);
    assert_string_equal(constra_webhook_endpoint_secret(got), s2);
    constra_webhook_endpoint_free(got);

    /* A test event: to this endpoint only, whatever the filters, signed,
     * listed as webhook.test; twice is two deliveries. */
    assert_int_equal(constra_webhook_endpoint_set_enabled(v->h, other, 1, T_ERR), CONSTRA_OK);
    char d1[CONSTRA_ID_SIZE], d2[CONSTRA_ID_SIZE];
    assert_int_equal(constra_webhook_endpoint_send_test(v->h, ep, d1, sizeof(d1), T_ERR),
                     CONSTRA_OK);
    assert_int_equal(constra_webhook_endpoint_send_test(v->h, ep, d2, sizeof(d2), T_ERR),
                     CONSTRA_OK);
    assert_true(strncmp(d1, "whd_", 4) == 0);
    assert_string_not_equal(d1, d2);
    from = v->rx.count;
    assert_int_equal(constra_tick(v->h, clock_ms, T_ERR), CONSTRA_OK);
    assert_int_equal(v->rx.count, from + 2);
    for (size_t i = from; i < v->rx.count; i++) {
        const received *q = &v->rx.req[i];
        assert_string_equal(q->url, "http://hooks.test/rot");
        assert_string_equal(header(q, "Constra-Event-Type"), "webhook.test");
        assert_non_null(strstr(q->body, "\"type\":\"webhook.test\""));
        assert_non_null(strstr(q->body, ep));
        assert_string_equal(header(q, "Constra-Delivery-Id"), i == from ? d1 : d2);
    }
    all_verify(&v->rx, from, s2, 1, s1);
    constra_webhook_delivery_list *l = NULL;
    assert_int_equal(constra_webhook_delivery_list_get(v->h, ep, "delivered", NULL, 1000, &l,
                                                       T_ERR), CONSTRA_OK);
    size_t tests = 0;
    for (size_t i = 0; i < constra_webhook_delivery_list_count(l); i++) {
        tests += strcmp(constra_webhook_delivery_event_type(l, i), "webhook.test") == 0;
    }
    assert_int_equal(tests, 2);
    constra_webhook_delivery_list_free(l);
    /* The test events are not in the event log: a later tick sends the
     * other endpoint nothing for them. */
    from = v->rx.count;
    assert_int_equal(constra_tick(v->h, clock_ms, T_ERR), CONSTRA_OK);
    assert_int_equal(v->rx.count, from);
    /* To a disabled endpoint: queued, sent once it is enabled. */
    assert_int_equal(constra_webhook_endpoint_set_enabled(v->h, ep, 0, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_webhook_endpoint_send_test(v->h, ep, NULL, 0, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_tick(v->h, clock_ms, T_ERR), CONSTRA_OK);
    assert_int_equal(v->rx.count, from);
    assert_int_equal(constra_webhook_endpoint_set_enabled(v->h, ep, 1, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_tick(v->h, clock_ms, T_ERR), CONSTRA_OK);
    assert_int_equal(v->rx.count, from + 1);
    /* Errors. */
    char small[4];
    assert_int_equal(constra_webhook_endpoint_send_test(v->h, "we_nope", NULL, 0, T_ERR),
                     CONSTRA_E_NOT_FOUND);
    assert_int_equal(constra_webhook_endpoint_send_test(v->h, ep, small, sizeof(small), T_ERR),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_webhook_endpoint_send_test(NULL, ep, NULL, 0, T_ERR),
                     CONSTRA_E_INVALID_ARGUMENT);
    close_env(v);
}

static void test_rotation_and_test_events(void **state)
{
    (void)state;
    rotation_and_test_events(NULL, NULL);
}

#if CONSTRA_HAVE_SQLITE
/* Runs body(storage, path) on a SQLite file in a fresh directory, which
 * it removes afterwards; body may close and reopen the file. */
static void on_temp_sqlite(void (*body)(const constra_storage *, const char *))
{
    char dir[] = "/tmp/constra_wh_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/db.sqlite", dir);
    constra_storage s;
    open_sqlite(path, &s);
    body(&s, path);
    remove_db(dir, path);
}

static void test_rotation_and_test_events_sqlite(void **state)
{
    (void)state;
    on_temp_sqlite(rotation_and_test_events);
}
#endif


/* ---- endpoint health: 410, and failing for too long ----------------------- */

static int endpoint_enabled(constra_t *h, const char *id)
{
    constra_webhook_endpoint *got = NULL;
    assert_int_equal(constra_webhook_endpoint_get(h, id, &got, T_ERR), CONSTRA_OK);
    int on = constra_webhook_endpoint_enabled(got);
    constra_webhook_endpoint_free(got);
    return on;
}

static void test_endpoint_health(void **state)
{
    (void)state;
    /* 410 Gone: failed at once (no retry), the endpoint disabled; the
     * rest of its queue waits; enabled again, the failed one replays. */
    wenv *v = open_env(CONSTRA_MODE_SANDBOX);
    char ep[64];
    add_endpoint(v->h, "http://hooks.test/gone", NULL, "*", ep, NULL);
    v->rx.script[0] = 410;
    v->rx.script_len = 1;
    assert_int_equal(pay(v->h, "h1", NULL), CONSTRA_OK);
    assert_int_equal(constra_tick(v->h, clock_ms, T_ERR), CONSTRA_OK);
    assert_int_equal(v->rx.count, 1);
    assert_int_equal(endpoint_enabled(v->h, ep), 0);
    constra_webhook_delivery_list *l = deliveries(v->h, "failed");
    assert_int_equal(constra_webhook_delivery_list_count(l), 1);
    assert_int_equal(constra_webhook_delivery_attempts(l, 0), 1);
    assert_int_equal(constra_webhook_delivery_last_status(l, 0), 410);
    assert_string_equal(constra_webhook_delivery_last_error(l, 0), "http_410");
    char failed_id[CONSTRA_ID_SIZE];
    strcpy(failed_id, constra_webhook_delivery_id(l, 0));
    constra_webhook_delivery_list_free(l);
    size_t waiting = count_state(v->h, "pending");
    assert_true(waiting >= 2);
    assert_int_equal(constra_tick(v->h, clock_ms + 3600000, T_ERR), CONSTRA_OK);
    assert_int_equal(v->rx.count, 1);
    assert_int_equal(constra_webhook_endpoint_set_enabled(v->h, ep, 1, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_webhook_delivery_replay(v->h, failed_id, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_tick(v->h, clock_ms + 3600000, T_ERR), CONSTRA_OK);
    assert_int_equal(v->rx.count, 1 + 1 + waiting);
    assert_int_equal(count_state(v->h, "delivered"), 1 + waiting);
    close_env(v);

    /* Failing every delivery: disabled when one fails for good after the
     * window (here 1 day, retries span 26.6 h); not before. */
    disable_after_ms = INT64_C(86400000);
    int64_t t0 = clock_ms;
    v = open_env(CONSTRA_MODE_SANDBOX);
    add_endpoint(v->h, "http://hooks.test/dead", NULL, "payment_intent.created", ep, NULL);
    v->rx.otherwise = 503;
    assert_int_equal(pay(v->h, "h2", NULL), CONSTRA_OK);
    static const int64_t after_ms[] = {0, 60000, 300000, 1800000, 7200000, 86400000};
    int64_t t = t0;
    for (size_t i = 0; i < 6; i++) {
        t += after_ms[i];
        tick_at(v, t);
        assert_int_equal(endpoint_enabled(v->h, ep), i < 5);
    }
    assert_int_equal(count_state(v->h, "failed"), 1);
    close_env(v);

    /* A success inside the window (2 days) keeps it enabled. */
    disable_after_ms = INT64_C(86400000) * 2;
    clock_ms = t0;
    v = open_env(CONSTRA_MODE_SANDBOX);
    add_endpoint(v->h, "http://hooks.test/flaky", NULL, "payment_intent.created", ep, NULL);
    clock_ms = t0 + INT64_C(86400000) * 3; /* the endpoint is old enough */
    assert_int_equal(pay(v->h, "h3", NULL), CONSTRA_OK);
    tick_at(v, clock_ms);                 /* delivered */
    v->rx.otherwise = 500;
    assert_int_equal(pay(v->h, "h4", NULL), CONSTRA_OK);
    t = clock_ms;
    for (size_t i = 0; i < 6; i++) {
        t += after_ms[i];
        tick_at(v, t);
    }
    assert_int_equal(count_state(v->h, "failed"), 1);
    assert_int_equal(endpoint_enabled(v->h, ep), 1);
    close_env(v);

    /* -1: never for failures. */
    disable_after_ms = -1;
    clock_ms = t0;
    v = open_env(CONSTRA_MODE_SANDBOX);
    add_endpoint(v->h, "http://hooks.test/never", NULL, "payment_intent.created", ep, NULL);
    v->rx.otherwise = 500;
    clock_ms = t0 + INT64_C(86400000) * 30;
    assert_int_equal(pay(v->h, "h5", NULL), CONSTRA_OK);
    t = clock_ms;
    for (size_t i = 0; i < 6; i++) {
        t += after_ms[i];
        tick_at(v, t);
    }
    assert_int_equal(count_state(v->h, "failed"), 1);
    assert_int_equal(endpoint_enabled(v->h, ep), 1);
    close_env(v);
    disable_after_ms = 0;
    clock_ms = t0;

    /* Out-of-range settings are refused at open. */
    static const int64_t bad[] = {-2, 1, INT64_C(3599999), INT64_C(7776000001)};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        constra_config cfg = CONSTRA_CONFIG_INIT;
        cfg.webhook_disable_after_ms = bad[i];
        constra_t *h = NULL;
        constra_error err = CONSTRA_ERROR_INIT;
        assert_int_equal(constra_open(&h, &cfg, &err), CONSTRA_E_INVALID_ARGUMENT);
        assert_string_equal(err.param, "config.webhook_disable_after_ms");
        assert_null(h);
    }
}

/* ---- description and signature scheme ------------------------------------ */

/* Adds an endpoint with a description and scheme; returns the status. */
static int add_described(constra_t *h, const char *secret, const char *description,
                         const char *scheme, char *id)
{
    constra_webhook_endpoint_params p = CONSTRA_WEBHOOK_ENDPOINT_PARAMS_INIT;
    p.url = "http://hooks.test/d";
    p.secret = secret;
    p.description = description;
    p.scheme = scheme;
    constra_webhook_endpoint *ep = NULL;
    int rc = constra_webhook_endpoint_add(h, &p, &ep, T_ERR);
    if (rc == CONSTRA_OK) {
        strcpy(id, constra_webhook_endpoint_id(ep));
        assert_string_equal(constra_webhook_endpoint_description(ep), description ? description : "");
        assert_string_equal(constra_webhook_endpoint_scheme(ep), scheme ? scheme : "all");
    } else {
        assert_null(ep);
    }
    constra_webhook_endpoint_free(ep);
    return rc;
}

static void description_and_scheme(const constra_storage *st, const char *path)
{
    wenv *v = open_env_with(CONSTRA_MODE_SANDBOX, st, 0);
    char id[64], id2[64], id3[64];
    static char long_desc[CONSTRA_WEBHOOK_DESCRIPTION_MAX + 2];
    memset(long_desc, 'd', sizeof(long_desc) - 1);
    struct {
        const char *secret, *description, *scheme, *param, *code;
    } bad[] = {
        {NULL, long_desc, NULL, "description", NULL},
        {NULL, "bell\a", NULL, "description", "parameter_invalid"},
        {NULL, "cut \xe2\x82", NULL, "description", "parameter_invalid"},
        {NULL, "del\x7f", NULL, "description", "parameter_invalid"},
        {NULL, NULL, "t_v1", "scheme", "webhook_scheme_unknown"},
        {NULL, NULL, "", "scheme", "webhook_scheme_unknown"},
        {NULL, NULL, "ALL", "scheme", "webhook_scheme_unknown"},
        {"plain-secret-0123456789", NULL, "standard_webhooks", "secret", "secret_invalid"},
        {"whsec_!!notbase64!!", NULL, "standard_webhooks", "secret", "secret_invalid"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = add_described(v->h, bad[i].secret, bad[i].description, bad[i].scheme, id);
        expect_refused(v->h, i, rc, bad[i].param, bad[i].code);
    }
    constra_webhook_endpoint_list *el = NULL;
    assert_int_equal(constra_webhook_endpoint_list_get(v->h, &el, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_webhook_endpoint_list_count(el), 0); /* nothing stored */
    constra_webhook_endpoint_list_free(el);

    const char *desc = "Till 4 \xe2\x80\x94 \"orders\" {json} \\ back office";
    assert_int_equal(add_described(v->h, NULL, desc, "standard_webhooks", id), CONSTRA_OK);
    assert_int_equal(add_described(v->h, "plain-secret-0123456789", "", "constra", id2),
                     CONSTRA_OK);
    /* A 0.1 caller's struct, which ends at event_types: the defaults. */
    struct {
        size_t struct_size;
        const char *url, *secret, *event_types;
    } old = {sizeof(old), "http://hooks.test/old", NULL, NULL};
    constra_webhook_endpoint *ep = NULL;
    assert_int_equal(constra_webhook_endpoint_add(v->h, (constra_webhook_endpoint_params *)&old,
                                                  &ep, T_ERR), CONSTRA_OK);
    strcpy(id3, constra_webhook_endpoint_id(ep));
    assert_string_equal(constra_webhook_endpoint_scheme(ep), "all");
    assert_string_equal(constra_webhook_endpoint_description(ep), "");
    constra_webhook_endpoint_free(ep);
    assert_string_equal(constra_webhook_endpoint_scheme(NULL), "all");
    assert_string_equal(constra_webhook_endpoint_description(NULL), "");
    /* They survive an update (disable, rotate) and, on a file, a restart. */
    assert_int_equal(constra_webhook_endpoint_set_enabled(v->h, id, 0, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_webhook_endpoint_rotate_secret(v->h, id, 0, NULL, T_ERR), CONSTRA_OK);
    if (path != NULL) {
        close_env(v);
        constra_storage again;
        open_sqlite(path, &again);
        v = open_env_with(CONSTRA_MODE_SANDBOX, &again, 0);
    }
    assert_int_equal(constra_webhook_endpoint_get(v->h, id, &ep, T_ERR), CONSTRA_OK);
    assert_string_equal(constra_webhook_endpoint_description(ep), desc);
    assert_string_equal(constra_webhook_endpoint_scheme(ep), "standard_webhooks");
    assert_int_equal(constra_webhook_endpoint_enabled(ep), 0);
    constra_webhook_endpoint_free(ep);
    assert_int_equal(constra_webhook_endpoint_get(v->h, id2, &ep, T_ERR), CONSTRA_OK);
    assert_string_equal(constra_webhook_endpoint_scheme(ep), "constra");
    assert_string_equal(constra_webhook_endpoint_description(ep), "");
    constra_webhook_endpoint_free(ep);
    close_env(v);
}

static void test_description_and_scheme(void **state)
{
    (void)state;
    description_and_scheme(NULL, NULL);
}

#if CONSTRA_HAVE_SQLITE
static void test_description_and_scheme_sqlite(void **state)
{
    (void)state;
    on_temp_sqlite(description_and_scheme);
}
#endif

/* ---- webhooks on a thread of their own ------------------------------------ */

static void test_webhooks_own_thread(void **state)
{
    (void)state;
    own_thread = 1;
    wenv *v = open_env(CONSTRA_MODE_SANDBOX);
    own_thread = 0;
    char ep[64];
    add_endpoint(v->h, "http://hooks.test/own", NULL, "*", ep, NULL);
    assert_int_equal(pay(v->h, "own-1", NULL), CONSTRA_OK);
    /* constra_tick leaves them alone: nothing queued, nothing sent. */
    assert_int_equal(constra_tick(v->h, clock_ms, T_ERR), CONSTRA_OK);
    assert_int_equal(v->rx.count, 0);
    assert_int_equal(count_state(v->h, "pending") + count_state(v->h, "delivered"), 0);
    /* The webhooks tick (the host's own thread) sends every event. */
    assert_int_equal(constra_webhooks_tick(v->h, clock_ms, T_ERR), CONSTRA_OK);
    assert_true(v->rx.count >= 3);
    assert_int_equal(count_state(v->h, "delivered"), (size_t)v->rx.count);
    close_env(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signed_deliveries_verified),
        cmocka_unit_test(test_retry_schedule_and_replay),
        cmocka_unit_test(test_500_then_200_and_3xx),
#if CONSTRA_HAVE_SQLITE
        cmocka_unit_test(test_survives_restart),
#endif
        cmocka_unit_test(test_faults_lose_nothing),
#if CONSTRA_HAVE_SQLITE
        cmocka_unit_test(test_faults_lose_nothing_sqlite),
#endif
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_concurrent_ticks),
        cmocka_unit_test(test_ssrf_rules),
        cmocka_unit_test(test_ipv6_parser_matches_inet_pton),
        cmocka_unit_test(test_ssrf_at_registration_and_delivery),
        cmocka_unit_test(test_bad_endpoint_input),
        cmocka_unit_test(test_disable_enable_remove),
        cmocka_unit_test(test_rotation_and_test_events),
        cmocka_unit_test(test_endpoint_health),
#if CONSTRA_HAVE_SQLITE
        cmocka_unit_test(test_rotation_and_test_events_sqlite),
        cmocka_unit_test(test_description_and_scheme_sqlite),
#endif
        cmocka_unit_test(test_description_and_scheme),
        cmocka_unit_test(test_webhooks_own_thread),
    };
    return cmocka_run_group_tests_name("webhooks", tests, NULL, NULL);
}
