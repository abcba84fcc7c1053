/* rt_watchdog.h — turns a hang into a failure that names its culprit.
 *
 * The netpoller, timer and syscall tests wait for things the runtime must
 * deliver (a readiness event, a timer, a P handed back). When it never
 * comes, the goroutine waits forever and ctest's timeout kills the process
 * with nothing in the log. A watchdog is a plain thread, independent of the
 * scheduler: if the guarded run is still going after its (generous) budget,
 * it prints which test hung and the goroutine dump, then aborts. It is a
 * liveness bound, never a performance assertion: budgets are tens of
 * seconds for runs that take milliseconds, and triple under sanitizers.
 */
#ifndef GORT_TESTS_RT_WATCHDOG_H
#define GORT_TESTS_RT_WATCHDOG_H

#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "rt_test.h"

struct rt_watchdog {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    int secs;
    const char *what;
};

static inline void *rt_watchdog_main(void *arg)
{
    struct rt_watchdog *wd = arg;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += wd->secs;
    pthread_mutex_lock(&wd->mu);
    int rc = 0;
    while (!wd->stop && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&wd->cv, &wd->mu, &until);
    int hung = !wd->stop;
    pthread_mutex_unlock(&wd->mu);
    if (hung) {
        fprintf(stderr, "WATCHDOG: %s still running after %d s; goroutines:\n",
                wd->what, wd->secs);
        gort_dump_text(2);
        abort();
    }
    return NULL;
}

/* Starts guarding: budget secs, tripled under ASan/TSan. */
static inline void rt_watchdog_start(struct rt_watchdog *wd, const char *what,
                                     int secs)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&wd->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&wd->mu, NULL);
    wd->stop = 0;
    wd->secs = (RT_ASAN || RT_TSAN) ? secs * 3 : secs;
    wd->what = what;
    if (pthread_create(&wd->thread, NULL, rt_watchdog_main, wd) != 0) {
        fprintf(stderr, "rt_watchdog: pthread_create failed\n");
        abort();
    }
}

static inline void rt_watchdog_stop(struct rt_watchdog *wd)
{
    pthread_mutex_lock(&wd->mu);
    wd->stop = 1;
    pthread_cond_signal(&wd->cv);
    pthread_mutex_unlock(&wd->mu);
    pthread_join(wd->thread, NULL);
    pthread_cond_destroy(&wd->cv);
    pthread_mutex_destroy(&wd->mu);
}

/* rt_run(fn, arg) under a watchdog named after the calling test. The
 * watchdog stops before any cmocka failure (which longjmps out). */
#define RT_RUN_GUARDED(fn, arg, secs)                                          \
    do {                                                                       \
        struct rt_watchdog rt_wd_;                                             \
        rt_watchdog_start(&rt_wd_, __func__, (secs));                          \
        int rt_rc_ = gort_main((fn), (arg));                                   \
        rt_watchdog_stop(&rt_wd_);                                             \
        if (rt_rc_ != 0)                                                       \
            fail_msg("gort_main returned %d (%s)", rt_rc_,                     \
                     gort_strerror(rt_rc_));                                   \
        rt_assert_no_failures();                                               \
    } while (0)

#endif /* GORT_TESTS_RT_WATCHDOG_H */
