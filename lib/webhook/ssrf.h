/*
 * Internal: webhook URL rules and the SSRF guard (doc/DESIGN.md section 10).
 *
 * A webhook URL is refused, in every mode, unless it is http(s), has a
 * host, no userinfo ("user@"), no percent-escapes, backslashes, spaces or
 * control characters in its authority. In live mode it must also be
 * https, and the host must not be (or resolve to, through the resolver)
 * a private, loopback, link-local, metadata, unspecified, CGNAT,
 * multicast or reserved address. IPv4 literals are read the way
 * inet_aton() and browsers read them (1 to 4 parts, decimal, octal "0..."
 * or hex "0x..."), so "2130706433", "0177.0.0.1" and "0x7f.1" are all
 * 127.0.0.1; IPv6 literals that embed an IPv4 address (mapped ::ffff:,
 * compatible ::, NAT64 64:ff9b::, 6to4 2002::) are judged by it.
 */
#ifndef CONSTRA_WEBHOOK_SSRF_H
#define CONSTRA_WEBHOOK_SSRF_H

#include <stddef.h>
#include <stdint.h>

#include "constra/error.h"

#define CONSTRA__URL_MAX 2048

/* The resolver hook (constra_config.resolve): writes the numeric
 * addresses of `host` into out (NUL-terminated, separated by spaces);
 * returns 0, or non-zero when the name does not resolve. */
typedef int (*constra__resolve_fn)(void *ctx, const char *host, char *out, size_t out_size);

typedef struct constra__url {
    int https;
    char host[256]; /* lower-case; an IPv6 literal without its brackets */
    int ipv6_literal;
    int port;       /* 0 when absent */
} constra__url;

/* Splits and checks `url` (the rules of every mode). CONSTRA_OK or
 * CONSTRA_E_INVALID_ARGUMENT, code "url_invalid", param `param`. */
int constra__url_parse(const char *url, constra__url *out, const char *param, constra_error *err);

/* 1 when `host` is an IPv4 literal in any inet_aton form; fills out. */
int constra__ipv4_literal(const char *host, uint8_t out[4]);

/* 1 when `s` is an IPv6 address in RFC 4291 text form (no brackets, no
 * zone); fills out. The project's own parser: no inet_pton. */
int constra__ipv6_text(const char *s, uint8_t out[16]);

/* Why an address may not be a webhook target ("loopback", "private",
 * "link_local", "metadata", "unspecified", "cgnat", "multicast",
 * "reserved"), or NULL when it is public. family 4 (4 bytes) or 6 (16). */
const char *constra__ip_forbidden(int family, const uint8_t *addr);

/* The full check: parse, then in live mode https and the address rules,
 * resolving host names through `resolve` (NULL: getaddrinfo on POSIX
 * builds; on bare metal a host name is refused without a resolver) and
 * refusing if ANY address is forbidden or none is found. Errors:
 * CONSTRA_E_INVALID_ARGUMENT with code "url_invalid" or "url_forbidden". */
int constra__webhook_url_check(const char *url, int live, constra__resolve_fn resolve, void *ctx,
                               const char *param, constra_error *err);

/* The default resolver on POSIX builds: getaddrinfo() (resolve_posix.c,
 * compiled only with CONSTRA_HAVE_POSIX). */
int constra__resolve_default(void *ctx, const char *host, char *out, size_t out_size);

#endif
