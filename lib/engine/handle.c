/*
 * The handle: platform copy, storage, rail, settings, last error, ids.
 */
#include <string.h>

#include "engine/cache.h"
#include "engine/engine.h"
#include "platform/platform.h"
#include "rails/rail_internal.h"
#include "storage/resources.h"
#include "util/check.h"
#include "util/hmac.h"

/* The first published layout of constra_config ends after `platform`. */
#define CONFIG_V1_SIZE (offsetof(constra_config, platform) + sizeof(const constra_platform *))

#define DEFAULT_CALLBACK_TIMEOUT_MS INT64_C(120000)
#define DEFAULT_MAX_ATTEMPTS 3
#define DEFAULT_RETENTION_MS INT64_C(86400000)
#define DEFAULT_AMOUNT_MAX INT64_C(250000)
#define DEFAULT_LEASE_MS INT64_C(60000)

int constra_config_init(constra_config *config, size_t struct_size)
{
    static const constra_config defaults = CONSTRA_CONFIG_INIT;
    return constra__init_struct(config, struct_size, CONFIG_V1_SIZE, sizeof(*config), &defaults);
}

static int check_settings(const constra_config *c, constra_error *err)
{
    if (c->mode != CONSTRA_MODE_SANDBOX && c->mode != CONSTRA_MODE_LIVE) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "config.mode",
                             "config.mode must be CONSTRA_MODE_SANDBOX or CONSTRA_MODE_LIVE");
    }
    if (c->callback_timeout_ms < 0 || c->callback_timeout_ms > INT64_C(86400000)) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             "config.callback_timeout_ms",
                             "config.callback_timeout_ms must be 0 (default) to 86400000");
    }
    if (c->max_attempts < 0 || c->max_attempts > CONSTRA__ATTEMPTS_MAX) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             "config.max_attempts", "config.max_attempts must be 0 (default) to %d",
                             CONSTRA__ATTEMPTS_MAX);
    }
    if (c->idempotency_retention_ms < 0 || c->idempotency_retention_ms > INT64_C(2592000000)) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             "config.idempotency_retention_ms",
                             "config.idempotency_retention_ms must be 0 (default) to 30 days");
    }
    if (c->secret_key) {
        size_t len;
        int rc = constra__check_str(c->secret_key, 127, 0, "config.secret_key", &len, err);
        if (rc != CONSTRA_OK) {
            return rc;
        }
        const char *want = c->mode == CONSTRA_MODE_LIVE ? "cs_live_" : "cs_test_";
        if (len < 16 || strncmp(c->secret_key, want, 8) != 0) {
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                                 "config.secret_key",
                                 "config.secret_key must start with %s and have 16 to 127 "
                                 "characters", want);
        }
    }
    if (c->amount_max < 0) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             "config.amount_max", "config.amount_max must not be negative");
    }
    int64_t retention = c->idempotency_retention_ms ? c->idempotency_retention_ms
                                                    : DEFAULT_RETENTION_MS;
    if (c->idempotency_lease_ms != 0 &&
        (c->idempotency_lease_ms < 1000 || c->idempotency_lease_ms > retention)) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             "config.idempotency_lease_ms",
                             "config.idempotency_lease_ms must be 0 (default) or 1000 to the "
                             "idempotency retention");
    }
    if (c->webhook_disable_after_ms != 0 && c->webhook_disable_after_ms != -1 &&
        (c->webhook_disable_after_ms < INT64_C(3600000) ||
         c->webhook_disable_after_ms > INT64_C(7776000000))) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             "config.webhook_disable_after_ms",
                             "config.webhook_disable_after_ms must be 0 (3 days), -1 (never) or "
                             "1 hour to 90 days");
    }
    if (c->intent_cache_slots < 0 || c->intent_cache_slots > 1024) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             "config.intent_cache_slots",
                             "config.intent_cache_slots must be 0 (no cache) to 1024");
    }
    if (c->callback_token) {
        size_t len;
        int rc = constra__check_str(c->callback_token, 64, 0, "config.callback_token", &len, err);
        if (rc != CONSTRA_OK) {
            return rc;
        }
        int ok = len >= 16;
        for (size_t i = 0; ok && i < len; i++) {
            char ch = c->callback_token[i];
            ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '_' || ch == '-';
        }
        if (!ok) {
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                                 "config.callback_token",
                                 "config.callback_token must be 16 to 64 characters of "
                                 "[A-Za-z0-9_-]");
        }
    }
    return CONSTRA_OK;
}

/* The callback token when the host gives none: a MAC of a fixed label
 * under the secret key. Stable across restarts and across every process
 * of the workspace (they share the key), unguessable without the key,
 * and it reveals nothing about the key. 128 bits as 32 hex digits. */
