/* http/cookie.h — cookies as Go's net/http reads and writes them: the
 * pairs of a Cookie field (readCookies) and a Set-Cookie value
 * (Cookie.String).
 *
 * Plain C, no runtime (library gort_http); tests/http/test_cookie.c and
 * the Go oracle in test_helpers_oracle.py check it. Internal (http_).
 */
#ifndef GORT_HTTP_COOKIE_H
#define GORT_HTTP_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "gort/http.h"

/* The next valid name=value pair of one Cookie field value, from *off on
 * (start at 0); moves *off past it. Parts split on ';' and trimmed of
 * space, tab, CR and LF; a part whose name is empty or not a token, or
 * whose value (quotes stripped) holds a byte outside 0x20-0x7e or one of
 * '"', ';', '\\', is skipped, as Go skips it. false at the end. */
bool http_cookie_next(const char *line, size_t *off, const char **name,
                      size_t *nlen, const char **value, size_t *vlen);

/* Cookie.String() into buf (cap bytes, NUL-terminated when cap > 0):
 * returns the full length (snprintf-style: larger than cap - 1 means
 * truncated), or -EINVAL when the name is not a valid token (Go's "").
 * Invalid value and path bytes are dropped, a value with ' ' or ',' is
 * quoted, an invalid domain is left out, Expires before 1601 is left out,
 * as Go does. */
ssize_t http_cookie_format(const struct gort_http_cookie *c, char *buf,
                           size_t cap);

/* RFC 9110 token characters (Go's isTokenRune). */
bool http_is_token_byte(unsigned char c);

#endif /* GORT_HTTP_COOKIE_H */
