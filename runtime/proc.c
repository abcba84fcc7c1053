/* proc.c — the scheduler: goroutines (G) run by OS threads (M) that hold
 * logical processors (P), after Go's runtime/proc.go.
 *
 * Glossary
 *   G  a goroutine: a stack, a saved stack pointer and a few words of state.
 *   M  an OS thread. It runs goroutines only while it holds a P. Each M also
 *      has g0, its own pthread stack, on which it looks for work and sleeps.
 *   P  a logical processor, GOMAXPROCS of them: the right to run goroutines,
 *      plus a 256-slot local run queue and a runnext slot (runq.c).
 *
 * Switching. A goroutine that blocks, yields or exits switches *directly* to
 * the next goroutine of its P when one is queued locally (one context switch,
 * ~a dozen instructions), and to its M's g0 only when the P has no local work
 * and the M must search globally, steal or sleep. The catch of a direct
 * switch: a parking goroutine holds the lock of the queue it waits on until it
 * is off its stack, or another M could resume it while this one still runs
 * on it. So the work that must follow the switch (release that lock, requeue
 * a yielder, pool a dead goroutine) is left in the M as an "after" hook and
 * run by whichever context the M lands in: the next goroutine or g0. Go runs
 * the same step (park_m's unlockf) on g0, which costs every park two
 * switches instead of one.
 *
 * Finding work (findrunnable), in Go's order: every 61st tick the global
 * queue first (two goroutines respawning each other in runnext must not
 * starve it); runnext, then the local ring; a fair share of the global queue;
 * stealing half of a random victim's ring over 4 rounds, its runnext only in
 * the last; then give up the P and sleep.
 *
 * Spinning. An M that runs out of work "spins" (steals) only while
 * 2 * spinning < busy Ps. Whoever makes work runnable calls wakep(), which
 * starts an M spinning only when a P is idle and none spins already; a
 * spinning M that finds work wakes the next one if it was the last spinner.
 * A spinner that gives up decrements nmspinning and only then re-checks every
 * queue; wakep reads nmspinning after publishing its work. With seq_cst on
 * both sides one of them sees the other, so work is never stranded while Ms
 * sleep (Go's "delicate dance" in findRunnable).
 *
 * GOMAXPROCS at run time. Go stops the world for procresize. Here nothing
 * stops: growing adds idle Ps and wakes an M; shrinking marks the surplus
 * idle Ps dead at once, and a running surplus P retires at its M's next
 * scheduling point, pushing its ring and runnext to the head of the global
 * queue. Goroutines never run on two Ms and none is dropped.
 *
 * Long runners (Go's preemption, without signals). A goroutine that runs
 * past a 10 ms slice without a scheduling point loses its P, not its
 * thread: sysmon takes the P exactly as it takes the P of a thread stuck in
 * a blocking call and hands it to another M (an idle one, else a new one),
 * so the other goroutines of that P keep running. The long runner goes on
 * on its own thread without a P and takes one back at its next runtime call
 * (Go's exitsyscall): its old P if idle, else any idle P, else it queues
 * itself on the global queue and its M sleeps until another M runs it. The
 * hand-over is guarded by a per-M word (m->pstate, enum gort__mpstate):
 * every runtime entry that touches the M's P (ready, park, yield, go, exit,
 * blocking calls) opens a gate by CAS USER->RUNTIME and closes it with a
 * release store; sysmon may take the P only by CAS USER->TAKING, i.e. only
 * while the goroutine runs its own code, never inside the runtime. So the
 * P-local state the owner writes without locks (ring pushes, runnext, the
 * stack and goroutine caches, id batches, "own" counters, the after hooks
 * run after a switch) never has two writers; g0 stays inside the gate. A
 * runtime call that finds the gate LOST drops m->p and uses the global
 * paths (global queue, global pools, off-P counters): calls that may run
 * under a runtime lock (ready, park) must not block, and park goes to g0
 * with its unlock hook, whose schedule() takes an idle P or sleeps; the
 * "safe points" without locks (gort_go, gort_yield, gort_syscall_enter,
 * goroutine exit) take a P back first. Cost: one uncontended CAS per runtime
 * entry, on a line only this M and sysmon touch.
 *
 * Why no signal-based asynchronous preemption: Go can stop its own code at
 * almost any instruction because its compiler records where that is safe.
 * Here the long runner is arbitrary C (plugins, libc): a signal could land
 * while it holds malloc's arena lock, stdio's lock or the dynamic linker's,
 * or between a libc call and its errno read, and switching that thread to
 * another goroutine would deadlock on the lock or hand errno and malloc's
 * thread cache to code that does not own them. Taking the P instead costs a
 * thread per long runner, which is why threads have a budget
 * (gort_set_max_threads, Go's SetMaxThreads, default 10000): when the
 * hand-over would need a thread past it, the long runner keeps its P and
 * the refusal is counted and logged once, never an abort. Threads that
 * cannot be created (the budget, pthread_create or memory failing) leave
 * their work queued on idle Ps; sysmon retries.
 *
 * Blocking calls take a slot first: at most gort_set_max_blocking (default
 * 512, Tokio's max_blocking_threads) goroutines are inside
 * gort_syscall_enter/exit at once; the others park in FIFO order (waiting
 * costs no thread). The calls still run on their goroutine's own thread (its
 * stack, errno and thread-locals stay put, which a separate worker pool
 * would break), so the slot bound is the bound on threads that blocking
 * calls hold; their Ps are handed over within the thread budget.
 *
 * Rejected: a g0 round trip per switch (above); a global lock around run
 * queues (every spawn would contend); swapcontext (a syscall per switch);
 * a membarrier-based gate (no locked instruction on the owner side, but a
 * kernel dependency and an ordering argument TSan cannot check).
 */
#include "common/clock.h"
#include "runtime.h"

#include "gort/net.h"
#include "netpoll.h"
#include "procs.h"
#include "sendq.h"
#include "slab.h"
#include "symtab.h"
#include "timer.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "sanitizer.h"

#define GLOBAL_CHECK_TICKS 61
#define GFREE_LOCAL_MAX 64
#define GFREE_BATCH 32
#define GOID_BATCH 16
#define STEAL_ROUNDS 4
#define LAT_SAMPLE_MASK (GORT_LAT_SAMPLE_RATE - 1) /* stats.h documents it */
#define RUNNEXT_STREAK_MAX 1024                    /* see local_next */
#define ALTSTACK_SIZE (64 * 1024)
#define MAX_THREADS_DEFAULT 10000
#define MAX_BLOCKING_DEFAULT 512

struct gort__sched gort__sched;
/* initial-exec: libgort is loaded at program start (gortd links it), so its
 * TLS is static and a read is one %fs-relative load, not __tls_get_addr. */
static __thread struct gort__m *tls_m
    __attribute__((tls_model("initial-exec")));

const char *const gort__waitreason_str[WR_COUNT] = {
    [WR_NONE] = "",
    [WR_CHAN_RECV] = "chan receive",
    [WR_CHAN_SEND] = "chan send",
    [WR_CHAN_RECV_NIL] = "chan receive (nil chan)",
    [WR_CHAN_SEND_NIL] = "chan send (nil chan)",
    [WR_SELECT] = "select",
    [WR_SELECT_NO_CASES] = "select (no cases)",
    [WR_SLEEP] = "sleep",
    [WR_MUTEX_LOCK] = "sync.Mutex.Lock",
    [WR_WAITGROUP_WAIT] = "sync.WaitGroup.Wait",
    [WR_IO_WAIT] = "IO wait",
    [WR_RWMUTEX_RLOCK] = "sync.RWMutex.RLock",
    [WR_RWMUTEX_LOCK] = "sync.RWMutex.Lock",
    [WR_COND_WAIT] = "sync.Cond.Wait",
    [WR_BLOCKING_SLOT] = "blocking call slot",
};

static void schedule(struct gort__m *m) GORT_NORETURN;
void gort__g_start(void) GORT_NORETURN;

/* ---- small helpers ------------------------------------------------------ */

/* The M of the calling thread. A goroutine may resume on another thread
 * after any switch, and compilers cache the thread pointer within a function
 * (it "cannot change"), so every read goes through this opaque call. */
__attribute__((noinline)) struct gort__m *gort__getm(void)
{
    __asm__ volatile("" ::: "memory");
    return tls_m;
}

struct gort__g *gort__getg(void)
{
    struct gort__m *m = gort__getm();
    return m ? m->curg : NULL;
}

bool gort__runtime_started(void)
{
    return atomic_load_explicit(&gort__sched.mainstarted,
                                memory_order_acquire) != 0;
}

int64_t gort_nanotime(void)
{
    return now_mono_ns();
}

/* Monotonic time as of the last kernel tick (CLOCK_MONOTONIC_COARSE: a few
 * ms coarse, cheaper to read): enough for the "waiting since" of dumps. */
int64_t gort__coarse_now(void)
{
    return clock_ns_of(CLOCK_MONOTONIC_COARSE);
}

int64_t gort_nanotime_coarse(void)
{
    return gort__coarse_now();
}

uint32_t gort__fastrand(struct gort__m *m)
{
    /* xorshift64*: good enough to pick steal victims and select cases. */
    uint64_t x = m->fastrand;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    m->fastrand = x;
    return (uint32_t)((x * 0x2545F4914F6CDD1DULL) >> 32);
}

/* Owner-only counter bump: a relaxed load and store, no locked instruction. */
static inline void own_inc(_Atomic uint64_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield" ::: "memory");
#endif
}

/* ---- the runtime gate (see the opening comment) ------------------------- */

/* sysmon took m's P: the M goes on without one. */
static void p_lost(struct gort__m *m)
{
    m->lostp = m->p;
    m->p = NULL;
}

/* Enters the runtime on m: until rt_exit, sysmon cannot take m's P. Returns
 * the P m holds, or NULL when it has none (taken, or m is inside a blocking
 * call, whose P sysmon may have handed over); *outer is set when this call
 * opened the gate (rt_exit closes only that one). Never blocks beyond the
 * few instructions sysmon takes to decide (TAKING). */