static int derive_callback_token(const char *secret_key, char out[65])
{
    static const char label[] = "constra callback token v1";
    uint8_t mac[CONSTRA__SHA256_SIZE];
    if (constra__hmac_sha256((const uint8_t *)secret_key, strlen(secret_key), label,
                             sizeof(label) - 1, mac) != 0) {
        return -1;
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < 16; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[32] = '\0';
    constra__wipe(mac, sizeof(mac));
    return 0;
}

/* ---- the workspace a storage belongs to ------------------------------ */

typedef struct meta_copy {
    char text[CONSTRA__RES_KEY_MAX + 1];
} meta_copy;

static int copy_meta(void *ctx, const char *value)
{
    constra__strlcpy(((meta_copy *)ctx)->text, value ? value : "", sizeof(meta_copy));
    return 0;
}

/* Records `fresh` under `key` unless another process recorded a value
 * first: then that value is the one. CONSTRA_OK with *out filled, or the
 * storage's failure. */
static int meta_record(constra_t *h, const char *key, const char *fresh, meta_copy *out)
{
    const constra__res_table *s = &h->storage;
    int rc = s->meta_put_if_absent(s->user_data, key, fresh, copy_meta, out);
    if (rc == CONSTRA_OK) {
        constra__strlcpy(out->text, fresh, sizeof(out->text));
    }
    return rc == CONSTRA_E_CONFLICT ? CONSTRA_OK : rc; /* lost a race: the winner's emitted */
}

static int meta_failed(int rc, const char *what, constra_error *err)
{
    return constra__fail(err, rc == CONSTRA_E_NOMEM ? CONSTRA_E_NOMEM : CONSTRA_E_STORAGE, NULL,
                         "config.storage", "the storage failed %s", what);
}

/* Sandbox and live never share data (doc/DESIGN.md section 13): the
 * first handle on a storage records its mode and a new workspace id;
 * later handles must have that mode. A mismatch writes nothing (the mode
 * is read before anything is recorded). */
static int bind_workspace(constra_t *h, constra_error *err)
{
    const char *mode = h->mode == CONSTRA_MODE_LIVE ? "live" : "sandbox";
    const constra__res_table *s = &h->storage;
    meta_copy held = {{0}};
    int rc = s->meta_get(s->user_data, "mode", copy_meta, &held);
    if (rc == CONSTRA_E_NOT_FOUND) {
        rc = meta_record(h, "mode", mode, &held);
    }
    if (rc != CONSTRA_OK) {
        return meta_failed(rc, "reading the workspace's mode", err);
    }
    if (strcmp(held.text, mode) != 0) {
        int known = strcmp(held.text, "live") == 0 || strcmp(held.text, "sandbox") == 0;
        return constra__fail(err, CONSTRA_E_INVALID_STATE, "workspace_mode_mismatch",
                             "config.mode",
                             "this storage holds %s data; a %s handle (a %s key) cannot open it",
                             known ? held.text : "another mode's", mode,
                             h->mode == CONSTRA_MODE_LIVE ? "cs_live_" : "cs_test_");
    }
    rc = s->meta_get(s->user_data, "workspace_id", copy_meta, &held);
    if (rc == CONSTRA_E_NOT_FOUND) {
        char fresh[CONSTRA_ID_SIZE];
        constra_error e = CONSTRA_ERROR_INIT;
        rc = constra__new_id(h, "ws", fresh, sizeof(fresh), &e);
        if (rc != CONSTRA_OK) {
            return constra__report(rc, &e, err);
        }
        rc = meta_record(h, "workspace_id", fresh, &held);
    }
    if (rc != CONSTRA_OK) {
        return meta_failed(rc, "reading the workspace id", err);
    }
    constra__strlcpy(h->workspace_id, held.text, sizeof(h->workspace_id));
    return CONSTRA_OK;
}

int constra_derive_callback_token(const char *secret_key, char *out, size_t out_size,
                                  constra_error *err)
{
    if (out == NULL) {
        return constra__fail_null(err, "out");
    }
    size_t len;
    int rc = constra__check_str(secret_key, 127, 0, "secret_key", &len, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (len < 16 || (strncmp(secret_key, "cs_test_", 8) != 0 &&
                     strncmp(secret_key, "cs_live_", 8) != 0)) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "secret_key",
                             "secret_key must start with cs_test_ or cs_live_ and have 16 to "
                             "127 characters");
    }
    if (out_size < 33) {
        return constra__fail(err, CONSTRA_E_BUFFER_TOO_SMALL, NULL, "out_size",
                             "the callback token needs 33 bytes");
    }
    char token[65];
    if (derive_callback_token(secret_key, token) != 0) {
        return constra__fail(err, CONSTRA_E_PLATFORM, "platform_error", NULL,
                             "cannot derive the callback token");
    }
    memcpy(out, token, 33);
    constra__wipe(token, sizeof(token));
    return CONSTRA_OK;
}

