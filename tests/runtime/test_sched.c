/* test_sched.c — the scheduler seen through the public API: spawning and
 * completing goroutines at several GOMAXPROCS, work spreading to every P,
 * fairness to yielders, GOMAXPROCS changes under load, ids and labels.
 *
 * One binary, three ways to run it (tests/runtime/CMakeLists.txt):
 *   test_sched          the main suite (GOMAXPROCS unset in the environment)
 *   test_sched env      with GOMAXPROCS=3: the environment sets the default
 *   test_sched badenv   with an invalid GOMAXPROCS: gort_main refuses to start
 * The environment is read once, when the runtime first starts, hence the
 * separate processes.
 */
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include "rt_test.h"

static struct gort_stats *stats_new(void)
{
    struct gort_stats *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    return s;
}

/* Reads stats and checks the call worked (goroutine or test thread). */
static void stats_read(struct gort_stats *s)
{
    int rc = gort_stats_read(s);
    RT_CHECK_INT(rc, ==, 0);
}

static const struct gort_p_stats *p_by_id(const struct gort_stats *s, int id)
{
    for (int i = 0; i < s->nprocs; i++)
        if (s->procs[i].id == id)
            return &s->procs[i];
    return NULL;
}

/* ---- outside the runtime ------------------------------------------------- */

static void *id_on_thread(void *arg)
{
    *(int64_t *)arg = gort_id();
    return NULL;
}

/* Runs first in the main suite: nothing has started the runtime yet. */
static void test_before_start(void **state)
{
    (void)state;
    struct gort_stats *s = stats_new();
    assert_int_equal(gort_stats_read(s), -EINVAL);
    free(s);
    assert_int_equal(gort_id(), 0);
    assert_int_equal(gort_main(NULL, NULL), -EINVAL);
}

/* ---- default GOMAXPROCS -------------------------------------------------- */

static _Atomic int seen_procs;

static void read_procs(void *arg)
{
    (void)arg;
    atomic_store(&seen_procs, gort_gomaxprocs(0));
}

/* With GOMAXPROCS unset, the runtime starts with gort_default_procs(): at
 * least one and no more than the CPUs in our affinity mask. */
static void test_default_procs(void **state)
{
    (void)state;
    cpu_set_t set;
    CPU_ZERO(&set);
    assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
    int ncpu = CPU_COUNT(&set);
    int def = gort_default_procs();
    assert_true(def >= 1);
    assert_true(def <= ncpu);
    rt_run(read_procs, NULL);
    assert_int_equal(atomic_load(&seen_procs), def);
}

/* ---- gort_gomaxprocs ----------------------------------------------------- */

static void gomaxprocs_api(void *arg)
{
    (void)arg;
    struct gort_stats *s = stats_new();
    int cur = gort_gomaxprocs(0);
    RT_CHECK_INT(cur, >=, 1);
    RT_CHECK_INT(gort_gomaxprocs(-5), ==, cur); /* n <= 0 only reads */
    RT_CHECK_INT(gort_gomaxprocs(3), ==, cur);  /* returns the previous */
    RT_CHECK_INT(gort_gomaxprocs(0), ==, 3);
    stats_read(s);
    RT_CHECK_INT(s->gomaxprocs, ==, 3);
    RT_CHECK_INT(s->nprocs, >=, 3);
    RT_CHECK_INT(gort_gomaxprocs(GORT_MAXPROCS_CAP + 1), ==, -EINVAL);
    RT_CHECK_INT(gort_gomaxprocs(1000000), ==, -EINVAL);
    RT_CHECK_INT(gort_gomaxprocs(0), ==,
                 3); /* a refused change changes nothing */
    RT_CHECK_INT(gort_gomaxprocs(1), ==, 3);
    stats_read(s);
    RT_CHECK_INT(s->gomaxprocs, ==, 1);
    RT_CHECK_INT(gort_gomaxprocs(2), ==, 1);
    free(s);
}

