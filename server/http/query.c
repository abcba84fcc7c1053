/* query.c — one value out of a URL query, with Go's url.ParseQuery rules.
 *
 * Go parses the whole query into a map, then Get takes the first value of a
 * key. Here one pass over the text finds the first pair whose decoded key
 * equals key: the key is compared while it is decoded, so nothing is
 * allocated and a pair that does not match costs one scan of its key. What
 * Go skips is skipped here too, so the "first" value is the same one: a
 * pair with a ';' (Go 1.17 stopped treating it as a separator and drops the
 * pair), an empty pair ("a=1&&b=2"), and a pair whose key or value holds a
 * malformed escape ('%' without two hex digits after it).
 */
#include "http/query.h"

#include "http/escape.h"

#include <errno.h>
#include <string.h>

/* Decodes the byte at s[*i] (an escape, '+', or itself) and moves *i past
 * it; -1 when s[*i] starts a malformed escape. */
static int next_byte(const char *s, size_t n, size_t *i)
{
    char c = s[*i];
    if (c == '+') {
        (*i)++;
        return ' ';
    }
    if (c != '%') {
        (*i)++;
        return (unsigned char)c;
    }
    if (*i + 2 >= n)
        return -1;
    int hi = http_hexval(s[*i + 1]), lo = http_hexval(s[*i + 2]);
    if (hi < 0 || lo < 0)
        return -1;
    *i += 3;
    return hi << 4 | lo;
}

/* The decoded length of s[0..n), or -1 when it holds a malformed escape. */
static ssize_t decoded_len(const char *s, size_t n)
{
    ssize_t len = 0;
    for (size_t i = 0; i < n; len++)
        if (next_byte(s, n, &i) < 0)
            return -1;
    return len;
}

/* True when s[0..n) is well-formed and decodes to exactly key. */
static int key_equal(const char *s, size_t n, const char *key)
{
    size_t i = 0, k = 0, klen = strlen(key);
    while (i < n) {
        int b = next_byte(s, n, &i);
        if (b < 0 || k == klen || b != (unsigned char)key[k])
            return 0;
        k++;
    }
    return k == klen;
}

static void decode(const char *s, size_t n, char *out)
{
    size_t i = 0, o = 0;
    while (i < n)
        out[o++] = (char)next_byte(s, n, &i);
    out[o] = '\0';
}

/* The pair s[0..n) when it is one Go keeps and its key is key: its value's
 * length, -ENOENT otherwise. */
static ssize_t pair_value(const char *s, size_t n, const char *key,
                          const char **val, size_t *vn)
{
    if (n == 0 || memchr(s, ';', n))
        return -ENOENT;
    const char *eq = memchr(s, '=', n);
    size_t kn = eq ? (size_t)(eq - s) : n;
    *val = eq ? eq + 1 : s + n;
    *vn = n - kn - (eq ? 1 : 0);
    if (!key_equal(s, kn, key))
        return -ENOENT;
    ssize_t len = decoded_len(*val, *vn);
    return len < 0 ? -ENOENT : len;
}

ssize_t http_query_value(const char *query, const char *key, char *buf,
                         size_t len)
{
    if (len > 0)
        buf[0] = '\0';
    const char *p = query ? query : "";
    for (;;) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        const char *val;
        size_t vn;
        ssize_t vlen = pair_value(p, n, key, &val, &vn);
        if (vlen >= 0) {
            if ((size_t)vlen >= len)
                return -ERANGE;
            decode(val, vn, buf);
            return vlen;
        }
        if (!amp)
            return -ENOENT;
        p = amp + 1;
    }
}
