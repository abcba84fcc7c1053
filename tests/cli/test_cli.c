/* test_cli.c — what gortd and gortctl share: Go-style flags and
 * durations, control addresses and the loopback rule, status names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/flag.h"
#include "cli/duration.h"
#include "cli/addr.h"
#include "cli/grpc.h"

/* ---- durations ---------------------------------------------------------- */

static void duration_parse_go_syntax(void **state)
{
    (void)state;
    const struct {
        const char *s;
        int64_t ns;
    } ok[] = {
        {"0", 0},
        {"1ns", 1},
        {"1.5us", 1500},
        {"1.5\xc2\xb5s", 1500},
        {"300ms", 300000000},
        {"0.1s", 100000000},
        {"1.5s", 1500000000},
        {"2m", INT64_C(120000000000)},
        {"1h2m3s", INT64_C(3723000000000)},
        {"-1.5s", -1500000000},
        {".5s", 500000000},
    };
    const char *bad[] = {"",    "1",    "s",   "1x",
                         "1.5", "--1s", "1s2", "99999999999h"};
    int64_t ns;

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(cli_duration_parse(ok[i].s, &ns), 0);
        assert_int_equal(ns, ok[i].ns);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(cli_duration_parse(bad[i], &ns), -1);
}

static void duration_format_go_syntax(void **state)
{
    (void)state;
    const struct {
        int64_t ns;
        const char *s;
    } cases[] = {
        {0, "0s"},
        {999, "999ns"},
        {1500, "1.5\xc2\xb5s"},
        {1000000, "1ms"},
        {1234567, "1.234567ms"},
        {1500000000, "1.5s"},
        {INT64_C(61000000000), "1m1s"},
        {INT64_C(3723500000000), "1h2m3.5s"},
        {INT64_C(3600000000000), "1h0m0s"},
        {-1500000, "-1.5ms"},
    };
    char buf[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cli_duration_format(cases[i].ns, buf, sizeof buf);
        assert_string_equal(buf, cases[i].s);
    }
}

/* ---- flags -------------------------------------------------------------- */

struct opts {
    const char *addr;
    int json;
    long n;
    int64_t timeout;
    int n_seen;
};

static int parse(struct opts *o, int argc, char **argv, char *err)
{
    const struct cli_flag flags[] = {
        {.name = "addr",
         .kind = CLI_FLAG_STRING,
         .value = &o->addr,
         .usage = "`address` to dial"},
        {.name = "json",
         .kind = CLI_FLAG_BOOL,
         .value = &o->json,
         .usage = "JSON output"},
        {.name = "n",
         .kind = CLI_FLAG_INT,
         .value = &o->n,
         .usage = "count",
         .seen = &o->n_seen},
        {.name = "timeout",
         .kind = CLI_FLAG_DURATION,
         .value = &o->timeout,
         .usage = "deadline"},
    };
    return cli_flags_parse(flags, 4, argc, argv, 1, err, 256);
}

static void flags_go_forms(void **state)
{
    (void)state;
    char err[256];
    struct opts o = {"def", 0, 0, 0, 0};
    char *argv[] = {"x", "-addr=unix:/a",  "--json", "-n",
                    "7", "--timeout=1.5s", "stats",  "-json",
                    NULL};

    assert_int_equal(parse(&o, 8, argv, err), 6); /* stops at the command */
    assert_string_equal(o.addr, "unix:/a");
    assert_int_equal(o.json, 1);
    assert_int_equal(o.n, 7);
    assert_int_equal(o.n_seen, 1);
    assert_int_equal(o.timeout, 1500000000);

    char *argv2[] = {"x", "-json=false", "--", "-n", NULL};
    o.json = 1;
    assert_int_equal(parse(&o, 4, argv2, err), 3);
    assert_int_equal(o.json, 0);
}

static void flags_errors(void **state)
{
    (void)state;
    char err[256];
    struct opts o = {0};
    char *unknown[] = {"x", "-bogus", NULL};
    char *missing[] = {"x", "-n", NULL};
    char *badint[] = {"x", "-n=seven", NULL};
    char *baddur[] = {"x", "-timeout", "5", NULL};
    char *help[] = {"x", "-addr", "a", "--help", NULL};
    char *h[] = {"x", "-h", NULL};

    assert_int_equal(parse(&o, 2, unknown, err), CLI_FLAGS_ERROR);
    assert_string_equal(err, "flag provided but not defined: -bogus");
    assert_int_equal(parse(&o, 2, missing, err), CLI_FLAGS_ERROR);
    assert_string_equal(err, "flag needs an argument: -n");
    assert_int_equal(parse(&o, 2, badint, err), CLI_FLAGS_ERROR);
    assert_string_equal(err,
                        "invalid value \"seven\" for flag -n: parse error");
    assert_int_equal(parse(&o, 3, baddur, err), CLI_FLAGS_ERROR);
    assert_int_equal(parse(&o, 4, help, err), CLI_FLAGS_HELP);
    assert_int_equal(parse(&o, 2, h, err), CLI_FLAGS_HELP);
}

