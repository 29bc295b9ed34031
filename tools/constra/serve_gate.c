/*
 * constra serve: the gate (see serve.h).
 *
 * Why a gate in front of libmicrohttpd: a request head that 0.9.75 cannot
 * parse (a malformed request line, an unsupported HTTP version, a field
 * line without a colon, an HTTP/1.1 request without Host, a Content-Length
 * that is not a number, a head bigger than the connection's memory) is
 * answered by libmicrohttpd itself with a fixed HTML page, or the
 * connection is just closed, before any callback of ours runs; it has no
 * hook to change that (0.9.77 adds MHD_OPTION_CLIENT_DISCIPLINE_LVL, not
 * the bodies). So the server owns its listening socket: the gate thread
 * accepts every connection and reads its first request head with
 * MSG_PEEK, leaving the bytes in the socket. A head that libmicrohttpd
 * would refuse is answered here in the JSON error shape; a sound one is
 * handed over (MHD_add_connection) and libmicrohttpd reads it as if it had
 * accepted the connection itself.
 *
 * What the gate does not see: the later requests of a kept-alive
 * connection, which libmicrohttpd reads itself (serve_http.c re-checks
 * their framing, and such a client has already spoken valid HTTP once),
 * and chunked body framing, which comes after the head.
 *
 * The gate also gives the first head its absolute deadline (the watchdog
 * of serve_conn.c covers the heads of kept-alive requests) and keeps
 * per-address and total caps on connections waiting in it, so a flood of
 * slow clients cannot grow it without bound.
 */
#define _GNU_SOURCE /* accept4 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "serve.h"

/* Connections waiting in the gate, in all (libmicrohttpd's own limit is
 * 1,000 more). */
#define GATE_PENDING_MAX 1000
/* A refused connection is read and dropped for this long after its answer
 * (until the client closes), so that closing with unread bytes does not
 * reset the connection before the client has read the answer. */
#define GATE_LINGER_MS 1000

/* ---- the thread --------------------------------------------------------------- */

typedef struct gate_conn {
    int fd;
    int64_t since_ms;     /* accepted, or (lingering) answered */
    int lingering;        /* answered and shut down for writing: drain, close */
    struct sockaddr_storage addr;
    socklen_t addr_len;
} gate_conn;

static void gate_close(serve_gate *g, size_t i)
{
    close(g->conns[i].fd);
    g->conns[i] = g->conns[--g->count];
}

static int same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family) {
        return 0;
    }
    if (a->ss_family == AF_INET) {
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    }
    if (a->ss_family == AF_INET6) {
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
    }
    return 0;
}

/* Answers the connection in the JSON error shape, shuts its writing side
 * and keeps it lingering (see GATE_LINGER_MS). */
