/* netpoll.c — goroutines blocked on descriptors, after Go's netpoll.go.
 *
 * Each registered descriptor has a poll descriptor (pd) with two sides,
 * read and write. An operation first tries the syscall; on EAGAIN its
 * goroutine parks on the side ("IO wait"). The kernel's readiness edge
 * (epoll, edge-triggered) either wakes that goroutine or, when nobody waits,
 * is latched in the side so the next operation does not park. Latch, waiter,
 * deadline and the closing flag of a pd change only under the pd's lock;
 * the waiter parks with that lock's release as its after-switch hook, so a
 * readiness event can never miss a goroutine on its way to sleep.
 *
 * Who waits in the kernel. As in Go, no dedicated thread: an M that runs
 * out of work polls without blocking before it steals (what it finds runs
 * on its own P, no thread hop; with one P only while another M sleeps in
 * epoll, see proc.c idle_poll_pays), and the first M to go idle becomes *the*
 * poller: it sleeps in epoll_wait until the next timer, and when
 * descriptors become ready it takes an idle P and runs their goroutines
 * itself (proc.c, become_poller). A first version had a netpoller thread
 * that readied goroutines onto the global queue and woke an M for them:
 * two thread hops per wake-up. It measured 23k requests/s, but on a loaded
 * machine, so that figure is only indicative; this design measures
 * 57-82k on a quiet one (README, "Numbers"). Stats count the goroutines
 * each path delivered; GORTDEBUG=netpollidle=0 turns the non-blocking poll
 * off.
 *
 * pds are never freed: one per descriptor number, reused when the number
 * is (unless it still holds a callback deferred for memory: then the number
 * gets a fresh pd, see "out of memory" below), so an event or a deadline
 * for a closed descriptor can only ever touch valid memory (a stale event just
 * latches readiness: every operation retries its syscall, so a spurious wake-up
 * costs one EAGAIN).
 *
 * gort_fd_on_readable parks a callback instead of a goroutine (an idle
 * keep-alive connection keeps no stack). To the user it is still a
 * goroutine, parked in IO wait: it takes its id from the goroutine id
 * counter when it is registered, and the goroutine started for it, on
 * readiness, close or read deadline, runs with that id and names the
 * registrant as its creator, so the id a dump showed is the one that serves
 * the next request. The pd keeps that id, the registrant's id, label
 * (copied: its buffer goes back to the pool when the registrant exits) and
 * call site, and when it parked, all under the pd's lock, written with the
 * callback. Dumps find them by walking every pd ever created (allpds,
 * append-only like allgs): a relaxed peek skips the pds with no callback,
 * the others are copied under their lock and handed to stats.c after it
 * is released. Registering costs a per-P id, a coarse clock read and a
 * label copy; no new lock and no new atomic instruction. Whatever takes
 * the callback off the pd (readiness, gort_close, a deadline) takes the
 * record with it, under the same lock, so a closed descriptor leaves no
 * entry behind: its callback starts and its first read sees -EBADF.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "gort/net.h"
#include "netpoll.h"
#include "sendq.h"

#include "sanitizer.h"

/* Past a kernel tick (1-10 ms): see deadline_passed. */
#define COARSE_SLACK_NS (50 * 1000 * 1000LL)

#if GORT__TSAN
/* A pd travels to the poller through the kernel (epoll's data word), which
 * the thread sanitizer cannot see: say that registering publishes it. */
#define NP_PUBLISH(p) __tsan_release(p)
#define NP_RECEIVE(p) __tsan_acquire(p)
#else
#define NP_PUBLISH(p) ((void)(p))
#define NP_RECEIVE(p) ((void)(p))
#endif
#include "runtime.h"
#include "timer.h"

struct pd;

/* A gort_fd_on_readable callback taken off its descriptor, to start. */
struct callback {
    gort_fn fn;
    void *arg;
    struct gort__g_origin origin;
};

struct pd_side {
    struct pd *pd;     /* back-pointer: a deadline timer knows its side */
    struct gort__g *g; /* the goroutine parked on this side, or NULL */
    gort_fn spawn;     /* or: a goroutine to start on readiness (read side
                          only); stored with relaxed atomics, under lock:
                          the dump peeks at it without the lock */
    void *spawn_arg;
    bool ready;       /* readiness seen while nobody waited */
    bool drained;     /* read side: the last read was short (stream) */
    bool taken;       /* read side: an edge went to a reader (woken, or
                         started for a callback) and no read since found
                         the stream empty: bytes may be there unannounced */
    uint64_t latched; /* read side: edges latched in ready, ever (atomic;
                         written under lock) */
    uint64_t emptied; /* latched as the last read that found the stream
                         empty saw it before its system call */
    bool hup;         /* read side: an event said the peer shut down
                         (written under lock, read racily: relaxed) */
    int wake;         /* what the waker tells g: 0, -ETIMEDOUT, -EBADF */
    int64_t deadline; /* absolute ns, 0 = none */
    int64_t armed;    /* when t is armed to fire, 0 when not: under lock */
    struct gort__timer t;
};

struct pd {
    gort__lock lock;
    int fd;
    bool closing;         /* under lock; also read racily (relaxed) */
    _Atomic uint32_t use; /* 2 x operations in progress | 1 when closed */
    bool stream;          /* SOCK_STREAM: a short read empties it */
    struct pd_side r, w;
    /* Who r.spawn's goroutine-to-be is (see gort_fd_on_readable): set
     * with r.spawn, under lock. */
    struct gort__g_origin cb_origin;
    int64_t cb_since;               /* coarse clock at registration */
    char cb_label[GORT__LABEL_MAX]; /* the registrant's label, copied */
    struct pd *allnext; /* np.allpds: set before publication, then fixed */
    uint16_t seq;       /* registrations of this fd number: see key_of */
    /* A callback taken off this pd whose goroutine could not be made (out
     * of memory), waiting in np.retry: all three under np.retry_lock;
     * retry_set also read with acquire by pd_create. */
    bool retry_set;
    struct pd *retry_next;
    struct callback retry;
};

