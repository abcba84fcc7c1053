/* test_mux.c — the ServeMux (server/http/mux.c) against Go 1.22's documented
 * behaviour: precedence, wildcards and path values, 404, 405 with Allow,
 * HEAD via GET, redirects, conflicts, bad patterns, clone and remove_owner.
 * Every route's handler is its own pattern string, so a match can be
 * checked by either. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/mux.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static char err[512];

/* A mux holding pats (NULL-terminated), each its own handler, owned by
 * owner; fails the test if one does not register. */
static struct mux *mux_of(const char *const *pats, const void *owner)
{
    struct mux *mux = mux_new();

    assert_non_null(mux);
    for (size_t i = 0; pats[i]; i++) {
        int rc = mux_handle(mux, pats[i], (void *)pats[i], NULL, owner, err,
                            sizeof err);
        if (rc)
            fail_msg("registering \"%s\": %d: %s", pats[i], rc, err);
    }
    return mux;
}

/* Holds a match and the buffer its values and location point into. */
struct res {
    struct mux_match m;
    char buf[1024];
    int status;
};

/* Matches "METHOD host target" (target may hold "?query"). */
static int run(const struct mux *mux, const char *method, const char *host,
               const char *target, struct res *r)
{
    const char *q = strchr(target, '?');
    struct mux_request req = {
        .method = method,
        .method_len = strlen(method),
        .host = host ? host : "",
        .host_len = host ? strlen(host) : 0,
        .path = target,
        .path_len = q ? (size_t)(q - target) : strlen(target),
        .query = q ? q + 1 : NULL,
        .query_len = q ? strlen(q + 1) : 0,
    };

    r->status = mux_match(mux, &req, &r->m, r->buf, sizeof r->buf);
    assert_int_equal(r->status, r->m.status);
    return r->status;
}

/* One row of a table: the request and what must come back. want is the
 * pattern (200), the Location (301), the Allow value (405), or NULL. */
struct row {
    const char *method, *host, *target;
    int status;
    const char *want;
};

static const char *outcome(const struct res *r)
{
    switch (r->status) {
    case 200:
        return r->m.pattern;
    case 301:
        return r->m.location;
    case 405:
        return r->m.allow;
    default:
        return NULL;
    }
}

static void check_rows(const struct mux *mux, const struct row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct row *w = &rows[i];
        struct res r;
        const char *got;

        run(mux, w->method, w->host, w->target, &r);
        got = outcome(&r);
        if (r.status != w->status ||
            (w->want && (!got || strcmp(got, w->want))) || (!w->want && got))
            fail_msg("%s %s%s: got %d \"%s\", want %d \"%s\"", w->method,
                     w->host ? w->host : "", w->target, r.status,
                     got ? got : "", w->status, w->want ? w->want : "");
        if (r.status == 200 && strcmp(r.m.handler, r.m.pattern))
            fail_msg("%s %s: handler is not the pattern's", w->method,
                     w->target);
        if (r.status == 301)
            assert_int_equal(strlen(r.m.location), r.m.location_len);
        if (r.status == 405)
            assert_int_equal(strlen(r.m.allow), r.m.allow_len);
    }
}

/* ---- precedence ---------------------------------------------------------- */

/* The examples of Go's ServeMux documentation, in one mux. */
static void precedence_go_doc_table(void **state)
{
    (void)state;
    static const char *const pats[] = {
        "/images/thumbnails/",
        "/images/",
        "/posts/{id}",
        "/posts/latest",
        "GET /static/",
        "/b/{bucket}/o/{objectname...}",
        "/{$}",
        "/",
        "/index.html",
        "example.com/",
        "example.com/{$}",
        "GET /users/{id}",
        "GET /users/{id}/",
        "GET /users/me",
        NULL,
    };
    static const struct row rows[] = {
        /* The longer subtree is more specific. */
        {"GET", NULL, "/images/thumbnails/x.png", 200, "/images/thumbnails/"},
        {"GET", NULL, "/images/thumbnails/", 200, "/images/thumbnails/"},
        {"GET", NULL, "/images/a.png", 200, "/images/"},
        {"GET", NULL, "/images/", 200, "/images/"},
        /* A literal beats a wildcard at the same place. */
        {"GET", NULL, "/posts/latest", 200, "/posts/latest"},
        {"GET", NULL, "/posts/42", 200, "/posts/{id}"},
        {"DELETE", NULL, "/posts/42", 200, "/posts/{id}"},
        {"GET", NULL, "/users/me", 200, "GET /users/me"},
        {"GET", NULL, "/users/7", 200, "GET /users/{id}"},
        {"GET", NULL, "/users/7/", 200, "GET /users/{id}/"},
        {"GET", NULL, "/users/7/photos", 200, "GET /users/{id}/"},
        /* A method pattern beats the method-less one it narrows. */
        {"GET", NULL, "/static/app.css", 200, "GET /static/"},
        {"HEAD", NULL, "/static/app.css", 200, "GET /static/"},
        {"POST", NULL, "/static/app.css", 200, "/"},
        {"GET", NULL, "/b/photos/o/2024/06/cat.jpg", 200,
         "/b/{bucket}/o/{objectname...}"},
        {"GET", NULL, "/b/photos/o/", 200, "/b/{bucket}/o/{objectname...}"},
        {"GET", NULL, "/b/photos/x/cat.jpg", 200, "/"},
        /* {$} is exactly "/"; "/" is everything else. */
        {"GET", NULL, "/", 200, "/{$}"},
        {"GET", NULL, "/nothing/here", 200, "/"},
        {"GET", NULL, "/index.html", 200, "/index.html"},
        /* A host pattern beats any host-less one, however specific. */
        {"GET", "example.com", "/index.html", 200, "example.com/"},
        {"GET", "example.com:8080", "/posts/latest", 200, "example.com/"},
        {"GET", "example.com", "/", 200, "example.com/{$}"},
        {"GET", "other.org", "/index.html", 200, "/index.html"},
        {"GET", "Example.com", "/index.html", 200, "/index.html"},
        {"GET", "[::1]:80", "/", 200, "/{$}"},
    };

    struct mux *mux = mux_of(pats, NULL);
    check_rows(mux, rows, NELEM(rows));
    mux_free(mux);
}

