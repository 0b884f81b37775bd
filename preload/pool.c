/* SPDX-License-Identifier: MIT */
/*
 * The pool of rings parked for reuse (conn.h, docs/protocol.md "Ring
 * reuse"): a ring whose connection the application closed waits here,
 * watched by the event thread, to carry this process's next connection to
 * the same address (side B: connect.c takes it) or the client's next
 * connection to our listener (side A: a doorbell, or an accept() waiting
 * on its channel itself, takes it up).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "common/clock.h"
#include "common/log.h"
#include "preload/domwatch.h"
#include "preload/doorbell.h"
#include "preload/evloop.h"
#include "preload/libc.h"
#include "preload/pool.h"

static struct parked *parked;
static struct parked *parked_zombies;	/* freed after the event thread's batch */
static int nparked_zombies;
static int nparked;
static uint64_t parked_gen;

/*
 * Under ev_lock: take @pk out of the pool and out of the epoll set; its
 * ring is the caller's. @pk itself is freed after the event thread's
 * current batch, which may still name it.
 */
struct xs_conn *pool_unlink(struct parked *pk)
{
	struct parked **pp;

	for (pp = &parked; *pp; pp = &(*pp)->next) {
		if (*pp == pk) {
			*pp = pk->next;
			nparked--;
			break;
		}
	}
	bells_forget(pk);
	domwatch_unref(pk->c);
	ev_unwatch(xsp_evtchn_fd(pk->c->ev));
	pk->dead = true;
	pk->next = parked_zombies;
	parked_zombies = pk;
	/* From an application thread (pool_take()) the thread may sleep on:
	 * woken now and then to free them. */
	if (++nparked_zombies >= EV_ZOMBIES_MAX)
		ev_wake();
	return pk->c;
}

/* Under ev_lock: have the event thread watch parked ring @pk's channel. */
static int park_watch(struct parked *pk)
{
	return ev_watch(xsp_evtchn_fd(pk->c->ev), EPOLLIN, (void *)((uintptr_t)pk | PARK_TAG));
}

/* Under ev_lock: close parked ring @pk for good. */
void pool_drop(struct parked *pk, const char *why)
{
	xs_log(XS_LOG_DEBUG, "parked ring %s to dom%u closed: %s", pk->c->id, pk->c->peer, why);
	xs_conn_close(pool_unlink(pk));
}

void pool_free_zombies(void)
{
	nparked_zombies = 0;
	while (parked_zombies) {
		struct parked *pk = parked_zombies;

		parked_zombies = pk->next;
		free(pk);
	}
}

/* Under ev_lock: close the server rings parked for @port's next clients. */
void pool_drop_port(uint16_t port, const char *why)
{
	struct parked *pk, *next;

	for (pk = parked; pk; pk = next) {
		next = pk->next;
		if (pk->c->side == XSR_SIDE_A && pk->c->lport == port)
			pool_drop(pk, why);
	}
}

void pool_drop_peer(xsp_domid_t dom, const char *why)
{
	struct parked *pk, *next;

	for (pk = parked; pk; pk = next) {
		next = pk->next;
		if (pk->c->peer == dom)
			pool_drop(pk, why);
	}
}

void pool_drop_all(const char *why)
{
	while (parked)
		pool_drop(parked, why);
}

void pool_after_fork(void)
{
	/* The parent's parked rings are the parent's (its mappings stay
	 * here until exec or exit, as gntalloc's do). */
	parked = NULL;
	parked_zombies = NULL;
	nparked_zombies = 0;
	nparked = 0;
}

/* Under ev_lock: something happened on parked ring @pk's channel. */
void pool_event(struct parked *pk)
{
	struct xs_conn *c = pk->c;
	uint16_t sport;
	int rc;

	if (pk->dead)
		return;
	xs_conn_event(c);
	rc = xs_conn_park_step(c);
	if (rc < 0) {
		pool_drop(pk, rc == -ECONNRESET ? "peer closed it" : strerror(-rc));
		return;
	}
	if (rc == 0 || c->side == XSR_SIDE_B || pk->ringing)
		return;
	/* Side A, idle: has the client opened the next use? */
	rc = xsr_peer_opened(&c->ring, c->use + 1, &sport);
	if (rc < 0) {
		pool_drop(pk, "bad next use");
	} else if (rc == 1) {
		struct shim_sock *l = ev_listener_of(c->lport);

		if (!l || evloop_forked()) {
			pool_drop(pk, "not listening here any more");
			return;
		}
		/* An accept() of ours waits on its channel: it takes it. */
		if (pk->direct)
			return;
		rc = bell_ring(l, NULL, pk);
		if (rc < 0)
			pool_drop(pk, strerror(-rc));
	}
}

/*
 * Under ev_lock, after every batch of events: finish parking rings whose
 * peer has closed too (it does not wake us for that), close rings past
 * xs_conn_park_deadline() (idle, or still waiting for the peer to park;
 * on the server a client that neither reuses nor closes its ring), and
 * server rings once we forked. The earliest deadline or -1.
 */
int64_t pool_expire(int64_t now)
{
	struct parked *pk = parked, *next;
	int64_t first = -1, until;

	for (; pk; pk = next) {
		struct xs_conn *c = pk->c;

		next = pk->next;
		if (c->side == XSR_SIDE_A && evloop_forked() && !pk->ringing) {
			pool_drop(pk, "process forked");
			continue;
		}
		/* The peer does not wake us when it closes: look. */
		if (c->state == XS_CONN_PARKING && xs_conn_park_step(c) < 0) {
			pool_drop(pk, "peer closed it");
			continue;
		}
		if (pk->ringing)
			continue;	/* its next use is being taken up */
		until = xs_conn_park_deadline(c);
		if (now >= until) {
			pool_drop(pk, "idle");
			continue;
		}
		if (first < 0 || until < first)
			first = until;
	}
	return first;
}

