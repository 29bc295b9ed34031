/*
 * Webhook URL rules and the SSRF guard (ssrf.h). Parsing and address
 * classification are pure and the project's own (no inet_pton: bare-metal
 * C libraries have none); the only I/O is name resolution, through the
 * host's hook or, on POSIX builds, constra__resolve_default()
 * (resolve_posix.c).
 */
#include "constra_config.h"

#include <string.h>

#include "util/ascii.h"
#include "util/check.h"
#include "webhook/ssrf.h"

static int url_fail(constra_error *err, const char *param, const char *why)
{
    return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "url_invalid", param,
                         "webhook URL refused: %s", why);
}

int constra__url_parse(const char *url, constra__url *out, const char *param, constra_error *err)
{
    size_t len;
    int rc = constra__check_str(url, CONSTRA__URL_MAX, 0, param, &len, err);
    if (rc != CONSTRA_OK) {
        return rc;
    }
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c >= 0x7f || c == '\\') {
            return url_fail(err, param, "spaces, control characters, backslashes and non-ASCII "
                                        "bytes are not allowed");
        }
    }
    const char *p;
    if (len >= 8 && constra__ascii_ncaseeq(url, "https://", 8)) {
        out->https = 1;
        p = url + 8;
    } else if (len >= 7 && constra__ascii_ncaseeq(url, "http://", 7)) {
        p = url + 7;
    } else {
        return url_fail(err, param, "the scheme must be https:// (or http:// in sandbox)");
    }
    size_t alen = strcspn(p, "/?#");
    const char *host = p;
    size_t hlen = alen;
    if (memchr(p, '@', alen) != NULL) {
        return url_fail(err, param, "credentials (user@) in the URL are not allowed");
    }
    if (memchr(p, '%', alen) != NULL) {
        return url_fail(err, param, "percent-escapes in the host are not allowed");
    }
    const char *port = NULL;
    if (alen > 0 && p[0] == '[') {
        const char *close = memchr(p, ']', alen);
        if (close == NULL) {
            return url_fail(err, param, "unterminated IPv6 literal");
        }
        host = p + 1;
        hlen = (size_t)(close - host);
        out->ipv6_literal = 1;
        if (close + 1 < p + alen) {
            if (close[1] != ':') {
                return url_fail(err, param, "junk after the IPv6 literal");
            }
            port = close + 2;
        }
    } else {
        const char *colon = memchr(p, ':', alen);
        if (colon) {
            hlen = (size_t)(colon - p);
            port = colon + 1;
        }
    }
    if (port) {
        size_t plen = (size_t)(p + alen - port);
        long v = 0;
        if (plen == 0 || plen > 5) {
            return url_fail(err, param, "bad port");
        }
        for (size_t i = 0; i < plen; i++) {
            if (port[i] < '0' || port[i] > '9') {
                return url_fail(err, param, "bad port");
            }
            v = v * 10 + (port[i] - '0');
        }
        if (v < 1 || v > 65535) {
            return url_fail(err, param, "bad port");
        }
        out->port = (int)v;
    }
    if (hlen == 0 || hlen >= sizeof(out->host)) {
        return url_fail(err, param, "the host is empty or too long");
    }
    for (size_t i = 0; i < hlen; i++) {
        int c = constra__ascii_lower((unsigned char)host[i]);
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                 (out->ipv6_literal && c == ':') || (!out->ipv6_literal && c == '_');
        if (!ok) {
            return url_fail(err, param, "the host has characters a host name cannot have");
        }
        out->host[i] = (char)c;
    }
    out->host[hlen] = '\0';
    return CONSTRA_OK;
}

/* One inet_aton part: decimal, octal (leading 0) or hex (0x); -1 if bad. */
static int64_t aton_part(const char *s, size_t n)
{
    int base = 10;
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
        n -= 2;
        if (n == 0) {
            return 0; /* "0x" alone is 0 to inet_aton */
        }
    } else if (n >= 2 && s[0] == '0') {
        base = 8;
        s++;
        n--;
    }
    if (n == 0 || n > 12) {
        return -1;
    }
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        int c = constra__ascii_lower((unsigned char)s[i]), d;
        if (c >= '0' && c <= '9') {
            d = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            d = c - 'a' + 10;
        } else {
            return -1;
        }
        if (d >= base) {
            return -1;
        }
        v = v * base + d;
        if (v > 0xffffffffLL) {
            return -1;
        }
    }
    return v;
}

