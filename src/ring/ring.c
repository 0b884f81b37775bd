/* SPDX-License-Identifier: MIT */
/*
 * One endpoint of a PV Calls data ring (see ring.h for the contract and
 * wire.h for the layout).
 *
 * Workflow (PV Calls design, "Data ring" / "Workflow"):
 *   producer: read cons, barrier, write data up to cons (wrapping), barrier,
 *             advance prod, full barrier, notify if the peer sleeps;
 *   consumer: read prod, barrier, read data up to prod (wrapping), barrier,
 *             advance cons, full barrier, notify if the peer sleeps.
 *
 * Hardening: every field the peer writes is loaded once (XS_READ_ONCE)
 * into a local and validated with unsigned arithmetic before use; our own
 * indexes live in struct xsr and are only stored to shared memory. Every
 * data access is masked into [0, size) of its half, so a hostile peer can
 * at worst make us read garbage or report an error, never leave the ring.
 *
 * Sleep protocol (Dekker): a side about to sleep stores its waiting flag,
 * issues a full barrier, then re-reads the ring (xsr_prepare_wait). A side
 * that moves an index stores it, issues a full barrier, then loads the
 * peer's waiting flag and kicks when it is set. One of the two always sees
 * the other's store, so no wake-up is lost.
 *
 * The waiting flag value: any non-zero value means "asleep, notify me".
 * We store XSR_WAIT_BASE plus what we wait for (XSR_WAIT_RD, XSR_WAIT_WR;
 * the reader and the writer thread each own their bit, see below),
 * so the peer can skip a kick that cannot satisfy us (a consumer waking a
 * sleeper that waits for data, not space). A non-zero value without either
 * bit (e.g. a peer that just stores 1) is treated as "wake me on anything".
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "common/compiler.h"
#include "common/iov.h"
#include "common/log.h"
#include "ring/ring.h"

#define XSR_WAIT_BASE	0x80000000u
#define XSR_WAIT_RD	0x100u	/* sleeping until there is data to read */
#define XSR_WAIT_WR	0x200u	/* sleeping until there is space to write */

/* ---- local state helpers (may be touched by the reader and writer thread) --- */

static inline int broken_get(const struct xsr *r)
{
	return __atomic_load_n(&r->broken, __ATOMIC_RELAXED);
}

static inline void broken_set(struct xsr *r, int err)
{
	__atomic_store_n(&r->broken, err, __ATOMIC_RELAXED);
}

/* Report a broken ring: -EPROTO exactly once, then -ECONNRESET. */
static int broken_report(struct xsr *r)
{
	int err = __atomic_exchange_n(&r->broken, -ECONNRESET, __ATOMIC_RELAXED);

	return err ? err : -ECONNRESET;
}

/* First detection of corruption inside an operation: report -EPROTO now. */
static int ring_corrupt(struct xsr *r, const char *what, uint32_t a, uint32_t b)
{
	xs_log(XS_LOG_WARN, "ring: peer corrupted the ring (%s: %u vs %u)", what, a, b);
	broken_set(r, -ECONNRESET);
	return -EPROTO;
}

static inline bool peer_gone_get(const struct xsr *r)
{
	return __atomic_load_n(&r->peer_gone, __ATOMIC_RELAXED);
}

static inline bool tx_shut_get(const struct xsr *r)
{
	return __atomic_load_n(&r->tx_shut, __ATOMIC_RELAXED);
}

static void do_kick(struct xsr *r)
{
	__atomic_fetch_add(&r->kicks, 1, __ATOMIC_RELAXED);
	if (r->kick) {
		int rc = r->kick(r->kick_ctx);

		if (rc < 0)
			xs_log(XS_LOG_WARN, "ring: kick failed: %d", rc);
	}
}

/* Does a peer waiting flag @w ask to be woken for @need (XSR_WAIT_RD/WR)? */
static inline bool wants_kick(uint32_t w, uint32_t need)
{
	if (!w)
		return false;
	if (w & need)
		return true;
	return !(w & (XSR_WAIT_RD | XSR_WAIT_WR));
}

