/* SPDX-License-Identifier: MIT */
/*
 * Intercepted data calls: read, write, readv, writev, send, sendto,
 * sendmsg, recv, recvfrom, recvmsg, sendfile and the _FORTIFY_SOURCE
 * variants. Ring sockets are served from the ring; everything else goes
 * to libc untouched.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/compiler.h"
#include "common/iov.h"
#include "common/log.h"
#include "conn/status.h"
#include "preload/direct.h"
#include "preload/fdtable.h"
#include "preload/libc.h"
#include "preload/names.h"
#include "preload/ready.h"
#include "preload/shim.h"
#include "preload/signals.h"
#include "preload/spin.h"

static bool fd_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && (fl & O_NONBLOCK);
}

/* SO_RCVTIMEO or SO_SNDTIMEO (@name) as set on @s, in ms; -1 for none. */
static int sock_timeout_ms(struct shim_sock *s, int name)
{
	int v;

	return sock_opt_get(s, SOL_SOCKET, name, &v) == 0 && v > 0 ? v : -1;
}

/*
 * One read or write call on a ring socket, as far as its waits go. The
 * shim works on end A only through @fd, the fd the call came in on: the
 * application may close any other number that names the socket (a dup)
 * at any time.
 */
struct io_call {
	struct shim_sock *s;
	int fd;
	bool rd;		/* a read (else a write) */
	int nonblock;		/* O_NONBLOCK or MSG_DONTWAIT; -1: not looked up yet */
	int64_t deadline;	/* SO_RCVTIMEO/SO_SNDTIMEO runs out (xs_now_ns()); -1 none */
	bool timed;		/* deadline computed */
	unsigned int misses;	/* waits that said "ready" since the call last moved bytes */
};

/*
 * A wait said "ready" and the call then found nothing this many times in
 * a row: readiness is not to be trusted on this ring (the ring's
 * observers never lie about our side, so only a bug, or a peer that found
 * a way, can get here): the next waits sleep until the peer's next
 * notification instead. Non-blocking calls retry once.
 */
#define IO_MISSES_MAX 3
/* ... and wake up at least this often meanwhile, in case nothing comes. */
#define IO_EVENT_SLICE_NS (50 * 1000000LL)

/* Time left before the call's SO_RCVTIMEO/SO_SNDTIMEO runs out, ns (-1: none). */
static int64_t io_left_ns(struct io_call *c)
{
	int64_t left;

	if (!c->timed) {
		int ms = sock_timeout_ms(c->s, c->rd ? SO_RCVTIMEO : SO_SNDTIMEO);

		c->deadline = ms < 0 ? -1 : xs_now_ns() + (int64_t)ms * 1000000;
		c->timed = true;
	}
	if (c->deadline < 0)
		return -1;
	left = c->deadline - xs_now_ns();
	return left > 0 ? left : 0;
}

/*
 * Readiness misled this call (IO_MISSES_MAX): sleep until the peer's next
 * notification (the event thread counts them), the deadline, or a slice
 * of IO_EVENT_SLICE_NS, whichever comes first; never on the ring's word.
 * 0 to try again, -EAGAIN (the deadline had passed), -EINTR.
 */
static int io_wait_event(struct io_call *c)
{
	int64_t left = io_left_ns(c), slice;
	uint32_t seen;
	int rc;

	if (left == 0)
		return -EAGAIN;
	slice = left < 0 || left > IO_EVENT_SLICE_NS ? IO_EVENT_SLICE_NS : left;
	/* The count first: a notification after this load ends the sleep. */
	seen = sock_events(c->s);
	/* Ask for notifications; its "ready" is what misled us: ignored. */
	(void)sock_sleep_begin(c->s, c->fd, c->rd, !c->rd);
	rc = sock_wait_event(c->s, seen, slice);
	sock_sleep_end(c->s, c->fd, c->rd, !c->rd, true);
	/* Even at the deadline: the call tries once more before its EAGAIN. */
	return rc == -EINTR ? rc : 0;
}