static struct {
    struct pd *_Atomic *table; /* indexed by fd, size nfd */
    int nfd;
    gort__lock grow;          /* serializes pd creation */
    _Atomic int idle_polling; /* one idle M polls at a time */
    bool idle_enabled;
    struct pd *_Atomic allpds; /* every pd, newest first (never freed) */
    _Atomic uint64_t waiting;  /* goroutines parked on a side */
    _Atomic uint64_t pending;  /* gort_fd_on_readable callbacks */
    _Atomic uint64_t wakeups_blocking;
    _Atomic uint64_t wakeups_idle;
    gort__lock retry_lock;     /* the retry list and each pd's retry_* */
    struct pd *retry;          /* pds with a callback to start again */
    _Atomic uint64_t nretry;   /* its length, peeked without the lock */
    _Atomic uint64_t deferred; /* callbacks ever deferred for memory */
    const struct gort__np_backend *be;   /* set before np.nfd is published */
    const struct gort__np_backend *want; /* gort_netpoll_use; NULL: env */
    int refused; /* why io_uring, asked for, did not start (-errno) */
} np = {.grow = GORT__LOCK_INIT, .retry_lock = GORT__LOCK_INIT};

/* ---- descriptors -------------------------------------------------------- */

static void deadline_fire(struct gort__timer *t);

/* The table's size once the netpoller is up, 0 before: acquire pairs with
 * netpoll_init's release, so whoever sees it sees the table and epoll. */
static int np_nfd(void)
{
    return __atomic_load_n(&np.nfd, __ATOMIC_ACQUIRE);
}

static struct pd *pd_lookup(int fd)
{
    if (fd < 0 || fd >= np_nfd())
        return NULL;
    return atomic_load_explicit(&np.table[fd], memory_order_acquire);
}

/* A pd whose closed descriptor's callback still waits in the retry list
 * keeps that callback (one slot per pd): the descriptor number, reused,
 * gets a fresh pd (the old one stays on allpds, as every pd does). */
static bool retry_pending(struct pd *pd)
{
    return __atomic_load_n(&pd->retry_set, __ATOMIC_ACQUIRE);
}

static struct pd *pd_create(int fd)
{
    struct pd *pd = pd_lookup(fd);
    if (pd && !retry_pending(pd))
        return pd;
    gort__lock_acquire(&np.grow);
    pd = atomic_load_explicit(&np.table[fd], memory_order_acquire);
    if ((!pd || retry_pending(pd)) && (pd = calloc(1, sizeof *pd)) != NULL) {
        pd->fd = fd;
        pd->r.pd = pd->w.pd = pd;
        gort__timer_init(&pd->r.t, deadline_fire, &pd->r);
        gort__timer_init(&pd->w.t, deadline_fire, &pd->w);
        pd->allnext = atomic_load_explicit(&np.allpds, memory_order_relaxed);
        atomic_store_explicit(&np.allpds, pd, memory_order_release);
        atomic_store_explicit(&np.table[fd], pd, memory_order_release);
    }
    gort__lock_release(&np.grow);
    return pd;
}

/* Under pd->lock: takes the side's waiter, telling it why. */
static struct gort__g *take_waiter(struct pd_side *s, int why)
{
    struct gort__g *g = s->g;
    if (g) {
        s->g = NULL;
        s->wake = why;
        atomic_fetch_sub_explicit(&np.waiting, 1, memory_order_relaxed);
    }
    return g;
}

/* Under pd->lock: parks fn as a goroutine without a stack. It takes its id
 * now, so that a dump can list it and the goroutine started for it answers
 * to the id the dump showed; the label is copied because the registrant's
 * buffer is reused once the registrant exits. */
static void callback_park(struct pd *pd, gort_fn fn, void *arg, uintptr_t pc)
{
    struct gort__g *gp = gort__getg();
    const char *label =
        gp ? atomic_load_explicit(&gp->label, memory_order_relaxed) : NULL;
    size_t n = label ? strnlen(label, GORT__LABEL_MAX - 1) : 0;
    if (n)
        memcpy(pd->cb_label, label, n);
    pd->cb_label[n] = '\0';
    pd->cb_origin.goid = gort__newgoid();
    pd->cb_origin.creator_id = gp ? gp->goid : 0;
    pd->cb_origin.creator_pc = pc;
    pd->cb_origin.stack_size = gp ? gort__stack_size_of(&gp->stack) : 0;
    pd->cb_origin.group = gort__group_join_current();
    pd->cb_since = gort__coarse_now();
    pd->r.spawn_arg = arg;
    __atomic_store_n(&pd->r.spawn, fn, __ATOMIC_RELAXED);
    atomic_fetch_add_explicit(&np.pending, 1, memory_order_relaxed);
}

/* Under pd->lock: takes the pending gort_fd_on_readable callback. */
static bool take_callback(struct pd *pd, struct callback *cb)
{
    if (!pd->r.spawn)
        return false;
    cb->fn = pd->r.spawn;
    cb->arg = pd->r.spawn_arg;
    cb->origin = pd->cb_origin;
    __atomic_store_n(&pd->r.spawn, NULL, __ATOMIC_RELAXED);
    atomic_fetch_sub_explicit(&np.pending, 1, memory_order_relaxed);
    return true;
}

/* ---- out of memory ------------------------------------------------------
 *
 * Starting a callback's goroutine allocates (a g, later a stack). When that
 * fails the callback is not lost and the process does not abort: it is
 * parked in the pd's retry slot and the pd goes on np.retry, which every
 * poll (gort__netpoll) tries again, and the blocking poller sleeps at most
 * RETRY_NS while the list is not empty: a back-off at the poller's pace,
 * not a spin. A pd has one slot, and needs no more: its callback was taken,
 * so its owner registers nothing until that callback ran, and a descriptor
 * number reused meanwhile gets a fresh pd (pd_create). gort_close makes the
 * goroutine before the descriptor can be closed for real, so its deferral
 * is visible before the number can be reused. One race remains: a deadline
 * or event took the callback, a third party closed the descriptor and its
 * number was reused and failed too before the first deferral: that caller
 * backs off in place (slot_wait) until the slot is free. */
#define RETRY_NS (10 * 1000 * 1000LL)

static void slot_wait(void)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 1000000};
    nanosleep(&ts, NULL);
}

