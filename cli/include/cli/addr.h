/* cli/addr.h — control-plane addresses: the default, parsing, loopback.
 *
 * Shared by gortd and gortctl (library gort_cli); internal to gort,
 * prefix cli_, nothing here is part of the SDK.
 */
#ifndef GORT_CLI_ADDR_H
#define GORT_CLI_ADDR_H

#include <stddef.h>

enum cli_addr_kind { CLI_ADDR_UNIX, CLI_ADDR_TCP };

struct cli_addr {
    enum cli_addr_kind kind;
    char path[108];   /* unix: socket path (sun_path's size) */
    char host[256];   /* tcp: host without brackets */
    char port[8];     /* tcp: port, "0" lets the kernel pick */
    char target[300]; /* what gRPC takes: "unix:PATH" or "HOST:PORT" */
};

/* The address gortd listens on and gortctl dials when none is given:
 * unix:DIR/gortd.sock, DIR the first absolute one of $RUNTIME_DIRECTORY
 * (systemd), $XDG_RUNTIME_DIR, cli_addr_private_dir. Writes into buf and
 * returns it. */
const char *cli_addr_default(char *buf, size_t len);

/* The private directory for the default socket when neither environment
 * variable names one: $TMPDIR/gortd-EUID (TMPDIR unset or relative:
 * /tmp). gortd creates it mode 0700 and refuses it if someone else owns it
 * or can enter it. Writes into buf and returns it. */
const char *cli_addr_private_dir(char *buf, size_t len);

/* Parses "unix:PATH", "HOST:PORT" or "[IPV6]:PORT". 0 or -1 with err. */
int cli_addr_parse(const char *s, struct cli_addr *a, char *err, size_t errlen);

/* 1 when every address the TCP host resolves to is a loopback address,
 * 0 when one is not, -1 (err filled) when it does not resolve. Unix: 1. */
int cli_addr_is_loopback(const struct cli_addr *a, char *err, size_t errlen);

#endif /* GORT_CLI_ADDR_H */
