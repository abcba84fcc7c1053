/* test_timer.c — the one timer mechanism (runtime/timer.c): sleeps and I/O
 * deadlines.
 *
 * What the implementation promises, and what is asserted:
 *  - the heap hands out timers in the order of their deadlines, each armed
 *    timer once, a deleted one never; deleting takes a timer out at once
 *    (stats.timers drops, nothing is left to surface later). Checked
 *    white-box through timer.h, exactly: the test arms timers an hour
 *    ahead, where no runtime thread will fire them, and runs the heap
 *    itself (gort__timers_run with a clock of its own);
 *  - fired by the runtime in real time, the same timers fire never before
 *    their deadline, exactly once, and in deadline order up to the
 *    interleaving of concurrent firers (the M asleep in the netpoller, an
 *    M in findrunnable and sysmon each fire due timers in batches);
 *  - a new earliest timer cuts short the poller's wait for a later one;
 *  - 10,000 goroutines sleeping distinct durations all wake, none early,
 *    and in deadline order up to what run queues may reorder (see
 *    sleep_order_main for the exact claim);
 *  - re-arming an I/O deadline moves its timer: 100,000 moves leave one.
 * Only lower bounds on time are asserted, plus liveness bounds seconds
 * wide; a watchdog turns a hang into a failure.
 */
#include <stdbool.h>
#include <sys/socket.h>

#include "gort/net.h"
#include "rt_test.h"
#include "rt_watchdog.h"
#include "timer.h"

#define MS (1000LL * 1000)
#define SEC (1000 * MS)

