/* sudog.c — the sudog pool, after Go's acquireSudog/releaseSudog.
 *
 * A goroutine that parks on a channel queues a sudog there. They used to
 * live on the parked goroutine's own stack, which made a parked receiver
 * cost no allocation, but it made waking many waiters expensive: closing a
 * channel with a million parked receivers walked a million sudogs, each on
 * its own stack page 256 KiB from the next, so every step of the walk was a
 * TLB miss and a page-table walk through ~500 MB of page tables (12–14 s on
 * this VM; Go, whose sudogs are heap objects, 2 s). Now sudogs are 64-byte
 * objects packed in huge-page slab chunks (slab.c): a wait queue is a walk
 * through dense memory, 32 sudogs per 2 KiB, one TLB entry per 32,768.
 *
 * Two levels, as in Go: each P keeps a stack of up to 128 free sudogs that
 * only its owner touches (no lock, no atomic: a channel round trip takes and
 * gives back one per park), and refills or spills half of it at a time
 * from the central pool, which is the slab's own free list under its lock.
 * LIFO reuse keeps the sudog a goroutine gets hot in cache. A caller without
 * a P (sysmon took it) goes to the central pool directly. The caller's P
 * must not change under it: chan.c holds the runtime gate (proc.c) across
 * each get and put.
 */
#include "sudog.h"

#include "slab.h"

static struct gort__slab sudogs =
    GORT__SLAB_INIT(sizeof(struct gort__sudog), SLAB_AUTO);

#define BATCH (GORT__SUDOG_CACHE / 2)

struct gort__sudog *gort__sudog_get(struct gort__sudogcache *c)
{
    if (!c)
        return gort__slab_alloc(&sudogs);
    if (c->n == 0)
        c->n = (int)gort__slab_alloc_batch(&sudogs, (void **)c->s, BATCH);
    return c->n > 0 ? c->s[--c->n] : NULL;
}

void gort__sudog_put(struct gort__sudogcache *c, struct gort__sudog *sg)
{
    if (!c) {
        gort__slab_free(&sudogs, sg);
        return;
    }
    if (c->n == GORT__SUDOG_CACHE) {
        /* Spill the older half: the newest stay hot for the next get. */
        gort__slab_free_batch(&sudogs, (void **)c->s, BATCH);
        for (int i = BATCH; i < c->n; i++)
            c->s[i - BATCH] = c->s[i];
        c->n -= BATCH;
    }
    c->s[c->n++] = sg;
}

void gort__sudog_flush(struct gort__sudogcache *c)
{
    gort__slab_free_batch(&sudogs, (void **)c->s, (size_t)c->n);
    c->n = 0;
}

void gort__sudog_counts(struct gort__sudog_counts *out)
{
    out->live = atomic_load_explicit(&sudogs.live, memory_order_relaxed);
    out->chunks = atomic_load_explicit(&sudogs.chunks, memory_order_relaxed);
    out->mode = atomic_load_explicit(&sudogs.mode, memory_order_relaxed);
}
