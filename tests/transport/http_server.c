#define _GNU_SOURCE
#include "http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

struct test_http_server {
    int fd;
    int port;
    test_http_handler handler;
    void *ctx;
    pthread_t thread;
    pthread_mutex_t mu;
    int count;
    int stopping;
    int active;
};

typedef struct conn {
    test_http_server *s;
    int fd;
} conn;

int test_http_write(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void test_http_header(const test_http_request *req, const char *name, char *out, size_t size)
{
    out[0] = '\0';
    size_t nl = strlen(name);
    const char *p = req->headers;
    while (*p) {
        const char *eol = strstr(p, "\r\n");
        if (eol == NULL) {
            break;
        }
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ') {
                v++;
            }
            snprintf(out, size, "%.*s", (int)(eol - v), v);
            return;
        }
        p = eol + 2;
    }
}

/* Reads one request; 0 ok, -1 closed or malformed. `buf` keeps leftovers. */
static int read_request(int fd, char *buf, size_t *have, size_t cap, test_http_request *req)
{
    char *end;
    for (;;) {
        buf[*have] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end) {
            break;
        }
        if (*have >= cap - 1) {
            return -1;
        }
        ssize_t n = recv(fd, buf + *have, cap - 1 - *have, 0);
        if (n <= 0) {
            return -1;
        }
        *have += (size_t)n;
    }
    size_t head_len = (size_t)(end - buf) + 4;
    char *line_end = strstr(buf, "\r\n");
    if (sscanf(buf, "%15s %1023s", req->method, req->target) != 2) {
        return -1;
    }
    size_t hl = (size_t)(end + 2 - (line_end + 2));
    if (hl >= sizeof(req->headers)) {
        return -1;
    }
    memcpy(req->headers, line_end + 2, hl);
    req->headers[hl] = '\0';
    char cl[32];
    test_http_header(req, "Content-Length", cl, sizeof(cl));
    size_t body_len = cl[0] ? (size_t)strtoul(cl, NULL, 10) : 0;
    req->body = malloc(body_len + 1);
    req->body_len = body_len;
    size_t got = *have - head_len < body_len ? *have - head_len : body_len;
    memcpy(req->body, buf + head_len, got);
    size_t leftover_start = head_len + got;
    size_t leftover = *have - leftover_start;
    memmove(buf, buf + leftover_start, leftover);
    *have = leftover;
    while (got < body_len) {
        ssize_t n = recv(fd, req->body + got, body_len - got, 0);
        if (n <= 0) {
            free(req->body);
            req->body = NULL;
            return -1;
        }
        got += (size_t)n;
    }
    req->body[body_len] = '\0';
    return 0;
}

static void *conn_main(void *arg)
{
    conn *c = arg;
    static char dummy;
    (void)dummy;
    char *buf = malloc(65536);
    size_t have = 0;
    for (;;) {
        test_http_request *req = calloc(1, sizeof(*req));
        if (read_request(c->fd, buf, &have, 65536, req) != 0) {
            free(req);
            break;
        }
        pthread_mutex_lock(&c->s->mu);
        c->s->count++;
        pthread_mutex_unlock(&c->s->mu);
        int keep = c->s->handler(c->s->ctx, c->fd, req);
        free(req->body);
        free(req);
        if (!keep) {
            break;
        }
    }
    free(buf);
    close(c->fd);
    pthread_mutex_lock(&c->s->mu);
    c->s->active--;
    pthread_mutex_unlock(&c->s->mu);
    free(c);
    return NULL;
}

static void *accept_main(void *arg)
{
    test_http_server *s = arg;
    for (;;) {
        int fd = accept(s->fd, NULL, NULL);
        if (fd < 0) {
            pthread_mutex_lock(&s->mu);
            int stop = s->stopping;
            pthread_mutex_unlock(&s->mu);
            if (stop || (errno != EINTR && errno != ECONNABORTED)) {
                return NULL;
            }
            continue;
        }
        conn *c = malloc(sizeof(*c));
        c->s = s;
        c->fd = fd;
        pthread_mutex_lock(&s->mu);
        s->active++;
        pthread_mutex_unlock(&s->mu);
        pthread_t t;
        if (pthread_create(&t, NULL, conn_main, c) != 0) {
            close(fd);
            free(c);
            continue;
        }
        pthread_detach(t);
    }
}

test_http_server *test_http_start(test_http_handler handler, void *ctx)
{
    signal(SIGPIPE, SIG_IGN);
    test_http_server *s = calloc(1, sizeof(*s));
    s->handler = handler;
    s->ctx = ctx;
    pthread_mutex_init(&s->mu, NULL);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (bind(s->fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(s->fd, 64) != 0) {
        close(s->fd);
        free(s);
        return NULL;
    }
    socklen_t al = sizeof(a);
    getsockname(s->fd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    pthread_create(&s->thread, NULL, accept_main, s);
    return s;
}

int test_http_port(const test_http_server *s)
{
    return s->port;
}

int test_http_count(test_http_server *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->count;
    pthread_mutex_unlock(&s->mu);
    return n;
}

void test_http_stop(test_http_server *s)
{
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_mutex_unlock(&s->mu);
    shutdown(s->fd, SHUT_RDWR);
    close(s->fd);
    pthread_join(s->thread, NULL);
    /* Wait for connection threads (clients closed their sockets). */
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&s->mu);
        int active = s->active;
        pthread_mutex_unlock(&s->mu);
        if (active == 0) {
            break;
        }
        usleep(10000);
    }
    pthread_mutex_destroy(&s->mu);
    free(s);
}
