/* http/conn.c — one connection: read a request head, dispatch it through
 * the mux, write the response, loop for keep-alive and pipelining.
 *
 * net/http runs one goroutine per connection for the connection's whole
 * life, parked in Read while the client thinks; that costs Go ~16 KB per
 * idle keep-alive connection (a goroutine stack plus bufio buffers). Here a
 * connection with nothing buffered gives both up: it frees its read buffer,
 * arms the idle deadline and asks the netpoller to start a fresh goroutine
 * when the next request's first byte arrives (gort_fd_on_readable), then
 * its goroutine exits. An idle connection is this struct and a poll
 * descriptor, a few hundred bytes.
 *
 * Pipelined requests already in the buffer are served in order by the same
 * goroutine before it goes idle, so responses can never overtake each other.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gort/net.h"
#include "http/budget.h"
#include "gort/stats.h"
#include "http/escape.h"
#include "http/internal.h"
#include "log.h"

/* ---- reading ------------------------------------------------------------ */

/* Makes room at the end of the buffer: compacts, then grows up to limit. */
static int make_room(struct http_conn *c, size_t limit)
{
    if (c->off > 0 && c->off == c->len) {
        c->off = c->len = 0;
    } else if (c->off > 0 && c->len == c->cap) {
        memmove(c->buf, c->buf + c->off, c->len - c->off);
        c->len -= c->off;
        c->off = 0;
    }
    if (c->buf && c->len < c->cap)
        return 0;
    size_t cap = c->cap ? c->cap * 2 : HTTP_READ_CHUNK;
    if (cap > limit)
        cap = limit;
    if (cap <= c->cap)
        return -ENOBUFS;
    return http_buf_grow(c, cap); /* -ENOMEM past the buffer budget too */
}

/* Reads more bytes into the buffer: > 0 read, 0 EOF, < 0 error. */
static int read_into(struct http_conn *c, bool wait)
{
    size_t limit = c->srv->cfg.max_header_bytes + HTTP_READ_CHUNK;
    int rc = make_room(c, limit);
    if (rc < 0)
        return rc;
    char *at = c->buf + c->len;
    size_t room = c->cap - c->len;
    ssize_t n = http_conn_recv(c, at, room, wait); /* plain or TLS */
    if (n > 0)
        c->len += (size_t)n;
    return (int)n;
}

int http_conn_read_more(struct http_conn *c)
{
    return read_into(c, true);
}

enum head_result { HEAD_OK = 0, HEAD_EOF = -1, HEAD_GONE = -2 };

/* Reads until a whole head is buffered. Returns its length, HEAD_EOF when
 * the client closed between requests, HEAD_GONE on a read error or timeout,
 * or a negative HTTP status (-400, -431, ...) from the parser. */
static int read_head(struct http_conn *c, struct http_req_head *h)
{
    struct httpd_limits lim = {
        .max_header_bytes = c->srv->cfg.max_header_bytes,
        .max_uri_bytes = c->srv->cfg.max_uri_bytes,
    };
    size_t scanned = 0;
    bool deadline_set = false;
    int64_t rt = c->srv->cfg.read_timeout_ns,
            ht = c->srv->cfg.read_header_timeout_ns;
    /* Go's ReadTimeout runs from here to the body's end (request.c). */
    c->req_deadline = rt > 0 ? gort_nanotime_coarse() + rt : 0;
    if (ht <= 0 || (rt > 0 && rt < ht))
        ht = rt;
    for (;;) {
        if (c->len > c->off) {
            int rc = http_parse_request_resume(c->buf + c->off, c->len - c->off,
                                               &lim, h, &scanned);
            if (rc != 0)
                return rc;
        }
        /* net/http's rule: a new connection's head is timed from accept; on
         * a kept-alive one the idle timeout runs until the next request's
         * first byte, then the head is timed from there. (A goroutine may
         * start here with nothing to read: the netpoller's readiness was
         * stale; the idle deadline still stands.) */
        if (!deadline_set && ht > 0 && (c->nreq == 0 || c->len > c->off)) {
            gort_set_deadline(c->fd, GORT_IO_READ, gort_nanotime_coarse() + ht);
            deadline_set = true;
        }
        bool had = c->len > c->off;
        /* Shutting down: the requests already read are answered (their
         * bytes are here); nothing more is read. */
        if (c->nreq > 0 && atomic_load(&c->srv->shutting_down))
            return HEAD_EOF;
        int n = http_conn_read_more(c);
        if (n == -ENOBUFS)
            return -431;
        if (n == -ENOMEM)
            return -503; /* the buffer budget (http/budget.c) or malloc */
        if (n == 0 && !had)
            return HEAD_EOF;
        if (n == -ETIMEDOUT && had)
            return -408;
        if (n <= 0)
            return n == 0 ? -400 : HEAD_GONE; /* EOF inside a head */
    }
}

