/* test_chan.c — channels: unbuffered hand-over, buffered full and empty,
 * close, select (ready, blocking, default, nil and closed cases, fairness),
 * and many producers and consumers across Ps.
 *
 * "Blocked" is never guessed from elapsed time: a goroutine is blocked when
 * gort_goroutines_each reports it in the wait state ("chan send" …).
 */
#include "rt_test.h"

/* One channel operation on its own goroutine, watched by the main one. */
struct op {
    gort_chan *c;
    long val; /* sent, or received (after done) */
    int rc;   /* the call's return (after done) */
    _Atomic int done;
    int64_t id;
};

static void op_send(void *arg)
{
    struct op *o = arg;
    o->rc = gort_chan_send(o->c, &o->val);
    atomic_store_explicit(&o->done, 1, memory_order_release);
}

static void op_recv(void *arg)
{
    struct op *o = arg;
    o->val = -7;
    o->rc = gort_chan_recv(o->c, &o->val);
    atomic_store_explicit(&o->done, 1, memory_order_release);
}

static void op_start(struct op *o, gort_fn fn, gort_chan *c, long val)
{
    memset(o, 0, sizeof *o);
    o->c = c;
    o->val = val;
    o->id = gort_go(fn, o);
    RT_CHECK_INT(o->id, >, 0);
}

static int op_done(struct op *o)
{
    return atomic_load_explicit(&o->done, memory_order_acquire);
}

static void op_wait(struct op *o)
{
    RT_YIELD_UNTIL(op_done(o));
}

/* ---- unbuffered --------------------------------------------------------- */

struct elem {
    uint64_t k, triple, inverse;
};

#define NPAIRS 16
static struct pairs {
    gort_chan *c[NPAIRS];
    long n;
    _Atomic int finished; /* consumers and producers past their last call */
} pr;

static void pair_producer(void *arg)
{
    gort_chan *c = arg;
    for (long k = 0; k < pr.n; k++) {
        struct elem e = {(uint64_t)k, (uint64_t)k * 3, ~(uint64_t)k};
        RT_CHECK_INT(gort_chan_send(c, &e), ==, 0);
    }
    RT_CHECK_INT(gort_chan_close(c), ==, 0);
    atomic_fetch_add(&pr.finished, 1);
}

static void pair_consumer(void *arg)
{
    gort_chan *c = arg;
    struct elem e;
    for (long k = 0; k < pr.n; k++) {
        memset(&e, 0xab, sizeof e);
        RT_CHECK_INT(gort_chan_recv(c, &e), ==, 1);
        if (e.k != (uint64_t)k || e.triple != (uint64_t)k * 3 ||
            e.inverse != ~(uint64_t)k) {
            RT_CHECK_INT(e.k, ==, k);
            break;
        }
    }
    memset(&e, 0xab, sizeof e);
    RT_CHECK_INT(gort_chan_recv(c, &e), ==, 0);
    RT_CHECK(e.k == 0 && e.triple == 0 && e.inverse == 0); /* zeroed */
    atomic_fetch_add(&pr.finished, 1);
}

static void pairs_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(2);
    for (int i = 0; i < NPAIRS; i++) {
        pr.c[i] = gort_chan_make(sizeof(struct elem), 0);
        RT_CHECK(pr.c[i] != NULL);
        RT_CHECK_INT(gort_chan_cap(pr.c[i]), ==, 0);
    }
    for (int i = 0; i < NPAIRS; i++) {
        gort_go(pair_consumer, pr.c[i]);
        gort_go(pair_producer, pr.c[i]);
    }
    RT_YIELD_UNTIL(atomic_load(&pr.finished) == 2 * NPAIRS);
    for (int i = 0; i < NPAIRS; i++)
        gort_chan_free(pr.c[i]);
}

/* Sixteen sender/receiver pairs, each on its own unbuffered channel of a
 * 24-byte element: every element arrives whole and in order. */
static void test_unbuffered_pairs(void **state)
{
    (void)state;
    memset(&pr, 0, sizeof pr);
    pr.n = rt_scale(20000, 2000);
    rt_run(pairs_main, NULL);
}

/* An unbuffered send waits for a receiver, and a receive for a sender. */
static void handover_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(2);
    gort_chan *c = gort_chan_make(sizeof(long), 0);
    struct op s, r;

    op_start(&s, op_send, c, 42);
    rt_wait_state(s.id, "chan send");
    RT_CHECK(!op_done(&s));
    RT_CHECK_INT(gort_chan_len(c), ==, 0);
    long v = 0;
    RT_CHECK_INT(gort_chan_recv(c, &v), ==, 1);
    RT_CHECK_INT(v, ==, 42);
    op_wait(&s);
    RT_CHECK_INT(s.rc, ==, 0);

    op_start(&r, op_recv, c, 0);
    rt_wait_state(r.id, "chan receive");
    RT_CHECK(!op_done(&r));
    v = 77;
    RT_CHECK_INT(gort_chan_send(c, &v), ==, 0);
    op_wait(&r);
    RT_CHECK_INT(r.rc, ==, 1);
    RT_CHECK_INT(r.val, ==, 77);
    gort_chan_free(c);
}

