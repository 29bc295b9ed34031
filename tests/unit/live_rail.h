/* Shared by the tests that open a LIVE handle: a live handle needs a real
 * rail (constra_open refuses the simulator: handle.h), so these tests use
 * the Daraja rail against the in-process Daraja emulator, mounted at the
 * Daraja sandbox origin of a loopback table (as tests/daraja-e2e do).
 * Header-only.
 *
 *   live_rail lr;
 *   constra_rail rail;
 *   live_rail_open(&lr, NULL, &rail);   // then cfg.rail = &rail
 *   ... constra_open, the test, constra_close ...
 *   live_rail_close(&lr);               // after the handle is closed
 */
#ifndef CONSTRA_TEST_LIVE_RAIL_H
#define CONSTRA_TEST_LIVE_RAIL_H

#include "testutil.h"

#include "constra/daraja_emulator.h"
#include "constra/rail_daraja.h"

#define LIVE_RAIL_KEY "liveRailConsumerKey012345"
#define LIVE_RAIL_SECRET "liveRailConsumerSecret9876"
#define LIVE_RAIL_CALLBACK "https://merchant.example/api/v1/providers/mpesa/callback"
#define LIVE_RAIL_TOKEN "liveRailCallbackToken_0123456789"

/* A Daraja rail configuration for the emulator's sandbox app: the
 * sandbox environment, shortcode 174379 with its published passkey, a
 * Paybill, the app's credentials and the callback URL and token given.
 * Shared with tests/daraja-e2e/e2e.h. */
static inline void emulator_rail_config(constra_daraja_config *c, const char *consumer_key,
                                        const char *consumer_secret, const char *callback_url,
                                        const char *callback_token)
{
    constra_daraja_config init = CONSTRA_DARAJA_CONFIG_INIT;
    *c = init;
    c->environment = CONSTRA_DARAJA_ENV_SANDBOX;
    c->consumer_key = consumer_key;
    c->consumer_secret = consumer_secret;
    c->shortcode = CONSTRA_DARAJA_SANDBOX_SHORTCODE;
    c->passkey = CONSTRA_DARAJA_SANDBOX_PASSKEY;
    c->transaction_type = CONSTRA_DARAJA_STK_PAYBILL;
    c->callback_url = callback_url;
    c->callback_token = callback_token;
}

typedef struct live_rail {
    constra_loopback *lb;
    constra_daraja_emulator *emu;
} live_rail;

/* Fills `out` with a Daraja rail whose requests reach the emulator.
 * `platform` (may be NULL) is given to the loopback, emulator and rail. */
static inline void live_rail_open(live_rail *lr, const constra_platform *platform,
                                  constra_rail *out)
{
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_loopback_new(&lr->lb, platform, &err), CONSTRA_OK);
    constra_transport cb, tr;
    assert_int_equal(constra_loopback_transport(lr->lb, &cb, &err), CONSTRA_OK);
    constra_daraja_emulator_options eo = CONSTRA_DARAJA_EMULATOR_OPTIONS_INIT;
    eo.consumer_key = LIVE_RAIL_KEY;
    eo.consumer_secret = LIVE_RAIL_SECRET;
    assert_int_equal(constra_daraja_emulator_new(&lr->emu, &eo, &cb, platform, &err), CONSTRA_OK);
    assert_int_equal(constra_loopback_mount(lr->lb, CONSTRA_DARAJA_SANDBOX_BASE_URL,
                                            constra_daraja_emulator_handler, lr->emu, &err),
                     CONSTRA_OK);
    assert_int_equal(constra_loopback_transport(lr->lb, &tr, &err), CONSTRA_OK);
    constra_daraja_config c;
    emulator_rail_config(&c, LIVE_RAIL_KEY, LIVE_RAIL_SECRET, LIVE_RAIL_CALLBACK, LIVE_RAIL_TOKEN);
    constra_rail_init(out, sizeof(*out));
    if (constra_rail_daraja(out, &c, &tr, platform, &err) != CONSTRA_OK) {
        fail_msg("daraja rail: %s", err.message);
    }
}

/* Frees the emulator and the loopback; the handle must be closed first. */
static inline void live_rail_close(live_rail *lr)
{
    constra_daraja_emulator_free(lr->emu);
    constra_loopback_free(lr->lb);
    lr->emu = NULL;
    lr->lb = NULL;
}

#endif
