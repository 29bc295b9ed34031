#include "legacy_dump.h"

#include <string.h>

typedef struct dump {
    const constra__res_table *st;
    FILE *out;
    char ids[256][64];
    char status[256][64], reference[256][256];
    char docs[256][8192];
    size_t n;
} dump;

/* Bytes as text, escaping what is not printable ASCII. */
static void bytes(FILE *out, const char *b, size_t len)
{
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)b[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            fprintf(out, "\\x%02x", c);
        } else {
            fputc(c, out);
        }
    }
    fputc('"', out);
}

static void text(FILE *out, const char *t)
{
    bytes(out, t ? t : "(null)", strlen(t ? t : "(null)"));
}

static void print_intent(FILE *out, const char *label, const constra__res_intent *in)
{
    fprintf(out, "%s id=", label);
    text(out, in->id);
    fprintf(out, " status=");
    text(out, in->status);
    fprintf(out, " reference=");
    text(out, in->reference);
    fprintf(out, " checkout=");
    text(out, in->checkout_request_id);
    fprintf(out, " created=%lld updated=%lld version=%lld doc=", (long long)in->created_at_ms,
            (long long)in->updated_at_ms, (long long)in->version);
    bytes(out, in->document, in->document_len);
    fputc('\n', out);
}

static int on_listed(void *ctx, const constra__res_intent *in)
{
    dump *d = ctx;
    print_intent(d->out, "intent", in);
    if (d->n < 256) {
        snprintf(d->ids[d->n], sizeof(d->ids[0]), "%s", in->id);
        snprintf(d->status[d->n], sizeof(d->status[0]), "%s", in->status);
        snprintf(d->reference[d->n], sizeof(d->reference[0]), "%s", in->reference);
        size_t l = in->document_len < sizeof(d->docs[0]) - 1 ? in->document_len
                                                             : sizeof(d->docs[0]) - 1;
        memcpy(d->docs[d->n], in->document, l);
        d->docs[d->n][l] = '\0';
        d->n++;
    }
    return 0;
}

static int on_found(void *ctx, const constra__res_intent *in)
{
    dump *d = ctx;
    fprintf(d->out, "  -> ");
    text(d->out, in->id);
    fprintf(d->out, " version=%lld\n", (long long)in->version);
    return 0;
}

static int on_id(void *ctx, const constra__res_intent *in)
{
    dump *d = ctx;
    fprintf(d->out, " ");
    text(d->out, in->id);
    return 0;
}

static int on_event(void *ctx, const constra__res_event *e)
{
    dump *d = ctx;
    fprintf(d->out, "event seq=%lld id=", (long long)e->sequence);
    text(d->out, e->id);
    fprintf(d->out, " intent=");
    text(d->out, e->intent_id);
    fprintf(d->out, " type=");
    text(d->out, e->type);
    fprintf(d->out, " created=%lld doc=", (long long)e->created_at_ms);
    bytes(d->out, e->document, e->document_len);
    fputc('\n', d->out);
    return 0;
}

static int on_seq(void *ctx, const constra__res_event *e)
{
    dump *d = ctx;
    fprintf(d->out, " %lld", (long long)e->sequence);
    return 0;
}

static int on_idem(void *ctx, const constra__res_idempotency *r)
{
    dump *d = ctx;
    fprintf(d->out, "  held key=");
    text(d->out, r->key);
    fprintf(d->out, " fingerprint=");
    text(d->out, r->fingerprint);
    fprintf(d->out, " state=%d http=%d created=%lld expires=%lld lease=%lld response=", r->state,
            r->http_status, (long long)r->created_at_ms, (long long)r->expires_at_ms,
            (long long)r->lease_expires_at_ms);
    bytes(d->out, r->response, r->response_len);
    fputc('\n', d->out);
    return 0;
}

static int on_endpoint(void *ctx, const constra__res_endpoint *ep)
{
    dump *d = ctx;
    fprintf(d->out, "endpoint id=");
    text(d->out, ep->id);
    fprintf(d->out, " url=");
    text(d->out, ep->url);
    fprintf(d->out, " secret=");
    text(d->out, ep->secret);
    fprintf(d->out, " types=");
    text(d->out, ep->event_types);
    fprintf(d->out, " enabled=%d created=%lld updated=%lld cursor=%lld version=%lld attributes=",
            ep->enabled, (long long)ep->created_at_ms, (long long)ep->updated_at_ms,
            (long long)ep->cursor, (long long)ep->version);
    text(d->out, ep->attributes);
    fputc('\n', d->out);
    return 0;
}

