/* SPDX-License-Identifier: MIT */
/*
 * xsock ABI: the data ring, the wire format of one connection between two
 * domains (docs/protocol.md, section 1).
 *
 * This header is part of the xsock ABI (include/xsock/, in the manner of
 * Xen's include/public/io): it is self-contained (<stdint.h> only) and is
 * all another implementation (a kernel module, a Rust port) needs to
 * share a ring with xsock. It is stable: changing anything here (a field,
 * an offset, a constant, a rule stated in a comment) is a protocol
 * change, which needs a new XSOCK_INTF_VERSION.
 *
 * The ring is the PV Calls data ring (struct pvcalls_data_intf, PV Calls
 * design v7) plus an xsock extension area in the otherwise unused tail of
 * the interface page.
 *
 * Side A ("allocator", the PV Calls frontend) shares the interface page and
 * the data pages; side B ("mapper", the PV Calls backend) maps them.
 *   A produces into `out` and consumes from `in`;
 *   B produces into `in`  and consumes from `out`.
 * Each producer owns its prod index and its error field; each consumer owns
 * its cons index. Everything in this page is shared with a peer that may be
 * hostile: read each field once, validate, then use.
 *
 * Layout of the interface page (little-endian, 4096 bytes):
 *     0  in_cons    4  in_prod    8  in_error   12..63 pad
 *    64  out_cons  68  out_prod  72  out_error   76 ring_order  80 ref[]
 *  3072  xsock extension (struct xsock_intf_ext)
 * The data area is (1 << ring_order) pages mapped contiguously: the first
 * half is `in`, the second half is `out`. Each half is
 * XSOCK_RING_HALF_SIZE(ring_order) bytes, a power of two; indexes are
 * free-running 32-bit counters, masked into their half.
 *
 * The error fields hold 0, XSOCK_RING_EOF (the producer shut its direction
 * down: end of stream once the consumer has read everything) or any other
 * value (the producer reset the connection).
 */
#ifndef XSOCK_ABI_RING_H
#define XSOCK_ABI_RING_H

#include <stdint.h>

#define XSOCK_RING_PAGE_SIZE 4096u

struct xsock_data_intf {
	uint32_t in_cons, in_prod;
	int32_t in_error;
	uint8_t pad[52];
	uint32_t out_cons, out_prod;
	int32_t out_error;
	uint32_t ring_order;
	uint32_t ref[];
};

/* The extension area lies past the largest ref[] list (512 entries end at
 * byte 2128), so every legal ring_order leaves it intact. */
#define XSOCK_INTF_EXT_OFFSET 3072u
#define XSOCK_INTF_MAGIC 0x314b5358u	/* "XSK1" */
#define XSOCK_INTF_VERSION 1u		/* struct xsock_intf_ext's version */
#define XSOCK_RING_MAX_ORDER 9u		/* 512 refs: the spec's limit */

/* Bytes per half (`in` or `out`) of a ring of @order. */
#define XSOCK_RING_HALF_SIZE(order) ((XSOCK_RING_PAGE_SIZE << (order)) / 2)

/* *_error: the producer shut its direction down (Linux's ENOTCONN). */
#define XSOCK_RING_EOF 107

struct xsock_intf_ext {
	uint32_t magic;			/* XSOCK_INTF_MAGIC, written by A */
	uint32_t version;		/* XSOCK_INTF_VERSION */
	uint8_t pad0[56];
	/* Non-zero while side A is (about to be) asleep waiting for the ring:
	 * B must notify after it moves an index. Written by A only. The
	 * value is XSOCK_WAIT_ACTIVE plus what A waits for (XSOCK_WAIT_*);
	 * a non-zero value with neither bit means "wake me on anything". */
	uint32_t a_waiting;
	uint8_t pad1[60];
	uint32_t b_waiting;		/* the same for side B; written by B */
	uint8_t pad2[60];
	/* Unmap-notification bytes: 1 while the side holds the page; the
	 * kernel (Xen) or an orderly unmap (local) sets it to 0. */
	uint8_t a_alive;
	uint8_t b_alive;
	/* Set to 1 when the side has closed its endpoint: it reads no more,
	 * so the other side's writes fail with EPIPE. */
	uint8_t a_closed;
	uint8_t b_closed;
	/* Set to 1 by B once attached, before its first event: tells A that
	 * an event is B's "connected" and not the one Xen marks pending on a
	 * freshly bound port (A binds B's channel). Written by B only. */
	uint8_t b_attached;
	uint8_t pad3[59];
	/*
	 * Ring reuse (docs/protocol.md, "Ring reuse"): a ring both sides
	 * closed carries the next connection between the same two
	 * processes instead of a new negotiation. Connections on one ring
	 * are numbered ("uses"), the negotiated one is use 0.
	 * a_parked: n + 1 once A has closed use n, dropped what B sent in it
	 * that A did not read, and reset its own direction; written by A.
	 */
	uint32_t a_parked;
	uint8_t pad4[60];
	/* b_use: n when B opened use n (n >= 1), after setting b_sport (the
	 * client's port for that use) and resetting its direction; written
	 * by B. */
	uint32_t b_use;
	uint32_t b_sport;
};

