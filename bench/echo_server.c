/* echo_server — the gort side of the echo benchmark: a listener goroutine
 * parked in gort_accept, one goroutine per connection echoing every byte
 * with gort_read/gort_write, as bench/go/echo does in Go.
 *
 *   echo_server PORT        (GOMAXPROCS from the environment)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "gort/gort.h"
#include "gort/net.h"

static int port;

static void serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    ssize_t n;
    while ((n = gort_read(fd, buf, sizeof buf)) > 0)
        if (gort_write(fd, buf, (size_t)n) < 0)
            break;
    gort_close(fd);
}

static void listener(void *arg)
{
    (void)arg;
    int lfd = gort_socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(lfd, 1024) != 0) {
        perror("echo_server: listen");
        exit(1);
    }
    printf("listening\n");
    fflush(stdout);
    for (;;) {
        int fd = gort_accept(lfd, NULL, NULL);
        if (fd < 0)
            continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        gort_go(serve, (void *)(intptr_t)fd);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: echo_server PORT\n");
        return 2;
    }
    port = atoi(argv[1]);
    return gort_main(listener, NULL);
}
