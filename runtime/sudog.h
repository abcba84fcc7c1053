/* sudog.h — a goroutine waiting on a channel, and the per-P pool they come
 * from (sudog.c). */
#ifndef GORT_SUDOG_H
#define GORT_SUDOG_H

#include <stdbool.h>

#include "common/list.h"
#include "gort/gort.h"

struct gort__g;

/* Go's sudog ("pseudo-g"): one goroutine waiting on one channel, with a
 * pointer to the element it sends or receives into. A select waits with
 * one per case. Fields under the channel's lock while queued. */
struct gort__sudog {
    struct gort__g *g;
    struct ilist_node link; /* in a wait queue, or close's woken list */
    void *elem; /* the sender's value or the receiver's destination */
    gort_chan *c;
    int caseidx; /* for select */
    bool isselect;
    bool inq;     /* still linked in a wait queue (under c->lock) */
    bool success; /* true: value passed; false: woken by close */
};

/* A P's private stack of free sudogs (Go's p.sudogcache). */
#define GORT__SUDOG_CACHE 128
struct gort__sudogcache {
    int n;
    struct gort__sudog *s[GORT__SUDOG_CACHE];
};

/* A sudog (contents undefined), or NULL when no memory is left. c is the
 * caller's P's cache (owner only), or NULL without a P: the central pool. */
struct gort__sudog *gort__sudog_get(struct gort__sudogcache *c);
/* Gives sg back to c (or to the central pool when c is NULL). */
void gort__sudog_put(struct gort__sudogcache *c, struct gort__sudog *sg);
/* Moves all of c to the central pool (a retiring P). */
void gort__sudog_flush(struct gort__sudogcache *c);

struct gort__sudog_counts {
    unsigned long long live;   /* handed out, in caches or in use */
    unsigned long long chunks; /* 2 MiB chunks mapped */
    int mode;                  /* enum gort__slab_mode of the pool */
};
void gort__sudog_counts(struct gort__sudog_counts *out);

#endif /* GORT_SUDOG_H */
