/* test_context.c — contexts (gort_ctx_*): cancellation, deadlines, the
 * tree, references, and the context forms of blocking calls.
 *
 * Asserted: Background is never done and has no done channel; a cancel
 * closes done (a select case fires with ok = 0) and sets GORT_ECANCELED
 * ("context canceled"); a deadline sets GORT_EDEADLINE; a cancel reaches
 * every descendant and no ancestor; a child of a done parent is done at
 * birth; a deadline already past is done at birth; a child takes the
 * earlier of its own and its parent's deadline; releasing without a
 * cancel unhooks a child (ASan: nothing leaks); gort_sleep_ctx,
 * gort_read_ctx and gort_dial_tcp_ctx end with the context's error; many
 * goroutines deriving, cancelling and releasing against a cancelling
 * parent leave every child done (TSan).
 */
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gort/net.h"
#include "rt_test.h"

#define MS (1000LL * 1000)
#define SEC (1000 * MS)

static bool is_done(gort_ctx *c)
{
    struct gort_select_case k = {.chan = gort_ctx_done(c),
                                 .dir = GORT_SELECT_RECV};
    return gort_select(&k, 1, 0) == 0 && k.ok == 0;
}

static void basics_main(void *arg)
{
    (void)arg;
    gort_ctx *bg = gort_ctx_background();
    int64_t d = 0;
    RT_CHECK(gort_ctx_done(bg) == NULL);
    RT_CHECK_INT(gort_ctx_err(bg), ==, 0);
    RT_CHECK_INT(gort_ctx_deadline(bg, &d), ==, 0);
    gort_ctx_release(gort_ctx_ref(bg)); /* no-ops */
    gort_ctx_cancel(bg);
    RT_CHECK_INT(gort_ctx_err(bg), ==, 0);

    gort_ctx *c = gort_ctx_with_cancel(bg);
    RT_CHECK(gort_ctx_done(c) != NULL);
    RT_CHECK(!is_done(c));
    gort_ctx_cancel(c);
    RT_CHECK(is_done(c));
    RT_CHECK_INT(gort_ctx_err(c), ==, GORT_ECANCELED);
    RT_CHECK_STR(gort_strerror(GORT_ECANCELED), "context canceled");
    RT_CHECK_STR(gort_strerror(GORT_EDEADLINE), "deadline exceeded");
    gort_ctx_cancel(c); /* twice: nothing */
    RT_CHECK_INT(gort_ctx_err(c), ==, GORT_ECANCELED);
    gort_ctx_release(c);

    /* The channel is made on the first ask: asked only after the cancel,
     * it is made closed; asked twice, it is the same channel. */
    gort_ctx *lazy = gort_ctx_with_cancel(bg);
    gort_ctx_cancel(lazy);
    gort_chan *ld = gort_ctx_done(lazy);
    RT_CHECK(ld != NULL && gort_ctx_done(lazy) == ld);
    RT_CHECK_INT(gort_chan_recv(ld, NULL), ==, 0);
    gort_ctx_release(lazy);

    /* NULL is Background. */
    gort_ctx *n = gort_ctx_with_cancel(NULL);
    RT_CHECK(!is_done(n));
    gort_ctx_release(n); /* released without a cancel */
}

static void test_basics(void **state)
{
    (void)state;
    rt_run(basics_main, NULL);
}

static void tree_main(void *arg)
{
    (void)arg;
    gort_ctx *root = gort_ctx_with_cancel(NULL);
    gort_ctx *a = gort_ctx_with_cancel(root);
    gort_ctx *b = gort_ctx_with_cancel(a);
    gort_ctx *c = gort_ctx_with_timeout(a, 3600 * SEC);
    gort_ctx *sib = gort_ctx_with_cancel(root);
    /* Cancelling a child leaves its parent and siblings alone. */
    gort_ctx_cancel(b);
    RT_CHECK(is_done(b) && !is_done(a) && !is_done(c) && !is_done(root));
    /* Cancelling a parent reaches the whole subtree, not its siblings. */
    gort_ctx_cancel(a);
    RT_CHECK(is_done(a) && is_done(c) && !is_done(sib) && !is_done(root));
    RT_CHECK_INT(gort_ctx_err(c), ==, GORT_ECANCELED);
    /* A child of a done parent is done at birth, with its error. */
    gort_ctx *late = gort_ctx_with_cancel(a);
    RT_CHECK(is_done(late));
    RT_CHECK_INT(gort_ctx_err(late), ==, GORT_ECANCELED);
    /* Parent released before its child: the child holds it. */
    gort_ctx *p = gort_ctx_with_cancel(root), *k = gort_ctx_with_cancel(p);
    gort_ctx_release(p);
    gort_ctx_cancel(root);
    RT_CHECK(is_done(k) && is_done(sib));
    gort_ctx_release(k);
    gort_ctx *list[] = {root, a, b, c, sib, late};
    for (size_t i = 0; i < sizeof list / sizeof *list; i++)
        gort_ctx_release(list[i]);
}

