/*
 * libconstra — payment intents: create, read, list, and the operator
 * actions, on a handle opened with constra_open() (handle.h).
 *
 * An intent is the source of truth for one attempted payment (doc/DESIGN.md
 * section 5). Functions here hand out `constra_intent` snapshots: an
 * immutable copy of the intent as it was when read, owned by the caller
 * and freed with constra_intent_free(). Strings returned by accessors
 * belong to the snapshot and stay valid until it is freed.
 *
 * Every fallible function returns CONSTRA_OK or an error status and takes
 * `constra_error *err` as its last argument (may be NULL): on failure it
 * receives this call's detail (code such as "idempotency_key_reused",
 * HTTP status, message, param); on success it is left untouched. Each
 * call has its own: threads sharing a handle never see each other's
 * errors. On any error, stored state is exactly as it was and *out is
 * NULL.
 *
 * On a handle opened with constra_open_remote() (client.h) the same
 * calls are answered by a remote Constra API; the objects and errors
 * they hand back are the same kinds (client.h lists the few differences).
 *
 * Threads: all functions may be called concurrently on one handle.
 * Snapshots, lists and event lists are immutable once returned: any
 * number of threads may read one at the same time; free it exactly once,
 * after the last reader.
 */
#ifndef CONSTRA_INTENT_H
#define CONSTRA_INTENT_H

#include <stddef.h>
#include <stdint.h>

#include "constra/error.h"
#include "constra/export.h"
#include "constra/handle.h"

CONSTRA_BEGIN_DECLS

/** Intent statuses (doc/DESIGN.md section 5). Values are stable. (The enum
 *  has no typedef: constra_intent_status() is the accessor.) */
enum constra_intent_status {
    /** A status this library does not know: a newer Constra server's, read
     *  by the remote client (the server's own string is in
     *  constra_intent_json()). Never produced by a local engine. */
    CONSTRA_INTENT_UNKNOWN = 0,
    CONSTRA_INTENT_DRAFT = 1,
    CONSTRA_INTENT_PENDING_USER_ACTION = 2,
    CONSTRA_INTENT_SUCCEEDED = 3,
    CONSTRA_INTENT_REQUIRES_RECOVERY = 4,
    CONSTRA_INTENT_REVIEW_REQUIRED = 5,
    CONSTRA_INTENT_FAILED = 6,
    CONSTRA_INTENT_CANCELLED = 7
};

/** "draft", "pending_user_action", ...; "unknown" for other values.
 *  Static storage. */
CONSTRA_API const char *constra_intent_status_name(int status);

/** Who may move money after a recoverable outcome. */
typedef enum constra_agent_policy {
    /** Default: nothing moves without an operator's approval. */
    CONSTRA_AGENT_OPERATOR_REVIEW = 0,
    /** Recoverable outcomes are retried automatically, within max_attempts. */
    CONSTRA_AGENT_AUTO_RETRY = 1,
    /** No agent notes, no automatic action. */
    CONSTRA_AGENT_NONE = 2
} constra_agent_policy;

/** Opaque snapshot of one intent. */
typedef struct constra_intent constra_intent;

/**
 * What to create. Initialise with CONSTRA_INTENT_PARAMS_INIT or
 * constra_intent_params_init(). Strings are copied; NULL means absent.
 */
