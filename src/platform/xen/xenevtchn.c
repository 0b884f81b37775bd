/* SPDX-License-Identifier: MIT */
/*
 * The xen backend's event channels: libxenevtchn, ONE xenevtchn handle per
 * endpoint, so each endpoint has its own fd that polls readable only for
 * its own port. The fd is switched to O_NONBLOCK so that ack can drain it
 * without blocking.
 *
 * Error mapping: EVTCHNOP_bind_interdomain reports a port that does not
 * exist, is not unbound, or was allocated for another domain all as
 * EINVAL: bind maps it to -ENOENT; ESRCH (the allocating domain is gone)
 * to -ECONNREFUSED.
 *
 * Peer death: Xen tells nothing through the event channel itself when the
 * peer closes its end. The peer's kernel performs its unmap notification
 * (byte cleared + event on the port it registered), which arrives on our
 * endpoint as an ordinary event. xsp_evtchn_ack() therefore never returns
 * -EPIPE on this backend; callers must check the notify byte (platform.h,
 * "Unmap notification").
 *
 * Fork: handles are opened close-on-exec and MUST NOT be used by a forked
 * child (xen.c, "Fork").
 *
 * exec: the evtchn driver binds a port to the open file, so the binding
 * crosses exec with the fd (measured on Xen 4.17). Each endpoint being
 * its own handle, an endpoint is exactly one fd: xsp_evtchn_export() names
 * it (the hand-over clears FD_CLOEXEC on it), xsp_evtchn_import() checks
 * that the inherited fd is the evtchn device and rebuilds the library
 * handle from it with xenevtchn_fdopen() (the port is the same), then sets
 * FD_CLOEXEC and O_NONBLOCK again. A holder that lets go of an endpoint
 * others still hold (fork, exec: xsp_evtchn_forget()) closes its fd
 * without unbinding: the port lives as long as some process holds the
 * open file, and the last holder's close unbinds it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <xenevtchn.h>

#include "common/log.h"
#include "platform/xen/private.h"
#include "platform/xen/xenlibs.h"

struct xen_evtchn {
	xenevtchn_handle *h;
};

/*
 * Open @e's handle: a new one (@fd < 0), or rebuilt from inherited fd @fd
 * (exec; the handle owns it from then on, close-on-exec again).
 */
static int evtchn_handle_open(struct xsp_evtchn *e, int fd, struct xen_evtchn **out)
{
	struct xen_evtchn *xe = calloc(1, sizeof(*xe));
	int fl;

	if (!xe)
		return -ENOMEM;
	if (fd >= 0 && fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		free(xe);
		return -EBADF;
	}
	errno = 0;
	xe->h = fd < 0 ? xenevtchn_open(&xen_logger, 0) : xenevtchn_fdopen(&xen_logger, fd, 0);
	if (!xe->h) {
		int rc = xen_map_open_errno(xen_err_or(ENOENT));

		free(xe);
		return rc;
	}
	fd = xenevtchn_fd(xe->h);
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		int rc = -xen_err_or(EIO);

		xenevtchn_close(xe->h);
		free(xe);
		return rc;
	}
	e->fd = fd;
	*out = xe;
	return 0;
}

static void evtchn_handle_close(struct xsp_evtchn *e, struct xen_evtchn *xe)
{
	xenevtchn_close(xe->h);
	free(xe);
	e->fd = -1;
}

/* A failed bind of an unbound port for @peer: log, and errno as the contract says. */
static int alloc_errno(xsp_domid_t peer)
{
	int err = xen_err_or(ENOSPC);

	xs_log(XS_LOG_WARN, "xen: evtchn alloc for dom%u: %s", (unsigned int)peer,
	       strerror(err));
	return err == ENOMEM ? -ENOMEM : (err == EMFILE ? -EMFILE : -ENOSPC);
}

/* A failed bind to @peer's @remote_port: log, and errno as the contract says. */
static int bind_errno(xsp_domid_t peer, xsp_port_t remote_port)
{
	int err = xen_err_or(EINVAL), rc;

	xs_log(XS_LOG_WARN, "xen: evtchn bind to dom%u port %u: %s", (unsigned int)peer,
	       (unsigned int)remote_port, strerror(err));
	switch (err) {
	case ESRCH:
		rc = -ECONNREFUSED;
		break;
	case EPERM:
	case EACCES:
		rc = -EPERM;
		break;
	case EBUSY:
	case EEXIST:
		rc = -EBUSY;
		break;
	case ENOSPC:
	case ENOMEM:
	case EMFILE:
		rc = -err;
		break;
	default:
		rc = -ENOENT;	/* EINVAL: absent, bound, or not ours */
		break;
	}
	return rc;
}

/*
 * Open @e's handle and bind it: to @peer's @remote_port if @bind, else to
 * a new unbound port that @peer may bind (alloc).
 */
static int evtchn_open(struct xsp *p, xsp_domid_t peer, bool bind, xsp_port_t remote_port,
		       struct xsp_evtchn *e)
{
	struct xen_evtchn *xe;
	xenevtchn_port_or_error_t port;
	int rc;

