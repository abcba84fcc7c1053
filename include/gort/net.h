/* net.h — non-blocking I/O for goroutines over the runtime's netpoller.
 *
 * Descriptors are plain ints. A descriptor is made non-blocking and
 * registered with the netpoller once (gort_fd_open, or implicitly by
 * gort_socket/gort_accept); from then on a read, write, accept or connect
 * that would block parks the calling goroutine in "IO wait" instead of the
 * thread, and the netpoller makes it runnable again when the kernel reports
 * readiness. Errors are negative errno values:
 *   -ETIMEDOUT  the operation's deadline passed
 *   -EBADF      the descriptor was closed with gort_close (also wakes every
 *               goroutine blocked on it)
 * Called outside a goroutine, these functions block the thread (poll(2)).
 */
#ifndef GORT_NET_H
#define GORT_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "gort/gort.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Makes fd non-blocking and registers it. Returns fd or a negative error. */
GORT_API int gort_fd_open(int fd);

/* socket(2) + gort_fd_open, close-on-exec. */
GORT_API int gort_socket(int domain, int type, int protocol);

/* Accepts one connection, already registered. Parks while none is pending. */
GORT_API int gort_accept(int fd, struct sockaddr *addr, socklen_t *addrlen);

/* Connects, parking until the handshake completes. 0 or negative error. */
GORT_API int gort_connect(int fd, const struct sockaddr *addr,
                          socklen_t addrlen);

/* Reads at most n bytes: > 0 bytes read, 0 end of file, < 0 error. */
GORT_API ssize_t gort_read(int fd, void *buf, size_t n);

/* gort_read without parking: -EAGAIN when nothing is there to read now.
 * For a gort_fd_on_readable callback, whose wake-up may be stale (the
 * readiness it was started for can have been consumed already). */
GORT_API ssize_t gort_read_nowait(int fd, void *buf, size_t n);

/* Writes all n bytes (parking as needed) and returns n, or fails with a
 * negative error (bytes already written are lost to the caller, as with
 * Go's Write returning an error). */
GORT_API ssize_t gort_write(int fd, const void *buf, size_t n);

/* gort_write for iovcnt buffers (at most GORT_IOV_MAX) in as few writev(2)
 * calls as the socket takes: returns their total length, or a negative
 * error (-EINVAL for too many buffers). The write deadline holds as for
 * gort_write. */
#define GORT_IOV_MAX 16
GORT_API ssize_t gort_writev(int fd, const struct iovec *iov, int iovcnt);

/* shutdown(2) on a registered descriptor (how: SHUT_RD, SHUT_WR,
 * SHUT_RDWR), through its poll descriptor: -EBADF once gort_close ran, so
 * it never reaches another descriptor that reused the number. 0 or a
 * negative error. */
GORT_API int gort_shutdown(int fd, int how);

/* Unregisters, wakes every goroutine waiting on fd with -EBADF, closes. */
GORT_API int gort_close(int fd);

/* Deadlines: absolute gort_nanotime() values; 0 clears. A deadline in the
 * past makes pending and future operations fail with -ETIMEDOUT until it is
 * moved. */
enum gort_io_mode { GORT_IO_READ = 1, GORT_IO_WRITE = 2, GORT_IO_BOTH = 3 };
GORT_API int gort_set_deadline(int fd, int mode, int64_t deadline_ns);

/* Holds no goroutine and no stack: when fd becomes readable (or is already), is
 * closed, or its read deadline passes, runs fn(arg) on a new goroutine,
 * once. This is how an idle keep-alive connection costs no stack: its
 * goroutine exits and the netpoller starts a fresh one for the next
 * request. While it waits it is a goroutine without a stack: it has its
 * id already (fn's goroutine runs with it, gort_id()) and dumps list it in
 * "IO wait" with the caller's label. Returns 0, -EBUSY when a goroutine or
 * callback already waits on the read side, -EBADF when fd is not
 * registered or closed. */
GORT_API int gort_fd_on_readable(int fd, gort_fn fn, void *arg);

/* Withdraws the callback gort_fd_on_readable left waiting on fd, if it has
 * not started: 1 when withdrawn (fn will not run), 0 when none was waiting
 * (it started, ran, or was never set), -EBADF when fd is not registered.
 * Stopping a watch this way costs no goroutine; when it returns 0 the
 * callback may be running, and the caller must still wait for it. */
GORT_API int gort_fd_cancel_readable(int fd);

/* Whether the netpoller knows fd's read side is empty with nothing
 * announced since: the last read found the stream socket empty and no
 * readiness edge (bytes, end of file, a reset) has come after it. 1: quiet;
 * 0: something may be there, or it cannot tell (ask the kernel, e.g. a
 * recv with MSG_PEEK). No system call: for a pooled idle connection about
 * to be reused, where a byte nobody asked for would be read as the next
 * answer. */
