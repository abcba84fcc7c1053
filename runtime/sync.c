/* sync.c — Mutex, WaitGroup, Once, RWMutex and Cond: they park goroutines,
 * never threads.
 *
 * Both keep a FIFO of waiters (records on the waiters' own stacks) under a
 * small futex lock (lock.c), and park with that lock's release as the
 * after-switch hook, so a waker can never see a waiter that is still on its
 * stack.
 *
 * Mutex: one CAS to lock or unlock when uncontended. A contended unlock hands
 * the lock directly to the oldest waiter (it stays LOCKED across the
 * handoff), so a waiter cannot starve. Go's normal mode lets a newcomer barge
 * in ahead of a woken waiter for throughput and switches to handoff after
 * 1 ms of starvation; handoff always is simpler and its cost only shows under
 * heavy contention, where gort's direct goroutine switch keeps it cheap.
 */
#include <stdlib.h>

#include "common/list.h"
#include "runtime.h"

#define MUTEX_LOCKED 1u
#define MUTEX_WAITERS 2u

struct waiter {
    struct gort__g *g;
    struct ilist_node link;
};

struct mutex_impl {
    _Atomic uint32_t state; /* MUTEX_LOCKED | MUTEX_WAITERS */
    gort__lock qlock;
    struct ilist waiters; /* of waiter.link, oldest first; under qlock */
};

/* Go's layout: the counter (high 32 bits) and the number of waiters (low
 * 32) in one word, so the Add that brings the counter to zero learns in
 * the same atomic step whether anyone waits. With nobody waiting it must
 * not touch the WaitGroup again: a Wait that saw zero may already have
 * returned and its owner freed or reused the memory. */
struct wg_impl {
    _Atomic uint64_t state;
    gort__lock qlock;
    struct ilist waiters; /* of waiter.link; under qlock */
};

#define WG_COUNT(st) ((int32_t)((st) >> 32))
#define WG_WAITERS(st) ((uint32_t)(st))

_Static_assert(sizeof(struct mutex_impl) <= sizeof(gort_mutex),
               "gort_mutex too small for its implementation");
_Static_assert(sizeof(struct wg_impl) <= sizeof(gort_waitgroup),
               "gort_waitgroup too small for its implementation");

static bool unlock_q(struct gort__g *gp, void *arg)
{
    (void)gp;
    gort__lock_release(arg);
    return true;
}

/* ---- Mutex -------------------------------------------------------------- */

int gort_mutex_trylock(gort_mutex *mu)
{
    struct mutex_impl *m = (struct mutex_impl *)mu;
    uint32_t unlocked = 0;
    return atomic_compare_exchange_strong_explicit(
        &m->state, &unlocked, MUTEX_LOCKED, memory_order_acquire,
        memory_order_relaxed);
}

static void mutex_lock_slow(struct mutex_impl *m)
{
    gort__lock_acquire(&m->qlock);
    uint32_t s = atomic_load_explicit(&m->state, memory_order_relaxed);
    for (;;) {
        if (!(s & MUTEX_LOCKED)) {
            if (atomic_compare_exchange_weak_explicit(
                    &m->state, &s, s | MUTEX_LOCKED, memory_order_acquire,
                    memory_order_relaxed)) {
                gort__lock_release(&m->qlock);
                return;
            }
            continue;
        }
        /* Announce a waiter before queueing: from here the unlocker cannot
         * take its fast path and must come through qlock. */
        if (atomic_compare_exchange_weak_explicit(
                &m->state, &s, s | MUTEX_WAITERS, memory_order_relaxed,
                memory_order_relaxed))
            break;
    }
    struct waiter me = {.g = gort__getg()};
    ilist_push_back(&m->waiters, &me.link);
    gort__park(unlock_q, &m->qlock, WR_MUTEX_LOCK);
    /* Woken by handoff: we own the lock. */
}

void gort_mutex_lock(gort_mutex *mu)
{
    struct mutex_impl *m = (struct mutex_impl *)mu;
    if (gort_mutex_trylock(mu))
        return;
    if (!gort__getg())
        gort__throw("gort_mutex_lock", "contended lock outside a goroutine");
    mutex_lock_slow(m);
}

static void mutex_unlock_slow(struct mutex_impl *m)
{
    gort__lock_acquire(&m->qlock);
    struct ilist_node *n = ilist_pop_front(&m->waiters);
    if (!n) {
        atomic_store_explicit(&m->state, 0, memory_order_release);
        gort__lock_release(&m->qlock);
        return;
    }
    atomic_store_explicit(&m->state,
                          MUTEX_LOCKED |
                              (ilist_empty(&m->waiters) ? 0 : MUTEX_WAITERS),
                          memory_order_release);
    /* The waiter dies once its goroutine runs. */
    struct gort__g *gp = ilist_entry(n, struct waiter, link)->g;
    gort__lock_release(&m->qlock);
    gort__ready(gp);
}

