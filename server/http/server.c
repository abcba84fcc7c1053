/* http/server.c — the listener and the server's bookkeeping: accept loop,
 * connection registry, route-table swaps, graceful shutdown, stats.
 *
 * The accept loop is net/http's Serve: one goroutine parked in accept; each
 * connection gets its own goroutine (conn.c). Temporary accept errors
 * (EMFILE, ENFILE, ENOBUFS, ENOMEM) back off 5 ms, doubling to 1 s, and are
 * logged, as Go does, instead of spinning or exiting. At max_conns, a
 * client just accepted waits for room, and the loop makes it as nginx does
 * (ngx_drain_connections): it closes the connection idle the longest, one
 * per client, since an idle keep-alive connection would otherwise hold its
 * slot for the whole idle timeout while new clients wait. Idle connections
 * sit on a list in the order they went idle (conn.c), so the oldest is its
 * head. With none idle the client waits for a connection to close, and the
 * kernel's backlog holds the ones behind it (one descriptor over the
 * limit, at most).
 *
 * Route tables are swapped RCU-style with two reader counters: a request
 * counts itself in the slot of the generation it read, a swap publishes the
 * new table, flips the generation and waits for the old slot to drain.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gort/net.h"
#include "http/budget.h"
#include "http/internal.h"
#include "log.h"

#define BACKOFF_MIN_NS (5 * 1000 * 1000LL)
#define BACKOFF_MAX_NS (1000 * 1000 * 1000LL)
#define POLL_NS (10 * 1000 * 1000LL)
#define EVICT_WAIT_NS (50 * 1000LL)
/* After the shutdown bound: how long handlers cancelled through their
 * contexts have to answer (they return within microseconds when they
 * honour it; a loaded machine may take a scheduling round or two). */
#define CANCEL_GRACE_NS (1000 * 1000 * 1000LL)

void httpd_config_default(struct httpd_config *c)
{
    /* Whole: a field not named here (route_pin, route_unpin) is zero, not
     * whatever the caller's stack held. */
    *c = (struct httpd_config){
        .read_header_timeout_ns = 10 * 1000000000LL,
        .body_idle_timeout_ns = 60 * 1000000000LL,
        .idle_timeout_ns = 120 * 1000000000LL,
        .write_timeout_ns = 30 * 1000000000LL,
        .shutdown_timeout_ns = 30 * 1000000000LL,
        .max_header_bytes = HTTP_DEFAULT_MAX_HEADER_BYTES,
        .max_uri_bytes = HTTP_DEFAULT_MAX_URI_BYTES,
        .max_body_bytes = 32 << 20,
        .max_conns = 10000,
    };
}

struct httpd_server *httpd_server_new(int lfd, const struct httpd_config *c,
                                      struct mux *mux)
{
    struct httpd_server *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->lis[0] = (struct httpd_listener){.srv = s, .fd = lfd};
    s->nlis = 1;
    if (c)
        s->cfg = *c;
    else
        httpd_config_default(&s->cfg);
    s->base_ctx = gort_ctx_with_cancel(gort_ctx_background());
    if (!s->base_ctx) {
        free(s);
        return NULL;
    }
    atomic_store(&s->mux, mux);
    s->reqstats = http_reqstats_new();
    pthread_mutex_init(&s->swap_lock, NULL);
    pthread_mutex_init(&s->conns_lock, NULL);
    return s;
}

void httpd_server_free(struct httpd_server *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->swap_lock);
    pthread_mutex_destroy(&s->conns_lock);
    gort_ctx_cancel(s->base_ctx);
    gort_ctx_release(s->base_ctx);
    free(s->reqstats);
    free(s);
}

/* ---- connections -------------------------------------------------------- */

static void format_addr(const struct sockaddr_storage *ss, char *out,
                        size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        port = ntohs(a->sin_port);
        snprintf(out, len, "%s:%d", host, port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
        snprintf(out, len, "[%s]:%d", host, port);
    } else {
        snprintf(out, len, "@");
    }
}

static struct http_conn *conn_new(struct httpd_server *s, int fd,
                                  const struct sockaddr_storage *ss,
                                  struct http_tls_server *tls)
{
    struct http_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (tls && !(c->tls = http_tls_accept(tls, fd))) {
        free(c);
        return NULL;
    }
    c->srv = s;
    c->fd = fd;
    format_addr(ss, c->remote, sizeof c->remote);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    pthread_mutex_lock(&s->conns_lock);
    ilist_push_back(&s->conns, &c->link);
    pthread_mutex_unlock(&s->conns_lock);
    atomic_fetch_add(&s->nconns, 1);
    atomic_fetch_add(&s->conns_total, 1);
    return c;
}

