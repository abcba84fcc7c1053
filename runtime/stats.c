/* stats.c — scheduler snapshot and goroutine dumps, read while goroutines
 * run.
 *
 * Counters are per P and written only by the P's owner (proc.c), so reading
 * them is a relaxed load each: the snapshot never stops the world and never
 * slows the hot path. Goroutine counts by state are derived from transition
 * counters (created, exited, parked, readied) and queue lengths rather than
 * by walking every goroutine, so GetStats costs the same with a million
 * goroutines as with ten.
 *
 * A dump does walk every goroutine (the allgs list only grows; goroutine
 * structs are pooled, never freed) and reads each parked goroutine's saved
 * frame pointers. That read races with the goroutine being resumed: the walk
 * is bounded by the goroutine's stack, checks every frame pointer, and is
 * compiled without sanitizer instrumentation, so a torn frame gives a short
 * or odd backtrace, never a crash. Symbols come from dladdr, or, for the
 * executable's own functions, which gortd does not export, from its symbol
 * table (symtab.c).
 *
 * A dump also lists the goroutines that have no struct yet: a pending
 * gort_fd_on_readable callback (an idle keep-alive connection) is a
 * goroutine parked without a stack. It took its id when it was registered,
 * and the goroutine the netpoller starts for it runs with that id, so the
 * entry a user sees is the goroutine that serves the next request. It is
 * listed in "IO wait" with its registrant's label and as creator, and one
 * frame, the callback: exactly where that goroutine will begin, so the
 * frame is true, not a guess. netpoll.c copies each record under its
 * descriptor's lock, and this file formats it after the lock is released.
 * Walking the goroutines first and the callbacks second cannot list one
 * twice (a callback leaves its descriptor before its goroutine exists); one
 * that fires between the two walks is missed, as a goroutine created during
 * a walk can be. Stats count each callback as a live goroutine waiting in
 * IO wait (netpoll keeps their number), so GetStats' live count matches
 * the dump.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <execinfo.h>
#include <link.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "gort/net.h"
#include "netpoll.h"
#include "sendq.h"
#include "runtime.h"
#include "symtab.h"
#include "timer.h"

static uint64_t rd(const _Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static void p_snapshot(struct gort__p *p, struct gort_p_stats *o)
{
    o->id = p->id;
    o->idle_ns = rd(&p->idle_ns); /* before the status: see below */
    o->status = atomic_load_explicit(&p->status, memory_order_relaxed);
    o->runq_len = gort__runq_len(&p->runq);
    o->runnext =
        atomic_load_explicit(&p->runnext, memory_order_relaxed) != NULL;
    o->schedticks = rd(&p->schedtick);
    o->steals_in = rd(&p->steals_in);
    o->steals_out = rd(&p->steals_out);
    o->goroutines_run = rd(&p->goroutines_run);
    /* An idle P's current idle period is added to idle_ns when it wakes:
     * count it so far, so that idle time grows while it sleeps (gortctl
     * watch's busy share). Without the lock: if idle_ns moved while we
     * looked (status and idle_since read between its two reads), the P
     * woke and counted the period itself meanwhile. */
    if (o->status == GORT_P_IDLE) {
        int64_t since = __atomic_load_n(&p->idle_since, __ATOMIC_RELAXED);
        int64_t now = now_mono_ns();
        if (rd(&p->idle_ns) == o->idle_ns && since > 0 && now > since)
            o->idle_ns += (uint64_t)(now - since);
    }
}

struct totals {
    uint64_t created, exited, parked, readied, ctxsw, queued;
};

