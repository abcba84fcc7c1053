/* test_metrics.c — gortd's /metrics families (server/admin/metrics.c) from
 * fixed snapshots, and this process from /proc (procfs.c).
 *
 * `test_metrics page` prints the page of the live runtime, this process and
 * a fixed HTTP snapshot; metrics_parse.py reads it with the real Prometheus
 * client parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin/metrics.h"
#include "gort/gort.h"

static void has_line(const struct prom_writer *w, const char *line)
{
    char want[512];
    snprintf(want, sizeof want, "\n%s\n", line);
    char *page = strndup(w->out.buf, w->out.len);
    assert_non_null(page);
    if (!strstr(page, want))
        fail_msg("no line \"%s\" in:\n%s", line, page);
    free(page);
}

/* The page does not hold text anywhere (it is not NUL-terminated). */
static void lacks(const struct prom_writer *w, const char *text)
{
    char *page = strndup(w->out.buf, w->out.len);
    assert_non_null(page);
    if (strstr(page, text))
        fail_msg("\"%s\" in:\n%s", text, page);
    free(page);
}

static void fixed_snapshot(void **state)
{
    (void)state;
    struct gort_stats rt = {.gomaxprocs = 2,
                            .nprocs = 3,
                            .g_live = 17,
                            .global_runq_len = 4,
                            .m_running = 2,
                            .g_waiting = 9,
                            .long_running = 1,
                            .netpoll_wakeups_thread = 70,
                            .netpoll_wakeups_idle = 30,
                            .sends_batched = 120,
                            .send_batches = 8,
                            .stacks_guarded = 16,
                            .stacks_canary = 1};
    rt.procs[0] = (struct gort_p_stats){.id = 0,
                                        .status = GORT_P_RUNNING,
                                        .runq_len = 5,
                                        .steals_in = 11,
                                        .idle_ns = 1500000000};
    rt.procs[1] = (struct gort_p_stats){.id = 1, .status = GORT_P_IDLE};
    rt.procs[2] =
        (struct gort_p_stats){.id = 2, .status = GORT_P_DEAD, .runq_len = 99};
    rt.sched_latency[0] = 3;                    /* < 128 ns */
    rt.sched_latency[2] = 2;                    /* 256..512 ns */
    rt.sched_latency[GORT_LAT_BUCKETS - 1] = 1; /* beyond the last bound */
    struct httpd_stats http = {.conns_open = 12,
                               .conns_idle = 10,
                               .conns_total = 40,
                               .in_flight = 2,
                               .by_class = {0, 0, 100, 3, 7, 1}};
    struct proc_self proc = {.cpu_seconds = 1.25,
                             .rss_bytes = 4096,
                             .open_fds = 20,
                             .max_fds = 1024,
                             .threads = 6,
                             .start_time_sec = 1764855420.5};
    struct metrics_source src = {.rt = &rt, .http = &http, .proc = &proc};
    struct prom_writer w;
    prom_init(&w);
    metrics_write(&w, &src);
    assert_false(w.out.failed);
    assert_int_equal(w.dropped, 0);
    has_line(&w, "go_goroutines 17");
    has_line(&w, "go_threads 6");
    has_line(&w, "go_sched_gomaxprocs_threads 2");
    has_line(&w, "# TYPE go_sched_latencies_seconds histogram");
    has_line(&w, "go_sched_latencies_seconds_bucket{le=\"1.28e-07\"} 3");
    has_line(&w, "go_sched_latencies_seconds_bucket{le=\"5.12e-07\"} 5");
    has_line(&w, "go_sched_latencies_seconds_bucket{le=\"+Inf\"} 6");
    has_line(&w, "go_sched_latencies_seconds_count 6");
    has_line(&w, "gort_sched_p_runq_length{p=\"0\"} 5");
    has_line(&w, "gort_sched_p_runq_length{p=\"1\"} 0");
    has_line(&w, "gort_sched_p_steals_total{p=\"0\"} 11");
    has_line(&w, "gort_sched_p_idle_seconds_total{p=\"0\"} 1.5");
    lacks(&w, "p=\"2\""); /* dead Ps are not shown */
    has_line(&w, "gort_sched_global_runq_length 4");
    has_line(&w, "gort_sched_threads{state=\"running\"} 2");
    has_line(&w, "gort_goroutines{state=\"waiting\"} 9");
    has_line(&w, "gort_netpoll_wakeups_total{path=\"thread\"} 70");
    has_line(&w, "gort_netpoll_sends_batched_total 120");
    has_line(&w, "gort_netpoll_send_batches_total 8");
    has_line(&w, "gort_stacks{protection=\"canary\"} 1");
    has_line(&w, "gort_http_connections{state=\"idle\"} 10");
    has_line(&w, "gort_http_responses_total{code=\"2xx\"} 100");
    has_line(&w, "gort_http_responses_total{code=\"5xx\"} 1");
    has_line(&w, "gort_http_requests_in_flight 2");
    has_line(&w, "process_cpu_seconds_total 1.25");
    has_line(&w, "process_start_time_seconds 1764855420.5");
    has_line(&w, "process_max_fds 1024");
    prom_free(&w);
}

