/* admin/admin.c — the admin listener's handlers.
 *
 * /metrics and the dashboard's stats.json take one snapshot (the runtime's
 * counters with relaxed loads, the traffic server's counters, /proc/self,
 * the plugins' counters) and format it; no lock is shared with the serving
 * Ps, so a scrape costs them nothing. The
 * page is built whole before the head is written, so a scrape that runs
 * out of memory answers 500, never a truncated page Prometheus would half
 * ingest. /healthz answers as long as the process serves HTTP at all (a
 * liveness probe); /readyz only while gortd accepts traffic: 503 before
 * the plugins are loaded and from the moment a shutdown starts draining,
 * so a balancer stops sending before connections are refused.
 */
#include "admin/admin.h"

#include <stdlib.h>
#include <string.h>

#include "admin/goroutines.h"
#include "admin/metrics.h"
#include "admin/statsjson.h"
#include "gort/http.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* dashboard.html, embedded at build time (embed.cmake). */
extern const unsigned char admin_dashboard_html[];
extern const size_t admin_dashboard_html_len;

/* The plugins' counters, copied out (a plugin may unload meanwhile). */
struct plugin_list {
    struct plugin_status *v;
    size_t n, cap;
};

static void plugin_add(const struct plugin_status *p, void *arg)
{
    struct plugin_list *l = arg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        struct plugin_status *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return; /* a plugin less on this page, not a failed scrape */
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *p;
}

/* The routes' counters, copied out the same way. */
struct route_list {
    struct metrics_route *v;
    size_t n, cap;
};

static void route_add(const struct admin_route *r, void *arg)
{
    struct route_list *l = arg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        struct metrics_route *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return;
        l->v = v;
        l->cap = cap;
    }
    struct metrics_route *m = &l->v[l->n];
    m->pattern = strdup(r->pattern);
    m->plugin = strdup(r->plugin);
    if (!m->pattern || !m->plugin) {
        free(m->pattern);
        free(m->plugin);
        return;
    }
    memcpy(m->by_class, r->by_class, sizeof m->by_class);
    l->n++;
}

/* One snapshot of everything a page shows; release with snapshot_free. */
struct snapshot {
    struct gort_stats rt;
    struct httpd_stats http;
    struct proc_self proc;
    struct plugin_list plugins;
    struct route_list routes;
    struct metrics_source src;
};

static struct snapshot *snapshot_take(struct admin *a)
{
    struct snapshot *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (gort_stats_read(&s->rt) == 0)
        s->src.rt = &s->rt;
    if (a->traffic) {
        httpd_server_stats(a->traffic, &s->http);
        s->src.http = &s->http;
    }
    if (proc_self_read(&s->proc) == 0)
        s->src.proc = &s->proc;
    if (a->each_plugin) {
        a->each_plugin(a->ctx, plugin_add, &s->plugins);
        s->src.with_plugins = true;
        s->src.plugins = s->plugins.v;
        s->src.nplugins = s->plugins.n;
    }
    if (a->each_route) {
        a->each_route(a->ctx, route_add, &s->routes);
        s->src.routes = s->routes.v;
        s->src.nroutes = s->routes.n;
    }
    if (a->plugin_ops) {
        a->plugin_ops(a->ctx, s->src.ops);
        s->src.with_ops = true;
    }
    return s;
}

static void snapshot_free(struct snapshot *s)
{
    if (s) {
        free(s->plugins.v);
        for (size_t i = 0; i < s->routes.n; i++) {
            free(s->routes.v[i].pattern);
            free(s->routes.v[i].plugin);
        }
        free(s->routes.v);
    }
    free(s);
}

static void send_page(gort_http_response *w, struct textbuf *t,
                      const char *type)
{
    if (t->failed) {
        gort_http_error(w, "out of memory", 500);
        return;
    }
    gort_http_set_header(w, "Content-Type", type);
    gort_http_set_header(w, "Cache-Control", "no-store");
    gort_http_write(w, t->buf, t->len);
}

static void metrics(gort_http_response *w, gort_http_request *r, void *arg)
{
    (void)r;
    struct snapshot *s = snapshot_take(arg);
    if (!s) {
        gort_http_error(w, "out of memory", 500);
        return;
    }
    struct prom_writer pw;
    prom_init(&pw);
    metrics_write(&pw, &s->src);
    send_page(w, &pw.out, METRICS_CONTENT_TYPE);
    prom_free(&pw);
    snapshot_free(s);
}

static void stats_json(gort_http_response *w, gort_http_request *r, void *arg)
{
    (void)r;
    struct snapshot *s = snapshot_take(arg);
    if (!s) {
        gort_http_error(w, "out of memory", 500);
        return;
    }
    struct textbuf t = {0};
    statsjson_write(&t, &s->src);
    send_page(w, &t, "application/json");
    textbuf_free(&t);
    snapshot_free(s);
}

/* ?debug=1 (grouped by stack) or ?debug=2 (every goroutine's traceback),
 * as net/http/pprof's goroutine profile; its default, debug=0, is the
 * binary pprof profile, which gort does not produce. */
static void goroutines(gort_http_response *w, gort_http_request *r, void *arg)
{
    (void)arg;
    char v[8];
    ssize_t n = gort_http_query_value(r, "debug", v, sizeof v);
    int debug = n < 0                 ? 0
                : strcmp(v, "1") == 0 ? 1
                : strcmp(v, "2") == 0 ? 2
                                      : 0;
    if (!debug) {
        gort_http_error(w,
                        "want ?debug=1 (grouped by stack) or ?debug=2 (Go's "
                        "traceback text); the binary profile is not served",
                        400);
        return;
    }
    struct textbuf t = {0};
    long rc = goroutines_write(&t, debug);
    if (rc < 0 && !t.failed) {
        gort_http_error(w, "the runtime is not running", 503);
    } else {
        send_page(w, &t, "text/plain; charset=utf-8");
    }
    textbuf_free(&t);
}

static void healthz(gort_http_response *w, gort_http_request *r, void *arg)
{
    (void)r, (void)arg;
    gort_http_println(w, "ok");
}

static void readyz(gort_http_response *w, gort_http_request *r, void *arg)
{
    (void)r;
    struct admin *a = arg;
    if (atomic_load_explicit(&a->ready, memory_order_acquire))
        gort_http_println(w, "ok");
    else
        gort_http_error(w, "not ready", 503);
}

static void dashboard(gort_http_response *w, gort_http_request *r, void *arg)
{
    (void)r, (void)arg;
    gort_http_set_header(w, "Content-Type", "text/html; charset=utf-8");
    gort_http_set_header(w, "Cache-Control", "no-cache");
    gort_http_write(w, admin_dashboard_html, admin_dashboard_html_len);
}

int admin_register(struct mux *mux, struct admin *a, char *err, size_t errlen)
{
    static const struct {
        const char *pattern;
        gort_http_handler h;
    } routes[] = {
        {"GET /metrics", metrics},
        {"GET /healthz", healthz},
        {"GET /readyz", readyz},
        {"GET /debug/gort/{$}", dashboard},
        {"GET /debug/gort/stats.json", stats_json},
        {"GET /debug/gort/goroutines", goroutines},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = mux_handle(mux, routes[i].pattern, (void *)routes[i].h, a, a,
                            err, errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}
