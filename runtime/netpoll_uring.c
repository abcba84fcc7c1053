/* netpoll_uring.c — the netpoller backend on Linux io_uring
 * (GORTNETPOLL=io_uring, gortd --netpoll=io_uring).
 *
 * The readiness model of netpoll_epoll.c, for the same netpoll.c above it:
 * each descriptor gets one multishot poll (IORING_POLL_ADD_MULTI) for
 * POLLIN | POLLOUT | POLLRDHUP, and its completions are the readiness
 * edges: a multishot poll posts one completion per wake-up of the file
 * with the mask ready then, as EPOLLET reports one event per wake-up, and
 * netpoll.c latches it exactly as an epoll event. What io_uring changes:
 *  - a non-blocking poll (an idle M, sysmon) reads the completion ring in
 *    shared memory: no system call when nothing is ready, where
 *    epoll_pwait2 costs one every time;
 *  - registrations are queued and submitted in one batch by the next poll
 *    (one io_uring_enter for all of them, no epoll_ctl each), except while
 *    the poller sleeps in the kernel: then the registrant submits at once,
 *    so no goroutine waits on a poll nobody armed. Removals are submitted
 *    at once: a poll holds a reference to the file, so the close(2) that
 *    follows (the FIN the peer waits for) would otherwise wait too;
 *  - a multishot poll the kernel ends (a completion without
 *    IORING_CQE_F_MORE: completion ring overflow) is armed again, so a
 *    descriptor never goes deaf.
 * Reads and writes stay read(2) and writev(2) on the goroutine that does
 * them: that is netpoll.c's model, which the rest of gort uses (README,
 * "--netpoll", says what completion-based I/O would take).
 *
 * Threads. The submission queue is guarded by sq_lock, the completion
 * queue by cq_lock: any poller reaps, and the blocking poller sleeps in
 * io_uring_enter without holding either. A completion carries
 * (generation << 32 | fd); slots[fd] holds netpoll.c's key and the
 * generation of the descriptor's current registration, so a completion
 * for a descriptor since removed (and perhaps registered again) is dropped
 * rather than delivered or armed again. Arming again and removing both
 * happen under sq_lock, after a generation check, so a removal always
 * finds the last poll armed for it.
 *
 * Breaks: an eventfd with its own multishot poll, deduplicated by a flag,
 * as in the epoll backend. A break is a single completion that any poller
 * can reap (epoll's level-triggered eventfd stays set instead), so a
 * poller that is not the owner and reaps one while the owner sleeps writes
 * the eventfd again, and the owner looks at the flag before it sleeps.
 *
 * Detected at start: io_uring_setup may be refused (kernel older than
 * 5.13, kernel.io_uring_disabled, a container's seccomp profile); init
 * then fails and netpoll.c starts epoll instead, saying why.
 */
#include <errno.h>
#include <stdlib.h>

#include "netpoll.h"
#include "gort/gort.h"

#if GORT_HAVE_URING
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sched.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SQ_ENTRIES 1024
#define CQ_ENTRIES 16384
#define BREAK_UD UINT64_MAX            /* fd 0xffffffff never exists */
#define REMOVE_BIT (UINT64_C(1) << 63) /* a removal's, for the poll ud */
#define GEN_MASK 0x7fffffffu
#define POLL_MASK (POLLIN | POLLOUT | POLLRDHUP)
#define BACKLOG 1024
#define REAP_MAX 128
#define DEL_WAIT_NS (100 * 1000 * 1000LL)

struct slot {
    _Atomic uint64_t key;   /* netpoll.c's key for the registration */
    _Atomic uint32_t gen;   /* odd: registered; even: not */
    _Atomic uint32_t ended; /* the generation whose poll last ended */
};

