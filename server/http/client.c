/* http/client.c — net/http's Client and Transport for plugins: requests to
 * other HTTP/1.1 services over a per-host keep-alive pool.
 *
 * A call. gort_http_do takes a connection (an idle one of the pool, else a
 * new one from gort_dial_tcp), writes the head (and a small buffer body)
 * in one write, streams a larger or a reader body (chunked when its length
 * is unknown), then reads the response head with http_parse_response and
 * hands the connection to the response. gort_http_cresp_read streams the
 * body out of the connection (Content-Length, chunked through parse.c's
 * decoder, or until the server closes). gort_http_cresp_close gives the
 * connection back to the pool when the body was read to its end and both
 * sides allowed keep-alive, and closes it otherwise: a connection with
 * unread bytes in it cannot carry the next response.
 *
 * Threading. Every byte moves through libgort's netpoll calls (gort_read,
 * gort_write, gort_connect) under gort_set_deadline, so a waiting call
 * parks its goroutine, never a thread; name lookups run inside
 * gort_blocking (runtime/dial.c). One client serves any number of
 * goroutines: the pool is the only shared state, under a pthread mutex
 * that is never held across a park or a syscall (a close happens after the
 * unlock), so it is safe from any thread and costs no goroutine switch.
 * A connection belongs to one goroutine at a time (the one whose request
 * or response holds it) or to the pool.
 *
 * The pool, after Go's Transport: per host:port a stack of idle
 * connections, newest on top (the most recent is the likeliest still open
 * at the server, and it lets the older ones time out), plus one list of
 * every idle connection, oldest first, that enforces max_idle (the oldest
 * goes) and idle_timeout (expired ones are closed whenever the pool is
 * touched). A connection over max_idle_per_host is closed instead of kept.
 *
 * Stale connections. A server may close an idle connection at any time
 * (its own idle timeout), and a broken one may send bytes nobody asked
 * for (a body after a 204 or a HEAD's head): read as the next request's
 * answer, they would go to another client. Go notices both at once: a
 * goroutine per connection reads it. Here no goroutine watches an idle
 * connection: a callback on its descriptor (gort_fd_on_readable) would
 * count as a goroutine of the plugin that made the call, so unloading the
 * plugin would wait up to idle_timeout for it, and libgort has no way to
 * withdraw one when the connection is taken for a request. Nor is every
 * reuse checked with a syscall (a recv MSG_PEEK per proxied request cost
 * proxy.so a third of its CPU per request against nginx). The netpoller
 * knows without one: every byte and every end of file raises a readiness
 * edge, so a connection whose last read found it empty and that has seen
 * no edge since is quiet (gort_fd_quiet). Only one that is not is looked
 * at (recv MSG_PEEK | MSG_DONTWAIT: no wait, nothing consumed), and one
 * that is readable (EOF, a reset, or stray bytes) is closed and the next
 * one tried. A connection the server dropped keeps its descriptor until
 * the pool is next touched or the client is freed; max_idle bounds that.
 *
 * https. A new connection to an https URL does its TLS handshake (tls.c:
 * SNI, the certificate checked against the system's CAs or
 * opts.tls_ca_file, and the URL's host) within the dial's deadline; from
 * then on its bytes go through conn_read/conn_write, and the pool keys it
 * apart from plain connections to the same host:port.
 *
 * The retry rule, Go's: the server can still close a connection between
 * that check and the request's arrival. A request on a reused connection
 * that fails before any byte of a response arrived (a write error, or
 * EOF/reset while waiting for the status line; never a timeout) is sent
 * once more, on a new connection, when sending it twice is harmless: a
 * GET, HEAD, OPTIONS or TRACE, or a request with an Idempotency-Key or
 * X-Idempotency-Key field, whose body is absent or a buffer (a reader's
 * bytes are gone). A fresh connection is never retried: its failure is the
 * server's answer.
 *
 * Timeouts, as Go's: dial_timeout bounds the lookup and the connect;
 * response_header_timeout runs from the request's last byte to the
 * response head's end; timeout (Client.Timeout) and the request's own
 * deadline bound the whole call, body reads included. The earliest one
 * applicable is the descriptor's deadline at each step; any of them gives
 * -ETIMEDOUT.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "gort/net.h"
#include "http/client.h"
#include "http/internal.h"

#define SEC 1000000000LL

/* ---- errors -------------------------------------------------------------- */

static int creq_fail(gort_http_creq *rq, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records why the request failed; returns err. */
static int creq_fail(gort_http_creq *rq, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rq->errmsg, sizeof rq->errmsg, fmt, ap);
    va_end(ap);
    return err;
}

/* Go's words for an I/O error, where they differ from strerror's. */
static const char *io_text(int err)
{
    switch (err) {
    case -ETIMEDOUT:
        return "i/o timeout";
    case 0:
        return "EOF";
    default:
        return gort_strerror(err);
    }
}

/* ---- the client and its pool --------------------------------------------- */

static int64_t pick(int64_t v, int64_t def)
{
    return v == 0 ? def : v < 0 ? -1 : v;
}