/* After we moved an index: notify the peer if it sleeps waiting for @need. */
static void notify_peer(struct xsr *r, uint32_t need)
{
	uint32_t w;

	/*
	 * Full barrier: orders our index store (just above in the caller)
	 * before the load of the peer's waiting flag. Pairs with the full
	 * barrier in xsr_prepare_wait() between the peer's flag store and its
	 * re-read of our index (Dekker): either it sees our index or we see
	 * its flag.
	 */
	xs_mb();
	w = XS_READ_ONCE(*r->peer_waiting_p);
	if (wants_kick(w, need))
		do_kick(r);
}

/* ---- setup -------------------------------------------------------------------- */

int xsr_format(void *intf, unsigned int order, const uint32_t *refs)
{
	struct xsock_data_intf *d = intf;
	struct xsock_intf_ext *ext;
	unsigned int i;

	if (!intf || order > XSOCK_RING_MAX_ORDER)
		return -EINVAL;
	/* Not shared yet: plain stores are fine. */
	memset(intf, 0, XSOCK_RING_PAGE_SIZE);
	d->ring_order = order;
	for (i = 0; refs && i < (1u << order); i++)
		d->ref[i] = refs[i];
	ext = XSOCK_INTF_EXT(intf);
	ext->magic = XSOCK_INTF_MAGIC;
	ext->version = 1;
	ext->a_alive = 1;
	ext->b_alive = 1;
	return 0;
}

int xsr_read_layout(const void *intf, unsigned int max_order,
		    unsigned int *order, uint32_t *refs)
{
	const struct xsock_data_intf *d = intf;
	const struct xsock_intf_ext *ext;
	uint32_t o, magic, version, i;

	if (!intf)
		return -EINVAL;
	ext = (const struct xsock_intf_ext *)((const uint8_t *)intf + XSOCK_INTF_EXT_OFFSET);
	/* ring_order is read exactly once; every later use is of this copy. */
	o = XS_READ_ONCE(d->ring_order);
	magic = XS_READ_ONCE(ext->magic);
	version = XS_READ_ONCE(ext->version);
	if (magic != XSOCK_INTF_MAGIC || version != 1) {
		xs_log(XS_LOG_WARN, "ring: bad magic %#x / version %u", magic, version);
		return -EPROTO;
	}
	if (o > max_order || o > XSOCK_RING_MAX_ORDER) {
		xs_log(XS_LOG_WARN, "ring: ring_order %u above limit %u", o, max_order);
		return -EPROTO;
	}
	for (i = 0; refs && i < (1u << o); i++)
		refs[i] = XS_READ_ONCE(d->ref[i]);
	if (order)
		*order = o;
	return 0;
}

