/* fuzz_http_resp.c — libFuzzer target for the response-head parser the
 * HTTP client reads with (http_parse_response, server/http/parse.c).
 *
 * Besides "no crash, no UB, no read past the end" (the input is copied to
 * an exact-size heap block), it checks what the client relies on:
 *   - prefix stability: every prefix of a complete head says "need more";
 *     every prefix of a refused one says "need more" or the same status;
 *   - fed piece by piece with the resume offset, the answer is the same;
 *   - every slice lies inside the head, the status is 100..599, and the
 *     framing is never both chunked and a Content-Length.
 *
 *   build-asan/tests/fuzz/fuzz_http_resp corpus-dir tests/fuzz/corpus/http_resp
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/parse.h"

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_http_resp: %s:%d: check failed: %s\n",       \
                    __FILE__, __LINE__, #cond);                                \
            abort();                                                           \
        }                                                                      \
    } while (0)

static int known_status(int r)
{
    return r == -400 || r == -431 || r == -501 || r == -505;
}

static void check_slice(struct http_str s, const char *buf, size_t n)
{
    CHECK(s.ptr != NULL);
    CHECK(s.ptr >= buf && s.ptr + s.len <= buf + n);
}

static void check_head(const struct http_resp_head *h, const char *buf,
                       size_t n)
{
    CHECK(h->status >= 100 && h->status <= 599);
    CHECK(!(h->chunked && h->content_length >= 0));
    CHECK(h->nheaders <= HTTP_MAX_HEADERS);
    check_slice(h->reason, buf, n);
    for (size_t i = 0; i < h->nheaders; i++) {
        check_slice(h->headers[i].name, buf, n);
        check_slice(h->headers[i].value, buf, n);
        CHECK(h->headers[i].name.len > 0);
    }
}

/* One parse of the first n bytes, from an exact-size copy. */
static int parse_prefix(const uint8_t *data, size_t n, size_t max_head,
                        struct http_resp_head *h, size_t *scanned)
{
    char *copy = malloc(n ? n : 1);
    memcpy(copy, data, n);
    int r = http_parse_response(copy, n, max_head, h, scanned);
    if (r > 0)
        check_head(h, copy, (size_t)r);
    free(copy);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct http_resp_head h;
    size_t max_head = size > 64 ? (size_t)(data[0] % 4 ? 0 : 64 + data[1]) : 0;
    int whole = parse_prefix(data, size, max_head, &h, NULL);

    CHECK(whole >= 0 || known_status(whole));
    CHECK(whole <= (int)size);
    if (whole > 0)
        CHECK(data[whole - 1] == '\n');

    /* Byte by byte with the resume offset: 0 until the answer, then it. */
    size_t scanned = 0, stop = whole > 0 ? (size_t)whole : size;
    int r = 0;
    for (size_t n = 1; n <= stop && r == 0; n++) {
        r = parse_prefix(data, n, max_head, &h, &scanned);
        if (whole > 0)
            CHECK(r == 0 || (n == stop && r == whole));
        else
            CHECK(r == 0 || r == whole);
    }
    if (whole != 0)
        CHECK(r == whole);
    return 0;
}
