/*
 * Strict JSON request bodies for the REST router: the lexical checks and
 * typed reads of mpesa/json_read (exact numbers, no NUL, no duplicate
 * keys it reads), plus the REST rules: an object, known members only,
 * error codes named as the API names them.
 */
#include <stdio.h>
#include <string.h>

#include "api/request.h"
#include "util/check.h"

/* ---- where a NUL sits ------------------------------------------------------- */

typedef struct frame {
    int is_object;
    int want_key;   /* object: the next string is a key */
    size_t index;   /* array: the current element */
    char key[48];
} frame;

static void path_of(const frame *st, int depth, char *out, size_t out_size)
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < depth && len < out_size; i++) {
        int w;
        if (st[i].is_object) {
            w = snprintf(out + len, out_size - len, len ? ".%s" : "%s", st[i].key);
        } else {
            w = snprintf(out + len, out_size - len, "[%zu]", st[i].index);
        }
        if (w < 0) {
            break;
        }
        len += (size_t)w;
    }
}

/*
 * Finds a NUL byte or a "\u0000" escape in the body and names the member
 * holding it ("customer.name"; "body" outside any member). Returns 1 and
 * fills `param` when found, 0 when the body has none. Tolerates bodies
 * that are malformed elsewhere (they fail the strict parse afterwards).
 */
static int find_nul(const char *t, size_t n, char *param, size_t param_size)
{
    frame st[CONSTRA__API_JSON_DEPTH];
    int depth = 0;
    size_t i = 0;
    while (i < n) {
        char ch = t[i];
        if (ch == '\0') {
            path_of(st, depth, param, param_size);
            return 1;
        }
        if (ch == '{' || ch == '[') {
            if (depth == CONSTRA__API_JSON_DEPTH) {
                return 0; /* too deep: the strict parse refuses it */
            }
            memset(&st[depth], 0, sizeof(st[depth]));
            st[depth].is_object = ch == '{';
            st[depth].want_key = ch == '{';
            depth++;
        } else if (ch == '}' || ch == ']') {
            if (depth > 0) {
                depth--;
            }
        } else if (ch == ',' && depth > 0) {
            if (st[depth - 1].is_object) {
                st[depth - 1].want_key = 1;
            } else {
                st[depth - 1].index++;
            }
        } else if (ch == ':' && depth > 0) {
            st[depth - 1].want_key = 0;
        } else if (ch == '"') {
            int is_key = depth > 0 && st[depth - 1].is_object && st[depth - 1].want_key;
            size_t start = ++i, klen = 0;
            while (i < n && t[i] != '"') {
                int nul = t[i] == '\0' ||
                          (t[i] == '\\' && i + 5 < n && t[i + 1] == 'u' &&
                           memcmp(t + i + 2, "0000", 4) == 0);
                if (nul) {
                    /* In a key: name the object; in a value: the member. */
                    path_of(st, is_key ? depth - 1 : depth, param, param_size);
                    if (param[0] == '\0') {
                        constra__strlcpy(param, "body", param_size);
                    }
                    return 1;
                }
                i += t[i] == '\\' && i + 1 < n ? 2 : 1;
            }
            if (is_key) {
                klen = i - start;
                if (klen >= sizeof(st[depth - 1].key)) {
                    klen = sizeof(st[depth - 1].key) - 1;
                }
                memcpy(st[depth - 1].key, t + start, klen);
                st[depth - 1].key[klen] = '\0';
            }
        }
        i++;
    }
    return 0;
}

/* ---- codes -------------------------------------------------------------------- */

static void map_code(constra_error *e)
{
    static const char *const map[] = {
        "field_missing", "parameter_missing",
        "field_invalid", "parameter_invalid",
        "field_too_long", "parameter_invalid",
        "field_duplicate", "parameter_duplicate",
        "request_malformed", "json_invalid",
        "body_empty", "body_missing",
        NULL, NULL,
    };
    for (size_t i = 0; map[i]; i += 2) {
        if (strcmp(e->code, map[i]) == 0) {
            constra__strlcpy(e->code, map[i + 1], sizeof(e->code));
            break;
        }
    }
}

int constra__api_body_error(constra__api_ctx *c, constra_error *e)
{
    if (e->status == CONSTRA_E_NOMEM) {
        return CONSTRA_E_NOMEM;
    }
    map_code(e);
    return constra__api_error(c, 400, e->code[0] ? e->code : "parameter_invalid", e->param,
                              e->message[0] ? e->message : "invalid request body");
}

int constra__api_check_members(const cJSON *obj, const char *parent, const char *const *allowed,
                               constra_error *e)
{
    char path[CONSTRA__JR_PATH_SIZE];
    for (const cJSON *m = obj ? obj->child : NULL; m != NULL; m = m->next) {
        const char *key = m->string ? m->string : "";
        for (const cJSON *o = m->next; o != NULL; o = o->next) {
            if (o->string && strcmp(o->string, key) == 0) {
                constra__jr_path(path, sizeof(path), parent, key);
                return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "parameter_duplicate", path,
                                     "%s appears more than once", path);
            }
        }
        int known = 0;
        for (size_t i = 0; allowed && allowed[i]; i++) {
            if (strcmp(allowed[i], key) == 0) {
                known = 1;
                break;
            }
        }
        if (!known) {
            constra__jr_path(path, sizeof(path), parent, key);
            return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "parameter_unknown", path,
                                 "unknown parameter %s", path);
        }
    }
    return CONSTRA_OK;
}

int constra__api_body(constra__api_ctx *c, constra__jr *jr, constra_error *e,
                      const char *const *allowed, int allow_empty, int *replied)
{
    memset(jr, 0, sizeof(*jr));
    *replied = 0;
    const char *body = c->req->body;
    size_t len = c->req->body_len;
    if (len == 0 && allow_empty) {
        return CONSTRA_OK;
    }
    char param[CONSTRA_ERROR_PARAM_SIZE];
    if (len > 0 && find_nul(body, len, param, sizeof(param))) {
        *replied = 1;
        return constra__api_error(c, 400, "parameter_invalid", param[0] ? param : "body",
                                  "NUL characters are not allowed in the body");
    }
    int rc = constra__jr_parse(jr, body, len, CONSTRA_API_BODY_MAX, CONSTRA__API_JSON_DEPTH,
                               "request", e);
    if (rc == CONSTRA_OK) {
        rc = constra__api_check_members(jr->root, "", allowed, e);
    }
    if (rc != CONSTRA_OK) {
        constra__jr_free(jr);
        if (strcmp(e->code, "request_malformed") == 0 && strstr(e->message, "not an object")) {
            constra__strlcpy(e->message, "the body must be a JSON object", sizeof(e->message));
        }
        *replied = 1;
        return constra__api_body_error(c, e);
    }
    return CONSTRA_OK;
}
