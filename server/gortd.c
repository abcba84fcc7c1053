/* gortd.c — the gort daemon: flags, signals, the runtime, the HTTP front
 * end, the control plane.
 *
 * Threads, in the order they appear:
 *   main          parses flags, blocks SIGINT/SIGTERM (before grpc_init and
 *                 gort_main, so every thread they create inherits the mask),
 *                 starts the control plane, then runs gort_main until the
 *                 main goroutine returns, then stops the control plane;
 *   control       the gRPC completion-queue thread (control.c), never a P;
 *   signals       sigwait()s; the first SIGINT/SIGTERM asks for a shutdown,
 *                 a second one exits at once; SIGHUP asks for a rescan of
 *                 the plugins directory; SIGUSR1 reopens the log files;
 *   access log    its flusher (http/accesslog.c), with --access-log;
 *   runtime Ms    libgort's threads running goroutines.
 *
 * The main goroutine builds the route table (the *.so files in
 * --plugins-dir, each loaded whole or refused; none without the flag),
 * starts the HTTP server (its listener is a goroutine parked in accept),
 * then waits for the shutdown request: it parks in gort_sleep between
 * looks at an atomic flag (20 wake-ups a second on one P cost nothing
 * measurable), and rescans the plugins directory when SIGHUP asked for
 * it (plugin/loader.c: new files load, changed ones replace, removed ones
 * unload). It tells a service manager where it is (systemd.c: READY=1 once
 * serving, RELOADING=1 around a rescan, STOPPING=1, the watchdog's pings
 * from this goroutine). The HTTP listening sockets are the ones passed in
 * (systemd's LISTEN_FDS, --listen-fd) and one per --listen address.
 * On SIGINT or SIGTERM it shuts the HTTP server down gracefully,
 * finishes the plugins and returns. The plugin loader owns the served route
 * table once attached; the control plane's plugin operations go through it.
 *
 * Every thread logs through log.c (-log-format, -log-level), set up right
 * after the flags; only command-line mistakes (a bad flag, with the usage)
 * are printed as plain text, since no log exists yet and a person is
 * reading.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gort/gort.h"
#include "gort/net.h"
#include "gort/stats.h"

#include "admin/admin.h"
#include "control/arena.h"
#include "control/control.h"
#include "cli/addr.h"
#include "cli/flag.h"
#include "cli/version.h"
#include "http/budget.h"
#include "http/accesslog.h"
#include "http/server.h"
#include "http/tls.h"
#include "plugin/loader.h"
#include "log.h"
#include "systemd.h"

#define MAIN_POLL_NS (50 * 1000000) /* how often the main goroutine looks */
/* Request buffers of all connections together (http/budget.c): 10,000
 * idle-to-busy connections with a 4 KiB buffer each take 40 MiB; the rest
 * lets ~200 maximal (1 MiB) heads arrive at once. */
#define DEFAULT_MAX_BUFFER_BYTES (256L << 20)

static atomic_int stop_requested;   /* set by the signal thread (seq_cst) */
static atomic_int rescan_requested; /* SIGHUP, taken by the main goroutine */
static char *stderr_path; /* fd 2's file at start, when it is one: SIGUSR1 */

struct daemon {
    struct cli_strings listen;          /* --listen, repeatable */
    struct cli_strings listen_tls;      /* --listen-tls, repeatable */
    const char *tls_cert, *tls_key;     /* --tls-cert, --tls-key */
    struct http_tls_server *tls;        /* their certificate; NULL: none */
    long listen_fd;                     /* --listen-fd; -1: none */
    int reuseport;                      /* --reuseport */
    int inherited[HTTPD_MAX_LISTENERS]; /* listening fds passed in */
    int ninherited;
    const char *plugins_dir; /* NULL: no plugins, no routes */
    struct plugins *plugins;
    struct httpd_server *server;
    struct mux *mux;              /* the table being served */
    int ops_running;              /* control-plane plugin operations */
    pthread_mutex_t catalog_lock; /* plugins/mux vs the control thread */
    struct httpd_config http;
    long max_header_bytes, max_body_bytes, max_conns, max_buffer_bytes;
    long handler_stack;
    long max_threads, max_blocking; /* gort_set_max_threads/_blocking */
    int exit_code;
    const char *admin_addr; /* --admin; NULL: no admin listener */
    int admin_insecure;
    struct admin admin;
    struct httpd_server *admin_srv;
    char status[128]; /* systemd's STATUS= while serving */
};

/* The initial routes: every plugin in --plugins-dir that loads. A refused
 * plugin is reported and skipped; only an unusable directory stops gortd. */
static int load_plugins(struct daemon *d, struct mux *mux)
{
    char err[512];

    if (!d->plugins_dir) {
        glog_warn("serving no routes", GLOG_STR("reason", "no -plugins-dir"));
        return 0;
    }
    d->plugins = plugins_new(d->plugins_dir, err, sizeof err);
    if (!d->plugins) {
        glog_error("cannot open plugins directory",
                   GLOG_STR("dir", d->plugins_dir), GLOG_STR("err", err));
        return -1;
    }
    int n = plugins_load_dir(d->plugins, mux);
    if (n < 0)
        return -1;
    glog_info("plugins loaded", GLOG_STR("dir", d->plugins_dir),
              GLOG_INT("plugins", n), GLOG_UINT("routes", mux_count(mux)));
    return 0;
}

/* Which kernel interface the netpoller runs on (--netpoll), once the
 * listeners have started it; a refused io_uring is a warning, gortd serves
 * on epoll. */
static void netpoll_report(void)
{
    int refused = 0;
    const char *name = gort_netpoll_backend(&refused);
    if (refused)
        glog_warn("io_uring unavailable, netpoller on epoll",
                  GLOG_ERRNO("err", -refused));
    else if (name && strcmp(name, "epoll") != 0) /* epoll: as ever, quiet */
        glog_info("netpoller", GLOG_STR("backend", name));
}

/* The control plane's HTTP source (a ctl_http_stats_fn). Calling
 * httpd_server_stats through a cast to that type would be undefined
 * behaviour (C11 6.3.2.3p8: the types differ in their first parameter). */
static void http_stats(void *arg, struct httpd_stats *out)
{
    httpd_server_stats(arg, out);
}

/* The plain --listen addresses opened: the default :8080 only when no
 * socket was passed in and no --listen-tls given. */
static size_t plain_count(const struct daemon *d)
{
    bool other = d->ninherited || d->listen_tls.n;
    return other && !d->listen.given ? 0 : d->listen.n;
}

