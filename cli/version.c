/* cli/version.c — the version lines of gortd and gortctl: gort's release
 * and git commit (fixed at build time), and the gRPC core and protobuf-c
 * versions found at run time (a packaged library may be newer than the one
 * built against, and that is what a bug report needs).
 */
#include "cli/version.h"

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>

#include "gort_gitversion.h"

#ifndef GORT_VERSION
#error "GORT_VERSION must be defined by the build"
#endif

#if defined(__clang__)
#define GORT_CC "clang " __clang_version__
#elif defined(__GNUC__)
#define GORT_CC "gcc " __VERSION__
#else
#define GORT_CC "an unknown compiler"
#endif

void cli_version_print(FILE *f, const char *prog)
{
    fprintf(f, "%s %s (commit %s)\n", prog, GORT_VERSION, GORT_GIT_COMMIT);
    fprintf(f, "gRPC core %s, protobuf-c %s, built with %s\n",
            grpc_version_string(), protobuf_c_version(), GORT_CC);
}
