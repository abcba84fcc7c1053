/* fuzz_http_parse.c — libFuzzer target for server/http/parse.c.
 *
 * Each input is parsed as a request head and decoded as a chunked body, and
 * besides "no crash, no UB, no read past the end" (ASan, UBSan; prefixes are
 * copied to exact-size heap blocks so a read one byte too far is caught),
 * the properties the server relies on are checked:
 *   - a head is prefix-stable: every prefix of a complete head says "need
 *     more", every prefix of a bad one says "need more" or the same status;
 *   - feeding piece by piece with the resume offset gives the same answer
 *     as parsing at once;
 *   - every slice lies inside the head, every field is well-formed, the
 *     framing is never both chunked and Content-Length;
 *   - chunked decoding gives the same body and status for any split of the
 *     input, any output size, and in place.
 * The split points and limits are drawn from a hash of the input, so the
 * corpus stays plain HTTP.
 *
 *   build-asan/tests/fuzz/fuzz_http_parse corpus-dir
 * tests/fuzz/corpus/http_parse
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/parse.h"

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_http_parse: %s:%d: check failed: %s\n",      \
                    __FILE__, __LINE__, #cond);                                \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* A small deterministic generator seeded from the input. */
static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static uint64_t seed_of(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603u;

    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211u;
    return h | 1;
}

static int known_status(int r)
{
    return r == -400 || r == -414 || r == -431 || r == -501 || r == -505;
}

/* ---- heads -------------------------------------------------------------- */

static int is_tchar(unsigned char c)
{
    return c > 0x20 && c < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", c);
}

static void check_slice(struct http_str s, const char *buf, size_t n)
{
    if (s.ptr == NULL) {
        CHECK(s.len == 0);
        return;
    }
    if (s.len == 1 && s.ptr[0] == '/' && (s.ptr < buf || s.ptr >= buf + n))
        return; /* absolute-form without a path: a static "/" */
    CHECK(s.ptr >= buf && s.ptr + s.len <= buf + n);
}

static void check_head(const struct http_req_head *h, const char *buf, int r)
{
    size_t n = (size_t)r;

    CHECK(h->method.len > 0 && h->method.len <= HTTP_MAX_METHOD);
    check_slice(h->method, buf, n);
    check_slice(h->target, buf, n);
    CHECK(h->target.len > 0);
    check_slice(h->path, buf, n);
    check_slice(h->query, buf, n);
    check_slice(h->host, buf, n);
    CHECK(h->version_major == 1);
    CHECK(h->version_minor >= 0 && h->version_minor <= 9);
    CHECK(h->content_length >= -1);
    CHECK(!(h->chunked && h->content_length != -1));
    CHECK(!(h->chunked && h->version_minor == 0));
    CHECK(h->version_minor == 0 || h->host.ptr != NULL);
    CHECK(h->nheaders <= HTTP_MAX_HEADERS);
    for (size_t i = 0; i < h->nheaders; i++) {
        const struct gort_http_header *f = &h->headers[i];
        check_slice(f->name, buf, n);
        check_slice(f->value, buf, n);
        CHECK(f->name.len > 0);
        for (size_t j = 0; j < f->name.len; j++)
            CHECK(is_tchar((unsigned char)f->name.ptr[j]));
        for (size_t j = 0; j < f->value.len; j++) {
            unsigned char c = (unsigned char)f->value.ptr[j];
            CHECK(c == '\t' || (c >= 0x20 && c != 0x7f));
        }
        if (f->value.len) {
            CHECK(f->value.ptr[0] != ' ' && f->value.ptr[0] != '\t');
            CHECK(f->value.ptr[f->value.len - 1] != ' ' &&
                  f->value.ptr[f->value.len - 1] != '\t');
        }
    }
    CHECK(http_head_get(h, "host", NULL) != NULL || h->version_minor == 0);
}

static void check_same(const struct http_req_head *a,
                       const struct http_req_head *b)
{
    CHECK(a->method.ptr == b->method.ptr && a->method.len == b->method.len);
    CHECK(a->target.ptr == b->target.ptr && a->target.len == b->target.len);
    CHECK(a->path.ptr == b->path.ptr && a->path.len == b->path.len);
    CHECK(a->query.ptr == b->query.ptr && a->query.len == b->query.len);
    CHECK(a->host.ptr == b->host.ptr && a->host.len == b->host.len);
    CHECK(a->version_minor == b->version_minor);
    CHECK(a->content_length == b->content_length);
    CHECK(a->chunked == b->chunked && a->keep_alive == b->keep_alive);
    CHECK(a->expect_continue == b->expect_continue);
    CHECK(a->expect_unsupported == b->expect_unsupported);
    CHECK(a->nheaders == b->nheaders);
    for (size_t i = 0; i < a->nheaders; i++) {
        CHECK(a->headers[i].name.ptr == b->headers[i].name.ptr);
        CHECK(a->headers[i].value.len == b->headers[i].value.len);
    }
}

/* A prefix, copied to an exact-size block: nothing past k is readable. */
static int parse_prefix(const char *buf, size_t k,
                        const struct httpd_limits *lim)
{
    struct http_req_head h;
    char *copy = malloc(k ? k : 1);
    int r;

    CHECK(copy != NULL);
    memcpy(copy, buf, k);
    r = http_parse_request(copy, k, lim, &h);
    if (r > 0)
        check_head(&h, copy, r);
    free(copy);
    return r;
}

