/* form.c — url.ParseQuery for forms: the query and an
 * application/x-www-form-urlencoded body as Go's Request.ParseForm sees
 * them.
 *
 * Unlike query.c (one key, nothing allocated, bad pairs skipped quietly),
 * a form keeps every pair, decoded, in arrival order, and reports the first
 * error in Go's words: ParseForm hands its caller both the values it could
 * read and the error, and a handler that answers 400 on a bad form wants
 * to say why. Go keeps a map of slices; an array in order gives the same
 * answers (the nth value of a key is the nth pair of that key) and keeps
 * the body's pairs ahead of the query's, as r.Form orders them.
 */
#include "http/form.h"

#include "http/escape.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void http_form_fail(struct gort_http_form *f, const char *err)
{
    if (!f->err[0])
        snprintf(f->err, sizeof f->err, "%s", err);
}

/* Decodes s[0..n) into a new string (query mode: '+' is a space); NULL
 * with *bad set to the escape's offset when one is malformed, NULL with
 * *bad = -1 when out of memory. */
static char *unescape(const char *s, size_t n, size_t *outlen, long *bad)
{
    char *out = malloc(n + 1);
    size_t o = 0;
    if (!out) {
        *bad = -1;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] != '%') {
            out[o++] = s[i];
        } else {
            int hi = i + 1 < n ? http_hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? http_hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                free(out);
                *bad = (long)i;
                return NULL;
            }
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        }
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

/* Go's EscapeError text: the escape and at most two bytes after '%'. */
static void escape_error(struct gort_http_form *f, const char *s, size_t n)
{
    char msg[64];
    snprintf(msg, sizeof msg, "invalid URL escape \"%.*s\"",
             (int)(n < 3 ? n : 3), s);
    http_form_fail(f, msg);
}

static int push(struct gort_http_form *f, struct http_form_pair p)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 8;
        struct http_form_pair *np = realloc(f->pairs, cap * sizeof *np);
        if (!np)
            return -ENOMEM;
        f->pairs = np;
        f->cap = cap;
    }
    f->pairs[f->n++] = p;
    return 0;
}

/* One pair s[0..n) (no '&' in it, not empty, no ';'). */
static int parse_pair(struct gort_http_form *f, const char *s, size_t n,
                      bool post)
{
    const char *eq = memchr(s, '=', n);
    size_t kn = eq ? (size_t)(eq - s) : n;
    const char *v = eq ? eq + 1 : s + n;
    size_t vn = eq ? n - kn - 1 : 0;
    struct http_form_pair p = {.post = post};
    long bad = 0;
    p.key = unescape(s, kn, &p.klen, &bad);
    if (p.key)
        p.value = unescape(v, vn, &p.vlen, &bad);
    if (!p.key || !p.value) {
        free(p.key);
        if (bad < 0)
            return -ENOMEM;
        const char *seg = p.key ? v : s, *end = p.key ? v + vn : s + kn;
        escape_error(f, seg + bad, (size_t)(end - (seg + bad)));
        return -EBADMSG;
    }
    int rc = push(f, p);
    if (rc < 0) {
        free(p.key);
        free(p.value);
    }
    return rc;
}

int http_form_parse(struct gort_http_form *f, const char *s, size_t n,
                    bool post)
{
    int rc = 0;
    while (n > 0) {
        const char *amp = memchr(s, '&', n);
        size_t pn = amp ? (size_t)(amp - s) : n;
        int prc = 0;
        if (memchr(s, ';', pn)) {
            http_form_fail(f, "invalid semicolon separator in query");
            prc = -EBADMSG;
        } else if (pn > 0) {
            prc = parse_pair(f, s, pn, post);
        }
        if (prc == -ENOMEM)
            return prc;
        if (prc < 0)
            rc = prc;
        s += amp ? pn + 1 : pn;
        n -= amp ? pn + 1 : pn;
    }
    return rc;
}

void http_form_clear(struct gort_http_form *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->pairs[i].key);
        free(f->pairs[i].value);
    }
    free(f->pairs);
    f->pairs = NULL;
    f->n = f->cap = 0;
}

const struct http_form_pair *http_form_find(const struct gort_http_form *f,
                                            const char *key, size_t nth,
                                            bool post_only)
{
    size_t klen = strlen(key);
    for (size_t i = 0; i < f->n; i++) {
        const struct http_form_pair *p = &f->pairs[i];
        if ((post_only && !p->post) || p->klen != klen ||
            memcmp(p->key, key, klen) != 0)
            continue;
        if (nth-- == 0)
            return p;
    }
    return NULL;
}