int xsr_attach(struct xsr *r, enum xsr_side side, void *intf, void *data,
	       unsigned int order, xsr_kick_fn kick, void *kick_ctx)
{
	struct xsock_data_intf *d = intf;
	struct xsock_intf_ext *ext;
	uint8_t *in, *out;

	if (!r || !intf || !data || order > XSOCK_RING_MAX_ORDER ||
	    (side != XSR_SIDE_A && side != XSR_SIDE_B))
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	ext = XSOCK_INTF_EXT(intf);
	r->intf = d;
	r->ext = ext;
	r->side = side;
	r->size = xsr_half_size(order);
	in = data;
	out = (uint8_t *)data + r->size;
	if (side == XSR_SIDE_A) {
		r->rx = in;
		r->tx = out;
		r->rx_prod_p = &d->in_prod;
		r->rx_cons_p = &d->in_cons;
		r->rx_err_p = &d->in_error;
		r->tx_prod_p = &d->out_prod;
		r->tx_cons_p = &d->out_cons;
		r->tx_err_p = &d->out_error;
		r->my_waiting_p = &ext->a_waiting;
		r->peer_waiting_p = &ext->b_waiting;
		r->peer_alive_p = &ext->b_alive;
		r->peer_closed_p = &ext->b_closed;
		r->my_closed_p = &ext->a_closed;
	} else {
		r->rx = out;
		r->tx = in;
		r->rx_prod_p = &d->out_prod;
		r->rx_cons_p = &d->out_cons;
		r->rx_err_p = &d->out_error;
		r->tx_prod_p = &d->in_prod;
		r->tx_cons_p = &d->in_cons;
		r->tx_err_p = &d->in_error;
		r->my_waiting_p = &ext->b_waiting;
		r->peer_waiting_p = &ext->a_waiting;
		r->peer_alive_p = &ext->a_alive;
		r->peer_closed_p = &ext->a_closed;
		r->my_closed_p = &ext->b_closed;
	}
	/*
	 * Both of our indexes start at 0 (xsr_format zeroed them and only we
	 * ever store them); they are never read back from shared memory.
	 */
	r->kick = kick;
	r->kick_ctx = kick_ctx;
	if (XS_READ_ONCE(ext->magic) != XSOCK_INTF_MAGIC) {
		/* Report on the first operation: -EPROTO, then -ECONNRESET. */
		xs_log(XS_LOG_WARN, "ring: attach to a page with a bad magic");
		r->broken = -EPROTO;
	}
	if (side == XSR_SIDE_B) {
		/*
		 * Release: orders everything B did to attach before the flag;
		 * A reads it (acquire) after B's first event, which B sends
		 * only after this store.
		 */
		__atomic_store_n(&ext->b_attached, 1, __ATOMIC_RELEASE);
	}
	return 0;
}

bool xsr_peer_attached(const struct xsr *r)
{
	/* Acquire: pairs with B's release store in xsr_attach(). */
	return r->ext && __atomic_load_n(&r->ext->b_attached, __ATOMIC_ACQUIRE) != 0;
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
	uint32_t prod, avail, seen;
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
	avail = prod - r->rx_cons;
	seen = r->rx_prod_seen - r->rx_cons;
	/* Unsigned: catches prod beyond the ring, behind cons, or moving back. */
	if (avail > r->size || avail < seen)
		return ring_corrupt(r, "rx prod", prod, r->rx_cons);
	/* Atomic: observers of this process read it (xsr_poll_for()). */
	__atomic_store_n(&r->rx_prod_seen, prod, __ATOMIC_RELAXED);
	/*
	 * Read barrier: orders the load of prod before the loads of the data
	 * it covers (pairs with the peer's write barrier between its data
	 * stores and its prod store).
	 */
	xs_rmb();
	if (st->err != 0 && st->err != ENOTCONN) {
		xs_log(XS_LOG_INFO, "ring: peer reported error %d", st->err);
		broken_set(r, -ECONNRESET);
		return -ECONNRESET;
	}
	st->eof_ok = st->err == ENOTCONN || !alive || closed || peer_gone_get(r);
	return avail;
}

/* The peer is gone (told), dead (its alive byte cleared) or closed. */
static bool peer_ended(const struct xsr *r)
{
	return peer_gone_get(r) || !XS_READ_ONCE(*r->peer_alive_p) ||
	       XS_READ_ONCE(*r->peer_closed_p);
}

/* True when writes must fail with -EPIPE (us shut down, peer closed/dead). */
static bool tx_hup(struct xsr *r)
{
	return tx_shut_get(r) || peer_ended(r);
}

/*
 * May we write at all? -EPIPE when we shut down or the peer closed or
 * died; -ECONNRESET (and the ring breaks) when the peer reported an
 * error for its own direction: a reset ends ours too.
 */
static int tx_check(struct xsr *r)
{
	int32_t err;

	if (tx_hup(r))
		return -EPIPE;
	err = XS_READ_ONCE(*r->rx_err_p);
	if (err != 0 && err != ENOTCONN) {
		broken_set(r, -ECONNRESET);
		return -ECONNRESET;
	}
	return 0;
}

/*
 * Free space for writing, re-reading the peer's consumer index only when
 * the cached one leaves less than @need bytes. Returns 0..size or a
 * negative errno.
 */
