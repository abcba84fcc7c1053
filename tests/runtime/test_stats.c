/* test_stats.c — the stats snapshot and the goroutine dump.
 *
 * The snapshot is read while goroutines run and is consistent per field,
 * not across fields, so exact equalities are only asserted where nothing
 * else can move (one P, the reading goroutine the only one running).
 *
 * Built with ENABLE_EXPORTS (-rdynamic) so that dladdr can name this
 * file's non-static functions in dumps.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "rt_test.h"

static struct gort_stats *stats_new(void)
{
    struct gort_stats *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    return s;
}

static void stats_read(struct gort_stats *s)
{
    int rc = gort_stats_read(s);
    RT_CHECK_INT(rc, ==, 0);
}

static uint64_t latency_total(const struct gort_stats *s)
{
    uint64_t n = 0;
    for (int b = 0; b < GORT_LAT_BUCKETS; b++)
        n += s->sched_latency[b];
    return n;
}

/* ---- before start ------------------------------------------------------- */

static void test_before_start(void **state)
{
    (void)state;
    struct gort_stats *s = stats_new();
    assert_int_equal(gort_stats_read(s), -EINVAL);
    free(s);
}

/* ---- the snapshot ------------------------------------------------------- */

static _Atomic long sane_done;

static void yield_child(void *arg)
{
    (void)arg;
    for (int i = 0; i < 4; i++)
        gort_yield();
    atomic_fetch_add(&sane_done, 1);
}

static void sane_main(void *arg)
{
    (void)arg;
    struct gort_stats *a = stats_new(), *b = stats_new();
    gort_gomaxprocs(3);
    stats_read(a);
    RT_CHECK_INT(a->gomaxprocs, ==, 3);
    RT_CHECK_INT(a->nprocs, >=, 3);
    RT_CHECK_INT(a->nprocs, <=, GORT_MAXPROCS_CAP);
    for (int i = 0; i < a->nprocs; i++) {
        const struct gort_p_stats *p = &a->procs[i];
        RT_CHECK_INT(p->id, >=, 0);
        RT_CHECK_INT(p->id, <, a->nprocs);
        RT_CHECK_INT(p->runq_len, <=, 256);
        RT_CHECK(p->runnext == 0 || p->runnext == 1);
        RT_CHECK(p->status >= GORT_P_IDLE && p->status <= GORT_P_DEAD);
        if (p->id < 3)
            RT_CHECK_INT(p->status, !=, GORT_P_DEAD);
    }
    RT_CHECK_INT(a->m_total, >=, 1);
    RT_CHECK_INT(a->m_running, >=, 1); /* this goroutine's M */
    RT_CHECK_INT(a->m_spinning, >=, 0);
    RT_CHECK_INT(a->m_idle, >=, 0);
    RT_CHECK_INT(a->g_live, >=, 1);
    RT_CHECK_INT(a->g_running, >=, 1);
    RT_CHECK_INT(a->g_created, >=, a->g_live);
    RT_CHECK_INT(a->stacks_guarded + a->stacks_canary, >=, 1);
    RT_CHECK_INT(a->stack_reserved_bytes, >=, 4096);
    RT_CHECK_INT(a->uptime_ns, >, 0);

    const long n = 5000;
    for (long i = 0; i < n; i++)
        gort_go(yield_child, NULL);
    RT_YIELD_UNTIL(atomic_load(&sane_done) == n);
    gort_sleep(1000 * 1000);
    stats_read(b);
    RT_CHECK_INT(b->g_created - a->g_created, >=, n);
    RT_CHECK_INT(b->ctx_switches, >, a->ctx_switches);
    RT_CHECK_INT(b->uptime_ns, >, a->uptime_ns);
    uint64_t ticks_a = 0, ticks_b = 0, run_a = 0, run_b = 0;
    for (int i = 0; i < a->nprocs; i++) {
        ticks_a += a->procs[i].schedticks;
        run_a += a->procs[i].goroutines_run;
    }
    for (int i = 0; i < b->nprocs; i++) {
        ticks_b += b->procs[i].schedticks;
        run_b += b->procs[i].goroutines_run;
    }
    RT_CHECK_INT(run_b - run_a, >=, n); /* each child started at least once */
    RT_CHECK_INT(ticks_b, >, ticks_a);
    /* Latency is sampled (one in eight transitions): thousands of them
     * leave a non-empty histogram that grew. */
    RT_CHECK_INT(latency_total(b), >, latency_total(a));
    free(a);
    free(b);
}

