/* test_netpoll.c — goroutines blocked on descriptors (gort/net.h).
 *
 * What is asserted, and only that:
 *  - an operation that would block parks its goroutine in "IO wait" (seen
 *    through gort_goroutines_each and stats.io_waiting) and readiness
 *    resumes it: a read when the peer writes or closes, a write of several
 *    MB as the peer drains it, every byte checked;
 *  - 10,000 concurrent loopback TCP connections through an echo server of
 *    goroutines (gort_accept, gort_read, gort_write, gort_close) with
 *    clients that are goroutines too (gort_socket, gort_connect) in a child
 *    process, so that each process holds 10k descriptors under the 20k
 *    limit; every byte is checked on both sides and all connections are
 *    open at once;
 *  - deadlines: an operation never times out before its deadline (lower
 *    bounds only), a past deadline fails at once, moving or clearing one
 *    while an operation waits takes effect, and read and write sides are
 *    independent;
 *  - gort_close wakes the reader and the writer blocked on the descriptor
 *    (and an accepter) with -EBADF, cancels its deadline timers, and leaves
 *    no goroutine parked (stats.io_waiting back to 0);
 *  - GORTDEBUG=netpollidle=0: no wake-up is counted as an idle M's poll.
 * No upper bound on any latency is asserted; a watchdog (rt_watchdog.h)
 * turns a hang into a failure with a goroutine dump.
 *
 * One binary, three roles: the suite; "echo-client PORT N", the clients of
 * the echo test; "pingpong early|late", a child run with GORTDEBUG set.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gort/net.h"
#include "rt_test.h"
#include "rt_watchdog.h"

extern char **environ;

#define MS (1000LL * 1000)
#define SEC (1000 * MS)

/* ---- helpers ------------------------------------------------------------- */

struct np_snap {
    uint64_t io_waiting, timers, wake_thread, wake_idle;
};

static void snap(struct np_snap *o)
{
    struct gort_stats *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    RT_CHECK_INT(gort_stats_read(s), ==, 0);
    o->io_waiting = s->io_waiting;
    o->timers = s->timers;
    o->wake_thread = s->netpoll_wakeups_thread;
    o->wake_idle = s->netpoll_wakeups_idle;
    free(s);
}

static uint64_t io_waiting(void)
{
    struct np_snap s;
    snap(&s);
    return s.io_waiting;
}

/* io_waiting() settles at n. A parked goroutine can be woken without
 * cause and park again (an edge reported late: a fresh TCP socket reports
 * EPOLLOUT|EPOLLHUP before it listens), so right after a goroutine is seen
 * in IO wait the count may dip for a moment; it must come back. */
static void settle_io_waiting(uint64_t n)
{
    for (int i = 0; i < 5000 && io_waiting() != n; i++)
        gort_sleep(1000000);
    RT_CHECK_INT(io_waiting(), ==, n);
}

static uint64_t timers_armed(void)
{
    struct np_snap s;
    snap(&s);
    return s.timers;
}

/* A connected AF_UNIX stream pair, both ends registered. */
static void pair_open(int sv[2])
{
    int rc = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    RT_CHECK_INT(rc, ==, 0);
    RT_CHECK_INT(gort_fd_open(sv[0]), ==, sv[0]);
    RT_CHECK_INT(gort_fd_open(sv[1]), ==, sv[1]);
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Byte k of the stream named seed: cheap, and a chunk misplaced by any
 * offset below 2^19 or from another stream does not match. */
static uint64_t mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static uint8_t pat_byte(uint64_t h, uint64_t k)
{
    return (uint8_t)((h >> ((k & 7) * 8)) + k * 7 + (k >> 11));
}

static void pat_fill(uint8_t *b, size_t n, uint64_t seed, uint64_t off)
{
    uint64_t h = mix(seed);
    for (size_t k = 0; k < n; k++)
        b[k] = pat_byte(h, off + k);
}

/* Index of the first byte that differs from the pattern, or n. */
static size_t pat_mismatch(const uint8_t *b, size_t n, uint64_t seed,
                           uint64_t off)
{
    uint64_t h = mix(seed);
    for (size_t k = 0; k < n; k++)
        if (b[k] != pat_byte(h, off + k))
            return k;
    return n;
}

/* Reads exactly n bytes unless end of file or an error comes first:
 * returns n, the short count at end of file, or the negative error. */
static ssize_t read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = gort_read(fd, (char *)buf + got, n - got);
        if (r < 0)
            return r;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* One read, write or accept run on its own goroutine; the starter polls
 * done. */
enum { OP_READ, OP_WRITE, OP_ACCEPT };

struct op {
    int fd;
    int kind;
    void *buf;
    size_t n;
    int64_t id;
    int64_t t_end;
    _Atomic int64_t result;
    _Atomic int done;
};

static void op_run(void *arg)
{
    struct op *o = arg;
    int64_t r;
    if (o->kind == OP_WRITE)
        r = gort_write(o->fd, o->buf, o->n);
    else if (o->kind == OP_READ)
        r = gort_read(o->fd, o->buf, o->n);
    else
        r = gort_accept(o->fd, NULL, NULL);
    o->t_end = gort_nanotime();
    atomic_store(&o->result, r);
    atomic_store(&o->done, 1); /* last touch of *o */
}

static void op_start(struct op *o, int fd, int kind, void *buf, size_t n)
{
    memset(o, 0, sizeof *o);
    o->fd = fd;
    o->kind = kind;
    o->buf = buf;
    o->n = n;
    o->id = gort_go(op_run, o);
    RT_CHECK(o->id > 0);
}

/* Waits for o: yields a while, then sleeps in small steps (a deadline may
 * be hundreds of ms away; no point keeping a P busy meanwhile). */
static int64_t op_wait(struct op *o)
{
    for (long i = 0; !atomic_load(&o->done); i++) {
        if (i < 1000)
            gort_yield();
        else
            gort_sleep(100 * 1000);
    }
    return atomic_load(&o->result);
}

/* Starts o and returns once its goroutine is parked in "IO wait". */
static void op_start_parked(struct op *o, int fd, int kind, void *buf, size_t n)
{
    op_start(o, fd, kind, buf, n);
    rt_wait_state(o->id, "IO wait");
}

/* A listening TCP socket on 127.0.0.1, any port, registered. */
static int listener_open(int backlog, int *port)
{
    int l = gort_socket(AF_INET, SOCK_STREAM, 0);
    RT_CHECK(l >= 0);
    if (l < 0)
        return l;
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    RT_CHECK_INT(bind(l, (struct sockaddr *)&sa, sizeof sa), ==, 0);
    RT_CHECK_INT(listen(l, backlog), ==, 0);
    RT_CHECK_INT(getsockname(l, (struct sockaddr *)&sa, &len), ==, 0);
    if (port)
        *port = ntohs(sa.sin_port);
    return l;
}

/* Spawns this binary with argv and GORTDEBUG replaced by gortdebug (NULL:
 * removed), with an empty signal mask (Ms block every signal and a spawned
 * child would inherit that). Returns the pid or a negative error. */
static pid_t spawn_self(char *const argv[], const char *gortdebug)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **envp = calloc(n + 2, sizeof *envp);
    if (!envp)
        return -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "GORTDEBUG=", 10) != 0)
            envp[k++] = environ[i];
    char kv[128];
    if (gortdebug) {
        snprintf(kv, sizeof kv, "GORTDEBUG=%s", gortdebug);
        envp[k++] = kv;
    }
    envp[k] = NULL;
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
    pid_t pid;
    int rc = posix_spawn(&pid, "/proc/self/exe", NULL, &at, argv, envp);
    posix_spawnattr_destroy(&at);
    free(envp);
    return rc == 0 ? pid : -rc;
}

