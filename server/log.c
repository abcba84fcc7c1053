/* log.c — gortd's logger: records in logfmt or JSON, one write(2) each.
 *
 * A record is formatted into a buffer on the caller's stack, GLOG_LINE_MAX
 * (= PIPE_BUF) bytes, and handed to the kernel with a single write(2) on
 * fd 2. Threads share nothing but a few relaxed atomics (level, format, fd,
 * clock), so there is no lock: the runtime's Ms, the gRPC control thread
 * and the signal thread log concurrently and the kernel orders whole
 * records. A write of at most PIPE_BUF bytes to a pipe is atomic by POSIX
 * (even against other processes sharing it); a regular file or a terminal
 * takes each write whole in practice. stdio was the old way and is what
 * this replaces: an unbuffered stderr splits one fprintf into several
 * writes, so two threads could interleave inside a line.
 *
 * A record that does not fit is cut, never split: each field goes in whole
 * or not at all, except a string value, which may be cut between two
 * characters (never inside an escape or a UTF-8 sequence) and is then
 * closed properly; the record then ends with truncated=true. GLOG_RESERVE
 * bytes are kept back for that closing, so the cut never needs to undo
 * anything but the field it is in.
 *
 * Quoting follows Go's log/slog, which people reading these logs know:
 *   logfmt  a value is bare unless it is empty or holds a space, '=', '"',
 *           a control character, invalid UTF-8 or a Unicode line breaker;
 *           quoted, '"' '\' and \n \r \t are backslash-escaped, other
 *           control and invalid bytes are \xNN, C1 controls and U+2028/9
 *           \uNNNN. A record is one line whatever its values hold.
 *   JSON    RFC 8259 strings: controls as \n \r \t \b \f or \u00NN, DEL
 *           and U+2028/9 as \uNNNN, invalid UTF-8 as \ufffd (as Go's
 *           encoding/json), so every line parses.
 * Durations are Go's Duration.String in logfmt and integer nanoseconds in
 * JSON, as slog writes them.
 *
 * Rejected: a logger thread fed through a ring (asynchronous writes). The
 * records that matter most are the last ones before an abort(), which a
 * queue would lose, and gortd logs events, not requests, so a synchronous
 * write costs nothing measurable. A write to a full pipe blocks the thread
 * that logs, as fprintf did.
 */
#include "log.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/duration.h"
#include "common/utf8.h"

/* Room for what closes a cut record: '"', the truncated field, '}', '\n'. */
#define GLOG_RESERVE 24

_Atomic int glog_threshold = GLOG_INFO;
static _Atomic int log_format = GLOG_LOGFMT;
static _Atomic int log_fd = 2;
static int64_t (*_Atomic log_clock)(void);

static const char *const level_names[] = {"debug", "info", "warn", "error"};
static const char *const format_names[] = {"logfmt", "json"};

/* ---- configuration ------------------------------------------------------ */

void glog_setup(enum glog_format format, enum glog_level min)
{
    atomic_store_explicit(&log_format, (int)format, memory_order_relaxed);
    atomic_store_explicit(&glog_threshold, (int)min, memory_order_relaxed);
}

