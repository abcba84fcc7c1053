/* control/listen.h — where the control plane listens, and the rules for it. */
#ifndef GORT_CTL_LISTEN_H
#define GORT_CTL_LISTEN_H

#include <grpc/grpc.h>

#include "control/control.h"
#include "cli/addr.h"

struct ctl_listener {
    struct cli_addr addr;
    int lock_fd; /* unix: flock'd "PATH.lock" held while we serve; else -1 */
    int bound;   /* unix: the socket file at addr.path is ours */
    char lock_path[sizeof((struct cli_addr *)0)->path + 8];
    char served[320]; /* the address as a client dials it */
};

/* Checks cfg (address syntax, TLS flags, the no-plaintext-off-loopback
 * rule) and, for a Unix socket, takes its lock and removes a stale socket
 * file. 0, or -1 with err and nothing held. */
int ctl_listen_prepare(struct ctl_listener *l, const struct ctl_config *cfg,
                       char *err, size_t errlen);

/* 1 when cfg asks for TLS (certificate and key given). */
int ctl_listen_tls(const struct ctl_config *cfg);

/* Adds the listening port to srv (before grpc_server_start); a Unix socket
 * is created mode 0600. 0, or -1 with err. */
int ctl_listen_bind(struct ctl_listener *l, grpc_server *srv,
                    grpc_server_credentials *creds, char *err, size_t errlen);

/* Removes the Unix socket file if ours and drops the lock. */
void ctl_listen_release(struct ctl_listener *l);

#endif /* GORT_CTL_LISTEN_H */