void gort_mutex_unlock(gort_mutex *mu)
{
    struct mutex_impl *m = (struct mutex_impl *)mu;
    uint32_t locked = MUTEX_LOCKED;
    if (atomic_compare_exchange_strong_explicit(
            &m->state, &locked, 0, memory_order_release, memory_order_relaxed))
        return;
    if (!(locked & MUTEX_LOCKED))
        gort__throw("gort_mutex_unlock", "unlock of unlocked mutex");
    mutex_unlock_slow(m);
}

/* ---- WaitGroup ---------------------------------------------------------- */

void gort_wg_add(gort_waitgroup *wg, int64_t delta)
{
    struct wg_impl *w = (struct wg_impl *)wg;
    if (delta > INT32_MAX || delta < INT32_MIN)
        gort__throw("gort_wg_add", "WaitGroup delta out of range");
    uint64_t st = atomic_fetch_add_explicit(&w->state, (uint64_t)delta << 32,
                                            memory_order_acq_rel) +
                  ((uint64_t)delta << 32);
    int64_t v = WG_COUNT(st);
    if (v < 0)
        gort__throw("gort_wg_add", "negative WaitGroup counter");
    if (v > 0 || delta == 0 || WG_WAITERS(st) == 0)
        return;
    /* Zero with waiters: they are parked (each registered under qlock), so
     * the WaitGroup is alive until they run. */
    gort__lock_acquire(&w->qlock);
    atomic_store_explicit(&w->state, 0, memory_order_release);
    struct ilist list = w->waiters;
    w->waiters = (struct ilist)ILIST_INIT;
    gort__lock_release(&w->qlock);
    struct ilist_node *n;
    /* Unlinked before the wake-up: a waiter dies once its g runs. */
    while ((n = ilist_pop_front(&list)) != NULL)
        gort__ready(ilist_entry(n, struct waiter, link)->g);
}

void gort_wg_done(gort_waitgroup *wg)
{
    gort_wg_add(wg, -1);
}

void gort_wg_wait(gort_waitgroup *wg)
{
    struct wg_impl *w = (struct wg_impl *)wg;
    uint64_t st = atomic_load_explicit(&w->state, memory_order_acquire);
    if (WG_COUNT(st) == 0)
        return;
    gort__lock_acquire(&w->qlock);
    /* Registered as a waiter only while the count is above zero. */
    st = atomic_load_explicit(&w->state, memory_order_acquire);
    do {
        if (WG_COUNT(st) == 0) {
            gort__lock_release(&w->qlock);
            return;
        }
    } while (!atomic_compare_exchange_weak_explicit(
        &w->state, &st, st + 1, memory_order_acq_rel, memory_order_acquire));
    struct waiter me = {.g = gort__getg()};
    ilist_push_back(&w->waiters, &me.link);
    gort__park(unlock_q, &w->qlock, WR_WAITGROUP_WAIT);
}

/* ---- Once ---------------------------------------------------------------
 *
 * Go's: an acquire load of `done` on the fast path; the slow path runs fn
 * under a mutex, so concurrent callers park until it has returned. */

struct once_impl {
    _Atomic uint32_t done;
    gort_mutex mu;
};

_Static_assert(sizeof(struct once_impl) <= sizeof(gort_once),
               "gort_once too small for its implementation");

void gort_once_do(gort_once *o, gort_fn fn, void *arg)
{
    struct once_impl *x = (struct once_impl *)o;
    if (atomic_load_explicit(&x->done, memory_order_acquire))
        return;
    gort_mutex_lock(&x->mu);
    if (!atomic_load_explicit(&x->done, memory_order_relaxed)) {
        fn(arg);
        atomic_store_explicit(&x->done, 1, memory_order_release);
    }
    gort_mutex_unlock(&x->mu);
}

/* ---- RWMutex ------------------------------------------------------------
 *
 * Go's design with a queue lock instead of semaphores: writers serialize
 * on a gort_mutex, then announce themselves (`writer`), which turns new
 * readers away into a queue; the writer waits for the readers already in
 * (`readers`) to leave, the last of which hands it the lock. Unlock admits
 * every queued reader at once, before the next writer can announce itself
 * (it is still blocked on the writers' mutex), so readers cannot starve
 * either. The counters sit under qlock: a read lock costs one short
 * critical section, simpler than Go's atomics and enough for gortd's uses
 * (plugin tables, caches), where the guarded work dwarfs it. */

struct rw_impl {
    gort_mutex w; /* writers, one at a time */
    gort__lock qlock;
    int32_t readers;       /* holding a read lock; under qlock */
    bool writer;           /* a writer holds or waits for the lock */
    bool writing;          /* it holds it */
    struct gort__g *wwait; /* the writer waiting for readers to leave */
    struct ilist rwait;    /* readers turned away, of waiter.link */
};

