/* Shared by the engine and client tests: the simulator (outcomes 3 s after
 * the push) behind a wrapper that counts collect calls, for the "exactly
 * one rail call" proofs. Header-only; the tests include it once. */
#ifndef CONSTRA_TEST_COUNTING_RAIL_H
#define CONSTRA_TEST_COUNTING_RAIL_H

#include "../unit/testutil.h"

#include <pthread.h>

typedef struct counting_rail {
    constra_rail inner;
    int collects;
    pthread_mutex_t lock;
} counting_rail;

static int counting_collect(void *ud, const constra_rail_collect *req, constra_rail_result *out)
{
    counting_rail *c = ud;
    pthread_mutex_lock(&c->lock);
    c->collects++;
    pthread_mutex_unlock(&c->lock);
    return c->inner.collect(c->inner.user_data, req, out);
}
static int counting_query(void *ud, const char *id, int64_t now, constra_rail_result *out)
{
    counting_rail *c = ud;
    return c->inner.query(c->inner.user_data, id, now, out);
}
static int counting_poll(void *ud, int64_t now, constra_rail_result_fn emit, void *ctx)
{
    counting_rail *c = ud;
    return c->inner.poll(c->inner.user_data, now, emit, ctx);
}
static void counting_destroy(void *ud)
{
    counting_rail *c = ud;
    c->inner.destroy(c->inner.user_data);
}

/* Opens the simulator inside `c` and fills `out` with the counting rail
 * ("sim") to hand to constra_config.rail. Destroy c->lock after closing
 * the handle. */
static void counting_rail_open(counting_rail *c, constra_rail *out)
{
    constra_rail_init(&c->inner, sizeof(c->inner));
    constra_sim_options so = CONSTRA_SIM_OPTIONS_INIT;
    so.outcome_delay_ms = 3000;
    assert_int_equal(constra_rail_sim(&c->inner, NULL, &so, NULL), CONSTRA_OK);
    pthread_mutex_init(&c->lock, NULL);
    constra_rail_init(out, sizeof(*out));
    strcpy(out->name, "sim");
    out->user_data = c;
    out->collect = counting_collect;
    out->query = counting_query;
    out->poll = counting_poll;
    out->destroy = counting_destroy;
}

#endif