static void test_tree(void **state)
{
    (void)state;
    rt_run(tree_main, NULL);
}

static void deadline_main(void *arg)
{
    (void)arg;
    int64_t start = gort_nanotime(), d = 0;
    gort_ctx *t = gort_ctx_with_timeout(NULL, 5 * MS);
    RT_CHECK_INT(gort_ctx_deadline(t, &d), ==, 1);
    RT_CHECK_INT(d, >=, start + 5 * MS);
    /* A child asking for later gets the parent's; earlier keeps its own. */
    gort_ctx *later = gort_ctx_with_timeout(t, 3600 * SEC);
    int64_t dl = 0;
    gort_ctx_deadline(later, &dl);
    RT_CHECK_INT(dl, ==, d);
    gort_ctx *earlier = gort_ctx_with_deadline(t, d - MS);
    gort_ctx_deadline(earlier, &dl);
    RT_CHECK_INT(dl, ==, d - MS);
    RT_CHECK_INT(gort_chan_recv(gort_ctx_done(t), NULL), ==, 0);
    RT_CHECK_INT(gort_nanotime(), >=, d);
    RT_CHECK_INT(gort_ctx_err(t), ==, GORT_EDEADLINE);
    RT_CHECK_INT(gort_ctx_err(later), ==, GORT_EDEADLINE);
    RT_CHECK_INT(gort_ctx_err(earlier), ==, GORT_EDEADLINE);
    /* Already past: done at birth. */
    gort_ctx *past = gort_ctx_with_deadline(NULL, gort_nanotime() - MS);
    RT_CHECK(is_done(past));
    RT_CHECK_INT(gort_ctx_err(past), ==, GORT_EDEADLINE);
    /* Cancelled before its deadline: canceled, and the timer is gone. */
    gort_ctx *x = gort_ctx_with_timeout(NULL, 3600 * SEC);
    gort_ctx_cancel(x);
    RT_CHECK_INT(gort_ctx_err(x), ==, GORT_ECANCELED);
    gort_ctx *list[] = {t, later, earlier, past, x};
    for (size_t i = 0; i < sizeof list / sizeof *list; i++)
        gort_ctx_release(list[i]);
    /* Released without a cancel while the timer is armed: the timer holds
     * its reference until it fires; the context is freed then (ASan). */
    gort_ctx *y = gort_ctx_with_timeout(NULL, MS);
    gort_ctx_release(y);
    gort_sleep(5 * MS);
}

static void test_deadline(void **state)
{
    (void)state;
    rt_run(deadline_main, NULL);
}

/* ---- blocking calls ------------------------------------------------------ */

static void canceller(void *arg)
{
    gort_ctx *c = arg;
    gort_sleep(2 * MS);
    gort_ctx_cancel(c);
    gort_ctx_release(c);
}

static void sleep_main(void *arg)
{
    (void)arg;
    RT_CHECK_INT(gort_sleep_ctx(NULL, MS), ==, 0);
    gort_ctx *c = gort_ctx_with_cancel(NULL);
    gort_go(canceller, gort_ctx_ref(c));
    RT_CHECK_INT(gort_sleep_ctx(c, 3600 * SEC), ==, GORT_ECANCELED);
    RT_CHECK_INT(gort_sleep_ctx(c, MS), ==, GORT_ECANCELED); /* at once */
    gort_ctx_release(c);
    gort_ctx *t = gort_ctx_with_timeout(NULL, 2 * MS);
    RT_CHECK_INT(gort_sleep_ctx(t, 3600 * SEC), ==, GORT_EDEADLINE);
    gort_ctx_release(t);
}

static void test_sleep_ctx(void **state)
{
    (void)state;
    rt_run(sleep_main, NULL);
}

