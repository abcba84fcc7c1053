/* test_fd_on_readable.c — gort_fd_on_readable: a goroutine is started when
 * the descriptor becomes readable, is closed, or passes its read deadline;
 * while it waits, nothing runs for it, though stats count it as one waiting
 * goroutine (test_netpoll_idle.c checks how dumps show it). */
#include "rt_test.h"

#include <stdbool.h>
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

/* ---- when a re-registered callback starts -------------------------------
 * An owner that read and registers again (a keep-alive connection after its
 * response) must be started at once when bytes are there and no edge will
 * announce them, and must not be started (nor cost a system call) when the
 * stream is empty. Each case reads in a callback, then registers again. */

struct again {
    size_t bufsize; /* each read's size */
    ssize_t n[4];   /* what each started callback read */
    int runs;
    gort_chan *step; /* one send per callback run */
};

static void read_again(void *arg)
{
    struct again *a = arg;
    char buf[64];
    a->n[a->runs] = gort_read_nowait(sv[1], buf, a->bufsize);
    a->runs++;
    gort_chan_send(a->step, NULL);
}

/* True when no callback run arrives within ms: nothing started it. */
static bool no_run_within(struct again *a, int64_t ms)
{
    int before = a->runs;
    gort_sleep(ms * 1000 * 1000);
    return a->runs == before;
}

static void drained_parks_main(void *arg)
{
    (void)arg;
    open_pair();
    struct again a = {.bufsize = 64, .step = gort_chan_make(0, 0)};
    RT_CHECK_INT(gort_fd_on_readable(sv[1], read_again, &a), ==, 0);
    RT_CHECK_INT(gort_write(sv[0], "req1", 4), ==, 4);
    gort_chan_recv(a.step, NULL);
    RT_CHECK_INT(a.n[0], ==, 4); /* short: the stream is empty */
    RT_CHECK_INT(gort_fd_on_readable(sv[1], read_again, &a), ==, 0);
    RT_CHECK(no_run_within(&a, 30)); /* parked, not started */
    RT_CHECK_INT(gort_write(sv[0], "req2", 4), ==, 4);
    gort_chan_recv(a.step, NULL);
    RT_CHECK_INT(a.n[1], ==, 4);
    gort_close(sv[0]);
    gort_close(sv[1]);
    gort_chan_free(a.step);
}

static void test_empty_stream_parks_again(void **state)
{
    (void)state;
    rt_run(drained_parks_main, NULL);
}

static void full_read_starts_main(void *arg)
{
    (void)arg;
    open_pair();
    struct again a = {.bufsize = 4, .step = gort_chan_make(0, 0)};
    RT_CHECK_INT(gort_fd_on_readable(sv[1], read_again, &a), ==, 0);
    RT_CHECK_INT(gort_write(sv[0], "12345678", 8), ==, 8);
    gort_chan_recv(a.step, NULL);
    RT_CHECK_INT(a.n[0], ==, 4); /* full: 4 bytes left, no edge to come */
    RT_CHECK_INT(gort_fd_on_readable(sv[1], read_again, &a), ==, 0);
    gort_chan_recv(a.step, NULL); /* started at once */
    RT_CHECK_INT(a.n[1], ==, 4);
    gort_close(sv[0]);
    gort_close(sv[1]);
    gort_chan_free(a.step);
}

static void test_bytes_left_behind_start_it(void **state)
{
    (void)state;
    rt_run(full_read_starts_main, NULL);
}

static void marker_ready(void *arg)
{
    gort_chan_send(arg, NULL);
}

static void stale_edge_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(1); /* one M polls at a time: events in epoll's order */
    open_pair();
    int mk[2];
    RT_CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, mk), ==, 0);
    RT_CHECK_INT(gort_fd_open(mk[0]), ==, mk[0]);
    RT_CHECK_INT(gort_fd_open(mk[1]), ==, mk[1]);
    struct again a = {.bufsize = 64, .step = gort_chan_make(0, 0)};
    gort_chan *marked = gort_chan_make(0, 0);
    char buf[64];
    /* An edge latched while nobody waited, then the bytes read without
     * waiting: what it announced is gone. The marker, made readable after
     * sv[1], is handed out after it: once the marker's callback runs, the
     * edge of sv[1] has been latched. */
    RT_CHECK_INT(gort_fd_on_readable(mk[1], marker_ready, marked), ==, 0);
    RT_CHECK_INT(gort_write(sv[0], "abc", 3), ==, 3);
    RT_CHECK_INT(gort_write(mk[0], "m", 1), ==, 1);
    gort_chan_recv(marked, NULL);
    RT_CHECK_INT(gort_read_nowait(sv[1], buf, sizeof buf), ==, 3);
    RT_CHECK_INT(gort_fd_on_readable(sv[1], read_again, &a), ==, 0);
    RT_CHECK(no_run_within(&a, 30)); /* not started for a stale edge */
    RT_CHECK_INT(gort_write(sv[0], "d", 1), ==, 1);
    gort_chan_recv(a.step, NULL);
    RT_CHECK_INT(a.n[0], ==, 1);
    gort_close(mk[0]);
    gort_close(mk[1]);
    gort_close(sv[0]);
    gort_close(sv[1]);
    gort_chan_free(marked);
    gort_chan_free(a.step);
}

static void test_stale_edge_does_not_start_it(void **state)
{
    (void)state;
    rt_run(stale_edge_main, NULL);
}

