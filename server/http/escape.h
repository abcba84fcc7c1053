/* http/escape.h — escaping for what gortd writes back from a request:
 * redirect locations and the HTML of a redirect's body.
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

#endif /* GORT_HTTP_ESCAPE_H */
