/*
 * GET /workspace: the handle's configuration as an operator console needs
 * it (API and library version, mode, rail, short code, callback path,
 * retry policy). Read-only, no storage access; never shows the key.
 */
#include "api/router.h"
#include "constra/version.h"

/* The Daraja sandbox's Lipa na M-Pesa short code, which the simulator
 * stands in for. A live handle's short code belongs to the Daraja rail's
 * own configuration, which the handle does not hold: null there. */
#define SANDBOX_SHORTCODE "174379"

int constra__api_workspace(constra__api_ctx *c)
{
    const constra_t *h = c->h;
    if (h->remote_ops) {
        /* Its settings are the server's, not this handle's. */
        return constra__api_error(c, 501, "remote_handle", NULL,
                                  "the workspace is not served by a remote handle; ask its "
                                  "server");
    }
    int live = h->mode == CONSTRA_MODE_LIVE;
    constra__sbuf b;
    constra__sbuf_init(&b, &c->h->platform);
    constra__sbuf_puts(&b, "{\"object\":\"workspace\",\"api_version\":\"v1\",\"library_version\":");
    constra__sbuf_json_str(&b, constra_version());
    constra__sbuf_puts(&b, ",\"livemode\":");
    constra__sbuf_puts(&b, live ? "true" : "false");
    constra__sbuf_puts(&b, ",\"rail\":{\"name\":");
    constra__sbuf_json_str(&b, h->rail.name);
    constra__sbuf_puts(&b, ",\"provider\":\"mpesa\",\"shortcode\":");
    constra__sbuf_json_str(&b, live ? NULL : SANDBOX_SHORTCODE);
    /* The route the router itself serves (see match() in router.c). */
    constra__sbuf_puts(&b, ",\"callback_path\":\"/api/v1/providers/mpesa/callback\"}");
    constra__sbuf_puts(&b, ",\"retry_policy\":{\"max_attempts\":");
    constra__sbuf_int(&b, h->max_attempts);
    constra__sbuf_puts(&b, ",\"callback_timeout_ms\":");
    constra__sbuf_int(&b, h->callback_timeout_ms);
    constra__sbuf_puts(&b, ",\"idempotency_retention_ms\":");
    constra__sbuf_int(&b, h->idempotency_retention_ms);
    constra__sbuf_puts(&b, "}}");
    return constra__api_reply_sbuf(c, 200, &b);
}
