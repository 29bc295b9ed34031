/*
 * The remote backend: its configuration (from a struct or the Constra
 * environment variables), constra_open_remote(), and the remote_ops the
 * engine's public calls hand over to (engine.h).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "constra/intent.h"
#include "engine/lists.h"
#include "platform/platform.h"
#include "util/check.h"
#include "util/encode.h"
#include "util/sbuf.h"

/* The libcurl transport is the default when the library has its API (it
 * answers CONSTRA_E_UNSUPPORTED itself when built without libcurl). */
#if defined(__has_include)
#  if __has_include("constra/transport_curl.h")
#    include "constra/transport_curl.h"
#    define CONSTRA__CLIENT_CURL_API 1
#  endif
#endif

#define BASE_URL_MAX 2000
#define DEFAULT_TRIES 3
#define MAX_TRIES 10
#define DEFAULT_BACKOFF_BASE_MS 200
#define DEFAULT_BACKOFF_MAX_MS 5000
#define DEFAULT_ATTEMPTS 3
/* A caller's text is passed to the server, which checks it; this only
 * bounds how far we read (an unterminated string is refused here). */
#define TEXT_READ_MAX 4096

/* The first published layout ends after `transport`. */
#define REMOTE_V1_SIZE (offsetof(constra_remote_config, transport) + sizeof(void *))

int constra_remote_config_init(constra_remote_config *config, size_t struct_size)
{
    return constra__init_struct(config, struct_size, REMOTE_V1_SIZE, sizeof(*config), NULL);
}

/* ---- checks shared by the environment reader and open -------------------- */

static int check_base_url(const char *url, const char *param, constra_error *err)
{
    size_t len;
    int rc = constra__check_str(url, BASE_URL_MAX, 0, param, &len, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    size_t scheme = strncmp(url, "https://", 8) == 0 ? 8 : strncmp(url, "http://", 7) == 0 ? 7 : 0;
    if (scheme == 0 || len == scheme || url[scheme] == '/') {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", param,
                             "%s must be an http:// or https:// URL with a host "
                             "(\"https://api.constra.example/v1\")", param);
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)url[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '?' || ch == '#') {
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", param,
                                 "%s must have no spaces, control characters, query or "
                                 "fragment", param);
        }
    }
    return CONSTRA_OK;
}

/* The key's mode from its prefix: 0 sandbox, 1 live, -1 neither. */
static int key_mode(const char *key)
{
    if (strncmp(key, "cs_test_", 8) == 0) {
        return CONSTRA_MODE_SANDBOX;
    }
    if (strncmp(key, "cs_live_", 8) == 0) {
        return CONSTRA_MODE_LIVE;
    }
    return -1;
}

static int check_key(const char *key, const char *param, constra_error *err)
{
    size_t len;
    int rc = constra__check_str(key, 127, 0, param, &len, err);
    if (rc != CONSTRA_OK) {
        /* never the value: it is a secret */
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", param,
                             "%s must be a secret key of 16 to 127 characters", param);
    }
    int ok = len >= 16 && key_mode(key) >= 0;
    for (size_t i = 0; ok && i < len; i++) {
        ok = key[i] > 0x20 && key[i] < 0x7f;
    }
    if (!ok) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", param,
                             "%s must start with cs_test_ or cs_live_ and have 16 to 127 "
                             "printable characters", param);
    }
    return CONSTRA_OK;
}

static int check_provider(const char *provider, const char *param, constra_error *err)
{
    if (provider != NULL && strcmp(provider, "mpesa") != 0) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "provider_unsupported", param,
                             "%s must be \"mpesa\"", param);
    }
    return CONSTRA_OK;
}

/* ---- the environment ------------------------------------------------------ */

static const char *std_getenv(void *user_data, const char *name)
{
    (void)user_data;
    return getenv(name);
}

/* Re-labels a check's failure as the environment variable's. */
static int env_fail(constra_error *err, int rc, const char *var)
{
    if (err != NULL && rc != CONSTRA_OK) {
        constra__strlcpy(err->code, "environment_invalid", sizeof(err->code));
        constra__strlcpy(err->param, var, sizeof(err->param));
    }
    return rc;
}

