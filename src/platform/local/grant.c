/* SPDX-License-Identifier: MIT */
/*
 * Local backend: grants as shared-memory files.
 *
 * Layout below XSOCK_LOCAL_DIR:
 *
 *   grant.lock                     flock: serialises share, unshare, GC;
 *                                  its contents: the live-page count of
 *                                  each sharing domain (below)
 *   grant/<grantee>/<ref0>.<sharer>  one share: its npages pages (file size
 *                                  npages * 4096, zeroed), granted as refs
 *                                  ref0 .. ref0 + npages - 1; its flock
 *                                  says whether a holder is alive
 *
 * Grant references come from the host-wide counter "grant-ref", so a ref
 * names one grant on the whole host; a share takes its npages refs in one
 * counter operation (consecutive numbers), which lets one file hold them
 * all. The file carries the sharer's domid in its name: a map must name
 * the right (peer, ref) pair as on Xen. A map finds the file of ref r as
 * the nearest <k>.<peer> with k <= r (at most 1024 names down, the largest
 * share) whose size covers r; the refs of one share map with one mmap.
 *
 * Cost: a share or unshare costs a constant number of system calls, never
 * O(grants on the host) nor O(pages): the budget is a count kept in
 * grant.lock, and the walk of every grant (collection of stale grants,
 * recount) runs at most once per GRANT_GC_INTERVAL_NS per process, or when
 * the budget would refuse.
 *
 * Choices (Xen semantics kept):
 *  - Only files in grant/<self>/ may be mapped: a ref that exists for
 *    another grantee is -EPERM, a ref that exists nowhere (or from another
 *    sharer) is -ENOENT.
 *  - The sharer maps its pages MAP_SHARED: inherited by fork(), as with
 *    gntalloc. A mapper's region gets MADV_DONTFORK: a forked child has
 *    nothing at that address, as with gntdev in a PV domain.
 *  - Lifetime ("last holder"): the sharer keeps an fd of the share file
 *    open with a shared flock. A forked child inherits that open file
 *    description, so the lock stays held while any process holding the
 *    share lives. xsp_unshare() drops its fd and then probes with a fresh
 *    open + LOCK_EX|LOCK_NB: only the last holder clears the notify byte,
 *    signals and unlinks the file; earlier holders just unmap. The probe
 *    runs under grant.lock so that a concurrent GC cannot hide a holder.
 *  - Revocation is deferred as on Xen: unlinking the file does not affect
 *    existing mappings; the memory lives until the last unmap.
 *  - Stale grants (every holder of the share file died, e.g. SIGKILL)
 *    are collected lazily by a walk of grant/ that costs one open+flock
 *    per live share on the host: by share and map calls at most once a
 *    second per process, and by a share that the budget would refuse,
 *    before it refuses (so stale grants never cause a false -ENOSPC).
 *    A peer that still maps such a page keeps its mapping; only the names
 *    go away, so a later map of that ref fails with -ENOENT.
 *  - Budget: at most XSOCK_GRANT_LIMIT (default 65536; 1024 mimics
 *    gntalloc's default limit in a Xen domain) live pages per sharing
 *    domain, host-wide: -ENOSPC beyond. The count of each sharing domain
 *    is a native uint32_t at offset 4 * domid of grant.lock, holding the
 *    count + 1 (0, or a short file: not known). Share adds its pages
 *    before it creates its file; unshare by the last holder and GC
 *    subtract the pages of the file they remove, all under grant.lock.
 *    A process that dies inside share leaves the count too high, never
 *    too low; a share that would exceed the budget, or finds the count
 *    unknown, collects stale grants and recounts the share files first.
 *  - Unmap notification: on an orderly unshare (by the last holder) or
 *    unmap the byte at the offset in page 0 is cleared before the pages go
 *    and the event channel, if any, is notified. Nothing can run in a
 *    process that dies: the peer learns of a death from its event channel
 *    (hang-up, xsp_evtchn_ack() == -EPIPE), see platform.h.
 *
 * Trust: the files belong to one Unix user; the library enforces the
 * rules, the kernel does not (local.h).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/env.h"
#include "common/fd.h"
#include "common/log.h"
#include "platform/local/grant_priv.h"
#include "platform/local/local.h"

#define GRANT_DEFAULT_LIMIT 65536u	/* XSOCK_GRANT_LIMIT=1024 mimics gntalloc */
#define GRANT_GC_INTERVAL_NS 1000000000LL

