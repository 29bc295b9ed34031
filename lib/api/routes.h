/*
 * Internal: the REST routes, one function per route, called by the router
 * (router.c) once the request is checked, authenticated and matched. The
 * route files include this header for their own prototypes; what they
 * need besides is in request.h, so no route depends on the router.
 * Each returns as request.h says: CONSTRA_OK once the response holds an
 * answer, CONSTRA_E_NOMEM when none could be built.
 */
#ifndef CONSTRA_API_ROUTES_H
#define CONSTRA_API_ROUTES_H

#include "api/request.h"

/* routes.c: intents, the provider callback, typed instructions; overview.c;
 * workspace.c. */
int constra__api_create(constra__api_ctx *c);
int constra__api_list(constra__api_ctx *c);
int constra__api_get(constra__api_ctx *c);
int constra__api_events(constra__api_ctx *c);
int constra__api_action(constra__api_ctx *c, const char *action);
int constra__api_callback(constra__api_ctx *c);
int constra__api_instructions(constra__api_ctx *c);
int constra__api_overview(constra__api_ctx *c);
int constra__api_workspace(constra__api_ctx *c);
/* Webhook endpoints and deliveries (webhooks.c). */
int constra__api_wh_endpoints(constra__api_ctx *c);            /* GET list, POST create */
int constra__api_wh_endpoint(constra__api_ctx *c);             /* GET one, DELETE */
int constra__api_wh_endpoint_action(constra__api_ctx *c, const char *action);
int constra__api_wh_deliveries(constra__api_ctx *c);           /* GET */
int constra__api_wh_replay(constra__api_ctx *c);               /* POST */

#endif
