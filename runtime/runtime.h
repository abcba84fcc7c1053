/* runtime.h — libgort's internal picture: G, M, P and the scheduler state.
 *
 * Internal to libgort. Names shared between the runtime's files carry the
 * gort__ prefix (libuv's uv__ habit); everything here is hidden from the
 * shared library's exports by -fvisibility=hidden.
 *
 * Ownership rules are written on each field: "owner P" means only the M that
 * currently holds that P may write it; "sched.lock" means under that lock;
 * atomics say their ordering where it matters.
 */
#ifndef GORT_RUNTIME_H
#define GORT_RUNTIME_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gort/gort.h"
#include "gort/stats.h"
#include "lock.h"
#include "runq.h"
#include "stack.h"
#include "sudog.h"

#define GORT_HIDDEN __attribute__((visibility("hidden")))
#define GORT_NORETURN __attribute__((noreturn))
#define GORT_LIKELY(x) __builtin_expect(!!(x), 1)
#define GORT_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* A goroutine's life: idle (fresh from the allocator) → runnable → running
 * ⇄ (waiting | runnable | syscall) → dead (pooled for reuse). */
enum gort__gstatus {
    G_IDLE = 0,
    G_RUNNABLE = 1, /* on a run queue, or about to be */
    G_RUNNING = 2,  /* on an M, with a P */
    G_SYSCALL = 3,  /* in a blocking call, gort_syscall_enter */
    G_WAITING = 4,  /* parked; waitreason says on what */
    G_DEAD = 5,     /* exited; the struct and its stack are pooled */
};

/* Go's wait reasons, in Go's words (runtime2.go). */
enum gort__waitreason {
    WR_NONE = 0,
    WR_CHAN_RECV,
    WR_CHAN_SEND,
    WR_CHAN_RECV_NIL,
    WR_CHAN_SEND_NIL,
    WR_SELECT,
    WR_SELECT_NO_CASES,
    WR_SLEEP,
    WR_MUTEX_LOCK,
    WR_WAITGROUP_WAIT,
    WR_IO_WAIT,
    WR_RWMUTEX_RLOCK,
    WR_RWMUTEX_LOCK,
    WR_COND_WAIT,
    WR_BLOCKING_SLOT, /* waits for a blocking-call slot (proc.c) */
    WR_COUNT
};
extern const char *const gort__waitreason_str[WR_COUNT];

/* Labels are truncated to this size, NUL included. */
#define GORT__LABEL_MAX 96

struct gort__m;
struct gort__p;
struct gort__sudog;

struct gort__g {
    void *sp; /* saved stack pointer; NULL until it first runs */
    struct gort__stack stack; /* taken when it first runs; kind NONE before */
    _Atomic int status;       /* enum gort__gstatus; relaxed for readers */
    _Atomic uint8_t waitreason;
    _Atomic int selectdone; /* a select's first waker wins by CAS 0→1 */
    /* Odd while on a CPU: bumped at every switch in and out. sysmon marks
     * a long run by storing the runseq it saw; the mark holds only while
     * runseq still equals it, so a mark sysmon stores just after the
     * goroutine switched out (it read curg a moment earlier) is void. */
    _Atomic uint32_t runseq;
    _Atomic uint32_t long_running; /* runseq of a run > 10 ms, or 0 */
    _Atomic bool retaken; /* sysmon took its P; it runs on without one */
    int64_t goid;
    struct gort__g *schedlink; /* run queue / free list link */
    struct gort__m *m;         /* the M running it, or NULL */
    gort_fn fn;                /* start function and argument */
    void *arg;
    int64_t creator_id;        /* goid of the goroutine that started it */
    uintptr_t creator_pc;      /* where gort_go was called */
    char *_Atomic label;       /* GORT__LABEL_MAX bytes, allocated on first
                                  use and kept for the struct's life, so a
                                  dump copying it never reads freed memory */
    _Atomic int64_t waitsince; /* coarse clock when it parked */
    int64_t readytime;         /* sampled: when it became runnable, or 0 */
    struct gort__sudog *param; /* the sudog that woke it (channels) */
    void *asan_fake_stack;     /* AddressSanitizer fiber state */
    void *tsan_fiber;          /* ThreadSanitizer fiber, kept while pooled */
    struct gort__g *allnext;   /* allgs list, append only */
    /* See gort.h. group: the one it is counted in, from its creator's
     * group_cur, left at exit; group_cur: the one its children join,
     * changed by gort_group_enter. */
    struct gort_group *group, *group_cur;
    /* crash.c: what it serves (gort_set_serving) and the fault trap it
     * runs under (gort_fault_trap_set); both the goroutine's own. */
    const char *serving;
    struct gort_fault_trap *fault_trap;
};

