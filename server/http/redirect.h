/* http/redirect.h — where Go's http.Redirect points: a relative URL made
 * absolute against the request's path, cleaned, trailing slash kept.
 *
 * Plain C, no runtime (library gort_http); gort_http_redirect (helpers.c)
 * writes the response around it. Internal (http_).
 */
#ifndef GORT_HTTP_REDIRECT_H
#define GORT_HTTP_REDIRECT_H

#include <stddef.h>

/* The URL http.Redirect sends for url on a request whose path is req_path
 * (escaped, as gort_http_path gives it). url unchanged when it has a
 * scheme or a host ("http://x/", "//x/y") or does not parse as a URL;
 * else a relative path is joined to req_path's directory, the path part
 * is cleaned (path.Clean: no ".", "..", "//") with a trailing '/' kept,
 * and the query appended as it was. Writes at most cap bytes (always
 * NUL-terminated when cap > 0); returns the full length. The result is
 * never longer than strlen(req_path) + strlen(url) + 1. */
size_t http_redirect_url(const char *req_path, const char *url, char *out,
                         size_t cap);

/* Go's path.Clean of s[0..n) into out (n + 1 bytes suffice): returns the
 * length. */
size_t http_path_clean(const char *s, size_t n, char *out);

#endif /* GORT_HTTP_REDIRECT_H */