static struct gort__p *rt_enter(struct gort__m *m, bool *outer)
{
    /* Acquire: when sysmon stored LOST, its reads of m->p and m->curg
     * happen before our writes to them (a plain load on x86). */
    int s = atomic_load_explicit(&m->pstate, memory_order_acquire);
    *outer = s != MS_RUNTIME;
    for (;;) {
        switch (s) {
        case MS_RUNTIME:
            return m->oldp ? NULL : m->p;
        case MS_USER:
            if (atomic_compare_exchange_weak_explicit(
                    &m->pstate, &s, MS_RUNTIME, memory_order_acquire,
                    memory_order_acquire))
                return m->p;
            continue;
        case MS_TAKING:
            cpu_relax();
            s = atomic_load_explicit(&m->pstate, memory_order_acquire);
            continue;
        case MS_LOST:
            p_lost(m);
            /* fall through */
        default:
            atomic_store_explicit(&m->pstate, MS_RUNTIME, memory_order_relaxed);
            return NULL;
        }
    }
}

/* Back to the goroutine's own code, on whichever M it runs now. */
static void rt_exit(bool outer)
{
    if (!outer)
        return;
    struct gort__m *m = gort__getm();
    atomic_store_explicit(&m->pstate, m->p && !m->oldp ? MS_USER : MS_NOP,
                          memory_order_release);
}

struct gort__p *gort__rt_enter(bool *outer)
{
    struct gort__m *m = gort__getm();
    if (!m || !m->curg) {
        *outer = false;
        return NULL;
    }
    return rt_enter(m, outer);
}

void gort__rt_exit(bool outer)
{
    rt_exit(outer);
}

static void write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* Prints "fatal error: <fn>: <msg>" with the current goroutine and aborts.
 * Always on: a broken invariant in a scheduler is never worth continuing. */
void gort__throw(const char *fn, const char *msg)
{
    char buf[512];
    struct gort__g *gp = gort__getg();
    int n =
        snprintf(buf, sizeof buf, "fatal error: %s: %s\n\ngoroutine %lld:\n",
                 fn, msg, gp ? (long long)gp->goid : 0LL);
    write_all(2, buf, n > 0 ? (size_t)n : 0);
    abort();
}

/* ---- switching ---------------------------------------------------------- */

static void stack_bounds(const struct gort__g *gp, void **bottom, size_t *size)
{
    *bottom = (void *)gp->stack.lo;
    *size = gp->stack.hi - gp->stack.lo;
}

/* Runs on the new stack right after every switch: tell the sanitizer where
 * we are, then do what the previous goroutine left for us. */
static void finish_switch(struct gort__g *self)
{
#if GORT__ASAN
    const void *old_bottom;
    size_t old_size;
    __sanitizer_finish_switch_fiber(self ? self->asan_fake_stack : NULL,
                                    &old_bottom, &old_size);
#else
    (void)self;
#endif
    struct gort__m *m = gort__getm();
    gort__after_fn after = m->after;
    if (after) {
        m->after = NULL;
        after(m, m->after_g, m->after_arg);
    }
}

static void switch_to(struct gort__g *from, struct gort__g *to, bool dying)
{
#if GORT__ASAN
    void *bottom;
    size_t size;
    stack_bounds(to, &bottom, &size);
    __sanitizer_start_switch_fiber(dying ? NULL : &from->asan_fake_stack,
                                   bottom, size);
#else
    (void)dying;
    (void)stack_bounds;
#endif
#if GORT__TSAN
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    gort__ctx_switch(&from->sp, to->sp);
    finish_switch(from);
}

/* Appenders for stack_overflow: it runs on the overflowing stack itself
 * (past the red zone), where snprintf's frame, several KiB under ASan, can
 * overflow for real; these need a few dozen bytes. */
static size_t put_str(char *b, size_t n, size_t cap, const char *s)
{
    while (*s && n < cap)
        b[n++] = *s++;
    return n;
}

static size_t put_num(char *b, size_t n, size_t cap, unsigned long long v,
                      unsigned base)
{
    char d[24];
    int i = 0;
    do
        d[i++] = "0123456789abcdef"[v % base];
    while ((v /= base) != 0);
    if (base == 16)
        n = put_str(b, n, cap, "0x");
    while (i > 0 && n < cap)
        b[n++] = d[--i];
    return n;
}

static void stack_overflow(struct gort__g *gp, const char *how)
{
    char b[256];
    size_t n = 0, cap = sizeof b;
    const char *label = atomic_load_explicit(&gp->label, memory_order_relaxed);
    n = put_str(b, n, cap, "fatal error: stack overflow (");
    n = put_str(b, n, cap, how);
    n = put_str(b, n, cap, ")\n\ngoroutine ");
    n = put_num(b, n, cap, (unsigned long long)gp->goid, 10);
    n = put_str(b, n, cap, " [running]");
    if (label && label[0]) {
        n = put_str(b, n, cap, " (");
        n = put_str(b, n, cap, label);
        n = put_str(b, n, cap, ")");
    }
    n = put_str(b, n, cap, ":\n\tstack [");
    n = put_num(b, n, cap, (unsigned long long)gp->stack.lo, 16);
    n = put_str(b, n, cap, ", ");
    n = put_num(b, n, cap, (unsigned long long)gp->stack.hi, 16);
    n = put_str(b, n, cap, "), ");
    n = put_num(b, n, cap, (gp->stack.hi - gp->stack.lo) / 1024, 10);
    n = put_str(b, n, cap, " KiB\n");
    write_all(2, b, n);
    _exit(2);
}

/* ---- P and M bookkeeping (under sched.lock) ----------------------------- */

static void pidleput(struct gort__p *p)
{
    atomic_store_explicit(&p->status, GORT_P_IDLE, memory_order_relaxed);
    __atomic_store_n(&p->m, NULL, __ATOMIC_RELEASE);
    p->link = gort__sched.pidle;
    gort__sched.pidle = p;
    /* Atomic: stats.c reads it without the lock. */
    __atomic_store_n(&p->idle_since, now_mono_ns(), __ATOMIC_RELAXED);
    atomic_fetch_add(&gort__sched.npidle, 1);
}

/* Takes want off the idle list when it is there, else the list's head. */
static struct gort__p *pidleget_prefer(struct gort__p *want)
{
    struct gort__p **pp = &gort__sched.pidle;
    if (want)
        while (*pp && *pp != want)
            pp = &(*pp)->link;
    if (!*pp)
        pp = &gort__sched.pidle;
    struct gort__p *p = *pp;
    if (!p)
        return NULL;
    *pp = p->link;
    atomic_fetch_sub(&gort__sched.npidle, 1);
    atomic_store_explicit(
        &p->idle_ns, p->idle_ns + (uint64_t)(now_mono_ns() - p->idle_since),
        memory_order_relaxed);
    atomic_store_explicit(&p->status, GORT_P_RUNNING, memory_order_relaxed);
    return p;
}

static struct gort__p *pidleget(void)
{
    return pidleget_prefer(NULL);
}

/* m stops counting as a goroutine running without a P. */
static void lost_clear(struct gort__m *m)
{
    if (!m->lostp)
        return;
    m->lostp = NULL;
    atomic_fetch_sub_explicit(&gort__sched.nlost, 1, memory_order_relaxed);
}

static void acquirep(struct gort__m *m, struct gort__p *p)
{
    lost_clear(m);
    if (m->curg)
        atomic_store_explicit(&m->curg->retaken, false, memory_order_relaxed);
    m->p = p;
    __atomic_store_n(&p->m, m, __ATOMIC_RELEASE); /* sysmon reads it */
    atomic_store_explicit(&p->status, GORT_P_RUNNING, memory_order_relaxed);
}

/* A new P, or NULL when out of memory (start-up reports it, a resize at
 * run time throws). */
static struct gort__p *newp(int id)
{
    struct gort__p *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->id = id;
    gort__runq_init(&p->runq);
    atomic_store_explicit(&p->status, GORT_P_DEAD, memory_order_relaxed);
    return p;
}

/* ---- goroutine allocation ----------------------------------------------- */

static void allgadd(struct gort__g *gp)
{
    pthread_mutex_lock(&gort__sched.allglock);
    gp->allnext =
        atomic_load_explicit(&gort__sched.allgs, memory_order_relaxed);
    atomic_store_explicit(&gort__sched.allgs, gp, memory_order_release);
    atomic_fetch_add_explicit(&gort__sched.nallgs, 1, memory_order_relaxed);
    pthread_mutex_unlock(&gort__sched.allglock);
}

/* Goroutine structs come from huge-page chunks (slab.c): a spawn burst
 * faults in one 2 MiB page per ~8,000 of them, not one 4 KiB page per 16.
 * They are never given back, only pooled (gfput). */
static struct gort__slab g_slab =
    GORT__SLAB_INIT(sizeof(struct gort__g), SLAB_AUTO);

static struct gort__g *galloc(void)
{
    struct gort__g *gp = gort__slab_alloc(&g_slab);
    if (!gp)
        return NULL;
#if GORT__TSAN
    gp->tsan_fiber = __tsan_create_fiber(0);
#endif
    atomic_store_explicit(&gp->status, G_IDLE, memory_order_relaxed);
    allgadd(gp);
    return gp;
}

/* Moves up to GFREE_BATCH dead goroutines from the global pool to p. */
static void gfrefill(struct gort__p *p)
{
    gort__lock_acquire(&gort__sched.gflock);
    while (p->ngfree < GFREE_BATCH && gort__sched.gfree) {
        struct gort__g *gp = gort__sched.gfree;
        gort__sched.gfree = gp->schedlink;
        gort__sched.ngfree--;
        gp->schedlink = p->gfree;
        p->gfree = gp;
        p->ngfree++;
    }
    gort__lock_release(&gort__sched.gflock);
}

static struct gort__g *gfget(struct gort__p *p)
{
    if (!p) {
        gort__lock_acquire(&gort__sched.gflock);
        struct gort__g *gp = gort__sched.gfree;
        if (gp) {
            gort__sched.gfree = gp->schedlink;
            gort__sched.ngfree--;
        }
        gort__lock_release(&gort__sched.gflock);
        return gp;
    }
    if (!p->gfree)
        gfrefill(p);
    struct gort__g *gp = p->gfree;
    if (gp) {
        p->gfree = gp->schedlink;
        p->ngfree--;
    }
    return gp;
}

