/* test_log.c — gortd's logger (server/log.c).
 *
 * Byte-exact records in both formats at a fixed time; every kind of field;
 * hostile values (quotes, newlines, '=', controls, invalid UTF-8) come back
 * unchanged through an independent logfmt reader and JSON parser written
 * here; a record cut at every possible length stays one well-formed line
 * ending in truncated=true; levels filter before the fields are evaluated;
 * and eight threads logging records of up to twice the line limit into one
 * pipe produce only whole lines, each thread's in its order.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

/* 2026-12-04T13:37:00.123Z */
#define T0 (1796391420LL * 1000000000 + 123456789)

/* ---- an independent reader for both formats ----------------------------- */

struct kv {
    char key[32];
    char val[2 * GLOG_LINE_MAX];
    size_t len;
    int quoted; /* logfmt: the value was quoted; JSON: it was a string */
};

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int hex_n(const char *p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        int h = hexval((unsigned char)p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

static size_t utf8_put(char *out, uint32_t c)
{
    if (c < 0x80)
        return out[0] = (char)c, 1;
    if (c < 0x800)
        return out[0] = (char)(0xc0 | c >> 6), out[1] = (char)(0x80 | (c & 63)),
               2;
    out[0] = (char)(0xe0 | c >> 12);
    out[1] = (char)(0x80 | (c >> 6 & 63));
    out[2] = (char)(0x80 | (c & 63));
    return 3;
}

/* Length of a valid UTF-8 sequence at p, 0 if invalid (the reader's own
 * check, written apart from log.c's). */
static size_t utf8_ok(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    int n = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : 2;
    uint32_t c = p[0] & (0x7f >> n);
    if (p[0] < 0xc2 || p[0] > 0xf4)
        return 0;
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (p[i] & 63);
    }
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < min[n] || c > 0x10ffff || (c >= 0xd800 && c < 0xe000))
        return 0;
    return (size_t)n;
}

static bool utf8_valid(const char *s, size_t n)
{
    char tmp[2 * GLOG_LINE_MAX + 4] = {0};
    memcpy(tmp, s, n);
    for (size_t i = 0, k; i < n; i += k)
        if (!(k = utf8_ok((const unsigned char *)tmp + i)))
            return false;
    return true;
}

/* The logfmt line (one, ending in '\n', nothing after) into pairs, values
 * unquoted. -1 when it is not well-formed logfmt. */
static int lf_parse(const char *line, struct kv *kv, int max)
{
    const char *p = line;
    int n = 0;
    while (*p != '\n') {
        if (n > 0 && *p++ != ' ')
            return -1;
        if (n == max)
            return -1;
        struct kv *e = &kv[n++];
        size_t k = 0;
        while ((*p >= 'a' && *p <= 'z') || *p == '_')
            if (k < sizeof e->key - 1)
                e->key[k++] = *p++;
        e->key[k] = 0;
        if (k == 0 || *p++ != '=')
            return -1;
        e->len = 0;
        e->quoted = *p == '"';
        if (!e->quoted) {
            while (*p != ' ' && *p != '\n') {
                if (*p == '"' || *p == '=' || (unsigned char)*p < 0x20 ||
                    *p == 0x7f)
                    return -1;
                e->val[e->len++] = *p++;
            }
            if (e->len == 0 || !utf8_valid(e->val, e->len))
                return -1;
            e->val[e->len] = 0;
            continue;
        }
        for (p++;; p++) {
            unsigned char c = (unsigned char)*p;
            if (c == '"')
                break;
            if (c < 0x20 || c == 0x7f)
                return -1; /* raw controls never appear */
            if (c >= 0x80) {
                size_t u = utf8_ok((const unsigned char *)p);
                if (!u)
                    return -1; /* nor invalid UTF-8 */
                memcpy(e->val + e->len, p, u);
                e->len += u;
                p += u - 1;
                continue;
            }
            if (c != '\\') {
                e->val[e->len++] = (char)c;
                continue;
            }
            int v;
            switch (*++p) {
            case '"':
            case '\\':
                e->val[e->len++] = *p;
                break;
            case 'n':
                e->val[e->len++] = '\n';
                break;
            case 'r':
                e->val[e->len++] = '\r';
                break;
            case 't':
                e->val[e->len++] = '\t';
                break;
            case 'x':
                if ((v = hex_n(p + 1, 2)) < 0)
                    return -1;
                e->val[e->len++] = (char)v;
                p += 2;
                break;
            case 'u':
                if ((v = hex_n(p + 1, 4)) < 0)
                    return -1;
                e->len += utf8_put(e->val + e->len, (uint32_t)v);
                p += 4;
                break;
            default:
                return -1;
            }
        }
        e->val[e->len] = 0;
        p++;
    }
    return p[1] == '\0' ? n : -1;
}