void http_conn_close(struct http_conn *c)
{
    struct httpd_server *s = c->srv;
    pthread_mutex_lock(&s->conns_lock);
    ilist_remove(&s->conns, &c->link);
    if (c->idle) { /* its owner takes it off first; never left behind */
        ilist_remove(&s->idle, &c->idle_link);
        atomic_fetch_sub(&s->nidle, 1);
    }
    bool evicted = c->evicted;
    pthread_mutex_unlock(&s->conns_lock);
    http_tls_close(c->tls); /* close_notify, before the descriptor goes */
    gort_close(c->fd);
    http_buf_release(c);
    free(c);
    /* Both at once, under the lock make_room counts with (open = nconns -
     * evicting): an evicted connection that left `evicting` before it left
     * `nconns` looked like a live one, and the next client evicted a
     * second connection for the same room. */
    pthread_mutex_lock(&s->conns_lock);
    if (evicted)
        s->evicting--;
    atomic_fetch_sub(&s->nconns, 1);
    pthread_mutex_unlock(&s->conns_lock);
}

/* ---- accept loop -------------------------------------------------------- */

static bool temporary(int err)
{
    return err == -EMFILE || err == -ENFILE || err == -ENOBUFS ||
           err == -ENOMEM || err == -EAGAIN;
}

enum room { ROOM_NONE, ROOM_EVICTED, ROOM_COMING };

/* At max_conns: closes the connection idle the longest, unless the ones
 * closed before are still on their way out. The close goes through the
 * netpoller: a read deadline in the past starts the connection's pending
 * callback at once, whose read fails, and the connection closes the
 * ordinary way, on its own goroutine (its memory and descriptor have that
 * one owner). Under conns_lock, a listed connection's descriptor is still
 * open, so the deadline cannot reach a reused descriptor number. A request
 * arriving at that very moment is lost with the connection, as with an
 * idle timeout: clients retry a request on a reused connection that closes
 * (RFC 9112, 9.3.1). */
static enum room make_room(struct httpd_server *s)
{
    enum room r = ROOM_NONE;
    pthread_mutex_lock(&s->conns_lock);
    int64_t open = (int64_t)atomic_load(&s->nconns) - s->evicting;
    if (open < s->cfg.max_conns) {
        r = s->evicting > 0 ? ROOM_COMING : ROOM_EVICTED;
    } else if (!ilist_empty(&s->idle)) {
        struct http_conn *c =
            ilist_entry(ilist_pop_front(&s->idle), struct http_conn, idle_link);
        c->idle = false;
        c->evicted = true;
        s->evicting++;
        atomic_fetch_add(&s->evicted, 1);
        atomic_fetch_sub(&s->nidle, 1);
        gort_set_deadline(c->fd, GORT_IO_READ, 1);
        r = ROOM_EVICTED;
    }
    pthread_mutex_unlock(&s->conns_lock);
    return r;
}

/* Holds an accepted client until it may be served: at max_conns, closes
 * idle connections for it or waits for one to close. false when the server
 * shuts down meanwhile. The wait comes after accept, so the loop never
 * closes an idle connection for a client that is not there. */
static bool wait_for_room(struct httpd_server *s)
{
    while ((int)atomic_load(&s->nconns) >= s->cfg.max_conns) {
        if (atomic_load(&s->shutting_down))
            return false;
        switch (make_room(s)) {
        case ROOM_EVICTED: /* its goroutine is runnable: let it close */
            gort_yield();
            break;
        case ROOM_COMING:
            gort_sleep(EVICT_WAIT_NS);
            break;
        case ROOM_NONE:
            gort_sleep(POLL_NS); /* the backlog holds the others */
            break;
        }
    }
    return true;
}

/* Returns false when the listener is gone (closed for shutdown). */
static bool accept_one(struct httpd_server *s, const struct httpd_listener *l,
                       int64_t *backoff)
{
    int lfd = l->fd;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd = gort_accept(lfd, (struct sockaddr *)&ss, &len);
    if (fd < 0) {
        if (!temporary(fd))
            return false;
        *backoff = *backoff ? *backoff * 2 : BACKOFF_MIN_NS;
        if (*backoff > BACKOFF_MAX_NS)
            *backoff = BACKOFF_MAX_NS;
        glog_warn("accept failed", GLOG_STR("err", gort_strerror(fd)),
                  GLOG_DUR("backoff", *backoff));
        gort_sleep(*backoff);
        return true;
    }
    *backoff = 0;
    if (!wait_for_room(s)) {
        gort_close(fd);
        return true;
    }
    struct http_conn *c = conn_new(s, fd, &ss, l->tls);
    /* Handlers run on this goroutine: --handler-stack gives plugins with
     * deep frames room beyond the runtime's default reservation. */
    struct gort_go_opts go = {.stack_size = s->cfg.handler_stack};
    if (!c || gort_go_opts(http_conn_serve, c, &go) < 0) {
        if (c)
            http_conn_close(c);
        else
            gort_close(fd);
    }
    return true;
}

