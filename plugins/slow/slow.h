/* slow.h — the slow routes, registered into a mux. */
#ifndef GORT_PLUGIN_SLOW_H
#define GORT_PLUGIN_SLOW_H

#include <stddef.h>

#include "mux.h"

int gort_slow_register(struct gort_mux *mux, char *err, size_t errlen);

#endif
