/* sysmon.c — the runtime's monitor thread, after Go's sysmon.
 *
 * It runs without a P and wakes every 20 µs while there is something to
 * watch, backing off (doubling after 1 ms of nothing to do) to 10 ms. Each
 * tick it:
 *  - retakes Ps from threads stuck in a blocking call: a P that stayed in
 *    GORT_P_SYSCALL across a whole tick (same syscalltick) is taken by CAS
 *    and handed to another M (gort__handoffp), so a plugin calling sleep(1)
 *    inside gort_blocking never stalls the other goroutines;
 *  - takes the P of a goroutine that runs over 10 ms without a switch (same
 *    schedtick) while it runs its own code, and hands it over the same way
 *    (proc.c's opening comment says how and why no signal is involved);
 *    the goroutine is counted and marked in stats and dumps. When the
 *    thread budget leaves no M for the hand-over, it keeps its P (counted,
 *    logged once);
 *  - starts an M for work left on idle Ps when no M looks for it (a thread
 *    could not be created at the time);
 *  - when no M has polled the netpoller for 10 ms (all busy), polls it and
 *    fires due timers itself, queueing what it finds globally (Go's sysmon
 *    does the same);
 *  - prints GORTDEBUG=schedtrace lines when due;
 *  - once a second gives back the pages of pooled stacks, and re-reads the
 *    CPU limit so that a default GOMAXPROCS follows a changed cgroup quota
 *    or affinity (procs.c).
 * Normally timers are fired by the M sleeping in the netpoller (proc.c,
 * become_poller) or by Ms looking for work.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>

#include "netpoll.h"
#include "procs.h"
#include "runtime.h"
#include "timer.h"

#define SYSMON_MIN_US 20
#define SYSMON_MAX_US 10000
#define SYSMON_BUSY_MAX_US 2000  /* while goroutines run: see sysmon() */
#define SYSMON_WATCH_MAX_US 1000 /* while one ran across a look */
#define LONG_RUN_NS 10000000LL
#define SCAVENGE_PERIOD_NS 1000000000LL
#define POLL_STALE_NS 10000000LL

/* What sysmon last saw of each P (sysmon-private). */
struct ptick {
    uint64_t schedtick;
    int64_t schedwhen;
    uint64_t syscalltick;
    bool flagged; /* this schedtick already counted as long-running */
};

/* What one pass over the Ps found. */
struct retake_pass {
    int taken;
    bool running;   /* some goroutine is on the CPU with a P */
    bool lingering; /* ...and was there at the last look too */
};

static struct ptick ticks[GORT_MAXPROCS_CAP];

/* Returns true when it took the P. */
static bool retake_syscall(struct gort__p *p, struct ptick *pt)
{
    uint64_t t = atomic_load_explicit(&p->syscalltick, memory_order_relaxed);
    if (pt->syscalltick != t) {
        pt->syscalltick = t; /* first look at this call: give it a tick */
        return false;
    }
    if (!gort__handoff_ok(p))
        return false; /* no thread to hand it to: the call keeps it */
    int st = GORT_P_SYSCALL;
    if (!atomic_compare_exchange_strong(&p->status, &st, GORT_P_IDLE))
        return false;
    atomic_fetch_add_explicit(&gort__sched.retakes_syscall, 1,
                              memory_order_relaxed);
    gort__handoffp(p);
    return true;
}

/* Takes p from m's long runner, only while it runs its own code (CAS
 * USER->TAKING: m cannot enter the runtime until we store USER or LOST).
 * Then m->p and m->curg hold still and are m's last writes before it left
 * the runtime (release), so plain reads are ordered. */
static bool retake_long(struct gort__p *p, struct ptick *pt)
{
    struct gort__m *m = __atomic_load_n(&p->m, __ATOMIC_ACQUIRE);
    if (!m)
        return false;
    int s = MS_USER;
    if (!atomic_compare_exchange_strong_explicit(&m->pstate, &s, MS_TAKING,
                                                 memory_order_acquire,
                                                 memory_order_relaxed))
        return false;
    struct gort__g *g = m->curg;
    bool ok = m->p == p && g &&
              atomic_load_explicit(&p->schedtick, memory_order_relaxed) ==
                  pt->schedtick &&
              gort__handoff_ok(p);
    if (!ok) {
        atomic_store_explicit(&m->pstate, MS_USER, memory_order_release);
        return false;
    }
    atomic_store_explicit(&g->retaken, true, memory_order_relaxed);
    atomic_fetch_add_explicit(&gort__sched.nlost, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&gort__sched.retakes_long, 1,
                              memory_order_relaxed);
    atomic_store_explicit(&m->pstate, MS_LOST, memory_order_release);
    gort__handoffp(p);
    return true;
}

