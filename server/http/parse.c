/* http/parse.c — HTTP/1.1 request heads and chunked bodies (RFC 9110/9112).
 *
 * Why our own parser: it is one small file, zero-copy (slices of the
 * connection's buffer, no allocation, no callbacks), fuzzed with libFuzzer
 * (tests/fuzz/fuzz_http_parse.c), and it gives gortd exact control of the
 * status for each kind of bad input (400, 414, 431, 501, 505), which
 * picohttpparser and llhttp report as one generic error.
 *
 * How a head is parsed. The parser keeps no state between calls (except the
 * optional resume offset): each call starts at the beginning of the buffer.
 *   1. Up to MAX_EMPTY_LINES empty lines before the request line are
 *      skipped (§2.2).
 *   2. The request line is parsed as far as the bytes go. A bad byte, a
 *      target over the URI limit or an HTTP/2+ version fails at once, even
 *      before the line is complete.
 *   3. The empty line that ends the head is searched with memchr, from the
 *      resume offset when the caller keeps one: a trickled head costs
 *      linear time, not quadratic.
 *   No step reads past max_header_bytes: a head not complete within it is
 *   431, whatever else is wrong further on, so the answer never depends on
 *   how the bytes were split into reads.
 *   4. Only a complete head is split into field lines, and its framing is
 *      decided (Content-Length, Transfer-Encoding, Host, Connection, Expect).
 *   (Steps 1-2 stay bounded too: at most MAX_EMPTY_LINES, a method of
 *   HTTP_MAX_METHOD bytes and a target of max_uri_bytes are re-read.)
 *
 * Where RFC 9112 leaves the recipient a choice, or where request smuggling
 * is at stake, gort is strict:
 *   - a line of the head ends in CRLF or a bare LF (§2.2, as Go does); a
 *     bare CR is 400. Chunk framing (size lines, the end of a chunk's
 *     data, trailers) ends only in CRLF: a bare LF there is 400, since
 *     front ends that read it differently can be made to disagree on where
 *     a request ends (Go refuses it too);
 *   - obs-fold, whitespace before a colon or before the first field: 400;
 *   - Content-Length is 1*DIGIT, at most INT64_MAX; repeated fields must
 *     agree; a list ("5, 5") in one field is 400, as in Go;
 *   - Transfer-Encoding with Content-Length: 400 (§6.1 allows it; it is the
 *     classic smuggling shape). In an HTTP/1.0 request: 400 (§6.1: faulty
 *     framing). Chunked anywhere but last, chunked twice, chunked with
 *     parameters, an empty or malformed list element: 400 (§6.3: the length
 *     cannot be determined). A well-formed list whose codings are not just
 *     "chunked" ("gzip", "gzip, chunked"): 501, a coding we do not
 *     implement (§6.1);
 *   - HTTP/1.1 needs exactly one valid Host, CONNECT included (Go exempts
 *     CONNECT; §3.2 does not): else 400. An absolute-form target's
 *     authority overrides the Host field (§3.2.2);
 *   - a '#' in the request-target: 400 (§3.2 has no fragment); a '%' in
 *     the path that does not start a %XX escape: 400 (Go and nginx);
 *   - HTTP/1.x with x > 1 follows HTTP/1.1 rules; HTTP/0.x and HTTP/2+
 *     (including the "PRI * HTTP/2.0" preface): 505; a version that is
 *     not "HTTP/" DIGIT "." DIGIT ("HTTP/2", "HTTP/11"): 400, as Go.
 */
#include "http/parse.h"

#include <limits.h>
#include <string.h>

enum {
    ST_BAD = -400,         /* malformed */
    ST_BODY_LARGE = -413,  /* chunked body over max_body */
    ST_URI_LONG = -414,    /* request-target over max_uri_bytes */
    ST_HEAD_LARGE = -431,  /* head over max_header_bytes or too many fields */
    ST_NOT_IMPL = -501,    /* transfer coding we do not implement */
    ST_BAD_VERSION = -505, /* not HTTP/1.x */
};

#define MAX_EMPTY_LINES 8 /* before the request line; more is 400 */

/* ---- character classes (RFC 9110 §5.6.2, §5.5; RFC 3986) ----------------- */

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Byte classes, one bit each:
 *   1  tchar: methods, field names, coding names (RFC 9110 §5.6.2)
 *   2  request-target bytes: no whitespace, CTL, DEL or '#' (§3.2 has no
 *      fragment); bytes >= 0x80 pass, as in Go: the mux judges paths
 *   4  Host and authority bytes: uri-host [":" port] of RFC 3986 without
 *      userinfo: unreserved, sub-delims, ':', '[', ']', '%'
 *   8  field-value bytes: field-vchar, SP, HTAB and obs-text; no CTL (so no
 *      bare CR) and no DEL (RFC 9110 §5.5)
 * A table rather than comparisons: the field loops are the parser's hot
 * path. Rows are the high nibble. */
enum { C_TCHAR = 1, C_TARGET = 2, C_HOST = 4, C_VALUE = 8 };

