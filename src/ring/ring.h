/* SPDX-License-Identifier: MIT */
/*
 * One endpoint's view of a data ring (<xsock/ring.h>): a byte stream each
 * way.
 *
 * Independent of the platform: the caller maps the pages and owns the
 * event channel; the ring calls @kick when the peer must be woken.
 *
 * Hardening (XSA-86, XSA-155): the peer's indexes are read once into a
 * local behind a barrier and checked against the ring size; our own
 * indexes are kept in memory the peer cannot reach (struct xsr_own) and
 * only ever written to the shared page, never read back from it, by the
 * reader and the writer and by every observer (poll) alike; ring_order is
 * read once at attach time. A ring the peer has corrupted returns -EPROTO
 * once and -ECONNRESET after that; it never hangs, never touches memory
 * outside the ring.
 *
 * Error contract (all functions): >= 0 success, negative errno:
 *   -EAGAIN     nothing to read / no space (non-blocking by nature)
 *   -EPIPE      write after the peer closed its endpoint or died
 *   -ECONNRESET the peer reported an error, or the ring broke earlier
 *   -EPROTO     the peer corrupted the ring (first detection)
 * xsr_read() returns 0 at end of stream: the peer shut its direction
 * down (or died) and every byte it sent has been read.
 *
 * Thread safety: one reader and one writer may use an endpoint
 * concurrently (xsr_read* vs xsr_write*); two readers or two writers need
 * the caller's lock.
 */
#ifndef XSOCK_RING_H
#define XSOCK_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <xsock/ring.h>

enum xsr_side {
	XSR_SIDE_A,	/* allocator: produces out, consumes in */
	XSR_SIDE_B,	/* mapper: produces in, consumes out */
};

/* xsr_poll() bits */
#define XSR_READABLE	0x1u	/* data to read, or EOF/error to report */
#define XSR_WRITABLE	0x2u	/* space to write, or an error to report */
#define XSR_RDHUP	0x4u	/* peer shut down its direction (EOF after drain) */
#define XSR_HUP		0x8u	/* peer gone or closed: no more writes */
#define XSR_ERR		0x10u	/* ring broken */

/* xsr_read() flags */
#define XSR_PEEK	0x1u

typedef int (*xsr_kick_fn)(void *ctx);

/*
 * Our own indexes, and the reader's and the writer's last valid view of
 * the peer's: trusted memory, private to our domain but shared by every
 * process that holds the endpoint. xsr_attach() maps it MAP_SHARED |
 * MAP_ANONYMOUS, so after fork() whichever process reads or writes next
 * carries on from where the last one stopped, and observers in any
 * process (poll, an event thread) see where the reader and the writer
 * are without reading our indexes back from the page the peer can write.
 * The writer's and the reader's fields sit on cache lines of their own:
 * a reader thread and a writer thread of one endpoint do not share one.
 * Stored with relaxed atomics (observers load them from other threads).
 */
struct xsr_own {
	uint32_t tx_prod;		/* our producer index */
	uint32_t tx_cons_seen;		/* peer's consumer index, last valid read */
	uint8_t pad0[56];
	uint32_t rx_cons;		/* our consumer index */
	uint32_t rx_prod_seen;		/* peer's producer index, last valid read */
	uint32_t gone;			/* xsr_peer_gone(), seen by every holder */
	uint8_t pad1[52];
};

struct xsr {
	/* shared memory (hostile) */
	struct xsock_data_intf *intf;
	struct xsock_intf_ext *ext;
	uint8_t *rx, *tx;		/* the half we consume / produce */
	uint32_t *rx_prod_p, *rx_cons_p, *tx_prod_p, *tx_cons_p;
	int32_t *rx_err_p, *tx_err_p;
	uint32_t *my_waiting_p, *peer_waiting_p;
	uint8_t *peer_alive_p, *peer_closed_p, *my_closed_p;

	/* local state (trusted) */
	enum xsr_side side;
	uint32_t size;			/* bytes per half, power of two */
	struct xsr_own *own;		/* our indexes (shared across fork()) */
	int broken;			/* 0, or the sticky negative errno */
	bool tx_shut;			/* we shut our direction down */
	bool closed;			/* xsr_close() ran (for xsr_park()) */
	bool peer_gone;			/* told by xsr_peer_gone() */

	xsr_kick_fn kick;
	void *kick_ctx;