static void test_unbuffered_blocks(void **state)
{
    (void)state;
    rt_run(handover_main, NULL);
}

/* ---- buffered ----------------------------------------------------------- */

static void buffered_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(2);
    gort_chan *c = gort_chan_make(sizeof(long), 4);
    RT_CHECK_INT(gort_chan_cap(c), ==, 4);
    RT_CHECK_INT(gort_chan_len(c), ==, 0);
    /* Four sends fit without a receiver (a hang here means they blocked). */
    for (long i = 0; i < 4; i++) {
        RT_CHECK_INT(gort_chan_send(c, &i), ==, 0);
        RT_CHECK_INT(gort_chan_len(c), ==, i + 1);
    }
    /* The fifth blocks until a slot frees. */
    struct op s;
    op_start(&s, op_send, c, 4);
    rt_wait_state(s.id, "chan send");
    RT_CHECK(!op_done(&s));
    RT_CHECK_INT(gort_chan_len(c), ==, 4);
    long v = -1;
    RT_CHECK_INT(gort_chan_recv(c, &v), ==, 1);
    RT_CHECK_INT(v, ==, 0);
    op_wait(&s);
    RT_CHECK_INT(s.rc, ==, 0);
    RT_CHECK_INT(gort_chan_len(c), ==, 4);
    /* FIFO across the buffer and the sender that was blocked. */
    for (long i = 1; i <= 4; i++) {
        RT_CHECK_INT(gort_chan_recv(c, &v), ==, 1);
        RT_CHECK_INT(v, ==, i);
    }
    RT_CHECK_INT(gort_chan_len(c), ==, 0);
    /* Empty: a receive blocks until a send. */
    struct op r;
    op_start(&r, op_recv, c, 0);
    rt_wait_state(r.id, "chan receive");
    RT_CHECK(!op_done(&r));
    v = 99;
    RT_CHECK_INT(gort_chan_send(c, &v), ==, 0);
    op_wait(&r);
    RT_CHECK_INT(r.rc, ==, 1);
    RT_CHECK_INT(r.val, ==, 99);
    RT_CHECK_INT(gort_chan_len(c), ==, 0);
    gort_chan_free(c);
}

static void test_buffered_full_empty(void **state)
{
    (void)state;
    rt_run(buffered_main, NULL);
}

/* Several receivers blocked on an empty buffered channel are served in
 * turn by later sends, each value exactly once. */
static void buffered_waiters_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(2);
    enum { N = 8 };
    gort_chan *c = gort_chan_make(sizeof(long), 2);
    struct op r[N];
    for (int i = 0; i < N; i++) {
        op_start(&r[i], op_recv, c, 0);
        rt_wait_state(r[i].id, "chan receive");
    }
    for (long v = 100; v < 100 + N; v++)
        RT_CHECK_INT(gort_chan_send(c, &v), ==, 0);
    long sum = 0;
    for (int i = 0; i < N; i++) {
        op_wait(&r[i]);
        RT_CHECK_INT(r[i].rc, ==, 1);
        RT_CHECK(r[i].val >= 100 && r[i].val < 100 + N);
        sum += r[i].val;
    }
    RT_CHECK_INT(sum, ==, N * 100 + N * (N - 1) / 2);
    gort_chan_free(c);
}

static void test_buffered_waiters(void **state)
{
    (void)state;
    rt_run(buffered_waiters_main, NULL);
}

/* ---- close -------------------------------------------------------------- */

static void close_main(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(sizeof(long), 3);
    for (long i = 10; i < 13; i++)
        RT_CHECK_INT(gort_chan_send(c, &i), ==, 0);
    RT_CHECK_INT(gort_chan_close(c), ==, 0);
    RT_CHECK_INT(gort_chan_len(c), ==, 3);
    long v;
    for (long i = 10; i < 13; i++) { /* what was sent before close drains */
        v = -1;
        RT_CHECK_INT(gort_chan_recv(c, &v), ==, 1);
        RT_CHECK_INT(v, ==, i);
    }
    for (int k = 0; k < 3; k++) { /* then: closed, zero value, at once */
        v = -1;
        RT_CHECK_INT(gort_chan_recv(c, &v), ==, 0);
        RT_CHECK_INT(v, ==, 0);
    }
    RT_CHECK_INT(gort_chan_recv(c, NULL), ==, 0);
    v = 5;
    RT_CHECK_INT(gort_chan_send(c, &v), ==, -EPIPE);
    RT_CHECK_INT(gort_chan_close(c), ==, -EPIPE);
    RT_CHECK_INT(gort_chan_len(c), ==, 0);
    gort_chan_free(c);

    gort_chan *u = gort_chan_make(sizeof(long), 0);
    RT_CHECK_INT(gort_chan_close(u), ==, 0);
    RT_CHECK_INT(gort_chan_send(u, &v), ==, -EPIPE);
    v = -1;
    RT_CHECK_INT(gort_chan_recv(u, &v), ==, 0);
    RT_CHECK_INT(v, ==, 0);
    RT_CHECK_INT(gort_chan_close(u), ==, -EPIPE);
    gort_chan_free(u);
}

