/* SPDX-License-Identifier: MIT */
/*
 * The xen backend's store: libxenstore, one xs_open() connection per
 * xsp_store. Watch events come from libxenstore's reader thread through
 * the pipe xs_fileno() returns; watch_read uses xs_check_watch(), never
 * the blocking xs_read_watch().
 *
 * Error mapping: xenstored errors arrive as errno values; EPERM becomes
 * -EACCES, E2BIG and EDQUOT (quota) -ENOSPC, a lost connection -EIO.
 *
 * Fork: a libxenstore handle MUST NOT be used by a forked child (xen.c,
 * "Fork").
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xenstore.h>

#include "platform/xen/private.h"
#include "platform/xen/xenlibs.h"

/*
 * The watches registered on one store connection. Linux's xenbus device
 * (the domU path of libxenstore) answers every XS_UNWATCH with OK, so
 * xsp_watch_rm() keeps its own list to report -ENOENT as platform.h says.
 */
struct xen_watch {
	struct xen_watch *next;
	char *token;			/* points into the same block */
	char path[];
};

struct xen_store {
	struct xs_handle *h;
	struct xen_watch *watches;
};

/* Map an errno from libxenstore to the contract. */
static int map_store_errno(int e)
{
	switch (e) {
	case ENOENT:
	case EACCES:
	case EINVAL:
	case EAGAIN:
	case ENOSPC:
	case ENOMEM:
	case EEXIST:
	case EBUSY:
		return -e;
	case EPERM:
		return -EACCES;
	case E2BIG:
	case EDQUOT:
		return -ENOSPC;
	default:
		return -EIO;		/* connection lost, protocol error */
	}
}

static struct xs_handle *xsh(const struct xsp_store *st)
{
	return ((struct xen_store *)st->priv)->h;
}

/* The link pointing at the watch (@path, @token), or at the list's end. */
static struct xen_watch **find_watch(struct xsp_store *st, const char *path, const char *token)
{
	struct xen_watch **w = &((struct xen_store *)st->priv)->watches;

	while (*w && (strcmp((*w)->path, path) != 0 || strcmp((*w)->token, token) != 0))
		w = &(*w)->next;
	return w;
}

int xen_store_open(struct xsp *p, struct xsp_store *st)
{
	struct xen_store *xst;
	struct xs_handle *h;
	int fd, e;

	xst = calloc(1, sizeof(*xst));
	if (!xst)
		return -ENOMEM;
	errno = 0;
	/* Not XS_UNWATCH_FILTER: watch_read filters with our own list (in
	 * domUs, libxenstore's filter leaked the events it dropped under
	 * LeakSanitizer). */
	h = xs_open(0);
	if (!h) {
		e = xen_err_or(ENOENT);
		free(xst);
		if (e == EACCES || e == EPERM)
			return -EACCES;
		if (e == ENOMEM)
			return -ENOMEM;
		return -ENOENT;
	}
	fd = xs_fileno(h);	/* creates the watch pipe */
	if (fd < 0) {
		e = xen_err_or(ENOMEM);
		xs_close(h);
		free(xst);
		return e == EMFILE || e == ENFILE ? -EMFILE : -ENOMEM;
	}
	xst->h = h;
	st->watch_fd = fd;
	st->priv = xst;
	return 0;
}

void xen_store_close(struct xsp_store *st)
{
	struct xen_store *xst = st->priv;
	struct xen_watch *w, *next;

	xs_close(xst->h);	/* drops its watches in xenstored too */
	for (w = xst->watches; w; w = next) {
		next = w->next;
		free(w);
	}
	free(xst);
	st->priv = NULL;
	st->watch_fd = -1;
}

int xen_store_read(struct xsp_store *st, xsp_txn_t t, const char *path, char **val,
		   size_t *len)
{
	unsigned int l = 0;
	char *v;

	errno = 0;
	v = xs_read(xsh(st), t, path, &l);
	if (!v)
		return map_store_errno(xen_err_or(EIO));
	*val = v;		/* libxenstore NUL-terminates */
	if (len)
		*len = l;
	return 0;
}

int xen_store_write(struct xsp_store *st, xsp_txn_t t, const char *path,
		    const void *val, size_t len)
{
	errno = 0;
	if (!xs_write(xsh(st), t, path, val, (unsigned int)len))
		return map_store_errno(xen_err_or(EIO));
	return 0;
}

/*
 * xenstored acknowledges removing a missing node whose parent exists, so
 * -ENOENT comes from a read first (a node we may not read goes straight to
 * the removal, which then decides).
 */
int xen_store_rm(struct xsp_store *st, xsp_txn_t t, const char *path)
{
	unsigned int len;
	char *v;

	errno = 0;
	v = xs_read(xsh(st), t, path, &len);
	if (v)
		free(v);
	else if (errno == ENOENT)
		return -ENOENT;
	errno = 0;
	if (!xs_rm(xsh(st), t, path))
		return map_store_errno(xen_err_or(EIO));
	return 0;
}

int xen_store_list(struct xsp_store *st, xsp_txn_t t, const char *path, char ***names,
		   unsigned int *n)
{
	unsigned int num = 0;
	char **v;

	errno = 0;
	/* One block: the pointer array followed by the strings. */
	v = xs_directory(xsh(st), t, path, &num);
	if (!v)
		return map_store_errno(xen_err_or(EIO));
	*names = v;
	*n = num;
	return 0;
}

