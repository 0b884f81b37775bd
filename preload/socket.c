/* SPDX-License-Identifier: MIT */
/*
 * Intercepted socket lifecycle calls: connect, listen, accept, accept4,
 * close, shutdown, and the dup family.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/compiler.h"
#include "common/log.h"
#include "conn/addr.h"
#include "conn/route.h"
#include "preload/shim.h"

static bool is_inet_stream(int fd, int family)
{
	int type = 0;
	socklen_t len = sizeof(type);

	if (family != AF_INET && family != AF_INET6)
		return false;
	if (shim_real.getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return false;
	return type == SOCK_STREAM;
}

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

static uint16_t bound_port(int fd, int family)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (shim_real.getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	(void)family;
	return 0;
}

/* Put ring socket @s (with fd A @afd) on the application's fd number @fd,
 * keeping the file status and descriptor flags the application chose. */
static int sock_take_fd(int fd, int afd, bool nonblock, bool cloexec)
{
	if (dup3(afd, fd, cloexec ? O_CLOEXEC : 0) < 0) {
		int rc = -errno;

		shim_real.close(afd);
		return rc;
	}
	shim_real.close(afd);
	if (nonblock)
		fcntl(fd, F_SETFL, O_RDWR | O_NONBLOCK);
	return 0;
}

