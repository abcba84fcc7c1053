/* test_plugin_load — the loader without a server: paths that leave the
 * plugins directory, all-or-nothing registration, the list API.
 *
 * usage: test_plugin_load BUNDLED_DIR TEST_PLUGINS_DIR
 * Builds DIR/{hello,good,good2,z_conflict,initgo,shadow}.so, DIR/sub/ and
 * OUT/good.so (a sibling of DIR) from copies of the built plugins.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "gort/gort.h"
#include "http/mux.h"
#include "plugin/loader.h"

static const char *bundled, *built;
static char top[PATH_MAX], dir[PATH_MAX + 8];

static void copy(const char *from_dir, const char *from, const char *to_dir,
                 const char *to)
{
    char src[PATH_MAX * 2], dst[PATH_MAX * 2], buf[65536];
    snprintf(src, sizeof src, "%s/%s", from_dir, from);
    snprintf(dst, sizeof dst, "%s/%s", to_dir, to);
    int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT, 0755);
    assert_true(in >= 0 && out >= 0);
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        assert_int_equal(write(out, buf, (size_t)n), n);
    assert_int_equal(fchmod(out, 0755), 0);
    close(in);
    close(out);
}

static int setup(void **state)
{
    char out[PATH_MAX + 8], sub[PATH_MAX + 16];
    (void)state;
    snprintf(top, sizeof top, "/tmp/gort-plugin-load.XXXXXX");
    assert_non_null(mkdtemp(top));
    snprintf(dir, sizeof dir, "%s/dir", top);
    snprintf(out, sizeof out, "%s/out", top);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(mkdir(out, 0700), 0);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    copy(bundled, "hello.so", dir, "hello.so");
    copy(built, "tp_good.so", dir, "good.so");
    copy(built, "tp_good.so", dir, "good2.so");
    copy(built, "tp_conflict.so", dir, "z_conflict.so");
    copy(built, "tp_initgo.so", dir, "initgo.so");
    copy(built, "tp_shadow.so", dir, "shadow.so");
    copy(built, "tp_good.so", out, "good.so");
    return 0;
}

static int teardown(void **state)
{
    char cmd[PATH_MAX + 16];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
    return system(cmd) == 0 ? 0 : -1;
}

struct listed {
    struct plugin_status info[4];
    size_t n;
};

static void collect(const struct plugin_status *in, void *arg)
{
    struct listed *l = arg;
    if (l->n < 4)
        l->info[l->n] = *in;
    l->n++;
}

static void test_outside_refused(void **state)
{
    static const char *const names[] = {
        "../out/good.so", "sub/../../out/good.so", "../dir/../out/good.so"};
    char err[1024];
    (void)state;
    struct plugins *ps = plugins_new(dir, err, sizeof err);
    struct mux *mux = mux_new();
    assert_non_null(ps);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int rc = plugins_load(ps, mux, names[i], NULL, err, sizeof err);
        assert_int_equal(rc, -EPERM);
        assert_non_null(strstr(err, names[i]));
        assert_non_null(strstr(err, "outside the plugins directory"));
    }
    assert_int_equal(mux_count(mux), 0);
    struct listed l = {.n = 0};
    assert_int_equal(plugins_each(ps, collect, &l), 0);
    assert_int_equal(l.n, 0);
    mux_free(mux);
    plugins_free(ps, 0);
}

static void test_all_or_nothing(void **state)
{
    char err[1024];
    struct listed l = {.n = 0};
    const struct plugin_status *info = l.info;
    (void)state;
    struct plugins *ps = plugins_new(dir, err, sizeof err);
    struct mux *mux = mux_new();
    assert_non_null(ps);
    assert_int_equal(plugins_load(ps, mux, "hello.so", NULL, err, sizeof err),
                     0);
    assert_int_equal(mux_count(mux), 2);

    int rc = plugins_load(ps, mux, "z_conflict.so", NULL, err, sizeof err);
    assert_int_equal(rc, -EEXIST);
    assert_non_null(strstr(err, "z_conflict.so"));
    assert_non_null(strstr(err, "\"/about\""));
    assert_non_null(strstr(err, "plugin hello from"));
    assert_int_equal(mux_count(mux), 2); /* /conflict-first is gone */

    assert_int_equal(plugins_load(ps, mux, "good.so", "cfg", err, sizeof err),
                     0);
    rc = plugins_load(ps, mux, "good2.so", NULL, err, sizeof err);
    assert_int_equal(rc, -EEXIST);
    assert_non_null(strstr(err, "a plugin named good is already loaded"));
    assert_int_equal(mux_count(mux), 3);

    assert_int_equal(plugins_each(ps, collect, &l), 2);
    assert_int_equal(l.n, 2);
    assert_string_equal(info[0].name, "hello");
    assert_string_equal(info[0].version, "1.0.0");
    assert_int_equal(info[0].routes, 2);
    assert_non_null(strstr(info[0].file, "/hello.so"));
    assert_string_equal(info[1].name, "good");
    assert_int_equal(info[1].routes, 1);
    assert_int_equal(info[1].in_flight, 0);
    assert_int_equal(info[1].goroutines, 0);
    assert_true(info[1].loaded_unix_ns > 0);
    mux_free(mux);
    plugins_free(ps, 0);
}

