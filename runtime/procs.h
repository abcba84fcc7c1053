/* procs.h — default GOMAXPROCS from affinity and cgroup CPU quotas. */
#ifndef GORT_PROCS_H
#define GORT_PROCS_H

/* The tightest CPU quota (rounded up to whole CPUs) over the process's
 * cgroup and its ancestors, v2 and v1; 0 when none is set. The paths are
 * parameters so tests can point them at a fake tree: fsroot prefixes every
 * mount point found in mountinfo. */
int gort__cgroup_cpu_limit(const char *proc_cgroup, const char *mountinfo,
                           const char *fsroot);
int gort__ncpu_default(void);

#endif /* GORT_PROCS_H */
