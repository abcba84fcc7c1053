/* stack.c — goroutine stacks.
 *
 * Go grows a 2 KB stack by copying it. C cannot move a stack (C code keeps
 * pointers into it), so a goroutine gets a fixed reservation of address
 * space (64 KiB by default, see below) that the kernel commits a page at a time
 * on first touch: a goroutine that uses 2 KB costs one 4 KiB page, and one that
 * recurses deeper "grows" by faulting pages in. Reservations are MAP_NORESERVE
 * (no commit charge) and MADV_NOHUGEPAGE (a 2 MiB huge page would turn a 4 KiB
 * stack into 2 MiB of RSS on kernels with THP=always).
 *
 * Overflow. A PROT_NONE guard page below each stack is exact but costs a
 * kernel mapping (VMA): mprotect splits the arena, so each guarded stack adds
 * two VMAs, and vm.max_map_count is 65530 on a stock kernel. So the first
 * stacks (up to (max_map_count - 8192) / 2, or GORT_STACK_GUARDS) get guard
 * pages, and the rest get a red zone: the lowest page of the reservation,
 * which no legitimate frame touches. Reading it would commit it (this kernel
 * maps no shared zero page: a read fault costs a page of RSS), so it is never
 * read. Instead, at every switch the scheduler checks that the saved stack
 * pointer is above the red zone (free), and when a goroutine is deep (more
 * than 16 KiB used) it asks mincore(2) whether the red zone page has become
 * resident, i.e. was written by an overflow. An overflow that returns to a
 * shallow depth before its goroutine next switches can go unnoticed and
 * corrupt the neighbouring stack: that is why guard pages come first, and
 * why stats report how many stacks have each protection.
 *
 * Why 64 KiB (session 5; 256 KiB before). A reservation costs no RSS until
 * touched, but it costs page tables: one 4 KiB page-table page maps 2 MiB,
 * so a parked goroutine paid ~513 B of page tables with 256 KiB slots
 * (VmPTE 150 MB for 300k parked) and pays ~128 B with 64 KiB slots. What
 * real goroutines use, measured with GORTDEBUG=stackhwm=1 (the lowest
 * resident page of each stack at exit; bench/stackhwm.sh drives gortd's
 * hello, proxy, fanout, kv and echo plugins with wrk and curl, bodies of
 * 200 KB, 7 KB headers, chunked uploads, a resolver lookup): connection
 * goroutines (http_conn_serve and the handlers it calls) peak at 32 KiB,
 * fanout's fetch goroutines at 24 KiB; the one 15 KiB frame of a request
 * (http_conn_serve) is most of it. 64 KiB leaves 60 KiB usable above the
 * guard or red zone: about twice the deepest request path. Plugin loading
 * is the outlier: dlopen, a plugin's init and the symbol index reach
 * 176 KiB, so the main goroutine (GORT_STACK_MAIN, 1 MiB) and the plugin
 * loader's goroutine ask for 1 MiB with the per-goroutine override
 * (gort_go_opts.stack_size), which any deep goroutine can use. 32 KiB was
 * rejected: no headroom over the measured 32 KiB.
 *
 * Default-size stacks are carved from 16 MiB arenas (one mmap per 256 stacks,
 * and adjacent anonymous mappings merge into one VMA) and never unmapped:
 * a free one goes to its P's cache (LIFO, hot) or to the global pool, where
 * sysmon gives its pages back, all but a bounded hot set, in one madvise
 * per run of adjacent free slots ("pooling" below). A goroutine takes a
 * stack only when it first runs (proc.c), so a million queued goroutines
 * hold no stacks. Other sizes are mapped one by one and unmapped when their
 * goroutine exits.
 */
#include "stack.h"

#include "sanitizer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lock.h"

#define ARENA_SLOTS 256 /* 16 MiB arenas */
#define ARENA_BYTES ((size_t)ARENA_SLOTS * GORT_STACK_DEFAULT)
/* Enough arena bases for a 47-bit address space; reserved, touched only as
 * arenas are made (8 bytes per 256 stacks). */
#define ARENA_MAX (((size_t)1 << 47) / ARENA_BYTES)

/* A pooled stack in 8 bytes: arena index, slot, guard bit (the rest of a
 * struct gort__stack follows from them). */
typedef uint64_t pool_entry;

/* A growable array of pool entries in its own mapping (no malloc: stacks
 * are put back from scheduler hooks). */
