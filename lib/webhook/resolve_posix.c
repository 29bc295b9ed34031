/*
 * The POSIX resolver for the SSRF guard (ssrf.h): getaddrinfo(), addresses
 * printed as numbers for the guard to judge. Compiled only where the
 * build's host system has POSIX sockets (CONSTRA_HAVE_POSIX); bare-metal
 * hosts pass their own resolver (constra_config.resolve) or none.
 */
#define _POSIX_C_SOURCE 200809L /* getaddrinfo */

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "webhook/ssrf.h"

int constra__resolve_default(void *ctx, const char *host, char *out, size_t out_size)
{
    (void)ctx;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL) {
        return -1;
    }
    size_t used = 0;
    int rc = 0;
    out[0] = '\0';
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        char text[INET6_ADDRSTRLEN];
        const void *src = NULL;
        if (ai->ai_family == AF_INET) {
            src = &((const struct sockaddr_in *)(const void *)ai->ai_addr)->sin_addr;
        } else if (ai->ai_family == AF_INET6) {
            src = &((const struct sockaddr_in6 *)(const void *)ai->ai_addr)->sin6_addr;
        } else {
            continue;
        }
        if (inet_ntop(ai->ai_family, src, text, sizeof(text)) == NULL) {
            continue;
        }
        size_t n = strlen(text);
        if (used + n + 2 > out_size) {
            rc = -1; /* more addresses than we can judge: refuse */
            break;
        }
        memcpy(out + used, text, n);
        used += n;
        out[used++] = ' ';
        out[used] = '\0';
    }
    freeaddrinfo(res);
    return rc;
}