/* A real ephemeral port, so the port we announce is ours alone. */
static uint16_t ephemeral_port(int fd, int family)
{
	struct sockaddr_storage any;
	uint16_t sport = bound_port(fd, family);

	if (sport)
		return sport;
	memset(&any, 0, sizeof(any));
	any.ss_family = family;
	shim_real.bind(fd, (struct sockaddr *)&any,
		       family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	return bound_port(fd, family);
}

/*
 * The registry, read at most every REGISTRY_MS per process: a connect()
 * would otherwise cost a store read. Changes reach running processes
 * that late.
 */
#define REGISTRY_MS 250
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct xs_peer *reg_peers;
static unsigned int reg_n;
static int64_t reg_at = -1;

static int registry_lookup(struct xs_ctx *ctx, const struct sockaddr *addr, socklen_t len,
			   xsp_domid_t *dom)
{
	int64_t now = xs_now_ms();
	int rc = 0;

	pthread_mutex_lock(&reg_lock);
	if (reg_at < 0 || now - reg_at >= REGISTRY_MS) {
		struct xs_peer *peers = NULL;
		unsigned int n = 0;

		rc = xs_ctx_peers(ctx, &peers, &n);
		if (rc == 0) {
			free(reg_peers);
			reg_peers = peers;
			reg_n = n;
			reg_at = now;
		}
	}
	if (rc == 0)
		rc = xs_registry_lookup(reg_peers, reg_n, addr, len, dom);
	pthread_mutex_unlock(&reg_lock);
	return rc;
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
	xsp_domid_t dom;
	uint16_t sport;
	int fl, fdfl, afd, rc;

	if (!is_inet_stream(fd, addr->sa_family) || xs_addr_is_loopback(addr, len))
		return xs_route_libc();
	ctx = shim_ctx();
	if (!ctx)
		return xs_route_libc();
	if (registry_lookup(ctx, addr, len, &dom) < 0)
		return xs_route_libc();
	/* A parked ring to that address carries the connection at once. */
	c = evloop_pool_take(dom, addr, len);
	if (c) {
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
	rc = xs_conn_connect(ctx, dom, addr, len, sport, &c);
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
		rc = shim_install(fd, s);
	if (rc == 0) {
		s->nfds = 1;
		rc = evloop_add(s);
		if (rc < 0)
			shim_put(shim_remove(fd));
	}
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

static struct xs_acceptor *listener_acceptor(struct shim_sock *l);

XS_EXPORT int listen(int fd, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct shim_sock *s;
	struct xs_ctx *ctx;
	uint16_t port;
	int rc, saved;

	shim_resolve();
	rc = shim_real.listen(fd, backlog);
	if (rc < 0 || shim_guard || shim_maybe_ours(fd))
		return rc;
	saved = errno;
	SHIM_ENTER();
	if (shim_real.getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    !is_inet_stream(fd, ss.ss_family) ||
	    xs_addr_is_loopback((struct sockaddr *)&ss, len))
		goto out;	/* loopback listeners are never exposed */
	ctx = shim_ctx();
	if (!ctx)
		goto out;
	port = bound_port(fd, ss.ss_family);
	s = shim_sock_alloc();
	if (!s)
		goto out;
	s->kind = SHIM_LISTENER;
	s->owner = getpid();
	rc = xs_listener_open(ctx, (struct sockaddr *)&ss, len, port, &s->lst);
	if (rc < 0) {
		xs_log(XS_LOG_WARN, "port %u: ring listener not advertised: %s", port,
		       strerror(-rc));
		shim_sock_free(s);
		rc = 0;
		goto out;
	}
	rc = shim_install(fd, s);
	if (rc == 0) {
		s->nfds = 1;
		rc = evloop_add(s);
		if (rc < 0)
			shim_put(shim_remove(fd));
		else
			listener_acceptor(s);	/* now, not on the first doorbell */
	}
	shim_put(s);
	rc = 0;	/* TCP keeps working whatever happened to the ring side */
out:
	SHIM_LEAVE();
	errno = saved;
	return rc;
}

static void copy_addr(struct sockaddr *addr, socklen_t *addrlen, const struct sockaddr_storage *ss,
		      socklen_t sslen)
{
	if (!addr || !addrlen)
		return;
	memcpy(addr, ss, XS_MIN(*addrlen, sslen));
	*addrlen = sslen;
}

static pthread_mutex_t acc_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * This process's accepting half of listener @l, opened on first use: a
 * process that inherited the listener by fork() must not use its parent's
 * store handle or context. NULL if it cannot be opened (then doorbells
 * are not recognised here and xsock is off for this listener's accepts).
 */
static struct xs_acceptor *listener_acceptor(struct shim_sock *l)
{
	struct xs_acceptor *a = NULL;
	struct xs_ctx *ctx;
	pid_t me = getpid();

	pthread_mutex_lock(&acc_lock);
	if (l->acc && l->acc_pid == me) {
		a = l->acc;
		goto unlock;
	}
	/* An inherited one is the parent's: leave it alone. */
	ctx = shim_ctx();
	if (ctx && xs_acceptor_open(ctx, (struct sockaddr *)&l->lst->addr, l->lst->addrlen,
				    l->lst->port, &a) == 0) {
		l->acc = a;
		l->acc_pid = me;
	}
unlock:
	pthread_mutex_unlock(&acc_lock);
	return a;
}

/*
 * Hand a ring to the application: on the accepted fd number @nfd (the
 * doorbell's TCP end, which this closes), watched by our event thread.
 */
static int accept_ring(struct xs_conn *c, int family, int nfd, int flags)
{
	struct shim_sock *ring;
	int afd, rc;

	rc = shim_ring_new(c, family, &ring, &afd);
	if (rc < 0) {
		xs_conn_close(c);
		return rc;
	}
	if (nfd < 0) {
		/* No accepted TCP end to replace: end A is the new fd. */
		nfd = afd;
		rc = 0;
		if (!(flags & SOCK_CLOEXEC))
			fcntl(nfd, F_SETFD, 0);
		if (flags & SOCK_NONBLOCK)
			fcntl(nfd, F_SETFL, O_RDWR | O_NONBLOCK);
	} else {
		rc = sock_take_fd(nfd, afd, flags & SOCK_NONBLOCK, flags & SOCK_CLOEXEC);
	}
	if (rc == 0)
		rc = shim_install(nfd, ring);
	if (rc == 0) {
		ring->nfds = 1;
		rc = evloop_add(ring);
		if (rc < 0)
			shim_put(shim_remove(nfd));
	}
	shim_put(ring);
	return rc < 0 ? rc : nfd;
}

/*
 * After a signal interrupted our wait inside accept(): would the kernel
 * have restarted accept() itself? Yes unless some handler lacks
 * SA_RESTART (we cannot tell which signal came; rare enough to look).
 */
static bool signals_restart(void)
{
	int sig;

	for (sig = 1; sig < NSIG; sig++) {
		struct sigaction sa;

		if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &sa) < 0)
			continue;
		if (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN &&
		    !(sa.sa_flags & SA_RESTART))
			return false;
	}
	return true;
}

/* Take up the next use of parked ring @c: 0, or -ECONNABORTED (closed). */
static int take_up(struct xs_conn *c)
{
	int rc = xs_conn_reaccept(c);

	if (rc == 1)
		return 0;
	xs_log(XS_LOG_INFO, "parked ring %s: next use lost: %s", c->id,
	       rc ? strerror(-rc) : "not opened");
	xs_conn_close(c);
	return -ECONNABORTED;
}

#define DIRECT_MAX 32

/*
 * A blocking accept() on a listener of ours whose port has parked rings:
 * wait on the listening socket and on those rings' channels at once, and
 * take a ring whose client opened its next use directly (no doorbell: a
 * TCP connection set up, accepted and closed per connection).
 * XS_ROUTE_RING: taken, on the new fd .fd; XS_ROUTE_LIBC: a TCP connection
 * is waiting (the caller accepts it as usual), or this path does not
 * apply; XS_ROUTE_FAIL: .err (-EINTR).
 */
static struct xs_route accept_direct(struct shim_sock *l, int fd, struct sockaddr *addr,
				     socklen_t *addrlen, int flags)
{
	struct pollfd fds[DIRECT_MAX + 1];
	struct evloop_watch w[DIRECT_MAX];
	struct timeval tv;
	socklen_t tvlen = sizeof(tv);
	int fl, n, rc;

	bool checked = false;

	if (l->owner != getpid() || !l->lst)
		return xs_route_libc();
	for (;;) {
		struct xs_conn *c;

		n = evloop_direct_begin(l, fds + 1, w, DIRECT_MAX);
		if (n == 0)
			return xs_route_libc();
		/*
		 * Only a blocking accept() without SO_RCVTIMEO (which bounds
		 * it: leave those to the kernel). Looked at once, and only
		 * when there are parked rings: no system calls otherwise.
		 */
		if (!checked) {
			fl = fcntl(fd, F_GETFL);
			if (fl < 0 || (fl & O_NONBLOCK) ||
			    (shim_real.getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &tvlen) == 0 &&
			     (tv.tv_sec || tv.tv_usec))) {
				evloop_direct_end(l, w, n);
				return xs_route_libc();
			}
			checked = true;
		}
		/* A use opened before we started watching is taken at once. */
		c = evloop_direct_take(l);
		rc = 0;
		if (!c) {
			fds[0].fd = fd;
			fds[0].events = POLLIN;
			fds[0].revents = 0;
			rc = poll(fds, (nfds_t)n + 1, -1) < 0 ? -errno : 0;
			if (rc == 0)
				c = evloop_direct_take(l);
		}
		evloop_direct_end(l, w, n);
		if (c) {
			if (take_up(c) < 0)
				continue;
			rc = accept_ring(c, l->lst->addr.ss_family, -1, flags);
			if (rc < 0)
				return xs_route_fail(rc);
			copy_addr(addr, addrlen, &c->paddr, c->paddr_len);
			return xs_route_ring(rc);
		}
		if (rc == -EINTR && signals_restart())
			continue;
		if (rc < 0)
			return xs_route_fail(rc);
		if (fds[0].revents)
			return xs_route_libc();
	}
}

/*
 * Connection @nfd, just accepted by libc on listener @l from @ss: a
 * doorbell of ours or an ordinary TCP client? XS_ROUTE_RING: the doorbell's
 * ring, now on @nfd (its peer's address in @addr); XS_ROUTE_LIBC: @nfd is
 * the application's as libc accepted it (an ordinary TCP client, or we
 * cannot tell); XS_ROUTE_FAIL: no connection on @nfd, .err -ECONNABORTED
 * for a doorbell that yields none (its client is gone or was refused).
 */
static struct xs_route route_accepted(struct shim_sock *l, int nfd,
				      const struct sockaddr_storage *ss, socklen_t sslen,
				      struct sockaddr *addr, socklen_t *addrlen, int flags)
{
	struct xs_acceptor *a;
	struct xs_conn *c;
	uint16_t bell;
	int rc;

	bell = evloop_bell_port(l, (const struct sockaddr *)ss, sslen);
	c = bell ? evloop_reuse_claim(l, bell) : NULL;
	if (c) {
		/* The next use of a parked ring of ours. */
		rc = take_up(c);
	} else {
		a = bell ? listener_acceptor(l) : NULL;
		if (a)
			a->offer_reuse = l->owner == getpid() && l->lst && !evloop_forked();
		rc = a ? xs_acceptor_claim(a, bell, &c) : -ENOENT;
	}
	if (rc == -ECONNABORTED)
		return xs_route_fail(rc);
	if (rc)
		return xs_route_libc();	/* an ordinary TCP client (or we cannot tell) */
	rc = accept_ring(c, l->lst->addr.ss_family, nfd, flags);
	if (rc < 0)
		return xs_route_fail(rc);
	copy_addr(addr, addrlen, &c->paddr, c->paddr_len);
	return xs_route_ring(nfd);
}

static int do_accept(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags, bool four)
{
	struct shim_sock *l;
	int nfd;

	shim_resolve();
	if (shim_guard || !shim_maybe_ours(fd))
		return four ? shim_real.accept4(fd, addr, addrlen, flags) :
			      shim_real.accept(fd, addr, addrlen);
	l = shim_get(fd);
	if (!l || l->kind != SHIM_LISTENER) {
		shim_put(l);
		return shim_fail(-EINVAL);	/* accept on a connected socket */
	}
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sslen = sizeof(ss);
		struct xs_route r;

		SHIM_ENTER();
		r = accept_direct(l, fd, addr, addrlen, flags);
		SHIM_LEAVE();
		if (r.kind == XS_ROUTE_RING) {
			nfd = r.fd;
			break;
		}
		if (r.kind == XS_ROUTE_FAIL) {
			nfd = shim_fail(r.err);
			break;
		}
		nfd = shim_real.accept4(fd, (struct sockaddr *)&ss, &sslen, flags);
		if (nfd < 0)
			break;
		SHIM_ENTER();
		r = route_accepted(l, nfd, &ss, sslen, addr, addrlen, flags);
		if (r.kind == XS_ROUTE_LIBC)
			copy_addr(addr, addrlen, &ss, sslen);
		SHIM_LEAVE();
		if (r.kind != XS_ROUTE_FAIL)
			break;
		/*
		 * A doorbell that yields no connection (its client is gone or
		 * was refused), or no ring for it here: drop it and take the
		 * next connection, which blocks or fails with EAGAIN as the
		 * listener's mode says.
		 */
		shim_real.close(nfd);
		if (r.err != -ECONNABORTED) {
			nfd = shim_fail(r.err);
			break;
		}
	}
	shim_put(l);
	return nfd;
}

