/*
 * libconstra — the rail vtable (doc/DESIGN.md section 9): how the engine asks
 * a payment provider to collect money and learns the outcome.
 *
 * Implementations: `sim`, the in-process simulator (constra_rail_sim()
 * below), and `mpesa`, Daraja over a transport (constra_rail_daraja(),
 * rail_daraja.h). A host may supply its own. Vtable rules as for constra_platform (platform.h).
 *
 * Results come back in a library-owned constra_rail_result with fixed-size
 * text fields: the rail writes into it, nothing is allocated across the
 * boundary. Text longer than a field is an error (CONSTRA_E_PROVIDER), never
 * truncated: a cut checkout id would match the wrong payment.
 *
 * Threads: methods are called on the thread that called into the engine,
 * possibly from several threads at once; they must not call back into the
 * engine.
 */
#ifndef CONSTRA_RAIL_H
#define CONSTRA_RAIL_H

#include <stddef.h>
#include <stdint.h>

#include "constra/error.h"
#include "constra/export.h"
#include "constra/platform.h"

CONSTRA_BEGIN_DECLS

/** What a rail call established. */
typedef enum constra_rail_outcome {
    /** collect: the provider accepted the request and prompted the
     *  customer; the result arrives later (callback, query, poll). */
    CONSTRA_RAIL_ACCEPTED = 1,
    /** collect: the provider refused synchronously (result_code says why);
     *  no prompt was sent, no money can move. */
    CONSTRA_RAIL_REJECTED = 2,
    /** query / callback / poll: the final result is known (result_code). */
    CONSTRA_RAIL_FINAL = 3,
    /** query: the provider is still processing; ask again later. */
    CONSTRA_RAIL_PENDING = 4
} constra_rail_outcome;

/** A request to collect money from a customer (an STK push for M-Pesa). */
typedef struct constra_rail_collect {
    size_t struct_size;
    const char *intent_id;
    const char *attempt_id;  /* unique per attempt: a rail may use it to
                                refuse a duplicate send */
    int64_t amount;          /* settlement units of `currency` */
    const char *currency;
    const char *phone;       /* normalised, 2547XXXXXXXX */
    const char *reference;
    const char *description;
    int64_t now_ms;          /* the engine clock */
} constra_rail_collect;

#define CONSTRA_RAIL_ID_SIZE 128
#define CONSTRA_RAIL_CODE_SIZE 64
#define CONSTRA_RAIL_DESC_SIZE 256
#define CONSTRA_RAIL_RECEIPT_SIZE 64

/** What a rail reports. The library zero-fills it before each call. */
typedef struct constra_rail_result {
    size_t struct_size;
    int outcome;                                   /* constra_rail_outcome */
    char checkout_request_id[CONSTRA_RAIL_ID_SIZE]; /* the provider's id of the request */
    char merchant_request_id[CONSTRA_RAIL_ID_SIZE];
    char result_code[CONSTRA_RAIL_CODE_SIZE];      /* as the provider sent it: "0", "1032" */
    char result_desc[CONSTRA_RAIL_DESC_SIZE];
    char receipt[CONSTRA_RAIL_RECEIPT_SIZE];       /* on success, e.g. "NLJ7RT61SV" */
    int64_t amount;                                /* on success, as paid; -1 unknown */
    char phone[16];                                /* on success, payer; "" unknown */
    int64_t paid_at_ms;                            /* on success; 0 unknown */
} constra_rail_result;

/** Where poll() hands over results it has become due. */
typedef int (*constra_rail_result_fn)(void *ctx, const constra_rail_result *result);

