/* view.c — gortctl's tables and the live watch view.
 *
 * Numbers are shown the way Go shows them: durations in Go's syntax
 * ("1.2ms", "3m4s"), sizes in binary units. The scheduling-latency histogram
 * is summarised as percentiles read off its buckets; a bucket only bounds a
 * sample from above, so percentiles print as "< bound".
 *
 * The watch bar is the P's local run queue against the ring's fixed 256
 * slots, not against the busiest P: a fixed scale lets the eye compare
 * frames over time, and a full bar means what it means in the scheduler
 * (the next push spills half the ring to the global queue). Any non-empty
 * queue gets at least one mark so that light load still shows.
 */
#include "view.h"

#include <inttypes.h>
#include <string.h>

#include "cli/duration.h"

#define RING_SLOTS 256
#define BAR_WIDTH 40

void view_bytes(char *buf, size_t len, uint64_t n)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%" PRIu64 " B", n);
    else
        snprintf(buf, len, "%.1f %s", v, units[u]);
}

static const char *p_status(Gort__V1__PStatus st)
{
    switch (st) {
    case GORT__V1__PSTATUS__P_STATUS_IDLE:
        return "idle";
    case GORT__V1__PSTATUS__P_STATUS_RUNNING:
        return "running";
    case GORT__V1__PSTATUS__P_STATUS_SYSCALL:
        return "syscall";
    case GORT__V1__PSTATUS__P_STATUS_DEAD:
        return "dead";
    default:
        return "?";
    }
}

static int p_shown(const Gort__V1__Stats *s, const Gort__V1__ProcStats *p)
{
    return p->id < s->gomaxprocs ||
           p->status != GORT__V1__PSTATUS__P_STATUS_DEAD;
}

static uint64_t hist_total(const Gort__V1__Histogram *h)
{
    uint64_t t = 0;
    for (size_t i = 0; i < h->n_counts; i++)
        t += h->counts[i];
    return t;
}

/* "< 2.05µs" for percentile q (0..1) of the histogram. */
static void hist_quantile(const Gort__V1__Histogram *h, double q, char *buf,
                          size_t len)
{
    uint64_t total = hist_total(h), seen = 0;
    char d[32];
    for (size_t i = 0; i < h->n_counts; i++) {
        seen += h->counts[i];
        if ((double)seen >= q * (double)total) {
            if (i < h->n_bounds_ns) {
                cli_duration_format((int64_t)h->bounds_ns[i], d, sizeof d);
                snprintf(buf, len, "< %s", d);
            } else {
                cli_duration_format(
                    h->n_bounds_ns ? (int64_t)h->bounds_ns[h->n_bounds_ns - 1]
                                   : 0,
                    d, sizeof d);
                snprintf(buf, len, ">= %s", d);
            }
            return;
        }
    }
    snprintf(buf, len, "-");
}

/* Uptime to the millisecond (to the second past an hour): "1m3.042s". */
static void uptime_format(int64_t ns, char *buf, size_t len)
{
    int64_t unit = ns >= INT64_C(3600000000000) ? 1000000000 : 1000000;
    cli_duration_format(ns - ns % unit, buf, len);
}

static void header_print(FILE *f, const Gort__V1__Stats *s)
{
    char up[40];
    uptime_format(s->uptime_ns, up, sizeof up);
    fprintf(f, "gortd %s (gRPC core %s), up %s\n", s->version, s->grpc_version,
            up);
}