static void precedence_host_ipv6_and_port(void **state)
{
    (void)state;
    static const char *const pats[] = {"::1/", "10.0.0.1/x", "/", NULL};
    static const struct row rows[] = {
        {"GET", "[::1]:8080", "/a", 200, "::1/"},
        {"GET", "[::1]", "/a", 200, "/"}, /* no port: left as it is */
        {"GET", "10.0.0.1:80", "/x", 200, "10.0.0.1/x"},
        {"GET", "10.0.0.1", "/x", 200, "10.0.0.1/x"},
        {"GET", "10.0.0.1", "/y", 200, "/"}, /* host pattern fails: any */
    };
    struct mux *mux = mux_of(pats, NULL);

    check_rows(mux, rows, NELEM(rows));
    mux_free(mux);
}

static void head_matches_get(void **state)
{
    (void)state;
    static const char *const pats[] = {"GET /g",  "GET /both", "HEAD /both",
                                       "HEAD /h", "POST /p",   NULL};
    static const struct row rows[] = {
        {"HEAD", NULL, "/g", 200, "GET /g"},
        {"GET", NULL, "/both", 200, "GET /both"},
        {"HEAD", NULL, "/both", 200, "HEAD /both"},
        {"HEAD", NULL, "/h", 200, "HEAD /h"},
        {"GET", NULL, "/h", 405, "HEAD"},
        {"HEAD", NULL, "/p", 405, "POST"},
        {"get", NULL, "/g", 405, "GET, HEAD"}, /* methods are case-sensitive */
    };
    struct mux *mux = mux_of(pats, NULL);

    check_rows(mux, rows, NELEM(rows));
    mux_free(mux);
}

/* ---- wildcards and values ------------------------------------------------ */

static void check_value(const struct res *r, const char *name, const char *want,
                        size_t want_len)
{
    size_t len = 0;
    const char *v = mux_path_value(&r->m, name, &len);

    if (!v)
        fail_msg("no value \"%s\" for %s", name, r->m.pattern);
    assert_int_equal(len, want_len);
    assert_memory_equal(v, want, want_len);
    assert_int_equal(v[len], '\0');
}

static void wildcard_values(void **state)
{
    (void)state;
    static const char *const pats[] = {"/files/{name}", "/a/{x}/c/{y}",
                                       "/raw/{p...}",
                                       "/b/{bucket}/o/{objectname...}", NULL};
    struct mux *mux = mux_of(pats, NULL);
    struct res r;

    assert_int_equal(run(mux, "GET", NULL, "/a/1/c/two", &r), 200);
    assert_int_equal(r.m.nvalues, 2);
    assert_string_equal(r.m.values[0].name, "x");
    assert_string_equal(r.m.values[1].name, "y");
    check_value(&r, "x", "1", 1);
    check_value(&r, "y", "two", 3);
    assert_null(mux_path_value(&r.m, "z", NULL));

    assert_int_equal(run(mux, "GET", NULL, "/b/pics/o/2024/cat.jpg", &r), 200);
    check_value(&r, "bucket", "pics", 4);
    check_value(&r, "objectname", "2024/cat.jpg", 12);

    assert_int_equal(run(mux, "GET", NULL, "/raw/", &r), 200);
    check_value(&r, "p", "", 0);
    assert_int_equal(run(mux, "GET", NULL, "/raw/a//b/", &r), 301);
    assert_string_equal(r.m.location, "/raw/a/b/");
    assert_int_equal(run(mux, "GET", NULL, "/raw/a/b/", &r), 200);
    check_value(&r, "p", "a/b/", 4);

    /* {name} is one whole segment, never empty at the end. */
    assert_int_equal(run(mux, "GET", NULL, "/files/a/b", &r), 404);
    assert_int_equal(run(mux, "GET", NULL, "/files/", &r), 404);
    assert_int_equal(run(mux, "GET", NULL, "/a/1/c", &r), 404);
    mux_free(mux);
}

/* Each segment is unescaped on its own: %2F does not split it. */
static void wildcard_escaped_segments(void **state)
{
    (void)state;
    static const char *const pats[] = {"/files/{name}", "/raw/{p...}",
                                       "/lit/a%2Fb",    "/cafe/caf%C3%A9",
                                       "/x/{v}/end",    NULL};
    struct mux *mux = mux_of(pats, NULL);
    struct res r;

    assert_int_equal(run(mux, "GET", NULL, "/files/my%20file.txt", &r), 200);
    check_value(&r, "name", "my file.txt", 11);
    assert_int_equal(run(mux, "GET", NULL, "/files/a%2Fb", &r), 200);
    check_value(&r, "name", "a/b", 3);
    assert_int_equal(run(mux, "GET", NULL, "/files/%00x", &r), 200);
    check_value(&r, "name", "\0x", 2);
    /* A malformed escape leaves the segment as it is (Go does too). */
    assert_int_equal(run(mux, "GET", NULL, "/files/100%zz", &r), 200);
    check_value(&r, "name", "100%zz", 6);
    assert_int_equal(run(mux, "GET", NULL, "/files/50%", &r), 200);
    check_value(&r, "name", "50%", 3);
    /* The rest of the path is unescaped as a whole. */
    assert_int_equal(run(mux, "GET", NULL, "/raw/x%2Fy/z%41", &r), 200);
    check_value(&r, "p", "x/y/zA", 6);
    assert_int_equal(run(mux, "GET", NULL, "/x/a%2Fb/end", &r), 200);
    check_value(&r, "v", "a/b", 3);
    /* A value is one segment even when it unescapes to "/". */
    assert_int_equal(run(mux, "GET", NULL, "/files/%2F", &r), 200);
    check_value(&r, "name", "/", 1);

    /* Literals are unescaped too, in the pattern and in the request. */
    assert_int_equal(run(mux, "GET", NULL, "/lit/a%2Fb", &r), 200);
    assert_string_equal(r.m.pattern, "/lit/a%2Fb");
    assert_int_equal(run(mux, "GET", NULL, "/lit/a%2fb", &r), 200);
    assert_int_equal(run(mux, "GET", NULL, "/lit/a/b", &r), 404);
    assert_int_equal(run(mux, "GET", NULL, "/cafe/caf%c3%a9", &r), 200);
    assert_string_equal(r.m.pattern, "/cafe/caf%C3%A9");
    assert_int_equal(run(mux, "GET", NULL, "/cafe/caf\xc3\xa9", &r), 200);
    assert_int_equal(run(mux, "GET", NULL, "/c%61fe/caf%C3%A9", &r), 200);
    assert_int_equal(run(mux, "GET", NULL, "/Cafe/caf%C3%A9", &r), 404);
    mux_free(mux);
}

