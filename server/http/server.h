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

struct httpd_config {
    int64_t read_header_timeout_ns; /* head of a request, from its 1st byte */
    int64_t idle_timeout_ns;        /* keep-alive wait for the next request */
    int64_t write_timeout_ns;       /* writing one response */
    int64_t shutdown_timeout_ns;    /* graceful shutdown bound */
    size_t max_header_bytes;        /* → 431 */
    size_t max_uri_bytes;           /* → 414 */
    int64_t max_body_bytes;         /* → 413 */
    int max_conns;                  /* beyond: close the longest idle */
    int quiet;                      /* no log record for refused requests */
    /* Route owners (mux_handle's owner token) the server keeps alive
     * around a request: pin runs when the request matched a route whose
     * owner is not NULL, before the request lets go of the route table;
     * unpin after its handler returned. gortd's plugin loader counts a
     * plugin's requests this way. Both NULL: nothing is pinned. */
    void (*route_pin)(const void *owner);
    void (*route_unpin)(const void *owner);
};

/* Defaults: 10 s header, 120 s idle, 30 s write, 30 s shutdown, 1 MiB
 * headers, 8 KiB URI, 32 MiB body, 10,000 connections. */
void httpd_config_default(struct httpd_config *cfg);

struct httpd_stats {
    uint64_t conns_open;   /* accepted and not yet closed */
    uint64_t conns_idle;   /* waiting for their next request (no goroutine) */
    uint64_t conns_total;  /* accepted since start */
    uint64_t in_flight;    /* requests inside a handler */
    uint64_t requests;     /* responses completed */
    uint64_t by_class[6];  /* [1]..[5]: 1xx..5xx responses */
    uint64_t bad_requests; /* refused by the parser (4xx/5xx, no handler) */
};

struct httpd_server;

/* Creates a server on a listening socket it takes over (already bound and
 * listening). The mux is the initial route table; it stays the caller's. */
struct httpd_server *
httpd_server_new(int listen_fd, const struct httpd_config *c, struct mux *mux);
/* Starts the listener goroutine. Goroutine or any thread after gort_main. */
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
bool http_call(gort_http_response *w, gort_http_request *r, gort_http_handler h,
               void *arg);
/* Graceful shutdown: stop accepting, close idle connections, let in-flight
 * requests finish (bounded by shutdown_timeout_ns). Goroutine only.
 * Returns 0, or -ETIMEDOUT when connections were still busy at the end. */
int httpd_server_shutdown(struct httpd_server *s);
void httpd_server_stats(struct httpd_server *s, struct httpd_stats *out);
void httpd_server_free(struct httpd_server *s);

/* "127.0.0.1:8080", ":8080", "[::1]:8080", "localhost:8080" → a listening
 * socket (SO_REUSEADDR, close-on-exec), or a negative errno; *err gets a
 * message for the user. */
int httpd_listen(const char *addr, int backlog, char *err, size_t errlen);
/* The address a listening socket is bound to, "127.0.0.1:8080" or
 * "[::1]:8080" (port 0 in the listen address becomes the kernel's pick).
 * 0 or a negative errno. */
int httpd_local_addr(int fd, char *out, size_t n);

#endif /* GORT_HTTP_SERVER_H */
