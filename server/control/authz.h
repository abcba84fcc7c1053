/* control/authz.h — which verified clients may call the mutating methods. */
#ifndef GORT_CTL_AUTHZ_H
#define GORT_CTL_AUTHZ_H

#include <stddef.h>

#include <grpc/grpc.h>

#define CTL_AUTHZ_MAX 32 /* identities in -control-allow-cn */

struct ctl_authz {
    char *ids[CTL_AUTHZ_MAX]; /* malloc'd; n == 0: no restriction */
    int n;
};

/* Parses "id1,id2,..." (NULL or "": no restriction). 0, or -1 with err
 * (an empty entry, too many, out of memory); nothing held then. */
int ctl_authz_parse(struct ctl_authz *z, const char *list, char *err,
                    size_t errlen);

void ctl_authz_free(struct ctl_authz *z);

/* 1 when the call's client may mutate: no restriction, or its verified
 * certificate's CN or one of its subject alternative names is listed.
 * 0 otherwise, with who saying what the client presented (for the
 * PERMISSION_DENIED message and the log). */
int ctl_authz_allowed(const struct ctl_authz *z, grpc_call *call, char *who,
                      size_t wholen);

/* The same decision on a client's identities, for tests: cn may be NULL,
 * sans has nsans entries. */
int ctl_authz_match(const struct ctl_authz *z, const char *cn,
                    const char *const *sans, size_t nsans);

#endif /* GORT_CTL_AUTHZ_H */