static void listener(void *arg)
{
    struct httpd_listener *l = arg;
    struct httpd_server *s = l->srv;
    gort_set_label("http listener");
    int64_t backoff = 0;
    while (!atomic_load(&s->shutting_down))
        if (!accept_one(s, l, &backoff))
            break;
    atomic_fetch_sub(&s->listeners, 1);
}

int httpd_server_add_listener(struct httpd_server *s, int fd)
{
    if (s->nlis == HTTPD_MAX_LISTENERS)
        return -ENOSPC;
    s->lis[s->nlis++] = (struct httpd_listener){.srv = s, .fd = fd};
    return 0;
}

int httpd_server_add_listener_tls(struct httpd_server *s, int fd,
                                  struct http_tls_server *tls)
{
    for (int i = 0; i < s->nlis; i++) {
        if (s->lis[i].fd == fd) { /* httpd_server_new's socket */
            s->lis[i].tls = tls;
            return 0;
        }
    }
    int rc = httpd_server_add_listener(s, fd);
    if (rc == 0)
        s->lis[s->nlis - 1].tls = tls;
    return rc;
}

/* All listening sockets are registered before any accept runs, so that a
 * failure leaves nothing half started (the caller closes them). */
int httpd_server_start(struct httpd_server *s)
{
    for (int i = 0; i < s->nlis; i++) {
        int rc = gort_fd_open(s->lis[i].fd);
        if (rc < 0)
            return rc;
    }
    for (int i = 0; i < s->nlis; i++) {
        atomic_fetch_add(&s->listeners, 1);
        int64_t id = gort_go(listener, &s->lis[i]);
        if (id < 0) {
            atomic_fetch_sub(&s->listeners, 1);
            return (int)id;
        }
    }
    return 0;
}

/* ---- route tables ------------------------------------------------------- */

static void pause_briefly(void)
{
    if (gort_id())
        gort_sleep(1000000);
    else
        usleep(1000);
}

struct mux *httpd_server_swap_mux(struct httpd_server *s, struct mux *mux)
{
    pthread_mutex_lock(&s->swap_lock);
    struct mux *old = atomic_exchange(&s->mux, mux);
    uint64_t g = atomic_fetch_add(&s->gen, 1);
    pthread_mutex_unlock(&s->swap_lock);
    /* Requests counted in the old slot may still use old; new ones count in
     * the other slot and load the new table. The other slot is waited for
     * too: with two swaps in flight, a reader of old may be counted there
     * (readers only match there, so each slot empties within microseconds). */
    while (atomic_load(&s->readers[g & 1]) != 0)
        pause_briefly();
    while (atomic_load(&s->readers[(g + 1) & 1]) != 0)
        pause_briefly();
    return old;
}

/* ---- shutdown ----------------------------------------------------------- */

/* Idle connections have no goroutine: shutting down their read side makes
 * them readable, the netpoller starts their goroutine, it reads EOF and
 * closes the connection the ordinary way. */
static void wake_idle(struct httpd_server *s)
{
    pthread_mutex_lock(&s->conns_lock);
    struct http_conn *c;
    ilist_for_each_entry(c, &s->conns, link)
        if (c->idle)
            gort_shutdown(c->fd, SHUT_RD);
    pthread_mutex_unlock(&s->conns_lock);
}

/* Waits until every connection has closed and every listener ended, or
 * until ns have passed (no bound when ns <= 0): true when they did. */
static bool drained_within(struct httpd_server *s, int64_t ns)
{
    int64_t start = gort_nanotime();
    while (atomic_load(&s->nconns) > 0 || atomic_load(&s->listeners) != 0) {
        wake_idle(s);
        if (ns > 0 && gort_nanotime() - start >= ns)
            return false;
        gort_sleep(POLL_NS);
    }
    return true;
}

/* At the bound, the handlers still running are told through their request
 * contexts (every one derives from base_ctx), and those that honour it are
 * given CANCEL_GRACE_NS to answer and have their connections closed: a
 * cancel the process exits under would reach no handler, the client would
 * see a reset instead of the handler's answer, and the access log would
 * miss the request. Handlers that ignore their context stay cut. */
