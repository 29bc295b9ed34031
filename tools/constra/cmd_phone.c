/*
 * constra phone — normalise a Kenyan phone number for Daraja.
 *
 *   constra phone NUMBER [--safaricom]
 *
 * Prints the number as 254XXXXXXXXX and exits 0. An invalid number exits
 * 2 with the reason (message and machine code) on stderr. With
 * --safaricom, a valid number outside Safaricom's ranges exits 1 with the
 * reason on stderr and prints nothing on stdout.
 */
#include <stdio.h>
#include <string.h>

#include <constra.h>

#include "cli.h"

/* Declared in main.c too; repeated here for -Wmissing-prototypes. */
int cmd_phone(int argc, char **argv);

int cmd_phone(int argc, char **argv)
{
    const char *number = NULL;
    int safaricom = 0;
    int options_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!options_done && strcmp(a, "--safaricom") == 0) {
            safaricom = 1;
        } else if (!options_done && strcmp(a, "--") == 0) {
            options_done = 1;
        } else if (!options_done && a[0] == '-' && a[1] == '-') {
            return cli_usage_error("phone", "unknown option '%s'", a);
        } else if (number != NULL) {
            return cli_usage_error("phone", "takes one NUMBER (quote it if it has spaces)");
        } else {
            number = a;
        }
    }
    if (number == NULL) {
        return cli_usage_error("phone", "needs a NUMBER (e.g. 0712345678)");
    }
    char out[CONSTRA_MSISDN_SIZE];
    constra_error err = CONSTRA_ERROR_INIT;
    if (constra_msisdn_normalize(number, CONSTRA_MSISDN_INPUT_MAX, out, sizeof(out), &err) !=
        CONSTRA_OK) {
        return cli_usage_error("phone", "%s (%s)", err.message, err.code);
    }
    if (safaricom && constra_msisdn_is_safaricom(out, &err) != CONSTRA_OK) {
        fprintf(stderr, "constra phone: %s (%s)\n", err.message, err.code);
        return CLI_EXIT_NO;
    }
    printf("%s\n", out);
    return CLI_EXIT_OK;
}
