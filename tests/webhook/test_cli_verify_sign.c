/* `constra verify` and `constra sign` (path in $CONSTRA_CLI): every vector
 * of webhook-signatures.json through the command line, exit codes, stdin
 * bodies with NUL bytes, usage errors. */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <constra.h>

#include "vectors.h"

static cJSON *g_root;
static const char *g_cli;

typedef struct run_result {
    int status; /* exit code, or -1 if it did not exit normally */
    char out[8192];
    char err[8192];
} run_result;

static int temp_file(char *path, size_t size)
{
    snprintf(path, size, "%s/constra-wh-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkstemp(path);
}

static void slurp(int fd, char *buf, size_t size)
{
    lseek(fd, 0, SEEK_SET);
    size_t n = 0;
    for (;;) {
        ssize_t got = read(fd, buf + n, size - 1 - n);
        if (got <= 0) {
            break;
        }
        n += (size_t)got;
        if (n == size - 1) {
            break;
        }
    }
    buf[n] = '\0';
}

/* Runs the CLI with argv (NULL-terminated, argv[0] ignored) and the given
 * bytes on stdin. */
static void run(const char *const *args, const void *in, size_t in_len, run_result *r)
{
    char pin[256], pout[256], perr[256];
    int fin = temp_file(pin, sizeof(pin));
    int fout = temp_file(pout, sizeof(pout));
    int ferr = temp_file(perr, sizeof(perr));
    assert_true(fin >= 0 && fout >= 0 && ferr >= 0);
    unlink(pin);
    unlink(pout);
    unlink(perr);
    if (in_len > 0) {
        assert_int_equal(write(fin, in, in_len), (ssize_t)in_len);
    }
    lseek(fin, 0, SEEK_SET);
    char *argv[32];
    size_t n = 0;
    argv[n++] = (char *)g_cli;
    for (size_t i = 1; args[i] != NULL && n < 31; i++) {
        argv[n++] = (char *)args[i];
    }
    argv[n] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fin, 0);
        dup2(fout, 1);
        dup2(ferr, 2);
        execv(g_cli, argv);
        _exit(127);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    slurp(fout, r->out, sizeof(r->out));
    slurp(ferr, r->err, sizeof(r->err));
    close(fin);
    close(fout);
    close(ferr);
}

