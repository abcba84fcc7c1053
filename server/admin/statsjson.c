/* admin/statsjson.c — the dashboard's stats as JSON.
 *
 * The shape is what dashboard.html reads: counters as they are (the page
 * takes rates from successive snapshots, as `top` does), the per-P queues,
 * goroutines and Ms by state, the latency histogram with its bucket bounds,
 * and per-plugin counters. Strings that come from outside (plugin names)
 * are escaped exactly as the JSON log escapes them (glog_json_escape), so
 * no name can break the document. Built whole in a textbuf, like /metrics.
 */
#include "admin/statsjson.h"

#include <inttypes.h>
#include <stdio.h>

#include "log.h"

static void put_u64(struct textbuf *t, const char *key, uint64_t v, bool comma)
{
    char num[96];
    int n = snprintf(num, sizeof num, "%s\"%s\":%" PRIu64, comma ? "," : "",
                     key, v);
    textbuf_put(t, num, (size_t)n);
}

static void put_string(struct textbuf *t, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    textbuf_put(t, "\"", 1);
    while (n > 0) {
        size_t run = 0;
        while (run < n && p[run] >= 0x20 && p[run] < 0x7f && p[run] != '"' &&
               p[run] != '\\')
            run++;
        textbuf_put(t, (const char *)p, run);
        p += run;
        n -= run;
        if (n == 0)
            break;
        char esc[8];
        size_t used;
        size_t k = glog_json_escape(p, n, esc, &used);
        textbuf_put(t, esc, k);
        p += used;
        n -= used;
    }
    textbuf_put(t, "\"", 1);
}

static const char *p_status(int st)
{
    static const char *const names[] = {"idle", "running", "syscall", "dead"};
    return st >= 0 && st < 4 ? names[st] : "unknown";
}

static void put_procs(struct textbuf *t, const struct gort_stats *s)
{
    textbuf_puts(t, ",\"procs\":[");
    bool first = true;
    for (int i = 0; i < s->nprocs; i++) {
        const struct gort_p_stats *p = &s->procs[i];
        if (p->status == GORT_P_DEAD)
            continue;
        textbuf_puts(t, first ? "{" : ",{");
        first = false;
        put_u64(t, "id", (uint64_t)p->id, false);
        textbuf_puts(t, ",\"status\":");
        put_string(t, p_status(p->status));
        put_u64(t, "runq", p->runq_len, true);
        put_u64(t, "runnext", (uint64_t)p->runnext, true);
        put_u64(t, "steals_in", p->steals_in, true);
        put_u64(t, "schedticks", p->schedticks, true);
        put_u64(t, "idle_ns", p->idle_ns, true);
        textbuf_puts(t, "}");
    }
    textbuf_puts(t, "]");
}

static void put_latency(struct textbuf *t, const struct gort_stats *s)
{
    textbuf_puts(t, ",\"sched_latency\":{\"bounds_ns\":[");
    for (int i = 0; i < GORT_LAT_BUCKETS - 1; i++) {
        char num[32];
        int n = snprintf(num, sizeof num, "%s%" PRIu64, i ? "," : "",
                         (uint64_t)GORT_LAT_BUCKET_NS(i));
        textbuf_put(t, num, (size_t)n);
    }
    textbuf_puts(t, "],\"counts\":[");
    for (int i = 0; i < GORT_LAT_BUCKETS; i++) {
        char num[32];
        int n = snprintf(num, sizeof num, "%s%" PRIu64, i ? "," : "",
                         s->sched_latency[i]);
        textbuf_put(t, num, (size_t)n);
    }
    textbuf_puts(t, "]");
    put_u64(t, "sample_every", GORT_LAT_SAMPLE_RATE, true);
    textbuf_puts(t, "}");
}

static void put_runtime(struct textbuf *t, const struct gort_stats *s)
{
    put_u64(t, "uptime_ns", (uint64_t)s->uptime_ns, true);
    put_u64(t, "gomaxprocs", (uint64_t)s->gomaxprocs, true);
    put_u64(t, "global_runq", s->global_runq_len, true);
    put_u64(t, "ctx_switches", s->ctx_switches, true);
    put_procs(t, s);
    textbuf_puts(t, ",\"goroutines\":{");
    put_u64(t, "live", s->g_live, false);
    put_u64(t, "runnable", s->g_runnable, true);
    put_u64(t, "running", s->g_running, true);
    put_u64(t, "waiting", s->g_waiting, true);
    put_u64(t, "syscall", s->g_syscall, true);
    textbuf_puts(t, "},\"threads\":{");
    put_u64(t, "total", (uint64_t)s->m_total, false);
    put_u64(t, "running", (uint64_t)s->m_running, true);
    put_u64(t, "spinning", (uint64_t)s->m_spinning, true);
    put_u64(t, "idle", (uint64_t)s->m_idle, true);
    put_u64(t, "syscall", (uint64_t)s->m_syscall, true);
    textbuf_puts(t, "}");
    put_latency(t, s);
}

static void put_http(struct textbuf *t, const struct httpd_stats *h)
{
    textbuf_puts(t, ",\"http\":{");
    put_u64(t, "requests", h->requests, false);
    put_u64(t, "conns_open", h->conns_open, true);
    put_u64(t, "conns_idle", h->conns_idle, true);
    put_u64(t, "in_flight", h->in_flight, true);
    put_u64(t, "bad_requests", h->bad_requests, true);
    textbuf_puts(t, "}");
}

static void put_plugins(struct textbuf *t, const struct metrics_source *src)
{
    textbuf_puts(t, ",\"plugins\":[");
    for (size_t i = 0; i < src->nplugins; i++) {
        const struct plugin_status *p = &src->plugins[i];
        textbuf_puts(t, i ? ",{\"name\":" : "{\"name\":");
        put_string(t, p->name);
        textbuf_puts(t, ",\"version\":");
        put_string(t, p->version);
        put_u64(t, "requests", p->requests, true);
        put_u64(t, "errors", p->errors, true);
        put_u64(t, "in_flight", p->in_flight, true);
        textbuf_puts(t, "}");
    }
    textbuf_puts(t, "]");
}

void statsjson_write(struct textbuf *t, const struct metrics_source *src)
{
    textbuf_puts(t, "{\"version\":1");
    if (src->rt)
        put_runtime(t, src->rt);
    if (src->http)
        put_http(t, src->http);
    put_plugins(t, src);
    textbuf_puts(t, "}\n");
}
