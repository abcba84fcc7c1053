/* helpers.c — the SDK's request and response helpers (include/gort/http.h,
 * "request and response helpers"): header values by name, forms, cookies
 * and redirects on a live request.
 *
 * The rules live in plain-C files that unit tests drive without a server
 * (form.c, cookie.c, redirect.c, escape.c); this file only joins them to a
 * request and a response: reading the body for a form, walking the Cookie
 * fields, adding Set-Cookie, writing the redirect. It is an object library
 * like the client: gortd calls none of it, and from a static archive the
 * linker would leave the functions out for plugins to miss.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/cookie.h"
#include "http/escape.h"
#include "http/form.h"
#include "http/internal.h"
#include "http/redirect.h"

#define FORM_MAX_DEFAULT (10LL << 20) /* Go's maxFormSize */

const char *gort_http_header_next(const gort_http_request *r, const char *name,
                                  size_t *iter)
{
    for (size_t i = *iter; i < r->nheaders; i++) {
        if (strcasecmp(r->hname[i], name) == 0) {
            *iter = i + 1;
            return r->hvalue[i];
        }
    }
    *iter = r->nheaders;
    return NULL;
}

/* ---- forms --------------------------------------------------------------- */

/* Go's parsePostForm reads a body for these methods and this media type
 * only (parameters after ';' ignored, the type compared without case). */
static bool form_body(const gort_http_request *r)
{
    if (strcmp(r->method, "POST") != 0 && strcmp(r->method, "PUT") != 0 &&
        strcmp(r->method, "PATCH") != 0)
        return false;
    const char *ct = gort_http_header(r, "Content-Type");
    static const char want[] = "application/x-www-form-urlencoded";
    if (!ct)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    return n == sizeof want - 1 && strncasecmp(ct, want, n) == 0;
}

/* Reads the whole body, up to max + 1 bytes. 0 with *buf and *len set, or a
 * negative error (-EFBIG past max). */
