/*
 * GET /workspace: the handle's configuration as an operator console needs
 * it (API and library version, mode, workspace id, rail, short code,
 * callback path and URL, retry policy). Read-only, no storage access;
 * never shows the key. Also the public base URL the callback URL is
 * built on (constra_api_set_public_url) and that URL for hosts
 * (constra_api_callback_url).
 */
#include <string.h>

#include "api/routes.h"
#include "constra/version.h"
#include "platform/platform.h"
#include "util/check.h"
#include "webhook/ssrf.h"

/* The Daraja sandbox's Lipa na M-Pesa short code, which the simulator
 * stands in for. A live handle's short code belongs to the Daraja rail's
 * own configuration, which the handle does not hold: null there. */
#define SANDBOX_SHORTCODE "174379"

/* The route the router itself serves (see match() in router.c). */
#define CALLBACK_PATH "/api/v1/providers/mpesa/callback"

int constra_api_set_public_url(constra_t *h, const char *base_url, constra_error *err)
{
    if (h == NULL) {
        return constra__fail_null(err, "handle");
    }
    char copy[CONSTRA__PUBLIC_URL_MAX + 1] = "";
    if (base_url != NULL && base_url[0] != '\0') {
        size_t len;
        int rc = constra__check_str(base_url, CONSTRA__PUBLIC_URL_MAX, 0, "base_url", &len, err);
        if (rc != CONSTRA_OK) {
            return rc;
        }
        constra__url u;
        rc = constra__url_parse(base_url, &u, "base_url", err);
        if (rc != CONSTRA_OK) {
            return rc;
        }
        if (strpbrk(base_url, "?#\"'<>`{}|^") != NULL) {
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "url_invalid", "base_url",
                                 "base_url must be an origin with an optional path: no query, "
                                 "fragment, quotes or angle brackets");
        }
        while (len > 0 && base_url[len - 1] == '/') {
            len--; /* the path appended starts with its own '/' */
        }
        memcpy(copy, base_url, len);
        copy[len] = '\0';
    }
    constra__lock(&h->platform, h->mutex);
    memcpy(h->public_url, copy, sizeof(h->public_url));
    constra__unlock(&h->platform, h->mutex);
    return CONSTRA_OK;
}

/* "<public url><callback path>?token=<token>" into out; 0, or -1 when
 * there is no public URL or no token (callbacks are all refused then). */
static int callback_url(constra_t *h, char *out, size_t size)
{
    constra__lock(&h->platform, h->mutex);
    int have = h->public_url[0] != '\0' && h->callback_token[0] != '\0';
    if (have) {
        constra__strlcpy(out, h->public_url, size);
    }
    constra__unlock(&h->platform, h->mutex);
    if (!have) {
        return -1;
    }
    size_t n = strlen(out);
    /* Both parts are bounded (1024 + 64) and the buffer is larger. */
    constra__strlcpy(out + n, CALLBACK_PATH "?token=", size - n);
    n += strlen(out + n);
    constra__strlcpy(out + n, h->callback_token, size - n);
    return 0;
}

#define CALLBACK_URL_SIZE (CONSTRA__PUBLIC_URL_MAX + sizeof(CALLBACK_PATH) + 8 + 65)

int constra_api_callback_url(constra_t *h, char *out, size_t out_size, constra_error *err)
{
    if (h == NULL) {
        return constra__fail_null(err, "handle");
    }
    if (out == NULL) {
        return constra__fail_null(err, "out");
    }
    if (h->remote_ops) {
        return constra__fail(err, CONSTRA_E_UNSUPPORTED, "remote_handle", "handle",
                             "a remote handle receives no callbacks; its server has the URL");
    }
    char url[CALLBACK_URL_SIZE];
    if (callback_url(h, url, sizeof(url)) != 0) {
        return constra__fail(err, CONSTRA_E_INVALID_STATE, "callback_url_unavailable", NULL,
                             h->callback_token[0] == '\0'
                                 ? "the handle has no callback token (no secret key and no "
                                   "config.callback_token): every callback is refused"
                                 : "no public URL is set (constra_api_set_public_url)");
    }
    size_t len = strlen(url);
    if (len >= out_size) {
        return constra__fail(err, CONSTRA_E_BUFFER_TOO_SMALL, NULL, "out_size",
                             "the callback URL needs %zu bytes", len + 1);
    }
    memcpy(out, url, len + 1);
    return CONSTRA_OK;
}

int constra__api_workspace(constra__api_ctx *c)
{
    constra_t *h = c->h;
    if (h->remote_ops) {
        /* Its settings are the server's, not this handle's. */
        return constra__api_error(c, 501, "remote_handle", NULL,
                                  "the workspace is not served by a remote handle; ask its "
                                  "server");
    }
    int live = h->mode == CONSTRA_MODE_LIVE;
    char url[CALLBACK_URL_SIZE];
    int have_url = callback_url(h, url, sizeof(url)) == 0;
    constra__sbuf b;
    constra__sbuf_init(&b, &c->h->platform);
    constra__sbuf_puts(&b, "{\"object\":\"workspace\",\"api_version\":\"v1\",\"library_version\":");
    constra__sbuf_json_str(&b, constra_version());
    constra__sbuf_puts(&b, ",\"livemode\":");
    constra__sbuf_puts(&b, live ? "true" : "false");
    constra__sbuf_puts(&b, ",\"workspace_id\":");
    constra__sbuf_json_str(&b, h->workspace_id[0] ? h->workspace_id : NULL);
    constra__sbuf_puts(&b, ",\"callback_url\":");
    constra__sbuf_json_str(&b, have_url ? url : NULL);
    constra__sbuf_puts(&b, ",\"rail\":{\"name\":");
    constra__sbuf_json_str(&b, h->rail.name);
    constra__sbuf_puts(&b, ",\"provider\":\"mpesa\",\"shortcode\":");
    constra__sbuf_json_str(&b, live ? NULL : SANDBOX_SHORTCODE);
    constra__sbuf_puts(&b, ",\"callback_path\":\"" CALLBACK_PATH "\"}");
    constra__sbuf_puts(&b, ",\"retry_policy\":{\"max_attempts\":");
    constra__sbuf_int(&b, h->max_attempts);
    constra__sbuf_puts(&b, ",\"callback_timeout_ms\":");
    constra__sbuf_int(&b, h->callback_timeout_ms);
    constra__sbuf_puts(&b, ",\"idempotency_retention_ms\":");
    constra__sbuf_int(&b, h->idempotency_retention_ms);
    constra__sbuf_puts(&b, "}}");
    return constra__api_reply_sbuf(c, 200, &b);
}
