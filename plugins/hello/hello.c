/* hello — the seed's main.go as gort handlers, with its patterns:
 *
 *   mux.HandleFunc("/", handler)            every method, every path no
 *                                           other pattern matches →
 *       {"Content-Type": "application/json"} "hello world\n"
 *   mux.HandleFunc("/about", aboutHandler)  every method → "About page\n"
 *
 * Built as hello.so; `make run` loads it from build/plugins.
 */
#include "gort/plugin.h"

static void hello(gort_http_response *w, gort_http_request *r, void *arg)
{
    (void)r;
    (void)arg;
    gort_http_set_header(w, "Content-Type", "application/json");
    gort_http_println(w, "hello world");
}

static void about(gort_http_response *w, gort_http_request *r, void *arg)
{
    (void)r;
    (void)arg;
    gort_http_println(w, "About page");
}

static int init(struct gort_plugin_registrar *reg, const char *config,
                void **state)
{
    (void)config;
    (void)state;
    int rc = gort_plugin_handle(reg, "/", hello, NULL);
    if (rc == 0)
        rc = gort_plugin_handle(reg, "/about", about, NULL);
    return rc;
}

GORT_PLUGIN("hello", "1.0.0", init, NULL);