static void retry_defer(struct pd *pd, const struct callback *cb)
{
    atomic_fetch_add_explicit(&np.deferred, 1, memory_order_relaxed);
    for (;;) {
        gort__lock_acquire(&np.retry_lock);
        if (!pd->retry_set)
            break;
        gort__lock_release(&np.retry_lock);
        slot_wait();
    }
    pd->retry = *cb;
    pd->retry_next = np.retry;
    np.retry = pd;
    __atomic_store_n(&pd->retry_set, true, __ATOMIC_RELEASE);
    atomic_fetch_add_explicit(&np.nretry, 1, memory_order_relaxed);
    gort__lock_release(&np.retry_lock);
    np.be->brk(); /* the blocking poller shortens its sleep */
}

/* The goroutine for cb, not yet queued; NULL when out of memory, with cb
 * deferred to pd's retry slot. */
static struct gort__g *cb_goroutine(struct pd *pd, const struct callback *cb)
{
    struct gort__g *g = gort__newproc_detached(cb->fn, cb->arg, &cb->origin);
    if (!g)
        retry_defer(pd, cb);
    return g;
}

/* Starts a gort_fd_on_readable callback as the goroutine its origin names.
 * It goes to the tail of the run queue, not to runnext as gort_go would: a
 * connection that is ready again must not overtake the ones that became
 * ready before it (fairness is what keeps tail latency down with hundreds
 * of connections). */
static void spawn(struct pd *pd, const struct callback *cb)
{
    struct gort__g *g = cb_goroutine(pd, cb);
    if (g)
        gort__ready_tail(g);
}

static void ready_both(struct gort__g *a, struct gort__g *b)
{
    if (a)
        gort__ready(a);
    if (b)
        gort__ready(b);
}

/* An event's key: the pd and, in the pointer's unused top 16 bits, which
 * registration of its fd number it was for (Go's tagged pollDesc pointers).
 * A poller can hold an event for a descriptor that is closed, and its
 * number reused, by the time it looks: the tag tells it apart. */
#define KEY_PTR_BITS 48

static uint64_t key_of(const struct pd *pd, uint16_t seq)
{
    if ((uint64_t)(uintptr_t)pd >> KEY_PTR_BITS)
        gort__throw("netpoll", "descriptor record mapped above 2^48");
    return (uint64_t)seq << KEY_PTR_BITS | (uint64_t)(uintptr_t)pd;
}

static struct pd *key_pd(uint64_t key, uint16_t *seq)
{
    *seq = (uint16_t)(key >> KEY_PTR_BITS);
    return (struct pd *)(uintptr_t)(key & ((UINT64_C(1) << KEY_PTR_BITS) - 1));
}

int gort_fd_open(int fd)
{
    if (fd < 0)
        return -EBADF;
    int rc = gort__netpoll_start();
    if (rc < 0)
        return rc;
    if (fd >= np_nfd())
        return -EMFILE;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    struct pd *pd = pd_create(fd);
    if (!pd)
        return -ENOMEM;
    int type = 0;
    socklen_t tlen = sizeof type;
    bool stream = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == 0 &&
                  type == SOCK_STREAM;
    gort__lock_acquire(&pd->lock);
    __atomic_store_n(&pd->closing, false, __ATOMIC_RELAXED);
    atomic_store_explicit(&pd->use, 0, memory_order_relaxed);
    pd->stream = stream;
    pd->r.drained = false;
    /* Nothing of the number's last descriptor carries over: an edge it
     * gave a reader (taken) would start this one's first callback at once,
     * on nothing (the registration reports what is already there). */
    pd->r.taken = false;
    __atomic_store_n(&pd->r.hup, false, __ATOMIC_RELAXED);
    pd->r.ready = pd->w.ready = false;
    __atomic_store_n(&pd->r.deadline, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&pd->w.deadline, 0, __ATOMIC_RELAXED);
    uint64_t key = key_of(pd, ++pd->seq);
    gort__lock_release(&pd->lock);
    NP_PUBLISH(pd);
    rc = np.be->add(fd, key);
    return rc < 0 ? rc : fd;
}

int gort_socket(int domain, int type, int protocol)
{
    int rc = gort__netpoll_start();
    if (rc < 0)
        return rc;
    int fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (fd < 0)
        return -errno;
    rc = gort_fd_open(fd);
    if (rc < 0)
        close(fd);
    return rc;
}

/* The descriptor is closed for real only when no operation uses it any
 * more (Go's fdMutex, reduced to a count): otherwise a reader past its
 * check could read a new descriptor that reused the number. */
static int real_close(struct pd *pd)
{
    np.be->del(pd->fd);
    return close(pd->fd) == 0 ? 0 : -errno;
}

/* Takes a reference for one operation; NULL (and *err) when fd was closed,
 * NULL with *err == 0 for a descriptor never registered. */
static struct pd *op_begin(int fd, int *err)
{
    struct pd *pd = pd_lookup(fd);
    *err = 0;
    if (!pd)
        return NULL;
    uint32_t u = atomic_load_explicit(&pd->use, memory_order_relaxed);
    do {
        if (u & 1) {
            *err = -EBADF;
            return NULL;
        }
    } while (!atomic_compare_exchange_weak_explicit(
        &pd->use, &u, u + 2, memory_order_acquire, memory_order_relaxed));
    return pd;
}

static void op_end(struct pd *pd)
{
    if (pd && atomic_fetch_sub_explicit(&pd->use, 2, memory_order_acq_rel) == 3)
        real_close(pd); /* closed meanwhile and we were the last user */
}

int gort_close(int fd)
{
    struct pd *pd = pd_lookup(fd);
    if (!pd)
        return close(fd) == 0 ? 0 : -errno;
    gort__lock_acquire(&pd->lock);
    if (pd->closing) {
        gort__lock_release(&pd->lock);
        return -EBADF;
    }
    __atomic_store_n(&pd->closing, true, __ATOMIC_RELAXED);
    struct gort__g *rg = take_waiter(&pd->r, -EBADF);
    struct gort__g *wg = take_waiter(&pd->w, -EBADF);
    struct callback cb;
    bool sp = take_callback(pd, &cb); /* the record leaves with it */
    gort__timer_del(&pd->r.t);
    gort__timer_del(&pd->w.t);
    pd->r.armed = pd->w.armed = 0;
    gort__lock_release(&pd->lock);
    /* Made (or deferred) while the descriptor is still open: see RETRY_NS. */
    struct gort__g *cg = sp ? cb_goroutine(pd, &cb) : NULL;
    uint32_t prev = atomic_fetch_or_explicit(&pd->use, 1, memory_order_acq_rel);
    int rc = prev == 0 ? real_close(pd) : 0;
    ready_both(rg, wg);
    if (cg) /* its first read sees -EBADF; its owner frees what it holds */
        gort__ready_tail(cg);
    return rc;
}

