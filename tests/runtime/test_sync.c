/* test_sync.c — WaitGroup, Mutex, Once, RWMutex and Cond: goroutines park
 * on them (never threads), wake when they should, and the locks exclude
 * across Ps; Once runs its function once and every caller sees its
 * effect; RWMutex prefers a waiting writer to new readers (Go's order);
 * Cond's signal wakes one waiter, broadcast all.
 */
#include <pthread.h>

#include "rt_test.h"

/* ---- WaitGroup ---------------------------------------------------------- */

static struct wgs {
    gort_waitgroup wg;
    long n;
    _Atomic long count;
    long seen_at_wait;
} wgs;

static void wg_worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++)
        gort_yield();
    atomic_fetch_add(&wgs.count, 1);
    gort_wg_done(&wgs.wg);
}

static void wg_basic_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(4);
    gort_waitgroup init = GORT_WAITGROUP_INIT;
    wgs.wg = init;
    gort_wg_add(&wgs.wg, wgs.n);
    for (long i = 0; i < wgs.n; i++)
        gort_go(wg_worker, NULL);
    gort_wg_wait(&wgs.wg);
    /* Every done happened before wait returned: the count is complete. */
    wgs.seen_at_wait = atomic_load(&wgs.count);
}

static void test_wg_waits_for_all(void **state)
{
    (void)state;
    memset(&wgs, 0, sizeof wgs);
    wgs.n = rt_scale(20000, 2000);
    rt_run(wg_basic_main, NULL);
    assert_int_equal(wgs.seen_at_wait, wgs.n);
}

/* With a zero counter wait returns at once (a hang here is the failure). */
static void wg_zero_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(1);
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    gort_wg_wait(&wg);
    gort_wg_add(&wg, 3);
    gort_wg_add(&wg, -3);
    gort_wg_wait(&wg);
    gort_wg_add(&wg, 1);
    gort_wg_done(&wg);
    gort_wg_wait(&wg);
    gort_wg_wait(&wg);
}

static void test_wg_zero_returns(void **state)
{
    (void)state;
    rt_run(wg_zero_main, NULL);
}

/* Many goroutines waiting on one WaitGroup all wake on the last done. */
static struct wgwait {
    gort_waitgroup wg;
    int64_t ids[16];
    _Atomic int woke;
} ww;

static void wg_waiter(void *arg)
{
    (void)arg;
    gort_wg_wait(&ww.wg);
    atomic_fetch_add(&ww.woke, 1);
}

static void wg_waiters_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(2);
    gort_wg_add(&ww.wg, 2);
    for (int i = 0; i < 16; i++)
        ww.ids[i] = gort_go(wg_waiter, NULL);
    for (int i = 0; i < 16; i++)
        rt_wait_state(ww.ids[i], "sync.WaitGroup.Wait");
    gort_wg_done(&ww.wg);
    /* Still one to go: nobody may have woken. Yield a lot to give a wrong
     * wake-up every chance to show, then check. */
    for (int i = 0; i < 1000; i++)
        gort_yield();
    RT_CHECK_INT(atomic_load(&ww.woke), ==, 0);
    for (int i = 0; i < 16; i++)
        rt_wait_state(ww.ids[i], "sync.WaitGroup.Wait");
    gort_wg_done(&ww.wg);
    RT_YIELD_UNTIL(atomic_load(&ww.woke) == 16);
}

static void test_wg_many_waiters(void **state)
{
    (void)state;
    memset(&ww, 0, sizeof ww);
    rt_run(wg_waiters_main, NULL);
}

/* A WaitGroup is reusable once its wait returned; Go's pattern of adding
 * before each go statement, including from the goroutines themselves. */
static struct wgtree {
    gort_waitgroup wg;
    _Atomic long nodes;
} wt;

static void wg_tree(void *arg)
{
    long depth = (long)(intptr_t)arg;
    atomic_fetch_add(&wt.nodes, 1);
    if (depth > 0) {
        for (int i = 0; i < 3; i++) {
            gort_wg_add(&wt.wg, 1);
            gort_go(wg_tree, (void *)(intptr_t)(depth - 1));
        }
    }
    gort_wg_done(&wt.wg);
}

static void wg_reuse_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(4);
    long depth = RT_TSAN ? 5 : 8, per_round = 0;
    for (long d = 0, p = 1; d <= depth; d++, p *= 3)
        per_round += p;
    for (int round = 1; round <= 10; round++) {
        gort_wg_add(&wt.wg, 1);
        gort_go(wg_tree, (void *)(intptr_t)depth);
        gort_wg_wait(&wt.wg);
        RT_CHECK_INT(atomic_load(&wt.nodes), ==, round * per_round);
    }
}

