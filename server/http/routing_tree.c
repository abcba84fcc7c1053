/*
 * http/routing_tree.c — the mux's routing tree (Go's routing_tree.go):
 * built from parsed patterns (pattern.c), it finds the most specific route
 * for a request, and the methods that would match a path (Allow).
 *
 * Level 0 is keyed by host ("" = any host), level 1 by method ("" = any
 * method), then one level per segment. A node has sorted literal edges, at
 * most one wild, one multi and one end child, and the route that ends
 * there, if any. Matching tries, at each segment, the literal edge, then the
 * wild child, then the multi child, backtracking on failure. Because no two
 * registered patterns conflict (mux.c refuses them), the first route found
 * in this order is the most specific one: a literal at a position beats a
 * wildcard there, or the two patterns would overlap. For the same reason
 * hosts are tried as the request's host then any host, and methods as the
 * exact method, GET for HEAD, then any method.
 *
 * No allocation and no lock on the match path. Literal edges are compared
 * with the request segment while it is unescaped on the fly. Wildcard values
 * are unescaped into the caller's buffer at the offsets of their segments in
 * the path (unescaping never lengthens), so values cannot overlap and each
 * has room for its NUL where its '/' was. A walk visits a node at most once
 * (its depth fixes the segment it sees), so the worst case is the size of
 * the tree and the usual case one node and one binary search per segment;
 * recursion is bounded by the longest pattern (MUX_MAX_SEGMENTS), never by
 * the request.
 *
 * A tree is built on one thread and then only read; mux.c publishes it
 * (see there). Nodes own their children; the routes belong to the mux.
 */
#include "http/routing_tree.h"
#include "log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char empty[] = "";

static void mux_fatal(const char *fn, const char *what, const char *a,
                      const char *b)
{
    glog_error("fatal error", GLOG_STR("func", fn), GLOG_STR("err", what),
               GLOG_STR("pattern", a), GLOG_STR("other", b));
    abort();
}

/* ---- literal keys -------------------------------------------------------- */

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
            c = mux__hexbyte(g->s + i + 1);
            i += 3;
        } else {
            i++;
        }
        if (c != d)
            return c < d ? -1 : 1;
    }
    return 0;
}

/* ---- the tree ------------------------------------------------------------ */

void mux__node_free(struct node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nedges; i++)
        mux__node_free(n->edges[i].child);
    mux__node_free(n->wild);
    mux__node_free(n->multi);
    mux__node_free(n->end);
    free(n->edges);
    free(n);
}

struct node *mux__node_new(const char *key, size_t len)
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
    c = mux__node_new(key, len);
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
        *slot = mux__node_new(NULL, 0);
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
int mux__tree_insert(struct node *root, const struct route *r)
{
    struct node *n = edge_get(root, r->host, r->host_len);

    if (n)
        n = edge_get(n, r->method, r->method_len);
    for (size_t i = 0; n && i < r->nsegs; i++)
        n = seg_child(n, &r->segs[i]);
    if (!n)
        return -ENOMEM;
    if (n->route) /* equivalent patterns: mux__compare_routes let one through */
        mux_fatal(__func__, "two patterns end at one node", n->route->pattern,
                  r->pattern);
    n->route = r;
    return 0;
}

/* ---- method sets (Allow) ------------------------------------------------- */

/* Alphabetical order, a prefix first: the order of an Allow list. */
static int str_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);

    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

static bool mset_has(const struct mset *m, const char *s, size_t len)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->len[i] == len && !memcmp(m->s[i], s, len))
            return true;
    return false;
}

/* Adds s, keeping the set sorted. */
void mux__mset_add(struct mset *m, const char *s, size_t len)
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

void mux__mset_add_head(struct mset *m)
{
    if (mset_has(m, "GET", 3))
        mux__mset_add(m, "HEAD", 4);
}

/* The length of "A, B, C". */
size_t mux__mset_joined_len(const struct mset *m)
{
    size_t n = 0;

    for (size_t i = 0; i < m->n; i++)
        n += m->len[i] + (i ? 2 : 0);
    return n;
}

/* Every method registered in the tree, under any host. */
void mux__mset_all(struct mset *m, const struct node *root)
{
    for (size_t h = 0; h < root->nedges; h++) {
        const struct node *hn = root->edges[h].child;

        for (size_t i = 0; i < hn->nedges; i++)
            mux__mset_add(m, hn->edges[i].key, hn->edges[i].len);
    }
}

/* ---- matching ------------------------------------------------------------ */

static const struct route *walk_path(struct walk *w, const struct node *n,
                                     size_t off, size_t nv);

static void walk_record(struct walk *w, size_t nv, size_t from, size_t to)
{
    size_t n;

    if (!w->scratch || nv >= MUX_MAX_VALUES)
        return;
    n = mux__unescape(w->path + from, to - from, w->scratch + from);
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
    if (npct && mux__has_escapes(g->s, g->n)) {
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

const struct route *mux__tree_lookup(const struct node *root,
                                     const struct mux_request *q,
                                     struct walk *w)
{
    const struct route *r = NULL;

    if (q->host_len)
        r = walk_host(w, edge_find(root, q->host, q->host_len), q);
    if (!r)
        r = walk_host(w, edge_find(root, empty, 0), q);
    return r;
}

/* Does the method subtree mn match q's path, or the path plus '/' (slash,
 * slash_len bytes, 0 if none)? */
static bool method_matches(const struct mux_request *q, const char *slash,
                           size_t slash_len, const struct node *mn)
{
    struct walk t = {.path = q->path, .len = q->path_len};

    if (walk_root(&t, mn))
        return true;
    t = (struct walk){.path = slash, .len = slash_len};
    return walk_root(&t, mn) != NULL;
}

static void allow_host(const struct mux_request *q, const char *slash,
                       size_t slash_len, const struct node *hn,
                       struct mset *set)
{
    if (!hn)
        return;
    for (size_t i = 0; i < hn->nedges; i++) {
        const struct edge *e = &hn->edges[i];

        if (e->len && method_matches(q, slash, slash_len, e->child))
            mux__mset_add(set, e->key, e->len);
    }
}

void mux__tree_allow(const struct node *root, const struct mux_request *q,
                     const char *slash, size_t slash_len, struct mset *set)
{
    if (q->host_len)
        allow_host(q, slash, slash_len, edge_find(root, q->host, q->host_len),
                   set);
    allow_host(q, slash, slash_len, edge_find(root, empty, 0), set);
}