static const unsigned char byte_class[256] = {
    0,  0,  0,  0,  0,  0,  0,  0,  0,  8,  0,  0,  0,  0,  0,  0,  /* 0x */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 1x */
    8,  15, 10, 9,  15, 15, 15, 15, 14, 14, 15, 15, 14, 15, 15, 10, /* 2x */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 14, 14, 10, 14, 10, 10, /* 3x */
    10, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, /* 4x */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 14, 10, 14, 11, 15, /* 5x */
    11, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, /* 6x */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 10, 11, 10, 15, 0,  /* 7x */
    10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, /* 8x */
    10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, /* 9x */
    10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, /* ax */
    10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, /* bx */
    10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, /* cx */
    10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, /* dx */
    10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, /* ex */
    10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, /* fx */
};

static int is_tchar(unsigned char c)
{
    return byte_class[c] & C_TCHAR;
}

size_t http_token_len(const char *s)
{
    const char *p = s;
    while (is_tchar((unsigned char)*p)) /* NUL is no tchar */
        p++;
    return *p ? 0 : (size_t)(p - s);
}

static int is_target_char(unsigned char c)
{
    return byte_class[c] & C_TARGET;
}

static int is_host_char(unsigned char c)
{
    return byte_class[c] & C_HOST;
}

static int is_value_char(unsigned char c)
{
    return byte_class[c] & C_VALUE;
}

/* Some byte of x is a CTL (< 0x20) or DEL: "has a byte less than n" and
 * "has a zero byte" word tricks, exact as to whether any byte matches. */
static int word_has_ctl(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101u, high = ones << 7;
    uint64_t del = x ^ (ones * 0x7f);

    return (((x - ones * 0x20) & ~x) | ((del - ones) & ~del)) & high ? 1 : 0;
}

/* All of p[0..n) are field-value bytes. Eight at a time while no byte is
 * suspect; a word with a CTL (HTAB is one, and allowed) goes byte by byte. */
static int all_value_chars(const char *p, size_t n)
{
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, p + i, 8);
        if (word_has_ctl(x))
            break;
    }
    for (; i < n; i++)
        if (!is_value_char((unsigned char)p[i]))
            return 0;
    return 1;
}

static int is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static unsigned char to_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* s equals the lower-case literal lit, ignoring ASCII case. */
static int eq_nocase(struct http_str s, const char *lit)
{
    size_t i;

    for (i = 0; i < s.len; i++)
        if (lit[i] == '\0' || to_lower((unsigned char)s.ptr[i]) != lit[i])
            return 0;
    return lit[i] == '\0';
}

static int all_host_chars(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_host_char((unsigned char)p[i]))
            return 0;
    return 1;
}

static struct http_str slice(const char *p, size_t n)
{
    struct http_str s = {.ptr = p, .len = n};
    return s;
}

/* ---- limits -------------------------------------------------------------- */

struct limits {
    size_t head; /* max_header_bytes, at most INT_MAX: we return an int */
    size_t uri;
};

static struct limits limits_of(const struct httpd_limits *lim)
{
    struct limits l = {.head = HTTP_DEFAULT_MAX_HEADER_BYTES,
                       .uri = HTTP_DEFAULT_MAX_URI_BYTES};

    if (lim && lim->max_header_bytes)
        l.head = lim->max_header_bytes;
    if (lim && lim->max_uri_bytes)
        l.uri = lim->max_uri_bytes;
    if (l.head > INT_MAX)
        l.head = INT_MAX;
    return l;
}

/* The head is incomplete at len bytes: wait, unless it can no longer fit. */
static int incomplete(size_t len, const struct limits *l)
{
    return len >= l->head ? ST_HEAD_LARGE : 0;
}

/* ---- request line (§3) --------------------------------------------------- */

/* A line end at p[0..n): returns its length (2 for CRLF, 1 for a bare LF), 0
 * when more bytes are needed, ST_BAD otherwise. */
static int line_end(const char *p, size_t n)
{
    if (n == 0)
        return 0;
    if (p[0] == '\n')
        return 1;
    if (p[0] != '\r')
        return ST_BAD;
    if (n == 1)
        return 0;
    return p[1] == '\n' ? 2 : ST_BAD;
}

/* Skips the empty lines a client may send before a request (§2.2; old
 * browsers sent a CRLF after a POST body). Returns 1 with *pos at the
 * request line, 0 when only empty lines (or a CR) have arrived, or ST_BAD. */
static int skip_empty_lines(const char *buf, size_t len, size_t *pos)
{
    size_t i = 0;

    for (int lines = 0; lines <= MAX_EMPTY_LINES; lines++) {
        int r = line_end(buf + i, len - i);
        if (r == ST_BAD && buf[i] != '\r') {
            *pos = i;
            return 1;
        }
        if (r <= 0)
            return r;
        i += (size_t)r;
    }
    return ST_BAD;
}

/* HTTP-version = "HTTP/" DIGIT "." DIGIT, then the line end, at p[0..n).
 * Returns the bytes used including the line end, 0 when more are needed, or
 * a status. The major version is judged once the version and its line
 * end are whole, as Go does: "HTTP/2" and "HTTP/2.0x" are malformed (400),
 * "HTTP/2.0" unsupported (505; the HTTP/2 preface still gets it from its
 * first line). */
