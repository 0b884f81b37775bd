/* SPDX-License-Identifier: MIT */
/*
 * One endpoint of a PV Calls data ring (see ring.h for the contract and
 * <xsock/ring.h> for the layout): setting it up, its state as observers
 * see it (poll), shutdown and close, and the sleep protocol. The bytes
 * are copied in ring_io.c, a closed ring is parked and reopened in
 * reuse.c; private.h has what the three share.
 *
 * Workflow (PV Calls design, "Data ring" / "Workflow"):
 *   producer: read cons, barrier, write data up to cons (wrapping), barrier,
 *             advance prod, full barrier, notify if the peer sleeps;
 *   consumer: read prod, barrier, read data up to prod (wrapping), barrier,
 *             advance cons, full barrier, notify if the peer sleeps.
 *
 * Hardening: every field the peer writes is loaded once (XS_READ_ONCE)
 * into a local and validated with unsigned arithmetic before use; our own
 * indexes live in struct xsr_own (memory the peer cannot reach, shared by
 * our processes) and are only stored to shared memory, never loaded from
 * it, by the reader, the writer and the observers alike: a peer that
 * scribbles on our published indexes misleads nobody on our side. Every
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
 * We store XSOCK_WAIT_ACTIVE plus what we wait for (XSOCK_WAIT_RD,
 * XSOCK_WAIT_WR; the reader and the writer thread each own their bit, see
 * below), so the peer can skip a kick that cannot satisfy us (a consumer
 * waking a sleeper that waits for data, not space). A non-zero value
 * without either bit (e.g. a peer that just stores 1) is treated as "wake
 * me on anything".
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "common/compiler.h"
#include "common/log.h"
#include "ring/private.h"

/* The wire's end-of-stream value is the errno we report for it. */
_Static_assert(XSOCK_RING_EOF == ENOTCONN, "XSOCK_RING_EOF is ENOTCONN");

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
	ext->version = XSOCK_INTF_VERSION;
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
	if (magic != XSOCK_INTF_MAGIC || version != XSOCK_INTF_VERSION) {
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

/* Point @r at the page @intf and the data area @data, as its side sees them. */
static void set_pointers(struct xsr *r, void *intf, void *data)
{
	struct xsock_data_intf *d = intf;
	struct xsock_intf_ext *ext = XSOCK_INTF_EXT(intf);
	uint8_t *in = data, *out = (uint8_t *)data + r->size;

	r->intf = d;
	r->ext = ext;
	if (r->side == XSR_SIDE_A) {
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
}

void xsr_rebase(struct xsr *r, void *intf, void *data)
{
	if (r && intf && data)
		set_pointers(r, intf, data);
}

/* The installed allocator of struct xsr_own, or NULL: anonymous pages. */
static const struct xsr_own_alloc *own_alloc;

void xsr_set_own_alloc(const struct xsr_own_alloc *a)
{
	/* Release: the allocator's own setup before its first use. */
	__atomic_store_n(&own_alloc, a, __ATOMIC_RELEASE);
}

static struct xsr_own *own_get(void)
{
	/* Acquire: pairs with xsr_set_own_alloc(). */
	const struct xsr_own_alloc *a = __atomic_load_n(&own_alloc, __ATOMIC_ACQUIRE);
	struct xsr_own *own;

	if (a)
		return a->get();
	own = mmap(NULL, sizeof(*own), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return own == MAP_FAILED ? NULL : own;
}

int xsr_attach(struct xsr *r, enum xsr_side side, void *intf, void *data,
	       unsigned int order, xsr_kick_fn kick, void *kick_ctx)
{
	struct xsock_intf_ext *ext;
	struct xsr_own *own;

	if (!r || !intf || !data || order > XSOCK_RING_MAX_ORDER ||
	    (side != XSR_SIDE_A && side != XSR_SIDE_B))
		return -EINVAL;
	/*
	 * Shared (not private) memory: a process forked from ours shares it
	 * by reference, so our indexes stay one set of values whichever of
	 * our processes moves them. Zeroed (own_get()).
	 */
	own = own_get();
	if (!own)
		return -ENOMEM;
	memset(r, 0, sizeof(*r));
	r->own = own;
	r->side = side;
	r->size = xsr_half_size(order);
	set_pointers(r, intf, data);
	ext = r->ext;
	/*
	 * Both of our indexes start at 0 (xsr_format zeroed them in the page
	 * and the kernel in r->own); only we ever store them, and they are
	 * never read back from the shared page.
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

static void own_put(struct xsr *r, bool ended)
{
	/* Acquire: pairs with xsr_set_own_alloc(). */
	const struct xsr_own_alloc *a = __atomic_load_n(&own_alloc, __ATOMIC_ACQUIRE);

	if (!r || !r->own)
		return;
	if (a)
		a->put(r->own, ended);
	else
		munmap(r->own, sizeof(*r->own));
	r->own = NULL;
}

void xsr_detach(struct xsr *r)
{
	own_put(r, false);
}

void xsr_release(struct xsr *r)
{
	own_put(r, true);
}

int xsr_adopt(struct xsr *r, enum xsr_side side, void *intf, void *data, unsigned int order,
	      xsr_kick_fn kick, void *kick_ctx, struct xsr_own *own)
{
	if (!r || !intf || !data || !own || order > XSOCK_RING_MAX_ORDER ||
	    (side != XSR_SIDE_A && side != XSR_SIDE_B))
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->own = own;
	r->side = side;
	r->size = xsr_half_size(order);
	set_pointers(r, intf, data);
	r->kick = kick;
	r->kick_ctx = kick_ctx;
	if (XS_READ_ONCE(r->ext->magic) != XSOCK_INTF_MAGIC)
		r->broken = -EPROTO;
	return 0;
}

bool xsr_peer_attached(const struct xsr *r)
{
	/* Acquire: pairs with B's release store in xsr_attach(). */
	return r->ext && __atomic_load_n(&r->ext->b_attached, __ATOMIC_ACQUIRE) != 0;
}

/* ---- state -------------------------------------------------------------------------- */

/*
 * Observers. xsr_rx_ready(), xsr_tx_space() and xsr_poll() may run on any
 * thread (or, after fork(), in another process) while the reader and the
 * writer work: they never write the cached indexes, and they take our own
 * indexes from struct xsr_own, never from the shared page (a peer that
 * set our published consumer index to its producer index - 1 would make
 * an empty ring "readable" while every read says -EAGAIN: a blocking wait
 * would spin on it for ever). Both indexes of a half move
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

static ssize_t rx_observe(struct xsr *r, bool *eof)
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
	/* The peer's prod leads our own cons (whichever process reads). */
	avail = observe_window(r, r->rx_prod_p, &r->own->rx_cons, &prod, &cons);
	if (avail < 0)
		return observe_corrupt(r, "rx prod", prod, cons);
	if (err != 0 && err != XSOCK_RING_EOF) {
		broken_set(r, -ECONNRESET);
		return -ECONNRESET;
	}
	*eof = err == XSOCK_RING_EOF || !alive || closed || peer_gone_get(r);
	return (ssize_t)avail;
}

static ssize_t tx_observe(struct xsr *r)
{
	uint32_t cons, prod;
	int64_t used;
	int rc = tx_check(r);

	if (rc < 0)
		return rc;
	/* Our own prod (whichever process writes) leads the peer's cons. */
	used = observe_window(r, &r->own->tx_prod, r->tx_cons_p, &prod, &cons);
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
	rc = rx_observe(r, &eof);
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
 * reader moves either index (in whichever of our processes reads: both
 * are in struct xsr_own); prod_seen is loaded first (acquire: the cons
 * load cannot pass it), so cons is at least as new: if prod_seen - cons is
 * in 1..size, those bytes were there and unread when cons was loaded
 * (the peer's prod is at or past any prod_seen). A reader that moved on
 * in between gives a window outside 1..size: not ready by this test.
 */
static bool rx_cached_ready(const struct xsr *r)
{
	uint32_t seen = __atomic_load_n(&r->own->rx_prod_seen, __ATOMIC_ACQUIRE);
	uint32_t avail = seen - __atomic_load_n(&r->own->rx_cons, __ATOMIC_RELAXED);

	return avail != 0 && avail <= r->size;
}

unsigned int xsr_poll_for(struct xsr *r, unsigned int want)
{
	const unsigned int err_bits = XSR_READABLE | XSR_WRITABLE | XSR_ERR;
	unsigned int bits = 0;
	bool eof = false;
	ssize_t rc;

	if (broken_get(r))
		return err_bits;
	if ((want & XSR_READABLE) && rx_cached_ready(r)) {
		/*
		 * The peer's error field shares its cache line with its prod:
		 * loaded only when XSR_RDHUP is asked for. With bytes to read
		 * an error or end of stream needs no report yet: the reader's
		 * cached path hands out those bytes before it looks, too.
		 */
		int32_t err = (want & XSR_RDHUP) ? XS_READ_ONCE(*r->rx_err_p) : 0;

		if (err != 0 && err != XSOCK_RING_EOF) {
			broken_set(r, -ECONNRESET);
			return err_bits;
		}
		bits |= XSR_READABLE;
		eof = err == XSOCK_RING_EOF || peer_ended(r);
	} else {
		rc = rx_observe(r, &eof);
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
	return xsr_poll_for(r, XSR_READABLE | XSR_WRITABLE);
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
	XS_WRITE_ONCE(*r->tx_err_p, XSOCK_RING_EOF);
	return true;
}

int xsr_shutdown_tx(struct xsr *r)
{
	if (shutdown_tx_quiet(r)) {
		/* Full barrier: orders the error store before the kick (event). */
		xs_mb();
		kick_peer(r);
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
		kick_peer(r);
}

void xsr_peer_gone(struct xsr *r)
{
	__atomic_store_n(&r->peer_gone, true, __ATOMIC_RELAXED);
	/* Every process holding the endpoint: a dead domain says nothing to
	 * the others (docs/protocol.md, "Dead domains"). */
	if (r->own)
		__atomic_store_n(&r->own->gone, 1, __ATOMIC_RELAXED);
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

/* Our waiting word's bits for @what (XSR_READABLE and/or XSR_WRITABLE). */
static uint32_t wait_bits(unsigned int what)
{
	uint32_t bits = 0;

	if (what & XSR_READABLE)
		bits |= XSOCK_WAIT_RD;
	if (what & XSR_WRITABLE)
		bits |= XSOCK_WAIT_WR;
	return bits;
}

/*
 * Our waiting word is stored (xsr_prepare_wait(), xsr_set_wait()):
 * re-check the ring. True when @what holds already or an error or a
 * hang-up is to be reported: then do not sleep.
 */
static bool wait_recheck(struct xsr *r, unsigned int what)
{
	unsigned int state;

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

bool xsr_prepare_wait(struct xsr *r, unsigned int what)
{
	uint32_t bits = wait_bits(what);

	if (!bits)
		bits = XSOCK_WAIT_RD | XSOCK_WAIT_WR;
	tls_wait_r = r;
	tls_wait_bits = bits;
	__atomic_fetch_or(r->my_waiting_p, XSOCK_WAIT_ACTIVE | bits, __ATOMIC_RELAXED);
	/* The full barrier between this store and the re-check is there. */
	return wait_recheck(r, what);
}

void xsr_end_wait(struct xsr *r)
{
	uint32_t bits = XSOCK_WAIT_ACTIVE | XSOCK_WAIT_RD | XSOCK_WAIT_WR, old, left;

	if (tls_wait_r == r)
		bits = tls_wait_bits;
	tls_wait_r = NULL;
	old = __atomic_fetch_and(r->my_waiting_p, ~bits, __ATOMIC_RELAXED);
	left = old & ~bits;
	/* Nobody else of ours waits: clear the word (one try; if another
	 * thread set bits meanwhile, they stay). */
	if (!(left & (XSOCK_WAIT_RD | XSOCK_WAIT_WR)) && left)
		__atomic_compare_exchange_n(r->my_waiting_p, &left, 0, false,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

bool xsr_set_wait(struct xsr *r, unsigned int what)
{
	uint32_t bits = wait_bits(what);

	__atomic_store_n(r->my_waiting_p, bits ? XSOCK_WAIT_ACTIVE | bits : 0, __ATOMIC_RELAXED);
	if (!bits)
		return false;
	/* The same Dekker pairing with notify_peer() as in xsr_prepare_wait(). */
	return wait_recheck(r, what);
}