gort_http_client *gort_http_client_new(const struct gort_http_client_opts *o)
{
    struct gort_http_client_opts z = {0};
    gort_http_client *c;

    if (!o)
        o = &z;
    if ((c = calloc(1, sizeof *c)) == NULL)
        return NULL;
    c->o.max_idle_per_host = (int)pick(o->max_idle_per_host, 2);
    c->o.max_idle = (int)pick(o->max_idle, 100);
    c->o.idle_timeout = pick(o->idle_timeout, 90 * SEC);
    c->o.dial_timeout = pick(o->dial_timeout, 30 * SEC);
    c->o.response_header_timeout = pick(o->response_header_timeout, -1);
    c->o.timeout = pick(o->timeout, -1);
    if (o->tls_ca_file && !(c->o.tls_ca_file = strdup(o->tls_ca_file))) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

static void conn_close(struct hc_conn *cn)
{
    if (!cn)
        return;
    http_tls_close(cn->tls);
    gort_close(cn->fd);
    free(cn->buf);
    free(cn->head);
    free(cn->key);
    free(cn);
}

static void close_list(struct hc_conn *list)
{
    while (list) {
        struct hc_conn *next = list->lnext;
        conn_close(list);
        list = next;
    }
}

/* Under lock: takes cn out of its host's stack and the client's list; the
 * host entry goes when it has no connection left. */
static void pool_unlink(gort_http_client *c, struct hc_conn *cn)
{
    struct hc_host *h = cn->host;

    if (cn->hprev)
        cn->hprev->hnext = cn->hnext;
    else
        h->top = cn->hnext;
    if (cn->hnext)
        cn->hnext->hprev = cn->hprev;
    if (cn->lprev)
        cn->lprev->lnext = cn->lnext;
    else
        c->oldest = cn->lnext;
    if (cn->lnext)
        cn->lnext->lprev = cn->lprev;
    else
        c->newest = cn->lprev;
    cn->hprev = cn->hnext = cn->lprev = cn->lnext = NULL;
    cn->host = NULL;
    c->nidle--;
    if (--h->nidle == 0) {
        struct hc_host **pp = &c->hosts;
        while (*pp != h)
            pp = &(*pp)->next;
        *pp = h->next;
        free(h);
    }
}

/* Under lock: moves the expired idle connections, and the oldest beyond
 * max_idle, onto *dead, to close after the unlock. */
static void pool_reap(gort_http_client *c, int64_t now, struct hc_conn **dead)
{
    while (c->oldest && ((c->o.max_idle >= 0 && c->nidle > c->o.max_idle) ||
                         (c->o.idle_timeout > 0 &&
                          now - c->oldest->idle_since >= c->o.idle_timeout))) {
        struct hc_conn *cn = c->oldest;
        pool_unlink(c, cn);
        cn->lnext = *dead;
        *dead = cn;
    }
}

static struct hc_host *host_find(gort_http_client *c, const char *key)
{
    for (struct hc_host *h = c->hosts; h; h = h->next)
        if (strcmp(h->key, key) == 0)
            return h;
    return NULL;
}

/* Under lock: the newest idle connection to key, taken out of the pool. */
static struct hc_conn *pool_take(gort_http_client *c, const char *key)
{
    struct hc_host *h = host_find(c, key);
    struct hc_conn *cn = h ? h->top : NULL;

    if (cn)
        pool_unlink(c, cn);
    return cn;
}

/* A silent connection is usable; one with something to read (EOF, a
 * reset, stray bytes) was closed or broken by the server while idle. The
 * netpoller's word first (no system call); then the kernel's. Over TLS
 * the socket may hold records that are no answer (TLS 1.3 session
 * tickets): a non-parking read through TLS consumes those and sees the
 * rest (a byte read there is a byte nobody asked for: stale too). */
static bool conn_stale(struct hc_conn *cn)
{
    char b;
    if (gort_fd_quiet(cn->fd) && !(cn->tls && http_tls_pending(cn->tls)))
        return false;
    if (cn->tls)
        return http_tls_read(cn->tls, &b, 1, false) != -EAGAIN;
    ssize_t n = recv(cn->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

/* An idle connection to key that still looks open (conn_stale), or NULL. */
static struct hc_conn *pool_get(gort_http_client *c, const char *key)
{
    for (;;) {
        struct hc_conn *dead = NULL, *cn;
        pthread_mutex_lock(&c->lock);
        pool_reap(c, gort_nanotime_coarse(), &dead);
        cn = pool_take(c, key);
        pthread_mutex_unlock(&c->lock);
        close_list(dead);
        if (!cn || !conn_stale(cn))
            return cn;
        conn_close(cn);
    }
}

/* Under lock: pushes cn on key's stack. false when the host has its
 * max_idle_per_host already (Go's errTooManyIdleHost) or out of memory. */
static bool pool_push(gort_http_client *c, const char *key, struct hc_conn *cn)
{
    struct hc_host *h = host_find(c, key);

    if (!h) {
        size_t n = strlen(key) + 1;
        if ((h = calloc(1, sizeof *h + n)) == NULL)
            return false;
        memcpy(h->key, key, n);
        h->next = c->hosts;
        c->hosts = h;
    }
    if (h->nidle >= c->o.max_idle_per_host)
        return false; /* h has connections: it stays */
    cn->host = h;
    cn->hnext = h->top;
    if (h->top)
        h->top->hprev = cn;
    h->top = cn;
    h->nidle++;
    cn->lprev = c->newest;
    if (c->newest)
        c->newest->lnext = cn;
    else
        c->oldest = cn;
    c->newest = cn;
    c->nidle++;
    return true;
}

/* Gives a connection whose response was read to its end back to the pool,
 * or closes it. */
static void pool_put(gort_http_client *c, struct hc_conn *cn)
{
    struct hc_conn *dead = NULL;
    bool kept = false;

    if (c->o.max_idle_per_host > 0) {
        /* The read buffer stays for the next response unless a big head or
         * chunk grew it: reallocating it on every reuse was a large share
         * of the client's allocations, and the pool's bounds (max idle per
         * host and in all) bound what idle connections hold. */
        if (cn->cap > HC_READ_CHUNK) {
            free(cn->buf);
            cn->buf = NULL;
            cn->cap = 0;
        }
        cn->len = cn->off = 0;
        gort_set_deadline(cn->fd, GORT_IO_BOTH, 0);
        cn->idle_since = gort_nanotime_coarse(); /* seconds matter here */
        pthread_mutex_lock(&c->lock);
        kept = pool_push(c, cn->key, cn);
        pool_reap(c, cn->idle_since, &dead);
        pthread_mutex_unlock(&c->lock);
    }
    if (!kept)
        conn_close(cn);
    close_list(dead);
}

void gort_http_client_close_idle(gort_http_client *c)
{
    struct hc_conn *dead = NULL;

    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    while (c->oldest) {
        struct hc_conn *cn = c->oldest;
        pool_unlink(c, cn);
        cn->lnext = dead;
        dead = cn;
    }
    pthread_mutex_unlock(&c->lock);
    close_list(dead);
}

void gort_http_client_free(gort_http_client *c)
{
    if (!c)
        return;
    gort_http_client_close_idle(c);
    http_tls_client_free(c->tls);
    pthread_mutex_destroy(&c->lock);
    free((char *)c->o.tls_ca_file);
    free(c);
}

/* ---- requests ------------------------------------------------------------ */

/* A token; *len its length. */
static bool is_token(const char *s, size_t *len)
{
    return (*len = http_token_len(s)) > 0;
}

/* name (nl bytes) is s, ignoring case: lengths first. */
static bool name_is(const char *name, size_t nl, const char *s, size_t sl)
{
    return nl == sl && strcasecmp(name, s) == 0;
}

/* The decimal digits of v into buf (room for 11). */
static void put_uint(char *buf, unsigned v)
{
    char t[12];
    size_t n = 0;
    do
        t[n++] = (char)('0' + v % 10);
    while ((v /= 10) > 0);
    for (size_t i = 0; i < n; i++)
        buf[i] = t[n - 1 - i];
    buf[n] = '\0';
}

/* The pool key and the dial strings from the parsed URL, written after
 * the URL in the request's strs (creq_new sized it for them). */
static void creq_target(gort_http_creq *rq)
{
    const struct http_url *u = &rq->u;
    size_t hl = u->host.len;
    size_t pre = u->tls ? 6 : 0; /* "https:" */

    put_uint(rq->port, u->port);
    rq->dial_host = rq->url + strlen(rq->url) + 1;
    memcpy(rq->dial_host, u->host.ptr, hl);
    rq->dial_host[hl] = '\0';
    rq->key = rq->dial_host + hl + 1;
    memcpy(rq->key, "https:", pre);
    for (size_t i = 0; i < hl; i++)
        rq->key[pre + i] = (char)tolower((unsigned char)u->host.ptr[i]);
    rq->key[pre + hl] = ':';
    strcpy(rq->key + pre + hl + 1, rq->port);
}

/* One allocation holds the request, its method and URL, the dial host
 * and pool key made from the URL (each shorter than the URL), and the
 * first HC_FSTR_INLINE bytes of its fields' strings: a second malloc and
 * free per request for a proxy's few fields showed in its profile. */
gort_http_creq *gort_http_creq_new(const char *method, const char *url)
{
    const char *why = NULL;
    size_t ml, mlen = strlen(method ? method : "");
    size_t ul = strlen(url ? url : "");
    /* method, url, dial host (<= url), "https:" key ":" port */
    size_t strs = mlen + 1 + ul + 1 + ul + 1 + 6 + ul + 1 + 8;
    gort_http_creq *rq = malloc(sizeof *rq + strs + HC_FSTR_INLINE);
    int rc;

    if (!rq)
        return NULL;
    memset(rq, 0, sizeof *rq);
    rq->fields = rq->ifields;
    rq->capfields = HC_INLINE_FIELDS;
    rq->fstr = rq->strs + strs;
    rq->fstr_cap = HC_FSTR_INLINE;
    rq->fstr_inline = true;
    rq->method = rq->strs;
    memcpy(rq->method, method ? method : "", mlen + 1);
    rq->url = rq->method + mlen + 1;
    memcpy(rq->url, url ? url : "", ul + 1);
    if (!is_token(rq->method, &ml)) {
        rq->err = creq_fail(rq, -EINVAL, "invalid method \"%.64s\"", method);
    } else if ((rc = http_url_parse(rq->url, &rq->u, &why)) < 0) {
        rq->err = creq_fail(rq, rc, "parse \"%.96s\": %s", url, why);
    } else {
        creq_target(rq);
    }
    return rq;
}

void gort_http_creq_free(gort_http_creq *rq)
{
    if (!rq)
        return;
    if (rq->fields != rq->ifields)
        free(rq->fields);
    if (!rq->fstr_inline)
        free(rq->fstr);
    gort_ctx_release(rq->ctx);
    free(rq);
}

static const char *fname(const gort_http_creq *rq, size_t i)
{
    return rq->fstr + rq->fields[i].name;
}

static const char *fvalue(const gort_http_creq *rq, size_t i)
{
    return rq->fstr + rq->fields[i].value;
}

/* Fields the client writes itself (framing and the connection's fate). */
static bool field_reserved(const char *name, size_t nl, const char *value)
{
    if (name_is(name, nl, "content-length", 14) ||
        name_is(name, nl, "transfer-encoding", 17))
        return true;
    return name_is(name, nl, "connection", 10) &&
           strcasecmp(value, "close") != 0;
}

/* A value with no CR or LF; *len: its length (the same scan). */
static bool value_ok(const char *v, size_t *len)
{
    *len = strcspn(v, "\r\n"); /* libc's scan: wide steps */
    return v[*len] == '\0';
}

static void fields_del(gort_http_creq *rq, const char *name, size_t nl)
{
    size_t j = 0;
    for (size_t i = 0; i < rq->nfields; i++)
        if (!name_is(fname(rq, i), rq->fields[i].nlen, name, nl))
            rq->fields[j++] = rq->fields[i];
    rq->nfields = j;
}

/* Room for one more field in the array: the inline ones, then a heap
 * array doubled as it fills. */
static int fields_room(gort_http_creq *rq)
{
    if (rq->nfields < rq->capfields)
        return 0;
    size_t cap = rq->capfields * 2;
    struct hc_field *f = malloc(cap * sizeof *f);
    if (!f)
        return -ENOMEM;
    memcpy(f, rq->fields, rq->nfields * sizeof *f);
    if (rq->fields != rq->ifields)
        free(rq->fields);
    rq->fields = f;
    rq->capfields = cap;
    return 0;
}

/* Copies n bytes (a NUL-terminated string) into fstr; its offset, or -1
 * out of memory (or past what an offset holds). */
static int64_t fstr_put(gort_http_creq *rq, const char *s, size_t n)
{
    if (rq->fstr_len + n > rq->fstr_cap) {
        size_t cap = rq->fstr_cap; /* HC_FSTR_INLINE at first */
        while (cap < rq->fstr_len + n)
            cap *= 2;
        char *p = cap > UINT32_MAX  ? NULL
                  : rq->fstr_inline ? malloc(cap)
                                    : realloc(rq->fstr, cap);
        if (!p)
            return -1;
        if (rq->fstr_inline)
            memcpy(p, rq->fstr, rq->fstr_len);
        rq->fstr_inline = false;
        rq->fstr = p;
        rq->fstr_cap = cap;
    }
    memcpy(rq->fstr + rq->fstr_len, s, n);
    rq->fstr_len += n;
    return (int64_t)(rq->fstr_len - n);
}

static int field_add(gort_http_creq *rq, const char *name, const char *value,
                     bool replace)
{
    size_t nl = 0, vl = 0;
    if (!rq)
        return -EINVAL;
    if (!name || !value || !is_token(name, &nl) || !value_ok(value, &vl) ||
        field_reserved(name, nl, value))
        return rq->err
                   ? -EINVAL /* keep the URL's message */
                   : creq_fail(rq, -EINVAL, "invalid header field \"%.64s\"",
                               name ? name : "(null)");
    if (name_is(name, nl, "connection", 10)) {
        rq->close = true; /* written by the client, once */
        return 0;
    }
    if (replace)
        fields_del(rq, name, nl);
    if (fields_room(rq) < 0)
        return -ENOMEM;
    int64_t n = fstr_put(rq, name, nl + 1);
    int64_t v = n < 0 ? -1 : fstr_put(rq, value, vl + 1);
    if (v < 0)
        return -ENOMEM;
    rq->fields[rq->nfields++] =
        (struct hc_field){(uint32_t)n, (uint32_t)v, (uint32_t)nl, (uint32_t)vl};
    return 0;
}

int gort_http_creq_set_header(gort_http_creq *rq, const char *name,
                              const char *value)
{
    return field_add(rq, name, value, true);
}

int gort_http_creq_add_header(gort_http_creq *rq, const char *name,
                              const char *value)
{
    return field_add(rq, name, value, false);
}

int gort_http_creq_set_body(gort_http_creq *rq, const void *buf, size_t n)
{
    if (!rq || (!buf && n))
        return -EINVAL;
    rq->body = HC_BODY_BUF;
    rq->buf = buf;
    rq->blen = n;
    return 0;
}

int gort_http_creq_set_body_reader(gort_http_creq *rq,
                                   gort_http_body_reader read, void *arg,
                                   int64_t length)
{
    if (!rq || !read || length < -1)
        return -EINVAL;
    rq->body = HC_BODY_READER;
    rq->reader = read;
    rq->reader_arg = arg;
    rq->reader_len = length;
    return 0;
}

int gort_http_creq_set_deadline(gort_http_creq *rq, int64_t deadline_ns)
{
    if (!rq || deadline_ns < 0)
        return -EINVAL;
    rq->deadline = deadline_ns;
    return 0;
}

int gort_http_creq_set_ctx(gort_http_creq *rq, gort_ctx *ctx)
{
    if (!rq)
        return -EINVAL;
    gort_ctx_release(rq->ctx);
    rq->ctx = ctx ? gort_ctx_ref(ctx) : NULL;
    return 0;
}

const char *gort_http_creq_error(const gort_http_creq *rq)
{
    return rq ? rq->errmsg : "out of memory";
}

static bool field_get(const gort_http_creq *rq, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < rq->nfields; i++)
        if (name_is(fname(rq, i), rq->fields[i].nlen, name, nl))
            return true;
    return false;
}

/* Go's isReplayable: sending it twice is harmless, and possible. */
static bool creq_replayable(const gort_http_creq *rq)
{
    static const char *const safe[] = {"GET", "HEAD", "OPTIONS", "TRACE"};

    if (rq->body == HC_BODY_READER)
        return false;
    for (size_t i = 0; i < sizeof safe / sizeof safe[0]; i++)
        if (strcmp(rq->method, safe[i]) == 0)
            return true;
    return field_get(rq, "Idempotency-Key") ||
           field_get(rq, "X-Idempotency-Key");
}

/* ---- the connection's bytes: plain, or TLS (http/tls.c) ------------------ */

static ssize_t conn_write(struct hc_conn *cn, const void *buf, size_t n)
{
    if (!cn->tls)
        return gort_write(cn->fd, buf, n);
    struct iovec iov = {(void *)buf, n};
    return http_tls_writev(cn->tls, &iov, 1);
}

static ssize_t conn_read(struct hc_conn *cn, void *buf, size_t n)
{
    if (!cn->tls)
        return gort_read(cn->fd, buf, n);
    return http_tls_read(cn->tls, buf, n, true);
}

/* ---- writing the request ------------------------------------------------- */

/* Bodies up to this size go out in the head's write. */
#define HC_INLINE_BODY 4096

struct wbuf {
    char *p;
    size_t len, cap;
    bool oom;
    bool borrowed; /* p is the caller's (on its stack): never realloc'ed */
};

/* Room for n more bytes at b->p + b->len, grown by doubling (a borrowed
 * buffer is left for a heap one); NULL once out of memory. */
static char *wb_room(struct wbuf *b, size_t n)
{
    if (b->oom)
        return NULL;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 512;
        while (cap < b->len + n)
            cap *= 2;
        char *p = b->borrowed ? malloc(cap) : realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return NULL;
        }
        if (b->borrowed && b->len)
            memcpy(p, b->p, b->len);
        b->borrowed = false;
        b->p = p;
        b->cap = cap;
    }
    return b->p + b->len;
}

