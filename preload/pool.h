/* SPDX-License-Identifier: MIT */
/* The pool of rings parked for reuse: pool.c. The pool_* calls below
 * that say "under ev_lock" are the event thread's (evloop.h). */
#ifndef XSOCK_PRELOAD_POOL_H
#define XSOCK_PRELOAD_POOL_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "preload/shim.h"

/*
 * A ring parked for reuse (conn.h, docs/protocol.md "Ring reuse"): its
 * application end is closed; the ring waits here, its channel still in
 * our epoll set, for the peer to park too, then for the next connection:
 * a connect() of ours to the same address (side B), or the client's open
 * of the next use, which we hand to accept() through a doorbell (side A).
 */
struct parked {
	struct parked *next;
	struct xs_conn *c;
	bool ringing;			/* A: a doorbell stands for its next use */
	bool dead;			/* taken or dropped: skip stale events */
	int direct;			/* A: accept() calls watching its channel */
	uint64_t gen;			/* tells it from a later one at its address */
};

/*
 * pool_park(): the application closed connection @c for good; park its
 * ring for the next connection if it was negotiated for reuse and this
 * process may keep it (XSOCK_REUSE, a server only while it still listens
 * on the port and has not forked): true, the event thread owns @c now;
 * false, close it.
 * pool_take(): an idle ring of ours to @dst in domain @dom (side B), taken
 * out of the pool, or NULL.
 */
bool pool_park(struct xs_conn *c);
struct xs_conn *pool_take(xsp_domid_t dom, const struct sockaddr *dst, socklen_t dstlen);

/*
 * A blocking accept() on listener @l (ours) may wait on the channels of
 * the port's parked rings itself and take a ring whose client opened its
 * next use directly, without a doorbell. pool_direct_begin() fills
 * @fds (and @w, for pool_direct_end()) with up to @max channels, which
 * the event thread then leaves to us; pool_direct_end() gives them back
 * (ringing doorbells for uses opened meanwhile). pool_direct_take(): a
 * ring of @l's port whose next use is open, taken out of the pool, or
 * NULL.
 */
struct pool_watch {
	struct parked *pk;
	uint64_t gen;
};
int pool_direct_begin(const struct shim_sock *l, struct pollfd *fds, struct pool_watch *w,
		      int max);
void pool_direct_end(const struct shim_sock *l, const struct pool_watch *w, int n);
struct xs_conn *pool_direct_take(const struct shim_sock *l);

/* Under ev_lock: take @pk out of the pool; its ring is the caller's. */
struct xs_conn *pool_unlink(struct parked *pk);
/* Under ev_lock: close parked ring @pk for good (@why: for the log). */
void pool_drop(struct parked *pk, const char *why);
/* Under ev_lock: close the server rings parked for @port's next clients. */
void pool_drop_port(uint16_t port, const char *why);
/* Under ev_lock: close every parked ring (process exit). */
/* Under ev_lock: drop the parked rings of peer domain @dom. */
void pool_drop_peer(xsp_domid_t dom, const char *why);
void pool_drop_all(const char *why);
/* Under ev_lock: something happened on parked ring @pk's channel. */
void pool_event(struct parked *pk);
/* Under ev_lock, after every batch of events: the earliest deadline or -1. */
int64_t pool_expire(int64_t now);
/* Free the entries done with since the event thread's last batch. */
void pool_free_zombies(void);
/* In a forked child: forget the parent's parked rings. */
void pool_after_fork(void);

#endif /* XSOCK_PRELOAD_POOL_H */