int constra_remote_config_from_env(constra_remote_config *config, constra_getenv_fn getenv_fn,
                                   void *user_data, constra_error *err)
{
    if (config == NULL) {
        return constra__fail_null(err, "config");
    }
    int rc = constra__check_struct(config, REMOTE_V1_SIZE, sizeof(*config), "config", err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra_getenv_fn get = getenv_fn ? getenv_fn : std_getenv;
    const char *names[5] = {"CONSTRA_API_BASE_URL", "CONSTRA_SECRET_KEY", "CONSTRA_ENVIRONMENT",
                            "CONSTRA_DEFAULT_PROVIDER", "CONSTRA_WEBHOOK_SECRET"};
    const char *v[5];
    for (int i = 0; i < 5; i++) {
        v[i] = get(user_data, names[i]);
        if (v[i] != NULL && v[i][0] == '\0') {
            v[i] = NULL;
        }
    }
    for (int i = 0; i < 2; i++) {
        if (v[i] == NULL) {
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "environment_missing",
                                 names[i], "%s is not set: it is required for a remote handle",
                                 names[i]);
        }
    }
    if ((rc = check_base_url(v[0], names[0], err)) != CONSTRA_OK) {
        return env_fail(err, rc, names[0]);
    }
    if ((rc = check_key(v[1], names[1], err)) != CONSTRA_OK) {
        return env_fail(err, rc, names[1]);
    }
    int mode = key_mode(v[1]);
    if (v[2] != NULL) {
        /* "production" is what the hosted docs call live. */
        int want = strcmp(v[2], "sandbox") == 0                                   ? CONSTRA_MODE_SANDBOX
                   : strcmp(v[2], "live") == 0 || strcmp(v[2], "production") == 0 ? CONSTRA_MODE_LIVE
                                                                                  : -1;
        if (want < 0) {
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "environment_invalid",
                                 names[2],
                                 "CONSTRA_ENVIRONMENT must be \"sandbox\", \"live\" or "
                                 "\"production\" (the same as live)");
        }
        if (want != mode) {
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "environment_invalid",
                                 names[2],
                                 "CONSTRA_ENVIRONMENT is %s but CONSTRA_SECRET_KEY is a %s key "
                                 "(%s...)", want ? "live" : "sandbox", mode ? "live" : "sandbox",
                                 mode ? "cs_live_" : "cs_test_");
        }
    }
    if ((rc = check_provider(v[3], names[3], err)) != CONSTRA_OK) {
        return env_fail(err, rc, names[3]);
    }
    if (v[4] != NULL && (rc = constra__check_str(v[4], 255, 0, names[4], NULL, err)) != CONSTRA_OK) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "environment_invalid", names[4],
                             "CONSTRA_WEBHOOK_SECRET must be 1 to 255 characters");
    }
    config->base_url = v[0];
    config->secret_key = v[1];
    config->mode = mode;
    if (v[3] != NULL) {
        config->default_provider = v[3];
    }
    if (v[4] != NULL) {
        config->webhook_secret = v[4];
    }
    return CONSTRA_OK;
}

/* ---- the calls ----------------------------------------------------------- */

/* The intent of a 2xx answer. `want_id` (NULL for create) is the id the
 * request named: an answer about another intent is refused, never handed
 * out as if it were the one asked for. */
static int respond_intent(constra_t *h, constra_transport_response *resp, const char *want_id,
                          constra_intent **out, constra_error *e)
{
    size_t len = 0;
    const char *body = constra_transport_response_body(resp, &len);
    const char *rep = constra_transport_response_header(resp, "Idempotent-Replayed");
    constra_intent *in = NULL;
    int rc = constra__client_parse_intent(h, body, len, rep && strcmp(rep, "true") == 0, &in, e);
    constra_transport_response_free(resp);
    if (rc == CONSTRA_OK && want_id && strcmp(constra_intent_id(in), want_id) != 0) {
        constra_intent_free(in);
        return constra__fail_http(e, CONSTRA_E_PARSE, 502, "response_malformed", "id",
                             "the server answered about another payment intent than %s",
                             want_id);
    }
    if (rc == CONSTRA_OK) {
        *out = in;
    }
    return rc;
}