/*
 * Wait until the ring has something for the call (data, or room); 0 when
 * worth retrying, -EAGAIN (non-blocking or timeout), -EINTR. Every 0 is
 * counted in c->misses until the call moves bytes again.
 *
 * A blocking call first spins on the ring for up to XSOCK_SPIN_US (the
 * peer is not asked to notify meanwhile, so a quick answer costs neither
 * side a system call), then asks for a notification and sleeps in the
 * kernel on end A. A non-blocking call that must report EAGAIN asks for
 * one passively: the program is about to wait for this fd somewhere.
 * No lock is held here (a fork() or a signal handler may come).
 */
static int sock_wait(struct io_call *c)
{
	struct shim_sock *s = c->s;
	struct xsr *r = &s->conn->ring;
	bool readable = c->rd;
	unsigned int want = readable ? (XSR_READABLE | XSR_RDHUP | XSR_HUP | XSR_ERR) :
				       (XSR_WRITABLE | XSR_HUP | XSR_ERR);
	struct pollfd pfd[3];
	struct sig_sleep ss = { .sfd = -1 };
	struct wsock one = { .s = s, .fd = c->fd, .rd = readable, .wr = !readable, .chfd = -1 };
	struct wsleep wsl = { .w = &one, .n = 1, .local = &one };
	int64_t left;
	unsigned int i;
	int rc, timeout, direct = 0;

	if (c->nonblock) {
		/* One retry after "ready" at most: then EAGAIN is the answer. */
		if (c->misses)
			return -EAGAIN;
		sock_passive(s, c->fd, readable, true);
		if (!(xsr_poll(r) & want))
			return -EAGAIN;
		c->misses++;
		return 0;
	}
	if (c->misses >= IO_MISSES_MAX)
		return io_wait_event(c);
	c->misses++;
	if (shim_spin_budget()) {
		uint64_t end = (uint64_t)xs_now_ns() + shim_spin_budget();

		for (i = shim_spin_polls();;) {
			if (xsr_poll(r) & want) {
				shim_spin_result(true);
				return 0;
			}
			cpu_relax();
			if (!--i) {
				if ((uint64_t)xs_now_ns() > end)
					break;
				/* Let a runnable peer (or its event thread) have
				 * this CPU: on two cores, spinning against it is
				 * what makes the wait long. */
				shim_spin_yield();
				i = shim_spin_polls();
			}
		}
	}
	shim_spin_result(false);
	left = io_left_ns(c);
	/*
	 * Sleep on the ring's channel too, so that the peer's notification
	 * wakes this thread itself (direct.c); without a timeout, with the
	 * signals whose handlers do not restart watched (signals.c).
	 */
	if (left >= 0 || sig_sleep_prepare(&ss) == 0)
		direct = wsocks_direct_begin(&one, 1, &pfd[1]);
	if (sock_sleep_begin(s, c->fd, readable, !readable)) {
		sock_sleep_end(s, c->fd, readable, !readable, true);
		wsocks_direct_end(&one, 1, NULL);
		return 0;	/* some room (or news): the caller writes what fits */
	}
	if (left < 0 && direct) {
		/*
		 * No timeout: after a signal handler, the sleep goes on or
		 * the call fails with EINTR as the TCP call would (restarted
		 * after a handler with SA_RESTART, signals.c). Readable: a
		 * token (or EOF) in A; writable: A unplugged; or the channel
		 * fired.
		 */
		uint64_t slept_at = (uint64_t)xs_now_ns();
		nfds_t np = 2;

		pfd[0].fd = c->fd;
		pfd[0].events = readable ? POLLIN : POLLOUT;
		if (ss.sfd >= 0) {
			pfd[2].fd = ss.sfd;
			pfd[2].events = POLLIN;
			np = 3;
		}
		for (;;) {
			pfd[0].revents = pfd[1].revents = pfd[2].revents = 0;
			rc = wsleep_ppoll(&wsl, pfd, np, NULL, ss.masked ? &ss.mask : NULL);
			if (rc == -EINTR && !sig_sleep_changed(&ss))
				continue;	/* a restarting handler's */
			if (rc > 0 && np == 3 && (pfd[2].revents & POLLNVAL)) {
				sig_sleep_lost();
				rc = 0;		/* look again, sleep again */
			} else if (rc > 0 && np == 3 && pfd[2].revents && !pfd[0].revents &&
				   !pfd[1].revents) {
				rc = -EINTR;	/* its handler ran as ppoll() returned */
			}
			break;
		}
		shim_spin_slept(slept_at, rc > 0);
		sock_sleep_end(s, c->fd, readable, !readable, true);
		wsocks_direct_end(&one, 1, rc > 0 ? &pfd[1] : NULL);
		return rc < 0 ? rc : 0;
	}
	if (left < 0) {
		/*
		 * No timeout: block in a call on A itself, not in poll(), which
		 * a signal always interrupts: the kernel restarts it after a
		 * handler with SA_RESTART and fails it with EINTR after one
		 * without, as TCP does (with a timeout TCP never restarts, nor
		 * does poll() below). Readable: a token (or EOF) in A to peek
		 * at. Writable: A unplugged; the one filler byte this sends to
		 * B is taken back at once (sock_drain_filler()).
		 */
		char b = 0;
		uint64_t slept_at = (uint64_t)xs_now_ns();
		ssize_t got = readable ? recv(c->fd, &b, 1, MSG_PEEK) :
					 send(c->fd, &b, 1, MSG_NOSIGNAL);

		rc = got < 0 ? -errno : 0;	/* EINTR; EAGAIN if made non-blocking meanwhile */
		shim_spin_slept(slept_at, got >= 0);
		if (!readable && got > 0)
			sock_drain_filler(s);
		sock_sleep_end(s, c->fd, readable, !readable, true);
		return rc;
	}
	/* Whole milliseconds, rounded up: a wait never ends early. */
	timeout = (int)XS_MIN((left + 999999) / 1000000, (int64_t)INT_MAX);
	pfd[0].fd = c->fd;
	pfd[0].events = readable ? POLLIN : POLLOUT;
	pfd[0].revents = pfd[1].revents = 0;
	if (timeout > 0) {
		struct timespec ts = ms_to_ts(timeout);

		rc = wsleep_ppoll(&wsl, pfd, 1 + (nfds_t)direct, &ts, NULL);
	} else {
		rc = 0;
	}
	sock_sleep_end(s, c->fd, readable, !readable, true);
	wsocks_direct_end(&one, 1, rc > 0 ? &pfd[1] : NULL);
	/* Woken by the channel alone: not a timeout, look again. */
	if (rc > 0 && !pfd[0].revents)
		return 0;
	if (rc < 0)
		return rc;
	if (rc == 0)
		return -EAGAIN;	/* SO_RCVTIMEO/SO_SNDTIMEO ran out */
	return 0;
}

