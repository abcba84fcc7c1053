/* stats.h — a snapshot of the scheduler and a goroutine dump, read while
 * goroutines run. Nothing here stops the world: every counter is read with
 * relaxed atomics, so a snapshot is consistent per field, not across fields
 * (a goroutine may be counted runnable in one field and running in another).
 */
#ifndef GORT_STATS_H
#define GORT_STATS_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

#include "gort/gort.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Scheduling latency: the time from runnable to running, sampled. A
 * goroutine made runnable while its P's schedule count (schedticks) is a
 * multiple of GORT_LAT_SAMPLE_RATE is timed, so about one transition in 64
 * is counted (all the wake-ups of one tick share its fate); multiply the
 * counts by GORT_LAT_SAMPLE_RATE to estimate totals. Sampling keeps the
 * clock read off the scheduler's fast path. Bucket i counts latencies below
 * GORT_LAT_BUCKET_NS(i); the last bucket counts everything longer. */
#define GORT_LAT_SAMPLE_RATE 64
#define GORT_LAT_BUCKETS 24
#define GORT_LAT_BUCKET_NS(i) (UINT64_C(128) << (i))

enum gort_p_status {
    GORT_P_IDLE = 0,    /* no M, no work */
    GORT_P_RUNNING = 1, /* owned by an M running goroutines or looking */
    GORT_P_SYSCALL = 2, /* its M is in a blocking call */
    GORT_P_DEAD = 3,    /* beyond GOMAXPROCS */
};

struct gort_p_stats {
    int id;
    int status;              /* enum gort_p_status */
    uint32_t runq_len;       /* goroutines in the local 256-slot ring */
    int runnext;             /* 1 when the runnext slot is taken */
    uint64_t schedticks;     /* schedule() calls on this P */
    uint64_t steals_in;      /* goroutines this P stole from others */
    uint64_t steals_out;     /* goroutines others stole from this P */
    uint64_t goroutines_run; /* times a goroutine started running here */
    uint64_t idle_ns;        /* time spent with its M parked */
};

struct gort_stats {
    int gomaxprocs;
    int nprocs; /* entries filled in procs[] (Ps ever created, incl. dead) */
    struct gort_p_stats procs[GORT_MAXPROCS_CAP];
    uint64_t global_runq_len;

    /* Ms (OS threads running goroutines) */
    int m_total, m_running, m_spinning, m_idle, m_syscall;

    /* goroutines */
    uint64_t g_live;     /* created and not yet exited, plus pending
                            gort_fd_on_readable callbacks (goroutines
                            parked without a stack; see the dump) */
    uint64_t g_runnable; /* on a run queue */
    uint64_t g_running;
    uint64_t g_waiting; /* parked: channel, mutex, sleep, I/O …, and
                           pending gort_fd_on_readable callbacks */
    uint64_t g_syscall;
    uint64_t g_created; /* since start */
    uint64_t ctx_switches;

    /* stacks */
    uint64_t stacks_guarded; /* live stacks protected by a guard page */
    uint64_t stacks_canary;  /* live stacks protected by a canary check */
    uint64_t stack_reserved_bytes;

    uint64_t sched_latency[GORT_LAT_BUCKETS];
    int64_t uptime_ns;

    /* netpoller, timers, sysmon */
    uint64_t netpoll_wakeups_thread; /* readied by the M blocked in epoll */
    uint64_t netpoll_wakeups_idle;   /* readied by an idle M's own poll */
    uint64_t io_waiting;             /* goroutines parked in IO wait,
                                        callbacks included */
    uint64_t timers;                 /* armed timers */
    uint64_t long_running;           /* goroutines seen running > 10 ms
                                        without a switch, since start */

    /* preemption and threads (gort_set_max_threads) */
    uint64_t retakes_long;      /* Ps taken from long runners, since start */
    uint64_t retakes_syscall;   /* Ps taken from blocking calls */
    int long_runners;           /* goroutines running on without a P now */
    int max_threads;            /* the thread budget for Ms (m_total) */
    uint64_t thread_limit_hits; /* threads refused by the budget */
    uint64_t thread_failures;   /* threads the system refused */

    /* blocking-call slots (gort_set_max_blocking) */
    int blocking_max;        /* slots */
    int blocking_busy;       /* goroutines inside a blocking call now */
    int blocking_queued;     /* goroutines waiting for a slot now */
    uint64_t blocking_waits; /* calls that had to wait, since start */

    /* batched sends (GORTSENDBATCH, README "Batched sends"), since start */
    uint64_t sends_batched; /* socket sends that went in a batch */
    uint64_t send_batches;  /* submissions (io_uring_enter) carrying them */
};

/* Fills *s. Returns 0, or -EINVAL when the runtime has not started. */
GORT_API int gort_stats_read(struct gort_stats *s);

/* ---- goroutine dump ----------------------------------------------------- */

#define GORT_DUMP_MAX_FRAMES 32

struct gort_frame {
    uintptr_t pc;
    const char *func;   /* the function's symbol (static ones too), or NULL */
    const char *object; /* the object's path, or NULL */
    uintptr_t offset;   /* pc - the function's start; with no function,
                           pc - the object's load address (addr2line's) */
    const char *file;   /* source file from DWARF, or NULL (stripped) */
    int line;           /* its line (of the call, for a return address) */
};

