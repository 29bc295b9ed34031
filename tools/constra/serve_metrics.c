/*
 * constra serve: the counters behind GET /metrics, and their Prometheus
 * text (exposition format 0.0.4).
 *
 * Everything is counted in process and starts at zero with the process,
 * as Prometheus counters do; the intents by status and the callbacks the
 * workspace recorded come from storage at scrape time (the sandbox
 * overview's counts), so they survive restarts and are the same in every
 * process on one database.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

/* Upper bounds of the latency buckets, in seconds. */
static const double bucket_le[SERVE_LATENCY_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};

/* Path segments kept in route labels; any other segment is an id. */
static const char *const words[] = {
    "api", "v1", "payment-intents", "events", "simulate-callback", "retry", "cancel",
    "confirm", "resolve", "providers", "mpesa", "callback", "sandbox", "overview",
    "instructions", "workspace", "webhook-endpoints", "webhook-deliveries", "rotate-secret",
    "test", "replay", "healthz", "readyz", "metrics", "oauth", "generate", "stkpush",
    "stkpushquery", "processrequest", "query", "index.html", "app.js", "app.css",
    "favicon.svg", NULL};

static int is_word(const char *seg, size_t len)
{
    for (size_t i = 0; words[i]; i++) {
        if (strlen(words[i]) == len && memcmp(words[i], seg, len) == 0) {
            return 1;
        }
    }
    return 0;
}

void serve_route_label(const char *target, char *out, size_t size)
{
    size_t plen = strcspn(target, "?");
    size_t o = 0;
    int segments = 0;
    out[0] = '\0';
    if (plen == 0 || target[0] != '/') {
        snprintf(out, size, "other");
        return;
    }
    if (plen == 1) {
        snprintf(out, size, "/");
        return;
    }
    size_t i = 1;
    while (i <= plen) {
        size_t j = i;
        while (j < plen && target[j] != '/') {
            j++;
        }
        const char *seg = target + i;
        size_t len = j - i;
        /* The first segment must be a word, and at most 6 segments: any
         * other path is "other", so invented paths cannot grow the table. */
        if (++segments > 6 || (segments == 1 && !is_word(seg, len))) {
            snprintf(out, size, "other");
            return;
        }
        const char *put = is_word(seg, len) ? NULL : "{id}";
        size_t put_len = put ? 4 : len;
        if (o + 1 + put_len + 1 > size) {
            snprintf(out, size, "other");
            return;
        }
        out[o++] = '/';
        memcpy(out + o, put ? put : seg, put_len);
        o += put_len;
        out[o] = '\0';
        i = j + 1;
    }
}

int serve_metrics_init(serve_metrics *m, int64_t now_ms)
{
    memset(m, 0, sizeof(*m));
    atomic_init(&m->tick_failures, 0);
    m->started_ms = now_ms;
    return pthread_mutex_init(&m->lock, NULL) == 0 ? 0 : -1;
}

void serve_metrics_destroy(serve_metrics *m)
{
    pthread_mutex_destroy(&m->lock);
}

static int is_callback_route(const char *route)
{
    return strcmp(route, "/api/v1/providers/mpesa/callback") == 0 ||
           strcmp(route, "/v1/providers/mpesa/callback") == 0 ||
           strcmp(route, "/api/v1/mpesa/callback") == 0;
}

void serve_metrics_request(serve_metrics *m, const char *method, const char *target,
                           int status, double duration_ms)
{
    char route[48];
    serve_route_label(target, route, sizeof(route));
    /* Methods are free text: only the standard ones get a label. */
    static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE",
                                          "OPTIONS", NULL};
    const char *meth = "other";
    for (size_t i = 0; methods[i]; i++) {
        if (strcmp(method, methods[i]) == 0) {
            meth = methods[i];
        }
    }
    double s = duration_ms / 1000.0;
    pthread_mutex_lock(&m->lock);
    size_t k = 0;
    while (k < m->row_count && !(m->rows[k].status == status &&
                                 strcmp(m->rows[k].route, route) == 0 &&
                                 strcmp(m->rows[k].method, meth) == 0)) {
        k++;
    }
    if (k == m->row_count && k < SERVE_METRIC_ROWS) {
        snprintf(m->rows[k].route, sizeof(m->rows[k].route), "%s", route);
        snprintf(m->rows[k].method, sizeof(m->rows[k].method), "%s", meth);
        m->rows[k].status = status;
        m->rows[k].count = 0;
        m->row_count++;
    }
    if (k < m->row_count) {
        m->rows[k].count++;
    } else {
        m->overflow++;
    }
    size_t b = 0;
    while (b < SERVE_LATENCY_BUCKETS && s > bucket_le[b]) {
        b++;
    }
    m->latency[b]++;
    m->latency_sum_s += s;
    m->latency_count++;
    if (is_callback_route(route)) {
        if (status >= 200 && status < 300) {
            m->callbacks_accepted++;
        } else {
            m->callbacks_refused++;
        }
    }
    if (status >= 500) {
        m->storage_errors++;
    }
    pthread_mutex_unlock(&m->lock);
}

