/*
 * The handle: platform copy, last error, id generator, lock.
 */
#include <string.h>

#include "constra/handle.h"
#include "platform/platform.h"
#include "util/check.h"
#include "util/ids.h"

/* The first published layout of constra_config ends after `platform`. */
#define CONFIG_V1_SIZE (offsetof(constra_config, platform) + sizeof(const constra_platform *))

struct constra {
    constra_platform platform; /* resolved copy: every method set */
    void *mutex;               /* guards everything below */
    constra_error last_error;
    constra__idgen ids;
};

int constra_config_init(constra_config *config, size_t struct_size)
{
    if (config == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    if (struct_size < CONFIG_V1_SIZE || struct_size > CONSTRA__STRUCT_SIZE_MAX) {
        return CONSTRA_E_ABI;
    }
    memset(config, 0, sizeof(*config));
    config->struct_size = struct_size;
    return CONSTRA_OK;
}

int constra_open(constra_t **out, const constra_config *config, constra_error *err)
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
    constra_platform plat;
    int rc = constra__platform_resolve(&plat, cfg.platform, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra_t *h = constra__calloc(&plat, 1, sizeof(*h));
    if (h == NULL) {
        return constra__fail(err, CONSTRA_E_NOMEM, NULL, NULL, "cannot allocate the handle");
    }
    h->platform = plat;
    if (plat.mutex_create(plat.user_data, &h->mutex) != 0 || h->mutex == NULL) {
        constra__free(&plat, h);
        return constra__fail(err, CONSTRA_E_PLATFORM, NULL, "platform.mutex_create",
                             "cannot create the handle's mutex");
    }
    constra_error_init(&h->last_error, sizeof(h->last_error));
    *out = h;
    return CONSTRA_OK;
}

void constra_close(constra_t *h)
{
    if (h == NULL) {
        return;
    }
    constra_platform plat = h->platform;
    plat.mutex_destroy(plat.user_data, h->mutex);
    constra__free(&plat, h);
    if (plat.destroy) {
        plat.destroy(plat.user_data);
    }
}

int constra_last_error(constra_t *h, constra_error *out)
{
    if (h == NULL || out == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra__lock(&h->platform, h->mutex);
    int rc = constra__error_copy(out, &h->last_error);
    constra__unlock(&h->platform, h->mutex);
    return rc;
}

/* Records a failure's detail in the handle; called with the lock held. */
static int record(constra_t *h, int rc, const constra_error *detail)
{
    if (rc != CONSTRA_OK) {
        h->last_error = *detail;
    }
    return rc;
}

int constra_id_new(constra_t *h, const char *prefix, char *out, size_t out_size)
{
    if (h == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra_error e = CONSTRA_ERROR_INIT;
    uint8_t fresh[CONSTRA__ID_RAND_BYTES];
    int rc = CONSTRA_OK;
    /* Draw randomness before taking the lock: it may block briefly. */
    if (constra__random(&h->platform, fresh, sizeof(fresh)) != 0) {
        rc = constra__fail(&e, CONSTRA_E_PLATFORM, NULL, "platform.random_bytes",
                           "the random source failed");
    }
    constra__lock(&h->platform, h->mutex);
    if (rc == CONSTRA_OK) {
        rc = constra__id_next(&h->ids, constra__wall_ms(&h->platform), fresh, prefix, out,
                              out_size, &e);
    }
    rc = record(h, rc, &e);
    constra__unlock(&h->platform, h->mutex);
    return rc;
}

int64_t constra_now_ms(constra_t *h)
{
    return h ? constra__wall_ms(&h->platform) : 0;
}