typedef struct constra_intent_params {
    size_t struct_size;
    /** Settlement units of `currency` (whole shillings for KES): 1 to the
     *  handle's amount_max. */
    int64_t amount;
    /** ISO 4217 code; M-Pesa collects "KES" only. Required. */
    const char *currency;
    /** "mpesa" (the default when NULL). */
    const char *provider;
    /** Payer's phone in any Kenyan form ("0712 345 678", "+254712345678");
     *  stored normalised as 2547XXXXXXXX. Required. */
    const char *phone_number;
    /** Optional, up to 100 bytes of UTF-8. */
    const char *customer_name;
    /** Merchant reference, optional, up to 64 bytes ("order_7429"). */
    const char *reference;
    /** Optional, up to 255 bytes ("Solar home kit deposit"). */
    const char *description;
    /** constra_agent_policy; CONSTRA_AGENT_OPERATOR_REVIEW by default. */
    int agent_policy;
    /** Non-zero: create a `draft` that calls no rail until confirmed. */
    int draft;
    /** Optional (0.2): the merchant's own data as a JSON object of string
     *  keys to string values, e.g. {"order_id":"7429","till":"3"}: at most
     *  50 keys of 1 to 40 characters (no '[' or ']'), values of at most 500
     *  characters, valid UTF-8 (Stripe's limits). A key with an empty value
     *  is left out (it still counts towards the 50). Stored, returned in
     *  the intent's JSON ("metadata",
     *  keys in byte order) and in every event and webhook payload; never
     *  searched, never acted on. Part of the request an idempotency key
     *  stands for. Anything else: CONSTRA_E_INVALID_ARGUMENT,
     *  parameter_invalid, param "metadata" or "metadata.<key>". */
    const char *metadata;
    /* New fields are appended here. */
} constra_intent_params;

#define CONSTRA_INTENT_PARAMS_INIT { sizeof(constra_intent_params), 0, NULL, NULL, NULL, NULL, \
    NULL, NULL, 0, 0, NULL }

/** Run-time initialiser (FFI): zero-fills, sets struct_size. */
CONSTRA_API int constra_intent_params_init(constra_intent_params *params, size_t struct_size);

/**
 * Creates a payment intent and, unless it is a draft, asks the rail to
 * prompt the customer (STK push).
 *
 * `idempotency_key` (1-255 of A-Z a-z 0-9 _ - : .) is required. The same
 * key with the same parameters returns the first result again, byte for
 * byte (constra_intent_replayed() is then 1), without a second rail call;
 * with different parameters: CONSTRA_E_CONFLICT, code
 * "idempotency_key_reused"; while the first request still runs, within
 * the handle's idempotency_lease_ms (default 60 s) from its start:
 * CONSTRA_E_CONFLICT, code "idempotent_request_in_flight". After the
 * lease an unfinished first request (its process killed, its storage
 * failed) no longer blocks the key: if it created an intent, that intent
 * is returned as it is now (constra_intent_replayed() 1, no rail call,
 * and its JSON then becomes the key's replayed response); if it created
 * nothing, this call runs the request afresh. Keys are kept for the
 * handle's idempotency_retention_ms.
 *
 * A rail that refuses synchronously does not make this fail: the intent
 * is created in `requires_recovery` or `failed`, as its code says.
 * On success *out is a snapshot owned by the caller (constra_intent_free).
 * Errors: CONSTRA_E_INVALID_ARGUMENT (param names the field),
 * CONSTRA_E_CONFLICT, CONSTRA_E_STORAGE, CONSTRA_E_NOMEM.
 */
CONSTRA_API int constra_intent_create(constra_t *handle, const constra_intent_params *params,
                                      const char *idempotency_key, constra_intent **out,
                                      constra_error *err);

/** The intent with this id. CONSTRA_E_NOT_FOUND if there is none. */
CONSTRA_API int constra_intent_get(constra_t *handle, const char *id, constra_intent **out,
                                   constra_error *err);

/**
 * As constra_intent_get(), but a pending intent is first settled from the
 * rail when it can be: its current attempt is asked about now (the STK
 * query), and a final answer is applied exactly as a confirmed callback
 * would be (success with its receipt, or the failure and its recovery).
 * For the integrator whose callbacks are lost or not set up (paylod's
 * zero-infrastructure status read). Anything else (not pending, the rail
 * still waiting or unreachable, a rail without a query) answers the
 * intent as stored. On a remote handle: GET /payment-intents/{id}?refresh=true.
 * Errors as constra_intent_get(), plus CONSTRA_E_STORAGE while saving.
 * Thread-safe.
 */
CONSTRA_API int constra_intent_refresh(constra_t *handle, const char *id, constra_intent **out,
                                       constra_error *err);

/** Confirms a draft: it is sent to the rail as if just created.
 *  CONSTRA_E_INVALID_STATE (HTTP 409) unless the intent is a draft. */
