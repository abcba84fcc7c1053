/* gortctl.c — the command-line client of gortd's control plane.
 *
 *   gortctl [--addr A] [--timeout D] [--tls...] COMMAND [flags] [args]
 *   gortctl --addr A --addr B ... stats|tune [flags]
 *
 * Global flags come before the command, the command's own after it, both the
 * Go way (cli_flag.c). Each command is one function and one line in the
 * table at the bottom; it parses its flags, makes its call(s) and renders
 * the reply as a table (view.c) or, with --json, as the reply message itself
 * (json.c), so scripts see exactly the .proto's fields.
 *
 * Exit status: 0 success, 1 the call failed (the gRPC status name and
 * message are printed, or why the connection failed: "cannot reach gortd
 * at ...: is it running?" only when nothing listens), 2 a usage error,
 * which includes values no gortd would take (an address that cannot be
 * dialled, a TLS file without what it should hold, GOMAXPROCS out of
 * range, an unknown goroutine state): those are refused before dialling.
 * The channel is opened lazily by the first call, after a command had the
 * chance to set its signal mask (watch).
 *
 * Several -addr (a fleet of gortd behind a balancer): stats and tune ask
 * each in turn and print one row per target, a failed target's row saying
 * why (and the exit status 1 once all were asked); other commands take one.
 */
#include "cli/flag.h"
#include "cli/duration.h"
#include "cli/addr.h"
#include "cli/grpc.h"
#include "cli/version.h"
#include "gortctl.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gort/v1/control.pb-c.h"
#include "grpc/health/v1/health.pb-c.h"

#include "gort/gort.h"
#include "json.h"
#include "pem.h"
#include "view.h"

#define DEFAULT_TIMEOUT_NS INT64_C(5000000000)

#define STR_(x) #x
#define STR(x) STR_(x)

/* ---- shared helpers ----------------------------------------------------- */

int app_connect(struct app *a)
{
    char err[512];
    if (a->connected)
        return 0;
    if (rpc_open(&a->cli, &a->opts, err, sizeof err) < 0) {
        fprintf(stderr, "gortctl: %s\n", err);
        return -1;
    }
    a->connected = 1;
    return 0;
}

/* Why a connection failed, from gRPC's last error (its words, tried in
 * order): a headline naming the cause, before ADDR and after it. "Is it
 * running?" is asked only when nothing listens; a daemon that answers
 * with the wrong certificate, name or protocol is running. */
static const struct {
    const char *needle; /* in gRPC's message */
    const char *before, *after;
} conn_causes[] = {
    {"No such file or directory", "cannot reach gortd at ", ": is it running?"},
    {"Connection refused", "cannot reach gortd at ", ": is it running?"},
    {"certificate verify failed", "TLS handshake with ",
     " failed: the server's certificate is not trusted (see -tls-ca)"},
    {"is not in peer certificate", "TLS handshake with ",
     " failed: the name in the server's certificate does not match (see "
     "-tls-server-name)"},
    {"wrong version number", "TLS handshake with ",
     " failed: the server does not speak TLS (drop -tls and -tls-ca?)"},
    {"http1.x server", "",
     " is not a gRPC server: it answers HTTP/1.x (gortd's HTTP port rather "
     "than its -control address?)"},
};

/* A server that closes the connection as it is set up refuses what this
 * client offered: plaintext to a TLS port, or no (or a foreign) client
 * certificate to a mutual-TLS one. */
static const char *closed_hint(const struct rpc_opts *o)
{
    if (!o->tls && !o->tls_ca && !o->tls_cert)
        return "does it want TLS (-tls, -tls-ca)?";
    if (!o->tls_cert)
        return "does it want a client certificate (-tls-cert, -tls-key)?";
    return "does it refuse this client certificate?";
}

static void conn_headline(const struct rpc_opts *o, const char *msg)
{
    for (size_t i = 0; i < sizeof conn_causes / sizeof conn_causes[0]; i++)
        if (strstr(msg, conn_causes[i].needle)) {
            fprintf(stderr, "gortctl: %s%s%s\n", conn_causes[i].before, o->addr,
                    conn_causes[i].after);
            return;
        }
    if (strstr(msg, "Socket closed"))
        fprintf(stderr,
                "gortctl: %s closed the connection as it was set up: %s\n",
                o->addr, closed_hint(o));
    else
        fprintf(stderr, "gortctl: cannot reach gortd at %s\n", o->addr);
}