/* Total of an already validated iovec array, saturated at SSIZE_MAX. */
static size_t iov_len_of(const struct iovec *iov, int iovcnt)
{
	uint64_t t = 0;

	(void)xs_iov_total(iov, iovcnt, SSIZE_MAX, &t);
	return (size_t)t;
}

/* Advance a private copy of an iovec array by @n bytes. */
static void iov_advance(struct iovec **iov, int *iovcnt, size_t n)
{
	while (*iovcnt > 0 && n >= (*iov)->iov_len) {
		n -= (*iov)->iov_len;
		(*iov)++;
		(*iovcnt)--;
	}
	if (*iovcnt > 0 && n) {
		(*iov)->iov_base = (char *)(*iov)->iov_base + n;
		(*iov)->iov_len -= n;
	}
}

#define IOV_MAX_LOCAL IOV_MAX	/* 1024: what the kernel accepts */

/*
 * Nothing to read or no room to write, with @done bytes moved so far:
 * wait for the ring (sock_wait()) and return 0 to try again, or a
 * negative errno to stop. A call that moved something stops instead when
 * it is non-blocking, or at once when @short_ok (a read that may be
 * short). O_NONBLOCK is looked up only here, when the call would block.
 */
static int wait_or_stop(struct io_call *c, size_t done, bool short_ok)
{
	if (done > 0 && short_ok)
		return -EAGAIN;	/* a short read to report: no lookup */
	if (c->nonblock < 0)
		c->nonblock = fd_nonblocking(c->fd);
	if (done > 0 && c->nonblock)
		return -EAGAIN;	/* a short write to report */
	return sock_wait(c);
}

/*
 * The program read (@rd) or wrote some bytes: it needs no notifications
 * for now, and A is brought up to date where it may be stale. After a
 * read: emptied it? Then A must stop polling readable. (A token for data
 * that arrived meanwhile is the business of the waits and the event
 * thread: not worth a look here.) After a write: unplug A if the peer
 * freed room meanwhile; a full ring plugs it only when a call meets it
 * (EAGAIN) or before a wait.
 */