static int parse_version(const char *p, size_t n, struct http_req_head *out)
{
    static const char name[] = "HTTP/";
    size_t i;
    int r;

    for (i = 0; i < sizeof name - 1; i++) {
        if (i == n)
            return 0;
        if (p[i] != name[i])
            return ST_BAD;
    }
    if (n <= 5)
        return 0;
    if (!is_digit((unsigned char)p[5]))
        return ST_BAD;
    if (n <= 6)
        return 0;
    if (p[6] != '.')
        return ST_BAD;
    if (n <= 7)
        return 0;
    if (!is_digit((unsigned char)p[7]))
        return ST_BAD;
    r = line_end(p + 8, n - 8);
    if (r <= 0)
        return r; /* "HTTP/2.0x": malformed, as Go has it */
    if (p[5] != '1')
        return ST_BAD_VERSION;
    out->version_major = 1;
    out->version_minor = p[7] - '0';
    return 8 + r;
}

/* request-line = method SP request-target SP HTTP-version, at p[0..n), as
 * far as it has arrived. Returns its length including the line end, 0 when
 * it is incomplete, or a status. Single spaces only: §3 lets a recipient
 * split on any whitespace, but a strict split is what proxies agree on. */
static int parse_request_line(const char *p, size_t n, size_t max_uri,
                              struct http_req_head *out)
{
    size_t i = 0, t;
    int r;

    while (i < n && i <= HTTP_MAX_METHOD && is_tchar((unsigned char)p[i]))
        i++;
    if (i > HTTP_MAX_METHOD)
        return ST_BAD;
    if (i == n)
        return 0;
    if (i == 0 || p[i] != ' ')
        return ST_BAD;
    out->method = slice(p, i);

    t = ++i;
    while (i < n && i - t <= max_uri && is_target_char((unsigned char)p[i]))
        i++;
    if (i - t > max_uri)
        return ST_URI_LONG;
    if (i == n)
        return 0;
    if (i == t || p[i] != ' ')
        return ST_BAD;
    out->target = slice(p + t, i - t);

    i++;
    r = parse_version(p + i, n - i, out);
    return r > 0 ? (int)i + r : r; /* n <= max_header_bytes <= INT_MAX */
}

/* ---- request-target forms (§3.2) ----------------------------------------- */

static void split_path_query(const char *p, size_t n, struct http_req_head *out)
{
    const char *q = memchr(p, '?', n);

    if (q == NULL) {
        out->path = slice(p, n);
        return;
    }
    out->path = slice(p, (size_t)(q - p));
    out->query = slice(q + 1, n - (size_t)(q + 1 - p));
}

/* authority-form, CONNECT only: uri-host ":" port (§3.2.3). */
static int parse_authority_form(const char *t, size_t n,
                                struct http_req_head *out)
{
    size_t port = n;

    while (port > 0 && is_digit((unsigned char)t[port - 1]))
        port--;
    if (port < 2 || port == n || t[port - 1] != ':')
        return ST_BAD;
    if (!all_host_chars(t, n))
        return ST_BAD;
    out->host = slice(t, n);
    return 0;
}

/* absolute-form: scheme "://" authority [path] ["?" query] (§3.2.2). The
 * authority is the host; the Host field is then ignored. An empty
 * authority is invalid for http(s) (RFC 9110 §4.2.1), userinfo is refused
 * (§4.2.4). */
static int parse_absolute_form(const char *t, size_t n,
                               struct http_req_head *out)
{
    size_t i = 0, a;

    if (!is_alpha((unsigned char)t[0]))
        return ST_BAD;
    while (i < n &&
           (is_alpha((unsigned char)t[i]) || is_digit((unsigned char)t[i]) ||
            t[i] == '+' || t[i] == '-' || t[i] == '.'))
        i++;
    if (n - i < 3 || memcmp(t + i, "://", 3) != 0)
        return ST_BAD;
    a = i + 3;
    for (i = a; i < n && t[i] != '/' && t[i] != '?'; i++)
        ;
    if (i == a || !all_host_chars(t + a, i - a))
        return ST_BAD;
    out->host = slice(t + a, i - a);
    if (i < n && t[i] == '/') {
        split_path_query(t + i, n - i, out);
        return 0;
    }
    out->path = slice("/", 1); /* "http://h" and "http://h?q" mean "/" */
    if (i < n)
        out->query = slice(t + i + 1, n - i - 1);
    return 0;
}

