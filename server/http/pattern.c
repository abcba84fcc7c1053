/*
 * http/pattern.c — the mux's patterns (Go's pattern.go): parsing a pattern
 * string into method, host and path segments, and the precedence relation
 * between two patterns that decides which is more specific and which two
 * conflict. No tree, no request: routing_tree.c indexes the parsed
 * patterns, mux.c registers them and matches requests.
 *
 * Patterns. "[METHOD ][HOST]/[PATH]"; the path is a list of segments, each
 * one of
 *   SEG_LIT    a literal, kept percent-unescaped ("a%2Fb" is one segment
 *              whose bytes are "a/b"), matched case-sensitively;
 *   SEG_WILD   {name}: one request segment, never the trailing slash;
 *   SEG_MULTI  {name...}, or a trailing '/' (anonymous): the rest of the
 *              path, possibly empty; always last;
 *   SEG_END    {$}: only the trailing slash; always last.
 * A request path is split at its '/' bytes first, then each segment is
 * unescaped on its own, so %2F never splits a segment. A parsed pattern
 * (struct route) is one allocation: the route, its segments, then its text.
 *
 * Precedence. P1 is more specific than P2 when P1 matches a strict subset of
 * P2's requests. The relation of two patterns is the relation of their
 * methods combined with that of their paths, segment by segment (rel_*,
 * compare_*: the algebra of pattern.go). A pattern that is equivalent to a
 * registered one, or overlaps it with neither more specific, is refused and
 * the message names both plus a request that both match. Patterns with
 * different hosts never conflict: a host pattern is tried first and wins,
 * Go's exception for backward compatibility.
 *
 * Where gort differs from Go, on purpose. {$} is its own kind, not the
 * literal "/": for Go, "/a/%2F" and "/a/{$}" are one pattern and a request
 * segment "%2F" never matches {x}; here "%2F" is an ordinary segment.
 * Wildcard names are ASCII C identifiers (Go: Unicode letters too). Limits
 * Go lacks: MUX_MAX_VALUES, MUX_MAX_SEGMENTS.
 */
#include "http/pattern.h"

#include "http/escape.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char empty[] = "";

/* ---- bytes: escapes, character classes ----------------------------------- */

unsigned char mux__hexbyte(const char *s)
{
    return (unsigned char)(http_hexval(s[0]) << 4 | http_hexval(s[1]));
}

/* True when s holds a '%' and every '%' starts a valid escape. A segment
 * with a malformed escape is used verbatim, as url.PathUnescape's caller in
 * Go does when it fails. */
bool mux__has_escapes(const char *s, size_t n)
{
    const char *pct = memchr(s, '%', n);

    if (!pct)
        return false;
    for (size_t i = (size_t)(pct - s); i < n; i++) {
        if (s[i] != '%')
            continue;
        if (i + 2 >= n || http_hexval(s[i + 1]) < 0 ||
            http_hexval(s[i + 2]) < 0)
            return false;
        i += 2;
    }
    return true;
}

/* Writes the unescaped form of s to dst (which must not overlap s) and
 * returns its length, never more than n. */
size_t mux__unescape(const char *s, size_t n, char *dst)
{
    size_t w = 0;

    if (!mux__has_escapes(s, n)) {
        memcpy(dst, s, n);
        return n;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            dst[w++] = (char)mux__hexbyte(s + i + 1);
            i += 2;
        } else {
            dst[w++] = s[i];
        }
    }
    return w;
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

/* ---- paths --------------------------------------------------------------- */

/* True when p is its own cleaned form: rooted, no empty, "." or ".."
 * element; a trailing '/' is allowed. */
bool mux__path_is_clean(const char *p, size_t n)
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

size_t mux__count_slashes(const char *p, size_t n)
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++)
        k += p[i] == '/';
    return k;
}

/* ---- messages ------------------------------------------------------------ */

__attribute__((format(printf, 2, 3))) void mux__sb_printf(struct sbuf *b,
                                                          const char *fmt, ...)
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
            mux__sb_printf(b, "%%%02X", (unsigned char)s[i]);
        else
            mux__sb_printf(b, "%c", s[i]);
    }
}

