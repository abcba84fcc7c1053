/* http/escape.c — escaping what a redirect echoes back from the request.
 *
 * A redirect's Location and its little HTML body both carry the request's
 * own path and query. Left raw, a path like "/\evil.example/." cleans to
 * "/\evil.example", which browsers resolve as the host evil.example (an
 * open redirect), and a query holding `"><script>` becomes markup in a
 * text/html body (reflected XSS). The Location is percent-encoded where a
 * byte is not plain ASCII URL text; the body is HTML-escaped as Go's
 * http.Redirect does.
 */
#include "http/escape.h"

#include <stdbool.h>

static const char hexdigits[] = "0123456789ABCDEF";

static bool location_raw(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '"' && c != '<' && c != '>' &&
           c != '\\';
}

/* Appends n bytes of s at *len, as far as cap allows. */
static void emit(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++, (*len)++)
        if (*len + 1 < cap)
            out[*len] = s[i];
}

static void finish(char *out, size_t cap, size_t len)
{
    if (cap > 0)
        out[len < cap ? len : cap - 1] = '\0';
}

size_t http_location_escape(const char *in, char *out, size_t cap)
{
    size_t len = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        if (location_raw(*p)) {
            emit(out, cap, &len, (const char *)p, 1);
        } else {
            char pct[3] = {'%', hexdigits[*p >> 4], hexdigits[*p & 15]};
            emit(out, cap, &len, pct, 3);
        }
    }
    finish(out, cap, len);
    return len;
}

size_t http_html_escape(const char *in, char *out, size_t cap)
{
    size_t len = 0;
    for (const char *p = in; *p; p++) {
        const char *e = *p == '&'    ? "&amp;"
                        : *p == '<'  ? "&lt;"
                        : *p == '>'  ? "&gt;"
                        : *p == '"'  ? "&#34;"
                        : *p == '\'' ? "&#39;"
                                     : NULL;
        if (e) {
            size_t n = 0;
            while (e[n])
                n++;
            emit(out, cap, &len, e, n);
        } else {
            emit(out, cap, &len, p, 1);
        }
    }
    finish(out, cap, len);
    return len;
}
