/* test_stack.c — goroutine stacks: 100,000 live goroutines on a stock
 * kernel, per-goroutine stack sizes, and stack overflow as a fatal error
 * that names the goroutine, with a guard page and with a canary red zone.
 *
 * An overflow kills the process, so those tests re-execute this binary as a
 * child (`test_stack overflow SIZE LABEL`, `test_stack protect N`) and read
 * its exit status and output. GORT_STACK_GUARDS (runtime/stack.c) sets how
 * many stacks get guard pages; 0 makes every stack canary-protected.
 */
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rt_test.h"
#include "stack.h"

extern char **environ;

static long rss_bytes(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
        rss = 0;
    fclose(f);
    return rss * sysconf(_SC_PAGESIZE);
}

/* ---- 100,000 live goroutines -------------------------------------------- */

static struct live {
    long n;
    gort_chan *gate;
    gort_waitgroup started, finished;
    _Atomic long woke;
    struct gort_stats parked; /* snapshot while all are parked */
    long in_chan_receive;     /* counted by gort_goroutines_each */
    long rss_before, rss_parked;
} lv;

/* Non-static so that its address is a stable start.pc to filter on. */
void stack_live_worker(void *arg);
void stack_live_worker(void *arg)
{
    (void)arg;
    volatile char touch[1024]; /* a goroutine that uses a little stack */
    for (size_t i = 0; i < sizeof touch; i += 64)
        touch[i] = (char)i;
    gort_wg_done(&lv.started);
    RT_CHECK_INT(gort_chan_recv(lv.gate, NULL), ==, 0);
    atomic_fetch_add(&lv.woke, 1);
    gort_wg_done(&lv.finished);
}

static int count_parked_workers(const struct gort_goroutine_info *g, void *arg)
{
    if (g->start.pc == (uintptr_t)stack_live_worker &&
        strcmp(g->state, "chan receive") == 0)
        ++*(long *)arg;
    return 0;
}

static void live_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(2);
    lv.gate = gort_chan_make(0, 0);
    lv.rss_before = rss_bytes();
    gort_wg_add(&lv.started, lv.n);
    gort_wg_add(&lv.finished, lv.n);
    for (long i = 0; i < lv.n; i++) {
        if (gort_go(stack_live_worker, NULL) <= 0) {
            rt_fail_at(__FILE__, __LINE__, "gort_go failed at goroutine %ld",
                       i);
            gort_chan_close(lv.gate);
            for (; i < lv.n; i++) {
                gort_wg_done(&lv.started);
                gort_wg_done(&lv.finished);
            }
            break;
        }
    }
    gort_wg_wait(&lv.started);
    /* Started is not yet parked: wait until every one sits on the gate
     * (the cheap counter first; a dump walk costs a dladdr per frame). */
    struct gort_stats *s = malloc(sizeof *s);
    for (;;) {
        RT_CHECK_INT(gort_stats_read(s), ==, 0);
        if (s->g_waiting >= (uint64_t)lv.n || rt_failures())
            break;
        gort_yield();
    }
    free(s);
    gort_goroutines_each(count_parked_workers, &lv.in_chan_receive);
    RT_CHECK_INT(gort_stats_read(&lv.parked), ==, 0);
    lv.rss_parked = rss_bytes();
    gort_chan_close(lv.gate);
    gort_wg_wait(&lv.finished);
    RT_CHECK_INT(atomic_load(&lv.woke), ==, lv.n);
    gort_chan_free(lv.gate);
}

static void test_100k_live(void **state)
{
    (void)state;
    memset(&lv, 0, sizeof lv);
    lv.n = rt_scale(100000, 2000);
    rt_run(live_main, NULL);
    const struct gort_stats *s = &lv.parked;
    print_message("%ld parked: %llu guarded + %llu canary stacks, "
                  "%llu MiB reserved, RSS %+ld KiB (%ld bytes/goroutine)\n",
                  lv.n, (unsigned long long)s->stacks_guarded,
                  (unsigned long long)s->stacks_canary,
                  (unsigned long long)(s->stack_reserved_bytes >> 20),
                  (lv.rss_parked - lv.rss_before) / 1024,
                  (lv.rss_parked - lv.rss_before) / lv.n);
    assert_int_equal(lv.in_chan_receive, lv.n);
    assert_true(s->stacks_guarded + s->stacks_canary >= (uint64_t)lv.n);
    /* default stacks reserve 64 KiB of address space each */
    assert_true(s->stack_reserved_bytes >= (uint64_t)lv.n * 64 * 1024);
    assert_true(s->g_live >= (uint64_t)lv.n);
    assert_true(s->g_waiting >= (uint64_t)lv.n);
    assert_int_equal(atomic_load(&lv.woke), lv.n);
}

