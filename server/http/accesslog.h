/* http/accesslog.h — gortd's access log (--access-log PATH|-): one line per
 * request in nginx's "combined" format plus $request_time, buffered per
 * thread and written by a flusher thread at least once a second.
 *
 * One access log per process (gortd has one); every function is safe from
 * any thread once accesslog_open returned.
 */
#ifndef GORT_HTTP_ACCESSLOG_H
#define GORT_HTTP_ACCESSLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The fields of one line, as the request completion sees them. Strings may
 * be NULL (written "-"); they are escaped as nginx escapes them. */
struct accesslog_entry {
    const char *remote; /* "10.0.0.1:5678" or "[::1]:5678": the port goes */
    const char *method, *target, *proto;
    const char *referer, *user_agent;
    int status;
    int64_t body_bytes;  /* $body_bytes_sent */
    int64_t duration_ns; /* $request_time, written with ms resolution */
};

/* Opens PATH for appending (created 0644), or stdout for "-", and starts
 * the flusher thread. 0, or -1 with err filled. */
int accesslog_open(const char *path, char *err, size_t errlen);
/* True once accesslog_open succeeded (and until accesslog_close). */
bool accesslog_enabled(void);
/* Formats one line into the calling thread's buffer: no syscall, except
 * when that buffer is full (one write of the whole buffer). */
void accesslog_write(const struct accesslog_entry *e);
/* Has the flusher reopen the file (SIGUSR1, after logrotate's mv) and
 * waits until it did: what was buffered went to the old file, what is
 * logged after the return goes to the new one. */
void accesslog_reopen(void);
/* Flushes everything, stops the flusher and closes the file. */
void accesslog_close(void);

/* Formats e as one line, '\n' included, at p (ACCESSLOG_LINE_MAX bytes of
 * room, which any entry fits: long values are cut) and returns its end. Not
 * NUL-terminated. What accesslog_write appends; tests/fuzz calls it. */
#define ACCESSLOG_LINE_MAX (16384 + 2 * 4096 + 4 * 128 + 128)
char *accesslog_format_line(char *p, const struct accesslog_entry *e);
/* nginx's escaping of a logged value (ngx_http_log_escape): '"', '\\',
 * control bytes and bytes >= 0x7f become \xHH. Writes at most n-1 bytes and
 * a NUL into out; returns the length the whole escaped text needs. */
size_t accesslog_escape(const char *s, char *out, size_t n);
/* $time_local: "04/Dec/2026:18:04:11 +0000" (27 bytes and a NUL). */
void accesslog_time_local(int64_t unix_sec, char out[32]);

#endif /* GORT_HTTP_ACCESSLOG_H */
