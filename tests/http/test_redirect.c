/* test_redirect.c — server/http/redirect.c: path.Clean and the Location
 * Go's http.Redirect computes (rows from Go 1.19; test_helpers.py compares
 * whole responses with net/http). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/redirect.h"

static void clean_as_go(void **state)
{
    (void)state;
    static const char *const rows[][2] = {
        {"", "."},
        {"abc", "abc"},
        {"/", "/"},
        {"a/b/", "a/b"},
        {"//a//b//", "/a/b"},
        {"/./a/./b/.", "/a/b"},
        {"a/../b", "b"},
        {"/../a", "/a"},
        {"../../a", "../../a"},
        {"a/../..", ".."},
        {"/a/b/../../..", "/"},
        {"./", "."},
        {"a/./../c/..", "."},
    };
    char out[64];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        size_t n = http_path_clean(rows[i][0], strlen(rows[i][0]), out);
        out[n] = '\0';
        if (strcmp(out, rows[i][1]) != 0)
            fail_msg("Clean(\"%s\") = \"%s\", want \"%s\"", rows[i][0], out,
                     rows[i][1]);
    }
}

static void location_as_go(void **state)
{
    (void)state;
    static const char *const rows[][3] = {
        /* request path, url, Location */
        {"/a/b", "c", "/a/c"},
        {"/a/b/", "c", "/a/b/c"},
        {"/a/b", "../c/", "/c/"},
        {"/a/b", "/x/./y/../z?q=./..", "/x/z?q=./.."},
        {"/a/b", "", "/a/"},
        {"/a/b", "..", "/"},
        {"/a%2Fb/c", "d", "/a/b/d"},
        {"/a/b", "http://h/p/../q", "http://h/p/../q"},
        {"/a/b", "//h/p/../q", "//h/p/../q"},
        {"/a/b", "///p/../q", "/q"},
        {"/a/b", "a:b", "a:b"},
        {"/a/b", "1a:b/c", "1a:b/c"},
        {"/a/b", "c%zz", "c%zz"},
        {"/a/b", "c#%zz", "c#%zz"},
        {"/a/b", "c?%zz", "/a/c?%zz"},
        {"/a/b", "c#f", "/a/c#f"},
    };
    char out[128];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        size_t n = http_redirect_url(rows[i][0], rows[i][1], out, sizeof out);
        if (strcmp(out, rows[i][2]) != 0 || n != strlen(rows[i][2]))
            fail_msg("Redirect(%s, \"%s\") = \"%s\", want \"%s\"", rows[i][0],
                     rows[i][1], out, rows[i][2]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(clean_as_go),
        cmocka_unit_test(location_as_go),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