static void sum_ps(struct gort_stats *s, struct totals *t)
{
    s->nprocs = atomic_load(&gort__sched.nallp);
    for (int i = 0; i < s->nprocs; i++) {
        struct gort__p *p = atomic_load(&gort__sched.allp[i]);
        p_snapshot(p, &s->procs[i]);
        t->created += rd(&p->created);
        t->exited += rd(&p->exited);
        t->parked += rd(&p->parked);
        t->readied += rd(&p->readied);
        t->ctxsw += rd(&p->ctx_switches);
        t->queued += s->procs[i].runq_len + (unsigned)s->procs[i].runnext;
        for (int b = 0; b < GORT_LAT_BUCKETS; b++)
            s->sched_latency[b] += rd(&p->latency[b]);
    }
}

static uint64_t sub0(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

static void ms_snapshot(struct gort_stats *s)
{
    pthread_mutex_lock(&gort__sched.lock);
    s->m_idle = gort__sched.nmidle;
    pthread_mutex_unlock(&gort__sched.lock);
    s->m_total = atomic_load(&gort__sched.mcount);
    s->m_spinning = atomic_load(&gort__sched.nmspinning);
    s->m_running = s->m_total - s->m_idle - s->m_spinning;
    if (s->m_running < 0)
        s->m_running = 0;
    s->m_syscall = atomic_load(&gort__sched.nmsyscall);
}

int gort_stats_read(struct gort_stats *s)
{
    if (!s)
        return -EINVAL;
    memset(s, 0, sizeof *s);
    if (!gort__runtime_started())
        return -EINVAL;
    struct totals t = {0};
    s->gomaxprocs = atomic_load(&gort__sched.gomaxprocs);
    sum_ps(s, &t);
    s->global_runq_len = gort__globrunq_len(&gort__sched.runq);
    ms_snapshot(s);
    t.created += atomic_load(&gort__sched.created_offp);
    t.readied += atomic_load(&gort__sched.readied_offp);
    t.parked += atomic_load(&gort__sched.parked_offp);
    t.exited += atomic_load(&gort__sched.exited_offp);
    struct gort__netpoll_stats ns;
    gort__netpoll_stats(&ns);
    s->g_created = t.created;
    s->g_live = sub0(t.created, t.exited) + ns.pending;
    s->g_waiting = sub0(t.parked, t.readied) + ns.pending;
    s->g_runnable = t.queued + s->global_runq_len;
    s->g_running = sub0(s->g_live, s->g_waiting + s->g_runnable);
    s->long_runners = atomic_load(&gort__sched.nlost);
    if (s->long_runners < 0)
        s->long_runners = 0;
    /* Running: one per P, plus the long runners that lost theirs. */
    uint64_t cap = (uint64_t)s->gomaxprocs + (uint64_t)s->long_runners;
    if (s->g_running > cap)
        s->g_running = cap;
    s->ctx_switches = t.ctxsw;
    struct gort__stack_counts sc;
    gort__stack_counts(&sc);
    s->stacks_guarded = sc.guarded;
    s->stacks_canary = sc.canary;
    s->stack_reserved_bytes = sc.reserved_bytes;
    s->uptime_ns = gort_nanotime() - gort__sched.start_ns;
    gort__sendq_counts(&s->sends_batched, &s->send_batches);
    s->netpoll_wakeups_thread = ns.wakeups_thread;
    s->netpoll_wakeups_idle = ns.wakeups_idle;
    s->io_waiting = ns.waiting + ns.pending;
    s->timers = gort__timers_len();
    s->long_running = atomic_load(&gort__sched.long_running);
    s->retakes_long = atomic_load(&gort__sched.retakes_long);
    s->retakes_syscall = atomic_load(&gort__sched.retakes_syscall);
    s->max_threads = gort__max_threads();
    s->thread_limit_hits = atomic_load(&gort__sched.thread_limit_hits);
    s->thread_failures = atomic_load(&gort__sched.thread_failures);
    s->blocking_max = gort__max_blocking();
    s->blocking_busy = atomic_load(&gort__sched.blk_busy);
    s->blocking_queued = atomic_load(&gort__sched.blk_queued);
    s->blocking_waits = atomic_load(&gort__sched.blk_waits);
    return 0;
}

/* ---- dumps -------------------------------------------------------------- */

static void symbolize(uintptr_t pc, bool ret, struct gort_frame *f)
{
    struct gort__sym s;
    f->pc = pc;
    f->func = f->object = f->file = NULL;
    f->offset = 0;
    f->line = 0;
    if (!gort__sym_lookup(pc, ret, &s))
        return;
    f->object = s.object;
    f->func = s.func;
    f->offset = s.func ? s.funcoff : s.objoff;
    f->file = s.file;
    f->line = s.file ? s.line : 0;
}

/* The frame-pointer chain from (pc, fp) within [lo, hi): pcs[0] = pc.
 * Reads a stack another thread may be changing: bounded, every pointer
 * checked, no sanitizer (a torn frame ends the walk early). */
__attribute__((no_sanitize("address", "thread"))) int
gort__walk_fp(uintptr_t pc, uintptr_t fp, uintptr_t lo, uintptr_t hi,
              uintptr_t *pcs, int max)
{
    int n = 0;
    while (pc && n < max) {
        pcs[n++] = pc;
        if (fp < lo || fp + 2 * sizeof(uintptr_t) > hi ||
            (fp & (sizeof(uintptr_t) - 1)))
            break;
        uintptr_t next = ((const uintptr_t *)fp)[0];
        pc = ((const uintptr_t *)fp)[1];
        if (next <= fp)
            break;
        fp = next;
    }
    return n;
}

int gort__g_pcs(const struct gort__g *gp, uintptr_t *pcs, int max)
{
    /* No saved sp yet: a new goroutine whose stack its first M may be
     * binding right now; its bounds are not ours to read. */
    void *sp = __atomic_load_n(&gp->sp, __ATOMIC_ACQUIRE);
    if (!sp)
        return 0;
    uintptr_t lo = gp->stack.lo, hi = gp->stack.hi;
    if ((uintptr_t)sp < lo || (uintptr_t)sp >= hi)
        return 0;
    return gort__walk_fp(gort__ctx_saved_pc(sp), gort__ctx_saved_fp(sp),
                         (uintptr_t)sp, hi, pcs, max);
}

/* ---- a running goroutine's stack, taken on its own thread ---------------
 *
 * A running goroutine has no saved frame: its registers are live on
 * another M. The dump sends that M a signal (GORT__SIG_DUMP, unblocked on
 * every M); the handler, on the M's signal stack, checks that the M still
 * runs the goroutine asked for and that the interrupted stack pointer is
 * on its stack, walks the frame pointers from the interrupted context, and
 * posts a semaphore. One capture at a time (capture.lock); the dump waits
 * at most CAPTURE_WAIT_NS, then gives up on that goroutine (an M with the
 * signal blocked, or not scheduled for that long), and a handler that
 * starts after the dump gave up sees the request withdrawn. The signal is
 * installed with SA_RESTART; a raw blocking call that returns EINTR anyway
 * (epoll_wait, nanosleep) sees it, as a Go program's calls see SIGURG. */
#define CAPTURE_WAIT_NS (100 * 1000 * 1000)
enum { CAP_IDLE, CAP_ARMED, CAP_BUSY, CAP_DONE };

static struct {
    pthread_mutex_t lock;
    _Atomic int state;
    struct gort__g *_Atomic want;
    sem_t done;
    int n;
    uintptr_t pcs[GORT_DUMP_MAX_FRAMES];
} capture = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void capture_handler(int sig, siginfo_t *si, void *ucv)
{
    (void)sig;
    (void)si;
    int saved = errno;
    int expect = CAP_ARMED;
    if (!atomic_compare_exchange_strong(&capture.state, &expect, CAP_BUSY)) {
        errno = saved;
        return;
    }
    struct gort__m *m = gort__getm();
    struct gort__g *gp = atomic_load(&capture.want);
    uintptr_t pc, sp, fp;
    capture.n = 0;
    if (m && m->curg == gp && gort__uctx_regs(ucv, &pc, &sp, &fp) &&
        sp >= gp->stack.lo && sp < gp->stack.hi)
        capture.n = gort__uctx_pcs(ucv, sp, gp->stack.hi, capture.pcs,
                                   GORT_DUMP_MAX_FRAMES);
    atomic_store(&capture.state, CAP_DONE);
    sem_post(&capture.done);
    errno = saved;
}

static void capture_install(void)
{
    void *warm[2]; /* backtrace loads libgcc_s on first use: not there */
    (void)backtrace(warm, 2);
    sem_init(&capture.done, 0, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = capture_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigfillset(&sa.sa_mask);
    sigaction(GORT__SIG_DUMP, &sa, NULL);
}

static int capture_running(struct gort__g *gp, struct gort_frame *out, int max)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    uintptr_t pcs[GORT_DUMP_MAX_FRAMES];
    int n = 0;
    if (gp == gort__getg()) { /* dumping itself */
        const uintptr_t *fp = __builtin_frame_address(0);
        n = gort__walk_fp((uintptr_t)__builtin_return_address(0), fp[0],
                          (uintptr_t)fp, gp->stack.hi, pcs, max);
        for (int i = 0; i < n; i++)
            symbolize(pcs[i], true, &out[i]);
        return n;
    }
    struct gort__m *m = atomic_load(&gort__sched.allm);
    for (; m; m = m->alllink)
        if (atomic_load_explicit(&m->curg_pub, memory_order_relaxed) == gp)
            break;
    if (!m)
        return 0;
    pthread_once(&once, capture_install);
    pthread_mutex_lock(&capture.lock);
    atomic_store(&capture.want, gp);
    atomic_store(&capture.state, CAP_ARMED);
    bool got = false;
    if (pthread_kill(m->thread, GORT__SIG_DUMP) == 0) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += CAPTURE_WAIT_NS;
        until.tv_sec += until.tv_nsec / 1000000000;
        until.tv_nsec %= 1000000000;
        while (sem_timedwait(&capture.done, &until) != 0 && errno == EINTR) {
        }
        int expect = CAP_ARMED;
        if (!atomic_compare_exchange_strong(&capture.state, &expect,
                                            CAP_IDLE)) {
            /* The handler took it: it finishes, and posts. */
            while (atomic_load(&capture.state) != CAP_DONE)
                sched_yield();
            got = true;
        }
    }
    /* A post nobody waited for (handler done after a timeout) is drained
     * here, so the next capture does not return early. */
    while (sem_trywait(&capture.done) == 0) {
    }
    if (got) {
        n = capture.n < max ? capture.n : max;
        memcpy(pcs, capture.pcs, (size_t)n * sizeof *pcs);
    }
    atomic_store(&capture.state, CAP_IDLE);
    pthread_mutex_unlock(&capture.lock);
    for (int i = 0; i < n; i++)
        symbolize(pcs[i], i > 0, &out[i]);
    return n;
}

