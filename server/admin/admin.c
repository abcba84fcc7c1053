/* admin/admin.c — the admin listener's handlers.
 *
 * /metrics takes three snapshots (the runtime's counters with relaxed
 * loads, the traffic server's counters, /proc/self) and formats them; no
 * lock is shared with the serving Ps, so a scrape costs them nothing. The
 * page is built whole before the head is written, so a scrape that runs
 * out of memory answers 500, never a truncated page Prometheus would half
 * ingest. /healthz answers as long as the process serves HTTP at all (a
 * liveness probe); /readyz only while gortd accepts traffic: 503 before
 * the plugins are loaded and from the moment a shutdown starts draining,
 * so a balancer stops sending before connections are refused.
 */
#include "admin/admin.h"

#include "admin/metrics.h"
#include "gort/http.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* dashboard.html, embedded at build time (embed.cmake). */
extern const unsigned char admin_dashboard_html[];
extern const size_t admin_dashboard_html_len;

static void metrics(gort_http_response *w, gort_http_request *r, void *arg)
{
    (void)r;
    struct admin *a = arg;
    struct gort_stats rt;
    struct httpd_stats http;
    struct proc_self proc;
    struct metrics_source src = {0};
    if (gort_stats_read(&rt) == 0)
        src.rt = &rt;
    if (a->traffic) {
        httpd_server_stats(a->traffic, &http);
        src.http = &http;
    }
    if (proc_self_read(&proc) == 0)
        src.proc = &proc;
    struct prom_writer pw;
    prom_init(&pw);
    metrics_write(&pw, &src);
    if (pw.failed) {
        gort_http_error(w, "out of memory", 500);
    } else {
        gort_http_set_header(w, "Content-Type", METRICS_CONTENT_TYPE);
        gort_http_write(w, pw.buf, pw.len);
    }
    prom_free(&pw);
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
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = mux_handle(mux, routes[i].pattern, (void *)routes[i].h, a, a,
                            err, errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}
