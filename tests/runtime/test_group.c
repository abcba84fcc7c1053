/* test_group.c — goroutine groups: members are counted from creation to
 * exit, membership passes to children and grandchildren, a goroutine that
 * only enters a group is not counted, and leaving it stops the inheritance.
 * This is what gortd relies on to know a plugin's code no longer runs.
 */
#include <sys/socket.h>
#include <unistd.h>

#include "gort/net.h"
#include "rt_test.h"

static struct gs {
    struct gort_group grp;
    gort_chan *release; /* members park here until the test lets them go */
    gort_waitgroup done;
    int64_t live_while_parked, started_while_parked;
    int64_t live_after, started_after;
    int64_t outsider_live;
    struct gort_group *prev_seen, *inner_seen;
} gs;

static void grandchild(void *arg)
{
    (void)arg;
    gort_chan_recv(gs.release, NULL);
    gort_wg_done(&gs.done);
}

static void child(void *arg)
{
    (void)arg;
    gort_go(grandchild, NULL); /* inherits the group through child */
    gort_chan_recv(gs.release, NULL);
    gort_wg_done(&gs.done);
}

static void outsider(void *arg)
{
    (void)arg;
    gort_wg_done(&gs.done);
}

static void group_main(void *arg)
{
    (void)arg;
    gort_gomaxprocs(2);
    gs.release = gort_chan_make(0, 0);
    gort_waitgroup init = GORT_WAITGROUP_INIT;
    gs.done = init;
    gort_wg_add(&gs.done, 3 * 2 + 1);

    gs.prev_seen = gort_group_enter(&gs.grp);
    for (int i = 0; i < 3; i++)
        gort_go(child, NULL);
    gs.inner_seen = gort_group_enter(NULL);
    gort_go(outsider, NULL); /* started after leaving: not a member */

    /* Six members parked: the three children and their children. */
    while (gort_group_started(&gs.grp) < 6)
        gort_yield();
    gs.live_while_parked = (int64_t)gort_group_live(&gs.grp);
    gs.started_while_parked = (int64_t)gort_group_started(&gs.grp);
    gort_chan_close(gs.release);
    gort_wg_wait(&gs.done);
    while (gort_group_live(&gs.grp) != 0)
        gort_yield(); /* wg_done runs just before the member exits */
    gs.live_after = (int64_t)gort_group_live(&gs.grp);
    gs.started_after = (int64_t)gort_group_started(&gs.grp);
    gort_chan_free(gs.release);
}

static void test_members_counted_until_exit(void **state)
{
    (void)state;
    memset(&gs, 0, sizeof gs);
    rt_run(group_main, NULL);
    assert_null(gs.prev_seen);
    assert_ptr_equal(gs.inner_seen, &gs.grp);
    assert_int_equal(gs.live_while_parked, 6);
    assert_int_equal(gs.started_while_parked, 6);
    assert_int_equal(gs.live_after, 0);
    assert_int_equal(gs.started_after, 6); /* the outsider never joined */
}

/* Many short-lived members from both Ps at once: the count ends at zero
 * exactly (a lost decrement would leave a plugin loaded forever, a doubled
 * one would unload it under a running goroutine). */
static struct gort_group storm_grp;
static gort_waitgroup storm_wg;

static void storm_leaf(void *arg)
{
    (void)arg;
    gort_yield();
    gort_wg_done(&storm_wg);
}

static void storm_spawner(void *arg)
{
    long n = (long)(intptr_t)arg;
    for (long i = 0; i < n; i++)
        gort_go(storm_leaf, NULL);
    gort_wg_done(&storm_wg);
}

static void storm_main(void *arg)
{
    long n = (long)(intptr_t)arg;
    gort_gomaxprocs(2);
    gort_waitgroup init = GORT_WAITGROUP_INIT;
    storm_wg = init;
    gort_wg_add(&storm_wg, 4 * (n + 1));
    struct gort_group *prev = gort_group_enter(&storm_grp);
    for (int i = 0; i < 4; i++)
        gort_go(storm_spawner, (void *)(intptr_t)n);
    gort_group_enter(prev);
    gort_wg_wait(&storm_wg);
    while (gort_group_live(&storm_grp) != 0)
        gort_yield();
}

static void test_storm_ends_at_zero(void **state)
{
    (void)state;
    long n = rt_scale(20000, 2000);
    memset(&storm_grp, 0, sizeof storm_grp);
    rt_run(storm_main, (void *)(intptr_t)n);
    assert_int_equal(gort_group_live(&storm_grp), 0);
    assert_int_equal(gort_group_started(&storm_grp), 4 * (n + 1));
}

/* Off a goroutine there is no group to enter. */
static void test_enter_off_goroutine_is_noop(void **state)
{
    (void)state;
    struct gort_group g = {0, 0};
    assert_null(gort_group_enter(&g));
    assert_null(gort_group_enter(NULL));
}

/* A callback registered with gort_fd_on_readable inside a group is a
 * member from registration on (its code will run), and the goroutine that
 * runs it keeps the membership until it exits. */
static struct rs {
    struct gort_group grp;
    int sv[2];
    int64_t live_pending, live_after;
    _Atomic int ran;
} rs;

static void on_readable(void *arg)
{
    (void)arg;
    char c;
    if (gort_read(rs.sv[0], &c, 1) == 1)
        atomic_store(&rs.ran, 1);
}

static void readable_main(void *arg)
{
    (void)arg;
    RT_CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, rs.sv), ==, 0);
    RT_CHECK_INT(gort_fd_open(rs.sv[0]), >=, 0);
    struct gort_group *prev = gort_group_enter(&rs.grp);
    RT_CHECK_INT(gort_fd_on_readable(rs.sv[0], on_readable, NULL), ==, 0);
    gort_group_enter(prev);
    gort_sleep(20000000); /* nothing to read: it stays pending */
    rs.live_pending = (int64_t)gort_group_live(&rs.grp);
    RT_CHECK_INT(write(rs.sv[1], "x", 1), ==, 1);
    while (gort_group_live(&rs.grp) != 0)
        gort_sleep(1000000);
    rs.live_after = (int64_t)gort_group_live(&rs.grp);
    gort_close(rs.sv[0]);
    close(rs.sv[1]);
}

static void test_readable_callback_is_member(void **state)
{
    (void)state;
    memset(&rs, 0, sizeof rs);
    rt_run(readable_main, NULL);
    assert_int_equal(rs.live_pending, 1);
    assert_int_equal(atomic_load(&rs.ran), 1);
    assert_int_equal(rs.live_after, 0);
    assert_int_equal(gort_group_started(&rs.grp), 1);
}

int main(void)
{
    rt_filter_from_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_members_counted_until_exit),
        cmocka_unit_test(test_storm_ends_at_zero),
        cmocka_unit_test(test_enter_off_goroutine_is_noop),
        cmocka_unit_test(test_readable_callback_is_member),
    };
    return cmocka_run_group_tests_name("group", tests, NULL, NULL);
}