static void after_io(struct shim_sock *s, int fd, bool rd)
{
	struct shim_rstate *rs = s->rs;

	if (__atomic_load_n(rd ? &rs->passive_rd : &rs->passive_wr, __ATOMIC_RELAXED))
		sock_passive(s, fd, rd, false);
	if (__atomic_load_n(rd ? &rs->tok : &rs->plug, __ATOMIC_RELAXED))
		sock_sync(s, fd, false, true);
}

/*
 * The reader's (and the writer's) lock is taken around each copy only,
 * never across a wait: a thread asleep in recv() must not hold up a
 * child forked meanwhile (it gets a copy of the lock; the lock is shared,
 * so the copy is the parent's and is let go of at once), nor a signal
 * handler, nor another thread's read after the data came.
 */
static ssize_t sock_recv(struct shim_sock *s, int fd, const struct iovec *iov0, int iovcnt,
			 int flags)
{
	struct xsr *r = &s->conn->ring;
	/* O_NONBLOCK is looked up only when the call would block. */
	struct io_call c = { .s = s, .fd = fd, .rd = true,
			     .nonblock = (flags & MSG_DONTWAIT) ? 1 : -1 };
	bool waitall = (flags & MSG_WAITALL) && !(flags & MSG_PEEK);
	struct iovec local[IOV_MAX_LOCAL], *iov = local;
	size_t want, got = 0;
	ssize_t rc = 0;

	if (iovcnt < 0 || iovcnt > IOV_MAX_LOCAL)
		return -EINVAL;		/* as readv/writev say */
	if (flags & MSG_OOB)
		return -EINVAL;	/* TCP without urgent data says the same */
	memcpy(local, iov0, (size_t)iovcnt * sizeof(*iov0));
	want = iov_len_of(iov0, iovcnt);
	if (want == 0)
		return 0;
	if (sock_rd_shut(s))
		return 0;
	for (;;) {
		sock_io_lock(s, true);
		rc = xsr_readv(r, iov, iovcnt, (flags & MSG_PEEK) ? XSR_PEEK : 0);
		sock_io_unlock(s, true);
		if (rc > 0) {
			got += (size_t)rc;
			if (!waitall || got == want)
				break;
			iov_advance(&iov, &iovcnt, (size_t)rc);
			c.misses = 0;
			continue;
		}
		if (rc == 0)
			break;	/* end of stream */
		if (rc != -EAGAIN)
			break;	/* an error */
		rc = wait_or_stop(&c, got, !waitall);
		if (rc < 0)
			break;
	}
	if (got > 0) {
		/* The program is reading: no notifications needed for now. */
		after_io(s, fd, true);
		return (ssize_t)got;
	}
	return rc;
}

static ssize_t sock_send(struct shim_sock *s, int fd, const struct iovec *iov0, int iovcnt,
			 int flags)
{
	struct xsr *r = &s->conn->ring;
	/* O_NONBLOCK is looked up only when the call would block. */
	struct io_call c = { .s = s, .fd = fd, .rd = false,
			     .nonblock = (flags & MSG_DONTWAIT) ? 1 : -1 };
	struct iovec local[IOV_MAX_LOCAL], *iov = local;
	size_t want, sent = 0;
	ssize_t rc = 0;

	if (iovcnt < 0 || iovcnt > IOV_MAX_LOCAL)
		return -EINVAL;		/* as readv/writev say */
	memcpy(local, iov0, (size_t)iovcnt * sizeof(*iov0));
	want = iov_len_of(iov0, iovcnt);
	while (sent < want) {
		sock_io_lock(s, false);
		rc = xsr_writev(r, iov, iovcnt);
		sock_io_unlock(s, false);
		if (rc > 0) {
			sent += (size_t)rc;
			iov_advance(&iov, &iovcnt, (size_t)rc);
			c.misses = 0;
			continue;
		}
		if (rc == 0)
			rc = -EAGAIN;
		if (rc != -EAGAIN)
			break;
		rc = wait_or_stop(&c, sent, false);
		if (rc < 0)
			break;
	}
	if (sent > 0) {
		after_io(s, fd, false);
		return (ssize_t)sent;
	}
	if (want == 0)
		return 0;
	if (rc == -EPIPE && !__atomic_load_n(&r->tx_shut, __ATOMIC_RELAXED) &&
	    !__atomic_exchange_n(&s->rs->reset, 1, __ATOMIC_RELAXED)) {
		/*
		 * The peer closed (or died). Over TCP the first write after
		 * that is still sent, and the peer's kernel answers it with a
		 * reset; only writes after the reset fail. A client that
		 * sends its request before reading a server's last words (a
		 * refusal sent on accept, then close: redis in protected
		 * mode, an SMTP 421, an HTTP 503) relies on it: it reads them
		 * next instead of dying of SIGPIPE. So the first such write
		 * is taken whole and dropped, as the peer's kernel would.
		 */
		xs_log(XS_LOG_DEBUG, "fd %d: peer closed: %zu bytes dropped, later writes EPIPE",
		       fd, want);
		return (ssize_t)want;
	}
	if (rc == -EPIPE) {
		xs_log(XS_LOG_DEBUG, "fd %d: write on a closed ring (shut %d, peer gone %d, "
		       "alive %u, closed %u)", fd, __atomic_load_n(&r->tx_shut, __ATOMIC_RELAXED),
		       r->peer_gone, *r->peer_alive_p, *r->peer_closed_p);
		if (!(flags & MSG_NOSIGNAL))
			raise(SIGPIPE);
	}
	return rc;
}

