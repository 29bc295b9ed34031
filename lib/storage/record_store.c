/*
 * The record store's vtable checks and the request rules every
 * implementation applies before touching its data (storage.h).
 */
#include <string.h>

#include "constra/storage.h"
#include "storage/record_internal.h"
#include "util/check.h"

int constra_storage_init(constra_storage *store, size_t struct_size)
{
    static const constra_storage init = CONSTRA_STORAGE_INIT;
    return constra__init_struct(store, struct_size, sizeof(init), sizeof(init), &init);
}

int constra_storage_check(const constra_storage *s, constra_error *err)
{
    int rc = constra__check_struct(s, sizeof(*s), sizeof(*s), "storage", err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    const struct {
        int present;
        const char *name;
    } required[] = {
        {s->commit != NULL, "storage.commit"}, {s->get != NULL, "storage.get"},
        {s->scan != NULL, "storage.scan"},     {s->events != NULL, "storage.events"},
        {s->purge != NULL, "storage.purge"},
    };
    for (size_t i = 0; i < CONSTRA__ARRAY_LEN(required); i++) {
        if (!required[i].present) {
            return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_missing",
                                 required[i].name, "%s is required", required[i].name);
        }
    }
    return CONSTRA_OK;
}

int constra__record_name_valid(const char *name)
{
    if (name == NULL || name[0] == '\0') {
        return 0;
    }
    size_t n = 0;
    for (const char *p = name; *p; p++, n++) {
        char c = *p;
        if (n == CONSTRA_RECORD_NAME_MAX ||
            !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
            return 0;
        }
    }
    return 1;
}

int constra__record_text_valid(const char *text, int empty_ok)
{
    if (text == NULL) {
        return 0;
    }
    size_t n = 0; /* strnlen is POSIX, not C11 */
    while (n <= CONSTRA_RECORD_VALUE_MAX && text[n] != '\0') {
        n++;
    }
    return n <= CONSTRA_RECORD_VALUE_MAX && (empty_ok || n > 0);
}

int constra__record_get_valid(const char *kind, const char *id, constra_record_fn emit)
{
    return constra__record_name_valid(kind) && constra__record_text_valid(id, 0) && emit != NULL;
}

int constra__record_events_valid(const char *stream, size_t limit, constra_record_event_fn emit)
{
    return emit != NULL && limit > 0 && (stream == NULL || constra__record_text_valid(stream, 1));
}

static int bad(constra_error *err, const char *param, const char *why)
{
    return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", param, "%s", why);
}

static int check_record(const constra_record *r, int type, constra_error *err)
{
    if (r == NULL || !constra__record_name_valid(r->kind)) {
        return bad(err, "record.kind", "a record kind is 1-32 bytes of [a-z0-9_]");
    }
    if (!constra__record_text_valid(r->id, 0)) {
        return bad(err, "record.id", "a record id is 1-255 bytes");
    }
    if (type != CONSTRA_RECORD_PUT) {
        return CONSTRA_OK;
    }
    if (r->expires_at_ms < 0) {
        return bad(err, "record.expires_at_ms", "expires_at_ms is 0 (never) or a time");
    }
    if (r->document == NULL && r->document_len != 0) {
        return bad(err, "record.document", "a document length without its bytes");
    }
    if (r->key_count > CONSTRA_RECORD_KEYS_MAX || (r->key_count && r->keys == NULL)) {
        return bad(err, "record.keys", "a record has at most 16 index entries");
    }
    for (size_t k = 0; k < r->key_count; k++) {
        if (!constra__record_name_valid(r->keys[k].index)) {
            return bad(err, "record.keys.index", "an index name is 1-32 bytes of [a-z0-9_]");
        }
        if (!constra__record_text_valid(r->keys[k].value, 1)) {
            return bad(err, "record.keys.value", "an index value is 0-255 bytes");
        }
    }
    return CONSTRA_OK;
}

int constra_record_commit_check(const constra_record_commit *c, constra_error *err)
{
    int rc = constra__check_struct(c, sizeof(*c), sizeof(*c), "commit", err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (c->op_count == 0 && c->event_count == 0) {
        return bad(err, "commit", "a commit writes at least one operation or event");
    }
    if (c->op_count > CONSTRA_RECORD_COMMIT_MAX || c->event_count > CONSTRA_RECORD_COMMIT_MAX ||
        (c->op_count && c->ops == NULL) || (c->event_count && c->events == NULL)) {
        return bad(err, "commit", "a commit has at most 1024 operations and 1024 events");
    }
    for (size_t i = 0; i < c->op_count; i++) {
        const constra_record_op *op = &c->ops[i];
        if (op->type != CONSTRA_RECORD_PUT && op->type != CONSTRA_RECORD_DELETE &&
            op->type != CONSTRA_RECORD_ASSERT) {
            return bad(err, "commit.ops.type", "an operation is PUT, DELETE or ASSERT");
        }
        if (op->expected_version < 0 ||
            (op->type == CONSTRA_RECORD_DELETE && op->expected_version == 0)) {
            return bad(err, "commit.ops.expected_version",
                       "expected_version is 0 (absent) or the stored version; a delete names it");
        }
        if ((rc = check_record(op->record, op->type, err)) != CONSTRA_OK) {
            return rc;
        }
    }
    for (size_t i = 0; i < c->event_count; i++) {
        const constra_record_event *e = &c->events[i];
        if (e->struct_size < sizeof(*e) || !constra__record_text_valid(e->id, 0) ||
            !constra__record_text_valid(e->type, 0) || !constra__record_text_valid(e->stream, 1) ||
            e->expires_at_ms < 0 || (e->document == NULL && e->document_len != 0)) {
            return bad(err, "commit.events",
                       "an event has an id and a type of 1-255 bytes, a stream of 0-255");
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(c->events[j].id, e->id) == 0) {
                return bad(err, "commit.events.id", "an event id is given twice");
            }
        }
    }
    return CONSTRA_OK;
}

