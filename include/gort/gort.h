/* gort.h — the public API of libgort: goroutines on an M:P:G scheduler.
 *
 * Everything a program or a handler plugin may call. Every name is gort_- or
 * GORT_-prefixed. Functions that can fail return 0 (or a non-negative value)
 * on success and a negative errno-style code on failure; gort_strerror()
 * names it. Functions marked "goroutine only" must be called from code that
 * runs on a goroutine (inside gort_main's function or anything it starts).
 */
#ifndef GORT_GORT_H
#define GORT_GORT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GORT_API __attribute__((visibility("default")))

/* The largest GOMAXPROCS accepted (GOMAXPROCS env, gort_gomaxprocs). */
#define GORT_MAXPROCS_CAP 256

typedef void (*gort_fn)(void *arg);

/* ---- start-up ---------------------------------------------------------- */

/* Starts the runtime on first use (GOMAXPROCS from the environment, else the
 * CPUs this process may use), runs fn(arg) as a new goroutine and blocks the
 * calling thread until it returns. Goroutines it started keep running on the
 * runtime's threads after it returns, as they would in a Go program that
 * outlived main (they are simply never waited for). May be called again.
 * Returns 0, or -EINVAL (bad GOMAXPROCS in the environment: message on
 * stderr), -ENOMEM, -EAGAIN (no threads). */
GORT_API int gort_main(gort_fn fn, void *arg);

/* The GOMAXPROCS the runtime picks by default: CPUs in the affinity mask,
 * lowered to the tightest cgroup (v1 or v2) CPU quota of this process and its
 * ancestors, rounded up and never below 2 (Go 1.25). Ignores the GOMAXPROCS
 * environment variable. While neither that variable nor gort_gomaxprocs set
 * GOMAXPROCS, the runtime re-reads this once a second and follows it. */
GORT_API int gort_default_procs(void);

/* ---- goroutines -------------------------------------------------------- */

struct gort_go_opts {
    const char *label; /* shown in dumps; copied; NULL for none */
    size_t stack_size; /* bytes of address space; 0 = default (64 KiB) */
};

/* go fn(arg). Returns the new goroutine's id (> 0) or -ENOMEM / -EINVAL.
 * Callable from any thread once the runtime runs (gort_main). */
GORT_API int64_t gort_go(gort_fn fn, void *arg);
GORT_API int64_t gort_go_opts(gort_fn fn, void *arg,
                              const struct gort_go_opts *opts);

/* Lets other goroutines run; this one stays runnable. Goroutine only. */
GORT_API void gort_yield(void);

/* This goroutine's id, or 0 when not called on a goroutine. */
GORT_API int64_t gort_id(void);

/* Replaces this goroutine's label (copied; NULL clears). Goroutine only. */
GORT_API void gort_set_label(const char *label);

/* ---- goroutine groups ---------------------------------------------------
 *
 * A group counts the goroutines started, directly or through their own
 * children, while a goroutine runs inside it: go's pprof labels inherit the
 * same way. gortd puts each plugin's handlers in one, so it knows when no
 * goroutine the plugin started runs any more and its code can be unmapped.
 * Zero-initialize one; the runtime updates the counters atomically. */
struct gort_group {
    uint64_t live;    /* members not yet exited: read with gort_group_live */
    uint64_t started; /* members ever started: gort_group_started */
};

/* Puts the calling goroutine in grp (NULL: in none) and returns the group
 * it was in. Goroutines it starts from then on are members of grp, and so
 * are theirs; the caller itself is not counted. Goroutine only. */
GORT_API struct gort_group *gort_group_enter(struct gort_group *grp);

/* Members not yet exited. Acquire: a caller that reads 0 sees everything the
 * members did before exiting. Any thread. */
GORT_API uint64_t gort_group_live(const struct gort_group *grp);
GORT_API uint64_t gort_group_started(const struct gort_group *grp);

/* Reads GOMAXPROCS (n <= 0) or sets it to n while goroutines run; returns
 * the previous value, or -EINVAL when n > GORT_MAXPROCS_CAP. Ps beyond the
 * new count retire at their next scheduling point, handing their run queues
 * to the global queue; no goroutine is lost. Setting it stops the default
 * from following the CPU limit (gort_default_procs), as in Go. */
GORT_API int gort_gomaxprocs(int n);

/* The thread budget (Go's debug.SetMaxThreads): at most n Ms, the threads
 * that run goroutines, including those inside blocking calls and long
 * runners whose P was handed over. Default 10000. Past it nothing aborts:
 * a P stays with its blocking call or long runner and waiting work stays
 * queued; the condition is counted (gort_stats.thread_limit_hits) and
 * logged once on stderr. n <= 0 only reads it. Returns the previous value.
 * Callable before the runtime starts. */
