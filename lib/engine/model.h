/*
 * Internal: the payment intent as the engine holds it, and its two JSON
 * forms — the public one (doc/DESIGN.md section 11, what the API returns) and
 * the stored document (the public fields plus the engine's bookkeeping),
 * which model_parse() reads back.
 */
#ifndef CONSTRA_ENGINE_MODEL_H
#define CONSTRA_ENGINE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "constra/id.h"
#include "constra/intent.h"
#include "constra/platform.h"
#include "constra/rail.h"
#include "util/sbuf.h"

/* Upper bound of max_attempts: the attempts live in a fixed array. */
#define CONSTRA__ATTEMPTS_MAX 10

#define CONSTRA__NAME_MAX 100
#define CONSTRA__REFERENCE_MAX 64
#define CONSTRA__DESCRIPTION_MAX 255
/* Metadata limits (metadata.c): Stripe's. */
#define CONSTRA__METADATA_KEYS_MAX 50
#define CONSTRA__METADATA_KEY_MAX 40
#define CONSTRA__METADATA_VALUE_MAX 500
/* Longest metadata text accepted from a caller (any escaping included). */
#define CONSTRA__METADATA_TEXT_MAX (64 * 1024)
#define CONSTRA__NOTE_MAX 511
/* Distinct M-Pesa receipts one intent can hold: every payment made for
 * it, a double payment included, stays on the intent. */
#define CONSTRA__RECEIPTS_MAX 10

/* Where an attempt's push stands. */
typedef enum constra__attempt_state {
    CONSTRA__ATTEMPT_SENDING = 1,  /* recorded before the rail call */
    CONSTRA__ATTEMPT_SENT,         /* rail accepted: prompt on the phone */
    CONSTRA__ATTEMPT_UNKNOWN,      /* sent, no answer from the rail */
    CONSTRA__ATTEMPT_REJECTED,     /* rail refused synchronously */
    CONSTRA__ATTEMPT_NOT_SENT,     /* transport failed before sending */
    CONSTRA__ATTEMPT_COMPLETED,    /* a final result arrived */
    CONSTRA__ATTEMPT_TIMED_OUT     /* no result within the time-out: the prompt
                                      may still be paid (a late result is
                                      news, not a duplicate) */
} constra__attempt_state;

typedef struct constra__attempt {
    char id[CONSTRA_ID_SIZE];
    int state;
    char checkout[CONSTRA_RAIL_ID_SIZE];
    char merchant[CONSTRA_RAIL_ID_SIZE];
    char result_code[CONSTRA_RAIL_CODE_SIZE];
    char result_desc[CONSTRA_RAIL_DESC_SIZE];
    char receipt[CONSTRA_RAIL_RECEIPT_SIZE];
    int64_t started_at_ms;
    int64_t completed_at_ms;
    int64_t queried_at_ms; /* when auto-retry last asked the rail about it (0: never) */
} constra__attempt;

struct constra_intent {
    /* The allocator that owns `json` (snapshots are freed without a handle). */
    constra_platform platform;
    char id[CONSTRA_ID_SIZE];
    int status;
    int64_t amount;
    char currency[4];
    char provider[16]; /* "mpesa" */
    char rail[16];     /* "sim", "mpesa" */
    int livemode;
    char customer_name[CONSTRA__NAME_MAX + 1];
    char phone[16];
    char reference[CONSTRA__REFERENCE_MAX + 1];
    char description[CONSTRA__DESCRIPTION_MAX + 1];
    /* The canonical metadata object (metadata.c), NUL-terminated, owned
     * through `platform`; NULL when the intent has none (most do: it is
     * not inline so that an intent stays small). */
    char *metadata;
    size_t metadata_len;
    int agent_policy;
    int max_attempts;
    int64_t created_at_ms;
    int64_t updated_at_ms;
    int64_t version;
    /* When a pending intent stops waiting for its callback (0: not waiting). */
    int64_t due_at_ms;
    /* The due time its stored row is indexed by (the tick's, tick.c; 0: none,
     * as 0.2 wrote them). Not part of the document. */
    int64_t indexed_due_ms;
    int attempt_count;
    constra__attempt attempts[CONSTRA__ATTEMPTS_MAX];
    /* The latest provider result and what it means. */
    char result_code[CONSTRA_RAIL_CODE_SIZE];
    char result_desc[CONSTRA_RAIL_DESC_SIZE];
    char receipt[CONSTRA_RAIL_RECEIPT_SIZE];
    /* Every distinct receipt recorded for this intent, in arrival order
     * (receipt above is the first). */
    int receipt_count;
    char receipts[CONSTRA__RECEIPTS_MAX][CONSTRA_RAIL_RECEIPT_SIZE];
    /* Recovery summary (non-success outcomes). */
    char recommended_action[24]; /* retry, retry_later, contact_customer, operator_review, none */
    int retry_allowed;
    char reason[48];
    char agent_note[CONSTRA__NOTE_MAX + 1];
    /* Snapshot only: the public JSON (of version json_version), and
     * whether it was an idempotent replay. */
    char *json;
    size_t json_len;
    int64_t json_version;
    int replayed;
    /* Transient, never stored: the attempt (1-based) the next event is
     * about when it is not the current one (a superseded attempt's
     * result); 0 for the current attempt. */
    int event_attempt;
};

