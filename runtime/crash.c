/* crash.c — the crash report: what a fault in any goroutine or thread
 * prints before the process exits 2 (Go's status, so a supervisor restarts
 * it), and the fault trap that lets a host survive a fault in code it
 * chose to distrust (gortd's --plugin-faults=quarantine).
 *
 * The handler runs on the faulting thread, on its signal stack (every M
 * has one: proc.c), in a process whose heap or locks may be broken, so it
 * uses only what is async-signal-safe: write(2) from a buffer on its own
 * stack, reads of the goroutine list (append only, never freed) and of the
 * symbol index (symtab.c: built in advance, read without locks). It never
 * calls malloc, stdio or libdw. What the index does not cover (an object
 * loaded without gort_symbols_refresh) prints as a bare pc.
 *
 * The report, in Go's shape:
 *
 *   fatal error: unexpected signal
 *   [signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x7f..]
 *   serving: plugin crash 1.0.0, route GET /crash/null
 *
 *   goroutine 18 [running] (http conn from 127.0.0.1:5555):
 *   crash_null(...)
 *   \t/src/tests/plugin/fixtures/crash.c:31 +0x11
 *   ...
 *   created by http_accept_loop in goroutine 7
 *   \t/src/server/http/server.c:172 +0x8c
 *
 *   goroutine 1 [chan receive]:
 *   ...
 *
 * the faulting goroutine first, with the interrupted context's frames
 * (gort__uctx_pcs: libgcc's unwinder, which also sees through code built
 * without frame pointers, else a frame-pointer walk from the registers the
 * kernel saved), then every other goroutine: parked ones from their saved
 * frames, running ones (on other Ms, not stopped: that would need a signal
 * and a wait inside a handler of a dying process) as "running on another
 * thread". "serving" is what the goroutine said it was
 * doing (gort_set_serving: gortd names the plugin and the route).
 *
 * A second fault: on another thread while a report is written, that thread
 * waits for the first report's exit; on the reporting thread itself (the
 * report faulted), the process exits at once.
 *
 * The runtime's own SIGSEGV/SIGBUS handler (proc.c) is installed when the
 * runtime starts and passes on every fault that is not a stack overflow to
 * the handler that was there before it; so this one must be installed
 * first (gort_crash_install, before gort_main), and a stack overflow keeps
 * its own message.
 *
 * The trap: a goroutine may run code under a gort_fault_trap naming an
 * object (any address inside it). A fault whose pc lies in that object
 * writes the report into the trap, unblocks the signal and longjmps to the
 * trap: the goroutine goes on after gort_fault_trap_set's caller's setjmp,
 * on its own stack, on the same M. What that cannot undo: whatever the
 * faulting code changed before the fault (memory it corrupted, locks it
 * held, half-built state); only a fault in the trapped object's own code is
 * caught (a NULL passed to libc's strlen faults in libc and is reported as
 * a crash).
 */
#include <errno.h>
#include <execinfo.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "runtime.h"
#include "symtab.h"

#define MAX_FRAMES 64
#define OTHER_FRAMES 32
#define UNKNOWN_STACK (256 * 1024) /* walked above sp on a foreign thread */

static _Atomic(pthread_t) crashing_thread;
static atomic_bool crashing;

/* ---- writing without malloc --------------------------------------------- */

struct out {
    int fd;    /* >= 0: write there */
    char *mem; /* else: into mem (a trap's report) */
    size_t cap, len;
    char buf[512];
    size_t n;
};

