/* chan.c — channels and select, after Go's runtime/chan.go and select.go.
 *
 * A channel is a lock, an optional ring buffer and two wait queues of
 * sudogs ("pseudo-g": a goroutine waiting on one channel, with a pointer to
 * the element it sends or receives into). A waker copies the element
 * straight into the waiter's variable, which stays put on its parked stack:
 * an unbuffered send to a parked receiver is one memcpy and one gort__ready,
 * no buffer.
 *
 * Sudogs come from a per-P pool (sudog.c, Go's acquireSudog): dense 64-byte
 * objects, so a close that wakes a million receivers walks packed memory,
 * not a million cold stack pages (they lived on the waiters' stacks until
 * session 5). A blocking operation enters the runtime gate (proc.c) once,
 * before it takes its sudog, and leaves it after it gave the sudog back, so
 * the P whose cache it uses cannot change hands in between; the park inside
 * reuses that entry, so a park costs no extra locked instruction.
 *
 * Parking: the waiter enqueues its sudog under the channel lock and parks
 * with the unlock as its after-switch hook (proc.c), so no waker can see the
 * sudog before the waiter is off its stack.
 *
 * select locks every channel involved in address order (no deadlock between
 * two selects over the same channels), looks for a ready case in a random
 * order (fairness), and otherwise enqueues one sudog per case. The first
 * waker to win a CAS on the goroutine's selectdone flag fires its case; the
 * others skip the sudog. On wake-up select relocks and removes the sudogs
 * still queued, then gives them all back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/list.h"
#include "runtime.h"

struct waitq {
    struct ilist q; /* of gort__sudog.link, oldest first */
};

struct gort_chan {
    gort__lock lock;
    bool closed;
    size_t elemsize;
    size_t cap;
    size_t qcount; /* under lock; read racily by gort_chan_len */
    size_t sendx, recvx;
    unsigned char *buf;
    struct waitq recvq, sendq;
    void (*fin)(void *); /* gort__chan_set_fin: runs at gort_chan_free */
    void *fin_arg;
};

gort_chan *gort_chan_make(size_t elem_size, size_t cap)
{
    if (elem_size && cap > SIZE_MAX / elem_size)
        return NULL;
    gort_chan *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->elemsize = elem_size;
    c->cap = cap;
    if (cap && elem_size) {
        c->buf = malloc(cap * elem_size);
        if (!c->buf) {
            free(c);
            return NULL;
        }
    }
    return c;
}

void gort_chan_free(gort_chan *c)
{
    if (!c)
        return;
    if (c->fin)
        c->fin(c->fin_arg);
    free(c->buf);
    free(c);
}

size_t gort_chan_len(gort_chan *c)
{
    return c ? __atomic_load_n(&c->qcount, __ATOMIC_RELAXED) : 0;
}

size_t gort_chan_cap(gort_chan *c)
{
    return c ? c->cap : 0;
}

/* ---- wait queues (under c->lock) --------------------------------------- */

static void enqueue(struct waitq *q, struct gort__sudog *sg)
{
    ilist_push_back(&q->q, &sg->link);
    sg->inq = true;
}

static void unlink_sudog(struct waitq *q, struct gort__sudog *sg)
{
    ilist_remove(&q->q, &sg->link);
    sg->inq = false;
}

/* The first waiter that can still be woken; a select whose other case
 * already fired is dropped from the queue and skipped. */
static struct gort__sudog *dequeue(struct waitq *q)
{
    struct ilist_node *n;
    while ((n = q->q.first) != NULL) {
        struct gort__sudog *sg = ilist_entry(n, struct gort__sudog, link);
        unlink_sudog(q, sg);
        int zero = 0;
        if (!sg->isselect ||
            atomic_compare_exchange_strong(&sg->g->selectdone, &zero, 1))
            return sg;
    }
    return NULL;
}

/* ---- element moves ------------------------------------------------------ */

static void elem_copy(const gort_chan *c, void *dst, const void *src)
{
    if (dst && c->elemsize)
        memcpy(dst, src, c->elemsize);
}

static void elem_zero(const gort_chan *c, void *dst)
{
    if (dst && c->elemsize)
        memset(dst, 0, c->elemsize);
}

static void *slot(gort_chan *c, size_t i)
{
    return c->buf + i * c->elemsize;
}

static void buf_put(gort_chan *c, const void *elem)
{
    if (c->elemsize)
        memcpy(slot(c, c->sendx), elem, c->elemsize);
    c->sendx = (c->sendx + 1) % c->cap;
    __atomic_store_n(&c->qcount, c->qcount + 1, __ATOMIC_RELAXED);
}

