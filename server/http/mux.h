/* http/mux.h — gortd's request multiplexer: Go 1.22 ServeMux patterns, matched
 * without locks or allocation. The design is at the top of mux.c (and of
 * pattern.c and routing_tree.c, its parts).
 *
 * A pattern is "[METHOD ][HOST]/[PATH]":
 *   GET /posts/{id}        GET (and HEAD) with a path of two segments
 *   /b/{bucket}/o/{obj...} any method; obj is the rest of the path
 *   example.com/           any request for that host: a subtree
 *   /{$}                   exactly "/"
 * The most specific pattern wins; two patterns that overlap with neither
 * more specific are refused at registration, with both named.
 *
 * Life cycle. A mux is either being built (mux_new, mux_clone,
 * mux_handle, mux_remove_owner: one thread, no readers) or
 * published (mux_match, mux_count, mux_route: any number of
 * threads, no writer). To change the routes of a published mux, clone it,
 * change the clone, and swap the server's pointer to it; free the old one
 * when no request can still be using it.
 */
#ifndef GORT_SERVER_MUX_H
#define GORT_SERVER_MUX_H

#include <stddef.h>

struct mux;

/* Most named wildcards in one pattern (Go has no limit). */
#define MUX_MAX_VALUES 16
/* Most path segments in one pattern: bounds the matcher's recursion. */
#define MUX_MAX_SEGMENTS 255
/* Room for an Allow value; registration refuses a method that would make
 * the list of all registered methods longer. */
#define MUX_ALLOW_MAX 256
/* Bytes mux_match needs in its buffer for a path of plen bytes and a
 * query of qlen bytes: the unescaped path values, then a Location. */
#define MUX_BUF_LEN(plen, qlen) (2 * (size_t)(plen) + (size_t)(qlen) + 8)

/* What the mux looks at in a request. Strings need not be NUL-terminated. */
struct mux_request {
    const char *method; /* "GET", as received (case-sensitive) */
    size_t method_len;
    const char *host; /* Host header; a ":port" is stripped; may be empty */
    size_t host_len;
    const char *path; /* the path as received: still escaped, no query */
    size_t path_len;
    const char *query; /* after '?', without it; NULL or empty if none */
    size_t query_len;
};

/* One named wildcard of the matched pattern. */
struct mux_value {
    const char *name;  /* the wildcard's name, in the mux */
    const char *value; /* unescaped, NUL-terminated, in the caller's buffer */
    size_t len;        /* of value, which may itself hold NUL bytes */
};

/* The outcome of mux_match. Which fields are set depends on status. */
struct mux_match {
    int status; /* 200, 301, 404, 405 or 414 (the return value) */

    /* 200: the route. pattern points into the mux. */
    const char *pattern;
    void *handler;
    void *arg;
    const void *owner;
    size_t nvalues; /* named wildcards of pattern, in pattern order */
    struct mux_value values[MUX_MAX_VALUES];

    /* 301: the Location header, in the caller's buffer, NUL-terminated. */
    const char *location;
    size_t location_len;

    /* 405: the Allow header ("GET, HEAD, POST"), NUL-terminated. */
    char allow[MUX_ALLOW_MAX];
    size_t allow_len;
};

/* A registered route, for listing (`gortctl routes`). */
struct mux_route_info {
    const char *pattern; /* as registered, in the mux */
    void *handler;
    void *arg;
    const void *owner;
};

/* A new, empty mux; NULL when out of memory. */
struct mux *mux_new(void);

/* Frees mux (NULL is fine). No match may still be using it. */
void mux_free(struct mux *mux);

/* A deep copy of mux, sharing no memory with it (handler, arg and owner are
 * copied as pointers); NULL when out of memory. mux may be published. */
struct mux *mux_clone(const struct mux *mux);

/* Registers pattern for handler/arg on behalf of owner (any token, e.g. the
 * plugin; NULL is a valid owner). All or nothing: on failure mux is
 * unchanged and err (errlen bytes, may be NULL) says why.
 * Returns 0, -EINVAL (bad pattern or over a limit), -EEXIST (conflicts with
 * a registered pattern; the message names both) or -ENOMEM. */
int mux_handle(struct mux *mux, const char *pattern, void *handler, void *arg,
               const void *owner, char *err, size_t errlen);

/* The owner of the registered route that pattern conflicts with (what made
 * mux_handle return -EEXIST) into *owner: 0, -ENOENT when none
 * conflicts, -EINVAL or -ENOMEM. */
int mux_conflict_owner(const struct mux *mux, const char *pattern,
                       const void **owner);

/* Removes every route registered by owner. All or nothing. Returns how many
 * were removed (0 if none) or -ENOMEM. */
int mux_remove_owner(struct mux *mux, const void *owner);

/* Matches req against mux (NULL: an empty mux) and fills out:
 *   200  out->pattern, handler, arg, owner, values
 *   301  out->location: the cleaned path, or the path with '/' appended when
 *        only the subtree matches, with "?query" kept
 *   404  nothing matches
 *   405  the path matches for other methods only: out->allow
 *   414  buflen < MUX_BUF_LEN(path_len, query_len)
 * buf holds the values and the location; it must outlive their use.
 * Paths are cleaned (redirect) except for CONNECT. The server answers
 * "OPTIONS *" itself: "*" is not a path. Never allocates, never locks. */
int mux_match(const struct mux *mux, const struct mux_request *req,
              struct mux_match *out, char *buf, size_t buflen);

/* The value of the named wildcard name in a 200 match, or NULL. *len (if
 * len is not NULL) gets its length. Go's Request.PathValue. */
const char *mux_path_value(const struct mux_match *m, const char *name,
                           size_t *len);

/* How many routes mux holds; mux_route lists them in registration
 * order: 0, or -ENOENT when i is out of range. */
size_t mux_count(const struct mux *mux);
int mux_route(const struct mux *mux, size_t i, struct mux_route_info *out);

#endif
