/*
 * Internal: the remote backend's state (h->remote) and its pieces:
 * client.c (configuration, environment, open, the remote_ops table),
 * call.c (one API call with retries), parse.c (server JSON -> the
 * snapshot, list and event-list objects of intent.h).
 */
#ifndef CONSTRA_CLIENT_CLIENT_H
#define CONSTRA_CLIENT_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "constra/client.h"
#include "engine/engine.h"
#include "mpesa/json_read.h"
#include "util/sbuf.h"

typedef struct constra__client {
    constra_transport transport; /* copy; destroyed with the handle */
    char *base_url;              /* without a trailing '/' */
    size_t base_len;
    char auth[8 + 128];          /* "Bearer <secret key>" */
    char default_provider[16];
    int max_tries;
    int64_t backoff_base_ms;
    int64_t backoff_max_ms;
    int64_t connect_timeout_ms;
    int64_t timeout_ms;
    size_t max_response_bytes;
    constra_sleep_fn sleep_ms;
    void *sleep_user_data;
    int max_attempts;
} constra__client;

/* When a failed try may be repeated (client.h explains the choice). */
typedef enum constra__retry_policy {
    CONSTRA__RETRY_SAFE = 1,  /* reads, create (keyed), simulate */
    CONSTRA__RETRY_GUARDED,   /* status-guarded actions: repeat, reconcile a 409 */
    CONSTRA__RETRY_NOT_SENT   /* retry (a new push): only if never sent */
} constra__retry_policy;

typedef struct constra__call {
    const char *method;
    const char *path; /* after the base URL: "/payment-intents/pi_..." */
    const char *body; /* NULL for none */
    size_t body_len;
    const char *idempotency_key; /* NULL: none */
    int policy;
    /* Out: tries made, and whether one of them may have reached the server. */
    int tries;
} constra__call;

/* Runs one call. CONSTRA_OK: a 2xx JSON answer in *out (free with
 * constra_transport_response_free). Otherwise e holds the server's error
 * (status from its HTTP status and code, engine param names) or the
 * transport's. */
int constra__client_call(constra_t *h, constra__call *call, constra_transport_response **out,
                         constra_error *e);

/* Server JSON -> objects (allocated from h's platform). Errors:
 * CONSTRA_E_PARSE "response_malformed" (param: the JSON path),
 * CONSTRA_E_NOMEM. `replayed` marks a create replay. */
int constra__client_parse_intent(constra_t *h, const char *body, size_t len, int replayed,
                                 constra_intent **out, constra_error *e);
int constra__client_parse_list(constra_t *h, const char *body, size_t len,
                               constra_intent_list **out, constra_error *e);
int constra__client_parse_events(constra_t *h, const char *body, size_t len,
                                 constra_event_list **out, constra_error *e);

/* Pieces parse.c shares with webhooks.c. parse_body: strict JSON, an
 * object at the root; malformed: turns a read error in e into the
 * "response_malformed" answer (502) naming what was expected; read_time:
 * an RFC 3339 time or null/absent (0); read_wrapper: the "object":"list"
 * envelope. */
int constra__client_parse_body(constra__jr *jr, const char *body, size_t len, constra_error *e);
int constra__client_malformed(constra_error *e, const char *what);
int constra__client_read_time(constra__jr *jr, const cJSON *obj, const char *parent,
                              const char *key, int64_t *out);
int constra__client_read_wrapper(constra__jr *jr, const cJSON **data, int *has_more);

/* Appends "?name=value" (or "&...") to b, value percent-encoded. */
void constra__client_query_param(constra__sbuf *b, const char *name, const char *value);

/* The webhook calls of a remote handle (webhooks.c): constra__remote_ops.webhooks. */
int constra__client_webhooks(constra_t *h, const constra__remote_wh *req, constra_error *e);

/* A Unix-ms time as the API writes it ("2025-11-27T10:38:14.625Z"), for
 * list filters. `out` needs 32 bytes. */
void constra__client_format_time(int64_t ms, char out[32]);

#endif