GORT_API int gort_set_max_threads(int n);

/* At most n goroutines inside gort_syscall_enter/exit (gort_blocking) at
 * once, each on its own thread (Tokio's max_blocking_threads). Default 512.
 * Beyond it gort_syscall_enter waits, parked in FIFO order, for a slot: a
 * wait costs no thread. n <= 0 only reads it. Returns the previous value. */
GORT_API int gort_set_max_blocking(int n);

/* ---- time -------------------------------------------------------------- */

/* Monotonic clock in nanoseconds. */
GORT_API int64_t gort_nanotime(void);

/* The same clock as of its last tick (CLOCK_MONOTONIC_COARSE): never ahead
 * of gort_nanotime, behind it by at most a tick (1-10 ms), and about a
 * sixth of its cost on a VM (~10 ns against ~60 ns here). For deadlines
 * seconds away, set on every request: one is then at most a tick early. */
GORT_API int64_t gort_nanotime_coarse(void);

/* Parks this goroutine for at least ns nanoseconds ("sleep"). Goroutine
 * only; ns <= 0 yields. */
GORT_API void gort_sleep(int64_t ns);

/* ---- channels ---------------------------------------------------------- */

typedef struct gort_chan gort_chan;

/* A channel of elements of elem_size bytes (0 allowed, a "chan struct{}")
 * with cap buffered slots (0 = unbuffered). NULL when out of memory. */
GORT_API gort_chan *gort_chan_make(size_t elem_size, size_t cap);

/* Frees a channel nobody uses any more (gort has no GC: the owner frees). */
GORT_API void gort_chan_free(gort_chan *c);

/* Blocks until the element is handed over. 0, or -EPIPE when the channel
 * is closed (where Go would panic). Goroutine only. */
GORT_API int gort_chan_send(gort_chan *c, const void *elem);

/* Blocks until an element arrives: 1 = received into elem (may be NULL to
 * drop it), 0 = channel closed and drained (elem zeroed). Goroutine only. */
GORT_API int gort_chan_recv(gort_chan *c, void *elem);

/* Closes: wakes every receiver (they get 0) and every blocked sender (they
 * get -EPIPE). 0, or -EPIPE when already closed. */
GORT_API int gort_chan_close(gort_chan *c);

GORT_API size_t gort_chan_len(gort_chan *c);
GORT_API size_t gort_chan_cap(gort_chan *c);

enum gort_select_dir { GORT_SELECT_SEND = 1, GORT_SELECT_RECV = 2 };

struct gort_select_case {
    gort_chan *chan; /* NULL: this case never fires (Go's nil channel) */
    int dir;         /* GORT_SELECT_SEND or GORT_SELECT_RECV */
    void *elem;      /* element to send, or where to receive (may be NULL) */
    int ok;          /* out, for a receive: 1 received, 0 closed */
};

/* Go's select over n cases, chosen uniformly among the ready ones. Returns
 * the index of the case that fired; with block == 0 returns -EAGAIN when none
 * is ready (the `default:` branch). A send case on a closed channel fires and
 * the call returns its index with ok = -EPIPE. Goroutine only. */
GORT_API int gort_select(struct gort_select_case *cases, int n, int block);

/* ---- timers (Go's time.Timer, time.Ticker, time.After, time.AfterFunc) --
 *
 * Durations are nanoseconds (<= 0: fire at once); a fired timer or ticker
 * sends gort_nanotime() at the firing, an int64_t, on its channel. They
 * share the runtime's one timer heap (what gort_sleep and I/O deadlines
 * use): arming, stopping and resetting are O(log n) under one short lock and
 * allocate nothing, and an armed timer costs the scheduler nothing until it
 * is due (the netpoller sleeps until the earliest one).
 *
 * Semantics are Go 1.23's (the sane ones): a timer's channel holds at most
 * one value, and once gort_timer_stop or gort_timer_reset returns, no value
 * from before the call can be received any more (an undelivered one is
 * dropped from the channel). A ticker drops ticks a slow receiver has not
 * taken, as Go's does: the channel holds at most one.
 *
 * Ownership: gort_timer_new and gort_ticker_new return objects the caller
 * frees (gort_timer_free / gort_ticker_free, which also stop them and free
 * their channel: never gort_chan_free a timer's channel). Any thread may
 * call stop/reset/free; free must not race with other calls on the same
 * timer, nor with a goroutine still blocked on its channel. */
typedef struct gort_timer gort_timer;
typedef struct gort_ticker gort_ticker;

