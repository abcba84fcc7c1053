/* admin/metrics.c — the families of gortd's /metrics page.
 *
 * Everything comes from snapshots the caller took (gort_stats_read,
 * httpd_server_stats, proc_self_read): reading them takes relaxed atomic
 * loads and a few /proc files, never a stop-the-world, so a scrape costs
 * the serving Ps nothing. Names follow Prometheus's Go client where a Go
 * service exports the same thing, so dashboards built for Go services work
 * unchanged; gort_* names cover what Go does not expose (per-P queues,
 * steals, netpoll wake-ups by path, idle keep-alive connections).
 *
 * go_sched_latencies_seconds comes from the runtime's sampled histogram
 * (one transition in eight, see stats.h); like Go's runtime/metrics
 * histogram it has no exact sum, so _sum is estimated from each bucket's
 * lower bound (an underestimate, documented in the HELP text).
 */
#include "admin/metrics.h"

#include <stdio.h>

#define NS_PER_S 1e9

static void gauge(struct prom_writer *w, const char *name, const char *help,
                  uint64_t v)
{
    prom_family(w, name, PROM_GAUGE, help);
    prom_sample_u64(w, name, NULL, 0, v);
}

static void counter(struct prom_writer *w, const char *name, const char *help,
                    uint64_t v)
{
    prom_family(w, name, PROM_COUNTER, help);
    prom_sample_u64(w, name, NULL, 0, v);
}

static void go_families(struct prom_writer *w, const struct gort_stats *s,
                        const struct proc_self *proc)
{
    gauge(w, "go_goroutines", "Number of goroutines that currently exist.",
          s->g_live);
    if (proc)
        gauge(w, "go_threads", "Number of OS threads created.", proc->threads);
    gauge(w, "go_sched_gomaxprocs_threads",
          "The current GOMAXPROCS setting: the number of OS threads that can "
          "execute goroutines simultaneously.",
          (uint64_t)s->gomaxprocs);

    double bounds[GORT_LAT_BUCKETS - 1];
    double sum = 0;
    for (int i = 0; i < GORT_LAT_BUCKETS - 1; i++)
        bounds[i] = (double)GORT_LAT_BUCKET_NS(i) / NS_PER_S;
    for (int i = 1; i < GORT_LAT_BUCKETS; i++)
        sum += bounds[i - 1] * (double)s->sched_latency[i];
    prom_family(w, "go_sched_latencies_seconds", PROM_HISTOGRAM,
                "Distribution of the time goroutines have spent runnable "
                "before running (sampled one in eight; _sum estimated from "
                "bucket lower bounds).");
    prom_histogram(w, "go_sched_latencies_seconds", NULL, 0, bounds,
                   s->sched_latency, GORT_LAT_BUCKETS - 1, sum);
}

typedef double (*p_value_fn)(const struct gort_p_stats *p);

static double p_runq(const struct gort_p_stats *p)
{
    return p->runq_len;
}

static double p_steals(const struct gort_p_stats *p)
{
    return (double)p->steals_in;
}

static double p_ticks(const struct gort_p_stats *p)
{
    return (double)p->schedticks;
}

static double p_idle(const struct gort_p_stats *p)
{
    return (double)p->idle_ns / NS_PER_S;
}

/* One sample per live P, labelled p="ID". */
static void per_p(struct prom_writer *w, const struct gort_stats *s,
                  const char *name, enum prom_type type, const char *help,
                  p_value_fn value)
{
    prom_family(w, name, type, help);
    for (int i = 0; i < s->nprocs; i++) {
        const struct gort_p_stats *p = &s->procs[i];
        if (p->status == GORT_P_DEAD)
            continue;
        char id[16];
        snprintf(id, sizeof id, "%d", p->id);
        struct prom_label l = {.name = "p", .value = id};
        prom_sample_f64(w, name, &l, 1, value(p));
    }
}

static void p_families(struct prom_writer *w, const struct gort_stats *s)
{
    per_p(w, s, "gort_sched_p_runq_length", PROM_GAUGE,
          "Goroutines in each P's local run queue (256 slots).", p_runq);
    per_p(w, s, "gort_sched_p_steals_total", PROM_COUNTER,
          "Goroutines each P stole from other Ps' run queues.", p_steals);
    per_p(w, s, "gort_sched_p_schedticks_total", PROM_COUNTER,
          "schedule() calls on each P.", p_ticks);
    per_p(w, s, "gort_sched_p_idle_seconds_total", PROM_COUNTER,
          "Time each P spent with its M parked.", p_idle);
}