/* A hook an M runs right after a switch, on the new stack: whatever the
 * switched-out goroutine could not do while still on its own stack (release
 * the lock that protects its wait queue, requeue it, pool it). This is why a
 * goroutine can switch straight to the next one without a trip through g0. */
typedef void (*gort__after_fn)(struct gort__m *m, struct gort__g *prev,
                               void *arg);

struct gort__m {
    int id;
    pthread_t thread;
    struct gort__g g0;     /* the thread's own stack: runs schedule() */
    struct gort__g *curg;  /* the goroutine running, or NULL on g0 */
    struct gort__p *p;     /* the P held, or NULL */
    struct gort__p *nextp; /* handed over by startm before wake-up */
    bool spinning;         /* looking for work; counted in nmspinning */
    struct gort__p *oldp;  /* the P it held when it entered a syscall */
    _Atomic(struct gort__g *) curg_pub; /* curg for dumps/schedtrace, relaxed */
    struct gort__m *alllink;            /* allm list, append only */
    gort__note park;                    /* stopm sleeps on it */
    struct gort__m *schedlink;          /* idle M list, under sched.lock */
    gort__after_fn after;               /* see gort__after_fn */
    struct gort__g *after_g;
    void *after_arg;
    uint64_t fastrand;
    void *altstack; /* sigaltstack for stack-overflow reports */
    /* enum gort__mpstate: whether sysmon may take m->p now (proc.c's
     * opening comment). Written by m, except USER->TAKING->(USER|LOST) by
     * sysmon. */
    _Atomic int pstate;
    struct gort__p *lostp; /* the P sysmon took, a hint to take it back */
};

/* Who may touch an M's P. RUNTIME: the M is inside the runtime (or on g0)
 * and m->p, when set, is its own; sysmon leaves it alone. USER: a goroutine
 * runs its own code on m->p; sysmon may take the P from a long runner by
 * CAS USER->TAKING, then stores LOST (taken) or USER (changed its mind).
 * NOP: a goroutine runs its own code on an M without a P (it was taken). */
enum gort__mpstate {
    MS_RUNTIME = 0,
    MS_USER = 1,
    MS_TAKING = 2,
    MS_LOST = 3,
    MS_NOP = 4,
};

struct gort__p {
    int id;
    _Atomic int status;                /* enum gort_p_status */
    struct gort__m *m;                 /* owner, or NULL when idle */
    struct gort__runq runq;            /* the 256-slot ring */
    _Atomic(struct gort__g *) runnext; /* owner sets; thieves CAS to NULL */
    struct gort__p *link;              /* idle P list, under sched.lock */
    uint32_t runnext_streak;           /* owner: runnext picks in a row */

    /* Counters. "own" ones are written only by the owner (relaxed load+store,
     * no lock prefix on the hot path) and read by anyone with relaxed loads. */
    _Atomic uint64_t schedtick;      /* own */
    _Atomic uint64_t syscalltick;    /* own: gort_syscall_enter calls */
    _Atomic uint64_t goroutines_run; /* own */
    _Atomic uint64_t ctx_switches;   /* own */
    _Atomic uint64_t created;        /* own: goroutines started here */
    _Atomic uint64_t exited;         /* own */
    _Atomic uint64_t parked;         /* own: running → waiting */
    _Atomic uint64_t readied;        /* own: waiting → runnable */
    _Atomic uint64_t steals_in;      /* own */
    _Atomic uint64_t steals_out;     /* thieves: atomic add */
    _Atomic uint64_t idle_ns;        /* under sched.lock */
    int64_t idle_since;              /* under sched.lock */
    _Atomic uint64_t latency[GORT_LAT_BUCKETS]; /* own */

    struct gort__stackcache scache; /* own: free default-size stacks */
    struct gort__sudogcache sudogs; /* own: free sudogs (sudog.c) */
    struct gort__sendq *sendq;      /* owner only: batched sends (sendq.c) */
    _Atomic int sends_queued;       /* own: sends in it not yet submitted */
    _Atomic uint64_t sends_batched; /* own: sends that went in a batch */
    _Atomic uint64_t send_batches;  /* own: submissions of them */
    struct gort__g *gfree;          /* own: dead goroutines, without stacks */
    int ngfree;
    int64_t goidcache, goidcacheend; /* own: ids handed out in batches */
};

