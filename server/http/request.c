/* http/request.c — the request a handler sees: NUL-terminated copies of the
 * parsed head, header lookup, path values, and the body reader
 * (Content-Length or chunked, with Expect: 100-continue).
 *
 * The parser hands back slices of the connection's read buffer; a handler
 * wants C strings, and writing NULs into the buffer in place would clip the
 * request-target (the path ends where the query starts). So the strings are
 * copied once into one block: a stack buffer for ordinary heads, malloc'd
 * only for heads larger than it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gort/net.h"
#include "http/budget.h"
#include "http/internal.h"
#include "http/query.h"

struct copier {
    char *p, *end;
};

static const char *put(struct copier *cp, const char *s, size_t n)
{
    char *d = cp->p;
    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    cp->p += n + 1;
    return d;
}

static const char *put_str(struct copier *cp, struct http_str s)
{
    return put(cp, s.ptr ? s.ptr : "", s.ptr ? s.len : 0);
}

static size_t strings_size(const struct http_req_head *h)
{
    size_t n = h->method.len + h->target.len + h->path.len + h->query.len +
               h->host.len + 16 + 6 * 2;
    for (size_t i = 0; i < h->nheaders; i++)
        n += h->headers[i].name.len + h->headers[i].value.len + 2;
    return n + h->nheaders * 2 * sizeof(char *) + sizeof(char *);
}

int http_request_init(struct gort_http_request *r, struct http_conn *c,
                      const struct http_req_head *h, char *small,
                      size_t smallcap)
{
    memset(r, 0, sizeof *r);
    r->c = c;
    r->head = h;
    size_t need = strings_size(h);
    r->strs = small;
    if (need > smallcap) { /* a large head: its copy counts in the budget */
        if (!http_budget_take(c->srv->cfg.budget, need))
            return -ENOMEM;
        if (!(r->strs = malloc(need))) {
            http_budget_give(c->srv->cfg.budget, need);
            return -ENOMEM;
        }
        r->strs_heap = need;
    }
    /* Pointer arrays first (aligned), then the characters. */
    r->hname = (const char **)(void *)r->strs;
    r->hvalue = r->hname + h->nheaders;
    struct copier cp = {.p = (char *)(r->hvalue + h->nheaders),
                        .end = r->strs + need};
    r->method = put_str(&cp, h->method);
    r->target = put_str(&cp, h->target);
    r->path = put_str(&cp, h->path);
    r->query = put_str(&cp, h->query);
    r->host = put_str(&cp, h->host);
    r->proto = h->version_minor >= 1 ? "HTTP/1.1" : "HTTP/1.0";
    r->nheaders = h->nheaders;
    for (size_t i = 0; i < h->nheaders; i++) {
        r->hname[i] = put_str(&cp, h->headers[i].name);
        r->hvalue[i] = put_str(&cp, h->headers[i].value);
    }
    r->body_left = h->content_length > 0 ? h->content_length : 0;
    r->chunked = h->chunked;
    r->body_done = !h->chunked && r->body_left == 0;
    r->expect_continue = h->expect_continue;
    if (r->chunked) {
        http_chunked_init(&r->dec);
        r->dec.max_body = (uint64_t)c->srv->cfg.max_body_bytes;
    }
    return 0;
}

/* ---- defers ------------------------------------------------------------ */

struct http_defer {
    void (*fn)(void *);
    void *arg;
    struct http_defer *next;
};

int gort_http_defer(gort_http_request *r, void (*fn)(void *arg), void *arg)
{
    if (!r || !fn)
        return -EINVAL;
    struct http_defer *d = malloc(sizeof *d);
    if (!d)
        return -ENOMEM;
    *d = (struct http_defer){.fn = fn, .arg = arg, .next = r->defers};
    r->defers = d;
    return 0;
}

/* A deferred call may defer again: popped before it runs, so that one
 * runs next. */
void http_request_run_defers(struct gort_http_request *r)
{
    struct http_defer *d;
    while ((d = r->defers) != NULL) {
        r->defers = d->next;
        d->fn(d->arg);
        free(d);
    }
}

void http_request_free(struct gort_http_request *r, char *small)
{
    http_request_run_defers(r);
    if (r->strs && r->strs != small) {
        free(r->strs);
        http_budget_give(r->c->srv->cfg.budget, r->strs_heap);
    }
    r->strs = NULL;
}

/* ---- accessors ---------------------------------------------------------- */

const char *gort_http_method(const gort_http_request *r)
{
    return r->method;
}

const char *gort_http_target(const gort_http_request *r)
{
    return r->target;
}

const char *gort_http_path(const gort_http_request *r)
{
    return r->path;
}

const char *gort_http_query(const gort_http_request *r)
{
    return r->query;
}

ssize_t gort_http_query_value(const gort_http_request *r, const char *key,
                              char *buf, size_t len)
{
    return http_query_value(r->query, key, buf, len);
}

