/*
 * plugin.c — gortd's plugin loader: dlopen a .so from the plugins
 * directory, check its descriptor, let its init register routes, and keep
 * it or refuse it whole.
 *
 * Loading one file (load_file), in order; the first failure refuses it:
 *   path     the name is resolved with realpath and must stay inside the
 *            resolved directory (no "..", no symlink pointing out); the
 *            target must be a regular file not writable by group or others
 *            (whoever can write it can run code in gortd);
 *   dlopen   RTLD_NOW, so a missing symbol refuses the file now instead of
 *            killing a request later; RTLD_LOCAL, so two plugins' symbols
 *            never interpose on each other;
 *   check    gort_plugin_descriptor must exist, and its abi, size and
 *            signature must equal this gortd's (nginx's NGX_MODULE_V1
 *            check); the message names both sides. Its constructors have
 *            already run by then: dlopen gives no way to look first;
 *   init     registers routes through the registrar; the first failing
 *            gort_plugin_handle fails the plugin even if init ignores it;
 *   undo     on any failure after dlopen: the plugin's routes leave the mux
 *            (gort_mux_remove_owner), fini runs if init succeeded, dlclose.
 *
 * Routes point at a trampoline, not at the plugin's handler: its arg is a
 * struct plugin_route {plugin, handler, arg}, and it counts the plugin's
 * in-flight requests around the call. The count is what unload will wait
 * for; gort_http_server_swap_mux alone already waits for requests that
 * matched the old table, but not for goroutines a handler started, which
 * the plugin will count the same way. The trampoline lives in gortd, so a
 * mux entry never points into a .so directly.
 *
 * Not done here yet (issue 5): load/unload/replace at run time, the SIGHUP
 * rescan, counting a plugin's goroutines, configuration files.
 *
 * The check on the path and the dlopen by path are two steps: a file
 * renamed in between is opened unchecked. The directory's own permissions
 * are what protect it; dlopen("/proc/self/fd/N") would close the gap but
 * names every plugin "/proc/self/fd/N" in stack dumps (ctl_dump.c).
 */
#include "plugin.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gort/plugin.h"
#include "http_server.h"

struct plugin;

/* What a mux entry of a plugin points to. Owned by the plugin. */
struct plugin_route {
    struct plugin *plugin;
    gort_http_handler h; /* in the plugin's code */
    void *arg;
    struct plugin_route *next;
};

struct plugin {
    struct plugin *next;            /* see gort_plugins.lock */
    char *file;                     /* DIR/NAME.so; owned */
    void *dl;                       /* dlopen handle */
    const struct gort_plugin *desc; /* in the .so */
    void *state;                    /* init's, for fini */
    bool inited;                    /* init returned 0: fini is owed */
    struct plugin_route *routes;    /* owned; set up during load only */
    size_t nroutes;
    /* Requests inside this plugin's handlers. Incremented relaxed (the
     * route was matched, the code is mapped either way); decremented with
     * release so that whoever sees 0 with acquire sees the handlers done. */
    atomic_uint_fast64_t in_flight;
};

struct gort_plugins {
    char *dir;      /* as given: messages name files under it */
    char *dir_real; /* realpath(dir): files must resolve under it */
    /* The list changes only in the loading goroutine (one at a time: the
     * caller's job), which reads it without the lock; other readers
     * (gort_plugins_list, for the control plane) take it. */
    pthread_mutex_t lock;
    struct plugin *head, *tail; /* loaded, in load order */
    size_t n;
};

struct gort_plugin_registrar {
    struct gort_plugins *ps;
    struct plugin *p;
    struct gort_mux *mux;
    const char *config;
    int failed;     /* first failing gort_plugin_handle, 0 if none */
    char err[1280]; /* its message, or gort_plugin_set_error's */
};

static void trampoline(gort_http_response *w, gort_http_request *r, void *arg)
{
    struct plugin_route *pr = arg;
    atomic_fetch_add_explicit(&pr->plugin->in_flight, 1, memory_order_relaxed);
    gort_http_call(w, r, pr->h, pr->arg);
    atomic_fetch_sub_explicit(&pr->plugin->in_flight, 1, memory_order_release);
}

/* ---- the registrar (the public API in gort/plugin.h) --------------------- */