int constra__ipv4_literal(const char *host, uint8_t out[4])
{
    int64_t part[4];
    size_t count = 0;
    const char *s = host;
    size_t total = strlen(host);
    if (total > 0 && host[total - 1] == '.') {
        total--; /* "127.0.0.1." is the same host */
    }
    const char *end = host + total;
    while (s <= end) {
        const char *dot = memchr(s, '.', (size_t)(end - s));
        size_t n = dot ? (size_t)(dot - s) : (size_t)(end - s);
        if (count == 4) {
            return 0;
        }
        int64_t v = aton_part(s, n);
        if (v < 0) {
            return 0;
        }
        part[count++] = v;
        if (!dot) {
            break;
        }
        s = dot + 1;
    }
    if (count == 0) {
        return 0;
    }
    uint32_t addr = 0;
    for (size_t i = 0; i + 1 < count; i++) {
        if (part[i] > 255) {
            return 0;
        }
        addr |= (uint32_t)part[i] << (24 - 8 * i);
    }
    /* The last part fills the remaining bytes. */
    int64_t last = part[count - 1];
    int64_t room = count == 1 ? 0xffffffffLL : (1LL << (8 * (5 - count))) - 1;
    if (last > room) {
        return 0;
    }
    addr |= (uint32_t)last;
    out[0] = (uint8_t)(addr >> 24);
    out[1] = (uint8_t)(addr >> 16);
    out[2] = (uint8_t)(addr >> 8);
    out[3] = (uint8_t)addr;
    return 1;
}

static const char *v4_forbidden(const uint8_t *a)
{
    if (a[0] == 169 && a[1] == 254 && a[2] == 169 && a[3] == 254) {
        return "metadata";
    }
    if (a[0] == 0) {
        return "unspecified"; /* 0.0.0.0/8: "this host" */
    }
    if (a[0] == 127) {
        return "loopback";
    }
    if (a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168)) {
        return "private";
    }
    if (a[0] == 169 && a[1] == 254) {
        return "link_local";
    }
    if (a[0] == 100 && (a[1] & 0xc0) == 64) {
        return "cgnat";
    }
    if (a[0] >= 224 && a[0] <= 239) {
        return "multicast";
    }
    if (a[0] >= 240 || (a[0] == 192 && a[1] == 0 && a[2] == 0) ||
        (a[0] == 198 && (a[1] & 0xfe) == 18)) {
        return "reserved"; /* 240/4 + broadcast, 192.0.0/24, 198.18/15 */
    }
    return NULL;
}

const char *constra__ip_forbidden(int family, const uint8_t *a)
{
    if (family == 4) {
        return v4_forbidden(a);
    }
    static const uint8_t metadata6[16] = {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0,
                                          0,    0,    0,    0,    0, 0, 0x02, 0x54};
    if (memcmp(a, metadata6, 16) == 0) {
        return "metadata";
    }
    int zero10 = 1;
    for (int i = 0; i < 10; i++) {
        zero10 &= a[i] == 0;
    }
    if (zero10 && a[10] == 0 && a[11] == 0) {
        int zero_tail = a[12] == 0 && a[13] == 0 && a[14] == 0;
        if (zero_tail && a[15] == 0) {
            return "unspecified";
        }
        if (zero_tail && a[15] == 1) {
            return "loopback";
        }
        return v4_forbidden(a + 12) ? v4_forbidden(a + 12) : "reserved"; /* ::a.b.c.d */
    }
    if (zero10 && a[10] == 0xff && a[11] == 0xff) {
        const char *why = v4_forbidden(a + 12); /* ::ffff:a.b.c.d */
        return why;
    }
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (memcmp(a, nat64, 12) == 0) {
        return v4_forbidden(a + 12);
    }
    if (a[0] == 0x20 && a[1] == 0x02) {
        return v4_forbidden(a + 2); /* 6to4 2002:AABB:CCDD:: */
    }
    if ((a[0] & 0xfe) == 0xfc) {
        return "private"; /* fc00::/7 */
    }
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) {
        return "link_local"; /* fe80::/10 */
    }
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0) {
        return "private"; /* fec0::/10, deprecated site-local */
    }
    if (a[0] == 0xff) {
        return "multicast";
    }
    return NULL;
}

