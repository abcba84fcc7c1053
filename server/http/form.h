/* http/form.h — Go's url.ParseQuery into a form: every pair kept in order,
 * the first error remembered (the form behind gort_http_form_parse).
 *
 * Plain C, no runtime (library gort_http): tests/http/test_form.c checks it
 * against rows produced by Go. Internal to gortd (prefix http_).
 */
#ifndef GORT_HTTP_FORM_H
#define GORT_HTTP_FORM_H

#include <stdbool.h>
#include <stddef.h>

struct http_form_pair {
    char *key, *value; /* decoded, NUL-terminated (may hold a NUL) */
    size_t klen, vlen;
    bool post; /* from the body (PostForm), else from the query */
};

/* gort_http_form of include/gort/http.h. */
struct gort_http_form {
    struct http_form_pair *pairs; /* body pairs first, then the query's */
    size_t n, cap;
    char err[160]; /* the first error, Go's text; "" when none */
};

/* Appends the pairs of s[0..n) as url.ParseQuery does: split on '&'; a pair
 * with ';' is an error ("invalid semicolon separator in query") and is
 * dropped, an empty one is skipped, '+' is a space and %XX a byte in keys
 * and values, a malformed escape is an error (`invalid URL escape "%zz"`)
 * that drops its pair. Parsing goes on after an error, as Go's does.
 * Returns 0, -EBADMSG when a pair was dropped for an error (the first one
 * is in f->err unless it already held one), or -ENOMEM. */
int http_form_parse(struct gort_http_form *f, const char *s, size_t n,
                    bool post);

/* Records err as the form's error unless it already has one. */
void http_form_fail(struct gort_http_form *f, const char *err);

/* Frees the pairs (not f). */
void http_form_clear(struct gort_http_form *f);

/* The nth (0-based) pair of key, among the body's pairs only when
 * post_only; NULL past the last. */
const struct http_form_pair *http_form_find(const struct gort_http_form *f,
                                            const char *key, size_t nth,
                                            bool post_only);

#endif /* GORT_HTTP_FORM_H */
