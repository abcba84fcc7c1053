/* timer.h — the one timer mechanism: sleeps, I/O deadlines, HTTP timeouts. */
#ifndef GORT_TIMER_H
#define GORT_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#include "gort/gort.h"

struct gort__timer;
/* Runs on whichever thread fires due timers (an M, possibly holding a P,
 * or sysmon), without the timer lock. It is the timer's last use by the
 * runtime: the owner may reuse or free the
 * timer once the callback's effect (a goroutine made runnable) is seen. */
typedef void (*gort__timer_fn)(struct gort__timer *t);

struct gort__timer {
    int64_t when; /* monotonic ns */
    int32_t idx;  /* heap slot, -1 when not armed; under the timer lock */
    gort__timer_fn f;
    void *arg;
};

void gort__timer_init(struct gort__timer *t, gort__timer_fn f, void *arg);
/* Arms t for t->when (re-arms if armed). 0 or -ENOMEM. */
int gort__timer_add(struct gort__timer *t, int64_t when);
/* Disarms t; true when it was armed and will not fire. */
bool gort__timer_del(struct gort__timer *t);
/* Fires every timer due at now; returns the next deadline or INT64_MAX. */
int64_t gort__timers_run(int64_t now);
int64_t gort__timers_next(void);
uint64_t gort__timers_len(void);

/* A gort_timer's deadline as armed (tests: the heap's order). */
int64_t gort__timer_when(gort_timer *t);

/* Parks the calling goroutine in "sleep" for ns (gort_sleep). */
void gort__timer_sleep(int64_t ns);

#endif /* GORT_TIMER_H */