unsigned long local_grant_walks;
long long local_grant_gc_interval_ns = GRANT_GC_INTERVAL_NS;

struct map_priv {
	struct grant_notify notify;
};

/* Last GC of this process (CLOCK_MONOTONIC ns); 0: never. */
static long long last_gc_ns;	/* relaxed atomics: map reads it unlocked */

/* Read at every share: tests change it between shares. */
static unsigned int grant_limit(void)
{
	return (unsigned int)xs_env_long("XSOCK_GRANT_LIMIT", GRANT_DEFAULT_LIMIT, 1, 1 << 20);
}

static int ensure_dir(int dirfd, const char *path)
{
	int rc = local_mkdir_at(dirfd, path);

	return rc == -EEXIST ? 0 : rc;
}

/* Take grant.lock exclusively. Returns the fd (close to unlock) or -errno. */
static int grant_lock(struct local_priv *lp)
{
	int rc;

	rc = ensure_dir(lp->dirfd, "grant");
	if (rc < 0)
		return rc;
	return local_lock_open(lp->dirfd, "grant.lock", O_RDWR | O_CREAT);
}

static void grant_unlock(int fd)
{
	if (fd >= 0)
		close(fd);	/* drops the flock */
}

/* Parse "<u32>.<u16>", a share file's name. */
static int parse_name(const char *name, uint32_t *ref0, unsigned int *sharer)
{
	unsigned long r, d;
	char *end;

	if (name[0] < '0' || name[0] > '9')
		return -EINVAL;
	r = strtoul(name, &end, 10);
	if (*end != '.' || r == 0 || r > 0xFFFFFFFFul)
		return -EINVAL;
	if (end[1] < '0' || end[1] > '9')
		return -EINVAL;
	d = strtoul(end + 1, &end, 10);
	if (d > 0xFFFF || *end != '\0')
		return -EINVAL;
	*ref0 = (uint32_t)r;
	*sharer = (unsigned int)d;
	return 0;
}

/* Pages of an open share file: 0 while it is being created (or corrupt). */
static unsigned int file_pages(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size % XSP_PAGE_SIZE ||
	    st.st_size > (off_t)GRANT_MAX_SHARE * XSP_PAGE_SIZE)
		return 0;
	return (unsigned int)(st.st_size / XSP_PAGE_SIZE);
}

/*
 * The live-page counts in grant.lock (held by the caller through @lockfd).
 * Returns 0 and the count, or -ENODATA when it is not known.
 */
static int count_get(int lockfd, xsp_domid_t d, uint32_t *out)
{
	uint32_t v = 0;

	if (pread(lockfd, &v, sizeof(v), (off_t)d * sizeof(v)) != (ssize_t)sizeof(v) || v == 0)
		return -ENODATA;
	*out = v - 1;
	return 0;
}

/* Store @count; a failed write leaves it unknown at worst (recounted). */
static void count_set(int lockfd, xsp_domid_t d, uint32_t count)
{
	uint32_t v = count + 1;

	if (pwrite(lockfd, &v, sizeof(v), (off_t)d * sizeof(v)) != (ssize_t)sizeof(v))
		xs_log(XS_LOG_DEBUG, "grant: count of dom%u not stored", (unsigned int)d);
}

static void count_forget(int lockfd, xsp_domid_t d)
{
	uint32_t v = 0;

	if (pwrite(lockfd, &v, sizeof(v), (off_t)d * sizeof(v)) != (ssize_t)sizeof(v))
		xs_log(XS_LOG_DEBUG, "grant: count of dom%u not cleared", (unsigned int)d);
}

/* @n pages of domain @d went away; a count that would go negative is unknown. */
static void count_sub(int lockfd, xsp_domid_t d, uint32_t n)
{
	uint32_t v;

	if (count_get(lockfd, d, &v) < 0)
		return;
	if (v >= n)
		count_set(lockfd, d, v - n);
	else
		count_forget(lockfd, d);
}