/* Pools a dead goroutine's struct (its stack went back separately). */
static void gfput(struct gort__p *p, struct gort__g *gp)
{
    p->ngfree++;
    gp->schedlink = p->gfree;
    p->gfree = gp;
    if (p->ngfree < GFREE_LOCAL_MAX)
        return;
    gort__lock_acquire(&gort__sched.gflock);
    while (p->ngfree > GFREE_LOCAL_MAX - GFREE_BATCH) {
        struct gort__g *g = p->gfree;
        p->gfree = g->schedlink;
        p->ngfree--;
        g->schedlink = gort__sched.gfree;
        gort__sched.gfree = g;
        gort__sched.ngfree++;
    }
    gort__lock_release(&gort__sched.gflock);
}

/* A retiring P's pool goes global so other Ps reuse its goroutines. */
static void gfput_all(struct gort__p *p)
{
    gort__lock_acquire(&gort__sched.gflock);
    while (p->gfree) {
        struct gort__g *g = p->gfree;
        p->gfree = g->schedlink;
        g->schedlink = gort__sched.gfree;
        gort__sched.gfree = g;
        gort__sched.ngfree++;
    }
    p->ngfree = 0;
    gort__lock_release(&gort__sched.gflock);
}

static int64_t newgoid(struct gort__p *p)
{
    if (!p)
        return atomic_fetch_add(&gort__sched.goidgen, 1) + 1;
    if (p->goidcache == p->goidcacheend) {
        p->goidcache = atomic_fetch_add(&gort__sched.goidgen, GOID_BATCH) + 1;
        p->goidcacheend = p->goidcache + GOID_BATCH;
    }
    return p->goidcache++;
}

int64_t gort__newgoid(void)
{
    struct gort__m *m = gort__getm();
    if (!m)
        return newgoid(NULL);
    bool outer;
    int64_t id = newgoid(rt_enter(m, &outer));
    rt_exit(outer);
    return id;
}

/* ---- making goroutines runnable ----------------------------------------- */

static void startm(struct gort__p *p, bool spinning);

/* Start an M spinning if a P is idle and nobody looks for work already. */
static void wakep(void)
{
    if (atomic_load(&gort__sched.npidle) == 0)
        return;
    int zero = 0;
    if (atomic_load(&gort__sched.nmspinning) != 0 ||
        !atomic_compare_exchange_strong(&gort__sched.nmspinning, &zero, 1))
        return;
    startm(NULL, true);
}

_Static_assert((GORT_LAT_SAMPLE_RATE & LAT_SAMPLE_MASK) == 0,
               "GORT_LAT_SAMPLE_RATE must be a power of two");

static void sample_ready(struct gort__p *p, struct gort__g *gp)
{
    uint64_t tick = atomic_load_explicit(&p->schedtick, memory_order_relaxed);
    gp->readytime = (tick & LAT_SAMPLE_MASK) == 0 ? now_mono_ns() : 0;
}

/* Goroutines made runnable off a P (the netpoller's injections, timers, a
 * thread outside the runtime) are sampled by a global count instead, one in
 * GORT_LAT_SAMPLE_RATE: a server whose every request goroutine comes from
 * the netpoller would otherwise leave go_sched_latencies_seconds empty. One
 * relaxed add per call (a batch counts once), one clock read per sample. */
static _Atomic uint64_t offp_ticks;

void gort__lat_sample_offp(struct gort__g *list, uint64_t n)
{
    uint64_t tick =
        atomic_fetch_add_explicit(&offp_ticks, n, memory_order_relaxed);
    int64_t now = 0;
    for (struct gort__g *g = list; g && n; g = g->schedlink, n--, tick++) {
        g->readytime = 0;
        if ((tick & LAT_SAMPLE_MASK) == 0)
            g->readytime = now ? now : (now = now_mono_ns());
    }
}

/* Go's runqput(pp, gp, next=true): gp runs next on p; whoever sat in runnext
 * moves to the tail of the ring. Owner only. */
static void runqput_next(struct gort__p *p, struct gort__g *gp)
{
    /* Thieves only ever swap a non-empty runnext to empty, so an empty slot
     * is ours to fill with a plain release store: no locked instruction on
     * the channel hand-off path. */
    if (!atomic_load_explicit(&p->runnext, memory_order_relaxed)) {
        atomic_store_explicit(&p->runnext, gp, memory_order_release);
        return;
    }
    struct gort__g *old =
        atomic_exchange_explicit(&p->runnext, gp, memory_order_acq_rel);
    if (old)
        gort__runq_put(&p->runq, &gort__sched.runq, old);
}

static void global_put(struct gort__g *gp)
{
    gp->schedlink = NULL;
    gort__globrunq_put_batch(&gort__sched.runq, gp, gp, 1);
}

/* Makes a parked goroutine runnable: on this P's runnext when the caller runs
 * on a P (so a send/receive pair stays on one P, hot in cache), else on the
 * global queue. */
void gort__ready(struct gort__g *gp)
{
    struct gort__m *m = gort__getm();
    bool outer = false;
    struct gort__p *p = m ? rt_enter(m, &outer) : NULL;
    atomic_store_explicit(&gp->status, G_RUNNABLE, memory_order_relaxed);
    if (p) {
        own_inc(&p->readied);
        sample_ready(p, gp);
        runqput_next(p, gp);
    } else {
        atomic_fetch_add_explicit(&gort__sched.readied_offp, 1,
                                  memory_order_relaxed);
        gort__lat_sample_offp(gp, 1);
        global_put(gp);
    }
    rt_exit(outer);
    wakep();
}

/* A new (detached) goroutine to the tail of this P's ring, or of the
 * global queue off any P. */
void gort__ready_tail(struct gort__g *gp)
{
    struct gort__m *m = gort__getm();
    bool outer = false;
    struct gort__p *p = m ? rt_enter(m, &outer) : NULL;
    if (p)
        gort__runq_put(&p->runq, &gort__sched.runq, gp);
    else
        global_put(gp);
    rt_exit(outer);
    wakep();
}

bool gort__p_busy(const struct gort__p *p)
{
    return gort__runq_len(&p->runq) > 0 ||
           atomic_load_explicit(&p->runnext, memory_order_relaxed);
}

uint64_t gort__p_schedtick(const struct gort__p *p)
{
    return atomic_load_explicit(&p->schedtick, memory_order_relaxed);
}

/* Senders whose batch left go to the tail of p's ring, in no particular
 * order: they were all waiting for the same system call. */
void gort__p_flush_sends(struct gort__p *p)
{
    struct gort__g *list;
    if (gort__sendq_flush(p, &list) == 0)
        return;
    int n = 0;
    while (list) {
        struct gort__g *gp = list;
        list = gp->schedlink;
        atomic_store_explicit(&gp->status, G_RUNNABLE, memory_order_relaxed);
        own_inc(&p->readied);
        sample_ready(p, gp);
        gort__runq_put(&p->runq, &gort__sched.runq, gp);
        n++;
    }
    if (n > 1)
        wakep();
}

/* Makes a parked goroutine runnable at the tail of the global queue: for
 * wake-ups that come in deadline order (timers), where runnext's "run me
 * next" would turn a burst around and a ring overflow would push the
 * earliest half behind the rest. */
void gort__ready_global(struct gort__g *gp)
{
    struct gort__m *m = gort__getm();
    bool outer = false;
    struct gort__p *p = m ? rt_enter(m, &outer) : NULL;
    atomic_store_explicit(&gp->status, G_RUNNABLE, memory_order_relaxed);
    gort__lat_sample_offp(gp, 1);
    if (p)
        own_inc(&p->readied);
    else
        atomic_fetch_add_explicit(&gort__sched.readied_offp, 1,
                                  memory_order_relaxed);
    rt_exit(outer);
    global_put(gp);
    wakep();
}

void gort__inject(struct gort__g *list, int n)
{
    if (!list)
        return;
    struct gort__g *tail = list;
    for (struct gort__g *g = list; g; g = g->schedlink) {
        atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
        tail = g;
    }
    gort__lat_sample_offp(list, (uint64_t)n);
    gort__globrunq_put_batch(&gort__sched.runq, list, tail, (uint32_t)n);
    /* One spinner per goroutine, up to the idle Ps; wakep keeps at most one
     * spinning at a time and each spinner that finds work wakes the next. */
    wakep();
}

/* A reused stack may carry AddressSanitizer poison from the frames of the
 * goroutine that died on it (its last switch never returned). */
static void unpoison_stack(const struct gort__g *gp)
{
#if GORT__ASAN
    __asan_unpoison_memory_region((void *)gp->stack.lo,
                                  gp->stack.hi - gp->stack.lo);
#else
    (void)gp;
#endif
}