/* The first line of `src` (without its newline) into dst. */
static void first_line(const char *src, char *dst, size_t size)
{
    size_t n = strcspn(src, "\n");
    assert_true(n < size);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int group_setup(void **state)
{
    (void)state;
    g_cli = getenv("CONSTRA_CLI");
    if (g_cli == NULL || access(g_cli, X_OK) != 0) {
        fprintf(stderr, "CONSTRA_CLI is not set to the constra binary\n");
        return -1;
    }
    g_root = wh_load_vectors();
    return g_root ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    cJSON_Delete(g_root);
    return 0;
}

/* Builds the verify argv for a vector. */
static void vector_args(const wh_vector *v, const char **a, char *now, char *tol)
{
    size_t n = 0;
    a[n++] = "constra";
    a[n++] = "verify";
    a[n++] = "--scheme";
    a[n++] = v->scheme_name;
    a[n++] = "--secret";
    a[n++] = v->secret;
    a[n++] = "--signature";
    a[n++] = v->signature;
    if (v->scheme == CONSTRA_WEBHOOK_STANDARD) {
        a[n++] = "--id";
        a[n++] = v->msg_id;
        a[n++] = "--timestamp";
        a[n++] = v->timestamp;
    }
    if (v->has_now) {
        snprintf(now, 32, "%" PRId64, v->now);
        snprintf(tol, 32, "%" PRId64, v->tolerance);
        a[n++] = "--now";
        a[n++] = now;
        a[n++] = "--tolerance";
        a[n++] = tol;
    }
    a[n] = NULL;
}

static void test_cli_all_vectors(void **state)
{
    (void)state;
    int n = wh_vector_count(g_root);
    assert_int_equal(n, 192);
    static run_result r;
    for (int i = 0; i < n; i++) {
        wh_vector v;
        assert_int_equal(wh_vector_at(g_root, i, &v), 0);
        assert_true(v.expected_result >= 0);
        const char *args[24];
        char now[32], tol[32];
        vector_args(&v, args, now, tol);
        run(args, v.body, v.body_len, &r);
        if (v.valid) {
            if (r.status != 0 || strcmp(r.out, "valid\n") != 0) {
                fail_msg("vector %d (%s, %s): exit %d, stderr %s", i, v.scheme_name, v.reason,
                         r.status, r.err);
            }
        } else {
            const char *code = constra_webhook_result_name(v.expected_result);
            if (r.status != 1 || strstr(r.err, code) == NULL || r.out[0] != '\0') {
                fail_msg("vector %d (%s, %s): exit %d, want 1 with %s; stderr %s", i,
                         v.scheme_name, v.reason, r.status, code, r.err);
            }
        }
    }
}

static void test_cli_sign_vectors(void **state)
{
    (void)state;
    int n = wh_vector_count(g_root), checked = 0;
    static run_result r;
    for (int i = 0; i < n; i++) {
        wh_vector v;
        assert_int_equal(wh_vector_at(g_root, i, &v), 0);
        if (strcmp(v.reason, "ok") != 0) {
            continue;
        }
        char ts[32] = "";
        const char *args[16] = {"constra", "sign", "--scheme", v.scheme_name, "--secret",
                                v.secret};
        size_t k = 6;
        if (v.scheme == CONSTRA_WEBHOOK_T_V1) {
            int64_t t = 0;
            assert_int_equal(sscanf(v.header, "t=%" SCNd64, &t), 1);
            snprintf(ts, sizeof(ts), "%" PRId64, t);
            args[k++] = "--timestamp";
            args[k++] = ts;
        } else if (v.scheme == CONSTRA_WEBHOOK_STANDARD) {
            args[k++] = "--id";
            args[k++] = v.msg_id;
            args[k++] = "--timestamp";
            args[k++] = v.timestamp;
        }
        args[k] = NULL;
        run(args, v.body, v.body_len, &r);
        assert_int_equal(r.status, 0);
        char want[256];
        snprintf(want, sizeof(want), "%s\n", v.signature);
        assert_string_equal(r.out, want);
        checked++;
    }
    assert_int_equal(checked, 36);
}

/* A body with NUL bytes goes through stdin intact; --secret-env works;
 * sign's default timestamp is now, which verify's default now accepts. */
static void test_cli_round_trip(void **state)
{
    (void)state;
    static run_result r;
    const unsigned char body[] = {'{', 0, '}', 0, 0, 'x', '\n', 0xff};
    const char *schemes[] = {"t_v1", "body_hex", "standard_webhooks"};
    setenv("CONSTRA_TEST_WH_SECRET", "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", 1);
    for (size_t s = 0; s < 3; s++) {
        const char *sign[12] = {"constra", "sign", "--scheme", schemes[s], "--secret-env",
                                "CONSTRA_TEST_WH_SECRET"};
        const char *ver[16] = {"constra", "verify", "--scheme", schemes[s], "--secret-env",
                               "CONSTRA_TEST_WH_SECRET", "--signature"};
        char sig[256];
        char ts[32];
        int std = s == 2;
        if (std) {
            sign[6] = "--id";
            sign[7] = "msg_cli";
            sign[8] = "--timestamp";
            snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
            sign[9] = ts;
        }
        run(sign, body, sizeof(body), &r);
        assert_int_equal(r.status, 0);
        first_line(r.out, sig, sizeof(sig));
        ver[7] = sig;
        if (std) {
            ver[8] = "--id";
            ver[9] = "msg_cli";
            ver[10] = "--timestamp";
            ver[11] = ts;
        }
        run(ver, body, sizeof(body), &r);
        if (r.status != 0) {
            fail_msg("%s round trip: exit %d: %s", schemes[s], r.status, r.err);
        }
        assert_string_equal(r.out, "valid\n");
        /* Body cut at the first NUL: mismatch, exit 1. */
        run(ver, body, 1, &r);
        assert_int_equal(r.status, 1);
        assert_non_null(strstr(r.err, "signature_mismatch"));
    }
    /* An old t_v1 signature against the real clock: expired. */
    const char *old[] = {"constra", "verify", "--scheme", "t_v1", "--secret", "k", "--signature",
                         "t=1000,v1=0000000000000000000000000000000000000000000000000000000000000000",
                         NULL};
    const char *sign_old[] = {"constra", "sign", "--scheme", "t_v1", "--secret", "k",
                              "--timestamp", "1000", NULL};
    run(sign_old, "{}", 2, &r);
    assert_int_equal(r.status, 0);
    char sig[256];
    first_line(r.out, sig, sizeof(sig));
    old[7] = sig;
    run(old, "{}", 2, &r);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "signature_expired"));
    /* The same with a --now inside the window, and --tolerance. */
    const char *ok[] = {"constra", "verify", "--scheme", "t_v1", "--secret", "k", "--signature",
                        sig, "--now", "1010", "--tolerance", "10", NULL};
    run(ok, "{}", 2, &r);
    assert_int_equal(r.status, 0);
    ok[9] = "1011";
    run(ok, "{}", 2, &r);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "signature_expired"));
}

