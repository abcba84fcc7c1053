/* test_plugin_conf — the bundled plugins' configuration parsers alone
 * (plugins/proxy/proxyconf.c, plugins/fanout/fanoutconf.c): what a good
 * file gives, what a bad one is refused with, and the inputs fuzz_conf
 * found (tests/fuzz/corpus/conf/regress_*).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fanoutconf.h"
#include "proxyconf.h"

#define SEC 1000000000LL

static void fanout_clear(struct fanout *fo)
{
    for (int i = 0; i < fo->nup; i++)
        free(fo->up[i].name), free(fo->up[i].url);
    free(fo->pattern);
}

static int fanout_parse(const char *conf, struct fanout *fo, char *err,
                        size_t errlen)
{
    *fo = (struct fanout){.deadline = SEC};
    return fanout_parse_config(fo, conf, err, errlen);
}

static void test_fanout_good(void **state)
{
    (void)state;
    struct fanout fo;
    char err[512];
    assert_int_equal(
        fanout_parse("route  GET /f  # mine\n"
                     "upstream users http://127.0.0.1:1/u\n"
                     "upstream orders http://127.0.0.1:2/o?recent=1\r\n"
                     "deadline 250ms\n",
                     &fo, err, sizeof err),
        0);
    assert_string_equal(err, "");
    assert_string_equal(fo.pattern, "GET /f  ");
    assert_int_equal(fo.nup, 2);
    assert_string_equal(fo.up[1].name, "orders");
    assert_string_equal(fo.up[1].url, "http://127.0.0.1:2/o?recent=1");
    assert_int_equal(fo.deadline, 250 * 1000000LL);
    fanout_clear(&fo);
}

/* The deadline fuzz_conf refused to trust: "nanms" converted NaN to an
 * integer (undefined behaviour; UBSan stopped the fuzzer), and a duration
 * under a nanosecond became a deadline of 0. Both are refused now, naming
 * the line; the bounds themselves still parse. */
static void test_fanout_deadline_regress(void **state)
{
    (void)state;
    static const char *const bad[] = {"nanms",    "NaNs", "-nanus", "0.0001us",
                                      "0.0009us", "infs", "3601s",  "0s"};
    static const struct {
        const char *text;
        int64_t ns;
    } good[] = {{"1us", 1000}, {"0.001us", 1}, {"3600s", 3600 * SEC}};
    char conf[256], err[512];
    struct fanout fo;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(conf, sizeof conf,
                 "upstream a http://x\nupstream b http://y\ndeadline %s\n",
                 bad[i]);
        assert_int_equal(fanout_parse(conf, &fo, err, sizeof err), -EINVAL);
        assert_string_equal(err, "fanout.conf:3: deadline: want a duration "
                                 "(250ms, 2s)");
        fanout_clear(&fo);
    }
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(conf, sizeof conf,
                 "upstream a http://x\nupstream b http://y\ndeadline %s\n",
                 good[i].text);
        assert_int_equal(fanout_parse(conf, &fo, err, sizeof err), 0);
        assert_int_equal(fo.deadline, good[i].ns);
        fanout_clear(&fo);
    }
}

static void test_fanout_refusals(void **state)
{
    (void)state;
    struct fanout fo;
    char err[512];
    assert_int_equal(
        fanout_parse("upstream a http://x\n", &fo, err, sizeof err), -EINVAL);
    assert_string_equal(err, "fanout.conf:2: want two upstream lines");
    fanout_clear(&fo);
    assert_int_equal(fanout_parse("# c\nbogus x\n", &fo, err, sizeof err),
                     -EINVAL);
    assert_string_equal(err, "fanout.conf:2: unknown directive (want route, "
                             "upstream or deadline)");
    fanout_clear(&fo);
}

static void proxy_clear(struct proxy *px)
{
    while (px->routes) {
        struct proxy_route *rt = px->routes;
        px->routes = rt->next;
        free(rt->pattern), free(rt->upstream), free(rt);
    }
}

static void test_proxy(void **state)
{
    (void)state;
    struct proxy px = {.timeout = 60 * SEC, .keepalive = 32};
    char err[1024];
    assert_int_equal(proxy_parse_config(&px,
                                        "timeout 1m30s\n"
                                        "keepalive 0\n"
                                        "GET   example.com/a/ http://h:8 "
                                        "timeout=1.5s # c\n",
                                        err, sizeof err),
                     0);
    assert_string_equal(err, "");
    assert_int_equal(px.timeout, 90 * SEC);
    assert_int_equal(px.keepalive, 0);
    assert_non_null(px.routes);
    assert_string_equal(px.routes->pattern, "GET example.com/a/");
    assert_string_equal(px.routes->upstream, "http://h:8");
    assert_int_equal(px.routes->timeout, 1500000000LL);
    assert_int_equal(px.routes->line, 3);
    proxy_clear(&px);

    assert_int_equal(
        proxy_parse_config(&px, "/ http://h\n/x http://h/p\n", err, sizeof err),
        -EINVAL);
    assert_string_equal(err, "proxy.conf:2: upstream \"http://h/p\": want "
                             "http[s]://HOST[:PORT] without a path (the "
                             "request's path and query are passed through "
                             "unchanged)");
    proxy_clear(&px);
    assert_int_equal(
        proxy_parse_config(&px, "timeout nanms\n", err, sizeof err), -EINVAL);
    assert_string_equal(err, "proxy.conf:1: bad timeout \"nanms\": want a "
                             "duration like 5s or 250ms");
    proxy_clear(&px);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fanout_good),
        cmocka_unit_test(test_fanout_deadline_regress),
        cmocka_unit_test(test_fanout_refusals),
        cmocka_unit_test(test_proxy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
