/* plugin.h — gortd's plugin loader: *.so files from the plugins directory,
 * checked against the ABI in runtime/include/gort/plugin.h, registered into
 * a mux whole or not at all. The design is at the top of plugin.c.
 */
#ifndef GORT_SERVER_PLUGIN_H
#define GORT_SERVER_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "mux.h"

/* The plugins loaded from one directory. */
struct gort_plugins;

/* One loaded plugin, as gort_plugins_list reports it. The strings belong to
 * the plugin and stay valid while it is loaded. */
struct gort_plugin_info {
    const char *name;    /* the descriptor's name: "hello" */
    const char *version; /* the descriptor's version: "1.0.0" */
    const char *file;    /* DIR/NAME.so as gortd opened it */
    size_t routes;       /* routes it registered */
    uint64_t in_flight;  /* requests inside its handlers right now */
};

/* A loader for the plugins in dir, which must exist; NULL with err set
 * otherwise. Loads nothing yet. */
struct gort_plugins *gort_plugins_new(const char *dir, char *err,
                                      size_t errlen);

/* Loads every *.so in the directory, sorted by name, into mux (which is
 * being built: not published). Each one is loaded whole or refused; every
 * load and refusal is reported on stderr. Returns how many loaded, or a
 * negative errno when the directory cannot be read. */
int gort_plugins_load_dir(struct gort_plugins *ps, struct gort_mux *mux);

/* Loads the plugin file name (a name inside the directory; anything that
 * resolves outside it is refused) into mux with config (NULL for none).
 * 0, or a negative errno with err naming the file and the reason; nothing of
 * a refused plugin stays in mux. */
int gort_plugins_load(struct gort_plugins *ps, struct gort_mux *mux,
                      const char *name, const char *config, char *err,
                      size_t errlen);

/* How many plugins are loaded; the first min(that, n) go to out, in load
 * order. Any thread. */
size_t gort_plugins_list(struct gort_plugins *ps, struct gort_plugin_info *out,
                         size_t n);

/* Calls every plugin's fini and closes it, then frees ps (NULL is fine).
 * No mux that routes to them may still be in use. */
/* The name of the loaded plugin that registered routes as owner, or NULL
 * (a route gortd registered itself, or no such plugin). Any thread. */
const char *gort_plugins_owner_name(struct gort_plugins *ps, const void *owner);

void gort_plugins_free(struct gort_plugins *ps);

#endif /* GORT_SERVER_PLUGIN_H */
