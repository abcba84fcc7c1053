/* sendbatch.c — what a send costs as send(2) and inside an io_uring batch,
 * the figure behind runtime/sendq.c (README, Numbers, session 10).
 *
 * N loopback TCP connections; each round sends one small message on each
 * (MODE 0: N send(2) calls; MODE 1: N IORING_OP_SEND with MSG_DONTWAIT in
 * one io_uring_enter, as sendq.c submits them) and reads each message back
 * on the other end with recv(2). Prints this process's CPU (user + system)
 * per send and read pair: the read costs the same in both modes, so the
 * difference between the modes is what batching saves per send.
 *
 *   cc -O2 bench/sendbatch.c -o /tmp/sendbatch -luring
 *   taskset -c 1 /tmp/sendbatch 0 20000; taskset -c 1 /tmp/sendbatch 1 20000
 *
 * Run the two modes alternately a few times: the machine drifts.
 */
#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define N 32
#define MSG 150

static double cpu_seconds(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
           (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

static int connect_pairs(int out[N], int in[N])
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 ||
        listen(l, N) < 0 || getsockname(l, (struct sockaddr *)&a, &len) < 0)
        return -1;
    for (int i = 0; i < N; i++) {
        int one = 1;
        out[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(out[i], (struct sockaddr *)&a, sizeof a) < 0)
            return -1;
        setsockopt(out[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        in[i] = accept(l, NULL, NULL);
        if (in[i] < 0)
            return -1;
    }
    close(l);
    return 0;
}

/* One round of N sends in one submission; every completion checked. */
static int batch_round(struct io_uring *ring, const int out[N], const char *msg)
{
    for (int i = 0; i < N; i++) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
        io_uring_prep_send(sqe, out[i], msg, MSG, MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    if (io_uring_submit(ring) != N)
        return -1;
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    int bad = 0;
    io_uring_for_each_cqe(ring, head, cqe)
    {
        bad |= cqe->res != MSG;
        seen++;
    }
    io_uring_cq_advance(ring, seen);
    return bad || seen != N ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: sendbatch MODE(0 send, 1 io_uring) ROUNDS\n");
        return 2;
    }
    int mode = atoi(argv[1]), rounds = atoi(argv[2]);
    int out[N], in[N];
    struct io_uring ring;
    if (connect_pairs(out, in) < 0 || io_uring_queue_init(N, &ring, 0) < 0) {
        perror("sendbatch: setup");
        return 1;
    }
    char msg[MSG], buf[4096];
    memset(msg, 'x', sizeof msg);
    double t0 = cpu_seconds();
    for (int r = 0; r < rounds; r++) {
        if (mode == 1) {
            if (batch_round(&ring, out, msg) < 0) {
                fprintf(stderr, "sendbatch: a batched send failed\n");
                return 1;
            }
        } else {
            for (int i = 0; i < N; i++)
                if (send(out[i], msg, MSG, 0) != MSG)
                    return 1;
        }
        for (int i = 0; i < N; i++)
            if (recv(in[i], buf, sizeof buf, 0) != MSG)
                return 1; /* TCP_NODELAY: one message per segment */
    }
    printf("mode %d (%s): %.3f us CPU per send + recv\n", mode,
           mode ? "io_uring batch" : "send(2)",
           (cpu_seconds() - t0) * 1e6 / rounds / N);
    return 0;
}