struct gort__sched {
    pthread_mutex_t lock;
    struct gort__globrunq runq;
    struct gort__p *pidle; /* idle Ps, under lock */
    _Atomic int npidle;    /* seq_cst: see wakep/stop_spinning */
    struct gort__m *midle; /* parked Ms, under lock */
    int nmidle;            /* under lock */
    _Atomic int mcount;
    _Atomic int nmspinning; /* seq_cst */
    _Atomic int gomaxprocs;
    bool maxprocs_custom; /* under lock: set by a person, not the default */
    _Atomic int nallp;    /* Ps ever created; allp grows only */
    struct gort__p *_Atomic allp[GORT_MAXPROCS_CAP];

    gort__lock gflock; /* global free goroutine list */
    struct gort__g *gfree;
    int ngfree;

    pthread_mutex_t allglock; /* allgs list (append only: Gs are pooled) */
    struct gort__g *_Atomic allgs;
    _Atomic uint64_t nallgs;

    struct gort__m *_Atomic allm;
    _Atomic int nmsyscall;              /* Ms inside gort_syscall_enter/exit */
    _Atomic int pollblocked;            /* an M sleeps in the netpoller */
    _Atomic int64_t lastpoll;           /* when the netpoller was last polled */
    _Atomic uint64_t long_running;      /* goroutines seen running > 10 ms */
    _Atomic uint64_t retakes_long;      /* Ps taken from long runners */
    _Atomic uint64_t retakes_syscall;   /* Ps taken from blocking calls */
    _Atomic int nlost;                  /* Ms running a goroutine, no P */
    _Atomic int mnext;                  /* M ids handed out */
    _Atomic int max_threads;            /* budget for mcount */
    _Atomic uint64_t thread_limit_hits; /* a thread refused by the budget */
    _Atomic uint64_t thread_failures;   /* pthread_create or calloc failed */
    _Atomic int thread_limit_logged;    /* the once-only log line */
    _Atomic uint64_t parked_offp;       /* parked on an M without a P */
    _Atomic uint64_t exited_offp;       /* exited on an M without a P */
    /* Blocking-call slots: at most blk_max (0: the default) goroutines
     * inside gort_syscall_enter/exit at once; the others wait in a FIFO of
     * waiters on their own stacks (proc.c). Lists and busy under blk_lock;
     * the atomics are for readers. */
    gort__lock blk_lock;
    _Atomic int blk_max;
    _Atomic int blk_busy;
    _Atomic int blk_queued;
    _Atomic uint64_t blk_waits; /* calls that had to wait for a slot */
    struct gort__blkwait *blk_head, *blk_tail;
    _Atomic int64_t goidgen;
    _Atomic uint64_t mainstarted;
    _Atomic uint64_t created_offp; /* goroutines started off any P */
    _Atomic uint64_t readied_offp; /* readied by a thread without a P */
    int64_t start_ns;
};

extern struct gort__sched gort__sched;

/* proc.c */
struct gort__m *gort__getm(void);
struct gort__g *gort__getg(void);
void gort__park(bool (*unlockf)(struct gort__g *gp, void *arg), void *arg,
                enum gort__waitreason reason);
void gort__ready(struct gort__g *gp);
void gort__ready_global(struct gort__g *gp);
void gort__ready_tail(struct gort__g *gp);
/* Owner of p inside the runtime gate (sendq.c): whether another goroutine
 * is runnable on p; p's switch count; submit p's batched sends and queue
 * their senders on p. */
bool gort__p_busy(const struct gort__p *p);
uint64_t gort__p_schedtick(const struct gort__p *p);
void gort__p_flush_sends(struct gort__p *p);
void gort__set_label(struct gort__g *gp, const char *label);
/* The runtime gate (proc.c's opening comment) for code outside proc.c that
 * uses P-local state: until gort__rt_exit, sysmon cannot take the P this
 * returns (NULL: none, or off a goroutine). Nests like gort__park's own. */
struct gort__p *gort__rt_enter(bool *outer);
void gort__rt_exit(bool outer);
/* From a thread without a P: makes a schedlink-linked list of n goroutines
 * runnable in one global-queue batch and wakes Ms for them. The caller
 * counts parked ones as readied (netpoll.c). */
void gort__inject(struct gort__g *list, int n);
/* Sets readytime on the first n goroutines of list (linked by schedlink),
 * made runnable off a P: one in GORT_LAT_SAMPLE_RATE by a global count is
 * stamped now, the others 0 (proc.c). */
