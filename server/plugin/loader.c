/*
 * plugin/loader.c — gortd's plugin loader: dlopen a .so from the plugins
 * directory, check its descriptor, let its init register routes, keep it or
 * refuse it whole; and, while gortd serves, load, unload and replace plugins
 * without failing a request.
 *
 * Loading one file (load_file), in order; the first failure refuses it:
 *   path     the name is resolved with realpath and must stay inside the
 *            resolved directory (no "..", no symlink pointing out); the
 *            target must be a regular file owned by root or gortd's user
 *            and not writable by group or others, in a directory chain
 *            that passes the same test (strict.c: whoever can write it can
 *            run code in gortd); NAME.conf likewise, never through a
 *            symlink;
 *   dlopen   RTLD_NOW, so a missing symbol refuses the file now instead of
 *            killing a request later; RTLD_LOCAL, so two plugins' symbols
 *            never interpose on each other;
 *   check    gort_plugin_descriptor must exist, and its abi, size and
 *            signature must equal this gortd's (nginx's NGX_MODULE_V1
 *            check); the message names both sides. Its constructors have
 *            already run by then: dlopen gives no way to look first;
 *   init     registers routes through the registrar, with NAME.conf (if
 *            present) as its configuration; the first failing
 *            gort_plugin_handle fails the plugin even if init ignores it;
 *   undo     on any failure after dlopen: the plugin's routes leave the mux
 *            (mux_remove_owner), fini runs if init succeeded, dlclose.
 *
 * What keeps a plugin's code mapped. Three things can be inside it:
 *   requests   the HTTP server pins a route's owner (the plugin) while the
 *              request still sees the route table, and unpins it when the
 *              handler returned (route_pin/route_unpin): p->in_flight;
 *   goroutines its code started, and theirs: the handler trampoline, init
 *              and fini run inside the plugin's goroutine group (gort.h), so
 *              the runtime counts them from creation to exit;
 *   the table  routes point at the trampoline in gortd with a plugin_route
 *              as argument, never into the .so; a request keeps nothing of
 *              the table once matched (http/conn.c), so publishing a table
 *              waits for matching only.
 *
 * Hot operations build the next table from a clone of the served one,
 * publish it through the host (gortd's HTTP server: an atomic swap; readers
 * never lock), free the old table, and only then wait for the old plugin's
 * requests and goroutines to reach zero, bounded by drain_ns. At zero: fini,
 * dlclose. Past the bound the plugin moves to the draining list, still
 * mapped, and is finished by whichever later operation finds it at zero; the
 * caller is told what still runs. Nothing ever unmaps code that may run.
 *
 * Replace loads the new file before the old one is touched, into a table
 * without the old plugin's routes, so a failed replace changes nothing and a
 * successful one switches every route in one swap (no 404 in between). glibc
 * returns the already-open handle for a path (or an inode) it has loaded, so
 * a file whose path is still open is copied to a private temporary file
 * first and that copy is opened (then unlinked: the mapping stays).
 *
 * Hot operations run one at a time on a goroutine (init may start
 * goroutines, which must join the plugin's group); a caller on a plain
 * thread (the control plane) hands the operation to a goroutine and waits.
 * An operation still queued at its caller's deadline does not start.
 *
 * A plugin refused after dlopen is finished the same way: its constructors
 * and init ran inside its group, so goroutines they started keep it mapped
 * (on the draining list if they outlive FAILED_DRAIN_NS). fini runs once;
 * goroutines fini starts are waited for too.
 *
 * The check on the path and the dlopen by path are two steps: a file
 * renamed in between is opened unchecked. The directory's own permissions
 * are what protect it; dlopen("/proc/self/fd/N") would close the gap but
 * names every plugin "/proc/self/fd/N" in stack dumps (control/dump.c).
 */
#include "plugin/loader.h"
#include "plugin/strict.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/list.h"
#include "gort/plugin.h"
#include "gort/stats.h"
#include "http/server.h"
#include "log.h"

#define DRAIN_DEFAULT_NS INT64_C(10000000000)
#define FAILED_DRAIN_NS                                                        \
    INT64_C(1000000000)        /* a refused plugin's goroutines                \
                                */
#define CONFIG_MAX (64 * 1024) /* bytes of NAME.conf read at most */

struct plugin;

/* What a mux entry of a plugin points to. Owned by the plugin. */
struct plugin_route {
    struct plugin *plugin;
    gort_http_handler h; /* in the plugin's code */
    void *arg;
    struct plugin_route *next;
    /* "plugin NAME VERSION, route PATTERN": what a goroutine running this
     * route serves, for its crash report (gort_set_serving). Owned. */
    char *serving;
    atomic_uint_fast64_t requests;    /* answered through this route */
    atomic_uint_fast64_t by_class[6]; /* of those, [1]..[5]: 1xx..5xx */
};

struct plugin {
    struct ilist_node link;         /* loaded or draining: see plugins */
    char *file;                     /* DIR/NAME.so; owned */
    char *base;                     /* NAME.so, inside file */
    char *config;                   /* NAME.conf's text, or NULL; owned */
    void *dl;                       /* dlopen handle */
    char *dl_path;                  /* what was dlopen'ed; owned */
    const struct gort_plugin *desc; /* in the .so */
    void *state;                    /* init's, for fini */
    bool inited;                    /* init returned 0: fini is owed */
    bool fini_done;                 /* fini ran (once: see finish) */
    struct plugin_route *routes;    /* owned; set up during load only */
    size_t nroutes;
    struct stat st;         /* of the file when loaded: SIGHUP compares */
    int64_t loaded_unix_ns; /* wall clock at load */
    /* Requests routed to it, from the moment they matched until the
     * handler returned (route_pin/route_unpin). Incremented relaxed inside
     * the table's reader section (a publisher that saw the section end sees
     * it); decremented with release, so whoever sees 0 with acquire sees the
     * handlers done. */
    atomic_uint_fast64_t in_flight;
    atomic_uint_fast64_t errors; /* requests: the sum of its routes' */
    struct gort_group group;     /* goroutines its code started */
    /* Quarantine (--plugin-faults=quarantine): the first fault in its code
     * claims `faulted`, stores the report, then sets `quarantined`
     * (release): from then on its routes answer 503. The code stays
     * mapped (a request of it may still run). */
    atomic_bool faulted, quarantined;
    char *fault_report; /* owned; written once, before quarantined */
};

