/* admin/goroutines.h — /debug/gort/goroutines: every goroutine, in the two
 * text forms of Go's net/http/pprof goroutine profile. */
#ifndef GORT_ADMIN_GOROUTINES_H
#define GORT_ADMIN_GOROUTINES_H

#include "admin/textbuf.h"

/* debug=1: goroutines grouped by identical stacks, most numerous first,
 * "N @ pc pc ..." and one "#\tpc\tfunc+off\tobject" line per frame.
 * debug=2: every goroutine in Go's traceback form ("goroutine 7 [IO
 * wait]:", frames, "created by ..."). Returns how many goroutines, or a
 * negative errno (t->failed tells an allocation failure). */
long goroutines_write(struct textbuf *t, int debug);

#endif /* GORT_ADMIN_GOROUTINES_H */
