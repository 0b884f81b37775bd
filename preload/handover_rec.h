/* SPDX-License-Identifier: MIT */
/*
 * The exec hand-over record: handover_rec.c. What the shim of a process
 * about to exec writes for the shim of the new image (docs/protocol.md,
 * "What crosses exec"): for each ring connection the new program inherits,
 * the fd numbers it is on, the fds its kernel objects are (end B, event
 * channel, share locks, the state arena), and what else rebuilds it.
 *
 * Layout (native byte order: writer and reader are one host): a struct
 * xs_ho_header, then @nrings entries, each a struct xs_ho_ring followed by
 * its @ndata data-page grant refs (uint32_t; not necessarily consecutive:
 * Xen's gntalloc hands out what it has). Kept in a memfd whose number
 * the new image finds in XSOCK_EXEC_FD.
 *
 * The reader trusts nothing: xs_ho_check() validates the whole record
 * (sizes, counts, ranges, fd numbers that collide) before anything is
 * used, and says what is wrong in @err. A record that fails is ignored as
 * a whole (the fds stay as the new program inherited them).
 *
 * Error contract: 0 or -errno (-EINVAL malformed, -EPROTO wrong magic or
 * version); nothing printed.
 */
#ifndef XSOCK_PRELOAD_HANDOVER_REC_H
#define XSOCK_PRELOAD_HANDOVER_REC_H

#include <stddef.h>
#include <stdint.h>

#define XS_HO_MAGIC 0x484f5358u		/* "XSOH" */
#define XS_HO_VERSION 1u
#define XS_HO_MAX_RINGS 4096u
#define XS_HO_MAX_FDS 16u		/* application fds of one ring */
#define XS_HO_MAX_OPTS 16u
#define XS_HO_MAX_ORDER 9u		/* XSOCK_RING_MAX_ORDER */
#define XS_HO_ADDR_MAX 128u		/* sizeof(struct sockaddr_storage) */
#define XS_HO_FD_MAX (1 << 20)		/* fd numbers are below this */
#define XS_HO_SLOT 256u			/* arena offsets are multiples of this */
#define XS_HO_ENV "XSOCK_EXEC_FD"

/* xs_ho_ring.flags */
#define XS_HO_TX_SHUT 0x1u
#define XS_HO_CLOSED 0x2u
#define XS_HO_PEER_GONE 0x4u
#define XS_HO_FLAGS 0x7u

struct xs_ho_header {
	uint32_t magic;
	uint32_t version;
	uint32_t nrings;
	uint32_t size;			/* of the whole record, this header included */
};

struct xs_ho_ring {
	uint32_t len;			/* of this entry, its refs included */
	uint32_t side;			/* enum xsr_side: 0 A (shares), 1 B (maps) */
	uint32_t peer;			/* the peer's domid */
	uint32_t order;			/* 2^order data pages */
	int32_t family;			/* AF_INET or AF_INET6 */
	int32_t server;			/* pid serving it when handed over */
	char id[24];			/* negotiation id, NUL-terminated */
	uint32_t nfds;			/* application fds naming it (as the old
					 * image had them; the new image finds end A
					 * by a_dev/a_ino wherever it is) */
	int32_t fds[XS_HO_MAX_FDS];
	int32_t bfd;			/* the shim's end of the socketpair */
	int32_t arena_fd;		/* the state arena (memfd) */
	uint64_t rs_off, own_off;	/* struct shim_rstate, struct xsr_own in it */
	uint32_t ev_port, ev_flags;	/* struct xsp_evtchn_exec */
	int32_t ev_fd[4];		/* [0] always; the others -1 when the backend
					 * needs fewer (xen: one, local: two to four) */
	int32_t sh_fd[2];		/* side A: what keeps the interface and data
					 * shares (local: their locks, xen: their
					 * gntalloc files; grants at index 0) */
	uint32_t intf_ref;		/* the interface page's grant */
	int32_t broken;			/* 0 or the ring's sticky -errno */
	uint32_t flags;			/* XS_HO_* */
	uint32_t lport, pport;
	uint32_t laddr_len, paddr_len;
	uint8_t laddr[XS_HO_ADDR_MAX], paddr[XS_HO_ADDR_MAX];
	uint32_t nopts;
	int32_t opts[XS_HO_MAX_OPTS][3];	/* level, name, value */
	uint64_t bytes_tx, bytes_rx;
	uint64_t a_dev, a_ino;		/* end A: found by these in the new image */
	uint32_t ndata;			/* == 1 << order; the refs follow */
	uint32_t pad;
};

/*
 * Validate the record in @buf (@len bytes). 0, or -EPROTO / -EINVAL with
 * a one-line reason in @err (@errlen bytes, NUL-terminated).
 */
int xs_ho_check(const void *buf, size_t len, char *err, size_t errlen);
/*
 * The entries of a record xs_ho_check() accepted: the first (@prev NULL)
 * or the one after @prev; NULL after the last. @refs: its data refs.
 */
const struct xs_ho_ring *xs_ho_next(const void *buf, const struct xs_ho_ring *prev,
				    const uint32_t **refs);

#endif /* XSOCK_PRELOAD_HANDOVER_REC_H */
