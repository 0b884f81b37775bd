/* SPDX-License-Identifier: MIT */
/*
 * The local backend's store: xenstored's semantics for the processes of one
 * host, kept in files below XSOCK_LOCAL_DIR so that processes in different
 * network namespaces (sharing only the filesystem) see one store. Nothing
 * here uses sockets or anything network-namespaced, and nothing relies on
 * pids for liveness (pid namespaces may differ too).
 *
 * This file: opening and closing a store handle, with the bootstrap of the
 * nodes every domain needs, and the interface entry points for nodes. The
 * rest, one job a file, sharing store_priv.h:
 *   store_tree.c   the live tree on disk: a node's files, reading them,
 *                  applying a write, removal or permission change
 *   store_perms.c  permissions and quotas, the access checks
 *   store_log.c    the store lock and the change log; publishing a change
 *   store_txn.c    transactions: the overlay, views, start and commit
 *   store_watch.c  watches: registrations, FIFOs, delivery of events
 *
 * Layout below <dir>:
 *   store/                 the node "/"; every node is a directory holding
 *     .v                   its value (missing: empty value)
 *     .p                   its permissions as Xen strings: "n1 r2 b3"
 *     <child>/             child nodes (names are [A-Za-z0-9_@-], so they
 *                          never clash with the dot-files)
 *   store.lock             flock()ed: shared for reads, exclusive for every
 *                          modification. It also holds the change log: a
 *                          header {magic, generation, lost, head} and a ring
 *                          of LOG_SLOTS {generation, key} records.
 *   store-quota/<domid>    number of nodes owned by <domid> (text)
 *   store-txn/<domid>/<n>  one file per open transaction, flock()ed by its
 *                          owner; a record whose flock can be taken belongs
 *                          to a dead process and is removed lazily.
 *   store-watch/<n>.fifo   one FIFO per store handle: its watch events
 *   store-watch/<n>.reg    the handle's domid and watches ("X1\0dom\0" then
 *                          "path\0token\0" pairs), replaced by rename()
 *   store-watch/<n>.ovf    present when an event did not fit into the FIFO
 *
 * Bootstrapping (every xsp_store_open(), cheap when nothing is missing):
 *   /  /local  /local/domain           owner 0, "r0" (everyone may read;
 *                                      real Xen uses "n0", which would hide
 *                                      other domains' homes from listing)
 *   /local/domain/<self>               owner <self>, "n<self>"
 *   /local/domain/<self>/data          owner <self>, "n<self>"
 * A node is only created when missing; existing permissions are kept.
 *
 * fork(): a child that keeps using its parent's handle gets its own lock
 * (the lock fd is reopened when the pid changes), but shares the watch
 * FIFO and the list of open transactions with the parent; only one of them
 * should use those. A forked child holding a transaction record's fd keeps
 * that record alive until it exits or execs (the fds are O_CLOEXEC).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/env.h"
#include "common/fd.h"
#include "common/log.h"
#include "platform/local/store_priv.h"

#define DEFAULT_NODE_QUOTA 10000

/* ---- bootstrap ------------------------------------------------------------------------- */

static int ensure_node(struct cctx *c, const char *path, xsp_domid_t owner, unsigned int perm)
{
	struct perms pm = { .n = 1, .p = { { .dom = owner, .perm = perm } } };
	int rc;

	if (live_exists(c->sp, path)) {
		char r[PATH_MAX];
		struct stat sb;

		if (store_rel(path, ".p", r, sizeof(r)) == 0 &&
		    fstatat(c->sp->dirfd, r, &sb, 0) == 0)
			return 0;
		/* exists but broken (killed creator): repair */
	}
	rc = live_create(c->sp, path, &pm, "", 0);
	if (rc < 0)
		return rc;
	cctx_quota(c, owner, 1);
	rc = cctx_created(c, path);
	return rc < 0 ? rc : cctx_ev(c, path, false);
}

static int bootstrap(struct store_priv *sp)
{
	char home[64], data[80];
	const char *nodes[5] = { "/", "/local", "/local/domain", home, data };
	struct cctx c = { .sp = sp };
	bool ok = true;
	struct stat sb;
	char r[PATH_MAX];
	int i, rc;

	snprintf(home, sizeof(home), "/local/domain/%u", (unsigned int)sp->self);
	snprintf(data, sizeof(data), "%s/data", home);
	rc = store_lock(sp, LOCK_SH);
	if (rc < 0)
		return rc;
	for (i = 0; i < 5 && ok; i++)
		ok = store_rel(nodes[i], ".p", r, sizeof(r)) == 0 &&
		     fstatat(sp->dirfd, r, &sb, 0) == 0;
	store_unlock(sp);
	if (ok)
		return 0;
	rc = store_lock(sp, LOCK_EX);
	if (rc < 0)
		return rc;
	for (i = 0; i < 5 && rc == 0; i++)
		rc = ensure_node(&c, nodes[i], i < 3 ? 0 : sp->self,
				 i < 3 ? XSP_PERM_READ : XSP_PERM_NONE);
	if (cctx_finish(&c) < 0 && rc == 0)
		rc = -EIO;
	store_unlock(sp);
	return rc;
}

