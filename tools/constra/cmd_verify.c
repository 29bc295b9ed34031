/*
 * constra verify / constra sign — webhook signatures from the shell.
 *
 *   constra verify --scheme t_v1|body_hex|standard_webhooks
 *                  (--secret S | --secret-env VAR) --signature SIG
 *                  [--id ID --timestamp T] [--now UNIX] [--tolerance SECONDS]
 *                  < body
 *   constra sign   --scheme ... (--secret S | --secret-env VAR)
 *                  [--id ID] [--timestamp T] < body
 *
 * The body is read from standard input as raw bytes (NUL bytes included).
 * verify: exit 0 and "valid" on stdout; exit 1 and the reason on stderr
 * when the signature does not verify; exit 2 for usage and argument
 * errors (including an unusable secret). sign: prints the header value.
 * --secret-env reads the secret from an environment variable, which keeps
 * it out of the process list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <constra.h>

#include "cli.h"

/* Largest body read from standard input. */
#define BODY_MAX ((size_t)64 << 20)

typedef struct wh_opts {
    const char *scheme;
    const char *secret;
    const char *secret_env;
    const char *signature;
    const char *id;
    const char *timestamp;
    const char *now;
    const char *tolerance;
} wh_opts;

/* Parses the options both commands share; `verify` allows the verify-only
 * ones. Returns 0 or CLI_EXIT_USAGE (message printed). */
static int parse_opts(const char *cmd, int verify, int argc, char **argv, wh_opts *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (strcmp(a, "--scheme") == 0) {
            slot = &o->scheme;
        } else if (strcmp(a, "--secret") == 0) {
            slot = &o->secret;
        } else if (strcmp(a, "--secret-env") == 0) {
            slot = &o->secret_env;
        } else if (strcmp(a, "--id") == 0) {
            slot = &o->id;
        } else if (strcmp(a, "--timestamp") == 0) {
            slot = &o->timestamp;
        } else if (verify && strcmp(a, "--signature") == 0) {
            slot = &o->signature;
        } else if (verify && strcmp(a, "--now") == 0) {
            slot = &o->now;
        } else if (verify && strcmp(a, "--tolerance") == 0) {
            slot = &o->tolerance;
        } else {
            return cli_usage_error(cmd, "unknown option '%s'", a);
        }
        if (*slot != NULL) {
            return cli_usage_error(cmd, "%s given twice", a);
        }
        const char *v = cli_option_value(cmd, argc, argv, &i);
        if (v == NULL) {
            return CLI_EXIT_USAGE;
        }
        *slot = v;
    }
    if (o->scheme == NULL) {
        return cli_usage_error(cmd, "--scheme is required (t_v1, body_hex, standard_webhooks)");
    }
    if ((o->secret == NULL) == (o->secret_env == NULL)) {
        return cli_usage_error(cmd, "give exactly one of --secret and --secret-env");
    }
    if (o->secret_env != NULL) {
        o->secret = getenv(o->secret_env);
        if (o->secret == NULL) {
            return cli_usage_error(cmd, "environment variable %s is not set", o->secret_env);
        }
    }
    if (verify && o->signature == NULL) {
        return cli_usage_error(cmd, "--signature is required");
    }
    return 0;
}

