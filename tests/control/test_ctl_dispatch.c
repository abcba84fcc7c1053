/* test_ctl_dispatch.c — the descriptor-driven dispatcher, without gRPC or a
 * runtime: the real generated descriptors of gort.v1.Control and
 * grpc.health.v1.Health with mock handler tables.
 *
 * Covers: every method is found by its gRPC path at its descriptor index;
 * unknown services, unknown methods and malformed paths are UNIMPLEMENTED;
 * undecodable requests are INVALID_ARGUMENT naming the input type and never
 * reach the handler; handler statuses and replies round-trip; an expired
 * deadline stops the handler; registration rejects tables that drifted from
 * the .proto; streams go through open/next/END; an allocation that fails
 * while building a reply answers RESOURCE_EXHAUSTED instead of aborting
 * (issue 10, item 16).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gort/v1/control.pb-c.h"
#include "grpc/health/v1/health.pb-c.h"

#include "control/dispatch.h"
#include "common/clock.h"

static int calls; /* handler invocations */

/* More than any machine has: malloc fails (and the sanitizers are told to
 * return NULL for it rather than report). */
#define HUGE ((size_t)1 << 62)

const char *__asan_default_options(void);
const char *__tsan_default_options(void);
__attribute__((used)) const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}
__attribute__((used)) const char *__tsan_default_options(void)
{
    return "allocator_may_return_null=1";
}

static grpc_status_code h_echo_procs(const ProtobufCMessage *in,
                                     ProtobufCMessage *out, struct ctl_ctx *cx)
{
    const Gort__V1__SetMaxProcsRequest *req =
        (const Gort__V1__SetMaxProcsRequest *)in;
    Gort__V1__SetMaxProcsReply *rep = (Gort__V1__SetMaxProcsReply *)out;
    calls++;
    if (req->maxprocs == 99) { /* a reply too big to build */
        assert_null(ctl_arena_alloc(cx->arena, HUGE));
        rep->current = 99;
        return GRPC_STATUS_OK;
    }
    if (req->maxprocs == 13)
        return ctl_fail(cx, GRPC_STATUS_FAILED_PRECONDITION, "unlucky %d",
                        req->maxprocs);
    rep->previous = req->maxprocs - 1;
    rep->current = req->maxprocs;
    return GRPC_STATUS_OK;
}

static grpc_status_code h_ok(const ProtobufCMessage *in, ProtobufCMessage *out,
                             struct ctl_ctx *cx)
{
    (void)in, (void)out, (void)cx;
    calls++;
    return GRPC_STATUS_OK;
}

/* A stream that sends `count` Stats, one IDLE step in between, then ends. */
struct ticks {
    uint32_t count, sent;
    int idled;
};

static grpc_status_code t_open(const ProtobufCMessage *in, void *state,
                               struct ctl_ctx *cx)
{
    const Gort__V1__WatchStatsRequest *req =
        (const Gort__V1__WatchStatsRequest *)in;
    struct ticks *t = state;
    calls++;
    if (req->interval_ms == 1)
        return ctl_fail(cx, GRPC_STATUS_INVALID_ARGUMENT, "too fast");
    t->count = req->count;
    return GRPC_STATUS_OK;
}

static enum ctl_next t_next(void *state, ProtobufCMessage *out,
                            struct ctl_ctx *cx, int64_t *next_at)
{
    struct ticks *t = state;
    if (t->count == 99) { /* a message too big to build */
        assert_null(ctl_arena_array(cx->arena, HUGE, 2));
        return CTL_NEXT_SEND;
    }
    if (t->sent == t->count)
        return CTL_NEXT_END;
    if (!t->idled) {
        t->idled = 1;
        *next_at = 42;
        return CTL_NEXT_IDLE;
    }
    t->idled = 0;
    Gort__V1__Stats *s = (Gort__V1__Stats *)out;
    s->gomaxprocs = (int32_t)++t->sent;
    s->version = ctl_arena_strdup(cx->arena, "test");
    return CTL_NEXT_SEND;
}

