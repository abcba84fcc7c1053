/* sendq.h — batched socket sends, one submission per scheduling round
 * (sendq.c says how and when). */
#ifndef GORT_SENDQ_H
#define GORT_SENDQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "runtime.h"

/* The first attempt of a write on stream socket fd: queues the send on the
 * caller's P and parks until the P submits its queue, or, as the round's
 * last sender (nothing else runnable, sends queued), submits the queue
 * with its own send and returns without parking. true with *res set
 * to what send(2)/sendmsg(2) would have returned (bytes, or -errno);
 * false when it did not batch (the caller makes the system call). */
bool gort__sendq_send(int fd, const struct iovec *iov, int n, ssize_t *res);
/* Owner of p, inside the runtime gate: submits p's queue and returns its
 * senders (schedlink-linked, not yet runnable) and their count. */
int gort__sendq_flush(struct gort__p *p, struct gort__g **list);
/* Whether p's queue must leave now (its bounds) and can: not while the
 * goroutine leaving (switching out) is the one that queued last. */
bool gort__sendq_due(const struct gort__p *p, uint64_t tick,
                     const struct gort__g *leaving);
/* Whether p holds sends not yet submitted (work for whoever takes p). */
bool gort__sendq_pending(const struct gort__p *p);
/* At runtime start, before any goroutine runs: a ring for each P (Ps
 * added later make theirs on first use). Failures leave it to later. */
void gort__sendq_start(void);
/* Sends that went in a batch and the submissions that carried them, over
 * every P since start (tests, stats). */
void gort__sendq_counts(uint64_t *sends, uint64_t *batches);
/* At exit, for a P that will never run again. */
void gort__sendq_free(struct gort__p *p);

#endif
