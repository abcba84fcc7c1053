/* view.h — gortctl's human-readable renderings of control-plane replies. */
#ifndef GORT_VIEW_H
#define GORT_VIEW_H

#include <stdio.h>

#include "gort/v1/control.pb-c.h"

/* `gortctl stats`: a summary, then one line per P. */
void view_stats(FILE *f, const Gort__V1__Stats *s);

/* One `gortctl watch` frame: a header, the rates since the previous frame
 * (prev; NULL for the first), then a bar per P's local run queue with its
 * busy share of the interval, and each plugin's requests per second. */
void view_watch(FILE *f, const Gort__V1__Stats *s, const Gort__V1__Stats *prev,
                const char *interval);

/* "3.0 MiB" */
void view_bytes(char *buf, size_t len, uint64_t n);

#endif /* GORT_VIEW_H */