static int remote_create(constra_t *h, const constra_intent_params *params, const char *key,
                         constra_intent **out, constra_error *e)
{
    constra__client *c = h->remote;
    if (params == NULL) {
        return constra__fail_null(e, "params");
    }
    constra_intent_params p = CONSTRA_INTENT_PARAMS_INIT;
    int rc = constra__check_struct(params, sizeof(p), sizeof(p), "params", e);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra__copy_struct(&p, sizeof(p), params);
    static const char *const names[] = {"currency", "provider", "phone_number", "customer_name",
                                        "reference", "description"};
    const char *texts[] = {p.currency, p.provider, p.phone_number, p.customer_name, p.reference,
                           p.description};
    for (size_t i = 0; i < CONSTRA__ARRAY_LEN(texts); i++) {
        if (texts[i] && (rc = constra__check_str(texts[i], TEXT_READ_MAX, 1, names[i], NULL, e)) !=
                            CONSTRA_OK) {
            return rc;
        }
    }
    if (p.agent_policy < CONSTRA_AGENT_OPERATOR_REVIEW || p.agent_policy > CONSTRA_AGENT_NONE) {
        return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "agent_policy",
                             "agent_policy must be operator_review, auto_retry or none");
    }
    /* Checked and canonicalised here as a local engine would: the server
     * gets the same bytes whatever order the caller wrote the keys in. */
    char *metadata = NULL;
    size_t metadata_len = 0;
    if ((rc = constra__metadata_from_text(p.metadata, &h->platform, &metadata, &metadata_len,
                                          e)) != CONSTRA_OK) {
        return rc;
    }
    static const char *const policy[] = {"operator_review", "auto_retry", "none"};
    constra__sbuf b;
    constra__sbuf_init(&b, &h->platform);
    constra__sbuf_puts(&b, "{\"amount\":");
    constra__sbuf_int(&b, p.amount);
    if (p.currency) {
        constra__sbuf_json_key(&b, "currency", 0);
        constra__sbuf_json_str(&b, p.currency);
    }
    constra__sbuf_json_key(&b, "provider", 0);
    constra__sbuf_json_str(&b, p.provider ? p.provider : c->default_provider);
    constra__sbuf_json_key(&b, "customer", 0);
    constra__sbuf_puts(&b, "{");
    int first = 1;
    if (p.customer_name) {
        constra__sbuf_json_key(&b, "name", first);
        constra__sbuf_json_str(&b, p.customer_name);
        first = 0;
    }
    if (p.phone_number) {
        constra__sbuf_json_key(&b, "phone_number", first);
        constra__sbuf_json_str(&b, p.phone_number);
    }
    constra__sbuf_puts(&b, "}");
    if (p.reference) {
        constra__sbuf_json_key(&b, "reference", 0);
        constra__sbuf_json_str(&b, p.reference);
    }
    if (p.description) {
        constra__sbuf_json_key(&b, "description", 0);
        constra__sbuf_json_str(&b, p.description);
    }
    constra__sbuf_json_key(&b, "agent_policy", 0);
    constra__sbuf_json_str(&b, policy[p.agent_policy]);
    if (p.draft) {
        constra__sbuf_json_key(&b, "draft", 0);
        constra__sbuf_puts(&b, "true");
    }
    if (metadata != NULL) {
        constra__sbuf_json_key(&b, "metadata", 0);
        constra__sbuf_append(&b, metadata, metadata_len);
        constra__free(&h->platform, metadata);
    }
    constra__sbuf_puts(&b, "}");
    size_t body_len = 0;
    char *body = constra__sbuf_take(&b, &body_len);
    if (body == NULL) {
        return constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    /* The caller's key on every try: the server's idempotency turns a
     * repeat into a replay, never a second intent. */
    constra__call call = {"POST", "/payment-intents", body, body_len, key,
                          CONSTRA__RETRY_SAFE, 0};
    constra_transport_response *resp = NULL;
    rc = constra__client_call(h, &call, &resp, e);
    constra__free(&h->platform, body);
    return rc == CONSTRA_OK ? respond_intent(h, resp, NULL, out, e) : rc;
}