static void wb_put(struct wbuf *b, const char *s, size_t n)
{
    char *d = n ? wb_room(b, n) : NULL; /* an empty body may be NULL */
    if (!d)
        return;
    memcpy(d, s, n);
    b->len += n;
}

static void wb_str(struct wbuf *b, const char *s)
{
    wb_put(b, s, strlen(s));
}

/* "name: value\r\n" with one room check: four wb_puts per field were a
 * sixth of the client's own instructions per proxied request. */
static void wb_field_n(struct wbuf *b, const char *name, size_t nl,
                       const char *value, size_t vl)
{
    char *d = wb_room(b, nl + vl + 4);
    if (!d)
        return;
    memcpy(d, name, nl);
    d[nl] = ':';
    d[nl + 1] = ' ';
    memcpy(d + nl + 2, value, vl);
    d[nl + 2 + vl] = '\r';
    d[nl + 3 + vl] = '\n';
    b->len += nl + vl + 4;
}

static void wb_field(struct wbuf *b, const char *name, const char *value)
{
    wb_field_n(b, name, strlen(name), value, strlen(value));
}

/* Whether the method carries a body by convention: Go sends
 * "Content-Length: 0" for these even when there is none. */
static bool method_wants_length(const char *m)
{
    return !strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "PATCH");
}

