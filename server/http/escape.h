/* http/escape.h — escaping for what gortd writes back from a request
 * (redirect locations, the HTML of a redirect's body) and the hex digit of
 * a %XX escape.
 *
 * Both return the length of the escaped text (without the NUL) and write
 * as much as fits in out (cap bytes, always NUL-terminated when cap > 0),
 * so a caller sizes its buffer with a first call or a bound: the output is
 * at most 3 (location) or 5 (HTML) times the input. */
#ifndef GORT_HTTP_ESCAPE_H
#define GORT_HTTP_ESCAPE_H

#include <stddef.h>

/* A Location header value: percent-encodes non-ASCII bytes (as Go's
 * hexEscapeNonASCII), controls, space, '"', '<', '>', and '\\', which
 * browsers read as '/': "/\\evil.example" would leave the site. */
size_t http_location_escape(const char *in, char *out, size_t cap);

/* Go's htmlEscape: & < > " ' as &amp; &lt; &gt; &#34; &#39;. */
size_t http_html_escape(const char *in, char *out, size_t cap);

/* The value of a hex digit, -1 for anything else: for the %XX escapes of
 * paths, patterns and queries. */
static inline int http_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif /* GORT_HTTP_ESCAPE_H */
