/* dial.c — gort_dial_tcp: resolve a host name, then connect to its
 * addresses one after the other under one deadline (Go's net.Dialer with
 * dialSerial).
 *
 * Why in libgort and not in gortd: dialing is mechanism, not HTTP. A plugin
 * that talks to Redis or memcached needs it as much as the HTTP client
 * does, and getaddrinfo carries no policy of ours: it reads nsswitch.conf,
 * /etc/hosts and resolv.conf as every program on the host does (Go's cgo
 * resolver makes the same call).
 *
 * Resolution. getaddrinfo blocks its thread, for as long as the resolver
 * likes (resolv.conf's timeout x attempts: 10 s by default), and cannot be
 * interrupted. So the lookup runs on a goroutine of its own inside
 * gort_blocking (sysmon hands that thread's P to another thread, so a slow
 * resolver never holds a P), and the caller waits for it on an eventfd
 * with the deadline, parking as with any I/O. A caller whose deadline
 * passes returns -ETIMEDOUT at once; the lookup finishes in the background
 * and whichever of the two lets go last frees it (a reference count).
 * Numeric addresses ("127.0.0.1", "::1") skip all that: getaddrinfo with
 * AI_NUMERICHOST answers without I/O. There is no cache: getaddrinfo gives
 * no TTL, and nscd or systemd-resolved, where a host runs one, cache with
 * the TTLs.
 *
 * Connecting. Each address in getaddrinfo's order (RFC 6724 sorting, as
 * Go's dialSerial takes them), with a share of the time left: the remaining
 * time over the addresses remaining, but at least 2 s (Go's
 * partialDeadline), so one black-holed address cannot eat the whole
 * deadline and an unreachable family (no IPv6 route) fails fast and the
 * next is tried. Happy Eyeballs (RFC 8305) is not done: "localhost" on ::1
 * refused falls back to 127.0.0.1 in microseconds; a remote dual-stack host
 * with a broken IPv6 path waits for its share. The connected socket has
 * TCP_NODELAY, as Go sets by default: requests are written whole.
 */
#include <errno.h>
#include <stdbool.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "gort/net.h"
#include "runtime.h"

#define DIAL_MIN_SHARE_NS 2000000000LL /* Go's saneMinimum */

/* A lookup shared by the caller and the goroutine that runs getaddrinfo. */
struct lookup {
    _Atomic int refs; /* the caller and the resolver goroutine */
    _Atomic int done; /* release: rc, sys_errno and res are written */
    int efd;          /* written once when the lookup is done */
    int rc;           /* getaddrinfo's result */
    int sys_errno;    /* errno after EAI_SYSTEM */
    struct addrinfo *res;
    char *host, *port; /* copies: the caller may be gone */
};

