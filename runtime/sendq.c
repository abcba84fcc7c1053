/* sendq.c — batched sends: the writes of one scheduling round leave in one
 * system call.
 *
 * A proxied request makes four socket calls (read the client, write the
 * upstream, read it, write the client), and on a virtual machine each
 * system call's entry and exit costs more than the user-space work around
 * it (~1.4 µs here, bench/wake.c's notes; a send through io_uring measured
 * ~2 µs less than send(2) in a batch of 32). So a goroutine's first
 * attempt at a socket write, when other goroutines are runnable on its P,
 * does not call send(2): it queues an IORING_OP_SEND (SENDMSG for a
 * gather list) on its P's own ring and parks. When the P runs out of local
 * work (findrunnable), one io_uring_enter submits the whole queue; the
 * kernel runs every send inline, as send(2) would, and their completions
 * make the senders runnable again with the result send(2) would have
 * returned. The bytes are the caller's own (it is parked, so its buffer
 * and gather list stay put): nothing is copied, errors come back to the
 * call that caused them, and ordering on a socket is the caller's as
 * before.
 *
 * Every send carries MSG_DONTWAIT: a full socket buffer completes at once
 * with -EAGAIN instead of arming io_uring's internal poll, and the caller
 * waits for writability in the netpoller as any write does (netpoll.c).
 * MSG_NOSIGNAL: a reset peer is EPIPE, never SIGPIPE.
 *
 * When it does not batch: off a P or inside gort_syscall_enter (no round
 * to join); when nothing else is runnable on the P and nothing is queued
 * (the round would be this send alone: the system call is as cheap and
 * has no park); for anything but a stream socket, or a write over INT_MAX
 * bytes (a submission's length is 32 bits) (netpoll.c decides); with
 * GORTSENDBATCH=0, where io_uring_setup is refused (seccomp,
 * kernel.io_uring_disabled) or the kernel has no IORING_OP_SEND (before
 * 5.6): then every write is send(2), as before. Bounds: a queue that
 * reaches SENDQ_MAX sends, or has waited SENDQ_TICKS goroutine switches or
 * SENDQ_NS (goroutines that keep yielding, or long runners, would
 * otherwise keep the P busy), is submitted by the next goroutine that
 * queues or switches out on that P; a goroutine entering a blocking call
 * submits its P's queue first.
 *
 * The round's last send. When nothing else is runnable but sends are
 * queued, the round ends with this one: it joins the queue, the queue
 * leaves at once, and the caller reads its own completion and goes on
 * without parking. A send(2) here would be followed by the P's flush in
 * findrunnable, two system calls where one does (a proxied request's
 * rounds are short: ~0.3 of a submission per request went out that way).
 *
 * Rings: one per P, made with the runtime for the Ps it starts with (so a
 * server's descriptor count is the same before and after its first
 * request: operators compare it against a baseline), and on first use
 * for Ps that GOMAXPROCS adds later.
 *
 * Ownership: a P's queue is touched only by the thread that holds the P,
 * inside the runtime gate (proc.c), like its run queue's owner side. It
 * travels with the P; a P handed to another thread (a blocking call, a
 * long runner) is handed over with a pending queue counted as work, so
 * it is started and flushed rather than left idle.
 */
#include "sendq.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if GORT_HAVE_URING
#include <liburing.h>
#endif

#define SENDQ_MAX 64   /* sends per submission; the ring holds them all */
#define SENDQ_TICKS 64 /* goroutine switches a queued send may wait */
#define SENDQ_NS (2 * 1000 * 1000) /* and time, on the coarse clock */
/* A waiter's result until its completion says otherwise: the send never
 * reached the kernel, so its caller makes the system call itself. */
#define SENDQ_RETRY (-SSIZE_MAX - 1)

/* -1 unknown, 0 off, 1 on: decided on the first write that could batch. */
static _Atomic int enabled = -1;
/* Switches a P waits before it tries again to make a ring that failed for
 * want of descriptors or memory; per P, written by its owner. */
#define RETRY_TICKS 4096
static uint64_t retry_tick[GORT_MAXPROCS_CAP];

#if GORT_HAVE_URING

/* One queued send, on its (parked) goroutine's stack. */
struct waiter {
    struct gort__g *g; /* NULL: the round's last sender, not parked */
    ssize_t res;
    struct msghdr msg;
};

struct gort__sendq {
    struct io_uring ring;
    int n;               /* queued, not yet submitted */
    uint64_t first_tick; /* the P's schedtick when the first was queued */
    int64_t first_ns;    /* and the coarse clock then */
    struct waiter *w[SENDQ_MAX];
};

/* The P's "own" counters (runtime.h): written by the owner only. */
static void own_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static bool decide_enabled(void)
{
    int e = atomic_load_explicit(&enabled, memory_order_relaxed);
    if (e >= 0)
        return e;
    const char *v = getenv("GORTSENDBATCH");
    e = !(v && strcmp(v, "0") == 0);
    atomic_store_explicit(&enabled, e, memory_order_relaxed);
    return e;
}

