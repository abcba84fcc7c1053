/* rpc.h — gortctl's gRPC client calls, driven by protoc-c descriptors.
 *
 * A call names its service descriptor and method; the path, the request
 * packing and the reply's message type all come from the descriptor, so one
 * function serves every unary RPC and one stream type every server stream.
 */
#ifndef GORT_RPC_H
#define GORT_RPC_H

#include <stddef.h>
#include <stdint.h>

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>

struct rpc_opts {
    const char *addr;     /* unix:PATH or HOST:PORT */
    int64_t timeout_ns;   /* deadline of each unary call; 0 = none */
    int tls;              /* dial with TLS (implied by tls_ca/cert) */
    const char *tls_ca;   /* PEM roots to verify gortd; NULL = system */
    const char *tls_cert; /* PEM client certificate (mutual TLS) */
    const char *tls_key;
    const char *tls_server_name; /* name expected in gortd's certificate */
};

struct rpc_client {
    grpc_channel *ch;
    grpc_completion_queue *cq; /* pluck: one blocking call at a time */
    int64_t timeout_ns;
};

struct rpc_status {
    grpc_status_code code;
    char msg[512];
};

/* Initialises gRPC and creates the channel (connects on the first call).
 * 0, or -1 with err (bad address, unreadable TLS file). */
int rpc_open(struct rpc_client *c, const struct rpc_opts *o, char *err,
             size_t errlen);
void rpc_close(struct rpc_client *c);

/* One unary call. 0 with *resp (free with protobuf_c_message_free_unpacked),
 * or -1 with st describing the failure. */
int rpc_unary(struct rpc_client *c, const ProtobufCServiceDescriptor *sd,
              const char *method, const ProtobufCMessage *req,
              ProtobufCMessage **resp, struct rpc_status *st);

struct rpc_stream {
    grpc_call *call;
    grpc_completion_queue *cq;
    const ProtobufCMessageDescriptor *out;
    grpc_metadata_array md;
};

/* Starts a server-streaming call (no deadline: it runs until the server
 * ends it or rpc_stream_cancel). 0, or -1 with st. */
int rpc_stream_open(struct rpc_client *c, const ProtobufCServiceDescriptor *sd,
                    const char *method, const ProtobufCMessage *req,
                    struct rpc_stream *s, struct rpc_status *st);

/* 1 with *msg (free it), 0 at the end of the stream, -1 for a reply that
 * does not parse. */
int rpc_stream_next(struct rpc_stream *s, ProtobufCMessage **msg);

/* Reads the final status and frees the call. */
void rpc_stream_finish(struct rpc_stream *s, struct rpc_status *st);

/* Cancels from any thread; rpc_stream_next then returns 0. */
void rpc_stream_cancel(struct rpc_stream *s);

#endif /* GORT_RPC_H */
