/* control/reflection.h — gRPC server reflection over the descriptors the
 * build embeds (reflection.c). */
#ifndef GORT_CTL_REFLECTION_H
#define GORT_CTL_REFLECTION_H

#include <stddef.h>

#include "control/dispatch.h"

/* The FileDescriptorSet of every served .proto (protoc
 * --descriptor_set_out at build time; proto/CMakeLists.txt). */
extern const unsigned char gort_descriptor_set[];
extern const size_t gort_descriptor_set_len;

/* Registers grpc.reflection.v1.ServerReflection and its v1alpha twin.
 * Register it last: list_services lists what the dispatcher has then and
 * after. 0, or -1 with err (the embedded set does not parse). */
int ctl_reflection_register(struct ctl_dispatch *d, char *err, size_t errlen);

#endif /* GORT_CTL_REFLECTION_H */
