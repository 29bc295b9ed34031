/*
 * Internal: the handle's full definition and the engine's internal entry
 * points shared by the engine's files, the REST router (lib/api) and the remote
 * backend (lib/client).
 */
#ifndef CONSTRA_ENGINE_ENGINE_H
#define CONSTRA_ENGINE_ENGINE_H

#include "constra/handle.h"
#include "constra/intent.h"
#include "constra/rail.h"
#include "constra/storage.h"
#include "storage/resources.h"
#include "constra/transport.h"
#include "constra/webhook_delivery.h"
#include "engine/machine.h"
#include "engine/model.h"
#include "util/ids.h"

/* Longest public base URL constra_api_set_public_url() accepts. */
#define CONSTRA__PUBLIC_URL_MAX 1024

struct constra {
    constra_platform platform; /* resolved copy: every method set */
    constra__res_table storage;   /* copy; destroyed at close */
    constra_rail rail;         /* copy; destroyed at close */
    constra_transport transport; /* copy (webhooks); send NULL when none */
    int (*resolve)(void *ctx, const char *host, char *out, size_t out_size);
    void *resolve_ctx;
    int mode;
    int64_t callback_timeout_ms;
    int max_attempts;
    int64_t idempotency_retention_ms;
    int64_t idempotency_lease_ms; /* in flight this long, then a definite answer */
    int64_t webhook_disable_after_ms; /* -1 never; see constra_config */
    /* "token=" every provider callback must carry ("" refuses them all). */
    char callback_token[65];
    /* Callbacks refused for a missing or wrong token, guarded by `mutex`:
     * the only trace unauthenticated traffic leaves (the overview shows it). */
    uint64_t callbacks_refused;
    /* The bound on kept unmatched callbacks (guarded by `mutex`): how many
     * were kept in the hour starting at unmatched_window_ms, and how many
     * were dropped past CONSTRA_UNMATCHED_CALLBACKS_PER_HOUR. */
    int64_t unmatched_window_ms;
    int unmatched_in_window;
    uint64_t unmatched_dropped;
    int64_t amount_max;
    char secret_key[128]; /* "" when none: the router then refuses all */
    /* The storage's "workspace_id" (handle.c records it at open); "" when
     * the storage has no workspace metadata. Set once, then read-only. */
    char workspace_id[CONSTRA__RES_KEY_MAX + 1];
    /* The server's externally reachable origin for the callback URL the
     * workspace route shows (constra_api_set_public_url); "" when unset.
     * Guarded by `mutex`. */
    char public_url[CONSTRA__PUBLIC_URL_MAX + 1];
    void *mutex; /* guards the id generator and the cache */
    constra__idgen ids;
    /* Randomness for ids, drawn from the platform in blocks: one system
     * call per 25 ids instead of one each. Ids need uniqueness, not
     * secrecy, so a pool is safe; secrets never come from it. */
    uint8_t id_pool[250];
    size_t id_pool_left;
    /* Decoded intents by (id, version), guarded by `mutex` (cache.h). */
    struct constra__cache_slot *cache;
    size_t cache_slots; /* config.intent_cache_slots; 0: no cache */
    int webhooks_own_thread; /* config.webhooks_own_thread: constra_tick skips webhooks */
    /* The tick's sweep over every pending and recovering intent (tick.c),
     * guarded by `mutex`: when it next runs, and where each status's walk
     * stands ("" at its start). */
    int64_t sweep_next_ms;
    char sweep_cursor[2][CONSTRA_ID_SIZE];
    /* Whether the storage's pending deliveries have their due entries
     * (constra__res_reindex_deliveries), guarded by `mutex`. */
    int deliveries_reindexed;
    /* Remote backend (lib/client): set by constra_open_remote(), NULL for
     * a local engine. See constra__remote_ops below. */
    const struct constra__remote_ops *remote_ops;
    void *remote;
};

/* The operator actions and simulated callbacks, as the remote backend
 * receives them. */
typedef enum constra__action_kind {
    CONSTRA__ACT_CONFIRM = 1,
    CONSTRA__ACT_RETRY,
    CONSTRA__ACT_CANCEL,
    CONSTRA__ACT_RESOLVE,
    CONSTRA__ACT_SIMULATE
} constra__action_kind;

typedef struct constra__remote_action {
    int kind;
    const char *id;
    int succeeded;           /* resolve */
    const char *receipt;     /* resolve (succeeded) */
    const char *note;        /* resolve */
    const char *result_code; /* simulate */
    const char *result_desc; /* simulate */
} constra__remote_action;

/* The webhook calls of webhook_delivery.h, as the remote backend
 * receives them: one request shape for all (op says which), answered
 * through the out-pointers of that op. */
typedef enum constra__wh_op {
    CONSTRA__WH_ADD = 1,  /* params -> *endpoint (with its secret) */
    CONSTRA__WH_GET,      /* id -> *endpoint */
    CONSTRA__WH_LIST,     /* -> *endpoints */
    CONSTRA__WH_ENABLE,   /* id */
    CONSTRA__WH_DISABLE,  /* id */
    CONSTRA__WH_REMOVE,   /* id */
    CONSTRA__WH_ROTATE,   /* id, overlap_ms -> *endpoint (with its new secret) */
    CONSTRA__WH_TEST,     /* id -> delivery_id */
    CONSTRA__WH_DELIVERIES, /* endpoint_id, state, after, limit -> *deliveries */
    CONSTRA__WH_REPLAY    /* id (a delivery) */
} constra__wh_op;

