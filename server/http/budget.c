/* http/budget.c — a process-wide bound on the memory connections hold for
 * request bytes.
 *
 * A connection holds a read buffer (4 KiB, grown by doubling up to
 * max_header_bytes + 4 KiB while a large head arrives) and, for a head
 * larger than the request's stack copy, a heap copy of its strings
 * (request.c). With the defaults that is up to ~2 MiB per connection, times
 * 10,000 connections: ~20 GiB that a few thousand clients sending large
 * heads slowly could make gortd ask for. Per-connection limits cannot
 * bound that product; a budget shared by every connection can. Every byte
 * of those buffers is taken from the budget before it is allocated and
 * given back when freed; a request whose bytes do not fit is answered 503
 * and its connection closed (conn.c), the memory others hold stays theirs.
 * nginx bounds the same thing per worker with large_client_header_buffers
 * (a count times a size); Go has no bound.
 *
 * The counter is one atomic: a take is a compare-and-swap loop, so the
 * limit is never passed even for a moment (an add-then-check would let a
 * burst overshoot before backing out).
 *
 * A connection gives its buffer up whenever it goes idle (an idle
 * keep-alive connection holds no memory for request bytes), so a kept-
 * alive connection takes one per request. The first-size buffers
 * (HTTP_READ_CHUNK) a release frees go to a small cache instead, up to
 * HTTP_BUF_CACHE of them (256 KiB), and the next connection takes one
 * from there: a 4 KiB malloc and free per request is past glibc's
 * per-thread cache, and cost more than this mutex (callgrind, proxy.so:
 * ~390 instructions per request before). The budget counts what
 * connections hold, so a cached buffer is given back when cached and
 * taken again when handed on: the cache never takes a connection's room.
 */
#include "http/budget.h"

#include <errno.h>
#include <stdlib.h>

#include "http/internal.h"

void http_budget_init(struct http_budget *b, int64_t limit)
{
    b->limit = limit;
    atomic_init(&b->used, 0);
    atomic_init(&b->denied, 0);
    pthread_mutex_init(&b->lock, NULL);
    b->ncached = 0;
}

/* A cached first-size buffer, or NULL. */
static char *cache_get(struct http_budget *b)
{
    char *p = NULL;
    pthread_mutex_lock(&b->lock);
    if (b->ncached > 0)
        p = b->cached[--b->ncached];
    pthread_mutex_unlock(&b->lock);
    return p;
}

/* Keeps p (a first-size buffer) for the next connection: false when the
 * cache is full. */
static bool cache_put(struct http_budget *b, char *p)
{
    pthread_mutex_lock(&b->lock);
    bool kept = b->ncached < HTTP_BUF_CACHE;
    if (kept)
        b->cached[b->ncached++] = p;
    pthread_mutex_unlock(&b->lock);
    return kept;
}

bool http_budget_take(struct http_budget *b, size_t n)
{
    if (!b)
        return true;
    int64_t used = atomic_load_explicit(&b->used, memory_order_relaxed);
    do {
        if ((int64_t)n > b->limit - used) {
            atomic_fetch_add_explicit(&b->denied, 1, memory_order_relaxed);
            return false;
        }
    } while (!atomic_compare_exchange_weak_explicit(
        &b->used, &used, used + (int64_t)n, memory_order_relaxed,
        memory_order_relaxed));
    return true;
}

void http_budget_give(struct http_budget *b, size_t n)
{
    if (b && n)
        atomic_fetch_sub_explicit(&b->used, (int64_t)n, memory_order_relaxed);
}

int http_buf_grow(struct http_conn *c, size_t cap)
{
    struct http_budget *b = c->srv->cfg.budget;
    size_t more = cap - c->cap;
    if (!http_budget_take(b, more))
        return -ENOMEM;
    char *nb = NULL;
    if (b && !c->buf && cap == HTTP_READ_CHUNK)
        nb = cache_get(b);
    if (!nb)
        nb = realloc(c->buf, cap);
    if (!nb) {
        http_budget_give(b, more);
        return -ENOMEM;
    }
    c->buf = nb;
    c->cap = cap;
    return 0;
}

void http_buf_release(struct http_conn *c)
{
    struct http_budget *b = c->srv->cfg.budget;
    http_budget_give(b, c->cap);
    if (!(b && c->buf && c->cap == HTTP_READ_CHUNK && cache_put(b, c->buf)))
        free(c->buf);
    c->buf = NULL;
    c->cap = c->len = c->off = 0;
}
