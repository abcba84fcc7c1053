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
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "gort/net.h"
#include "netpoll.h"
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
    struct gort__netpoll_stats ns;
    gort__netpoll_stats(&ns);
    s->g_created = t.created;
    s->g_live = sub0(t.created, t.exited) + ns.pending;
    s->g_waiting = sub0(t.parked, t.readied) + ns.pending;
    s->g_runnable = t.queued + s->global_runq_len;
    s->g_running = sub0(s->g_live, s->g_waiting + s->g_runnable);
    if (s->g_running > (uint64_t)s->gomaxprocs)
        s->g_running = (uint64_t)s->gomaxprocs;
    s->ctx_switches = t.ctxsw;
    struct gort__stack_counts sc;
    gort__stack_counts(&sc);
    s->stacks_guarded = sc.guarded;
    s->stacks_canary = sc.canary;
    s->stack_reserved_bytes = sc.reserved_bytes;
    s->uptime_ns = gort_nanotime() - gort__sched.start_ns;
    s->netpoll_wakeups_thread = ns.wakeups_thread;
    s->netpoll_wakeups_idle = ns.wakeups_idle;
    s->io_waiting = ns.waiting + ns.pending;
    s->timers = gort__timers_len();
    s->long_running = atomic_load(&gort__sched.long_running);
    return 0;
}

/* ---- dumps -------------------------------------------------------------- */

static void symbolize(uintptr_t pc, struct gort_frame *f)
{
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    f->pc = pc;
    f->func = NULL;
    f->object = NULL;
    f->offset = 0;
    if (!dladdr1((void *)pc, &info, (void **)&sym, RTLD_DL_SYMENT))
        return;
    f->object = info.dli_fname;
    /* dladdr names the nearest exported symbol before pc; for a hidden
     * function that is some other function, so trust it only when pc lies
     * within the symbol's size. */
    if (info.dli_sname && sym && sym->st_size &&
        pc - (uintptr_t)info.dli_saddr < sym->st_size) {
        f->func = info.dli_sname;
        f->offset = pc - (uintptr_t)info.dli_saddr;
    } else {
        f->func = gort__exe_symbol(pc, &f->offset);
        if (!f->func)
            f->offset = pc - (uintptr_t)info.dli_fbase;
    }
}

__attribute__((no_sanitize("address", "thread"))) static int
walk_frames(const struct gort__g *gp, void *sp, struct gort_frame *out, int max)
{
    uintptr_t lo = gp->stack.lo, hi = gp->stack.hi;
    if ((uintptr_t)sp < lo || (uintptr_t)sp >= hi)
        return 0;
    uintptr_t pc = gort__ctx_saved_pc(sp);
    uintptr_t fp = gort__ctx_saved_fp(sp);
    int n = 0;
    while (pc && n < max) {
        symbolize(pc, &out[n++]);
        if (fp < (uintptr_t)sp || fp + 2 * sizeof(uintptr_t) > hi ||
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
    symbolize((uintptr_t)gp->fn, &info->start);
    info->creator_id = gp->creator_id;
    info->long_running =
        atomic_load_explicit(&gp->long_running, memory_order_relaxed);
    symbolize(gp->creator_pc, &info->creator);
    void *sp = __atomic_load_n(&gp->sp, __ATOMIC_RELAXED);
    if ((status == G_WAITING || status == G_RUNNABLE) && sp)
        info->nframes = walk_frames(gp, sp, info->frames, GORT_DUMP_MAX_FRAMES);
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
    symbolize((uintptr_t)cb->fn, &info->start);
    info->creator_id = cb->origin.creator_id;
    symbolize(cb->origin.creator_pc, &info->creator);
    info->frames[0] = info->start;
    info->nframes = 1;
    w->n++;
    return w->fn(info, w->arg);
}

/* A frame's names come from dladdr and point into the loaded object's own
 * tables: a dlclose while a dump formats them would free them under it (a
 * plugin unloaded during `gortctl dump`). A walk holds this for reading,
 * callbacks included; gort_dlclose takes it for writing. */
static pthread_rwlock_t symbols_lock = PTHREAD_RWLOCK_INITIALIZER;

int gort_dlclose(void *handle)
{
    bool on_g = gort__getg() != NULL;
    if (on_g)
        gort_syscall_enter(); /* a dump may hold the lock a few ms */
    pthread_rwlock_wrlock(&symbols_lock);
    int rc = dlclose(handle);
    pthread_rwlock_unlock(&symbols_lock);
    if (on_g)
        gort_syscall_exit();
    return rc;
}

long gort_goroutines_each(gort_dump_fn fn, void *arg)
{
    if (!fn || !gort__runtime_started())
        return -EINVAL;
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

static void print_frame(FILE *f, const struct gort_frame *fr)
{
    if (fr->func)
        fprintf(f, "%s(...)\n\t%s +%#lx\n", fr->func,
                fr->object ? fr->object : "?", (unsigned long)fr->offset);
    else
        fprintf(f, "?(...)\n\t%s +%#lx\n", fr->object ? fr->object : "?",
                (unsigned long)fr->offset);
}

static int dump_one(const struct gort_goroutine_info *g, void *arg)
{
    FILE *f = arg;
    long minutes = (long)(g->waiting_ns / 60000000000LL);
    fprintf(f, "goroutine %lld [%s", (long long)g->id, g->state);
    if (g->long_running)
        fputs(", ran over 10 ms without yielding", f);
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
    fprintf(f, "\t%s +%#lx\n\n", g->creator.object ? g->creator.object : "?",
            (unsigned long)g->creator.offset);
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
