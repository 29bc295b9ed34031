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
extern const cli_option serve_options_table[];
extern const char serve_notes[];
#endif

static const cli_option version_options[] = {
    {"--json", NULL, NULL, "Print one JSON object: version, version_number, features."},
    {NULL, NULL, NULL, NULL},
};

static const cli_option decode_options[] = {
    {"--list", NULL, NULL, "Print the whole catalogue of known codes instead of one."},
    {"--api", "A", "auto", "The API the code came from: auto, stk, b2c, c2b or sync (the "
                           "same number can mean different things per API)."},
    {"--message", "T", NULL, "The ResultDesc that came with the code, to refine the reading."},
    {"--json", NULL, NULL, "Print JSON instead of text."},
    {NULL, NULL, NULL, NULL},
};

static const cli_option phone_options[] = {
    {"--safaricom", NULL, NULL, "Also require a Safaricom number (exit 1 for another "
                                "network's valid number)."},
    {NULL, NULL, NULL, NULL},
};

static const cli_option verify_options[] = {
    {"--scheme", "S", NULL, "t_v1, body_hex or standard_webhooks."},
    {"--secret", "K", NULL, "The signing secret (visible in the process list: prefer "
                            "--secret-env)."},
    {"--secret-env", "VAR", NULL, "Read the signing secret from this environment variable."},
    {"--signature", "SIG", NULL, "The signature header's value."},
    {"--id", "ID", NULL, "The message id (standard_webhooks)."},
    {"--timestamp", "T", NULL, "The signed timestamp, Unix seconds (standard_webhooks)."},
    {"--now", "T", "the clock", "The time to check the tolerance against, Unix seconds."},
    {"--tolerance", "S", "300", "Largest accepted age of the timestamp, seconds."},
    {NULL, NULL, NULL, NULL},
};

static const cli_option sign_options[] = {
    {"--scheme", "S", NULL, "t_v1, body_hex or standard_webhooks."},
    {"--secret", "K", NULL, "The signing secret (prefer --secret-env)."},
    {"--secret-env", "VAR", NULL, "Read the signing secret from this environment variable."},
    {"--id", "ID", NULL, "The message id (standard_webhooks)."},
    {"--timestamp", "T", "now", "The timestamp to sign, Unix seconds."},
    {NULL, NULL, NULL, NULL},
};

