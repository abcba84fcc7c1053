/* test_timers_sdk.c — the SDK's timers (gort_timer_*, gort_after,
 * gort_after_func, gort_ticker_*): Go 1.23's semantics, on the runtime's
 * one heap.
 *
 * What is asserted (counts and orders, never a duration as an upper bound):
 *  - 100,000 timers armed at once, fired by this goroutine through the heap
 *    (gort__timers_run with a clock an hour ahead, white-box): every one
 *    fires exactly once and in the order of its deadline; the same number
 *    armed in real time all fire, once each, none before its deadline, and
 *    half of them stopped first never fire;
 *  - stop before the fire returns 1 and no value ever arrives; stop or
 *    reset after a value was sent but not received drops it (returns 1);
 *    stop after it was received returns 0;
 *  - gort_after fires once with a time no earlier than asked, and freeing
 *    an unfired one takes its timer out of the heap;
 *  - AfterFunc runs on its own goroutine; stopped first, never;
 *  - a ticker's times increase by at least its period, a slow receiver
 *    finds at most one tick waiting, and after stop none arrives;
 *  - goroutines racing stop/reset against firings never see a value after
 *    a stop (the stale-callback accounting), under TSan too.
 */
#include <stdbool.h>

#include "rt_test.h"
#include "rt_watchdog.h"
#include "timer.h"

#define US 1000LL
#define MS (1000 * US)
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

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = (*s += 0x9E3779B97F4A7C15ULL);
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static int try_recv(gort_chan *c, int64_t *v)
{
    struct gort_select_case k = {.chan = c, .dir = GORT_SELECT_RECV, .elem = v};
    return gort_select(&k, 1, 0) == 0;
}

/* ---- 100k timers, in order ---------------------------------------------- */

static long n100k;
static int64_t *sort_when;

static int by_when(const void *a, const void *b)
{
    int64_t x = sort_when[*(const long *)a], y = sort_when[*(const long *)b];
    return x < y ? -1 : x > y;
}

/* Channel timers an hour ahead; this goroutine runs the heap with a clock
 * two hours ahead: each timer's value is the (real, monotonic) time of its
 * firing on this one thread, so sorted by deadline (as armed, read
 * white-box) the values must not decrease, and each channel holds exactly
 * one (deadlines are random nanoseconds over 600 s: distinct). */
static void order_main(void *arg)
{
    (void)arg;
    long n = n100k;
    gort_timer **t = calloc((size_t)n, sizeof *t);
    int64_t *when = calloc((size_t)n, sizeof *when);
    long *idx = calloc((size_t)n, sizeof *idx);
    uint64_t rng = 42, t0 = timers_armed();
    int64_t now = gort_nanotime();
    for (long i = 0; i < n; i++) {
        int64_t d = 3600 * SEC + (int64_t)(rng_next(&rng) % (600 * SEC));
        t[i] = gort_timer_new(d);
        RT_CHECK(t[i] != NULL);
        when[i] = gort__timer_when(t[i]);
        idx[i] = i;
    }
    RT_CHECK_INT(timers_armed(), >=, t0 + (uint64_t)n);
    sort_when = when;
    qsort(idx, (size_t)n, sizeof *idx, by_when);
    gort__timers_run(now + 7200 * SEC);
    int64_t prev = 0;
    long got = 0;
    for (long j = 0; j < n; j++) {
        gort_chan *c = gort_timer_chan(t[idx[j]]);
        int64_t v = 0;
        RT_CHECK_INT(gort_chan_len(c), ==, 1);
        if (try_recv(c, &v))
            got++;
        RT_CHECK_INT(v, >=, prev);
        prev = v;
    }
    RT_CHECK_INT(got, ==, n);
    for (long i = 0; i < n; i++) {
        RT_CHECK_INT(gort_timer_stop(t[i]), ==, 0); /* received: 0 */
        gort_timer_free(t[i]);
    }
    RT_CHECK_INT(timers_armed(), ==, t0);
    free(t);
    free(when);
    free(idx);
}