static int wait_child(pid_t pid)
{
    int st = 0;
    pid_t r;
    do
        r = waitpid(pid, &st, 0);
    while (r < 0 && errno == EINTR);
    return r == pid ? st : -1;
}

/* ---- read parks and resumes ---------------------------------------------- */

static struct {
    int sv[2];
    char buf[64];
    _Atomic ssize_t got, eof;
    gort_waitgroup wg;
} rp;

#define NOT_YET (-1000)

static void rp_reader(void *arg)
{
    (void)arg;
    atomic_store(&rp.got, gort_read(rp.sv[0], rp.buf, sizeof rp.buf));
    char c;
    atomic_store(&rp.eof, gort_read(rp.sv[0], &c, 1)); /* peer closes */
    gort_wg_done(&rp.wg);
}

static void read_parks_main(void *arg)
{
    int old = gort_gomaxprocs((int)(intptr_t)arg);
    memset(&rp, 0, sizeof rp);
    atomic_store(&rp.got, NOT_YET);
    atomic_store(&rp.eof, NOT_YET);
    pair_open(rp.sv);
    struct np_snap s0, s1, s2;
    snap(&s0);
    RT_CHECK_INT(s0.io_waiting, ==, 0);

    gort_wg_add(&rp.wg, 1);
    int64_t id = gort_go(rp_reader, NULL);
    rt_wait_state(id, "IO wait");
    struct rt_ginfo gi;
    RT_CHECK(rt_ginfo(id, &gi));
    RT_CHECK_STR(gi.wait_reason, "IO wait");
    snap(&s1);
    RT_CHECK_INT(s1.io_waiting, ==, 1);
    RT_CHECK_INT(atomic_load(&rp.got), ==, NOT_YET);

    static const char msg[] = "hello from the peer";
    RT_CHECK_INT(gort_write(rp.sv[1], msg, sizeof msg), ==, sizeof msg);
    RT_YIELD_UNTIL(atomic_load(&rp.got) != NOT_YET);
    RT_CHECK_INT(atomic_load(&rp.got), ==, sizeof msg);
    RT_CHECK(memcmp(rp.buf, msg, sizeof msg) == 0);

    /* Parked again, for the next byte; the peer's close is end of file. */
    rt_wait_state(id, "IO wait");
    RT_CHECK_INT(gort_close(rp.sv[1]), ==, 0);
    gort_wg_wait(&rp.wg);
    RT_CHECK_INT(atomic_load(&rp.eof), ==, 0);

    snap(&s2);
    RT_CHECK_INT(s2.io_waiting, ==, 0);
    /* Both resumptions came through the netpoller, by one path or other. */
    RT_CHECK_INT(s2.wake_thread + s2.wake_idle, >=,
                 s0.wake_thread + s0.wake_idle + 2);
    RT_CHECK_INT(gort_close(rp.sv[0]), ==, 0);
    gort_gomaxprocs(old);
}

static void test_read_parks_p1(void **state)
{
    (void)state;
    RT_RUN_GUARDED(read_parks_main, (void *)(intptr_t)1, 60);
}

static void test_read_parks_p2(void **state)
{
    (void)state;
    RT_RUN_GUARDED(read_parks_main, (void *)(intptr_t)2, 60);
}

/* ---- data and end of file in one readiness edge ---------------------------
 *
 * The peer writes and shuts down before the poller looks: one edge says
 * both. The woken reader's read takes the data and comes back short; the
 * end of file is already there and no new edge will announce it, so the
 * next read must ask the kernel rather than wait (it used to wait forever:
 * an HTTP response read until close hung). */

static struct {
    int sv[2];
    char buf[4096];
    _Atomic ssize_t got, eof;
    gort_waitgroup wg;
} he;

static void he_reader(void *arg)
{
    (void)arg;
    atomic_store(&he.got, gort_read(he.sv[0], he.buf, sizeof he.buf));
    gort_set_deadline(he.sv[0], GORT_IO_READ, gort_nanotime() + 2000000000LL);
    atomic_store(&he.eof, gort_read(he.sv[0], he.buf, sizeof he.buf));
    gort_wg_done(&he.wg);
}

static void hup_edge_main(void *arg)
{
    (void)arg;
    for (int round = 0; round < 20; round++) {
        memset(&he, 0, sizeof he);
        atomic_store(&he.got, NOT_YET);
        atomic_store(&he.eof, NOT_YET);
        pair_open(he.sv);
        gort_wg_add(&he.wg, 1);
        int64_t id = gort_go(he_reader, NULL);
        rt_wait_state(id, "IO wait");
        static const char msg[] = "last words";
        RT_CHECK_INT(write(he.sv[1], msg, sizeof msg), ==, sizeof msg);
        RT_CHECK_INT(shutdown(he.sv[1], SHUT_WR), ==, 0);
        gort_wg_wait(&he.wg);
        RT_CHECK_INT(atomic_load(&he.got), ==, sizeof msg);
        RT_CHECK_INT(atomic_load(&he.eof), ==, 0);
        RT_CHECK_INT(gort_close(he.sv[0]), ==, 0);
        RT_CHECK_INT(gort_close(he.sv[1]), ==, 0);
    }
}

static void test_hup_with_data(void **state)
{
    (void)state;
    RT_RUN_GUARDED(hup_edge_main, NULL, 120);
}

/* ---- a large write parks until the peer drains it ------------------------ */

#define BIG_WRITE (8u << 20)