static struct {
    struct io_uring ring;
    pthread_mutex_t sq_lock, cq_lock;
    struct slot *slots;
    int maxfd;
    int evfd;
    _Atomic int break_pending;
    _Atomic int owner_waiting; /* the owner is about to sleep, or sleeps */
    _Atomic int queued;        /* entries prepared, not yet submitted */
    /* Events a removal reaped while it waited (see ur_del), handed out by
     * the next wait first; under cq_lock, the count also peeked. */
    struct gort__np_event backlog[BACKLOG];
    _Atomic int nbacklog;
} u = {
    .sq_lock = PTHREAD_MUTEX_INITIALIZER,
    .cq_lock = PTHREAD_MUTEX_INITIALIZER,
    .evfd = -1,
};

static void ur_break(void);

/* Completions waiting: liburing's io_uring_cq_ready reads the head
 * plainly, which races (harmlessly, but TSan sees it) with the reaper's
 * advance when read outside cq_lock, as the lock-free peeks here do. */
static unsigned cq_ready(void)
{
    return __atomic_load_n(u.ring.cq.ktail, __ATOMIC_ACQUIRE) -
           __atomic_load_n(u.ring.cq.khead, __ATOMIC_RELAXED);
}

static uint64_t ud_of(int fd, uint32_t gen)
{
    return (uint64_t)(gen & GEN_MASK) << 32 | (uint32_t)fd;
}

/* Under sq_lock. */
static void submit(void)
{
    atomic_store_explicit(&u.queued, 0, memory_order_relaxed);
    io_uring_submit(&u.ring);
}

/* Under sq_lock: a free submission entry, submitting the full queue
 * first if need be. */
static struct io_uring_sqe *sqe_get(void)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u.ring);
    if (!sqe) {
        submit();
        sqe = io_uring_get_sqe(&u.ring);
    }
    return sqe;
}

/* Under sq_lock. */
static int arm_poll(int fd, uint64_t ud)
{
    struct io_uring_sqe *sqe = sqe_get();
    if (!sqe)
        return -EAGAIN;
    io_uring_prep_poll_multishot(sqe, fd, POLL_MASK);
    io_uring_sqe_set_data64(sqe, ud);
    atomic_store_explicit(&u.queued, 1, memory_order_relaxed);
    return 0;
}

/* Submits what registrations queued; a relaxed peek keeps the poll that
 * finds none from taking the lock. */
static void submit_pending(void)
{
    if (!atomic_load_explicit(&u.queued, memory_order_relaxed))
        return;
    pthread_mutex_lock(&u.sq_lock);
    if (io_uring_sq_ready(&u.ring))
        submit();
    pthread_mutex_unlock(&u.sq_lock);
}

static void teardown(void)
{
    io_uring_queue_exit(&u.ring);
    if (u.evfd >= 0)
        close(u.evfd);
    u.evfd = -1;
    free(u.slots);
    u.slots = NULL;
}

static int ur_init(int maxfd)
{
    struct io_uring_params p = {.flags = IORING_SETUP_CQSIZE,
                                .cq_entries = CQ_ENTRIES};
    int rc = io_uring_queue_init_params(SQ_ENTRIES, &u.ring, &p);
    if (rc < 0)
        return rc;
    /* Timeouts on the wait (5.11) and multishot polls (5.13, when
     * resource tags came too). */
    if (!(p.features & IORING_FEAT_EXT_ARG) ||
        !(p.features & IORING_FEAT_RSRC_TAGS)) {
        io_uring_queue_exit(&u.ring);
        return -ENOSYS;
    }
    u.slots = calloc((size_t)maxfd, sizeof *u.slots);
    u.evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    rc = !u.slots ? -ENOMEM : u.evfd < 0 ? -errno : 0;
    if (rc == 0) {
        u.maxfd = maxfd;
        pthread_mutex_lock(&u.sq_lock);
        rc = arm_poll(u.evfd, BREAK_UD);
        if (rc == 0) {
            atomic_store_explicit(&u.queued, 0, memory_order_relaxed);
            rc = io_uring_submit(&u.ring);
            rc = rc < 0 ? rc : 0;
        }
        pthread_mutex_unlock(&u.sq_lock);
    }
    if (rc < 0)
        teardown();
    return rc;
}

