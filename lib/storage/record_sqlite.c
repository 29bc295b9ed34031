#include "constra/record_store.h"
#include "util/check.h"
int constra_record_store_sqlite(constra_record_store *out, const constra_platform *platform,
                                const char *path, int durable, constra_error *err)
{
    (void)out;
    (void)platform;
    (void)path;
    (void)durable;
    return constra__fail(err, CONSTRA_E_UNSUPPORTED, NULL, NULL, "not yet");
}
