/* The memory record store through the record conformance suite. */
#include "../unit/testutil.h"

#include "record_conformance.h"

static int make_memory(constra_storage *out, void *arg)
{
    (void)arg;
    return constra_storage_memory(out, NULL, NULL);
}

int main(void)
{
    const record_conformance impl = {make_memory, NULL, NULL, NULL};
    return record_conformance_run("record-memory", &impl);
}