/*
 * Call @fn for every share file below grant/<grantee>/, in every grantee
 * directory but that of domain @skip (-1: none), with its grantee
 * directory fd and its parsed name. @fn returns the amount to add to the
 * result, or a negative value to end the walk, which then returns that
 * value.
 */
typedef int (*grant_visit_fn)(int gfd, const char *gname, const char *name, uint32_t ref0,
			      unsigned int sharer, void *arg);

static int grant_visit(struct local_priv *lp, long skip, grant_visit_fn fn, void *arg)
{
	DIR *top, *sub;
	struct dirent *de, *se;
	int gfd, total = 0;

	if (local_opendir_at(lp->dirfd, "grant", 0, &top) < 0)
		return 0;
	while (total >= 0 && (de = readdir(top)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9' ||
		    (skip >= 0 && strtoul(de->d_name, NULL, 10) == (unsigned long)skip))
			continue;
		if (local_opendir_at(dirfd(top), de->d_name, 0, &sub) < 0)
			continue;
		gfd = dirfd(sub);
		while ((se = readdir(sub)) != NULL) {
			uint32_t ref0;
			unsigned int sharer;
			int n;

			if (parse_name(se->d_name, &ref0, &sharer) < 0)
				continue;
			n = fn(gfd, de->d_name, se->d_name, ref0, sharer, arg);
			if (n < 0) {
				total = n;
				break;
			}
			total += n;
		}
		closedir(sub);	/* closes gfd */
	}
	closedir(top);
	return total;
}

/* A full walk, counted in local_grant_walks (grant.lock held by the caller). */
static int grant_walk(struct local_priv *lp, grant_visit_fn fn, void *arg)
{
	local_grant_walks++;
	return grant_visit(lp, -1, fn, arg);
}

/*
 * A share file whose lock nobody holds belongs to no live process.
 * @arg: the fd of grant.lock, whose counts lose the file's pages.
 */
static int gc_visit(int gfd, const char *gname, const char *name, uint32_t ref0,
		    unsigned int sharer, void *arg)
{
	int fd, removed = 0, lockfd = *(const int *)arg;

	fd = openat(gfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		xs_log(XS_LOG_DEBUG, "grant gc: stale share %s/%s", gname, name);
		count_sub(lockfd, (xsp_domid_t)sharer, file_pages(fd));
		unlinkat(gfd, name, 0);
		removed = 1;
	}
	close(fd);
	return removed;
}

/*
 * Collect the shares no process holds any more (grant.lock held by the
 * caller, @lockfd). Returns the number of shares removed.
 */
static int grant_gc(struct local_priv *lp, int lockfd)
{
	__atomic_store_n(&last_gc_ns, xs_now_ns(), __ATOMIC_RELAXED);
	return grant_walk(lp, gc_visit, &lockfd);
}

static bool grant_gc_due(void)
{
	long long last = __atomic_load_n(&last_gc_ns, __ATOMIC_RELAXED);

	return last == 0 || xs_now_ns() - last >= local_grant_gc_interval_ns;
}

static int count_visit(int gfd, const char *gname, const char *name, uint32_t ref0,
		       unsigned int sharer, void *arg)
{
	struct stat st;

	if (sharer != *(const xsp_domid_t *)arg || fstatat(gfd, name, &st, 0) < 0)
		return 0;
	return (int)(st.st_size / XSP_PAGE_SIZE);
}

/* Pages currently shared by domain @sharer, host-wide, by a walk (lock held). */
static unsigned int grant_count(struct local_priv *lp, xsp_domid_t sharer)
{
	return (unsigned int)grant_walk(lp, count_visit, &sharer);
}

/*
 * Add @npages to the count of domain @sharer if the budget @limit allows
 * (grant.lock held, @lockfd). A count that is unknown or would exceed the
 * limit is first made exact: stale grants are collected (unless @gc_done)
 * and the share files counted. Returns 0 or -ENOSPC.
 */
