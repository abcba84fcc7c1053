/* http/transport.c — the byte stream under a server connection: the socket
 * itself, or TLS over it (tls.c) for a connection accepted on a
 * --listen-tls socket. conn.c, request.c and response.c read and write a
 * connection only through these three functions, so that the branch
 * between the two lives here and nowhere else.
 *
 * A TLS failure is logged here (the connection's peer is known here, tls.c
 * knows none), and a plain HTTP request sent to the TLS port gets the
 * answer Go's net/http gives it before the connection closes.
 */
#include <errno.h>

#include "gort/net.h"
#include "http/internal.h"
#include "log.h"

/* net/http's words, byte for byte (server.go, serve). */
static const char plaintext_answer[] =
    "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an "
    "HTTPS server.\n";

/* Reads what the client has sent already (the rest of its request), as
 * Go's first buffered read has: a close with unread bytes would send a
 * reset, which may destroy the answer before the client reads it. */
static void drain(int fd)
{
    char junk[4096];
    for (int i = 0; i < 16; i++)
        if (gort_read_nowait(fd, junk, sizeof junk) <= 0)
            break;
}

static void tls_failed(struct http_conn *c)
{
    if (http_tls_plaintext(c->tls)) {
        gort_write(c->fd, plaintext_answer, sizeof plaintext_answer - 1);
        drain(c->fd);
        return;
    }
    if (!c->srv->cfg.quiet) /* the client's failure, as a refused request */
        glog_info(c->nreq ? "TLS error" : "TLS handshake error",
                  GLOG_STR("peer", c->remote),
                  GLOG_STR("err", http_tls_reason(c->tls)));
}

ssize_t http_conn_recv(struct http_conn *c, void *buf, size_t n, bool wait)
{
    if (!c->tls)
        return wait ? gort_read(c->fd, buf, n)
                    : gort_read_nowait(c->fd, buf, n);
    ssize_t r = http_tls_read(c->tls, buf, n, wait);
    if (r == -EPROTO)
        tls_failed(c);
    else if (r == -ETIMEDOUT && !http_tls_established(c->tls) &&
             !c->srv->cfg.quiet) /* a client stalled in its handshake */
        glog_info("TLS handshake error", GLOG_STR("peer", c->remote),
                  GLOG_STR("err", "i/o timeout"));
    return r;
}

/* --write-timeout bounds each write, as nginx's send_timeout, not the
 * whole response from the request on, as Go's WriteTimeout: a client that
 * stops reading is cut, a handler that thinks long (a proxied upstream
 * taking 31 s) is not, where Go's bound dropped its answer unsent. */
ssize_t http_conn_sendv(struct http_conn *c, const struct iovec *iov, int n)
{
    int64_t wt = c->srv->cfg.write_timeout_ns;
    if (wt > 0)
        gort_set_deadline(c->fd, GORT_IO_WRITE, gort_nanotime_coarse() + wt);
    if (!c->tls)
        return gort_writev(c->fd, iov, n);
    return http_tls_writev(c->tls, iov, n);
}

bool http_conn_pending(const struct http_conn *c)
{
    return c->tls && http_tls_pending(c->tls);
}
