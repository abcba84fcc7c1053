/* runq.c — the per-P ring and the global run queue (Go's runqput, runqget,
 * runqgrab/runqsteal, runqputslow, globrunqget).
 *
 * The ring holds at most 256 goroutines; head and tail are free-running
 * 32-bit counters (slot = counter % 256, wrap-around is harmless because
 * tail - head never exceeds 256). Only the owner writes the tail. The owner
 * and thieves both take from the head by CAS, so a take is linearized at its
 * CAS; a thief first copies the slots it wants and then tries to claim them,
 * retrying when somebody moved the head meanwhile. Slots are atomics read
 * relaxed: a thief may read a slot the owner is rewriting, but then its CAS on
 * head fails (the owner can only reuse a slot after the head passed it).
 */
#include "runq.h"

#include "runtime.h"

#define RUNQ_MASK (GORT_RUNQ_SIZE - 1)

void gort__runq_init(struct gort__runq *q)
{
    atomic_store_explicit(&q->head, 0, memory_order_relaxed);
    atomic_store_explicit(&q->tail, 0, memory_order_relaxed);
    for (int i = 0; i < GORT_RUNQ_SIZE; i++)
        atomic_store_explicit(&q->slots[i], NULL, memory_order_relaxed);
}

uint32_t gort__runq_len(const struct gort__runq *q)
{
    /* Read head first: a thief may advance it while we look, and a length
     * computed from a newer tail and an older head can only be too large,
     * never negative; clamp it. */
    uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
    uint32_t n = t - h;
    return n > GORT_RUNQ_SIZE ? GORT_RUNQ_SIZE : n;
}

bool gort__runq_put_fast(struct gort__runq *q, struct gort__g *gp)
{
    uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    if (t - h >= GORT_RUNQ_SIZE)
        return false;
    atomic_store_explicit(&q->slots[t & RUNQ_MASK], gp, memory_order_relaxed);
    /* release: a thief that acquires the new tail sees the slot. */
    atomic_store_explicit(&q->tail, t + 1, memory_order_release);
    return true;
}

/* The ring is full: move its older half plus gp to the global queue in one
 * batch. Returns false when a thief emptied part of the ring meanwhile (the
 * caller retries the fast path). */
static bool runq_put_slow(struct gort__runq *q, struct gort__globrunq *gq,
                          struct gort__g *gp)
{
    enum { HALF = GORT_RUNQ_SIZE / 2 };
    struct gort__g *batch[HALF + 1];
    uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    if (t - h != GORT_RUNQ_SIZE)
        return false;
    for (uint32_t i = 0; i < HALF; i++)
        batch[i] = atomic_load_explicit(&q->slots[(h + i) & RUNQ_MASK],
                                        memory_order_relaxed);
    if (!atomic_compare_exchange_strong_explicit(
            &q->head, &h, h + HALF, memory_order_acq_rel, memory_order_relaxed))
        return false;
    batch[HALF] = gp;
    for (uint32_t i = 0; i < HALF; i++)
        batch[i]->schedlink = batch[i + 1];
    gp->schedlink = NULL;
    gort__globrunq_put_batch(gq, batch[0], gp, HALF + 1);
    return true;
}

void gort__runq_put(struct gort__runq *q, struct gort__globrunq *gq,
                    struct gort__g *gp)
{
    for (;;) {
        if (gort__runq_put_fast(q, gp))
            return;
        if (runq_put_slow(q, gq, gp))
            return;
    }
}

struct gort__g *gort__runq_get(struct gort__runq *q)
{
    for (;;) {
        uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
        if (t == h)
            return NULL;
        struct gort__g *gp = atomic_load_explicit(&q->slots[h & RUNQ_MASK],
                                                  memory_order_relaxed);
        if (atomic_compare_exchange_weak_explicit(&q->head, &h, h + 1,
                                                  memory_order_acq_rel,
                                                  memory_order_relaxed))
            return gp;
    }
}

struct gort__g *gort__runq_peek(struct gort__runq *q, uint32_t k)
{
    uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    if (t - h <= k)
        return NULL;
    return atomic_load_explicit(&q->slots[(h + k) & RUNQ_MASK],
                                memory_order_relaxed);
}

/* Copies half (rounded up) of victim's ring into thief's ring starting at
 * thief's tail, then claims them from victim by CAS. Returns the count. */