/* The traffic's listening sockets: those passed in (systemd, --listen-fd),
 * then one per --listen address, then one per --listen-tls address (from
 * index *first_tls on). Returns how many, or -1 after logging why. */
static int listeners_open(struct daemon *d, int *fds, int *first_tls)
{
    char err[512];
    int n = 0;
    for (int i = 0; i < d->ninherited; i++)
        fds[n++] = d->inherited[i];
    int opts = d->reuseport ? HTTPD_LISTEN_REUSEPORT : 0;
    size_t nplain = plain_count(d), nall = nplain + d->listen_tls.n;
    *first_tls = n + (int)nplain;
    for (size_t i = 0; i < nall; i++) {
        const char *addr =
            i < nplain ? d->listen.v[i] : d->listen_tls.v[i - nplain];
        int fd = httpd_listen_opts(addr, 4096, opts, err, sizeof err);
        if (fd < 0) {
            glog_error("cannot listen", GLOG_STR("addr", addr),
                       GLOG_STR("err", err));
            while (n > d->ninherited)
                close(fds[--n]);
            return -1;
        }
        fds[n++] = fd;
    }
    return n;
}

static struct httpd_server *http_start(struct daemon *d, struct mux **mux)
{
    int fds[HTTPD_MAX_LISTENERS], first_tls;
    *mux = mux_new();
    if (!*mux) {
        glog_error("cannot create the route table", GLOG_ERRNO("err", ENOMEM));
        return NULL;
    }
    if (load_plugins(d, *mux) < 0)
        return NULL;
    int n = listeners_open(d, fds, &first_tls);
    if (n < 0)
        return NULL;
    netpoll_report();
    if (d->plugins) {
        d->http.route_pin = plugins_route_pin;
        d->http.route_unpin = plugins_route_unpin;
    }
    struct httpd_server *s = httpd_server_new(fds[0], &d->http, *mux);
    for (int i = 1; s && i < n; i++)
        httpd_server_add_listener(s, fds[i]);
    for (int i = first_tls; s && i < n; i++)
        httpd_server_add_listener_tls(s, fds[i], d->tls);
    int rc = s ? httpd_server_start(s) : -ENOMEM;
    if (rc < 0) {
        glog_error("cannot start the HTTP server",
                   GLOG_STR("err", gort_strerror(rc)));
        return NULL;
    }
    /* The bound addresses, not the flags: with port 0 they are the
     * kernel's. Scripts and tests take the port from these lines. */
    for (int i = 0; i < n; i++) {
        char bound[80];
        if (httpd_local_addr(fds[i], bound, sizeof bound) < 0)
            snprintf(bound, sizeof bound, "fd %d", fds[i]);
        if (i >= first_tls)
            glog_info("serving HTTPS", GLOG_STR("addr", bound),
                      GLOG_INT("gomaxprocs", gort_gomaxprocs(0)));
        else if (i < d->ninherited) /* passed in: say so */
            glog_info("serving HTTP", GLOG_STR("addr", bound),
                      GLOG_INT("gomaxprocs", gort_gomaxprocs(0)),
                      GLOG_BOOL("inherited", true));
        else
            glog_info("serving HTTP", GLOG_STR("addr", bound),
                      GLOG_INT("gomaxprocs", gort_gomaxprocs(0)));
        if (i == 0)
            snprintf(d->status, sizeof d->status, "serving %s on %s%s",
                     i >= first_tls ? "HTTPS" : "HTTP", bound,
                     n > 1 ? " and more" : "");
    }
    ctl_set_http_source(http_stats, s);
    return s;
}

/* Every --listen and --listen-tls address is checked before anything
 * starts: a port out of range would otherwise reach getaddrinfo, which
 * takes it modulo 65536 and listens somewhere else. 0, or 2 after a
 * one-line message. */
static int listen_check(const struct daemon *d)
{
    char err[512];
    const struct cli_strings *lists[] = {&d->listen, &d->listen_tls};
    const char *names[] = {"-listen", "-listen-tls"};
    for (size_t l = 0; l < 2; l++)
        for (size_t i = 0; i < lists[l]->n; i++)
            if (httpd_listen_addr_check(lists[l]->v[i], err, sizeof err) < 0) {
                fprintf(stderr, "gortd: %s %s: %s\n", names[l], lists[l]->v[i],
                        err);
                return 2;
            }
    return 0;
}

/* A flag's HOST:PORT, parsed into *a: 0, or 2 after a one-line message
 * (startup flag errors go to stderr, before the logger's first line, as
 * every other flag's). */
static int tcp_flag_addr(const char *flag, const char *addr, struct cli_addr *a)
{
    char err[512] = "";
    if (cli_addr_parse(addr, a, err, sizeof err) == 0 &&
        a->kind == CLI_ADDR_TCP)
        return 0;
    fprintf(stderr, "gortd: -%s %s: %s\n", flag, addr,
            err[0] ? err : "want HOST:PORT");
    return 2;
}

/* --grpc-health, checked before the control plane starts on it. */
static int health_check(const char *addr)
{
    struct cli_addr a;
    return addr && *addr ? tcp_flag_addr("grpc-health", addr, &a) : 0;
}

/* Listening sockets passed in: systemd's (LISTEN_FDS, LISTEN_PID) and
 * --listen-fd. Each must be a listening stream socket. 0, or 2 after a
 * one-line message. */
static int inherited_check(struct daemon *d)
{
    int n = sysd_listen_fds();
    if (n < 0) {
        fprintf(stderr, "gortd: LISTEN_FDS: %s\n", strerror(-n));
        return 2;
    }
    if (n > HTTPD_MAX_LISTENERS - 1) {
        fprintf(stderr, "gortd: LISTEN_FDS: %d sockets, at most %d\n", n,
                HTTPD_MAX_LISTENERS - 1);
        return 2;
    }
    for (int i = 0; i < n; i++)
        d->inherited[d->ninherited++] = 3 + i; /* SD_LISTEN_FDS_START */
    if (d->listen_fd >= 0) {
        int fd = (int)d->listen_fd;
        if (d->listen_fd > 65535 || sysd_is_listening_stream(fd) <= 0) {
            fprintf(stderr,
                    "gortd: -listen-fd %ld: not a listening stream socket\n",
                    d->listen_fd);
            return 2;
        }
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        d->inherited[d->ninherited++] = fd;
    }
    size_t own = plain_count(d) + d->listen_tls.n;
    if (d->ninherited + own > HTTPD_MAX_LISTENERS) {
        fprintf(stderr, "gortd: at most %d listening sockets\n",
                HTTPD_MAX_LISTENERS);
        return 2;
    }
    return 0;
}

