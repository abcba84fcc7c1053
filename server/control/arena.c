/* control/arena.c — bump allocation for control-plane replies.
 *
 * Replies are built once, packed once and thrown away, so a region allocator
 * fits: chunks of 16 KiB (or one exactly as large as a bigger request), a
 * pointer bumped through the newest one, everything released in one walk.
 * A goroutine dump of 100k goroutines allocates ~10^6 small objects; doing
 * that with malloc/free pairs, and freeing each on every error path, is what
 * this replaces.
 *
 * A failed allocation fails the call, not gortd: the arena remembers it
 * and the dispatcher answers RESOURCE_EXHAUSTED (arena.h says what callers
 * do). Nothing is retried: the next call starts with a fresh arena.
 */
#include "control/arena.h"
#include "log.h"

#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_BYTES (16 * 1024)
#define ALIGN alignof(max_align_t)

struct ctl_arena_chunk {
    struct ctl_arena_chunk *next;
    size_t used, size; /* bytes of data[] used / available */
    alignas(max_align_t) unsigned char data[];
};

struct ctl_arena_adopted {
    struct ctl_arena_adopted *next;
    void *p;
};

void ctl_fatal(const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    glog_error("fatal error", GLOG_STR("err", what));
    abort();
}

static struct ctl_arena_chunk *chunk_new(struct ctl_arena *a, size_t need)
{
    size_t size = need > CHUNK_BYTES ? need : CHUNK_BYTES;
    struct ctl_arena_chunk *c =
        size > SIZE_MAX - sizeof *c ? NULL : malloc(sizeof *c + size);
    if (!c)
        return NULL;
    c->used = 0;
    c->size = size;
    if (need > CHUNK_BYTES && a->chunks) {
        /* A big one-off goes behind the current chunk, which keeps serving
         * small requests. */
        c->next = a->chunks->next;
        a->chunks->next = c;
    } else {
        c->next = a->chunks;
        a->chunks = c;
    }
    return c;
}

void *ctl_arena_alloc(struct ctl_arena *a, size_t n)
{
    size_t need = (n + ALIGN - 1) & ~(ALIGN - 1);
    struct ctl_arena_chunk *c = a->chunks;

    if (a->failed || need < n)
        goto fail; /* once failed, the reply is lost anyway: stop growing */
    if (!c || c->size - c->used < need)
        c = chunk_new(a, need);
    if (!c)
        goto fail;
    void *p = c->data + c->used;
    c->used += need;
    memset(p, 0, n);
    return p;
fail:
    a->failed = 1;
    return NULL;
}

void *ctl_arena_array(struct ctl_arena *a, size_t n, size_t sz)
{
    if (sz && n > SIZE_MAX / sz) {
        a->failed = 1;
        return NULL;
    }
    return ctl_arena_alloc(a, n * sz);
}

char *ctl_arena_strdup(struct ctl_arena *a, const char *s)
{
    if (!s)
        s = "";
    size_t n = strlen(s) + 1;
    char *p = ctl_arena_alloc(a, n);
    if (!p)
        return (char *)"";
    memcpy(p, s, n);
    return p;
}

void *ctl_arena_msg(struct ctl_arena *a, const ProtobufCMessageDescriptor *d)
{
    void *m = ctl_arena_alloc(a, d->sizeof_message);
    if (m)
        protobuf_c_message_init(d, m);
    return m;
}

void ctl_arena_adopt(struct ctl_arena *a, void *p)
{
    if (!p)
        return;
    struct ctl_arena_adopted *ad = ctl_arena_alloc(a, sizeof *ad);
    if (!ad) {
        free(p);
        return;
    }
    ad->p = p;
    ad->next = a->adopted;
    a->adopted = ad;
}

void ctl_arena_free(struct ctl_arena *a)
{
    /* The adopted list lives in the chunks: walk it before freeing them. */
    for (struct ctl_arena_adopted *ad = a->adopted; ad; ad = ad->next)
        free(ad->p);
    struct ctl_arena_chunk *c = a->chunks;
    while (c) {
        struct ctl_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->chunks = NULL;
    a->adopted = NULL;
    a->failed = 0;
}