static void labelled(struct prom_writer *w, const char *name,
                     enum prom_type type, const char *help, const char *label,
                     const char *const *values, const uint64_t *counts,
                     size_t n)
{
    prom_family(w, name, type, help);
    for (size_t i = 0; i < n; i++) {
        struct prom_label l = {.name = label, .value = values[i]};
        prom_sample_u64(w, name, &l, 1, counts[i]);
    }
}

static void gort_families(struct prom_writer *w, const struct gort_stats *s)
{
    p_families(w, s);
    gauge(w, "gort_sched_global_runq_length",
          "Goroutines in the global run queue.", s->global_runq_len);
    static const char *const mstates[] = {"running", "spinning", "idle",
                                          "syscall"};
    const uint64_t ms[] = {(uint64_t)s->m_running, (uint64_t)s->m_spinning,
                           (uint64_t)s->m_idle, (uint64_t)s->m_syscall};
    labelled(w, "gort_sched_threads", PROM_GAUGE,
             "Ms (OS threads running goroutines) by state.", "state", mstates,
             ms, 4);
    static const char *const gstates[] = {"runnable", "running", "waiting",
                                          "syscall"};
    const uint64_t gs[] = {s->g_runnable, s->g_running, s->g_waiting,
                           s->g_syscall};
    labelled(w, "gort_goroutines", PROM_GAUGE, "Goroutines by state.", "state",
             gstates, gs, 4);
    counter(w, "gort_goroutines_created_total", "Goroutines started.",
            s->g_created);
    counter(w, "gort_sched_context_switches_total",
            "Switches from one goroutine to another.", s->ctx_switches);
    counter(w, "gort_sched_long_running_total",
            "Goroutines seen running over 10 ms without a scheduling point.",
            s->long_running);
    static const char *const from[] = {"long_runner", "syscall"};
    const uint64_t rt[] = {s->retakes_long, s->retakes_syscall};
    labelled(w, "gort_sched_retakes_total", PROM_COUNTER,
             "Ps sysmon took and handed to another M, by what held them.",
             "from", from, rt, 2);
    gauge(w, "gort_sched_long_runners",
          "Goroutines running on without a P (theirs was handed over).",
          (uint64_t)s->long_runners);
    gauge(w, "gort_sched_threads_max",
          "The thread budget for Ms (--max-threads).",
          (uint64_t)s->max_threads);
    counter(w, "gort_sched_thread_limit_hits_total",
            "Threads refused by the budget: a P stayed with its holder.",
            s->thread_limit_hits);
    counter(w, "gort_sched_thread_failures_total",
            "Threads the system refused to create (work stayed queued).",
            s->thread_failures);
    static const char *const bstates[] = {"busy", "queued", "max"};
    const uint64_t bs[] = {(uint64_t)s->blocking_busy,
                           (uint64_t)s->blocking_queued,
                           (uint64_t)s->blocking_max};
    labelled(w, "gort_blocking_slots", PROM_GAUGE,
             "Blocking-call slots: in use, goroutines waiting, the bound "
             "(--max-blocking-threads).",
             "state", bstates, bs, 3);
    counter(w, "gort_blocking_waits_total",
            "Blocking calls that waited for a slot.", s->blocking_waits);
    static const char *const paths[] = {"thread", "idle"};
    const uint64_t np[] = {s->netpoll_wakeups_thread, s->netpoll_wakeups_idle};
    labelled(w, "gort_netpoll_wakeups_total", PROM_COUNTER,
             "Goroutines readied by the netpoller, by who polled: the M "
             "blocked in epoll_wait or an idle M's own poll.",
             "path", paths, np, 2);
    counter(w, "gort_netpoll_sends_batched_total",
            "Socket sends that left in a batch, one io_uring_enter per "
            "scheduling round (GORTSENDBATCH).",
            s->sends_batched);
    counter(w, "gort_netpoll_send_batches_total",
            "Submissions that carried batched sends; sends per batch is "
            "the ratio of the two.",
            s->send_batches);
    gauge(w, "gort_netpoll_waiting",
          "Goroutines parked in IO wait (idle connections included).",
          s->io_waiting);
    gauge(w, "gort_timers", "Armed timers.", s->timers);
    static const char *const prot[] = {"guard", "canary"};
    const uint64_t st[] = {s->stacks_guarded, s->stacks_canary};
    labelled(w, "gort_stacks", PROM_GAUGE,
             "Live goroutine stacks by overflow protection.", "protection",
             prot, st, 2);
    gauge(w, "gort_stack_reserved_bytes",
          "Address space reserved for goroutine stacks.",
          s->stack_reserved_bytes);
}

