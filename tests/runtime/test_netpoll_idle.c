/* test_netpoll_idle.c — a pending gort_fd_on_readable callback (what an
 * idle keep-alive connection is) is a goroutine parked without a stack:
 * gort_goroutines_each and gort_dump_text list it in "IO wait" with its
 * registrant's label and id and one frame naming the callback; the
 * goroutine started for it runs with the id the dump listed; closing its
 * descriptor removes it at once (no ghost entry); stats count it as a live
 * goroutine waiting in IO wait.
 *
 * Built with ENABLE_EXPORTS (-rdynamic) so that dladdr names
 * idle_on_ready. */
#include "rt_test.h"

#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gort/net.h"

#define NPAIRS 32
#define LABEL "idle registrar"

struct conn {
    int sv[2];
    int64_t id;          /* the id the dump listed for its callback */
    int64_t ran_as;      /* gort_id() inside the callback */
    bool look;           /* dump from the callback: who does it run as? */
    int64_t ran_creator; /* its creator, from that dump */
    ssize_t n;           /* what its read returned */
};

static struct conn conns[NPAIRS];
static gort_chan *done;
static int64_t registrar;

void idle_on_ready(void *arg);
void idle_on_ready(void *arg)
{
    struct conn *c = arg;
    struct rt_ginfo gi;
    c->ran_as = gort_id();
    /* Only while no other goroutine is being created: a dump reads a
     * goroutine's fields racily while newg writes them (stats.c). */
    if (c->look && rt_ginfo(c->ran_as, &gi))
        c->ran_creator = gi.creator_id;
    char buf[16];
    c->n = gort_read(c->sv[1], buf, sizeof buf);
    gort_chan_send(done, NULL);
}

/* The pending callbacks of this test, their fields checked. */
struct pending {
    long n;
    int64_t ids[NPAIRS];
};

static int collect_pending(const struct gort_goroutine_info *g, void *arg)
{
    struct pending *p = arg;
    if (!g->start.func || strcmp(g->start.func, "idle_on_ready") != 0 ||
        strcmp(g->state, "IO wait") != 0)
        return 0;
    RT_CHECK_STR(g->wait_reason, "IO wait");
    RT_CHECK_STR(g->label, LABEL);
    RT_CHECK_INT(g->creator_id, ==, registrar);
    RT_CHECK_INT(g->start.pc, ==, (uintptr_t)idle_on_ready);
    RT_CHECK_INT(g->nframes, ==, 1);
    if (g->nframes >= 1) {
        RT_CHECK_STR(g->frames[0].func, "idle_on_ready");
        RT_CHECK_INT(g->frames[0].pc, ==, (uintptr_t)idle_on_ready);
    }
    RT_CHECK(g->id > 0);
    if (p->n < NPAIRS)
        p->ids[p->n] = g->id;
    p->n++;
    return 0;
}

static struct pending pending_now(void)
{
    struct pending p = {0};
    gort_goroutines_each(collect_pending, &p);
    return p;
}

static bool has_id(const struct pending *p, int64_t id)
{
    for (long i = 0; i < p->n && i < NPAIRS; i++)
        if (p->ids[i] == id)
            return true;
    return false;
}

static int count_started(const struct gort_goroutine_info *g, void *arg)
{
    if (g->start.func && strcmp(g->start.func, "idle_on_ready") == 0)
        ++*(long *)arg;
    return 0;
}

static long callbacks_alive(void)
{
    long n = 0;
    gort_goroutines_each(count_started, &n);
    return n;
}

static struct gort_stats stats_now(void)
{
    struct gort_stats s;
    gort_stats_read(&s);
    return s;
}

/* Registers conn i and learns its id: the one new entry in the dump. */
static void register_conn(int i)
{
    struct conn *c = &conns[i];
    RT_CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, c->sv), ==, 0);
    RT_CHECK_INT(gort_fd_open(c->sv[0]), ==, c->sv[0]);
    RT_CHECK_INT(gort_fd_open(c->sv[1]), ==, c->sv[1]);
    struct pending before = pending_now();
    RT_CHECK_INT(gort_fd_on_readable(c->sv[1], idle_on_ready, c), ==, 0);
    struct pending after = pending_now();
    RT_CHECK_INT(after.n, ==, before.n + 1);
    for (long j = 0; j < after.n && j < NPAIRS; j++)
        if (!has_id(&before, after.ids[j]))
            c->id = after.ids[j];
    RT_CHECK(c->id > 0);
}

