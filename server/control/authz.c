/* control/authz.c — -control-allow-cn: which clients may change gortd.
 *
 * Mutual TLS (-control-tls-ca) decides who may connect at all: any client
 * whose certificate the CA signed. That is often a whole fleet's CA, so the
 * methods that change the process (SetMaxProcs, plugin load, replace and
 * unload: handlers marked `mutates`) can be narrowed further to a list of
 * identities; everyone else connected keeps the read-only methods and gets
 * PERMISSION_DENIED for these.
 *
 * An identity matches the certificate's subject common name or any of its
 * subject alternative names (DNS, URI, e-mail, IP as gRPC renders them), by
 * exact, case-sensitive comparison: no wildcards, so a listed name means
 * exactly one kind of client. The names come from gRPC's auth context,
 * which holds them only for a certificate the handshake verified.
 */
#include "control/authz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc_security.h>

void ctl_authz_free(struct ctl_authz *z)
{
    for (int i = 0; i < z->n; i++)
        free(z->ids[i]);
    z->n = 0;
}

int ctl_authz_parse(struct ctl_authz *z, const char *list, char *err,
                    size_t errlen)
{
    memset(z, 0, sizeof *z);
    if (!list || !*list)
        return 0;
    for (const char *p = list;; p++) {
        size_t n = strcspn(p, ",");
        if (n == 0) {
            snprintf(err, errlen, "-control-allow-cn %s: empty name", list);
            goto fail;
        }
        if (z->n == CTL_AUTHZ_MAX) {
            snprintf(err, errlen, "-control-allow-cn: more than %d names",
                     CTL_AUTHZ_MAX);
            goto fail;
        }
        if (!(z->ids[z->n] = strndup(p, n))) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        z->n++;
        p += n;
        if (!*p)
            return 0;
    }
fail:
    ctl_authz_free(z);
    return -1;
}

static int listed(const struct ctl_authz *z, const char *id)
{
    for (int i = 0; i < z->n; i++)
        if (strcmp(z->ids[i], id) == 0)
            return 1;
    return 0;
}

int ctl_authz_match(const struct ctl_authz *z, const char *cn,
                    const char *const *sans, size_t nsans)
{
    if (z->n == 0)
        return 1;
    if (cn && listed(z, cn))
        return 1;
    for (size_t i = 0; i < nsans; i++)
        if (listed(z, sans[i]))
            return 1;
    return 0;
}

/* Appends "NAME=value" to who, as far as it fits. */
static void who_add(char *who, size_t len, const char *name,
                    const grpc_auth_property *p)
{
    size_t used = strlen(who);
    if (used + 1 < len)
        snprintf(who + used, len - used, "%s%s=%.*s", used ? " " : "", name,
                 (int)p->value_length, p->value);
}

/* Whether one property (not NUL-terminated) is listed. */
static int prop_listed(const struct ctl_authz *z, const grpc_auth_property *p)
{
    char id[512];
    if (p->value_length >= sizeof id)
        return 0;
    memcpy(id, p->value, p->value_length);
    id[p->value_length] = '\0';
    return listed(z, id);
}

static int props_match(const struct ctl_authz *z, const grpc_auth_context *ctx,
                       const char *prop, const char *label, char *who,
                       size_t wholen)
{
    grpc_auth_property_iterator it =
        grpc_auth_context_find_properties_by_name(ctx, prop);
    const grpc_auth_property *p;
    int ok = 0;
    while ((p = grpc_auth_property_iterator_next(&it)) != NULL) {
        who_add(who, wholen, label, p);
        ok |= prop_listed(z, p);
    }
    return ok;
}

int ctl_authz_allowed(const struct ctl_authz *z, grpc_call *call, char *who,
                      size_t wholen)
{
    who[0] = '\0';
    if (z->n == 0)
        return 1;
    grpc_auth_context *ctx = grpc_call_auth_context(call);
    int ok = 0;
    if (ctx) {
        ok = props_match(z, ctx, GRPC_X509_CN_PROPERTY_NAME, "CN", who, wholen);
        ok |= props_match(z, ctx, GRPC_X509_SAN_PROPERTY_NAME, "SAN", who,
                          wholen);
        grpc_auth_context_release(ctx);
    }
    if (!who[0])
        snprintf(who, wholen, "no client certificate");
    return ok;
}