static void test_100k_in_order(void **state)
{
    (void)state;
    n100k = rt_scale(100000, 20000);
    rt_run(order_main, NULL);
}

/* Real time: n AfterFunc timers up to 300 ms out, every other one stopped
 * at once. The started ones all run, once, never early; the stopped ones
 * never. */
static struct {
    long n;
    int64_t *when;
    _Atomic int *runs;
    int64_t *ran_at;
    gort_waitgroup wg;
} rt100k;

static void rt_fn(void *arg)
{
    long i = (long)(intptr_t)arg;
    rt100k.ran_at[i] = gort_nanotime();
    atomic_fetch_add(&rt100k.runs[i], 1);
    gort_wg_done(&rt100k.wg);
}

static void realtime_main(void *arg)
{
    (void)arg;
    long n = rt100k.n;
    gort_timer **t = calloc((size_t)n, sizeof *t);
    uint64_t rng = 7;
    long live = 0;
    gort_waitgroup wg0 = GORT_WAITGROUP_INIT;
    rt100k.wg = wg0;
    gort_wg_add(&rt100k.wg, n);
    for (long i = 0; i < n; i++) {
        int64_t d = 20 * MS + (int64_t)(rng_next(&rng) % (300 * MS));
        rt100k.when[i] = gort_nanotime() + d;
        t[i] = gort_after_func(d, rt_fn, (void *)(intptr_t)i);
        RT_CHECK(t[i] != NULL);
    }
    for (long i = 0; i < n; i += 2) {
        if (gort_timer_stop(t[i]))
            gort_wg_done(&rt100k.wg); /* will never run */
        else
            live++; /* the machine stalled: it ran already */
    }
    gort_wg_wait(&rt100k.wg);
    long ran = 0;
    for (long i = 0; i < n; i++) {
        int r = atomic_load(&rt100k.runs[i]);
        RT_CHECK_INT(r, <=, 1);
        ran += r;
        if (r)
            RT_CHECK_INT(rt100k.ran_at[i], >=, rt100k.when[i]);
        if (i % 2 == 1)
            RT_CHECK_INT(r, ==, 1);
        gort_timer_free(t[i]);
    }
    RT_CHECK_INT(ran, ==, n / 2 + live);
    free(t);
}

static void test_100k_realtime(void **state)
{
    (void)state;
    long n = rt100k.n = rt_scale(100000, 5000);
    rt100k.when = calloc((size_t)n, sizeof(int64_t));
    rt100k.runs = calloc((size_t)n, sizeof(_Atomic int));
    rt100k.ran_at = calloc((size_t)n, sizeof(int64_t));
    rt_run(realtime_main, NULL);
    free(rt100k.when);
    free((void *)rt100k.runs);
    free(rt100k.ran_at);
}

/* ---- one timer's semantics ---------------------------------------------- */

static void stop_main(void *arg)
{
    (void)arg;
    int64_t v;
    /* Stopped before it fires: 1, and nothing ever arrives (a later timer
     * fires first, then the channel is still empty). */
    gort_timer *a = gort_timer_new(20 * MS), *b = gort_timer_new(60 * MS);
    RT_CHECK_INT(gort_timer_stop(a), ==, 1);
    RT_CHECK_INT(gort_timer_stop(a), ==, 0);
    struct gort_select_case k[2] = {
        {.chan = gort_timer_chan(a), .dir = GORT_SELECT_RECV, .elem = &v},
        {.chan = gort_timer_chan(b), .dir = GORT_SELECT_RECV, .elem = &v},
    };
    RT_CHECK_INT(gort_select(k, 2, 1), ==, 1);
    RT_CHECK(!try_recv(gort_timer_chan(a), &v));

    /* Fired but not received: stop drops the value and says 1 (Go 1.23). */
    gort_timer *c = gort_timer_new(0);
    RT_YIELD_UNTIL(gort_chan_len(gort_timer_chan(c)) == 1);
    RT_CHECK_INT(gort_timer_stop(c), ==, 1);
    RT_CHECK_INT(gort_chan_len(gort_timer_chan(c)), ==, 0);
    RT_CHECK(!try_recv(gort_timer_chan(c), &v));

    /* Reset with a value waiting: dropped, and the new one comes. */
    RT_CHECK_INT(gort_timer_reset(c, 0), ==, 0);
    RT_YIELD_UNTIL(gort_chan_len(gort_timer_chan(c)) == 1);
    int64_t before = gort_nanotime();
    RT_CHECK_INT(gort_timer_reset(c, 10 * MS), ==, 1);
    RT_CHECK_INT(gort_chan_len(gort_timer_chan(c)), ==, 0);
    RT_CHECK_INT(gort_chan_recv(gort_timer_chan(c), &v), ==, 1);
    RT_CHECK_INT(v, >=, before + 10 * MS);
    /* Received: stop says 0. */
    RT_CHECK_INT(gort_timer_stop(c), ==, 0);

    gort_timer_free(a);
    gort_timer_free(b);
    gort_timer_free(c);
    gort_timer_free(NULL);
}

