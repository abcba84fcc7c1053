/* http/accesslog.c — the access log: nginx's combined format plus
 * $request_time, without a syscall per request.
 *
 *   127.0.0.1 - - [04/Dec/2026:18:04:11 +0000] "GET /hello HTTP/1.1" 200 13
 *   "-" "curl/7.88.1" 0.001
 *
 * (one line) is nginx's
 *
 *   log_format combined_rt '$remote_addr - $remote_user [$time_local] '
 *       '"$request" $status $body_bytes_sent "$http_referer" '
 *       '"$http_user_agent" $request_time';
 *
 * so the tools that read nginx's logs (goaccess, awk scripts, log
 * shippers' nginx parsers) read these. $remote_user is always "-": gortd
 * does no HTTP authentication of its own.
 *
 * Buffering. A request completes on some M (an OS thread of the runtime);
 * each M appends to a 64 KiB buffer of its own, under a mutex that only the
 * flusher ever contends for (once a second), so the request path costs a
 * format and a memcpy. Goroutines are never preempted asynchronously, so
 * the append runs from start to end on one M. The flusher thread wakes
 * every second, moves every M's bytes into one staging buffer and writes
 * them with one write(2); an M whose buffer fills writes it itself (one
 * write per 64 KiB, a few hundred requests). Lines of different Ms may come
 * out in a different order than the requests finished, as with nginx's
 * worker processes; a line is never split.
 *
 * Reopening (SIGUSR1, after logrotate moved the file): the flusher first
 * writes what is buffered to the old file, then opens the path again and
 * swaps the descriptor under the write lock, so no line is lost or written
 * twice and the old file is complete when the next rotation compresses it.
 */
#include "http/accesslog.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUF_CAP (64 * 1024)
#define FLUSH_NS 1000000000LL
/* Longest values kept (escaped); a longer one is cut. Keeps a line well
 * under BUF_CAP whatever the request carried. */
#define MAX_TARGET 16384
#define MAX_HEADER 4096
#define MAX_SHORT 128
_Static_assert(ACCESSLOG_LINE_MAX ==
                   MAX_TARGET + 2 * MAX_HEADER + 4 * MAX_SHORT + 128,
               "accesslog.h's bound is the sum of the fields' bounds");
#define LINE_MAX_BYTES ACCESSLOG_LINE_MAX

struct tbuf {
    pthread_mutex_t mu;
    char *data;
    size_t len;
    struct tbuf *next; /* in alog.bufs */
};

static struct {
    atomic_bool on;
    pthread_mutex_t list_mu; /* bufs */
    struct tbuf *bufs;
    pthread_mutex_t write_mu; /* fd, and every write(2) to it */
    int fd;
    char *path; /* NULL for stdout */
    pthread_mutex_t ctl_mu;
    pthread_cond_t ctl_cv;
    bool stop, reopen;
    uint64_t reopens; /* done: accesslog_reopen waits for its own */
    pthread_t flusher;
    char *stage;
    size_t stage_cap;
} alog = {
    .list_mu = PTHREAD_MUTEX_INITIALIZER,
    .write_mu = PTHREAD_MUTEX_INITIALIZER,
    .ctl_mu = PTHREAD_MUTEX_INITIALIZER,
    .fd = -1,
};

static _Thread_local struct tbuf *mine;

/* ---- formatting --------------------------------------------------------- */

/* ngx_http_log_escape's table: control bytes, '"', '\\', and 0x7f-0xff. */
static bool needs_escape(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\' || c >= 0x7f;
}

size_t accesslog_escape(const char *s, char *out, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t need = 0, w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char tmp[4] = {(char)*p};
        size_t k = 1;
        if (needs_escape(*p)) {
            tmp[0] = '\\', tmp[1] = 'x', tmp[2] = hex[*p >> 4];
            tmp[3] = hex[*p & 15];
            k = 4;
        }
        need += k;
        if (n && w + k < n) {
            memcpy(out + w, tmp, k);
            w += k;
        }
    }
    if (n)
        out[w] = '\0';
    return need;
}

void accesslog_time_local(int64_t unix_sec, char out[32])
{
    static const char mon[][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)unix_sec;
    struct tm tm;
    localtime_r(&t, &tm);
    long off = tm.tm_gmtoff / 60;
    char sign = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    /* The modulos tell the compiler every field fits its width. */
    snprintf(out, 32, "%02d/%s/%04d:%02d:%02d:%02d %c%02d%02d",
             tm.tm_mday % 100, mon[tm.tm_mon % 12], (tm.tm_year + 1900) % 10000,
             tm.tm_hour % 100, tm.tm_min % 100, tm.tm_sec % 100, sign,
             (int)(off / 60 % 100), (int)(off % 60));
}

