/* fuzz_writers.c — libFuzzer target for the writers that put outside
 * strings into structured text: the Prometheus page (server/admin/prom.c,
 * metrics.c), the dashboard's JSON (statsjson.c), the logger's records
 * (server/log.c, logfmt and JSON) and the access log's lines
 * (server/http/accesslog.c).
 *
 * An input is strings separated by NUL bytes: route patterns, plugin names
 * and versions, label values, header values, log field values; anything
 * goes (quotes, newlines, backslashes, invalid UTF-8). Checked:
 *   - /metrics parses line by line as the text format 0.0.4 (HELP, TYPE,
 *     samples with escaped label values, numbers), is valid UTF-8, and
 *     every label value that was valid UTF-8 reads back unchanged;
 *   - stats.json is one valid JSON document (a strict validator below:
 *     RFC 8259 grammar, escapes, UTF-8) and each plugin name that was
 *     valid UTF-8 reads back unchanged;
 *   - a log record is one line whatever the values, within the buffer it
 *     was given, and in JSON a valid JSON object;
 *   - an access log line is one line of printable ASCII, within
 *     ACCESSLOG_LINE_MAX, with exactly the six quotes of its format and
 *     every backslash starting a \xHH escape.
 *
 *   build-asan/tests/fuzz/fuzz_writers /tmp/corpus tests/fuzz/corpus/writers
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/metrics.h"
#include "admin/prom.h"
#include "admin/statsjson.h"
#include "http/accesslog.h"
#include "log.h"

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_writers: %s:%d: check failed: %s\n",         \
                    __FILE__, __LINE__, #cond);                                \
            abort();                                                           \
        }                                                                      \
    } while (0)

#define MAX_STRS 8

/* ---- UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF) -------- */

/* Length of the well-formed sequence at p, or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t len;
    uint32_t cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return len;
}

static int utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_len(p + i, n - i);
        if (l == 0)
            return 0;
        i += l;
    }
    return 1;
}

/* Appends code point cp to out as UTF-8. */
static size_t utf8_put(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* ---- strings read back ----------------------------------------------------
 */

/* What a page's strings decoded to, to look the inputs up in. */
struct seen {
    char *v[4096];
    size_t len[4096];
    size_t n;
};

static void seen_add(struct seen *s, const char *v, size_t len)
{
    if (s->n == sizeof s->v / sizeof s->v[0])
        return;
    s->v[s->n] = malloc(len + 1);
    CHECK(s->v[s->n] != NULL);
    memcpy(s->v[s->n], v, len);
    s->len[s->n++] = len;
}

static int seen_has(const struct seen *s, const char *v)
{
    size_t len = strlen(v);
    for (size_t i = 0; i < s->n; i++)
        if (s->len[i] == len && memcmp(s->v[i], v, len) == 0)
            return 1;
    return s->n == sizeof s->v / sizeof s->v[0]; /* full: cannot tell */
}

static void seen_free(struct seen *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    s->n = 0;
}

/* ---- the Prometheus text format 0.0.4 ------------------------------------ */

static int name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           c == ':';
}

static int name_char(char c)
{
    return name_start(c) || (c >= '0' && c <= '9');
}

/* A metric name at *p (colons allowed when metric). */
static int prom_name(const char **p, const char *end, int metric)
{
    const char *s = *p;
    if (s == end || !name_start(*s) || (!metric && *s == ':'))
        return 0;
    while (s < end && name_char(*s) && (metric || *s != ':'))
        s++;
    *p = s;
    return 1;
}

static int prom_number(const char *s, const char *end)
{
    char tmp[64];
    size_t n = (size_t)(end - s);

    if (n == 0 || n >= sizeof tmp)
        return 0;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (!strcmp(tmp, "+Inf") || !strcmp(tmp, "-Inf") || !strcmp(tmp, "NaN"))
        return 1;
    char *e;
    (void)strtod(tmp, &e);
    return *e == '\0' && (tmp[0] == '-' || (tmp[0] >= '0' && tmp[0] <= '9'));
}

/* A label value between quotes, unescaped into seen. */
static int prom_label_value(const char **p, const char *end, struct seen *sn)
{
    const char *s = *p;
    char *val = malloc((size_t)(end - s) + 1);
    size_t n = 0;

    CHECK(val != NULL);
    if (s == end || *s++ != '"') {
        free(val);
        return 0;
    }
    while (s < end && *s != '"') {
        if (*s == '\\') {
            if (s + 1 == end || !strchr("\\\"n", s[1])) {
                free(val);
                return 0;
            }
            val[n++] = s[1] == 'n' ? '\n' : s[1];
            s += 2;
        } else {
            val[n++] = *s++;
        }
    }
    if (s == end) {
        free(val);
        return 0;
    }
    seen_add(sn, val, n);
    free(val);
    *p = s + 1;
    return 1;
}