int httpd_server_shutdown(struct httpd_server *s)
{
    atomic_store(&s->shutting_down, 1);
    for (int i = 0; i < s->nlis; i++)
        gort_close(s->lis[i].fd); /* wakes its listener parked in accept */
    /* A bound of 0 is none, as for every gortd timeout and as Go's
     * Shutdown under a context without a deadline: every request is
     * waited for (a second signal still exits at once). */
    if (drained_within(s, s->cfg.shutdown_timeout_ns))
        return 0;
    gort_ctx_cancel(s->base_ctx);
    return drained_within(s, CANCEL_GRACE_NS) ? -ECANCELED : -ETIMEDOUT;
}

void httpd_server_stats(struct httpd_server *s, struct httpd_stats *o)
{
    o->conns_open = atomic_load(&s->nconns);
    o->conns_idle = atomic_load(&s->nidle);
    o->conns_total = atomic_load(&s->conns_total);
    o->conns_evicted = atomic_load(&s->evicted);
    o->in_flight = atomic_load(&s->in_flight);
    o->requests = atomic_load(&s->requests);
    for (int i = 0; i < 6; i++)
        o->by_class[i] = atomic_load(&s->by_class[i]);
    o->bad_requests = atomic_load(&s->bad_requests);
    const struct http_budget *b = s->cfg.budget;
    if (b) {
        int64_t used = atomic_load_explicit(&b->used, memory_order_relaxed);
        o->buffer_bytes = used > 0 ? (uint64_t)used : 0;
        o->buffer_limit = (uint64_t)b->limit;
        o->buffer_refused =
            atomic_load_explicit(&b->denied, memory_order_relaxed);
    }
    http_reqstats_read(s->reqstats, o);
}

/* ---- listening ---------------------------------------------------------- */

/* Splits "host:port" / "[v6]:port" / ":port". */
static int split_addr(const char *addr, char *host, size_t hlen, char *port,
                      size_t plen)
{
    const char *colon = strrchr(addr, ':');
    if (!colon || !colon[1])
        return -1;
    size_t n = (size_t)(colon - addr);
    if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']') {
        addr++;
        n -= 2;
    }
    if (n >= hlen || strlen(colon + 1) >= plen)
        return -1;
    memcpy(host, addr, n);
    host[n] = '\0';
    strcpy(port, colon + 1);
    return 0;
}

/* A numeric port must be one (getaddrinfo would take 99999 modulo
 * 65536); a name must be a TCP service /etc/services knows ("http"), as
 * Go's net.Listen resolves one too. */
static bool port_ok(const char *port)
{
    size_t n = strspn(port, "0123456789");
    if (port[n] != '\0')
        return n == 0 && getservbyname(port, "tcp") != NULL;
    return n <= 5 && atol(port) <= 65535;
}

int httpd_listen_addr_check(const char *addr, char *err, size_t errlen)
{
    char host[256], port[32];
    if (split_addr(addr, host, sizeof host, port, sizeof port) != 0) {
        snprintf(err, errlen,
                 "invalid listen address \"%s\": want HOST:PORT or :PORT",
                 addr);
        return -EINVAL;
    }
    if (!port_ok(port)) {
        snprintf(err, errlen,
                 "invalid port \"%s\": want 0 to 65535 or a service name",
                 port);
        return -EINVAL;
    }
    return 0;
}

int httpd_listen(const char *addr, int backlog, char *err, size_t errlen)
{
    return httpd_listen_opts(addr, backlog, 0, err, errlen);
}

int httpd_listen_opts(const char *addr, int backlog, int opts, char *err,
                      size_t errlen)
{
    char host[256], port[32];
    int rc = httpd_listen_addr_check(addr, err, errlen);
    if (rc < 0)
        return rc;
    split_addr(addr, host, sizeof host, port, sizeof port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *res;
    int gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "listen %s: %s", addr, gai_strerror(gai));
        return -EINVAL;
    }
    int fd = -1, e = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            e = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if ((opts & HTTPD_LISTEN_REUSEPORT) &&
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
            e = errno;
            close(fd);
            fd = -1;
            continue;
        }
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
            listen(fd, backlog) != 0) {
            e = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "listen tcp %s: %s", addr, strerror(e));
        return -e;
    }
    return fd;
}

int httpd_local_addr(int fd, char *out, size_t n)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN];
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -errno;
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        snprintf(out, n, "[%s]:%u", host, ntohs(a->sin6_port));
    } else {
        const struct sockaddr_in *a = (const void *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        snprintf(out, n, "%s:%u", host, ntohs(a->sin_port));
    }
    return 0;
}