static int forbidden(constra_error *err, const char *param, const char *host, const char *why)
{
    return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "url_forbidden", param,
                         "webhook URL refused in live mode: %s resolves to a %s address", host,
                         why);
}

/* 1 when the host's last label is numeric: such a host is an IPv4
 * literal to a URL parser, never a name, so an unparsable one is refused
 * rather than handed to a resolver that might read it some other way. */
static int ends_in_number(const char *host)
{
    size_t n = strlen(host);
    if (n > 0 && host[n - 1] == '.') {
        n--;
    }
    size_t start = n;
    while (start > 0 && host[start - 1] != '.') {
        start--;
    }
    if (start == n) {
        return 0;
    }
    if (n - start >= 2 && host[start] == '0' && host[start + 1] == 'x') {
        return 1;
    }
    for (size_t i = start; i < n; i++) {
        if (host[i] < '0' || host[i] > '9') {
            return 0;
        }
    }
    return 1;
}

/* Strict dotted-quad IPv4 ("1.2.3.4": four decimal parts 0-255, no
 * leading zeros), the form resolvers print and IPv6 literals embed. Reads
 * s[0..n). */
static int ipv4_dotted(const char *s, size_t n, uint8_t out[4])
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= n || s[i] != '.') {
                return 0;
            }
            i++;
        }
        size_t start = i;
        unsigned v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9' && i - start < 3) {
            v = v * 10 + (unsigned)(s[i] - '0');
            i++;
        }
        if (i == start || v > 255 || (i - start > 1 && s[start] == '0')) {
            return 0;
        }
        out[part] = (uint8_t)v;
    }
    return i == n;
}