int app_rpc_error(const struct app *a, const char *rpc,
                  const struct rpc_status *st)
{
    if (st->code == GRPC_STATUS_UNAVAILABLE &&
        strstr(st->msg, "failed to connect")) {
        conn_headline(&a->opts, st->msg);
        fprintf(stderr, "gortctl: (%s: %s)\n", cli_status_name(st->code),
                st->msg);
    } else {
        fprintf(stderr, "gortctl: %s: %s: %s\n", rpc, cli_status_name(st->code),
                st->msg);
    }
    return EXIT_RPC;
}

static int app_call(struct app *a, const ProtobufCServiceDescriptor *sd,
                    const char *method, const ProtobufCMessage *req,
                    ProtobufCMessage **resp)
{
    struct rpc_status st;
    if (app_connect(a) < 0)
        return EXIT_RPC;
    if (rpc_unary(&a->cli, sd, method, req, resp, &st) < 0)
        return app_rpc_error(a, method, &st);
    return EXIT_OK;
}

int app_control(struct app *a, const char *method, const ProtobufCMessage *req,
                ProtobufCMessage **resp)
{
    return app_call(a, &gort__v1__control__descriptor, method, req, resp);
}

static void cmd_usage(FILE *f, const struct cmd *c,
                      const struct cli_flag *flags, size_t n)
{
    fprintf(f, "Usage: gortctl [global flags] %s %s\n\n%s.\n", c->name,
            c->synopsis, c->summary);
    if (n) {
        fprintf(f, "\nFlags:\n");
        cli_flags_print(f, flags, n);
    }
}

int cmd_usage_error(const struct cmd *c, const struct cli_flag *flags, size_t n,
                    const char *msg)
{
    fprintf(stderr, "gortctl: %s: %s\n", c->name, msg);
    cmd_usage(stderr, c, flags, n);
    return EXIT_USAGE;
}

/* A well-formed command line with a value no gortd would take: one line
 * saying why, without the usage, which would only bury it. */
