/* http/tls.h — TLS (OpenSSL) as the transport under an HTTP connection, for
 * the server's connections (http_conn) and the client's (hc_conn). See
 * tls.c for how the records move over the netpoller. */
#ifndef GORT_HTTP_TLS_H
#define GORT_HTTP_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

struct http_tls;        /* one connection's TLS state */
struct http_tls_server; /* a certificate and key, reloadable */
struct http_tls_client; /* the trust store of one HTTP client */

/* Loads cert (a PEM chain, leaf first) and key (PEM) and checks that they
 * belong together. NULL with a message in err when they cannot be used. */
struct http_tls_server *http_tls_server_new(const char *cert, const char *key,
                                            char *err, size_t errlen);
/* Loads the same files again: new handshakes use them, connections already
 * open keep theirs. On failure the old ones stay and err says why (-1). */
int http_tls_server_reload(struct http_tls_server *s, char *err, size_t errlen);
/* The serial number of the certificate in use, hex (for logs). */
void http_tls_server_serial(struct http_tls_server *s, char *out, size_t n);
void http_tls_server_free(struct http_tls_server *s);

/* Server side of an accepted connection: the handshake runs in the first
 * read. NULL when out of memory. */
struct http_tls *http_tls_accept(struct http_tls_server *s, int fd);

/* A client trust store: the system's CAs, or only ca_file's when set.
 * NULL with a message in err. */
struct http_tls_client *http_tls_client_new(const char *ca_file, char *err,
                                            size_t errlen);
void http_tls_client_free(struct http_tls_client *c);
/* Client side of a connected fd: the handshake with SNI and the peer's
 * certificate checked against host (a name or an IP literal), offering
 * the session last issued for key (the server's host and port) when the
 * store holds one. 0 and *out, or a negative errno with a message in err. */
int http_tls_connect(struct http_tls_client *c, int fd, const char *host,
                     const char *key, struct http_tls **out, char *err,
                     size_t errlen);
/* Whether t's handshake resumed a session (tests, stats). */
bool http_tls_resumed(const struct http_tls *t);
/* Whether t's handshake has completed. */
bool http_tls_established(const struct http_tls *t);

/* Record I/O, as gort_read / gort_read_nowait / gort_writev: > 0 bytes, 0
 * end of stream (close_notify, or the peer's FIN), < 0 a negative errno
 * (-EAGAIN only when !wait; -EPROTO for a TLS failure). The descriptor's
 * deadlines hold as for the plain calls. */
ssize_t http_tls_read(struct http_tls *t, void *buf, size_t n, bool wait);
ssize_t http_tls_writev(struct http_tls *t, const struct iovec *iov, int n);
/* Bytes waiting inside t, decrypted or not (read-ahead): a read may return
 * more without the socket turning readable. */
bool http_tls_pending(const struct http_tls *t);
/* The first bytes looked like a plain HTTP request (server side). */
bool http_tls_plaintext(const struct http_tls *t);
/* Why the last call failed: OpenSSL's reason, else the I/O error. */
const char *http_tls_reason(const struct http_tls *t);
/* Sends close_notify when the session is sound (bounded by a short write
 * deadline) and frees t; the caller closes the descriptor. */
void http_tls_close(struct http_tls *t);

#endif /* GORT_HTTP_TLS_H */