static int ur_add(int fd, uint64_t key)
{
    if (fd < 0 || fd >= u.maxfd)
        return -EBADF;
    /* epoll refuses regular files and directories (EPERM); a poll would
     * complete at once, for ever: refuse them the same way. */
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))
        return -EPERM;
    struct slot *s = &u.slots[fd];
    pthread_mutex_lock(&u.sq_lock);
    uint32_t gen = atomic_load_explicit(&s->gen, memory_order_relaxed) | 1;
    atomic_store_explicit(&s->key, key, memory_order_relaxed);
    atomic_store_explicit(&s->gen, gen, memory_order_release);
    int rc = arm_poll(fd, ud_of(fd, gen));
    /* The owner sleeps (or is about to, past its own submission): it will
     * not submit this, so do it now. */
    if (rc == 0 && atomic_load(&u.owner_waiting))
        submit();
    pthread_mutex_unlock(&u.sq_lock);
    return rc;
}

static uint32_t modes_of(int res)
{
    if (res < 0) /* the operations retry and meet the error themselves */
        return GORT__NP_READ | GORT__NP_WRITE;
    uint32_t m = 0, ev = (uint32_t)res;
    if (ev & (POLLIN | POLLRDHUP | POLLHUP | POLLERR))
        m |= GORT__NP_READ;
    if (ev & (POLLOUT | POLLHUP | POLLERR))
        m |= GORT__NP_WRITE;
    if (ev & (POLLRDHUP | POLLHUP | POLLERR))
        m |= GORT__NP_HUP;
    return m;
}

static void drain_break(void)
{
    uint64_t v;
    while (read(u.evfd, &v, sizeof v) > 0) {
    }
    atomic_store_explicit(&u.break_pending, 0, memory_order_release);
}

/* A break reaped: the owner consumes it; anyone else announces it again
 * if the owner sleeps (it would not wake for a completion already taken).
 * A break poll the kernel ended is armed again (*rearm). */
static void on_break(const struct io_uring_cqe *cqe, bool owner, bool *rearm)
{
    if (!(cqe->flags & IORING_CQE_F_MORE))
        *rearm = true;
    if (owner) {
        drain_break();
    } else if (atomic_load(&u.owner_waiting)) {
        uint64_t one = 1;
        ssize_t r = write(u.evfd, &one, sizeof one);
        (void)r;
    }
}

/* Under sq_lock: queues the removal of the poll armed with ud. */
static int remove_poll(uint64_t ud)
{
    struct io_uring_sqe *sqe = sqe_get();
    if (!sqe)
        return -EAGAIN;
    io_uring_prep_poll_remove(sqe, ud);
    io_uring_sqe_set_data64(sqe, ud | REMOVE_BIT);
    atomic_store_explicit(&u.queued, 1, memory_order_relaxed);
    return 0;
}

/* Under sq_lock: arms fd's poll again if the registration the ended poll
 * was for (ud) is still the current one. */
static void rearm(uint64_t ud)
{
    int fd = (int)(uint32_t)ud;
    if (ud == BREAK_UD) {
        arm_poll(u.evfd, BREAK_UD);
        return;
    }
    if (ud & REMOVE_BIT) {
        remove_poll(ud & ~REMOVE_BIT);
        return;
    }
    if ((atomic_load_explicit(&u.slots[fd].gen, memory_order_relaxed) &
         GEN_MASK) == (uint32_t)(ud >> 32)) {
        atomic_store_explicit(&u.slots[fd].ended, 0, memory_order_relaxed);
        arm_poll(fd, ud);
    }
}

/* Turns one completion into an event for netpoll.c: true when it is one.
 * *again: the multishot poll ended and should be armed again. */
