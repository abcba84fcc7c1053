/* test_tls_unit — server/http/tls.c on a socketpair, without the runtime
 * (the netpoll calls then poll(2) on the thread, as documented; the
 * sockets are non-blocking as registered ones are): a handshake
 * and records both ways, a client resuming its sessions by key, gathered
 * writev, a nowait read's -EAGAIN, bytes left inside a record
 * (http_tls_pending), plain HTTP sniffed as Go does, certificate errors worded
 * at load, and a reload that swaps the certificate or, when the new pair is
 * bad, keeps the old one. The certificates are made here with OpenSSL (P-256,
 * self-signed). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "http/tls.h"

static char dir[] = "/tmp/gort-tls-unit-XXXXXX";
static char cert1[64], key1[64], cert2[64], key2[64], live_cert[64],
    live_key[64];

static void write_pair(const char *cert, const char *key, long serial)
{
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    assert_non_null(pk);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
                               (const unsigned char *)"localhost", -1, -1, 0);
    X509_set_issuer_name(x, n);
    X509_set_pubkey(x, pk);
    assert_true(X509_sign(x, pk, EVP_sha256()) > 0);
    FILE *f = fopen(cert, "w");
    assert_non_null(f);
    PEM_write_X509(f, x);
    fclose(f);
    f = fopen(key, "w");
    assert_non_null(f);
    PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(pk);
}

static void copy(const char *from, const char *to)
{
    char buf[8192];
    FILE *in = fopen(from, "r"), *out = fopen(to, "w");
    assert_non_null(in);
    assert_non_null(out);
    size_t n = fread(buf, 1, sizeof buf, in);
    fwrite(buf, 1, n, out);
    fclose(in);
    fclose(out);
}

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    snprintf(cert1, sizeof cert1, "%s/c1.pem", dir);
    snprintf(key1, sizeof key1, "%s/k1.pem", dir);
    snprintf(cert2, sizeof cert2, "%s/c2.pem", dir);
    snprintf(key2, sizeof key2, "%s/k2.pem", dir);
    snprintf(live_cert, sizeof live_cert, "%s/cert.pem", dir);
    snprintf(live_key, sizeof live_key, "%s/key.pem", dir);
    write_pair(cert1, key1, 0x1111);
    write_pair(cert2, key2, 0x2222);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    const char *files[] = {cert1, key1, cert2, key2, live_cert, live_key};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        unlink(files[i]);
    rmdir(dir);
    return 0;
}

/* ---- a client on its own thread ------------------------------------------ */

struct peer {
    int fd;
    const char *ca;
    int rc;
    char err[256];
    struct http_tls *t;
    struct http_tls_client *keep; /* this client, not a new one to free */
    const char *key;              /* the session key ("https:localhost:443") */
};

static void *client_connect(void *arg)
{
    struct peer *p = arg;
    struct http_tls_client *c =
        p->keep ? p->keep : http_tls_client_new(p->ca, p->err, 256);
    const char *key = p->key ? p->key : "https:localhost:443";
    p->rc = c ? http_tls_connect(c, p->fd, "localhost", key, &p->t, p->err, 256)
              : -1;
    if (!p->keep)
        http_tls_client_free(c); /* the connection holds its own reference */
    return NULL;
}

/* Server reads run until the client's data is there; the client thread
 * must have finished its handshake first, which needs the server's side
 * of it running: both run together here. */
struct srv_read {
    struct http_tls *t;
    char buf[64];
    ssize_t n;
};

static void *server_first_read(void *arg)
{
    struct srv_read *r = arg;
    r->n = http_tls_read(r->t, r->buf, sizeof r->buf, true);
    return NULL;
}

