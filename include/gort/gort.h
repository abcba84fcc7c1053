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
    size_t stack_size; /* bytes of address space; 0 = default (256 KiB) */
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

/* ---- errors ------------------------------------------------------------ */

/* Text for a negative error code returned by this API. */
GORT_API const char *gort_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* GORT_GORT_H */