static void large_write_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair_open(sv);
    uint8_t *src = malloc(BIG_WRITE), *buf = malloc(64 << 10);
    RT_CHECK(src && buf);
    pat_fill(src, BIG_WRITE, 42, 0);

    struct op w;
    /* Parks once the socket buffers are full. */
    op_start_parked(&w, sv[0], OP_WRITE, src, BIG_WRITE);
    settle_io_waiting(1);
    RT_CHECK(!atomic_load(&w.done));

    size_t off = 0;
    long reads = 0;
    while (off < BIG_WRITE) {
        size_t want =
            BIG_WRITE - off < (64u << 10) ? BIG_WRITE - off : (64u << 10);
        ssize_t r = gort_read(sv[1], buf, want);
        if (r <= 0) {
            rt_fail_at(__FILE__, __LINE__, "read at offset %zu: %zd", off, r);
            break;
        }
        size_t bad = pat_mismatch(buf, (size_t)r, 42, off);
        if (bad != (size_t)r) {
            rt_fail_at(__FILE__, __LINE__, "byte %zu differs", off + bad);
            break;
        }
        off += (size_t)r;
        reads++;
    }
    RT_CHECK_INT(off, ==, BIG_WRITE);
    RT_CHECK_INT(op_wait(&w), ==, BIG_WRITE);
    RT_CHECK_INT(reads, >, 1);
    RT_CHECK_INT(io_waiting(), ==, 0);
    RT_CHECK_INT(gort_close(sv[0]), ==, 0);
    /* Nothing beyond what was written: end of file after the close. */
    RT_CHECK_INT(gort_read(sv[1], buf, 1), ==, 0);
    RT_CHECK_INT(gort_close(sv[1]), ==, 0);
    free(src);
    free(buf);
}

static void test_large_write(void **state)
{
    (void)state;
    RT_RUN_GUARDED(large_write_main, NULL, 60);
}

/* ---- deadlines ----------------------------------------------------------- */

/* A read with a deadline 50 ms ahead on an idle socket: -ETIMEDOUT, not
 * before the deadline. The deadline then stays in the past (reads fail at
 * once), a read deadline leaves writes alone, and clearing it restores a
 * read that blocks until data comes. */
static void deadline_read_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair_open(sv);
    char buf[16];
    uint64_t t0 = timers_armed();

    int64_t d = gort_nanotime() + 50 * MS;
    RT_CHECK_INT(gort_set_deadline(sv[0], GORT_IO_READ, d), ==, 0);
    RT_CHECK_INT(timers_armed(), ==, t0 + 1);
    RT_CHECK_INT(gort_read(sv[0], buf, sizeof buf), ==, -ETIMEDOUT);
    RT_CHECK_INT(gort_nanotime(), >=, d);
    RT_CHECK_INT(timers_armed(), ==, t0);

    RT_CHECK_INT(gort_read(sv[0], buf, sizeof buf), ==, -ETIMEDOUT);
    RT_CHECK_INT(gort_write(sv[0], "w", 1), ==, 1);
    RT_CHECK_INT(gort_read(sv[1], buf, sizeof buf), ==, 1);

    RT_CHECK_INT(gort_set_deadline(sv[0], GORT_IO_READ, 0), ==, 0);
    RT_CHECK_INT(timers_armed(), ==, t0);
    struct op r;
    op_start_parked(&r, sv[0], OP_READ, buf, sizeof buf);
    gort_sleep(100 * MS); /* past where the old deadline was */
    struct rt_ginfo gi;
    RT_CHECK(rt_ginfo(r.id, &gi));
    RT_CHECK_STR(gi.state, "IO wait");
    RT_CHECK(!atomic_load(&r.done));
    RT_CHECK_INT(gort_write(sv[1], "late", 4), ==, 4);
    RT_CHECK_INT(op_wait(&r), ==, 4);
    RT_CHECK(memcmp(buf, "late", 4) == 0);

    RT_CHECK_INT(gort_close(sv[0]), ==, 0);
    RT_CHECK_INT(gort_close(sv[1]), ==, 0);
    RT_CHECK_INT(io_waiting(), ==, 0);
}

static void test_deadline_read(void **state)
{
    (void)state;
    RT_RUN_GUARDED(deadline_read_main, NULL, 60);
}

/* Fills fd's send buffer (and the peer's receive buffer) with a write that
 * times out: a deadline 50 ms ahead, nobody reading. */
static void fill_until_timeout(int fd, int64_t ahead)
{
    uint8_t *big = calloc(1, BIG_WRITE);
    int64_t d = gort_nanotime() + ahead;
    RT_CHECK_INT(gort_set_deadline(fd, GORT_IO_WRITE, d), ==, 0);
    RT_CHECK_INT(gort_write(fd, big, BIG_WRITE), ==, -ETIMEDOUT);
    RT_CHECK_INT(gort_nanotime(), >=, d);
    free(big);
}

/* A write deadline: a write that cannot complete fails at the deadline,
 * not before; the write side's deadline leaves reads alone. */
static void deadline_write_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair_open(sv);
    uint64_t t0 = timers_armed();
    fill_until_timeout(sv[0], 50 * MS);
    RT_CHECK_INT(timers_armed(), ==, t0);
    /* Still past: fails again without waiting for anything. */
    RT_CHECK_INT(gort_write(sv[0], "x", 1), ==, -ETIMEDOUT);
    /* The read side has no deadline: data from the peer arrives. */
    RT_CHECK_INT(gort_write(sv[1], "ok", 2), ==, 2);
    char buf[4];
    RT_CHECK_INT(gort_read(sv[0], buf, sizeof buf), ==, 2);
    RT_CHECK_INT(gort_close(sv[0]), ==, 0);
    RT_CHECK_INT(gort_close(sv[1]), ==, 0);
}

static void test_deadline_write(void **state)
{
    (void)state;
    RT_RUN_GUARDED(deadline_write_main, NULL, 60);
}

/* A deadline already past when the operation starts: it fails without
 * parking and without arming a timer. If it parked it would never wake
 * (nothing is armed, no data comes) and the watchdog would report it. */
static void deadline_past_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair_open(sv);
    char buf[8];
    uint64_t t0 = timers_armed();
    int64_t past = gort_nanotime() - 1;
    RT_CHECK_INT(gort_set_deadline(sv[0], GORT_IO_READ, past), ==, 0);
    RT_CHECK_INT(timers_armed(), ==, t0);
    RT_CHECK_INT(gort_read(sv[0], buf, sizeof buf), ==, -ETIMEDOUT);

    /* Write side: once the buffer is full, a past deadline fails at once. */
    fill_until_timeout(sv[1], 20 * MS);
    RT_CHECK_INT(gort_set_deadline(sv[1], GORT_IO_WRITE, gort_nanotime() - 1),
                 ==, 0);
    RT_CHECK_INT(gort_write(sv[1], buf, sizeof buf), ==, -ETIMEDOUT);

    /* Accept with nothing pending. */
    int l = listener_open(16, NULL);
    RT_CHECK_INT(gort_set_deadline(l, GORT_IO_READ, gort_nanotime() - 1), ==,
                 0);
    RT_CHECK_INT(gort_accept(l, NULL, NULL), ==, -ETIMEDOUT);
    RT_CHECK_INT(timers_armed(), ==, t0);
    RT_CHECK_INT(io_waiting(), ==, 0);
    RT_CHECK_INT(gort_close(l), ==, 0);
    RT_CHECK_INT(gort_close(sv[0]), ==, 0);
    RT_CHECK_INT(gort_close(sv[1]), ==, 0);
}

