/* conflict — registers GET /conflict-first, then hello's GET /about: the
 * second conflicts, so neither may stay, and fini must run. */
#include <stdio.h>

#include "gort/plugin.h"

static void h(gort_http_response *w, gort_http_request *r, void *arg)
{
    (void)r;
    (void)arg;
    gort_http_println(w, "conflict should not answer");
}

static int init(struct gort_plugin_registrar *reg, const char *config,
                void **state)
{
    (void)config;
    (void)state;
    if (gort_plugin_handle(reg, "GET /conflict-first", h, NULL) != 0)
        return -1;
    /* The result is ignored on purpose: a failed route fails the plugin
     * even when init says it succeeded. */
    gort_plugin_handle(reg, "GET /about", h, NULL);
    return 0;
}

static void fini(void *state)
{
    (void)state;
    fprintf(stderr, "conflict: fini called\n");
}

GORT_PLUGIN("conflict", "0.1.0", init, fini);
