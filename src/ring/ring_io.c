/* SPDX-License-Identifier: MIT */
/*
 * Where the bytes of a ring endpoint are copied: the write path
 * (xsr_write(), xsr_writev()) and the read path (xsr_read(),
 * xsr_readv()), with the refresh and validation of the peer's index each
 * relies on and the notification after it moved one of ours (ring.c has
 * the workflow, the hardening rules and the sleep protocol these follow).
 *
 * Every data access is masked into [0, size) of its half; the peer's
 * index is loaded once into a local and checked before any byte moves.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "common/compiler.h"
#include "common/iov.h"
#include "common/log.h"
#include "ring/private.h"

/* ---- notification ------------------------------------------------------------------- */

/* Does a peer waiting flag @w ask to be woken for @need (XSOCK_WAIT_RD/WR)? */
static inline bool wants_kick(uint32_t w, uint32_t need)
{
	if (!w)
		return false;
	if (w & need)
		return true;
	return !(w & (XSOCK_WAIT_RD | XSOCK_WAIT_WR));
}

/* After we moved an index: notify the peer if it sleeps waiting for @need. */
static void notify_peer(struct xsr *r, uint32_t need)
{
	uint32_t w;

	/*
	 * Full barrier: orders our index store (just above in the caller)
	 * before the load of the peer's waiting flag. Pairs with the full
	 * barrier in xsr_prepare_wait() (ring.c, wait_recheck()) between the
	 * peer's flag store and its re-read of our index (Dekker): either it
	 * sees our index or we see its flag.
	 */
	xs_mb();
	w = XS_READ_ONCE(*r->peer_waiting_p);
	if (wants_kick(w, need))
		kick_peer(r);
}

/* ---- index refresh and validation ------------------------------------------------- */

/* Peer-side end-of-stream state, loaded once per refresh. */
struct rx_state {
	int32_t err;		/* the peer's producer error field */
	bool eof_ok;		/* no more data will come after what is there */
};

/*
 * Re-read the peer's producer index and its end-of-stream state.
 * Returns the number of unconsumed bytes (0..size) or a negative errno
 * (-EPROTO on corruption, -ECONNRESET when the peer reported an error).
 */
static ssize_t rx_refresh(struct xsr *r, struct rx_state *st)
{
	uint32_t prod;
	int64_t avail;
	uint8_t alive, closed;

	st->err = XS_READ_ONCE(*r->rx_err_p);
	alive = XS_READ_ONCE(*r->peer_alive_p);
	closed = XS_READ_ONCE(*r->peer_closed_p);
	/*
	 * Read barrier: orders the loads of the error/alive/closed fields
	 * before the load of prod. The peer stores its error (ENOTCONN) after
	 * a release barrier that follows its last prod store, so once we saw
	 * the error the prod we load next covers every byte it sent.
	 */
	xs_rmb();
	prod = XS_READ_ONCE(*r->rx_prod_p);
	avail = rx_unread(r, prod);
	if (avail < 0)
		return peer_corrupted(r, "rx prod", prod, r->own->rx_cons);
	/* Atomic: observers read it (xsr_poll_for()), in any of our processes. */
	__atomic_store_n(&r->own->rx_prod_seen, prod, __ATOMIC_RELAXED);
	/*
	 * Read barrier: orders the load of prod before the loads of the data
	 * it covers (pairs with the peer's write barrier between its data
	 * stores and its prod store).
	 */
	xs_rmb();
	if (st->err != 0 && st->err != XSOCK_RING_EOF) {
		xs_log(XS_LOG_INFO, "ring: peer reported error %d", st->err);
		broken_set(r, -ECONNRESET);
		return -ECONNRESET;
	}
	st->eof_ok = st->err == XSOCK_RING_EOF || !alive || closed || peer_gone_get(r);
	return avail;
}

/*
 * Free space for writing, re-reading the peer's consumer index only when
 * the cached one leaves less than @need bytes. Returns 0..size or a
 * negative errno.
 */
static ssize_t tx_refresh(struct xsr *r, uint32_t prod, uint32_t need)
{
	struct xsr_own *o = r->own;
	uint32_t cons, used, fresh;
	int rc;

	rc = tx_check(r);
	if (rc < 0)
		return rc;
	used = prod - o->tx_cons_seen;
	if (r->size - used >= need)
		return r->size - used;
	cons = XS_READ_ONCE(*r->tx_cons_p);
	/* cons must lie in [cons_seen, tx_prod]: not beyond prod, not backwards. */
	fresh = cons - o->tx_cons_seen;
	if (fresh > used)
		return peer_corrupted(r, "tx cons", cons, prod);
	/* Atomic: a writer in another of our processes may read it next. */
	__atomic_store_n(&o->tx_cons_seen, cons, __ATOMIC_RELAXED);
	/*
	 * Read barrier (acquire): orders the load of cons before our stores
	 * into the data area, so we never overwrite bytes the consumer has not
	 * finished reading (pairs with its barrier before its cons store).
	 */
	xs_rmb();
	return r->size - (prod - cons);
}

/* ---- data copies: every access is masked into [0, size) of one half ---------------- */

/*
 * Copy @n bytes between @iov and the ring from index @idx on: into our
 * producing half (@into_ring) or out of our consuming half.
 */