static int walk_frames(const struct gort__g *gp, struct gort_frame *out,
                       int max)
{
    uintptr_t pcs[GORT_DUMP_MAX_FRAMES];
    int n = gort__g_pcs(
        gp, pcs, max < GORT_DUMP_MAX_FRAMES ? max : GORT_DUMP_MAX_FRAMES);
    for (int i = 0; i < n; i++)
        symbolize(pcs[i], true, &out[i]);
    return n;
}

static const char *state_word(int status, int reason)
{
    switch (status) {
    case G_RUNNABLE:
        return "runnable";
    case G_RUNNING:
        return "running";
    case G_SYSCALL:
        return "syscall";
    case G_WAITING:
        return reason > 0 && reason < WR_COUNT ? gort__waitreason_str[reason]
                                               : "waiting";
    default:
        return "idle";
    }
}

__attribute__((no_sanitize("thread"))) static void
copy_label(char *dst, const struct gort__g *gp)
{
    const char *src = atomic_load_explicit(&gp->label, memory_order_acquire);
    if (src)
        memcpy(dst, src, GORT__LABEL_MAX);
    else
        dst[0] = '\0';
    dst[GORT__LABEL_MAX - 1] = '\0';
}

/* Fills info for gp; false when gp is not live. */
static bool describe(struct gort__g *gp, struct gort_goroutine_info *info,
                     char *label, int64_t now)
{
    int status = atomic_load_explicit(&gp->status, memory_order_acquire);
    if (status == G_DEAD || status == G_IDLE)
        return false;
    int reason = atomic_load_explicit(&gp->waitreason, memory_order_relaxed);
    memset(info, 0, sizeof *info);
    info->id = gp->goid;
    info->state = state_word(status, reason);
    info->wait_reason = status == G_WAITING ? info->state : "";
    if (status == G_WAITING) {
        int64_t since =
            atomic_load_explicit(&gp->waitsince, memory_order_relaxed);
        info->waiting_ns = since > 0 && now > since ? now - since : 0;
    }
    copy_label(label, gp);
    info->label = label;
    symbolize((uintptr_t)gp->fn, false, &info->start);
    info->creator_id = gp->creator_id;
    /* The marks describe a run: a goroutine that already says it waits
     * (its status is set before it switches out and bumps runseq) has none. */
    bool on_cpu = status == G_RUNNING;
    uint32_t lr = atomic_load_explicit(&gp->long_running, memory_order_relaxed);
    info->long_running =
        on_cpu && (lr & 1) &&
        lr == atomic_load_explicit(&gp->runseq, memory_order_relaxed);
    info->retaken =
        on_cpu && atomic_load_explicit(&gp->retaken, memory_order_relaxed);
    symbolize(gp->creator_pc, true, &info->creator);
    if (status == G_WAITING || status == G_RUNNABLE)
        info->nframes = walk_frames(gp, info->frames, GORT_DUMP_MAX_FRAMES);
    else if (status == G_RUNNING)
        info->nframes = capture_running(gp, info->frames, GORT_DUMP_MAX_FRAMES);
    return true;
}