/* ---- hot operations, with a table "published" into a variable ---------- */

static struct mux *served;

static struct mux *fake_publish(void *arg, struct mux *next)
{
    (void)arg;
    struct mux *old = served;
    served = next;
    return old;
}

static const void *owner_of(const char *path)
{
    struct mux_match m;
    char buf[256];
    struct mux_request r = {"GET", 3, "", 0, path, strlen(path), NULL, 0};
    if (mux_match(served, &r, &m, buf, sizeof buf) != 200)
        return NULL;
    return m.owner;
}

static int fini_calls(void)
{
    const char *n = getenv("TP_GOOD_FINI");
    return n ? atoi(n) : 0;
}

static struct hot {
    int failures;
    char what[256];
} hot;

#define HOT_CHECK(cond)                                                        \
    do {                                                                       \
        if (!(cond) && !hot.failures++)                                        \
            snprintf(hot.what, sizeof hot.what, "line %d: %s", __LINE__,       \
                     #cond);                                                   \
    } while (0)

/* Load, refuse a duplicate, unload with a request pinned (drain runs out,
 * the plugin stays until the request ends), reap on the next operation,
 * replace, free: fini runs exactly once per loaded instance. */
static void hot_main(void *arg)
{
    (void)arg;
    char err[1024];
    struct plugin_status info;
    struct plugins_host host = {fake_publish, NULL};
    struct plugins *ps = plugins_new(dir, err, sizeof err);
    HOT_CHECK(ps != NULL);
    served = mux_new();
    plugins_attach(ps, served, &host);

    HOT_CHECK(plugins_hot_load(ps, "good", 0, &info, err, sizeof err) == 0);
    HOT_CHECK(strcmp(info.name, "good") == 0 && info.routes == 1);
    HOT_CHECK(mux_count(served) == 1);
    HOT_CHECK(plugins_hot_load(ps, "good.so", 0, NULL, err, sizeof err) ==
              -EEXIST);
    /* A deadline already past: not started, nothing changed. */
    HOT_CHECK(plugins_hot_load(ps, "good", gort_nanotime() - 1, NULL, err,
                               sizeof err) == -ETIMEDOUT);
    HOT_CHECK(strstr(err, "not started") != NULL);
    HOT_CHECK(plugins_hot_load(ps, "nosuch", 0, NULL, err, sizeof err) ==
              -ENOENT);

    const void *owner = owner_of("/good");
    HOT_CHECK(owner != NULL);
    plugins_route_pin(owner); /* a request inside the handler */
    int rc = plugins_unload(ps, "good", 50000000, 0, &info, err, sizeof err);
    HOT_CHECK(rc == -EBUSY);
    HOT_CHECK(strstr(err, "1 request") != NULL);
    HOT_CHECK(mux_count(served) == 0); /* routes gone at once */
    HOT_CHECK(fini_calls() == 0);      /* code still in use */
    plugins_route_unpin(owner);

    /* The next operation finishes the drained plugin first. */
    HOT_CHECK(plugins_hot_load(ps, "good", 0, NULL, err, sizeof err) == 0);
    HOT_CHECK(fini_calls() == 1);
    const void *before = owner_of("/good");
    HOT_CHECK(plugins_replace(ps, "good", 0, 0, &info, err, sizeof err) == 0);
    HOT_CHECK(fini_calls() == 2);
    HOT_CHECK(owner_of("/good") != NULL && owner_of("/good") != before);
    HOT_CHECK(plugins_replace(ps, "nosuch", 0, 0, NULL, err, sizeof err) ==
              -ENOENT);
    HOT_CHECK(plugins_unload(ps, "nosuch", 0, 0, NULL, err, sizeof err) ==
              -ENOENT);
    plugins_free(ps, 0); /* frees served too */
    HOT_CHECK(fini_calls() == 3);
}

static void test_hot_operations(void **state)
{
    (void)state;
    unsetenv("TP_GOOD_FINI");
    memset(&hot, 0, sizeof hot);
    assert_int_equal(gort_main(hot_main, NULL), 0);
    if (hot.failures)
        fail_msg("%d failed, first at %s", hot.failures, hot.what);
}

/* A plugin refused after its init started a goroutine stays mapped until
 * that goroutine ends (unmapping it first would crash this process when the
 * goroutine wakes up in the plugin's code). */
static struct {
    int rc;
    int done_after_load;
    char err[1024];
} ig;

static void initgo_main(void *arg)
{
    (void)arg;
    struct plugins *ps = plugins_new(dir, ig.err, sizeof ig.err);
    struct mux *mux = mux_new();
    ig.rc = plugins_load(ps, mux, "initgo.so", NULL, ig.err, sizeof ig.err);
    /* The load waited for the goroutine before closing the file. */
    ig.done_after_load = getenv("TP_INITGO_DONE") != NULL;
    mux_free(mux);
    plugins_free(ps, 0);
}

static void test_refused_plugin_outlives_its_goroutine(void **state)
{
    (void)state;
    unsetenv("TP_INITGO_DONE");
    memset(&ig, 0, sizeof ig);
    assert_int_equal(gort_main(initgo_main, NULL), 0);
    assert_int_equal(ig.rc, -EINVAL);
    assert_non_null(strstr(ig.err, "refusing after starting a goroutine"));
    assert_int_equal(ig.done_after_load, 1);
}

/* A plugin defining functions named like the loader's internals (mux_count,
 * plugins_owner_name, httpd_local_addr, http_log, ...) calls its own: this
 * program, like gortd, exports only the SDK, so nothing of ours interposes
 * on the plugin's (default-visibility, hence interposable) definitions. */
static void test_plugin_calls_its_own_functions(void **state)
{
    char err[1024];
    (void)state;
    unsetenv("TP_SHADOW");
    struct plugins *ps = plugins_new(dir, err, sizeof err);
    struct mux *mux = mux_new();
    assert_non_null(ps);
    assert_int_equal(plugins_load(ps, mux, "shadow.so", NULL, err, sizeof err),
                     0);
    assert_int_equal(mux_count(mux), 1);
    const char *got = getenv("TP_SHADOW");
    assert_non_null(got);
    assert_string_equal(got, "mux_count=own httpd_local_addr=own http_log=own "
                             "plugins_owner_name=own cli_now_ns=own "
                             "ctl_fail=own");
    mux_free(mux);
    plugins_free(ps, 0);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s BUNDLED_DIR TEST_PLUGINS_DIR\n", argv[0]);
        return 2;
    }
    bundled = argv[1];
    built = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outside_refused),
        cmocka_unit_test(test_hot_operations),
        cmocka_unit_test(test_refused_plugin_outlives_its_goroutine),
        cmocka_unit_test(test_all_or_nothing),
        cmocka_unit_test(test_plugin_calls_its_own_functions),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
