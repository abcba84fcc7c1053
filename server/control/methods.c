/* control/methods.c — the handlers of gort.v1.Control.
 *
 * Every handler runs on the control plane's completion-queue thread, never on
 * a P: it reads the runtime through libgort's public calls that are safe from
 * any thread (gort_stats_read, gort_gomaxprocs, gort_goroutines_each), so a
 * stats read neither stops the world nor waits for a goroutine to yield.
 *
 * Output submessages come from the call's arena (cx->arena); the dispatcher
 * packs and frees them. The table at the bottom is in .proto order. An
 * allocation that fails returns NULL and fails the arena: a handler stops
 * building there (never dereferences it) and the dispatcher answers
 * RESOURCE_EXHAUSTED for the whole reply.
 *
 * The plugin RPCs check the name, then drive gortd's plugin loader through
 * the catalog (control.h) and wait for it: a load runs the plugin's init, an
 * unload or replace waits (bounded by drain_timeout_ms, default 10 s, and
 * the call's deadline) for the old code's requests and goroutines. They are
 * marked slow: the transport runs them on a worker thread (control.c), so
 * other control calls go on meanwhile.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <grpc/grpc.h>

#include "gort/gort.h"
#include "gort/plugin.h"
#include "gort/stats.h"
#include "gort/v1/control.pb-c.h"
#include "grpc/health/v1/health.pb-c.h"

#include "control/control.h"
#include "control/methods.h"
#include "control/reflection.h"
#include "http/server.h"
#include "common/clock.h"

#ifndef GORT_VERSION
#define GORT_VERSION "dev"
#endif

#define NEW(cx, type, desc)                                                    \
    ((type *)ctl_arena_msg((cx)->arena, &desc##__descriptor))

/* ---- GetStats ----------------------------------------------------------- */

static Gort__V1__PStatus p_status(int st)
{
    switch (st) {
    case GORT_P_IDLE:
        return GORT__V1__PSTATUS__P_STATUS_IDLE;
    case GORT_P_RUNNING:
        return GORT__V1__PSTATUS__P_STATUS_RUNNING;
    case GORT_P_SYSCALL:
        return GORT__V1__PSTATUS__P_STATUS_SYSCALL;
    case GORT_P_DEAD:
        return GORT__V1__PSTATUS__P_STATUS_DEAD;
    default:
        return GORT__V1__PSTATUS__P_STATUS_UNSPECIFIED;
    }
}

static void procs_fill(Gort__V1__Stats *out, const struct gort_stats *s,
                       struct ctl_ctx *cx)
{
    int n = s->nprocs < 0                   ? 0
            : s->nprocs > GORT_MAXPROCS_CAP ? GORT_MAXPROCS_CAP
                                            : s->nprocs;
    out->n_procs = (size_t)n;
    out->procs = ctl_arena_array(cx->arena, (size_t)n, sizeof *out->procs);
    for (int i = 0; out->procs && i < n; i++) {
        const struct gort_p_stats *p = &s->procs[i];
        Gort__V1__ProcStats *ps =
            NEW(cx, Gort__V1__ProcStats, gort__v1__proc_stats);
        if (!ps)
            return; /* the arena failed: the call says so */
        ps->id = p->id;
        ps->status = p_status(p->status);
        ps->runq_len = p->runq_len;
        ps->runnext = p->runnext != 0;
        ps->schedticks = p->schedticks;
        ps->steals_in = p->steals_in;
        ps->steals_out = p->steals_out;
        ps->goroutines_run = p->goroutines_run;
        ps->idle_ns = p->idle_ns;
        out->procs[i] = ps;
    }
}

static Gort__V1__Histogram *latency_fill(const struct gort_stats *s,
                                         struct ctl_ctx *cx)
{
    Gort__V1__Histogram *h = NEW(cx, Gort__V1__Histogram, gort__v1__histogram);
    if (!h)
        return NULL;
    h->bounds_ns =
        ctl_arena_array(cx->arena, GORT_LAT_BUCKETS - 1, sizeof *h->bounds_ns);
    h->counts = ctl_arena_array(cx->arena, GORT_LAT_BUCKETS, sizeof *h->counts);
    if (!h->bounds_ns || !h->counts)
        return NULL;
    h->n_bounds_ns = GORT_LAT_BUCKETS - 1;
    for (size_t i = 0; i < h->n_bounds_ns; i++)
        h->bounds_ns[i] = GORT_LAT_BUCKET_NS(i);
    h->n_counts = GORT_LAT_BUCKETS;
    memcpy(h->counts, s->sched_latency, sizeof s->sched_latency);
    return h;
}