static void test_snapshot_sane(void **state)
{
    (void)state;
    atomic_store(&sane_done, 0);
    rt_run(sane_main, NULL);
}

/* On one P, with the reading goroutine the only one running, queued work is
 * exactly what was spawned: runnext + ring + global queue. */
static _Atomic long q_done;

void stats_queued_child(void *arg);
void stats_queued_child(void *arg)
{
    (void)arg;
    atomic_fetch_add(&q_done, 1);
}

static int count_runnable_children(const struct gort_goroutine_info *g,
                                   void *arg)
{
    if (g->start.pc == (uintptr_t)stats_queued_child &&
        strcmp(g->state, "runnable") == 0)
        ++*(long *)arg;
    return 0;
}

static uint64_t queued(const struct gort_stats *s)
{
    uint64_t q = s->global_runq_len;
    for (int i = 0; i < s->nprocs; i++)
        q += s->procs[i].runq_len + (uint64_t)s->procs[i].runnext;
    return q;
}

static void queue_lengths_main(void *arg)
{
    (void)arg;
    struct gort_stats *s = stats_new();
    gort_gomaxprocs(1);
    gort_yield(); /* off a retiring P, onto P 0: the only P from here */
    stats_read(s);
    uint64_t base = queued(s);
    RT_CHECK_INT(base, ==, 0);
    static const long counts[] = {1, 100, 300};
    long done = 0;
    for (int c = 0; c < 3; c++) {
        long n = counts[c];
        for (long i = 0; i < n; i++)
            gort_go(stats_queued_child, NULL);
        stats_read(s);
        RT_CHECK_INT(queued(s), ==, n);
        RT_CHECK_INT(s->g_runnable, ==, n);
        const struct gort_p_stats *p0 = NULL;
        for (int i = 0; i < s->nprocs; i++)
            if (s->procs[i].id == 0)
                p0 = &s->procs[i];
        RT_CHECK(p0 != NULL);
        if (p0) {
            RT_CHECK_INT(p0->runnext, ==, 1); /* the newest runs next */
            RT_CHECK_INT(p0->runq_len, ==, n > 257 ? p0->runq_len : n - 1);
            RT_CHECK_INT(p0->runq_len + 1 + s->global_runq_len, ==, n);
        }
        if (n > 257)
            RT_CHECK_INT(s->global_runq_len, >=, 129); /* overflowed */
        long k = 0;
        gort_goroutines_each(count_runnable_children, &k);
        RT_CHECK_INT(k, ==, n);
        done += n;
        RT_YIELD_UNTIL(atomic_load(&q_done) == done);
        stats_read(s);
        RT_CHECK_INT(queued(s), ==, 0);
    }
    free(s);
}

static void test_queue_lengths(void **state)
{
    (void)state;
    atomic_store(&q_done, 0);
    rt_run(queue_lengths_main, NULL);
}

/* After stealing settles, what some Ps stole is what others lost. */
static _Atomic long steal_done;

static void steal_child(void *arg)
{
    (void)arg;
    rt_burn(5000);
    atomic_fetch_add(&steal_done, 1);
}

static void steals_main(void *arg)
{
    (void)arg;
    struct gort_stats *s = stats_new();
    gort_gomaxprocs(4);
    const long n = 20000;
    for (long i = 0; i < n; i++)
        gort_go(steal_child, NULL);
    /* Every goroutine ran, so every steal of one has been counted. */
    RT_YIELD_UNTIL(atomic_load(&steal_done) == n);
    stats_read(s);
    uint64_t in = 0, out = 0;
    for (int i = 0; i < s->nprocs; i++) {
        in += s->procs[i].steals_in;
        out += s->procs[i].steals_out;
    }
    RT_CHECK_INT(in, ==, out);
    RT_CHECK_INT(in, >, 0); /* 4 Ps, 20000 goroutines spawned on one */
    free(s);
}

static void test_steals_balance(void **state)
{
    (void)state;
    atomic_store(&steal_done, 0);
    rt_run(steals_main, NULL);
}

/* ---- goroutines parked on a channel ------------------------------------- */

#define NPARKED 1000
static struct parked {
    gort_chan *gate, *gate2;
    gort_waitgroup started, finished;
    int64_t ids[NPARKED];
    int64_t labelled_id, main_id;
} pk;

void stats_parked_worker(void *arg);
void stats_parked_worker(void *arg)
{
    (void)arg;
    gort_wg_done(&pk.started);
    RT_CHECK_INT(gort_chan_recv(pk.gate, NULL), ==, 0);
    gort_wg_done(&pk.finished);
}

