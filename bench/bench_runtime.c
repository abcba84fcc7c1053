/* bench_runtime.c — micro-benchmarks of libgort's scheduler: goroutine spawn,
 * yield switch, unbuffered channel round trip, memory per parked
 * goroutine, and a timer's arm+stop with 100k timers armed.
 *
 *   bench_runtime spawn|yield|chan|rss|close|timer [N]
 *
 * close is the rss run reporting the other number it takes: ms from
 * gort_chan_close until all N parked receivers have run.
 *
 * Each subcommand prints exactly one "name value" line on stdout (what
 * bench/runtime.sh collects) and a human-readable detail line on stderr.
 * bench/go/runtime/main.go does the same work with Go's runtime and prints
 * the same names, so the two can be compared line by line. GOMAXPROCS comes
 * from the environment, as in Go.
 *
 * Time is read with clock_gettime directly rather than gort_nanotime so that
 * the measurement does not depend on the code being measured.
 *
 * A failed runtime call is not worked around: the program names the call,
 * prints the error and exits non-zero, so the run shows it as a failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "gort/gort.h"
#include "gort/stats.h"

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CPU time of the whole process: on this shared VM the wall clock also
 * counts the time other tenants hold the CPU. */
static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what, long long err)
{
    fprintf(stderr, "bench_runtime: %s failed: %lld (%s)\n", what, err,
            err < 0 ? gort_strerror((int)err) : "unexpected result");
    exit(1);
}

/* The arguments a benchmark goroutine gets from main, and its result. */
struct bench {
    long n;          /* iterations / goroutines */
    double result;   /* the number printed on stdout */
    double close_ms; /* bench_rss: the close and the wake-ups */
};

static void spawn_go(gort_fn fn, void *arg)
{
    int64_t id = gort_go(fn, arg);
    if (id <= 0)
        die("gort_go", id);
}

/* ---- spawn: N goroutines that only call Done ----------------------------- */

static void spawn_child(void *arg)
{
    gort_wg_done(arg);
}

static void bench_spawn(void *arg)
{
    struct bench *b = arg;
    gort_waitgroup wg = GORT_WAITGROUP_INIT;

    int64_t t0 = now_ns();
    for (long i = 0; i < b->n; i++) {
        gort_wg_add(&wg, 1);
        spawn_go(spawn_child, &wg);
    }
    gort_wg_wait(&wg);
    int64_t dt = now_ns() - t0;

    b->result = (double)dt / (double)b->n;
    fprintf(stderr, "spawn: %ld goroutines in %.3f ms\n", b->n, dt / 1e6);
}

/* ---- yield: two goroutines calling gort_yield N times each --------------- */

struct yielder {
    long n;
    gort_waitgroup *wg;
};

static void yield_loop(void *arg)
{
    struct yielder *y = arg;
    for (long i = 0; i < y->n; i++)
        gort_yield();
    gort_wg_done(y->wg);
}

static void bench_yield(void *arg)
{
    struct bench *b = arg;
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    struct yielder y = {.n = b->n, .wg = &wg};

    int64_t t0 = now_ns();
    gort_wg_add(&wg, 2);
    spawn_go(yield_loop, &y);
    spawn_go(yield_loop, &y);
    gort_wg_wait(&wg);
    int64_t dt = now_ns() - t0;

    b->result = (double)dt / (2.0 * (double)b->n);
    fprintf(stderr, "yield: 2 x %ld yields in %.3f ms\n", b->n, dt / 1e6);
}

/* ---- chan: ping-pong over two unbuffered channels ------------------------ */

struct pingpong {
    long n;
    gort_chan *ping, *pong;
    gort_waitgroup *wg;
};

static void pinger(void *arg)
{
    struct pingpong *p = arg;
    int64_t v;
    for (long i = 0; i < p->n; i++) {
        v = i;
        int rc = gort_chan_send(p->ping, &v);
        if (rc != 0)
            die("gort_chan_send(ping)", rc);
        rc = gort_chan_recv(p->pong, &v);
        if (rc != 1)
            die("gort_chan_recv(pong)", rc);
        if (v != i)
            die("ping-pong value check", v);
    }
    gort_wg_done(p->wg);
}

