/* test_symtab — the executable's own functions are named from its .symtab
 * (runtime/symtab.c), which dumps fall back on for what dladdr cannot name:
 * this program is linked without -rdynamic, so none of its functions has a
 * dynamic symbol, as none of gortd's internals has. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "symtab.h"

__attribute__((noinline)) static int symtab_probe(int x)
{
    return x * 3 + 1;
}

static void test_own_function_named(void **state)
{
    uintptr_t off = 0;
    (void)state;
    uintptr_t pc = (uintptr_t)symtab_probe;
    const char *name = gort__exe_symbol(pc + 1, &off);
    assert_non_null(name);
    assert_string_equal(name, "symtab_probe");
    assert_int_equal(off, 1);
    name = gort__exe_symbol((uintptr_t)test_own_function_named, &off);
    assert_non_null(name);
    assert_string_equal(name, "test_own_function_named");
    assert_int_equal(off, 0);
}

static void test_others_not_named(void **state)
{
    uintptr_t off = 0;
    (void)state;
    /* A shared library's code (cmocka's: libc's could be a sanitizer's
     * interceptor, linked into the executable), a stack address, nothing:
     * not the executable's. */
    assert_null(gort__exe_symbol((uintptr_t)_cmocka_run_group_tests, &off));
    assert_null(gort__exe_symbol((uintptr_t)&off, &off));
    assert_null(gort__exe_symbol(0, &off));
}

int main(void)
{
    assert_int_equal(symtab_probe(1), 4);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_function_named),
        cmocka_unit_test(test_others_not_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