static void threads_fill(Gort__V1__Stats *out, const struct gort_stats *s,
                         struct ctl_ctx *cx)
{
    Gort__V1__MStats *m = NEW(cx, Gort__V1__MStats, gort__v1__mstats);
    Gort__V1__GoroutineCounts *g =
        NEW(cx, Gort__V1__GoroutineCounts, gort__v1__goroutine_counts);
    Gort__V1__StackStats *st =
        NEW(cx, Gort__V1__StackStats, gort__v1__stack_stats);
    if (!m || !g || !st)
        return;
    m->total = s->m_total;
    m->running = s->m_running;
    m->spinning = s->m_spinning;
    m->idle = s->m_idle;
    m->syscall = s->m_syscall;
    m->max = s->max_threads;
    m->long_runners = s->long_runners;
    m->retakes_long = s->retakes_long;
    m->retakes_syscall = s->retakes_syscall;
    m->limit_hits = s->thread_limit_hits;
    m->blocking_max = s->blocking_max;
    m->blocking_busy = s->blocking_busy;
    m->blocking_queued = s->blocking_queued;
    out->ms = m;

    g->live = s->g_live;
    g->runnable = s->g_runnable;
    g->running = s->g_running;
    g->waiting = s->g_waiting;
    g->syscall = s->g_syscall;
    g->created = s->g_created;
    g->long_running = s->long_running;
    g->io_waiting = s->io_waiting;
    out->goroutines = g;

    st->guarded = s->stacks_guarded;
    st->canary = s->stacks_canary;
    st->reserved_bytes = s->stack_reserved_bytes;
    out->stacks = st;
}

static Gort__V1__NetpollStats *netpoll_fill(const struct gort_stats *s,
                                            struct ctl_ctx *cx)
{
    Gort__V1__NetpollStats *n =
        NEW(cx, Gort__V1__NetpollStats, gort__v1__netpoll_stats);
    if (!n)
        return NULL;
    n->wakeups_thread = s->netpoll_wakeups_thread;
    n->wakeups_idle = s->netpoll_wakeups_idle;
    n->timers = s->timers;
    n->sends_batched = s->sends_batched;
    n->send_batches = s->send_batches;
    return n;
}

/* ---- HTTP counters ------------------------------------------------------ */

static void *_Atomic http_arg;
static _Atomic ctl_http_stats_fn http_fn; /* published after http_arg */

void ctl_set_http_source(ctl_http_stats_fn fn, void *arg)
{
    atomic_store_explicit(&http_arg, arg, memory_order_relaxed);
    atomic_store_explicit(&http_fn, fn, memory_order_release);
}

static Gort__V1__HttpStats *http_fill(struct ctl_ctx *cx)
{
    ctl_http_stats_fn fn = atomic_load_explicit(&http_fn, memory_order_acquire);
    if (!fn)
        return NULL;
    struct httpd_stats st;
    fn(atomic_load_explicit(&http_arg, memory_order_relaxed), &st);
    Gort__V1__HttpStats *h = NEW(cx, Gort__V1__HttpStats, gort__v1__http_stats);
    if (!h)
        return NULL;
    h->conns_open = st.conns_open;
    h->conns_idle = st.conns_idle;
    h->in_flight = st.in_flight;
    h->requests_1xx = st.by_class[1];
    h->requests_2xx = st.by_class[2];
    h->requests_3xx = st.by_class[3];
    h->requests_4xx = st.by_class[4];
    h->requests_5xx = st.by_class[5];
    return h;
}

static void plugins_fill(Gort__V1__Stats *out, struct ctl_ctx *cx);

/* Fills a Stats message from one snapshot; shared by GetStats and WatchStats.
 */
