/* context.c — Go's context package: cancellation and deadlines down a tree.
 *
 * A context is a reference-counted node: a lock, an error (0 until done),
 * a done channel closed at cancellation, its children and its hooks. The
 * tree is what Go builds (propagateCancel for our own context types only):
 * a child holds a reference to its parent; a parent lists its children
 * without holding them, so a child that is released (or cancelled) unhooks
 * itself from its parent's list under the parent's lock, and a cancelling
 * parent takes a reference to each listed child whose count is not already
 * zero (a child at zero is in its final release, waiting for this lock to
 * unhook itself). Cancellation runs top-down, each node's list emptied
 * under its own lock and the children cancelled after it is released, so
 * no two node locks are ever held at once except a child's release taking
 * its parent's (the order is always parent after child's count is zero).
 * A node's done channel closes after its subtree is cancelled, so a
 * goroutine woken by it finds every descendant done as well (Go closes
 * the parent's first and leaves that window open). As in Go, the channel
 * is made on the first gort_ctx_done, not with the node: most contexts
 * (a request's, one per proxied call) are only ever asked for their error
 * or bound to a descriptor, and a channel made and freed for each of them
 * was a fifth of what gort_http_request_ctx cost.
 *
 * A deadline is a timer on the runtime's heap (timer.c) that holds a
 * reference while armed: a context can never be freed under a firing
 * timer. Cancelling deletes the timer and drops that reference when the
 * delete won; otherwise the firing callback drops it.
 *
 * Hooks are how blocking calls honour a context (gort_fd_ctx_bind below,
 * the dialer, the HTTP client): a hook runs synchronously inside the
 * cancel, under the context's lock, so that unhooking (under the same
 * lock) returns only once a running hook has finished: a caller that
 * unbinds knows nothing will touch its descriptor afterwards.
 */
#include <errno.h>
#include <stdlib.h>

#include "common/list.h"
#include "gort/gort.h"
#include "gort/net.h"
#include "runtime.h"
#include "timer.h"

_Static_assert(GORT_ECANCELED == -ECANCELED, "GORT_ECANCELED is -ECANCELED");
_Static_assert(GORT_EDEADLINE == -ETIMEDOUT, "GORT_EDEADLINE is -ETIMEDOUT");

struct ctx_hook {
    struct ilist_node link; /* in ctx->hooks, under ctx->lock */
    void (*fn)(struct ctx_hook *h);
    gort_ctx *ctx;
    bool linked; /* under ctx->lock */
    bool fired;  /* under ctx->lock */
    int fd;
};

_Static_assert(sizeof(struct ctx_hook) <= sizeof(gort_fd_ctx),
               "gort_fd_ctx too small for its implementation");

struct gort_ctx {
    _Atomic long refs;
    gort__lock lock;
    bool is_static;   /* background: never done, never freed */
    _Atomic int err;  /* 0 until done; set once under lock */
    int64_t deadline; /* 0 = none; set before the context is shared */
    gort_ctx *parent; /* holds a reference */
    bool linked;      /* in parent->children, under parent->lock */
    bool timed;       /* timer armed with its reference */
    struct ilist_node sib;
    struct ilist children; /* of sib, under lock; not references */
    struct ilist hooks;    /* of ctx_hook.link, under lock */
    gort_chan *done;       /* made on first ask, under lock */
    bool done_closed;      /* cancel reached its last step, under lock */
    struct gort__timer timer;
};

static gort_ctx background = {.is_static = true};

gort_ctx *gort_ctx_background(void)
{
    return &background;
}

static gort_ctx *or_bg(gort_ctx *c)
{
    return c ? c : &background;
}

