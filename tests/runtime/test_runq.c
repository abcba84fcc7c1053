/* test_runq.c — the per-P ring and the global run queue, white-box.
 *
 * No runtime is started: the queues only move struct gort__g pointers, so
 * zeroed goroutine structs stand in for real ones and their position in an
 * array names them. The concurrent test runs real threads (an owner and
 * thieves) against one ring, and is labelled "sched" so ThreadSanitizer
 * checks its memory ordering too.
 */
#include <pthread.h>

#include "rt_test.h"
#include "runq.h"
#include "runtime.h"

/* A pool of fake goroutines; g(i) is the i-th, idx(gp) gives i back. */
static struct gort__g *pool;
static long pool_n;

static struct gort__g *g(long i)
{
    return &pool[i];
}

static long idx(const struct gort__g *gp)
{
    return gp ? (long)(gp - pool) : -1;
}

static int pool_setup(void **state)
{
    (void)state;
    pool_n = 4096;
    pool = calloc((size_t)pool_n, sizeof *pool);
    return pool ? 0 : -1;
}

static int pool_teardown(void **state)
{
    (void)state;
    free(pool);
    pool = NULL;
    return 0;
}

struct queues {
    struct gort__runq q, thief;
    struct gort__globrunq gq;
};

static struct queues *queues_new(void)
{
    struct queues *qs = calloc(1, sizeof *qs);
    assert_non_null(qs);
    gort__runq_init(&qs->q);
    gort__runq_init(&qs->thief);
    gort__globrunq_init(&qs->gq);
    return qs;
}

/* Links g(from) .. g(from + n - 1) through schedlink for a batch put. */
static void link_range(long from, long n)
{
    for (long i = from; i < from + n; i++)
        g(i)->schedlink = i + 1 < from + n ? g(i + 1) : NULL;
}

/* Takes everything off the global queue one at a time and checks that it
 * comes out as g(want[0]), g(want[1]), ... */
static void expect_global(struct gort__globrunq *gq, const long *want, long n)
{
    assert_int_equal(gort__globrunq_len(gq), n);
    for (long i = 0; i < n; i++) {
        struct gort__g *gp = gort__globrunq_get(gq, NULL, 1);
        assert_non_null(gp);
        assert_int_equal(idx(gp), want[i]);
    }
    assert_null(gort__globrunq_get(gq, NULL, 1));
    assert_int_equal(gort__globrunq_len(gq), 0);
}

/* Pops the ring and checks it holds exactly g(from) .. g(from + n - 1). */
static void expect_ring(struct gort__runq *q, long from, long n)
{
    assert_int_equal(gort__runq_len(q), n);
    for (long i = 0; i < n; i++)
        assert_int_equal(idx(gort__runq_get(q)), from + i);
    assert_null(gort__runq_get(q));
    assert_int_equal(gort__runq_len(q), 0);
}

/* ---- the ring, single-threaded ------------------------------------------ */

static void test_empty(void **state)
{
    (void)state;
    struct queues *qs = queues_new();
    assert_int_equal(gort__runq_len(&qs->q), 0);
    assert_null(gort__runq_get(&qs->q));
    uint32_t n = 99;
    assert_null(gort__runq_steal(&qs->q, &qs->thief, &n));
    assert_int_equal(n, 0);
    assert_int_equal(gort__runq_len(&qs->thief), 0);
    assert_int_equal(gort__globrunq_len(&qs->gq), 0);
    assert_null(gort__globrunq_get(&qs->gq, &qs->q, 32));
    assert_null(gort__globrunq_get(&qs->gq, NULL, 1));
    free(qs);
}

static void test_fifo(void **state)
{
    (void)state;
    struct queues *qs = queues_new();
    for (long i = 0; i < 100; i++) {
        assert_true(gort__runq_put_fast(&qs->q, g(i)));
        assert_int_equal(gort__runq_len(&qs->q), i + 1);
    }
    expect_ring(&qs->q, 0, 100);
    /* Interleaved puts and gets keep FIFO order as slots wrap around the
     * 256-slot array many times. */
    long next_put = 0, next_get = 0;
    for (int round = 0; round < 40; round++) {
        for (int k = 0; k < 200; k++, next_put++)
            assert_true(gort__runq_put_fast(&qs->q, g(next_put % pool_n)));
        for (int k = 0; k < 150; k++, next_get++)
            assert_int_equal(idx(gort__runq_get(&qs->q)), next_get % pool_n);
        for (int k = 0; k < 50; k++, next_get++)
            assert_int_equal(idx(gort__runq_get(&qs->q)), next_get % pool_n);
        assert_int_equal(gort__runq_len(&qs->q), 0);
    }
    free(qs);
}

