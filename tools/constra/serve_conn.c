/*
 * constra serve: the request-head deadline (see serve.h).
 *
 * Why a watchdog and not libmicrohttpd's time-out: MHD_OPTION_CONNECTION_
 * TIMEOUT is an idle timer that every byte restarts, so a client trickling
 * a header keeps its connection (and a slot of the connection limit) as
 * long as it likes; libmicrohttpd 0.9 has no absolute deadline. The
 * watchdog gives each request head a budget counted from its start.
 *
 * Why cutting from another thread is safe: the record is registered when
 * libmicrohttpd reports the connection started and removed when it
 * reports it closed, under the same lock the watchdog holds while it
 * acts, and libmicrohttpd reports "closed" before it closes the socket,
 * so the watchdog never touches a descriptor that was closed or reused.
 * shutdown(2) only wakes libmicrohttpd's own thread, which reads the end
 * of stream and cleans the connection up itself.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "serve.h"

/* How often the watchdog looks: the deadline is kept to within this. */
#define WATCH_EVERY_MS 200

static void cut_late(serve_conns *c, int64_t now)
{
    for (serve_conn *k = c->list.next; k != &c->list; k = k->next) {
        if (!k->in_head || k->cut || now - k->head_since_ms < c->head_timeout_ms) {
            continue;
        }
        k->cut = 1;
        atomic_fetch_add(&c->cut_total, 1);
        if (k->has_line) {
            /* Nothing else writes on a connection still reading its head.
             * Best effort: a full socket buffer just loses the answer. */
            (void)send(k->fd, c->late, c->late_len, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        (void)shutdown(k->fd, SHUT_RDWR);
    }
}

static void *watch(void *arg)
{
    serve_conns *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->stop) {
        cut_late(c, serve_mono_ms());
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += WATCH_EVERY_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec += 1;
            until.tv_nsec -= 1000000000L;
        }
        while (!c->stop && pthread_cond_timedwait(&c->wake, &c->lock, &until) != ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

int serve_conns_start(serve_conns *c, int64_t head_timeout_ms)
{
    memset(c, 0, sizeof(*c));
    c->list.next = c->list.prev = &c->list;
    c->head_timeout_ms = head_timeout_ms;
    atomic_init(&c->cut_total, 0);
    c->late_len = serve_raw_error(c->late, sizeof(c->late), 408, "request_timeout",
                                  "the request head did not arrive in time", NULL);
    if (c->late_len == 0) {
        return -1;
    }
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0) {
        return -1;
    }
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int ok = pthread_mutex_init(&c->lock, NULL) == 0;
    if (ok && pthread_cond_init(&c->wake, &attr) != 0) {
        pthread_mutex_destroy(&c->lock);
        ok = 0;
    }
    pthread_condattr_destroy(&attr);
    if (!ok) {
        return -1;
    }
    if (pthread_create(&c->thread, NULL, watch, c) != 0) {
        pthread_cond_destroy(&c->wake);
        pthread_mutex_destroy(&c->lock);
        return -1;
    }
    c->running = 1;
    return 0;
}

void serve_conns_stop(serve_conns *c)
{
    if (!c->running) {
        return;
    }
    pthread_mutex_lock(&c->lock);
    c->stop = 1;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    /* The daemon has stopped and reported every close; anything left is
     * a record whose close was never reported (none expected). */
    while (c->list.next != &c->list) {
        serve_conn *k = c->list.next;
        c->list.next = k->next;
        free(k);
    }
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    c->running = 0;
}

serve_conn *serve_conn_opened(serve_conns *c, int fd)
{
    serve_conn *k = calloc(1, sizeof(*k));
    if (k == NULL) {
        return NULL;
    }
    k->fd = fd;
    k->in_head = 1;
    k->head_since_ms = serve_mono_ms();
    pthread_mutex_lock(&c->lock);
    k->prev = c->list.prev;
    k->next = &c->list;
    c->list.prev->next = k;
    c->list.prev = k;
    c->open++;
    pthread_mutex_unlock(&c->lock);
    return k;
}

void serve_conn_closed(serve_conns *c, serve_conn *k)
{
    if (k == NULL) {
        return;
    }
    pthread_mutex_lock(&c->lock);
    k->prev->next = k->next;
    k->next->prev = k->prev;
    c->open--;
    pthread_mutex_unlock(&c->lock);
    free(k);
}

void serve_conn_line(serve_conns *c, serve_conn *k)
{
    if (k != NULL) {
        pthread_mutex_lock(&c->lock);
        k->has_line = 1;
        pthread_mutex_unlock(&c->lock);
    }
}

void serve_conn_head_done(serve_conns *c, serve_conn *k)
{
    if (k != NULL) {
        pthread_mutex_lock(&c->lock);
        k->in_head = 0;
        pthread_mutex_unlock(&c->lock);
    }
}

void serve_conn_next(serve_conns *c, serve_conn *k)
{
    if (k != NULL) {
        pthread_mutex_lock(&c->lock);
        /* A kept-alive connection has the same budget for its next head,
         * counted from now (idle time included: an idle connection that
         * never sends another request is closed at the deadline too). */
        k->in_head = 1;
        k->has_line = 0;
        k->head_since_ms = serve_mono_ms();
        pthread_mutex_unlock(&c->lock);
    }
}
