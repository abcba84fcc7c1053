/* test_preempt.c — long runners lose their P, not the other goroutines'
 * turn; threads stay within their budget; blocking calls take bounded slots.
 *
 * What is asserted (counts and orderings, never durations):
 *  - GOMAXPROCS=1: a goroutine spinning without a single runtime call does
 *    not stop the others: the main goroutine (queued behind it) runs again
 *    and a worker completes 1,000 yields while the spinner still spins; the
 *    spinner is marked (long-running, P handed over) in its goroutine info
 *    and the dump, and stats.retakes_long grew; once told to stop it exits
 *    normally on an M without a P;
 *  - GOMAXPROCS=2: the same with two spinners at once;
 *  - a spinner that called the runtime after losing its P takes one back
 *    (go, yield) and its goroutines all run;
 *  - "budget" (own process, GOMAXPROCS=1, gort_set_max_threads(1)): sysmon
 *    cannot hand the spinner's P over, so a goroutine queued behind it runs
 *    only after it finished; thread_limit_hits counts the refusal, the line
 *    on stderr appears once, nothing aborts;
 *  - "blocking" (own process, GOMAXPROCS=2, gort_set_max_blocking(4)): 40
 *    concurrent gort_blocking calls: 4 run, 36 wait for a slot (stats say
 *    so), the Ms stay within slots + GOMAXPROCS + 2, all 40 complete and at
 *    most 4 were ever inside at once.
 * Each spinner's loop also ends after 30 s (a liveness bound reported as a
 * failure, so a broken retake fails instead of hanging).
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "gort/net.h"
#include "rt_test.h"
#include "rt_watchdog.h"

#define MS (1000LL * 1000)
#define SPIN_LIMIT_NS (30000 * MS)

static struct gort_stats *stats_now(void)
{
    struct gort_stats *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    RT_CHECK_INT(gort_stats_read(s), ==, 0);
    return s;
}

/* gort_gomaxprocs(n), then waits until the surplus Ps have retired. */
static void procs(int n)
{
    gort_gomaxprocs(n);
    for (;;) {
        struct gort_stats *s = stats_now();
        int live = 0;
        for (int i = 0; i < s->nprocs; i++)
            live += s->procs[i].status != GORT_P_DEAD;
        free(s);
        if (live <= n)
            return;
        gort_yield();
    }
}

/* ---- spinners ----------------------------------------------------------- */

#define MAX_SPINNERS 2
#define WORK_YIELDS 1000

static struct {
    _Atomic int started, stop, timed_out, spinning;
    _Atomic long progress;
    _Atomic int marked, dumped;
    int64_t ids[MAX_SPINNERS];
    int n;
    gort_waitgroup wg;
} sp;

/* Pure computation: no runtime call at all inside the loop (gort_nanotime
 * reads the clock; it never enters the scheduler). */
static void spinner(void *arg)
{
    (void)arg;
    int64_t start = gort_nanotime();
    atomic_fetch_add(&sp.spinning, 1);
    atomic_fetch_add(&sp.started, 1);
    uint64_t x = 1;
    while (!atomic_load_explicit(&sp.stop, memory_order_relaxed)) {
        x = x * 6364136223846793005ULL + 1;
        if ((x & 0xffff) == 0 && gort_nanotime() - start > SPIN_LIMIT_NS) {
            atomic_store(&sp.timed_out, 1);
            break;
        }
    }
    rt_sink = x;
    atomic_fetch_sub(&sp.spinning, 1);
    gort_wg_done(&sp.wg);
}

struct mark_find {
    int64_t id;
    int long_running, retaken;
};

static int mark_cb(const struct gort_goroutine_info *g, void *arg)
{
    struct mark_find *f = arg;
    if (g->id != f->id)
        return 0;
    f->long_running = g->long_running;
    f->retaken = g->retaken;
    return 1;
}