static const char *js_ws(const char *p)
{
    while (*p == ' ')
        p++;
    return p;
}

/* A JSON string at p into e; returns the byte after it, NULL if invalid. */
static const char *js_string(const char *p, char *out, size_t *len)
{
    if (*p++ != '"')
        return NULL;
    *len = 0;
    for (;;) {
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p + 1;
        if (c < 0x20)
            return NULL;
        if (c >= 0x80) {
            size_t k = utf8_ok((const unsigned char *)p);
            if (!k)
                return NULL;
            memcpy(out + *len, p, k);
            *len += k, p += k;
            continue;
        }
        p++;
        if (c != '\\') {
            out[(*len)++] = (char)c;
            continue;
        }
        static const char names[] = "\"\\/bfnrt", chars[] = "\"\\/\b\f\n\r\t";
        const char *esc = *p ? strchr(names, *p) : NULL;
        if (esc) {
            out[(*len)++] = chars[esc - names];
            p++;
        } else if (*p == 'u') {
            int v = hex_n(p + 1, 4);
            if (v < 0 || (v >= 0xd800 && v < 0xe000))
                return NULL;
            *len += utf8_put(out + *len, (uint32_t)v);
            p += 5;
        } else {
            return NULL;
        }
    }
}

/* An integer, the only kind of number the logger writes. */
static const char *js_number(const char *p)
{
    if (*p == '-')
        p++;
    if (*p < '0' || *p > '9' || (*p == '0' && p[1] >= '0' && p[1] <= '9'))
        return NULL;
    while (*p >= '0' && *p <= '9')
        p++;
    return p;
}

/* A flat JSON object (string, number, true, false, null values) ending the
 * line into pairs; -1 when it is not valid JSON of that shape. */
static int js_parse(const char *line, struct kv *kv, int max)
{
    const char *p = js_ws(line);
    int n = 0;
    size_t klen;
    if (*p++ != '{')
        return -1;
    for (;;) {
        p = js_ws(p);
        if (n == max)
            return -1;
        struct kv *e = &kv[n++];
        if (!(p = js_string(p, e->val, &klen)) || klen >= sizeof e->key)
            return -1;
        memcpy(e->key, e->val, klen);
        e->key[klen] = 0;
        p = js_ws(p);
        if (*p++ != ':')
            return -1;
        p = js_ws(p);
        e->quoted = *p == '"';
        if (e->quoted) {
            if (!(p = js_string(p, e->val, &e->len)))
                return -1;
        } else {
            const char *end;
            if (strncmp(p, "true", 4) == 0 || strncmp(p, "null", 4) == 0)
                end = p + 4;
            else if (strncmp(p, "false", 5) == 0)
                end = p + 5;
            else if (!(end = js_number(p)))
                return -1;
            e->len = (size_t)(end - p);
            memcpy(e->val, p, e->len);
            p = end;
        }
        e->val[e->len] = 0;
        p = js_ws(p);
        if (*p == '}')
            break;
        if (*p++ != ',')
            return -1;
    }
    return strcmp(p, "}\n") == 0 ? n : -1;
}

static int parse(enum glog_format f, const char *line, struct kv *kv, int max)
{
    return f == GLOG_JSON ? js_parse(line, kv, max) : lf_parse(line, kv, max);
}

static const struct kv *find(const struct kv *kv, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            return &kv[i];
    return NULL;
}

/* ---- rendering helpers -------------------------------------------------- */

static char out[GLOG_LINE_MAX];

/* RENDER(FORMAT, LEVEL, MSG, FIELD...): the record as a string. */
#define RENDER(fmt, lvl, ...) RENDER_((fmt), (lvl), __VA_ARGS__, GLOG_END)
#define RENDER_(fmt, lvl, msg, ...)                                            \
    render_((fmt), (lvl), (msg), (const struct glog_field[]){__VA_ARGS__})

