/* rpc.c — blocking gRPC calls for gortctl on the gRPC core C API.
 *
 * A CLI makes one call at a time, so it uses a pluck completion queue and
 * waits for exactly the tag it started. A unary call is one batch of six ops
 * (send metadata, message and half-close; receive metadata, message and
 * status). A stream is that batch split in two: send + receive metadata
 * first, then one RECV_MESSAGE per message until the server has none left,
 * then RECV_STATUS_ON_CLIENT.
 *
 * A Unix socket is connected here first and its server's uid checked
 * (SO_PEERCRED) before gRPC gets the connected descriptor: only gortd's
 * user or root may answer. Replies are bounded (MAX_RECEIVE_BYTES).
 *
 * Calls fail fast (no wait-for-ready): a connection that cannot be made
 * gives UNAVAILABLE "failed to connect to all addresses; last error: ...",
 * which gortctl turns into a line naming the cause ("cannot reach gortd
 * ... is it running?" when nothing listens) instead of hanging. gRPC
 * core's own log is silenced (grpc_log_quiet).
 */
#include "rpc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_posix.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>

#include "cli/addr.h"
#include "cli/grpc.h"

/* ---- channel ------------------------------------------------------------ */

/* The largest reply accepted: a dump of a million goroutines fits; a
 * server (or something posing as one) cannot make gortctl allocate
 * without bound. */
#define MAX_RECEIVE_BYTES (512 * 1024 * 1024)

/* Root talking to a gortd that runs as a service user (systemd's User=,
 * socket in its RuntimeDirectory): the peer is trusted when it owns the
 * path outright, i.e. both the socket's directory, which no one else may
 * write, and the socket file. Then nobody else could have put the socket
 * there. */
static int peer_owns_path(const char *path, uid_t peer)
{
    char dir[sizeof((struct sockaddr_un *)0)->sun_path];
    struct stat d, f;
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path || (size_t)(slash - path) >= sizeof dir)
        return 0;
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    return stat(dir, &d) == 0 && lstat(path, &f) == 0 && d.st_uid == peer &&
           f.st_uid == peer && !(d.st_mode & (S_IWGRP | S_IWOTH));
}

/* connect() to a Unix socket path failed with e. 0 when nothing listens
 * there (no such path, a socket no one accepts on, a full backlog): gRPC
 * reports it and gortctl asks "is it running?". -1 with err when the path
 * can never be gortd's socket: Linux answers ECONNREFUSED for a regular
 * file, directory or FIFO too, and gortd is not the question then. */
static int unix_connect_failed(const char *path, int e, char *err,
                               size_t errlen)
{
    struct stat st;
    if (e == ENOENT || e == EAGAIN)
        return 0;
    if (stat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "unix:%s is not a socket but a %s", path,
                 S_ISDIR(st.st_mode)    ? "directory"
                 : S_ISFIFO(st.st_mode) ? "FIFO"
                 : S_ISREG(st.st_mode)  ? "regular file"
                                        : "special file");
        return -1;
    }
    if (e == ECONNREFUSED)
        return 0;
    snprintf(err, errlen, "cannot connect to unix:%s: %s", path, strerror(e));
    return -1;
}

/* Connects to a Unix socket and asks the kernel who listens there
 * (SO_PEERCRED: the credentials of the process that called listen). It
 * must be us or root, or own the socket's path (peer_owns_path): anyone
 * else may have created the path to read what we send or to answer as
 * gortd. 1 with *fd connected (non-blocking, for gRPC to take over: no
 * second connect another process could intercept), 0 when nothing answers
 * (gRPC then reports it the usual way), -1 with err when someone else
 * serves it or the path is no socket (unix_connect_failed). */