static void test_wg_reuse_and_nested_add(void **state)
{
    (void)state;
    memset(&wt, 0, sizeof wt);
    rt_run(wg_reuse_main, NULL);
}

/* wg_done from a thread that is not a goroutine wakes the waiter. */
static gort_waitgroup foreign_wg;

static void *foreign_done(void *arg)
{
    (void)arg;
    gort_wg_done(&foreign_wg);
    return NULL;
}

static void wg_foreign_main(void *arg)
{
    pthread_t *t = arg;
    gort_wg_add(&foreign_wg, 1);
    if (pthread_create(t, NULL, foreign_done, NULL) != 0) {
        RT_CHECK(!"pthread_create");
        gort_wg_done(&foreign_wg);
    }
    gort_wg_wait(&foreign_wg);
}

static void test_wg_done_from_thread(void **state)
{
    (void)state;
    gort_waitgroup init = GORT_WAITGROUP_INIT;
    foreign_wg = init;
    pthread_t t;
    rt_run(wg_foreign_main, &t);
    pthread_join(t, NULL);
}

/* ---- Mutex -------------------------------------------------------------- */

/* A plain (non-atomic) counter under the mutex, 64 goroutines on 8 Ps.
 * Yielding inside the critical section now and then makes the others find
 * it locked and park, so exclusion is tested with real waiters, not just
 * with luckily disjoint timing. */
static struct mtx {
    gort_mutex mu;
    long counter; /* under mu */
    long iters;
    gort_waitgroup wg;
    _Atomic int inside;  /* goroutines in the critical section */
    _Atomic int crowded; /* set when inside was ever more than 1 */
} mx;

static void mutex_worker(void *arg)
{
    (void)arg;
    for (long i = 0; i < mx.iters; i++) {
        gort_mutex_lock(&mx.mu);
        if (atomic_fetch_add(&mx.inside, 1) != 0)
            atomic_store(&mx.crowded, 1);
        long c = mx.counter;
        if (i % 64 == 0)
            gort_yield();
        mx.counter = c + 1;
        atomic_fetch_sub(&mx.inside, 1);
        gort_mutex_unlock(&mx.mu);
    }
    gort_wg_done(&mx.wg);
}

static void mutex_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(8);
    enum { G = 64 };
    gort_wg_add(&mx.wg, G);
    for (int i = 0; i < G; i++)
        gort_go(mutex_worker, NULL);
    gort_wg_wait(&mx.wg);
    gort_mutex_lock(&mx.mu);
    RT_CHECK_INT(mx.counter, ==, G * mx.iters);
    gort_mutex_unlock(&mx.mu);
}

static void test_mutex_counter_p8(void **state)
{
    (void)state;
    memset(&mx, 0, sizeof mx);
    mx.iters = rt_scale(5000, 500);
    rt_run(mutex_main, NULL);
    assert_int_equal(mx.counter, 64 * mx.iters);
    assert_int_equal(atomic_load(&mx.crowded), 0);
}

static struct trylock {
    gort_mutex mu;
    int other_try;
    _Atomic int holder_has_it, release, done;
    int64_t locker_id;
} tl;

static void try_other(void *arg)
{
    (void)arg;
    tl.other_try = gort_mutex_trylock(&tl.mu);
    atomic_store(&tl.done, 1);
}

static void blocking_locker(void *arg)
{
    (void)arg;
    gort_mutex_lock(&tl.mu);
    atomic_store(&tl.holder_has_it, 1);
    RT_YIELD_UNTIL(atomic_load(&tl.release));
    gort_mutex_unlock(&tl.mu);
    atomic_store(&tl.done, 2);
}

