/* log.h — gortd's logger: one record per line, logfmt or JSON, on stderr.
 *
 * Internal to gortd (library gort_log, libc only); every part of gortd logs
 * through it, and nothing else in gortd writes to stderr. Prefix glog_ and
 * GLOG_: LOG_INFO and friends belong to <syslog.h>.
 *
 *   glog_info("plugin loaded", GLOG_STR("plugin", name),
 *             GLOG_STR("version", version), GLOG_INT("routes", n));
 *
 * writes, in logfmt (the default),
 *
 *   time=2026-12-04T13:37:00.123Z level=info msg="plugin loaded" plugin=hello
 * version=1.0.0 routes=2
 *
 * and with glog_setup(GLOG_JSON, ...)
 *
 *   {"time":"2026-12-04T13:37:00.123Z","level":"info","msg":"plugin
 * loaded","plugin":"hello","version":"1.0.0","routes":2}
 *
 * The message is a constant saying what happened; what it happened to and
 * why go in fields. Keys are identifiers chosen by the code ([a-z_]) and are
 * written as they are; values may come from anyone (a plugin's name, a
 * request target, a path) and are quoted and escaped so that a record is
 * always one line. A disabled level costs one relaxed load and a branch:
 * the fields are not even evaluated.
 */
#ifndef GORT_SERVER_LOG_H
#define GORT_SERVER_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum glog_level { GLOG_DEBUG, GLOG_INFO, GLOG_WARN, GLOG_ERROR };
enum glog_format { GLOG_LOGFMT, GLOG_JSON };

enum glog_kind {
    GLOG_K_END,   /* ends a field list */
    GLOG_K_STR,   /* s: NUL-terminated (NULL: the empty string) */
    GLOG_K_STRN,  /* s, n: n bytes, NULs and all */
    GLOG_K_INT,   /* i */
    GLOG_K_UINT,  /* u */
    GLOG_K_BOOL,  /* i: true or false */
    GLOG_K_ERRNO, /* i: an errno value, either sign, written as its text */
    GLOG_K_DUR,   /* i: nanoseconds; logfmt "1.5s" (Go), JSON a number */
};

struct glog_field {
    const char *key; /* NULL ends the list */
    enum glog_kind kind;
    union {
        struct {
            const char *s;
            size_t n;
        };
        long long i;
        unsigned long long u;
    };
};

#define GLOG_STR(k, x)                                                         \
    ((struct glog_field){.key = (k), .kind = GLOG_K_STR, .s = (x)})
#define GLOG_STRN(k, x, len)                                                   \
    ((struct glog_field){.key = (k), .kind = GLOG_K_STRN, .s = (x), .n = (len)})
#define GLOG_INT(k, x)                                                         \
    ((struct glog_field){.key = (k), .kind = GLOG_K_INT, .i = (long long)(x)})
#define GLOG_UINT(k, x)                                                        \
    ((struct glog_field){                                                      \
        .key = (k), .kind = GLOG_K_UINT, .u = (unsigned long long)(x)})
#define GLOG_BOOL(k, x)                                                        \
    ((struct glog_field){.key = (k), .kind = GLOG_K_BOOL, .i = !!(x)})
#define GLOG_ERRNO(k, e)                                                       \
    ((struct glog_field){.key = (k), .kind = GLOG_K_ERRNO, .i = (e)})
#define GLOG_DUR(k, ns)                                                        \
    ((struct glog_field){.key = (k), .kind = GLOG_K_DUR, .i = (long long)(ns)})
#define GLOG_END ((struct glog_field){.key = NULL, .kind = GLOG_K_END})

/* The longest record, newline included: PIPE_BUF, so that a record written
 * to a pipe is one atomic write even when other processes share it. */
#define GLOG_LINE_MAX 4096

/* Records below this level are dropped (relaxed: a record racing a change
 * of level may go either way). */
extern _Atomic int glog_threshold;

static inline bool glog_enabled(enum glog_level level)
{
    return (int)level >=
           atomic_load_explicit(&glog_threshold, memory_order_relaxed);
}

/* glog_at(LEVEL, MSG, FIELD...): one record, if LEVEL is enabled. */
#define glog_at(level, ...) GLOG_AT_((level), __VA_ARGS__, GLOG_END)
#define GLOG_AT_(level, msg, ...)                                              \
    do {                                                                       \
        if (glog_enabled(level))                                               \
            glog_emit((level), (msg),                                          \
                      (const struct glog_field[]){__VA_ARGS__});               \
    } while (0)
#define glog_debug(...) glog_at(GLOG_DEBUG, __VA_ARGS__)
#define glog_info(...) glog_at(GLOG_INFO, __VA_ARGS__)
#define glog_warn(...) glog_at(GLOG_WARN, __VA_ARGS__)
#define glog_error(...) glog_at(GLOG_ERROR, __VA_ARGS__)

/* Formats one record and writes it with one write(2). Any thread, any
 * time; no allocation, no lock; errno is preserved. fields ends with
 * GLOG_END (the macros above add it). */
void glog_emit(enum glog_level level, const char *msg,
               const struct glog_field *fields);

/* Sets the format and the lowest level written; call it once at start,
 * before other threads log. Defaults: logfmt, info. */
void glog_setup(enum glog_format format, enum glog_level min);

/* "debug" | "info" | "warn" | "error"; "logfmt" | "json". 0, or -1 for
 * anything else. */
int glog_level_parse(const char *s, enum glog_level *out);
int glog_format_parse(const char *s, enum glog_format *out);
const char *glog_level_name(enum glog_level level);

/* The character at s (n > 0 bytes left) as it goes inside a JSON string,
 * escaped exactly as JSON log records escape it (controls as \u00XX,
 * invalid UTF-8 as \ufffd, U+2028/9 escaped), into out; returns its length
 * and sets *used to the bytes of s it stands for. For other JSON writers
 * in gortd (the dashboard's stats). */
size_t glog_json_escape(const unsigned char *s, size_t n, char out[8],
                        size_t *used);

/* ---- for tests ---------------------------------------------------------- */

/* The record as glog_emit would write it, at time unix_ns, into buf (cap
 * bytes, at least GLOG_RENDER_MIN): always one whole line ending in '\n';
 * a record longer than cap is cut between fields or inside a string value
 * and ends with the field truncated=true. Returns its length. */
#define GLOG_RENDER_MIN 96
size_t glog_render(char *buf, size_t cap, enum glog_format format,
                   int64_t unix_ns, enum glog_level level, const char *msg,
                   const struct glog_field *fields);

/* Where records go (default 2) and the clock they carry (Unix ns; NULL:
 * CLOCK_REALTIME). */
void glog_set_fd(int fd);
void glog_set_clock(int64_t (*now)(void));

#endif /* GORT_SERVER_LOG_H */
