/* SPDX-License-Identifier: MIT */
/*
 * connect(): where a connection is decided. A TCP connect() to an address
 * the registry places in another domain gets a ring (a parked one to the
 * same address first, else a new negotiation), on the application's own fd
 * number; everything else, and what the fallback policy sends back to TCP
 * (conn/route.h), goes to libc.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/env.h"
#include "common/log.h"
#include "conn/addr.h"
#include "conn/route.h"
#include "preload/ctx.h"
#include "preload/fdtable.h"
#include "preload/libc.h"
#include "preload/pool.h"
#include "preload/shim.h"
#include "preload/sock.h"

/* The source address the kernel would pick towards @dst (for
 * getsockname); the wildcard when there is no route. */
static void local_addr_towards(const struct sockaddr *dst, socklen_t dstlen, uint16_t port,
			       struct sockaddr_storage *out, socklen_t *outlen)
{
	int u = socket(dst->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(out, 0, sizeof(*out));
	out->ss_family = dst->sa_family;
	*outlen = dst->sa_family == AF_INET ? sizeof(struct sockaddr_in) :
					      sizeof(struct sockaddr_in6);
	if (u >= 0) {
		socklen_t l = sizeof(*out);

		if (shim_real.connect(u, dst, dstlen) == 0)
			shim_real.getsockname(u, (struct sockaddr *)out, &l);
		shim_real.close(u);
	}
	if (out->ss_family == AF_INET)
		((struct sockaddr_in *)out)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)out)->sin6_port = htons(port);
}

/* A real ephemeral port, so the port we announce is ours alone. */
static uint16_t ephemeral_port(int fd, int family)
{
	struct sockaddr_storage any;
	uint16_t sport = fd_bound_port(fd);

	if (sport)
		return sport;
	memset(&any, 0, sizeof(any));
	any.ss_family = family;
	shim_real.bind(fd, (struct sockaddr *)&any,
		       family == AF_INET ? sizeof(struct sockaddr_in) :
					   sizeof(struct sockaddr_in6));
	return fd_bound_port(fd);
}

/*
 * The registry, read at most every REGISTRY_MS per process: a connect()
 * would otherwise cost a store read. Changes reach running processes
 * that late, and so do the names and identities it resolves (a domain
 * restarted under its name, an id given to another domain): the
 * listener, which decides, checks identities afresh.
 */
#define REGISTRY_MS 250
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct xs_peer *reg_peers;
static unsigned int reg_n;
static int64_t reg_at = -1;

/*
 * Where the registry had to be read and @addr is in it, *@st gets the
 * store handle that read it (else NULL): a negotiation that follows may
 * use it, which spares a process's first connection a second handle. The
 * caller closes it.
 */
static int registry_lookup(struct xs_ctx *ctx, const struct sockaddr *addr, socklen_t len,
			   xsp_domid_t *dom, struct xsp_store **st)
{
	int64_t now = xs_now_ms();
	int rc = 0;

	*st = NULL;
	pthread_mutex_lock(&reg_lock);
	if (reg_at < 0 || now - reg_at >= REGISTRY_MS) {
		struct xs_peer *peers = NULL;
		unsigned int n = 0;

		rc = xs_ctx_peers(ctx, &peers, &n, st);
		if (rc == 0) {
			free(reg_peers);
			reg_peers = peers;
			reg_n = n;
			reg_at = now;
		}
	}
	if (rc == 0)
		rc = xs_registry_lookup(reg_peers, reg_n, addr, len, dom);
	else
		rc = -ENOENT;	/* no registry to read: not ours, as before */
	pthread_mutex_unlock(&reg_lock);
	if (rc < 0) {
		xsp_store_close(*st);
		*st = NULL;
	}
	return rc;
}

/* A lock another thread held at fork() stays held in the child: reset it. */
static void reg_child_after_fork(void)
{
	pthread_mutex_init(&reg_lock, NULL);
}

__attribute__((constructor)) static void connect_constructor(void)
{
	pthread_atfork(NULL, NULL, reg_child_after_fork);
}

/*
 * A process that may not use rings cannot read the registry either, so it
 * cannot tell a tagged address from another: with XSOCK_FALLBACK=0 every
 * connect() it would have decided fails with EACCES rather than go to TCP
 * where a ring may have been meant (docs/protocol.md, "Who may use rings").
 */
