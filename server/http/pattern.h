/* http/pattern.h — the mux's parsed patterns and their precedence; private
 * to server/http (pattern.c, routing_tree.c, mux.c). Names shared between
 * those files carry the mux__ prefix. The design is at the top of
 * pattern.c. */
#ifndef GORT_SERVER_HTTP_PATTERN_H
#define GORT_SERVER_HTTP_PATTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "http/mux.h"

enum seg_kind { SEG_LIT, SEG_WILD, SEG_MULTI, SEG_END };

/* One path segment of a pattern; s lives in the route's text. */
struct seg {
    enum seg_kind kind;
    const char *s; /* LIT: the unescaped literal; WILD, MULTI: the name, ""
                      when anonymous; END: "" */
    size_t len;
};

/* A registered pattern: one allocation, immutable once registered. */
struct route {
    const char *pattern; /* as registered */
    const char *method;  /* "" = every method */
    size_t method_len;
    const char *host; /* "" = every host */
    size_t host_len;
    struct seg *segs; /* at least one */
    size_t nsegs;
    size_t nnamed; /* named wildcards, <= MUX_MAX_VALUES */
    void *handler;
    void *arg;
    const void *owner;
};

static inline bool str_is(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

/* The order of literal edges: shorter first, then bytewise. Any total order
 * would do; this one settles most comparisons on the length, and segments
 * are too short for a call to memcmp to pay. */
static inline int key_cmp(const char *a, size_t alen, const char *b,
                          size_t blen)
{
    if (alen != blen)
        return alen < blen ? -1 : 1;
    for (size_t i = 0; i < alen; i++) {
        if (a[i] != b[i])
            return (unsigned char)a[i] < (unsigned char)b[i] ? -1 : 1;
    }
    return 0;
}

/* How the request sets of two patterns relate (pattern.go's relationship),
 * always read as "the first is ... the second". */
enum rel {
    REL_EQUIVALENT,    /* the same requests */
    REL_MORE_SPECIFIC, /* a strict subset */
    REL_MORE_GENERAL,  /* a strict superset */
    REL_OVERLAPS,      /* some in common, neither contains the other */
    REL_DISJOINT,      /* none in common */
};

/* ---- bytes and paths ----------------------------------------------------- */

/* The byte spelled by the two hex digits at s (valid: has_escapes said so). */
unsigned char mux__hexbyte(const char *s);

/* True when s holds a '%' and every '%' starts a valid escape. */
bool mux__has_escapes(const char *s, size_t n);

/* Writes the unescaped form of s to dst (which must not overlap s) and
 * returns its length, never more than n. */
size_t mux__unescape(const char *s, size_t n, char *dst);

/* True when p is its own cleaned form: rooted, no empty, "." or ".."
 * element; a trailing '/' is allowed. */
bool mux__path_is_clean(const char *p, size_t n);

size_t mux__count_slashes(const char *p, size_t n);

/* ---- messages ------------------------------------------------------------ */

/* A bounded string builder over the caller's err buffer. */
struct sbuf {
    char *p;
    size_t cap, len;
};

/* Starts b over err (errlen bytes; err may be NULL when errlen is 0). */
void mux__sb_init(struct sbuf *b, char *err, size_t errlen);
__attribute__((format(printf, 2, 3))) void mux__sb_printf(struct sbuf *b,
                                                          const char *fmt, ...);
/* A pattern in quotes, cut short so that the reason after it still fits. */
void mux__sb_pattern(struct sbuf *b, const char *pattern);

/* ---- patterns ------------------------------------------------------------ */

/* Parses pattern into a new route (*out, freed with free()), or fails with
 * a message in err: -EINVAL or -ENOMEM. */
int mux__route_parse(const char *pattern, char *err, size_t errlen,
                     struct route **out);

/* True when r's last segment is a multi: r matches a subtree. */
bool mux__ends_multi(const struct route *r);

/* The relation of a to b, or REL_DISJOINT when their hosts differ: a host
 * pattern always takes precedence, so the two never conflict. */
enum rel mux__compare_routes(const struct route *a, const struct route *b);

/* Writes why nr cannot be registered next to old (rel: REL_EQUIVALENT or
 * REL_OVERLAPS) into err, naming both and, for an overlap, a request both
 * match. Returns -EEXIST. */
int mux__conflict_fail(const struct route *nr, const struct route *old,
                       enum rel rel, char *err, size_t errlen);

#endif
