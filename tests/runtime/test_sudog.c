/* test_sudog.c — the sudog pool (runtime/sudog.c) and the channel paths
 * that take their sudogs from it.
 *
 * White-box: reuse and the per-P cache's refill and spill, watched through
 * the central pool's count of objects handed out. Then with the runtime:
 * receivers woken by a close get the zero value and ok=false, and selects
 * over several channels, many at once on two Ps, give every sudog back
 * (a stale one left queued would take a later value).
 */
#include <errno.h>
#include <string.h>

#include "rt_test.h"
#include "runtime.h"

static unsigned long long pool_live(void)
{
    struct gort__sudog_counts c;
    gort__sudog_counts(&c);
    return c.live;
}

static void test_reuse(void **state)
{
    (void)state;
    struct gort__sudogcache c = {0};
    struct gort__sudog *a = gort__sudog_get(&c);
    assert_non_null(a);
    gort__sudog_put(&c, a);
    assert_ptr_equal(gort__sudog_get(&c), a); /* LIFO: the hot one */
    gort__sudog_put(&c, a);
    /* Without a P: straight from and to the central pool. */
    unsigned long long live = pool_live();
    struct gort__sudog *b = gort__sudog_get(NULL);
    assert_non_null(b);
    assert_int_equal(pool_live(), live + 1);
    gort__sudog_put(NULL, b);
    assert_int_equal(pool_live(), live);
    gort__sudog_flush(&c);
    assert_int_equal(c.n, 0);
}

static void test_per_p_cache(void **state)
{
    (void)state;
    struct gort__sudogcache c = {0};
    struct gort__sudog *sg[GORT__SUDOG_CACHE + 1];
    unsigned long long live = pool_live();
    const unsigned long long half = GORT__SUDOG_CACHE / 2;
    /* An empty cache takes half a cache from the central pool at once; the
     * next gets up to that many never reach it. */
    for (unsigned i = 0; i < half; i++) {
        sg[i] = gort__sudog_get(&c);
        assert_non_null(sg[i]);
        assert_int_equal(pool_live(), live + half);
    }
    sg[half] = gort__sudog_get(&c);
    assert_int_equal(pool_live(), live + 2 * half);
    for (unsigned i = 0; i <= half; i++)
        for (unsigned j = 0; j < i; j++)
            assert_ptr_not_equal(sg[i], sg[j]);
    /* Puts fill the cache; a put into a full one spills half of it. */
    for (unsigned i = 0; i <= half; i++)
        gort__sudog_put(&c, sg[i]);
    assert_int_equal(c.n, GORT__SUDOG_CACHE);
    assert_int_equal(pool_live(), live + 2 * half);
    struct gort__sudog *extra = gort__sudog_get(NULL);
    gort__sudog_put(&c, extra);
    assert_int_equal(c.n, GORT__SUDOG_CACHE - half + 1);
    assert_int_equal(pool_live(), live + 2 * half + 1 - half);
    assert_ptr_equal(gort__sudog_get(&c), extra); /* the newest stayed */
    gort__sudog_put(&c, extra);
    gort__sudog_flush(&c);
    assert_int_equal(pool_live(), live);
}

/* ---- close: zero value, ok=false ------------------------------------------
 */

#define CLOSE_WAITERS 64

struct closer {
    gort_chan *c;
    gort_waitgroup parked, done;
    _Atomic int bad;
};

static void close_receiver(void *arg)
{
    struct closer *k = arg;
    long v = 42; /* must be overwritten with the zero value */
    gort_wg_done(&k->parked);
    int ok = gort_chan_recv(k->c, &v);
    if (ok != 0 || v != 0)
        atomic_fetch_add(&k->bad, 1);
    gort_wg_done(&k->done);
}

static void close_selector(void *arg)
{
    struct closer *k = arg;
    gort_chan *never = gort_chan_make(sizeof(long), 0);
    long v = 42, w = 7;
    struct gort_select_case cs[2] = {
        {.chan = never, .dir = GORT_SELECT_RECV, .elem = &w},
        {.chan = k->c, .dir = GORT_SELECT_RECV, .elem = &v},
    };
    gort_wg_done(&k->parked);
    int i = gort_select(cs, 2, 1);
    if (i != 1 || cs[1].ok != 0 || v != 0 || w != 7)
        atomic_fetch_add(&k->bad, 1);
    gort_chan_free(never);
    gort_wg_done(&k->done);
}

