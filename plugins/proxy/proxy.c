/* proxy — a reverse proxy on the public SDK alone (nginx's proxy_pass
 * without a URI, Go's httputil.ReverseProxy).
 *
 * Configuration: proxy.conf next to proxy.so, one directive per line,
 * '#' starts a comment:
 *
 *     timeout 30s                         # default for the mappings below
 *     keepalive 32                        # idle upstream connections kept
 *                                         # per upstream (Go's 2 is too few
 *                                         # in front of a busy service)
 *     /         http://127.0.0.1:9000
 *     /api/     http://127.0.0.1:8081  timeout=2s
 *     GET /img/ http://10.0.0.7
 *
 * A mapping is a mux pattern (anything before the upstream: a method and
 * a host may be part of it) and an upstream http[s]://HOST[:PORT] with no
 * path: the request's path and query go to the upstream unchanged.
 * timeout bounds the connect and the wait for the response head (Go's
 * ResponseHeaderTimeout), not the body: a long download is not cut. A bad
 * line refuses the plugin with "proxy.conf:LINE: what is wrong"; without a
 * proxy.conf (or with no mapping in it) the plugin refuses to load, so
 * `make run`, which loads every bundled plugin, goes on without it.
 *
 * A request. The request head is copied without the hop-by-hop fields
 * (Connection and the fields it names, Keep-Alive, Proxy-Connection,
 * Proxy-Authenticate, Proxy-Authorization, TE but "trailers", Trailer,
 * Transfer-Encoding, Upgrade: Go's list) and with X-Forwarded-For
 * appended to, X-Forwarded-Host and X-Forwarded-Proto set; Host is the
 * client's, as in Go. The body is streamed to the upstream as the client
 * sends it (a body reader: Content-Length kept, chunked stays chunked), and
 * the response streams back through a 32 KiB buffer (a 2 KiB one on the
 * stack for a body known to fit, so a small answer costs no allocation),
 * flushed after every read when its length is unknown (Go's FlushInterval
 * -1 then), so neither body is ever held whole. The hop-by-hop decision
 * walks each head once to collect its Connection values first, so copying
 * a head stays linear in its fields. Upstream connections are kept alive by one
 * client (and its pool) per mapping.
 *
 * Errors: the upstream refusing, resetting or answering garbage is 502, a
 * timeout 504; a broken request body is 400 (413 past gortd's limit). An
 * upstream that dies mid-body cuts the client's connection (Go's
 * ErrAbortHandler), so the client sees a truncated response, never a
 * short one that looks complete. A client that goes away mid-response
 * ends the copy at the next write and closes the upstream connection,
 * which tells the upstream. While the upstream is still thinking, the
 * request's context (gort_http_request_ctx, cancelled when the client
 * closes) rides on the upstream call, so a client that leaves abandons it
 * at once, as Go's ReverseProxy does with r.Context().
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gort/plugin.h"
#include "proxyconf.h"

#define SEC 1000000000LL
#define COPY_BUF (32 * 1024) /* a body longer than SMALL_BUF: heap */
#define SMALL_BUF 2048       /* on the handler's stack (64 KiB) */
#define URL_BUF 1024         /* the upstream URL, on the stack */
#define DEFAULT_TIMEOUT (60 * SEC)
#define DEFAULT_KEEPALIVE 32

/* ---- hop-by-hop fields --------------------------------------------------- */

/* Go's list. The length picks the candidates: most fields are none of
 * these, and a length that no entry has settles that without a compare. */
static bool hop_by_hop(const char *name, size_t n)
{
    switch (n) {
    case 2:
        return strcasecmp(name, "Te") == 0;
    case 7:
        return strcasecmp(name, "Trailer") == 0 ||
               strcasecmp(name, "Upgrade") == 0;
    case 10:
        return strcasecmp(name, "Connection") == 0 ||
               strcasecmp(name, "Keep-Alive") == 0;
    case 16:
        return strcasecmp(name, "Proxy-Connection") == 0;
    case 17:
        return strcasecmp(name, "Transfer-Encoding") == 0;
    case 18:
        return strcasecmp(name, "Proxy-Authenticate") == 0;
    case 19:
        return strcasecmp(name, "Proxy-Authorization") == 0;
    default:
        return false;
    }
}

/* Whether a Connection value (a comma list of tokens) names field (fn
 * bytes). */