static void buf_take(gort_chan *c, void *elem)
{
    if (c->elemsize)
        elem_copy(c, elem, slot(c, c->recvx));
    c->recvx = (c->recvx + 1) % c->cap;
    __atomic_store_n(&c->qcount, c->qcount - 1, __ATOMIC_RELAXED);
}

/* Wakes sg's goroutine; call after releasing the channel lock. */
static void wake(struct gort__sudog *sg, bool success)
{
    struct gort__g *gp = sg->g;
    sg->success = success;
    gp->param = sg;
    gort__ready(gp); /* sg may die as soon as gp runs: last touch */
}

/* Hands elem to a parked receiver (under lock). */
static void send_to_waiter(gort_chan *c, struct gort__sudog *sg,
                           const void *elem)
{
    elem_copy(c, sg->elem, elem);
}

/* Takes from a parked sender (under lock): straight from it when unbuffered;
 * else the buffer's head, and the sender's value goes to the buffer's tail. */
static void recv_from_waiter(gort_chan *c, struct gort__sudog *sg, void *elem)
{
    if (c->cap == 0) {
        elem_copy(c, elem, sg->elem);
        return;
    }
    buf_take(c, elem);
    buf_put(c, sg->elem);
}

/* ---- sudogs ------------------------------------------------------------- */

/* A sudog for the calling goroutine about to block: the runtime gate stays
 * entered (*outer says whether this call opened it) until sudog_release. */
static struct gort__sudog *sudog_acquire(bool *outer)
{
    struct gort__p *p = gort__rt_enter(outer);
    struct gort__sudog *sg = gort__sudog_get(p ? &p->sudogs : NULL);
    if (!sg)
        gort__throw("chan", "out of memory for sudogs");
    return sg;
}

/* After the park: the goroutine may run on another M and P by now. */
static void sudog_release(struct gort__sudog *sg)
{
    bool inner;
    struct gort__p *p = gort__rt_enter(&inner);
    gort__sudog_put(p ? &p->sudogs : NULL, sg);
    gort__rt_exit(inner);
}

/* ---- send and receive --------------------------------------------------- */

static bool unlock_chan(struct gort__g *gp, void *arg)
{
    (void)gp;
    gort__lock_release(&((gort_chan *)arg)->lock);
    return true;
}

static void park_forever(enum gort__waitreason why)
{
    gort__park(NULL, NULL, why);
    gort__throw("park_forever", "goroutine woken from a nil channel");
}

int gort_chan_send(gort_chan *c, const void *elem)
{
    if (!c)
        park_forever(WR_CHAN_SEND_NIL);
    gort__lock_acquire(&c->lock);
    if (c->closed) {
        gort__lock_release(&c->lock);
        return -EPIPE;
    }
    struct gort__sudog *sg = dequeue(&c->recvq);
    if (sg) {
        send_to_waiter(c, sg, elem);
        gort__lock_release(&c->lock);
        wake(sg, true);
        return 0;
    }
    if (c->qcount < c->cap) {
        buf_put(c, elem);
        gort__lock_release(&c->lock);
        return 0;
    }
    bool outer;
    struct gort__sudog *me = sudog_acquire(&outer);
    *me = (struct gort__sudog){.g = gort__getg(), .elem = (void *)elem, .c = c};
    enqueue(&c->sendq, me);
    gort__park(unlock_chan, c, WR_CHAN_SEND);
    bool ok = me->success;
    sudog_release(me);
    gort__rt_exit(outer);
    return ok ? 0 : -EPIPE;
}

int gort_chan_recv(gort_chan *c, void *elem)
{
    if (!c)
        park_forever(WR_CHAN_RECV_NIL);
    gort__lock_acquire(&c->lock);
    struct gort__sudog *sg = dequeue(&c->sendq);
    if (sg) {
        recv_from_waiter(c, sg, elem);
        gort__lock_release(&c->lock);
        wake(sg, true);
        return 1;
    }
    if (c->qcount > 0) {
        buf_take(c, elem);
        gort__lock_release(&c->lock);
        return 1;
    }
    if (c->closed) {
        gort__lock_release(&c->lock);
        elem_zero(c, elem);
        return 0;
    }
    bool outer;
    struct gort__sudog *me = sudog_acquire(&outer);
    *me = (struct gort__sudog){.g = gort__getg(), .elem = elem, .c = c};
    enqueue(&c->recvq, me);
    gort__park(unlock_chan, c, WR_CHAN_RECV);
    bool ok = me->success;
    sudog_release(me);
    gort__rt_exit(outer);
    if (!ok)
        elem_zero(c, elem);
    return ok ? 1 : 0;
}

