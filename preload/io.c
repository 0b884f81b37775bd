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
#include <sched.h>
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
#include "preload/fdtable.h"
#include "preload/libc.h"
#include "preload/names.h"
#include "preload/ready.h"
#include "preload/shim.h"
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
 * Wait until the ring has something for us (@readable) or room; 0 when
 * worth retrying, -EAGAIN (non-blocking or timeout), -EINTR.
 *
 * A blocking call first spins on the ring for up to XSOCK_SPIN_US (the
 * peer is not asked to notify meanwhile, so a quick answer costs neither
 * side a system call), then asks for a notification and sleeps in the
 * kernel on end A. A non-blocking call that must report EAGAIN asks for
 * one passively: the program is about to wait for this fd somewhere.
 */
static int sock_wait(struct shim_sock *s, bool readable, bool nonblock)
{
	struct xsr *r = &s->conn->ring;
	unsigned int want = readable ? (XSR_READABLE | XSR_RDHUP | XSR_HUP | XSR_ERR) :
				       (XSR_WRITABLE | XSR_HUP | XSR_ERR);
	struct pollfd pfd;
	unsigned int i;
	int rc, timeout;

	if (nonblock) {
		sock_passive(s, readable, true);
		return (xsr_poll(r) & want) ? 0 : -EAGAIN;
	}
	if (shim_spin_budget()) {
		uint64_t end = (uint64_t)xs_now_ns() + shim_spin_budget();

		for (i = 1;; i++) {
			if (xsr_poll(r) & want) {
				shim_spin_result(true);
				return 0;
			}
			cpu_relax();
			if (!(i & 63)) {
				if ((uint64_t)xs_now_ns() > end)
					break;
				/* Let a runnable peer (or its event thread) have
				 * this CPU: on two cores, spinning against it is
				 * what makes the wait long. */
				sched_yield();
			}
		}
	}
	shim_spin_result(false);
	if (sock_sleep_begin(s, readable, !readable)) {
		sock_sleep_end(s, readable, !readable);
		return 0;	/* some room (or news): the caller writes what fits */
	}
	timeout = sock_timeout_ms(s, readable ? SO_RCVTIMEO : SO_SNDTIMEO);
	if (timeout < 0) {
		/*
		 * No timeout: block in a call on A itself, not in poll(), which
		 * a signal always interrupts: the kernel restarts it after a
		 * handler with SA_RESTART and fails it with EINTR after one
		 * without, as TCP does (with a timeout TCP never restarts, nor
		 * does poll() below). Readable: a token (or EOF) in A to peek
		 * at. Writable: A unplugged; the one filler byte this sends to
		 * B is taken back at once (sock_drain_filler()).
		 */
		char c = 0;
		uint64_t slept_at = (uint64_t)xs_now_ns();
		ssize_t got = readable ? recv(s->fd, &c, 1, MSG_PEEK) :
					 send(s->fd, &c, 1, MSG_NOSIGNAL);

		rc = got < 0 ? -errno : 0;	/* EINTR; EAGAIN if made non-blocking meanwhile */
		shim_spin_slept(slept_at, got >= 0);
		if (!readable && got > 0)
			sock_drain_filler(s);
		sock_sleep_end(s, readable, !readable);
		return rc;
	}
	pfd.fd = s->fd;
	pfd.events = readable ? POLLIN : POLLOUT;
	pfd.revents = 0;
	rc = poll(&pfd, 1, timeout);
	if (rc < 0)
		rc = -errno;
	sock_sleep_end(s, readable, !readable);
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
 * Nothing to read (@readable) or no room to write, with @done bytes moved
 * so far: wait for the ring (sock_wait()) and return 0 to try again, or a
 * negative errno to stop. A call that moved something stops instead when
 * it is non-blocking, or at once when @short_ok (a read that may be
 * short). O_NONBLOCK (*@nonblock, -1: not looked up yet) is looked up
 * only here, when the call would block.
 */
static int wait_or_stop(struct shim_sock *s, bool readable, size_t done, bool short_ok,
			int *nonblock)
{
	if (*nonblock < 0)
		*nonblock = fd_nonblocking(s->fd);
	if (done > 0 && (short_ok || *nonblock))
		return -EAGAIN;	/* a short read or write to report */
	return sock_wait(s, readable, *nonblock);
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
static void after_io(struct shim_sock *s, bool rd)
{
	struct shim_rstate *rs = s->rs;

	if (__atomic_load_n(rd ? &rs->passive_rd : &rs->passive_wr, __ATOMIC_RELAXED))
		sock_passive(s, rd, false);
	if (__atomic_load_n(rd ? &rs->tok : &rs->plug, __ATOMIC_RELAXED))
		sock_sync(s, false, true);
}

static ssize_t sock_recv(struct shim_sock *s, const struct iovec *iov0, int iovcnt, int flags)
{
	struct xsr *r = &s->conn->ring;
	/* O_NONBLOCK is looked up only when the call would block. */
	int nonblock = (flags & MSG_DONTWAIT) ? 1 : -1;
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
	pthread_mutex_lock(&s->rlock);
	for (;;) {
		rc = xsr_readv(r, iov, iovcnt, (flags & MSG_PEEK) ? XSR_PEEK : 0);
		if (rc > 0) {
			got += (size_t)rc;
			if (!waitall || got == want)
				break;
			iov_advance(&iov, &iovcnt, (size_t)rc);
			continue;
		}
		if (rc == 0)
			break;	/* end of stream */
		if (rc != -EAGAIN)
			break;	/* an error */
		rc = wait_or_stop(s, true, got, !waitall, &nonblock);
		if (rc < 0)
			break;
	}
	pthread_mutex_unlock(&s->rlock);
	if (got > 0) {
		/* The program is reading: no notifications needed for now. */
		after_io(s, true);
		return (ssize_t)got;
	}
	return rc;
}

static ssize_t sock_send(struct shim_sock *s, const struct iovec *iov0, int iovcnt, int flags)
{
	struct xsr *r = &s->conn->ring;
	int nonblock = (flags & MSG_DONTWAIT) ? 1 : -1;	/* looked up when needed */
	struct iovec local[IOV_MAX_LOCAL], *iov = local;
	size_t want, sent = 0;
	ssize_t rc = 0;

	if (iovcnt < 0 || iovcnt > IOV_MAX_LOCAL)
		return -EINVAL;		/* as readv/writev say */
	memcpy(local, iov0, (size_t)iovcnt * sizeof(*iov0));
	want = iov_len_of(iov0, iovcnt);
	pthread_mutex_lock(&s->wlock);
	while (sent < want) {
		rc = xsr_writev(r, iov, iovcnt);
		if (rc > 0) {
			sent += (size_t)rc;
			iov_advance(&iov, &iovcnt, (size_t)rc);
			continue;
		}
		if (rc == 0)
			rc = -EAGAIN;
		if (rc != -EAGAIN)
			break;
		rc = wait_or_stop(s, false, sent, false, &nonblock);
		if (rc < 0)
			break;
	}
	pthread_mutex_unlock(&s->wlock);
	if (sent > 0) {
		after_io(s, false);
		return (ssize_t)sent;
	}
	if (want == 0)
		return 0;
	if (rc == -EPIPE) {
		xs_log(XS_LOG_DEBUG, "fd %d: write on a closed ring (shut %d, peer gone %d, "
		       "alive %u, closed %u)", s->fd, r->tx_shut, r->peer_gone,
		       *r->peer_alive_p, *r->peer_closed_p);
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
static ssize_t do_io(struct shim_sock *s, const struct iovec *iov, int iovcnt, int flags,
		     bool out)
{
	ssize_t rc;

	SHIM_ENTER();
	rc = out ? sock_send(s, iov, iovcnt, flags) : sock_recv(s, iov, iovcnt, flags);
	xs_status_update(s->conn, rc == -ECONNRESET || rc == -EPROTO ? (int)-rc : 0);
	SHIM_LEAVE();
	shim_put(s);
	return rc < 0 ? shim_fail((int)rc) : rc;
}

static ssize_t do_recv(struct shim_sock *s, const struct iovec *iov, int iovcnt, int flags)
{
	return do_io(s, iov, iovcnt, flags, false);
}

static ssize_t do_send(struct shim_sock *s, const struct iovec *iov, int iovcnt, int flags)
{
	return do_io(s, iov, iovcnt, flags, true);
}

XS_EXPORT ssize_t read(int fd, void *buf, size_t len)
{
	struct shim_sock *s = shim_ring_of(fd);
	struct iovec v = { buf, len };

	if (!s)
		return shim_real.read(fd, buf, len);
	return do_recv(s, &v, 1, 0);
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
	return do_recv(s, &v, 1, 0);
}

XS_EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	struct shim_sock *s = shim_ring_of(fd);
	struct iovec v = { (void *)buf, len };

	if (!s)
		return shim_real.write(fd, buf, len);
	return do_send(s, &v, 1, 0);
}

XS_EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	struct shim_sock *s = shim_ring_of(fd);

	if (!s)
		return shim_real.readv(fd, iov, iovcnt);
	return do_recv(s, iov, iovcnt, 0);
}

XS_EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	struct shim_sock *s = shim_ring_of(fd);

	if (!s)
		return shim_real.writev(fd, iov, iovcnt);
	return do_send(s, iov, iovcnt, 0);
}

XS_EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	struct shim_sock *s = shim_ring_of(fd);
	struct iovec v = { (void *)buf, len };

	if (!s)
		return shim_real.send(fd, buf, len, flags);
	return do_send(s, &v, 1, flags);
}