static const struct ctl_stream_ops ticks_ops = {sizeof(struct ticks), t_open,
                                                t_next};

static const struct ctl_handler control_mock[] = {
    {"GetStats", h_ok, NULL, 0, 0, 0},
    {"WatchStats", NULL, &ticks_ops, 0, 0, 0},
    {"SetMaxProcs", h_echo_procs, NULL, 0, 0, 0},
    {"DumpGoroutines", h_ok, NULL, 0, 0, 0},
    {"ListRoutes", h_ok, NULL, 0, 0, 0},
    {"ListPlugins", h_ok, NULL, 0, 0, 0},
    {"LoadPlugin", h_ok, NULL, 0, 0, 0},
    {"UnloadPlugin", h_ok, NULL, 0, 0, 0},
    {"ReplacePlugin", h_ok, NULL, 0, 0, 0},
};
static const struct ctl_handler health_mock[] = {
    {"Check", h_ok, NULL, 0, 0, 0},
    {"Watch", NULL, &ticks_ops, 0, 0, 0},
};
#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct ctl_env no_deadline = {INT64_MAX, 0};

static int setup(void **state)
{
    static struct ctl_dispatch d;
    char err[256] = "";
    memset(&d, 0, sizeof d);
    if (ctl_dispatch_add(&d, &gort__v1__control__descriptor, control_mock,
                         N(control_mock), err, sizeof err) < 0 ||
        ctl_dispatch_add(&d, &grpc__health__v1__health__descriptor, health_mock,
                         N(health_mock), err, sizeof err) < 0) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    calls = 0;
    *state = &d;
    return 0;
}

static int lookup(const struct ctl_dispatch *d, const char *path,
                  struct ctl_route *r, struct ctl_reply *rep)
{
    return ctl_dispatch_lookup(d, path, strlen(path), r, rep);
}

/* ---- lookup ------------------------------------------------------------- */

static void every_method_found(void **state)
{
    const struct ctl_dispatch *d = *state;
    const ProtobufCServiceDescriptor *sds[] = {
        &gort__v1__control__descriptor, &grpc__health__v1__health__descriptor};
    for (size_t s = 0; s < 2; s++) {
        for (unsigned i = 0; i < sds[s]->n_methods; i++) {
            char path[128];
            struct ctl_route r;
            struct ctl_reply rep;
            snprintf(path, sizeof path, "/%s/%s", sds[s]->name,
                     sds[s]->methods[i].name);
            assert_int_equal(lookup(d, path, &r, &rep), 0);
            assert_int_equal(r.index, i);
            assert_ptr_equal(r.method, &sds[s]->methods[i]);
            assert_string_equal(r.handler->name, sds[s]->methods[i].name);
        }
    }
    assert_non_null(ctl_dispatch_service(d, "grpc.health.v1.Health"));
    assert_null(ctl_dispatch_service(d, "grpc.health.v1"));
}

static void unknown_is_unimplemented(void **state)
{
    const struct ctl_dispatch *d = *state;
    struct ctl_route r;
    struct ctl_reply rep;

    assert_int_equal(lookup(d, "/gort.v1.Control/Nope", &r, &rep), -1);
    assert_int_equal(rep.code, GRPC_STATUS_UNIMPLEMENTED);
    assert_string_equal(rep.msg,
                        "unknown method Nope for service gort.v1.Control");

    assert_int_equal(lookup(d, "/other.Svc/GetStats", &r, &rep), -1);
    assert_int_equal(rep.code, GRPC_STATUS_UNIMPLEMENTED);
    assert_string_equal(rep.msg, "unknown service other.Svc");

    /* Case matters, as in every gRPC server. */
    assert_int_equal(lookup(d, "/gort.v1.Control/getstats", &r, &rep), -1);
    assert_int_equal(rep.code, GRPC_STATUS_UNIMPLEMENTED);
}