int constra__record_scan_check(const constra_record_scan *s, constra_error *err)
{
    int rc = constra__check_struct(s, sizeof(*s), sizeof(*s), "scan", err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    if (!constra__record_name_valid(s->kind)) {
        return bad(err, "scan.kind", "a record kind is 1-32 bytes of [a-z0-9_]");
    }
    if (s->index == NULL || (s->index[0] != '\0' && !constra__record_name_valid(s->index))) {
        return bad(err, "scan.index", "an index name is 1-32 bytes of [a-z0-9_], or \"\"");
    }
    if (s->limit == 0) {
        return bad(err, "scan.limit", "limit is at least 1");
    }
    if ((s->after_value == NULL) != (s->after_id == NULL)) {
        return bad(err, "scan.after_id", "a cursor has both after_value and after_id");
    }
    const char *texts[] = {s->from, s->to, s->prefix, s->after_value, s->after_id};
    for (size_t i = 0; i < CONSTRA__ARRAY_LEN(texts); i++) {
        if (texts[i] != NULL && !constra__record_text_valid(texts[i], 1)) {
            return bad(err, "scan", "scan bounds are at most 255 bytes");
        }
    }
    return CONSTRA_OK;
}

int constra__record_cmp(const char *a, const char *b)
{
    return strcmp(a, b); /* strcmp compares as unsigned char: memcmp order */
}

void constra__record_scan_range(const constra_record_scan *s, const char **lo, const char **hi,
                                char hi_buf[CONSTRA_RECORD_VALUE_MAX + 1], int *empty)
{
    *lo = s->from;
    *hi = s->to;
    *empty = 0;
    if (s->prefix != NULL && s->prefix[0] != '\0') {
        if (*lo == NULL || constra__record_cmp(s->prefix, *lo) > 0) {
            *lo = s->prefix;
        }
        size_t n = strlen(s->prefix);
        memcpy(hi_buf, s->prefix, n + 1);
        while (n > 0 && (unsigned char)hi_buf[n - 1] == 0xFF) {
            hi_buf[--n] = '\0';
        }
        if (n > 0) { /* else all 0xFF: no successor, unbounded above */
            hi_buf[n - 1] = (char)((unsigned char)hi_buf[n - 1] + 1);
            if (*hi == NULL || constra__record_cmp(hi_buf, *hi) < 0) {
                *hi = hi_buf;
            }
        }
    }
    if (*lo != NULL && *hi != NULL && constra__record_cmp(*lo, *hi) >= 0) {
        *empty = 1;
    }
}

size_t constra__record_keys_size(const constra_record *r)
{
    size_t n = 0;
    for (size_t k = 0; k < r->key_count; k++) {
        n += strlen(r->keys[k].index) + strlen(r->keys[k].value) + 3;
    }
    return n;
}

void constra__record_keys_write(const constra_record *r, char *out)
{
    for (size_t k = 0; k < r->key_count; k++) {
        size_t a = strlen(r->keys[k].index) + 1, b = strlen(r->keys[k].value) + 1;
        memcpy(out, r->keys[k].index, a);
        memcpy(out + a, r->keys[k].value, b);
        out[a + b] = r->keys[k].unique ? '1' : '0';
        out += a + b + 1;
    }
}

int constra__record_keys_read(const char *blob, size_t len, constra_record_key *keys,
                              size_t *count)
{
    size_t n = 0;
    const char *p = blob, *end = blob + len;
    while (p < end) {
        const char *z1 = memchr(p, '\0', (size_t)(end - p));
        const char *z2 = z1 ? memchr(z1 + 1, '\0', (size_t)(end - z1 - 1)) : NULL;
        if (z2 == NULL || z2 + 1 >= end || n == CONSTRA_RECORD_KEYS_MAX) {
            return -1;
        }
        keys[n].index = p;
        keys[n].value = z1 + 1;
        keys[n].unique = z2[1] == '1';
        n++;
        p = z2 + 2;
    }
    *count = n;
    return 0;
}

int constra__record_apply(const constra__record_tx *tx, const constra_record_commit *c,
                          size_t *failed)
{
    for (size_t i = 0; i < c->op_count; i++) {
        const constra_record_op *op = &c->ops[i];
        int64_t current;
        int rc = tx->live_version(tx->ctx, op->record->kind, op->record->id, c->now_ms, &current);
        if (rc != CONSTRA_OK) {
            return rc;
        }
        int clash = 0;
        if (current == op->expected_version && op->type == CONSTRA_RECORD_PUT &&
            (rc = tx->clashes(tx->ctx, op->record, c->now_ms, &clash)) != CONSTRA_OK) {
            return rc;
        }
        if (current != op->expected_version || clash) {
            *failed = i;
            return CONSTRA_E_CONFLICT;
        }
        if (op->type == CONSTRA_RECORD_PUT) {
            rc = tx->write(tx->ctx, op->record, op->expected_version + 1);
        } else if (op->type == CONSTRA_RECORD_DELETE) {
            rc = tx->remove(tx->ctx, op->record->kind, op->record->id);
        }
        if (rc == CONSTRA_E_CONFLICT) {
            *failed = i;
        }
        if (rc != CONSTRA_OK) {
            return rc;
        }
    }
    for (size_t i = 0; i < c->event_count; i++) {
        int rc = tx->add_event(tx->ctx, &c->events[i]);
        if (rc == CONSTRA_E_CONFLICT) {
            *failed = c->op_count; /* the event id is taken */
        }
        if (rc != CONSTRA_OK) {
            return rc;
        }
    }
    return CONSTRA_OK;
}