XS_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags,
			 const struct sockaddr *to, socklen_t tolen)
{
	struct shim_sock *s = shim_ring_of(fd);
	struct iovec v = { (void *)buf, len };

	if (!s)
		return shim_real.sendto(fd, buf, len, flags, to, tolen);
	/* Like Linux TCP: the address of a connected stream is ignored. */
	return do_send(s, &v, 1, flags);
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
	return do_send(s, msg->msg_iov, (int)msg->msg_iovlen, flags);
}

XS_EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	struct shim_sock *s = shim_ring_of(fd);
	struct iovec v = { buf, len };

	if (!s)
		return shim_real.recv(fd, buf, len, flags);
	return do_recv(s, &v, 1, flags);
}

XS_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	struct shim_sock *s = shim_ring_of(fd);
	struct iovec v = { buf, len };

	if (!s || len > buflen) {
		shim_put(s);
		return shim_real.__recv_chk(fd, buf, len, buflen, flags);
	}
	return do_recv(s, &v, 1, flags);
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
	return do_recv(s, &v, 1, flags);
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
	return do_recv(s, &v, 1, flags);
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
	return do_recv(s, msg->msg_iov, (int)msg->msg_iovlen, flags);
}

/* sendfile into a ring: read the file here and write it to the ring. */
static ssize_t sock_sendfile(struct shim_sock *s, int in_fd, off_t *offset, size_t count)
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
		rc = sock_send(s, &v, 1, MSG_NOSIGNAL);
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
	rc = sock_sendfile(s, in_fd, offset, count);
	SHIM_LEAVE();
	shim_put(s);
	return rc < 0 ? shim_fail((int)rc) : rc;
}

XS_EXPORT ssize_t sendfile64(int out_fd, int in_fd, off_t *offset, size_t count)
{
	return sendfile(out_fd, in_fd, offset, count);
}
