/* test_escape.c — what a redirect echoes back (server/http/escape.c): a
 * Location never leaves the site through a backslash, and the HTML body
 * never turns a query into markup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "http/escape.h"

static void location_table(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"/about", "/about"},
        {"/about?q=1&r=%2F", "/about?q=1&r=%2F"},
        {"/\\evil.example", "/%5Cevil.example"},
        {"/\\\\evil.example/", "/%5C%5Cevil.example/"},
        {"/a b", "/a%20b"},
        {"/q?\"><script>", "/q?%22%3E%3Cscript%3E"},
        {"/caf\xc3\xa9", "/caf%C3%A9"},
        {"/\x01\x7f", "/%01%7F"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[128];
        size_t n = http_location_escape(cases[i].in, out, sizeof out);
        assert_string_equal(out, cases[i].want);
        assert_int_equal(n, strlen(cases[i].want));
        /* Never what a browser takes for another host. */
        assert_false(out[0] == '/' && (out[1] == '/' || out[1] == '\\'));
    }
}

static void html_table(void **state)
{
    (void)state;
    char out[128];
    http_html_escape("/q?a=1&b=\"x\"<'y'>", out, sizeof out);
    assert_string_equal(out, "/q?a=1&amp;b=&#34;x&#34;&lt;&#39;y&#39;&gt;");
    http_html_escape("plain", out, sizeof out);
    assert_string_equal(out, "plain");
}

static void short_buffer_measures_and_terminates(void **state)
{
    (void)state;
    char out[4];
    assert_int_equal(http_location_escape("/\\\\x", out, sizeof out), 8);
    assert_string_equal(out, "/%5");
    assert_int_equal(http_html_escape("<<", out, sizeof out), 8);
    assert_string_equal(out, "&lt");
    assert_int_equal(http_html_escape("abc", NULL, 0), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(location_table),
        cmocka_unit_test(html_table),
        cmocka_unit_test(short_buffer_measures_and_terminates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
