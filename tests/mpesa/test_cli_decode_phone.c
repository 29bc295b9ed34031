/* constra decode / constra phone, run as a program ($CONSTRA_CLI):
 * output, JSON validity, exit codes, and misuse. */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct run_result {
    int status;      /* exit code, or -1 */
    char out[65536]; /* stdout */
    char errt[4096]; /* stderr */
} run_result;

static const char *cli(void)
{
    const char *p = getenv("CONSTRA_CLI");
    if (p == NULL || *p == '\0') {
        fail_msg("CONSTRA_CLI is not set");
    }
    return p;
}

/* Appends `s` single-quoted for sh. */
static void append_quoted(char *cmd, size_t size, const char *s)
{
    size_t n = strlen(cmd);
    if (n + 3 >= size) {
        fail_msg("command too long");
    }
    cmd[n++] = ' ';
    cmd[n++] = '\'';
    for (; *s; s++) {
        if (n + 6 >= size) {
            fail_msg("command too long");
        }
        if (*s == '\'') {
            memcpy(cmd + n, "'\\''", 4);
            n += 4;
        } else {
            cmd[n++] = *s;
        }
    }
    cmd[n++] = '\'';
    cmd[n] = '\0';
}

static size_t read_all(FILE *f, char *buf, size_t size)
{
    size_t n = 0;
    size_t got;
    while (n + 1 < size && (got = fread(buf + n, 1, size - 1 - n, f)) > 0) {
        n += got;
    }
    buf[n] = '\0';
    return n;
}

/* Runs the CLI with the NULL-terminated arguments; `pipe_to` (may be
 * NULL) is a shell command its stdout is piped into. */
static void run_pipe(run_result *r, const char *pipe_to, const char *arg, ...)
{
    char errpath[] = "/tmp/constra-cli-test-XXXXXX";
    int fd = mkstemp(errpath);
    assert_true(fd >= 0);
    close(fd);
    char cmd[8192] = "";
    append_quoted(cmd, sizeof(cmd), cli());
    va_list ap;
    va_start(ap, arg);
    for (const char *a = arg; a != NULL; a = va_arg(ap, const char *)) {
        append_quoted(cmd, sizeof(cmd), a);
    }
    va_end(ap);
    size_t n = strlen(cmd);
    snprintf(cmd + n, sizeof(cmd) - n, " 2>'%s'%s%s", errpath, pipe_to ? " | " : "",
             pipe_to ? pipe_to : "");
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    read_all(p, r->out, sizeof(r->out));
    int st = pclose(p);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    FILE *e = fopen(errpath, "r");
    assert_non_null(e);
    read_all(e, r->errt, sizeof(r->errt));
    fclose(e);
    unlink(errpath);
}

#define RUN(r, ...) run_pipe((r), NULL, __VA_ARGS__, (const char *)NULL)
#define RUN_JSON(r, check, ...)                                                               \
    run_pipe((r), "python3 -c 'import json,sys; d=json.load(sys.stdin); " check "'",          \
             __VA_ARGS__, (const char *)NULL)

static void expect_contains(const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL) {
        fail_msg("expected '%s' in:\n%s", needle, hay);
    }
}

static void test_decode_text(void **state)
{
    (void)state;
    static run_result r;
    RUN(&r, "decode", "1032");
    assert_int_equal(r.status, 0);
    expect_contains(r.out, "code:        1032\n");
    expect_contains(r.out, "api:         stk\n");
    expect_contains(r.out, "outcome:     requires_recovery\n");
    expect_contains(r.out, "known:       yes\n");
    expect_contains(r.out, "Customer cancelled the prompt. Offer retry or alternate payment");
    assert_string_equal(r.errt, "");

    RUN(&r, "decode", "2001", "--api", "b2c");
    assert_int_equal(r.status, 0);
    expect_contains(r.out, "outcome:     failed_configuration\n");
    RUN(&r, "decode", "--api", "stk", "2001");
    expect_contains(r.out, "outcome:     requires_recovery\n");
    RUN(&r, "decode", "4999");
    expect_contains(r.out, "outcome:     pending\n");
    RUN(&r, "decode", "500.001.1001", "--message", "The transaction is being processed");
    assert_int_equal(r.status, 0);
    expect_contains(r.out, "api:         sync\n");
    expect_contains(r.out, "outcome:     pending\n");
    expect_contains(r.out, "message:     contains \"being processed\"\n");
    RUN(&r, "decode", "500.001.1001", "--message", "Merchant does not exist");
    expect_contains(r.out, "outcome:     failed_configuration\n");
    RUN(&r, "decode", "500.001.1001");
    expect_contains(r.out, "outcome:     review_required\n");
    RUN(&r, "decode", " 0 ");
    expect_contains(r.out, "outcome:     succeeded\n");
    expect_contains(r.out, "code:        0\n");
    RUN(&r, "decode", "C2B00012");
    expect_contains(r.out, "api:         c2b\n");
    expect_contains(r.out, "outcome:     failed\n");
}

static void test_decode_unknown(void **state)
{
    (void)state;
    static run_result r;
    RUN(&r, "decode", "424242");
    assert_int_equal(r.status, 0);
    expect_contains(r.out, "outcome:     review_required\n");
    expect_contains(r.out, "known:       no\n");
    RUN(&r, "decode", "--", "-1");
    assert_int_equal(r.status, 0);
    expect_contains(r.out, "known:       no\n");
}

