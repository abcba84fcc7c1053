/* cli/grpc.h — gRPC status names and TLS credentials from PEM files.
 *
 * Shared by gortd and gortctl (library gort_clirpc); internal to gort,
 * prefix cli_, nothing here is part of the SDK.
 */
#ifndef GORT_CLI_GRPC_H
#define GORT_CLI_GRPC_H

#include <stddef.h>

#include <grpc/status.h>

/* "INVALID_ARGUMENT" for GRPC_STATUS_INVALID_ARGUMENT, "CODE_42" if unknown. */
const char *cli_status_name(grpc_status_code code);

struct grpc_server_credentials;
struct grpc_channel_credentials;

/* Server credentials from PEM files: TLS with cert+key; mutual TLS (client
 * certificates required and verified) when ca is also given. NULL with err
 * when a file cannot be read. */
struct grpc_server_credentials *cli_tls_server_creds(const char *cert,
                                                     const char *key,
                                                     const char *ca, char *err,
                                                     size_t errlen);

/* Channel credentials: ca verifies the server (NULL: the system's roots);
 * cert+key are presented for mutual TLS (both NULL: none). */
struct grpc_channel_credentials *
cli_tls_channel_creds(const char *ca, const char *cert, const char *key,
                      char *err, size_t errlen);

#endif /* GORT_CLI_GRPC_H */
