/* admin/goroutines.c — the goroutine dumps of the admin listener.
 *
 * Both forms come from one walk of the runtime's goroutines
 * (gort_goroutines_each: relaxed reads, no stop-the-world; the control
 * plane's DumpGoroutines walks the same way), formatted from the info
 * structures the walk hands out, never from another dump's text.
 *
 * debug=2 is Go's traceback text, what net/http/pprof's
 * /debug/pprof/goroutine?debug=2 serves and a Go panic prints, with gort's
 * frames (function, then the object and the offset where Go has file:line)
 * and the goroutine's label in parentheses:
 *
 *   goroutine 18 [IO wait, 3 minutes] (http conn from 127.0.0.1:5555):
 *   http_conn_serve(...)
 *   \t/usr/sbin/gortd +0x870
 *   created by listener in goroutine 7
 *   \t/usr/sbin/gortd +0x2a0
 *
 * debug=1 is the goroutine profile's legacy text: goroutines with the same
 * stack (the same program counters) are one entry with their count, most
 * numerous first, so 10,000 connections parked in one place are one entry
 * of four lines:
 *
 *   goroutine profile: total 10007
 *   10000 @ 0x55d0c8a1b2c0
 *   #\t0x55d0c8a1b2c0\thttp_conn_serve+0x0\t/usr/sbin/gortd
 *
 * A goroutine with no backtrace (running on another thread at the time of
 * the walk) is grouped by the function it was started with and its state,
 * on a "# running: no backtrace" line (pprof skips "#" lines, as it does
 * Go's "# labels:"). Labels are not
 * part of the key (each connection has its own), unlike Go's labels map.
 * Each goroutine's entry text is built during the walk (the strings live
 * only during its callback), then entries are sorted so equal ones meet.
 */
#include "admin/goroutines.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gort/stats.h"

struct walk {
    struct textbuf *t; /* debug=2 writes here directly */
    int debug;
    char **entries; /* debug=1: one malloc'ed entry per goroutine */
    size_t n, cap;
    bool failed;
};

static void putf(struct textbuf *t, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        textbuf_put(t, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        t->failed = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    textbuf_put(t, big, (size_t)n);
    free(big);
}

static const char *or_unknown(const char *s)
{
    return s && *s ? s : "?";
}

/* ---- debug=2 ------------------------------------------------------------ */

static void frame2(struct textbuf *t, const struct gort_frame *f)
{
    putf(t, "%s(...)\n\t%s +%#" PRIxPTR "\n", or_unknown(f->func),
         or_unknown(f->object), f->offset);
}

static void traceback(struct textbuf *t, const struct gort_goroutine_info *g)
{
    long minutes = (long)(g->waiting_ns / (60 * INT64_C(1000000000)));
    putf(t, "goroutine %" PRId64 " [%s", g->id, or_unknown(g->state));
    if (minutes >= 1)
        putf(t, ", %ld minute%s", minutes, minutes == 1 ? "" : "s");
    if (g->label && *g->label)
        putf(t, "] (%s):\n", g->label);
    else
        textbuf_puts(t, "]:\n");
    for (int i = 0; i < g->nframes && i < GORT_DUMP_MAX_FRAMES; i++)
        frame2(t, &g->frames[i]);
    if (g->nframes <= 0) /* not parked: where it started is what we know */
        frame2(t, &g->start);
    if (g->creator_id > 0) {
        putf(t, "created by %s in goroutine %" PRId64 "\n",
             or_unknown(g->creator.func), g->creator_id);
        putf(t, "\t%s +%#" PRIxPTR "\n", or_unknown(g->creator.object),
             g->creator.offset);
    }
    textbuf_puts(t, "\n");
}

/* ---- debug=1 ------------------------------------------------------------ */

static void frame1(struct textbuf *t, const struct gort_frame *f)
{
    putf(t, "#\t%#" PRIxPTR "\t%s+%#" PRIxPTR "\t%s\n", f->pc,
         or_unknown(f->func), f->offset, or_unknown(f->object));
}

/* The entry without its count: "@ pc pc\n" and the frame lines. */
static char *entry(const struct gort_goroutine_info *g)
{
    struct textbuf e = {0};
    const struct gort_frame *fr = g->nframes > 0 ? g->frames : &g->start;
    int n = g->nframes > 0 ? g->nframes : 1;
    if (n > GORT_DUMP_MAX_FRAMES)
        n = GORT_DUMP_MAX_FRAMES;
    textbuf_puts(&e, "@");
    for (int i = 0; i < n; i++)
        putf(&e, " %#" PRIxPTR, fr[i].pc);
    textbuf_puts(&e, "\n");
    /* Not the same stack as a goroutine parked at its start (an idle
     * connection's): say why there is no more, and keep them apart. */
    if (g->nframes <= 0)
        putf(&e, "# %s: no backtrace, its start function\n",
             or_unknown(g->state));
    for (int i = 0; i < n; i++)
        frame1(&e, &fr[i]);
    textbuf_puts(&e, "\n");
    textbuf_put(&e, "", 1); /* NUL */
    /* The builder starts at 16 KiB; an entry is a few hundred bytes. */
    char *s = e.failed ? NULL : strdup(e.buf);
    textbuf_free(&e);
    return s;
}

static int one(const struct gort_goroutine_info *g, void *arg)
{
    struct walk *w = arg;
    if (w->debug == 2) {
        traceback(w->t, g);
        return w->t->failed;
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 256;
        char **v = realloc(w->entries, cap * sizeof *v);
        if (!v)
            return w->failed = true;
        w->entries = v;
        w->cap = cap;
    }
    char *e = entry(g);
    if (!e)
        return w->failed = true;
    w->entries[w->n++] = e;
    return 0;
}

static int by_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct group {
    const char *text;
    size_t count;
};

static int by_count(const void *a, const void *b)
{
    const struct group *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->text, y->text);
}

static void profile(struct textbuf *t, struct walk *w)
{
    qsort(w->entries, w->n, sizeof *w->entries, by_text);
    struct group *g = malloc((w->n ? w->n : 1) * sizeof *g);
    if (!g) {
        t->failed = true;
        return;
    }
    size_t ng = 0;
    for (size_t i = 0; i < w->n; i++) {
        if (ng && strcmp(g[ng - 1].text, w->entries[i]) == 0)
            g[ng - 1].count++;
        else
            g[ng++] = (struct group){.text = w->entries[i], .count = 1};
    }
    qsort(g, ng, sizeof *g, by_count);
    putf(t, "goroutine profile: total %zu\n", w->n);
    for (size_t i = 0; i < ng; i++) {
        putf(t, "%zu ", g[i].count);
        textbuf_puts(t, g[i].text);
    }
    free(g);
}

long goroutines_write(struct textbuf *t, int debug)
{
    struct walk w = {.t = t, .debug = debug};
    long n = gort_goroutines_each(one, &w);
    if (n >= 0 && !w.failed && debug == 1)
        profile(t, &w);
    for (size_t i = 0; i < w.n; i++)
        free(w.entries[i]);
    free(w.entries);
    if (w.failed)
        t->failed = true;
    return n;
}
