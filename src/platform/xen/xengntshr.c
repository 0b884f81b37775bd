/* SPDX-License-Identifier: MIT */
/*
 * The xen backend's shared pages: /dev/xen/gntalloc through its raw ioctls
 * (the header xen/sys/gntalloc.h), ONE gntalloc file per share.
 *
 * Why not libxengnttab's xengntshr: it allocates the grants, maps them and
 * at once drops them from its file (IOCTL_GNTALLOC_DEALLOC_GREF), so that
 * a share lives exactly as long as some mapping of it. exec takes every
 * mapping away, so such a share cannot cross exec. Here the grants stay in
 * the share's own file: a gref lives while its file is open in some
 * process or some mapping uses it (gntalloc counts both), and the file's
 * fd is what hands the share over across exec (docs/protocol.md, "What
 * crosses exec"): after exec, mmap of the same file at the same index maps
 * the same pages again, with what they held (measured on Xen 4.17). One
 * file per share makes the fd name that share and nothing else; its only
 * allocation is at index 0.
 *
 * Lifetime ("last holder"): the file is close-on-exec; a forked child
 * inherits both the fd (the same open file) and the mapping (gntalloc
 * VMAs are copied). xsp_unshare() and xsp_share_forget() are therefore the
 * same thing here: unmap our mapping and close our fd. The gref ends --
 * and its unmap notification fires (byte cleared, event sent) -- when the
 * last process lets go of both, whether by closing, exiting or dying.
 *
 * Errors: gntalloc says ENOSPC at its per-domain limit (module parameter
 * `limit`, 1024 pages by default); EINVAL from SET_UNMAP_NOTIFY is a bad
 * offset or port and stays -EINVAL.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xen/sys/gntalloc.h>

#include "common/fd.h"
#include "common/log.h"
#include "platform/xen/private.h"

#define GNTALLOC_DEV "/dev/xen/gntalloc"

/* A share's backend state (s->priv). */
struct xen_shr {
	int fd;				/* its own gntalloc file */
};

static int gntalloc_open(void)
{
	int fd = open(GNTALLOC_DEV, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return xen_map_open_errno(errno);
	return xs_fd_out_of_way(fd);
}

/* Map @s's @npages at index 0 of its file: 0 or -errno. */
static int shr_mmap(struct xsp_share *s, int fd)
{
	void *addr = mmap(NULL, (size_t)s->npages * XSP_PAGE_SIZE, PROT_READ | PROT_WRITE,
			  MAP_SHARED, fd, 0);

	if (addr == MAP_FAILED)
		return -errno;
	s->addr = addr;
	return 0;
}

/* Arm @notify on the share's first page (gntalloc keeps one per gref). */
static int shr_notify(int fd, const struct xsp_unmap_notify *notify)
{
	struct ioctl_gntalloc_unmap_notify un = {
		.index = notify->offset,	/* the first page is at index 0 */
		.action = UNMAP_NOTIFY_CLEAR_BYTE,
	};

	if (notify->ev) {
		un.action |= UNMAP_NOTIFY_SEND_EVENT;
		un.event_channel_port = notify->ev->port;
	}
	if (ioctl(fd, IOCTL_GNTALLOC_SET_UNMAP_NOTIFY, &un) < 0)
		return -xen_err_or(EINVAL);
	return 0;
}

int xen_share(struct xsp *p, xsp_domid_t peer, unsigned int npages,
	      const struct xsp_unmap_notify *notify, struct xsp_share *s)
{
	uint32_t dom = xen_real_domid(p, peer);
	struct ioctl_gntalloc_alloc_gref *op;
	struct xen_shr *xs;
	int fd, rc;

	xs = calloc(1, sizeof(*xs));
	op = calloc(1, sizeof(*op) + (size_t)npages * sizeof(op->gref_ids[0]));
	if (!xs || !op) {
		rc = -ENOMEM;
		goto free;
	}
	fd = gntalloc_open();
	if (fd < 0) {
		rc = fd;
		goto free;
	}
	op->domid = (uint16_t)dom;
	op->flags = GNTALLOC_FLAG_WRITABLE;
	op->count = npages;
	if (ioctl(fd, IOCTL_GNTALLOC_ALLOC_GREF, op) < 0) {
		rc = xen_grant_errno(xen_err_or(ENOMEM));
		xs_log(XS_LOG_WARN, "xen: sharing %u page(s) with dom%u: %s", npages,
		       (unsigned int)dom, strerror(-rc));
		goto close_fd;
	}
	/* The file's first and only allocation (see top). */
	if (op->index != 0) {
		rc = -EIO;
		goto close_fd;
	}
	if (notify && (rc = shr_notify(fd, notify)) < 0) {
		xs_log(XS_LOG_WARN, "xen: unmap notification for dom%u: %s", (unsigned int)dom,
		       strerror(-rc));
		goto close_fd;	/* the grefs go with the file */
	}
	rc = shr_mmap(s, fd);
	if (rc < 0)
		goto close_fd;
	memcpy(s->refs, op->gref_ids, (size_t)npages * sizeof(op->gref_ids[0]));
	xs->fd = fd;
	s->priv = xs;
	free(op);
	return 0;

close_fd:
	close(fd);
free:
	free(op);
	free(xs);
	return rc;
}

/* Our hold: the mapping and the fd. The last holder's release ends it. */
void xen_unshare(struct xsp_share *s)
{
	struct xen_shr *xs = s->priv;

	if (s->addr && munmap(s->addr, (size_t)s->npages * XSP_PAGE_SIZE) < 0)
		xs_log(XS_LOG_WARN, "xen: unshare: %s", strerror(errno));
	s->addr = NULL;
	if (xs) {
		close(xs->fd);
		free(xs);
	}
	s->priv = NULL;
}

/* ---- exec: a share is its gntalloc file ---------------------------------------------------- */

int xen_share_export(const struct xsp_share *s, int *fd)
{
	const struct xen_shr *xs = s->priv;

	if (!xs)
		return -EINVAL;
	*fd = xs->fd;
	return 0;
}

/*
 * @fd, inherited, must be a gntalloc file; mmap checks that it holds
 * s->npages grants at index 0 (EINVAL otherwise). The refs are the
 * record's: gntalloc cannot be asked for them.
 */
int xen_share_import(struct xsp *p, int fd, const struct xsp_unmap_notify *notify,
		     struct xsp_share *s)
{
	struct xen_shr *xs;
	int rc;

	(void)p;
	rc = xen_fd_is_dev(fd, GNTALLOC_DEV);
	if (rc < 0)
		return rc;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -EBADF;
	xs = calloc(1, sizeof(*xs));
	if (!xs)
		return -ENOMEM;
	rc = shr_mmap(s, fd);
	if (rc == 0 && notify) {
		/* Already armed by the image before us, on the same port: again
		 * all the same, so that what this one asked for holds. */
		rc = shr_notify(fd, notify);
		if (rc < 0) {
			munmap(s->addr, (size_t)s->npages * XSP_PAGE_SIZE);
			s->addr = NULL;
		}
	}
	if (rc < 0) {
		free(xs);
		return rc;
	}
	xs->fd = fd;
	s->priv = xs;
	return 0;
}
