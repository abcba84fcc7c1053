/* http/tls.c — TLS under HTTP connections (OpenSSL), on goroutines.
 *
 * How the records move. An SSL object reads and writes through a BIO. Ours
 * is a small custom BIO whose read is gort_read (or gort_read_nowait) and
 * whose write is gort_write on the connection's descriptor: when the
 * socket has nothing to give or no room, it is that call that parks the
 * goroutine on the descriptor's readiness in the netpoller, exactly as a
 * plain connection's read does, and the thread runs other goroutines
 * meanwhile. OpenSSL therefore never sees EAGAIN while a goroutine may
 * wait: SSL_read/SSL_write/the handshake complete or fail, and the
 * descriptor's deadlines bound them (the header timeout covers a
 * handshake, since the first read of a connection is the handshake). The
 * one non-parking read, the one an idle connection's readiness callback
 * makes to see whether the wake-up was stale, sets `nowait`: the BIO then
 * reports "retry" and SSL_read's SSL_ERROR_WANT_READ becomes -EAGAIN, as
 * gort_read_nowait's. This is non-blocking SSL with want-read parking,
 * with the parking done once, in the BIO, rather than after each SSL call.
 *
 * Memory. An idle connection keeps its SSL object (the session's keys and
 * state) but not its record buffers: SSL_MODE_RELEASE_BUFFERS frees them
 * whenever they are empty.
 *
 * Read-ahead (server side). Without it OpenSSL reads a record's 5-byte
 * header, then its body: two read(2) per request. With it, one read takes
 * whatever the socket holds; the price is that bytes can wait inside the
 * SSL object (the rest of a record, or whole records a client pipelined)
 * where the netpoller cannot see them, so a connection asks
 * http_tls_pending (SSL_has_pending) before it goes idle.
 *
 * Plain HTTP on the TLS port. Go's net/http answers a request whose first
 * five bytes are "GET /", "HEAD ", "POST ", "PUT /" or "OPTIO" with
 * "HTTP/1.0 400 Bad Request" and a sentence, and closes. The BIO looks at
 * the first five bytes a server connection receives and fails the
 * handshake on those; the caller (transport.c) writes Go's answer.
 *
 * Client sessions. A client resumes the session its server last issued
 * for the same host and port (nginx's proxy_ssl_session_reuse, on by
 * default; Go resumes only when given a ClientSessionCache), so a proxy
 * that dials a new upstream connection skips the certificate exchange
 * and its verification. The store is the client context's, as ex_data
 * freed with it, so an SSL still open can never reach a store that is
 * gone: TLS 1.3 issues its tickets after the handshake, and they arrive
 * on whichever later read meets them. It holds one session per host and
 * port, CLIENT_SESSIONS of them (the least recently stored goes), under a
 * mutex held for a lookup or a store only. A session the server refuses
 * costs nothing but the full handshake it would have made anyway.
 *
 * Reload. The certificate lives in an SSL_CTX; a reload builds a new one
 * from the same files and swaps the pointer under a mutex. Each SSL holds
 * a reference to the context it was made from, so open connections keep
 * the old one until they close. The session-ticket keys move to the new
 * context, so tickets issued before a reload still resume.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "gort/net.h"
#include "http/tls.h"

#define HEAD_LEN 5 /* a TLS record header; Go sniffs this many bytes */
#define CLOSE_NOTIFY_NS 1000000000LL

struct http_tls {
    SSL *ssl;
    int fd;
    int err;        /* the netpoll error the BIO last saw, or 0 */
    bool nowait;    /* the BIO reads without parking */
    bool broken;    /* an error ended the session: no close_notify */
    bool plaintext; /* the first bytes were an HTTP request */
    uint8_t nhead;  /* bytes of head seen; HEAD_LEN: done looking */
    char head[HEAD_LEN];
    unsigned long reason; /* OpenSSL's error code of the failure, or 0 */
    char *session_key;    /* client: the key its sessions are stored by */
};

/* ---- the BIO over the netpoller ----------------------------------------- */

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static bool looks_like_http(const char *h)
{
    static const char *const starts[] = {"GET /", "HEAD ", "POST ", "PUT /",
                                         "OPTIO"};
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++)
        if (memcmp(h, starts[i], HEAD_LEN) == 0)
            return true;
    return false;
}

/* Collects the connection's first bytes; true when they are plain HTTP. */
static bool sniff(struct http_tls *t, const char *p, size_t n)
{
    while (n-- && t->nhead < HEAD_LEN)
        t->head[t->nhead++] = *p++;
    return t->nhead == HEAD_LEN && looks_like_http(t->head) &&
           (t->plaintext = true);
}