int constra_open(constra_t **out, const constra_config *config, constra_error *err)
{
    return constra__open(out, config, 0, err);
}

int constra__open(constra_t **out, const constra_config *config, int remote, constra_error *err)
{
    if (out == NULL) {
        return constra__fail_null(err, "out");
    }
    *out = NULL;
    constra_config cfg = CONSTRA_CONFIG_INIT;
    if (config != NULL) {
        int rc = constra__check_struct(config, CONFIG_V1_SIZE, sizeof(cfg), "config", err);
        if (rc != CONSTRA_OK) {
            return rc;
        }
        constra__copy_struct(&cfg, sizeof(cfg), config);
    }
    int rc = check_settings(&cfg, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (cfg.storage && (rc = constra_storage_check(cfg.storage, err)) != CONSTRA_OK) {
        return rc;
    }
    if (cfg.rail && (rc = constra_rail_check(cfg.rail, err)) != CONSTRA_OK) {
        return rc;
    }
    if (cfg.mode == CONSTRA_MODE_LIVE && !remote) {
        constra_rail r;
        constra_rail_init(&r, sizeof(r));
        if (cfg.rail) {
            constra__copy_struct(&r, sizeof(r), cfg.rail);
        }
        if (cfg.rail == NULL || constra__rail_is_sim(&r)) {
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "live_needs_real_rail",
                                 "config.rail",
                                 "a live handle needs a real rail (e.g. constra_rail_daraja()); "
                                 "the simulator moves no money and is for sandbox only");
        }
    }
    if (cfg.transport && (rc = constra_transport_check(cfg.transport, err)) != CONSTRA_OK) {
        return rc;
    }
    constra_platform plat;
    rc = constra__platform_resolve(&plat, cfg.platform, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra_t *h = constra__calloc(&plat, 1, sizeof(*h));
    if (h == NULL) {
        return constra__fail(err, CONSTRA_E_NOMEM, NULL, NULL, "cannot allocate the handle");
    }
    h->platform = plat;
    h->mode = cfg.mode;
    if (plat.mutex_create(plat.user_data, &h->mutex) != 0 || h->mutex == NULL) {
        constra__free(&plat, h);
        return constra__fail(err, CONSTRA_E_PLATFORM, NULL, "platform.mutex_create",
                             "cannot create the handle's mutex");
    }
    /* Defaults are made only when the host supplied none, and undone if a
     * later step fails: on failure the host still owns what it passed. */
    int own_storage = cfg.storage == NULL;
    int own_rail = cfg.rail == NULL;
    constra_storage base;
    constra_storage_init(&base, sizeof(base));
    if (own_storage) {
        rc = constra_storage_memory(&base, cfg.platform, err);
    } else {
        constra__copy_struct(&base, sizeof(base), cfg.storage);
    }
    /* The engine's resources as records of the storage (resources.h). */
    if (rc == CONSTRA_OK && (rc = constra__res_open(&h->storage, cfg.platform, &base, err)) !=
                                CONSTRA_OK && own_storage && base.destroy) {
        base.destroy(base.user_data);
    }
    if (rc == CONSTRA_OK && !own_storage) {
        /* Until the handle is open the host keeps its storage: a failure
         * below must not destroy it. */
        constra__res_own(&h->storage, 0);
    }
    if (rc == CONSTRA_OK) {
        if (own_rail) {
            constra_rail_init(&h->rail, sizeof(h->rail));
            rc = constra_rail_sim(&h->rail, cfg.platform, NULL, err);
        } else {
            constra__copy_struct(&h->rail, sizeof(h->rail), cfg.rail);
        }
        if (rc != CONSTRA_OK) {
            h->storage.destroy(h->storage.user_data);
        }
    }
    if (rc == CONSTRA_OK && !remote && (rc = bind_workspace(h, err)) != CONSTRA_OK) {
        if (own_rail && h->rail.destroy) {
            h->rail.destroy(h->rail.user_data);
        }
        h->storage.destroy(h->storage.user_data);
    }
    if (rc != CONSTRA_OK) {
        plat.mutex_destroy(plat.user_data, h->mutex);
        constra__free(&plat, h);
        return rc;
    }
    constra__res_own(&h->storage, 1);
    if (cfg.transport) {
        constra__copy_struct(&h->transport, sizeof(h->transport), cfg.transport);
    }
    h->resolve = cfg.resolve;
    h->resolve_ctx = cfg.resolve_ctx;
    h->callback_timeout_ms = cfg.callback_timeout_ms ? cfg.callback_timeout_ms
                                                     : DEFAULT_CALLBACK_TIMEOUT_MS;
    h->max_attempts = cfg.max_attempts ? cfg.max_attempts : DEFAULT_MAX_ATTEMPTS;
    h->idempotency_retention_ms = cfg.idempotency_retention_ms ? cfg.idempotency_retention_ms
                                                               : DEFAULT_RETENTION_MS;
    h->amount_max = cfg.amount_max ? cfg.amount_max : DEFAULT_AMOUNT_MAX;
    h->cache_slots = (size_t)cfg.intent_cache_slots;
    h->webhooks_own_thread = cfg.webhooks_own_thread != 0;
    h->webhook_disable_after_ms = cfg.webhook_disable_after_ms ? cfg.webhook_disable_after_ms
                                                               : INT64_C(259200000);
    constra__strlcpy(h->secret_key, cfg.secret_key ? cfg.secret_key : "", sizeof(h->secret_key));
    h->idempotency_lease_ms = cfg.idempotency_lease_ms ? cfg.idempotency_lease_ms
                                                       : DEFAULT_LEASE_MS;
    if (h->idempotency_lease_ms > h->idempotency_retention_ms) {
        h->idempotency_lease_ms = h->idempotency_retention_ms; /* a short retention */
    }
    if (cfg.callback_token) {
        constra__strlcpy(h->callback_token, cfg.callback_token, sizeof(h->callback_token));
    } else if (h->secret_key[0] && derive_callback_token(h->secret_key, h->callback_token) != 0) {
        constra_close(h);
        return constra__fail(err, CONSTRA_E_PLATFORM, "platform_error", NULL,
                             "cannot derive the callback token");
    }
    *out = h;
    return CONSTRA_OK;
}

void constra_close(constra_t *h)
{
    if (h == NULL) {
        return;
    }
    if (h->remote_ops && h->remote_ops->destroy) {
        h->remote_ops->destroy(h);
    }
    if (h->rail.destroy) {
        h->rail.destroy(h->rail.user_data);
    }
    if (h->transport.send && h->transport.destroy) {
        h->transport.destroy(h->transport.user_data);
    }
    if (h->storage.destroy) {
        h->storage.destroy(h->storage.user_data);
    }
    constra__cache_free(h);
    constra_platform plat = h->platform;
    plat.mutex_destroy(plat.user_data, h->mutex);
    constra__free(&plat, h);
    if (plat.destroy) {
        plat.destroy(plat.user_data);
    }
}

int constra__new_id(constra_t *h, const char *prefix, char *out, size_t size, constra_error *e)
{
    int rc = CONSTRA_OK;
    constra__lock(&h->platform, h->mutex);
    if (h->id_pool_left < CONSTRA__ID_RAND_BYTES) {
        if (constra__random(&h->platform, h->id_pool, sizeof(h->id_pool)) != 0) {
            rc = constra__fail(e, CONSTRA_E_PLATFORM, NULL, "platform.random_bytes",
                               "the random source failed");
        } else {
            h->id_pool_left = sizeof(h->id_pool);
        }
    }
    if (rc == CONSTRA_OK) {
        const uint8_t *fresh = h->id_pool + sizeof(h->id_pool) - h->id_pool_left;
        rc = constra__id_next(&h->ids, constra__wall_ms(&h->platform), fresh, prefix, out, size,
                              e);
        if (rc == CONSTRA_OK) {
            h->id_pool_left -= CONSTRA__ID_RAND_BYTES;
        }
    }
    constra__unlock(&h->platform, h->mutex);
    return rc;
}

int constra_id_new(constra_t *h, const char *prefix, char *out, size_t out_size,
                   constra_error *err)
{
    if (h == NULL) {
        return constra__fail_null(err, "handle");
    }
    constra_error e = CONSTRA_ERROR_INIT;
    return constra__report(constra__new_id(h, prefix, out, out_size, &e), &e, err);
}

int64_t constra_now_ms(constra_t *h)
{
    return h ? constra__wall_ms(&h->platform) : 0;
}

int constra_callback_token(constra_t *h, char *out, size_t size, constra_error *err)
{
    if (h == NULL) {
        return constra__fail_null(err, "handle");
    }
    if (out == NULL) {
        return constra__fail_null(err, "out");
    }
    if (h->remote_ops) {
        return constra__fail(err, CONSTRA_E_UNSUPPORTED, "remote_handle", NULL,
                             "a remote handle takes no provider callbacks; the server does");
    }
    size_t n = strlen(h->callback_token);
    if (n == 0) {
        return constra__fail(err, CONSTRA_E_NOT_FOUND, "callback_token_missing", NULL,
                             "this handle has no callback token (no config.callback_token and no "
                             "secret key): it refuses every callback");
    }
    if (size < n + 1) {
        return constra__fail(err, CONSTRA_E_BUFFER_TOO_SMALL, "buffer_too_small", "size",
                             "the callback token needs %zu bytes", n + 1);
    }
    memcpy(out, h->callback_token, n + 1);
    return CONSTRA_OK;
}
