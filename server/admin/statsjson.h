/* admin/statsjson.h — the dashboard's /debug/gort/stats.json: one snapshot
 * of the runtime, the HTTP server and the plugins as a JSON object. */
#ifndef GORT_ADMIN_STATSJSON_H
#define GORT_ADMIN_STATSJSON_H

#include "admin/metrics.h"
#include "admin/textbuf.h"

void statsjson_write(struct textbuf *t, const struct metrics_source *src);

#endif /* GORT_ADMIN_STATSJSON_H */