static bool translate(const struct io_uring_cqe *cqe, struct gort__np_event *ev,
                      bool *again)
{
    uint64_t ud = io_uring_cqe_get_data64(cqe);
    *again = false;
    int fd = (int)(uint32_t)ud;
    if (fd >= u.maxfd)
        return false;
    struct slot *s = &u.slots[fd];
    if ((atomic_load_explicit(&s->gen, memory_order_acquire) & GEN_MASK) !=
        (uint32_t)(ud >> 32))
        return false; /* removed since: not this registration's event */
    /* Still registered and ended by the kernel (ring overflow; cancelled
     * with the thread that armed it): arm it again. */
    *again = !(cqe->flags & IORING_CQE_F_MORE) && cqe->res != -EBADF;
    if (cqe->res == -ECANCELED)
        return false; /* no news: the new poll reports what is ready */
    ev->key = atomic_load_explicit(&s->key, memory_order_relaxed);
    ev->modes = modes_of(cqe->res);
    return true;
}

/* The owner's sleep: until a completion or the timeout, without holding a
 * lock. Returns early when a break is pending (see the top). */
static void sleep_in_kernel(int64_t timeout_ns)
{
    atomic_store(&u.owner_waiting, 1);
    submit_pending(); /* registrations queued before the flag was seen */
    if (atomic_load(&u.break_pending)) {
        drain_break();
    } else if (cq_ready() == 0) {
        struct __kernel_timespec ts = {.tv_sec = timeout_ns / 1000000000,
                                       .tv_nsec = timeout_ns % 1000000000};
        struct io_uring_getevents_arg arg = {
            .ts = timeout_ns < 0 ? 0 : (uint64_t)(uintptr_t)&ts,
        };
        io_uring_enter2((unsigned)u.ring.ring_fd, 0, 1,
                        IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG,
                        (sigset_t *)(void *)&arg, sizeof arg);
    }
    atomic_store(&u.owner_waiting, 0);
}

/* Under cq_lock: moves up to max completions into out (events for
 * netpoll.c; breaks are handled here), marks the polls that ended, and
 * arms again those the kernel ended while still registered. */
static int reap_locked(struct gort__np_event *out, int max, bool owner)
{
    if (max > REAP_MAX)
        max = REAP_MAX;
    struct io_uring_cqe *cqes[REAP_MAX];
    uint64_t again[REAP_MAX];
    int nagain = 0, k = 0;
    unsigned n = io_uring_peek_batch_cqe(&u.ring, cqes, (unsigned)max);
    for (unsigned i = 0; i < n; i++) {
        uint64_t ud = io_uring_cqe_get_data64(cqes[i]);
        bool re = false;
        if (ud == BREAK_UD) {
            on_break(cqes[i], owner, &re);
        } else if (ud & REMOVE_BIT) {
            /* The poll was completing as the removal came: it goes on
             * (multishot), so remove it again. */
            re = cqes[i]->res == -EALREADY;
        } else {
            if (!(cqes[i]->flags & IORING_CQE_F_MORE) &&
                (uint32_t)ud < (uint32_t)u.maxfd)
                atomic_store_explicit(&u.slots[(uint32_t)ud].ended,
                                      (uint32_t)(ud >> 32) & GEN_MASK,
                                      memory_order_release);
            if (translate(cqes[i], &out[k], &re))
                k++;
        }
        if (re)
            again[nagain++] = ud;
    }
    io_uring_cq_advance(&u.ring, n);
    if (nagain) {
        pthread_mutex_lock(&u.sq_lock);
        for (int i = 0; i < nagain; i++)
            rearm(again[i]);
        submit();
        pthread_mutex_unlock(&u.sq_lock);
    }
    return k;
}

static bool cq_pending(void)
{
    return cq_ready() || io_uring_cq_has_overflow(&u.ring) ||
           atomic_load_explicit(&u.nbacklog, memory_order_relaxed);
}

