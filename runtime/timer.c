/* timer.c — timers: one binary min-heap of deadlines under one lock.
 *
 * gort_sleep, I/O deadlines and (later) HTTP timeouts all use it. Timers are
 * embedded in their owners (a sleeping goroutine's stack, a poll
 * descriptor), so arming one allocates nothing once the heap has grown.
 * Deleting a timer takes it out of the heap at once (each timer knows its
 * slot), so a cancelled deadline costs nothing later: Go's lazy deletion
 * leaves dead timers in the heap until they surface.
 *
 * The netpoller thread runs due timers and sleeps in epoll_wait until the
 * next deadline; arming an earlier timer breaks that wait (netpoll.c).
 * Measured choice: one heap, not one per P. A per-P heap needs a P to own
 * it, and here the goroutines that arm timers park right after, while the
 * one thread that fires them holds no P; a shared heap under a short lock is
 * simpler and was never the bottleneck in the echo and sleep benchmarks.
 */
#include "timer.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "netpoll.h"
#include "runtime.h"

static struct {
    gort__lock lock;
    struct gort__timer **heap; /* under lock */
    int32_t n, cap;
    _Atomic int64_t next;   /* heap[0]->when, INT64_MAX when empty */
    _Atomic uint64_t count; /* n, for readers without the lock */
} tm = {.lock = GORT__LOCK_INIT, .next = INT64_MAX};

void gort__timer_init(struct gort__timer *t, gort__timer_fn f, void *arg)
{
    t->when = 0;
    t->idx = -1;
    t->f = f;
    t->arg = arg;
}

static void place(int32_t i, struct gort__timer *t)
{
    tm.heap[i] = t;
    t->idx = i;
}

static void sift_up(int32_t i)
{
    struct gort__timer *t = tm.heap[i];
    while (i > 0) {
        int32_t parent = (i - 1) / 2;
        if (tm.heap[parent]->when <= t->when)
            break;
        place(i, tm.heap[parent]);
        i = parent;
    }
    place(i, t);
}

static void sift_down(int32_t i)
{
    struct gort__timer *t = tm.heap[i];
    for (;;) {
        int32_t l = 2 * i + 1, r = l + 1, m = i;
        int64_t best = t->when;
        if (l < tm.n && tm.heap[l]->when < best) {
            m = l;
            best = tm.heap[l]->when;
        }
        if (r < tm.n && tm.heap[r]->when < best)
            m = r;
        if (m == i)
            break;
        place(i, tm.heap[m]);
        i = m;
    }
    place(i, t);
}

static void publish_next(void)
{
    atomic_store_explicit(&tm.next, tm.n ? tm.heap[0]->when : INT64_MAX,
                          memory_order_release);
    atomic_store_explicit(&tm.count, (uint64_t)tm.n, memory_order_relaxed);
}

/* Under lock. */
static void remove_at(int32_t i)
{
    tm.heap[i]->idx = -1;
    tm.n--;
    if (i == tm.n)
        return;
    struct gort__timer *moved = tm.heap[tm.n];
    place(i, moved);
    sift_down(i);
    sift_up(moved->idx);
}

static int grow(void)
{
    int32_t cap = tm.cap ? tm.cap * 2 : 256;
    struct gort__timer **h = realloc(tm.heap, (size_t)cap * sizeof *h);
    if (!h)
        return -ENOMEM;
    tm.heap = h;
    tm.cap = cap;
    return 0;
}

/* Under lock: arm and report whether t became the earliest. */
static int add_locked(struct gort__timer *t, int64_t when, bool *earliest)
{
    if (t->idx >= 0)
        remove_at(t->idx);
    if (tm.n == tm.cap && grow() != 0)
        return -ENOMEM;
    t->when = when;
    place(tm.n, t);
    sift_up(tm.n++);
    *earliest = tm.heap[0] == t;
    publish_next();
    return 0;
}

int gort__timer_add(struct gort__timer *t, int64_t when)
{
    bool earliest = false;
    gort__lock_acquire(&tm.lock);
    int rc = add_locked(t, when, &earliest);
    gort__lock_release(&tm.lock);
    if (earliest)
        gort__netpoll_break();
    return rc;
}

bool gort__timer_del(struct gort__timer *t)
{
    gort__lock_acquire(&tm.lock);
    bool armed = t->idx >= 0;
    if (armed) {
        remove_at(t->idx);
        publish_next();
    }
    gort__lock_release(&tm.lock);
    return armed;
}

int64_t gort__timers_next(void)
{
    return atomic_load_explicit(&tm.next, memory_order_acquire);
}

uint64_t gort__timers_len(void)
{
    return atomic_load_explicit(&tm.count, memory_order_relaxed);
}

#define FIRE_BATCH 64

int64_t gort__timers_run(int64_t now)
{
    struct gort__timer *due[FIRE_BATCH];
    while (gort__timers_next() <= now) {
        int n = 0;
        /* Collect under the lock, fire without it: a callback takes other
         * locks (a poll descriptor's) that are held while arming timers. */
        gort__lock_acquire(&tm.lock);
        while (n < FIRE_BATCH && tm.n && tm.heap[0]->when <= now) {
            due[n++] = tm.heap[0];
            remove_at(0);
        }
        publish_next();
        gort__lock_release(&tm.lock);
        for (int i = 0; i < n; i++)
            due[i]->f(due[i]);
    }
    return gort__timers_next();
}

/* ---- sleep -------------------------------------------------------------- */

struct sleeper {
    struct gort__timer t;
    struct gort__g *g;
};

static void sleep_fire(struct gort__timer *t)
{
    struct sleeper *s = t->arg;
    /* In deadline order to the global queue's tail (see gort__ready_global).
     * Last touch: s lives on s->g's stack. */
    gort__ready_global(s->g);
}

static bool unlock_timers(struct gort__g *gp, void *arg)
{
    (void)gp;
    (void)arg;
    gort__lock_release(&tm.lock);
    return true;
}

void gort__timer_sleep(int64_t ns)
{
    struct sleeper s = {.g = gort__getg()};
    gort__timer_init(&s.t, sleep_fire, &s);
    bool earliest = false;
    gort__lock_acquire(&tm.lock);
    if (add_locked(&s.t, gort_nanotime() + ns, &earliest) != 0)
        gort__throw("gort_sleep", "out of memory for the timer heap");
    if (earliest)
        gort__netpoll_break();
    /* The lock drops once we are off our stack: the timer cannot fire (and
     * ready us) before we are parked. */
    gort__park(unlock_timers, NULL, WR_SLEEP);
}

void gort_sleep(int64_t ns)
{
    if (!gort__getg()) {
        struct timespec ts = {.tv_sec = ns / 1000000000,
                              .tv_nsec = ns % 1000000000};
        if (ns > 0)
            nanosleep(&ts, NULL);
        return;
    }
    if (ns <= 0) {
        gort_yield();
        return;
    }
    gort__timer_sleep(ns);
}