/* ---- the interface ------------------------------------------------------------------------ */

int local_store_open(struct xsp *p, struct xsp_store *st)
{
	struct local_priv *lp = local_priv(p);
	struct store_priv *sp;
	int rc;

	sp = calloc(1, sizeof(*sp));
	if (!sp)
		return -ENOMEM;
	sp->dirfd = lp->dirfd;
	sp->self = p->self;
	sp->rfd = sp->kfd = -1;
	sp->quota = xs_env_long("XSOCK_STORE_NODE_QUOTA", DEFAULT_NODE_QUOTA, 1, LONG_MAX);
	sp->lockfd = local_creat_at(sp->dirfd, LOCK_FILE, O_RDWR);
	if (sp->lockfd < 0) {
		rc = sp->lockfd;
		goto free_sp;
	}
	sp->lockfd = xs_fd_out_of_way(sp->lockfd);
	sp->lockpid = getpid();
	if ((rc = local_mkdir_at(sp->dirfd, TXN_DIR)) == -EEXIST)
		rc = 0;
	if (rc == 0 && (rc = local_mkdir_at(sp->dirfd, WATCH_DIR)) == -EEXIST)
		rc = 0;
	if (rc == 0 && (rc = local_mkdir_at(sp->dirfd, QUOTA_DIR)) == -EEXIST)
		rc = 0;
	if (rc < 0)
		goto close_lock;
	rc = bootstrap(sp);
	if (rc < 0)
		goto close_lock;
	rc = watch_setup(sp);
	if (rc < 0)
		goto close_lock;
	st->watch_fd = sp->rfd;
	st->priv = sp;
	return 0;

close_lock:
	close(sp->lockfd);
free_sp:
	xs_log(XS_LOG_ERR, "store: open failed: %s", strerror(-rc));
	free(sp);
	return rc;
}

void local_store_close(struct xsp_store *st)
{
	struct store_priv *sp = spriv(st);

	if (!sp)
		return;
	while (sp->txns) {
		struct txn *tx = sp->txns;

		sp->txns = tx->next;
		txn_free(sp, tx);
	}
	watch_close(sp);
	close(sp->lockfd);
	free(sp);
	st->priv = NULL;
	st->watch_fd = -1;
}

/* Resolve @t into a view. Errors: -ENOENT unknown transaction. */
static int get_view(struct xsp_store *st, xsp_txn_t t, struct view *v)
{
	v->sp = spriv(st);
	v->tx = NULL;
	if (t == XSP_TXN_NONE)
		return 0;
	v->tx = txn_find(v->sp, t);
	return v->tx ? 0 : -ENOENT;
}

/*
 * @path recorded in @v's transaction, if any (@children: its child list
 * too), then the lock taken @how. On success the caller must
 * store_unlock(v->sp).
 */
static int view_lock(struct view *v, const char *path, bool children, int how)
{
	int rc;

	if (v->tx) {
		rc = acc_path(v->tx, path, children);
		if (rc < 0)
			return rc;
	}
	return store_lock(v->sp, how);
}

/*
 * The start of every read: the view for @t, the read recorded in a
 * transaction (@children: its child list too), the shared lock taken.
 * On success the caller must store_unlock(v->sp).
 */
static int read_begin(struct xsp_store *st, xsp_txn_t t, const char *path, bool children,
		      struct view *v)
{
	int rc = get_view(st, t, v);

	if (rc < 0)
		return rc;
	return view_lock(v, path, children, LOCK_SH);
}

/*
 * Outside a transaction, under the exclusive lock: make one change to the
 * live tree (apply_op()) and publish it.
 */
static int change_live(struct store_priv *sp, int kind, const char *path, const void *val,
		       size_t len, const struct perms *pm)
{
	struct cctx c = { .sp = sp };
	int rc, rc2;

	rc = apply_op(&c, kind, path, val, len, pm);
	rc2 = cctx_finish(&c);
	if (rc == 0)
		rc = rc2;
	return rc;
}

int local_store_read(struct xsp_store *st, xsp_txn_t t, const char *path,
		     char **val, size_t *len)
{
	struct view v;
	size_t l = 0;
	int rc;

	rc = read_begin(st, t, path, false, &v);
	if (rc < 0)
		return rc;
	rc = view_access(&v, path, XSP_PERM_READ, NULL, val, &l);
	store_unlock(v.sp);
	if (len)
		*len = l;
	return rc;
}

