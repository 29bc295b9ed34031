/*
 * constra serve: the pieces shared by its files.
 *
 *   cmd_serve.c    options, start-up, signals, the ticker, shutdown
 *   serve_http.c   the libmicrohttpd callbacks: limits, static files, the
 *                  Daraja emulator's paths, the REST router, response
 *                  headers
 *   serve_limit.c  the per-key token-bucket rate limiter
 *   serve_log.c    the access log
 *   serve_conn.c   the request-head deadline (a watchdog over every open
 *                  connection)
 *   serve_metrics.c the counters behind GET /metrics
 *   serve_assets   the dashboard files, generated at build time by
 *                  scripts/embed_files.py (serve_assets.c in the build dir)
 *
 * All state lives in one serve_server owned by cmd_serve(); the HTTP
 * callbacks receive it as their closure. Nothing here is global.
 */
#ifndef CONSTRA_SERVE_H
#define CONSTRA_SERVE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <constra.h>

/* ---- static files (generated) -------------------------------------------- */

typedef struct serve_asset {
    const char *path;          /* "/index.html" */
    const char *content_type;  /* "text/html; charset=utf-8" */
    const char *etag;          /* strong ETag, quoted: "\"3f2a...\"" */
    const unsigned char *data;
    size_t size;
} serve_asset;

/* The embedded files, terminated by an entry whose path is NULL. */
extern const serve_asset serve_assets[];

/* ---- rate limiter ---------------------------------------------------------- */

/* Buckets are kept in a fixed table (sets of a few ways, the least
 * recently used way is reused), so memory stays bounded whatever keys
 * clients invent. */
#define SERVE_LIMIT_SETS 1024
#define SERVE_LIMIT_WAYS 4

typedef struct serve_bucket {
    uint64_t key;     /* keyed hash of the client key; 0 = empty */
    double tokens;    /* tokens left */
    int64_t last_ms;  /* monotonic time of the last refill */
} serve_bucket;

typedef struct serve_limiter {
    pthread_mutex_t lock;
    double rate;      /* tokens per second; 0 disables the limiter */
    double burst;     /* bucket capacity */
    uint64_t seed;    /* random per process: clients cannot aim collisions */
    serve_bucket sets[SERVE_LIMIT_SETS][SERVE_LIMIT_WAYS];
} serve_limiter;

/* What one request got from its bucket, for the X-RateLimit-* headers. */
typedef struct serve_limit_verdict {
    int allowed;
    long limit;        /* requests per second */
    long remaining;    /* whole tokens left after this request */
    long reset_s;      /* seconds until the bucket is full again */
    long retry_after_s;/* when refused: seconds until one token is back */
} serve_limit_verdict;

/* rate 0 disables limiting (serve_limiter_take then always allows).
 * Returns 0, or -1 when the mutex cannot be created. */
int serve_limiter_init(serve_limiter *l, double rate, double burst, uint64_t seed);
void serve_limiter_destroy(serve_limiter *l);
/* Takes one token from the bucket of `key` (len bytes) at monotonic time
 * now_ms. Thread-safe. */
void serve_limiter_take(serve_limiter *l, const char *key, size_t len, int64_t now_ms,
                        serve_limit_verdict *v);

/* ---- access log ------------------------------------------------------------ */

typedef struct serve_log {
    FILE *out;   /* NULL: logging off */
    int owned;   /* fclose it at the end */
    int json;    /* one JSON object per line instead of the text line */
} serve_log;

/* spec: NULL or "-" = stderr, "off" = none, else a file appended to.
 * Returns 0, or -1 with a message on stderr. */
int serve_log_open(serve_log *log, const char *spec);
void serve_log_close(serve_log *log);

typedef struct serve_log_entry {
    int64_t wall_ms;           /* when the request started (Unix ms) */
    const char *remote;        /* "127.0.0.1" */
    const char *method;
    const char *path;          /* the target WITHOUT its query string */
    size_t path_len;
    int status;
    size_t bytes;              /* response body bytes */
    double duration_ms;
    const char *idempotency_key; /* NULL when absent */
} serve_log_entry;

/* Writes one line; each field is escaped so that a client cannot forge
 * lines. Thread-safe (one stdio call per line). */
void serve_log_write(serve_log *log, const serve_log_entry *e);

/* ---- connections: the request-head deadline ------------------------------- */