struct pending_walk {
    gort_dump_fn fn;
    void *arg;
    struct gort_goroutine_info *info;
    int64_t now;
    long n;
};

/* A pending gort_fd_on_readable callback as the goroutine it will be. */
static int describe_pending(const struct gort__np_pending *cb, void *arg)
{
    struct pending_walk *w = arg;
    struct gort_goroutine_info *info = w->info;
    memset(info, 0, sizeof *info);
    info->id = cb->origin.goid;
    info->state = info->wait_reason = gort__waitreason_str[WR_IO_WAIT];
    info->waiting_ns =
        cb->since > 0 && w->now > cb->since ? w->now - cb->since : 0;
    info->label = cb->label;
    symbolize((uintptr_t)cb->fn, false, &info->start);
    info->creator_id = cb->origin.creator_id;
    symbolize(cb->origin.creator_pc, true, &info->creator);
    info->frames[0] = info->start;
    info->nframes = 1;
    w->n++;
    return w->fn(info, w->arg);
}

/* A frame's names point into the symbol index (symtab.c), which drops an
 * object after its dlclose: freeing it while a dump formats them would pull
 * them from under it (a plugin unloaded during `gortctl dump`). A walk holds
 * this for reading, callbacks included; gort_dlclose takes it for writing. */
static pthread_rwlock_t symbols_lock = PTHREAD_RWLOCK_INITIALIZER;

