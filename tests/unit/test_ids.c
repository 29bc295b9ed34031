#include "testutil.h"

#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/ids.h"
#include "../test_error.h"

static int64_t fake_now = 1763900000000; /* driven clock */
static int64_t fake_clock(void *ud)
{
    (void)ud;
    return fake_now;
}

static constra_t *open_with_clock(void)
{
    constra_platform p = CONSTRA_PLATFORM_INIT;
    p.wall_time_ms = fake_clock;
    constra_config cfg = CONSTRA_CONFIG_INIT;
    cfg.platform = &p;
    constra_t *h = NULL;
    assert_int_equal(constra_open(&h, &cfg, NULL), CONSTRA_OK);
    return h;
}

static void test_format_and_parse(void **state)
{
    (void)state;
    constra_t *h = open_with_clock();
    char id[CONSTRA_ID_SIZE];
    assert_int_equal(constra_id_new(h, "pi", id, sizeof(id), T_ERR), CONSTRA_OK);
    assert_int_equal(strlen(id), 3 + CONSTRA_ID_BODY_LEN);
    assert_memory_equal(id, "pi_", 3);
    for (const char *c = id + 3; *c; c++) {
        assert_non_null(strchr("0123456789abcdefghjkmnpqrstvwxyz", *c));
    }
    int64_t ms = 0;
    assert_int_equal(constra_id_parse(id, "pi", &ms, NULL), CONSTRA_OK);
    assert_int_equal(ms, fake_now);
    assert_int_equal(constra_id_parse(id, NULL, NULL, NULL), CONSTRA_OK);
    constra_error err = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_id_parse(id, "evt", NULL, &err), CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.param, "id");

    /* Longest prefix fits CONSTRA_ID_SIZE exactly. */
    char big[CONSTRA_ID_SIZE];
    assert_int_equal(constra_id_new(h, "abcdefghijklmno", big, sizeof(big), T_ERR), CONSTRA_OK);
    assert_int_equal(strlen(big) + 1, CONSTRA_ID_SIZE);
    constra_close(h);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    constra_t *h = open_with_clock();
    char id[CONSTRA_ID_SIZE];
    constra_error err = CONSTRA_ERROR_INIT;
    const char *bad_prefixes[] = {"", "PI", "p1", "p_i", "abcdefghijklmnop", "pi "};
    for (size_t i = 0; i < sizeof(bad_prefixes) / sizeof(bad_prefixes[0]); i++) {
        assert_int_equal(constra_id_new(h, bad_prefixes[i], id, sizeof(id), T_ERR),
                         CONSTRA_E_INVALID_ARGUMENT);
        err = t_last_error();
        assert_string_equal(err.param, "prefix");
    }
    assert_int_equal(constra_id_new(h, NULL, id, sizeof(id), T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    assert_int_equal(constra_id_new(h, "pi", NULL, sizeof(id), T_ERR), CONSTRA_E_INVALID_ARGUMENT);
    err = t_last_error();
    assert_string_equal(err.param, "out");
    memset(id, 'x', sizeof(id));
    assert_int_equal(constra_id_new(h, "pi", id, 29, T_ERR), CONSTRA_E_BUFFER_TOO_SMALL);
    assert_int_equal(id[0], 'x'); /* untouched */
    assert_int_equal(constra_id_new(h, "pi", id, 30, T_ERR), CONSTRA_OK);
    assert_int_equal(constra_id_new(NULL, "pi", id, sizeof(id), T_ERR), CONSTRA_E_INVALID_ARGUMENT);

    /* A prefix that is not NUL-terminated within the bound. */
    char unterminated[64];
    memset(unterminated, 'a', sizeof(unterminated));
    assert_int_equal(constra_id_new(h, unterminated, id, sizeof(id), T_ERR),
                     CONSTRA_E_INVALID_ARGUMENT);
    constra_close(h);

    const char *bad_ids[] = {
        "", "pi", "pi_", "_01m83rye66e57k4dtr0h4dzsy3", "pi_01m83rye66e57k4dtr0h4dzsy",
        "pi_01m83rye66e57k4dtr0h4dzsy33", "pi_01m83rye66e57k4dtr0h4dzsyu", /* 'u' excluded */
        "pi_81m83rye66e57k4dtr0h4dzsy3",                                  /* > 48 bits */
        "PI_01m83rye66e57k4dtr0h4dzsy3", "pi-01m83rye66e57k4dtr0h4dzsy3",
        "pi_01M83RYE66E57K4DTR0H4DZSY3",
    };
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        assert_int_equal(constra_id_parse(bad_ids[i], NULL, NULL, &err),
                         CONSTRA_E_INVALID_ARGUMENT);
        /* One code for a malformed id, whichever call refuses it. */
        assert_true(strncmp(err.code, "parameter_invalid", 17) == 0);
    }
    assert_int_equal(constra_id_parse("pi_01m83rye66e57k4dtr0h4dzsy3", "evt", NULL, &err),
                     CONSTRA_E_INVALID_ARGUMENT);
    assert_string_equal(err.code, "parameter_invalid");
    assert_int_equal(constra_id_parse(NULL, NULL, NULL, &err), CONSTRA_E_INVALID_ARGUMENT);
    char long_id[256];
    memset(long_id, 'a', sizeof(long_id));
    assert_int_equal(constra_id_parse(long_id, NULL, NULL, &err), CONSTRA_E_INVALID_ARGUMENT);
}

