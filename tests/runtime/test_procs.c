/* test_procs.c — the default GOMAXPROCS: cgroup CPU quotas (v1 and v2) over
 * a fake /proc and /sys tree, tightest ancestor wins, rounded up, never
 * below 2; and a running runtime following a changed quota until a person
 * sets GOMAXPROCS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gort/gort.h"
#include "procs.h"

static char root[PATH_MAX];

static void put(const char *rel, const char *text)
{
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s%s", root, rel);
    for (char *s = strchr(path + strlen(root) + 1, '/'); s;
         s = strchr(s + 1, '/')) {
        *s = '\0';
        mkdir(path, 0755);
        *s = '/';
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int limit(void)
{
    char cg[PATH_MAX * 2], mi[PATH_MAX * 2];
    snprintf(cg, sizeof cg, "%s/proc/cgroup", root);
    snprintf(mi, sizeof mi, "%s/proc/mountinfo", root);
    return gort__cgroup_cpu_limit(cg, mi, root);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/gort-procs-XXXXXX");
    return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

#define V2_MOUNT "30 22 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"

static void v2_parent_tighter_than_leaf(void **state)
{
    (void)state;
    put("/proc/mountinfo", V2_MOUNT);
    put("/proc/cgroup", "0::/svc/app\n");
    put("/sys/fs/cgroup/cpu.max", "max 100000\n");
    put("/sys/fs/cgroup/svc/cpu.max", "150000 100000\n"); /* 1.5 CPUs */
    put("/sys/fs/cgroup/svc/app/cpu.max", "400000 100000\n");
    /* Go 1.25 reads only the leaf (4); the parent's 1.5 rounds up to 2. */
    assert_int_equal(limit(), 2);
}

static void v2_no_quota(void **state)
{
    (void)state;
    put("/proc/mountinfo", V2_MOUNT);
    put("/proc/cgroup", "0::/svc\n");
    put("/sys/fs/cgroup/svc/cpu.max", "max 100000\n");
    assert_int_equal(limit(), 0);
}

static void v2_leaf_quota_rounds_up(void **state)
{
    (void)state;
    put("/proc/mountinfo", V2_MOUNT);
    put("/proc/cgroup", "0::/a\n");
    put("/sys/fs/cgroup/a/cpu.max", "250000 100000\n");
    assert_int_equal(limit(), 3);
}

static void v1_cpu_controller_only(void **state)
{
    (void)state;
    /* cpuacct alone must not be taken for the cpu controller. */
    put("/proc/mountinfo",
        "31 30 0:28 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct\n"
        "32 30 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n");
    put("/proc/cgroup", "3:cpuacct:/x\n2:cpu:/x/y\n");
    put("/sys/fs/cgroup/cpuacct/x/cpu.cfs_quota_us", "10000\n");
    put("/sys/fs/cgroup/cpuacct/x/cpu.cfs_period_us", "100000\n");
    put("/sys/fs/cgroup/cpu/x/cpu.cfs_quota_us", "50000\n");
    put("/sys/fs/cgroup/cpu/x/cpu.cfs_period_us", "100000\n");
    put("/sys/fs/cgroup/cpu/x/y/cpu.cfs_quota_us", "-1\n");
    put("/sys/fs/cgroup/cpu/x/y/cpu.cfs_period_us", "100000\n");
    assert_int_equal(limit(), 1); /* 0.5 CPU rounds up to 1 */
}

static void v1_container_mount_root(void **state)
{
    (void)state;
    /* Inside a container the hierarchy is mounted at our cgroup's ancestor:
     * /proc/self/cgroup says /docker/abc/job, the mount's root is
     * /docker/abc, so the leaf is <mount>/job. */
    put("/proc/mountinfo", "40 30 0:30 /docker/abc /sys/fs/cgroup/cpu,cpuacct "
                           "rw - cgroup cgroup rw,cpu,cpuacct\n");
    put("/proc/cgroup", "4:cpu,cpuacct:/docker/abc/job\n");
    put("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "300000\n");
    put("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
    put("/sys/fs/cgroup/cpu,cpuacct/job/cpu.cfs_quota_us", "-1\n");
    put("/sys/fs/cgroup/cpu,cpuacct/job/cpu.cfs_period_us", "100000\n");
    assert_int_equal(limit(), 3);
}

static void no_cgroup_files(void **state)
{
    (void)state;
    assert_int_equal(limit(), 0);
}

static void default_procs_is_within_affinity(void **state)
{
    (void)state;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int n = gort_default_procs();
    assert_true(n >= 1);
    assert_true(n <= online);
}

static void choose_follows_go_1_25(void **state)
{
    (void)state;
    assert_int_equal(gort__procs_choose(8, 0), 8); /* no limit */
    assert_int_equal(gort__procs_choose(8, 1), 2); /* 250m -> 1 -> floor 2 */
    assert_int_equal(gort__procs_choose(1, 1), 1); /* never above the CPUs */
    assert_int_equal(gort__procs_choose(8, 3), 3);
    assert_int_equal(gort__procs_choose(2, 5), 2);
    assert_int_equal(gort__procs_choose(0, 0), 1);
    assert_int_equal(gort__procs_choose(GORT_MAXPROCS_CAP + 9, 0),
                     GORT_MAXPROCS_CAP);
}

static void set_quota(const char *cpus_x1e5)
{
    char text[64];
    snprintf(text, sizeof text, "%s 100000\n", cpus_x1e5);
    put("/sys/fs/cgroup/svc/cpu.max", text);
}

/* Polls GOMAXPROCS for up to 10 s: sysmon re-reads the limit once a
 * second, and a loaded machine may delay it. */
static int wait_procs(int want)
{
    for (int i = 0; i < 1000 && gort_gomaxprocs(0) != want; i++)
        usleep(10000);
    return gort_gomaxprocs(0);
}

/* Starts the runtime in this process: keep it the last test. */
static void running_runtime_follows_quota(void **state)
{
    (void)state;
    char cg[PATH_MAX * 2], mi[PATH_MAX * 2];
    put("/proc/mountinfo", V2_MOUNT);
    put("/proc/cgroup", "0::/svc\n");
    set_quota("400000");
    snprintf(cg, sizeof cg, "%s/proc/cgroup", root);
    snprintf(mi, sizeof mi, "%s/proc/mountinfo", root);
    struct gort__procs_source src = {
        .proc_cgroup = cg, .mountinfo = mi, .fsroot = root, .ncpu = 8};
    gort__procs_set_source(&src);

    assert_int_equal(gort_gomaxprocs(0), 4);
    set_quota("600000");
    assert_int_equal(wait_procs(6), 6);
    set_quota("50000"); /* 0.5 CPU: floor of 2 */
    assert_int_equal(wait_procs(2), 2);

    /* gortctl tune: the quota is no longer followed. */
    assert_int_equal(gort_gomaxprocs(3), 2);
    set_quota("500000");
    sleep(3); /* three of sysmon's re-reads */
    assert_int_equal(gort_gomaxprocs(0), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(v2_parent_tighter_than_leaf, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(v2_no_quota, setup, teardown),
        cmocka_unit_test_setup_teardown(v2_leaf_quota_rounds_up, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(v1_cpu_controller_only, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(v1_container_mount_root, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(no_cgroup_files, setup, teardown),
        cmocka_unit_test(default_procs_is_within_affinity),
        cmocka_unit_test(choose_follows_go_1_25),
        cmocka_unit_test_setup_teardown(running_runtime_follows_quota, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