static void test_deadline_past(void **state)
{
    (void)state;
    RT_RUN_GUARDED(deadline_past_main, NULL, 60);
}

/* net.h: "A deadline in the past makes pending and future operations fail
 * with -ETIMEDOUT until it is moved" — also when the operation could
 * complete at once (data waiting, room in the buffer), as Go's Read and
 * Write fail with os.ErrDeadlineExceeded before trying the syscall. */
static void deadline_past_ready_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair_open(sv);
    char buf[8];
    RT_CHECK_INT(gort_write(sv[1], "data", 4), ==, 4);
    RT_CHECK_INT(gort_set_deadline(sv[0], GORT_IO_BOTH, gort_nanotime() - 1),
                 ==, 0);
    ssize_t r = gort_read(sv[0], buf, sizeof buf);
    RT_CHECK_INT(r, ==, -ETIMEDOUT);
    RT_CHECK_INT(gort_write(sv[0], "x", 1), ==, -ETIMEDOUT);
    /* Moved: the data is still there (unless the read above took it), the
     * write goes through. */
    RT_CHECK_INT(gort_set_deadline(sv[0], GORT_IO_BOTH, 0), ==, 0);
    if (r == -ETIMEDOUT)
        RT_CHECK_INT(gort_read(sv[0], buf, sizeof buf), ==, 4);
    RT_CHECK_INT(gort_write(sv[0], "x", 1), ==, 1);
    RT_CHECK_INT(gort_close(sv[0]), ==, 0);
    RT_CHECK_INT(gort_close(sv[1]), ==, 0);
}

static void test_deadline_past_ready_io(void **state)
{
    (void)state;
    RT_RUN_GUARDED(deadline_past_ready_main, NULL, 60);
}

/* Deadlines set, moved and cleared while an operation waits. */
static void deadline_pending_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair_open(sv);
    char buf[8];
    uint64_t t0 = timers_armed();
    struct op r, w;

    /* Set while parked. */
    op_start_parked(&r, sv[0], OP_READ, buf, sizeof buf);
    int64_t d = gort_nanotime() + 30 * MS;
    RT_CHECK_INT(gort_set_deadline(sv[0], GORT_IO_READ, d), ==, 0);
    RT_CHECK_INT(op_wait(&r), ==, -ETIMEDOUT);
    RT_CHECK_INT(r.t_end, >=, d);

    /* Moved into the past while parked: wakes at once. */
    RT_CHECK_INT(gort_set_deadline(sv[0], GORT_IO_READ, 0), ==, 0);
    op_start_parked(&r, sv[0], OP_READ, buf, sizeof buf);
    RT_CHECK_INT(gort_set_deadline(sv[0], GORT_IO_READ, gort_nanotime() - 1),
                 ==, 0);
    RT_CHECK_INT(op_wait(&r), ==, -ETIMEDOUT);

    /* Shortened while parked: 10 s becomes 60 ms. The 5 s bound is a
     * liveness bound: the old deadline would be 10 s. */
    RT_CHECK_INT(gort_set_deadline(sv[0], GORT_IO_READ, 0), ==, 0);
    op_start_parked(&r, sv[0], OP_READ, buf, sizeof buf);
    int64_t t = gort_nanotime();
    RT_CHECK_INT(gort_set_deadline(sv[0], GORT_IO_READ, t + 10 * SEC), ==, 0);
    d = gort_nanotime() + 60 * MS;
    RT_CHECK_INT(gort_set_deadline(sv[0], GORT_IO_READ, d), ==, 0);
    RT_CHECK_INT(timers_armed(), ==, t0 + 1); /* moved, not added */
    RT_CHECK_INT(op_wait(&r), ==, -ETIMEDOUT);
    RT_CHECK_INT(r.t_end, >=, d);
    RT_CHECK_INT(r.t_end - t, <, 5 * SEC);

    /* Extended while parked: 100 ms becomes 300 ms (when the second call
     * came before the first deadline, which a stalled machine may miss). */
    RT_CHECK_INT(gort_set_deadline(sv[0], GORT_IO_READ, 0), ==, 0);
    op_start_parked(&r, sv[0], OP_READ, buf, sizeof buf);
    int64_t d1 = gort_nanotime() + 100 * MS;
    RT_CHECK_INT(gort_set_deadline(sv[0], GORT_IO_READ, d1), ==, 0);
    int64_t d2 = gort_nanotime() + 300 * MS;
    RT_CHECK_INT(gort_set_deadline(sv[0], GORT_IO_READ, d2), ==, 0);
    bool in_time = gort_nanotime() < d1;
    RT_CHECK_INT(op_wait(&r), ==, -ETIMEDOUT);
    if (in_time)
        RT_CHECK_INT(r.t_end, >=, d2);

    /* Cleared while parked: the read waits for data, not for the timer. */
    RT_CHECK_INT(gort_set_deadline(sv[0], GORT_IO_READ, 0), ==, 0);
    op_start_parked(&r, sv[0], OP_READ, buf, sizeof buf);
    RT_CHECK_INT(
        gort_set_deadline(sv[0], GORT_IO_READ, gort_nanotime() + 30 * MS), ==,
        0);
    RT_CHECK_INT(gort_set_deadline(sv[0], GORT_IO_READ, 0), ==, 0);
    /* The timer stays on the heap (a clear costs no heap operation) and
     * fires as a no-op at the old deadline, which takes it off. */
    RT_CHECK_INT(timers_armed(), ==, t0 + 1);
    gort_sleep(80 * MS);
    RT_CHECK_INT(timers_armed(), ==, t0);
    RT_CHECK(!atomic_load(&r.done));
    RT_CHECK_INT(gort_write(sv[1], "abc", 3), ==, 3);
    RT_CHECK_INT(op_wait(&r), ==, 3);

    /* A parked writer and a parked reader on one descriptor, both sides'
     * deadlines moved into the past by one call. */
    uint8_t *big = calloc(1, BIG_WRITE);
    op_start_parked(&w, sv[0], OP_WRITE, big, BIG_WRITE);
    op_start_parked(&r, sv[0], OP_READ, buf, sizeof buf);
    settle_io_waiting(2);
    RT_CHECK_INT(gort_set_deadline(sv[0], GORT_IO_BOTH, gort_nanotime() - 1),
                 ==, 0);
    RT_CHECK_INT(op_wait(&w), ==, -ETIMEDOUT);
    RT_CHECK_INT(op_wait(&r), ==, -ETIMEDOUT);
    free(big);

    RT_CHECK_INT(timers_armed(), ==, t0);
    RT_CHECK_INT(io_waiting(), ==, 0);
    RT_CHECK_INT(gort_close(sv[0]), ==, 0);
    RT_CHECK_INT(gort_close(sv[1]), ==, 0);
}

