/* ver — a plugin built twice from this file (-DVER=1, -DVER=2) for the hot
 * load, unload and replace tests (test_hot.py): plugin "ver", version "1" or
 * "2".
 *
 *   GET /ver          → "v1\n" or "v2\n"
 *   GET /ver/bg?ms=N  → 202 at once; a goroutine it starts sleeps N ms, then
 *                       appends "bg done\n" to the log
 *
 * The log is the file named by the configuration "log=PATH" (ver.conf);
 * fini appends "fini v1\n" or "fini v2\n" to it. Without a configuration
 * nothing is logged. Each line is one open(O_APPEND)/write/close, so the
 * lines of two loaded copies never interleave.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gort/plugin.h"

#ifndef VER
#error "build with -DVER=1 or -DVER=2"
#endif

#define STR_(x) #x
#define STR(x) STR_(x)

struct ver_state {
    char *log; /* NULL: no logging */
};

struct bg_job {
    const struct ver_state *st;
    long ms;
};

static void log_line(const struct ver_state *st, const char *line)
{
    if (!st || !st->log)
        return;
    int fd = open(st->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    size_t n = strlen(line);
    ssize_t w = write(fd, line, n);
    (void)w;
    close(fd);
}

/* Integer query parameter name=, clamped to [0, max]; def when absent. */
static long query_long(gort_http_request *r, const char *name, long def,
                       long max)
{
    const char *q = gort_http_query(r);
    size_t n = strlen(name);
    for (const char *p = q; p && *p;
         p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
        if (strncmp(p, name, n) == 0 && p[n] == '=') {
            long v = strtol(p + n + 1, NULL, 10);
            return v < 0 ? 0 : v > max ? max : v;
        }
    }
    return def;
}

static void ver(gort_http_response *w, gort_http_request *r, void *arg)
{
    (void)r;
    (void)arg;
    gort_http_println(w, "v" STR(VER));
}

static void bg_run(void *arg)
{
    struct bg_job *job = arg;
    gort_sleep(job->ms * 1000000LL);
    log_line(job->st, "bg done\n");
    free(job);
}

static void bg(gort_http_response *w, gort_http_request *r, void *arg)
{
    struct bg_job *job = malloc(sizeof *job);
    if (!job) {
        gort_http_error(w, "out of memory", 500);
        return;
    }
    job->st = arg;
    job->ms = query_long(r, "ms", 100, 600000);
    if (gort_go(bg_run, job) < 0) {
        free(job);
        gort_http_error(w, "cannot start a goroutine", 500);
        return;
    }
    gort_http_write_header(w, 202);
    gort_http_println(w, "started");
}

/* "log=PATH" (trailing white space ignored) → PATH; NULL otherwise. */
static char *parse_log(const char *config)
{
    if (!config || strncmp(config, "log=", 4) != 0)
        return NULL;
    const char *p = config + 4;
    size_t n = strlen(p);
    while (n && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' ' ||
                 p[n - 1] == '\t'))
        n--;
    return n ? strndup(p, n) : NULL;
}

static int init(struct gort_plugin_registrar *reg, const char *config,
                void **state)
{
    struct ver_state *st = calloc(1, sizeof *st);
    if (!st)
        return -ENOMEM;
    st->log = parse_log(config);
    int rc = gort_plugin_handle(reg, "GET /ver", ver, st);
    if (rc == 0)
        rc = gort_plugin_handle(reg, "GET /ver/bg", bg, st);
    if (rc != 0) {
        free(st->log);
        free(st);
        return rc;
    }
    *state = st;
    return 0;
}

static void fini(void *state)
{
    struct ver_state *st = state;
    log_line(st, "fini v" STR(VER) "\n");
    free(st->log);
    free(st);
}

GORT_PLUGIN("ver", STR(VER), init, fini);