static int hex_value(unsigned char c)
{
    if (is_digit(c))
        return c - '0';
    c = to_lower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Every '%' in a path starts a %XX escape (RFC 3986 §2.1): Go's
 * url.ParseRequestURI refuses the request otherwise (400), and so does
 * nginx; the query is left to whoever parses it, as in both. */
static int path_escapes_valid(struct http_str p)
{
    if (p.ptr == NULL) /* CONNECT's authority form: no path */
        return 1;
    const char *s = p.ptr, *end = p.ptr + p.len;

    while ((s = memchr(s, '%', (size_t)(end - s))) != NULL) {
        if (end - s < 3 || hex_value((unsigned char)s[1]) < 0 ||
            hex_value((unsigned char)s[2]) < 0)
            return 0;
        s += 3;
    }
    return 1;
}

/* Sets path, query and (for the absolute and authority forms) host. */
static int parse_target(struct http_req_head *out)
{
    const char *t = out->target.ptr;
    size_t n = out->target.len;

    out->path = out->query = out->host = slice(NULL, 0);
    if (t[0] == '/') {
        split_path_query(t, n, out);
        return 0;
    }
    if (n == 1 && t[0] == '*') { /* asterisk-form: OPTIONS only (§3.2.4) */
        if (out->method.len != 7 || memcmp(out->method.ptr, "OPTIONS", 7))
            return ST_BAD;
        out->path = out->target;
        return 0;
    }
    if (out->method.len == 7 && memcmp(out->method.ptr, "CONNECT", 7) == 0)
        return parse_authority_form(t, n, out);
    return parse_absolute_form(t, n, out);
}

/* ---- the end of the head ------------------------------------------------- */

/* Finds the empty line that ends the head in buf[from..lim): a LF followed by
 * LF or CRLF, where from is at or before the LF ending the request line and
 * no such pattern starts before from. Returns the offset just past the
 * empty line, or 0 with *next set to where a later search over more bytes
 * must start (the last two bytes may begin an incomplete pattern). */
static size_t find_head_end(const char *buf, size_t lim, size_t from,
                            size_t *next)
{
    const char *p = buf + from, *end = buf + lim;

    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        if (end - p >= 2 && p[1] == '\n')
            return (size_t)(p + 2 - buf);
        if (end - p >= 3 && p[1] == '\r' && p[2] == '\n')
            return (size_t)(p + 3 - buf);
        p++;
    }
    *next = lim >= from + 2 ? lim - 2 : from;
    return 0;
}

/* ---- field lines (§5) ---------------------------------------------------- */

/* What the field lines say about the message, gathered while they are split
 * and judged once the head is complete. */
struct framing {
    int response; /* a response head: Host and Expect mean nothing */
    int hosts;    /* Host field lines */
    struct http_str host;
    int has_cl;
    int64_t cl;
    int has_te;
    int te_chunked; /* "chunked" seen: nothing may follow it */
    int te_status;  /* 0, ST_BAD or ST_NOT_IMPL; ST_BAD wins */
    int conn_close;
    int conn_keep_alive;
    int expect_continue;
    int expect_other;
    const char *why; /* what a refusal says, net/http's words */
};

/* field-line = field-name ":" OWS field-value OWS, at p[0..e) without the
 * line end. A name must start the line and touch the colon: this rejects
 * obs-fold and whitespace before the first field or the colon (§5.1, §5.2,
 * §2.2). */
static int parse_field_line(const char *p, const char *e,
                            struct gort_http_header *h, struct framing *f)
{
    const char *n = p, *v, *ve, *name_end;

    while (n < e && is_tchar((unsigned char)*n))
        n++;
    name_end = n;
    /* White space before the colon: a request is refused (400), and a
     * response's is dropped, as a proxy must before passing the field on
     * (RFC 9112 §5.1). */
    while (f->response && n < e && is_ows((unsigned char)*n))
        n++;
    if (name_end == p || n == e || *n != ':') {
        /* A name cut short by a bad byte before its colon; a line
         * without a colon is just malformed, as net/http says. */
        if (n > p && memchr(n, ':', (size_t)(e - n)))
            f->why = "invalid header name";
        return ST_BAD;
    }
    for (v = n + 1; v < e && is_ows((unsigned char)*v); v++)
        ;
    for (ve = e; ve > v && is_ows((unsigned char)ve[-1]); ve--)
        ;
    if (!all_value_chars(v, (size_t)(ve - v))) {
        f->why = "invalid header value";
        return ST_BAD;
    }
    h->name = slice(p, (size_t)(name_end - p));
    h->value = slice(v, (size_t)(ve - v));
    return 0;
}

/* The next element of the comma-separated list s (§5.6.1), OWS trimmed,
 * empty elements included. *pos starts at 0; returns 0 after the last. */
static int list_next(struct http_str s, size_t *pos, struct http_str *elem)
{
    const char *b, *e, *comma;

    if (*pos > s.len)
        return 0;
    b = s.ptr + *pos;
    comma = memchr(b, ',', s.len - *pos);
    e = comma ? comma : s.ptr + s.len;
    *pos = (size_t)(e - s.ptr) + 1;
    while (b < e && is_ows((unsigned char)*b))
        b++;
    while (e > b && is_ows((unsigned char)e[-1]))
        e--;
    *elem = slice(b, (size_t)(e - b));
    return 1;
}