struct pool_vec {
    pool_entry *v;
    size_t n, cap;
};

static struct {
    gort__lock lock;
    size_t page;
    long guard_budget; /* guard pages we may still add */
    uintptr_t *arenas; /* base of each arena, in creation order; never moves */
    uint32_t narenas;
    uintptr_t arena_next; /* next free slot in the current arena */
    uintptr_t arena_end;
    /* The global pool (under lock): hot holds stacks as their goroutines
     * left them, newest last; cold holds stacks whose pages were given
     * back. gets counts stacks taken since the last scavenge pass. */
    struct pool_vec hot, cold;
    uint64_t gets;
    struct pool_vec marks; /* the scavenger's slot bitmaps, per arena */
    _Atomic uint64_t guarded;
    _Atomic uint64_t canary;
    _Atomic uint64_t reserved;
    _Atomic uint64_t scavenge_calls;
    _Atomic uint64_t scavenged_stacks;
} stk = {.lock = GORT__LOCK_INIT, .guard_budget = -1};

size_t gort__stack_page(void)
{
    return stk.page;
}

static long read_max_map_count(void)
{
    long v = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = 65530;
        fclose(f);
    }
    return v;
}

/* Under stk.lock. */
static void stack_init_locked(void)
{
    if (stk.page)
        return;
    stk.page = (size_t)sysconf(_SC_PAGESIZE);
    const char *env = getenv("GORT_STACK_GUARDS");
    char *end;
    long v = env ? strtol(env, &end, 10) : -1;
    if (env && *env && *end == '\0' && v >= 0)
        stk.guard_budget = v;
    else
        /* Leave 8192 mappings for everything else in the process. */
        stk.guard_budget = (read_max_map_count() - 8192) / 2;
}

static uintptr_t map_reserve(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return 0;
    madvise(p, len, MADV_NOHUGEPAGE);
    return (uintptr_t)p;
}

/* Under stk.lock. Decides the protection of a fresh reservation at lo. */
static int protect_locked(uintptr_t lo)
{
    if (stk.guard_budget > 0 &&
        mprotect((void *)lo, stk.page, PROT_NONE) == 0) {
        stk.guard_budget--;
        return STACK_GUARD;
    }
    /* mprotect fails with ENOMEM once the VMA limit is hit: fall back. */
    stk.guard_budget = 0;
    return STACK_CANARY;
}

/* Under stk.lock. A slot of the current arena, or of a new one; sets
 * s->lo and s->arena_ix. */
static bool arena_slot_locked(struct gort__stack *s)
{
    if (!stk.arenas) {
        stk.arenas = (uintptr_t *)map_reserve(ARENA_MAX * sizeof(uintptr_t));
        if (!stk.arenas)
            return false;
    }
    if (stk.arena_next == stk.arena_end) {
        if (stk.narenas == ARENA_MAX)
            return false;
        uintptr_t a = map_reserve(ARENA_BYTES);
        if (!a)
            return false;
        stk.arenas[stk.narenas++] = a;
        stk.arena_next = a;
        stk.arena_end = a + ARENA_BYTES;
    }
    s->lo = stk.arena_next;
    s->arena_ix = stk.narenas - 1;
    stk.arena_next += GORT_STACK_DEFAULT;
    return true;
}

int gort__stack_alloc(struct gort__stack *s, size_t size)
{
    gort__lock_acquire(&stk.lock);
    stack_init_locked();
    bool arena = size == 0 || size == GORT_STACK_DEFAULT;
    size_t len = arena ? GORT_STACK_DEFAULT
                       : ((size + stk.page - 1) & ~(stk.page - 1)) + stk.page;
    s->arena_ix = 0;
    s->lo = arena ? (arena_slot_locked(s) ? s->lo : 0) : map_reserve(len);
    if (!s->lo) {
        gort__lock_release(&stk.lock);
        return -ENOMEM;
    }
    s->kind = (uint8_t)protect_locked(s->lo);
    gort__lock_release(&stk.lock);
    s->hi = s->lo + len;
    s->arena = arena;
    atomic_fetch_add_explicit(s->kind == STACK_GUARD ? &stk.guarded
                                                     : &stk.canary,
                              1, memory_order_relaxed);
    atomic_fetch_add_explicit(&stk.reserved, len, memory_order_relaxed);
    return 0;
}

size_t gort__stack_size_of(const struct gort__stack *s)
{
    if (s->arena || (s->kind != STACK_GUARD && s->kind != STACK_CANARY))
        return 0;
    return (size_t)(s->hi - s->lo) - stk.page; /* less the guard page */
}

