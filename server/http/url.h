/* http/url.h — the URLs the HTTP client accepts: "http[s]://host[:port][/path]
 * [?query][#fragment]" (RFC 3986 §3, RFC 9110 §4.2.1). Plain C, no
 * allocation: the parts are slices of the caller's string. */
#ifndef GORT_HTTP_URL_H
#define GORT_HTTP_URL_H

#include <stddef.h>

#include "http/parse.h"

struct http_url {
    struct http_str scheme;    /* "http" or "https", as written (any case) */
    int tls;                   /* https */
    struct http_str authority; /* host[:port] as written: the Host field */
    struct http_str host;      /* for dialing: an IPv6 literal unbracketed */
    struct http_str path;      /* "/..." as written; a static "/" if none */
    struct http_str query;     /* after '?', absent (ptr NULL) when no '?' */
    unsigned port;             /* 80 (https: 443) when not written */
};

/* Parses url (NUL-terminated). Returns 0, or a negative errno with a
 * message in why (a static string):
 *   -EINVAL           malformed: no scheme, empty host, userinfo, a bad
 *                     port, a byte that must be percent-encoded (space,
 *                     CTL, DEL, non-ASCII), a bad %-escape
 *   -EPROTONOSUPPORT  a scheme other than http and https
 * A fragment is dropped (it never goes on the wire, RFC 9110 §7.1). The
 * request-target is path, then '?' and query when query.ptr is set. */
int http_url_parse(const char *url, struct http_url *out, const char **why);

#endif /* GORT_HTTP_URL_H */
