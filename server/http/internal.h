/* http/internal.h — what the HTTP server's files share. */
#ifndef GORT_HTTP_INTERNAL_H
#define GORT_HTTP_INTERNAL_H

#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/list.h"
#include "http/parse.h"
#include "http/server.h"
#include "http/mux.h"

#define HTTP_READ_CHUNK 4096
#define HTTP_BODY_BUF 4096 /* buffered body: under it, Content-Length */
#define HTTP_MAX_RESP_HEADERS 32
#define HTTP_RESP_ARENA 2048
#define HTTP_DRAIN_MAX (256 * 1024) /* unread body we skip to keep alive */

struct httpd_server {
    int lfd;
    struct httpd_config cfg;
    struct mux *_Atomic mux;
    _Atomic uint64_t gen;       /* bumped by every mux swap */
    _Atomic int64_t readers[2]; /* requests using the mux of gen & 1 */
    pthread_mutex_t swap_lock;

    pthread_mutex_t conns_lock; /* the registry, never held across a park */
    struct ilist conns;         /* all open connections (http_conn.link) */
    struct ilist idle;          /* idle ones, oldest first (idle_link) */
    int64_t evicting;           /* closed for room, not yet gone */
    _Atomic int shutting_down;
    _Atomic int64_t listener_id; /* 0 once the listener goroutine exited */

    _Atomic uint64_t nconns, nidle, conns_total, in_flight, requests;
    _Atomic uint64_t by_class[6];
    _Atomic uint64_t bad_requests;
};

struct http_conn {
    struct httpd_server *srv;
    int fd;
    _Atomic bool idle; /* on srv->idle; written under srv->conns_lock */
    bool evicted;      /* closed to make room (counted in srv->evicting) */
    char remote[64];
    char *buf;            /* read buffer, NULL while idle */
    size_t cap, len, off; /* bytes [off, len) are unconsumed */
    uint64_t nreq;
    struct ilist_node link;      /* in srv->conns, under srv->conns_lock */
    struct ilist_node idle_link; /* in srv->idle while idle */
};

struct gort_http_request {
    struct http_conn *c;
    const struct http_req_head *head;
    struct mux_match *match;
    char *strs; /* NUL-terminated copies, see request_init */
    const char *method, *target, *path, *query, *proto, *host;
    const char **hname, **hvalue; /* nheaders entries in strs */
    size_t nheaders;
    /* body */
    int64_t body_left; /* Content-Length bytes not yet read */
    bool chunked, body_done, expect_continue, continue_sent;
    struct http_chunked dec;
    int body_err;
};

struct gort_http_response {
    struct http_conn *c;
    struct gort_http_request *req;
    int status;
    bool wrote_header, chunked, head_only, close_after, aborted, failed;
    bool te_chunked;        /* the handler asked for chunked framing */
    int64_t content_length; /* set by the handler, or -1 */
    size_t nh;
    const char *hname[HTTP_MAX_RESP_HEADERS], *hvalue[HTTP_MAX_RESP_HEADERS];
    char arena[HTTP_RESP_ARENA];
    size_t arena_used;
    char body[HTTP_BODY_BUF];
    size_t blen;
    int64_t body_written;
    jmp_buf *abort_jb;
};

/* conn.c */
void http_conn_serve(void *arg);
int http_conn_read_more(struct http_conn *c);

/* http_response.c */
void http_response_init(struct gort_http_response *w, struct http_conn *c,
                        struct gort_http_request *r, bool head_only,
                        bool close_after);
int http_response_finish(struct gort_http_response *w);
/* A complete response written by the server itself (errors, redirects). */
int http_simple_response(struct http_conn *c, int status, const char *extra,
                         const char *body, bool close);
int http_conn_write(struct http_conn *c, const void *buf, size_t n);

/* http_request.c */
int http_request_init(struct gort_http_request *r, struct http_conn *c,
                      const struct http_req_head *head, char *small,
                      size_t smallcap);
void http_request_free(struct gort_http_request *r, char *small);
/* Skips what the handler left unread; false when the connection cannot be
 * reused (too much left, or the body is broken). */
bool http_request_drain(struct gort_http_request *r);

#endif /* GORT_HTTP_INTERNAL_H */
