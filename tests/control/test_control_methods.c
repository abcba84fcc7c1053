/* test_control_methods.c — gort.v1.Control's and grpc.health.v1.Health's
 * real handlers on the real runtime, called through the dispatcher the way
 * the gRPC transport calls them (bytes in, status and bytes out), from a
 * thread that is not a goroutine, as the control thread is.
 *
 * Six goroutines park on a channel that is never written (one labelled) and
 * stay parked for the whole test, so the dump has a known shape.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "gort/gort.h"
#include "gort/stats.h"
#include "gort/v1/control.pb-c.h"
#include "grpc/health/v1/health.pb-c.h"
#include "grpc/reflection/v1/reflection.pb-c.h"

#include "control/control.h"
#include "control/dispatch.h"
#include "control/methods.h"
#include "common/clock.h"

#define PARKED 6

static struct ctl_dispatch dispatch;
static const struct ctl_env serving = {INT64_MAX, 0};
static const struct ctl_env draining = {INT64_MAX, 1};
static gort_chan *never;

static void parked(void *arg)
{
    (void)arg;
    gort_chan_recv(never, NULL);
}

static void spawn(void *arg)
{
    (void)arg;
    never = gort_chan_make(0, 0);
    for (int i = 0; i < PARKED; i++) {
        struct gort_go_opts o = {.label = i == 2 ? "worker two" : NULL};
        gort_go_opts(parked, NULL, &o);
    }
}

/* Packs req, dispatches it to path, unpacks the reply as `out` (if OK). */
static ProtobufCMessage *call(const char *path, const ProtobufCMessage *req,
                              const struct ctl_env *env, struct ctl_reply *rep)
{
    struct ctl_route r;
    uint8_t buf[512];
    assert_int_equal(
        ctl_dispatch_lookup(&dispatch, path, strlen(path), &r, rep), 0);
    size_t len = protobuf_c_message_pack(req, buf);
    ctl_dispatch_unary(&dispatch, &r, buf, len, env, rep);
    if (rep->code != GRPC_STATUS_OK)
        return NULL;
    ProtobufCMessage *m =
        protobuf_c_message_unpack(r.method->output, NULL, rep->len, rep->data);
    assert_non_null(m);
    ctl_reply_clear(rep);
    return m;
}

/* ---- GetStats, SetMaxProcs ---------------------------------------------- */

static void get_stats(void **state)
{
    (void)state;
    struct ctl_reply rep;
    Gort__V1__GetStatsRequest req = GORT__V1__GET_STATS_REQUEST__INIT;
    Gort__V1__Stats *s = (Gort__V1__Stats *)call("/gort.v1.Control/GetStats",
                                                 &req.base, &serving, &rep);
    assert_non_null(s);
    assert_int_equal(s->gomaxprocs, gort_gomaxprocs(0));
    assert_true(s->n_procs >= (size_t)s->gomaxprocs);
    assert_true(s->goroutines->waiting >= PARKED);
    assert_true(s->goroutines->live >= PARKED);
    assert_int_equal(s->sched_latency->n_bounds_ns, GORT_LAT_BUCKETS - 1);
    assert_int_equal(s->sched_latency->n_counts, GORT_LAT_BUCKETS);
    assert_true(s->uptime_ns > 0);
    assert_true(s->version[0] != '\0');
    assert_true(s->timestamp_unix_ns > 0);
    protobuf_c_message_free_unpacked(&s->base, NULL);
}

static void set_max_procs_range(void **state)
{
    (void)state;
    struct ctl_reply rep;
    Gort__V1__SetMaxProcsRequest req = GORT__V1__SET_MAX_PROCS_REQUEST__INIT;
    const int32_t bad[] = {0, -1, GORT_MAXPROCS_CAP + 1, INT32_MIN, INT32_MAX};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        req.maxprocs = bad[i];
        assert_null(
            call("/gort.v1.Control/SetMaxProcs", &req.base, &serving, &rep));
        assert_int_equal(rep.code, GRPC_STATUS_INVALID_ARGUMENT);
        assert_non_null(strstr(rep.msg, "allowed 1..256"));
    }
    int before = gort_gomaxprocs(0);
    const int32_t steps[] = {1, 4, 2};
    for (size_t i = 0; i < 3; i++) {
        req.maxprocs = steps[i];
        Gort__V1__SetMaxProcsReply *r = (Gort__V1__SetMaxProcsReply *)call(
            "/gort.v1.Control/SetMaxProcs", &req.base, &serving, &rep);
        assert_non_null(r);
        assert_int_equal(r->previous, i ? steps[i - 1] : before);
        assert_int_equal(r->current, steps[i]);
        assert_int_equal(gort_gomaxprocs(0), steps[i]);
        assert_true(r->took_ns >= 0);
        protobuf_c_message_free_unpacked(&r->base, NULL);
    }
    gort_gomaxprocs(before);
}

