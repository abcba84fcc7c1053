/* http/observe.c — what the server records when a request completes: the
 * duration histogram, bytes in and out, and the access log line.
 *
 * conn.c calls http_request_done once per request it served, after the
 * response went out. The counters are sharded: each OS thread adds to the
 * shard its index picks (relaxed atomics on a cache line of its own), so
 * the Ps never bounce a shared line per request; a scrape sums the shards.
 * Two threads on one shard only share a line, they never lose a count.
 */
#include <stdlib.h>
#include <string.h>

#include "http/accesslog.h"
#include "http/internal.h"

#define SHARDS 32

struct shard {
    _Alignas(64) _Atomic uint64_t buckets[HTTPD_DURATION_BUCKETS + 1];
    _Atomic uint64_t sum_ns, count, bytes_in, bytes_out;
};

struct http_reqstats {
    struct shard shard[SHARDS];
};

/* Seconds; the last bucket is +Inf. Finer than Prometheus's defaults at
 * the low end: gortd answers in tens of microseconds. */
const double httpd_duration_bounds[HTTPD_DURATION_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10,
};

struct http_reqstats *http_reqstats_new(void)
{
    struct http_reqstats *rs = aligned_alloc(64, sizeof *rs);
    if (rs)
        memset(rs, 0, sizeof *rs);
    return rs;
}

static struct shard *my_shard(struct http_reqstats *rs)
{
    static _Atomic unsigned next;
    static _Thread_local int idx = -1;
    if (idx < 0)
        idx = (int)(atomic_fetch_add_explicit(&next, 1, memory_order_relaxed) %
                    SHARDS);
    return &rs->shard[idx];
}

static int bucket_of(int64_t ns)
{
    double s = (double)ns / 1e9;
    int i = 0;
    while (i < HTTPD_DURATION_BUCKETS && s > httpd_duration_bounds[i])
        i++;
    return i;
}

static void add(_Atomic uint64_t *c, uint64_t v)
{
    atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

void http_request_done(struct http_conn *c, const gort_http_request *r,
                       const gort_http_response *w, size_t headlen,
                       int64_t start_ns)
{
    int64_t dur = gort_nanotime() - start_ns;
    int status = w->status ? w->status : 200;
    int64_t sent = w->head_only ? 0 : w->body_written;
    int64_t body_in = r->chunked || r->head->content_length <= 0
                          ? 0
                          : r->head->content_length - r->body_left;
    struct http_reqstats *rs = c->srv->reqstats;
    if (rs) {
        struct shard *sh = my_shard(rs);
        add(&sh->buckets[bucket_of(dur)], 1);
        add(&sh->sum_ns, (uint64_t)(dur > 0 ? dur : 0));
        add(&sh->count, 1);
        add(&sh->bytes_in, headlen + (uint64_t)body_in);
        add(&sh->bytes_out, (uint64_t)(sent > 0 ? sent : 0));
    }
    if (c->srv->cfg.access_log && accesslog_enabled()) {
        struct accesslog_entry e = {
            .remote = c->remote,
            .method = r->method,
            .target = r->target,
            .proto = r->proto,
            .referer = gort_http_header(r, "Referer"),
            .user_agent = gort_http_header(r, "User-Agent"),
            .status = status,
            .body_bytes = sent,
            .duration_ns = dur,
        };
        accesslog_write(&e);
    }
}

void http_request_refused(struct http_conn *c, int status)
{
    if (!c->srv->cfg.access_log || !accesslog_enabled())
        return;
    struct accesslog_entry e = {.remote = c->remote, .status = status};
    accesslog_write(&e);
}

void http_reqstats_read(const struct http_reqstats *rs, struct httpd_stats *o)
{
    memset(o->duration_buckets, 0, sizeof o->duration_buckets);
    o->duration_sum_ns = o->bytes_in = o->bytes_out = 0;
    if (!rs)
        return;
    for (int i = 0; i < SHARDS; i++) {
        const struct shard *sh = &rs->shard[i];
        for (int b = 0; b <= HTTPD_DURATION_BUCKETS; b++)
            o->duration_buckets[b] +=
                atomic_load_explicit(&sh->buckets[b], memory_order_relaxed);
        o->duration_sum_ns +=
            atomic_load_explicit(&sh->sum_ns, memory_order_relaxed);
        o->bytes_in +=
            atomic_load_explicit(&sh->bytes_in, memory_order_relaxed);
        o->bytes_out +=
            atomic_load_explicit(&sh->bytes_out, memory_order_relaxed);
    }
}
