/* http/server.h — gortd's HTTP/1.1 server: listener, connections, limits,
 * graceful shutdown. The handler-facing API is include/gort/http.h.
 */
#ifndef GORT_HTTP_SERVER_H
#define GORT_HTTP_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "gort/http.h"
#include "http/mux.h"

struct http_budget;

struct httpd_config {
    int64_t read_header_timeout_ns; /* head of a request, from its 1st byte */
    int64_t read_timeout_ns;        /* head and body, from the head's start
                                       (Go's ReadTimeout); 0: none */
    int64_t body_idle_timeout_ns;   /* longest wait for one read of a body
                                       (nginx's client_body_timeout); 0: none */
    int64_t idle_timeout_ns;        /* keep-alive wait for the next request */
    int64_t write_timeout_ns;       /* writing one response */
    int64_t shutdown_timeout_ns;    /* graceful shutdown bound */
    size_t max_header_bytes;        /* → 431 */
    size_t max_uri_bytes;           /* → 414 */
    int64_t max_body_bytes;         /* → 413; 0: no limit */
    int max_conns;                  /* beyond: close the longest idle */
    size_t handler_stack;           /* a connection goroutine's stack
                                       reservation; 0: the runtime's */
    int quiet;                      /* no log record for refused requests */
    /* Bytes every connection's read buffer and large-head copy may hold
     * together (http/budget.h); a request beyond it gets 503 and its
     * connection closes. NULL: no bound. The caller's, shareable. */
    struct http_budget *budget;
    /* Route owners (mux_handle's owner token) the server keeps alive
     * around a request: pin runs when the request matched a route whose
     * owner is not NULL, before the request lets go of the route table;
     * unpin after its handler returned. gortd's plugin loader counts a
     * plugin's requests this way. Both NULL: nothing is pinned. */
    void (*route_pin)(const void *owner);
    void (*route_unpin)(const void *owner);
    int access_log; /* a line per request to the access log (accesslog.h) */
};

/* Defaults: 10 s header, no whole-request bound, 60 s between two reads of
 * a body, 120 s idle, 30 s write, 30 s shutdown, 1 MiB headers, 8 KiB URI,
 * 32 MiB body, 10,000 connections, no buffer budget. */
void httpd_config_default(struct httpd_config *cfg);

#define HTTPD_DURATION_BUCKETS 16
/* The request duration histogram's upper bounds, in seconds. */
extern const double httpd_duration_bounds[HTTPD_DURATION_BUCKETS];

struct httpd_stats {
    uint64_t conns_open;    /* accepted and not yet closed */
    uint64_t conns_idle;    /* waiting for their next request (no goroutine) */
    uint64_t conns_total;   /* accepted since start */
    uint64_t conns_evicted; /* idle ones closed at max_conns for a new one */
    uint64_t in_flight;     /* requests inside a handler */
    uint64_t requests;      /* responses completed */
    uint64_t by_class[6];   /* [1]..[5]: 1xx..5xx responses */
    uint64_t bad_requests;  /* refused by the parser (4xx/5xx, no handler) */
    /* Requests served (routed or not; not the parser's refusals): how long
     * each took from its head parsed to its response written, in buckets
     * of httpd_duration_bounds (the last one +Inf), and its bytes: head and
     * body read in, response body out. */
    uint64_t duration_buckets[HTTPD_DURATION_BUCKETS + 1];
    uint64_t duration_sum_ns;
    uint64_t bytes_in, bytes_out;
    /* The request-buffer budget (http/budget.h), shared by every server
     * of the process: bytes taken, its limit (0: no budget), takes it
     * refused (each a 503 and a closed connection). */
    uint64_t buffer_bytes, buffer_limit, buffer_refused;
};

struct httpd_server;

/* Creates a server on a listening socket it takes over (already bound and
 * listening). The mux is the initial route table; it stays the caller's. */
