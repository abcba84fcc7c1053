/* test_env.c — GOMAXPROCS from the environment. CTest runs this binary
 * several times with different environments (see CMakeLists.txt); GORT_EXPECT
 * says what gort_main must do with the GOMAXPROCS it was given: a number is
 * the GOMAXPROCS the runtime must start with, "einval" a refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gort/gort.h"

static int seen_procs;

static void read_procs(void *arg)
{
    (void)arg;
    seen_procs = gort_gomaxprocs(0);
}

static void gomaxprocs_from_env(void **state)
{
    (void)state;
    const char *expect = getenv("GORT_EXPECT");
    assert_non_null(expect);
    int rc = gort_main(read_procs, NULL);
    if (strcmp(expect, "einval") == 0) {
        assert_int_equal(rc, -EINVAL);
        assert_int_equal(seen_procs, 0); /* main never ran */
        /* Still refused on a second try: nothing half-started. */
        assert_int_equal(gort_main(read_procs, NULL), -EINVAL);
        return;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(seen_procs, atoi(expect));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gomaxprocs_from_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