static void test_stop_reset(void **state)
{
    (void)state;
    rt_run(stop_main, NULL);
}

static void after_main(void *arg)
{
    (void)arg;
    uint64_t t0 = timers_armed();
    int64_t start = gort_nanotime(), v = 0;
    gort_chan *c = gort_after(5 * MS);
    RT_CHECK(c != NULL);
    RT_CHECK_INT(gort_chan_recv(c, &v), ==, 1);
    RT_CHECK_INT(v, >=, start + 5 * MS);
    RT_CHECK_INT(gort_chan_len(c), ==, 0);
    gort_chan_free(c);
    /* An unfired one, freed: its timer leaves the heap. */
    gort_chan *d = gort_after(3600 * SEC);
    RT_CHECK_INT(timers_armed(), ==, t0 + 1);
    gort_chan_free(d);
    RT_CHECK_INT(timers_armed(), ==, t0);
    /* Select with a timeout: a channel nobody sends on loses. */
    gort_chan *never = gort_chan_make(sizeof(int), 0);
    gort_chan *to = gort_after(MS);
    struct gort_select_case k[2] = {
        {.chan = never, .dir = GORT_SELECT_RECV},
        {.chan = to, .dir = GORT_SELECT_RECV},
    };
    RT_CHECK_INT(gort_select(k, 2, 1), ==, 1);
    gort_chan_free(to);
    gort_chan_free(never);
}

static void test_after(void **state)
{
    (void)state;
    rt_run(after_main, NULL);
}

static _Atomic int64_t af_gid;
static _Atomic int af_runs;

static void af_fn(void *arg)
{
    atomic_store(&af_gid, gort_id());
    atomic_fetch_add(&af_runs, 1);
    gort_wg_done(arg);
}

static void afterfunc_main(void *arg)
{
    (void)arg;
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    gort_wg_add(&wg, 1);
    gort_timer *t = gort_after_func(MS, af_fn, &wg);
    RT_CHECK(gort_timer_chan(t) == NULL);
    gort_wg_wait(&wg);
    RT_CHECK(atomic_load(&af_gid) != 0 && atomic_load(&af_gid) != gort_id());
    RT_CHECK_INT(gort_timer_stop(t), ==, 0);
    /* Reset after it ran: it runs again. */
    gort_wg_add(&wg, 1);
    RT_CHECK_INT(gort_timer_reset(t, MS), ==, 0);
    gort_wg_wait(&wg);
    RT_CHECK_INT(atomic_load(&af_runs), ==, 2);
    gort_timer_free(t);
    /* Stopped first: never runs (a later AfterFunc runs, this one not). */
    gort_timer *s = gort_after_func(10 * MS, af_fn, &wg);
    RT_CHECK_INT(gort_timer_stop(s), ==, 1);
    gort_wg_add(&wg, 1);
    gort_timer *u = gort_after_func(40 * MS, af_fn, &wg);
    gort_wg_wait(&wg);
    RT_CHECK_INT(atomic_load(&af_runs), ==, 3);
    gort_timer_free(s);
    gort_timer_free(u);
    RT_CHECK(gort_after_func(MS, NULL, NULL) == NULL);
}