static int bio_read(BIO *b, char *out, int len)
{
    struct http_tls *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (len <= 0)
        return 0;
    ssize_t n = t->nowait ? gort_read_nowait(t->fd, out, (size_t)len)
                          : gort_read(t->fd, out, (size_t)len);
    if (n == -EAGAIN) {
        BIO_set_retry_read(b);
        return -1;
    }
    if (n == -ETIMEDOUT) {
        /* A deadline, not a fault: reported as a retry, the session stays
         * whole and its close still sends close_notify (after a fatal
         * SSL_ERROR_SYSCALL OpenSSL forbids SSL_shutdown). */
        t->err = (int)n;
        BIO_set_retry_read(b);
        return -1;
    }
    if (n < 0) {
        t->err = (int)n;
        return -1;
    }
    if (t->nhead < HEAD_LEN && sniff(t, out, (size_t)n)) {
        t->err = -EPROTO;
        return -1;
    }
    return (int)n;
}

static int bio_write(BIO *b, const char *in, int len)
{
    struct http_tls *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n = gort_write(t->fd, in, (size_t)len); /* all, or an error */
    if (n < 0) {
        t->err = (int)n;
        return -1;
    }
    return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0; /* writes are never buffered */
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void bio_setup(void)
{
    BIO_METHOD *m =
        BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "gort");
    if (m && BIO_meth_set_read(m, bio_read) &&
        BIO_meth_set_write(m, bio_write) && BIO_meth_set_ctrl(m, bio_ctrl) &&
        BIO_meth_set_create(m, bio_create))
        bio_method = m;
}

/* A connection's TLS state over fd, with the BIO in place. */
static struct http_tls *tls_new(SSL_CTX *ctx, int fd, bool server)
{
    pthread_once(&bio_once, bio_setup);
    struct http_tls *t = calloc(1, sizeof *t);
    BIO *b = bio_method ? BIO_new(bio_method) : NULL;
    SSL *ssl = b ? SSL_new(ctx) : NULL;
    if (!t || !ssl) {
        BIO_free(b);
        free(t);
        return NULL;
    }
    t->ssl = ssl;
    t->fd = fd;
    t->nhead = server ? 0 : HEAD_LEN;
    BIO_set_data(b, t);
    SSL_set_bio(ssl, b, b); /* ssl owns b */
    if (server)
        SSL_set_accept_state(ssl);
    else
        SSL_set_connect_state(ssl);
    return t;
}

/* ---- record I/O -----------------------------------------------------------
 */

