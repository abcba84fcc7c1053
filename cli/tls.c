/* cli/tls.c — TLS credentials for the control plane from PEM files.
 *
 * gRPC core takes PEM text, not file names, and copies it, so each file is
 * read into memory, handed over and freed. Files are small (a certificate
 * chain, a key, a CA bundle); anything over 1 MiB is refused as a mistake.
 */
#include "cli/grpc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc_security.h>

#define PEM_MAX (1024 * 1024)

/* The whole file, NUL-terminated, or NULL with err. */
static char *pem_read(const char *path, const char *what, char *err,
                      size_t errlen)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errlen, "cannot read TLS %s %s: %s", what, path,
                 strerror(errno));
        return NULL;
    }
    char *buf = malloc(PEM_MAX + 1);
    size_t n = buf ? fread(buf, 1, PEM_MAX + 1, f) : 0;
    int bad = !buf || ferror(f) || n == 0 || n > PEM_MAX;
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "cannot read TLS %s %s: %s", what, path,
                 !buf     ? "out of memory"
                 : n == 0 ? "empty file"
                          : "larger than 1 MiB");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

grpc_server_credentials *cli_tls_server_creds(const char *cert, const char *key,
                                              const char *ca, char *err,
                                              size_t errlen)
{
    grpc_server_credentials *cr = NULL;
    char *cert_pem = pem_read(cert, "certificate", err, errlen);
    char *key_pem = cert_pem ? pem_read(key, "key", err, errlen) : NULL;
    char *ca_pem =
        key_pem && ca ? pem_read(ca, "CA bundle", err, errlen) : NULL;

    if (key_pem && (!ca || ca_pem)) {
        grpc_ssl_pem_key_cert_pair pair = {.private_key = key_pem,
                                           .cert_chain = cert_pem};
        cr = grpc_ssl_server_credentials_create_ex(
            ca_pem, &pair, 1,
            ca_pem ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                   : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
            NULL);
        if (!cr)
            snprintf(err, errlen, "gRPC refused the TLS certificate/key pair");
    }
    free(cert_pem);
    free(key_pem);
    free(ca_pem);
    return cr;
}

grpc_channel_credentials *cli_tls_channel_creds(const char *ca,
                                                const char *cert,
                                                const char *key, char *err,
                                                size_t errlen)
{
    grpc_channel_credentials *cr = NULL;
    char *ca_pem = ca ? pem_read(ca, "CA bundle", err, errlen) : NULL;
    char *cert_pem = NULL, *key_pem = NULL;

    if (ca && !ca_pem)
        return NULL;
    if (cert) {
        cert_pem = pem_read(cert, "certificate", err, errlen);
        key_pem = cert_pem ? pem_read(key, "key", err, errlen) : NULL;
    }
    if (!cert || key_pem) {
        grpc_ssl_pem_key_cert_pair pair = {.private_key = key_pem,
                                           .cert_chain = cert_pem};
        cr = grpc_ssl_credentials_create(ca_pem, cert ? &pair : NULL, NULL,
                                         NULL);
        if (!cr)
            snprintf(err, errlen, "gRPC refused the TLS settings");
    }
    free(ca_pem);
    free(cert_pem);
    free(key_pem);
    return cr;
}
