/*
 * constra serve: the gate's verdict on a first request head (see
 * serve_gate.c for why the gate exists). Pure and self-contained, so the
 * fuzz harness tests/fuzz/fuzz_serve_gate.c links this file alone.
 *
 * Only what libmicrohttpd 0.9.75 would refuse on its own (with HTML, or a
 * closed connection) is judged here; everything else a head may get wrong
 * (duplicate Content-Length, Transfer-Encoding, unknown headers) reaches
 * serve_http.c and the router, which answer it in JSON themselves.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "serve.h"

/* The request target, as the router's own limit (lib/api/router.c). */
#define GATE_TARGET_MAX 8192
/* The longest request line: a method, the longest target, the version. */
#define GATE_LINE_MAX (GATE_TARGET_MAX + 32)
/* Field lines, as serve_http.c's HEADERS_MAX. */
#define GATE_FIELDS_MAX 100

/* ---- the verdict on a head ----------------------------------------------------- */

static int is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int refuse(serve_gate_verdict *v, int status, const char *code, const char *param,
                  const char *message)
{
    v->status = status;
    v->code = code;
    v->param = param;
    v->message = message;
    return SERVE_GATE_REFUSE;
}

static int name_is(const char *p, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

/* The request line: method SP request-target SP HTTP-version (RFC 9112
 * 3), nothing more. */
static int judge_line(const char *p, size_t n, serve_gate_verdict *v)
{
    if (n > GATE_LINE_MAX) {
        return refuse(v, 414, "uri_too_long", NULL, "the request target is longer than 8192 bytes");
    }
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)p[i])) {
        i++;
    }
    if (i == 0 || i >= n || p[i] != ' ') {
        return refuse(v, 400, "request_malformed", NULL,
                      "the request line is malformed (method SP target SP HTTP/1.1)");
    }
    size_t t0 = ++i;
    while (i < n && (unsigned char)p[i] > 0x20 && (unsigned char)p[i] < 0x7f) {
        i++;
    }
    if (i - t0 > GATE_TARGET_MAX) {
        return refuse(v, 414, "uri_too_long", NULL,
                      "the request target is longer than 8192 bytes");
    }
    if (i == t0 || i >= n || p[i] != ' ') {
        return refuse(v, 400, "request_malformed", NULL,
                      "the request line is malformed (method SP target SP HTTP/1.1)");
    }
    i++;
    const char *ver = p + i;
    size_t vn = n - i;
    if (vn != 8 || memcmp(ver, "HTTP/", 5) != 0 || ver[6] != '.' || ver[5] < '0' ||
        ver[5] > '9' || ver[7] < '0' || ver[7] > '9') {
        return refuse(v, 400, "request_malformed", NULL,
                      "the request line is malformed (method SP target SP HTTP/1.1)");
    }
    if (ver[5] != '1') {
        return refuse(v, 505, "http_version_not_supported", NULL,
                      "only HTTP/1.0 and HTTP/1.1 are served");
    }
    v->http11 = ver[7] != '0';
    return SERVE_GATE_PASS;
}

/* One field line (RFC 9112 5): name ":" OWS value OWS, the value of
 * visible octets, spaces and tabs only. */
static int judge_field(const char *p, size_t n, serve_gate_verdict *v, int *hosts)
{
    if (p[0] == ' ' || p[0] == '\t') {
        return refuse(v, 400, "request_malformed", NULL,
                      "a header field is folded over several lines (obsolete line folding)");
    }
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)p[i])) {
        i++;
    }
    if (i == 0 || i >= n || p[i] != ':') {
        return refuse(v, 400, "request_malformed", NULL,
                      "a header line is not a field (name, colon, value; no space before the "
                      "colon)");
    }
    size_t name_len = i++;
    for (size_t k = i; k < n; k++) {
        unsigned char c = (unsigned char)p[k];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return refuse(v, 400, "request_malformed", NULL,
                          "a header value holds a control character (NUL, CR, ...)");
        }
    }
    while (i < n && (p[i] == ' ' || p[i] == '\t')) {
        i++;
    }
    size_t end = n;
    while (end > i && (p[end - 1] == ' ' || p[end - 1] == '\t')) {
        end--;
    }
    if (name_is(p, name_len, "Host")) {
        (*hosts)++;
    } else if (name_is(p, name_len, "Content-Length")) {
        size_t digits = end - i;
        for (size_t k = i; k < end; k++) {
            if (p[k] < '0' || p[k] > '9') {
                digits = 0;
                break;
            }
        }
        if (digits == 0) {
            return refuse(v, 400, "request_malformed", "Content-Length",
                          "the Content-Length header is not a number");
        }
        if (digits > 18) {
            return refuse(v, 413, "body_too_large", "body",
                          "the request body is larger than 65536 bytes");
        }
    }
    return SERVE_GATE_PASS;
}

int serve_gate_judge(const char *buf, size_t n, serve_gate_verdict *v)
{
    memset(v, 0, sizeof(*v));
    size_t pos = 0, fields = 0;
    int hosts = 0;
    /* RFC 9112 2.2: empty lines before the request line are ignored. */
    while (pos < n && (buf[pos] == '\r' || buf[pos] == '\n')) {
        if (buf[pos] == '\r' && (pos + 1 >= n || buf[pos + 1] != '\n')) {
            break;
        }
        pos += buf[pos] == '\r' ? 2 : 1;
    }
    for (;;) {
        const char *lf = memchr(buf + pos, '\n', n - pos);
        if (lf == NULL) {
            if (!v->has_line && n - pos > GATE_LINE_MAX) {
                /* The request line is too long, wherever it ends. */
                return refuse(v, 414, "uri_too_long", NULL,
                              "the request target is longer than 8192 bytes");
            }
            if (n >= SERVE_GATE_HEAD_MAX) {
                return refuse(v, 431, "header_too_large", NULL,
                              "the request head is larger than 16384 bytes");
            }
            return SERVE_GATE_MORE;
        }
        size_t len = (size_t)(lf - (buf + pos));
        /* CR LF, or a bare LF (RFC 9112 2.2 lets a server accept it). */
        if (len > 0 && buf[pos + len - 1] == '\r') {
            len--;
        }
        if (pos + len + 1 > SERVE_GATE_HEAD_MAX) {
            return refuse(v, 431, "header_too_large", NULL,
                          "the request head is larger than 16384 bytes");
        }
        const char *line = buf + pos;
        pos = (size_t)(lf - buf) + 1;
        if (!v->has_line) {
            if (judge_line(line, len, v) == SERVE_GATE_REFUSE) {
                return SERVE_GATE_REFUSE;
            }
            v->has_line = 1;
            continue;
        }
        if (len == 0) {
            break; /* the end of the head */
        }
        if (++fields > GATE_FIELDS_MAX) {
            return refuse(v, 431, "header_too_large", NULL,
                          "the request has more than 100 header fields");
        }
        if (judge_field(line, len, v, &hosts) == SERVE_GATE_REFUSE) {
            return SERVE_GATE_REFUSE;
        }
    }
    if (hosts > 1) {
        return refuse(v, 400, "request_malformed", "Host", "the Host header is given twice");
    }
    if (hosts == 0 && v->http11) {
        return refuse(v, 400, "request_malformed", "Host",
                      "an HTTP/1.1 request must carry a Host header");
    }
    return SERVE_GATE_PASS;
}

