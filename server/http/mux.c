/*
 * http/mux.c — gortd's request multiplexer, Go 1.22's ServeMux: registration
 * (conflicting patterns refused with both named), clone and remove_owner,
 * and the decisions of a match: the route (200), a redirect to the cleaned
 * path or to the subtree (301), 405 with Allow, 404. Patterns are parsed and
 * compared in pattern.c (Go's pattern.go) and indexed by the routing tree
 * of routing_tree.c (Go's routing_tree.go), which is built off to the side
 * and published by a pointer swap, so that readers never lock.
 *
 * Registration compares a new pattern against every route, O(n); Go keeps
 * an index to prune candidates, but gortd holds hundreds of routes, not
 * millions. A redirect's Location goes in the caller's buffer after the
 * wildcard values (MUX_BUF_LEN).
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
 * Where gort differs from Go, on purpose. A Location keeps the request's
 * own escaping (Go unescapes and re-escapes). MUX_ALLOW_MAX bounds the
 * Allow list. Registration returns an error where Go panics.
 */
#include "http/mux.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/pattern.h"
#include "http/routing_tree.h"

struct mux {
    struct route **routes; /* in registration order; owned */
    size_t nroutes, cap;
    struct node *root; /* level 0: hosts; owned */
};

/* Keeps a slow path out of its caller's frame (the 405 path alone holds a
 * 1.4 KiB method set): matching runs on goroutine stacks. */
#define MUX_SLOW __attribute__((noinline, cold))

static const struct node empty_root;

/* ---- paths and hosts ----------------------------------------------------- */

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

/* ---- registration -------------------------------------------------------- */

static int no_memory(char *err, size_t errlen)
{
    struct sbuf sb;

    mux__sb_init(&sb, err, errlen);
    mux__sb_printf(&sb, "out of memory");
    return -ENOMEM;
}

/* Refuses r when it conflicts with a registered route, or when its method
 * would make a full Allow list longer than MUX_ALLOW_MAX. */
static int route_admit(const struct mux *mux, const struct route *r, char *err,
                       size_t errlen)
{
    struct mset all = {.n = 0};

    for (size_t i = 0; i < mux->nroutes; i++) {
        enum rel rel = mux__compare_routes(r, mux->routes[i]);

        if (rel == REL_EQUIVALENT || rel == REL_OVERLAPS)
            return mux__conflict_fail(r, mux->routes[i], rel, err, errlen);
    }
    mux__mset_all(&all, mux->root);
    mux__mset_add(&all, r->method, r->method_len);
    mux__mset_add_head(&all);
    if (all.overflow || mux__mset_joined_len(&all) >= MUX_ALLOW_MAX) {
        struct sbuf sb;

        mux__sb_init(&sb, err, errlen);
        mux__sb_printf(&sb, "pattern ");
        mux__sb_pattern(&sb, r->pattern);
        mux__sb_printf(&sb,
                       ": too many methods for an Allow header of %d bytes",
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
    if (mux__tree_insert(mux->root, r))
        return -ENOMEM;
    mux->routes[mux->nroutes++] = r;
    return 0;
}

struct mux *mux_new(void)
{
    struct mux *mux = calloc(1, sizeof *mux);

    if (mux)
        mux->root = mux__node_new(NULL, 0);
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
    mux__node_free(mux->root);
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
    rc = mux__route_parse(pattern, err, errlen, &r);
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
    rc = mux__route_parse(pattern, NULL, 0, &r);
    if (rc)
        return rc;
    rc = -ENOENT;
    for (size_t i = 0; i < mux->nroutes && rc; i++) {
        enum rel rel = mux__compare_routes(r, mux->routes[i]);

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
    int rc = mux__route_parse(src->pattern, NULL, 0, &r);

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
    struct node *root = mux__node_new(NULL, 0);

    for (size_t i = 0; root && i < mux->nroutes; i++) {
        if (mux->routes[i]->owner != owner &&
            mux__tree_insert(root, mux->routes[i]) < 0) {
            mux__node_free(root);
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
    mux__node_free(mux->root);
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

/* One request being matched. */
struct mctx {
    const struct node *root;
    struct mux_request q; /* host without its port */
    char *loc;            /* the Location area of the caller's buffer */
    struct mux_match *out;
};

/* Go's exactMatch: r matches path without its multi taking anything, so
 * "/a" with only "/a/" registered is not exact (and redirects). */
static bool exact_match(const struct route *r, const char *path, size_t len)
{
    if (!mux__ends_multi(r))
        return true;
    if (len > 0 && path[len - 1] != '/')
        return false;
    return r->nsegs == mux__count_slashes(path, len);
}

static bool exact_trial(const struct mctx *c, const char *path, size_t len)
{
    struct walk t = {.path = path, .len = len};
    const struct route *r = mux__tree_lookup(c->root, &c->q, &t);

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

/* Go's matchingMethods: the methods whose patterns match the path (or the
 * path plus '/'), HEAD with GET, sorted, into out->allow. */
static bool allow(struct mctx *c, size_t slash_len)
{
    struct mux_match *out = c->out;
    struct mset set = {.n = 0};

    mux__tree_allow(c->root, &c->q, c->loc, slash_len, &set);
    if (set.n == 0)
        return false;
    mux__mset_add_head(&set);
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
    /* A CONNECT's authority-form target has no path: no pattern can
     * match it, and no redirect applies (Go 1.19's mux: 404). */
    if (req->path_len == 0)
        return out->status = 404;
    if (!str_is(req->method, req->method_len, "CONNECT") &&
        !mux__path_is_clean(req->path, req->path_len))
        return redirect_clean(&c);
    r = mux__tree_lookup(c.root, &c.q, &w);
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
