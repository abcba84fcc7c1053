// clang-format off
/* control/transport.c — the control plane's gRPC transport on the gRPC core
 * C API.
 *
 * Threads. One completion-queue thread runs everything below: it takes
 * events from the queue, moves each call through its states and runs the
 * handlers (through ctl_dispatch). It is a plain pthread, never a P: the
 * handlers read the runtime through calls that are safe from any thread, and
 * a slow dump delays other control calls, never goroutines. gRPC's own
 * threads (executor, timers, event engine) do the I/O. A completion queue has
 * no file descriptor, so it cannot join an epoll loop; hence the thread.
 * Handlers marked slow (plugin operations, which may wait seconds for a
 * plugin to drain) go to a pool of CTL_WORKERS threads through a queue
 * instead (PH_WORK): the call waits there, the worker wakes the queue with
 * an empty batch on the call when its reply is ready, and the CQ thread
 * sends it. Until then the CQ thread touches nothing of the call but its
 * phase, and never frees it.
 *
 * Bounds. At most max_streams calls (unary or streaming) are admitted at
 * once; one more is answered RESOURCE_EXHAUSTED at once, before its request
 * is read. Mutating methods (handler.mutates) are checked against
 * -control-allow-cn's identities (authz.c) at the same point:
 * PERMISSION_DENIED, nothing run.
 *
 * Calls. ARMED calls are kept requested with grpc_server_request_call so the
 * server always has one to match an incoming call against (an unknown method
 * still reaches us and gets UNIMPLEMENTED instead of hanging to its
 * deadline). Each call has two tags: `main` for its batches, which run one at
 * a time, and `close` for RECV_CLOSE_ON_SERVER, started as soon as the call
 * arrives, which tells us when the client went away or the call ended. The
 * main tag's meaning comes from the call's phase, never from the tag:
 *
 *   REQUESTED --new call--> RECV --request read--> FINISH --sent--> DONE
 *                            |                      ^    ^           ^
 *                            | slow handler         |    |           |
 *                            +--> WORK --reply ready+    |           |
 *                            |                           | stream    |
 *                            | stream                    | ends      |
 *                            +--> STREAM_SEND <--> STREAM_WAIT ------+
 *                            |                     (peer gone, cancelled)
 *                            | bidi (reflection): one answer per request
 *                            +--> BIDI_SEND --sent--> RECV; the client's
 *                                 half-close (no message) --> FINISH OK
 *
 * STREAM_SEND has one message in flight; STREAM_WAIT has none and lasts
 * until the handler's next_at, or until woken. A batch that fails moves the
 * call to DONE from any phase.
 *
 * A call is freed when it is DONE and its close tag was delivered; nothing
 * else frees it. Streams are timed by the completion queue's own deadline:
 * the core has no public alarm, so the thread waits until the earliest
 * next_at of a waiting stream.
 *
 * Shutdown (ctl_stop, any thread): set `stopping`, grpc_server_shutdown_and_
 * notify. The thread then marks itself draining: handlers see shutting_down
 * (health turns NOT_SERVING), every waiting stream is woken so it can end
 * with OK, no call is re-armed. After GRACE_NS it cancels what is left. The
 * shutdown tag destroys the server and shuts the queue down; the thread
 * exits on GRPC_QUEUE_SHUTDOWN.
 */
// clang-format on
#include "control/control.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>

#include "control/authz.h"
#include "control/dispatch.h"
#include "control/listen.h"
#include "control/methods.h"
#include "common/list.h"
#include "gort/gort.h"
#include "cli/grpc.h"
#include "log.h"

#define ARMED 8                         /* calls kept requested */
#define GRACE_NS INT64_C(2000000000)    /* for calls in flight at shutdown */
#define MAX_WAIT_NS INT64_C(1000000000) /* longest queue wait: a safety net */
#define MAX_REQUEST_BYTES (1024 * 1024) /* control requests are tiny */
#define CTL_WORKERS 4 /* threads for slow handlers (plugin operations) */

