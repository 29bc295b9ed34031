/*
 * quickstart — the whole payment loop in one file, in-process, with no
 * network: create an intent (STK push on the simulator), the customer
 * cancels, read the recovery note, retry, the customer pays, print the
 * timeline.
 *
 *   cc quickstart.c $(pkg-config --cflags --libs constra) -o quickstart
 */
#include <inttypes.h>
#include <stdio.h>

#include <constra.h>

/* Every call that can fail fills its own constra_error (the last argument). */
static int fail(constra_t *h, const char *what, const constra_error *e)
{
    const constra_error err = *e;
    fprintf(stderr, "%s failed: %s [%s, HTTP %d, param '%s']\n", what, err.message, err.code,
            err.http_status, err.param);
    constra_close(h);
    return 1;
}

static void show(const char *step, const constra_intent *in)
{
    printf("%-22s %s  status=%-20s next=%s\n", step, constra_intent_id(in),
           constra_intent_status_name(constra_intent_status(in)), constra_intent_next_action(in));
}

int main(void)
{
    constra_error err = CONSTRA_ERROR_INIT;
    constra_t *h = NULL;
    /* Defaults: in-memory storage, the simulator rail, sandbox mode. */
    if (constra_open(&h, NULL, &err) != CONSTRA_OK) {
        fprintf(stderr, "constra_open: %s\n", err.message);
        return 1;
    }

    constra_intent_params p = CONSTRA_INTENT_PARAMS_INIT;
    p.amount = 1250; /* KES, whole shillings */
    p.currency = "KES";
    p.customer_name = "Amina N.";
    p.phone_number = "0700 000 000";
    p.reference = "order_7429";
    p.description = "Solar home kit deposit";

    /* 1. Create: the simulator sends an STK push to the customer. The key
     *    makes a retried request (after a network error) safe. */
    constra_intent *in = NULL;
    if (constra_intent_create(h, &p, "order_7429_deposit", &in, &err) != CONSTRA_OK) {
        return fail(h, "create", &err);
    }
    char id[CONSTRA_ID_SIZE];
    snprintf(id, sizeof(id), "%s", constra_intent_id(in));
    show("created", in);
    printf("  checkout request id: %s\n", constra_intent_checkout_request_id(in));
    constra_intent_free(in);

    /* 2. The customer cancels the prompt (result code 1032). */
    if (constra_intent_simulate_callback(h, id, "1032", "Request cancelled by user.", &in, &err) !=
        CONSTRA_OK) {
        return fail(h, "simulate cancel", &err);
    }
    show("customer cancelled", in);
    printf("  recommended action: %s (retry allowed: %s, attempts left: %d)\n",
           constra_intent_recommended_action(in), constra_intent_retry_allowed(in) ? "yes" : "no",
           constra_intent_attempts_left(in));
    printf("  agent note: %s\n", constra_intent_agent_note(in));
    constra_intent_free(in);

    /* 3. The operator approves a retry: a new prompt goes out. */
    if (constra_intent_retry(h, id, &in, &err) != CONSTRA_OK) {
        return fail(h, "retry", &err);
    }
    show("retried", in);
    constra_intent_free(in);

    /* 4. This time the customer pays (result code 0). */
    if (constra_intent_simulate_callback(h, id, "0", "The service request is processed "
                                                     "successfully.", &in, &err) != CONSTRA_OK) {
        return fail(h, "simulate success", &err);
    }
    show("paid", in);
    printf("  M-Pesa receipt: %s\n", constra_intent_receipt(in));
    constra_intent_free(in);

    /* 5. The timeline, oldest first. */
    constra_event_list *events = NULL;
    if (constra_event_list_get(h, id, &events, &err) != CONSTRA_OK) {
        return fail(h, "events", &err);
    }
    printf("timeline:\n");
    for (size_t i = 0; i < constra_event_list_count(events); i++) {
        printf("  %zu. %-36s %s\n", i + 1, constra_event_list_type(events, i),
               constra_event_list_id(events, i));
    }
    constra_event_list_free(events);
    constra_close(h);
    return 0;
}