CONSTRA_API int constra_intent_confirm(constra_t *handle, const char *id, constra_intent **out,
                                       constra_error *err);

/** Operator-approved retry of a `requires_recovery` intent: a new attempt,
 *  a new prompt. Past max_attempts the intent becomes `failed`.
 *  CONSTRA_E_INVALID_STATE from any other status. */
CONSTRA_API int constra_intent_retry(constra_t *handle, const char *id, constra_intent **out,
                                     constra_error *err);

/** Cancels an intent that is not terminal. A success that still arrives
 *  for it later goes to `review_required`. */
CONSTRA_API int constra_intent_cancel(constra_t *handle, const char *id, constra_intent **out,
                                      constra_error *err);

/**
 * Resolves an intent in `review_required`: `succeeded` non-zero marks it
 * paid (with `receipt`, the M-Pesa receipt the operator verified,
 * required then), zero marks it failed. `note` (optional, up to 511
 * bytes) is kept as the agent note.
 */
CONSTRA_API int constra_intent_resolve(constra_t *handle, const char *id, int succeeded,
                                       const char *receipt, const char *note,
                                       constra_intent **out, constra_error *err);

/**
 * Sandbox only: delivers a provider result for the intent's current
 * attempt as if the provider had called back: `result_code` any M-Pesa
 * code ("0", "1032", ...), `result_desc` optional. A success gets a
 * simulated receipt. CONSTRA_E_INVALID_STATE if the intent has no attempt
 * waiting; CONSTRA_E_UNSUPPORTED (HTTP 403) on a live handle.
 */
CONSTRA_API int constra_intent_simulate_callback(constra_t *handle, const char *id,
                                                 const char *result_code,
                                                 const char *result_desc, constra_intent **out,
                                                 constra_error *err);

/**
 * Drives time: delivers the rail's due outcomes (the simulator's), moves
 * intents whose callback did not come within callback_timeout_ms (asking
 * the rail first), performs automatic retries, drops expired
 * idempotency keys and, when the handle has a transport
 * (constra_config.transport), queues and sends webhook deliveries
 * (webhook_delivery.h: constra_webhooks_tick()). Call it periodically with the platform clock's time
 * (constra_now_ms()) or a driven time in tests; the library has no
 * threads of its own. Returns CONSTRA_OK or the first error met (the
 * rest of the work is still done).
 */
CONSTRA_API int constra_tick(constra_t *handle, int64_t now_ms, constra_error *err);

/** Frees a snapshot. NULL is a no-op. */
CONSTRA_API void constra_intent_free(constra_intent *intent);

/* ---- accessors: never fail; strings are "" when absent ------------------ */

CONSTRA_API const char *constra_intent_id(const constra_intent *intent);
CONSTRA_API int constra_intent_status(const constra_intent *intent);
CONSTRA_API int64_t constra_intent_amount(const constra_intent *intent);
CONSTRA_API const char *constra_intent_currency(const constra_intent *intent);
CONSTRA_API const char *constra_intent_provider(const constra_intent *intent);
CONSTRA_API const char *constra_intent_reference(const constra_intent *intent);
CONSTRA_API const char *constra_intent_description(const constra_intent *intent);
CONSTRA_API const char *constra_intent_customer_name(const constra_intent *intent);
CONSTRA_API const char *constra_intent_phone_number(const constra_intent *intent);
CONSTRA_API int constra_intent_agent_policy(const constra_intent *intent);
/** The current attempt's checkout request id ("" before the first push). */
CONSTRA_API const char *constra_intent_checkout_request_id(const constra_intent *intent);
/** "not_sent", "sending", "sent_to_customer", "completed", ... */
CONSTRA_API const char *constra_intent_provider_action_state(const constra_intent *intent);
/** "confirm", "wait_for_callback", "recover", "review" or "none". */
CONSTRA_API const char *constra_intent_next_action(const constra_intent *intent);
CONSTRA_API const char *constra_intent_result_code(const constra_intent *intent);
CONSTRA_API const char *constra_intent_result_desc(const constra_intent *intent);
CONSTRA_API const char *constra_intent_receipt(const constra_intent *intent);
/** Recovery summary: "retry", "retry_later", "contact_customer",
 *  "operator_review" or "none". */
