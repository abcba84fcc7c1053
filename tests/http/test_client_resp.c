/* test_client_resp.c — the response-head parser the HTTP client reads with
 * (http_parse_response, server/http/parse.c): status lines, framing
 * (Content-Length, chunked winning over it, keep-alive), every malformed
 * shape with its status, limits, and feeding byte by byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/parse.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int parse(const char *s, struct http_resp_head *h)
{
    return http_parse_response(s, strlen(s), 0, h, NULL);
}

static void good_heads(void **state)
{
    (void)state;
    static const struct {
        const char *head;
        int minor, status;
        const char *reason;
        int64_t cl;
        int chunked, keep_alive;
        size_t nheaders;
    } cases[] = {
        {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 1, 200, "OK", 5, 0, 1,
         1},
        {"HTTP/1.1 404 Not Found\r\n\r\n", 1, 404, "Not Found", -1, 0, 1, 0},
        {"HTTP/1.1 204\r\n\r\n", 1, 204, "", -1, 0, 1, 0},
        {"HTTP/1.1 204 \r\n\r\n", 1, 204, "", -1, 0, 1, 0},
        {"HTTP/1.1 200 OK\nContent-Length: 0\n\n", 1, 200, "OK", 0, 0, 1, 1},
        {"HTTP/1.0 200 OK\r\n\r\n", 0, 200, "OK", -1, 0, 0, 0},
        {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", 0, 200, "OK", -1,
         0, 1, 1},
        {"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", 1, 200, "OK", -1, 0, 0,
         1},
        {"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", 1, 200,
         "OK", -1, 0, 0, 1},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 1, 200, "OK",
         -1, 1, 1, 1},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n", 1, 200, "OK",
         -1, 1, 1, 1},
        /* §6.3: chunked wins over Content-Length; the connection is not
         * trusted for another response. */
        {"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: "
         "chunked\r\n\r\n",
         1, 200, "OK", -1, 1, 0, 2},
        {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", 1,
         200, "OK", 3, 0, 1, 2},
        {"HTTP/1.1 599 x\r\n\r\n", 1, 599, "x", -1, 0, 1, 0},
        {"HTTP/1.1 100 Continue\r\n\r\n", 1, 100, "Continue", -1, 0, 1, 0},
        {"HTTP/1.1 200 Very \tFine \x80\r\n\r\n", 1, 200, "Very \tFine \x80",
         -1, 0, 1, 0},
        {"HTTP/1.2 200 OK\r\n\r\n", 2, 200, "OK", -1, 0, 1, 0},
        /* Fields that mean something in a request mean nothing here. */
        {"HTTP/1.1 200 OK\r\nHost: a b\r\nExpect: x\r\n\r\n", 1, 200, "OK", -1,
         0, 1, 2},
    };

    for (size_t i = 0; i < COUNT(cases); i++) {
        struct http_resp_head h;
        const char *s = cases[i].head;
        int r = parse(s, &h);
        if (r != (int)strlen(s))
            fail_msg("case %zu: got %d, want %zu", i, r, strlen(s));
        assert_int_equal(h.version_minor, cases[i].minor);
        assert_int_equal(h.status, cases[i].status);
        assert_int_equal(h.reason.len, strlen(cases[i].reason));
        assert_memory_equal(h.reason.ptr, cases[i].reason, h.reason.len);
        assert_int_equal(h.content_length, cases[i].cl);
        assert_int_equal(h.chunked, cases[i].chunked);
        if (h.keep_alive != (unsigned)cases[i].keep_alive)
            fail_msg("case %zu: keep_alive %u", i, h.keep_alive);
        assert_int_equal(h.nheaders, cases[i].nheaders);
    }
}

static void fields_and_body_offset(void **state)
{
    (void)state;
    const char *s = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                    "X-Empty:\r\nX-Pad:  v  \r\nContent-Length: 5\r\n\r\nhello";
    struct http_resp_head h;
    int r = parse(s, &h);
    assert_int_equal(r, (int)(strstr(s, "hello") - s));
    assert_int_equal(h.nheaders, 4);
    assert_int_equal(h.headers[0].name.len, 12);
    assert_memory_equal(h.headers[0].name.ptr, "Content-Type", 12);
    assert_int_equal(h.headers[1].value.len, 0);
    assert_int_equal(h.headers[2].value.len, 1);
    assert_memory_equal(h.headers[2].value.ptr, "v", 1);
    /* White space before a colon is dropped from a response's field, as
     * a proxy must before passing it on (RFC 9112 §5.1; a request's is
     * a 400, test_http_parse). */
    s = "HTTP/1.1 200 OK\r\nX-F : a\r\nX-G\t:b\r\n\r\n";
    assert_true(parse(s, &h) > 0);
    assert_int_equal(h.nheaders, 2);
    assert_int_equal(h.headers[0].name.len, 3);
    assert_memory_equal(h.headers[0].name.ptr, "X-F", 3);
    assert_memory_equal(h.headers[0].value.ptr, "a", 1);
    assert_int_equal(h.headers[1].name.len, 3);
    assert_memory_equal(h.headers[1].value.ptr, "b", 1);
}