/* Turns an SSL call's failure into a negative errno (0: end of stream). */
static ssize_t failure(struct http_tls *t, int rc)
{
    int e = SSL_get_error(t->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return t->err == -ETIMEDOUT ? -ETIMEDOUT : -EAGAIN;
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    t->broken = true;
    t->reason = ERR_peek_last_error();
    ERR_clear_error(); /* the thread's queue: another goroutine's next */
    if (t->err)
        return t->err;
    return e == SSL_ERROR_SYSCALL ? 0 : -EPROTO;
}

/* A write that "ended the stream" still failed to write. */
static ssize_t write_failure(struct http_tls *t, int rc)
{
    ssize_t e = failure(t, rc);
    return e < 0 ? e : -EPIPE;
}

const char *http_tls_reason(const struct http_tls *t)
{
    const char *r = t->reason ? ERR_reason_error_string(t->reason) : NULL;
    return r ? r : t->err ? gort_strerror(t->err) : "EOF";
}

ssize_t http_tls_read(struct http_tls *t, void *buf, size_t n, bool wait)
{
    size_t got = 0;
    t->nowait = !wait;
    t->err = 0;
    int rc = SSL_read_ex(t->ssl, buf, n, &got);
    t->nowait = false;
    return rc == 1 ? (ssize_t)got : failure(t, rc);
}

/* A TLS record carries up to 16 KiB: small buffers are gathered into one
 * record (and so one write(2)), as a plain writev sends them in one call. */
#define GATHER 16384

ssize_t http_tls_writev(struct http_tls *t, const struct iovec *iov, int n)
{
    char gather[GATHER];
    size_t total = 0, used = 0;
    t->err = 0;
    for (int i = 0; i <= n; i++) {
        bool last = i == n;
        size_t len = last ? 0 : iov[i].iov_len;
        /* Flush what is gathered when this buffer does not fit. */
        if (used && (last || used + len > GATHER)) {
            size_t w;
            int rc = SSL_write_ex(t->ssl, gather, used, &w);
            if (rc != 1)
                return write_failure(t, rc);
            used = 0;
        }
        if (last)
            break;
        if (len <= GATHER) {
            memcpy(gather + used, iov[i].iov_base, len);
            used += len;
        } else {
            size_t w;
            int rc = SSL_write_ex(t->ssl, iov[i].iov_base, len, &w);
            if (rc != 1)
                return write_failure(t, rc);
        }
        total += len;
    }
    return (ssize_t)total;
}

bool http_tls_pending(const struct http_tls *t)
{
    return SSL_has_pending(t->ssl) == 1;
}

bool http_tls_plaintext(const struct http_tls *t)
{
    return t->plaintext;
}

void http_tls_close(struct http_tls *t)
{
    if (!t)
        return;
    if (!t->broken && SSL_is_init_finished(t->ssl)) {
        /* A peer that stopped reading must not hold the goroutine. */
        gort_set_deadline(t->fd, GORT_IO_WRITE,
                          gort_nanotime() + CLOSE_NOTIFY_NS);
        if (SSL_shutdown(t->ssl) < 0)
            ERR_clear_error();
    }
    SSL_free(t->ssl);
    free(t->session_key);
    free(t);
}

bool http_tls_established(const struct http_tls *t)
{
    return SSL_is_init_finished(t->ssl) == 1;
}

bool http_tls_resumed(const struct http_tls *t)
{
    return t && SSL_session_reused(t->ssl) == 1;
}

/* ---- the server's certificate ---------------------------------------------
 */

struct http_tls_server {
    pthread_mutex_t lock; /* ctx: swapped by a reload */
    SSL_CTX *ctx;
    char *cert, *key;
};

/* The first queued OpenSSL error, as text, after what; clears the queue.
 * The first is the cause ("No such file or directory", "no start line");
 * the later ones only wrap it ("system lib", "PEM lib"). */
static void ssl_why(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_peek_error();
    const char *r = NULL;
    if (e && ERR_GET_LIB(e) == ERR_LIB_SYS)
        r = gort_strerror(-ERR_GET_REASON(e));
    else if (e && ERR_GET_LIB(e) == ERR_LIB_PEM &&
             ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
        r = "no PEM data in the file";
#ifdef ERR_LIB_OSSL_DECODER
    else if (e && ERR_GET_LIB(e) == ERR_LIB_OSSL_DECODER)
        r = "no key in PEM form in the file"; /* OpenSSL 3: "unsupported" */
#endif
    else if (e)
        r = ERR_reason_error_string(e);
    snprintf(err, errlen, "%s%s%s", what, r ? ": " : "", r ? r : "");
    ERR_clear_error();
}

/* Whether OpenSSL's queue says the key is not the certificate's (loading
 * a key checks it against the certificate, and on a mismatch drops the
 * certificate: a later check would only say none is assigned). */
static bool key_mismatch(void)
{
    return ERR_GET_REASON(ERR_peek_error()) == X509_R_KEY_VALUES_MISMATCH ||
           ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
}

/* Offers only http/1.1. A client that offers ALPN without it gets the
 * no_application_protocol alert (RFC 7301 §3.2), as Go's and nginx's
 * servers send: an h2-only client learns at the handshake, not from an
 * HTTP/1.1 answer to its HTTP/2 preface. */
static int alpn_select(SSL *ssl, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg)
{
    static const unsigned char ours[] = "\x08http/1.1";
    (void)ssl, (void)arg;
    if (SSL_select_next_proto((unsigned char **)out, outlen, ours,
                              sizeof ours - 1, in,
                              inlen) == OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_OK;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static SSL_CTX *server_ctx(const char *cert, const char *key, char *err,
                           size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    char what[512];
    if (!ctx) {
        ssl_why(err, errlen, "cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    /* A client that closes without close_notify has simply left: HTTP
     * frames its own messages. */
    SSL_CTX_set_options(ctx,
                        SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"gortd", 5);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    SSL_CTX_set_read_ahead(ctx, 1);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        snprintf(what, sizeof what, "cannot load certificate %s", cert);
        ssl_why(err, errlen, what);
    } else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        if (key_mismatch())
            snprintf(what, sizeof what,
                     "private key %s does not match certificate %s", key, cert);
        else
            snprintf(what, sizeof what, "cannot load private key %s", key);
        ssl_why(err, errlen, what);
    } else if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(what, sizeof what,
                 "private key %s does not match certificate %s", key, cert);
        ssl_why(err, errlen, what);
    } else {
        return ctx;
    }
    SSL_CTX_free(ctx);
    return NULL;
}

struct http_tls_server *http_tls_server_new(const char *cert, const char *key,
                                            char *err, size_t errlen)
{
    struct http_tls_server *s = calloc(1, sizeof *s);
    if (!s || !(s->cert = strdup(cert)) || !(s->key = strdup(key))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (!(s->ctx = server_ctx(cert, key, err, errlen)))
        goto fail;
    pthread_mutex_init(&s->lock, NULL);
    return s;
fail:
    if (s) {
        free(s->cert);
        free(s->key);
    }
    free(s);
    return NULL;
}

int http_tls_server_reload(struct http_tls_server *s, char *err, size_t errlen)
{
    SSL_CTX *ctx = server_ctx(s->cert, s->key, err, errlen);
    if (!ctx)
        return -1;
    unsigned char keys[80]; /* name, HMAC and AES keys of the tickets */
    pthread_mutex_lock(&s->lock);
    SSL_CTX *old = s->ctx;
    if (SSL_CTX_get_tlsext_ticket_keys(old, keys, sizeof keys) == 1)
        SSL_CTX_set_tlsext_ticket_keys(ctx, keys, sizeof keys);
    s->ctx = ctx;
    pthread_mutex_unlock(&s->lock);
    OPENSSL_cleanse(keys, sizeof keys);
    SSL_CTX_free(old); /* connections made from it hold their reference */
    return 0;
}

void http_tls_server_serial(struct http_tls_server *s, char *out, size_t n)
{
    pthread_mutex_lock(&s->lock);
    X509 *x = SSL_CTX_get0_certificate(s->ctx);
    BIGNUM *bn = x ? ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL) : 0;
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    pthread_mutex_unlock(&s->lock);
    snprintf(out, n, "%s", hex ? hex : "?");
    OPENSSL_free(hex);
    BN_free(bn);
}

void http_tls_server_free(struct http_tls_server *s)
{
    if (!s)
        return;
    SSL_CTX_free(s->ctx);
    pthread_mutex_destroy(&s->lock);
    free(s->cert);
    free(s->key);
    free(s);
}

struct http_tls *http_tls_accept(struct http_tls_server *s, int fd)
{
    pthread_mutex_lock(&s->lock);
    SSL_CTX *ctx = s->ctx;
    SSL_CTX_up_ref(ctx); /* a reload may free s->ctx once unlocked */
    pthread_mutex_unlock(&s->lock);
    struct http_tls *t = tls_new(ctx, fd, true);
    SSL_CTX_free(ctx); /* the SSL has its own reference */
    return t;
}

/* ---- the client's trust store and sessions ------------------------------
 */

#define CLIENT_SESSIONS 64
#define SESSION_KEY_LEN 300 /* "https:" host ":" port, a host <= 255 */

struct session_slot {
    char key[SESSION_KEY_LEN];
    SSL_SESSION *sess; /* one reference, the store's; NULL: free slot */
    uint64_t stored;   /* the store's clock when stored: oldest goes */
};

struct session_store {
    pthread_mutex_t lock;
    uint64_t clock;
    struct session_slot slot[CLIENT_SESSIONS];
};

struct http_tls_client {
    SSL_CTX *ctx;
};

static int store_index = -1; /* SSL_CTX ex_data: its session_store */
static int key_index = -1;   /* SSL ex_data: the key its session goes by */
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

static void store_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
                       long argl, void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    struct session_store *st = ptr;
    if (!st)
        return;
    for (int i = 0; i < CLIENT_SESSIONS; i++)
        SSL_SESSION_free(st->slot[i].sess);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

static void index_setup(void)
{
    store_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, store_free);
    key_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* Under st->lock: key's slot, or the one to reuse for it. */
static struct session_slot *slot_for(struct session_store *st, const char *key)
{
    struct session_slot *oldest = &st->slot[0];
    for (int i = 0; i < CLIENT_SESSIONS; i++) {
        struct session_slot *e = &st->slot[i];
        if (e->sess && strcmp(e->key, key) == 0)
            return e;
        if (!e->sess)
            return e; /* slots fill from the front: key is not further on */
        if (e->stored < oldest->stored)
            oldest = e;
    }
    return oldest;
}

/* OpenSSL's new-session callback: a resumable session the server issued
 * replaces the one kept for this connection's key. 1: the store keeps
 * the reference it was given. */
static int session_issued(SSL *ssl, SSL_SESSION *sess)
{
    struct session_store *st =
        SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), store_index);
    const char *key = SSL_get_ex_data(ssl, key_index);
    if (!st || !key || !SSL_SESSION_is_resumable(sess))
        return 0;
    pthread_mutex_lock(&st->lock);
    struct session_slot *e = slot_for(st, key);
    SSL_SESSION_free(e->sess);
    snprintf(e->key, sizeof e->key, "%s", key);
    e->sess = sess;
    e->stored = ++st->clock;
    pthread_mutex_unlock(&st->lock);
    return 1;
}

/* Offers key's session, if the store holds one, to ssl's handshake. */
static void session_offer(SSL *ssl, const char *key)
{
    struct session_store *st =
        SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), store_index);
    if (!st)
        return;
    pthread_mutex_lock(&st->lock);
    struct session_slot *e = slot_for(st, key);
    if (e->sess && strcmp(e->key, key) == 0)
        SSL_set_session(ssl, e->sess); /* takes its own reference */
    pthread_mutex_unlock(&st->lock);
}