/* Content-Length = 1*DIGIT (RFC 9110 §8.6): no sign, no space, no list. */
static int parse_content_length(struct http_str v, struct framing *f)
{
    int64_t n = 0;

    if (v.len == 0)
        return ST_BAD;
    for (size_t i = 0; i < v.len; i++) {
        int d = v.ptr[i] - '0';
        if (!is_digit((unsigned char)v.ptr[i]) || n > (INT64_MAX - d) / 10)
            return ST_BAD;
        n = n * 10 + d;
    }
    if (f->has_cl && f->cl != n)
        return ST_BAD;
    f->has_cl = 1;
    f->cl = n;
    return 0;
}

/* One transfer-coding of a Transfer-Encoding list (§6.1): its name, then
 * optional parameters that only a coding other than chunked may have. */
static int te_element(struct http_str e)
{
    size_t n = 0;

    while (n < e.len && is_tchar((unsigned char)e.ptr[n]))
        n++;
    if (n == 0)
        return ST_BAD;
    if (eq_nocase(slice(e.ptr, n), "chunked"))
        return n == e.len ? 1 : ST_BAD;
    while (n < e.len && is_ows((unsigned char)e.ptr[n]))
        n++;
    if (n < e.len && e.ptr[n] != ';')
        return ST_BAD;
    return ST_NOT_IMPL;
}

/* Transfer-Encoding lines form one list; see the top comment for the
 * verdicts. Errors are judged once the head is complete, so a head with
 * both a bad coding and Content-Length is reported as smuggling (400). */
static void note_transfer_encoding(struct http_str v, struct framing *f)
{
    struct http_str e;
    size_t pos = 0;

    f->has_te = 1;
    while (list_next(v, &pos, &e)) {
        int r = e.len ? te_element(e) : ST_BAD;
        if (f->te_chunked)
            r = ST_BAD; /* something after chunked, or chunked twice */
        if (r == 1)
            f->te_chunked = 1;
        else if (r == ST_BAD || f->te_status == 0)
            f->te_status = r;
    }
}

static void note_connection(struct http_str v, struct framing *f)
{
    struct http_str e;
    size_t pos = 0;

    while (list_next(v, &pos, &e)) {
        if (eq_nocase(e, "close"))
            f->conn_close = 1;
        else if (eq_nocase(e, "keep-alive"))
            f->conn_keep_alive = 1;
    }
}

static void note_expect(struct http_str v, struct framing *f)
{
    struct http_str e;
    size_t pos = 0;

    while (list_next(v, &pos, &e)) {
        if (eq_nocase(e, "100-continue"))
            f->expect_continue = 1;
        else if (e.len > 0)
            f->expect_other = 1;
    }
}

/* Notes what a field means for framing; the length picks the candidates. */
static int apply_field(const struct gort_http_header *h, struct framing *f)
{
    switch (h->name.len) {
    case 4:
        if (f->response || !eq_nocase(h->name, "host"))
            return 0;
        f->hosts++;
        f->host = h->value;
        if (all_host_chars(h->value.ptr, h->value.len))
            return 0;
        f->why = "malformed Host header";
        return ST_BAD;
    case 6:
        if (eq_nocase(h->name, "expect"))
            note_expect(h->value, f);
        return 0;
    case 10:
        if (eq_nocase(h->name, "connection"))
            note_connection(h->value, f);
        return 0;
    case 14:
        if (!eq_nocase(h->name, "content-length"))
            return 0;
        return parse_content_length(h->value, f);
    case 17:
        if (eq_nocase(h->name, "transfer-encoding"))
            note_transfer_encoding(h->value, f);
        return 0;
    default:
        return 0;
    }
}

/* Splits buf[p..end) into field lines; end is just past the empty line.
 * Request and response heads share it (and their field arrays). */
static int parse_fields(const char *p, const char *end,
                        struct gort_http_header *headers, size_t *nh,
                        struct framing *f)
{
    *nh = 0;
    for (;;) {
        const char *lf = memchr(p, '\n', (size_t)(end - p)), *e;
        struct gort_http_header *h;
        int r;

        if (lf == NULL) /* cannot happen: end follows an empty line */
            return ST_BAD;
        e = lf > p && lf[-1] == '\r' ? lf - 1 : lf;
        if (e == p)
            return 0;
        if (*nh == HTTP_MAX_HEADERS)
            return ST_HEAD_LARGE;
        h = &headers[(*nh)++];
        if ((r = parse_field_line(p, e, h, f)) < 0)
            return r;
        if ((r = apply_field(h, f)) < 0)
            return r;
        p = lf + 1;
    }
}

/* The verdict on the message framing and the connection (§6.1, §6.3,
 * §9.3, §3.2; RFC 9110 §10.1.1). */
