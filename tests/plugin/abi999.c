/* abi999 — a descriptor from a gort with plugin ABI 999: refused before
 * anything in it is called. */
#include "gort/plugin.h"

static int init(struct gort_plugin_registrar *reg, const char *config,
                void **state)
{
    (void)reg;
    (void)config;
    (void)state;
    return 0;
}

GORT_API const struct gort_plugin gort_plugin_descriptor = {
    999,                                               /* abi */
    sizeof(struct gort_plugin),                        /* size */
    "gort/999 " GORT_PLUGIN_ARCH " p" GORT_PLUGIN_PTR, /* signature */
    "abi999",                                          /* name */
    "9.9.9",                                           /* version */
    init,                                              /* init */
    NULL,                                              /* fini */
    {0}};                                              /* spare */
