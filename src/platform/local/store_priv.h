/* SPDX-License-Identifier: MIT */
/*
 * What the files of the local backend's store share (store.c lists them):
 * the on-disk names, the handle's state, transactions, a modification in
 * progress, views, small path helpers, and each file's functions that the
 * others call.
 */
#ifndef XSOCK_PLATFORM_LOCAL_STORE_PRIV_H
#define XSOCK_PLATFORM_LOCAL_STORE_PRIV_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "platform/local/local.h"

#define STORE_DIR "store"
#define LOCK_FILE "store.lock"
#define TXN_DIR "store-txn"
#define WATCH_DIR "store-watch"
#define QUOTA_DIR "store-quota"

#define MAX_PERMS 64

/* Change-log key kinds (low two bits of a path hash). */
enum { KEY_V = 1, KEY_C = 2, KEY_S = 3 };

struct perms {
	unsigned int n;
	struct xsp_perm p[MAX_PERMS];
};

/* A transaction's view of one node that it touched. */
struct ov {
	char *path;
	bool deleted;		/* removed by the transaction */
	bool fresh;		/* (re)created: live children are hidden */
	char *val;
	size_t len;
	struct perms pm;
};

enum { OP_WRITE, OP_RM, OP_PERMS };

struct op {
	int kind;
	char *path;
	char *val;
	size_t len;
	struct perms pm;
};

struct txn {
	struct txn *next;
	xsp_txn_t id;
	uint64_t gen;
	int recfd;
	char recname[96];
	struct ov *ov;
	size_t nov, capov;
	struct op *ops;
	size_t nops, capops;
	uint64_t *acc;		/* change-log keys that conflict with us */
	size_t nacc, capacc;
	long created;		/* nodes created (for the quota) */
};

struct watch {
	char *path;
	char *token;
};

struct pend {
	struct pend *next;
	size_t len;		/* whole record incl. the 2-byte header */
	unsigned char rec[];
};

struct store_priv {
	int dirfd;
	int lockfd;
	pid_t lockpid;
	xsp_domid_t self;
	long quota;
	struct txn *txns;
	char wname[64];		/* store-watch/<wname>.{fifo,reg,ovf} */
	int rfd, kfd;		/* FIFO read end, keep-alive write end */
	struct watch *w;
	size_t nw, capw;
	struct pend *pend, *pend_tail;
};

/* An exclusive-lock modification in progress: what it changed. */
struct ev {
	char *path;
	bool removed;
};

struct qd {
	xsp_domid_t dom;
	long d;
};

struct cctx {
	struct store_priv *sp;
	uint64_t *keys;
	size_t nkeys, capk;
	struct ev *evs;
	size_t nev, capev;
	struct qd *qd;
	size_t nqd, capqd;
};

struct view {
	struct store_priv *sp;
	struct txn *tx;		/* NULL: the live tree */
};

static inline struct store_priv *spriv(const struct xsp_store *st)
{
	return (struct store_priv *)st->priv;
}

/* ---- small helpers ----------------------------------------------------- */

static inline int grow(void **arr, size_t *cap, size_t need, size_t elsz)
{
	size_t ncap;
	void *n;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	while (ncap < need)
		ncap *= 2;
	n = realloc(*arr, ncap * elsz);
	if (!n)
		return -ENOMEM;
	*arr = n;
	*cap = ncap;
	return 0;
}

