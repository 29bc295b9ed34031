/*
 * constra decode — explain an M-Pesa result or error code.
 *
 *   constra decode CODE [--api auto|stk|b2c|c2b|sync] [--message TEXT] [--json]
 *   constra decode --list [--json]
 *
 * Prints the code, the API context it was read in, its outcome,
 * the recommended action and the recovery note. Unknown codes print
 * outcome review_required and "known: no" and still exit 0; exit 2 for
 * usage errors and malformed codes. --list prints the whole catalogue.
 */
#include <stdio.h>
#include <string.h>

#include <constra.h>

#include "cli.h"

/* Writes `s` as a JSON string literal. */
static void json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\') {
            printf("\\%c", *p);
        } else if (*p < 0x20) {
            printf("\\u%04x", *p);
        } else {
            putchar(*p);
        }
    }
    putchar('"');
}

static void print_json(const constra_result_info *info)
{
    printf("{\"code\":");
    json_string(info->code);
    printf(",\"api\":");
    json_string(constra_mpesa_api_name(info->api));
    /* "outcome" as the bindings name it; "class" kept for older readers. */
    printf(",\"known\":%s,\"outcome\":", info->known ? "true" : "false");
    json_string(constra_outcome_name(info->outcome));
    printf(",\"class\":");
    json_string(constra_outcome_name(info->outcome));
    printf(",\"recommended_action\":");
    json_string(info->recommended_action);
    printf(",\"retry_allowed\":%s,\"description\":", info->retry_allowed ? "true" : "false");
    json_string(info->description);
    printf(",\"recovery_note\":");
    json_string(info->recovery_note);
    printf(",\"message_match\":");
    json_string(info->message_match);
    putchar('}');
}

static void print_text(const constra_result_info *info)
{
    printf("code:        %s\n", info->code);
    printf("api:         %s\n", constra_mpesa_api_name(info->api));
    printf("known:       %s\n", info->known ? "yes" : "no");
    printf("outcome:     %s\n", constra_outcome_name(info->outcome));
    printf("action:      %s\n", info->recommended_action);
    printf("retry:       %s\n", info->retry_allowed ? "allowed" : "not allowed");
    if (info->message_match && info->message_match[0]) {
        printf("message:     contains \"%s\"\n", info->message_match);
    }
    printf("description: %s\n", info->description);
    printf("recovery:    %s\n", info->recovery_note);
}

static int list_catalogue(int json)
{
    size_t n = constra_mpesa_result_count();
    if (json) {
        putchar('[');
    }
    for (size_t i = 0; i < n; i++) {
        constra_result_info info = CONSTRA_RESULT_INFO_INIT;
        constra_error err = CONSTRA_ERROR_INIT;
        if (constra_mpesa_result_at(i, &info, &err) != CONSTRA_OK) {
            fprintf(stderr, "constra decode: %s\n", err.message);
            return CLI_EXIT_USAGE;
        }
        if (json) {
            if (i > 0) {
                putchar(',');
            }
            print_json(&info);
        } else {
            if (i > 0) {
                putchar('\n');
            }
            print_text(&info);
        }
    }
    if (json) {
        printf("]\n");
    }
    return CLI_EXIT_OK;
}

/* Declared in main.c too; repeated here for -Wmissing-prototypes. */
int cmd_decode(int argc, char **argv);

int cmd_decode(int argc, char **argv)
{
    const char *code = NULL;
    const char *api_name = "auto";
    const char *message = NULL;
    int json = 0;
    int list = 0;
    int options_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!options_done && strcmp(a, "--json") == 0) {
            json = 1;
        } else if (!options_done && strcmp(a, "--list") == 0) {
            list = 1;
        } else if (!options_done && strcmp(a, "--api") == 0) {
            if ((api_name = cli_option_value("decode", argc, argv, &i)) == NULL) {
                return CLI_EXIT_USAGE;
            }
        } else if (!options_done && strcmp(a, "--message") == 0) {
            if ((message = cli_option_value("decode", argc, argv, &i)) == NULL) {
                return CLI_EXIT_USAGE;
            }
        } else if (!options_done && strcmp(a, "--") == 0) {
            options_done = 1;
        } else if (!options_done && a[0] == '-' && a[1] == '-') {
            return cli_usage_error("decode", "unknown option '%s'", a);
        } else if (code != NULL) {
            return cli_usage_error("decode", "takes one CODE, got '%s' too", a);
        } else {
            code = a;
        }
    }
    if (list) {
        if (code != NULL || message != NULL) {
            return cli_usage_error("decode", "--list takes no CODE or --message");
        }
        return list_catalogue(json);
    }
    if (code == NULL) {
        return cli_usage_error("decode", "needs a CODE (e.g. 1032, SFC_IC0003, 500.001.1001)");
    }
    constra_error err = CONSTRA_ERROR_INIT;
    int api = 0;
    if (constra_mpesa_api_parse(api_name, &api, &err) != CONSTRA_OK) {
        return cli_usage_error("decode", "--api: %s", err.message);
    }
    constra_result_info info = CONSTRA_RESULT_INFO_INIT;
    if (constra_mpesa_result_lookup(code, CONSTRA_MPESA_CODE_NTS, api, message, &info, &err) !=
        CONSTRA_OK) {
        return cli_usage_error("decode", "%s", err.message);
    }
    if (json) {
        print_json(&info);
        putchar('\n');
    } else {
        print_text(&info);
    }
    return CLI_EXIT_OK;
}
