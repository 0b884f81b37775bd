/* SPDX-License-Identifier: MIT */
/*
 * The local backend's store: xenstored's semantics for the processes of one
 * host, kept in files below XSOCK_LOCAL_DIR so that processes in different
 * network namespaces (sharing only the filesystem) see one store. Nothing
 * here uses sockets or anything network-namespaced, and nothing relies on
 * pids for liveness (pid namespaces may differ too).
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
 * Writes of .v/.p go through a temporary file and rename(); all changes
 * happen under the exclusive lock, so readers (shared lock) never see a
 * half-made change. A process killed in the middle of a change may leave a
 * node without .p or .v: such a node reads as "owner 0, no access" and an
 * empty value (logged), never as a crash.
 *
 * Bootstrapping (every xsp_store_open(), cheap when nothing is missing):
 *   /  /local  /local/domain           owner 0, "r0" (everyone may read;
 *                                      real Xen uses "n0", which would hide
 *                                      other domains' homes from listing)
 *   /local/domain/<self>               owner <self>, "n<self>"
 *   /local/domain/<self>/data          owner <self>, "n<self>"
 * A node is only created when missing; existing permissions are kept.
 *
 * Permissions follow xenstored: entry 0 names the owner and everybody's
 * default access; domain 0 and the owner may do anything; read/list/
 * get_perms need READ, write/rm need WRITE (creating: WRITE on the nearest
 * existing ancestor); new nodes inherit the parent's permissions with the
 * creator as owner. set_perms needs ownership (or domain 0), and a domain
 * other than 0 may not give a node away (changing entry 0's domain):
 * -EACCES. rm of "/" is -EINVAL.
 *
 * Quota: each domain other than 0 may own at most XSOCK_STORE_NODE_QUOTA
 * (default 10000) nodes; creating beyond is -ENOSPC (domain 0 is exempt,
 * as in xenstored). Inside a transaction nodes removed by it are not
 * credited back before the commit (conservative).
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
 *
 * Watches: xsp_watch_add() queues one event at once, then the writer of
 * every change (after applying it, still under the exclusive lock) scans
 * the registrations and writes a record [u16 len]["path\0token\0"]
 * (<= PIPE_BUF, so atomic) into each matching FIFO with O_NONBLOCK. A
 * registration whose FIFO has no reader (ENXIO) is garbage-collected; FIFOs
 * of dead handles are also collected at xsp_store_open(). A watch on W
 * fires for changes to W or below it; removing an ancestor of W fires it
 * with W's own path (as xenstored). Events for nodes that still exist are
 * delivered only if the watcher may read them. If a FIFO is full the writer
 * creates <n>.ovf and tries to queue an empty "overflow" record; a reader
 * that finds either re-queues one event per watch (their own paths), so a
 * change is never lost, only coalesced. xsp_watch_read() takes exactly one
 * record out of the FIFO, so the fd stays readable while events remain;
 * events that do not fit into the handle's own FIFO wait in memory, and
 * then the FIFO is full (readable). The handle keeps a write end of its own
 * FIFO open, so the read end never reports HUP.
 * "@releaseDomain" / "@introduceDomain" (any path starting with '@') are
 * accepted, get their initial event, and never fire afterwards. Tokens are
 * at most TOKEN_MAX (1000) bytes (-EINVAL); a duplicate (path, token) is
 * -EEXIST. xsp_watch_rm() drops the watch's events still waiting in
 * memory, not those already in the FIFO.
 *
 * fork(): a child that keeps using its parent's handle gets its own lock
 * (the lock fd is reopened when the pid changes), but shares the watch
 * FIFO and the list of open transactions with the parent; only one of them
 * should use those. A forked child holding a transaction record's fd keeps
 * that record alive until it exits or execs (the fds are O_CLOEXEC).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "platform/local/local.h"

#define STORE_DIR "store"
#define LOCK_FILE "store.lock"
#define TXN_DIR "store-txn"
#define WATCH_DIR "store-watch"
#define QUOTA_DIR "store-quota"

#define LOG_MAGIC 0x78736f636b4c4f47ull	/* "xsockLOG" */
#define LOG_SLOTS 1024u
#define LOG_HDR_SIZE 64

#define MAX_PERMS 64
#define TOKEN_MAX 1000			/* 2 + 3073 + 1001 <= PIPE_BUF */
#define REG_MAX (1u << 22)
#define DEFAULT_NODE_QUOTA 10000

/* Change-log key kinds (low two bits of a path hash). */
enum { KEY_V = 1, KEY_C = 2, KEY_S = 3 };

struct perms {
	unsigned int n;
	struct xsp_perm p[MAX_PERMS];
};

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

static uint32_t txn_seq;	/* process-wide transaction ids */
static uint32_t watch_seq;

static inline struct store_priv *spriv(const struct xsp_store *st)
{
	return (struct store_priv *)st->priv;
}

/* ---- small helpers ----------------------------------------------------- */

static int grow(void **arr, size_t *cap, size_t need, size_t elsz)
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