/* head and tail are free-running 32-bit counters: order and length must
 * survive their wrap from UINT32_MAX to 0. */
static void test_counter_wrap(void **state)
{
    (void)state;
    struct queues *qs = queues_new();
    atomic_store(&qs->q.head, UINT32_MAX - 100);
    atomic_store(&qs->q.tail, UINT32_MAX - 100);
    for (long i = 0; i < 256; i++)
        assert_true(gort__runq_put_fast(&qs->q, g(i)));
    assert_false(gort__runq_put_fast(&qs->q, g(256)));
    assert_int_equal(gort__runq_len(&qs->q), 256);
    /* A steal across the wrap point takes the oldest half. */
    uint32_t n = 0;
    struct gort__g *gp = gort__runq_steal(&qs->q, &qs->thief, &n);
    assert_int_equal(n, 128);
    assert_non_null(gp);
    assert_true(idx(gp) >= 0 && idx(gp) < 128);
    expect_ring(&qs->q, 128, 128);
    free(qs);
}

static void test_capacity_256(void **state)
{
    (void)state;
    struct queues *qs = queues_new();
    assert_int_equal(GORT_RUNQ_SIZE, 256);
    for (long i = 0; i < 256; i++)
        assert_true(gort__runq_put_fast(&qs->q, g(i)));
    assert_int_equal(gort__runq_len(&qs->q), 256);
    assert_false(gort__runq_put_fast(&qs->q, g(256)));
    assert_int_equal(gort__runq_len(&qs->q), 256);
    /* One out makes room for exactly one in. */
    assert_int_equal(idx(gort__runq_get(&qs->q)), 0);
    assert_true(gort__runq_put_fast(&qs->q, g(256)));
    assert_false(gort__runq_put_fast(&qs->q, g(257)));
    expect_ring(&qs->q, 1, 256);
    free(qs);
}

/* put on a full ring: the older half (128) plus the new one go to the
 * global queue in one batch, in order; the newer half stays on the ring. */
static void test_overflow_half_plus_one(void **state)
{
    (void)state;
    struct queues *qs = queues_new();
    for (long i = 0; i < 256; i++)
        gort__runq_put(&qs->q, &qs->gq, g(i));
    assert_int_equal(gort__globrunq_len(&qs->gq), 0);
    assert_int_equal(gort__runq_len(&qs->q), 256);

    gort__runq_put(&qs->q, &qs->gq, g(256));
    assert_int_equal(gort__globrunq_len(&qs->gq), 129);
    assert_int_equal(gort__runq_len(&qs->q), 128);

    long want[129];
    for (long i = 0; i < 128; i++)
        want[i] = i;
    want[128] = 256;
    expect_global(&qs->gq, want, 129);
    expect_ring(&qs->q, 128, 128);
    free(qs);
}

/* A second overflow appends its batch behind the first. */
static void test_overflow_twice(void **state)
{
    (void)state;
    struct queues *qs = queues_new();
    for (long i = 0; i < 257; i++)
        gort__runq_put(&qs->q, &qs->gq, g(i));
    /* ring: 128..255 (128 of them); 128 more fill it, the next overflows */
    for (long i = 257; i < 385; i++)
        gort__runq_put(&qs->q, &qs->gq, g(i));
    assert_int_equal(gort__runq_len(&qs->q), 256);
    assert_int_equal(gort__globrunq_len(&qs->gq), 129);
    gort__runq_put(&qs->q, &qs->gq, g(385));
    assert_int_equal(gort__globrunq_len(&qs->gq), 258);
    assert_int_equal(gort__runq_len(&qs->q), 128);

    long want[258], k = 0;
    for (long i = 0; i < 128; i++)
        want[k++] = i;
    want[k++] = 256;
    for (long i = 128; i < 256; i++)
        want[k++] = i;
    want[k++] = 385;
    expect_global(&qs->gq, want, k);
    expect_ring(&qs->q, 257, 128);
    free(qs);
}

