/* control.h — gortd's gRPC control plane, as gortd's main sees it.
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

struct ctl_config {
    const char *addr; /* "unix:PATH" or "HOST:PORT"; NULL = ctl_addr_default */
    const char *tls_cert; /* PEM files; NULL or "" for none */
    const char *tls_key;
    const char *tls_ca; /* set: require and verify client certificates */
    int insecure;       /* allow non-loopback TCP without TLS (warns) */
};

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

/* Where GetStats/WatchStats read the HTTP front end's counters: gortd sets
 * it once its server runs (Stats.http stays absent until then). The
 * callback runs on the control thread and must not block. */
struct gort_http_stats;
typedef void (*ctl_http_stats_fn)(void *arg, struct gort_http_stats *out);
void ctl_set_http_source(ctl_http_stats_fn fn, void *arg);

/* Where ListRoutes/ListPlugins read the route table and the loaded
 * plugins: gortd sets it once they exist (until then both lists are
 * empty). Each callback fills up to n entries and returns how many there
 * are in all; strings must stay valid until the call returns (they are
 * copied into the reply). Runs on the control thread; must not block. */
struct ctl_http_route {
    const char *pattern;
    const char *plugin; /* "" for a route gortd registered itself */
};
struct ctl_plugin {
    const char *name, *version, *path;
    size_t routes;
    uint64_t in_flight;
};
struct ctl_catalog {
    size_t (*routes)(void *arg, struct ctl_http_route *out, size_t n);
    size_t (*plugins)(void *arg, struct ctl_plugin *out, size_t n);
    void *arg;
};
void ctl_set_catalog(const struct ctl_catalog *catalog);

#endif /* GORT_CONTROL_H */
