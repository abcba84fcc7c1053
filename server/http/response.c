/* http/response.c — the response writer (net/http's ResponseWriter).
 *
 * A handler's output is buffered (HTTP_BODY_BUF bytes) until it returns,
 * flushes or outgrows the buffer. A response that fits is sent in one
 * writev(2) with Content-Length; a larger or flushed one is sent chunked on
 * HTTP/1.1 and delimited by close on HTTP/1.0. The head and the first body
 * bytes go out in one writev, so a small response costs one syscall.
 *
 * After the head the same buffer keeps collecting, as Go's bufio.Writer
 * over its chunkWriter: it is flushed as one chunk when full, on
 * gort_http_flush and at the end, each flush one writev with its chunk
 * framing (and, at the end, the last chunk). A first version sent every
 * gort_http_write as its own chunk in 2-3 syscalls: a handler writing a
 * byte at a time made a packet per byte under TCP_NODELAY. Every write
 * goes through the netpoller (gort_writev): the write deadline holds and a
 * closed descriptor is never written. Header names and values that contain
 * CR, LF or NUL are refused (response splitting).
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>
#include <time.h>

#include "gort/net.h"
#include "http/internal.h"
#include "log.h"

/* ---- writing to the connection ----------------------------------------- */

int http_conn_write(struct http_conn *c, const void *buf, size_t n)
{
    struct iovec iov = {(void *)buf, n};
    ssize_t w = http_conn_sendv(c, &iov, 1);
    return w < 0 ? (int)w : 0;
}

/* Both buffers in one writev(2) when the socket takes them, through the
 * netpoller (deadline, parking, a closed descriptor's -EBADF). */
static int conn_write2(struct http_conn *c, const char *a, size_t alen,
                       const char *b, size_t blen)
{
    struct iovec iov[2] = {{(void *)a, alen}, {(void *)b, blen}};
    ssize_t w = http_conn_sendv(c, iov, blen ? 2 : 1);
    return w < 0 ? (int)w : 0;
}

/* ---- status and date ---------------------------------------------------- */

/* Go's StatusText: every code net/http names, with its spelling (413 is
 * still "Request Entity Too Large" there). */
const char *gort_http_status_text(int status)
{
    static const char *const text[600] = {
        [100] = "Continue",
        [101] = "Switching Protocols",
        [102] = "Processing",
        [103] = "Early Hints",
        [200] = "OK",
        [201] = "Created",
        [202] = "Accepted",
        [203] = "Non-Authoritative Information",
        [204] = "No Content",
        [205] = "Reset Content",
        [206] = "Partial Content",
        [207] = "Multi-Status",
        [208] = "Already Reported",
        [226] = "IM Used",
        [300] = "Multiple Choices",
        [301] = "Moved Permanently",
        [302] = "Found",
        [303] = "See Other",
        [304] = "Not Modified",
        [305] = "Use Proxy",
        [307] = "Temporary Redirect",
        [308] = "Permanent Redirect",
        [400] = "Bad Request",
        [401] = "Unauthorized",
        [402] = "Payment Required",
        [403] = "Forbidden",
        [404] = "Not Found",
        [405] = "Method Not Allowed",
        [406] = "Not Acceptable",
        [407] = "Proxy Authentication Required",
        [408] = "Request Timeout",
        [409] = "Conflict",
        [410] = "Gone",
        [411] = "Length Required",
        [412] = "Precondition Failed",
        [413] = "Request Entity Too Large",
        [414] = "Request URI Too Long",
        [415] = "Unsupported Media Type",
        [416] = "Requested Range Not Satisfiable",
        [417] = "Expectation Failed",
        [418] = "I'm a teapot",
        [421] = "Misdirected Request",
        [422] = "Unprocessable Entity",
        [423] = "Locked",
        [424] = "Failed Dependency",
        [425] = "Too Early",
        [426] = "Upgrade Required",
        [428] = "Precondition Required",
        [429] = "Too Many Requests",
        [431] = "Request Header Fields Too Large",
        [451] = "Unavailable For Legal Reasons",
        [500] = "Internal Server Error",
        [501] = "Not Implemented",
        [502] = "Bad Gateway",
        [503] = "Service Unavailable",
        [504] = "Gateway Timeout",
        [505] = "HTTP Version Not Supported",
        [506] = "Variant Also Negotiates",
        [507] = "Insufficient Storage",
        [508] = "Loop Detected",
        [510] = "Not Extended",
        [511] = "Network Authentication Required",
    };
    return status >= 0 && status < 600 && text[status] ? text[status] : "";
}