/* Names the loaded plugin that owns owner's routes, for a conflict. */
static void describe_owner(struct gort_plugin_registrar *reg, const void *owner,
                           char *out, size_t n)
{
    if (owner == reg->p) {
        snprintf(out, n, "this plugin itself");
        return;
    }
    for (struct plugin *q = reg->ps->head; q; q = q->next) {
        if (q == owner) {
            snprintf(out, n, "plugin %s from %s", q->desc->name, q->file);
            return;
        }
    }
    snprintf(out, n, "a route not owned by a plugin");
}

/* The mux's conflict message, plus who owns the other pattern. */
static void conflict_message(struct gort_plugin_registrar *reg,
                             const char *pattern, const char *muxerr)
{
    const void *owner = NULL;
    char who[512];

    if (gort_mux_conflict_owner(reg->mux, pattern, &owner) != 0) {
        snprintf(reg->err, sizeof reg->err, "%s", muxerr);
        return;
    }
    describe_owner(reg, owner, who, sizeof who);
    snprintf(reg->err, sizeof reg->err, "%s (owned by %s)", muxerr, who);
}

/* Registers pattern through the trampoline; muxerr says why not. */
static int route_add(struct gort_plugin_registrar *reg, const char *pattern,
                     gort_http_handler h, void *arg, char *muxerr, size_t n)
{
    struct plugin_route *pr = calloc(1, sizeof *pr);
    int rc;

    if (!pr) {
        snprintf(muxerr, n, "route %s: out of memory", pattern);
        return -ENOMEM;
    }
    *pr = (struct plugin_route){reg->p, h, arg, reg->p->routes};
    rc = gort_mux_handle(reg->mux, pattern, (void *)trampoline, pr, reg->p,
                         muxerr, n);
    if (rc) {
        free(pr);
        return rc;
    }
    reg->p->routes = pr;
    reg->p->nroutes++;
    return 0;
}

int gort_plugin_handle(struct gort_plugin_registrar *reg, const char *pattern,
                       gort_http_handler h, void *arg)
{
    char muxerr[512];
    int rc;

    if (!h || !pattern) {
        snprintf(muxerr, sizeof muxerr, "route %s: no handler",
                 pattern ? pattern : "(null)");
        rc = -EINVAL;
    } else {
        rc = route_add(reg, pattern, h, arg, muxerr, sizeof muxerr);
    }
    if (rc == 0)
        return 0;
    if (rc == -EEXIST)
        conflict_message(reg, pattern, muxerr);
    else
        snprintf(reg->err, sizeof reg->err, "%s", muxerr);
    if (!reg->failed)
        reg->failed = rc; /* fails the plugin even if init ignores rc */
    return rc;
}

void gort_plugin_set_error(struct gort_plugin_registrar *reg, const char *fmt,
                           ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reg->err, sizeof reg->err, fmt, ap);
    va_end(ap);
}

const char *gort_plugin_error(const struct gort_plugin_registrar *reg)
{
    return reg->err;
}

const char *gort_plugin_config(const struct gort_plugin_registrar *reg)
{
    return reg->config;
}

/* ---- one file -------------------------------------------------------------
 */

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

/* Resolves file (DIR/name) into real (PATH_MAX bytes): it must name a
 * file directly inside the resolved directory, and be safe to run. */