/* ---- stack sizes
 * ---------------------------------------------------------------- */

/* Uses about depth KiB of stack; returns a checksum of every frame so that
 * no frame can be optimised away. */
__attribute__((noinline)) static long deep(long depth)
{
    volatile char buf[1000];
    buf[0] = (char)depth;
    buf[sizeof buf - 1] = (char)(depth >> 3);
    if (depth == 0)
        return 1;
    long below = deep(depth - 1);
    return below + buf[0] + buf[sizeof buf - 1];
}

static long deep_expect(long depth)
{
    long sum = 1;
    for (long d = 1; d <= depth; d++)
        sum += (char)d + (char)(d >> 3);
    return sum;
}

static struct sizes {
    long depth;
    long result;
    _Atomic int done;
} sz[3];

static void sized_worker(void *arg)
{
    struct sizes *z = arg;
    z->result = deep(z->depth);
    atomic_store(&z->done, 1);
}

static void sizes_main(void *arg)
{
    (void)arg;
    /* 2 MiB used of a 4 MiB stack; 40 KiB of the 64 KiB default (more in
     * sanitizer builds, whose frames are deeper); 100 KiB
     * of a 256 KiB stack (sizes other than the default are mapped alone). */
    static const size_t sizes[3] = {4u << 20, 0, 256u << 10};
    static const long depths[3] = {2000, 40, 100};
    for (int i = 0; i < 3; i++) {
        sz[i].depth = depths[i];
        struct gort_go_opts o = {.label = "sized", .stack_size = sizes[i]};
        RT_CHECK_INT(gort_go_opts(sized_worker, &sz[i], &o), >, 0);
    }
    RT_YIELD_UNTIL(atomic_load(&sz[0].done) && atomic_load(&sz[1].done) &&
                   atomic_load(&sz[2].done));
    for (int i = 0; i < 3; i++)
        RT_CHECK_INT(sz[i].result, ==, deep_expect(sz[i].depth));
}

static void test_stack_sizes(void **state)
{
    (void)state;
    memset(sz, 0, sizeof sz);
    rt_run(sizes_main, NULL);
}

/* Many goroutines with custom-size stacks, live at once and then recycled:
 * the one-mapping-per-stack path must also hold up. */
static _Atomic long custom_done;

static void custom_worker(void *arg)
{
    (void)arg;
    volatile char touch[8192];
    touch[0] = 1;
    touch[sizeof touch - 1] = 1;
    gort_yield();
    atomic_fetch_add(&custom_done, 1);
}

static void custom_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(2);
    long n = rt_scale(5000, 1000);
    struct gort_go_opts o = {.label = NULL, .stack_size = 128 * 1024};
    for (long i = 0; i < n; i++)
        RT_CHECK_INT(gort_go_opts(custom_worker, NULL, &o), >, 0);
    RT_YIELD_UNTIL(atomic_load(&custom_done) == n);
}

static void test_many_custom_stacks(void **state)
{
    (void)state;
    atomic_store(&custom_done, 0);
    rt_run(custom_main, NULL);
}

/* ---- child processes
 * ------------------------------------------------------------- */

struct child {
    int status;
    char out[4096], err[16384];
};

/* Runs this binary with args, GORT_STACK_GUARDS=guards (NULL: unset),
 * collecting stdout, stderr and the wait status. */
static void run_child(const char *const args[], const char *guards,
                      struct child *c)
{
    memset(c, 0, sizeof *c);
    int po[2], pe[2];
    assert_int_equal(pipe(po), 0);
    assert_int_equal(pipe(pe), 0);