static struct xs_route no_ctx_route(void)
{
	int rc = shim_ctx_error();

	if ((rc == -EACCES || rc == -EPERM) && !xs_env_on("XSOCK_FALLBACK"))
		return xs_route_fail(-EACCES);
	return xs_route_libc();
}

/*
 * connect()'s decision: a ring if the registry places @addr in another
 * domain that serves us one (XS_ROUTE_RING, or XS_ROUTE_FAIL with
 * -EINPROGRESS for a non-blocking socket, as TCP), libc for everything
 * else and where xs_route_after_failure() allows TCP instead.
 */
static struct xs_route route_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct xs_ctx *ctx;
	struct xs_conn *c;
	struct shim_sock *s;
	struct xsp_store *st;
	xsp_domid_t dom;
	uint16_t sport;
	int fl, fdfl, afd, rc;

	if (!fd_is_inet_stream(fd, addr->sa_family) || xs_addr_is_loopback(addr, len))
		return xs_route_libc();
	ctx = shim_ctx();
	if (!ctx)
		return no_ctx_route();
	rc = registry_lookup(ctx, addr, len, &dom, &st);
	if (rc == -EHOSTUNREACH)
		return xs_route_peer_down(ctx, dom);
	if (rc < 0)
		return xs_route_libc();
	/* A parked ring to that address carries the connection at once. */
	c = pool_take(dom, addr, len);
	if (c) {
		/* (Not reusable after all: the negotiation below opens its own.) */
		xsp_store_close(st);
		st = NULL;
		sport = ephemeral_port(fd, addr->sa_family);
		rc = sport ? xs_conn_reopen(c, sport) : -EADDRNOTAVAIL;
		if (rc == 0) {
			xs_log(XS_LOG_DEBUG, "ring %s to dom%u: use %u", c->id, dom, c->use);
			goto connected;
		}
		xs_log(XS_LOG_INFO, "parked ring %s to dom%u not reusable: %s", c->id, dom,
		       strerror(-rc));
		xs_conn_close(c);
	}

	sport = ephemeral_port(fd, addr->sa_family);
	rc = xs_conn_connect_on(ctx, st, dom, addr, len, sport, &c);
	if (rc < 0)
		return xs_route_after_failure(ctx, dom, rc);
	local_addr_towards(addr, len, sport, &c->laddr, &c->laddr_len);
connected:

	fl = fcntl(fd, F_GETFL);
	fdfl = fcntl(fd, F_GETFD);
	rc = shim_ring_new(c, addr->sa_family, &s, &afd);
	if (rc < 0) {
		xs_conn_close(c);
		return xs_route_after_failure(ctx, dom, rc);
	}
	rc = sock_take_fd(fd, afd, fl >= 0 && (fl & O_NONBLOCK), fdfl >= 0 && (fdfl & FD_CLOEXEC));
	if (rc == 0)
		rc = sock_install(fd, s);
	/* The negotiation's store handle, unless the dead-domain watch took
	 * it when the ring was installed. */
	xsp_store_close(xs_conn_store_take(c));
	shim_put(s);
	/*
	 * The ring is set up before we return, in about a store round trip.
	 * A non-blocking socket still gets what TCP gives it: EINPROGRESS,
	 * then writability (at once) and SO_ERROR 0.
	 */
	if (rc < 0)
		return xs_route_fail(rc);
	if (fl >= 0 && (fl & O_NONBLOCK))
		return xs_route_fail(-EINPROGRESS);
	return xs_route_ring(fd);
}

XS_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct xs_route r;

	shim_resolve();
	if (shim_guard || !addr || len < sizeof(struct sockaddr_in) ||
	    (addr->sa_family != AF_INET && addr->sa_family != AF_INET6))
		return shim_real.connect(fd, addr, len);
	if (shim_maybe_ours(fd))
		return shim_fail(-EISCONN);
	SHIM_ENTER();
	r = route_connect(fd, addr, len);
	SHIM_LEAVE();
	switch (r.kind) {
	case XS_ROUTE_RING:
		return 0;
	case XS_ROUTE_LIBC:
		return shim_real.connect(fd, addr, len);
	case XS_ROUTE_FAIL:
	default:
		return shim_fail(r.err);
	}
}
