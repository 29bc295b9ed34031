/* Every public constra_*_init() under the one size rule (util/check.h's
 * constra__init_struct): NULL is INVALID_ARGUMENT; a struct_size below the
 * function's first version or above CONSTRA__STRUCT_SIZE_MAX is ABI with
 * nothing written; otherwise exactly struct_size bytes are written (the
 * struct_size member, defaults, zeros), never a byte past them, and a
 * caller from newer headers (a larger struct) gets its tail zeroed.
 * Run under ASan by the suite, so a write past the caller's struct fails.
 *
 *   test_inits          TAP, one line per function and check
 *   test_inits --list   the functions covered, one per line (the header
 *                       check, check_inits.py, compares it with the
 *                       public headers: a new _init must be added here)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <constra.h>

typedef int (*init_fn)(void *p, size_t struct_size);

typedef struct init_case {
    const char *name;
    init_fn fn;
    size_t size;
} init_case;

/* The public _init functions differ only in their pointer type. */
#define CASE(name, type) {#name, (init_fn)(void (*)(void))name, sizeof(type)}

static const init_case cases[] = {
    CASE(constra_api_request_init, constra_api_request),
    CASE(constra_config_init, constra_config),
    CASE(constra_curl_options_init, constra_curl_options),
    CASE(constra_daraja_b2c_result_init, constra_daraja_b2c_result),
    CASE(constra_daraja_c2b_init, constra_daraja_c2b),
    CASE(constra_daraja_config_init, constra_daraja_config),
    CASE(constra_daraja_emulator_options_init, constra_daraja_emulator_options),
    CASE(constra_daraja_error_envelope_init, constra_daraja_error_envelope),
    CASE(constra_daraja_oauth_response_init, constra_daraja_oauth_response),
    CASE(constra_daraja_stk_callback_init, constra_daraja_stk_callback),
    CASE(constra_daraja_stk_push_params_init, constra_daraja_stk_push_params),
    CASE(constra_daraja_stk_push_response_init, constra_daraja_stk_push_response),
    CASE(constra_daraja_stk_query_params_init, constra_daraja_stk_query_params),
    CASE(constra_daraja_stk_query_response_init, constra_daraja_stk_query_response),
    CASE(constra_error_init, constra_error),
    CASE(constra_instruction_init, constra_instruction),
    CASE(constra_intent_list_params_init, constra_intent_list_params),
    CASE(constra_intent_params_init, constra_intent_params),
    CASE(constra_platform_init, constra_platform),
    CASE(constra_rail_init, constra_rail),
    CASE(constra_remote_config_init, constra_remote_config),
    CASE(constra_storage_init, constra_storage),
    CASE(constra_result_info_init, constra_result_info),
    CASE(constra_sqlite_options_init, constra_sqlite_options),
    CASE(constra_storage_init, constra_storage),
    CASE(constra_transport_init, constra_transport),
    CASE(constra_transport_request_init, constra_transport_request),
    CASE(constra_webhook_endpoint_params_init, constra_webhook_endpoint_params),
    CASE(constra_webhook_params_init, constra_webhook_params),
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))
#define EXTRA 64
#define FILL 0xA5

static int n_tests, n_failed;

static void check(int ok, const char *fn, const char *what)
{
    n_tests++;
    if (!ok) {
        n_failed++;
    }
    printf("%s %d - %s: %s\n", ok ? "ok" : "not ok", n_tests, fn, what);
}

static int all(const unsigned char *p, size_t n, unsigned char v)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != v) {
            return 0;
        }
    }
    return 1;
}

static void run(const init_case *c)
{
    size_t n = c->size;
    /* Exactly as large as the caller's struct, for ASan to see overruns. */
    unsigned char *exact = malloc(n);
    unsigned char *exact2 = malloc(n);
    unsigned char *big = malloc(n + EXTRA);
    if (!exact || !exact2 || !big) {
        check(0, c->name, "memory");
        free(exact);
        free(exact2);
        free(big);
        return;
    }
    check(c->fn(NULL, n) == CONSTRA_E_INVALID_ARGUMENT, c->name, "NULL is INVALID_ARGUMENT");

    memset(exact, FILL, n);
    int rc = c->fn(exact, n);
    size_t got = 0;
    memcpy(&got, exact, sizeof(got));
    check(rc == CONSTRA_OK && got == n, c->name, "its own size: OK, struct_size recorded");
    memset(exact2, 0, n);
    c->fn(exact2, n);
    check(memcmp(exact, exact2, n) == 0, c->name,
          "every byte written (the same result over 0xA5 and over zeros)");

    memset(big, FILL, n + EXTRA);
    rc = c->fn(big, n + EXTRA);
    memcpy(&got, big, sizeof(got));
    check(rc == CONSTRA_OK && got == n + EXTRA && all(big + n, EXTRA, 0) &&
              memcmp(big + sizeof(size_t), exact + sizeof(size_t), n - sizeof(size_t)) == 0,
          c->name, "a newer caller's larger struct: OK, the same fields, its tail zeroed");

    memset(exact, FILL, n);
    rc = c->fn(exact, sizeof(size_t) - 1);
    check(rc == CONSTRA_E_ABI && all(exact, n, FILL), c->name,
          "smaller than a struct_size member: ABI, nothing written");
    rc = c->fn(exact, 0);
    check(rc == CONSTRA_E_ABI && all(exact, n, FILL), c->name, "0: ABI, nothing written");
    /* A garbage size must be refused before anything is written: a memset
     * of it would run far past the caller's struct (ASan would say so). */
    rc = c->fn(exact, (size_t)1 << 40);
    check(rc == CONSTRA_E_ABI && all(exact, n, FILL), c->name, "2^40: ABI, nothing written");
    rc = c->fn(exact, SIZE_MAX);
    check(rc == CONSTRA_E_ABI && all(exact, n, FILL), c->name, "SIZE_MAX: ABI, nothing written");
    free(exact);
    free(exact2);
    free(big);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < NCASES; i++) {
            puts(cases[i].name);
        }
        return 0;
    }
    for (size_t i = 0; i < NCASES; i++) {
        run(&cases[i]);
    }
    printf("1..%d\n", n_tests);
    return n_failed ? 1 : 0;
}