static int cmd_value_error(const struct cmd *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int cmd_value_error(const struct cmd *c, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "gortctl: %s: ", c->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_USAGE;
}

int cmd_parse(const struct cmd *c, const struct cli_flag *flags, size_t n,
              int argc, char **argv, int *rc)
{
    char err[256];
    int i = cli_flags_parse(flags, n, argc, argv, 1, err, sizeof err);
    if (i == CLI_FLAGS_HELP) {
        cmd_usage(stdout, c, flags, n);
        *rc = EXIT_OK;
        return -1;
    }
    if (i == CLI_FLAGS_ERROR) {
        *rc = cmd_usage_error(c, flags, n, err);
        return -1;
    }
    return i;
}

/* Parses flags and insists on exactly `want` operands. */
static int cmd_args(const struct cmd *c, const struct cli_flag *flags, size_t n,
                    int argc, char **argv, int want, int *rc)
{
    int i = cmd_parse(c, flags, n, argc, argv, rc);
    if (i < 0)
        return -1;
    if (argc - i != want) {
        *rc = cmd_usage_error(c, flags, n,
                              argc - i > want ? "too many arguments"
                                              : "missing argument");
        return -1;
    }
    return i;
}

/* ---- stats, tune -------------------------------------------------------- */

/* ---- several targets --------------------------------------------------- */

typedef void (*target_row_fn)(const char *addr, const ProtobufCMessage *resp,
                              int json);

/* Calls method on every -addr in turn (a channel each) and prints a row
 * per target; one that fails gets its error on its row. EXIT_RPC when any
 * failed. */
static int for_targets(struct app *a, const char *method,
                       const ProtobufCMessage *req, target_row_fn row, int json)
{
    int worst = EXIT_OK;
    for (size_t i = 0; i < a->targets->n; i++) {
        struct app t = {.opts = a->opts};
        t.opts.addr = a->targets->v[i];
        char err[512];
        ProtobufCMessage *resp = NULL;
        struct rpc_status st = {0};
        int ok = rpc_open(&t.cli, &t.opts, err, sizeof err) == 0;
        if (ok && rpc_unary(&t.cli, &gort__v1__control__descriptor, method, req,
                            &resp, &st) == 0) {
            row(t.opts.addr, resp, json);
            protobuf_c_message_free_unpacked(resp, NULL);
        } else {
            printf("%-24s error: %s\n", t.opts.addr,
                   ok ? cli_status_name(st.code) : err);
            if (ok && st.msg[0])
                fprintf(stderr, "gortctl: %s: %s: %s: %s\n", t.opts.addr,
                        method, cli_status_name(st.code), st.msg);
            worst = EXIT_RPC;
        }
        if (ok)
            rpc_close(&t.cli);
    }
    return worst;
}

static void stats_row(const char *addr, const ProtobufCMessage *resp, int json)
{
    const Gort__V1__Stats *s = (const Gort__V1__Stats *)resp;
    if (json) {
        json_print(stdout, resp);
        return;
    }
    const Gort__V1__HttpStats *h = s->http;
    uint64_t req = h ? h->requests_1xx + h->requests_2xx + h->requests_3xx +
                           h->requests_4xx + h->requests_5xx
                     : 0;
    char up[32];
    cli_duration_format(s->uptime_ns - s->uptime_ns % 1000000000, up,
                        sizeof up);
    printf("%-24s %-8s %10s %5d %10" PRIu64 " %7d %12" PRIu64 " %9" PRIu64
           " %6" PRIu64 "\n",
           addr, s->version, up, s->gomaxprocs,
           s->goroutines ? s->goroutines->live : 0, s->ms ? s->ms->total : 0,
           req, h ? h->in_flight : 0, h ? h->conns_open : 0);
}

static void tune_row(const char *addr, const ProtobufCMessage *resp, int json)
{
    const Gort__V1__SetMaxProcsReply *r =
        (const Gort__V1__SetMaxProcsReply *)resp;
    if (json) {
        json_print(stdout, resp);
        return;
    }
    char took[32];
    cli_duration_format(r->took_ns, took, sizeof took);
    printf("%-24s GOMAXPROCS %d -> %d (took %s)\n", addr, r->previous,
           r->current, took);
}

static int cmd_stats(struct app *a, const struct cmd *c, int argc, char **argv)
{
    int json = 0, rc;
    const struct cli_flag flags[] = {
        {.name = "json",
         .kind = CLI_FLAG_BOOL,
         .value = &json,
         .usage = "print the Stats message as JSON"},
    };
    if (cmd_args(c, flags, 1, argc, argv, 0, &rc) < 0)
        return rc;
    Gort__V1__GetStatsRequest req = GORT__V1__GET_STATS_REQUEST__INIT;
    ProtobufCMessage *resp;
    if (a->targets->n > 1) {
        if (!json)
            printf("%-24s %-8s %10s %5s %10s %7s %12s %9s %6s\n", "ADDR",
                   "VERSION", "UP", "PROCS", "GOROUTINES", "THREADS",
                   "REQUESTS", "IN-FLIGHT", "CONNS");
        return for_targets(a, "GetStats", &req.base, stats_row, json);
    }
    if ((rc = app_control(a, "GetStats", &req.base, &resp)) != EXIT_OK)
        return rc;
    if (json)
        json_print(stdout, resp);
    else
        view_stats(stdout, (const Gort__V1__Stats *)resp);
    protobuf_c_message_free_unpacked(resp, NULL);
    return EXIT_OK;
}

/* N as typed, checked here against gortd's bound (SetMaxProcs refuses
 * the rest): a clear line before dialling, for every gortd of a fleet at
 * once, and never a number the user did not type (4294967298 went to
 * gortd as 2147483647). EXIT_OK with *n, or EXIT_USAGE with the line
 * printed. */
static int maxprocs_parse(const struct cmd *c, const char *s, int32_t *n)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!(isdigit((unsigned char)s[0]) || s[0] == '-' || s[0] == '+') ||
        end == s || *end)
        return cmd_value_error(c,
                               "GOMAXPROCS must be a whole number from 1 to "
                               "%d, not \"%s\"",
                               GORT_MAXPROCS_CAP, s);
    if (errno == ERANGE || v < 1 || v > GORT_MAXPROCS_CAP)
        return cmd_value_error(c,
                               "GOMAXPROCS %s is out of range: allowed 1..%d",
                               s, GORT_MAXPROCS_CAP);
    *n = (int32_t)v;
    return EXIT_OK;
}

/* "tune -1" is N = -1, not the unknown flag -1 the parser would call it
 * (no flag's name starts with a digit): the first such argument that is
 * not -maxprocs's value, or NULL. After "--" the parser takes it as N. */
static const char *tune_negative_operand(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        const char *prev = argv[i - 1];
        int is_value =
            strcmp(prev, "-maxprocs") == 0 || strcmp(prev, "--maxprocs") == 0;
        if (argv[i][0] == '-' && isdigit((unsigned char)argv[i][1]) &&
            !is_value)
            return argv[i];
    }
    return NULL;
}

