/* SPDX-License-Identifier: MIT */
/*
 * The local backend: opening it, the helpers its files share (counters,
 * lock files, FIFOs, directory streams), and the ops table.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/env.h"
#include "common/fd.h"
#include "common/log.h"
#include "platform/local/local.h"

#define LOCAL_DEFAULT_DIR "/dev/shm/xsock"

/*
 * XSOCK_DOMID: 0 (the default) up to below DOMID_FIRST_RESERVED (0x7FF0).
 * It names the domain, and so its rights: unlike a tunable, a malformed or
 * out-of-range value fails the open with -EINVAL instead of falling back
 * to the default (domain 0 may do anything).
 */
static int read_domid(xsp_domid_t *out)
{
	long v = 0;

	if (xs_env_str("XSOCK_DOMID"))
		v = xs_env_long("XSOCK_DOMID", -1, 0, XSP_DOMID_SELF - 1);
	if (v < 0)
		return -EINVAL;
	*out = (xsp_domid_t)v;
	return 0;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);
	char *c;

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (c = buf + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*c = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

bool local_dir_shared(int dirfd)
{
	struct stat st;

	return fstat(dirfd, &st) == 0 && (st.st_mode & S_ISGID);
}

/* A file we own gets @want (a umask, or an older mode, took bits away). */
static void fix_mode(int fd, mode_t want)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && st.st_uid == geteuid() && (st.st_mode & 07777) != want)
		(void)fchmod(fd, want);
}

int local_creat_at(int dirfd, const char *name, int flags)
{
	bool shared = local_dir_shared(dirfd);
	int fd;

	fd = openat(dirfd, name, flags | O_CREAT | O_CLOEXEC, shared ? 0660 : 0600);
	if (fd < 0)
		return -errno;
	if (shared)
		fix_mode(fd, 0660);
	return fd;
}

int local_mkdir_at(int dirfd, const char *name)
{
	bool shared = local_dir_shared(dirfd);

	if (mkdirat(dirfd, name, shared ? 02770 : 0700) < 0)
		return -errno;
	if (shared)
		(void)fchmodat(dirfd, name, 02770, 0);
	return 0;
}

int local_mkfifo_at(int dirfd, const char *name)
{
	bool shared = local_dir_shared(dirfd);

	if (mkfifoat(dirfd, name, shared ? 0660 : 0600) < 0)
		return -errno;
	if (shared)
		(void)fchmodat(dirfd, name, 0660, 0);
	return 0;
}

/*
 * The directory as this process first opened it: a process that chroot()s
 * after its first use of xsock (or its forked children, which open their
 * own backend) can no longer reach it by name. Kept for the process's
 * life, out of the application's way; lost at exec, as is the chroot's
 * reason to need it.
 */
static pthread_mutex_t root_lock = PTHREAD_MUTEX_INITIALIZER;
static int root_fd = -1;
static char root_path[PATH_MAX];

/* A lock another thread held at fork() stays held in the child. */
static void root_child_after_fork(void)
{
	pthread_mutex_init(&root_lock, NULL);
}

__attribute__((constructor)) static void root_constructor(void)
{
	pthread_atfork(NULL, NULL, root_child_after_fork);
}

static int open_root(const char *dir)
{
	bool known;
	struct stat a, b;
	int fd, keep;

	pthread_mutex_lock(&root_lock);
	known = root_fd >= 0 && strcmp(root_path, dir) == 0;
	fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && !known) {
		fd = mkdir_p(dir, 0700);
		if (fd == 0)
			fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd == -1)
		fd = -errno;
	if (fd < 0 && known) {
		/* Not reachable by name (chroot): the one we opened before. */
		fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			fd = -errno;
	} else if (fd >= 0 && (!known || fstat(fd, &a) < 0 || fstat(root_fd, &b) < 0 ||
			       a.st_dev != b.st_dev || a.st_ino != b.st_ino)) {
		keep = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (keep >= 0) {
			if (root_fd >= 0)
				close(root_fd);
			root_fd = xs_fd_out_of_way(keep);
			snprintf(root_path, sizeof(root_path), "%s", dir);
		}
	}
	pthread_mutex_unlock(&root_lock);
	return fd;
}

/*
 * Who may use the directory: it belongs to root or to us and is not
 * writable by everyone (else its owner, or anyone, could read and inject
 * into our rings); and we can read, write and search it. Errors: -EPERM
 * not trusted, -EACCES no access (docs/protocol.md, "Who may use rings").
 */
static int check_root(int fd, const char *dir)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & S_IWOTH)) {
		xs_log(XS_LOG_DEBUG, "%s: owner uid %u, mode %04o: not trusted", dir,
		       (unsigned int)st.st_uid, (unsigned int)(st.st_mode & 07777));
		return -EPERM;
	}
	if (faccessat(fd, ".", R_OK | W_OK | X_OK, AT_EACCESS) < 0)
		return -errno;
	return 0;
}