static const char *render_(enum glog_format f, enum glog_level lvl,
                           const char *msg, const struct glog_field *fields)
{
    size_t n = glog_render(out, sizeof out, f, T0, lvl, msg, fields);
    assert_true(n < sizeof out);
    out[n] = 0;
    return out;
}

/* ---- exact output ------------------------------------------------------- */

static void test_logfmt_exact(void **state)
{
    (void)state;
    assert_string_equal(
        RENDER(GLOG_LOGFMT, GLOG_INFO, "plugin loaded",
               GLOG_STR("plugin", "hello"), GLOG_STR("version", "1.0.0"),
               GLOG_INT("routes", 2)),
        "time=2026-12-04T13:37:00.123Z level=info msg=\"plugin loaded\" "
        "plugin=hello version=1.0.0 routes=2\n");
    assert_string_equal(RENDER(GLOG_LOGFMT, GLOG_ERROR, "x"),
                        "time=2026-12-04T13:37:00.123Z level=error msg=x\n");
}

static void test_json_exact(void **state)
{
    (void)state;
    assert_string_equal(
        RENDER(GLOG_JSON, GLOG_INFO, "plugin loaded",
               GLOG_STR("plugin", "hello"), GLOG_STR("version", "1.0.0"),
               GLOG_INT("routes", 2)),
        "{\"time\":\"2026-12-04T13:37:00.123Z\",\"level\":\"info\","
        "\"msg\":\"plugin loaded\",\"plugin\":\"hello\",\"version\":"
        "\"1.0.0\",\"routes\":2}\n");
    assert_string_equal(RENDER(GLOG_JSON, GLOG_WARN, "x"),
                        "{\"time\":\"2026-12-04T13:37:00.123Z\",\"level\":"
                        "\"warn\",\"msg\":\"x\"}\n");
}

static void test_kinds(void **state)
{
    (void)state;
    assert_string_equal(
        RENDER(GLOG_LOGFMT, GLOG_DEBUG, "k", GLOG_INT("i", LLONG_MIN),
               GLOG_UINT("u", ULLONG_MAX), GLOG_BOOL("b", 5), GLOG_BOOL("f", 0),
               GLOG_ERRNO("err", ENOENT), GLOG_ERRNO("neg", -EACCES),
               GLOG_DUR("d", 1500000000), GLOG_DUR("z", 0),
               GLOG_STRN("n", "a\0b", 3), GLOG_STR("null", NULL)),
        "time=2026-12-04T13:37:00.123Z level=debug msg=k "
        "i=-9223372036854775808 u=18446744073709551615 b=true f=false "
        "err=\"No such file or directory\" neg=\"Permission denied\" d=1.5s "
        "z=0s n=\"a\\x00b\" null=\"\"\n");
    assert_string_equal(
        RENDER(GLOG_JSON, GLOG_DEBUG, "k", GLOG_INT("i", -1), GLOG_UINT("u", 7),
               GLOG_BOOL("b", 1), GLOG_ERRNO("err", ENOENT),
               GLOG_DUR("d", 1500000000), GLOG_STRN("n", "a\0b", 3),
               GLOG_STR("null", NULL)),
        "{\"time\":\"2026-12-04T13:37:00.123Z\",\"level\":\"debug\","
        "\"msg\":\"k\",\"i\":-1,\"u\":7,\"b\":true,"
        "\"err\":\"No such file or directory\",\"d\":1500000000,"
        "\"n\":\"a\\u0000b\",\"null\":\"\"}\n");
}

