/* procs.h — default GOMAXPROCS from affinity and cgroup CPU quotas. */
#ifndef GORT_PROCS_H
#define GORT_PROCS_H

/* The tightest CPU quota (rounded up to whole CPUs) over the process's
 * cgroup and its ancestors, v2 and v1; 0 when none is set. The paths are
 * parameters so tests can point them at a fake tree: fsroot prefixes every
 * mount point found in mountinfo. */
int gort__cgroup_cpu_limit(const char *proc_cgroup, const char *mountinfo,
                           const char *fsroot);

/* The default from the CPU count and a quota-derived limit (0: none): the
 * limit, never below 2, capped by ncpu and GORT_MAXPROCS_CAP (Go 1.25). */
int gort__procs_choose(int ncpu, int limit);

/* The default GOMAXPROCS now, from the source below. */
int gort__ncpu_default(void);

/* Where gort__ncpu_default reads: real /proc and /sys unless a test says
 * otherwise (NULL restores them). ncpu > 0 replaces the affinity count. */
struct gort__procs_source {
    const char *proc_cgroup, *mountinfo, *fsroot;
    int ncpu;
};
void gort__procs_set_source(const struct gort__procs_source *src);

#endif /* GORT_PROCS_H */