/* ---- dispatch ----------------------------------------------------------- */

static void count_status(struct httpd_server *s, int status)
{
    int cls = status / 100;
    if (cls >= 1 && cls <= 5)
        atomic_fetch_add_explicit(&s->by_class[cls], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->requests, 1, memory_order_relaxed);
}

/* The parser refused the head: answer with its status and close (RFC 9112
 * leaves the framing of the rest unknown). why: net/http's words for the
 * fault, or NULL. Go puts them after the reason, in the status line and
 * the body ("400 Bad Request: missing required Host header"), except for
 * a transfer coding it lacks, where they are the whole body of a plain
 * 501. */
static void refuse(struct http_conn *c, int status, const char *why)
{
    char body[128];
    const char *text = gort_http_status_text(status);
    bool detail = why && status != 501;
    if (why && !detail)
        snprintf(body, sizeof body, "%s", why);
    else
        snprintf(body, sizeof body, "%d %s%s%s", status, text,
                 detail ? ": " : "", detail ? why : "");
    if (!c->srv->cfg.quiet) /* the client's mistake: -quiet hides it */
        glog_info("request refused", GLOG_STR("peer", c->remote),
                  GLOG_INT("status", status),
                  GLOG_STR("reason", why ? why : text));
    atomic_fetch_add_explicit(&c->srv->bad_requests, 1, memory_order_relaxed);
    count_status(c->srv, status);
    http_simple_response(c, status, detail ? why : NULL, NULL, body, true);
    http_request_refused(c, status);
    /* Too large: the rest of it may still be on its way. */
    c->linger = status == 413 || status == 414 || status == 431;
}

/* Reads the current route table and marks this request as its user. */
/* Counts this request in the slot of the current generation. The recheck
 * matters: a reader that read gen, then lost the CPU until a swap had
 * already found that slot empty, would otherwise count itself in a slot
 * nobody waits on any more. */
static struct mux *mux_enter(struct httpd_server *s, uint64_t *slot)
{
    for (;;) {
        uint64_t g = atomic_load(&s->gen);
        atomic_fetch_add(&s->readers[g & 1], 1);
        if (atomic_load(&s->gen) == g) {
            *slot = g & 1;
            return atomic_load(&s->mux);
        }
        atomic_fetch_sub(&s->readers[g & 1], 1);
    }
}

static void mux_exit(struct httpd_server *s, uint64_t slot)
{
    atomic_fetch_sub(&s->readers[slot], 1);
}

/* Nests: a wrapper (the plugin trampoline) that calls a handler through
 * this gets control back after an abort and the outer call sees a normal
 * return with w->aborted set. */
bool http_call(gort_http_response *w, gort_http_request *r, gort_http_handler h,
               void *arg)
{
    jmp_buf jb, *prev = w->abort_jb;
    w->abort_jb = &jb;
    if (setjmp(jb) == 0)
        h(w, r, arg);
    w->abort_jb = prev;
    return !w->aborted;
}

bool http_call_trapped(gort_http_response *w, gort_http_request *r,
                       gort_http_handler h, void *arg,
                       struct gort_fault_trap *t)
{
    jmp_buf *prev = w->abort_jb;
    t->sig = 0;
    if (setjmp(t->jb) == 0) {
        gort_fault_trap_set(t);
        bool ok = http_call(w, r, h, arg);
        gort_fault_trap_set(t->prev);
        return ok;
    }
    /* The fault skipped http_call's return: its abort point is gone. */
    w->abort_jb = prev;
    w->aborted = true;
    return false;
}

/* The strings a 200 match points to inside the route table: the pattern,
 * the wildcards' names. */
static size_t match_strings(struct mux_match *m, const char ***strs)
{
    size_t n = 0;
    strs[n++] = &m->pattern;
    for (size_t i = 0; i < m->nvalues; i++)
        strs[n++] = &m->values[i].name;
    return n;
}

/* Copies those strings into buf (or a malloc'ed block, returned in *heap
 * for the caller to free when buf is too small), so that the request lets
 * go of the table as soon as it is matched: a table swap then waits for
 * matching only, never for a handler. false when out of memory. */
