/*
 * hello — the smallest libconstra program: open a handle, make ids, do
 * exact money arithmetic, show how an error reports itself.
 *
 * Build against an installed libconstra:
 *   cc hello.c $(pkg-config --cflags --libs constra) -o hello
 */
#include <inttypes.h>
#include <stdio.h>

#include <constra.h>

int main(void)
{
    printf("libconstra %s (headers %s)\n", constra_version(), CONSTRA_VERSION_STRING);

    constra_error err = CONSTRA_ERROR_INIT;
    constra_t *h = NULL;
    if (constra_open(&h, NULL, &err) != CONSTRA_OK) {
        fprintf(stderr, "open failed: %s (%s)\n", err.message, err.code);
        return 1;
    }

    char id[CONSTRA_ID_SIZE];
    for (int i = 0; i < 3; i++) {
        if (constra_id_new(h, "pi", id, sizeof(id), &err) != CONSTRA_OK) {
            fprintf(stderr, "id failed: %s\n", err.message);
            constra_close(h);
            return 1;
        }
        printf("new intent id: %s\n", id);
    }

    /* 1,250 KES (whole shillings) plus a 1.5%% fee, rounded half-up. */
    int64_t amount = 0, fee = 0, total = 0;
    char text[32];
    if (constra_money_parse("1,250", 16, "KES", &amount, &err) != CONSTRA_OK ||
        constra_money_fee_bps(amount, 150, CONSTRA_ROUND_HALF_UP, &fee, &err) != CONSTRA_OK ||
        constra_money_add(amount, fee, &total, &err) != CONSTRA_OK ||
        constra_money_format(total, "KES", text, sizeof(text), &err) != CONSTRA_OK) {
        fprintf(stderr, "money failed: %s\n", err.message);
        constra_close(h);
        return 1;
    }
    printf("amount %" PRId64 " KES + fee %" PRId64 " = %s KES\n", amount, fee, text);

    /* Overflow is refused, never wrapped. */
    int rc = constra_money_add(INT64_MAX, 1, &total, &err);
    printf("INT64_MAX + 1 -> %s: %s [code=%s param=%s http=%d]\n", constra_status_name(rc),
           err.message, err.code, err.param, err.http_status);

    constra_close(h);
    return 0;
}