	/* counters for status reporting */
	uint64_t bytes_tx, bytes_rx, kicks;
};

/* Bytes per half for @order. */
static inline uint32_t xsr_half_size(unsigned int order)
{
	return XSOCK_RING_HALF_SIZE(order);
}

/*
 * Side A, once, before sharing the interface page: zero the page, write
 * ring_order, the @refs of the (1 << order) data pages, the extension
 * magic and both alive bytes. -EINVAL if order > XSOCK_RING_MAX_ORDER.
 */
int xsr_format(void *intf, unsigned int order, const uint32_t *refs);

/*
 * Side B, once, after mapping the interface page: read ring_order ONCE,
 * check it is <= @max_order and the magic is right, and copy the refs into
 * @refs (room for 1 << max_order entries). -EPROTO on anything invalid.
 */
int xsr_read_layout(const void *intf, unsigned int max_order,
		    unsigned int *order, uint32_t *refs);

/*
 * Attach an endpoint to a formatted ring. @data is the contiguous data
 * area of (1 << @order) pages; @order is the caller's trusted copy.
 * @kick may be NULL (then nobody is woken). Maps the endpoint's struct
 * xsr_own. -EINVAL on bad order, -ENOMEM (or another mmap() errno).
 */
int xsr_attach(struct xsr *r, enum xsr_side side, void *intf, void *data,
	       unsigned int order, xsr_kick_fn kick, void *kick_ctx);
/*
 * Let go of what xsr_attach() mapped (in this process; a forked process
 * keeps its own mapping until it lets go). Idempotent; a zeroed or never
 * attached endpoint is fine. The shared page is not touched.
 */
void xsr_detach(struct xsr *r);

/*
 * Where struct xsr_own lives. By default each endpoint gets an anonymous
 * MAP_SHARED page of its own (shared with forked children only); a
 * process that needs it to survive exec (the shim, docs/protocol.md "What
 * crosses exec") installs its own allocator once, before any attach:
 * @get returns zeroed memory for one struct xsr_own or NULL; @put gives
 * it back, with @ended true when the connection has ended for every
 * process (xsr_release()) and false when only this process lets go
 * (xsr_detach()). NULL restores the default.
 */
struct xsr_own_alloc {
	struct xsr_own *(*get)(void);
	void (*put)(struct xsr_own *own, bool ended);
};
void xsr_set_own_alloc(const struct xsr_own_alloc *a);
/*
 * Like xsr_detach(), for an endpoint whose connection has ended for every
 * process that held it: its struct xsr_own may be reused.
 */
void xsr_release(struct xsr *r);
/*
 * exec: attach @r to a ring whose state survived in @own (the previous
 * process image's, found again: docs/protocol.md "What crosses exec"):
 * nothing is zeroed, b_attached is not touched. The caller restores the
 * per-process fields (broken, tx_shut, closed, peer_gone, counters).
 * -EINVAL on bad arguments.
 */
int xsr_adopt(struct xsr *r, enum xsr_side side, void *intf, void *data, unsigned int order,
	      xsr_kick_fn kick, void *kick_ctx, struct xsr_own *own);

/*
 * The same ring, mapped again at other addresses (a forked child maps a
 * peer's pages anew: xsp_map_again()): point @r at @intf and @data. The
 * state -- our indexes (struct xsr_own), counters, flags -- is kept.
 * Nothing else may use @r meanwhile.
 */
void xsr_rebase(struct xsr *r, void *intf, void *data);

ssize_t xsr_write(struct xsr *r, const void *buf, size_t len);
ssize_t xsr_writev(struct xsr *r, const struct iovec *iov, int iovcnt);
ssize_t xsr_read(struct xsr *r, void *buf, size_t len, unsigned int flags);
ssize_t xsr_readv(struct xsr *r, const struct iovec *iov, int iovcnt,
		  unsigned int flags);

