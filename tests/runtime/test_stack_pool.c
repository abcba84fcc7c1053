/* test_stack_pool.c — the global pool of free stacks and its scavenger
 * (runtime/stack.c, "pooling"), white-box: no runtime is started, so no
 * sysmon runs and each scavenge pass is the test's own call.
 *
 * A freed arena stack goes to the pool without a syscall; a pass gives back
 * every page (the top one too) of all pooled stacks but the newest POOL_HOT
 * (64), in one madvise per run of adjacent slots, guard and canary slots
 * alike; a pass after which nobody took a stack gives back the hot ones
 * too; a stack taken back from the pool is usable, keeps its guard page,
 * and a red zone written before it was pooled is a zero page again.
 *
 * GORT_STACK_GUARDS=100 (set before the first stack): the first 100 stacks
 * get guard pages, the rest red zones, so the runs mix both.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rt_test.h"
#include "stack.h"

#define NSTACKS 200
#define POOL_HOT 64 /* stack.c's */

static size_t page;

/* Resident pages of [lo, hi). */
static size_t resident(uintptr_t lo, uintptr_t hi)
{
    size_t n = (hi - lo) / page, count = 0;
    unsigned char *vec = malloc(n);
    assert_non_null(vec);
    assert_int_equal(mincore((void *)lo, hi - lo, vec), 0);
    for (size_t i = 0; i < n; i++)
        count += vec[i] & 1;
    free(vec);
    return count;
}

/* The permissions field ("rw-p", "---p") of the mapping holding addr. */
static void perms_of(uintptr_t addr, char out[8])
{
    out[0] = '\0';
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[512];
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && addr >= lo &&
            addr < hi) {
            snprintf(out, 8, "%s", perms);
            break;
        }
    }
    fclose(f);
}

/* Empties the hot set: two passes, the second after no take. */
static void drain_hot(void)
{
    gort__stack_scavenge_pool();
    gort__stack_scavenge_pool();
    struct gort__stack_pool_counts pc;
    gort__stack_pool_counts(&pc);
    assert_int_equal(pc.hot, 0);
}

/* Writes a marker in the top page and in a page 8 KiB below it, as a
 * goroutine that used 12 KiB of stack would have. */
static void use_stack(const struct gort__stack *s, unsigned char mark)
{
    ((volatile unsigned char *)s->hi)[-16] = mark;
    ((volatile unsigned char *)s->hi)[-8 * 1024 - 16] = mark;
}

static struct gort__stack fresh[NSTACKS];

static void test_free_pools_without_syscall(void **state)
{
    (void)state;
    drain_hot();
    struct gort__stack_pool_counts before, after;
    for (int i = 0; i < NSTACKS; i++) {
        assert_int_equal(gort__stack_alloc(&fresh[i], 0), 0);
        assert_true(fresh[i].arena);
        use_stack(&fresh[i], (unsigned char)(i + 1));
        if (fresh[i].kind == STACK_CANARY)
            /* an overflow's scribble, for test_reused_stack below */
            *(volatile char *)fresh[i].lo = 1;
    }
    assert_int_equal(fresh[0].kind, STACK_GUARD);
    assert_int_equal(fresh[NSTACKS - 1].kind, STACK_CANARY);
    gort__stack_pool_counts(&before);
    for (int i = 0; i < NSTACKS; i++) {
        struct gort__stack s = fresh[i];
        gort__stack_free(&s);
        assert_int_equal(s.kind, STACK_NONE);
    }
    gort__stack_pool_counts(&after);
    assert_int_equal(after.hot, before.hot + NSTACKS);
    assert_int_equal(after.scavenge_calls, before.scavenge_calls);
    /* Pooled, not given back: every stack keeps what it had. */
    for (int i = 0; i < NSTACKS; i++)
        assert_true(resident(fresh[i].lo, fresh[i].hi) >= 2);
}

