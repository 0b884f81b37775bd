/* SPDX-License-Identifier: MIT */
/*
 * Local backend: event channels as pairs of FIFOs.
 *
 * Layout below XSOCK_LOCAL_DIR:
 *
 *   evtchn.lock           flock: serialises allocation and GC
 *   evtchn/<port>.a2b     FIFO, allocator -> binder
 *   evtchn/<port>.b2a     FIFO, binder -> allocator
 *   evtchn/<port>.meta    "<U|B> <allocator domid> <remote domid> <pid>\n";
 *                         the first byte turns to 'B' when bound
 *
 * Every handle is one endpoint with its own pollable fd: the read end of
 * its incoming FIFO. An event is one byte; events are not counted.
 *
 * Allocation (port from the host-wide counter "evtchn-port"): create and
 * flock(LOCK_SH) the meta file, make both FIFOs, open
 *   - a2b O_RDWR|O_NONBLOCK: our outgoing FIFO (see "Notify" below);
 *     notifies before the peer binds are buffered in the pipe;
 *   - b2a O_RDONLY|O_NONBLOCK: the endpoint's fd. Linux reports POLLHUP on
 *     a FIFO reader only once a writer has come and gone since it was
 *     opened, so the allocator's fd stays quiet until the binder binds and
 *     reports hang-up once every holder of the binder's write end is gone.
 * Binding: under an OFD lock on the meta file, check that the port was
 * allocated by @peer for this domain (-ENOENT / -EPERM), not bound yet
 * (-EBUSY), open a2b O_RDONLY, then b2a O_WRONLY|O_NONBLOCK (ENXIO: no
 * reader left, the allocator is gone: -ECONNREFUSED), b2a again O_RDWR
 * (our outgoing FIFO, see "Notify"; the first open is closed), mark the meta bound
 * and unlink both FIFOs (the open fds keep the pipes). The meta file stays
 * until the allocator's last holder closes: it answers -EBUSY to a second
 * binder and its flock tells GC whether the allocator still lives. The
 * binder gets a fresh local port from the same counter (as on Xen).
 *
 * Notify: one byte written to our outgoing FIFO, which we hold open for
 * reading as well as writing (O_RDWR): a pipe with a reader never fails
 * a write with EPIPE, so a notify raises no SIGPIPE and needs no signal
 * mask around it (two system calls per notify otherwise). A notify to a
 * peer that is gone succeeds and is lost, as EVTCHNOP_send to a port
 * whose remote end closed is on Xen; the peer's death is told by our own
 * fd (below). A full pipe (EAGAIN) means events are pending: success.
 *
 * Peer death: when every process holding the peer's write end is gone
 * (exit, SIGKILL, close), our fd polls POLLHUP for good, read() returns 0
 * and xsp_evtchn_ack() returns -EPIPE after any pending events.
 *
 * fork(): the fds are inherited, so an endpoint lives while any process
 * holding it lives, the "last holder" rule of gntalloc the upper layer
 * relies on. The fds are O_CLOEXEC: exec drops the endpoint.
 *
 * Close: close the fds; an allocator then probes the meta file with a
 * fresh LOCK_EX|LOCK_NB and, if no other process holds the endpoint,
 * unlinks what is left of the channel. Channels whose every holder died
 * are removed lazily by a later alloc on the host (a scan of evtchn/:
 * one open+flock per channel there). So that an alloc costs O(1)
 * amortised, not O(channels on the host), a process scans when it never
 * has, when a second has passed since its last scan, or when it has
 * allocated as many channels since as that scan left (a small directory
 * is scanned by every alloc).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/fd.h"
#include "common/log.h"
#include "platform/local/local.h"

#define EVTCHN_GC_INTERVAL_NS 1000000000LL

/*
 * This process's last GC (CLOCK_MONOTONIC ns, 0: never), the channels it
 * left and the allocations since. Changed under evtchn.lock only (a flock
 * excludes the threads of one process too); relaxed atomics for the
 * sanitizers, which do not see the flock order them.
 */
static long long gc_last_ns;
static unsigned long gc_left, gc_allocs;

static bool evtchn_gc_due(void)
{
	long long last = __atomic_load_n(&gc_last_ns, __ATOMIC_RELAXED);

	return last == 0 || xs_now_ns() - last >= EVTCHN_GC_INTERVAL_NS ||
	       __atomic_load_n(&gc_allocs, __ATOMIC_RELAXED) >=
	       __atomic_load_n(&gc_left, __ATOMIC_RELAXED);
}