int gort_chan_close(gort_chan *c)
{
    if (!c)
        return -EINVAL;
    /* Inside the runtime gate throughout: readying a million waiters takes
     * a while (100 ms and more on a loaded machine), and from sysmon it
     * would look like a long runner, whose P it hands to another thread.
     * The readies then go to the global queue off any P while two threads
     * contend for the CPU that the woken goroutines need (issue 12 item 5:
     * seconds of wall clock for 1M waiters under load). */
    bool outer;
    gort__rt_enter(&outer);
    gort__lock_acquire(&c->lock);
    if (c->closed) {
        gort__lock_release(&c->lock);
        gort__rt_exit(outer);
        return -EPIPE;
    }
    c->closed = true;
    struct ilist woken = ILIST_INIT;
    struct gort__sudog *sg;
    while ((sg = dequeue(&c->recvq)) != NULL) {
        elem_zero(c, sg->elem);
        ilist_push_back(&woken, &sg->link);
    }
    while ((sg = dequeue(&c->sendq)) != NULL)
        ilist_push_back(&woken, &sg->link);
    gort__lock_release(&c->lock);
    struct ilist_node *n;
    /* Unlinked before the wake: sg dies with its goroutine. */
    while ((n = ilist_pop_front(&woken)) != NULL)
        wake(ilist_entry(n, struct gort__sudog, link), false);
    gort__rt_exit(outer);
    return 0;
}

/* ---- select ------------------------------------------------------------- */

struct selstate {
    struct gort_select_case *cases;
    int n;
    int *lockorder;           /* case indices sorted by channel address */
    int nlock;                /* distinct non-NULL channels */
    struct gort__sudog **sgs; /* one per case, from the pool */
};

static void sellock(struct selstate *s)
{
    for (int i = 0; i < s->nlock; i++)
        gort__lock_acquire(&s->cases[s->lockorder[i]].chan->lock);
}

static void selunlock(struct selstate *s)
{
    for (int i = s->nlock - 1; i >= 0; i--)
        gort__lock_release(&s->cases[s->lockorder[i]].chan->lock);
}

static bool selunlock_park(struct gort__g *gp, void *arg)
{
    (void)gp;
    selunlock(arg);
    return true;
}

/* Insertion sort by channel address, dropping NULLs and duplicates. */
static void sort_locks(struct selstate *s)
{
    s->nlock = 0;
    for (int i = 0; i < s->n; i++) {
        gort_chan *c = s->cases[i].chan;
        if (!c)
            continue;
        int j = s->nlock;
        while (j > 0 &&
               (uintptr_t)s->cases[s->lockorder[j - 1]].chan > (uintptr_t)c)
            j--;
        if (j > 0 && s->cases[s->lockorder[j - 1]].chan == c)
            continue;
        memmove(&s->lockorder[j + 1], &s->lockorder[j],
                (size_t)(s->nlock - j) * sizeof(int));
        s->lockorder[j] = i;
        s->nlock++;
    }
}

/* Tries case i with every lock held. Returns true when it fired; *w is a
 * waiter to wake once the locks are released. */
static bool try_case(struct gort_select_case *k, struct gort__sudog **w)
{
    gort_chan *c = k->chan;
    struct gort__sudog *sg;
    if (k->dir == GORT_SELECT_RECV) {
        if ((sg = dequeue(&c->sendq)) != NULL) {
            recv_from_waiter(c, sg, k->elem);
            *w = sg;
            k->ok = 1;
        } else if (c->qcount > 0) {
            buf_take(c, k->elem);
            k->ok = 1;
        } else if (c->closed) {
            elem_zero(c, k->elem);
            k->ok = 0;
        } else {
            return false;
        }
        return true;
    }
    if (c->closed) {
        k->ok = -EPIPE;
    } else if ((sg = dequeue(&c->recvq)) != NULL) {
        send_to_waiter(c, sg, k->elem);
        *w = sg;
        k->ok = 1;
    } else if (c->qcount < c->cap) {
        buf_put(c, k->elem);
        k->ok = 1;
    } else {
        return false;
    }
    return true;
}

static int select_poll(struct selstate *s)
{
    struct gort__m *m = gort__getm();
    int start = s->n ? (int)(gort__fastrand(m) % (unsigned)s->n) : 0;
    for (int j = 0; j < s->n; j++) {
        int i = (start + j) % s->n;
        struct gort__sudog *w = NULL;
        if (!s->cases[i].chan || !try_case(&s->cases[i], &w))
            continue;
        selunlock(s);
        if (w)
            wake(w, true);
        return i;
    }
    return -1;
}