enum phase {
    PH_REQUESTED,   /* armed: waiting for a client */
    PH_RECV,        /* reading the request message */
    PH_STREAM_SEND, /* one stream message in flight */
    PH_STREAM_WAIT, /* stream idle until next_at (no batch in flight) */
    PH_WORK,        /* a slow unary handler runs on a worker thread */
    PH_BIDI_SEND,   /* a bidi stream's answer in flight; then RECV again */
    PH_FINISH,      /* status (and unary reply) in flight */
    PH_DONE,        /* no more batches; waiting for the close tag */
};

struct ctl_tag {
    struct ctl_call *call; /* NULL for the server's shutdown tag */
    int close;             /* the RECV_CLOSE_ON_SERVER tag */
};

struct ctl_call {
    struct ctl_server *s;
    struct ctl_tag main_tag, close_tag;
    grpc_call *call;
    grpc_call_details details;
    grpc_metadata_array req_md;
    enum phase phase;
    int close_pending; /* RECV_CLOSE_ON_SERVER started, not delivered */
    int cancelled;     /* its result: 1 = client gone or deadline */
    int sent_md;       /* initial metadata went out */
    int streaming;     /* stream opened: close it at free */
    struct ctl_route route;
    struct ctl_stream stream;
    int64_t deadline; /* CLOCK_MONOTONIC ns, INT64_MAX = none */
    int64_t next_at;  /* PH_STREAM_WAIT: when to step the stream */
    grpc_byte_buffer *recv, *send;
    grpc_slice status_details;
    int has_details;
    struct ilist_node link; /* in s->calls: accepted, not yet freed */
    struct ctl_work *work;  /* PH_WORK */
    int admitted;           /* counted against max_streams */
};

/* A slow unary call's handler run (PH_WORK). The worker owns it until it
 * sets done; then the CQ thread, woken by an empty batch on the call (the
 * core completes one at once: the only way another thread can post to a
 * completion queue without an alarm), takes the reply and frees it. */
struct ctl_work {
    struct ctl_call *c; /* only c->call and c->route are read by the worker */
    uint8_t *in;
    size_t len;
    struct ctl_env env;
    struct ctl_reply rep;
    atomic_int done;
    struct ilist_node link; /* in the pool's queue until a worker takes it */
};

/* The threads that run slow handlers: a fixed few, fed by a queue, so a
 * burst of plugin operations costs queue entries, not threads. The queue
 * needs no bound of its own: every entry is an admitted call, and those
 * are bounded by max_streams. */
struct ctl_pool {
    pthread_mutex_t lock;
    pthread_cond_t more;
    struct ilist queue; /* of ctl_work.link */
    int stop;
    int n;
    pthread_t threads[CTL_WORKERS];
};

struct ctl_server {
    grpc_server *srv;
    grpc_completion_queue *cq;
    pthread_t thread;
    struct ctl_dispatch dispatch;
    struct ctl_listener listener;
    struct ctl_authz authz; /* who may call the mutating methods */
    struct ctl_pool pool;
    int max_streams;     /* admitted calls at once */
    atomic_int stopping; /* set by ctl_stop; read by the CQ thread (seq_cst) */
    struct ctl_tag shutdown_tag;
    /* CQ thread only: */
    int draining, cancelled_all;
    /* The CQ thread destroyed srv (after the shutdown tag). A flag of its
     * own, not srv = NULL: ctl_stop read srv to shut it down, and the
     * hand-over through gRPC is invisible to the thread sanitizer. */
    int srv_destroyed;
    int64_t grace_end;
    struct ilist calls; /* of ctl_call.link */
    int admitted;       /* calls in `calls` with admitted set */
    int unarmed;        /* arm() failed for want of memory this many times */
    int oom_logged;     /* said so once since the last success */
};

/* ---- small helpers ------------------------------------------------------ */

static int64_t deadline_from(gpr_timespec d)
{
    if (d.tv_sec == INT64_MAX)
        return INT64_MAX;
    gpr_timespec left = gpr_time_sub(d, gpr_now(d.clock_type));
    if (left.tv_sec > 1000000000)
        return INT64_MAX;
    return gort_nanotime() + (int64_t)left.tv_sec * 1000000000 + left.tv_nsec;
}