struct evtchn_priv {
	int wfd;		/* our outgoing FIFO, write end */
	int meta_fd;		/* allocator: meta file, LOCK_SH held; else -1 */
	bool allocator;
};

static void close_if(int fd)
{
	if (fd >= 0)
		close(fd);
}

static void unlink_channel(int dirfd, unsigned long port)
{
	char name[64];

	snprintf(name, sizeof(name), "evtchn/%lu.a2b", port);
	unlinkat(dirfd, name, 0);
	snprintf(name, sizeof(name), "evtchn/%lu.b2a", port);
	unlinkat(dirfd, name, 0);
	snprintf(name, sizeof(name), "evtchn/%lu.meta", port);
	unlinkat(dirfd, name, 0);
}

/* Remove channels no process holds any more (evtchn.lock held). */
static void evtchn_gc(struct local_priv *lp)
{
	unsigned long left = 0;
	struct dirent *de;
	DIR *d;
	int fd;

	__atomic_store_n(&gc_last_ns, xs_now_ns(), __ATOMIC_RELAXED);
	__atomic_store_n(&gc_allocs, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&gc_left, 0, __ATOMIC_RELAXED);
	if (local_opendir_at(lp->dirfd, "evtchn", 0, &d) < 0)
		return;
	fd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		unsigned long port;
		char *end, name[64];
		int mfd;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		port = strtoul(de->d_name, &end, 10);
		if (strcmp(end, ".meta") != 0) {
			struct stat st;

			/* A FIFO without its meta is a leftover of a GC or close. */
			snprintf(name, sizeof(name), "%lu.meta", port);
			if (fstatat(fd, name, &st, 0) < 0 && errno == ENOENT)
				unlinkat(fd, de->d_name, 0);
			continue;
		}
		mfd = openat(fd, de->d_name, O_RDONLY | O_CLOEXEC);
		if (mfd < 0)
			continue;
		if (flock(mfd, LOCK_EX | LOCK_NB) == 0) {
			xs_log(XS_LOG_DEBUG, "evtchn gc: stale port %lu", port);
			unlink_channel(lp->dirfd, port);
		} else {
			left++;
		}
		close(mfd);
	}
	closedir(d);
	__atomic_store_n(&gc_left, left, __ATOMIC_RELAXED);
}