static int select_block(struct selstate *s)
{
    struct gort__g *gp = gort__getg();
    atomic_store(&gp->selectdone, 0);
    gp->param = NULL;
    bool outer = false;
    struct gort__p *p = gort__rt_enter(&outer);
    for (int i = 0; i < s->n; i++) {
        struct gort_select_case *k = &s->cases[i];
        struct gort__sudog *sg = gort__sudog_get(p ? &p->sudogs : NULL);
        if (!sg)
            gort__throw("gort_select", "out of memory for sudogs");
        s->sgs[i] = sg;
        *sg = (struct gort__sudog){.g = gp,
                                   .elem = k->elem,
                                   .c = k->chan,
                                   .caseidx = i,
                                   .isselect = true};
        if (k->chan)
            enqueue(k->dir == GORT_SELECT_RECV ? &k->chan->recvq
                                               : &k->chan->sendq,
                    sg);
    }
    gort__park(selunlock_park, s, WR_SELECT);
    struct gort__sudog *fired = gp->param;
    sellock(s);
    for (int i = 0; i < s->n; i++) {
        struct gort__sudog *sg = s->sgs[i];
        struct gort_select_case *k = &s->cases[i];
        if (sg->inq)
            unlink_sudog(k->dir == GORT_SELECT_RECV ? &k->chan->recvq
                                                    : &k->chan->sendq,
                         sg);
    }
    selunlock(s);
    int idx = fired->caseidx;
    bool ok = fired->success;
    /* Every sudog is unlinked now: no waker can reach them any more. */
    bool inner;
    p = gort__rt_enter(&inner);
    for (int i = 0; i < s->n; i++)
        gort__sudog_put(p ? &p->sudogs : NULL, s->sgs[i]);
    gort__rt_exit(inner);
    gort__rt_exit(outer);
    struct gort_select_case *k = &s->cases[idx];
    if (k->dir == GORT_SELECT_RECV)
        k->ok = ok ? 1 : 0;
    else
        k->ok = ok ? 1 : -EPIPE;
    return idx;
}

#define SELECT_STACK_CASES 16

int gort_select(struct gort_select_case *cases, int n, int block)
{
    if (n < 0 || (n > 0 && !cases))
        return -EINVAL;
    int order_buf[SELECT_STACK_CASES];
    struct gort__sudog *sg_buf[SELECT_STACK_CASES];
    struct selstate s = {
        .cases = cases, .n = n, .lockorder = order_buf, .sgs = sg_buf};
    if (n > SELECT_STACK_CASES) {
        s.lockorder = malloc((size_t)n * sizeof(int));
        s.sgs = malloc((size_t)n * sizeof *s.sgs);
        if (!s.lockorder || !s.sgs) {
            free(s.lockorder);
            free(s.sgs);
            return -ENOMEM;
        }
    }
    sort_locks(&s);
    sellock(&s);
    int r = select_poll(&s);
    if (r < 0 && !block) {
        selunlock(&s);
        r = -EAGAIN;
    } else if (r < 0 && s.nlock == 0) {
        park_forever(WR_SELECT_NO_CASES);
    } else if (r < 0) {
        r = select_block(&s);
    }
    if (n > SELECT_STACK_CASES) {
        free(s.lockorder);
        free(s.sgs);
    }
    return r;
}

/* ---- for timer.c: sends and drains from any thread ---------------------- */

void gort__chan_set_fin(gort_chan *c, void (*fin)(void *), void *arg)
{
    c->fin = fin;
    c->fin_arg = arg;
}

/* A send that never parks, callable off a goroutine (the thread firing
 * timers may have no M): false when it would block or c is closed. */
bool gort__chan_trysend(gort_chan *c, const void *elem)
{
    struct gort_select_case k = {
        .chan = c, .dir = GORT_SELECT_SEND, .elem = (void *)elem};
    struct gort__sudog *w = NULL;
    gort__lock_acquire(&c->lock);
    bool sent = !c->closed && try_case(&k, &w);
    gort__lock_release(&c->lock);
    if (w)
        wake(w, true);
    return sent;
}

/* Empties c's buffer (a stopped timer's stale value); returns how many
 * elements it dropped. */
size_t gort__chan_drain(gort_chan *c)
{
    gort__lock_acquire(&c->lock);
    size_t n = c->qcount;
    while (c->qcount > 0)
        buf_take(c, NULL);
    gort__lock_release(&c->lock);
    return n;
}
