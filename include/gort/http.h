/* http.h — the handler API of gortd's HTTP/1.1 front end (net/http's
 * Handler, ResponseWriter and Request, in C).
 *
 * The "client" section at the end is net/http's Client: what a plugin
 * uses to call other services.
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

#ifdef __cplusplus
#define GORT_HTTP_STATIC_ASSERT static_assert
#else
#define GORT_HTTP_STATIC_ASSERT _Static_assert
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
/* 1 when the request came over TLS (a --listen-tls address; Go's
 * r.TLS != nil), else 0. */
GORT_API int gort_http_tls(const gort_http_request *r);
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
 * -ETIMEDOUT: a pause longer than gortd's --body-idle-timeout or the
 * request past --read-timeout, -ECONNRESET). Sends "100 Continue" first
 * when the client asked for it. */
GORT_API ssize_t gort_http_body_read(gort_http_request *r, void *buf, size_t n);

/* r.Context(): done when the client closes the connection (noticed once
 * the handler has read the body to its end, as net/http does with its
 * background read: a FIN or reset while the handler runs, or a shutdown of
 * the client's write side), when gortd's shutdown bound passes, or when the
 * handler returns, whichever comes first (GORT_ECANCELED). Made on first
 * call; the request owns it: a goroutine the handler starts that uses it
 * after the handler returns takes its own gort_ctx_ref. Never NULL. */
GORT_API gort_ctx *gort_http_request_ctx(gort_http_request *r);

/* ---- response ----------------------------------------------------------- */

/* Header edits take effect until the header is written (first write or
 * gort_http_write_header); afterwards they are ignored. 0, -ENOSPC when
 * full, or -EINVAL for a name that is not a token (RFC 9110: no ':',
 * space or control) or a value with CR, LF, NUL or another control byte
 * (header injection). The framing is the server's: a Content-Length the
 * handler sets is a promise gort_http_write holds it to (a negative or
 * non-numeric one is -EINVAL); "Transfer-Encoding: chunked" asks for a
 * chunked body (the server writes that field itself; any other coding is
 * -EINVAL). */
GORT_API int gort_http_set_header(gort_http_response *w, const char *name,
                                  const char *value);
GORT_API int gort_http_add_header(gort_http_response *w, const char *name,
                                  const char *value);
GORT_API void gort_http_del_header(gort_http_response *w, const char *name);
/* WriteHeader(status): once; later calls are logged and ignored (Go's
 * "superfluous WriteHeader call"). A 1xx other than 101 is interim, as in
 * net/http since Go 1.19: it goes out at once with the fields set so far
 * (e.g. 103 Early Hints with Link fields), nothing to an HTTP/1.0 client,
 * and the handler then sets its final status. */
GORT_API void gort_http_write_header(gort_http_response *w, int status);
/* Writes body bytes (200 if no status was set). Small responses are
 * buffered and sent with Content-Length; past the buffer or after a flush
 * the body is sent chunked (HTTP/1.1) or until close (HTTP/1.0), still
 * buffered (4 KiB, as Go's bufio.Writer): a full buffer, a flush or the
 * handler's return sends it, so small writes cost no syscall each. Returns n
 * or a negative error: -EINVAL when the status allows no body (1xx, 204,
 * 304: net/http's ErrBodyNotAllowed), -EMSGSIZE for bytes past the
 * Content-Length the handler set (ErrContentLength; nothing of that call
 * is sent), -ECONNRESET when the client went away. A handler that writes
 * less than its Content-Length gets its connection closed after the
 * response. On HEAD the bytes are counted and dropped. */
GORT_API ssize_t gort_http_write(gort_http_response *w, const void *buf,
                                 size_t n);