/* This thread's $time_local, formatted once a second. */
static const char *now_local(void)
{
    static _Thread_local int64_t sec = -1;
    static _Thread_local char text[32];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    if (ts.tv_sec != sec) {
        sec = ts.tv_sec;
        accesslog_time_local(sec, text);
    }
    return text;
}

/* Appends s escaped (at most max bytes of output), or "-" when absent. */
static char *put_value(char *p, const char *s, size_t max)
{
    if (!s || !*s) {
        *p = '-';
        return p + 1;
    }
    accesslog_escape(s, p, max + 1);
    return p + strlen(p);
}

/* $remote_addr: the address without its port or IPv6 brackets. */
static char *put_remote(char *p, const char *remote)
{
    const char *colon = remote ? strrchr(remote, ':') : NULL;
    if (!colon)
        return put_value(p, remote, MAX_SHORT);
    const char *a = remote;
    size_t n = (size_t)(colon - remote);
    if (n >= 2 && a[0] == '[' && a[n - 1] == ']')
        a++, n -= 2;
    if (n > MAX_SHORT)
        n = MAX_SHORT;
    char tmp[MAX_SHORT + 1];
    memcpy(tmp, a, n);
    tmp[n] = '\0';
    return put_value(p, tmp, MAX_SHORT);
}

static char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

char *accesslog_format_line(char *p, const struct accesslog_entry *e)
{
    p = put_remote(p, e->remote);
    p = put_str(p, " - - [");
    p = put_str(p, now_local());
    p = put_str(p, "] \"");
    if (e->method) { /* $request: the request line as the client sent it */
        p = put_value(p, e->method, MAX_SHORT);
        *p++ = ' ';
        p = put_value(p, e->target, MAX_TARGET);
        *p++ = ' ';
        p = put_value(p, e->proto, MAX_SHORT);
    } else { /* refused before a request line could be read */
        *p++ = '-';
    }
    int64_t ms = e->duration_ns > 0 ? e->duration_ns / 1000000 : 0;
    p += sprintf(p, "\" %d %lld \"", e->status,
                 (long long)(e->body_bytes > 0 ? e->body_bytes : 0));
    p = put_value(p, e->referer, MAX_HEADER);
    p = put_str(p, "\" \"");
    p = put_value(p, e->user_agent, MAX_HEADER);
    p += sprintf(p, "\" %lld.%03lld\n", (long long)(ms / 1000),
                 (long long)(ms % 1000));
    return p;
}

/* ---- writing ------------------------------------------------------------ */

/* Under write_mu. A failed write is dropped: the log must never stop
 * requests (nginx does the same and reports it in its error log). */
