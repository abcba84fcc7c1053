/* http/budget.h — the memory a server's connections may hold for request
 * bytes (read buffers, large heads' copies), bounded process-wide. */
#ifndef GORT_HTTP_BUDGET_H
#define GORT_HTTP_BUDGET_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Free read buffers kept for the next request (budget.c). */
#define HTTP_BUF_CACHE 64

struct http_budget {
    int64_t limit;           /* bytes; fixed at creation */
    _Atomic int64_t used;    /* bytes taken and not given back */
    _Atomic uint64_t denied; /* takes refused since start */
    pthread_mutex_t lock;    /* the cache */
    int ncached;
    char *cached[HTTP_BUF_CACHE]; /* HTTP_READ_CHUNK each, not in used */
};

/* A budget of limit bytes (> 0), none taken. Static storage suits it: a
 * connection cut at a shutdown timeout may still give bytes back while the
 * process exits. */
void http_budget_init(struct http_budget *b, int64_t limit);
/* Takes n bytes; false (and nothing taken) when that would pass the
 * limit. b NULL: no budget, always true. */
bool http_budget_take(struct http_budget *b, size_t n);
void http_budget_give(struct http_budget *b, size_t n);

struct http_conn;
/* Grows the connection's read buffer to cap bytes (contents kept): 0,
 * -ENOMEM when the budget or malloc says no (the buffer is as it was). */
int http_buf_grow(struct http_conn *c, size_t cap);
/* Frees the read buffer and gives its bytes back. */
void http_buf_release(struct http_conn *c);

#endif /* GORT_HTTP_BUDGET_H */