static int dump_has(const char *needle)
{
    int fd = memfd_create("gort-dump", MFD_CLOEXEC);
    RT_CHECK(fd >= 0);
    if (fd < 0)
        return 0;
    RT_CHECK(gort_dump_text(fd) > 0);
    off_t len = lseek(fd, 0, SEEK_END);
    char *buf = calloc(1, (size_t)len + 1);
    RT_CHECK_INT(pread(fd, buf, (size_t)len, 0), ==, len);
    close(fd);
    int found = strstr(buf, needle) != NULL;
    free(buf);
    return found;
}

static int retaken(int64_t id)
{
    struct mark_find f = {.id = id};
    gort_goroutines_each(mark_cb, &f);
    return f.retaken;
}

/* Runs while the spinners spin (it could not run at all otherwise). */
static void worker(void *arg)
{
    (void)arg;
    /* Each spinner loses its P once its slice is over (the first one
     * already has: this goroutine runs). */
    for (int i = 0; i < sp.n; i++)
        RT_YIELD_UNTIL(retaken(sp.ids[i]) || atomic_load(&sp.timed_out));
    for (int i = 0; i < WORK_YIELDS; i++) {
        atomic_fetch_add(&sp.progress, 1);
        gort_yield();
    }
    /* Every spinner is still spinning: the work above ran beside them. */
    RT_CHECK_INT(atomic_load(&sp.spinning), ==, sp.n);
    for (int i = 0; i < sp.n; i++) {
        struct mark_find f = {.id = sp.ids[i]};
        gort_goroutines_each(mark_cb, &f);
        RT_CHECK(f.long_running);
        RT_CHECK(f.retaken);
        char want[64];
        snprintf(want, sizeof want, "goroutine %lld [running, ",
                 (long long)sp.ids[i]);
        RT_CHECK(dump_has(want));
    }
    RT_CHECK(dump_has("P handed over"));
    atomic_store(&sp.stop, 1);
    gort_wg_done(&sp.wg);
}

static uint64_t retakes_long(void)
{
    struct gort_stats *s = stats_now();
    uint64_t n = s->retakes_long;
    free(s);
    return n;
}

static void spin_main(void *arg)
{
    int n = (int)(intptr_t)arg;
    procs(n);
    memset(&sp, 0, sizeof sp);
    sp.n = n;
    uint64_t before = retakes_long();
    gort_wg_add(&sp.wg, n + 1);
    for (int i = 0; i < n; i++)
        sp.ids[i] = gort_go(spinner, NULL);
    /* With n Ps and n spinners, this goroutine is queued behind them: it
     * gets here again only because sysmon took a spinner's P. */
    RT_YIELD_UNTIL(atomic_load(&sp.started) == n);
    RT_CHECK_INT(gort_go(worker, NULL), >, 0);
    gort_wg_wait(&sp.wg);
    RT_CHECK(!atomic_load(&sp.timed_out));
    RT_CHECK_INT(atomic_load(&sp.progress), ==, WORK_YIELDS);
    RT_CHECK_INT(retakes_long(), >=, before + (uint64_t)n);
    /* The spinners are done (wg) and about to exit: each stops counting
     * as a long runner once it did (a leak would hang: the watchdog). */
    for (;;) {
        struct gort_stats *s = stats_now();
        int lr = s->long_runners;
        free(s);
        if (lr == 0)
            break;
        gort_yield();
    }
}

static void test_spin_p1(void **state)
{
    (void)state;
    struct rt_watchdog wd;
    rt_watchdog_start(&wd, "spin_p1", 60);
    rt_run(spin_main, (void *)(intptr_t)1);
    rt_watchdog_stop(&wd);
}

static void test_spin_p2(void **state)
{
    (void)state;
    struct rt_watchdog wd;
    rt_watchdog_start(&wd, "spin_p2", 60);
    rt_run(spin_main, (void *)(intptr_t)2);
    rt_watchdog_stop(&wd);
}

/* ---- taking a P back ----------------------------------------------------- */