/* libmicrohttpd's connection time-out restarts on every byte, so a client
 * sending one header byte every few seconds holds its connection for
 * ever. Each connection is registered here (libmicrohttpd's connection
 * notifications) with the time its current request head began: when it
 * was accepted, then when the previous response was sent. A watchdog
 * thread cuts every connection whose head is not complete after
 * head_timeout_ms: a 408 in the JSON error shape if its request line had
 * arrived, then shutdown(2), which libmicrohttpd sees as the client going
 * away and cleans up on its own thread. */
typedef struct serve_conn {
    struct serve_conn *prev, *next;
    int fd;
    int64_t head_since_ms; /* monotonic */
    int in_head;           /* waiting for (the rest of) a request head */
    int has_line;          /* its request line has arrived */
    int cut;               /* the watchdog has cut it */
} serve_conn;

typedef struct serve_conns {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    int running, stop;
    serve_conn list;          /* sentinel of a circular list */
    int64_t head_timeout_ms;
    long open;                /* connections registered now */
    atomic_long cut_total;    /* connections cut for a late head */
    char late[400];           /* the 408 answer, whole */
    size_t late_len;
} serve_conns;

/* Starts the watchdog. Returns 0, or -1 (no thread or mutex). */
int serve_conns_start(serve_conns *c, int64_t head_timeout_ms);
/* Stops the watchdog and frees what is still registered (call after
 * the daemon has stopped). */
void serve_conns_stop(serve_conns *c);
/* Connection notifications, from libmicrohttpd's threads. opened returns
 * the record (NULL when out of memory: that connection is not watched). */
serve_conn *serve_conn_opened(serve_conns *c, int fd);
void serve_conn_closed(serve_conns *c, serve_conn *conn);
void serve_conn_line(serve_conns *c, serve_conn *conn);      /* request line read */
void serve_conn_head_done(serve_conns *c, serve_conn *conn); /* headers complete */
void serve_conn_next(serve_conns *c, serve_conn *conn);      /* response sent */

/* ---- metrics ------------------------------------------------------------------ */

#define SERVE_METRIC_ROWS 256
#define SERVE_LATENCY_BUCKETS 12

/* One counter per (route, method, status). Routes are labels of our own
 * (serve_route_label), never the raw path, so the table stays bounded
 * whatever paths clients invent; past its size requests are counted in
 * `overflow`. */
typedef struct serve_metric_row {
    char route[48];
    char method[8];
    int status;
    unsigned long count;
} serve_metric_row;

typedef struct serve_metrics {
    pthread_mutex_t lock;
    serve_metric_row rows[SERVE_METRIC_ROWS];
    size_t row_count;
    unsigned long overflow;
    unsigned long latency[SERVE_LATENCY_BUCKETS + 1]; /* +Inf last */
    double latency_sum_s;
    unsigned long latency_count;
    unsigned long callbacks_accepted, callbacks_refused;
    unsigned long storage_errors;   /* 5xx answered by the router */
    unsigned long framing_refused;  /* requests refused for their framing */
    atomic_ulong tick_failures;
    int64_t started_ms;             /* wall clock, for the uptime */
} serve_metrics;

int serve_metrics_init(serve_metrics *m, int64_t now_ms);
void serve_metrics_destroy(serve_metrics *m);
/* One finished request. target is the raw target (the query is ignored). */
void serve_metrics_request(serve_metrics *m, const char *method, const char *target,
                           int status, double duration_ms);
void serve_metrics_framing(serve_metrics *m);
/* The bounded label of a path: "/v1/payment-intents/{id}/retry" etc. */
void serve_route_label(const char *target, char *out, size_t size);

/* ---- the server ------------------------------------------------------------ */

typedef struct serve_server {
    constra_t *handle;          /* the engine; thread-safe */
    const char *secret_key;     /* to tell a valid bearer token from noise */
    serve_limiter *limiter;     /* per client address; rate 0 = off */
    serve_limiter *key_limiter; /* per workspace key; rate 0 = off */
    serve_log *log;
    /* --emulate-daraja: the Daraja emulator answering Daraja's own paths
     * (serve_http.c), NULL when off. Thread-safe. */
    constra_daraja_emulator *emulator;
    int connection_timeout_s;
    unsigned max_client_connections; /* per client address */
    /* --keep-alive: connections serve several requests. Off (the
     * default), every response says "Connection: close", so that each
     * request's head passes the gate (serve_gate.c) before libmicrohttpd
     * parses it: libmicrohttpd answers a head it cannot parse with its
     * own HTML, and only the gate sees a connection's first head. */
    int keep_alive;
    serve_conns *conns;         /* the head deadline; never NULL */
    serve_metrics *metrics;     /* never NULL */
    /* Requests between their request line and their completion: the
     * shutdown waits for this to fall to zero. */
    atomic_int in_flight;
    /* Set at shutdown: responses carry "Connection: close". */
    atomic_int draining;
} serve_server;

