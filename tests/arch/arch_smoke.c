/* arch_smoke.c — the runtime's architecture-specific parts (context switch,
 * initial frame, saved pc/fp for dumps, guard-page reports) exercised
 * without cmocka, so the test can be cross-compiled and run under qemu for
 * the architecture the build machine is not (tests/arch/run.sh).
 *
 *   arch_smoke            the checks; prints "N passed, N failed"
 *   arch_smoke overflow   a goroutine overflows its stack (must die with a
 *                         "stack overflow" report naming it)
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gort/gort.h"
#include "gort/stats.h"

static int passed, failed;

static void check(int ok, const char *what)
{
    if (ok) {
        passed++;
    } else {
        failed++;
        fprintf(stderr, "FAIL: %s\n", what);
    }
}

static gort_waitgroup wg = GORT_WAITGROUP_INIT;
static _Atomic long ran;

static void child(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
    gort_wg_done(&wg);
}

/* Callee-saved registers must survive switches: keep values live across
 * many yields in a computation the compiler cannot fold. */
static long busy_sum(long seed)
{
    volatile long k = seed;
    long a = k, b = k * 3, c = k * 5, d = k * 7;
    double x = (double)k, y = (double)k / 2;
    for (int i = 0; i < 1000; i++) {
        gort_yield();
        a += 1;
        b += 3;
        c += 5;
        d += 7;
        x += 1.0;
        y += 0.5;
    }
    return a + b + c + d + (long)x + (long)y;
}

static long sums[8];

static void summer(void *arg)
{
    long i = (long)arg;
    sums[i] = busy_sum(i);
    gort_wg_done(&wg);
}

static gort_chan *ping, *pong;

static void ponger(void *arg)
{
    (void)arg;
    long v;
    while (gort_chan_recv(ping, &v) == 1)
        gort_chan_send(pong, &(long){v + 1});
}

static int has_parked_frames(const struct gort_goroutine_info *g, void *arg)
{
    if (strcmp(g->state, "chan receive") == 0 && g->nframes > 0)
        *(int *)arg = 1;
    return 0;
}

static void checks(void *arg)
{
    (void)arg;
    gort_gomaxprocs(2);
    gort_wg_add(&wg, 20000);
    for (int i = 0; i < 20000; i++)
        gort_go(child, NULL);
    gort_wg_wait(&wg);
    check(atomic_load(&ran) == 20000, "20,000 goroutines ran");

    gort_wg_add(&wg, 8);
    for (long i = 0; i < 8; i++)
        gort_go(summer, (void *)i);
    gort_wg_wait(&wg);
    int regs_ok = 1;
    for (long i = 0; i < 8; i++)
        regs_ok &= sums[i] == 17 * i + 17000 + i / 2 + 500;
    check(regs_ok, "callee-saved registers survive switches");

    ping = gort_chan_make(sizeof(long), 0);
    pong = gort_chan_make(sizeof(long), 0);
    gort_go(ponger, NULL);
    long v = 0;
    for (int i = 0; i < 10000; i++) {
        gort_chan_send(ping, &v);
        gort_chan_recv(pong, &v);
    }
    check(v == 10000, "channel ping-pong carries values");
    gort_sleep(10 * 1000 * 1000); /* the ponger is parked in chan receive */
    int frames = 0;
    gort_goroutines_each(has_parked_frames, &frames);
    check(frames, "a parked goroutine's frames are walked from its saved fp");
    gort_chan_close(ping);

    int64_t t0 = gort_nanotime();
    gort_sleep(20 * 1000 * 1000);
    check(gort_nanotime() - t0 >= 20 * 1000 * 1000, "sleep lasts its time");
}

static long deep(long n)
{
    volatile char pad[256];
    pad[0] = (char)n;
    gort_yield();
    return deep(n + 1) + pad[0];
}

static void victim(void *arg)
{
    (void)arg;
    deep(0);
}

static void overflow_main(void *arg)
{
    (void)arg;
    struct gort_go_opts o = {.label = "arch-victim", .stack_size = 0};
    gort_go_opts(victim, NULL, &o);
    gort_sleep(30LL * 1000 * 1000 * 1000);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "overflow") == 0)
        return gort_main(overflow_main, NULL) == 0 ? 0 : 3;
    int rc = gort_main(checks, NULL);
    check(rc == 0, "gort_main returns 0");
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