static int get_intent_q(constra_t *h, const char *id, const char *query, constra_intent **out,
                        constra_error *e)
{
    char path[128];
    snprintf(path, sizeof(path), "/payment-intents/%s%s", id, query);
    constra__call call = {"GET", path, NULL, 0, NULL, CONSTRA__RETRY_SAFE, 0};
    constra_transport_response *resp = NULL;
    int rc = constra__client_call(h, &call, &resp, e);
    return rc == CONSTRA_OK ? respond_intent(h, resp, id, out, e) : rc;
}

static int get_intent(constra_t *h, const char *id, constra_intent **out, constra_error *e)
{
    return get_intent_q(h, id, "", out, e);
}

static int remote_get(constra_t *h, const char *id, constra_intent **out, constra_error *e)
{
    return get_intent(h, id, out, e);
}

static int remote_refresh(constra_t *h, const char *id, constra_intent **out, constra_error *e)
{
    return get_intent_q(h, id, "?refresh=true", out, e);
}

/* Whether `in` is the state the action leads to (a repeated action that
 * met 409 invalid_state had in fact taken effect on an earlier try). */
static int action_done(const constra__remote_action *a, const constra_intent *in)
{
    int s = constra_intent_status(in);
    switch (a->kind) {
    case CONSTRA__ACT_CANCEL:
        return s == CONSTRA_INTENT_CANCELLED;
    case CONSTRA__ACT_CONFIRM:
        return s != CONSTRA_INTENT_DRAFT;
    case CONSTRA__ACT_RESOLVE:
        return a->succeeded ? s == CONSTRA_INTENT_SUCCEEDED &&
                                  strcmp(constra_intent_receipt(in), a->receipt) == 0
                            : s == CONSTRA_INTENT_FAILED;
    default:
        return 0;
    }
}

static int remote_action(constra_t *h, const constra__remote_action *a, constra_intent **out,
                         constra_error *e)
{
    static const char *const verbs[] = {"", "confirm", "retry", "cancel", "resolve",
                                        "simulate-callback"};
    char path[96];
    snprintf(path, sizeof(path), "/payment-intents/%s/%s", a->id, verbs[a->kind]);
    constra__sbuf b;
    constra__sbuf_init(&b, &h->platform);
    if (a->kind == CONSTRA__ACT_RESOLVE) {
        constra__sbuf_puts(&b, a->succeeded ? "{\"outcome\":\"succeeded\"" : "{\"outcome\":\"failed\"");
        if (a->succeeded) {
            constra__sbuf_json_key(&b, "receipt", 0);
            constra__sbuf_json_str(&b, a->receipt);
        }
        if (a->note) {
            constra__sbuf_json_key(&b, "note", 0);
            constra__sbuf_json_str(&b, a->note);
        }
        constra__sbuf_puts(&b, "}");
    } else if (a->kind == CONSTRA__ACT_SIMULATE) {
        constra__sbuf_puts(&b, "{\"result_code\":");
        constra__sbuf_json_str(&b, a->result_code);
        if (a->result_desc) {
            constra__sbuf_json_key(&b, "result_desc", 0);
            constra__sbuf_json_str(&b, a->result_desc);
        }
        constra__sbuf_puts(&b, "}");
    } else {
        constra__sbuf_puts(&b, "{}");
    }
    size_t body_len = 0;
    char *body = constra__sbuf_take(&b, &body_len);
    /* A key per call, the same on each try: ignored by the Constra router
     * on actions, honoured by a server that replays them. */
    char key[CONSTRA_ID_SIZE];
    int rc = body ? constra__new_id(h, "req", key, sizeof(key), e)
                  : constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    if (rc != CONSTRA_OK) {
        constra__free(&h->platform, body);
        return rc;
    }
    int policy = a->kind == CONSTRA__ACT_RETRY      ? CONSTRA__RETRY_NOT_SENT
                 : a->kind == CONSTRA__ACT_SIMULATE ? CONSTRA__RETRY_SAFE
                                                    : CONSTRA__RETRY_GUARDED;
    constra__call call = {"POST", path, body, body_len, key, policy, 0};
    constra_transport_response *resp = NULL;
    rc = constra__client_call(h, &call, &resp, e);
    constra__free(&h->platform, body);
    if (rc == CONSTRA_OK) {
        return respond_intent(h, resp, a->id, out, e);
    }
    if (rc == CONSTRA_E_INVALID_STATE && policy == CONSTRA__RETRY_GUARDED && call.tries > 1) {
        /* An earlier try may have done it; its answer was lost. */
        constra_intent *now = NULL;
        constra_error ge = CONSTRA_ERROR_INIT;
        if (get_intent(h, a->id, &now, &ge) == CONSTRA_OK) {
            if (action_done(a, now)) {
                *out = now;
                return CONSTRA_OK;
            }
            constra_intent_free(now);
        }
    }
    return rc;
}