static int unix_peer(const char *path, int *fd, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct ucred cred;
    socklen_t len = sizeof cred;

    *fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (*fd < 0)
        return 0;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (connect(*fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(*fd);
        return unix_connect_failed(path, e, err, errlen);
    }
    if (getsockopt(*fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
        snprintf(err, errlen, "cannot tell who serves unix:%s: %s", path,
                 strerror(errno));
        close(*fd);
        return -1;
    }
    if (cred.uid != 0 && cred.uid != geteuid() &&
        !peer_owns_path(path, cred.uid)) {
        snprintf(err, errlen,
                 "unix:%s is served by uid %u (pid %ld), neither you (uid "
                 "%u) nor root nor the owner of its directory: refusing to "
                 "talk to it (someone may pose as gortd)",
                 path, (unsigned)cred.uid, (long)cred.pid, (unsigned)geteuid());
        close(*fd);
        return -1;
    }
    int fl = fcntl(*fd, F_GETFL);
    if (fl < 0 || fcntl(*fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        close(*fd);
        return 0;
    }
    return 1;
}

/* gRPC core's log lines ("E1207 01:42:04.034730868 3889
 * ssl_transport_security.cc:1501] Handshake failed ...") would come on top
 * of gortctl's own report of the same failure, in gRPC's format and
 * sometimes with channel internals. Kept: an assertion's last words before
 * gRPC aborts. */
static void grpc_log_drop(gpr_log_func_args *a)
{
    if (strncmp(a->message, "assertion failed", 16) == 0)
        fprintf(stderr, "gortctl: gRPC: %s (%s:%d)\n", a->message, a->file,
                a->line);
}

/* Silences gRPC core unless its log was asked for: GRPC_VERBOSITY or
 * GRPC_TRACE in the environment means someone is debugging gRPC itself. */
static void grpc_log_quiet(void)
{
    if (!getenv("GRPC_VERBOSITY") && !getenv("GRPC_TRACE"))
        gpr_set_log_function(grpc_log_drop);
}

static grpc_channel_credentials *creds(const struct rpc_opts *o, char *err,
                                       size_t errlen)
{
    if (!o->tls && !o->tls_ca && !o->tls_cert)
        return grpc_insecure_credentials_create();
    if (!o->tls_cert != !o->tls_key) {
        snprintf(err, errlen, "-tls-cert and -tls-key go together");
        return NULL;
    }
    return cli_tls_channel_creds(o->tls_ca, o->tls_cert, o->tls_key, err,
                                 errlen);
}

int rpc_open(struct rpc_client *c, const struct rpc_opts *o, char *err,
             size_t errlen)
{
    struct cli_addr a;
    grpc_arg args[2];
    grpc_channel_args ch = {.num_args = 1, .args = args};

    memset(c, 0, sizeof *c);
    if (cli_addr_parse(o->addr, &a, err, errlen) < 0)
        return -1;
    int fd = -1, peer = 0;
    if (a.kind == CLI_ADDR_UNIX &&
        (peer = unix_peer(a.path, &fd, err, errlen)) < 0)
        return -1;
    grpc_log_quiet();
    grpc_init();
    int tls = o->tls || o->tls_ca || o->tls_cert;
    grpc_channel_credentials *cr = creds(o, err, errlen);
    if (!cr) {
        if (peer > 0)
            close(fd);
        grpc_shutdown_blocking();
        return -1;
    }
    args[0] = (grpc_arg){.type = GRPC_ARG_INTEGER,
                         .key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
                         .value.integer = MAX_RECEIVE_BYTES};
    if (o->tls_server_name) {
        args[1] = (grpc_arg){.type = GRPC_ARG_STRING,
                             .key = GRPC_SSL_TARGET_NAME_OVERRIDE_ARG,
                             .value.string = (char *)o->tls_server_name};
        ch.num_args = 2;
    }
    if (peer > 0 && !tls) { /* gRPC takes fd */
        c->ch = grpc_channel_create_from_fd(a.target, fd, cr, &ch);
    } else {
        if (peer > 0) /* TLS: the certificate says who answers */
            close(fd);
        c->ch = grpc_channel_create(a.target, cr, &ch);
    }
    grpc_channel_credentials_release(cr);
    c->cq = grpc_completion_queue_create_for_pluck(NULL);
    c->timeout_ns = o->timeout_ns;
    return 0;
}

void rpc_close(struct rpc_client *c)
{
    if (!c->ch)
        return;
    grpc_channel_destroy(c->ch);
    grpc_completion_queue_shutdown(c->cq);
    while (grpc_completion_queue_pluck(c->cq, NULL,
                                       gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
               .type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(c->cq);
    grpc_shutdown_blocking();
    memset(c, 0, sizeof *c);
}

/* ---- messages ----------------------------------------------------------- */

static grpc_byte_buffer *pack(const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    grpc_slice s = grpc_slice_malloc(len);
    protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(s));
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

static ProtobufCMessage *unpack(const ProtobufCMessageDescriptor *d,
                                grpc_byte_buffer *bb)
{
    grpc_byte_buffer_reader r;
    if (!grpc_byte_buffer_reader_init(&r, bb))
        return NULL;
    grpc_slice s = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    ProtobufCMessage *m = protobuf_c_message_unpack(
        d, NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
    grpc_slice_unref(s);
    return m;
}

static void status_set(struct rpc_status *st, grpc_status_code code,
                       const grpc_slice *details)
{
    st->code = code;
    snprintf(st->msg, sizeof st->msg, "%.*s", (int)GRPC_SLICE_LENGTH(*details),
             (const char *)GRPC_SLICE_START_PTR(*details));
}

/* ---- calls -------------------------------------------------------------- */

static grpc_call *call_new(struct rpc_client *c,
                           const ProtobufCServiceDescriptor *sd,
                           const char *method, gpr_timespec deadline,
                           const ProtobufCMethodDescriptor **md,
                           struct rpc_status *st)
{
    char path[256];
    *md = protobuf_c_service_descriptor_get_method_by_name(sd, method);
    if (!*md) {
        st->code = GRPC_STATUS_UNIMPLEMENTED;
        snprintf(st->msg, sizeof st->msg, "%s has no method %s", sd->name,
                 method);
        return NULL;
    }
    snprintf(path, sizeof path, "/%s/%s", sd->name, method);
    grpc_slice p = grpc_slice_from_copied_string(path);
    grpc_call *call = grpc_channel_create_call(
        c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, c->cq, p, NULL, deadline, NULL);
    grpc_slice_unref(p);
    return call;
}

static void run(grpc_call *call, grpc_completion_queue *cq, const grpc_op *ops,
                size_t n)
{
    int tag;
    grpc_call_error e = grpc_call_start_batch(call, ops, n, &tag, NULL);
    if (e != GRPC_CALL_OK) {
        fprintf(stderr, "gortctl: grpc_call_start_batch: error %d\n", (int)e);
        abort();
    }
    grpc_completion_queue_pluck(cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME),
                                NULL);
}

static gpr_timespec deadline_of(int64_t timeout_ns)
{
    if (timeout_ns <= 0)
        return gpr_inf_future(GPR_CLOCK_MONOTONIC);
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                        gpr_time_from_nanos(timeout_ns, GPR_TIMESPAN));
}

int rpc_unary(struct rpc_client *c, const ProtobufCServiceDescriptor *sd,
              const char *method, const ProtobufCMessage *req,
              ProtobufCMessage **resp, struct rpc_status *st)
{
    const ProtobufCMethodDescriptor *md;
    grpc_metadata_array md_in, trailing;
    grpc_byte_buffer *out = NULL;
    grpc_slice details;
    grpc_status_code code;
    const char *error_string = NULL;
    grpc_op ops[6];

    *resp = NULL;
    grpc_call *call =
        call_new(c, sd, method, deadline_of(c->timeout_ns), &md, st);
    if (!call)
        return -1;
    grpc_byte_buffer *in = pack(req);
    grpc_metadata_array_init(&md_in);
    grpc_metadata_array_init(&trailing);
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = in;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &md_in;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &out;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &trailing;
    ops[5].data.recv_status_on_client.status = &code;
    ops[5].data.recv_status_on_client.status_details = &details;
    ops[5].data.recv_status_on_client.error_string = &error_string;
    run(call, c->cq, ops, 6);

    status_set(st, code, &details);
    if (code == GRPC_STATUS_OK) {
        *resp = out ? unpack(md->output, out) : NULL;
        if (!*resp) {
            st->code = GRPC_STATUS_INTERNAL;
            snprintf(st->msg, sizeof st->msg, "cannot parse the reply as %s",
                     md->output->name);
        }
    }
    grpc_slice_unref(details);
    gpr_free((void *)error_string);
    grpc_metadata_array_destroy(&md_in);
    grpc_metadata_array_destroy(&trailing);
    grpc_byte_buffer_destroy(in);
    if (out)
        grpc_byte_buffer_destroy(out);
    grpc_call_unref(call);
    return st->code == GRPC_STATUS_OK ? 0 : -1;
}

/* ---- streams ------------------------------------------------------------ */

int rpc_stream_open(struct rpc_client *c, const ProtobufCServiceDescriptor *sd,
                    const char *method, const ProtobufCMessage *req,
                    struct rpc_stream *s, struct rpc_status *st)
{
    const ProtobufCMethodDescriptor *md;
    grpc_op ops[4];

    memset(s, 0, sizeof *s);
    s->call =
        call_new(c, sd, method, gpr_inf_future(GPR_CLOCK_MONOTONIC), &md, st);
    if (!s->call)
        return -1;
    s->cq = c->cq;
    s->out = md->output;
    grpc_metadata_array_init(&s->md);
    grpc_byte_buffer *in = pack(req);
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = in;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->md;
    run(s->call, s->cq, ops, 4);
    grpc_byte_buffer_destroy(in);
    return 0;
}

int rpc_stream_next(struct rpc_stream *s, ProtobufCMessage **msg)
{
    grpc_byte_buffer *bb = NULL;
    grpc_op op = {.op = GRPC_OP_RECV_MESSAGE};

    op.data.recv_message.recv_message = &bb;
    run(s->call, s->cq, &op, 1);
    if (!bb)
        return 0;
    *msg = unpack(s->out, bb);
    grpc_byte_buffer_destroy(bb);
    return *msg ? 1 : -1;
}

void rpc_stream_finish(struct rpc_stream *s, struct rpc_status *st)
{
    grpc_metadata_array trailing;
    grpc_slice details;
    grpc_status_code code;
    const char *error_string = NULL;
    grpc_op op = {.op = GRPC_OP_RECV_STATUS_ON_CLIENT};

    grpc_metadata_array_init(&trailing);
    op.data.recv_status_on_client.trailing_metadata = &trailing;
    op.data.recv_status_on_client.status = &code;
    op.data.recv_status_on_client.status_details = &details;
    op.data.recv_status_on_client.error_string = &error_string;
    run(s->call, s->cq, &op, 1);
    status_set(st, code, &details);
    grpc_slice_unref(details);
    gpr_free((void *)error_string);
    grpc_metadata_array_destroy(&trailing);
    grpc_metadata_array_destroy(&s->md);
    grpc_call_unref(s->call);
    s->call = NULL;
}

void rpc_stream_cancel(struct rpc_stream *s)
{
    if (s->call)
        grpc_call_cancel(s->call, NULL);
}