/* ---- waiting ------------------------------------------------------------ */

static bool unlock_pd(struct gort__g *gp, void *arg)
{
    (void)gp;
    gort__lock_release(&((struct pd *)arg)->lock);
    return true;
}

/* Whether deadline d (non-zero) has passed. Most deadlines are seconds
 * away, set and checked on every request: the coarse clock (never ahead
 * of the fine one) proves that for a sixth of a fine read's cost, and
 * only a deadline within the slack pays for the fine clock. */
static bool deadline_passed(int64_t d)
{
    return d - gort__coarse_now() <= COARSE_SLACK_NS && d <= gort_nanotime();
}

/* Parks until side s of pd is ready. 0, -ETIMEDOUT, -EBADF or -EBUSY. */
static int pd_wait(struct pd *pd, struct pd_side *s)
{
    gort__lock_acquire(&pd->lock);
    int rc = 0;
    if (pd->closing)
        rc = -EBADF;
    else if (s->deadline && deadline_passed(s->deadline))
        rc = -ETIMEDOUT;
    else if (s->ready) {
        s->ready = false;
        if (s == &pd->r)
            s->taken = true; /* the edge is this reader's now */
    } else if (s->g || s->spawn)
        rc = -EBUSY; /* one waiter per side, as Go's fdMutex serializes */
    else {
        s->g = gort__getg();
        atomic_fetch_add_explicit(&np.waiting, 1, memory_order_relaxed);
        gort__park(unlock_pd, pd, WR_IO_WAIT);
        return s->wake;
    }
    gort__lock_release(&pd->lock);
    return rc;
}

/* Outside a goroutine (or for a descriptor never registered) the thread
 * itself waits, honoring the side's deadline. */
static int thread_wait(int fd, struct pd_side *s, short events)
{
    int ms = -1;
    if (s && s->deadline) {
        int64_t left = s->deadline - gort_nanotime();
        if (left <= 0)
            return -ETIMEDOUT;
        ms = (int)((left + 999999) / 1000000);
    }
    struct pollfd p = {.fd = fd, .events = events};
    int n = poll(&p, 1, ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    return n == 0 ? -ETIMEDOUT : 0;
}

static int wait_io(int fd, bool read)
{
    struct pd *pd = pd_lookup(fd);
    struct pd_side *s = pd ? (read ? &pd->r : &pd->w) : NULL;
    if (!pd || !gort__getg())
        return thread_wait(fd, s, read ? POLLIN : POLLOUT);
    return pd_wait(pd, s);
}

/* A deadline already past fails the operation before its syscall, as in
 * Go, even when the descriptor could serve it at once. */
static int expired(const struct pd *pd, bool read)
{
    int64_t d = __atomic_load_n(read ? &pd->r.deadline : &pd->w.deadline,
                                __ATOMIC_RELAXED);
    return d && deadline_passed(d) ? -ETIMEDOUT : 0;
}

/* A stream socket whose last read came back short was empty then, and
 * any byte that arrived since raised a readiness edge (latched, or it would
 * wake a waiter): unless that latch is set, the next read would only say
 * EAGAIN. Skip that syscall and wait straight away; an echo server saves
 * one of its three syscalls per message. Only the reading goroutine touches
 * `drained`, and the poller while no reader exists (a callback's start,
 * under the pd's lock). Not once the peer has shut down: data and end of file
 * can come in one edge, and then the short read leaves the end of file with no
 * edge to come (a response read until close hung on it). */
static bool skip_read(struct pd *pd)
{
    return pd && pd->stream && pd->r.drained &&
           !__atomic_load_n(&pd->r.hup, __ATOMIC_RELAXED) && gort__getg();
}

/* The edges latched so far, read before a read's system call. */
static uint64_t latched_now(const struct pd *pd)
{
    return pd ? __atomic_load_n(&pd->r.latched, __ATOMIC_ACQUIRE) : 0;
}

/* What a read (r: bytes, or a negative error) says about the stream: a
 * short read or EAGAIN found it empty, so any byte to come raises an edge,
 * and the edges latched before it (seen) announced nothing it left behind
 * (see skip_read and start_now). */
static void note_read(struct pd *pd, ssize_t r, size_t n, uint64_t seen)
{
    if (!pd)
        return;
    if (r >= 0)
        pd->r.drained = r > 0 && (size_t)r < n;
    if (r == -EAGAIN || (r > 0 && (size_t)r < n)) {
        pd->r.taken = false;
        pd->r.emptied = seen;
    }
}

/* A stream socket's bytes move with recv, send and sendmsg: the socket
 * calls skip the file layer that read, write and writev go through
 * (rw_verify_area, the file's position, the fsnotify hooks), measured at
 * ~125 ns a call for recv and send and ~100 ns for sendmsg on this
 * machine's kernel (200k pairs on loopback, each way; nginx uses recv and
 * writev). A proxied request makes four of them. Anything else (pipes,
 * datagram sockets, a descriptor of unknown kind) keeps read and write. */
static ssize_t sys_read(int fd, const struct pd *pd, void *buf, size_t n)
{
    return pd && pd->stream ? recv(fd, buf, n, 0) : read(fd, buf, n);
}

static ssize_t sys_write(int fd, const struct pd *pd, const void *buf, size_t n)
{
    return pd && pd->stream ? send(fd, buf, n, 0) : write(fd, buf, n);
}

static ssize_t sys_writev(int fd, const struct pd *pd, const struct iovec *iov,
                          int n)
{
    if (!pd || !pd->stream)
        return writev(fd, iov, n);
    struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n};
    return sendmsg(fd, &m, 0);
}

/* A write's first attempt on a stream socket joins its P's batch when it
 * can (sendq.c); later attempts of the same call, after a short write or
 * a wait for room, are system calls. -1 with errno on failure, as
 * sys_writev. */
static ssize_t first_writev(int fd, const struct pd *pd,
                            const struct iovec *iov, int n)
{
    ssize_t r;
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += iov[i].iov_len;
    /* A send's length is 32 bits in a submission entry: a larger write
     * goes as a system call, which the kernel cuts short instead. */
    if (pd && pd->stream && total <= INT_MAX &&
        gort__sendq_send(fd, iov, n, &r)) {
        if (r >= 0)
            return r;
        errno = (int)-r;
        return -1;
    }
    return n == 1 ? sys_write(fd, pd, iov[0].iov_base, iov[0].iov_len)
                  : sys_writev(fd, pd, iov, n);
}