/* The buffer budget's families and the evictions at max_conns; no budget
 * (limit 0), no budget families. */
static void limits_families(void **state)
{
    (void)state;
    struct httpd_stats http = {.conns_evicted = 3,
                               .buffer_bytes = 8192,
                               .buffer_limit = 1 << 20,
                               .buffer_refused = 2};
    struct metrics_source src = {.http = &http};
    struct prom_writer w;
    prom_init(&w);
    metrics_write(&w, &src);
    has_line(&w, "# TYPE gort_http_connections_evicted_total counter");
    has_line(&w, "gort_http_connections_evicted_total 3");
    has_line(&w, "# TYPE gort_http_request_buffer_bytes gauge");
    has_line(&w, "gort_http_request_buffer_bytes 8192");
    has_line(&w, "# TYPE gort_http_request_buffer_limit_bytes gauge");
    has_line(&w, "gort_http_request_buffer_limit_bytes 1048576");
    has_line(&w, "# TYPE gort_http_request_buffer_refusals_total counter");
    has_line(&w, "gort_http_request_buffer_refusals_total 2");
    prom_free(&w);

    http.buffer_limit = 0;
    prom_init(&w);
    metrics_write(&w, &src);
    has_line(&w, "gort_http_connections_evicted_total 3");
    lacks(&w, "gort_http_request_buffer");
    prom_free(&w);
}

static void stat_parse_hostile_comm(void **state)
{
    (void)state;
    /* A command name with spaces and parentheses: fields count from the
     * last ')'. utime 250, stime 50 ticks; 7 threads; start 1000 ticks after
     * boot; vsize 8 MiB; rss 300 pages. */
    const char *text =
        "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 500 0 0 0 250 50 0 0 "
        "20 0 7 0 1000 8388608 300 18446744073709551615 1 1 0 0 0 0 0\n";
    struct proc_self p = {0};
    assert_int_equal(proc_stat_parse(text, 100, 4096, 1700000000, &p), 0);
    assert_true(p.cpu_seconds > 2.99 && p.cpu_seconds < 3.01);
    assert_int_equal(p.threads, 7);
    assert_true(p.start_time_sec > 1700000009.99 &&
                p.start_time_sec < 1700000010.01);
    assert_int_equal(p.vsize_bytes, 8388608);
    assert_int_equal(p.rss_bytes, 300 * 4096);
    assert_int_equal(proc_stat_parse("garbage", 100, 4096, 0, &p), -EINVAL);
    assert_int_equal(proc_stat_parse("1 (x) S 1 2", 100, 4096, 0, &p), -EINVAL);
}

static void proc_self_is_this_process(void **state)
{
    (void)state;
    struct proc_self p;
    assert_int_equal(proc_self_read(&p), 0);
    assert_true(p.open_fds >= 3); /* stdin, stdout, stderr at least */
    assert_true(p.rss_bytes > 0);
    assert_true(p.threads >= 1);
    double now = (double)time(NULL);
    assert_true(p.start_time_sec > now - 3600 && p.start_time_sec <= now + 1);
    int fd = dup(1);
    struct proc_self q;
    assert_int_equal(proc_self_read(&q), 0);
    assert_int_equal(q.open_fds, p.open_fds + 1);
    close(fd);
}

static void noop(void *arg)
{
    (void)arg;
}

/* The live runtime's page for metrics_parse.py. */
static int print_page(void)
{
    for (int i = 0; i < 10; i++)
        gort_go(noop, NULL);
    struct gort_stats rt;
    if (gort_stats_read(&rt) != 0)
        return 1;
    struct httpd_stats http = {.conns_open = 3, .by_class = {0, 0, 5}};
    struct proc_self proc;
    if (proc_self_read(&proc) != 0)
        return 1;
    struct metrics_source src = {.rt = &rt, .http = &http, .proc = &proc};
    struct prom_writer w;
    prom_init(&w);
    metrics_write(&w, &src);
    fwrite(w.out.buf, 1, w.out.len, stdout);
    prom_free(&w);
    return w.out.failed;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "page") == 0)
        return print_page();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixed_snapshot),
        cmocka_unit_test(limits_families),
        cmocka_unit_test(stat_parse_hostile_comm),
        cmocka_unit_test(proc_self_is_this_process),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
