#define _GNU_SOURCE
/* The libcurl transport (transport_curl.h) against a tiny HTTP server on
 * 127.0.0.1: status, headers and body; a 100 MiB body refused without
 * being buffered; a slow answer; a closed port; a truncated body; four
 * threads sending at once over reused connections. */
#include "../unit/testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "constra/transport_curl.h"
#include "constra_config.h"
#include "http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#if CONSTRA_HAVE_CURL

static int handler(void *ctx, int fd, const test_http_request *req)
{
    (void)ctx;
    char out[512];
    if (strcmp(req->target, "/ok") == 0 || strncmp(req->target, "/echo", 5) == 0) {
        char body[300];
        snprintf(body, sizeof(body), "{\"method\":\"%s\",\"len\":%zu}", req->method,
                 req->body_len);
        int n = snprintf(out, sizeof(out),
                         "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                         "X-Test:  spaced value  \r\nContent-Length: %zu\r\n\r\n%s",
                         strlen(body), body);
        test_http_write(fd, out, (size_t)n);
        return 1;
    }
    if (strcmp(req->target, "/big") == 0 || strcmp(req->target, "/bigstream") == 0) {
        /* 100 MiB, announced (Content-Length) or not (close-delimited). */
        int n = strcmp(req->target, "/big") == 0
                    ? snprintf(out, sizeof(out),
                               "HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\n")
                    : snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
        test_http_write(fd, out, (size_t)n);
        char chunk[65536]; /* per connection: two may overlap */
        memset(chunk, 'x', sizeof(chunk));
        for (int i = 0; i < 1600; i++) {
            if (test_http_write(fd, chunk, sizeof(chunk)) != 0) {
                break; /* the client hung up: good */
            }
        }
        return 0;
    }
    if (strcmp(req->target, "/slow") == 0) {
        sleep(2);
        int n = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
        test_http_write(fd, out, (size_t)n);
        return 0;
    }
    if (strcmp(req->target, "/truncated") == 0) {
        int n = snprintf(out, sizeof(out),
                         "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"short\":");
        test_http_write(fd, out, (size_t)n);
        return 0;
    }
    if (strcmp(req->target, "/nothing") == 0) {
        return 0;
    }
    int n = snprintf(out, sizeof(out), "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    test_http_write(fd, out, (size_t)n);
    return 1;
}

typedef struct fixture {
    test_http_server *srv;
    constra_transport tr;
    char base[64];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    f->srv = test_http_start(handler, NULL);
    assert_non_null(f->srv);
    snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d", test_http_port(f->srv));
    constra_curl_options o = CONSTRA_CURL_OPTIONS_INIT;
    o.user_agent = "constra-test";
    assert_int_equal(constra_transport_curl(&f->tr, &o, NULL), CONSTRA_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    f->tr.destroy(f->tr.user_data); /* closes pooled connections */
    test_http_stop(f->srv);
    free(f);
    return 0;
}

static int send_to(fixture *f, const char *method, const char *path, const char *body,
                   int64_t timeout_ms, size_t cap, constra_transport_response **resp,
                   constra_error *e)
{
    char url[128];
    snprintf(url, sizeof(url), "%s%s", f->base, path);
    constra_http_header h[] = {{"Content-Type", "application/json"}, {"X-Custom", "1"}};
    constra_transport_request r = CONSTRA_TRANSPORT_REQUEST_INIT;
    r.method = method;
    r.url = url;
    r.headers = h;
    r.header_count = 2;
    r.body = body;
    r.body_len = body ? strlen(body) : 0;
    r.timeout_ms = timeout_ms;
    r.max_response_bytes = cap;
    return constra_transport_send(&f->tr, NULL, &r, resp, e);
}

static void test_status_headers_body(void **state)
{
    fixture *f = *state;
    constra_transport_response *resp = NULL;
    constra_error e = CONSTRA_ERROR_INIT;
    assert_int_equal(send_to(f, "POST", "/ok", "{\"a\":1}", 0, 0, &resp, &e), CONSTRA_OK);
    assert_int_equal(constra_transport_response_status(resp), 201);
    assert_string_equal(constra_transport_response_header(resp, "content-type"),
                        "application/json");
    assert_string_equal(constra_transport_response_header(resp, "X-Test"), "spaced value");
    assert_string_equal(constra_transport_response_body(resp, NULL),
                        "{\"method\":\"POST\",\"len\":7}");
    constra_transport_response_free(resp);
    assert_int_equal(send_to(f, "GET", "/ok", NULL, 0, 0, &resp, &e), CONSTRA_OK);
    assert_string_equal(constra_transport_response_body(resp, NULL),
                        "{\"method\":\"GET\",\"len\":0}");
    constra_transport_response_free(resp);
    assert_int_equal(send_to(f, "DELETE", "/ok", NULL, 0, 0, &resp, &e), CONSTRA_OK);
    assert_string_equal(constra_transport_response_body(resp, NULL),
                        "{\"method\":\"DELETE\",\"len\":0}");
    constra_transport_response_free(resp);
    assert_int_equal(send_to(f, "GET", "/missing", NULL, 0, 0, &resp, &e), CONSTRA_OK);
    assert_int_equal(constra_transport_response_status(resp), 404);
    constra_transport_response_free(resp);
}

static void test_too_large(void **state)
{
    fixture *f = *state;
    const char *paths[] = {"/big", "/bigstream"};
    for (int i = 0; i < 2; i++) {
        constra_transport_response *resp = (void *)1;
        constra_error e = CONSTRA_ERROR_INIT;
        int rc = send_to(f, "GET", paths[i], NULL, 20000, 0, &resp, &e);
        assert_int_equal(rc, CONSTRA_E_OUTCOME_UNKNOWN);
        assert_null(resp);
        assert_string_equal(e.code, "response_too_large");
    }
}

static void test_slow_timeout(void **state)
{
    fixture *f = *state;
    constra_transport_response *resp = NULL;
    constra_error e = CONSTRA_ERROR_INIT;
    int rc = send_to(f, "POST", "/slow", "{}", 300, 0, &resp, &e);
    assert_int_equal(rc, CONSTRA_E_OUTCOME_UNKNOWN);
    assert_string_equal(e.code, "transport_timeout");
}

static void test_closed_port(void **state)
{
    (void)state;
    /* Bind a port, then close it: nothing listens there. */
    test_http_server *s = test_http_start(handler, NULL);
    int port = test_http_port(s);
    test_http_stop(s);
    constra_transport tr;
    assert_int_equal(constra_transport_curl(&tr, NULL, NULL), CONSTRA_OK);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok", port);
    constra_transport_request r = CONSTRA_TRANSPORT_REQUEST_INIT;
    r.method = "GET";
    r.url = url;
    constra_transport_response *resp = NULL;
    constra_error e = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_transport_send(&tr, NULL, &r, &resp, &e), CONSTRA_E_TRANSPORT);
    assert_string_equal(e.code, "transport_connect");
    /* Said as what happened, on this side of the wire (no HTTP status). */
    char want[96];
    snprintf(want, sizeof(want), "could not connect to 127.0.0.1:%d: connection refused (GET via",
             port);
    if (strncmp(e.message, want, strlen(want)) != 0) {
        fail_msg("message '%s', want it to start '%s'", e.message, want);
    }
    assert_int_equal(e.http_status, 0);
    /* Unresolvable name: also not sent. */
    r.url = "http://nonexistent.invalid/x";
    assert_int_equal(constra_transport_send(&tr, NULL, &r, &resp, &e), CONSTRA_E_TRANSPORT);
    assert_string_equal(e.code, "transport_connect");
    assert_non_null(strstr(e.message, "could not resolve the host of nonexistent.invalid"));
    tr.destroy(tr.user_data);
}

static void test_truncated_and_nothing(void **state)
{
    fixture *f = *state;
    constra_transport_response *resp = NULL;
    constra_error e = CONSTRA_ERROR_INIT;
    assert_int_equal(send_to(f, "POST", "/truncated", "{}", 5000, 0, &resp, &e),
                     CONSTRA_E_OUTCOME_UNKNOWN);
    assert_string_equal(e.code, "transport_protocol");
    assert_int_equal(send_to(f, "POST", "/nothing", "{}", 5000, 0, &resp, &e),
                     CONSTRA_E_OUTCOME_UNKNOWN);
    assert_string_equal(e.code, "transport_protocol");
}

/* A raw TCP peer for the TLS phase: accepts one connection, then either
 * answers plain text to the ClientHello (mode 0) or says nothing (1). */
typedef struct raw_peer {
    int fd;
    int port;
    int mode;
    pthread_t t;
} raw_peer;

static void *raw_main(void *arg)
{
    raw_peer *p = arg;
    int c = accept(p->fd, NULL, NULL);
    if (c >= 0) {
        char buf[512];
        (void)recv(c, buf, sizeof(buf), 0);
        if (p->mode == 0) {
            static const char junk[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
            test_http_write(c, junk, sizeof(junk) - 1);
        } else {
            sleep(2);
        }
        close(c);
    }
    return NULL;
}

static void raw_start(raw_peer *p, int mode)
{
    p->mode = mode;
    p->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(p->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(p->fd, 4), 0);
    socklen_t al = sizeof(a);
    getsockname(p->fd, (struct sockaddr *)&a, &al);
    p->port = ntohs(a.sin_port);
    pthread_create(&p->t, NULL, raw_main, p);
}

static void raw_stop(raw_peer *p)
{
    pthread_join(p->t, NULL);
    close(p->fd);
}

static void test_tls_failures(void **state)
{
    (void)state;
    constra_transport tr;
    assert_int_equal(constra_transport_curl(&tr, NULL, NULL), CONSTRA_OK);
    char url[64];
    constra_transport_request r = CONSTRA_TRANSPORT_REQUEST_INIT;
    r.method = "POST";
    r.url = url;
    r.body = "{}";
    r.body_len = 2;
    constra_transport_response *resp = NULL;
    constra_error e = CONSTRA_ERROR_INIT;
    /* A peer that does not speak TLS: the handshake fails, nothing sent. */
    raw_peer p;
    raw_start(&p, 0);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/x", p.port);
    assert_int_equal(constra_transport_send(&tr, NULL, &r, &resp, &e), CONSTRA_E_TRANSPORT);
    assert_string_equal(e.code, "transport_tls");
    raw_stop(&p);
    /* A peer that never answers the handshake: the time-out comes before
     * any request byte left, so it is a connect failure (not sent). */
    raw_start(&p, 1);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/x", p.port);
    r.connect_timeout_ms = 300;
    r.timeout_ms = 500;
    assert_int_equal(constra_transport_send(&tr, NULL, &r, &resp, &e), CONSTRA_E_TRANSPORT);
    assert_string_equal(e.code, "transport_connect");
    raw_stop(&p);
    tr.destroy(tr.user_data);
}

typedef struct worker {
    fixture *f;
    int ok;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < 25; i++) {
        constra_transport_response *resp = NULL;
        char body[32];
        snprintf(body, sizeof(body), "{\"i\":%d}", i);
        if (send_to(w->f, "POST", "/echo", body, 5000, 0, &resp, NULL) == CONSTRA_OK &&
            constra_transport_response_status(resp) == 201) {
            w->ok++;
        }
        constra_transport_response_free(resp);
    }
    return NULL;
}

static void test_threads(void **state)
{
    fixture *f = *state;
    int before = test_http_count(f->srv);
    pthread_t t[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){f, 0};
        pthread_create(&t[i], NULL, worker_main, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].ok, 25);
    }
    assert_int_equal(test_http_count(f->srv) - before, 100);
}