/* A new goroutine, runnable, not yet on any queue. */
static struct gort__g *newg(struct gort__m *m, struct gort__p *p, gort_fn fn,
                            void *arg, const struct gort_go_opts *opts,
                            uintptr_t pc, bool detached,
                            const struct gort__g_origin *origin)
{
    size_t stack_size = opts     ? opts->stack_size
                        : origin ? origin->stack_size
                                 : 0;
    struct gort__g *gp = gfget(p);
    if (!gp && !(gp = galloc()))
        return NULL;
    __atomic_store_n(&gp->sp, NULL, __ATOMIC_RELAXED);
    gp->stack.kind = STACK_NONE;
    /* Default-size stacks are bound when the goroutine first runs
     * (bind_stack); a custom size is mapped now so that failure is
     * reported to the caller. */
    if (stack_size != 0 && stack_size != GORT_STACK_DEFAULT) {
        if (gort__stack_alloc(&gp->stack, stack_size) != 0) {
            if (p)
                gfput(p, gp);
            return NULL;
        }
        unpoison_stack(gp);
        __atomic_store_n(&gp->sp, gort__ctx_init((void *)gp->stack.hi),
                         __ATOMIC_RELAXED);
    }
    atomic_store_explicit(&gp->long_running, 0, memory_order_relaxed);
    atomic_store_explicit(&gp->retaken, false, memory_order_relaxed);
    gp->fn = fn;
    gp->arg = arg;
    gp->goid = origin ? origin->goid : newgoid(p);
    gp->creator_pc = origin ? origin->creator_pc : pc;
    int64_t creator = m && m->curg ? m->curg->goid : 0;
    gp->creator_id = origin ? origin->creator_id : creator;
    if (origin)
        gp->group = gp->group_cur = origin->group; /* joined already */
    else
        gort__group_join(gp, detached || !m || !m->curg ? NULL
                                                        : m->curg->group_cur);
    gp->asan_fake_stack = NULL;
    gp->readytime = 0;
    atomic_store_explicit(&gp->waitreason, WR_NONE, memory_order_relaxed);
    gort__set_label(gp, opts ? opts->label : NULL);
    /* Release: a dump that sees it alive (acquire) sees its fields. */
    atomic_store_explicit(&gp->status, G_RUNNABLE, memory_order_release);
    if (p)
        own_inc(&p->created);
    else
        atomic_fetch_add_explicit(&gort__sched.created_offp, 1,
                                  memory_order_relaxed);
    return gp;
}

/* Creates and queues a goroutine; returns its id (read before queueing:
 * once queued it may run, exit and be reused by another gort_go). */
static struct gort__m *p_reacquire(struct gort__m *m, struct gort__g *gp,
                                   struct gort__p *prefer);

/* A safe point (no runtime lock held, see the opening comment): enters the
 * runtime and, when a goroutine on m lost its P, takes one back first.
 * Returns the M the caller runs on from here and its P (NULL only off a
 * goroutine or inside a blocking call). */
static struct gort__m *rt_enter_safe(struct gort__m *m, bool *outer,
                                     struct gort__p **pp)
{
    struct gort__p *p = rt_enter(m, outer);
    if (!p && m->curg && !m->oldp) {
        m = p_reacquire(m, m->curg, m->lostp);
        p = m->p;
    }
    *pp = p;
    return m;
}

static int64_t newproc(gort_fn fn, void *arg, const struct gort_go_opts *opts,
                       uintptr_t pc)
{
    struct gort__m *m = gort__getm();
    if (m && m->oldp)
        gort__throw("gort_go", "called inside gort_syscall_enter/exit");
    bool outer = false;
    struct gort__p *p = NULL;
    if (m)
        m = rt_enter_safe(m, &outer, &p);
    struct gort__g *gp = newg(m, p, fn, arg, opts, pc, false, NULL);
    if (!gp) {
        rt_exit(outer);
        return -ENOMEM;
    }
    int64_t id = gp->goid;
    if (p) {
        sample_ready(p, gp);
        runqput_next(p, gp);
    } else {
        global_put(gp);
    }
    rt_exit(outer);
    return id;
}

struct gort__g *gort__newproc_detached(gort_fn fn, void *arg,
                                       const struct gort__g_origin *origin)
{
    struct gort__m *m = gort__getm();
    bool outer = false;
    struct gort__p *p = m ? rt_enter(m, &outer) : NULL;
    struct gort__g *gp = newg(m, p, fn, arg, NULL, (uintptr_t)fn, true, origin);
    rt_exit(outer);
    return gp;
}

static int64_t go_common(gort_fn fn, void *arg, const struct gort_go_opts *o,
                         uintptr_t pc)
{
    if (!fn)
        return -EINVAL;
    if (!gort__runtime_started()) {
        int rc = gort__runtime_init();
        if (rc < 0)
            return rc;
    }
    int64_t id = newproc(fn, arg, o, pc);
    if (id > 0)
        wakep();
    return id;
}

int64_t gort_go(gort_fn fn, void *arg)
{
    return go_common(fn, arg, NULL, (uintptr_t)__builtin_return_address(0));
}

int64_t gort_go_opts(gort_fn fn, void *arg, const struct gort_go_opts *opts)
{
    return go_common(fn, arg, opts, (uintptr_t)__builtin_return_address(0));
}

int64_t gort_id(void)
{
    struct gort__g *gp = gort__getg();
    return gp ? gp->goid : 0;
}

void gort__set_label(struct gort__g *gp, const char *label)
{
    char *buf = atomic_load_explicit(&gp->label, memory_order_relaxed);
    if (!label || !*label) {
        if (buf)
            buf[0] = '\0';
        return;
    }
    if (!buf) {
        buf = calloc(1, GORT__LABEL_MAX);
        if (!buf)
            return; /* a label is a debugging aid: drop it, keep running */
        atomic_store_explicit(&gp->label, buf, memory_order_release);
    }
    size_t n = strnlen(label, GORT__LABEL_MAX - 1);
    memcpy(buf, label, n);
    buf[n] = '\0';
}

void gort_set_label(const char *label)
{
    struct gort__g *gp = gort__getg();
    if (gp)
        gort__set_label(gp, label);
}

/* ---- leaving the CPU ---------------------------------------------------- */

/* Starts loading the frames a queued goroutine will resume on: its saved
 * registers and the few callers above them (park, a channel receive...).
 * Each goroutine resumes on its own stack, so when a close or a broadcast
 * wakes thousands, each resume would wait for a TLB walk and cache misses
 * on a page last touched long ago (under the VM's nested paging, most of
 * the cost of such a wake-up); fetched while the goroutine before it runs,
 * they are there when it switches in. A hint: the stack may be gone or
 * reused by then, and a prefetch never faults. */
static void prefetch_stack(const struct gort__g *gp)
{
    if (!gp)
        return;
    const char *sp = __atomic_load_n(&gp->sp, __ATOMIC_RELAXED);
    if (!sp)
        return;
    for (int off = 0; off < 512; off += 64)
        __builtin_prefetch(sp + off, 1, 3);
}

/* The next goroutine this P can run without a trip through g0. */
static struct gort__g *local_next(struct gort__p *p)
{
    uint64_t tick = atomic_load_explicit(&p->schedtick, memory_order_relaxed);
    if (tick % GLOBAL_CHECK_TICKS == 0 &&
        gort__globrunq_len(&gort__sched.runq) > 0) {
        struct gort__g *gp = gort__globrunq_get(&gort__sched.runq, NULL, 1);
        if (gp)
            return gp;
    }
    struct gort__g *gp =
        atomic_load_explicit(&p->runnext, memory_order_relaxed);
    if (gp && p->runnext_streak >= RUNNEXT_STREAK_MAX) {
        /* A pair handing off through runnext would run forever while the
         * ring waits. Go lets the pair share one time slice and sysmon
         * preempts it after 10 ms; with no preemption (and no clock read per
         * switch) we bound the streak by count instead. */
        struct gort__g *old = gort__runq_get(&p->runq);
        p->runnext_streak = 0;
        if (old)
            return old;
    }
    if (gp && atomic_compare_exchange_strong_explicit(&p->runnext, &gp, NULL,
                                                      memory_order_acq_rel,
                                                      memory_order_relaxed)) {
        p->runnext_streak++;
        return gp;
    }
    p->runnext_streak = 0;
    gp = gort__runq_get(&p->runq);
    /* The one after gp: prefetching further ahead measured no better. */
    if (gp)
        prefetch_stack(gort__runq_peek(&p->runq, 0));
    return gp;
}

static void sample_latency(struct gort__p *p, struct gort__g *gp)
{
    if (GORT_LIKELY(gp->readytime == 0))
        return;
    uint64_t d = (uint64_t)(now_mono_ns() - gp->readytime);
    gp->readytime = 0;
    int b = 0;
    while (b < GORT_LAT_BUCKETS - 1 && d >= GORT_LAT_BUCKET_NS(b))
        b++;
    own_inc(&p->latency[b]);
}

/* A goroutine's first run: give it a stack from the P's cache. */
static void bind_stack(struct gort__p *p, struct gort__g *gp)
{
    if (gort__stack_get(&p->scache, &gp->stack) != 0)
        gort__throw("bind_stack", "out of memory for goroutine stacks");
    unpoison_stack(gp);
    /* release: a dump that reads this sp (acquire) may read the stack
     * bounds just written (gort__g_pcs) */
    __atomic_store_n(&gp->sp, gort__ctx_init((void *)gp->stack.hi),
                     __ATOMIC_RELEASE);
}

/* Only gp's own M writes its runseq (switching it in or out). */
static void runseq_bump(struct gort__g *gp)
{
    uint32_t s = atomic_load_explicit(&gp->runseq, memory_order_relaxed);
    atomic_store_explicit(&gp->runseq, s + 1, memory_order_relaxed);
}

/* Bookkeeping for gp about to run on m. */
static void prepare_run(struct gort__m *m, struct gort__g *gp)
{
    struct gort__p *p = m->p;
    if (GORT_UNLIKELY(!gp->sp))
        bind_stack(p, gp);
    atomic_store_explicit(&gp->status, G_RUNNING, memory_order_relaxed);
    gp->m = m;
    m->curg = gp;
    runseq_bump(gp);
    atomic_store_explicit(&m->curg_pub, gp, memory_order_release);
    own_inc(&p->schedtick);
    own_inc(&p->goroutines_run);
    own_inc(&p->ctx_switches);
    sample_latency(p, gp);
}

static bool p_retiring(const struct gort__p *p)
{
    return p->id >=
           atomic_load_explicit(&gort__sched.gomaxprocs, memory_order_relaxed);
}

/* gp leaves the CPU (parks, yields or dies); after(gp, arg) runs once it is
 * off its stack. p is m's P (NULL when m has none: straight to g0).
 * Returns when gp is resumed (never when dying). */