/* Returns true when it took the P; notes in r what runs. */
static bool watch_running(struct gort__p *p, struct ptick *pt, int64_t now,
                          struct retake_pass *r)
{
    struct gort__m *m = __atomic_load_n(&p->m, __ATOMIC_ACQUIRE);
    struct gort__g *g =
        m ? atomic_load_explicit(&m->curg_pub, memory_order_acquire) : NULL;
    uint64_t t = atomic_load_explicit(&p->schedtick, memory_order_relaxed);
    /* Only a goroutine on the CPU counts: an M looking for work holds its
     * P RUNNING too, with a schedtick that does not move. */
    r->running |= g != NULL;
    if (!g || pt->schedtick != t || pt->schedwhen == 0) {
        pt->schedtick = t;
        pt->schedwhen = now;
        pt->flagged = false;
        return false;
    }
    r->lingering = true;
    if (now - pt->schedwhen < LONG_RUN_NS)
        return false;
    if (!pt->flagged) {
        pt->flagged = true;
        atomic_fetch_add_explicit(&gort__sched.long_running, 1,
                                  memory_order_relaxed);
        uint32_t seq = atomic_load_explicit(&g->runseq, memory_order_relaxed);
        if (seq & 1) /* still on the CPU, as far as we can tell */
            atomic_store_explicit(&g->long_running, seq, memory_order_relaxed);
    }
    if (gort__debug.preemptoff || !retake_long(p, pt))
        return false; /* inside the runtime now, or no thread: next tick */
    pt->schedwhen = 0;
    return true;
}

static struct retake_pass retake(int64_t now)
{
    struct retake_pass r = {0, false, false};
    int n = atomic_load(&gort__sched.nallp);
    for (int i = 0; i < n; i++) {
        struct gort__p *p = atomic_load(&gort__sched.allp[i]);
        int st = atomic_load_explicit(&p->status, memory_order_acquire);
        if (st == GORT_P_SYSCALL)
            r.taken += retake_syscall(p, &ticks[i]);
        else if (st == GORT_P_RUNNING)
            r.taken += watch_running(p, &ticks[i], now, &r);
        else
            ticks[i].schedwhen = 0; /* idle: start afresh when it runs */
    }
    return r;
}

/* Everyone is busy: nobody sleeps in the netpoller and nobody polled it
 * lately. Fire due timers and take ready descriptors, without blocking. */
static void poll_if_stale(int64_t now)
{
    if (atomic_load(&gort__sched.pollblocked))
        return;
    if (gort__timers_next() <= now)
        gort__timers_run(now);
    int64_t last = atomic_load(&gort__sched.lastpoll);
    if (last == 0 || now - last < POLL_STALE_NS || !gort__netpoll_active())
        return;
    atomic_store(&gort__sched.lastpoll, now);
    struct gort__g *list;
    int n = gort__netpoll(0, GORT__NP_SYSMON, &list);
    if (n > 0)
        gort__inject(list, n);
}

/* Go's updatemaxprocs. The custom flag is checked first only to skip the
 * file reads; procresize decides again under the lock. */
static void follow_cpu_limit(void)
{
    pthread_mutex_lock(&gort__sched.lock);
    bool custom = gort__sched.maxprocs_custom;
    pthread_mutex_unlock(&gort__sched.lock);
    if (!custom)
        gort__procs_follow_default(gort__ncpu_default());
}

static void *sysmon(void *arg)
{
    (void)arg;
    int64_t delay_us = SYSMON_MIN_US;
    int idle = 0;
    int64_t next_scavenge = gort_nanotime() + SCAVENGE_PERIOD_NS;
    int64_t trace_ns = gort__debug.schedtrace_ms * 1000000;
    int64_t next_trace = trace_ns ? gort_nanotime() + trace_ns : INT64_MAX;
    for (;;) {
        struct timespec ts = {0, delay_us * 1000};
        nanosleep(&ts, NULL);
        int64_t now = gort_nanotime();
        struct retake_pass r = retake(now);
        if (r.taken > 0 ||
            atomic_load_explicit(&gort__sched.nmsyscall, memory_order_relaxed))
            idle = 0;
        else
            idle++;
        if (idle == 0)
            delay_us = SYSMON_MIN_US;
        else if (idle > 50 && delay_us < SYSMON_MAX_US)
            delay_us *= 2;
        if (delay_us > SYSMON_MAX_US)
            delay_us = SYSMON_MAX_US;
        /* A goroutine on the CPU may become a long runner. One first seen
         * now started at most one look ago: looks 2 ms apart find it, and
         * from then on every millisecond, so its P is taken within ~12 ms
         * of its last switch while goroutines were running already; one
         * that starts after an idle stretch (looks 10 ms apart) is found
         * up to 10 ms late: ~21 ms (Go's sysmon: 10-20 ms, 10 ms sleeps).
         * A busy server switches many times a look, so it pays the 2 ms
         * cadence: at 1 ms, sysmon's wakeups were 1.3% of a proxying
         * gortd's CPU (perf, cpu-clock by thread), each one a preemption
         * of the thread it shares a CPU with. */
        int64_t cap = r.lingering ? SYSMON_WATCH_MAX_US : SYSMON_BUSY_MAX_US;
        if (r.running && delay_us > cap)
            delay_us = cap;
        gort__wake_stranded();
        poll_if_stale(now);
        if (now >= next_trace) {
            gort__schedtrace(gort__debug.scheddetail);
            /* From after the line: this tick may have been slow (a hand-over
             * starting a thread), and lines stay a period apart. */
            next_trace = gort_nanotime() + trace_ns;
        }
        if (now >= next_scavenge) {
            gort__stack_scavenge_pool();
            follow_cpu_limit();
            next_scavenge = now + SCAVENGE_PERIOD_NS;
        }
    }
    return NULL;
}

