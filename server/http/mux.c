/*
 * http/mux.c — gortd's request multiplexer: Go 1.22 ServeMux patterns, matched
 * by a routing tree that is built off to the side and published by a pointer
 * swap, so that readers never lock.
 *
 * Patterns (Go's pattern.go). "[METHOD ][HOST]/[PATH]"; the path is a list
 * of segments, each one of
 *   SEG_LIT    a literal, kept percent-unescaped ("a%2Fb" is one segment
 *              whose bytes are "a/b"), matched case-sensitively;
 *   SEG_WILD   {name}: one request segment, never the trailing slash;
 *   SEG_MULTI  {name...}, or a trailing '/' (anonymous): the rest of the
 *              path, possibly empty; always last;
 *   SEG_END    {$}: only the trailing slash; always last.
 * A request path is split at its '/' bytes first, then each segment is
 * unescaped on its own, so %2F never splits a segment.
 *
 * Precedence. P1 is more specific than P2 when P1 matches a strict subset of
 * P2's requests. The relation of two patterns is the relation of their
 * methods combined with that of their paths, segment by segment (rel_*,
 * compare_*: the algebra of pattern.go). A pattern that is equivalent to a
 * registered one, or overlaps it with neither more specific, is refused and
 * the message names both plus a request that both match. Patterns with
 * different hosts never conflict: a host pattern is tried first and wins,
 * Go's exception for backward compatibility. Registration compares against
 * every route, O(n); Go keeps an index to prune candidates, but gortd holds
 * hundreds of routes, not millions.
 *
 * The tree (Go's routing_tree.go). Level 0 is keyed by host ("" = any
 * host), level 1 by method ("" = any method), then one level per segment.
 * A node has sorted literal edges, at most one wild, one multi and one end
 * child, and the route that ends there, if any. Matching tries, at each
 * segment, the literal edge, then the wild child, then the multi child,
 * backtracking on failure. Because no two registered patterns conflict, the
 * first route found in this order is the most specific one: a literal at a
 * position beats a wildcard there, or the two patterns would overlap. For
 * the same reason hosts are tried as the request's host then any host, and
 * methods as the exact method, GET for HEAD, then any method.
 *
 * No allocation and no lock on the match path. Literal edges are compared
 * with the request segment while it is unescaped on the fly. Wildcard values
 * are unescaped into the caller's buffer at the offsets of their segments in
 * the path (unescaping never lengthens), so values cannot overlap and each
 * has room for its NUL where its '/' was; a redirect's Location goes after
 * them. A walk visits a node at most once (its depth fixes the segment it
 * sees), so the worst case is the size of the tree and the usual case one
 * node and one binary search per segment; recursion is bounded by the
 * longest pattern (MUX_MAX_SEGMENTS), never by the request.
 *
 * Publishing. A mux is mutated only before it is published. The server
 * holds one pointer to the current mux (stored with release, loaded with
 * acquire); to change the routes a writer clones the current mux, registers
 * and removes on the clone (each call all or nothing, so a plugin's route set
 * is published whole or not at all), then swaps the pointer. Writers take
 * one lock among themselves so that no update is lost; readers take none.
 * The swapper frees the old mux once no request can still be matching on
 * it or using its strings (the server's in-flight count per generation,
 * which a plugin unload waits for anyway). Rejected: a read-write lock (every
 * request would write the lock's cache line) and in-place updates (a reader
 * could see half a plugin).
 *
 * Where gort differs from Go, on purpose. {$} is its own kind, not the
 * literal "/": for Go, "/a/%2F" and "/a/{$}" are one pattern and a request
 * segment "%2F" never matches {x}; here "%2F" is an ordinary segment. A
 * Location keeps the request's own escaping (Go unescapes and re-escapes).
 * Wildcard names are ASCII C identifiers (Go: Unicode letters too). Limits
 * Go lacks: MUX_MAX_VALUES, MUX_MAX_SEGMENTS, MUX_ALLOW_MAX.
 * Registration returns an error where Go panics.
 */
#include "http/mux.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum seg_kind { SEG_LIT, SEG_WILD, SEG_MULTI, SEG_END };

/* One path segment of a pattern; s lives in the route's text. */
struct seg {
    enum seg_kind kind;
    const char *s; /* LIT: the unescaped literal; WILD, MULTI: the name, ""
                      when anonymous; END: "" */
    size_t len;
};

/* A registered pattern: one allocation, immutable once registered. */
struct route {
    const char *pattern; /* as registered */
    const char *method;  /* "" = every method */
    size_t method_len;
    const char *host; /* "" = every host */
    size_t host_len;
    struct seg *segs; /* at least one */
    size_t nsegs;
    size_t nnamed; /* named wildcards, <= MUX_MAX_VALUES */
    void *handler;
    void *arg;
    const void *owner;
};

struct node;

/* A literal edge. key points into the child, which owns it. */
struct edge {
    const char *key;
    size_t len;
    struct node *child;
};

/* A tree node. Owned by its parent; the root by the mux. */
struct node {
    const struct route *route; /* the pattern that ends here, or NULL */
    struct edge *edges;        /* sorted by key_cmp */
    size_t nedges, cap;
    struct node *wild;  /* {name} */
    struct node *multi; /* {name...} or a trailing '/': a leaf */
    struct node *end;   /* {$}: a leaf */
    char key[];         /* the key of the edge to this node */
};

struct mux {
    struct route **routes; /* in registration order; owned */
    size_t nroutes, cap;
    struct node *root; /* level 0: hosts; owned */
};

/* Keeps a slow path out of its caller's frame (the 405 path alone holds a
 * 1.4 KiB method set): matching runs on goroutine stacks. */
#define MUX_SLOW __attribute__((noinline, cold))

static const char empty[] = "";
static const struct node empty_root;

static void mux_fatal(const char *fn, const char *what, const char *a,
                      const char *b)
{
    fprintf(stderr, "gort: fatal error: %s: %s (\"%s\", \"%s\")\n", fn, what, a,
            b);
    abort();
}