static void test_time(void **state)
{
    (void)state;
    static const struct {
        int64_t s;
        const char *want;
    } cases[] = {
        {0, "1970-01-01T00:00:00.000Z"},
        {951868799, "2000-02-29T23:59:59.000Z"},
        {946684799, "1999-12-31T23:59:59.000Z"},
        {4107542400, "2100-03-01T00:00:00.000Z"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char line[GLOG_LINE_MAX], want[128];
        size_t n = glog_render(line, sizeof line, GLOG_LOGFMT,
                               cases[i].s * 1000000000 + 999999, GLOG_INFO, "t",
                               &GLOG_END);
        line[n] = 0;
        snprintf(want, sizeof want, "time=%s level=info msg=t\n",
                 cases[i].want);
        assert_string_equal(line, want);
    }
}

/* ---- quoting and escaping ----------------------------------------------- */

static void test_logfmt_quoting(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"plain", "plain"},
        {"", "\"\""},
        {"a b", "\"a b\""},
        {"a=b", "\"a=b\""},
        {"say \"hi\"", "\"say \\\"hi\\\"\""},
        {"C:\\dir", "C:\\dir"}, /* a lone backslash stays bare (slog) */
        {"a\\ b", "\"a\\\\ b\""},
        {"two\nlines\r\t", "\"two\\nlines\\r\\t\""},
        {"bell\x07"
         "del\x7f",
         "\"bell\\x07del\\x7f\""},
        {"bad\xff\xc0\xaf", "\"bad\\xff\\xc0\\xaf\""},
        {"cut\xe2\x82", "\"cut\\xe2\\x82\""},
        {"h\xc3\xa9llo", "h\xc3\xa9llo"},
        {"nel\xc2\x85", "\"nel\\u0085\""},
        {"ls\xe2\x80\xa8", "\"ls\\u2028\""},
        {"/tmp/x.so", "/tmp/x.so"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char want[256];
        snprintf(want, sizeof want,
                 "time=2026-12-04T13:37:00.123Z level=info msg=m v=%s\n",
                 cases[i].want);
        assert_string_equal(
            RENDER(GLOG_LOGFMT, GLOG_INFO, "m", GLOG_STR("v", cases[i].in)),
            want);
    }
}

static void test_json_escaping(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"say \"hi\" \\o/", "say \\\"hi\\\" \\\\o/"},
        {"two\nlines\r\t\b", "two\\nlines\\r\\t\\u0008"},
        {"\x01\x1f\x7f", "\\u0001\\u001f\\u007f"},
        {"bad\xff\xc0\xaf.", "bad\\ufffd\\ufffd\\ufffd."},
        {"h\xc3\xa9llo \xf0\x9f\x98\x80", "h\xc3\xa9llo \xf0\x9f\x98\x80"},
        {"ls\xe2\x80\xa8\xc2\x85", "ls\\u2028\\u0085"},
        {"a=b c", "a=b c"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char want[256];
        snprintf(want, sizeof want,
                 "{\"time\":\"2026-12-04T13:37:00.123Z\",\"level\":\"info\","
                 "\"msg\":\"m\",\"v\":\"%s\"}\n",
                 cases[i].want);
        assert_string_equal(
            RENDER(GLOG_JSON, GLOG_INFO, "m", GLOG_STR("v", cases[i].in)),
            want);
    }
}

/* Deterministic bytes, biased towards what needs escaping. */
static uint64_t rng = 88172645463325252ULL;

static unsigned rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)rng;
}

static size_t hostile(char *buf, size_t max)
{
    static const char *const bits[] = {
        "\"",       "\\",
        "=",        " ",
        "\n",       "\r",
        "\t",       "\x01",
        "\x7f",     "\xff",
        "\xc3\xa9", "\xe2\x80\xa8",
        "\xc2\x85", "\xf0\x9f\x98\x80",
        "\xe2\x82", "\xed\xa0\x80",
        "a",        "Z",
        "0",        "/",
        "{",        "}",
        ",",        ":",
        "\0",
    };
    size_t n = 0, nb = sizeof bits / sizeof bits[0];
    size_t want = rnd() % max;
    while (n < want) {
        unsigned b = rnd() % nb;
        size_t k = b == nb - 1 ? 1 : strlen(bits[b]);
        if (n + k > max)
            break;
        memcpy(buf + n, bits[b], k);
        n += k;
    }
    return n;
}

/* What a JSON reader gets back: each invalid byte becomes U+FFFD. */
static size_t json_expected(const char *in, size_t n, char *outb)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        char tmp[8] = {0};
        memcpy(tmp, in + i, n - i < 4 ? n - i : 4);
        size_t k = utf8_ok((const unsigned char *)tmp);
        if (k == 0) {
            o += utf8_put(outb + o, 0xfffd);
            i++;
            continue;
        }
        memcpy(outb + o, in + i, k);
        o += k, i += k;
    }
    return o;
}