static void test_roundtrip(void **state)
{
    (void)state;
    char err[512];
    struct http_tls_server *s = http_tls_server_new(cert1, key1, err, 512);
    assert_non_null(s);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
                     0);
    struct http_tls *st = http_tls_accept(s, sv[0]);
    assert_non_null(st);
    struct srv_read r = {.t = st};
    pthread_t th;
    pthread_create(&th, NULL, server_first_read, &r);
    struct peer cl = {.fd = sv[1], .ca = cert1};
    client_connect(&cl);
    assert_int_equal(cl.rc, 0);
    /* Three buffers, one record: the server reads them in one call. */
    struct iovec iov[3] = {{"GET ", 4}, {"/x HTTP/1.1\r\n", 13}, {"\r\n", 2}};
    assert_int_equal(http_tls_writev(cl.t, iov, 3), 19);
    pthread_join(th, NULL);
    assert_int_equal(r.n, 19);
    assert_memory_equal(r.buf, "GET /x HTTP/1.1\r\n\r\n", 19);
    /* Nothing more: a nowait read says so instead of waiting. */
    assert_int_equal(http_tls_read(st, r.buf, sizeof r.buf, false), -EAGAIN);
    /* One record larger than the read: the rest waits inside t. */
    char big[3000];
    memset(big, 'b', sizeof big);
    struct iovec one = {big, sizeof big};
    assert_int_equal(http_tls_writev(cl.t, &one, 1), (ssize_t)sizeof big);
    assert_int_equal(http_tls_read(st, r.buf, 10, true), 10);
    assert_true(http_tls_pending(st));
    size_t got = 10;
    char rest[4096];
    while (got < sizeof big) {
        ssize_t n = http_tls_read(st, rest, sizeof rest, true);
        assert_true(n > 0);
        got += (size_t)n;
    }
    assert_false(http_tls_pending(st));
    /* The other way, then close_notify: the client reads 0. */
    struct iovec ans = {"HTTP/1.1 200 OK\r\n\r\n", 19};
    assert_int_equal(http_tls_writev(st, &ans, 1), 19);
    assert_int_equal(http_tls_read(cl.t, r.buf, sizeof r.buf, true), 19);
    http_tls_close(st);
    assert_int_equal(http_tls_read(cl.t, r.buf, sizeof r.buf, true), 0);
    http_tls_close(cl.t);
    close(sv[0]);
    close(sv[1]);
    http_tls_server_free(s);
}

/* One connection of c to s under key: a request and an answer each way
 * (the answer's read takes in a TLS 1.3 server's tickets), then closed.
 * Returns whether its handshake resumed a session. */
static bool one_session(struct http_tls_server *s, struct http_tls_client *c,
                        const char *key)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
                     0);
    struct http_tls *st = http_tls_accept(s, sv[0]);
    assert_non_null(st);
    struct srv_read r = {.t = st};
    pthread_t th;
    pthread_create(&th, NULL, server_first_read, &r);
    struct peer cl = {.fd = sv[1], .keep = c, .key = key};
    client_connect(&cl);
    assert_int_equal(cl.rc, 0);
    struct iovec q = {"ping", 4};
    assert_int_equal(http_tls_writev(cl.t, &q, 1), 4);
    pthread_join(th, NULL);
    assert_int_equal(r.n, 4);
    struct iovec ans = {"pong", 4};
    assert_int_equal(http_tls_writev(st, &ans, 1), 4);
    assert_int_equal(http_tls_read(cl.t, r.buf, sizeof r.buf, true), 4);
    bool resumed = http_tls_resumed(cl.t);
    http_tls_close(st);
    http_tls_close(cl.t);
    close(sv[0]);
    close(sv[1]);
    return resumed;
}

/* A client resumes the session its server issued for the same key, and
 * only for that key; a client freed while one of its connections is still
 * open leaves that connection's late tickets a live store (the context's),
 * which ASan would flag otherwise. */
static void test_client_resumes(void **state)
{
    (void)state;
    char err[512];
    struct http_tls_server *s = http_tls_server_new(cert1, key1, err, 512);
    assert_non_null(s);
    struct http_tls_client *c = http_tls_client_new(cert1, err, 512);
    assert_non_null(c);
    assert_false(one_session(s, c, "https:localhost:443"));
    assert_true(one_session(s, c, "https:localhost:443"));
    assert_true(one_session(s, c, "https:localhost:443"));
    assert_false(one_session(s, c, "https:localhost:8443"));
    assert_true(one_session(s, c, "https:localhost:8443"));
    /* A fresh client has no sessions of its own. */
    struct http_tls_client *c2 = http_tls_client_new(cert1, err, 512);
    assert_non_null(c2);
    assert_false(one_session(s, c2, "https:localhost:443"));
    http_tls_client_free(c2);
    http_tls_client_free(c);
    http_tls_server_free(s);
}