static uint64_t path_key(const char *path, size_t len, int kind)
{
	uint64_t h = 0xcbf29ce484222325ull;	/* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)path[i];
		h *= 0x100000001b3ull;
	}
	return (h & ~3ull) | (uint64_t)kind;
}

static bool is_root(const char *path)
{
	return path[0] == '/' && path[1] == '\0';
}

/* @anc is @p or an ancestor of it. */
static bool anc_or_self(const char *anc, const char *p)
{
	size_t la;

	if (is_root(anc))
		return true;
	la = strlen(anc);
	return strncmp(anc, p, la) == 0 && (p[la] == '\0' || p[la] == '/');
}

static bool strict_anc(const char *anc, const char *p)
{
	return strcmp(anc, p) != 0 && anc_or_self(anc, p);
}

/* Length of the parent's path within @path ("/a/b" -> 2, "/a" -> 1 for "/"). */
static size_t parent_len(const char *path, size_t len)
{
	while (len > 0 && path[len - 1] != '/')
		len--;
	return len > 1 ? len - 1 : 1;
}

/*
 * @buf holds the first @alen bytes of @path (an ancestor of it): extend it
 * by the next component. Returns the new length.
 */
static size_t extend(const char *path, size_t plen, char *buf, size_t alen)
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

/* "store<path>[/leaf]" relative to the backend directory. */
static int rel(const char *path, const char *leaf, char *buf, size_t size)
{
	int n;

	n = snprintf(buf, size, "%s%s%s%s", STORE_DIR, is_root(path) ? "" : path,
		     leaf ? "/" : "", leaf ? leaf : "");
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int read_file_at(int dirfd, const char *name, size_t max, char **out, size_t *len)
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
static int write_file_atomic(int dirfd, const char *name, const void *data, size_t len)
{
	char tmp[PATH_MAX];
	int fd, rc;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", name) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, data, len);
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		rc = -errno;
	if (rc < 0)
		unlinkat(dirfd, tmp, 0);
	return rc;
}

/* ---- permissions ----------------------------------------------------------- */

static int perms_parse(const char *s, struct perms *pm)
{
	char tok[16];
	size_t i;

	pm->n = 0;
	while (*s) {
		while (*s == ' ' || *s == '\n' || *s == '\t')
			s++;
		if (!*s)
			break;
		for (i = 0; s[i] && s[i] != ' ' && s[i] != '\n' && s[i] != '\t'; i++)
			if (i + 1 >= sizeof(tok))
				return -EINVAL;
		memcpy(tok, s, i);
		tok[i] = '\0';
		s += i;
		if (pm->n >= MAX_PERMS || xsp_perm_parse(tok, &pm->p[pm->n]) < 0)
			return -EINVAL;
		pm->n++;
	}
	return pm->n ? 0 : -EINVAL;
}

static size_t perms_format(const struct perms *pm, char *buf)
{
	size_t off = 0;
	unsigned int i;

	for (i = 0; i < pm->n; i++) {
		if (i)
			buf[off++] = ' ';
		xsp_perm_format(&pm->p[i], buf + off);
		off += strlen(buf + off);
	}
	buf[off] = '\0';
	return off;
}

static unsigned int perm_for(const struct perms *pm, xsp_domid_t dom)
{
	unsigned int i;

	if (dom == 0 || dom == pm->p[0].dom)
		return XSP_PERM_BOTH;
	for (i = 1; i < pm->n; i++)
		if (pm->p[i].dom == dom)
			return pm->p[i].perm;
	return pm->p[0].perm;
}

/* ---- the live tree ------------------------------------------------------------ */

static bool live_exists(struct store_priv *sp, const char *path)
{
	char r[PATH_MAX];
	struct stat sb;

	if (rel(path, NULL, r, sizeof(r)) < 0)
		return false;
	return fstatat(sp->dirfd, r, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode);
}

static void live_perms(struct store_priv *sp, const char *path, struct perms *pm)
{
	char r[PATH_MAX];
	char *buf = NULL;
	size_t len;
	int rc;

	rc = rel(path, ".p", r, sizeof(r));
	if (rc == 0)
		rc = read_file_at(sp->dirfd, r, 4096, &buf, &len);
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

static int live_value(struct store_priv *sp, const char *path, char **val, size_t *len)
{
	char r[PATH_MAX];
	int rc;

	rc = rel(path, ".v", r, sizeof(r));
	if (rc < 0)
		return rc;
	rc = read_file_at(sp->dirfd, r, XSP_STORE_VALUE_MAX, val, len);
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
static int live_children(struct store_priv *sp, const char *path, char ***names, size_t *n,
			 size_t *cap)
{
	char r[PATH_MAX];
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int fd, rc = 0;

	rc = rel(path, NULL, r, sizeof(r));
	if (rc < 0)
		return rc;
	fd = openat(sp->dirfd, r, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	d = fdopendir(fd);
	if (!d) {
		rc = -errno;
		close(fd);
		return rc;
	}
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

static int live_create(struct store_priv *sp, const char *path, const struct perms *pm,
		       const void *val, size_t len)
{
	char r[PATH_MAX], pbuf[MAX_PERMS * 8 + 1];
	size_t plen;
	int rc;

	rc = rel(path, NULL, r, sizeof(r));
	if (rc < 0)
		return rc;
	if (mkdirat(sp->dirfd, r, 0700) < 0 && errno != EEXIST)
		return -errno;
	plen = perms_format(pm, pbuf);
	rc = rel(path, ".p", r, sizeof(r));
	if (rc == 0)
		rc = write_file_atomic(sp->dirfd, r, pbuf, plen);
	if (rc == 0)
		rc = rel(path, ".v", r, sizeof(r));
	if (rc == 0)
		rc = write_file_atomic(sp->dirfd, r, val, len);
	return rc;
}

/* ---- quota ------------------------------------------------------------------------ */

static long quota_get(struct store_priv *sp, xsp_domid_t dom)
{
	char name[64], *buf = NULL;
	size_t len;
	long v = 0;

	snprintf(name, sizeof(name), QUOTA_DIR "/%u", (unsigned int)dom);
	if (read_file_at(sp->dirfd, name, 64, &buf, &len) == 0)
		v = strtol(buf, NULL, 10);
	free(buf);
	return v < 0 ? 0 : v;
}

static void quota_add(struct store_priv *sp, xsp_domid_t dom, long d)
{
	char name[64], buf[32];
	long v = quota_get(sp, dom) + d;
	int n;

	if (v < 0)
		v = 0;
	snprintf(name, sizeof(name), QUOTA_DIR "/%u", (unsigned int)dom);
	n = snprintf(buf, sizeof(buf), "%ld\n", v);
	if (write_file_atomic(sp->dirfd, name, buf, (size_t)n) < 0)
		xs_log(XS_LOG_WARN, "store: cannot update quota count of domain %u", dom);
}

/* ---- locking and the change log ---------------------------------------------------------- */

static int lock_fd(struct store_priv *sp)
{
	/* A forked child must not share the parent's open file description:
	 * flock() locks belong to it, so both would "hold" the lock. */
	if (sp->lockpid != getpid()) {
		int fd = openat(sp->dirfd, LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

		if (fd < 0)
			return -errno;
		close(sp->lockfd);
		sp->lockfd = fd;
		sp->lockpid = getpid();
	}
	return sp->lockfd;
}

static int store_lock(struct store_priv *sp, int how)
{
	int fd = lock_fd(sp);

	if (fd < 0)
		return fd;
	while (flock(fd, how) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

static void store_unlock(struct store_priv *sp)
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
static int log_conflict(struct store_priv *sp, struct txn *tx)
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

static int cctx_key(struct cctx *c, const char *path, size_t len, int kind)
{
	int rc = grow((void **)&c->keys, &c->capk, c->nkeys + 1, sizeof(*c->keys));

	if (rc < 0)
		return rc;
	c->keys[c->nkeys++] = path_key(path, len, kind);
	return 0;
}

static int cctx_ev(struct cctx *c, const char *path, bool removed)
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

static void cctx_quota(struct cctx *c, xsp_domid_t dom, long d)
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
static int cctx_created(struct cctx *c, const char *path)
{
	size_t len = strlen(path);
	int rc = cctx_key(c, path, len, KEY_V);

	if (rc == 0 && !is_root(path))
		rc = cctx_key(c, path, parent_len(path, len), KEY_C);
	return rc;
}

static void notify_watches(struct store_priv *sp, const struct ev *evs, size_t nev);

/* Publish the change (log, quota counts, watch events) and free @c. */
static int cctx_finish(struct cctx *c)
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

static int apply_write(struct cctx *c, const char *path, const void *val, size_t len,
		       xsp_domid_t creator)
{
	char buf[XSP_STORE_PATH_MAX + 1], r[PATH_MAX];
	struct perms pm;
	size_t plen = strlen(path), alen;
	int rc;

	if (live_exists(c->sp, path)) {
		rc = rel(path, ".v", r, sizeof(r));
		if (rc == 0)
			rc = write_file_atomic(c->sp->dirfd, r, val, len);
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
	int fd, rc = 0;

	if (rlen + 4 < PATH_MAX) {
		memcpy(r + rlen, "/.p", 4);
		if (read_file_at(c->sp->dirfd, r, 4096, &buf, &len) == 0 &&
		    perms_parse(buf, &pm) == 0)
			cctx_quota(c, pm.p[0].dom, -1);
		else
			cctx_quota(c, 0, -1);
		free(buf);
		r[rlen] = '\0';
	}
	fd = openat(c->sp->dirfd, r, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		rc = -errno;
		close(fd);
		return rc;
	}
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

	rc = rel(path, NULL, r, sizeof(r));
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
	rc = rel(path, ".p", r, sizeof(r));
	if (rc == 0)
		rc = write_file_atomic(c->sp->dirfd, r, pbuf, plen);
	if (rc < 0)
		return rc;
	if (old.p[0].dom != pm->p[0].dom) {
		cctx_quota(c, old.p[0].dom, -1);
		cctx_quota(c, pm->p[0].dom, 1);
	}
	rc = cctx_key(c, path, strlen(path), KEY_V);
	return rc < 0 ? rc : cctx_ev(c, path, false);
}

/* ---- transactions: overlay -------------------------------------------------------------- */

static struct txn *txn_find(struct store_priv *sp, xsp_txn_t t)
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
static int acc_path(struct txn *tx, const char *path, bool list)
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
static int view_node(const struct view *v, const char *path, bool *exists, struct perms *pm,
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
static int view_access(const struct view *v, const char *path, unsigned int need,
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

static int view_children(const struct view *v, const char *path, char ***names, size_t *n)
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

/*
 * May domain self write @path as @v sees it? *created gets the number of
 * nodes a write would create, *alen the length of the nearest existing
 * ancestor (== strlen(path) when the node exists).
 */
static int check_write(const struct view *v, const char *path, unsigned int *created,
		       size_t *alen)
{
	char buf[XSP_STORE_PATH_MAX + 1];
	size_t len = strlen(path);
	struct perms pm;
	bool exists;
	int rc;

	memcpy(buf, path, len + 1);
	*created = 0;
	for (;;) {
		rc = view_node(v, buf, &exists, &pm, NULL, NULL);
		if (rc < 0)
			return rc;
		if (v->tx) {
			rc = acc_path(v->tx, buf, false);
			if (rc < 0)
				return rc;
		}
		if (exists)
			break;
		if (len == 1)
			return -ENOENT;		/* no root: broken store */
		(*created)++;
		len = parent_len(buf, len);
		buf[len] = '\0';
	}
	*alen = len;
	return (perm_for(&pm, v->sp->self) & XSP_PERM_WRITE) ? 0 : -EACCES;
}

static int check_quota(struct store_priv *sp, long extra)
{
	if (sp->self == 0 || extra <= 0)
		return 0;
	return quota_get(sp, sp->self) + extra > sp->quota ? -ENOSPC : 0;
}

static int check_set_perms(const struct view *v, const char *path, const struct perms *pm)
{
	struct perms old;
	bool exists;
	int rc;

	rc = view_node(v, path, &exists, &old, NULL, NULL);
	if (rc < 0)
		return rc;
	if (!exists)
		return -ENOENT;
	if (v->sp->self != 0 &&
	    (v->sp->self != old.p[0].dom || pm->p[0].dom != old.p[0].dom))
		return -EACCES;
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

static int txn_write(struct store_priv *sp, struct txn *tx, const char *path, const void *val,
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
		o = ov_find(tx, buf);		/* a node the txn removed */
		if (!o)
			o = ov_new(tx, buf);
		if (!o)
			return -ENOMEM;
		o->deleted = false;
		o->fresh = true;
		pm.p[0].dom = sp->self;
		o->pm = pm;
		rc = ov_set_val(o, alen == plen ? val : "", alen == plen ? len : 0);
		if (rc < 0)
			return rc;
		tx->created++;
	}
	return txn_op(tx, OP_WRITE, path, val, len, NULL);
}

static int txn_rm(struct txn *tx, const char *path)
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
	o = ov_find(tx, path);
	if (!o)
		o = ov_new(tx, path);
	if (!o)
		return -ENOMEM;
	o->deleted = true;
	o->fresh = false;
	free(o->val);
	o->val = NULL;
	o->len = 0;
	return txn_op(tx, OP_RM, path, NULL, 0, NULL);
}

static void txn_free(struct store_priv *sp, struct txn *tx)
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

/* ---- watches: the reader side ----------------------------------------------------------- */

static int make_record(const char *path, const char *token, unsigned char **out, size_t *len)
{
	size_t pl = strlen(path), tl = strlen(token), n = pl + tl + 2;
	unsigned char *r;

	if (n + 2 > PIPE_BUF)
		return -EINVAL;
	r = malloc(n + 2);
	if (!r)
		return -ENOMEM;
	r[0] = (unsigned char)(n & 0xff);
	r[1] = (unsigned char)(n >> 8);
	memcpy(r + 2, path, pl + 1);
	memcpy(r + 3 + pl, token, tl + 1);
	*out = r;
	*len = n + 2;
	return 0;
}

/* Move events waiting in memory into our own FIFO while they fit. */
static void flush_pending(struct store_priv *sp)
{
	struct pend *pe;
	ssize_t r;

	while ((pe = sp->pend) != NULL) {
		r = write(sp->kfd, pe->rec, pe->len);
		if (r < 0)
			break;		/* EAGAIN: full, hence readable */
		sp->pend = pe->next;
		if (!sp->pend)
			sp->pend_tail = NULL;
		free(pe);
	}
}

/*
 * Queue an event for this handle. Invariant: events only wait in memory
 * while the FIFO is full (so its fd is readable).
 */
static int queue_local(struct store_priv *sp, const char *path, const char *token)
{
	unsigned char *rec;
	struct pend *pe;
	size_t len;
	int rc;

	rc = make_record(path, token, &rec, &len);
	if (rc < 0)
		return rc;
	if (!sp->pend && write(sp->kfd, rec, len) == (ssize_t)len) {
		free(rec);
		return 0;
	}
	for (pe = sp->pend; pe; pe = pe->next) {
		if (pe->len == len && !memcmp(pe->rec, rec, len)) {
			free(rec);	/* already waiting: coalesce */
			return 0;
		}
	}
	pe = malloc(sizeof(*pe) + len);
	if (!pe) {
		free(rec);
		return -ENOMEM;
	}
	pe->next = NULL;
	pe->len = len;
	memcpy(pe->rec, rec, len);
	free(rec);
	if (sp->pend_tail)
		sp->pend_tail->next = pe;
	else
		sp->pend = pe;
	sp->pend_tail = pe;
	return 0;
}

static void refire_all(struct store_priv *sp)
{
	size_t i;

	xs_log(XS_LOG_INFO, "store: watch queue overflowed, re-firing %zu watches", sp->nw);
	for (i = 0; i < sp->nw; i++)
		queue_local(sp, sp->w[i].path, sp->w[i].token);
}

static int wfile(const struct store_priv *sp, const char *ext, char *buf, size_t size)
{
	int n = snprintf(buf, size, WATCH_DIR "/%s.%s", sp->wname, ext);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Rewrite our registration file from sp->w. */
static int write_reg(struct store_priv *sp)
{
	char name[128], *buf;
	size_t len, i, off;
	int rc;

	wfile(sp, "reg", name, sizeof(name));
	if (sp->nw == 0) {
		unlinkat(sp->dirfd, name, 0);
		return 0;
	}
	len = 16;
	for (i = 0; i < sp->nw; i++)
		len += strlen(sp->w[i].path) + strlen(sp->w[i].token) + 2;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	off = (size_t)sprintf(buf, "X1%c%u", '\0', (unsigned int)sp->self) + 1;
	for (i = 0; i < sp->nw; i++) {
		off += (size_t)sprintf(buf + off, "%s", sp->w[i].path) + 1;
		off += (size_t)sprintf(buf + off, "%s", sp->w[i].token) + 1;
	}
	rc = write_file_atomic(sp->dirfd, name, buf, off);
	free(buf);
	return rc;
}

/* ---- watches: the writer side ----------------------------------------------------------- */

/* Remove the files of a dead handle whose FIFO is store-watch/<base>.fifo. */
static void watch_gc(int wdfd, const char *base)
{
	static const char *const ext[] = { "reg", "fifo", "ovf" };
	char name[NAME_MAX + 16];
	size_t i;

	xs_log(XS_LOG_INFO, "store: removing stale watch registration %s", base);
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "%s.%s", base, ext[i]);
		unlinkat(wdfd, name, 0);
	}
}

/* Does a watch on @w fire for an event on @ev? *fpath: the path to report. */
static bool watch_match(const char *w, const struct ev *e, const char **fpath)
{
	if (w[0] != '/')
		return false;		/* special watches never fire */
	if (anc_or_self(w, e->path)) {
		*fpath = e->path;
		return true;
	}
	if (e->removed && strict_anc(e->path, w)) {
		*fpath = w;
		return true;
	}
	return false;
}

/* Write one record into the FIFO @fd; false when it overflowed. */
static bool deliver(int wdfd, const char *base, int fd, const char *path, const char *token)
{
	char name[NAME_MAX + 16];
	static const unsigned char marker[2] = { 0, 0 };
	unsigned char *rec;
	size_t len;
	ssize_t r;
	int ofd;

	if (make_record(path, token, &rec, &len) < 0)
		return true;
	r = write(fd, rec, len);
	free(rec);
	if (r == (ssize_t)len)
		return true;
	/* Full: leave a flag the reader checks once drained, then try to
	 * queue the overflow marker in case it drained meanwhile. */
	snprintf(name, sizeof(name), "%s.ovf", base);
	ofd = openat(wdfd, name, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (ofd >= 0)
		close(ofd);
	if (write(fd, marker, sizeof(marker)) < 0) {
		/* still full: the reader will find the flag */
	}
	return false;
}

static void notify_reg(struct store_priv *sp, int wdfd, const char *base, const struct ev *evs,
		       size_t nev)
{
	char name[NAME_MAX + 16], *buf = NULL, *c, *end;
	const char *fpath;
	struct perms pm;
	unsigned long dom;
	size_t len, i;
	int fd = -1;

	snprintf(name, sizeof(name), "%s.reg", base);
	if (read_file_at(wdfd, name, REG_MAX, &buf, &len) < 0)
		return;
	end = buf + len;
	if (len < 4 || memcmp(buf, "X1", 3) != 0 || !memchr(buf + 3, '\0', len - 3)) {
		xs_log(XS_LOG_WARN, "store: malformed watch registration %s", name);
		goto free_buf;
	}
	dom = strtoul(buf + 3, NULL, 10);
	for (i = 0; i < nev; i++) {
		bool have_pm = false, readable = true;

		for (c = buf + 3 + strlen(buf + 3) + 1; c < end;) {
			char *wp = c, *tok;

			if (!memchr(c, '\0', (size_t)(end - c)))
				break;
			tok = c + strlen(c) + 1;
			if (tok >= end || !memchr(tok, '\0', (size_t)(end - tok)))
				break;
			c = tok + strlen(tok) + 1;
			if (!watch_match(wp, &evs[i], &fpath))
				continue;
			if (!evs[i].removed && !have_pm) {
				have_pm = true;
				if (live_exists(sp, evs[i].path)) {
					live_perms(sp, evs[i].path, &pm);
					readable = perm_for(&pm, (xsp_domid_t)dom) & XSP_PERM_READ;
				}
			}
			if (!evs[i].removed && !readable)
				continue;
			if (fd < 0) {
				snprintf(name, sizeof(name), "%s.fifo", base);
				fd = openat(wdfd, name, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
				if (fd < 0) {
					if (errno == ENXIO || errno == ENOENT)
						watch_gc(wdfd, base);
					goto free_buf;
				}
			}
			if (!deliver(wdfd, base, fd, fpath, tok))
				goto close_fd;	/* overflowed: the reader re-fires */
		}
	}
close_fd:
	if (fd >= 0)
		close(fd);
free_buf:
	free(buf);
}

/*
 * Under the exclusive lock, after a change: queue its events. A reader
 * that goes away between our open() and write() would raise SIGPIPE, which
 * must not kill the caller: block it and swallow one we caused.
 */
static void notify_watches(struct store_priv *sp, const struct ev *evs, size_t nev)
{
	sigset_t pipe_set, old_set, pending;
	const struct timespec zero = { 0, 0 };
	bool was_pending;
	struct dirent *de;
	DIR *d;
	int wdfd;

	wdfd = openat(sp->dirfd, WATCH_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (wdfd < 0)
		return;
	d = fdopendir(wdfd);
	if (!d) {
		close(wdfd);
		return;
	}
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	while ((de = readdir(d)) != NULL) {
		char base[NAME_MAX + 1];
		size_t n = strlen(de->d_name);

		if (n <= 4 || strcmp(de->d_name + n - 4, ".reg") || n - 4 >= sizeof(base))
			continue;
		memcpy(base, de->d_name, n - 4);
		base[n - 4] = '\0';
		notify_reg(sp, dirfd(d), base, evs, nev);
	}
	closedir(d);
	if (!was_pending) {
		sigpending(&pending);
		if (sigismember(&pending, SIGPIPE))
			sigtimedwait(&pipe_set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old_set, NULL);
}

/* At open: remove registrations and FIFOs whose handle is gone. */
static void watch_gc_all(struct store_priv *sp, int wdfd)
{
	struct dirent *de;
	DIR *d;
	int fd;

	fd = openat(wdfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char base[NAME_MAX + 1];
		size_t n = strlen(de->d_name);
		const char *dot = strrchr(de->d_name, '.');
		int f;

		if (de->d_name[0] == '.' || !dot || n >= sizeof(base))
			continue;
		memcpy(base, de->d_name, (size_t)(dot - de->d_name));
		base[dot - de->d_name] = '\0';
		if (!strcmp(dot, ".fifo")) {
			f = openat(wdfd, de->d_name, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
			if (f >= 0)
				close(f);
			else if (errno == ENXIO)
				watch_gc(wdfd, base);
		} else if (!strcmp(dot, ".reg") || !strcmp(dot, ".ovf")) {
			char fifo[NAME_MAX + 8];
			struct stat sb;

			snprintf(fifo, sizeof(fifo), "%s.fifo", base);
			if (fstatat(wdfd, fifo, &sb, 0) < 0 && errno == ENOENT)
				watch_gc(wdfd, base);
		}
	}
	closedir(d);
}

static int watch_setup(struct store_priv *sp)
{
	char name[128];
	int wdfd, rc = 0, tries;

	wdfd = openat(sp->dirfd, WATCH_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (wdfd < 0)
		return -errno;
	/* Creation and collection exclude each other: a FIFO just made but
	 * not yet opened looks dead. */
	while (flock(wdfd, LOCK_EX) < 0)
		if (errno != EINTR) {
			rc = -errno;
			goto close_dir;
		}
	watch_gc_all(sp, wdfd);
	for (tries = 0; tries < 100; tries++) {
		unsigned int seq = __atomic_add_fetch(&watch_seq, 1, __ATOMIC_RELAXED);

		snprintf(sp->wname, sizeof(sp->wname), "%d-%u-%lx", (int)getpid(), seq,
			 (unsigned long)random() ^ (unsigned long)time(NULL));
		wfile(sp, "fifo", name, sizeof(name));
		if (mkfifoat(sp->dirfd, name, 0600) == 0)
			break;
		if (errno != EEXIST) {
			rc = -errno;
			goto unlock;
		}
	}
	if (tries == 100) {
		rc = -EEXIST;
		goto unlock;
	}
	sp->rfd = openat(sp->dirfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (sp->rfd < 0) {
		rc = -errno;
		goto unlink_fifo;
	}
	sp->kfd = openat(sp->dirfd, name, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (sp->kfd < 0) {
		rc = -errno;
		goto close_rfd;
	}
	goto unlock;

close_rfd:
	close(sp->rfd);
	sp->rfd = -1;
unlink_fifo:
	unlinkat(sp->dirfd, name, 0);
unlock:
	flock(wdfd, LOCK_UN);
close_dir:
	close(wdfd);
	return rc;
}

/* ---- bootstrap ------------------------------------------------------------------------- */

static int ensure_node(struct cctx *c, const char *path, xsp_domid_t owner, unsigned int perm)
{
	struct perms pm = { .n = 1, .p = { { .dom = owner, .perm = perm } } };
	int rc;

	if (live_exists(c->sp, path)) {
		char r[PATH_MAX];
		struct stat sb;

		if (rel(path, ".p", r, sizeof(r)) == 0 &&
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
		ok = rel(nodes[i], ".p", r, sizeof(r)) == 0 &&
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
	const char *q = getenv("XSOCK_STORE_NODE_QUOTA");
	struct store_priv *sp;
	int rc;

	sp = calloc(1, sizeof(*sp));
	if (!sp)
		return -ENOMEM;
	sp->dirfd = lp->dirfd;
	sp->self = p->self;
	sp->rfd = sp->kfd = -1;
	sp->quota = q && *q ? strtol(q, NULL, 10) : DEFAULT_NODE_QUOTA;
	if (sp->quota <= 0)
		sp->quota = DEFAULT_NODE_QUOTA;
	sp->lockfd = openat(sp->dirfd, LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (sp->lockfd < 0) {
		rc = -errno;
		goto free_sp;
	}
	sp->lockpid = getpid();
	if ((mkdirat(sp->dirfd, TXN_DIR, 0700) < 0 && errno != EEXIST) ||
	    (mkdirat(sp->dirfd, WATCH_DIR, 0700) < 0 && errno != EEXIST) ||
	    (mkdirat(sp->dirfd, QUOTA_DIR, 0700) < 0 && errno != EEXIST)) {
		rc = -errno;
		goto close_lock;
	}
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
	char name[128];
	struct pend *pe;
	size_t i;

	if (!sp)
		return;
	while (sp->txns) {
		struct txn *tx = sp->txns;

		sp->txns = tx->next;
		txn_free(sp, tx);
	}
	wfile(sp, "reg", name, sizeof(name));
	unlinkat(sp->dirfd, name, 0);
	wfile(sp, "fifo", name, sizeof(name));
	unlinkat(sp->dirfd, name, 0);
	wfile(sp, "ovf", name, sizeof(name));
	unlinkat(sp->dirfd, name, 0);
	close(sp->rfd);
	close(sp->kfd);
	close(sp->lockfd);
	for (i = 0; i < sp->nw; i++) {
		free(sp->w[i].path);
		free(sp->w[i].token);
	}
	free(sp->w);
	while ((pe = sp->pend) != NULL) {
		sp->pend = pe->next;
		free(pe);
	}
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
	if (v->tx) {
		rc = acc_path(v->tx, path, children);
		if (rc < 0)
			return rc;
	}
	return store_lock(v->sp, LOCK_SH);
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
	struct cctx c;
	unsigned int created;
	size_t alen;
	int rc, rc2;

	rc = get_view(st, t, &v);
	if (rc < 0)
		return rc;
	if (!val)
		val = "";
	if (v.tx) {
		rc = store_lock(v.sp, LOCK_SH);
		if (rc < 0)
			return rc;
		rc = check_write(&v, path, &created, &alen);
		if (rc == 0)
			rc = check_quota(v.sp, v.tx->created + (long)created);
		if (rc == 0)
			rc = txn_write(v.sp, v.tx, path, val, len, alen);
		store_unlock(v.sp);
		return rc;
	}
	rc = store_lock(v.sp, LOCK_EX);
	if (rc < 0)
		return rc;
	rc = check_write(&v, path, &created, &alen);
	if (rc == 0)
		rc = check_quota(v.sp, created);
	if (rc == 0) {
		memset(&c, 0, sizeof(c));
		c.sp = v.sp;
		rc = apply_write(&c, path, val, len, v.sp->self);
		rc2 = cctx_finish(&c);
		if (rc == 0)
			rc = rc2;
	}
	store_unlock(v.sp);
	return rc;
}

int local_store_rm(struct xsp_store *st, xsp_txn_t t, const char *path)
{
	struct view v;
	struct cctx c;
	int rc, rc2;

	rc = get_view(st, t, &v);
	if (rc < 0)
		return rc;
	if (is_root(path))
		return -EINVAL;
	if (v.tx) {
		rc = acc_path(v.tx, path, false);
		if (rc < 0)
			return rc;
	}
	rc = store_lock(v.sp, v.tx ? LOCK_SH : LOCK_EX);
	if (rc < 0)
		return rc;
	rc = view_access(&v, path, XSP_PERM_WRITE, NULL, NULL, NULL);
	if (rc == 0 && v.tx) {
		rc = txn_rm(v.tx, path);
	} else if (rc == 0) {
		memset(&c, 0, sizeof(c));
		c.sp = v.sp;
		rc = apply_rm(&c, path);
		rc2 = cctx_finish(&c);
		if (rc == 0)
			rc = rc2;
	}
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
	struct cctx c;
	struct ov *o;
	unsigned int i;
	int rc, rc2;

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
	if (v.tx) {
		rc = acc_path(v.tx, path, false);
		if (rc < 0)
			return rc;
	}
	rc = store_lock(v.sp, v.tx ? LOCK_SH : LOCK_EX);
	if (rc < 0)
		return rc;
	rc = check_set_perms(&v, path, &pm);
	if (rc == 0 && v.tx) {
		o = ov_get(v.sp, v.tx, path);
		if (!o) {
			rc = -ENOMEM;
		} else {
			o->pm = pm;
			rc = txn_op(v.tx, OP_PERMS, path, NULL, 0, &pm);
		}
	} else if (rc == 0) {
		memset(&c, 0, sizeof(c));
		c.sp = v.sp;
		rc = apply_perms(&c, path, &pm);
		rc2 = cctx_finish(&c);
		if (rc == 0)
			rc = rc2;
	}
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

/* Count live transaction records of our domain (removing dead ones). */
static int txn_count(int dfd)
{
	struct dirent *de;
	DIR *d;
	int fd, n = 0;

	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -ENOMEM;
	}
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
	struct log_hdr h;
	struct txn *tx;
	char name[64];
	int dfd, rc, n;

	tx = calloc(1, sizeof(*tx));
	if (!tx)
		return -ENOMEM;
	tx->recfd = -1;
	snprintf(name, sizeof(name), TXN_DIR "/%u", (unsigned int)sp->self);
	if (mkdirat(sp->dirfd, name, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		goto free_tx;
	}
	dfd = openat(sp->dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		rc = -errno;
		goto free_tx;
	}
	while (flock(dfd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			rc = -errno;
			goto close_dir;
		}
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
		tx->recfd = openat(dfd, tx->recname,
				   O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (tx->recfd >= 0 || errno != EEXIST)
			break;
	}
	if (tx->recfd < 0) {
		rc = -errno;
		goto close_dir;
	}
	flock(tx->recfd, LOCK_EX);	/* held while the transaction is open */
	flock(dfd, LOCK_UN);
	close(dfd);

	rc = store_lock(sp, LOCK_SH);
	if (rc < 0)
		goto unlink_rec;
	rc = log_hdr_read(sp, &h);
	store_unlock(sp);
	if (rc < 0)
		goto unlink_rec;
	tx->gen = h.magic == LOG_MAGIC ? h.gen : 0;
	tx->next = sp->txns;
	sp->txns = tx;
	*t = tx->id;
	return 0;

unlink_rec:
	txn_free(sp, tx);
	return rc;
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

		switch (o->kind) {
		case OP_WRITE:
			rc = apply_write(&c, o->path, o->val, o->len, sp->self);
			break;
		case OP_RM:
			rc = live_exists(sp, o->path) ? apply_rm(&c, o->path) : 0;
			break;
		default:
			rc = apply_perms(&c, o->path, &o->pm);
			break;
		}
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

int local_watch_add(struct xsp_store *st, const char *path, const char *token)
{
	struct store_priv *sp = spriv(st);
	size_t i;
	int rc;

	if (!token || strlen(token) > TOKEN_MAX || strlen(path) > XSP_STORE_PATH_MAX)
		return -EINVAL;
	for (i = 0; i < sp->nw; i++)
		if (!strcmp(sp->w[i].path, path) && !strcmp(sp->w[i].token, token))
			return -EEXIST;
	rc = grow((void **)&sp->w, &sp->capw, sp->nw + 1, sizeof(*sp->w));
	if (rc < 0)
		return rc;
	sp->w[sp->nw].path = strdup(path);
	sp->w[sp->nw].token = strdup(token);
	if (!sp->w[sp->nw].path || !sp->w[sp->nw].token) {
		rc = -ENOMEM;
		goto free_watch;
	}
	sp->nw++;
	rc = write_reg(sp);
	if (rc < 0) {
		sp->nw--;
		goto free_watch;
	}
	return queue_local(sp, path, token);

free_watch:
	free(sp->w[sp->nw].path);
	free(sp->w[sp->nw].token);
	return rc;
}

int local_watch_rm(struct xsp_store *st, const char *path, const char *token)
{
	struct store_priv *sp = spriv(st);
	struct pend **pp, *pe;
	unsigned char *rec;
	size_t i, len;

	if (!path || !token)
		return -EINVAL;
	for (i = 0; i < sp->nw; i++)
		if (!strcmp(sp->w[i].path, path) && !strcmp(sp->w[i].token, token))
			break;
	if (i == sp->nw)
		return -ENOENT;
	free(sp->w[i].path);
	free(sp->w[i].token);
	sp->w[i] = sp->w[--sp->nw];
	write_reg(sp);
	/* Drop its events still waiting in memory (those in the FIFO stay,
	 * as with xenstored's queued events). */
	if (make_record(path, token, &rec, &len) == 0) {
		for (pp = &sp->pend; (pe = *pp) != NULL;) {
			if (pe->len == len && !memcmp(pe->rec, rec, len)) {
				*pp = pe->next;
				free(pe);
			} else {
				pp = &pe->next;
			}
		}
		sp->pend_tail = NULL;
		for (pe = sp->pend; pe; pe = pe->next)
			sp->pend_tail = pe;
		free(rec);
	}
	return 0;
}

static ssize_t read_fifo(int fd, void *buf, size_t len)
{
	ssize_t r;

	do {
		r = read(fd, buf, len);
	} while (r < 0 && errno == EINTR);
	return r;
}

int local_watch_read(struct xsp_store *st, char **path, char **token)
{
	struct store_priv *sp = spriv(st);
	unsigned char hdr[2];
	char name[128];
	size_t len, pl;
	char *buf;
	ssize_t r;

	for (;;) {
		r = read_fifo(sp->rfd, hdr, 2);
		if (r < 0 && errno != EAGAIN)
			return -errno;
		if (r <= 0) {
			if (sp->pend) {
				flush_pending(sp);
				continue;
			}
			wfile(sp, "ovf", name, sizeof(name));
			if (unlinkat(sp->dirfd, name, 0) == 0) {
				refire_all(sp);
				if (sp->pend || sp->nw)
					continue;
			}
			return -EAGAIN;
		}
		len = r == 2 ? (size_t)hdr[0] | ((size_t)hdr[1] << 8) : 0;
		if (r != 2 || len == 0) {
			/* overflow marker (or a torn record): re-fire everything */
			wfile(sp, "ovf", name, sizeof(name));
			unlinkat(sp->dirfd, name, 0);
			refire_all(sp);
			continue;
		}
		buf = malloc(len + 1);
		if (!buf)
			return -ENOMEM;
		r = read_fifo(sp->rfd, buf, len);
		buf[len] = '\0';
		pl = r == (ssize_t)len ? strnlen(buf, len) : len;
		if (pl + 1 >= len || buf[len - 1] != '\0') {
			xs_log(XS_LOG_WARN, "store: torn watch record, re-firing watches");
			free(buf);
			refire_all(sp);
			continue;
		}
		flush_pending(sp);
		*path = buf;
		*token = buf + pl + 1;
		return 0;
	}
}
