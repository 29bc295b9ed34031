/*
 * The constra command: shared helpers for subcommands.
 *
 * A subcommand is `int cmd_<name>(int argc, char **argv)` where argv[0] is
 * the subcommand's own name. Exit codes: 0 success, 1 a negative answer
 * (e.g. a signature that does not verify), 2 usage or input error. The
 * CLI uses only the public API (<constra.h>), like any other program.
 */
#ifndef CONSTRA_CLI_H
#define CONSTRA_CLI_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#define CLI_EXIT_OK 0
#define CLI_EXIT_NO 1
#define CLI_EXIT_USAGE 2

/* One option of a command, as its --help, 'constra help CMD' and the
 * constra.1 man page show it (all three are printed from these tables). */
typedef struct cli_option {
    const char *name;     /* "--port"; NULL ends a table */
    const char *arg;      /* "P", or NULL for a flag */
    const char *fallback; /* the default, in words; NULL: none */
    const char *help;     /* what it does, one or more sentences */
} cli_option;

typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;   /* one line: arguments after the name */
    const char *summary; /* one line: what it does */
    const cli_option *options; /* NULL: none beyond the usage line */
    const char *notes;   /* NULL, or paragraphs (environment, exit codes) */
} cli_command;

/* Prints a command's whole help (usage, summary, options, notes) to
 * out. Used by 'constra help CMD' and by 'constra CMD --help'. */
void cli_print_help(const cli_command *c, FILE *out);
/* The command of that name in cli_commands, or NULL. */
const cli_command *cli_find_command(const char *name);

/* The table in main.c, terminated by a zeroed entry. */
extern const cli_command cli_commands[];

/* Prints "constra: <message>" to stderr and returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Reads all of stdin into a malloc'd buffer (NUL-terminated for
 * convenience; *len excludes the NUL). Refuses more than max bytes.
 * Returns 0, or -1 with a message on stderr. */
int cli_read_stdin(unsigned char **out, size_t *len, size_t max);

/* Parses a decimal int64 (optional '-'); returns 0 or -1. */
int cli_parse_int64(const char *text, int64_t *out);

/* argv[i] == "--name": returns its value argv[i+1] and advances *i, or
 * prints a usage error and returns NULL when the value is missing. */
const char *cli_option_value(const char *cmd, int argc, char **argv, int *i);

#endif /* CONSTRA_CLI_H */
