/* fanout — the pattern Go services are made of: one request calls two
 * upstreams at once, waits for both up to a shared deadline, and answers
 * with what came back, marked partial when something did not.
 *
 * Configuration, fanout.conf next to fanout.so ('#' starts a comment):
 *
 *     route    GET /fanout                       # the pattern (this one
 *                                                # by default)
 *     upstream users  http://127.0.0.1:9001/users
 *     upstream orders http://127.0.0.1:9002/orders?recent=1
 *     deadline 250ms                             # for the whole fan-out
 *
 * exactly two upstreams, each a name and a full URL. Without fanout.conf
 * the plugin refuses to load (`make run` goes on without it); a bad line
 * refuses it naming "fanout.conf:LINE".
 *
 * A request, as Go writes it:
 *
 *     ctx, cancel := context.WithTimeout(r.Context(), deadline)
 *     defer cancel()
 *     go fetch(ctx, up[0], results); go fetch(ctx, up[1], results)
 *     select { case res := <-results: ...  case <-ctx.Done(): ... }
 *
 * two goroutines, one per upstream, make their call under that context
 * (gort_http_creq_set_ctx) and send the result on a channel. The handler
 * selects over the results and the context's done channel (gort_select)
 * until both results are in or the context ends: the deadline passed, or
 * the client went away (the request's context is its parent). Then writes
 *
 *     {"partial":false,
 *      "results":{"users":{"status":200,"body":"..."},
 *                 "orders":{"status":200,"body":"..."}}}
 *
 * with an upstream that failed as {"error":"..."} and one that missed the
 * deadline as {"error":"deadline exceeded"}, "partial":true for either; 504
 * when neither answered. Bodies are embedded as JSON strings, at most 1
 * MiB each.
 *
 * Ownership: a goroutine can outlive the handler (the deadline passed
 * while it still waited), so the call's state is shared by the handler
 * and its three goroutines under a reference count; the last one to let go
 * frees it, results left in the channel included. The handler cancels the
 * context when it is done, which abandons a call still under way at once,
 * so unloading the plugin never waits longer than the deadline.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanoutconf.h"
#include "gort/plugin.h"

#define SEC 1000000000LL
#define MAX_BODY (1 << 20)

/* One upstream's answer, sent on the results channel by pointer. */
struct result {
    int index;
    int status; /* 0 when err is set */
    char *body;
    size_t len;
    char err[160];
};

/* One request's fan-out, shared by the handler and its goroutines. */
struct call {
    int refs; /* atomic (__atomic, acq_rel): the last to drop frees */
    const struct fanout *fo;
    gort_ctx *ctx;      /* the deadline and the client; one reference */
    gort_chan *results; /* struct result *, capacity 2: sends never block */
    int index;          /* for the worker being started */
};

static void call_unref(struct call *c)
{
    if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    struct result *res;
    while (gort_chan_len(c->results) > 0 && gort_chan_recv(c->results, &res))
        free(res->body), free(res);
    gort_chan_free(c->results);
    gort_ctx_release(c->ctx);
    free(c);
}

/* ---- the goroutines ------------------------------------------------------ */

static void read_body(gort_http_cresp *rs, struct result *res)
{
    size_t cap = 0;
    ssize_t n;
    char buf[8192];
    while ((n = gort_http_cresp_read(rs, buf, sizeof buf)) > 0) {
        if (res->len + (size_t)n > MAX_BODY) {
            snprintf(res->err, sizeof res->err, "body over %d bytes", MAX_BODY);
            return;
        }
        if (res->len + (size_t)n > cap) {
            size_t ncap = cap ? cap * 2 : 16384;
            while (ncap < res->len + (size_t)n)
                ncap *= 2;
            char *nb = realloc(res->body, ncap);
            if (!nb) {
                snprintf(res->err, sizeof res->err, "out of memory");
                return;
            }
            res->body = nb, cap = ncap;
        }
        memcpy(res->body + res->len, buf, (size_t)n);
        res->len += (size_t)n;
    }
    if (n < 0)
        snprintf(res->err, sizeof res->err, "reading the body: %s",
                 gort_strerror((int)n));
}

static void fetch(struct call *c, int i, struct result *res)
{
    gort_http_creq *rq = gort_http_creq_new("GET", c->fo->up[i].url);
    gort_http_cresp *rs;
    if (!rq) {
        snprintf(res->err, sizeof res->err, "out of memory");
        return;
    }
    int rc = gort_http_creq_set_ctx(rq, c->ctx);
    if (rc == 0)
        rc = gort_http_do(c->fo->client, rq, &rs);
    if (rc < 0) {
        snprintf(res->err, sizeof res->err, "%s",
                 rc == GORT_EDEADLINE   ? "deadline exceeded"
                 : rc == GORT_ECANCELED ? "canceled"
                                        : gort_http_creq_error(rq));
    } else {
        res->status = gort_http_cresp_status(rs);
        read_body(rs, res);
        gort_http_cresp_close(rs);
    }
    gort_http_creq_free(rq);
}

static void worker(void *arg)
{
    struct call *c = arg;
    int i = __atomic_fetch_add(&c->index, 1, __ATOMIC_RELAXED);
    struct result *res = calloc(1, sizeof *res);
    if (res) {
        res->index = i;
        fetch(c, i, res);
        if (res->err[0])
            res->status = 0;
        gort_chan_send(c->results, &res);
    }
    call_unref(c);
}

/* ---- the answer ---------------------------------------------------------- */