static gpr_timespec gpr_at(int64_t at)
{
    int64_t d = at - gort_nanotime();
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                        gpr_time_from_nanos(d > 0 ? d : 0, GPR_TIMESPAN));
}

static void batch(struct ctl_call *c, const grpc_op *ops, size_t n,
                  struct ctl_tag *tag)
{
    grpc_call_error e = grpc_call_start_batch(c->call, ops, n, tag, NULL);
    if (e != GRPC_CALL_OK)
        ctl_fatal("control batch: grpc_call_start_batch: error %d in phase %d",
                  (int)e, (int)c->phase);
}

/* Takes the reply's packed bytes without copying them. */
static grpc_byte_buffer *reply_buffer(struct ctl_reply *rep)
{
    grpc_slice sl = rep->len ? grpc_slice_new(rep->data, rep->len, free)
                             : grpc_empty_slice();
    if (!rep->len)
        free(rep->data);
    rep->data = NULL;
    rep->len = 0;
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&sl, 1);
    grpc_slice_unref(sl);
    return bb;
}

/* gRPC's own messages, at their severity (gRPC filters by GRPC_VERBOSITY
 * first: errors only by default). */
static void log_grpc(gpr_log_func_args *a)
{
    enum glog_level level = a->severity == GPR_LOG_SEVERITY_ERROR  ? GLOG_ERROR
                            : a->severity == GPR_LOG_SEVERITY_INFO ? GLOG_INFO
                                                                   : GLOG_DEBUG;
    glog_at(level, "grpc", GLOG_STR("text", a->message),
            GLOG_STR("src", a->file), GLOG_INT("line", a->line));
}

/* ---- call lifetime ------------------------------------------------------ */

static void call_free(struct ctl_call *c)
{
    if (c->streaming)
        ctl_stream_close(&c->stream);
    if (c->call)
        grpc_call_unref(c->call);
    grpc_call_details_destroy(&c->details);
    grpc_metadata_array_destroy(&c->req_md);
    if (c->recv)
        grpc_byte_buffer_destroy(c->recv);
    if (c->send)
        grpc_byte_buffer_destroy(c->send);
    if (c->has_details)
        grpc_slice_unref(c->status_details);
    free(c);
}

static void call_maybe_free(struct ctl_call *c)
{
    if (c->phase != PH_DONE || c->close_pending)
        return;
    ilist_remove(&c->s->calls, &c->link);
    c->s->admitted -= c->admitted;
    call_free(c);
}

/* Keeps one more call requested. Out of memory, the slot stays empty and
 * is owed (s->unarmed): the CQ thread retries after every event and at
 * least every MAX_WAIT_NS, so the server never ends up with nothing armed
 * (calls would then wait for their deadlines unanswered). */
static void arm(struct ctl_server *s)
{
    struct ctl_call *c = calloc(1, sizeof *c);
    if (!c) {
        s->unarmed++;
        if (!s->oom_logged)
            glog_warn("control plane out of memory",
                      GLOG_STR("reason", "cannot keep a call armed; retrying"));
        s->oom_logged = 1;
        return;
    }
    s->oom_logged = 0;
    c->s = s;
    c->main_tag.call = c;
    c->close_tag.call = c;
    c->close_tag.close = 1;
    grpc_call_details_init(&c->details);
    grpc_metadata_array_init(&c->req_md);
    c->phase = PH_REQUESTED;
    grpc_call_error e = grpc_server_request_call(
        s->srv, &c->call, &c->details, &c->req_md, s->cq, s->cq, &c->main_tag);
    if (e != GRPC_CALL_OK) {
        glog_error("cannot accept control calls",
                   GLOG_STR("call", "grpc_server_request_call"),
                   GLOG_INT("code", (int)e));
        call_free(c);
    }
}

/* ---- batches ------------------------------------------------------------ */

