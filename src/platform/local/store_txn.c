/* SPDX-License-Identifier: MIT */
/*
 * The local store's transactions: the overlay of a transaction's buffered
 * changes, the views reads and checks go through (the live tree, or a
 * transaction's), buffering, starting and committing.
 *
 * Transactions: xsp_txn_start() records the generation. Reads see the live
 * tree overlaid with the transaction's own buffered writes/removals/
 * permission changes; every path consulted is recorded. Conflicts are
 * FINE-GRAINED: each modification appends keys to the change log --
 * V(node) value/permissions/existence, C(node) its child list, S(node) the
 * subtree was removed -- and the commit fails with -EAGAIN (applying
 * nothing) iff a change made after the start touches something the
 * transaction read: V of a node it read or wrote, C of a node it listed, S
 * of any ancestor-or-self of those. Keys are 64-bit hashes, so a collision
 * can only cause a spurious -EAGAIN. If the ring has overwritten records
 * newer than the start, the commit conservatively fails with -EAGAIN. A
 * commit applies all its operations under one exclusive lock. Read-only
 * transactions are checked the same way. At most XSP_STORE_MAX_TXN open
 * transactions per domain across all processes; -ENOSPC beyond. Unknown
 * transaction ids are -ENOENT (as xenstored).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "platform/local/store_priv.h"

static uint32_t txn_seq;	/* process-wide transaction ids */

/* ---- transactions: overlay -------------------------------------------------------------- */

struct txn *txn_find(struct store_priv *sp, xsp_txn_t t)
{
	struct txn *tx;

	for (tx = sp->txns; tx; tx = tx->next)
		if (tx->id == t)
			return tx;
	return NULL;
}

static struct ov *ov_find(struct txn *tx, const char *path)
{
	size_t i;

	for (i = 0; i < tx->nov; i++)
		if (!strcmp(tx->ov[i].path, path))
			return &tx->ov[i];
	return NULL;
}

/* A (re)created or removed ancestor hides the live node @path. */
static bool ov_hidden(struct txn *tx, const char *path)
{
	size_t i;

	for (i = 0; i < tx->nov; i++)
		if ((tx->ov[i].deleted || tx->ov[i].fresh) && strict_anc(tx->ov[i].path, path))
			return true;
	return false;
}

static struct ov *ov_new(struct txn *tx, const char *path)
{
	struct ov *o;

	if (grow((void **)&tx->ov, &tx->capov, tx->nov + 1, sizeof(*tx->ov)) < 0)
		return NULL;
	o = &tx->ov[tx->nov];
	memset(o, 0, sizeof(*o));
	o->path = strdup(path);
	if (!o->path)
		return NULL;
	tx->nov++;
	return o;
}

/*
 * The overlay entry of @path, found or added, marked removed by the
 * transaction (@deleted) or (re)created by it. NULL: out of memory.
 */
static struct ov *ov_mark(struct txn *tx, const char *path, bool deleted)
{
	struct ov *o = ov_find(tx, path);

	if (!o)
		o = ov_new(tx, path);
	if (o) {
		o->deleted = deleted;
		o->fresh = !deleted;
	}
	return o;
}

static void ov_free(struct ov *o)
{
	free(o->path);
	free(o->val);
}

static int acc_add(struct txn *tx, uint64_t key)
{
	size_t i;
	int rc;

	for (i = 0; i < tx->nacc; i++)
		if (tx->acc[i] == key)
			return 0;
	rc = grow((void **)&tx->acc, &tx->capacc, tx->nacc + 1, sizeof(*tx->acc));
	if (rc < 0)
		return rc;
	tx->acc[tx->nacc++] = key;
	return 0;
}

/* Record that @tx depends on @path (and its child list if @list). */
int acc_path(struct txn *tx, const char *path, bool list)
{
	size_t len = strlen(path);
	int rc;

	rc = acc_add(tx, path_key(path, len, KEY_V));
	if (rc == 0 && list)
		rc = acc_add(tx, path_key(path, len, KEY_C));
	while (rc == 0) {
		rc = acc_add(tx, path_key(path, len, KEY_S));
		if (len == 1)
			break;
		len = parent_len(path, len);
	}
	return rc;
}

