/*
 * The simulator rail: an in-process stand-in for M-Pesa's STK push with
 * realistic identifiers, outcomes chosen by magic phone numbers, and
 * delays on the engine's clock (delivered by poll()).
 */
#include <stdio.h>
#include <string.h>

#include "constra/rail.h"
#include "rails/rail_internal.h"
#include "platform/platform.h"
#include "util/check.h"
#include "util/civil.h"
#include "util/strmap.h"
#include "mpesa/receipt.h"

#define EAT_OFFSET_S 10800
#define DEFAULT_DELAY_MS 3000
#define SIM_AMOUNT_MAX 250000
/* A push with no scheduled outcome waits for simulate-callback or the
 * engine's time-out, and the engine never tells the rail which came. Kept
 * one hour (the engine's time-out has settled it long before; a query
 * after that answers "not found"), so a long-running sandbox does not grow
 * by a record per payment forever. */
#define SIM_WAIT_RETENTION_MS INT64_C(3600000)

typedef struct magic_number {
    const char *phone;
    const char *code;
    const char *desc;
} magic_number;

/* The Constra convention (doc/DESIGN.md section 9); documented in rail.h and
 * the README. Descriptions are Daraja's own wording. */
static const magic_number magic[] = {
    {"254708374149", "0", "The service request is processed successfully."},
    {"254711000000", "0", "The service request is processed successfully."},
    {"254711000001", "1", "The balance is insufficient for the transaction."},
    {"254711000002", "1037", "DS timeout user cannot be reached"},
    {"254711000003", "1032", "Request cancelled by user"},
    {"254711000004", "2001", "The initiator information is invalid."},
};

typedef struct sim_push {
    char checkout[CONSTRA_RAIL_ID_SIZE];
    char merchant[CONSTRA_RAIL_ID_SIZE];
    const magic_number *outcome; /* NULL: waits for simulate-callback */
    int64_t due_ms;
    int64_t pushed_ms;
    int64_t amount;
    char phone[16];
} sim_push;

typedef struct sim_rail {
    constra_platform platform;
    void *mutex;
    int64_t delay_ms;
    constra__strmap pushes; /* checkout id -> sim_push */
    sim_push **due;         /* scheduled, not yet delivered */
    size_t due_count, due_cap;
    sim_push **waiting;     /* no outcome due: waiting, or delivered and kept for
                               query; oldest first (a FIFO), aged out */
    size_t waiting_head, waiting_count, waiting_cap;
    uint32_t counter;       /* makes ids unique within one millisecond */
} sim_rail;

static const magic_number *magic_for(const char *phone)
{
    for (size_t i = 0; i < CONSTRA__ARRAY_LEN(magic); i++) {
        if (strcmp(magic[i].phone, phone) == 0) {
            return &magic[i];
        }
    }
    return NULL;
}

static void fill_final(sim_rail *s, const sim_push *p, int64_t now_ms, constra_rail_result *out)
{
    out->outcome = CONSTRA_RAIL_FINAL;
    constra__strlcpy(out->checkout_request_id, p->checkout, sizeof(out->checkout_request_id));
    constra__strlcpy(out->merchant_request_id, p->merchant, sizeof(out->merchant_request_id));
    constra__strlcpy(out->result_code, p->outcome->code, sizeof(out->result_code));
    constra__strlcpy(out->result_desc, p->outcome->desc, sizeof(out->result_desc));
    out->amount = -1;
    if (strcmp(p->outcome->code, "0") == 0) {
        if (constra__mpesa_receipt_random(&s->platform, now_ms, out->receipt) != 0) {
            out->receipt[0] = '\0';
        }
        out->amount = p->amount;
        constra__strlcpy(out->phone, p->phone, sizeof(out->phone));
        out->paid_at_ms = p->due_ms;
    }
}

static int valid_phone(const char *p)
{
    if (p == NULL || constra__strnlen(p, 13) != 12 || strncmp(p, "254", 3) != 0) {
        return 0;
    }
    for (int i = 3; i < 12; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return 0;
        }
    }
    return 1;
}

/* Drops waiting pushes older than SIM_WAIT_RETENTION_MS. Called with the
 * lock held. Pushes with a scheduled outcome are never in this list:
 * sim_poll() removes those. */
static void forget_old_waiting(sim_rail *s, int64_t now_ms)
{
    while (s->waiting_count > 0) {
        sim_push *p = s->waiting[s->waiting_head];
        if (now_ms - p->pushed_ms < SIM_WAIT_RETENTION_MS) {
            break;
        }
        constra__strmap_remove(&s->pushes, p->checkout);
        constra__free(&s->platform, p);
        s->waiting_head++;
        s->waiting_count--;
    }
}

/* Room for one more waiting push at the tail (compacting or growing). */
static int waiting_reserve(sim_rail *s)
{
    if (s->waiting_head + s->waiting_count < s->waiting_cap) {
        return 0;
    }
    if (s->waiting_head > 0) {
        memmove(s->waiting, s->waiting + s->waiting_head, s->waiting_count * sizeof(*s->waiting));
        s->waiting_head = 0;
        return 0;
    }
    size_t ncap = s->waiting_cap ? s->waiting_cap * 2 : 16;
    sim_push **nw = constra__realloc(&s->platform, s->waiting, ncap * sizeof(*nw));
    if (nw == NULL) {
        return -1;
    }
    s->waiting = nw;
    s->waiting_cap = ncap;
    return 0;
}