static ssize_t tx_refresh(struct xsr *r, uint32_t need)
{
	uint32_t cons, used, fresh;
	int rc;

	rc = tx_check(r);
	if (rc < 0)
		return rc;
	used = r->tx_prod - r->tx_cons_seen;
	if (r->size - used >= need)
		return r->size - used;
	cons = XS_READ_ONCE(*r->tx_cons_p);
	/* cons must lie in [cons_seen, tx_prod]: not beyond prod, not backwards. */
	fresh = cons - r->tx_cons_seen;
	if (fresh > used)
		return ring_corrupt(r, "tx cons", cons, r->tx_prod);
	r->tx_cons_seen = cons;
	/*
	 * Read barrier (acquire): orders the load of cons before our stores
	 * into the data area, so we never overwrite bytes the consumer has not
	 * finished reading (pairs with its barrier before its cons store).
	 */
	xs_rmb();
	return r->size - (r->tx_prod - cons);
}

/* ---- data copies: every access is masked into [0, size) of one half ---------------- */

static void ring_put(struct xsr *r, uint32_t idx, const uint8_t *src, size_t n)
{
	uint32_t off = idx & (r->size - 1);
	size_t first = XS_MIN(n, (size_t)(r->size - off));

	memcpy(r->tx + off, src, first);
	if (n > first)
		memcpy(r->tx, src + first, n - first);
}

static void ring_get(struct xsr *r, uint32_t idx, uint8_t *dst, size_t n)
{
	uint32_t off = idx & (r->size - 1);
	size_t first = XS_MIN(n, (size_t)(r->size - off));

	memcpy(dst, r->rx + off, first);
	if (n > first)
		memcpy(dst + first, r->rx, n - first);
}

/* ---- write ------------------------------------------------------------------------ */

static ssize_t do_writev(struct xsr *r, const struct iovec *iov, int iovcnt, uint32_t total)
{
	ssize_t space;
	uint32_t n, idx, left;
	int i;

	if (broken_get(r))
		return broken_report(r);
	if (tx_shut_get(r))
		return -EPIPE;
	if (total == 0)
		return 0;
	space = tx_refresh(r, XS_MIN(total, r->size));
	if (space < 0)
		return space;
	if (space == 0)
		return -EAGAIN;
	n = XS_MIN(total, (uint32_t)space);
	idx = r->tx_prod;
	left = n;
	for (i = 0; i < iovcnt && left; i++) {
		uint32_t c = (uint32_t)XS_MIN((size_t)left, iov[i].iov_len);

		ring_put(r, idx, iov[i].iov_base, c);
		idx += c;
		left -= c;
	}
	/*
	 * Write barrier (release): orders our data stores before the prod
	 * store, so the consumer never sees prod cover bytes not yet written.
	 */
	xs_wmb();
	/* Atomic: observers on other threads read it (xsr_poll()). */
	__atomic_store_n(&r->tx_prod, r->tx_prod + n, __ATOMIC_RELAXED);
	XS_WRITE_ONCE(*r->tx_prod_p, r->tx_prod);
	/* Atomic: the status record copies it from the reader's thread. */
	__atomic_store_n(&r->bytes_tx, r->bytes_tx + n, __ATOMIC_RELAXED);
	notify_peer(r, XSR_WAIT_RD);
	return n;
}

ssize_t xsr_write(struct xsr *r, const void *buf, size_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return do_writev(r, &iov, 1, len >= UINT32_MAX ? UINT32_MAX : (uint32_t)len);
}

ssize_t xsr_writev(struct xsr *r, const struct iovec *iov, int iovcnt)
{
	uint64_t total;
	int rc = xs_iov_total(iov, iovcnt, UINT32_MAX, &total);

	if (rc < 0)
		return rc;
	return do_writev(r, iov, iovcnt, (uint32_t)total);
}

/* ---- read ------------------------------------------------------------------------- */

