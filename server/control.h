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

#endif /* GORT_CONTROL_H */