int local_store_write(struct xsp_store *st, xsp_txn_t t, const char *path,
		      const void *val, size_t len)
{
	struct view v;
	unsigned int created;
	size_t alen;
	int rc;

	rc = get_view(st, t, &v);
	if (rc < 0)
		return rc;
	if (!val)
		val = "";
	/* check_write() records what it consults in the transaction. */
	rc = store_lock(v.sp, v.tx ? LOCK_SH : LOCK_EX);
	if (rc < 0)
		return rc;
	rc = check_write(&v, path, &created, &alen);
	if (rc == 0)
		rc = check_quota(v.sp, (v.tx ? v.tx->created : 0) + (long)created);
	if (rc == 0 && v.tx)
		rc = txn_write(v.sp, v.tx, path, val, len, alen);
	else if (rc == 0)
		rc = change_live(v.sp, OP_WRITE, path, val, len, NULL);
	store_unlock(v.sp);
	return rc;
}

int local_store_rm(struct xsp_store *st, xsp_txn_t t, const char *path)
{
	struct view v;
	int rc;

	rc = get_view(st, t, &v);
	if (rc < 0)
		return rc;
	if (is_root(path))
		return -EINVAL;
	rc = view_lock(&v, path, false, v.tx ? LOCK_SH : LOCK_EX);
	if (rc < 0)
		return rc;
	rc = view_access(&v, path, XSP_PERM_WRITE, NULL, NULL, NULL);
	if (rc == 0 && v.tx)
		rc = txn_rm(v.tx, path);
	else if (rc == 0)
		rc = change_live(v.sp, OP_RM, path, NULL, 0, NULL);
	store_unlock(v.sp);
	return rc;
}

int local_store_list(struct xsp_store *st, xsp_txn_t t, const char *path,
		     char ***names, unsigned int *n)
{
	char **list = NULL, **block, *s;
	size_t cnt = 0, i, total;
	struct view v;
	int rc;

	rc = read_begin(st, t, path, true, &v);
	if (rc < 0)
		return rc;
	rc = view_access(&v, path, XSP_PERM_READ, NULL, NULL, NULL);
	if (rc == 0)
		rc = view_children(&v, path, &list, &cnt);
	store_unlock(v.sp);
	if (rc < 0)
		return rc;
	total = (cnt + 1) * sizeof(char *);
	for (i = 0; i < cnt; i++)
		total += strlen(list[i]) + 1;
	block = malloc(total);
	if (!block) {
		rc = -ENOMEM;
		goto free_list;
	}
	s = (char *)(block + cnt + 1);
	for (i = 0; i < cnt; i++) {
		size_t l = strlen(list[i]) + 1;

		block[i] = s;
		memcpy(s, list[i], l);
		s += l;
	}
	block[cnt] = NULL;
	*names = block;
	*n = (unsigned int)cnt;
free_list:
	for (i = 0; i < cnt; i++)
		free(list[i]);
	free(list);
	return rc;
}

int local_store_set_perms(struct xsp_store *st, xsp_txn_t t, const char *path,
			  const struct xsp_perm *perms, unsigned int n)
{
	struct perms pm;
	struct view v;
	unsigned int i;
	int rc;

	rc = get_view(st, t, &v);
	if (rc < 0)
		return rc;
	if (n == 0 || n > MAX_PERMS)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (perms[i].perm > XSP_PERM_BOTH)
			return -EINVAL;
		pm.p[i] = perms[i];
	}
	pm.n = n;
	rc = view_lock(&v, path, false, v.tx ? LOCK_SH : LOCK_EX);
	if (rc < 0)
		return rc;
	rc = check_set_perms(&v, path, &pm);
	if (rc == 0 && v.tx)
		rc = txn_set_perms(v.sp, v.tx, path, &pm);
	else if (rc == 0)
		rc = change_live(v.sp, OP_PERMS, path, NULL, 0, &pm);
	store_unlock(v.sp);
	return rc;
}

int local_store_get_perms(struct xsp_store *st, xsp_txn_t t, const char *path,
			  struct xsp_perm **perms, unsigned int *n)
{
	struct perms pm;
	struct view v;
	int rc;

	rc = read_begin(st, t, path, false, &v);
	if (rc < 0)
		return rc;
	rc = view_access(&v, path, XSP_PERM_READ, &pm, NULL, NULL);
	store_unlock(v.sp);
	if (rc < 0)
		return rc;
	*perms = malloc(pm.n * sizeof(**perms));
	if (!*perms)
		return -ENOMEM;
	memcpy(*perms, pm.p, pm.n * sizeof(**perms));
	*n = pm.n;
	return 0;
}
