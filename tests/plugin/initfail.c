/* initfail — registers a route, then fails init with a reason: the route
 * must not stay. */
#include <errno.h>

#include "gort/plugin.h"

static void h(gort_http_response *w, gort_http_request *r, void *arg)
{
    (void)r;
    (void)arg;
    gort_http_println(w, "initfail should not answer");
}

static int init(struct gort_plugin_registrar *reg, const char *config,
                void **state)
{
    (void)config;
    (void)state;
    int rc = gort_plugin_handle(reg, "GET /initfail", h, NULL);
    if (rc)
        return rc;
    gort_plugin_set_error(reg, "no database at %s", "localhost:5432");
    return -ECONNREFUSED;
}

GORT_PLUGIN("initfail", "0.1.0", init, NULL);