static int read_body(gort_http_request *r, int64_t max, char **buf, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    for (;;) {
        if (!b)
            return -ENOMEM;
        if (n == cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb)
                free(b);
            b = nb;
            continue;
        }
        ssize_t k = gort_http_body_read(r, b + n, cap - n);
        if (k < 0 || (k > 0 && (int64_t)(n + (size_t)k) > max)) {
            free(b);
            return k < 0 ? (int)k : -EFBIG;
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    *buf = b;
    *len = n;
    return 0;
}

static int parse_post(gort_http_request *r, int64_t max, gort_http_form *f)
{
    char *body = NULL;
    size_t n = 0;
    int rc = read_body(r, max, &body, &n);
    if (rc == -EFBIG)
        http_form_fail(f, "http: POST too large");
    else if (rc < 0 && rc != -ENOMEM)
        http_form_fail(f, gort_strerror(rc));
    if (rc < 0)
        return rc;
    rc = http_form_parse(f, body, n, true);
    free(body);
    return rc;
}

int gort_http_form_parse(gort_http_request *r, int64_t max_body,
                         gort_http_form **out)
{
    gort_http_form *f = calloc(1, sizeof *f);
    int rc = 0;
    *out = NULL;
    if (!f)
        return -ENOMEM;
    if (form_body(r))
        rc = parse_post(r, max_body > 0 ? max_body : FORM_MAX_DEFAULT, f);
    if (rc != -ENOMEM) {
        int qrc = http_form_parse(f, r->query, strlen(r->query), false);
        if (rc == 0 || qrc == -ENOMEM)
            rc = qrc; /* the body's error comes first, as in Go */
    }
    if (rc == -ENOMEM) {
        gort_http_form_free(f);
        return rc;
    }
    *out = f;
    return rc;
}

const char *gort_http_form_value(const gort_http_form *f, const char *key)
{
    const struct http_form_pair *p = http_form_find(f, key, 0, false);
    return p ? p->value : NULL;
}

const char *gort_http_form_post_value(const gort_http_form *f, const char *key)
{
    const struct http_form_pair *p = http_form_find(f, key, 0, true);
    return p ? p->value : NULL;
}

const char *gort_http_form_get(const gort_http_form *f, const char *key,
                               size_t n)
{
    const struct http_form_pair *p = http_form_find(f, key, n, false);
    return p ? p->value : NULL;
}

const char *gort_http_form_at(const gort_http_form *f, size_t i,
                              const char **value)
{
    if (i >= f->n)
        return NULL;
    if (value)
        *value = f->pairs[i].value;
    return f->pairs[i].key;
}

const char *gort_http_form_error(const gort_http_form *f)
{
    return f->err;
}

void gort_http_form_free(gort_http_form *f)
{
    if (!f)
        return;
    http_form_clear(f);
    free(f);
}

/* ---- cookies ------------------------------------------------------------- */

int gort_http_cookie_next(const gort_http_request *r,
                          struct gort_http_cookie_iter *it)
{
    size_t i = it->field_;
    const char *line;
    while ((line = gort_http_header_next(r, "Cookie", &i)) != NULL) {
        if (http_cookie_next(line, &it->off_, &it->name, &it->name_len,
                             &it->value, &it->value_len)) {
            it->field_ = i - 1; /* this field may hold more */
            return 1;
        }
        it->field_ = i;
        it->off_ = 0;
    }
    it->field_ = i;
    return 0;
}

ssize_t gort_http_cookie(const gort_http_request *r, const char *name,
                         char *buf, size_t len)
{
    struct gort_http_cookie_iter it = {0};
    size_t nlen = strlen(name);
    if (len > 0)
        buf[0] = '\0';
    while (gort_http_cookie_next(r, &it)) {
        if (it.name_len != nlen || memcmp(it.name, name, nlen) != 0)
            continue;
        if (it.value_len >= len)
            return -ERANGE;
        memcpy(buf, it.value, it.value_len);
        buf[it.value_len] = '\0';
        return (ssize_t)it.value_len;
    }
    return -ENOENT;
}

ssize_t gort_http_cookie_string(const struct gort_http_cookie *c, char *buf,
                                size_t len)
{
    return http_cookie_format(c, buf, len);
}

int gort_http_set_cookie(gort_http_response *w,
                         const struct gort_http_cookie *c)
{
    char small[512], *buf = small;
    ssize_t n = http_cookie_format(c, small, sizeof small);
    if (n < 0)
        return (int)n;
    if ((size_t)n >= sizeof small) {
        if (!(buf = malloc((size_t)n + 1)))
            return -ENOMEM;
        http_cookie_format(c, buf, (size_t)n + 1);
    }
    int rc = gort_http_add_header(w, "Set-Cookie", buf);
    if (buf != small)
        free(buf);
    return rc;
}

/* ---- redirects ----------------------------------------------------------- */

static bool has_header(const gort_http_response *w, const char *name)
{
    for (size_t i = 0; i < w->nh; i++)
        if (w->hname[i] && strcasecmp(w->hname[i], name) == 0)
            return true;
    return false;
}

static int redirect_write(gort_http_response *w, const gort_http_request *r,
                          const char *url, char *loc, int code)
{
    bool had_ct = has_header(w, "Content-Type");
    bool get = strcmp(r->method, "GET") == 0;
    http_location_escape(url, loc, 3 * strlen(url) + 1);
    int rc = gort_http_set_header(w, "Location", loc);
    if (rc == 0 && !had_ct && (get || strcmp(r->method, "HEAD") == 0))
        rc =
            gort_http_set_header(w, "Content-Type", "text/html; charset=utf-8");
    if (rc < 0)
        return rc;
    gort_http_write_header(w, code);
    if (!had_ct && get) {
        http_html_escape(url, loc, 5 * strlen(url) + 1);
        gort_http_printf(w, "<a href=\"%s\">%s</a>.\n\n", loc,
                         gort_http_status_text(code));
    }
    return 0;
}

int gort_http_redirect(gort_http_response *w, const gort_http_request *r,
                       const char *url, int code)
{
    if (code < 300 || code > 399 || !url)
        return -EINVAL;
    size_t cap = strlen(r->path) + strlen(url) + 2;
    char *abs = malloc(cap), *loc = malloc(5 * cap + 1);
    int rc = -ENOMEM;
    if (abs && loc) {
        http_redirect_url(r->path, url, abs, cap);
        rc = redirect_write(w, r, abs, loc, code);
    }
    free(abs);
    free(loc);
    return rc;
}
