/* admin/prom.h — the Prometheus text exposition format (version 0.0.4),
 * written into a growing buffer.
 *
 * A scrape builds one page: families in order, each a HELP and a TYPE line
 * and its samples. Names are the caller's constants and are checked once
 * (a bad name is a programming error: the family is dropped and counted);
 * label values come from outside (route patterns, plugin names) and are
 * escaped here so that no value can break a line or a quote. Memory: one
 * textbuf (a failed allocation fails the page, never truncates it).
 */
#ifndef GORT_ADMIN_PROM_H
#define GORT_ADMIN_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "admin/textbuf.h"

struct prom_writer {
    struct textbuf out; /* the page; out.failed: out of memory */
    unsigned dropped;   /* samples refused for an invalid name */
};

/* One label: name (a constant, [a-zA-Z_][a-zA-Z0-9_]*) and value (any
 * bytes; escaped, invalid UTF-8 replaced by U+FFFD). */
struct prom_label {
    const char *name;
    const char *value;
};

enum prom_type { PROM_COUNTER, PROM_GAUGE, PROM_HISTOGRAM, PROM_UNTYPED };

void prom_init(struct prom_writer *w);
void prom_free(struct prom_writer *w);

/* "# HELP name help" and "# TYPE name type". */
void prom_family(struct prom_writer *w, const char *name, enum prom_type type,
                 const char *help);

/* name{labels} value. Integers are written exactly; doubles in the
 * shortest form that reads back the same, +Inf, -Inf and NaN as spelled. */
void prom_sample_u64(struct prom_writer *w, const char *name,
                     const struct prom_label *labels, size_t nlabels,
                     uint64_t v);
void prom_sample_f64(struct prom_writer *w, const char *name,
                     const struct prom_label *labels, size_t nlabels, double v);

/* A histogram's samples: name_bucket{labels,le="b"} with cumulative counts
 * for each upper bound (ascending), le="+Inf" with the total, name_sum and
 * name_count. counts[i] counts observations in (bounds[i-1], bounds[i]];
 * counts[nbounds] those above the last bound. */
void prom_histogram(struct prom_writer *w, const char *name,
                    const struct prom_label *labels, size_t nlabels,
                    const double *bounds, const uint64_t *counts,
                    size_t nbounds, double sum);

/* True for a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*). */
bool prom_name_valid(const char *name);

#endif /* GORT_ADMIN_PROM_H */
