/* timer.c — timers: one binary min-heap of deadlines under one lock.
 *
 * gort_sleep, I/O deadlines, context deadlines (context.c) and the SDK's
 * timers, tickers and AfterFunc (the second half of this file) all use it.
 * Timers are embedded in their owners (a sleeping goroutine's stack, a poll
 * descriptor, a gort_timer), so arming one allocates nothing once the heap
 * has grown.
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

/* ---- Timers, tickers, AfterFunc (the SDK's, over the same heap) ---------
 *
 * A gort_timer embeds its heap entry, so arm, stop and reset allocate
 * nothing and cost O(log n) under the heap lock. The entry's callback runs
 * on whichever thread fires timers, after the entry left the heap and
 * without the heap lock, so it can race with a stop or reset: the timer's
 * own lock orders them. A stop or reset that finds the entry already
 * popped (gort__timer_del false) while the timer is still active knows one
 * callback for it is in flight and counts it in `stale`; that callback
 * then does nothing. Each arming ends in exactly one of "deleted" or "one
 * callback", so the count is exact whatever order concurrent firers run
 * in. A timer freed while a stale callback is in flight is freed by that
 * callback (`dead`). Go 1.23's no-stale-value promise then holds: under
 * the lock, stop drops an undelivered value from the channel, and no
 * callback from before the stop can send afterwards. */

enum tkind { TK_CHAN, TK_FUNC, TK_TICKER };

struct gort_timer {
    struct gort__timer t;
    gort__lock lock;
    enum tkind kind;
    bool active;    /* armed, from the owner's view (under lock) */
    bool dead;      /* freed while stale callbacks were in flight */
    bool chan_ours; /* free the channel with the timer (not gort_after's) */
    uint32_t stale; /* callbacks in flight that must do nothing */
    int64_t period; /* tickers */
    gort_chan *c;
    gort_fn fn;
    void *arg;
};

static void tmr_fire(struct gort__timer *ht)
{
    struct gort_timer *t = ht->arg;
    gort__lock_acquire(&t->lock);
    if (t->stale > 0) {
        bool last = --t->stale == 0 && t->dead;
        gort__lock_release(&t->lock);
        if (last)
            free(t);
        return;
    }
    if (!t->active) {
        gort__lock_release(&t->lock);
        return;
    }
    int64_t now = gort_nanotime();
    if (t->kind == TK_FUNC) {
        t->active = false;
        gort_fn fn = t->fn;
        void *arg = t->arg;
        gort__lock_release(&t->lock);
        /* After the release the owner may free t: fn and arg are copies. */
        if (gort_go(fn, arg) < 0)
            gort__throw("gort_after_func", "cannot start a goroutine");
        return;
    }
    gort__chan_trysend(t->c, &now); /* full: a slow receiver drops it */
    if (t->kind == TK_TICKER) {
        /* Go's rule: the next tick after now on the original grid. */
        int64_t when = t->t.when + t->period;
        if (when <= now)
            when += t->period * ((now - when) / t->period + 1);
        if (gort__timer_add(&t->t, when) != 0)
            gort__throw("gort_ticker", "out of memory for the timer heap");
    } else {
        t->active = false;
    }
    gort__lock_release(&t->lock);
}

static struct gort_timer *tmr_alloc(enum tkind kind, gort_fn fn, void *arg)
{
    struct gort_timer *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->kind = kind;
    t->fn = fn;
    t->arg = arg;
    gort__timer_init(&t->t, tmr_fire, t);
    if (kind != TK_FUNC) {
        t->c = gort_chan_make(sizeof(int64_t), 1);
        if (!t->c) {
            free(t);
            return NULL;
        }
        t->chan_ours = true;
    }
    return t;
}

/* Under t->lock: disarm; true when it was armed. */
static bool tmr_disarm(struct gort_timer *t)
{
    if (!t->active)
        return false;
    t->active = false;
    if (!gort__timer_del(&t->t))
        t->stale++;
    return true;
}

/* Under t->lock. */
static int tmr_stop_locked(struct gort_timer *t)
{
    bool pending = tmr_disarm(t);
    if (t->c && gort__chan_drain(t->c) > 0)
        pending = true;
    return pending;
}

