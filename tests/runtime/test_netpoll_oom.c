/* test_netpoll_oom.c — the netpoller out of memory: when the goroutine for
 * a gort_fd_on_readable callback cannot be made, the callback is deferred
 * and started once memory is back, on readiness, on close and on a
 * deadline alike; the process never aborts. The failure is injected at the
 * link (-Wl,--wrap=gort__newproc_detached, this test's executable only):
 * netpoll.c's calls reach __wrap_gort__newproc_detached, which fails while
 * fail_left is above zero and counts the failures. */
#include "rt_test.h"

#include <sys/socket.h>
#include <unistd.h>

#include "gort/net.h"
#include "runtime.h"

struct gort__g *__real_gort__newproc_detached(gort_fn fn, void *arg,
                                              const struct gort__g_origin *o);
struct gort__g *__wrap_gort__newproc_detached(gort_fn fn, void *arg,
                                              const struct gort__g_origin *o);

static _Atomic int fail_left; /* calls still to fail */
static _Atomic int failed;    /* calls failed */

struct gort__g *__wrap_gort__newproc_detached(gort_fn fn, void *arg,
                                              const struct gort__g_origin *o)
{
    int left = atomic_load(&fail_left);
    while (left > 0)
        if (atomic_compare_exchange_weak(&fail_left, &left, left - 1)) {
            atomic_fetch_add(&failed, 1);
            return NULL;
        }
    return __real_gort__newproc_detached(fn, arg, o);
}

static int sv[2];
static gort_chan *done;

struct result {
    ssize_t n;
    char buf[16];
};

static void on_ready(void *arg)
{
    struct result *r = arg;
    r->n = gort_read(sv[1], r->buf, sizeof r->buf);
    gort_chan_send(done, NULL);
}

static void open_pair(void)
{
    done = gort_chan_make(0, 0);
    RT_CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    RT_CHECK_INT(gort_fd_open(sv[0]), ==, sv[0]);
    RT_CHECK_INT(gort_fd_open(sv[1]), ==, sv[1]);
}

static void close_pair(void)
{
    gort_close(sv[0]);
    gort_close(sv[1]);
    gort_chan_free(done);
}

/* Readiness: the first three attempts find no memory; the fourth runs. */
static void readable_main(void *arg)
{
    (void)arg;
    open_pair();
    struct result r = {0};
    atomic_store(&failed, 0);
    RT_CHECK_INT(gort_fd_on_readable(sv[1], on_ready, &r), ==, 0);
    atomic_store(&fail_left, 3);
    RT_CHECK_INT(gort_write(sv[0], "hello", 5), ==, 5);
    gort_chan_recv(done, NULL);
    RT_CHECK_INT(atomic_load(&failed), ==, 3);
    RT_CHECK_INT(r.n, ==, 5);
    RT_CHECK(memcmp(r.buf, "hello", 5) == 0);
    close_pair();
}

static void test_readiness_retried(void **state)
{
    (void)state;
    rt_run(readable_main, NULL);
}

/* gort_close: the deferred callback still runs, and sees the close. */
static void close_main(void *arg)
{
    (void)arg;
    open_pair();
    struct result r = {0};
    atomic_store(&failed, 0);
    RT_CHECK_INT(gort_fd_on_readable(sv[1], on_ready, &r), ==, 0);
    atomic_store(&fail_left, 2);
    gort_close(sv[1]);
    gort_chan_recv(done, NULL);
    RT_CHECK_INT(atomic_load(&failed), ==, 2);
    RT_CHECK_INT(r.n, ==, -EBADF);
    gort_close(sv[0]);
    gort_chan_free(done);
}

static void test_close_retried(void **state)
{
    (void)state;
    rt_run(close_main, NULL);
}

/* A read deadline: the deferred callback runs and sees it. */
static void deadline_main(void *arg)
{
    (void)arg;
    open_pair();
    struct result r = {0};
    atomic_store(&failed, 0);
    atomic_store(&fail_left, 2);
    RT_CHECK_INT(gort_set_deadline(sv[1], GORT_IO_READ,
                                   gort_nanotime() + 20 * 1000 * 1000),
                 ==, 0);
    RT_CHECK_INT(gort_fd_on_readable(sv[1], on_ready, &r), ==, 0);
    gort_chan_recv(done, NULL);
    RT_CHECK_INT(atomic_load(&failed), ==, 2);
    RT_CHECK_INT(r.n, ==, -ETIMEDOUT);
    close_pair();
}

static void test_deadline_retried(void **state)
{
    (void)state;
    rt_run(deadline_main, NULL);
}

/* Already readable at registration: the registrant hears -ENOMEM itself
 * and may try again. */
static void now_main(void *arg)
{
    (void)arg;
    open_pair();
    struct result r = {0};
    RT_CHECK_INT(gort_write(sv[0], "x", 1), ==, 1);
    gort_sleep(10 * 1000 * 1000); /* let the edge be latched */
    atomic_store(&fail_left, 1);
    RT_CHECK_INT(gort_fd_on_readable(sv[1], on_ready, &r), ==, -ENOMEM);
    RT_CHECK_INT(gort_fd_on_readable(sv[1], on_ready, &r), ==, 0);
    gort_chan_recv(done, NULL);
    RT_CHECK_INT(r.n, ==, 1);
    close_pair();
}

static void test_registration_reports_enomem(void **state)
{
    (void)state;
    rt_run(now_main, NULL);
}

int main(void)
{
    rt_filter_from_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readiness_retried),
        cmocka_unit_test(test_close_retried),
        cmocka_unit_test(test_deadline_retried),
        cmocka_unit_test(test_registration_reports_enomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