static bool pool_push_locked(const struct gort__stack *s);

void gort__stack_free(struct gort__stack *s)
{
    if (s->kind == STACK_NONE || s->kind == STACK_THREAD)
        return;
    if (s->arena) {
        /* Arena slots are never unmapped: back to the global pool (still
         * counted as reserved), whose scavenger gives their pages back. */
        gort__lock_acquire(&stk.lock);
        bool pooled = pool_push_locked(s);
        gort__lock_release(&stk.lock);
        if (!pooled)
            gort__stack_scavenge(s); /* no memory for the pool: leak it */
        s->kind = STACK_NONE;
        return;
    }
    atomic_fetch_sub_explicit(s->kind == STACK_GUARD ? &stk.guarded
                                                     : &stk.canary,
                              1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&stk.reserved, s->hi - s->lo,
                              memory_order_relaxed);
#if GORT__ASAN
    /* The dead goroutine's frames left poison in the shadow of this range:
     * the next mmap there (anyone's: absl's allocator met it in gRPC)
     * would inherit it and trip AddressSanitizer on its first access. */
    __asan_unpoison_memory_region((void *)s->lo, s->hi - s->lo);
#endif
    munmap((void *)s->lo, s->hi - s->lo);
    if (s->kind == STACK_GUARD) {
        gort__lock_acquire(&stk.lock);
        stk.guard_budget++;
        gort__lock_release(&stk.lock);
    }
    s->kind = STACK_NONE;
}

void gort__stack_scavenge(const struct gort__stack *s)
{
    /* The whole reservation: the guard page has no pages to give back and
     * the red zone comes back as a zero page on its next touch. */
    madvise((void *)s->lo, s->hi - s->lo, MADV_DONTNEED);
}

#define DEEP_BYTES (16 * 1024)

bool gort__stack_check(const struct gort__stack *s, uintptr_t sp)
{
    if (s->kind != STACK_CANARY)
        return true;
    uintptr_t limit = s->lo + stk.page;
    if (sp < limit)
        return false;
    if (sp >= s->hi - DEEP_BYTES)
        return true; /* shallow: nothing near the red zone */
    unsigned char resident = 0;
    if (mincore((void *)s->lo, stk.page, &resident) != 0)
        return true;
    return !(resident & 1);
}

size_t gort__stack_used(const struct gort__stack *s)
{
    if (s->kind != STACK_GUARD && s->kind != STACK_CANARY)
        return 0;
    size_t npages = (s->hi - s->lo + stk.page - 1) / stk.page;
    unsigned char vec[256];
    uintptr_t lo = s->lo;
    /* Scan in windows of 256 pages from the bottom; the first resident page
     * marks the deepest point reached. */
    for (size_t done = 0; done < npages;) {
        size_t n = npages - done < sizeof vec ? npages - done : sizeof vec;
        if (mincore((void *)(lo + done * stk.page), n * stk.page, vec) != 0)
            return 0;
        for (size_t i = 0; i < n; i++)
            if (vec[i] & 1)
                return s->hi - (lo + (done + i) * stk.page);
        done += n;
    }
    return 0;
}

bool gort__stack_contains_guard(const struct gort__stack *s, uintptr_t addr)
{
    if (s->kind != STACK_GUARD && s->kind != STACK_CANARY)
        return false;
    return addr >= s->lo && addr < s->lo + stk.page;
}

void gort__stack_counts(struct gort__stack_counts *c)
{
    c->guarded = atomic_load_explicit(&stk.guarded, memory_order_relaxed);
    c->canary = atomic_load_explicit(&stk.canary, memory_order_relaxed);
    c->reserved_bytes =
        atomic_load_explicit(&stk.reserved, memory_order_relaxed);
}

