/* ctl_util.h — small pieces gortd and gortctl share: Go-style command-line
 * flags and durations, control-plane addresses, gRPC status names.
 *
 * Internal to gort (prefix ctl_); nothing here is part of libgort's API.
 */
#ifndef GORT_CTL_UTIL_H
#define GORT_CTL_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <grpc/status.h>

/* ---- flags (ctl_flag.c) -------------------------------------------------
 * Go's flag package, enough of it: "-name" and "--name", "-name=value" and
 * "-name value" (not for bools), "--" ends the flags, the first non-flag
 * argument ends them too. -h, -help and --help ask for help. */

enum ctl_flag_kind {
    CTL_FLAG_STRING,   /* value: const char ** */
    CTL_FLAG_BOOL,     /* value: int * */
    CTL_FLAG_INT,      /* value: long * */
    CTL_FLAG_DURATION, /* value: int64_t * (nanoseconds), Go syntax "1.5s" */
};

struct ctl_flag {
    const char *name; /* without dashes: "control-tls-cert" */
    enum ctl_flag_kind kind;
    void *value;       /* holds the default on entry */
    const char *usage; /* one line; a `word` in backquotes names the value */
    int *seen;         /* optional: set to 1 when the flag is given */
};

#define CTL_FLAGS_HELP (-1)  /* -h / -help / --help was given */
#define CTL_FLAGS_ERROR (-2) /* err says why; print it and the usage, exit 2   \
                              */

/* Parses argv[first..argc). Returns the index of the first argument that is
 * not a flag (argc when none), CTL_FLAGS_HELP or CTL_FLAGS_ERROR. */
int ctl_flags_parse(const struct ctl_flag *flags, size_t n, int argc,
                    char **argv, int first, char *err, size_t errlen);

/* Go's PrintDefaults: "  -name type\n    \tusage (default ...)". */
void ctl_flags_print(FILE *f, const struct ctl_flag *flags, size_t n);

/* ---- time (ctl_time.c) --------------------------------------------------- */

/* Go's time.ParseDuration ("300ms", "1.5s", "1h2m"); 0 or -1. */
int ctl_duration_parse(const char *s, int64_t *ns);

/* Go's Duration.String: "1h2m3.5s", "1.5ms", "0s". */
void ctl_duration_format(int64_t ns, char *buf, size_t len);

/* Monotonic clock in nanoseconds (CLOCK_MONOTONIC). */
int64_t ctl_now_ns(void);

/* Wall clock in Unix nanoseconds (CLOCK_REALTIME). */
int64_t ctl_unix_ns(void);

/* ---- addresses (ctl_addr.c) ---------------------------------------------- */

enum ctl_addr_kind { CTL_ADDR_UNIX, CTL_ADDR_TCP };

struct ctl_addr {
    enum ctl_addr_kind kind;
    char path[108];   /* unix: socket path (sun_path's size) */
    char host[256];   /* tcp: host without brackets */
    char port[8];     /* tcp: port, "0" lets the kernel pick */
    char target[300]; /* what gRPC takes: "unix:PATH" or "HOST:PORT" */
};

/* The address gortd listens on and gortctl dials when none is given:
 * unix:$XDG_RUNTIME_DIR/gortd.sock, or unix:/tmp/gortd-$UID.sock when
 * XDG_RUNTIME_DIR is unset or not absolute. Writes into buf and returns it. */
const char *ctl_addr_default(char *buf, size_t len);

/* Parses "unix:PATH", "HOST:PORT" or "[IPV6]:PORT". 0 or -1 with err. */
int ctl_addr_parse(const char *s, struct ctl_addr *a, char *err, size_t errlen);

/* 1 when every address the TCP host resolves to is a loopback address,
 * 0 when one is not, -1 (err filled) when it does not resolve. Unix: 1. */
int ctl_addr_is_loopback(const struct ctl_addr *a, char *err, size_t errlen);

/* ---- status names (ctl_status.c) ----------------------------------------- */

/* "INVALID_ARGUMENT" for GRPC_STATUS_INVALID_ARGUMENT, "CODE_42" if unknown. */
const char *ctl_status_name(grpc_status_code code);

/* ---- TLS credentials (ctl_tls.c) ----------------------------------------- */

struct grpc_server_credentials;
struct grpc_channel_credentials;

/* Server credentials from PEM files: TLS with cert+key; mutual TLS (client
 * certificates required and verified) when ca is also given. NULL with err
 * when a file cannot be read. */
struct grpc_server_credentials *ctl_tls_server_creds(const char *cert,
                                                     const char *key,
                                                     const char *ca, char *err,
                                                     size_t errlen);

/* Channel credentials: ca verifies the server (NULL: the system's roots);
 * cert+key are presented for mutual TLS (both NULL: none). */
struct grpc_channel_credentials *
ctl_tls_channel_creds(const char *ca, const char *cert, const char *key,
                      char *err, size_t errlen);

#endif /* GORT_CTL_UTIL_H */
