/* SPDX-License-Identifier: MIT */
/*
 * Local backend: a share crosses exec (xsp_share_export/import). A share
 * is its lock fd (the flock that says a holder lives, grant.c) and its
 * file: the fd goes through exec, the new image maps the file again after
 * checking that the fd is the lock of that very file.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform/local/grant_priv.h"
#include "platform/local/local.h"

int local_share_export(const struct xsp_share *s, int *fd)
{
	const struct share_priv *sp = s->priv;

	if (!sp)
		return -EINVAL;
	*fd = sp->lockfd;
	return 0;
}

int local_share_import(struct xsp *p, int fd, const struct xsp_unmap_notify *notify,
		       struct xsp_share *s)
{
	struct local_priv *lp = local_priv(p);
	struct share_priv *sp;
	struct stat a, b;
	size_t len = (size_t)s->npages * XSP_PAGE_SIZE;
	unsigned int i;
	void *base;
	int mfd, rc;

	if (s->npages == 0 || s->npages > GRANT_MAX_SHARE)
		return -EINVAL;
	/* One file holds a share's consecutive refs, named by the first. */
	for (i = 1; i < s->npages; i++) {
		if (s->refs[i] != s->refs[0] + i)
			return -EINVAL;
	}
	sp = calloc(1, sizeof(*sp));
	if (!sp)
		return -ENOMEM;
	snprintf(sp->rec, sizeof(sp->rec), "grant/%u/%u.%u", (unsigned int)s->peer, s->refs[0],
		 (unsigned int)p->self);
	/* The fd must be the lock of that very file, and the file that big. */
	mfd = openat(lp->dirfd, sp->rec, O_RDWR | O_CLOEXEC);
	if (mfd < 0) {
		rc = -errno;
		goto free_priv;
	}
	if (fstat(fd, &a) < 0 || fstat(mfd, &b) < 0) {
		rc = -EBADF;
		goto close_mfd;
	}
	if (a.st_dev != b.st_dev || a.st_ino != b.st_ino || (uint64_t)b.st_size != len) {
		rc = -EINVAL;
		goto close_mfd;
	}
	base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (base == MAP_FAILED) {
		rc = -errno;
		goto close_mfd;
	}
	close(mfd);
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		rc = -errno;
		munmap(base, len);
		goto free_priv;
	}
	sp->lockfd = fd;
	grant_notify_set(&sp->notify, notify);
	s->addr = base;
	s->priv = sp;
	return 0;

close_mfd:
	close(mfd);
free_priv:
	free(sp);
	return rc;
}

void local_share_forget(struct xsp_share *s)
{
	/*
	 * Our hold only -- unless it was the last one: the holder that
	 * serves the connection may have ended it a moment ago, while this
	 * process still held the share, and then nobody else would remove it.
	 * That is exactly xsp_unshare()'s "last holder" probe.
	 */
	local_unshare(s);
}
