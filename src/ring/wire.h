/* SPDX-License-Identifier: MIT */
/*
 * The wire format of one connection: the PV Calls data ring
 * (struct pvcalls_data_intf, PV Calls design v7) plus an xsock extension
 * area in the otherwise unused tail of the interface page.
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
 * half is `in`, the second half is `out`.
 */
#ifndef XSOCK_RING_WIRE_H
#define XSOCK_RING_WIRE_H

#include <stddef.h>
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
#define XSOCK_RING_MAX_ORDER 9u		/* 512 refs: the spec's limit */

struct xsock_intf_ext {
	uint32_t magic;			/* XSOCK_INTF_MAGIC, written by A */
	uint32_t version;		/* 1 */
	uint8_t pad0[56];
	/* Non-zero while side A is (about to be) asleep waiting for the ring:
	 * B must notify after it moves an index. Written by A only. */
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

_Static_assert(offsetof(struct xsock_data_intf, out_cons) == 64, "wire layout");
_Static_assert(offsetof(struct xsock_data_intf, ring_order) == 76, "wire layout");
_Static_assert(offsetof(struct xsock_data_intf, ref) == 80, "wire layout");
_Static_assert(offsetof(struct xsock_intf_ext, a_waiting) == 64, "wire layout");
_Static_assert(offsetof(struct xsock_intf_ext, b_waiting) == 128, "wire layout");
_Static_assert(offsetof(struct xsock_intf_ext, a_alive) == 192, "wire layout");
_Static_assert(offsetof(struct xsock_intf_ext, b_attached) == 196, "wire layout");
_Static_assert(offsetof(struct xsock_intf_ext, a_parked) == 256, "wire layout");
_Static_assert(offsetof(struct xsock_intf_ext, b_use) == 320, "wire layout");
_Static_assert(offsetof(struct xsock_intf_ext, b_sport) == 324, "wire layout");
_Static_assert(XSOCK_INTF_EXT_OFFSET + sizeof(struct xsock_intf_ext) <= XSOCK_RING_PAGE_SIZE,
	       "extension fits in the interface page");

#define XSOCK_INTF_EXT(intf) \
	((struct xsock_intf_ext *)((uint8_t *)(intf) + XSOCK_INTF_EXT_OFFSET))
#define XSOCK_A_ALIVE_OFFSET (XSOCK_INTF_EXT_OFFSET + offsetof(struct xsock_intf_ext, a_alive))
#define XSOCK_B_ALIVE_OFFSET (XSOCK_INTF_EXT_OFFSET + offsetof(struct xsock_intf_ext, b_alive))

#endif /* XSOCK_RING_WIRE_H */