static void end_anchor_and_subtree(void **state)
{
    (void)state;
    static const char *const pats[] = {
        "/a/{$}", "/a/{x}", "/b/", "/b/{$}", "/c/{rest...}", "/d/{x}/", NULL};
    static const struct row rows[] = {
        {"GET", NULL, "/a/", 200, "/a/{$}"},
        {"GET", NULL, "/a/z", 200, "/a/{x}"},
        {"GET", NULL, "/a/z/", 404, NULL},
        {"GET", NULL, "/a", 301, "/a/"}, /* Go too: "/a/" matches exactly */
        {"GET", NULL, "/b/", 200, "/b/{$}"},
        {"GET", NULL, "/b/z/y", 200, "/b/"},
        {"GET", NULL, "/c/", 200, "/c/{rest...}"},
        {"GET", NULL, "/c", 301, "/c/"},
        {"GET", NULL, "/d/1/", 200, "/d/{x}/"},
        {"GET", NULL, "/d/1/2/3", 200, "/d/{x}/"},
        {"GET", NULL, "/d/1", 301, "/d/1/"},
    };
    struct mux *mux = mux_of(pats, NULL);

    check_rows(mux, rows, NELEM(rows));
    mux_free(mux);
}

/* ---- 404, 405 ------------------------------------------------------------ */

static void not_found_and_method_not_allowed(void **state)
{
    (void)state;
    static const char *const pats[] = {
        "GET /r",  "POST /r",       "PUT /r/",         "DELETE /other",
        "GET /m/", "example.com/r", "OPTIONS a.org/r", NULL};
    static const struct row rows[] = {
        {"GET", NULL, "/nothing", 404, NULL},
        {"GET", NULL, "/", 404, NULL},
        {"PATCH", NULL, "/r", 405, "GET, HEAD, POST, PUT"},
        {"POST", NULL, "/r/x", 405, "PUT"},
        {"PUT", NULL, "/r", 301, "/r/"}, /* PUT matches "/r/" exactly */
        {"GET", NULL, "/other", 405, "DELETE"},
        {"POST", NULL, "/m", 405, "GET, HEAD"},
        {"POST", NULL, "/m/x", 405, "GET, HEAD"},
        {"GET", NULL, "/m", 301, "/m/"},
        /* The host's patterns count, then the host-less ones. */
        {"GET", "example.com", "/r", 200, "example.com/r"},
        {"PATCH", "a.org", "/r", 405, "GET, HEAD, OPTIONS, POST, PUT"},
        {"PATCH", "b.org", "/r", 405, "GET, HEAD, POST, PUT"},
    };
    struct mux *mux = mux_of(pats, NULL);

    check_rows(mux, rows, NELEM(rows));
    mux_free(mux);
}

static void empty_and_null_mux(void **state)
{
    (void)state;
    struct mux *mux = mux_new();
    struct res r;

    assert_int_equal(run(mux, "GET", NULL, "/", &r), 404);
    assert_int_equal(run(NULL, "GET", NULL, "/x", &r), 404);
    assert_int_equal(run(NULL, "GET", NULL, "/x/../y", &r), 301);
    assert_string_equal(r.m.location, "/y");
    assert_int_equal(mux_count(mux), 0);
    mux_free(mux);
    mux_free(NULL);
}

/* ---- redirects ----------------------------------------------------------- */

static void subtree_redirect(void **state)
{
    (void)state;
    static const char *const pats[] = {"/dir/", "/both", "/both/", "GET /get/",
                                       NULL};
    static const struct row rows[] = {
        {"GET", NULL, "/dir", 301, "/dir/"},
        {"GET", NULL, "/dir?a=1&b=%20", 301, "/dir/?a=1&b=%20"},
        {"GET", NULL, "/dir?", 301, "/dir/"}, /* an empty query is dropped */
        {"POST", NULL, "/dir", 301, "/dir/"},
        {"GET", NULL, "/dir/", 200, "/dir/"},
        {"GET", NULL, "/dir/x", 200, "/dir/"},
        {"GET", NULL, "/both", 200, "/both"},
        {"GET", NULL, "/both/", 200, "/both/"},
        {"GET", NULL, "/get", 301, "/get/"},
        {"HEAD", NULL, "/get", 301, "/get/"},
        {"POST", NULL, "/get", 405, "GET, HEAD"},
        {"GET", NULL, "/d%69r", 301, "/d%69r/"}, /* escapes kept */
        {"CONNECT", NULL, "/dir", 301, "/dir/"},
    };
    struct mux *mux = mux_of(pats, NULL);

    check_rows(mux, rows, NELEM(rows));
    mux_free(mux);
}