static void start_close(struct ctl_call *c)
{
    grpc_op op = {.op = GRPC_OP_RECV_CLOSE_ON_SERVER};
    op.data.recv_close_on_server.cancelled = &c->cancelled;
    c->close_pending = 1;
    batch(c, &op, 1, &c->close_tag);
}

static void start_recv(struct ctl_call *c)
{
    grpc_op op = {.op = GRPC_OP_RECV_MESSAGE};
    op.data.recv_message.recv_message = &c->recv;
    c->phase = PH_RECV;
    batch(c, &op, 1, &c->main_tag);
}

/* Initial metadata if not yet sent; the message if any; the status. */
static void finish(struct ctl_call *c, struct ctl_reply *rep, int with_message)
{
    grpc_op ops[3];
    size_t n = 0;

    memset(ops, 0, sizeof ops);
    if (!c->sent_md) {
        ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
        c->sent_md = 1;
    }
    if (with_message) {
        c->send = reply_buffer(rep);
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = c->send;
    }
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = rep->code;
    if (rep->msg[0]) {
        c->status_details = grpc_slice_from_copied_string(rep->msg);
        c->has_details = 1;
        ops[n].data.send_status_from_server.status_details = &c->status_details;
    }
    n++;
    c->phase = PH_FINISH;
    batch(c, ops, n, &c->main_tag);
}

static void send_message(struct ctl_call *c, struct ctl_reply *rep)
{
    grpc_op ops[2];
    size_t n = 0;

    memset(ops, 0, sizeof ops);
    if (!c->sent_md) {
        ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
        c->sent_md = 1;
    }
    c->send = reply_buffer(rep);
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = c->send;
    c->phase = PH_STREAM_SEND;
    batch(c, ops, n, &c->main_tag);
}

/* ---- the state machine -------------------------------------------------- */

static struct ctl_env call_env(const struct ctl_call *c)
{
    struct ctl_env env = {.deadline = c->deadline,
                          .shutting_down = c->s->draining};
    return env;
}

static void stream_step(struct ctl_call *c)
{
    struct ctl_env env = call_env(c);
    struct ctl_reply rep;
    int64_t next_at;

    enum ctl_next step =
        ctl_stream_next(&c->s->dispatch, &c->stream, &env, &rep, &next_at);
    c->next_at = next_at;
    if (step == CTL_NEXT_SEND)
        send_message(c, &rep);
    else if (step == CTL_NEXT_END)
        finish(c, &rep, 0);
    else
        c->phase = PH_STREAM_WAIT;
    ctl_reply_clear(&rep);
}

/* The request's bytes in one contiguous slice, or -1 (undecodable). */
static int request_bytes(struct ctl_call *c, grpc_slice *out)
{
    grpc_byte_buffer_reader r;
    if (!grpc_byte_buffer_reader_init(&r, c->recv))
        return -1;
    *out = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    return 0;
}

static void work_run(struct ctl_work *w)
{
    struct ctl_call *c = w->c;
    ctl_dispatch_unary(&c->s->dispatch, &c->route, w->in, w->len, &w->env,
                       &w->rep);
    /* Once done is published the CQ thread may free the call and w as soon
     * as the wake-up arrives, and that ordering runs through gRPC, which
     * ThreadSanitizer cannot see: read all we need before the release, so
     * every access of ours happens-before the CQ thread's acquire. */
    grpc_call *call = c->call;
    void *tag = &c->main_tag;
    atomic_store_explicit(&w->done, 1, memory_order_release);
    if (grpc_call_start_batch(call, NULL, 0, tag, NULL) != GRPC_CALL_OK)
        ctl_fatal("control: cannot wake the completion queue");
}