static void test_after_func(void **state)
{
    (void)state;
    rt_run(afterfunc_main, NULL);
}

static void ticker_main(void *arg)
{
    (void)arg;
    int64_t period = 2 * MS, prev = 0, v = 0;
    RT_CHECK(gort_ticker_new(0) == NULL);
    int64_t start = gort_nanotime();
    gort_ticker *tk = gort_ticker_new(period);
    gort_chan *c = gort_ticker_chan(tk);
    RT_CHECK_INT(gort_chan_cap(c), ==, 1);
    /* Ticks lie on the grid start + k * period (the value is the time of
     * the firing, at or after its grid point): the i-th is at least i
     * periods after the start, and the times increase. */
    for (int i = 1; i <= 5; i++) {
        RT_CHECK_INT(gort_chan_recv(c, &v), ==, 1);
        RT_CHECK_INT(v, >=, start + i * period);
        RT_CHECK_INT(v, >, prev);
        prev = v;
    }
    /* A slow receiver: ten periods later at most one tick waits, and the
     * next ones keep the spacing. */
    gort_sleep(10 * period);
    RT_CHECK_INT(gort_chan_len(c), <=, 1);
    RT_CHECK_INT(gort_chan_recv(c, &v), ==, 1);
    RT_CHECK_INT(v, >, prev);
    gort_ticker_stop(tk);
    RT_CHECK_INT(gort_chan_len(c), ==, 0);
    gort_sleep(5 * period);
    RT_CHECK_INT(gort_chan_len(c), ==, 0); /* stopped: none arrives */
    RT_CHECK_INT(gort_ticker_reset(tk, 0), ==, -EINVAL);
    RT_CHECK_INT(gort_ticker_reset(tk, period), ==, 0);
    RT_CHECK_INT(gort_chan_recv(c, &v), ==, 1);
    gort_ticker_free(tk);
}

static void test_ticker(void **state)
{
    (void)state;
    rt_run(ticker_main, NULL);
}

/* ---- races: no value after a stop ---------------------------------------- */

static _Atomic long race_stale;

static void race_worker(void *arg)
{
    gort_waitgroup *wg = arg;
    uint64_t rng = (uint64_t)gort_id();
    long rounds = rt_scale(2000, 300);
    for (long i = 0; i < rounds; i++) {
        gort_timer *t = gort_timer_new((int64_t)(rng_next(&rng) % (50 * US)));
        for (int j = 0; j < 4; j++) {
            int spins = (int)(rng_next(&rng) % 200);
            for (int s = 0; s < spins; s++)
                rt_burn(10);
            if (rng_next(&rng) & 1)
                gort_timer_reset(t, (int64_t)(rng_next(&rng) % (30 * US)));
            else
                gort_yield();
        }
        gort_timer_stop(t);
        /* From here no value may come: give a stale callback its chance. */
        gort_sleep(60 * US);
        if (gort_chan_len(gort_timer_chan(t)) != 0)
            atomic_fetch_add(&race_stale, 1);
        gort_timer_free(t);
    }
    gort_wg_done(wg);
}

static void race_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(4);
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    int n = 8;
    gort_wg_add(&wg, n);
    for (int i = 0; i < n; i++)
        gort_go(race_worker, &wg);
    gort_wg_wait(&wg);
    RT_CHECK_INT(atomic_load(&race_stale), ==, 0);
}

static void test_stop_races(void **state)
{
    (void)state;
    rt_run(race_main, NULL);
}

int main(void)
{
    rt_filter_from_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_100k_in_order),
        cmocka_unit_test(test_100k_realtime),
        cmocka_unit_test(test_stop_reset),
        cmocka_unit_test(test_after),
        cmocka_unit_test(test_after_func),
        cmocka_unit_test(test_ticker),
        cmocka_unit_test(test_stop_races),
    };
    return cmocka_run_group_tests_name("timers_sdk", tests, NULL, NULL);
}