static void test_close_semantics(void **state)
{
    (void)state;
    rt_run(close_main, NULL);
}

/* Close wakes every blocked receiver (they get 0) and every blocked sender
 * (they get -EPIPE); what a full buffer held still drains. */
static void close_wakes_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(2);
    enum { N = 10 };
    struct op ops[N];

    gort_chan *c = gort_chan_make(sizeof(long), 0);
    for (int i = 0; i < N; i++)
        op_start(&ops[i], op_recv, c, 0);
    for (int i = 0; i < N; i++)
        rt_wait_state(ops[i].id, "chan receive");
    RT_CHECK_INT(gort_chan_close(c), ==, 0);
    for (int i = 0; i < N; i++) {
        op_wait(&ops[i]);
        RT_CHECK_INT(ops[i].rc, ==, 0);
        RT_CHECK_INT(ops[i].val, ==, 0);
    }
    gort_chan_free(c);

    c = gort_chan_make(sizeof(long), 0);
    for (int i = 0; i < N; i++)
        op_start(&ops[i], op_send, c, i);
    for (int i = 0; i < N; i++)
        rt_wait_state(ops[i].id, "chan send");
    RT_CHECK_INT(gort_chan_close(c), ==, 0);
    for (int i = 0; i < N; i++) {
        op_wait(&ops[i]);
        RT_CHECK_INT(ops[i].rc, ==, -EPIPE);
    }
    RT_CHECK_INT(gort_chan_recv(c, NULL), ==, 0);
    gort_chan_free(c);

    c = gort_chan_make(sizeof(long), 1);
    long v = 500;
    RT_CHECK_INT(gort_chan_send(c, &v), ==, 0);
    op_start(&ops[0], op_send, c, 501);
    op_start(&ops[1], op_send, c, 502);
    rt_wait_state(ops[0].id, "chan send");
    rt_wait_state(ops[1].id, "chan send");
    RT_CHECK_INT(gort_chan_close(c), ==, 0);
    op_wait(&ops[0]);
    op_wait(&ops[1]);
    RT_CHECK_INT(ops[0].rc, ==, -EPIPE);
    RT_CHECK_INT(ops[1].rc, ==, -EPIPE);
    v = -1;
    RT_CHECK_INT(gort_chan_recv(c, &v), ==, 1);
    RT_CHECK_INT(v, ==, 500);
    RT_CHECK_INT(gort_chan_recv(c, &v), ==, 0);
    gort_chan_free(c);
}

static void test_close_wakes_blocked(void **state)
{
    (void)state;
    rt_run(close_wakes_main, NULL);
}

/* ---- zero-size elements and NULL buffers -------------------------------- */

static void zero_size_main(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(0, 0); /* Go's chan struct{} */
    struct op s;
    op_start(&s, op_send, c, 0); /* sends &o->val, but 0 bytes of it */
    RT_CHECK_INT(gort_chan_recv(c, NULL), ==, 1);
    op_wait(&s);
    RT_CHECK_INT(s.rc, ==, 0);
    gort_chan_free(c);

    c = gort_chan_make(0, 5);
    for (int i = 0; i < 5; i++)
        RT_CHECK_INT(gort_chan_send(c, NULL), ==, 0);
    RT_CHECK_INT(gort_chan_len(c), ==, 5);
    for (int i = 0; i < 5; i++)
        RT_CHECK_INT(gort_chan_recv(c, NULL), ==, 1);
    RT_CHECK_INT(gort_chan_len(c), ==, 0);
    gort_chan_free(c);

    /* A receive into NULL drops a real element. */
    c = gort_chan_make(sizeof(long), 2);
    long v = 3;
    RT_CHECK_INT(gort_chan_send(c, &v), ==, 0);
    v = 4;
    RT_CHECK_INT(gort_chan_send(c, &v), ==, 0);
    RT_CHECK_INT(gort_chan_recv(c, NULL), ==, 1);
    RT_CHECK_INT(gort_chan_recv(c, &v), ==, 1);
    RT_CHECK_INT(v, ==, 4);
    gort_chan_free(c);
}

static void test_zero_size_and_null(void **state)
{
    (void)state;
    rt_run(zero_size_main, NULL);
}