CONSTRA_API const char *constra_intent_recommended_action(const constra_intent *intent);
CONSTRA_API int constra_intent_retry_allowed(const constra_intent *intent);
CONSTRA_API int constra_intent_attempts_used(const constra_intent *intent);
CONSTRA_API int constra_intent_attempts_left(const constra_intent *intent);
/** The agent note in plain words ("" when none or policy `none`). */
CONSTRA_API const char *constra_intent_agent_note(const constra_intent *intent);
CONSTRA_API int64_t constra_intent_created_at_ms(const constra_intent *intent);
CONSTRA_API int64_t constra_intent_updated_at_ms(const constra_intent *intent);
/** 1 if this snapshot is the replay of an earlier create with the same
 *  idempotency key. */
CONSTRA_API int constra_intent_replayed(const constra_intent *intent);
/** The intent as the REST API returns it (doc/DESIGN.md section 11); valid
 *  until the snapshot is freed. *len (may be NULL) gets its length. */
CONSTRA_API const char *constra_intent_json(const constra_intent *intent, size_t *len);
/** The intent's metadata as a JSON object ("{}" when it has none; keys in
 *  byte order), valid until the snapshot is freed; *len (may be NULL) gets
 *  its length. From a remote server: what it sent, when that is an object
 *  of strings within the limits; otherwise "{}" (its own JSON still has
 *  it, constra_intent_json()). Thread-safe on a snapshot no one frees. */
CONSTRA_API const char *constra_intent_metadata_json(const constra_intent *intent, size_t *len);

/* ---- lists ------------------------------------------------------------ */

/** Filters and paging for constra_intent_list_get(). Zero/NULL means "any". */
typedef struct constra_intent_list_params {
    size_t struct_size;
    /** A constra_intent_status value, or 0 for all. */
    int status;
    /** Only intents with this merchant reference. */
    const char *reference;
    /** Created at or after (inclusive), before (exclusive), Unix ms. */
    int64_t created_from_ms;
    int64_t created_to_ms;
    /** Cursor: the id of the last intent of the previous page. */
    const char *starting_after;
    /** Page size, 1 to 100; 0 means 10. */
    size_t limit;
    /* New fields are appended here. */
} constra_intent_list_params;

#define CONSTRA_INTENT_LIST_PARAMS_INIT { sizeof(constra_intent_list_params), 0, NULL, 0, 0, \
    NULL, 0 }

CONSTRA_API int constra_intent_list_params_init(constra_intent_list_params *params,
                                                size_t struct_size);

/** One page of intents, newest first. Opaque; the result of
 *  constra_intent_list_get(), freed with constra_intent_list_free(). */
typedef struct constra_intent_list constra_intent_list;

/** Lists intents, newest first (params NULL: the 10 newest). Every call
 *  that fills a `constra_X_list` is named `constra_X_list_get`. */
CONSTRA_API int constra_intent_list_get(constra_t *handle,
                                        const constra_intent_list_params *params,
                                        constra_intent_list **out, constra_error *err);
CONSTRA_API size_t constra_intent_list_count(const constra_intent_list *list);
/** The i-th intent of the page (owned by the list), or NULL past the end. */
CONSTRA_API const constra_intent *constra_intent_list_at(const constra_intent_list *list,
                                                         size_t index);
/** 1 if more intents follow: pass the last id as starting_after. */
CONSTRA_API int constra_intent_list_has_more(const constra_intent_list *list);
/** {"object":"list","data":[...],"has_more":...}; valid until freed. */
CONSTRA_API const char *constra_intent_list_json(const constra_intent_list *list, size_t *len);
CONSTRA_API void constra_intent_list_free(constra_intent_list *list);

/* ---- events ------------------------------------------------------------ */

/** An intent's event timeline, oldest first. Opaque. */
typedef struct constra_event_list constra_event_list;

/** The events of intent `id` in commit order (all of them, up to 1000).
 *  CONSTRA_E_NOT_FOUND if there is no such intent. */