_Static_assert(sizeof(struct rw_impl) <= sizeof(gort_rwmutex),
               "gort_rwmutex too small for its implementation");

void gort_rwmutex_rlock(gort_rwmutex *rw)
{
    struct rw_impl *r = (struct rw_impl *)rw;
    gort__lock_acquire(&r->qlock);
    if (!r->writer) {
        r->readers++;
        gort__lock_release(&r->qlock);
        return;
    }
    struct waiter me = {.g = gort__getg()};
    if (!me.g)
        gort__throw("gort_rwmutex_rlock", "contended lock outside a goroutine");
    ilist_push_back(&r->rwait, &me.link);
    gort__park(unlock_q, &r->qlock, WR_RWMUTEX_RLOCK);
    /* The writer's unlock counted us in readers. */
}

void gort_rwmutex_runlock(gort_rwmutex *rw)
{
    struct rw_impl *r = (struct rw_impl *)rw;
    gort__lock_acquire(&r->qlock);
    if (r->readers <= 0)
        gort__throw("gort_rwmutex_runlock", "RUnlock of unlocked RWMutex");
    struct gort__g *w = NULL;
    if (--r->readers == 0 && r->wwait) {
        w = r->wwait;
        r->wwait = NULL;
        r->writing = true;
    }
    gort__lock_release(&r->qlock);
    if (w)
        gort__ready(w);
}

void gort_rwmutex_lock(gort_rwmutex *rw)
{
    struct rw_impl *r = (struct rw_impl *)rw;
    gort_mutex_lock(&r->w);
    gort__lock_acquire(&r->qlock);
    r->writer = true;
    if (r->readers == 0) {
        r->writing = true;
        gort__lock_release(&r->qlock);
        return;
    }
    r->wwait = gort__getg();
    if (!r->wwait)
        gort__throw("gort_rwmutex_lock", "contended lock outside a goroutine");
    gort__park(unlock_q, &r->qlock, WR_RWMUTEX_LOCK);
    /* The last reader out set writing and woke us. */
}

void gort_rwmutex_unlock(gort_rwmutex *rw)
{
    struct rw_impl *r = (struct rw_impl *)rw;
    gort__lock_acquire(&r->qlock);
    if (!r->writing)
        gort__throw("gort_rwmutex_unlock", "Unlock of unlocked RWMutex");
    r->writing = false;
    r->writer = false;
    struct ilist list = r->rwait;
    r->rwait = (struct ilist)ILIST_INIT;
    for (struct ilist_node *n = list.first; n; n = n->next)
        r->readers++;
    gort__lock_release(&r->qlock);
    struct ilist_node *n;
    while ((n = ilist_pop_front(&list)) != NULL)
        gort__ready(ilist_entry(n, struct waiter, link)->g);
    gort_mutex_unlock(&r->w);
}

/* ---- Cond ---------------------------------------------------------------
 *
 * A FIFO of waiters under qlock. Wait queues itself before it unlocks the
 * mutex and parks with qlock's release as the after-switch hook, so a
 * signal sent any time after the caller's unlock finds it queued (Go's
 * notifyList ticket does the same with a counter). */

struct cond_impl {
    gort__lock qlock;
    struct ilist waiters; /* of waiter.link, oldest first */
};

_Static_assert(sizeof(struct cond_impl) <= sizeof(gort_cond),
               "gort_cond too small for its implementation");

void gort_cond_wait(gort_cond *cv, gort_mutex *mu)
{
    struct cond_impl *c = (struct cond_impl *)cv;
    struct waiter me = {.g = gort__getg()};
    if (!me.g)
        gort__throw("gort_cond_wait", "called outside a goroutine");
    gort__lock_acquire(&c->qlock);
    ilist_push_back(&c->waiters, &me.link);
    gort_mutex_unlock(mu);
    gort__park(unlock_q, &c->qlock, WR_COND_WAIT);
    gort_mutex_lock(mu);
}

void gort_cond_signal(gort_cond *cv)
{
    struct cond_impl *c = (struct cond_impl *)cv;
    gort__lock_acquire(&c->qlock);
    struct ilist_node *n = ilist_pop_front(&c->waiters);
    gort__lock_release(&c->qlock);
    if (n)
        gort__ready(ilist_entry(n, struct waiter, link)->g);
}

void gort_cond_broadcast(gort_cond *cv)
{
    struct cond_impl *c = (struct cond_impl *)cv;
    gort__lock_acquire(&c->qlock);
    struct ilist list = c->waiters;
    c->waiters = (struct ilist)ILIST_INIT;
    gort__lock_release(&c->qlock);
    struct ilist_node *n;
    while ((n = ilist_pop_front(&list)) != NULL)
        gort__ready(ilist_entry(n, struct waiter, link)->g);
}
