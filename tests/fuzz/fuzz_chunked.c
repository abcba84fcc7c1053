/* fuzz_chunked.c — libFuzzer target for the chunked-body decoder
 * (http_chunked_decode in server/http/parse.c), against a reference.
 *
 * The reference below is a plain recursive reading of RFC 9112 §7.1 as
 * gort chose to apply it (parse.c's header comment): framing lines end in
 * CRLF only; BWS after the size must lead to an extension; extensions are
 * checked for field-value bytes only; trailer fields are a token, ':' and
 * field-value bytes; a size that needs a 64th bit is 400; a size line over
 * max_line bytes (its CRLF included) or a trailer section over max_trailer
 * bytes is 400; a chunk that would take the body past max_body is 413 at
 * the end of its size line. It works on the whole input at once, with no
 * state machine, so it shares no structure with the decoder.
 *
 * Each input is decoded whole, then piece by piece (random input pieces
 * and output sizes drawn from a hash of the input), then in place; each
 * run must agree with the reference on the status (done, need more, 400,
 * 413), the body and, once done, how many bytes the body took. The limits
 * are drawn from the same hash: the defaults mostly, small ones sometimes.
 *
 *   build-asan/tests/fuzz/fuzz_chunked -dict=tests/fuzz/chunked.dict \
 *       /tmp/corpus tests/fuzz/corpus/chunked
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/parse.h"

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_chunked: %s:%d: check failed: %s\n",         \
                    __FILE__, __LINE__, #cond);                                \
            abort();                                                           \
        }                                                                      \
    } while (0)

enum { R_DONE = 0, R_MORE = 1, R_BAD = -400, R_LARGE = -413, TOOK = 2 };

struct limits {
    size_t max_line, max_trailer;
    uint64_t max_body;
};

struct ref {
    int status;
    size_t consumed; /* R_DONE: bytes of the chunked body */
    size_t body_len;
};

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

/* ---- the reference ------------------------------------------------------ */

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* RFC 9110 §5.6.2 tchar. */
static int tchar(uint8_t c)
{
    return c > 0x20 && c < 0x7f && strchr("\"(),/:;<=>?@[\\]{}", c) == NULL;
}

/* field-vchar, SP, HTAB, obs-text. */
static int vchar(uint8_t c)
{
    return c == ' ' || c == '\t' || (c > 0x20 && c != 0x7f);
}

/* A cursor over the input that also counts the bytes of the current line
 * (or trailer section) against a limit. */
struct cur {
    const uint8_t *p;
    size_t n, i;
    size_t count, limit;
};

/* The next byte into *out: TOOK, or R_MORE at the end, or R_BAD over the
 * limit. */
static int take(struct cur *c, uint8_t *out)
{
    if (c->i == c->n)
        return R_MORE;
    if (++c->count > c->limit)
        return R_BAD;
    *out = c->p[c->i++];
    return TOOK;
}

#define TAKE(c, b)                                                             \
    do {                                                                       \
        int t_ = take(c, &(b));                                                \
        if (t_ != TOOK)                                                        \
            return t_;                                                         \
    } while (0)

/* chunk-size [ BWS ";" ext-bytes ] CRLF into *size. */
static int size_line(struct cur *c, const struct limits *l, uint64_t *size)
{
    uint8_t b;

    c->count = 0;
    c->limit = l->max_line;
    *size = 0;
    TAKE(c, b);
    if (hexval(b) < 0)
        return R_BAD;
    while (hexval(b) >= 0) {
        if (*size > (UINT64_MAX >> 1) >> 4)
            return R_BAD; /* would not fit in 63 bits */
        *size = *size * 16 + (uint64_t)hexval(b);
        TAKE(c, b);
    }
    int ws = 0;
    while (b == ' ' || b == '\t') {
        ws = 1;
        TAKE(c, b);
    }
    if (ws && b != ';')
        return R_BAD;
    if (b == ';') {
        do
            TAKE(c, b);
        while (b != '\r' && vchar(b));
    }
    if (b != '\r')
        return R_BAD;
    TAKE(c, b);
    return b == '\n' ? 0 : R_BAD;
}

static int trailers(struct cur *c, const struct limits *l)
{
    uint8_t b;

    c->count = 0;
    c->limit = l->max_trailer;
    for (;;) {
        TAKE(c, b);
        if (b == '\r') {
            TAKE(c, b);
            return b == '\n' ? R_DONE : R_BAD;
        }
        if (!tchar(b))
            return R_BAD;
        while (b != ':') {
            TAKE(c, b);
            if (b != ':' && !tchar(b))
                return R_BAD;
        }
        do
            TAKE(c, b);
        while (b != '\r' && vchar(b));
        if (b != '\r')
            return R_BAD;
        TAKE(c, b);
        if (b != '\n')
            return R_BAD;
    }
}

static int ref_body(struct cur *c, const struct limits *l, uint8_t *body,
                    size_t *blen)
{
    uint64_t total = 0;

    for (;;) {
        uint64_t size;
        int r = size_line(c, l, &size);
        if (r != 0)
            return r;
        if (size == 0)
            return trailers(c, l);
        if (l->max_body && total + size > l->max_body)
            return R_LARGE;
        size_t avail = c->n - c->i;
        size_t take_n = size < avail ? (size_t)size : avail;
        memcpy(body + *blen, c->p + c->i, take_n);
        *blen += take_n;
        c->i += take_n;
        total += take_n;
        if (take_n < size)
            return R_MORE;
        uint8_t b;
        c->count = 0;
        c->limit = SIZE_MAX;
        TAKE(c, b);
        if (b != '\r')
            return R_BAD;
        TAKE(c, b);
        if (b != '\n')
            return R_BAD;
    }
}

