/* test_sleep.c — gort_sleep: never wakes early, parks the goroutine (not
 * the thread), and every sleeper wakes. No upper bound on lateness is ever
 * asserted: the machine is shared and noisy.
 */
#include "rt_test.h"

static void sleep_at_least_main(void *arg)
{
    int procs = (int)(intptr_t)arg;
    gort_gomaxprocs(procs);
    static const int64_t ns[] = {1, 1000, 50000, 1000000, 5000000, 20000000};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        for (int rep = 0; rep < 3; rep++) {
            int64_t t0 = gort_nanotime();
            gort_sleep(ns[i]);
            int64_t t1 = gort_nanotime();
            RT_CHECK_INT(t1 - t0, >=, ns[i]);
        }
    }
    /* ns <= 0 only yields: it returns. */
    gort_sleep(0);
    gort_sleep(-12345);
}

/* The main goroutine alone sleeping: every M may park, and the timer must
 * still bring it back. */
static void test_sleep_at_least_p1(void **state)
{
    (void)state;
    rt_run(sleep_at_least_main, (void *)(intptr_t)1);
}

static void test_sleep_at_least_p2(void **state)
{
    (void)state;
    rt_run(sleep_at_least_main, (void *)(intptr_t)2);
}

/* Many sleepers with staggered durations: each sleeps at least its time,
 * all wake. */
static struct sleepers {
    long n;
    gort_waitgroup wg;
    _Atomic long early;
} sl;

static void sleeper(void *arg)
{
    long i = (long)(intptr_t)arg;
    int64_t want = (int64_t)(i % 50) * 100000 + 1; /* up to 4.9 ms */
    int64_t t0 = gort_nanotime();
    gort_sleep(want);
    if (gort_nanotime() - t0 < want)
        atomic_fetch_add(&sl.early, 1);
    gort_wg_done(&sl.wg);
}

static void many_sleepers_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(2);
    gort_wg_add(&sl.wg, sl.n);
    for (long i = 0; i < sl.n; i++)
        gort_go(sleeper, (void *)(intptr_t)i);
    gort_wg_wait(&sl.wg);
}

static void test_many_sleepers(void **state)
{
    (void)state;
    memset(&sl, 0, sizeof sl);
    sl.n = rt_scale(20000, 1000);
    rt_run(many_sleepers_main, NULL);
    assert_int_equal(atomic_load(&sl.early), 0);
}

/* A sleeping goroutine is parked in "sleep" and its P runs others: on one
 * P, another goroutine can observe it asleep. */
static struct parked {
    int64_t sleeper_id;
    _Atomic int slept, observed;
} pk;

static void long_sleeper(void *arg)
{
    (void)arg;
    gort_sleep(50 * 1000 * 1000);
    atomic_store(&pk.slept, 1);
}

static void observer(void *arg)
{
    (void)arg;
    rt_wait_state(pk.sleeper_id, "sleep");
    struct rt_ginfo gi;
    RT_CHECK(rt_ginfo(pk.sleeper_id, &gi));
    RT_CHECK_STR(gi.wait_reason, "sleep");
    atomic_store(&pk.observed, 1);
}

static void sleep_parks_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(1);
    pk.sleeper_id = gort_go(long_sleeper, NULL);
    gort_go(observer, NULL);
    RT_YIELD_UNTIL(atomic_load(&pk.observed) && atomic_load(&pk.slept));
}

static void test_sleep_parks_goroutine(void **state)
{
    (void)state;
    memset(&pk, 0, sizeof pk);
    rt_run(sleep_parks_main, NULL);
}

/* On one P kept busy by a goroutine that only yields, a sleeper must still
 * wake: the timer readies it onto a queue the yielder lets run. */
static _Atomic int woke_flag;

static void short_sleeper(void *arg)
{
    (void)arg;
    gort_sleep(1000 * 1000);
    atomic_store(&woke_flag, 1);
}

static void busy_sleep_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(1);
    gort_go(short_sleeper, NULL);
    RT_YIELD_UNTIL(atomic_load(&woke_flag)); /* main is the busy yielder */
}

static void test_sleeper_wakes_on_busy_p(void **state)
{
    (void)state;
    atomic_store(&woke_flag, 0);
    rt_run(busy_sleep_main, NULL);
}

/* gort_nanotime never goes backwards, on any goroutine or P. */
static _Atomic long backwards, mono_done;

static void mono_worker(void *arg)
{
    (void)arg;
    int64_t prev = gort_nanotime();
    for (int i = 0; i < 20000; i++) {
        int64_t now = gort_nanotime();
        if (now < prev)
            atomic_fetch_add(&backwards, 1);
        prev = now;
        if (i % 1000 == 0)
            gort_yield();
    }
    atomic_fetch_add(&mono_done, 1);
}

static void mono_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(4);
    for (int i = 0; i < 8; i++)
        gort_go(mono_worker, NULL);
    RT_YIELD_UNTIL(atomic_load(&mono_done) == 8);
}

static void test_nanotime_monotonic(void **state)
{
    (void)state;
    rt_run(mono_main, NULL);
    assert_int_equal(atomic_load(&backwards), 0);
    assert_true(gort_nanotime() > 0);
}

int main(void)
{
    rt_filter_from_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sleep_at_least_p1),
        cmocka_unit_test(test_sleep_at_least_p2),
        cmocka_unit_test(test_many_sleepers),
        cmocka_unit_test(test_sleep_parks_goroutine),
        cmocka_unit_test(test_sleeper_wakes_on_busy_p),
        cmocka_unit_test(test_nanotime_monotonic),
    };
    return cmocka_run_group_tests_name("sleep", tests, NULL, NULL);
}