static void switch_out(struct gort__m *m, struct gort__p *p, struct gort__g *gp,
                       gort__after_fn after, void *arg, bool dying)
{
    if (!dying &&
        !gort__stack_check(&gp->stack, (uintptr_t)__builtin_frame_address(0)))
        stack_overflow(gp, "red zone reached");
    m->after = after;
    m->after_g = gp;
    m->after_arg = arg;
    gp->m = NULL;
    runseq_bump(gp); /* voids a long-run mark, even one stored later */
    if (GORT_UNLIKELY(atomic_load_explicit(&gp->retaken, memory_order_relaxed)))
        atomic_store_explicit(&gp->retaken, false, memory_order_relaxed);
    if (p &&
        GORT_UNLIKELY(gort__sendq_due(
            p, atomic_load_explicit(&p->schedtick, memory_order_relaxed), gp)))
        gort__p_flush_sends(p);
    struct gort__g *next = !p || p_retiring(p) ? NULL : local_next(p);
    if (next) {
        prepare_run(m, next);
        switch_to(gp, next, dying);
    } else {
        m->curg = NULL;
        atomic_store_explicit(&m->curg_pub, NULL, memory_order_relaxed);
        switch_to(gp, &m->g0, dying);
    }
}

struct park_args {
    bool (*unlockf)(struct gort__g *gp, void *arg);
    void *arg;
};

static void park_after(struct gort__m *m, struct gort__g *prev, void *a)
{
    (void)m;
    struct park_args *pa = a;
    if (pa->unlockf && !pa->unlockf(prev, pa->arg))
        gort__ready(prev); /* the wait was already satisfied */
}

void gort__park(bool (*unlockf)(struct gort__g *gp, void *arg), void *arg,
                enum gort__waitreason reason)
{
    struct gort__m *m = gort__getm();
    struct gort__g *gp = m->curg;
    if (!gp)
        gort__throw("gort__park", "not on a goroutine");
    if (m->oldp)
        gort__throw("gort__park", "blocking inside gort_syscall_enter/exit");
    /* Not a safe point (the caller holds the lock unlockf releases): without
     * a P, park through g0, whose schedule() finds one or sleeps. */
    bool outer;
    struct gort__p *p = rt_enter(m, &outer);
    struct park_args pa = {.unlockf = unlockf, .arg = arg};
    atomic_store_explicit(&gp->waitreason, (uint8_t)reason,
                          memory_order_relaxed);
    atomic_store_explicit(&gp->waitsince, gort__coarse_now(),
                          memory_order_relaxed);
    atomic_store_explicit(&gp->status, G_WAITING, memory_order_relaxed);
    if (p)
        own_inc(&p->parked);
    else
        atomic_fetch_add_explicit(&gort__sched.parked_offp, 1,
                                  memory_order_relaxed);
    switch_out(m, p, gp, park_after, &pa, false);
    atomic_store_explicit(&gp->waitreason, WR_NONE, memory_order_relaxed);
    rt_exit(outer);
}

static void yield_local_after(struct gort__m *m, struct gort__g *prev,
                              void *arg)
{
    (void)arg;
    gort__runq_put(&m->p->runq, &gort__sched.runq, prev);
}

static void yield_global_after(struct gort__m *m, struct gort__g *prev,
                               void *arg)
{
    (void)m;
    (void)arg;
    global_put(prev);
}

void gort_yield(void)
{
    struct gort__m *m = gort__getm();
    struct gort__g *gp = m ? m->curg : NULL;
    if (!gp) {
        sched_yield();
        return;
    }
    bool outer;
    struct gort__p *p = rt_enter(m, &outer);
    if (!p && !m->oldp) {
        /* Taking a P back is the yield: the goroutine may queue for it. */
        p_reacquire(m, gp, m->lostp);
        rt_exit(outer);
        return;
    }
    if (!p || m->oldp) {
        rt_exit(outer);
        sched_yield(); /* inside a blocking call: only the thread yields */
        return;
    }
    bool local = atomic_load_explicit(&p->runnext, memory_order_relaxed) ||
                 gort__runq_len(&p->runq) > 0;
    if (!local && gort__globrunq_len(&gort__sched.runq) == 0 &&
        !p_retiring(p)) {
        rt_exit(outer);
        return; /* nobody else to run here */
    }
    atomic_store_explicit(&gp->status, G_RUNNABLE, memory_order_relaxed);
    sample_ready(p, gp);
    switch_out(m, p, gp, local ? yield_local_after : yield_global_after, NULL,
               false);
    rt_exit(outer);
}

/* GORTDEBUG=stackhwm=1: logs each new deepest stack seen at an exit, with
 * the function of the goroutine that left it, to size stacks by numbers. */
static void note_stack_hwm(const struct gort__g *gp)
{
    static _Atomic size_t deepest;
    size_t used = gort__stack_used(&gp->stack);
    size_t prev = atomic_load_explicit(&deepest, memory_order_relaxed);
    while (used > prev)
        if (atomic_compare_exchange_weak_explicit(&deepest, &prev, used,
                                                  memory_order_relaxed,
                                                  memory_order_relaxed)) {
            struct gort__sym sym;
            const char *fn =
                gort__sym_lookup((uintptr_t)gp->fn, false, &sym) && sym.func
                    ? sym.func
                    : "?";
            fprintf(stderr,
                    "gort: stackhwm: %zu bytes of %zu (goroutine %lld, %s)\n",
                    used, (size_t)(gp->stack.hi - gp->stack.lo),
                    (long long)gp->goid, fn);
            break;
        }
}

static void exit_after(struct gort__m *m, struct gort__g *prev, void *arg)
{
    (void)arg;
    struct gort__p *p = m->p;
    if (GORT_UNLIKELY(gort__debug.stackhwm))
        note_stack_hwm(prev);
    gort__stack_put(&p->scache, &prev->stack);
    __atomic_store_n(&prev->sp, NULL, __ATOMIC_RELAXED);
    gfput(p, prev);
}

/* A goroutine that died on an M without a P: the global pools. */
static void exit_after_nop(struct gort__m *m, struct gort__g *prev, void *arg)
{
    (void)m;
    (void)arg;
    gort__stack_free(&prev->stack);
    __atomic_store_n(&prev->sp, NULL, __ATOMIC_RELAXED);
    gort__lock_acquire(&gort__sched.gflock);
    prev->schedlink = gort__sched.gfree;
    gort__sched.gfree = prev;
    gort__sched.ngfree++;
    gort__lock_release(&gort__sched.gflock);
}

static bool try_idle_p(struct gort__m *m, struct gort__p *prefer);

static void goexit(struct gort__g *gp) GORT_NORETURN;
static void goexit(struct gort__g *gp)
{
    struct gort__m *m = gort__getm();
    bool outer;
    struct gort__p *p = rt_enter(m, &outer);
    if (!p && try_idle_p(m, m->lostp))
        p = m->p;
    /* Counted as exited before it shows as dead (release): whoever no
     * longer finds it in a dump finds it in gort_stats_read's count. */
    if (p)
        own_inc(&p->exited);
    else
        atomic_fetch_add_explicit(&gort__sched.exited_offp, 1,
                                  memory_order_relaxed);
    atomic_store_explicit(&gp->status, G_DEAD, memory_order_release);
    gort__set_label(gp, NULL);
    gort__group_leave(gp);
    switch_out(m, p, gp, p ? exit_after : exit_after_nop, NULL, true);
    gort__throw("goexit", "dead goroutine resumed");
}

void gort__g_start(void)
{
    finish_switch(NULL);
    struct gort__g *gp = gort__getg();
    rt_exit(true); /* from here on its own code: sysmon may take the P */
    gp->fn(gp->arg);
    goexit(gp); /* the same G, whichever M it finished on */
}

/* ---- finding work ------------------------------------------------------- */

static bool newm(struct gort__p *p, bool spinning);

static void startm(struct gort__p *p, bool spinning)
{
    pthread_mutex_lock(&gort__sched.lock);
    if (!p)
        p = pidleget();
    if (!p) {
        pthread_mutex_unlock(&gort__sched.lock);
        if (spinning)
            atomic_fetch_sub(&gort__sched.nmspinning, 1);
        return;
    }
    struct gort__m *m = gort__sched.midle;
    if (m) {
        gort__sched.midle = m->schedlink;
        gort__sched.nmidle--;
    }
    pthread_mutex_unlock(&gort__sched.lock);
    if (!m) {
        if (newm(p, spinning))
            return;
        /* No thread (reported): the work stays queued, the P idle; an M
         * that looks for work or sysmon's retry picks it up. */
        pthread_mutex_lock(&gort__sched.lock);
        pidleput(p);
        pthread_mutex_unlock(&gort__sched.lock);
        if (spinning)
            atomic_fetch_sub(&gort__sched.nmspinning, 1);
        return;
    }
    m->spinning = spinning;
    m->nextp = p;
    gort__note_wakeup(&m->park);
}

/* Parks m until startm hands it a P. */
static void stopm(struct gort__m *m)
{
    lost_clear(m);
    pthread_mutex_lock(&gort__sched.lock);
    gort__note_clear(&m->park);
    m->schedlink = gort__sched.midle;
    gort__sched.midle = m;
    gort__sched.nmidle++;
    pthread_mutex_unlock(&gort__sched.lock);
    gort__note_sleep(&m->park);
    acquirep(m, m->nextp);
    m->nextp = NULL;
}

static void reset_spinning(struct gort__m *m)
{
    m->spinning = false;
    /* The last spinner to find work wakes another: there may be more. */
    if (atomic_fetch_sub(&gort__sched.nmspinning, 1) == 1)
        wakep();
}

static bool may_spin(void)
{
    int busy =
        atomic_load(&gort__sched.gomaxprocs) - atomic_load(&gort__sched.npidle);
    return 2 * atomic_load(&gort__sched.nmspinning) < busy;
}