/* Steal from a ring of n: takes n - n/2, the oldest ones; one comes back to
 * run now and the others sit on the thief's ring in their original order;
 * the victim keeps the rest in order. */
static void check_steal(long n)
{
    struct queues *qs = queues_new();
    for (long i = 0; i < n; i++)
        assert_true(gort__runq_put_fast(&qs->q, g(i)));
    uint32_t got = 12345;
    struct gort__g *gp = gort__runq_steal(&qs->q, &qs->thief, &got);
    long want = n - n / 2;
    assert_int_equal(got, want);
    assert_non_null(gp);
    assert_int_equal(gort__runq_len(&qs->thief), want - 1);
    assert_int_equal(gort__runq_len(&qs->q), n - want);

    /* Exactly g(0) .. g(want - 1) were taken: the one returned plus the
     * thief's ring, the ring in increasing order. */
    char seen[256] = {0};
    assert_true(idx(gp) >= 0 && idx(gp) < want);
    seen[idx(gp)] = 1;
    long prev = -1;
    struct gort__g *t;
    while ((t = gort__runq_get(&qs->thief)) != NULL) {
        long i = idx(t);
        assert_true(i >= 0 && i < want);
        assert_false(seen[i]);
        assert_true(i > prev);
        seen[i] = 1;
        prev = i;
    }
    for (long i = 0; i < want; i++)
        assert_true(seen[i]);
    expect_ring(&qs->q, want, n - want);
    free(qs);
}

static void test_steal_half(void **state)
{
    (void)state;
    static const long sizes[] = {1,   2,   3,   4,   5,   10, 11,
                                 127, 128, 129, 200, 255, 256};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        check_steal(sizes[i]);
}

/* The returned goroutine of a 1-element steal is that element; the thief's
 * ring stays empty. Spelled out because "1 → 1" is the edge of rounding. */
static void test_steal_one(void **state)
{
    (void)state;
    struct queues *qs = queues_new();
    assert_true(gort__runq_put_fast(&qs->q, g(7)));
    uint32_t got = 0;
    assert_ptr_equal(gort__runq_steal(&qs->q, &qs->thief, &got), g(7));
    assert_int_equal(got, 1);
    assert_int_equal(gort__runq_len(&qs->thief), 0);
    assert_int_equal(gort__runq_len(&qs->q), 0);
    free(qs);
}

/* A steal from a ring whose counters are far from zero. */
static void test_steal_after_use(void **state)
{
    (void)state;
    struct queues *qs = queues_new();
    for (long i = 0; i < 1000; i++) {
        assert_true(gort__runq_put_fast(&qs->q, g(i)));
        assert_int_equal(idx(gort__runq_get(&qs->q)), i);
    }
    for (long i = 0; i < 10; i++)
        assert_true(gort__runq_put_fast(&qs->q, g(i)));
    uint32_t got = 0;
    struct gort__g *gp = gort__runq_steal(&qs->q, &qs->thief, &got);
    assert_int_equal(got, 5);
    assert_true(idx(gp) >= 0 && idx(gp) < 5);
    assert_int_equal(gort__runq_len(&qs->thief), 4);
    expect_ring(&qs->q, 5, 5);
    free(qs);
}

/* ---- the global queue ---------------------------------------------------- */