/* ---- wrappers ------------------------------------------------------------------------ */

/*
 * A read or (@out) a write on ring socket @s, which drops the caller's
 * reference: the count, or -1 and errno.
 */
static ssize_t do_io(struct shim_sock *s, int fd, const struct iovec *iov, int iovcnt,
		     int flags, bool out)
{
	ssize_t rc;

	SHIM_ENTER();
	rc = out ? sock_send(s, fd, iov, iovcnt, flags) : sock_recv(s, fd, iov, iovcnt, flags);
	xs_status_update(s->conn, rc == -ECONNRESET || rc == -EPROTO ? (int)-rc : 0);
	SHIM_LEAVE();
	shim_put(s);
	return rc < 0 ? shim_fail((int)rc) : rc;
}

static ssize_t do_recv(struct shim_sock *s, int fd, const struct iovec *iov, int iovcnt,
		       int flags)
{
	return do_io(s, fd, iov, iovcnt, flags, false);
}

static ssize_t do_send(struct shim_sock *s, int fd, const struct iovec *iov, int iovcnt,
		       int flags)
{
	return do_io(s, fd, iov, iovcnt, flags, true);
}

XS_EXPORT ssize_t read(int fd, void *buf, size_t len)
{
	struct shim_sock *s = shim_ring_of(fd);
	struct iovec v = { buf, len };

	if (!s)
		return shim_real.read(fd, buf, len);
	return do_recv(s, fd, &v, 1, 0);
}

XS_EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	struct shim_sock *s = shim_ring_of(fd);
	struct iovec v = { buf, len };

	if (!s)
		return shim_real.__read_chk(fd, buf, len, buflen);
	if (len > buflen) {
		shim_put(s);
		return shim_real.__read_chk(fd, buf, len, buflen);	/* aborts as glibc does */
	}
	return do_recv(s, fd, &v, 1, 0);
}

XS_EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	struct shim_sock *s = shim_ring_of(fd);
	struct iovec v = { (void *)buf, len };

	if (!s)
		return shim_real.write(fd, buf, len);
	return do_send(s, fd, &v, 1, 0);
}

XS_EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	struct shim_sock *s = shim_ring_of(fd);

	if (!s)
		return shim_real.readv(fd, iov, iovcnt);
	return do_recv(s, fd, iov, iovcnt, 0);
}

XS_EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	struct shim_sock *s = shim_ring_of(fd);

	if (!s)
		return shim_real.writev(fd, iov, iovcnt);
	return do_send(s, fd, iov, iovcnt, 0);
}

XS_EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	struct shim_sock *s = shim_ring_of(fd);
	struct iovec v = { (void *)buf, len };

	if (!s)
		return shim_real.send(fd, buf, len, flags);
	return do_send(s, fd, &v, 1, flags);
}