static void write_all(const char *p, size_t n)
{
    while (n > 0 && alog.fd >= 0) {
        ssize_t w = write(alog.fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static struct tbuf *my_buffer(void)
{
    if (mine)
        return mine;
    struct tbuf *b = calloc(1, sizeof *b);
    if (!b || !(b->data = malloc(BUF_CAP))) {
        free(b);
        return NULL;
    }
    pthread_mutex_init(&b->mu, NULL);
    pthread_mutex_lock(&alog.list_mu);
    b->next = alog.bufs;
    alog.bufs = b;
    pthread_mutex_unlock(&alog.list_mu);
    return mine = b;
}

void accesslog_write(const struct accesslog_entry *e)
{
    if (!atomic_load_explicit(&alog.on, memory_order_acquire))
        return;
    struct tbuf *b = my_buffer();
    if (!b)
        return; /* out of memory: a line less, never a failed request */
    pthread_mutex_lock(&b->mu);
    if (BUF_CAP - b->len < LINE_MAX_BYTES) {
        pthread_mutex_lock(&alog.write_mu);
        write_all(b->data, b->len);
        pthread_mutex_unlock(&alog.write_mu);
        b->len = 0;
    }
    char *end = accesslog_format_line(b->data + b->len, e);
    b->len = (size_t)(end - b->data);
    pthread_mutex_unlock(&b->mu);
}

bool accesslog_enabled(void)
{
    return atomic_load_explicit(&alog.on, memory_order_relaxed);
}

/* Every thread's bytes into the staging buffer, then one write. */
static void flush_all(void)
{
    size_t used = 0;
    pthread_mutex_lock(&alog.list_mu);
    for (struct tbuf *b = alog.bufs; b; b = b->next) {
        pthread_mutex_lock(&b->mu);
        if (used + b->len > alog.stage_cap) {
            size_t cap = alog.stage_cap ? alog.stage_cap : BUF_CAP;
            while (cap < used + b->len)
                cap *= 2;
            char *s = realloc(alog.stage, cap);
            if (s) {
                alog.stage = s;
                alog.stage_cap = cap;
            }
        }
        if (used + b->len <= alog.stage_cap) {
            memcpy(alog.stage + used, b->data, b->len);
            used += b->len;
            b->len = 0;
        } /* else kept for the next flush */
        pthread_mutex_unlock(&b->mu);
    }
    pthread_mutex_unlock(&alog.list_mu);
    if (used == 0)
        return;
    pthread_mutex_lock(&alog.write_mu);
    write_all(alog.stage, used);
    pthread_mutex_unlock(&alog.write_mu);
}

static int open_path(const char *path)
{
    if (!path)
        return dup(STDOUT_FILENO); /* ours to close, stdout stays */
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

static void reopen_now(void)
{
    if (!alog.path)
        return;
    int fd = open_path(alog.path);
    if (fd < 0)
        return; /* keep writing to the old file rather than nowhere */
    pthread_mutex_lock(&alog.write_mu);
    int old = alog.fd;
    alog.fd = fd;
    pthread_mutex_unlock(&alog.write_mu);
    close(old);
}

static void *flusher(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&alog.ctl_mu);
    for (;;) {
        struct timespec dl;
        clock_gettime(CLOCK_MONOTONIC, &dl);
        dl.tv_sec += FLUSH_NS / 1000000000LL;
        while (!alog.stop && !alog.reopen &&
               pthread_cond_timedwait(&alog.ctl_cv, &alog.ctl_mu, &dl) == 0)
            ;
        bool stop = alog.stop, reopen = alog.reopen;
        alog.reopen = false;
        pthread_mutex_unlock(&alog.ctl_mu);
        flush_all();
        if (reopen)
            reopen_now();
        pthread_mutex_lock(&alog.ctl_mu);
        if (reopen) {
            alog.reopens++;
            pthread_cond_broadcast(&alog.ctl_cv);
        }
        if (stop)
            break;
    }
    pthread_mutex_unlock(&alog.ctl_mu);
    return NULL;
}

int accesslog_open(const char *path, char *err, size_t errlen)
{
    bool stdout_log = strcmp(path, "-") == 0;
    alog.path = stdout_log ? NULL : strdup(path);
    if (!stdout_log && !alog.path) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    alog.fd = open_path(alog.path);
    if (alog.fd < 0) {
        snprintf(err, errlen, "open %s: %s", path, strerror(errno));
        free(alog.path);
        alog.path = NULL;
        return -1;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&alog.ctl_cv, &ca);
    pthread_condattr_destroy(&ca);
    tzset(); /* localtime_r does not read TZ itself */
    /* The flusher takes no signal: gortd's signal thread sigwait()s them,
     * and one delivered here would be handled by its default action. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&alog.flusher, NULL, flusher, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the flusher: %s", strerror(rc));
        close(alog.fd);
        alog.fd = -1;
        return -1;
    }
    atomic_store_explicit(&alog.on, true, memory_order_release);
    return 0;
}

void accesslog_reopen(void)
{
    if (!accesslog_enabled())
        return;
    pthread_mutex_lock(&alog.ctl_mu);
    uint64_t want = alog.reopens + 1;
    alog.reopen = true;
    pthread_cond_broadcast(&alog.ctl_cv);
    while (alog.reopens < want && !alog.stop)
        pthread_cond_wait(&alog.ctl_cv, &alog.ctl_mu);
    pthread_mutex_unlock(&alog.ctl_mu);
}

/* Buffers stay allocated: a request cut at the shutdown timeout may still
 * complete and append; with the log off it appends nothing. */
void accesslog_close(void)
{
    if (!atomic_exchange(&alog.on, false))
        return;
    pthread_mutex_lock(&alog.ctl_mu);
    alog.stop = true;
    pthread_cond_broadcast(&alog.ctl_cv);
    pthread_mutex_unlock(&alog.ctl_mu);
    pthread_join(alog.flusher, NULL);
    flush_all(); /* lines appended while the flusher stopped */
    pthread_mutex_lock(&alog.write_mu);
    close(alog.fd);
    alog.fd = -1;
    pthread_mutex_unlock(&alog.write_mu);
}