static int sim_collect(void *ud, const constra_rail_collect *req, constra_rail_result *out)
{
    sim_rail *s = ud;
    if (req == NULL || out == NULL || req->struct_size < sizeof(*req)) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    if (!valid_phone(req->phone)) {
        out->outcome = CONSTRA_RAIL_REJECTED;
        constra__strlcpy(out->result_code, "400.002.02", sizeof(out->result_code));
        constra__strlcpy(out->result_desc, "Bad Request - Invalid PhoneNumber",
                         sizeof(out->result_desc));
        return CONSTRA_OK;
    }
    if (req->amount < 1 || req->amount > SIM_AMOUNT_MAX) {
        out->outcome = CONSTRA_RAIL_REJECTED;
        constra__strlcpy(out->result_code, "400.002.02", sizeof(out->result_code));
        constra__strlcpy(out->result_desc, "Bad Request - Invalid Amount",
                         sizeof(out->result_desc));
        return CONSTRA_OK;
    }
    sim_push *p = constra__calloc(&s->platform, 1, sizeof(*p));
    if (p == NULL) {
        return CONSTRA_E_NOMEM;
    }
    constra__civil c;
    constra__civil_from_ms(req->now_ms, EAT_OFFSET_S, &c);
    constra__lock(&s->platform, s->mutex);
    uint32_t n = ++s->counter;
    /* ws_CO_<DDMMYYYYHHmmss><20 hex digits: 80 random bits>. The id is the
     * only handle a callback has on a payment: it must not be guessable
     * (the time and phone it used to be made of were), and it must not
     * repeat across processes sharing one database (a counter did). A
     * clash with a push this rail still knows draws again. */
    int rc = CONSTRA_OK;
    for (int tries = 0;; tries++) {
        uint8_t rnd[10];
        if (constra__random(&s->platform, rnd, sizeof(rnd)) != 0) {
            rc = CONSTRA_E_PLATFORM;
            break;
        }
        char hex[2 * sizeof(rnd) + 1];
        for (size_t i = 0; i < sizeof(rnd); i++) {
            static const char digits[] = "0123456789abcdef";
            hex[2 * i] = digits[rnd[i] >> 4];
            hex[2 * i + 1] = digits[rnd[i] & 15];
        }
        hex[sizeof(hex) - 1] = '\0';
        snprintf(p->checkout, sizeof(p->checkout), "ws_CO_%02d%02d%04d%02d%02d%02d%s", c.day,
                 c.month, c.year, c.hour, c.minute, c.second, hex);
        if (constra__strmap_get(&s->pushes, p->checkout) == NULL) {
            break;
        }
        if (tries == 3) {
            rc = CONSTRA_E_PLATFORM; /* the random source repeats itself */
            break;
        }
    }
    snprintf(p->merchant, sizeof(p->merchant), "%u-%u-%u", (unsigned)(29115u + (n % 1000u)),
             (unsigned)(34620561u + n), 1u);
    constra__strlcpy(p->phone, req->phone, sizeof(p->phone));
    p->amount = req->amount;
    p->outcome = magic_for(req->phone);
    p->due_ms = req->now_ms + s->delay_ms;
    p->pushed_ms = req->now_ms;
    forget_old_waiting(s, req->now_ms);
    if (rc != CONSTRA_OK) {
        /* reported below */
    } else if (constra__strmap_reserve(&s->pushes, 1) != 0) {
        rc = CONSTRA_E_NOMEM;
    } else if (!p->outcome && waiting_reserve(s) != 0) {
        rc = CONSTRA_E_NOMEM;
    } else if (p->outcome && s->due_count == s->due_cap) {
        size_t ncap = s->due_cap ? s->due_cap * 2 : 16;
        sim_push **nd = constra__realloc(&s->platform, s->due, ncap * sizeof(*nd));
        if (nd == NULL) {
            rc = CONSTRA_E_NOMEM;
        } else {
            s->due = nd;
            s->due_cap = ncap;
        }
    }
    if (rc == CONSTRA_OK) {
        constra__strmap_put(&s->pushes, p->checkout, p);
        if (p->outcome) {
            s->due[s->due_count++] = p;
        } else {
            s->waiting[s->waiting_head + s->waiting_count++] = p;
        }
        out->outcome = CONSTRA_RAIL_ACCEPTED;
        constra__strlcpy(out->checkout_request_id, p->checkout, sizeof(out->checkout_request_id));
        constra__strlcpy(out->merchant_request_id, p->merchant, sizeof(out->merchant_request_id));
        constra__strlcpy(out->result_code, "0", sizeof(out->result_code));
        constra__strlcpy(out->result_desc, "Success. Request accepted for processing",
                         sizeof(out->result_desc));
    }
    constra__unlock(&s->platform, s->mutex);
    if (rc != CONSTRA_OK) {
        constra__free(&s->platform, p);
    }
    return rc;
}