/* An empty User-Agent set by the caller sends none (Go's Request.Write:
 * a proxy passing on a client that sent none sets it so). */
static bool unsent_agent(const gort_http_creq *rq, size_t i)
{
    return rq->fields[i].vlen == 0 &&
           name_is(fname(rq, i), rq->fields[i].nlen, "User-Agent", 10);
}

/* The request head, and a small buffer body after it, in the caller's
 * buffer (b->p, b->cap) when the estimate fits, else in one allocation
 * sized from what it holds (fstr's length bounds the fields' bytes). A
 * malloc and free per call showed in proxy.so's profile. */
static int creq_head(const gort_http_creq *rq, bool keep_alive, struct wbuf *b)
{
    char num[32];
    size_t est = strlen(rq->method) + rq->u.path.len + rq->u.query.len +
                 rq->u.authority.len + sizeof HC_USER_AGENT + rq->fstr_len +
                 2 * rq->nfields + 160;
    if (rq->body == HC_BODY_BUF && rq->blen <= HC_INLINE_BODY)
        est += rq->blen;
    if (est > b->cap) {
        if ((b->p = malloc(est)) == NULL)
            return -ENOMEM;
        b->cap = est;
        b->borrowed = false;
    }

    wb_str(b, rq->method);
    wb_put(b, " ", 1);
    wb_put(b, rq->u.path.ptr, rq->u.path.len);
    if (rq->u.query.ptr) {
        wb_put(b, "?", 1);
        wb_put(b, rq->u.query.ptr, rq->u.query.len);
    }
    wb_str(b, " HTTP/1.1\r\n");
    if (!field_get(rq, "Host")) {
        wb_str(b, "Host: ");
        wb_put(b, rq->u.authority.ptr, rq->u.authority.len);
        wb_put(b, "\r\n", 2);
    }
    if (!field_get(rq, "User-Agent"))
        wb_field(b, "User-Agent", HC_USER_AGENT);
    for (size_t i = 0; i < rq->nfields; i++)
        if (!unsent_agent(rq, i))
            wb_field_n(b, fname(rq, i), rq->fields[i].nlen, fvalue(rq, i),
                       rq->fields[i].vlen);
    if (rq->body == HC_BODY_BUF ||
        (rq->body == HC_BODY_READER && rq->reader_len >= 0)) {
        snprintf(num, sizeof num, "%lld",
                 rq->body == HC_BODY_BUF ? (long long)rq->blen
                                         : (long long)rq->reader_len);
        wb_field(b, "Content-Length", num);
    } else if (rq->body == HC_BODY_READER) {
        wb_field(b, "Transfer-Encoding", "chunked");
    } else if (method_wants_length(rq->method)) {
        wb_field(b, "Content-Length", "0");
    }
    if (!keep_alive)
        wb_field(b, "Connection", "close");
    wb_put(b, "\r\n", 2);
    if (rq->body == HC_BODY_BUF && rq->blen <= HC_INLINE_BODY)
        wb_put(b, rq->buf, rq->blen);
    return b->oom ? -ENOMEM : 0;
}

