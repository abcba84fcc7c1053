/* admin/textbuf.h — a growing byte buffer for the pages the admin listener
 * builds whole before answering (/metrics, the dashboard's stats).
 *
 * The buffer doubles when full; a failed allocation marks it failed and
 * every later write is dropped, so a page is either complete or refused
 * (the caller answers 500), never served half-written.
 */
#ifndef GORT_ADMIN_TEXTBUF_H
#define GORT_ADMIN_TEXTBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define TEXTBUF_INITIAL_CAP 16384

struct textbuf {
    char *buf;
    size_t len, cap;
    bool failed; /* out of memory: the page is incomplete */
};

static inline bool textbuf_reserve(struct textbuf *t, size_t need)
{
    if (t->failed)
        return false;
    if (t->len + need <= t->cap)
        return true;
    size_t cap = t->cap ? t->cap : TEXTBUF_INITIAL_CAP;
    while (cap < t->len + need)
        cap *= 2;
    char *b = realloc(t->buf, cap);
    if (!b) {
        t->failed = true;
        return false;
    }
    t->buf = b;
    t->cap = cap;
    return true;
}

static inline void textbuf_put(struct textbuf *t, const char *s, size_t n)
{
    if (textbuf_reserve(t, n)) {
        memcpy(t->buf + t->len, s, n);
        t->len += n;
    }
}

static inline void textbuf_puts(struct textbuf *t, const char *s)
{
    textbuf_put(t, s, strlen(s));
}

static inline void textbuf_free(struct textbuf *t)
{
    free(t->buf);
    *t = (struct textbuf){0};
}

#endif /* GORT_ADMIN_TEXTBUF_H */