static void test_globrunq_get_batch(void **state)
{
    (void)state;
    struct queues *qs = queues_new();
    link_range(0, 300);
    gort__globrunq_put_batch(&qs->gq, g(0), g(299), 300);
    assert_int_equal(gort__globrunq_len(&qs->gq), 300);

    /* max 10: the first comes back, nine more land on the ring, in order. */
    struct gort__g *gp = gort__globrunq_get(&qs->gq, &qs->q, 10);
    assert_int_equal(idx(gp), 0);
    assert_int_equal(gort__globrunq_len(&qs->gq), 290);
    expect_ring(&qs->q, 1, 9);

    /* No ring: exactly one. */
    assert_int_equal(idx(gort__globrunq_get(&qs->gq, NULL, 50)), 10);
    assert_int_equal(gort__globrunq_len(&qs->gq), 289);

    /* A batch never exceeds half a ring (Go's globrunqget cap). */
    gp = gort__globrunq_get(&qs->gq, &qs->q, 1000);
    assert_int_equal(idx(gp), 11);
    assert_int_equal(gort__globrunq_len(&qs->gq), 289 - 128);
    expect_ring(&qs->q, 12, 127);

    /* 161 left (139..299): capped at 128 again. */
    gp = gort__globrunq_get(&qs->gq, &qs->q, 250);
    assert_int_equal(idx(gp), 139);
    assert_int_equal(gort__globrunq_len(&qs->gq), 33);
    expect_ring(&qs->q, 140, 127);

    /* Asking for more than there is takes what there is (267..299). */
    gp = gort__globrunq_get(&qs->gq, &qs->q, 250);
    assert_int_equal(idx(gp), 267);
    expect_ring(&qs->q, 268, 32);
    assert_int_equal(gort__globrunq_len(&qs->gq), 0);
    assert_null(gort__globrunq_get(&qs->gq, &qs->q, 250));
    free(qs);
}

static void test_globrunq_push_front(void **state)
{
    (void)state;
    struct queues *qs = queues_new();
    link_range(0, 5);
    gort__globrunq_put_batch(&qs->gq, g(0), g(4), 5);
    link_range(10, 3);
    gort__globrunq_push_front(&qs->gq, g(10), g(12), 3);
    link_range(20, 2);
    gort__globrunq_put_batch(&qs->gq, g(20), g(21), 2);
    static const long want[] = {10, 11, 12, 0, 1, 2, 3, 4, 20, 21};
    expect_global(&qs->gq, want, 10);

    /* push_front into an empty queue sets its tail too. */
    link_range(30, 2);
    gort__globrunq_push_front(&qs->gq, g(30), g(31), 2);
    link_range(40, 1);
    gort__globrunq_put_batch(&qs->gq, g(40), g(40), 1);
    static const long want2[] = {30, 31, 40};
    expect_global(&qs->gq, want2, 3);
    free(qs);
}

/* A retiring P's ring (and the goroutine it was about to run) go to the
 * front of the global queue, ahead of older global work, in ring order. */
static void test_drain_to_global(void **state)
{
    (void)state;
    struct queues *qs = queues_new();
    link_range(0, 3);
    gort__globrunq_put_batch(&qs->gq, g(0), g(2), 3);
    for (long i = 100; i < 105; i++)
        assert_true(gort__runq_put_fast(&qs->q, g(i)));
    assert_int_equal(gort__runq_drain_to_global(&qs->q, &qs->gq, g(50)), 6);
    assert_int_equal(gort__runq_len(&qs->q), 0);
    static const long want[] = {50, 100, 101, 102, 103, 104, 0, 1, 2};
    expect_global(&qs->gq, want, 9);

    /* Nothing to drain: nothing moves. */
    assert_int_equal(gort__runq_drain_to_global(&qs->q, &qs->gq, NULL), 0);
    assert_int_equal(gort__globrunq_len(&qs->gq), 0);
    /* A full ring drains whole. */
    for (long i = 0; i < 256; i++)
        assert_true(gort__runq_put_fast(&qs->q, g(i)));
    assert_int_equal(gort__runq_drain_to_global(&qs->q, &qs->gq, NULL), 256);
    long want2[256];
    for (long i = 0; i < 256; i++)
        want2[i] = i;
    expect_global(&qs->gq, want2, 256);
    free(qs);
}

/* ---- concurrent: one owner, thieves ------------------------------------- */

/* The owner pushes N distinct goroutines (overflowing to the global queue
 * when thieves are slow) and pops some itself; thieves steal into their own
 * rings and drain them. Every goroutine must be taken exactly once. */
struct conc {
    struct gort__runq victim;
    struct gort__globrunq gq;
    struct gort__g *gs;
    long n;
    _Atomic unsigned char *seen;
    _Atomic int owner_done;
    _Atomic long taken;
    _Atomic long stolen;
    _Atomic long dup;
};