static void ponger(void *arg)
{
    struct pingpong *p = arg;
    int64_t v;
    for (long i = 0; i < p->n; i++) {
        int rc = gort_chan_recv(p->ping, &v);
        if (rc != 1)
            die("gort_chan_recv(ping)", rc);
        rc = gort_chan_send(p->pong, &v);
        if (rc != 0)
            die("gort_chan_send(pong)", rc);
    }
    gort_wg_done(p->wg);
}

static void bench_chan(void *arg)
{
    struct bench *b = arg;
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    struct pingpong p = {.n = b->n, .wg = &wg};

    p.ping = gort_chan_make(sizeof(int64_t), 0);
    p.pong = gort_chan_make(sizeof(int64_t), 0);
    if (!p.ping || !p.pong)
        die("gort_chan_make", -ENOMEM);

    int64_t t0 = now_ns();
    gort_wg_add(&wg, 2);
    spawn_go(ponger, &p);
    spawn_go(pinger, &p);
    gort_wg_wait(&wg);
    int64_t dt = now_ns() - t0;

    b->result = (double)dt / (double)b->n;
    fprintf(stderr, "chan: %ld round trips in %.3f ms\n", b->n, dt / 1e6);
    gort_chan_free(p.ping);
    gort_chan_free(p.pong);
}

/* ---- rss: N goroutines parked in a channel receive ----------------------- */

/* A "Name: N kB" field of /proc/self/status (VmRSS, VmPTE), in KiB. */
static long status_kib(const char *name)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        die("fopen(/proc/self/status)", -errno);
    char line[256];
    size_t len = strlen(name);
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, name, len) == 0 && line[len] == ':' &&
            sscanf(line + len + 1, "%ld kB", &kib) == 1)
            break;
    fclose(f);
    if (kib < 0)
        die(name, kib);
    return kib;
}

struct parking {
    gort_chan *ch;
    gort_waitgroup ready; /* each goroutine is about to block */
    gort_waitgroup done;  /* each goroutine saw the close */
};

static void parked(void *arg)
{
    struct parking *pk = arg;
    gort_wg_done(&pk->ready);
    int rc = gort_chan_recv(pk->ch, NULL);
    if (rc != 0)
        die("gort_chan_recv on a closed channel", rc);
    gort_wg_done(&pk->done);
}

static void bench_rss(void *arg)
{
    struct bench *b = arg;
    struct parking pk = {.ready = GORT_WAITGROUP_INIT,
                         .done = GORT_WAITGROUP_INIT};
    pk.ch = gort_chan_make(0, 0);
    if (!pk.ch)
        die("gort_chan_make", -ENOMEM);

    long before = status_kib("VmRSS");
    int64_t t0 = now_ns();
    gort_wg_add(&pk.ready, b->n);
    gort_wg_add(&pk.done, b->n);
    for (long i = 0; i < b->n; i++)
        spawn_go(parked, &pk);
    gort_wg_wait(&pk.ready);
    /* The last goroutines have called Done but may not be parked yet. */
    gort_sleep(50 * 1000 * 1000);
    long after = status_kib("VmRSS");
    /* Page tables are not in VmRSS; printed because a stack per 256 KiB
     * slot needs far more of them than densely packed stacks. */
    long pte = status_kib("VmPTE");
    struct rusage u1, u2;
    static struct gort_stats s1, s2; /* large: off the stack */
    getrusage(RUSAGE_SELF, &u1);
    gort_stats_read(&s1);
    int64_t t1 = now_ns(), c1 = cpu_ns();

    int rc = gort_chan_close(pk.ch);
    if (rc != 0)
        die("gort_chan_close", rc);
    int64_t tc = now_ns(); /* the close itself: dequeue and ready all */
    gort_wg_wait(&pk.done);
    int64_t t2 = now_ns(), c2 = cpu_ns();
    getrusage(RUSAGE_SELF, &u2);
    gort_stats_read(&s2);
    gort_chan_free(pk.ch);

    b->result = (double)(after - before) * 1024.0 / (double)b->n;
    b->close_ms = (double)(t2 - t1) / 1e6;
    fprintf(stderr,
            "rss: %ld parked goroutines, VmRSS %ld -> %ld KiB, VmPTE %ld KiB; "
            "parked in %.0f ms, released in %.0f ms (CPU %.0f ms; the close "
            "call %.0f ms); meanwhile %ld voluntary and %ld involuntary "
            "context switches, %llu Ps taken from long runners\n",
            b->n, before, after, pte, (t1 - t0) / 1e6, (t2 - t1) / 1e6,
            (c2 - c1) / 1e6, (tc - t1) / 1e6, u2.ru_nvcsw - u1.ru_nvcsw,
            u2.ru_nivcsw - u1.ru_nivcsw,
            (unsigned long long)(s2.retakes_long - s1.retakes_long));
}