/* ---- the admin listener (--admin) ------------------------------------------
 */

/* The admin routes show operational data (goroutine counts, plugin names)
 * and will grow debug endpoints: like the control plane, they stay on this
 * machine unless the operator says otherwise. 0, or 2 with a message. */
static int admin_check(const struct daemon *d)
{
    struct cli_addr a;
    char err[512];
    if (!d->admin_addr || d->admin_insecure)
        return 0;
    const char *why = NULL;
    int rc;
    /* Not an address at all: the loopback advice would not help. */
    if (tcp_flag_addr("admin", d->admin_addr, &a) != 0)
        return 2;
    if (a.host[0] == '\0')
        why = "an empty host listens on every interface";
    else if ((rc = cli_addr_is_loopback(&a, err, sizeof err)) < 0)
        why = err; /* does not resolve */
    else if (rc == 0)
        why = "not a loopback address";
    if (!why)
        return 0;
    fprintf(stderr,
            "gortd: -admin %s: %s; use a loopback address (127.0.0.1:PORT) "
            "or add -admin-insecure\n",
            d->admin_addr, why);
    return 2;
}

static void admin_plugins(void *ctx, admin_plugin_fn fn, void *arg)
{
    struct daemon *d = ctx;
    pthread_mutex_lock(&d->catalog_lock);
    if (d->plugins)
        plugins_each(d->plugins, fn, arg);
    pthread_mutex_unlock(&d->catalog_lock);
}

/* The traffic table's plugin routes with their answers by class. */
static void admin_routes(void *ctx, admin_route_fn fn, void *arg)
{
    struct daemon *d = ctx;
    char owner[128];
    pthread_mutex_lock(&d->catalog_lock);
    size_t n = d->mux ? mux_count(d->mux) : 0;
    for (size_t i = 0; i < n; i++) {
        struct mux_route_info ri;
        mux_route(d->mux, i, &ri);
        if (!ri.owner)
            continue;
        plugins_owner_name(d->plugins, ri.owner, owner, sizeof owner);
        struct admin_route r = {.pattern = ri.pattern, .plugin = owner};
        plugins_route_classes(ri.owner, ri.arg, r.by_class);
        fn(&r, arg);
    }
    pthread_mutex_unlock(&d->catalog_lock);
}

static void admin_plugin_ops(void *ctx, uint64_t out[PLUGINS_OPS][2])
{
    struct daemon *d = ctx;
    pthread_mutex_lock(&d->catalog_lock);
    plugins_ops_read(d->plugins, out);
    pthread_mutex_unlock(&d->catalog_lock);
}

/* A second HTTP server of gortd's own, on its own port and table. */
static int admin_start(struct daemon *d, struct httpd_server *traffic)
{
    char err[512], bound[80];
    d->admin.traffic = traffic;
    d->admin.each_plugin = admin_plugins;
    if (d->plugins) {
        d->admin.each_route = admin_routes;
        d->admin.plugin_ops = admin_plugin_ops;
    }
    d->admin.ctx = d;
    struct mux *mux = mux_new();
    if (!mux || admin_register(mux, &d->admin, err, sizeof err) < 0) {
        glog_error("cannot create the admin routes",
                   GLOG_STR("err", mux ? err : "out of memory"));
        mux_free(mux);
        return -1;
    }
    int fd = httpd_listen(d->admin_addr, 128, err, sizeof err);
    if (fd < 0) {
        glog_error("cannot listen", GLOG_STR("addr", d->admin_addr),
                   GLOG_STR("err", err));
        mux_free(mux);
        return -1;
    }
    struct httpd_config cfg;
    httpd_config_default(&cfg);
    cfg.shutdown_timeout_ns = d->http.shutdown_timeout_ns;
    /* Its requests go to the one access log, as nginx logs every server's
     * (a scrape every 15 s is 5,760 lines a day; its paths tell them
     * apart). A separate log or an opt-out would be a flag nobody asked
     * for. */
    cfg.access_log = d->http.access_log;
    d->admin_srv = httpd_server_new(fd, &cfg, mux);
    int rc = d->admin_srv ? httpd_server_start(d->admin_srv) : -ENOMEM;
    if (rc < 0) {
        glog_error("cannot start the admin server",
                   GLOG_STR("addr", d->admin_addr), GLOG_ERRNO("err", rc));
        httpd_server_free(d->admin_srv);
        d->admin_srv = NULL;
        close(fd);
        mux_free(mux);
        return -1;
    }
    if (httpd_local_addr(fd, bound, sizeof bound) < 0)
        snprintf(bound, sizeof bound, "%s", d->admin_addr);
    glog_info("serving admin", GLOG_STR("addr", bound));
    return 0;
}

/* ---- what the control plane sees and does (control thread) --------------- */

static size_t catalog_routes(void *arg, struct ctl_http_route *out, size_t n,
                             struct ctl_arena *a)
{
    struct daemon *d = arg;
    char owner[128];
    pthread_mutex_lock(&d->catalog_lock);
    size_t total = d->mux ? mux_count(d->mux) : 0;
    for (size_t i = 0; i < total && i < n; i++) {
        struct mux_route_info ri;
        mux_route(d->mux, i, &ri);
        plugins_owner_name(d->plugins, ri.owner, owner, sizeof owner);
        out[i] = (struct ctl_http_route){
            .pattern = ctl_arena_strdup(a, ri.pattern),
            .plugin = ctl_arena_strdup(a, owner),
            .requests = plugins_route_requests(ri.owner, ri.arg),
        };
    }
    pthread_mutex_unlock(&d->catalog_lock);
    return total;
}

static void plugin_out(const struct plugin_status *in, struct ctl_plugin *o,
                       struct ctl_arena *a)
{
    *o = (struct ctl_plugin){
        .name = ctl_arena_strdup(a, in->name),
        .version = ctl_arena_strdup(a, in->version),
        .path = ctl_arena_strdup(a, in->file),
        .routes = in->routes,
        .in_flight = in->in_flight,
        .requests = in->requests,
        .errors = in->errors,
        .goroutines = in->goroutines,
        .loaded_unix_ns = in->loaded_unix_ns,
        .state = in->quarantined ? "quarantined" : "loaded",
        .fault_report =
            ctl_arena_strdup(a, in->fault_report ? in->fault_report : ""),
    };
}

