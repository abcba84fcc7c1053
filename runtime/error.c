/* error.c — text for the runtime's negative error codes (errno values). */
#include <errno.h>
#include <string.h>

#include "gort/gort.h"

const char *gort_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case -EINVAL:
        return "invalid argument";
    case -ENOMEM:
        return "out of memory";
    case -EPIPE:
        return "channel closed";
    case -EAGAIN:
        return "would block";
    case -EDEADLK:
        return "called from a goroutine: would deadlock";
    case -ETIMEDOUT:
        return "deadline exceeded";
    case -ECANCELED:
        return "context canceled";
    default:
        return err < 0 ? strerror(-err) : "unknown error";
    }
}