static void test_gomaxprocs_api(void **state)
{
    (void)state;
    rt_run(gomaxprocs_api, NULL);
}

/* ---- spawn and complete -------------------------------------------------- */

/* The main goroutine spawns n goroutines; each marks its own slot. The
 * spawner lets at most two batches be alive at once, so memory does not
 * depend on how lazily the runtime commits stacks (test_stack covers mass
 * liveness); a batch is larger than a ring, so every batch also overflows
 * to the global queue. */
static struct spawn {
    int procs;
    long n, batch;
    _Atomic long done;
    _Atomic unsigned char *ran;
} sp;

static void spawn_child(void *arg)
{
    long i = (long)(intptr_t)arg;
    atomic_fetch_add_explicit(&sp.ran[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&sp.done, 1, memory_order_release);
}

static void spawn_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(sp.procs);
    RT_CHECK_INT(gort_gomaxprocs(0), ==, sp.procs);
    for (long i = 0; i < sp.n; i++) {
        int64_t id = gort_go(spawn_child, (void *)(intptr_t)i);
        if (id <= 0) {
            RT_CHECK_INT(id, >, 0);
            atomic_fetch_add(&sp.done, 1); /* keep the wait below finite */
        }
        if ((i + 1) % sp.batch == 0) {
            long floor = i + 1 - sp.batch;
            RT_YIELD_UNTIL(
                atomic_load_explicit(&sp.done, memory_order_acquire) >= floor);
        }
    }
    RT_YIELD_UNTIL(atomic_load_explicit(&sp.done, memory_order_acquire) ==
                   sp.n);
    long bad = 0;
    for (long i = 0; i < sp.n; i++)
        if (atomic_load_explicit(&sp.ran[i], memory_order_relaxed) != 1 &&
            bad++ < 5)
            RT_CHECK_INT(atomic_load(&sp.ran[i]), ==, 1);
}

static void spawn_complete(int procs)
{
    sp.procs = procs;
    sp.n = rt_scale(1000000, 20000);
    sp.batch = RT_TSAN ? 500 : RT_ASAN ? 2000 : 20000;
    atomic_store(&sp.done, 0);
    sp.ran = calloc((size_t)sp.n, 1);
    assert_non_null(sp.ran);
    struct gort_stats *before = stats_new(), *after = stats_new();
    assert_int_equal(gort_stats_read(before), 0);
    rt_run(spawn_main, NULL);
    assert_int_equal(atomic_load(&sp.done), sp.n);
    assert_int_equal(gort_stats_read(after), 0);
    assert_true(after->g_created - before->g_created >= (uint64_t)sp.n);
    free(before);
    free(after);
    free(sp.ran);
}

static void test_spawn_1m_p1(void **state)
{
    (void)state;
    spawn_complete(1);
}

static void test_spawn_1m_p2(void **state)
{
    (void)state;
    spawn_complete(2);
}

static void test_spawn_1m_p8(void **state)
{
    (void)state;
    spawn_complete(8);
}

/* Goroutines spawning goroutines: a binary tree, so gort_go runs on every P
 * and new goroutines land in many rings and runnext slots at once. */
static _Atomic long tree_nodes;

static void tree_node(void *arg)
{
    long depth = (long)(intptr_t)arg;
    atomic_fetch_add(&tree_nodes, 1);
    if (depth > 0) {
        RT_CHECK_INT(gort_go(tree_node, (void *)(intptr_t)(depth - 1)), >, 0);
        RT_CHECK_INT(gort_go(tree_node, (void *)(intptr_t)(depth - 1)), >, 0);
    }
}

static long tree_depth;

static void tree_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(4);
    long want = (2L << tree_depth) - 1;
    gort_go(tree_node, (void *)(intptr_t)tree_depth);
    RT_YIELD_UNTIL(atomic_load(&tree_nodes) >= want);
    RT_CHECK_INT(atomic_load(&tree_nodes), ==, want);
}

