/*
 * The payment loop on a point-of-sale terminal, as firmware runs it: a
 * handle over the static-arena platform (arena.c), the memory storage and
 * the simulator rail, in sandbox mode. On a real terminal the rail is the
 * Daraja rail over the modem's transport and the storage is on flash
 * (README.md); the calls are the same.
 */
#include "payment_loop.h"

#include "arena.h"
#include "board.h"

/* cJSON's allocations go to the arena too (the firmware owns the process). */
static int open_handle(constra_t **h, constra_error *err)
{
    constra_platform plat;
    fw_platform(&plat, 1);
    int rc = constra_platform_install_json_allocator(&plat, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra_config cfg = CONSTRA_CONFIG_INIT;
    cfg.platform = &plat;
    /* No decoded-intent cache: each slot holds a whole intent record
     * (about 8.7 KB here), more than the lifecycle's whole arena. */
    cfg.intent_cache_slots = 0;
    return constra_open(h, &cfg, err);
}

static void show(int verbose, const char *step, const constra_intent *in)
{
    if (verbose) {
        fw_printf("%-20s %s status=%s next=%s", step, constra_intent_id(in),
                  constra_intent_status_name(constra_intent_status(in)),
                  constra_intent_next_action(in));
    }
}

int fw_payment_loop(int verbose, constra_error *err)
{
    constra_t *h = NULL;
    int rc = open_handle(&h, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra_intent_params p = CONSTRA_INTENT_PARAMS_INIT;
    p.amount = 1250;
    p.currency = "KES";
    p.phone_number = "0712345678";
    p.reference = "till_0042";
    p.description = "Groceries";
    constra_intent *in = NULL;
    char id[CONSTRA_ID_SIZE] = "";
    constra_event_list *events = NULL;

    rc = constra_intent_create(h, &p, "till_0042_sale_1", &in, err);
    if (rc != CONSTRA_OK) {
        goto done;
    }
    show(verbose, "created", in);
    for (size_t i = 0; i + 1 < sizeof(id) && constra_intent_id(in)[i]; i++) {
        id[i] = constra_intent_id(in)[i];
        id[i + 1] = '\0';
    }
    constra_intent_free(in);
    in = NULL;

    fw_clock_advance_ms(8000);
    rc = constra_intent_simulate_callback(h, id, "1032", "Request cancelled by user.", &in, err);
    if (rc != CONSTRA_OK) {
        goto done;
    }
    show(verbose, "customer cancelled", in);
    if (verbose) {
        fw_printf("  recommended action: %s", constra_intent_recommended_action(in));
    }
    constra_intent_free(in);
    in = NULL;

    rc = constra_intent_retry(h, id, &in, err);
    if (rc != CONSTRA_OK) {
        goto done;
    }
    show(verbose, "retried", in);
    constra_intent_free(in);
    in = NULL;

    fw_clock_advance_ms(12000);
    rc = constra_intent_simulate_callback(
        h, id, "0", "The service request is processed successfully.", &in, err);
    if (rc != CONSTRA_OK) {
        goto done;
    }
    show(verbose, "paid", in);
    if (constra_intent_status(in) != CONSTRA_INTENT_SUCCEEDED) {
        rc = CONSTRA_E_GENERIC;
        goto done;
    }
    if (verbose) {
        fw_printf("  receipt: %s", constra_intent_receipt(in));
    }
    constra_intent_free(in);
    in = NULL;

    rc = constra_event_list_get(h, id, &events, err);
    if (rc != CONSTRA_OK) {
        goto done;
    }
    if (verbose) {
        for (size_t i = 0; i < constra_event_list_count(events); i++) {
            fw_printf("  %u. %s", (unsigned)(i + 1), constra_event_list_type(events, i));
        }
    }
done:
    constra_event_list_free(events);
    constra_intent_free(in);
    constra_close(h);
    constra_platform_install_json_allocator(NULL, NULL);
    return rc;
}
