/* test_schedtrace.c — GORTDEBUG=schedtrace=MS[,scheddetail=1] output.
 *
 * GORTDEBUG is read once, when the runtime starts, so every case runs a
 * child: this binary re-executed as "child", with GORTDEBUG and
 * GOMAXPROCS=3 in its environment, running a small workload (sleepers, a
 * goroutine blocked on a channel, a yielder) for about 300 ms. The parent
 * never starts the runtime; it collects the child's stderr and parses it:
 *  - schedtrace=50: every line is Go's shape,
 *      SCHED <t>ms: gomaxprocs=3 idleprocs=N threads=N spinningthreads=N
 *      needspinning=N idlethreads=N runqueue=N [N N N]
 *    with one run-queue length per P, consistent counts, and timestamps at
 *    least the period apart (a lower bound only);
 *  - scheddetail=1: each SCHED header is followed by one line per P (P0 ..
 *    P2 in order), per M and per G in Go's "  P0: status=…", "  M0: p=…",
 *    "  G1: status=4(sleep) m=…" shapes; the workload's wait reasons show;
 *  - an unknown key is reported and ignored, a malformed value too, and
 *    without GORTDEBUG nothing is printed.
 * The child may exit in the middle of a trace: the last, possibly torn,
 * line or block is not judged.
 */
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rt_test.h"

extern char **environ;

#define MS (1000LL * 1000)

/* ---- the child ----------------------------------------------------------- */

static gort_chan *never;
static _Atomic int stop;

static void sleeper(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop))
        gort_sleep(10 * MS);
}

static void blocked(void *arg)
{
    (void)arg;
    gort_chan_recv(never, NULL); /* forever */
}

static void yielder(void *arg)
{
    (void)arg;
    for (long i = 0; !atomic_load(&stop); i++) {
        gort_yield();
        if (i % 1000 == 0)
            gort_sleep(1 * MS);
    }
}

static void child_main(void *arg)
{
    (void)arg;
    never = gort_chan_make(0, 0);
    gort_go(sleeper, NULL);
    gort_go(sleeper, NULL);
    gort_go(blocked, NULL);
    gort_go(yielder, NULL);
    gort_sleep(300 * MS);
    atomic_store(&stop, 1);
}

static int child(void)
{
    int rc = gort_main(child_main, NULL);
    return rc != 0;
}

/* ---- the parent: run a child, collect its stderr ------------------------- */

struct output {
    char *text;
    size_t len;
    int status;
};

/* Runs the child with GORTDEBUG=gortdebug (NULL: unset) and GOMAXPROCS=3;
 * returns its stderr. Fails the test when the child cannot run or hangs
 * (60 s: a liveness bound for a 300 ms run). */