GORT_API int gort_fd_quiet(int fd);

/* The netpoller's kernel interface, chosen before it starts (the first
 * descriptor registered starts it): "epoll" (the default) or "io_uring".
 * 0, -EINVAL for another name, -EBUSY once the netpoller runs. Without a
 * call the environment variable GORTNETPOLL chooses. Where the kernel
 * refuses io_uring (old kernels, seccomp in containers,
 * kernel.io_uring_disabled) the netpoller starts on epoll instead. */
GORT_API int gort_netpoll_use(const char *name);

/* The interface the netpoller runs on, "epoll" or "io_uring" (starting it
 * if needed; NULL if it cannot start), and in *refused (when not NULL) the
 * error io_uring was refused with if it was asked for, else 0. */
GORT_API const char *gort_netpoll_backend(int *refused);

/* ---- dialing ------------------------------------------------------------ */

/* Go's net.DialTimeout("tcp", host:port): resolves host (a name, through
 * getaddrinfo on a goroutine inside gort_blocking, so a slow resolver never
 * holds a P; or an IPv4/IPv6 literal, without I/O), then connects to each
 * address in turn until one answers, each with a share of the time left
 * (Go's dialSerial). port is a number or a service name ("http").
 * deadline_ns is an absolute gort_nanotime() (0: none) and bounds the
 * lookup too. Returns a connected, registered, TCP_NODELAY descriptor (the
 * caller owns it: gort_close), or:
 *   -ENXIO         no such host
 *   -EHOSTUNREACH  the resolver failed (EAI_AGAIN, EAI_FAIL)
 *   -ETIMEDOUT     the deadline passed
 *   -ECONNREFUSED, -ENETUNREACH, ...  the first address's connect error
 *   -EINVAL        empty host or port, or an unknown service name */
GORT_API int gort_dial_tcp(const char *host, const char *port,
                           int64_t deadline_ns);

/* ---- contexts ------------------------------------------------------------
 *
 * Blocking I/O that gives up when a context (gort.h) is done. A context's
 * cancellation or deadline moves the descriptor's deadlines into the past
 * (both directions), so the waiting call and every later one on fd fail
 * until the deadline is set again: a descriptor whose I/O was cancelled is
 * for closing, as Go's net/http does with a connection after an aborted
 * request. These calls return the context's error (GORT_ECANCELED or
 * GORT_EDEADLINE) when it ended the call, else what gort_read/gort_write
 * return. */
GORT_API ssize_t gort_read_ctx(gort_ctx *ctx, int fd, void *buf, size_t n);
GORT_API ssize_t gort_write_ctx(gort_ctx *ctx, int fd, const void *buf,
                                size_t n);

/* The mechanism under them, for a sequence of calls on one descriptor:
 * between bind and unbind, ctx's end cuts fd's I/O short as above. bind
 * returns 0, or the context's error when it is already done (nothing is
 * bound then; unbind is still allowed). unbind returns 0 when the context
 * did not fire while bound, else its error; once it returns the context
 * will not touch fd (a cancellation running at that moment has finished).
 * w is the caller's storage, typically on its stack. */
typedef struct gort_fd_ctx {
    uintptr_t opaque_[6];
} gort_fd_ctx;
GORT_API int gort_fd_ctx_bind(gort_fd_ctx *w, gort_ctx *ctx, int fd);
GORT_API int gort_fd_ctx_unbind(gort_fd_ctx *w);
/* gort_set_deadline for a bound descriptor: a plain one could move the
 * deadline a cancellation has just put in the past, and the next wait
 * would ignore the cancellation; this one keeps it in the past once the
 * context is done. */
GORT_API int gort_fd_ctx_set_deadline(gort_fd_ctx *w, int mode,
                                      int64_t deadline_ns);

/* gort_dial_tcp bounded by ctx: its deadline (if any) is the dial's, and
 * its cancellation ends the lookup wait or the connect at once with
 * GORT_ECANCELED (GORT_EDEADLINE when its deadline passed). */
GORT_API int gort_dial_tcp_ctx(gort_ctx *ctx, const char *host,
                               const char *port);

/* ---- blocking calls ----------------------------------------------------- */

/* Around a call that may block the thread (Go's entersyscall/exitsyscall):
 * while inside, the runtime may hand this goroutine's P to another thread
 * so that other goroutines keep running. */
GORT_API void gort_syscall_enter(void);
GORT_API void gort_syscall_exit(void);

/* gort_syscall_enter(); fn(arg); gort_syscall_exit(); */
GORT_API void gort_blocking(gort_fn fn, void *arg);

#ifdef __cplusplus
}
#endif

#endif /* GORT_NET_H */