/* ---- select ------------------------------------------------------------- */

static void sel_case(struct gort_select_case *sc, gort_chan *c, int dir,
                     void *elem)
{
    sc->chan = c;
    sc->dir = dir;
    sc->elem = elem;
    sc->ok = 12345;
}

static void select_nonblocking_main(void *arg)
{
    (void)arg;
    gort_chan *a = gort_chan_make(sizeof(long), 1);
    gort_chan *b = gort_chan_make(sizeof(long), 1);
    gort_chan *u = gort_chan_make(sizeof(long), 0);
    long ra = -1, rb = -1, v = 7;
    struct gort_select_case sc[4];

    /* Nothing ready: the default branch. */
    sel_case(&sc[0], a, GORT_SELECT_RECV, &ra);
    sel_case(&sc[1], b, GORT_SELECT_RECV, &rb);
    sel_case(&sc[2], u, GORT_SELECT_SEND, &v); /* nobody receives */
    RT_CHECK_INT(gort_select(sc, 3, 0), ==, -EAGAIN);
    RT_CHECK_INT(gort_select(sc, 0, 0), ==, -EAGAIN);
    RT_CHECK_INT(gort_chan_len(a), ==, 0);

    /* A ready receive fires, and only it. */
    long x = 31;
    RT_CHECK_INT(gort_chan_send(b, &x), ==, 0);
    sel_case(&sc[0], a, GORT_SELECT_RECV, &ra);
    sel_case(&sc[1], b, GORT_SELECT_RECV, &rb);
    RT_CHECK_INT(gort_select(sc, 2, 0), ==, 1);
    RT_CHECK_INT(sc[1].ok, ==, 1);
    RT_CHECK_INT(rb, ==, 31);
    RT_CHECK_INT(ra, ==, -1);
    RT_CHECK_INT(gort_chan_len(b), ==, 0);

    /* A send case with buffer room fires; one on a full buffer cannot. */
    x = 1;
    RT_CHECK_INT(gort_chan_send(a, &x), ==, 0);
    long sa = 50, sb = 51;
    sel_case(&sc[0], a, GORT_SELECT_SEND, &sa);
    sel_case(&sc[1], b, GORT_SELECT_SEND, &sb);
    RT_CHECK_INT(gort_select(sc, 2, 1), ==, 1);
    RT_CHECK_INT(gort_chan_len(a), ==, 1);
    RT_CHECK_INT(gort_chan_len(b), ==, 1);
    RT_CHECK_INT(gort_chan_recv(b, &x), ==, 1);
    RT_CHECK_INT(x, ==, 51);
    RT_CHECK_INT(gort_chan_recv(a, &x), ==, 1);
    RT_CHECK_INT(x, ==, 1);

    gort_chan_free(a);
    gort_chan_free(b);
    gort_chan_free(u);
}

static void test_select_nonblocking(void **state)
{
    (void)state;
    rt_run(select_nonblocking_main, NULL);
}

/* nil channels never fire (Go's select on a nil chan); closed ones do. */
static void select_nil_closed_main(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(sizeof(long), 1);
    long v = 8, r = -1;
    struct gort_select_case sc[3];
    sel_case(&sc[0], NULL, GORT_SELECT_RECV, &r);
    sel_case(&sc[1], NULL, GORT_SELECT_SEND, &v);
    RT_CHECK_INT(gort_select(sc, 2, 0), ==, -EAGAIN);
    RT_CHECK_INT(gort_chan_send(c, &v), ==, 0);
    sel_case(&sc[0], NULL, GORT_SELECT_RECV, &r);
    sel_case(&sc[1], NULL, GORT_SELECT_SEND, &v);
    sel_case(&sc[2], c, GORT_SELECT_RECV, &r);
    for (int k = 0; k < 1; k++) {
        RT_CHECK_INT(gort_select(sc, 3, 1), ==, 2);
        RT_CHECK_INT(r, ==, 8);
        RT_CHECK_INT(sc[2].ok, ==, 1);
    }

    /* A receive case on a closed channel fires with ok = 0, zero value. */
    RT_CHECK_INT(gort_chan_close(c), ==, 0);
    r = -1;
    sel_case(&sc[0], NULL, GORT_SELECT_RECV, &r);
    sel_case(&sc[1], c, GORT_SELECT_RECV, &r);
    RT_CHECK_INT(gort_select(sc, 2, 0), ==, 1);
    RT_CHECK_INT(sc[1].ok, ==, 0);
    RT_CHECK_INT(r, ==, 0);
    RT_CHECK_INT(gort_select(sc, 2, 1), ==, 1); /* blocking: same */

    /* A send case on a closed channel fires with ok = -EPIPE. */
    sel_case(&sc[0], c, GORT_SELECT_SEND, &v);
    RT_CHECK_INT(gort_select(sc, 1, 1), ==, 0);
    RT_CHECK_INT(sc[0].ok, ==, -EPIPE);
    RT_CHECK_INT(gort_select(sc, 1, 0), ==, 0);
    RT_CHECK_INT(sc[0].ok, ==, -EPIPE);
    gort_chan_free(c);
}