/* A pattern that matches "/dir" exactly, or a catch-all, stops it. */
static void subtree_redirect_only_without_exact_match(void **state)
{
    (void)state;
    static const char *const with_wild[] = {"/dir/", "/{name}", NULL};
    static const char *const with_root[] = {"/dir/", "/", NULL};
    struct mux *a = mux_of(with_wild, NULL);
    struct mux *b = mux_of(with_root, NULL);
    struct res r;

    assert_int_equal(run(a, "GET", NULL, "/dir", &r), 200);
    assert_string_equal(r.m.pattern, "/{name}");
    check_value(&r, "name", "dir", 3);
    /* "/" matches "/dir" only through its subtree: still a redirect. */
    assert_int_equal(run(b, "GET", NULL, "/dir", &r), 301);
    assert_string_equal(r.m.location, "/dir/");
    assert_int_equal(run(b, "GET", NULL, "/favicon.ico", &r), 200);
    assert_string_equal(r.m.pattern, "/");
    mux_free(a);
    mux_free(b);
}

static void clean_path_redirect(void **state)
{
    (void)state;
    static const char *const pats[] = {"/", "/a/b", "/dir/", "/v/{x}", NULL};
    static const struct row rows[] = {
        {"GET", NULL, "/a/../a/b", 301, "/a/b"},
        {"GET", NULL, "/a//b", 301, "/a/b"},
        {"GET", NULL, "/./a/b/", 301, "/a/b/"},
        {"GET", NULL, "/a/b/.", 301, "/a/b"},
        {"GET", NULL, "/a/b/..", 301, "/a"},
        {"GET", NULL, "/a/b/../", 301, "/a/"},
        {"GET", NULL, "/..", 301, "/"},
        {"GET", NULL, "/../../x", 301, "/x"},
        {"GET", NULL, "//", 301, "/"},
        {"GET", NULL, "/.", 301, "/"},
        {"GET", NULL, "/a/./b?q=1&r", 301, "/a/b?q=1&r"},
        /* Cleaned and then sent to the subtree in one redirect. */
        {"GET", NULL, "/x/../dir", 301, "/dir/"},
        {"GET", NULL, "/x/../dir?q", 301, "/dir/?q"},
        /* Escaped dots are not dots. */
        {"GET", NULL, "/v/%2E%2E", 200, "/v/{x}"},
        {"GET", NULL, "/a/.../b", 200, "/"},
        {"GET", NULL, "relative", 301, "/relative"},
        /* CONNECT paths are not cleaned. */
        {"CONNECT", NULL, "/a/../a/b", 200, "/"},
        {"CONNECT", NULL, "/v//", 200, "/"},
    };
    struct mux *mux = mux_of(pats, NULL);

    check_rows(mux, rows, NELEM(rows));
    mux_free(mux);
}

static void small_buffer_is_414(void **state)
{
    (void)state;
    static const char *const pats[] = {"/", NULL};
    struct mux *mux = mux_of(pats, NULL);
    struct mux_match m;
    char buf[128];
    const char *path = "/0123456789/0123456789/0123456789";
    struct mux_request req = {"GET", 3, "", 0, path, strlen(path), NULL, 0};

    assert_int_equal(mux_match(mux, &req, &m, buf, 40), 414);
    assert_int_equal(MUX_BUF_LEN(req.path_len, 0), 2 * 33 + 8);
    assert_int_equal(mux_match(mux, &req, &m, buf, 2 * 33 + 8), 200);
    mux_free(mux);
}

/* ---- conflicts ----------------------------------------------------------- */

static void expect_conflict(const char *first, const char *second,
                            const char *detail)
{
    const char *const pats[] = {first, NULL};
    struct mux *mux = mux_of(pats, NULL);
    char quoted[128];
    int rc = mux_handle(mux, second, NULL, NULL, NULL, err, sizeof err);

    if (rc != -EEXIST)
        fail_msg("\"%s\" after \"%s\": got %d, want -EEXIST", second, first,
                 rc);
    snprintf(quoted, sizeof quoted,
             "pattern \"%s\" conflicts with pattern "
             "\"%s\"",
             second, first);
    if (!strstr(err, quoted) || (detail && !strstr(err, detail)))
        fail_msg("message \"%s\" lacks \"%s\" / \"%s\"", err, quoted,
                 detail ? detail : "");
    assert_int_equal(mux_count(mux), 1); /* unchanged */
    mux_free(mux);
}

static void conflicts_refused_naming_both(void **state)
{
    (void)state;
    expect_conflict("/a/{x}", "/{y}/b", "like \"/a/b\"");
    expect_conflict("/{y}/b", "/a/{x}", "like \"/a/b\"");
    /* Go's documentation: "GET /" and "/index.html" conflict. */
    expect_conflict("GET /", "/index.html", "like \"GET /index.html\"");
    /* A narrower method but a wider path: neither is more specific. */
    expect_conflict("GET /posts/{id}", "/posts/latest",
                    "like \"GET /posts/latest\"");
    expect_conflict("HEAD /x/", "GET /x/{a}", "like \"HEAD /x/a\"");
    expect_conflict("example.com/a/{x}", "example.com/{y}/b",
                    "like \"example.com/a/b\"");
    expect_conflict("/a/%2F/{x}", "/a/{y}/b", "like \"/a/%2F/b\"");
    /* The same requests, spelled the same or not. */
    expect_conflict("/x", "/x", "it is already registered");
    expect_conflict("/a/{x}", "/a/{y}", "they match the same requests");
    expect_conflict("/", "/{rest...}", "they match the same requests");
    expect_conflict("/a%2Fb", "/a%2fb", "they match the same requests");
    expect_conflict("GET  /x", "GET /x", "they match the same requests");
}