static bool match_detach(struct mux_match *m, char *buf, size_t len,
                         char **heap)
{
    const char **strs[1 + MUX_MAX_VALUES];
    size_t n = match_strings(m, strs), need = 0, used = 0;
    for (size_t i = 0; i < n; i++)
        need += strlen(*strs[i]) + 1;
    if (need > len && !(buf = *heap = malloc(need)))
        return false;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(*strs[i]) + 1;
        memcpy(buf + used, *strs[i], l);
        *strs[i] = buf + used;
        used += l;
    }
    return true;
}

/* Matches the request and, for a routed one, detaches the match from the
 * table and pins the route's owner: all inside the table's reader section,
 * which ends here. Returns the status. */
static int route(struct httpd_server *s, const struct mux_request *mr,
                 struct mux_match *m, char *mbuf, size_t blen, char *names,
                 size_t nameslen, char **heap)
{
    uint64_t slot;
    struct mux *mux = mux_enter(s, &slot);
    int st = mux_match(mux, mr, m, mbuf, blen);
    if (st == 200 && !match_detach(m, names, nameslen, heap))
        st = 500;
    if (st == 200 && m->owner && s->cfg.route_pin)
        s->cfg.route_pin(m->owner);
    mux_exit(s, slot);
    return st;
}

static void run_handler(struct httpd_server *s, gort_http_response *w,
                        gort_http_request *r, struct mux_match *m)
{
    atomic_fetch_add_explicit(&s->in_flight, 1, memory_order_relaxed);
    http_call(w, r, (gort_http_handler)m->handler, m->arg);
    /* Before the unpin: a deferred call may be the plugin's code. */
    http_request_run_defers(r);
    atomic_fetch_sub_explicit(&s->in_flight, 1, memory_order_relaxed);
    if (m->owner && s->cfg.route_unpin)
        s->cfg.route_unpin(m->owner);
}

/* The mux's 301, as Go's http.Redirect writes it, with the Location
 * percent-encoded and the body's link HTML-escaped (http/escape.c). */
static int redirect(gort_http_response *w, const char *location,
                    const gort_http_request *r)
{
    size_t n = strlen(location);
    char small[1024], *loc = small;
    if (5 * n + 1 > sizeof small && !(loc = malloc(5 * n + 1))) {
        gort_http_error(w, "Internal Server Error", 500);
        return 500;
    }
    http_location_escape(location, loc, 5 * n + 1);
    gort_http_set_header(w, "Location", loc);
    gort_http_set_header(w, "Content-Type", "text/html; charset=utf-8");
    gort_http_write_header(w, 301);
    if (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0) {
        char *html = malloc(5 * strlen(loc) + 1);
        if (html) {
            http_html_escape(loc, html, 5 * strlen(loc) + 1);
            gort_http_printf(w, "<a href=\"%s\">Moved Permanently</a>.\n\n",
                             html);
            free(html);
        }
    }
    if (loc != small)
        free(loc);
    return 301;
}

/* Writes the answer of a request the mux did not route (redirect, 404,
 * 405, OPTIONS *). Returns the status. */
static int answer_unrouted(gort_http_response *w, struct mux_match *m,
                           const gort_http_request *r)
{
    if (strcmp(r->method, "OPTIONS") == 0 && strcmp(r->target, "*") == 0) {
        gort_http_set_header(w, "Content-Length", "0");
        gort_http_write_header(w, 200);
        return 200;
    }
    switch (m->status) {
    case 301:
        return redirect(w, m->location, r);
    case 405:
        gort_http_set_header(w, "Allow", m->allow);
        gort_http_error(w, "Method Not Allowed", 405);
        return 405;
    case 414:
        gort_http_error(w, "Request URI Too Long", 414);
        return 414;
    default:
        gort_http_error(w, "404 page not found", 404);
        return 404;
    }
}

/* 0 is no limit, for Content-Length as for chunked bodies (parse.c). */
static bool body_too_large(const struct http_conn *c,
                           const struct http_req_head *h)
{
    int64_t max = c->srv->cfg.max_body_bytes;
    return max > 0 && h->content_length > max;
}

/* Shutting down, a response says "Connection: close" unless another
 * request is already buffered behind this one (and will be answered): bytes
 * past a Content-Length body. After a chunked body nobody knows yet; the
 * connection then closes after the response without having said so, as
 * after any response a server may. */
static bool more_buffered(const struct http_conn *c,
                          const struct http_req_head *h)
{
    int64_t after = (int64_t)(c->len - c->off);
    return !h->chunked &&
           after > (h->content_length > 0 ? h->content_length : 0);
}