static void io_main(void *arg)
{
    (void)arg;
    int sv[2];
    RT_CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    gort_fd_open(sv[0]);
    gort_fd_open(sv[1]);
    char buf[8];
    /* Data there: the read does not care about a live context. */
    gort_ctx *c = gort_ctx_with_cancel(NULL);
    RT_CHECK_INT(gort_write_ctx(c, sv[1], "hi", 2), ==, 2);
    RT_CHECK_INT(gort_read_ctx(c, sv[0], buf, sizeof buf), ==, 2);
    /* A blocked read ends with the cancel. */
    gort_go(canceller, gort_ctx_ref(c));
    RT_CHECK_INT(gort_read_ctx(c, sv[0], buf, sizeof buf), ==, GORT_ECANCELED);
    /* Done already: at once, nothing read. */
    RT_CHECK_INT(gort_read_ctx(c, sv[0], buf, sizeof buf), ==, GORT_ECANCELED);
    gort_ctx_release(c);
    gort_close(sv[0]);
    gort_close(sv[1]);

    RT_CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    gort_fd_open(sv[0]);
    gort_fd_open(sv[1]);
    gort_ctx *t = gort_ctx_with_timeout(NULL, 2 * MS);
    RT_CHECK_INT(gort_read_ctx(t, sv[0], buf, sizeof buf), ==, GORT_EDEADLINE);
    gort_ctx_release(t);
    /* A bind that did not fire leaves the descriptor as it was. */
    gort_ctx *live = gort_ctx_with_cancel(NULL);
    gort_fd_ctx w;
    RT_CHECK_INT(gort_fd_ctx_bind(&w, live, sv[1]), ==, 0);
    RT_CHECK_INT(gort_fd_ctx_unbind(&w), ==, 0);
    gort_ctx_cancel(live);
    RT_CHECK_INT(gort_write(sv[1], "x", 1), ==, 1);
    RT_CHECK_INT(gort_fd_ctx_bind(&w, live, sv[1]), ==, GORT_ECANCELED);
    RT_CHECK_INT(gort_fd_ctx_unbind(&w), ==, 0);
    gort_ctx_release(live);
    gort_close(sv[0]);
    gort_close(sv[1]);
}

static void test_io_ctx(void **state)
{
    (void)state;
    rt_run(io_main, NULL);
}

static void dial_main(void *arg)
{
    (void)arg;
    int lfd = gort_socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    RT_CHECK_INT(bind(lfd, (struct sockaddr *)&a, sizeof a), ==, 0);
    RT_CHECK_INT(listen(lfd, 8), ==, 0);
    getsockname(lfd, (struct sockaddr *)&a, &al);
    char port[16];
    snprintf(port, sizeof port, "%d", ntohs(a.sin_port));
    gort_ctx *c = gort_ctx_with_timeout(NULL, 3600 * SEC);
    int fd = gort_dial_tcp_ctx(c, "127.0.0.1", port);
    RT_CHECK_INT(fd, >=, 0);
    if (fd >= 0)
        gort_close(fd);
    gort_ctx_cancel(c);
    RT_CHECK_INT(gort_dial_tcp_ctx(c, "127.0.0.1", port), ==, GORT_ECANCELED);
    gort_ctx_release(c);
    gort_close(lfd);
}

static void test_dial_ctx(void **state)
{
    (void)state;
    rt_run(dial_main, NULL);
}

/* ---- races (TSan) ---------------------------------------------------------
 */

/* Workers derive, cancel and release under one parent while the main
 * goroutine cancels that parent midway: every context they kept must end
 * up done (a receive on its done channel returns; a lost child hangs the
 * test), and nothing leaks (ASan). */
static struct {
    gort_ctx *parent;
    gort_waitgroup started, wg;
} race;

static void race_worker(void *arg)
{
    (void)arg;
    long rounds = rt_scale(3000, 300);
    gort_ctx *keep[8] = {0};
    gort_wg_done(&race.started);
    for (long i = 0; i < rounds; i++) {
        gort_ctx *c = gort_ctx_with_cancel(race.parent);
        gort_ctx *d = gort_ctx_with_timeout(c, (i % 3) * 10000);
        if (i % 2)
            gort_ctx_cancel(c);
        if (i % 5 == 0) {
            gort_ctx_release(keep[i % 8]);
            keep[i % 8] = gort_ctx_ref(d);
        }
        gort_ctx_release(d);
        gort_ctx_release(c);
        if (i % 64 == 0)
            gort_yield();
    }
    for (int j = 0; j < 8; j++) {
        if (!keep[j])
            continue;
        RT_CHECK_INT(gort_chan_recv(gort_ctx_done(keep[j]), NULL), ==, 0);
        gort_ctx_release(keep[j]);
    }
    gort_wg_done(&race.wg);
}

static void race_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(4);
    race.parent = gort_ctx_with_cancel(NULL);
    gort_waitgroup init = GORT_WAITGROUP_INIT;
    race.wg = init;
    race.started = init;
    int n = 8;
    gort_wg_add(&race.wg, n);
    gort_wg_add(&race.started, n);
    for (int i = 0; i < n; i++)
        gort_go(race_worker, NULL);
    gort_wg_wait(&race.started);
    gort_yield();
    gort_ctx_cancel(race.parent);
    gort_wg_wait(&race.wg);
    gort_ctx_release(race.parent);
}

static void test_races(void **state)
{
    (void)state;
    rt_run(race_main, NULL);
}

int main(void)
{
    rt_filter_from_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basics),   cmocka_unit_test(test_tree),
        cmocka_unit_test(test_deadline), cmocka_unit_test(test_sleep_ctx),
        cmocka_unit_test(test_io_ctx),   cmocka_unit_test(test_dial_ctx),
        cmocka_unit_test(test_races),
    };
    return cmocka_run_group_tests_name("context", tests, NULL, NULL);
}