static void test_spawn_tree(void **state)
{
    (void)state;
    tree_depth = RT_TSAN ? 10 : RT_ASAN ? 13 : 17;
    atomic_store(&tree_nodes, 0);
    rt_run(tree_main, NULL);
}

/* ---- work spreads -------------------------------------------------------- */

/* One goroutine spawns everything; every P must end up running some of it
 * (taken by stealing, or from the global queue). Each round spawns a batch
 * of CPU-bound goroutines and waits for it; we stop as soon as every P ran
 * something, and fail after many rounds. */
static struct spread {
    int procs;
    _Atomic long done;
    int rounds_needed;
    uint64_t base[GORT_MAXPROCS_CAP], last[GORT_MAXPROCS_CAP];
} spr;

static void busy_child(void *arg)
{
    (void)arg;
    rt_burn(20000);
    atomic_fetch_add(&spr.done, 1);
}

static int all_ps_ran(const struct gort_stats *s)
{
    int ok = 1;
    for (int id = 0; id < spr.procs; id++) {
        const struct gort_p_stats *p = p_by_id(s, id);
        spr.last[id] = p ? p->goroutines_run : 0;
        if (!p || p->goroutines_run <= spr.base[id])
            ok = 0;
    }
    return ok;
}

static void spread_main(void *arg)
{
    (void)arg;
    struct gort_stats *s = stats_new();
    gort_gomaxprocs(spr.procs);
    stats_read(s);
    for (int id = 0; id < spr.procs; id++) {
        const struct gort_p_stats *p = p_by_id(s, id);
        RT_CHECK(p != NULL);
        spr.base[id] = p ? p->goroutines_run : 0;
    }
    const int batch = 2000, max_rounds = 100;
    long spawned = 0;
    spr.rounds_needed = -1;
    for (int round = 1; round <= max_rounds; round++) {
        for (int i = 0; i < batch; i++, spawned++)
            gort_go(busy_child, NULL);
        RT_YIELD_UNTIL(atomic_load(&spr.done) == spawned);
        stats_read(s);
        if (all_ps_ran(s)) {
            spr.rounds_needed = round;
            break;
        }
    }
    free(s);
}

static void work_spreads(int procs)
{
    memset(&spr, 0, sizeof spr);
    spr.procs = procs;
    rt_run(spread_main, NULL);
    if (spr.rounds_needed < 0) {
        char buf[512];
        int n = 0;
        for (int id = 0; id < procs; id++)
            n += snprintf(buf + n, sizeof buf - (size_t)n, " P%d:+%llu", id,
                          (unsigned long long)(spr.last[id] - spr.base[id]));
        fail_msg("some P never ran a goroutine at GOMAXPROCS=%d:%s", procs,
                 buf);
    }
    print_message("GOMAXPROCS=%d: every P ran goroutines after %d round(s)\n",
                  procs, spr.rounds_needed);
}

static void test_work_spreads_p2(void **state)
{
    (void)state;
    work_spreads(2);
}

static void test_work_spreads_p4(void **state)
{
    (void)state;
    work_spreads(4);
}

/* ---- fairness ------------------------------------------------------------ */

/* Two goroutines that do nothing but gort_yield until told to stop, and a
 * thousand that each need ten turns: on one P the yielders must not starve
 * them. (A starving scheduler hangs here until ctest's timeout.) */
static struct yielders {
    _Atomic int stop;
    _Atomic int spinners_in, spinners_out;
    _Atomic long workers_done;
    _Atomic long spinner_turns;
} yl;

static void spinner(void *arg)
{
    (void)arg;
    atomic_fetch_add(&yl.spinners_in, 1);
    while (!atomic_load(&yl.stop)) {
        atomic_fetch_add_explicit(&yl.spinner_turns, 1, memory_order_relaxed);
        gort_yield();
    }
    atomic_fetch_add(&yl.spinners_out, 1);
}

