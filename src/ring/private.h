/* SPDX-License-Identifier: MIT */
/*
 * What the files of the ring endpoint share (internal to src/ring):
 * the endpoint's sticky error, the flags several threads read, the peer's
 * end as the ring shows it, the kick, and the check every write path
 * makes. ring.c sets up an endpoint and reports its state, ring_io.c
 * copies the bytes, reuse.c parks and reopens it.
 *
 * Local state in struct xsr that the reader and the writer thread may
 * both touch, and our indexes in struct xsr_own, are accessed with
 * relaxed atomics; everything in the shared page is loaded once
 * (XS_READ_ONCE) into a local before it is used, and our own indexes are
 * never loaded from it.
 */
#ifndef XSOCK_RING_PRIVATE_H
#define XSOCK_RING_PRIVATE_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/compiler.h"
#include "common/log.h"
#include "ring/ring.h"

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
static inline int broken_report(struct xsr *r)
{
	int err = __atomic_exchange_n(&r->broken, -ECONNRESET, __ATOMIC_RELAXED);

	return err ? err : -ECONNRESET;
}

/* First detection of corruption inside an operation: report -EPROTO now. */
static inline int peer_corrupted(struct xsr *r, const char *what, uint32_t a, uint32_t b)
{
	xs_log(XS_LOG_WARN, "ring: peer corrupted the ring (%s: %u vs %u)", what, a, b);
	broken_set(r, -ECONNRESET);
	return -EPROTO;
}

/* Told in this process, or by another holder of the endpoint (fork). */
static inline bool peer_gone_get(const struct xsr *r)
{
	return __atomic_load_n(&r->peer_gone, __ATOMIC_RELAXED) ||
	       (r->own && __atomic_load_n(&r->own->gone, __ATOMIC_RELAXED));
}

static inline bool tx_shut_get(const struct xsr *r)
{
	return __atomic_load_n(&r->tx_shut, __ATOMIC_RELAXED);
}

/*
 * The bytes the peer's producer index @prod leaves for us to read:
 * 0..size, or -1 when @prod is corrupt. Unsigned: catches prod beyond the
 * ring, behind our consumer index, or moving back behind what we saw.
 */
static inline int64_t rx_unread(const struct xsr *r, uint32_t prod)
{
	uint32_t cons = __atomic_load_n(&r->own->rx_cons, __ATOMIC_RELAXED);
	uint32_t avail = prod - cons;
	uint32_t seen = __atomic_load_n(&r->own->rx_prod_seen, __ATOMIC_RELAXED) - cons;

	return avail > r->size || avail < seen ? -1 : (int64_t)avail;
}

/* Signal the peer through the caller's kick (counted for the status). */
static inline void kick_peer(struct xsr *r)
{
	__atomic_fetch_add(&r->kicks, 1, __ATOMIC_RELAXED);
	if (r->kick) {
		int rc = r->kick(r->kick_ctx);

		if (rc < 0)
			xs_log(XS_LOG_WARN, "ring: kick failed: %d", rc);
	}
}

/* The peer is gone (told), dead (its alive byte cleared) or closed. */
static inline bool peer_ended(const struct xsr *r)
{
	return peer_gone_get(r) || !XS_READ_ONCE(*r->peer_alive_p) ||
	       XS_READ_ONCE(*r->peer_closed_p);
}

/* True when writes must fail with -EPIPE (us shut down, peer closed/dead). */
static inline bool tx_hup(struct xsr *r)
{
	return tx_shut_get(r) || peer_ended(r);
}

/*
 * May we write at all? -EPIPE when we shut down or the peer closed or
 * died; -ECONNRESET (and the ring breaks) when the peer reported an
 * error for its own direction: a reset ends ours too.
 */
static inline int tx_check(struct xsr *r)
{
	int32_t err;

	if (tx_hup(r))
		return -EPIPE;
	err = XS_READ_ONCE(*r->rx_err_p);
	if (err != 0 && err != XSOCK_RING_EOF) {
		broken_set(r, -ECONNRESET);
		return -ECONNRESET;
	}
	return 0;
}

#endif /* XSOCK_RING_PRIVATE_H */