static unsigned gcd(unsigned a, unsigned b)
{
    while (b) {
        unsigned t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static struct gort__g *steal_runnext(struct gort__p *victim)
{
    struct gort__g *gp =
        atomic_load_explicit(&victim->runnext, memory_order_acquire);
    if (gp && atomic_compare_exchange_strong_explicit(
                  &victim->runnext, &gp, NULL, memory_order_acq_rel,
                  memory_order_relaxed))
        return gp;
    return NULL;
}

/* Visits the Ps in a random order (random start, step coprime with their
 * count, so each is visited once per round) and takes half a ring. */
static struct gort__g *steal_work(struct gort__m *m, struct gort__p *p)
{
    unsigned n = (unsigned)atomic_load(&gort__sched.nallp);
    if (n < 2)
        return NULL;
    for (int round = 0; round < STEAL_ROUNDS; round++) {
        bool last = round == STEAL_ROUNDS - 1;
        unsigned start = gort__fastrand(m) % n;
        unsigned step = 1 + gort__fastrand(m) % n;
        while (gcd(step, n) != 1)
            step++;
        for (unsigned i = 0; i < n; i++) {
            struct gort__p *v =
                atomic_load_explicit(&gort__sched.allp[(start + i * step) % n],
                                     memory_order_acquire);
            if (v == p)
                continue;
            uint32_t got = 0;
            struct gort__g *gp = gort__runq_steal(&v->runq, &p->runq, &got);
            if (!gp && last && (gp = steal_runnext(v)) != NULL)
                got = 1;
            if (gp) {
                atomic_store_explicit(&p->steals_in, p->steals_in + got,
                                      memory_order_relaxed);
                atomic_fetch_add_explicit(&v->steals_out, got,
                                          memory_order_relaxed);
                return gp;
            }
        }
    }
    return NULL;
}

static bool any_work(void)
{
    if (gort__globrunq_len(&gort__sched.runq) > 0)
        return true;
    int n = atomic_load(&gort__sched.nallp);
    for (int i = 0; i < n; i++) {
        struct gort__p *v = atomic_load(&gort__sched.allp[i]);
        if (gort__runq_len(&v->runq) > 0 || atomic_load(&v->runnext) ||
            gort__sendq_pending(v))
            return true;
    }
    return false;
}

/* m's P is beyond GOMAXPROCS: hand its work to the global queue, bury it. */
static void retire_p(struct gort__m *m)
{
    struct gort__p *p = m->p;
    struct gort__g *next = atomic_exchange(&p->runnext, NULL);
    gort__runq_drain_to_global(&p->runq, &gort__sched.runq, next);
    gfput_all(p);
    gort__stack_flush(&p->scache);
    gort__sudog_flush(&p->sudogs);
    pthread_mutex_lock(&gort__sched.lock);
    if (!p_retiring(p)) {
        /* GOMAXPROCS grew back meanwhile: keep the P. */
        pthread_mutex_unlock(&gort__sched.lock);
        return;
    }
    atomic_store_explicit(&p->status, GORT_P_DEAD, memory_order_relaxed);
    __atomic_store_n(&p->m, NULL, __ATOMIC_RELEASE);
    m->p = NULL;
    struct gort__p *other = pidleget();
    pthread_mutex_unlock(&gort__sched.lock);
    if (m->spinning) {
        m->spinning = false;
        atomic_fetch_sub(&gort__sched.nmspinning, 1);
    }
    if (other)
        acquirep(m, other);
    else
        stopm(m);
}

/* Queues a netpoll list on m's (new) P; extra goroutines wake a helper. */
static void queue_polled(struct gort__m *m, struct gort__g *list, int n)
{
    struct gort__p *p = m->p;
    gort__lat_sample_offp(list, (uint64_t)n);
    while (list) {
        struct gort__g *g = list;
        list = g->schedlink;
        gort__runq_put(&p->runq, &gort__sched.runq, g);
    }
    if (n > 1)
        wakep();
}

/* m has no P and nothing to do: if no other M sleeps in the netpoller, this
 * one does, until a descriptor is ready or the next timer is due. Returns
 * true when m holds a P again with work queued on it. */
static bool become_poller(struct gort__m *m)
{
    int zero = 0;
    if (!gort__netpoll_active() ||
        !atomic_compare_exchange_strong(&gort__sched.pollblocked, &zero, 1))
        return false;
    for (;;) {
        int64_t next = gort__timers_run(now_mono_ns());
        if (gort__globrunq_len(&gort__sched.runq) > 0)
            break; /* timers readied goroutines: find them a P below */
        int64_t timeout = next == INT64_MAX ? -1 : next - now_mono_ns();
        if (next != INT64_MAX && timeout < 0)
            timeout = 0;
        atomic_store(&gort__sched.lastpoll, 0); /* "someone is blocked" */
        struct gort__g *list;
        int n = gort__netpoll(timeout, GORT__NP_BLOCKING, &list);
        atomic_store(&gort__sched.lastpoll, now_mono_ns());
        if (n == 0)
            continue;
        atomic_store(&gort__sched.pollblocked, 0);
        pthread_mutex_lock(&gort__sched.lock);
        struct gort__p *p = pidleget();
        pthread_mutex_unlock(&gort__sched.lock);
        if (!p) {
            gort__inject(list, n);
            return false;
        }
        acquirep(m, p);
        queue_polled(m, list, n);
        return true;
    }
    atomic_store(&gort__sched.pollblocked, 0);
    pthread_mutex_lock(&gort__sched.lock);
    struct gort__p *p = pidleget();
    pthread_mutex_unlock(&gort__sched.lock);
    if (!p) {
        wakep();
        return false;
    }
    acquirep(m, p);
    return true;
}

/* Gives up m's P and sleeps until handed one. Returns early, still holding
 * a P, when work shows up meanwhile; the caller loops either way. */
static void drop_p_and_sleep(struct gort__m *m)
{
    struct gort__p *p = m->p;
    pthread_mutex_lock(&gort__sched.lock);
    if (gort__globrunq_len(&gort__sched.runq) > 0 && !p_retiring(p)) {
        pthread_mutex_unlock(&gort__sched.lock);
        return; /* caller loops and takes it */
    }
    if (p_retiring(p)) {
        pthread_mutex_unlock(&gort__sched.lock);
        retire_p(m);
        return;
    }
    pidleput(p);
    m->p = NULL;
    pthread_mutex_unlock(&gort__sched.lock);
    if (m->spinning) {
        m->spinning = false;
        atomic_fetch_sub(&gort__sched.nmspinning, 1);
        /* Re-check after leaving the spinning count (see the top comment). */
        if (any_work()) {
            pthread_mutex_lock(&gort__sched.lock);
            struct gort__p *np = pidleget();
            pthread_mutex_unlock(&gort__sched.lock);
            if (np) {
                acquirep(m, np);
                m->spinning = true;
                atomic_fetch_add(&gort__sched.nmspinning, 1);
                return;
            }
        }
    }
    /* Work put on the global queue just before our P went idle may have
     * found npidle == 0 in its wakep: look once more (see runq.c). */
    if (gort__globrunq_len(&gort__sched.runq) > 0) {
        pthread_mutex_lock(&gort__sched.lock);
        struct gort__p *np = pidleget();
        pthread_mutex_unlock(&gort__sched.lock);
        if (np) {
            acquirep(m, np);
            return;
        }
    }
    if (become_poller(m))
        return;
    stopm(m);
}

/* With one P, the non-blocking poll only pays when another M sleeps in
 * epoll: it takes the ready goroutines without waiting for that M to wake.
 * With nobody asleep there, this M is about to be the poller itself, and
 * its blocking poll returns at once when something is ready: a poll first
 * is a second system call whenever nothing is (a third of the polls per
 * proxied request, each followed by the blocking one; skipping it measured
 * 2.6% less CPU per proxied request). With more Ps the poll stays: it keeps
 * the ready goroutines on this P, where the blocking path would hand them
 * to an idle one and wake an M for it (3% more CPU per request for hello
 * at GOMAXPROCS=2 without it). */
static bool idle_poll_pays(void)
{
    return atomic_load_explicit(&gort__sched.gomaxprocs, memory_order_relaxed) >
               1 ||
           atomic_load_explicit(&gort__sched.pollblocked,
                                memory_order_relaxed) != 0;
}

static struct gort__g *findrunnable(struct gort__m *m)
{
    for (;;) {
        struct gort__p *p = m->p;
        if (gort__sendq_pending(p))
            gort__p_flush_sends(p);
        if (p_retiring(p)) {
            retire_p(m);
            continue;
        }
        struct gort__g *gp = local_next(p);
        if (!gp) {
            int np = atomic_load(&gort__sched.gomaxprocs);
            uint64_t share =
                gort__globrunq_len(&gort__sched.runq) / (unsigned)np + 1;
            gp = gort__globrunq_get(&gort__sched.runq, &p->runq,
                                    (uint32_t)share);
        }
        if (!gp && gort__timers_next() <= now_mono_ns()) {
            gort__timers_run(now_mono_ns()); /* they ready onto this P */
            gp = local_next(p);
        }
        if (!gp && idle_poll_pays())
            gp = gort__netpoll_poll_idle();
        if (!gp && (m->spinning || may_spin())) {
            if (!m->spinning) {
                m->spinning = true;
                atomic_fetch_add(&gort__sched.nmspinning, 1);
            }
            gp = steal_work(m, p);
        }
        if (gp) {
            if (m->spinning)
                reset_spinning(m);
            return gp;
        }
        drop_p_and_sleep(m);
    }
}

/* Takes an idle P for m (prefer first): false when none is idle. */
static bool try_idle_p(struct gort__m *m, struct gort__p *prefer)
{
    pthread_mutex_lock(&gort__sched.lock);
    struct gort__p *p = pidleget_prefer(prefer);
    pthread_mutex_unlock(&gort__sched.lock);
    if (!p)
        return false;
    acquirep(m, p);
    return true;
}

static void requeue_after(struct gort__m *m, struct gort__g *prev, void *arg)
{
    (void)m;
    (void)arg;
    global_put(prev);
    wakep();
}

/* Go's exitsyscall slow path, for a goroutine on m without a P (it left a
 * blocking call whose P was handed over, or sysmon took the P of a long
 * runner): an idle P, prefer first; else it queues globally and m goes to
 * g0 to sleep until handed a P. Returns the M gp runs on afterwards, which
 * holds a P. At a safe point only: gp may be switched out. */
static struct gort__m *p_reacquire(struct gort__m *m, struct gort__g *gp,
                                   struct gort__p *prefer)
{
    if (try_idle_p(m, prefer))
        return m;
    atomic_store_explicit(&gp->status, G_RUNNABLE, memory_order_relaxed);
    m->after = requeue_after;
    m->after_g = gp;
    m->after_arg = NULL;
    gp->m = NULL;
    m->curg = NULL;
    runseq_bump(gp);
    atomic_store_explicit(&m->curg_pub, NULL, memory_order_relaxed);
    switch_to(gp, &m->g0, false);
    return gort__getm();
}

static void schedule(struct gort__m *m)
{
    for (;;) {
        /* Left a goroutine without a P (blocking call, long runner). */
        if (!m->p && !try_idle_p(m, NULL))
            stopm(m);
        struct gort__g *gp = findrunnable(m);
        prepare_run(m, gp);
        switch_to(&m->g0, gp, false);
    }
}

/* ---- threads ------------------------------------------------------------ */

static void install_altstack(struct gort__m *m)
{
    m->altstack = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m->altstack == MAP_FAILED) {
        m->altstack = NULL;
        return;
    }
    stack_t ss = {.ss_sp = m->altstack, .ss_size = ALTSTACK_SIZE};
    sigaltstack(&ss, NULL);
}

static void init_g0(struct gort__m *m)
{
    pthread_attr_t attr;
    void *addr = NULL;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstack(&attr, &addr, &size);
        pthread_attr_destroy(&attr);
    }
    m->g0.stack.lo = (uintptr_t)addr;
    m->g0.stack.hi = (uintptr_t)addr + size;
    m->g0.stack.kind = STACK_THREAD;
    m->g0.goid = 0;
#if GORT__TSAN
    m->g0.tsan_fiber = __tsan_get_current_fiber();
#endif
}