static void turn_taker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10; i++)
        gort_yield();
    atomic_fetch_add(&yl.workers_done, 1);
}

static void yielders_main(void *arg)
{
    (void)arg;
    const long nworkers = 1000;
    gort_gomaxprocs(1);
    gort_go(spinner, NULL);
    gort_go(spinner, NULL);
    RT_YIELD_UNTIL(atomic_load(&yl.spinners_in) == 2);
    for (long i = 0; i < nworkers; i++)
        gort_go(turn_taker, NULL);
    RT_YIELD_UNTIL(atomic_load(&yl.workers_done) == nworkers);
    atomic_store(&yl.stop, 1);
    RT_YIELD_UNTIL(atomic_load(&yl.spinners_out) == 2);
    RT_CHECK_INT(atomic_load(&yl.spinner_turns), >, 0);
}

static void test_yielder_does_not_starve(void **state)
{
    (void)state;
    memset(&yl, 0, sizeof yl);
    rt_run(yielders_main, NULL);
}

/* Two goroutines ping-ponging over unbuffered channels ready each other
 * into runnext forever. A third goroutine sitting in the same P's local ring
 * must still run: in Go the pair shares one time slice and sysmon preempts
 * it after 10 ms. The main goroutine guards the wait (in sleeps of 10 ms, up
 * to ten seconds, a liveness bound, not a timing threshold) so that starvation
 * shows as a failure instead of a hang, then stops the pair itself. */
static struct pingpong {
    gort_chan *ab, *ba, *gate;
    _Atomic int stop;
    _Atomic int c_ran;
    _Atomic long exchanges;
    _Atomic int exited;
    int64_t c_id;
} pp;

static void pp_a(void *arg)
{
    (void)arg;
    rt_wait_state(pp.c_id, "chan receive"); /* C must be parked on the gate */
    for (long i = 0;; i++) {
        if (i == 1000)
            gort_chan_close(pp.gate); /* C: runnable, behind the pair */
        int stop = atomic_load(&pp.stop);
        long v = stop ? -1 : i;
        if (gort_chan_send(pp.ab, &v) != 0 || stop)
            break;
        if (gort_chan_recv(pp.ba, &v) != 1)
            break;
        atomic_store_explicit(&pp.exchanges, i, memory_order_relaxed);
    }
    atomic_fetch_add(&pp.exited, 1);
}

static void pp_b(void *arg)
{
    (void)arg;
    long v;
    while (gort_chan_recv(pp.ab, &v) == 1 && v >= 0)
        if (gort_chan_send(pp.ba, &v) != 0)
            break;
    atomic_fetch_add(&pp.exited, 1);
}

static void pp_c(void *arg)
{
    (void)arg;
    RT_CHECK_INT(gort_chan_recv(pp.gate, NULL), ==, 0);
    atomic_store(&pp.c_ran, 1);
    atomic_store(&pp.stop, 1);
    atomic_fetch_add(&pp.exited, 1);
}

static void pingpong_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(1);
    pp.ab = gort_chan_make(sizeof(long), 0);
    pp.ba = gort_chan_make(sizeof(long), 0);
    pp.gate = gort_chan_make(0, 0);
    pp.c_id = gort_go(pp_c, NULL);
    gort_go(pp_a, NULL);
    gort_go(pp_b, NULL);
    for (int i = 0; i < 1000 && !atomic_load(&pp.c_ran); i++)
        gort_sleep(10 * 1000 * 1000);
    if (!atomic_load(&pp.c_ran)) {
        rt_fail_at(__FILE__, __LINE__,
                   "a goroutine in the local ring never ran while two "
                   "goroutines ping-ponged through runnext (%ld exchanges)",
                   (long)atomic_load(&pp.exchanges));
        atomic_store(&pp.stop, 1);
    }
    RT_YIELD_UNTIL(atomic_load(&pp.exited) == 3);
    gort_chan_free(pp.ab);
    gort_chan_free(pp.ba);
    gort_chan_free(pp.gate);
}

