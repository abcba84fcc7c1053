/* rt_test.h — what every runtime test file shares: sanitizer detection and
 * scaling, failure checks that are safe on a goroutine, and polling helpers.
 *
 * Why not cmocka's assert_* on goroutines: a failed cmocka assertion
 * longjmps to the test's setjmp, which lives on the test thread's stack; a
 * goroutine runs on its own stack, usually on another thread, so the jump
 * would land nowhere sane. Code on a goroutine records failures with
 * RT_CHECK*; rt_run() turns them into a cmocka failure once gort_main has
 * returned to the test thread.
 */
#ifndef GORT_TESTS_RT_TEST_H
#define GORT_TESTS_RT_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gort/gort.h"
#include "gort/stats.h"

/* ---- sanitizers ---------------------------------------------------------- */

/* The runtime's own detection (runtime/sanitizer.h), so a test scales for
 * exactly the builds the runtime adapts to. */
#include "sanitizer.h"
#define RT_ASAN GORT__ASAN
#define RT_TSAN GORT__TSAN

/* A count for this build: n plain, n/20 under AddressSanitizer (slow, and
 * every stack carries shadow memory), at most tsan_max under
 * ThreadSanitizer (it keeps state per fiber and cannot hold 100k of them). */
static inline long rt_scale(long n, long tsan_max)
{
    if (RT_TSAN)
        return n < tsan_max ? n : tsan_max;
    if (RT_ASAN)
        return n / 20 > 0 ? n / 20 : 1;
    return n;
}

/* CPU work that the compiler cannot remove: about iters additions. */
static uint64_t rt_sink; /* atomic builtins: many goroutines share it */

static inline void rt_burn(int iters)
{
    uint64_t x = __atomic_load_n(&rt_sink, __ATOMIC_RELAXED);
    for (int i = 0; i < iters; i++)
        x = x * 31 + (uint64_t)i;
    __atomic_store_n(&rt_sink, x, __ATOMIC_RELAXED);
}

/* ---- failures recorded on goroutines ------------------------------------ */

static _Atomic long rt_nfail;
static char rt_first_fail[1024];

static inline void rt_fail_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline void rt_fail_at(const char *file, int line, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    long n = atomic_fetch_add(&rt_nfail, 1);
    if (n == 0)
        snprintf(rt_first_fail, sizeof rt_first_fail, "%s:%d: %s", file, line,
                 msg);
    if (n < 20) /* every failure goes to stderr, but not a flood of them */
        fprintf(stderr, "CHECK FAILED %s:%d: %s\n", file, line, msg);
}

#define RT_CHECK(cond)                                                         \
    do {                                                                       \
        if (!(cond))                                                           \
            rt_fail_at(__FILE__, __LINE__, "%s", #cond);                       \
    } while (0)

/* Compares two integers; the message shows both values. */
#define RT_CHECK_INT(a, op, b)                                                 \
    do {                                                                       \
        long long rt_a_ = (long long)(a), rt_b_ = (long long)(b);              \
        if (!(rt_a_ op rt_b_))                                                 \
            rt_fail_at(__FILE__, __LINE__, "%s %s %s (%lld vs %lld)", #a, #op, \
                       #b, rt_a_, rt_b_);                                      \
    } while (0)

#define RT_CHECK_STR(a, b)                                                     \
    do {                                                                       \
        const char *rt_a_ = (a), *rt_b_ = (b);                                 \
        if (!rt_a_ || !rt_b_ || strcmp(rt_a_, rt_b_) != 0)                     \
            rt_fail_at(__FILE__, __LINE__, "%s == %s (\"%s\" vs \"%s\")", #a,  \
                       #b, rt_a_ ? rt_a_ : "(null)",                           \
                       rt_b_ ? rt_b_ : "(null)");                              \
    } while (0)

static inline long rt_failures(void)
{
    return atomic_load(&rt_nfail);
}

/* Fails the current cmocka test when a goroutine recorded a failure. */
static inline void rt_assert_no_failures(void)
{
    long n = atomic_exchange(&rt_nfail, 0);
    if (n != 0)
        fail_msg("%ld check(s) failed on goroutines; first: %s", n,
                 rt_first_fail);
}

/* Runs fn(arg) as gort_main's main goroutine and fails the test when
 * gort_main fails or any check on any goroutine failed. */
static inline void rt_run(gort_fn fn, void *arg)
{
    int rc = gort_main(fn, arg);
    if (rc != 0)
        fail_msg("gort_main returned %d (%s)", rc, gort_strerror(rc));
    rt_assert_no_failures();
}

/* RT_FILTER=pattern (cmocka's wildcards) runs only the matching tests of a
 * binary: handy when one of them fails. Call first thing in main(). */
static inline void rt_filter_from_env(void)
{
    const char *f = getenv("RT_FILTER");
    if (f && *f)
        cmocka_set_test_filter(f);
}

/* ---- polling without timing thresholds ----------------------------------- */

/* Yields until expr holds. A condition that never comes true hangs the test
 * until ctest's timeout; after many rounds we say on stderr what we wait for,
 * so that the log names the culprit. Goroutine only. */
#define RT_YIELD_UNTIL(expr)                                                   \
    do {                                                                       \
        for (long rt_i_ = 1; !(expr); rt_i_++) {                               \
            gort_yield();                                                      \
            if (rt_i_ % 20000000 == 0)                                         \
                fprintf(stderr, "%s:%d: still waiting for %s\n", __FILE__,     \
                        __LINE__, #expr);                                      \
        }                                                                      \
    } while (0)

struct rt_ginfo {
    int found;
    int64_t id;
    char state[64];
    char wait_reason[64];
    char label[128];
    int64_t creator_id;
    uintptr_t start_pc;
    int64_t waiting_ns;
};

static inline int rt_ginfo_cb(const struct gort_goroutine_info *g, void *arg)
{
    struct rt_ginfo *out = arg;
    if (g->id != out->id)
        return 0;
    out->found = 1;
    snprintf(out->state, sizeof out->state, "%s", g->state ? g->state : "");
    snprintf(out->wait_reason, sizeof out->wait_reason, "%s",
             g->wait_reason ? g->wait_reason : "");
    snprintf(out->label, sizeof out->label, "%s", g->label ? g->label : "");
    out->creator_id = g->creator_id;
    out->start_pc = g->start.pc;
    out->waiting_ns = g->waiting_ns;
    return 1;
}

/* Looks goroutine id up with gort_goroutines_each; returns 1 when found. */
static inline int rt_ginfo(int64_t id, struct rt_ginfo *out)
{
    memset(out, 0, sizeof *out);
    out->id = id;
    gort_goroutines_each(rt_ginfo_cb, out);
    return out->found;
}

/* Yields until goroutine id is in state (Go's word, e.g. "chan receive"):
 * the deterministic way to know a goroutine has blocked, instead of
 * sleeping "long enough". Goroutine only. */
static inline void rt_wait_state(int64_t id, const char *state)
{
    struct rt_ginfo gi;
    RT_YIELD_UNTIL(rt_ginfo(id, &gi) && strcmp(gi.state, state) == 0);
}

#endif /* GORT_TESTS_RT_TEST_H */