int xen_store_set_perms(struct xsp_store *st, xsp_txn_t t, const char *path,
			const struct xsp_perm *perms, unsigned int n)
{
	struct xs_permissions xp[64];
	unsigned int i;

	for (i = 0; i < n; i++) {
		xp[i].id = perms[i].dom;
		xp[i].perms = perms[i].perm & XSP_PERM_BOTH;
	}
	errno = 0;
	if (!xs_set_permissions(xsh(st), t, path, xp, n))
		return map_store_errno(xen_err_or(EIO));
	return 0;
}

int xen_store_get_perms(struct xsp_store *st, xsp_txn_t t, const char *path,
			struct xsp_perm **perms, unsigned int *n)
{
	struct xs_permissions *xp;
	struct xsp_perm *out;
	unsigned int num = 0, i;

	errno = 0;
	xp = xs_get_permissions(xsh(st), t, path, &num);
	if (!xp)
		return map_store_errno(xen_err_or(EIO));
	out = calloc(num ? num : 1, sizeof(*out));
	if (!out) {
		free(xp);
		return -ENOMEM;
	}
	for (i = 0; i < num; i++) {
		out[i].dom = (xsp_domid_t)xp[i].id;
		out[i].perm = (unsigned int)xp[i].perms & XSP_PERM_BOTH;
	}
	free(xp);
	*perms = out;
	*n = num;
	return 0;
}

int xen_txn_start(struct xsp_store *st, xsp_txn_t *t)
{
	xs_transaction_t x;

	errno = 0;
	x = xs_transaction_start(xsh(st));
	if (x == XBT_NULL)
		return map_store_errno(xen_err_or(EIO));
	*t = x;
	return 0;
}

int xen_txn_end(struct xsp_store *st, xsp_txn_t t, bool abort)
{
	errno = 0;
	if (!xs_transaction_end(xsh(st), t, abort))
		return map_store_errno(xen_err_or(EIO));
	return 0;
}

int xen_watch_add(struct xsp_store *st, const char *path, const char *token)
{
	struct xen_store *xst = st->priv;
	size_t lp = strlen(path), lt = strlen(token);
	struct xen_watch *w;

	if (*find_watch(st, path, token))
		return -EEXIST;		/* what xenstored says for a duplicate */
	w = malloc(sizeof(*w) + lp + lt + 2);
	if (!w)
		return -ENOMEM;
	memcpy(w->path, path, lp + 1);
	w->token = w->path + lp + 1;
	memcpy(w->token, token, lt + 1);
	errno = 0;
	if (!xs_watch(xst->h, path, token)) {
		int e = xen_err_or(EIO);

		free(w);
		return map_store_errno(e);
	}
	w->next = xst->watches;
	xst->watches = w;
	return 0;
}

int xen_watch_rm(struct xsp_store *st, const char *path, const char *token)
{
	struct xen_watch **link = find_watch(st, path, token), *w = *link;

	if (!w)
		return -ENOENT;
	*link = w->next;
	free(w);
	errno = 0;
	if (!xs_unwatch(xsh(st), path, token))
		return map_store_errno(xen_err_or(ENOENT));
	return 0;
}

/*
 * Whether an event for @path with @token belongs to a watch still
 * registered: same token, and @path is the watched node or below it
 * (special "@..." watches match exactly).
 */
static bool watch_registered(struct xsp_store *st, const char *path, const char *token)
{
	struct xen_watch *w;
	size_t l;

	for (w = ((struct xen_store *)st->priv)->watches; w; w = w->next) {
		if (strcmp(w->token, token) != 0)
			continue;
		l = strlen(w->path);
		if (strncmp(w->path, path, l) == 0 && (path[l] == '\0' || path[l] == '/' ||
							 (l == 1 && w->path[0] == '/')))
			return true;
	}
	return false;
}

int xen_watch_read(struct xsp_store *st, char **path, char **token)
{
	char **ev;
	size_t lp, lt;
	char *blk;

	for (;;) {
		errno = 0;
		/* Non-blocking; xs_read_watch() would block. */
		ev = xs_check_watch(xsh(st));
		if (!ev) {
			if (errno == EAGAIN || errno == 0)
				return -EAGAIN;
			return map_store_errno(errno);
		}
		if (watch_registered(st, ev[XS_WATCH_PATH], ev[XS_WATCH_TOKEN]))
			break;
		free(ev);	/* queued before xsp_watch_rm(): drop */
	}
	/* Our contract: free(*path) frees both strings, so *path must be
	 * the start of the block; libxenstore's block starts with the
	 * pointer array. Copy. */
	lp = strlen(ev[XS_WATCH_PATH]);
	lt = strlen(ev[XS_WATCH_TOKEN]);
	blk = malloc(lp + lt + 2);
	if (!blk) {
		free(ev);
		return -ENOMEM;
	}
	memcpy(blk, ev[XS_WATCH_PATH], lp + 1);
	memcpy(blk + lp + 1, ev[XS_WATCH_TOKEN], lt + 1);
	free(ev);
	*path = blk;
	*token = blk + lp + 1;
	return 0;
}