const char *gort_http_proto(const gort_http_request *r)
{
    return r->proto;
}

int gort_http_tls(const gort_http_request *r)
{
    return r->c->tls != NULL;
}

const char *gort_http_host(const gort_http_request *r)
{
    return r->host;
}

const char *gort_http_remote_addr(const gort_http_request *r)
{
    return r->c->remote;
}

const char *gort_http_header(const gort_http_request *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->hname[i], name) == 0)
            return r->hvalue[i];
    return NULL;
}

const char *gort_http_header_at(const gort_http_request *r, size_t i,
                                const char **value)
{
    if (i >= r->nheaders)
        return NULL;
    if (value)
        *value = r->hvalue[i];
    return r->hname[i];
}

const char *gort_http_path_value(const gort_http_request *r, const char *name)
{
    return r->match ? mux_path_value(r->match, name, NULL) : NULL;
}

const char *gort_http_pattern(const gort_http_request *r)
{
    return r->match ? r->match->pattern : "";
}

int64_t gort_http_content_length(const gort_http_request *r)
{
    return r->head->content_length;
}

/* ---- body --------------------------------------------------------------- */

static int send_continue(struct gort_http_request *r)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    r->continue_sent = true;
    return http_conn_write(r->c, cont, sizeof cont - 1);
}

/* Before a read of the body that may wait: the deadline is the pause a
 * body may take between two reads (body_idle_timeout_ns, nginx's
 * client_body_timeout), cut to the whole request's (read_timeout_ns, Go's
 * ReadTimeout) when that comes first. The head's deadline never bounds the
 * body: an upload may take as long as it keeps sending. */
static void arm_body_read(struct http_conn *c)
{
    int64_t idle = c->srv->cfg.body_idle_timeout_ns, d = 0;
    if (idle > 0)
        d = gort_nanotime_coarse() + idle;
    if (c->req_deadline && (d == 0 || c->req_deadline < d))
        d = c->req_deadline;
    gort_set_deadline(c->fd, GORT_IO_READ, d);
}

static ssize_t body_error(struct gort_http_request *r, int err)
{
    r->body_err = err;
    return err;
}

static ssize_t read_fixed(struct gort_http_request *r, char *buf, size_t n)
{
    struct http_conn *c = r->c;
    if ((int64_t)n > r->body_left)
        n = (size_t)r->body_left;
    size_t avail = c->len - c->off;
    ssize_t got;
    if (avail > 0) {
        got = (ssize_t)(avail < n ? avail : n);
        memcpy(buf, c->buf + c->off, (size_t)got);
        c->off += (size_t)got;
    } else {
        arm_body_read(c);
        got = http_conn_recv(c, buf, n, true);
        if (got == 0)
            return body_error(r, -ECONNRESET); /* closed mid-body */
        if (got < 0)
            return body_error(r, (int)got);
    }
    r->body_left -= got;
    r->body_done = r->body_left == 0;
    return got;
}

static ssize_t read_chunked(struct gort_http_request *r, char *buf, size_t n)
{
    struct http_conn *c = r->c;
    for (;;) {
        size_t used = 0;
        ssize_t got = http_chunked_decode(&r->dec, c->buf + c->off,
                                          c->len - c->off, &used, buf, n);
        c->off += used;
        if (got < 0)
            return body_error(r, got == -413 ? -EFBIG : -EBADMSG);
        if (http_chunked_done(&r->dec))
            r->body_done = true;
        if (got > 0 || r->body_done)
            return got;
        arm_body_read(c);
        int rc = http_conn_read_more(c);
        if (rc == 0)
            return body_error(r, -ECONNRESET);
        if (rc < 0)
            return body_error(r, rc);
    }
}

ssize_t gort_http_body_read(gort_http_request *r, void *buf, size_t n)
{
    if (r->body_err)
        return r->body_err;
    if (r->body_done || n == 0)
        return 0;
    if (r->expect_continue && !r->continue_sent) {
        int rc = send_continue(r);
        if (rc < 0)
            return body_error(r, rc);
    }
    ssize_t got = r->chunked ? read_chunked(r, buf, n) : read_fixed(r, buf, n);
    if (r->body_done && r->ctx)
        http_reqctx_body_done(r); /* the client's close is watched now */
    return got;
}

bool http_request_drain(struct gort_http_request *r)
{
    if (r->body_done)
        return true;
    if (r->body_err)
        return false;
    /* The client waits for 100 Continue before sending: without it there
     * is nothing to drain, but the connection state is unknown. */
    if (r->expect_continue && !r->continue_sent)
        return false;
    if (!r->chunked && r->body_left > HTTP_DRAIN_MAX)
        return false;
    char sink[4096];
    size_t total = 0;
    while (!r->body_done && total <= HTTP_DRAIN_MAX) {
        ssize_t n = gort_http_body_read(r, sink, sizeof sink);
        if (n < 0)
            return false;
        total += (size_t)n;
    }
    return r->body_done;
}
