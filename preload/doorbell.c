/* SPDX-License-Identifier: MIT */
/*
 * Doorbells (see shim.h): for each client request the store holds for a
 * listener of ours, the event thread connects a TCP socket to the listener
 * from a port of its own, recorded in the store with the request; the
 * process whose accept() gets that connection claims the request and
 * builds the ring. A doorbell also stands for the next use of a ring
 * parked for reuse (pool.c). The event thread's lock (ev_lock, evloop.h)
 * guards them all.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "preload/doorbell.h"
#include "preload/evloop.h"
#include "preload/libc.h"
#include "preload/pool.h"
#include "preload/sock.h"

/*
 * A doorbell: our end of a loopback TCP connection to a listener, standing
 * for one client's request (recorded in the store under its local port,
 * see conn.h). Whichever process accept()s the other end claims the request
 * and builds the ring itself; we only wait for that end to be closed (the
 * acceptor replaces it with the ring), or give up at the deadline.
 */
struct doorbell {
	struct doorbell *next;
	struct shim_sock *l;		/* the listener it rings */
	int dfd;			/* the doorbell socket */
	uint16_t port;			/* its local port: the record's name */
	struct xs_request rq;		/* the request it stands for */
	int64_t deadline_ms;		/* withdraw it then if nobody accepted it */
	bool for_reuse;			/* or: it stands for the next use of a
					 * parked ring (no store record) */
	struct parked *reuse;		/* that ring, until taken up or dropped */
};

static struct doorbell *doorbells;
static struct doorbell *bell_zombies;	/* freed after the event thread's batch */

/*
 * The address a doorbell for @lst connects to, and binds its own end to:
 * the listener's address, loopback for a wildcard. An accepted connection
 * from this address may be a doorbell; from anywhere else it cannot be.
 */
static void bell_addr(const struct xs_listener *lst, struct sockaddr_storage *to, socklen_t *len)
{
	memcpy(to, &lst->addr, sizeof(*to));
	*len = lst->addrlen;
	if (to->ss_family == AF_INET) {
		struct sockaddr_in *in4 = (struct sockaddr_in *)to;

		if (in4->sin_addr.s_addr == htonl(INADDR_ANY))
			in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)to;

		if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr))
			in6->sin6_addr = in6addr_loopback;
	}
}

uint16_t bell_port(const struct shim_sock *l, const struct sockaddr *sa, socklen_t salen)
{
	struct sockaddr_storage to;
	socklen_t tolen;

	bell_addr(l->lst, &to, &tolen);
	if (sa->sa_family != to.ss_family)
		return 0;
	if (sa->sa_family == AF_INET && salen >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *x = (const void *)&to, *y = (const void *)sa;

		return x->sin_addr.s_addr == y->sin_addr.s_addr ? ntohs(y->sin_port) : 0;
	}
	if (sa->sa_family == AF_INET6 && salen >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *x = (const void *)&to, *y = (const void *)sa;

		return memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0 ?
			       ntohs(y->sin6_port) : 0;
	}
	return 0;
}

/*
 * Under ev_lock: ring a doorbell on listener @l for request @rq, or (@rq
 * NULL) for the next use of parked ring @pk, which needs no store record:
 * only an accept() of this process can take it up (bell_reuse_claim()).
 */
int bell_ring(struct shim_sock *l, const struct xs_request *rq, struct parked *pk)
{
	struct xs_listener *lst = l->lst;
	struct sockaddr_storage to, from;
	socklen_t tolen;
	struct doorbell *d;
	int rc;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	bell_addr(lst, &to, &tolen);
	d->dfd = socket(to.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (d->dfd < 0) {
		rc = -errno;
		goto free_bell;
	}
	/* Our own port first: the record must exist before the connection
	 * can be accepted. */
	memcpy(&from, &to, sizeof(from));
	if (from.ss_family == AF_INET)
		((struct sockaddr_in *)&from)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&from)->sin6_port = 0;
	if (bind(d->dfd, (struct sockaddr *)&from, tolen) < 0) {
		rc = -errno;
		goto close_dfd;
	}
	d->port = fd_bound_port(d->dfd);
	if (d->port == 0) {
		rc = -EADDRNOTAVAIL;
		goto close_dfd;
	}
	rc = rq ? xs_listener_bell(lst, rq, d->port) : 0;
	if (rc < 0)
		goto close_dfd;
	if (connect(d->dfd, (struct sockaddr *)&to, tolen) < 0 && errno != EINPROGRESS) {
		rc = -errno;
		goto unbell;
	}
	/* The acceptor's close (or a refused connect) hangs it up. */
	rc = ev_watch(d->dfd, EPOLLRDHUP, (void *)((uintptr_t)d | BELL_TAG));
	if (rc < 0)
		goto unbell;
	d->l = l;
	if (rq) {
		d->rq = *rq;
		d->rq.next = NULL;
		xs_log(XS_LOG_DEBUG, "request %s from dom%u: doorbell port %u rung", rq->id,
		       rq->dom, d->port);
	} else {
		d->for_reuse = true;
		d->reuse = pk;
		pk->ringing = true;
		xs_log(XS_LOG_DEBUG, "ring %s: next use %u from dom%u: doorbell port %u rung",
		       pk->c->id, pk->c->use + 1, pk->c->peer, d->port);
	}
	d->deadline_ms = xs_now_ms() + lst->ctx->accept_timeout_ms;
	d->next = doorbells;
	doorbells = d;
	return 0;

unbell:
	if (rq)
		xs_listener_unbell(lst, d->port);
close_dfd:
	close(d->dfd);
free_bell:
	free(d);
	return rc;
}

