/* pem.h — gortctl's TLS files, checked before any connection (pem.c). */
#ifndef GORT_PEM_H
#define GORT_PEM_H

#include <stddef.h>

/* 0 when path holds at least one PEM certificate (gRPC's roots), else -1
 * with err: unreadable, or no certificate in it. */
int pem_check_ca(const char *path, char *err, size_t errlen);

/* 0 when cert holds a PEM certificate and key the private key that goes
 * with it (no passphrase: gRPC cannot ask for one), else -1 with err. */
int pem_check_pair(const char *cert, const char *key, char *err, size_t errlen);

#endif /* GORT_PEM_H */