static int cmd_tune(struct app *a, const struct cmd *c, int argc, char **argv)
{
    const char *arg = NULL; /* N as typed: -maxprocs's value or the operand */
    int32_t n;
    int json = 0, rc;
    const struct cli_flag flags[] = {
        {.name = "json",
         .kind = CLI_FLAG_BOOL,
         .value = &json,
         .usage = "print the reply as JSON"},
        {.name = "maxprocs",
         .kind = CLI_FLAG_STRING, /* parsed here: maxprocs_parse */
         .value = &arg,
         .usage =
             "set GOMAXPROCS to `N` (1.." STR(GORT_MAXPROCS_CAP) "), live"},
    };
    const char *neg = tune_negative_operand(argc, argv);
    if (neg) /* out of range, said so */
        return maxprocs_parse(c, neg, &n);
    int i = cmd_parse(c, flags, 2, argc, argv, &rc);
    if (i < 0)
        return rc;
    /* "gortctl tune 4" is what people type: a lone operand is N. */
    if (argc - i > 1 || (argc - i == 1 && arg))
        return cmd_usage_error(c, flags, 2, "too many arguments");
    if (argc - i == 1)
        arg = argv[i];
    if (!arg)
        return cmd_usage_error(c, flags, 2, "-maxprocs N (or N) is required");
    if ((rc = maxprocs_parse(c, arg, &n)) != EXIT_OK)
        return rc;
    Gort__V1__SetMaxProcsRequest req = GORT__V1__SET_MAX_PROCS_REQUEST__INIT;
    req.maxprocs = n;
    ProtobufCMessage *resp;
    if (a->targets->n > 1)
        return for_targets(a, "SetMaxProcs", &req.base, tune_row, json);
    if ((rc = app_control(a, "SetMaxProcs", &req.base, &resp)) != EXIT_OK)
        return rc;
    const Gort__V1__SetMaxProcsReply *r =
        (const Gort__V1__SetMaxProcsReply *)resp;
    char took[32];
    cli_duration_format(r->took_ns, took, sizeof took);
    if (json)
        json_print(stdout, resp);
    else
        printf("GOMAXPROCS %d -> %d (took %s)\n", r->previous, r->current,
               took);
    protobuf_c_message_free_unpacked(resp, NULL);
    return EXIT_OK;
}

/* ---- dump --------------------------------------------------------------- */

/* The words a goroutine's state or wait reason can be (DumpGoroutines
 * compares -state with both, without case): the scheduler's states
 * (runtime/stats.c, state_word) and Go's wait reasons
 * (runtime/proc.c, gort__waitreason_str). A word gortd never reports
 * matched nothing and read as "no goroutine matched", so it is refused;
 * control_integration checks this list against proc.c's. */
static const char *const dump_states[] = {
    "runnable",
    "running",
    "syscall",
    "waiting",
    "chan receive",
    "chan send",
    "chan receive (nil chan)",
    "chan send (nil chan)",
    "select",
    "select (no cases)",
    "sleep",
    "sync.Mutex.Lock",
    "sync.WaitGroup.Wait",
    "IO wait",
    "sync.RWMutex.RLock",
    "sync.RWMutex.Lock",
    "sync.Cond.Wait",
    "blocking call slot",
};
#define NSTATES (sizeof dump_states / sizeof dump_states[0])

static int state_known(const char *s)
{
    for (size_t i = 0; i < NSTATES; i++)
        if (strcasecmp(s, dump_states[i]) == 0)
            return 1;
    return 0;
}

static int state_unknown(const struct cmd *c, const char *state)
{
    char list[1024];
    size_t len = 0;
    for (size_t i = 0; i < NSTATES && len < sizeof list; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s\"%s\"",
                                i ? ", " : "", dump_states[i]);
    return cmd_value_error(c, "unknown -state \"%s\": want one of %s", state,
                           list);
}

static void dump_notes(const Gort__V1__DumpGoroutinesReply *r, long limit)
{
    if (r->matched == 0)
        fprintf(stderr, "gortctl: no goroutine matched (%llu live)\n",
                (unsigned long long)r->live);
    if (r->truncated)
        fprintf(stderr, "gortctl: stopped at -limit %ld\n", limit);
}

