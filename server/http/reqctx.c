/* http/reqctx.c — a request's context (gort_http_request_ctx): cancelled
 * when the client goes away, when the handler returns, or when gortd's
 * shutdown bound passes.
 *
 * The client going away. net/http notices it with a background read: once
 * the handler has consumed the body, a goroutine reads the connection, and
 * EOF or an error cancels the request's context (a byte of a pipelined
 * next request is kept and stops the watch). Here the same watch costs no
 * stack while nothing happens: it is a gort_fd_on_readable callback, which
 * the netpoller starts when the connection turns readable; the socket is
 * registered for EPOLLRDHUP, so a FIN or an RST is such an event. The
 * callback peeks (MSG_PEEK: a pipelined request stays in the kernel for
 * the connection's own reader) and cancels on EOF or an error.
 *
 * The watch only starts when the handler asks for the context (a handler
 * that never does pays nothing) and only once the body is read to its
 * end: before that, the handler's own body reads see the close. When the
 * handler returns, the connection's goroutine withdraws the callback if
 * it is still parked (gort_fd_cancel_readable: no goroutine is made);
 * when it is running already, the stop moves the read deadline into the
 * past (which ends its wait at once), waits for it to finish, and clears
 * the deadline: from then on the connection's reads are its own again.
 *
 * Shutdown: every request context derives from its server's base context,
 * which httpd_server_shutdown cancels when its bound passes; it then gives
 * the handlers a second to answer before gortd exits (server.c).
 */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#include "gort/net.h"
#include "http/internal.h"

/* Over TLS the bytes peeked may be the client's close_notify alert rather
 * than a request: its FIN behind them says it went away. */
static bool peer_shut(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static void watch_run(void *arg)
{
    struct http_reqwatch *wt = arg;
    while (!atomic_load(&wt->stopping)) {
        char b;
        ssize_t n = recv(wt->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            gort_ctx_cancel(wt->ctx); /* the client went away */
            break;
        }
        if (n > 0 && !(wt->tls && peer_shut(wt->fd)))
            break; /* a pipelined request: net/http stops watching too */
        if (n > 0) {
            gort_ctx_cancel(wt->ctx); /* TLS: close_notify, then FIN */
            break;
        }
        /* Stale readiness: wait for the next event (the stop's deadline
         * included, which makes this start again at once). */
        if (gort_fd_on_readable(wt->fd, watch_run, wt) == 0)
            return;
        break;
    }
    gort_wg_done(&wt->wg);
}

/* Starts the watch when the context exists and the body is consumed. */
void http_reqctx_body_done(struct gort_http_request *r)
{
    struct http_reqwatch *wt = &r->watch;
    if (!r->ctx || wt->armed || !r->body_done || r->body_err)
        return;
    wt->fd = r->c->fd;
    wt->tls = r->c->tls != NULL;
    wt->ctx = r->ctx;
    atomic_store(&wt->stopping, 0);
    gort_waitgroup init = GORT_WAITGROUP_INIT;
    wt->wg = init;
    /* The header timeout's read deadline would end the watch early: no
     * read of this request is left for it to bound. */
    gort_set_deadline(wt->fd, GORT_IO_READ, 0);
    gort_wg_add(&wt->wg, 1);
    if (gort_fd_on_readable(wt->fd, watch_run, wt) != 0) {
        gort_wg_done(&wt->wg);
        return;
    }
    wt->armed = true;
}

gort_ctx *gort_http_request_ctx(gort_http_request *r)
{
    if (r->ctx)
        return r->ctx;
    r->ctx = gort_ctx_with_cancel(r->c->srv->base_ctx);
    if (!r->ctx)
        return gort_ctx_background(); /* out of memory: never done */
    http_reqctx_body_done(r);
    return r->ctx;
}

void http_reqctx_end(struct gort_http_request *r)
{
    struct http_reqwatch *wt = &r->watch;
    if (wt->armed) {
        atomic_store(&wt->stopping, 1);
        if (gort_fd_cancel_readable(wt->fd) == 1) {
            gort_wg_done(&wt->wg); /* still parked: it never runs */
        } else {
            gort_set_deadline(wt->fd, GORT_IO_READ, 1);
            gort_wg_wait(&wt->wg);
            gort_set_deadline(wt->fd, GORT_IO_READ, 0);
        }
        wt->armed = false;
    }
    if (r->ctx) {
        gort_ctx_cancel(r->ctx);
        gort_ctx_release(r->ctx);
        r->ctx = NULL;
    }
}
