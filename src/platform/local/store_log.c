/* SPDX-License-Identifier: MIT */
/*
 * The local store's lock and change log, both in store.lock (store.c,
 * "Layout"): the file is flock()ed, shared for reads and exclusive for
 * every modification, and holds a header {magic, generation, lost, head}
 * and a ring of LOG_SLOTS {generation, key} records. A modification under
 * the exclusive lock collects in a struct cctx the keys it appends to the
 * log, the quota counts it changes and the watch events it fires, and
 * publishes them together at its end (cctx_finish()). What the keys mean
 * and how a commit checks them against a transaction: store_txn.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "common/fd.h"
#include "platform/local/store_priv.h"

#define LOG_MAGIC 0x78736f636b4c4f47ull	/* "xsockLOG" */
#define LOG_SLOTS 1024u
#define LOG_HDR_SIZE 64

struct log_hdr {
	uint64_t magic;
	uint64_t gen;		/* bumped by every modification */
	uint64_t lost;		/* newest generation with an overwritten record */
	uint64_t head;		/* records ever written */
};

struct log_slot {
	uint64_t gen;
	uint64_t key;
};

/* ---- locking and the change log ---------------------------------------------------------- */

static int lock_fd(struct store_priv *sp)
{
	/* A forked child must not share the parent's open file description:
	 * flock() locks belong to it, so both would "hold" the lock. */
	if (sp->lockpid != getpid()) {
		int fd = local_creat_at(sp->dirfd, LOCK_FILE, O_RDWR);

		if (fd < 0)
			return fd;
		close(sp->lockfd);
		sp->lockfd = xs_fd_out_of_way(fd);
		sp->lockpid = getpid();
	}
	return sp->lockfd;
}

