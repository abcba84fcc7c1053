/* test_sendq.c — batched sends (runtime/sendq.c), at GOMAXPROCS=1 so that
 * who is runnable when a write starts is known:
 *  - the writes of one round leave in one submission, each byte where it
 *    was sent (plain buffers and gather lists);
 *  - the round's last writer (nothing else runnable, sends queued) joins
 *    the queue and submits it with its own send;
 *  - a batched send's error comes back to its own caller (EPIPE), and
 *    the others in its batch are not disturbed;
 *  - a socket with no room: the batched attempt meets -EAGAIN, the write
 *    parks in the netpoller and finishes in order;
 *  - two Ps, shrunk to one while sends are queued, with a blocking call
 *    and a yielder on the way: every send arrives (queued sends leave
 *    before a P retires or enters a blocking call);
 *  - goroutines that keep yielding (the P never runs out of work) do not
 *    hold a queued send: the queue leaves after its bound of switches;
 *  - GORTSENDBATCH=0 (the "off" run) sends every byte with system calls.
 */
#include "rt_test.h"
#include "rt_watchdog.h"

#include <linux/io_uring.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "gort/net.h"
#include "sendq.h"

#define NPAIRS 32
#define MSG 100

static int pairs[NPAIRS][2];
static gort_chan *done;
static bool expect_batching = true;

/* Whether this kernel lets the process make a ring that can send
 * (IORING_OP_SEND, 5.6): if so, batching must happen (a ring the runtime
 * failed to make would be a bug); if not (seccomp,
 * kernel.io_uring_disabled, an older kernel), the runtime sends with
 * system calls and the cases check bytes only. */
static bool kernel_has_io_uring(void)
{
    struct io_uring_params p = {0};
    int fd = (int)syscall(__NR_io_uring_setup, 2, &p);
    if (fd < 0)
        return false;
    size_t len =
        sizeof(struct io_uring_probe) + 256 * sizeof(struct io_uring_probe_op);
    struct io_uring_probe *probe = calloc(1, len);
    bool ok = probe &&
              syscall(__NR_io_uring_register, fd, IORING_REGISTER_PROBE, probe,
                      256) == 0 &&
              probe->last_op >= IORING_OP_SEND &&
              (probe->ops[IORING_OP_SEND].flags & IO_URING_OP_SUPPORTED);
    free(probe);
    close(fd);
    return ok;
}

static void open_pairs(int n)
{
    for (int i = 0; i < n; i++) {
        RT_CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, pairs[i]), ==, 0);
        RT_CHECK_INT(gort_fd_open(pairs[i][0]), ==, pairs[i][0]);
        RT_CHECK_INT(gort_fd_open(pairs[i][1]), ==, pairs[i][1]);
    }
}

static void close_pairs(int n)
{
    for (int i = 0; i < n; i++) {
        gort_close(pairs[i][0]);
        gort_close(pairs[i][1]);
    }
}

static void fill(char *b, size_t n, int seed)
{
    for (size_t j = 0; j < n; j++)
        b[j] = (char)(seed * 31 + (int)j * 7);
}

static void counts(uint64_t *sends, uint64_t *batches)
{
    gort__sendq_counts(sends, batches);
}

