/*
 * Idempotency (include/constra/intent.h, storage.h): which request an
 * idempotency key belongs to and what a request that finds its key held
 * is answered. The create path (engine.c) reserves through
 * constra__idem_reserve(); every rule about a key held by another
 * request, a dead owner or an earlier library version lives here.
 *
 * The fingerprint's bytes are part of the stored data (a key reserved by
 * one version is checked by the next): tests/engine/test_idempotency.c
 * pins them.
 */
#include <string.h>

#include "engine/idempotency.h"
#include "engine/lifecycle.h"
#include "platform/platform.h"
#include "util/check.h"
#include "util/encode.h"
#include "util/hmac.h"

int constra__idem_check_key(const char *key, constra_error *e)
{
    size_t len;
    int rc = constra__check_str(key, CONSTRA__IDEM_KEY_MAX, 0, "idempotency_key", &len, e);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    for (size_t i = 0; i < len; i++) {
        char c = key[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == ':' || c == '.')) {
            return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "idempotency_key_invalid",
                                 "idempotency_key",
                                 "idempotency_key may hold only A-Z a-z 0-9 _ - : .");
        }
    }
    return CONSTRA_OK;
}

/* The request's fingerprint: a keyed SHA-256 (HMAC with a fixed,
 * versioned key) of its canonical form after normalisation, so "0712..."
 * and "254712..." are the same request. */
/* Decimal digits of v (v >= 0) at *p; returns the end. */
static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) {
        *p++ = tmp[--n];
    }
    return p;
}

int constra__idem_fingerprint(const struct constra_intent *in, int draft, char out[65])
{
    static const char key[] = "constra idempotency fingerprint v1";
    /* The canonical form, built in one buffer (it was 16 snprintf and 14
     * HMAC updates per create): "v1|<amount>|<policy>|<draft>|" and each
     * text field, every part prefixed by "<length>:" so boundaries
     * cannot be forged. The bytes are exactly those of version 1. */
    char num[64];
    char *n = num;
    memcpy(n, "v1|", 3);
    n += 3;
    if (in->amount < 0) {
        *n++ = '-';
    }
    n = put_u64(n, in->amount < 0 ? (uint64_t)0 - (uint64_t)in->amount : (uint64_t)in->amount);
    *n++ = '|';
    n = put_u64(n, (uint64_t)(unsigned)in->agent_policy);
    *n++ = '|';
    n = put_u64(n, (uint64_t)(unsigned)draft);
    *n++ = '|';
    *n = '\0';
    /* Metadata (unbounded here) enters as the hex digest of its canonical
     * text: an eighth field only when there is metadata, so the bytes of
     * a request without it are those of version 1. */
    char meta[65] = "";
    uint8_t md[CONSTRA__SHA256_SIZE];
    if (in->metadata != NULL) {
        if (constra__hmac_sha256((const uint8_t *)key, sizeof(key) - 1, in->metadata,
                                 in->metadata_len, md) != CONSTRA_OK) {
            return -1;
        }
        constra__hex_encode(md, sizeof(md), meta, sizeof(meta));
    }
    const char *fields[] = {num, in->currency, in->provider, in->phone, in->customer_name,
                            in->reference, in->description, meta};
    size_t nfields = in->metadata != NULL ? 8 : 7;
    /* Every field is bounded by its array in struct constra_intent. */
    char buf[sizeof(num) + sizeof(in->currency) + sizeof(in->provider) + sizeof(in->phone) +
             sizeof(in->customer_name) + sizeof(in->reference) + sizeof(in->description) +
             sizeof(meta) + 8 * 21];
    char *b = buf;
    for (size_t i = 0; i < nfields; i++) {
        size_t len = strlen(fields[i]);
        b = put_u64(b, len);
        *b++ = ':';
        memcpy(b, fields[i], len);
        b += len;
    }
    uint8_t digest[CONSTRA__SHA256_SIZE];
    if (constra__hmac_sha256((const uint8_t *)key, sizeof(key) - 1, buf, (size_t)(b - buf),
                             digest) != CONSTRA_OK) {
        return -1;
    }
    constra__hex_encode(digest, sizeof(digest), out, 65);
    return 0;
}

typedef struct idem_seen {
    int state;
    int http_status;
    char fingerprint[80];
    char *response; /* NUL-terminated copy, NULL when the record has none */
    size_t response_len;
    int64_t created_at_ms;
    int64_t expires_at_ms;
    int64_t lease_expires_at_ms;
    const constra_platform *platform;
} idem_seen;