static ssize_t do_read(int fd, struct pd *pd, void *buf, size_t n)
{
    if (pd && expired(pd, true))
        return -ETIMEDOUT;
    if (skip_read(pd)) {
        int rc = pd_wait(pd, &pd->r);
        if (rc < 0)
            return rc;
    }
    for (;;) {
        uint64_t seen = latched_now(pd);
        ssize_t r = sys_read(fd, pd, buf, n);
        if (r < 0)
            r = -errno;
        if (r == -EINTR)
            continue;
        note_read(pd, r, n, seen);
        if (r != -EAGAIN)
            return r;
        int rc = wait_io(fd, true);
        if (rc < 0)
            return rc;
    }
}

ssize_t gort_read_nowait(int fd, void *buf, size_t n)
{
    int err;
    struct pd *pd = op_begin(fd, &err);
    if (err)
        return err;
    ssize_t r = -ETIMEDOUT;
    if (!pd || !expired(pd, true)) {
        uint64_t seen = latched_now(pd);
        while ((r = sys_read(fd, pd, buf, n)) < 0 && errno == EINTR)
            ;
        if (r < 0)
            r = -errno;
        note_read(pd, r, n, seen);
    }
    op_end(pd);
    return r;
}

ssize_t gort_read(int fd, void *buf, size_t n)
{
    int err;
    struct pd *pd = op_begin(fd, &err);
    if (err)
        return err;
    ssize_t r = do_read(fd, pd, buf, n);
    op_end(pd);
    return r;
}

/* After a write or writev that wrote nothing (w <= 0, errno set when
 * negative): 0 to try again (interrupted, or the socket has room now),
 * or the error that ends the write. A full socket buffer parks the writer
 * until the descriptor is writable. */
static int write_blocked(int fd, ssize_t w)
{
    if (w < 0 && errno == EINTR)
        return 0;
    if (w < 0 && errno != EAGAIN)
        return -errno;
    return wait_io(fd, false);
}

static ssize_t do_write(int fd, struct pd *pd, const void *buf, size_t n)
{
    if (pd && expired(pd, false))
        return -ETIMEDOUT;
    size_t done = 0;
    struct iovec first = {.iov_base = (void *)buf, .iov_len = n};
    for (bool again = false; done < n; again = true) {
        ssize_t w = again
                        ? sys_write(fd, pd, (const char *)buf + done, n - done)
                        : first_writev(fd, pd, &first, 1);
        if (w > 0) {
            done += (size_t)w;
            continue;
        }
        int rc = write_blocked(fd, w);
        if (rc < 0)
            return rc;
    }
    return (ssize_t)n;
}

ssize_t gort_write(int fd, const void *buf, size_t n)
{
    int err;
    struct pd *pd = op_begin(fd, &err);
    if (err)
        return err;
    ssize_t w = do_write(fd, pd, buf, n);
    op_end(pd);
    return w;
}

/* Drops done bytes from the front of iov[*i..n). */
static void iov_advance(struct iovec *iov, int n, int *i, size_t done)
{
    while (*i < n && done >= iov[*i].iov_len) {
        done -= iov[*i].iov_len;
        (*i)++;
    }
    if (*i < n) {
        iov[*i].iov_base = (char *)iov[*i].iov_base + done;
        iov[*i].iov_len -= done;
    }
}

static ssize_t do_writev(int fd, struct pd *pd, struct iovec *iov, int n)
{
    if (pd && expired(pd, false))
        return -ETIMEDOUT;
    size_t total = 0;
    int i = 0;
    iov_advance(iov, n, &i, 0); /* skips leading empty buffers */
    for (bool again = false; i < n; again = true) {
        ssize_t w = again ? sys_writev(fd, pd, iov + i, n - i)
                          : first_writev(fd, pd, iov + i, n - i);
        if (w > 0) {
            total += (size_t)w;
            iov_advance(iov, n, &i, (size_t)w);
            continue;
        }
        int rc = write_blocked(fd, w);
        if (rc < 0)
            return rc;
    }
    return (ssize_t)total;
}

ssize_t gort_writev(int fd, const struct iovec *iov, int iovcnt)
{
    struct iovec local[GORT_IOV_MAX];
    if (iovcnt < 0 || iovcnt > GORT_IOV_MAX)
        return -EINVAL;
    memcpy(local, iov, (size_t)iovcnt * sizeof *iov); /* advanced in place */
    int err;
    struct pd *pd = op_begin(fd, &err);
    if (err)
        return err;
    ssize_t w = do_writev(fd, pd, local, iovcnt);
    op_end(pd);
    return w;
}

int gort_shutdown(int fd, int how)
{
    int err;
    struct pd *pd = op_begin(fd, &err);
    if (err)
        return err;
    int rc = shutdown(fd, how) == 0 ? 0 : -errno;
    op_end(pd);
    return rc;
}

static int do_accept(int fd, struct pd *pd, struct sockaddr *addr,
                     socklen_t *addrlen)
{
    if (pd && expired(pd, true))
        return -ETIMEDOUT;
    for (;;) {
        int c = accept4(fd, addr, addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c >= 0) {
            int rc = gort_fd_open(c);
            if (rc < 0)
                close(c);
            return rc;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno != EAGAIN)
            return -errno;
        int rc = wait_io(fd, true);
        if (rc < 0)
            return rc;
    }
}

int gort_accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
    int err;
    struct pd *pd = op_begin(fd, &err);
    if (err)
        return err;
    int rc = do_accept(fd, pd, addr, addrlen);
    op_end(pd);
    return rc;
}

static int do_connect(int fd, struct pd *pd, const struct sockaddr *addr,
                      socklen_t addrlen)
{
    if (pd && expired(pd, false))
        return -ETIMEDOUT;
    if (connect(fd, addr, addrlen) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EINTR)
        return -errno;
    int rc = wait_io(fd, false);
    if (rc < 0)
        return rc;
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        return -errno;
    return -err;
}

int gort_connect(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
    int err;
    struct pd *pd = op_begin(fd, &err);
    if (err)
        return err;
    int rc = do_connect(fd, pd, addr, addrlen);
    op_end(pd);
    return rc;
}