struct plugins_walk {
    struct ctl_plugin *out;
    size_t i, n;
    struct ctl_arena *a;
};

static void plugins_one(const struct plugin_status *info, void *arg)
{
    struct plugins_walk *w = arg;
    if (w->i < w->n)
        plugin_out(info, &w->out[w->i], w->a);
    w->i++;
}

static size_t catalog_plugins(void *arg, struct ctl_plugin *out, size_t n,
                              struct ctl_arena *a)
{
    struct daemon *d = arg;
    struct plugins_walk w = {.out = out, .n = n, .a = a};
    pthread_mutex_lock(&d->catalog_lock);
    size_t total = d->plugins ? plugins_each(d->plugins, plugins_one, &w) : 0;
    pthread_mutex_unlock(&d->catalog_lock);
    return total;
}

/* Runs on the control thread, which waits for the operation's goroutine;
 * catalog_lock is not held meanwhile (the operation publishes through it),
 * so the plugins must outlive the call: plugins_release waits for ops. */
static int catalog_op(void *arg, enum ctl_plugin_op op, const char *name,
                      int64_t drain_ns, int64_t deadline,
                      struct ctl_plugin *out, struct ctl_arena *a, char *err,
                      size_t errlen)
{
    struct daemon *d = arg;
    struct plugin_status info;
    int rc;
    pthread_mutex_lock(&d->catalog_lock);
    struct plugins *ps = d->plugins;
    if (ps)
        d->ops_running++;
    pthread_mutex_unlock(&d->catalog_lock);
    if (!ps) {
        snprintf(err, errlen,
                 "gortd runs without -plugins-dir (or is "
                 "shutting down): no plugins to manage");
        return -ENXIO;
    }
    if (op == CTL_PLUGIN_LOAD)
        rc = plugins_hot_load(ps, name, deadline, &info, err, errlen);
    else if (op == CTL_PLUGIN_UNLOAD)
        rc = plugins_unload(ps, name, drain_ns, deadline, &info, err, errlen);
    else
        rc = plugins_replace(ps, name, drain_ns, deadline, &info, err, errlen);
    if (rc == 0 || rc == -EBUSY)
        plugin_out(&info, out, a);
    pthread_mutex_lock(&d->catalog_lock);
    d->ops_running--;
    pthread_mutex_unlock(&d->catalog_lock);
    return rc;
}

static const struct ctl_catalog *catalog_of(struct daemon *d)
{
    static struct ctl_catalog c = {
        .routes = catalog_routes,
        .plugins = catalog_plugins,
        .op = catalog_op,
    };
    c.arg = d;
    return &c;
}

/* The plugin loader publishes its tables here: the server swaps (and waits
 * for requests still matching against the old table), the catalog follows. */
static struct mux *publish(void *arg, struct mux *next)
{
    struct daemon *d = arg;
    struct mux *old = httpd_server_swap_mux(d->server, next);
    pthread_mutex_lock(&d->catalog_lock);
    d->mux = next;
    pthread_mutex_unlock(&d->catalog_lock);
    return old;
}

/* Plugins go away: the control plane must not list or operate them any
 * more, and operations it started must have ended. */
static void plugins_release(struct daemon *d)
{
    pthread_mutex_lock(&d->catalog_lock);
    struct plugins *ps = d->plugins;
    d->plugins = NULL;
    d->mux = NULL;
    pthread_mutex_unlock(&d->catalog_lock);
    for (;;) {
        pthread_mutex_lock(&d->catalog_lock);
        int busy = d->ops_running;
        pthread_mutex_unlock(&d->catalog_lock);
        if (!busy)
            break;
        gort_sleep(MAIN_POLL_NS);
    }
    /* An operation that was queued may have published a table since:
     * the catalog must not read it once the loader frees it. */
    pthread_mutex_lock(&d->catalog_lock);
    d->mux = NULL;
    pthread_mutex_unlock(&d->catalog_lock);
    plugins_free(ps, d->http.shutdown_timeout_ns);
}

static void rescan(struct daemon *d)
{
    if (!d->plugins) {
        glog_warn("nothing to rescan", GLOG_STR("signal", "SIGHUP"),
                  GLOG_STR("reason", "no -plugins-dir"));
        return;
    }
    glog_info("rescanning plugins", GLOG_STR("signal", "SIGHUP"),
              GLOG_STR("dir", d->plugins_dir));
    int failed = plugins_rescan(d->plugins, 0);
    glog_at(failed ? GLOG_WARN : GLOG_INFO, "rescan done",
            GLOG_INT("failed", failed), GLOG_STR("dir", d->plugins_dir));
}

/* SIGHUP: the certificate and key files are read again; new handshakes
 * use them, open connections keep theirs, and a file that does not load
 * leaves the old pair in use. */
static void tls_reload(struct daemon *d)
{
    char err[512], serial[80];
    if (!d->tls)
        return;
    if (http_tls_server_reload(d->tls, err, sizeof err) < 0) {
        glog_error("TLS certificate not reloaded", GLOG_STR("err", err),
                   GLOG_STR("reason", "the previous one stays in use"));
        return;
    }
    http_tls_server_serial(d->tls, serial, sizeof serial);
    glog_info("TLS certificate reloaded", GLOG_STR("cert", d->tls_cert),
              GLOG_STR("serial", serial));
}

/* --tls-cert and --tls-key go with --listen-tls; the pair is loaded and
 * checked before anything starts. 0, or 2 after a one-line message. */
static int tls_setup(struct daemon *d)
{
    char err[640];
    bool files = d->tls_cert || d->tls_key;
    if (!d->listen_tls.n && !files)
        return 0;
    if (!d->listen_tls.n || !d->tls_cert || !d->tls_key) {
        fprintf(stderr, "gortd: -listen-tls, -tls-cert and -tls-key go "
                        "together: give all three\n");
        return 2;
    }
    d->tls = http_tls_server_new(d->tls_cert, d->tls_key, err, sizeof err);
    if (!d->tls) {
        fprintf(stderr, "gortd: TLS: %s\n", err);
        return 2;
    }
    return 0;
}

