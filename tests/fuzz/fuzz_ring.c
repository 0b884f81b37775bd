/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the data ring. The input is a program: each step
 * either runs an operation on one of the two endpoints (A, B), ring reuse
 * (park, reopen, take up) included, or plays the hostile peer and
 * overwrites a shared field (indexes, error fields, ring_order, magic,
 * waiting/alive/closed bytes, the reuse fields) between operations.
 *
 * Checked: reads/writes never return more than asked (nor more than the
 * ring holds), errors are from the contract, a broken endpoint stays
 * broken (-ECONNRESET), readiness never meets -EAGAIN (a read after
 * "readable", a write after "writable"), and ASan sees no access outside
 * the heap blocks holding the interface page and the data area.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/compiler.h"
#include "ring/ring.h"

/*
 * Compile the ring itself into this target, so it gets the fuzzer's
 * coverage and ASan instrumentation (the core library is built without).
 * The linker then takes no ring object from the library.
 */
#include "ring/ring.c"

#define MAX_ORDER_FUZZ 2u
#define BUF_LEN (3u * 4096u * 4u)

struct cursor {
	const uint8_t *p;
	size_t n;
};

static uint8_t take8(struct cursor *c)
{
	uint8_t v = 0;

	if (c->n) {
		v = *c->p++;
		c->n--;
	}
	return v;
}

static uint32_t take32(struct cursor *c)
{
	uint32_t v = take8(c);

	v |= (uint32_t)take8(c) << 8;
	v |= (uint32_t)take8(c) << 16;
	v |= (uint32_t)take8(c) << 24;
	return v;
}

static uint32_t take_len(struct cursor *c)
{
	uint32_t v = take8(c);

	v |= (uint32_t)take8(c) << 8;
	return v % BUF_LEN;
}

#define CHECK(cond)                                                             \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "fuzz_ring: check failed: %s (line %d)\n", \
				#cond, __LINE__);                               \
			__builtin_trap();                                       \
		}                                                               \
	} while (0)

struct ep {
	struct xsr r;
	bool broken;		/* saw -EPROTO or -ECONNRESET */
};

static int nop_kick(void *ctx)
{
	(*(int *)ctx)++;
	return 0;
}