/* Same millisecond, and a clock that steps back: still strictly rising. */
static void test_monotonic_under_driven_clock(void **state)
{
    (void)state;
    constra_t *h = open_with_clock();
    char prev[CONSTRA_ID_SIZE] = "";
    char id[CONSTRA_ID_SIZE];
    int64_t start = fake_now;
    for (int i = 0; i < 5000; i++) {
        if (i == 2000) {
            fake_now -= 60000; /* NTP step backwards by a minute */
        }
        if (i == 4000) {
            fake_now = start + 5;
        }
        assert_int_equal(constra_id_new(h, "evt", id, sizeof(id), T_ERR), CONSTRA_OK);
        assert_true(strcmp(prev, id) < 0);
        strcpy(prev, id);
    }
    int64_t ms;
    assert_int_equal(constra_id_parse(id, "evt", &ms, NULL), CONSTRA_OK);
    assert_int_equal(ms, start + 5);
    fake_now = start;
    constra_close(h);
}

/* Later milliseconds sort later, regardless of the random part. */
static void test_time_order(void **state)
{
    (void)state;
    constra__idgen g1 = {0}, g2 = {0};
    uint8_t hi[CONSTRA__ID_RAND_BYTES], lo[CONSTRA__ID_RAND_BYTES];
    memset(hi, 0xff, sizeof(hi));
    memset(lo, 0x00, sizeof(lo));
    char a[CONSTRA_ID_SIZE], b[CONSTRA_ID_SIZE];
    assert_int_equal(constra__id_next(&g1, 1000, hi, "pi", a, sizeof(a), NULL), CONSTRA_OK);
    assert_int_equal(constra__id_next(&g2, 1001, lo, "pi", b, sizeof(b), NULL), CONSTRA_OK);
    assert_true(strcmp(a, b) < 0);
    assert_string_equal(a, "pi_00000000z8zzzzzzzzzzzzzzzz");
    assert_string_equal(b, "pi_00000000z90000000000000000");

    /* Random part all ones in the same millisecond: moves to the next ms. */
    char c[CONSTRA_ID_SIZE];
    assert_int_equal(constra__id_next(&g1, 1000, lo, "pi", c, sizeof(c), NULL), CONSTRA_OK);
    assert_true(strcmp(a, c) < 0);
    int64_t ms;
    assert_int_equal(constra_id_parse(c, "pi", &ms, NULL), CONSTRA_OK);
    assert_int_equal(ms, 1001);

    /* Negative clock readings clamp to the epoch. */
    constra__idgen g3 = {0};
    assert_int_equal(constra__id_next(&g3, -5, lo, "pi", c, sizeof(c), NULL), CONSTRA_OK);
    assert_int_equal(constra_id_parse(c, "pi", &ms, NULL), CONSTRA_OK);
    assert_int_equal(ms, 0);
}