static int prom_sample_line(const char *s, const char *end, struct seen *sn)
{
    if (!prom_name(&s, end, 1))
        return 0;
    if (s < end && *s == '{') {
        s++;
        while (s < end && *s != '}') {
            if (!prom_name(&s, end, 0) || s == end || *s++ != '=' ||
                !prom_label_value(&s, end, sn))
                return 0;
            if (s < end && *s == ',')
                s++;
            else if (s < end && *s != '}')
                return 0;
        }
        if (s == end)
            return 0;
        s++;
    }
    if (s == end || *s++ != ' ')
        return 0;
    const char *sp = memchr(s, ' ', (size_t)(end - s));
    if (!prom_number(s, sp ? sp : end))
        return 0;
    if (sp) { /* a timestamp: an integer */
        for (const char *t = sp + 1; t < end; t++)
            if (!((*t >= '0' && *t <= '9') || (t == sp + 1 && *t == '-')))
                return 0;
        return end > sp + 1;
    }
    return 1;
}

static int prom_line(const char *s, const char *end, struct seen *sn)
{
    if (!utf8_valid(s, (size_t)(end - s)))
        return 0;
    if (s == end)
        return 1;
    if (*s != '#')
        return prom_sample_line(s, end, sn);
    size_t n = (size_t)(end - s);
    if (n >= 7 && (!memcmp(s, "# HELP ", 7) || !memcmp(s, "# TYPE ", 7))) {
        int help = s[2] == 'H';
        const char *p = s + 7;
        if (!prom_name(&p, end, 1))
            return 0;
        if (p == end)
            return help; /* an empty help text */
        if (*p++ != ' ')
            return 0;
        if (!help) {
            size_t k = (size_t)(end - p);
            static const char *const types[] = {"counter", "gauge", "histogram",
                                                "summary", "untyped"};
            for (size_t i = 0; i < 5; i++)
                if (strlen(types[i]) == k && !memcmp(p, types[i], k))
                    return 1;
            return 0;
        }
        for (; p < end; p++)
            if (*p == '\\' && (++p == end || (*p != '\\' && *p != 'n')))
                return 0;
        return 1;
    }
    return 1; /* a comment */
}

static void check_prom_page(const char *page, size_t len, struct seen *sn)
{
    CHECK(len == 0 || page[len - 1] == '\n');
    for (const char *s = page, *end = page + len; s < end;) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        CHECK(nl != NULL);
        if (!prom_line(s, nl, sn)) {
            fprintf(stderr, "bad line: %.*s\n", (int)(nl - s), s);
            CHECK(!"a line of the text format");
        }
        s = nl + 1;
    }
}

/* ---- JSON (RFC 8259), strict ------------------------------------------- */

struct js {
    const char *p, *end;
    int depth;
    struct seen *strings;
};

static void js_ws(struct js *j)
{
    while (j->p < j->end && strchr(" \t\n\r", *j->p) && *j->p)
        j->p++;
}

static int js_hex4(const char *p, uint32_t *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int h = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (h < 0)
            return 0;
        *v = *v << 4 | (uint32_t)h;
    }
    return 1;
}

static int js_string(struct js *j)
{
    const char *s = j->p;
    char *out = malloc((size_t)(j->end - s) * 2 + 8);
    size_t n = 0;
    int ok = 0;

    CHECK(out != NULL);
    if (s == j->end || *s++ != '"')
        goto done;
    while (s < j->end && *s != '"') {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20)
            goto done;
        if (c != '\\') {
            size_t l = utf8_len((const unsigned char *)s, (size_t)(j->end - s));
            if (l == 0)
                goto done;
            memcpy(out + n, s, l);
            n += l;
            s += l;
            continue;
        }
        if (++s == j->end)
            goto done;
        const char *simple = strchr("\"\\/bfnrt", *s);
        if (simple && *s) {
            static const char map[] = "\"\\/\b\f\n\r\t";
            out[n++] = map[simple - "\"\\/bfnrt"];
            s++;
            continue;
        }
        uint32_t cp, lo;
        if (*s != 'u' || j->end - s < 5 || !js_hex4(s + 1, &cp))
            goto done;
        s += 5;
        if (cp >= 0xdc00 && cp <= 0xdfff)
            goto done; /* a lone low surrogate */
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (j->end - s < 6 || s[0] != '\\' || s[1] != 'u' ||
                !js_hex4(s + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
                goto done;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            s += 6;
        }
        n += utf8_put(cp, out + n);
    }
    if (s == j->end)
        goto done;
    j->p = s + 1;
    if (j->strings)
        seen_add(j->strings, out, n);
    ok = 1;
done:
    free(out);
    return ok;
}