/* Appends "&name=value" (value percent-encoded) to b. */
void constra__client_query_param(constra__sbuf *b, const char *name, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    constra__sbuf_puts(b, b->len ? "&" : "?");
    constra__sbuf_puts(b, name);
    constra__sbuf_puts(b, "=");
    for (const unsigned char *s = (const unsigned char *)value; *s; s++) {
        if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
            *s == '-' || *s == '_' || *s == '.' || *s == '~') {
            constra__sbuf_append(b, (const char *)s, 1);
        } else {
            char esc[3] = {'%', hex[*s >> 4], hex[*s & 15]};
            constra__sbuf_append(b, esc, 3);
        }
    }
}

static int remote_list(constra_t *h, const constra_intent_list_params *p, constra_intent_list **out,
                       constra_error *e)
{
    constra__sbuf q;
    constra__sbuf_init(&q, &h->platform);
    char num[32];
    if (p->status) {
        constra__client_query_param(&q, "status", constra_intent_status_name(p->status));
    }
    if (p->reference) {
        constra__client_query_param(&q, "reference", p->reference);
    }
    if (p->created_from_ms > 0) {
        constra__client_format_time(p->created_from_ms, num);
        constra__client_query_param(&q, "created_from", num);
    }
    if (p->created_to_ms > 0) {
        constra__client_format_time(p->created_to_ms, num);
        constra__client_query_param(&q, "created_to", num);
    }
    if (p->starting_after && p->starting_after[0]) {
        constra__client_query_param(&q, "starting_after", p->starting_after);
    }
    snprintf(num, sizeof(num), "%zu", p->limit ? p->limit : 10);
    constra__client_query_param(&q, "limit", num);
    size_t qlen = 0;
    char *query = constra__sbuf_take(&q, &qlen);
    if (query == NULL) {
        return constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    constra__sbuf path;
    constra__sbuf_init(&path, &h->platform);
    constra__sbuf_puts(&path, "/payment-intents");
    constra__sbuf_append(&path, query, qlen);
    constra__free(&h->platform, query);
    char *target = constra__sbuf_take(&path, NULL);
    if (target == NULL) {
        return constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    constra__call call = {"GET", target, NULL, 0, NULL, CONSTRA__RETRY_SAFE, 0};
    constra_transport_response *resp = NULL;
    int rc = constra__client_call(h, &call, &resp, e);
    constra__free(&h->platform, target);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    size_t len = 0;
    const char *body = constra_transport_response_body(resp, &len);
    rc = constra__client_parse_list(h, body, len, out, e);
    constra_transport_response_free(resp);
    return rc;
}

static int remote_events(constra_t *h, const char *id, constra_event_list **out,
                         constra_error *e)
{
    char path[96];
    snprintf(path, sizeof(path), "/payment-intents/%s/events", id);
    constra__call call = {"GET", path, NULL, 0, NULL, CONSTRA__RETRY_SAFE, 0};
    constra_transport_response *resp = NULL;
    int rc = constra__client_call(h, &call, &resp, e);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    size_t len = 0;
    const char *body = constra_transport_response_body(resp, &len);
    rc = constra__client_parse_events(h, body, len, out, e);
    constra_transport_response_free(resp);
    return rc;
}

static void client_free(const constra_platform *plat, constra__client *c)
{
    if (c == NULL) {
        return;
    }
    constra__free(plat, c->base_url);
    /* The key is a secret: wipe its copy. */
    volatile char *auth = c->auth;
    for (size_t i = 0; i < sizeof(c->auth); i++) {
        auth[i] = 0;
    }
    constra__free(plat, c);
}

static void remote_destroy(constra_t *h)
{
    constra__client *c = h->remote;
    if (c->transport.destroy) {
        c->transport.destroy(c->transport.user_data);
    }
    client_free(&h->platform, c);
    h->remote = NULL;
}

static const constra__remote_ops remote_ops = {remote_create, remote_get, remote_refresh,
                                               remote_action, remote_list, remote_events,
                                               constra__client_webhooks, remote_destroy};

/* ---- open ------------------------------------------------------------------ */

/* The default backoff sleep: the handle's platform (sleep_ms). */
static void platform_sleep_ms(void *user_data, int64_t ms)
{
    constra__sleep_ms(user_data, ms);
}

static int check_remote(const constra_remote_config *r, constra_error *err)
{
    int rc;
    if ((rc = check_base_url(r->base_url, "config.base_url", err)) != CONSTRA_OK ||
        (rc = check_key(r->secret_key, "config.secret_key", err)) != CONSTRA_OK ||
        (rc = check_provider(r->default_provider, "config.default_provider", err)) !=
            CONSTRA_OK) {
        return rc;
    }
    if (r->mode != CONSTRA_MODE_SANDBOX && r->mode != CONSTRA_MODE_LIVE) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "config.mode",
                             "config.mode must be CONSTRA_MODE_SANDBOX or CONSTRA_MODE_LIVE");
    }
    if (key_mode(r->secret_key) != r->mode) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "api_key_mode_mismatch",
                             "config.secret_key", "config.secret_key must start with %s in %s "
                             "mode", r->mode ? "cs_live_" : "cs_test_",
                             r->mode ? "live" : "sandbox");
    }
    if (r->max_tries < 0 || r->max_tries > MAX_TRIES) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             "config.max_tries", "config.max_tries must be 0 (default) to %d",
                             MAX_TRIES);
    }
    if (r->backoff_base_ms < 0 || r->backoff_base_ms > 60000 || r->backoff_max_ms < 0 ||
        r->backoff_max_ms > 600000) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             "config.backoff_base_ms",
                             "config.backoff_base_ms must be 0 to 60000 and backoff_max_ms 0 "
                             "to 600000");
    }
    if (r->connect_timeout_ms < 0 || r->timeout_ms < 0) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             "config.timeout_ms", "time-outs must not be negative");
    }
    if (r->max_response_bytes > CONSTRA_TRANSPORT_RESPONSE_LIMIT) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             "config.max_response_bytes",
                             "config.max_response_bytes must be at most %u",
                             (unsigned)CONSTRA_TRANSPORT_RESPONSE_LIMIT);
    }
    if (r->max_attempts < 0 || r->max_attempts > CONSTRA__ATTEMPTS_MAX) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             "config.max_attempts", "config.max_attempts must be 0 to %d",
                             CONSTRA__ATTEMPTS_MAX);
    }
    return r->transport ? constra_transport_check(r->transport, err) : CONSTRA_OK;
}