void mux__sb_init(struct sbuf *b, char *err, size_t errlen)
{
    *b = (struct sbuf){.p = errlen ? err : NULL, .cap = errlen};
    if (b->p)
        b->p[0] = '\0';
}

/* A pattern in quotes, cut short so that the reason after it still fits. */
#define SB_PATTERN_MAX 120

void mux__sb_pattern(struct sbuf *b, const char *pattern)
{
    size_t n = strlen(pattern);

    if (n <= SB_PATTERN_MAX)
        mux__sb_printf(b, "\"%s\"", pattern);
    else
        mux__sb_printf(b, "\"%.*s...\"", SB_PATTERN_MAX, pattern);
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

    mux__sb_init(&b, ps->err, ps->errlen);
    mux__sb_printf(&b, "parsing ");
    mux__sb_pattern(&b, ps->src);
    mux__sb_printf(&b, ": at offset %zu: ", off);
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
    size_t nseg = mux__count_slashes(ps->src, ps->len) + 1;
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
    size_t len = mux__unescape(s, n, t);

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
        !mux__path_is_clean(path, n))
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
int mux__route_parse(const char *pattern, char *err, size_t errlen,
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

bool mux__ends_multi(const struct route *r)
{
    return r->segs[r->nsegs - 1].kind == SEG_MULTI;
}

static enum rel compare_paths(const struct route *a, const struct route *b)
{
    size_t n = a->nsegs < b->nsegs ? a->nsegs : b->nsegs;
    enum rel rel = REL_EQUIVALENT;

    if (a->nsegs != b->nsegs && !mux__ends_multi(a) && !mux__ends_multi(b))
        return REL_DISJOINT;
    for (size_t i = 0; i < n && rel != REL_DISJOINT; i++)
        rel = rel_combine(rel, compare_segs(&a->segs[i], &b->segs[i]));
    if (rel == REL_DISJOINT || a->nsegs == b->nsegs)
        return rel;
    /* The shorter one matches the rest of the longer with its multi. */
    if (a->nsegs < b->nsegs && mux__ends_multi(a))
        return rel_combine(rel, REL_MORE_GENERAL);
    if (b->nsegs < a->nsegs && mux__ends_multi(b))
        return rel_combine(rel, REL_MORE_SPECIFIC);
    return REL_DISJOINT;
}

/* The relation of a to b, or REL_DISJOINT when their hosts differ: a host
 * pattern always takes precedence, so the two never conflict. */
enum rel mux__compare_routes(const struct route *a, const struct route *b)
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
        mux__sb_printf(sb, "%.*s ", (int)m->method_len, m->method);
    mux__sb_printf(sb, "%.*s", (int)a->host_len, a->host);
    for (size_t i = 0; i < n; i++) {
        const struct seg *s = common_seg(a, b, i);

        mux__sb_printf(sb, "/");
        if (s->kind == SEG_LIT || s->kind == SEG_WILD)
            sb_literal(sb, s->s, s->len);
    }
}

int mux__conflict_fail(const struct route *nr, const struct route *old,
                       enum rel rel, char *err, size_t errlen)
{
    struct sbuf sb;

    mux__sb_init(&sb, err, errlen);
    mux__sb_printf(&sb, "pattern ");
    mux__sb_pattern(&sb, nr->pattern);
    mux__sb_printf(&sb, " conflicts with pattern ");
    mux__sb_pattern(&sb, old->pattern);
    mux__sb_printf(&sb, ": ");
    if (rel == REL_EQUIVALENT && !strcmp(nr->pattern, old->pattern)) {
        mux__sb_printf(&sb, "it is already registered");
    } else if (rel == REL_EQUIVALENT) {
        mux__sb_printf(&sb, "they match the same requests");
    } else {
        mux__sb_printf(&sb, "both match some requests, like \"");
        sb_common_request(&sb, nr, old);
        mux__sb_printf(&sb, "\", and neither is more specific than the other");
    }
    return -EEXIST;
}