static void json_string(gort_http_response *w, const char *s, size_t n)
{
    char out[512];
    size_t o = 0;
    gort_http_write(w, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (o > sizeof out - 8) {
            gort_http_write(w, out, o);
            o = 0;
        }
        if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7f) {
            o += (size_t)snprintf(out + o, 8, "\\u%04x", ch);
        } else {
            out[o++] = (char)ch; /* UTF-8 passes as is */
        }
    }
    gort_http_write(w, out, o);
    gort_http_write(w, "\"", 1);
}

static void write_result(gort_http_response *w, const char *name,
                         const struct result *res)
{
    json_string(w, name, strlen(name));
    if (!res) {
        gort_http_printf(w, ":{\"error\":\"deadline exceeded\"}");
    } else if (res->err[0]) {
        gort_http_printf(w, ":{\"error\":");
        json_string(w, res->err, strlen(res->err));
        gort_http_printf(w, "}");
    } else {
        gort_http_printf(w, ":{\"status\":%d,\"body\":", res->status);
        json_string(w, res->body ? res->body : "", res->len);
        gort_http_printf(w, "}");
    }
}

static void answer(gort_http_response *w, const struct fanout *fo,
                   struct result **got)
{
    bool partial = false, any = false;
    for (int i = 0; i < fo->nup; i++) {
        partial |= !got[i] || got[i]->err[0];
        any |= got[i] && !got[i]->err[0];
    }
    gort_http_set_header(w, "Content-Type", "application/json");
    if (!any)
        gort_http_write_header(w, 504);
    gort_http_printf(w, "{\"partial\":%s,\"results\":{",
                     partial ? "true" : "false");
    for (int i = 0; i < fo->nup; i++) {
        if (i)
            gort_http_write(w, ",", 1);
        write_result(w, fo->up[i].name, got[i]);
    }
    gort_http_printf(w, "}}\n");
}

/* Waits for the results until the context ends: Go's
 *     for n := 0; n < 2; n++ { select { case r := <-results: ...
 *                                       case <-ctx.Done(): return } } */
static void gather(struct call *c, struct result **got)
{
    for (int pending = c->fo->nup; pending > 0;) {
        struct result *res = NULL;
        struct gort_select_case cases[2] = {
            {.chan = c->results, .dir = GORT_SELECT_RECV, .elem = &res},
            {.chan = gort_ctx_done(c->ctx), .dir = GORT_SELECT_RECV},
        };
        if (gort_select(cases, 2, 1) != 0)
            return; /* done: what is missing stays missing */
        got[res->index] = res;
        pending--;
    }
}

static int start(struct call *c, gort_fn fn)
{
    __atomic_add_fetch(&c->refs, 1, __ATOMIC_ACQ_REL);
    if (gort_go(fn, c) > 0)
        return 0;
    call_unref(c);
    return -ENOMEM;
}

static void handler(gort_http_response *w, gort_http_request *r, void *arg)
{
    const struct fanout *fo = arg;
    struct call *c = calloc(1, sizeof *c);
    struct result *got[2] = {NULL, NULL};
    if (!c || !(c->results = gort_chan_make(sizeof(struct result *), 2)) ||
        !(c->ctx =
              gort_ctx_with_timeout(gort_http_request_ctx(r), fo->deadline))) {
        if (c)
            gort_chan_free(c->results), free(c);
        gort_http_error(w, "Internal Server Error", 500);
        return;
    }
    c->refs = 1;
    c->fo = fo;
    int rc = 0;
    for (int i = 0; rc == 0 && i < fo->nup; i++)
        rc = start(c, worker);
    if (rc == 0)
        gather(c, got);
    if (rc == 0)
        answer(w, fo, got);
    else
        gort_http_error(w, "Internal Server Error", 500);
    for (int i = 0; i < 2; i++)
        if (got[i])
            free(got[i]->body), free(got[i]);
    gort_ctx_cancel(c->ctx); /* Go's defer cancel(): stragglers give up */
    call_unref(c);
}

static void fanout_free(struct fanout *fo)
{
    if (!fo)
        return;
    for (int i = 0; i < fo->nup; i++)
        free(fo->up[i].name), free(fo->up[i].url);
    gort_http_client_free(fo->client);
    free(fo->pattern);
    free(fo);
}

static int init(struct gort_plugin_registrar *reg, const char *config,
                void **state)
{
    struct fanout *fo = calloc(1, sizeof *fo);
    int rc;
    if (!fo)
        return -ENOMEM;
    fo->deadline = SEC;
    if (!config) {
        gort_plugin_set_error(reg, "no fanout.conf next to fanout.so: "
                                   "nothing to call (two lines: upstream "
                                   "NAME URL)");
        rc = -ENOENT;
    } else {
        char err[512];
        rc = fanout_parse_config(fo, config, err, sizeof err);
        if (rc < 0 && err[0])
            gort_plugin_set_error(reg, "%s", err);
    }
    if (rc == 0 && !fo->pattern && !(fo->pattern = strdup("GET /fanout")))
        rc = -ENOMEM;
    if (rc == 0 && !(fo->client = gort_http_client_new(NULL)))
        rc = -ENOMEM;
    if (rc == 0)
        rc = gort_plugin_handle(reg, fo->pattern, handler, fo);
    if (rc < 0) {
        fanout_free(fo);
        return rc;
    }
    *state = fo;
    return 0;
}

static void fini(void *state)
{
    fanout_free(state);
}

GORT_PLUGIN("fanout", "1.0.0", init, fini);
