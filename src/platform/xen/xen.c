/* SPDX-License-Identifier: MIT */
/*
 * The xen backend: the platform interface on top of the Xen userspace
 * libraries.
 *
 *   xen.c           this file: opening and closing the backend, the self
 *                   domid, logging, the ops table
 *   xengnttab.c     mapped grants: libxengnttab (gntdev)
 *   xengntshr.c     shared grants: gntalloc's ioctls, one file per share
 *   xenevtchn.c     event channels: libxenevtchn, one handle per endpoint
 *   xenstore.c      the store: libxenstore, one connection per xsp_store
 *   private.h       what they share
 * (each file is named after the library it wraps)
 *
 * Self domid: read from the store as the relative node "domid" (resolved by
 * xenstored to /local/domain/<self>/domid). Dom0 has no such node in some
 * setups (no xen-init-dom0, or xenstored just started): when the read fails
 * and /proc/xen/capabilities says "control_d" we are dom0 and use 0. A domU
 * whose store cannot be read cannot learn its id and the open fails with
 * -ENOENT.
 *
 * Error mapping (Xen -> the -errno contract of platform.h): each file maps
 * the errors of the library it wraps (xengnttab.c, xenevtchn.c,
 * xenstore.c); a device that cannot be opened is -ENOENT (no Xen), -EACCES
 * or -EMFILE.
 *
 * Peer death: see xenevtchn.c.
 *
 * Fork: the grant-sharing mappings are inherited by a child (gntalloc
 * VMAs, and the share's gntalloc file); gntdev mappings are not
 * (VM_DONTCOPY), as platform.h promises.
 *
 * exec: an event channel (its evtchn fd) and a share (its gntalloc file)
 * cross exec as fds; a mapping does not and is made again (xenevtchn.c,
 * xengntshr.c, xengnttab.c; docs/protocol.md, "What crosses exec").
 * Event channel handles are opened close-on-exec and MUST NOT be used by a
 * forked child (the evtchn driver binds ports to the open file, which the
 * child shares with the parent: an unbind or ack in the child acts on the
 * parent's endpoint). A child that needs event channels opens its own
 * backend with xsp_open(). The same holds for libxenstore handles.
 *
 * Logging: the Xen libraries log through a xentoollog logger; we give them
 * one that forwards to xs_log(), so nothing reaches stderr.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xentoollog.h>
#include <xengnttab.h>
#include <xenstore.h>

#include "common/log.h"
#include "platform/xen/private.h"
#include "platform/xen/xenlibs.h"

/* ---- logging ------------------------------------------------------------- */

/* A vprintf-like callback of libxentoollog: @format is the Xen library's. */
__attribute__((format(printf, 5, 0)))
static void xen_log_vmessage(struct xentoollog_logger *logger, xentoollog_level level,
			     int errnoval, const char *context, const char *format,
			     va_list al)
{
	int lvl;
	char buf[512];

	if (level >= XTL_ERROR)
		lvl = XS_LOG_ERR;
	else if (level >= XTL_WARN)
		lvl = XS_LOG_WARN;
	else if (level >= XTL_PROGRESS)
		lvl = XS_LOG_INFO;
	else
		lvl = XS_LOG_DEBUG;
	if (xs_log_level() < lvl)
		return;
	vsnprintf(buf, sizeof(buf), format, al);
	if (errnoval > 0)
		xs_log(lvl, "%s: %s: %s", context ? context : "xen", buf, strerror(errnoval));
	else
		xs_log(lvl, "%s: %s", context ? context : "xen", buf);
}

static void xen_log_progress(struct xentoollog_logger *logger, const char *context,
			     const char *doing_what, int percent, unsigned long done,
			     unsigned long total)
{
}

static void xen_log_destroy(struct xentoollog_logger *logger)
{
}

/* Stateless, so one shared instance serves every handle. */
struct xentoollog_logger xen_logger = {
	.vmessage = xen_log_vmessage,
	.progress = xen_log_progress,
	.destroy = xen_log_destroy,
};

/* ---- self domid ---------------------------------------------------------- */