/* A lock another thread held at fork() stays held in the child: reset it. */
static void acc_child_after_fork(void)
{
	pthread_mutex_init(&acc_lock, NULL);
	pthread_mutex_init(&reg_lock, NULL);
}

__attribute__((constructor)) static void socket_constructor(void)
{
	pthread_atfork(NULL, NULL, acc_child_after_fork);
}

XS_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	return do_accept(fd, addr, addrlen, 0, false);
}

XS_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags)
{
	return do_accept(fd, addr, addrlen, flags, true);
}

/*
 * Drop @fd's table entry. A listener ends with its last fd in this
 * process. A ring ends when the last process holding the application's
 * end closes it: the event thread sees its own end hang up (so a child
 * that got the connection by fork() keeps it when the parent closes its
 * copy, as with TCP).
 */
static void release_fd(int fd)
{
	struct shim_sock *s = shim_remove(fd);

	if (!s)
		return;
	SHIM_ENTER();
	wait_fd_closed(fd);
	if (s->kind == SHIM_LISTENER &&
	    __atomic_sub_fetch(&s->nfds, 1, __ATOMIC_ACQ_REL) == 0 && s->owner == getpid())
		evloop_del(s);
	shim_put(s);
	SHIM_LEAVE();
}

/*
 * Close ring fd @fd. When that was the last holder of the connection in
 * any process (the shim's end of the socketpair hangs up at once), end
 * the connection here rather than in the event thread: no wake-up of our
 * own event thread per connection.
 */
