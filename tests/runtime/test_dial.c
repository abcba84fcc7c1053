/* test_dial.c — gort_dial_tcp (runtime/dial.c): numeric addresses without
 * a lookup, names through getaddrinfo on a goroutine in gort_blocking,
 * refused ports, bad arguments, a deadline that passes while the lookup
 * runs (the caller returns, the lookup frees itself later: ASan sees any
 * leak or use after free), and many lookups at once (TSan sees the
 * hand-over). Loopback only: no test needs a DNS server ("nosuch.invalid"
 * may fail either way, no such host or no resolver, and both are
 * accepted). */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gort/net.h"
#include "rt_test.h"
#include "rt_watchdog.h"

/* A listening loopback socket (plain, not registered); *port its port. */
static int listener(char port[8])
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    RT_CHECK_INT(bind(fd, (struct sockaddr *)&a, sizeof a), ==, 0);
    RT_CHECK_INT(listen(fd, 128), ==, 0);
    RT_CHECK_INT(getsockname(fd, (struct sockaddr *)&a, &len), ==, 0);
    snprintf(port, 8, "%u", ntohs(a.sin_port));
    return fd;
}

/* A port nothing listens on (bound, then closed). */
static void dead_port(char port[8])
{
    int fd = listener(port);
    close(fd);
}

static int64_t in_ms(int64_t ms)
{
    return gort_nanotime() + ms * 1000000;
}

/* fd is connected to lfd's accept queue: a byte goes across. */
static void check_connected(int fd, int lfd)
{
    int one = 0;
    socklen_t l = sizeof one;
    RT_CHECK_INT(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, &l), ==, 0);
    RT_CHECK_INT(one, !=, 0);
    int peer = accept(lfd, NULL, NULL);
    RT_CHECK_INT(peer, >=, 0);
    RT_CHECK_INT(gort_write(fd, "x", 1), ==, 1);
    char c = 0;
    RT_CHECK_INT(read(peer, &c, 1), ==, 1);
    RT_CHECK_INT(c, ==, 'x');
    close(peer);
    RT_CHECK_INT(gort_close(fd), ==, 0);
}

static void dial_main(void *arg)
{
    (void)arg;
    char port[8], dead[8];
    int lfd = listener(port);
    dead_port(dead);

    check_connected(gort_dial_tcp("127.0.0.1", port, in_ms(10000)), lfd);
    check_connected(gort_dial_tcp("127.0.0.1", port, 0), lfd); /* no limit */
    /* A name: the lookup runs on its own goroutine; an address of
     * "localhost" that refuses (::1, where only 127.0.0.1 listens) is
     * followed by the next. */
    check_connected(gort_dial_tcp("localhost", port, in_ms(10000)), lfd);

    RT_CHECK_INT(gort_dial_tcp("127.0.0.1", dead, in_ms(10000)), ==,
                 -ECONNREFUSED);
    RT_CHECK_INT(gort_dial_tcp("", port, 0), ==, -EINVAL);
    RT_CHECK_INT(gort_dial_tcp("127.0.0.1", "", 0), ==, -EINVAL);
    RT_CHECK_INT(gort_dial_tcp(NULL, port, 0), ==, -EINVAL);
    RT_CHECK_INT(gort_dial_tcp("127.0.0.1", port, -1), ==, -EINVAL);
    RT_CHECK_INT(gort_dial_tcp("127.0.0.1", "no-such-service-x", 0), ==,
                 -EINVAL);
    int rc = gort_dial_tcp("nosuch.invalid", port, in_ms(30000));
    RT_CHECK(rc == -ENXIO || rc == -EHOSTUNREACH);
    close(lfd);
}

static void test_dial(void **state)
{
    (void)state;
    RT_RUN_GUARDED(dial_main, NULL, 120);
}

/* ---- deadlines ---------------------------------------------------------- */

static void deadline_main(void *arg)
{
    (void)arg;
    char port[8];
    int lfd = listener(port);
    /* Past already: a numeric address fails before connecting, a name
     * before (or while) its lookup runs; that lookup ends on its own. */
    RT_CHECK_INT(gort_dial_tcp("127.0.0.1", port, 1), ==, -ETIMEDOUT);
    for (int i = 0; i < 20; i++)
        RT_CHECK_INT(gort_dial_tcp("localhost", port, gort_nanotime()), ==,
                     -ETIMEDOUT);
    /* The abandoned lookups finish and free themselves; give them the
     * time to, so that a leak or a use after free shows in this test. */
    gort_sleep(500 * 1000000LL);
    close(lfd);
}

static void test_deadline(void **state)
{
    (void)state;
    RT_RUN_GUARDED(deadline_main, NULL, 120);
}

/* ---- many at once ------------------------------------------------------- */

#define NDIAL 50

static struct {
    char port[8];
    _Atomic int ok, failed;
    gort_waitgroup wg;
} many;

static void one_dial(void *arg)
{
    (void)arg;
    int fd = gort_dial_tcp("localhost", many.port, in_ms(30000));
    if (fd >= 0) {
        atomic_fetch_add(&many.ok, 1);
        gort_close(fd);
    } else {
        atomic_fetch_add(&many.failed, 1);
        fprintf(stderr, "dial localhost:%s: %s\n", many.port,
                gort_strerror(fd));
    }
    gort_wg_done(&many.wg);
}

static void many_main(void *arg)
{
    (void)arg;
    int lfd = listener(many.port);
    gort_wg_add(&many.wg, NDIAL);
    for (int i = 0; i < NDIAL; i++)
        RT_CHECK_INT(gort_go(one_dial, NULL), >, 0);
    gort_wg_wait(&many.wg);
    RT_CHECK_INT(atomic_load(&many.ok), ==, NDIAL);
    close(lfd);
}

static void test_many(void **state)
{
    (void)state;
    RT_RUN_GUARDED(many_main, NULL, 120);
}

int main(void)
{
    rt_filter_from_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dial),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_many),
    };
    return cmocka_run_group_tests_name("dial", tests, NULL, NULL);
}