/* ---- views: the live tree, or a transaction's -------------------------------------------- */

/* Existence, permissions and (if @val) value of @path as @v sees it. */
int view_node(const struct view *v, const char *path, bool *exists, struct perms *pm,
	      char **val, size_t *len)
{
	struct ov *o;

	if (v->tx) {
		o = ov_find(v->tx, path);
		if (o) {
			*exists = !o->deleted;
			if (!*exists)
				return 0;
			if (pm)
				*pm = o->pm;
			if (val) {
				*val = malloc(o->len + 1);
				if (!*val)
					return -ENOMEM;
				memcpy(*val, o->val ? o->val : "", o->len);
				(*val)[o->len] = '\0';
				*len = o->len;
			}
			return 0;
		}
		if (ov_hidden(v->tx, path)) {
			*exists = false;
			return 0;
		}
	}
	*exists = live_exists(v->sp, path);
	if (!*exists)
		return 0;
	if (pm)
		live_perms(v->sp, path, pm);
	return val ? live_value(v->sp, path, val, len) : 0;
}

/* Existence check plus access check for domain self. */
int view_access(const struct view *v, const char *path, unsigned int need,
		struct perms *pm, char **val, size_t *len)
{
	struct perms tmp;
	bool exists;
	int rc;

	if (!pm)
		pm = &tmp;
	rc = view_node(v, path, &exists, pm, NULL, NULL);
	if (rc < 0)
		return rc;
	if (!exists)
		return -ENOENT;
	if ((perm_for(pm, v->sp->self) & need) != need)
		return -EACCES;
	return val ? view_node(v, path, &exists, NULL, val, len) : 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int view_children(const struct view *v, const char *path, char ***names, size_t *n)
{
	size_t cap = 0, i, j, plen = strlen(path), k;
	struct ov *o = v->tx ? ov_find(v->tx, path) : NULL;
	int rc = 0;

	*names = NULL;
	*n = 0;
	if (!(o && o->fresh))
		rc = live_children(v->sp, path, names, n, &cap);
	if (rc < 0 || !v->tx)
		goto sort;
	/* Drop children the transaction removed, add the ones it created. */
	for (i = 0; i < v->tx->nov; i++) {
		struct ov *c = &v->tx->ov[i];
		const char *name;

		if (!strict_anc(path, c->path) || strchr(c->path + plen + (plen > 1), '/'))
			continue;
		name = c->path + plen + (plen > 1);
		for (j = 0; j < *n && strcmp((*names)[j], name); j++)
			;
		if (c->deleted && j < *n) {
			free((*names)[j]);
			(*names)[j] = (*names)[--(*n)];
		} else if (!c->deleted && j == *n) {
			rc = grow((void **)names, &cap, *n + 1, sizeof(**names));
			if (rc < 0)
				break;
			(*names)[*n] = strdup(name);
			if (!(*names)[*n]) {
				rc = -ENOMEM;
				break;
			}
			(*n)++;
		}
	}
sort:
	if (rc < 0) {
		for (k = 0; k < *n; k++)
			free((*names)[k]);
		free(*names);
		*names = NULL;
		*n = 0;
		return rc;
	}
	if (*n)
		qsort(*names, *n, sizeof(**names), cmp_str);
	return 0;
}

/* ---- transactions: buffering ---------------------------------------------------------- */

static int txn_op(struct txn *tx, int kind, const char *path, const void *val, size_t len,
		  const struct perms *pm)
{
	struct op *o;
	int rc;

	rc = grow((void **)&tx->ops, &tx->capops, tx->nops + 1, sizeof(*tx->ops));
	if (rc < 0)
		return rc;
	o = &tx->ops[tx->nops];
	memset(o, 0, sizeof(*o));
	o->kind = kind;
	o->path = strdup(path);
	if (!o->path)
		return -ENOMEM;
	if (val) {
		o->val = malloc(len ? len : 1);
		if (!o->val) {
			free(o->path);
			return -ENOMEM;
		}
		memcpy(o->val, val, len);
		o->len = len;
	}
	if (pm)
		o->pm = *pm;
	tx->nops++;
	return 0;
}

/* The overlay entry for an existing node, copying it from the live tree. */
static struct ov *ov_get(struct store_priv *sp, struct txn *tx, const char *path)
{
	struct ov *o = ov_find(tx, path);
	char *val;
	size_t len;