static void test_hostile_roundtrip(void **state)
{
    (void)state;
    static struct kv kv[8];
    char msg[300], val[300], want[1200];
    for (int round = 0; round < 3000; round++) {
        size_t ml = hostile(msg, 100), vl = hostile(val, 300);
        struct glog_field f[] = {GLOG_STRN("v", val, vl), GLOG_END};
        for (int fmt = 0; fmt < 2; fmt++) {
            size_t n = glog_render(out, sizeof out, fmt, T0, GLOG_WARN,
                                   (msg[ml] = 0, msg), f);
            out[n] = 0;
            assert_ptr_equal(memchr(out, '\n', n), out + n - 1);
            int np = parse(fmt, out, kv, 8);
            assert_int_equal(np, 4);
            assert_string_equal(kv[2].key, "msg");
            assert_string_equal(kv[3].key, "v");
            const char *m = msg;
            size_t mlen = strlen(msg);
            if (fmt == GLOG_JSON) {
                size_t wl = json_expected(val, vl, want);
                assert_int_equal(kv[3].len, wl);
                assert_memory_equal(kv[3].val, want, wl);
                mlen = json_expected(msg, mlen, want);
                m = want;
            } else {
                assert_int_equal(kv[3].len, vl);
                assert_memory_equal(kv[3].val, val, vl);
            }
            assert_int_equal(kv[2].len, mlen);
            assert_memory_equal(kv[2].val, m, mlen);
        }
    }
}

/* ---- truncation --------------------------------------------------------- */

/* Cut at every length: always one parseable line within cap that ends in
 * truncated=true, with each value a prefix of the original. */
static void cut_everywhere(enum glog_format fmt, const char *val)
{
    static struct kv kv[8];
    struct glog_field f[] = {GLOG_INT("n", 12345), GLOG_STR("v", val),
                             GLOG_STR("tail", "end"), GLOG_END};
    char buf[GLOG_LINE_MAX + 1], full[GLOG_LINE_MAX + 1];
    size_t whole =
        glog_render(full, sizeof full, fmt, T0, GLOG_INFO, "message", f);
    full[whole] = 0;
    assert_null(strstr(full, "truncated"));
    for (size_t cap = GLOG_RENDER_MIN; cap < whole + 32; cap++) {
        size_t n = glog_render(buf, cap, fmt, T0, GLOG_INFO, "message", f);
        buf[n] = 0;
        assert_true(n <= cap);
        if (cap >= whole + 32 - 8 || strcmp(buf, full) == 0) {
            /* Room for all of it (the cutting reserve included): whole. */
            assert_string_equal(buf, full);
            continue;
        }
        assert_true(n + 48 >= cap); /* cut at the limit, not before */
        assert_ptr_equal(memchr(buf, '\n', n), buf + n - 1);
        int np = parse(fmt, buf, kv, 8);
        if (np < 0)
            fail_msg("cap %zu: malformed: %s", cap, buf);
        const struct kv *t = find(kv, np, "truncated");
        assert_non_null(t);
        assert_string_equal(t->val, "true");
        assert_ptr_equal(t, &kv[np - 1]);
        /* The fields that made it are the first ones, in order, each
         * whole or (a string) cut between two characters. */
        static const char *const keys[] = {"time", "level", "msg",
                                           "n",    "v",     "tail"};
        const char *vals[] = {NULL, NULL, "message", "12345", val, "end"};
        for (int i = 0; i < np - 1; i++) {
            assert_string_equal(kv[i].key, keys[i]);
            if (i == 3) /* not a string: whole */
                assert_string_equal(kv[i].val, "12345");
            else if (vals[i])
                assert_true(kv[i].len <= strlen(vals[i]) &&
                            memcmp(kv[i].val, vals[i], kv[i].len) == 0);
        }
    }
}

static char long_val[1500];

static void fill_long(const char *unit)
{
    size_t k = strlen(unit), n = 0;
    while (n + k < sizeof long_val) {
        memcpy(long_val + n, unit, k);
        n += k;
    }
    long_val[n] = 0;
}

static void test_truncation_logfmt(void **state)
{
    (void)state;
    fill_long("\"q\" \xc3\xa9\n\\");
    cut_everywhere(GLOG_LOGFMT, long_val);
    fill_long("bare/path");
    cut_everywhere(GLOG_LOGFMT, long_val);
}

static void test_truncation_json(void **state)
{
    (void)state;
    fill_long("\"q\" \xc3\xa9\x01\\\xe2\x80\xa8");
    cut_everywhere(GLOG_JSON, long_val);
}