bool pool_park(struct xs_conn *c)
{
	bool mine = ev_lock_held(), ok = false;
	struct parked *pk;

	/* A ring whose peer is gone or dead (its domain: domwatch.c) cannot
	 * carry another use: closed now, not parked and dropped later. */
	if (!c->reuse || c->state != XS_CONN_CONNECTED || !xsr_alive(&c->ring))
		return false;
	if (!mine)
		ev_lock_take();
	if (!ev_running() || nparked >= c->ctx->reuse_max)
		goto unlock;
	/* The server parks only while the next use can come back to one of
	 * its own accept() calls. */
	if (c->side == XSR_SIDE_A && (evloop_forked() || !ev_listener_of(c->lport)))
		goto unlock;
	pk = calloc(1, sizeof(*pk));
	if (!pk)
		goto unlock;
	pk->c = c;
	pk->gen = ++parked_gen;
	if (park_watch(pk) < 0) {
		free(pk);
		goto unlock;
	}
	pk->next = parked;
	parked = pk;
	nparked++;
	/* A parked ring maps the peer's pages too: its death ends it. */
	domwatch_ref(c);
	xs_conn_park_begin(c);
	ok = true;
	/* The peer may have closed and parked already. */
	pool_event(pk);
	if (pk->dead)
		goto unlock;	/* dropped: its ring is closed */
	/*
	 * A doorbell it rang has its expiry looked after by the thread; else
	 * the ring's idle deadline is all it needs the thread for, and
	 * pool_expire() looks at that then.
	 */
	if (pk->ringing)
		ev_wake();
	else
		ev_wake_by(xs_conn_park_deadline(c));
unlock:
	if (!mine)
		ev_lock_drop();
	return ok;
}

struct xs_conn *pool_take(xsp_domid_t dom, const struct sockaddr *dst, socklen_t dstlen)
{
	struct parked **pp, *best = NULL;
	struct xs_conn *c = NULL;

	SHIM_ENTER();
	ev_lock_take();
	for (pp = &parked; *pp; pp = &(*pp)->next) {
		struct xs_conn *x = (*pp)->c;

		if (x->side != XSR_SIDE_B || x->peer != dom || x->paddr_len != dstlen ||
		    memcmp(&x->paddr, dst, dstlen) != 0)
			continue;
		/* The server does not wake us when it parks: look. */
		if (x->state != XS_CONN_IDLE && xs_conn_park_step(x) != 1)
			continue;
		/* Never one the server may be closing (its offer's idle=). */
		if (xs_now_ms() >= xs_conn_park_deadline(x))
			continue;
		/* The biggest ring first: bulk transfers need it. */
		if (!best || x->order > best->c->order)
			best = *pp;
	}
	if (best)
		c = pool_unlink(best);
	ev_lock_drop();
	SHIM_LEAVE();
	return c;
}

/* Under ev_lock: is @pk a server ring of listener @l's port? */
static bool parked_for(const struct parked *pk, const struct shim_sock *l)
{
	return !pk->dead && pk->c->side == XSR_SIDE_A && pk->c->lport == l->lst->port;
}

int pool_direct_begin(const struct shim_sock *l, struct pollfd *fds, struct pool_watch *w,
		      int max)
{
	struct parked *pk;
	int n = 0;

	SHIM_ENTER();
	ev_lock_take();
	for (pk = parked; pk && n < max; pk = pk->next) {
		if (!parked_for(pk, l) || pk->ringing)
			continue;
		/* Its events are the caller's now: no wake-up here for them. */
		if (pk->direct++ == 0)
			ev_unwatch(xsp_evtchn_fd(pk->c->ev));
		w[n].pk = pk;
		w[n].gen = pk->gen;
		fds[n].fd = xsp_evtchn_fd(pk->c->ev);
		fds[n].events = POLLIN;
		fds[n].revents = 0;
		n++;
	}
	ev_lock_drop();
	SHIM_LEAVE();
	return n;
}

void pool_direct_end(const struct shim_sock *l, const struct pool_watch *w, int n)
{
	struct parked *pk, *next;
	int i;

	SHIM_ENTER();
	ev_lock_take();
	for (pk = parked; pk; pk = next) {
		next = pk->next;
		for (i = 0; i < n; i++) {
			if (w[i].pk != pk || w[i].gen != pk->gen)
				continue;
			if (--pk->direct == 0) {
				/* Back to the event thread, with whatever came
				 * meanwhile (a use opened and not taken, a
				 * peer gone). */
				if (park_watch(pk) < 0)
					pool_drop(pk, "cannot watch it");
				else
					pool_event(pk);
			}
			break;
		}
	}
	ev_lock_drop();
	SHIM_LEAVE();
}

struct xs_conn *pool_direct_take(const struct shim_sock *l)
{
	struct xs_conn *c = NULL;
	struct parked *pk;
	uint16_t sport;

	SHIM_ENTER();
	ev_lock_take();
	for (pk = parked; pk; pk = pk->next) {
		if (!parked_for(pk, l) || pk->ringing || pk->c->state != XS_CONN_IDLE ||
		    xsr_peer_opened(&pk->c->ring, pk->c->use + 1, &sport) != 1)
			continue;
		/* The event it sent is ours to take, not the event thread's. */
		xs_conn_event(pk->c);
		c = pool_unlink(pk);
		break;
	}
	ev_lock_drop();
	SHIM_LEAVE();
	return c;
}
