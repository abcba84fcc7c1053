/* procs.c — the default GOMAXPROCS: the CPUs this process may use.
 *
 * The affinity mask (sched_getaffinity) gives the CPUs the kernel will run us
 * on; a container's CPU quota may allow less. Go 1.25 lowers GOMAXPROCS to
 * ceil(quota / period) of the *leaf* cgroup only, so a tighter limit on a
 * parent cgroup is missed (golang/go#81180). Here every ancestor from the
 * process's cgroup up to the hierarchy's root is read and the tightest
 * quota wins, for cgroup v2 (cpu.max) and v1 (cpu.cfs_quota_us and
 * cpu.cfs_period_us on the cpu controller's hierarchy).
 *
 * As in Go 1.25, a limit-derived value is never below 2 (a 250m limit gives
 * 2, not 1: one P would serialise a service that the quota still lets burst
 * on two CPUs), and it never exceeds the affinity count. sysmon re-reads
 * both once a second (gort__procs_follow) and resizes the Ps when they
 * change, Go's updatemaxprocs; resizing needs no stop-the-world here, so
 * following a changed quota costs a few small file reads a second. It stops
 * following once GOMAXPROCS was chosen by a person: the GOMAXPROCS
 * environment variable or gort_gomaxprocs (gortctl tune).
 */
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "procs.h"
#include "runtime.h"

static int affinity_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 1;
    int n = CPU_COUNT(&set);
    return n > 0 ? n : 1;
}

/* Reads "max 100000" / "50000 100000" (v2) into a quota in CPUs ×1e6. */
static long long read_v2_quota(const char *dir)
{
    char path[PATH_MAX], q[32];
    long long period;
    if (snprintf(path, sizeof path, "%s/cpu.max", dir) >= (int)sizeof path)
        return -1;
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int n = fscanf(f, "%31s %lld", q, &period);
    fclose(f);
    if (n != 2 || strcmp(q, "max") == 0 || period <= 0)
        return -1;
    return atoll(q) * 1000000LL / period;
}

static long long read_ll(const char *dir, const char *file)
{
    char path[PATH_MAX];
    long long v;
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
        return -1;
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int n = fscanf(f, "%lld", &v);
    fclose(f);
    return n == 1 ? v : -1;
}

static long long read_v1_quota(const char *dir)
{
    long long quota = read_ll(dir, "cpu.cfs_quota_us");
    long long period = read_ll(dir, "cpu.cfs_period_us");
    if (quota <= 0 || period <= 0)
        return -1;
    return quota * 1000000LL / period;
}

/* Walks dir and its parents down to (and including) mount, keeping the
 * smallest quota (micro-CPUs); -1 when none is set. */
static long long tightest_quota(const char *mount, const char *rel, int v2)
{
    char dir[PATH_MAX];
    long long best = -1;
    if (snprintf(dir, sizeof dir, "%s%s", mount, strcmp(rel, "/") ? rel : "") >=
        (int)sizeof dir)
        return -1;
    size_t mlen = strlen(mount);
    for (;;) {
        long long q = v2 ? read_v2_quota(dir) : read_v1_quota(dir);
        if (q > 0 && (best < 0 || q < best))
            best = q;
        char *slash = strrchr(dir, '/');
        if (!slash || (size_t)(slash - dir) < mlen)
            break;
        *slash = '\0';
    }
    return best;
}

/* True when the comma-separated list holds tok ("rw,cpu,cpuacct" has
 * "cpu"; "rw,cpuacct" has not). */
static bool has_token(const char *list, const char *tok)
{
    char buf[1100], want[64];
    if (snprintf(buf, sizeof buf, ",%s,", list) >= (int)sizeof buf ||
        snprintf(want, sizeof want, ",%s,", tok) >= (int)sizeof want)
        return false;
    return strstr(buf, want) != NULL;
}

/* From mountinfo, the mount point (prefixed by fsroot) and root of the v2
 * hierarchy (v2 != 0) or of the v1 hierarchy that has the cpu controller. */
