/*
 * Daraja STK callbacks into the engine: parse the body (mpesa/ layer),
 * turn it into a rail result, apply it like any other provider result.
 */
#include <string.h>

#include "constra/daraja.h"
#include "constra/mpesa_fields.h"
#include "engine/engine.h"
#include "platform/platform.h"
#include "util/check.h"

/* Copies at most dst_size - 1 bytes of `src`, never cutting a UTF-8
 * sequence in half (a description may be longer than the rail's field). */
static void copy_utf8(char *dst, size_t dst_size, const char *src)
{
    size_t n = constra__strnlen(src, dst_size);
    if (n >= dst_size) {
        n = dst_size - 1;
        /* Step back over continuation bytes to the start of a sequence. */
        while (n > 0 && ((unsigned char)src[n] & 0xC0u) == 0x80u) {
            n--;
        }
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* The payer's number as the engine compares it: normalised, or "" when
 * absent or masked ("2547 ***** 126": not a mismatch, just unknown). A
 * number that cannot be normalised is kept as sent (when it fits), so it
 * differs from the intent's phone and a success goes to review. */
static void payer_phone(const constra_daraja_stk_callback *cb, char *out, size_t out_size)
{
    out[0] = '\0';
    if (!cb->has_phone_number || cb->phone_number[0] == '\0' ||
        strchr(cb->phone_number, '*') != NULL) {
        return;
    }
    char norm[32];
    if (constra_msisdn_normalize(cb->phone_number, sizeof(cb->phone_number) - 1, norm, sizeof(norm),
                                 NULL) == CONSTRA_OK &&
        strlen(norm) < out_size) {
        constra__strlcpy(out, norm, out_size);
        return;
    }
    /* Unreadable: anything non-empty that cannot equal a normalised phone. */
    constra__strlcpy(out, strlen(cb->phone_number) < out_size ? cb->phone_number : "invalid",
                     out_size);
}

static int callback_impl(constra_t *h, const char *body, size_t len, constra_error *detail)
{
    if (h == NULL) {
        return CONSTRA_E_INVALID_ARGUMENT;
    }
    constra_error e = CONSTRA_ERROR_INIT;
    if (body == NULL) {
        return constra__record_out(h, constra__fail_null(&e, "body"), &e, detail);
    }
    if (h->remote_ops) {
        /* Daraja calls the server that made the push, not its clients. */
        return constra__record_out(h, constra__fail(&e, CONSTRA_E_UNSUPPORTED, "remote_handle",
                                                    NULL, "a remote handle does not take "
                                                    "provider callbacks; the server does"),
                                   &e, detail);
    }
    constra_daraja_stk_callback cb = CONSTRA_DARAJA_STK_CALLBACK_INIT;
    int rc = constra_daraja_parse_stk_callback(body, len, &cb, &e);
    if (rc != CONSTRA_OK) {
        return constra__record_out(h, rc, &e, detail);
    }
    constra_rail_result r;
    memset(&r, 0, sizeof(r));
    r.struct_size = sizeof(r);
    r.outcome = CONSTRA_RAIL_FINAL;
    /* Ids are never cut: a shortened checkout id would match nothing (or,
     * worse, something else). The sizes agree; this is the guard. */
    if (strlen(cb.checkout_request_id) >= sizeof(r.checkout_request_id) ||
        strlen(cb.merchant_request_id) >= sizeof(r.merchant_request_id) ||
        strlen(cb.result_code) >= sizeof(r.result_code) ||
        strlen(cb.mpesa_receipt_number) >= sizeof(r.receipt)) {
        rc = constra__fail(&e, CONSTRA_E_PARSE, "field_too_long", "Body.stkCallback",
                           "an identifier in the callback is too long");
        return constra__record_out(h, rc, &e, detail);
    }
    constra__strlcpy(r.checkout_request_id, cb.checkout_request_id,
                     sizeof(r.checkout_request_id));
    constra__strlcpy(r.merchant_request_id, cb.merchant_request_id,
                     sizeof(r.merchant_request_id));
    constra__strlcpy(r.result_code, cb.result_code, sizeof(r.result_code));
    copy_utf8(r.result_desc, sizeof(r.result_desc), cb.result_desc);
    if (cb.has_receipt) {
        constra__strlcpy(r.receipt, cb.mpesa_receipt_number, sizeof(r.receipt));
    }
    r.amount = cb.has_amount ? cb.amount : -1;
    payer_phone(&cb, r.phone, sizeof(r.phone));
    r.paid_at_ms = 0;
    if (cb.has_transaction_unix && cb.transaction_unix > 0 &&
        cb.transaction_unix < INT64_MAX / 1000) {
        r.paid_at_ms = cb.transaction_unix * 1000;
    }
    int64_t now = constra__wall_ms(&h->platform);
    rc = constra__engine_apply_result(h, &r, now, &e);
    return rc == CONSTRA_OK ? CONSTRA_OK : constra__record_out(h, rc, &e, detail);
}

int constra_handle_mpesa_callback(constra_t *h, const char *body, size_t len)
{
    return callback_impl(h, body, len, NULL);
}

int constra__handle_mpesa_callback_d(constra_t *h, const char *body, size_t len,
                                     constra_error *detail)
{
    return callback_impl(h, body, len, detail);
}
