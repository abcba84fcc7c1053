/* control/control.h — gortd's gRPC control plane, as gortd's main sees it.
 *
 * ctl_start binds the listening address, registers gort.v1.Control and
 * grpc.health.v1.Health, and serves them on a thread of its own; ctl_stop
 * drains and joins it. Call both from one thread, with SIGINT/SIGTERM
 * already blocked (gRPC's threads inherit the mask).
 */
#ifndef GORT_CONTROL_H
#define GORT_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "cli/addr.h"

struct ctl_config {
    const char *addr; /* "unix:PATH" or "HOST:PORT"; NULL = cli_addr_default */
    const char *tls_cert; /* PEM files; NULL or "" for none */
    const char *tls_key;
    const char *tls_ca; /* set: require and verify client certificates */
    int insecure;       /* allow non-loopback TCP without mutual TLS (warns) */
    /* -control-allow-cn: comma-separated client identities (certificate CN
     * or subject alternative name) that may call the mutating methods;
     * NULL or "": every verified client may. Needs tls_ca. */
    const char *allow_ids;
    /* -control-max-streams: calls and streams served at once (each
     * further one gets RESOURCE_EXHAUSTED); <= 0: the default. */
    long max_streams;
    /* -grpc-health: serve grpc.health.v1.Health alone, in plaintext, on a
     * TCP address, loopback or not. It only tells SERVING or NOT_SERVING,
     * which is what a Kubernetes gRPC probe (plaintext, to the pod's IP)
     * or a balancer's health check needs; every other method is
     * UNIMPLEMENTED there. TLS and -control-allow-cn do not apply. */
    int health_only;
};

#define CTL_MAX_STREAMS_DEFAULT 64

struct ctl_server;

/* Starts the control plane. NULL with err on failure; then nothing is left
 * running or bound. Calls grpc_init; ctl_stop calls grpc_shutdown. */
struct ctl_server *ctl_start(const struct ctl_config *cfg, char *err,
                             size_t errlen);

/* The address served, as a client would dial it (TCP port 0 resolved). */
const char *ctl_server_addr(const struct ctl_server *s);

/* Stops: health turns NOT_SERVING, streams end with OK, calls in flight get
 * a 2 s grace period before they are cancelled; then frees everything and
 * removes the Unix socket. Safe to call with NULL. */
void ctl_stop(struct ctl_server *s);

/* From now on grpc.health.v1 answers NOT_SERVING on every control listener
 * (the control plane's and -grpc-health's): gortd calls it when it starts
 * draining, the moment /readyz turns 503. Any thread; once. */
void ctl_health_drain(void);

/* Where GetStats/WatchStats read the HTTP front end's counters: gortd sets
 * it once its server runs (Stats.http stays absent until then). The
 * callback runs on the control thread and must not block. */
struct httpd_stats;
typedef void (*ctl_http_stats_fn)(void *arg, struct httpd_stats *out);
void ctl_set_http_source(ctl_http_stats_fn fn, void *arg);

/* Where ListRoutes/ListPlugins read the route table and the loaded
 * plugins, and where Load/Unload/ReplacePlugin act: gortd sets it once they
 * exist (until then both lists are empty and the operations answer
 * UNAVAILABLE). The list callbacks fill up to n entries, with strings copied
 * into the arena a, and return how many there are in all; they run on the
 * control thread and must not block. */
struct ctl_arena;
struct ctl_http_route {
    const char *pattern;
    const char *plugin; /* "" for a route gortd registered itself */
    uint64_t requests;  /* answered through it */
};
struct ctl_plugin {
    const char *name, *version, *path;
    size_t routes;
    uint64_t in_flight, requests, errors, goroutines;
    int64_t loaded_unix_ns;
    const char *state;        /* "loaded" or "quarantined" */
    const char *fault_report; /* the quarantining fault's report, or "" */
};
enum ctl_plugin_op { CTL_PLUGIN_LOAD, CTL_PLUGIN_UNLOAD, CTL_PLUGIN_REPLACE };
struct ctl_catalog {
    size_t (*routes)(void *arg, struct ctl_http_route *out, size_t n,
                     struct ctl_arena *a);
    size_t (*plugins)(void *arg, struct ctl_plugin *out, size_t n,
                      struct ctl_arena *a);
    /* Loads, unloads or replaces plugin name, waiting up to drain_ns for
     * the old code (<= 0: the loader's default), all within deadline
     * (CLOCK_MONOTONIC ns, 0 = none). 0 with *out describing the
     * plugin (the new one; for unload, the one that was), or a negative
     * errno with err set (plugins_hot_load's list). Blocks. */
    int (*op)(void *arg, enum ctl_plugin_op op, const char *name,
              int64_t drain_ns, int64_t deadline, struct ctl_plugin *out,
              struct ctl_arena *a, char *err, size_t errlen);
    void *arg;
};
void ctl_set_catalog(const struct ctl_catalog *catalog);

#endif /* GORT_CONTROL_H */