static void *work_thread(void *arg)
{
    struct ctl_pool *pool = arg;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        struct ilist_node *n = ilist_pop_front(&pool->queue);
        if (n) {
            pthread_mutex_unlock(&pool->lock);
            work_run(ilist_entry(n, struct ctl_work, link));
            pthread_mutex_lock(&pool->lock);
        } else if (pool->stop) {
            break;
        } else {
            pthread_cond_wait(&pool->more, &pool->lock);
        }
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

/* Starts up to CTL_WORKERS threads; at least one, or -1. */
static int pool_start(struct ctl_pool *pool)
{
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->more, NULL);
    pool->queue = (struct ilist)ILIST_INIT;
    while (pool->n < CTL_WORKERS &&
           pthread_create(&pool->threads[pool->n], NULL, work_thread, pool) ==
               0)
        pool->n++;
    return pool->n > 0 ? 0 : -1;
}

/* Joins the workers once the queue has drained (every queued call must
 * end before the CQ thread does, so it is empty by ctl_stop's turn). */
static void pool_stop(struct ctl_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    pool->stop = 1;
    pthread_cond_broadcast(&pool->more);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 0; i < pool->n; i++)
        pthread_join(pool->threads[i], NULL);
    pool->n = 0;
    pthread_cond_destroy(&pool->more);
    pthread_mutex_destroy(&pool->lock);
}

/* Queues a slow handler for the pool; the call waits in PH_WORK. */
static void start_work(struct ctl_call *c, const uint8_t *in, size_t len)
{
    struct ctl_pool *pool = &c->s->pool;
    struct ctl_work *w = calloc(1, sizeof *w);
    if (w && (w->in = malloc(len ? len : 1))) {
        memcpy(w->in, in, len);
        *w = (struct ctl_work){
            .c = c, .in = w->in, .len = len, .env = call_env(c)};
        c->work = w;
        c->phase = PH_WORK;
        pthread_mutex_lock(&pool->lock);
        ilist_push_back(&pool->queue, &w->link);
        pthread_cond_signal(&pool->more);
        pthread_mutex_unlock(&pool->lock);
        return;
    }
    free(w);
    struct ctl_reply rep = {.code = GRPC_STATUS_RESOURCE_EXHAUSTED};
    snprintf(rep.msg, sizeof rep.msg, "out of memory queueing the call");
    finish(c, &rep, 0);
}

/* The worker is done: send its reply. */
static void on_worked(struct ctl_call *c)
{
    struct ctl_work *w = c->work;
    if (!atomic_load_explicit(&w->done, memory_order_acquire))
        ctl_fatal("control: woken before the worker finished");
    c->work = NULL;
    finish(c, &w->rep, w->rep.code == GRPC_STATUS_OK);
    ctl_reply_clear(&w->rep);
    free(w->in);
    free(w);
}

/* One request of a bidi stream, one answer; an error status ends it. */
static void answer(struct ctl_call *c, const uint8_t *in, size_t len)
{
    struct ctl_env env = call_env(c);
    struct ctl_reply rep;
    ctl_dispatch_unary(&c->s->dispatch, &c->route, in, len, &env, &rep);
    if (rep.code != GRPC_STATUS_OK) {
        finish(c, &rep, 0);
    } else {
        send_message(c, &rep);
        c->phase = PH_BIDI_SEND;
    }
    ctl_reply_clear(&rep);
}

static void dispatch_request(struct ctl_call *c, const uint8_t *in, size_t len)
{
    struct ctl_env env = call_env(c);
    struct ctl_reply rep;

    if (c->route.handler->slow && c->route.handler->unary) {
        start_work(c, in, len);
        return;
    }
    if (c->route.handler->bidi) {
        answer(c, in, len);
        return;
    }
    if (!c->route.handler->stream) {
        ctl_dispatch_unary(&c->s->dispatch, &c->route, in, len, &env, &rep);
        finish(c, &rep, rep.code == GRPC_STATUS_OK);
    } else if (ctl_stream_open(&c->s->dispatch, &c->route, in, len, &env,
                               &c->stream, &rep) < 0) {
        finish(c, &rep, 0);
    } else {
        c->streaming = 1;
        stream_step(c);
    }
    ctl_reply_clear(&rep);
}