const cli_command cli_commands[] = {
    {"version", cmd_version, "[--json]", "print the library version and build features",
     version_options, NULL},
    {"help", cmd_help, "[COMMAND | --man]",
     "show this help, or one command's (--man: the constra(1) man page, roff)", NULL, NULL},
    /* (entries for further subcommands go here) */
    {"decode", cmd_decode, "CODE|--list [--api A] [--message T] [--json]",
     "explain an M-Pesa result/error code: outcome, recovery note (--list: all)", decode_options,
     "Exit status: 0 for every well-formed code (an unknown one reads as review_required), "
     "2 for usage errors and malformed codes."},
    {"phone", cmd_phone, "NUMBER [--safaricom]",
     "normalise a Kenyan number to 254XXXXXXXXX (exit 2 invalid, 1 not Safaricom)",
     phone_options, NULL},
    {"verify", cmd_verify,
     "--scheme S --secret K --signature SIG [--id ID --timestamp T] [--now T] [--tolerance S] < body",
     "verify a webhook signature (t_v1, body_hex, standard_webhooks); exit 0 valid, 1 invalid",
     verify_options,
     "The body is read from standard input as raw bytes. Exit status: 0 valid, 1 invalid "
     "(the reason on stderr), 2 usage errors."},
    {"sign", cmd_sign, "--scheme S --secret K [--id ID] [--timestamp T] < body",
     "print the webhook signature header value for a body", sign_options, NULL},
#if defined(CONSTRA_CLI_SERVE)
    {"serve", cmd_serve, "[OPTIONS]",
     "run the API (/api/v1, /v1) and the dashboard (/) over HTTP; a cs_live_ key needs "
     "--rail daraja (secrets from CONSTRA_RAIL_CONSUMER_SECRET, CONSTRA_RAIL_PASSKEY)",
     serve_options_table, serve_notes},
#endif
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

const cli_command *cli_find_command(const char *name)
{
    for (const cli_command *c = cli_commands; c->name; c++) {
        if (strcmp(c->name, name) == 0) {
            return c;
        }
    }
    return NULL;
}

/* Writes `text` wrapped at 78 columns, each line indented by `indent`. */
static void put_wrapped(FILE *out, const char *text, int indent)
{
    int col = 0;
    const char *p = text;
    while (*p) {
        while (*p == ' ') {
            p++;
        }
        size_t w = strcspn(p, " ");
        if (w == 0) {
            break;
        }
        if (col > indent && col + 1 + (int)w > 78) {
            fputc('\n', out);
            col = 0;
        }
        if (col == 0) {
            fprintf(out, "%*s", indent, "");
            col = indent;
        } else {
            fputc(' ', out);
            col++;
        }
        fwrite(p, 1, w, out);
        col += (int)w;
        p += w;
    }
    if (col > 0) {
        fputc('\n', out);
    }
}

void cli_print_help(const cli_command *c, FILE *out)
{
    fprintf(out, "usage: constra %s %s\n\n", c->name, c->usage);
    put_wrapped(out, c->summary, 0);
    if (c->options != NULL) {
        fprintf(out, "\noptions:\n");
        for (const cli_option *o = c->options; o->name; o++) {
            fprintf(out, "  %s%s%s\n", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
            put_wrapped(out, o->help, 6);
            if (o->fallback != NULL) {
                fprintf(out, "      (default: %s)\n", o->fallback);
            }
        }
        fprintf(out, "  --help, -h\n      Print this help and exit.\n");
    }
    if (c->notes != NULL) {
        fputc('\n', out);
        /* Paragraphs are separated by "\n" in the notes. */
        const char *p = c->notes;
        while (*p) {
            size_t n = strcspn(p, "\n");
            char para[1024];
            snprintf(para, sizeof(para), "%.*s", (int)(n < sizeof(para) - 1 ? n : sizeof(para) - 1), p);
            put_wrapped(out, para, 0);
            p += n;
            if (*p == '\n') {
                p++;
                if (*p) {
                    fputc('\n', out);
                }
            }
        }
    }
}

/* roff text: a leading '.' or '\'' would be a request, '\\' an escape,
 * '-' a hyphen (options want the minus sign). */
static void put_roff(FILE *out, const char *text)
{
    if (*text == '.' || *text == '\'') {
        fputs("\\&", out);
    }
    for (const char *p = text; *p; p++) {
        if (*p == '\\') {
            fputs("\\e", out);
        } else if (*p == '-') {
            fputs("\\-", out);
        } else if (*p == '\n') {
            fputs("\n.PP\n", out);
        } else {
            fputc(*p, out);
        }
    }
}

/* constra(1), from the same tables as the help: meson runs
 * 'constra help --man' at build time and installs its output. */
static void print_man(FILE *out)
{
    fprintf(out, ".TH CONSTRA 1 \"\" \"libconstra %s\" \"User Commands\"\n", constra_version());
    fprintf(out, ".SH NAME\nconstra \\- payment operations on mobile\\-money rails "
                 "(M\\-Pesa) from the command line\n");
    fprintf(out, ".SH SYNOPSIS\n.B constra\n.I command\n[\\fIoptions\\fR]\n");
    fprintf(out, ".SH DESCRIPTION\nThe command line of libconstra. Every command takes "
                 "\\fB\\-\\-help\\fR. Exit status: 0 success, 1 a negative answer, 2 a usage "
                 "or input error.\n");
    fprintf(out, ".SH COMMANDS\n");
    for (const cli_command *c = cli_commands; c->name; c++) {
        fprintf(out, ".SS \"constra %s ", c->name);
        put_roff(out, c->usage);
        fprintf(out, "\"\n");
        put_roff(out, c->summary);
        fputc('\n', out);
        if (c->options != NULL) {
            for (const cli_option *o = c->options; o->name; o++) {
                fprintf(out, ".TP\n.B ");
                put_roff(out, o->name);
                if (o->arg) {
                    fprintf(out, " \\fI");
                    put_roff(out, o->arg);
                    fprintf(out, "\\fR");
                }
                fputc('\n', out);
                put_roff(out, o->help);
                if (o->fallback) {
                    fprintf(out, " Default: ");
                    put_roff(out, o->fallback);
                    fputc('.', out);
                }
                fputc('\n', out);
            }
        }
        if (c->notes != NULL) {
            fprintf(out, ".PP\n");
            put_roff(out, c->notes);
            fputc('\n', out);
        }
    }
    fprintf(out, ".SH SEE ALSO\nThe README and doc/ of libconstra.\n");
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
    if (argc == 2 && strcmp(argv[1], "--man") == 0) {
        print_man(stdout);
        return CLI_EXIT_OK;
    }
    if (argc == 2) {
        const cli_command *c = cli_find_command(argv[1]);
        if (c == NULL) {
            return cli_usage_error("help", "unknown command '%s'", argv[1]);
        }
        cli_print_help(c, stdout);
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
    const cli_command *c = cli_find_command(name);
    if (c == NULL) {
        fprintf(stderr, "constra: unknown command '%s'\n\n", name);
        print_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    /* 'constra CMD --help' (or -h) for every command, before its own
     * parser sees it. */
    if (argc >= 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
        cli_print_help(c, stdout);
        return CLI_EXIT_OK;
    }
    return c->run(argc - 1, argv + 1);
}