static void fuzz_head(const char *buf, size_t n, const struct httpd_limits *lim,
                      uint64_t *rnd, int *head_len, int *chunked)
{
    static struct http_req_head whole, part;
    int want = http_parse_request(buf, n, lim, &whole);
    size_t scanned = 0, k;

    CHECK(want >= 0 || known_status(want));
    CHECK(want <= 0 || (size_t)want <= n);
    if (want > 0) {
        check_head(&whole, buf, want);
        CHECK(parse_prefix(buf, (size_t)want, lim) == want);
        CHECK(parse_prefix(buf, (size_t)want - 1, lim) == 0);
    }

    /* Prefix stability, on a sample of prefixes. */
    for (int i = 0; i < 8 && n > 0; i++) {
        int r;
        k = (size_t)(next_rand(rnd) % n);
        r = parse_prefix(buf, k, lim);
        if (want > 0 && k < (size_t)want)
            CHECK(r == 0);
        else if (want > 0)
            CHECK(r == want);
        else
            CHECK(r == 0 || r == want);
    }

    /* Piece by piece with the resume offset. */
    for (k = 0;;) {
        int r = http_parse_request_resume(buf, k, lim, &part, &scanned);
        if (r != 0) {
            CHECK(r == want);
            if (r > 0)
                check_same(&whole, &part);
            break;
        }
        CHECK(scanned <= k);
        if (k == n) {
            CHECK(want == 0);
            break;
        }
        k += 1 + (size_t)(next_rand(rnd) % 64);
        if (k > n)
            k = n;
    }
    *head_len = want;
    *chunked = want > 0 && whole.chunked;
}

/* ---- chunked bodies ----------------------------------------------------- */

struct decoded {
    ssize_t status; /* total bytes, or the error */
    size_t consumed;
    int done;
};

static void chunked_setup(struct http_chunked *st, uint64_t knobs)
{
    http_chunked_init(st);
    if (knobs & 1)
        st->max_line = 1 + (size_t)((knobs >> 8) % 64);
    if (knobs & 2)
        st->max_trailer = 1 + (size_t)((knobs >> 16) % 256);
    if (knobs & 4)
        st->max_body = 1 + ((knobs >> 24) % 4096);
}

/* Decodes buf[0..n) in pieces of random size into out, with random room. */
static struct decoded decode_pieces(const char *buf, size_t n, char *out,
                                    uint64_t knobs, uint64_t *rnd, int pieces)
{
    struct http_chunked st;
    struct decoded d = {0, 0, 0};
    size_t off = 0, w = 0;

    chunked_setup(&st, knobs);
    while (!http_chunked_done(&st)) {
        size_t avail = n - off, room = n + 1 - w, used = 0;
        ssize_t r;

        if (pieces && avail > 1)
            avail = 1 + (size_t)(next_rand(rnd) % avail);
        if (pieces && room > 1) {
            size_t pick = 1 + (size_t)(next_rand(rnd) % 16);
            room = pick < room ? pick : room;
        }
        r = http_chunked_decode(&st, buf + off, avail, &used, out + w, room);
        CHECK(used <= avail);
        if (r < 0) {
            CHECK(r == -400 || r == -413);
            d.status = r;
            d.consumed = off + used;
            return d;
        }
        CHECK((size_t)r <= room && (size_t)r <= used);
        CHECK(st.total == w + (size_t)r);
        w += (size_t)r;
        off += used;
        if (used == 0 && !http_chunked_done(&st)) {
            CHECK(avail == 0); /* room >= 1: only missing input stops it */
            break;
        }
    }
    d.status = (ssize_t)w;
    d.consumed = off;
    d.done = http_chunked_done(&st);
    return d;
}

static void fuzz_chunked(const char *buf, size_t n, uint64_t *rnd)
{
    uint64_t knobs = next_rand(rnd);
    char *a = malloc(n + 1), *b = malloc(n + 1), *c = malloc(n + 1);
    struct decoded da, db, dc;
    struct http_chunked st;

    CHECK(a && b && c);
    da = decode_pieces(buf, n, a, knobs, rnd, 0);
    db = decode_pieces(buf, n, b, knobs, rnd, 1);
    CHECK(da.status == db.status && da.done == db.done);
    CHECK(da.consumed == db.consumed); /* same end, or same bad byte */
    if (da.status >= 0) {
        CHECK(memcmp(a, b, (size_t)da.status) == 0);
        CHECK((size_t)da.status <= da.consumed);
    }

    /* In place: the output never overtakes the input. */
    memcpy(c, buf, n);
    chunked_setup(&st, knobs);
    {
        size_t used;
        ssize_t r = http_chunked_decode(&st, c, n, &used, c, n);
        dc.status = r;
        dc.done = http_chunked_done(&st);
        CHECK(r == da.status);
        if (r >= 0) {
            CHECK(dc.done == da.done);
            CHECK(memcmp(a, c, (size_t)r) == 0);
        }
    }
    free(a);
    free(b);
    free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    uint64_t rnd = seed_of(data, size);
    struct httpd_limits small = {
        16 + (size_t)(next_rand(&rnd) % 512),
        1 + (size_t)(next_rand(&rnd) % 128),
    };
    int head_len, chunked;

    fuzz_head(buf, size, NULL, &rnd, &head_len, &chunked);
    if (head_len > 0 && chunked)
        fuzz_chunked(buf + head_len, size - (size_t)head_len, &rnd);
    fuzz_head(buf, size, &small, &rnd, &head_len, &chunked);
    fuzz_chunked(buf, size, &rnd);
    return 0;
}