	rc = evtchn_handle_open(e, -1, &xe);
	if (rc < 0)
		return rc;
	errno = 0;
	if (bind)
		port = xenevtchn_bind_interdomain(xe->h, xen_real_domid(p, peer), remote_port);
	else
		port = xenevtchn_bind_unbound_port(xe->h, xen_real_domid(p, peer));
	if (port < 0) {
		rc = bind ? bind_errno(peer, remote_port) : alloc_errno(peer);
		goto close_handle;
	}
	e->port = (xsp_port_t)port;
	e->priv = xe;
	return 0;

close_handle:
	evtchn_handle_close(e, xe);
	return rc;
}

int xen_evtchn_alloc(struct xsp *p, xsp_domid_t peer, struct xsp_evtchn *e)
{
	return evtchn_open(p, peer, false, 0, e);
}

int xen_evtchn_bind(struct xsp *p, xsp_domid_t peer, xsp_port_t remote_port,
		    struct xsp_evtchn *e)
{
	return evtchn_open(p, peer, true, remote_port, e);
}

int xen_evtchn_notify(struct xsp_evtchn *e)
{
	struct xen_evtchn *xe = e->priv;

	/* An ioctl on the handle: safe from several threads at once. */
	if (xenevtchn_notify(xe->h, e->port) < 0) {
		xs_log(XS_LOG_WARN, "xen: notify port %u: %s", (unsigned int)e->port,
		       strerror(errno));
		return -EIO;
	}
	return 0;
}

/*
 * Drain the handle's pending ports (only ours is bound to it) and unmask
 * each, so the next event raises the fd again. Never -EPIPE (see top).
 *
 * At most XEN_EVTCHN_ACK_MAX reads per call: a peer that notifies as fast
 * as we unmask would otherwise keep us here for ever (each unmask lets its
 * next event in). What is left stays queued in the kernel and the fd
 * stays readable, so the caller's next poll() returns at once and the
 * next ack takes the rest. An event is an edge for every caller (they
 * look at the ring after an ack), so taking fewer of them loses nothing.
 */
int xen_evtchn_ack(struct xsp_evtchn *e)
{
	struct xen_evtchn *xe = e->priv;
	xenevtchn_port_or_error_t port;
	unsigned int reads;
	int got = 0;

	for (reads = 0; reads < XEN_EVTCHN_ACK_MAX; reads++) {
		errno = 0;
		port = xenevtchn_pending(xe->h);
		if (port < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;	/* counts as a read: bounded too */
			return got ? 1 : -EIO;
		}
		got = 1;
		if (xenevtchn_unmask(xe->h, (evtchn_port_t)port) < 0)
			return -EIO;
	}
	return got;
}

int xen_evtchn_rearm(struct xsp_evtchn *e)
{
	struct xen_evtchn *xe = e->priv;

	/* Unmasking a port that is not masked changes nothing. */
	if (!xe || xenevtchn_unmask(xe->h, e->port) < 0)
		return -EIO;
	return 0;
}

void xen_evtchn_close(struct xsp_evtchn *e)
{
	struct xen_evtchn *xe = e->priv;

	if (!xe)
		return;
	/* Closing the handle would unbind too; explicit unbind keeps the
	 * intent visible and reports failures to the log. */
	if (xenevtchn_unbind(xe->h, e->port) < 0)
		xs_log(XS_LOG_DEBUG, "xen: unbind port %u: %s", (unsigned int)e->port,
		       strerror(errno));
	evtchn_handle_close(e, xe);
	e->priv = NULL;
}

/* ---- exec: an endpoint is its fd --------------------------------------------------------- */

/* xsp_evtchn_exec.flags of a xen endpoint: anything else is not one of ours. */
#define XEN_EVTCHN_EXEC 0x58454e31u	/* "XEN1" */

int xen_evtchn_export(const struct xsp_evtchn *e, struct xsp_evtchn_exec *x)
{
	if (!e->priv || e->fd < 0)
		return -EINVAL;
	x->fd[0] = e->fd;
	x->flags = XEN_EVTCHN_EXEC;
	return 0;
}

int xen_evtchn_import(struct xsp *p, const struct xsp_evtchn_exec *x, struct xsp_evtchn *e)
{
	struct xen_evtchn *xe;
	int i, rc;

	(void)p;
	if (x->flags != XEN_EVTCHN_EXEC || x->fd[0] < 0)
		return -EINVAL;
	for (i = 1; i < XSP_EXEC_FDS; i++) {
		if (x->fd[i] != -1)
			return -EINVAL;
	}
	rc = xen_fd_is_dev(x->fd[0], "/dev/xen/evtchn");
	if (rc < 0)
		return rc;
	rc = evtchn_handle_open(e, x->fd[0], &xe);
	if (rc < 0)
		return rc;
	e->priv = xe;
	return 0;
}

void xen_evtchn_forget(struct xsp_evtchn *e)
{
	struct xen_evtchn *xe = e->priv;

	if (!xe)
		return;
	/* No unbind: the binding is the open file's, which others hold. */
	evtchn_handle_close(e, xe);
	e->priv = NULL;
}