static void trylock_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(2);
    gort_mutex init = GORT_MUTEX_INIT;
    tl.mu = init;
    RT_CHECK_INT(gort_mutex_trylock(&tl.mu), ==, 1);
    RT_CHECK_INT(gort_mutex_trylock(&tl.mu), ==, 0); /* not recursive */
    gort_go(try_other, NULL);
    RT_YIELD_UNTIL(atomic_load(&tl.done) == 1);
    RT_CHECK_INT(tl.other_try, ==, 0);

    /* lock() on a held mutex parks in Go's wait reason. */
    tl.locker_id = gort_go(blocking_locker, NULL);
    rt_wait_state(tl.locker_id, "sync.Mutex.Lock");
    RT_CHECK(!atomic_load(&tl.holder_has_it));
    gort_mutex_unlock(&tl.mu);
    RT_YIELD_UNTIL(atomic_load(&tl.holder_has_it));
    RT_CHECK_INT(gort_mutex_trylock(&tl.mu), ==, 0); /* it holds it now */
    atomic_store(&tl.release, 1);
    RT_YIELD_UNTIL(atomic_load(&tl.done) == 2);
    RT_CHECK_INT(gort_mutex_trylock(&tl.mu), ==, 1);
    gort_mutex_unlock(&tl.mu);
    gort_mutex_lock(&tl.mu); /* uncontended lock after all that */
    gort_mutex_unlock(&tl.mu);
}

static void test_mutex_trylock_and_park(void **state)
{
    (void)state;
    memset(&tl, 0, sizeof tl);
    rt_run(trylock_main, NULL);
}

/* A Go Mutex belongs to no goroutine: one may unlock what another locked,
 * and that wakes a third that waits. */
static struct crossunlock {
    gort_mutex mu;
    _Atomic int locked, unlocked, third_in;
    int64_t third_id;
} cu;

static void cu_locker(void *arg)
{
    (void)arg;
    gort_mutex_lock(&cu.mu);
    atomic_store(&cu.locked, 1);
}

static void cu_unlocker(void *arg)
{
    (void)arg;
    gort_mutex_unlock(&cu.mu);
    atomic_store(&cu.unlocked, 1);
}

static void cu_third(void *arg)
{
    (void)arg;
    gort_mutex_lock(&cu.mu);
    atomic_store(&cu.third_in, 1);
    gort_mutex_unlock(&cu.mu);
}

static void cross_unlock_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(2);
    gort_go(cu_locker, NULL);
    RT_YIELD_UNTIL(atomic_load(&cu.locked));
    cu.third_id = gort_go(cu_third, NULL);
    rt_wait_state(cu.third_id, "sync.Mutex.Lock");
    gort_go(cu_unlocker, NULL);
    RT_YIELD_UNTIL(atomic_load(&cu.unlocked) && atomic_load(&cu.third_in));
    RT_CHECK_INT(gort_mutex_trylock(&cu.mu), ==, 1);
    gort_mutex_unlock(&cu.mu);
}

static void test_mutex_unlock_by_other(void **state)
{
    (void)state;
    memset(&cu, 0, sizeof cu);
    rt_run(cross_unlock_main, NULL);
}

/* Every waiter of a contended mutex gets it: 100 goroutines queue behind a
 * holder on one P; all must get through once it lets go. */
static struct queueup {
    gort_mutex mu;
    _Atomic int through;
    int64_t ids[100];
} qu;

static void qu_waiter(void *arg)
{
    (void)arg;
    gort_mutex_lock(&qu.mu);
    atomic_fetch_add(&qu.through, 1);
    gort_mutex_unlock(&qu.mu);
}

static void queueup_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(1);
    gort_mutex_lock(&qu.mu);
    for (int i = 0; i < 100; i++)
        qu.ids[i] = gort_go(qu_waiter, NULL);
    for (int i = 0; i < 100; i++)
        rt_wait_state(qu.ids[i], "sync.Mutex.Lock");
    RT_CHECK_INT(atomic_load(&qu.through), ==, 0);
    gort_mutex_unlock(&qu.mu);
    RT_YIELD_UNTIL(atomic_load(&qu.through) == 100);
}

static void test_mutex_all_waiters_get_through(void **state)
{
    (void)state;
    memset(&qu, 0, sizeof qu);
    rt_run(queueup_main, NULL);
}

/* ---- Once -----------------------------------------------------------------
 */

static struct {
    gort_once once;
    _Atomic int runs;
    int value; /* written by fn alone: every caller must see it */
    _Atomic int bad;
    gort_waitgroup wg;
} on;

static void once_fn(void *arg)
{
    (void)arg;
    atomic_fetch_add(&on.runs, 1);
    for (int i = 0; i < 20; i++)
        gort_yield(); /* others arrive meanwhile and must wait */
    on.value = 42;
}

static void once_caller(void *arg)
{
    (void)arg;
    gort_once_do(&on.once, once_fn, NULL);
    if (on.value != 42)
        atomic_fetch_add(&on.bad, 1);
    gort_wg_done(&on.wg);
}