/* The session store on ctx; false when out of memory (then no resumption,
 * as before: the client still works). */
static bool sessions_setup(SSL_CTX *ctx)
{
    pthread_once(&index_once, index_setup);
    struct session_store *st = calloc(1, sizeof *st);
    if (!st || store_index < 0 || key_index < 0 ||
        pthread_mutex_init(&st->lock, NULL) != 0) {
        free(st);
        return false;
    }
    if (SSL_CTX_set_ex_data(ctx, store_index, st) != 1) {
        pthread_mutex_destroy(&st->lock);
        free(st);
        return false;
    }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
                                            SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, session_issued);
    return true;
}

struct http_tls_client *http_tls_client_new(const char *ca_file, char *err,
                                            size_t errlen)
{
    struct http_tls_client *c = calloc(1, sizeof *c);
    SSL_CTX *ctx = c ? SSL_CTX_new(TLS_client_method()) : NULL;
    if (!ctx) {
        ssl_why(err, errlen, "cannot create a TLS context");
        free(c);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1);
    /* The default paths honour SSL_CERT_FILE and SSL_CERT_DIR, as Go's
     * crypto/x509 does on Linux. */
    int ok = ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
                     : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        char what[512];
        snprintf(what, sizeof what, "cannot load CA file %s",
                 ca_file ? ca_file : "(system)");
        ssl_why(err, errlen, what);
        SSL_CTX_free(ctx);
        free(c);
        return NULL;
    }
    (void)sessions_setup(ctx);
    c->ctx = ctx;
    return c;
}

