/* lock.h — the runtime's own futex locks and one-shot notes.
 *
 * Why not pthread_mutex: a goroutine that parks on a channel takes the
 * channel's lock on its own stack and the lock is released by the hook that
 * runs on the *next* goroutine's stack (see gort__after_fn). To the thread
 * sanitizer each goroutine is a fiber, i.e. its own "thread", and a pthread
 * mutex unlocked by another fiber is reported as a bad unlock. These locks
 * are plain C11 atomics plus futex(2), which every tool understands, and they
 * cost the same as glibc's in the uncontended case.
 */
#ifndef GORT_LOCK_H
#define GORT_LOCK_H

#include <stdatomic.h>
#include <stdint.h>

/* state: 0 unlocked, 1 locked. Release is a plain store plus a load of a
 * process-wide count of threads asleep on any of these locks: no locked
 * instruction, which on the machines we measure costs 12 ns, a tenth of a
 * channel round trip. Why a global count and not one per lock: the moment
 * the store lands, another thread may take the lock and free the memory it
 * lives in (a channel, a poll descriptor), so release must not touch the
 * lock again; it only reads the global count and, when someone sleeps
 * somewhere, issues a FUTEX_WAKE on the address, which does not read it (a
 * wake-up that lands on a reused address is spurious and harmless).
 * The price is the store->load reordering x86 and ARM allow: a releaser may
 * read a stale zero and skip the wake-up, so sleepers sleep at most 1 ms
 * before re-checking. The critical sections guarded here are tens of
 * nanoseconds; waiters spin first and almost never sleep. */
typedef struct {
    _Atomic uint32_t state;
} gort__lock;
// clang-format off
#define GORT__LOCK_INIT { 0 }
// clang-format on

extern _Atomic uint32_t gort__lock_sleepers;

void gort__lock_acquire_slow(gort__lock *l);
void gort__lock_release_slow(gort__lock *l);

static inline void gort__lock_acquire(gort__lock *l)
{
    uint32_t unlocked = 0;
    if (!atomic_compare_exchange_strong_explicit(&l->state, &unlocked, 1,
                                                 memory_order_acquire,
                                                 memory_order_relaxed))
        gort__lock_acquire_slow(l);
}

static inline void gort__lock_release(gort__lock *l)
{
    atomic_store_explicit(&l->state, 0, memory_order_release);
    if (atomic_load_explicit(&gort__lock_sleepers, memory_order_relaxed) != 0)
        gort__lock_release_slow(l);
}

/* A note is a one-shot wake-up for a thread (Go's note): sleep until woken.
 * 0 = clear, 1 = woken. */
typedef struct {
    _Atomic uint32_t key;
} gort__note;

void gort__note_clear(gort__note *n);
void gort__note_wakeup(gort__note *n);
void gort__note_sleep(gort__note *n);
/* Sleeps at most ns; returns 1 when woken, 0 on timeout. */
int gort__note_sleep_ns(gort__note *n, int64_t ns);

/* futex(2) on a 32-bit word, private to the process. */
void gort__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t ns);
void gort__futex_wake(_Atomic uint32_t *addr, int n);

#endif /* GORT_LOCK_H */