static void test_select_nil_and_closed(void **state)
{
    (void)state;
    rt_run(select_nil_closed_main, NULL);
}

/* A blocking select parks ("select") until another goroutine makes one of
 * its cases ready: a send to a receive case, a receive from a send case, a
 * close. */
static struct selblock {
    gort_chan *a, *b, *c;
    int64_t main_id;
    _Atomic int phase;
    _Atomic int partner_done;
    long got;
} sbk;

static void select_partner(void *arg)
{
    (void)arg;
    long v = 64;
    rt_wait_state(sbk.main_id, "select");
    RT_CHECK_INT(gort_chan_send(sbk.b, &v), ==, 0);
    RT_YIELD_UNTIL(atomic_load(&sbk.phase) == 1);
    rt_wait_state(sbk.main_id, "select");
    RT_CHECK_INT(gort_chan_recv(sbk.c, &sbk.got), ==, 1);
    atomic_store(&sbk.phase, 2);
    RT_YIELD_UNTIL(atomic_load(&sbk.phase) == 3);
    rt_wait_state(sbk.main_id, "select");
    RT_CHECK_INT(gort_chan_close(sbk.a), ==, 0);
    atomic_store(&sbk.partner_done, 1);
}

static void select_blocking_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(2);
    sbk.main_id = gort_id();
    sbk.a = gort_chan_make(sizeof(long), 0);
    sbk.b = gort_chan_make(sizeof(long), 0);
    sbk.c = gort_chan_make(sizeof(long), 0);
    gort_go(select_partner, NULL);

    long ra = -1, rb = -1, sc_val = 1234;
    struct gort_select_case sc[3];
    sel_case(&sc[0], sbk.a, GORT_SELECT_RECV, &ra);
    sel_case(&sc[1], sbk.b, GORT_SELECT_RECV, &rb);
    sel_case(&sc[2], sbk.c, GORT_SELECT_SEND, &sc_val);
    RT_CHECK_INT(gort_select(sc, 3, 1), ==, 1);
    RT_CHECK_INT(sc[1].ok, ==, 1);
    RT_CHECK_INT(rb, ==, 64);
    RT_CHECK_INT(ra, ==, -1);

    atomic_store(&sbk.phase, 1);
    RT_CHECK_INT(gort_select(sc, 3, 1), ==, 2);
    RT_YIELD_UNTIL(atomic_load(&sbk.phase) == 2);
    RT_CHECK_INT(sbk.got, ==, 1234);

    atomic_store(&sbk.phase, 3);
    RT_CHECK_INT(gort_select(sc, 3, 1), ==, 0);
    RT_CHECK_INT(sc[0].ok, ==, 0);
    RT_CHECK_INT(ra, ==, 0);
    RT_YIELD_UNTIL(atomic_load(&sbk.partner_done));
    gort_chan_free(sbk.a);
    gort_chan_free(sbk.b);
    gort_chan_free(sbk.c);
}

static void test_select_blocking(void **state)
{
    (void)state;
    memset(&sbk, 0, sizeof sbk);
    rt_run(select_blocking_main, NULL);
}

/* Two always-ready cases: over 2000 selects each must win a fair share.
 * Uniform choice gives 1000 ± 22 (one sigma); requiring 1/10 of the picks
 * fails only for a biased select, never by bad luck. */
static int fair_picks[2];

static void select_fair_main(void *arg)
{
    (void)arg;
    gort_chan *c[2] = {gort_chan_make(sizeof(long), 1),
                       gort_chan_make(sizeof(long), 1)};
    long v = 1, r[2];
    for (int i = 0; i < 2; i++)
        RT_CHECK_INT(gort_chan_send(c[i], &v), ==, 0);
    struct gort_select_case sc[2];
    for (int k = 0; k < 2000; k++) {
        sel_case(&sc[0], c[0], GORT_SELECT_RECV, &r[0]);
        sel_case(&sc[1], c[1], GORT_SELECT_RECV, &r[1]);
        int i = gort_select(sc, 2, 1);
        if (i != 0 && i != 1) {
            RT_CHECK_INT(i, >=, 0);
            break;
        }
        fair_picks[i]++;
        RT_CHECK_INT(gort_chan_send(c[i], &v), ==, 0); /* ready again */
    }
    gort_chan_free(c[0]);
    gort_chan_free(c[1]);
}

