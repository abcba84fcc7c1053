/* fuzz_control.c — libFuzzer target for the control plane's request
 * decoding: the dispatcher (server/control/dispatch.c) with gortd's real
 * service tables (methods.c, health.c, reflection.c, dump.c), driven as
 * the gRPC transport drives it, without a transport.
 *
 * An input is one call: byte 0 picks a method among every registered one
 * (gort.v1.Control, grpc.health.v1.Health, both server reflections), or,
 * with byte 1's top bit set, the rest up to a NUL is the gRPC path itself
 * (fuzzing the lookup); the remaining bytes are the request message. The
 * call runs exactly as the transport runs it: ctl_dispatch_lookup, then
 * ctl_dispatch_unary (unary and bidi methods, reflection included) or
 * ctl_stream_open (WatchStats, Health/Watch), which unpack the bytes with
 * the method's input descriptor and run the handler's validation. No
 * runtime and no plugin loader run here, so a request that passes
 * validation stops at "unavailable" before anything acts, and the methods
 * that read the runtime (GetStats, DumpGoroutines, a valid SetMaxProcs) are
 * only decoded and validated, not run: their handlers are not called once
 * validation passed (see runs_handler).
 * Checked, besides "no crash, no UB, no leak":
 *   - a path that is not "/Service/Method" of a registered method is
 *     UNIMPLEMENTED, and a registered one resolves to itself;
 *   - bytes protobuf-c cannot unpack are INVALID_ARGUMENT naming the
 *     input type; what it unpacks (without unknown fields) re-packs to a
 *     message that unpacks again to the same packed bytes;
 *   - the validations the .proto promises, restated here: SetMaxProcs
 *     1..256, WatchStats interval 0 or 10..3600000 ms, plugin names a
 *     file name (non-empty, no '/', not "." or "..", <= 255 bytes),
 *     DumpGoroutines min_wait_ns >= 0, Health/Check a service gortd
 *     serves (or ""), Health/Watch a name under 128 bytes;
 *   - a status message is NUL-terminated, a reply's bytes unpack as the
 *     method's output type.
 *
 *   build-asan/tests/fuzz/fuzz_control /tmp/corpus tests/fuzz/corpus/control
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/dispatch.h"
#include "control/methods.h"
#include "gort/gort.h"
#include "gort/v1/control.pb-c.h"
#include "grpc/health/v1/health.pb-c.h"

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_control: %s:%d: check failed: %s\n",         \
                    __FILE__, __LINE__, #cond);                                \
            abort();                                                           \
        }                                                                      \
    } while (0)

static struct ctl_dispatch dispatch;
static const struct ctl_env env = {.deadline = INT64_MAX};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];

    (void)argc, (void)argv;
    CHECK(ctl_methods_register(&dispatch, err, sizeof err) == 0);
    return 0;
}

static int is(const struct ctl_route *r, const char *svc, const char *m)
{
    return strcmp(r->service->desc->name, svc) == 0 &&
           strcmp(r->method->name, m) == 0;
}

/* ---- the rules, restated from the .proto -------------------------------- */

static int name_ok(const char *n)
{
    return n[0] && !strchr(n, '/') && strcmp(n, ".") && strcmp(n, "..") &&
           strlen(n) <= 255;
}

/* The status validation must give req (unpacked as r's input), or -1 when
 * the .proto promises nothing but "not INVALID_ARGUMENT". Sets *acts when
 * a valid request would make the handler read or change the runtime. */