/* The transport used when config.transport is NULL. */
static int default_transport(constra_transport *out, constra_error *err)
{
#ifdef CONSTRA__CLIENT_CURL_API
    int rc = constra_transport_curl(out, NULL, err);
    if (rc != CONSTRA_E_UNSUPPORTED) {
        return rc;
    }
#else
    (void)out;
#endif
    return constra__fail(err, CONSTRA_E_UNSUPPORTED, "transport_missing", "config.transport",
                         "config.transport is NULL and this build has no built-in HTTP "
                         "transport");
}

int constra_open_remote(constra_t **out, const constra_remote_config *config, constra_error *err)
{
    if (out == NULL) {
        return constra__fail_null(err, "out");
    }
    *out = NULL;
    if (config == NULL) {
        return constra__fail_null(err, "config");
    }
    constra_remote_config r = CONSTRA_REMOTE_CONFIG_INIT;
    int rc = constra__check_struct(config, REMOTE_V1_SIZE, sizeof(r), "config", err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra__copy_struct(&r, sizeof(r), config);
    if ((rc = check_remote(&r, err)) != CONSTRA_OK) {
        return rc;
    }
    /* An ordinary handle underneath (platform, ids, last error, mode); its
     * default memory storage and simulator stay unused and empty. */
    constra_config cfg = CONSTRA_CONFIG_INIT;
    cfg.platform = r.platform;
    cfg.mode = r.mode;
    cfg.secret_key = r.secret_key;
    cfg.max_attempts = r.max_attempts;
    constra_t *h = NULL;
    if ((rc = constra__open(&h, &cfg, 1, err)) != CONSTRA_OK) {
        return rc;
    }
    constra__client *c = constra__calloc(&h->platform, 1, sizeof(*c));
    size_t len = strlen(r.base_url);
    while (len > 0 && r.base_url[len - 1] == '/') {
        len--;
    }
    rc = CONSTRA_OK;
    if (c == NULL || (c->base_url = constra__strndup(&h->platform, r.base_url, len)) == NULL) {
        rc = constra__fail(err, CONSTRA_E_NOMEM, NULL, NULL, "cannot allocate the client");
    } else if (r.transport == NULL) {
        constra_transport_init(&c->transport, sizeof(c->transport));
        rc = default_transport(&c->transport, err); /* ours from here: destroyed at close */
    }
    if (rc != CONSTRA_OK) {
        client_free(&h->platform, c);
        /* The platform's destroy must not run: the caller still owns it. */
        h->platform.destroy = NULL;
        constra_close(h);
        return rc;
    }
    c->base_len = len;
    memcpy(c->auth, "Bearer ", 7);
    constra__strlcpy(c->auth + 7, r.secret_key, sizeof(c->auth) - 7);
    constra__strlcpy(c->default_provider, r.default_provider ? r.default_provider : "mpesa",
                     sizeof(c->default_provider));
    c->max_tries = r.max_tries ? r.max_tries : DEFAULT_TRIES;
    c->backoff_base_ms = r.backoff_base_ms ? r.backoff_base_ms : DEFAULT_BACKOFF_BASE_MS;
    c->backoff_max_ms = r.backoff_max_ms ? r.backoff_max_ms : DEFAULT_BACKOFF_MAX_MS;
    if (c->backoff_max_ms < c->backoff_base_ms) {
        c->backoff_max_ms = c->backoff_base_ms;
    }
    c->connect_timeout_ms = r.connect_timeout_ms;
    c->timeout_ms = r.timeout_ms;
    c->max_response_bytes = r.max_response_bytes;
    c->sleep_ms = r.sleep_ms ? r.sleep_ms : platform_sleep_ms;
    c->sleep_user_data = r.sleep_ms ? r.sleep_user_data : (void *)&h->platform;
    c->max_attempts = r.max_attempts ? r.max_attempts : DEFAULT_ATTEMPTS;
    /* A caller's transport becomes ours only here, where nothing can fail
     * any more: a failed open leaves it with the caller. */
    if (r.transport != NULL) {
        constra__copy_struct(&c->transport, sizeof(c->transport), r.transport);
    }
    h->remote = c;
    h->remote_ops = &remote_ops;
    *out = h;
    return CONSTRA_OK;
}

int constra_is_remote(const constra_t *handle)
{
    return handle != NULL && handle->remote_ops != NULL;
}