static void gate_answer(serve_gate *g, size_t i, const serve_gate_verdict *v)
{
    char out[800];
    size_t n = serve_raw_error(out, sizeof(out), v->status, v->code, v->message, v->param);
    if (n > 0) {
        /* Best effort: the socket buffer of a fresh connection is empty. */
        (void)send(g->conns[i].fd, out, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    (void)shutdown(g->conns[i].fd, SHUT_WR);
    g->conns[i].lingering = 1;
    g->conns[i].since_ms = serve_mono_ms();
    if (v->status == 408) {
        atomic_fetch_add(&g->server->conns->cut_total, 1);
    } else {
        serve_metrics_framing(g->server->metrics);
    }
    serve_metrics_request(g->server->metrics, "-", "/", v->status, 0.0);
}

/* Reads (without taking) what the connection has sent and decides. */
static void gate_look(serve_gate *g, size_t i)
{
    gate_conn *k = &g->conns[i];
    if (k->lingering) {
        char sink[4096];
        ssize_t r = recv(k->fd, sink, sizeof(sink), MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            gate_close(g, i);
        }
        return;
    }
    ssize_t r = recv(k->fd, g->buf, SERVE_GATE_HEAD_MAX, MSG_PEEK | MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        gate_close(g, i); /* the client went away before sending a head */
        return;
    }
    if (r < 0) {
        return;
    }
    serve_gate_verdict v;
    int verdict = serve_gate_judge(g->buf, (size_t)r, &v);
    if (verdict == SERVE_GATE_MORE) {
        return;
    }
    if (verdict == SERVE_GATE_REFUSE) {
        /* Take the head out of the socket: closing later with it unread
         * would reset the connection. */
        (void)recv(k->fd, g->buf, (size_t)r, MSG_DONTWAIT);
        gate_answer(g, i, &v);
        return;
    }
    /* Sound: libmicrohttpd takes the socket over, head still unread, and
     * closes it itself when it cannot (its per-address cap, memory). */
    int fd = k->fd;
    struct sockaddr_storage addr = k->addr;
    socklen_t len = k->addr_len;
    g->conns[i] = g->conns[--g->count];
    (void)MHD_add_connection(g->daemon, fd, (const struct sockaddr *)&addr, len);
}

static void gate_accept(serve_gate *g)
{
    for (;;) {
        struct sockaddr_storage addr;
        socklen_t len = sizeof(addr);
        int fd = accept4(g->listen_fd, (struct sockaddr *)&addr, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            return; /* EAGAIN, or out of descriptors: the next wake retries */
        }
        unsigned same = 0;
        for (size_t i = 0; i < g->count; i++) {
            same += !g->conns[i].lingering && same_address(&g->conns[i].addr, &addr);
        }
        if (g->count >= GATE_PENDING_MAX || same >= g->server->max_client_connections) {
            close(fd); /* as libmicrohttpd does past its own per-address cap */
            continue;
        }
        gate_conn *k = &g->conns[g->count++];
        k->fd = fd;
        k->since_ms = serve_mono_ms();
        k->lingering = 0;
        k->addr = addr;
        k->addr_len = len;
    }
}

/* The deadlines: a head late past head_timeout_ms, a linger past
 * GATE_LINGER_MS. Returns the milliseconds to the next one (capped). */
static int gate_expire(serve_gate *g)
{
    int64_t now = serve_mono_ms();
    int64_t next = 1000;
    for (size_t i = 0; i < g->count;) {
        gate_conn *k = &g->conns[i];
        int64_t budget = k->lingering ? GATE_LINGER_MS : g->head_timeout_ms;
        int64_t left = k->since_ms + budget - now;
        if (left > 0) {
            next = left < next ? left : next;
            i++;
            continue;
        }
        if (k->lingering) {
            gate_close(g, i);
            continue;
        }
        /* Late: a 408 once the request line is in, else just closed. */
        ssize_t r = recv(k->fd, g->buf, SERVE_GATE_HEAD_MAX, MSG_PEEK | MSG_DONTWAIT);
        serve_gate_verdict v;
        if (r > 0 && serve_gate_judge(g->buf, (size_t)r, &v) == SERVE_GATE_MORE && v.has_line) {
            (void)recv(k->fd, g->buf, (size_t)r, MSG_DONTWAIT);
            v.status = 408;
            v.code = "request_timeout";
            v.param = NULL;
            v.message = "the request head did not arrive in time";
            gate_answer(g, i, &v);
            i++;
        } else {
            atomic_fetch_add(&g->server->conns->cut_total, 1);
            gate_close(g, i);
        }
    }
    return (int)next;
}

static void *gate_run(void *arg)
{
    serve_gate *g = arg;
    struct pollfd *pfd = g->pfd;
    for (;;) {
        int timeout = gate_expire(g);
        pfd[0].fd = g->wake[0];
        pfd[0].events = POLLIN;
        /* Past the pending cap the listening socket is not polled: the
         * backlog holds new clients until a slot frees. */
        pfd[1].fd = g->count < GATE_PENDING_MAX ? g->listen_fd : -1;
        pfd[1].events = POLLIN;
        for (size_t i = 0; i < g->count; i++) {
            pfd[2 + i].fd = g->conns[i].fd;
            pfd[2 + i].events = POLLIN;
            pfd[2 + i].revents = 0;
        }
        size_t watched = g->count;
        int n = poll(pfd, (nfds_t)(2 + watched), timeout);
        if (n < 0 && errno != EINTR) {
            continue;
        }
        if (pfd[0].revents) {
            break; /* serve_gate_stop */
        }
        /* From the end: gate_close and the hand-over move the last entry
         * into the freed slot, which this loop has already looked at. */
        for (size_t i = watched; i-- > 0;) {
            if (pfd[2 + i].revents) {
                gate_look(g, i);
            }
        }
        if (pfd[1].revents) {
            gate_accept(g);
        }
    }
    return NULL;
}

/* ---- start and stop ------------------------------------------------------------ */

int serve_gate_listen(const struct sockaddr *addr, unsigned len, int *port)
{
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    /* SO_REUSEADDR lets a restarted server bind while old connections sit
     * in TIME_WAIT; it never lets two listeners share a port on Linux
     * (that would be SO_REUSEPORT, which is not set). */
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (addr->sa_family == AF_INET6) {
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    if (bind(fd, addr, (socklen_t)len) != 0 || listen(fd, 1024) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    *port = 0;
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) == 0) {
        *port = bound.ss_family == AF_INET6
                    ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                    : ntohs(((struct sockaddr_in *)&bound)->sin_port);
    }
    return fd;
}

int serve_gate_start(serve_gate *g, serve_server *s, int listen_fd, struct MHD_Daemon *daemon,
                     int64_t head_timeout_ms)
{
    memset(g, 0, sizeof(*g));
    g->server = s;
    g->listen_fd = listen_fd;
    g->daemon = daemon;
    g->head_timeout_ms = head_timeout_ms;
    g->conns = calloc(GATE_PENDING_MAX, sizeof(*g->conns));
    g->pfd = calloc(GATE_PENDING_MAX + 2, sizeof(*g->pfd));
    g->buf = malloc(SERVE_GATE_HEAD_MAX);
    if (g->conns == NULL || g->pfd == NULL || g->buf == NULL ||
        pipe2(g->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        free(g->conns);
        free(g->pfd);
        free(g->buf);
        return -1;
    }
    if (pthread_create(&g->thread, NULL, gate_run, g) != 0) {
        close(g->wake[0]);
        close(g->wake[1]);
        free(g->conns);
        free(g->pfd);
        free(g->buf);
        return -1;
    }
    g->running = 1;
    return 0;
}

void serve_gate_stop(serve_gate *g)
{
    if (!g->running) {
        return;
    }
    (void)write(g->wake[1], "x", 1);
    pthread_join(g->thread, NULL);
    /* New clients now fail fast instead of waiting in the backlog; those
     * still sending their first head are dropped (nothing of theirs was
     * read). */
    close(g->listen_fd);
    while (g->count > 0) {
        gate_close(g, g->count - 1);
    }
    close(g->wake[0]);
    close(g->wake[1]);
    free(g->conns);
    free(g->pfd);
    free(g->buf);
    g->running = 0;
}
