/* netpoll.h — the netpoller and the contract of its OS backend.
 *
 * Every backend (netpoll_epoll.c, netpoll_uring.c) implements the five
 * functions of struct gort__np_backend; netpoll.c holds everything above
 * them (poll descriptors, parking,
 * deadlines, the poller thread), after Go's netpoll.go.
 */
#ifndef GORT_NETPOLL_H
#define GORT_NETPOLL_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime.h"

#define GORT__NP_READ 1u
#define GORT__NP_WRITE 2u
#define GORT__NP_HUP 4u /* the peer shut down its side, or an error */

struct gort__np_event {
    uint64_t key;   /* what was passed to np_add */
    uint32_t modes; /* GORT__NP_READ | GORT__NP_WRITE (errors wake both),
                       | GORT__NP_HUP */
};

/* An OS backend: one file each (netpoll_epoll.c, netpoll_uring.c), chosen
 * once when the netpoller starts (gort_netpoll_use, GORTNETPOLL). */
struct gort__np_backend {
    const char *name;
    /* Creates the poller (and its wake-up channel) for descriptors below
     * maxfd. 0 or negative errno. */
    int (*init)(int maxfd);
    /* Registers fd once, edge-triggered, for read and write. */
    int (*add)(int fd, uint64_t key);
    /* Unregisters fd; the descriptor is closed right after. */
    int (*del)(int fd);
    /* Waits up to timeout_ns (-1 forever, 0 poll) for at most max events.
     * owner: the caller is the thread brk wakes (it consumes breaks);
     * other pollers must leave breaks pending. */
    int (*wait)(int64_t timeout_ns, struct gort__np_event *ev, int max,
                bool owner);
    /* Makes a blocked wait return early; cheap when one is pending. */
    void (*brk)(void);
};
extern const struct gort__np_backend gort__np_epoll;
extern const struct gort__np_backend gort__np_uring;

/* netpoll.c */
int gort__netpoll_start(void);
bool gort__netpoll_active(void);
void gort__netpoll_break(void);
struct gort__g;
enum gort__np_who {
    GORT__NP_BLOCKING, /* the one M that sleeps in the kernel */
    GORT__NP_IDLE_M,   /* an M out of work, not blocking */
    GORT__NP_SYSMON,   /* sysmon, when nobody polled for 10 ms */
};
/* Polls (blocking up to timeout_ns only for GORT__NP_BLOCKING) and returns
 * the goroutines made runnable, linked through schedlink and not yet
 * queued, and their count. */
int gort__netpoll(int64_t timeout_ns, enum gort__np_who who,
                  struct gort__g **list);
/* Non-blocking poll from an idle M holding a P: returns a goroutine to run
 * and queues the other ready ones on p. NULL when nothing is ready. */
struct gort__g *gort__netpoll_poll_idle(void);

struct gort__netpoll_stats {
    uint64_t wakeups_thread; /* readied by the M blocked in the poller or
                                by sysmon */
    uint64_t wakeups_idle;   /* goroutines readied by an idle M's poll */
    uint64_t waiting;        /* goroutines parked in IO wait */
    uint64_t pending;        /* gort_fd_on_readable callbacks waiting */
    uint64_t deferred;       /* callbacks whose goroutine could not be made
                                at once (out of memory), retried later */
};
void gort__netpoll_stats(struct gort__netpoll_stats *s);

/* A pending gort_fd_on_readable callback, copied out of its descriptor:
 * the goroutine-to-be the dump lists in IO wait (stats.c). */
struct gort__np_pending {
    struct gort__g_origin origin; /* the id it will run with, registrant */
    gort_fn fn;                   /* where it will begin */
    int64_t since;                /* coarse clock at registration */
    char label[GORT__LABEL_MAX];  /* the registrant's label then */
};
/* Calls fn with a copy of each pending callback, made under its
 * descriptor's lock and passed without it (fn may take any lock). Stops at
 * the first non-zero return and returns it; 0 after the last. */
int gort__netpoll_pending_each(int (*fn)(const struct gort__np_pending *cb,
                                         void *arg),
                               void *arg);

#endif /* GORT_NETPOLL_H */
