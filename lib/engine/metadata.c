/*
 * Intent metadata (intent.h, constra_intent_params.metadata): a merchant's
 * own string keys and values, stored and echoed, never searched or acted
 * on. Limits are Stripe's, so a payload written for one fits the other:
 * at most 50 keys of 1-40 characters (no '[' or ']'), values of at most
 * 500 characters, an empty value leaving its key out; characters are Unicode code points of valid UTF-8.
 *
 * Every accepted object is kept in one canonical form, {"k":"v",...} with
 * the keys in byte order and JSON escaping as the library writes it, so
 * that the same metadata given in another key order is the same request
 * (idempotency fingerprint) and reads back byte for byte.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/model.h"
#include "mpesa/json_read.h"
#include "platform/platform.h"
#include "util/check.h"
#include "util/encode.h"
#include "util/sbuf.h"


static int by_key(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(x->string, y->string);
}

static int bad(constra_error *e, const char *param, const char *why)
{
    return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", param, "%s", why);
}

int constra__metadata_from_tree(const cJSON *obj, const constra_platform *platform, char **out,
                                size_t *out_len, constra_error *e)
{
    *out = NULL;
    *out_len = 0;
    if (obj == NULL || cJSON_IsNull(obj)) {
        return CONSTRA_OK;
    }
    if (!cJSON_IsObject(obj)) {
        return bad(e, "metadata", "metadata must be an object of string keys to string values");
    }
    /* Every key given counts towards the 50, an empty one too (it still
     * had to be read and checked for a duplicate). */
    const cJSON *given[CONSTRA__METADATA_KEYS_MAX], *keys[CONSTRA__METADATA_KEYS_MAX];
    size_t ngiven = 0, n = 0;
    for (const cJSON *m = obj->child; m != NULL; m = m->next) {
        if (ngiven == CONSTRA__METADATA_KEYS_MAX) {
            return bad(e, "metadata", "metadata has at most 50 keys");
        }
        char param[CONSTRA__METADATA_KEY_MAX * 4 + 16];
        constra__jr_path(param, sizeof(param), "metadata", m->string ? m->string : "");
        size_t klen = m->string ? strlen(m->string) : 0;
        long kchars = constra__utf8_count(m->string ? m->string : "", klen);
        if (kchars < 1 || kchars > CONSTRA__METADATA_KEY_MAX) {
            /* One message for the three ways: the firmware image is budgeted. */
            return bad(e, "metadata", "metadata keys are 1 to 40 characters of valid UTF-8");
        }
        if (strpbrk(m->string, "[]") != NULL) {
            return bad(e, param, "metadata keys must not contain [ or ]");
        }
        if (!cJSON_IsString(m) || m->valuestring == NULL) {
            return bad(e, param, "metadata values must be strings");
        }
        long vchars = constra__utf8_count(m->valuestring, strlen(m->valuestring));
        if (vchars < 0 || vchars > CONSTRA__METADATA_VALUE_MAX) {
            return bad(e, param, "metadata values are at most 500 characters of valid UTF-8");
        }
        for (size_t i = 0; i < ngiven; i++) {
            if (strcmp(given[i]->string, m->string) == 0) {
                return bad(e, param, "a metadata key is given twice");
            }
        }
        given[ngiven++] = m;
        if (vchars > 0) { /* as Stripe: an empty value sets nothing */
            keys[n++] = m;
        }
    }
    if (n == 0) {
        return CONSTRA_OK;
    }
    qsort(keys, n, sizeof(keys[0]), by_key);
    constra__sbuf b;
    constra__sbuf_init(&b, platform);
    constra__sbuf_puts(&b, "{");
    for (size_t i = 0; i < n; i++) {
        constra__sbuf_json_key(&b, keys[i]->string, i == 0);
        constra__sbuf_json_str(&b, keys[i]->valuestring);
    }
    constra__sbuf_puts(&b, "}");
    *out = constra__sbuf_take(&b, out_len);
    return *out ? CONSTRA_OK : constra__fail(e, CONSTRA_E_NOMEM, NULL, NULL, "out of memory");
}

int constra__metadata_from_text(const char *text, const constra_platform *platform, char **out,
                                size_t *out_len, constra_error *e)
{
    *out = NULL;
    *out_len = 0;
    if (text == NULL) {
        return CONSTRA_OK;
    }
    constra_error pe = CONSTRA_ERROR_INIT;
    constra__jr jr;
    /* 50 keys of 40 and values of 500 characters, escaped: well under. */
    if (constra__jr_parse(&jr, text, strlen(text), CONSTRA__METADATA_TEXT_MAX, 2, "metadata",
                          &pe) != CONSTRA_OK) {
        return constra__fail(e, CONSTRA_E_INVALID_ARGUMENT, "parameter_invalid", "metadata",
                             "metadata must be a JSON object of strings (%s)", pe.message);
    }
    int rc = constra__metadata_from_tree(jr.root, platform, out, out_len, e);
    constra__jr_free(&jr);
    return rc;
}

void constra__metadata_write(constra__sbuf *b, const struct constra_intent *in)
{
    if (in->metadata != NULL) {
        constra__sbuf_append(b, in->metadata, in->metadata_len);
    } else {
        constra__sbuf_puts(b, "{}");
    }
}
