/* pem.c — gortctl's TLS files, checked before any connection.
 *
 * gRPC core reads the -tls-ca, -tls-cert and -tls-key files only when it
 * dials, and a file it cannot use then fails the channel with "empty
 * address list" after a few lines of its own log. So gortctl reads them
 * first, the way gRPC will (OpenSSL's PEM readers, as in gRPC's
 * ssl_transport_security.cc), and a bad file is a usage error that names
 * the file.
 */
#include "pem.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* The file opened for reading, or NULL with err. */
static BIO *pem_open(const char *flag, const char *path, char *err,
                     size_t errlen)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errlen, "cannot read %s %s: %s", flag, path,
                 strerror(errno));
        return NULL;
    }
    BIO *b = BIO_new_fp(f, BIO_CLOSE);
    if (!b) {
        fclose(f);
        snprintf(err, errlen, "cannot read %s %s: out of memory", flag, path);
    }
    return b;
}

/* The next certificate in b, or NULL at the end. The passphrase "" (as
 * gRPC passes) keeps OpenSSL from prompting on the terminal. */
static X509 *cert_next(BIO *b)
{
    X509 *x = PEM_read_bio_X509_AUX(b, NULL, NULL, (void *)"");
    if (!x)
        ERR_clear_error(); /* the end of the file reads as an error */
    return x;
}

int pem_check_ca(const char *path, char *err, size_t errlen)
{
    BIO *b = pem_open("-tls-ca", path, err, errlen);
    if (!b)
        return -1;
    int n = 0;
    for (X509 *x; (x = cert_next(b)) != NULL; n++)
        X509_free(x);
    BIO_free(b);
    if (n == 0)
        snprintf(err, errlen, "-tls-ca %s holds no PEM certificate", path);
    return n ? 0 : -1;
}

/* The private key in path, or NULL with err. */
static EVP_PKEY *key_read(const char *path, char *err, size_t errlen)
{
    BIO *b = pem_open("-tls-key", path, err, errlen);
    if (!b)
        return NULL;
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, (void *)"");
    BIO_free(b);
    if (!k) {
        ERR_clear_error();
        snprintf(err, errlen,
                 "-tls-key %s holds no PEM private key (or one with a "
                 "passphrase)",
                 path);
    }
    return k;
}

int pem_check_pair(const char *cert, const char *key, char *err, size_t errlen)
{
    BIO *b = pem_open("-tls-cert", cert, err, errlen);
    if (!b)
        return -1;
    X509 *x = cert_next(b);
    BIO_free(b);
    if (!x) {
        snprintf(err, errlen, "-tls-cert %s holds no PEM certificate", cert);
        return -1;
    }
    EVP_PKEY *k = key_read(key, err, errlen);
    int ok = k && X509_check_private_key(x, k) == 1;
    if (k && !ok) {
        ERR_clear_error();
        snprintf(err, errlen,
                 "-tls-key %s is not the key of the certificate in -tls-cert "
                 "%s",
                 key, cert);
    }
    EVP_PKEY_free(k);
    X509_free(x);
    return ok ? 0 : -1;
}