/*
 * Under ev_lock: unlink and free @d; withdraw its record if nobody claimed
 * it, and then answer the client with @refuse_err unless it is 0.
 */
static void bell_drop(struct doorbell **pp, const char *why, int refuse_err)
{
	struct doorbell *d = *pp;

	*pp = d->next;
	if (d->for_reuse) {
		/* Not taken up by an accept() of ours: the client's next use
		 * ends (it reads end of stream), as does the ring. */
		if (d->reuse)
			pool_drop(d->reuse, why);
	} else if (xs_listener_unbell(d->l->lst, d->port) == 1) {
		xs_log(XS_LOG_INFO, "doorbell port %u withdrawn: %s", d->port, why);
		if (refuse_err)
			xs_listener_refuse(d->l->lst, &d->rq, refuse_err);
	}
	ev_unwatch(d->dfd);
	close(d->dfd);
	free(d);
}

/* Under ev_lock: the other end of doorbell @d was closed (claimed, or
 * accepted by something that does not know doorbells). */
void bell_hangup(struct doorbell *d)
{
	struct doorbell **pp;

	for (pp = &doorbells; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			bell_drop(pp, "accepted without the shim", ECONNREFUSED);
			return;
		}
	}
}

/* Under ev_lock: withdraw doorbells nobody accepted in time (the server
 * is not accepting; its client gives up on its own, so no answer); the
 * earliest remaining deadline or -1. */
int64_t bells_expire(void)
{
	struct doorbell **pp = &doorbells;
	int64_t now = xs_now_ms(), next = -1;

	while (*pp) {
		struct doorbell *d = *pp;

		if (now >= d->deadline_ms) {
			bell_drop(pp, "not accepted in time", 0);
			continue;
		}
		if (next < 0 || d->deadline_ms < next)
			next = d->deadline_ms;
		pp = &d->next;
	}
	return next;
}

/* Under ev_lock. */
void bells_drop(struct shim_sock *l)
{
	struct doorbell **pp = &doorbells;

	while (*pp) {
		if (l && (*pp)->l != l) {
			pp = &(*pp)->next;
			continue;
		}
		bell_drop(pp, "listener closed", ECONNREFUSED);
	}
}

/* Under ev_lock: parked ring @pk is taken or dropped: no doorbell stands
 * for it any more. */
void bells_forget(const struct parked *pk)
{
	struct doorbell *d;

	for (d = doorbells; d; d = d->next)
		if (d->reuse == pk)
			d->reuse = NULL;
}

void bells_free_zombies(void)
{
	while (bell_zombies) {
		struct doorbell *d = bell_zombies;

		bell_zombies = d->next;
		free(d);
	}
}

void bells_after_fork(void)
{
	struct doorbell *d;

	/*
	 * The parent's doorbells are its own to expire: keep no copy of
	 * their sockets (the parent watches them for the acceptor's close).
	 */
	for (d = doorbells; d; d = d->next)
		close(d->dfd);
	doorbells = NULL;
	bell_zombies = NULL;
}

struct xs_conn *bell_reuse_claim(const struct shim_sock *l, uint16_t bell)
{
	struct doorbell **pp, *d;
	struct xs_conn *c = NULL;

	SHIM_ENTER();
	ev_lock_take();
	for (pp = &doorbells; *pp; pp = &(*pp)->next) {
		d = *pp;
		if (d->l != l || d->port != bell || !d->reuse)
			continue;
		c = pool_unlink(d->reuse);
		/* Done: end it here, not when the event thread sees it hang
		 * up (one wake-up less per connection). Freed after the
		 * thread's batch, which may name it. */
		*pp = d->next;
		ev_unwatch(d->dfd);
		close(d->dfd);
		d->next = bell_zombies;
		bell_zombies = d;
		break;
	}
	ev_lock_drop();
	SHIM_LEAVE();
	return c;
}

void bells_serve(struct shim_sock *l)
{
	struct xs_request *rq;

	xs_listener_process(l->lst);
	while (xs_listener_take(l->lst, &rq) == 1) {
		int rc = bell_ring(l, rq, NULL);

		if (rc < 0) {
			xs_log(XS_LOG_WARN, "doorbell for dom%u: %s", rq->dom, strerror(-rc));
			/* Out of fds or memory: the client may fall back. */
			xs_listener_refuse(l->lst, rq,
					   rc == -EMFILE || rc == -ENFILE ? EMFILE :
					   rc == -ENOMEM || rc == -ENOBUFS ? ENOMEM : ECONNREFUSED);
		}
		free(rq);
	}
}