static void conc_take(struct conc *c, struct gort__g *gp)
{
    long i = (long)(gp - c->gs);
    if (i < 0 || i >= c->n || atomic_fetch_add(&c->seen[i], 1) != 0)
        atomic_fetch_add(&c->dup, 1);
    atomic_fetch_add(&c->taken, 1);
}

static void *thief_main(void *arg)
{
    struct conc *c = arg;
    struct gort__runq *mine = calloc(1, sizeof *mine);
    gort__runq_init(mine);
    for (;;) {
        int done = atomic_load(&c->owner_done);
        uint32_t n = 0;
        struct gort__g *gp = gort__runq_steal(&c->victim, mine, &n);
        if (gp) {
            atomic_fetch_add(&c->stolen, n);
            conc_take(c, gp);
            while ((gp = gort__runq_get(mine)) != NULL)
                conc_take(c, gp);
        } else if (done) {
            break; /* the owner stopped pushing before we found it empty */
        }
    }
    free(mine);
    return NULL;
}

static void run_concurrent(int nthieves)
{
    struct conc *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->n = rt_scale(400000, 100000);
    c->gs = calloc((size_t)c->n, sizeof *c->gs);
    c->seen = calloc((size_t)c->n, 1);
    assert_non_null(c->gs);
    assert_non_null(c->seen);
    gort__runq_init(&c->victim);
    gort__globrunq_init(&c->gq);

    pthread_t th[2];
    for (int i = 0; i < nthieves; i++)
        assert_int_equal(pthread_create(&th[i], NULL, thief_main, c), 0);

    /* Owner: push, and every third push also pop one (owner gets race the
     * thieves' CAS on head); now and then take from the global queue. */
    for (long i = 0; i < c->n; i++) {
        gort__runq_put(&c->victim, &c->gq, &c->gs[i]);
        struct gort__g *gp;
        if (i % 3 == 0 && (gp = gort__runq_get(&c->victim)) != NULL)
            conc_take(c, gp);
        if (i % 1024 == 0 && (gp = gort__globrunq_get(&c->gq, NULL, 1)))
            conc_take(c, gp);
    }
    atomic_store(&c->owner_done, 1);
    struct gort__g *gp;
    while ((gp = gort__runq_get(&c->victim)) != NULL)
        conc_take(c, gp);
    for (int i = 0; i < nthieves; i++)
        pthread_join(th[i], NULL);
    /* Thieves only take from the ring; what overflowed is still global. */
    while ((gp = gort__globrunq_get(&c->gq, NULL, 1)) != NULL)
        conc_take(c, gp);

    assert_int_equal(atomic_load(&c->dup), 0);
    assert_int_equal(atomic_load(&c->taken), c->n);
    for (long i = 0; i < c->n; i++)
        if (c->seen[i] != 1)
            fail_msg("goroutine %ld taken %d times", i, (int)c->seen[i]);
    assert_int_equal(gort__runq_len(&c->victim), 0);
    assert_int_equal(gort__globrunq_len(&c->gq), 0);
    print_message("%d thief(s): %ld items, %ld stolen\n", nthieves, c->n,
                  (long)atomic_load(&c->stolen));
    free(c->seen);
    free(c->gs);
    free(c);
}

static void test_concurrent_one_thief(void **state)
{
    (void)state;
    run_concurrent(1);
}

static void test_concurrent_two_thieves(void **state)
{
    (void)state;
    run_concurrent(2);
}

int main(void)
{
    rt_filter_from_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_fifo),
        cmocka_unit_test(test_counter_wrap),
        cmocka_unit_test(test_capacity_256),
        cmocka_unit_test(test_overflow_half_plus_one),
        cmocka_unit_test(test_overflow_twice),
        cmocka_unit_test(test_steal_half),
        cmocka_unit_test(test_steal_one),
        cmocka_unit_test(test_steal_after_use),
        cmocka_unit_test(test_globrunq_get_batch),
        cmocka_unit_test(test_globrunq_push_front),
        cmocka_unit_test(test_drain_to_global),
        cmocka_unit_test(test_concurrent_one_thief),
        cmocka_unit_test(test_concurrent_two_thieves),
    };
    return cmocka_run_group_tests_name("runq", tests, pool_setup,
                                       pool_teardown);
}
