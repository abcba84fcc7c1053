/* symtab.h — function names and file:line for pcs, from an index built in
 * advance per loaded object (symtab.c says how and why). Internal to
 * libgort. */
#ifndef GORT_RUNTIME_SYMTAB_H
#define GORT_RUNTIME_SYMTAB_H

#include <stdbool.h>
#include <stdint.h>

struct gort__sym {
    const char *object; /* the object's path */
    uintptr_t objoff;   /* pc - the object's load bias */
    const char *func;   /* NULL when no symbol covers pc */
    uintptr_t funcoff;  /* pc - the function's start */
    const char *file;   /* NULL when no line row covers pc */
    int line;
};

/* Names pc (ret: pc is a return address, so its line is the call's).
 * false when pc lies in no indexed object. The strings live until the
 * object is pruned after its dlclose. Async-signal-safe: reads only. */
bool gort__sym_lookup(uintptr_t pc, bool ret, struct gort__sym *out);

/* The indexed object holding pc (an opaque identity), or NULL.
 * Async-signal-safe. */
const void *gort__sym_module(uintptr_t pc);

/* Indexes every loaded object not indexed yet. Takes a lock, allocates. */
void gort__sym_refresh(void);
void gort__sym_index_once(void); /* stats.c: the first index, once */

/* Forgets (and frees) the objects no longer loaded: after a dlclose, with
 * no reader left (stats.c holds its dump lock for writing). */
void gort__sym_prune(void);

/* From now on nothing is freed: a crash report may be reading. */
void gort__sym_crashing(void);

/* Stacks, for dumps (stats.c) and crash reports (crash.c); all
 * async-signal-safe. */
struct gort__g;
/* The frame-pointer chain from (pc, fp), frames within [lo, hi). */
int gort__walk_fp(uintptr_t pc, uintptr_t fp, uintptr_t lo, uintptr_t hi,
                  uintptr_t *pcs, int max);
/* A switched-out goroutine's return addresses, from its saved frame. */
int gort__g_pcs(const struct gort__g *gp, uintptr_t *pcs, int max);
/* The frames of a signal's interrupted context (crash.c says how), from
 * its handler; [lo, hi) bounds the frame-pointer fallback. */
int gort__uctx_pcs(const void *uc, uintptr_t lo, uintptr_t hi, uintptr_t *pcs,
                   int max);
/* pc, sp and frame pointer of a signal's interrupted context (ucontext_t). */
bool gort__uctx_regs(const void *uc, uintptr_t *pc, uintptr_t *sp,
                     uintptr_t *fp);

#endif