static bool names_field(const char *conn, const char *field, size_t fn)
{
    while (conn && *conn) {
        while (*conn == ' ' || *conn == '\t' || *conn == ',')
            conn++;
        size_t n = strcspn(conn, ",");
        size_t t = n;
        while (t > 0 && (conn[t - 1] == ' ' || conn[t - 1] == '\t'))
            t--;
        if (t == fn && strncasecmp(conn, field, fn) == 0)
            return true;
        conn += n;
    }
    return false;
}

/* A message's fields, walked by index: at(msg, i, &value) is the name of
 * field i, NULL past the last. */
typedef const char *(*field_at)(const void *msg, size_t i, const char **v);

/* The values of a message's Connection fields, collected in one walk, so
 * deciding each field is dropped costs no walk of the message (a scan per
 * field made copying a head quadratic in its fields). A message with more
 * Connection fields than fit keeps walking: `more`. */
#define CONN_VALUES 8
struct hop_set {
    const void *msg;
    field_at at;
    const char *conn[CONN_VALUES];
    size_t nconn;
    bool more;
};

static void hop_collect(struct hop_set *hs, const void *msg, field_at at)
{
    const char *n, *v;
    hs->msg = msg;
    hs->at = at;
    hs->nconn = 0;
    hs->more = false;
    for (size_t i = 0; (n = at(msg, i, &v)); i++)
        if (strlen(n) == 10 && strcasecmp(n, "Connection") == 0) {
            if (hs->nconn == CONN_VALUES)
                hs->more = true;
            else
                hs->conn[hs->nconn++] = v;
        }
}

/* A field that does not travel past this hop: Go's list, and any field a
 * Connection field of the same message names. */
static bool dropped(const struct hop_set *hs, const char *name, size_t nl)
{
    if (hop_by_hop(name, nl))
        return true;
    for (size_t i = 0; i < hs->nconn; i++)
        if (names_field(hs->conn[i], name, nl))
            return true;
    if (!hs->more)
        return false;
    const char *n, *v;
    for (size_t i = 0; (n = hs->at(hs->msg, i, &v)); i++)
        if (strcasecmp(n, "Connection") == 0 && names_field(v, name, nl))
            return true;
    return false;
}

static const char *req_at(const void *r, size_t i, const char **v)
{
    return gort_http_header_at(r, i, v);
}

static const char *resp_at(const void *rs, size_t i, const char **v)
{
    return gort_http_cresp_header_at(rs, i, v);
}

/* name (nl bytes) is s, ignoring case. */
static bool is_field(const char *name, size_t nl, const char *s, size_t sl)
{
    return nl == sl && strcasecmp(name, s) == 0;
}

/* ---- the outbound request ------------------------------------------------ */

struct call {
    gort_http_request *r;
    int body_err; /* the client's body failed: not the upstream's fault */
};

static ssize_t client_body(void *arg, void *buf, size_t n)
{
    struct call *k = arg;
    ssize_t got = gort_http_body_read(k->r, buf, n);
    if (got < 0)
        k->body_err = (int)got;
    return got;
}

/* X-Forwarded-For as it is built: on the stack while it fits (nearly
 * always), else on the heap. Never cut: the client's IP the proxy appends
 * is the one entry an upstream may trust, and a cut chain lost it. */
struct xff {
    char *p;
    size_t len, cap;
    bool failed;
    char small[1024];
};

static void xff_put(struct xff *x, const char *s, size_t n)
{
    if (x->failed)
        return;
    if (x->len + n + 1 > x->cap) {
        size_t cap = 2 * (x->len + n + 1);
        char *p = x->p == x->small ? malloc(cap) : realloc(x->p, cap);
        if (!p) {
            x->failed = true;
            return;
        }
        if (x->p == x->small)
            memcpy(p, x->small, x->len);
        x->p = p;
        x->cap = cap;
    }
    memcpy(x->p + x->len, s, n);
    x->len += n;
    x->p[x->len] = '\0';
}

/* The client's IP: its address without the port (and an IPv6 one without
 * the brackets). */
static const char *client_ip(gort_http_request *r, size_t *an)
{
    const char *addr = gort_http_remote_addr(r);
    const char *colon = strrchr(addr, ':');
    *an = colon ? (size_t)(colon - addr) : strlen(addr);
    if (*an >= 2 && addr[0] == '[')
        addr++, *an -= 2;
    return addr;
}

