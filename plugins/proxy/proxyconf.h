/* proxyconf.h — proxy.conf, parsed into the proxy's mappings; internal to
 * proxy.so (hidden) and linked alone by tests/fuzz. */
#ifndef GORT_PLUGINS_PROXYCONF_H
#define GORT_PLUGINS_PROXYCONF_H

#include <stddef.h>
#include <stdint.h>

#include "gort/plugin.h"

struct proxy_route {
    char *pattern;
    char *upstream;  /* "http://host:port", no trailing '/' */
    int64_t timeout; /* ns; 0: the global one */
    int line;
    gort_http_client *client;
    struct proxy_route *next;
};

struct proxy {
    struct proxy_route *routes;
    int64_t timeout;
    int keepalive;
};

/* Parses config into px (its timeout and keepalive already set to the
 * defaults): mappings appended to px->routes in file order, with no
 * client yet. 0; -EINVAL with "proxy.conf:LINE: what is wrong" in err;
 * -ENOMEM. What was parsed before a failure stays in px->routes for the
 * caller to free. */
int proxy_parse_config(struct proxy *px, const char *config, char *err,
                       size_t errlen);

#endif
