/* idle_conns — opens N keep-alive HTTP connections, makes one request on
 * each (so each is an established, served, now idle keep-alive connection),
 * prints "ready", and holds them until its stdin closes. bench/http.sh
 * reads the server's RSS before and after to get memory per idle
 * connection.
 *
 *   idle_conns PORT N
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static int request_once(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        return -1;
    static const char req[] = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n";
    if (write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1))
        return -1;
    char buf[2048];
    size_t got = 0;
    /* The whole response is small: read until its body has arrived. */
    while (got < sizeof buf - 1) {
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        if (n <= 0)
            return -1;
        got += (size_t)n;
        buf[got] = '\0';
        char *body = strstr(buf, "\r\n\r\n");
        if (body && strchr(body + 4, '\n'))
            return fd;
    }
    return -1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: idle_conns PORT N\n");
        return 2;
    }
    int port = atoi(argv[1]), n = atoi(argv[2]);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    for (int i = 0; i < n; i++) {
        if (request_once(port) < 0) {
            fprintf(stderr, "idle_conns: connection %d failed\n", i);
            return 1;
        }
    }
    printf("ready\n");
    fflush(stdout);
    char c;
    while (read(0, &c, 1) > 0) {
    }
    return 0;
}
