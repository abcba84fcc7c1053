// clang-format off
/* control/dispatch.c — one dispatcher for every control-plane method, driven
 * by protoc-c's generated service descriptors.
 *
 * How a call goes:
 *   path "/gort.v1.Control/SetMaxProcs"
 *     -> service by full name (a handful: linear scan)
 *     -> method by name: protobuf_c_service_descriptor_get_method_by_name
 *        (binary search over the descriptor's sorted index)
 *     -> index = method - desc->methods; handler = handlers[index]
 *     -> protobuf_c_message_unpack(method->input, bytes)
 *        (NULL: INVALID_ARGUMENT)
 *     -> handler(in, out, ctx), out from the call's arena
 *     -> protobuf_c_message_pack(out) into a malloc'd buffer for the
 *        transport
 *
 * Why a table indexed by method index rather than a switch per method: adding
 * an RPC is one .proto line plus one table entry, and the registration check
 * (each entry names its method) catches a table that drifted from the .proto
 * at start-up instead of silently calling the wrong handler.
 *
 * Status conventions follow grpc-go: an unknown service or method is
 * UNIMPLEMENTED ("unknown method X for service Y"), bytes that do not parse as
 * the input type are INVALID_ARGUMENT naming the type, a deadline that has
 * already passed when the call is picked up is DEADLINE_EXCEEDED and the
 * handler does not run (a SetMaxProcs whose caller gave up is not applied).
 * Running out of memory while building a reply (the arena failed, or the
 * packing buffer could not be had) answers RESOURCE_EXHAUSTED; gortd goes
 * on.
 */
// clang-format on
#include "control/dispatch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"

grpc_status_code ctl_fail(struct ctl_ctx *cx, grpc_status_code code,
                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cx->msg, sizeof cx->msg, fmt, ap);
    va_end(ap);
    cx->code = code;
    return code;
}

int ctl_ctx_expired(const struct ctl_ctx *cx)
{
    return cx->deadline != INT64_MAX && now_mono_ns() >= cx->deadline;
}

static void reply_set(struct ctl_reply *rep, grpc_status_code code,
                      const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void reply_set(struct ctl_reply *rep, grpc_status_code code,
                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rep->msg, sizeof rep->msg, fmt, ap);
    va_end(ap);
    rep->code = code;
}

static void reply_init(struct ctl_reply *rep)
{
    rep->code = GRPC_STATUS_OK;
    rep->msg[0] = '\0';
    rep->data = NULL;
    rep->len = 0;
}

void ctl_reply_clear(struct ctl_reply *rep)
{
    free(rep->data);
    rep->data = NULL;
    rep->len = 0;
}

/* ---- registration ------------------------------------------------------- */

static int handler_check(const ProtobufCServiceDescriptor *sd,
                         const struct ctl_handler *h, unsigned i, char *err,
                         size_t errlen)
{
    if (!h->name || strcmp(h->name, sd->methods[i].name) != 0) {
        snprintf(err, errlen,
                 "%s: handler %u is for %s, the descriptor says %s", sd->name,
                 i, h->name ? h->name : "(null)", sd->methods[i].name);
        return -1;
    }
    if (!h->unary == !h->stream) {
        snprintf(err, errlen,
                 "%s/%s: handler needs exactly one of unary, stream", sd->name,
                 h->name);
        return -1;
    }
    if (h->bidi && (!h->unary || h->slow)) {
        snprintf(err, errlen, "%s/%s: a bidi handler is a fast unary one",
                 sd->name, h->name);
        return -1;
    }
    if (h->stream && (!h->stream->open || !h->stream->next)) {
        snprintf(err, errlen, "%s/%s: stream handler without open/next",
                 sd->name, h->name);
        return -1;
    }
    return 0;
}

int ctl_dispatch_add(struct ctl_dispatch *d,
                     const ProtobufCServiceDescriptor *sd,
                     const struct ctl_handler *handlers, size_t n, char *err,
                     size_t errlen)
{
    if (sd->magic != PROTOBUF_C__SERVICE_DESCRIPTOR_MAGIC) {
        snprintf(err, errlen, "not a protobuf-c service descriptor");
        return -1;
    }
    if (n != sd->n_methods) {
        snprintf(err, errlen, "%s: %zu handlers for %u methods", sd->name, n,
                 sd->n_methods);
        return -1;
    }
    if (d->n == CTL_MAX_SERVICES || ctl_dispatch_service(d, sd->name)) {
        snprintf(err, errlen, "%s: %s", sd->name,
                 d->n == CTL_MAX_SERVICES ? "too many services"
                                          : "registered twice");
        return -1;
    }
    for (unsigned i = 0; i < sd->n_methods; i++)
        if (handler_check(sd, &handlers[i], i, err, errlen) < 0)
            return -1;
    d->services[d->n].desc = sd;
    d->services[d->n].handlers = handlers;
    d->n++;
    return 0;
}