/* Serves one parsed request; returns true when the connection stays open. */
static bool serve_request(struct http_conn *c, struct http_req_head *h,
                          size_t headlen)
{
    struct httpd_server *s = c->srv;
    int64_t start = gort_nanotime();
    _Alignas(void *) char small[2048];
    gort_http_request r;
    c->off += headlen;
    if (http_request_init(&r, c, h, small, sizeof small) < 0) {
        refuse(c, 503, NULL); /* the buffer budget (http/budget.c), malloc */
        return false;
    }
    bool pipelined = more_buffered(c, h);
    bool keep = h->keep_alive && (!atomic_load(&s->shutting_down) || pipelined);
    /* On the goroutine's stack: stacks are reused hot (LIFO per P), and a
     * malloc/free of 8 KiB per request showed in profiles. */
    gort_http_response wbuf, *w = &wbuf;
    http_response_init(w, c, &r, strcmp(r.method, "HEAD") == 0, !keep);
    w->pipelined = pipelined;
    int status = 0;
    if (h->expect_unsupported)
        status = 417;
    else if (body_too_large(c, h))
        status = 413;
    if (status) {
        w->close_after = true; /* the body was not read: framing unknown */
        gort_http_error(w, gort_http_status_text(status), status);
    } else {
        struct mux_match m;
        size_t blen = MUX_BUF_LEN(h->path.len, h->query.len);
        char mbuf_small[1024], names[256], *names_heap = NULL;
        char *mbuf = blen <= sizeof mbuf_small ? mbuf_small : malloc(blen);
        struct mux_request mr = {
            .method = r.method,
            .method_len = strlen(r.method),
            .host = r.host,
            .host_len = strlen(r.host),
            .path = h->path.ptr,
            .path_len = h->path.len,
            .query = h->query.ptr,
            .query_len = h->query.len,
        };
        int st = mbuf ? route(s, &mr, &m, mbuf, blen, names, sizeof names,
                              &names_heap)
                      : 500;
        if (st == 200) {
            r.match = &m;
            run_handler(s, w, &r, &m);
        } else if (st == 500) {
            gort_http_error(w, "Internal Server Error", 500);
        } else {
            answer_unrouted(w, &m, &r);
        }
        free(names_heap);
        if (mbuf != mbuf_small)
            free(mbuf);
    }
    if (w->aborted && w->wrote_header) {
        w->close_after = true; /* half a response is out: cut it */
        w->failed = true;
    } else if (w->aborted) {
        http_response_release(w);
        http_response_init(w, c, &r, w->head_only, true);
        gort_http_error(w, "Internal Server Error", 500);
    }
    /* The handler is done: its context ends (and the client-close watch
     * stops) before the response's last bytes go, as Go cancels the
     * context before finishRequest. After them, the client's next request
     * could wake the watch first, which then paid a goroutine start and a
     * peek for nothing. */
    http_reqctx_end(&r);
    int rc = w->failed ? -ECONNRESET : http_response_finish(w);
    count_status(s, w->status ? w->status : 200);
    http_request_done(c, &r, w, headlen, start);
    http_response_release(w);
    keep = keep && rc == 0 && !w->close_after && http_request_drain(&r);
    /* A body left unread may still be on its way (a client that lost the
     * connection has nothing more to send). */
    c->linger = !keep && !r.body_done && r.body_err != -ECONNRESET;
    http_request_free(&r, small);
    c->nreq++;
    return keep;
}

/* ---- life of a connection ----------------------------------------------- */

void http_conn_close(struct http_conn *c);

/* Takes c off the idle list, where it is until its goroutine knows a
 * request has come. false when the server closed it to make room
 * (server.c, make_room): the connection must close, now. */
static bool leave_idle(struct http_conn *c)
{
    struct httpd_server *s = c->srv;
    pthread_mutex_lock(&s->conns_lock);
    if (c->idle) {
        c->idle = false;
        ilist_remove(&s->idle, &c->idle_link);
        atomic_fetch_sub(&s->nidle, 1);
    }
    bool evicted = c->evicted;
    pthread_mutex_unlock(&s->conns_lock);
    return !evicted;
}

/* Without the lock: a connection evicted meanwhile finds its read
 * deadline past, and leave_idle says so. */
static bool is_idle(struct http_conn *c)
{
    return atomic_load_explicit(&c->idle, memory_order_relaxed);
}

/* Gives up the goroutine and the buffer until the next byte arrives.
 * Returns false when the connection must close instead. */
static bool wait_readable(struct http_conn *c)
{
    http_buf_release(c);
    if (gort_fd_on_readable(c->fd, http_conn_serve, c) == 0)
        return true;
    leave_idle(c);
    return false;
}