static grpc_status_code stats_fill(Gort__V1__Stats *out, struct ctl_ctx *cx)
{
    struct gort_stats *s = ctl_arena_alloc(cx->arena, sizeof *s);
    if (!s)
        return GRPC_STATUS_RESOURCE_EXHAUSTED; /* the dispatcher says why */
    int rc = gort_stats_read(s);
    if (rc < 0)
        return ctl_fail(cx, GRPC_STATUS_UNAVAILABLE, "runtime statistics: %s",
                        gort_strerror(rc));
    out->gomaxprocs = s->gomaxprocs;
    procs_fill(out, s, cx);
    out->global_runq_len = s->global_runq_len;
    threads_fill(out, s, cx);
    out->ctx_switches = s->ctx_switches;
    out->sched_latency = latency_fill(s, cx);
    out->netpoll = netpoll_fill(s, cx);
    out->http = http_fill(cx);
    plugins_fill(out, cx);
    out->uptime_ns = s->uptime_ns;
    out->version = GORT_VERSION;
    out->grpc_version = (char *)grpc_version_string();
    out->timestamp_unix_ns = now_unix_ns();
    return cx->arena->failed ? GRPC_STATUS_RESOURCE_EXHAUSTED : GRPC_STATUS_OK;
}

static grpc_status_code get_stats(const ProtobufCMessage *in,
                                  ProtobufCMessage *out, struct ctl_ctx *cx)
{
    (void)in;
    return stats_fill((Gort__V1__Stats *)out, cx);
}

/* ---- WatchStats --------------------------------------------------------- */

#define WATCH_DEFAULT_MS 1000
#define WATCH_MIN_MS 10
#define WATCH_MAX_MS 3600000

struct watch_state {
    int64_t interval_ns;
    uint32_t count; /* 0 = unbounded */
    uint32_t sent;
};

static grpc_status_code watch_open(const ProtobufCMessage *in, void *state,
                                   struct ctl_ctx *cx)
{
    const Gort__V1__WatchStatsRequest *req =
        (const Gort__V1__WatchStatsRequest *)in;
    struct watch_state *w = state;
    uint32_t ms = req->interval_ms ? req->interval_ms : WATCH_DEFAULT_MS;

    if (ms < WATCH_MIN_MS || ms > WATCH_MAX_MS)
        return ctl_fail(cx, GRPC_STATUS_INVALID_ARGUMENT,
                        "interval_ms %u out of range: allowed %d..%d (0 = %d)",
                        req->interval_ms, WATCH_MIN_MS, WATCH_MAX_MS,
                        WATCH_DEFAULT_MS);
    w->interval_ns = (int64_t)ms * 1000000;
    w->count = req->count;
    return GRPC_STATUS_OK;
}

static enum ctl_next watch_next(void *state, ProtobufCMessage *out,
                                struct ctl_ctx *cx, int64_t *next_at)
{
    struct watch_state *w = state;

    if (cx->shutting_down || (w->count && w->sent == w->count))
        return CTL_NEXT_END; /* OK: gortd is going away or all were sent */
    if (stats_fill((Gort__V1__Stats *)out, cx) != GRPC_STATUS_OK)
        return CTL_NEXT_END;
    w->sent++;
    /* After the last one, come back at once to end the stream. */
    *next_at = gort_nanotime() + (w->sent == w->count ? 0 : w->interval_ns);
    return CTL_NEXT_SEND;
}

static const struct ctl_stream_ops watch_ops = {
    .state_size = sizeof(struct watch_state),
    .open = watch_open,
    .next = watch_next,
};

/* ---- SetMaxProcs -------------------------------------------------------- */

static grpc_status_code set_max_procs(const ProtobufCMessage *in,
                                      ProtobufCMessage *out, struct ctl_ctx *cx)
{
    const Gort__V1__SetMaxProcsRequest *req =
        (const Gort__V1__SetMaxProcsRequest *)in;
    Gort__V1__SetMaxProcsReply *rep = (Gort__V1__SetMaxProcsReply *)out;

    if (req->maxprocs < 1 || req->maxprocs > GORT_MAXPROCS_CAP)
        return ctl_fail(cx, GRPC_STATUS_INVALID_ARGUMENT,
                        "maxprocs %d out of range: allowed 1..%d",
                        req->maxprocs, GORT_MAXPROCS_CAP);
    int64_t t0 = gort_nanotime();
    int prev = gort_gomaxprocs(req->maxprocs);
    int64_t took = gort_nanotime() - t0;
    if (prev < 0)
        return ctl_fail(cx, GRPC_STATUS_INTERNAL, "gort_gomaxprocs(%d): %s",
                        req->maxprocs, gort_strerror(prev));
    rep->previous = prev;
    rep->current = gort_gomaxprocs(0);
    rep->took_ns = took;
    return GRPC_STATUS_OK;
}

/* ---- the catalog: routes, plugins, plugin operations -------------------- */

static _Atomic(const struct ctl_catalog *) catalog;

void ctl_set_catalog(const struct ctl_catalog *c)
{
    atomic_store_explicit(&catalog, c, memory_order_release);
}