static void test_deadline_pending(void **state)
{
    (void)state;
    RT_RUN_GUARDED(deadline_pending_main, NULL, 60);
}

/* Many readers, each on its own pair with its own deadline: each fails
 * with -ETIMEDOUT, none before its own deadline. */
#define MANY_DL 200

static void deadline_many_main(void *arg)
{
    (void)arg;
    static int fds[MANY_DL][2];
    static struct op ops[MANY_DL];
    static int64_t dl[MANY_DL];
    static char bufs[MANY_DL][4];
    uint64_t t0 = timers_armed();
    int64_t base = gort_nanotime() + 20 * MS;
    for (int i = 0; i < MANY_DL; i++) {
        pair_open(fds[i]);
        dl[i] = base + (int64_t)((i * 37) % MANY_DL) * 500 * 1000; /* ≤100ms */
        RT_CHECK_INT(gort_set_deadline(fds[i][0], GORT_IO_READ, dl[i]), ==, 0);
        op_start(&ops[i], fds[i][0], OP_READ, bufs[i], sizeof bufs[i]);
    }
    for (int i = 0; i < MANY_DL; i++) {
        RT_CHECK_INT(op_wait(&ops[i]), ==, -ETIMEDOUT);
        RT_CHECK_INT(ops[i].t_end, >=, dl[i]);
    }
    RT_CHECK_INT(timers_armed(), ==, t0);
    RT_CHECK_INT(io_waiting(), ==, 0);
    for (int i = 0; i < MANY_DL; i++) {
        RT_CHECK_INT(gort_close(fds[i][0]), ==, 0);
        RT_CHECK_INT(gort_close(fds[i][1]), ==, 0);
    }
}

static void test_deadline_many(void **state)
{
    (void)state;
    RT_RUN_GUARDED(deadline_many_main, NULL, 60);
}

static void deadline_errors_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair_open(sv);
    RT_CHECK_INT(gort_set_deadline(-1, GORT_IO_READ, 1), ==, -EBADF);
    RT_CHECK_INT(gort_set_deadline(1 << 30, GORT_IO_READ, 1), ==, -EBADF);
    RT_CHECK_INT(gort_set_deadline(sv[0], 0, 1), ==, -EINVAL);
    RT_CHECK_INT(gort_set_deadline(sv[0], GORT_IO_READ, -5), ==, -EINVAL);
    RT_CHECK_INT(gort_fd_open(-1), ==, -EBADF);
    RT_CHECK_INT(gort_close(sv[0]), ==, 0);
    RT_CHECK_INT(gort_close(sv[1]), ==, 0);
}

static void test_deadline_errors(void **state)
{
    (void)state;
    RT_RUN_GUARDED(deadline_errors_main, NULL, 60);
}

/* Outside any goroutine the calls block the thread (poll), deadlines
 * included. Runs on the cmocka thread. */
static void test_thread_io(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(gort_fd_open(sv[0]), sv[0]);
    assert_int_equal(gort_fd_open(sv[1]), sv[1]);
    char buf[8];
    assert_int_equal(gort_write(sv[1], "abc", 3), 3);
    assert_int_equal(gort_read(sv[0], buf, sizeof buf), 3);
    int64_t d = gort_nanotime() + 30 * MS;
    assert_int_equal(gort_set_deadline(sv[0], GORT_IO_READ, d), 0);
    assert_int_equal(gort_read(sv[0], buf, sizeof buf), -ETIMEDOUT);
    assert_true(gort_nanotime() >= d);
    assert_int_equal(gort_close(sv[0]), 0);
    assert_int_equal(gort_close(sv[1]), 0);
}

/* ---- close wakes everyone ------------------------------------------------ */

static void close_wakes_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair_open(sv);
    uint64_t t0 = timers_armed();
    char buf[8];
    uint8_t *big = calloc(1, BIG_WRITE);
    struct op r, w;
    /* The reader also has a deadline far ahead: the close must disarm it. */
    RT_CHECK_INT(
        gort_set_deadline(sv[0], GORT_IO_READ, gort_nanotime() + 60 * SEC), ==,
        0);
    op_start_parked(&r, sv[0], OP_READ, buf, sizeof buf);
    op_start_parked(&w, sv[0], OP_WRITE, big, BIG_WRITE);
    settle_io_waiting(2);
    RT_CHECK_INT(timers_armed(), ==, t0 + 1);

    RT_CHECK_INT(gort_close(sv[0]), ==, 0);
    RT_CHECK_INT(op_wait(&r), ==, -EBADF);
    RT_CHECK_INT(op_wait(&w), ==, -EBADF);
    RT_CHECK_INT(io_waiting(), ==, 0);
    RT_CHECK_INT(timers_armed(), ==, t0);
    /* And later calls on the closed descriptor fail at once. */
    RT_CHECK_INT(gort_read(sv[0], buf, sizeof buf), ==, -EBADF);
    RT_CHECK_INT(gort_write(sv[0], buf, 1), ==, -EBADF);
    RT_CHECK_INT(gort_close(sv[1]), ==, 0);
    free(big);

    /* An accepter, woken by the close of its listener. */
    int l = listener_open(16, NULL);
    struct op a;
    op_start_parked(&a, l, OP_ACCEPT, NULL, 0);
    settle_io_waiting(1);
    RT_CHECK_INT(gort_close(l), ==, 0);
    RT_CHECK_INT(op_wait(&a), ==, -EBADF);
    RT_CHECK_INT(io_waiting(), ==, 0);
}

static void test_close_wakes(void **state)
{
    (void)state;
    RT_RUN_GUARDED(close_wakes_main, NULL, 60);
}

/* gort_close from a thread that is no M (a plain pthread) wakes a parked
 * reader too: the readying path without a P. */
static void *closer_thread(void *arg)
{
    int *box = arg;
    *box = gort_close(*box);
    return NULL;
}

static void join_call(void *arg)
{
    pthread_join(*(pthread_t *)arg, NULL);
}

static void close_from_thread_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair_open(sv);
    char buf[4];
    struct op r;
    op_start_parked(&r, sv[0], OP_READ, buf, sizeof buf);
    int box = sv[0];
    pthread_t t;
    RT_CHECK_INT(pthread_create(&t, NULL, closer_thread, &box), ==, 0);
    gort_blocking(join_call, &t);
    RT_CHECK_INT(box, ==, 0);
    RT_CHECK_INT(op_wait(&r), ==, -EBADF);
    RT_CHECK_INT(io_waiting(), ==, 0);
    RT_CHECK_INT(gort_close(sv[1]), ==, 0);
}

static void test_close_from_thread(void **state)
{
    (void)state;
    RT_RUN_GUARDED(close_from_thread_main, NULL, 60);
}

/* A close racing with the readiness that would wake the reader: the
 * reader gets the byte or -EBADF, never sleeps forever. */
struct race {
    int sv[2];
    _Atomic int go;
    _Atomic int done;
};