XS_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags,
			 const struct sockaddr *to, socklen_t tolen)
{
	struct shim_sock *s = shim_ring_of(fd);
	struct iovec v = { (void *)buf, len };

	if (!s)
		return shim_real.sendto(fd, buf, len, flags, to, tolen);
	/* Like Linux TCP: the address of a connected stream is ignored. */
	return do_send(s, fd, &v, 1, flags);
}

XS_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct shim_sock *s = shim_ring_of(fd);

	if (!s)
		return shim_real.sendmsg(fd, msg, flags);
	if (!msg) {
		shim_put(s);
		return shim_fail(-EFAULT);
	}
	return do_send(s, fd, msg->msg_iov, (int)msg->msg_iovlen, flags);
}

XS_EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	struct shim_sock *s = shim_ring_of(fd);
	struct iovec v = { buf, len };

	if (!s)
		return shim_real.recv(fd, buf, len, flags);
	return do_recv(s, fd, &v, 1, flags);
}

XS_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	struct shim_sock *s = shim_ring_of(fd);
	struct iovec v = { buf, len };

	if (!s || len > buflen) {
		shim_put(s);
		return shim_real.__recv_chk(fd, buf, len, buflen, flags);
	}
	return do_recv(s, fd, &v, 1, flags);
}

XS_EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
			   socklen_t *fromlen)
{
	struct shim_sock *s = shim_ring_of(fd);
	struct iovec v = { buf, len };

	if (!s)
		return shim_real.recvfrom(fd, buf, len, flags, from, fromlen);
	if (from && fromlen)
		*fromlen = 0;	/* as Linux TCP reports it */
	return do_recv(s, fd, &v, 1, flags);
}

XS_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
				 struct sockaddr *from, socklen_t *fromlen)
{
	struct shim_sock *s = shim_ring_of(fd);
	struct iovec v = { buf, len };

	if (!s || len > buflen) {
		shim_put(s);
		return shim_real.__recvfrom_chk(fd, buf, len, buflen, flags, from, fromlen);
	}
	if (from && fromlen)
		*fromlen = 0;
	return do_recv(s, fd, &v, 1, flags);
}

XS_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct shim_sock *s = shim_ring_of(fd);

	if (!s)
		return shim_real.recvmsg(fd, msg, flags);
	if (!msg) {
		shim_put(s);
		return shim_fail(-EFAULT);
	}
	msg->msg_namelen = 0;
	msg->msg_controllen = 0;
	msg->msg_flags = 0;
	return do_recv(s, fd, msg->msg_iov, (int)msg->msg_iovlen, flags);
}

/* sendfile into a ring: read the file here and write it to the ring. */
static ssize_t sock_sendfile(struct shim_sock *s, int out_fd, int in_fd, off_t *offset,
			     size_t count)
{
	char buf[65536];
	size_t done = 0;
	off_t off = offset ? *offset : 0;
	ssize_t rc = 0;

	while (done < count) {
		size_t chunk = XS_MIN(count - done, sizeof(buf));
		struct iovec v;
		ssize_t n = offset ? pread(in_fd, buf, chunk, off) :
				     shim_real.read(in_fd, buf, chunk);

		if (n <= 0) {
			rc = n < 0 ? -errno : 0;
			break;
		}
		v.iov_base = buf;
		v.iov_len = (size_t)n;
		rc = sock_send(s, out_fd, &v, 1, MSG_NOSIGNAL);
		if (rc <= 0)
			break;
		done += (size_t)rc;
		off += rc;
		if (rc < n) {
			/* Short write: give back what the ring did not take. */
			if (!offset)
				lseek(in_fd, rc - n, SEEK_CUR);
			break;
		}
	}
	if (offset)
		*offset = off;
	if (done > 0)
		return (ssize_t)done;
	if (rc == -EPIPE)
		raise(SIGPIPE);
	return rc;
}

XS_EXPORT ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count)
{
	struct shim_sock *s = shim_ring_of(out_fd);
	ssize_t rc;

	if (!s)
		return shim_real.sendfile(out_fd, in_fd, offset, count);
	SHIM_ENTER();
	rc = sock_sendfile(s, out_fd, in_fd, offset, count);
	SHIM_LEAVE();
	shim_put(s);
	return rc < 0 ? shim_fail((int)rc) : rc;
}

XS_EXPORT ssize_t sendfile64(int out_fd, int in_fd, off_t *offset, size_t count)
{
	return sendfile(out_fd, in_fd, offset, count);
}
