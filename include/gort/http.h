/* http.h — the handler API of gortd's HTTP/1.1 front end (net/http's
 * Handler, ResponseWriter and Request, in C).
 *
 * A handler runs on the connection's goroutine and may use the whole
 * runtime: sleep, channels, netpoll I/O. The request and the response
 * writer are valid only until the handler returns; strings are
 * NUL-terminated and owned by the request.
 */
#ifndef GORT_HTTP_H
#define GORT_HTTP_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "gort/gort.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gort_http_request gort_http_request;
typedef struct gort_http_response gort_http_response;

/* ServeHTTP(w, r). arg is what was registered with the route. */
typedef void (*gort_http_handler)(gort_http_response *w, gort_http_request *r,
                                  void *arg);

/* ---- request ------------------------------------------------------------ */

GORT_API const char *gort_http_method(const gort_http_request *r);
/* request-target as sent: "/search?q=go" */
GORT_API const char *gort_http_target(const gort_http_request *r);
/* path of the target, still escaped: "/search" */
GORT_API const char *gort_http_path(const gort_http_request *r);
/* query without '?': "q=go"; "" when none */
GORT_API const char *gort_http_query(const gort_http_request *r);
/* Go's r.URL.Query().Get(key), told apart from absent: the first value of
 * key, decoded ('+' is a space, %XX a byte, in keys too) into buf and
 * NUL-terminated. Returns its length (>= 0; "?k" and "?k=" give 0), -ENOENT
 * when the query has no such key, -ERANGE when the value and its NUL do not
 * fit in len (buf is then "", never a truncated value). Pairs Go's
 * url.ParseQuery drops are skipped: a malformed escape, a ';'. */
GORT_API ssize_t gort_http_query_value(const gort_http_request *r,
                                       const char *key, char *buf, size_t len);
/* "HTTP/1.1" or "HTTP/1.0" */
GORT_API const char *gort_http_proto(const gort_http_request *r);
/* Host header (or the absolute-form authority); "" when none */
GORT_API const char *gort_http_host(const gort_http_request *r);
/* "127.0.0.1:51234" */
GORT_API const char *gort_http_remote_addr(const gort_http_request *r);
/* First value of header name (case-insensitive), or NULL. */
GORT_API const char *gort_http_header(const gort_http_request *r,
                                      const char *name);
/* Header i (0-based) in arrival order; NULL past the end. */
GORT_API const char *gort_http_header_at(const gort_http_request *r, size_t i,
                                         const char **value);
/* Value of a {name} / {name...} wildcard of the matched pattern, or NULL. */
GORT_API const char *gort_http_path_value(const gort_http_request *r,
                                          const char *name);
/* The pattern that matched: "GET /kv/{key}" */
GORT_API const char *gort_http_pattern(const gort_http_request *r);
/* Declared Content-Length, -1 when absent (chunked or no body). */
GORT_API int64_t gort_http_content_length(const gort_http_request *r);
/* Reads the body (Content-Length or chunked, decoded): > 0 bytes, 0 at the
 * end, < 0 error (-EBADMSG malformed, -EFBIG over the body limit,
 * -ETIMEDOUT, -ECONNRESET). Sends "100 Continue" first when the client
 * asked for it. */
GORT_API ssize_t gort_http_body_read(gort_http_request *r, void *buf, size_t n);

/* ---- response ----------------------------------------------------------- */

/* Header edits take effect until the header is written (first write or
 * gort_http_write_header); afterwards they are ignored. 0 or -EINVAL for a
 * name or value with CR, LF or NUL (header injection), -ENOSPC when full. */
GORT_API int gort_http_set_header(gort_http_response *w, const char *name,
                                  const char *value);
GORT_API int gort_http_add_header(gort_http_response *w, const char *name,
                                  const char *value);
GORT_API void gort_http_del_header(gort_http_response *w, const char *name);
/* WriteHeader(status): once; later calls are logged and ignored (Go's
 * "superfluous WriteHeader call"). */
GORT_API void gort_http_write_header(gort_http_response *w, int status);
/* Writes body bytes (200 if no status was set). Small responses are
 * buffered and sent with Content-Length; past the buffer or after a flush
 * the body is sent chunked (HTTP/1.1) or until close (HTTP/1.0). Returns n
 * or a negative error (the client went away). */
GORT_API ssize_t gort_http_write(gort_http_response *w, const void *buf,
                                 size_t n);
GORT_API int gort_http_printf(gort_http_response *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
GORT_API int gort_http_vprintf(gort_http_response *w, const char *fmt,
                               va_list ap);
/* fmt.Fprintln(w, s): s and a newline. */
GORT_API int gort_http_println(gort_http_response *w, const char *s);
/* Sends what is buffered now (the body becomes chunked). */
GORT_API int gort_http_flush(gort_http_response *w);
/* The status written (or 0 when nothing was written yet). */
GORT_API int gort_http_status(const gort_http_response *w);

/* Go's panic(http.ErrAbortHandler): ends the handler at once. The client
 * gets 500 when nothing was sent yet, else the connection is cut. The server
 * logs it and keeps serving. Never returns. */
GORT_API void gort_http_abort(gort_http_response *w, const char *why)
    __attribute__((noreturn));

/* net/http's Error(w, msg, code): text/plain, nosniff, msg + "\n". */
GORT_API void gort_http_error(gort_http_response *w, const char *msg,
                              int status);

/* Reason phrase for a status ("Not Found"), "" when unknown. */
GORT_API const char *gort_http_status_text(int status);

#ifdef __cplusplus
}
#endif

#endif /* GORT_HTTP_H */