/* Streams a reader body: Content-Length exactly, or chunk by chunk. Each
 * chunk is one write (size line, data, CRLF): the room for the size line
 * is kept in front of the data. */
static int send_reader(gort_http_creq *rq, struct hc_conn *cn)
{
    enum { ROOM = 24, DATA = 16384 };
    char *buf = malloc(ROOM + DATA + 2);
    bool chunked = rq->reader_len < 0;
    int64_t sent = 0;
    int rc = 0;

    if (!buf)
        return -ENOMEM;
    for (;;) {
        ssize_t n = rq->reader(rq->reader_arg, buf + ROOM, DATA);
        if (n < 0 || n > DATA) {
            rc = creq_fail(rq, n < 0 ? (int)n : -EINVAL, "body reader: %s",
                           gort_strerror(n < 0 ? (int)n : -EINVAL));
            break;
        }
        if (n == 0)
            break;
        sent += n;
        if (!chunked && sent > rq->reader_len) {
            rc = creq_fail(rq, -EINVAL,
                           "body reader gave more than Content-Length %lld",
                           (long long)rq->reader_len);
            break;
        }
        char line[ROOM];
        int ll =
            chunked ? snprintf(line, sizeof line, "%zx\r\n", (size_t)n) : 0;
        memcpy(buf + ROOM - ll, line, (size_t)ll);
        size_t tail = chunked ? 2 : 0;
        memcpy(buf + ROOM + n, "\r\n", tail);
        ssize_t w =
            conn_write(cn, buf + ROOM - ll, (size_t)ll + (size_t)n + tail);
        if (w < 0) {
            rc = creq_fail(rq, (int)w, "write body: %s", io_text((int)w));
            break;
        }
    }
    free(buf);
    if (rc == 0 && !chunked && sent != rq->reader_len)
        rc = creq_fail(rq, -EINVAL,
                       "body reader gave %lld bytes, Content-Length %lld",
                       (long long)sent, (long long)rq->reader_len);
    if (rc == 0 && chunked) {
        ssize_t w = conn_write(cn, "0\r\n\r\n", 5);
        if (w < 0)
            rc = creq_fail(rq, (int)w, "write body: %s", io_text((int)w));
    }
    return rc;
}

/* ---- reading the response ------------------------------------------------ */

/* Reads more into the connection's buffer: > 0, 0 at EOF, < 0 an error. */
static int conn_fill(struct hc_conn *cn, size_t limit)
{
    if (cn->off > 0 && cn->off == cn->len)
        cn->off = cn->len = 0;
    if (cn->off > 0 && cn->len == cn->cap) {
        memmove(cn->buf, cn->buf + cn->off, cn->len - cn->off);
        cn->len -= cn->off;
        cn->off = 0;
    }
    if (!cn->buf || cn->len == cn->cap) {
        size_t cap = cn->cap ? cn->cap * 2 : HC_READ_CHUNK;
        if (cap > limit)
            cap = limit;
        if (cap <= cn->cap)
            return -EMSGSIZE;
        char *nb = realloc(cn->buf, cap);
        if (!nb)
            return -ENOMEM;
        cn->buf = nb;
        cn->cap = cap;
    }
    ssize_t n = conn_read(cn, cn->buf + cn->len, cn->cap - cn->len);
    if (n > 0)
        cn->len += (size_t)n;
    return (int)n;
}

static int head_error(gort_http_creq *rq, int status)
{
    switch (status) {
    case -431:
        return creq_fail(rq, -EMSGSIZE, "server response head too large");
    case -501:
        return creq_fail(rq, -EPROTO, "unsupported transfer coding");
    case -505:
        return creq_fail(rq, -EBADMSG, "server response not HTTP/1.x");
    default:
        return creq_fail(rq, -EBADMSG, "malformed HTTP response");
    }
}