static void main_goroutine(void *arg)
{
    struct daemon *d = arg;
    struct mux *mux = NULL;
    struct httpd_server *s = http_start(d, &mux);
    if (!s) {
        d->exit_code = 1;
        mux_free(mux);
        plugins_release(d);
        return;
    }
    pthread_mutex_lock(&d->catalog_lock);
    d->mux = mux;
    d->server = s;
    pthread_mutex_unlock(&d->catalog_lock);
    if (d->plugins) {
        struct plugins_host host = {.publish = publish, .arg = d};
        plugins_attach(d->plugins, mux, &host);
    }
    ctl_set_catalog(catalog_of(d));
    if (d->admin_addr && admin_start(d, s) < 0) {
        d->exit_code = 1;
        atomic_store(&stop_requested, 1);
    }
    atomic_store_explicit(&d->admin.ready, 1, memory_order_release);
    sysd_ready(d->status);
    while (!atomic_load(&stop_requested)) {
        if (atomic_exchange(&rescan_requested, 0)) {
            sysd_reloading();
            tls_reload(d);
            rescan(d);
            sysd_ready(d->status);
        }
        sysd_watchdog(gort_nanotime());
        gort_sleep(MAIN_POLL_NS);
    }
    /* /readyz says 503 from here, and grpc.health.v1 NOT_SERVING:
     * balancers and probes stop sending while we drain. */
    atomic_store_explicit(&d->admin.ready, 0, memory_order_release);
    ctl_health_drain();
    sysd_stopping("draining connections");
    int drained = httpd_server_shutdown(s);
    if (d->admin_srv)
        httpd_server_shutdown(d->admin_srv);
    if (drained != 0) {
        /* What is left after the handlers' contexts were cancelled. */
        struct httpd_stats left;
        httpd_server_stats(s, &left);
        glog_warn("shutdown timed out",
                  GLOG_STR("reason", drained == -ECANCELED
                                         ? "requests cancelled"
                                         : "connections still busy"),
                  GLOG_DUR("timeout", d->http.shutdown_timeout_ns),
                  GLOG_UINT("connections", left.conns_open),
                  GLOG_UINT("handlers", left.in_flight));
    }
    if (drained == -ETIMEDOUT)
        return;
    /* No request runs plugin code any more: fini, dlclose, once the
     * goroutines the plugins started have ended too (bounded; a plugin
     * whose goroutines outlive the bound stays mapped until exit). */
    plugins_release(d);
    /* Requests cut at a timeout may still run: the table and the server
     * stay allocated until exit rather than be freed under them. */
}

static const char *signal_name(int sig)
{
    return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "SIGHUP";
}

/* nginx's convention for logrotate: SIGUSR1 reopens the log files. The
 * error log is fd 2; when it was a regular file at start (a shell's 2>>,
 * systemd's StandardError=append:), it is opened again by that name and
 * put in place with dup2, so that no record goes nowhere meanwhile. */
static void stderr_remember(void)
{
    struct stat st;
    char path[4096];
    if (fstat(STDERR_FILENO, &st) != 0 || !S_ISREG(st.st_mode))
        return;
    ssize_t n = readlink("/proc/self/fd/2", path, sizeof path - 1);
    if (n > 0 && path[0] == '/') {
        path[n] = '\0';
        stderr_path = strdup(path);
    }
}

