/* sysmon.c — the runtime's own thread: timers and stack scavenging.
 *
 * sysmon runs without a P, like Go's. For now it owns the one timer heap
 * (a binary min-heap of deadlines under a futex lock): gort_sleep pushes a
 * timer that lives on the sleeping goroutine's stack and parks; sysmon
 * sleeps on a futex until the earliest deadline (or until a new earliest
 * deadline is pushed), then readies every expired goroutine onto the global
 * queue. Once a second it also gives back the pages of pooled stacks (see
 * stack.c), off every hot path: a goroutine's exit never pays a madvise.
 *
 * The netpoller will take over the blocking wait (epoll_wait's timeout is the
 * next timer) so that a wake-up need not cross threads.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "runtime.h"

#define SCAVENGE_PERIOD_NS 1000000000LL

struct gort__timer {
    int64_t when;
    struct gort__g *g;
};

static struct {
    gort__lock lock;
    struct gort__timer **heap; /* under lock */
    size_t n, cap;
    _Atomic uint32_t gen;      /* bumped when an earlier deadline arrives */
    pthread_t thread;
} tm = {.lock = GORT__LOCK_INIT};

static void heap_swap(size_t i, size_t j)
{
    struct gort__timer *t = tm.heap[i];
    tm.heap[i] = tm.heap[j];
    tm.heap[j] = t;
}

static void heap_up(size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (tm.heap[parent]->when <= tm.heap[i]->when)
            break;
        heap_swap(i, parent);
        i = parent;
    }
}

static void heap_down(size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < tm.n && tm.heap[l]->when < tm.heap[m]->when)
            m = l;
        if (r < tm.n && tm.heap[r]->when < tm.heap[m]->when)
            m = r;
        if (m == i)
            return;
        heap_swap(i, m);
        i = m;
    }
}

static int heap_push(struct gort__timer *t)
{
    if (tm.n == tm.cap) {
        size_t cap = tm.cap ? tm.cap * 2 : 64;
        struct gort__timer **h = realloc(tm.heap, cap * sizeof *h);
        if (!h)
            return -ENOMEM;
        tm.heap = h;
        tm.cap = cap;
    }
    tm.heap[tm.n] = t;
    heap_up(tm.n++);
    return 0;
}

static struct gort__timer *heap_pop(void)
{
    struct gort__timer *t = tm.heap[0];
    tm.heap[0] = tm.heap[--tm.n];
    if (tm.n)
        heap_down(0);
    return t;
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
    struct gort__timer t = {.when = gort_nanotime() + ns, .g = gort__getg()};
    gort__lock_acquire(&tm.lock);
    if (heap_push(&t) != 0)
        gort__throw("gort_sleep", "out of memory for timer heap");
    if (tm.heap[0] == &t) {
        atomic_fetch_add_explicit(&tm.gen, 1, memory_order_release);
        gort__futex_wake(&tm.gen, 1);
    }
    /* The lock is released after we are off our stack: sysmon cannot ready
     * us before we are parked. */
    gort__park(unlock_timers, NULL, WR_SLEEP);
}

void gort_sleep(int64_t ns)
{
    if (!gort__getg()) {
        struct timespec ts = {ns / 1000000000, ns % 1000000000};
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

/* Readies expired timers; returns the next deadline or INT64_MAX. */
static int64_t run_timers(int64_t now)
{
    struct gort__g *ready = NULL;
    gort__lock_acquire(&tm.lock);
    while (tm.n && tm.heap[0]->when <= now) {
        struct gort__timer *t = heap_pop();
        t->g->schedlink = ready; /* t dies once its goroutine runs */
        ready = t->g;
    }
    int64_t next = tm.n ? tm.heap[0]->when : INT64_MAX;
    gort__lock_release(&tm.lock);
    while (ready) {
        struct gort__g *gp = ready;
        ready = gp->schedlink;
        gort__ready(gp);
    }
    return next;
}

static void *sysmon(void *arg)
{
    (void)arg;
    int64_t next_scavenge = gort_nanotime() + SCAVENGE_PERIOD_NS;
    for (;;) {
        uint32_t gen = atomic_load_explicit(&tm.gen, memory_order_acquire);
        int64_t now = gort_nanotime();
        int64_t next = run_timers(now);
        if (now >= next_scavenge) {
            gort__stack_scavenge_pool();
            next_scavenge = now + SCAVENGE_PERIOD_NS;
        }
        if (next > next_scavenge)
            next = next_scavenge;
        int64_t wait = next - gort_nanotime();
        if (wait > 0)
            gort__futex_wait(&tm.gen, gen, wait);
    }
    return NULL;
}

int gort__sysmon_start(void)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&tm.thread, &attr, sysmon, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return rc == 0 ? 0 : -EAGAIN;
}