/* How a read of the head ended: *silent stays true while not one byte of
 * a response arrived (what the retry rule asks). */
static int read_head(gort_http_creq *rq, struct hc_conn *cn,
                     struct http_resp_head *h, bool *silent)
{
    size_t scanned = 0;

    for (;;) {
        if (cn->len > cn->off) {
            *silent = false;
            int r = http_parse_response(cn->buf + cn->off, cn->len - cn->off, 0,
                                        h, &scanned);
            if (r > 0)
                return r;
            if (r < 0)
                return head_error(rq, r);
        }
        int n = conn_fill(cn, HTTP_DEFAULT_MAX_HEADER_BYTES + HC_READ_CHUNK);
        if (n == -EMSGSIZE)
            return head_error(rq, -431);
        if (n == 0 && *silent)
            return creq_fail(rq, -ECONNRESET,
                             "server closed the connection before a response");
        if (n == 0)
            return creq_fail(rq, -EBADMSG, "unexpected EOF in response head");
        if (n < 0)
            return creq_fail(rq, n, "read response: %s", io_text(n));
    }
}

/* A response with its own copy of the head's strings (the buffer moves
 * on), all in one allocation: the struct, the name and value arrays, the
 * reason and the fields. */
static gort_http_cresp *cresp_new(const struct http_resp_head *h)
{
    size_t need = 2 * h->nheaders * (sizeof(char *) + sizeof(uint32_t)) +
                  h->reason.len + 1;
    for (size_t i = 0; i < h->nheaders; i++)
        need += h->headers[i].name.len + h->headers[i].value.len + 2;
    gort_http_cresp *rs = malloc(sizeof *rs + need);
    if (!rs)
        return NULL;
    memset(rs, 0, sizeof *rs);
    rs->hname = (const char **)(void *)(rs + 1);
    rs->hvalue = rs->hname + h->nheaders;
    rs->hnl = (uint32_t *)(void *)(rs->hvalue + h->nheaders);
    rs->hvl = rs->hnl + h->nheaders;
    char *p = (char *)(rs->hvl + h->nheaders);
#define PUT(dst, s)                                                            \
    do {                                                                       \
        if ((s).len)                                                           \
            memcpy(p, (s).ptr, (s).len);                                       \
        p[(s).len] = '\0';                                                     \
        (dst) = p;                                                             \
        p += (s).len + 1;                                                      \
    } while (0)
    PUT(rs->reason, h->reason);
    for (size_t i = 0; i < h->nheaders; i++) {
        PUT(rs->hname[i], h->headers[i].name);
        PUT(rs->hvalue[i], h->headers[i].value);
        rs->hnl[i] = (uint32_t)h->headers[i].name.len; /* a head: <= 1 MiB */
        rs->hvl[i] = (uint32_t)h->headers[i].value.len;
    }
#undef PUT
    rs->nheaders = h->nheaders;
    return rs;
}

/* RFC 9112 §6.3: which of the framings this response's body has. */
static void cresp_framing(gort_http_cresp *rs, const gort_http_creq *rq,
                          const struct http_resp_head *h)
{
    if (strcmp(rq->method, "HEAD") == 0 || h->status / 100 == 1 ||
        h->status == 204 || h->status == 304) {
        rs->framing = HC_NONE;
        rs->done = true;
    } else if (h->chunked) {
        rs->framing = HC_CHUNKED;
        rs->length = -1;
        http_chunked_init(&rs->dec);
    } else if (h->content_length >= 0) {
        rs->framing = HC_LENGTH;
        rs->length = rs->left = h->content_length;
        rs->done = rs->left == 0;
    } else {
        rs->framing = HC_UNTIL_CLOSE; /* the end is the server's close */
        rs->length = -1;
    }
    rs->keep_alive = h->keep_alive && rs->framing != HC_UNTIL_CLOSE;
}

/* ---- a round trip -------------------------------------------------------- */

struct call {
    gort_http_client *cl;
    gort_http_creq *rq;
    struct wbuf head;
    int64_t deadline; /* the whole call's, 0 = none */
    gort_fd_ctx *w;   /* the request's context bound to the connection */
    bool keep_alive;  /* ours: the request lets the connection live on */
};

static int64_t earliest(int64_t a, int64_t b)
{
    return a == 0 ? b : b == 0 ? a : a < b ? a : b;
}

static int64_t after(int64_t d)
{
    return d > 0 ? gort_nanotime() + d : 0;
}

/* The client's trust store, made once, by the first https request. */
static struct http_tls_client *trust_store(gort_http_client *c, char *err,
                                           size_t errlen)
{
    pthread_mutex_lock(&c->lock);
    if (!c->tls)
        c->tls = http_tls_client_new(c->o.tls_ca_file, err, errlen);
    struct http_tls_client *t = c->tls;
    pthread_mutex_unlock(&c->lock);
    return t;
}

/* TLS on a new connection to an https URL, within the dial's deadline:
 * SNI and the certificate checked for the URL's host. */
static int call_handshake(struct call *k, struct hc_conn *cn, int64_t dl)
{
    gort_http_creq *rq = k->rq;
    char err[HC_ERR_LEN];
    struct http_tls_client *t = trust_store(k->cl, err, sizeof err);
    if (!t)
        return creq_fail(rq, -EPROTO, "%s", err);
    gort_set_deadline(cn->fd, GORT_IO_BOTH, dl);
    int rc = http_tls_connect(t, cn->fd, rq->dial_host, rq->key, &cn->tls, err,
                              sizeof err);
    gort_set_deadline(cn->fd, GORT_IO_BOTH, 0);
    return rc < 0 ? creq_fail(rq, rc, "%s", err) : 0;
}

