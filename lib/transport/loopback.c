/*
 * The loopback transport: a table of origins ("https://sandbox.safaricom.
 * co.ke", "http://constra.test") to in-process handlers. Tests put the
 * Daraja emulator, the REST router and a merchant's webhook receiver
 * behind one transport; firmware that proxies through its host can do the
 * same. An origin nobody mounted fails with CONNECT, as an unreachable
 * host would, so "nothing was sent" is testable too.
 */
#include <string.h>

#include "constra/transport.h"
#include "platform/platform.h"
#include "transport/transport_internal.h"
#include "util/ascii.h"
#include "util/check.h"

#define ORIGIN_MAX 256u

typedef struct mount {
    char *origin;
    size_t origin_len;
    constra_loopback_handler handler;
    void *ctx;
} mount;

struct constra_loopback {
    constra_platform platform;
    void *mutex;
    unsigned refs; /* the caller's + one per transport handed out */
    uint64_t requests;
    mount *mounts;
    size_t mount_count, mount_cap;
};

int constra_loopback_new(constra_loopback **out, const constra_platform *platform,
                         constra_error *err)
{
    if (out == NULL) {
        return constra__fail_null(err, "out");
    }
    *out = NULL;
    constra_platform plat;
    int rc = constra__platform_resolve(&plat, platform, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra_loopback *lb = constra__calloc(&plat, 1, sizeof(*lb));
    if (lb == NULL) {
        return constra__fail(err, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    lb->platform = plat;
    if (plat.mutex_create(plat.user_data, &lb->mutex) != 0) {
        constra__free(&plat, lb);
        return constra__fail(err, CONSTRA_E_PLATFORM, NULL, "platform.mutex_create",
                             "could not create a mutex");
    }
    lb->refs = 1;
    *out = lb;
    return CONSTRA_OK;
}

static void loopback_unref(constra_loopback *lb)
{
    constra__lock(&lb->platform, lb->mutex);
    unsigned left = --lb->refs;
    constra__unlock(&lb->platform, lb->mutex);
    if (left > 0) {
        return;
    }
    constra_platform plat = lb->platform;
    for (size_t i = 0; i < lb->mount_count; i++) {
        constra__free(&plat, lb->mounts[i].origin);
    }
    constra__free(&plat, lb->mounts);
    plat.mutex_destroy(plat.user_data, lb->mutex);
    constra__free(&plat, lb);
}

void constra_loopback_free(constra_loopback *lb)
{
    if (lb != NULL) {
        loopback_unref(lb);
    }
}

/* "scheme://authority" and nothing else; lower-cased on the way in so
 * lookups compare bytes. */
static int check_origin(const char *origin, size_t *len_out, constra_error *err)
{
    size_t len;
    int rc = constra__check_str(origin, ORIGIN_MAX, 0, "origin", &len, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    size_t origin_len;
    int ok = constra__transport_url_origin_len(origin, &origin_len) && origin_len == len;
    for (size_t i = 0; ok && i < len; i++) {
        unsigned char c = (unsigned char)origin[i];
        ok = c > 0x20 && c < 0x7f;
    }
    if (!ok) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "origin",
                             "origin must be \"http(s)://host[:port]\" with no path");
    }
    *len_out = len;
    return CONSTRA_OK;
}

int constra_loopback_mount(constra_loopback *lb, const char *origin,
                           constra_loopback_handler handler, void *ctx, constra_error *err)
{
    if (lb == NULL) {
        return constra__fail_null(err, "loopback");
    }
    if (handler == NULL) {
        return constra__fail_null(err, "handler");
    }
    size_t len = 0;
    int rc = check_origin(origin, &len, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    char *copy = constra__strndup(&lb->platform, origin, len);
    if (copy == NULL) {
        return constra__fail(err, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    for (size_t i = 0; i < len; i++) {
        copy[i] = (char)constra__ascii_lower((unsigned char)copy[i]);
    }
    constra__lock(&lb->platform, lb->mutex);
    for (size_t i = 0; i < lb->mount_count; i++) {
        if (strcmp(lb->mounts[i].origin, copy) == 0) {
            lb->mounts[i].handler = handler;
            lb->mounts[i].ctx = ctx;
            constra__unlock(&lb->platform, lb->mutex);
            constra__free(&lb->platform, copy);
            return CONSTRA_OK;
        }
    }
    if (lb->mount_count == lb->mount_cap) {
        size_t cap = lb->mount_cap ? lb->mount_cap * 2 : 4;
        mount *grown = constra__realloc(&lb->platform, lb->mounts, cap * sizeof(*grown));
        if (grown == NULL) {
            constra__unlock(&lb->platform, lb->mutex);
            constra__free(&lb->platform, copy);
            return constra__fail(err, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
        }
        lb->mounts = grown;
        lb->mount_cap = cap;
    }
    lb->mounts[lb->mount_count++] = (mount){copy, len, handler, ctx};
    constra__unlock(&lb->platform, lb->mutex);
    return CONSTRA_OK;
}

uint64_t constra_loopback_request_count(const constra_loopback *lb)
{
    if (lb == NULL) {
        return 0;
    }
    constra_loopback *m = (constra_loopback *)lb; /* the mutex, not the data, changes */
    constra__lock(&m->platform, m->mutex);
    uint64_t n = m->requests;
    constra__unlock(&m->platform, m->mutex);
    return n;
}

static int loopback_send(void *user_data, const constra_transport_request *req,
                         constra_transport_response *resp)
{
    constra_loopback *lb = user_data;
    size_t origin_len = 0;
    constra__transport_url_origin_len(req->url, &origin_len); /* checked by the sender */
    constra_loopback_handler handler = NULL;
    void *ctx = NULL;
    constra__lock(&lb->platform, lb->mutex);
    lb->requests++;
    for (size_t i = 0; i < lb->mount_count; i++) {
        const mount *m = &lb->mounts[i];
        if (m->origin_len == origin_len && constra__ascii_ncaseeq(m->origin, req->url, origin_len)) {
            handler = m->handler;
            ctx = m->ctx;
            break;
        }
    }
    constra__unlock(&lb->platform, lb->mutex);
    if (handler == NULL) {
        return constra_transport_response_fail(resp, CONSTRA_TRANSPORT_CONNECT,
                                               "no loopback handler for this origin");
    }
    /* Called without the lock: a handler may itself send (the emulator
     * delivering a callback) or take as long as it likes. */
    return handler(ctx, req, resp);
}

static void loopback_destroy(void *user_data)
{
    loopback_unref(user_data);
}

int constra_loopback_transport(constra_loopback *lb, constra_transport *out, constra_error *err)
{
    if (lb == NULL) {
        return constra__fail_null(err, "loopback");
    }
    if (out == NULL) {
        return constra__fail_null(err, "out");
    }
    constra_transport_init(out, sizeof(*out));
    constra__strlcpy(out->name, "loopback", sizeof(out->name));
    out->user_data = lb;
    out->send = loopback_send;
    out->destroy = loopback_destroy;
    constra__lock(&lb->platform, lb->mutex);
    lb->refs++;
    constra__unlock(&lb->platform, lb->mutex);
    return CONSTRA_OK;
}