static void malformed_heads(void **state)
{
    (void)state;
    static const struct {
        const char *head;
        int status;
    } cases[] = {
        /* status line */
        {"HTTP/1.1 20 OK\r\n\r\n", -400},
        {"HTTP/1.1 2000 OK\r\n\r\n", -400},
        {"HTTP/1.1 099 x\r\n\r\n", -400},
        {"HTTP/1.1 600 x\r\n\r\n", -400},
        {"HTTP/1.1 2x0 OK\r\n\r\n", -400},
        {"HTTP/1.1  200 OK\r\n\r\n", -400},
        {"HTTP/1.1\t200 OK\r\n\r\n", -400},
        {"HTTP/1.1 200\tOK\r\n\r\n", -400},
        {"HTTP/1.1\r\n\r\n", -400},
        {"HTTP/1.1 \r\n\r\n", -400},
        {"HTTP/1.1 200 O\x01K\r\n\r\n", -400},
        {"HTTP/1.1 200 OK\rX\r\n\r\n", -400},
        {"http/1.1 200 OK\r\n\r\n", -400},
        {"HTTP/1 200 OK\r\n\r\n", -400},
        {"ICY 200 OK\r\n\r\n", -400},
        {"\r\nHTTP/1.1 200 OK\r\n\r\n", -400},
        {"HTTP/2.0 200 OK\r\n\r\n", -505},
        {"HTTP/0.9 200 OK\r\n\r\n", -505},
        /* fields */
        {"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n", -400},
        {"HTTP/1.1 200 OK\r\nA: 1\r\n continued\r\n\r\n", -400},
        {"HTTP/1.1 200 OK\r\nA\r\n\r\n", -400},
        {"HTTP/1.1 200 OK\r\n: v\r\n\r\n", -400},
        {"HTTP/1.1 200 OK\r\nA: x\x7fy\r\n\r\n", -400},
        {"HTTP/1.1 200 OK\r\nA: x\ry\r\n\r\n", -400},
        /* Content-Length */
        {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
         -400},
        {"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", -400},
        {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", -400},
        {"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", -400},
        {"HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", -400},
        {"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", -400},
        {"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
         -400},
        /* Transfer-Encoding */
        {"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", -400},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
         -400},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;x=1\r\n\r\n", -400},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", -400},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: ,chunked\r\n\r\n", -400},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", -501},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", -501},
    };

    for (size_t i = 0; i < COUNT(cases); i++) {
        struct http_resp_head h;
        int r = parse(cases[i].head, &h);
        if (r != cases[i].status)
            fail_msg("case %zu \"%s\": got %d, want %d", i, cases[i].head, r,
                     cases[i].status);
    }
}

/* Not-HTTP is known from the first bytes, without waiting for a head. */
static void early_refusal(void **state)
{
    (void)state;
    struct http_resp_head h;
    assert_int_equal(parse("SSH-2.0-OpenSSH", &h), -400);
    assert_int_equal(parse("HTTP/3", &h), -505);
    assert_int_equal(parse("HTTP/1.1x", &h), -400);
    assert_int_equal(parse("HTT", &h), 0);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nA: b", &h), 0);
    assert_int_equal(parse("", &h), 0);
}

static void limits(void **state)
{
    (void)state;
    struct http_resp_head h;
    char *big = malloc(8192);
    int n = snprintf(big, 8192, "HTTP/1.1 200 OK\r\nX: ");
    memset(big + n, 'a', 4000);
    strcpy(big + n + 4000, "\r\n\r\n");
    size_t len = strlen(big);
    assert_int_equal(http_parse_response(big, len, 1024, &h, NULL), -431);
    assert_int_equal(http_parse_response(big, 1024, 1024, &h, NULL), -431);
    assert_int_equal(http_parse_response(big, 1023, 1024, &h, NULL), 0);
    assert_int_equal(http_parse_response(big, len, 0, &h, NULL), (int)len);

    /* HTTP_MAX_HEADERS fields pass, one more is too many. */
    size_t cap = 64 + (HTTP_MAX_HEADERS + 1) * 8;
    char *many = malloc(cap);
    for (int extra = 0; extra <= 1; extra++) {
        size_t o = (size_t)snprintf(many, cap, "HTTP/1.1 200 OK\r\n");
        for (int i = 0; i < HTTP_MAX_HEADERS + extra; i++)
            o += (size_t)snprintf(many + o, cap - o, "A: %d\r\n", i % 10);
        o += (size_t)snprintf(many + o, cap - o, "\r\n");
        int r = http_parse_response(many, o, 0, &h, NULL);
        assert_int_equal(r, extra ? -431 : (int)o);
    }
    free(many);
    free(big);
}

/* Fed one byte at a time, with the resume offset: 0 until the last byte,
 * then the same head as in one piece. */
static void incremental(void **state)
{
    (void)state;
    const char *s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                    "Server: x\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    size_t end = (size_t)(strstr(s, "\r\n\r\n") - s) + 4, scanned = 0;
    struct http_resp_head h;
    for (size_t n = 1; n < end; n++)
        assert_int_equal(http_parse_response(s, n, 0, &h, &scanned), 0);
    assert_int_equal(http_parse_response(s, end, 0, &h, &scanned), (int)end);
    assert_int_equal(scanned, 0);
    assert_int_equal(h.chunked, 1);
    assert_int_equal(h.nheaders, 2);
}

/* A chunked response body through the shared decoder, after the head. */
static void chunked_body(void **state)
{
    (void)state;
    const char *s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nT: v\r\n\r\nNEXT";
    struct http_resp_head h;
    int r = parse(s, &h);
    assert_true(r > 0);
    struct http_chunked st;
    http_chunked_init(&st);
    char out[64];
    size_t used = 0;
    ssize_t got =
        http_chunked_decode(&st, s + r, strlen(s + r), &used, out, sizeof out);
    assert_int_equal(got, 11);
    assert_memory_equal(out, "hello world", 11);
    assert_true(http_chunked_done(&st));
    assert_string_equal(s + r + used, "NEXT");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_heads),
        cmocka_unit_test(fields_and_body_offset),
        cmocka_unit_test(malformed_heads),
        cmocka_unit_test(early_refusal),
        cmocka_unit_test(limits),
        cmocka_unit_test(incremental),
        cmocka_unit_test(chunked_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
