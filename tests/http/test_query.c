/* test_query.c — http_query_value (server/http/query.c) against Go.
 *
 * Every row's expectation is what Go 1.19's url.ParseQuery(query)[key][0]
 * gives (a throwaway Go program printed them): first value wins, '+' and
 * %XX decode in keys and values, a lone key has the empty value, and pairs
 * with a ';' or a malformed escape are skipped. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/query.h"

static const struct {
    const char *query, *key;
    bool present;
    const char *value;
    size_t len; /* the value may hold a NUL */
} go_table[] = {
    {"", "a", false, "", 0},
    {"a=1", "a", true, "1", 1},
    {"a=1&a=2", "a", true, "1", 1},
    {"b=1&a=2", "a", true, "2", 1},
    {"a", "a", true, "", 0},
    {"a=", "a", true, "", 0},
    {"a&a=2", "a", true, "", 0},
    {"ab=1", "a", false, "", 0},
    {"a=1", "ab", false, "", 0},
    {"q=hello+world", "q", true, "hello world", 11},
    {"q=a%20b%2Bc", "q", true, "a b+c", 5},
    {"q=%e4%b8%96", "q", true, "\xe4\xb8\x96", 3},
    {"my+key=v", "my key", true, "v", 1},
    {"my%20key=v", "my key", true, "v", 1},
    {"%61=x", "a", true, "x", 1},
    {"a=%zz&a=2", "a", true, "2", 1},
    {"a=%4&a=2", "a", true, "2", 1},
    {"a=%&a=2", "a", true, "2", 1},
    {"a%=1&a=2", "a", true, "2", 1},
    {"a=1;b=2&a=3", "a", true, "3", 1},
    {"a=1;b=2", "b", false, "", 0},
    {"x=1&&a=2", "a", true, "2", 1},
    {"&a=2&", "a", true, "2", 1},
    {"a==b", "a", true, "=b", 2},
    {"a=b=c", "a", true, "b=c", 3},
    {"=v", "", true, "v", 1},
    {"a=1", "", false, "", 0},
    {"a=x%00y", "a", true, "x\0y", 3},
    {"a%00b=1", "a", false, "", 0},
    {"A=1", "a", false, "", 0},
    {"a=%41%42", "a", true, "AB", 2},
    {"a=%2", "a", false, "", 0},
    {"a=1&b=%zz", "b", false, "", 0},
    {"a=1&b=2&c=3", "c", true, "3", 1},
};

static void matches_go(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof go_table / sizeof go_table[0]; i++) {
        char buf[32];
        memset(buf, 'x', sizeof buf);
        ssize_t n = http_query_value(go_table[i].query, go_table[i].key, buf,
                                     sizeof buf);
        print_message("%zu: \"%s\" [%s] -> %zd\n", i, go_table[i].query,
                      go_table[i].key, n);
        if (!go_table[i].present) {
            assert_int_equal(n, -ENOENT);
            assert_string_equal(buf, "");
            continue;
        }
        assert_int_equal(n, go_table[i].len);
        assert_memory_equal(buf, go_table[i].value, go_table[i].len);
        assert_int_equal(buf[n], '\0');
    }
}

static void null_query_is_empty(void **state)
{
    (void)state;
    char buf[4];
    assert_int_equal(http_query_value(NULL, "a", buf, sizeof buf), -ENOENT);
}

static void small_buffer_is_an_error(void **state)
{
    (void)state;
    char buf[8];
    /* "a b" and its NUL need 4 bytes: 4 fits, 3 does not. */
    assert_int_equal(http_query_value("k=a+b", "k", buf, 4), 3);
    assert_string_equal(buf, "a b");
    memset(buf, 'x', sizeof buf);
    assert_int_equal(http_query_value("k=a+b", "k", buf, 3), -ERANGE);
    assert_string_equal(buf, ""); /* never a truncated value */
    /* Even the empty value needs its NUL; absent stays absent. */
    assert_int_equal(http_query_value("k", "k", buf, 0), -ERANGE);
    assert_int_equal(http_query_value("k", "j", buf, 0), -ENOENT);
    assert_int_equal(http_query_value("k", "k", buf, 1), 0);
    /* The escape is counted decoded: "%41%42" is 2 bytes, not 6. */
    assert_int_equal(http_query_value("k=%41%42", "k", buf, 3), 2);
    assert_string_equal(buf, "AB");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matches_go),
        cmocka_unit_test(null_query_is_empty),
        cmocka_unit_test(small_buffer_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
