/* http/url.c — absolute http URLs for the client, strictly.
 *
 * Go's url.Parse accepts almost anything and the transport escapes it on
 * the way out; gort sends the target as written, so the parser refuses
 * what would not be a valid request-target or authority rather than fix it
 * up: a plugin author sees "space in URL" at once instead of a 400 from a
 * server later. Userinfo ("user:pass@") is refused too (RFC 9110 §4.2.4
 * deprecates it; credentials go in an Authorization field). */
#include "http/url.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* reg-name and IPv4 bytes (RFC 3986 §3.2.2: unreserved, sub-delims, '%')
 * and hex digits, by table: a client call parses a URL every request, and
 * a strchr per host byte was a third of what that cost. Rows are the high
 * nibble; bytes from 0x80 are neither. */
enum { U_HOST = 1, U_HEX = 2 };

static const unsigned char url_class[128] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 1x */
    0, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, /* 2x */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 1, 0, 1, 0, 0, /* 3x */
    0, 3, 3, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 4x */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, /* 5x */
    0, 3, 3, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 6x */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0, /* 7x */
};

static int is_hex(unsigned char c)
{
    return c < 0x80 && (url_class[c] & U_HEX);
}

static int is_host_byte(unsigned char c)
{
    return c < 0x80 && (url_class[c] & U_HOST);
}

/* Printable ASCII but space: what may appear in a request-target. */
static int is_target_byte(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}

/* Every '%' in p[0..n) starts a %XX escape (memchr's wide steps find the
 * first: most URLs have none). */
static int escapes_ok(const char *p, size_t n)
{
    const char *s = p, *end = p + n;
    while ((s = memchr(s, '%', (size_t)(end - s))) != NULL) {
        if (end - s < 3 || !is_hex((unsigned char)s[1]) ||
            !is_hex((unsigned char)s[2]))
            return 0;
        s += 3;
    }
    return 1;
}

static struct http_str slice(const char *p, size_t n)
{
    struct http_str s = {p, n};
    return s;
}

static int fail(const char **why, const char *msg, int err)
{
    if (why)
        *why = msg;
    return err;
}

/* scheme ":" "//": http or https. */
static int parse_scheme(const char *u, size_t *pos, struct http_url *out,
                        const char **why)
{
    size_t i = 0;

    if (!is_alpha((unsigned char)u[0]))
        return fail(why, "missing scheme (want http://host/...)", -EINVAL);
    while (is_alpha((unsigned char)u[i]) || is_digit((unsigned char)u[i]) ||
           u[i] == '+' || u[i] == '-' || u[i] == '.')
        i++;
    if (strncmp(u + i, "://", 3) != 0)
        return fail(why, "missing scheme (want http://host/...)", -EINVAL);
    out->scheme = slice(u, i);
    out->tls = i == 5 && strncasecmp(u, "https", 5) == 0;
    if (!out->tls && (i != 4 || strncasecmp(u, "http", 4) != 0))
        return fail(why, "unsupported scheme (only http and https)",
                    -EPROTONOSUPPORT);
    *pos = i + 3;
    return 0;
}

/* ":" port, possibly empty (RFC 3986 §3.2.3: then the default). */
static int parse_port(const char *p, size_t n, unsigned *port, unsigned def,
                      const char **why)
{
    unsigned v = 0;

    *port = def;
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)p[i]) || v > 65535)
            return fail(why, "bad port", -EINVAL);
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    if (v == 0 || v > 65535)
        return fail(why, "bad port", -EINVAL);
    *port = v;
    return 0;
}

/* host [":" port] in a[0..n); an IPv6 literal in brackets. */
static int parse_authority(const char *a, size_t n, struct http_url *out,
                           const char **why)
{
    size_t h = 0, hl;

    if (memchr(a, '@', n))
        return fail(why, "userinfo in URL (use an Authorization field)",
                    -EINVAL);
    if (n > 0 && a[0] == '[') {
        const char *rb = memchr(a, ']', n);
        if (!rb || rb == a + 1)
            return fail(why, "bad IPv6 literal", -EINVAL);
        for (const char *c = a + 1; c < rb; c++)
            if (!is_hex((unsigned char)*c) && *c != ':' && *c != '.')
                return fail(why, "bad IPv6 literal", -EINVAL);
        h = 1;
        hl = (size_t)(rb - a) - 1;
        if (rb + 1 < a + n && rb[1] != ':')
            return fail(why, "bad IPv6 literal", -EINVAL);
    } else {
        const char *colon = memchr(a, ':', n);
        hl = colon ? (size_t)(colon - a) : n;
        for (size_t i = 0; i < hl; i++)
            if (!is_host_byte((unsigned char)a[i]))
                return fail(why, "bad byte in host", -EINVAL);
        if (!escapes_ok(a, hl))
            return fail(why, "bad %-escape in host", -EINVAL);
    }
    if (hl == 0)
        return fail(why, "empty host", -EINVAL);
    out->host = slice(a + h, hl);
    out->authority = slice(a, n);
    size_t pstart = h + hl + h; /* past "]" for a literal */
    unsigned def = out->tls ? 443 : 80;
    if (pstart < n) /* a[pstart] is ':' */
        return parse_port(a + pstart + 1, n - pstart - 1, &out->port, def, why);
    out->port = def;
    return 0;
}

int http_url_parse(const char *url, struct http_url *out, const char **why)
{
    size_t a, e, q, t;
    int r;

    memset(out, 0, sizeof *out);
    if ((r = parse_scheme(url, &a, out, why)) < 0)
        return r;
    e = a + strcspn(url + a, "/?#");
    if ((r = parse_authority(url + a, e - a, out, why)) < 0)
        return r;
    /* The fragment is checked too, though it is never sent. */
    for (t = e; url[t]; t++)
        if (!is_target_byte((unsigned char)url[t]))
            return fail(why,
                        "byte in URL that must be %-escaped (space, control, "
                        "non-ASCII)",
                        -EINVAL);
    /* Escapes are checked in the path and the fragment, not the query:
     * Go's url.Parse leaves RawQuery as written, and a proxy must pass a
     * query it cannot decode ("?q=100%") on unchanged. */
    t = e + strcspn(url + e, "#");
    q = e + strcspn(url + e, "?#");
    if (!escapes_ok(url + e, q - e) ||
        (url[t] && !escapes_ok(url + t + 1, strlen(url + t + 1))))
        return fail(why, "bad %-escape in URL", -EINVAL);
    out->path = q > e ? slice(url + e, q - e) : slice("/", 1);
    if (url[q] == '?')
        out->query = slice(url + q + 1, t - q - 1);
    return 0;
}
