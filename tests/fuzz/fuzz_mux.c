/* fuzz_mux.c — libFuzzer target for the ServeMux (server/http/mux.c,
 * pattern.c, routing_tree.c).
 *
 * An input is lines. "R METHOD HOST PATH[?QUERY]" is a request; any other
 * line is a pattern. Patterns are registered in order (each by its own
 * owner), then every request is matched. Besides "no crash, no UB" the
 * target checks what Go 1.22's ServeMux rules let it check:
 *   - a registration either succeeds or is refused with a message, and a
 *     refused one leaves the mux as it was;
 *   - a registered pattern registered again is refused as a conflict, and
 *     mux_conflict_owner names its owner; no two registered patterns are
 *     equivalent or overlapping (they would conflict);
 *   - a clone matches every request the same way;
 *   - against a small reference matcher written here from Go's rules
 *     (methods, GET covering HEAD, hosts, literal, {x}, {x...}, trailing
 *     '/', {$}): a 200 is for a pattern the reference matches; when the
 *     reference matches any pattern the status is 200; when it matches
 *     exactly one, that is the one returned. The reference says "don't
 *     know" for what it does not model (escapes, unclean paths, CONNECT,
 *     hosts with ports or capitals), and then nothing is checked.
 *   - removing the first owner's routes removes exactly those.
 *
 *   build-asan/tests/fuzz/fuzz_mux -dict=tests/fuzz/mux.dict \
 *       /tmp/corpus tests/fuzz/corpus/mux
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/mux.h"
#include "http/pattern.h"

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_mux: %s:%d: check failed: %s\n", __FILE__,   \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

#define MAX_PATTERNS 12
#define MAX_REQUESTS 12
#define MAX_LINE 512

enum ref { REF_NO, REF_YES, REF_UNKNOWN };

struct req {
    char line[MAX_LINE + 1];
    struct mux_request q;
};

/* One parsed request path: segments split on '/', a trailing '/' as a last
 * segment of length 0 (Go's "/" key). */
struct segs {
    const char *s[MUX_MAX_SEGMENTS + 2];
    size_t len[MUX_MAX_SEGMENTS + 2];
    size_t n;
};

static int lower_host(const char *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '-'))
            return 0;
    }
    return 1;
}

/* Splits a clean path without escapes; 0 when the reference cannot model
 * it. */
static int split_path(const char *p, size_t n, struct segs *out)
{
    out->n = 0;
    if (n == 0 || p[0] != '/' || !mux__path_is_clean(p, n) ||
        memchr(p, '%', n) != NULL)
        return 0;
    size_t i = 1;
    for (;;) {
        size_t j = i;
        while (j < n && p[j] != '/')
            j++;
        if (out->n == MUX_MAX_SEGMENTS + 1)
            return 0;
        out->s[out->n] = p + i;
        out->len[out->n] = j - i;
        out->n++;
        if (j >= n)
            return 1;
        i = j + 1;
    }
}

static enum ref ref_method(const struct route *r, const struct mux_request *q)
{
    if (r->method_len == 0)
        return REF_YES;
    if (r->method_len == q->method_len &&
        memcmp(r->method, q->method, q->method_len) == 0)
        return REF_YES;
    if (str_is(r->method, r->method_len, "GET") &&
        str_is(q->method, q->method_len, "HEAD"))
        return REF_YES;
    return REF_NO;
}

/* Go's rules for the path part of one pattern. */
static enum ref ref_path(const struct route *r, const struct segs *rs)
{
    size_t i = 0;

    for (size_t k = 0; k < r->nsegs; k++) {
        const struct seg *s = &r->segs[k];
        int end = i == rs->n - 1 && rs->len[i] == 0; /* trailing '/' */
        switch (s->kind) {
        case SEG_LIT:
            if (memchr(s->s, '%', s->len) != NULL || s->len == 0)
                return REF_UNKNOWN;
            if (i >= rs->n || end || rs->len[i] != s->len ||
                memcmp(rs->s[i], s->s, s->len) != 0)
                return REF_NO;
            i++;
            break;
        case SEG_WILD:
            if (i >= rs->n)
                return REF_NO;
            if (end)
                return REF_UNKNOWN; /* {x} against the trailing "/" */
            i++;
            break;
        case SEG_MULTI:
            return i < rs->n ? REF_YES : REF_NO;
        case SEG_END:
            return end ? REF_YES : REF_NO;
        }
    }
    return i == rs->n ? REF_YES : REF_NO;
}

