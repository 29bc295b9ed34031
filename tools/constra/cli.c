#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "constra%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_EXIT_USAGE;
}

int cli_read_stdin(unsigned char **out, size_t *len, size_t max)
{
    size_t cap = 4096;
    size_t n = 0;
    unsigned char *buf = malloc(cap + 1);
    if (buf == NULL) {
        fprintf(stderr, "constra: out of memory\n");
        return -1;
    }
    for (;;) {
        if (n == cap) {
            if (cap >= max) {
                free(buf);
                fprintf(stderr, "constra: input larger than %zu bytes\n", max);
                return -1;
            }
            size_t ncap = cap * 2 > max ? max : cap * 2;
            unsigned char *nbuf = realloc(buf, ncap + 1);
            if (nbuf == NULL) {
                free(buf);
                fprintf(stderr, "constra: out of memory\n");
                return -1;
            }
            buf = nbuf;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, stdin);
        n += got;
        if (got == 0) {
            if (ferror(stdin)) {
                free(buf);
                fprintf(stderr, "constra: cannot read standard input\n");
                return -1;
            }
            break;
        }
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

int cli_parse_int64(const char *text, int64_t *out)
{
    if (text == NULL || *text == '\0') {
        return -1;
    }
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0') {
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

const char *cli_option_value(const char *cmd, int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        cli_usage_error(cmd, "%s needs a value", argv[*i]);
        return NULL;
    }
    *i += 1;
    return argv[*i];
}
