/* SPDX-License-Identifier: MIT */
/* Doorbells: doorbell.c. All but bell_port() and bell_reuse_claim() are
 * called under ev_lock (evloop.h). */
#ifndef XSOCK_PRELOAD_DOORBELL_H
#define XSOCK_PRELOAD_DOORBELL_H

#include <stdint.h>
#include <sys/socket.h>

#include "preload/shim.h"

struct doorbell;
struct parked;

/*
 * Could a connection just accepted on listener @l from @sa be a doorbell?
 * Then its port (the doorbell record's name), else 0.
 */
uint16_t bell_port(const struct shim_sock *l, const struct sockaddr *sa, socklen_t salen);
/*
 * The parked ring whose next use doorbell @bell of listener @l stands
 * for, taken out of the pool (the doorbell is done), or NULL.
 */
struct xs_conn *bell_reuse_claim(const struct shim_sock *l, uint16_t bell);

/*
 * Ring a doorbell on listener @l for request @rq, or (@rq NULL) for the
 * next use of parked ring @pk. 0 or -errno.
 */
int bell_ring(struct shim_sock *l, const struct xs_request *rq, struct parked *pk);
/* Listener @l's store watch fired: a doorbell for each new request. */
void bells_serve(struct shim_sock *l);
/* The other end of doorbell @d hung up. */
void bell_hangup(struct doorbell *d);
/* Withdraw the doorbells past their deadline; the next deadline or -1. */
int64_t bells_expire(void);
/* Drop listener @l's doorbells (every doorbell when @l is NULL). */
void bells_drop(struct shim_sock *l);
/* Parked ring @pk is gone from the pool: no doorbell stands for it now. */
void bells_forget(const struct parked *pk);
/* Free the doorbells done with since the event thread's last batch. */
void bells_free_zombies(void);
/* In a forked child: forget the parent's doorbells. */
void bells_after_fork(void);

#endif /* XSOCK_PRELOAD_DOORBELL_H */