static void lookup_unref(struct lookup *lk)
{
    if (atomic_fetch_sub_explicit(&lk->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (lk->res)
        freeaddrinfo(lk->res);
    gort_close(lk->efd);
    free(lk->host);
    free(lk->port);
    free(lk);
}

static const struct addrinfo stream_hints = {.ai_family = AF_UNSPEC,
                                             .ai_socktype = SOCK_STREAM};

static void getaddrinfo_call(void *arg)
{
    struct lookup *lk = arg;
    lk->rc = getaddrinfo(lk->host, lk->port, &stream_hints, &lk->res);
    lk->sys_errno = errno;
}

static void resolver(void *arg)
{
    struct lookup *lk = arg;
    uint64_t one = 1;
    gort_blocking(getaddrinfo_call, lk);
    /* The eventfd wakes the caller; `done` is the ordering (the kernel's is
     * invisible to the thread sanitizer). A write of 1 never blocks. */
    atomic_store_explicit(&lk->done, 1, memory_order_release);
    if (write(lk->efd, &one, sizeof one) < 0)
        gort__throw("gort_dial_tcp", "eventfd write failed");
    lookup_unref(lk);
}

static int lookup_error(int rc, int sys_errno)
{
    switch (rc) {
    case 0:
        return 0;
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
        return -ENXIO; /* no such host */
    case EAI_AGAIN:
    case EAI_FAIL:
        return -EHOSTUNREACH; /* the resolver failed */
    case EAI_MEMORY:
        return -ENOMEM;
    case EAI_SYSTEM:
        return sys_errno ? -sys_errno : -EIO;
    default:
        return -EINVAL; /* EAI_SERVICE, EAI_FAMILY, ... */
    }
}

/* Takes what the resolver goroutine left once the eventfd fired. */
static int lookup_wait(gort_ctx *ctx, struct lookup *lk, int64_t deadline_ns,
                       struct addrinfo **res)
{
    uint64_t v;
    if (deadline_ns)
        gort_set_deadline(lk->efd, GORT_IO_READ, deadline_ns);
    ssize_t n = gort_read_ctx(ctx, lk->efd, &v, sizeof v);
    if (n < 0)
        return (int)n;
    if (!atomic_load_explicit(&lk->done, memory_order_acquire))
        return -EIO; /* cannot happen: only the resolver writes efd */
    int rc = lookup_error(lk->rc, lk->sys_errno);
    if (rc == 0) {
        *res = lk->res;
        lk->res = NULL;
    }
    return rc;
}

static int resolve_slow(gort_ctx *ctx, const char *host, const char *port,
                        int64_t deadline_ns, struct addrinfo **res)
{
    struct lookup *lk = calloc(1, sizeof *lk);
    if (!lk)
        return -ENOMEM;
    lk->host = strdup(host);
    lk->port = strdup(port);
    lk->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    int rc = !lk->host || !lk->port ? -ENOMEM : lk->efd < 0 ? -errno : 0;
    bool registered = false;
    if (rc == 0 && (rc = gort_fd_open(lk->efd)) >= 0) {
        registered = true;
        rc = 0;
    }
    atomic_init(&lk->refs, 2);
    if (rc == 0 && gort_go(resolver, lk) < 0)
        rc = -ENOMEM;
    if (rc < 0) {
        if (registered)
            gort_close(lk->efd);
        else if (lk->efd >= 0)
            close(lk->efd);
        free(lk->host);
        free(lk->port);
        free(lk);
        return rc;
    }
    rc = lookup_wait(ctx, lk, deadline_ns, res);
    lookup_unref(lk);
    return rc;
}

/* Addresses of host:port, in the order to try them. */
static int resolve(gort_ctx *ctx, const char *host, const char *port,
                   int64_t deadline_ns, struct addrinfo **res)
{
    struct addrinfo hints = stream_hints;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    int rc = getaddrinfo(host, port, &hints, res);
    if (rc != EAI_NONAME)
        return lookup_error(rc, errno);
    return resolve_slow(ctx, host, port, deadline_ns, res);
}

/* Go's partialDeadline: this attempt's share of the time left. */
static int64_t share_deadline(int64_t deadline_ns, int left)
{
    if (deadline_ns == 0 || left <= 1)
        return deadline_ns;
    int64_t now = gort_nanotime(), share = (deadline_ns - now) / left;
    if (share < DIAL_MIN_SHARE_NS)
        share = DIAL_MIN_SHARE_NS;
    return now + share < deadline_ns ? now + share : deadline_ns;
}

static int dial_one(gort_ctx *ctx, const struct addrinfo *ai,
                    int64_t deadline_ns)
{
    int fd = gort_socket(ai->ai_family, SOCK_STREAM, ai->ai_protocol);
    if (fd < 0)
        return fd;
    if (deadline_ns)
        gort_set_deadline(fd, GORT_IO_WRITE, deadline_ns);
    gort_fd_ctx w;
    int rc = gort_fd_ctx_bind(&w, ctx, fd);
    if (rc == 0)
        rc = gort_connect(fd, ai->ai_addr, ai->ai_addrlen);
    int cerr = gort_fd_ctx_unbind(&w);
    if (cerr && rc < 0)
        rc = cerr;
    if (rc < 0) {
        gort_close(fd);
        return rc;
    }
    gort_set_deadline(fd, GORT_IO_WRITE, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int dial(gort_ctx *ctx, const char *host, const char *port,
                int64_t deadline_ns)
{
    struct addrinfo *res = NULL;
    if (!host || !port || !*host || !*port || deadline_ns < 0)
        return -EINVAL;
    int rc = resolve(ctx, host, port, deadline_ns, &res);
    if (rc < 0)
        return rc;
    int n = 0, first_err = 0;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
        n++;
    rc = -ENXIO;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next, n--) {
        if (deadline_ns && gort_nanotime() >= deadline_ns) {
            rc = -ETIMEDOUT;
            break;
        }
        rc = dial_one(ctx, ai, share_deadline(deadline_ns, n));
        if (rc >= 0 || (rc == gort_ctx_err(ctx) && rc != 0))
            break;
        if (!first_err)
            first_err = rc;
    }
    freeaddrinfo(res);
    if (rc >= 0)
        return rc;
    if (gort_ctx_err(ctx))
        return gort_ctx_err(ctx);
    if (deadline_ns && gort_nanotime() >= deadline_ns)
        return -ETIMEDOUT;
    /* Go reports the first address's error: the likeliest to matter. */
    return first_err ? first_err : rc;
}

int gort_dial_tcp(const char *host, const char *port, int64_t deadline_ns)
{
    return dial(NULL, host, port, deadline_ns);
}

int gort_dial_tcp_ctx(gort_ctx *ctx, const char *host, const char *port)
{
    int64_t d = 0;
    int err = gort_ctx_err(ctx);
    if (err)
        return err;
    gort_ctx_deadline(ctx, &d);
    return dial(ctx, host, port, d);
}
