/* stack.h — goroutine stacks: reserved address space, committed on touch. */
#ifndef GORT_STACK_H
#define GORT_STACK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sanitizer.h"

/* 64 KiB: the deepest request path of gortd's plugins touches 32 KiB
 * (bench/stackhwm.sh); stack.c's opening comment has the numbers. Sanitizer
 * builds get 4x (Go's stackGuardMultiplier idea): ASan's red zones around
 * locals and unoptimised frames make the same code several times deeper. */
#if GORT__ASAN || GORT__TSAN
#define GORT_STACK_DEFAULT (256 * 1024)
#else
#define GORT_STACK_DEFAULT (64 * 1024)
#endif
/* The main goroutine (gort_main) and other start-up work: dlopen and the
 * symbol index of a plugin load reach 176 KiB. */
#define GORT_STACK_MAIN (1024 * 1024)

enum gort__stack_kind {
    STACK_NONE = 0,
    STACK_GUARD = 1,  /* lowest page PROT_NONE: overflow faults at once */
    STACK_CANARY = 2, /* lowest page is a red zone checked at every switch */
    STACK_THREAD = 3, /* an M's own pthread stack (g0) */
};

struct gort__stack {
    uintptr_t lo;      /* lowest address of the reservation (guard/red zone) */
    uintptr_t hi;      /* one past the highest usable byte; 16-byte aligned */
    uint8_t kind;      /* enum gort__stack_kind */
    bool arena;        /* carved from a shared arena (default size, pooled) */
    uint32_t arena_ix; /* which arena (stack.c's table), when arena */
};

/* Reserves a stack of size bytes (0 = GORT_STACK_DEFAULT). 0 or -ENOMEM. */
int gort__stack_alloc(struct gort__stack *s, size_t size);
/* Gives a stack back. Arena stacks go to the global pool; others are
 * unmapped. */
void gort__stack_free(struct gort__stack *s);
/* The size to ask gort__stack_alloc for another stack like s: 0 for a
 * default (arena) stack or none. */
size_t gort__stack_size_of(const struct gort__stack *s);
/* Gives all of a stack's pages back to the kernel (one madvise). */
void gort__stack_scavenge(const struct gort__stack *s);
/* Overflow check for red-zone stacks at a switch: false when sp is below
 * the usable range, or the goroutine is deep and its red zone page became
 * resident (written). Always true for guarded stacks. */
bool gort__stack_check(const struct gort__stack *s, uintptr_t sp);
/* True when addr falls in the stack's guard page or red zone. */
bool gort__stack_contains_guard(const struct gort__stack *s, uintptr_t addr);
size_t gort__stack_page(void);
/* How deep the stack has been used: bytes from the top down to its lowest
 * resident page (mincore), i.e. the high-water mark of every goroutine that
 * ran on it since its pages were last given back. 0 when unknown. */
size_t gort__stack_used(const struct gort__stack *s);

/* A P's private cache of free default-size stacks, used LIFO so that a new
 * goroutine runs on the stack a dead one just left, still hot in cache. */
#define GORT_STACK_CACHE 32
struct gort__stackcache {
    int n;
    struct gort__stack s[GORT_STACK_CACHE];
};

/* Takes a default-size stack: from c, else a batch from the global pool,
 * else fresh address space. 0 or -ENOMEM. Owner of c only. */
int gort__stack_get(struct gort__stackcache *c, struct gort__stack *out);
/* Returns a stack: default-size ones to c (half of c spills to the global
 * pool when full), others are unmapped. */
void gort__stack_put(struct gort__stackcache *c, struct gort__stack *s);
/* Moves all of c to the global pool (a retiring P). */
void gort__stack_flush(struct gort__stackcache *c);
/* Sysmon's pass over the global pool: gives back the pages of all pooled
 * stacks but the newest POOL_HOT (all of them when none was taken from the
 * pool since the last pass), a madvise per run of adjacent slots. */
void gort__stack_scavenge_pool(void);

struct gort__stack_pool_counts {
    uint64_t hot;              /* pooled with their pages */
    uint64_t cold;             /* pooled, pages given back */
    uint64_t scavenge_calls;   /* madvise calls of all passes so far */
    uint64_t scavenged_stacks; /* stacks those calls gave back */
};
void gort__stack_pool_counts(struct gort__stack_pool_counts *c);

struct gort__stack_counts {
    uint64_t guarded, canary, reserved_bytes;
};
void gort__stack_counts(struct gort__stack_counts *c);

#endif /* GORT_STACK_H */