int store_lock(struct store_priv *sp, int how)
{
	int fd = lock_fd(sp);

	if (fd < 0)
		return fd;
	while (flock(fd, how) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

void store_unlock(struct store_priv *sp)
{
	flock(sp->lockfd, LOCK_UN);
}

/* Read the header; 0 with h->magic == 0 when the log is new or corrupt. */
static int log_hdr_read(struct store_priv *sp, struct log_hdr *h)
{
	ssize_t n = pread(sp->lockfd, h, sizeof(*h), 0);

	if (n < 0)
		return -errno;
	if ((size_t)n != sizeof(*h) || h->magic != LOG_MAGIC)
		memset(h, 0, sizeof(*h));
	return 0;
}

/* The current generation (under the shared lock), 0 when the log is new or corrupt. */
int log_gen(struct store_priv *sp, uint64_t *gen)
{
	struct log_hdr h;
	int rc;

	rc = store_lock(sp, LOCK_SH);
	if (rc < 0)
		return rc;
	rc = log_hdr_read(sp, &h);
	store_unlock(sp);
	if (rc == 0)
		*gen = h.magic == LOG_MAGIC ? h.gen : 0;
	return rc;
}

/* Under the exclusive lock: bump the generation and record @keys. */
static int log_append(struct store_priv *sp, const uint64_t *keys, size_t n)
{
	struct log_slot *slots;
	struct log_hdr h;
	size_t i, sz = LOG_SLOTS * sizeof(*slots);
	ssize_t r;
	int rc;

	rc = log_hdr_read(sp, &h);
	if (rc < 0)
		return rc;
	slots = calloc(LOG_SLOTS, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	if (h.magic != LOG_MAGIC) {
		/* New or corrupt: anything that started before conflicts. */
		h.magic = LOG_MAGIC;
		h.gen = ((uint64_t)time(NULL) << 16) | 1;
		h.lost = h.gen;
		h.head = 0;
	} else {
		r = pread(sp->lockfd, slots, sz, LOG_HDR_SIZE);
		if (r < 0) {
			rc = -errno;
			goto free_slots;
		}
	}
	h.gen++;
	for (i = 0; i < n; i++) {
		struct log_slot *s = &slots[h.head % LOG_SLOTS];

		if (s->gen > h.lost)
			h.lost = s->gen;
		s->gen = h.gen;
		s->key = keys[i];
		h.head++;
	}
	if (pwrite(sp->lockfd, slots, sz, LOG_HDR_SIZE) != (ssize_t)sz ||
	    pwrite(sp->lockfd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		rc = errno ? -errno : -EIO;
free_slots:
	free(slots);
	return rc;
}

/* Under a lock: did anything that @tx depends on change since it started? */
int log_conflict(struct store_priv *sp, struct txn *tx)
{
	struct log_slot *slots;
	struct log_hdr h;
	size_t i, j;
	int rc;

	rc = log_hdr_read(sp, &h);
	if (rc < 0)
		return rc;
	if (h.magic != LOG_MAGIC)
		return tx->gen == 0 ? 0 : 1;
	if (h.gen == tx->gen)
		return 0;
	if (h.lost > tx->gen || h.gen < tx->gen)
		return 1;
	slots = calloc(LOG_SLOTS, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	if (pread(sp->lockfd, slots, LOG_SLOTS * sizeof(*slots), LOG_HDR_SIZE) < 0) {
		rc = -errno;
		goto free_slots;
	}
	for (i = 0; i < LOG_SLOTS && rc == 0; i++) {
		if (slots[i].gen <= tx->gen)
			continue;
		for (j = 0; j < tx->nacc; j++) {
			if (tx->acc[j] == slots[i].key) {
				rc = 1;
				break;
			}
		}
	}
free_slots:
	free(slots);
	return rc;
}

/* ---- a modification under the exclusive lock --------------------------------------------- */

int cctx_key(struct cctx *c, const char *path, size_t len, int kind)
{
	int rc = grow((void **)&c->keys, &c->capk, c->nkeys + 1, sizeof(*c->keys));

	if (rc < 0)
		return rc;
	c->keys[c->nkeys++] = path_key(path, len, kind);
	return 0;
}

int cctx_ev(struct cctx *c, const char *path, bool removed)
{
	int rc = grow((void **)&c->evs, &c->capev, c->nev + 1, sizeof(*c->evs));

	if (rc < 0)
		return rc;
	c->evs[c->nev].path = strdup(path);
	if (!c->evs[c->nev].path)
		return -ENOMEM;
	c->evs[c->nev++].removed = removed;
	return 0;
}

void cctx_quota(struct cctx *c, xsp_domid_t dom, long d)
{
	size_t i;

	for (i = 0; i < c->nqd; i++) {
		if (c->qd[i].dom == dom) {
			c->qd[i].d += d;
			return;
		}
	}
	if (grow((void **)&c->qd, &c->capqd, c->nqd + 1, sizeof(*c->qd)) < 0)
		return;	/* only a count; logged by nobody, harmless */
	c->qd[c->nqd].dom = dom;
	c->qd[c->nqd++].d = d;
}

/* Keys for "node @path created": V(path), C(parent). */
int cctx_created(struct cctx *c, const char *path)
{
	size_t len = strlen(path);
	int rc = cctx_key(c, path, len, KEY_V);

	if (rc == 0 && !is_root(path))
		rc = cctx_key(c, path, parent_len(path, len), KEY_C);
	return rc;
}

/* Publish the change (log, quota counts, watch events) and free @c. */
int cctx_finish(struct cctx *c)
{
	size_t i;
	int rc = 0;

	if (c->nkeys)
		rc = log_append(c->sp, c->keys, c->nkeys);
	for (i = 0; i < c->nqd; i++)
		if (c->qd[i].d)
			quota_add(c->sp, c->qd[i].dom, c->qd[i].d);
	if (c->nev)
		notify_watches(c->sp, c->evs, c->nev);
	for (i = 0; i < c->nev; i++)
		free(c->evs[i].path);
	free(c->evs);
	free(c->keys);
	free(c->qd);
	return rc;
}