static void logs_reopen(void)
{
    accesslog_reopen();
    if (stderr_path) {
        int fd =
            open(stderr_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) {
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
    }
    glog_info("logs reopened", GLOG_STR("signal", "SIGUSR1"));
}

static void *signal_thread(void *arg)
{
    const sigset_t *set = arg;
    int sig, seen = 0;

    for (;;) {
        if (sigwait(set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            atomic_store(&rescan_requested, 1);
            continue;
        }
        if (sig == SIGQUIT) /* Go's: every goroutine's stack, exit 2 */
            gort_crash_quit();
        if (sig == SIGUSR1) {
            logs_reopen();
            continue;
        }
        if (seen++) {
            glog_warn("exiting now", GLOG_STR("signal", signal_name(sig)),
                      GLOG_STR("reason", "second signal"));
            _exit(1);
        }
        glog_info("shutting down", GLOG_STR("signal", signal_name(sig)));
        atomic_store(&stop_requested, 1);
        /* A rescan or an unload draining must not hold the shutdown up
         * (the main goroutine may be inside one). */
        plugins_cancel_ops();
    }
    return NULL;
}

/* ---- range checks of the numeric flags -------------------------------------
 *
 * Values that cannot mean anything are refused at start, one line each: a
 * negative size or duration, a head limit below a request line, a buffer
 * budget that could not hold one largest head, bounds past what the
 * runtime or the control plane can hold. One table, checked in its order
 * (the first value out of range speaks, exit 2). A new ranged flag is one
 * more row; flags that share a line (the timeouts) share its text. */

enum range_unit {
    RANGE_COUNT, /* a long (CLI_FLAG_INT): connections, threads, streams */
    RANGE_BYTES, /* a long (CLI_FLAG_INT) */
    RANGE_NS,    /* an int64_t (CLI_FLAG_DURATION) */
};

struct flag_range {
    const char *name;     /* the flag, without dashes */
    const void *value;    /* where the parser stored it, of unit's type */
    enum range_unit unit; /* which type that is */
    int64_t min, max;     /* accepted: min..max, both included */
    const long *min_base; /* non-NULL: the minimum is *min_base + min */
    const char *message;  /* printed after "gortd: " when out of range */
};

static int64_t range_value(const struct flag_range *r)
{
    if (r->unit == RANGE_NS)
        return *(const int64_t *)r->value;
    return *(const long *)r->value;
}

static bool in_range(const struct flag_range *r)
{
    int64_t v = range_value(r), min = r->min;
    if (r->min_base) /* saturated: a base near LONG_MAX must not wrap */
        min = *r->min_base > INT64_MAX - r->min ? INT64_MAX
                                                : *r->min_base + r->min;
    return v >= min && v <= r->max;
}

#define TIMEOUT_RANGE(flag, field)                                             \
    {                                                                          \
        flag, &h->field, RANGE_NS, 0, INT64_MAX, NULL,                         \
            "timeouts must be >= 0 (0: no bound)"                              \
    }
#define THREADS_MESSAGE                                                        \
    "-max-threads must be from 2 to 1000000, -max-blocking-threads from 1 "    \
    "to 1000000"

/* 0, or -1 after the line of the first value out of range. */
#define HANDLER_STACK_MESSAGE                                                  \
    "-handler-stack must be 0 (the runtime's default) or 64 KiB to 1 GiB"

static int limits_check(const struct daemon *d, const struct ctl_config *cfg)
{
    const struct httpd_config *h = &d->http;
    const struct flag_range ranges[] = {
        {"max-header-bytes", &d->max_header_bytes, RANGE_BYTES, 1024, LONG_MAX,
         NULL, "-max-header-bytes must be at least 1024"},
        {"max-body-bytes", &d->max_body_bytes, RANGE_BYTES, 0, LONG_MAX, NULL,
         "-max-body-bytes must be >= 0 (0: no limit)"},
        {"handler-stack", &d->handler_stack, RANGE_BYTES, 0, 1L << 30, NULL,
         HANDLER_STACK_MESSAGE},
        {"max-conns", &d->max_conns, RANGE_COUNT, 1, INT32_MAX, NULL,
         "-max-conns must be between 1 and 2147483647"},
        {"max-buffer-bytes", &d->max_buffer_bytes, RANGE_BYTES, 4096, LONG_MAX,
         &d->max_header_bytes,
         "-max-buffer-bytes must hold one largest head: at least "
         "-max-header-bytes + 4096"},
        TIMEOUT_RANGE("read-header-timeout", read_header_timeout_ns),
        TIMEOUT_RANGE("read-timeout", read_timeout_ns),
        TIMEOUT_RANGE("body-idle-timeout", body_idle_timeout_ns),
        TIMEOUT_RANGE("idle-timeout", idle_timeout_ns),
        TIMEOUT_RANGE("write-timeout", write_timeout_ns),
        TIMEOUT_RANGE("shutdown-timeout", shutdown_timeout_ns),
        {"control-max-streams", &cfg->max_streams, RANGE_COUNT, 1, 100000, NULL,
         "-control-max-streams must be 1..100000"},
        /* Both bound Ms: a blocking call holds one, so the tighter one
         * wins. */
        {"max-threads", &d->max_threads, RANGE_COUNT, 2, 1000000, NULL,
         THREADS_MESSAGE},
        {"max-blocking-threads", &d->max_blocking, RANGE_COUNT, 1, 1000000,
         NULL, THREADS_MESSAGE},
    };
    /* One request's frames take ~15 KiB: below 64 KiB, only 0 (the
     * runtime's default) makes sense. */
    if (d->handler_stack > 0 && d->handler_stack < 64 * 1024) {
        fprintf(stderr, "gortd: %s\n", HANDLER_STACK_MESSAGE);
        return -1;
    }
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        if (!in_range(&ranges[i])) {
            fprintf(stderr, "gortd: %s\n", ranges[i].message);
            return -1;
        }
    }
    return 0;
}

static void usage(FILE *f, const struct cli_flag *flags, size_t n)
{
    fprintf(f, "Usage: gortd [flags]\n\n"
               "Runs the gort runtime, serves HTTP/1.1 with the handler "
               "plugins (*.so) in\n-plugins-dir and the gRPC control plane "
               "(gort.v1.Control,\n"
               "grpc.health.v1.Health and server reflection; see "
               "gortctl).\n\n"
               "SIGHUP rescans -plugins-dir: new files load, changed ones "
               "replace,\nremoved ones unload; it also reloads -tls-cert "
               "and -tls-key. SIGINT or SIGTERM stops it "
               "gracefully: in-flight\nrequests finish, idle connections "
               "close.\nSIGUSR1 reopens the access log and, when stderr is a "
               "file, the error log\n(after logrotate moved them).\n\nLogs go "
               "to stderr, one record per line: logfmt "
               "(time=... level=info\nmsg=\"serving HTTP\" addr=...), or "
               "one JSON object per line with\n-log-format json.\n\n"
               "Flags:\n");
    cli_flags_print(f, flags, n);
}

/* The -log-format and -log-level flags; a bad value is a usage error,
 * reported the way the flag parser reports one. */
static int log_setup(const char *format, const char *level)
{
    enum glog_format f;
    enum glog_level l;
    if (glog_format_parse(format, &f) < 0) {
        fprintf(stderr,
                "gortd: invalid value \"%s\" for flag -log-format: want "
                "logfmt or json\n",
                format);
        return -1;
    }
    if (glog_level_parse(level, &l) < 0) {
        fprintf(stderr,
                "gortd: invalid value \"%s\" for flag -log-level: want "
                "debug, info, warn or error\n",
                level);
        return -1;
    }
    glog_setup(f, l);
    return 0;
}

/* 0, or the error number of what failed. */
/* Every connection is a descriptor, and the soft limit is often 1024 while
 * the hard one allows far more: raise soft to hard at start, as Go does
 * since 1.19, and say what the limit is. */
static void nofile_raise(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t was = rl.rlim_cur;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            rl.rlim_cur = was;
    }
    glog_info("open files limit", GLOG_UINT("nofile", rl.rlim_cur),
              GLOG_UINT("was", was));
}