/* A repeated flag: the first use replaces the default, each use appends,
 * and one use too many is an error naming the flag. */
static void flags_strings_repeat(void **state)
{
    (void)state;
    char err[256];
    struct cli_strings l = {.v = {":8080"}, .n = 1};
    const struct cli_flag f[] = {
        {.name = "listen", .kind = CLI_FLAG_STRINGS, .value = &l},
    };
    char *none[] = {"x", NULL};
    char *two[] = {"x", "-listen", "a:1", "--listen=b:2", NULL};
    assert_int_equal(cli_flags_parse(f, 1, 1, none, 1, err, sizeof err), 1);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0], ":8080");
    assert_int_equal(cli_flags_parse(f, 1, 4, two, 1, err, sizeof err), 4);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0], "a:1");
    assert_string_equal(l.v[1], "b:2");
    char *many[2 + 2 * CLI_STRINGS_MAX];
    many[0] = "x";
    for (int i = 0; i <= CLI_STRINGS_MAX; i++)
        many[1 + i] = "-listen=c:3";
    struct cli_strings m = {0};
    const struct cli_flag g[] = {
        {.name = "listen", .kind = CLI_FLAG_STRINGS, .value = &m},
    };
    assert_int_equal(
        cli_flags_parse(g, 1, 2 + CLI_STRINGS_MAX, many, 1, err, sizeof err),
        CLI_FLAGS_ERROR);
    assert_string_equal(err, "flag -listen given more than 16 times");
}

static void flags_help_layout(void **state)
{
    (void)state;
    const char *addr = "unix:/run/g.sock";
    int64_t timeout = 5000000000;
    int json = 0;
    const struct cli_flag flags[] = {
        {.name = "addr",
         .kind = CLI_FLAG_STRING,
         .value = &addr,
         .usage = "the `address` to dial"},
        {.name = "json",
         .kind = CLI_FLAG_BOOL,
         .value = &json,
         .usage = "print JSON"},
        {.name = "timeout",
         .kind = CLI_FLAG_DURATION,
         .value = &timeout,
         .usage = "deadline of each call"},
    };
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cli_flags_print(f, flags, 3);
    fclose(f);
    assert_string_equal(
        buf, "  -addr address\n    \tthe address to dial (default "
             "\"unix:/run/g.sock\")\n"
             "  -json\n    \tprint JSON\n"
             "  -timeout duration\n    \tdeadline of each call (default 5s)\n");
    free(buf);
}

/* The help shows the default a flag had before parsing, not what was
 * typed: a usage printed for a bad value showed the bad value as the
 * default (Go keeps DefValue for this). */
static void flags_help_keeps_defaults(void **state)
{
    (void)state;
    const char *mode = "epoll";
    long n = 3;
    const struct cli_flag flags[] = {
        {.name = "mode", .kind = CLI_FLAG_STRING, .value = &mode, .usage = "m"},
        {.name = "n", .kind = CLI_FLAG_INT, .value = &n, .usage = "n"},
    };
    char *argv[] = {"prog", "-mode", "kqueue", "-n", "7", NULL};
    char err[256];
    assert_int_equal(cli_flags_parse(flags, 2, 5, argv, 1, err, sizeof err), 5);
    assert_string_equal(mode, "kqueue");
    assert_int_equal(n, 7);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cli_flags_print(f, flags, 2);
    fclose(f);
    assert_string_equal(buf, "  -mode string\n    \tm (default \"epoll\")\n"
                             "  -n int\n    \tn (default 3)\n");
    free(buf);
}

/* ---- addresses ---------------------------------------------------------- */