static void on_recv(struct ctl_call *c, int success)
{
    struct ctl_reply rep = {.code = GRPC_STATUS_INVALID_ARGUMENT};
    grpc_slice sl;

    if (!success) {
        c->phase = PH_DONE; /* the call broke; the close tag will follow */
        return;
    }
    if (!c->recv && c->route.handler->bidi) {
        rep.code = GRPC_STATUS_OK; /* the client is done asking */
        finish(c, &rep, 0);
        return;
    }
    if (!c->recv) {
        snprintf(rep.msg, sizeof rep.msg, "no request message (%s expected)",
                 c->route.method->input->name);
        finish(c, &rep, 0);
        return;
    }
    if (request_bytes(c, &sl) < 0) {
        snprintf(rep.msg, sizeof rep.msg, "cannot decode the %s message",
                 c->route.method->input->name);
        finish(c, &rep, 0);
        return;
    }
    grpc_byte_buffer_destroy(c->recv);
    c->recv = NULL;
    dispatch_request(c, GRPC_SLICE_START_PTR(sl), GRPC_SLICE_LENGTH(sl));
    grpc_slice_unref(sl);
}

/* Counts the call against max_streams: every call, unary or stream, holds
 * memory and a place in the CQ thread's loop until it ends, so past the
 * bound a flood costs one status each, not a growing set of live calls. */
static int admit(struct ctl_call *c, struct ctl_reply *rep)
{
    struct ctl_server *s = c->s;
    if (s->admitted >= s->max_streams) {
        rep->code = GRPC_STATUS_RESOURCE_EXHAUSTED;
        snprintf(rep->msg, sizeof rep->msg,
                 "gortd serves at most %d control calls and streams at once "
                 "(-control-max-streams); try again when one ends",
                 s->max_streams);
        return 0;
    }
    c->admitted = 1;
    s->admitted++;
    return 1;
}

/* The mutating methods, for -control-allow-cn's identities only. */
static int authorized(struct ctl_call *c, struct ctl_reply *rep)
{
    char who[128];
    if (!c->route.handler->mutates ||
        ctl_authz_allowed(&c->s->authz, c->call, who, sizeof who))
        return 1;
    glog_warn("control call refused", GLOG_STR("method", c->route.method->name),
              GLOG_STR("client", who),
              GLOG_STR("reason", "not in -control-allow-cn"));
    rep->code = GRPC_STATUS_PERMISSION_DENIED;
    snprintf(rep->msg, sizeof rep->msg,
             "%s changes gortd and is allowed only to the client identities "
             "in -control-allow-cn; this client presented %s",
             c->route.method->name, who);
    return 0;
}

static void on_new(struct ctl_call *c)
{
    struct ctl_server *s = c->s;
    struct ctl_reply rep;
    const grpc_slice *m = &c->details.method;

    ilist_push_back(&s->calls, &c->link);
    if (!s->draining)
        arm(s);
    c->deadline = deadline_from(c->details.deadline);
    start_close(c);
    if (ctl_dispatch_lookup(&s->dispatch,
                            (const char *)GRPC_SLICE_START_PTR(*m),
                            GRPC_SLICE_LENGTH(*m), &c->route, &rep) < 0) {
        finish(c, &rep, 0); /* UNIMPLEMENTED; the body is never read */
        return;
    }
    if (!admit(c, &rep) || !authorized(c, &rep)) {
        finish(c, &rep, 0);
        return;
    }
    start_recv(c);
}

static void on_sent(struct ctl_call *c, int success)
{
    grpc_byte_buffer_destroy(c->send);
    c->send = NULL;
    if (!success || !c->close_pending) {
        c->phase = PH_DONE; /* peer gone */
        return;
    }
    c->phase = PH_STREAM_WAIT;
    if (c->s->draining)
        c->next_at = gort_nanotime();
}

static void on_answered(struct ctl_call *c, int success)
{
    grpc_byte_buffer_destroy(c->send);
    c->send = NULL;
    if (!success || !c->close_pending) {
        c->phase = PH_DONE; /* peer gone */
        return;
    }
    start_recv(c); /* the next request, or the client's half-close */
}

static void on_close(struct ctl_call *c)
{
    c->close_pending = 0;
    if (c->phase == PH_STREAM_WAIT)
        c->phase = PH_DONE; /* cancelled or past its deadline while idle */
}