/* An intent is ~8.5 KB, most of it the fixed array of 10 attempts of
 * which a payment uses one or two. These copy and clear everything but
 * the unused attempts (attempts[attempt_count..] are never read: a new
 * attempt is cleared before use), which made whole-struct memcpy and
 * calloc a tenth of a lifecycle. */
/* dst (initialised: cleared once, or a previous copy) becomes src,
 * metadata duplicated through dst's allocator. CONSTRA_OK or
 * CONSTRA_E_NOMEM (dst is then cleared: no metadata, no id). */
int constra__model_copy(struct constra_intent *dst, const struct constra_intent *src);
/* Zeroes raw memory into an empty intent (owns nothing). */
void constra__model_clear(struct constra_intent *in);
/* Frees what the intent owns besides its snapshot JSON (its metadata). */
void constra__model_release(struct constra_intent *in);

/* Metadata (metadata.c): checks an object (a cJSON tree or JSON text,
 * NULL or JSON null: none) against the limits and gives its canonical
 * text in *out (allocated through `platform`; NULL when empty).
 * CONSTRA_E_INVALID_ARGUMENT (parameter_invalid, param "metadata" or
 * "metadata.<key>") or CONSTRA_E_NOMEM. */
struct cJSON;
int constra__metadata_from_tree(const struct cJSON *obj, const constra_platform *platform,
                                char **out, size_t *out_len, constra_error *e);
int constra__metadata_from_text(const char *text, const constra_platform *platform, char **out,
                                size_t *out_len, constra_error *e);
/* Appends the intent's metadata object ("{}" when it has none). */
void constra__metadata_write(constra__sbuf *b, const struct constra_intent *in);

/* The current (latest) attempt, or NULL when none. */
constra__attempt *constra__model_current(struct constra_intent *in);

/* The attempt whose checkout id is this, or NULL. */
constra__attempt *constra__model_attempt_by_checkout(struct constra_intent *in,
                                                      const char *checkout);

/* 1 when this receipt is already recorded on the intent, else 0. */
int constra__model_has_receipt(const struct constra_intent *in, const char *receipt);

/* Records a new receipt (the first also becomes `receipt`): 0 added,
 * 1 already recorded, -1 no room (CONSTRA__RECEIPTS_MAX). */
int constra__model_add_receipt(struct constra_intent *in, const char *receipt);

/* Public JSON (stored = 0) or stored document (stored = 1), NUL-terminated,
 * allocated from `platform`; NULL when out of memory. */
char *constra__model_json(const struct constra_intent *in, int stored,
                          const constra_platform *platform, size_t *len);

/* Both forms from one rendering: the public JSON and the stored document
 * (the public one plus the "_engine" member), allocated from `platform`.
 * 0, or -1 when out of memory (nothing allocated then). */
int constra__model_render(const struct constra_intent *in, const constra_platform *platform,
                          char **public_json, size_t *public_len, char **stored_doc,
                          size_t *stored_len);

/* Reads a stored document back. CONSTRA_OK, CONSTRA_E_NOMEM, or
 * CONSTRA_E_STORAGE for a document that is not ours (corruption). */
int constra__model_parse(struct constra_intent *in, const char *doc, size_t len);

const char *constra__agent_policy_name(int policy);

/* The attempt state named `name` in the public JSON ("sent_to_customer",
 * "timed_out", ...), or 0 when the name is not one of ours. */
int constra__attempt_state_from_name(const char *name);
const char *constra__next_action(const struct constra_intent *in);
const char *constra__provider_action_state(const struct constra_intent *in);

#endif