static int tmr_arm_locked(struct gort_timer *t, int64_t d)
{
    int64_t now = gort_nanotime();
    int64_t when = d > 0 && d < INT64_MAX - now ? now + d
                   : d > 0                      ? INT64_MAX
                                                : now;
    int rc = gort__timer_add(&t->t, when);
    if (rc == 0)
        t->active = true;
    return rc;
}

static gort_timer *tmr_start(enum tkind kind, int64_t d, int64_t period,
                             gort_fn fn, void *arg)
{
    struct gort_timer *t = tmr_alloc(kind, fn, arg);
    if (!t)
        return NULL;
    t->period = period;
    gort__lock_acquire(&t->lock);
    int rc = tmr_arm_locked(t, d);
    gort__lock_release(&t->lock);
    if (rc != 0) {
        gort_chan_free(t->c);
        free(t);
        return NULL;
    }
    return t;
}

gort_timer *gort_timer_new(int64_t d)
{
    return tmr_start(TK_CHAN, d, 0, NULL, NULL);
}

gort_timer *gort_after_func(int64_t d, gort_fn fn, void *arg)
{
    if (!fn)
        return NULL;
    return tmr_start(TK_FUNC, d, 0, fn, arg);
}

gort_chan *gort_timer_chan(gort_timer *t)
{
    return t ? t->c : NULL;
}

int gort_timer_stop(gort_timer *t)
{
    if (!t)
        return 0;
    gort__lock_acquire(&t->lock);
    int pending = tmr_stop_locked(t);
    gort__lock_release(&t->lock);
    return pending;
}

int gort_timer_reset(gort_timer *t, int64_t d)
{
    if (!t)
        return -EINVAL;
    gort__lock_acquire(&t->lock);
    int pending = tmr_stop_locked(t);
    int rc = tmr_arm_locked(t, d);
    gort__lock_release(&t->lock);
    return rc < 0 ? rc : pending;
}

/* Stops t and frees it (and its channel when it is the timer's). */
static void tmr_free(struct gort_timer *t)
{
    gort__lock_acquire(&t->lock);
    tmr_disarm(t);
    gort_chan *c = t->chan_ours ? t->c : NULL;
    t->c = NULL;
    bool now = t->stale == 0;
    t->dead = true;
    gort__lock_release(&t->lock);
    if (c)
        gort_chan_free(c);
    if (now)
        free(t);
}

void gort_timer_free(gort_timer *t)
{
    if (t)
        tmr_free(t);
}

/* gort_chan_free of a gort_after channel lands here first. */
static void after_fin(void *arg)
{
    tmr_free(arg);
}

gort_chan *gort_after(int64_t d)
{
    struct gort_timer *t = gort_timer_new(d);
    if (!t)
        return NULL;
    gort__lock_acquire(&t->lock);
    t->chan_ours = false;
    gort_chan *c = t->c;
    gort__chan_set_fin(c, after_fin, t);
    gort__lock_release(&t->lock);
    return c;
}

gort_ticker *gort_ticker_new(int64_t d)
{
    if (d <= 0)
        return NULL;
    return (gort_ticker *)tmr_start(TK_TICKER, d, d, NULL, NULL);
}

gort_chan *gort_ticker_chan(gort_ticker *tk)
{
    return tk ? ((struct gort_timer *)tk)->c : NULL;
}

void gort_ticker_stop(gort_ticker *tk)
{
    gort_timer_stop((struct gort_timer *)tk);
}

int gort_ticker_reset(gort_ticker *tk, int64_t d)
{
    struct gort_timer *t = (struct gort_timer *)tk;
    if (!t || d <= 0)
        return -EINVAL;
    gort__lock_acquire(&t->lock);
    tmr_stop_locked(t);
    t->period = d;
    int rc = tmr_arm_locked(t, d);
    gort__lock_release(&t->lock);
    return rc;
}

void gort_ticker_free(gort_ticker *tk)
{
    if (tk)
        tmr_free((struct gort_timer *)tk);
}

int64_t gort__timer_when(gort_timer *t)
{
    gort__lock_acquire(&t->lock);
    int64_t when = t->t.when;
    gort__lock_release(&t->lock);
    return when;
}