/* Under pd->lock: should the callback start now rather than wait for an
 * edge? A non-stream descriptor has only its latched edge to go by. A
 * stream socket knows more, and this runs once per keep-alive request, so
 * it asks the kernel nothing (a 1-byte MSG_PEEK here cost a system call per
 * request, where an HTTP server's budget is one read and one write).
 *
 * Every byte that arrives raises an edge, and epoll reports EPOLLIN only
 * when the data is there as it hands the event out. So an edge is either
 * on its way, or latched (ready), or was taken by a reader (a woken waiter,
 * a started callback) whose reads since may not have emptied the socket
 * (taken). A latched edge is stale when a read that found the stream empty
 * began after it was latched (emptied == latched): what it announced was
 * read. With no live edge latched, none taken and no end of file seen
 * (hup), whatever comes will be announced to the callback: park it.
 * Otherwise start it: its first read asks the kernel (drained cleared).
 * Where this cannot tell (an edge latched while a read was under way), it
 * starts the callback, whose read then meets EAGAIN and whose owner
 * registers again, with the edge counted as seen. */
static bool start_now(struct pd *pd)
{
    if (!pd->stream)
        return pd->r.ready;
    bool hup = __atomic_load_n(&pd->r.hup, __ATOMIC_RELAXED);
    if (pd->r.ready && !pd->r.taken && pd->r.emptied == pd->r.latched)
        pd->r.ready = false; /* stale */
    if (!pd->r.ready && !pd->r.taken && !hup)
        return false;
    pd->r.ready = false;
    pd->r.taken = true;
    pd->r.drained = false;
    return true;
}

/* start_now's test, asked without acting on it: no live edge latched,
 * none taken by a reader that has not found the stream empty since, and
 * no end of file seen. */
int gort_fd_quiet(int fd)
{
    struct pd *pd = pd_lookup(fd);
    if (!pd || !pd->stream)
        return 0;
    gort__lock_acquire(&pd->lock);
    bool stale = pd->r.ready && !pd->r.taken && pd->r.emptied == pd->r.latched;
    bool quiet = (!pd->r.ready || stale) && !pd->r.taken && !pd->closing &&
                 !__atomic_load_n(&pd->r.hup, __ATOMIC_RELAXED);
    gort__lock_release(&pd->lock);
    return quiet;
}

int gort_fd_on_readable(int fd, gort_fn fn, void *arg)
{
    uintptr_t pc = (uintptr_t)__builtin_return_address(0);
    struct pd *pd = pd_lookup(fd);
    if (!pd || !fn)
        return pd ? -EINVAL : -EBADF;
    gort__lock_acquire(&pd->lock);
    int rc = 0;
    bool now = false;
    if (pd->closing)
        rc = -EBADF;
    else if (pd->r.g || pd->r.spawn)
        rc = -EBUSY;
    else if (start_now(pd) ||
             (pd->r.deadline && deadline_passed(pd->r.deadline)))
        now = true; /* ready already: no need to wait for the kernel */
    else
        callback_park(pd, fn, arg, pc);
    gort__lock_release(&pd->lock);
    if (now) { /* named as a parked one would be: same creator, same site */
        struct gort__g *gp = gort__getg();
        struct gort__g_origin o = {
            .goid = gort__newgoid(),
            .creator_id = gp ? gp->goid : 0,
            .creator_pc = pc,
            .stack_size = gp ? gort__stack_size_of(&gp->stack) : 0,
        };
        /* The caller is there to hear it: out of memory is its error (the
         * group is joined once the goroutine exists, so nothing to undo). */
        struct gort__g *g = gort__newproc_detached(fn, arg, &o);
        if (!g)
            return -ENOMEM;
        gort__group_join(g, gp ? gp->group_cur : NULL);
        gort__ready_tail(g);
    }
    return rc;
}

int gort_fd_cancel_readable(int fd)
{
    struct pd *pd = pd_lookup(fd);
    if (!pd)
        return -EBADF;
    struct callback cb;
    gort__lock_acquire(&pd->lock);
    bool closed = pd->closing;
    bool took = !closed && take_callback(pd, &cb);
    gort__lock_release(&pd->lock);
    if (!took)
        return closed ? -EBADF : 0;
    gort__group_release(cb.origin.group); /* joined when it was parked */
    return 1;
}

/* ---- deadlines ----------------------------------------------------------
 *
 * A side's timer is armed lazily. An HTTP connection moves its deadlines on
 * every request (header timeout, write timeout, idle timeout, a cleared
 * write deadline), and re-arming each time cost a heap delete and insert
 * under the timer lock, seven heap operations per request. Instead a
 * timer that is armed stays armed at the earliest deadline it was asked
 * for and moves only when a new deadline comes earlier than that; a later
 * one leaves it alone. When it fires, the side's deadline as it is then
 * decides: passed, the waiter times out; later, the timer re-arms for it;
 * cleared, it does nothing. A cleared deadline leaves an armed timer
 * where it is, too: a connection clears and sets its deadlines on every
 * request (the write timeout, the header timeout cleared once the body is
 * read, a proxied call's response-header timeout cleared once the head is
 * in), and disarming each clear cost a heap delete and, at the next set,
 * an insert: three of each per proxied request, ~700 instructions of its
 * ~22k (callgrind). So a keep-alive connection's timers fire about once
 * per timeout, whatever its request rate; a cleared one fires once more,
 * as a no-op, and gort_close takes both off the heap. A passed deadline
 * still disarms (the waiter is woken at once: nothing is left to time). A
 * stale firing is harmless: pds are never freed. */

static void deadline_fire(struct gort__timer *t)
{
    struct pd_side *s = t->arg;
    struct pd *pd = s->pd;
    gort__lock_acquire(&pd->lock);
    struct gort__g *g = NULL;
    struct callback cb;
    bool sp = false;
    int64_t d = s->deadline;
    s->armed = 0;
    if (d && d > gort_nanotime()) {         /* moved later since: wait for it */
        if (gort__timer_add(&s->t, d) == 0) /* else: as before, unarmed */
            s->armed = d;
    } else if (d) {
        g = take_waiter(s, -ETIMEDOUT);
        sp = s == &pd->r && take_callback(pd, &cb);
    }
    gort__lock_release(&pd->lock);
    if (g)
        gort__ready(g);
    if (sp)
        spawn(pd, &cb);
}