void stats_select_worker(void *arg);
void stats_select_worker(void *arg)
{
    (void)arg;
    struct gort_select_case sc[2] = {
        {.chan = pk.gate, .dir = GORT_SELECT_RECV},
        {.chan = pk.gate2, .dir = GORT_SELECT_RECV},
    };
    gort_wg_done(&pk.started);
    int i = gort_select(sc, 2, 1);
    RT_CHECK(i == 0 || i == 1);
    gort_wg_done(&pk.finished);
}

static int count_parked(const struct gort_goroutine_info *g, void *arg)
{
    long *n = arg;
    if ((g->start.pc == (uintptr_t)stats_parked_worker &&
         strcmp(g->state, "chan receive") == 0) ||
        (g->start.pc == (uintptr_t)stats_select_worker &&
         strcmp(g->state, "select") == 0))
        ++*n;
    return 0;
}

/* Starts NPARKED workers (the last one labelled) plus one in select, and
 * returns once every one of them is parked. */
static void park_workers(void)
{
    pk.main_id = gort_id();
    pk.gate = gort_chan_make(0, 0);
    pk.gate2 = gort_chan_make(0, 0);
    gort_wg_add(&pk.started, NPARKED + 1);
    gort_wg_add(&pk.finished, NPARKED + 1);
    for (int i = 0; i < NPARKED - 1; i++)
        pk.ids[i] = gort_go(stats_parked_worker, NULL);
    struct gort_go_opts o = {.label = "stats-labelled GET /x", .stack_size = 0};
    pk.ids[NPARKED - 1] = gort_go_opts(stats_parked_worker, NULL, &o);
    pk.labelled_id = pk.ids[NPARKED - 1];
    gort_go(stats_select_worker, NULL);
    gort_wg_wait(&pk.started);
    /* One walk per round: a walk symbolizes every parked goroutine. */
    long n = 0;
    RT_YIELD_UNTIL(
        (n = 0, gort_goroutines_each(count_parked, &n), n == NPARKED + 1));
}

static void release_workers(void)
{
    gort_chan_close(pk.gate);
    gort_wg_wait(&pk.finished);
    gort_chan_free(pk.gate);
    gort_chan_free(pk.gate2);
}

static struct live_counts {
    uint64_t base_live, parked_live, parked_waiting, after_live;
} lc;

static void g_live_main(void *arg)
{
    (void)arg;
    struct gort_stats *s = stats_new();
    gort_gomaxprocs(2);
    stats_read(s);
    lc.base_live = s->g_live;
    park_workers();
    stats_read(s);
    lc.parked_live = s->g_live;
    lc.parked_waiting = s->g_waiting;
    release_workers();
    /* Exiting goroutines finish after their last wg_done: wait (bounded,
     * in 10 ms sleeps) for the count to come back down. */
    for (int i = 0; i < 1000; i++) {
        stats_read(s);
        if (s->g_live <= lc.base_live)
            break;
        gort_sleep(10 * 1000 * 1000);
    }
    lc.after_live = s->g_live;
    free(s);
}

static void test_g_live_counts_parked(void **state)
{
    (void)state;
    memset(&pk, 0, sizeof pk);
    rt_run(g_live_main, NULL);
    print_message("g_live: %llu before, %llu parked (%llu waiting), %llu "
                  "after\n",
                  (unsigned long long)lc.base_live,
                  (unsigned long long)lc.parked_live,
                  (unsigned long long)lc.parked_waiting,
                  (unsigned long long)lc.after_live);
    /* NPARKED + 1 parked, plus main; "within reason": a few others may be
     * finishing from earlier tests. */
    assert_true(lc.parked_live >= NPARKED + 2);
    assert_true(lc.parked_live <= lc.base_live + NPARKED + 1 + 16);
    assert_true(lc.parked_waiting >= NPARKED + 1);
    assert_true(lc.parked_waiting <= NPARKED + 1 + 16);
    assert_true(lc.after_live <= lc.base_live);
}

/* ---- gort_goroutines_each ----------------------------------------------- */

static struct each {
    long visited_all, calls_all;
    long calls_stop, visited_stop;
    long parked_workers, labelled;
    struct rt_ginfo lab, self;
    char lab_start_func[64];
    int lab_nframes;
    int lab_frames_name_worker;
    char lab_creator_func[64];
} ea;