/* Kernels 5.1-5.5 make rings but know no IORING_OP_SEND (5.6). */
static bool has_sends(struct io_uring *ring)
{
    struct io_uring_probe *probe = io_uring_get_probe_ring(ring);
    bool ok = probe && io_uring_opcode_supported(probe, IORING_OP_SEND) &&
              io_uring_opcode_supported(probe, IORING_OP_SENDMSG);
    if (probe)
        io_uring_free_probe(probe);
    return ok;
}

/* A ring for p. NULL when io_uring_setup fails: a refusal (no io_uring
 * in this kernel, seccomp, kernel.io_uring_disabled) turns batching off
 * for the process, since it would repeat; a lack of descriptors or memory
 * only for now. */
static struct gort__sendq *queue_make(struct gort__p *p)
{
    struct gort__sendq *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    unsigned flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN;
    int rc = io_uring_queue_init(SENDQ_MAX, &q->ring, flags);
    if (rc == -EINVAL) /* a kernel before 5.18 knows neither flag */
        rc = io_uring_queue_init(SENDQ_MAX, &q->ring, 0);
    if (rc == 0 && !has_sends(&q->ring)) {
        io_uring_queue_exit(&q->ring);
        rc = -EOPNOTSUPP;
    }
    if (rc < 0) {
        free(q);
        if (rc != -EMFILE && rc != -ENFILE && rc != -ENOMEM)
            atomic_store_explicit(&enabled, 0, memory_order_relaxed);
        else /* try again later, not on every write */
            retry_tick[p->id] = gort__p_schedtick(p) + RETRY_TICKS;
        return NULL;
    }
    p->sendq = q;
    return q;
}

static struct gort__sendq *queue_of(struct gort__p *p)
{
    if (GORT_LIKELY(p->sendq != NULL))
        return p->sendq;
    if ((int64_t)(gort__p_schedtick(p) - retry_tick[p->id]) < 0)
        return NULL;
    return queue_make(p);
}

void gort__sendq_start(void)
{
    int n = atomic_load(&gort__sched.nallp);
    for (int i = 0; i < n && decide_enabled(); i++) {
        struct gort__p *p = atomic_load(&gort__sched.allp[i]);
        if (!p->sendq)
            queue_make(p);
    }
}

/* q->n, published for threads that ask whether p has work (sysmon's
 * hand-over): they read the P's counter, never q, which only its owner
 * touches. */
static void set_len(struct gort__p *p, struct gort__sendq *q, int n)
{
    q->n = n;
    atomic_store_explicit(&p->sends_queued, n, memory_order_relaxed);
}

/* Links every queued sender into *list, its result set by now. */
static void release_all(struct gort__p *p, struct gort__sendq *q,
                        struct gort__g **list)
{
    for (int i = 0; i < q->n; i++) {
        struct gort__g *g = q->w[i]->g;
        if (!g)
            continue; /* it reads its result itself */
        g->schedlink = *list;
        *list = g;
    }
    set_len(p, q, 0);
}

/* Reaps the completions of a submission of n sends into their waiters.
 * With MSG_DONTWAIT each completes inside the submit; the wait is a guard
 * that never sleeps for a socket. */
static int reap(struct gort__sendq *q, int n)
{
    for (int got = 0; got < n;) {
        struct io_uring_cqe *cqe;
        int rc = io_uring_peek_cqe(&q->ring, &cqe);
        if (rc == -EAGAIN)
            rc = io_uring_wait_cqe(&q->ring, &cqe);
        if (rc == -EINTR)
            continue;
        if (rc < 0)
            return rc;
        struct waiter *w = io_uring_cqe_get_data(cqe);
        w->res = cqe->res;
        io_uring_cqe_seen(&q->ring, cqe);
        got++;
    }
    return 0;
}

/* The ring failed (no memory in the kernel, a broken ring): what it still
 * holds may or may not reach the kernel, so the ring goes, with what it
 * held, and this process sends with system calls from now on. Senders
 * whose completion came keep its result; the others retry themselves.
 * Never seen: the path exists so that a failure costs speed only. */
static void ring_broken(struct gort__p *p)
{
    struct gort__sendq *q = p->sendq;
    struct io_uring_cqe *cqe;
    while (io_uring_peek_cqe(&q->ring, &cqe) == 0) {
        ((struct waiter *)io_uring_cqe_get_data(cqe))->res = cqe->res;
        io_uring_cqe_seen(&q->ring, cqe);
    }
    io_uring_queue_exit(&q->ring);
    atomic_store_explicit(&enabled, 0, memory_order_relaxed);
}

int gort__sendq_flush(struct gort__p *p, struct gort__g **list)
{
    struct gort__sendq *q = p->sendq;
    *list = NULL;
    if (!q || q->n == 0)
        return 0;
    int n = q->n, rc;
    do
        rc = io_uring_submit(&q->ring);
    while (rc == -EINTR);
    bool ok = rc == n && reap(q, n) == 0;
    if (!ok) {
        /* What went in completes inside the submit (MSG_DONTWAIT): its
         * senders take its results and must not send again. */
        if (rc > 0 && rc < n)
            (void)reap(q, rc);
        ring_broken(p);
    }
    release_all(p, q, list);
    if (ok) {
        own_add(&p->send_batches, 1);
        own_add(&p->sends_batched, (uint64_t)n);
    } else {
        free(q);
        p->sendq = NULL;
    }
    return n;
}

