/* test_prom.c — the Prometheus text writer (server/admin/prom.c): byte-exact
 * families, samples and histograms; escaping of hostile label values and
 * HELP text; invalid names refused; invalid UTF-8 replaced.
 *
 * `test_prom page` prints a page full of hostile values instead, which
 * prom_parse.py reads with the real Prometheus client's parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "admin/prom.h"

static void expect_page(struct prom_writer *w, const char *want)
{
    assert_false(w->out.failed);
    assert_int_equal(w->out.len, strlen(want));
    assert_memory_equal(w->out.buf, want, w->out.len);
}

static void counter_and_gauge(void **state)
{
    (void)state;
    struct prom_writer w;
    prom_init(&w);
    prom_family(&w, "go_goroutines", PROM_GAUGE,
                "Number of goroutines that currently exist.");
    prom_sample_u64(&w, "go_goroutines", NULL, 0, 42);
    struct prom_label p0[] = {{"p", "0"}};
    prom_family(&w, "gort_sched_steals_total", PROM_COUNTER, "Steals.");
    prom_sample_u64(&w, "gort_sched_steals_total", p0, 1, UINT64_MAX);
    expect_page(&w, "# HELP go_goroutines Number of goroutines that "
                    "currently exist.\n"
                    "# TYPE go_goroutines gauge\n"
                    "go_goroutines 42\n"
                    "# HELP gort_sched_steals_total Steals.\n"
                    "# TYPE gort_sched_steals_total counter\n"
                    "gort_sched_steals_total{p=\"0\"} "
                    "18446744073709551615\n");
    prom_free(&w);
}

static void floats_shortest_and_special(void **state)
{
    (void)state;
    struct prom_writer w;
    prom_init(&w);
    prom_sample_f64(&w, "a", NULL, 0, 0.1);
    prom_sample_f64(&w, "b", NULL, 0, 1e-9);
    prom_sample_f64(&w, "c", NULL, 0, 1700000000.5);
    prom_sample_f64(&w, "d", NULL, 0, INFINITY);
    prom_sample_f64(&w, "e", NULL, 0, -INFINITY);
    prom_sample_f64(&w, "f", NULL, 0, NAN);
    prom_sample_f64(&w, "g", NULL, 0, 3);
    prom_sample_f64(&w, "h", NULL, 0, 10);    /* Go's "10", not "1e+01" */
    prom_sample_f64(&w, "i", NULL, 0, 25000); /* "25000", not "2.5e+04" */
    prom_sample_f64(&w, "j", NULL, 0, 1e6);   /* Go's "1e+06" */
    expect_page(&w, "a 0.1\nb 1e-09\nc 1700000000.5\nd +Inf\ne -Inf\n"
                    "f NaN\ng 3\nh 10\ni 25000\nj 1e+06\n");
    prom_free(&w);
}

static void histogram_is_cumulative(void **state)
{
    (void)state;
    struct prom_writer w;
    prom_init(&w);
    const double bounds[] = {0.001, 0.01, 0.1};
    const uint64_t counts[] = {5, 0, 2, 1}; /* last: above 0.1 */
    struct prom_label l[] = {{"route", "GET /"}};
    prom_histogram(&w, "lat_seconds", l, 1, bounds, counts, 3, 0.75);
    expect_page(&w, "lat_seconds_bucket{route=\"GET /\",le=\"0.001\"} 5\n"
                    "lat_seconds_bucket{route=\"GET /\",le=\"0.01\"} 5\n"
                    "lat_seconds_bucket{route=\"GET /\",le=\"0.1\"} 7\n"
                    "lat_seconds_bucket{route=\"GET /\",le=\"+Inf\"} 8\n"
                    "lat_seconds_sum{route=\"GET /\"} 0.75\n"
                    "lat_seconds_count{route=\"GET /\"} 8\n");
    prom_free(&w);
}

static void hostile_values_escaped(void **state)
{
    (void)state;
    struct prom_writer w;
    prom_init(&w);
    struct prom_label l[] = {
        {"route", "GET /a\"b\\c\nd"},
        {"plugin", "bad\xff\xfe utf8 \xc3\xa9 \xe2\x82"},
    };
    prom_family(&w, "x_total", PROM_COUNTER, "line one\nback\\slash \"q\"");
    prom_sample_u64(&w, "x_total", l, 2, 1);
    expect_page(&w, "# HELP x_total line one\\nback\\\\slash \"q\"\n"
                    "# TYPE x_total counter\n"
                    "x_total{route=\"GET /a\\\"b\\\\c\\nd\","
                    "plugin=\"bad\xEF\xBF\xBD\xEF\xBF\xBD utf8 \xc3\xa9 "
                    "\xEF\xBF\xBD\xEF\xBF\xBD\"} 1\n");
    prom_free(&w);
}

static void invalid_names_refused(void **state)
{
    (void)state;
    struct prom_writer w;
    prom_init(&w);
    struct prom_label bad[] = {{"le-x", "1"}};
    prom_family(&w, "9lives", PROM_GAUGE, "x");
    prom_sample_u64(&w, "has space", NULL, 0, 1);
    prom_sample_u64(&w, "ok", bad, 1, 1);
    prom_sample_u64(&w, "ok", NULL, 0, 1);
    assert_int_equal(w.dropped, 3);
    expect_page(&w, "ok 1\n");
    assert_true(prom_name_valid("a:b_c9"));
    assert_false(prom_name_valid(""));
    prom_free(&w);
}

static void grows_past_initial_buffer(void **state)
{
    (void)state;
    struct prom_writer w;
    prom_init(&w);
    char v[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(v, sizeof v, "%d", i);
        struct prom_label l[] = {{"p", v}};
        prom_sample_u64(&w, "gort_p_runq_length", l, 1, (uint64_t)i);
    }
    assert_false(w.out.failed);
    assert_true(w.out.len > 16384);
    assert_non_null(strstr(w.out.buf, "gort_p_runq_length{p=\"4999\"} 4999\n"));
    prom_free(&w);
}

/* A page for prom_parse.py: hostile values in every position. */
static int print_page(void)
{
    struct prom_writer w;
    prom_init(&w);
    struct prom_label l[] = {
        {"route", "GET /q\"uo\\te\nnl"},
        {"plugin", "\xff\xfeinvalid"},
    };
    prom_family(&w, "gort_http_requests_total", PROM_COUNTER,
                "Requests \\ by \"route\"\nand plugin.");
    prom_sample_u64(&w, "gort_http_requests_total", l, 2, 7);
    const double bounds[] = {0.005, 0.5};
    const uint64_t counts[] = {1, 2, 3};
    prom_family(&w, "gort_http_request_duration_seconds", PROM_HISTOGRAM,
                "Request duration.");
    prom_histogram(&w, "gort_http_request_duration_seconds", l, 2, bounds,
                   counts, 2, 1.25);
    prom_family(&w, "process_start_time_seconds", PROM_GAUGE, "Start.");
    prom_sample_f64(&w, "process_start_time_seconds", NULL, 0, 1764855420.25);
    fwrite(w.out.buf, 1, w.out.len, stdout);
    prom_free(&w);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "page") == 0)
        return print_page();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counter_and_gauge),
        cmocka_unit_test(floats_shortest_and_special),
        cmocka_unit_test(histogram_is_cumulative),
        cmocka_unit_test(hostile_values_escaped),
        cmocka_unit_test(invalid_names_refused),
        cmocka_unit_test(grows_past_initial_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