static int js_number(struct js *j)
{
    const char *s = j->p;
    if (s < j->end && *s == '-')
        s++;
    if (s == j->end || !(*s >= '0' && *s <= '9'))
        return 0;
    if (*s == '0')
        s++;
    else
        while (s < j->end && *s >= '0' && *s <= '9')
            s++;
    if (s < j->end && *s == '.') {
        if (++s == j->end || !(*s >= '0' && *s <= '9'))
            return 0;
        while (s < j->end && *s >= '0' && *s <= '9')
            s++;
    }
    if (s < j->end && (*s == 'e' || *s == 'E')) {
        s++;
        if (s < j->end && (*s == '+' || *s == '-'))
            s++;
        if (s == j->end || !(*s >= '0' && *s <= '9'))
            return 0;
        while (s < j->end && *s >= '0' && *s <= '9')
            s++;
    }
    j->p = s;
    return 1;
}

static int js_lit(struct js *j, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n))
        return 0;
    j->p += n;
    return 1;
}

static int js_value(struct js *j);

static int js_seq(struct js *j, char close, int object)
{
    j->p++;
    js_ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        return 1;
    }
    for (;;) {
        if (object) {
            if (!js_string(j))
                return 0;
            js_ws(j);
            if (j->p == j->end || *j->p++ != ':')
                return 0;
        }
        if (!js_value(j))
            return 0;
        js_ws(j);
        if (j->p == j->end)
            return 0;
        if (*j->p == close) {
            j->p++;
            return 1;
        }
        if (*j->p++ != ',')
            return 0;
        js_ws(j);
    }
}

static int js_value(struct js *j)
{
    int ok;

    js_ws(j);
    if (j->p == j->end || ++j->depth > 64)
        return 0;
    switch (*j->p) {
    case '{':
        ok = js_seq(j, '}', 1);
        break;
    case '[':
        ok = js_seq(j, ']', 0);
        break;
    case '"':
        ok = js_string(j);
        break;
    case 't':
        ok = js_lit(j, "true");
        break;
    case 'f':
        ok = js_lit(j, "false");
        break;
    case 'n':
        ok = js_lit(j, "null");
        break;
    default:
        ok = js_number(j);
    }
    j->depth--;
    return ok;
}

/* One JSON document, alone in s[0..n) but for whitespace. */
static int json_valid(const char *s, size_t n, struct seen *strings)
{
    struct js j = {.p = s, .end = s + n, .strings = strings};
    if (!js_value(&j))
        return 0;
    js_ws(&j);
    return j.p == j.end;
}

/* ---- the writers ------------------------------------------------------- */

static void copy_name(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s);
}

static void fuzz_prom(const char *const *str, size_t n)
{
    struct prom_writer w;
    struct seen sn = {0};
    static struct plugin_status plugins[MAX_STRS];
    struct metrics_route routes[MAX_STRS];
    struct metrics_source src = {.with_plugins = true, .with_ops = true};

    prom_init(&w);
    /* The writer's own API, every value and help text hostile. */
    prom_family(&w, "fuzz_total", PROM_COUNTER, str[0]);
    for (size_t i = 0; i < n; i++) {
        struct prom_label l[2] = {{"a", str[i]}, {"b", str[(i + 1) % n]}};
        prom_sample_u64(&w, "fuzz_total", l, 2, i);
    }
    prom_family(&w, "fuzz_seconds", PROM_HISTOGRAM, "a histogram");
    double bounds[2] = {0.5, 1};
    uint64_t counts[3] = {1, 2, 3};
    struct prom_label hl = {"a", str[n - 1]};
    prom_histogram(&w, "fuzz_seconds", &hl, 1, bounds, counts, 2, 1.25);
    prom_sample_f64(&w, "fuzz_total", &hl, 1, NAN);

    /* /metrics itself, plugins and routes named by the input. */
    for (size_t i = 0; i < n; i++) {
        memset(&plugins[i], 0, sizeof plugins[i]);
        copy_name(plugins[i].name, sizeof plugins[i].name, str[i]);
        copy_name(plugins[i].version, sizeof plugins[i].version,
                  str[(i + 1) % n]);
        plugins[i].requests = i;
        plugins[i].by_class[2] = i;
        routes[i] = (struct metrics_route){.pattern = (char *)str[i],
                                           .plugin = (char *)str[(i + 2) % n]};
        routes[i].by_class[2] = 1;
    }
    src.plugins = plugins;
    src.nplugins = n;
    src.routes = routes;
    src.nroutes = n;
    metrics_write(&w, &src);
    CHECK(!w.out.failed && w.dropped == 0);
    check_prom_page(w.out.buf, w.out.len, &sn);
    for (size_t i = 0; i < n; i++)
        if (utf8_valid(str[i], strlen(str[i])))
            CHECK(seen_has(&sn, str[i]));
    seen_free(&sn);
    prom_free(&w);
}