static void run_child(const char *gortdebug, struct output *out)
{
    memset(out, 0, sizeof *out);
    size_t n = 0;
    while (environ[n])
        n++;
    char **envp = calloc(n + 3, sizeof *envp);
    assert_non_null(envp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "GORTDEBUG=", 10) != 0 &&
            strncmp(environ[i], "GOMAXPROCS=", 11) != 0)
            envp[k++] = environ[i];
    char kv[256];
    if (gortdebug) {
        snprintf(kv, sizeof kv, "GORTDEBUG=%s", gortdebug);
        envp[k++] = kv;
    }
    envp[k++] = "GOMAXPROCS=3";
    envp[k] = NULL;

    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 2);
    char *argv[] = {"test_schedtrace", "child", NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    close(p[1]);
    assert_int_equal(rc, 0);

    size_t cap = 1 << 16;
    out->text = malloc(cap);
    assert_non_null(out->text);
    int64_t give_up = gort_nanotime() + 60 * 1000 * MS;
    for (;;) {
        struct pollfd pfd = {.fd = p[0], .events = POLLIN};
        int64_t left = give_up - gort_nanotime();
        if (left <= 0 || poll(&pfd, 1, (int)(left / MS) + 1) == 0) {
            kill(pid, SIGKILL); /* ours */
            waitpid(pid, NULL, 0);
            close(p[0]);
            fail_msg("child (GORTDEBUG=%s) still running after 60 s",
                     gortdebug ? gortdebug : "unset");
        }
        if (out->len + 4096 > cap) {
            cap *= 2;
            out->text = realloc(out->text, cap);
            assert_non_null(out->text);
        }
        ssize_t r = read(p[0], out->text + out->len, cap - out->len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        out->len += (size_t)r;
    }
    out->text[out->len] = '\0';
    close(p[0]);
    while (waitpid(pid, &out->status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(out->status) || WEXITSTATUS(out->status) != 0)
        fail_msg("child (GORTDEBUG=%s) ended with status %#x; stderr:\n%s",
                 gortdebug ? gortdebug : "unset", out->status, out->text);
}

/* Splits the complete lines (a torn last one is dropped) into an array of
 * pointers into text, which is modified. Returns the count. */
static size_t split_lines(struct output *o, char ***lines)
{
    size_t n = 0, cap = 64;
    char **v = malloc(cap * sizeof *v);
    char *s = o->text;
    for (;;) {
        char *nl = strchr(s, '\n');
        if (!nl)
            break; /* no newline: torn or empty, not judged */
        *nl = '\0';
        if (n == cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
        v[n++] = s;
        s = nl + 1;
    }
    *lines = v;
    return n;
}

static regex_t re_compile(const char *pattern)
{
    regex_t re;
    int rc = regcomp(&re, pattern, REG_EXTENDED);
    if (rc != 0) {
        char msg[128];
        regerror(rc, &re, msg, sizeof msg);
        fail_msg("regcomp(%s): %s", pattern, msg);
    }
    return re;
}

static bool matches(const regex_t *re, const char *s)
{
    return regexec(re, s, 0, NULL, 0) == 0;
}

/* The numbers of a SCHED line, by key; -1 when absent. */
static long field(const char *line, const char *key)
{
    char k[40];
    snprintf(k, sizeof k, " %s=", key);
    const char *p = strstr(line, k);
    return p ? strtol(p + strlen(k), NULL, 10) : -1;
}

static long sched_ms(const char *line)
{
    return strtol(line + strlen("SCHED "), NULL, 10);
}

/* ---- cases -------------------------------------------------------------- */

#define SUMMARY_RE                                                             \
    "^SCHED [0-9]+ms: gomaxprocs=[0-9]+ idleprocs=[0-9]+ threads=[0-9]+ "      \
    "spinningthreads=[0-9]+ needspinning=[0-9]+ idlethreads=[0-9]+ "           \
    "runqueue=[0-9]+ \\[([0-9]+( [0-9]+)*)?\\]$"

/* Checks the counts a SCHED header carries against each other, and its
 * time against the previous header's (period apart at least: the value
 * is truncated to whole ms, hence period - 1). */
static void check_header(const char *line, long *prev_ms, long period)
{
    long gmp = field(line, "gomaxprocs");
    long idle = field(line, "idleprocs");
    long threads = field(line, "threads");
    long spinning = field(line, "spinningthreads");
    long idlethreads = field(line, "idlethreads");
    if (gmp != 3 || idle < 0 || idle > gmp || threads < 1 || spinning < 0 ||
        spinning > threads || idlethreads < 0 || idlethreads > threads)
        fail_msg("inconsistent counts: \"%s\"", line);
    long ms = sched_ms(line);
    if (*prev_ms >= 0 && ms - *prev_ms < period - 1)
        fail_msg("lines %ld ms apart, period %ld ms: \"%s\"", ms - *prev_ms,
                 period, line);
    *prev_ms = ms;
}

static void test_schedtrace_summary(void **state)
{
    (void)state;
    struct output o;
    run_child("schedtrace=50", &o);
    char **lines;
    size_t n = split_lines(&o, &lines);
    regex_t re = re_compile(SUMMARY_RE);
    long prev = -1, count = 0;
    for (size_t i = 0; i < n; i++) {
        if (!matches(&re, lines[i]))
            fail_msg("line %zu does not parse: \"%s\"", i + 1, lines[i]);
        check_header(lines[i], &prev, 50);
        /* One run-queue length per P. */
        const char *b = strchr(lines[i], '[');
        long nums = 0;
        for (const char *c = b + 1; *c && *c != ']'; c++)
            if (*c >= '0' && *c <= '9' && (c[-1] == '[' || c[-1] == ' '))
                nums++;
        if (nums != field(lines[i], "gomaxprocs"))
            fail_msg("%ld queue lengths for gomaxprocs=3: \"%s\"", nums,
                     lines[i]);
        count++;
    }
    /* ~300 ms at one line per 50 ms; 3 is a liveness floor. */
    if (count < 3)
        fail_msg("only %ld SCHED lines in:\n%s", count, o.text);
    regfree(&re);
    free(lines);
    free(o.text);
}

#define DETAIL_HEADER_RE                                                       \
    "^SCHED [0-9]+ms: gomaxprocs=[0-9]+ idleprocs=[0-9]+ threads=[0-9]+ "      \
    "spinningthreads=[0-9]+ needspinning=[0-9]+ idlethreads=[0-9]+ "           \
    "runqueue=[0-9]+( [a-z]+=[^ ]+)*$"
#define P_RE                                                                   \
    "^  P([0-9]+): status=[0-9]+ schedtick=[0-9]+ syscalltick=[0-9]+ "         \
    "m=(-1|nil|[0-9]+) runqsize=[0-9]+ gfreecnt=[0-9]+ timerslen=[0-9]+$"
#define M_RE                                                                   \
    "^  M[0-9]+: p=(-1|nil|[0-9]+) curg=(-1|nil|[0-9]+)( [a-z]+=[^ ]*)*$"
#define G_RE                                                                   \
    "^  G[0-9]+: status=[0-9]+\\(([^)]*)\\) m=(-1|nil|[0-9]+)( [a-z]+=[^ "     \
    "]+)*$"

static void test_schedtrace_detail(void **state)
{
    (void)state;
    struct output o;
    run_child("schedtrace=50,scheddetail=1", &o);
    char **lines;
    size_t n = split_lines(&o, &lines);
    regex_t hdr = re_compile(DETAIL_HEADER_RE), pre = re_compile(P_RE),
            mre = re_compile(M_RE), gre = re_compile(G_RE);
    /* Judge complete blocks only: the last header starts one that may be
     * torn. */
    size_t last = n;
    for (size_t i = n; i-- > 0;)
        if (strncmp(lines[i], "SCHED ", 6) == 0) {
            last = i;
            break;
        }
    long prev = -1, blocks = 0, early = 0, prev_nm = 0;
    bool saw_sleep = false, saw_chan = false;
    size_t i = 0;
    if (n == 0 || strncmp(lines[0], "SCHED ", 6) != 0)
        fail_msg("output does not start with a SCHED line:\n%s", o.text);
    while (i < last) {
        if (!matches(&hdr, lines[i]))
            fail_msg("line %zu is no detail header: \"%s\"", i + 1, lines[i]);
        check_header(lines[i], &prev, 50);
        long gmp = field(lines[i], "gomaxprocs");
        long threads = field(lines[i], "threads");
        i++;
        long np = 0, nm = 0, ng = 0;
        for (; i < n && strncmp(lines[i], "SCHED ", 6) != 0; i++) {
            regmatch_t pm[2];
            if (regexec(&pre, lines[i], 2, pm, 0) == 0) {
                if (nm || ng)
                    fail_msg("P line after M or G lines: \"%s\"", lines[i]);
                if (strtol(lines[i] + pm[1].rm_so, NULL, 10) != np)
                    fail_msg("P line out of order (want P%ld): \"%s\"", np,
                             lines[i]);
                np++;
            } else if (matches(&mre, lines[i])) {
                if (ng)
                    fail_msg("M line after G lines: \"%s\"", lines[i]);
                if (!strstr(lines[i], " spinning=") ||
                    !strstr(lines[i], " blocked="))
                    fail_msg("M line without spinning=/blocked=: \"%s\"",
                             lines[i]);
                nm++;
            } else if (matches(&gre, lines[i])) {
                saw_sleep |= strstr(lines[i], "(sleep)") != NULL;
                saw_chan |= strstr(lines[i], "(chan receive)") != NULL;
                ng++;
            } else {
                fail_msg("line %zu does not parse: \"%s\"", i + 1, lines[i]);
            }
        }
        if (np != gmp)
            fail_msg("block %ld: %ld P lines for gomaxprocs=%ld", blocks + 1,
                     np, gmp);
        /* gort_main indexes symbols before it starts the first goroutine
         * and M: a trace taken that early (slow under ASan on a loaded
         * machine) lists neither. Such leading blocks are not counted. */
        if (nm == 0 && ng == 0 && prev_nm == 0) {
            early++;
            continue;
        }
        /* allm only grows: an M is never freed. */
        if (nm < prev_nm || nm < 1 || nm > threads)
            fail_msg("block %ld: %ld M lines for threads=%ld (previous "
                     "block %ld)",
                     early + blocks + 1, nm, threads, prev_nm);
        prev_nm = nm;
        if (ng < 1)
            fail_msg("block %ld: no G lines", early + blocks + 1);
        blocks++;
    }
    if (blocks < 3)
        fail_msg("only %ld complete SCHED blocks (and %ld before the "
                 "first goroutine) in:\n%s",
                 blocks, early, o.text);
    /* The child's sleepers and its goroutine blocked on a channel. */
    if (!saw_sleep || !saw_chan)
        fail_msg("no G line in \"sleep\" (%d) or \"chan receive\" (%d):\n%s",
                 saw_sleep, saw_chan, o.text);
    regfree(&hdr);
    regfree(&pre);
    regfree(&mre);
    regfree(&gre);
    free(lines);
    free(o.text);
}

static long count_prefix(const struct output *o, const char *prefix)
{
    long n = 0;
    size_t len = strlen(prefix);
    for (const char *s = o->text; s && *s;) {
        if (strncmp(s, prefix, len) == 0)
            n++;
        s = strchr(s, '\n');
        if (s)
            s++;
    }
    return n;
}

/* An unknown key is reported once and the rest still applies. */
static void test_gortdebug_unknown_key(void **state)
{
    (void)state;
    struct output o;
    run_child("bogus=1,schedtrace=50", &o);
    if (!strstr(o.text, "bogus"))
        fail_msg("unknown key not reported:\n%s", o.text);
    if (count_prefix(&o, "SCHED ") < 3)
        fail_msg("schedtrace not applied after an unknown key:\n%s", o.text);
    free(o.text);
}

/* A malformed value is reported and ignored: no trace. */
static void test_gortdebug_bad_value(void **state)
{
    (void)state;
    struct output o;
    run_child("schedtrace=fifty", &o);
    if (!strstr(o.text, "schedtrace"))
        fail_msg("bad value not reported:\n%s", o.text);
    if (count_prefix(&o, "SCHED ") != 0)
        fail_msg("traced with a malformed period:\n%s", o.text);
    free(o.text);
}

static void test_no_gortdebug_silent(void **state)
{
    (void)state;
    struct output o;
    run_child(NULL, &o);
    if (o.len != 0)
        fail_msg("unexpected stderr without GORTDEBUG:\n%s", o.text);
    free(o.text);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "child") == 0)
        return child();
    rt_filter_from_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedtrace_summary),
        cmocka_unit_test(test_schedtrace_detail),
        cmocka_unit_test(test_gortdebug_unknown_key),
        cmocka_unit_test(test_gortdebug_bad_value),
        cmocka_unit_test(test_no_gortdebug_silent),
    };
    return cmocka_run_group_tests_name("schedtrace", tests, NULL, NULL);
}