struct MHD_Daemon;
struct sockaddr;

/* Starts libmicrohttpd with `threads` polling threads and the server's
 * callbacks, without a listening socket of its own: the gate (below)
 * accepts and hands connections over. Returns the daemon, or NULL
 * (message on stderr). */
struct MHD_Daemon *serve_http_start(serve_server *s, unsigned threads);

/* Every error the server writes has the router's shape,
 * {"error":{"code":..,"message":..,"param":..}}: written into `out` (param
 * NULL: null). code, message and param are literals of ours (nothing to
 * escape). Returns the length, cut to fit size - 1. */
size_t serve_error_json(char *out, size_t size, const char *code, const char *message,
                        const char *param);

/* A whole HTTP/1.1 answer carrying that error with `Connection: close`,
 * for the threads that write on sockets libmicrohttpd does not hold (the
 * gate, the head watchdog). Returns its length, 0 if it does not fit. */
size_t serve_raw_error(char *out, size_t size, int status, const char *code,
                       const char *message, const char *param);

/* ---- the gate: the first request head of every connection ----------------- */

/* A first head (request line + fields + the empty line) larger than this
 * is refused with 431: libmicrohttpd's per-connection memory (32 KiB)
 * must hold the head and its field records, so this leaves it room. */
#define SERVE_GATE_HEAD_MAX 16384

/* What serve_gate_judge() decided about the bytes of a head so far. */
enum { SERVE_GATE_MORE = 0, SERVE_GATE_PASS = 1, SERVE_GATE_REFUSE = 2 };

typedef struct serve_gate_verdict {
    int has_line;        /* the request line is complete (and sound) */
    int http11;          /* it says HTTP/1.1 */
    /* SERVE_GATE_REFUSE: the answer, in the JSON error shape. */
    int status;
    const char *code, *param, *message;
} serve_gate_verdict;

/* Judges the first n bytes a client sent (n may stop anywhere): MORE
 * (nothing wrong yet, the head is not complete), PASS (a complete head
 * libmicrohttpd parses without answering on its own) or REFUSE (with the
 * answer in *v). Pure; every input is safe (tests/fuzz). */
int serve_gate_judge(const char *buf, size_t n, serve_gate_verdict *v);

/* The listening socket accepts, peeks at each connection's first head,
 * answers what libmicrohttpd would answer in HTML with JSON, and hands the
 * rest to the daemon (serve_gate.c says why). One thread. */
typedef struct serve_gate {
    serve_server *server;
    struct MHD_Daemon *daemon;
    int listen_fd;
    int64_t head_timeout_ms;
    int wake[2];                 /* a pipe: a byte stops the thread */
    pthread_t thread;
    int running;
    struct gate_conn *conns;     /* waiting for their first head */
    size_t count;
    struct pollfd *pfd;
    char *buf;                   /* the peeked head */
} serve_gate;

/* Binds and listens on addr (no address reuse: a used port fails with
 * EADDRINUSE) and sets *port to the bound port. Returns the socket, or -1
 * with errno set. */
int serve_gate_listen(const struct sockaddr *addr, unsigned addr_len, int *port);
/* Starts the gate's thread on listen_fd (taken over) in front of daemon.
 * Returns 0, or -1 (no memory or thread; listen_fd is still the
 * caller's). */
int serve_gate_start(serve_gate *g, serve_server *s, int listen_fd, struct MHD_Daemon *daemon,
                     int64_t head_timeout_ms);
/* Stops accepting: closes the listening socket and every connection still
 * in the gate. Call before stopping the daemon. */
void serve_gate_stop(serve_gate *g);

/* The Prometheus text of GET /metrics into a malloc'd string (NULL when
 * out of memory); counts the intents by status from the handle. */
char *serve_metrics_text(serve_server *s, size_t *len);

/* Monotonic milliseconds, for buckets and durations. */
int64_t serve_mono_ms(void);
double serve_mono_ms_f(void);

#endif /* CONSTRA_SERVE_H */
