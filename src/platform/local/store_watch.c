/* SPDX-License-Identifier: MIT */
/*
 * The local store's watches: this handle's registration and FIFO, the
 * events it queues for itself, and the delivery of a change's events to
 * every handle of the host.
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
 * accepted and get their initial event; afterwards they fire only when
 * local_store_fire() says so (`xsockctl domain create|destroy`, the local
 * stand-in for the toolstack's introduce and release), and only for
 * handles of domain 0, as xenstored's default permissions have it. Tokens are
 * at most TOKEN_MAX (1000) bytes (-EINVAL); a duplicate (path, token) is
 * -EEXIST. xsp_watch_rm() drops the watch's events still waiting in
 * memory, not those already in the FIFO.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fd.h"
#include "common/log.h"
#include "platform/local/store_priv.h"

#define TOKEN_MAX 1000			/* 2 + 3073 + 1001 <= PIPE_BUF */
#define REG_MAX (1u << 22)

static uint32_t watch_seq;

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
	rc = store_write_file_atomic(sp->dirfd, name, buf, off);
	free(buf);
	return rc;
}

/* ---- watches: the writer side ----------------------------------------------------------- */

/* Remove the files <base>.reg, .fifo and .ovf of a handle (relative to @dfd). */
static void watch_unlink(int dfd, const char *base)
{
	static const char *const ext[] = { "reg", "fifo", "ovf" };
	char name[NAME_MAX + 16];
	size_t i;

	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "%s.%s", base, ext[i]);
		unlinkat(dfd, name, 0);
	}
}

/* Remove the files of a dead handle whose FIFO is store-watch/<base>.fifo. */
static void watch_gc(int wdfd, const char *base)
{
	xs_log(XS_LOG_INFO, "store: removing stale watch registration %s", base);
	watch_unlink(wdfd, base);
}

/* Does a watch on @w fire for an event on @ev? *fpath: the path to report. */
static bool watch_match(const char *w, const struct ev *e, const char **fpath)
{
	/* A special event (local_store_fire()) fires its own watch only. */
	if (w[0] == '@' || e->path[0] == '@') {
		*fpath = w;
		return strcmp(w, e->path) == 0;
	}
	if (w[0] != '/')
		return false;
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
	ofd = local_creat_at(wdfd, name, O_WRONLY | O_NOFOLLOW);
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
	if (store_read_file_at(wdfd, name, REG_MAX, &buf, &len) < 0)
		return;
	end = buf + len;
	if (len < 4 || memcmp(buf, "X1", 3) != 0 || !memchr(buf + 3, '\0', len - 3)) {
		xs_log(XS_LOG_WARN, "store: malformed watch registration %s", name);
		goto free_buf;
	}
	dom = strtoul(buf + 3, NULL, 10);
	for (i = 0; i < nev; i++) {
		/* Special events are domain 0's (Xen's default permissions). */
		bool special = evs[i].path[0] == '@';
		bool have_pm = special, readable = !special || dom == 0;

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
void notify_watches(struct store_priv *sp, const struct ev *evs, size_t nev)
{
	sigset_t pipe_set, old_set, pending;
	const struct timespec zero = { 0, 0 };
	bool was_pending;
	struct dirent *de;
	DIR *d;

	if (local_opendir_at(sp->dirfd, WATCH_DIR, 0, &d) < 0)
		return;
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

	if (local_opendir_at(wdfd, ".", 0, &d) < 0)
		return;
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

int watch_setup(struct store_priv *sp)
{
	char name[128];
	int wdfd, rc = 0, tries;

	/* Creation and collection exclude each other: a FIFO just made but
	 * not yet opened looks dead. */
	wdfd = local_lock_open(sp->dirfd, WATCH_DIR, O_RDONLY | O_DIRECTORY);
	if (wdfd < 0)
		return wdfd;
	watch_gc_all(sp, wdfd);
	for (tries = 0; tries < 100; tries++) {
		unsigned int seq = __atomic_add_fetch(&watch_seq, 1, __ATOMIC_RELAXED);

		snprintf(sp->wname, sizeof(sp->wname), "%d-%u-%lx", (int)getpid(), seq,
			 (unsigned long)random() ^ (unsigned long)time(NULL));
		wfile(sp, "fifo", name, sizeof(name));
		rc = local_mkfifo_at(sp->dirfd, name);
		if (rc == 0)
			break;
		if (rc != -EEXIST)
			goto unlock;
	}
	if (tries == 100) {
		rc = -EEXIST;
		goto unlock;
	}
	rc = local_fifo_open(sp->dirfd, name, &sp->rfd, &sp->kfd);
	if (rc < 0)
		goto unlink_fifo;
	/* The process's lifetime maybe: out of the application's fd numbers. */
	sp->rfd = xs_fd_out_of_way(sp->rfd);
	sp->kfd = xs_fd_out_of_way(sp->kfd);
	goto unlock;

unlink_fifo:
	unlinkat(sp->dirfd, name, 0);
unlock:
	flock(wdfd, LOCK_UN);
	close(wdfd);
	return rc;
}

/* At close: remove this handle's files, close its FIFO, drop its watches and events. */
void watch_close(struct store_priv *sp)
{
	char base[128];
	struct pend *pe;
	size_t i;

	snprintf(base, sizeof(base), WATCH_DIR "/%s", sp->wname);
	watch_unlink(sp->dirfd, base);
	close(sp->rfd);
	close(sp->kfd);
	for (i = 0; i < sp->nw; i++) {
		free(sp->w[i].path);
		free(sp->w[i].token);
	}
	free(sp->w);
	while ((pe = sp->pend) != NULL) {
		sp->pend = pe->next;
		free(pe);
	}
}

/* ---- the interface -------------------------------------------------------------------------- */

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

int local_store_fire(struct xsp_store *st, const char *special)
{
	struct store_priv *sp = spriv(st);
	struct ev e = { .path = (char *)special, .removed = false };
	int rc;

	if (special[0] != '@' || strlen(special) > XSP_STORE_PATH_MAX)
		return -EINVAL;
	if (sp->self != 0)
		return -EACCES;
	rc = store_lock(sp, LOCK_EX);
	if (rc < 0)
		return rc;
	notify_watches(sp, &e, 1);
	store_unlock(sp);
	return 0;
}