/* The end-to-end fields, in one walk of the request's head, which also
 * gathers what the proxy writes itself: Go's ReverseProxy keeps "TE:
 * trailers" (the upstream may send trailers only to a client that said it
 * reads them), and X-Forwarded-For is every earlier value, then this
 * client's IP. */
static int forward_fields(gort_http_creq *rq, gort_http_request *r)
{
    const char *n, *v;
    struct xff x;
    bool trailers = false, agent = false, host = false;
    int rc = 0;
    struct hop_set hs;
    hop_collect(&hs, r, req_at);
    x.p = x.small, x.len = 0, x.cap = sizeof x.small, x.failed = false;
    x.small[0] = '\0';
    /* Content-Length is the client's to write (the body reader's length);
     * Expect is answered here (gort_http_body_read sends 100 Continue). */
    for (size_t i = 0; rc == 0 && (n = gort_http_header_at(r, i, &v)); i++) {
        size_t nl = strlen(n);
        if (is_field(n, nl, "X-Forwarded-For", 15)) {
            xff_put(&x, v, strlen(v));
            xff_put(&x, ", ", 2);
        } else if (is_field(n, nl, "Te", 2)) {
            trailers = trailers || names_field(v, "trailers", 8);
        } else if (is_field(n, nl, "Host", 4)) {
            host = true; /* one at most: the parser refuses two */
            if (gort_http_host(r)[0])
                rc = gort_http_creq_add_header(rq, "Host", gort_http_host(r));
        } else if (!dropped(&hs, n, nl) &&
                   !is_field(n, nl, "Content-Length", 14) &&
                   !is_field(n, nl, "Expect", 6)) {
            agent = agent || is_field(n, nl, "User-Agent", 10);
            rc = gort_http_creq_add_header(rq, n, v);
        }
    }
    /* The client's host goes on, as Go's ReverseProxy sends it (above,
     * in the Host field's place): the target's authority for an
     * absolute-form request (RFC 9112 §3.2.2: it replaces Host), else the
     * Host field. None (HTTP/1.0): the upstream's, from its URL. */
    if (rc == 0 && !host && gort_http_host(r)[0])
        rc = gort_http_creq_add_header(rq, "Host", gort_http_host(r));
    /* A client that sent no User-Agent gets none added for it. */
    if (rc == 0 && !agent)
        rc = gort_http_creq_add_header(rq, "User-Agent", "");
    if (rc == 0 && trailers)
        rc = gort_http_creq_set_header(rq, "TE", "trailers");
    size_t an;
    const char *ip = client_ip(r, &an);
    xff_put(&x, ip, an);
    if (rc == 0)
        rc = x.failed ? -ENOMEM
                      : gort_http_creq_set_header(rq, "X-Forwarded-For", x.p);
    if (x.p != x.small)
        free(x.p);
    if (rc == 0 && gort_http_host(r)[0])
        rc = gort_http_creq_set_header(rq, "X-Forwarded-Host",
                                       gort_http_host(r));
    if (rc == 0)
        rc = gort_http_creq_set_header(rq, "X-Forwarded-Proto",
                                       gort_http_tls(r) ? "https" : "http");
    return rc;
}

/* The request's body, streamed: Content-Length kept, chunked stays
 * chunked (length -1), none when the client sent none. */
static int forward_body(gort_http_creq *rq, struct call *k)
{
    int64_t cl = gort_http_content_length(k->r);
    if (cl > 0)
        return gort_http_creq_set_body_reader(rq, client_body, k, cl);
    if (cl < 0 && gort_http_header(k->r, "Transfer-Encoding"))
        return gort_http_creq_set_body_reader(rq, client_body, k, -1);
    return 0;
}

/* The request's context cancels the upstream call when the client goes
 * away, also while the upstream is still thinking (the mapping's timeout
 * bounds the rest). */
static int proxy_bind(gort_http_creq *rq, gort_http_request *r)
{
    return gort_http_creq_set_ctx(rq, gort_http_request_ctx(r));
}

/* The upstream URL: the route's upstream, then the request's path and
 * query unchanged ("?" with an empty query is kept). Built in buf when it
 * fits (the common case costs no allocation), else in *heap, which the
 * caller frees. */
/* Bytes a request-target may not hold as they are (controls, space,
 * DEL, non-ASCII): the parser lets obs-text through, the client's URL
 * does not, so they go %-escaped, as Go's ReverseProxy sends them. */
