/* netpoll_epoll.c — the netpoller backend on Linux epoll.
 *
 * One epoll instance for the process. A descriptor is added once with
 * EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET and never re-armed: edge
 * triggering reports each transition to ready once, and netpoll.c latches it
 * until a goroutine consumes it, so there is no EPOLL_CTL_MOD per operation.
 * An eventfd, registered level-triggered with key 0, breaks the blocked
 * epoll_wait of the poller thread; a flag deduplicates breaks so a burst of new
 * timers costs one write(2).
 */
#include <errno.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "netpoll.h"

#define BREAK_KEY 0
#define BATCH 128 /* events per epoll_wait, as Go */

static int epfd = -1;
static int evfd = -1;
static _Atomic int break_pending;

static int ep_init(int maxfd)
{
    (void)maxfd;
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        return -errno;
    evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (evfd < 0)
        goto err;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = BREAK_KEY};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, evfd, &ev) != 0)
        goto err;
    return 0;
err:;
    int e = -errno;
    if (evfd >= 0)
        close(evfd);
    close(epfd);
    epfd = evfd = -1;
    return e;
}

static int ep_add(int fd, uint64_t key)
{
    struct epoll_event ev = {
        .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
        .data.u64 = key,
    };
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : -errno;
}

static int ep_del(int fd)
{
    struct epoll_event ev = {0};
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev) == 0 ? 0 : -errno;
}

static void drain_break(void)
{
    uint64_t v;
    while (read(evfd, &v, sizeof v) > 0) {
    }
    atomic_store_explicit(&break_pending, 0, memory_order_release);
}

static uint32_t modes_of(uint32_t events)
{
    uint32_t m = 0;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        m |= GORT__NP_READ;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        m |= GORT__NP_WRITE;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        m |= GORT__NP_HUP;
    return m;
}

/* epoll_pwait2 (Linux 5.11) takes nanoseconds: a 1 ms sleep then lasts
 * ~1 ms, not the 2 ms that epoll_wait's rounding to whole milliseconds
 * gives. Older kernels fall back to epoll_wait. */
static _Atomic int no_pwait2;

static int wait_ns(struct epoll_event *ev, int max, int64_t timeout_ns)
{
    if (!atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
        struct timespec ts = {.tv_sec = timeout_ns / 1000000000,
                              .tv_nsec = timeout_ns % 1000000000};
        int n = epoll_pwait2(epfd, ev, max, timeout_ns < 0 ? NULL : &ts, NULL);
        if (n >= 0 || errno != ENOSYS)
            return n;
        atomic_store(&no_pwait2, 1);
    }
    int ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000);
    return epoll_wait(epfd, ev, max, ms);
}

static int ep_wait(int64_t timeout_ns, struct gort__np_event *out, int max,
                   bool owner)
{
    struct epoll_event ev[BATCH];
    if (max > BATCH)
        max = BATCH;
    int n = wait_ns(ev, max, timeout_ns);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (ev[i].data.u64 == BREAK_KEY) {
            /* Only the blocking poller drains: a break is meant to wake it
             * (to re-read the next timer), and the eventfd is
             * level-triggered, so another poller leaving it keeps it set. */
            if (owner)
                drain_break();
            continue;
        }
        out[k].key = ev[i].data.u64;
        out[k].modes = modes_of(ev[i].events);
        k++;
    }
    return k;
}

static void ep_break(void)
{
    int zero = 0;
    if (!atomic_compare_exchange_strong(&break_pending, &zero, 1))
        return;
    uint64_t one = 1;
    ssize_t r = write(evfd, &one, sizeof one);
    (void)r; /* EAGAIN means a break is pending already: fine */
}

const struct gort__np_backend gort__np_epoll = {
    .name = "epoll",
    .init = ep_init,
    .add = ep_add,
    .del = ep_del,
    .wait = ep_wait,
    .brk = ep_break,
};
