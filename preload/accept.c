/* SPDX-License-Identifier: MIT */
/*
 * listen() and accept(): a TCP listener of ours also serves ring clients.
 * listen() advertises it in the store (the event thread then rings a
 * doorbell per client request, doorbell.c); accept() takes a doorbell's
 * connection, claims its request and returns the ring on the accepted fd
 * number, takes up the next use of a ring parked for reuse (pool.c), or
 * returns an ordinary TCP client as libc accepted it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/compiler.h"
#include "common/log.h"
#include "conn/addr.h"
#include "conn/route.h"
#include "preload/ctx.h"
#include "preload/doorbell.h"
#include "preload/evloop.h"
#include "preload/fdtable.h"
#include "preload/libc.h"
#include "preload/pool.h"
#include "preload/shim.h"
#include "preload/sock.h"

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
	    !fd_is_inet_stream(fd, ss.ss_family) ||
	    xs_addr_is_loopback((struct sockaddr *)&ss, len))
		goto out;	/* loopback listeners are never exposed */
	ctx = shim_ctx();
	if (!ctx)
		goto out;
	port = fd_bound_port(fd);
	s = shim_sock_alloc();
	if (!s)
		goto out;
	s->kind = SHIM_LISTENER;
	s->owner = getpid();
	/* Who serves it, shared with the children it may be inherited by. */
	s->lsh = mmap(NULL, sizeof(*s->lsh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		      -1, 0);
	if (s->lsh == MAP_FAILED) {
		s->lsh = NULL;
		shim_sock_free(s);
		goto out;
	}
	rc = xs_listener_open(ctx, (struct sockaddr *)&ss, len, port, &s->lst);
	if (rc < 0) {
		xs_log(XS_LOG_WARN, "port %u: ring listener not advertised: %s", port,
		       strerror(-rc));
		munmap(s->lsh, sizeof(*s->lsh));
		shim_sock_free(s);
		rc = 0;
		goto out;
	}
	rc = sock_install(fd, s);
	if (rc == 0)
		listener_acceptor(s);	/* now, not on the first doorbell */
	shim_put(s);
	rc = 0;	/* TCP keeps working whatever happened to the ring side */
out:
	SHIM_LEAVE();
	errno = saved;
	return rc;
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
		rc = sock_install(nfd, ring);
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
	struct pool_watch w[DIRECT_MAX];
	struct timeval tv;
	socklen_t tvlen = sizeof(tv);
	int fl, n, rc;

	bool checked = false;

	if (l->owner != getpid() || !l->lst)
		return xs_route_libc();
	for (;;) {
		struct xs_conn *c;

		n = pool_direct_begin(l, fds + 1, w, DIRECT_MAX);
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
				pool_direct_end(l, w, n);
				return xs_route_libc();
			}
			checked = true;
		}
		/* A use opened before we started watching is taken at once. */
		c = pool_direct_take(l);
		rc = 0;
		if (!c) {
			fds[0].fd = fd;
			fds[0].events = POLLIN;
			fds[0].revents = 0;
			rc = poll(fds, (nfds_t)n + 1, -1) < 0 ? -errno : 0;
			if (rc == 0)
				c = pool_direct_take(l);
		}
		pool_direct_end(l, w, n);
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
 * Connection @nfd, just accepted by libc on listener @l (fd @l_fd) from @ss: a
 * doorbell of ours or an ordinary TCP client? XS_ROUTE_RING: the doorbell's
 * ring, now on @nfd (its peer's address in @addr); XS_ROUTE_LIBC: @nfd is
 * the application's as libc accepted it (an ordinary TCP client, or we
 * cannot tell); XS_ROUTE_FAIL: no connection on @nfd, .err -ECONNABORTED
 * for a doorbell that yields none (its client is gone or was refused).
 */
static struct xs_route route_accepted(struct shim_sock *l, int l_fd, int nfd,
				      const struct sockaddr_storage *ss, socklen_t sslen,
				      struct sockaddr *addr, socklen_t *addrlen, int flags)
{
	struct xs_acceptor *a = NULL;
	struct xs_conn *c;
	uint16_t bell;
	int rc, fl;

	bell = bell_port(l, (const struct sockaddr *)ss, sslen);
	c = bell ? bell_reuse_claim(l, bell) : NULL;
	if (c) {
		/* The next use of a parked ring of ours. */
		rc = take_up(c);
	} else {
		a = bell ? listener_acceptor(l) : NULL;
		fl = a ? fcntl(l_fd, F_GETFL) : -1;
		if (a)
			a->offer_reuse = l->owner == getpid() && l->lst && !evloop_forked();
		/* A non-blocking listener never waits for a client to attach. */
		rc = a ? xs_acceptor_claim(a, bell, fl >= 0 && (fl & O_NONBLOCK), &c) : -ENOENT;
	}
	/*
	 * A doorbell in a process that may not use rings (a worker that
	 * dropped to a user outside the group: docs/protocol.md, "Who may use
	 * rings") is no client of the application's: drop it. Its client
	 * gets no answer and falls back (or fails) at its connect timeout.
	 */
	if (rc == -ENOENT && bell && !a && shim_ctx_error())
		rc = -ECONNABORTED;
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
		r = route_accepted(l, fd, nfd, &ss, sslen, addr, addrlen, flags);
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
}

__attribute__((constructor)) static void accept_constructor(void)
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
