/* http/client.h — the HTTP client's private structures (client.c). The
 * public side is the "client" section of gort/http.h. */
#ifndef GORT_HTTP_CLIENT_H
#define GORT_HTTP_CLIENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gort/http.h"
#include "http/parse.h"
#include "http/tls.h"
#include "http/url.h"

#define HC_READ_CHUNK 4096
#define HC_MAX_INTERIM 5 /* 1xx responses skipped per request (Go) */
#define HC_ERR_LEN 192   /* gort_http_creq_error's message */
#define HC_USER_AGENT "gort-http-client/1.1"

struct hc_host;

/* One TCP connection to a host:port. Owned by exactly one of: the goroutine
 * whose request or response uses it, or the pool (while idle: then every
 * field below `fd` is under the client's lock). */
struct hc_conn {
    int fd;
    struct http_tls *tls; /* https: TLS over fd (http/tls.h); else NULL */
    char *key;            /* the pool's "host:port" it connects to */
    uint64_t nreq;        /* responses it carried: > 0 means a reused one */
    char *buf;            /* read buffer, or NULL; kept while idle unless
                             grown past HC_READ_CHUNK */
    size_t cap, len, off; /* bytes [off, len) are unconsumed */
    struct http_resp_head *head; /* the response head parse (3 KiB): made
                                    by the first response, kept with the
                                    connection, freed by conn_close */
    /* pool side, under the client's lock */
    struct hc_host *host;          /* the entry it idles in */
    struct hc_conn *hprev, *hnext; /* the host's stack: hnext is older */
    struct hc_conn *lprev, *lnext; /* the client's list, oldest first */
    int64_t idle_since;            /* gort_nanotime() when it went idle */
};

/* The idle connections of one host:port; exists only while it has some. */
struct hc_host {
    struct hc_host *next;
    struct hc_conn *top; /* newest first (Go reuses the most recent) */
    int nidle;
    char key[]; /* "host:port", host lower-cased */
};

struct gort_http_client {
    struct gort_http_client_opts o; /* defaults resolved, < 0 = none */
    pthread_mutex_t lock; /* the pool; never held across a park or close */
    struct hc_host *hosts;
    struct hc_conn *oldest, *newest; /* every idle connection */
    int nidle;
    struct http_tls_client *tls; /* trust store, made by the first https
                                    request (under lock) */
};

/* A request's field: its name and value are NUL-terminated strings at
 * these offsets of the request's fstr block (offsets, not pointers: the
 * block moves when it grows). */
struct hc_field {
    uint32_t name, value;
    uint32_t nlen; /* the name's length: most lookups end on it */
    uint32_t vlen; /* the value's: the head is written without a scan */
};

#define HC_INLINE_FIELDS 8 /* fields a request holds without an array */
#define HC_FSTR_INLINE 256 /* field bytes a request holds without a block */

enum hc_body { HC_BODY_NONE, HC_BODY_BUF, HC_BODY_READER };

struct gort_http_creq {
    int err; /* sticky: a bad method, URL or header */
    char errmsg[HC_ERR_LEN];
    char *method, *url; /* copies in strs; url's parts are slices of url */
    struct http_url u;
    char *dial_host; /* u.host, NUL-terminated, in strs */
    char port[8];
    char *key; /* the pool's "host:port", host lower-cased; "https:"
                  in front for https; in strs */
    struct hc_field *fields; /* ifields, or a heap array past them */
    size_t nfields, capfields;
    struct hc_field ifields[HC_INLINE_FIELDS];
    /* The fields' strings in one block grown by doubling; a field that
     * set_header replaces leaves its bytes here until the request is
     * freed (a request lives for one call). */
    char *fstr;
    size_t fstr_len, fstr_cap;
    bool fstr_inline; /* fstr is the block's tail (HC_FSTR_INLINE bytes) */
    bool close;       /* Connection: close */
    enum hc_body body;
    const void *buf;
    size_t blen;
    gort_http_body_reader reader;
    void *reader_arg;
    int64_t reader_len; /* -1: chunked */
    int64_t deadline;   /* absolute, 0 = none */
    gort_ctx *ctx;      /* gort_http_creq_set_ctx: a reference, or NULL */
    char strs[];        /* method, url, dial_host, key: one allocation with
                           the request */
};

enum hc_framing { HC_NONE, HC_LENGTH, HC_CHUNKED, HC_UNTIL_CLOSE };

struct gort_http_cresp {
    gort_http_client *cl;
    gort_ctx *ctx;     /* the request's, for body reads: a reference or NULL */
    struct hc_conn *c; /* owned until close */
    int status, minor;
    const char *reason;
    const char **hname, **hvalue; /* after the struct, in its allocation,
                                     with the reason and header strings */
    uint32_t *hnl, *hvl;          /* their lengths, as the parser found them */
    size_t nheaders;
    enum hc_framing framing;
    int64_t length; /* HC_LENGTH: declared; bytes left in `left` */
    int64_t left;
    struct http_chunked dec;
    bool done, keep_alive, reused;
    int err; /* sticky read error */
};

#endif /* GORT_HTTP_CLIENT_H */