static void malformed_paths(void **state)
{
    const struct ctl_dispatch *d = *state;
    const char *bad[] = {"",
                         "/",
                         "GetStats",
                         "/gort.v1.Control",
                         "/gort.v1.Control/",
                         "//GetStats",
                         "gort.v1.Control/GetStats",
                         "/gort.v1.Control/GetStats/x"};
    char longname[400];
    struct ctl_route r;
    struct ctl_reply rep;

    for (size_t i = 0; i < N(bad); i++) {
        assert_int_equal(lookup(d, bad[i], &r, &rep), -1);
        assert_int_equal(rep.code, GRPC_STATUS_UNIMPLEMENTED);
    }
    snprintf(longname, sizeof longname, "/gort.v1.Control/%0300d", 7);
    assert_int_equal(lookup(d, longname, &r, &rep), -1);
    assert_int_equal(rep.code, GRPC_STATUS_UNIMPLEMENTED);
    assert_true(strlen(rep.msg) < sizeof rep.msg);
}

/* ---- unary -------------------------------------------------------------- */

static void unary_round_trip(void **state)
{
    const struct ctl_dispatch *d = *state;
    struct ctl_route r;
    struct ctl_reply rep;
    Gort__V1__SetMaxProcsRequest req = GORT__V1__SET_MAX_PROCS_REQUEST__INIT;
    uint8_t buf[64];

    req.maxprocs = 4;
    size_t len = protobuf_c_message_pack(&req.base, buf);
    assert_int_equal(lookup(d, "/gort.v1.Control/SetMaxProcs", &r, &rep), 0);
    ctl_dispatch_unary(d, &r, buf, len, &no_deadline, &rep);
    assert_int_equal(rep.code, GRPC_STATUS_OK);
    assert_int_equal(calls, 1);
    Gort__V1__SetMaxProcsReply *out =
        gort__v1__set_max_procs_reply__unpack(NULL, rep.len, rep.data);
    assert_non_null(out);
    assert_int_equal(out->previous, 3);
    assert_int_equal(out->current, 4);
    gort__v1__set_max_procs_reply__free_unpacked(out, NULL);
    ctl_reply_clear(&rep);
}

static void undecodable_is_invalid_argument(void **state)
{
    const struct ctl_dispatch *d = *state;
    struct ctl_route r;
    struct ctl_reply rep;
    const uint8_t junk[][4] = {{0xff, 0xff, 0xff}, {0x08}, {0x0a, 0x05, 'a'}};
    const size_t lens[] = {3, 1, 3};

    assert_int_equal(lookup(d, "/gort.v1.Control/SetMaxProcs", &r, &rep), 0);
    for (size_t i = 0; i < N(lens); i++) {
        ctl_dispatch_unary(d, &r, junk[i], lens[i], &no_deadline, &rep);
        assert_int_equal(rep.code, GRPC_STATUS_INVALID_ARGUMENT);
        assert_string_equal(rep.msg, "cannot parse gort.v1.SetMaxProcsRequest");
        assert_null(rep.data);
    }
    assert_int_equal(calls, 0);
}

static void empty_request_is_default(void **state)
{
    const struct ctl_dispatch *d = *state;
    struct ctl_route r;
    struct ctl_reply rep;

    assert_int_equal(lookup(d, "/gort.v1.Control/SetMaxProcs", &r, &rep), 0);
    ctl_dispatch_unary(d, &r, NULL, 0, &no_deadline, &rep);
    assert_int_equal(rep.code, GRPC_STATUS_OK);
    assert_int_equal(calls, 1);
    Gort__V1__SetMaxProcsReply *out =
        gort__v1__set_max_procs_reply__unpack(NULL, rep.len, rep.data);
    assert_int_equal(out->current, 0);
    gort__v1__set_max_procs_reply__free_unpacked(out, NULL);
    ctl_reply_clear(&rep);

    /* A reply at its defaults is zero bytes, and still OK. */
    assert_int_equal(lookup(d, "/gort.v1.Control/GetStats", &r, &rep), 0);
    ctl_dispatch_unary(d, &r, NULL, 0, &no_deadline, &rep);
    assert_int_equal(rep.code, GRPC_STATUS_OK);
    assert_int_equal(rep.len, 0);
}