static void test_runnext_pair_does_not_starve(void **state)
{
    (void)state;
    memset(&pp, 0, sizeof pp);
    rt_run(pingpong_main, NULL);
}

/* ---- GOMAXPROCS changes under load --------------------------------------- */

/* 100k goroutines that yield and sometimes sleep, spawned in four waves;
 * before each wave GOMAXPROCS changes (1 → 8 → 2 → 1). All must complete,
 * each exactly once. */
static struct resize {
    long n;
    _Atomic long done;
    _Atomic unsigned char *ran;
} rz;

static void resize_child(void *arg)
{
    long i = (long)(intptr_t)arg;
    for (int k = 0; k < 3; k++) {
        if (i % 16 == 0)
            gort_sleep(1000 * (k + 1));
        else
            gort_yield();
    }
    atomic_fetch_add(&rz.ran[i], 1);
    atomic_fetch_add(&rz.done, 1);
}

static void resize_main(void *arg)
{
    (void)arg;
    static const int stages[] = {1, 8, 2, 1};
    struct gort_stats *s = stats_new();
    gort_gomaxprocs(1);
    long per = rz.n / 4, spawned = 0;
    for (int st = 0; st < 4; st++) {
        int prev = gort_gomaxprocs(stages[st]);
        RT_CHECK_INT(prev, ==, st == 0 ? 1 : stages[st - 1]);
        RT_CHECK_INT(gort_gomaxprocs(0), ==, stages[st]);
        stats_read(s);
        RT_CHECK_INT(s->gomaxprocs, ==, stages[st]);
        long upto = st == 3 ? rz.n : spawned + per;
        for (; spawned < upto; spawned++) {
            if (gort_go(resize_child, (void *)(intptr_t)spawned) <= 0) {
                RT_CHECK(!"gort_go failed");
                atomic_fetch_add(&rz.done, 1);
            }
            if (spawned % 1000 == 999)
                gort_yield(); /* let this stage's Ps run some */
        }
        /* Change again while this wave is still running. */
        for (int k = 0; k < 100; k++)
            gort_yield();
    }
    RT_YIELD_UNTIL(atomic_load(&rz.done) == rz.n);
    for (long i = 0, bad = 0; i < rz.n; i++)
        if (atomic_load(&rz.ran[i]) != 1 && bad++ < 5)
            RT_CHECK_INT(atomic_load(&rz.ran[i]), ==, 1);
    stats_read(s);
    RT_CHECK_INT(s->gomaxprocs, ==, 1);
    RT_CHECK_INT(s->nprocs, >=, 8);
    free(s);
}

static void test_gomaxprocs_resize_under_load(void **state)
{
    (void)state;
    rz.n = rt_scale(100000, 2000);
    atomic_store(&rz.done, 0);
    rz.ran = calloc((size_t)rz.n, 1);
    assert_non_null(rz.ran);
    rt_run(resize_main, NULL);
    assert_int_equal(atomic_load(&rz.done), rz.n);
    free(rz.ran);
}

/* Retired Ps go dead once nothing runs on them (liveness-bounded wait). */
static _Atomic int dead_ok;

static int surplus_ps_dead(const struct gort_stats *s, int procs)
{
    for (int i = 0; i < s->nprocs; i++)
        if (s->procs[i].id >= procs && s->procs[i].status != GORT_P_DEAD)
            return 0;
    return 1;
}