static uint64_t timers_armed(void)
{
    struct gort_stats *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    RT_CHECK_INT(gort_stats_read(s), ==, 0);
    uint64_t n = s->timers;
    free(s);
    return n;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = (*s += 0x9E3779B97F4A7C15ULL);
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* ---- the heap, white-box ------------------------------------------------- */

struct wtimer {
    struct gort__timer t;
    int64_t when;
    long idx;
    int64_t fired_at;
    _Atomic int fired;
};

static struct {
    struct wtimer *w;
    long n;
    long *order;       /* fire position -> timer index */
    _Atomic long seq;  /* positions handed out */
    _Atomic long done; /* callbacks finished (their writes visible) */
} wb;

/* Runs wherever timers fire: an M, sysmon, or heap_run itself. */
static void wb_fire(struct gort__timer *t)
{
    struct wtimer *w = t->arg;
    int64_t now = gort_nanotime();
    long pos = atomic_fetch_add(&wb.seq, 1);
    if (pos < wb.n)
        wb.order[pos] = w->idx;
    w->fired_at = now;
    atomic_fetch_add(&w->fired, 1);
    atomic_fetch_add(&wb.done, 1);
}

/* Real time: everything is armed, deleted and moved before the first
 * deadline unless the machine stalls; then the order is not checked (the
 * counts still are). Concurrent firers may interleave their batches:
 * FIRE_SLACK bounds how far (generously; a firer late by that much has
 * been descheduled). */
#define HEAP_AHEAD (RT_ASAN || RT_TSAN ? 500 * MS : 50 * MS)
#define FIRE_SLACK (RT_ASAN || RT_TSAN ? 150 * MS : 50 * MS)

/* direct: timers an hour ahead, fired by this goroutine through
 * gort__timers_run, one batch after the other: the order must be exact.
 * Otherwise the runtime fires them as they fall due. */
static void heap_run(bool direct)
{
    memset(wb.w, 0, (size_t)wb.n * sizeof *wb.w);
    memset(wb.order, 0, (size_t)wb.n * sizeof *wb.order);
    atomic_store(&wb.seq, 0);
    atomic_store(&wb.done, 0);
    long n = wb.n;
    uint64_t rng = direct ? 12345 : 54321;
    uint64_t t0 = timers_armed();
    int64_t base = gort_nanotime() + (direct ? 3600 * SEC : HEAP_AHEAD);
    int *expect = calloc((size_t)n, sizeof *expect);
    for (long i = 0; i < n; i++) {
        struct wtimer *w = &wb.w[i];
        w->idx = i;
        gort__timer_init(&w->t, wb_fire, w);
        if (i % 100 == 1)
            w->when = wb.w[i - 1].when; /* some equal deadlines */
        else
            w->when = base + (int64_t)(rng_next(&rng) % (200 * MS));
        RT_CHECK_INT(gort__timer_add(&w->t, w->when), ==, 0);
        expect[i] = 1;
    }
    bool quiet = atomic_load(&wb.seq) == 0;
    if (quiet)
        RT_CHECK_INT(timers_armed(), ==, t0 + (uint64_t)n);

    /* Delete a third, move a seventh of the rest: a deleted timer never
     * fires, a moved one fires once, at its new time. A timer that fired
     * already (stalled machine) cannot be deleted: gort__timer_del says so. */
    long ndel = 0;
    for (long i = 0; i < n; i++) {
        struct wtimer *w = &wb.w[i];
        if (i % 3 == 1) {
            if (gort__timer_del(&w->t)) {
                expect[i] = 0;
                ndel++;
            }
        } else if (i % 7 == 0 && gort__timer_del(&w->t)) {
            w->when = base + (int64_t)(rng_next(&rng) % (200 * MS));
            RT_CHECK_INT(gort__timer_add(&w->t, w->when), ==, 0);
        }
    }
    quiet = quiet && atomic_load(&wb.seq) == 0; /* nothing fired yet */
    if (quiet)
        RT_CHECK_INT(timers_armed(), ==, t0 + (uint64_t)(n - ndel));

    if (direct) {
        /* Half the span first: exactly the timers due by then fire. */
        int64_t mid = base + 100 * MS;
        long due_mid = 0;
        for (long i = 0; i < n; i++)
            due_mid += expect[i] && wb.w[i].when <= mid;
        int64_t next = gort__timers_run(mid);
        RT_CHECK_INT(atomic_load(&wb.done), ==, due_mid);
        RT_CHECK_INT(next, >, mid);
        next = gort__timers_run(base + 1 * SEC);
        RT_CHECK(next > base + 1 * SEC);
    }
    while (atomic_load(&wb.done) < n - ndel)
        gort_sleep(1 * MS); /* not a yield loop: leave the P to the firers */
    if (!direct)
        gort_sleep(20 * MS); /* room for a wrong extra firing to show */
    RT_CHECK_INT(atomic_load(&wb.done), ==, n - ndel);
    RT_CHECK_INT(timers_armed(), ==, t0);

    long early = 0, wrong_count = 0, out_of_order = 0;
    for (long i = 0; i < n; i++) {
        struct wtimer *w = &wb.w[i];
        int f = atomic_load(&w->fired);
        if (f != expect[i])
            wrong_count++;
        if (!direct && f && w->fired_at < w->when)
            early++;
        RT_CHECK(!gort__timer_del(&w->t)); /* fired or deleted: not armed */
    }
    int64_t slack = direct ? 0 : FIRE_SLACK, maxwhen = INT64_MIN;
    for (long k = 0; quiet && k < n - ndel; k++) {
        const struct wtimer *w = &wb.w[wb.order[k]];
        if (w->when + slack < maxwhen && out_of_order++ == 0)
            rt_fail_at(__FILE__, __LINE__,
                       "fire #%ld: timer %ld fired %lld us after a timer "
                       "due later",
                       k, wb.order[k], (long long)(maxwhen - w->when) / 1000);
        if (w->when > maxwhen)
            maxwhen = w->when;
    }
    RT_CHECK_INT(wrong_count, ==, 0);
    RT_CHECK_INT(early, ==, 0);
    RT_CHECK_INT(out_of_order, ==, 0);
    if (!quiet)
        fprintf(stderr, "heap order: a timer fired while arming; order not "
                        "checked\n");
    free(expect);
}

static void heap_order_main(void *arg)
{
    heap_run(arg != NULL);
}

static void heap_setup(void)
{
    memset(&wb, 0, sizeof wb);
    wb.n = 10000;
    wb.w = calloc((size_t)wb.n, sizeof *wb.w);
    wb.order = calloc((size_t)wb.n, sizeof *wb.order);
    assert_non_null(wb.w);
    assert_non_null(wb.order);
}

static void test_heap_order(void **state)
{
    (void)state;
    heap_setup();
    RT_RUN_GUARDED(heap_order_main, (void *)1, 60);
    free(wb.w);
    free(wb.order);
}

static void test_timers_fire_in_time(void **state)
{
    (void)state;
    heap_setup();
    RT_RUN_GUARDED(heap_order_main, NULL, 60);
    free(wb.w);
    free(wb.order);
}

/* 10,000 timers armed far ahead and deleted: the count drops at once and
 * the next deadline goes back to what it was. */
static void heap_cancel_main(void *arg)
{
    (void)arg;
    long n = 10000;
    struct wtimer *w = calloc((size_t)n, sizeof *w);
    uint64_t t0 = timers_armed();
    int64_t next0 = gort__timers_next();
    int64_t far = gort_nanotime() + 3600 * SEC;
    for (long i = 0; i < n; i++) {
        gort__timer_init(&w[i].t, wb_fire, &w[i]);
        RT_CHECK_INT(gort__timer_add(&w[i].t, far + i), ==, 0);
    }
    RT_CHECK_INT(timers_armed(), ==, t0 + (uint64_t)n);
    for (long i = n - 1; i >= 0; i -= 2)
        RT_CHECK(gort__timer_del(&w[i].t));
    for (long i = n - 2; i >= 0; i -= 2)
        RT_CHECK(gort__timer_del(&w[i].t));
    RT_CHECK_INT(timers_armed(), ==, t0);
    RT_CHECK_INT(gort__timers_next(), ==, next0);
    for (long i = 0; i < n; i++)
        RT_CHECK(!gort__timer_del(&w[i].t)); /* deleting twice is a no-op */
    free(w);
}

static void test_heap_cancel(void **state)
{
    (void)state;
    RT_RUN_GUARDED(heap_cancel_main, NULL, 60);
}

/* ---- an earlier timer cuts a long wait short ----------------------------- */

static _Atomic int far_fired;

static void far_fire(struct gort__timer *t)
{
    (void)t;
    atomic_store(&far_fired, 1);
}

static _Atomic int reader_done;

static void reader_of(void *arg)
{
    char c;
    /* Parked until the descriptor is closed. */
    RT_CHECK_INT(gort_read(*(int *)arg, &c, 1), ==, -EBADF);
    atomic_store(&reader_done, 1);
}

/* Whoever sleeps in epoll_wait sleeps until a timer 10 s away; short
 * sleeps must still end on time, so arming an earlier timer must break that
 * wait. A goroutine parked in IO wait keeps idle Ms polling the netpoller
 * too: a non-blocking poll must not swallow the wake-up meant for the
 * blocked one (a bug fixed in dd6d557). Each sleep gets a 5 s liveness
 * bound: a missed wake-up would last until the 10 s timer. */
static void earlier_timer_main(void *arg)
{
    (void)arg;
    int sv[2];
    RT_CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    RT_CHECK_INT(gort_fd_open(sv[0]), ==, sv[0]);
    atomic_store(&reader_done, 0);
    int64_t rid = gort_go(reader_of, &sv[0]);
    rt_wait_state(rid, "IO wait");

    struct gort__timer far;
    gort__timer_init(&far, far_fire, NULL);
    RT_CHECK_INT(gort__timer_add(&far, gort_nanotime() + 10 * SEC), ==, 0);
    /* Let the netpoller settle into its long wait, without timers. */
    int64_t settle = gort_nanotime() + 20 * MS;
    while (gort_nanotime() < settle)
        gort_yield();

    long iters = 200;
    for (long i = 0; i < iters; i++) {
        int64_t d = (i % 3 + 1) * MS;
        int64_t t = gort_nanotime();
        gort_sleep(d);
        int64_t e = gort_nanotime() - t;
        RT_CHECK_INT(e, >=, d);
        if (e >= 5 * SEC) {
            rt_fail_at(__FILE__, __LINE__,
                       "sleep %lld ns took %lld ns: woken by the far timer?",
                       (long long)d, (long long)e);
            break;
        }
    }
    RT_CHECK(!atomic_load(&far_fired));
    RT_CHECK(gort__timer_del(&far));
    RT_CHECK_INT(gort_close(sv[0]), ==, 0); /* the reader gets -EBADF */
    RT_YIELD_UNTIL(atomic_load(&reader_done));
    close(sv[1]);
}

static void test_earlier_timer_breaks_wait(void **state)
{
    (void)state;
    RT_RUN_GUARDED(earlier_timer_main, NULL, 60);
}

/* ---- 10,000 sleepers wake in deadline order ------------------------------
 *
 * What can be promised. The heap hands out timers in deadline order
 * (test_heap_order, exactly); a fired sleeper is made runnable and records its
 * wake position when it runs. Two things sit in between, and the test controls
 * both.
 *
 * The deadline. Goroutine i reads t0_i and calls gort_sleep(T_i - t0_i) for
 * a target T_i; the timer is armed for when_i = (clock at arming) +
 * (T_i - t0_i), unobservable. On one P it is bracketed exactly: arming
 * happens after t0_i and before i parks, hence before the next goroutine to
 * start reads its t0. So T_i <= when_i <= t0_next(i) + T_i - t0_i (and
 * <= t1_i, the wake time). A thread preempted between t0_i and arming
 * widens the bracket instead of faking an inversion.
 *
 * The run queues. A goroutine runnable while others are ahead of it in a
 * queue waits its turn, and the queues are not one FIFO: every 61st
 * schedule takes the global queue's head first, and a full local ring
 * sends its older half to the back of the global queue. So the P must not
 * be backlogged when the sleepers wake: all of them are started first
 * (their first run, which faults in a fresh stack, is what is slow) and
 * parked on a gate; released together, each arms its timer for a target
 * ARM_AHEAD or more ahead, before any fires (checked; a stalled machine
 * skips the order check). Targets are distinct and spread over SPAN.
 * Goroutines fired in one netpoller pass may still run in any order, and
 * a pass gathers every timer that fell due while the waking side lagged.
 * How far it lags has no bound we may assert (a descheduled thread, a busy
 * machine): measured here, the worst inversion is ~2.5 ms on an idle
 * 2-CPU VM and ~40 ms with two CPU hogs beside it. QUEUE_SLACK is set
 * generously above that; the assertion is
 *     if X woke before Y, then T_X <= hi_Y + QUEUE_SLACK,
 * which any unordered timer structure (firing in arming order, reversed,
 * a broken heap) breaks by most of SPAN. The exact order is
 * test_heap_order's.
 */
#define SPAN (RT_ASAN || RT_TSAN ? 1000 * MS : 200 * MS)
#define QUEUE_SLACK (RT_ASAN || RT_TSAN ? 150 * MS : 50 * MS)
#define ARM_AHEAD (RT_ASAN || RT_TSAN ? 300 * MS : 50 * MS)

static struct {
    long n;
    int64_t base;
    int64_t *target, *t0, *t1;
    long *start_order, *start_pos, *wake_order;
    _Atomic long parked, start_seq, wake_seq;
    gort_waitgroup gate, wg;
} gs;

static void gs_sleeper(void *arg)
{
    long i = (long)(intptr_t)arg;
    atomic_fetch_add(&gs.parked, 1);
    gort_wg_wait(&gs.gate);
    long s = atomic_fetch_add(&gs.start_seq, 1);
    gs.start_order[s] = i;
    gs.start_pos[i] = s;
    int64_t t0 = gs.t0[i] = gort_nanotime();
    gort_sleep(gs.base + gs.target[i] - t0);
    gs.t1[i] = gort_nanotime();
    gs.wake_order[atomic_fetch_add(&gs.wake_seq, 1)] = i;
    gort_wg_done(&gs.wg);
}

static void sleep_order_main(void *arg)
{
    (void)arg;
    int old = gort_gomaxprocs(1);
    /* The bracket needs one P: wait until the others have retired. */
    struct gort_stats *st = calloc(1, sizeof *st);
    for (;;) {
        RT_CHECK_INT(gort_stats_read(st), ==, 0);
        int running = 0;
        for (int i = 0; i < st->nprocs; i++)
            running += st->procs[i].status != GORT_P_DEAD;
        if (running <= 1)
            break;
        gort_yield();
    }
    free(st);
    uint64_t timers0 = timers_armed();
    long n = gs.n;
    gort_wg_add(&gs.gate, 1);
    gort_wg_add(&gs.wg, n);
    for (long i = 0; i < n; i++)
        RT_CHECK(gort_go(gs_sleeper, (void *)(intptr_t)i) > 0);
    RT_YIELD_UNTIL(atomic_load(&gs.parked) == n); /* one P: all at the gate */

    gs.base = gort_nanotime() + ARM_AHEAD;
    gort_wg_done(&gs.gate);
    RT_YIELD_UNTIL(atomic_load(&gs.start_seq) == n);
    bool in_time = gort_nanotime() < gs.base; /* all armed before any fired */
    RT_CHECK_INT(timers_armed(), >, timers0);
    gort_wg_wait(&gs.wg);
    RT_CHECK_INT(atomic_load(&gs.wake_seq), ==, n);
    RT_CHECK_INT(timers_armed(), ==, timers0);

    long early = 0, inversions = 0;
    int64_t worst = INT64_MIN, maxlo = INT64_MIN;
    long worst_x = -1, worst_y = -1, maxlo_i = -1;
    for (long i = 0; i < n; i++)
        if (gs.t1[i] < gs.base + gs.target[i])
            early++;
    for (long k = 0; k < n; k++) {
        long y = gs.wake_order[k];
        long s = gs.start_pos[y];
        int64_t lo = gs.base + gs.target[y];
        int64_t hi = gs.t1[y];
        if (s + 1 < n && gs.t0[gs.start_order[s + 1]] - gs.t0[y] + lo < hi)
            hi = gs.t0[gs.start_order[s + 1]] - gs.t0[y] + lo;
        if (maxlo_i >= 0 && maxlo - hi > worst) {
            worst = maxlo - hi;
            worst_x = maxlo_i;
            worst_y = y;
        }
        if (maxlo_i >= 0 && maxlo > hi + QUEUE_SLACK)
            inversions++;
        if (lo > maxlo) {
            maxlo = lo;
            maxlo_i = y;
        }
    }
    RT_CHECK_INT(early, ==, 0);
    if (in_time && inversions)
        rt_fail_at(__FILE__, __LINE__,
                   "%ld wake-ups out of deadline order; worst: goroutine %ld "
                   "(deadline base%+lld us) woke before goroutine %ld "
                   "(deadline base%+lld us, woke at base%+lld us)",
                   inversions, worst_x, (long long)gs.target[worst_x] / 1000,
                   worst_y, (long long)gs.target[worst_y] / 1000,
                   (long long)(gs.t1[worst_y] - gs.base) / 1000);
    int64_t *late = n > 0 ? calloc((size_t)n, sizeof *late) : NULL;
    for (long i = 0; late && i < n; i++)
        late[i] = gs.t1[i] - gs.base - gs.target[i];
    if (late)
        qsort(late, (size_t)n, sizeof *late, cmp_i64);
    if (!in_time)
        fprintf(stderr, "sleep order: arming took past the first deadline; "
                        "order not checked\n");
    if (late)
        fprintf(stderr,
                "sleep order: %ld sleepers; worst inversion %+lld us "
                "(allowed %lld us); lateness p50 %lld us, p99 %lld us, "
                "max %lld us\n",
                n, (long long)(worst / 1000), (long long)(QUEUE_SLACK / 1000),
                (long long)(late[n / 2] / 1000),
                (long long)(late[n * 99 / 100] / 1000),
                (long long)(late[n - 1] / 1000));
    free(late);
    gort_gomaxprocs(old);
}

static void test_sleep_order_10k(void **state)
{
    (void)state;
    memset(&gs, 0, sizeof gs);
    long n = gs.n = rt_scale(10000, 2000);
    gs.target = calloc((size_t)n, sizeof *gs.target);
    gs.t0 = calloc((size_t)n, sizeof *gs.t0);
    gs.t1 = calloc((size_t)n, sizeof *gs.t1);
    gs.start_order = calloc((size_t)n, sizeof(long));
    gs.start_pos = calloc((size_t)n, sizeof(long));
    gs.wake_order = calloc((size_t)n, sizeof(long));
    assert_true(gs.target && gs.t0 && gs.t1 && gs.start_order && gs.start_pos &&
                gs.wake_order);
    /* Distinct targets spread over SPAN past the base, shuffled. */
    for (long i = 0; i < n; i++)
        gs.target[i] = 1 * MS + i * ((SPAN - 1 * MS) / n);
    uint64_t rng = 777;
    for (long i = n - 1; i > 0; i--) {
        long j = (long)(rng_next(&rng) % (uint64_t)(i + 1));
        int64_t t = gs.target[i];
        gs.target[i] = gs.target[j];
        gs.target[j] = t;
    }
    RT_RUN_GUARDED(sleep_order_main, NULL, 60);
    free(gs.target);
    free(gs.t0);
    free(gs.t1);
    free(gs.start_order);
    free(gs.start_pos);
    free(gs.wake_order);
}

/* ---- I/O deadlines share the heap ---------------------------------------- */

/* Moving a descriptor's deadline moves its one timer (never a second);
 * clearing leaves it where it is, to fire as a no-op (netpoll.c,
 * "deadlines"); closing the descriptor removes it. */
static void deadline_rearm_main(void *arg)
{
    (void)arg;
    int sv[2];
    RT_CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    RT_CHECK_INT(gort_fd_open(sv[0]), ==, sv[0]);
    uint64_t t0 = timers_armed();
    int64_t next0 = gort__timers_next();
    int64_t base = gort_nanotime() + 3600 * SEC;
    for (long k = 0; k < 100000; k++) {
        int64_t d = base + (k % 2 ? k : -k);
        RT_CHECK_INT(gort_set_deadline(sv[0], GORT_IO_READ, d), ==, 0);
        RT_CHECK_INT(gort_set_deadline(sv[0], GORT_IO_WRITE, d + 1), ==, 0);
    }
    RT_CHECK_INT(timers_armed(), ==, t0 + 2);
    int64_t armed_at = gort__timers_next();
    RT_CHECK_INT(armed_at, <=, base - 99998 + 1);
    RT_CHECK_INT(gort_set_deadline(sv[0], GORT_IO_BOTH, 0), ==, 0);
    RT_CHECK_INT(timers_armed(), ==, t0 + 2);
    RT_CHECK_INT(gort__timers_next(), ==, armed_at);
    /* Set again after the clear: the armed timers serve, none is added. */
    RT_CHECK_INT(gort_set_deadline(sv[0], GORT_IO_BOTH, base), ==, 0);
    RT_CHECK_INT(timers_armed(), ==, t0 + 2);
    /* Timers armed at close are dropped with the descriptor. */
    RT_CHECK_INT(gort_close(sv[0]), ==, 0);
    RT_CHECK_INT(timers_armed(), ==, t0);
    RT_CHECK_INT(gort__timers_next(), ==, next0);
    close(sv[1]);
}

static void test_deadline_rearm(void **state)
{
    (void)state;
    RT_RUN_GUARDED(deadline_rearm_main, NULL, 60);
}

/* gort_nanotime_coarse is never ahead of gort_nanotime and behind it by
 * less than the netpoller's slack; a deadline just passed (within that
 * slack, where the coarse clock cannot prove anything) still fails the
 * next operation at once, by the fine clock. */
static void coarse_clock_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100000; i++) {
        int64_t c = gort_nanotime_coarse(), f = gort_nanotime();
        RT_CHECK_INT(c, <=, f);
        RT_CHECK_INT(f - c, <, 50 * MS);
    }
    int sv[2];
    char b;
    RT_CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    RT_CHECK_INT(gort_fd_open(sv[0]), ==, sv[0]);
    RT_CHECK_INT(write(sv[1], "x", 1), ==, 1); /* readable: no wait */
    int64_t d = gort_nanotime() + MS;
    RT_CHECK_INT(gort_set_deadline(sv[0], GORT_IO_READ, d), ==, 0);
    while (gort_nanotime() <= d)
        gort_yield();
    RT_CHECK_INT(gort_read(sv[0], &b, 1), ==, -ETIMEDOUT);
    /* Far ahead, the coarse clock alone lets the read through. */
    RT_CHECK_INT(gort_set_deadline(sv[0], GORT_IO_READ,
                                   gort_nanotime_coarse() + 3600 * SEC),
                 ==, 0);
    RT_CHECK_INT(gort_read(sv[0], &b, 1), ==, 1);
    RT_CHECK_INT(gort_close(sv[0]), ==, 0);
    close(sv[1]);
}

static void test_coarse_clock(void **state)
{
    (void)state;
    RT_RUN_GUARDED(coarse_clock_main, NULL, 60);
}

int main(void)
{
    rt_filter_from_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heap_order),
        cmocka_unit_test(test_timers_fire_in_time),
        cmocka_unit_test(test_heap_cancel),
        cmocka_unit_test(test_earlier_timer_breaks_wait),
        cmocka_unit_test(test_sleep_order_10k),
        cmocka_unit_test(test_deadline_rearm),
        cmocka_unit_test(test_coarse_clock),
    };
    return cmocka_run_group_tests_name("timer", tests, NULL, NULL);
}