static int expected(const struct ctl_route *r, const ProtobufCMessage *req,
                    int *acts)
{
    const char *C = "gort.v1.Control";

    *acts = 0;
    if (is(r, C, "SetMaxProcs")) {
        int32_t n = ((const Gort__V1__SetMaxProcsRequest *)req)->maxprocs;
        if (n < 1 || n > GORT_MAXPROCS_CAP)
            return GRPC_STATUS_INVALID_ARGUMENT;
        *acts = 1;
        return -1;
    }
    if (is(r, C, "WatchStats")) {
        uint32_t ms = ((const Gort__V1__WatchStatsRequest *)req)->interval_ms;
        return ms == 0 || (ms >= 10 && ms <= 3600000)
                   ? GRPC_STATUS_OK
                   : GRPC_STATUS_INVALID_ARGUMENT;
    }
    if (is(r, C, "LoadPlugin") || is(r, C, "UnloadPlugin") ||
        is(r, C, "ReplacePlugin")) {
        /* name is the first field of all three requests */
        const char *name =
            is(r, C, "LoadPlugin")
                ? ((const Gort__V1__LoadPluginRequest *)req)->name
            : is(r, C, "UnloadPlugin")
                ? ((const Gort__V1__UnloadPluginRequest *)req)->name
                : ((const Gort__V1__ReplacePluginRequest *)req)->name;
        return name_ok(name) ? GRPC_STATUS_UNAVAILABLE /* no loader here */
                             : GRPC_STATUS_INVALID_ARGUMENT;
    }
    if (is(r, C, "DumpGoroutines")) {
        const Gort__V1__DumpGoroutinesRequest *d = (const void *)req;
        if (d->min_wait_ns < 0)
            return GRPC_STATUS_INVALID_ARGUMENT;
        *acts = 1;
        return -1;
    }
    if (is(r, C, "GetStats")) {
        *acts = 1;
        return -1;
    }
    if (strcmp(r->service->desc->name, "grpc.health.v1.Health") == 0) {
        /* Check: "" (the server) or a service gortd serves, else NOT_FOUND;
         * Watch: any name under 128 bytes (an unknown one is watched as
         * SERVICE_UNKNOWN, as grpc-go does). */
        static const char *const served[] = {
            "", "gort.v1.Control", "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection"};
        const char *s =
            ((const Grpc__Health__V1__HealthCheckRequest *)req)->service;
        if (strcmp(r->method->name, "Watch") == 0)
            return strlen(s) < 128 ? GRPC_STATUS_OK
                                   : GRPC_STATUS_INVALID_ARGUMENT;
        for (size_t i = 0; i < sizeof served / sizeof served[0]; i++)
            if (strcmp(s, served[i]) == 0)
                return GRPC_STATUS_OK;
        return GRPC_STATUS_NOT_FOUND;
    }
    return -1;
}

/* ---- one call ------------------------------------------------------------ */

static void check_reply(const struct ctl_route *r, const struct ctl_reply *rep)
{
    CHECK(memchr(rep->msg, '\0', sizeof rep->msg) != NULL);
    CHECK((rep->data == NULL) == (rep->len == 0));
    if (rep->code == GRPC_STATUS_OK && rep->data) {
        ProtobufCMessage *out = protobuf_c_message_unpack(
            r->method->output, NULL, rep->len, rep->data);
        CHECK(out != NULL);
        protobuf_c_message_free_unpacked(out, NULL);
    } else if (rep->code != GRPC_STATUS_OK) {
        CHECK(rep->data == NULL && rep->msg[0] != '\0');
    }
}

/* Whether m or a message inside it kept unknown fields. */
static int has_unknown(const ProtobufCMessage *m)
{
    if (m->n_unknown_fields)
        return 1;
    for (unsigned i = 0; i < m->descriptor->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &m->descriptor->fields[i];
        const char *at = (const char *)m + f->offset;
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)((const char *)m + f->quantifier_offset) !=
                f->id)
            continue; /* another member of the oneof is set: a union */
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n =
                *(const size_t *)((const char *)m + f->quantifier_offset);
            ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *)at;
            for (size_t k = 0; k < n; k++)
                if (has_unknown(v[k]))
                    return 1;
        } else {
            const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)at;
            if (sub && has_unknown(sub))
                return 1;
        }
    }
    return 0;
}

/* Packs m, unpacks that, packs again: the same bytes. Not with unknown
 * fields: protobuf-c keeps one whose tag was an overlong varint of field
 * 0 ("80 00") and writes it back as "00", which it then refuses (found
 * here; gortd never re-packs a request, but reflection echoed one:
 * regress_reflection_echo_*). */
static void check_round_trip(const ProtobufCMessageDescriptor *d,
                             const ProtobufCMessage *m)
{
    if (has_unknown(m))
        return;
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *a = malloc(n + 1), *b = NULL;

    CHECK(a != NULL);
    CHECK(protobuf_c_message_pack(m, a) == n);
    ProtobufCMessage *again = protobuf_c_message_unpack(d, NULL, n, a);
    CHECK(again != NULL);
    size_t n2 = protobuf_c_message_get_packed_size(again);
    CHECK(n2 == n);
    b = malloc(n2 + 1);
    CHECK(b != NULL);
    CHECK(protobuf_c_message_pack(again, b) == n2);
    CHECK(memcmp(a, b, n) == 0);
    protobuf_c_message_free_unpacked(again, NULL);
    free(a);
    free(b);
}

