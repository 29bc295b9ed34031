#include <string.h>

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

/* The workspace metadata (the engine's kind "meta", read and recorded by
 * constra_open) is passed through uncounted unless forward_meta: so the
 * N-th call of a sweep is the N-th call after open. */
static int is_meta(const fault_storage *f, const char *kind)
{
    return !f->forward_meta && kind != NULL && strcmp(kind, "meta") == 0;
}

static int meta_only(const fault_storage *f, const constra_record_commit *c)
{
    if (c->op_count == 0 || c->event_count != 0) {
        return 0;
    }
    for (size_t i = 0; i < c->op_count; i++) {
        if (c->ops[i].record == NULL || !is_meta(f, c->ops[i].record->kind)) {
            return 0;
        }
    }
    return 1;
}

static int f_commit(void *ud, const constra_record_commit *c, size_t *failed_op)
{
    fault_storage *f = ud;
    if (!meta_only(f, c) && inject(f)) {
        return CONSTRA_E_STORAGE;
    }
    return f->inner.commit(f->inner.user_data, c, failed_op);
}

static int f_get(void *ud, const char *kind, const char *id, int64_t now_ms,
                 constra_record_fn emit, void *ctx)
{
    fault_storage *f = ud;
    if (!f->commits_only && !is_meta(f, kind) && inject(f)) {
        return CONSTRA_E_STORAGE;
    }
    return f->inner.get(f->inner.user_data, kind, id, now_ms, emit, ctx);
}

static int f_scan(void *ud, const constra_record_scan *q, constra_record_scan_fn emit, void *ctx)
{
    fault_storage *f = ud;
    return !f->commits_only && inject(f) ? CONSTRA_E_STORAGE : f->inner.scan(f->inner.user_data, q, emit, ctx);
}

static int f_events(void *ud, const char *stream, int64_t after, size_t limit,
                    constra_record_event_fn emit, void *ctx)
{
    fault_storage *f = ud;
    return !f->commits_only && inject(f) ? CONSTRA_E_STORAGE
                     : f->inner.events(f->inner.user_data, stream, after, limit, emit, ctx);
}

static int f_purge(void *ud, int64_t now_ms, size_t max, size_t *purged)
{
    fault_storage *f = ud;
    return inject(f) ? CONSTRA_E_STORAGE
                     : f->inner.purge(f->inner.user_data, now_ms, max, purged);
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
    s.get = f_get;
    s.scan = f_scan;
    s.events = f_events;
    s.purge = f_purge;
    s.destroy = f_destroy;
    *out = s;
}