static int each_count(const struct gort_goroutine_info *g, void *arg)
{
    (void)arg;
    ea.calls_all++;
    if (g->start.pc == (uintptr_t)stats_parked_worker) {
        ea.parked_workers++;
        if (strcmp(g->state, "chan receive") != 0 ||
            strcmp(g->wait_reason, "chan receive") != 0)
            rt_fail_at(__FILE__, __LINE__,
                       "goroutine %lld: state \"%s\", "
                       "wait reason \"%s\"",
                       (long long)g->id, g->state, g->wait_reason);
        if (g->creator_id != pk.main_id)
            rt_fail_at(__FILE__, __LINE__, "goroutine %lld: creator %lld",
                       (long long)g->id, (long long)g->creator_id);
        if (g->waiting_ns < 0)
            rt_fail_at(__FILE__, __LINE__, "negative waiting_ns");
    }
    if (strncmp(g->label, "stats-labelled", 14) == 0) {
        ea.labelled++;
        snprintf(ea.lab_start_func, sizeof ea.lab_start_func, "%s",
                 g->start.func ? g->start.func : "(null)");
        snprintf(ea.lab_creator_func, sizeof ea.lab_creator_func, "%s",
                 g->creator.func ? g->creator.func : "(null)");
        ea.lab_nframes = g->nframes;
        for (int i = 0; i < g->nframes && i < GORT_DUMP_MAX_FRAMES; i++)
            if (g->frames[i].func &&
                strcmp(g->frames[i].func, "stats_parked_worker") == 0)
                ea.lab_frames_name_worker = 1;
    }
    return 0;
}

static int each_stop_at_3(const struct gort_goroutine_info *g, void *arg)
{
    (void)g;
    (void)arg;
    return ++ea.calls_stop == 3;
}

static void each_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(2);
    park_workers();
    ea.visited_all = gort_goroutines_each(each_count, NULL);
    ea.visited_stop = gort_goroutines_each(each_stop_at_3, NULL);
    RT_CHECK(rt_ginfo(pk.labelled_id, &ea.lab));
    RT_CHECK(rt_ginfo(gort_id(), &ea.self));
    release_workers();
}

static void test_goroutines_each(void **state)
{
    (void)state;
    memset(&pk, 0, sizeof pk);
    memset(&ea, 0, sizeof ea);
    rt_run(each_main, NULL);
    assert_int_equal(ea.visited_all, ea.calls_all);
    assert_true(ea.visited_all >= NPARKED + 2);
    assert_int_equal(ea.parked_workers, NPARKED);
    assert_int_equal(ea.labelled, 1);
    /* stopping early: the callback ran three times, three were visited */
    assert_int_equal(ea.calls_stop, 3);
    assert_int_equal(ea.visited_stop, 3);

    assert_string_equal(ea.lab.label, "stats-labelled GET /x");
    assert_string_equal(ea.lab.state, "chan receive");
    assert_string_equal(ea.lab.wait_reason, "chan receive");
    assert_int_equal(ea.lab.creator_id, pk.main_id);
    assert_true(ea.lab.start_pc == (uintptr_t)stats_parked_worker);
    assert_string_equal(ea.lab_start_func, "stats_parked_worker");
    /* A parked goroutine has a backtrace, and it passes through the
     * function the goroutine runs. */
    assert_true(ea.lab_nframes > 0);
    assert_true(ea.lab_frames_name_worker);

    assert_string_equal(ea.self.state, "running");
    assert_string_equal(ea.self.wait_reason, "");
    assert_int_equal(ea.self.waiting_ns, 0);
}

/* A label longer than the runtime keeps is cut, never overrun. */
static struct rt_ginfo long_label_info;
static _Atomic int long_label_release, long_label_done;

static void long_label_child(void *arg)
{
    (void)arg;
    RT_YIELD_UNTIL(atomic_load(&long_label_release));
    atomic_store(&long_label_done, 1);
}

static char long_label[400];

static void long_label_main(void *arg)
{
    (void)arg;
    for (size_t i = 0; i < sizeof long_label - 1; i++)
        long_label[i] = (char)('a' + i % 26);
    struct gort_go_opts o = {.label = long_label, .stack_size = 0};
    int64_t id = gort_go_opts(long_label_child, NULL, &o);
    RT_CHECK(rt_ginfo(id, &long_label_info));
    atomic_store(&long_label_release, 1);
    RT_YIELD_UNTIL(atomic_load(&long_label_done));
}

