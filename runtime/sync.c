/* sync.c — Mutex and WaitGroup that park goroutines, never threads.
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

struct wg_impl {
    _Atomic int64_t counter;
    gort__lock qlock;
    struct ilist waiters; /* of waiter.link; under qlock */
};

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
    int64_t v =
        atomic_fetch_add_explicit(&w->counter, delta, memory_order_acq_rel) +
        delta;
    if (v < 0)
        gort__throw("gort_wg_add", "negative WaitGroup counter");
    if (v > 0 || delta == 0)
        return;
    gort__lock_acquire(&w->qlock);
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
    if (atomic_load_explicit(&w->counter, memory_order_acquire) == 0)
        return;
    gort__lock_acquire(&w->qlock);
    if (atomic_load_explicit(&w->counter, memory_order_acquire) == 0) {
        gort__lock_release(&w->qlock);
        return;
    }
    struct waiter me = {.g = gort__getg()};
    ilist_push_back(&w->waiters, &me.link);
    gort__park(unlock_q, &w->qlock, WR_WAITGROUP_WAIT);
}