static int cmd_dump(struct app *a, const struct cmd *c, int argc, char **argv)
{
    const char *state = "", *label = "";
    int64_t min_wait = 0;
    long limit = 0;
    int json = 0, rc;
    const struct cli_flag flags[] = {
        {.name = "json",
         .kind = CLI_FLAG_BOOL,
         .value = &json,
         .usage = "print the goroutines as JSON instead of text"},
        {.name = "label",
         .kind = CLI_FLAG_STRING,
         .value = &label,
         .usage = "only goroutines whose label contains `text`"},
        {.name = "limit",
         .kind = CLI_FLAG_INT,
         .value = &limit,
         .usage = "at most `N` goroutines (0 = all)"},
        {.name = "min-wait",
         .kind = CLI_FLAG_DURATION,
         .value = &min_wait,
         .usage = "only goroutines waiting at least this long"},
        {.name = "state",
         .kind = CLI_FLAG_STRING,
         .value = &state,
         .usage = "only goroutines in this `state` or wait reason (runnable, "
                  "running, "
                  "\"IO wait\", \"chan receive\", ...)"},
    };
    size_t nf = sizeof flags / sizeof flags[0];
    if (cmd_args(c, flags, nf, argc, argv, 0, &rc) < 0)
        return rc;
    if (limit < 0 || limit > UINT32_MAX)
        return cmd_usage_error(c, flags, nf, "-limit must be 0..4294967295");
    if (state[0] && !state_known(state))
        return state_unknown(c, state);
    Gort__V1__DumpGoroutinesRequest req =
        GORT__V1__DUMP_GOROUTINES_REQUEST__INIT;
    req.state = (char *)state;
    req.label = (char *)label;
    req.min_wait_ns = min_wait;
    req.limit = (uint32_t)limit;
    req.view = json ? GORT__V1__DUMP_GOROUTINES_REQUEST__VIEW__STRUCTURED
                    : GORT__V1__DUMP_GOROUTINES_REQUEST__VIEW__TEXT;
    ProtobufCMessage *resp;
    if ((rc = app_control(a, "DumpGoroutines", &req.base, &resp)) != EXIT_OK)
        return rc;
    const Gort__V1__DumpGoroutinesReply *r =
        (const Gort__V1__DumpGoroutinesReply *)resp;
    if (json)
        json_print(stdout, resp);
    else
        fputs(r->text, stdout);
    dump_notes(r, limit);
    protobuf_c_message_free_unpacked(resp, NULL);
    return EXIT_OK;
}

/* ---- routes and plugins ------------------------------------------------- */

static void routes_print(const Gort__V1__ListRoutesReply *r)
{
    printf("%-40s %-20s %12s\n", "PATTERN", "PLUGIN", "REQUESTS");
    for (size_t i = 0; i < r->n_routes; i++)
        printf("%-40s %-20s %12llu\n", r->routes[i]->pattern,
               r->routes[i]->plugin[0] ? r->routes[i]->plugin : "-",
               (unsigned long long)r->routes[i]->requests);
}

static int cmd_routes(struct app *a, const struct cmd *c, int argc, char **argv)
{
    int json = 0, rc;
    const struct cli_flag flags[] = {
        {.name = "json",
         .kind = CLI_FLAG_BOOL,
         .value = &json,
         .usage = "print the reply as JSON"},
    };
    if (cmd_args(c, flags, 1, argc, argv, 0, &rc) < 0)
        return rc;
    Gort__V1__ListRoutesRequest req = GORT__V1__LIST_ROUTES_REQUEST__INIT;
    ProtobufCMessage *resp;
    if ((rc = app_control(a, "ListRoutes", &req.base, &resp)) != EXIT_OK)
        return rc;
    if (json)
        json_print(stdout, resp);
    else
        routes_print((const Gort__V1__ListRoutesReply *)resp);
    protobuf_c_message_free_unpacked(resp, NULL);
    return EXIT_OK;
}

static void plugin_line(const Gort__V1__Plugin *p)
{
    if (!p)
        return;
    printf("%-20s %-10s %6zu routes  %s%s\n", p->name, p->version, p->n_routes,
           p->path,
           p->state && strcmp(p->state, "quarantined") == 0 ? "  quarantined"
                                                            : "");
    if (p->fault_report && *p->fault_report)
        printf("%s\n", p->fault_report);
}

static void plugin_reply_print(const char *verb, const ProtobufCMessage *resp)
{
    char took[32];
    const ProtobufCMessageDescriptor *d = resp->descriptor;

    if (d == &gort__v1__list_plugins_reply__descriptor) {
        const Gort__V1__ListPluginsReply *r =
            (const Gort__V1__ListPluginsReply *)resp;
        printf("%-20s %-10s %13s  %s\n", "PLUGIN", "VERSION", "", "PATH");
        for (size_t i = 0; i < r->n_plugins; i++)
            plugin_line(r->plugins[i]);
        return;
    }
    const Gort__V1__Plugin *p = NULL, *prev = NULL;
    int64_t ns;
    if (d == &gort__v1__load_plugin_reply__descriptor) {
        p = ((const Gort__V1__LoadPluginReply *)resp)->plugin;
        ns = ((const Gort__V1__LoadPluginReply *)resp)->took_ns;
    } else if (d == &gort__v1__unload_plugin_reply__descriptor) {
        p = ((const Gort__V1__UnloadPluginReply *)resp)->plugin;
        ns = ((const Gort__V1__UnloadPluginReply *)resp)->took_ns;
    } else {
        p = ((const Gort__V1__ReplacePluginReply *)resp)->current;
        prev = ((const Gort__V1__ReplacePluginReply *)resp)->previous;
        ns = ((const Gort__V1__ReplacePluginReply *)resp)->took_ns;
    }
    cli_duration_format(ns, took, sizeof took);
    if (!p) {
        printf("%s in %s\n", verb, took);
        return;
    }
    printf("%s %s %s%s%s from %s (%zu route%s) in %s\n", verb, p->name,
           prev ? prev->version : "", prev ? " -> " : "", p->version, p->path,
           p->n_routes, p->n_routes == 1 ? "" : "s", took);
}