static int hex_value(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* An IPv6 address in RFC 4291 text form: eight groups of 1-4 hex digits,
 * one "::" standing for one or more zero groups, and optionally a dotted
 * IPv4 address as the last 32 bits. No zone ("%eth0"), no brackets. */
int constra__ipv6_text(const char *s, uint8_t out[16])
{
    uint16_t groups[8];
    int count = 0;   /* groups written */
    int gap = -1;    /* where "::" stands, in groups */
    size_t n = strlen(s);
    size_t i = 0;
    if (n == 0 || n > 45) {
        return 0;
    }
    if (s[0] == ':') {
        if (n < 2 || s[1] != ':') {
            return 0;
        }
        gap = 0;
        i = 2;
        if (i == n) {
            memset(out, 0, 16);
            return 1;
        }
    }
    while (i < n) {
        /* A trailing IPv4 part: digits and dots to the end. */
        size_t j = i;
        while (j < n && s[j] != ':' && s[j] != '.') {
            j++;
        }
        if (j < n && s[j] == '.') {
            uint8_t v4[4];
            if (count > 6 || !ipv4_dotted(s + i, n - i, v4)) {
                return 0;
            }
            groups[count++] = (uint16_t)(v4[0] << 8 | v4[1]);
            groups[count++] = (uint16_t)(v4[2] << 8 | v4[3]);
            i = n;
            break;
        }
        if (j == i || j - i > 4 || count == 8) {
            return 0;
        }
        unsigned v = 0;
        for (size_t k = i; k < j; k++) {
            int h = hex_value(s[k]);
            if (h < 0) {
                return 0;
            }
            v = v << 4 | (unsigned)h;
        }
        groups[count++] = (uint16_t)v;
        i = j;
        if (i == n) {
            break;
        }
        /* s[i] == ':' */
        i++;
        if (i < n && s[i] == ':') {
            if (gap >= 0) {
                return 0; /* a second "::" */
            }
            gap = count;
            i++;
            if (i == n) {
                break;
            }
        } else if (i == n) {
            return 0; /* a trailing single ':' */
        }
    }
    if (gap < 0 ? count != 8 : count > 7) {
        return 0;
    }
    /* Groups before the gap from the front, the rest against the end. */
    uint8_t bytes[16] = {0};
    int before = gap < 0 ? count : gap;
    for (int g = 0; g < count && g < 8; g++) {
        unsigned o = (unsigned)(g < before ? g : 8 - (count - g));
        if (o > 7) { /* cannot happen (count <= 8); says so to -O3's bounds analysis */
            return 0;
        }
        bytes[2 * o] = (uint8_t)(groups[g] >> 8);
        bytes[2 * o + 1] = (uint8_t)groups[g];
    }
    memcpy(out, bytes, 16);
    return 1;
}

int constra__webhook_url_check(const char *url, int live, constra__resolve_fn resolve, void *ctx,
                               const char *param, constra_error *err)
{
    constra__url u;
    int rc = constra__url_parse(url, &u, param, err);
    if (rc != CONSTRA_OK || !live) {
        return rc;
    }
    if (!u.https) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "url_forbidden", param,
                             "webhook URL refused in live mode: use https://");
    }
    uint8_t a[16];
    const char *why;
    if (u.ipv6_literal) {
        if (!constra__ipv6_text(u.host, a)) {
            return url_fail(err, param, "bad IPv6 literal");
        }
        why = constra__ip_forbidden(6, a);
        return why ? forbidden(err, param, u.host, why) : CONSTRA_OK;
    }
    if (constra__ipv4_literal(u.host, a)) {
        why = constra__ip_forbidden(4, a);
        return why ? forbidden(err, param, u.host, why) : CONSTRA_OK;
    }
    if (ends_in_number(u.host)) {
        return url_fail(err, param, "the host looks like an IPv4 address but is not one");
    }
    size_t hl = strlen(u.host);
    if (strcmp(u.host, "localhost") == 0 || strcmp(u.host, "localhost.") == 0 ||
        (hl > 10 && (strcmp(u.host + hl - 10, ".localhost") == 0)) ||
        (hl > 11 && strcmp(u.host + hl - 11, ".localhost.") == 0)) {
        return forbidden(err, param, u.host, "loopback");
    }
    char list[1024];
    list[0] = '\0';
#if CONSTRA_HAVE_POSIX
    if (resolve == NULL) {
        resolve = constra__resolve_default;
    }
#endif
    if (resolve == NULL) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "url_forbidden", param,
                             "webhook URL refused in live mode: no resolver to check %s "
                             "(this build has no POSIX resolver: set constra_config.resolve)",
                             u.host);
    }
    if (resolve(ctx, u.host, list, sizeof(list)) != 0) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "url_forbidden", param,
                             "webhook URL refused in live mode: %s does not resolve", u.host);
    }
    list[sizeof(list) - 1] = '\0';
    size_t found = 0;
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, " ");
        if (n > 0) {
            char one[64];
            if (n >= sizeof(one)) {
                return forbidden(err, param, u.host, "malformed");
            }
            memcpy(one, p, n);
            one[n] = '\0';
            if (ipv4_dotted(one, n, a)) {
                why = constra__ip_forbidden(4, a);
            } else if (constra__ipv6_text(one, a)) {
                why = constra__ip_forbidden(6, a);
            } else {
                why = "malformed"; /* the resolver must hand back numbers */
            }
            if (why) {
                return forbidden(err, param, u.host, why);
            }
            found++;
        }
        p += n;
        while (*p == ' ') {
            p++;
        }
    }
    if (found == 0) {
        return constra__fail(err, CONSTRA_E_INVALID_ARGUMENT, "url_forbidden", param,
                             "webhook URL refused in live mode: %s has no address", u.host);
    }
    return CONSTRA_OK;
}