/* Common setup: scheme, option applicability, body. */
static int prepare(const char *cmd, int verify, const wh_opts *o, constra_webhook_params *p,
                   unsigned char **body)
{
    constra_error err = CONSTRA_ERROR_INIT;
    int scheme = 0;
    if (constra_webhook_scheme_from_name(o->scheme, &scheme, &err) != CONSTRA_OK) {
        return cli_usage_error(cmd, "unknown scheme '%s' (t_v1, body_hex, standard_webhooks)",
                               o->scheme);
    }
    if (scheme == CONSTRA_WEBHOOK_STANDARD) {
        if (o->id == NULL) {
            return cli_usage_error(cmd, "--id is required for standard_webhooks");
        }
        if (verify && o->timestamp == NULL) {
            return cli_usage_error(cmd, "--timestamp is required for standard_webhooks");
        }
    } else if (o->id != NULL) {
        return cli_usage_error(cmd, "--id applies to standard_webhooks only");
    }
    if (o->timestamp != NULL && (scheme == CONSTRA_WEBHOOK_BODY_HEX ||
                                 (verify && scheme == CONSTRA_WEBHOOK_T_V1))) {
        return cli_usage_error(cmd, "--timestamp does not apply to %s %s",
                               verify ? "verifying" : "signing", o->scheme);
    }
    constra_webhook_params_init(p, sizeof(*p));
    p->scheme = scheme;
    p->secret = o->secret;
    p->msg_id = o->id;
    int64_t now = (int64_t)time(NULL);
    if (o->now != NULL && (cli_parse_int64(o->now, &now) != 0 || now < 0)) {
        return cli_usage_error(cmd, "--now must be unix seconds >= 0");
    }
    p->now = now;
    if (o->tolerance != NULL &&
        (cli_parse_int64(o->tolerance, &p->tolerance_s) != 0 || p->tolerance_s < 0)) {
        return cli_usage_error(cmd, "--tolerance must be seconds >= 0 (0 = 300)");
    }
    if (verify) {
        p->signature = o->signature;
        p->timestamp_header = o->timestamp; /* passed as text: the library parses it */
    } else {
        p->timestamp = now;
        if (o->timestamp != NULL && (cli_parse_int64(o->timestamp, &p->timestamp) != 0 ||
                                     p->timestamp < 0)) {
            return cli_usage_error(cmd, "--timestamp must be unix seconds >= 0");
        }
    }
    size_t len = 0;
    if (cli_read_stdin(body, &len, BODY_MAX) != 0) {
        return CLI_EXIT_USAGE;
    }
    p->body = *body;
    p->body_len = len;
    return 0;
}

int cmd_verify(int argc, char **argv);
int cmd_sign(int argc, char **argv);

int cmd_verify(int argc, char **argv)
{
    wh_opts o;
    int rc = parse_opts("verify", 1, argc, argv, &o);
    if (rc != 0) {
        return rc;
    }
    constra_webhook_params p;
    unsigned char *body = NULL;
    rc = prepare("verify", 1, &o, &p, &body);
    if (rc != 0) {
        return rc;
    }
    constra_error err = CONSTRA_ERROR_INIT;
    int reason = CONSTRA_WEBHOOK_INVALID_ARGUMENT;
    int st = constra_webhook_verify(&p, &reason, &err);
    free(body);
    if (st == CONSTRA_OK) {
        printf("valid\n");
        return CLI_EXIT_OK;
    }
    if (st == CONSTRA_E_SIGNATURE) {
        fprintf(stderr, "constra verify: invalid: %s: %s\n", constra_webhook_result_name(reason),
                err.message);
        return CLI_EXIT_NO;
    }
    if (err.param[0] != '\0') {
        return cli_usage_error("verify", "%s: %s (param %s)", err.code, err.message, err.param);
    }
    return cli_usage_error("verify", "%s: %s", err.code, err.message);
}

int cmd_sign(int argc, char **argv)
{
    wh_opts o;
    int rc = parse_opts("sign", 0, argc, argv, &o);
    if (rc != 0) {
        return rc;
    }
    constra_webhook_params p;
    unsigned char *body = NULL;
    rc = prepare("sign", 0, &o, &p, &body);
    if (rc != 0) {
        return rc;
    }
    constra_error err = CONSTRA_ERROR_INIT;
    char out[CONSTRA_WEBHOOK_SIGNATURE_SIZE];
    int st = constra_webhook_sign(&p, out, sizeof(out), &err);
    free(body);
    if (st != CONSTRA_OK) {
        return cli_usage_error("sign", "%s: %s", err.code, err.message);
    }
    printf("%s\n", out);
    return CLI_EXIT_OK;
}
