/* plugin/loader.h — gortd's plugin loader: *.so files from the plugins
 * directory, checked against the ABI in include/gort/plugin.h, registered into
 * a mux whole or not at all. The design is at the top of loader.c.
 */
#ifndef GORT_SERVER_PLUGIN_H
#define GORT_SERVER_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/mux.h"

/* The plugins loaded from one directory. */
struct plugins;

/* One plugin, as plugins_each and the hot operations report it:
 * copies, valid after the plugin is gone (longer strings are cut). */
struct plugin_status {
    char name[128];         /* the descriptor's name: "hello" */
    char version[128];      /* the descriptor's version: "1.0.0" */
    char file[512];         /* DIR/NAME.so as gortd opened it */
    size_t routes;          /* routes it registered */
    uint64_t in_flight;     /* requests routed to it and not yet answered */
    uint64_t requests;      /* requests its handlers answered */
    uint64_t errors;        /* of those, 5xx answers and aborts */
    uint64_t by_class[6];   /* of those, [1]..[5]: 1xx..5xx (aborts: 5xx) */
    uint64_t goroutines;    /* goroutines its code started, still live */
    uint64_t started;       /* goroutines its code started in all */
    int64_t loaded_unix_ns; /* when it was loaded */
    bool quarantined;       /* a fault in its code: its routes answer 503 */
    /* That fault's crash report, or NULL; valid during plugins_each's
     * callback only. */
    const char *fault_report;
};

/* Where hot operations publish a new route table: gortd's HTTP server.
 * publish makes next the served table and returns the previous one once
 * nothing matches against it any more (httpd_server_swap_mux). */
struct plugins_host {
    struct mux *(*publish)(void *arg, struct mux *next);
    void *arg;
};

/* A loader for the plugins in dir, which must exist; NULL with err set
 * otherwise (the reason alone: "No such file or directory"). Loads nothing
 * yet. */
struct plugins *plugins_new(const char *dir, char *err, size_t errlen);

/* Loads every *.so in the directory, sorted by name, into mux (which is
 * being built: not published). Each one is loaded whole or refused; every
 * load and refusal is logged. A file NAME.conf next to NAME.so is the
 * plugin's configuration string. Returns how many loaded, or a negative
 * errno when the directory cannot be read. */
int plugins_load_dir(struct plugins *ps, struct mux *mux);

/* Loads the plugin file name (a name inside the directory; anything that
 * resolves outside it is refused) into mux with config (NULL for none).
 * 0, or a negative errno with err naming the file and the reason; nothing of
 * a refused plugin stays in mux. */
int plugins_load(struct plugins *ps, struct mux *mux, const char *name,
                 const char *config, char *err, size_t errlen);

/* From now on ps owns the route table: served is the table the host serves
 * (built by plugins_load_dir), and hot operations replace it through
 * host. plugins_free frees the last one. */
void plugins_attach(struct plugins *ps, struct mux *served,
                    const struct plugins_host *host);

/* For httpd_config.route_pin/route_unpin: a request routed to a
 * plugin's route holds the plugin loaded until its handler returned. */
void plugins_route_pin(const void *owner);
void plugins_route_unpin(const void *owner);

/* Requests answered through a plugin's route, from a route table entry
 * (mux_route_info's owner and arg; 0 for a route with no owner). The
 * entry must be in a table still published, or the plugin may be gone. */
uint64_t plugins_route_requests(const void *owner, const void *arg);

/* ---- hot operations (after plugins_attach) ---------------------------
 *
 * Any thread or goroutine; one at a time (they queue). name is a file in
 * the directory, with or without ".so"; unload and replace also take the
 * plugin's own name. drain_ns bounds the wait for the old code's requests
 * and goroutines (<= 0: 10 s). deadline (gort_nanotime clock, 0 = none)
 * bounds everything: an operation still queued at it does not start
 * (-ETIMEDOUT), and the drain is cut to it. Each returns 0 and fills *info
 * (may be NULL)
 * with the plugin loaded (load, replace) or as it was (unload), or a
 * negative errno with err saying why:
 *   -ENOENT   no such file (load) or no such loaded plugin
 *   -EEXIST   load: a plugin of that name is loaded already
 *   -ETIMEDOUT the deadline passed while it waited for another operation
 *   -EBUSY    the routes are switched, but the old code still ran when
 *             drain_ns ran out: it stays mapped (err says how many requests
 *             and goroutines) and is finished as soon as they end
 *   other     the file was refused (as at start); nothing changed */
int plugins_hot_load(struct plugins *ps, const char *name, int64_t deadline,
                     struct plugin_status *info, char *err, size_t errlen);
int plugins_unload(struct plugins *ps, const char *name, int64_t drain_ns,
                   int64_t deadline, struct plugin_status *info, char *err,
                   size_t errlen);
int plugins_replace(struct plugins *ps, const char *name, int64_t drain_ns,
                    int64_t deadline, struct plugin_status *info, char *err,
                    size_t errlen);

/* A shutdown began (any thread, e.g. a signal handler's): the drain of
 * the running hot operation or rescan stops waiting (the plugin stays
 * mapped on the draining list, -EBUSY), and queued operations do not start
 * (-ECANCELED), so the shutdown never waits behind them. Process-wide;
 * plugins_free's own drains still wait. */
void plugins_cancel_ops(void);

/* --plugin-faults=quarantine: a fault in a plugin's code (a handler's pc
 * in the .so) answers 500 to that request (the connection cut if the
 * response had begun), quarantines the plugin (its routes answer 503, its
 * code stays mapped, `gortctl plugins list` shows the report) and gortd
 * keeps serving. Off (the default): the crash report, then exit 2. */
void plugins_quarantine_faults(bool on);

/* SIGHUP: new files load, changed files (inode, size or mtime) replace,
 * removed files unload; each step logged. Returns how many steps failed. */
int plugins_rescan(struct plugins *ps, int64_t drain_ns);

/* A route's answers by status class, [1]..[5] (owner and arg: the mux
 * entry's, as for plugins_route_requests; zeros for a route of gortd's). */
void plugins_route_classes(const void *owner, const void *arg, uint64_t out[6]);

/* Operations since start: loads (at start, hot, by SIGHUP), unloads and
 * replaces, [op][0] done, [op][1] failed. ps may be NULL (all zero). */
enum plugins_op { PLUGINS_OP_LOAD, PLUGINS_OP_UNLOAD, PLUGINS_OP_REPLACE };
#define PLUGINS_OPS 3
void plugins_ops_read(struct plugins *ps, uint64_t out[PLUGINS_OPS][2]);

/* Calls fn for each loaded plugin, in load order, under the loader's lock
 * (fn must not call back into ps). Returns how many there are. */
size_t plugins_each(struct plugins *ps,
                    void (*fn)(const struct plugin_status *, void *),
                    void *arg);

/* The name of the loaded plugin that registered routes as owner, copied
 * into out (n bytes); "" when none (a route gortd registered itself). */
void plugins_owner_name(struct plugins *ps, const void *owner, char *out,
                        size_t n);

/* Finishes every plugin (fini, dlclose), last loaded first, waiting up to
 * drain_ns for goroutines they started; one whose goroutines still run
 * stays mapped (reported). Then frees ps and the table it owns (NULL is
 * fine). No request may still be routed to them. */
void plugins_free(struct plugins *ps, int64_t drain_ns);

#endif /* GORT_SERVER_PLUGIN_H */