struct plugins {
    char *dir;      /* as given: messages name files under it */
    char *dir_real; /* realpath(dir): files must resolve under it */
    /* The list changes only in the goroutine running an operation (one at
     * a time: ops), which reads it without the lock; other readers
     * (plugins_each, for the control plane) take it. */
    pthread_mutex_t lock;
    struct ilist loaded; /* of plugin.link, in load order */
    size_t n;
    gort_mutex ops;        /* one hot operation at a time */
    struct ilist draining; /* unloaded, still running: ops only */
    struct mux *served;    /* the published table: ops only */
    struct plugins_host host;
    /* Operations done since start, [op][0 done, 1 failed]: /metrics. */
    atomic_uint_fast64_t ops_count[PLUGINS_OPS][2];
};

/* Counts one operation's outcome and returns rc. -EBUSY is a done unload
 * or replace whose old code still drains. */
static int counted(struct plugins *ps, enum plugins_op op, int rc)
{
    atomic_fetch_add_explicit(&ps->ops_count[op][rc != 0 && rc != -EBUSY], 1,
                              memory_order_relaxed);
    return rc;
}

void plugins_ops_read(struct plugins *ps, uint64_t out[PLUGINS_OPS][2])
{
    for (int i = 0; i < PLUGINS_OPS; i++)
        for (int j = 0; j < 2; j++)
            out[i][j] = ps ? atomic_load_explicit(&ps->ops_count[i][j],
                                                  memory_order_relaxed)
                           : 0;
}

struct gort_plugin_registrar {
    struct plugins *ps;
    struct plugin *p;
    struct mux *mux;
    const char *config;
    int failed;     /* first failing gort_plugin_handle, 0 if none */
    char err[1280]; /* its message, or gort_plugin_set_error's */
};

static atomic_bool quarantine_faults; /* plugins_quarantine_faults */

void plugins_quarantine_faults(bool on)
{
    atomic_store(&quarantine_faults, on);
}

/* The handler faulted in its plugin's code: the first fault quarantines the
 * plugin and keeps its report; every fault is logged. */
static void quarantine(struct plugin *p, struct plugin_route *pr,
                       const struct gort_fault_trap *t)
{
    bool expect = false;
    if (atomic_compare_exchange_strong(&p->faulted, &expect, true)) {
        p->fault_report = strdup(t->report);
        atomic_store_explicit(&p->quarantined, true, memory_order_release);
    }
    glog_error("plugin quarantined: fault in its code",
               GLOG_STR("plugin", p->desc->name),
               GLOG_STR("version", p->desc->version),
               GLOG_STR("serving", pr->serving), GLOG_STR("report", t->report));
}

/* The handler under a fault trap on the plugin's code (its descriptor is
 * inside the .so). The trap is 4 KiB of this goroutine's stack: only in
 * quarantine mode. */
static bool call_trapped(gort_http_response *w, gort_http_request *r,
                         struct plugin_route *pr)
{
    struct gort_fault_trap t = {.object = pr->plugin->desc};
    bool ok = http_call_trapped(w, r, pr->h, pr->arg, &t);
    if (t.sig)
        quarantine(pr->plugin, pr, &t);
    return ok;
}

/* Runs the handler inside the plugin's goroutine group and counts what it
 * answered; names the route for crash reports; answers 503 for a
 * quarantined plugin. p->in_flight is the server's job (route_pin): it must
 * cover the time between matching and this call too. */
static void trampoline(gort_http_response *w, gort_http_request *r, void *arg)
{
    struct plugin_route *pr = arg;
    struct plugin *p = pr->plugin;
    if (atomic_load_explicit(&p->quarantined, memory_order_acquire)) {
        gort_http_error(w, "Service Unavailable", 503);
        atomic_fetch_add_explicit(&p->errors, 1, memory_order_relaxed);
        return;
    }
    const char *was = gort_set_serving(pr->serving);
    struct gort_group *prev = gort_group_enter(&p->group);
    bool ok = atomic_load_explicit(&quarantine_faults, memory_order_relaxed)
                  ? call_trapped(w, r, pr)
                  : http_call(w, r, pr->h, pr->arg);
    gort_group_enter(prev);
    gort_set_serving(was);
    atomic_fetch_add_explicit(&pr->requests, 1, memory_order_relaxed);
    int status = ok ? gort_http_status(w) : 500; /* an abort answers 500 */
    if (status / 100 >= 1 && status / 100 <= 5)
        atomic_fetch_add_explicit(&pr->by_class[status / 100], 1,
                                  memory_order_relaxed);
    if (status >= 500)
        atomic_fetch_add_explicit(&p->errors, 1, memory_order_relaxed);
}

void plugins_route_classes(const void *owner, const void *arg, uint64_t out[6])
{
    const struct plugin_route *pr = arg;
    for (int i = 0; i < 6; i++)
        out[i] = owner && pr ? atomic_load_explicit(&pr->by_class[i],
                                                    memory_order_relaxed)
                             : 0;
}

void plugins_route_pin(const void *owner)
{
    struct plugin *p = (struct plugin *)owner;
    atomic_fetch_add_explicit(&p->in_flight, 1, memory_order_relaxed);
}

uint64_t plugins_route_requests(const void *owner, const void *arg)
{
    const struct plugin_route *pr = arg;
    if (!owner || !pr)
        return 0;
    return atomic_load_explicit(&pr->requests, memory_order_relaxed);
}

