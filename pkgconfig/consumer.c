/*
 * A tiny program that uses libconstra the way an outside project does:
 * only the installed headers and `pkg-config --cflags --libs constra`.
 * tests/abi/pkgconfig_consumer.sh builds it shared and static and runs it.
 */
#include <stdio.h>
#include <string.h>

#include <constra.h>

int main(void)
{
    /* Headers and library must agree. */
    if (strcmp(constra_version(), CONSTRA_VERSION_STRING) != 0) {
        fprintf(stderr, "version mismatch: library %s, headers %s\n", constra_version(),
                CONSTRA_VERSION_STRING);
        return 1;
    }
    constra_error err = CONSTRA_ERROR_INIT;
    constra_t *h = NULL;
    if (constra_open(&h, NULL, &err) != CONSTRA_OK) {
        fprintf(stderr, "constra_open: %s\n", err.message);
        return 1;
    }
    char id[CONSTRA_ID_SIZE];
    int rc = constra_id_new(h, "pi", id, sizeof(id), &err);
    constra_close(h);
    if (rc != CONSTRA_OK || strncmp(id, "pi_", 3) != 0) {
        fprintf(stderr, "constra_id_new: %s\n", constra_strerror(rc));
        return 1;
    }
    long long total = 0;
    rc = constra_money_add(1250, 19, (int64_t *)&total, &err);
    if (rc != CONSTRA_OK || total != 1269) {
        fprintf(stderr, "constra_money_add: %s\n", err.message);
        return 1;
    }
    printf("consumer ok: libconstra %s, id %s, total %lld\n", constra_version(), id, total);
    return 0;
}