void gort__lat_sample_offp(struct gort__g *list, uint64_t n);
/* Who a goroutine is before it exists: a pending gort_fd_on_readable
 * callback reserves its id at registration and names its registrant
 * (netpoll.c), and the goroutine started for it takes both. */
struct gort__g_origin {
    int64_t goid;         /* from the same counter as gort_go's ids */
    int64_t creator_id;   /* the registering goroutine, 0 for a thread */
    uintptr_t creator_pc; /* where it registered */
    /* The registrant's stack size if it asked for one (0: the default):
     * the goroutine carries on its work, so it gets the same room. */
    size_t stack_size;
    /* The registrant's group, already joined at registration (the pending
     * callback is the group's member: its code will run): the goroutine
     * takes the membership over. From gort__group_join_current. */
    struct gort_group *group;
};
/* Goroutine groups (group.c). */
/* Counts a goroutine-to-be in the calling goroutine's current group (none
 * off a goroutine) and returns that group, for a gort__g_origin. */
struct gort_group *gort__group_join_current(void);
/* gp joins grp (NULL: none), which its children join too. At creation. */
void gort__group_join(struct gort__g *gp, struct gort_group *grp);
/* gp leaves its group: at exit, after its last instruction of user code. */
void gort__group_leave(struct gort__g *gp);
/* Gives back a count gort__group_join_current took for a goroutine that
 * will never exist (a withdrawn gort_fd_on_readable callback). */
void gort__group_release(struct gort_group *grp);
/* A new goroutine, runnable but not queued (the netpoller queues it); with
 * origin, it takes that id and creator instead of fresh ones. */
struct gort__g *gort__newproc_detached(gort_fn fn, void *arg,
                                       const struct gort__g_origin *origin);
/* The next goroutine id, as gort_go would take it (per-P batches). */
int64_t gort__newgoid(void);

/* chan.c, for timers (timer.c): fin(arg) runs first in gort_chan_free. */
void gort__chan_set_fin(gort_chan *c, void (*fin)(void *), void *arg);
bool gort__chan_trysend(gort_chan *c, const void *elem);
size_t gort__chan_drain(gort_chan *c);

/* debug.c: GORTDEBUG=schedtrace=MS,scheddetail=1,netpollidle=0 */
struct gort__debug {
    int64_t schedtrace_ms; /* 0 = off */
    bool scheddetail;
    bool netpollidle; /* idle Ms poll the netpoller (default on) */
    bool stackhwm;    /* stackhwm=1: log the deepest stack (proc.c) */
    bool preemptoff;  /* asyncpreemptoff=1: sysmon never takes a long
                         runner's P (tests that count exact queues) */
};
extern struct gort__debug gort__debug;
void gort__debug_parse(void);
bool gort__runtime_started(void);
int gort__runtime_init(void);
GORT_NORETURN void gort__throw(const char *fn, const char *msg);
int64_t gort__coarse_now(void);
uint32_t gort__fastrand(struct gort__m *m);

/* ctx_<arch>.S */
void gort__ctx_switch(void **save_sp, void *new_sp);
void gort__ctx_trampoline(void);
void *gort__ctx_init(void *stack_hi);
uintptr_t gort__ctx_saved_pc(void *sp);
uintptr_t gort__ctx_saved_fp(void *sp);

/* The signal a dump sends an M to take its running goroutine's stack
 * (stats.c); Ms keep it unblocked. */
#define GORT__SIG_DUMP (SIGRTMIN + 3)

/* sysmon.c: the runtime's monitor thread. */
int gort__sysmon_start(void);
void gort__schedtrace(bool detail);
/* proc.c, for sysmon: take a P from a thread stuck in a blocking call. */
void gort__handoffp(struct gort__p *p);
/* proc.c, for sysmon: whether a P with work could be handed to an M now
 * (an idle M, or room in the thread budget); reports the budget once. */
bool gort__handoff_ok(struct gort__p *p);
/* proc.c, for sysmon: wakes an M when work waits on idle Ps with nobody
 * looking (a thread could not be started earlier). */
void gort__wake_stranded(void);
/* The thread budget (gort_set_max_threads) and blocking slots, resolved. */
int gort__max_threads(void);
int gort__max_blocking(void);
/* proc.c, for sysmon: GOMAXPROCS = n unless a person set it (env, tune). */
void gort__procs_follow_default(int n);

#endif /* GORT_RUNTIME_H */
