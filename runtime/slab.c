/* slab.c — dense, huge-page-backed memory for fixed-size runtime objects.
 *
 * Why. Spawning a million goroutines at GOMAXPROCS=1 creates a million
 * goroutine structs before the first one runs (the spawner never yields).
 * From malloc, each 4 KiB of them is a first-touch page fault, and a fault
 * costs 16–40 µs on this VM (nested paging): that, not the scheduler, was
 * the cost of a spawn. Likewise, a channel close with a million parked
 * receivers walked a million sudogs that lived on a million parked stacks,
 * 256 KiB apart: one TLB miss and a cold page-table walk per waiter.
 *
 * How. Objects of one size are bump-allocated from 2 MiB chunks aligned to
 * 2 MiB, and given back to a LIFO free list threaded through the objects
 * themselves; chunks are never unmapped (goroutines and sudogs are pooled
 * for the process's life anyway, as in Go). A chunk gets
 * madvise(MADV_HUGEPAGE) when the kernel offers transparent huge pages to
 * madvise callers (THP "always" or "madvise"): its first touch then faults
 * in one 2 MiB page, i.e. one fault per ~8,000 goroutine structs instead of
 * one per 16, and one TLB entry covers them all. Where THP is unavailable
 * ("never", no kernel support, or GORT_SLAB_THP=0), the chunk is populated
 * in one madvise(MADV_POPULATE_WRITE) call (Linux 5.14; older kernels touch
 * each page), which still replaces 512 trap round trips with one system
 * call. The cost is up to 2 MiB of memory committed ahead per slab, which
 * is noise next to what a million objects need and a rounding error for
 * the few a small program makes.
 *
 * The per-P caches live with their users (proc.c's free goroutines,
 * sudog.c's sudog cache); this file is the central level: one lock, held
 * for a bump or a list pop. Freed objects are poisoned for AddressSanitizer
 * so that a use after release is reported, as it was with malloc.
 */
#include "slab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sanitizer.h"
#if GORT__ASAN
#include <sanitizer/lsan_interface.h>
#endif

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static _Atomic int thp_state; /* 0 unknown, 1 available, 2 not */

static bool read_thp_enabled(void)
{
    const char *env = getenv("GORT_SLAB_THP");
    if (env && strcmp(env, "0") == 0)
        return false;
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!f)
        return false;
    char line[128] = "";
    bool ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    /* The selected mode is bracketed: "always [madvise] never". */
    return ok && (strstr(line, "[always]") || strstr(line, "[madvise]"));
}

bool gort__slab_thp_available(void)
{
    int s = atomic_load_explicit(&thp_state, memory_order_relaxed);
    if (s == 0) {
        s = read_thp_enabled() ? 1 : 2;
        atomic_store_explicit(&thp_state, s, memory_order_relaxed);
    }
    return s == 1;
}

/* 2 MiB of address space aligned to 2 MiB: map twice that and trim. */
static void *map_aligned_chunk(void)
{
    size_t len = 2 * GORT__SLAB_CHUNK;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    uintptr_t a = (uintptr_t)p;
    uintptr_t lo = (a + GORT__SLAB_CHUNK - 1) & ~(GORT__SLAB_CHUNK - 1);
    if (lo > a)
        munmap(p, lo - a);
    uintptr_t hi = lo + GORT__SLAB_CHUNK;
    if (a + len > hi)
        munmap((void *)hi, a + len - hi);
    return (void *)lo;
}

/* Commits a chunk's pages now, in as few kernel entries as possible. */
static void prefault(void *chunk)
{
    if (madvise(chunk, GORT__SLAB_CHUNK, MADV_POPULATE_WRITE) == 0)
        return;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (size_t off = 0; off < GORT__SLAB_CHUNK; off += page)
        ((volatile char *)chunk)[off] = 0;
}

/* Under s->lock. Decides the slab's mode at its first chunk. */
static bool new_chunk_locked(struct gort__slab *s)
{
    void *c = map_aligned_chunk();
    if (!c)
        return false;
    int mode = atomic_load_explicit(&s->mode, memory_order_relaxed);
    if (mode == SLAB_AUTO)
        mode = gort__slab_thp_available() ? SLAB_HUGE : SLAB_PREFAULT;
    if (mode == SLAB_HUGE && madvise(c, GORT__SLAB_CHUNK, MADV_HUGEPAGE) != 0)
        mode = SLAB_PREFAULT; /* a kernel built without THP says EINVAL */
    if (mode == SLAB_PREFAULT)
        prefault(c);
    atomic_store_explicit(&s->mode, mode, memory_order_relaxed);
    s->next = (uintptr_t)c;
    s->end = (uintptr_t)c + GORT__SLAB_CHUNK / s->size * s->size;
    atomic_fetch_add_explicit(&s->chunks, 1, memory_order_relaxed);
#if GORT__ASAN
    /* LeakSanitizer scans malloc's heap, not our mappings: objects here hold
     * the only pointers to some heap blocks (a goroutine's label). */
    __lsan_register_root_region(c, GORT__SLAB_CHUNK);
    /* Bump space is not handed out yet: catch strays into it. */
    __asan_poison_memory_region(c, GORT__SLAB_CHUNK);
#endif
    return true;
}

/* Under s->lock: one object, or NULL. Fresh ones are zero already. */
static void *take_locked(struct gort__slab *s)
{
    struct gort__slab_free *f = s->free;
    if (f) {
#if GORT__ASAN
        __asan_unpoison_memory_region(f, s->size);
#endif
        s->free = f->next;
        memset(f, 0, s->size);
        return f;
    }
    if (s->next == s->end && !new_chunk_locked(s))
        return NULL;
    void *obj = (void *)s->next;
    s->next += s->size;
#if GORT__ASAN
    __asan_unpoison_memory_region(obj, s->size);
#endif
    return obj;
}

size_t gort__slab_alloc_batch(struct gort__slab *s, void **out, size_t n)
{
    size_t got = 0;
    gort__lock_acquire(&s->lock);
    while (got < n && (out[got] = take_locked(s)) != NULL)
        got++;
    gort__lock_release(&s->lock);
    atomic_fetch_add_explicit(&s->live, got, memory_order_relaxed);
    return got;
}

void *gort__slab_alloc(struct gort__slab *s)
{
    void *obj;
    return gort__slab_alloc_batch(s, &obj, 1) ? obj : NULL;
}

void gort__slab_free_batch(struct gort__slab *s, void **objs, size_t n)
{
    gort__lock_acquire(&s->lock);
    for (size_t i = 0; i < n; i++) {
        struct gort__slab_free *f = objs[i];
        f->next = s->free;
        s->free = f;
#if GORT__ASAN
        /* The link word stays readable for the allocator: poison the rest. */
        __asan_poison_memory_region((char *)f + sizeof *f, s->size - sizeof *f);
#endif
    }
    gort__lock_release(&s->lock);
    atomic_fetch_sub_explicit(&s->live, n, memory_order_relaxed);
}

void gort__slab_free(struct gort__slab *s, void *obj)
{
    gort__slab_free_batch(s, &obj, 1);
}