gort_ctx *gort_ctx_ref(gort_ctx *c)
{
    c = or_bg(c);
    if (!c->is_static)
        atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

/* A reference to a listed child, unless its count already reached zero. */
static bool try_ref(gort_ctx *c)
{
    long n = atomic_load_explicit(&c->refs, memory_order_relaxed);
    while (n > 0)
        if (atomic_compare_exchange_weak_explicit(&c->refs, &n, n + 1,
                                                  memory_order_acquire,
                                                  memory_order_relaxed))
            return true;
    return false;
}

static void unhook_from_parent(gort_ctx *c)
{
    gort_ctx *p = c->parent;
    if (!p || p->is_static)
        return;
    gort__lock_acquire(&p->lock);
    if (c->linked) {
        ilist_remove(&p->children, &c->sib);
        c->linked = false;
    }
    gort__lock_release(&p->lock);
}

void gort_ctx_release(gort_ctx *c)
{
    if (!c || c->is_static)
        return;
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
        return;
    /* Nobody can reach c now but a cancelling parent, which skips a child
     * at zero; no timer is armed (it would hold a reference) and no child
     * lives (each holds one). */
    unhook_from_parent(c);
    gort_ctx_release(c->parent);
    gort_chan_free(c->done);
    free(c);
}

/* ---- cancellation -------------------------------------------------------- */

static void cancel(gort_ctx *c, int err)
{
    struct ilist kids = ILIST_INIT;
    gort__lock_acquire(&c->lock);
    if (atomic_load_explicit(&c->err, memory_order_relaxed) != 0) {
        gort__lock_release(&c->lock);
        return;
    }
    atomic_store_explicit(&c->err, err, memory_order_release);
    struct ilist_node *n;
    while ((n = ilist_pop_front(&c->hooks)) != NULL) {
        struct ctx_hook *h = ilist_entry(n, struct ctx_hook, link);
        h->linked = false;
        h->fired = true;
        h->fn(h);
    }
    while ((n = ilist_pop_front(&c->children)) != NULL) {
        gort_ctx *k = ilist_entry(n, gort_ctx, sib);
        k->linked = false;
        if (try_ref(k))
            ilist_push_back(&kids, &k->sib);
    }
    bool timed = c->timed;
    c->timed = false;
    gort__lock_release(&c->lock);
    while ((n = ilist_pop_front(&kids)) != NULL) {
        gort_ctx *k = ilist_entry(n, gort_ctx, sib);
        cancel(k, err);
        gort_ctx_release(k);
    }
    /* Last: whoever sees done closed finds every descendant done too. A
     * channel made from now on is made closed (gort_ctx_done). */
    gort__lock_acquire(&c->lock);
    c->done_closed = true;
    gort_chan *done = c->done;
    gort__lock_release(&c->lock);
    if (done)
        gort_chan_close(done);
    unhook_from_parent(c);
    /* A timer that was already popped drops its reference when it runs. */
    if (timed && gort__timer_del(&c->timer))
        gort_ctx_release(c);
}

void gort_ctx_cancel(gort_ctx *c)
{
    if (c && !c->is_static)
        cancel(c, GORT_ECANCELED);
}

static void deadline_fire(struct gort__timer *t)
{
    gort_ctx *c = t->arg;
    cancel(c, GORT_EDEADLINE);
    gort_ctx_release(c);
}

/* ---- derivation ---------------------------------------------------------- */

/* Every field of a fresh node: not done, no parent, one reference. */
static void ctx_init(gort_ctx *c)
{
    gort__lock unlocked = GORT__LOCK_INIT;
    struct ilist empty = ILIST_INIT;
    atomic_init(&c->refs, 1); /* the caller's */
    c->lock = unlocked;
    c->is_static = false;
    atomic_init(&c->err, 0);
    c->deadline = 0;
    c->parent = NULL;
    c->linked = c->timed = false;
    c->sib.next = c->sib.prev = NULL;
    c->children = empty;
    c->hooks = empty;
    c->done = NULL;
    c->done_closed = false;
}

static gort_ctx *derive(gort_ctx *parent, int64_t deadline)
{
    parent = or_bg(parent);
    /* malloc and each field set, not calloc: glibc's calloc skips the
     * per-thread cache (tcache) that malloc takes, and a context per
     * request made it 300 instructions (callgrind); compilers turn malloc
     * plus a memset of zeros back into calloc. */
    gort_ctx *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    ctx_init(c);
    gort__timer_init(&c->timer, deadline_fire, c);
    c->parent = gort_ctx_ref(parent);
    int64_t pd = parent->deadline;
    c->deadline = pd && (!deadline || pd <= deadline) ? pd : deadline;
    if (deadline && c->deadline == deadline && deadline != pd) {
        if (deadline <= gort_nanotime()) {
            cancel(c, GORT_EDEADLINE);
            return c;
        }
        /* Armed before c is linked: a firing before then finds c alone. */
        gort__lock_acquire(&c->lock);
        atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
        c->timed = true;
        if (gort__timer_add(&c->timer, deadline) != 0) {
            c->timed = false;
            atomic_fetch_sub_explicit(&c->refs, 1, memory_order_relaxed);
            gort__lock_release(&c->lock);
            gort_ctx_release(c);
            return NULL;
        }
        gort__lock_release(&c->lock);
    }
    if (parent->is_static)
        return c;
    gort__lock_acquire(&parent->lock);
    int perr = atomic_load_explicit(&parent->err, memory_order_acquire);
    if (!perr && !atomic_load_explicit(&c->err, memory_order_acquire)) {
        ilist_push_back(&parent->children, &c->sib);
        c->linked = true;
    }
    gort__lock_release(&parent->lock);
    if (perr)
        cancel(c, perr);
    return c;
}

gort_ctx *gort_ctx_with_cancel(gort_ctx *parent)
{
    return derive(parent, 0);
}

gort_ctx *gort_ctx_with_deadline(gort_ctx *parent, int64_t deadline_ns)
{
    /* 0 is "no deadline" inside; the clock's zero is long past anyway. */
    return derive(parent, deadline_ns > 0 ? deadline_ns : 1);
}

gort_ctx *gort_ctx_with_timeout(gort_ctx *parent, int64_t timeout_ns)
{
    int64_t now = gort_nanotime();
    if (timeout_ns > INT64_MAX - now)
        return derive(parent, 0);
    return gort_ctx_with_deadline(parent, now + timeout_ns);
}

/* ---- queries ------------------------------------------------------------- */

/* Out of memory, a context that has no channel yet answers NULL, the
 * channel that is never ready: gort_ctx_err still tells. */
gort_chan *gort_ctx_done(gort_ctx *c)
{
    c = or_bg(c);
    if (c->is_static)
        return NULL;
    gort__lock_acquire(&c->lock);
    if (!c->done && (c->done = gort_chan_make(0, 0)) != NULL && c->done_closed)
        gort_chan_close(c->done);
    gort_chan *done = c->done;
    gort__lock_release(&c->lock);
    return done;
}

int gort_ctx_err(gort_ctx *c)
{
    return atomic_load_explicit(&or_bg(c)->err, memory_order_acquire);
}

int gort_ctx_deadline(gort_ctx *c, int64_t *deadline_ns)
{
    c = or_bg(c);
    if (c->deadline && deadline_ns)
        *deadline_ns = c->deadline;
    return c->deadline != 0;
}

int gort_sleep_ctx(gort_ctx *ctx, int64_t ns)
{
    int err = gort_ctx_err(ctx);
    if (err)
        return err;
    gort_timer *t = gort_timer_new(ns);
    if (!t)
        return -ENOMEM;
    struct gort_select_case k[2] = {
        {.chan = gort_timer_chan(t), .dir = GORT_SELECT_RECV},
        {.chan = gort_ctx_done(ctx), .dir = GORT_SELECT_RECV},
    };
    int i = gort_select(k, 2, 1);
    gort_timer_free(t);
    return i == 0 ? 0 : gort_ctx_err(ctx);
}

/* ---- hooks: descriptors that follow a context ---------------------------- */

/* Under the context's lock: every wait on fd ends at once (-ETIMEDOUT),
 * and so does every later one until the deadline is moved. */
static void fd_hook(struct ctx_hook *h)
{
    gort_set_deadline(h->fd, GORT_IO_BOTH, 1);
}

int gort_fd_ctx_bind(gort_fd_ctx *w, gort_ctx *ctx, int fd)
{
    struct ctx_hook *h = (struct ctx_hook *)w;
    *h = (struct ctx_hook){.fn = fd_hook, .ctx = or_bg(ctx), .fd = fd};
    gort_ctx *c = h->ctx;
    if (c->is_static)
        return 0;
    gort__lock_acquire(&c->lock);
    int err = atomic_load_explicit(&c->err, memory_order_relaxed);
    if (!err) {
        ilist_push_back(&c->hooks, &h->link);
        h->linked = true;
    }
    gort__lock_release(&c->lock);
    return err;
}

int gort_fd_ctx_unbind(gort_fd_ctx *w)
{
    struct ctx_hook *h = (struct ctx_hook *)w;
    gort_ctx *c = h->ctx;
    if (!c || c->is_static)
        return 0;
    gort__lock_acquire(&c->lock);
    if (h->linked) {
        ilist_remove(&c->hooks, &h->link);
        h->linked = false;
    }
    bool fired = h->fired;
    gort__lock_release(&c->lock);
    h->ctx = NULL;
    return fired ? gort_ctx_err(c) : 0;
}

/* A deadline moved after the hook fired would undo it: put it back. The
 * context's error is stored before its hooks run, so either this sees it
 * or the hook's deadline lands after this one (both take the pd lock). */
int gort_fd_ctx_set_deadline(gort_fd_ctx *w, int mode, int64_t deadline_ns)
{
    struct ctx_hook *h = (struct ctx_hook *)w;
    int rc = gort_set_deadline(h->fd, mode, deadline_ns);
    if (rc == 0 && h->ctx && gort_ctx_err(h->ctx))
        gort_set_deadline(h->fd, GORT_IO_BOTH, 1);
    return rc;
}

ssize_t gort_read_ctx(gort_ctx *ctx, int fd, void *buf, size_t n)
{
    gort_fd_ctx w;
    int err = gort_fd_ctx_bind(&w, ctx, fd);
    if (err)
        return err;
    ssize_t r = gort_read(fd, buf, n);
    err = gort_fd_ctx_unbind(&w);
    return err && r < 0 ? err : r;
}

ssize_t gort_write_ctx(gort_ctx *ctx, int fd, const void *buf, size_t n)
{
    gort_fd_ctx w;
    int err = gort_fd_ctx_bind(&w, ctx, fd);
    if (err)
        return err;
    ssize_t r = gort_write(fd, buf, n);
    err = gort_fd_ctx_unbind(&w);
    return err && r < 0 ? err : r;
}