CONSTRA_API int constra_event_list_get(constra_t *handle, const char *id,
                                       constra_event_list **out, constra_error *err);
CONSTRA_API size_t constra_event_list_count(const constra_event_list *list);
/** The i-th event's type ("payment_intent.created", ...), "" past the end. */
CONSTRA_API const char *constra_event_list_type(const constra_event_list *list, size_t index);
/** The i-th event's id ("evt_..."), "" past the end. */
CONSTRA_API const char *constra_event_list_id(const constra_event_list *list, size_t index);
/** The i-th event as JSON (the webhook envelope), "" past the end. */
CONSTRA_API const char *constra_event_list_event_json(const constra_event_list *list,
                                                      size_t index);
/** {"object":"list","data":[...]} of all events; valid until freed. */
CONSTRA_API const char *constra_event_list_json(const constra_event_list *list, size_t *len);
CONSTRA_API void constra_event_list_free(constra_event_list *list);

/* ---- provider callbacks -------------------------------------------------- */

/**
 * Applies a Daraja STK callback (what Daraja POSTs to the CallBackURL) that
 * arrived on a URL with query string `query` (the part after '?',
 * `query_len` bytes; NULL when there was none). `body` is `len` bytes and
 * need not be NUL-terminated.
 *
 * The callback is first authenticated: the workspace's callback token
 * (the `token=` of the callback URL the workspace hands out) is checked
 * in constant time, and so is the rail's own check when it has one (the
 * Daraja rail's CallBackURL token, rail_daraja.h). A missing or wrong
 * token is CONSTRA_E_AUTH and NOTHING is recorded: unauthenticated
 * traffic never changes or grows storage.
 *
 * Then, exactly as a rail result, it is applied to the intent whose
 * current or earlier attempt has its CheckoutRequestID: success (which
 * needs a receipt), recoverable or terminal outcome, duplicate (recorded,
 * nothing changes), amount or phone mismatch, late or second payment
 * (review). An authenticated callback for an unknown checkout id is kept
 * for reconciliation (an event with no intent) and still succeeds. A
 * masked PhoneNumber ("2547 ***** 126") counts as unknown, not as a
 * mismatch. When the rail parses callbacks itself (parse_callback), its
 * parse is used, and a result it holds for confirmation is recorded
 * later (tick).
 *
 * Returns CONSTRA_OK once the callback is recorded. Errors (nothing
 * recorded): CONSTRA_E_AUTH, CONSTRA_E_INVALID_ARGUMENT (handle or body
 * NULL), CONSTRA_E_PARSE (malformed body: the codes and JSON paths of
 * constra_daraja_parse_stk_callback() in daraja.h), CONSTRA_E_STORAGE,
 * CONSTRA_E_NOMEM, CONSTRA_E_PLATFORM. Thread-safe.
 */
/** Authenticated callbacks that match no intent are kept (as
 *  "callback.unmatched" events, for reconciliation) up to this many per
 *  hour per handle; beyond it they are acknowledged but not stored, and
 *  counted ("callbacks.unmatched_dropped" in the sandbox overview).
 *  Storages drop them after CONSTRA_UNMATCHED_RETENTION_MS. */
#define CONSTRA_UNMATCHED_CALLBACKS_PER_HOUR 1000

CONSTRA_API int constra_handle_mpesa_callback(constra_t *handle, const char *query,
                                              size_t query_len, const char *body, size_t len,
                                              constra_error *err);

/**
 * As constra_handle_mpesa_callback() WITHOUT the token check: for a host
 * that has authenticated the request itself (its own secret path, mutual
 * TLS, a signature it verified) before handing the body over. Calling it
 * with a request from the open internet lets anyone record payments:
 * use constra_handle_mpesa_callback() unless you have checked the
 * sender. The rail's own check (authenticate_callback) is skipped too.
 * Otherwise identical. Thread-safe.
 */
CONSTRA_API int constra_handle_mpesa_callback_preauthenticated(constra_t *handle,
                                                               const char *body, size_t len,
                                                               constra_error *err);

CONSTRA_END_DECLS

#endif /* CONSTRA_INTENT_H */