int gort_dlclose(void *handle)
{
    bool on_g = gort__getg() != NULL;
    if (on_g)
        gort_syscall_enter(); /* a dump may hold the lock a few ms */
    pthread_rwlock_wrlock(&symbols_lock);
    int rc = dlclose(handle);
    gort__sym_prune();
    pthread_rwlock_unlock(&symbols_lock);
    if (on_g)
        gort_syscall_exit();
    return rc;
}

/* The objects loaded at start, indexed once, on gort_main's thread before
 * any goroutine runs; a later dlopen indexes its own through
 * gort_symbols_refresh (the plugin loader calls it). Not from a goroutine
 * on a dump: indexing there (dl_iterate_phdr, libdw) hung test_sleep's
 * polling dumps under ASan. */
void gort__sym_index_once(void)
{
    static pthread_once_t indexed = PTHREAD_ONCE_INIT;
    pthread_once(&indexed, gort__sym_refresh);
}

void gort_symbols_refresh(void)
{
    gort__sym_refresh();
}

long gort_goroutines_each(gort_dump_fn fn, void *arg)
{
    if (!fn || !gort__runtime_started())
        return -EINVAL;
    gort__sym_index_once();
    struct gort_goroutine_info *info = malloc(sizeof *info);
    if (!info)
        return -ENOMEM;
    pthread_rwlock_rdlock(&symbols_lock);
    char label[GORT__LABEL_MAX];
    int64_t now = gort__coarse_now();
    long n = 0;
    bool stopped = false;
    struct gort__g *gp =
        atomic_load_explicit(&gort__sched.allgs, memory_order_acquire);
    for (; gp && !stopped; gp = gp->allnext) {
        if (!describe(gp, info, label, now))
            continue;
        n++;
        stopped = fn(info, arg) != 0;
    }
    struct pending_walk w = {
        .fn = fn, .arg = arg, .info = info, .now = now, .n = n};
    if (!stopped)
        gort__netpoll_pending_each(describe_pending, &w);
    pthread_rwlock_unlock(&symbols_lock);
    free(info);
    return w.n;
}

