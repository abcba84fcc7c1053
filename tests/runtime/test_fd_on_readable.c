/* test_fd_on_readable.c — gort_fd_on_readable: a goroutine is started when
 * the descriptor becomes readable, is closed, or passes its read deadline;
 * while it waits, nothing runs for it, though stats count it as one waiting
 * goroutine (test_netpoll_idle.c checks how dumps show it). */
#include "rt_test.h"

#include <sys/socket.h>
#include <unistd.h>

#include "gort/net.h"

static int sv[2];
static gort_chan *done;
static _Atomic int64_t spawned_id;

struct result {
    ssize_t n;
    char buf[16];
};

static void on_ready(void *arg)
{
    struct result *r = arg;
    atomic_store(&spawned_id, gort_id());
    r->n = gort_read(sv[1], r->buf, sizeof r->buf);
    gort_chan_send(done, NULL);
}

static long live_goroutines(void)
{
    struct gort_stats s;
    gort_stats_read(&s);
    return (long)s.g_live;
}

static void open_pair(void)
{
    RT_CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    RT_CHECK_INT(gort_fd_open(sv[0]), ==, sv[0]);
    RT_CHECK_INT(gort_fd_open(sv[1]), ==, sv[1]);
}

static void readable_main(void *arg)
{
    (void)arg;
    done = gort_chan_make(0, 0);
    open_pair();
    struct result r = {0};
    long before = live_goroutines();
    RT_CHECK_INT(gort_fd_on_readable(sv[1], on_ready, &r), ==, 0);
    /* A second waiter on the same side is refused. */
    RT_CHECK_INT(gort_fd_on_readable(sv[1], on_ready, &r), ==, -EBUSY);
    gort_sleep(20 * 1000 * 1000);
    RT_CHECK_INT(atomic_load(&spawned_id), ==, 0);   /* nothing yet */
    RT_CHECK_INT(live_goroutines(), ==, before + 1); /* one waiting */
    RT_CHECK_INT(gort_write(sv[0], "hello", 5), ==, 5);
    gort_chan_recv(done, NULL);
    RT_CHECK_INT(r.n, ==, 5);
    RT_CHECK(memcmp(r.buf, "hello", 5) == 0);
    RT_CHECK(atomic_load(&spawned_id) > 0);
    gort_close(sv[0]);
    gort_close(sv[1]);
    gort_chan_free(done);
}

static void test_spawns_on_readable(void **state)
{
    (void)state;
    atomic_store(&spawned_id, 0);
    rt_run(readable_main, NULL);
}

static void already_readable_main(void *arg)
{
    (void)arg;
    done = gort_chan_make(0, 0);
    open_pair();
    struct result r = {0};
    RT_CHECK_INT(gort_write(sv[0], "x", 1), ==, 1);
    gort_sleep(10 * 1000 * 1000); /* let the edge be latched */
    RT_CHECK_INT(gort_fd_on_readable(sv[1], on_ready, &r), ==, 0);
    gort_chan_recv(done, NULL);
    RT_CHECK_INT(r.n, ==, 1);
    gort_close(sv[0]);
    gort_close(sv[1]);
    gort_chan_free(done);
}

static void test_spawns_when_already_readable(void **state)
{
    (void)state;
    rt_run(already_readable_main, NULL);
}

static void close_main(void *arg)
{
    (void)arg;
    done = gort_chan_make(0, 0);
    open_pair();
    struct result r = {0};
    RT_CHECK_INT(gort_fd_on_readable(sv[1], on_ready, &r), ==, 0);
    gort_close(sv[1]);
    gort_chan_recv(done, NULL);
    RT_CHECK_INT(r.n, ==, -EBADF);
    gort_close(sv[0]);
    gort_chan_free(done);
}

static void test_close_starts_it_with_ebadf(void **state)
{
    (void)state;
    rt_run(close_main, NULL);
}

static void deadline_main(void *arg)
{
    (void)arg;
    done = gort_chan_make(0, 0);
    open_pair();
    struct result r = {0};
    int64_t start = gort_nanotime();
    int64_t d = start + 30 * 1000 * 1000;
    RT_CHECK_INT(gort_set_deadline(sv[1], GORT_IO_READ, d), ==, 0);
    RT_CHECK_INT(gort_fd_on_readable(sv[1], on_ready, &r), ==, 0);
    gort_chan_recv(done, NULL);
    RT_CHECK_INT(r.n, ==, -ETIMEDOUT);
    RT_CHECK(gort_nanotime() >= d);
    RT_CHECK_INT(gort_stats_read(&(struct gort_stats){0}), ==, 0);
    gort_close(sv[0]);
    gort_close(sv[1]);
    gort_chan_free(done);
}

static void test_deadline_starts_it_with_etimedout(void **state)
{
    (void)state;
    rt_run(deadline_main, NULL);
}

int main(void)
{
    rt_filter_from_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spawns_on_readable),
        cmocka_unit_test(test_spawns_when_already_readable),
        cmocka_unit_test(test_close_starts_it_with_ebadf),
        cmocka_unit_test(test_deadline_starts_it_with_etimedout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