static bool str_is(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

/* ---- bytes: escapes, order, character classes ---------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static unsigned char hexbyte(const char *s)
{
    return (unsigned char)(hexval(s[0]) << 4 | hexval(s[1]));
}

/* True when s holds a '%' and every '%' starts a valid escape. A segment
 * with a malformed escape is used verbatim, as url.PathUnescape's caller in
 * Go does when it fails. */
static bool has_escapes(const char *s, size_t n)
{
    const char *pct = memchr(s, '%', n);

    if (!pct)
        return false;
    for (size_t i = (size_t)(pct - s); i < n; i++) {
        if (s[i] != '%')
            continue;
        if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
            return false;
        i += 2;
    }
    return true;
}

/* Writes the unescaped form of s to dst (which must not overlap s) and
 * returns its length, never more than n. */
static size_t unescape(const char *s, size_t n, char *dst)
{
    size_t w = 0;

    if (!has_escapes(s, n)) {
        memcpy(dst, s, n);
        return n;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            dst[w++] = (char)hexbyte(s + i + 1);
            i += 2;
        } else {
            dst[w++] = s[i];
        }
    }
    return w;
}

/* Alphabetical order, a prefix first: the order of an Allow list. */
static int str_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);

    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* The order of literal edges: shorter first, then bytewise. Any total order
 * would do; this one settles most comparisons on the length, and segments
 * are too short for a call to memcmp to pay. */
static int key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return alen < blen ? -1 : 1;
    for (size_t i = 0; i < alen; i++) {
        if (a[i] != b[i])
            return (unsigned char)a[i] < (unsigned char)b[i] ? -1 : 1;
    }
    return 0;
}

/* A request segment as literal lookups see it. */
struct segref {
    const char *s; /* escaped, as in the path */
    size_t n;
    size_t ulen; /* length once unescaped */
    bool esc;    /* holds escapes, all valid: compare unescaped */
};

/* key_cmp of the unescaped segment against key, unescaping on the fly. */
static int seg_key_cmp(const struct segref *g, const char *key, size_t klen)
{
    if (!g->esc)
        return key_cmp(g->s, g->n, key, klen);
    if (g->ulen != klen)
        return g->ulen < klen ? -1 : 1;
    for (size_t i = 0, k = 0; k < klen; k++) {
        unsigned char c = (unsigned char)g->s[i];
        unsigned char d = (unsigned char)key[k];

        if (c == '%') {
            c = hexbyte(g->s + i + 1);
            i += 3;
        } else {
            i++;
        }
        if (c != d)
            return c < d ? -1 : 1;
    }
    return 0;
}

/* RFC 9110 token: a method. */
static bool is_token(const char *s, size_t n)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~";

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
            !(c >= '0' && c <= '9') && !(c && strchr(tchar, c)))
            return false;
    }
    return n > 0;
}

/* A C identifier: a wildcard name. */
static bool is_ident(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool alpha =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';

        if (!alpha && (i == 0 || !(c >= '0' && c <= '9')))
            return false;
    }
    return n > 0;
}

/* ---- paths and hosts ----------------------------------------------------- */

/* True when p is its own cleaned form: rooted, no empty, "." or ".."
 * element; a trailing '/' is allowed. */
static bool path_is_clean(const char *p, size_t n)
{
    if (n == 0 || p[0] != '/')
        return false;
    for (size_t i = 0; i < n; i++) {
        size_t j = i + 1, d;

        if (p[i] != '/' || j == n)
            continue;
        if (p[j] == '/')
            return false;
        if (p[j] != '.')
            continue;
        d = j + 1 < n && p[j + 1] == '.' ? j + 2 : j + 1; /* after . or .. */
        if (d == n || p[d] == '/')
            return false;
    }
    return true;
}

/* Writes Go's cleanPath(p) to out (room for n + 2) and returns its length:
 * path.Clean of "/" + p, with a trailing '/' kept. */
static size_t clean_path(const char *p, size_t n, char *out)
{
    size_t w = 1;

    out[0] = '/';
    for (size_t i = 0; i < n;) {
        const char *slash = memchr(p + i, '/', n - i);
        size_t e = slash ? (size_t)(slash - p) : n;
        size_t el = e - i;

        if (el == 2 && p[i] == '.' && p[i + 1] == '.') {
            while (w > 1 && out[w - 1] != '/')
                w--;
            w = w > 1 ? w - 1 : 1;
        } else if (el > 0 && !(el == 1 && p[i] == '.')) {
            if (w > 1)
                out[w++] = '/';
            memcpy(out + w, p + i, el);
            w += el;
        }
        i = e + 1;
    }
    if (n > 0 && p[n - 1] == '/' && w > 1)
        out[w++] = '/';
    return w;
}

/* Go's stripHostPort: "host:port" -> "host", "[::1]:80" -> "::1"; anything
 * net.SplitHostPort rejects stays as it is. */
static void strip_port(const char **host, size_t *len)
{
    const char *h = *host, *colon = NULL;

    for (size_t i = *len; i > 0 && !colon; i--)
        colon = h[i - 1] == ':' ? h + i - 1 : NULL;
    if (!colon)
        return;
    if (h[0] == '[') {
        const char *rb = memchr(h, ']', *len);

        if (rb && rb + 1 == colon) {
            *host = h + 1;
            *len = (size_t)(rb - h - 1);
        }
        return;
    }
    if (memchr(h, ':', *len) == colon)
        *len = (size_t)(colon - h);
}

static size_t count_slashes(const char *p, size_t n)
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++)
        k += p[i] == '/';
    return k;
}

/* ---- messages ------------------------------------------------------------ */

/* A bounded string builder over the caller's err buffer. */
struct sbuf {
    char *p;
    size_t cap, len;
};

__attribute__((format(printf, 2, 3))) static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (!b->p || b->len + 1 >= b->cap)
        return;
    va_start(ap, fmt);
    n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        b->len += (size_t)n < b->cap - b->len ? (size_t)n : b->cap - b->len - 1;
}

/* A literal as a request would spell it: '/' and '%' escaped. */
static void sb_literal(struct sbuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '/' || s[i] == '%')
            sb_printf(b, "%%%02X", (unsigned char)s[i]);
        else
            sb_printf(b, "%c", s[i]);
    }
}

static void sb_init(struct sbuf *b, char *err, size_t errlen)
{
    *b = (struct sbuf){.p = errlen ? err : NULL, .cap = errlen};
    if (b->p)
        b->p[0] = '\0';
}

/* A pattern in quotes, cut short so that the reason after it still fits. */
#define SB_PATTERN_MAX 120