static void summary_print(FILE *f, const Gort__V1__Stats *s)
{
    const Gort__V1__GoroutineCounts *g = s->goroutines;
    const Gort__V1__MStats *m = s->ms;
    const Gort__V1__StackStats *st = s->stacks;
    char b[32];

    fprintf(f, "GOMAXPROCS    %d\n", s->gomaxprocs);
    if (g)
        fprintf(f,
                "goroutines    %" PRIu64 " live: %" PRIu64 " runnable, %" PRIu64
                " running, %" PRIu64 " waiting (%" PRIu64
                " in IO wait), %" PRIu64 " in syscall; %" PRIu64
                " created, %" PRIu64 " ran > 10ms\n",
                g->live, g->runnable, g->running, g->waiting, g->io_waiting,
                g->syscall, g->created, g->long_running);
    if (m)
        fprintf(f,
                "threads (M)   %d: %d running, %d spinning, %d idle, %d in "
                "syscall\n",
                m->total, m->running, m->spinning, m->idle, m->syscall);
    if (m)
        fprintf(f,
                "preemption    %d long runner(s) without a P; Ps retaken: "
                "%" PRIu64 " from long runners, %" PRIu64
                " from blocking calls; thread budget %d (%" PRIu64
                " refusals)\n"
                "blocking      %d of %d slots busy, %d waiting\n",
                m->long_runners, m->retakes_long, m->retakes_syscall, m->max,
                m->limit_hits, m->blocking_busy, m->blocking_max,
                m->blocking_queued);
    fprintf(f, "global runq   %" PRIu64 "\n", s->global_runq_len);
    fprintf(f, "switches      %" PRIu64 "\n", s->ctx_switches);
    if (s->netpoll) {
        fprintf(f,
                "netpoll       %" PRIu64 " wake-ups (%" PRIu64
                " by the poller thread, %" PRIu64 " by idle Ms), %" PRIu64
                " timers armed\n",
                s->netpoll->wakeups_thread + s->netpoll->wakeups_idle,
                s->netpoll->wakeups_thread, s->netpoll->wakeups_idle,
                s->netpoll->timers);
        fprintf(
            f, "sends         %" PRIu64 " batched in %" PRIu64 " submissions\n",
            s->netpoll->sends_batched, s->netpoll->send_batches);
    }
    if (st) {
        view_bytes(b, sizeof b, st->reserved_bytes);
        fprintf(f,
                "stacks        %" PRIu64 " guarded, %" PRIu64
                " canary-checked, %s reserved\n",
                st->guarded, st->canary, b);
    }
}

static void latency_print(FILE *f, const Gort__V1__Histogram *h)
{
    char p50[48], p90[48], p99[48];
    if (!h || hist_total(h) == 0) {
        fprintf(f, "sched latency no samples yet\n");
        return;
    }
    hist_quantile(h, 0.50, p50, sizeof p50);
    hist_quantile(h, 0.90, p90, sizeof p90);
    hist_quantile(h, 0.99, p99, sizeof p99);
    fprintf(f, "sched latency p50 %s, p90 %s, p99 %s (%" PRIu64 " samples)\n",
            p50, p90, p99, hist_total(h));
}

static void http_print(FILE *f, const Gort__V1__HttpStats *h)
{
    if (!h)
        return;
    fprintf(f,
            "http          %" PRIu64 " connections (%" PRIu64 " idle), %" PRIu64
            " in flight; requests 1xx %" PRIu64 " 2xx %" PRIu64 " 3xx %" PRIu64
            " 4xx %" PRIu64 " 5xx %" PRIu64 "\n",
            h->conns_open, h->conns_idle, h->in_flight, h->requests_1xx,
            h->requests_2xx, h->requests_3xx, h->requests_4xx, h->requests_5xx);
}

static void plugins_print(FILE *f, const Gort__V1__Stats *s)
{
    if (s->n_plugins == 0)
        return;
    fprintf(f, "\n%-20s %10s %10s %10s %10s\n", "PLUGIN", "GOROUTINES",
            "IN-FLIGHT", "REQUESTS", "ERRORS");
    for (size_t i = 0; i < s->n_plugins; i++) {
        const Gort__V1__PluginStats *p = s->plugins[i];
        fprintf(f,
                "%-20s %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64
                "\n",
                p->name, p->goroutines, p->in_flight, p->requests, p->errors);
    }
}