static enum ref ref_match(const struct route *r, const struct mux_request *q,
                          int check_method)
{
    struct segs rs;

    if (str_is(q->method, q->method_len, "CONNECT") ||
        !lower_host(q->host, q->host_len) ||
        !lower_host(r->host, r->host_len) ||
        !split_path(q->path, q->path_len, &rs))
        return REF_UNKNOWN;
    if (check_method && ref_method(r, q) == REF_NO)
        return REF_NO;
    if (r->host_len != 0 && (r->host_len != q->host_len ||
                             memcmp(r->host, q->host, q->host_len) != 0))
        return REF_NO;
    return ref_path(r, &rs);
}

/* Splits "R METHOD HOST PATH" in place; 0 when malformed. */
static int parse_request(struct req *r)
{
    char *f[3];
    char *p = r->line + 2;

    for (int i = 0; i < 3; i++) {
        f[i] = p;
        if (i < 2) {
            p = strchr(p, ' ');
            if (p == NULL)
                return 0;
            *p++ = '\0';
        }
    }
    char *qm = strchr(f[2], '?');
    r->q.method = f[0];
    r->q.method_len = strlen(f[0]);
    r->q.host = f[1];
    r->q.host_len = strlen(f[1]);
    r->q.path = f[2];
    r->q.path_len = qm ? (size_t)(qm - f[2]) : strlen(f[2]);
    r->q.query = qm ? qm + 1 : NULL;
    r->q.query_len = qm ? strlen(qm + 1) : 0;
    return 1;
}

static int do_match(const struct mux *m, const struct mux_request *q,
                    struct mux_match *out, char **buf)
{
    size_t len = MUX_BUF_LEN(q->path_len, q->query_len);

    *buf = malloc(len);
    CHECK(*buf != NULL);
    int st = mux_match(m, q, out, *buf, len);
    CHECK(st == out->status);
    CHECK(st == 200 || st == 301 || st == 404 || st == 405);
    return st;
}

