/* http/internal.h — what the HTTP server's files share. */
#ifndef GORT_HTTP_INTERNAL_H
#define GORT_HTTP_INTERNAL_H

#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "common/list.h"
#include "http/parse.h"
#include "http/server.h"
#include "http/mux.h"
#include "http/tls.h"

#define HTTP_READ_CHUNK 4096
#define HTTP_BODY_BUF 4096 /* buffered body: under it, Content-Length */
/* A response's fields: HTTP_RESP_FIELDS_INLINE and HTTP_RESP_ARENA bytes
 * of names and values in the response (on the connection goroutine's
 * stack), the rest on the heap, up to HTTP_RESP_FIELDS_MAX fields and
 * HTTP_RESP_HEAD_MAX bytes (nginx's proxy buffer takes 4-8 KiB of an
 * upstream's head; Go no bound but its memory). */
#define HTTP_RESP_FIELDS_INLINE 32
#define HTTP_RESP_ARENA 2048
#define HTTP_RESP_FIELDS_MAX 1024
#define HTTP_RESP_HEAD_MAX (64 * 1024)
_Static_assert(HTTP_RESP_HEAD_MAX <= UINT16_MAX + 1,
               "a response field's stored lengths are uint16_t");
#define HTTP_DRAIN_MAX (256 * 1024) /* unread body we skip to keep alive */

struct httpd_listener {
    struct httpd_server *srv;
    int fd;
    struct http_tls_server *tls; /* NULL: plain HTTP */
};

struct httpd_server {
    struct httpd_listener lis[HTTPD_MAX_LISTENERS]; /* nlis of them */
    int nlis;
    struct httpd_config cfg;
    struct mux *_Atomic mux;
    _Atomic uint64_t gen;       /* bumped by every mux swap */
    _Atomic int64_t readers[2]; /* requests using the mux of gen & 1 */
    pthread_mutex_t swap_lock;

    pthread_mutex_t conns_lock; /* the registry, never held across a park */
    struct ilist conns;         /* all open connections (http_conn.link) */
    struct ilist idle;          /* idle ones, oldest first (idle_link) */
    int64_t evicting;           /* closed for room, not yet gone */
    _Atomic uint64_t evicted;   /* closed for room since start */
    _Atomic int shutting_down;
    _Atomic int listeners; /* accept goroutines still running */

    _Atomic uint64_t nconns, nidle, conns_total, in_flight, requests;
    _Atomic uint64_t by_class[6];
    _Atomic uint64_t bad_requests;
    gort_ctx *base_ctx; /* every request's parent: cancelled at the bound */
    struct http_reqstats *reqstats; /* observe.c; NULL: out of memory */
};

struct http_conn {
    struct httpd_server *srv;
    int fd;
    struct http_tls *tls; /* NULL: plain; the transport seam: transport.c */
    _Atomic bool idle;    /* on srv->idle; written under srv->conns_lock */
    bool evicted;         /* closed to make room (counted in srv->evicting) */
    bool linger;          /* the client may still be sending: see linger() */
    char remote[64];
    char *buf;            /* read buffer, NULL while idle */
    size_t cap, len, off; /* bytes [off, len) are unconsumed */
    int64_t req_deadline; /* the current request's read timeout, 0: none */
    uint64_t nreq;
    struct ilist_node link;      /* in srv->conns, under srv->conns_lock */
    struct ilist_node idle_link; /* in srv->idle while idle */
};

/* reqctx.c: the peer-close watch of a request's context. */
struct http_reqwatch {
    gort_waitgroup wg; /* the watch callback, until it has finished */
    _Atomic int stopping;
    bool armed;
    bool tls; /* the connection's bytes are TLS records */
    int fd;
    gort_ctx *ctx; /* the request's (its reference) */
};

struct gort_http_request {
    struct http_conn *c;
    gort_ctx *ctx; /* gort_http_request_ctx, made on first use */
    struct http_reqwatch watch;
    const struct http_req_head *head;
    struct mux_match *match;
    char *strs;       /* NUL-terminated copies, see request_init */
    size_t strs_heap; /* bytes of strs taken from the budget (0: on stack) */
    const char *method, *target, *path, *query, *proto, *host;
    const char **hname, **hvalue; /* nheaders entries in strs */
    size_t nheaders;
    /* body */
    int64_t body_left; /* Content-Length bytes not yet read */
    bool chunked, body_done, expect_continue, continue_sent;
    struct http_chunked dec;
    int body_err;
    struct http_defer *defers; /* gort_http_defer's, last first; owned */
};