static int cmp_ids(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Several processes generating at full speed never collide. */
static void test_unique_across_processes(void **state)
{
    (void)state;
    enum { PROCS = 4, PER = 20000 };
    static char ids[PROCS * PER][CONSTRA_ID_SIZE];
    int pipes[PROCS][2];
    for (int p = 0; p < PROCS; p++) {
        assert_int_equal(pipe(pipes[p]), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(pipes[p][0]);
            constra_t *h = NULL;
            if (constra_open(&h, NULL, NULL) != CONSTRA_OK) {
                _exit(1);
            }
            FILE *out = fdopen(pipes[p][1], "w");
            char id[CONSTRA_ID_SIZE];
            for (int i = 0; i < PER; i++) {
                if (constra_id_new(h, "pi", id, sizeof(id), T_ERR) != CONSTRA_OK) {
                    _exit(2);
                }
                fprintf(out, "%s\n", id);
            }
            fclose(out);
            constra_close(h);
            _exit(0);
        }
        close(pipes[p][1]);
    }
    size_t n = 0;
    for (int p = 0; p < PROCS; p++) {
        FILE *in = fdopen(pipes[p][0], "r");
        char line[64];
        char prev[CONSTRA_ID_SIZE] = "";
        while (fgets(line, sizeof(line), in)) {
            line[strcspn(line, "\n")] = '\0';
            assert_true(strcmp(prev, line) < 0); /* per process: increasing */
            strcpy(prev, line);
            assert_true(n < PROCS * PER);
            strcpy(ids[n++], line);
        }
        fclose(in);
    }
    for (int p = 0; p < PROCS; p++) {
        int status;
        wait(&status);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    assert_int_equal(n, PROCS * PER);
    qsort(ids, n, sizeof(ids[0]), cmp_ids);
    for (size_t i = 1; i < n; i++) {
        assert_true(strcmp(ids[i - 1], ids[i]) != 0);
    }
}

/* Fails once *ud is non-zero; before that, fills with a fixed byte. */
static int fail_random(void *ud, uint8_t *buf, size_t len)
{
    if (*(int *)ud) {
        return -1;
    }
    memset(buf, 0x5a, len);
    return 0;
}

static void test_random_failure_reported(void **state)
{
    (void)state;
    int failing = 1;
    constra_platform p = CONSTRA_PLATFORM_INIT;
    p.random_bytes = fail_random;
    p.user_data = &failing;
    constra_config cfg = CONSTRA_CONFIG_INIT;
    cfg.platform = &p;
    constra_t *h = NULL;
    /* Open makes the storage's workspace id: without randomness it fails,
     * cleanly and saying why. */
    constra_error oerr = CONSTRA_ERROR_INIT;
    assert_int_equal(constra_open(&h, &cfg, &oerr), CONSTRA_E_PLATFORM);
    assert_null(h);
    assert_string_equal(oerr.param, "platform.random_bytes");
    failing = 0;
    assert_int_equal(constra_open(&h, &cfg, NULL), CONSTRA_OK);
    /* Ids come from a pool of random bytes drawn in blocks: once the
     * source fails, the pool runs dry within 25 ids and the next one
     * reports the failure, leaving `out` untouched. */
    failing = 1;
    char id[CONSTRA_ID_SIZE] = "unchanged";
    constra_error err = CONSTRA_ERROR_INIT;
    int rc = CONSTRA_OK;
    for (int i = 0; i < 26 && rc == CONSTRA_OK; i++) {
        strcpy(id, "unchanged");
        rc = constra_id_new(h, "pi", id, sizeof(id), &err);
    }
    assert_int_equal(rc, CONSTRA_E_PLATFORM);
    assert_string_equal(id, "unchanged");
    assert_int_equal(err.status, CONSTRA_E_PLATFORM);
    assert_string_equal(err.param, "platform.random_bytes");
    constra_close(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_and_parse),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_monotonic_under_driven_clock),
        cmocka_unit_test(test_time_order),
        cmocka_unit_test(test_unique_across_processes),
        cmocka_unit_test(test_random_failure_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
