/* echo.h — the echo routes, registered into a mux. */
#ifndef GORT_PLUGIN_ECHO_H
#define GORT_PLUGIN_ECHO_H

#include <stddef.h>

#include "mux.h"

int gort_echo_register(struct gort_mux *mux, char *err, size_t errlen);

#endif