struct httpd_server *
httpd_server_new(int listen_fd, const struct httpd_config *c, struct mux *mux);
/* Adds a listening socket the server takes over (before start): one
 * server, one route table and one set of limits for every address it
 * listens on. 0, or -ENOSPC past HTTPD_MAX_LISTENERS. */
#define HTTPD_MAX_LISTENERS 16
int httpd_server_add_listener(struct httpd_server *s, int listen_fd);
/* The same for a socket whose connections speak TLS with tls's certificate
 * (http/tls.h; it stays the caller's and must outlive the server). Given
 * the socket httpd_server_new took, makes that one TLS. */
struct http_tls_server;
int httpd_server_add_listener_tls(struct httpd_server *s, int listen_fd,
                                  struct http_tls_server *tls);
/* Starts the listener goroutines (one per listening socket). Goroutine or
 * any thread after gort_main. */
int httpd_server_start(struct httpd_server *s);
/* Swaps the route table atomically and returns the previous one once no
 * request uses it any more, so the caller may free it. New requests see the
 * new table at once; one that is matching against the old table finishes
 * matching first (microseconds: a request keeps nothing of the table once
 * matched, and its route's owner is pinned by then, see route_pin). */
struct mux *httpd_server_swap_mux(struct httpd_server *s, struct mux *mux);
/* Calls h(w, r, arg) as the server calls a route's handler: a
 * gort_http_abort inside it ends h and returns here (false) instead of
 * unwinding further. For handler wrappers that must run code after h. */
/* http_call under a fault trap (gort/stats.h) set up by the caller with
 * t->object in the code it distrusts: a fault there ends the handler as an
 * abort does (500, or the connection cut) and returns false with t->sig
 * set and t->report holding the crash report. */
struct gort_fault_trap;
bool http_call_trapped(gort_http_response *w, gort_http_request *r,
                       gort_http_handler h, void *arg,
                       struct gort_fault_trap *t);
bool http_call(gort_http_response *w, gort_http_request *r, gort_http_handler h,
               void *arg);
/* Graceful shutdown: stop accepting, close idle connections, let in-flight
 * requests finish (bounded by shutdown_timeout_ns). At the bound, cancels
 * every request's context and waits up to one more second for the
 * handlers that honour it. Goroutine only. Returns 0 (all done within the
 * bound), -ECANCELED (the bound passed, and the cancelled requests then
 * ended: nothing runs any more), or -ETIMEDOUT (connections still busy;
 * httpd_server_stats tells how many). */
int httpd_server_shutdown(struct httpd_server *s);
void httpd_server_stats(struct httpd_server *s, struct httpd_stats *out);
void httpd_server_free(struct httpd_server *s);

/* "127.0.0.1:8080", ":8080", "[::1]:8080", "localhost:8080" → a listening
 * socket (SO_REUSEADDR, close-on-exec), or a negative errno; *err gets a
 * message for the user. */
int httpd_listen(const char *addr, int backlog, char *err, size_t errlen);
/* The form httpd_listen takes, checked without resolving or binding: 0, or
 * -EINVAL with *err saying why (no port, a port over 65535). */
int httpd_listen_addr_check(const char *addr, char *err, size_t errlen);
/* The same with options: HTTPD_LISTEN_REUSEPORT sets SO_REUSEPORT, so that
 * several processes listening on one port share its connections (the
 * kernel spreads them), for restarts without a refused connection and for
 * several gortd on one host. */
#define HTTPD_LISTEN_REUSEPORT 1
int httpd_listen_opts(const char *addr, int backlog, int opts, char *err,
                      size_t errlen);
/* The address a listening socket is bound to, "127.0.0.1:8080" or
 * "[::1]:8080" (port 0 in the listen address becomes the kernel's pick).
 * 0 or a negative errno. */
int httpd_local_addr(int fd, char *out, size_t n);

#endif /* GORT_HTTP_SERVER_H */
