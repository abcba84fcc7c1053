/* hello.h — the seed's routes, registered into a mux. */
#ifndef GORT_PLUGIN_HELLO_H
#define GORT_PLUGIN_HELLO_H

#include <stddef.h>

#include "mux.h"

int gort_hello_register(struct gort_mux *mux, char *err, size_t errlen);

#endif