/* time.NewTimer(d). NULL when out of memory. */
GORT_API gort_timer *gort_timer_new(int64_t d);
/* t.C: where the fire time arrives (NULL for a gort_after_func timer). */
GORT_API gort_chan *gort_timer_chan(gort_timer *t);
/* t.Stop(): 1 when this call stopped the timer before its value was
 * received (it was armed, or its value sat undelivered and is dropped), 0
 * when it had already been received, stopped or had run its function. For
 * a gort_after_func timer, 0 means fn has started (or will: on its own
 * goroutine) and stop does not wait for it. */
GORT_API int gort_timer_stop(gort_timer *t);
/* t.Reset(d): stops as gort_timer_stop (same return value) and arms the
 * timer again to fire d from now. */
GORT_API int gort_timer_reset(gort_timer *t, int64_t d);
/* Stops t and frees it and its channel. NULL is a no-op. */
GORT_API void gort_timer_free(gort_timer *t);

/* time.AfterFunc(d, fn): after d, runs fn(arg) on a goroutine of its own.
 * gort_timer_chan is NULL; stop, reset and free as above. */
GORT_API gort_timer *gort_after_func(int64_t d, gort_fn fn, void *arg);

/* time.After(d): a channel that receives the fire time once. Select with a
 * timeout is gort_select over it and the other cases. The channel is the
 * caller's: gort_chan_free it when done, whether it fired or not (that also
 * stops its timer: an unfired time.After costs nothing afterwards). NULL
 * when out of memory. */
GORT_API gort_chan *gort_after(int64_t d);

/* time.NewTicker(d): sends the time every d (> 0; NULL for d <= 0 or out
 * of memory). Ticks are spaced from the first deadline, not from when a
 * tick was taken, and a late tick is skipped rather than queued. */
GORT_API gort_ticker *gort_ticker_new(int64_t d);
GORT_API gort_chan *gort_ticker_chan(gort_ticker *t);
/* Stops ticking; an undelivered tick is dropped. */
GORT_API void gort_ticker_stop(gort_ticker *t);
/* Stops, then ticks every d from now. -EINVAL for d <= 0. */
GORT_API int gort_ticker_reset(gort_ticker *t, int64_t d);
GORT_API void gort_ticker_free(gort_ticker *t);

/* ---- contexts (Go's context package) ------------------------------------
 *
 * A context carries a cancellation signal and maybe a deadline down a call
 * tree. Cancelling one cancels every context derived from it; its done
 * channel is closed then, so it takes part in gort_select (a receive case
 * that fires with ok = 0), and gort_ctx_err says why:
 *   GORT_ECANCELED  a cancel call ("context canceled")
 *   GORT_EDEADLINE  its deadline passed ("deadline exceeded"; the same code
 *                   as an I/O deadline, -ETIMEDOUT)
 *
 * Ownership (Go has a collector, C does not): contexts are reference
 * counted. Every gort_ctx_with_* returns a context holding one reference,
 * the caller's; gort_ctx_ref takes another (for a goroutine you hand it
 * to), gort_ctx_release drops one. A child holds a reference to its parent,
 * so releasing a parent early is safe. Releasing does not cancel: Go's
 * `ctx, cancel := context.WithTimeout(p, d); defer cancel()` is
 *     gort_ctx *ctx = gort_ctx_with_timeout(p, d);
 *     ...
 *     gort_ctx_cancel(ctx);
 *     gort_ctx_release(ctx);
 * and a context released without a cancel is unhooked from its parent when
 * its last reference goes (unlike Go's forgotten cancel, which leaks it in
 * the parent until the parent is done); one with a deadline stays
 * allocated until that deadline (its timer holds a reference), so cancel
 * before release as in Go's `defer cancel()`. The done
 * channel lives as long as the context: use it only while holding a
 * reference. gort_ctx_background() is a static context that is never done
 * (its done channel is NULL: a select case that never fires); ref and
 * release do nothing to it. All of these may be called from any thread. */
typedef struct gort_ctx gort_ctx;

#define GORT_ECANCELED (-125) /* -ECANCELED */
#define GORT_EDEADLINE (-110) /* -ETIMEDOUT */

GORT_API gort_ctx *gort_ctx_background(void);
/* WithCancel(parent): done when cancelled or when parent is. NULL when out
 * of memory. */
GORT_API gort_ctx *gort_ctx_with_cancel(gort_ctx *parent);
/* WithDeadline(parent, d): also done at deadline_ns (gort_nanotime clock);
 * a parent's earlier deadline wins, a deadline already past gives a
 * context that is done at once (GORT_EDEADLINE). */
GORT_API gort_ctx *gort_ctx_with_deadline(gort_ctx *parent,
                                          int64_t deadline_ns);
/* WithTimeout(parent, d) = with_deadline(parent, gort_nanotime() + d). */
GORT_API gort_ctx *gort_ctx_with_timeout(gort_ctx *parent, int64_t timeout_ns);
/* The cancel function: cancels ctx and its descendants (GORT_ECANCELED);
 * a no-op when already done. */