/* ---- DumpGoroutines ----------------------------------------------------- */

static Gort__V1__DumpGoroutinesReply *dump(const char *st, const char *label,
                                           uint32_t limit, int view,
                                           int64_t min_wait)
{
    struct ctl_reply rep;
    Gort__V1__DumpGoroutinesRequest req =
        GORT__V1__DUMP_GOROUTINES_REQUEST__INIT;
    req.state = (char *)st;
    req.label = (char *)label;
    req.limit = limit;
    req.view = view;
    req.min_wait_ns = min_wait;
    ProtobufCMessage *m =
        call("/gort.v1.Control/DumpGoroutines", &req.base, &serving, &rep);
    assert_non_null(m);
    return (Gort__V1__DumpGoroutinesReply *)m;
}

static char *runtime_dump_text(void)
{
    int fd = memfd_create("dump", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_true(gort_dump_text(fd) >= PARKED);
    off_t len = lseek(fd, 0, SEEK_END);
    char *buf = calloc(1, (size_t)len + 1);
    assert_int_equal(pread(fd, buf, (size_t)len, 0), len);
    close(fd);
    return buf;
}

static void dump_text_matches_runtime(void **state)
{
    (void)state;
    char *want = runtime_dump_text();
    Gort__V1__DumpGoroutinesReply *r =
        dump("", "", 0, GORT__V1__DUMP_GOROUTINES_REQUEST__VIEW__TEXT, 0);
    assert_string_equal(r->text, want);
    assert_int_equal(r->n_goroutines, 0); /* TEXT only */
    assert_true(r->matched >= PARKED);
    free(want);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void dump_structured(void **state)
{
    (void)state;
    Gort__V1__DumpGoroutinesReply *r =
        dump("chan receive", "", 0,
             GORT__V1__DUMP_GOROUTINES_REQUEST__VIEW__STRUCTURED, 0);
    assert_int_equal(r->matched, PARKED);
    assert_int_equal(r->n_goroutines, PARKED);
    assert_string_equal(r->text, "");
    assert_false(r->truncated);
    for (size_t i = 0; i < r->n_goroutines; i++) {
        const Gort__V1__Goroutine *g = r->goroutines[i];
        assert_string_equal(g->wait_reason, "chan receive");
        assert_true(g->n_frames > 0); /* parked: walked from its saved frame */
        assert_true(g->creator_id > 0);
        assert_non_null(g->created_by);
        assert_true(g->waiting_since_unix_ns == 0 ||
                    g->waiting_since_unix_ns <= now_unix_ns());
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void dump_filters(void **state)
{
    (void)state;
    Gort__V1__DumpGoroutinesReply *r =
        dump("CHAN RECEIVE", "two", 0,
             GORT__V1__DUMP_GOROUTINES_REQUEST__VIEW__BOTH, 0);
    assert_int_equal(r->matched, 1);
    assert_string_equal(r->goroutines[0]->label, "worker two");
    assert_non_null(strstr(r->text, "] (worker two):\n"));
    protobuf_c_message_free_unpacked(&r->base, NULL);

    r = dump("chan receive", "", 2,
             GORT__V1__DUMP_GOROUTINES_REQUEST__VIEW__BOTH, 0);
    assert_int_equal(r->matched, 2);
    assert_int_equal(r->n_goroutines, 2);
    assert_true(r->truncated);
    protobuf_c_message_free_unpacked(&r->base, NULL);

    r = dump("", "", 0, GORT__V1__DUMP_GOROUTINES_REQUEST__VIEW__BOTH,
             INT64_C(3600000000000));
    assert_int_equal(r->matched, 0);
    assert_string_equal(r->text, "");
    protobuf_c_message_free_unpacked(&r->base, NULL);

    r = dump("no such state", "", 0,
             GORT__V1__DUMP_GOROUTINES_REQUEST__VIEW__BOTH, 0);
    assert_int_equal(r->matched, 0);
    assert_true(r->live >= PARKED);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void dump_bad_input(void **state)
{
    (void)state;
    struct ctl_reply rep;
    Gort__V1__DumpGoroutinesRequest req =
        GORT__V1__DUMP_GOROUTINES_REQUEST__INIT;
    const struct ctl_env past = {now_mono_ns() - 1, 0};

    req.min_wait_ns = -5;
    assert_null(
        call("/gort.v1.Control/DumpGoroutines", &req.base, &serving, &rep));
    assert_int_equal(rep.code, GRPC_STATUS_INVALID_ARGUMENT);
    req.min_wait_ns = 0;
    assert_null(
        call("/gort.v1.Control/DumpGoroutines", &req.base, &past, &rep));
    assert_int_equal(rep.code, GRPC_STATUS_DEADLINE_EXCEEDED);
}

/* ---- plugins: before gortd set a catalog --------------------------------- */

static void plugin_rpcs(void **state)
{
    (void)state;
    struct ctl_reply rep;
    Gort__V1__ListRoutesRequest routes = GORT__V1__LIST_ROUTES_REQUEST__INIT;
    Gort__V1__LoadPluginRequest load = GORT__V1__LOAD_PLUGIN_REQUEST__INIT;
    const char *bad[] = {"", "../hello", "/abs/hello.so", "..", "a/b"};

    /* No catalog set (no gortd here): an empty route list. */
    Gort__V1__ListRoutesReply *lr = (Gort__V1__ListRoutesReply *)call(
        "/gort.v1.Control/ListRoutes", &routes.base, &serving, &rep);
    assert_non_null(lr);
    assert_int_equal(rep.code, GRPC_STATUS_OK);
    assert_int_equal(lr->n_routes, 0);
    protobuf_c_message_free_unpacked(&lr->base, NULL);
    load.name = "hello";
    assert_null(
        call("/gort.v1.Control/LoadPlugin", &load.base, &serving, &rep));
    assert_int_equal(rep.code, GRPC_STATUS_UNAVAILABLE); /* no loader yet */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        load.name = (char *)bad[i];
        assert_null(
            call("/gort.v1.Control/LoadPlugin", &load.base, &serving, &rep));
        assert_int_equal(rep.code, GRPC_STATUS_INVALID_ARGUMENT);
    }
}

/* ---- streams: WatchStats, Health.Watch ---------------------------------- */

static enum ctl_next step(struct ctl_stream *st, const struct ctl_env *env,
                          struct ctl_reply *rep, int64_t *next_at)
{
    return ctl_stream_next(&dispatch, st, env, rep, next_at);
}

static int open_stream(const char *path, const ProtobufCMessage *req,
                       struct ctl_stream *st, struct ctl_reply *rep)
{
    struct ctl_route r;
    uint8_t buf[256];
    assert_int_equal(
        ctl_dispatch_lookup(&dispatch, path, strlen(path), &r, rep), 0);
    size_t len = protobuf_c_message_pack(req, buf);
    return ctl_stream_open(&dispatch, &r, buf, len, &serving, st, rep);
}

static void watch_stats(void **state)
{
    (void)state;
    struct ctl_reply rep;
    struct ctl_stream st;
    int64_t next_at;
    Gort__V1__WatchStatsRequest req = GORT__V1__WATCH_STATS_REQUEST__INIT;

    req.interval_ms = 5;
    assert_int_equal(
        open_stream("/gort.v1.Control/WatchStats", &req.base, &st, &rep), -1);
    assert_int_equal(rep.code, GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(rep.msg, "allowed 10..3600000"));

    req.interval_ms = 50;
    req.count = 2;
    assert_int_equal(
        open_stream("/gort.v1.Control/WatchStats", &req.base, &st, &rep), 0);
    int64_t t0 = now_mono_ns();
    assert_int_equal(step(&st, &serving, &rep, &next_at), CTL_NEXT_SEND);
    assert_true(next_at >= t0 + 50000000);
    assert_true(rep.len > 0);
    ctl_reply_clear(&rep);
    assert_int_equal(step(&st, &serving, &rep, &next_at), CTL_NEXT_SEND);
    ctl_reply_clear(&rep);
    assert_int_equal(step(&st, &serving, &rep, &next_at), CTL_NEXT_END);
    assert_int_equal(rep.code, GRPC_STATUS_OK);
    ctl_stream_close(&st);

    req.count = 0; /* unbounded: ends when the server drains */
    assert_int_equal(
        open_stream("/gort.v1.Control/WatchStats", &req.base, &st, &rep), 0);
    assert_int_equal(step(&st, &draining, &rep, &next_at), CTL_NEXT_END);
    assert_int_equal(rep.code, GRPC_STATUS_OK);
    ctl_stream_close(&st);
}

static int health_status(const struct ctl_reply *rep)
{
    /* A status of UNKNOWN (0) packs to zero bytes: unpack still works. */
    Grpc__Health__V1__HealthCheckResponse *h =
        grpc__health__v1__health_check_response__unpack(NULL, rep->len,
                                                        rep->data);
    assert_non_null(h);
    int st = h->status;
    grpc__health__v1__health_check_response__free_unpacked(h, NULL);
    return st;
}

static void health_check(void **state)
{
    (void)state;
    struct ctl_reply rep;
    Grpc__Health__V1__HealthCheckRequest req =
        GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    const char *known[] = {"", "gort.v1.Control", "grpc.health.v1.Health"};

    for (size_t i = 0; i < 3; i++) {
        req.service = (char *)known[i];
        Grpc__Health__V1__HealthCheckResponse *h =
            (Grpc__Health__V1__HealthCheckResponse *)call(
                "/grpc.health.v1.Health/Check", &req.base, &serving, &rep);
        assert_int_equal(
            h->status,
            GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
        protobuf_c_message_free_unpacked(&h->base, NULL);
        h = (Grpc__Health__V1__HealthCheckResponse *)call(
            "/grpc.health.v1.Health/Check", &req.base, &draining, &rep);
        assert_int_equal(
            h->status,
            GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING);
        protobuf_c_message_free_unpacked(&h->base, NULL);
    }
    req.service = "no.such.Service";
    assert_null(
        call("/grpc.health.v1.Health/Check", &req.base, &serving, &rep));
    assert_int_equal(rep.code, GRPC_STATUS_NOT_FOUND);
}

static void health_watch(void **state)
{
    (void)state;
    struct ctl_reply rep;
    struct ctl_stream st;
    int64_t next_at;
    Grpc__Health__V1__HealthCheckRequest req =
        GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;

    assert_int_equal(
        open_stream("/grpc.health.v1.Health/Watch", &req.base, &st, &rep), 0);
    assert_int_equal(step(&st, &serving, &rep, &next_at), CTL_NEXT_SEND);
    assert_int_equal(health_status(&rep), 1 /* SERVING */);
    ctl_reply_clear(&rep);
    assert_int_equal(step(&st, &serving, &rep, &next_at), CTL_NEXT_IDLE);
    /* Not "until woken": it looks again within a second, for the drain
     * flag that nothing wakes streams for. */
    assert_true(next_at <= gort_nanotime() + 1000000000LL);
    assert_int_equal(step(&st, &draining, &rep, &next_at), CTL_NEXT_SEND);
    assert_int_equal(health_status(&rep), 2 /* NOT_SERVING */);
    ctl_reply_clear(&rep);
    assert_int_equal(step(&st, &draining, &rep, &next_at), CTL_NEXT_END);
    assert_int_equal(rep.code, GRPC_STATUS_OK);
    ctl_stream_close(&st);

    req.service = "no.such.Service"; /* Watch reports, does not fail */
    assert_int_equal(
        open_stream("/grpc.health.v1.Health/Watch", &req.base, &st, &rep), 0);
    assert_int_equal(step(&st, &serving, &rep, &next_at), CTL_NEXT_SEND);
    assert_int_equal(health_status(&rep), 3 /* SERVICE_UNKNOWN */);
    ctl_reply_clear(&rep);
    ctl_stream_close(&st);
}

/* Reflection echoes the request in original_request. protobuf-c accepts an
 * unknown field whose tag is an overlong varint of field 0 ("80 00") and
 * would write it back as "00", which no parser reads: the whole reply was
 * unparseable (fuzz_control: tests/fuzz/corpus/control/regress_reflection_
 * echo_*). The echo drops unknown fields, at the top and in the extension
 * request; the known ones are echoed as sent. */
static void reflection_echo_unknown_fields(void **state)
{
    (void)state;
    static const uint8_t top[] = {0x3a, 0x00, 0x80, 0x00, 0x09};
    static const uint8_t ext[] = {0x2a, 0x06, 0x0a, 0x01,
                                  0x61, 0x80, 0x00, 0x09};
    const struct {
        const uint8_t *p;
        size_t n;
    } reqs[] = {{top, sizeof top}, {ext, sizeof ext}};
    const char *path = "/grpc.reflection.v1.ServerReflection/"
                       "ServerReflectionInfo";
    struct ctl_route r;
    struct ctl_reply rep;

    assert_int_equal(
        ctl_dispatch_lookup(&dispatch, path, strlen(path), &r, &rep), 0);
    for (size_t i = 0; i < 2; i++) {
        ctl_dispatch_unary(&dispatch, &r, reqs[i].p, reqs[i].n, &serving, &rep);
        assert_int_equal(rep.code, GRPC_STATUS_OK);
        Grpc__Reflection__V1__ServerReflectionResponse *out =
            grpc__reflection__v1__server_reflection_response__unpack(
                NULL, rep.len, rep.data);
        assert_non_null(out);
        assert_non_null(out->original_request);
        assert_int_equal(out->original_request->base.n_unknown_fields, 0);
        if (i == 1) {
            assert_non_null(out->original_request->file_containing_extension);
            assert_string_equal(out->original_request->file_containing_extension
                                    ->containing_type,
                                "a");
        }
        grpc__reflection__v1__server_reflection_response__free_unpacked(out,
                                                                        NULL);
        ctl_reply_clear(&rep);
    }
}

/* ctl_health_drain: NOT_SERVING from the start of the drain, while the
 * control plane itself still runs (env not shutting down). It sets a
 * process-wide flag for good, so this test runs last. */
static void health_drain(void **state)
{
    (void)state;
    struct ctl_reply rep;
    struct ctl_stream st;
    int64_t next_at;
    Grpc__Health__V1__HealthCheckRequest req =
        GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;

    assert_int_equal(
        open_stream("/grpc.health.v1.Health/Watch", &req.base, &st, &rep), 0);
    assert_int_equal(step(&st, &serving, &rep, &next_at), CTL_NEXT_SEND);
    assert_int_equal(health_status(&rep), 1 /* SERVING */);
    ctl_reply_clear(&rep);

    ctl_health_drain();
    Grpc__Health__V1__HealthCheckResponse *h =
        (Grpc__Health__V1__HealthCheckResponse *)call(
            "/grpc.health.v1.Health/Check", &req.base, &serving, &rep);
    assert_int_equal(
        h->status,
        GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING);
    protobuf_c_message_free_unpacked(&h->base, NULL);
    /* The watcher's next look tells it. */
    assert_int_equal(step(&st, &serving, &rep, &next_at), CTL_NEXT_SEND);
    assert_int_equal(health_status(&rep), 2 /* NOT_SERVING */);
    ctl_reply_clear(&rep);
    assert_int_equal(step(&st, &serving, &rep, &next_at), CTL_NEXT_IDLE);
    ctl_stream_close(&st);
}

static int setup_runtime(void **state)
{
    (void)state;
    char err[256];
    struct gort_stats *s = calloc(1, sizeof *s);

    if (ctl_methods_register(&dispatch, err, sizeof err) < 0) {
        fprintf(stderr, "register: %s\n", err);
        return -1;
    }
    if (gort_main(spawn, NULL) < 0)
        return -1;
    for (int i = 0; i < 500; i++) { /* until all six have parked */
        if (gort_stats_read(s) == 0 && s->g_waiting >= PARKED)
            break;
        usleep(2000);
    }
    int ok = s->g_waiting >= PARKED;
    free(s);
    return ok ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(get_stats),
        cmocka_unit_test(set_max_procs_range),
        cmocka_unit_test(dump_text_matches_runtime),
        cmocka_unit_test(dump_structured),
        cmocka_unit_test(dump_filters),
        cmocka_unit_test(dump_bad_input),
        cmocka_unit_test(plugin_rpcs),
        cmocka_unit_test(watch_stats),
        cmocka_unit_test(health_check),
        cmocka_unit_test(health_watch),
        cmocka_unit_test(reflection_echo_unknown_fields),
        cmocka_unit_test(health_drain), /* last: the flag stays set */
    };
    return cmocka_run_group_tests(tests, setup_runtime, NULL);
}