static int seen_row(void *ctx, const constra__res_idempotency *r)
{
    idem_seen *s = ctx;
    s->state = r->state;
    s->http_status = r->http_status;
    constra__strlcpy(s->fingerprint, r->fingerprint ? r->fingerprint : "",
                     sizeof(s->fingerprint));
    s->created_at_ms = r->created_at_ms;
    s->expires_at_ms = r->expires_at_ms;
    s->lease_expires_at_ms = r->lease_expires_at_ms;
    if (r->response != NULL && r->response_len > 0) {
        s->response = constra__strndup(s->platform, r->response, r->response_len);
        s->response_len = s->response ? r->response_len : 0;
    }
    return 1;
}

/* The id in a stored response or link ("{"id":"pi_..."): the intent. */
static int response_id(const char *resp, char *id, size_t size)
{
    const char *p = strstr(resp, "\"id\":\"");
    if (p == NULL) {
        return -1;
    }
    p += 6;
    size_t n = strcspn(p, "\"");
    if (n == 0 || n >= size) {
        return -1;
    }
    memcpy(id, p, n);
    id[n] = '\0';
    return 0;
}

/* What answer_held_key() may ask of its caller besides an answer. */
enum { KEY_TAKEN = 1, /* took over an abandoned reservation: the key is ours */
       KEY_MOVED = 2  /* the record changed meanwhile: look again */ };

int constra__idem_in_flight(constra_error *e)
{
    return constra__fail_http(e, CONSTRA_E_CONFLICT, 409, "idempotent_request_in_flight",
                              "idempotency_key",
                              "a request with this idempotency key is still in progress");
}

/* Loads the intent a stored response or link names into a new snapshot. */
static int load_named(constra_t *h, const idem_seen *seen, struct constra_intent **got,
                      constra_error *e)
{
    char id[CONSTRA_ID_SIZE];
    if (seen->response == NULL || response_id(seen->response, id, sizeof(id)) != 0) {
        return constra__fail(e, CONSTRA_E_STORAGE, "storage_error", NULL,
                             "the stored response of this key cannot be read");
    }
    *got = constra__intent_new(h);
    if (*got == NULL) {
        return constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
    }
    int rc = constra__intent_load(h, id, *got, e);
    if (rc == CONSTRA_E_NOT_FOUND) {
        /* Not the caller's fault (a create names no id): the storage lost
         * what the key says it holds. */
        rc = constra__fail(e, CONSTRA_E_STORAGE, "storage_error", NULL,
                           "the payment intent %s this idempotency key names is missing", id);
    }
    if (rc == CONSTRA_OK) {
        (*got)->replayed = 1;
    } else {
        constra_intent_free(*got);
        *got = NULL;
    }
    return rc;
}

/*
 * The key is held (the reservation conflicted with `seen`). The answers:
 *   - another request's key: 409 idempotency_key_reused;
 *   - completed: its first response, byte for byte (*got, replayed);
 *   - in flight within the handle's lease (from the reservation's
 *     created_at_ms): 409 idempotent_request_in_flight;
 *   - in flight past the lease, linked: the request created that intent
 *     and its owner is gone (killed, or its last commit failed). The
 *     answer is the intent as it is now, never a second push, and that
 *     answer becomes the key's stored response (a failure to store it
 *     leaves the link: the next retry answers the same way);
 *   - in flight past the lease, not linked: nothing was created. The
 *     reservation is taken over by `rec` (one compare-and-set,
 *     idempotency_take_over) and KEY_TAKEN returned: the caller runs the
 *     request afresh on it.
 *   - in flight, reserved by 0.1 (which linked nothing: its intent may
 *     exist and its prompt may have been sent): 409 until it expires.
 *
 * Races: of retries taking over one abandoned key, one wins the
 * compare-and-set and the others find its fresh reservation (in flight).
 * A release and a new reservation would reuse the record's version (1,
 * as inserted) and let a retry holding the old one drop the new one (the
 * ABA of compare-and-set: seen on PostgreSQL); a take-over never does.
 * And only one request can link (a key links once) and only a linked
 * request calls the rail: one intent and one push whatever happens. An owner that is
 * merely slow (past the lease before its first commit) loses the key the
 * same way and answers 409. An owner slow past the lease after its push
 * finds the key completed by a retry and saves its outcome alone (see
 * run_attempt): the key's stored response is then the intent as the
 * retry saw it, the intent itself is current. Leases are measured on the
 * reading process's clock against the reserving process's: processes
 * sharing a storage need clocks within a small part of the lease.
 */
