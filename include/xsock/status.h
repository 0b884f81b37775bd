/* SPDX-License-Identifier: MIT */
/*
 * xsock ABI: the connection status table, what `xsockctl status` reads.
 *
 * This header is part of the xsock ABI (include/xsock/, in the manner of
 * Xen's include/public/io): it is self-contained (<stdint.h> only) and is
 * all another implementation needs to publish its connections to
 * `xsockctl status`, or another tool to read xsock's. It is stable:
 * changing the layout or a rule stated here is a format change, which
 * needs a new XSOCK_STATUS_VERSION.
 *
 * Every process with ring connections keeps one table, a file named by
 * its pid in its domain's status directory (<dir>/<domid>/<pid>; <dir>
 * depends on the platform backend, see src/conn/status.c), which it
 * maps shared and updates with plain stores as bytes move. The file holds
 * a struct xsock_status_hdr followed by XSOCK_STATUS_SLOTS records
 * (XSOCK_STATUS_TABLE_SIZE bytes in all), little-endian.
 *
 * Writer: create the file at its full size (zeros), fill the header's
 * other fields, then store magic last (release). A record is filled while
 * in_use is 0, then in_use is set to 1 (release); tx, rx and err change
 * while it is in use (relaxed stores); in_use back to 0 frees the slot.
 * Reader: a file shorter than XSOCK_STATUS_TABLE_SIZE, or whose magic
 * (acquire), version, slots or rec_size differ from this header's, is
 * not a table it knows: it skips it. It reads a record only while in_use
 * is 1 (acquire), and a table only while its pid lives.
 */
#ifndef XSOCK_ABI_STATUS_H
#define XSOCK_ABI_STATUS_H

#include <stdint.h>

#define XSOCK_STATUS_MAGIC	0x31545358u	/* "XST1" */
#define XSOCK_STATUS_VERSION	1u
#define XSOCK_STATUS_SLOTS	1024u		/* records per table */
#define XSOCK_STATUS_PADDR_LEN	48u		/* paddr[]: address text and its NUL */

struct xsock_status_hdr {
	uint32_t magic;			/* XSOCK_STATUS_MAGIC, stored last */
	uint32_t version;		/* XSOCK_STATUS_VERSION */
	uint32_t slots;			/* XSOCK_STATUS_SLOTS */
	uint32_t rec_size;		/* sizeof(struct xsock_status_rec) */
};

/* struct xsock_status_rec.side */
#define XSOCK_STATUS_SIDE_A	'A'	/* accepted: the server, side A of the ring */
#define XSOCK_STATUS_SIDE_B	'B'	/* connected: the client, side B */

struct xsock_status_rec {
	uint32_t in_use;		/* 1 while the connection lives */
	uint16_t peer_dom;		/* the peer's domain id */
	uint16_t lport, pport;		/* local, peer port (as the application sees them) */
	uint8_t side;			/* XSOCK_STATUS_SIDE_A or XSOCK_STATUS_SIDE_B */
	uint8_t order;			/* ring order: 2^order data pages */
	int32_t err;			/* 0, or why the connection broke (Linux errno) */
	uint64_t tx, rx;		/* bytes each way */
	char paddr[XSOCK_STATUS_PADDR_LEN];	/* the peer's address as the
						 * application sees it, NUL-terminated */
};

#define XSOCK_STATUS_TABLE_SIZE \
	(sizeof(struct xsock_status_hdr) + XSOCK_STATUS_SLOTS * sizeof(struct xsock_status_rec))

/* The table is shared memory between writer and reader: pinned here. */
#define XSOCK_STATUS_AT(field, offset) \
	(__builtin_offsetof(struct xsock_status_rec, field) == (offset))
_Static_assert(XSOCK_STATUS_AT(in_use, 0) && XSOCK_STATUS_AT(peer_dom, 4) &&
	       XSOCK_STATUS_AT(lport, 6) && XSOCK_STATUS_AT(pport, 8) &&
	       XSOCK_STATUS_AT(side, 10) && XSOCK_STATUS_AT(order, 11) &&
	       XSOCK_STATUS_AT(err, 12) && XSOCK_STATUS_AT(tx, 16) &&
	       XSOCK_STATUS_AT(rx, 24) && XSOCK_STATUS_AT(paddr, 32),
	       "status ABI: record layout");
_Static_assert(sizeof(struct xsock_status_hdr) == 16 && sizeof(struct xsock_status_rec) == 80,
	       "status ABI: header and record sizes");

#endif /* XSOCK_ABI_STATUS_H */