static int judge(const struct framing *f, struct http_req_head *out)
{
    int http11 = out->version_minor >= 1;

    if (f->has_te && (f->has_cl || !http11))
        return ST_BAD;
    if (f->te_status == ST_NOT_IMPL)
        out->why = "Unsupported transfer encoding";
    if (f->te_status)
        return f->te_status;
    if (f->hosts == 0 && http11)
        out->why = "missing required Host header";
    if (f->hosts > 1 || (f->hosts == 0 && http11))
        return ST_BAD;
    if (out->host.ptr == NULL && f->hosts)
        out->host = f->host;
    out->content_length = f->has_cl ? f->cl : -1;
    out->chunked = f->has_te;
    if (http11)
        out->keep_alive = !f->conn_close;
    else
        out->keep_alive = f->conn_keep_alive && !f->conn_close;
    /* HTTP/1.0 clients cannot take a 100 (Continue): ignore it (§10.1.1). */
    out->expect_continue = http11 && f->expect_continue;
    out->expect_unsupported = f->expect_other;
    return 0;
}

/* ---- the head ------------------------------------------------------------ */

static int parse_head(const char *buf, size_t len,
                      const struct httpd_limits *lim, struct http_req_head *out,
                      size_t *scanned)
{
    struct limits l = limits_of(lim);
    struct framing f;
    size_t start, line, end, from, window, next = 0;
    int r;

    out->why = NULL;
    /* Nothing past the limit is looked at (see the top comment). */
    window = len < l.head ? len : l.head;
    if (window == 0)
        return incomplete(len, &l);
    if ((r = skip_empty_lines(buf, window, &start)) <= 0)
        return r < 0 ? r : incomplete(len, &l);
    r = parse_request_line(buf + start, window - start, l.uri, out);
    if (r == ST_BAD_VERSION)
        out->why = "unsupported protocol version";
    if (r <= 0)
        return r < 0 ? r : incomplete(len, &l);
    line = start + (size_t)r;
    if ((r = parse_target(out)) < 0)
        return r;
    if (!path_escapes_valid(out->path))
        return ST_BAD;

    from = line - 1; /* the LF that ends the request line */
    if (scanned && *scanned > from && *scanned <= window)
        from = *scanned;
    end = find_head_end(buf, window, from, &next);
    if (end == 0) {
        if (scanned)
            *scanned = next;
        return incomplete(len, &l);
    }

    memset(&f, 0, sizeof f);
    if ((r = parse_fields(buf + line, buf + end, out->headers, &out->nheaders,
                          &f)) < 0) {
        out->why = f.why;
        return r;
    }
    if ((r = judge(&f, out)) < 0)
        return r;
    return (int)end;
}

int http_parse_request(const char *buf, size_t len,
                       const struct httpd_limits *lim,
                       struct http_req_head *out)
{
    return parse_head(buf, len, lim, out, NULL);
}

int http_parse_request_resume(const char *buf, size_t len,
                              const struct httpd_limits *lim,
                              struct http_req_head *out, size_t *scanned)
{
    int r = parse_head(buf, len, lim, out, scanned);

    if (r != 0 && scanned)
        *scanned = 0; /* ready for the next request */
    return r;
}

const char *http_head_get(const struct http_req_head *head, const char *name,
                          size_t *len)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < head->nheaders; i++) {
        const struct http_str *hn = &head->headers[i].name;
        size_t j;

        if (hn->len != n)
            continue;
        for (j = 0; j < n; j++)
            if (to_lower((unsigned char)hn->ptr[j]) !=
                to_lower((unsigned char)name[j]))
                break;
        if (j < n)
            continue;
        if (len)
            *len = head->headers[i].value.len;
        return head->headers[i].value.ptr;
    }
    return NULL;
}

/* ---- response heads (§4, §6.3; the client's side) ---------------------------
 *
 * The same field-line rules as a request head (obs-fold, whitespace before
 * a colon, CTLs: malformed), the same Content-Length rules (1*DIGIT, equal
 * repeats only), the same Transfer-Encoding verdicts. What differs:
 *   - status-line = HTTP-version SP 3DIGIT SP reason-phrase. A missing
 *     reason (with or without its SP) is accepted, as Go does: §4 tells a
 *     client to ignore the reason anyway. A code outside 100..599 is
 *     malformed (RFC 9110 §15);
 *   - Transfer-Encoding with Content-Length: chunked wins (§6.3 item 3),
 *     and the connection is not reused (keep_alive 0): a framing that
 *     disagreed once is not trusted for a next response. A well-formed
 *     Transfer-Encoding in an HTTP/1.0 response is faulty framing (§6.1):
 *     malformed;
 *   - nothing is skipped before the status line, and bytes that cannot
 *     begin "HTTP/" fail at once: a peer that is not an HTTP server is
 *     known from its first bytes, not after max_head of them.
 * Whether the response has a body at all depends on the request (HEAD)
 * and the status (1xx, 204, 304): the caller decides (§6.3 items 1-2). */

/* "HTTP/" DIGIT "." DIGIT SP, as far as p[0..n) goes: its length (9), 0
 * when more is needed, or a status as soon as a byte is wrong. */
static int status_version(const char *p, size_t n, struct http_resp_head *out)
{
    static const char shape[] = "HTTP/1.0 "; /* digits checked by class */

    if (n >= 9 && memcmp(p, "HTTP/1.1 ", 9) == 0) { /* nearly every one */
        out->version_minor = 1;
        return 9;
    }
    for (size_t i = 0; i < sizeof shape - 1; i++) {
        if (i == n)
            return 0;
        if (i == 5 || i == 7) {
            if (!is_digit((unsigned char)p[i]))
                return ST_BAD;
            if (i == 5 && p[i] != '1')
                return ST_BAD_VERSION;
        } else if (p[i] != shape[i]) {
            return ST_BAD;
        }
    }
    out->version_minor = p[7] - '0';
    return 9;
}