static void test_select_fairness(void **state)
{
    (void)state;
    fair_picks[0] = fair_picks[1] = 0;
    rt_run(select_fair_main, NULL);
    print_message("picks: %d / %d\n", fair_picks[0], fair_picks[1]);
    assert_int_equal(fair_picks[0] + fair_picks[1], 2000);
    assert_true(fair_picks[0] >= 200);
    assert_true(fair_picks[1] >= 200);
}

/* ---- many producers, many consumers ------------------------------------- */

#define NPROD 8
#define NCONS 8
static struct mpmc {
    gort_chan *data, *done, *sums;
    long per;        /* values each producer sends: 1..per */
    _Atomic int out; /* goroutines past their last channel call */
} mp;

static void mp_producer(void *arg)
{
    (void)arg;
    for (long v = 1; v <= mp.per; v++)
        RT_CHECK_INT(gort_chan_send(mp.data, &v), ==, 0);
    RT_CHECK_INT(gort_chan_send(mp.done, NULL), ==, 0);
    atomic_fetch_add(&mp.out, 1);
}

static void mp_consumer(void *arg)
{
    (void)arg;
    long v, sum[2] = {0, 0}; /* sum, count */
    while (gort_chan_recv(mp.data, &v) == 1) {
        sum[0] += v;
        sum[1]++;
    }
    RT_CHECK_INT(gort_chan_send(mp.sums, sum), ==, 0);
    atomic_fetch_add(&mp.out, 1);
}

/* The last producer done closes data; the consumers then drain it and
 * report; the totals must be exact. */
static void mp_closer(void *arg)
{
    (void)arg;
    for (int i = 0; i < NPROD; i++)
        RT_CHECK_INT(gort_chan_recv(mp.done, NULL), ==, 1);
    RT_CHECK_INT(gort_chan_close(mp.data), ==, 0);
    atomic_fetch_add(&mp.out, 1);
}

static void mpmc_main(void *arg)
{
    size_t cap = (size_t)(uintptr_t)arg;
    gort_gomaxprocs(4);
    atomic_store(&mp.out, 0);
    mp.data = gort_chan_make(sizeof(long), cap);
    mp.done = gort_chan_make(0, 0);
    mp.sums = gort_chan_make(2 * sizeof(long), 0);
    for (int i = 0; i < NCONS; i++)
        gort_go(mp_consumer, NULL);
    gort_go(mp_closer, NULL);
    for (int i = 0; i < NPROD; i++)
        gort_go(mp_producer, NULL);
    long total = 0, count = 0, s[2];
    for (int i = 0; i < NCONS; i++) {
        RT_CHECK_INT(gort_chan_recv(mp.sums, s), ==, 1);
        total += s[0];
        count += s[1];
    }
    RT_CHECK_INT(count, ==, NPROD * mp.per);
    RT_CHECK_INT(total, ==, NPROD * (mp.per * (mp.per + 1) / 2));
    /* gort has no GC: free only once nobody is inside a channel call. */
    RT_YIELD_UNTIL(atomic_load(&mp.out) == NPROD + NCONS + 1);
    gort_chan_free(mp.data);
    gort_chan_free(mp.done);
    gort_chan_free(mp.sums);
}

static void test_mpmc_buffered_p4(void **state)
{
    (void)state;
    mp.per = rt_scale(50000, 5000);
    rt_run(mpmc_main, (void *)(uintptr_t)16);
}

static void test_mpmc_unbuffered_p4(void **state)
{
    (void)state;
    mp.per = rt_scale(50000, 5000);
    rt_run(mpmc_main, (void *)(uintptr_t)0);
}

/* The same through select: producers offer each value to two channels at
 * once, consumers take from both; a consumer sets a channel's case to nil
 * once it is closed and drained, and leaves when both are. */
static struct selmp {
    gort_chan *a, *b, *done, *sums;
    long per;
    _Atomic int out;
} smp;

static void smp_producer(void *arg)
{
    (void)arg;
    struct gort_select_case sc[2];
    for (long v = 1; v <= smp.per; v++) {
        long x = v;
        sel_case(&sc[0], smp.a, GORT_SELECT_SEND, &x);
        sel_case(&sc[1], smp.b, GORT_SELECT_SEND, &x);
        int i = gort_select(sc, 2, 1);
        if (i != 0 && i != 1) {
            RT_CHECK_INT(i, >=, 0);
            break;
        }
        RT_CHECK_INT(sc[i].ok, !=, -EPIPE);
    }
    RT_CHECK_INT(gort_chan_send(smp.done, NULL), ==, 0);
    atomic_fetch_add(&smp.out, 1);
}