static void once_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(4);
    int n = (int)rt_scale(2000, 200);
    gort_wg_add(&on.wg, n);
    for (int i = 0; i < n; i++)
        gort_go(once_caller, NULL);
    gort_wg_wait(&on.wg);
    RT_CHECK_INT(atomic_load(&on.runs), ==, 1);
    RT_CHECK_INT(atomic_load(&on.bad), ==, 0);
}

static void test_once(void **state)
{
    (void)state;
    memset(&on, 0, sizeof on);
    rt_run(once_main, NULL);
}

/* ---- RWMutex ----------------------------------------------------------------
 */

/* Writer preference, step by step: R1 reads; W waits for it; R2 arriving
 * now waits behind W; R1 leaves, W gets in before R2; W leaves, R2 gets
 * in. The order of entries is recorded. */
static struct {
    gort_rwmutex rw;
    gort_mutex logmu;
    char log[16];
    int nlog;
    _Atomic int release_r1;
    gort_waitgroup wg;
    int64_t w_id, r2_id;
} rp;

static void rp_log(char c)
{
    gort_mutex_lock(&rp.logmu);
    rp.log[rp.nlog++] = c;
    gort_mutex_unlock(&rp.logmu);
}

static void rp_writer(void *arg)
{
    (void)arg;
    gort_rwmutex_lock(&rp.rw);
    rp_log('W');
    gort_rwmutex_unlock(&rp.rw);
    gort_wg_done(&rp.wg);
}

static void rp_reader2(void *arg)
{
    (void)arg;
    gort_rwmutex_rlock(&rp.rw);
    rp_log('r');
    gort_rwmutex_runlock(&rp.rw);
    gort_wg_done(&rp.wg);
}

static void rwpref_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(2);
    gort_rwmutex_rlock(&rp.rw); /* R1: this goroutine */
    rp_log('R');
    gort_wg_add(&rp.wg, 2);
    rp.w_id = gort_go(rp_writer, NULL);
    rt_wait_state(rp.w_id, "sync.RWMutex.Lock");
    rp.r2_id = gort_go(rp_reader2, NULL);
    rt_wait_state(rp.r2_id, "sync.RWMutex.RLock");
    gort_rwmutex_runlock(&rp.rw);
    gort_wg_wait(&rp.wg);
    rp.log[rp.nlog] = 0;
    RT_CHECK_STR(rp.log, "RWr");
    /* Readers share: two read locks at once. */
    gort_rwmutex_rlock(&rp.rw);
    gort_rwmutex_rlock(&rp.rw);
    gort_rwmutex_runlock(&rp.rw);
    gort_rwmutex_runlock(&rp.rw);
}

static void test_rwmutex_writer_preference(void **state)
{
    (void)state;
    memset(&rp, 0, sizeof rp);
    rt_run(rwpref_main, NULL);
}

/* Exclusion under load: writers move a and b apart and back together
 * (a == b outside a write), readers check a == b and count how many read
 * at once; 8 Ps. */
static struct {
    gort_rwmutex rw;
    long a, b;
    _Atomic int readers_in, writers_in, max_readers;
    _Atomic long torn, overlap;
    gort_waitgroup wg;
} rx;

static void rx_writer(void *arg)
{
    long rounds = (long)(intptr_t)arg;
    for (long i = 0; i < rounds; i++) {
        gort_rwmutex_lock(&rx.rw);
        if (atomic_fetch_add(&rx.writers_in, 1) != 0 ||
            atomic_load(&rx.readers_in) != 0)
            atomic_fetch_add(&rx.overlap, 1);
        rx.a++;
        gort_yield();
        rx.b++;
        atomic_fetch_sub(&rx.writers_in, 1);
        gort_rwmutex_unlock(&rx.rw);
    }
    gort_wg_done(&rx.wg);
}

static void rx_reader(void *arg)
{
    long rounds = (long)(intptr_t)arg;
    for (long i = 0; i < rounds; i++) {
        gort_rwmutex_rlock(&rx.rw);
        int in = atomic_fetch_add(&rx.readers_in, 1) + 1;
        int m = atomic_load(&rx.max_readers);
        while (in > m && !atomic_compare_exchange_weak(&rx.max_readers, &m, in))
            ;
        if (atomic_load(&rx.writers_in) != 0)
            atomic_fetch_add(&rx.overlap, 1);
        if (rx.a != rx.b)
            atomic_fetch_add(&rx.torn, 1);
        if (i % 4 == 0)
            gort_yield();
        atomic_fetch_sub(&rx.readers_in, 1);
        gort_rwmutex_runlock(&rx.rw);
    }
    gort_wg_done(&rx.wg);
}