void http_tls_client_free(struct http_tls_client *c)
{
    if (!c)
        return;
    SSL_CTX_free(c->ctx);
    free(c);
}

/* SNI and the name the certificate must carry; an IP literal is matched
 * against the certificate's IP addresses and never sent as SNI (RFC 6066). */
static int client_names(SSL *ssl, const char *host)
{
    unsigned char ip[16];
    X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
    if (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1)
        return X509_VERIFY_PARAM_set1_ip_asc(vp, host) == 1 ? 0 : -EINVAL;
    X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set_tlsext_host_name(ssl, host) != 1 ||
        X509_VERIFY_PARAM_set1_host(vp, host, 0) != 1)
        return -EINVAL;
    return 0;
}

int http_tls_connect(struct http_tls_client *c, int fd, const char *host,
                     const char *key, struct http_tls **out, char *err,
                     size_t errlen)
{
    struct http_tls *t = tls_new(c->ctx, fd, false);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if (client_names(t->ssl, host) < 0) {
        snprintf(err, errlen, "tls: bad server name %s", host);
        http_tls_close(t);
        return -EINVAL;
    }
    if (key && strlen(key) < SESSION_KEY_LEN &&
        (t->session_key = strdup(key)) != NULL &&
        SSL_set_ex_data(t->ssl, key_index, t->session_key) == 1)
        session_offer(t->ssl, key);
    int rc = SSL_connect(t->ssl);
    if (rc == 1) {
        *out = t;
        return 0;
    }
    long v = SSL_get_verify_result(t->ssl);
    unsigned long e = ERR_peek_last_error();
    int r = (int)failure(t, rc);
    if (v != X509_V_OK)
        snprintf(err, errlen, "tls: certificate of %s: %s", host,
                 X509_verify_cert_error_string(v));
    else if (t->err || !e)
        snprintf(err, errlen, "tls handshake: %s",
                 r == 0            ? "EOF"
                 : r == -ETIMEDOUT ? "i/o timeout"
                                   : gort_strerror(r));
    else
        snprintf(err, errlen, "tls handshake: %s",
                 ERR_reason_error_string(e) ? ERR_reason_error_string(e)
                                            : "failed");
    http_tls_close(t);
    return v != X509_V_OK ? -EPROTO : r ? r : -ECONNRESET;
}
