#include "fault_storage.h"

/* Counts the call; 1 if this one must fail. */
static int inject(fault_storage *f)
{
    f->calls++;
    long span = f->fail_count > 0 ? f->fail_count : 1;
    if (f->fail_at != 0 && f->calls >= f->fail_at && f->calls - f->fail_at < span) {
        f->failures++;
        return 1;
    }
    return 0;
}

static int f_commit(void *ud, const constra_storage_write *w)
{
    fault_storage *f = ud;
    return inject(f) ? CONSTRA_E_STORAGE : f->inner.commit(f->inner.user_data, w);
}

static int f_get(void *ud, const char *id, constra_storage_intent_fn emit, void *ctx)
{
    fault_storage *f = ud;
    return inject(f) ? CONSTRA_E_STORAGE : f->inner.get_intent(f->inner.user_data, id, emit, ctx);
}

static int f_find(void *ud, const char *id, constra_storage_intent_fn emit, void *ctx)
{
    fault_storage *f = ud;
    return inject(f) ? CONSTRA_E_STORAGE
                     : f->inner.find_by_checkout(f->inner.user_data, id, emit, ctx);
}

static int f_list(void *ud, const constra_storage_query *q, constra_storage_intent_fn emit,
                  void *ctx)
{
    fault_storage *f = ud;
    return inject(f) ? CONSTRA_E_STORAGE
                     : f->inner.list_intents(f->inner.user_data, q, emit, ctx);
}

static int f_events(void *ud, const char *intent_id, int64_t after, size_t limit,
                    constra_storage_event_fn emit, void *ctx)
{
    fault_storage *f = ud;
    return inject(f) ? CONSTRA_E_STORAGE
                     : f->inner.list_events(f->inner.user_data, intent_id, after, limit, emit,
                                            ctx);
}

static int f_reserve(void *ud, const constra_storage_idempotency *r, int64_t now,
                     constra_storage_idempotency_fn emit, void *ctx)
{
    fault_storage *f = ud;
    return inject(f) ? CONSTRA_E_STORAGE
                     : f->inner.idempotency_reserve(f->inner.user_data, r, now, emit, ctx);
}

static int f_complete(void *ud, const constra_storage_idempotency *r)
{
    fault_storage *f = ud;
    return inject(f) ? CONSTRA_E_STORAGE : f->inner.idempotency_complete(f->inner.user_data, r);
}

static int f_release(void *ud, const char *key, const char *fp)
{
    fault_storage *f = ud;
    return inject(f) ? CONSTRA_E_STORAGE
                     : f->inner.idempotency_release(f->inner.user_data, key, fp);
}

static int f_purge(void *ud, int64_t now)
{
    fault_storage *f = ud;
    if (inject(f)) {
        return CONSTRA_E_STORAGE;
    }
    return f->inner.purge_expired ? f->inner.purge_expired(f->inner.user_data, now) : CONSTRA_OK;
}

static int f_ep_insert(void *ud, const constra_storage_webhook_endpoint *ep)
{
    fault_storage *f = ud;
    return inject(f) ? CONSTRA_E_STORAGE
                     : f->inner.webhook_endpoint_insert(f->inner.user_data, ep);
}

static int f_ep_update(void *ud, const constra_storage_webhook_endpoint *ep, int64_t expected)
{
    fault_storage *f = ud;
    return inject(f) ? CONSTRA_E_STORAGE
                     : f->inner.webhook_endpoint_update(f->inner.user_data, ep, expected);
}

static int f_ep_delete(void *ud, const char *id)
{
    fault_storage *f = ud;
    return inject(f) ? CONSTRA_E_STORAGE : f->inner.webhook_endpoint_delete(f->inner.user_data, id);
}

static int f_ep_list(void *ud, constra_storage_endpoint_fn emit, void *ctx)
{
    fault_storage *f = ud;
    return inject(f) ? CONSTRA_E_STORAGE
                     : f->inner.webhook_endpoint_list(f->inner.user_data, emit, ctx);
}

static int f_enqueue(void *ud, const char *endpoint_id, int64_t expected, int64_t cursor,
                     const constra_storage_delivery *d, size_t count)
{
    fault_storage *f = ud;
    return inject(f) ? CONSTRA_E_STORAGE
                     : f->inner.webhook_enqueue(f->inner.user_data, endpoint_id, expected, cursor,
                                                d, count);
}

static int f_dl_list(void *ud, const constra_storage_delivery_query *q,
                     constra_storage_delivery_fn emit, void *ctx)
{
    fault_storage *f = ud;
    return inject(f) ? CONSTRA_E_STORAGE
                     : f->inner.webhook_delivery_list(f->inner.user_data, q, emit, ctx);
}

static int f_dl_update(void *ud, const constra_storage_delivery *d, int64_t expected)
{
    fault_storage *f = ud;
    return inject(f) ? CONSTRA_E_STORAGE
                     : f->inner.webhook_delivery_update(f->inner.user_data, d, expected);
}

static int f_meta_get(void *ud, const char *key, constra_storage_meta_fn emit, void *ctx)
{
    fault_storage *f = ud;
    return inject(f) ? CONSTRA_E_STORAGE : f->inner.meta_get(f->inner.user_data, key, emit, ctx);
}

static int f_meta_put(void *ud, const char *key, const char *value, constra_storage_meta_fn emit,
                      void *ctx)
{
    fault_storage *f = ud;
    return inject(f) ? CONSTRA_E_STORAGE
                     : f->inner.meta_put_if_absent(f->inner.user_data, key, value, emit, ctx);
}

static void f_destroy(void *ud)
{
    fault_storage *f = ud;
    f->destroyed++;
    if (f->inner.destroy) {
        f->inner.destroy(f->inner.user_data);
    }
}

void fault_storage_wrap(fault_storage *f, const constra_storage *inner, constra_storage *out)
{
    f->inner = *inner;
    f->calls = f->fail_at = f->fail_count = f->failures = 0;
    f->destroyed = 0;
    constra_storage s = CONSTRA_STORAGE_INIT;
    s.user_data = f;
    s.commit = f_commit;
    s.get_intent = f_get;
    s.find_by_checkout = f_find;
    s.list_intents = f_list;
    s.list_events = f_events;
    s.idempotency_reserve = f_reserve;
    s.idempotency_complete = f_complete;
    s.idempotency_release = f_release;
    s.purge_expired = f_purge;
    s.destroy = f_destroy;
    if (inner->webhook_endpoint_insert) { /* the group is all or nothing */
        s.webhook_endpoint_insert = f_ep_insert;
        s.webhook_endpoint_update = f_ep_update;
        s.webhook_endpoint_delete = f_ep_delete;
        s.webhook_endpoint_list = f_ep_list;
        s.webhook_enqueue = f_enqueue;
        s.webhook_delivery_list = f_dl_list;
        s.webhook_delivery_update = f_dl_update;
    }
    if (f->forward_meta && inner->meta_get) { /* a pair too */
        s.meta_get = f_meta_get;
        s.meta_put_if_absent = f_meta_put;
    }
    *out = s;
}
