/*
 * The storage vtable's checks, shared by every implementation and by the
 * engine when a host registers one.
 */
#include "constra/storage.h"
#include "util/check.h"

#define STORAGE_V1_SIZE sizeof(constra_storage)

int constra_storage_init(constra_storage *storage, size_t struct_size)
{
    if (storage == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    if (struct_size < STORAGE_V1_SIZE || struct_size > CONSTRA__STRUCT_SIZE_MAX) {
        return CONSTRA_E_ABI;
    }
    constra_storage init = CONSTRA_STORAGE_INIT;
    *storage = init;
    storage->struct_size = struct_size;
    return CONSTRA_OK;
}

int constra_storage_check(const constra_storage *s, constra_error *err)
{
    int rc = constra__check_struct(s, STORAGE_V1_SIZE, sizeof(*s), "storage", err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    const struct {
        int present;
        const char *name;
    } required[] = {
        {s->commit != NULL, "storage.commit"},
        {s->get_intent != NULL, "storage.get_intent"},
        {s->find_by_checkout != NULL, "storage.find_by_checkout"},
        {s->list_intents != NULL, "storage.list_intents"},
        {s->list_events != NULL, "storage.list_events"},
        {s->idempotency_reserve != NULL, "storage.idempotency_reserve"},
        {s->idempotency_complete != NULL, "storage.idempotency_complete"},
        {s->idempotency_release != NULL, "storage.idempotency_release"},
    };
    for (size_t i = 0; i < CONSTRA__ARRAY_LEN(required); i++) {
        if (!required[i].present) {
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_missing",
                                 required[i].name, "%s is required", required[i].name);
        }
    }
    return CONSTRA_OK;
}