static void handler_status_propagates(void **state)
{
    const struct ctl_dispatch *d = *state;
    struct ctl_route r;
    struct ctl_reply rep;
    Gort__V1__SetMaxProcsRequest req = GORT__V1__SET_MAX_PROCS_REQUEST__INIT;
    uint8_t buf[64];

    req.maxprocs = 13;
    size_t len = protobuf_c_message_pack(&req.base, buf);
    assert_int_equal(lookup(d, "/gort.v1.Control/SetMaxProcs", &r, &rep), 0);
    ctl_dispatch_unary(d, &r, buf, len, &no_deadline, &rep);
    assert_int_equal(rep.code, GRPC_STATUS_FAILED_PRECONDITION);
    assert_string_equal(rep.msg, "unlucky 13");
    assert_null(rep.data);
}

static void expired_deadline_skips_handler(void **state)
{
    const struct ctl_dispatch *d = *state;
    struct ctl_route r;
    struct ctl_reply rep;
    struct ctl_env past = {now_mono_ns() - 1, 0};

    assert_int_equal(lookup(d, "/gort.v1.Control/SetMaxProcs", &r, &rep), 0);
    ctl_dispatch_unary(d, &r, NULL, 0, &past, &rep);
    assert_int_equal(rep.code, GRPC_STATUS_DEADLINE_EXCEEDED);
    assert_int_equal(calls, 0);
}

/* ---- registration ------------------------------------------------------- */

static void registration_checks_table(void **state)
{
    (void)state;
    struct ctl_dispatch d;
    char err[256];
    struct ctl_handler swapped[N(control_mock)];
    const struct ctl_handler both[] = {{"Check", h_ok, &ticks_ops, 0, 0, 0},
                                       {"Watch", NULL, &ticks_ops, 0, 0, 0}};

    memset(&d, 0, sizeof d);
    assert_int_equal(ctl_dispatch_add(&d, &gort__v1__control__descriptor,
                                      control_mock, N(control_mock) - 1, err,
                                      sizeof err),
                     -1);
    assert_non_null(strstr(err, "8 handlers for 9 methods"));

    memcpy(swapped, control_mock, sizeof swapped);
    swapped[0] = control_mock[2];
    swapped[2] = control_mock[0];
    assert_int_equal(ctl_dispatch_add(&d, &gort__v1__control__descriptor,
                                      swapped, N(swapped), err, sizeof err),
                     -1);
    assert_non_null(strstr(
        err, "handler 0 is for SetMaxProcs, the descriptor says GetStats"));

    assert_int_equal(ctl_dispatch_add(&d, &grpc__health__v1__health__descriptor,
                                      both, N(both), err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "exactly one of unary, stream"));

    assert_int_equal(ctl_dispatch_add(&d, &grpc__health__v1__health__descriptor,
                                      health_mock, N(health_mock), err,
                                      sizeof err),
                     0);
    assert_int_equal(ctl_dispatch_add(&d, &grpc__health__v1__health__descriptor,
                                      health_mock, N(health_mock), err,
                                      sizeof err),
                     -1);
    assert_non_null(strstr(err, "registered twice"));
    assert_int_equal(d.n, 1);
}

/* ---- streams ------------------------------------------------------------ */