static void test_bad_options(void **state)
{
    (void)state;
    constra_transport tr;
    constra_curl_options o = CONSTRA_CURL_OPTIONS_INIT;
    o.timeout_ms = -1;
    assert_int_equal(constra_transport_curl(&tr, &o, NULL), CONSTRA_E_INVALID_ARGUMENT);
    o.timeout_ms = 0;
    o.user_agent = "bad\nagent";
    assert_int_equal(constra_transport_curl(&tr, &o, NULL), CONSTRA_E_INVALID_ARGUMENT);
    o.user_agent = NULL;
    o.struct_size = 0;
    assert_int_equal(constra_transport_curl(&tr, &o, NULL), CONSTRA_E_ABI);
    assert_int_equal(constra_transport_curl(NULL, NULL, NULL), CONSTRA_E_INVALID_ARGUMENT);
    /* A CA bundle that does not exist fails the TLS phase: not sent. */
    o = (constra_curl_options)CONSTRA_CURL_OPTIONS_INIT;
    o.ca_bundle = "/nonexistent/ca.pem";
    o.connect_timeout_ms = 2000;
    assert_int_equal(constra_transport_curl(&tr, &o, NULL), CONSTRA_OK);
    tr.destroy(tr.user_data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_status_headers_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_timeout, setup, teardown),
        cmocka_unit_test(test_closed_port),
        cmocka_unit_test_setup_teardown(test_truncated_and_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_tls_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#else

static void test_unsupported(void **state)
{
    (void)state;
    constra_transport tr;
    assert_int_equal(constra_transport_curl(&tr, NULL, NULL), CONSTRA_E_UNSUPPORTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_unsupported)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