/* A connection: the newest idle one, or a new one. */
static int call_conn(struct call *k, bool fresh, struct hc_conn **out)
{
    gort_http_creq *rq = k->rq;
    /* A reused connection is looked at first (conn_stale), and a
     * replayable request that still finds it dead before any response
     * byte is sent again (gort_http_do), as Go's Transport does. */
    struct hc_conn *cn = fresh ? NULL : pool_get(k->cl, rq->key);
    int64_t dl = earliest(k->deadline, after(k->cl->o.dial_timeout));
    int fd;

    if (cn) {
        *out = cn;
        return 0;
    }
    if (rq->ctx) { /* the dial's own deadline under the request's context */
        gort_ctx *dctx = dl ? gort_ctx_with_deadline(rq->ctx, dl)
                            : gort_ctx_with_cancel(rq->ctx);
        if (!dctx)
            return -ENOMEM;
        fd = gort_dial_tcp_ctx(dctx, rq->dial_host, rq->port);
        gort_ctx_cancel(dctx); /* frees its timer now, not at the deadline */
        gort_ctx_release(dctx);
        if (fd < 0 && gort_ctx_err(rq->ctx))
            fd = gort_ctx_err(rq->ctx);
    } else {
        fd = gort_dial_tcp(rq->dial_host, rq->port, dl);
    }
    if (fd == -ENXIO)
        return creq_fail(rq, fd, "lookup %s: no such host", rq->dial_host);
    if (fd == -EHOSTUNREACH && !strchr(rq->dial_host, ':'))
        return creq_fail(rq, fd, "lookup %s: resolver failed", rq->dial_host);
    if (fd < 0)
        return creq_fail(rq, fd, "dial tcp %s: %s",
                         rq->key + (rq->u.tls ? 6 : 0), io_text(fd));
    if ((cn = calloc(1, sizeof *cn)) == NULL ||
        (cn->key = strdup(rq->key)) == NULL) {
        free(cn);
        gort_close(fd);
        return -ENOMEM;
    }
    cn->fd = fd;
    int rc = rq->u.tls ? call_handshake(k, cn, dl) : 0;
    if (rc < 0) {
        conn_close(cn);
        return rc;
    }
    *out = cn;
    return 0;
}

/* Sends the request on cn. *silent as in read_head. */
static int call_send(struct call *k, struct hc_conn *cn)
{
    gort_http_creq *rq = k->rq;
    ssize_t w;

    gort_fd_ctx_set_deadline(k->w, GORT_IO_WRITE, k->deadline);
    w = conn_write(cn, k->head.p, k->head.len);
    if (w >= 0 && rq->body == HC_BODY_BUF && rq->blen > HC_INLINE_BODY)
        w = conn_write(cn, rq->buf, rq->blen);
    if (w < 0)
        return creq_fail(rq, (int)w, "write request: %s", io_text((int)w));
    return rq->body == HC_BODY_READER ? send_reader(rq, cn) : 0;
}

/* Reads heads until a final one (1xx are skipped) and makes the response. */
static int call_receive(struct call *k, struct hc_conn *cn, bool *silent,
                        gort_http_cresp **out)
{
    gort_http_creq *rq = k->rq;
    /* 3 KiB: off the stack, and kept with the connection for its next
     * response. */
    struct http_resp_head *h = cn->head ? cn->head : malloc(sizeof *h);
    int r = h ? 0 : -ENOMEM;

    cn->head = h;

    gort_fd_ctx_set_deadline(
        k->w, GORT_IO_READ,
        earliest(k->deadline, after(k->cl->o.response_header_timeout)));
    for (int interim = 0; r == 0; interim++) {
        if ((r = read_head(rq, cn, h, silent)) < 0)
            break;
        cn->off += (size_t)r;
        r = 0;
        if (h->status == 101)
            r = creq_fail(rq, -EPROTO, "101 Switching Protocols: no upgrade");
        else if (h->status / 100 != 1)
            break;
        else if (interim == HC_MAX_INTERIM)
            r = creq_fail(rq, -EBADMSG, "too many 1xx responses");
    }
    gort_http_cresp *rs = r == 0 ? cresp_new(h) : NULL;
    if (r == 0 && !rs)
        r = -ENOMEM;
    if (r == 0) {
        rs->cl = k->cl;
        rs->status = h->status;
        rs->minor = h->version_minor;
        rs->reused = cn->nreq > 0;
        cresp_framing(rs, rq, h);
        rs->keep_alive = rs->keep_alive && k->keep_alive;
        gort_fd_ctx_set_deadline(k->w, GORT_IO_READ, k->deadline);
        *out = rs;
    }
    return r;
}

static int call_io(struct call *k, struct hc_conn *cn, bool *silent,
                   gort_http_cresp **out)
{
    int rc = call_send(k, cn);

    /* A write that failed on a reused connection is as silent as a read
     * that met EOF: the server had closed it. A timeout is not retried. */
    if (rc < 0)
        return rc;
    return call_receive(k, cn, silent, out);
}

/* call_io with the request's context bound to the connection: its end
 * moves the descriptor's deadlines into the past, so whatever the call
 * waits for ends at once. A connection it touched is never reused. */
static int call_once(struct call *k, struct hc_conn *cn, bool *silent,
                     gort_http_cresp **out)
{
    gort_http_creq *rq = k->rq;
    gort_fd_ctx w;
    int rc = gort_fd_ctx_bind(&w, rq->ctx, cn->fd);
    k->w = &w;
    if (rc == 0)
        rc = call_io(k, cn, silent, out);
    k->w = NULL;
    int err = gort_fd_ctx_unbind(&w);
    if (!err) {
        if (rc == 0 && rq->ctx)
            (*out)->ctx = gort_ctx_ref(rq->ctx);
        return rc;
    }
    *silent = false; /* never retried: the caller gave up */
    if (rc == 0) {   /* the caller closes cn: its deadlines are spent */
        free(*out);
        *out = NULL;
    }
    return creq_fail(rq, err, "%s", gort_strerror(err));
}

static bool retryable(int rc)
{
    return rc == -ECONNRESET || rc == -EPIPE || rc == -ECONNABORTED;
}

