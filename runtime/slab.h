/* slab.h — fixed-size runtime objects (goroutines, sudogs) from dense,
 * huge-page-backed chunks. See slab.c. */
#ifndef GORT_SLAB_H
#define GORT_SLAB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lock.h"

/* Bytes per chunk: one transparent huge page on x86-64 and arm64 (4 KiB
 * base pages). Chunks are aligned to it so the kernel can back them with
 * one huge page each. */
#define GORT__SLAB_CHUNK ((size_t)2 << 20)

/* How a slab's chunks get their memory, decided at its first chunk. */
enum gort__slab_mode {
    SLAB_AUTO = 0, /* THP advice where the kernel offers it, else prefault */
    SLAB_HUGE = 1, /* madvise(MADV_HUGEPAGE) took */
    SLAB_PREFAULT = 2, /* no THP: the chunk is populated in one call */
};

struct gort__slab_free {
    struct gort__slab_free *next;
};

struct gort__slab {
    gort__lock lock;
    size_t size;    /* object size; set before first use, see SLAB_INIT */
    uintptr_t next; /* bump pointer in the current chunk, under lock */
    uintptr_t end;  /* end of the current chunk's objects, under lock */
    struct gort__slab_free *free; /* objects given back, LIFO, under lock */
    _Atomic int mode;             /* enum gort__slab_mode */
    _Atomic uint64_t chunks;      /* chunks mapped (never unmapped) */
    _Atomic uint64_t live;        /* objects handed out and not given back */
};

/* A slab of objects of `sz` bytes (rounded up to a 64-byte cache line so
 * that two goroutines' hot words never share one). mode: SLAB_AUTO, or
 * SLAB_PREFAULT to refuse huge pages (tests, and the fallback path). */
// clang-format off
#define GORT__SLAB_INIT(sz, md) \
    { .lock = GORT__LOCK_INIT, .size = ((sz) + 63) & ~(size_t)63, .mode = (md) }
// clang-format on

/* A zeroed object, or NULL when no memory can be mapped. */
void *gort__slab_alloc(struct gort__slab *s);
/* Up to n zeroed objects into out under one lock hold; returns how many. */
size_t gort__slab_alloc_batch(struct gort__slab *s, void **out, size_t n);
/* Gives an object back for reuse (its memory stays mapped). */
void gort__slab_free(struct gort__slab *s, void *obj);
/* Gives n objects back under one lock hold. */
void gort__slab_free_batch(struct gort__slab *s, void **objs, size_t n);
/* Whether this kernel offers transparent huge pages to madvise(2) callers
 * (/sys/kernel/mm/transparent_hugepage/enabled is "always" or "madvise"),
 * and GORT_SLAB_THP=0 does not turn them down. Read once. */
bool gort__slab_thp_available(void);

#endif /* GORT_SLAB_H */