static int on_delivery(void *ctx, const constra__res_delivery *x)
{
    dump *d = ctx;
    fprintf(d->out, "delivery id=");
    text(d->out, x->id);
    fprintf(d->out, " endpoint=");
    text(d->out, x->endpoint_id);
    fprintf(d->out, " event=");
    text(d->out, x->event_id);
    fprintf(d->out, " type=");
    text(d->out, x->event_type);
    fprintf(d->out, " seq=%lld state=", (long long)x->event_sequence);
    text(d->out, x->state);
    fprintf(d->out, " attempts=%d last_status=%d last_error=", x->attempts, x->last_status);
    text(d->out, x->last_error);
    fprintf(d->out, " next=%lld created=%lld updated=%lld version=%lld body=",
            (long long)x->next_attempt_at_ms, (long long)x->created_at_ms,
            (long long)x->updated_at_ms, (long long)x->version);
    bytes(d->out, x->body, x->body_len);
    fprintf(d->out, " log=");
    bytes(d->out, x->log, x->log_len);
    fputc('\n', d->out);
    return 0;
}

static int on_meta(void *ctx, const char *value)
{
    dump *d = ctx;
    fprintf(d->out, " value=");
    text(d->out, value);
    return 0;
}

static int check(dump *d, const char *what, int rc, int ok)
{
    if (rc != ok) {
        fprintf(d->out, "FAILED %s: %d\n", what, rc);
        return -1;
    }
    return 0;
}

int legacy_dump(const constra__res_table *st, int64_t now, const char *const *idem_keys,
                const char *const *meta_keys, FILE *out)
{
    static dump d; /* large; one dump at a time */
    memset(&d, 0, sizeof(d));
    d.st = st;
    d.out = out;
    void *u = st->user_data;
    int bad = 0;
    constra__res_query q = {sizeof(q), NULL, NULL, 0, 0, NULL, 1000};
    bad |= check(&d, "list_intents", st->list_intents(u, &q, on_listed, &d), CONSTRA_OK);
    for (size_t i = 0; i < d.n; i++) {
        /* Every checkout id the document names (each attempt's). */
        const char *needle = "\"checkout_request_id\":\"";
        for (const char *p = strstr(d.docs[i], needle); p; p = strstr(p + 1, needle)) {
            char co[128];
            const char *s = p + strlen(needle), *e = strchr(s, '"');
            if (e == NULL || e == s || (size_t)(e - s) >= sizeof(co)) {
                continue;
            }
            memcpy(co, s, (size_t)(e - s));
            co[e - s] = '\0';
            fprintf(out, "checkout %s", co);
            int rc = st->find_by_checkout(u, co, on_found, &d);
            if (rc != CONSTRA_OK) {
                fprintf(out, " rc=%d\n", rc);
            }
        }
        constra__res_query by = q;
        by.status = d.status[i];
        fprintf(out, "status %s:", d.status[i]);
        bad |= check(&d, "list by status", st->list_intents(u, &by, on_id, &d), CONSTRA_OK);
        fputc('\n', out);
        if (d.reference[i][0]) {
            by.status = NULL;
            by.reference = d.reference[i];
            fprintf(out, "reference %s:", d.reference[i]);
            bad |= check(&d, "list by reference", st->list_intents(u, &by, on_id, &d),
                         CONSTRA_OK);
            fputc('\n', out);
        }
        fprintf(out, "events of %s:", d.ids[i]);
        bad |= check(&d, "list_events", st->list_events(u, d.ids[i], 0, 1000, on_seq, &d),
                     CONSTRA_OK);
        fputc('\n', out);
    }
    fprintf(out, "checkout ws_CO_NOBODY rc=%d\n",
            st->find_by_checkout(u, "ws_CO_NOBODY", on_found, &d));
    bad |= check(&d, "events", st->list_events(u, NULL, 0, 10000, on_event, &d), CONSTRA_OK);
    fprintf(out, "unmatched:");
    bad |= check(&d, "unmatched", st->list_events(u, "", 0, 1000, on_seq, &d), CONSTRA_OK);
    fputc('\n', out);
    for (size_t i = 0; idem_keys && idem_keys[i]; i++) {
        constra__res_idempotency probe = {
            sizeof(probe), idem_keys[i], "dump-probe", CONSTRA__IDEM_IN_FLIGHT, 0, NULL, 0,
            now, now + 60000, now + 60000};
        fprintf(out, "idempotency %s\n", idem_keys[i]);
        int rc = st->idempotency_reserve(u, &probe, now, on_idem, &d);
        fprintf(out, "  rc=%d\n", rc);
    }
    bad |= check(&d, "endpoints", constra__res_endpoint_list(st, on_endpoint, &d), CONSTRA_OK);
    constra__res_delivery_query dq;
    memset(&dq, 0, sizeof(dq));
    dq.struct_size = sizeof(dq);
    dq.limit = 1000;
    bad |= check(&d, "deliveries", constra__res_delivery_list(st, &dq, on_delivery, &d),
                 CONSTRA_OK);
    for (size_t i = 0; meta_keys && meta_keys[i]; i++) {
        fprintf(out, "meta %s", meta_keys[i]);
        int rc = st->meta_get(u, meta_keys[i], on_meta, &d);
        fprintf(out, " rc=%d\n", rc);
    }
    return bad ? -1 : 0;
}