static void rx_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(8);
    long rounds = rt_scale(20000, 1000);
    int nw = 4, nr = 12;
    gort_wg_add(&rx.wg, nw + nr);
    for (int i = 0; i < nr; i++)
        gort_go(rx_reader, (void *)(intptr_t)rounds);
    for (int i = 0; i < nw; i++)
        gort_go(rx_writer, (void *)(intptr_t)(rounds / 10));
    gort_wg_wait(&rx.wg);
    RT_CHECK_INT(atomic_load(&rx.torn), ==, 0);
    RT_CHECK_INT(atomic_load(&rx.overlap), ==, 0);
    RT_CHECK_INT(rx.a, ==, nw * (rounds / 10));
    RT_CHECK_INT(rx.a, ==, rx.b);
}

static void test_rwmutex_excludes(void **state)
{
    (void)state;
    memset(&rx, 0, sizeof rx);
    rt_run(rx_main, NULL);
}

/* ---- Cond -------------------------------------------------------------------
 */

static struct {
    gort_mutex mu;
    gort_cond cv;
    int tokens; /* under mu */
    int woke;   /* under mu */
    int64_t ids[8];
    gort_waitgroup wg;
} cd;

static void cd_waiter(void *arg)
{
    (void)arg;
    gort_mutex_lock(&cd.mu);
    while (cd.tokens == 0)
        gort_cond_wait(&cd.cv, &cd.mu);
    cd.tokens--;
    cd.woke++;
    gort_mutex_unlock(&cd.mu);
    gort_wg_done(&cd.wg);
}

static int cd_woke(void)
{
    gort_mutex_lock(&cd.mu);
    int n = cd.woke;
    gort_mutex_unlock(&cd.mu);
    return n;
}

static void cond_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(4);
    int n = 8;
    gort_wg_add(&cd.wg, n);
    for (int i = 0; i < n; i++)
        cd.ids[i] = gort_go(cd_waiter, NULL);
    for (int i = 0; i < n; i++)
        rt_wait_state(cd.ids[i], "sync.Cond.Wait");
    /* One token, one signal: exactly one gets through; the rest stay
     * parked in Wait (each checked to be back in that state). */
    gort_mutex_lock(&cd.mu);
    cd.tokens = 1;
    gort_mutex_unlock(&cd.mu);
    gort_cond_signal(&cd.cv);
    RT_YIELD_UNTIL(cd_woke() == 1);
    int parked = 0;
    for (int i = 0; i < n; i++) {
        struct rt_ginfo gi;
        if (rt_ginfo(cd.ids[i], &gi) && strcmp(gi.state, "sync.Cond.Wait") == 0)
            parked++;
    }
    RT_CHECK_INT(parked, ==, n - 1);
    /* Broadcast with enough tokens: all the rest. */
    gort_mutex_lock(&cd.mu);
    cd.tokens = n - 1;
    gort_mutex_unlock(&cd.mu);
    gort_cond_broadcast(&cd.cv);
    gort_wg_wait(&cd.wg);
    RT_CHECK_INT(cd_woke(), ==, n);
    gort_cond_signal(&cd.cv); /* nobody waits: nothing */
}

static void test_cond(void **state)
{
    (void)state;
    memset(&cd, 0, sizeof cd);
    rt_run(cond_main, NULL);
}

int main(void)
{
    rt_filter_from_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wg_waits_for_all),
        cmocka_unit_test(test_wg_zero_returns),
        cmocka_unit_test(test_wg_many_waiters),
        cmocka_unit_test(test_wg_reuse_and_nested_add),
        cmocka_unit_test(test_wg_done_from_thread),
        cmocka_unit_test(test_mutex_counter_p8),
        cmocka_unit_test(test_mutex_trylock_and_park),
        cmocka_unit_test(test_mutex_unlock_by_other),
        cmocka_unit_test(test_mutex_all_waiters_get_through),
        cmocka_unit_test(test_once),
        cmocka_unit_test(test_rwmutex_writer_preference),
        cmocka_unit_test(test_rwmutex_excludes),
        cmocka_unit_test(test_cond),
    };
    return cmocka_run_group_tests_name("sync", tests, NULL, NULL);
}