static void check_request(const struct mux *m, const struct mux *clone,
                          struct route **parsed, const char **owners, size_t np,
                          const struct mux_request *q)
{
    struct mux_match a, b;
    char *abuf, *bbuf;
    int st = do_match(m, q, &a, &abuf);

    CHECK(do_match(clone, q, &b, &bbuf) == st);
    if (st == 200) {
        CHECK(strcmp(a.pattern, b.pattern) == 0 && a.owner == b.owner);
        CHECK(a.nvalues == b.nvalues && a.nvalues <= MUX_MAX_VALUES);
        for (size_t i = 0; i < a.nvalues; i++)
            CHECK(a.values[i].len == b.values[i].len &&
                  memcmp(a.values[i].value, b.values[i].value,
                         a.values[i].len) == 0 &&
                  a.values[i].value[a.values[i].len] == '\0');
    } else if (st == 301) {
        CHECK(a.location_len == strlen(a.location));
        CHECK(strcmp(a.location, b.location) == 0);
    } else if (st == 405) {
        CHECK(a.allow_len == strlen(a.allow) && a.allow_len > 0);
        CHECK(strcmp(a.allow, b.allow) == 0);
    }

    /* Go's matchOrRedirect: a match through a non-empty multi ("/a/"
     * for "/a/b") gives way to a 301 to path + "/" when that path matches
     * exactly, so a match the reference finds allows a 301 only when every
     * such match ends in a multi and the path has no trailing '/'. */
    size_t yes = 0, unknown = 0, which = 0, multi = 0;
    for (size_t i = 0; i < np; i++) {
        enum ref r = ref_match(parsed[i], q, 1);
        yes += r == REF_YES;
        unknown += r == REF_UNKNOWN;
        if (r == REF_YES) {
            which = i;
            multi += mux__ends_multi(parsed[i]);
        }
        if (st == 200 && a.owner == owners[i])
            CHECK(r != REF_NO);
    }
    int redirect = st == 301 && multi == yes && q->path_len > 0 &&
                   q->path[q->path_len - 1] != '/' &&
                   a.location_len > q->path_len &&
                   memcmp(a.location, q->path, q->path_len) == 0 &&
                   a.location[q->path_len] == '/';
    if ((yes > 0 && st != 200 && !redirect) ||
        (st == 200 && yes == 1 && unknown == 0 && a.owner != owners[which]))
        fprintf(stderr,
                "fuzz_mux: %.*s %.*s %.*s: %d %s, reference: %zu yes "
                "(last %s), %zu unknown\n",
                (int)q->method_len, q->method, (int)q->host_len, q->host,
                (int)q->path_len, q->path, st, st == 200 ? a.pattern : "", yes,
                yes ? parsed[which]->pattern : "", unknown);
    if (yes > 0)
        CHECK(st == 200 || redirect);
    if (st == 200 && yes == 1 && unknown == 0)
        CHECK(a.owner == owners[which]);
    free(abuf);
    free(bbuf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mux *m = mux_new();
    struct route *parsed[MAX_PATTERNS];
    const char *owners[MAX_PATTERNS];
    static char owner_tokens[MAX_PATTERNS];
    static struct req reqs[MAX_REQUESTS];
    size_t np = 0, nr = 0;
    char err[256];

    CHECK(m != NULL);
    for (size_t off = 0; off < size;) {
        const uint8_t *nl = memchr(data + off, '\n', size - off);
        size_t len = nl ? (size_t)(nl - (data + off)) : size - off;
        char line[MAX_LINE + 1];

        if (len > MAX_LINE || memchr(data + off, '\0', len) != NULL) {
            off += len + 1;
            continue;
        }
        memcpy(line, data + off, len);
        line[len] = '\0';
        off += len + 1;
        if (len >= 2 && line[0] == 'R' && line[1] == ' ') {
            if (nr < MAX_REQUESTS) {
                memcpy(reqs[nr].line, line, len + 1);
                nr += parse_request(&reqs[nr]);
            }
            continue;
        }
        if (np == MAX_PATTERNS)
            continue;
        size_t before = mux_count(m);
        const void *owner = &owner_tokens[np];
        err[0] = '\0';
        int rc = mux_handle(m, line, (void *)1, NULL, owner, err, sizeof err);
        CHECK(rc == 0 || rc == -EINVAL || rc == -EEXIST);
        if (rc != 0) {
            CHECK(err[0] != '\0' && memchr(err, '\0', sizeof err) != NULL);
            CHECK(mux_count(m) == before);
            const void *who = NULL;
            int c = mux_conflict_owner(m, line, &who);
            if (rc == -EEXIST)
                CHECK(c == 0 && who != NULL);
            else
                CHECK(c == -EINVAL || c == -ENOENT); /* a limit, not a parse */
            continue;
        }
        CHECK(mux_count(m) == before + 1);
        struct route *r = NULL;
        CHECK(mux__route_parse(line, err, sizeof err, &r) == 0);
        /* No registered pattern may conflict with this one. */
        for (size_t i = 0; i < np; i++) {
            enum rel rel = mux__compare_routes(r, parsed[i]);
            CHECK(rel != REL_EQUIVALENT && rel != REL_OVERLAPS);
        }
        /* Again: refused, naming this owner. */
        CHECK(mux_handle(m, line, (void *)2, NULL, &owner_tokens[0] + 1000, err,
                         sizeof err) == -EEXIST);
        const void *who = NULL;
        CHECK(mux_conflict_owner(m, line, &who) == 0 && who == owner);
        parsed[np] = r;
        owners[np] = owner;
        np++;
    }

    struct mux *clone = mux_clone(m);
    CHECK(clone != NULL && mux_count(clone) == mux_count(m));
    for (size_t i = 0; i < nr; i++)
        check_request(m, clone, parsed, owners, np, &reqs[i].q);

    /* Removing the first owner's route leaves the others, in order. */
    if (np > 0) {
        CHECK(mux_remove_owner(clone, owners[0]) == 1);
        CHECK(mux_count(clone) == np - 1);
        for (size_t i = 1; i < np; i++) {
            struct mux_route_info ri;
            CHECK(mux_route(clone, i - 1, &ri) == 0 && ri.owner == owners[i]);
        }
        for (size_t i = 0; i < nr; i++) {
            struct mux_match mm;
            char *buf;
            if (do_match(clone, &reqs[i].q, &mm, &buf) == 200)
                CHECK(mm.owner != owners[0]);
            free(buf);
        }
    }
    mux_free(clone);
    mux_free(m);
    for (size_t i = 0; i < np; i++)
        free(parsed[i]);
    return 0;
}