static int is_dom0(void)
{
	char buf[128];
	ssize_t n;
	int fd = open("/proc/xen/capabilities", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strstr(buf, "control_d") != NULL;
}

static int read_self_domid(xsp_domid_t *out)
{
	struct xs_handle *h = xs_open(0);
	unsigned int len = 0;
	char *val = NULL, *end;
	unsigned long v;

	if (h) {
		val = xs_read(h, XBT_NULL, "domid", &len);
		xs_close(h);
	}
	if (val) {
		errno = 0;
		v = strtoul(val, &end, 10);
		if (!errno && end != val && *end == '\0' && v < XSP_DOMID_SELF) {
			free(val);
			*out = (xsp_domid_t)v;
			return 0;
		}
		free(val);
	}
	if (is_dom0()) {
		*out = 0;
		return 0;
	}
	xs_log(XS_LOG_ERR, "xen: cannot read own domid from the store");
	return -ENOENT;
}

/* ---- exec: inherited fds ------------------------------------------------- */

/* Is @fd open on the device @path (a character device)? private.h. */
int xen_fd_is_dev(int fd, const char *path)
{
	struct stat a, b;

	if (fstat(fd, &a) < 0)
		return -EBADF;
	if (stat(path, &b) < 0)
		return -ENOENT;
	if (!S_ISCHR(a.st_mode) || !S_ISCHR(b.st_mode) || a.st_rdev != b.st_rdev)
		return -EINVAL;
	return 0;
}

/* ---- backend -------------------------------------------------------------- */

static int xen_open(struct xsp *p)
{
	struct xen_priv *xp;
	int rc, gs;

	rc = xen_libs_load();
	if (rc < 0)
		return rc;
	xp = calloc(1, sizeof(*xp));
	if (!xp)
		return -ENOMEM;
	xp->gt = xengnttab_open(&xen_logger, 0);
	if (!xp->gt) {
		rc = xen_map_open_errno(xen_err_or(ENOENT));
		goto free_priv;
	}
	/* Shares open gntalloc each (xengntshr.c): may we? Say so now. */
	gs = open("/dev/xen/gntalloc", O_RDWR | O_CLOEXEC);
	if (gs < 0) {
		rc = xen_map_open_errno(errno);
		goto close_gnttab;
	}
	close(gs);
	rc = read_self_domid(&p->self);
	if (rc < 0)
		goto close_gnttab;
	p->priv = xp;
	return 0;

close_gnttab:
	xengnttab_close(xp->gt);
free_priv:
	free(xp);
	return rc;
}

static void xen_close(struct xsp *p)
{
	struct xen_priv *xp = xen_priv(p);

	if (!xp)
		return;
	xengnttab_close(xp->gt);
	free(xp);
	p->priv = NULL;
}

static const char *xen_status_base(const struct xsp *p)
{
	(void)p;
	return "/dev/shm/xsock-status";
}

const struct xsp_ops xsp_xen_ops = {
	.name = "xen",
	.status_base = xen_status_base,
	.open = xen_open,
	.close = xen_close,
	.share = xen_share,
	.unshare = xen_unshare,
	.map = xen_map,
	.unmap = xen_unmap,
	.map_notify = xen_map_notify,
	.map_orphan = xen_map_orphan,
	.evtchn_alloc = xen_evtchn_alloc,
	.evtchn_bind = xen_evtchn_bind,
	.evtchn_notify = xen_evtchn_notify,
	.evtchn_ack = xen_evtchn_ack,
	.evtchn_rearm = xen_evtchn_rearm,
	.evtchn_close = xen_evtchn_close,
	.evtchn_export = xen_evtchn_export,
	.evtchn_import = xen_evtchn_import,
	.share_export = xen_share_export,
	.share_import = xen_share_import,
	/* A share's hold is its mapping and fd, as for xsp_unshare() (xengntshr.c). */
	.share_forget = xen_unshare,
	.evtchn_forget = xen_evtchn_forget,
	.store_open = xen_store_open,
	.store_close = xen_store_close,
	.store_read = xen_store_read,
	.store_write = xen_store_write,
	.store_rm = xen_store_rm,
	.store_list = xen_store_list,
	.store_set_perms = xen_store_set_perms,
	.store_get_perms = xen_store_get_perms,
	.txn_start = xen_txn_start,
	.txn_end = xen_txn_end,
	.watch_add = xen_watch_add,
	.watch_rm = xen_watch_rm,
	.watch_read = xen_watch_read,
};
