/* SPDX-License-Identifier: MIT */
/*
 * Operations on the application's fds that name shim sockets: close,
 * shutdown, and the dup family (dup, dup2, dup3, fcntl's F_DUPFD), whose
 * copies are the same connection; and at exit, the end of every ring
 * connection and listener still open.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <unistd.h>

#include "preload/defer.h"
#include "preload/epoll.h"
#include "preload/evloop.h"
#include "preload/fdtable.h"
#include "preload/holder.h"
#include "preload/libc.h"
#include "preload/ready.h"
#include "preload/shim.h"

void fd_released(struct shim_sock *s)
{
	if (__atomic_sub_fetch(&s->nfds, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	/* This process's last fd of it. */
	if (s->owner != getpid())
		holder_forget(s);	/* another process serves it */
	else if (s->kind == SHIM_LISTENER)
		evloop_del(s);
}

/*
 * Drop @fd's table entry. A listener ends with its last fd in this
 * process. A ring ends when the last process holding the application's
 * end closes it: the event thread sees its own end hang up (so a child
 * that got the connection by fork() keeps it when the parent closes its
 * copy, as with TCP). @ep_forgotten: the epoll sets have forgotten @fd
 * already (close_ring()).
 */
static void release_fd(int fd, bool ep_forgotten)
{
	struct shim_sock *s = shim_remove(fd);

	if (!s)
		return;
	SHIM_ENTER();
	if (!ep_forgotten)
		ep_fd_closed(fd);
	fd_released(s);
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
	struct shim_sock *s = shim_peek(fd);
	bool mine;
	int rc, err;

	/*
	 * The epoll sets' references by this fd go first, not in
	 * release_fd() after the count below: a ring closed while still in
	 * an epoll set (the common case) ends here too, not later in the
	 * event thread, which a process that exits next would never let run
	 * (its grants left for the lazy collection of stale ones).
	 */
	if (s) {
		SHIM_ENTER();
		ep_fd_closed(fd);
		SHIM_LEAVE();
	}
	mine = s && s->kind == SHIM_RING && s->owner == getpid() && s->conn &&
	       evloop_close_begin(s);
	release_fd(fd, true);
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
	/* Inside the shim on this thread (a signal handler, or the shim's
	 * own fds): nothing that waits for a lock (defer.c). */
	if (shim_busy())
		return close_busy(fd);
	defer_poll();
	if (shim_maybe_ours(fd))
		return close_ring(fd);
	ep_fd_closed(fd);	/* an epoll set we track? */
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
		sock_set_rd_shut(s, fd);
	if (how == SHUT_WR || how == SHUT_RDWR) {
		sock_io_lock(s, false);
		rc = xsr_shutdown_tx(&s->conn->ring);
		sock_io_unlock(s, false);
	}
	sock_sync(s, fd, false, true);
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
	defer_poll();
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
		release_fd(newfd, false);
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

/* fcntl and fcntl64: the same, each passed on to libc's own. */
#define FCNTL_WRAPPER(name)						\
	XS_EXPORT int name(int fd, int cmd, ...)			\
	{								\
		va_list ap;						\
		void *arg;						\
									\
		va_start(ap, cmd);					\
		arg = va_arg(ap, void *);				\
		va_end(ap);						\
		shim_resolve();						\
		return do_fcntl(shim_real.name, fd, cmd, arg);		\
	}

FCNTL_WRAPPER(fcntl)
FCNTL_WRAPPER(fcntl64)

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
		struct shim_sock *s = shim_peek(fd);
		struct pollfd pfd;

		if (!s)
			continue;
		/* Inherited, and nobody serves it any more: ours to end. */
		if (s->kind == SHIM_RING)
			holder_exit_touch(s);
		release_fd(fd, false);
		if (s->kind == SHIM_RING && s->owner == getpid()) {
			shim_real.close(fd);
			pfd.fd = s->bfd;
			pfd.events = POLLRDHUP;
			pfd.revents = 0;
			if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLRDHUP)))
				evloop_del(s);
			else
				holder_leave(s);	/* others hold it: they serve it next */
		}
		shim_put(s);
	}
	evloop_flush();
	SHIM_LEAVE();
}
