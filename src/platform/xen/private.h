/* SPDX-License-Identifier: MIT */
/*
 * What the files of the xen backend share: the backend instance's state,
 * the logger handed to the Xen libraries, the errno helpers, and each
 * file's entries into the ops table (xen.c).
 *
 *   xen.c        opening and closing the backend, the self domid, logging,
 *                the ops table
 *   xengnttab.c  mapped grants: libxengnttab (gnttab, gntdev)
 *   xengntshr.c  shared grants: gntalloc, one file per share (exec)
 *   xenevtchn.c  event channels: libxenevtchn, one handle per endpoint
 *   xenstore.c   the store: libxenstore, transactions and watches
 *   xenlibs.c    the Xen libraries, loaded on the backend's first open
 */
#ifndef XSOCK_PLATFORM_XEN_PRIVATE_H
#define XSOCK_PLATFORM_XEN_PRIVATE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include <xentoollog.h>
#include <xengnttab.h>

#include "platform/platform.h"

struct xen_priv {
	xengnttab_handle *gt;		/* gntdev: pages we map */
};

static inline struct xen_priv *xen_priv(const struct xsp *p)
{
	return (struct xen_priv *)p->priv;
}

/*
 * Load the Xen libraries (xenlibs.c) if this is the first call; every
 * entry into them goes through the table it fills (xenlibs.h), so the
 * backend calls this before anything else. Returns 0, or -ELIBACC when a
 * library or one of its functions is missing (logged once).
 */
int xen_libs_load(void);

/* The logger handed to the Xen libraries (xen.c). */
extern struct xentoollog_logger xen_logger;

/* errno after a failed call, never 0 (some paths fail without setting it). */
static inline int xen_err_or(int fallback)
{
	return errno > 0 ? errno : fallback;
}

/* Map an errno from a device open to the contract (-ENOENT: no Xen). */
static inline int xen_map_open_errno(int e)
{
	switch (e) {
	case ENOENT:
	case ENODEV:
	case ENXIO:
		return -ENOENT;
	case EACCES:
	case EPERM:
		return -EACCES;
	case EMFILE:
	case ENFILE:
		return -EMFILE;
	default:
		return -e;
	}
}

/* errno of a failed grant map or share -> the contract (platform.h). */
static inline int xen_grant_errno(int e)
{
	switch (e) {
	case ENOSPC:
	case EDQUOT:
		return -ENOSPC;		/* gntalloc/gntdev limit */
	case ENOMEM:
	case EAGAIN:
		return -ENOMEM;
	case EINVAL:
	case ENOENT:
	case EFAULT:
		return -ENOENT;		/* the hypervisor refused the grant */
	case EPERM:
	case EACCES:
		return -EPERM;
	default:
		return -e;
	}
}

/*
 * Is @fd open on the character device @path (an fd inherited across exec
 * is checked before it is trusted)? 0, -EBADF (@fd not open), -ENOENT (no
 * @path), -EINVAL (another file). xen.c.
 */
int xen_fd_is_dev(int fd, const char *path);

static inline xsp_domid_t xen_real_domid(const struct xsp *p, xsp_domid_t d)
{
	return d == XSP_DOMID_SELF ? p->self : d;
}

/* Pending-port reads per xen_evtchn_ack() at most: a peer that notifies
 * as fast as we unmask cannot keep one ack going (xenevtchn.c). */
#define XEN_EVTCHN_ACK_MAX 64u

/*
 * The entries of the ops table (xen.c) that the other files define:
 * xen_<member>, declared with the type of its member of struct xsp_ops.
 */
#define XEN_OP(member) extern __typeof__(*((struct xsp_ops *)0)->member) xen_##member

/* xengntshr.c */
XEN_OP(share);
XEN_OP(unshare);
XEN_OP(share_export);
XEN_OP(share_import);

/* xengnttab.c */
XEN_OP(map);
XEN_OP(unmap);
XEN_OP(map_notify);
XEN_OP(map_orphan);

/* xenevtchn.c */
XEN_OP(evtchn_alloc);
XEN_OP(evtchn_bind);
XEN_OP(evtchn_notify);
XEN_OP(evtchn_ack);
XEN_OP(evtchn_rearm);
XEN_OP(evtchn_close);
XEN_OP(evtchn_export);
XEN_OP(evtchn_import);
XEN_OP(evtchn_forget);

/* xenstore.c */
XEN_OP(store_open);
XEN_OP(store_close);
XEN_OP(store_read);
XEN_OP(store_write);
XEN_OP(store_rm);
XEN_OP(store_list);
XEN_OP(store_set_perms);
XEN_OP(store_get_perms);
XEN_OP(txn_start);
XEN_OP(txn_end);
XEN_OP(watch_add);
XEN_OP(watch_rm);
XEN_OP(watch_read);

#endif /* XSOCK_PLATFORM_XEN_PRIVATE_H */