static void on_event(struct ctl_server *s, void *tag, int success)
{
    struct ctl_tag *t = tag;
    struct ctl_call *c = t->call;

    if (t == &s->shutdown_tag) {
        grpc_server_destroy(s->srv);
        s->srv_destroyed = 1;
        grpc_completion_queue_shutdown(s->cq);
        return;
    }
    if (t->close) {
        on_close(c);
    } else if (c->phase == PH_REQUESTED) {
        if (!success) { /* shutting down: this slot was never used */
            call_free(c);
            return;
        }
        on_new(c);
    } else if (c->phase == PH_RECV) {
        on_recv(c, success);
    } else if (c->phase == PH_STREAM_SEND) {
        on_sent(c, success);
    } else if (c->phase == PH_BIDI_SEND) {
        on_answered(c, success);
    } else if (c->phase == PH_WORK) {
        on_worked(c);
    } else if (c->phase == PH_FINISH) {
        c->phase = PH_DONE;
    } else {
        ctl_fatal("control on_event: batch completed in phase %d",
                  (int)c->phase);
    }
    call_maybe_free(c);
}

/* ---- the completion-queue thread ---------------------------------------- */

static void streams_run_due(struct ctl_server *s)
{
    int64_t now = gort_nanotime();
    struct ctl_call *c, *next;
    ilist_for_each_entry_safe(c, next, &s->calls, link) {
        if (c->phase == PH_STREAM_WAIT && c->next_at <= now)
            stream_step(c);
    }
}

static int64_t next_wakeup(const struct ctl_server *s)
{
    int64_t at = gort_nanotime() + MAX_WAIT_NS;
    const struct ctl_call *c;
    ilist_for_each_entry(c, &s->calls, link)
        if (c->phase == PH_STREAM_WAIT && c->next_at < at)
            at = c->next_at;
    if (s->draining && !s->cancelled_all && s->grace_end < at)
        at = s->grace_end;
    return at;
}

static void drain_begin(struct ctl_server *s)
{
    s->draining = 1;
    s->grace_end = gort_nanotime() + GRACE_NS;
    struct ctl_call *c;
    ilist_for_each_entry(c, &s->calls, link)
        if (c->phase == PH_STREAM_WAIT)
            c->next_at = 0; /* wake: it ends, or says NOT_SERVING first */
}

static void rearm(struct ctl_server *s)
{
    int owed = s->unarmed;
    s->unarmed = 0;
    while (owed-- > 0 && !s->draining && !s->srv_destroyed)
        arm(s);
}

static void *cq_thread(void *arg)
{
    struct ctl_server *s = arg;

    for (;;) {
        if (!s->draining && atomic_load(&s->stopping))
            drain_begin(s);
        grpc_event ev =
            grpc_completion_queue_next(s->cq, gpr_at(next_wakeup(s)), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type == GRPC_OP_COMPLETE)
            on_event(s, ev.tag, ev.success);
        rearm(s);
        if (!s->draining && atomic_load(&s->stopping))
            drain_begin(s);
        streams_run_due(s);
        if (s->draining && !s->cancelled_all && !s->srv_destroyed &&
            gort_nanotime() >= s->grace_end) {
            grpc_server_cancel_all_calls(s->srv);
            s->cancelled_all = 1;
        }
    }
    /* None expected: every call ended before the tag. */
    struct ilist_node *n;
    while ((n = ilist_pop_front(&s->calls)) != NULL)
        call_free(ilist_entry(n, struct ctl_call, link));
    return NULL;
}

/* ---- start and stop ----------------------------------------------------- */

/* Stops a server whose CQ thread never ran: shut down, pump the queue
 * (armed slots come back with success=0), destroy. */
