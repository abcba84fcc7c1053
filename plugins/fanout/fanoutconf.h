/* fanoutconf.h — fanout.conf, parsed into the fan-out's route, upstreams
 * and deadline; internal to fanout.so (hidden) and linked alone by
 * tests/fuzz. */
#ifndef GORT_PLUGINS_FANOUTCONF_H
#define GORT_PLUGINS_FANOUTCONF_H

#include <stddef.h>
#include <stdint.h>

#include "gort/plugin.h"

struct upstream {
    char *name, *url;
};

struct fanout {
    char *pattern;
    struct upstream up[2];
    int nup;
    int64_t deadline; /* ns from the request's arrival */
    gort_http_client *client;
};

/* Parses config into fo (its deadline already set to the default): the
 * pattern if a route line names one, the two upstreams, the deadline. 0;
 * -EINVAL with "fanout.conf:LINE: what is wrong" in err; -ENOMEM. What
 * was parsed before a failure stays in fo for the caller to free. */
int fanout_parse_config(struct fanout *fo, const char *config, char *err,
                        size_t errlen);

#endif