static void no_conflict_when_one_is_more_specific(void **state)
{
    (void)state;
    static const char *const pats[] = {
        "/x",         "GET /x",       "HEAD /x", "POST /x", "/y/",
        "GET /y/{a}", "HEAD /y/{a}/", "/{$}",    "/",       "/a/{$}",
        "/a/{x}",     "/a/%2F",       "a.com/x", "b.com/x", "a.com/{p...}",
        "/z/{a}/{b}", "/z/q/{b}",     "/z/q/r",  NULL,
    };
    struct mux *mux = mux_of(pats, NULL);
    struct res r;

    assert_int_equal(mux_count(mux), NELEM(pats) - 1);
    assert_int_equal(run(mux, "PUT", NULL, "/x", &r), 200);
    assert_string_equal(r.m.pattern, "/x");
    assert_int_equal(run(mux, "GET", NULL, "/z/q/s", &r), 200);
    assert_string_equal(r.m.pattern, "/z/q/{b}");
    assert_int_equal(run(mux, "GET", NULL, "/z/p/s", &r), 200);
    assert_string_equal(r.m.pattern, "/z/{a}/{b}");
    /* {$} is the trailing slash, "%2F" a segment holding '/'. */
    assert_int_equal(run(mux, "GET", NULL, "/a/", &r), 200);
    assert_string_equal(r.m.pattern, "/a/{$}");
    assert_int_equal(run(mux, "GET", NULL, "/a/%2F", &r), 200);
    assert_string_equal(r.m.pattern, "/a/%2F");
    mux_free(mux);
}

/* ---- bad patterns -------------------------------------------------------- */

static void invalid_patterns(void **state)
{
    (void)state;
    static const struct {
        const char *pattern, *message;
    } bad[] = {
        {"", "parsing \"\": at offset 0: empty pattern"},
        {"x", "parsing \"x\": at offset 0: host/path missing /"},
        {"GET", "host/path missing /"},
        {"GET ", "host/path missing /"},
        {" /x", "parsing \" /x\": at offset 0: invalid method \"\""},
        {"G@T /", "invalid method \"G@T\""},
        {"ex{ample.com/", "at offset 2: host contains '{'"},
        {"/a/b{x}", "at offset 4: bad wildcard segment (must start with '{')"},
        {"/{x", "at offset 1: bad wildcard segment (must end with '}')"},
        {"/{", "bad wildcard segment (must end with '}')"},
        {"/a/{x...}/y", "at offset 3: {...} wildcard not at end"},
        {"/{$}/y", "{$} not at end"},
        {"/{x}/{x}", "at offset 5: duplicate wildcard name \"x\""},
        {"/{x}/{x...}", "duplicate wildcard name \"x\""},
        {"/{1x}", "bad wildcard name \"1x\""},
        {"/{x-y}", "bad wildcard name \"x-y\""},
        {"/{}", "empty wildcard"},
        {"/{...}", "empty wildcard"},
        {"GET /a/../b",
         "non-CONNECT pattern with unclean path can never match"},
        {"GET /a//b", "unclean path"},
        {"GET /a/.", "unclean path"},
    };

    for (size_t i = 0; i < NELEM(bad); i++) {
        struct mux *mux = mux_new();
        int rc =
            mux_handle(mux, bad[i].pattern, NULL, NULL, NULL, err, sizeof err);

        if (rc != -EINVAL || !strstr(err, bad[i].message))
            fail_msg("\"%s\": got %d \"%s\", want -EINVAL \"%s\"",
                     bad[i].pattern, rc, err, bad[i].message);
        assert_int_equal(mux_count(mux), 0);
        mux_free(mux);
    }
}

/* What Go accepts, and the limits gort adds. */
static void pattern_edges_and_limits(void **state)
{
    (void)state;
    struct mux *mux = mux_new();
    char pat[1200];
    size_t n = 0;
    int rc;

    /* Unclean paths are fine without a method (CONNECT may match them). */
    assert_int_equal(
        mux_handle(mux, "/a/../b", NULL, NULL, NULL, err, sizeof err), 0);
    assert_int_equal(
        mux_handle(mux, "CONNECT /c/./d", NULL, NULL, NULL, err, sizeof err),
        0);
    assert_int_equal(
        mux_handle(mux, "GET\t /tab", NULL, NULL, NULL, err, sizeof err), 0);
    assert_int_equal(mux_handle(mux, "/b}", NULL, NULL, NULL, err, sizeof err),
                     0);

    /* MUX_MAX_VALUES named wildcards, and one more. */
    for (int i = 0; i <= MUX_MAX_VALUES; i++)
        n += (size_t)snprintf(pat + n, sizeof pat - n, "/{w%d}", i);
    rc = mux_handle(mux, pat, NULL, NULL, NULL, err, sizeof err);
    assert_int_equal(rc, -EINVAL);
    assert_non_null(strstr(err, "more than 16 wildcards"));
    *strrchr(pat, '/') = '\0';
    assert_int_equal(mux_handle(mux, pat, NULL, NULL, NULL, err, sizeof err),
                     0);

    /* MUX_MAX_SEGMENTS segments, and one more. */
    n = 0;
    for (int i = 0; i <= MUX_MAX_SEGMENTS; i++)
        n += (size_t)snprintf(pat + n, sizeof pat - n, "/s");
    rc = mux_handle(mux, pat, NULL, NULL, NULL, err, sizeof err);
    assert_int_equal(rc, -EINVAL);
    if (!strstr(err, "more than 255 segments"))
        fail_msg("got \"%.200s\"", err);
    pat[n - 2] = '\0';
    assert_int_equal(mux_handle(mux, pat, NULL, NULL, NULL, err, sizeof err),
                     0);

    /* A truncated message is still a NUL-terminated string; NULL is fine. */
    assert_int_equal(mux_handle(mux, "/{1}", NULL, NULL, NULL, err, 8),
                     -EINVAL);
    assert_string_equal(err, "parsing");
    assert_int_equal(mux_handle(mux, "/{1}", NULL, NULL, NULL, NULL, 0),
                     -EINVAL);
    mux_free(mux);
}

