/* kvconf.h — kv.conf, parsed into the store's key bound; internal to kv.so
 * (hidden) and linked alone by tests/fuzz. */
#ifndef GORT_PLUGINS_KVCONF_H
#define GORT_PLUGINS_KVCONF_H

#include <stddef.h>

#define KV_DEFAULT_KEYS 100000 /* max_keys without configuration */

/* Parses config (NULL: none): words separated by white space; the only
 * one is max_keys=N, N >= 1. None: KV_DEFAULT_KEYS. 0, or -EINVAL with
 * "bad configuration word W (bytes FROM..TO of kv.conf): ..." in err:
 * the position, never the text, since a configuration may hold what its
 * owner meant to keep out of logs (the loader's error goes to the log and
 * to gortctl). */
int kv_parse_config(const char *config, size_t *max_keys, char *err,
                    size_t errlen);

#endif