int local_evtchn_alloc(struct xsp *p, xsp_domid_t peer, struct xsp_evtchn *e)
{
	struct local_priv *lp = local_priv(p);
	struct evtchn_priv *ep;
	char name[64], meta[64];
	uint32_t port;
	int lockfd, rc, n;

	ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -ENOMEM;
	ep->wfd = ep->meta_fd = -1;
	ep->allocator = true;

	rc = local_mkdir_at(lp->dirfd, "evtchn");
	if (rc < 0 && rc != -EEXIST)
		goto free_priv;
	lockfd = local_lock_open(lp->dirfd, "evtchn.lock", O_RDWR | O_CREAT);
	if (lockfd < 0) {
		rc = lockfd;
		goto free_priv;
	}
	if (evtchn_gc_due())
		evtchn_gc(lp);
	__atomic_add_fetch(&gc_allocs, 1, __ATOMIC_RELAXED);

	rc = local_counter_next(p, "evtchn-port", &port);
	if (rc < 0)
		goto unlock;
	snprintf(meta, sizeof(meta), "evtchn/%u.meta", port);
	ep->meta_fd = local_creat_at(lp->dirfd, meta, O_RDWR | O_EXCL);
	if (ep->meta_fd < 0) {
		rc = ep->meta_fd == -EEXIST ? -ENOSPC : ep->meta_fd;
		ep->meta_fd = -1;
		goto unlock;
	}
	if (flock(ep->meta_fd, LOCK_SH) < 0) {
		rc = -errno;
		goto remove_files;
	}
	n = snprintf(name, sizeof(name), "U %u %u %ld\n", (unsigned int)p->self,
		     (unsigned int)peer, (long)getpid());
	if (pwrite(ep->meta_fd, name, (size_t)n, 0) != n) {
		rc = -EIO;
		goto remove_files;
	}
	snprintf(name, sizeof(name), "evtchn/%u.a2b", port);
	rc = local_mkfifo_at(lp->dirfd, name);
	if (rc < 0)
		goto remove_files;
	/* Read and write: never blocks, and never EPIPE (see "Notify"). */
	ep->wfd = openat(lp->dirfd, name, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (ep->wfd < 0) {
		rc = -errno;
		goto remove_files;
	}
	snprintf(name, sizeof(name), "evtchn/%u.b2a", port);
	rc = local_mkfifo_at(lp->dirfd, name);
	if (rc < 0)
		goto remove_files;
	e->fd = openat(lp->dirfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (e->fd < 0) {
		rc = -errno;
		goto remove_files;
	}
	close(lockfd);
	/* Kept for the channel's life: out of the application's way. */
	ep->meta_fd = xs_fd_out_of_way(ep->meta_fd);
	ep->wfd = xs_fd_out_of_way(ep->wfd);
	e->fd = xs_fd_out_of_way(e->fd);
	e->port = port;
	e->priv = ep;
	xs_log(XS_LOG_DEBUG, "evtchn: allocated port %u for dom%u", port, (unsigned int)peer);
	return 0;

remove_files:
	unlink_channel(lp->dirfd, port);
	close_if(e->fd);
	e->fd = -1;
	close_if(ep->wfd);
	close_if(ep->meta_fd);
unlock:
	close(lockfd);
free_priv:
	free(ep);
	return rc;
}

int local_evtchn_bind(struct xsp *p, xsp_domid_t peer, xsp_port_t remote_port,
		      struct xsp_evtchn *e)
{
	struct local_priv *lp = local_priv(p);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	unsigned int adom, rdom;
	struct evtchn_priv *ep;
	char name[64], buf[64], state;
	uint32_t port;
	int mfd, rfd = -1, wfd = -1, rc;
	ssize_t n;

	if (remote_port == 0 || remote_port > 0x7FFFFFFF)
		return -ENOENT;
	ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -ENOMEM;
	ep->wfd = ep->meta_fd = -1;

	snprintf(name, sizeof(name), "evtchn/%u.meta", remote_port);
	mfd = openat(lp->dirfd, name, O_RDWR | O_CLOEXEC);
	if (mfd < 0) {
		rc = errno == ENOENT ? -ENOENT : -errno;
		goto free_priv;
	}
	/* An OFD lock: independent of the allocator's flock, serialises binders. */
	while (fcntl(mfd, F_OFD_SETLKW, &fl) < 0) {
		if (errno != EINTR) {
			rc = -errno;
			goto close_meta;
		}
	}
	n = pread(mfd, buf, sizeof(buf) - 1, 0);
	if (n <= 0) {
		rc = -ENOENT;	/* not yet written or gone */
		goto close_meta;
	}
	buf[n] = '\0';
	if (sscanf(buf, "%c %u %u", &state, &adom, &rdom) != 3) {
		rc = -ENOENT;
		goto close_meta;
	}
	if (rdom != p->self) {
		rc = -EPERM;
		goto close_meta;
	}
	if (adom != peer) {
		rc = -ENOENT;	/* no such port at that domain */
		goto close_meta;
	}
	if (state != 'U') {
		rc = -EBUSY;
		goto close_meta;
	}
	rc = local_counter_next(p, "evtchn-port", &port);
	if (rc < 0)
		goto close_meta;

	snprintf(name, sizeof(name), "evtchn/%u.a2b", remote_port);
	rfd = openat(lp->dirfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (rfd < 0) {
		rc = errno == ENOENT ? -ECONNREFUSED : -errno;
		goto close_meta;
	}
	/* Last: once we are a writer, closing again would hang up the allocator. */
	snprintf(name, sizeof(name), "evtchn/%u.b2a", remote_port);
	wfd = openat(lp->dirfd, name, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (wfd < 0) {
		rc = errno == ENXIO || errno == ENOENT ? -ECONNREFUSED : -errno;
		goto close_read;
	}
	/*
	 * The allocator lives: now the fd we keep, read and write (see
	 * "Notify"). Opened before the first is closed, so the allocator
	 * never sees its writer come and go. Failing here hangs it up: it
	 * sees a binder that left, which is what a failed bind is.
	 */
	{
		int rw = openat(lp->dirfd, name, O_RDWR | O_NONBLOCK | O_CLOEXEC);

		if (rw < 0) {
			rc = -errno;
			close(wfd);
			goto close_read;
		}
		close(wfd);
		wfd = rw;
	}
	if (pwrite(mfd, "B", 1, 0) != 1)
		xs_log(XS_LOG_WARN, "evtchn: cannot mark port %u bound", remote_port);
	unlinkat(lp->dirfd, name, 0);
	snprintf(name, sizeof(name), "evtchn/%u.a2b", remote_port);
	unlinkat(lp->dirfd, name, 0);
	close(mfd);	/* drops the OFD lock */

	ep->wfd = xs_fd_out_of_way(wfd);
	e->fd = xs_fd_out_of_way(rfd);
	e->port = port;
	e->priv = ep;
	xs_log(XS_LOG_DEBUG, "evtchn: port %u bound to dom%u:%u", port, (unsigned int)peer,
	       remote_port);
	return 0;

close_read:
	close(rfd);
close_meta:
	close(mfd);
free_priv:
	free(ep);
	return rc;
}

int local_evtchn_notify(struct xsp_evtchn *e)
{
	struct evtchn_priv *ep = e->priv;
	const char one = 1;
	ssize_t n;

	do {
		n = write(ep->wfd, &one, 1);
	} while (n < 0 && errno == EINTR);
	/* A full pipe: events already pending. (No EPIPE: we are a reader.) */
	if (n == 1 || errno == EAGAIN)
		return 0;
	return errno == EPIPE ? -EPIPE : -EIO;
}

int local_evtchn_ack(struct xsp_evtchn *e)
{
	char buf[256];
	bool got = false;
	ssize_t n;

	for (;;) {
		n = read(e->fd, buf, sizeof(buf));
		if (n > 0) {
			got = true;
			if ((size_t)n < sizeof(buf))
				return 1;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	if (got)
		return 1;
	if (n == 0) {
		/*
		 * No writer. Before the peer bound (allocator) that is not a
		 * hang-up and poll() reports none; afterwards it is for good.
		 */
		struct pollfd pfd = { .fd = e->fd, .events = POLLIN };

		if (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLHUP))
			return -EPIPE;
		return 0;
	}
	if (errno == EAGAIN)
		return 0;
	return -EIO;
}

void local_evtchn_close(struct xsp_evtchn *e)
{
	struct local_priv *lp = local_priv(e->p);
	struct evtchn_priv *ep = e->priv;
	char name[64];
	int probe;

	if (!ep)
		return;
	close_if(e->fd);
	e->fd = -1;
	close_if(ep->wfd);
	if (ep->allocator) {
		/* A forked child holding the endpoint keeps the lock's description. */
		close_if(ep->meta_fd);
		snprintf(name, sizeof(name), "evtchn/%u.meta", e->port);
		probe = openat(lp->dirfd, name, O_RDONLY | O_CLOEXEC);
		if (probe >= 0) {
			if (flock(probe, LOCK_EX | LOCK_NB) == 0)
				unlink_channel(lp->dirfd, e->port);
			close(probe);
		}
	}
	e->priv = NULL;
	free(ep);
}

/* ---- exec: the endpoint is its fds ---------------------------------------------------- */

#define EXEC_ALLOCATOR 1u

int local_evtchn_export(const struct xsp_evtchn *e, struct xsp_evtchn_exec *x)
{
	const struct evtchn_priv *ep = e->priv;

	if (!ep)
		return -EINVAL;
	x->fd[0] = e->fd;
	x->fd[1] = ep->wfd;
	x->fd[2] = -1;		/* unused */
	x->fd[3] = ep->meta_fd;
	x->flags = ep->allocator ? EXEC_ALLOCATOR : 0;
	return 0;
}

/* @fd must be open here (inherited); it is hidden again (FD_CLOEXEC). */
static int exec_fd(int fd, bool need)
{
	if (fd < 0)
		return need ? -EINVAL : 0;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -EBADF;
	return 0;
}

int local_evtchn_import(struct xsp *p, const struct xsp_evtchn_exec *x, struct xsp_evtchn *e)
{
	struct evtchn_priv *ep;
	bool alloc = x->flags & EXEC_ALLOCATOR;
	int rc;

	(void)p;
	if (x->flags & ~EXEC_ALLOCATOR)
		return -EINVAL;
	if ((rc = exec_fd(x->fd[0], true)) < 0 || (rc = exec_fd(x->fd[1], true)) < 0 ||
	    (rc = exec_fd(x->fd[2], false)) < 0 || (rc = exec_fd(x->fd[3], alloc)) < 0)
		return rc;
	if (!alloc && x->fd[3] >= 0)
		return -EINVAL;
	ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -ENOMEM;
	e->fd = x->fd[0];
	ep->wfd = x->fd[1];
	ep->meta_fd = x->fd[3];
	ep->allocator = alloc;
	e->priv = ep;
	/* An older image's placeholder reader: not needed here. */
	if (x->fd[2] >= 0)
		close(x->fd[2]);
	return 0;
}

void local_evtchn_forget(struct xsp_evtchn *e)
{
	struct evtchn_priv *ep = e->priv;

	if (!ep)
		return;
	/* Our copies of the fds only: the last holder's close ends it. */
	close_if(e->fd);
	e->fd = -1;
	close_if(ep->wfd);
	close_if(ep->meta_fd);
	e->priv = NULL;
	free(ep);
}