static int plugins_call(struct app *a, const char *method, const char *verb,
                        const ProtobufCMessage *req, int json)
{
    ProtobufCMessage *resp;
    int rc = app_control(a, method, req, &resp);
    if (rc != EXIT_OK)
        return rc;
    if (json)
        json_print(stdout, resp);
    else
        plugin_reply_print(verb, resp);
    protobuf_c_message_free_unpacked(resp, NULL);
    return EXIT_OK;
}

static int cmd_plugins(struct app *a, const struct cmd *c, int argc,
                       char **argv)
{
    int json = 0, rc;
    int64_t drain = 0;
    const struct cli_flag flags[] = {
        {.name = "drain",
         .kind = CLI_FLAG_DURATION,
         .value = &drain,
         .usage =
             "unload, replace: how long to wait for the old code's requests "
             "and "
             "goroutines (0 = gortd's default, 10s; the call's --timeout grows "
             "to cover it)"},
        {.name = "json",
         .kind = CLI_FLAG_BOOL,
         .value = &json,
         .usage = "print the reply as JSON"},
    };
    int i = cmd_parse(c, flags, 2, argc, argv, &rc);
    if (i < 0)
        return rc;
    const char *sub = i < argc ? argv[i] : "";
    char *name = i + 1 < argc ? argv[i + 1] : NULL;
    int want = strcmp(sub, "list") == 0 ? 1 : 2;
    /* Flags may follow the operands too: `plugins unload kv --drain 5s`. */
    if (argc - i > want && argv[i + want][0] == '-') {
        char err[256];
        int j =
            cli_flags_parse(flags, 2, argc, argv, i + want, err, sizeof err);
        if (j == CLI_FLAGS_HELP || j == CLI_FLAGS_ERROR) {
            if (j == CLI_FLAGS_HELP)
                cmd_usage(stdout, c, flags, 2);
            return j == CLI_FLAGS_HELP ? EXIT_OK
                                       : cmd_usage_error(c, flags, 2, err);
        }
        if (j < argc)
            return cmd_usage_error(c, flags, 2, "too many arguments");
        argc = i + want;
    }
    /* Unload and replace wait up to the drain bound (gortd's default is
     * 10 s): the call's deadline must not cut it shorter. */
    int64_t need =
        (drain > 0 ? drain : INT64_C(10000000000)) + INT64_C(2000000000);
    if (want == 2 && strcmp(sub, "load") && a->opts.timeout_ns < need)
        a->opts.timeout_ns = need;
    if (argc - i != want || (want == 2 && strcmp(sub, "load") &&
                             strcmp(sub, "unload") && strcmp(sub, "replace")))
        return cmd_usage_error(c, flags, 2,
                               "want list, load NAME, unload NAME or "
                               "replace NAME");
    if (want == 1) {
        Gort__V1__ListPluginsRequest req = GORT__V1__LIST_PLUGINS_REQUEST__INIT;
        return plugins_call(a, "ListPlugins", "", &req.base, json);
    }
    if (strcmp(sub, "load") == 0) {
        Gort__V1__LoadPluginRequest req = GORT__V1__LOAD_PLUGIN_REQUEST__INIT;
        req.name = name;
        return plugins_call(a, "LoadPlugin", "loaded", &req.base, json);
    }
    if (strcmp(sub, "unload") == 0) {
        Gort__V1__UnloadPluginRequest req =
            GORT__V1__UNLOAD_PLUGIN_REQUEST__INIT;
        req.name = name;
        req.drain_timeout_ms = drain > 0 ? (uint32_t)(drain / 1000000) : 0;
        return plugins_call(a, "UnloadPlugin", "unloaded", &req.base, json);
    }
    Gort__V1__ReplacePluginRequest req = GORT__V1__REPLACE_PLUGIN_REQUEST__INIT;
    req.name = name;
    req.drain_timeout_ms = drain > 0 ? (uint32_t)(drain / 1000000) : 0;
    return plugins_call(a, "ReplacePlugin", "replaced", &req.base, json);
}

/* ---- health ------------------------------------------------------------- */