/* Under pd->lock. True when the new deadline has already passed. The
 * timer moves only to fire earlier (see above). */
static bool side_set_deadline(struct pd_side *s, int64_t d)
{
    __atomic_store_n(&s->deadline, d, __ATOMIC_RELAXED); /* see expired() */
    if (d == 0)
        return false;         /* an armed timer fires as a no-op (see above) */
    if (deadline_passed(d)) { /* woken now: nothing left to time */
        if (s->armed)
            gort__timer_del(&s->t);
        s->armed = 0;
        return true;
    }
    if (s->armed == 0 || d < s->armed) {
        if (gort__timer_add(&s->t, d) == 0) /* else: as before, unarmed */
            s->armed = d;
    }
    return false;
}

/* Whether the sides in mode have no deadline (a relaxed look: a setter
 * racing with another on one descriptor has no order to keep anyway). */
static bool no_deadline(struct pd *pd, int mode)
{
    return (!(mode & GORT_IO_READ) ||
            __atomic_load_n(&pd->r.deadline, __ATOMIC_RELAXED) == 0) &&
           (!(mode & GORT_IO_WRITE) ||
            __atomic_load_n(&pd->w.deadline, __ATOMIC_RELAXED) == 0);
}

int gort_set_deadline(int fd, int mode, int64_t deadline_ns)
{
    struct pd *pd = pd_lookup(fd);
    if (!pd || deadline_ns < 0 || !(mode & GORT_IO_BOTH))
        return pd ? -EINVAL : -EBADF;
    if (deadline_ns == 0 && no_deadline(pd, mode))
        return 0; /* clearing what is clear: most clears per request */
    struct gort__g *rg = NULL, *wg = NULL;
    struct callback cb;
    bool sp = false;
    gort__lock_acquire(&pd->lock);
    if ((mode & GORT_IO_READ) && side_set_deadline(&pd->r, deadline_ns)) {
        rg = take_waiter(&pd->r, -ETIMEDOUT);
        sp = take_callback(pd, &cb);
    }
    if ((mode & GORT_IO_WRITE) && side_set_deadline(&pd->w, deadline_ns))
        wg = take_waiter(&pd->w, -ETIMEDOUT);
    gort__lock_release(&pd->lock);
    ready_both(rg, wg);
    if (sp)
        spawn(pd, &cb);
    return 0;
}

/* ---- polling ------------------------------------------------------------ */

/* Appends g to a list kept in epoll's order (readiness order is fairness:
 * a connection ready first is served first). */
struct glist {
    struct gort__g *head, *tail;
};

static void push(struct glist *l, struct gort__g *g, int *count)
{
    g->schedlink = NULL;
    if (l->tail)
        l->tail->schedlink = g;
    else
        l->head = g;
    l->tail = g;
    (*count)++;
}

/* Turns events into runnable goroutines linked through schedlink: parked
 * waiters, and new goroutines for gort_fd_on_readable callbacks (created
 * here, queued by the caller with the rest). */
static void collect(struct gort__np_event *ev, int n, struct glist *list,
                    int *count)
{
    for (int i = 0; i < n; i++) {
        uint16_t seq;
        struct pd *pd = key_pd(ev[i].key, &seq);
        NP_RECEIVE(pd);
        struct gort__g *rg = NULL, *wg = NULL;
        struct callback cb;
        bool sp = false;
        gort__lock_acquire(&pd->lock);
        if (seq != pd->seq) { /* for an earlier descriptor with this number */
            gort__lock_release(&pd->lock);
            continue;
        }
        if (ev[i].modes & GORT__NP_HUP)
            __atomic_store_n(&pd->r.hup, true, __ATOMIC_RELAXED);
        if (ev[i].modes & GORT__NP_READ) {
            sp = take_callback(pd, &cb);
            rg = sp ? NULL : take_waiter(&pd->r, 0);
            /* The edge goes to the goroutine started for it, as to a woken
             * waiter: its first read must ask the kernel (not drained). A
             * stream socket then knows from that read whether it is empty
             * (start_now); anything else keeps the edge latched too. */
            if (sp && pd->stream) {
                pd->r.drained = false;
            } else if (!rg) {
                pd->r.ready = true;
                __atomic_fetch_add(&pd->r.latched, 1, __ATOMIC_RELEASE);
            }
            if (sp || rg)
                pd->r.taken = true;
        }
        if ((ev[i].modes & GORT__NP_WRITE) && !(wg = take_waiter(&pd->w, 0)))
            pd->w.ready = true;
        gort__lock_release(&pd->lock);
        struct gort__g *g = sp ? cb_goroutine(pd, &cb) : NULL;
        if (g)
            push(list, g, count);
        if (rg)
            push(list, rg, count);
        if (wg)
            push(list, wg, count);
        int woken = (rg != NULL) + (wg != NULL);
        if (woken) /* parked → runnable, for the goroutines-by-state stats */
            atomic_fetch_add_explicit(&gort__sched.readied_offp,
                                      (uint64_t)woken, memory_order_relaxed);
    }
}

/* Tries the deferred callbacks again (see RETRY_NS); those that still find
 * no memory go back on the list. */
static void retry_run(struct glist *list, int *count)
{
    if (atomic_load_explicit(&np.nretry, memory_order_relaxed) == 0)
        return;
    gort__lock_acquire(&np.retry_lock);
    struct pd *pd = np.retry;
    np.retry = NULL;
    gort__lock_release(&np.retry_lock);
    while (pd) {
        struct pd *next = pd->retry_next;
        gort__lock_acquire(&np.retry_lock);
        struct callback cb = pd->retry;
        __atomic_store_n(&pd->retry_set, false, __ATOMIC_RELEASE);
        atomic_fetch_sub_explicit(&np.nretry, 1, memory_order_relaxed);
        gort__lock_release(&np.retry_lock);
        struct gort__g *g = cb_goroutine(pd, &cb);
        if (g)
            push(list, g, count);
        pd = next;
    }
}