    size_t nenv = 0;
    while (environ[nenv])
        nenv++;
    char **envp = calloc(nenv + 2, sizeof *envp);
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++)
        if (strncmp(environ[i], "GORT_STACK_GUARDS=", 18) != 0)
            envp[k++] = environ[i];
    char guards_var[64];
    if (guards) {
        snprintf(guards_var, sizeof guards_var, "GORT_STACK_GUARDS=%s", guards);
        envp[k++] = guards_var;
    }

    char *argv[8] = {0};
    argv[0] = "test_stack";
    for (int i = 0; args[i] && i < 6; i++)
        argv[i + 1] = (char *)args[i];

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    posix_spawn_file_actions_addclose(&fa, po[0]);
    posix_spawn_file_actions_addclose(&fa, pe[0]);
    pid_t pid;
    int rc = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    close(po[1]);
    close(pe[1]);
    assert_int_equal(rc, 0);

    size_t no = 0, ne = 0;
    struct pollfd pfd[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0) {
        if (poll(pfd, 2, -1) < 0)
            break;
        for (int i = 0; i < 2; i++) {
            if (pfd[i].fd < 0 || !pfd[i].revents)
                continue;
            char *buf = i == 0 ? c->out : c->err;
            size_t *len = i == 0 ? &no : &ne;
            size_t cap = (i == 0 ? sizeof c->out : sizeof c->err) - 1;
            char scratch[4096];
            ssize_t r = read(pfd[i].fd, scratch, sizeof scratch);
            if (r <= 0) {
                close(pfd[i].fd);
                pfd[i].fd = -1;
                open_fds--;
                continue;
            }
            size_t take = (size_t)r < cap - *len ? (size_t)r : cap - *len;
            memcpy(buf + *len, scratch, take);
            *len += take;
        }
    }
    assert_int_equal(waitpid(pid, &c->status, 0), pid);
}

static void describe_status(int status, char *buf, size_t n)
{
    if (WIFEXITED(status))
        snprintf(buf, n, "exit %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, n, "signal %d", WTERMSIG(status));
    else
        snprintf(buf, n, "status %#x", status);
}

/* ---- child: overflow
 * ---------------------------------------------------------- */

/* In the child: a goroutine recurses without bound, yielding at every level
 * so that each frame is followed by a switch (the canary is checked at
 * switches; a guard page faults on its own). A second goroutine keeps the P
 * busy so that a yield really switches. Reaching the bound means the
 * overflow went unnoticed: say so and exit 0, which the parent reports. */
static _Atomic int child_stop;
static size_t child_stack_size;
static const char *child_label;

__attribute__((noinline)) static long overflow(long depth, long max)
{
    volatile char buf[512];
    buf[0] = (char)depth;
    buf[sizeof buf - 1] = (char)depth;
    gort_yield();
    if (depth >= max)
        return 0;
    return overflow(depth + 1, max) + buf[0] + buf[sizeof buf - 1];
}

static void child_spinner(void *arg)
{
    (void)arg;
    while (!atomic_load(&child_stop))
        gort_yield();
}

static void child_victim(void *arg)
{
    (void)arg;
    char line[64];
    int n = snprintf(line, sizeof line, "victim %lld\n", (long long)gort_id());
    if (write(1, line, (size_t)n) != n)
        _exit(3);
    /* four times the stack in 512-byte frames: far past any bottom */
    size_t size = child_stack_size ? child_stack_size : GORT_STACK_DEFAULT;
    long r = overflow(0, (long)(4 * size / 512));
    atomic_store(&child_stop, 1);
    dprintf(1, "survived %ld\n", r);
}

static void child_overflow_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(1);
    gort_go(child_spinner, NULL);
    struct gort_go_opts o = {.label = child_label,
                             .stack_size = child_stack_size};
    gort_go_opts(child_victim, NULL, &o);
    RT_YIELD_UNTIL(atomic_load(&child_stop));
}

static int child_overflow(const char *size, const char *label)
{
    child_stack_size = (size_t)strtoul(size, NULL, 0);
    child_label = label;
    int rc = gort_main(child_overflow_main, NULL);
    dprintf(1, "gort_main returned %d\n", rc);
    return 0;
}

/* The parent: the child must die (not exit 0), and its stderr must say
 * "stack overflow", name the goroutine id it printed, and carry the label. */
