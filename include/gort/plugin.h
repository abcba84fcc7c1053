/* plugin.h — the ABI of a gortd handler plugin: one versioned descriptor
 * per .so, nginx-module style.
 *
 * A plugin is a shared object that defines one exported symbol,
 * gort_plugin_descriptor, with GORT_PLUGIN:
 *
 *     #include "gort/plugin.h"
 *
 *     static void hi(gort_http_response *w, gort_http_request *r, void *a)
 *     {
 *         gort_http_println(w, "hi");
 *     }
 *     static int init(struct gort_plugin_registrar *reg, const char *config,
 *                     void **state)
 *     {
 *         return gort_plugin_handle(reg, "GET /hi", hi, NULL);
 *     }
 *     GORT_PLUGIN("hi", "1.0", init, NULL);
 *
 * gortd checks the descriptor before it calls anything in it: abi, size and
 * signature must be those of the headers gortd was built with, or the file
 * is refused with both versions named. init registers routes through the
 * registrar; a plugin is loaded whole or not at all (a failing init or a
 * conflicting route unregisters everything it registered, then fini runs if
 * init had succeeded, then the file is closed).
 *
 * Configuration: the text of NAME.conf next to NAME.so in the plugins
 * directory, if that file exists (up to 64 KiB), else NULL.
 *
 * Lifetime: gortd may unload or replace a plugin while it serves. A plugin's
 * code stays mapped while a request is routed to it and while any goroutine
 * started by its code runs; so a goroutine it starts must end by itself
 * (fini may tell it to) or the unload waits for it. Two versions of a
 * plugin can be loaded at once during a replace: each has its own statics.
 */
#ifndef GORT_PLUGIN_H
#define GORT_PLUGIN_H

#include <stdint.h>

#include "gort/gort.h"
#include "gort/http.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change to struct gort_plugin or to what gortd
 * promises a plugin. Growing into spare[] keeps the version. */
#define GORT_PLUGIN_ABI 1

/* The name gortd looks up with dlsym. */
#define GORT_PLUGIN_SYMBOL "gort_plugin_descriptor"

#define GORT_PLUGIN_STR_(x) #x
#define GORT_PLUGIN_STR(x) GORT_PLUGIN_STR_(x)

#if defined(__x86_64__)
#define GORT_PLUGIN_ARCH "x86_64"
#elif defined(__aarch64__)
#define GORT_PLUGIN_ARCH "aarch64"
#else
#define GORT_PLUGIN_ARCH "unknown"
#endif

/* What a plugin and gortd must agree on beyond the struct's layout: ABI,
 * machine and pointer size. "gort/1 x86_64 p8". */
#define GORT_PLUGIN_PTR GORT_PLUGIN_STR(__SIZEOF_POINTER__)
#define GORT_PLUGIN_SIGNATURE                                                  \
    "gort/" GORT_PLUGIN_STR(GORT_PLUGIN_ABI) " " GORT_PLUGIN_ARCH              \
                                             " p" GORT_PLUGIN_PTR

/* Handed to init; valid only during init. */
struct gort_plugin_registrar;

struct gort_plugin {
    uint32_t abi;          /* GORT_PLUGIN_ABI the plugin was built with */
    uint32_t size;         /* sizeof(struct gort_plugin) it was built with */
    const char *signature; /* GORT_PLUGIN_SIGNATURE it was built with */
    const char *name;      /* "hello": unique among loaded plugins */
    const char *version;   /* free-form, shown in listings: "1.2.0" */
    /* Registers routes; may set *state (handed back to fini). config is
     * the plugin's configuration string, or NULL. 0, or a negative errno
     * (gort_plugin_set_error may say why). */
    int (*init)(struct gort_plugin_registrar *reg, const char *config,
                void **state);
    /* Called once no request runs the plugin's code and every goroutine
     * its code started (in init, in handlers, and theirs) has ended, before
     * dlclose, with what init left in *state. May be NULL. */
    void (*fini)(void *state);
    void *spare[8]; /* zero: room to grow without changing abi */
};

#ifdef __cplusplus
#define GORT_PLUGIN_STATIC_ASSERT static_assert
#else
#define GORT_PLUGIN_STATIC_ASSERT _Static_assert
#endif
GORT_PLUGIN_STATIC_ASSERT(
    sizeof(struct gort_plugin) == 2 * sizeof(uint32_t) + 13 * sizeof(void *),
    "struct gort_plugin is ABI: change GORT_PLUGIN_ABI with it");

/* Declares the plugin: one line at file scope. */
#ifdef __cplusplus
#define GORT_PLUGIN_LINKAGE extern "C"
#else
#define GORT_PLUGIN_LINKAGE
#endif
#define GORT_PLUGIN(name, version, init, fini)                                 \
    GORT_PLUGIN_LINKAGE GORT_API const struct gort_plugin                      \
        gort_plugin_descriptor = {GORT_PLUGIN_ABI,                             \
                                  sizeof(struct gort_plugin),                  \
                                  GORT_PLUGIN_SIGNATURE,                       \
                                  (name),                                      \
                                  (version),                                   \
                                  (init),                                      \
                                  (fini),                                      \
                                  {0}}

/* Routes pattern (a mux pattern: "GET /kv/{key}") to h(w, r, arg). Returns
 * 0, -EINVAL (bad pattern), -EEXIST (conflicts with a route of this or
 * another plugin) or -ENOMEM; gort_plugin_error then says why. */
GORT_API int gort_plugin_handle(struct gort_plugin_registrar *reg,
                                const char *pattern, gort_http_handler h,
                                void *arg);

/* Sets the message gortd prints when init fails (printf format). */
GORT_API void gort_plugin_set_error(struct gort_plugin_registrar *reg,
                                    const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The last error set by gort_plugin_handle or gort_plugin_set_error, or
 * "" when none. */
GORT_API const char *gort_plugin_error(const struct gort_plugin_registrar *reg);

/* The plugin's configuration string, or NULL (the same as init's). */
GORT_API const char *
gort_plugin_config(const struct gort_plugin_registrar *reg);

#ifdef __cplusplus
}
#endif

#endif /* GORT_PLUGIN_H */
