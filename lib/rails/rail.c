/* The rail vtable's checks, shared by every rail and by the engine. */
#include <stddef.h>
#include <string.h>

#include "constra/rail.h"
#include "rails/rail_internal.h"
#include "util/check.h"

#define RAIL_V1_SIZE CONSTRA__RAIL_V1_SIZE

int constra_rail_init(constra_rail *rail, size_t struct_size)
{
    return constra__init_struct(rail, struct_size, RAIL_V1_SIZE, sizeof(*rail), NULL);
}

int constra_rail_check(const constra_rail *r, constra_error *err)
{
    int rc = constra__check_struct(r, RAIL_V1_SIZE, sizeof(*r), "rail", err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    size_t len = constra__strnlen(r->name, sizeof(r->name));
    if (len == 0 || len == sizeof(r->name)) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "rail.name",
                             "rail.name must be 1 to %zu lower-case letters",
                             sizeof(r->name) - 1);
    }
    for (size_t i = 0; i < len; i++) {
        if (r->name[i] < 'a' || r->name[i] > 'z') {
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                                 "rail.name", "rail.name must be lower-case letters");
        }
    }
    if (r->collect == NULL) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_missing",
                             "rail.collect", "rail.collect is required");
    }
    return CONSTRA_OK;
}