static void race_writer(void *arg)
{
    struct race *rc = arg;
    RT_YIELD_UNTIL(atomic_load(&rc->go));
    ssize_t w = gort_write(rc->sv[1], "z", 1);
    RT_CHECK(w == 1 || w == -EPIPE || w == -ECONNRESET);
    atomic_fetch_add(&rc->done, 1);
}

static void race_closer(void *arg)
{
    struct race *rc = arg;
    RT_YIELD_UNTIL(atomic_load(&rc->go));
    RT_CHECK_INT(gort_close(rc->sv[0]), ==, 0);
    atomic_fetch_add(&rc->done, 1);
}

static void close_race_main(void *arg)
{
    (void)arg;
    long iters = rt_scale(1000, 300);
    long got_byte = 0, got_ebadf = 0;
    for (long i = 0; i < iters; i++) {
        struct race rc;
        memset(&rc, 0, sizeof rc);
        pair_open(rc.sv);
        char c;
        struct op r;
        op_start(&r, rc.sv[0], OP_READ, &c, 1);
        if (i % 2)
            rt_wait_state(r.id, "IO wait");
        RT_CHECK(gort_go(race_writer, &rc) > 0);
        RT_CHECK(gort_go(race_closer, &rc) > 0);
        atomic_store(&rc.go, 1);
        int64_t res = op_wait(&r);
        if (res == 1)
            got_byte++;
        else if (res == -EBADF)
            got_ebadf++;
        else
            rt_fail_at(__FILE__, __LINE__, "iteration %ld: read gave %lld", i,
                       (long long)res);
        RT_YIELD_UNTIL(atomic_load(&rc.done) == 2);
        RT_CHECK_INT(gort_close(rc.sv[1]), ==, 0);
    }
    RT_CHECK_INT(got_byte + got_ebadf, ==, iters);
    RT_CHECK_INT(io_waiting(), ==, 0);
}

static void test_close_race(void **state)
{
    (void)state;
    RT_RUN_GUARDED(close_race_main, NULL, 120);
}

/* ---- TCP: accept, connect ------------------------------------------------ */

