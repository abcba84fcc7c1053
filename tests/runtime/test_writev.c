/* test_writev.c — gort_writev and gort_shutdown, the netpoller's paths for
 * the HTTP server's writes and shutdowns: buffers larger than the socket
 * takes at once arrive whole and in order (partial writes, parking), a past
 * write deadline fails before any byte, and a descriptor closed with
 * gort_close is never reached again (-EBADF), so a number the kernel reused
 * cannot be written or shut down by mistake. */
#include "rt_test.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "gort/net.h"

#define PART (1 << 20)

static int sv[2];
static gort_chan *done;
static char *bufs[3];
static _Atomic long mismatches;

static void open_pair(void)
{
    RT_CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    RT_CHECK_INT(gort_fd_open(sv[0]), ==, sv[0]);
    RT_CHECK_INT(gort_fd_open(sv[1]), ==, sv[1]);
}

/* Reads 3 parts and checks each byte against what was written. */
static void reader(void *arg)
{
    (void)arg;
    static char in[65536];
    size_t got = 0, total = 3 * PART;
    while (got < total) {
        ssize_t n = gort_read(sv[1], in, sizeof in);
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; i++, got++)
            if (in[i] != bufs[got / PART][got % PART])
                atomic_fetch_add(&mismatches, 1);
    }
    RT_CHECK_INT((long)got, ==, (long)total);
    gort_chan_send(done, NULL);
}

static void whole_main(void *arg)
{
    (void)arg;
    open_pair();
    done = gort_chan_make(0, 0);
    for (int i = 0; i < 3; i++) {
        bufs[i] = malloc(PART);
        for (size_t j = 0; j < PART; j++)
            bufs[i][j] = (char)(i * 7 + j * 13);
    }
    gort_go(reader, NULL);
    struct iovec iov[4] = {
        {bufs[0], PART}, {NULL, 0}, {bufs[1], PART}, {bufs[2], PART}};
    RT_CHECK_INT(gort_writev(sv[0], iov, 4), ==, 3 * PART);
    gort_chan_recv(done, NULL);
    RT_CHECK_INT(atomic_load(&mismatches), ==, 0);
    gort_close(sv[0]);
    gort_close(sv[1]);
    gort_chan_free(done);
    for (int i = 0; i < 3; i++)
        free(bufs[i]);
}

static void test_writes_everything_in_order(void **state)
{
    (void)state;
    rt_run(whole_main, NULL);
}

static void deadline_main(void *arg)
{
    (void)arg;
    open_pair();
    RT_CHECK_INT(gort_set_deadline(sv[0], GORT_IO_WRITE, 1), ==, 0);
    struct iovec iov = {"x", 1};
    RT_CHECK_INT(gort_writev(sv[0], &iov, 1), ==, -ETIMEDOUT);
    char c;
    RT_CHECK_INT(gort_read_nowait(sv[1], &c, 1), ==, -EAGAIN);
    RT_CHECK_INT(gort_writev(sv[0], &iov, GORT_IOV_MAX + 1), ==, -EINVAL);
    gort_close(sv[0]);
    gort_close(sv[1]);
}

static void test_past_deadline_writes_nothing(void **state)
{
    (void)state;
    rt_run(deadline_main, NULL);
}

static void shutdown_main(void *arg)
{
    (void)arg;
    open_pair();
    RT_CHECK_INT(gort_shutdown(sv[0], SHUT_WR), ==, 0);
    char c;
    RT_CHECK_INT(gort_read(sv[1], &c, 1), ==, 0); /* the peer sees EOF */
    int fd = sv[0];
    gort_close(fd);
    struct iovec iov = {"x", 1};
    RT_CHECK_INT(gort_writev(fd, &iov, 1), ==, -EBADF);
    RT_CHECK_INT(gort_shutdown(fd, SHUT_RDWR), ==, -EBADF);
    gort_close(sv[1]);
}

static void test_shutdown_and_closed_descriptor(void **state)
{
    (void)state;
    rt_run(shutdown_main, NULL);
}

int main(void)
{
    rt_filter_from_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writes_everything_in_order),
        cmocka_unit_test(test_past_deadline_writes_nothing),
        cmocka_unit_test(test_shutdown_and_closed_descriptor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