typedef struct constra_rail {
    size_t struct_size;
    void *user_data;
    /** Short name reported in intents ("sim", "mpesa"); lower-case
     *  letters, NUL-terminated, copied at registration. */
    char name[16];

    /** Starts a collection. Returns CONSTRA_OK with outcome ACCEPTED (and
     *  checkout_request_id set) or REJECTED; or an error status:
     *  CONSTRA_E_TRANSPORT (not sent: safe to retry),
     *  CONSTRA_E_OUTCOME_UNKNOWN (sent, no answer: the engine reconciles
     *  by query, never re-sends). Required. */
    int (*collect)(void *user_data, const constra_rail_collect *request,
                   constra_rail_result *out);

    /** Asks the provider for the status of a request (STK query). FINAL
     *  or PENDING. Optional: NULL when the rail cannot query. */
    int (*query)(void *user_data, const char *checkout_request_id, int64_t now_ms,
                 constra_rail_result *out);

    /** Parses a provider callback body into a FINAL result (which names
     *  the checkout_request_id it is about). CONSTRA_E_PARSE for anything
     *  malformed. Optional. When present the engine parses callbacks with
     *  it (not with the built-in Daraja parser); an outcome of PENDING
     *  means "held, not yet trusted" (e.g. a success awaiting
     *  confirmation): the engine records nothing and the rail hands the
     *  result over later through poll(). */
    int (*parse_callback)(void *user_data, const char *body, size_t body_len,
                          constra_rail_result *out);

    /** Hands the engine every result that has become due by now_ms (the
     *  simulator's delayed outcomes), one call of `emit` each. Optional. */
    int (*poll)(void *user_data, int64_t now_ms, constra_rail_result_fn emit, void *ctx);

    /** Optional: called exactly once when the last user drops the copy. */
    void (*destroy)(void *user_data);

    /** Optional (appended in 0.1; NULL in older structs): authenticates a
     *  provider callback by the query string of the URL it arrived on
     *  (`query` without '?', NULL when there was none). CONSTRA_OK to
     *  accept; CONSTRA_E_AUTH to refuse it (the engine then records
     *  nothing). The Daraja rail checks its secret callback token here. */
    int (*authenticate_callback)(void *user_data, const char *query, size_t query_len);
    /* New members are appended here. */
} constra_rail;

/** Run-time initialiser (FFI): zero-fills, sets struct_size. */
CONSTRA_API int constra_rail_init(constra_rail *rail, size_t struct_size);

/** Checks a rail vtable as constra_open() will (struct_size, name,
 *  collect present). Thread-safe. */
CONSTRA_API int constra_rail_check(const constra_rail *rail, constra_error *err);

/** Options of the simulator. Zero-filled means the defaults. */
typedef struct constra_sim_options {
    size_t struct_size;
    /** Delay before a magic phone number's outcome is due (engine clock).
     *  0 means 3000 ms; negative is refused. */
    int64_t outcome_delay_ms;
    /* New fields are appended here. */
} constra_sim_options;

#define CONSTRA_SIM_OPTIONS_INIT { sizeof(constra_sim_options), 0 }

/**
 * Fills `out` with the simulator rail (`sim`).
 *
 * collect() accepts every well-formed request with a realistic
 * `ws_CO_DDMMYYYYHHMMSSmmmNNNNNNNNN` checkout id, except amounts outside
 * 1..250000 (REJECTED with the Daraja code for an invalid amount).
 * Outcomes, due `outcome_delay_ms` after the push, by phone number:
 *   254708374149 (the Daraja sandbox number), 254711000000  succeed (0)
 *   254711000001  insufficient funds (1)
 *   254711000002  no response from the customer / time-out (1037)
 *   254711000003  cancelled by the customer (1032)
 *   254711000004  wrong PIN (2001)
 * Any other number waits for a simulated callback (the engine's
 * simulate-callback) or the engine's callback time-out. Successes carry
 * M-Pesa-style receipts ("NLJ7RT61SV": 10 upper-case letters and digits).
 * query() answers FINAL once an outcome is due, PENDING before.
 *
 * `platform` (may be NULL) supplies allocator, mutex and randomness;
 * `options` may be NULL. The caller owns `out` until it is registered.
 * Errors: CONSTRA_E_INVALID_ARGUMENT, CONSTRA_E_ABI, CONSTRA_E_NOMEM,
 * CONSTRA_E_PLATFORM.
 */
CONSTRA_API int constra_rail_sim(constra_rail *out, const constra_platform *platform,
                                 const constra_sim_options *options, constra_error *err);

CONSTRA_END_DECLS

#endif /* CONSTRA_RAIL_H */
