/*
 * Daraja STK callbacks into the engine: authenticate (the rail's
 * authenticate_callback), parse (the rail's parse_callback, else the
 * mpesa/ layer's parser), apply it like any other provider result.
 */
#include <string.h>

#include "constra/daraja.h"
#include "engine/engine.h"
#include "platform/platform.h"
#include "rails/daraja_result.h"
#include "util/check.h"

/* The built-in Daraja parse (for rails without parse_callback). */
static int parse_builtin(const char *body, size_t len, constra_rail_result *r, constra_error *e)
{
    constra_daraja_stk_callback cb = CONSTRA_DARAJA_STK_CALLBACK_INIT;
    int rc = constra_daraja_parse_stk_callback(body, len, &cb, e);
    return rc != CONSTRA_OK ? rc : constra__rail_result_from_stk_callback(&cb, r, e);
}

/* Every callback proves where it comes from by the token in the URL it
 * was sent to: the rail's own check when it has one (the Daraja rail's
 * callback_token, rail_daraja.h), else the handle's callback token
 * (config.callback_token, or derived from the secret key), for every rail
 * including the simulator. A handle with neither refuses them all. */
static int callback_authentic(constra_t *h, const char *query, size_t query_len)
{
    if (query == NULL) {
        query_len = 0;
    }
    if (h->rail.authenticate_callback) {
        return h->rail.authenticate_callback(h->rail.user_data, query, query_len) == CONSTRA_OK;
    }
    return constra__query_has_token(query, query_len, h->callback_token);
}

/* `authenticated`: the host vouched for the request itself
 * (constra_handle_mpesa_callback_preauthenticated); no token is checked. */
static int callback_impl(constra_t *h, int authenticated, const char *query, size_t query_len,
                         const char *body, size_t len, constra_error *err)
{
    if (h == NULL) {
        return constra__fail_null(err, "handle");
    }
    constra_error e = CONSTRA_ERROR_INIT;
    if (body == NULL) {
        return constra__report(constra__fail_null(&e, "body"), &e, err);
    }
    if (h->remote_ops) {
        /* Daraja calls the server that made the push, not its clients. */
        return constra__report(constra__fail(&e, CONSTRA_E_UNSUPPORTED, "remote_handle",
                                                    NULL, "a remote handle does not take "
                                                    "provider callbacks; the server does"), &e, err);
    }
    if (!authenticated && !callback_authentic(h, query, query_len)) {
        /* Forged, replayed from elsewhere or misrouted: nothing is stored,
         * no event is written (unauthenticated traffic must not grow the
         * storage); a counter is the only trace (the overview shows it). */
        constra__lock(&h->platform, h->mutex);
        uint64_t refused = ++h->callbacks_refused;
        constra__unlock(&h->platform, h->mutex);
        if (refused == 1 || refused % 1000 == 0) {
            constra__log(&h->platform, CONSTRA_LOG_WARN,
                         "refused a provider callback without a valid token (%llu so far)",
                         (unsigned long long)refused);
        }
        int rc = constra__fail_http(&e, CONSTRA_E_AUTH, 401, "callback_unauthenticated", "token",
                                    "the callback URL does not carry this workspace's callback "
                                    "token");
        return constra__report(rc, &e, err);
    }
    constra_rail_result r;
    memset(&r, 0, sizeof(r));
    r.struct_size = sizeof(r);
    int rc;
    if (h->rail.parse_callback) {
        rc = h->rail.parse_callback(h->rail.user_data, body, len, &r);
        if (rc != CONSTRA_OK) {
            /* The rail's parse uses the same parser: say so in its terms. */
            constra_daraja_stk_callback cb = CONSTRA_DARAJA_STK_CALLBACK_INIT;
            if (constra_daraja_parse_stk_callback(body, len, &cb, &e) == CONSTRA_OK) {
                constra__fail(&e, rc, "callback_unusable", NULL,
                              "the rail could not use this callback");
            }
            return constra__report(rc, &e, err);
        }
        if (r.outcome == CONSTRA_RAIL_PENDING) {
            return CONSTRA_OK; /* held by the rail until confirmed */
        }
    } else {
        rc = parse_builtin(body, len, &r, &e);
        if (rc != CONSTRA_OK) {
            return constra__report(rc, &e, err);
        }
    }
    int64_t now = constra__wall_ms(&h->platform);
    rc = constra__engine_apply_result(h, &r, 0, now, &e);
    return rc == CONSTRA_OK ? CONSTRA_OK : constra__report(rc, &e, err);
}

int constra_handle_mpesa_callback(constra_t *h, const char *query, size_t query_len,
                                  const char *body, size_t len, constra_error *err)
{
    return callback_impl(h, 0, query, query_len, body, len, err);
}

int constra_handle_mpesa_callback_preauthenticated(constra_t *h, const char *body, size_t len,
                                                   constra_error *err)
{
    return callback_impl(h, 1, NULL, 0, body, len, err);
}