static const struct ctl_catalog *catalog_get(void)
{
    return atomic_load_explicit(&catalog, memory_order_acquire);
}

#define CATALOG_MAX 4096 /* entries listed at most */
#define PLUGINS_MAX 256

static size_t routes_snapshot(const struct ctl_catalog *c,
                              struct ctl_http_route **rs, struct ctl_ctx *cx);

static grpc_status_code list_routes(const ProtobufCMessage *in,
                                    ProtobufCMessage *out, struct ctl_ctx *cx)
{
    (void)in;
    Gort__V1__ListRoutesReply *rep = (Gort__V1__ListRoutesReply *)out;
    const struct ctl_catalog *c = catalog_get();
    if (!c || !c->routes)
        return GRPC_STATUS_OK; /* no route table yet: an empty list */
    struct ctl_http_route *rs;
    size_t n = routes_snapshot(c, &rs, cx);
    rep->routes = ctl_arena_alloc(cx->arena, n * sizeof *rep->routes + 1);
    for (size_t i = 0; rep->routes && i < n; i++) {
        Gort__V1__Route *r = NEW(cx, Gort__V1__Route, gort__v1__route);
        if (!r)
            break; /* the arena failed: the call says so */
        r->pattern = (char *)rs[i].pattern;
        r->plugin = (char *)rs[i].plugin;
        r->requests = rs[i].requests;
        rep->routes[rep->n_routes++] = r;
    }
    return GRPC_STATUS_OK;
}

static Gort__V1__PluginStats *plugin_stats(const struct ctl_plugin *p,
                                           struct ctl_ctx *cx)
{
    Gort__V1__PluginStats *st =
        NEW(cx, Gort__V1__PluginStats, gort__v1__plugin_stats);
    if (!st)
        return NULL;
    st->name = (char *)p->name;
    st->goroutines = p->goroutines;
    st->in_flight = p->in_flight;
    st->requests = p->requests;
    st->errors = p->errors;
    return st;
}

/* A Plugin message; its routes come from rs (nr entries). */
static Gort__V1__Plugin *plugin_msg(const struct ctl_plugin *in,
                                    const struct ctl_http_route *rs, size_t nr,
                                    struct ctl_ctx *cx)
{
    Gort__V1__Plugin *p = NEW(cx, Gort__V1__Plugin, gort__v1__plugin);
    if (!p)
        return NULL;
    p->name = (char *)in->name;
    p->version = (char *)in->version;
    p->path = (char *)in->path;
    p->abi_version = GORT_PLUGIN_ABI;
    p->loaded_unix_ns = in->loaded_unix_ns;
    p->state = (char *)(in->state ? in->state : "");
    p->fault_report = (char *)(in->fault_report ? in->fault_report : "");
    p->routes = ctl_arena_alloc(cx->arena, nr * sizeof *p->routes + 1);
    for (size_t k = 0; p->routes && k < nr; k++)
        if (strcmp(rs[k].plugin, in->name) == 0)
            p->routes[p->n_routes++] = (char *)rs[k].pattern;
    p->stats = plugin_stats(in, cx);
    return p;
}

/* The served routes, for plugin_msg. */
static size_t routes_snapshot(const struct ctl_catalog *c,
                              struct ctl_http_route **rs, struct ctl_ctx *cx)
{
    *rs = NULL;
    if (!c->routes)
        return 0;
    *rs = ctl_arena_alloc(cx->arena, CATALOG_MAX * sizeof **rs);
    if (!*rs)
        return 0;
    size_t nr = c->routes(c->arg, *rs, CATALOG_MAX, cx->arena);
    return nr > CATALOG_MAX ? CATALOG_MAX : nr;
}

/* The loaded plugins, copied into the call's arena. */
static size_t plugins_snapshot(const struct ctl_catalog *c,
                               struct ctl_plugin **ps, struct ctl_ctx *cx)
{
    *ps = ctl_arena_alloc(cx->arena, PLUGINS_MAX * sizeof **ps);
    if (!*ps)
        return 0;
    size_t n = c->plugins(c->arg, *ps, PLUGINS_MAX, cx->arena);
    return n > PLUGINS_MAX ? PLUGINS_MAX : n;
}

