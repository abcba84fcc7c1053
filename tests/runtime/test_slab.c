/* test_slab.c — the slab allocator under goroutine structs and sudogs
 * (runtime/slab.c), white-box: no runtime is started.
 *
 * Reuse (a freed object comes back first, zeroed), no overlap across many
 * chunks, the transparent-huge-page advice where the kernel offers it (the
 * mapping's VmFlags in /proc/self/smaps say "hg"), and the fallback without
 * it (no advice, the chunk populated up front).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rt_test.h"
#include "slab.h"

/* The VmFlags line of the mapping holding addr, or "" when not found. */
static void vmflags_of(const void *addr, char *out, size_t cap)
{
    out[0] = '\0';
    FILE *f = fopen("/proc/self/smaps", "r");
    assert_non_null(f);
    char line[512];
    bool in = false;
    uintptr_t a = (uintptr_t)addr;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
            in = a >= lo && a < hi;
            continue;
        }
        if (in && strncmp(line, "VmFlags:", 8) == 0) {
            snprintf(out, cap, "%s", line + 8);
            break;
        }
    }
    fclose(f);
}

static bool has_flag(const char *flags, const char *flag)
{
    char pad[600];
    snprintf(pad, sizeof pad, " %s ", flags);
    char want[8];
    snprintf(want, sizeof want, " %s", flag);
    for (char *p = strstr(pad, want); p; p = strstr(p + 1, want))
        if (p[strlen(want)] == ' ' || p[strlen(want)] == '\n')
            return true;
    return false;
}

static void test_reuse_zeroed(void **state)
{
    (void)state;
    static struct gort__slab s = GORT__SLAB_INIT(100, SLAB_AUTO);
    assert_int_equal(s.size, 128);
    unsigned char *a = gort__slab_alloc(&s);
    assert_non_null(a);
    for (size_t i = 0; i < s.size; i++)
        assert_int_equal(a[i], 0);
    memset(a, 0xab, s.size);
    assert_int_equal(atomic_load(&s.live), 1);
    gort__slab_free(&s, a);
    assert_int_equal(atomic_load(&s.live), 0);
    unsigned char *b = gort__slab_alloc(&s);
    assert_ptr_equal(a, b); /* LIFO: the object just freed, still hot */
    for (size_t i = 0; i < s.size; i++)
        assert_int_equal(b[i], 0);
    /* Batches: what went back comes out again, nothing more. */
    void *batch[10];
    assert_int_equal(gort__slab_alloc_batch(&s, batch, 10), 10);
    gort__slab_free_batch(&s, batch, 10);
    void *again[10];
    assert_int_equal(gort__slab_alloc_batch(&s, again, 10), 10);
    for (int i = 0; i < 10; i++) {
        bool found = false;
        for (int j = 0; j < 10; j++)
            found |= again[i] == batch[j];
        assert_true(found);
    }
    assert_int_equal(atomic_load(&s.chunks), 1);
}

static int cmp_ptr(const void *x, const void *y)
{
    uintptr_t a = *(const uintptr_t *)x, b = *(const uintptr_t *)y;
    return a < b ? -1 : a > b;
}

static void test_no_overlap(void **state)
{
    (void)state;
    static struct gort__slab s = GORT__SLAB_INIT(200, SLAB_AUTO);
    /* Enough 256-byte objects for three chunks. */
    size_t n = 3 * GORT__SLAB_CHUNK / 256;
    uintptr_t *p = malloc(n * sizeof *p);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) {
        p[i] = (uintptr_t)gort__slab_alloc(&s);
        assert_true(p[i] != 0);
        assert_int_equal(p[i] % 64, 0);
        memset((void *)p[i], (int)(i & 0xff), s.size);
    }
    assert_int_equal(atomic_load(&s.chunks), 3);
    for (size_t i = 0; i < n; i++) /* nobody wrote over anybody */
        assert_int_equal(((unsigned char *)p[i])[s.size - 1], i & 0xff);
    qsort(p, n, sizeof *p, cmp_ptr);
    for (size_t i = 1; i < n; i++)
        assert_true(p[i] - p[i - 1] >= s.size);
    /* Chunks are 2 MiB-aligned so a huge page can back each. */
    assert_int_equal(p[0] % GORT__SLAB_CHUNK, 0);
    free(p);
}

static void test_thp_advice(void **state)
{
    (void)state;
    static struct gort__slab s = GORT__SLAB_INIT(64, SLAB_AUTO);
    void *o = gort__slab_alloc(&s);
    assert_non_null(o);
    char flags[512];
    vmflags_of(o, flags, sizeof flags);
    assert_true(flags[0] != '\0');
    if (gort__slab_thp_available()) {
        assert_int_equal(atomic_load(&s.mode), SLAB_HUGE);
        assert_true(has_flag(flags, "hg")); /* MADV_HUGEPAGE took */
    } else {
        print_message("THP unavailable here: the fallback was taken\n");
        assert_int_equal(atomic_load(&s.mode), SLAB_PREFAULT);
        assert_false(has_flag(flags, "hg"));
    }
}

static void test_fallback_prefaults(void **state)
{
    (void)state;
    static struct gort__slab s = GORT__SLAB_INIT(64, SLAB_PREFAULT);
    void *o = gort__slab_alloc(&s);
    assert_non_null(o);
    assert_int_equal(atomic_load(&s.mode), SLAB_PREFAULT);
    char flags[512];
    vmflags_of(o, flags, sizeof flags);
    assert_false(has_flag(flags, "hg"));
    /* Every page of the chunk is resident already: no first-touch faults
     * left for the objects to come. */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t npages = GORT__SLAB_CHUNK / page;
    unsigned char *vec = malloc(npages);
    assert_non_null(vec);
    uintptr_t chunk = (uintptr_t)o & ~(GORT__SLAB_CHUNK - 1);
    assert_int_equal(mincore((void *)chunk, GORT__SLAB_CHUNK, vec), 0);
    for (size_t i = 0; i < npages; i++)
        assert_true(vec[i] & 1);
    free(vec);
}

int main(void)
{
    rt_filter_from_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse_zeroed),
        cmocka_unit_test(test_no_overlap),
        cmocka_unit_test(test_thp_advice),
        cmocka_unit_test(test_fallback_prefaults),
    };
    return cmocka_run_group_tests_name("slab", tests, NULL, NULL);
}
