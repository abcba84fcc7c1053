/* test_netpoll_backend.c — choosing the netpoller's kernel interface.
 *
 *  - an unknown name is refused, a known one is taken before the netpoller
 *    starts and refused (-EBUSY) after;
 *  - io_uring asked for runs on io_uring, or, where this kernel refuses
 *    io_uring_setup, the test says so and skips;
 *  - the fallback: a child whose seccomp filter makes io_uring_setup fail
 *    with EPERM (what container runtimes do) asks for io_uring, gets epoll,
 *    learns why (-EPERM), and its descriptors still work.
 * Each case runs in a child process: the backend is chosen once per
 * process.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "gort/net.h"

#define SKIPPED 77

/* Fails io_uring_setup with EPERM, allows everything else. */
static int deny_io_uring(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -errno;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0 ? 0 : -errno;
}

/* A byte through a registered socket pair, on this thread (no runtime). */
static int pair_works(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return 0;
    if (gort_fd_open(sv[0]) != sv[0] || gort_fd_open(sv[1]) != sv[1])
        return 0;
    char c = 0;
    int ok = gort_write(sv[0], "x", 1) == 1 && gort_read(sv[1], &c, 1) == 1 &&
             c == 'x';
    return ok && gort_close(sv[0]) == 0 && gort_close(sv[1]) == 0;
}

/* Runs fn in a child; its exit status. */
static int in_child(int (*fn)(void))
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(fn());
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int choose(void)
{
    if (gort_netpoll_use("kqueue") != -EINVAL ||
        gort_netpoll_use(NULL) != -EINVAL)
        return 1;
    if (gort_netpoll_use("epoll") != 0)
        return 2;
    int refused = 1;
    const char *name = gort_netpoll_backend(&refused);
    if (!name || strcmp(name, "epoll") != 0 || refused != 0)
        return 3;
    if (gort_netpoll_use("io_uring") != -EBUSY)
        return 4;
    return pair_works() ? 0 : 5;
}

static int uring(void)
{
    if (gort_netpoll_use("io_uring") != 0)
        return 1;
    int refused = 0;
    const char *name = gort_netpoll_backend(&refused);
    if (name && strcmp(name, "epoll") == 0 && refused < 0) {
        fprintf(stderr, "SKIP: this kernel refuses io_uring_setup: %s\n",
                strerror(-refused));
        return SKIPPED;
    }
    if (!name || strcmp(name, "io_uring") != 0 || refused != 0)
        return 2;
    return pair_works() ? 0 : 3;
}

static int fallback(void)
{
    if (deny_io_uring() != 0)
        return SKIPPED;
    if (gort_netpoll_use("io_uring") != 0)
        return 1;
    int refused = 0;
    const char *name = gort_netpoll_backend(&refused);
    if (!name || strcmp(name, "epoll") != 0)
        return 2;
    if (refused != -EPERM)
        return 3;
    return pair_works() ? 0 : 4;
}

static void test_choose(void **state)
{
    (void)state;
    assert_int_equal(in_child(choose), 0);
}

static void test_uring(void **state)
{
    (void)state;
    int rc = in_child(uring);
    if (rc == SKIPPED)
        skip();
    assert_int_equal(rc, 0);
}

static void test_fallback(void **state)
{
    (void)state;
    int rc = in_child(fallback);
    if (rc == SKIPPED) {
        fprintf(stderr, "SKIP: no seccomp filter here\n");
        skip();
    }
    assert_int_equal(rc, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_choose),
        cmocka_unit_test(test_uring),
        cmocka_unit_test(test_fallback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