static void fuzz_statsjson(const char *const *str, size_t n)
{
    static struct plugin_status plugins[MAX_STRS];
    struct metrics_source src = {.with_plugins = true};
    struct textbuf t = {0};
    struct seen sn = {0};

    for (size_t i = 0; i < n; i++) {
        memset(&plugins[i], 0, sizeof plugins[i]);
        copy_name(plugins[i].name, sizeof plugins[i].name, str[i]);
        copy_name(plugins[i].version, sizeof plugins[i].version,
                  str[(i + 1) % n]);
    }
    src.plugins = plugins;
    src.nplugins = n;
    statsjson_write(&t, &src);
    CHECK(!t.failed && t.len > 0 && t.buf[t.len - 1] == '\n');
    CHECK(json_valid(t.buf, t.len, &sn));
    for (size_t i = 0; i < n; i++)
        if (utf8_valid(plugins[i].name, strlen(plugins[i].name)))
            CHECK(seen_has(&sn, plugins[i].name));
    seen_free(&sn);
    textbuf_free(&t);
}

static void check_record(const char *buf, size_t len, size_t cap, int json)
{
    CHECK(len > 0 && len <= cap);
    CHECK(buf[len - 1] == '\n');
    CHECK(memchr(buf, '\n', len - 1) == NULL);
    CHECK(memchr(buf, '\r', len) == NULL);
    if (json)
        CHECK(json_valid(buf, len - 1, NULL));
}

static void fuzz_log(const char *const *str, size_t n, size_t cap)
{
    struct glog_field f[MAX_STRS + 4];
    size_t k = 0;
    static const char *const keys[] = {"plugin", "target", "path", "err",
                                       "name",   "value",  "host", "ua"};
    char *buf = malloc(cap);

    CHECK(buf != NULL);
    for (size_t i = 0; i < n; i++)
        f[k++] = i % 2 ? GLOG_STRN(keys[i], str[i], strlen(str[i]) + 1)
                       : GLOG_STR(keys[i], str[i]);
    f[k++] = GLOG_INT("n", -42);
    f[k++] = GLOG_DUR("took", 1500000);
    f[k++] = GLOG_ERRNO("errno", 2);
    f[k] = GLOG_END;
    for (int json = 0; json < 2; json++) {
        size_t len = glog_render(buf, cap, json ? GLOG_JSON : GLOG_LOGFMT,
                                 1764892800123000000LL, GLOG_WARN, str[0], f);
        check_record(buf, len, cap, json);
    }
    free(buf);
}

static void fuzz_accesslog(const char *const *str, size_t n)
{
    char *line = malloc(ACCESSLOG_LINE_MAX);
    struct accesslog_entry e = {
        .remote = str[0],
        .method = str[1 % n],
        .target = str[2 % n],
        .proto = str[3 % n],
        .referer = str[4 % n],
        .user_agent = str[5 % n],
        .status = 200,
        .body_bytes = 5,
        .duration_ns = 1234567,
    };

    CHECK(line != NULL);
    for (int variant = 0; variant < 2; variant++) {
        if (variant)
            e.method = NULL; /* refused before a request line */
        char *end = accesslog_format_line(line, &e);
        size_t len = (size_t)(end - line);
        int quotes = 0;
        CHECK(len > 0 && len <= ACCESSLOG_LINE_MAX && end[-1] == '\n');
        for (size_t i = 0; i + 1 < len; i++) {
            unsigned char c = (unsigned char)line[i];
            CHECK(c >= 0x20 && c < 0x7f);
            quotes += c == '"';
            if (c == '\\') {
                CHECK(i + 3 < len && line[i + 1] == 'x');
                CHECK(strchr("0123456789ABCDEFabcdef", line[i + 2]) &&
                      strchr("0123456789ABCDEFabcdef", line[i + 3]));
            }
        }
        CHECK(quotes == 6);
    }
    free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    const char *str[MAX_STRS];
    size_t n = 0;

    CHECK(copy != NULL);
    memcpy(copy, data, size);
    copy[size] = '\0';
    for (char *s = copy; n < MAX_STRS && s <= copy + size; s += strlen(s) + 1)
        str[n++] = s;

    fuzz_prom(str, n);
    fuzz_statsjson(str, n);
    fuzz_log(str, n, GLOG_LINE_MAX);
    fuzz_log(str, n, GLOG_RENDER_MIN + size % 256);
    fuzz_accesslog(str, n);
    free(copy);
    return 0;
}