static void stream_steps(void **state)
{
    const struct ctl_dispatch *d = *state;
    struct ctl_route r;
    struct ctl_reply rep;
    struct ctl_stream st;
    Gort__V1__WatchStatsRequest req = GORT__V1__WATCH_STATS_REQUEST__INIT;
    uint8_t buf[32];
    int64_t next_at;

    req.count = 2;
    size_t len = protobuf_c_message_pack(&req.base, buf);
    assert_int_equal(lookup(d, "/gort.v1.Control/WatchStats", &r, &rep), 0);
    assert_non_null(r.handler->stream);
    assert_int_equal(ctl_stream_open(d, &r, buf, len, &no_deadline, &st, &rep),
                     0);

    for (int32_t want = 1; want <= 2; want++) {
        assert_int_equal(ctl_stream_next(d, &st, &no_deadline, &rep, &next_at),
                         CTL_NEXT_IDLE);
        assert_int_equal(next_at, 42);
        assert_int_equal(ctl_stream_next(d, &st, &no_deadline, &rep, &next_at),
                         CTL_NEXT_SEND);
        assert_int_equal(next_at, INT64_MAX); /* default: only when woken */
        Gort__V1__Stats *s = gort__v1__stats__unpack(NULL, rep.len, rep.data);
        assert_int_equal(s->gomaxprocs, want);
        assert_string_equal(s->version, "test");
        gort__v1__stats__free_unpacked(s, NULL);
        ctl_reply_clear(&rep);
    }
    assert_int_equal(ctl_stream_next(d, &st, &no_deadline, &rep, &next_at),
                     CTL_NEXT_END);
    assert_int_equal(rep.code, GRPC_STATUS_OK);
    ctl_stream_close(&st);
}

static void stream_open_errors(void **state)
{
    const struct ctl_dispatch *d = *state;
    struct ctl_route r;
    struct ctl_reply rep;
    struct ctl_stream st;
    Gort__V1__WatchStatsRequest req = GORT__V1__WATCH_STATS_REQUEST__INIT;
    uint8_t buf[32], junk[] = {0xff, 0xff};

    assert_int_equal(lookup(d, "/gort.v1.Control/WatchStats", &r, &rep), 0);
    assert_int_equal(
        ctl_stream_open(d, &r, junk, sizeof junk, &no_deadline, &st, &rep), -1);
    assert_int_equal(rep.code, GRPC_STATUS_INVALID_ARGUMENT);
    assert_string_equal(rep.msg, "cannot parse gort.v1.WatchStatsRequest");
    assert_int_equal(calls, 0);

    req.interval_ms = 1;
    size_t len = protobuf_c_message_pack(&req.base, buf);
    assert_int_equal(ctl_stream_open(d, &r, buf, len, &no_deadline, &st, &rep),
                     -1);
    assert_int_equal(rep.code, GRPC_STATUS_INVALID_ARGUMENT);
    assert_string_equal(rep.msg, "too fast");
    assert_null(st.state); /* nothing left to close */
}

/* ---- arena -------------------------------------------------------------- */

static void arena_big_and_small(void **state)
{
    (void)state;
    struct ctl_arena a = CTL_ARENA_INIT;
    char *small = ctl_arena_strdup(&a, "abc");
    unsigned char *big = ctl_arena_alloc(&a, 100000);
    char *after = ctl_arena_strdup(&a, "def");
    for (size_t i = 0; i < 100000; i++)
        assert_int_equal(big[i], 0);
    assert_string_equal(small, "abc");
    assert_string_equal(after, "def");
    assert_int_equal((uintptr_t)big % _Alignof(max_align_t), 0);
    ctl_arena_adopt(&a, strdup("owned"));
    ctl_arena_free(&a);
    assert_null(a.chunks);
}

/* ---- out of memory ------------------------------------------------------ */