static ssize_t do_readv(struct xsr *r, const struct iovec *iov, int iovcnt, uint32_t total,
			unsigned int flags)
{
	struct rx_state st;
	uint32_t avail, n, idx, left;
	ssize_t rc;
	int i;

	if (broken_get(r))
		return broken_report(r);
	if (total == 0)
		return 0;
	avail = r->rx_prod_seen - r->rx_cons;
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
	idx = r->rx_cons;
	left = n;
	for (i = 0; i < iovcnt && left; i++) {
		uint32_t c = (uint32_t)XS_MIN((size_t)left, iov[i].iov_len);

		ring_get(r, idx, iov[i].iov_base, c);
		idx += c;
		left -= c;
	}
	if (flags & XSR_PEEK)
		return n;
	/*
	 * Write barrier (release): orders our loads of the data before the
	 * cons store, so the producer cannot overwrite bytes we still copy.
	 */
	xs_wmb();
	/* Atomic: observers on other threads read it (xsr_poll()). */
	__atomic_store_n(&r->rx_cons, r->rx_cons + n, __ATOMIC_RELAXED);
	XS_WRITE_ONCE(*r->rx_cons_p, r->rx_cons);
	/* Atomic: the status record copies it from the writer's thread. */
	__atomic_store_n(&r->bytes_rx, r->bytes_rx + n, __ATOMIC_RELAXED);
	/*
	 * A writer waiting for space is woken once at least half the ring is
	 * free, not by every byte consumed (one notification per half ring,
	 * as TCP wakes writers only with room to spare). Our view of prod
	 * may be stale, so what we compute as still used is a lower bound:
	 * the test below can only fire early, never late.
	 */
	if (r->rx_prod_seen - r->rx_cons <= r->size / 2)
		notify_peer(r, XSR_WAIT_WR);
	return n;
}

ssize_t xsr_read(struct xsr *r, void *buf, size_t len, unsigned int flags)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	return do_readv(r, &iov, 1, len >= UINT32_MAX ? UINT32_MAX : (uint32_t)len, flags);
}

ssize_t xsr_readv(struct xsr *r, const struct iovec *iov, int iovcnt, unsigned int flags)
{
	uint64_t total;
	int rc = xs_iov_total(iov, iovcnt, UINT32_MAX, &total);

	if (rc < 0)
		return rc;
	return do_readv(r, iov, iovcnt, (uint32_t)total, flags);
}

/* ---- state -------------------------------------------------------------------------- */

/*
 * Observers. xsr_rx_ready(), xsr_tx_space() and xsr_poll() may run on any
 * thread (or, after fork(), in another process) while the reader and the
 * writer work: they never write the cached indexes and they use our own
 * indexes as published in the shared page. Both indexes of a half move
 * while we look (ours by our reader or writer, the peer's by the peer),
 * so two loads never give one instant's window: a trailing index loaded
 * first can lag by more than a ring's worth behind a leading index loaded
 * later (a false "corrupt"), and the leading index loaded first can be
 * passed by a trailing index loaded later (a negative window). So the
 * leading index is loaded before and again after the trailing one: the
 * leading index at the instant the trailing one was loaded lies between
 * the two, and with either the window is valid unless the peer broke it.
 * A window invalid with both loads is retried a few times (a thread
 * preempted between the loads) before it counts as the peer's doing.
 */
#define OBSERVE_TRIES 8

/*
 * The window lead - trail for the observers: 0..size, or -1 when the
 * indexes stay inconsistent. @lead is re-loaded as described above.
 */
static int64_t observe_window(const struct xsr *r, const uint32_t *lead_p,
			      const uint32_t *trail_p, uint32_t *lead_out, uint32_t *trail_out)
{
	uint32_t lead1, lead2, trail;
	int i;

	for (i = 0; i < OBSERVE_TRIES; i++) {
		lead1 = XS_READ_ONCE(*lead_p);
		/* Read barrier: the first lead load before the trail load. */
		xs_rmb();
		trail = XS_READ_ONCE(*trail_p);
		/* Read barrier: the trail load before the second lead load. */
		xs_rmb();
		lead2 = XS_READ_ONCE(*lead_p);
		*lead_out = lead2;
		*trail_out = trail;
		if (lead1 - trail <= r->size)
			return lead1 - trail;
		if (lead2 - trail <= r->size)
			return lead2 - trail;
	}
	return -1;
}

