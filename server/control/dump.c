/* control/dump.c — DumpGoroutines: filter the live goroutines, return them as
 * messages and in Go's traceback text.
 *
 * One walk with gort_goroutines_each; the runtime hands each goroutine's
 * info to our callback and its strings live only during the call, so
 * everything kept is copied into the reply's arena. Names repeat across a
 * dump (100k goroutines parked in the same three functions of the same
 * object), so function, object, state and wait-reason strings are interned:
 * one copy each, which keeps a large dump's memory dominated by the frames'
 * numbers, not their text. Labels are copied as they are (mostly unique).
 *
 * The text is formatted here from the same info rather than taken from
 * gort_dump_text, so that the filter applies to both views and they always
 * list the same goroutines. It is byte for byte what gort_dump_text writes
 * (tests/control/test_control_methods.c compares them), Go's shape with
 * the label in parentheses and sysmon's long-running note in the brackets:
 *
 *   goroutine 18 [IO wait, 3 minutes] (http GET / from 127.0.0.1:5555):
 *   conn_read(...)
 *   \t/src/server/http/conn.c:212 +0x1f
 *   created by http_accept_loop in goroutine 7
 *   \t/src/server/http/server.c:172 +0x2a0
 *   <blank line>
 *
 * (a frame without DWARF line rows shows "\t/path/object +0x1f" instead).
 *
 * An idle keep-alive connection has no goroutine, only a pending
 * gort_fd_on_readable callback; the runtime lists it as the goroutine it
 * will be (stats.c): "IO wait", the connection's label, the id that will
 * serve its next request, and one frame, http_conn_serve, where that
 * goroutine begins. So `gortctl dump --state "IO wait"` shows every open
 * connection, idle or not, and this file needs no special case for them:
 *
 *   goroutine 31 [IO wait, 2 minutes] (http conn from 127.0.0.1:5555):
 *   http_conn_serve(...)
 *   \t/src/server/http/conn.c:430 +0
 *   created by http_conn_serve in goroutine 30
 *   \t/src/server/http/conn.c:455 +0x870
 *
 * A frame no symbol covers (a stripped object) prints as "?" with its
 * offset from the object's base, which addr2line takes as is. A limit
 * stops the walk at the first goroutine beyond it (so `truncated` is exact),
 * and the deadline is checked every 256 goroutines.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gort/gort.h"
#include "gort/stats.h"
#include "gort/v1/control.pb-c.h"

#include "control/methods.h"
#include "common/clock.h"

/* ---- text --------------------------------------------------------------- */

static int text_grow(struct ctl_text *t, size_t need)
{
    size_t cap = t->cap ? t->cap : 4096;
    while (cap - t->len < need && cap <= SIZE_MAX / 2)
        cap *= 2;
    char *p = cap - t->len < need ? NULL : realloc(t->p, cap);
    if (!p) {
        t->failed = 1;
        return -1;
    }
    t->p = p;
    t->cap = cap;
    return 0;
}

void ctl_text_printf(struct ctl_text *t, const char *fmt, ...)
{
    va_list ap;
    if (t->failed || (t->cap - t->len < 256 && text_grow(t, 256) < 0))
        return;
    va_start(ap, fmt);
    int n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= t->cap - t->len) {
        if (text_grow(t, (size_t)n + 1) < 0) {
            t->p[t->len] = '\0'; /* drop the cut-off piece */
            return;
        }
        va_start(ap, fmt);
        vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
    }
    t->len += (size_t)n;
}

static const char *or_unknown(const char *s)
{
    return s ? s : "?";
}

/* "\tfile:line +0xoff" from DWARF, else "\tobject +0xoff". */
static void text_where(struct ctl_text *t, const struct gort_frame *f)
{
    if (f->file)
        ctl_text_printf(t, "\t%s:%d +%#lx\n", f->file, f->line,
                        (unsigned long)f->offset);
    else
        ctl_text_printf(t, "\t%s +%#lx\n", or_unknown(f->object),
                        (unsigned long)f->offset);
}

static void text_frame(struct ctl_text *t, const struct gort_frame *f)
{
    ctl_text_printf(t, "%s(...)\n", or_unknown(f->func));
    text_where(t, f);
}

