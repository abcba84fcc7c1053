/* test_client_url.c — the HTTP client's URL parser (server/http/url.c):
 * what each part of a good URL becomes, and every malformed shape with its
 * error, table-driven. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "http/url.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* A slice equals want (NULL: absent). */
static void check_str(struct http_str s, const char *want, const char *url,
                      const char *what)
{
    if (want == NULL) {
        if (s.ptr != NULL)
            fail_msg("%s: %s: got \"%.*s\", want absent", url, what, (int)s.len,
                     s.ptr);
        return;
    }
    if (s.ptr == NULL || s.len != strlen(want) || memcmp(s.ptr, want, s.len))
        fail_msg("%s: %s: got \"%.*s\"%s, want \"%s\"", url, what, (int)s.len,
                 s.ptr ? s.ptr : "", s.ptr ? "" : " (absent)", want);
}

static void good_urls(void **state)
{
    (void)state;
    static const struct {
        const char *url, *authority, *host;
        unsigned port;
        const char *path, *query;
    } cases[] = {
        {"http://example.com", "example.com", "example.com", 80, "/", NULL},
        {"http://example.com/", "example.com", "example.com", 80, "/", NULL},
        {"HTTP://Example.COM/A", "Example.COM", "Example.COM", 80, "/A", NULL},
        {"http://127.0.0.1:8080/x/y?a=1&b=2", "127.0.0.1:8080", "127.0.0.1",
         8080, "/x/y", "a=1&b=2"},
        {"http://h:1/p?", "h:1", "h", 1, "/p", ""},
        {"http://h?q=1", "h", "h", 80, "/", "q=1"},
        {"http://h/p#frag", "h", "h", 80, "/p", NULL},
        {"http://h/p?q#frag?x", "h", "h", 80, "/p", "q"},
        {"http://h#frag", "h", "h", 80, "/", NULL},
        {"http://h:/p", "h:", "h", 80, "/p", NULL},
        {"http://[::1]:9000/p", "[::1]:9000", "::1", 9000, "/p", NULL},
        {"http://[fe80::1]/", "[fe80::1]", "fe80::1", 80, "/", NULL},
        {"http://h:65535/%41%2f", "h:65535", "h", 65535, "/%41%2f", NULL},
        {"http://local-host.example_1/", "local-host.example_1",
         "local-host.example_1", 80, "/", NULL},
        {"http://h/a?b?c=/d", "h", "h", 80, "/a", "b?c=/d"},
        /* Go leaves the query as written: not decoded, not checked. */
        {"http://h/p?q=100%&r=%zz", "h", "h", 80, "/p", "q=100%&r=%zz"},
        /* https: port 443 unless written */
        {"https://example.com/", "example.com", "example.com", 443, "/", NULL},
        {"HTTPS://h:8443/x?y", "h:8443", "h", 8443, "/x", "y"},
        {"https://[::1]/", "[::1]", "::1", 443, "/", NULL},
        {"https://h:", "h:", "h", 443, "/", NULL},
    };

    for (size_t i = 0; i < COUNT(cases); i++) {
        const char *url = cases[i].url, *why = NULL;
        struct http_url u;
        int rc = http_url_parse(url, &u, &why);
        if (rc != 0)
            fail_msg("%s: %d (%s)", url, rc, why ? why : "");
        check_str(u.authority, cases[i].authority, url, "authority");
        check_str(u.host, cases[i].host, url, "host");
        check_str(u.path, cases[i].path, url, "path");
        check_str(u.query, cases[i].query, url, "query");
        if (u.port != cases[i].port)
            fail_msg("%s: port %u, want %u", url, u.port, cases[i].port);
        if (u.tls != (strncasecmp(url, "https:", 6) == 0))
            fail_msg("%s: tls %d", url, u.tls);
    }
}

static void bad_urls(void **state)
{
    (void)state;
    static const struct {
        const char *url;
        int err;
        const char *why; /* a word the message must contain */
    } cases[] = {
        {"ftp://example.com/", -EPROTONOSUPPORT, "scheme"},
        {"example.com/x", -EINVAL, "scheme"},
        {"/x", -EINVAL, "scheme"},
        {"", -EINVAL, "scheme"},
        {"http:/h/", -EINVAL, "scheme"},
        {"http://", -EINVAL, "empty host"},
        {"http:///p", -EINVAL, "empty host"},
        {"http://:80/p", -EINVAL, "empty host"},
        {"http://user:pw@h/", -EINVAL, "userinfo"},
        {"http://h:0/", -EINVAL, "port"},
        {"http://h:65536/", -EINVAL, "port"},
        {"http://h:99999999999/", -EINVAL, "port"},
        {"http://h:8x/", -EINVAL, "port"},
        {"http://h:-1/", -EINVAL, "port"},
        {"http://h h/", -EINVAL, "host"},
        {"http://h\"/", -EINVAL, "host"},
        {"http://[::1/", -EINVAL, "IPv6"},
        {"http://[]/", -EINVAL, "IPv6"},
        {"http://[::1]x/", -EINVAL, "IPv6"},
        {"http://[g::1]/", -EINVAL, "IPv6"},
        {"http://h/a b", -EINVAL, "escaped"},
        {"http://h/a\tb", -EINVAL, "escaped"},
        {"http://h/a\r\nHost: evil", -EINVAL, "escaped"},
        {"http://h/\x7f", -EINVAL, "escaped"},
        {"http://h/caf\xc3\xa9", -EINVAL, "escaped"},
        {"http://h/p?q=a b", -EINVAL, "escaped"},
        {"http://h/p#a b", -EINVAL, "escaped"},
        {"http://h/%4", -EINVAL, "escape"},
        {"http://h/%zz", -EINVAL, "escape"},
        {"http://h/a%", -EINVAL, "escape"},
        {"http://h/p#%zz", -EINVAL, "escape"},
        {"http://h%2/", -EINVAL, "escape"},
    };

    for (size_t i = 0; i < COUNT(cases); i++) {
        const char *url = cases[i].url, *why = NULL;
        struct http_url u;
        int rc = http_url_parse(url, &u, &why);
        if (rc != cases[i].err)
            fail_msg("\"%s\": got %d (%s), want %d", url, rc,
                     why ? why : "no message", cases[i].err);
        if (!why || !strstr(why, cases[i].why))
            fail_msg("\"%s\": message \"%s\" lacks \"%s\"", url,
                     why ? why : "(none)", cases[i].why);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_urls),
        cmocka_unit_test(bad_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
