#include "constra/record_store.h"
#include "util/check.h"
int constra_record_store_memory(constra_record_store *out, const constra_platform *platform,
                                constra_error *err)
{
    (void)out;
    (void)platform;
    return constra__fail(err, CONSTRA_E_UNSUPPORTED, NULL, NULL, "not yet");
}