/* The request-buffer budget (http/budget.c): with in use near the limit,
 * large or slow heads are about to be refused. */
static void buffer_families(struct prom_writer *w, const struct httpd_stats *h)
{
    gauge(w, "gort_http_request_buffer_bytes",
          "Bytes connections hold for requests (read buffers, large heads' "
          "copies), taken from the budget.",
          h->buffer_bytes);
    gauge(w, "gort_http_request_buffer_limit_bytes",
          "The budget for those bytes, all connections together "
          "(--max-buffer-bytes).",
          h->buffer_limit);
    counter(w, "gort_http_request_buffer_refusals_total",
            "Requests whose bytes did not fit the budget (answered 503, "
            "connection closed).",
            h->buffer_refused);
}

static void http_families(struct prom_writer *w, const struct httpd_stats *h)
{
    static const char *const cstates[] = {"open", "idle"};
    const uint64_t cs[] = {h->conns_open, h->conns_idle};
    labelled(w, "gort_http_connections", PROM_GAUGE,
             "HTTP connections: open (accepted, not closed) and idle (kept "
             "alive between requests).",
             "state", cstates, cs, 2);
    counter(w, "gort_http_connections_accepted_total",
            "HTTP connections accepted.", h->conns_total);
    counter(w, "gort_http_connections_evicted_total",
            "Idle keep-alive connections closed to make room for a new "
            "client at --max-conns.",
            h->conns_evicted);
    gauge(w, "gort_http_requests_in_flight", "Requests inside a handler.",
          h->in_flight);
    static const char *const classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    labelled(w, "gort_http_responses_total", PROM_COUNTER,
             "HTTP responses by status class.", "code", classes,
             &h->by_class[1], 5);
    counter(w, "gort_http_bad_requests_total",
            "Requests refused by the parser before any handler.",
            h->bad_requests);
    double bounds[HTTPD_DURATION_BUCKETS];
    for (int i = 0; i < HTTPD_DURATION_BUCKETS; i++)
        bounds[i] = httpd_duration_bounds[i];
    prom_family(w, "gort_http_request_duration_seconds", PROM_HISTOGRAM,
                "Time from a request's head parsed to its response written "
                "(requests the parser refused are not counted).");
    prom_histogram(w, "gort_http_request_duration_seconds", NULL, 0, bounds,
                   h->duration_buckets, HTTPD_DURATION_BUCKETS,
                   (double)h->duration_sum_ns / NS_PER_S);
    counter(w, "gort_http_received_bytes_total",
            "Request bytes read: heads, and the Content-Length bodies "
            "handlers read (chunked bodies are not counted).",
            h->bytes_in);
    counter(w, "gort_http_sent_bytes_total",
            "Response body bytes written (nginx's $body_bytes_sent; heads "
            "are not counted).",
            h->bytes_out);
    if (h->buffer_limit)
        buffer_families(w, h);
}

static void process_families(struct prom_writer *w, const struct proc_self *p)
{
    prom_family(w, "process_cpu_seconds_total", PROM_COUNTER,
                "Total user and system CPU time spent in seconds.");
    prom_sample_f64(w, "process_cpu_seconds_total", NULL, 0, p->cpu_seconds);
    gauge(w, "process_open_fds", "Number of open file descriptors.",
          p->open_fds);
    gauge(w, "process_max_fds", "Maximum number of open file descriptors.",
          p->max_fds);
    gauge(w, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
          p->vsize_bytes);
    gauge(w, "process_resident_memory_bytes", "Resident memory size in bytes.",
          p->rss_bytes);
    prom_family(w, "process_start_time_seconds", PROM_GAUGE,
                "Start time of the process since unix epoch in seconds.");
    prom_sample_f64(w, "process_start_time_seconds", NULL, 0,
                    p->start_time_sec);
}

