/* good — a plugin that loads: GET /good answers "good <config>\n". Its
 * fini counts its calls in the environment variable TP_GOOD_FINI, where a
 * test that loaded it in-process can see them. */
#include <stdio.h>
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
    const char *n = getenv("TP_GOOD_FINI");
    char buf[24];
    snprintf(buf, sizeof buf, "%d", n ? atoi(n) + 1 : 1);
    setenv("TP_GOOD_FINI", buf, 1);
}

GORT_PLUGIN("good", "0.1.0", init, fini);
