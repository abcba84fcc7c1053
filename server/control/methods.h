/* control/methods.h — the handler tables of the services gortd serves.
 *
 * Each table is indexed like its protoc-c service descriptor's methods[]
 * (.proto order); ctl_dispatch_add checks the names at registration.
 */
#ifndef GORT_CTL_METHODS_H
#define GORT_CTL_METHODS_H

#include "control/dispatch.h"

/* gort.v1.Control (control_methods.c) */
extern const struct ctl_handler ctl_control_handlers[];
extern const size_t ctl_control_nhandlers;

/* grpc.health.v1.Health (ctl_health.c) */
extern const struct ctl_handler ctl_health_handlers[];
extern const size_t ctl_health_nhandlers;

/* DumpGoroutines (dump.c). */
grpc_status_code ctl_dump_goroutines(const ProtobufCMessage *in,
                                     ProtobufCMessage *out, struct ctl_ctx *cx);

/* A growable text buffer (malloc'd p, NUL-terminated). When it cannot
 * grow it sets failed and ignores further text. */
struct ctl_text {
    char *p;
    size_t len, cap;
    int failed; /* out of memory: the text stops growing */
};

void ctl_text_printf(struct ctl_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

struct gort_goroutine_info;

/* Appends one goroutine in Go's traceback format, blank line included. */
void ctl_dump_text_one(struct ctl_text *t, const struct gort_goroutine_info *g);

/* Registers gort.v1.Control, grpc.health.v1.Health and server reflection
 * (v1, v1alpha). 0 or -1 with err. */
int ctl_methods_register(struct ctl_dispatch *d, char *err, size_t errlen);

/* grpc.health.v1.Health alone: the -grpc-health listener's table. */
int ctl_methods_register_health(struct ctl_dispatch *d, char *err,
                                size_t errlen);

#endif /* GORT_CTL_METHODS_H */
