/* SPDX-License-Identifier: MIT */
/*
 * The local store's live tree on disk (store.c, "Layout"): where a node's
 * files are, reading a node's value, permissions and children, creating a
 * node, and applying a write, a removal or a permission change under the
 * exclusive lock, recording in a struct cctx what the change must publish
 * (store_log.c).
 *
 * Writes of .v/.p go through a temporary file and rename(); all changes
 * happen under the exclusive lock, so readers (shared lock) never see a
 * half-made change. A process killed in the middle of a change may leave a
 * node without .p or .v: such a node reads as "owner 0, no access" and an
 * empty value (logged), never as a crash.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "platform/local/store_priv.h"

/* ---- files ---------------------------------------------------------------------------------- */

/* "store<path>[/leaf]" relative to the backend directory. */
int store_rel(const char *path, const char *leaf, char *buf, size_t size)
{
	int n;

	n = snprintf(buf, size, "%s%s%s%s", STORE_DIR, is_root(path) ? "" : path,
		     leaf ? "/" : "", leaf ? leaf : "");
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int store_read_file_at(int dirfd, const char *name, size_t max, char **out, size_t *len)
{
	char *buf = NULL;
	size_t cap = 0, n = 0;
	ssize_t r;
	int fd, rc = 0;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (n + 1 >= cap) {
			rc = grow((void **)&buf, &cap, n + 4097, 1);
			if (rc < 0)
				goto close_fd;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			goto close_fd;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			rc = -EFBIG;
			goto close_fd;
		}
	}
	if (!buf) {
		buf = malloc(1);
		if (!buf) {
			rc = -ENOMEM;
			goto close_fd;
		}
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
close_fd:
	free(buf);
	close(fd);
	return rc;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *c = data;
	ssize_t r;

	while (len) {
		r = write(fd, c, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		c += r;
		len -= (size_t)r;
	}
	return 0;
}

/* Replace @name (relative to @dirfd) atomically with @data. */
int store_write_file_atomic(int dirfd, const char *name, const void *data, size_t len)
{
	char tmp[PATH_MAX];
	int fd, rc;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", name) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = local_creat_at(dirfd, tmp, O_WRONLY | O_TRUNC | O_NOFOLLOW);
	if (fd < 0)
		return fd;
	rc = write_all(fd, data, len);
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		rc = -errno;
	if (rc < 0)
		unlinkat(dirfd, tmp, 0);
	return rc;
}

/* ---- the live tree ------------------------------------------------------------ */

bool live_exists(struct store_priv *sp, const char *path)
{
	char r[PATH_MAX];
	struct stat sb;

	if (store_rel(path, NULL, r, sizeof(r)) < 0)
		return false;
	return fstatat(sp->dirfd, r, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode);
}

void live_perms(struct store_priv *sp, const char *path, struct perms *pm)
{
	char r[PATH_MAX];
	char *buf = NULL;
	size_t len;
	int rc;

	rc = store_rel(path, ".p", r, sizeof(r));
	if (rc == 0)
		rc = store_read_file_at(sp->dirfd, r, 4096, &buf, &len);
	if (rc == 0)
		rc = perms_parse(buf, pm);
	free(buf);
	if (rc < 0) {
		xs_log(XS_LOG_WARN, "store: node %s: bad or missing permissions (%s), "
		       "treating as owner 0, no access", path, strerror(-rc));
		pm->n = 1;
		pm->p[0].dom = 0;
		pm->p[0].perm = XSP_PERM_NONE;
	}
}

int live_value(struct store_priv *sp, const char *path, char **val, size_t *len)
{
	char r[PATH_MAX];
	int rc;

	rc = store_rel(path, ".v", r, sizeof(r));
	if (rc < 0)
		return rc;
	rc = store_read_file_at(sp->dirfd, r, XSP_STORE_VALUE_MAX, val, len);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0) {
		xs_log(XS_LOG_WARN, "store: node %s: bad or missing value (%s), reading as empty",
		       path, strerror(-rc));
		*val = calloc(1, 1);
		*len = 0;
		return *val ? 0 : -ENOMEM;
	}
	return 0;
}

/* Child names of a live node, appended to *names (malloc()ed strings). */
int live_children(struct store_priv *sp, const char *path, char ***names, size_t *n,
		  size_t *cap)
{
	char r[PATH_MAX];
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int rc = 0;

	rc = store_rel(path, NULL, r, sizeof(r));
	if (rc < 0)
		return rc;
	rc = local_opendir_at(sp->dirfd, r, 0, &d);
	if (rc < 0)
		return rc == -ENOENT ? 0 : rc;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (de->d_type != DT_DIR) {
			if (de->d_type != DT_UNKNOWN ||
			    fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISDIR(sb.st_mode))
				continue;
		}
		rc = grow((void **)names, cap, *n + 1, sizeof(**names));
		if (rc < 0)
			break;
		(*names)[*n] = strdup(de->d_name);
		if (!(*names)[*n]) {
			rc = -ENOMEM;
			break;
		}
		(*n)++;
	}
	closedir(d);
	return rc;
}

int live_create(struct store_priv *sp, const char *path, const struct perms *pm,
		const void *val, size_t len)
{
	char r[PATH_MAX], pbuf[MAX_PERMS * 8 + 1];
	size_t plen;
	int rc;

	rc = store_rel(path, NULL, r, sizeof(r));
	if (rc < 0)
		return rc;
	rc = local_mkdir_at(sp->dirfd, r);
	if (rc < 0 && rc != -EEXIST)
		return rc;
	plen = perms_format(pm, pbuf);
	rc = store_rel(path, ".p", r, sizeof(r));
	if (rc == 0)
		rc = store_write_file_atomic(sp->dirfd, r, pbuf, plen);
	if (rc == 0)
		rc = store_rel(path, ".v", r, sizeof(r));
	if (rc == 0)
		rc = store_write_file_atomic(sp->dirfd, r, val, len);
	return rc;
}

