/* Shared by the webhook tests: loading tests/vectors/webhook-signatures.json
 * (directory in $CONSTRA_VECTORS) and mapping its descriptive "reason"
 * strings onto constra_webhook_result. */
#ifndef CONSTRA_TEST_WEBHOOK_VECTORS_H
#define CONSTRA_TEST_WEBHOOK_VECTORS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <constra.h>

/* One vector, pointing into the cJSON tree. */
typedef struct wh_vector {
    int index;
    const char *scheme_name;
    int scheme;
    const char *secret;
    const char *body;
    size_t body_len;
    const char *header;    /* t_v1, body_hex */
    const char *msg_id;    /* standard_webhooks */
    const char *timestamp; /* standard_webhooks */
    const char *signature; /* standard_webhooks: webhook-signature; else = header */
    int has_now;
    int64_t now;
    int64_t tolerance;
    int valid;
    const char *reason;
    int expected_result; /* constra_webhook_result, -1 if the reason is unknown */
} wh_vector;

/* The file's reasons, each mapped to the outcome the library reports. A
 * reason not listed here fails the tests, so a new kind of vector forces
 * a decision. */
static inline int wh_expected_result(const char *reason)
{
    static const struct {
        const char *reason;
        int result;
    } map[] = {
        {"ok", CONSTRA_WEBHOOK_OK},
        {"one of several v1 matches", CONSTRA_WEBHOOK_OK},
        {"hex is case-insensitive", CONSTRA_WEBHOOK_OK},
        {"second of a space-separated list matches", CONSTRA_WEBHOOK_OK},
        {"mismatch", CONSTRA_WEBHOOK_MISMATCH},
        {"body changed", CONSTRA_WEBHOOK_MISMATCH},
        {"timestamp changed", CONSTRA_WEBHOOK_MISMATCH},
        {"wrong secret", CONSTRA_WEBHOOK_MISMATCH},
        {"id changed", CONSTRA_WEBHOOK_MISMATCH},
        {"timestamp too old", CONSTRA_WEBHOOK_EXPIRED},
        {"timestamp too far in the future", CONSTRA_WEBHOOK_FUTURE},
        {"malformed header", CONSTRA_WEBHOOK_MALFORMED},
        /* A v1 entry must be exactly 64 hex digits: 63 is malformed. */
        {"signature truncated", CONSTRA_WEBHOOK_MALFORMED},
        /* No v1 entry at all (only v2): nothing to check, malformed. */
        {"unknown version only", CONSTRA_WEBHOOK_MALFORMED},
        /* The reference libraries skip a candidate they cannot read when
         * another one verifies (webhook-reference-libraries.json)... */
        {"unreadable candidate skipped", CONSTRA_WEBHOOK_OK},
        /* ...but unreadable candidates alone never verify. */
        {"only unreadable candidates", CONSTRA_WEBHOOK_MALFORMED},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(reason, map[i].reason) == 0) {
            return map[i].result;
        }
    }
    return -1;
}

static inline char *wh_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf != NULL) {
        if (n == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            break;
        }
    }
    fclose(f);
    if (buf != NULL) {
        buf[n] = '\0';
        if (len) {
            *len = n;
        }
    }
    return buf;
}

/* Parses the vectors file; returns the root (cJSON_Delete it) or NULL. */
static inline cJSON *wh_load_vectors_named(const char *name)
{
    const char *dir = getenv("CONSTRA_VECTORS");
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/vectors", name);
    char *text = wh_read_file(path, NULL);
    if (text == NULL) {
        fprintf(stderr, "cannot read %s\n", path);
        return NULL;
    }
    cJSON *root = cJSON_Parse(text);
    free(text);
    return root;
}

static inline cJSON *wh_load_vectors(void)
{
    return wh_load_vectors_named("webhook-signatures.json");
}

static inline const char *wh_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Fills *v from the index-th element; returns 0, or -1 if malformed. */
static inline int wh_vector_at(const cJSON *root, int index, wh_vector *v)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "vectors");
    const cJSON *o = cJSON_GetArrayItem(arr, index);
    if (!cJSON_IsObject(o)) {
        return -1;
    }
    memset(v, 0, sizeof(*v));
    v->index = index;
    v->scheme_name = wh_str(o, "scheme");
    v->secret = wh_str(o, "secret");
    v->body = wh_str(o, "body");
    const char *expect = wh_str(o, "expect");
    v->reason = wh_str(o, "reason");
    if (!v->scheme_name || !v->secret || !v->body || !expect || !v->reason) {
        return -1;
    }
    v->body_len = strlen(v->body); /* the file has no \u0000 in bodies */
    if (constra_webhook_scheme_from_name(v->scheme_name, &v->scheme, NULL) != CONSTRA_OK) {
        return -1;
    }
    v->valid = strcmp(expect, "valid") == 0;
    v->expected_result = wh_expected_result(v->reason);
    const cJSON *now = cJSON_GetObjectItemCaseSensitive(o, "now");
    const cJSON *tol = cJSON_GetObjectItemCaseSensitive(o, "tolerance");
    if (cJSON_IsNumber(now)) {
        v->has_now = 1;
        v->now = (int64_t)now->valuedouble;
    }
    if (cJSON_IsNumber(tol)) {
        v->tolerance = (int64_t)tol->valuedouble;
    }
    const cJSON *headers = cJSON_GetObjectItemCaseSensitive(o, "headers");
    if (cJSON_IsObject(headers)) {
        v->msg_id = wh_str(headers, "webhook-id");
        v->timestamp = wh_str(headers, "webhook-timestamp");
        v->signature = wh_str(headers, "webhook-signature");
        if (!v->msg_id || !v->timestamp || !v->signature) {
            return -1;
        }
    } else {
        v->header = wh_str(o, "header");
        if (v->header == NULL) {
            return -1;
        }
        v->signature = v->header;
    }
    return 0;
}

static inline int wh_vector_count(const cJSON *root)
{
    return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "vectors"));
}

#endif /* CONSTRA_TEST_WEBHOOK_VECTORS_H */
