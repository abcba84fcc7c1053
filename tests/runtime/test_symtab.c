/* test_symtab — any loaded object's functions, static ones included, are
 * named with file:line from an index built with libdw (runtime/symtab.c);
 * this program is linked without -rdynamic, so none of its functions has a
 * dynamic symbol, as none of gortd's internals has. A stripped object (a
 * sanitizer-free libc here: Debian ships it without .symtab or DWARF) still
 * gives its path and offset. */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gort/stats.h"
#include "symtab.h"

enum { PROBE_LINE = __LINE__ + 1 };
__attribute__((noinline)) static int symtab_probe(int x)
{
    return x * 3 + 1;
}

static int probe_line; /* the line of the call below */

__attribute__((noinline)) static uintptr_t return_address(void)
{
    return (uintptr_t)__builtin_return_address(0);
}

static void test_own_function_named(void **state)
{
    struct gort__sym s;
    (void)state;
    gort__sym_refresh();
    uintptr_t pc = (uintptr_t)symtab_probe;
    assert_true(gort__sym_lookup(pc + 1, false, &s));
    assert_non_null(s.func);
    assert_string_equal(s.func, "symtab_probe");
    assert_int_equal(s.funcoff, 1);
    assert_non_null(s.file);
    assert_non_null(strstr(s.file, "test_symtab.c"));
    assert_in_range(s.line, PROBE_LINE, PROBE_LINE + 3);
    assert_non_null(strstr(s.object, "test_symtab"));
    assert_true(
        gort__sym_lookup((uintptr_t)test_own_function_named, false, &s));
    assert_string_equal(s.func, "test_own_function_named");
    assert_int_equal(s.funcoff, 0);
}

static void test_return_address_line(void **state)
{
    struct gort__sym s;
    (void)state;
    probe_line = __LINE__ + 1;
    uintptr_t ra = return_address();
    assert_true(gort__sym_lookup(ra, true, &s));
    assert_string_equal(s.func, "test_return_address_line");
    assert_int_equal(s.line, probe_line);
}

static void test_others(void **state)
{
    struct gort__sym s;
    (void)state;
    /* A stack address, nothing: no object. */
    assert_false(gort__sym_lookup((uintptr_t)&s, false, &s));
    assert_false(gort__sym_lookup(0, false, &s));
    /* A shared library's code: its path and offset at least. */
    assert_true(
        gort__sym_lookup((uintptr_t)_cmocka_run_group_tests, false, &s));
    assert_non_null(strstr(s.object, "cmocka"));
    assert_true(s.objoff > 0);
    assert_ptr_equal(gort__sym_module((uintptr_t)_cmocka_run_group_tests),
                     gort__sym_module((uintptr_t)_cmocka_run_group_tests + 1));
    assert_ptr_not_equal(gort__sym_module((uintptr_t)symtab_probe),
                         gort__sym_module((uintptr_t)_cmocka_run_group_tests));
}

/* A dlopen'ed object is named after a refresh, and forgotten after its
 * gort_dlclose: its addresses may be the next object's. */
static void test_unloaded_forgotten(void **state)
{
    struct gort__sym s;
    (void)state;
    for (int round = 0; round < 2; round++) {
        void *h = dlopen(PROBE_SO, RTLD_NOW | RTLD_LOCAL);
        assert_non_null(h);
        void *(*addr)(void) = (void *(*)(void))dlsym(h, "probe_static_addr");
        assert_non_null(addr);
        uintptr_t pc = (uintptr_t)addr();
        gort_symbols_refresh();
        assert_true(gort__sym_lookup(pc, false, &s));
        assert_string_equal(s.func, "probe_static_fn");
        assert_non_null(s.file);
        assert_non_null(strstr(s.file, "symtab_probe.c"));
        assert_non_null(strstr(s.object, "symtab_probe"));
        assert_int_equal(gort_dlclose(h), 0);
        assert_false(gort__sym_lookup(pc, false, &s));
    }
}

int main(void)
{
    assert_int_equal(symtab_probe(1), 4);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_function_named),
        cmocka_unit_test(test_return_address_line),
        cmocka_unit_test(test_others),
        cmocka_unit_test(test_unloaded_forgotten),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