static int local_open(struct xsp *p)
{
	const char *dir = xs_env_str("XSOCK_LOCAL_DIR");
	struct local_priv *lp;
	int rc;

	rc = read_domid(&p->self);
	if (rc < 0) {
		xs_log(XS_LOG_ERR, "XSOCK_DOMID must be a number below 32752");
		return rc;
	}
	if (!dir)
		dir = LOCAL_DEFAULT_DIR;
	if (dir[0] != '/' || strlen(dir) >= sizeof(lp->dir) - 64)
		return -EINVAL;
	lp = calloc(1, sizeof(*lp));
	if (!lp)
		return -ENOMEM;
	strcpy(lp->dir, dir);
	snprintf(lp->status, sizeof(lp->status), "%s/status", dir);
	lp->dirfd = open_root(dir);
	if (lp->dirfd < 0) {
		rc = lp->dirfd;
		goto free_priv;
	}
	rc = check_root(lp->dirfd, dir);
	if (rc < 0) {
		close(lp->dirfd);
		goto free_priv;
	}
	lp->dirfd = xs_fd_out_of_way(lp->dirfd);
	p->priv = lp;
	return 0;

free_priv:
	free(lp);
	return rc;
}

static void local_close(struct xsp *p)
{
	struct local_priv *lp = local_priv(p);

	if (lp->dirfd >= 0)
		close(lp->dirfd);
	free(lp);
	p->priv = NULL;
}

int local_counter_add(struct xsp *p, const char *name, uint32_t n, uint32_t *first)
{
	struct local_priv *lp = local_priv(p);
	char buf[32];
	uint64_t v;
	ssize_t len;
	int fd, rc = 0;

	if (n == 0 || n > LOCAL_COUNTER_MAX_BATCH)
		return -EINVAL;
	fd = local_creat_at(lp->dirfd, name, O_RDWR);
	if (fd < 0)
		return fd;
	if (flock(fd, LOCK_EX) < 0) {
		rc = -errno;
		goto close_fd;
	}
	len = pread(fd, buf, sizeof(buf) - 1, 0);
	if (len < 0) {
		rc = -errno;
		goto close_fd;
	}
	buf[len] = '\0';
	v = (uint64_t)(uint32_t)strtoul(buf, NULL, 10) + 1;	/* the first number */
	if (v + n - 1 > 0x7FFFFFFF)	/* would wrap, or corrupt: start over */
		v = 1;
	len = snprintf(buf, sizeof(buf), "%u\n", (unsigned int)(v + n - 1));
	errno = 0;
	if (pwrite(fd, buf, (size_t)len, 0) != len || ftruncate(fd, len) < 0) {
		rc = errno ? -errno : -EIO;
		goto close_fd;
	}
	*first = (uint32_t)v;
close_fd:
	close(fd);	/* drops the flock */
	return rc;
}

int local_counter_next(struct xsp *p, const char *name, uint32_t *out)
{
	return local_counter_add(p, name, 1, out);
}

int local_lock_open(int dirfd, const char *name, int flags)
{
	int fd, rc;

	if (flags & O_CREAT) {
		fd = local_creat_at(dirfd, name, flags);
		if (fd < 0)
			return fd;
	} else {
		fd = openat(dirfd, name, flags | O_CLOEXEC);
		if (fd < 0)
			return -errno;
	}
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			rc = -errno;
			close(fd);
			return rc;
		}
	}
	return fd;
}

int local_fifo_open(int dirfd, const char *name, int *rfd, int *wfd)
{
	int rc;

	*wfd = -1;
	*rfd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (*rfd < 0)
		return -errno;
	*wfd = openat(dirfd, name, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (*wfd < 0) {
		rc = -errno;
		close(*rfd);
		*rfd = -1;
		return rc;
	}
	return 0;
}

int local_opendir_at(int dirfd, const char *name, int flags, DIR **out)
{
	int fd, rc;

	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | flags);
	if (fd < 0)
		return -errno;
	*out = fdopendir(fd);
	if (!*out) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return 0;
}

static const char *local_status_base(const struct xsp *p)
{
	return local_priv(p)->status;
}

const struct xsp_ops xsp_local_ops = {
	.name = "local",
	.status_base = local_status_base,
	.open = local_open,
	.close = local_close,
	.share = local_share,
	.unshare = local_unshare,
	.map = local_map,
	.unmap = local_unmap,
	.map_forget = local_map_forget,
	.map_notify = local_map_notify,
	.map_orphan = local_map_orphan,
	.evtchn_alloc = local_evtchn_alloc,
	.evtchn_bind = local_evtchn_bind,
	.evtchn_notify = local_evtchn_notify,
	.evtchn_ack = local_evtchn_ack,
	.evtchn_close = local_evtchn_close,
	.evtchn_export = local_evtchn_export,
	.evtchn_import = local_evtchn_import,
	.share_export = local_share_export,
	.share_import = local_share_import,
	.share_forget = local_share_forget,
	.evtchn_forget = local_evtchn_forget,
	.store_open = local_store_open,
	.store_close = local_store_close,
	.store_read = local_store_read,
	.store_write = local_store_write,
	.store_rm = local_store_rm,
	.store_list = local_store_list,
	.store_set_perms = local_store_set_perms,
	.store_get_perms = local_store_get_perms,
	.txn_start = local_txn_start,
	.txn_end = local_txn_end,
	.watch_add = local_watch_add,
	.watch_rm = local_watch_rm,
	.watch_read = local_watch_read,
};