/* The bounds of the header comment: the queue leaves before it grows past
 * SENDQ_MAX or waits SENDQ_TICKS switches. */
static bool due(const struct gort__sendq *q, uint64_t tick)
{
    return q->n > 0 &&
           (q->n >= SENDQ_MAX || tick - q->first_tick >= SENDQ_TICKS ||
            gort__coarse_now() - q->first_ns >= SENDQ_NS);
}

bool gort__sendq_due(const struct gort__p *p, uint64_t tick,
                     const struct gort__g *leaving)
{
    const struct gort__sendq *q = p->sendq;
    /* The last sender queued may be the goroutine switching out, still on
     * its stack: it must not be made runnable before it is off it. Every
     * earlier one left its stack when the next goroutine started. */
    return q && due(q, tick) && q->w[q->n - 1]->g != leaving;
}

/* The queue p's goroutine may join: its own when other goroutines are
 * runnable (made on first use), or one holding sends when none is. */
static struct gort__sendq *joinable(struct gort__p *p, bool *last)
{
    *last = !gort__p_busy(p);
    if (!*last)
        return queue_of(p);
    return p->sendq && p->sendq->n > 0 ? p->sendq : NULL;
}

static void prep(struct gort__sendq *q, struct waiter *w, int fd,
                 const struct iovec *iov, int n)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);
    if (n == 1) {
        io_uring_prep_send(sqe, fd, iov[0].iov_base, iov[0].iov_len,
                           MSG_DONTWAIT | MSG_NOSIGNAL);
    } else {
        w->msg.msg_iov = (struct iovec *)iov;
        w->msg.msg_iovlen = (size_t)n;
        io_uring_prep_sendmsg(sqe, fd, &w->msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    io_uring_sqe_set_data(sqe, w);
}

bool gort__sendq_send(int fd, const struct iovec *iov, int n, ssize_t *res)
{
    if (!decide_enabled())
        return false;
    bool outer, last = false;
    struct gort__p *p = gort__rt_enter(&outer);
    struct gort__sendq *q = p ? joinable(p, &last) : NULL;
    if (!q) {
        gort__rt_exit(outer);
        return false;
    }
    uint64_t tick = gort__p_schedtick(p);
    /* The last sender's join is the flush: only a full ring goes first. */
    if (last ? q->n >= SENDQ_MAX : due(q, tick))
        gort__p_flush_sends(p);
    /* A flush above broke the ring, or left the last sender nobody to
     * join. */
    if (!p->sendq || (last && q->n == 0)) {
        gort__rt_exit(outer);
        return false;
    }
    struct waiter w = {.g = last ? NULL : gort__getg(), .res = SENDQ_RETRY};
    prep(q, &w, fd, iov, n);
    if (q->n == 0) {
        q->first_tick = tick;
        q->first_ns = gort__coarse_now();
    }
    q->w[q->n] = &w;
    set_len(p, q, q->n + 1);
    if (last)
        gort__p_flush_sends(p);
    else
        gort__park(NULL, NULL, WR_IO_WAIT);
    gort__rt_exit(outer);
    if (w.res == SENDQ_RETRY)
        return false;
    *res = w.res;
    return true;
}

void gort__sendq_counts(uint64_t *sends, uint64_t *batches)
{
    *sends = *batches = 0;
    int n = atomic_load(&gort__sched.nallp);
    for (int i = 0; i < n; i++) {
        struct gort__p *p = atomic_load(&gort__sched.allp[i]);
        *sends += atomic_load_explicit(&p->sends_batched, memory_order_relaxed);
        *batches +=
            atomic_load_explicit(&p->send_batches, memory_order_relaxed);
    }
}

bool gort__sendq_pending(const struct gort__p *p)
{
    return atomic_load_explicit(&p->sends_queued, memory_order_relaxed) > 0;
}

void gort__sendq_free(struct gort__p *p)
{
    if (!p->sendq)
        return;
    io_uring_queue_exit(&p->sendq->ring);
    free(p->sendq);
    p->sendq = NULL;
}

#else /* !GORT_HAVE_URING: every write is a system call */

int gort__sendq_flush(struct gort__p *p, struct gort__g **list)
{
    (void)p;
    *list = NULL;
    return 0;
}

bool gort__sendq_due(const struct gort__p *p, uint64_t tick,
                     const struct gort__g *leaving)
{
    (void)p;
    (void)tick;
    (void)leaving;
    return false;
}

bool gort__sendq_send(int fd, const struct iovec *iov, int n, ssize_t *res)
{
    (void)fd;
    (void)iov;
    (void)n;
    (void)res;
    (void)enabled;
    return false;
}

void gort__sendq_counts(uint64_t *sends, uint64_t *batches)
{
    *sends = *batches = 0;
}

void gort__sendq_start(void) {}

bool gort__sendq_pending(const struct gort__p *p)
{
    (void)p;
    return false;
}

void gort__sendq_free(struct gort__p *p)
{
    (void)p;
}

#endif