/* Registration refuses the method that would overflow the Allow value. */
static void allow_budget(void **state)
{
    (void)state;
    struct mux *mux = mux_new();
    char pat[32];
    int rc = 0, i;

    for (i = 0; i < 100 && rc == 0; i++) {
        snprintf(pat, sizeof pat, "METHOD%02d /x", i);
        rc = mux_handle(mux, pat, NULL, NULL, NULL, err, sizeof err);
    }
    assert_int_equal(rc, -EINVAL);
    assert_non_null(strstr(err, "too many methods"));
    /* Each costs 10 bytes ("METHODnn, "): 25 fit in 255 bytes. */
    assert_int_equal(mux_count(mux), 25);
    mux_free(mux);
}

/* ---- owners, clones, listing --------------------------------------------- */

static const int owner_a, owner_b, owner_c;

static void remove_owner_and_clone_independence(void **state)
{
    (void)state;
    static const char *const of_a[] = {"/a", "/a/{x}", "GET /shared/", NULL};
    static const char *const of_b[] = {"/b", "GET /c", NULL};
    static char fresh[] = "fresh handler";
    struct mux *m = mux_of(of_a, &owner_a);
    struct mux *c;
    struct res r;

    for (size_t i = 0; of_b[i]; i++)
        assert_int_equal(mux_handle(m, of_b[i], (void *)of_b[i], NULL, &owner_b,
                                    err, sizeof err),
                         0);
    c = mux_clone(m);
    assert_non_null(c);
    assert_int_equal(mux_count(c), 5);

    /* Remove A's routes from the clone; the original keeps them. */
    assert_int_equal(mux_remove_owner(c, &owner_a), 3);
    assert_int_equal(mux_remove_owner(c, &owner_a), 0);
    assert_int_equal(mux_remove_owner(c, &owner_c), 0);
    assert_int_equal(mux_count(c), 2);
    assert_int_equal(run(c, "GET", NULL, "/a", &r), 404);
    assert_int_equal(run(c, "GET", NULL, "/b", &r), 200);
    assert_ptr_equal(r.m.owner, &owner_b);
    assert_int_equal(run(m, "GET", NULL, "/a", &r), 200);
    assert_ptr_equal(r.m.owner, &owner_a);

    /* A replacement for A on the clone: conflicts only with what is left. */
    assert_int_equal(
        mux_handle(c, "/a/{y}", fresh, NULL, &owner_c, err, sizeof err), 0);
    assert_int_equal(
        mux_handle(m, "/a/{y}", fresh, NULL, &owner_c, err, sizeof err),
        -EEXIST);

    /* The clone survives the original. */
    mux_free(m);
    assert_int_equal(run(c, "GET", NULL, "/a/1", &r), 200);
    assert_string_equal(r.m.pattern, "/a/{y}");
    assert_ptr_equal(r.m.handler, fresh);
    assert_ptr_equal(r.m.owner, &owner_c);
    check_value(&r, "y", "1", 1);
    assert_int_equal(run(c, "GET", NULL, "/c", &r), 200);
    assert_int_equal(run(c, "GET", NULL, "/shared/x", &r), 404);
    mux_free(c);
}

static void remove_owner_null_and_everything(void **state)
{
    (void)state;
    static const char *const pats[] = {"/", "/x/", "GET /x/{y}", NULL};
    struct mux *m = mux_of(pats, NULL);
    struct res r;

    assert_int_equal(mux_remove_owner(m, NULL), 3);
    assert_int_equal(mux_count(m), 0);
    assert_int_equal(run(m, "GET", NULL, "/x/1", &r), 404);
    /* Empty again: everything registers anew. */
    mux_free(m);
    m = mux_of(pats, &owner_a);
    assert_int_equal(run(m, "GET", NULL, "/x/1", &r), 200);
    assert_string_equal(r.m.pattern, "GET /x/{y}");
    mux_free(m);
}

static void list_routes_in_order(void **state)
{
    (void)state;
    static const char *const pats[] = {"GET /z", "/a", "example.com/", NULL};
    struct mux *m = mux_of(pats, &owner_b);
    struct mux_route_info info;
    struct mux *c;

    assert_int_equal(mux_count(m), 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(mux_route(m, i, &info), 0);
        assert_string_equal(info.pattern, pats[i]);
        assert_ptr_equal(info.handler, pats[i]);
        assert_ptr_equal(info.owner, &owner_b);
    }
    assert_int_equal(mux_route(m, 3, &info), -ENOENT);
    c = mux_clone(m);
    assert_int_equal(mux_route(c, 2, &info), 0);
    assert_string_equal(info.pattern, "example.com/");
    assert_ptr_not_equal(info.pattern, pats[2]); /* a copy */
    assert_int_equal(mux_count(NULL), 0);
    mux_free(m);
    mux_free(c);
}

/* Many routes: registration, the sorted edges and matching hold up. */
static void many_routes(void **state)
{
    (void)state;
    struct mux *m = mux_new();
    char pat[64], path[64];
    struct res r;

    for (int i = 0; i < 500; i++) {
        int v = i % 50 + i / 50 * 1000;

        snprintf(pat, sizeof pat, "GET /api/v%d/items/{id}", v);
        assert_int_equal(mux_handle(m, pat, NULL, NULL, NULL, err, sizeof err),
                         0);
    }
    for (int i = 0; i < 500; i += 7) {
        int v = i % 50 + i / 50 * 1000;

        snprintf(path, sizeof path, "/api/v%d/items/%d", v, i);
        assert_int_equal(run(m, "GET", NULL, path, &r), 200);
        snprintf(pat, sizeof pat, "GET /api/v%d/items/{id}", v);
        assert_string_equal(r.m.pattern, pat);
    }
    assert_int_equal(run(m, "GET", NULL, "/api/v51/items/1", &r), 404);
    assert_int_equal(run(m, "POST", NULL, "/api/v1/items/1", &r), 405);
    assert_string_equal(r.m.allow, "GET, HEAD");
    mux_free(m);
}

