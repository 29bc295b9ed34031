/* A tiny HTTP/1.1 server on 127.0.0.1 for tests: plain sockets, one
 * thread per connection, keep-alive. The handler writes the raw response
 * to the socket itself, so tests can misbehave on purpose (truncate,
 * stall, stream forever). */
#ifndef TESTS_HTTP_SERVER_H
#define TESTS_HTTP_SERVER_H

#include <stddef.h>

typedef struct test_http_request {
    char method[16];
    char target[1024];
    char headers[8192]; /* raw header block, "Name: value\r\n" lines */
    char *body;
    size_t body_len;
} test_http_request;

/* Returns 1 to keep the connection open for another request, 0 to close. */
typedef int (*test_http_handler)(void *ctx, int fd, const test_http_request *req);

typedef struct test_http_server test_http_server;

/* Listens on 127.0.0.1 (an ephemeral port); NULL on failure. */
test_http_server *test_http_start(test_http_handler handler, void *ctx);
int test_http_port(const test_http_server *s);
/* Requests served so far. */
int test_http_count(test_http_server *s);
void test_http_stop(test_http_server *s);

/* Writes all of buf (ignores EPIPE); 0 ok, -1 failed. */
int test_http_write(int fd, const void *buf, size_t len);
/* Value of header `name` from the raw block into out ("" if absent). */
void test_http_header(const test_http_request *req, const char *name, char *out, size_t size);

#endif