static struct {
    _Atomic int lost, children;
    gort_waitgroup wg;
} back;

static void child(void *arg)
{
    (void)arg;
    atomic_fetch_add(&back.children, 1);
    gort_wg_done(&back.wg);
}

/* Spins until its P is taken (its info says so), then calls the runtime:
 * gort_go and gort_yield must give it a P again. */
static void spin_then_call(void *arg)
{
    (void)arg;
    int64_t me = gort_id(), start = gort_nanotime();
    struct mark_find f = {.id = me};
    while (!f.retaken && gort_nanotime() - start < SPIN_LIMIT_NS) {
        gort_goroutines_each(mark_cb, &f); /* not a scheduler entry */
    }
    RT_CHECK(f.retaken);
    for (int i = 0; i < 100; i++) {
        RT_CHECK_INT(gort_go(child, NULL), >, 0);
        gort_yield();
    }
    f.retaken = 1;
    gort_goroutines_each(mark_cb, &f);
    RT_CHECK(!f.retaken); /* it holds a P again */
    gort_wg_done(&back.wg);
}

static void back_main(void *arg)
{
    (void)arg;
    procs(1);
    memset(&back, 0, sizeof back);
    gort_wg_add(&back.wg, 101);
    RT_CHECK_INT(gort_go(spin_then_call, NULL), >, 0);
    gort_wg_wait(&back.wg);
    RT_CHECK_INT(atomic_load(&back.children), ==, 100);
}

static void test_take_back(void **state)
{
    (void)state;
    struct rt_watchdog wd;
    rt_watchdog_start(&wd, "take_back", 60);
    rt_run(back_main, NULL);
    rt_watchdog_stop(&wd);
}

/* ---- the thread budget (own process) ------------------------------------- */

static struct {
    _Atomic int done, other_saw_done;
    gort_waitgroup wg;
} bud;

static void bud_other(void *arg)
{
    (void)arg;
    atomic_store(&bud.other_saw_done, atomic_load(&bud.done));
    gort_wg_done(&bud.wg);
}

static uint64_t limit_hits(void)
{
    struct gort_stats *s = stats_now();
    uint64_t n = s->thread_limit_hits;
    free(s);
    return n;
}

/* Queues bud_other behind itself, then spins until the budget refused a
 * thread for its hand-over. */
static void bud_spinner(void *arg)
{
    (void)arg;
    RT_CHECK_INT(gort_go(bud_other, NULL), >, 0);
    int64_t start = gort_nanotime();
    while (limit_hits() == 0 && gort_nanotime() - start < SPIN_LIMIT_NS) {
    }
    RT_CHECK_INT(limit_hits(), >, 0);
    struct mark_find f = {.id = gort_id()};
    gort_goroutines_each(mark_cb, &f);
    RT_CHECK(!f.retaken); /* it kept its P */
    atomic_store(&bud.done, 1);
    gort_wg_done(&bud.wg);
}

static void budget_main(void *arg)
{
    (void)arg;
    gort_wg_add(&bud.wg, 2);
    RT_CHECK_INT(gort_go(bud_spinner, NULL), >, 0);
    gort_wg_wait(&bud.wg);
    RT_CHECK(atomic_load(&bud.other_saw_done));
    struct gort_stats *s = stats_now();
    RT_CHECK_INT(s->m_total, ==, 1);
    RT_CHECK_INT(s->max_threads, ==, 1);
    RT_CHECK_INT(s->retakes_long, ==, 0);
    free(s);
}