int gort__netpoll(int64_t timeout_ns, enum gort__np_who who,
                  struct gort__g **list)
{
    struct gort__np_event ev[128];
    *list = NULL;
    if (atomic_load_explicit(&np.nretry, memory_order_relaxed) &&
        (timeout_ns < 0 || timeout_ns > RETRY_NS))
        timeout_ns = RETRY_NS;
    int n = np.be->wait(timeout_ns, ev, 128, who == GORT__NP_BLOCKING);
    struct glist l = {.head = NULL, .tail = NULL};
    int count = 0;
    if (n > 0)
        collect(ev, n, &l, &count);
    retry_run(&l, &count);
    if (count == 0)
        return 0;
    *list = l.head;
    atomic_fetch_add_explicit(who == GORT__NP_IDLE_M ? &np.wakeups_idle
                                                     : &np.wakeups_blocking,
                              (uint64_t)count, memory_order_relaxed);
    return count;
}

bool gort__netpoll_active(void)
{
    return np_nfd() > 0;
}

struct gort__g *gort__netpoll_poll_idle(void)
{
    if (!np.idle_enabled ||
        (atomic_load_explicit(&np.waiting, memory_order_relaxed) == 0 &&
         atomic_load_explicit(&np.pending, memory_order_relaxed) == 0 &&
         atomic_load_explicit(&np.nretry, memory_order_relaxed) == 0))
        return NULL;
    int zero = 0;
    if (!atomic_compare_exchange_strong(&np.idle_polling, &zero, 1))
        return NULL;
    struct gort__g *list;
    int n = gort__netpoll(0, GORT__NP_IDLE_M, &list);
    atomic_store(&np.idle_polling, 0);
    if (n == 0)
        return NULL;
    struct gort__g *first = list;
    gort__lat_sample_offp(list, (uint64_t)n);
    list = first->schedlink;
    atomic_store_explicit(&first->status, G_RUNNABLE, memory_order_relaxed);
    struct gort__p *p = gort__getm()->p;
    while (list) { /* the rest onto this P's ring; others may steal */
        struct gort__g *g = list;
        list = g->schedlink;
        atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
        gort__runq_put(&p->runq, &gort__sched.runq, g);
    }
    return first;
}

void gort__netpoll_break(void)
{
    if (np_nfd() > 0)
        np.be->brk();
}

void gort__netpoll_stats(struct gort__netpoll_stats *s)
{
    s->wakeups_thread = atomic_load(&np.wakeups_blocking);
    s->wakeups_idle = atomic_load(&np.wakeups_idle);
    s->waiting = atomic_load(&np.waiting);
    s->pending = atomic_load(&np.pending);
    s->deferred = atomic_load(&np.deferred);
}

int gort__netpoll_pending_each(int (*fn)(const struct gort__np_pending *cb,
                                         void *arg),
                               void *arg)
{
    struct gort__np_pending cb;
    struct pd *pd = atomic_load_explicit(&np.allpds, memory_order_acquire);
    for (; pd; pd = pd->allnext) {
        /* Peek first: most descriptors have no callback, and their locks
         * belong to the I/O path. */
        if (!__atomic_load_n(&pd->r.spawn, __ATOMIC_RELAXED))
            continue;
        gort__lock_acquire(&pd->lock);
        bool have = pd->r.spawn != NULL;
        if (have) {
            cb.origin = pd->cb_origin;
            cb.fn = pd->r.spawn;
            cb.since = pd->cb_since;
            memcpy(cb.label, pd->cb_label, sizeof cb.label);
        }
        gort__lock_release(&pd->lock);
        int rc = have ? fn(&cb, arg) : 0;
        if (rc)
            return rc;
    }
    return 0;
}

static pthread_mutex_t np_start_lock = PTHREAD_MUTEX_INITIALIZER;

static const struct gort__np_backend *backend_named(const char *name)
{
    if (strcmp(name, "epoll") == 0)
        return &gort__np_epoll;
    if (strcmp(name, "io_uring") == 0)
        return &gort__np_uring;
    return NULL;
}

/* Under np_start_lock. The backend asked for (gort_netpoll_use, else
 * GORTNETPOLL, else epoll); io_uring falls back to epoll where the kernel
 * refuses it, remembering why for gort_netpoll_backend. An unknown
 * GORTNETPOLL is ignored, as GORTDEBUG's unknown keys are. */
static int backend_init(int maxfd)
{
    const struct gort__np_backend *be = np.want;
    const char *env = getenv("GORTNETPOLL");
    if (!be && env)
        be = backend_named(env);
    if (!be)
        be = &gort__np_epoll;
    np.refused = 0;
    if (be == &gort__np_uring) {
        int rc = be->init(maxfd);
        if (rc == 0) {
            np.be = be;
            return 0;
        }
        np.refused = rc;
        be = &gort__np_epoll;
    }
    int rc = be->init(maxfd);
    if (rc == 0)
        np.be = be;
    return rc;
}

int gort_netpoll_use(const char *name)
{
    const struct gort__np_backend *be = name ? backend_named(name) : NULL;
    if (!be)
        return -EINVAL;
    pthread_mutex_lock(&np_start_lock);
    int rc = np_nfd() > 0 ? -EBUSY : 0;
    if (rc == 0)
        np.want = be;
    pthread_mutex_unlock(&np_start_lock);
    return rc;
}

const char *gort_netpoll_backend(int *refused)
{
    if (gort__netpoll_start() < 0)
        return NULL;
    if (refused)
        *refused = np.refused;
    return np.be->name;
}

/* Under np_start_lock, once np.nfd is 0. A failure frees what it made, so
 * the next call tries again (the fd limit may have been raised). */
static int netpoll_init(void)
{
    struct rlimit rl;
    rlim_t max = 65536;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY)
        max = rl.rlim_max;
    if (max > (1u << 24))
        max = 1u << 24;
    np.table = calloc((size_t)max, sizeof *np.table);
    if (!np.table)
        return -ENOMEM;
    gort__debug_parse(); /* the netpoller may start before gort_main */
    np.idle_enabled = gort__debug.netpollidle;
    int rc = backend_init((int)max);
    if (rc < 0) {
        free(np.table);
        np.table = NULL;
        return rc;
    }
    /* Published last, with release: "the poller exists" (np_nfd). */
    __atomic_store_n(&np.nfd, (int)max, __ATOMIC_RELEASE);
    return 0;
}

int gort__netpoll_start(void)
{
    if (np_nfd() > 0)
        return 0;
    pthread_mutex_lock(&np_start_lock);
    int rc = np_nfd() > 0 ? 0 : netpoll_init();
    pthread_mutex_unlock(&np_start_lock);
    return rc;
}
