/* SPDX-License-Identifier: MIT */
/*
 * The xen backend's mapped grants: libxengnttab's xengnttab_* (gntdev)
 * maps a peer's pages, one handle per backend instance (struct xen_priv,
 * opened by xen.c); the kernel keeps the per-mapping state, so it is safe
 * to use from several threads. Pages we share: xengntshr.c.
 *
 * exec: a gntdev mapping does not survive exec, and a map object left on
 * an inherited gntdev file cannot be mmapped again by the new image
 * (measured): the new image maps the refs afresh (xsp_map()), and the
 * process that execs disarms its mapping's unmap notification first if it
 * armed one (preload/handover.c), since exec unmaps it.
 *
 * Error mapping: gntdev reports any failed grant map (not granted to us,
 * no such ref, revoked) as EINVAL without the hypervisor's status:
 * xsp_map() returns -ENOENT for all of them (it cannot return -EPERM on
 * Xen).
 *
 * Fork: see xen.c ("Fork"): shared pages are inherited, mapped ones not.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <xen/sys/gntdev.h>

#include <xengnttab.h>

#include "common/log.h"
#include "platform/xen/private.h"
#include "platform/xen/xenlibs.h"

/* The port an unmap notification signals: its event channel's, or none (-1). */
static evtchn_port_t notify_port(const struct xsp_unmap_notify *notify)
{
	return notify->ev ? notify->ev->port : (evtchn_port_t)-1;
}

int xen_map(struct xsp *p, xsp_domid_t peer, unsigned int n, const xsp_gref_t *refs,
	    const struct xsp_unmap_notify *notify, struct xsp_map *m)
{
	struct xen_priv *xp = xen_priv(p);
	uint32_t dom = xen_real_domid(p, peer);
	void *addr;

	errno = 0;
	if (notify) {
		addr = xengnttab_map_grant_ref_notify(xp->gt, dom, refs[0],
						      PROT_READ | PROT_WRITE,
						      (uint32_t)notify->offset, notify_port(notify));
	} else {
		/* The library takes a non-const array but does not write it. */
		addr = xengnttab_map_domain_grant_refs(xp->gt, n, dom, (uint32_t *)refs,
						       PROT_READ | PROT_WRITE);
	}
	if (!addr) {
		int e = xen_err_or(EINVAL);

		xs_log(XS_LOG_WARN, "xen: mapping %u grant(s) of dom%u (ref %u): %s", n,
		       (unsigned int)dom, (unsigned int)refs[0], strerror(e));
		return xen_grant_errno(e);
	}
	m->addr = addr;
	return 0;
}

void xen_unmap(struct xsp_map *m)
{
	struct xen_priv *xp = xen_priv(m->p);

	if (!m->addr)
		return;
	if (xengnttab_unmap(xp->gt, m->addr, m->npages) < 0)
		xs_log(XS_LOG_WARN, "xen: unmap: %s", strerror(errno));
	m->addr = NULL;
}

/*
 * Arm or disarm the unmap notification of a one-page mapping made by this
 * process: gntdev keeps one per mapping, found by the file offset the
 * mapping was made at (IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR); an action of 0
 * disarms it. A forked child's mapping (xsp_map_again()) is its own, made
 * on its own gntdev handle, so arming it leaves its parent's alone.
 */
int xen_map_notify(struct xsp_map *m, const struct xsp_unmap_notify *notify)
{
	struct xen_priv *xp = xen_priv(m->p);
	struct ioctl_gntdev_get_offset_for_vaddr off = { .vaddr = (uintptr_t)m->addr };
	struct ioctl_gntdev_unmap_notify un = { 0 };
	int fd = xengnttab_fd(xp->gt);

	if (!m->addr || fd < 0)
		return -EINVAL;
	if (ioctl(fd, IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR, &off) < 0)
		return -errno;
	un.index = off.offset;
	if (notify) {
		un.index += notify->offset;
		un.action = UNMAP_NOTIFY_CLEAR_BYTE;
		if (notify->ev) {
			un.action |= UNMAP_NOTIFY_SEND_EVENT;
			un.event_channel_port = notify_port(notify);
		}
	}
	if (ioctl(fd, IOCTL_GNTDEV_SET_UNMAP_NOTIFY, &un) < 0)
		return -errno;
	return 0;
}

/*
 * The granting domain is dead: put @copy over the mapping (mremap, so the
 * address stays valid for readers) and give the grant map back to gntdev
 * (IOCTL_GNTDEV_UNMAP_GRANT_REF at the offset the mapping was made at).
 * Replacing the VMA unmaps the foreign pages (gntdev's vma close), so the
 * dead domain's memory is no longer pinned by us; the ioctl frees the map
 * object. Its notification is disarmed first: there is nobody to tell.
 */
int xen_map_orphan(struct xsp_map *m, void *copy)
{
	struct xen_priv *xp = xen_priv(m->p);
	struct ioctl_gntdev_get_offset_for_vaddr off = { .vaddr = (uintptr_t)m->addr };
	struct ioctl_gntdev_unmap_grant_ref un = { 0 };
	size_t len = (size_t)m->npages * XSP_PAGE_SIZE;
	int fd = xengnttab_fd(xp->gt);

	if (!m->addr || fd < 0)
		return -EINVAL;
	if (ioctl(fd, IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR, &off) < 0)
		return -errno;
	if (m->npages == 1)
		xen_map_notify(m, NULL);
	if (mremap(copy, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, m->addr) == MAP_FAILED)
		return -errno;
	un.index = off.offset;
	un.count = m->npages;
	if (ioctl(fd, IOCTL_GNTDEV_UNMAP_GRANT_REF, &un) < 0)
		xs_log(XS_LOG_WARN, "xen: giving back %u grant(s) of dead dom%u: %s", m->npages,
		       (unsigned int)m->peer, strerror(errno));
	return 0;
}
