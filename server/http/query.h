/* http/query.h — Go's url.ParseQuery, one key at a time, without allocation.
 *
 * Plain C, no runtime (library gort_http): gort_http_query_value in
 * request.c is this applied to the request's query; tests/http/test_query.c
 * checks it against a table produced by Go.
 *
 * Internal to gortd (prefix http_).
 */
#ifndef GORT_HTTP_QUERY_H
#define GORT_HTTP_QUERY_H

#include <stddef.h>
#include <sys/types.h>

/* The first value of key in query (the text after '?', without it), decoded
 * into buf as Go's url.Values.Get does: pairs split on '&', '+' is a space,
 * %XX is a byte, in keys and values alike; "k" alone has the empty value; a
 * pair with a malformed escape or a ';' is skipped (Go 1.17+). Returns the
 * value's length (it may hold a NUL from %00; buf is NUL-terminated too),
 * -ENOENT when key has no valid pair, -ERANGE when the value and its NUL do
 * not fit in len bytes (buf is then "" when len > 0). */
ssize_t http_query_value(const char *query, const char *key, char *buf,
                         size_t len);

#endif /* GORT_HTTP_QUERY_H */