/* ---- pooling ------------------------------------------------------------
 *
 * A P's cache (GORT_STACK_CACHE, LIFO) trades stacks with the global pool
 * in batches of POOL_BATCH under stk.lock. The pool keeps its entries in
 * two arrays of its own, not in the stacks: walking a list threaded through
 * the stacks cost a cache and TLB miss per stack, and kept each pooled
 * stack's top page resident for its node.
 *
 * hot: stacks as their goroutines left them, newest last. A P short of
 * stacks takes from its end, so a stack freed a moment ago runs the next
 * goroutine with its pages still resident and cached.
 * cold: stacks whose pages were given back, taken only when hot is empty.
 *
 * Sysmon's pass, once a second (gort__stack_scavenge_pool): all of hot but
 * its newest POOL_HOT entries moves to cold, and when no stack was taken
 * from the pool since the last pass the hot ones go too; so pages of freed
 * stacks are back with the kernel within two passes, and a steady churn
 * keeps at most POOL_HOT stacks' pages (POOL_HOT x 64 KiB at the very
 * most; usually a page or two each). The pages go back per run of adjacent
 * slots of one arena, one madvise(MADV_DONTNEED) for the run: when 300,000
 * receivers of a closed channel exit, that is ~1,200 calls, not 300,000.
 * The red zone of a canary stack stays zero (MADV_DONTNEED hands back zero
 * pages); a guard page inside a run is PROT_NONE and holds no pages. */

#define POOL_BATCH (GORT_STACK_CACHE / 2)
#define POOL_HOT 64
#define SLOT_BITS 8 /* log2(ARENA_SLOTS) */

static pool_entry entry_of(const struct gort__stack *s)
{
    uint64_t slot = (s->lo - stk.arenas[s->arena_ix]) / GORT_STACK_DEFAULT;
    return (uint64_t)s->arena_ix << (SLOT_BITS + 1) | slot << 1 |
           (s->kind == STACK_GUARD);
}

static void stack_of(pool_entry e, struct gort__stack *s)
{
    s->arena_ix = (uint32_t)(e >> (SLOT_BITS + 1));
    s->lo = stk.arenas[s->arena_ix] +
            ((e >> 1) & (ARENA_SLOTS - 1)) * GORT_STACK_DEFAULT;
    s->hi = s->lo + GORT_STACK_DEFAULT;
    s->kind = (e & 1) ? STACK_GUARD : STACK_CANARY;
    s->arena = true;
}

/* Room for want entries in q. Under stk.lock, or by q's only writer. */
static bool vec_reserve(struct pool_vec *q, size_t want)
{
    if (want <= q->cap)
        return true;
    size_t cap = q->cap ? q->cap : 4096 / sizeof(pool_entry);
    while (cap < want)
        cap *= 2;
    void *v = q->v ? mremap(q->v, q->cap * sizeof *q->v, cap * sizeof *q->v,
                            MREMAP_MAYMOVE)
                   : mmap(NULL, cap * sizeof *q->v, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (v == MAP_FAILED)
        return false;
    q->v = v;
    q->cap = cap;
    return true;
}

/* Under stk.lock. False when the pool cannot grow (no memory). */
static bool pool_push_locked(const struct gort__stack *s)
{
    if (!vec_reserve(&stk.hot, stk.hot.n + 1))
        return false;
    stk.hot.v[stk.hot.n++] = entry_of(s);
    return true;
}

static void pool_refill(struct gort__stackcache *c)
{
    gort__lock_acquire(&stk.lock);
    while (c->n < POOL_BATCH && (stk.hot.n || stk.cold.n)) {
        struct pool_vec *q = stk.hot.n ? &stk.hot : &stk.cold;
        stack_of(q->v[--q->n], &c->s[c->n++]);
        stk.gets++;
    }
    gort__lock_release(&stk.lock);
}

int gort__stack_get(struct gort__stackcache *c, struct gort__stack *out)
{
    if (c->n == 0)
        pool_refill(c);
    if (c->n > 0) {
        *out = c->s[--c->n];
        return 0;
    }
    return gort__stack_alloc(out, 0);
}

/* Under stk.lock: moves c's oldest stacks to the pool until c holds keep;
 * those the pool has no room for are given back and dropped. */
static void spill_locked(struct gort__stackcache *c, int keep)
{
    int k = 0;
    while (k < c->n - keep && pool_push_locked(&c->s[k]))
        k++;
    for (int i = k; i < c->n - keep; i++)
        gort__stack_scavenge(&c->s[i]);
    memmove(&c->s[0], &c->s[c->n - keep], (size_t)keep * sizeof c->s[0]);
    c->n = keep;
}

void gort__stack_put(struct gort__stackcache *c, struct gort__stack *s)
{
    if (s->kind == STACK_NONE)
        return;
    if (!s->arena) {
        gort__stack_free(s);
        return;
    }
    if (c->n == GORT_STACK_CACHE) {
        gort__lock_acquire(&stk.lock);
        spill_locked(c, GORT_STACK_CACHE - POOL_BATCH);
        gort__lock_release(&stk.lock);
    }
    c->s[c->n++] = *s;
    s->kind = STACK_NONE;
}

void gort__stack_flush(struct gort__stackcache *c)
{
    gort__lock_acquire(&stk.lock);
    spill_locked(c, 0);
    gort__lock_release(&stk.lock);
}

/* Gives back the pages of the n stacks in batch: marks their slots in a
 * bitmap per arena, then one madvise per run of marked adjacent slots.
 * Only from gort__stack_scavenge_pool (marks is its scratch). */
static void scavenge_batch(const pool_entry *batch, size_t n, uint32_t narenas)
{
    const size_t words = ARENA_SLOTS / 64;
    /* Grown by mremap, whose new pages are zero: every bitmap starts and
     * ends a pass clear. */
    if (!vec_reserve(&stk.marks, (size_t)narenas * words)) {
        for (size_t i = 0; i < n; i++) {
            struct gort__stack s;
            stack_of(batch[i], &s);
            gort__stack_scavenge(&s);
        }
        atomic_fetch_add_explicit(&stk.scavenge_calls, n, memory_order_relaxed);
        atomic_fetch_add_explicit(&stk.scavenged_stacks, n,
                                  memory_order_relaxed);
        return;
    }
    uint64_t *marks = stk.marks.v;
    for (size_t i = 0; i < n; i++) {
        size_t slot = (batch[i] >> 1) & (ARENA_SLOTS - 1);
        marks[(batch[i] >> (SLOT_BITS + 1)) * words + slot / 64] |=
            (uint64_t)1 << (slot % 64);
    }
    uint64_t calls = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t ix = (uint32_t)(batch[i] >> (SLOT_BITS + 1));
        uint64_t *m = &marks[(size_t)ix * words];
        for (size_t slot = 0; slot < ARENA_SLOTS;) {
            if (!(m[slot / 64] >> (slot % 64) & 1)) {
                slot++;
                continue;
            }
            size_t end = slot;
            while (end < ARENA_SLOTS && (m[end / 64] >> (end % 64) & 1))
                end++;
            madvise((void *)(stk.arenas[ix] + slot * GORT_STACK_DEFAULT),
                    (end - slot) * GORT_STACK_DEFAULT, MADV_DONTNEED);
            calls++;
            slot = end;
        }
        memset(m, 0, words * sizeof *m); /* swept: later entries skip it */
    }
    atomic_fetch_add_explicit(&stk.scavenge_calls, calls, memory_order_relaxed);
    atomic_fetch_add_explicit(&stk.scavenged_stacks, n, memory_order_relaxed);
}