static int sim_query(void *ud, const char *checkout, int64_t now_ms, constra_rail_result *out)
{
    sim_rail *s = ud;
    if (checkout == NULL || out == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    int rc = CONSTRA_OK;
    constra__lock(&s->platform, s->mutex);
    sim_push *p = constra__strmap_get(&s->pushes, checkout);
    if (p == NULL) {
        rc = CONSTRA_E_NOT_FOUND;
    } else if (p->outcome && p->due_ms <= now_ms) {
        fill_final(s, p, now_ms, out);
        /* A query learns no receipt on Daraja (doc/DARAJA.md section 5). */
        out->receipt[0] = '\0';
    } else {
        out->outcome = CONSTRA_RAIL_PENDING;
        constra__strlcpy(out->checkout_request_id, p->checkout, sizeof(out->checkout_request_id));
        constra__strlcpy(out->result_code, "4999", sizeof(out->result_code));
        constra__strlcpy(out->result_desc, "The transaction is still under processing",
                         sizeof(out->result_desc));
    }
    constra__unlock(&s->platform, s->mutex);
    return rc;
}

static int sim_poll(void *ud, int64_t now_ms, constra_rail_result_fn emit, void *ctx)
{
    sim_rail *s = ud;
    if (emit == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    /* Take the due pushes out under the lock, emit without it (the engine
     * may query or collect again from inside emit's caller). */
    for (;;) {
        sim_push *p = NULL;
        constra__lock(&s->platform, s->mutex);
        constra_rail_result r;
        memset(&r, 0, sizeof(r));
        r.struct_size = sizeof(r);
        for (size_t i = 0; i < s->due_count; i++) {
            if (s->due[i]->due_ms <= now_ms) {
                p = s->due[i];
                s->due[i] = s->due[--s->due_count];
                fill_final(s, p, now_ms, &r);
                /* Delivered, but still answerable by query until it ages
                 * out with the waiting ones (auto-retry asks before it
                 * re-pushes after a 1037). */
                if (waiting_reserve(s) == 0) {
                    s->waiting[s->waiting_head + s->waiting_count++] = p;
                } else {
                    constra__strmap_remove(&s->pushes, p->checkout);
                    constra__free(&s->platform, p);
                }
                break;
            }
        }
        constra__unlock(&s->platform, s->mutex);
        if (p == NULL) {
            return CONSTRA_OK;
        }
        emit(ctx, &r);
    }
}

static void sim_destroy(void *ud)
{
    sim_rail *s = ud;
    constra_platform plat = s->platform;
    for (size_t i = 0; i < s->pushes.capacity; i++) {
        constra__strmap_slot *slot = &s->pushes.slots[i];
        if (slot->key != NULL && slot->value != NULL) {
            constra__free(&plat, slot->value);
        }
    }
    constra__strmap_free(&s->pushes);
    constra__free(&plat, s->due);
    constra__free(&plat, s->waiting);
    plat.mutex_destroy(plat.user_data, s->mutex);
    constra__free(&plat, s);
}

int constra__rail_is_sim(const constra_rail *rail)
{
    return rail->collect == sim_collect || strncmp(rail->name, "sim", sizeof(rail->name)) == 0;
}

int constra_rail_sim(constra_rail *out, const constra_platform *platform,
                     const constra_sim_options *options, constra_error *err)
{
    int rc = constra__check_struct(out, CONSTRA__RAIL_V1_SIZE, sizeof(*out), "out", err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    constra_sim_options opt = CONSTRA_SIM_OPTIONS_INIT;
    if (options) {
        rc = constra__check_struct(options, sizeof(opt), sizeof(opt), "options", err);
        if (rc != CONSTRA_OK) {
            return rc;
        }
        constra__copy_struct(&opt, sizeof(opt), options);
    }
    if (opt.outcome_delay_ms < 0) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid",
                             "options.outcome_delay_ms", "outcome_delay_ms must not be negative");
    }
    constra_platform plat;
    rc = constra__platform_resolve(&plat, platform, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    sim_rail *s = constra__calloc(&plat, 1, sizeof(*s));
    if (s == NULL) {
        return constra__fail(err, CONSTRA_E_NOMEM, NULL, NULL, "cannot allocate the simulator");
    }
    s->platform = plat;
    s->delay_ms = opt.outcome_delay_ms ? opt.outcome_delay_ms : DEFAULT_DELAY_MS;
    constra__strmap_init(&s->pushes, &s->platform);
    if (plat.mutex_create(plat.user_data, &s->mutex) != 0) {
        constra__free(&plat, s);
        return constra__fail(err, CONSTRA_E_PLATFORM, NULL, "platform.mutex_create",
                             "cannot create the simulator's mutex");
    }
    constra_rail r;
    constra_rail_init(&r, sizeof(r));
    r.user_data = s;
    constra__strlcpy(r.name, "sim", sizeof(r.name));
    r.collect = sim_collect;
    r.query = sim_query;
    r.poll = sim_poll;
    r.destroy = sim_destroy;
    constra__fill_struct(out, &r, sizeof(r));
    return CONSTRA_OK;
}