struct gort_goroutine_info {
    int64_t id;
    const char *state; /* Go's word: "runnable", "running", "chan receive", … */
    const char *wait_reason;   /* "" unless waiting */
    int64_t waiting_ns;        /* how long it has waited (0 unless waiting) */
    const char *label;         /* "" when none */
    struct gort_frame start;   /* the function it was started with */
    int64_t creator_id;        /* 0 for the main goroutine */
    struct gort_frame creator; /* where gort_go was called */
    int long_running;          /* sysmon saw it run > 10 ms without a switch */
    int retaken;               /* ... and took its P: it runs without one */
    int nframes;               /* symbolized backtrace: a parked goroutine's
                                  from its saved frame, a running one's
                                  captured on its own thread (a signal) */
    struct gort_frame frames[GORT_DUMP_MAX_FRAMES];
};

/* Calls fn once per live goroutine; stops early when fn returns non-zero.
 * The info and its strings live only during the callback. Returns the number
 * of goroutines visited. A pending gort_fd_on_readable callback counts as a
 * goroutine: state and wait_reason "IO wait", the id its goroutine will run
 * with, its registrant's label and id, and one frame, the callback. */
typedef int (*gort_dump_fn)(const struct gort_goroutine_info *g, void *arg);
GORT_API long gort_goroutines_each(gort_dump_fn fn, void *arg);

/* dlclose(handle), once no goroutine dump is naming frames: a dump's names
 * point into the symbol index, so a host that unloads code (gortd's plugin
 * loader) closes it through this, which also drops the unloaded object's
 * index. Returns dlclose's result. */
GORT_API int gort_dlclose(void *handle);

/* Indexes the symbols and line tables of every object loaded since the
 * last call, so that a crash report (which cannot read files) names their
 * frames. A host that dlopens code calls it after each dlopen. */
GORT_API void gort_symbols_refresh(void);

/* Writes every goroutine in Go's traceback shape to fd:
 *   goroutine 18 [chan receive, 2 minutes]:
 *   worker(...)
 *   \t/src/worker.c:42 +0x1f
 *   created by main_goroutine in goroutine 1
 *   \t/src/main.c:10 +0x2a
 * A frame without line information shows its object instead,
 * "\t/path/to/object +0x1f", with the offset from the function's start
 * when it is named, else from the object's load address ("?(...)").
 * Returns the number written or a negative error. */
GORT_API long gort_dump_text(int fd);

/* ---- crash reports ------------------------------------------------------ */

/* Installs the crash reporter: on SIGSEGV, SIGBUS, SIGFPE, SIGILL or
 * SIGABRT in any thread it writes, async-signal-safely, the signal (code,
 * fault address, pc), the faulting goroutine with its label, what it was
 * serving (gort_set_serving) and its stack named with file:line, then
 * every other goroutine, to stderr, and exits with status 2. Names come
 * from an index of the objects loaded now (and at each
 * gort_symbols_refresh). Call it before the runtime starts (gort_main);
 * -EBUSY after. A stack overflow keeps the runtime's own message. */
GORT_API int gort_crash_install(void);

/* SIGQUIT's report, as Go's: "SIGQUIT: quit", every goroutine's stack
 * (gort_dump_text), exit status 2. Not for a signal handler: call it from
 * the thread that takes SIGQUIT with sigwait. Never returns. */
GORT_API void gort_crash_quit(void) __attribute__((noreturn));

/* Names what the calling goroutine serves, for its crash report ("plugin
 * hello 1.0.0, route GET /"). what is the caller's, and must stay valid
 * while set; NULL clears. Returns the previous value. */
GORT_API const char *gort_set_serving(const char *what);

/* A fault trap. While set on a goroutine, a fault (not SIGABRT) whose pc
 * lies in the object holding `object` writes that goroutine's crash report
 * into report, sets sig and pc, unsets the trap, and longjmps to jb instead
 * of ending the process:
 *
 *   struct gort_fault_trap t = {.object = code_address};
 *   if (setjmp(t.jb) == 0) {
 *       gort_fault_trap_set(&t);
 *       untrusted(...);
 *       gort_fault_trap_set(t.prev);
 *   } else {
 *       ... t.report says what happened; the trap is already unset ...
 *   }
 *
 * It cannot undo what the faulting code did before the fault (memory it
 * overwrote, locks it holds) and catches only faults in that object's own
 * code. Needs gort_crash_install. */
struct gort_fault_trap {
    jmp_buf jb;
    const void *object; /* any address inside the distrusted object */
    int sig;            /* set by a fault */
    uintptr_t pc;
    struct gort_fault_trap *prev; /* set by gort_fault_trap_set */
    char report[4096];
};
/* Sets t (NULL: none) on the calling goroutine; returns the previous. */
GORT_API struct gort_fault_trap *gort_fault_trap_set(struct gort_fault_trap *t);

#ifdef __cplusplus
}
#endif

#endif /* GORT_STATS_H */
