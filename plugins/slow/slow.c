/* slow — handlers that take their time, for timeouts and shutdown tests:
 *
 *   GET /slow?ms=N      parks the goroutine on a timer for N ms, then
 *                       answers "slept N ms\n"
 *   GET /blocking?ms=N  blocks its thread in usleep inside gort_blocking
 *                       (the runtime hands the P to another thread)
 *   GET /stream?n=N&ms=M  N chunks "chunk i\n", flushed, M ms apart
 *   GET /panic          aborts the handler (the client gets 500)
 *
 * Built as slow.so.
 */
#include <stdlib.h>
#include <unistd.h>

#include "gort/net.h"
#include "gort/plugin.h"

/* Integer query parameter name, clamped to [0, max]; def when absent (or
 * too long to be a number). */
static long query_long(gort_http_request *r, const char *name, long def,
                       long max)
{
    char buf[32];
    if (gort_http_query_value(r, name, buf, sizeof buf) < 0)
        return def;
    long v = strtol(buf, NULL, 10);
    return v < 0 ? 0 : v > max ? max : v;
}

static void slow(gort_http_response *w, gort_http_request *r, void *arg)
{
    (void)arg;
    long ms = query_long(r, "ms", 100, 600000);
    gort_sleep(ms * 1000000LL);
    gort_http_printf(w, "slept %ld ms\n", ms);
}

static void do_usleep(void *arg)
{
    usleep((useconds_t)(long)arg * 1000);
}

static void blocking(gort_http_response *w, gort_http_request *r, void *arg)
{
    (void)arg;
    long ms = query_long(r, "ms", 100, 600000);
    gort_blocking(do_usleep, (void *)ms);
    gort_http_printf(w, "blocked %ld ms\n", ms);
}

static void stream(gort_http_response *w, gort_http_request *r, void *arg)
{
    (void)arg;
    long n = query_long(r, "n", 10, 100000);
    long ms = query_long(r, "ms", 0, 60000);
    for (long i = 0; i < n; i++) {
        if (gort_http_printf(w, "chunk %ld\n", i) < 0 || gort_http_flush(w) < 0)
            return;
        if (ms)
            gort_sleep(ms * 1000000LL);
    }
}

static void panic_handler(gort_http_response *w, gort_http_request *r,
                          void *arg)
{
    (void)r;
    (void)arg;
    gort_http_abort(w, "the /panic route always fails");
}

static int init(struct gort_plugin_registrar *reg, const char *config,
                void **state)
{
    (void)config;
    (void)state;
    static const struct {
        const char *pattern;
        gort_http_handler h;
    } routes[] = {
        {"GET /slow", slow},
        {"GET /blocking", blocking},
        {"GET /stream", stream},
        {"GET /panic", panic_handler},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = gort_plugin_handle(reg, routes[i].pattern, routes[i].h, NULL);
        if (rc != 0)
            return rc;
    }
    return 0;
}

GORT_PLUGIN("slow", "1.0.0", init, NULL);