/* ---- lookup ------------------------------------------------------------- */

static const struct ctl_service *service_find(const struct ctl_dispatch *d,
                                              const char *name, size_t len)
{
    for (int i = 0; i < d->n; i++) {
        const char *sn = d->services[i].desc->name;
        if (strlen(sn) == len && memcmp(sn, name, len) == 0)
            return &d->services[i];
    }
    return NULL;
}

const struct ctl_service *ctl_dispatch_service(const struct ctl_dispatch *d,
                                               const char *name)
{
    return service_find(d, name, strlen(name));
}

int ctl_dispatch_lookup(const struct ctl_dispatch *d, const char *path,
                        size_t len, struct ctl_route *r, struct ctl_reply *rep)
{
    const char *slash = len > 1 ? memrchr(path + 1, '/', len - 1) : NULL;
    char mname[128];

    reply_init(rep);
    if (len < 4 || path[0] != '/' || !slash || slash == path + 1) {
        reply_set(rep, GRPC_STATUS_UNIMPLEMENTED, "malformed method name %.*s",
                  (int)(len > 200 ? 200 : len), path);
        return -1;
    }
    size_t slen = (size_t)(slash - path - 1), mlen = len - slen - 2;
    const struct ctl_service *svc = service_find(d, path + 1, slen);
    if (!svc) {
        reply_set(rep, GRPC_STATUS_UNIMPLEMENTED, "unknown service %.*s",
                  (int)(slen > 200 ? 200 : slen), path + 1);
        return -1;
    }
    const ProtobufCMethodDescriptor *md = NULL;
    if (mlen > 0 && mlen < sizeof mname) {
        memcpy(mname, slash + 1, mlen);
        mname[mlen] = '\0';
        md = protobuf_c_service_descriptor_get_method_by_name(svc->desc, mname);
    }
    if (!md) {
        reply_set(rep, GRPC_STATUS_UNIMPLEMENTED,
                  "unknown method %.*s for service %s",
                  (int)(mlen > 100 ? 100 : mlen), slash + 1, svc->desc->name);
        return -1;
    }
    r->service = svc;
    r->index = (unsigned)(md - svc->desc->methods);
    r->method = md;
    r->handler = &svc->handlers[r->index];
    return 0;
}

/* ---- calls -------------------------------------------------------------- */

static ProtobufCMessage *request_unpack(const struct ctl_route *r,
                                        const uint8_t *in, size_t inlen,
                                        struct ctl_reply *rep)
{
    ProtobufCMessage *req =
        protobuf_c_message_unpack(r->method->input, NULL, inlen, in);
    if (!req)
        reply_set(rep, GRPC_STATUS_INVALID_ARGUMENT, "cannot parse %s",
                  r->method->input->name);
    return req;
}

static int deadline_passed(const struct ctl_env *env, struct ctl_reply *rep)
{
    if (env->deadline == INT64_MAX || now_mono_ns() < env->deadline)
        return 0;
    reply_set(rep, GRPC_STATUS_DEADLINE_EXCEEDED,
              "deadline exceeded before the call was handled");
    return 1;
}

static void ctx_init(struct ctl_ctx *cx, const struct ctl_dispatch *d,
                     struct ctl_arena *arena, const struct ctl_env *env)
{
    cx->arena = arena;
    cx->dispatch = d;
    cx->deadline = env->deadline;
    cx->shutting_down = env->shutting_down;
    cx->code = GRPC_STATUS_OK;
    cx->msg[0] = '\0';
}

static void out_of_memory(struct ctl_reply *rep, const char *what)
{
    reply_set(rep, GRPC_STATUS_RESOURCE_EXHAUSTED,
              "gortd is out of memory %s; try again, or ask for less", what);
}

/* Packs out into rep, unless building it ran out of memory (the arena
 * failed): then the status says so and no message goes out. 0 or -1. */