static void out_flush(struct out *o)
{
    if (o->fd >= 0) {
        size_t off = 0;
        while (off < o->n) {
            ssize_t w = write(o->fd, o->buf + off, o->n - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
    } else if (o->mem && o->cap) {
        size_t k = o->n < o->cap - 1 - o->len ? o->n : o->cap - 1 - o->len;
        memcpy(o->mem + o->len, o->buf, k);
        o->len += k;
        o->mem[o->len] = '\0';
    }
    o->n = 0;
}

static void out_mem(struct out *o, const char *s, size_t n)
{
    while (n) {
        if (o->n == sizeof o->buf)
            out_flush(o);
        size_t k = sizeof o->buf - o->n < n ? sizeof o->buf - o->n : n;
        memcpy(o->buf + o->n, s, k);
        o->n += k;
        s += k;
        n -= k;
    }
}

static void out_str(struct out *o, const char *s)
{
    out_mem(o, s ? s : "?", strlen(s ? s : "?"));
}

static void out_hex(struct out *o, uintptr_t v)
{
    char t[2 + 2 * sizeof v];
    int i = (int)sizeof t;
    do {
        t[--i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    t[--i] = 'x';
    t[--i] = '0';
    out_mem(o, t + i, sizeof t - (size_t)i);
}

static void out_dec(struct out *o, long long v)
{
    char t[24];
    int i = (int)sizeof t;
    unsigned long long u =
        v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        t[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        t[--i] = '-';
    out_mem(o, t + i, sizeof t - (size_t)i);
}

/* ---- frames ------------------------------------------------------------- */

bool gort__uctx_regs(const void *ucv, uintptr_t *pc, uintptr_t *sp,
                     uintptr_t *fp)
{
    const ucontext_t *uc = ucv;
#if defined(__x86_64__)
    *pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    *sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    *fp = (uintptr_t)uc->uc_mcontext.gregs[REG_RBP];
    return true;
#elif defined(__aarch64__)
    *pc = (uintptr_t)uc->uc_mcontext.pc;
    *sp = (uintptr_t)uc->uc_mcontext.sp;
    *fp = (uintptr_t)uc->uc_mcontext.regs[29];
    return true;
#else
    (void)uc, (void)pc, (void)sp, (void)fp;
    return false;
#endif
}

/* The interrupted context's frames, from the handler. Code built without
 * frame pointers (a leaf function, a plugin built by someone else) hides
 * its caller from a frame-pointer walk, so this asks libgcc's unwinder
 * (backtrace: the .eh_frame tables every object carries) first, and keeps
 * what lies past the signal frame, which starts at the interrupted pc.
 * backtrace's first call loads libgcc_s (gort_crash_install makes it
 * early); after that glibc 2.35+ finds objects without a lock
 * (_dl_find_object). When the unwinder does not reach the interrupted pc,
 * the frame-pointer walk within [lo, hi). */
int gort__uctx_pcs(const void *uc, uintptr_t lo, uintptr_t hi, uintptr_t *pcs,
                   int max)
{
    uintptr_t pc, sp, fp;
    void *bt[MAX_FRAMES + 16];
    if (!gort__uctx_regs(uc, &pc, &sp, &fp))
        return 0;
    int n = backtrace(bt, MAX_FRAMES + 16);
    for (int i = 0; i < n; i++) {
        if ((uintptr_t)bt[i] != pc)
            continue;
        int k = 0;
        for (; i + k < n && k < max && bt[i + k]; k++)
            pcs[k] = (uintptr_t)bt[i + k];
        return k;
    }
    if (lo == 0)
        lo = sp;
    return gort__walk_fp(pc, fp, lo, hi, pcs, max);
}

/* "\t/src/file.c:31 +0x11", else "\t/path/object +0x2a0", else the pc. */
static void out_where(struct out *o, uintptr_t pc, const struct gort__sym *s,
                      bool known)
{
    out_str(o, "\t");
    if (known && s->file) {
        out_str(o, s->file);
        out_str(o, ":");
        out_dec(o, s->line);
        out_str(o, " +");
        out_hex(o, s->funcoff);
    } else if (known) {
        out_str(o, s->object);
        out_str(o, " +");
        out_hex(o, s->func ? s->funcoff : s->objoff);
    } else {
        out_str(o, "pc=");
        out_hex(o, pc);
    }
    out_str(o, "\n");
}

static void out_frame(struct out *o, uintptr_t pc, bool ret)
{
    struct gort__sym s;
    bool known = gort__sym_lookup(pc, ret, &s);
    out_str(o, known && s.func ? s.func : "?");
    out_str(o, "(...)\n");
    out_where(o, pc, &s, known);
}

static void out_frames(struct out *o, const uintptr_t *pcs, int n,
                       bool first_exact)
{
    for (int i = 0; i < n; i++)
        out_frame(o, pcs[i], i > 0 || !first_exact);
}

static const char *state_word(const struct gort__g *gp)
{
    switch (atomic_load_explicit(&gp->status, memory_order_relaxed)) {
    case G_RUNNABLE:
        return "runnable";
    case G_RUNNING:
        return "running";
    case G_SYSCALL:
        return "syscall";
    case G_WAITING: {
        int r = atomic_load_explicit(&gp->waitreason, memory_order_relaxed);
        return r > 0 && r < WR_COUNT ? gort__waitreason_str[r] : "waiting";
    }
    default:
        return "idle";
    }
}

static void out_header(struct out *o, const struct gort__g *gp,
                       const char *state)
{
    const char *label = atomic_load_explicit(&gp->label, memory_order_relaxed);
    out_str(o, "goroutine ");
    out_dec(o, gp->goid);
    out_str(o, " [");
    out_str(o, state);
    out_str(o, "]");
    if (label && label[0]) {
        out_str(o, " (");
        /* A label is written only by its own goroutine; bounded anyway. */
        out_mem(o, label, strnlen(label, GORT__LABEL_MAX - 1));
        out_str(o, ")");
    }
    out_str(o, ":\n");
}

static void out_creator(struct out *o, const struct gort__g *gp)
{
    struct gort__sym s;
    bool known = gort__sym_lookup(gp->creator_pc, true, &s);
    out_str(o, "created by ");
    out_str(o, known && s.func ? s.func : "?");
    out_str(o, " in goroutine ");
    out_dec(o, gp->creator_id);
    out_str(o, "\n");
    out_where(o, gp->creator_pc, &s, known);
    out_str(o, "\n");
}

/* ---- the report --------------------------------------------------------- */

static const char *sig_name(int sig)
{
    switch (sig) {
    case SIGSEGV:
        return "SIGSEGV: segmentation violation";
    case SIGBUS:
        return "SIGBUS: bus error";
    case SIGFPE:
        return "SIGFPE: floating-point exception";
    case SIGILL:
        return "SIGILL: illegal instruction";
    case SIGABRT:
        return "SIGABRT: abort";
    default:
        return "signal";
    }
}

static void out_signal(struct out *o, int sig, const siginfo_t *si,
                       uintptr_t pc)
{
    out_str(o, "[signal ");
    out_str(o, sig_name(sig));
    out_str(o, " code=");
    if (si->si_code < 0) {
        out_str(o, "-");
        out_hex(o, (uintptr_t)(-(long)si->si_code));
    } else {
        out_hex(o, (uintptr_t)si->si_code);
    }
    out_str(o, " addr=");
    out_hex(o, (uintptr_t)si->si_addr);
    out_str(o, " pc=");
    out_hex(o, pc);
    out_str(o, "]\n");
}

/* The faulting goroutine (or thread) and its frames from the context. */
static void out_faulting(struct out *o, struct gort__m *m, struct gort__g *gp,
                         const ucontext_t *uc)
{
    uintptr_t pc = 0, sp = 0, fp = 0, pcs[MAX_FRAMES];
    int n = 0;
    bool regs = gort__uctx_regs(uc, &pc, &sp, &fp);
    uintptr_t lo = sp, hi = sp + UNKNOWN_STACK;
    if (gp && sp >= gp->stack.lo && sp < gp->stack.hi)
        hi = gp->stack.hi;
    else if (m && sp >= m->g0.stack.lo && sp < m->g0.stack.hi)
        hi = m->g0.stack.hi;
    if (regs)
        n = gort__uctx_pcs(uc, lo, hi, pcs, MAX_FRAMES);
    if (gp) {
        out_header(o, gp, "running");
    } else {
        out_str(o, "thread ");
        out_dec(o, m ? m->id : -1);
        out_str(o, m ? " (an M, between goroutines)" : " (not an M)");
        out_str(o, " [running]:\n");
    }
    out_frames(o, pcs, n, true);
    if (gp && gp->goid != 0)
        out_creator(o, gp);
    else
        out_str(o, "\n");
}

static void out_others(struct out *o, const struct gort__g *skip)
{
    struct gort__g *gp =
        atomic_load_explicit(&gort__sched.allgs, memory_order_acquire);
    for (; gp; gp = gp->allnext) {
        int st = atomic_load_explicit(&gp->status, memory_order_relaxed);
        if (gp == skip || st == G_DEAD || st == G_IDLE)
            continue;
        uintptr_t pcs[OTHER_FRAMES];
        out_header(o, gp, state_word(gp));
        int n = st == G_WAITING || st == G_RUNNABLE
                    ? gort__g_pcs(gp, pcs, OTHER_FRAMES)
                    : 0;
        out_frames(o, pcs, n, false);
        if (n == 0)
            out_str(o, st == G_RUNNING ? "\t(running on another thread)\n"
                                       : "\t(no backtrace)\n");
        out_creator(o, gp);
    }
}

static void report(struct out *o, int sig, const siginfo_t *si,
                   const ucontext_t *uc, struct gort__m *m, struct gort__g *gp,
                   bool all)
{
    uintptr_t pc = 0, sp, fp;
    gort__uctx_regs(uc, &pc, &sp, &fp);
    out_signal(o, sig, si, pc);
    if (gp && gp->serving) {
        out_str(o, "serving: ");
        out_str(o, gp->serving);
        out_str(o, "\n");
    }
    out_str(o, "\n");
    out_faulting(o, m, gp, uc);
    if (all)
        out_others(o, gp);
    out_flush(o);
}

/* ---- the handler -------------------------------------------------------- */

static void try_trap(int sig, const siginfo_t *si, const ucontext_t *uc,
                     struct gort__m *m, struct gort__g *gp)
{
    uintptr_t pc, sp, fp;
    struct gort_fault_trap *t = gp ? gp->fault_trap : NULL;
    if (!t || sig == SIGABRT || !gort__uctx_regs(uc, &pc, &sp, &fp))
        return;
    const void *mod = gort__sym_module(pc);
    if (!mod || mod != gort__sym_module((uintptr_t)t->object))
        return;
    struct out o = {.fd = -1, .mem = t->report, .cap = sizeof t->report};
    t->report[0] = '\0';
    report(&o, sig, si, uc, m, gp, false);
    t->sig = sig;
    t->pc = pc;
    gp->fault_trap = t->prev;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
    longjmp(t->jb, 1);
}

static void crash_handler(int sig, siginfo_t *si, void *ucv)
{
    struct gort__m *m = gort__getm();
    struct gort__g *gp = m ? m->curg : NULL;
    try_trap(sig, si, ucv, m, gp);
    bool expect = false;
    if (!atomic_compare_exchange_strong(&crashing, &expect, true)) {
        if (pthread_equal(atomic_load(&crashing_thread), pthread_self())) {
            static const char msg[] =
                "\nfatal error: fault while writing the crash report\n";
            (void)!write(2, msg, sizeof msg - 1);
            _exit(2);
        }
        for (;;) /* the first report exits the process */
            pause();
    }
    atomic_store(&crashing_thread, pthread_self());
    gort__sym_crashing();
    struct out o = {.fd = 2};
    out_str(&o, "fatal error: unexpected signal\n");
    report(&o, sig, si, ucv, m, gp, true);
    _exit(2);
}

int gort_crash_install(void)
{
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    if (gort__runtime_started())
        return -EBUSY; /* the runtime's handler would not pass faults on */
    gort__sym_refresh();
    void *warm[2]; /* loads libgcc_s now, not in a handler */
    (void)backtrace(warm, 2);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = crash_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (sigaction(sigs[i], &sa, NULL) != 0)
            return -errno;
    return 0;
}

struct gort_fault_trap *gort_fault_trap_set(struct gort_fault_trap *t)
{
    struct gort__g *gp = gort__getg();
    if (!gp)
        return NULL;
    struct gort_fault_trap *prev = gp->fault_trap;
    if (t)
        t->prev = prev;
    /* The handler reads it on this thread: a compiler barrier suffices. */
    atomic_signal_fence(memory_order_seq_cst);
    gp->fault_trap = t;
    atomic_signal_fence(memory_order_seq_cst);
    return prev;
}

const char *gort_set_serving(const char *what)
{
    struct gort__g *gp = gort__getg();
    if (!gp)
        return NULL;
    const char *prev = gp->serving;
    gp->serving = what;
    return prev;
}

void gort_crash_quit(void)
{
    static const char head[] = "SIGQUIT: quit\n\n";
    (void)!write(2, head, sizeof head - 1);
    if (gort__runtime_started())
        gort_dump_text(2);
    _exit(2);
}