static void close_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(2);
    struct closer k = {.parked = GORT_WAITGROUP_INIT,
                       .done = GORT_WAITGROUP_INIT};
    k.c = gort_chan_make(sizeof(long), 0);
    gort_wg_add(&k.parked, CLOSE_WAITERS);
    gort_wg_add(&k.done, CLOSE_WAITERS);
    for (int i = 0; i < CLOSE_WAITERS; i++)
        RT_CHECK_INT(gort_go(i % 2 ? close_selector : close_receiver, &k), >,
                     0);
    gort_wg_wait(&k.parked);
    /* Parked, not merely about to park: every one is queued on c. */
    int64_t until = gort_nanotime() + 5000000000LL;
    struct gort_stats st;
    do {
        gort_sleep(1000000);
        gort_stats_read(&st);
    } while (st.g_waiting < CLOSE_WAITERS && gort_nanotime() < until);
    RT_CHECK_INT(st.g_waiting, >=, CLOSE_WAITERS);
    RT_CHECK_INT(gort_chan_close(k.c), ==, 0);
    gort_wg_wait(&k.done);
    RT_CHECK_INT(atomic_load(&k.bad), ==, 0);
    /* Closed: a receive gives the zero value at once, no sudog. */
    long v = 9;
    RT_CHECK_INT(gort_chan_recv(k.c, &v), ==, 0);
    RT_CHECK_INT(v, ==, 0);
    gort_chan_free(k.c);
}

static void test_close_zero_value(void **state)
{
    (void)state;
    rt_run(close_main, NULL);
}

/* ---- select over several channels -----------------------------------------
 */

#define NCH 4

struct fan {
    gort_chan *ch[NCH];
    gort_chan *full; /* a send case that never fires */
    _Atomic long sum;
    _Atomic long got[NCH];
    gort_waitgroup done;
};

static void selector(void *arg)
{
    struct fan *f = arg;
    long v = -1, out = 0;
    struct gort_select_case cs[NCH + 1];
    for (int i = 0; i < NCH; i++)
        cs[i] = (struct gort_select_case){
            .chan = f->ch[i], .dir = GORT_SELECT_RECV, .elem = &v};
    cs[NCH] = (struct gort_select_case){
        .chan = f->full, .dir = GORT_SELECT_SEND, .elem = &out};
    int i = gort_select(cs, NCH + 1, 1);
    if (i >= 0 && i < NCH && cs[i].ok == 1) {
        atomic_fetch_add(&f->sum, v);
        atomic_fetch_add(&f->got[i], 1);
    } else {
        RT_CHECK_INT(i, <, NCH);
    }
    gort_wg_done(&f->done);
}

static void select_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(2);
    long n = rt_scale(2000, 400);
    struct fan f = {.done = GORT_WAITGROUP_INIT};
    for (int i = 0; i < NCH; i++)
        f.ch[i] = gort_chan_make(sizeof(long), 0);
    f.full = gort_chan_make(sizeof(long), 1);
    long one = 1;
    RT_CHECK_INT(gort_chan_send(f.full, &one), ==, 0);
    gort_wg_add(&f.done, n);
    for (long i = 0; i < n; i++)
        RT_CHECK_INT(gort_go(selector, &f), >, 0);
    long want = 0;
    for (long i = 0; i < n; i++) {
        long v = i + 1;
        want += v;
        /* Each send hands its value to exactly one selector. */
        RT_CHECK_INT(gort_chan_send(f.ch[i % NCH], &v), ==, 0);
    }
    gort_wg_wait(&f.done);
    RT_CHECK_INT(atomic_load(&f.sum), ==, want);
    for (int i = 0; i < NCH; i++)
        RT_CHECK_INT(atomic_load(&f.got[i]), ==, (n + NCH - 1 - i) / NCH);
    /* Every selector gave its other sudogs back: nobody waits any more, so
     * a send that must not block finds no receiver. */
    for (int i = 0; i < NCH; i++) {
        long v = 5;
        struct gort_select_case k = {
            .chan = f.ch[i], .dir = GORT_SELECT_SEND, .elem = &v};
        RT_CHECK_INT(gort_select(&k, 1, 0), ==, -EAGAIN);
    }
    for (int i = 0; i < NCH; i++)
        gort_chan_free(f.ch[i]);
    gort_chan_free(f.full);
}

static void test_select_many_channels(void **state)
{
    (void)state;
    rt_run(select_main, NULL);
}

int main(void)
{
    rt_filter_from_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse),
        cmocka_unit_test(test_per_p_cache),
        cmocka_unit_test(test_close_zero_value),
        cmocka_unit_test(test_select_many_channels),
    };
    return cmocka_run_group_tests_name("sudog", tests, NULL, NULL);
}