static void half_copy_iov(struct xsr *r, const struct iovec *iov, int iovcnt, uint32_t idx,
			  uint32_t n, bool into_ring)
{
	uint8_t *half = into_ring ? r->tx : r->rx;
	int i;

	for (i = 0; i < iovcnt && n; i++) {
		uint8_t *buf = iov[i].iov_base;
		uint32_t c = (uint32_t)XS_MIN((size_t)n, iov[i].iov_len);
		uint32_t off = idx & (r->size - 1);
		uint32_t first = XS_MIN(c, r->size - off);

		if (into_ring) {
			memcpy(half + off, buf, first);
			if (c > first)
				memcpy(half, buf + first, c - first);
		} else {
			memcpy(buf, half + off, first);
			if (c > first)
				memcpy(buf + first, half, c - first);
		}
		idx += c;
		n -= c;
	}
}

/* ---- write ------------------------------------------------------------------------ */

static ssize_t tx_writev(struct xsr *r, const struct iovec *iov, int iovcnt, uint32_t total)
{
	ssize_t space;
	uint32_t n, prod;

	if (broken_get(r))
		return broken_report(r);
	if (tx_shut_get(r))
		return -EPIPE;
	if (total == 0)
		return 0;
	/* Our own prod, from our own memory: never from the shared page. */
	prod = __atomic_load_n(&r->own->tx_prod, __ATOMIC_RELAXED);
	space = tx_refresh(r, prod, XS_MIN(total, r->size));
	if (space < 0)
		return space;
	if (space == 0)
		return -EAGAIN;
	n = XS_MIN(total, (uint32_t)space);
	half_copy_iov(r, iov, iovcnt, prod, n, true);
	prod += n;
	/*
	 * Write barrier (release): orders our data stores before the prod
	 * stores below (the published one and our own, which an observer
	 * compares with the peer's cons), so the consumer never sees prod
	 * cover bytes not yet written.
	 */
	xs_wmb();
	/* Atomic: observers on other threads (and processes) read it. */
	__atomic_store_n(&r->own->tx_prod, prod, __ATOMIC_RELAXED);
	XS_WRITE_ONCE(*r->tx_prod_p, prod);
	/* Atomic: the status record copies it from the reader's thread. */
	__atomic_store_n(&r->bytes_tx, r->bytes_tx + n, __ATOMIC_RELAXED);
	notify_peer(r, XSOCK_WAIT_RD);
	return n;
}

ssize_t xsr_write(struct xsr *r, const void *buf, size_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return tx_writev(r, &iov, 1, len >= UINT32_MAX ? UINT32_MAX : (uint32_t)len);
}

ssize_t xsr_writev(struct xsr *r, const struct iovec *iov, int iovcnt)
{
	uint64_t total;
	int rc = xs_iov_total(iov, iovcnt, UINT32_MAX, &total);

	if (rc < 0)
		return rc;
	return tx_writev(r, iov, iovcnt, (uint32_t)total);
}

/* ---- read ------------------------------------------------------------------------- */

static ssize_t rx_readv(struct xsr *r, const struct iovec *iov, int iovcnt, uint32_t total,
			unsigned int flags)
{
	struct xsr_own *o = r->own;
	struct rx_state st;
	uint32_t avail, n, cons;
	ssize_t rc;

	if (broken_get(r))
		return broken_report(r);
	if (total == 0)
		return 0;
	/* Our own cons, from our own memory: never from the shared page. */
	cons = __atomic_load_n(&o->rx_cons, __ATOMIC_RELAXED);
	avail = __atomic_load_n(&o->rx_prod_seen, __ATOMIC_RELAXED) - cons;
	if (avail < total) {
		/* Fast path missed: look at the shared prod (and EOF state). */
		rc = rx_refresh(r, &st);
		if (rc < 0)
			return rc;
		avail = (uint32_t)rc;
		if (avail == 0)
			return st.eof_ok ? 0 : -EAGAIN;
	}
	n = XS_MIN(total, avail);
	half_copy_iov(r, iov, iovcnt, cons, n, false);
	if (flags & XSR_PEEK)
		return n;
	cons += n;
	/*
	 * Write barrier (release): orders our loads of the data before the
	 * cons stores (the published one, and our own, after which an
	 * observer counts those bytes as read), so the producer cannot
	 * overwrite bytes we still copy.
	 */
	xs_wmb();
	/* Atomic: observers on other threads (and processes) read it. */
	__atomic_store_n(&o->rx_cons, cons, __ATOMIC_RELAXED);
	XS_WRITE_ONCE(*r->rx_cons_p, cons);
	/* Atomic: the status record copies it from the writer's thread. */
	__atomic_store_n(&r->bytes_rx, r->bytes_rx + n, __ATOMIC_RELAXED);
	/*
	 * A writer waiting for space is woken once at least half the ring is
	 * free, not by every byte consumed (one notification per half ring,
	 * as TCP wakes writers only with room to spare). Our view of prod
	 * may be stale, so what we compute as still used is a lower bound:
	 * the test below can only fire early, never late.
	 */
	if (__atomic_load_n(&o->rx_prod_seen, __ATOMIC_RELAXED) - cons <= r->size / 2)
		notify_peer(r, XSOCK_WAIT_WR);
	return n;
}

ssize_t xsr_read(struct xsr *r, void *buf, size_t len, unsigned int flags)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	return rx_readv(r, &iov, 1, len >= UINT32_MAX ? UINT32_MAX : (uint32_t)len, flags);
}

ssize_t xsr_readv(struct xsr *r, const struct iovec *iov, int iovcnt, unsigned int flags)
{
	uint64_t total;
	int rc = xs_iov_total(iov, iovcnt, UINT32_MAX, &total);

	if (rc < 0)
		return rc;
	return rx_readv(r, iov, iovcnt, (uint32_t)total, flags);
}

