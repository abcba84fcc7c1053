/* http/parse.h — the HTTP/1.1 request-head and response-head parsers and
 * the chunked-body decoder (RFC 9110, RFC 9112). Zero-copy: every string is a
 * slice of the caller's buffer. No allocation, no global state; safe to call
 * from any goroutine.
 *
 * Errors are negative HTTP status codes (-400, -413, -414, -431, -501, -505):
 * the server answers with the status and closes the connection.
 *
 * Internal to gortd (prefix http_); the plugin-facing request API in
 * gort/http.h is built on top of it.
 */
#ifndef GORT_HTTP_PARSE_H
#define GORT_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HTTP_MAX_HEADERS 100                     /* field lines per head */
#define HTTP_DEFAULT_MAX_HEADER_BYTES (1u << 20) /* Go's 1 MiB */
#define HTTP_DEFAULT_MAX_URI_BYTES (8u << 10)
#define HTTP_MAX_METHOD 64 /* longer is malformed: 400 */

/* A slice of the parsed buffer; ptr is NULL when the part is absent. */
struct http_str {
    const char *ptr;
    size_t len;
};

struct gort_http_header {
    struct http_str name;  /* as sent; a token, never empty */
    struct http_str value; /* leading and trailing SP/HTAB trimmed */
};

/* Zero (or a NULL pointer) selects the default for a field. */
struct httpd_limits {
    size_t max_header_bytes; /* whole head incl. request line → 431 */
    size_t max_uri_bytes;    /* request-target → 414 */
};

/* Filled by http_parse_request; meaningful only after it returned > 0.
 * Slices point into the parsed buffer and live as long as it does. */
struct http_req_head {
    struct http_str method;       /* case-sensitive token: "GET" */
    struct http_str target;       /* request-target as sent */
    struct http_str path;         /* origin-form: target up to '?';
                                   * absolute-form: its path ("/" when empty,
                                   * then not in the buffer); "*" for
                                   * OPTIONS *; absent for CONNECT host:port */
    struct http_str query;        /* after '?' without it; absent: no '?' */
    struct http_str host;         /* authority of an absolute-form or CONNECT
                                   * target, else the Host field (may be
                                   * empty); absent: HTTP/1.0 without Host */
    int version_major;            /* always 1 */
    int version_minor;            /* as sent; >= 1 means HTTP/1.1 rules */
    int64_t content_length;       /* -1: no Content-Length field */
    unsigned chunked : 1;         /* Transfer-Encoding: chunked */
    unsigned keep_alive : 1;      /* the connection may serve another request */
    unsigned expect_continue : 1; /* HTTP/1.1 Expect: 100-continue */
    unsigned expect_unsupported : 1; /* another expectation: answer 417 */
    const char *why; /* after a refusal, net/http's words for some of them
                      * ("missing required Host header"), else NULL */
    size_t nheaders;
    struct gort_http_header headers[HTTP_MAX_HEADERS]; /* in order */
};

/* Parses the request head at the start of buf[0..len): optional empty lines,
 * the request line, the field lines, the empty line. Returns
 *   > 0  the head is complete: its length in bytes (the body or the next
 *        pipelined request starts at buf + return value);
 *   0    more bytes are needed: call again with the same bytes and more;
 *   < 0  a status: -400, -414, -431, -501 or -505. 414, 431 and a bad
 *        request line come as soon as they are certain, before the head is
 *        complete, so a client cannot make the server buffer a doomed head.
 * A request without Content-Length or chunked has no body (content_length
 * -1, chunked 0). lim may be NULL. */
int http_parse_request(const char *buf, size_t len,
                       const struct httpd_limits *lim,
                       struct http_req_head *out);

/* The same, for a connection that feeds its buffer piece by piece:
 * *scanned carries, between calls that returned 0, how far the search for
 * the end of the head got, so each call costs only the new bytes rather than
 * the whole buffer again (a client trickling a 1 MiB head one byte at a time
 * would otherwise cost the server half a terabyte of scanning). Set *scanned
 * to 0 before the first call for a connection; the parser sets it back to 0
 * whenever it returns non-zero, ready for the next request. The bytes
 * already seen must not change between calls (moving them is fine if the
 * request still starts at buf). The connection loop should use this one. */