/* Bytes ready to read now (0 when empty or at EOF), or a negative errno. */
ssize_t xsr_rx_ready(struct xsr *r);
/* Free bytes to write now, or a negative errno. */
ssize_t xsr_tx_space(struct xsr *r);
/* Current state as XSR_* bits (never blocks, never fails). */
unsigned int xsr_poll(struct xsr *r);
/*
 * xsr_poll() for a caller that needs only the @want bits of
 * XSR_READABLE, XSR_WRITABLE and XSR_RDHUP. Bits not asked for may be
 * missing; so may XSR_ERR for a direction the caller did not ask about
 * (the next read or write reports it), and XSR_RDHUP while bytes wait to
 * be read, unless asked for. XSR_HUP is always computed. The reader's
 * cached view may answer "readable" without loading the peer's index,
 * whose cache line the peer's writer keeps moving.
 *
 * Readiness never lies about our own side: "readable" means a read made
 * now (with nothing else reading meanwhile) returns data, end of stream
 * or an error, never -EAGAIN; "writable" the same for a write. Whatever
 * the peer writes into the shared page.
 */
unsigned int xsr_poll_for(struct xsr *r, unsigned int want);

/* End our direction (like shutdown(SHUT_WR)): the peer reads what was
 * written, then EOF. Idempotent. Kicks the peer. */
int xsr_shutdown_tx(struct xsr *r);
/* We close the endpoint: shut tx down and mark that we read no more, so
 * the peer's writes fail with -EPIPE. Kicks the peer. */
void xsr_close(struct xsr *r);
/* The platform reported the peer gone (its event channel hung up). */
void xsr_peer_gone(struct xsr *r);
/* Side A: whether B has attached (its b_attached byte, see <xsock/ring.h>). A
 * hostile B can only lie about itself. */
bool xsr_peer_attached(const struct xsr *r);

/*
 * Ring reuse (docs/protocol.md, "Ring reuse"): a ring both sides closed
 * carries the next connection between the same two processes. The
 * connections on one ring are numbered: the negotiated one is use 0.
 *
 * xsr_park(): after our own xsr_close() of use @use, make the ring ready
 * for the next use. Side A waits for B's close (b_closed), drops what B
 * sent that A did not read, resets its own direction and publishes
 * a_parked = @use + 1 (kicking B); side B waits for that, then drops what
 * A sent that B did not read. Returns 1 parked, 0 not yet (call again
 * after the next event), -ECONNRESET the ring is broken or the peer gone
 * or not closed by us, -EPROTO the peer corrupted an index.
 */
int xsr_park(struct xsr *r, uint32_t use);
/*
 * Side B, parked: open use @use (>= 1), announcing the client's port
 * @sport, and kick A. -EPROTO if A's consumer index is not where parking
 * left it; -ECONNRESET peer gone; -EINVAL bad arguments or side.
 */
int xsr_reopen(struct xsr *r, uint32_t use, uint16_t sport);
/*
 * Side A, parked after use @use - 1: has B opened use @use? 1 and *sport,
 * 0 not yet, -EPROTO B wrote another use number or a zero port.
 */
int xsr_peer_opened(const struct xsr *r, uint32_t use, uint16_t *sport);
/*
 * Side A: take up the use B opened (after xsr_peer_opened() said 1).
 * -EPROTO if B's consumer index is not where parking left it;
 * -ECONNRESET peer gone.
 */
int xsr_reaccept(struct xsr *r);
/* Could this endpoint carry another use: not broken, peer not gone? */
bool xsr_alive(struct xsr *r);

/*
 * Sleep protocol. Before blocking on the event channel for @what
 * (XSR_READABLE and/or XSR_WRITABLE), call xsr_prepare_wait(): it
 * announces that we sleep, then re-checks the ring. It returns true when
 * the condition already holds (or an error/EOF is to be reported) -- then
 * do not sleep. Either way call xsr_end_wait() after waking.
 * A reader sleeping for data is kicked by the peer's next write; a writer
 * sleeping for space is kicked once the peer has consumed enough that at
 * least half the ring is free (not by every byte consumed).
 */
bool xsr_prepare_wait(struct xsr *r, unsigned int what);
/* Must run on the thread that called xsr_prepare_wait(): each thread
 * clears only the bits it set, so a reader and a writer may sleep on one
 * endpoint at the same time. */
void xsr_end_wait(struct xsr *r);

/*
 * For a caller that tracks its waiters itself (the shim does, under its
 * own lock): set our waiting word to exactly @what (0 clears it), then
 * re-check as xsr_prepare_wait() does. Do not mix with
 * xsr_prepare_wait()/xsr_end_wait() on the same endpoint.
 */
bool xsr_set_wait(struct xsr *r, unsigned int what);

#endif /* XSOCK_RING_H */