static void bench_close(void *arg)
{
    struct bench *b = arg;
    bench_rss(b);
    b->result = b->close_ms;
}

/* ---- timer: arm and stop with 100k timers armed ------------------------
 *
 * TIMER_ARMED timers wait an hour out (the heap a busy service carries),
 * then N rounds each re-arm one of another TIMER_ARMED timers (Reset) and
 * stop it (Stop): the cost of a timeout that is set and cancelled, as an
 * RPC with a deadline does, at that heap size. Reported per arm+stop. */

#define TIMER_ARMED 100000
#define HOUR (3600LL * 1000000000)

static void bench_timer(void *arg)
{
    struct bench *b = arg;
    gort_timer **bg = malloc(TIMER_ARMED * sizeof *bg);
    gort_timer **fg = malloc(TIMER_ARMED * sizeof *fg);
    if (!bg || !fg)
        die("malloc", -ENOMEM);
    for (long i = 0; i < TIMER_ARMED; i++) {
        bg[i] = gort_timer_new(HOUR + i * 1000);
        fg[i] = gort_timer_new(HOUR);
        if (!bg[i] || !fg[i])
            die("gort_timer_new", -ENOMEM);
        gort_timer_stop(fg[i]);
    }
    int64_t t0 = now_ns();
    for (long i = 0; i < b->n; i++) {
        gort_timer *t = fg[i % TIMER_ARMED];
        int rc = gort_timer_reset(t, HOUR + (i % 997) * 1000);
        if (rc < 0)
            die("gort_timer_reset", rc);
        gort_timer_stop(t);
    }
    int64_t dt = now_ns() - t0;
    b->result = (double)dt / (double)b->n;
    fprintf(stderr, "timer: %ld arm+stop with %d armed in %.3f ms\n", b->n,
            TIMER_ARMED, dt / 1e6);
    for (long i = 0; i < TIMER_ARMED; i++) {
        gort_timer_free(bg[i]);
        gort_timer_free(fg[i]);
    }
    free(bg);
    free(fg);
}

/* ---- main ---------------------------------------------------------------- */

static const struct {
    const char *cmd;
    gort_fn fn;
    long default_n;
    const char *metric;
} benches[] = {
    {"spawn", bench_spawn, 1000000, "spawn_ns_per_op"},
    {"yield", bench_yield, 1000000, "yield_ns_per_switch"},
    {"chan", bench_chan, 500000, "chan_ns_per_roundtrip"},
    {"rss", bench_rss, 1000000, "rss_bytes_per_parked_g"},
    {"close", bench_close, 1000000, "close_ms"},
    {"timer", bench_timer, 2000000, "timer_ns_per_arm_stop"},
};

static int usage(void)
{
    fprintf(stderr,
            "usage: bench_runtime spawn|yield|chan|rss|close|timer [N]\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3)
        return usage();
    for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++) {
        if (strcmp(argv[1], benches[i].cmd) != 0)
            continue;
        struct bench b = {.n = benches[i].default_n};
        if (argc == 3) {
            char *end;
            b.n = strtol(argv[2], &end, 10);
            if (*end != '\0' || b.n <= 0)
                return usage();
        }
        int rc = gort_main(benches[i].fn, &b);
        if (rc != 0)
            die("gort_main", rc);
        printf("%s %.1f\n", benches[i].metric, b.result);
        return 0;
    }
    return usage();
}