static uint32_t runq_grab(struct gort__runq *victim, struct gort__runq *thief)
{
    uint32_t ttail = atomic_load_explicit(&thief->tail, memory_order_relaxed);
    for (;;) {
        uint32_t h = atomic_load_explicit(&victim->head, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&victim->tail, memory_order_acquire);
        uint32_t n = t - h;
        n = n - n / 2;
        if (n == 0)
            return 0;
        if (n > GORT_RUNQ_SIZE / 2)
            continue; /* head and tail read at different times: retry */
        for (uint32_t i = 0; i < n; i++) {
            struct gort__g *gp = atomic_load_explicit(
                &victim->slots[(h + i) & RUNQ_MASK], memory_order_relaxed);
            atomic_store_explicit(&thief->slots[(ttail + i) & RUNQ_MASK], gp,
                                  memory_order_relaxed);
        }
        if (atomic_compare_exchange_strong_explicit(&victim->head, &h, h + n,
                                                    memory_order_acq_rel,
                                                    memory_order_relaxed))
            return n;
    }
}

struct gort__g *gort__runq_steal(struct gort__runq *victim,
                                 struct gort__runq *thief, uint32_t *n)
{
    uint32_t got = runq_grab(victim, thief);
    *n = got;
    if (got == 0)
        return NULL;
    uint32_t t = atomic_load_explicit(&thief->tail, memory_order_relaxed);
    /* The last one copied runs now; the rest become visible in thief's ring. */
    struct gort__g *gp = atomic_load_explicit(
        &thief->slots[(t + got - 1) & RUNQ_MASK], memory_order_relaxed);
    if (got > 1)
        atomic_store_explicit(&thief->tail, t + got - 1, memory_order_release);
    return gp;
}

uint32_t gort__runq_drain_to_global(struct gort__runq *q,
                                    struct gort__globrunq *gq,
                                    struct gort__g *extra)
{
    struct gort__g *head = NULL, *tail = NULL, *gp;
    uint32_t n = 0;
    if (extra) {
        head = tail = extra;
        n = 1;
    }
    while ((gp = gort__runq_get(q)) != NULL) {
        if (tail)
            tail->schedlink = gp;
        else
            head = gp;
        tail = gp;
        n++;
    }
    if (n == 0)
        return 0;
    tail->schedlink = NULL;
    gort__globrunq_push_front(gq, head, tail, n);
    return n;
}

void gort__globrunq_init(struct gort__globrunq *gq)
{
    pthread_mutex_init(&gq->lock, NULL);
    gq->head = gq->tail = NULL;
    atomic_store_explicit(&gq->size, 0, memory_order_relaxed);
}

uint64_t gort__globrunq_len(const struct gort__globrunq *gq)
{
    return atomic_load_explicit(&gq->size, memory_order_seq_cst);
}

/* Under gq->lock. seq_cst: the putter then reads npidle (wakep) and an M
 * giving up its P bumps npidle then reads size; one of them sees the
 * other. */
static void size_add(struct gort__globrunq *gq, uint32_t n)
{
    atomic_store_explicit(&gq->size, gq->size + n, memory_order_seq_cst);
}

void gort__globrunq_put_batch(struct gort__globrunq *gq, struct gort__g *head,
                              struct gort__g *tail, uint32_t n)
{
    tail->schedlink = NULL;
    pthread_mutex_lock(&gq->lock);
    if (gq->tail)
        gq->tail->schedlink = head;
    else
        gq->head = head;
    gq->tail = tail;
    size_add(gq, n);
    pthread_mutex_unlock(&gq->lock);
}

void gort__globrunq_push_front(struct gort__globrunq *gq, struct gort__g *head,
                               struct gort__g *tail, uint32_t n)
{
    pthread_mutex_lock(&gq->lock);
    tail->schedlink = gq->head;
    gq->head = head;
    if (!gq->tail)
        gq->tail = tail;
    size_add(gq, n);
    pthread_mutex_unlock(&gq->lock);
}

struct gort__g *gort__globrunq_get(struct gort__globrunq *gq,
                                   struct gort__runq *q, uint32_t max)
{
    if (atomic_load_explicit(&gq->size, memory_order_relaxed) == 0)
        return NULL;
    if (!q || max == 0)
        max = 1;
    if (max > GORT_RUNQ_SIZE / 2)
        max = GORT_RUNQ_SIZE / 2;
    pthread_mutex_lock(&gq->lock);
    uint64_t size = atomic_load_explicit(&gq->size, memory_order_relaxed);
    uint32_t n = size < max ? (uint32_t)size : max;
    struct gort__g *first = gq->head, *last = NULL, *gp = gq->head;
    for (uint32_t i = 0; i < n; i++) {
        last = gp;
        gp = gp->schedlink;
    }
    gq->head = gp;
    if (!gp)
        gq->tail = NULL;
    atomic_store_explicit(&gq->size, size - n, memory_order_relaxed);
    pthread_mutex_unlock(&gq->lock);
    if (n == 0)
        return NULL;
    last->schedlink = NULL;
    /* Everything after the first goes to the local ring. */
    for (gp = first->schedlink; gp;) {
        struct gort__g *next = gp->schedlink;
        gort__runq_put(q, gq, gp);
        gp = next;
    }
    first->schedlink = NULL;
    return first;
}
