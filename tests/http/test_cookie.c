/* test_cookie.c — server/http/cookie.c: reading a Cookie field as Go's
 * readCookies does, writing Set-Cookie as Cookie.String does (rows from Go
 * 1.19; test_helpers.py compares with net/http itself). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/cookie.h"

/* All pairs of line as "n=v;" joined. */
static void read_all(const char *line, char *out, size_t cap)
{
    size_t off = 0, o = 0;
    const char *n, *v;
    size_t nl, vl;
    out[0] = '\0';
    while (http_cookie_next(line, &off, &n, &nl, &v, &vl))
        o += (size_t)snprintf(out + o, cap - o, "%.*s=%.*s;", (int)nl, n,
                              (int)vl, v);
}

static void reads_as_go(void **state)
{
    (void)state;
    static const char *const rows[][2] = {
        {"", ""},
        {"a=1", "a=1;"},
        {"a=1; b=2;c=3", "a=1;b=2;c=3;"},
        {"  a=1  ;  b = 2 ", "a=1;"},
        {"a=\"q\"; b=\"\"; c=\"", "a=q;b=;"},
        {"a=x\\y; b=ok; c=sp ace; d=co,ma", "b=ok;c=sp ace;d=co,ma;"},
        {"=v; bad name=1; semi; ok=1", "semi=;ok=1;"},
        {";;a=1;;", "a=1;"},
        {"a=\x7f; b=\xc3\xa9; c=1", "c=1;"},
        {"a=b=c", "a=b=c;"},
    };
    char got[256];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        read_all(rows[i][0], got, sizeof got);
        if (strcmp(got, rows[i][1]) != 0)
            fail_msg("\"%s\": got \"%s\", want \"%s\"", rows[i][0], got,
                     rows[i][1]);
    }
}

static void writes_as_go(void **state)
{
    (void)state;
    static const struct {
        struct gort_http_cookie c;
        const char *want;
    } rows[] = {
        {{.name = "s", .value = "1"}, "s=1"},
        {{.name = "s", .value = "a b"}, "s=\"a b\""},
        {{.name = "s", .value = "a\"b;c\\d"}, "s=abcd"},
        {{.name = "s", .value = "\x01"}, "s="},
        {{.name = "s",
          .path = "/a;b\x01"
                  "c"},
         "s=; Path=/abc"},
        {{.name = "s", .domain = ".Example.com"}, "s=; Domain=Example.com"},
        {{.name = "s", .domain = "bad_domain.com"}, "s="},
        {{.name = "s", .domain = "1.2.3.4"}, "s=; Domain=1.2.3.4"},
        {{.name = "s", .domain = "::1"}, "s="},
        {{.name = "s", .has_expires = 1, .expires = 0},
         "s=; Expires=Thu, 01 Jan 1970 00:00:00 GMT"},
        {{.name = "s", .has_expires = 1, .expires = -11644473601LL}, "s="},
        {{.name = "s", .max_age = -5, .http_only = 1, .secure = 1},
         "s=; Max-Age=0; HttpOnly; Secure"},
        {{.name = "s",
          .value = "v",
          .max_age = 60,
          .same_site = GORT_HTTP_SAMESITE_STRICT},
         "s=v; Max-Age=60; SameSite=Strict"},
        {{.name = "s", .same_site = GORT_HTTP_SAMESITE_NONE},
         "s=; SameSite=None"},
    };
    char buf[256];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        ssize_t n = http_cookie_format(&rows[i].c, buf, sizeof buf);
        if (n < 0 || strcmp(buf, rows[i].want) != 0 ||
            (size_t)n != strlen(rows[i].want))
            fail_msg("row %zu: got \"%s\" (%zd), want \"%s\"", i, buf, n,
                     rows[i].want);
    }
}

static void bad_name_refused_and_truncation_reported(void **state)
{
    (void)state;
    char buf[8];
    struct gort_http_cookie c = {.name = "bad name", .value = "v"};
    assert_int_equal(http_cookie_format(&c, buf, sizeof buf), -EINVAL);
    c.name = "";
    assert_int_equal(http_cookie_format(&c, buf, sizeof buf), -EINVAL);
    c.name = "session";
    c.value = "0123456789";
    assert_int_equal(http_cookie_format(&c, buf, sizeof buf), 18);
    assert_string_equal(buf, "session");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_as_go),
        cmocka_unit_test(writes_as_go),
        cmocka_unit_test(bad_name_refused_and_truncation_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
