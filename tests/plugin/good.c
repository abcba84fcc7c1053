/* good — a plugin that loads: GET /good answers "good <config>\n". */
#include <stdlib.h>

#include "gort/plugin.h"

static void good(gort_http_response *w, gort_http_request *r, void *arg)
{
    (void)r;
    gort_http_printf(w, "good %s\n", (const char *)arg);
}

static int init(struct gort_plugin_registrar *reg, const char *config,
                void **state)
{
    *state = NULL;
    return gort_plugin_handle(reg, "GET /good", good,
                              (void *)(config ? config : "-"));
}

static void fini(void *state)
{
    (void)state;
}

GORT_PLUGIN("good", "0.1.0", init, fini);