static inline uint64_t path_key(const char *path, size_t len, int kind)
{
	uint64_t h = 0xcbf29ce484222325ull;	/* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)path[i];
		h *= 0x100000001b3ull;
	}
	return (h & ~3ull) | (uint64_t)kind;
}

static inline bool is_root(const char *path)
{
	return path[0] == '/' && path[1] == '\0';
}

/* @anc is @p or an ancestor of it. */
static inline bool anc_or_self(const char *anc, const char *p)
{
	size_t la;

	if (is_root(anc))
		return true;
	la = strlen(anc);
	return strncmp(anc, p, la) == 0 && (p[la] == '\0' || p[la] == '/');
}

static inline bool strict_anc(const char *anc, const char *p)
{
	return strcmp(anc, p) != 0 && anc_or_self(anc, p);
}

/* Length of the parent's path within @path ("/a/b" -> 2, "/a" -> 1 for "/"). */
static inline size_t parent_len(const char *path, size_t len)
{
	while (len > 0 && path[len - 1] != '/')
		len--;
	return len > 1 ? len - 1 : 1;
}

/*
 * @buf holds the first @alen bytes of @path (an ancestor of it): extend it
 * by the next component. Returns the new length.
 */
static inline size_t extend(const char *path, size_t plen, char *buf, size_t alen)
{
	if (alen > 1)
		buf[alen++] = '/';
	while (alen < plen && path[alen] != '/') {
		buf[alen] = path[alen];
		alen++;
	}
	buf[alen] = '\0';
	return alen;
}

/* store_tree.c */
int store_rel(const char *path, const char *leaf, char *buf, size_t size);
int store_read_file_at(int dirfd, const char *name, size_t max, char **out, size_t *len);
int store_write_file_atomic(int dirfd, const char *name, const void *data, size_t len);
bool live_exists(struct store_priv *sp, const char *path);
void live_perms(struct store_priv *sp, const char *path, struct perms *pm);
int live_value(struct store_priv *sp, const char *path, char **val, size_t *len);
int live_children(struct store_priv *sp, const char *path, char ***names, size_t *n,
		  size_t *cap);
int live_create(struct store_priv *sp, const char *path, const struct perms *pm,
		const void *val, size_t len);
int apply_op(struct cctx *c, int kind, const char *path, const void *val, size_t len,
	     const struct perms *pm);

/* store_perms.c */
int perms_parse(const char *s, struct perms *pm);
size_t perms_format(const struct perms *pm, char *buf);
unsigned int perm_for(const struct perms *pm, xsp_domid_t dom);
void quota_add(struct store_priv *sp, xsp_domid_t dom, long d);
int check_write(const struct view *v, const char *path, unsigned int *created,
		size_t *alen);
int check_quota(struct store_priv *sp, long extra);
int check_set_perms(const struct view *v, const char *path, const struct perms *pm);

/* store_log.c */
int store_lock(struct store_priv *sp, int how);
void store_unlock(struct store_priv *sp);
int log_gen(struct store_priv *sp, uint64_t *gen);
int log_conflict(struct store_priv *sp, struct txn *tx);
int cctx_key(struct cctx *c, const char *path, size_t len, int kind);
int cctx_ev(struct cctx *c, const char *path, bool removed);
void cctx_quota(struct cctx *c, xsp_domid_t dom, long d);
int cctx_created(struct cctx *c, const char *path);
int cctx_finish(struct cctx *c);

/* store_txn.c */
struct txn *txn_find(struct store_priv *sp, xsp_txn_t t);
int acc_path(struct txn *tx, const char *path, bool list);
int view_node(const struct view *v, const char *path, bool *exists, struct perms *pm,
	      char **val, size_t *len);
int view_access(const struct view *v, const char *path, unsigned int need,
		struct perms *pm, char **val, size_t *len);
int view_children(const struct view *v, const char *path, char ***names, size_t *n);
int txn_write(struct store_priv *sp, struct txn *tx, const char *path, const void *val,
	      size_t len, size_t alen);
int txn_rm(struct txn *tx, const char *path);
int txn_set_perms(struct store_priv *sp, struct txn *tx, const char *path, const struct perms *pm);
void txn_free(struct store_priv *sp, struct txn *tx);

/* store_watch.c */
void notify_watches(struct store_priv *sp, const struct ev *evs, size_t nev);
int watch_setup(struct store_priv *sp);
void watch_close(struct store_priv *sp);

#endif /* XSOCK_PLATFORM_LOCAL_STORE_PRIV_H */