static void procs_print(FILE *f, const Gort__V1__Stats *s)
{
    char idle[32];
    fprintf(f, "\n%-4s %-8s %5s %4s %12s %12s %9s %10s %10s\n", "P", "STATUS",
            "RUNQ", "NEXT", "SCHEDTICKS", "RUN", "STEALS-IN", "STEALS-OUT",
            "IDLE");
    for (size_t i = 0; i < s->n_procs; i++) {
        const Gort__V1__ProcStats *p = s->procs[i];
        if (!p_shown(s, p))
            continue;
        cli_duration_format((int64_t)p->idle_ns, idle, sizeof idle);
        fprintf(f,
                "%-4d %-8s %5" PRIu32 " %4s %12" PRIu64 " %12" PRIu64
                " %9" PRIu64 " %10" PRIu64 " %10s\n",
                p->id, p_status(p->status), p->runq_len,
                p->runnext ? "yes" : "-", p->schedticks, p->goroutines_run,
                p->steals_in, p->steals_out, idle);
    }
}

void view_stats(FILE *f, const Gort__V1__Stats *s)
{
    header_print(f, s);
    summary_print(f, s);
    latency_print(f, s->sched_latency);
    http_print(f, s->http);
    procs_print(f, s);
    plugins_print(f, s);
}

static void bar_print(FILE *f, uint32_t runq)
{
    int fill =
        (int)(((uint64_t)runq * BAR_WIDTH + RING_SLOTS - 1) / RING_SLOTS);
    if (fill > BAR_WIDTH)
        fill = BAR_WIDTH;
    fputc('|', f);
    for (int i = 0; i < BAR_WIDTH; i++)
        fputc(i < fill ? '#' : ' ', f);
    fputc('|', f);
}

/* ---- rates between two frames (like top: what moved, not what is) ---- */

static double per_sec(uint64_t now, uint64_t before, double secs)
{
    return now > before ? (double)(now - before) / secs : 0;
}

static uint64_t http_total(const Gort__V1__HttpStats *h)
{
    return h->requests_1xx + h->requests_2xx + h->requests_3xx +
           h->requests_4xx + h->requests_5xx;
}

static uint64_t steals(const Gort__V1__Stats *s)
{
    uint64_t n = 0;
    for (size_t i = 0; i < s->n_procs; i++)
        n += s->procs[i]->steals_in;
    return n;
}

static uint64_t wakeups(const Gort__V1__Stats *s)
{
    return s->netpoll ? s->netpoll->wakeups_thread + s->netpoll->wakeups_idle
                      : 0;
}

/* The scheduling latency of the samples taken between the two frames. */
static void latency_delta(FILE *f, const Gort__V1__Stats *s,
                          const Gort__V1__Stats *prev, const char *interval)
{
    const Gort__V1__Histogram *h = s->sched_latency, *o = prev->sched_latency;
    if (!h || !o || h->n_counts != o->n_counts || h->n_counts > 64)
        return;
    uint64_t counts[64];
    Gort__V1__Histogram d = *h;
    d.counts = counts;
    for (size_t i = 0; i < h->n_counts; i++)
        counts[i] =
            h->counts[i] > o->counts[i] ? h->counts[i] - o->counts[i] : 0;
    if (hist_total(&d) == 0) {
        fprintf(f, "sched latency no samples in the last %s\n", interval);
        return;
    }
    char p50[48], p99[48];
    hist_quantile(&d, 0.50, p50, sizeof p50);
    hist_quantile(&d, 0.99, p99, sizeof p99);
    fprintf(f,
            "sched latency p50 %s, p99 %s in the last %s (%" PRIu64
            " samples)\n",
            p50, p99, interval, hist_total(&d));
}

static void rates_print(FILE *f, const Gort__V1__Stats *s,
                        const Gort__V1__Stats *prev, double secs)
{
    const Gort__V1__HttpStats *h = s->http, *o = prev->http;
    fputs("rates        ", f);
    if (h && o)
        fprintf(f, " %.0f req/s (2xx %.0f, 4xx %.0f, 5xx %.0f),",
                per_sec(http_total(h), http_total(o), secs),
                per_sec(h->requests_2xx, o->requests_2xx, secs),
                per_sec(h->requests_4xx, o->requests_4xx, secs),
                per_sec(h->requests_5xx, o->requests_5xx, secs));
    fprintf(f, " %.0f switches/s, %.0f steals/s, %.0f netpoll wake-ups/s\n",
            per_sec(s->ctx_switches, prev->ctx_switches, secs),
            per_sec(steals(s), steals(prev), secs),
            per_sec(wakeups(s), wakeups(prev), secs));
}