GORT_API int gort_http_printf(gort_http_response *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
GORT_API int gort_http_vprintf(gort_http_response *w, const char *fmt,
                               va_list ap);
/* fmt.Fprintln(w, s): s and a newline. */
GORT_API int gort_http_println(gort_http_response *w, const char *s);
/* Sends what is buffered now, in one write (the body becomes chunked). */
GORT_API int gort_http_flush(gort_http_response *w);
/* The status written (or 0 when nothing was written yet). */
GORT_API int gort_http_status(const gort_http_response *w);

/* Go's panic(http.ErrAbortHandler): ends the handler at once. The client
 * gets 500 when nothing was sent yet, else the connection is cut. The server
 * logs it and keeps serving. Never returns. */
GORT_API void gort_http_abort(gort_http_response *w, const char *why)
    __attribute__((noreturn));

/* Go's defer, for one request: fn(arg) runs when the handler returns, when
 * it ends with gort_http_abort, and when gortd quarantines its plugin for a
 * fault (--plugin-faults=quarantine), last deferred first, still inside the
 * request (the response not yet finished, the plugin still pinned). So a
 * handler that frees memory or unlocks a gort_mutex in a defer leaks and
 * deadlocks nothing when it aborts. fn must not call gort_http_abort.
 * Returns 0, or -ENOMEM (fn was not registered), -EINVAL (no fn). */
GORT_API int gort_http_defer(gort_http_request *r, void (*fn)(void *arg),
                             void *arg);

/* net/http's Error(w, msg, code): text/plain, nosniff, msg + "\n". */
GORT_API void gort_http_error(gort_http_response *w, const char *msg,
                              int status);

/* Reason phrase for a status ("Not Found"), "" when unknown. */
GORT_API const char *gort_http_status_text(int status);

/* Go's http.DetectContentType: the type the first 512 of n bytes look like
 * ("text/html; charset=utf-8", "image/png", ...; "application/octet-stream"
 * when nothing matches). A response whose handler names no Content-Type
 * gets this type of its first bytes, as under net/http. */
GORT_API const char *gort_http_detect_content_type(const void *data, size_t n);

/* ---- request and response helpers ----------------------------------------
 *
 * What net/http gives a handler beyond the path: header values by name,
 * forms, cookies and redirects, each with Go's edge cases (the Go oracle in
 * tests/http checks them row by row). */

/* Go's r.Header.Values(name), one at a time: the value of the next field
 * named name (case-insensitive) at index *iter or later, moving *iter past
 * it; NULL when none is left. Start with *iter = 0. Every field is seen,
 * in arrival order, with gort_http_header_at. */
GORT_API const char *gort_http_header_next(const gort_http_request *r,
                                           const char *name, size_t *iter);

/* A parsed form: Go's r.Form (the body's pairs, then the query's) and
 * r.PostForm (the body's alone). Owned by the caller. */
typedef struct gort_http_form gort_http_form;

/* Go's r.ParseForm: the query always; for POST, PUT and PATCH with
 * Content-Type application/x-www-form-urlencoded, the body too, read to
 * its end (up to max_body bytes; 0 is Go's 10 MiB). Keys and values are
 * decoded ('+' is a space, %XX a byte); repeated keys keep every value in
 * order. Sets *out and returns 0, or sets *out (with what could be read)
 * and returns a negative error, whose text gort_http_form_error gives in
 * Go's words: -EBADMSG for a pair with a malformed escape or a ';' (the
 * pair is dropped, the rest kept: `invalid URL escape "%zz"`), -EFBIG for
 * a body over max_body ("http: POST too large"; only the query's pairs
 * are kept), or the body's read error (gort_http_body_read). -ENOMEM
 * leaves *out NULL. The body is consumed: call it once per request.
 * Multipart bodies are not parsed (Go's ParseMultipartForm). */
GORT_API int gort_http_form_parse(gort_http_request *r, int64_t max_body,
                                  gort_http_form **out);
/* r.FormValue(key) / r.PostFormValue(key): the first value of key, NULL
 * when key has none (Go returns ""). */
GORT_API const char *gort_http_form_value(const gort_http_form *f,
                                          const char *key);
GORT_API const char *gort_http_form_post_value(const gort_http_form *f,
                                               const char *key);
/* r.Form[key][n]: the nth (0-based) value of key, NULL past the last. */
GORT_API const char *gort_http_form_get(const gort_http_form *f,
                                        const char *key, size_t n);
/* Pair i (0-based) of r.Form in order (the body's first): its key, with
 * its value in *value; NULL past the end. */
GORT_API const char *gort_http_form_at(const gort_http_form *f, size_t i,
                                       const char **value);
/* The first error met while parsing, in Go's words; "" when none. */
GORT_API const char *gort_http_form_error(const gort_http_form *f);
/* NULL is fine. */
GORT_API void gort_http_form_free(gort_http_form *f);

/* Go's r.Cookie(name): the value of the first valid cookie called name
 * in the request's Cookie fields, into buf, NUL-terminated, surrounding
 * double quotes removed. Its length, -ENOENT when there is none (Go's
 * ErrNoCookie), -ERANGE when it and its NUL do not fit (buf is then "").
 * Invalid pairs are skipped as Go skips them: a name that is not a token,
 * a value byte outside 0x20-0x7e or one of '"' ';' '\\'. */
GORT_API ssize_t gort_http_cookie(const gort_http_request *r, const char *name,
                                  char *buf, size_t len);

/* Go's r.Cookies(), one at a time, nothing copied: zero the iterator, then
 * each call that returns 1 points name/value into the request's fields
 * (not NUL-terminated: use the lengths); 0 at the end. */
struct gort_http_cookie_iter {
    const char *name, *value; /* out */
    size_t name_len, value_len;
    size_t field_, off_; /* where the next search starts: private */
};
GORT_API int gort_http_cookie_next(const gort_http_request *r,
                                   struct gort_http_cookie_iter *it);

/* Go's http.SameSite; DEFAULT (the zero value) writes no attribute. */
enum gort_http_same_site {
    GORT_HTTP_SAMESITE_DEFAULT = 0,
    GORT_HTTP_SAMESITE_LAX,
    GORT_HTTP_SAMESITE_STRICT,
    GORT_HTTP_SAMESITE_NONE,
};

/* Go's http.Cookie for Set-Cookie; zero-initialize and fill in. */
struct gort_http_cookie {
    const char *name;   /* a token, else the cookie is refused */
    const char *value;  /* invalid bytes dropped; quoted if ' ' or ',' */
    const char *path;   /* NULL/"": none; ';' and controls dropped */
    const char *domain; /* NULL/"": none; a bad one is left out, as Go
                           does (the cookie stays host-only) */
    int64_t expires;    /* Unix seconds, when has_expires (before 1601:
                           left out) */
    int has_expires;
    int max_age;    /* > 0: Max-Age=N; < 0: Max-Age=0 (delete now); 0: none */
    int secure;     /* Secure */
    int http_only;  /* HttpOnly */
    int same_site;  /* enum gort_http_same_site */
    void *spare[4]; /* zero: room to grow */
};

/* Go's c.String(): the Set-Cookie value into buf (len bytes, always
 * NUL-terminated when len > 0). Returns its full length (larger than
 * len - 1: truncated, call again with more room), or -EINVAL for a name
 * that is not a token (Go's ""). */
GORT_API ssize_t gort_http_cookie_string(const struct gort_http_cookie *c,
                                         char *buf, size_t len);
/* Go's http.SetCookie: adds a Set-Cookie field. 0, -EINVAL (bad name),
 * -ENOSPC or -ENOMEM. */
GORT_API int gort_http_set_cookie(gort_http_response *w,
                                  const struct gort_http_cookie *c);

/* Go's http.Redirect(w, r, url, code): a relative url is made absolute
 * against the request's path and cleaned (a trailing '/' kept, the query
 * kept as given); one with a scheme or a host ("//host/x") is sent as it
 * is. Sets Location, and for GET and HEAD when the handler set no
 * Content-Type, "text/html; charset=utf-8" and (GET) the body
 * `<a href="URL">Status Text</a>.` with the URL HTML-escaped. The Location
 * is percent-encoded where a byte is not printable ASCII or is one of
 * '"' '<' '>' '\\' (Go escapes non-ASCII only: a '\\' would let browsers
 * leave the site, a control byte could split the field). 0, -EINVAL for a
 * code outside 300-399, -ENOMEM. */
GORT_API int gort_http_redirect(gort_http_response *w,
                                const gort_http_request *r, const char *url,
                                int code);

/* ---- client -------------------------------------------------------------
 *
 * net/http's Client, in C: calls from a handler (or any goroutine) to other
 * HTTP/1.1 services. The client side has its own types, c for client:
 * gort_http_creq is the request a plugin builds and sends, gort_http_cresp
 * the response it reads (gort_http_request and gort_http_response above
 * are the server's).
 *
 *     static gort_http_client *cl;          // init: cl = ..._new(NULL)
 *
 *     gort_http_creq *rq = gort_http_creq_new("GET", "http://10.0.0.7/x");
 *     gort_http_creq_set_deadline(rq, gort_nanotime() + 2000000000LL);
 *     gort_http_cresp *rs;
 *     if (gort_http_do(cl, rq, &rs) < 0) {
 *         gort_http_error(w, gort_http_creq_error(rq), 502);
 *     } else {
 *         char buf[4096];
 *         ssize_t n;
 *         while ((n = gort_http_cresp_read(rs, buf, sizeof buf)) > 0)
 *             gort_http_write(w, buf, (size_t)n);
 *         gort_http_cresp_close(rs);
 *     }
 *     gort_http_creq_free(rq);
 *
 * Connections. The client keeps, per host:port, the connections a response
 * left reusable (the body read to its end, no "Connection: close"), and
 * takes the most recent one for the next request. A request that fails on
 * a reused connection (the server closed it meanwhile) before any byte of
 * a response came back is sent once more on a new connection when that is
 * safe: GET, HEAD, OPTIONS or TRACE (or an Idempotency-Key field), with no
 * body or a buffer body (Go's rule); any other request first checks that
 * the connection it takes is still open.
 *
 * https: the server's certificate is checked against the system's CAs (or
 * opts.tls_ca_file) and the URL's host, with SNI; TLS 1.2 or 1.3.
 *
 * Blocking. Name lookups run on a blocking call, I/O parks the goroutine:
 * a slow upstream holds a goroutine, never a thread. Every function may be
 * called from any goroutine; one client serves many goroutines at once; a
 * request and its response belong to one goroutine at a time.
 *
 * Errors are negative errno values, with the reason in words from
 * gort_http_creq_error:
 *   -EINVAL           a malformed URL, method, header or option
 *   -EPROTONOSUPPORT  a scheme other than http and https
 *   -EPROTO           https: the TLS handshake failed, or the server's
 *                     certificate is not trusted or not for the URL's host
 *   -ENXIO            no such host (-EHOSTUNREACH: the resolver failed)
 *   -ECONNREFUSED, -ECONNRESET, -ENETUNREACH, ...  the network said so
 *   -ETIMEDOUT        a deadline or a timeout passed
 *   -EBADMSG          the server's response is malformed (or -EMSGSIZE:
 *                     its head is too large; -EPROTO: a 101 or a transfer
 *                     coding other than chunked)
 *   -ENOMEM
 *
 * Ownership. The client owns its pool: gort_http_client_free closes every
 * idle connection. A plugin frees its clients in fini, after which no
 * handler of it runs (a client must not be freed while a response from it
 * is still open). */

typedef struct gort_http_client gort_http_client;
typedef struct gort_http_creq gort_http_creq;
typedef struct gort_http_cresp gort_http_cresp;

/* Zero selects a field's default: Go's DefaultTransport, and no timeout
 * where Go leaves one to the caller. Durations are nanoseconds; a negative
 * timeout is none. */
struct gort_http_client_opts {
    int max_idle_per_host; /* idle connections kept per host:port (2);
                              < 0: none, keep-alive off (Go's
                              DisableKeepAlives: "Connection: close") */
    int max_idle;          /* idle connections kept in all (100); < 0: no
                              bound but the per-host one */
    int64_t idle_timeout;  /* an idle connection older than this is not
                              reused, and is closed at the client's next
                              call (90 s) */
    int64_t dial_timeout;  /* the name lookup and the connect (30 s) */
    int64_t response_header_timeout; /* from the request's last byte to the
                                        response head's (none) */
    int64_t timeout; /* a whole call: connect, send, the head and reading
                        the body to its end, as Go's Client.Timeout (none) */
    /* https: the PEM file of the CAs that may sign servers' certificates
     * (Go's RootCAs), copied; NULL: the system's store (OpenSSL's default
     * paths, which honour SSL_CERT_FILE and SSL_CERT_DIR as Go does). */
    const char *tls_ca_file;
    void *spare[7]; /* zero: room to grow without breaking plugins */
};
GORT_HTTP_STATIC_ASSERT(sizeof(struct gort_http_client_opts) ==
                            2 * sizeof(int) + 4 * sizeof(int64_t) +
                                sizeof(const char *) + 7 * sizeof(void *),
                        "gort_http_client_opts is ABI: grow into spare");

/* A client; opts may be NULL (every default: Go's zero Client). Copies
 * opts. NULL when out of memory. */
GORT_API gort_http_client *
gort_http_client_new(const struct gort_http_client_opts *opts);

/* Closes the idle connections and frees the client. No response of it may
 * still be open. NULL is fine. */
GORT_API void gort_http_client_free(gort_http_client *c);

/* Go's CloseIdleConnections: closes the idle connections now. */
GORT_API void gort_http_client_close_idle(gort_http_client *c);

/* A request for method ("GET", any token) and url
 * ("http[s]://host[:port][/path][?query]"; a fragment is dropped). Never
 * fails but for memory (NULL; gort_http_do then returns -ENOMEM): a bad
 * method or URL is remembered and returned by gort_http_do, with
 * gort_http_creq_error saying what was wrong, so one check covers the
 * whole request. The request sends Host (from the URL), User-Agent
 * ("gort-http-client/1.1"; set to "" to send none, as in Go) and its
 * framing fields itself. */
GORT_API gort_http_creq *gort_http_creq_new(const char *method,
                                            const char *url);
GORT_API void gort_http_creq_free(gort_http_creq *rq);

/* Header fields, sent in the order set. Host and User-Agent replace the
 * client's. Content-Length, Transfer-Encoding and Connection other than
 * "close" are the client's own: -EINVAL, as for a name that is not a token
 * or a value with CR, LF or NUL. "Connection: close" makes the connection
 * close after the response (Go's Request.Close). 0 or -ENOMEM. */
GORT_API int gort_http_creq_set_header(gort_http_creq *rq, const char *name,
                                       const char *value);
GORT_API int gort_http_creq_add_header(gort_http_creq *rq, const char *name,
                                       const char *value);

/* A body from a buffer, sent with Content-Length. Not copied: buf must
 * stay valid until gort_http_do returns (it may be sent twice, see the
 * retry rule above). */
GORT_API int gort_http_creq_set_body(gort_http_creq *rq, const void *buf,
                                     size_t n);

/* A body from a reader, called until it returns 0 (the end) or < 0 (an
 * error that aborts the call with that code): read(arg, buf, n) fills at
 * most n bytes of buf and returns how many. length >= 0 is sent as
 * Content-Length (the reader must give exactly that many bytes); -1 sends
 * the body chunked. A request with a reader is never retried. */
typedef ssize_t (*gort_http_body_reader)(void *arg, void *buf, size_t n);
GORT_API int gort_http_creq_set_body_reader(gort_http_creq *rq,
                                            gort_http_body_reader read,
                                            void *arg, int64_t length);

/* The request's deadline, an absolute gort_nanotime() (0: none): connect,
 * send, wait and read the body, all by then. With the client's timeouts,
 * the earliest wins. */
GORT_API int gort_http_creq_set_deadline(gort_http_creq *rq,
                                         int64_t deadline_ns);

/* Go's NewRequestWithContext: ctx bounds the call as the deadline does
 * (its deadline joins the others) and its cancellation ends whatever the
 * call waits for at once: the lookup, the connect, the send, the response
 * head, and later body reads (gort_http_cresp_read). The call or read then
 * fails with gort_ctx_err(ctx) (GORT_ECANCELED or GORT_EDEADLINE), is not
 * retried, and its connection is closed, never pooled. The request holds
 * a reference (released by gort_http_creq_free or the next set_ctx; the
 * response holds its own for body reads); NULL removes it. A handler
 * passes gort_http_request_ctx(r) so that a client that leaves cancels
 * the upstream call. */
GORT_API int gort_http_creq_set_ctx(gort_http_creq *rq, gort_ctx *ctx);

/* Why the last gort_http_do (or the URL, or a setter) failed, in words:
 * "dial tcp 127.0.0.1:9: connection refused"; "" when nothing failed. Valid
 * until the request is used again or freed. */
GORT_API const char *gort_http_creq_error(const gort_http_creq *rq);

/* Client.Do: sends rq and reads the response head. 0 with *out set (the
 * caller reads the body, then gort_http_cresp_close), or a negative error
 * (see above) and *out NULL. A status like 404 or 500 is a response, not
 * an error. Interim responses (1xx) are skipped; a redirect is returned as
 * it is (no redirect is followed). rq may be sent again afterwards. */
GORT_API int gort_http_do(gort_http_client *c, gort_http_creq *rq,
                          gort_http_cresp **out);

GORT_API int gort_http_cresp_status(const gort_http_cresp *rs);
/* "HTTP/1.1" or "HTTP/1.0" */
GORT_API const char *gort_http_cresp_proto(const gort_http_cresp *rs);
/* The reason phrase as sent ("OK"); may be "". */
GORT_API const char *gort_http_cresp_reason(const gort_http_cresp *rs);
/* First value of header name (case-insensitive), or NULL. */
GORT_API const char *gort_http_cresp_header(const gort_http_cresp *rs,
                                            const char *name);
/* Header i (0-based) in arrival order; NULL past the end. */
GORT_API const char *gort_http_cresp_header_at(const gort_http_cresp *rs,
                                               size_t i, const char **value);
/* Adds header i of rs to w's response, as gort_http_add_header(w, name,
 * value) would (a Content-Length is the same promise), without checking
 * again the bytes the client's parser checked: a proxy copying the fields
 * it passes on (Go's copyHeader). 0 (also past the end of rs's fields, or
 * once the head is written), -EINVAL, or -ENOSPC when w holds no more. */
GORT_API int gort_http_copy_header(gort_http_response *w,
                                   const gort_http_cresp *rs, size_t i);
/* Content-Length of the body, -1 when unknown (chunked, until close). 0 for
 * a response that has no body (HEAD, 1xx, 204, 304). */
GORT_API int64_t gort_http_cresp_content_length(const gort_http_cresp *rs);
/* 1 when the response came on a connection that served an earlier one
 * (httptrace's GotConnInfo.Reused), else 0. */
GORT_API int gort_http_cresp_reused(const gort_http_cresp *rs);

/* Reads the body as it arrives (Content-Length, chunked decoded, or until
 * the server closes): > 0 bytes, 0 at the end, < 0 an error (-ETIMEDOUT,
 * -ECONNRESET cut short, -EBADMSG bad chunked framing). */
GORT_API ssize_t gort_http_cresp_read(gort_http_cresp *rs, void *buf, size_t n);

/* Body.Close: frees the response. Its connection goes back to the client's
 * pool when the body was read to its end and the response allowed
 * keep-alive; otherwise it is closed. NULL is fine. */
GORT_API void gort_http_cresp_close(gort_http_cresp *rs);

#ifdef __cplusplus
}
#endif

#endif /* GORT_HTTP_H */