static void expect_usage(const char *const *args)
{
    static run_result r;
    run(args, "{}", 2, &r);
    if (r.status != 2 || r.err[0] == '\0' || r.out[0] != '\0') {
        fail_msg("%s %s ...: exit %d (want 2 with a message), stderr: %s", args[1],
                 args[2] ? args[2] : "", r.status, r.err);
    }
}

static void test_cli_usage(void **state)
{
    (void)state;
    const char *sig = "t=1,v1=0000000000000000000000000000000000000000000000000000000000000000";
    const char *c1[] = {"constra", "verify", NULL};
    const char *c2[] = {"constra", "verify", "--scheme", "t_v1", "--secret", "k", NULL};
    const char *c3[] = {"constra", "verify", "--scheme", "nope", "--secret", "k", "--signature",
                        sig, NULL};
    const char *c4[] = {"constra", "verify", "--scheme", "t_v1", "--signature", sig, NULL};
    const char *c5[] = {"constra", "verify", "--scheme", "t_v1", "--secret", "k", "--secret-env",
                        "X", "--signature", sig, NULL};
    const char *c6[] = {"constra", "verify", "--scheme", "t_v1", "--secret", "k", "--signature",
                        sig, "--now", "abc", NULL};
    const char *c7[] = {"constra", "verify", "--scheme", "t_v1", "--secret", "k", "--signature",
                        sig, "--tolerance", "-1", NULL};
    const char *c8[] = {"constra", "verify", "--scheme", "t_v1", "--secret", "k", "--signature",
                        sig, "--id", "msg_1", NULL};
    const char *c9[] = {"constra", "verify", "--scheme", "standard_webhooks", "--secret",
                        "whsec_AAAA", "--signature", "v1,x", "--timestamp", "1", NULL};
    const char *c10[] = {"constra", "verify", "--scheme", "standard_webhooks", "--secret",
                         "whsec_AAAA", "--signature", "v1,x", "--id", "m", NULL};
    const char *c11[] = {"constra", "verify", "--scheme", "t_v1", "--secret", "", "--signature",
                         sig, NULL}; /* empty secret: a configuration error */
    const char *c12[] = {"constra", "verify", "--scheme", "t_v1", "--scheme", "t_v1", "--secret",
                         "k", "--signature", sig, NULL};
    const char *c13[] = {"constra", "verify", "--scheme", "t_v1", "--secret", "k", "--signature",
                         NULL};
    const char *c14[] = {"constra", "verify", "--scheme", "t_v1", "--secret-env",
                         "CONSTRA_TEST_SURELY_UNSET_VAR", "--signature", sig, NULL};
    const char *c15[] = {"constra", "verify", "--bogus", NULL};
    const char *s1[] = {"constra", "sign", "--scheme", "t_v1", "--secret", "k", "--signature",
                        sig, NULL};
    const char *s2[] = {"constra", "sign", "--scheme", "t_v1", "--secret", "k", "--timestamp",
                        "-5", NULL};
    const char *s3[] = {"constra", "sign", "--scheme", "standard_webhooks", "--secret",
                        "whsec_AAAA", NULL};
    const char *s4[] = {"constra", "sign", "--scheme", "standard_webhooks", "--secret",
                        "not base64!", "--id", "m", NULL};
    const char *s5[] = {"constra", "sign", "--scheme", "body_hex", "--secret", "k",
                        "--timestamp", "5", NULL};
    const char *s6[] = {"constra", "sign", "--scheme", "standard_webhooks", "--secret",
                        "whsec_AAAA", "--id", "a.b", NULL};
    const char *s7[] = {"constra", "sign", "--scheme", "t_v1", "--secret", "k", "--now", "5",
                        NULL};
    const char *const *all[] = {c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14,
                                c15, s1, s2, s3, s4, s5, s6, s7};
    unsetenv("CONSTRA_TEST_SURELY_UNSET_VAR");
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        expect_usage(all[i]);
    }
    /* Help lists both commands. */
    static run_result r;
    const char *help[] = {"constra", "help", NULL};
    run(help, NULL, 0, &r);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "verify"));
    assert_non_null(strstr(r.out, "sign"));
    const char *help_v[] = {"constra", "help", "verify", NULL};
    run(help_v, NULL, 0, &r);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "usage: constra verify"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_all_vectors),
        cmocka_unit_test(test_cli_sign_vectors),
        cmocka_unit_test(test_cli_round_trip),
        cmocka_unit_test(test_cli_usage),
    };
    return cmocka_run_group_tests_name("cli_verify_sign", tests, group_setup, group_teardown);
}
