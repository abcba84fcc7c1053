/* watch.c — `gortctl watch`: a live view fed by the WatchStats stream.
 *
 * gortd pushes a Stats message every interval; we redraw on each. Ctrl-C
 * must end the view cleanly (exit 0, cursor restored), but the main thread
 * is blocked inside gRPC waiting for the next message, and gRPC's own
 * threads must never take the signal. So SIGINT/SIGTERM are blocked before
 * gRPC starts any thread, and one thread sigwait()s for them and cancels the
 * call, which wakes the main thread with the end of the stream. The stream
 * pointer is shared under a mutex so the cancel cannot race the call's
 * release.
 *
 * gortd ends every stream with OK when it shuts down, as it does after the
 * last of -count frames: a stream that ends early, not by Ctrl-C, is
 * reported (exit 1) rather than taken for the end of the view.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/flag.h"
#include "cli/duration.h"
#include "gort/v1/control.pb-c.h"

#include "gortctl.h"
#include "view.h"

static pthread_mutex_t watch_mu = PTHREAD_MUTEX_INITIALIZER;
static struct rpc_stream *watch_live; /* under watch_mu: the call to cancel */
static int watch_interrupted;         /* under watch_mu */

static void *interrupt_thread(void *arg)
{
    const sigset_t *set = arg;
    int sig;
    while (sigwait(set, &sig) != 0)
        ;
    pthread_mutex_lock(&watch_mu);
    watch_interrupted = 1;
    if (watch_live)
        rpc_stream_cancel(watch_live);
    pthread_mutex_unlock(&watch_mu);
    return NULL;
}

static int interrupts_catch(void)
{
    static sigset_t set; /* read by the thread for the process's life */
    pthread_t t;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    /* An ignored signal (background jobs ignore SIGINT) never reaches
     * sigwait; blocked, the default action never runs either. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0 ||
        pthread_create(&t, NULL, interrupt_thread, &set) != 0)
        return -1;
    pthread_detach(t);
    return 0;
}

static void stream_publish(struct rpc_stream *s)
{
    pthread_mutex_lock(&watch_mu);
    watch_live = s;
    if (s && watch_interrupted)
        rpc_stream_cancel(s);
    pthread_mutex_unlock(&watch_mu);
}

static int interrupted(void)
{
    pthread_mutex_lock(&watch_mu);
    int v = watch_interrupted;
    pthread_mutex_unlock(&watch_mu);
    return v;
}

/* Draws frames until the stream ends; the stream's status is left to read.
 * Returns how many were drawn. */
static long frames(struct rpc_stream *s, const char *every, int tty)
{
    ProtobufCMessage *msg, *prev = NULL;
    long n = 0;
    if (tty)
        fputs("\033[?25l", stdout); /* hide the cursor */
    while (rpc_stream_next(s, &msg) == 1) {
        if (tty)
            fputs("\033[H\033[2J", stdout);
        view_watch(stdout, (const Gort__V1__Stats *)msg,
                   (const Gort__V1__Stats *)prev, every);
        if (!tty)
            fputc('\n', stdout);
        fflush(stdout);
        if (prev) /* the rates are taken between successive frames */
            protobuf_c_message_free_unpacked(prev, NULL);
        prev = msg;
        n++;
    }
    if (prev)
        protobuf_c_message_free_unpacked(prev, NULL);
    if (tty)
        fputs("\033[?25h", stdout);
    fflush(stdout);
    return n;
}

int cmd_watch(struct app *a, const struct cmd *c, int argc, char **argv)
{
    int64_t interval = INT64_C(1000000000);
    long count = 0;
    int rc;
    char every[32];
    const struct cli_flag flags[] = {
        {.name = "count",
         .kind = CLI_FLAG_INT,
         .value = &count,
         .usage = "stop after `N` frames (0 = until Ctrl-C)"},
        {.name = "interval",
         .kind = CLI_FLAG_DURATION,
         .value = &interval,
         .usage = "time between frames"},
    };
    int i = cmd_parse(c, flags, 2, argc, argv, &rc);
    if (i < 0)
        return rc;
    if (i != argc || count < 0 || count > UINT32_MAX || interval < 1000000)
        return cmd_usage_error(
            c, flags, 2,
            i != argc ? "too many arguments"
                      : "-count must be >= 0 and -interval >= 1ms");
    if (interrupts_catch() < 0 || app_connect(a) < 0)
        return EXIT_RPC;

    Gort__V1__WatchStatsRequest req = GORT__V1__WATCH_STATS_REQUEST__INIT;
    req.interval_ms = interval / 1000000 > UINT32_MAX
                          ? UINT32_MAX
                          : (uint32_t)(interval / 1000000);
    req.count = (uint32_t)count;
    struct rpc_stream s;
    struct rpc_status st;
    if (rpc_stream_open(&a->cli, &gort__v1__control__descriptor, "WatchStats",
                        &req.base, &s, &st) < 0)
        return app_rpc_error(a, "WatchStats", &st);
    stream_publish(&s);
    cli_duration_format(interval, every, sizeof every);
    long drawn = frames(&s, every, isatty(STDOUT_FILENO));
    stream_publish(NULL);
    rpc_stream_finish(&s, &st);
    if (interrupted())
        return EXIT_OK;
    if (st.code != GRPC_STATUS_OK)
        return app_rpc_error(a, "WatchStats", &st);
    if (count && drawn >= count)
        return EXIT_OK;
    fprintf(stderr, "gortctl: gortd closed the stream (shutting down?)\n");
    return EXIT_RPC;
}
