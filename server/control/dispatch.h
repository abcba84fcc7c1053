/* control/dispatch.h — the control plane's generic RPC dispatcher.
 *
 * A service is registered as protoc-c's ProtobufCServiceDescriptor plus a
 * handler table indexed like the descriptor's methods[] (.proto order). The
 * dispatcher maps a gRPC path "/pkg.Service/Method" to (service, method
 * index), unpacks the request with the method's input descriptor, runs the
 * handler, packs its output with the output descriptor. It moves bytes only:
 * the gRPC transport (control.c) owns calls, batches and threads, which is
 * also what lets the unit tests drive it without a server.
 */
#ifndef GORT_CTL_DISPATCH_H
#define GORT_CTL_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include <grpc/status.h>
#include <protobuf-c/protobuf-c.h>

#include "control/arena.h"

#define CTL_MAX_SERVICES 8
#define CTL_MSG_MAX 256

struct ctl_dispatch;

/* What a handler sees besides its messages. */
struct ctl_ctx {
    struct ctl_arena *arena; /* allocate everything hung off `out` here */
    const struct ctl_dispatch *dispatch; /* the services this server has */
    int64_t deadline;      /* CLOCK_MONOTONIC ns; INT64_MAX = none */
    int shutting_down;     /* the server is draining */
    grpc_status_code code; /* set by ctl_fail (OK otherwise) */
    char msg[CTL_MSG_MAX]; /* status message sent with code */
};

/* Sets the call's status and message; returns code, so a handler can say
 * `return ctl_fail(cx, GRPC_STATUS_NOT_FOUND, "no plugin %s", name);`. */
grpc_status_code ctl_fail(struct ctl_ctx *cx, grpc_status_code code,
                          const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* 1 when the caller's deadline has passed. */
int ctl_ctx_expired(const struct ctl_ctx *cx);

/* A unary method: fill *out (already initialised to defaults) from *in. */
typedef grpc_status_code (*ctl_unary_fn)(const ProtobufCMessage *in,
                                         ProtobufCMessage *out,
                                         struct ctl_ctx *cx);

enum ctl_next {
    CTL_NEXT_SEND, /* send *out now; call next again at *next_at */
    CTL_NEXT_IDLE, /* nothing to send; call next again at *next_at */
    CTL_NEXT_END,  /* finish the stream with cx->code / cx->msg */
};

/* A server-streaming method. protobuf-c's method descriptor carries no
 * streaming flag, so a handler entry with `stream` set is what marks one. */
struct ctl_stream_ops {
    size_t state_size; /* zeroed per call, freed at close */
    /* Validates the request and keeps what it needs in state; the request is
     * freed after open returns. Non-OK status ends the call. */
    grpc_status_code (*open)(const ProtobufCMessage *in, void *state,
                             struct ctl_ctx *cx);
    /* Called when due (at once after open). *next_at defaults to INT64_MAX:
     * "only when woken" — the transport wakes every stream at shutdown. */
    enum ctl_next (*next)(void *state, ProtobufCMessage *out,
                          struct ctl_ctx *cx, int64_t *next_at);
};

struct ctl_handler {
    const char *name;                    /* must equal methods[i].name */
    ctl_unary_fn unary;                  /* set for unary methods ... */
    const struct ctl_stream_ops *stream; /* ... or this for server streams */
    /* A unary method that may block for seconds (plugin operations): the
     * transport runs it on a worker thread so other calls go on meanwhile. */
    int slow;
    /* It changes gortd (GOMAXPROCS, plugins): only the identities in
     * -control-allow-cn may call it, when that is given (authz.c). */
    int mutates;
    /* A bidirectional stream answered message by message: `unary` runs on
     * each request and its reply is sent back; the client's half-close
     * ends the call with OK, a non-OK status ends it at once. */
    int bidi;
};

struct ctl_service {
    const ProtobufCServiceDescriptor *desc;
    const struct ctl_handler *handlers; /* desc->n_methods entries */
};

struct ctl_dispatch {
    struct ctl_service services[CTL_MAX_SERVICES];
    int n;
};

/* A resolved method. */
struct ctl_route {
    const struct ctl_service *service;
    unsigned index; /* into methods[] and handlers[] */
    const ProtobufCMethodDescriptor *method;
    const struct ctl_handler *handler;
};

/* Status, message and packed output of one step of a call. */
struct ctl_reply {
    grpc_status_code code;
    char msg[CTL_MSG_MAX];
    uint8_t
        *data; /* malloc'd packed message (the caller frees); NULL if none */
    size_t len;
};

/* Per-call facts the transport passes in. */
struct ctl_env {
    int64_t deadline; /* CLOCK_MONOTONIC ns; INT64_MAX = none */
    int shutting_down;
};

/* Registers a service. The table must have one entry per method, in the
 * descriptor's order, each naming its method and having exactly one of
 * unary/stream. 0, or -1 with err saying which entry is wrong. */
int ctl_dispatch_add(struct ctl_dispatch *d,
                     const ProtobufCServiceDescriptor *sd,
                     const struct ctl_handler *handlers, size_t n, char *err,
                     size_t errlen);

/* The registered service with this full name ("gort.v1.Control"), or NULL. */
const struct ctl_service *ctl_dispatch_service(const struct ctl_dispatch *d,
                                               const char *name);

/* Resolves a gRPC path. 0 with *r filled, or -1 with rep = UNIMPLEMENTED. */
int ctl_dispatch_lookup(const struct ctl_dispatch *d, const char *path,
                        size_t len, struct ctl_route *r, struct ctl_reply *rep);

/* Runs a unary method on the request bytes; rep gets status and output. */
void ctl_dispatch_unary(const struct ctl_dispatch *d, const struct ctl_route *r,
                        const uint8_t *in, size_t inlen,
                        const struct ctl_env *env, struct ctl_reply *rep);

/* One streaming call's dispatcher-side state. */
struct ctl_stream {
    struct ctl_route route;
    void *state;
};

/* Opens a stream on the request bytes: 0, or -1 with rep holding the error
 * status (nothing to close then). */
int ctl_stream_open(const struct ctl_dispatch *d, const struct ctl_route *r,
                    const uint8_t *in, size_t inlen, const struct ctl_env *env,
                    struct ctl_stream *st, struct ctl_reply *rep);

/* Runs the stream's next step: SEND with rep->data, IDLE, or END with
 * rep->code/msg. *next_at says when to call again. */
enum ctl_next ctl_stream_next(const struct ctl_dispatch *d,
                              struct ctl_stream *st, const struct ctl_env *env,
                              struct ctl_reply *rep, int64_t *next_at);

void ctl_stream_close(struct ctl_stream *st);

/* Frees rep->data. */
void ctl_reply_clear(struct ctl_reply *rep);

#endif /* GORT_CTL_DISPATCH_H */