static void eof_with_data_main(void *arg)
{
    (void)arg;
    open_pair();
    struct again a = {.bufsize = 64, .step = gort_chan_make(0, 0)};
    RT_CHECK_INT(gort_fd_on_readable(sv[1], read_again, &a), ==, 0);
    /* The last request and the end of file, likely in one edge. */
    RT_CHECK_INT(gort_write(sv[0], "last", 4), ==, 4);
    RT_CHECK_INT(shutdown(sv[0], SHUT_WR), ==, 0);
    gort_chan_recv(a.step, NULL);
    if (a.n[0] == 4) { /* data first: the end of file must still start it */
        RT_CHECK_INT(gort_fd_on_readable(sv[1], read_again, &a), ==, 0);
        gort_chan_recv(a.step, NULL);
        RT_CHECK_INT(a.n[1], ==, 0);
    } else {
        RT_CHECK_INT(a.n[0], ==, 0);
    }
    gort_close(sv[0]);
    gort_close(sv[1]);
    gort_chan_free(a.step);
}

static void test_end_of_file_after_data_starts_it(void **state)
{
    (void)state;
    rt_run(eof_with_data_main, NULL);
}

/* gort_fd_cancel_readable withdraws a parked callback: it never runs, the
 * goroutine it would have been is no longer counted (live goroutines, its
 * group), and the side takes a new callback. With none parked it says 0. */
/* gort_fd_quiet: known empty with nothing announced since, without a
 * system call; any byte or end of file that arrives ends it. */
static void quiet_main(void *arg)
{
    (void)arg;
    char buf[16];
    open_pair();
    RT_CHECK_INT(gort_fd_quiet(sv[1]), ==, 1); /* nothing ever came */
    RT_CHECK_INT(gort_write(sv[0], "ab", 2), ==, 2);
    gort_sleep(20 * 1000 * 1000); /* the netpoller latches the edge */
    RT_CHECK_INT(gort_fd_quiet(sv[1]), ==, 0);
    RT_CHECK_INT(gort_read(sv[1], buf, sizeof buf), ==, 2); /* short */
    RT_CHECK_INT(gort_fd_quiet(sv[1]), ==, 1);
    RT_CHECK_INT(gort_write(sv[0], "c", 1), ==, 1); /* a stray byte */
    gort_sleep(20 * 1000 * 1000);
    RT_CHECK_INT(gort_fd_quiet(sv[1]), ==, 0);
    RT_CHECK_INT(gort_read(sv[1], buf, sizeof buf), ==, 1);
    RT_CHECK_INT(gort_fd_quiet(sv[1]), ==, 1);
    RT_CHECK_INT(shutdown(sv[0], SHUT_WR), ==, 0); /* end of file */
    gort_sleep(20 * 1000 * 1000);
    RT_CHECK_INT(gort_fd_quiet(sv[1]), ==, 0);
    RT_CHECK_INT(gort_fd_quiet(-1), ==, 0); /* not registered */
    gort_close(sv[0]);
    gort_close(sv[1]);
}

static void test_quiet_until_something_arrives(void **state)
{
    (void)state;
    rt_run(quiet_main, NULL);
}

static void cancel_main(void *arg)
{
    (void)arg;
    done = gort_chan_make(0, 0);
    open_pair();
    struct result r = {0};
    struct gort_group grp = {0};
    long before = live_goroutines();
    struct gort_group *prev = gort_group_enter(&grp);
    RT_CHECK_INT(gort_fd_on_readable(sv[1], on_ready, &r), ==, 0);
    gort_group_enter(prev);
    RT_CHECK_INT(gort_group_live(&grp), ==, 1);
    RT_CHECK_INT(live_goroutines(), ==, before + 1);
    RT_CHECK_INT(gort_fd_cancel_readable(sv[1]), ==, 1);
    RT_CHECK_INT(gort_group_live(&grp), ==, 0);
    RT_CHECK_INT(live_goroutines(), ==, before);
    RT_CHECK_INT(gort_fd_cancel_readable(sv[1]), ==, 0); /* none left */
    RT_CHECK_INT(gort_write(sv[0], "x", 1), ==, 1);
    gort_sleep(20 * 1000 * 1000);
    RT_CHECK_INT(atomic_load(&spawned_id), ==, 0); /* it never ran */
    /* The side is free again: a new callback runs on the byte waiting. */
    RT_CHECK_INT(gort_fd_on_readable(sv[1], on_ready, &r), ==, 0);
    gort_chan_recv(done, NULL);
    RT_CHECK_INT(r.n, ==, 1);
    RT_CHECK_INT(gort_fd_cancel_readable(sv[1]), ==, 0); /* it ran */
    gort_close(sv[0]);
    gort_close(sv[1]);
    RT_CHECK_INT(gort_fd_cancel_readable(sv[1]), ==, -EBADF);
    gort_chan_free(done);
}

static void test_cancel_withdraws_a_parked_callback(void **state)
{
    (void)state;
    atomic_store(&spawned_id, 0);
    rt_run(cancel_main, NULL);
}

int main(void)
{
    rt_filter_from_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spawns_on_readable),
        cmocka_unit_test(test_spawns_when_already_readable),
        cmocka_unit_test(test_close_starts_it_with_ebadf),
        cmocka_unit_test(test_deadline_starts_it_with_etimedout),
        cmocka_unit_test(test_empty_stream_parks_again),
        cmocka_unit_test(test_bytes_left_behind_start_it),
        cmocka_unit_test(test_stale_edge_does_not_start_it),
        cmocka_unit_test(test_end_of_file_after_data_starts_it),
        cmocka_unit_test(test_cancel_withdraws_a_parked_callback),
        cmocka_unit_test(test_quiet_until_something_arrives),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
