/* gortctl.h — what gortctl's command files share: the connection, error
 * reporting with gRPC status names, and per-command flag parsing. */
#ifndef GORT_GORTCTL_H
#define GORT_GORTCTL_H

#include <stdio.h>

#include "cli/flag.h"
#include "rpc.h"

/* Exit codes. */
#define EXIT_OK 0
#define EXIT_RPC 1   /* the call failed; its gRPC status was printed */
#define EXIT_USAGE 2 /* bad command line */

struct app {
    struct rpc_opts opts; /* opts.addr: the first -addr */
    struct rpc_client cli;
    int connected;
    const struct cli_strings *targets; /* every -addr (stats, tune) */
};

struct cmd {
    const char *name;
    const char *synopsis; /* after "gortctl [flags] NAME " */
    const char *summary;  /* one line for the command list */
    int (*run)(struct app *a, const struct cmd *c, int argc, char **argv);
    int hidden; /* not listed in help (bench-stats) */
};

/* Opens the channel on first use. 0, or prints why and returns -1. */
int app_connect(struct app *a);

/* Prints a failed call ("gortctl: SetMaxProcs: INVALID_ARGUMENT: ...") or
 * a failed connection, named by its cause ("cannot reach gortd at ADDR: is
 * it running?" when nothing listens, "TLS handshake with ADDR failed:
 * ...", ...), and returns EXIT_RPC. */
int app_rpc_error(const struct app *a, const char *rpc,
                  const struct rpc_status *st);

/* A gort.v1.Control unary call; EXIT_OK with *resp, or the error printed and
 * EXIT_RPC. */
int app_control(struct app *a, const char *method, const ProtobufCMessage *req,
                ProtobufCMessage **resp);

/* Parses a command's flags (argv[0] is the command name). Returns the index
 * of its first operand, or -1 with *rc = EXIT_OK (after --help) or
 * EXIT_USAGE (message and usage printed). */
int cmd_parse(const struct cmd *c, const struct cli_flag *flags, size_t n,
              int argc, char **argv, int *rc);

/* Prints "gortctl: NAME: msg" and the command's usage; returns EXIT_USAGE. */
int cmd_usage_error(const struct cmd *c, const struct cli_flag *flags, size_t n,
                    const char *msg);

/* Commands in their own files. */
int cmd_watch(struct app *a, const struct cmd *c, int argc, char **argv);
int cmd_bench_stats(struct app *a, const struct cmd *c, int argc, char **argv);

#endif /* GORT_GORTCTL_H */
