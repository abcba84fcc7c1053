/* test_init.c — a runtime start that fails leaves nothing behind and can be
 * retried.
 *
 * The failing step is forced the way a user meets it: the open-file limit
 * is lowered until not one more descriptor can be opened, so the netpoller's
 * epoll_create1 fails with EMFILE after the Ps and the signal handlers are
 * set up. gort_main must return that error with no descriptor, thread or
 * signal handler of its own left (and, under ASan, no memory: the leak
 * check at exit sees freed Ps). With the limit back, gort_main starts the
 * runtime and runs the goroutine.
 *
 * Its own process: the runtime starts once per process.
 */
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include "rt_test.h"

static int count_dir(const char *path)
{
    DIR *d = opendir(path);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void *segv_handler_now(void)
{
    struct sigaction sa;
    assert_int_equal(sigaction(SIGSEGV, NULL, &sa), 0);
    return (sa.sa_flags & SA_SIGINFO) ? (void *)sa.sa_sigaction
                                      : (void *)sa.sa_handler;
}

static _Atomic int ran;

static void main_fn(void *arg)
{
    (void)arg;
    RT_CHECK(gort_gomaxprocs(0) >= 1);
    atomic_store(&ran, 1);
}

static void failed_start_unwinds_and_retries(void **state)
{
    (void)state;
    struct rlimit saved, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
    int fds = count_dir("/proc/self/fd"),
        threads = count_dir("/proc/self/task");
    void *handler = segv_handler_now();

    /* The lowest free descriptor becomes the limit: nothing more opens. */
    int lowest = dup(0);
    assert_true(lowest >= 0);
    close(lowest);
    low = saved;
    low.rlim_cur = (rlim_t)lowest;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    int rc = gort_main(main_fn, NULL);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);

    assert_int_equal(rc, -EMFILE);
    assert_int_equal(atomic_load(&ran), 0);
    /* count_dir's own descriptor is counted both times alike. */
    assert_int_equal(count_dir("/proc/self/fd"), fds);
    assert_int_equal(count_dir("/proc/self/task"), threads);
    assert_ptr_equal(segv_handler_now(), handler);

    rc = gort_main(main_fn, NULL);
    assert_int_equal(rc, 0);
    assert_int_equal(atomic_load(&ran), 1);
    rt_assert_no_failures();
    assert_ptr_not_equal(segv_handler_now(), handler); /* it is up now */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(failed_start_unwinds_and_retries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