/* "Date: Fri, 27 Nov 2026 14:47:47 GMT\r\n", formatted once a second per
 * thread: goroutines move between threads, the cache need not follow. */
static const char *date_line(void)
{
    static __thread time_t cached_at;
    static __thread char line[64];
    time_t now = time(NULL);
    if (now != cached_at) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(line, sizeof line, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        cached_at = now;
    }
    return line;
}

/* ---- headers ------------------------------------------------------------ */

/* A field name is a token (RFC 9110 §5.1): a ':' or a space in it would
 * start another field or break this one. */
static bool header_name_valid(const char *s)
{
    return s && http_token_len(s) > 0;
}

/* A field value is field-content (RFC 9110 §5.5): visible bytes, spaces,
 * tabs and obs-text; never CR, LF, NUL or another control. */
static bool header_value_valid(const char *s)
{
    if (!s)
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

/* The stored fields format_head looks for, known from one look at the
 * name as it is stored (three scans of the fields per response before). */
enum { HAS_DATE = 1, HAS_CTYPE = 2, HAS_CLEN = 4, HAS_CONN = 8 };

static unsigned field_kind(const char *name, size_t nl)
{
    switch (nl) { /* lengths first: most fields are none of these */
    case 4:
        return strncasecmp(name, "Date", 4) == 0 ? HAS_DATE : 0;
    case 10:
        return strncasecmp(name, "Connection", 10) == 0 ? HAS_CONN : 0;
    case 12:
        return strncasecmp(name, "Content-Type", 12) == 0 ? HAS_CTYPE : 0;
    case 14:
        return strncasecmp(name, "Content-Length", 14) == 0 ? HAS_CLEN : 0;
    default:
        return 0;
    }
}

static bool is_transfer_encoding(const char *name, size_t nl)
{
    return nl == 17 && strncasecmp(name, "Transfer-Encoding", 17) == 0;
}

/* The framing fields are the server's: Content-Length is taken as a
 * promise the writes are held to, Transfer-Encoding only as a wish for
 * chunked framing (the server writes that field itself). 1: handled here,
 * not stored; 0: store it; negative: refused. */
static int framing_field(gort_http_response *w, unsigned kind, const char *name,
                         size_t nl, const char *value)
{
    if (is_transfer_encoding(name, nl)) {
        if (strcasecmp(value, "chunked") != 0)
            return -EINVAL;
        w->te_chunked = true;
        return 1;
    }
    if (kind != HAS_CLEN)
        return 0;
    /* 1*DIGIT (RFC 9110 §8.6), as net/http's ParseInt bar its sign: no
     * sign and no space (strtoll skipped a leading one, which was taken
     * before); by hand, since strtoll cost as much as the rest of a
     * proxied field's copy. */
    int64_t n = 0;
    const char *p = value;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (n > (INT64_MAX - (*p - '0')) / 10)
            return -EINVAL;
        n = n * 10 + (*p - '0');
    }
    if (p == value || *p)
        return -EINVAL;
    w->content_length = n;
    return 0;
}

/* A string past the arena: one allocation each (a head that outgrows
 * the arena is rare and already large). */
struct http_spill {
    struct http_spill *next;
    char s[];
};

/* A copy of s[0..n) and its NUL: in the arena while it has room, else on
 * the heap. NULL when out of memory. */