static void sb_pattern(struct sbuf *b, const char *pattern)
{
    size_t n = strlen(pattern);

    if (n <= SB_PATTERN_MAX)
        sb_printf(b, "\"%s\"", pattern);
    else
        sb_printf(b, "\"%.*s...\"", SB_PATTERN_MAX, pattern);
}

/* ---- parsing ------------------------------------------------------------- */

/* Parse state: the route being filled and the next free byte of its text. */
struct parse {
    struct route *r;
    char *text;
    const char *src; /* the pattern being parsed */
    size_t len;
    char *err;
    size_t errlen;
};

__attribute__((format(printf, 3, 4))) static int
parse_fail(const struct parse *ps, size_t off, const char *fmt, ...)
{
    struct sbuf b;
    va_list ap;

    sb_init(&b, ps->err, ps->errlen);
    sb_printf(&b, "parsing ");
    sb_pattern(&b, ps->src);
    sb_printf(&b, ": at offset %zu: ", off);
    if (b.p && b.len + 1 < b.cap) {
        va_start(ap, fmt);
        vsnprintf(b.p + b.len, b.cap - b.len, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* Copies n bytes to the route's text, NUL-terminated. */
static const char *text_put(struct parse *ps, const char *s, size_t n)
{
    char *t = ps->text;

    memcpy(t, s, n);
    t[n] = '\0';
    ps->text += n + 1;
    return t;
}

/* One block: the route, room for its segments, then its text: the pattern,
 * method, host and each segment, every one at most len bytes plus a NUL. */
static int route_alloc(struct parse *ps)
{
    size_t nseg = count_slashes(ps->src, ps->len) + 1;
    size_t size = sizeof(struct route) + nseg * sizeof(struct seg) +
                  3 * (ps->len + 1) + ps->len + nseg;
    struct route *r = calloc(1, size);

    if (!r)
        return -ENOMEM;
    r->segs = (struct seg *)(r + 1);
    r->method = r->host = empty;
    ps->r = r;
    ps->text = (char *)(r->segs + nseg);
    r->pattern = text_put(ps, ps->src, ps->len);
    return 0;
}

/* "METHOD " (one or more spaces or tabs), if there is one. */
static int parse_method(struct parse *ps, size_t *off)
{
    const char *p = ps->src;
    size_t i = strcspn(p, " \t");

    if (p[i] == '\0')
        return 0;
    if (!is_token(p, i))
        return parse_fail(ps, 0, "invalid method \"%.*s\"", (int)i, p);
    ps->r->method = text_put(ps, p, i);
    ps->r->method_len = i;
    *off = i + strspn(p + i, " \t");
    return 0;
}

static int parse_host(struct parse *ps, size_t *off)
{
    const char *rest = ps->src + *off;
    const char *slash = strchr(rest, '/');
    const char *brace;
    size_t n;

    if (!slash)
        return parse_fail(ps, *off, "host/path missing /");
    n = (size_t)(slash - rest);
    brace = memchr(rest, '{', n);
    if (brace)
        return parse_fail(ps, *off + (size_t)(brace - rest),
                          "host contains '{' (missing initial '/'?)");
    if (n) {
        ps->r->host = text_put(ps, rest, n);
        ps->r->host_len = n;
    }
    *off += n;
    return 0;
}

static void seg_add(struct parse *ps, enum seg_kind kind, const char *s,
                    size_t n)
{
    struct route *r = ps->r;

    r->segs[r->nsegs++] = (struct seg){
        .kind = kind, .s = n ? text_put(ps, s, n) : empty, .len = n};
    r->nnamed += (kind == SEG_WILD || kind == SEG_MULTI) && n > 0;
}

static void seg_add_literal(struct parse *ps, const char *s, size_t n)
{
    struct route *r = ps->r;
    char *t = ps->text;
    size_t len = unescape(s, n, t);

    t[len] = '\0';
    ps->text += len + 1;
    r->segs[r->nsegs++] = (struct seg){.kind = SEG_LIT, .s = t, .len = len};
}

static bool name_seen(const struct route *r, const char *name, size_t n)
{
    for (size_t i = 0; i < r->nsegs; i++) {
        const struct seg *s = &r->segs[i];

        if (s->kind != SEG_LIT && s->len == n && !memcmp(s->s, name, n))
            return true;
    }
    return false;
}

/* "{name}", "{name...}" or "{$}" at offset off; last: nothing follows. */
static int parse_wildcard(struct parse *ps, size_t off, const char *seg,
                          size_t n, bool last)
{
    const char *name = seg + 1;
    size_t nl;
    bool multi;

    if (n < 2 || seg[n - 1] != '}')
        return parse_fail(ps, off, "bad wildcard segment (must end with '}')");
    nl = n - 2;
    if (nl == 1 && name[0] == '$') {
        if (!last)
            return parse_fail(ps, off, "{$} not at end");
        seg_add(ps, SEG_END, NULL, 0);
        return 0;
    }
    multi = nl >= 3 && memcmp(name + nl - 3, "...", 3) == 0;
    nl -= multi ? 3 : 0;
    if (multi && !last)
        return parse_fail(ps, off, "{...} wildcard not at end");
    if (nl == 0)
        return parse_fail(ps, off, "empty wildcard");
    if (!is_ident(name, nl))
        return parse_fail(ps, off, "bad wildcard name \"%.*s\"", (int)nl, name);
    if (name_seen(ps->r, name, nl))
        return parse_fail(ps, off, "duplicate wildcard name \"%.*s\"", (int)nl,
                          name);
    if (ps->r->nnamed == MUX_MAX_VALUES)
        return parse_fail(ps, off, "more than %d wildcards", MUX_MAX_VALUES);
    seg_add(ps, multi ? SEG_MULTI : SEG_WILD, name, nl);
    return 0;
}

static int parse_segment(struct parse *ps, size_t off, const char *seg,
                         size_t n, bool last)
{
    const char *brace = memchr(seg, '{', n);

    if (!brace) {
        seg_add_literal(ps, seg, n);
        return 0;
    }
    if (brace != seg)
        return parse_fail(ps, off + (size_t)(brace - seg),
                          "bad wildcard segment (must start with '{')");
    return parse_wildcard(ps, off, seg, n, last);
}

/* The path from offset off on: '/' then segments. */
static int parse_path(struct parse *ps, size_t off)
{
    const char *path = ps->src + off;
    size_t n = ps->len - off;
    const struct route *r = ps->r;
    int rc = 0;

    /* Requests other than CONNECT are cleaned before they are matched. */
    if (r->method_len && !str_is(r->method, r->method_len, "CONNECT") &&
        !path_is_clean(path, n))
        return parse_fail(ps, off,
                          "non-CONNECT pattern with unclean path "
                          "can never match");
    for (size_t i = 0; i < n && rc == 0;) {
        size_t s = i + 1, e = s + strcspn(path + s, "/");

        if (r->nsegs == MUX_MAX_SEGMENTS)
            return parse_fail(ps, off + i, "more than %d segments",
                              MUX_MAX_SEGMENTS);
        if (s == n)
            seg_add(ps, SEG_MULTI, NULL, 0); /* trailing slash: a subtree */
        else
            rc = parse_segment(ps, off + s, path + s, e - s, e == n);
        i = e;
    }
    return rc;
}

/* Parses pattern into a new route (*out), or fails with a message. */
static int route_parse(const char *pattern, char *err, size_t errlen,
                       struct route **out)
{
    struct parse ps = {
        .src = pattern, .len = strlen(pattern), .err = err, .errlen = errlen};
    size_t off = 0;
    int rc;

    if (ps.len == 0)
        return parse_fail(&ps, 0, "empty pattern");
    rc = route_alloc(&ps);
    if (rc == 0)
        rc = parse_method(&ps, &off);
    if (rc == 0)
        rc = parse_host(&ps, &off);
    if (rc == 0)
        rc = parse_path(&ps, off);
    if (rc) {
        free(ps.r);
        return rc;
    }
    *out = ps.r;
    return 0;
}

/* ---- precedence and conflicts -------------------------------------------- */

/* How the request sets of two patterns relate (pattern.go's relationship),
 * always read as "the first is ... the second". */
enum rel {
    REL_EQUIVALENT,    /* the same requests */
    REL_MORE_SPECIFIC, /* a strict subset */
    REL_MORE_GENERAL,  /* a strict superset */
    REL_OVERLAPS,      /* some in common, neither contains the other */
    REL_DISJOINT,      /* none in common */
};

static enum rel rel_inverse(enum rel r)
{
    if (r == REL_MORE_SPECIFIC)
        return REL_MORE_GENERAL;
    if (r == REL_MORE_GENERAL)
        return REL_MORE_SPECIFIC;
    return r;
}

/* The relation of two patterns made of two independent parts, given the
 * relations of their parts. */
static enum rel rel_combine(enum rel a, enum rel b)
{
    switch (a) {
    case REL_EQUIVALENT:
        return b;
    case REL_DISJOINT:
        return REL_DISJOINT;
    case REL_OVERLAPS:
        return b == REL_DISJOINT ? REL_DISJOINT : REL_OVERLAPS;
    case REL_MORE_SPECIFIC:
    case REL_MORE_GENERAL:
        if (b == REL_EQUIVALENT)
            return a;
        return b == rel_inverse(a) ? REL_OVERLAPS : b;
    }
    return REL_DISJOINT;
}

static enum rel compare_methods(const struct route *a, const struct route *b)
{
    bool a_get = str_is(a->method, a->method_len, "GET");
    bool b_get = str_is(b->method, b->method_len, "GET");

    if (a->method_len == b->method_len &&
        !memcmp(a->method, b->method, a->method_len))
        return REL_EQUIVALENT;
    if (a->method_len == 0)
        return REL_MORE_GENERAL;
    if (b->method_len == 0)
        return REL_MORE_SPECIFIC;
    if (a_get && str_is(b->method, b->method_len, "HEAD"))
        return REL_MORE_GENERAL; /* GET matches HEAD too */
    if (b_get && str_is(a->method, a->method_len, "HEAD"))
        return REL_MORE_SPECIFIC;
    return REL_DISJOINT;
}

static enum rel compare_segs(const struct seg *a, const struct seg *b)
{
    if (a->kind == SEG_MULTI || b->kind == SEG_MULTI) {
        if (a->kind == b->kind)
            return REL_EQUIVALENT;
        return a->kind == SEG_MULTI ? REL_MORE_GENERAL : REL_MORE_SPECIFIC;
    }
    /* {$} matches only the trailing slash, which no literal or {name}
     * matches. (Go spells {$} as the literal "/", so for Go "/a/%2F" and
     * "/a/{$}" are the same pattern; here they are disjoint.) */
    if (a->kind == SEG_END || b->kind == SEG_END)
        return a->kind == b->kind ? REL_EQUIVALENT : REL_DISJOINT;
    if (a->kind == SEG_WILD || b->kind == SEG_WILD) {
        if (a->kind == b->kind)
            return REL_EQUIVALENT;
        return a->kind == SEG_WILD ? REL_MORE_GENERAL : REL_MORE_SPECIFIC;
    }
    return key_cmp(a->s, a->len, b->s, b->len) ? REL_DISJOINT : REL_EQUIVALENT;
}

static bool ends_multi(const struct route *r)
{
    return r->segs[r->nsegs - 1].kind == SEG_MULTI;
}

static enum rel compare_paths(const struct route *a, const struct route *b)
{
    size_t n = a->nsegs < b->nsegs ? a->nsegs : b->nsegs;
    enum rel rel = REL_EQUIVALENT;

    if (a->nsegs != b->nsegs && !ends_multi(a) && !ends_multi(b))
        return REL_DISJOINT;
    for (size_t i = 0; i < n && rel != REL_DISJOINT; i++)
        rel = rel_combine(rel, compare_segs(&a->segs[i], &b->segs[i]));
    if (rel == REL_DISJOINT || a->nsegs == b->nsegs)
        return rel;
    /* The shorter one matches the rest of the longer with its multi. */
    if (a->nsegs < b->nsegs && ends_multi(a))
        return rel_combine(rel, REL_MORE_GENERAL);
    if (b->nsegs < a->nsegs && ends_multi(b))
        return rel_combine(rel, REL_MORE_SPECIFIC);
    return REL_DISJOINT;
}

/* The relation of a to b, or REL_DISJOINT when their hosts differ: a host
 * pattern always takes precedence, so the two never conflict. */
static enum rel compare_routes(const struct route *a, const struct route *b)
{
    enum rel rel;

    if (key_cmp(a->host, a->host_len, b->host, b->host_len))
        return REL_DISJOINT;
    rel = compare_methods(a, b);
    if (rel == REL_DISJOINT)
        return rel;
    return rel_combine(rel, compare_paths(a, b));
}

/* The segment a request needs at i to match both overlapping patterns: a
 * literal (or {$}) if either has one there, else a wildcard's name as a
 * sample value; past the shorter pattern, the longer one's. */
static const struct seg *common_seg(const struct route *a,
                                    const struct route *b, size_t i)
{
    const struct seg *x, *y;

    if (i >= a->nsegs || i >= b->nsegs)
        return i < a->nsegs ? &a->segs[i] : &b->segs[i];
    x = &a->segs[i];
    y = &b->segs[i];
    if (x->kind == SEG_LIT || x->kind == SEG_END)
        return x;
    if (y->kind == SEG_LIT || y->kind == SEG_END)
        return y;
    return x->kind == SEG_WILD ? x : y;
}

/* Writes a request that both overlapping patterns a and b match, with the
 * narrower method and their (common) host. */
static void sb_common_request(struct sbuf *sb, const struct route *a,
                              const struct route *b)
{
    const struct route *m = compare_methods(a, b) == REL_MORE_GENERAL ? b : a;
    size_t n = a->nsegs > b->nsegs ? a->nsegs : b->nsegs;

    if (m->method_len)
        sb_printf(sb, "%.*s ", (int)m->method_len, m->method);
    sb_printf(sb, "%.*s", (int)a->host_len, a->host);
    for (size_t i = 0; i < n; i++) {
        const struct seg *s = common_seg(a, b, i);

        sb_printf(sb, "/");
        if (s->kind == SEG_LIT || s->kind == SEG_WILD)
            sb_literal(sb, s->s, s->len);
    }
}

static int conflict_fail(const struct route *nr, const struct route *old,
                         enum rel rel, char *err, size_t errlen)
{
    struct sbuf sb;

    sb_init(&sb, err, errlen);
    sb_printf(&sb, "pattern ");
    sb_pattern(&sb, nr->pattern);
    sb_printf(&sb, " conflicts with pattern ");
    sb_pattern(&sb, old->pattern);
    sb_printf(&sb, ": ");
    if (rel == REL_EQUIVALENT && !strcmp(nr->pattern, old->pattern)) {
        sb_printf(&sb, "it is already registered");
    } else if (rel == REL_EQUIVALENT) {
        sb_printf(&sb, "they match the same requests");
    } else {
        sb_printf(&sb, "both match some requests, like \"");
        sb_common_request(&sb, nr, old);
        sb_printf(&sb, "\", and neither is more specific than the other");
    }
    return -EEXIST;
}

/* ---- the tree ------------------------------------------------------------ */

static void node_free(struct node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nedges; i++)
        node_free(n->edges[i].child);
    node_free(n->wild);
    node_free(n->multi);
    node_free(n->end);
    free(n->edges);
    free(n);
}

static struct node *node_new(const char *key, size_t len)
{
    struct node *n = calloc(1, sizeof *n + len + 1);

    if (n && len)
        memcpy(n->key, key, len);
    return n;
}

/* Binary search of n's edges for the key spelled by g. Returns whether it
 * is there; *at gets its index or its place. */
static bool edge_search(const struct node *n, const struct segref *g,
                        size_t *at)
{
    size_t lo = 0, hi = n->nedges;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct edge *e = &n->edges[mid];
        int c = seg_key_cmp(g, e->key, e->len);

        if (c == 0) {
            *at = mid;
            return true;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    *at = lo;
    return false;
}

static const struct node *edge_find(const struct node *n, const char *key,
                                    size_t len)
{
    struct segref g = {.s = key, .n = len, .ulen = len};
    size_t at;

    return edge_search(n, &g, &at) ? n->edges[at].child : NULL;
}

/* The child of n under key, made if missing; NULL when out of memory. */
static struct node *edge_get(struct node *n, const char *key, size_t len)
{
    struct segref g = {.s = key, .n = len, .ulen = len};
    struct node *c;
    size_t at;

    if (edge_search(n, &g, &at))
        return n->edges[at].child;
    if (n->nedges == n->cap) {
        size_t cap = n->cap ? 2 * n->cap : 4;
        struct edge *e = realloc(n->edges, cap * sizeof *e);

        if (!e)
            return NULL;
        n->edges = e;
        n->cap = cap;
    }
    c = node_new(key, len);
    if (!c)
        return NULL;
    memmove(&n->edges[at + 1], &n->edges[at],
            (n->nedges - at) * sizeof *n->edges);
    n->edges[at] = (struct edge){.key = c->key, .len = len, .child = c};
    n->nedges++;
    return c;
}

static struct node *slot_get(struct node **slot)
{
    if (!*slot)
        *slot = node_new(NULL, 0);
    return *slot;
}

static struct node *seg_child(struct node *n, const struct seg *s)
{
    switch (s->kind) {
    case SEG_LIT:
        return edge_get(n, s->s, s->len);
    case SEG_WILD:
        return slot_get(&n->wild);
    case SEG_MULTI:
        return slot_get(&n->multi);
    case SEG_END:
        return slot_get(&n->end);
    }
    return NULL;
}

/* Adds r's path to the tree. On failure the tree may keep new empty nodes,
 * which match nothing. */
static int tree_insert(struct node *root, const struct route *r)
{
    struct node *n = edge_get(root, r->host, r->host_len);

    if (n)
        n = edge_get(n, r->method, r->method_len);
    for (size_t i = 0; n && i < r->nsegs; i++)
        n = seg_child(n, &r->segs[i]);
    if (!n)
        return -ENOMEM;
    if (n->route) /* equivalent patterns: compare_routes let one through */
        mux_fatal(__func__, "two patterns end at one node", n->route->pattern,
                  r->pattern);
    n->route = r;
    return 0;
}

/* ---- method sets (Allow) ------------------------------------------------- */

/* Enough for any Allow value that fits MUX_ALLOW_MAX (3 bytes at least
 * per method with its ", "). */
#define MSET_MAX (MUX_ALLOW_MAX / 3 + 2)

struct mset {
    const char *s[MSET_MAX];
    size_t len[MSET_MAX];
    size_t n;
    bool overflow;
};

static bool mset_has(const struct mset *m, const char *s, size_t len)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->len[i] == len && !memcmp(m->s[i], s, len))
            return true;
    return false;
}

/* Adds s, keeping the set sorted. */
static void mset_add(struct mset *m, const char *s, size_t len)
{
    size_t i;

    if (len == 0 || mset_has(m, s, len))
        return;
    if (m->n == MSET_MAX) {
        m->overflow = true;
        return;
    }
    for (i = m->n; i > 0 && str_cmp(m->s[i - 1], m->len[i - 1], s, len) > 0;
         i--) {
        m->s[i] = m->s[i - 1];
        m->len[i] = m->len[i - 1];
    }
    m->s[i] = s;
    m->len[i] = len;
    m->n++;
}

static void mset_add_head(struct mset *m)
{
    if (mset_has(m, "GET", 3))
        mset_add(m, "HEAD", 4);
}

/* The length of "A, B, C". */
static size_t mset_joined_len(const struct mset *m)
{
    size_t n = 0;

    for (size_t i = 0; i < m->n; i++)
        n += m->len[i] + (i ? 2 : 0);
    return n;
}

/* Every method registered in the tree, under any host. */
static void mset_all(struct mset *m, const struct node *root)
{
    for (size_t h = 0; h < root->nedges; h++) {
        const struct node *hn = root->edges[h].child;

        for (size_t i = 0; i < hn->nedges; i++)
            mset_add(m, hn->edges[i].key, hn->edges[i].len);
    }
}

/* ---- registration -------------------------------------------------------- */

static int no_memory(char *err, size_t errlen)
{
    struct sbuf sb;

    sb_init(&sb, err, errlen);
    sb_printf(&sb, "out of memory");
    return -ENOMEM;
}

/* Refuses r when it conflicts with a registered route, or when its method
 * would make a full Allow list longer than MUX_ALLOW_MAX. */
static int route_admit(const struct mux *mux, const struct route *r, char *err,
                       size_t errlen)
{
    struct mset all = {.n = 0};

    for (size_t i = 0; i < mux->nroutes; i++) {
        enum rel rel = compare_routes(r, mux->routes[i]);

        if (rel == REL_EQUIVALENT || rel == REL_OVERLAPS)
            return conflict_fail(r, mux->routes[i], rel, err, errlen);
    }
    mset_all(&all, mux->root);
    mset_add(&all, r->method, r->method_len);
    mset_add_head(&all);
    if (all.overflow || mset_joined_len(&all) >= MUX_ALLOW_MAX) {
        struct sbuf sb;

        sb_init(&sb, err, errlen);
        sb_printf(&sb, "pattern ");
        sb_pattern(&sb, r->pattern);
        sb_printf(&sb, ": too many methods for an Allow header of %d bytes",
                  MUX_ALLOW_MAX);
        return -EINVAL;
    }
    return 0;
}

/* Adds an admitted route to the tree and the list; mux owns it after 0. */
static int mux_add(struct mux *mux, struct route *r)
{
    if (mux->nroutes == mux->cap) {
        size_t cap = mux->cap ? 2 * mux->cap : 16;
        struct route **rs = realloc(mux->routes, cap * sizeof *rs);

        if (!rs)
            return -ENOMEM;
        mux->routes = rs;
        mux->cap = cap;
    }
    if (tree_insert(mux->root, r))
        return -ENOMEM;
    mux->routes[mux->nroutes++] = r;
    return 0;
}

struct mux *mux_new(void)
{
    struct mux *mux = calloc(1, sizeof *mux);

    if (mux)
        mux->root = node_new(NULL, 0);
    if (mux && !mux->root) {
        free(mux);
        mux = NULL;
    }
    return mux;
}

void mux_free(struct mux *mux)
{
    if (!mux)
        return;
    node_free(mux->root);
    for (size_t i = 0; i < mux->nroutes; i++)
        free(mux->routes[i]);
    free(mux->routes);
    free(mux);
}

int mux_handle(struct mux *mux, const char *pattern, void *handler, void *arg,
               const void *owner, char *err, size_t errlen)
{
    struct route *r;
    int rc;

    if (err && errlen)
        err[0] = '\0';
    if (!mux || !pattern)
        return -EINVAL;
    rc = route_parse(pattern, err, errlen, &r);
    if (rc == -ENOMEM)
        return no_memory(err, errlen);
    if (rc)
        return rc;
    r->handler = handler;
    r->arg = arg;
    r->owner = owner;
    rc = route_admit(mux, r, err, errlen);
    if (rc == 0 && mux_add(mux, r) < 0)
        rc = no_memory(err, errlen);
    if (rc)
        free(r);
    return rc;
}

int mux_conflict_owner(const struct mux *mux, const char *pattern,
                       const void **owner)
{
    struct route *r;
    int rc;

    if (!mux || !pattern)
        return -EINVAL;
    rc = route_parse(pattern, NULL, 0, &r);
    if (rc)
        return rc;
    rc = -ENOENT;
    for (size_t i = 0; i < mux->nroutes && rc; i++) {
        enum rel rel = compare_routes(r, mux->routes[i]);

        if (rel == REL_EQUIVALENT || rel == REL_OVERLAPS) {
            *owner = mux->routes[i]->owner;
            rc = 0;
        }
    }
    free(r);
    return rc;
}

/* Re-parses a registered pattern (it parsed once, so only memory can fail)
 * into mux, skipping the conflict check it already passed. */
static int mux_add_copy(struct mux *mux, const struct route *src)
{
    struct route *r;
    int rc = route_parse(src->pattern, NULL, 0, &r);

    if (rc)
        return rc;
    r->handler = src->handler;
    r->arg = src->arg;
    r->owner = src->owner;
    rc = mux_add(mux, r);
    if (rc)
        free(r);
    return rc;
}

struct mux *mux_clone(const struct mux *mux)
{
    struct mux *c = mux_new();

    for (size_t i = 0; c && mux && i < mux->nroutes; i++) {
        if (mux_add_copy(c, mux->routes[i]) < 0) {
            mux_free(c);
            c = NULL;
        }
    }
    return c;
}

/* The tree of mux's routes not owned by owner, in a new root. */
static struct node *tree_without(const struct mux *mux, const void *owner)
{
    struct node *root = node_new(NULL, 0);

    for (size_t i = 0; root && i < mux->nroutes; i++) {
        if (mux->routes[i]->owner != owner &&
            tree_insert(root, mux->routes[i]) < 0) {
            node_free(root);
            root = NULL;
        }
    }
    return root;
}

int mux_remove_owner(struct mux *mux, const void *owner)
{
    struct node *root;
    size_t kept = 0, removed;

    if (!mux)
        return 0;
    for (size_t i = 0; i < mux->nroutes; i++)
        kept += mux->routes[i]->owner != owner;
    if (kept == mux->nroutes)
        return 0;
    /* Rebuild rather than prune: the new tree is complete before the old
     * one goes, so a failure leaves mux as it was. */
    root = tree_without(mux, owner);
    if (!root)
        return -ENOMEM;
    node_free(mux->root);
    mux->root = root;
    kept = 0;
    for (size_t i = 0; i < mux->nroutes; i++) {
        if (mux->routes[i]->owner == owner)
            free(mux->routes[i]);
        else
            mux->routes[kept++] = mux->routes[i];
    }
    removed = mux->nroutes - kept;
    mux->nroutes = kept;
    return (int)removed;
}

size_t mux_count(const struct mux *mux)
{
    return mux ? mux->nroutes : 0;
}

int mux_route(const struct mux *mux, size_t i, struct mux_route_info *out)
{
    const struct route *r;

    if (i >= mux_count(mux))
        return -ENOENT;
    r = mux->routes[i];
    *out = (struct mux_route_info){
        .pattern = r->pattern,
        .handler = r->handler,
        .arg = r->arg,
        .owner = r->owner,
    };
    return 0;
}

/* ---- matching ------------------------------------------------------------ */

/* One walk of a path down the tree. */
struct walk {
    const char *path; /* starts with '/' */
    size_t len;
    char *scratch; /* values go here, at their segments' offsets; NULL in a
                      trial walk, which records nothing */
    struct mux_value *vals;
    size_t nvals; /* values of the route found */
};

/* One request being matched. */
struct mctx {
    const struct node *root;
    struct mux_request q; /* host without its port */
    char *loc;            /* the Location area of the caller's buffer */
    struct mux_match *out;
};

static const struct route *walk_path(struct walk *w, const struct node *n,
                                     size_t off, size_t nv);

static void walk_record(struct walk *w, size_t nv, size_t from, size_t to)
{
    size_t n;

    if (!w->scratch || nv >= MUX_MAX_VALUES)
        return;
    n = unescape(w->path + from, to - from, w->scratch + from);
    w->scratch[from + n] = '\0';
    w->vals[nv] = (struct mux_value){.value = w->scratch + from, .len = n};
}

static const struct route *walk_leaf(struct walk *w, const struct node *n,
                                     size_t nv)
{
    if (n->route)
        w->nvals = nv;
    return n->route;
}

/* The multi child takes the rest of the path, from the '/' at off. */
static const struct route *walk_multi(struct walk *w, const struct node *m,
                                      size_t off, size_t nv)
{
    const struct route *r = m->route;

    if (r && r->segs[r->nsegs - 1].len > 0)
        walk_record(w, nv++, off + 1, w->len);
    return walk_leaf(w, m, nv);
}

/* The request segment from offset from to the next '/' or the end, into g;
 * returns where it ends. One pass: segments are short. */
static size_t seg_scan(const struct walk *w, size_t from, struct segref *g)
{
    size_t i = from, npct = 0;

    for (; i < w->len && w->path[i] != '/'; i++)
        npct += w->path[i] == '%';
    *g = (struct segref){.s = w->path + from, .n = i - from, .ulen = i - from};
    if (npct && has_escapes(g->s, g->n)) {
        g->esc = true;
        g->ulen -= 2 * npct;
    }
    return i;
}

/* The literal edge for segment g, which ends at offset to, then what
 * follows it. */
static const struct route *walk_literal(struct walk *w, const struct node *n,
                                        const struct segref *g, size_t to,
                                        size_t nv)
{
    size_t at;

    if (!n->nedges || !edge_search(n, g, &at))
        return NULL;
    return walk_path(w, n->edges[at].child, to, nv);
}

/* Matches the path from offset off (a '/' or the end) below n: literal,
 * then wildcard, then multi, as routing_tree.go's matchPath. */
static const struct route *walk_path(struct walk *w, const struct node *n,
                                     size_t off, size_t nv)
{
    const struct route *r = NULL;
    struct segref g;
    size_t end;

    if (off == w->len)
        return walk_leaf(w, n, nv);
    if (off + 1 == w->len) { /* the trailing slash: {$} or a multi */
        if (n->end)
            r = walk_leaf(w, n->end, nv);
        return r || !n->multi ? r : walk_multi(w, n->multi, off, nv);
    }
    end = seg_scan(w, off + 1, &g);
    r = walk_literal(w, n, &g, end, nv);
    if (!r && n->wild) {
        walk_record(w, nv, off + 1, end);
        r = walk_path(w, n->wild, end, nv + 1);
    }
    if (!r && n->multi)
        r = walk_multi(w, n->multi, off, nv);
    return r;
}

/* A walk of a whole path below one method node. */
static const struct route *walk_root(struct walk *w, const struct node *mn)
{
    if (w->len == 0 || w->path[0] != '/')
        return NULL;
    return walk_path(w, mn, 0, 0);
}

static const struct route *walk_method(struct walk *w, const struct node *hn,
                                       const char *m, size_t len)
{
    const struct node *mn = edge_find(hn, m, len);

    return mn ? walk_root(w, mn) : NULL;
}

/* Within one host: the exact method, GET for HEAD, then any method. */
static const struct route *walk_host(struct walk *w, const struct node *hn,
                                     const struct mux_request *q)
{
    const struct route *r;

    if (!hn)
        return NULL;
    r = walk_method(w, hn, q->method, q->method_len);
    if (!r && str_is(q->method, q->method_len, "HEAD"))
        r = walk_method(w, hn, "GET", 3);
    if (!r && q->method_len)
        r = walk_method(w, hn, empty, 0);
    return r;
}

/* The most specific route for w's path: the request's host, then any. */
static const struct route *lookup(const struct mctx *c, struct walk *w)
{
    const struct route *r = NULL;

    if (c->q.host_len)
        r = walk_host(w, edge_find(c->root, c->q.host, c->q.host_len), &c->q);
    if (!r)
        r = walk_host(w, edge_find(c->root, empty, 0), &c->q);
    return r;
}

/* Go's exactMatch: r matches path without its multi taking anything, so
 * "/a" with only "/a/" registered is not exact (and redirects). */
static bool exact_match(const struct route *r, const char *path, size_t len)
{
    if (!ends_multi(r))
        return true;
    if (len > 0 && path[len - 1] != '/')
        return false;
    return r->nsegs == count_slashes(path, len);
}

static bool exact_trial(const struct mctx *c, const char *path, size_t len)
{
    struct walk t = {.path = path, .len = len};
    const struct route *r = lookup(c, &t);

    return r && exact_match(r, path, len);
}

static int found(struct mux_match *out, const struct route *r,
                 const struct walk *w)
{
    size_t k = 0;

    out->pattern = r->pattern;
    out->handler = r->handler;
    out->arg = r->arg;
    out->owner = r->owner;
    out->nvalues = w->nvals;
    for (size_t i = 0; i < r->nsegs && k < w->nvals; i++) {
        const struct seg *s = &r->segs[i];

        if ((s->kind == SEG_WILD || s->kind == SEG_MULTI) && s->len)
            out->values[k++].name = s->s;
    }
    return out->status = 200;
}

/* 301 to the first n bytes of c->loc, with the query. */
static int redirect(struct mctx *c, size_t n)
{
    if (c->q.query_len) {
        c->loc[n++] = '?';
        memcpy(c->loc + n, c->q.query, c->q.query_len);
        n += c->q.query_len;
    }
    c->loc[n] = '\0';
    c->out->location = c->loc;
    c->out->location_len = n;
    return c->out->status = 301;
}

/* An unclean path: redirect to its cleaned form, with a '/' appended when
 * only the subtree would match (Go decides the latter on the clean path). */
MUX_SLOW static int redirect_clean(struct mctx *c)
{
    size_t n = clean_path(c->q.path, c->q.path_len, c->loc);

    if (c->loc[n - 1] != '/' && !exact_trial(c, c->loc, n)) {
        c->loc[n] = '/';
        if (exact_trial(c, c->loc, n + 1))
            n++;
    }
    return redirect(c, n);
}

/* Does the method subtree mn match the path, or the path plus '/' (in
 * c->loc, slash_len bytes, 0 if none)? */
static bool method_matches(const struct mctx *c, const struct node *mn,
                           size_t slash_len)
{
    struct walk t = {.path = c->q.path, .len = c->q.path_len};

    if (walk_root(&t, mn))
        return true;
    t = (struct walk){.path = c->loc, .len = slash_len};
    return walk_root(&t, mn) != NULL;
}

static void allow_host(const struct mctx *c, const struct node *hn,
                       size_t slash_len, struct mset *set)
{
    if (!hn)
        return;
    for (size_t i = 0; i < hn->nedges; i++) {
        const struct edge *e = &hn->edges[i];

        if (e->len && method_matches(c, e->child, slash_len))
            mset_add(set, e->key, e->len);
    }
}

/* Go's matchingMethods: the methods whose patterns match the path (or the
 * path plus '/'), HEAD with GET, sorted, into out->allow. */
static bool allow(struct mctx *c, size_t slash_len)
{
    struct mux_match *out = c->out;
    struct mset set = {.n = 0};

    if (c->q.host_len)
        allow_host(c, edge_find(c->root, c->q.host, c->q.host_len), slash_len,
                   &set);
    allow_host(c, edge_find(c->root, empty, 0), slash_len, &set);
    if (set.n == 0)
        return false;
    mset_add_head(&set);
    for (size_t i = 0; i < set.n; i++) {
        size_t need = set.len[i] + (i ? 2 : 0);

        if (out->allow_len + need >= sizeof out->allow)
            break; /* cannot happen: route_admit bounds the list */
        out->allow_len +=
            (size_t)sprintf(out->allow + out->allow_len, "%s%.*s",
                            i ? ", " : "", (int)set.len[i], set.s[i]);
    }
    return true;
}

/* No exact match for a clean path: the subtree redirect, then the route the
 * walk found, then 405 or 404. */
MUX_SLOW static int match_slow(struct mctx *c, const struct route *r,
                               const struct walk *w)
{
    const char *path = c->q.path;
    size_t n = c->q.path_len, slash_len = 0;

    if (n == 0 || path[n - 1] != '/') {
        memcpy(c->loc, path, n);
        c->loc[n] = '/';
        slash_len = n + 1;
        if (exact_trial(c, c->loc, slash_len))
            return redirect(c, slash_len);
    }
    if (r)
        return found(c->out, r, w);
    return c->out->status = allow(c, slash_len) ? 405 : 404;
}

static void match_reset(struct mux_match *out)
{
    out->status = 0;
    out->pattern = NULL;
    out->handler = out->arg = NULL;
    out->owner = NULL;
    out->nvalues = 0;
    out->location = NULL;
    out->location_len = 0;
    out->allow[0] = '\0';
    out->allow_len = 0;
}

int mux_match(const struct mux *mux, const struct mux_request *req,
              struct mux_match *out, char *buf, size_t buflen)
{
    struct mctx c = {
        .root = mux ? mux->root : &empty_root, .q = *req, .out = out};
    struct walk w = {.path = req->path,
                     .len = req->path_len,
                     .scratch = buf,
                     .vals = out->values};
    const struct route *r;

    match_reset(out);
    if (buflen < MUX_BUF_LEN(req->path_len, req->query_len))
        return out->status = 414;
    c.loc = buf + req->path_len + 1; /* after the values' room */
    strip_port(&c.q.host, &c.q.host_len);
    if (!str_is(req->method, req->method_len, "CONNECT") &&
        !path_is_clean(req->path, req->path_len))
        return redirect_clean(&c);
    r = lookup(&c, &w);
    if (r && exact_match(r, req->path, req->path_len))
        return found(out, r, &w);
    return match_slow(&c, r, &w);
}

const char *mux_path_value(const struct mux_match *m, const char *name,
                           size_t *len)
{
    for (size_t i = 0; m->status == 200 && i < m->nvalues; i++) {
        if (strcmp(m->values[i].name, name) == 0) {
            if (len)
                *len = m->values[i].len;
            return m->values[i].value;
        }
    }
    return NULL;
}