/* A request is done and nothing is buffered: the connection goes idle, the
 * newest on the idle list (the last one a full server closes). */
static bool go_idle(struct http_conn *c)
{
    struct httpd_server *s = c->srv;
    int64_t idle = s->cfg.idle_timeout_ns;
    gort_set_deadline(c->fd, GORT_IO_READ,
                      idle > 0 ? gort_nanotime_coarse() + idle : 0);
    gort_set_deadline(c->fd, GORT_IO_WRITE, 0);
    pthread_mutex_lock(&s->conns_lock);
    c->idle = true;
    ilist_push_back(&s->idle, &c->idle_link);
    atomic_fetch_add(&s->nidle, 1);
    pthread_mutex_unlock(&s->conns_lock);
    return wait_readable(c);
}

/* Lingering close (nginx's lingering_close, Go's closeWriteAndWait). A
 * close(2) with unread bytes in the socket sends a reset, not a FIN (RFC
 * 2525 §2.17), and a reset can make the client's kernel discard the
 * response it has not read yet (RFC 9112 §9.6): so a connection the
 * client may still be sending on (a body left unread, a head too large)
 * first sends its FIN, then reads and drops what still comes until the
 * client closes, LINGER_IDLE_NS pass without a byte (Go waits 500 ms),
 * LINGER_MAX_NS in all (nginx's lingering_time is 30 s; the goroutine
 * holds a connection slot meanwhile) or shutdown begins. Over TLS the
 * close_notify goes first, while the write side is still open. */
#define LINGER_IDLE_NS (500 * 1000 * 1000LL)
#define LINGER_MAX_NS (5 * 1000 * 1000 * 1000LL)

static void linger(struct http_conn *c)
{
    char sink[4096];
    http_tls_close(c->tls);
    c->tls = NULL;
    if (shutdown(c->fd, SHUT_WR) != 0)
        return;
    int64_t start = gort_nanotime();
    for (;;) {
        int64_t now = gort_nanotime();
        if (now - start >= LINGER_MAX_NS || atomic_load(&c->srv->shutting_down))
            return;
        int64_t left = LINGER_MAX_NS - (now - start);
        int64_t wait = left < LINGER_IDLE_NS ? left : LINGER_IDLE_NS;
        gort_set_deadline(c->fd, GORT_IO_READ, now + wait);
        if (gort_read(c->fd, sink, sizeof sink) <= 0)
            return;
    }
}

/* The end of a connection its goroutine closes after serving. */
static void conn_end(struct http_conn *c)
{
    if (c->linger)
        linger(c);
    http_conn_close(c);
}

static void label_conn(struct http_conn *c)
{
    static const char prefix[] = "http conn from ";
    char label[sizeof prefix + sizeof c->remote];
    memcpy(label, prefix, sizeof prefix - 1);
    strcpy(label + sizeof prefix - 1, c->remote); /* remote is NUL-bounded */
    gort_set_label(label);
}

void http_conn_serve(void *arg)
{
    struct http_conn *c = arg;
    struct httpd_server *s = c->srv;
    /* Started for readiness that may be stale (an edge the previous
     * goroutine's read already consumed): look without parking, and when
     * nothing is there wait again, still idle and in its place on the idle
     * list (a graceful shutdown closes only connections that look idle, and
     * a full server the ones idle the longest). */
    if (is_idle(c) && !atomic_load(&s->shutting_down)) {
        int n = read_into(c, false);
        if (n == -EAGAIN) {
            label_conn(c); /* a dump shows the callback with this label */
            if (!wait_readable(c))
                http_conn_close(c);
            return;
        }
        if (n <= 0 && n != -ETIMEDOUT) {
            leave_idle(c);
            http_conn_close(c); /* EOF or an error between requests */
            return;
        }
    }
    if (!leave_idle(c)) {
        http_conn_close(c);
        return;
    }
    label_conn(c);
    struct http_req_head head, *h = &head;
    head.why = NULL; /* a refusal before the parser ran names no fault */
    for (;;) {
        int rc = read_head(c, h);
        if (rc == HEAD_EOF || rc == HEAD_GONE)
            break;
        if (rc < 0) {
            if (rc != -408 || c->len > c->off)
                refuse(c, -rc, h->why);
            break;
        }
        if (!serve_request(c, h, (size_t)rc))
            break;
        if (c->len > c->off || http_conn_pending(c))
            continue; /* pipelined: serve the next one now, in order */
        if (!atomic_load(&s->shutting_down) && go_idle(c))
            return;
        break;
    }
    conn_end(c);
}