typedef uint64_t (*plugin_value_fn)(const struct plugin_status *p);

static uint64_t pl_requests(const struct plugin_status *p)
{
    return p->requests;
}

static uint64_t pl_errors(const struct plugin_status *p)
{
    return p->errors;
}

static uint64_t pl_in_flight(const struct plugin_status *p)
{
    return p->in_flight;
}

static uint64_t pl_goroutines(const struct plugin_status *p)
{
    return p->goroutines;
}

/* One sample per loaded plugin, labelled plugin="NAME". */
static void per_plugin(struct prom_writer *w, const struct metrics_source *src,
                       const char *name, enum prom_type type, const char *help,
                       plugin_value_fn value)
{
    prom_family(w, name, type, help);
    for (size_t i = 0; i < src->nplugins; i++) {
        struct prom_label l = {.name = "plugin", .value = src->plugins[i].name};
        prom_sample_u64(w, name, &l, 1, value(&src->plugins[i]));
    }
}

static void plugin_families(struct prom_writer *w,
                            const struct metrics_source *src)
{
    per_plugin(w, src, "gort_plugin_requests_total", PROM_COUNTER,
               "Requests each plugin's handlers answered.", pl_requests);
    per_plugin(w, src, "gort_plugin_errors_total", PROM_COUNTER,
               "Of those, 5xx answers and aborts.", pl_errors);
    per_plugin(w, src, "gort_plugin_requests_in_flight", PROM_GAUGE,
               "Requests routed to each plugin and not yet answered.",
               pl_in_flight);
    per_plugin(w, src, "gort_plugin_goroutines", PROM_GAUGE,
               "Goroutines each plugin's code started, still live.",
               pl_goroutines);
    static const char *const classes[] = {"",    "1xx", "2xx",
                                          "3xx", "4xx", "5xx"};
    const char *name = "gort_plugin_responses_total";
    prom_family(w, name, PROM_COUNTER,
                "Answers of each plugin's handlers by status class (an "
                "abort counts as 5xx).");
    for (size_t i = 0; i < src->nplugins; i++)
        for (int c = 1; c <= 5; c++) {
            struct prom_label l[] = {
                {.name = "plugin", .value = src->plugins[i].name},
                {.name = "code", .value = classes[c]},
            };
            prom_sample_u64(w, name, l, 2, src->plugins[i].by_class[c]);
        }
    name = "gort_http_route_responses_total";
    prom_family(w, name, PROM_COUNTER,
                "Answers of each route (its pattern, the plugin that "
                "registered it) by status class.");
    for (size_t i = 0; i < src->nroutes; i++)
        for (int c = 1; c <= 5; c++) {
            struct prom_label l[] = {
                {.name = "route", .value = src->routes[i].pattern},
                {.name = "plugin", .value = src->routes[i].plugin},
                {.name = "code", .value = classes[c]},
            };
            prom_sample_u64(w, name, l, 3, src->routes[i].by_class[c]);
        }
}

static void ops_families(struct prom_writer *w,
                         const struct metrics_source *src)
{
    static const char *const ops[] = {"load", "unload", "replace"};
    static const char *const results[] = {"ok", "failed"};
    const char *name = "gort_plugin_operations_total";
    prom_family(w, name, PROM_COUNTER,
                "Plugin loads (at start, through gortctl, by SIGHUP), unloads "
                "and replaces, by result.");
    for (int o = 0; o < PLUGINS_OPS; o++)
        for (int r = 0; r < 2; r++) {
            struct prom_label l[] = {
                {.name = "op", .value = ops[o]},
                {.name = "result", .value = results[r]},
            };
            prom_sample_u64(w, name, l, 2, src->ops[o][r]);
        }
}

void metrics_write(struct prom_writer *w, const struct metrics_source *src)
{
    if (src->rt) {
        go_families(w, src->rt, src->proc);
        gort_families(w, src->rt);
    }
    if (src->http)
        http_families(w, src->http);
    if (src->with_plugins)
        plugin_families(w, src);
    if (src->with_ops)
        ops_families(w, src);
    if (src->proc)
        process_families(w, src->proc);
}
