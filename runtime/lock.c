/* lock.c — futex-based mutex and notes for the runtime's internal use.
 *
 * The mutex: acquire is a CAS, then a short spin (critical sections here
 * are a few dozen instructions), then a futex sleep with a counted sleeper;
 * release is a store and a load (lock.h says why, and what bounds the one
 * race that buys).
 */
#include "lock.h"

#include "common/clock.h"

#include <errno.h>
#include <stdbool.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SPIN_TRIES 64

static inline void cpu_relax(void)
{
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

void gort__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t ns)
{
    struct timespec ts, *tsp = NULL;
    if (ns >= 0) {
        ts.tv_sec = ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        tsp = &ts;
    }
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, tsp, NULL, 0);
}

void gort__futex_wake(_Atomic uint32_t *addr, int n)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

#define SLEEP_RECHECK_NS 1000000 /* bound on a missed wake-up, see lock.h */

/* Its own cache line: every release reads it, and it must not share a line
 * with data other threads write. */
_Alignas(64) _Atomic uint32_t gort__lock_sleepers;

static bool try_acquire(gort__lock *l)
{
    uint32_t unlocked = 0;
    return atomic_load_explicit(&l->state, memory_order_relaxed) == 0 &&
           atomic_compare_exchange_weak_explicit(&l->state, &unlocked, 1,
                                                 memory_order_acquire,
                                                 memory_order_relaxed);
}

void gort__lock_acquire_slow(gort__lock *l)
{
    for (int i = 0; i < SPIN_TRIES; i++) {
        if (try_acquire(l))
            return;
        cpu_relax();
    }
    atomic_fetch_add_explicit(&gort__lock_sleepers, 1, memory_order_seq_cst);
    while (!try_acquire(l))
        gort__futex_wait(&l->state, 1, SLEEP_RECHECK_NS);
    atomic_fetch_sub_explicit(&gort__lock_sleepers, 1, memory_order_relaxed);
}

void gort__lock_release_slow(gort__lock *l)
{
    gort__futex_wake(&l->state, 1);
}

void gort__note_clear(gort__note *n)
{
    atomic_store_explicit(&n->key, 0, memory_order_relaxed);
}

void gort__note_wakeup(gort__note *n)
{
    atomic_store_explicit(&n->key, 1, memory_order_release);
    gort__futex_wake(&n->key, 1);
}

void gort__note_sleep(gort__note *n)
{
    while (atomic_load_explicit(&n->key, memory_order_acquire) == 0)
        gort__futex_wait(&n->key, 0, -1);
}

int gort__note_sleep_ns(gort__note *n, int64_t ns)
{
    int64_t deadline = now_mono_ns() + ns;
    while (atomic_load_explicit(&n->key, memory_order_acquire) == 0) {
        int64_t left = deadline - now_mono_ns();
        if (left <= 0)
            return 0;
        gort__futex_wait(&n->key, 0, left);
    }
    return 1;
}
