/* runq.h — run queues: the per-P 256-slot lock-free ring and the global queue.
 *
 * Internal to libgort (gort__ prefix). The ring is Go's runqput/runqget/
 * runqsteal: a single producer (the owning P) pushes at the tail; the owner
 * and thieves pop from the head with a compare-and-swap. The global queue is
 * a linked list under a mutex, fed in batches so that a P whose ring overflows
 * pays for the lock once per 128 goroutines, not once per goroutine.
 */
#ifndef GORT_RUNQ_H
#define GORT_RUNQ_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define GORT_RUNQ_SIZE 256

struct gort__g;

struct gort__runq {
    /* head: consumers (owner and thieves) advance it with CAS, acq_rel.
     * tail: only the owner stores it, with release, so a thief that reads it
     * with acquire also sees the slots written before. */
    _Atomic uint32_t head;
    _Atomic uint32_t tail;
    _Atomic(struct gort__g *) slots[GORT_RUNQ_SIZE];
};

struct gort__globrunq {
    pthread_mutex_t lock;
    struct gort__g *head, *tail; /* linked through g->schedlink, under lock */
    _Atomic uint64_t size;       /* written under lock, read lock-free */
};

void gort__runq_init(struct gort__runq *q);
uint32_t gort__runq_len(const struct gort__runq *q);

/* Owner only. Puts gp at the tail; when the ring is full, moves half of it
 * plus gp to the global queue in one batch. */
void gort__runq_put(struct gort__runq *q, struct gort__globrunq *gq,
                    struct gort__g *gp);
/* Owner only. The fast path: false when the ring is full. */
bool gort__runq_put_fast(struct gort__runq *q, struct gort__g *gp);

/* Owner or thief. Oldest goroutine, or NULL when empty. */
struct gort__g *gort__runq_get(struct gort__runq *q);
/* Owner. The goroutine k places behind the one the next gort__runq_get
 * would return (k = 0: that one), or NULL; a hint only (a thief may take
 * it meanwhile). */
struct gort__g *gort__runq_peek(struct gort__runq *q, uint32_t k);

/* Called by the owner of thief. Takes half (rounded up) of victim's ring:
 * returns one of them to run now and puts the rest on thief's ring (which
 * must be empty). *n is set to the number taken. NULL when victim is empty. */
struct gort__g *gort__runq_steal(struct gort__runq *victim,
                                 struct gort__runq *thief, uint32_t *n);

/* Owner only. Empties the ring into the front of the global queue (a
 * retiring P); returns how many moved. */
uint32_t gort__runq_drain_to_global(struct gort__runq *q,
                                    struct gort__globrunq *gq,
                                    struct gort__g *extra);

void gort__globrunq_init(struct gort__globrunq *gq);
/* Appends a linked batch head..tail of n goroutines. Takes the lock. */
void gort__globrunq_put_batch(struct gort__globrunq *gq, struct gort__g *head,
                              struct gort__g *tail, uint32_t n);
/* Prepends a linked batch (a retiring P's work runs before newer work). */
void gort__globrunq_push_front(struct gort__globrunq *gq, struct gort__g *head,
                               struct gort__g *tail, uint32_t n);
/* Takes up to max goroutines: returns the first, puts the rest on q (owner
 * only; q may be NULL to take one). Go's globrunqget. */
struct gort__g *gort__globrunq_get(struct gort__globrunq *gq,
                                   struct gort__runq *q, uint32_t max);
uint64_t gort__globrunq_len(const struct gort__globrunq *gq);

#endif /* GORT_RUNQ_H */