static void server_abort(struct ctl_server *s)
{
    grpc_server_shutdown_and_notify(s->srv, s->cq, &s->shutdown_tag);
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(
            s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        struct ctl_tag *t = ev.tag;
        if (t == &s->shutdown_tag) {
            grpc_server_destroy(s->srv);
            grpc_completion_queue_shutdown(s->cq);
        } else if (!t->close && t->call->phase == PH_REQUESTED) {
            call_free(t->call);
        }
    }
    grpc_completion_queue_destroy(s->cq);
}

static grpc_server_credentials *server_creds(const struct ctl_config *cfg,
                                             char *err, size_t errlen)
{
    if (!ctl_listen_tls(cfg))
        return grpc_insecure_server_credentials_create();
    return cli_tls_server_creds(
        cfg->tls_cert, cfg->tls_key,
        cfg->tls_ca && *cfg->tls_ca ? cfg->tls_ca : NULL, err, errlen);
}

static grpc_server *server_new(void)
{
    grpc_arg args[2] = {
        /* Default on: a second gortd on the same port would share it. */
        {.type = GRPC_ARG_INTEGER,
         .key = GRPC_ARG_ALLOW_REUSEPORT,
         .value.integer = 0},
        {.type = GRPC_ARG_INTEGER,
         .key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
         .value.integer = MAX_REQUEST_BYTES},
    };
    grpc_channel_args ch = {.num_args = 2, .args = args};
    return grpc_server_create(&ch, NULL);
}

/* Creates, binds and starts the gRPC server; arms the first calls. */
static int server_start(struct ctl_server *s, const struct ctl_config *cfg,
                        char *err, size_t errlen)
{
    grpc_server_credentials *cr = server_creds(cfg, err, errlen);
    if (!cr)
        return -1;
    s->srv = server_new();
    s->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(s->srv, s->cq, NULL);
    int rc = ctl_listen_bind(&s->listener, s->srv, cr, err, errlen);
    grpc_server_credentials_release(cr);
    if (rc < 0) {
        server_abort(s);
        return -1;
    }
    grpc_server_start(s->srv);
    for (int i = 0; i < ARMED; i++)
        arm(s);
    return 0;
}

struct ctl_server *ctl_start(const struct ctl_config *cfg, char *err,
                             size_t errlen)
{
    struct ctl_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->max_streams =
        cfg->max_streams > 0 ? (int)cfg->max_streams : CTL_MAX_STREAMS_DEFAULT;
    int registered =
        cfg->health_only
            ? ctl_methods_register_health(&s->dispatch, err, errlen)
            : ctl_methods_register(&s->dispatch, err, errlen);
    if (registered < 0 ||
        ctl_authz_parse(&s->authz, cfg->allow_ids, err, errlen) < 0) {
        free(s);
        return NULL;
    }
    if (ctl_listen_prepare(&s->listener, cfg, err, errlen) < 0) {
        ctl_authz_free(&s->authz);
        free(s);
        return NULL;
    }
    if (pool_start(&s->pool) < 0) {
        snprintf(err, errlen, "cannot start the control-plane workers");
        ctl_listen_release(&s->listener);
        ctl_authz_free(&s->authz);
        free(s);
        return NULL;
    }
    grpc_init();
    gpr_set_log_function(log_grpc);
    if (server_start(s, cfg, err, errlen) < 0)
        goto err;
    if (pthread_create(&s->thread, NULL, cq_thread, s) != 0) {
        snprintf(err, errlen, "cannot start the control-plane thread");
        server_abort(s);
        goto err;
    }
    return s;
err:
    pool_stop(&s->pool);
    ctl_listen_release(&s->listener);
    ctl_authz_free(&s->authz);
    grpc_shutdown_blocking();
    free(s);
    return NULL;
}

const char *ctl_server_addr(const struct ctl_server *s)
{
    return s->listener.served;
}

void ctl_stop(struct ctl_server *s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, 1);
    grpc_server_shutdown_and_notify(s->srv, s->cq, &s->shutdown_tag);
    pthread_join(s->thread, NULL);
    pool_stop(&s->pool);
    grpc_completion_queue_destroy(s->cq);
    ctl_listen_release(&s->listener);
    ctl_authz_free(&s->authz);
    grpc_shutdown_blocking();
    free(s);
}