static int name_find(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

int glog_level_parse(const char *s, enum glog_level *out)
{
    int i = name_find(level_names, 4, s);
    if (i < 0)
        return -1;
    *out = (enum glog_level)i;
    return 0;
}

int glog_format_parse(const char *s, enum glog_format *out)
{
    int i = name_find(format_names, 2, s);
    if (i < 0)
        return -1;
    *out = (enum glog_format)i;
    return 0;
}

const char *glog_level_name(enum glog_level level)
{
    return (unsigned)level < 4 ? level_names[level] : "error";
}

void glog_set_fd(int fd)
{
    atomic_store_explicit(&log_fd, fd, memory_order_relaxed);
}

void glog_set_clock(int64_t (*now)(void))
{
    atomic_store_explicit(&log_clock, now, memory_order_relaxed);
}

/* ---- the line buffer ---------------------------------------------------- */

struct line {
    char *p;
    size_t len;
    size_t cap; /* for content: the buffer less GLOG_RESERVE */
    bool full;  /* something did not fit: nothing more goes in */
};

/* All of s, or nothing (and the line is full). */
static bool put(struct line *l, const char *s, size_t n)
{
    if (l->full || n > l->cap - l->len) {
        l->full = true;
        return false;
    }
    memcpy(l->p + l->len, s, n);
    l->len += n;
    return true;
}

static bool put_str(struct line *l, const char *s)
{
    return put(l, s, strlen(s));
}

/* As much of s as fits: for runs of bytes that are each a whole unit. */
static void put_some(struct line *l, const char *s, size_t n)
{
    size_t room = l->full ? 0 : l->cap - l->len;
    if (n > room) {
        n = room;
        l->full = true;
    }
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

/* Into the reserve: only the closing of a record uses it. */
static void put_closing(struct line *l, const char *s)
{
    size_t n = strlen(s);
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

/* ---- scalars ------------------------------------------------------------ */

static size_t fmt_u64(char *buf, unsigned long long v)
{
    char tmp[24];
    size_t n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    return n;
}

static size_t fmt_i64(char *buf, long long v)
{
    if (v >= 0)
        return fmt_u64(buf, (unsigned long long)v);
    buf[0] = '-';
    return 1 + fmt_u64(buf + 1, 0ULL - (unsigned long long)v);
}

static void two(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
}

/* RFC 3339 in UTC with milliseconds, "2026-12-04T13:37:00.123Z" (24 bytes).
 * Civil date from days since 1970 by Howard Hinnant's algorithm: gmtime_r
 * takes glibc's time-zone lock, which the logger does not need. */
static void fmt_time(char out[24], int64_t unix_ns)
{
    if (unix_ns < 0)
        unix_ns = 0;
    int64_t secs = unix_ns / 1000000000, ms = unix_ns / 1000000 % 1000;
    int64_t days = secs / 86400, sod = secs % 86400;
    int64_t z = days + 719468, era = z / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    unsigned d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    unsigned m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    unsigned y = (unsigned)(yoe + era * 400 + (m <= 2));

    two(out, y / 100);
    two(out + 2, y % 100);
    out[4] = '-';
    two(out + 5, m);
    out[7] = '-';
    two(out + 8, d);
    out[10] = 'T';
    two(out + 11, (unsigned)(sod / 3600));
    out[13] = ':';
    two(out + 14, (unsigned)(sod / 60 % 60));
    out[16] = ':';
    two(out + 17, (unsigned)(sod % 60));
    out[19] = '.';
    out[20] = (char)('0' + ms / 100);
    two(out + 21, (unsigned)(ms % 100));
    out[23] = 'Z';
}

/* ---- strings ------------------------------------------------------------ */

/* Code points that are valid but must not appear raw: C1 controls (NEL
 * breaks lines in some viewers) and the Unicode line/paragraph separators. */
static bool rune_escaped(uint32_t c)
{
    return (c >= 0x80 && c <= 0x9f) || c == 0x2028 || c == 0x2029;
}

/* Bytes that go out as they are, inside a quoted string of either format. */
static bool plain_byte(unsigned char b)
{
    return b >= 0x20 && b < 0x7f && b != '"' && b != '\\';
}

static bool logfmt_needs_quotes(const unsigned char *s, size_t n)
{
    if (n == 0)
        return true;
    for (size_t i = 0; i < n;) {
        uint32_t c;
        if (s[i] < 0x80) {
            if (s[i] <= ' ' || s[i] == '=' || s[i] == '"' || s[i] == 0x7f)
                return true;
            i++;
            continue;
        }
        size_t k = utf8_decode(s + i, n - i, &c);
        if (k == 0 || rune_escaped(c))
            return true;
        i += k;
    }
    return false;
}

static const char hex[] = "0123456789abcdef";

static size_t escape_hex(char *out, char kind, uint32_t c, int digits)
{
    out[0] = '\\';
    out[1] = kind;
    for (int i = 0; i < digits; i++)
        out[2 + i] = hex[(c >> (4 * (digits - 1 - i))) & 15];
    return 2 + (size_t)digits;
}

/* The character at s as it goes inside quotes (at most 6 bytes) into out;
 * returns its length and sets *used to the bytes of s it stands for. */
static size_t escape_unit(enum glog_format f, const unsigned char *s, size_t n,
                          char out[8], size_t *used)
{
    uint32_t c = s[0];
    *used = 1;
    if (c >= 0x80) {
        *used = utf8_decode(s, n, &c);
        if (*used == 0) { /* an invalid byte */
            *used = 1;
            return f == GLOG_JSON ? escape_hex(out, 'u', 0xfffd, 4)
                                  : escape_hex(out, 'x', s[0], 2);
        }
        if (!rune_escaped(c)) {
            memcpy(out, s, *used);
            return *used;
        }
        return escape_hex(out, 'u', c, 4);
    }
    char named = c == '"' || c == '\\' ? (char)c
                 : c == '\n'           ? 'n'
                 : c == '\r'           ? 'r'
                 : c == '\t'           ? 't'
                                       : 0;
    if (named) {
        out[0] = '\\';
        out[1] = named;
        return 2;
    }
    return f == GLOG_LOGFMT ? escape_hex(out, 'x', c, 2)
                            : escape_hex(out, 'u', c, 4);
}

size_t glog_json_escape(const unsigned char *s, size_t n, char out[8],
                        size_t *used)
{
    return escape_unit(GLOG_JSON, s, n, out, used);
}

/* s escaped, as much as fits; stops at the first unit that does not. */
static void put_escaped(struct line *l, enum glog_format f,
                        const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n && !l->full) {
        size_t run = 0;
        while (i + run < n && plain_byte(s[i + run]))
            run++;
        put_some(l, (const char *)s + i, run);
        i += run;
        if (i == n || l->full)
            break;
        char unit[8];
        size_t used, len = escape_unit(f, s + i, n - i, unit, &used);
        if (!put(l, unit, len))
            break;
        i += used;
    }
}

/* A string value; false when not even its start fitted (the caller drops
 * the field). A cut value is still closed. */
static bool put_string(struct line *l, enum glog_format f, const char *str,
                       size_t n)
{
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    if (f == GLOG_LOGFMT && !logfmt_needs_quotes(s, n)) {
        size_t before = l->len;
        put_some(l, (const char *)s, n);
        return l->len > before;
    }
    if (!put(l, "\"", 1))
        return false;
    put_escaped(l, f, s, n);
    if (!put(l, "\"", 1))
        put_closing(l, "\"");
    return true;
}

/* ---- fields ------------------------------------------------------------- */

static bool put_key(struct line *l, enum glog_format f, const char *key)
{
    if (f == GLOG_JSON)
        return put(l, ",\"", 2) && put_str(l, key) && put(l, "\":", 2);
    return put(l, " ", 1) && put_str(l, key) && put(l, "=", 1);
}

/* The value of f; false when it did not fit at all. */
static bool put_value(struct line *l, enum glog_format fmt,
                      const struct glog_field *f)
{
    char buf[128];
    size_t n;
    switch (f->kind) {
    case GLOG_K_STR:
        return put_string(l, fmt, f->s, f->s ? strlen(f->s) : 0);
    case GLOG_K_STRN:
        return put_string(l, fmt, f->s, f->s ? f->n : 0);
    case GLOG_K_ERRNO: {
        const char *t =
            strerror_r(f->i < 0 ? (int)-f->i : (int)f->i, buf, sizeof buf);
        return put_string(l, fmt, t, strlen(t));
    }
    case GLOG_K_DUR:
        if (fmt == GLOG_JSON)
            return put(l, buf, fmt_i64(buf, f->i));
        cli_duration_format(f->i, buf, sizeof buf);
        return put_string(l, fmt, buf, strlen(buf));
    case GLOG_K_INT:
        n = fmt_i64(buf, f->i);
        return put(l, buf, n);
    case GLOG_K_UINT:
        n = fmt_u64(buf, f->u);
        return put(l, buf, n);
    case GLOG_K_BOOL:
        return put_str(l, f->i ? "true" : "false");
    case GLOG_K_END:
        break;
    }
    return put_str(l, "null");
}

/* One field, whole or cut inside its string value, or not at all. */
static void put_field(struct line *l, enum glog_format fmt,
                      const struct glog_field *f)
{
    size_t mark = l->len;
    if (!put_key(l, fmt, f->key) || !put_value(l, fmt, f))
        l->len = mark;
}

static void put_header(struct line *l, enum glog_format fmt, int64_t unix_ns,
                       enum glog_level level, const char *msg)
{
    char t[24];
    fmt_time(t, unix_ns);
    const char *lv = glog_level_name(level);
    if (fmt == GLOG_JSON) {
        put(l, "{\"time\":\"", 9);
        put(l, t, sizeof t);
        put(l, "\",\"level\":\"", 11);
        put_str(l, lv);
        put(l, "\",\"msg\":", 8);
    } else {
        put(l, "time=", 5);
        put(l, t, sizeof t);
        put(l, " level=", 7);
        put_str(l, lv);
        put(l, " msg=", 5);
    }
    put_string(l, fmt, msg, msg ? strlen(msg) : 0);
}

size_t glog_render(char *buf, size_t cap, enum glog_format fmt, int64_t unix_ns,
                   enum glog_level level, const char *msg,
                   const struct glog_field *fields)
{
    struct line l = {buf, 0, cap - GLOG_RESERVE, false};
    put_header(&l, fmt, unix_ns, level, msg);
    for (const struct glog_field *f = fields; f && f->key; f++)
        put_field(&l, fmt, f);
    if (l.full)
        put_closing(&l, fmt == GLOG_JSON ? ",\"truncated\":true"
                                         : " truncated=true");
    put_closing(&l, fmt == GLOG_JSON ? "}\n" : "\n");
    return l.len;
}

/* ---- output ------------------------------------------------------------- */

static int64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One write; a short one (a terminal, a signal) goes on with the rest. */
static void write_line(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere to report it */
        p += w;
        n -= (size_t)w;
    }
}

void glog_emit(enum glog_level level, const char *msg,
               const struct glog_field *fields)
{
    int saved = errno;
    char line[GLOG_LINE_MAX];
    int64_t (*clock)(void) =
        atomic_load_explicit(&log_clock, memory_order_relaxed);
    enum glog_format fmt = (enum glog_format)atomic_load_explicit(
        &log_format, memory_order_relaxed);
    size_t n = glog_render(line, sizeof line, fmt,
                           clock ? clock() : realtime_ns(), level, msg, fields);
    write_line(atomic_load_explicit(&log_fd, memory_order_relaxed), line, n);
    errno = saved;
}
