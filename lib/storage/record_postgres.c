/*
 * The record store on PostgreSQL (record_store.h). Not written yet: the
 * entry point exists so that the ABI is the same in every build, and says
 * so.
 */
#include "constra/record_store.h"
#include "util/check.h"

int constra_record_store_postgres(constra_record_store *out, const constra_platform *platform,
                                  const char *conninfo, constra_error *err)
{
    (void)out;
    (void)platform;
    (void)conninfo;
    return constra__fail(err, CONSTRA_E_UNSUPPORTED, NULL, NULL,
                         "libconstra was built without PostgreSQL");
}