int http_parse_request_resume(const char *buf, size_t len,
                              const struct httpd_limits *lim,
                              struct http_req_head *out, size_t *scanned);

/* The value of the first field named name (ASCII case-insensitive), *len set
 * to its length; NULL when there is none. len may be NULL. */
const char *http_head_get(const struct http_req_head *head, const char *name,
                          size_t *len);

/* ---- response heads (the HTTP client) ----------------------------------- */

/* The length of s when it is a token (RFC 9110 tchar: a method, a field
 * name), else 0 (empty, or another byte in it). */
size_t http_token_len(const char *s);

/* Filled by http_parse_response; meaningful only after it returned > 0. */
struct http_resp_head {
    int version_minor;       /* HTTP/1.x: x */
    int status;              /* 100..599 */
    struct http_str reason;  /* may be empty */
    int64_t content_length;  /* -1: none (or overridden by chunked) */
    unsigned chunked : 1;    /* Transfer-Encoding: chunked */
    unsigned keep_alive : 1; /* the connection may carry another request */
    size_t nheaders;
    struct gort_http_header headers[HTTP_MAX_HEADERS]; /* in order */
};

/* Parses the response head at the start of buf[0..len): the status line,
 * the field lines, the empty line. Returns its length (> 0), 0 when more
 * bytes are needed, or a status: -400 malformed (status line, a field,
 * framing), -431 over max_head (0: HTTP_DEFAULT_MAX_HEADER_BYTES) or more
 * than HTTP_MAX_HEADERS fields, -501 a transfer coding other than chunked,
 * -505 not HTTP/1.x. Bytes that cannot start "HTTP/1.x " fail at once.
 * scanned works as in http_parse_request_resume (may be NULL). Framing
 * rules are in parse.c ("response heads"); whether there is a body at all
 * (HEAD, 1xx, 204, 304) is the caller's to decide. */
int http_parse_response(const char *buf, size_t len, size_t max_head,
                        struct http_resp_head *out, size_t *scanned);

/* ---- chunked bodies (RFC 9112 §7.1): requests and responses ------------ */

/* Decoder state. http_chunked_init sets the limits to their defaults;
 * the caller may change them before the first decode call. Other fields
 * belong to the decoder. */
struct http_chunked {
    size_t max_line;    /* chunk-size line incl. extensions (4096) → 400 */
    size_t max_trailer; /* trailer section bytes (64 KiB) → 400 */
    uint64_t max_body;  /* decoded bytes, 0 = unlimited → 413 */
    uint64_t total;     /* decoded bytes so far */
    uint64_t size;      /* size being read, then data left in the chunk */
    size_t line_len;    /* bytes of the current chunk-size line */
    size_t trailer_len; /* bytes of the trailer section so far */
    int state;          /* private to parse.c */
    int error;          /* sticky: the status the decoder failed with */
};

void http_chunked_init(struct http_chunked *st);

/* Decodes in[0..inlen) into out[0..outcap). Returns the number of body bytes
 * written to out (0 is fine: the input held only framing, or outcap is 0) or
 * a negative status (-400 malformed, -413 over max_body; repeated by every
 * later call). *consumed is set to the input bytes used; the caller keeps
 * the rest for the next call. Decoding stops when the input is used up,
 * when out is full and data remains, or at the end of the body (after the
 * trailers, which are checked and dropped): then http_chunked_done is
 * true and the bytes after *consumed belong to the next request.
 * out may be equal to in (decoding in place): the output never overtakes
 * the input. Framing lines end in CRLF only: a bare LF or a bare CR is 400
 * (unlike the head; parse.c says why). */
ssize_t http_chunked_decode(struct http_chunked *st, const char *in,
                            size_t inlen, size_t *consumed, char *out,
                            size_t outcap);

/* 1 once the last chunk and the trailer section have been decoded. */
int http_chunked_done(const struct http_chunked *st);

#ifdef __cplusplus
}
#endif

#endif /* GORT_HTTP_PARSE_H */
