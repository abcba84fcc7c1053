/* admin/metrics.h — gortd's /metrics page: the runtime, the HTTP server and
 * the process in Prometheus's text format, with Go's metric names where a Go
 * service has them (go_goroutines, go_sched_latencies_seconds, process_*)
 * and gort_* for the rest. */
#ifndef GORT_ADMIN_METRICS_H
#define GORT_ADMIN_METRICS_H

#include "admin/procfs.h"
#include "admin/prom.h"
#include <stdbool.h>

#include "gort/stats.h"
#include "http/server.h"
#include "plugin/loader.h"

/* A route's answers by status class. */
struct metrics_route {
    char *pattern, *plugin; /* owned by whoever built the list */
    uint64_t by_class[6];
};

/* What one scrape shows; a NULL part is left out. */
struct metrics_source {
    const struct gort_stats *rt;
    const struct httpd_stats *http;
    const struct proc_self *proc;
    bool with_plugins; /* gortd has a loader: show the plugin families */
    const struct plugin_status *plugins; /* nplugins of them */
    size_t nplugins;
    const struct metrics_route *routes; /* nroutes of them */
    size_t nroutes;
    bool with_ops; /* ops holds the loader's operation counts */
    uint64_t ops[PLUGINS_OPS][2];
};

void metrics_write(struct prom_writer *w, const struct metrics_source *src);

#endif /* GORT_ADMIN_METRICS_H */