void serve_metrics_framing(serve_metrics *m)
{
    pthread_mutex_lock(&m->lock);
    m->framing_refused++;
    pthread_mutex_unlock(&m->lock);
}

/* ---- the text ------------------------------------------------------------------ */

typedef struct text {
    char *buf;
    size_t len, cap;
    int failed;
} text;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void put(text *t, const char *fmt, ...)
{
    if (t->failed) {
        return;
    }
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)n;
        char *grown = realloc(t->buf, cap);
        if (grown == NULL) {
            t->failed = 1;
            return;
        }
        t->buf = grown;
        t->cap = cap;
    }
}

/* Reads `"name":N` pairs of the JSON object that follows `"<key>":{` in
 * the overview body (our own output: flat objects of integers) and
 * writes one sample line per pair. */
static void put_counts(text *t, const char *body, const char *key, const char *metric,
                       const char *label)
{
    char needle[64];
    snprintf(needle, sizeof(needle), "\"%s\":{", key);
    const char *p = strstr(body, needle);
    if (p == NULL) {
        return;
    }
    p += strlen(needle);
    while (*p == '"') {
        const char *name = p + 1;
        const char *q = strchr(name, '"');
        if (q == NULL || q[1] != ':') {
            return;
        }
        char *end = NULL;
        long long v = strtoll(q + 2, &end, 10);
        if (end == q + 2) {
            /* A nested object (not a count): skip this key. */
            return;
        }
        put(t, "%s{%s=\"%.*s\"} %lld\n", metric, label, (int)(q - name), name, v);
        p = end;
        if (*p == ',') {
            p++;
        }
    }
}

/* Webhook deliveries by state, counted a page of 1,000 at a time (a
 * scan of the delivery queue per scrape, as the intents' counts are until
 * the storage keeps counts of its own: issue 12). A state whose count
 * fails to read is left out rather than reported short. */
static void put_delivery_counts(text *t, constra_t *h)
{
    static const char *const states[] = {"pending", "delivered", "failed"};
    put(t, "# HELP constra_webhook_deliveries Webhook deliveries in storage, by state.\n"
           "# TYPE constra_webhook_deliveries gauge\n");
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        char after[64] = "";
        size_t count = 0, got = 0;
        int ok = 1;
        do {
            constra_webhook_delivery_list *l = NULL;
            ok = constra_webhook_delivery_list_get(h, NULL, states[i], after[0] ? after : NULL,
                                                   1000, &l, NULL) == CONSTRA_OK;
            got = ok ? constra_webhook_delivery_list_count(l) : 0;
            count += got;
            if (got > 0) {
                snprintf(after, sizeof(after), "%s", constra_webhook_delivery_id(l, got - 1));
            }
            constra_webhook_delivery_list_free(l);
        } while (ok && got == 1000);
        if (ok) {
            put(t, "constra_webhook_deliveries{state=\"%s\"} %zu\n", states[i], count);
        }
    }
}

/* The sandbox overview's counts, through the router as any client gets
 * them (its JSON is documented in api.h). */
static void put_storage_counts(text *t, serve_server *s)
{
    char auth[300];
    snprintf(auth, sizeof(auth), "Bearer %s", s->secret_key ? s->secret_key : "");
    constra_http_header h[1] = {{"Authorization", auth}};
    constra_api_request req = CONSTRA_API_REQUEST_INIT;
    req.method = "GET";
    req.target = "/api/v1/sandbox/overview";
    req.headers = h;
    req.header_count = 1;
    constra_api_response *res = NULL;
    int ok = constra_api_handle(s->handle, &req, &res, NULL) == CONSTRA_OK &&
             constra_api_response_status(res) == 200;
    put(t, "# HELP constra_storage_up 1 when the storage answered this scrape.\n"
           "# TYPE constra_storage_up gauge\nconstra_storage_up %d\n", ok);
    if (ok) {
        size_t len = 0;
        const char *body = constra_api_response_body(res, &len);
        put(t, "# HELP constra_intents Payment intents in storage, by status.\n"
               "# TYPE constra_intents gauge\n");
        put_counts(t, body, "by_status", "constra_intents", "status");
        put(t, "# HELP constra_callbacks_recorded Provider results the workspace recorded, "
               "by kind.\n# TYPE constra_callbacks_recorded gauge\n");
        put_counts(t, body, "callbacks", "constra_callbacks_recorded", "kind");
        put_delivery_counts(t, s->handle);
    }
    constra_api_response_free(res);
    memset(auth, 0, sizeof(auth));
}