/* The whole status line p[0..e), its line end excluded. */
static int parse_status_line(const char *p, const char *e,
                             struct http_resp_head *out)
{
    size_t n = (size_t)(e - p);
    int r = status_version(p, n, out), code = 0;

    if (r <= 0)
        return r < 0 ? r : ST_BAD; /* the line ended inside the version */
    if (n < 12)
        return ST_BAD;
    for (int i = 9; i < 12; i++) {
        if (!is_digit((unsigned char)p[i]))
            return ST_BAD;
        code = code * 10 + (p[i] - '0');
    }
    if (code < 100 || code > 599 || (n > 12 && p[12] != ' '))
        return ST_BAD;
    out->status = code;
    out->reason = n > 13 ? slice(p + 13, n - 13) : slice(p + n, 0);
    if (!all_value_chars(out->reason.ptr, out->reason.len))
        return ST_BAD;
    return 0;
}

static int judge_response(const struct framing *f, struct http_resp_head *out)
{
    int http11 = out->version_minor >= 1;

    if (f->has_te && !http11)
        return ST_BAD;
    if (f->te_status)
        return f->te_status;
    out->chunked = f->has_te;
    out->content_length = f->has_cl && !f->has_te ? f->cl : -1;
    if (http11)
        out->keep_alive = !f->conn_close;
    else
        out->keep_alive = f->conn_keep_alive && !f->conn_close;
    if (f->has_te && f->has_cl)
        out->keep_alive = 0;
    return 0;
}

int http_parse_response(const char *buf, size_t len, size_t max_head,
                        struct http_resp_head *out, size_t *scanned)
{
    struct limits l = limits_of(NULL);
    struct framing f;
    const char *lf;
    size_t window, end, next = 0, from = 0;
    int r;

    if (max_head && max_head < l.head)
        l.head = max_head;
    window = len < l.head ? len : l.head;
    r = status_version(buf, window, out);
    if (r <= 0)
        return r < 0 ? r : incomplete(len, &l);
    if (scanned && *scanned <= window)
        from = *scanned;
    end = find_head_end(buf, window, from, &next);
    if (end == 0) {
        if (scanned)
            *scanned = next;
        return incomplete(len, &l);
    }
    if (scanned)
        *scanned = 0;
    lf = memchr(buf, '\n', end);
    r = parse_status_line(buf, lf > buf && lf[-1] == '\r' ? lf - 1 : lf, out);
    if (r < 0)
        return r;
    memset(&f, 0, sizeof f);
    f.response = 1;
    r = parse_fields(lf + 1, buf + end, out->headers, &out->nheaders, &f);
    if (r < 0)
        return r;
    if ((r = judge_response(&f, out)) < 0)
        return r;
    return (int)end;
}

/* ---- chunked bodies (§7.1) --------------------------------------------------
 *
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *
 * A byte-at-a-time state machine for the framing (size lines, the CRLF after
 * the data, trailers) and one memmove per run of data. Each state names the
 * byte it waits for. */

enum chunk_state {
    CH_SIZE_START,    /* first hex digit of a chunk-size */
    CH_SIZE,          /* more hex digits, ';', BWS or the line end */
    CH_SIZE_WS,       /* BWS after the size: only ';' may follow */
    CH_EXT,           /* chunk-ext bytes up to the line end */
    CH_SIZE_LF,       /* LF after the CR of a size line */
    CH_DATA,          /* size bytes of data left */
    CH_DATA_END,      /* CR or LF after the data */
    CH_DATA_LF,       /* LF after that CR */
    CH_TRAILER_START, /* a trailer field name, or the final line end */
    CH_TRAILER_NAME,  /* tchar or ':' */
    CH_TRAILER_VALUE, /* field-value bytes up to the line end */
    CH_TRAILER_LF,    /* LF after the CR of a trailer line */
    CH_END_LF,        /* LF after the final CR */
    CH_DONE,
    CH_ERROR,
};

#define CHUNK_MAX_LINE 4096 /* Go's limit for a chunk-size line */
#define CHUNK_MAX_TRAILER (64 << 10)

void http_chunked_init(struct http_chunked *st)
{
    memset(st, 0, sizeof *st);
    st->max_line = CHUNK_MAX_LINE;
    st->max_trailer = CHUNK_MAX_TRAILER;
    st->state = CH_SIZE_START;
}

int http_chunked_done(const struct http_chunked *st)
{
    return st->state == CH_DONE;
}

/* The size line is over: on to the data, or to the trailers after the
 * last chunk. */
static int size_line_end(struct http_chunked *st)
{
    st->line_len = 0;
    if (st->size == 0) {
        st->state = CH_TRAILER_START;
        return 0;
    }
    if (st->max_body && st->size > st->max_body - st->total)
        return ST_BODY_LARGE;
    st->state = CH_DATA;
    return 0;
}

