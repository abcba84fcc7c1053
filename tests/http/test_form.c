/* test_form.c — http_form_parse (server/http/form.c): url.ParseQuery's
 * pairs and errors, rows as Go 1.19 gives them (the black-box comparison
 * with net/http itself is test_helpers.py). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/form.h"

static void pairs_in_order_with_repeats(void **state)
{
    (void)state;
    struct gort_http_form f = {0};
    const char *q = "a=1&b=x+y&a=%32&&c&d=";
    assert_int_equal(http_form_parse(&f, q, strlen(q), false), 0);
    assert_int_equal(f.n, 5);
    assert_string_equal(http_form_find(&f, "a", 0, false)->value, "1");
    assert_string_equal(http_form_find(&f, "a", 1, false)->value, "2");
    assert_null(http_form_find(&f, "a", 2, false));
    assert_string_equal(http_form_find(&f, "b", 0, false)->value, "x y");
    assert_string_equal(http_form_find(&f, "c", 0, false)->value, "");
    assert_string_equal(http_form_find(&f, "d", 0, false)->value, "");
    assert_null(http_form_find(&f, "a", 0, true)); /* none from a body */
    assert_string_equal(f.err, "");
    http_form_clear(&f);
}

static void body_first_then_query(void **state)
{
    (void)state;
    struct gort_http_form f = {0};
    assert_int_equal(http_form_parse(&f, "k=body", 6, true), 0);
    assert_int_equal(http_form_parse(&f, "k=query", 7, false), 0);
    assert_string_equal(http_form_find(&f, "k", 0, false)->value, "body");
    assert_string_equal(http_form_find(&f, "k", 1, false)->value, "query");
    assert_string_equal(http_form_find(&f, "k", 0, true)->value, "body");
    assert_null(http_form_find(&f, "k", 1, true));
    http_form_clear(&f);
}

/* Go: the pair is dropped, parsing goes on, the first error is kept. */
static void errors_as_go_words(void **state)
{
    (void)state;
    static const struct {
        const char *q, *err;
        size_t kept;
    } rows[] = {
        {"a=%zz&b=1", "invalid URL escape \"%zz\"", 1},
        {"a=1%4", "invalid URL escape \"%4\"", 0},
        {"k%=1&ok=2", "invalid URL escape \"%\"", 1},
        {"a%2=b", "invalid URL escape \"%2\"", 0},
        {"a=%", "invalid URL escape \"%\"", 0},
        {"a=1;b=2&c=3", "invalid semicolon separator in query", 1},
        {"x=%zq&y=%%", "invalid URL escape \"%zq\"", 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct gort_http_form f = {0};
        int rc = http_form_parse(&f, rows[i].q, strlen(rows[i].q), false);
        if (rc != -EBADMSG || strcmp(f.err, rows[i].err) != 0 ||
            f.n != rows[i].kept)
            fail_msg("%s: rc %d err \"%s\" kept %zu", rows[i].q, rc, f.err,
                     f.n);
        http_form_clear(&f);
    }
}

static void nul_in_value_kept_with_its_length(void **state)
{
    (void)state;
    struct gort_http_form f = {0};
    assert_int_equal(http_form_parse(&f, "k=a%00b", 7, false), 0);
    const struct http_form_pair *p = http_form_find(&f, "k", 0, false);
    assert_int_equal(p->vlen, 3);
    assert_memory_equal(p->value, "a\0b", 3);
    http_form_clear(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pairs_in_order_with_repeats),
        cmocka_unit_test(body_first_then_query),
        cmocka_unit_test(errors_as_go_words),
        cmocka_unit_test(nul_in_value_kept_with_its_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