char *serve_metrics_text(serve_server *s, size_t *len)
{
    serve_metrics *m = s->metrics;
    text t = {malloc(8192), 0, 8192, 0};
    if (t.buf == NULL) {
        return NULL;
    }
    pthread_mutex_lock(&m->lock);
    put(&t, "# HELP constra_http_requests_total HTTP requests answered, by route, method and "
            "status.\n# TYPE constra_http_requests_total counter\n");
    for (size_t i = 0; i < m->row_count; i++) {
        put(&t, "constra_http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"} %lu\n",
            m->rows[i].route, m->rows[i].method, m->rows[i].status, m->rows[i].count);
    }
    put(&t, "# HELP constra_http_requests_unlabelled_total Requests past the label table's "
            "size.\n# TYPE constra_http_requests_unlabelled_total counter\n"
            "constra_http_requests_unlabelled_total %lu\n", m->overflow);
    put(&t, "# HELP constra_http_request_duration_seconds Time from the request line to the "
            "response.\n# TYPE constra_http_request_duration_seconds histogram\n");
    unsigned long cum = 0;
    for (size_t b = 0; b < SERVE_LATENCY_BUCKETS; b++) {
        cum += m->latency[b];
        put(&t, "constra_http_request_duration_seconds_bucket{le=\"%g\"} %lu\n", bucket_le[b],
            cum);
    }
    cum += m->latency[SERVE_LATENCY_BUCKETS];
    put(&t, "constra_http_request_duration_seconds_bucket{le=\"+Inf\"} %lu\n", cum);
    put(&t, "constra_http_request_duration_seconds_sum %.6f\n", m->latency_sum_s);
    put(&t, "constra_http_request_duration_seconds_count %lu\n", m->latency_count);
    put(&t, "# HELP constra_callbacks_total Provider callbacks received over HTTP, by "
            "result.\n# TYPE constra_callbacks_total counter\n"
            "constra_callbacks_total{result=\"accepted\"} %lu\n"
            "constra_callbacks_total{result=\"refused\"} %lu\n",
        m->callbacks_accepted, m->callbacks_refused);
    put(&t, "# HELP constra_storage_errors_total Requests answered 5xx (storage or internal "
            "failures).\n# TYPE constra_storage_errors_total counter\n"
            "constra_storage_errors_total %lu\n", m->storage_errors);
    put(&t, "# HELP constra_http_framing_refused_total Requests refused for their framing "
            "(RFC 9112).\n# TYPE constra_http_framing_refused_total counter\n"
            "constra_http_framing_refused_total %lu\n", m->framing_refused);
    pthread_mutex_unlock(&m->lock);
    put(&t, "# HELP constra_tick_failures_total Ticks (time-outs, delayed outcomes) that "
            "failed.\n# TYPE constra_tick_failures_total counter\n"
            "constra_tick_failures_total %lu\n", (unsigned long)atomic_load(&m->tick_failures));
    long open = 0;
    pthread_mutex_lock(&s->conns->lock);
    open = s->conns->open;
    pthread_mutex_unlock(&s->conns->lock);
    put(&t, "# HELP constra_http_connections Connections open now.\n"
            "# TYPE constra_http_connections gauge\nconstra_http_connections %ld\n", open);
    put(&t, "# HELP constra_http_connections_cut_total Connections cut because their request "
            "head was late.\n# TYPE constra_http_connections_cut_total counter\n"
            "constra_http_connections_cut_total %ld\n", (long)atomic_load(&s->conns->cut_total));
    put_storage_counts(&t, s);
    put(&t, "# HELP constra_start_time_seconds When the process started (Unix time).\n"
            "# TYPE constra_start_time_seconds gauge\nconstra_start_time_seconds %lld\n",
        (long long)(m->started_ms / 1000));
    if (t.failed) {
        free(t.buf);
        return NULL;
    }
    *len = t.len;
    return t.buf;
}