static int check_path(const struct gort_plugins *ps, const char *file,
                      char *real, char *err, size_t errlen)
{
    size_t dl = strlen(ps->dir_real);
    struct stat st;

    if (!realpath(file, real))
        return fail(err, errlen, -errno, "%s: %s", file, strerror(errno));
    if (strncmp(real, ps->dir_real, dl) != 0 || real[dl] != '/' ||
        strchr(real + dl + 1, '/'))
        return fail(err, errlen, -EPERM,
                    "%s: resolves to %s, outside the plugins directory %s",
                    file, real, ps->dir_real);
    if (stat(real, &st) < 0)
        return fail(err, errlen, -errno, "%s: %s", file, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return fail(err, errlen, -EPERM, "%s: not a regular file", file);
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return fail(err, errlen, -EPERM,
                    "%s: writable by %s (mode %04o): refusing to run code "
                    "others can change",
                    file, st.st_mode & S_IWOTH ? "others" : "group",
                    (unsigned)(st.st_mode & 07777));
    return 0;
}

/* The descriptor against this gortd's ABI. */
static int check_desc(const struct gort_plugin *d, const char *file, char *err,
                      size_t errlen)
{
    const char *sig = d->signature ? d->signature : "(none)";

    if (d->abi != GORT_PLUGIN_ABI || d->size != sizeof *d ||
        strcmp(sig, GORT_PLUGIN_SIGNATURE) != 0)
        return fail(err, errlen, -EPROTO,
                    "%s: built for plugin ABI %u (size %u, \"%s\"), this "
                    "gortd speaks ABI %d (size %zu, \"%s\")",
                    file, d->abi, d->size, sig, GORT_PLUGIN_ABI, sizeof *d,
                    GORT_PLUGIN_SIGNATURE);
    if (!d->name || !d->name[0] || !d->version || !d->init)
        return fail(err, errlen, -EINVAL,
                    "%s: descriptor lacks a name, a version or init", file);
    return 0;
}

static struct plugin *find_name(struct gort_plugins *ps, const char *name)
{
    for (struct plugin *q = ps->head; q; q = q->next)
        if (strcmp(q->desc->name, name) == 0)
            return q;
    return NULL;
}

static void plugin_free(struct plugin *p)
{
    while (p->routes) {
        struct plugin_route *next = p->routes->next;
        free(p->routes);
        p->routes = next;
    }
    free(p->file);
    free(p);
}

/* Runs init; fails the plugin when init or any of its routes failed. */
static int run_init(struct gort_plugins *ps, struct plugin *p,
                    struct gort_mux *mux, const char *config, char *err,
                    size_t errlen)
{
    struct gort_plugin_registrar reg = {ps, p, mux, config, 0, ""};
    int rc = p->desc->init(&reg, config, &p->state);

    p->inited = rc == 0;
    if (rc != 0)
        return fail(err, errlen, rc < 0 ? rc : -EINVAL,
                    "%s: init of plugin %s failed: %s%s%s", p->file,
                    p->desc->name, rc < 0 ? strerror(-rc) : "non-errno result",
                    reg.err[0] ? ": " : "", reg.err);
    if (reg.failed)
        return fail(err, errlen, reg.failed, "%s: plugin %s: %s", p->file,
                    p->desc->name, reg.err);
    return 0;
}

/* Undoes a failed load after dlopen. If the routes cannot be taken out of
 * the mux (out of memory), the code they point to stays mapped: leaked,
 * never unmapped under a route. */
static void unload_failed(struct plugin *p, struct gort_mux *mux)
{
    if (gort_mux_remove_owner(mux, p) < 0) {
        fprintf(stderr,
                "gortd: %s: out of memory removing its routes; "
                "leaving it mapped\n",
                p->file);
        return;
    }
    if (p->inited && p->desc->fini)
        p->desc->fini(p->state);
    dlclose(p->dl);
    plugin_free(p);
}

static int open_plugin(struct gort_plugins *ps, struct plugin *p,
                       const char *real, char *err, size_t errlen)
{
    struct plugin *dup;

    p->dl = dlopen(real, RTLD_NOW | RTLD_LOCAL);
    if (!p->dl)
        return fail(err, errlen, -ENOEXEC, "%s: dlopen: %s", p->file,
                    dlerror());
    dlerror();
    p->desc = dlsym(p->dl, GORT_PLUGIN_SYMBOL);
    if (!p->desc)
        return fail(err, errlen, -ENOENT,
                    "%s: no %s symbol: not a gort plugin (declare one with "
                    "GORT_PLUGIN)",
                    p->file, GORT_PLUGIN_SYMBOL);
    int rc = check_desc(p->desc, p->file, err, errlen);
    if (rc == 0 && (dup = find_name(ps, p->desc->name)))
        rc = fail(err, errlen, -EEXIST,
                  "%s: a plugin named %s is already loaded from %s", p->file,
                  p->desc->name, dup->file);
    return rc;
}

static int load_file(struct gort_plugins *ps, struct gort_mux *mux,
                     const char *name, const char *config, char *err,
                     size_t errlen)
{
    char real[PATH_MAX];
    struct plugin *p = calloc(1, sizeof *p);
    int rc;

    if (!p || asprintf(&p->file, "%s/%s", ps->dir, name) < 0) {
        free(p);
        return fail(err, errlen, -ENOMEM, "%s: out of memory", name);
    }
    rc = check_path(ps, p->file, real, err, errlen);
    if (rc) {
        plugin_free(p);
        return rc;
    }
    rc = open_plugin(ps, p, real, err, errlen);
    if (rc == 0)
        rc = run_init(ps, p, mux, config, err, errlen);
    if (rc) {
        if (p->dl)
            unload_failed(p, mux);
        else
            plugin_free(p);
        return rc;
    }
    pthread_mutex_lock(&ps->lock);
    if (ps->tail)
        ps->tail->next = p;
    else
        ps->head = p;
    ps->tail = p;
    ps->n++;
    pthread_mutex_unlock(&ps->lock);
    return 0;
}

/* ---- the set --------------------------------------------------------------
 */

struct gort_plugins *gort_plugins_new(const char *dir, char *err, size_t errlen)
{
    struct gort_plugins *ps = calloc(1, sizeof *ps);
    struct stat st;

    if (!ps)
        goto nomem;
    ps->dir = strdup(dir);
    if (!ps->dir)
        goto nomem;
    ps->dir_real = realpath(dir, NULL);
    if (!ps->dir_real || stat(ps->dir_real, &st) < 0) {
        fail(err, errlen, 0, "plugins directory %s: %s", dir, strerror(errno));
        goto err;
    }
    if (!S_ISDIR(st.st_mode)) {
        fail(err, errlen, 0, "plugins directory %s: not a directory", dir);
        goto err;
    }
    pthread_mutex_init(&ps->lock, NULL);
    return ps;
nomem:
    fail(err, errlen, 0, "out of memory");
err:
    if (ps) {
        free(ps->dir_real);
        free(ps->dir);
        free(ps);
    }
    return NULL;
}

int gort_plugins_load(struct gort_plugins *ps, struct gort_mux *mux,
                      const char *name, const char *config, char *err,
                      size_t errlen)
{
    return load_file(ps, mux, name, config, err, errlen);
}

static int is_plugin_name(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return e->d_name[0] != '.' && n > 3 &&
           strcmp(e->d_name + n - 3, ".so") == 0;
}

int gort_plugins_load_dir(struct gort_plugins *ps, struct gort_mux *mux)
{
    struct dirent **names;
    char err[PATH_MAX + 1024];
    int n = scandir(ps->dir_real, &names, is_plugin_name, alphasort);
    int loaded = 0;

    if (n < 0) {
        int rc = -errno;
        fprintf(stderr, "gortd: plugins directory %s: %s\n", ps->dir,
                strerror(errno));
        return rc;
    }
    for (int i = 0; i < n; i++) {
        if (load_file(ps, mux, names[i]->d_name, NULL, err, sizeof err) == 0) {
            const struct plugin *p = ps->tail;
            fprintf(stderr, "gortd: plugin %s %s loaded from %s (%zu routes)\n",
                    p->desc->name, p->desc->version, p->file, p->nroutes);
            loaded++;
        } else {
            fprintf(stderr, "gortd: plugin refused: %s\n", err);
        }
        free(names[i]);
    }
    free(names);
    return loaded;
}

size_t gort_plugins_list(struct gort_plugins *ps, struct gort_plugin_info *out,
                         size_t n)
{
    size_t i = 0, total;

    pthread_mutex_lock(&ps->lock);
    for (const struct plugin *p = ps->head; p && i < n; p = p->next, i++)
        out[i] = (struct gort_plugin_info){
            p->desc->name, p->desc->version, p->file, p->nroutes,
            atomic_load_explicit(&p->in_flight, memory_order_relaxed)};
    total = ps->n;
    pthread_mutex_unlock(&ps->lock);
    return total;
}

void gort_plugins_free(struct gort_plugins *ps)
{
    if (!ps)
        return;
    /* Last loaded, first finished: a later plugin may use an earlier one's
     * state (not yet, but nginx's order is the safe one). */
    while (ps->head) {
        struct plugin *p = ps->head, *prev = NULL;
        while (p->next) {
            prev = p;
            p = p->next;
        }
        if (prev)
            prev->next = NULL;
        else
            ps->head = NULL;
        if (p->desc->fini)
            p->desc->fini(p->state);
        dlclose(p->dl);
        plugin_free(p);
    }
    pthread_mutex_destroy(&ps->lock);
    free(ps->dir_real);
    free(ps->dir);
    free(ps);
}

const char *gort_plugins_owner_name(struct gort_plugins *ps, const void *owner)
{
    const char *name = NULL;
    if (!ps || !owner)
        return NULL;
    pthread_mutex_lock(&ps->lock);
    for (const struct plugin *q = ps->head; q && !name; q = q->next)
        if ((const void *)q == owner)
            name = q->desc->name;
    pthread_mutex_unlock(&ps->lock);
    return name;
}
