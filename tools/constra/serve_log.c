/*
 * constra serve: the access log, one line per request:
 *
 *   2025-11-27T10:38:14.625Z 127.0.0.1 "POST /api/v1/payment-intents" 201 812 3.2ms idempotency_key=order_7429_deposit
 *
 * or with --log-format json, one JSON object per line:
 *
 *   {"time":"2025-11-27T10:38:14.625Z","remote":"127.0.0.1","method":"POST",
 *    "path":"/api/v1/payment-intents","status":201,"bytes":812,"duration_ms":3.2,
 *    "idempotency_key":"order_7429_deposit"}
 *
 * Never logged: the query string (a Daraja CallBackURL may carry a secret
 * there), the Authorization header, bodies. Every client-supplied field is
 * escaped (bytes outside printable ASCII, '"', '\\' and spaces become %XX)
 * so that a request cannot forge or split log lines.
 */
#define _POSIX_C_SOURCE 200809L /* getaddrinfo, strdup, gmtime_r, clocks, sigtimedwait */

#include <errno.h>
#include <string.h>
#include <time.h>

#include "serve.h"

int serve_log_open(serve_log *log, const char *spec)
{
    log->out = NULL;
    log->owned = 0;
    log->json = 0;
    if (spec == NULL || strcmp(spec, "-") == 0) {
        log->out = stderr;
        return 0;
    }
    if (strcmp(spec, "off") == 0) {
        return 0;
    }
    FILE *f = fopen(spec, "a");
    if (f == NULL) {
        fprintf(stderr, "constra serve: cannot open access log %s: %s\n", spec, strerror(errno));
        return -1;
    }
    /* Whole lines reach the file as they are written, so that `tail -f`
     * and a crash both see complete lines. */
    setvbuf(f, NULL, _IOLBF, 0);
    log->out = f;
    log->owned = 1;
    return 0;
}

void serve_log_close(serve_log *log)
{
    if (log->owned && log->out) {
        fclose(log->out);
    }
    log->out = NULL;
    log->owned = 0;
}

/* Appends s (n bytes, at most `max` of them) escaped to buf; returns the
 * new position. buf must have room for 3 * max + 1 more bytes. */
static size_t put_escaped(char *buf, size_t pos, const char *s, size_t n, size_t max)
{
    static const char hex[] = "0123456789ABCDEF";
    if (n > max) {
        n = max;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch > 0x20 && ch < 0x7f && ch != '"' && ch != '\\' && ch != '%') {
            buf[pos++] = (char)ch;
        } else {
            buf[pos++] = '%';
            buf[pos++] = hex[ch >> 4];
            buf[pos++] = hex[ch & 15];
        }
    }
    buf[pos] = '\0';
    return pos;
}

/* Longest method, path and key kept in a line (bytes before escaping). */
#define LOG_METHOD_MAX 32
#define LOG_PATH_MAX 512
#define LOG_KEY_MAX 255

void serve_log_write(serve_log *log, const serve_log_entry *e)
{
    if (log->out == NULL) {
        return;
    }
    char when[40];
    time_t secs = (time_t)(e->wall_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t w = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + w, sizeof(when) - w, ".%03dZ", (int)(e->wall_ms % 1000));

    char method[3 * LOG_METHOD_MAX + 1];
    char path[3 * LOG_PATH_MAX + 1];
    char key[3 * LOG_KEY_MAX + 1];
    put_escaped(method, 0, e->method, strlen(e->method), LOG_METHOD_MAX);
    put_escaped(path, 0, e->path, e->path_len, LOG_PATH_MAX);
    key[0] = '\0';
    if (e->idempotency_key) {
        put_escaped(key, 0, e->idempotency_key, strlen(e->idempotency_key), LOG_KEY_MAX);
    }
    /* One fprintf per line: stdio locks the stream for the call, so lines
     * from several threads never interleave. */
    if (log->json) {
        /* The escaped fields hold no '"', '\\' or control byte: they are
         * valid JSON string contents as they are. */
        fprintf(log->out,
                "{\"time\":\"%s\",\"remote\":\"%s\",\"method\":\"%s\",\"path\":\"%s\","
                "\"status\":%d,\"bytes\":%zu,\"duration_ms\":%.1f,\"idempotency_key\":%s%s%s}\n",
                when, e->remote, method, path, e->status, e->bytes, e->duration_ms,
                e->idempotency_key ? "\"" : "null", key, e->idempotency_key ? "\"" : "");
        return;
    }
    fprintf(log->out, "%s %s \"%s %s\" %d %zu %.1fms%s%s\n", when, e->remote, method, path,
            e->status, e->bytes, e->duration_ms, e->idempotency_key ? " idempotency_key=" : "",
            key);
}