/* gort_dump_text shows the same entries in Go's shape. */
static void check_text(void)
{
    FILE *f = tmpfile();
    RT_CHECK(f != NULL);
    if (!f)
        return;
    RT_CHECK(gort_dump_text(fileno(f)) > NPAIRS);
    size_t cap = 1 << 20;
    char *text = calloc(1, cap);
    rewind(f);
    size_t len = fread(text, 1, cap - 1, f);
    fclose(f);
    char head[128];
    snprintf(head, sizeof head,
             "goroutine %lld [IO wait] (" LABEL "):\nidle_on_ready(...)\n",
             (long long)conns[0].id);
    RT_CHECK(len > 0 && strstr(text, head) != NULL);
    long n = 0;
    for (char *p = text; (p = strstr(p, "[IO wait] (" LABEL "):\n"
                                        "idle_on_ready(...)\n")) != NULL;
         p++)
        n++;
    RT_CHECK_INT(n, ==, NPAIRS);
    free(text);
}

static void idle_main(void *arg)
{
    (void)arg;
    done = gort_chan_make(0, 0);
    gort_set_label(LABEL);
    registrar = gort_id();
    struct gort_stats s0 = stats_now();
    conns[NPAIRS / 2].look = true; /* before registering: the pd lock
                                      publishes it to the callback */
    for (int i = 0; i < NPAIRS; i++)
        register_conn(i);

    /* NPAIRS goroutines in IO wait, with the registrant's label and id. */
    struct pending p = pending_now();
    RT_CHECK_INT(p.n, ==, NPAIRS);
    for (int i = 0; i < NPAIRS; i++)
        RT_CHECK(has_id(&p, conns[i].id));
    struct gort_stats s1 = stats_now();
    RT_CHECK_INT(s1.g_live, ==, s0.g_live + NPAIRS);
    RT_CHECK_INT(s1.g_waiting, >=, NPAIRS);
    RT_CHECK_INT(s1.io_waiting, ==, s0.io_waiting + NPAIRS);
    check_text();

    /* A byte arrives: the goroutine that runs is the one the dump listed. */
    const int k = NPAIRS / 2;
    RT_CHECK_INT(gort_write(conns[k].sv[0], "ping", 4), ==, 4);
    gort_chan_recv(done, NULL);
    RT_CHECK_INT(conns[k].n, ==, 4);
    RT_CHECK_INT(conns[k].ran_as, ==, conns[k].id);
    RT_CHECK_INT(conns[k].ran_creator, ==, registrar);
    p = pending_now();
    RT_CHECK_INT(p.n, ==, NPAIRS - 1);
    RT_CHECK(!has_id(&p, conns[k].id));

    /* Closing drops the others from the dump at once; each callback then
     * runs (its read fails) with its listed id, and exits. */
    for (int i = 0; i < NPAIRS; i++)
        if (i != k)
            RT_CHECK_INT(gort_close(conns[i].sv[1]), ==, 0);
    RT_CHECK_INT(pending_now().n, ==, 0);
    for (int i = 0; i < NPAIRS - 1; i++)
        gort_chan_recv(done, NULL);
    for (int i = 0; i < NPAIRS; i++) {
        RT_CHECK_INT(conns[i].ran_as, ==, conns[i].id);
        if (i != k)
            RT_CHECK_INT(conns[i].n, ==, -EBADF);
    }
    RT_YIELD_UNTIL(callbacks_alive() == 0);
    struct gort_stats s2 = stats_now();
    RT_CHECK_INT(s2.io_waiting, ==, s0.io_waiting);
    RT_CHECK_INT(s2.g_live, ==, s0.g_live);
    gort_close(conns[k].sv[1]);
    for (int i = 0; i < NPAIRS; i++)
        gort_close(conns[i].sv[0]);
    gort_chan_free(done);
}

static void test_idle_callbacks_in_dump(void **state)
{
    (void)state;
    rt_run(idle_main, NULL);
}

/* A read deadline starts the callback too, with the listed id. */
static void deadline_main(void *arg)
{
    (void)arg;
    done = gort_chan_make(0, 0);
    gort_set_label(LABEL);
    registrar = gort_id();
    struct conn *c = &conns[0];
    memset(c, 0, sizeof *c);
    RT_CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, c->sv), ==, 0);
    RT_CHECK_INT(gort_fd_open(c->sv[1]), ==, c->sv[1]);
    int64_t d = gort_nanotime() + 200 * 1000 * 1000;
    RT_CHECK_INT(gort_set_deadline(c->sv[1], GORT_IO_READ, d), ==, 0);
    RT_CHECK_INT(gort_fd_on_readable(c->sv[1], idle_on_ready, c), ==, 0);
    struct pending p = pending_now();
    RT_CHECK_INT(p.n, ==, 1);
    gort_chan_recv(done, NULL);
    RT_CHECK_INT(c->n, ==, -ETIMEDOUT);
    RT_CHECK_INT(c->ran_as, ==, p.ids[0]);
    RT_CHECK_INT(pending_now().n, ==, 0);
    gort_close(c->sv[1]);
    close(c->sv[0]);
    gort_chan_free(done);
}

static void test_deadline_keeps_id(void **state)
{
    (void)state;
    rt_run(deadline_main, NULL);
}

int main(void)
{
    rt_filter_from_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idle_callbacks_in_dump),
        cmocka_unit_test(test_deadline_keeps_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
