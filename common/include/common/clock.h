/* common/clock.h — the two clocks gort reads, in nanoseconds.
 *
 * The one clock_gettime call in gort's libraries and programs. libgort
 * reads it for gort_nanotime, the scheduler and its coarse clock; gortd
 * calls gort_nanotime where it links the runtime and now_mono_ns where it
 * does not (the control dispatcher, tested without a runtime); gortctl,
 * which has no runtime, calls these. All read the same CLOCK_MONOTONIC, so
 * a deadline from one is good for another.
 *
 * Internal to gort (header-only, library gort_common), not the SDK.
 */
#ifndef GORT_COMMON_CLOCK_H
#define GORT_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t clock_ns_of(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Monotonic time (CLOCK_MONOTONIC): for durations and deadlines. */
static inline int64_t now_mono_ns(void)
{
    return clock_ns_of(CLOCK_MONOTONIC);
}

/* Wall clock in Unix nanoseconds (CLOCK_REALTIME): for what people read. */
static inline int64_t now_unix_ns(void)
{
    return clock_ns_of(CLOCK_REALTIME);
}

#endif /* GORT_COMMON_CLOCK_H */