static int ur_wait(int64_t timeout_ns, struct gort__np_event *out, int max,
                   bool owner)
{
    if (timeout_ns != 0 && owner)
        sleep_in_kernel(timeout_ns);
    else
        submit_pending();
    if (!cq_pending())
        return 0; /* the common idle poll: no system call, no lock */
    if (owner)
        pthread_mutex_lock(&u.cq_lock);
    else if (pthread_mutex_trylock(&u.cq_lock) != 0)
        return 0; /* another poller is reaping them */
    int k = atomic_load_explicit(&u.nbacklog, memory_order_relaxed);
    if (k > max)
        k = max;
    int left = atomic_load_explicit(&u.nbacklog, memory_order_relaxed) - k;
    memcpy(out, u.backlog, (size_t)k * sizeof *out);
    memmove(u.backlog, u.backlog + k, (size_t)left * sizeof *out);
    atomic_store_explicit(&u.nbacklog, left, memory_order_relaxed);
    if (k < max)
        k += reap_locked(out + k, max - k, owner);
    pthread_mutex_unlock(&u.cq_lock);
    return k;
}

/* A removal waits until the removed poll's last completion is posted:
 * the poll holds a reference to the file, which the kernel drops as it
 * posts that completion, in the task that armed the poll (task work, run
 * within microseconds when that thread is interrupted or wakes). Without
 * the wait, close(2) right after would not close the socket yet: a
 * listener would still accept, a peer would not see its FIN. Whatever
 * the wait reaps meanwhile waits in the backlog, and the owner is woken
 * for it. Bounded (DEL_WAIT_NS): a lost completion cannot hang a close. */
static void await_end(struct slot *s, uint32_t gen)
{
    int64_t until = gort_nanotime() + DEL_WAIT_NS;
    bool reaped = false;
    gen &= GEN_MASK;
    while (atomic_load_explicit(&s->ended, memory_order_acquire) != gen &&
           gort_nanotime() < until) {
        pthread_mutex_lock(&u.cq_lock);
        int nb = atomic_load_explicit(&u.nbacklog, memory_order_relaxed);
        int room = BACKLOG - nb < REAP_MAX ? BACKLOG - nb : REAP_MAX;
        if (room > 0 && (cq_ready() || io_uring_cq_has_overflow(&u.ring))) {
            nb += reap_locked(u.backlog + nb, room, false);
            atomic_store_explicit(&u.nbacklog, nb, memory_order_relaxed);
            reaped = nb > 0;
        }
        pthread_mutex_unlock(&u.cq_lock);
        if (atomic_load_explicit(&s->ended, memory_order_acquire) != gen)
            sched_yield();
    }
    if (reaped)
        ur_break();
}

static int ur_del(int fd)
{
    if (fd < 0 || fd >= u.maxfd)
        return -EBADF;
    struct slot *s = &u.slots[fd];
    pthread_mutex_lock(&u.sq_lock);
    uint32_t gen = atomic_load_explicit(&s->gen, memory_order_relaxed);
    int rc = -ENOENT;
    if (gen & 1) {
        atomic_store_explicit(&s->gen, gen + 1, memory_order_release);
        rc = remove_poll(ud_of(fd, gen));
        if (rc == 0)
            submit();
    }
    pthread_mutex_unlock(&u.sq_lock);
    if (rc == 0)
        await_end(s, gen);
    return rc;
}

static void ur_break(void)
{
    int zero = 0;
    if (!atomic_compare_exchange_strong(&u.break_pending, &zero, 1))
        return;
    uint64_t one = 1;
    ssize_t r = write(u.evfd, &one, sizeof one);
    (void)r; /* EAGAIN: a break is pending already */
}

#else /* built without liburing: the backend always refuses */

static int ur_init(int maxfd)
{
    (void)maxfd;
    return -ENOSYS;
}
static int ur_add(int fd, uint64_t key)
{
    (void)fd, (void)key;
    return -ENOSYS;
}
static int ur_del(int fd)
{
    (void)fd;
    return -ENOSYS;
}
static int ur_wait(int64_t timeout_ns, struct gort__np_event *out, int max,
                   bool owner)
{
    (void)timeout_ns, (void)out, (void)max, (void)owner;
    return -ENOSYS;
}
static void ur_break(void) {}

#endif

const struct gort__np_backend gort__np_uring = {
    .name = "io_uring",
    .init = ur_init,
    .add = ur_add,
    .del = ur_del,
    .wait = ur_wait,
    .brk = ur_break,
};