static void tcp_basic_main(void *arg)
{
    (void)arg;
    int port;
    int l = listener_open(16, &port);
    struct op a;
    op_start_parked(&a, l, OP_ACCEPT, NULL, 0); /* nothing pending */

    int c = gort_socket(AF_INET, SOCK_STREAM, 0);
    RT_CHECK(c >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    RT_CHECK_INT(gort_connect(c, (struct sockaddr *)&sa, sizeof sa), ==, 0);
    int s = (int)op_wait(&a);
    RT_CHECK(s >= 0);

    char buf[16];
    struct op r;
    op_start_parked(&r, s, OP_READ, buf, sizeof buf);
    RT_CHECK_INT(gort_write(c, "ping", 4), ==, 4);
    RT_CHECK_INT(op_wait(&r), ==, 4);
    RT_CHECK(memcmp(buf, "ping", 4) == 0);
    RT_CHECK_INT(gort_write(s, "pong", 4), ==, 4);
    RT_CHECK_INT(read_full(c, buf, 4), ==, 4);
    RT_CHECK(memcmp(buf, "pong", 4) == 0);
    op_start_parked(&r, s, OP_READ, buf, sizeof buf);
    RT_CHECK_INT(gort_close(c), ==, 0);
    RT_CHECK_INT(op_wait(&r), ==, 0); /* end of file */
    RT_CHECK_INT(gort_close(s), ==, 0);

    /* Nobody listens on the port any more: refused. */
    RT_CHECK_INT(gort_close(l), ==, 0);
    c = gort_socket(AF_INET, SOCK_STREAM, 0);
    RT_CHECK(c >= 0);
    RT_CHECK_INT(gort_connect(c, (struct sockaddr *)&sa, sizeof sa), ==,
                 -ECONNREFUSED);
    RT_CHECK_INT(gort_close(c), ==, 0);
    RT_CHECK_INT(io_waiting(), ==, 0);
}

static void test_tcp_basic(void **state)
{
    (void)state;
    RT_RUN_GUARDED(tcp_basic_main, NULL, 60);
}

/* ---- 10,000 concurrent connections through an echo server ---------------
 *
 * The clients run in a child process (this binary, "echo-client PORT N"):
 * each process then holds N descriptors plus a few, within the 20,000 hard
 * limit that both ends in one process would exceed. Client i opens one
 * connection and sends ECHO_ROUNDS messages of ECHO_MSG bytes: a header
 * (i, round) and a payload that is a function of both. After round 0 every
 * client waits for all the others to get there, so all N connections are
 * open at once; the server, one goroutine per connection, checks each
 * message, echoes it, and closes after the last round (so the TIME_WAIT
 * states land on the server's side, not on the client's ephemeral ports).
 * The client checks every echoed byte and then the end of file.
 */
#define ECHO_ROUNDS 3
#define ECHO_MSG 512
#define ECHO_IO_BUDGET (60 * SEC) /* per connection: a liveness bound */

static void echo_fill(uint8_t *m, uint32_t idx, uint32_t round)
{
    memcpy(m, &idx, 4);
    memcpy(m + 4, &round, 4);
    pat_fill(m + 8, ECHO_MSG - 8, ((uint64_t)idx << 32) | round, 0);
}

static long echo_count(void)
{
    /* ASan: 2,000 rather than rt_scale's 500 (these goroutines are cheap
     * enough there); TSan keeps state per fiber: 250. */
    long n = RT_ASAN ? 2000 : rt_scale(10000, 250);
    /* Each process needs n descriptors and a few more. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (long)rl.rlim_cur - 64 < n) {
        n = (long)rl.rlim_cur - 64;
        fprintf(stderr, "echo: RLIMIT_NOFILE %ld: %ld connections\n",
                (long)rl.rlim_cur, n);
    }
    return n;
}

/* Server side. */
static struct {
    long n;
    pid_t child;
    int child_status;
    _Atomic int child_done;
    _Atomic long live, max_live, served;
    _Atomic char *seen;
    gort_waitgroup conns, watcher;
} es;

static void es_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    long live = atomic_fetch_add(&es.live, 1) + 1;
    long m = atomic_load(&es.max_live);
    while (live > m && !atomic_compare_exchange_weak(&es.max_live, &m, live)) {
    }
    RT_CHECK_INT(
        gort_set_deadline(fd, GORT_IO_BOTH, gort_nanotime() + ECHO_IO_BUDGET),
        ==, 0);
    uint8_t *buf = malloc(ECHO_MSG);
    uint32_t r;
    for (r = 0; r < ECHO_ROUNDS; r++) {
        ssize_t got = read_full(fd, buf, ECHO_MSG);
        if (got != ECHO_MSG) {
            rt_fail_at(__FILE__, __LINE__, "server: round %u: read %zd", r,
                       got);
            break;
        }
        uint32_t idx, round;
        memcpy(&idx, buf, 4);
        memcpy(&round, buf + 4, 4);
        if (idx >= (uint32_t)es.n || round != r) {
            rt_fail_at(__FILE__, __LINE__,
                       "server: header (%u, %u) in round %u", idx, round, r);
            break;
        }
        size_t bad =
            pat_mismatch(buf + 8, ECHO_MSG - 8, ((uint64_t)idx << 32) | r, 0);
        if (bad != ECHO_MSG - 8) {
            rt_fail_at(__FILE__, __LINE__,
                       "server: client %u round %u: byte %zu differs", idx, r,
                       bad + 8);
            break;
        }
        if (r == 0 && atomic_exchange(&es.seen[idx], 1) != 0) {
            rt_fail_at(__FILE__, __LINE__, "server: client %u twice", idx);
            break;
        }
        ssize_t w = gort_write(fd, buf, ECHO_MSG);
        if (w != ECHO_MSG) {
            rt_fail_at(__FILE__, __LINE__, "server: round %u: write %zd", r, w);
            break;
        }
    }
    if (r == ECHO_ROUNDS)
        atomic_fetch_add(&es.served, 1);
    free(buf);
    RT_CHECK_INT(gort_close(fd), ==, 0);
    atomic_fetch_sub(&es.live, 1);
    gort_wg_done(&es.conns);
}

static void waitpid_call(void *arg)
{
    (void)arg;
    es.child_status = wait_child(es.child);
}

static void es_watcher(void *arg)
{
    (void)arg;
    gort_blocking(waitpid_call, NULL); /* seconds in a blocking call */
    atomic_store(&es.child_done, 1);
    gort_wg_done(&es.watcher);
}

struct spawn_req {
    char *const *argv;
    const char *gortdebug;
    pid_t pid;
};

static void spawn_call(void *arg)
{
    struct spawn_req *rq = arg;
    rq->pid = spawn_self(rq->argv, rq->gortdebug);
}

static void echo_server_main(void *arg)
{
    (void)arg;
    int port;
    int l = listener_open(4096, &port);
    if (l < 0)
        return;
    char ports[16], ns[24];
    snprintf(ports, sizeof ports, "%d", port);
    snprintf(ns, sizeof ns, "%ld", es.n);
    char *argv[] = {"test_netpoll", "echo-client", ports, ns, NULL};
    struct spawn_req rq = {argv, NULL, 0};
    gort_blocking(spawn_call, &rq);
    es.child = rq.pid;
    if (es.child < 0) {
        rt_fail_at(__FILE__, __LINE__, "spawn: %s", strerror(-es.child));
        gort_close(l);
        return;
    }
    gort_wg_add(&es.watcher, 1);
    RT_CHECK(gort_go(es_watcher, NULL) > 0);

    /* Accept with a short rolling deadline, so that a dead child is
     * noticed instead of waited for. */
    int64_t give_up = gort_nanotime() + ECHO_IO_BUDGET;
    long accepted = 0;
    while (accepted < es.n) {
        gort_set_deadline(l, GORT_IO_READ, gort_nanotime() + 100 * MS);
        int c = gort_accept(l, NULL, NULL);
        if (c >= 0) {
            accepted++;
            gort_wg_add(&es.conns, 1);
            if (gort_go(es_conn, (void *)(intptr_t)c) <= 0) {
                rt_fail_at(__FILE__, __LINE__, "gort_go failed");
                gort_close(c);
                gort_wg_done(&es.conns);
            }
            continue;
        }
        if (c == -ETIMEDOUT && !atomic_load(&es.child_done) &&
            gort_nanotime() < give_up)
            continue;
        rt_fail_at(__FILE__, __LINE__,
                   "accept: %s after %ld connections (child %s)",
                   gort_strerror(c), accepted,
                   atomic_load(&es.child_done) ? "exited" : "running");
        break;
    }
    gort_wg_wait(&es.conns);
    RT_CHECK_INT(gort_close(l), ==, 0);
    if (accepted < es.n)
        kill(es.child, SIGKILL); /* ours: spawned above */
    gort_wg_wait(&es.watcher);

    RT_CHECK(WIFEXITED(es.child_status) && WEXITSTATUS(es.child_status) == 0);
    RT_CHECK_INT(accepted, ==, es.n);
    RT_CHECK_INT(atomic_load(&es.served), ==, es.n);
    RT_CHECK_INT(atomic_load(&es.max_live), ==, es.n); /* all open at once */
    long missing = 0;
    for (long i = 0; i < es.n; i++)
        missing += !atomic_load(&es.seen[i]);
    RT_CHECK_INT(missing, ==, 0);
    struct np_snap s;
    snap(&s);
    RT_CHECK_INT(s.io_waiting, ==, 0);
    fprintf(stderr,
            "echo: %ld connections; server wake-ups: blocking poller %llu, "
            "idle Ms' polls %llu\n",
            es.n, (unsigned long long)s.wake_thread,
            (unsigned long long)s.wake_idle);
}

static void test_echo_10k(void **state)
{
    (void)state;
    memset(&es, 0, sizeof es);
    es.n = echo_count();
    es.seen = calloc((size_t)es.n, 1);
    assert_non_null(es.seen);
    RT_RUN_GUARDED(echo_server_main, NULL, 90);
    free((void *)es.seen);
}

/* Client side (the child process). */
static struct {
    struct sockaddr_in addr;
    long n;
    _Atomic long ok;
    gort_waitgroup all, connected;
} ec;

static void ec_client(void *arg)
{
    uint32_t idx = (uint32_t)(uintptr_t)arg;
    bool at_barrier = false;
    uint8_t *out = malloc(ECHO_MSG), *in = malloc(ECHO_MSG);
    int fd = gort_socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        rt_fail_at(__FILE__, __LINE__, "client %u: socket: %s", idx,
                   gort_strerror(fd));
        goto out;
    }
    gort_set_deadline(fd, GORT_IO_BOTH, gort_nanotime() + ECHO_IO_BUDGET);
    int rc = gort_connect(fd, (struct sockaddr *)&ec.addr, sizeof ec.addr);
    if (rc != 0) {
        rt_fail_at(__FILE__, __LINE__, "client %u: connect: %s", idx,
                   gort_strerror(rc));
        goto out_close;
    }
    uint32_t r;
    for (r = 0; r < ECHO_ROUNDS; r++) {
        echo_fill(out, idx, r);
        ssize_t w = gort_write(fd, out, ECHO_MSG);
        if (w != ECHO_MSG) {
            rt_fail_at(__FILE__, __LINE__, "client %u round %u: write %zd", idx,
                       r, w);
            break;
        }
        ssize_t got = read_full(fd, in, ECHO_MSG);
        if (got != ECHO_MSG) {
            rt_fail_at(__FILE__, __LINE__, "client %u round %u: read %zd", idx,
                       r, got);
            break;
        }
        if (memcmp(in, out, ECHO_MSG) != 0) {
            size_t k = 0;
            while (in[k] == out[k])
                k++;
            rt_fail_at(__FILE__, __LINE__,
                       "client %u round %u: echoed byte %zu differs", idx, r,
                       k);
            break;
        }
        if (r == 0) {
            at_barrier = true;
            gort_wg_done(&ec.connected);
            gort_wg_wait(&ec.connected); /* every connection is open */
        }
    }
    if (r == ECHO_ROUNDS) {
        char c;
        ssize_t e = gort_read(fd, &c, 1);
        if (e == 0)
            atomic_fetch_add(&ec.ok, 1);
        else
            rt_fail_at(__FILE__, __LINE__, "client %u: %zd, not end of file",
                       idx, e);
    }
out_close:
    gort_close(fd);
out:
    if (!at_barrier)
        gort_wg_done(&ec.connected);
    free(out);
    free(in);
    gort_wg_done(&ec.all);
}