static void smp_consumer(void *arg)
{
    (void)arg;
    gort_chan *ch[2] = {smp.a, smp.b};
    long sum[2] = {0, 0}, v;
    struct gort_select_case sc[2];
    while (ch[0] || ch[1]) {
        sel_case(&sc[0], ch[0], GORT_SELECT_RECV, &v);
        sel_case(&sc[1], ch[1], GORT_SELECT_RECV, &v);
        int i = gort_select(sc, 2, 1);
        if (i != 0 && i != 1) {
            RT_CHECK_INT(i, >=, 0);
            break;
        }
        if (sc[i].ok == 1) {
            sum[0] += v;
            sum[1]++;
        } else {
            RT_CHECK_INT(sc[i].ok, ==, 0);
            ch[i] = NULL;
        }
    }
    RT_CHECK_INT(gort_chan_send(smp.sums, sum), ==, 0);
    atomic_fetch_add(&smp.out, 1);
}

static void smp_closer(void *arg)
{
    (void)arg;
    for (int i = 0; i < NPROD; i++)
        RT_CHECK_INT(gort_chan_recv(smp.done, NULL), ==, 1);
    RT_CHECK_INT(gort_chan_close(smp.a), ==, 0);
    RT_CHECK_INT(gort_chan_close(smp.b), ==, 0);
    atomic_fetch_add(&smp.out, 1);
}

static void select_mpmc_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(4);
    atomic_store(&smp.out, 0);
    smp.a = gort_chan_make(sizeof(long), 0);
    smp.b = gort_chan_make(sizeof(long), 8);
    smp.done = gort_chan_make(0, 0);
    smp.sums = gort_chan_make(2 * sizeof(long), 0);
    for (int i = 0; i < NCONS; i++)
        gort_go(smp_consumer, NULL);
    gort_go(smp_closer, NULL);
    for (int i = 0; i < NPROD; i++)
        gort_go(smp_producer, NULL);
    long total = 0, count = 0, s[2];
    for (int i = 0; i < NCONS; i++) {
        RT_CHECK_INT(gort_chan_recv(smp.sums, s), ==, 1);
        total += s[0];
        count += s[1];
    }
    RT_CHECK_INT(count, ==, NPROD * smp.per);
    RT_CHECK_INT(total, ==, NPROD * (smp.per * (smp.per + 1) / 2));
    RT_YIELD_UNTIL(atomic_load(&smp.out) == NPROD + NCONS + 1);
    gort_chan_free(smp.a);
    gort_chan_free(smp.b);
    gort_chan_free(smp.done);
    gort_chan_free(smp.sums);
}

static void test_select_mpmc_p4(void **state)
{
    (void)state;
    smp.per = rt_scale(20000, 2000);
    rt_run(select_mpmc_main, NULL);
}

/* Selects on the same channels from both ends at once: one goroutine's
 * select sends where another's select receives (Go's select-to-select
 * hand-over, where each side's waker must win the other's CAS). */
static struct selsel {
    gort_chan *x, *y;
    long n;
    _Atomic long received;
    _Atomic int senders_done;
    _Atomic int receivers_done;
} ss;

static void ss_sender(void *arg)
{
    (void)arg;
    struct gort_select_case sc[2];
    for (long v = 0; v < ss.n; v++) {
        long x = 1;
        sel_case(&sc[0], ss.x, GORT_SELECT_SEND, &x);
        sel_case(&sc[1], ss.y, GORT_SELECT_SEND, &x);
        int i = gort_select(sc, 2, 1);
        RT_CHECK(i == 0 || i == 1);
    }
    atomic_fetch_add(&ss.senders_done, 1);
}

static void ss_receiver(void *arg)
{
    (void)arg;
    struct gort_select_case sc[2];
    long r;
    for (;;) {
        sel_case(&sc[0], ss.x, GORT_SELECT_RECV, &r);
        sel_case(&sc[1], ss.y, GORT_SELECT_RECV, &r);
        int i = gort_select(sc, 2, 1);
        if (i != 0 && i != 1) {
            RT_CHECK_INT(i, >=, 0);
            break;
        }
        if (sc[i].ok == 0)
            break; /* closed: main closes both once all was received */
        atomic_fetch_add(&ss.received, r);
    }
    atomic_fetch_add(&ss.receivers_done, 1);
}

static void select_select_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(4);
    ss.x = gort_chan_make(sizeof(long), 0);
    ss.y = gort_chan_make(sizeof(long), 0);
    for (int i = 0; i < 4; i++) {
        gort_go(ss_receiver, NULL);
        gort_go(ss_sender, NULL);
    }
    RT_YIELD_UNTIL(atomic_load(&ss.senders_done) == 4);
    RT_YIELD_UNTIL(atomic_load(&ss.received) == 4 * ss.n);
    RT_CHECK_INT(atomic_load(&ss.received), ==, 4 * ss.n);
    gort_chan_close(ss.x);
    gort_chan_close(ss.y);
    RT_YIELD_UNTIL(atomic_load(&ss.receivers_done) == 4);
    gort_chan_free(ss.x);
    gort_chan_free(ss.y);
}