static void test_decode_json(void **state)
{
    (void)state;
    static run_result r;
    RUN(&r, "decode", "1032", "--json");
    assert_int_equal(r.status, 0);
    expect_contains(r.out, "\"outcome\":\"requires_recovery\"");
    expect_contains(r.out, "\"class\":\"requires_recovery\""); /* the old name, kept */
    RUN_JSON(&r,
             "assert d[\"code\"]==\"1032\" and d[\"api\"]==\"stk\" and d[\"known\"] is True "
             "and d[\"outcome\"]==\"requires_recovery\" and d[\"retry_allowed\"] is True "
             "and d[\"recommended_action\"]==\"retry\" and d[\"recovery_note\"] "
             "and d[\"description\"]; print(\"ok\")",
             "decode", "1032", "--json");
    assert_string_equal(r.out, "ok\n");
    RUN_JSON(&r,
             "assert d[\"outcome\"]==\"review_required\" and d[\"known\"] is False; print(\"ok\")",
             "decode", "--json", "x\"y\\z");
    assert_string_equal(r.out, "ok\n");
    RUN_JSON(&r,
             "assert d[\"api\"]==\"b2c\" and d[\"outcome\"]==d[\"class\"]==\"failed\"; print(\"ok\")",
             "decode", "SFC_IC0003", "--api", "b2c", "--json");
    assert_string_equal(r.out, "ok\n");
}

static void test_decode_list(void **state)
{
    (void)state;
    static run_result r;
    RUN_JSON(&r,
             "assert len(d) > 90 and all(e[\"known\"] for e in d) and "
             "len({(e[\"code\"], e[\"api\"], e[\"message_match\"]) for e in d}) == len(d); "
             "print(len(d))",
             "decode", "--list", "--json");
    assert_true(atoi(r.out) > 90);
    RUN(&r, "decode", "--list");
    assert_int_equal(r.status, 0);
    expect_contains(r.out, "code:        SFC_IC0003\n");
    expect_contains(r.out, "code:        100000000-100000011\n");
}

static void expect_usage(run_result *r)
{
    if (r->status != 2 || r->errt[0] == '\0') {
        fail_msg("want exit 2 with a message; got %d, stderr '%s'", r->status, r->errt);
    }
    assert_string_equal(r->out, "");
}

static void test_decode_usage(void **state)
{
    (void)state;
    static run_result r;
    RUN(&r, "decode");
    expect_usage(&r);
    RUN(&r, "decode", "1032", "1037");
    expect_usage(&r);
    RUN(&r, "decode", "--api", "nope", "1032");
    expect_usage(&r);
    RUN(&r, "decode", "1032", "--api");
    expect_usage(&r);
    RUN(&r, "decode", "1032", "--message");
    expect_usage(&r);
    RUN(&r, "decode", "--bogus", "1032");
    expect_usage(&r);
    RUN(&r, "decode", "");
    expect_usage(&r);
    RUN(&r, "decode", "10 32");
    expect_usage(&r);
    RUN(&r, "decode", "--list", "1032");
    expect_usage(&r);
    static char longcode[200];
    memset(longcode, '1', sizeof(longcode) - 1);
    RUN(&r, "decode", longcode);
    expect_usage(&r);
}

static void test_phone(void **state)
{
    (void)state;
    static run_result r;
    static const char *const ok[] = {"0712345678", "+254 712 345 678", "(0712) 345-678",
                                     "712345678", "00254712345678", "254712345678"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        RUN(&r, "phone", ok[i]);
        assert_int_equal(r.status, 0);
        assert_string_equal(r.out, "254712345678\n");
        assert_string_equal(r.errt, "");
    }
    RUN(&r, "phone", "0712345678", "--safaricom");
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "254712345678\n");
    RUN(&r, "phone", "0733123456");
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "254733123456\n");
    RUN(&r, "phone", "--safaricom", "0733123456");
    assert_int_equal(r.status, 1);
    assert_string_equal(r.out, "");
    expect_contains(r.errt, "Airtel");
    expect_contains(r.errt, "phone_not_safaricom");
}

static void test_phone_invalid(void **state)
{
    (void)state;
    static run_result r;
    static const struct {
        const char *in, *code;
    } bad[] = {
        {"0201234567", "phone_not_mobile"},   {"abc", "phone_invalid_character"},
        {"", "phone_empty"},                  {"+255712345678", "phone_not_kenyan"},
        {"071234567", "phone_too_few_digits"}, {"+254 (0) 712 345 678", "phone_too_many_digits"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        RUN(&r, "phone", bad[i].in);
        expect_usage(&r);
        expect_contains(r.errt, bad[i].code);
        RUN(&r, "phone", "--safaricom", bad[i].in);
        expect_usage(&r);
    }
    RUN(&r, "phone");
    expect_usage(&r);
    RUN(&r, "phone", "0712345678", "0712345679");
    expect_usage(&r);
    RUN(&r, "phone", "--bogus", "0712345678");
    expect_usage(&r);
    static char longnum[300];
    memset(longnum, '7', sizeof(longnum) - 1);
    RUN(&r, "phone", longnum);
    expect_usage(&r);
    expect_contains(r.errt, "phone_too_long");
}

static void test_help_lists(void **state)
{
    (void)state;
    static run_result r;
    RUN(&r, "help");
    assert_int_equal(r.status, 0);
    expect_contains(r.out, "  decode ");
    expect_contains(r.out, "  phone ");
    RUN(&r, "help", "decode");
    assert_int_equal(r.status, 0);
    expect_contains(r.out, "usage: constra decode");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_text),  cmocka_unit_test(test_decode_unknown),
        cmocka_unit_test(test_decode_json),  cmocka_unit_test(test_decode_list),
        cmocka_unit_test(test_decode_usage), cmocka_unit_test(test_phone),
        cmocka_unit_test(test_phone_invalid), cmocka_unit_test(test_help_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