/* Check one data operation's result. */
static void check_io(struct ep *e, ssize_t n, uint32_t asked, bool wr)
{
	if (e->broken) {
		CHECK(n == -ECONNRESET);
		return;
	}
	if (n == -EPROTO || n == -ECONNRESET) {
		e->broken = true;
		return;
	}
	if (n < 0) {
		CHECK(n == -EAGAIN || (wr && n == -EPIPE));
		return;
	}
	CHECK((uint32_t)n <= asked);
	CHECK((uint32_t)n <= e->r.size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[BUF_LEN];
	struct cursor c = { data, size };
	unsigned int order = take8(&c) % (MAX_ORDER_FUZZ + 1), o2;
	uint32_t refs[1u << XSOCK_RING_MAX_ORDER];
	size_t dlen = (size_t)XSOCK_RING_PAGE_SIZE << order;
	uint8_t *intf, *ring;
	struct xsock_data_intf *d;
	struct xsock_intf_ext *ext;
	struct ep ep[2];
	int kicks = 0, steps = 0;

	/* Exactly-sized heap blocks: ASan flags any byte outside them. */
	intf = malloc(XSOCK_RING_PAGE_SIZE);
	ring = malloc(dlen);
	if (!intf || !ring)
		goto out_free;
	d = (struct xsock_data_intf *)intf;
	ext = XSOCK_INTF_EXT(intf);
	xsr_format(intf, order, NULL);
	memset(ep, 0, sizeof(ep));
	xsr_attach(&ep[0].r, XSR_SIDE_A, intf, ring, order, nop_kick, &kicks);
	xsr_attach(&ep[1].r, XSR_SIDE_B, intf, ring, order, nop_kick, &kicks);

	while (c.n && steps++ < 512) {
		uint8_t op = take8(&c);
		struct ep *e = &ep[op & 1];
		uint32_t len, v;
		struct iovec iov[3];
		ssize_t n;

		switch ((op >> 1) % 20) {
		case 0:
			len = take_len(&c);
			check_io(e, xsr_write(&e->r, buf, len), len, true);
			break;
		case 1:
			len = take_len(&c);
			n = xsr_read(&e->r, buf, len, take8(&c) & XSR_PEEK);
			check_io(e, n, len, false);
			break;
		case 2:
		case 3:
			len = take_len(&c);
			v = take_len(&c);
			iov[0] = (struct iovec){ buf, XS_MIN(len, v) };
			iov[1] = (struct iovec){ buf + iov[0].iov_len, 0 };
			iov[2] = (struct iovec){ buf + iov[0].iov_len, XS_MAX(len, v) - XS_MIN(len, v) };
			len = XS_MAX(len, v);
			if ((op >> 1) % 20 == 2)
				check_io(e, xsr_writev(&e->r, iov, 3), len, true);
			else
				check_io(e, xsr_readv(&e->r, iov, 3, 0), len, false);
			break;
		case 4: /* hostile: a 32-bit field of the data interface */
			v = take32(&c);
			switch (take8(&c) % 7) {
			case 0: XS_WRITE_ONCE(d->in_cons, v); break;
			case 1: XS_WRITE_ONCE(d->in_prod, v); break;
			case 2: XS_WRITE_ONCE(d->in_error, (int32_t)v); break;
			case 3: XS_WRITE_ONCE(d->out_cons, v); break;
			case 4: XS_WRITE_ONCE(d->out_prod, v); break;
			case 5: XS_WRITE_ONCE(d->out_error, (int32_t)v); break;
			default: XS_WRITE_ONCE(d->ring_order, v); break;
			}
			break;
		case 5: /* hostile: a small nudge of an index (stays plausible) */
			v = take8(&c);
			switch (take8(&c) % 4) {
			case 0: XS_WRITE_ONCE(d->in_prod, d->in_prod + v - 128); break;
			case 1: XS_WRITE_ONCE(d->in_cons, d->in_cons + v - 128); break;
			case 2: XS_WRITE_ONCE(d->out_prod, d->out_prod + v - 128); break;
			default: XS_WRITE_ONCE(d->out_cons, d->out_cons + v - 128); break;
			}
			break;
		case 6: /* hostile: extension fields */
			v = take32(&c);
			switch (take8(&c) % 8) {
			case 0: XS_WRITE_ONCE(ext->a_waiting, v); break;
			case 1: XS_WRITE_ONCE(ext->b_waiting, v); break;
			case 2: XS_WRITE_ONCE(ext->a_alive, (uint8_t)v); break;
			case 3: XS_WRITE_ONCE(ext->b_alive, (uint8_t)v); break;
			case 4: XS_WRITE_ONCE(ext->a_closed, (uint8_t)v); break;
			case 5: XS_WRITE_ONCE(ext->b_closed, (uint8_t)v); break;
			case 6: XS_WRITE_ONCE(ext->magic, v); break;
			default: XS_WRITE_ONCE(ext->version, v); break;
			}
			break;
		case 7: {
			/* Readiness, whole or for some bits. "Readable" means a
			 * read right after does not say "nothing yet" (data, EOF
			 * or an error), "writable" the same for a write, whatever
			 * the peer wrote -- its scribbles on the indexes we
			 * publish included (issue 19: a wait that trusts readiness
			 * would spin for ever on a lie). */
			uint8_t w = take8(&c);
			unsigned int m = (w & 16) ? xsr_poll(&e->r) :
				xsr_poll_for(&e->r, w & (XSR_READABLE | XSR_WRITABLE | XSR_RDHUP));
			char b = 0;

			if (m & XSR_READABLE) {
				n = xsr_read(&e->r, &b, 1, XSR_PEEK);
				CHECK(n != -EAGAIN);
				check_io(e, n, 1, false);
			}
			if ((w & 32) && (m & XSR_WRITABLE) && !e->broken) {
				n = xsr_write(&e->r, &b, 1);
				CHECK(n != -EAGAIN);
				check_io(e, n, 1, true);
			}
			break;
		}
		case 8:
			(void)xsr_prepare_wait(&e->r, take8(&c) & 3);
			break;
		case 9:
			xsr_end_wait(&e->r);
			break;
		case 10:
			(void)xsr_shutdown_tx(&e->r);
			break;
		case 11:
			xsr_close(&e->r);
			break;
		case 12:
			xsr_peer_gone(&e->r);
			break;
		case 13:
			n = xsr_rx_ready(&e->r);
			if (n == -EPROTO || n == -ECONNRESET)
				e->broken = true;
			else
				CHECK(n >= 0 && n <= e->r.size);
			break;
		case 14:
			n = xsr_tx_space(&e->r);
			if (n == -EPROTO || n == -ECONNRESET)
				e->broken = true;
			else
				CHECK(n == -EPIPE || (n >= 0 && n <= e->r.size));
			break;
		case 15:
			if (xsr_read_layout(intf, MAX_ORDER_FUZZ, &o2, refs) == 0)
				CHECK(o2 <= MAX_ORDER_FUZZ);
			break;
		case 16: /* ring reuse: park after use n */
			n = xsr_park(&e->r, take8(&c) % 4);
			if (n == -EPROTO)
				e->broken = true;
			else
				CHECK(n == 0 || n == 1 || n == -ECONNRESET);
			break;
		case 17: /* reuse: B opens a use */
			n = xsr_reopen(&e->r, take8(&c) % 4, (uint16_t)take32(&c));
			if (n == -EPROTO)
				e->broken = true;
			else
				CHECK(n == 0 || n == -EINVAL || n == -ECONNRESET);
			break;
		case 18: { /* reuse: A takes a use up */
			uint16_t sport = 0;

			n = xsr_peer_opened(&e->r, take8(&c) % 4, &sport);
			CHECK(n == 0 || n == -EPROTO || (n == 1 && sport != 0));
			n = xsr_reaccept(&e->r);
			if (n == -EPROTO)
				e->broken = true;
			else
				CHECK(n == 0 || n == -EINVAL || n == -ECONNRESET);
			break;
		}
		default: /* hostile: the reuse fields */
			v = take32(&c);
			switch (take8(&c) % 3) {
			case 0: XS_WRITE_ONCE(ext->a_parked, v); break;
			case 1: XS_WRITE_ONCE(ext->b_use, v); break;
			default: XS_WRITE_ONCE(ext->b_sport, v); break;
			}
			break;
		}
	}
	xsr_detach(&ep[0].r);
	xsr_detach(&ep[1].r);
out_free:
	free(ring);
	free(intf);
	return 0;
}