static void test_long_label(void **state)
{
    (void)state;
    rt_run(long_label_main, NULL);
    size_t n = strlen(long_label_info.label);
    assert_true(n >= 32);
    assert_memory_equal(long_label_info.label, long_label, n);
}

/* ---- gort_dump_text
 * ------------------------------------------------------------ */

static char *dump_buf;
static long dump_ret;

static void dump_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(2);
    park_workers();
    int fd = memfd_create("gort-dump", 0);
    RT_CHECK(fd >= 0);
    if (fd >= 0) {
        dump_ret = gort_dump_text(fd);
        off_t len = lseek(fd, 0, SEEK_END);
        dump_buf = calloc(1, (size_t)len + 1);
        if (pread(fd, dump_buf, (size_t)len, 0) != len)
            RT_CHECK(!"pread");
        close(fd);
    }
    release_workers();
}

/* The text block of goroutine id: from its header to the next one. */
static char *dump_block(const char *text, int64_t id, char *out, size_t n)
{
    char head[64];
    snprintf(head, sizeof head, "goroutine %lld [", (long long)id);
    const char *p = text;
    while ((p = strstr(p, head)) && p != text && p[-1] != '\n')
        p++;
    if (!p)
        return NULL;
    const char *end = strstr(p + 1, "\ngoroutine ");
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len >= n)
        len = n - 1;
    memcpy(out, p, len);
    out[len] = '\0';
    return out;
}

static void test_dump_text(void **state)
{
    (void)state;
    memset(&pk, 0, sizeof pk);
    dump_buf = NULL;
    rt_run(dump_main, NULL);
    assert_non_null(dump_buf);

    /* One header per goroutine written. */
    long headers = 0;
    for (const char *p = dump_buf; (p = strstr(p, "goroutine ")); p++)
        if (p == dump_buf || p[-1] == '\n')
            headers++;
    assert_true(dump_ret >= NPARKED + 2);
    assert_int_equal(headers, dump_ret);

    char block[4096], want[128];
    /* An unlabelled parked goroutine, exactly Go's header. */
    assert_non_null(dump_block(dump_buf, pk.ids[0], block, sizeof block));
    snprintf(want, sizeof want, "goroutine %lld [chan receive]:\n",
             (long long)pk.ids[0]);
    if (strncmp(block, want, strlen(want)) != 0)
        fail_msg("want \"%s\", block:\n%s", want, block);
    snprintf(want, sizeof want, "created by ");
    assert_non_null(strstr(block, want));
    snprintf(want, sizeof want, " in goroutine %lld\n", (long long)pk.main_id);
    if (!strstr(block, want))
        fail_msg("no \"%s\" in:\n%s", want, block);
    if (!strstr(block, "stats_parked_worker"))
        fail_msg("the backtrace does not name the worker:\n%s", block);

    /* The labelled one carries its label on the header line. */
    assert_non_null(dump_block(dump_buf, pk.labelled_id, block, sizeof block));
    snprintf(want, sizeof want, "goroutine %lld [chan receive]",
             (long long)pk.labelled_id);
    if (strncmp(block, want, strlen(want)) != 0)
        fail_msg("want \"%s\", block:\n%s", want, block);
    char *eol = strchr(block, '\n');
    assert_non_null(eol);
    *eol = '\0';
    if (!strstr(block, "stats-labelled GET /x"))
        fail_msg("label missing from header: %s", block);

    /* The dumping goroutine is running; the select one says so. */
    assert_non_null(dump_block(dump_buf, pk.main_id, block, sizeof block));
    /* "[running" and not "[running]": sysmon may append a note such as
     * ", ran over 10 ms without yielding" to a long-running goroutine. */
    snprintf(want, sizeof want, "goroutine %lld [running",
             (long long)pk.main_id);
    if (strncmp(block, want, strlen(want)) != 0)
        fail_msg("want \"%s\", block:\n%s", want, block);
    const char *sel = strstr(dump_buf, " [select");
    assert_non_null(sel);
    if (strncmp(sel, " [select]:\n", 11) != 0)
        fail_msg("select header: %.80s", sel);
    free(dump_buf);
}

int main(void)
{
    rt_filter_from_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_before_start), /* must stay first */
        cmocka_unit_test(test_snapshot_sane),
        cmocka_unit_test(test_queue_lengths),
        cmocka_unit_test(test_steals_balance),
        cmocka_unit_test(test_g_live_counts_parked),
        cmocka_unit_test(test_goroutines_each),
        cmocka_unit_test(test_long_label),
        cmocka_unit_test(test_dump_text),
    };
    return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