static int close_ring(int fd)
{
	struct shim_sock *s = shim_get(fd);
	bool mine;
	int rc, err;

	mine = s && s->kind == SHIM_RING && s->owner == getpid() && s->conn &&
	       evloop_close_begin(s);
	release_fd(fd);
	rc = shim_real.close(fd);
	err = errno;
	if (mine) {
		struct pollfd pfd = { .fd = s->bfd, .events = POLLRDHUP };

		SHIM_ENTER();
		evloop_close_end(s, poll(&pfd, 1, 0) == 1 &&
				    (pfd.revents & (POLLHUP | POLLRDHUP)));
		SHIM_LEAVE();
	}
	shim_put(s);
	errno = err;
	return rc;
}

XS_EXPORT int close(int fd)
{
	shim_resolve();
	if (!shim_guard && shim_maybe_ours(fd))
		return close_ring(fd);
	if (!shim_guard)
		wait_fd_closed(fd);	/* an epoll set we track? */
	return shim_real.close(fd);
}

XS_EXPORT int shutdown(int fd, int how)
{
	struct shim_sock *s;
	int rc = 0;

	shim_resolve();
	if (shim_guard || !shim_maybe_ours(fd))
		return shim_real.shutdown(fd, how);
	s = shim_get(fd);
	if (!s)
		return shim_real.shutdown(fd, how);
	if (s->kind != SHIM_RING) {
		shim_put(s);
		return shim_real.shutdown(fd, how);
	}
	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) {
		shim_put(s);
		return shim_fail(-EINVAL);
	}
	SHIM_ENTER();
	if (how == SHUT_RD || how == SHUT_RDWR)
		sock_set_rd_shut(s);
	if (how == SHUT_WR || how == SHUT_RDWR) {
		pthread_mutex_lock(&s->wlock);
		rc = xsr_shutdown_tx(&s->conn->ring);
		pthread_mutex_unlock(&s->wlock);
	}
	sock_sync(s, false, true);
	SHIM_LEAVE();
	shim_put(s);
	/* Shutting down a ring that is already gone is not an error. */
	return rc < 0 && rc != -EPIPE && rc != -ECONNRESET ? shim_fail(rc) : 0;
}