void ctl_dump_text_one(struct ctl_text *t, const struct gort_goroutine_info *g)
{
    const char *label = g->label ? g->label : "";
    long minutes = (long)(g->waiting_ns / (60 * INT64_C(1000000000)));

    ctl_text_printf(t, "goroutine %lld [%s", (long long)g->id,
                    or_unknown(g->state));
    if (g->long_running)
        ctl_text_printf(t, ", ran over 10 ms without yielding");
    if (g->retaken)
        ctl_text_printf(t, ", P handed over");
    if (minutes >= 1)
        ctl_text_printf(t, ", %ld minute%s", minutes, minutes == 1 ? "" : "s");
    ctl_text_printf(t, "]%s%s%s:\n", *label ? " (" : "", label,
                    *label ? ")" : "");
    for (int i = 0; i < g->nframes && i < GORT_DUMP_MAX_FRAMES; i++)
        text_frame(t, &g->frames[i]);
    if (g->nframes <= 0)
        ctl_text_printf(t, "\t(no backtrace: %s)\n",
                        g->state && strcmp(g->state, "running") == 0
                            ? "running on another thread"
                            : "not parked");
    ctl_text_printf(t, "created by %s in goroutine %lld\n",
                    or_unknown(g->creator.func), (long long)g->creator_id);
    text_where(t, &g->creator);
    ctl_text_printf(t, "\n");
}

/* ---- interned strings --------------------------------------------------- */

struct intern {
    const char **slots; /* open addressing, linear probing; malloc'd */
    size_t cap, n;
    int failed; /* could not grow: intern gives "" (the call fails) */
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = UINT64_C(1469598103934665603);
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
    return h;
}

static int intern_grow(struct intern *in)
{
    size_t cap = in->cap ? in->cap * 2 : 256;
    const char **slots = calloc(cap, sizeof *slots);
    if (!slots) {
        in->failed = 1;
        return -1;
    }
    for (size_t i = 0; i < in->cap; i++) {
        if (!in->slots[i])
            continue;
        size_t j = fnv1a(in->slots[i]) & (cap - 1);
        while (slots[j])
            j = (j + 1) & (cap - 1);
        slots[j] = in->slots[i];
    }
    free(in->slots);
    in->slots = slots;
    in->cap = cap;
    return 0;
}

/* The arena copy of s, made once per distinct string. */
static char *intern(struct intern *in, struct ctl_arena *a, const char *s)
{
    if (!s || !*s || in->failed)
        return (char *)"";
    if (2 * (in->n + 1) > in->cap && intern_grow(in) < 0)
        return (char *)"";
    size_t j = fnv1a(s) & (in->cap - 1);
    for (; in->slots[j]; j = (j + 1) & (in->cap - 1))
        if (strcmp(in->slots[j], s) == 0)
            return (char *)in->slots[j];
    in->slots[j] = ctl_arena_strdup(a, s);
    if (!*in->slots[j]) { /* the arena failed: keep "" out of the table */
        in->slots[j] = NULL;
        return (char *)"";
    }
    in->n++;
    return (char *)in->slots[j];
}

/* ---- structured --------------------------------------------------------- */

struct dump_walk {
    struct ctl_ctx *cx;
    const Gort__V1__DumpGoroutinesRequest *req;
    int want_structured, want_text;
    Gort__V1__Goroutine **gs; /* malloc'd; adopted by the arena at the end */
    size_t n, cap;
    struct ctl_text text;
    struct intern strings;
    int64_t now_unix;
    uint64_t visited;
    uint32_t matched;
    int truncated, expired;
    int oom; /* out of memory: the walk stops, the call fails */
};

static Gort__V1__Frame *frame_msg(struct dump_walk *w,
                                  const struct gort_frame *f)
{
    Gort__V1__Frame *m =
        ctl_arena_msg(w->cx->arena, &gort__v1__frame__descriptor);
    if (!m)
        return NULL;
    m->pc = f->pc;
    m->func = intern(&w->strings, w->cx->arena, f->func);
    m->object = intern(&w->strings, w->cx->arena, f->object);
    m->offset = f->offset;
    m->file = intern(&w->strings, w->cx->arena, f->file);
    m->line = f->line;
    return m;
}

static Gort__V1__Goroutine *goroutine_msg(struct dump_walk *w,
                                          const struct gort_goroutine_info *g)
{
    struct ctl_arena *a = w->cx->arena;
    Gort__V1__Goroutine *m = ctl_arena_msg(a, &gort__v1__goroutine__descriptor);
    int nf = g->nframes < 0                      ? 0
             : g->nframes > GORT_DUMP_MAX_FRAMES ? GORT_DUMP_MAX_FRAMES
                                                 : g->nframes;

    if (!m)
        return NULL;
    m->id = g->id;
    m->state = intern(&w->strings, a, g->state);
    m->wait_reason = intern(&w->strings, a, g->wait_reason);
    m->waiting_ns = g->waiting_ns;
    if (g->waiting_ns > 0)
        m->waiting_since_unix_ns = w->now_unix - g->waiting_ns;
    m->label = ctl_arena_strdup(a, g->label);
    m->start = frame_msg(w, &g->start);
    m->long_running = g->long_running != 0;
    m->retaken = g->retaken != 0;
    m->creator_id = g->creator_id;
    if (g->creator_id != 0)
        m->created_by = frame_msg(w, &g->creator);
    m->frames = ctl_arena_array(a, (size_t)nf, sizeof *m->frames);
    if (!m->frames)
        return NULL;
    m->n_frames = (size_t)nf;
    for (int i = 0; i < nf; i++)
        m->frames[i] = frame_msg(w, &g->frames[i]);
    return m;
}