static int signals_start(sigset_t *set)
{
    pthread_t t;
    int rc;
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGQUIT);
    sigaddset(set, SIGUSR1);
    /* A shell starts background jobs with SIGINT ignored, and an ignored
     * signal is discarded before sigwait could take it. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);
    signal(SIGUSR1, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
    if ((rc = pthread_sigmask(SIG_BLOCK, set, NULL)) != 0 ||
        (rc = pthread_create(&t, NULL, signal_thread, set)) != 0)
        return rc;
    pthread_detach(t);
    return 0;
}

int main(int argc, char **argv)
{
    static sigset_t set; /* read by the signal thread for the process's life */
    char def[160], err[512];
    struct ctl_config cfg = {.addr = cli_addr_default(def, sizeof def),
                             .max_streams = CTL_MAX_STREAMS_DEFAULT};
    const char *log_format = "logfmt", *log_level = "info";
    const char *netpoll = NULL; /* GORTNETPOLL, else epoll */
    const char *plugin_faults = "exit";
    const char *access_log = NULL, *health_addr = NULL;
    int version = 0, rc;
    /* Static: the servers, tables and plugins it points to live until the
     * process exits (requests cut at a timeout may still use them), and
     * LeakSanitizer's exit check must see them reachable after main's frame
     * is gone; from a stack frame, only stale copies of the pointers made
     * them look alive, and the admin server was reported as leaked when
     * none was left (tests/ops/test_fleet.py under ASan). */
    static struct daemon d = {.listen = {.v = {":8080"}, .n = 1},
                              .listen_fd = -1,
                              .catalog_lock = PTHREAD_MUTEX_INITIALIZER};
    httpd_config_default(&d.http);
    d.max_header_bytes = (long)d.http.max_header_bytes;
    d.max_body_bytes = (long)d.http.max_body_bytes;
    d.max_conns = d.http.max_conns;
    d.max_buffer_bytes = DEFAULT_MAX_BUFFER_BYTES;
    d.max_threads = gort_set_max_threads(0);
    d.max_blocking = gort_set_max_blocking(0);
    const struct cli_flag flags[] = {
        {.name = "version",
         .kind = CLI_FLAG_BOOL,
         .value = &version,
         .usage = "print gortd's version and the libraries it uses, and exit"},
        {.name = "listen",
         .kind = CLI_FLAG_STRINGS,
         .value = &d.listen,
         .usage = "HTTP `address`: HOST:PORT or :PORT (port 0: the kernel "
                  "picks one; the log says which); repeat it to listen on "
                  "several"},
        {.name = "listen-tls",
         .kind = CLI_FLAG_STRINGS,
         .value = &d.listen_tls,
         .usage = "HTTPS `address` (needs -tls-cert and -tls-key), beside "
                  "the -listen ones; repeat it to listen on several. Given "
                  "alone, the default plain :8080 is off"},
        {.name = "tls-cert",
         .kind = CLI_FLAG_STRING,
         .value = &d.tls_cert,
         .usage = "PEM certificate chain `file` (leaf first) for "
                  "-listen-tls; SIGHUP reloads it"},
        {.name = "tls-key",
         .kind = CLI_FLAG_STRING,
         .value = &d.tls_key,
         .usage = "PEM private key `file` of -tls-cert; SIGHUP reloads it"},
        {.name = "listen-fd",
         .kind = CLI_FLAG_INT,
         .value = &d.listen_fd,
         .usage = "serve HTTP on the listening socket inherited as `fd` "
                  "(from a supervisor; systemd's LISTEN_FDS are used without "
                  "it); -listen is then off unless given"},
        {.name = "reuseport",
         .kind = CLI_FLAG_BOOL,
         .value = &d.reuseport,
         .usage = "set SO_REUSEPORT on the -listen sockets, so that several "
                  "gortd share a port (restarts without refused connections)"},
        {.name = "plugins-dir",
         .kind = CLI_FLAG_STRING,
         .value = &d.plugins_dir,
         .usage = "`directory` of handler plugins (*.so) to load at start; "
                  "none when unset"},
        {.name = "read-header-timeout",
         .kind = CLI_FLAG_DURATION,
         .value = &d.http.read_header_timeout_ns,
         .usage = "time allowed to read a request's headers"},
        {.name = "read-timeout",
         .kind = CLI_FLAG_DURATION,
         .value = &d.http.read_timeout_ns,
         .usage = "time allowed to read a whole request, headers and body "
                  "(Go's ReadTimeout); 0: no bound"},
        {.name = "body-idle-timeout",
         .kind = CLI_FLAG_DURATION,
         .value = &d.http.body_idle_timeout_ns,
         .usage = "longest wait for the next bytes of a request body "
                  "(nginx's client_body_timeout); 0: no bound"},
        {.name = "idle-timeout",
         .kind = CLI_FLAG_DURATION,
         .value = &d.http.idle_timeout_ns,
         .usage =
             "how long a keep-alive connection may wait for its next request"},
        {.name = "write-timeout",
         .kind = CLI_FLAG_DURATION,
         .value = &d.http.write_timeout_ns,
         .usage = "time allowed to write one response"},
        {.name = "shutdown-timeout",
         .kind = CLI_FLAG_DURATION,
         .value = &d.http.shutdown_timeout_ns,
         .usage = "how long a graceful shutdown waits for in-flight requests"},
        {.name = "max-header-bytes",
         .kind = CLI_FLAG_INT,
         .value = &d.max_header_bytes,
         .usage = "largest request head accepted (431 beyond)"},
        {.name = "handler-stack",
         .kind = CLI_FLAG_INT,
         .value = &d.handler_stack,
         .usage = "stack reservation of the goroutines handlers run on, "
                  "bytes (0: the runtime's, 64 KiB)"},
        {.name = "max-body-bytes",
         .kind = CLI_FLAG_INT,
         .value = &d.max_body_bytes,
         .usage = "largest request body accepted (413 beyond); 0: no limit"},
        {.name = "max-buffer-bytes",
         .kind = CLI_FLAG_INT,
         .value = &d.max_buffer_bytes,
         .usage = "request bytes all connections may buffer together (read "
                  "buffers, large heads); a request beyond gets 503"},
        {.name = "max-conns",
         .kind = CLI_FLAG_INT,
         .value = &d.max_conns,
         .usage = "open connections at most; a new client beyond closes the "
                  "longest-idle keep-alive connection, or waits when none is "
                  "idle"},
        {.name = "max-threads",
         .kind = CLI_FLAG_INT,
         .value = &d.max_threads,
         .usage = "threads that run goroutines at most (Go's SetMaxThreads), "
                  "blocking calls and long-running handlers included; past "
                  "it a long runner keeps its P (logged), nothing aborts"},
        {.name = "max-blocking-threads",
         .kind = CLI_FLAG_INT,
         .value = &d.max_blocking,
         .usage = "blocking calls (gort_blocking) running at once, each on "
                  "its own thread; more wait in a queue"},
        {.name = "quiet",
         .kind = CLI_FLAG_BOOL,
         .value = &d.http.quiet,
         .usage = "do not log refused requests"},
        {.name = "control",
         .kind = CLI_FLAG_STRING,
         .value = &cfg.addr,
         .usage = "control-plane `address`: unix:PATH, or HOST:PORT for TCP"},
        {.name = "control-insecure",
         .kind = CLI_FLAG_BOOL,
         .value = &cfg.insecure,
         .usage = "allow a non-loopback TCP control address without mutual TLS "
                  "(anyone who reaches it can load code)"},
        {.name = "control-allow-cn",
         .kind = CLI_FLAG_STRING,
         .value = &cfg.allow_ids,
         .usage =
             "comma-separated client certificate `names` (CN or subject "
             "alternative name) allowed to call SetMaxProcs and the plugin "
             "operations; other verified clients get PERMISSION_DENIED "
             "for them (needs -control-tls-ca)"},
        {.name = "control-max-streams",
         .kind = CLI_FLAG_INT,
         .value = &cfg.max_streams,
         .usage = "control calls and streams served at once; one more gets "
                  "RESOURCE_EXHAUSTED"},
        {.name = "control-tls-ca",
         .kind = CLI_FLAG_STRING,
         .value = &cfg.tls_ca,
         .usage = "PEM CA bundle `file`: require client certificates it signed "
                  "(mutual TLS)"},
        {.name = "control-tls-cert",
         .kind = CLI_FLAG_STRING,
         .value = &cfg.tls_cert,
         .usage = "PEM certificate `file`: serve the control plane over TLS"},
        {.name = "control-tls-key",
         .kind = CLI_FLAG_STRING,
         .value = &cfg.tls_key,
         .usage = "PEM private key `file` for -control-tls-cert"},
        {.name = "grpc-health",
         .kind = CLI_FLAG_STRING,
         .value = &health_addr,
         .usage = "plaintext gRPC `address` (HOST:PORT) serving only "
                  "grpc.health.v1.Health, for Kubernetes gRPC probes and "
                  "balancers; off when unset"},
        {.name = "admin",
         .kind = CLI_FLAG_STRING,
         .value = &d.admin_addr,
         .usage = "admin HTTP `address` (HOST:PORT): /metrics, /healthz, "
                  "/readyz, /debug/gort/; loopback only unless "
                  "-admin-insecure; off when unset"},
        {.name = "admin-insecure",
         .kind = CLI_FLAG_BOOL,
         .value = &d.admin_insecure,
         .usage = "allow a non-loopback -admin address (anyone who reaches "
                  "it reads gortd's state)"},
        {.name = "access-log",
         .kind = CLI_FLAG_STRING,
         .value = &access_log,
         .usage = "write an access log to `file` (- for stdout): nginx's "
                  "combined format plus the request time; SIGUSR1 reopens it"},
        {.name = "log-format",
         .kind = CLI_FLAG_STRING,
         .value = &log_format,
         .usage = "log records as `format`: logfmt, or json (one object per "
                  "line)"},
        {.name = "plugin-faults",
         .kind = CLI_FLAG_STRING,
         .value = &plugin_faults,
         .usage = "what a fault (SIGSEGV, SIGBUS, SIGFPE, SIGILL) in a "
                  "plugin's code does: `mode` exit (the crash report, then "
                  "exit 2) or quarantine (500 to that request, the "
                  "plugin's routes answer 503, the rest keeps serving)"},
        {.name = "netpoll",
         .kind = CLI_FLAG_STRING,
         .value = &netpoll,
         .usage = "the netpoller's kernel `interface`: epoll or io_uring "
                  "(where the kernel refuses io_uring, a warning and epoll); "
                  "unset: $GORTNETPOLL, else epoll"},
        {.name = "log-level",
         .kind = CLI_FLAG_STRING,
         .value = &log_level,
         .usage = "lowest `level` logged: debug, info, warn or error"},
    };
    size_t nflags = sizeof flags / sizeof flags[0];

    int i = cli_flags_parse(flags, nflags, argc, argv, 1, err, sizeof err);
    if (i == CLI_FLAGS_HELP) {
        usage(stdout, flags, nflags);
        return 0;
    }
    if (i >= 0 && version) {
        cli_version_print(stdout, "gortd");
        return 0;
    }
    if (i == CLI_FLAGS_ERROR || i < argc) {
        if (i < 0)
            fprintf(stderr, "gortd: %s\n", err);
        else
            fprintf(stderr, "gortd: unexpected argument %s\n", argv[i]);
        usage(stderr, flags, nflags);
        return 2;
    }
    if (log_setup(log_format, log_level) < 0) {
        usage(stderr, flags, nflags);
        return 2;
    }
    if (limits_check(&d, &cfg) != 0)
        return 2;
    if (netpoll && gort_netpoll_use(netpoll) != 0) {
        fprintf(stderr,
                "gortd: invalid value \"%s\" for flag -netpoll: want epoll "
                "or io_uring\n",
                netpoll);
        usage(stderr, flags, nflags);
        return 2;
    }
    if (admin_check(&d) != 0 || health_check(health_addr) != 0 ||
        listen_check(&d) != 0 || inherited_check(&d) != 0 || tls_setup(&d) != 0)
        return 2;
    gort_set_max_threads((int)d.max_threads);
    gort_set_max_blocking((int)d.max_blocking);
    if (strcmp(plugin_faults, "exit") != 0 &&
        strcmp(plugin_faults, "quarantine") != 0) {
        fprintf(stderr,
                "gortd: invalid value \"%s\" for flag -plugin-faults: want "
                "exit or quarantine\n",
                plugin_faults);
        usage(stderr, flags, nflags);
        return 2;
    }
    plugins_quarantine_faults(strcmp(plugin_faults, "quarantine") == 0);
    /* Before the runtime starts: its fault handler passes on to this one. */
    rc = gort_crash_install();
    if (rc != 0)
        glog_warn("no crash reports", GLOG_ERRNO("err", -rc));
    if (access_log && accesslog_open(access_log, err, sizeof err) < 0) {
        fprintf(stderr, "gortd: -access-log: %s\n", err);
        return 2;
    }
    d.http.access_log = access_log != NULL;
    stderr_remember();
    d.http.max_header_bytes = (size_t)d.max_header_bytes;
    d.http.max_body_bytes = d.max_body_bytes;
    d.http.max_conns = (int)d.max_conns;
    d.http.handler_stack = (size_t)d.handler_stack;
    static struct http_budget budget; /* outlives every connection */
    http_budget_init(&budget, d.max_buffer_bytes);
    d.http.budget = &budget;
    nofile_raise();
    rc = signals_start(&set);
    if (rc != 0) {
        glog_error("cannot set up signal handling", GLOG_ERRNO("err", rc));
        return 1;
    }
    struct ctl_server *srv = ctl_start(&cfg, err, sizeof err);
    if (!srv) {
        glog_error("cannot start the control plane", GLOG_STR("err", err));
        return 1;
    }
    glog_info("control plane listening",
              GLOG_STR("addr", ctl_server_addr(srv)));
    struct ctl_server *health = NULL;
    if (health_addr && *health_addr) {
        struct ctl_config hc = {.addr = health_addr,
                                .health_only = 1,
                                .max_streams = cfg.max_streams};
        if (!(health = ctl_start(&hc, err, sizeof err))) {
            glog_error("cannot start the gRPC health listener",
                       GLOG_STR("err", err));
            ctl_stop(srv);
            return 1;
        }
        glog_info("gRPC health listening",
                  GLOG_STR("addr", ctl_server_addr(health)));
    }
    rc = gort_main(main_goroutine, &d);
    if (rc < 0)
        glog_error("runtime failed", GLOG_STR("err", gort_strerror(rc)));
    ctl_stop(health);
    ctl_stop(srv);
    accesslog_close();
    return rc < 0 ? 1 : d.exit_code;
}
