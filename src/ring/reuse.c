/* SPDX-License-Identifier: MIT */
/*
 * Ring reuse (docs/protocol.md, "Ring reuse"; the contract is in ring.h):
 * parking an endpoint whose use both sides closed (xsr_park()), opening
 * the next use on it (side B, xsr_reopen()) and taking that use up
 * (side A, xsr_peer_opened(), xsr_reaccept()). The fields involved,
 * a_parked, b_use and b_sport, are in <xsock/ring.h>.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>

#include "common/compiler.h"
#include "common/log.h"
#include "ring/private.h"

/* Can this endpoint carry another use at all? */
static int reuse_check(struct xsr *r)
{
	if (broken_get(r) || peer_gone_get(r) || !XS_READ_ONCE(*r->peer_alive_p))
		return -ECONNRESET;
	return 0;
}

bool xsr_alive(struct xsr *r)
{
	return reuse_check(r) == 0;
}

int xsr_park(struct xsr *r, uint32_t use)
{
	uint32_t prod;
	int rc = reuse_check(r);

	if (rc < 0)
		return rc;
	if (!__atomic_load_n(&r->closed, __ATOMIC_RELAXED))
		return -ECONNRESET;
	if (r->side == XSR_SIDE_A) {
		/*
		 * Acquire: pairs with the write barrier in B's xsr_close()
		 * before its closed byte: B's final prod is visible below.
		 */
		if (!__atomic_load_n(r->peer_closed_p, __ATOMIC_ACQUIRE))
			return 0;
	} else {
		/*
		 * Acquire: pairs with A's release store of a_parked below: A's
		 * final prod and the reset of its direction are visible.
		 */
		if (__atomic_load_n(&r->ext->a_parked, __ATOMIC_ACQUIRE) != use + 1)
			return 0;
	}
	/* Drop what the peer sent and we did not read (TCP would reset). */
	prod = XS_READ_ONCE(*r->rx_prod_p);
	if (rx_unread(r, prod) < 0)
		return peer_corrupted(r, "rx prod at park", prod, r->own->rx_cons);
	__atomic_store_n(&r->own->rx_cons, prod, __ATOMIC_RELAXED);
	__atomic_store_n(&r->own->rx_prod_seen, prod, __ATOMIC_RELAXED);
	/*
	 * Release: orders our last reads of the data before handing the
	 * space back with the consumer index.
	 */
	__atomic_store_n(r->rx_cons_p, prod, __ATOMIC_RELEASE);
	if (r->side == XSR_SIDE_A) {
		XS_WRITE_ONCE(*r->tx_err_p, 0);
		XS_WRITE_ONCE(*r->my_closed_p, 0);
		/*
		 * Release: orders the consumer skip and the reset of our
		 * direction (error 0, not closed) before a_parked, which B
		 * reads with acquire before it parks and opens the next use.
		 */
		__atomic_store_n(&r->ext->a_parked, use + 1, __ATOMIC_RELEASE);
		/*
		 * Full barrier: orders the a_parked store before the load of
		 * B's waiting word. B need not be woken otherwise: it looks
		 * for a_parked itself when it wants the ring again.
		 */
		xs_mb();
		if (XS_READ_ONCE(*r->peer_waiting_p))
			kick_peer(r);
	}
	return 1;
}

/* Our producer index where the peer's parking left its consumer index? */
static int reuse_tx_check(struct xsr *r)
{
	uint32_t cons = XS_READ_ONCE(*r->tx_cons_p);
	uint32_t prod = __atomic_load_n(&r->own->tx_prod, __ATOMIC_RELAXED);

	if (cons != prod) {
		xs_log(XS_LOG_WARN, "ring: peer's consumer index %u is not %u at reuse", cons, prod);
		broken_set(r, -ECONNRESET);
		return -EPROTO;
	}
	__atomic_store_n(&r->own->tx_cons_seen, cons, __ATOMIC_RELAXED);
	__atomic_store_n(&r->tx_shut, false, __ATOMIC_RELAXED);
	__atomic_store_n(&r->closed, false, __ATOMIC_RELAXED);
	r->bytes_tx = r->bytes_rx = r->kicks = 0;
	return 0;
}

int xsr_reopen(struct xsr *r, uint32_t use, uint16_t sport)
{
	int rc;

	if (r->side != XSR_SIDE_B || use == 0 || sport == 0)
		return -EINVAL;
	rc = reuse_check(r);
	if (rc == 0)
		rc = reuse_tx_check(r);
	if (rc < 0)
		return rc;
	XS_WRITE_ONCE(*r->tx_err_p, 0);
	XS_WRITE_ONCE(*r->my_closed_p, 0);
	XS_WRITE_ONCE(r->ext->b_sport, sport);
	/*
	 * Release: orders the reset of our direction, b_sport, and our
	 * consumer skip (xsr_park()) before b_use, which A reads with acquire
	 * before it takes the use up.
	 */
	__atomic_store_n(&r->ext->b_use, use, __ATOMIC_RELEASE);
	/* Full barrier: orders the b_use store before the kick. */
	xs_mb();
	kick_peer(r);
	return 0;
}

int xsr_peer_opened(const struct xsr *r, uint32_t use, uint16_t *sport)
{
	/* Acquire: pairs with B's release store in xsr_reopen(). */
	uint32_t u = __atomic_load_n(&r->ext->b_use, __ATOMIC_ACQUIRE), sp;

	if (u == use - 1)
		return 0;
	if (u != use)
		return -EPROTO;
	sp = XS_READ_ONCE(r->ext->b_sport);
	if (sp == 0 || sp > UINT16_MAX)
		return -EPROTO;
	*sport = (uint16_t)sp;
	return 1;
}

int xsr_reaccept(struct xsr *r)
{
	int rc;

	if (r->side != XSR_SIDE_A)
		return -EINVAL;
	rc = reuse_check(r);
	return rc < 0 ? rc : reuse_tx_check(r);
}