static void oom_unary_is_resource_exhausted(void **state)
{
    const struct ctl_dispatch *d = *state;
    struct ctl_route r;
    struct ctl_reply rep;
    Gort__V1__SetMaxProcsRequest req = GORT__V1__SET_MAX_PROCS_REQUEST__INIT;
    uint8_t buf[64];

    req.maxprocs = 99;
    size_t len = protobuf_c_message_pack(&req.base, buf);
    assert_int_equal(lookup(d, "/gort.v1.Control/SetMaxProcs", &r, &rep), 0);
    ctl_dispatch_unary(d, &r, buf, len, &no_deadline, &rep);
    assert_int_equal(calls, 1);
    assert_int_equal(rep.code, GRPC_STATUS_RESOURCE_EXHAUSTED);
    assert_string_equal(rep.msg, "gortd is out of memory building the reply; "
                                 "try again, or ask for less");
    assert_null(rep.data); /* nothing half-built goes out */

    /* The next call is served as if nothing happened. */
    req.maxprocs = 4;
    len = protobuf_c_message_pack(&req.base, buf);
    ctl_dispatch_unary(d, &r, buf, len, &no_deadline, &rep);
    assert_int_equal(rep.code, GRPC_STATUS_OK);
    ctl_reply_clear(&rep);
}

static void oom_stream_ends_resource_exhausted(void **state)
{
    const struct ctl_dispatch *d = *state;
    struct ctl_route r;
    struct ctl_reply rep;
    struct ctl_stream st;
    Gort__V1__WatchStatsRequest req = GORT__V1__WATCH_STATS_REQUEST__INIT;
    uint8_t buf[32];
    int64_t next_at;

    req.count = 99;
    size_t len = protobuf_c_message_pack(&req.base, buf);
    assert_int_equal(lookup(d, "/gort.v1.Control/WatchStats", &r, &rep), 0);
    assert_int_equal(ctl_stream_open(d, &r, buf, len, &no_deadline, &st, &rep),
                     0);
    assert_int_equal(ctl_stream_next(d, &st, &no_deadline, &rep, &next_at),
                     CTL_NEXT_END);
    assert_int_equal(rep.code, GRPC_STATUS_RESOURCE_EXHAUSTED);
    assert_null(rep.data);
    ctl_stream_close(&st);
}

static void arena_failure_is_sticky_and_safe(void **state)
{
    (void)state;
    struct ctl_arena a = CTL_ARENA_INIT;
    assert_non_null(ctl_arena_strdup(&a, "before"));
    assert_null(ctl_arena_alloc(&a, HUGE));
    assert_true(a.failed);
    /* Once failed, nothing more is handed out; strings read as "" so a
     * caller copying under a lock can finish and unlock. */
    assert_null(ctl_arena_alloc(&a, 16));
    assert_null(ctl_arena_array(&a, SIZE_MAX / 2, 4));
    assert_null(ctl_arena_msg(&a, &gort__v1__stats__descriptor));
    assert_string_equal(ctl_arena_strdup(&a, "after"), "");
    ctl_arena_adopt(&a, strdup("freed at once")); /* LSan: no leak */
    ctl_arena_free(&a);
    assert_false(a.failed);
    assert_string_equal(ctl_arena_strdup(&a, "again"), "again");
    ctl_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(every_method_found, setup),
        cmocka_unit_test_setup(unknown_is_unimplemented, setup),
        cmocka_unit_test_setup(malformed_paths, setup),
        cmocka_unit_test_setup(unary_round_trip, setup),
        cmocka_unit_test_setup(undecodable_is_invalid_argument, setup),
        cmocka_unit_test_setup(empty_request_is_default, setup),
        cmocka_unit_test_setup(handler_status_propagates, setup),
        cmocka_unit_test_setup(expired_deadline_skips_handler, setup),
        cmocka_unit_test(registration_checks_table),
        cmocka_unit_test_setup(stream_steps, setup),
        cmocka_unit_test_setup(stream_open_errors, setup),
        cmocka_unit_test(arena_big_and_small),
        cmocka_unit_test_setup(oom_unary_is_resource_exhausted, setup),
        cmocka_unit_test_setup(oom_stream_ends_resource_exhausted, setup),
        cmocka_unit_test(arena_failure_is_sticky_and_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