static int answer_held_key(constra_t *h, idem_seen *seen, const constra__res_idempotency *rec,
                           int64_t now, struct constra_intent **got, constra_error *e)
{
    const char *key = rec->key, *fp = rec->fingerprint;
    if (strcmp(seen->fingerprint, fp) != 0) {
        return constra__fail_http(e, CONSTRA_E_CONFLICT, 409, "idempotency_key_reused",
                                  "idempotency_key",
                                  "this idempotency key was used with a different request");
    }
    if (seen->state == CONSTRA__IDEM_COMPLETED) {
        int rc = load_named(h, seen, got, e);
        if (rc == CONSTRA_OK && seen->http_status != 0) {
            /* The first response, byte for byte; accessors show the
             * intent now. (http_status 0: a storage that ignores the link
             * state completed the key with its link: answer with the
             * intent as it is.) */
            (*got)->json = seen->response;
            (*got)->json_len = seen->response_len;
            seen->response = NULL;
        }
        return rc;
    }
    if (seen->created_at_ms > now - h->idempotency_lease_ms) {
        return constra__idem_in_flight(e);
    }
    if (seen->response_len > 0) {
        int rc = load_named(h, seen, got, e);
        if (rc == CONSTRA_OK) {
            rc = constra__intent_finish(h, *got, e);
        }
        if (rc != CONSTRA_OK) {
            constra_intent_free(*got);
            *got = NULL;
            return rc;
        }
        constra__res_idempotency done = {sizeof(done), key, fp,
                                            CONSTRA__IDEM_COMPLETED, 201, (*got)->json,
                                            (*got)->json_len, seen->created_at_ms,
                                            seen->expires_at_ms, seen->lease_expires_at_ms};
        if (h->storage.idempotency_complete(h->storage.user_data, &done) == CONSTRA_E_CONFLICT) {
            constra_intent_free(*got); /* completed meanwhile: replay that */
            *got = NULL;
            return KEY_MOVED;
        }
        return CONSTRA_OK;
    }
    if (seen->lease_expires_at_ms <= seen->expires_at_ms) {
        return constra__fail_http(e, CONSTRA_E_CONFLICT, 409, "idempotent_request_in_flight",
                                  "idempotency_key",
                                  "a request with this idempotency key was started by an earlier "
                                  "library version and may have sent a prompt; the key frees when "
                                  "it expires");
    }
    /* The abandoned reservation seen, and only it, becomes ours. */
    int rc = h->storage.idempotency_take_over(h->storage.user_data, rec, seen->created_at_ms);
    if (rc == CONSTRA_E_CONFLICT || rc == CONSTRA_E_NOT_FOUND) {
        return KEY_MOVED; /* someone else took it, or it went: look again */
    }
    if (rc != CONSTRA_OK) {
        return constra__storage_error(e, rc, "taking over an abandoned idempotency key");
    }
    return KEY_TAKEN;
}

int constra__idem_reserve(constra_t *h, const constra__res_idempotency *rec, int64_t now,
                          struct constra_intent **got, constra_error *e)
{
    *got = NULL;
    for (int round = 0;; round++) {
        idem_seen seen = {0, 0, "", NULL, 0, 0, 0, 0, &h->platform};
        int rc = h->storage.idempotency_reserve(h->storage.user_data, rec, now, seen_row, &seen);
        if (rc != CONSTRA_E_CONFLICT) {
            constra__free(&h->platform, seen.response);
            return rc == CONSTRA_OK ? CONSTRA_OK
                                    : constra__storage_error(e, rc, "reserving the idempotency key");
        }
        rc = answer_held_key(h, &seen, rec, now, got, e);
        constra__free(&h->platform, seen.response);
        if (rc == KEY_TAKEN) {
            return CONSTRA_OK; /* the abandoned reservation is ours now */
        }
        if (rc <= 0) {
            return rc; /* answered (*got), or refused */
        }
        if (round == 2) {
            return constra__idem_in_flight(e); /* it keeps moving: someone works on it */
        }
    }
}