static const Gort__V1__ProcStats *proc_by_id(const Gort__V1__Stats *s, int id)
{
    for (size_t i = 0; i < s->n_procs; i++)
        if (s->procs[i]->id == id)
            return s->procs[i];
    return NULL;
}

/* The share of the interval a P spent running goroutines: its idle time
 * (its M parked) is the rest. -1 when unknown. */
static int busy_pct(const Gort__V1__ProcStats *p,
                    const Gort__V1__ProcStats *before, double secs)
{
    if (!before || p->idle_ns < before->idle_ns)
        return -1;
    double idle = (double)(p->idle_ns - before->idle_ns) / 1e9 / secs;
    double busy = 100 * (1 - idle);
    return busy < 0 ? 0 : busy > 100 ? 100 : (int)(busy + 0.5);
}

static const Gort__V1__PluginStats *plugin_by_name(const Gort__V1__Stats *s,
                                                   const char *name)
{
    for (size_t i = 0; i < s->n_plugins; i++)
        if (strcmp(s->plugins[i]->name, name) == 0)
            return s->plugins[i];
    return NULL;
}

static void plugin_rates(FILE *f, const Gort__V1__Stats *s,
                         const Gort__V1__Stats *prev, double secs)
{
    if (s->n_plugins == 0)
        return;
    fprintf(f, "\n%-20s %10s %10s %10s\n", "PLUGIN", "REQ/S", "ERR/S",
            "IN-FLIGHT");
    for (size_t i = 0; i < s->n_plugins; i++) {
        const Gort__V1__PluginStats *p = s->plugins[i];
        const Gort__V1__PluginStats *o =
            prev ? plugin_by_name(prev, p->name) : NULL;
        if (o && secs > 0)
            fprintf(f, "%-20s %10.0f %10.0f %10" PRIu64 "\n", p->name,
                    per_sec(p->requests, o->requests, secs),
                    per_sec(p->errors, o->errors, secs), p->in_flight);
        else
            fprintf(f, "%-20s %10s %10s %10" PRIu64 "\n", p->name, "-", "-",
                    p->in_flight);
    }
}

void view_watch(FILE *f, const Gort__V1__Stats *s, const Gort__V1__Stats *prev,
                const char *interval)
{
    const Gort__V1__GoroutineCounts *g = s->goroutines;
    char up[40];
    double secs =
        prev ? (double)(s->timestamp_unix_ns - prev->timestamp_unix_ns) / 1e9
             : 0;
    if (secs <= 0)
        prev = NULL; /* no interval to divide by */

    uptime_format(s->uptime_ns, up, sizeof up);
    fprintf(f, "gortd %s  up %s  GOMAXPROCS %d  global runq %" PRIu64 "\n",
            s->version, up, s->gomaxprocs, s->global_runq_len);
    if (g)
        fprintf(f,
                "goroutines %" PRIu64 " live: %" PRIu64 " runnable, %" PRIu64
                " running, %" PRIu64 " waiting\n",
                g->live, g->runnable, g->running, g->waiting);
    if (prev) {
        rates_print(f, s, prev, secs);
        latency_delta(f, s, prev, interval);
    } else {
        fputs("rates         from the next frame on\n", f);
    }
    fprintf(f,
            "every %s, Ctrl-C quits; bar = local run queue of %d slots, + = "
            "runnext; busy = time running goroutines\n\n",
            interval, RING_SLOTS);
    for (size_t i = 0; i < s->n_procs; i++) {
        const Gort__V1__ProcStats *p = s->procs[i];
        if (!p_shown(s, p))
            continue;
        fprintf(f, "P%-3d %-8s %4" PRIu32 " ", p->id, p_status(p->status),
                p->runq_len);
        bar_print(f, p->runq_len);
        fputc(p->runnext ? '+' : ' ', f);
        int busy = prev ? busy_pct(p, proc_by_id(prev, p->id), secs) : -1;
        if (busy >= 0)
            fprintf(f, " busy %3d%%\n", busy);
        else
            fputs(" busy    -\n", f);
    }
    plugin_rates(f, s, prev, secs);
}