static struct ref reference(const uint8_t *p, size_t n, const struct limits *l,
                            uint8_t *body)
{
    struct cur c = {.p = p, .n = n};
    struct ref r = {0};

    r.status = ref_body(&c, l, body, &r.body_len);
    r.consumed = c.i;
    return r;
}

/* ---- the decoder under test --------------------------------------------- */

static void setup(struct http_chunked *st, const struct limits *l)
{
    http_chunked_init(st);
    st->max_line = l->max_line;
    st->max_trailer = l->max_trailer;
    st->max_body = l->max_body;
}

/* What a decode run ended with, in the reference's terms. */
static void expect(const struct ref *want, const uint8_t *wbody, int status,
                   size_t consumed, const uint8_t *body, size_t blen)
{
    if (status != want->status)
        fprintf(stderr, "fuzz_chunked: decoder %d, reference %d\n", status,
                want->status);
    CHECK(status == want->status);
    if (status == R_DONE)
        CHECK(consumed == want->consumed);
    if (status == R_DONE || status == R_MORE) {
        CHECK(blen == want->body_len);
        CHECK(blen == 0 || memcmp(body, wbody, blen) == 0);
    }
}

/* Whole input, out as large as the input. */
static void run_whole(const uint8_t *in, size_t n, const struct limits *l,
                      const struct ref *want, const uint8_t *wbody)
{
    struct http_chunked st;
    uint8_t *out = malloc(n + 1);
    size_t consumed;

    CHECK(out != NULL);
    setup(&st, l);
    ssize_t r = http_chunked_decode(&st, (const char *)in, n, &consumed,
                                    (char *)out, n);
    int status = r < 0 ? (int)r : http_chunked_done(&st) ? R_DONE : R_MORE;
    if (r >= 0 && status == R_MORE)
        CHECK(consumed == n); /* nothing left unread but a finished body */
    expect(want, wbody, status, consumed, out, r < 0 ? 0 : (size_t)r);
    /* An error is sticky. */
    if (r < 0)
        CHECK(http_chunked_decode(&st, (const char *)in, n, &consumed,
                                  (char *)out, n) == r);
    free(out);
}

/* Input arriving in pieces, output in small buffers: each piece is an
 * exact-size heap copy, so ASan sees a read past what has arrived. */
static void run_pieces(const uint8_t *in, size_t n, const struct limits *l,
                       const struct ref *want, const uint8_t *wbody,
                       uint64_t *rnd)
{
    struct http_chunked st;
    uint8_t *body = malloc(n + 1);
    size_t pos = 0, arrived = 0, blen = 0;
    int status = R_MORE;

    CHECK(body != NULL);
    setup(&st, l);
    for (;;) {
        if (arrived < n)
            arrived += 1 + next_rand(rnd) % (n - arrived);
        size_t have = arrived - pos;
        char *piece = malloc(have ? have : 1);
        CHECK(piece != NULL);
        memcpy(piece, in + pos, have);
        size_t cap = 1 + next_rand(rnd) % 17, consumed;
        char out[17];
        ssize_t r = http_chunked_decode(&st, piece, have, &consumed, out, cap);
        free(piece);
        if (r < 0) {
            status = (int)r;
            break;
        }
        CHECK((size_t)r <= cap && consumed <= have);
        memcpy(body + blen, out, (size_t)r);
        blen += (size_t)r;
        pos += consumed;
        if (http_chunked_done(&st)) {
            status = R_DONE;
            break;
        }
        if (arrived == n && consumed == 0 && r == 0)
            break; /* all in, no progress: need more */
    }
    expect(want, wbody, status, pos, body, blen);
    free(body);
}

/* Decoding in place: out == in. */
static void run_in_place(const uint8_t *in, size_t n, const struct limits *l,
                         const struct ref *want, const uint8_t *wbody)
{
    struct http_chunked st;
    char *buf = malloc(n + 1);
    size_t consumed;

    CHECK(buf != NULL);
    memcpy(buf, in, n);
    setup(&st, l);
    ssize_t r = http_chunked_decode(&st, buf, n, &consumed, buf, n);
    int status = r < 0 ? (int)r : http_chunked_done(&st) ? R_DONE : R_MORE;
    expect(want, wbody, status, consumed, (const uint8_t *)buf,
           r < 0 ? 0 : (size_t)r);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t rnd = seed_of(data, size);
    struct limits l = {4096, 64 << 10, 0};

    if (size > 1 << 16)
        return 0;
    uint64_t knobs = next_rand(&rnd);
    if (knobs % 4 == 0) {
        l.max_line = 1 + (knobs >> 8) % 24;
        l.max_trailer = 1 + (knobs >> 16) % 64;
    }
    if (knobs % 3 == 0)
        l.max_body = 1 + (knobs >> 24) % 64;

    uint8_t *in = malloc(size ? size : 1);
    uint8_t *wbody = malloc(size + 1);
    CHECK(in != NULL && wbody != NULL);
    memcpy(in, data, size);
    struct ref want = reference(in, size, &l, wbody);

    run_whole(in, size, &l, &want, wbody);
    run_pieces(in, size, &l, &want, wbody, &rnd);
    run_in_place(in, size, &l, &want, wbody);
    free(in);
    free(wbody);
    return 0;
}
