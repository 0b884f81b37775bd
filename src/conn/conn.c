/* SPDX-License-Identifier: MIT */
/*
 * The established ring connection (struct xs_conn): its allocation, its
 * event channel (kick, event) and its end (close, abandon). How one is
 * made: client.c (connect) and acceptor.c (accept); how a closed one
 * carries the next connection: park.c. The store layout and state
 * machine are described in conn.h and docs/protocol.md.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "conn/private.h"
#include "conn/status.h"

struct xs_conn *xs_conn_alloc(struct xs_ctx *ctx, xsp_domid_t peer, enum xsr_side side)
{
	struct xs_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->ctx = ctx;
	c->peer = peer;
	c->side = side;
	return c;
}

int xs_conn_kick(void *conn)
{
	struct xs_conn *c = conn;
	int rc = xsp_evtchn_notify(c->ev);

	/* A peer that is gone needs no wake-up; the ring reports EPIPE. */
	return rc == -EPIPE ? 0 : rc;
}

/*
 * A connection handed out before its client attached (xs_acceptor_claim()
 * with nonblock): settle it once the client attached, left, or is late.
 * A client that never attached ends the ring as a peer that left before
 * sending anything (the application reads end of stream).
 */
static int offer_settle(struct xs_conn *c)
{
	int rc = xs_offer_check(c);

	/* Its domain died before it attached (xs_conn_domain_dead()). */
	if (rc == 0 && __atomic_load_n(&c->ring.peer_gone, __ATOMIC_RELAXED) &&
	    !xsr_peer_attached(&c->ring))
		rc = -ECONNABORTED;
	if (rc == 0 && xs_now_ms() < c->offer_until_ms)
		return 0;
	if (rc == 0)
		rc = -ETIMEDOUT;
	/*
	 * The negotiation is over either way. The offer node goes when the
	 * client removes its request: the listener sees that (seen_drop());
	 * this thread has no store handle to spend on it.
	 */
	xsp_unmap(c->mp_life);
	c->mp_life = NULL;
	if (rc < 0) {
		/* Worded as the acceptor's own drop: tests/xen reads it. */
		xs_log(XS_LOG_INFO, "offer %s to dom%u dropped: %s (accepted before it attached)",
		       c->id, c->peer, strerror(-rc));
		xsr_peer_gone(&c->ring);
	}
	/* Release: the ring's state above before the state others look at. */
	__atomic_store_n(&c->state, XS_CONN_CONNECTED, __ATOMIC_RELEASE);
	return 1;
}

int xs_conn_event(struct xs_conn *c)
{
	int rc;

	if (xs_conn_offered(c))
		return offer_settle(c);
	rc = xsp_evtchn_ack(c->ev);

	if (rc == -EPIPE) {
		xsr_peer_gone(&c->ring);
		return 1;
	}
	return rc;
}

void xs_conn_domain_dead(struct xs_conn *c)
{
	/* Readers get what arrived, then end of stream; writers EPIPE. */
	xsr_peer_gone(&c->ring);
}

void xs_conn_dead_pages(struct xs_conn *c)
{
	int rc = 0;

	/* The dead domain's pages: copied out, grants given back. */
	if (c->mp_intf)
		rc = xsp_map_orphan(c->mp_intf);
	if (rc == 0 && c->mp_data)
		rc = xsp_map_orphan(c->mp_data);
	if (rc == 0 && c->mp_life)
		rc = xsp_map_orphan(c->mp_life);
	if (rc < 0)
		xs_log(XS_LOG_WARN, "ring %s: cannot let go of dead dom%u's pages: %s", c->id,
		       c->peer, strerror(-rc));
	else
		xs_log(XS_LOG_INFO, "ring %s: dom%u is dead, ring ended", c->id, c->peer);
}

static void conn_release(struct xs_conn *c, bool tell_peer)
{
	xs_status_detach(c);
	if (tell_peer && c->state == XS_CONN_CONNECTED)
		xsr_close(&c->ring);
	/* Ended for every holder: its shared indexes may be reused. */
	xsr_release(&c->ring);
	/* Unmapping fires the unmap notification (the peer's alive byte). */
	xsp_unmap(c->mp_data);
	xsp_unmap(c->mp_intf);
	xsp_unshare(c->sh_data);
	xsp_unshare(c->sh_intf);
	xsp_unmap(c->mp_life);
	xsp_unshare(c->sh_life);
	xsp_evtchn_close(c->ev);
	xsp_store_close(xs_conn_store_take(c));
	if (c->big)
		__atomic_fetch_sub(&c->ctx->big_rings, 1, __ATOMIC_RELAXED);
	c->state = XS_CONN_CLOSED;
	free(c);
}

struct xsp_store *xs_conn_store_take(struct xs_conn *c)
{
	struct xsp_store *st = c->st_spare;

	c->st_spare = NULL;
	return st;
}

void xs_conn_close(struct xs_conn *c)
{
	if (c)
		conn_release(c, true);
}

void xs_conn_abandon(struct xs_conn *c)
{
	if (c)
		conn_release(c, false);
}

/* ---- fork: one connection, several processes ------------------------------------------ */

int xs_conn_map_again(struct xs_conn *c, struct xsp *p)
{
	int rc;

	if (c->side != XSR_SIDE_B || !c->mp_intf || !c->mp_data)
		return 0;	/* side A's pages are inherited (gntalloc) */
	rc = xsp_map_again(p, c->mp_intf);
	if (rc < 0)
		return rc;
	rc = xsp_map_again(p, c->mp_data);
	if (rc < 0) {
		xsp_unmap(c->mp_intf);
		c->mp_intf = NULL;
		return rc;
	}
	xsr_rebase(&c->ring, xsp_map_addr(c->mp_intf), xsp_map_addr(c->mp_data));
	return 0;
}

int xs_conn_alive_notify(struct xs_conn *c, bool arm)
{
	struct xsp_unmap_notify n = { .offset = XSOCK_B_ALIVE_OFFSET, .ev = c->ev };

	if (c->side != XSR_SIDE_B || !c->mp_intf)
		return 0;	/* side A's notification fires with its last holder */
	return xsp_map_set_notify(c->mp_intf, arm ? &n : NULL);
}

void xs_conn_let_go(struct xs_conn *c)
{
	if (!c)
		return;
	if (c->side == XSR_SIDE_B) {
		/* Mapped again by this process (xs_conn_map_again()), no
		 * notification armed: the peer notices nothing. */
		xsp_unmap(c->mp_data);
		xsp_unmap(c->mp_intf);
	}
	xsr_detach(&c->ring);
	/*
	 * Our hold on what the server ends (side A's shares, the channel),
	 * let go of now. Whichever holder lets go of a share last ends it
	 * (its notification fires then): this process, or the one that
	 * serves the connection and ended it meanwhile.
	 */
	xsp_share_forget(c->sh_intf);
	xsp_share_forget(c->sh_data);
	xsp_evtchn_forget(c->ev);
	free(c);
}