typedef struct constra__remote_wh {
    int op;
    const char *id;
    const constra_webhook_endpoint_params *params; /* ADD: checked, v1 fields copied */
    int64_t overlap_ms;                            /* ROTATE */
    const char *endpoint_id, *state, *after;       /* DELIVERIES: NULL or "" = any */
    size_t limit;                                  /* DELIVERIES: 1 to 1000 */
    constra_webhook_endpoint **endpoint;
    constra_webhook_endpoint_list **endpoints;
    constra_webhook_delivery_list **deliveries;
    char *delivery_id; /* TEST: may be NULL */
    size_t delivery_id_size;
} constra__remote_wh;

/* What a server says about an endpoint, for constra__wh_endpoint_make. */
typedef struct constra__wh_endpoint_fields {
    const char *id, *url;
    const char *secret;      /* "" when the answer has none */
    const char *event_types; /* "*" or a comma-separated list */
    const char *description; /* "" for none */
    const char *scheme;      /* "all", "constra", "standard_webhooks" (others read as "all") */
    int enabled;
    int64_t created_at_ms;
} constra__wh_endpoint_fields;

/* Snapshots built from a server's answer (lib/client), so that a remote
 * handle hands out the same objects as a local one. Each returns
 * CONSTRA_OK or CONSTRA_E_NOMEM. _list_take takes `ep` over, also when it
 * fails (then freeing it). */
int constra__wh_endpoint_make(const constra_platform *p, const constra__wh_endpoint_fields *f,
                              constra_webhook_endpoint **out);
int constra__wh_endpoint_list_new(const constra_platform *p, constra_webhook_endpoint_list **out);
int constra__wh_endpoint_list_take(constra_webhook_endpoint_list *l, constra_webhook_endpoint *ep);
int constra__wh_delivery_list_new(const constra_platform *p, constra_webhook_delivery_list **out);
/* Appends a copy of `row` (storage.h's delivery shape; body may be empty). */
int constra__wh_delivery_list_add(constra_webhook_delivery_list *l,
                                  const constra__res_delivery *row);

/*
 * The remote backend's entry points. The client layer sits above the
 * engine and may not be called from it by name (layers point down), so it
 * installs this table in the handle; each public engine call checks its
 * arguments as for a local handle, then, when remote_ops is set, hands the
 * call over and reports the error the client fills (e) to its caller.
 */
typedef struct constra__remote_ops {
    int (*create)(constra_t *h, const constra_intent_params *params, const char *idempotency_key,
                  constra_intent **out, constra_error *e);
    int (*get)(constra_t *h, const char *id, constra_intent **out, constra_error *e);
    /* GET .../{id}?refresh=true: the server asks its rail now. */
    int (*refresh)(constra_t *h, const char *id, constra_intent **out, constra_error *e);
    int (*action)(constra_t *h, const constra__remote_action *a, constra_intent **out,
                  constra_error *e);
    int (*list)(constra_t *h, const constra_intent_list_params *params, constra_intent_list **out,
                constra_error *e);
    int (*events)(constra_t *h, const char *id, constra_event_list **out, constra_error *e);
    /* Webhook endpoints and deliveries (webhook_delivery.h). */
    int (*webhooks)(constra_t *h, const constra__remote_wh *req, constra_error *e);
    /* Frees h->remote (called by constra_close). */
    void (*destroy)(constra_t *h);
} constra__remote_ops;

/* constra_open(); `remote` non-zero for the ordinary handle under a
 * remote one (lib/client): its default storage and simulator stay unused,
 * so neither the live-needs-a-real-rail rule nor the storage's workspace
 * record applies (the server checks both for its own handle). */
int constra__open(constra_t **out, const constra_config *config, int remote, constra_error *err);

/* A new id from the handle's generator (e gets the failure). */
int constra__new_id(constra_t *h, const char *prefix, char *out, size_t size, constra_error *e);

/* Applies one provider result (callback, poll, query) to whichever intent
 * it is about; unknown checkout ids are kept for reconciliation. */
/* Applies a provider result found by its checkout id (unmatched ones are
 * kept for reconciliation). by_rail: it came from the rail's own poll or
 * query rather than a callback off the network (see apply_to). */
int constra__engine_apply_result(constra_t *h, const constra_rail_result *r, int by_rail,
                                 int64_t now_ms, constra_error *e);

/* What a provider result code means for the engine (through the M-Pesa
 * result-code catalogue). */
typedef struct constra__classified {
    constra__input input;          /* SUCCEEDED, PENDING, RECOVERABLE, RETRY_LATER, FAILED, REVIEW */
    const char *recommended_action; /* retry, retry_later, contact_customer, operator_review, none */
    int retry_allowed;
    const char *note;              /* plain words for the operator */
} constra__classified;

void constra__classify(const char *code, const char *desc, constra__classified *out);

/* Webhook work of one tick (lib/engine/webhooks.c): derive deliveries
 * from the event log, send those due. */
int constra__webhooks_tick(constra_t *h, int64_t now_ms, constra_error *e);

#endif