static grpc_status_code list_plugins(const ProtobufCMessage *in,
                                     ProtobufCMessage *out, struct ctl_ctx *cx)
{
    (void)in;
    Gort__V1__ListPluginsReply *rep = (Gort__V1__ListPluginsReply *)out;
    const struct ctl_catalog *c = catalog_get();
    if (!c || !c->plugins)
        return GRPC_STATUS_OK;
    struct ctl_plugin *ps;
    size_t n = plugins_snapshot(c, &ps, cx);
    struct ctl_http_route *rs;
    size_t nr = routes_snapshot(c, &rs, cx);
    rep->plugins = ctl_arena_alloc(cx->arena, n * sizeof *rep->plugins + 1);
    if (!rep->plugins)
        return GRPC_STATUS_OK; /* the arena failed: the call says so */
    for (size_t i = 0; i < n; i++)
        rep->plugins[i] = plugin_msg(&ps[i], rs, nr, cx);
    rep->n_plugins = n;
    return GRPC_STATUS_OK;
}

/* Stats.plugins: one PluginStats per loaded plugin. */
static void plugins_fill(Gort__V1__Stats *out, struct ctl_ctx *cx)
{
    const struct ctl_catalog *c = catalog_get();
    if (!c || !c->plugins)
        return;
    struct ctl_plugin *ps;
    size_t n = plugins_snapshot(c, &ps, cx);
    out->plugins = ctl_arena_alloc(cx->arena, n * sizeof *out->plugins + 1);
    if (!out->plugins)
        return;
    for (size_t i = 0; i < n; i++)
        out->plugins[i] = plugin_stats(&ps[i], cx);
    out->n_plugins = n;
}

/* A plugin is named by its file in the plugin directory: no paths. */
static grpc_status_code plugin_name_check(const char *name, struct ctl_ctx *cx)
{
    if (!name[0] || strchr(name, '/') || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0 || strlen(name) > 255)
        return ctl_fail(
            cx, GRPC_STATUS_INVALID_ARGUMENT,
            "plugin name \"%.64s\" is not a file name in the plugin "
            "directory",
            name);
    return GRPC_STATUS_OK;
}

static grpc_status_code op_status(int rc)
{
    switch (rc) {
    case -ENOENT:
        return GRPC_STATUS_NOT_FOUND;
    case -EEXIST:
        return GRPC_STATUS_ALREADY_EXISTS;
    case -EBUSY:     /* routes switched; the old code still ran at the bound */
    case -ETIMEDOUT: /* queued behind another operation past the deadline */
        return GRPC_STATUS_DEADLINE_EXCEEDED;
    case -EPERM: /* outside the directory, or writable by others */
        return GRPC_STATUS_PERMISSION_DENIED;
    case -ENAMETOOLONG:
        return GRPC_STATUS_INVALID_ARGUMENT;
    case -ENOMEM:
        return GRPC_STATUS_RESOURCE_EXHAUSTED;
    case -ENXIO:
        return GRPC_STATUS_FAILED_PRECONDITION;
    default:
        return GRPC_STATUS_FAILED_PRECONDITION; /* the file was refused */
    }
}

/* The loader's deadline for this call: a little before the caller's, so
 * that the answer still reaches it; 0 when the call has none. Clocks:
 * ctx deadlines and gort_nanotime are both CLOCK_MONOTONIC. */
static int64_t op_deadline(const struct ctl_ctx *cx)
{
    return cx->deadline == INT64_MAX ? 0 : cx->deadline - 50000000;
}

/* Runs one loader operation; *plugin gets the Plugin message. */
static grpc_status_code plugin_op(enum ctl_plugin_op op, const char *name,
                                  uint32_t drain_ms, Gort__V1__Plugin **plugin,
                                  int64_t *took, struct ctl_ctx *cx)
{
    if (plugin_name_check(name, cx))
        return cx->code;
    const struct ctl_catalog *c = catalog_get();
    if (!c || !c->op)
        return ctl_fail(cx, GRPC_STATUS_UNAVAILABLE,
                        "gortd is still starting: no plugin loader yet");
    struct ctl_plugin p = {0};
    char err[1536];
    struct ctl_http_route *rs = NULL;
    size_t nr = 0;
    if (op == CTL_PLUGIN_UNLOAD) /* the routes it had */
        nr = routes_snapshot(c, &rs, cx);
    int64_t t0 = gort_nanotime();
    int rc = c->op(c->arg, op, name, (int64_t)drain_ms * 1000000,
                   op_deadline(cx), &p, cx->arena, err, sizeof err);
    *took = gort_nanotime() - t0;
    if (op != CTL_PLUGIN_UNLOAD)
        nr = routes_snapshot(c, &rs, cx);
    if (rc == 0 || rc == -EBUSY)
        *plugin = plugin_msg(&p, rs, nr, cx);
    if (rc)
        return ctl_fail(cx, op_status(rc), "%s", err);
    return GRPC_STATUS_OK;
}