static void call(const struct ctl_route *r, const uint8_t *in, size_t n)
{
    struct ctl_reply rep;
    ProtobufCMessage *req =
        protobuf_c_message_unpack(r->method->input, NULL, n, in);
    int acts = 0, want = -1;

    if (req) {
        check_round_trip(r->method->input, req);
        want = expected(r, req, &acts);
        protobuf_c_message_free_unpacked(req, NULL);
    }
    if (req && acts)
        return; /* valid and would touch the runtime: decoding was the point */

    if (r->handler->stream) {
        struct ctl_stream st;
        int rc = ctl_stream_open(&dispatch, r, in, n, &env, &st, &rep);
        CHECK((rc == 0) == (rep.code == GRPC_STATUS_OK));
        if (rc == 0)
            ctl_stream_close(&st); /* next would read the runtime */
        CHECK(rep.data == NULL);
    } else {
        ctl_dispatch_unary(&dispatch, r, in, n, &env, &rep);
        check_reply(r, &rep);
    }
    if (!req) {
        CHECK(rep.code == GRPC_STATUS_INVALID_ARGUMENT);
        CHECK(strncmp(rep.msg, "cannot parse ", 13) == 0);
        CHECK(strcmp(rep.msg + 13, r->method->input->name) == 0);
    } else if (want >= 0) {
        if ((int)rep.code != want)
            fprintf(stderr, "fuzz_control: %s/%s: status %d (%s), want %d\n",
                    r->service->desc->name, r->method->name, rep.code, rep.msg,
                    want);
        CHECK((int)rep.code == want);
    }
    ctl_reply_clear(&rep);
}

/* The i-th registered method, counting across services. */
static int nth_method(unsigned i, struct ctl_route *r)
{
    unsigned total = 0;
    for (int s = 0; s < dispatch.n; s++)
        total += dispatch.services[s].desc->n_methods;
    i %= total;
    for (int s = 0; s < dispatch.n; s++) {
        const struct ctl_service *svc = &dispatch.services[s];
        if (i < svc->desc->n_methods) {
            char path[256];
            struct ctl_reply rep;
            int len = snprintf(path, sizeof path, "/%s/%s", svc->desc->name,
                               svc->desc->methods[i].name);
            CHECK(ctl_dispatch_lookup(&dispatch, path, (size_t)len, r, &rep) ==
                  0);
            CHECK(r->service == svc && r->index == i);
            return 0;
        }
        i -= svc->desc->n_methods;
    }
    return -1;
}

/* A fuzzed path: resolves only to a registered "/Service/Method". */
static int fuzzed_path(const uint8_t *p, size_t n, struct ctl_route *r)
{
    struct ctl_reply rep;
    int rc = ctl_dispatch_lookup(&dispatch, (const char *)p, n, r, &rep);

    CHECK(memchr(rep.msg, '\0', sizeof rep.msg) != NULL);
    if (rc < 0) {
        CHECK(rep.code == GRPC_STATUS_UNIMPLEMENTED && rep.msg[0]);
        return -1;
    }
    char path[256];
    int len = snprintf(path, sizeof path, "/%s/%s", r->service->desc->name,
                       r->method->name);
    CHECK((size_t)len == n && memcmp(path, p, n) == 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ctl_route r;

    if (size < 2)
        return 0;
    if (data[1] & 0x80) {
        const uint8_t *p = data + 2, *nul = memchr(p, '\0', size - 2);
        size_t plen = nul ? (size_t)(nul - p) : size - 2;
        char *path = malloc(plen + 1); /* exact size: ASan sees overreads */
        CHECK(path != NULL);
        memcpy(path, p, plen);
        int rc = fuzzed_path((const uint8_t *)path, plen, &r);
        free(path);
        if (rc < 0 || !nul)
            return 0;
        call(&r, nul + 1, size - (size_t)(nul + 1 - data));
        return 0;
    }
    CHECK(nth_method(data[0], &r) == 0);
    call(&r, data + 2, size - 2);
    return 0;
}