/* Corruption seen by an observer: the next read/write reports -EPROTO. */
static int observe_corrupt(struct xsr *r, const char *what, uint32_t a, uint32_t b)
{
	xs_log(XS_LOG_WARN, "ring: peer corrupted the ring (%s: %u vs %u)", what, a, b);
	broken_set(r, -EPROTO);
	return -EPROTO;
}

static ssize_t rx_observe(struct xsr *r, bool own_reader, bool *eof)
{
	uint32_t cons, prod;
	int64_t avail;
	int32_t err;
	uint8_t alive, closed;

	err = XS_READ_ONCE(*r->rx_err_p);
	alive = XS_READ_ONCE(*r->peer_alive_p);
	closed = XS_READ_ONCE(*r->peer_closed_p);
	/* Read barrier: orders the loads above before the loads of prod (see
	 * rx_refresh(): an error seen implies the final prod is seen). */
	xs_rmb();
	/* The peer's prod leads our cons: the reader's own in its process,
	 * else as published (after fork() the process reading may be another
	 * one than this observer). The peer can scribble on the published
	 * cons; then it misleads only other processes' readiness, and the
	 * reader's own checks catch the corruption. */
	avail = observe_window(r, r->rx_prod_p, own_reader ? &r->rx_cons : r->rx_cons_p,
			       &prod, &cons);
	if (avail < 0)
		return observe_corrupt(r, "rx prod", prod, cons);
	if (err != 0 && err != ENOTCONN) {
		broken_set(r, -ECONNRESET);
		return -ECONNRESET;
	}
	*eof = err == ENOTCONN || !alive || closed || peer_gone_get(r);
	return (ssize_t)avail;
}

static ssize_t tx_observe(struct xsr *r)
{
	uint32_t cons, prod;
	int64_t used;
	int rc = tx_check(r);

	if (rc < 0)
		return rc;
	/* Our prod as published (see rx_observe()) leads the peer's cons. */
	used = observe_window(r, r->tx_prod_p, r->tx_cons_p, &prod, &cons);
	if (used < 0)
		return observe_corrupt(r, "tx cons", cons, prod);
	return r->size - (uint32_t)used;
}

ssize_t xsr_rx_ready(struct xsr *r)
{
	bool eof;
	ssize_t rc;

	if (broken_get(r))
		return broken_report(r);
	rc = rx_observe(r, false, &eof);
	return rc == -EPROTO ? broken_report(r) : rc;
}

ssize_t xsr_tx_space(struct xsr *r)
{
	ssize_t rc;

	if (broken_get(r))
		return broken_report(r);
	rc = tx_observe(r);
	return rc == -EPROTO ? broken_report(r) : rc;
}

/*
 * Unread bytes as the reader last saw them (its cached copy of the peer's
 * prod ahead of its cons), without touching the shared page. Only the
 * reader moves either index; prod_seen is loaded first (acquire: the cons
 * load cannot pass it), so cons is at least as new: if prod_seen - cons is
 * in 1..size, those bytes were there and unread when cons was loaded
 * (the peer's prod is at or past any prod_seen). A reader that moved on
 * in between gives a window outside 1..size: not ready by this test.
 */
static bool rx_cached_ready(const struct xsr *r)
{
	uint32_t seen = __atomic_load_n(&r->rx_prod_seen, __ATOMIC_ACQUIRE);
	uint32_t avail = seen - __atomic_load_n(&r->rx_cons, __ATOMIC_RELAXED);

	return avail != 0 && avail <= r->size;
}