	if (o)
		return o;
	if (live_value(sp, path, &val, &len) < 0)
		return NULL;
	o = ov_new(tx, path);
	if (!o) {
		free(val);
		return NULL;
	}
	o->val = val;
	o->len = len;
	live_perms(sp, path, &o->pm);
	return o;
}

static int ov_set_val(struct ov *o, const void *val, size_t len)
{
	char *n = malloc(len ? len : 1);

	if (!n)
		return -ENOMEM;
	memcpy(n, val, len);
	free(o->val);
	o->val = n;
	o->len = len;
	return 0;
}

int txn_write(struct store_priv *sp, struct txn *tx, const char *path, const void *val,
	      size_t len, size_t alen)
{
	const struct view v = { sp, tx };
	char buf[XSP_STORE_PATH_MAX + 1];
	size_t plen = strlen(path);
	struct perms pm;
	struct ov *o;
	bool exists;
	int rc;

	if (alen == plen) {
		o = ov_get(sp, tx, path);
		if (!o)
			return -ENOMEM;
		rc = ov_set_val(o, val, len);
		return rc < 0 ? rc : txn_op(tx, OP_WRITE, path, val, len, NULL);
	}
	memcpy(buf, path, alen);
	buf[alen] = '\0';
	rc = view_node(&v, buf, &exists, &pm, NULL, NULL);
	if (rc < 0)
		return rc;
	while (alen < plen) {
		alen = extend(path, plen, buf, alen);
		o = ov_mark(tx, buf, false);	/* perhaps a node the txn removed */
		if (!o)
			return -ENOMEM;
		pm.p[0].dom = sp->self;
		o->pm = pm;
		rc = ov_set_val(o, alen == plen ? val : "", alen == plen ? len : 0);
		if (rc < 0)
			return rc;
		tx->created++;
	}
	return txn_op(tx, OP_WRITE, path, val, len, NULL);
}

int txn_rm(struct txn *tx, const char *path)
{
	struct ov *o;
	size_t i = 0;

	while (i < tx->nov) {
		if (strict_anc(path, tx->ov[i].path)) {
			ov_free(&tx->ov[i]);
			tx->ov[i] = tx->ov[--tx->nov];
		} else {
			i++;
		}
	}
	o = ov_mark(tx, path, true);
	if (!o)
		return -ENOMEM;
	free(o->val);
	o->val = NULL;
	o->len = 0;
	return txn_op(tx, OP_RM, path, NULL, 0, NULL);
}

int txn_set_perms(struct store_priv *sp, struct txn *tx, const char *path, const struct perms *pm)
{
	struct ov *o = ov_get(sp, tx, path);

	if (!o)
		return -ENOMEM;
	o->pm = *pm;
	return txn_op(tx, OP_PERMS, path, NULL, 0, pm);
}

void txn_free(struct store_priv *sp, struct txn *tx)
{
	char name[160];
	size_t i;

	snprintf(name, sizeof(name), TXN_DIR "/%u/%s", (unsigned int)sp->self, tx->recname);
	unlinkat(sp->dirfd, name, 0);
	if (tx->recfd >= 0)
		close(tx->recfd);
	for (i = 0; i < tx->nov; i++)
		ov_free(&tx->ov[i]);
	for (i = 0; i < tx->nops; i++) {
		free(tx->ops[i].path);
		free(tx->ops[i].val);
	}
	free(tx->ov);
	free(tx->ops);
	free(tx->acc);
	free(tx);
}

static void txn_unlink(struct store_priv *sp, struct txn *tx)
{
	struct txn **pp;

	for (pp = &sp->txns; *pp; pp = &(*pp)->next) {
		if (*pp == tx) {
			*pp = tx->next;
			return;
		}
	}
}

/* ---- start and commit ----------------------------------------------------------------------- */

/* Count live transaction records of our domain (removing dead ones). */
static int txn_count(int dfd)
{
	struct dirent *de;
	DIR *d;
	int n = 0, rc;

	rc = local_opendir_at(dfd, ".", 0, &d);
	if (rc < 0)
		return rc;
	while ((de = readdir(d)) != NULL) {
		int f;

		if (de->d_name[0] == '.')
			continue;
		f = openat(dfd, de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (f < 0)
			continue;
		if (flock(f, LOCK_EX | LOCK_NB) == 0) {
			xs_log(XS_LOG_INFO, "store: removing stale transaction record %s",
			       de->d_name);
			unlinkat(dfd, de->d_name, 0);
		} else {
			n++;
		}
		close(f);
	}
	closedir(d);
	return n;
}

int local_txn_start(struct xsp_store *st, xsp_txn_t *t)
{
	struct store_priv *sp = spriv(st);
	struct txn *tx;
	char name[64];
	int dfd, rc, n;

	tx = calloc(1, sizeof(*tx));
	if (!tx)
		return -ENOMEM;
	tx->recfd = -1;
	snprintf(name, sizeof(name), TXN_DIR "/%u", (unsigned int)sp->self);
	rc = local_mkdir_at(sp->dirfd, name);
	if (rc < 0 && rc != -EEXIST)
		goto free_tx;
	dfd = local_lock_open(sp->dirfd, name, O_RDONLY | O_DIRECTORY);
	if (dfd < 0) {
		rc = dfd;
		goto free_tx;
	}
	n = txn_count(dfd);
	if (n < 0) {
		rc = n;
		goto close_dir;
	}
	if (n >= XSP_STORE_MAX_TXN) {
		rc = -ENOSPC;
		goto close_dir;
	}
	do {
		tx->id = __atomic_add_fetch(&txn_seq, 1, __ATOMIC_RELAXED);
	} while (tx->id == XSP_TXN_NONE || txn_find(sp, tx->id));
	for (n = 0; n < 100; n++) {
		snprintf(tx->recname, sizeof(tx->recname), "%d-%u-%lx", (int)getpid(),
			 (unsigned int)tx->id, (unsigned long)random() ^ (unsigned long)n);
		tx->recfd = local_creat_at(dfd, tx->recname, O_RDWR | O_EXCL);
		if (tx->recfd != -EEXIST)
			break;
	}
	if (tx->recfd < 0) {
		rc = tx->recfd;
		tx->recfd = -1;
		goto close_dir;
	}
	flock(tx->recfd, LOCK_EX);	/* held while the transaction is open */
	flock(dfd, LOCK_UN);
	close(dfd);

	rc = log_gen(sp, &tx->gen);
	if (rc < 0) {
		txn_free(sp, tx);	/* unlinks the record */
		return rc;
	}
	tx->next = sp->txns;
	sp->txns = tx;
	*t = tx->id;
	return 0;

close_dir:
	close(dfd);	/* drops the flock */
free_tx:
	if (tx->recfd >= 0)
		close(tx->recfd);
	free(tx);
	return rc;
}

int local_txn_end(struct xsp_store *st, xsp_txn_t t, bool abort)
{
	struct store_priv *sp = spriv(st);
	struct txn *tx = txn_find(sp, t);
	struct cctx c = { .sp = sp };
	size_t i;
	int rc, rc2;

	if (!tx)
		return -ENOENT;
	txn_unlink(sp, tx);
	if (abort) {
		txn_free(sp, tx);
		return 0;
	}
	rc = store_lock(sp, tx->nops ? LOCK_EX : LOCK_SH);
	if (rc < 0)
		goto free_tx;
	rc = log_conflict(sp, tx);
	if (rc > 0)
		rc = -EAGAIN;
	if (rc == 0 && tx->nops)
		rc = check_quota(sp, tx->created);
	if (rc < 0 || !tx->nops)
		goto unlock;
	for (i = 0; i < tx->nops; i++) {
		struct op *o = &tx->ops[i];

		rc = apply_op(&c, o->kind, o->path, o->val, o->len, &o->pm);
		if (rc < 0) {
			xs_log(XS_LOG_ERR, "store: commit: %s failed half-way: %s", o->path,
			       strerror(-rc));
			break;
		}
	}
	rc2 = cctx_finish(&c);
	if (rc == 0)
		rc = rc2;
unlock:
	store_unlock(sp);
free_tx:
	txn_free(sp, tx);
	return rc;
}