/* The loaded plugin name means (its own name or its file's), or NULL. */
static Gort__V1__Plugin *plugin_find(const char *name, struct ctl_ctx *cx)
{
    const struct ctl_catalog *c = catalog_get();
    if (!c || !c->plugins)
        return NULL;
    struct ctl_plugin *ps;
    size_t n = plugins_snapshot(c, &ps, cx);
    size_t l = strlen(name);
    for (size_t i = 0; i < n; i++) {
        const char *base = strrchr(ps[i].path, '/');
        base = base ? base + 1 : ps[i].path;
        bool file = strncmp(base, name, l) == 0 &&
                    (!base[l] || strcmp(base + l, ".so") == 0);
        if (strcmp(ps[i].name, name) == 0 || file) {
            struct ctl_http_route *rs;
            size_t nr = routes_snapshot(c, &rs, cx);
            return plugin_msg(&ps[i], rs, nr, cx);
        }
    }
    return NULL;
}

static grpc_status_code load_plugin(const ProtobufCMessage *in,
                                    ProtobufCMessage *out, struct ctl_ctx *cx)
{
    const Gort__V1__LoadPluginRequest *req = (const void *)in;
    Gort__V1__LoadPluginReply *rep = (void *)out;
    return plugin_op(CTL_PLUGIN_LOAD, req->name, 0, &rep->plugin, &rep->took_ns,
                     cx);
}

static grpc_status_code unload_plugin(const ProtobufCMessage *in,
                                      ProtobufCMessage *out, struct ctl_ctx *cx)
{
    const Gort__V1__UnloadPluginRequest *req = (const void *)in;
    Gort__V1__UnloadPluginReply *rep = (void *)out;
    return plugin_op(CTL_PLUGIN_UNLOAD, req->name, req->drain_timeout_ms,
                     &rep->plugin, &rep->took_ns, cx);
}

static grpc_status_code replace_plugin(const ProtobufCMessage *in,
                                       ProtobufCMessage *out,
                                       struct ctl_ctx *cx)
{
    const Gort__V1__ReplacePluginRequest *req = (const void *)in;
    Gort__V1__ReplacePluginReply *rep = (void *)out;
    rep->previous = plugin_find(req->name, cx);
    return plugin_op(CTL_PLUGIN_REPLACE, req->name, req->drain_timeout_ms,
                     &rep->current, &rep->took_ns, cx);
}

/* ---- the table ---------------------------------------------------------- */

const struct ctl_handler ctl_control_handlers[] = {
    /* name, unary, stream, slow, mutates, bidi */
    {"GetStats", get_stats, NULL, 0, 0, 0},
    {"WatchStats", NULL, &watch_ops, 0, 0, 0},
    {"SetMaxProcs", set_max_procs, NULL, 0, 1, 0},
    {"DumpGoroutines", ctl_dump_goroutines, NULL, 0, 0, 0},
    {"ListRoutes", list_routes, NULL, 0, 0, 0},
    {"ListPlugins", list_plugins, NULL, 0, 0, 0},
    {"LoadPlugin", load_plugin, NULL, 1, 1, 0},
    {"UnloadPlugin", unload_plugin, NULL, 1, 1, 0},
    {"ReplacePlugin", replace_plugin, NULL, 1, 1, 0},
};
const size_t ctl_control_nhandlers =
    sizeof ctl_control_handlers / sizeof ctl_control_handlers[0];

int ctl_methods_register(struct ctl_dispatch *d, char *err, size_t errlen)
{
    if (ctl_dispatch_add(d, &gort__v1__control__descriptor,
                         ctl_control_handlers, ctl_control_nhandlers, err,
                         errlen) < 0)
        return -1;
    if (ctl_dispatch_add(d, &grpc__health__v1__health__descriptor,
                         ctl_health_handlers, ctl_health_nhandlers, err,
                         errlen) < 0)
        return -1;
    return ctl_reflection_register(d, err, errlen);
}

int ctl_methods_register_health(struct ctl_dispatch *d, char *err,
                                size_t errlen)
{
    return ctl_dispatch_add(d, &grpc__health__v1__health__descriptor,
                            ctl_health_handlers, ctl_health_nhandlers, err,
                            errlen);
}
