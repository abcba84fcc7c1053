/* redirect.c — the Location of Go's http.Redirect.
 *
 * Go parses the URL first and leaves it alone unless it parses and has
 * neither a scheme nor a host; otherwise it joins a relative path to the
 * directory of the request's (decoded) path, cleans the path part and keeps
 * a trailing slash. The parse is reproduced only as far as it decides
 * that: control bytes, a malformed %-escape in the path or fragment, a
 * leading ':' or a ':' in the first segment of a scheme-less URL are parse
 * errors; a scheme is a letter then letters, digits, '+', '-' or '.' up to
 * ':'; "//" (not "///") starts a host. Every other case is a relative
 * reference, the one case that is rewritten.
 */
#include "http/redirect.h"

#include "http/escape.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

size_t http_path_clean(const char *s, size_t n, char *out)
{
    bool rooted = n > 0 && s[0] == '/';
    size_t r = 0, w = 0, dotdot = 0;
    if (n == 0) {
        out[0] = '.';
        return 1;
    }
    if (rooted) {
        out[w++] = '/';
        r = dotdot = 1;
    }
    while (r < n) {
        if (s[r] == '/') {
            r++;
        } else if (s[r] == '.' && (r + 1 == n || s[r + 1] == '/')) {
            r++;
        } else if (s[r] == '.' && s[r + 1] == '.' &&
                   (r + 2 == n || s[r + 2] == '/')) {
            r += 2;
            if (w > dotdot) {
                w--;
                while (w > dotdot && out[w] != '/')
                    w--;
            } else if (!rooted) {
                if (w > 0)
                    out[w++] = '/';
                out[w++] = '.';
                out[w++] = '.';
                dotdot = w;
            }
        } else {
            if ((rooted && w != 1) || (!rooted && w != 0))
                out[w++] = '/';
            while (r < n && s[r] != '/')
                out[w++] = s[r++];
        }
    }
    if (w == 0)
        out[w++] = '.';
    return w;
}

static bool bad_escapes(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '%' && (i + 2 >= n || http_hexval(s[i + 1]) < 0 ||
                            http_hexval(s[i + 2]) < 0))
            return true;
    return false;
}

/* 1: a URL Go would leave unchanged (scheme, host or a parse error);
 * 0: a relative reference. */
static int keep_as_is(const char *url)
{
    size_t n = strlen(url);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] < 0x20 || url[i] == 0x7f)
            return 1;
    const char *hash = strchr(url, '#');
    if (hash && bad_escapes(hash + 1, strlen(hash + 1)))
        return 1;
    size_t end = hash ? (size_t)(hash - url) : n;
    size_t q = strcspn(url, "?");
    if (q < end)
        end = q;
    if (url[0] == ':')
        return 1;
    size_t i = 0;
    if ((url[0] | 0x20) >= 'a' && (url[0] | 0x20) <= 'z') {
        while (i < end &&
               (((url[i] | 0x20) >= 'a' && (url[i] | 0x20) <= 'z') ||
                (url[i] >= '0' && url[i] <= '9') || strchr("+-.", url[i])))
            i++;
        if (i < end && url[i] == ':')
            return 1; /* a scheme */
    }
    if (end >= 2 && url[0] == '/' && url[1] == '/' &&
        !(end >= 3 && url[2] == '/'))
        return 1; /* a host */
    size_t seg = strcspn(url, "/");
    if (memchr(url, ':', seg < end ? seg : end))
        return 1; /* "first path segment in URL cannot contain colon" */
    return bad_escapes(url, end);
}

/* The decoded request path's directory (path.Split), into out. */
static size_t old_dir(const char *req_path, char *out)
{
    size_t n = 0, slash = 0;
    if (!req_path[0])
        req_path = "/";
    for (size_t i = 0; req_path[i]; i++) {
        int hi = req_path[i] == '%' ? http_hexval(req_path[i + 1]) : -1;
        int lo = hi >= 0 ? http_hexval(req_path[i + 2]) : -1;
        if (hi >= 0 && lo >= 0) {
            out[n++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[n++] = req_path[i];
        }
        if (out[n - 1] == '/')
            slash = n;
    }
    return slash;
}

static size_t emit(const char *s, size_t n, char *out, size_t cap)
{
    if (cap > 0) {
        size_t k = n < cap ? n : cap - 1;
        memcpy(out, s, k);
        out[k] = '\0';
    }
    return n;
}

size_t http_redirect_url(const char *req_path, const char *url, char *out,
                         size_t cap)
{
    if (keep_as_is(url))
        return emit(url, strlen(url), out, cap);
    size_t pn = strlen(req_path), un = strlen(url);
    char *joined = malloc(pn + un + 2), *clean = malloc(pn + un + 3);
    if (!joined || !clean) {
        free(joined);
        free(clean);
        return emit(url, un, out, cap);
    }
    size_t j = url[0] == '/' ? 0 : old_dir(req_path, joined);
    memcpy(joined + j, url, un + 1);
    size_t q = strcspn(joined, "?");
    size_t c = http_path_clean(joined, q, clean);
    if (q > 0 && joined[q - 1] == '/' && clean[c - 1] != '/')
        clean[c++] = '/';
    memcpy(clean + c, joined + q, strlen(joined + q) + 1);
    size_t len = emit(clean, strlen(clean), out, cap);
    free(joined);
    free(clean);
    return len;
}