void plugins_route_unpin(const void *owner)
{
    struct plugin *p = (struct plugin *)owner;
    atomic_fetch_sub_explicit(&p->in_flight, 1, memory_order_release);
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
    struct plugin *q;
    ilist_for_each_entry(q, &reg->ps->loaded, link) {
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

    if (mux_conflict_owner(reg->mux, pattern, &owner) != 0) {
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
    *pr = (struct plugin_route){
        .plugin = reg->p, .h = h, .arg = arg, .next = reg->p->routes};
    if (asprintf(&pr->serving, "plugin %s %s, route %s", reg->p->desc->name,
                 reg->p->desc->version, pattern) < 0) {
        free(pr);
        snprintf(muxerr, n, "route %s: out of memory", pattern);
        return -ENOMEM;
    }
    rc = mux_handle(reg->mux, pattern, (void *)trampoline, pr, reg->p, muxerr,
                    n);
    if (rc) {
        free(pr->serving);
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

/* ---- one file ----------------------------------------------------------- */

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
static int check_path(const struct plugins *ps, const char *file, char *real,
                      struct stat *stp, char *err, size_t errlen)
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
    int rc = plugins_strict_dir(ps->dir_real, err, errlen);
    if (rc == 0)
        rc = plugins_strict_file(file, &st, "plugin", err, errlen);
    if (rc == 0)
        *stp = st;
    return rc;
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

/* The loaded plugin named name (the descriptor's name), except skip. */
static struct plugin *find_name(struct plugins *ps, const char *name,
                                const struct plugin *skip)
{
    struct plugin *q;
    ilist_for_each_entry(q, &ps->loaded, link)
        if (q != skip && strcmp(q->desc->name, name) == 0)
            return q;
    return NULL;
}

/* "kv" or "kv.so" → "kv.so" in out; false when it does not fit. */
static bool file_name(const char *name, char *out, size_t n)
{
    size_t l = strlen(name);
    bool so = l > 3 && strcmp(name + l - 3, ".so") == 0;
    return (size_t)snprintf(out, n, "%s%s", name, so ? "" : ".so") < n;
}

/* The loaded plugin a user means by name: its own name, or its file's. */
static struct plugin *find_loaded(struct plugins *ps, const char *name)
{
    char base[NAME_MAX + 1];
    struct plugin *p = find_name(ps, name, NULL);
    if (p || !file_name(name, base, sizeof base))
        return p;
    struct plugin *q;
    ilist_for_each_entry(q, &ps->loaded, link)
        if (strcmp(q->base, base) == 0)
            return q;
    return NULL;
}

static void plugin_free(struct plugin *p)
{
    while (p->routes) {
        struct plugin_route *next = p->routes->next;
        free(p->routes->serving);
        free(p->routes);
        p->routes = next;
    }
    free(p->fault_report);
    free(p->dl_path);
    free(p->config);
    free(p->file);
    free(p);
}

/* Runs init inside the plugin's group (goroutines it starts are the
 * plugin's); fails the plugin when init or any of its routes failed. */
static int run_init(struct plugins *ps, struct plugin *p, struct mux *mux,
                    char *err, size_t errlen)
{
    struct gort_plugin_registrar reg = {
        .ps = ps, .p = p, .mux = mux, .config = p->config};
    struct gort_group *prev = gort_group_enter(&p->group);
    int rc = p->desc->init(&reg, p->config, &p->state);
    gort_group_enter(prev);

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

static void run_fini(struct plugin *p)
{
    if (!p->inited || !p->desc->fini)
        return;
    struct gort_group *prev = gort_group_enter(&p->group);
    p->desc->fini(p->state);
    gort_group_enter(prev);
}

/* Undoes a failed load after dlopen. If the routes cannot be taken out of
 * the mux (out of memory), the code they point to stays mapped: leaked,
 * never unmapped under a route. */
static bool drain(const struct plugin *p, int64_t drain_ns);
static bool finish(struct plugin *p, int64_t drain_ns);
static void push_draining(struct plugins *ps, struct plugin *p);

/* Undoes a failed load after dlopen: its routes leave mux, then it is
 * finished like an unloaded plugin, since init may have started goroutines
 * (counted in its group) that must end before its code is unmapped: past
 * FAILED_DRAIN_NS it waits on the draining list. If the routes cannot be
 * taken out of the mux (out of memory), the code they point to stays
 * mapped: leaked, never unmapped under a route. */
static void unload_failed(struct plugins *ps, struct plugin *p, struct mux *mux)
{
    if (mux_remove_owner(mux, p) < 0) {
        glog_error("refused plugin stays mapped", GLOG_STR("file", p->file),
                   GLOG_STR("reason", "out of memory removing its routes"));
        return;
    }
    int64_t t0 = gort_nanotime();
    if (drain(p, FAILED_DRAIN_NS) &&
        finish(p, FAILED_DRAIN_NS - (gort_nanotime() - t0)))
        return;
    glog_warn("refused plugin stays mapped", GLOG_STR("file", p->file),
              GLOG_STR("reason", "goroutines its init started still run"),
              GLOG_UINT("goroutines", gort_group_live(&p->group)));
    push_draining(ps, p);
}

/* True when some plugin, loaded or draining, was dlopen'ed from path. */
static bool path_open(struct plugins *ps, const char *path)
{
    struct plugin *q;
    ilist_for_each_entry(q, &ps->loaded, link)
        if (strcmp(q->dl_path, path) == 0)
            return true;
    ilist_for_each_entry(q, &ps->draining, link)
        if (strcmp(q->dl_path, path) == 0)
            return true;
    return false;
}

static int copy_fd(int in, int out)
{
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0)
                return -errno;
            off += w;
        }
    return n < 0 ? -errno : 0;
}

/* A private copy of real in $TMPDIR, for glibc to see a new object. */
static int temp_copy(const char *real, char **out)
{
    const char *tmp = getenv("TMPDIR");
    char *path;
    if (asprintf(&path, "%s/gortd-plugin-XXXXXX.so",
                 tmp && *tmp ? tmp : "/tmp") < 0)
        return -ENOMEM;
    int in = open(real, O_RDONLY | O_CLOEXEC);
    int fd = in < 0 ? -1 : mkostemps(path, 3, O_CLOEXEC);
    int rc = in < 0 || fd < 0 ? -errno : copy_fd(in, fd);
    if (fd >= 0 && close(fd) < 0 && rc == 0)
        rc = -errno; /* a write error may only show here */
    if (fd >= 0 && rc < 0)
        unlink(path);
    if (in >= 0)
        close(in);
    if (rc < 0 || fd < 0) {
        free(path);
        return rc < 0 ? rc : -EIO;
    }
    *out = path;
    return 0;
}

static int open_plugin(struct plugins *ps, struct plugin *p, const char *real,
                       const struct plugin *replacing, char *err, size_t errlen)
{
    struct plugin *dup;
    bool copy = path_open(ps, real);
    int rc = copy ? temp_copy(real, &p->dl_path)
                  : ((p->dl_path = strdup(real)) ? 0 : -ENOMEM);
    if (rc)
        return fail(err, errlen, rc, "%s: copying for a second load: %s",
                    p->file, strerror(-rc));
    /* Constructors run inside dlopen: goroutines they start are the
     * plugin's too. */
    struct gort_group *prev = gort_group_enter(&p->group);
    p->dl = dlopen(p->dl_path, RTLD_NOW | RTLD_LOCAL);
    gort_group_enter(prev);
    if (p->dl) /* while the file is there: a copy is unlinked next */
        gort_symbols_refresh(); /* crash reports name its frames */
    if (copy)
        unlink(p->dl_path); /* mapped now, or never: either way not needed */
    if (!p->dl)
        return fail(err, errlen, -ENOEXEC, "%s: dlopen: %s", p->file,
                    dlerror());
    dlerror();
    p->desc = dlsym(p->dl, GORT_PLUGIN_SYMBOL);
    if (!p->desc)
        return fail(err, errlen, -ENOEXEC,
                    "%s: no %s symbol: not a gort plugin (declare one with "
                    "GORT_PLUGIN)",
                    p->file, GORT_PLUGIN_SYMBOL);
    rc = check_desc(p->desc, p->file, err, errlen);
    if (rc == 0 && replacing && strcmp(p->desc->name, replacing->desc->name))
        rc = fail(err, errlen, -EINVAL,
                  "%s: now declares plugin %s, not %s: unload %s and load "
                  "the file instead",
                  p->file, p->desc->name, replacing->desc->name,
                  replacing->desc->name);
    if (rc == 0 && (dup = find_name(ps, p->desc->name, replacing)))
        rc = fail(err, errlen, -EEXIST,
                  "%s: a plugin named %s is already loaded from %s", p->file,
                  p->desc->name, dup->file);
    return rc;
}

/* NAME.conf without following a symlink (one planted in the directory
 * would hand the plugin any file gortd can read), checked like the plugin.
 * *f stays NULL when there is none (0) or on error (-errno, err set). */
static int config_open(const char *path, FILE **f, char *err, size_t errlen)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        if (errno == ELOOP)
            return fail(err, errlen, -EPERM,
                        "%s: configuration is a symbolic link: refusing it",
                        path);
        return fail(err, errlen, -errno, "%s: %s", path, strerror(errno));
    }
    int rc = fstat(fd, &st) < 0
                 ? fail(err, errlen, -errno, "%s: %s", path, strerror(errno))
                 : plugins_strict_file(path, &st, "configuration", err, errlen);
    if (rc == 0 && !(*f = fdopen(fd, "r")))
        rc = fail(err, errlen, -errno, "%s: %s", path, strerror(errno));
    if (!*f)
        close(fd);
    return rc;
}

/* NAME.conf next to NAME.so: the plugin's configuration, if present. */
static int read_config(struct plugin *p, char *err, size_t errlen)
{
    char *path;
    size_t l = strlen(p->file);
    if (asprintf(&path, "%.*s.conf", (int)(l - 3), p->file) < 0)
        return fail(err, errlen, -ENOMEM, "%s: out of memory", p->file);
    FILE *f = NULL;
    int rc = config_open(path, &f, err, errlen);
    if (!f) {
        free(path);
        return rc;
    }
    p->config = calloc(1, CONFIG_MAX + 1);
    size_t n = p->config ? fread(p->config, 1, CONFIG_MAX + 1, f) : 0;
    if (!p->config)
        rc = fail(err, errlen, -ENOMEM, "%s: out of memory", path);
    else if (ferror(f))
        rc = fail(err, errlen, -EIO, "%s: read error", path);
    else if (n > CONFIG_MAX)
        rc = fail(err, errlen, -EFBIG, "%s: longer than %d bytes", path,
                  CONFIG_MAX);
    fclose(f);
    free(path);
    return rc;
}

/* Opens, checks and initializes DIR/name into mux; replacing (or NULL) is
 * the plugin it will take over from. *out gets the plugin, not yet listed. */
static int load_file(struct plugins *ps, struct mux *mux, const char *name,
                     const char *config, const struct plugin *replacing,
                     struct plugin **out, char *err, size_t errlen)
{
    char real[PATH_MAX];
    struct plugin *p = calloc(1, sizeof *p);
    int rc;

    if (!p || asprintf(&p->file, "%s/%s", ps->dir, name) < 0) {
        free(p);
        return fail(err, errlen, -ENOMEM, "%s: out of memory", name);
    }
    p->base = p->file + strlen(ps->dir) + 1;
    rc = check_path(ps, p->file, real, &p->st, err, errlen);
    if (rc == 0 && config && !(p->config = strdup(config)))
        rc = fail(err, errlen, -ENOMEM, "%s: out of memory", name);
    else if (rc == 0 && !config)
        rc = read_config(p, err, errlen);
    if (rc) {
        plugin_free(p);
        return rc;
    }
    p->loaded_unix_ns = now_unix_ns();
    rc = open_plugin(ps, p, real, replacing, err, errlen);
    if (rc == 0)
        rc = run_init(ps, p, mux, err, errlen);
    if (rc) {
        if (p->dl)
            unload_failed(ps, p, mux);
        else
            plugin_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* ---- the list ----------------------------------------------------------- */

static void list_append(struct plugins *ps, struct plugin *p)
{
    pthread_mutex_lock(&ps->lock);
    ilist_push_back(&ps->loaded, &p->link);
    ps->n++;
    pthread_mutex_unlock(&ps->lock);
}

/* Takes old out of the list; puts with in its place unless NULL. */
static void list_swap(struct plugins *ps, struct plugin *old,
                      struct plugin *with)
{
    pthread_mutex_lock(&ps->lock);
    if (with) {
        ilist_replace(&ps->loaded, &old->link, &with->link);
    } else {
        ilist_remove(&ps->loaded, &old->link);
        ps->n--;
    }
    pthread_mutex_unlock(&ps->lock);
}

static void copy_str(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

static void plugin_info(const struct plugin *p, struct plugin_status *o)
{
    copy_str(o->name, sizeof o->name, p->desc->name);
    copy_str(o->version, sizeof o->version, p->desc->version);
    copy_str(o->file, sizeof o->file, p->file);
    o->routes = p->nroutes;
    o->in_flight = atomic_load_explicit(&p->in_flight, memory_order_relaxed);
    o->requests = 0;
    for (const struct plugin_route *pr = p->routes; pr; pr = pr->next)
        o->requests +=
            atomic_load_explicit(&pr->requests, memory_order_relaxed);
    uint64_t cls[6];
    memset(o->by_class, 0, sizeof o->by_class);
    for (const struct plugin_route *pr = p->routes; pr; pr = pr->next) {
        plugins_route_classes(p, pr, cls);
        for (int i = 0; i < 6; i++)
            o->by_class[i] += cls[i];
    }
    o->errors = atomic_load_explicit(&p->errors, memory_order_relaxed);
    o->goroutines = gort_group_live(&p->group);
    o->started = gort_group_started(&p->group);
    o->loaded_unix_ns = p->loaded_unix_ns;
    o->quarantined =
        atomic_load_explicit(&p->quarantined, memory_order_acquire);
    o->fault_report = o->quarantined ? p->fault_report : NULL;
}

/* ---- the set ------------------------------------------------------------ */

struct plugins *plugins_new(const char *dir, char *err, size_t errlen)
{
    struct plugins *ps = calloc(1, sizeof *ps);
    struct stat st;

    if (!ps)
        goto nomem;
    ps->dir = strdup(dir);
    if (!ps->dir)
        goto nomem;
    ps->dir_real = realpath(dir, NULL);
    if (!ps->dir_real || stat(ps->dir_real, &st) < 0) {
        fail(err, errlen, 0, "%s", strerror(errno));
        goto err;
    }
    if (!S_ISDIR(st.st_mode)) {
        fail(err, errlen, 0, "not a directory");
        goto err;
    }
    if (plugins_strict_dir(ps->dir_real, err, errlen) < 0)
        goto err;
    pthread_mutex_init(&ps->lock, NULL);
    gort_mutex init = GORT_MUTEX_INIT;
    ps->ops = init;
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

int plugins_load(struct plugins *ps, struct mux *mux, const char *name,
                 const char *config, char *err, size_t errlen)
{
    struct plugin *p;
    int rc = load_file(ps, mux, name, config, NULL, &p, err, errlen);
    if (rc == 0)
        list_append(ps, p);
    return counted(ps, PLUGINS_OP_LOAD, rc);
}

static int is_plugin_name(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return e->d_name[0] != '.' && n > 3 &&
           strcmp(e->d_name + n - 3, ".so") == 0;
}

static void report_loaded(const struct plugin *p)
{
    glog_info("plugin loaded", GLOG_STR("plugin", p->desc->name),
              GLOG_STR("version", p->desc->version), GLOG_STR("file", p->file),
              GLOG_UINT("routes", p->nroutes));
}

/* The loader's errors start with the file they are about, for gortctl;
 * the log has the file in its own field. */
static const char *reason(const char *err, const char *file)
{
    size_t n = strlen(file);
    return strncmp(err, file, n) == 0 && err[n] == ':' && err[n + 1] == ' '
               ? err + n + 2
               : err;
}

int plugins_load_dir(struct plugins *ps, struct mux *mux)
{
    struct dirent **names;
    char err[PATH_MAX + 1024];
    int n = scandir(ps->dir_real, &names, is_plugin_name, alphasort);
    int loaded = 0;

    if (n < 0) {
        int rc = -errno;
        glog_error("cannot read plugins directory", GLOG_STR("dir", ps->dir),
                   GLOG_ERRNO("err", rc));
        return rc;
    }
    for (int i = 0; i < n; i++) {
        if (plugins_load(ps, mux, names[i]->d_name, NULL, err, sizeof err) ==
            0) {
            report_loaded(ilist_entry(ps->loaded.last, struct plugin, link));
            loaded++;
        } else {
            char file[PATH_MAX];
            snprintf(file, sizeof file, "%s/%s", ps->dir, names[i]->d_name);
            glog_error("plugin refused", GLOG_STR("file", file),
                       GLOG_STR("err", reason(err, file)));
        }
        free(names[i]);
    }
    free(names);
    return loaded;
}

void plugins_attach(struct plugins *ps, struct mux *served,
                    const struct plugins_host *host)
{
    ps->served = served;
    ps->host = *host;
}

/* ---- draining ------------------------------------------------------------ */

static bool plugin_idle(const struct plugin *p)
{
    return atomic_load_explicit(&p->in_flight, memory_order_acquire) == 0 &&
           gort_group_live(&p->group) == 0;
}

/* A shutdown cuts the drains of hot operations short (plugins_cancel_ops):
 * it must not wait behind a rescan's or an unload's drain. Cleared by
 * plugins_free, whose own drains are the shutdown's. */
static atomic_int ops_cancelled;

void plugins_cancel_ops(void)
{
    atomic_store(&ops_cancelled, 1);
}

/* Waits (on a goroutine) until nothing runs p's code or drain_ns passed. */
static bool drain(const struct plugin *p, int64_t drain_ns)
{
    int64_t start = gort_nanotime(), nap = 100000;
    while (!plugin_idle(p)) {
        /* Elapsed time against the bound: a bound near INT64_MAX cannot
         * wrap a deadline into the past. */
        if (gort_nanotime() - start >= drain_ns || atomic_load(&ops_cancelled))
            return false;
        gort_sleep(nap);
        if (nap < 10000000)
            nap *= 2;
    }
    return true;
}

/* Runs fini once, then closes p when the goroutines fini may have started
 * have ended too (within drain_ns). p must be out of every route table and
 * drained of requests. false: p is still in use and stays mapped. */
static bool finish(struct plugin *p, int64_t drain_ns)
{
    if (!p->fini_done) {
        run_fini(p);
        p->fini_done = true;
    }
    if (!drain(p, drain_ns))
        return false;
    gort_dlclose(p->dl); /* not under a running goroutine dump */
    plugin_free(p);
    return true;
}

static void push_draining(struct plugins *ps, struct plugin *p)
{
    ilist_push_front(&ps->draining, &p->link);
}

/* Finishes the draining plugins whose code no longer runs. */
static void reap(struct plugins *ps)
{
    struct plugin *p, *next;
    ilist_for_each_entry_safe(p, next, &ps->draining, link) {
        if (!plugin_idle(p))
            continue;
        ilist_remove(&ps->draining, &p->link);
        char name[128], version[128];
        copy_str(name, sizeof name, p->desc->name);
        copy_str(version, sizeof version, p->desc->version);
        if (finish(p, 0)) {
            glog_info("drained plugin finished", GLOG_STR("plugin", name),
                      GLOG_STR("version", version));
        } else { /* its fini started goroutines: wait for them too */
            push_draining(ps, p); /* at the front: this loop is past it */
        }
    }
}

/* old is out of the routes: finish it now or leave it draining. */
static int retire(struct plugins *ps, struct plugin *old, int64_t drain_ns,
                  char *err, size_t errlen)
{
    int64_t t0 = gort_nanotime();
    if (drain(old, drain_ns) && finish(old, drain_ns - (gort_nanotime() - t0)))
        return 0;
    uint64_t req = atomic_load(&old->in_flight);
    uint64_t gs = gort_group_live(&old->group);
    push_draining(ps, old);
    return fail(err, errlen, -EBUSY,
                "plugin %s %s: out of the routes, but after %lld ms%s %llu "
                "request%s and %llu goroutine%s%s still run its code: it stays "
                "mapped and is finished once they end",
                old->desc->name, old->desc->version,
                (long long)((gort_nanotime() - t0) / 1000000),
                atomic_load(&ops_cancelled) ? " (cut short by shutdown)" : "",
                (unsigned long long)req, req == 1 ? "" : "s",
                (unsigned long long)gs, gs == 1 ? "" : "s",
                old->fini_done ? " (started by its fini)" : "");
}

/* ---- hot operations ----------------------------------------------------- */

/* Makes next the served table and frees the old one. */
static void publish(struct plugins *ps, struct mux *next)
{
    struct mux *old = ps->host.publish(ps->host.arg, next);
    ps->served = next;
    mux_free(old);
}

static int clone_served(struct plugins *ps, struct mux **out, char *err,
                        size_t errlen)
{
    if (!ps->host.publish)
        return fail(err, errlen, -EINVAL, "plugins: no route table attached");
    *out = mux_clone(ps->served);
    return *out ? 0 : fail(err, errlen, -ENOMEM, "route table: out of memory");
}

static int hot_load(struct plugins *ps, const char *name,
                    struct plugin_status *info, char *err, size_t errlen)
{
    char base[NAME_MAX + 1];
    struct mux *next;
    struct plugin *p;
    if (!file_name(name, base, sizeof base))
        return fail(err, errlen, -ENAMETOOLONG, "%s: name too long", name);
    int rc = clone_served(ps, &next, err, errlen);
    if (rc)
        return rc;
    rc = load_file(ps, next, base, NULL, NULL, &p, err, errlen);
    if (rc) {
        mux_free(next);
        return rc;
    }
    list_append(ps, p);
    publish(ps, next);
    report_loaded(p);
    if (info)
        plugin_info(p, info);
    return 0;
}

static int not_loaded(const char *name, char *err, size_t errlen)
{
    return fail(err, errlen, -ENOENT, "no plugin %s is loaded", name);
}

static int unload(struct plugins *ps, const char *name, int64_t drain_ns,
                  struct plugin_status *info, char *err, size_t errlen)
{
    struct plugin *p = find_loaded(ps, name);
    struct mux *next;
    if (!p)
        return not_loaded(name, err, errlen);
    int rc = clone_served(ps, &next, err, errlen);
    if (rc == 0 && mux_remove_owner(next, p) < 0) {
        mux_free(next);
        rc = fail(err, errlen, -ENOMEM, "route table: out of memory");
    }
    if (rc)
        return rc;
    if (info)
        plugin_info(p, info);
    list_swap(ps, p, NULL);
    publish(ps, next);
    glog_info("plugin unloaded", GLOG_STR("plugin", p->desc->name),
              GLOG_STR("version", p->desc->version), GLOG_STR("file", p->file));
    return retire(ps, p, drain_ns, err, errlen);
}

static int replace(struct plugins *ps, const char *name, int64_t drain_ns,
                   struct plugin_status *info, char *err, size_t errlen)
{
    struct plugin *old = find_loaded(ps, name), *p;
    struct mux *next;
    if (!old)
        return not_loaded(name, err, errlen);
    int rc = clone_served(ps, &next, err, errlen);
    if (rc == 0 && mux_remove_owner(next, old) < 0)
        rc = fail(err, errlen, -ENOMEM, "route table: out of memory");
    if (rc == 0)
        rc = load_file(ps, next, old->base, NULL, old, &p, err, errlen);
    if (rc) {
        mux_free(next);
        return rc;
    }
    list_swap(ps, old, p);
    publish(ps, next);
    glog_info("plugin replaced", GLOG_STR("plugin", p->desc->name),
              GLOG_STR("version", p->desc->version),
              GLOG_STR("old_version", old->desc->version),
              GLOG_STR("file", p->file), GLOG_UINT("routes", p->nroutes));
    if (info)
        plugin_info(p, info);
    return retire(ps, old, drain_ns, err, errlen);
}

/* One operation, run on a goroutine with ps->ops held. */
enum op_kind { OP_LOAD, OP_UNLOAD, OP_REPLACE, OP_RESCAN };

struct op {
    enum op_kind kind;
    struct plugins *ps;
    const char *name;
    int64_t drain_ns;
    int64_t deadline; /* gort_nanotime; 0 = none */
    struct plugin_status *info;
    char *err;
    size_t errlen;
    int rc;
    sem_t done; /* for a caller on a plain thread */
};

static int rescan(struct plugins *ps, int64_t drain_ns);

/* After waiting for the loader: false when the call's deadline passed
 * meanwhile; else the drain is cut to what is left of it. */
static bool op_in_time(struct op *o)
{
    if (atomic_load(&ops_cancelled)) {
        o->rc = fail(o->err, o->errlen, -ECANCELED,
                     "not started: gortd is shutting down");
        return false;
    }
    if (!o->deadline)
        return true;
    int64_t left = o->deadline - gort_nanotime();
    if (left <= 0) {
        o->rc = fail(o->err, o->errlen, -ETIMEDOUT,
                     "not started: another plugin operation held the "
                     "loader past this call's deadline");
        return false;
    }
    if (o->drain_ns > left)
        o->drain_ns = left;
    return true;
}

static void op_run(struct op *o)
{
    struct plugins *ps = o->ps;
    gort_mutex_lock(&ps->ops);
    reap(ps);
    if (!op_in_time(o)) {
        gort_mutex_unlock(&ps->ops);
        return;
    }
    switch (o->kind) {
    case OP_LOAD:
        o->rc = counted(ps, PLUGINS_OP_LOAD,
                        hot_load(ps, o->name, o->info, o->err, o->errlen));
        break;
    case OP_UNLOAD:
        o->rc = counted(
            ps, PLUGINS_OP_UNLOAD,
            unload(ps, o->name, o->drain_ns, o->info, o->err, o->errlen));
        break;
    case OP_REPLACE:
        o->rc = counted(
            ps, PLUGINS_OP_REPLACE,
            replace(ps, o->name, o->drain_ns, o->info, o->err, o->errlen));
        break;
    case OP_RESCAN:
        o->rc = rescan(ps, o->drain_ns);
        break;
    }
    gort_mutex_unlock(&ps->ops);
}

static void op_goroutine(void *arg)
{
    struct op *o = arg;
    gort_set_label("plugin operation");
    op_run(o);
    sem_post(&o->done);
}

/* Runs o on this goroutine, or on a new one while this thread waits. */
static int op_do(struct op *o)
{
    if (o->drain_ns <= 0)
        o->drain_ns = DRAIN_DEFAULT_NS;
    if (o->err && o->errlen)
        o->err[0] = '\0';
    if (gort_id() != 0) {
        op_run(o);
        return o->rc;
    }
    sem_init(&o->done, 0, 0);
    /* dlopen, a plugin's init and the symbol index of its frames reach
     * 176 KiB of stack (bench/stackhwm.sh), past the 64 KiB default. */
    struct gort_go_opts opts = {.label = NULL, .stack_size = 1024 * 1024};
    int64_t id = gort_go_opts(op_goroutine, o, &opts);
    if (id < 0) {
        sem_destroy(&o->done);
        return fail(o->err, o->errlen, (int)id, "cannot start a goroutine");
    }
    while (sem_wait(&o->done) < 0 && errno == EINTR)
        ;
    sem_destroy(&o->done);
    return o->rc;
}

static int op_named(enum op_kind kind, struct plugins *ps, const char *name,
                    int64_t drain_ns, int64_t deadline,
                    struct plugin_status *info, char *err, size_t errlen)
{
    struct op o = {.kind = kind,
                   .ps = ps,
                   .name = name,
                   .drain_ns = drain_ns,
                   .deadline = deadline,
                   .info = info,
                   .err = err,
                   .errlen = errlen};
    return op_do(&o);
}

int plugins_hot_load(struct plugins *ps, const char *name, int64_t deadline,
                     struct plugin_status *info, char *err, size_t errlen)
{
    return op_named(OP_LOAD, ps, name, 0, deadline, info, err, errlen);
}

int plugins_unload(struct plugins *ps, const char *name, int64_t drain_ns,
                   int64_t deadline, struct plugin_status *info, char *err,
                   size_t errlen)
{
    return op_named(OP_UNLOAD, ps, name, drain_ns, deadline, info, err, errlen);
}

int plugins_replace(struct plugins *ps, const char *name, int64_t drain_ns,
                    int64_t deadline, struct plugin_status *info, char *err,
                    size_t errlen)
{
    return op_named(OP_REPLACE, ps, name, drain_ns, deadline, info, err,
                    errlen);
}

/* ---- SIGHUP: the directory is the truth ---------------------------------- */

static bool file_changed(const struct plugin *p, const struct stat *st)
{
    return st->st_dev != p->st.st_dev || st->st_ino != p->st.st_ino ||
           st->st_size != p->st.st_size ||
           st->st_mtim.tv_sec != p->st.st_mtim.tv_sec ||
           st->st_mtim.tv_nsec != p->st.st_mtim.tv_nsec;
}

static struct plugin *find_base(struct plugins *ps, const char *base)
{
    struct plugin *q;
    ilist_for_each_entry(q, &ps->loaded, link)
        if (strcmp(q->base, base) == 0)
            return q;
    return NULL;
}

static int rescan_step(int rc, const char *what, const char *err)
{
    if (rc == 0)
        return 0;
    glog_error("rescan step failed", GLOG_STR("plugin", what),
               GLOG_STR("err", err));
    return 1;
}

/* Plugins whose file is gone. */
static int rescan_removed(struct plugins *ps, int64_t drain_ns, char *err,
                          size_t errlen)
{
    int failed = 0;
    struct plugin *p, *next;
    ilist_for_each_entry_safe(p, next, &ps->loaded, link) {
        struct stat st;
        if (stat(p->file, &st) == 0 || errno != ENOENT)
            continue;
        char name[128];
        copy_str(name, sizeof name, p->desc->name);
        failed +=
            rescan_step(counted(ps, PLUGINS_OP_UNLOAD,
                                unload(ps, name, drain_ns, NULL, err, errlen)),
                        name, err);
    }
    return failed;
}

static int rescan(struct plugins *ps, int64_t drain_ns)
{
    char err[PATH_MAX + 1024];
    int failed = rescan_removed(ps, drain_ns, err, sizeof err);
    struct dirent **names;
    int n = scandir(ps->dir_real, &names, is_plugin_name, alphasort);
    if (n < 0) {
        glog_error("cannot read plugins directory", GLOG_STR("dir", ps->dir),
                   GLOG_ERRNO("err", errno));
        return failed + 1;
    }
    for (int i = 0; i < n; i++) {
        const char *base = names[i]->d_name;
        struct plugin *p = find_base(ps, base);
        struct stat st;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", ps->dir, base);
        if (!p)
            failed +=
                rescan_step(counted(ps, PLUGINS_OP_LOAD,
                                    hot_load(ps, base, NULL, err, sizeof err)),
                            base, err);
        else if (stat(path, &st) == 0 && file_changed(p, &st))
            failed += rescan_step(
                counted(ps, PLUGINS_OP_REPLACE,
                        replace(ps, base, drain_ns, NULL, err, sizeof err)),
                base, err);
        free(names[i]);
    }
    free(names);
    return failed;
}

int plugins_rescan(struct plugins *ps, int64_t drain_ns)
{
    struct op o = {.kind = OP_RESCAN, .ps = ps, .drain_ns = drain_ns};
    return op_do(&o);
}

/* ---- reading ------------------------------------------------------------- */

size_t plugins_each(struct plugins *ps,
                    void (*fn)(const struct plugin_status *, void *), void *arg)
{
    struct plugin_status info;
    pthread_mutex_lock(&ps->lock);
    const struct plugin *p;
    ilist_for_each_entry(p, &ps->loaded, link) {
        plugin_info(p, &info);
        fn(&info, arg);
    }
    size_t n = ps->n;
    pthread_mutex_unlock(&ps->lock);
    return n;
}

void plugins_owner_name(struct plugins *ps, const void *owner, char *out,
                        size_t n)
{
    out[0] = '\0';
    if (!ps || !owner)
        return;
    pthread_mutex_lock(&ps->lock);
    const struct plugin *q;
    ilist_for_each_entry(q, &ps->loaded, link)
        if ((const void *)q == owner)
            copy_str(out, n, q->desc->name);
    pthread_mutex_unlock(&ps->lock);
}

/* ---- the end ------------------------------------------------------------ */

/* Takes the last loaded plugin off the list. */
static struct plugin *pop_last(struct plugins *ps)
{
    pthread_mutex_lock(&ps->lock);
    struct ilist_node *n = ilist_pop_back(&ps->loaded);
    if (n)
        ps->n--;
    pthread_mutex_unlock(&ps->lock);
    return ilist_entry_or_null(n, struct plugin, link);
}

static void free_one(struct plugin *p, int64_t drain_ns)
{
    int64_t t0 = gort_nanotime();
    if (drain(p, drain_ns) && finish(p, drain_ns - (gort_nanotime() - t0)))
        return;
    glog_warn("plugin stays mapped", GLOG_STR("plugin", p->desc->name),
              GLOG_STR("reason", "goroutines it started still run"),
              GLOG_UINT("goroutines", gort_group_live(&p->group)),
              GLOG_BOOL("fini_called", p->fini_done));
}

void plugins_free(struct plugins *ps, int64_t drain_ns)
{
    if (!ps)
        return;
    if (drain_ns <= 0)
        drain_ns = DRAIN_DEFAULT_NS;
    atomic_store(&ops_cancelled, 0); /* these drains are the shutdown's */
    /* Last loaded, first finished: a later plugin may use an earlier one's
     * state (not yet, but nginx's order is the safe one). */
    struct plugin *p;
    while ((p = pop_last(ps)))
        free_one(p, drain_ns);
    struct ilist_node *n;
    while ((n = ilist_pop_front(&ps->draining)))
        free_one(ilist_entry(n, struct plugin, link), drain_ns);
    mux_free(ps->served);
    pthread_mutex_destroy(&ps->lock);
    free(ps->dir_real);
    free(ps->dir);
    free(ps);
}
