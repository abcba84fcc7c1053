/* group.c — goroutine groups: who is still running code a group owns.
 *
 * gortd may unmap a plugin only when nothing runs its code: no request in
 * its handlers (the loader counts those) and no goroutine its code started,
 * nor any goroutine those started. A group counts the latter. Membership is
 * inherited the way Go's pprof labels are: a goroutine joins the group its
 * creator is in at the moment of gort_go (group_cur, set by
 * gort_group_enter), and its own children join the same one unless it
 * enters another. A callback that the netpoller will start later
 * (gort_fd_on_readable) joins at registration, so the group cannot look
 * empty while code it owns is still due to run.
 *
 * Two counters, no list of members: live (joined, not yet exited) and
 * started (ever joined). The loader waits for live == 0; started lets a
 * test or a dump tell "none yet" from "all done". Why counters and not a
 * list: a join and a leave are two atomic adds on the creating and exiting
 * goroutine's own path, and the loader only ever asks "how many".
 *
 * Memory order. A join adds to live before started (release), so a reader
 * that sees started == N (acquire) sees N joins counted in live. A leave
 * subtracts from live with release after the member's last instruction of
 * user code, so whoever reads live == 0 with acquire sees everything the
 * members did; the goroutine then runs runtime code only, which is never in
 * the plugin.
 */
#include "runtime.h"

static void count_in(struct gort_group *grp)
{
    __atomic_fetch_add(&grp->live, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&grp->started, 1, __ATOMIC_RELEASE);
}

void gort__group_join(struct gort__g *gp, struct gort_group *grp)
{
    gp->group = gp->group_cur = grp;
    if (grp)
        count_in(grp);
}

void gort__group_leave(struct gort__g *gp)
{
    struct gort_group *grp = gp->group;
    gp->group = NULL;
    if (grp)
        __atomic_fetch_sub(&grp->live, 1, __ATOMIC_RELEASE);
}

void gort__group_release(struct gort_group *grp)
{
    if (grp)
        __atomic_fetch_sub(&grp->live, 1, __ATOMIC_RELEASE);
}

struct gort_group *gort__group_join_current(void)
{
    struct gort__g *gp = gort__getg();
    struct gort_group *grp = gp ? gp->group_cur : NULL;
    if (grp)
        count_in(grp);
    return grp;
}

struct gort_group *gort_group_enter(struct gort_group *grp)
{
    struct gort__g *gp = gort__getg();
    if (!gp)
        return NULL;
    struct gort_group *prev = gp->group_cur;
    gp->group_cur = grp;
    return prev;
}

uint64_t gort_group_live(const struct gort_group *grp)
{
    return __atomic_load_n(&grp->live, __ATOMIC_ACQUIRE);
}

uint64_t gort_group_started(const struct gort_group *grp)
{
    return __atomic_load_n(&grp->started, __ATOMIC_ACQUIRE);
}