static int reply_pack(struct ctl_reply *rep, const ProtobufCMessage *out,
                      const struct ctl_arena *arena)
{
    if (arena->failed || !out) {
        out_of_memory(rep, "building the reply");
        return -1;
    }
    size_t len = protobuf_c_message_get_packed_size(out);
    if (len == 0)
        return 0; /* a default proto3 message is zero bytes on the wire */
    rep->data = malloc(len);
    if (!rep->data) {
        out_of_memory(rep, "packing the reply");
        return -1;
    }
    rep->len = protobuf_c_message_pack(out, rep->data);
    return 0;
}

static void reply_from_ctx(struct ctl_reply *rep, const struct ctl_ctx *cx,
                           grpc_status_code code)
{
    rep->code = code;
    memcpy(rep->msg, cx->msg, sizeof rep->msg);
}

void ctl_dispatch_unary(const struct ctl_dispatch *d, const struct ctl_route *r,
                        const uint8_t *in, size_t inlen,
                        const struct ctl_env *env, struct ctl_reply *rep)
{
    struct ctl_arena arena = CTL_ARENA_INIT;
    struct ctl_ctx cx;

    reply_init(rep);
    ProtobufCMessage *req = request_unpack(r, in, inlen, rep);
    if (!req)
        return;
    if (!deadline_passed(env, rep)) {
        ctx_init(&cx, d, &arena, env);
        ProtobufCMessage *out = ctl_arena_msg(&arena, r->method->output);
        grpc_status_code code =
            out ? r->handler->unary(req, out, &cx) : GRPC_STATUS_OK;
        reply_from_ctx(rep, &cx, code);
        if (code == GRPC_STATUS_OK || arena.failed)
            reply_pack(rep, out, &arena);
    }
    protobuf_c_message_free_unpacked(req, NULL);
    ctl_arena_free(&arena);
}

int ctl_stream_open(const struct ctl_dispatch *d, const struct ctl_route *r,
                    const uint8_t *in, size_t inlen, const struct ctl_env *env,
                    struct ctl_stream *st, struct ctl_reply *rep)
{
    const struct ctl_stream_ops *ops = r->handler->stream;
    struct ctl_arena arena = CTL_ARENA_INIT;
    struct ctl_ctx cx;

    reply_init(rep);
    st->route = *r;
    st->state = NULL;
    ProtobufCMessage *req = request_unpack(r, in, inlen, rep);
    if (!req)
        return -1;
    if (!deadline_passed(env, rep)) {
        st->state = calloc(1, ops->state_size ? ops->state_size : 1);
        ctx_init(&cx, d, &arena, env);
        if (!st->state)
            out_of_memory(rep, "opening the stream");
        else
            reply_from_ctx(rep, &cx, ops->open(req, st->state, &cx));
        if (arena.failed && rep->code == GRPC_STATUS_OK)
            out_of_memory(rep, "opening the stream");
    }
    protobuf_c_message_free_unpacked(req, NULL);
    ctl_arena_free(&arena);
    if (rep->code != GRPC_STATUS_OK) {
        ctl_stream_close(st);
        return -1;
    }
    return 0;
}

enum ctl_next ctl_stream_next(const struct ctl_dispatch *d,
                              struct ctl_stream *st, const struct ctl_env *env,
                              struct ctl_reply *rep, int64_t *next_at)
{
    const struct ctl_stream_ops *ops = st->route.handler->stream;
    struct ctl_arena arena = CTL_ARENA_INIT;
    struct ctl_ctx cx;

    reply_init(rep);
    ctx_init(&cx, d, &arena, env);
    ProtobufCMessage *out = ctl_arena_msg(&arena, st->route.method->output);
    *next_at = INT64_MAX;
    enum ctl_next step =
        out ? ops->next(st->state, out, &cx, next_at) : CTL_NEXT_SEND;
    if (step == CTL_NEXT_SEND && reply_pack(rep, out, &arena) < 0)
        step = CTL_NEXT_END; /* rep says RESOURCE_EXHAUSTED */
    else if (step == CTL_NEXT_END && arena.failed)
        out_of_memory(rep, "building the next message");
    else if (step == CTL_NEXT_END)
        reply_from_ctx(rep, &cx, cx.code);
    ctl_arena_free(&arena);
    return step;
}

void ctl_stream_close(struct ctl_stream *st)
{
    free(st->state);
    st->state = NULL;
}