static int budget_take(struct local_priv *lp, int lockfd, xsp_domid_t sharer,
		       unsigned int npages, unsigned int limit, bool gc_done)
{
	uint32_t used;

	if (count_get(lockfd, sharer, &used) < 0 || (uint64_t)used + npages > limit) {
		if (!gc_done)
			grant_gc(lp, lockfd);
		used = grant_count(lp, sharer);
	}
	if ((uint64_t)used + npages > limit) {
		count_set(lockfd, sharer, used);
		return -ENOSPC;
	}
	count_set(lockfd, sharer, used + npages);
	return 0;
}

int local_grant_pages(struct xsp *p, xsp_domid_t sharer, unsigned int *out)
{
	uint32_t v;
	int lockfd, rc;

	lockfd = grant_lock(local_priv(p));
	if (lockfd < 0)
		return lockfd;
	rc = count_get(lockfd, sharer, &v);
	if (rc == 0)
		*out = v;
	grant_unlock(lockfd);
	return rc;
}

/* Reserve @npages of address space (PROT_NONE). Returns MAP_FAILED on error. */
static void *reserve(unsigned int npages)
{
	return mmap(NULL, (size_t)npages * XSP_PAGE_SIZE, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
}

/* Map @n pages of @fd from page @first over page @i of @base. */
static int map_pages_fd(void *base, unsigned int i, unsigned int n, int fd, unsigned int first)
{
	void *want = (char *)base + (size_t)i * XSP_PAGE_SIZE;
	void *got = mmap(want, (size_t)n * XSP_PAGE_SIZE, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, fd, (off_t)first * XSP_PAGE_SIZE);

	if (got == MAP_FAILED)
		return -errno;
	return 0;
}

static void notify_fire(void *page0, const struct grant_notify *n)
{
	if (!n->armed)
		return;
	/*
	 * Release store: every earlier store of ours to the shared page is
	 * visible before the peer can observe the cleared byte.
	 */
	__atomic_store_n((unsigned char *)page0 + n->offset, 0, __ATOMIC_RELEASE);
}

static void notify_signal(const struct grant_notify *n)
{
	if (n->armed && n->ev)
		xsp_evtchn_notify(n->ev);
}

void grant_notify_set(struct grant_notify *dst, const struct xsp_unmap_notify *src)
{
	dst->armed = src != NULL;
	if (src) {
		dst->offset = src->offset;
		dst->ev = src->ev;
	}
}

int local_share(struct xsp *p, xsp_domid_t peer, unsigned int npages,
		const struct xsp_unmap_notify *notify, struct xsp_share *s)
{
	struct local_priv *lp = local_priv(p);
	struct share_priv *sp;
	char gdir[16], name[32];
	unsigned int i, limit = grant_limit();
	int lockfd, gfd = -1, mfd, rc;
	bool gc_done = false;
	void *base;

	if (npages == 0 || npages > GRANT_MAX_SHARE)
		return -EINVAL;
	sp = calloc(1, sizeof(*sp));
	if (!sp)
		return -ENOMEM;
	sp->lockfd = -1;
	grant_notify_set(&sp->notify, notify);

	lockfd = grant_lock(lp);
	if (lockfd < 0) {
		rc = lockfd;
		goto free_priv;
	}
	if (grant_gc_due()) {
		grant_gc(lp, lockfd);
		gc_done = true;
	}
	/* Counted before the file exists: a death from here on errs high. */
	rc = budget_take(lp, lockfd, p->self, npages, limit, gc_done);
	if (rc < 0)
		goto unlock;

	snprintf(gdir, sizeof(gdir), "grant/%u", (unsigned int)peer);
	rc = ensure_dir(lp->dirfd, gdir);
	if (rc < 0)
		goto uncount;
	gfd = openat(lp->dirfd, gdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (gfd < 0) {
		rc = -errno;
		goto uncount;
	}
	rc = local_counter_add(p, "grant-ref", npages, &s->refs[0]);
	if (rc < 0)
		goto close_gdir;
	for (i = 1; i < npages; i++)
		s->refs[i] = s->refs[0] + i;

	/*
	 * The file, locked before it has a size: a map sees no page of it
	 * until it is complete, GC removes it if we die.
	 */
	snprintf(name, sizeof(name), "%u.%u", s->refs[0], (unsigned int)p->self);
	snprintf(sp->rec, sizeof(sp->rec), "%s/%s", gdir, name);
	sp->lockfd = local_creat_at(gfd, name, O_RDWR | O_EXCL);
	if (sp->lockfd < 0) {
		rc = sp->lockfd;
		sp->lockfd = -1;
		goto close_gdir;
	}
	if (flock(sp->lockfd, LOCK_SH) < 0 ||
	    ftruncate(sp->lockfd, (off_t)npages * XSP_PAGE_SIZE) < 0) {
		rc = -errno;
		goto remove_file;
	}
	/*
	 * Mapped through another open file description: a mapping keeps its
	 * description, and so a flock on it, alive until munmap(), which
	 * would hide the last holder from unshare's probe.
	 */
	mfd = openat(gfd, name, O_RDWR | O_CLOEXEC);
	if (mfd < 0) {
		rc = -errno;
		goto remove_file;
	}
	base = mmap(NULL, (size_t)npages * XSP_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		    mfd, 0);
	rc = base == MAP_FAILED ? -errno : 0;
	close(mfd);
	if (rc < 0)
		goto remove_file;
	close(gfd);
	grant_unlock(lockfd);
	/* Kept for the share's life: out of the application's way. */
	sp->lockfd = xs_fd_out_of_way(sp->lockfd);
	s->addr = base;
	s->priv = sp;
	xs_log(XS_LOG_DEBUG, "shared %u page(s) with dom%u, ref0 %u", npages,
	       (unsigned int)peer, s->refs[0]);
	return 0;

remove_file:
	unlinkat(gfd, name, 0);
	close(sp->lockfd);
close_gdir:
	close(gfd);
uncount:
	count_sub(lockfd, p->self, npages);
unlock:
	grant_unlock(lockfd);
free_priv:
	free(sp);
	return rc;
}

void local_unshare(struct xsp_share *s)
{
	struct local_priv *lp = local_priv(s->p);
	struct share_priv *sp = s->priv;
	bool last = false;
	int lockfd, probe;

	if (!sp)
		return;
	lockfd = grant_lock(lp);
	/* Drop our hold; a forked child sharing the description keeps it. */
	close(sp->lockfd);
	probe = openat(lp->dirfd, sp->rec, O_RDONLY | O_CLOEXEC);
	if (probe < 0) {
		last = true;	/* already collected: nobody else holds it */
	} else if (flock(probe, LOCK_EX | LOCK_NB) == 0) {
		last = true;
		count_sub(lockfd, s->p->self, file_pages(probe));
		unlinkat(lp->dirfd, sp->rec, 0);
	}
	if (probe >= 0)
		close(probe);
	grant_unlock(lockfd);

	if (last)
		notify_fire(s->addr, &sp->notify);
	munmap(s->addr, (size_t)s->npages * XSP_PAGE_SIZE);
	if (last)
		notify_signal(&sp->notify);
	s->addr = NULL;
	s->priv = NULL;
	free(sp);
}

/* Does share file @name hold ref *@arg? Then end the walk (-1). */
static int holds_visit(int gfd, const char *gname, const char *name, uint32_t ref0,
		       unsigned int sharer, void *arg)
{
	uint32_t ref = *(const uint32_t *)arg;
	struct stat st;

	if (ref0 <= ref && ref - ref0 < GRANT_MAX_SHARE && fstatat(gfd, name, &st, 0) == 0 &&
	    (uint64_t)(ref - ref0) * XSP_PAGE_SIZE < (uint64_t)st.st_size)
		return -1;
	return 0;
}

/* Does a share of another grantee than @self hold <ref>? */
static bool ref_elsewhere(struct local_priv *lp, xsp_domid_t self, uint32_t ref)
{
	return grant_visit(lp, self, holds_visit, &ref) < 0;
}

/* An open share file of the mapping peer: it holds refs ref0 .. ref0 + npages - 1. */
struct share_file {
	int fd;
	uint32_t ref0;
	unsigned int npages;
};

/*
 * Open the share file of (@peer, @ref) in grantee directory @gfd: the
 * nearest <k>.<peer> with k <= @ref, which must cover @ref. Returns 0,
 * -ENOENT (no such grant, or its share is still being created), -errno.
 */
static int find_share(int gfd, xsp_domid_t peer, uint32_t ref, struct share_file *f)
{
	char name[32];
	uint32_t k;

	for (k = ref; k >= 1 && ref - k < GRANT_MAX_SHARE; k--) {
		int fd;

		snprintf(name, sizeof(name), "%u.%u", k, (unsigned int)peer);
		fd = openat(gfd, name, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT)
				continue;
			return -errno;
		}
		f->npages = file_pages(fd);
		if (ref - k >= f->npages) {
			close(fd);
			return -ENOENT;	/* not in the nearest share, so in none */
		}
		f->fd = fd;
		f->ref0 = k;
		return 0;
	}
	return -ENOENT;
}

int local_map(struct xsp *p, xsp_domid_t peer, unsigned int n,
	      const xsp_gref_t *refs, const struct xsp_unmap_notify *notify,
	      struct xsp_map *m)
{
	struct local_priv *lp = local_priv(p);
	struct share_file f = { .fd = -1 };
	struct map_priv *mp;
	char gdir[32];
	unsigned int i, run;
	int gfd, rc;
	void *base;

	mp = calloc(1, sizeof(*mp));
	if (!mp)
		return -ENOMEM;
	grant_notify_set(&mp->notify, notify);

	if (grant_gc_due()) {
		int lockfd = grant_lock(lp);

		if (lockfd >= 0) {
			grant_gc(lp, lockfd);
			grant_unlock(lockfd);
		}
	}

	snprintf(gdir, sizeof(gdir), "grant/%u", (unsigned int)p->self);
	gfd = openat(lp->dirfd, gdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	base = reserve(n);
	if (base == MAP_FAILED) {
		rc = -ENOMEM;
		goto close_gdir;
	}
	/* Runs of consecutive refs in one share map with one mmap. */
	for (i = 0; i < n; i += run) {
		if (f.fd < 0 || refs[i] < f.ref0 || refs[i] - f.ref0 >= f.npages) {
			if (f.fd >= 0)
				close(f.fd);
			f.fd = -1;
			rc = gfd < 0 ? -ENOENT : find_share(gfd, peer, refs[i], &f);
			if (rc == -ENOENT && ref_elsewhere(lp, p->self, refs[i]))
				rc = -EPERM;
			if (rc < 0)
				goto unmap;
		}
		for (run = 1; i + run < n && refs[i + run] == refs[i] + run &&
		     refs[i + run] - f.ref0 < f.npages; run++)
			;
		rc = map_pages_fd(base, i, run, f.fd, refs[i] - f.ref0);
		if (rc < 0)
			goto unmap;
	}
	if (madvise(base, (size_t)n * XSP_PAGE_SIZE, MADV_DONTFORK) < 0) {
		rc = -errno;
		goto unmap;
	}
	if (f.fd >= 0)
		close(f.fd);
	if (gfd >= 0)
		close(gfd);
	m->addr = base;
	m->priv = mp;
	return 0;

unmap:
	if (f.fd >= 0)
		close(f.fd);
	munmap(base, (size_t)n * XSP_PAGE_SIZE);
close_gdir:
	if (gfd >= 0)
		close(gfd);
	free(mp);
	return rc;
}

void local_map_forget(struct xsp_map *m)
{
	free(m->priv);
	m->priv = NULL;
}

int local_map_notify(struct xsp_map *m, const struct xsp_unmap_notify *notify)
{
	struct map_priv *mp = m->priv;

	if (!mp)
		return -EINVAL;
	grant_notify_set(&mp->notify, notify);
	return 0;
}

void local_unmap(struct xsp_map *m)
{
	struct map_priv *mp = m->priv;

	if (!mp)
		return;
	notify_fire(m->addr, &mp->notify);
	munmap(m->addr, (size_t)m->npages * XSP_PAGE_SIZE);
	notify_signal(&mp->notify);
	m->addr = NULL;
	m->priv = NULL;
	free(mp);
}

int local_map_orphan(struct xsp_map *m, void *copy)
{
	size_t len = (size_t)m->npages * XSP_PAGE_SIZE;

	/* Atomically replaces the share file's pages at m->addr: the file's
	 * memory is ours no more, and no notification fires. */
	if (mremap(copy, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, m->addr) == MAP_FAILED)
		return -errno;
	free(m->priv);
	return 0;
}
