/* cookie.c — the rules of Go's net/http/cookie.go for the two directions.
 *
 * Reading is lenient by skipping: a Cookie field is split on ';', and a
 * pair Go would not accept (bad name, a value byte outside the cookie-octet
 * set once quotes are stripped) is passed over, never an error, so one
 * broken cookie from a browser extension does not hide the session cookie
 * beside it. Pairs come back as slices of the field: nothing is copied.
 *
 * Writing is lenient by repair, as Cookie.String: invalid bytes of a value
 * or path are dropped, a value with a space or comma is quoted, a domain
 * that is not a host name (or an IPv4 address) is dropped with the cookie
 * kept host-only. Only a bad name refuses the cookie. Expires uses
 * http.TimeFormat in UTC; Max-Age < 0 is "Max-Age=0" (delete now).
 */
#include "http/cookie.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

bool http_is_token_byte(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return true;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool value_byte(unsigned char b)
{
    return b >= 0x20 && b < 0x7f && b != '"' && b != ';' && b != '\\';
}

static bool path_byte(unsigned char b)
{
    return b >= 0x20 && b < 0x7f && b != ';';
}

static bool trim_byte(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool token(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!http_is_token_byte((unsigned char)s[i]))
            return false;
    return true;
}

/* Go's parseCookieValue with quotes allowed. */
static bool cookie_value(const char **v, size_t *n)
{
    if (*n > 1 && (*v)[0] == '"' && (*v)[*n - 1] == '"') {
        (*v)++;
        *n -= 2;
    }
    for (size_t i = 0; i < *n; i++)
        if (!value_byte((unsigned char)(*v)[i]))
            return false;
    return true;
}

bool http_cookie_next(const char *line, size_t *off, const char **name,
                      size_t *nlen, const char **value, size_t *vlen)
{
    size_t len = strlen(line);
    while (*off < len) {
        const char *p = line + *off;
        const char *semi = memchr(p, ';', len - *off);
        size_t n = semi ? (size_t)(semi - p) : len - *off;
        *off += semi ? n + 1 : n;
        while (n > 0 && trim_byte(*p))
            p++, n--;
        while (n > 0 && trim_byte(p[n - 1]))
            n--;
        const char *eq = memchr(p, '=', n);
        size_t kn = eq ? (size_t)(eq - p) : n;
        const char *v = eq ? eq + 1 : p + n;
        size_t vn = eq ? n - kn - 1 : 0;
        if (n == 0 || !token(p, kn) || !cookie_value(&v, &vn))
            continue;
        *name = p, *nlen = kn, *value = v, *vlen = vn;
        return true;
    }
    return false;
}

/* ---- Set-Cookie ---------------------------------------------------------- */

struct out {
    char *buf;
    size_t cap, len;
};

static void put(struct out *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++, o->len++)
        if (o->len + 1 < o->cap)
            o->buf[o->len] = s[i];
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* s with the bytes valid() refuses left out. */
static void put_valid(struct out *o, const char *s,
                      bool (*valid)(unsigned char))
{
    for (; *s; s++)
        if (valid((unsigned char)*s))
            put(o, s, 1);
}

static void put_value(struct out *o, const char *v)
{
    bool quote = false, any = false;
    for (const char *p = v; *p; p++) {
        if (!value_byte((unsigned char)*p))
            continue;
        any = true;
        quote |= *p == ' ' || *p == ',';
    }
    if (!any)
        return;
    if (quote)
        put(o, "\"", 1);
    put_valid(o, v, value_byte);
    if (quote)
        put(o, "\"", 1);
}

/* Go's isCookieDomainName: labels of letters, digits and '-' (not after a
 * dot, not last), at most 63 bytes each, at least one letter somewhere. */
static bool domain_name(const char *s)
{
    size_t n = strlen(s), part = 0;
    if (n == 0 || n > 255)
        return false;
    if (s[0] == '.')
        s++, n--;
    char last = '.';
    bool letter = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') {
            letter = true;
            part++;
        } else if (c >= '0' && c <= '9') {
            part++;
        } else if (c == '-') {
            if (last == '.')
                return false;
            part++;
        } else if (c == '.') {
            if (last == '.' || last == '-' || part > 63 || part == 0)
                return false;
            part = 0;
        } else {
            return false;
        }
        last = c;
    }
    return last != '-' && part <= 63 && letter;
}

static bool valid_domain(const char *d)
{
    struct in_addr a;
    return domain_name(d) || inet_pton(AF_INET, d, &a) == 1;
}

/* -11644473600: 1601-01-01T00:00:00Z, the earliest Expires RFC 6265
 * allows. */
#define COOKIE_MIN_EXPIRES (-11644473600LL)

static void put_expires(struct out *o, int64_t unix_s)
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    char date[64];
    if (unix_s < COOKIE_MIN_EXPIRES || !gmtime_r(&t, &tm))
        return;
    strftime(date, sizeof date, "; Expires=%a, %d %b %Y %H:%M:%S GMT", &tm);
    puts_(o, date);
}

static void put_attrs(struct out *o, const struct gort_http_cookie *c)
{
    static const char *const same_site[] = {
        [GORT_HTTP_SAMESITE_LAX] = "; SameSite=Lax",
        [GORT_HTTP_SAMESITE_STRICT] = "; SameSite=Strict",
        [GORT_HTTP_SAMESITE_NONE] = "; SameSite=None",
    };
    char num[32];
    if (c->max_age > 0) {
        snprintf(num, sizeof num, "; Max-Age=%d", c->max_age);
        puts_(o, num);
    } else if (c->max_age < 0) {
        puts_(o, "; Max-Age=0");
    }
    if (c->http_only)
        puts_(o, "; HttpOnly");
    if (c->secure)
        puts_(o, "; Secure");
    if (c->same_site > GORT_HTTP_SAMESITE_DEFAULT &&
        c->same_site <= GORT_HTTP_SAMESITE_NONE)
        puts_(o, same_site[c->same_site]);
}

ssize_t http_cookie_format(const struct gort_http_cookie *c, char *buf,
                           size_t cap)
{
    struct out o = {buf, cap, 0};
    if (!c->name || !token(c->name, strlen(c->name)))
        return -EINVAL;
    puts_(&o, c->name);
    put(&o, "=", 1);
    put_value(&o, c->value ? c->value : "");
    if (c->path && c->path[0]) {
        puts_(&o, "; Path=");
        put_valid(&o, c->path, path_byte);
    }
    if (c->domain && c->domain[0] && valid_domain(c->domain)) {
        puts_(&o, "; Domain=");
        puts_(&o, c->domain + (c->domain[0] == '.'));
    }
    if (c->has_expires)
        put_expires(&o, c->expires);
    put_attrs(&o, c);
    if (cap > 0)
        buf[o.len < cap ? o.len : cap - 1] = '\0';
    return (ssize_t)o.len;
}