/* Ms are created with every signal blocked (process signals belong to the
 * program's own threads), but a fault must reach our handler: a blocked
 * synchronous signal kills the process without running it. */
static void unblock_faults(void)
{
    sigset_t faults;
    sigemptyset(&faults);
    sigaddset(&faults, SIGSEGV);
    sigaddset(&faults, SIGBUS);
    sigaddset(&faults, SIGFPE);
    sigaddset(&faults, SIGILL);
    sigaddset(&faults, SIGTRAP);
    sigaddset(&faults, SIGABRT);
    sigaddset(&faults, GORT__SIG_DUMP); /* a dump's stack capture */
    pthread_sigmask(SIG_UNBLOCK, &faults, NULL);
}

static void *mstart(void *arg)
{
    struct gort__m *m = arg;
    atomic_store_explicit(&m->pstate, MS_RUNTIME, memory_order_relaxed);
    tls_m = m;
    unblock_faults();
    init_g0(m);
    install_altstack(m);
    acquirep(m, m->nextp);
    m->nextp = NULL;
    schedule(m);
}

int gort__max_threads(void)
{
    int n =
        atomic_load_explicit(&gort__sched.max_threads, memory_order_relaxed);
    return n > 0 ? n : MAX_THREADS_DEFAULT;
}

int gort__max_blocking(void)
{
    int n = atomic_load_explicit(&gort__sched.blk_max, memory_order_relaxed);
    return n > 0 ? n : MAX_BLOCKING_DEFAULT;
}

int gort_set_max_threads(int n)
{
    int old = gort__max_threads();
    if (n > 0)
        atomic_store(&gort__sched.max_threads, n);
    return old;
}

int gort_set_max_blocking(int n)
{
    int old = gort__max_blocking();
    if (n > 0)
        atomic_store(&gort__sched.blk_max, n);
    return old;
}

/* Once per process and cause: a line on stderr (gortd's log). */
static void report_once(int bit, const char *fmt, long a)
{
    int old = atomic_fetch_or(&gort__sched.thread_limit_logged, bit);
    if (old & bit)
        return;
    char buf[256];
    int n = snprintf(buf, sizeof buf, fmt, a);
    write_all(2, buf, n > 0 ? (size_t)n : 0);
}

static void thread_limit_hit(void)
{
    atomic_fetch_add_explicit(&gort__sched.thread_limit_hits, 1,
                              memory_order_relaxed);
    report_once(1,
                "gort: thread limit reached (%ld threads, "
                "gort_set_max_threads): goroutines wait for a thread and a "
                "long runner keeps its P\n",
                (long)gort__max_threads());
}

/* Counts one more M within the budget: false (reported) past it. */
static bool thread_reserve(void)
{
    int max = gort__max_threads();
    int n = atomic_load(&gort__sched.mcount);
    do {
        if (n >= max) {
            thread_limit_hit();
            return false;
        }
    } while (!atomic_compare_exchange_weak(&gort__sched.mcount, &n, n + 1));
    return true;
}

static void thread_failed(int err)
{
    atomic_fetch_sub(&gort__sched.mcount, 1);
    atomic_fetch_add_explicit(&gort__sched.thread_failures, 1,
                              memory_order_relaxed);
    report_once(2,
                "gort: cannot start a thread (error %ld): work stays "
                "queued, retried\n",
                (long)err);
}

/* Starts an M holding p. False, reported, when the budget or the system
 * refuses a thread: never an abort (the caller keeps the work queued). */
static bool newm(struct gort__p *p, bool spinning)
{
    if (!thread_reserve())
        return false;
    struct gort__m *m = calloc(1, sizeof *m);
    if (!m) {
        thread_failed(ENOMEM);
        return false;
    }
    m->id = atomic_fetch_add(&gort__sched.mnext, 1);
    m->nextp = p;
    m->spinning = spinning;
    m->fastrand =
        (uint64_t)now_mono_ns() * 0x9E3779B97F4A7C15ULL + (uint64_t)m->id + 1;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    sigset_t all, old;
    sigfillset(&all);
    /* Ms never take process signals: they belong to the program's threads. */
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&m->thread, &attr, mstart, m);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        free(m);
        thread_failed(rc);
        return false;
    }
    /* Listed once it exists (dumps, schedtrace walk allm); it never goes. */
    m->alllink = atomic_load(&gort__sched.allm);
    while (!atomic_compare_exchange_weak(&gort__sched.allm, &m->alllink, m)) {
    }
    return true;
}

/* ---- blocking calls ----------------------------------------------------- */

/* A blocking-call slot waiter, on its goroutine's stack. */
struct gort__blkwait {
    struct gort__g *g;
    struct gort__blkwait *next;
};

static bool blk_unlock(struct gort__g *gp, void *arg)
{
    (void)gp;
    gort__lock_release(arg);
    return true;
}

/* Takes a blocking-call slot for gp, parking in FIFO order while all are
 * busy. A released slot passes straight to the first waiter. */
static void blk_acquire(struct gort__g *gp)
{
    struct gort__sched *s = &gort__sched;
    gort__lock_acquire(&s->blk_lock);
    int busy = atomic_load_explicit(&s->blk_busy, memory_order_relaxed);
    if (busy < gort__max_blocking()) {
        atomic_store_explicit(&s->blk_busy, busy + 1, memory_order_relaxed);
        gort__lock_release(&s->blk_lock);
        return;
    }
    struct gort__blkwait w = {.g = gp, .next = NULL};
    if (s->blk_tail)
        s->blk_tail->next = &w;
    else
        s->blk_head = &w;
    s->blk_tail = &w;
    atomic_fetch_add_explicit(&s->blk_queued, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->blk_waits, 1, memory_order_relaxed);
    gort__park(blk_unlock, &s->blk_lock, WR_BLOCKING_SLOT);
}

static void blk_release(void)
{
    struct gort__sched *s = &gort__sched;
    gort__lock_acquire(&s->blk_lock);
    struct gort__blkwait *w = s->blk_head;
    if (!w) {
        atomic_fetch_sub_explicit(&s->blk_busy, 1, memory_order_relaxed);
        gort__lock_release(&s->blk_lock);
        return;
    }
    s->blk_head = w->next;
    if (!s->blk_head)
        s->blk_tail = NULL;
    atomic_fetch_sub_explicit(&s->blk_queued, 1, memory_order_relaxed);
    struct gort__g *gp = w->g; /* w dies once gp runs */
    gort__lock_release(&s->blk_lock);
    gort__ready(gp);
}

/* Go's entersyscall: cheap, keeps the P. The P's status says "in a
 * syscall"; sysmon takes it away if the call lasts (gort__handoffp). The M
 * stays inside the runtime gate until gort_syscall_exit, so sysmon's
 * long-runner path never applies to it. A safe point: a long runner takes
 * a P back first, then a blocking slot (which may wait). */
void gort_syscall_enter(void)
{
    struct gort__m *m = gort__getm();
    struct gort__g *gp = m ? m->curg : NULL;
    if (!gp)
        return;
    if (m->oldp)
        gort__throw("gort_syscall_enter", "nested blocking call");
    bool outer;
    struct gort__p *p;
    m = rt_enter_safe(m, &outer, &p);
    blk_acquire(gp);
    m = gort__getm(); /* the slot may have been a wait, then any M */
    p = m->p;
    /* Queued sends leave now rather than wait out the call (or sysmon's
     * hand-over of the P); the caller is running, so never among them. */
    if (gort__sendq_pending(p))
        gort__p_flush_sends(p);
    atomic_store_explicit(&gp->status, G_SYSCALL, memory_order_relaxed);
    own_inc(&p->syscalltick);
    m->oldp = p;
    atomic_fetch_add_explicit(&gort__sched.nmsyscall, 1, memory_order_relaxed);
    atomic_store_explicit(&p->status, GORT_P_SYSCALL, memory_order_release);
}

/* Go's exitsyscall: take the old P back if sysmon left it, else any idle
 * P (the old one first), else queue this goroutine and put the thread to
 * sleep. */
void gort_syscall_exit(void)
{
    struct gort__m *m = gort__getm();
    struct gort__g *gp = m ? m->curg : NULL;
    if (!gp || !m->oldp)
        return;
    blk_release(); /* m->oldp set: a waiter it readies goes global */
    struct gort__p *p = m->oldp;
    m->oldp = NULL;
    atomic_fetch_sub_explicit(&gort__sched.nmsyscall, 1, memory_order_relaxed);
    int st = GORT_P_SYSCALL;
    if (atomic_compare_exchange_strong(&p->status, &st, GORT_P_RUNNING)) {
        atomic_store_explicit(&gp->status, G_RUNNING, memory_order_relaxed);
        rt_exit(true);
        return;
    }
    m->p = NULL;
    m = p_reacquire(m, gp, p);
    atomic_store_explicit(&gp->status, G_RUNNING, memory_order_relaxed);
    rt_exit(true);
}