static const char *arena_dup_n(gort_http_response *w, const char *s, size_t n)
{
    char *d;
    if (w->arena_used + n + 1 <= sizeof w->arena) {
        d = w->arena + w->arena_used;
        w->arena_used += n + 1;
    } else {
        struct http_spill *sp = malloc(sizeof *sp + n + 1);
        if (!sp)
            return NULL;
        sp->next = w->spilled;
        w->spilled = sp;
        d = sp->s;
    }
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* Doubles the field arrays, moving them to the heap. */
static int fields_grow(gort_http_response *w)
{
    size_t cap = 2 * w->hcap;
    size_t ptrs = 2 * cap * sizeof(const char *);
    char *m = malloc(ptrs + 2 * cap * sizeof(uint16_t));
    if (!m)
        return -ENOMEM;
    const char **hn = (const char **)(void *)m, **hv = hn + cap;
    uint16_t *nl = (uint16_t *)(void *)(m + ptrs), *vl = nl + cap;
    memcpy(hn, w->hname, w->nh * sizeof *hn);
    memcpy(hv, w->hvalue, w->nh * sizeof *hv);
    memcpy(nl, w->hnl, w->nh * sizeof *nl);
    memcpy(vl, w->hvl, w->nh * sizeof *vl);
    free(w->harrays);
    w->harrays = m;
    w->hname = hn, w->hvalue = hv, w->hnl = nl, w->hvl = vl;
    w->hcap = cap;
    return 0;
}

/* Stores a field checked already (bytes and framing). -ENOSPC past the
 * bounds (HTTP_RESP_FIELDS_MAX, HTTP_RESP_HEAD_MAX), -ENOMEM. */
static int store_header(gort_http_response *w, unsigned kind, const char *name,
                        size_t nl, const char *value, size_t vl)
{
    if (w->nh == HTTP_RESP_FIELDS_MAX ||
        w->head_bytes + nl + vl > HTTP_RESP_HEAD_MAX)
        return -ENOSPC;
    if (w->nh == w->hcap && fields_grow(w) < 0)
        return -ENOMEM;
    const char *n = arena_dup_n(w, name, nl), *v = arena_dup_n(w, value, vl);
    if (!n || !v)
        return -ENOMEM;
    w->hname[w->nh] = n;
    w->hvalue[w->nh] = v;
    w->hnl[w->nh] = (uint16_t)nl;
    w->hvl[w->nh] = (uint16_t)vl;
    w->nh++;
    w->head_bytes += nl + vl;
    w->has |= kind;
    return 0;
}

static ssize_t find_header(const gort_http_response *w, const char *name)
{
    int c0 = tolower((unsigned char)name[0]); /* most differ there */
    for (size_t i = 0; i < w->nh; i++)
        if (w->hname[i] && tolower((unsigned char)w->hname[i][0]) == c0 &&
            strcasecmp(w->hname[i], name) == 0)
            return (ssize_t)i;
    return -1;
}

int gort_http_add_header(gort_http_response *w, const char *name,
                         const char *value)
{
    if (!header_name_valid(name) || !header_value_valid(value))
        return -EINVAL;
    return http_response_add_checked(w, name, strlen(name), value,
                                     strlen(value));
}

/* A client response's field was checked by http_parse_response (a token
 * name, field-content value): copying it skips the byte scans that were
 * a third of what a proxied response's head cost. */
int http_response_add_checked(gort_http_response *w, const char *name,
                              size_t nl, const char *value, size_t vl)
{
    if (w->wrote_header)
        return 0;
    unsigned kind = field_kind(name, nl);
    int f = framing_field(w, kind, name, nl, value);
    if (f != 0)
        return f < 0 ? f : 0;
    return store_header(w, kind, name, nl, value, vl);
}

void gort_http_del_header(gort_http_response *w, const char *name)
{
    if (w->wrote_header)
        return;
    if (strcasecmp(name, "Content-Length") == 0)
        w->content_length = -1;
    else if (strcasecmp(name, "Transfer-Encoding") == 0)
        w->te_chunked = false;
    w->has &= ~field_kind(name, strlen(name));
    ssize_t i;
    while ((i = find_header(w, name)) >= 0)
        w->hname[i] = NULL; /* arena space is not reclaimed: it is small */
}

int gort_http_set_header(gort_http_response *w, const char *name,
                         const char *value)
{
    if (!header_name_valid(name) || !header_value_valid(value))
        return -EINVAL;
    gort_http_del_header(w, name);
    return gort_http_add_header(w, name, value);
}

int gort_http_status(const gort_http_response *w)
{
    return w->status;
}

void http_response_init(struct gort_http_response *w, struct http_conn *c,
                        struct gort_http_request *r, bool head_only,
                        bool close_after)
{
    w->c = c;
    w->req = r;
    w->status = 0;
    w->wrote_header = w->chunked = w->aborted = w->failed = false;
    w->te_chunked = w->pipelined = false;
    w->head_only = head_only;
    w->close_after = close_after;
    w->content_length = -1;
    w->nh = 0;
    w->hcap = HTTP_RESP_FIELDS_INLINE;
    w->hname = w->hname_in, w->hvalue = w->hvalue_in;
    w->hnl = w->hnl_in, w->hvl = w->hvl_in;
    w->harrays = NULL;
    w->has = 0;
    w->arena_used = 0;
    w->head_bytes = 0;
    w->spilled = NULL;
    w->blen = 0;
    w->pend = NULL;
    w->pend_len = 0;
    w->body_written = 0;
    w->abort_jb = NULL;
}

void http_response_release(struct gort_http_response *w)
{
    free(w->harrays);
    w->harrays = NULL;
    while (w->spilled) {
        struct http_spill *sp = w->spilled;
        w->spilled = sp->next;
        free(sp);
    }
}

/* Appends to a fixed buffer; a head that does not fit is refused whole. */
struct out {
    char *p;
    size_t len, cap;
    bool overflow;
};

static void put_bytes(struct out *o, const char *s, size_t n)
{
    if (o->len + n > o->cap) {
        o->overflow = true;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void put_str(struct out *o, const char *s)
{
    put_bytes(o, s, strlen(s));
}

static void put_uint(struct out *o, uint64_t v)
{
    char tmp[24];
    int i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put_bytes(o, tmp + i, sizeof tmp - (size_t)i);
}

static void put_header(struct out *o, const gort_http_response *w, size_t i)
{
    put_bytes(o, w->hname[i], w->hnl[i]);
    put_bytes(o, ": ", 2);
    put_bytes(o, w->hvalue[i], w->hvl[i]);
    put_bytes(o, "\r\n", 2);
}

/* The status line: "HTTP/1.1 200 OK\r\n"; a code without a name gets
 * "status code N" as its reason, as net/http writes it. */
static void put_status(struct out *o, bool http11, int status)
{
    const char *text = gort_http_status_text(status);
    put_str(o, http11 ? "HTTP/1.1 " : "HTTP/1.0 ");
    put_uint(o, (uint64_t)status);
    put_bytes(o, " ", 1);
    if (*text) {
        put_str(o, text);
    } else {
        put_str(o, "status code ");
        put_uint(o, (uint64_t)status);
    }
    put_bytes(o, "\r\n", 2);
}

/* net/http sniffs the first 512 bytes its buffer hands the connection:
 * what is buffered, then the write that did not fit. */
static const char *sniffed_type(const gort_http_response *w)
{
    char first[512];
    if (w->blen >= sizeof first || w->pend_len == 0)
        return gort_http_detect_content_type(w->body, w->blen);
    if (w->blen == 0)
        return gort_http_detect_content_type(w->pend, w->pend_len);
    size_t more = sizeof first - w->blen;
    if (more > w->pend_len)
        more = w->pend_len;
    memcpy(first, w->body, w->blen);
    memcpy(first + w->blen, w->pend, more);
    return gort_http_detect_content_type(first, w->blen + more);
}

/* A stored field a head without a body leaves out, as net/http's
 * suppressedHeaders: Content-Length on 1xx, 204 and 304 (RFC 9110 §8.6
 * forbids it on 1xx and 204), and Content-Type too on 304 (RFC 9110
 * §15.4.5: a 304 describes the stored representation, not a body).
 * Transfer-Encoding is never stored (framing_field). */
static bool suppressed(const gort_http_response *w, size_t i, int status)
{
    unsigned kind = field_kind(w->hname[i], w->hnl[i]);
    return kind == HAS_CLEN || (kind == HAS_CTYPE && status == 304);
}

/* Whether a Connection value lists "close" (RFC 9110 §7.6.1: a
 * comma-separated list of tokens, any case, with optional spaces). */
static bool lists_close(const char *v)
{
    while (*v) {
        v += strspn(v, " \t,");
        size_t n = strcspn(v, " \t,");
        if (n == 5 && strncasecmp(v, "close", 5) == 0)
            return true;
        v += n;
    }
    return false;
}

/* Whether the handler's own Connection fields say "close". */
static bool handler_closes(const gort_http_response *w)
{
    if (!(w->has & HAS_CONN))
        return false;
    for (size_t i = 0; i < w->nh; i++)
        if (w->hname[i] && field_kind(w->hname[i], w->hnl[i]) == HAS_CONN &&
            lists_close(w->hvalue[i]))
            return true;
    return false;
}

/* A handler's Connection field goes out as set, unless the server closes
 * a connection the handler did not: then the field is the server's
 * "close", as net/http replaces it. */
static bool connection_dropped(const gort_http_response *w, size_t i,
                               bool handler_close)
{
    return w->close_after && !handler_close &&
           field_kind(w->hname[i], w->hnl[i]) == HAS_CONN;
}

/* An interim (1xx) head: the status line and the fields set so far,
 * without Content-Length (RFC 9110 §8.6) or Date, as net/http writes it. */
static size_t format_interim(gort_http_response *w, char *buf, size_t cap,
                             int status)
{
    struct out o = {.p = buf, .cap = cap};
    put_status(&o, true, status);
    for (size_t i = 0; i < w->nh; i++)
        if (w->hname[i] && !suppressed(w, i, status))
            put_header(&o, w, i);
    put_bytes(&o, "\r\n", 2);
    return o.overflow ? 0 : o.len;
}

/* The buffer a head is formatted into: stack (cap bytes) while the fields
 * fit with room for the server's own, else the heap (*heap, which the
 * caller frees; NULL when out of memory). */
static char *head_buf(const gort_http_response *w, char *stack, size_t cap,
                      size_t *len, char **heap)
{
    size_t need = w->head_bytes + 4 * w->nh + 512;
    *heap = NULL;
    *len = cap;
    if (need <= cap)
        return stack;
    *len = need;
    return *heap = malloc(need);
}

/* A 1xx is interim (RFC 9110 §15.2): it goes out at once with the fields
 * set so far (RFC 8297: a 103's Link fields are the final response's
 * too, so they stay), and the handler goes on to its final status, as
 * net/http's WriteHeader since Go 1.19. An HTTP/1.0 client gets none
 * (§15.2: it cannot take one), and a 100 the body's first read already
 * sent is not sent twice. 101 stays a final status: switching protocols
 * needs the connection, which a handler here does not get. */
static void write_interim(gort_http_response *w, int status)
{
    char stack[HTTP_RESP_ARENA + 512], *heap;
    struct gort_http_request *r = w->req;
    if (w->failed || r->head->version_minor < 1 ||
        (status == 100 && r->continue_sent))
        return;
    if (status == 100)
        r->continue_sent = true; /* the client may send its body now */
    size_t cap;
    char *head = head_buf(w, stack, sizeof stack, &cap, &heap);
    size_t n = head ? format_interim(w, head, cap, status) : 0;
    int rc = n ? http_conn_write(w->c, head, n) : -ENOSPC;
    free(heap);
    if (rc < 0) {
        w->failed = true;
        w->close_after = true;
    }
}

void gort_http_write_header(gort_http_response *w, int status)
{
    if (!w->status && status >= 100 && status < 200 && status != 101) {
        write_interim(w, status);
        return;
    }
    if (w->status) {
        glog_warn("superfluous write_header call",
                  GLOG_STR("method", w->req->method),
                  GLOG_STR("target", w->req->target),
                  GLOG_INT("status", status), GLOG_INT("first", w->status));
        return;
    }
    if (status < 100 || status > 999) {
        glog_warn("invalid status", GLOG_STR("method", w->req->method),
                  GLOG_STR("target", w->req->target),
                  GLOG_INT("status", status), GLOG_INT("sent", 500));
        status = 500;
    }
    w->status = status;
}

/* Formats the status line and headers into buf (no printf: this runs for
 * every response); returns the length, 0 when they do not fit. */
static size_t format_head(gort_http_response *w, char *buf, size_t cap,
                          bool final)
{
    struct out o = {.p = buf, .cap = cap};
    bool http11 = w->req->head->version_minor >= 1;
    /* A head written once shutdown has begun says "close", as net/http's
     * (doKeepAlives is false then), unless a pipelined request read
     * before it still waits for its answer on this connection. */
    if (!w->close_after && !w->pipelined &&
        atomic_load(&w->c->srv->shutting_down))
        w->close_after = true;
    /* A handler that says "close" is taken at its word (RFC 9112 §9.6:
     * the connection closes after this response). */
    bool handler_close = handler_closes(w);
    if (handler_close)
        w->close_after = true;
    bool no_body = w->status == 204 || w->status == 304 || w->status < 200;
    bool no_length = no_body || (w->head_only && w->blen == 0 && final);
    if (!no_body && !(w->has & HAS_CLEN) && !(final && !w->te_chunked) &&
        !http11)
        w->close_after = true; /* HTTP/1.0: the close ends the body */
    put_status(&o, http11, w->status);
    for (size_t i = 0; i < w->nh; i++)
        if (w->hname[i] && !(no_body && suppressed(w, i, w->status)) &&
            !connection_dropped(w, i, handler_close))
            put_header(&o, w, i);
    if (!(w->has & HAS_DATE))
        put_str(&o, date_line());
    /* net/http names a type only for a body that has bytes (it sniffs the
     * first write): an empty 200 goes out with Content-Length: 0 alone. */
    if (!no_body && w->body_written > 0 && !(w->has & HAS_CTYPE)) {
        put_str(&o, "Content-Type: ");
        put_str(&o, sniffed_type(w));
        put_bytes(&o, "\r\n", 2);
    }
    /* A HEAD the handler wrote nothing for gets no length: net/http's
     * rule, since RFC 9110 §9.3.2 wants the GET's length or none. */
    if (!no_length && !(w->has & HAS_CLEN)) {
        if (final && !w->te_chunked) {
            put_str(&o, "Content-Length: ");
            put_uint(&o, w->blen);
            put_bytes(&o, "\r\n", 2);
        } else if (http11) {
            w->chunked = true;
            put_str(&o, "Transfer-Encoding: chunked\r\n");
        }
    }
    /* HTTP/1.0 closes by default, so net/http says "close" only to 1.1
     * clients, and "keep-alive" to a 1.0 client that asked for it (unless
     * the handler set a Connection field of its own). */
    if (w->close_after) {
        if (http11 && !handler_close)
            put_str(&o, "Connection: close\r\n");
    } else if (!http11 && !(w->has & HAS_CONN)) {
        put_str(&o, "Connection: keep-alive\r\n");
    }
    put_bytes(&o, "\r\n", 2);
    return o.overflow ? 0 : o.len;
}

/* One flush: what precedes (the head, or nothing), then data framed as a
 * chunk when the body is chunked, then the last chunk when last: all in one
 * writev, as Go's bufio.Writer over its chunkWriter flushes. */
static int emit(gort_http_response *w, const char *pre, size_t prelen,
                const char *data, size_t dlen, bool last)
{
    struct iovec iov[5];
    char hdr[24];
    int n = 0;
    if (w->head_only)
        dlen = 0;
    if (prelen)
        iov[n++] = (struct iovec){(void *)pre, prelen};
    if (dlen && w->chunked) {
        int hl = snprintf(hdr, sizeof hdr, "%zx\r\n", dlen);
        iov[n++] = (struct iovec){hdr, (size_t)hl};
    }
    if (dlen)
        iov[n++] = (struct iovec){(void *)data, dlen};
    if (dlen && w->chunked)
        iov[n++] = (struct iovec){(void *)"\r\n", 2};
    if (last && w->chunked && !w->head_only)
        iov[n++] = (struct iovec){(void *)"0\r\n\r\n", 5};
    if (n == 0)
        return 0;
    ssize_t rc = http_conn_sendv(w->c, iov, n);
    return rc < 0 ? (int)rc : 0;
}

/* Sends the head and the buffered body. final: nothing more will come, so
 * the length is known (and a chunked body ends in the same write). */
static int send_buffered(gort_http_response *w, bool final)
{
    char stack[HTTP_RESP_ARENA + 512], *heap;
    if (!w->status)
        w->status = 200;
    /* The handler is done with a body it left unread: drain it now, as
     * net/http does before the head (up to 256 KiB), so that a body that
     * cannot be drained (broken chunks, too long, a 100-continue never
     * answered) makes this head say "close" instead of the connection
     * closing after a head that promised to keep it. A streaming head
     * (not final) leaves the body to the handler, which may still read
     * it (full duplex; Go would discard it here). */
    if (final && !w->close_after && !http_request_drain(w->req))
        w->close_after = true;
    size_t cap;
    char *head = head_buf(w, stack, sizeof stack, &cap, &heap);
    size_t hlen = head ? format_head(w, head, cap, final) : 0;
    if (hlen == 0) {
        free(heap);
        return head ? -ENOSPC : -ENOMEM;
    }
    w->wrote_header = true;
    int rc = emit(w, head, hlen, w->body, w->blen, final);
    free(heap);
    w->blen = 0;
    return rc;
}

/* After the head: the buffered bytes go out as one chunk (or raw). */
static int flush_body(gort_http_response *w, bool last)
{
    int rc = emit(w, NULL, 0, w->body, w->blen, last);
    w->blen = 0;
    return rc;
}

/* After the head, bytes are buffered as Go's bufio.Writer does: a full
 * buffer is flushed as one chunk, and a write at least a buffer long
 * meeting an empty buffer goes out whole as its own chunk. A handler
 * writing a byte at a time costs one writev per HTTP_BODY_BUF bytes. */
static int buffer_body(gort_http_response *w, const char *p, size_t n)
{
    while (n > sizeof w->body - w->blen) {
        size_t took;
        int rc;
        if (w->blen == 0) {
            took = n;
            rc = emit(w, NULL, 0, p, n, false);
        } else {
            took = sizeof w->body - w->blen;
            memcpy(w->body + w->blen, p, took);
            w->blen += took;
            rc = flush_body(w, false);
        }
        if (rc < 0)
            return rc;
        p += took;
        n -= took;
    }
    memcpy(w->body + w->blen, p, n);
    w->blen += n;
    return 0;
}

static bool body_allowed(int status)
{
    return status >= 200 && status != 204 && status != 304;
}

static int fail(gort_http_response *w, int rc)
{
    w->failed = true;
    w->close_after = true;
    return rc;
}

ssize_t gort_http_write(gort_http_response *w, const void *buf, size_t n)
{
    if (w->failed)
        return -ECONNRESET;
    if (!w->status)
        w->status = 200;
    /* net/http's ErrBodyNotAllowed: bytes after a 1xx, 204 or 304 head
     * would be read as the next response. */
    if (!body_allowed(w->status))
        return -EINVAL;
    /* ErrContentLength: past the declared length the bytes would too. */
    if (w->content_length >= 0 &&
        w->body_written + (int64_t)n > w->content_length)
        return -EMSGSIZE;
    w->body_written += (int64_t)n;
    if (w->wrote_header && w->head_only)
        return (ssize_t)n; /* HEAD: counted, never sent */
    if (!w->wrote_header && w->blen + n <= sizeof w->body) {
        memcpy(w->body + w->blen, buf, n);
        w->blen += n;
        return (ssize_t)n;
    }
    int rc = 0;
    if (!w->wrote_header) {
        w->pend = buf;
        w->pend_len = n;
        rc = send_buffered(w, false);
        w->pend = NULL;
        w->pend_len = 0;
    }
    if (rc == 0)
        rc = buffer_body(w, buf, n);
    return rc < 0 ? fail(w, rc) : (ssize_t)n;
}

int gort_http_vprintf(gort_http_response *w, const char *fmt, va_list ap)
{
    char small[1024];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0) {
        va_end(ap2);
        return -EINVAL;
    }
    char *p = small;
    if ((size_t)n >= sizeof small) {
        p = malloc((size_t)n + 1);
        if (!p) {
            va_end(ap2);
            return -ENOMEM;
        }
        vsnprintf(p, (size_t)n + 1, fmt, ap2);
    }
    va_end(ap2);
    ssize_t rc = gort_http_write(w, p, (size_t)n);
    if (p != small)
        free(p);
    return rc < 0 ? (int)rc : n;
}

int gort_http_printf(gort_http_response *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = gort_http_vprintf(w, fmt, ap);
    va_end(ap);
    return rc;
}

int gort_http_println(gort_http_response *w, const char *s)
{
    ssize_t rc = gort_http_write(w, s, strlen(s));
    if (rc >= 0)
        rc = gort_http_write(w, "\n", 1);
    return rc < 0 ? (int)rc : 0;
}

int gort_http_flush(gort_http_response *w)
{
    if (w->failed)
        return -ECONNRESET;
    int rc = w->wrote_header ? flush_body(w, false) : send_buffered(w, false);
    return rc < 0 ? fail(w, rc) : 0;
}

void gort_http_error(gort_http_response *w, const char *msg, int status)
{
    gort_http_del_header(w, "Content-Length");
    gort_http_set_header(w, "Content-Type", "text/plain; charset=utf-8");
    gort_http_set_header(w, "X-Content-Type-Options", "nosniff");
    gort_http_write_header(w, status);
    gort_http_println(w, msg);
}

void gort_http_abort(gort_http_response *w, const char *why)
{
    glog_error("handler aborted", GLOG_STR("method", w->req->method),
               GLOG_STR("target", w->req->target),
               GLOG_STR("peer", w->c->remote),
               GLOG_STR("reason", why ? why : "(no reason)"));
    w->aborted = true;
    longjmp(*w->abort_jb, 1);
}

/* A handler that declared a Content-Length and wrote less leaves the
 * client waiting for bytes that will never come: the connection closes
 * after the response (net/http does the same), and the log says why. */
static void short_body_check(gort_http_response *w)
{
    if (w->content_length < 0 || w->head_only ||
        !body_allowed(w->status ? w->status : 200) ||
        w->body_written >= w->content_length)
        return;
    glog_warn("handler wrote less than its Content-Length",
              GLOG_STR("method", w->req->method),
              GLOG_STR("target", w->req->target),
              GLOG_INT("declared", w->content_length),
              GLOG_INT("written", w->body_written));
    w->close_after = true;
}

/* Completes the response after the handler returned: everything buffered
 * goes out with its length, or the chunked body gets its last chunk. */
int http_response_finish(struct gort_http_response *w)
{
    if (w->failed)
        return -ECONNRESET;
    short_body_check(w);
    int rc = w->wrote_header ? flush_body(w, true) : send_buffered(w, true);
    return rc < 0 ? fail(w, rc) : 0;
}

int http_simple_response(struct http_conn *c, int status, const char *detail,
                         const char *extra, const char *body, bool close)
{
    char buf[1024];
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(buf, sizeof buf,
                     "HTTP/1.1 %d %s%s%s\r\n%s%sContent-Type: text/plain; "
                     "charset=utf-8\r\nContent-Length: %zu\r\n%s\r\n",
                     status, gort_http_status_text(status), detail ? ": " : "",
                     detail ? detail : "", date_line(), extra ? extra : "",
                     blen, close ? "Connection: close\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof buf)
        return -ENOSPC;
    return conn_write2(c, buf, (size_t)n, body ? body : "", blen);
}