static int size_digit(struct http_chunked *st, int h)
{
    if (st->size >> 59)
        return ST_BAD; /* a 64th bit: no body is that large */
    st->size = st->size << 4 | (uint64_t)h;
    st->state = CH_SIZE;
    return 0;
}

/* chunk-size [ chunk-ext ] CRLF. Extensions are checked for bytes only and
 * ignored; whitespace after the size must lead to one (§7.1.1: BWS). */
static int size_line_byte(struct http_chunked *st, unsigned char c)
{
    int h = hex_value(c);

    if (++st->line_len > st->max_line)
        return ST_BAD;
    switch (st->state) {
    case CH_SIZE_START:
        return h >= 0 ? size_digit(st, h) : ST_BAD;
    case CH_SIZE:
        if (h >= 0)
            return size_digit(st, h);
        if (is_ows(c))
            st->state = CH_SIZE_WS;
        else if (c == ';')
            st->state = CH_EXT;
        else if (c == '\r')
            st->state = CH_SIZE_LF;
        else
            return ST_BAD; /* a bare LF included: chunk framing is CRLF */
        return 0;
    case CH_SIZE_WS:
        if (c == ';')
            st->state = CH_EXT;
        return c == ';' || is_ows(c) ? 0 : ST_BAD;
    case CH_EXT:
        if (c == '\r')
            st->state = CH_SIZE_LF;
        return c == '\r' || is_value_char(c) ? 0 : ST_BAD;
    default: /* CH_SIZE_LF */
        return c == '\n' ? size_line_end(st) : ST_BAD;
    }
}

/* CRLF after a chunk's data; a bare LF is refused. */
static int data_end_byte(struct http_chunked *st, unsigned char c)
{
    if (c == '\r' && st->state == CH_DATA_END) {
        st->state = CH_DATA_LF;
        return 0;
    }
    if (c != '\n' || st->state != CH_DATA_LF)
        return ST_BAD;
    st->size = 0;
    st->state = CH_SIZE_START;
    return 0;
}

/* trailer-section = *( field-line CRLF ), then CRLF. Fields are checked
 * like the head's (no obs-fold, a token name, no CTL) and dropped. */
static int trailer_byte(struct http_chunked *st, unsigned char c)
{
    if (++st->trailer_len > st->max_trailer)
        return ST_BAD;
    switch (st->state) {
    case CH_TRAILER_START:
        if (c == '\r')
            st->state = CH_END_LF;
        else if (is_tchar(c))
            st->state = CH_TRAILER_NAME;
        else
            return ST_BAD;
        return 0;
    case CH_TRAILER_NAME:
        if (c == ':')
            st->state = CH_TRAILER_VALUE;
        return c == ':' || is_tchar(c) ? 0 : ST_BAD;
    case CH_TRAILER_VALUE:
        if (c == '\r')
            st->state = CH_TRAILER_LF;
        return c == '\r' || is_value_char(c) ? 0 : ST_BAD;
    case CH_TRAILER_LF:
        st->state = CH_TRAILER_START;
        return c == '\n' ? 0 : ST_BAD;
    default: /* CH_END_LF */
        st->state = CH_DONE;
        return c == '\n' ? 0 : ST_BAD;
    }
}

static int framing_byte(struct http_chunked *st, unsigned char c)
{
    switch (st->state) {
    case CH_SIZE_START:
    case CH_SIZE:
    case CH_SIZE_WS:
    case CH_EXT:
    case CH_SIZE_LF:
        return size_line_byte(st, c);
    case CH_DATA_END:
    case CH_DATA_LF:
        return data_end_byte(st, c);
    default:
        return trailer_byte(st, c);
    }
}

/* Copies as much of the current chunk's data as input and output allow. */
static size_t data_run(struct http_chunked *st, const char *in, size_t avail,
                       char *out, size_t room)
{
    size_t n = avail < room ? avail : room;

    if (n > st->size)
        n = (size_t)st->size;
    memmove(out, in, n); /* in and out may be the same buffer */
    st->size -= n;
    st->total += n;
    if (st->size == 0)
        st->state = CH_DATA_END;
    return n;
}

ssize_t http_chunked_decode(struct http_chunked *st, const char *in,
                            size_t inlen, size_t *consumed, char *out,
                            size_t outcap)
{
    size_t i = 0, w = 0;
    int r = 0;

    *consumed = 0;
    if (st->state == CH_ERROR)
        return st->error;
    while (i < inlen && st->state != CH_DONE) {
        if (st->state == CH_DATA) {
            size_t n;
            if (w == outcap)
                break; /* out is full */
            n = data_run(st, in + i, inlen - i, out + w, outcap - w);
            i += n;
            w += n;
            continue;
        }
        if ((r = framing_byte(st, (unsigned char)in[i])) < 0)
            break;
        i++;
    }
    *consumed = i;
    if (r < 0) {
        st->state = CH_ERROR;
        st->error = r;
        return r;
    }
    return (ssize_t)w;
}