static void test_untrusted_server(void **state)
{
    (void)state;
    char err[512];
    struct http_tls_server *s = http_tls_server_new(cert1, key1, err, 512);
    assert_non_null(s);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
                     0);
    struct http_tls *st = http_tls_accept(s, sv[0]);
    struct srv_read r = {.t = st};
    pthread_t th;
    pthread_create(&th, NULL, server_first_read, &r);
    struct peer cl = {.fd = sv[1], .ca = cert2}; /* trusts the other one */
    client_connect(&cl);
    assert_int_equal(cl.rc, -EPROTO);
    assert_non_null(strstr(cl.err, "certificate"));
    close(sv[1]); /* the server's read ends */
    pthread_join(th, NULL);
    assert_true(r.n <= 0);
    http_tls_close(st);
    close(sv[0]);
    http_tls_server_free(s);
}

static void test_plaintext_sniffed(void **state)
{
    (void)state;
    static const char *const reqs[] = {"GET / HTTP/1.1\r\n\r\n",
                                       "OPTIONS * HTTP/1.1\r\n\r\n"};
    char err[512], buf[64];
    struct http_tls_server *s = http_tls_server_new(cert1, key1, err, 512);
    assert_non_null(s);
    for (size_t i = 0; i < 2; i++) {
        int sv[2];
        assert_int_equal(
            socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
        struct http_tls *st = http_tls_accept(s, sv[0]);
        assert_true(write(sv[1], reqs[i], strlen(reqs[i])) > 0);
        assert_int_equal(http_tls_read(st, buf, sizeof buf, true), -EPROTO);
        assert_true(http_tls_plaintext(st));
        http_tls_close(st);
        close(sv[0]);
        close(sv[1]);
    }
    /* Not HTTP, not TLS either: a failure, but not Go's answer. */
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
                     0);
    struct http_tls *st = http_tls_accept(s, sv[0]);
    assert_true(write(sv[1], "SSH-2.0-x\r\n", 11) == 11);
    assert_int_equal(http_tls_read(st, buf, sizeof buf, true), -EPROTO);
    assert_false(http_tls_plaintext(st));
    http_tls_close(st);
    close(sv[0]);
    close(sv[1]);
    http_tls_server_free(s);
}

static void test_load_errors(void **state)
{
    (void)state;
    char err[512];
    assert_null(http_tls_server_new("/nonexistent.pem", key1, err, 512));
    assert_non_null(strstr(err, "cannot load certificate /nonexistent.pem"));
    assert_null(http_tls_server_new(cert1, "/nonexistent.key", err, 512));
    assert_non_null(strstr(err, "cannot load private key /nonexistent.key"));
    assert_null(http_tls_server_new(cert1, key2, err, 512));
    assert_non_null(strstr(err, "does not match certificate"));
    assert_null(http_tls_client_new("/nonexistent-ca.pem", err, 512));
    assert_non_null(strstr(err, "cannot load CA file"));
}

static void test_reload(void **state)
{
    (void)state;
    char err[512], serial[80];
    copy(cert1, live_cert);
    copy(key1, live_key);
    struct http_tls_server *s =
        http_tls_server_new(live_cert, live_key, err, 512);
    assert_non_null(s);
    http_tls_server_serial(s, serial, sizeof serial);
    assert_string_equal(serial, "1111");
    /* A connection made before the reload keeps the old context. */
    struct http_tls *before = http_tls_accept(s, -1);
    copy(cert2, live_cert);
    copy(key2, live_key);
    assert_int_equal(http_tls_server_reload(s, err, 512), 0);
    http_tls_server_serial(s, serial, sizeof serial);
    assert_string_equal(serial, "2222");
    /* A mismatched new pair: refused, the one in use stays. */
    copy(key1, live_key);
    assert_int_equal(http_tls_server_reload(s, err, 512), -1);
    assert_non_null(strstr(err, "does not match"));
    http_tls_server_serial(s, serial, sizeof serial);
    assert_string_equal(serial, "2222");
    http_tls_server_free(s);
    http_tls_close(before); /* its context outlived the server's */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_client_resumes),
        cmocka_unit_test(test_untrusted_server),
        cmocka_unit_test(test_plaintext_sniffed),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_reload),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