void gort_blocking(gort_fn fn, void *arg)
{
    gort_syscall_enter();
    fn(arg);
    gort_syscall_exit();
}

static bool p_has_work(struct gort__p *p)
{
    return gort__runq_len(&p->runq) > 0 || gort__sendq_pending(p) ||
           atomic_load_explicit(&p->runnext, memory_order_relaxed) ||
           gort__globrunq_len(&gort__sched.runq) > 0;
}

bool gort__handoff_ok(struct gort__p *p)
{
    if (!p_has_work(p) && !p_retiring(p))
        return true; /* it goes idle: no thread needed */
    pthread_mutex_lock(&gort__sched.lock);
    bool idle_m = gort__sched.midle != NULL;
    pthread_mutex_unlock(&gort__sched.lock);
    if (idle_m || atomic_load(&gort__sched.mcount) < gort__max_threads())
        return true;
    thread_limit_hit();
    return false;
}

/* sysmon took p from a thread in a blocking call or from a long runner:
 * give it to an M if there is anything to run (or it must retire), else
 * park it idle. */
void gort__handoffp(struct gort__p *p)
{
    if (p_has_work(p) || p_retiring(p)) {
        startm(p, false);
        return;
    }
    pthread_mutex_lock(&gort__sched.lock);
    pidleput(p);
    pthread_mutex_unlock(&gort__sched.lock);
}

void gort__wake_stranded(void)
{
    if (atomic_load(&gort__sched.npidle) == 0 ||
        atomic_load(&gort__sched.nmspinning) != 0 || !any_work())
        return;
    wakep();
}

/* ---- GOMAXPROCS --------------------------------------------------------- */

/* Resizes the set of Ps to n under sched.lock. A person's choice (custom)
 * sticks: the default no longer follows the CPU limit afterwards. */
static int procresize(int n, bool custom)
{
    pthread_mutex_lock(&gort__sched.lock);
    int old = atomic_load(&gort__sched.gomaxprocs);
    if (custom)
        gort__sched.maxprocs_custom = true;
    else if (gort__sched.maxprocs_custom || n == old) {
        pthread_mutex_unlock(&gort__sched.lock);
        return old;
    }
    int nallp = atomic_load(&gort__sched.nallp);
    for (int i = nallp; i < n; i++) {
        struct gort__p *np = newp(i);
        if (!np)
            gort__throw("gort_gomaxprocs", "out of memory for a P");
        atomic_store_explicit(&gort__sched.allp[i], np, memory_order_release);
    }
    if (n > nallp)
        atomic_store(&gort__sched.nallp, n);
    /* Surplus idle Ps die now; surplus running ones retire themselves. */
    struct gort__p **pp = &gort__sched.pidle;
    while (*pp) {
        struct gort__p *p = *pp;
        /* An idle P with queued sends (its hand-over found no thread)
         * stays listed: the M that takes it flushes them, then retires it. */
        if (p->id >= n && !gort__sendq_pending(p)) {
            *pp = p->link;
            atomic_fetch_sub(&gort__sched.npidle, 1);
            atomic_store_explicit(&p->status, GORT_P_DEAD,
                                  memory_order_relaxed);
        } else {
            pp = &p->link;
        }
    }
    atomic_store(&gort__sched.gomaxprocs, n);
    for (int i = 0; i < n; i++) {
        struct gort__p *p = gort__sched.allp[i];
        if (atomic_load_explicit(&p->status, memory_order_relaxed) ==
            GORT_P_DEAD)
            pidleput(p);
    }
    pthread_mutex_unlock(&gort__sched.lock);
    wakep();
    return old;
}

int gort_gomaxprocs(int n)
{
    if (n > GORT_MAXPROCS_CAP)
        return -EINVAL;
    if (!gort__runtime_started()) {
        int rc = gort__runtime_init();
        if (rc < 0)
            return rc;
    }
    if (n <= 0)
        return atomic_load(&gort__sched.gomaxprocs);
    return procresize(n, true);
}

void gort__procs_follow_default(int n)
{
    procresize(n, false);
}

/* ---- start-up ----------------------------------------------------------- */

static struct sigaction old_segv, old_bus;

static void segv_handler(int sig, siginfo_t *si, void *uc)
{
    struct gort__m *m = tls_m;
    uintptr_t addr = (uintptr_t)si->si_addr;
    /* During a switch curg already names the next goroutine while the
     * registers are still pushed on the previous one's stack (after_g). */
    struct gort__g *cands[2] = {m ? m->curg : NULL, m ? m->after_g : NULL};
    for (int i = 0; i < 2; i++)
        if (cands[i] && gort__stack_contains_guard(&cands[i]->stack, addr))
            stack_overflow(cands[i], "guard page hit");
    struct sigaction *old = sig == SIGSEGV ? &old_segv : &old_bus;
    if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction) {
        old->sa_sigaction(sig, si, uc);
        return;
    }
    /* Not ours: restore the previous disposition; the fault repeats. */
    sigaction(sig, old, NULL);
}

static void restore_segv_handler(void)
{
    sigaction(SIGSEGV, &old_segv, NULL);
    sigaction(SIGBUS, &old_bus, NULL);
}

static void install_segv_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = segv_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
}

/* GOMAXPROCS from the environment: absent → 0, valid → n, else -EINVAL. */
static int env_procs(void)
{
    const char *s = getenv("GOMAXPROCS");
    if (!s || !*s)
        return 0;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end != '\0' || v < 1 || v > GORT_MAXPROCS_CAP) {
        fprintf(stderr,
                "gort: invalid GOMAXPROCS=\"%s\": want an integer from 1 "
                "to %d\n",
                s, GORT_MAXPROCS_CAP);
        return -EINVAL;
    }
    return (int)v;
}

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

/* The n Ps of start-up, all idle; -ENOMEM with none left behind. */
static int procs_create(int n)
{
    struct gort__sched *s = &gort__sched;
    for (int i = 0; i < n; i++) {
        struct gort__p *p = newp(i);
        if (!p) {
            while (i-- > 0) {
                free(atomic_load(&s->allp[i]));
                atomic_store(&s->allp[i], NULL);
            }
            return -ENOMEM;
        }
        atomic_store(&s->allp[i], p);
    }
    atomic_store(&s->nallp, n);
    atomic_store(&s->gomaxprocs, n);
    for (int i = n - 1; i >= 0; i--)
        pidleput(s->allp[i]);
    return 0;
}

/* Undoes procs_create: nothing has run on the Ps yet. */
static void procs_free(void)
{
    struct gort__sched *s = &gort__sched;
    int n = atomic_load(&s->nallp);
    for (int i = 0; i < n; i++) {
        gort__sendq_free(atomic_load(&s->allp[i]));
        free(atomic_load(&s->allp[i]));
        atomic_store(&s->allp[i], NULL);
    }
    s->pidle = NULL;
    atomic_store(&s->npidle, 0);
    atomic_store(&s->nallp, 0);
    atomic_store(&s->gomaxprocs, 0);
}

/* Starts the runtime once. A step that fails undoes the ones before it
 * (Ps, signal handlers, locks) and returns its error, so the caller can
 * report it and a later call can try again. The netpoller is the one thing
 * a failure after it leaves running: it is process-wide and started on
 * demand by gort_socket/gort_fd_open from any thread, which may already be
 * using it; the retry reuses it. A netpoller that fails to start leaves
 * nothing (netpoll.c). Threads: sysmon is the only one, started last. */
int gort__runtime_init(void)
{
    pthread_mutex_lock(&init_lock);
    if (gort__runtime_started()) {
        pthread_mutex_unlock(&init_lock);
        return 0;
    }
    gort__debug_parse();
    int n = env_procs();
    if (n < 0) {
        pthread_mutex_unlock(&init_lock);
        return n;
    }
    struct gort__sched *s = &gort__sched;
    s->maxprocs_custom = n > 0;
    if (n == 0)
        n = gort__ncpu_default();
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->allglock, NULL);
    gort__globrunq_init(&s->runq);
    s->start_ns = now_mono_ns();
    atomic_store(&s->lastpoll, s->start_ns);
    int rc = procs_create(n);
    if (rc < 0)
        goto err_locks;
    install_segv_handler();
    rc = gort__netpoll_start();
    if (rc < 0)
        goto err_procs;
    gort__sendq_start();
    rc = gort__sysmon_start();
    if (rc < 0)
        goto err_procs;
    atomic_store_explicit(&s->mainstarted, 1, memory_order_release);
    pthread_mutex_unlock(&init_lock);
    return 0;
err_procs:
    restore_segv_handler();
    procs_free();
err_locks:
    pthread_mutex_destroy(&s->runq.lock);
    pthread_mutex_destroy(&s->allglock);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_unlock(&init_lock);
    return rc;
}

struct main_ctx {
    gort_fn fn;
    void *arg;
    gort__note done;
};

static void main_goroutine(void *arg)
{
    struct main_ctx *mc = arg;
    mc->fn(mc->arg);
    gort__note_wakeup(&mc->done);
}

int gort_main(gort_fn fn, void *arg)
{
    if (!fn)
        return -EINVAL;
    if (gort__getg())
        return -EDEADLK; /* would block this goroutine's M forever */
    int rc = gort__runtime_init();
    if (rc < 0)
        return rc;
    gort__sym_index_once(); /* dumps name frames without indexing later */
    struct main_ctx mc = {.fn = fn, .arg = arg};
    gort__note_clear(&mc.done);
    struct gort_go_opts opts = {.label = "main", .stack_size = GORT_STACK_MAIN};
    if (newproc(main_goroutine, &mc, &opts,
                (uintptr_t)__builtin_return_address(0)) < 0)
        return -ENOMEM;
    wakep();
    gort__note_sleep(&mc.done);
    return 0;
}
