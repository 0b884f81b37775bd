/* SPDX-License-Identifier: MIT */
/* The event thread, its doorbells and its pool of parked rings: evloop.c. */
#ifndef XSOCK_PRELOAD_EVLOOP_H
#define XSOCK_PRELOAD_EVLOOP_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "preload/shim.h"

/* Start watching a socket (ring or listener). */
int evloop_add(struct shim_sock *s);
/* Stop watching; after return the event thread no longer touches @s. */
void evloop_del(struct shim_sock *s);
/* Ask the event thread for a sweep soon (ready.c's passive arming). */
void evloop_want_sweep(void);

/*
 * Doorbells: could a connection just accepted on listener @l from @sa be a
 * doorbell? Then its port (the doorbell record's name), else 0.
 */
uint16_t evloop_bell_port(const struct shim_sock *l, const struct sockaddr *sa, socklen_t salen);
/* Free what evloop_del() left for the event thread, now (process exit). */
void evloop_flush(void);
/*
 * Ring reuse (conn.h). evloop_park(): the application closed connection
 * @c for good; park its ring for the next connection if it was
 * negotiated for reuse and this process may keep it (XSOCK_REUSE, a
 * server only while it still listens on the port and has not forked):
 * true, the event thread owns @c now; false, close it.
 * evloop_pool_take(): an idle ring of ours to @dst in domain @dom (side
 * B), taken out of the pool, or NULL. evloop_reuse_claim(): the parked ring whose next use
 * doorbell @bell of listener @l stands for, taken out, or NULL.
 */
bool evloop_park(struct xs_conn *c);
/* This process has forked (then it parks no server rings). */
bool evloop_forked(void);
/*
 * close() of the application's last fd of ring socket @s in this process
 * (the caller holds a reference): evloop_close_begin() before the real
 * close, true if @s may be ended by the caller (then the event thread no
 * longer watches end B); evloop_close_end() after it, with whether end B
 * hung up (no process holds the connection any more): then the
 * connection ends now (parked or closed) instead of when the event
 * thread would notice; else end B is watched again.
 */
bool evloop_close_begin(struct shim_sock *s);
void evloop_close_end(struct shim_sock *s, bool hung_up);
struct xs_conn *evloop_pool_take(xsp_domid_t dom, const struct sockaddr *dst, socklen_t dstlen);
struct xs_conn *evloop_reuse_claim(const struct shim_sock *l, uint16_t bell);
/*
 * A blocking accept() on listener @l (ours) may wait on the channels of
 * the port's parked rings itself and take a ring whose client opened its
 * next use directly, without a doorbell. evloop_direct_begin() fills
 * @fds (and @w, for evloop_direct_end()) with up to @max channels, which
 * the event thread then leaves to us; evloop_direct_end() gives them back
 * (ringing doorbells for uses opened meanwhile). evloop_direct_take(): a
 * ring of @l's port whose next use is open, taken out of the pool, or
 * NULL.
 */
struct evloop_watch {
	struct parked *pk;
	uint64_t gen;
};
int evloop_direct_begin(const struct shim_sock *l, struct pollfd *fds, struct evloop_watch *w,
			int max);
void evloop_direct_end(const struct shim_sock *l, const struct evloop_watch *w, int n);
struct xs_conn *evloop_direct_take(const struct shim_sock *l);

#endif /* XSOCK_PRELOAD_EVLOOP_H */