unsigned int xsr_poll_for(struct xsr *r, unsigned int want, bool own_reader)
{
	const unsigned int err_bits = XSR_READABLE | XSR_WRITABLE | XSR_ERR;
	unsigned int bits = 0;
	bool eof = false;
	ssize_t rc;

	if (broken_get(r))
		return err_bits;
	if ((want & XSR_READABLE) && own_reader && rx_cached_ready(r)) {
		/*
		 * The peer's error field shares its cache line with its prod:
		 * loaded only when XSR_RDHUP is asked for. With bytes to read
		 * an error or end of stream needs no report yet: the reader's
		 * cached path hands out those bytes before it looks, too.
		 */
		int32_t err = (want & XSR_RDHUP) ? XS_READ_ONCE(*r->rx_err_p) : 0;

		if (err != 0 && err != ENOTCONN) {
			broken_set(r, -ECONNRESET);
			return err_bits;
		}
		bits |= XSR_READABLE;
		eof = err == ENOTCONN || peer_ended(r);
	} else {
		rc = rx_observe(r, own_reader, &eof);
		if (rc < 0)
			return err_bits;	/* -EPROTO is reported by the next read/write */
		if (rc > 0)
			bits |= XSR_READABLE;
	}
	if (eof)
		bits |= XSR_READABLE | XSR_RDHUP;
	if (peer_ended(r))
		bits |= XSR_HUP;
	/* Not asked for writability: nothing of our direction either (its
	 * errors come with the next write, or a poll that asks). */
	if (!(want & XSR_WRITABLE))
		return bits;
	rc = tx_observe(r);
	if (rc == -EPROTO || rc == -ECONNRESET)
		return err_bits;
	if (rc != 0)
		bits |= XSR_WRITABLE;	/* space, or -EPIPE to report */
	return bits;
}

unsigned int xsr_poll(struct xsr *r)
{
	return xsr_poll_for(r, XSR_READABLE | XSR_WRITABLE, false);
}

/* ---- shutdown ------------------------------------------------------------------------ */

static bool shutdown_tx_quiet(struct xsr *r)
{
	if (__atomic_exchange_n(&r->tx_shut, true, __ATOMIC_RELAXED))
		return false;
	/*
	 * Write barrier (release): orders our last data and prod stores before
	 * the error store, so a peer that sees ENOTCONN (and then re-reads
	 * prod behind its read barrier) drains every byte we wrote.
	 */
	xs_wmb();
	XS_WRITE_ONCE(*r->tx_err_p, ENOTCONN);
	return true;
}

int xsr_shutdown_tx(struct xsr *r)
{
	if (shutdown_tx_quiet(r)) {
		/* Full barrier: orders the error store before the kick (event). */
		xs_mb();
		do_kick(r);
	}
	return 0;
}

void xsr_close(struct xsr *r)
{
	shutdown_tx_quiet(r);
	__atomic_store_n(&r->closed, true, __ATOMIC_RELAXED);
	/*
	 * Write barrier (release): orders the error store (and everything
	 * before it) before the closed byte, so a peer seeing closed also
	 * sees our end of stream.
	 */
	xs_wmb();
	XS_WRITE_ONCE(*r->my_closed_p, 1);
	/*
	 * Full barrier: orders the closed-byte store before the loads of the
	 * peer's waiting word and closed byte (the Dekker pairing of
	 * notify_peer(): a peer about to sleep re-checks the ring after
	 * storing its waiting word, and sees our close).
	 */
	xs_mb();
	/*
	 * Wake the peer only if something of it waits (any wait ends with
	 * our close: EOF for a reader, EPIPE for a writer). A peer that does
	 * not wait sees the close at its next look; one that is parking the
	 * ring (xsr_park()) looks when it next wakes for anything, or when
	 * it wants the ring again.
	 */
	if (XS_READ_ONCE(*r->peer_waiting_p))
		do_kick(r);
}

void xsr_peer_gone(struct xsr *r)
{
	__atomic_store_n(&r->peer_gone, true, __ATOMIC_RELAXED);
}

