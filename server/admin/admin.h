/* admin/admin.h — the admin listener's routes: /metrics, /healthz, /readyz,
 * the dashboard (/debug/gort/ and its stats.json) and the goroutine dumps
 * (/debug/gort/goroutines?debug=1|2).
 *
 * gortd serves them on a second HTTP server of its own (--admin ADDR),
 * never on the traffic port, so that a scrape or a probe neither shares the
 * traffic's limits nor competes with its routes. */
#ifndef GORT_ADMIN_ADMIN_H
#define GORT_ADMIN_ADMIN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "http/mux.h"
#include "http/server.h"
#include "plugin/loader.h"

typedef void (*admin_plugin_fn)(const struct plugin_status *p, void *arg);

/* One route of the traffic's table, as /metrics shows it. */
struct admin_route {
    const char *pattern, *plugin; /* valid during the callback only */
    uint64_t by_class[6];         /* answers, [1]..[5]: 1xx..5xx */
};
typedef void (*admin_route_fn)(const struct admin_route *r, void *arg);

struct admin {
    struct httpd_server *traffic; /* whose HTTP counters are shown */
    atomic_int ready;             /* 1 once serving; 0 again when draining */
    /* Calls fn for every loaded plugin (NULL: there are none). Any
     * goroutine; the caller's own locking. */
    void (*each_plugin)(void *ctx, admin_plugin_fn fn, void *arg);
    /* Calls fn for every route of a plugin (NULL: no routes shown). */
    void (*each_route)(void *ctx, admin_route_fn fn, void *arg);
    /* The loader's operation counts (NULL: none shown). */
    void (*plugin_ops)(void *ctx, uint64_t out[PLUGINS_OPS][2]);
    void *ctx;
};

/* Registers the admin routes into mux (owner: a). 0, or a negative errno
 * with err filled. */
int admin_register(struct mux *mux, struct admin *a, char *err, size_t errlen);

#endif /* GORT_ADMIN_ADMIN_H */