static void echo_client_main(void *arg)
{
    (void)arg;
    gort_wg_add(&ec.all, ec.n);
    gort_wg_add(&ec.connected, ec.n);
    for (long i = 0; i < ec.n; i++) {
        if (gort_go(ec_client, (void *)(uintptr_t)i) <= 0) {
            rt_fail_at(__FILE__, __LINE__, "gort_go failed");
            gort_wg_done(&ec.all);
            gort_wg_done(&ec.connected);
        }
    }
    gort_wg_wait(&ec.all);
    RT_CHECK_INT(atomic_load(&ec.ok), ==, ec.n);
    struct np_snap s;
    snap(&s);
    RT_CHECK_INT(s.io_waiting, ==, 0);
    RT_CHECK_INT(s.wake_thread + s.wake_idle, >, 0);
}

static int echo_client(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    ec.addr.sin_family = AF_INET;
    ec.addr.sin_port = htons((uint16_t)atoi(argv[2]));
    ec.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ec.n = atol(argv[3]);
    int rc = gort_main(echo_client_main, NULL);
    if (rc != 0)
        fprintf(stderr, "echo-client: gort_main: %s\n", gort_strerror(rc));
    return rc != 0 || rt_failures() != 0;
}

/* ---- GORTDEBUG=netpollidle=0 --------------------------------------------
 *
 * A child ping-pongs bytes between two goroutines over a socketpair with
 * the idle-M poll path turned off: stats.netpoll_wakeups_idle ("readied by
 * an idle M's own poll") must stay 0 and every wake-up come from the M
 * blocked in the netpoller. "early" registers the pair before gort_main, so
 * the netpoller starts before the scheduler; "late" registers it inside.
 */
static struct {
    int sv[2];
    long rounds;
    gort_waitgroup wg;
} pp;

static void pp_side(void *arg)
{
    int side = (int)(intptr_t)arg;
    int fd = pp.sv[side];
    for (long i = 0; i < pp.rounds; i++) {
        char c = (char)i, got = 0;
        if (side == 0)
            RT_CHECK_INT(gort_write(fd, &c, 1), ==, 1);
        RT_CHECK_INT(gort_read(fd, &got, 1), ==, 1);
        RT_CHECK_INT(got, ==, c);
        if (side == 1)
            RT_CHECK_INT(gort_write(fd, &c, 1), ==, 1);
    }
    gort_wg_done(&pp.wg);
}

static void pp_main(void *arg)
{
    if (arg) { /* late */
        RT_CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, pp.sv), ==, 0);
        RT_CHECK_INT(gort_fd_open(pp.sv[0]), ==, pp.sv[0]);
        RT_CHECK_INT(gort_fd_open(pp.sv[1]), ==, pp.sv[1]);
    }
    gort_gomaxprocs(2);
    gort_wg_add(&pp.wg, 2);
    gort_go(pp_side, (void *)(intptr_t)0);
    gort_go(pp_side, (void *)(intptr_t)1);
    gort_wg_wait(&pp.wg);
    struct np_snap s;
    snap(&s);
    RT_CHECK_INT(s.wake_idle, ==, 0);
    RT_CHECK_INT(s.wake_thread, >, 0);
    RT_CHECK_INT(s.io_waiting, ==, 0);
}

static int pingpong_child(int argc, char **argv)
{
    bool late = argc > 2 && strcmp(argv[2], "late") == 0;
    pp.rounds = rt_scale(2000, 2000);
    if (!late) {
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, pp.sv) != 0 ||
            gort_fd_open(pp.sv[0]) != pp.sv[0] ||
            gort_fd_open(pp.sv[1]) != pp.sv[1]) {
            fprintf(stderr, "pingpong: setup failed\n");
            return 2;
        }
    }
    int rc = gort_main(pp_main, late ? (void *)1 : NULL);
    if (rc != 0)
        fprintf(stderr, "pingpong: gort_main: %s\n", gort_strerror(rc));
    return rc != 0 || rt_failures() != 0;
}

static void run_pingpong(const char *when)
{
    char *argv[] = {"test_netpoll", "pingpong", (char *)when, NULL};
    pid_t pid = spawn_self(argv, "netpollidle=0");
    assert_true(pid > 0);
    int st = wait_child(pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("pingpong %s child: status %#x", when, st);
}

static void test_netpollidle_off_late(void **state)
{
    (void)state;
    run_pingpong("late");
}

/* The netpoller started by gort_fd_open before gort_main: GORTDEBUG must
 * still be honoured. */
static void test_netpollidle_off_early(void **state)
{
    (void)state;
    run_pingpong("early");
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    if (argc > 1 && strcmp(argv[1], "echo-client") == 0)
        return echo_client(argc, argv);
    if (argc > 1 && strcmp(argv[1], "pingpong") == 0)
        return pingpong_child(argc, argv);
    rt_filter_from_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thread_io), /* before the runtime starts */
        cmocka_unit_test(test_read_parks_p1),
        cmocka_unit_test(test_read_parks_p2),
        cmocka_unit_test(test_hup_with_data),
        cmocka_unit_test(test_large_write),
        cmocka_unit_test(test_deadline_read),
        cmocka_unit_test(test_deadline_write),
        cmocka_unit_test(test_deadline_past),
        cmocka_unit_test(test_deadline_past_ready_io),
        cmocka_unit_test(test_deadline_pending),
        cmocka_unit_test(test_deadline_many),
        cmocka_unit_test(test_deadline_errors),
        cmocka_unit_test(test_close_wakes),
        cmocka_unit_test(test_close_from_thread),
        cmocka_unit_test(test_close_race),
        cmocka_unit_test(test_tcp_basic),
        cmocka_unit_test(test_echo_10k),
        cmocka_unit_test(test_netpollidle_off_late),
        cmocka_unit_test(test_netpollidle_off_early),
    };
    return cmocka_run_group_tests_name("netpoll", tests, NULL, NULL);
}
