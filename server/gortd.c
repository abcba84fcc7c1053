/* gortd.c — the gort daemon: flags, signals, the runtime, the control plane.
 *
 * Threads, in the order they appear:
 *   main          parses flags, blocks SIGINT/SIGTERM (before grpc_init and
 *                 gort_main, so every thread they create inherits the mask),
 *                 starts the control plane, then runs gort_main until the
 *                 main goroutine returns, then stops the control plane;
 *   control       the gRPC completion-queue thread (control.c), never a P;
 *   signals       sigwait()s; the first SIGINT/SIGTERM asks for a shutdown,
 *                 a second one exits at once;
 *   runtime Ms    libgort's threads running goroutines.
 *
 * The main goroutine only waits for the shutdown request: it parks in
 * gort_sleep between looks at an atomic flag (20 wake-ups a second on one P
 * cost nothing measurable and need nothing from the runtime but a timer).
 * The HTTP front end will give it real work.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gort/gort.h"

#include "control.h"
#include "ctl_util.h"

#define MAIN_POLL_NS (50 * 1000000) /* how often the main goroutine looks */

static atomic_int stop_requested; /* set by the signal thread (seq_cst) */

static void main_goroutine(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_requested))
        gort_sleep(MAIN_POLL_NS);
}

static void *signal_thread(void *arg)
{
    const sigset_t *set = arg;
    int sig, seen = 0;

    for (;;) {
        if (sigwait(set, &sig) != 0)
            continue;
        if (seen++) {
            fprintf(stderr, "gortd: second %s, exiting now\n", strsignal(sig));
            _exit(1);
        }
        fprintf(stderr, "gortd: %s, shutting down\n", strsignal(sig));
        atomic_store(&stop_requested, 1);
    }
    return NULL;
}

static void usage(FILE *f, const struct ctl_flag *flags, size_t n)
{
    fprintf(f, "Usage: gortd [flags]\n\n"
               "Runs the gort runtime and serves its gRPC control plane "
               "(gort.v1.Control and\ngrpc.health.v1.Health; see gortctl). "
               "SIGINT or SIGTERM stops it cleanly.\n\nFlags:\n");
    ctl_flags_print(f, flags, n);
}

static int signals_start(sigset_t *set)
{
    pthread_t t;
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    /* A shell starts background jobs with SIGINT ignored, and an ignored
     * signal is discarded before sigwait could take it. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
    if (pthread_sigmask(SIG_BLOCK, set, NULL) != 0 ||
        pthread_create(&t, NULL, signal_thread, set) != 0)
        return -1;
    pthread_detach(t);
    return 0;
}

int main(int argc, char **argv)
{
    static sigset_t set; /* read by the signal thread for the process's life */
    char def[160], err[512];
    struct ctl_config cfg = {.addr = ctl_addr_default(def, sizeof def)};
    const struct ctl_flag flags[] = {
        {"control", CTL_FLAG_STRING, &cfg.addr,
         "control-plane `address`: unix:PATH, or HOST:PORT for TCP", NULL},
        {"control-insecure", CTL_FLAG_BOOL, &cfg.insecure,
         "allow a non-loopback TCP control address without TLS (anyone who "
         "reaches it can load code)", NULL},
        {"control-tls-ca", CTL_FLAG_STRING, &cfg.tls_ca,
         "PEM CA bundle `file`: require client certificates it signed (mutual TLS)", NULL},
        {"control-tls-cert", CTL_FLAG_STRING, &cfg.tls_cert,
         "PEM certificate `file`: serve the control plane over TLS", NULL},
        {"control-tls-key", CTL_FLAG_STRING, &cfg.tls_key,
         "PEM private key `file` for -control-tls-cert", NULL},
    };
    size_t nflags = sizeof flags / sizeof flags[0];

    int i = ctl_flags_parse(flags, nflags, argc, argv, 1, err, sizeof err);
    if (i == CTL_FLAGS_HELP) {
        usage(stdout, flags, nflags);
        return 0;
    }
    if (i == CTL_FLAGS_ERROR || i < argc) {
        if (i < 0)
            fprintf(stderr, "gortd: %s\n", err);
        else
            fprintf(stderr, "gortd: unexpected argument %s\n", argv[i]);
        usage(stderr, flags, nflags);
        return 2;
    }
    if (signals_start(&set) < 0) {
        fprintf(stderr, "gortd: cannot set up signal handling\n");
        return 1;
    }
    struct ctl_server *srv = ctl_start(&cfg, err, sizeof err);
    if (!srv) {
        fprintf(stderr, "gortd: control plane: %s\n", err);
        return 1;
    }
    fprintf(stderr, "gortd: control plane listening on %s\n", ctl_server_addr(srv));
    int rc = gort_main(main_goroutine, NULL);
    if (rc < 0)
        fprintf(stderr, "gortd: runtime: %s\n", gort_strerror(rc));
    ctl_stop(srv);
    return rc < 0 ? 1 : 0;
}
