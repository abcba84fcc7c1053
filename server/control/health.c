/* control/health.c — grpc.health.v1.Health, so that standard probes work.
 *
 * gortd has one serving state: SERVING until shutdown starts, NOT_SERVING
 * from then on. Shutdown starts when gortd begins draining its HTTP
 * connections (ctl_health_drain, the moment /readyz turns 503), well before
 * the control plane itself stops (ctl_stop, after the drain): a probe or a
 * balancer asking grpc.health.v1 stops sending traffic at the same moment
 * as one asking /readyz. The names it knows are "" (the whole server) and
 * every service registered with the dispatcher.
 *
 * Watch sends the current status at once and then only on a change. The only
 * change is shutdown. The drain flag is a plain atomic that nothing wakes
 * streams for, so an idle watch looks again once a second (WATCH_POLL_NS);
 * ctl_stop wakes every stream at once, so a watcher is told NOT_SERVING and
 * its stream then ends with OK instead of being cut off after the grace
 * period.
 */
#include <stdatomic.h>
#include <string.h>

#include "grpc/health/v1/health.pb-c.h"

#include "control/control.h"
#include "control/methods.h"
#include "gort/gort.h"

typedef Grpc__Health__V1__HealthCheckRequest health_req;
typedef Grpc__Health__V1__HealthCheckResponse health_rep;

#define ST(x) GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__##x

#define WATCH_POLL_NS 1000000000LL

/* Set once, when gortd starts draining; read by the control threads. */
static atomic_int draining;

void ctl_health_drain(void)
{
    atomic_store_explicit(&draining, 1, memory_order_release);
}

static int stopping(const struct ctl_ctx *cx)
{
    return cx->shutting_down ||
           atomic_load_explicit(&draining, memory_order_acquire);
}

static int known(const struct ctl_ctx *cx, const char *service)
{
    return service[0] == '\0' ||
           ctl_dispatch_service(cx->dispatch, service) != NULL;
}

static int serving_status(const struct ctl_ctx *cx, const char *service)
{
    if (!known(cx, service))
        return ST(SERVICE_UNKNOWN);
    return stopping(cx) ? ST(NOT_SERVING) : ST(SERVING);
}

static grpc_status_code check(const ProtobufCMessage *in, ProtobufCMessage *out,
                              struct ctl_ctx *cx)
{
    const health_req *req = (const health_req *)in;
    if (!known(cx, req->service))
        return ctl_fail(cx, GRPC_STATUS_NOT_FOUND, "unknown service %.128s",
                        req->service);
    ((health_rep *)out)->status = serving_status(cx, req->service);
    return GRPC_STATUS_OK;
}

struct watch_state {
    char service[128];
    int last_sent; /* -1 before the first message */
};

static grpc_status_code watch_open(const ProtobufCMessage *in, void *state,
                                   struct ctl_ctx *cx)
{
    const health_req *req = (const health_req *)in;
    struct watch_state *w = state;

    if (strlen(req->service) >= sizeof w->service)
        return ctl_fail(cx, GRPC_STATUS_INVALID_ARGUMENT,
                        "service name longer than %zu bytes",
                        sizeof w->service - 1);
    strcpy(w->service, req->service);
    w->last_sent = -1;
    return GRPC_STATUS_OK;
}

static enum ctl_next watch_next(void *state, ProtobufCMessage *out,
                                struct ctl_ctx *cx, int64_t *next_at)
{
    struct watch_state *w = state;
    int st = serving_status(cx, w->service);

    if (st != w->last_sent) {
        ((health_rep *)out)->status = st;
        w->last_sent = st;
        /* Shutting down: at once, to end the stream; else the next look. */
        *next_at = gort_nanotime() + (cx->shutting_down ? 0 : WATCH_POLL_NS);
        return CTL_NEXT_SEND;
    }
    if (cx->shutting_down)
        return CTL_NEXT_END;
    *next_at = gort_nanotime() + WATCH_POLL_NS; /* for the drain flag */
    return CTL_NEXT_IDLE;
}

static const struct ctl_stream_ops watch_ops = {
    .state_size = sizeof(struct watch_state),
    .open = watch_open,
    .next = watch_next,
};

const struct ctl_handler ctl_health_handlers[] = {
    {"Check", check, NULL, 0, 0, 0},
    {"Watch", NULL, &watch_ops, 0, 0, 0},
};
const size_t ctl_health_nhandlers =
    sizeof ctl_health_handlers / sizeof ctl_health_handlers[0];