static void test_select_to_select_p4(void **state)
{
    (void)state;
    memset(&ss, 0, sizeof ss);
    ss.n = rt_scale(20000, 2000);
    rt_run(select_select_main, NULL);
}

/* ---- a long close keeps its P ---------------------------------------------
 *
 * gort_chan_close readies its waiters inside the runtime gate: however long
 * it takes, sysmon must not take its P as from a long runner (hand-over to
 * another thread, the readies off any P). The close is made long on
 * purpose: each receiver's 1 MiB element is zeroed by the close, in pages
 * never touched before, so hundreds of milliseconds of first-touch faults
 * (over sysmon's 10 ms) happen inside the call. */

#define LC_WAITERS 32
#define LC_ELEM (1024 * 1024)

static struct longclose {
    gort_chan *c;
    unsigned char *bufs;
    gort_waitgroup ready, done;
    _Atomic int zeroed;
} lc;

static void lc_receiver(void *arg)
{
    unsigned char *elem = lc.bufs + (uintptr_t)arg * LC_ELEM;
    elem[0] = 0xa5; /* zeroed by the close, with the rest */
    gort_wg_done(&lc.ready);
    RT_CHECK_INT(gort_chan_recv(lc.c, elem), ==, 0);
    if (elem[0] == 0 && elem[LC_ELEM - 1] == 0)
        atomic_fetch_add(&lc.zeroed, 1);
    gort_wg_done(&lc.done);
}

/* One long close; returns the Ps sysmon took from long runners meanwhile. */
static long longclose_once(void)
{
    lc.c = gort_chan_make(LC_ELEM, 0);
    RT_CHECK(lc.c != NULL);
    lc.bufs = malloc((size_t)LC_WAITERS * LC_ELEM);
    RT_CHECK(lc.bufs != NULL);
    lc.ready = (gort_waitgroup)GORT_WAITGROUP_INIT;
    lc.done = (gort_waitgroup)GORT_WAITGROUP_INIT;
    atomic_store(&lc.zeroed, 0);
    gort_wg_add(&lc.ready, LC_WAITERS);
    gort_wg_add(&lc.done, LC_WAITERS);
    for (uintptr_t i = 0; i < LC_WAITERS; i++)
        gort_go(lc_receiver, (void *)i);
    gort_wg_wait(&lc.ready);
    gort_sleep(20 * 1000 * 1000); /* the last ones park */
    static struct gort_stats before, after;
    RT_CHECK_INT(gort_stats_read(&before), ==, 0);
    int64_t t0 = gort_nanotime();
    RT_CHECK_INT(gort_chan_close(lc.c), ==, 0);
    int64_t took = gort_nanotime() - t0;
    RT_CHECK_INT(gort_stats_read(&after), ==, 0);
    gort_wg_wait(&lc.done);
    RT_CHECK_INT(atomic_load(&lc.zeroed), ==, LC_WAITERS);
    if (took < 20 * 1000 * 1000)
        /* Too fast to tell (a machine with fast faults): say so. */
        fprintf(stderr, "long close: only %lld ms\n",
                (long long)(took / 1000000));
    gort_chan_free(lc.c);
    free(lc.bufs);
    return (long)(after.retakes_long - before.retakes_long);
}

/* The kernel descheduling this thread for 10 ms on a loaded machine looks
 * to sysmon like a long runner too, wherever it happens in the window: a
 * run without any retake proves the close itself kept its P (the close
 * before the gate was retaken in every run). */
static void longclose_main(void *arg)
{
    (void)arg;
    long retaken = 0;
    for (int run = 0; run < 3; run++)
        if ((retaken = longclose_once()) == 0)
            break;
    RT_CHECK_INT(retaken, ==, 0);
}

static void test_long_close_keeps_p(void **state)
{
    (void)state;
    rt_run(longclose_main, NULL);
}

int main(void)
{
    rt_filter_from_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unbuffered_pairs),
        cmocka_unit_test(test_unbuffered_blocks),
        cmocka_unit_test(test_buffered_full_empty),
        cmocka_unit_test(test_buffered_waiters),
        cmocka_unit_test(test_close_semantics),
        cmocka_unit_test(test_close_wakes_blocked),
        cmocka_unit_test(test_zero_size_and_null),
        cmocka_unit_test(test_select_nonblocking),
        cmocka_unit_test(test_select_nil_and_closed),
        cmocka_unit_test(test_select_blocking),
        cmocka_unit_test(test_select_fairness),
        cmocka_unit_test(test_mpmc_buffered_p4),
        cmocka_unit_test(test_mpmc_unbuffered_p4),
        cmocka_unit_test(test_select_mpmc_p4),
        cmocka_unit_test(test_select_to_select_p4),
        cmocka_unit_test(test_long_close_keeps_p),
    };
    return cmocka_run_group_tests_name("chan", tests, NULL, NULL);
}
