/* wake.c — what a thread's sleep and wake in epoll costs the sleeper, on
 * this machine: a writer on CPU 0 sends one byte every GAP µs (busy-waiting
 * between) over a socketpair; a reader on CPU 1 sleeps in epoll_wait,
 * reads the socket dry and sleeps again. The reader's CPU time (getrusage,
 * its thread) per wait is the cost of one sleep, one wake-up and two small
 * reads (one that finds EAGAIN). A server that catches up with its load
 * pays it per batch of events; bench/proxy.sh's CPU per request moves with
 * it.
 *
 * Build and run: cc -O2 -pthread bench/wake.c -o /tmp/wake && /tmp/wake 40
 * (arguments: GAP in µs, 40; messages, 200000). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int sv[2];
static volatile int stop;
static long messages = 200000, gap_us = 40;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void pin(int cpu)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}

static void *writer(void *arg)
{
    (void)arg;
    pin(0);
    char b = 'x';
    for (long i = 0; i < messages; i++) {
        double until = now_s() + (double)gap_us * 1e-6;
        while (now_s() < until)
            ;
        if (write(sv[0], &b, 1) != 1)
            abort();
    }
    stop = 1;
    if (write(sv[0], &b, 1) != 1) /* the last wake-up: sees stop */
        abort();
    return NULL;
}

static double thread_cpu_us(void)
{
    struct rusage r;
    getrusage(RUSAGE_THREAD, &r);
    return (double)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e6 +
           (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        gap_us = atol(argv[1]);
    if (argc > 2)
        messages = atol(argv[2]);
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return 1;
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    pin(1);
    int ep = epoll_create1(0);
    struct epoll_event e = {.events = EPOLLIN | EPOLLET, .data.fd = sv[1]};
    epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &e);
    pthread_t w;
    pthread_create(&w, NULL, writer, NULL);
    double cpu0 = thread_cpu_us();
    long waits = 0;
    char buf[4096];
    while (!stop) {
        struct epoll_event ev[8];
        if (epoll_wait(ep, ev, 8, -1) > 0)
            while (read(sv[1], buf, sizeof buf) > 0)
                ;
        waits++;
    }
    double cpu = thread_cpu_us() - cpu0;
    pthread_join(w, NULL);
    printf("gap %ld us: %ld waits, reader CPU per wait %.2f us\n", gap_us,
           waits, cpu / (double)waits);
    return 0;
}