static int find_mount(const char *mountinfo, const char *fsroot, int v2,
                      char *mount, size_t msz, char *root, size_t rsz)
{
    FILE *f = fopen(mountinfo, "r");
    if (!f)
        return -1;
    char line[4096];
    int found = -1;
    while (found < 0 && fgets(line, sizeof line, f)) {
        char r[PATH_MAX], mp[PATH_MAX], fstype[64], opts[1024];
        char *sep = strstr(line, " - ");
        if (!sep || sscanf(line, "%*s %*s %*s %1023s %1023s", r, mp) != 2)
            continue;
        if (sscanf(sep + 3, "%63s %*s %1023s", fstype, opts) != 2)
            continue;
        bool match =
            v2 ? strcmp(fstype, "cgroup2") == 0
               : strcmp(fstype, "cgroup") == 0 && has_token(opts, "cpu");
        if (!match)
            continue;
        if (snprintf(mount, msz, "%s%s", fsroot, mp) < (int)msz &&
            snprintf(root, rsz, "%s", r) < (int)rsz)
            found = 0;
    }
    fclose(f);
    return found;
}

/* The path of our cgroup from /proc/self/cgroup: the "0::" line for v2, the
 * line whose controllers include "cpu" for v1. */
static int find_cgroup(const char *proc_cgroup, int v2, char *out, size_t sz)
{
    FILE *f = fopen(proc_cgroup, "r");
    if (!f)
        return -1;
    char line[4096];
    int found = -1;
    while (found < 0 && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        const char *ctrls = c1 + 1;
        bool match;
        if (v2) {
            match = *ctrls == '\0';
        } else {
            match = has_token(ctrls, "cpu");
        }
        if (match) {
            if (snprintf(out, sz, "%s", c2 + 1) < (int)sz)
                found = 0;
        }
    }
    fclose(f);
    return found;
}

static long long hierarchy_quota(const char *proc_cgroup, const char *mountinfo,
                                 const char *fsroot, int v2)
{
    char cg[PATH_MAX], mount[PATH_MAX], root[PATH_MAX];
    if (find_cgroup(proc_cgroup, v2, cg, sizeof cg) != 0 ||
        find_mount(mountinfo, fsroot, v2, mount, sizeof mount, root,
                   sizeof root) != 0)
        return -1;
    /* Inside a container the mount's root is our cgroup's ancestor: strip
     * it so the path is relative to the mount point. */
    const char *rel = cg;
    size_t rl = strlen(root);
    if (strcmp(root, "/") != 0 && strncmp(cg, root, rl) == 0)
        rel = cg + rl;
    if (*rel == '\0')
        rel = "/";
    return tightest_quota(mount, rel, v2);
}

int gort__cgroup_cpu_limit(const char *proc_cgroup, const char *mountinfo,
                           const char *fsroot)
{
    long long q2 = hierarchy_quota(proc_cgroup, mountinfo, fsroot, 1);
    long long q1 = hierarchy_quota(proc_cgroup, mountinfo, fsroot, 0);
    long long q = q2 > 0 && (q1 <= 0 || q2 < q1) ? q2 : q1;
    if (q <= 0)
        return 0;
    return (int)((q + 999999) / 1000000); /* round up: 1.5 CPUs → 2 */
}

int gort__procs_choose(int ncpu, int limit)
{
    int n = ncpu > 0 ? ncpu : 1;
    if (limit > 0) {
        if (limit < 2)
            limit = 2;
        if (limit < n)
            n = limit;
    }
    return n > GORT_MAXPROCS_CAP ? GORT_MAXPROCS_CAP : n;
}

/* Where the default is read from; tests point it at a fake tree. */
static struct gort__procs_source source = {
    .proc_cgroup = "/proc/self/cgroup",
    .mountinfo = "/proc/self/mountinfo",
    .fsroot = "",
};

void gort__procs_set_source(const struct gort__procs_source *src)
{
    static const struct gort__procs_source real = {
        .proc_cgroup = "/proc/self/cgroup",
        .mountinfo = "/proc/self/mountinfo",
        .fsroot = "",
    };
    source = src ? *src : real;
}

int gort__ncpu_default(void)
{
    int ncpu = source.ncpu > 0 ? source.ncpu : affinity_cpus();
    int limit = gort__cgroup_cpu_limit(source.proc_cgroup, source.mountinfo,
                                       source.fsroot);
    return gort__procs_choose(ncpu, limit);
}

int gort_default_procs(void)
{
    return gort__ncpu_default();
}