static void retire_main(void *arg)
{
    (void)arg;
    struct gort_stats *s = stats_new();
    gort_gomaxprocs(6);
    for (int i = 0; i < 600; i++)
        gort_go(busy_child, NULL);
    RT_YIELD_UNTIL(atomic_load(&spr.done) == 600);
    RT_CHECK_INT(gort_gomaxprocs(2), ==, 6);
    for (int i = 0; i < 6000; i++) {
        stats_read(s);
        if (surplus_ps_dead(s, 2)) {
            atomic_store(&dead_ok, 1);
            break;
        }
        gort_sleep(10 * 1000 * 1000);
    }
    stats_read(s);
    for (int i = 0; i < s->nprocs; i++) {
        if (s->procs[i].id < 2)
            RT_CHECK_INT(s->procs[i].status, !=, GORT_P_DEAD);
        else
            RT_CHECK_INT(s->procs[i].status, ==, GORT_P_DEAD);
    }
    free(s);
}

static void test_shrink_retires_ps(void **state)
{
    (void)state;
    memset(&spr, 0, sizeof spr);
    rt_run(retire_main, NULL);
    assert_true(atomic_load(&dead_ok));
}

/* GOMAXPROCS at its cap works, and goes back down. */
static _Atomic long cap_done;

static void cap_child(void *arg)
{
    (void)arg;
    gort_yield();
    atomic_fetch_add(&cap_done, 1);
}

static void cap_main(void *arg)
{
    (void)arg;
    struct gort_stats *s = stats_new();
    int prev = gort_gomaxprocs(GORT_MAXPROCS_CAP);
    RT_CHECK_INT(gort_gomaxprocs(0), ==, GORT_MAXPROCS_CAP);
    for (int i = 0; i < 2000; i++)
        gort_go(cap_child, NULL);
    RT_YIELD_UNTIL(atomic_load(&cap_done) == 2000);
    stats_read(s);
    RT_CHECK_INT(s->gomaxprocs, ==, GORT_MAXPROCS_CAP);
    RT_CHECK_INT(s->nprocs, ==, GORT_MAXPROCS_CAP);
    RT_CHECK_INT(gort_gomaxprocs(prev), ==, GORT_MAXPROCS_CAP);
    free(s);
}

static void test_gomaxprocs_cap(void **state)
{
    (void)state;
    rt_run(cap_main, NULL);
}

/* ---- ids ---------------------------------------------------------------- */

static struct ids {
    long n;
    int64_t *seen, *returned;
    int64_t main_id;
    _Atomic long done;
} ids;

static void id_child(void *arg)
{
    long i = (long)(intptr_t)arg;
    ids.seen[i] = gort_id();
    atomic_fetch_add_explicit(&ids.done, 1, memory_order_release);
}

static void ids_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(4);
    ids.main_id = gort_id();
    for (long i = 0; i < ids.n; i++)
        ids.returned[i] = gort_go(id_child, (void *)(intptr_t)i);
    RT_YIELD_UNTIL(atomic_load_explicit(&ids.done, memory_order_acquire) ==
                   ids.n);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* gort_go returns the id the goroutine sees; ids are > 0 and unique, the
 * main goroutine's among them; 0 off goroutines. */
static void test_ids_unique(void **state)
{
    (void)state;
    ids.n = rt_scale(20000, 2000);
    ids.seen = calloc((size_t)ids.n + 1, sizeof(int64_t));
    ids.returned = calloc((size_t)ids.n, sizeof(int64_t));
    atomic_store(&ids.done, 0);
    assert_int_equal(gort_id(), 0);
    rt_run(ids_main, NULL);
    assert_int_equal(gort_id(), 0);
    assert_true(ids.main_id > 0);
    for (long i = 0; i < ids.n; i++) {
        assert_true(ids.seen[i] > 0);
        assert_int_equal(ids.seen[i], ids.returned[i]);
    }
    ids.seen[ids.n] = ids.main_id;
    qsort(ids.seen, (size_t)ids.n + 1, sizeof(int64_t), cmp_i64);
    for (long i = 1; i <= ids.n; i++)
        if (ids.seen[i] == ids.seen[i - 1])
            fail_msg("goroutine id %lld handed out twice",
                     (long long)ids.seen[i]);
    int64_t on_thread = -1;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, id_on_thread, &on_thread), 0);
    pthread_join(t, NULL);
    assert_int_equal(on_thread, 0);
    free(ids.seen);
    free(ids.returned);
}