/* ---- reuse ------------------------------------------------------------------------------- */

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
	uint32_t prod, avail, seen;
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
	avail = prod - r->rx_cons;
	seen = r->rx_prod_seen - r->rx_cons;
	if (avail > r->size || avail < seen)
		return ring_corrupt(r, "rx prod at park", prod, r->rx_cons);
	__atomic_store_n(&r->rx_cons, prod, __ATOMIC_RELAXED);
	__atomic_store_n(&r->rx_prod_seen, prod, __ATOMIC_RELAXED);
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
			do_kick(r);
	}
	return 1;
}

/* Our producer index where the peer's parking left its consumer index? */
static int reuse_tx_check(struct xsr *r)
{
	uint32_t cons = XS_READ_ONCE(*r->tx_cons_p);

	if (cons != r->tx_prod) {
		xs_log(XS_LOG_WARN, "ring: peer's consumer index %u is not %u at reuse", cons,
		       r->tx_prod);
		broken_set(r, -ECONNRESET);
		return -EPROTO;
	}
	r->tx_cons_seen = cons;
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
	do_kick(r);
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

/* ---- sleep protocol -------------------------------------------------------------------- */

/*
 * The reader thread and the writer thread of one endpoint may sleep at the
 * same time (ring.h allows one of each), and they share one waiting word:
 * each sets only its own bits (atomic OR) and clears only those (atomic
 * AND), remembered per thread. A thread sleeps on one endpoint at a time.
 */
static __thread struct xsr *tls_wait_r;
static __thread uint32_t tls_wait_bits;

bool xsr_prepare_wait(struct xsr *r, unsigned int what)
{
	uint32_t bits = 0;
	unsigned int state;

	if (what & XSR_READABLE)
		bits |= XSR_WAIT_RD;
	if (what & XSR_WRITABLE)
		bits |= XSR_WAIT_WR;
	if (!bits)
		bits = XSR_WAIT_RD | XSR_WAIT_WR;
	tls_wait_r = r;
	tls_wait_bits = bits;
	__atomic_fetch_or(r->my_waiting_p, XSR_WAIT_BASE | bits, __ATOMIC_RELAXED);
	/*
	 * Full barrier: orders the store of our waiting flag before the loads
	 * of the peer's indexes in xsr_poll() below. Pairs with the full
	 * barrier in notify_peer() between the peer's index store and its load
	 * of our flag (Dekker): either we see its new index here and do not
	 * sleep, or it sees our flag and kicks us.
	 */
	xs_mb();
	state = xsr_poll(r);
	return (state & what) || (state & (XSR_ERR | XSR_HUP));
}

void xsr_end_wait(struct xsr *r)
{
	uint32_t bits = XSR_WAIT_BASE | XSR_WAIT_RD | XSR_WAIT_WR, old, left;

	if (tls_wait_r == r)
		bits = tls_wait_bits;
	tls_wait_r = NULL;
	old = __atomic_fetch_and(r->my_waiting_p, ~bits, __ATOMIC_RELAXED);
	left = old & ~bits;
	/* Nobody else of ours waits: clear the word (one try; if another
	 * thread set bits meanwhile, they stay). */
	if (!(left & (XSR_WAIT_RD | XSR_WAIT_WR)) && left)
		__atomic_compare_exchange_n(r->my_waiting_p, &left, 0, false,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

bool xsr_set_wait(struct xsr *r, unsigned int what)
{
	uint32_t bits = 0;
	unsigned int state;

	if (what & XSR_READABLE)
		bits |= XSR_WAIT_RD;
	if (what & XSR_WRITABLE)
		bits |= XSR_WAIT_WR;
	__atomic_store_n(r->my_waiting_p, bits ? XSR_WAIT_BASE | bits : 0, __ATOMIC_RELAXED);
	if (!bits)
		return false;
	/*
	 * Full barrier: orders the store of our waiting word before the loads
	 * of the peer's indexes in xsr_poll() (the same Dekker pairing with
	 * notify_peer() as in xsr_prepare_wait()).
	 */
	xs_mb();
	state = xsr_poll(r);
	return (state & what) || (state & (XSR_ERR | XSR_HUP));
}
