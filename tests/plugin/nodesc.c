/* nodesc — a shared object with handlers but no gort_plugin_descriptor. */
#include "gort/plugin.h"

GORT_API int tp_nodesc_marker(void);

int tp_nodesc_marker(void)
{
    return 42;
}