int gort__sysmon_start(void)
{
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&t, &attr, sysmon, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return rc == 0 ? 0 : -EAGAIN;
}

/* ---- schedtrace --------------------------------------------------------- */

/* A trace is a debugging snapshot read while everything runs: the fields
 * of other threads' Ms and Ps are read without their owners' consent, on
 * purpose (Go's schedtrace does the same), so these functions are not
 * instrumented by the thread sanitizer. */
#if defined(__clang__) || __GNUC__ >= 8
#define TRACE_RACY __attribute__((no_sanitize("thread")))
#else
#define TRACE_RACY
#endif

TRACE_RACY static void trace_ps(FILE *f, bool detail, int n)
{
    for (int i = 0; i < n; i++) {
        struct gort__p *p = atomic_load(&gort__sched.allp[i]);
        if (!detail) {
            fprintf(f, "%s%u", i ? " " : "", gort__runq_len(&p->runq));
            continue;
        }
        struct gort__m *m = __atomic_load_n(&p->m, __ATOMIC_ACQUIRE);
        fprintf(f,
                "  P%d: status=%d schedtick=%llu syscalltick=%llu m=%d "
                "runqsize=%u gfreecnt=%d timerslen=%llu\n",
                i, atomic_load(&p->status),
                (unsigned long long)atomic_load(&p->schedtick),
                (unsigned long long)atomic_load(&p->syscalltick),
                m ? m->id : -1, gort__runq_len(&p->runq), p->ngfree,
                (unsigned long long)(i == 0 ? gort__timers_len() : 0));
    }
}

TRACE_RACY static void trace_ms(FILE *f)
{
    for (struct gort__m *m = atomic_load(&gort__sched.allm); m;
         m = m->alllink) {
        struct gort__p *p = m->p;
        struct gort__g *g =
            atomic_load_explicit(&m->curg_pub, memory_order_relaxed);
        fprintf(f, "  M%d: p=%d curg=%lld spinning=%s blocked=%s\n", m->id,
                p ? p->id : -1, g ? (long long)g->goid : -1LL,
                m->spinning ? "true" : "false", m->oldp ? "true" : "false");
    }
}

TRACE_RACY static void trace_gs(FILE *f)
{
    struct gort__g *g =
        atomic_load_explicit(&gort__sched.allgs, memory_order_acquire);
    for (; g; g = g->allnext) {
        int st = atomic_load_explicit(&g->status, memory_order_relaxed);
        if (st == G_DEAD || st == G_IDLE)
            continue;
        int wr = atomic_load_explicit(&g->waitreason, memory_order_relaxed);
        struct gort__m *m = g->m;
        fprintf(f, "  G%lld: status=%d(%s) m=%d\n", (long long)g->goid, st,
                wr > 0 && wr < WR_COUNT ? gort__waitreason_str[wr] : "",
                m ? m->id : -1);
    }
}

/* Go's shape:
 * SCHED 1004ms: gomaxprocs=2 idleprocs=1 threads=4 spinningthreads=0
 *   needspinning=0 idlethreads=1 runqueue=0 [0 3] */
TRACE_RACY void gort__schedtrace(bool detail)
{
    FILE *f = stderr;
    int n = atomic_load(&gort__sched.gomaxprocs);
    int64_t ms = (gort_nanotime() - gort__sched.start_ns) / 1000000;
    flockfile(f);
    fprintf(f,
            "SCHED %lldms: gomaxprocs=%d idleprocs=%d threads=%d "
            "spinningthreads=%d needspinning=0 idlethreads=%d runqueue=%llu",
            (long long)ms, n, atomic_load(&gort__sched.npidle),
            atomic_load(&gort__sched.mcount) + 3,
            atomic_load(&gort__sched.nmspinning), gort__sched.nmidle,
            (unsigned long long)gort__globrunq_len(&gort__sched.runq));
    if (detail) {
        fputc('\n', f);
        trace_ps(f, true, n);
        trace_ms(f);
        trace_gs(f);
    } else {
        fputs(" [", f);
        trace_ps(f, false, n);
        fputs("]\n", f);
    }
    funlockfile(f);
}
