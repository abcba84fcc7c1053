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
 * sysmon gives its pages back. A goroutine takes a stack only when it first
 * runs (proc.c), so a million queued goroutines hold no stacks. Other sizes
 * are mapped one by one and unmapped when their goroutine exits.
 *
 * The global pool is a list threaded through the pooled stacks themselves:
 * its node sits at the top of the stack it describes, in the one page a
 * pooled stack keeps committed.
 */
#include "stack.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lock.h"

#define ARENA_SLOTS 256 /* 16 MiB arenas */

struct pool_node {
    struct gort__stack s;
    struct pool_node *next;
};

static struct {
    gort__lock lock;
    struct pool_node *pool; /* under lock */
    long npool;
    size_t page;
    long guard_budget;    /* guard pages we may still add */
    uintptr_t arena_next; /* next free slot in the current arena */
    uintptr_t arena_end;
    _Atomic uint64_t guarded;
    _Atomic uint64_t canary;
    _Atomic uint64_t reserved;
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

static uintptr_t arena_slot_locked(void)
{
    if (stk.arena_next == stk.arena_end) {
        uintptr_t a = map_reserve((size_t)ARENA_SLOTS * GORT_STACK_DEFAULT);
        if (!a)
            return 0;
        stk.arena_next = a;
        stk.arena_end = a + (size_t)ARENA_SLOTS * GORT_STACK_DEFAULT;
    }
    uintptr_t lo = stk.arena_next;
    stk.arena_next += GORT_STACK_DEFAULT;
    return lo;
}

int gort__stack_alloc(struct gort__stack *s, size_t size)
{
    gort__lock_acquire(&stk.lock);
    stack_init_locked();
    bool arena = size == 0 || size == GORT_STACK_DEFAULT;
    size_t len = arena ? GORT_STACK_DEFAULT
                       : ((size + stk.page - 1) & ~(stk.page - 1)) + stk.page;
    uintptr_t lo = arena ? arena_slot_locked() : map_reserve(len);
    if (!lo) {
        gort__lock_release(&stk.lock);
        return -ENOMEM;
    }
    s->kind = (uint8_t)protect_locked(lo);
    gort__lock_release(&stk.lock);
    s->lo = lo;
    s->hi = lo + len;
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

void gort__stack_free(struct gort__stack *s)
{
    if (s->kind == STACK_NONE || s->kind == STACK_THREAD)
        return;
    atomic_fetch_sub_explicit(s->kind == STACK_GUARD ? &stk.guarded
                                                     : &stk.canary,
                              1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&stk.reserved, s->hi - s->lo,
                              memory_order_relaxed);
    if (s->arena) {
        /* Arena slots live as long as the goroutine structs that pool them;
         * a freed arena slot only loses its pages. */
        gort__stack_scavenge(s);
    } else {
        munmap((void *)s->lo, s->hi - s->lo);
        if (s->kind == STACK_GUARD) {
            gort__lock_acquire(&stk.lock);
            stk.guard_budget++;
            gort__lock_release(&stk.lock);
        }
    }
    s->kind = STACK_NONE;
}

void gort__stack_scavenge(const struct gort__stack *s)
{
    /* Keep the topmost page: a reused stack touches it first anyway. The
     * red zone stays zero because MADV_DONTNEED hands back zero pages. */
    uintptr_t from = s->lo + (s->kind == STACK_GUARD ? stk.page : 0);
    uintptr_t to = s->hi - stk.page;
    if (to > from)
        madvise((void *)from, to - from, MADV_DONTNEED);
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

/* ---- pooling ------------------------------------------------------------ */

#define POOL_BATCH (GORT_STACK_CACHE / 2)

static struct pool_node *node_of(const struct gort__stack *s)
{
    return (struct pool_node *)((s->hi - sizeof(struct pool_node)) &
                                ~(uintptr_t)15);
}

/* Under stk.lock. */
static void pool_push_locked(const struct gort__stack *s)
{
    struct pool_node *n = node_of(s);
    n->s = *s;
    n->next = stk.pool;
    stk.pool = n;
    stk.npool++;
}

static void pool_refill(struct gort__stackcache *c)
{
    gort__lock_acquire(&stk.lock);
    while (c->n < POOL_BATCH && stk.pool) {
        struct pool_node *n = stk.pool;
        stk.pool = n->next;
        stk.npool--;
        c->s[c->n++] = n->s;
    }
    gort__lock_release(&stk.lock);
}

int gort__stack_get(struct gort__stackcache *c, struct gort__stack *out)
{
    if (c->n == 0)
        pool_refill(c);
    if (c->n > 0) {
        *out = c->s[--c->n];
        out->scavenged = false;
        return 0;
    }
    return gort__stack_alloc(out, 0);
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
        while (c->n > GORT_STACK_CACHE - POOL_BATCH)
            pool_push_locked(&c->s[--c->n]);
        gort__lock_release(&stk.lock);
    }
    c->s[c->n++] = *s;
    s->kind = STACK_NONE;
}

void gort__stack_flush(struct gort__stackcache *c)
{
    gort__lock_acquire(&stk.lock);
    while (c->n > 0)
        pool_push_locked(&c->s[--c->n]);
    gort__lock_release(&stk.lock);
}

void gort__stack_scavenge_pool(void)
{
    /* Detach the pool so no lock is held across madvise; stacks freed
     * meanwhile start a new list that we splice in front of ours. */
    gort__lock_acquire(&stk.lock);
    struct pool_node *list = stk.pool;
    long n = stk.npool;
    stk.pool = NULL;
    stk.npool = 0;
    gort__lock_release(&stk.lock);
    if (!list)
        return;
    struct pool_node *tail = list;
    for (struct pool_node *p = list; p; p = p->next) {
        if (!p->s.scavenged) {
            gort__stack_scavenge(&p->s);
            p->s.scavenged = true;
        }
        tail = p;
    }
    gort__lock_acquire(&stk.lock);
    tail->next = stk.pool;
    stk.pool = list;
    stk.npool += n;
    gort__lock_release(&stk.lock);
}
