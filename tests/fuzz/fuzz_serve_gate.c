/* libFuzzer harness: serve_gate_judge() (tools/constra/serve_gate_judge.c),
 * the verdict of `constra serve` on a client's first request head, read
 * from raw socket bytes before libmicrohttpd sees them. Every input, and
 * every prefix of it (a head arrives in pieces), gets a verdict in range;
 * a refusal carries a status, code and message that fit the answer the
 * gate writes; a verdict on a prefix is the verdict on the whole; a head
 * judged whole is still whole with more bytes after it (pipelining, a
 * body). */
#include "fuzz_common.h"

#include "serve.h"

static int judge(const uint8_t *data, size_t n, serve_gate_verdict *v)
{
    /* An exact-size copy: ASan sees any read past n. */
    char *buf = malloc(n ? n : 1);
    FUZZ_CHECK(buf != NULL);
    if (n) {
        memcpy(buf, data, n);
    }
    int r = serve_gate_judge(buf, n, v);
    free(buf);
    FUZZ_CHECK(r == SERVE_GATE_MORE || r == SERVE_GATE_PASS || r == SERVE_GATE_REFUSE);
    if (r == SERVE_GATE_REFUSE) {
        FUZZ_CHECK(v->status == 400 || v->status == 413 || v->status == 414 ||
                   v->status == 431 || v->status == 505);
        FUZZ_CHECK(v->code != NULL && v->message != NULL);
        FUZZ_CHECK(strlen(v->code) < 40 && strlen(v->message) < 200);
        FUZZ_CHECK(v->param == NULL || strlen(v->param) < 40);
    }
    if (r == SERVE_GATE_PASS) {
        FUZZ_CHECK(v->has_line);
    }
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 2 * SERVE_GATE_HEAD_MAX) {
        size = 2 * SERVE_GATE_HEAD_MAX;
    }
    serve_gate_verdict v;
    int whole = judge(data, size, &v);
    /* Prefixes: a few cut points, as a slow client would send them. */
    size_t cuts[] = {0, 1, size / 3, size / 2, size ? size - 1 : 0};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        serve_gate_verdict pv;
        int part = judge(data, cuts[i], &pv);
        /* What a prefix decided, the whole decides the same way: the
         * answer never depends on how the bytes were split. */
        if (part == SERVE_GATE_REFUSE) {
            FUZZ_CHECK(whole == SERVE_GATE_REFUSE && v.status == pv.status);
        } else if (part == SERVE_GATE_PASS) {
            FUZZ_CHECK(whole == SERVE_GATE_PASS);
        }
    }
    /* The head judged whole stays whole with bytes after it. */
    if (whole == SERVE_GATE_PASS && size < 2 * SERVE_GATE_HEAD_MAX) {
        uint8_t *more = malloc(size + 7);
        FUZZ_CHECK(more != NULL);
        memcpy(more, data, size);
        memcpy(more + size, "GARBAGE", 7);
        serve_gate_verdict mv;
        FUZZ_CHECK(judge(more, size + 7, &mv) == SERVE_GATE_PASS);
        free(more);
    }
    return 0;
}