/* Sysmon's, once a second; one caller at a time (the batch it scavenges
 * sits in cold's spare room, which only this function fills). */
void gort__stack_scavenge_pool(void)
{
    gort__lock_acquire(&stk.lock);
    size_t keep = stk.gets ? POOL_HOT : 0;
    stk.gets = 0;
    size_t n = stk.hot.n > keep ? stk.hot.n - keep : 0;
    if (n == 0 || !vec_reserve(&stk.cold, stk.cold.n + n)) {
        gort__lock_release(&stk.lock);
        return;
    }
    /* The oldest n of hot go to cold's spare room, where nothing else
     * writes (only this pass appends to cold; takers only shrink it), and
     * are scavenged there without the lock. */
    pool_entry *batch = stk.cold.v + stk.cold.n;
    memcpy(batch, stk.hot.v, n * sizeof *batch);
    stk.hot.n -= n;
    memmove(stk.hot.v, stk.hot.v + n, stk.hot.n * sizeof *stk.hot.v);
    uint32_t narenas = stk.narenas;
    gort__lock_release(&stk.lock);

    scavenge_batch(batch, n, narenas);

    gort__lock_acquire(&stk.lock);
    memmove(stk.cold.v + stk.cold.n, batch, n * sizeof *batch);
    stk.cold.n += n;
    gort__lock_release(&stk.lock);
}

void gort__stack_pool_counts(struct gort__stack_pool_counts *c)
{
    gort__lock_acquire(&stk.lock);
    c->hot = stk.hot.n;
    c->cold = stk.cold.n;
    gort__lock_release(&stk.lock);
    c->scavenge_calls =
        atomic_load_explicit(&stk.scavenge_calls, memory_order_relaxed);
    c->scavenged_stacks =
        atomic_load_explicit(&stk.scavenged_stacks, memory_order_relaxed);
}