/* ---- gort_go from a thread that is not a goroutine ---------------------- */

static struct foreign {
    _Atomic long done;
    _Atomic long bad_ids;
    _Atomic int finished;
    _Atomic int64_t thread_id;
} fg;

static void foreign_child(void *arg)
{
    (void)arg;
    atomic_fetch_add(&fg.done, 1);
}

static void *foreign_thread(void *arg)
{
    (void)arg;
    atomic_store(&fg.thread_id, gort_id());
    for (int i = 0; i < 1000; i++)
        if (gort_go(foreign_child, NULL) <= 0)
            atomic_fetch_add(&fg.bad_ids, 1);
    atomic_store(&fg.finished, 1);
    return NULL;
}

static void foreign_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(2);
    pthread_t t;
    if (pthread_create(&t, NULL, foreign_thread, NULL) != 0) {
        RT_CHECK(!"pthread_create");
        return;
    }
    RT_YIELD_UNTIL(atomic_load(&fg.finished));
    pthread_join(t, NULL);
    RT_CHECK_INT(atomic_load(&fg.bad_ids), ==, 0);
    RT_CHECK_INT(atomic_load(&fg.thread_id), ==, 0);
    RT_YIELD_UNTIL(atomic_load(&fg.done) + atomic_load(&fg.bad_ids) == 1000);
}

static void test_go_from_foreign_thread(void **state)
{
    (void)state;
    memset(&fg, 0, sizeof fg);
    rt_run(foreign_main, NULL);
    assert_int_equal(atomic_load(&fg.done), 1000);
}

/* ---- labels ------------------------------------------------------------- */

static struct labels {
    _Atomic int step;
    int64_t child_id, main_id;
    struct rt_ginfo before, after, cleared;
} lb;

static void labelled_child(void *arg)
{
    (void)arg;
    RT_YIELD_UNTIL(atomic_load(&lb.step) == 1);
    gort_set_label("relabelled");
    atomic_store(&lb.step, 2);
    RT_YIELD_UNTIL(atomic_load(&lb.step) == 3);
    gort_set_label(NULL);
    atomic_store(&lb.step, 4);
    RT_YIELD_UNTIL(atomic_load(&lb.step) == 5);
}

static void labels_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(2);
    lb.main_id = gort_id();
    char label[64];
    snprintf(label, sizeof label, "sched-label %d", 42);
    struct gort_go_opts o = {.label = label, .stack_size = 0};
    lb.child_id = gort_go_opts(labelled_child, NULL, &o);
    RT_CHECK_INT(lb.child_id, >, 0);
    memset(label, 'x', sizeof label - 1); /* the runtime kept a copy */
    RT_CHECK(rt_ginfo(lb.child_id, &lb.before));
    atomic_store(&lb.step, 1);
    RT_YIELD_UNTIL(atomic_load(&lb.step) == 2);
    RT_CHECK(rt_ginfo(lb.child_id, &lb.after));
    atomic_store(&lb.step, 3);
    RT_YIELD_UNTIL(atomic_load(&lb.step) == 4);
    RT_CHECK(rt_ginfo(lb.child_id, &lb.cleared));
    atomic_store(&lb.step, 5);
    struct rt_ginfo self;
    RT_CHECK(rt_ginfo(lb.main_id, &self));
    RT_CHECK_STR(self.state, "running");
}

static void test_label_visible(void **state)
{
    (void)state;
    memset(&lb, 0, sizeof lb);
    rt_run(labels_main, NULL);
    assert_string_equal(lb.before.label, "sched-label 42");
    assert_int_equal(lb.before.creator_id, lb.main_id);
    assert_true(lb.before.start_pc == (uintptr_t)labelled_child);
    assert_string_equal(lb.after.label, "relabelled");
    assert_string_equal(lb.cleared.label, "");
}

