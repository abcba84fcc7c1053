/* echo_client — the load generator of the echo benchmark, shared by both
 * servers: CONNS connections, each sending a MSG-byte message and waiting
 * for its echo before sending the next, for SECONDS; one thread, epoll.
 *
 *   echo_client PORT CONNS SECONDS MSG
 * prints "echo_msgs_per_sec N".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
    int fd;
    size_t got; /* bytes of the current echo received */
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("echo_client: connect");
        exit(1);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: echo_client PORT CONNS SECONDS MSG\n");
        return 2;
    }
    int port = atoi(argv[1]), nconns = atoi(argv[2]);
    double secs = atof(argv[3]);
    size_t msg = (size_t)atoi(argv[4]);
    char out[4096], in[4096];
    memset(out, 'x', sizeof out);
    struct conn *cs = calloc((size_t)nconns, sizeof *cs);
    int ep = epoll_create1(0);
    for (int i = 0; i < nconns; i++) {
        cs[i].fd = dial(port);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
        if (write(cs[i].fd, out, msg) != (ssize_t)msg)
            return 1;
    }
    long msgs = 0;
    double start = now(), end = start + secs;
    struct epoll_event evs[256];
    while (now() < end) {
        int n = epoll_wait(ep, evs, 256, 100);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            ssize_t r = read(c->fd, in, sizeof in);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN)
                    continue;
                fprintf(stderr, "echo_client: connection lost\n");
                return 1;
            }
            c->got += (size_t)r;
            while (c->got >= msg) {
                c->got -= msg;
                msgs++;
                if (write(c->fd, out, msg) != (ssize_t)msg)
                    return 1;
            }
        }
    }
    printf("echo_msgs_per_sec %.0f\n", (double)msgs / (now() - start));
    return 0;
}