static bool unsafe_byte(unsigned char c)
{
    return c <= 0x20 || c >= 0x7f;
}

static size_t unsafe_count(const char *s)
{
    size_t k = 0;
    for (; *s; s++)
        k += unsafe_byte((unsigned char)*s);
    return k;
}

/* Copies s to d, %-escaping unsafe bytes; returns the end of d. */
static char *put_escaped(char *d, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!unsafe_byte(c)) {
            *d++ = (char)c;
            continue;
        }
        *d++ = '%';
        *d++ = hex[c >> 4];
        *d++ = hex[c & 15];
    }
    return d;
}

static const char *upstream_url(const struct proxy_route *rt,
                                gort_http_request *r, char *buf, size_t cap,
                                char **heap)
{
    const char *path = gort_http_path(r), *query = gort_http_query(r);
    bool q = strchr(gort_http_target(r), '?') != NULL;
    size_t ul = strlen(rt->upstream), pl = strlen(path), ql = strlen(query);
    size_t n =
        ul + pl + q + ql + 1 + 2 * (unsafe_count(path) + unsafe_count(query));
    char *url = n <= cap ? buf : (*heap = malloc(n));
    if (!url)
        return NULL;
    memcpy(url, rt->upstream, ul);
    char *d = put_escaped(url + ul, path);
    memcpy(d, "?", q);
    d = put_escaped(d + q, query);
    *d = '\0';
    return url;
}

static gort_http_creq *outbound(const struct proxy_route *rt,
                                gort_http_request *r, struct call *k)
{
    char buf[URL_BUF], *heap = NULL;
    const char *url = upstream_url(rt, r, buf, sizeof buf, &heap);
    if (!url)
        return NULL;
    gort_http_creq *rq = gort_http_creq_new(gort_http_method(r), url);
    free(heap);
    if (rq && (forward_fields(rq, r) < 0 || forward_body(rq, k) < 0 ||
               proxy_bind(rq, r) < 0)) {
        gort_http_creq_free(rq);
        return NULL;
    }
    return rq;
}

/* ---- the response -------------------------------------------------------- */

static void fail_call(gort_http_response *w, const struct call *k, int rc)
{
    if (k->body_err == -EFBIG)
        gort_http_error(w, "Request Entity Too Large", 413);
    else if (k->body_err)
        gort_http_error(w, "Bad Request", 400);
    else if (rc == -ETIMEDOUT)
        gort_http_error(w, "Gateway Timeout", 504);
    else
        gort_http_error(w, "Bad Gateway", 502);
}

/* Copies the status and the end-to-end fields. A head gortd cannot hold
 * (-ENOSPC: more fields or bytes than a response takes) is taken back
 * whole, so the 502 that replaces it carries none of it. */
static int copy_head(gort_http_response *w, gort_http_cresp *rs)
{
    const char *n, *v;
    int rc = 0;
    bool length = false;
    struct hop_set hs;
    hop_collect(&hs, rs, resp_at);
    for (size_t i = 0; rc == 0 && (n = gort_http_cresp_header_at(rs, i, &v));
         i++) {
        size_t nl = strlen(n);
        /* Repeated Content-Lengths reach here only when they agree (the
         * client refuses others): one goes on, as Go's Transport keeps. */
        bool is_length = is_field(n, nl, "Content-Length", 14);
        if ((is_length && length) || dropped(&hs, n, nl))
            continue;
        length = length || is_length;
        rc = gort_http_copy_header(w, rs, i);
    }
    if (rc < 0) {
        for (size_t i = 0; (n = gort_http_cresp_header_at(rs, i, &v)); i++)
            gort_http_del_header(w, n);
        return rc;
    }
    gort_http_write_header(w, gort_http_cresp_status(rs));
    return 0;
}

/* Streams the body back. A body known to fit in a small buffer on the
 * stack (most API answers) costs no allocation; a longer or unknown one
 * moves to a COPY_BUF heap buffer as soon as a read fills the small one,
 * so a big body still moves in few large reads. 0, or the upstream's read
 * error (the client's going away is not an error here: the copy just
 * stops). */