static void expect_overflow(const char *size, const char *guards,
                            const char *label, const char *how)
{
    const char *args[] = {"overflow", size, label, NULL};
    struct child c;
    run_child(args, guards, &c);
    char st[64];
    describe_status(c.status, st, sizeof st);
    print_message("child (stack %s, GORT_STACK_GUARDS=%s): %s\n%s", size,
                  guards ? guards : "unset", st, c.err);
    long long id = 0;
    const char *v = strstr(c.out, "victim ");
    if (!v || sscanf(v, "victim %lld", &id) != 1 || id <= 0)
        fail_msg("child never started the victim; stdout: %s", c.out);
    if (WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0)
        fail_msg("the child survived the overflow (%s); stdout: %s", st, c.out);
    if (!strstr(c.err, "stack overflow"))
        fail_msg("stderr does not say \"stack overflow\": %s", c.err);
    char want[64];
    snprintf(want, sizeof want, "goroutine %lld ", id);
    if (!strstr(c.err, want))
        fail_msg("stderr does not name goroutine %lld: %s", id, c.err);
    if (!strstr(c.err, label))
        fail_msg("stderr does not carry the label \"%s\": %s", label, c.err);
    if (how && !strstr(c.err, how))
        fail_msg("expected the %s check to catch it: %s", how, c.err);
}

static void test_overflow_guard_page(void **state)
{
    (void)state;
    expect_overflow("0", NULL, "overflow-guarded", "guard page");
}

static void test_overflow_canary(void **state)
{
    (void)state;
    expect_overflow("0", "0", "overflow-canary", "red zone");
}

static void test_overflow_custom_size_guard_page(void **state)
{
    (void)state;
    expect_overflow("65536", NULL, "overflow-custom-guarded", "guard page");
}

static void test_overflow_custom_size_canary(void **state)
{
    (void)state;
    expect_overflow("65536", "0", "overflow-custom-canary", "red zone");
}

/* ---- child: which protection
 * ------------------------------------------------- */

/* In the child: n goroutines parked at once, then print the stats. */
static gort_chan *protect_gate;
static gort_waitgroup protect_wg;

static void protect_worker(void *arg)
{
    (void)arg;
    gort_wg_done(&protect_wg);
    gort_chan_recv(protect_gate, NULL);
}

static void protect_main(void *arg)
{
    long n = (long)(intptr_t)arg;
    protect_gate = gort_chan_make(0, 0);
    gort_wg_add(&protect_wg, n);
    for (long i = 0; i < n; i++)
        gort_go(protect_worker, NULL);
    gort_wg_wait(&protect_wg);
    struct gort_stats s;
    if (gort_stats_read(&s) == 0)
        printf("guarded %llu canary %llu\n",
               (unsigned long long)s.stacks_guarded,
               (unsigned long long)s.stacks_canary);
    gort_chan_close(protect_gate);
}

static int child_protect(const char *n)
{
    return gort_main(protect_main, (void *)(intptr_t)atol(n)) == 0 ? 0 : 1;
}

static void expect_protection(const char *guards, long n, long want_guarded)
{
    char ns[32];
    snprintf(ns, sizeof ns, "%ld", n);
    const char *args[] = {"protect", ns, NULL};
    struct child c;
    run_child(args, guards, &c);
    unsigned long long g = 0, k = 0;
    const char *line = strstr(c.out, "guarded ");
    if (!WIFEXITED(c.status) || WEXITSTATUS(c.status) != 0 || !line ||
        sscanf(line, "guarded %llu canary %llu", &g, &k) != 2)
        fail_msg("child failed: %s / %s", c.out, c.err);
    print_message("GORT_STACK_GUARDS=%s, %ld parked: %llu guarded, %llu "
                  "canary\n",
                  guards, n, g, k);
    assert_int_equal(g, want_guarded);
    assert_true(g + k >= (unsigned long long)n);
}

static void test_protection_all_canary(void **state)
{
    (void)state;
    expect_protection("0", 50, 0);
}

static void test_protection_guard_budget(void **state)
{
    (void)state;
    expect_protection("5", 50, 5);
}

int main(int argc, char **argv)
{
    rt_filter_from_env();
    if (argc >= 4 && strcmp(argv[1], "overflow") == 0)
        return child_overflow(argv[2], argv[3]);
    if (argc >= 3 && strcmp(argv[1], "protect") == 0)
        return child_protect(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_100k_live),
        cmocka_unit_test(test_stack_sizes),
        cmocka_unit_test(test_many_custom_stacks),
        cmocka_unit_test(test_overflow_guard_page),
        cmocka_unit_test(test_overflow_canary),
        cmocka_unit_test(test_overflow_custom_size_guard_page),
        cmocka_unit_test(test_overflow_custom_size_canary),
        cmocka_unit_test(test_protection_all_canary),
        cmocka_unit_test(test_protection_guard_budget),
    };
    return cmocka_run_group_tests_name("stack", tests, NULL, NULL);
}