/* ---- the emitting path: fd, clock, levels, threads ---------------------- */

static int64_t fixed_clock(void)
{
    return T0;
}

static int pfd[2];

static int pipe_setup(void **state)
{
    (void)state;
    if (pipe(pfd) < 0)
        return -1;
    fcntl(pfd[0], F_SETFL, O_NONBLOCK);
    glog_set_fd(pfd[1]);
    glog_set_clock(fixed_clock);
    glog_setup(GLOG_LOGFMT, GLOG_INFO);
    return 0;
}

static int pipe_teardown(void **state)
{
    (void)state;
    glog_set_fd(2);
    glog_set_clock(NULL);
    glog_setup(GLOG_LOGFMT, GLOG_INFO);
    close(pfd[0]);
    close(pfd[1]);
    return 0;
}

/* What the pipe holds now ("" when nothing). */
static const char *drain_pipe(void)
{
    static char buf[4 * GLOG_LINE_MAX];
    ssize_t n = read(pfd[0], buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    return buf;
}

static int evaluated;

static const char *touch(void)
{
    evaluated++;
    return "v";
}

static void test_emit_and_levels(void **state)
{
    (void)state;
    glog_info("serving HTTP", GLOG_STR("addr", "127.0.0.1:8080"),
              GLOG_INT("gomaxprocs", 2));
    assert_string_equal(drain_pipe(),
                        "time=2026-12-04T13:37:00.123Z level=info "
                        "msg=\"serving HTTP\" addr=127.0.0.1:8080 "
                        "gomaxprocs=2\n");
    glog_debug("hidden", GLOG_STR("k", touch()));
    assert_string_equal(drain_pipe(), "");
    assert_int_equal(evaluated, 0); /* fields of a dropped record: never */

    glog_setup(GLOG_JSON, GLOG_WARN);
    glog_info("hidden", GLOG_STR("k", touch()));
    assert_int_equal(evaluated, 0);
    glog_error("shown", GLOG_STR("k", touch()));
    assert_int_equal(evaluated, 1);
    assert_string_equal(drain_pipe(),
                        "{\"time\":\"2026-12-04T13:37:00.123Z\",\"level\":"
                        "\"error\",\"msg\":\"shown\",\"k\":\"v\"}\n");

    glog_setup(GLOG_LOGFMT, GLOG_DEBUG);
    glog_at(GLOG_DEBUG, "dbg");
    assert_string_equal(drain_pipe(),
                        "time=2026-12-04T13:37:00.123Z level=debug msg=dbg\n");
}

static void test_emit_keeps_errno(void **state)
{
    (void)state;
    glog_set_fd(-1); /* the write fails with EBADF */
    errno = ERANGE;
    glog_error("x", GLOG_ERRNO("err", errno));
    assert_int_equal(errno, ERANGE);
    glog_set_fd(pfd[1]);
}

static void test_emit_overlong(void **state)
{
    (void)state;
    static char big[3 * GLOG_LINE_MAX];
    memset(big, 'x', sizeof big - 1);
    glog_warn("big", GLOG_STR("v", big), GLOG_INT("after", 1));
    const char *line = drain_pipe();
    size_t n = strlen(line);
    assert_true(n <= GLOG_LINE_MAX && n > GLOG_LINE_MAX - 64);
    assert_ptr_equal(strchr(line, '\n'), line + n - 1);
    assert_string_equal(line + n - 16, " truncated=true\n");
}

static int parse_level_format(void)
{
    enum glog_level l;
    enum glog_format f;
    static const char *const good_l[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (glog_level_parse(good_l[i], &l) < 0 || (int)l != i ||
            strcmp(glog_level_name(l), good_l[i]) != 0)
            return -1;
    }
    if (glog_format_parse("logfmt", &f) < 0 || f != GLOG_LOGFMT ||
        glog_format_parse("json", &f) < 0 || f != GLOG_JSON)
        return -1;
    static const char *const bad[] = {"",    "INFO", "warning",
                                      "xml", "text", NULL};
    for (int i = 0; i < 6; i++)
        if (glog_level_parse(bad[i], &l) == 0 ||
            glog_format_parse(bad[i], &f) == 0)
            return -1;
    return 0;
}

static void test_parse_names(void **state)
{
    (void)state;
    assert_int_equal(parse_level_format(), 0);
}

/* ---- threads ------------------------------------------------------------ */

#define THREADS 8
#define PER_THREAD 400

static void *logger_thread(void *arg)
{
    int t = (int)(intptr_t)arg;
    static char pads[THREADS][2 * GLOG_LINE_MAX];
    memset(pads[t], 'a' + t, sizeof pads[t]);
    for (int i = 0; i < PER_THREAD; i++) {
        size_t len = (size_t)(i * 97 + t * 13) % (2 * GLOG_LINE_MAX);
        glog_info("concurrent", GLOG_INT("t", t), GLOG_INT("seq", i),
                  GLOG_UINT("len", len), GLOG_STRN("pad", pads[t], len));
    }
    return NULL;
}

struct sink {
    int fd;
    char *buf;
    size_t len, cap;
};

static void *reader_thread(void *arg)
{
    struct sink *s = arg;
    for (;;) {
        if (s->cap - s->len < 65536) {
            s->cap = s->cap * 2 + 65536;
            s->buf = realloc(s->buf, s->cap);
            if (!s->buf)
                abort();
        }
        ssize_t n = read(s->fd, s->buf + s->len, s->cap - s->len - 1);
        if (n <= 0)
            break;
        s->len += (size_t)n;
    }
    s->buf[s->len] = 0;
    return NULL;
}

static void check_line(const char *line, int next[THREADS])
{
    static struct kv kv[16];
    int n = lf_parse(line, kv, 16);
    if (n < 0)
        fail_msg("not one whole line: %.200s", line);
    const struct kv *t = find(kv, n, "t"), *seq = find(kv, n, "seq"),
                    *len = find(kv, n, "len"), *pad = find(kv, n, "pad");
    assert_non_null(t);
    assert_non_null(seq);
    assert_non_null(len);
    int ti = atoi(t->val);
    assert_true(ti >= 0 && ti < THREADS);
    assert_int_equal(atoi(seq->val), next[ti]++);
    size_t want = (size_t)strtoul(len->val, NULL, 10);
    int cut = find(kv, n, "truncated") != NULL;
    size_t got = pad ? pad->len : 0;
    if (cut ? got >= want : got != want)
        fail_msg("t=%d len=%zu: pad of %zu, %s: %.300s", ti, want, got,
                 cut ? "truncated" : "whole", line);
    for (size_t i = 0; i < got; i++)
        assert_int_equal(pad->val[i], 'a' + ti);
}

static void test_threads_whole_lines(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    glog_set_fd(p[1]);
    struct sink s = {p[0], NULL, 0, 0};
    pthread_t r, w[THREADS];
    assert_int_equal(pthread_create(&r, NULL, reader_thread, &s), 0);
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(
            pthread_create(&w[t], NULL, logger_thread, (void *)(intptr_t)t), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(w[t], NULL);
    glog_set_fd(pfd[1]);
    close(p[1]);
    pthread_join(r, NULL);
    close(p[0]);

    int next[THREADS] = {0}, lines = 0;
    char *line = s.buf;
    for (char *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        char save = nl[1];
        nl[1] = 0;
        check_line(line, next);
        nl[1] = save;
        lines++;
    }
    assert_int_equal(*line, 0); /* nothing after the last newline */
    assert_int_equal(lines, THREADS * PER_THREAD);
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(next[t], PER_THREAD);
    free(s.buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logfmt_exact),
        cmocka_unit_test(test_json_exact),
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_logfmt_quoting),
        cmocka_unit_test(test_json_escaping),
        cmocka_unit_test(test_hostile_roundtrip),
        cmocka_unit_test(test_truncation_logfmt),
        cmocka_unit_test(test_truncation_json),
        cmocka_unit_test(test_parse_names),
        cmocka_unit_test_setup_teardown(test_emit_and_levels, pipe_setup,
                                        pipe_teardown),
        cmocka_unit_test_setup_teardown(test_emit_keeps_errno, pipe_setup,
                                        pipe_teardown),
        cmocka_unit_test_setup_teardown(test_emit_overlong, pipe_setup,
                                        pipe_teardown),
        cmocka_unit_test_setup_teardown(test_threads_whole_lines, pipe_setup,
                                        pipe_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