static int copy_body(gort_http_response *w, gort_http_cresp *rs)
{
    int64_t cl = gort_http_cresp_content_length(rs);
    bool flush = cl < 0, fits = cl >= 0 && cl <= SMALL_BUF;
    char small[SMALL_BUF], *heap = NULL, *buf = small;
    size_t cap = sizeof small;
    ssize_t n;
    while ((n = gort_http_cresp_read(rs, buf, cap)) > 0) {
        if (gort_http_write(w, buf, (size_t)n) < 0)
            break;
        if (flush && gort_http_flush(w) < 0)
            break;
        if (!heap && !fits && (size_t)n == cap) {
            if ((heap = malloc(COPY_BUF)) == NULL) {
                n = -ENOMEM;
                break;
            }
            buf = heap, cap = COPY_BUF;
        }
    }
    free(heap);
    return n < 0 ? (int)n : 0;
}

static void proxy(gort_http_response *w, gort_http_request *r, void *arg)
{
    const struct proxy_route *rt = arg;
    struct call k = {.r = r};
    gort_http_creq *rq = outbound(rt, r, &k);
    gort_http_cresp *rs = NULL;
    if (!rq) {
        gort_http_error(w, "Internal Server Error", 500);
        return;
    }
    int rc = gort_http_do(rt->client, rq, &rs);
    gort_http_creq_free(rq);
    if (rc < 0) {
        fail_call(w, &k, rc);
        return;
    }
    if (copy_head(w, rs) < 0) {
        gort_http_cresp_close(rs);
        gort_http_error(w, "Bad Gateway", 502);
        return;
    }
    rc = copy_body(w, rs);
    gort_http_cresp_close(rs);
    if (rc < 0) {
        /* What came is sent first, so the client sees the upstream's
         * status and a body cut short, not a 500 gortd made up. */
        gort_http_flush(w);
        gort_http_abort(w, "proxy: the upstream's body was cut short");
    }
}

/* ---- lifetime ------------------------------------------------------------ */

static void proxy_free(struct proxy *px)
{
    while (px && px->routes) {
        struct proxy_route *rt = px->routes;
        px->routes = rt->next;
        gort_http_client_free(rt->client);
        free(rt->pattern);
        free(rt->upstream);
        free(rt);
    }
    free(px);
}

static int start(struct gort_plugin_registrar *reg, struct proxy *px)
{
    for (struct proxy_route *rt = px->routes; rt; rt = rt->next) {
        int64_t t = rt->timeout ? rt->timeout : px->timeout;
        struct gort_http_client_opts o = {
            .max_idle_per_host = px->keepalive ? px->keepalive : -1,
            .max_idle = -1,
            .dial_timeout = t,
            .response_header_timeout = t,
        };
        if (!(rt->client = gort_http_client_new(&o)))
            return -ENOMEM;
        int rc = gort_plugin_handle(reg, rt->pattern, proxy, rt);
        if (rc < 0) {
            char why[512];
            snprintf(why, sizeof why, "%s", gort_plugin_error(reg));
            gort_plugin_set_error(reg, "proxy.conf:%d: pattern \"%s\": %s",
                                  rt->line, rt->pattern, why);
            return rc;
        }
    }
    return 0;
}

static int init(struct gort_plugin_registrar *reg, const char *config,
                void **state)
{
    struct proxy *px = calloc(1, sizeof *px);
    if (!px)
        return -ENOMEM;
    px->timeout = DEFAULT_TIMEOUT;
    px->keepalive = DEFAULT_KEEPALIVE;
    char err[1024];
    int rc = config ? proxy_parse_config(px, config, err, sizeof err) : -ENOENT;
    if (rc < 0 && rc != -ENOENT && err[0])
        gort_plugin_set_error(reg, "%s", err);
    if (rc == -ENOENT)
        gort_plugin_set_error(reg, "no proxy.conf next to proxy.so: nothing "
                                   "to proxy (one mapping a line: PATTERN "
                                   "http://HOST[:PORT])");
    else if (rc == 0 && !px->routes)
        rc = -EINVAL,
        gort_plugin_set_error(reg, "proxy.conf: no mapping (one a line: "
                                   "PATTERN http://HOST[:PORT])");
    if (rc == 0)
        rc = start(reg, px);
    if (rc < 0) {
        proxy_free(px);
        return rc;
    }
    *state = px;
    return 0;
}

static void fini(void *state)
{
    proxy_free(state);
}

GORT_PLUGIN("proxy", "1.0.0", init, fini);