/* ---- changes under the exclusive lock ------------------------------------------------------- */

static int apply_write(struct cctx *c, const char *path, const void *val, size_t len,
		       xsp_domid_t creator)
{
	char buf[XSP_STORE_PATH_MAX + 1], r[PATH_MAX];
	struct perms pm;
	size_t plen = strlen(path), alen;
	int rc;

	if (live_exists(c->sp, path)) {
		rc = store_rel(path, ".v", r, sizeof(r));
		if (rc == 0)
			rc = store_write_file_atomic(c->sp->dirfd, r, val, len);
		if (rc == 0)
			rc = cctx_key(c, path, plen, KEY_V);
		return rc < 0 ? rc : cctx_ev(c, path, false);
	}
	/* Find the nearest existing ancestor, then create downwards. */
	memcpy(buf, path, plen + 1);
	alen = plen;
	do {
		alen = parent_len(buf, alen);
		buf[alen] = '\0';
	} while (alen > 1 && !live_exists(c->sp, buf));
	live_perms(c->sp, buf, &pm);
	while (alen < plen) {
		alen = extend(path, plen, buf, alen);
		pm.p[0].dom = creator;
		rc = live_create(c->sp, buf, &pm, alen == plen ? val : "",
				 alen == plen ? len : 0);
		if (rc < 0)
			return rc;
		cctx_quota(c, creator, 1);
		rc = cctx_created(c, buf);
		if (rc < 0)
			return rc;
	}
	return cctx_ev(c, path, false);
}

/* Remove the directory tree @r (relative to the store fd), counting owners. */
static int rm_tree(struct cctx *c, char *r, size_t rlen)
{
	struct dirent *de;
	struct perms pm;
	char *buf = NULL;
	size_t len;
	DIR *d;
	int rc = 0;

	if (rlen + 4 < PATH_MAX) {
		memcpy(r + rlen, "/.p", 4);
		if (store_read_file_at(c->sp->dirfd, r, 4096, &buf, &len) == 0 &&
		    perms_parse(buf, &pm) == 0)
			cctx_quota(c, pm.p[0].dom, -1);
		else
			cctx_quota(c, 0, -1);
		free(buf);
		r[rlen] = '\0';
	}
	rc = local_opendir_at(c->sp->dirfd, r, O_NOFOLLOW, &d);
	if (rc < 0)
		return rc;
	while ((de = readdir(d)) != NULL) {
		size_t nlen = strlen(de->d_name);

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			continue;
		if (errno != EISDIR && errno != EPERM)
			continue;
		if (rlen + 1 + nlen >= PATH_MAX) {
			rc = -ENAMETOOLONG;
			continue;
		}
		r[rlen] = '/';
		memcpy(r + rlen + 1, de->d_name, nlen + 1);
		rc = rm_tree(c, r, rlen + 1 + nlen);
		r[rlen] = '\0';
	}
	closedir(d);
	if (unlinkat(c->sp->dirfd, r, AT_REMOVEDIR) < 0)
		rc = -errno;
	return rc;
}

static int apply_rm(struct cctx *c, const char *path)
{
	char r[PATH_MAX];
	size_t len = strlen(path);
	int rc;

	rc = store_rel(path, NULL, r, sizeof(r));
	if (rc < 0)
		return rc;
	rc = rm_tree(c, r, strlen(r));
	if (rc < 0)
		xs_log(XS_LOG_WARN, "store: removing %s: %s", path, strerror(-rc));
	if (cctx_key(c, path, len, KEY_S) < 0 || cctx_key(c, path, len, KEY_V) < 0 ||
	    cctx_key(c, path, parent_len(path, len), KEY_C) < 0)
		return -ENOMEM;
	cctx_ev(c, path, true);
	return rc;
}

static int apply_perms(struct cctx *c, const char *path, const struct perms *pm)
{
	char r[PATH_MAX], pbuf[MAX_PERMS * 8 + 1];
	struct perms old;
	size_t plen;
	int rc;

	live_perms(c->sp, path, &old);
	plen = perms_format(pm, pbuf);
	rc = store_rel(path, ".p", r, sizeof(r));
	if (rc == 0)
		rc = store_write_file_atomic(c->sp->dirfd, r, pbuf, plen);
	if (rc < 0)
		return rc;
	if (old.p[0].dom != pm->p[0].dom) {
		cctx_quota(c, old.p[0].dom, -1);
		cctx_quota(c, pm->p[0].dom, 1);
	}
	rc = cctx_key(c, path, strlen(path), KEY_V);
	return rc < 0 ? rc : cctx_ev(c, path, false);
}

/*
 * Apply one change of @kind made by the handle's domain: OP_WRITE of @val
 * (@len bytes), OP_RM (of a node that is gone already: nothing), OP_PERMS
 * of @pm.
 */
int apply_op(struct cctx *c, int kind, const char *path, const void *val, size_t len,
	     const struct perms *pm)
{
	switch (kind) {
	case OP_WRITE:
		return apply_write(c, path, val, len, c->sp->self);
	case OP_RM:
		return live_exists(c->sp, path) ? apply_rm(c, path) : 0;
	default:
		return apply_perms(c, path, pm);
	}
}
