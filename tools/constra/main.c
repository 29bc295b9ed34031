/*
 * constra — the libconstra command line.
 *
 *   constra version       the library's version and build features
 *   constra help [CMD]    what each command does
 *
 * Subcommands are added to the table below, one file each.
 */
#include <stdio.h>
#include <string.h>

#include <constra.h>

#include "cli.h"

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

/* Subcommands implemented in their own files. */
/* (declarations of cmd_<name> from other files go here) */
int cmd_decode(int argc, char **argv);
int cmd_phone(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_sign(int argc, char **argv);
#if defined(CONSTRA_CLI_SERVE)
int cmd_serve(int argc, char **argv);
#endif

const cli_command cli_commands[] = {
    {"version", cmd_version, "[--json]", "print the library version and build features"},
    {"help", cmd_help, "[COMMAND]", "show this help, or one command's"},
    /* (entries for further subcommands go here) */
    {"decode", cmd_decode, "CODE|--list [--api A] [--message T] [--json]",
     "explain an M-Pesa result/error code: class, recovery note (--list: all)"},
    {"phone", cmd_phone, "NUMBER [--safaricom]",
     "normalise a Kenyan number to 254XXXXXXXXX (exit 2 invalid, 1 not Safaricom)"},
    {"verify", cmd_verify,
     "--scheme S --secret K --signature SIG [--id ID --timestamp T] [--now T] [--tolerance S] < body",
     "verify a webhook signature (t_v1, body_hex, standard_webhooks); exit 0 valid, 1 invalid"},
    {"sign", cmd_sign, "--scheme S --secret K [--id ID] [--timestamp T] < body",
     "print the webhook signature header value for a body"},
#if defined(CONSTRA_CLI_SERVE)
    {"serve", cmd_serve,
     "[--host H] [--port P] [--db FILE|:memory:] [--secret-key K] [--rate-limit N] "
     "[--rate-burst N] [--access-log FILE|-|off] [--threads N] [--timeout S] [--sync-normal] "
     "[--callback-timeout S] [--public-url URL] "
     "[--rail sim|daraja [--rail-env sandbox|production] [--rail-url URL] "
     "[--rail-consumer-key K] [--rail-shortcode N]] "
     "[--emulate-daraja [--daraja-consumer-key K] [--daraja-consumer-secret S] "
     "[--daraja-result-delay-ms MS]]",
     "run the API (/api/v1, /v1) and the dashboard (/) over HTTP; a cs_live_ key needs "
     "--rail daraja (secrets from CONSTRA_RAIL_CONSUMER_SECRET, CONSTRA_RAIL_PASSKEY)"},
#endif
    {NULL, NULL, NULL, NULL},
};

static const cli_command *find_command(const char *name)
{
    for (const cli_command *c = cli_commands; c->name; c++) {
        if (strcmp(c->name, name) == 0) {
            return c;
        }
    }
    return NULL;
}

static int cmd_version(int argc, char **argv)
{
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else {
            return cli_usage_error("version", "unknown option '%s'", argv[i]);
        }
    }
    /* Everything printed comes from the loaded library, not from this
     * program's own headers: a CLI run against a newer libconstra.so
     * reports the newer version. */
    if (json) {
        printf("{\"version\":\"%s\",\"version_number\":%d,\"features\":\"%s\"}\n",
               constra_version(), constra_version_number(), constra_features());
    } else {
        const char *features = constra_features();
        printf("libconstra %s\nfeatures: %s\n", constra_version(),
               features[0] ? features : "(none)");
    }
    return CLI_EXIT_OK;
}

static void print_usage(FILE *out)
{
    fprintf(out, "usage: constra <command> [options]\n\ncommands:\n");
    for (const cli_command *c = cli_commands; c->name; c++) {
        fprintf(out, "  %s %s\n      %s\n", c->name, c->usage, c->summary);
    }
    fprintf(out, "\n'constra help COMMAND' shows one command.\n");
}

static int cmd_help(int argc, char **argv)
{
    if (argc > 2) {
        return cli_usage_error("help", "takes at most one command name");
    }
    if (argc == 2) {
        const cli_command *c = find_command(argv[1]);
        if (c == NULL) {
            return cli_usage_error("help", "unknown command '%s'", argv[1]);
        }
        printf("usage: constra %s %s\n\n%s\n", c->name, c->usage, c->summary);
        return CLI_EXIT_OK;
    }
    print_usage(stdout);
    return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        return cmd_help(1, argv + 1);
    }
    if (strcmp(name, "--version") == 0) {
        return cmd_version(1, argv + 1);
    }
    const cli_command *c = find_command(name);
    if (c == NULL) {
        fprintf(stderr, "constra: unknown command '%s'\n\n", name);
        print_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    return c->run(argc - 1, argv + 1);
}