/* Reads exactly n bytes from fd into b. */
static ssize_t read_full(int fd, char *b, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = gort_read(fd, b + got, n - got);
        if (r <= 0)
            return r;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* ---- one round, one submission ------------------------------------------ */

/* Even writers send one buffer, odd ones the same bytes as three pieces. */
static void round_writer(void *arg)
{
    int i = (int)(intptr_t)arg;
    char b[MSG];
    fill(b, sizeof b, i);
    ssize_t w;
    if (i % 2 == 0) {
        w = gort_write(pairs[i][0], b, sizeof b);
    } else {
        struct iovec iov[3] = {{b, 10}, {b + 10, 0}, {b + 10, MSG - 10}};
        w = gort_writev(pairs[i][0], iov, 3);
    }
    RT_CHECK_INT(w, ==, MSG);
    gort_chan_send(done, NULL);
}

static void round_main(void *arg)
{
    (void)arg;
    open_pairs(NPAIRS);
    done = gort_chan_make(0, NPAIRS);
    uint64_t s0, b0, s1, b1;
    counts(&s0, &b0);
    for (int i = 0; i < NPAIRS; i++)
        gort_go(round_writer, (void *)(intptr_t)i);
    for (int i = 0; i < NPAIRS; i++)
        gort_chan_recv(done, NULL);
    counts(&s1, &b1);
    for (int i = 0; i < NPAIRS; i++) {
        char want[MSG], got[MSG];
        fill(want, sizeof want, i);
        RT_CHECK_INT(read_full(pairs[i][1], got, sizeof got), ==, MSG);
        RT_CHECK(memcmp(want, got, MSG) == 0);
    }
    if (expect_batching) {
        /* All but the last writer found others runnable; one P, so one
         * round: far fewer submissions than sends. */
        RT_CHECK_INT(s1 - s0, >=, NPAIRS / 2);
        RT_CHECK_INT(b1 - b0, <=, (s1 - s0) / 4);
    } else {
        RT_CHECK_INT(s1 - s0, ==, 0);
        RT_CHECK_INT(b1 - b0, ==, 0);
    }
    close_pairs(NPAIRS);
    gort_chan_free(done);
}

static void test_round_shares_one_submission(void **state)
{
    (void)state;
    rt_run(round_main, NULL);
}

/* ---- the round's last sender joins the queue ----------------------------- */

#define NLAST 3
#define LAST_ROUNDS 20

static void last_writer(void *arg)
{
    int i = (int)(intptr_t)arg;
    char b[MSG];
    fill(b, sizeof b, i);
    RT_CHECK_INT(gort_write(pairs[i][0], b, sizeof b), ==, MSG);
    gort_chan_send(done, NULL);
}

/* One round of NLAST writers, main parked meanwhile: the last to run finds
 * nothing runnable but the others' sends queued. Without the join it would
 * send(2) on its own and the P would submit the other two: 2 sends
 * batched. With it, all three leave in one submission. */
static bool one_joined_round(void)
{
    uint64_t s0, b0, s1, b1;
    counts(&s0, &b0);
    for (int i = 0; i < NLAST; i++)
        gort_go(last_writer, (void *)(intptr_t)i);
    for (int i = 0; i < NLAST; i++)
        gort_chan_recv(done, NULL);
    counts(&s1, &b1);
    for (int i = 0; i < NLAST; i++) {
        char want[MSG], got[MSG];
        fill(want, sizeof want, i);
        RT_CHECK_INT(read_full(pairs[i][1], got, sizeof got), ==, MSG);
        RT_CHECK(memcmp(want, got, MSG) == 0);
    }
    if (!expect_batching) {
        RT_CHECK_INT(s1 - s0, ==, 0);
        return false;
    }
    return s1 - s0 == NLAST && b1 - b0 == 1;
}

static void last_main(void *arg)
{
    (void)arg;
    open_pairs(NLAST);
    done = gort_chan_make(0, NLAST);
    int joined = 0;
    for (int r = 0; r < LAST_ROUNDS; r++)
        joined += one_joined_round();
    /* A round can leave early on the queue's time bound (a coarse clock
     * tick, a preempted thread): most rounds, not all, must join. */
    if (expect_batching)
        RT_CHECK_INT(joined, >=, LAST_ROUNDS * 3 / 4);
    close_pairs(NLAST);
    gort_chan_free(done);
}

static void test_last_sender_joins_the_queue(void **state)
{
    (void)state;
    rt_run(last_main, NULL);
}

/* ---- errors go to their own caller -------------------------------------- */

#define NBROKEN 8

static void broken_writer(void *arg)
{
    int i = (int)(intptr_t)arg;
    char b[MSG] = {0};
    /* Socket i's peer is closed; socket NBROKEN + i's is open. */
    RT_CHECK_INT(gort_write(pairs[i][0], b, sizeof b), ==, -EPIPE);
    RT_CHECK_INT(gort_write(pairs[NBROKEN + i][0], b, sizeof b), ==, MSG);
    gort_chan_send(done, NULL);
}

static void errors_main(void *arg)
{
    (void)arg;
    open_pairs(2 * NBROKEN);
    for (int i = 0; i < NBROKEN; i++) {
        gort_close(pairs[i][1]);
        pairs[i][1] = -1;
    }
    done = gort_chan_make(0, NBROKEN);
    uint64_t s0, b0, s1, b1;
    counts(&s0, &b0);
    for (int i = 0; i < NBROKEN; i++)
        gort_go(broken_writer, (void *)(intptr_t)i);
    for (int i = 0; i < NBROKEN; i++)
        gort_chan_recv(done, NULL);
    counts(&s1, &b1);
    if (expect_batching)
        RT_CHECK_INT(s1 - s0, >=, NBROKEN / 2);
    char got[MSG];
    for (int i = NBROKEN; i < 2 * NBROKEN; i++)
        RT_CHECK_INT(read_full(pairs[i][1], got, sizeof got), ==, MSG);
    for (int i = 0; i < 2 * NBROKEN; i++) {
        gort_close(pairs[i][0]);
        if (pairs[i][1] >= 0)
            gort_close(pairs[i][1]);
    }
    gort_chan_free(done);
}

static void test_errors_reach_their_caller(void **state)
{
    (void)state;
    rt_run(errors_main, NULL);
}

/* ---- no room: -EAGAIN, then the netpoller ------------------------------- */

#define BIG (4 << 20)

static char *big_out, *big_in;
static _Atomic int yielding;

static void yielder(void *arg)
{
    (void)arg;
    while (atomic_load(&yielding))
        gort_yield();
}

static size_t prefill; /* bytes in the socket before the big write */

static void big_reader(void *arg)
{
    (void)arg;
    char *skip = malloc(prefill);
    RT_CHECK_INT(read_full(pairs[0][1], skip, prefill), ==, (long)prefill);
    free(skip);
    RT_CHECK_INT(read_full(pairs[0][1], big_in, BIG), ==, BIG);
    gort_chan_send(done, NULL);
}

static void big_writer(void *arg)
{
    (void)arg;
    RT_CHECK_INT(gort_write(pairs[0][0], big_out, BIG), ==, BIG);
    atomic_store(&yielding, 0);
    gort_chan_send(done, NULL);
}

/* Fills the socket's buffer with send(2) until it has no room. */
static size_t fill_socket(int fd)
{
    static char junk[65536];
    size_t total = 0;
    ssize_t w;
    while ((w = send(fd, junk, sizeof junk, MSG_DONTWAIT)) > 0)
        total += (size_t)w;
    RT_CHECK(w < 0 && errno == EAGAIN);
    return total;
}

static void full_main(void *arg)
{
    (void)arg;
    open_pairs(1);
    big_out = malloc(BIG);
    big_in = malloc(BIG);
    fill(big_out, BIG, 5);
    prefill = fill_socket(pairs[0][0]);
    RT_CHECK_INT(prefill, >, 0);
    done = gort_chan_make(0, 2);
    uint64_t s0, b0, s1, b1;
    counts(&s0, &b0);
    atomic_store(&yielding, 1);
    gort_go(yielder, NULL); /* keeps the writer's P busy: it batches */
    gort_go(big_writer, NULL);
    gort_go(big_reader, NULL);
    gort_chan_recv(done, NULL);
    gort_chan_recv(done, NULL);
    counts(&s1, &b1);
    RT_CHECK(memcmp(big_out, big_in, BIG) == 0);
    if (expect_batching)
        RT_CHECK_INT(s1 - s0, >=, 1);
    close_pairs(1);
    free(big_out);
    free(big_in);
    gort_chan_free(done);
}

static void test_full_socket_waits_for_room(void **state)
{
    (void)state;
    struct rt_watchdog wd;
    rt_watchdog_start(&wd, "test_full_socket_waits_for_room", 60);
    rt_run(full_main, NULL);
    rt_watchdog_stop(&wd);
}

/* ---- yielders never hold a queued send ---------------------------------- */

static void spin_writer(void *arg)
{
    (void)arg;
    char b[MSG];
    fill(b, sizeof b, 9);
    RT_CHECK_INT(gort_write(pairs[0][0], b, sizeof b), ==, MSG);
    atomic_store(&yielding, 0);
}

static void yield_main(void *arg)
{
    (void)arg;
    open_pairs(1);
    uint64_t s0, b0, s1, b1;
    counts(&s0, &b0);
    atomic_store(&yielding, 1);
    /* Two yielders: the run queue is never empty until the write is done,
     * so only the queue's bound of switches can send it. */
    gort_go(yielder, NULL);
    gort_go(spin_writer, NULL);
    yielder(NULL);
    counts(&s1, &b1);
    char got[MSG], want[MSG];
    fill(want, sizeof want, 9);
    RT_CHECK_INT(read_full(pairs[0][1], got, sizeof got), ==, MSG);
    RT_CHECK(memcmp(want, got, MSG) == 0);
    if (expect_batching)
        RT_CHECK_INT(s1 - s0, ==, 1);
    close_pairs(1);
}

static void test_yielders_do_not_hold_a_send(void **state)
{
    (void)state;
    struct rt_watchdog wd;
    rt_watchdog_start(&wd, "test_yielders_do_not_hold_a_send", 30);
    rt_run(yield_main, NULL);
    rt_watchdog_stop(&wd);
}

/* ---- two Ps, one retired, a blocking call -------------------------------- */

static void nap(void *arg)
{
    (void)arg;
    usleep(20 * 1000);
}

static void blocker(void *arg)
{
    (void)arg;
    gort_blocking(nap, NULL);
    gort_chan_send(done, NULL);
}

static void procs_main(void *arg)
{
    (void)arg;
    int old = gort_gomaxprocs(2);
    for (int rep = 0; rep < 20; rep++) {
        open_pairs(NPAIRS);
        done = gort_chan_make(0, NPAIRS + 1);
        gort_gomaxprocs(2);
        for (int i = 0; i < NPAIRS; i++) {
            gort_go(round_writer, (void *)(intptr_t)i);
            if (i == NPAIRS / 2) {
                gort_go(blocker, NULL);
                gort_gomaxprocs(1); /* P 1 retires, its sends queued or not */
            }
        }
        for (int i = 0; i < NPAIRS + 1; i++)
            gort_chan_recv(done, NULL);
        for (int i = 0; i < NPAIRS; i++) {
            char want[MSG], got[MSG];
            fill(want, sizeof want, i);
            RT_CHECK_INT(read_full(pairs[i][1], got, sizeof got), ==, MSG);
            RT_CHECK(memcmp(want, got, MSG) == 0);
        }
        close_pairs(NPAIRS);
        gort_chan_free(done);
    }
    gort_gomaxprocs(old);
}

static void test_shrink_and_block_with_sends_queued(void **state)
{
    (void)state;
    struct rt_watchdog wd;
    rt_watchdog_start(&wd, "test_shrink_and_block_with_sends_queued", 60);
    rt_run(procs_main, NULL);
    rt_watchdog_stop(&wd);
}

int main(int argc, char **argv)
{
    rt_filter_from_env();
    /* "off": the same cases with GORTSENDBATCH=0 (set by ctest): every
     * byte still arrives, and nothing goes through a batch. */
    expect_batching = !(argc > 1 && strcmp(argv[1], "off") == 0);
    if (expect_batching && !kernel_has_io_uring()) {
        fprintf(stderr, "test_sendq: io_uring refused here: checking bytes "
                        "only (sends are system calls)\n");
        expect_batching = false;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_shares_one_submission),
        cmocka_unit_test(test_last_sender_joins_the_queue),
        cmocka_unit_test(test_errors_reach_their_caller),
        cmocka_unit_test(test_full_socket_waits_for_room),
        cmocka_unit_test(test_yielders_do_not_hold_a_send),
        cmocka_unit_test(test_shrink_and_block_with_sends_queued),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