/* ---- model check -------------------------------------------------------- */

/* A black-box model of Go's rules over a finite universe of requests:
 * methods GET, HEAD, POST; hosts h1, h2; clean paths of up to 4 segments
 * from {a, b, zz}, with or without a trailing slash. A pattern's request set
 * is a bitset over the universe; "more specific" is "strict subset". Random
 * muxes are built through mux_handle, and every request must get what
 * the model derives from the accepted patterns: the most specific match (a
 * host pattern first), else the subtree redirect, else 405 with the exact
 * Allow, else 404. It also catches an accepted conflict: two matches with
 * neither a subset of the other. */

#define U_PATHS 241
#define U_REQS (U_PATHS * 3 * 2)
#define U_WORDS ((U_REQS + 63) / 64)
#define M_ROUTES 12

static const char *const u_methods[] = {"GET", "HEAD", "POST"};
static const char *const u_hosts[] = {"h1", "h2"};
static char u_paths[U_PATHS][16];

struct mpat {
    char text[64];
    const char *method; /* "" = any */
    const char *host;   /* "" = any */
    char kind[4];       /* per segment: 'l' literal, 'w' {x}, 'm' multi, '$' */
    const char *lit[4];
    int nsegs;
    uint64_t set[U_WORDS];
};

static uint64_t m_rand = 0x9e3779b97f4a7c15ull;

static unsigned m_rnd(unsigned n)
{
    m_rand ^= m_rand << 13;
    m_rand ^= m_rand >> 7;
    m_rand ^= m_rand << 17;
    return (unsigned)(m_rand % n);
}

static void u_init(void)
{
    static const char *const segs[] = {"a", "b", "zz"};
    int n = 0;

    strcpy(u_paths[n++], "/");
    for (int depth = 1; depth <= 4; depth++) {
        int total = 1;

        for (int i = 0; i < depth; i++)
            total *= 3;
        for (int k = 0; k < total; k++) {
            char *p = u_paths[n];

            p[0] = '\0';
            for (int i = 0, x = k; i < depth; i++, x /= 3)
                strcat(strcat(p, "/"), segs[x % 3]);
            strcat(strcpy(u_paths[n + 1], p), "/");
            n += 2;
        }
    }
    assert_int_equal(n, U_PATHS);
}

static void m_gen(struct mpat *p)
{
    static const char *const methods[] = {"", "GET", "HEAD", "POST"};
    size_t n;

    memset(p, 0, sizeof *p);
    p->method = methods[m_rnd(4)];
    p->host = m_rnd(4) ? "" : "h1";
    n = (size_t)snprintf(p->text, sizeof p->text, "%s%s%s", p->method,
                         *p->method ? " " : "", p->host);
    p->nsegs = 1 + (int)m_rnd(3);
    for (int i = 0; i < p->nsegs; i++) {
        unsigned k = m_rnd(10);
        bool last = i == p->nsegs - 1;

        if (k < 5) {
            p->kind[i] = 'l';
            p->lit[i] = k < 3 ? "a" : "b";
            n += (size_t)snprintf(p->text + n, sizeof p->text - n, "/%s",
                                  p->lit[i]);
        } else if (k < 8 || !last) {
            p->kind[i] = 'w';
            n += (size_t)snprintf(p->text + n, sizeof p->text - n, "/{w%d}", i);
        } else if (k == 8) {
            p->kind[i] = 'm';
            n += (size_t)snprintf(p->text + n, sizeof p->text - n, "%s",
                                  m_rnd(2) ? "/" : "/{rest...}");
        } else {
            p->kind[i] = '$';
            n += (size_t)snprintf(p->text + n, sizeof p->text - n, "/{$}");
        }
    }
}

/* Does p's path part match the clean path? */
static bool m_path(const struct mpat *p, const char *path)
{
    const char *s = path + 1;

    for (int i = 0; i < p->nsegs; i++) {
        const char *slash = strchr(s, '/');
        size_t len = slash ? (size_t)(slash - s) : strlen(s);
        bool trailing = !slash && len == 0 && s[-1] == '/';

        if (!s[0] && !trailing && p->kind[i] != 'm')
            return false; /* the path ended */
        switch (p->kind[i]) {
        case 'm':
            return s[-1] == '/';
        case '$':
            return trailing;
        case 'w':
            if (trailing)
                return false;
            break;
        default:
            if (strlen(p->lit[i]) != len || strncmp(p->lit[i], s, len))
                return false;
        }
        if (!slash)
            return i == p->nsegs - 1;
        s = slash + 1;
    }
    return false; /* path longer than the pattern */
}

static bool m_matches(const struct mpat *p, const char *method,
                      const char *host, const char *path)
{
    if (*p->host && strcmp(p->host, host))
        return false;
    if (*p->method && strcmp(p->method, method) &&
        !(!strcmp(p->method, "GET") && !strcmp(method, "HEAD")))
        return false;
    return m_path(p, path);
}

static void m_set(struct mpat *p)
{
    for (int i = 0; i < U_REQS; i++) {
        const char *path = u_paths[i / 6];

        if (m_matches(p, u_methods[i % 3], u_hosts[i / 3 % 2], path))
            p->set[i / 64] |= UINT64_C(1) << (i % 64);
    }
}

static bool m_subset(const struct mpat *a, const struct mpat *b)
{
    for (int i = 0; i < U_WORDS; i++)
        if (a->set[i] & ~b->set[i])
            return false;
    return true;
}

/* A refusal must be right: some registered pattern with the same host
 * shares requests with p and neither is a strict subset of the other. */