static void test_pass_keeps_hot_set(void **state)
{
    (void)state;
    struct gort__stack_pool_counts before, after;
    gort__stack_pool_counts(&before);
    assert_int_equal(before.hot, NSTACKS);
    /* A take (and its return) since the last pass: the pool is in use, so
     * the pass keeps its newest POOL_HOT. */
    struct gort__stackcache c = {0};
    struct gort__stack s;
    assert_int_equal(gort__stack_get(&c, &s), 0);
    gort__stack_put(&c, &s);
    gort__stack_flush(&c);
    gort__stack_scavenge_pool();
    gort__stack_pool_counts(&after);
    size_t gone = NSTACKS - POOL_HOT;
    assert_int_equal(after.hot, POOL_HOT);
    assert_int_equal(after.cold, before.cold + gone);
    assert_int_equal(after.scavenged_stacks, before.scavenged_stacks + gone);
    /* 136 adjacent slots (one arena, or two when these cross into a new
     * one), guarded and not: one madvise per run, not one per stack. */
    assert_in_range(after.scavenge_calls - before.scavenge_calls, 1, 2);
    /* The oldest are wholly given back, their top page too; the newest
     * POOL_HOT still hold their pages and their markers. */
    for (size_t i = 0; i < gone; i++)
        assert_int_equal(resident(fresh[i].lo, fresh[i].hi), 0);
    for (size_t i = gone; i < NSTACKS; i++) {
        assert_true(resident(fresh[i].lo, fresh[i].hi) >= 2);
        assert_int_equal(((volatile unsigned char *)fresh[i].hi)[-16],
                         (unsigned char)(i + 1));
    }
}

static void test_idle_pass_gives_back_all(void **state)
{
    (void)state;
    struct gort__stack_pool_counts before, after;
    gort__stack_pool_counts(&before);
    /* Nobody took a stack since the last pass: the hot set goes too. */
    gort__stack_scavenge_pool();
    gort__stack_pool_counts(&after);
    assert_int_equal(after.hot, 0);
    assert_int_equal(after.cold, before.cold + POOL_HOT);
    assert_in_range(after.scavenge_calls - before.scavenge_calls, 1, 2);
    for (int i = 0; i < NSTACKS; i++)
        assert_int_equal(resident(fresh[i].lo, fresh[i].hi), 0);
    /* An empty hot set: a pass has nothing to do. */
    gort__stack_scavenge_pool();
    struct gort__stack_pool_counts again;
    gort__stack_pool_counts(&again);
    assert_int_equal(again.scavenge_calls, after.scavenge_calls);
}

/* Index in fresh[] of s, or -1. */
static int fresh_index(const struct gort__stack *s)
{
    for (int i = 0; i < NSTACKS; i++)
        if (fresh[i].lo == s->lo)
            return i;
    return -1;
}

static void test_reused_stack(void **state)
{
    (void)state;
    struct gort__stackcache c = {0};
    bool saw_guard = false, saw_canary = false;
    struct gort__stack taken[NSTACKS];
    int n = 0;
    /* Take stacks back until both kinds came out of the pool. */
    while (n < NSTACKS && !(saw_guard && saw_canary)) {
        struct gort__stack *s = &taken[n++];
        assert_int_equal(gort__stack_get(&c, s), 0);
        int i = fresh_index(s);
        assert_true(i >= 0); /* from the pool, not fresh address space */
        assert_int_equal(s->kind, fresh[i].kind);
        assert_int_equal(s->hi, fresh[i].hi);
        assert_int_equal(resident(s->lo, s->hi), 0);
        /* Usable: the whole usable range takes writes. */
        memset((void *)(s->lo + page), 0x5a, (size_t)(s->hi - s->lo) - page);
        if (s->kind == STACK_GUARD) {
            char perms[8];
            perms_of(s->lo, perms);
            assert_string_equal(perms, "---p");
            saw_guard = true;
        } else {
            /* Its red zone, written before the stack was pooled, is not
             * resident: a deep switch does not take it for an overflow. */
            assert_int_equal(resident(s->lo, s->lo + page), 0);
            assert_true(gort__stack_check(s, s->lo + page + 256));
            assert_int_equal(*(volatile char *)s->lo, 0);
            saw_canary = true;
        }
    }
    assert_true(saw_guard && saw_canary);
    while (n > 0)
        gort__stack_put(&c, &taken[--n]);
    gort__stack_flush(&c);
}

int main(void)
{
    rt_filter_from_env();
    setenv("GORT_STACK_GUARDS", "100", 1);
    page = (size_t)sysconf(_SC_PAGESIZE);
    /* In order: each case starts from the pool the one before left. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_free_pools_without_syscall),
        cmocka_unit_test(test_pass_keeps_hot_set),
        cmocka_unit_test(test_idle_pass_gives_back_all),
        cmocka_unit_test(test_reused_stack),
    };
    return cmocka_run_group_tests_name("stack_pool", tests, NULL, NULL);
}
