/* SPDX-License-Identifier: MIT */
/*
 * Routing: what one intercepted call does with a socket. Every decision
 * the shim takes (carry it on a ring, hand it to libc, fail it) is a
 * struct xs_route, never an overloaded int, and the one policy for
 * falling back to TCP (XSOCK_FALLBACK) lives here.
 */
#ifndef XSOCK_CONN_ROUTE_H
#define XSOCK_CONN_ROUTE_H

#include "platform/platform.h"

struct xs_ctx;

enum xs_route_kind {
	XS_ROUTE_RING,		/* handled on a ring; .fd says which fd, if any */
	XS_ROUTE_LIBC,		/* not ours (or fallen back): the real libc call */
	XS_ROUTE_FAIL,		/* fail the call with .err */
};

struct xs_route {
	enum xs_route_kind kind;
	int err;		/* XS_ROUTE_FAIL: a negative errno */
	int fd;			/* XS_ROUTE_RING: the fd made (accept), else -1 */
};

static inline struct xs_route xs_route_ring(int fd)
{
	return (struct xs_route){ .kind = XS_ROUTE_RING, .err = 0, .fd = fd };
}

static inline struct xs_route xs_route_libc(void)
{
	return (struct xs_route){ .kind = XS_ROUTE_LIBC, .err = 0, .fd = -1 };
}

static inline struct xs_route xs_route_fail(int err)
{
	return (struct xs_route){ .kind = XS_ROUTE_FAIL, .err = err, .fd = -1 };
}

/*
 * xs_conn_connect()'s answer when the peer refused a ring for lack of its
 * own resources (grants, channels, memory): no ring now, TCP may do.
 */
#define XS_EPEER_SHORT EREMOTEIO

/*
 * The fallback policy. A ring to domain @dom could not be had: @rc is the
 * negative errno of xs_conn_connect() or of making the socket for it.
 *   -ENOENT (nothing listens there for us), -XS_EPEER_SHORT: TCP when
 *	fallback is allowed, else -ECONNREFUSED;
 *   our own shortage (-ENOSPC, -EDQUOT, -ENOMEM, -EMFILE, -ENFILE,
 *	-ENOBUFS): TCP when allowed (logged as a warning), else the errno
 *	TCP's connect() gives when short of buffers (ENOSPC and EDQUOT
 *	become ENOBUFS; the others are kept);
 *   anything else: fail with @rc.
 * Fallback is allowed unless XSOCK_FALLBACK=0 (read by xs_ctx_open()).
 * Returns XS_ROUTE_LIBC or XS_ROUTE_FAIL. Never fails.
 */
struct xs_route xs_route_after_failure(const struct xs_ctx *ctx, xsp_domid_t dom, int rc);

/*
 * The registry's entry for the address is down (its name resolves to no
 * domain, or the domain holding its id is not the one bound: registry.h,
 * enum xs_peer_state): no ring to domain @dom, which is the entry's last
 * domid. TCP when fallback is allowed, else -EHOSTUNREACH, as TCP
 * says of a host that is not there. Never fails.
 */
struct xs_route xs_route_peer_down(const struct xs_ctx *ctx, xsp_domid_t dom);

#endif /* XSOCK_CONN_ROUTE_H */