static void goroutine_push(struct dump_walk *w, Gort__V1__Goroutine *m)
{
    if (!m) {
        w->oom = 1;
        return;
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        Gort__V1__Goroutine **gs = realloc(w->gs, cap * sizeof *gs);
        if (!gs) {
            w->oom = 1;
            return;
        }
        w->gs = gs;
        w->cap = cap;
    }
    w->gs[w->n++] = m;
}

/* ---- the walk ----------------------------------------------------------- */

static int dump_match(const Gort__V1__DumpGoroutinesRequest *req,
                      const struct gort_goroutine_info *g)
{
    if (req->state[0] &&
        strcasecmp(req->state, g->state ? g->state : "") != 0 &&
        strcasecmp(req->state, g->wait_reason ? g->wait_reason : "") != 0)
        return 0;
    if (req->min_wait_ns > 0 && g->waiting_ns < req->min_wait_ns)
        return 0;
    if (req->label[0] && !strstr(g->label ? g->label : "", req->label))
        return 0;
    return 1;
}

static int dump_one(const struct gort_goroutine_info *g, void *arg)
{
    struct dump_walk *w = arg;

    if ((++w->visited & 255) == 0 && ctl_ctx_expired(w->cx)) {
        w->expired = 1;
        return 1;
    }
    if (!dump_match(w->req, g))
        return 0;
    if (w->req->limit && w->matched == w->req->limit) {
        w->truncated = 1;
        return 1;
    }
    w->matched++;
    if (w->want_structured)
        goroutine_push(w, goroutine_msg(w, g));
    if (w->want_text)
        ctl_dump_text_one(&w->text, g);
    w->oom |= w->text.failed | w->strings.failed | w->cx->arena->failed;
    return w->oom; /* 1 stops the walk */
}

static void walk_finish(struct dump_walk *w, Gort__V1__DumpGoroutinesReply *rep)
{
    free(w->strings.slots);
    if (w->oom) { /* nothing of it is sent */
        free(w->gs);
        free(w->text.p);
        return;
    }
    ctl_arena_adopt(w->cx->arena, w->gs);
    ctl_arena_adopt(w->cx->arena, w->text.p);
    rep->n_goroutines = w->n;
    rep->goroutines = w->gs;
    if (w->text.p)
        rep->text = w->text.p;
    rep->matched = w->matched;
    rep->truncated = w->truncated;
}

grpc_status_code ctl_dump_goroutines(const ProtobufCMessage *in,
                                     ProtobufCMessage *out, struct ctl_ctx *cx)
{
    const Gort__V1__DumpGoroutinesRequest *req =
        (const Gort__V1__DumpGoroutinesRequest *)in;
    Gort__V1__DumpGoroutinesReply *rep = (Gort__V1__DumpGoroutinesReply *)out;
    struct dump_walk w = {.cx = cx, .req = req, .now_unix = now_unix_ns()};
    struct gort_stats *s = ctl_arena_alloc(cx->arena, sizeof *s);

    if (!s)
        return GRPC_STATUS_RESOURCE_EXHAUSTED; /* the dispatcher says why */
    if (req->min_wait_ns < 0)
        return ctl_fail(cx, GRPC_STATUS_INVALID_ARGUMENT,
                        "min_wait_ns %lld is negative",
                        (long long)req->min_wait_ns);
    w.want_structured =
        req->view != GORT__V1__DUMP_GOROUTINES_REQUEST__VIEW__TEXT;
    w.want_text =
        req->view != GORT__V1__DUMP_GOROUTINES_REQUEST__VIEW__STRUCTURED;
    if (gort_stats_read(s) == 0)
        rep->live = s->g_live;
    long rc = gort_goroutines_each(dump_one, &w);
    walk_finish(&w, rep);
    if (w.oom)
        return ctl_fail(cx, GRPC_STATUS_RESOURCE_EXHAUSTED,
                        "gortd ran out of memory after %u goroutines; ask "
                        "for fewer (limit, state, label) or one view",
                        w.matched);
    if (rc < 0)
        return ctl_fail(cx, GRPC_STATUS_UNAVAILABLE, "goroutine dump: %s",
                        gort_strerror((int)rc));
    if (w.expired)
        return ctl_fail(cx, GRPC_STATUS_DEADLINE_EXCEEDED,
                        "deadline exceeded after %llu goroutines",
                        (unsigned long long)w.visited);
    return GRPC_STATUS_OK;
}