static void addr_forms(void **state)
{
    (void)state;
    struct cli_addr a;
    char err[256];

    assert_int_equal(cli_addr_parse("unix:/tmp/g.sock", &a, err, sizeof err),
                     0);
    assert_int_equal(a.kind, CLI_ADDR_UNIX);
    assert_string_equal(a.path, "/tmp/g.sock");
    assert_string_equal(a.target, "unix:/tmp/g.sock");

    assert_int_equal(cli_addr_parse("127.0.0.1:50051", &a, err, sizeof err), 0);
    assert_int_equal(a.kind, CLI_ADDR_TCP);
    assert_string_equal(a.host, "127.0.0.1");
    assert_string_equal(a.port, "50051");

    assert_int_equal(cli_addr_parse("[::1]:0", &a, err, sizeof err), 0);
    assert_string_equal(a.host, "::1");
    assert_string_equal(a.target, "[::1]:0");

    const char *bad[] = {"unix:",  ":50051",          "localhost",
                         "::1:5",  "[::1]5",          "h:99999",
                         "h:port", "unix-abstract:x", "http://h:1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(cli_addr_parse(bad[i], &a, err, sizeof err), -1);

    char longpath[200] = "unix:/";
    memset(longpath + 6, 'a', 150);
    assert_int_equal(cli_addr_parse(longpath, &a, err, sizeof err), -1);
    assert_non_null(strstr(err, "the limit is 107"));
}

static void addr_loopback_rule(void **state)
{
    (void)state;
    struct cli_addr a;
    char err[256];
    const char *lo[] = {"127.0.0.1:1", "127.8.9.10:1", "[::1]:1",
                        "[::ffff:127.0.0.1]:1", "unix:/x"};
    const char *wide[] = {"0.0.0.0:1", "[::]:1", "192.0.2.1:1",
                          "[2001:db8::1]:1"};

    for (size_t i = 0; i < sizeof lo / sizeof lo[0]; i++) {
        assert_int_equal(cli_addr_parse(lo[i], &a, err, sizeof err), 0);
        assert_int_equal(cli_addr_is_loopback(&a, err, sizeof err), 1);
    }
    for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++) {
        assert_int_equal(cli_addr_parse(wide[i], &a, err, sizeof err), 0);
        assert_int_equal(cli_addr_is_loopback(&a, err, sizeof err), 0);
    }
}

static void addr_default(void **state)
{
    (void)state;
    char buf[160];
    setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
    assert_string_equal(cli_addr_default(buf, sizeof buf),
                        "unix:/run/user/1000/gortd.sock");
    char want[160];
    unsetenv("TMPDIR");
    snprintf(want, sizeof want, "unix:/tmp/gortd-%u/gortd.sock",
             (unsigned)geteuid());
    setenv("XDG_RUNTIME_DIR", "relative", 1);
    assert_string_equal(cli_addr_default(buf, sizeof buf), want);
    unsetenv("XDG_RUNTIME_DIR");
    assert_string_equal(cli_addr_default(buf, sizeof buf), want);
    /* A private directory, never a bare file in /tmp (issue 10, item 11). */
    setenv("TMPDIR", "/var/tmp", 1);
    snprintf(want, sizeof want, "unix:/var/tmp/gortd-%u/gortd.sock",
             (unsigned)geteuid());
    assert_string_equal(cli_addr_default(buf, sizeof buf), want);
    unsetenv("TMPDIR");
    /* systemd's RuntimeDirectory= wins; its first entry when several. */
    setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
    setenv("RUNTIME_DIRECTORY", "/run/gortd:/run/other", 1);
    assert_string_equal(cli_addr_default(buf, sizeof buf),
                        "unix:/run/gortd/gortd.sock");
    unsetenv("RUNTIME_DIRECTORY");
    unsetenv("XDG_RUNTIME_DIR");
}

static void status_names(void **state)
{
    (void)state;
    assert_string_equal(cli_status_name(GRPC_STATUS_INVALID_ARGUMENT),
                        "INVALID_ARGUMENT");
    assert_string_equal(cli_status_name(GRPC_STATUS_UNIMPLEMENTED),
                        "UNIMPLEMENTED");
    assert_string_equal(cli_status_name(GRPC_STATUS_UNAUTHENTICATED),
                        "UNAUTHENTICATED");
    assert_string_equal(cli_status_name((grpc_status_code)42), "CODE_42");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(duration_parse_go_syntax),
        cmocka_unit_test(duration_format_go_syntax),
        cmocka_unit_test(flags_go_forms),
        cmocka_unit_test(flags_errors),
        cmocka_unit_test(flags_strings_repeat),
        cmocka_unit_test(flags_help_layout),
        cmocka_unit_test(flags_help_keeps_defaults),
        cmocka_unit_test(addr_forms),
        cmocka_unit_test(addr_loopback_rule),
        cmocka_unit_test(addr_default),
        cmocka_unit_test(status_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