/* ---- errors ------------------------------------------------------------- */

static void errors_main(void *arg)
{
    (void)arg;
    RT_CHECK_INT(gort_go(NULL, NULL), ==, -EINVAL);
    RT_CHECK_INT(gort_go_opts(NULL, NULL, NULL), ==, -EINVAL);
}

static void test_errors(void **state)
{
    (void)state;
    rt_run(errors_main, NULL);
    static const int codes[] = {-EINVAL, -ENOMEM, -EAGAIN, -EPIPE};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *s = gort_strerror(codes[i]);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
    }
    assert_string_not_equal(gort_strerror(-EINVAL), gort_strerror(-EPIPE));
}

/* ---- the environment ---------------------------------------------------- */

/* Run as `test_sched env` with GOMAXPROCS=3. */
static void env_main(void *arg)
{
    (void)arg;
    struct gort_stats *s = stats_new();
    RT_CHECK_INT(gort_gomaxprocs(0), ==, 3);
    stats_read(s);
    RT_CHECK_INT(s->gomaxprocs, ==, 3);
    RT_CHECK_INT(s->nprocs, ==, 3);
    free(s);
}

static void test_env_gomaxprocs(void **state)
{
    (void)state;
    const char *env = getenv("GOMAXPROCS");
    assert_non_null(env);
    assert_string_equal(env, "3");
    rt_run(env_main, NULL);
}

/* Run as `test_sched badenv` with an invalid GOMAXPROCS: gort_main refuses
 * with -EINVAL and says why on stderr, and the runtime stays unstarted. */
static void never_runs(void *arg)
{
    *(int *)arg = 1;
}

static void test_bad_env_gomaxprocs(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_true(dup2(fds[1], 2) >= 0);
    close(fds[1]);
    int ran = 0;
    int rc = gort_main(never_runs, &ran);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char buf[1024] = {0};
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    print_message("stderr: %s", n > 0 ? buf : "(nothing)\n");
    assert_int_equal(rc, -EINVAL);
    assert_int_equal(ran, 0);
    assert_true(n > 0);
    assert_non_null(strstr(buf, "GOMAXPROCS"));
    struct gort_stats *s = stats_new();
    assert_int_equal(gort_stats_read(s), -EINVAL);
    free(s);
}

int main(int argc, char **argv)
{
    rt_filter_from_env();
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "env") == 0) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_env_gomaxprocs),
        };
        return cmocka_run_group_tests_name("sched_env", tests, NULL, NULL);
    }
    if (strcmp(mode, "badenv") == 0) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_bad_env_gomaxprocs),
        };
        return cmocka_run_group_tests_name("sched_badenv", tests, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_before_start),  /* must stay first */
        cmocka_unit_test(test_default_procs), /* must stay second */
        cmocka_unit_test(test_gomaxprocs_api),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_ids_unique),
        cmocka_unit_test(test_label_visible),
        cmocka_unit_test(test_go_from_foreign_thread),
        cmocka_unit_test(test_spawn_1m_p1),
        cmocka_unit_test(test_spawn_1m_p2),
        cmocka_unit_test(test_spawn_1m_p8),
        cmocka_unit_test(test_spawn_tree),
        cmocka_unit_test(test_work_spreads_p2),
        cmocka_unit_test(test_work_spreads_p4),
        cmocka_unit_test(test_yielder_does_not_starve),
        cmocka_unit_test(test_gomaxprocs_resize_under_load),
        cmocka_unit_test(test_shrink_retires_ps),
        cmocka_unit_test(test_gomaxprocs_cap),
        cmocka_unit_test(test_runnext_pair_does_not_starve),
    };
    return cmocka_run_group_tests_name("sched", tests, NULL, NULL);
}