struct gort_http_response {
    struct http_conn *c;
    struct gort_http_request *req;
    int status;
    bool wrote_header, chunked, head_only, close_after, aborted, failed;
    bool te_chunked;        /* the handler asked for chunked framing */
    bool pipelined;         /* another request was buffered behind this one */
    int64_t content_length; /* set by the handler, or -1 */
    size_t nh, hcap;        /* fields stored, and room in the arrays below */
    const char **hname, **hvalue; /* the _in arrays, or on the heap */
    uint16_t *hnl, *hvl;
    const char *hname_in[HTTP_RESP_FIELDS_INLINE];
    const char *hvalue_in[HTTP_RESP_FIELDS_INLINE];
    uint16_t hnl_in[HTTP_RESP_FIELDS_INLINE], hvl_in[HTTP_RESP_FIELDS_INLINE];
    void *harrays; /* the heap's arrays, once past the inline ones */
    unsigned has;  /* response.c's HAS_* bits: fields format_head asks for */
    char arena[HTTP_RESP_ARENA];
    size_t arena_used;
    size_t head_bytes;          /* of names and values stored */
    struct http_spill *spilled; /* strings past the arena, on the heap */
    char body[HTTP_BODY_BUF];
    size_t blen;
    const char *pend; /* a write too big for body, while its head goes */
    size_t pend_len;  /* out: the rest of what Content-Type sniffs */
    int64_t body_written;
    jmp_buf *abort_jb;
};

/* transport.c: every byte of a server connection, plain or TLS. recv is
 * gort_read (wait) or gort_read_nowait; sendv is gort_writev; pending:
 * bytes already received that no read has returned yet (TLS). */
ssize_t http_conn_recv(struct http_conn *c, void *buf, size_t n, bool wait);
ssize_t http_conn_sendv(struct http_conn *c, const struct iovec *iov, int n);
bool http_conn_pending(const struct http_conn *c);

/* conn.c */
void http_conn_serve(void *arg);
int http_conn_read_more(struct http_conn *c);

/* observe.c: a request completed (its response written or failed):
 * durations, bytes, the access log line. start_ns: gort_nanotime() when
 * its head was parsed. */
void http_request_done(struct http_conn *c, const gort_http_request *r,
                       const gort_http_response *w, size_t headlen,
                       int64_t start_ns);
/* The parser refused a head (status): its access log line, request "-". */
void http_request_refused(struct http_conn *c, int status);
struct http_reqstats *http_reqstats_new(void);
void http_reqstats_read(const struct http_reqstats *rs, struct httpd_stats *o);

/* http_response.c */
void http_response_init(struct gort_http_response *w, struct http_conn *c,
                        struct gort_http_request *r, bool head_only,
                        bool close_after);
int http_response_finish(struct gort_http_response *w);
/* Frees what the response took from the heap (fields past the inline
 * ones); it can be initialised again after. */
void http_response_release(struct gort_http_response *w);
/* gort_http_add_header for a field whose bytes a parser of ours already
 * checked (a client response's): name and value of known lengths. */
int http_response_add_checked(gort_http_response *w, const char *name,
                              size_t nl, const char *value, size_t vl);
/* A complete response written by the server itself (errors, redirects). */
/* A whole plain-text response; detail (or NULL) follows the reason in
 * the status line, as net/http words its refusals. */
int http_simple_response(struct http_conn *c, int status, const char *detail,
                         const char *extra, const char *body, bool close);
int http_conn_write(struct http_conn *c, const void *buf, size_t n);

/* reqctx.c */
void http_reqctx_body_done(struct gort_http_request *r);
/* The handler returned: stops the watch, cancels and releases the ctx. */
void http_reqctx_end(struct gort_http_request *r);

/* http_request.c */
int http_request_init(struct gort_http_request *r, struct http_conn *c,
                      const struct http_req_head *head, char *small,
                      size_t smallcap);
void http_request_free(struct gort_http_request *r, char *small);
/* Runs and frees r's deferred calls, last deferred first. */
void http_request_run_defers(struct gort_http_request *r);
/* Skips what the handler left unread; false when the connection cannot be
 * reused (too much left, or the body is broken). */
bool http_request_drain(struct gort_http_request *r);

#endif /* GORT_HTTP_INTERNAL_H */