static void test_budget(void **state)
{
    (void)state;
    RT_CHECK_INT(gort_set_max_threads(1), ==, 10000);
    /* stderr to a file for the run: the line must appear exactly once. */
    int log = memfd_create("gort-stderr", MFD_CLOEXEC);
    assert_true(log >= 0);
    int saved = dup(2);
    dup2(log, 2);
    struct rt_watchdog wd;
    rt_watchdog_start(&wd, "budget", 60);
    rt_run(budget_main, NULL);
    rt_watchdog_stop(&wd);
    dup2(saved, 2);
    close(saved);
    off_t len = lseek(log, 0, SEEK_END);
    char *buf = calloc(1, (size_t)len + 1);
    assert_int_equal(pread(log, buf, (size_t)len, 0), len);
    close(log);
    fputs(buf, stderr);
    int lines = 0;
    for (char *p = buf; (p = strstr(p, "thread limit reached")) != NULL; p++)
        lines++;
    assert_int_equal(lines, 1);
    free(buf);
}

/* ---- blocking-call slots (own process) ----------------------------------- */

#define SLOTS 4
#define CALLERS 40

static struct {
    _Atomic int inside, max_inside, completed, release;
    gort_waitgroup wg;
} blk;

static void blk_fn(void *arg)
{
    (void)arg;
    int n = atomic_fetch_add(&blk.inside, 1) + 1;
    int m = atomic_load(&blk.max_inside);
    while (n > m && !atomic_compare_exchange_weak(&blk.max_inside, &m, n)) {
    }
    while (!atomic_load(&blk.release)) {
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL); /* a thread blocked in the kernel */
    }
    atomic_fetch_sub(&blk.inside, 1);
}

static void blk_caller(void *arg)
{
    (void)arg;
    gort_blocking(blk_fn, NULL);
    atomic_fetch_add(&blk.completed, 1);
    gort_wg_done(&blk.wg);
}

static void blocking_main(void *arg)
{
    (void)arg;
    RT_CHECK_INT(gort_set_max_blocking(SLOTS), ==, 512);
    gort_wg_add(&blk.wg, CALLERS);
    for (int i = 0; i < CALLERS; i++)
        RT_CHECK_INT(gort_go(blk_caller, NULL), >, 0);
    /* The slots are held until release: every other caller must queue. */
    struct gort_stats *s = stats_now();
    while (s->blocking_queued < CALLERS - SLOTS) {
        free(s);
        gort_sleep(1 * MS);
        s = stats_now();
    }
    RT_CHECK_INT(s->blocking_busy, ==, SLOTS);
    RT_CHECK_INT(s->blocking_max, ==, SLOTS);
    RT_CHECK_INT(s->blocking_waits, >=, CALLERS - SLOTS);
    int gomaxprocs = s->gomaxprocs;
    RT_CHECK_INT(s->m_total, <=, SLOTS + gomaxprocs + 2);
    free(s);
    atomic_store(&blk.release, 1);
    gort_wg_wait(&blk.wg);
    RT_CHECK_INT(atomic_load(&blk.completed), ==, CALLERS);
    RT_CHECK_INT(atomic_load(&blk.max_inside), <=, SLOTS);
    RT_CHECK_INT(atomic_load(&blk.max_inside), >=, 1);
    s = stats_now();
    RT_CHECK_INT(s->blocking_busy, ==, 0);
    RT_CHECK_INT(s->blocking_queued, ==, 0);
    RT_CHECK_INT(s->m_total, <=, SLOTS + gomaxprocs + 2);
    free(s);
}

static void test_blocking_slots(void **state)
{
    (void)state;
    struct rt_watchdog wd;
    rt_watchdog_start(&wd, "blocking_slots", 60);
    rt_run(blocking_main, NULL);
    rt_watchdog_stop(&wd);
}

int main(int argc, char **argv)
{
    rt_filter_from_env();
    const char *which = argc > 1 ? argv[1] : "";
    if (strcmp(which, "budget") == 0) {
        const struct CMUnitTest t[] = {cmocka_unit_test(test_budget)};
        return cmocka_run_group_tests(t, NULL, NULL);
    }
    if (strcmp(which, "blocking") == 0) {
        const struct CMUnitTest t[] = {cmocka_unit_test(test_blocking_slots)};
        return cmocka_run_group_tests(t, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spin_p1),
        cmocka_unit_test(test_spin_p2),
        cmocka_unit_test(test_take_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
