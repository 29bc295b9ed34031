/* End to end over real HTTP, nothing in-process: the engine here uses the
 * Daraja rail over the curl transport against `constra serve
 * --emulate-daraja` run as a subprocess ($CONSTRA_CLI), whose emulator
 * sends the callback (its ticker, through curl) to a tiny HTTP server of
 * this test that hands it to the engine's REST router. OAuth, push,
 * callback, confirming query: every hop is a socket on 127.0.0.1. */
#define _GNU_SOURCE
#include "../unit/testutil.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "constra/daraja_emulator.h"
#include "constra/rail_daraja.h"
#include "constra/transport_curl.h"
#include "constra_config.h"
#include "../transport/http_server.h"
#include "../test_error.h"

#if CONSTRA_HAVE_CURL

#define KEY "serveE2eConsumerKey01"
#define SECRET "serveE2eConsumerSecret9z8y"
#define CB_TOKEN "cbTokenServeE2e_0123456789"

static pid_t serve_pid;
static char serve_url[64];
static char log_path[64];
static constra_t *handle;
static int callbacks;
static pthread_mutex_t cb_lock = PTHREAD_MUTEX_INITIALIZER;

/* Starts `constra serve` and reads its URL from the "listening" line. */
static void start_serve(void)
{
    const char *cli = getenv("CONSTRA_CLI");
    if (cli == NULL) {
        fail_msg("CONSTRA_CLI is not set to the constra binary");
    }
    snprintf(log_path, sizeof(log_path), "/tmp/constra-serve-e2e-%d.log", (int)getpid());
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    serve_pid = fork();
    assert_true(serve_pid >= 0);
    if (serve_pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(cli, cli, "serve", "--host", "127.0.0.1", "--port", "0", "--db", ":memory:",
              "--access-log", log_path, "--emulate-daraja", "--daraja-consumer-key", KEY,
              "--daraja-consumer-secret", SECRET, "--daraja-result-delay-ms", "800",
              (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *out = fdopen(fds[0], "r");
    assert_non_null(out);
    char line[512];
    serve_url[0] = '\0';
    while (fgets(line, sizeof(line), out)) {
        const char *p = strstr(line, "listening on http://");
        if (p) {
            snprintf(serve_url, sizeof(serve_url), "%s", p + strlen("listening on "));
            serve_url[strcspn(serve_url, "\r\n")] = '\0';
            break;
        }
    }
    fclose(out); /* later lines: the server's writes fail quietly (SIGPIPE ignored) */
    if (serve_url[0] == '\0') {
        fail_msg("constra serve did not start");
    }
}

static int stop_serve(void)
{
    int status = 0;
    if (serve_pid <= 0) {
        return -1;
    }
    kill(serve_pid, SIGTERM);
    waitpid(serve_pid, &status, 0);
    serve_pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* A failed assertion leaves the server running: stop it, or it would
 * hold the test's output pipe open. */
static int teardown(void **state)
{
    (void)state;
    if (serve_pid > 0) {
        stop_serve();
    }
    return 0;
}

/* Our CallBackURL: hands each request to the engine's REST router. */
static int on_callback(void *ctx, int fd, const test_http_request *req)
{
    (void)ctx;
    char ctype[128];
    test_http_header(req, "Content-Type", ctype, sizeof(ctype));
    constra_http_header h[] = {{"Content-Type", ctype}};
    constra_api_request r = CONSTRA_API_REQUEST_INIT;
    r.method = req->method;
    r.target = req->target;
    r.headers = h;
    r.header_count = ctype[0] ? 1 : 0;
    r.body = req->body;
    r.body_len = req->body_len;
    constra_api_response *resp = NULL;
    char head[128];
    int status = 500;
    size_t len = 0;
    const char *body = "";
    if (constra_api_handle(handle, &r, &resp, T_ERR) == CONSTRA_OK) {
        status = constra_api_response_status(resp);
        body = constra_api_response_body(resp, &len);
    }
    int k = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, len);
    test_http_write(fd, head, (size_t)k);
    test_http_write(fd, body, len);
    constra_api_response_free(resp);
    pthread_mutex_lock(&cb_lock);
    callbacks++;
    pthread_mutex_unlock(&cb_lock);
    return 0;
}

static int status_of(const char *id)
{
    constra_intent *in = NULL;
    assert_int_equal(constra_intent_get(handle, id, &in, T_ERR), CONSTRA_OK);
    int s = constra_intent_status(in);
    constra_intent_free(in);
    return s;
}

static int events_have(const char *id, const char *needle)
{
    constra_event_list *l = NULL;
    assert_int_equal(constra_event_list_get(handle, id, &l, T_ERR), CONSTRA_OK);
    int found = 0;
    for (size_t i = 0; i < constra_event_list_count(l); i++) {
        if (strstr(constra_event_list_event_json(l, i), needle)) {
            found = 1;
        }
    }
    constra_event_list_free(l);
    return found;
}

static void create(const char *phone, char *id, size_t size)
{
    constra_intent_params p = CONSTRA_INTENT_PARAMS_INIT;
    p.amount = 10;
    p.currency = "KES";
    p.phone_number = phone;
    p.reference = "order_serve_e2e";
    p.description = "Serve e2e";
    constra_intent *in = NULL;
    if (constra_intent_create(handle, &p, phone, &in, T_ERR) != CONSTRA_OK) {
        constra_error e = CONSTRA_ERROR_INIT;
        e = t_last_error();
        fail_msg("create: %s", e.message);
    }
    snprintf(id, size, "%s", constra_intent_id(in));
    constra_intent_free(in);
}

/* Ticks the engine on the real clock until the intent leaves `from`
 * (15 s at most). */
static int wait_leaves(const char *id, int from)
{
    struct timespec step = {0, 100 * 1000000L};
    for (int i = 0; i < 150; i++) {
        constra_tick(handle, constra_now_ms(handle), T_ERR);
        int s = status_of(id);
        if (s != from) {
            return s;
        }
        nanosleep(&step, NULL);
    }
    return from;
}

static void test_rail_over_constra_serve(void **state)
{
    (void)state;
    start_serve();
    test_http_server *cb = test_http_start(on_callback, NULL);
    assert_non_null(cb);
    char cb_url[128];
    snprintf(cb_url, sizeof(cb_url), "http://127.0.0.1:%d/v1/providers/mpesa/callback",
             test_http_port(cb));

    constra_error err = CONSTRA_ERROR_INIT;
    constra_transport tr;
    assert_int_equal(constra_transport_curl(&tr, NULL, &err), CONSTRA_OK);
    constra_daraja_config c = CONSTRA_DARAJA_CONFIG_INIT;
    c.environment = CONSTRA_DARAJA_ENV_SANDBOX;
    c.base_url = serve_url;
    c.consumer_key = KEY;
    c.consumer_secret = SECRET;
    c.shortcode = CONSTRA_DARAJA_SANDBOX_SHORTCODE;
    c.passkey = CONSTRA_DARAJA_SANDBOX_PASSKEY;
    c.transaction_type = CONSTRA_DARAJA_STK_PAYBILL;
    c.callback_url = cb_url;
    c.callback_token = CB_TOKEN;
    c.allow_insecure_callback = 1;
    /* The callback (due 800 ms after the push, sent within the server's
     * 250 ms tick) comes first; the queries confirm it. */
    c.query_first_ms = 2500;
    c.query_interval_ms = 1000;
    c.request_timeout_ms = 10000;
    constra_rail rail;
    if (constra_rail_daraja(&rail, &c, &tr, NULL, &err) != CONSTRA_OK) {
        fail_msg("rail: %s", err.message);
    }
    constra_config hc = CONSTRA_CONFIG_INIT;
    hc.rail = &rail;
    hc.mode = CONSTRA_MODE_SANDBOX;
    hc.secret_key = "cs_test_serve_e2e_key_0001";
    if (constra_open(&handle, &hc, &err) != CONSTRA_OK) {
        fail_msg("open: %s", err.message);
    }

    /* Pays: push over HTTP, the callback comes back over HTTP, the
     * confirming query settles it. */
    char id[64];
    create("254708374149", id, sizeof(id));
    assert_int_equal(status_of(id), CONSTRA_INTENT_PENDING_USER_ACTION);
    assert_int_equal(wait_leaves(id, CONSTRA_INTENT_PENDING_USER_ACTION),
                     CONSTRA_INTENT_SUCCEEDED);
    constra_intent *in = NULL;
    assert_int_equal(constra_intent_get(handle, id, &in, T_ERR), CONSTRA_OK);
    const char *receipt = constra_intent_receipt(in);
    print_message("# receipt %s after %d callback(s)\n", receipt, callbacks);
    assert_int_equal(strlen(receipt), 10);
    constra_intent_free(in);

    /* Cancelled by the customer (1032): the failure arrives the same way. */
    char id2[64];
    create("254711000003", id2, sizeof(id2));
    int s = wait_leaves(id2, CONSTRA_INTENT_PENDING_USER_ACTION);
    assert_int_not_equal(s, CONSTRA_INTENT_SUCCEEDED);
    assert_int_not_equal(s, CONSTRA_INTENT_PENDING_USER_ACTION);
    assert_true(events_have(id2, "1032"));

    /* Let a late callback land before stopping the receiver. */
    struct timespec settle = {1, 0};
    nanosleep(&settle, NULL);
    pthread_mutex_lock(&cb_lock);
    int n = callbacks;
    pthread_mutex_unlock(&cb_lock);
    assert_true(n >= 2); /* both callbacks came over HTTP */

    constra_close(handle);
    test_http_stop(cb);
    assert_int_equal(stop_serve(), 0);

    /* The server's access log: the Daraja paths, and no secret. */
    FILE *f = fopen(log_path, "r");
    assert_non_null(f);
    static char log[1 << 16];
    size_t len = fread(log, 1, sizeof(log) - 1, f);
    log[len] = '\0';
    fclose(f);
    unlink(log_path);
    assert_non_null(strstr(log, "\"GET /oauth/v1/generate\" 200"));
    assert_non_null(strstr(log, "\"POST /mpesa/stkpush/v1/processrequest\" 200"));
    assert_non_null(strstr(log, "\"POST /mpesa/stkpushquery/v1/query\""));
    assert_null(strstr(log, SECRET));
    assert_null(strstr(log, CB_TOKEN));
    assert_null(strstr(log, "MTc0Mzc5YmZi")); /* base64 "174379bfb..." (STK password) */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_rail_over_constra_serve, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#else

static void test_no_curl(void **state)
{
    (void)state;
    constra_transport tr;
    assert_int_equal(constra_transport_curl(&tr, NULL, NULL), CONSTRA_E_UNSUPPORTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_no_curl)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