int gort_http_do(gort_http_client *c, gort_http_creq *rq, gort_http_cresp **out)
{
    struct call k = {.cl = c, .rq = rq};
    char head_small[1024]; /* the head's first buffer (stacks: 64 KiB) */
    struct hc_conn *cn = NULL;
    bool fresh = false;
    int64_t cdl = 0;
    int rc;

    *out = NULL;
    if (!rq)
        return -ENOMEM;
    if (!c)
        return creq_fail(rq, -EINVAL, "no client");
    if (rq->err)
        return rq->err;
    rq->errmsg[0] = '\0';
    if ((rc = gort_ctx_err(rq->ctx)) != 0)
        return creq_fail(rq, rc, "%s", gort_strerror(rc));
    gort_ctx_deadline(rq->ctx, &cdl);
    k.deadline = earliest(earliest(rq->deadline, after(c->o.timeout)), cdl);
    k.keep_alive = !rq->close && c->o.max_idle_per_host > 0;
    k.head = (struct wbuf){
        .p = head_small, .cap = sizeof head_small, .borrowed = true};
    if ((rc = creq_head(rq, k.keep_alive, &k.head)) < 0)
        goto out;
    for (;;) {
        bool silent = true;
        if ((rc = call_conn(&k, fresh, &cn)) < 0)
            break;
        rc = call_once(&k, cn, &silent, out);
        if (rc == 0) {
            (*out)->c = cn;
            cn->nreq++;
            break;
        }
        bool again = !fresh && cn->nreq > 0 && silent && retryable(rc) &&
                     creq_replayable(rq);
        conn_close(cn);
        cn = NULL;
        if (!again)
            break;
        fresh = true; /* once, on a new connection */
    }
out:
    if (!k.head.borrowed)
        free(k.head.p);
    if (rc == -ENOMEM && !rq->errmsg[0])
        creq_fail(rq, rc, "out of memory");
    return rc;
}

/* ---- the response -------------------------------------------------------- */

int gort_http_cresp_status(const gort_http_cresp *rs)
{
    return rs->status;
}

const char *gort_http_cresp_proto(const gort_http_cresp *rs)
{
    return rs->minor >= 1 ? "HTTP/1.1" : "HTTP/1.0";
}

const char *gort_http_cresp_reason(const gort_http_cresp *rs)
{
    return rs->reason;
}

const char *gort_http_cresp_header(const gort_http_cresp *rs, const char *name)
{
    for (size_t i = 0; i < rs->nheaders; i++)
        if (strcasecmp(rs->hname[i], name) == 0)
            return rs->hvalue[i];
    return NULL;
}

const char *gort_http_cresp_header_at(const gort_http_cresp *rs, size_t i,
                                      const char **value)
{
    if (i >= rs->nheaders)
        return NULL;
    if (value)
        *value = rs->hvalue[i];
    return rs->hname[i];
}

int gort_http_copy_header(gort_http_response *w, const gort_http_cresp *rs,
                          size_t i)
{
    if (!w || !rs || i >= rs->nheaders)
        return 0;
    return http_response_add_checked(w, rs->hname[i], rs->hnl[i], rs->hvalue[i],
                                     rs->hvl[i]);
}

int64_t gort_http_cresp_content_length(const gort_http_cresp *rs)
{
    return rs->framing == HC_NONE ? 0 : rs->length;
}

int gort_http_cresp_reused(const gort_http_cresp *rs)
{
    return rs->reused;
}

static ssize_t cresp_fail(gort_http_cresp *rs, int err)
{
    rs->err = err;
    return err;
}

/* Bytes already buffered, then straight from the socket into buf. */
static ssize_t read_raw(gort_http_cresp *rs, char *buf, size_t n)
{
    struct hc_conn *cn = rs->c;
    size_t avail = cn->len - cn->off;

    if (avail > 0) {
        size_t got = avail < n ? avail : n;
        memcpy(buf, cn->buf + cn->off, got);
        cn->off += got;
        return (ssize_t)got;
    }
    return conn_read(cn, buf, n);
}

static ssize_t read_length(gort_http_cresp *rs, char *buf, size_t n)
{
    if ((int64_t)n > rs->left)
        n = (size_t)rs->left;
    ssize_t got = read_raw(rs, buf, n);
    if (got == 0)
        return cresp_fail(rs, -ECONNRESET); /* cut short */
    if (got < 0)
        return cresp_fail(rs, (int)got);
    rs->left -= got;
    rs->done = rs->left == 0;
    return got;
}

static ssize_t read_until_close(gort_http_cresp *rs, char *buf, size_t n)
{
    ssize_t got = read_raw(rs, buf, n);
    if (got < 0)
        return cresp_fail(rs, (int)got);
    rs->done = got == 0;
    return got;
}

static ssize_t read_chunked(gort_http_cresp *rs, char *buf, size_t n)
{
    struct hc_conn *cn = rs->c;

    for (;;) {
        size_t used = 0;
        ssize_t got = http_chunked_decode(&rs->dec, cn->buf + cn->off,
                                          cn->len - cn->off, &used, buf, n);
        cn->off += used;
        if (got < 0)
            return cresp_fail(rs, -EBADMSG);
        rs->done = http_chunked_done(&rs->dec);
        if (got > 0 || rs->done)
            return got;
        int r = conn_fill(cn, HC_READ_CHUNK * 16);
        if (r == 0)
            return cresp_fail(rs, -ECONNRESET);
        if (r < 0)
            return cresp_fail(rs, r == -EMSGSIZE ? -EBADMSG : r);
    }
}

static ssize_t cresp_read(gort_http_cresp *rs, void *buf, size_t n)
{
    switch (rs->framing) {
    case HC_LENGTH:
        return read_length(rs, buf, n);
    case HC_CHUNKED:
        return read_chunked(rs, buf, n);
    case HC_UNTIL_CLOSE:
        return read_until_close(rs, buf, n);
    default:
        return 0;
    }
}

/* The request's context bounds body reads too (Go's: the body of a
 * response to a cancelled request fails its next read). */
ssize_t gort_http_cresp_read(gort_http_cresp *rs, void *buf, size_t n)
{
    if (rs->err)
        return rs->err;
    if (rs->done || n == 0)
        return 0;
    if (!rs->ctx)
        return cresp_read(rs, buf, n);
    gort_fd_ctx w;
    int err = gort_fd_ctx_bind(&w, rs->ctx, rs->c->fd);
    ssize_t got = err ? err : cresp_read(rs, buf, n);
    int fired = gort_fd_ctx_unbind(&w);
    if (err || fired) /* the connection's deadlines are spent: not reused */
        return cresp_fail(rs, err ? err : fired);
    return got;
}

void gort_http_cresp_close(gort_http_cresp *rs)
{
    if (!rs)
        return;
    struct hc_conn *cn = rs->c;
    /* Reusable only if nothing of this response, and nothing else, is left
     * in the connection: the next response must start at its next byte. */
    bool clean = rs->done && !rs->err && rs->keep_alive && cn->off == cn->len;
    if (clean)
        pool_put(rs->cl, cn);
    else
        conn_close(cn);
    gort_ctx_release(rs->ctx);
    free(rs);
}