static int cmd_health(struct app *a, const struct cmd *c, int argc, char **argv)
{
    const char *service = "";
    int rc;
    const struct cli_flag flags[] = {
        {.name = "service",
         .kind = CLI_FLAG_STRING,
         .value = &service,
         .usage = "ask about this `service` (\"\" = the whole server)"},
    };
    if (cmd_args(c, flags, 1, argc, argv, 0, &rc) < 0)
        return rc;
    Grpc__Health__V1__HealthCheckRequest req =
        GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    req.service = (char *)service;
    ProtobufCMessage *resp;
    rc = app_call(a, &grpc__health__v1__health__descriptor, "Check", &req.base,
                  &resp);
    if (rc != EXIT_OK)
        return rc;
    int st = ((const Grpc__Health__V1__HealthCheckResponse *)resp)->status;
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(
        &grpc__health__v1__health_check_response__serving_status__descriptor,
        st);
    printf("%s\n", ev ? ev->name : "UNKNOWN");
    protobuf_c_message_free_unpacked(resp, NULL);
    return st == GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
               ? EXIT_OK
               : EXIT_RPC;
}

/* ---- the command table and main ----------------------------------------- */

static int cmd_help(struct app *a, const struct cmd *c, int argc, char **argv);

static const struct cmd commands[] = {
    {"stats", "[-json]",
     "One snapshot of the scheduler: Ps and their run queues, goroutines, "
     "threads",
     cmd_stats, 0},
    {"watch", "[-interval D] [-count N]",
     "Live view of the scheduler with a bar per P's run queue; Ctrl-C quits",
     cmd_watch, 0},
    {"tune", "N | -maxprocs N", "Change GOMAXPROCS while gortd runs", cmd_tune,
     0},
    {"dump", "[-state S] [-label L] [-min-wait D] [-limit N] [-json]",
     "Print goroutines in Go's traceback format, optionally filtered", cmd_dump,
     0},
    {"routes", "[-json]", "List HTTP routes and the plugins that serve them",
     cmd_routes, 0},
    {"plugins", "list | load NAME | unload NAME | replace NAME",
     "List, load, unload or replace handler plugins", cmd_plugins, 0},
    {"health", "[-service S]",
     "Ask grpc.health.v1.Health; exit 0 only when SERVING", cmd_health, 0},
    {"help", "[COMMAND]", "Show help for gortctl or one command", cmd_help, 0},
    {"bench-stats", "[-n N] [-json]",
     "Measure the GetStats round trip (p50/p99)", cmd_bench_stats, 1},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const struct cmd *cmd_find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void usage(FILE *f, const struct cli_flag *flags, size_t n)
{
    fprintf(
        f,
        "Usage: gortctl [flags] COMMAND [command flags]\n\n"
        "Talks to a running gortd over its gRPC control plane.\n\nCommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!commands[i].hidden)
            fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nFlags:\n");
    cli_flags_print(f, flags, n);
    fprintf(f,
            "\nExit status: 0 success, 1 the call failed (its gRPC status is "
            "printed), 2 usage error.\nRun 'gortctl COMMAND -help' for a "
            "command's flags.\nGRPC_VERBOSITY=debug (or GRPC_TRACE) in the "
            "environment shows gRPC's own log.\n");
}

static int cmd_help(struct app *a, const struct cmd *c, int argc, char **argv)
{
    (void)a, (void)c;
    if (argc < 2)
        return EXIT_USAGE; /* not reached: main prints the global usage */
    const struct cmd *t = cmd_find(argv[1]);
    if (!t) {
        fprintf(stderr, "gortctl: help: unknown command %s\n", argv[1]);
        return EXIT_USAGE;
    }
    char *sub[] = {(char *)t->name, "-help", NULL};
    return t->run(a, t, 2, sub);
}

/* ---- global flags -------------------------------------------------------- */

/* One -addr gortctl can dial, or the line that says why not. */
static int addr_check(const char *s)
{
    struct cli_addr a;
    char err[256];
    if (cli_addr_parse(s, &a, err, sizeof err) < 0) {
        if (s[0] == '/') /* what people type for a socket */
            fprintf(stderr,
                    "gortctl: bad -addr %s: a Unix socket is written unix:%s\n",
                    s, s);
        else
            fprintf(stderr, "gortctl: %s\n", err);
        return -1;
    }
    if (a.kind == CLI_ADDR_TCP && strtol(a.port, NULL, 10) == 0) {
        fprintf(stderr,
                "gortctl: bad -addr %s: port 0 cannot be dialled (gortd logs "
                "the port the kernel chose)\n",
                s);
        return -1;
    }
    return 0;
}

/* The TLS files, read now: a file gRPC cannot use would otherwise fail
 * the connection with "empty address list" (pem.c). */
static int tls_check(const struct rpc_opts *o)
{
    char err[512];
    if (!o->tls_cert != !o->tls_key) {
        fprintf(stderr, "gortctl: -tls-cert and -tls-key go together\n");
        return -1;
    }
    if ((o->tls_ca && pem_check_ca(o->tls_ca, err, sizeof err) < 0) ||
        (o->tls_cert &&
         pem_check_pair(o->tls_cert, o->tls_key, err, sizeof err) < 0)) {
        fprintf(stderr, "gortctl: %s\n", err);
        return -1;
    }
    return 0;
}

/* The global flags' values that no gortd would take, refused before any
 * connection: 0, or -1 after the line that says why (exit 2). */
static int globals_check(const struct app *a, const struct cli_strings *addrs)
{
    if (a->opts.timeout_ns < 0) {
        fprintf(stderr, "gortctl: -timeout must be >= 0 (0: no deadline)\n");
        return -1;
    }
    for (size_t i = 0; i < addrs->n; i++)
        if (addr_check(addrs->v[i]) < 0)
            return -1;
    return tls_check(&a->opts);
}

int main(int argc, char **argv)
{
    char def[160], err[256];
    struct app a = {.opts = {.timeout_ns = DEFAULT_TIMEOUT_NS}};
    struct cli_strings addrs = {.v = {cli_addr_default(def, sizeof def)},
                                .n = 1};
    a.targets = &addrs;
    int version = 0;
    const struct cli_flag flags[] = {
        {.name = "version",
         .kind = CLI_FLAG_BOOL,
         .value = &version,
         .usage = "print gortctl's version and the libraries it uses, and "
                  "exit"},
        {.name = "addr",
         .kind = CLI_FLAG_STRINGS,
         .value = &addrs,
         .usage = "gortd's control `address`: unix:PATH or HOST:PORT; "
                  "repeat it and stats and tune print a row per gortd"},
        {.name = "timeout",
         .kind = CLI_FLAG_DURATION,
         .value = &a.opts.timeout_ns,
         .usage = "deadline of each call (0: none)"},
        {.name = "tls",
         .kind = CLI_FLAG_BOOL,
         .value = &a.opts.tls,
         .usage = "dial with TLS (verified against the "
                  "system's roots unless -tls-ca)"},
        {.name = "tls-ca",
         .kind = CLI_FLAG_STRING,
         .value = &a.opts.tls_ca,
         .usage = "PEM `file` of CAs that sign gortd's "
                  "certificate (implies -tls)"},
        {.name = "tls-cert",
         .kind = CLI_FLAG_STRING,
         .value = &a.opts.tls_cert,
         .usage = "PEM client certificate `file` "
                  "for mutual TLS (implies -tls)"},
        {.name = "tls-key",
         .kind = CLI_FLAG_STRING,
         .value = &a.opts.tls_key,
         .usage = "PEM private key `file` for -tls-cert"},
        {.name = "tls-server-name",
         .kind = CLI_FLAG_STRING,
         .value = &a.opts.tls_server_name,
         .usage =
             "`name` to expect in gortd's certificate (default: the address's "
             "host)"},
    };
    size_t nflags = sizeof flags / sizeof flags[0];

    int i = cli_flags_parse(flags, nflags, argc, argv, 1, err, sizeof err);
    if (i == CLI_FLAGS_HELP ||
        (i >= 0 && i < argc && strcmp(argv[i], "help") == 0 && i + 1 == argc)) {
        usage(stdout, flags, nflags);
        return EXIT_OK;
    }
    if (i >= 0 && version) {
        cli_version_print(stdout, "gortctl");
        return EXIT_OK;
    }
    if (i == CLI_FLAGS_ERROR || i >= argc) {
        fprintf(stderr, "gortctl: %s\n", i < 0 ? err : "missing command");
        usage(stderr, flags, nflags);
        return EXIT_USAGE;
    }
    const struct cmd *c = cmd_find(argv[i]);
    if (!c) {
        fprintf(stderr, "gortctl: unknown command %s (see gortctl -help)\n",
                argv[i]);
        return EXIT_USAGE;
    }
    a.opts.addr = addrs.v[0];
    if (addrs.n > 1 && strcmp(c->name, "stats") != 0 &&
        strcmp(c->name, "tune") != 0) {
        fprintf(stderr,
                "gortctl: %s takes one -addr (several: stats and tune)\n",
                c->name);
        return EXIT_USAGE;
    }
    if (globals_check(&a, &addrs) < 0)
        return EXIT_USAGE;
    int rc = c->run(&a, c, argc - i, argv + i);
    if (a.connected)
        rpc_close(&a.cli);
    return rc;
}