static void print_where(FILE *f, const struct gort_frame *fr)
{
    if (fr->file)
        fprintf(f, "\t%s:%d +%#lx\n", fr->file, fr->line,
                (unsigned long)fr->offset);
    else
        fprintf(f, "\t%s +%#lx\n", fr->object ? fr->object : "?",
                (unsigned long)fr->offset);
}

static void print_frame(FILE *f, const struct gort_frame *fr)
{
    fprintf(f, "%s(...)\n", fr->func ? fr->func : "?");
    print_where(f, fr);
}

static int dump_one(const struct gort_goroutine_info *g, void *arg)
{
    FILE *f = arg;
    long minutes = (long)(g->waiting_ns / 60000000000LL);
    fprintf(f, "goroutine %lld [%s", (long long)g->id, g->state);
    if (g->long_running)
        fputs(", ran over 10 ms without yielding", f);
    if (g->retaken)
        fputs(", P handed over", f);
    if (minutes >= 1)
        fprintf(f, ", %ld minute%s", minutes, minutes == 1 ? "" : "s");
    fprintf(f, "]%s%s%s:\n", g->label[0] ? " (" : "", g->label,
            g->label[0] ? ")" : "");
    for (int i = 0; i < g->nframes; i++)
        print_frame(f, &g->frames[i]);
    if (g->nframes == 0)
        fprintf(f, "\t(no backtrace: %s)\n",
                strcmp(g->state, "running") == 0 ? "running on another thread"
                                                 : "not parked");
    fprintf(f, "created by %s in goroutine %lld\n",
            g->creator.func ? g->creator.func : "?", (long long)g->creator_id);
    print_where(f, &g->creator);
    fputc('\n', f);
    return 0;
}

long gort_dump_text(int fd)
{
    int dupfd = dup(fd);
    if (dupfd < 0)
        return -errno;
    FILE *f = fdopen(dupfd, "w");
    if (!f) {
        close(dupfd);
        return -ENOMEM;
    }
    long n = gort_goroutines_each(dump_one, f);
    fclose(f);
    return n;
}