GORT_API void gort_ctx_cancel(gort_ctx *ctx);
/* Closed when ctx is done; NULL for a context that can never be done. */
GORT_API gort_chan *gort_ctx_done(gort_ctx *ctx);
/* 0 while not done, else GORT_ECANCELED or GORT_EDEADLINE (for good). */
GORT_API int gort_ctx_err(gort_ctx *ctx);
/* 1 and *deadline_ns when ctx has a deadline, else 0. */
GORT_API int gort_ctx_deadline(gort_ctx *ctx, int64_t *deadline_ns);
GORT_API gort_ctx *gort_ctx_ref(gort_ctx *ctx);
GORT_API void gort_ctx_release(gort_ctx *ctx);

/* gort_sleep that gives up when ctx is done: 0 after the full ns, else
 * gort_ctx_err(ctx). Goroutine only. */
GORT_API int gort_sleep_ctx(gort_ctx *ctx, int64_t ns);

/* ---- sync -------------------------------------------------------------- */

/* A mutual-exclusion lock that parks goroutines, never threads. Zero value
 * (GORT_MUTEX_INIT) is unlocked. Must not be copied once used. */
typedef struct gort_mutex {
    uintptr_t opaque_[4];
} gort_mutex;
#define GORT_MUTEX_INIT                                                        \
    {                                                                          \
        {                                                                      \
            0, 0, 0, 0                                                         \
        }                                                                      \
    }
GORT_API void gort_mutex_lock(gort_mutex *mu);   /* goroutine only */
GORT_API int gort_mutex_trylock(gort_mutex *mu); /* 1 acquired, 0 busy */
GORT_API void gort_mutex_unlock(gort_mutex *mu);

/* Go's sync.WaitGroup. Zero value (GORT_WAITGROUP_INIT) is ready. */
typedef struct gort_waitgroup {
    uintptr_t opaque_[4];
} gort_waitgroup;
#define GORT_WAITGROUP_INIT                                                    \
    {                                                                          \
        {                                                                      \
            0, 0, 0, 0                                                         \
        }                                                                      \
    }
GORT_API void gort_wg_add(gort_waitgroup *wg, int64_t delta);
GORT_API void gort_wg_done(gort_waitgroup *wg);
GORT_API void gort_wg_wait(gort_waitgroup *wg); /* goroutine only */

/* Go's sync.Once: the first gort_once_do runs fn(arg); the others, even
 * concurrent ones, return once it has returned. Zero value is ready. */
typedef struct gort_once {
    uintptr_t opaque_[5];
} gort_once;
#define GORT_ONCE_INIT                                                         \
    {                                                                          \
        {                                                                      \
            0                                                                  \
        }                                                                      \
    }
GORT_API void gort_once_do(gort_once *o, gort_fn fn, void *arg);

/* Go's sync.RWMutex: many readers or one writer. Writer preference as in
 * Go: once a writer waits in lock, new readers wait behind it (so a stream
 * of readers cannot starve it), and readers that waited for a writer all
 * get in when it unlocks. A recursive read lock can therefore deadlock, as
 * in Go. Zero value is unlocked. Must not be copied once used. */
typedef struct gort_rwmutex {
    uintptr_t opaque_[10];
} gort_rwmutex;
#define GORT_RWMUTEX_INIT                                                      \
    {                                                                          \
        {                                                                      \
            0                                                                  \
        }                                                                      \
    }
GORT_API void gort_rwmutex_rlock(gort_rwmutex *rw); /* goroutine only */
GORT_API void gort_rwmutex_runlock(gort_rwmutex *rw);
GORT_API void gort_rwmutex_lock(gort_rwmutex *rw); /* goroutine only */
GORT_API void gort_rwmutex_unlock(gort_rwmutex *rw);

/* Go's sync.Cond over a gort_mutex. Wait atomically unlocks mu and parks
 * until a signal, then locks mu again before returning: check the
 * condition in a loop. Signal wakes the longest waiter, broadcast all. Zero
 * value is ready. */
typedef struct gort_cond {
    uintptr_t opaque_[4];
} gort_cond;
#define GORT_COND_INIT                                                         \
    {                                                                          \
        {                                                                      \
            0                                                                  \
        }                                                                      \
    }
GORT_API void gort_cond_wait(gort_cond *c, gort_mutex *mu); /* goroutine */
GORT_API void gort_cond_signal(gort_cond *c);
GORT_API void gort_cond_broadcast(gort_cond *c);

/* ---- errors ------------------------------------------------------------ */

/* Text for a negative error code returned by this API. */
GORT_API const char *gort_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* GORT_GORT_H */