static void m_check_refusal(const struct mpat *pats, int n,
                            const struct mpat *p)
{
    for (int i = 0; i < n; i++) {
        const struct mpat *q = &pats[i];
        bool meet = false;

        for (int k = 0; k < U_WORDS; k++)
            meet |= (p->set[k] & q->set[k]) != 0;
        if (!strcmp(p->host, q->host) && meet &&
            (m_subset(p, q) == m_subset(q, p)))
            return;
    }
    fail_msg("refused \"%s\" without a conflict: %s", p->text, err);
}

/* The most specific of pats matching the request: host patterns first. */
static const struct mpat *m_best(const struct mpat *pats, int n,
                                 const char *method, const char *host,
                                 const char *path)
{
    for (int hosted = 1; hosted >= 0; hosted--) {
        const struct mpat *best = NULL;

        for (int i = 0; i < n; i++) {
            const struct mpat *p = &pats[i];

            if ((*p->host != 0) != hosted || !m_matches(p, method, host, path))
                continue;
            if (!best || m_subset(p, best))
                best = p;
            else if (!m_subset(best, p))
                fail_msg("accepted a conflict: \"%s\" and \"%s\"", p->text,
                         best->text);
        }
        if (best)
            return best;
    }
    return NULL;
}

/* Go's exactMatch. */
static bool m_exact(const struct mpat *p, const char *path)
{
    int slashes = 0;

    if (p->kind[p->nsegs - 1] != 'm')
        return true;
    if (path[strlen(path) - 1] != '/')
        return false;
    for (const char *s = path; *s; s++)
        slashes += *s == '/';
    return p->nsegs == slashes;
}

static void m_allow(const struct mpat *pats, int n, const char *host,
                    const char *path, const char *slashed, char *out)
{
    bool has[3] = {false, false, false};

    for (int i = 0; i < n; i++) {
        const struct mpat *p = &pats[i];

        for (int k = 0; k < 3; k++) {
            if (!strcmp(p->method, u_methods[k]) &&
                (m_matches(p, p->method, host, path) ||
                 (slashed && m_matches(p, p->method, host, slashed))))
                has[k] = true;
        }
    }
    has[1] |= has[0];
    out[0] = '\0';
    for (int k = 0; k < 3; k++) {
        if (has[k])
            strcat(strcat(out, *out ? ", " : ""), u_methods[k]);
    }
}

/* The model's answer: status and pattern, Location or Allow. */
static int m_expect(const struct mpat *pats, int n, const char *method,
                    const char *host, const char *path, char *want)
{
    const struct mpat *best = m_best(pats, n, method, host, path);
    char slashed[20];
    bool slash = path[strlen(path) - 1] == '/';

    if (best && m_exact(best, path))
        return strcpy(want, best->text), 200;
    strcat(strcpy(slashed, path), "/");
    if (!slash) {
        const struct mpat *b2 = m_best(pats, n, method, host, slashed);

        if (b2 && m_exact(b2, slashed))
            return strcpy(want, slashed), 301;
    }
    if (best)
        return strcpy(want, best->text), 200;
    m_allow(pats, n, host, path, slash ? NULL : slashed, want);
    return *want ? 405 : 404;
}

static void m_check_mux(const struct mux *mux, const struct mpat *pats, int n)
{
    for (int i = 0; i < U_REQS; i++) {
        const char *method = u_methods[i % 3], *host = u_hosts[i / 3 % 2];
        const char *path = u_paths[i / 6];
        char want[64];
        int status = m_expect(pats, n, method, host, path, want);
        struct res r;
        const char *got;

        run(mux, method, host, path, &r);
        got = outcome(&r);
        if (r.status != status || (got && strcmp(got, want)))
            fail_msg("%s %s%s: got %d \"%s\", model %d \"%s\"", method, host,
                     path, r.status, got ? got : "", status, want);
    }
}

static void model_check_random_muxes(void **state)
{
    (void)state;
    static struct mpat pats[M_ROUTES];
    long accepted = 0, refused = 0;

    u_init();
    for (int round = 0; round < 300; round++) {
        struct mux *mux = mux_new();
        int n = 0;

        for (int i = 0; i < M_ROUTES; i++) {
            int rc;

            m_gen(&pats[n]);
            m_set(&pats[n]);
            rc = mux_handle(mux, pats[n].text, pats[n].text, NULL, NULL, err,
                            sizeof err);
            if (rc == 0) {
                n++;
                accepted++;
            } else {
                assert_int_equal(rc, -EEXIST);
                m_check_refusal(pats, n, &pats[n]);
                refused++;
            }
        }
        m_check_mux(mux, pats, n);
        mux_free(mux);
    }
    assert_true(accepted > 1000 && refused > 300);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(precedence_go_doc_table),
        cmocka_unit_test(precedence_host_ipv6_and_port),
        cmocka_unit_test(head_matches_get),
        cmocka_unit_test(wildcard_values),
        cmocka_unit_test(wildcard_escaped_segments),
        cmocka_unit_test(end_anchor_and_subtree),
        cmocka_unit_test(not_found_and_method_not_allowed),
        cmocka_unit_test(empty_and_null_mux),
        cmocka_unit_test(subtree_redirect),
        cmocka_unit_test(subtree_redirect_only_without_exact_match),
        cmocka_unit_test(clean_path_redirect),
        cmocka_unit_test(small_buffer_is_414),
        cmocka_unit_test(conflicts_refused_naming_both),
        cmocka_unit_test(no_conflict_when_one_is_more_specific),
        cmocka_unit_test(invalid_patterns),
        cmocka_unit_test(pattern_edges_and_limits),
        cmocka_unit_test(allow_budget),
        cmocka_unit_test(remove_owner_and_clone_independence),
        cmocka_unit_test(remove_owner_null_and_everything),
        cmocka_unit_test(list_routes_in_order),
        cmocka_unit_test(many_routes),
        cmocka_unit_test(model_check_random_muxes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