/* The waiting words (a_waiting, b_waiting). */
#define XSOCK_WAIT_ACTIVE	0x80000000u	/* set while the side waits */
#define XSOCK_WAIT_RD		0x100u		/* ... until there is data to read */
#define XSOCK_WAIT_WR		0x200u		/* ... until there is space to write */

/* Offsets in the interface page, for the unmap notifications. */
#define XSOCK_A_ALIVE_OFFSET (XSOCK_INTF_EXT_OFFSET + 192u)
#define XSOCK_B_ALIVE_OFFSET (XSOCK_INTF_EXT_OFFSET + 193u)

#define XSOCK_INTF_EXT(intf) \
	((struct xsock_intf_ext *)((uint8_t *)(intf) + XSOCK_INTF_EXT_OFFSET))

/* The layout is shared memory between two implementations: pinned here. */
_Static_assert(__builtin_offsetof(struct xsock_data_intf, in_error) == 8, "ring ABI");
_Static_assert(__builtin_offsetof(struct xsock_data_intf, out_cons) == 64, "ring ABI");
_Static_assert(__builtin_offsetof(struct xsock_data_intf, out_error) == 72, "ring ABI");
_Static_assert(__builtin_offsetof(struct xsock_data_intf, ring_order) == 76, "ring ABI");
_Static_assert(__builtin_offsetof(struct xsock_data_intf, ref) == 80, "ring ABI");
_Static_assert(__builtin_offsetof(struct xsock_intf_ext, version) == 4, "ring ABI");
_Static_assert(__builtin_offsetof(struct xsock_intf_ext, a_waiting) == 64, "ring ABI");
_Static_assert(__builtin_offsetof(struct xsock_intf_ext, b_waiting) == 128, "ring ABI");
_Static_assert(__builtin_offsetof(struct xsock_intf_ext, a_alive) == 192, "ring ABI");
_Static_assert(__builtin_offsetof(struct xsock_intf_ext, b_alive) == 193, "ring ABI");
_Static_assert(__builtin_offsetof(struct xsock_intf_ext, a_closed) == 194, "ring ABI");
_Static_assert(__builtin_offsetof(struct xsock_intf_ext, b_closed) == 195, "ring ABI");
_Static_assert(__builtin_offsetof(struct xsock_intf_ext, b_attached) == 196, "ring ABI");
_Static_assert(__builtin_offsetof(struct xsock_intf_ext, a_parked) == 256, "ring ABI");
_Static_assert(__builtin_offsetof(struct xsock_intf_ext, b_use) == 320, "ring ABI");
_Static_assert(__builtin_offsetof(struct xsock_intf_ext, b_sport) == 324, "ring ABI");
_Static_assert(sizeof(struct xsock_data_intf) == 80, "ring ABI");
_Static_assert(sizeof(struct xsock_intf_ext) == 328, "ring ABI");
_Static_assert(__builtin_offsetof(struct xsock_data_intf, ref) +
	       (4u << XSOCK_RING_MAX_ORDER) <= XSOCK_INTF_EXT_OFFSET,
	       "the largest ref[] ends before the extension");
_Static_assert(XSOCK_INTF_EXT_OFFSET + sizeof(struct xsock_intf_ext) <= XSOCK_RING_PAGE_SIZE,
	       "the extension fits in the interface page");

#endif /* XSOCK_ABI_RING_H */