/* ---- the dup family: a copy of a ring fd is the same connection ---------------- */

static int dup_track(int oldfd, int newfd)
{
	struct shim_sock *s;

	if (newfd < 0)
		return newfd;
	s = shim_get(oldfd);
	if (!s)
		return newfd;
	__atomic_add_fetch(&s->nfds, 1, __ATOMIC_ACQ_REL);
	if (shim_install(newfd, s) < 0)
		__atomic_sub_fetch(&s->nfds, 1, __ATOMIC_ACQ_REL);
	shim_put(s);
	return newfd;
}

XS_EXPORT int dup(int oldfd)
{
	int rc;

	shim_resolve();
	rc = shim_real.dup(oldfd);

	if (shim_guard || !shim_maybe_ours(oldfd))
		return rc;
	return dup_track(oldfd, rc);
}

static int dup23(int oldfd, int newfd, int flags, bool three)
{
	int rc;

	shim_resolve();
	if (shim_guard)
		return three ? shim_real.dup3(oldfd, newfd, flags) : shim_real.dup2(oldfd, newfd);
	if (oldfd == newfd)
		return three ? shim_real.dup3(oldfd, newfd, flags) : shim_real.dup2(oldfd, newfd);
	/* dup2 closes newfd first: so do we. */
	if (shim_maybe_ours(newfd) && fcntl(oldfd, F_GETFD) >= 0)
		release_fd(newfd);
	rc = three ? shim_real.dup3(oldfd, newfd, flags) : shim_real.dup2(oldfd, newfd);
	if (rc < 0 || !shim_maybe_ours(oldfd))
		return rc;
	return dup_track(oldfd, rc);
}

XS_EXPORT int dup2(int oldfd, int newfd)
{
	return dup23(oldfd, newfd, 0, false);
}

XS_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	return dup23(oldfd, newfd, flags, true);
}

static int do_fcntl(int (*real)(int, int, ...), int fd, int cmd, void *arg)
{
	int rc = real(fd, cmd, arg);

	if (shim_guard || (cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC) || !shim_maybe_ours(fd))
		return rc;
	return dup_track(fd, rc);
}

XS_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	shim_resolve();
	return do_fcntl(shim_real.fcntl, fd, cmd, arg);
}

XS_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	shim_resolve();
	return do_fcntl(shim_real.fcntl64, fd, cmd, arg);
}

/*
 * At exit, end every ring connection and listener in an orderly way: the
 * peer reads end-of-stream, grants and channels are released, and no
 * stale listener advertisement is left behind. The event thread dies with
 * the process, so this is done here, for the connections no other process
 * still holds. (A process killed by a signal cannot do this; the unmap
 * notification tells the peer then.)
 */
__attribute__((destructor)) static void shim_release_all(void)
{
	int fd, hi = __atomic_load_n(&shim_tab_hi, __ATOMIC_ACQUIRE);

	if (!shim_tab || shim_guard)
		return;
	SHIM_ENTER();
	for (fd = 0; fd < hi; fd++) {
		struct shim_sock *s = shim_get(fd);
		struct pollfd pfd;

		if (!s)
			continue;
		release_fd(fd);
		if (s->kind == SHIM_RING && s->owner == getpid()) {
			shim_real.close(fd);
			pfd.fd = s->bfd;
			pfd.events = POLLRDHUP;
			pfd.revents = 0;
			if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLRDHUP)))
				evloop_del(s);
		}
		shim_put(s);
	}
	evloop_flush();
	SHIM_LEAVE();
}
