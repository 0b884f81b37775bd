/* SPDX-License-Identifier: MIT */
/*
 * The local backend: Xen's grant, event channel and store semantics for
 * processes on one host. A "domain" is any set of processes started with
 * the same XSOCK_DOMID; all shared state lives below XSOCK_LOCAL_DIR
 * (default /dev/shm/xsock), which every domain of a host must share:
 *
 *   grant/<grantee>/<ref0>.<sharer>  one share: the pages of its refs
 *                                   ref0.. (consecutive); its lock = alive
 *   evtchn/<port>.a2b, .b2a, .meta  a channel's FIFOs and owner record
 *   grant.lock, evtchn.lock         serialise allocation and collection
 *                                   (grant.lock also holds the budget counts)
 *   store/, store.lock, store-*     the store (store.c and store_*.c)
 *   grant-ref, evtchn-port          counters (under flock)
 *
 * The backend enforces Xen's rules in the library (a domain maps only the
 * grants in its own grant/<domid>/ directory, binds only ports allocated
 * for it, reads only store nodes it has permission for). It trusts
 * XSOCK_DOMID: processes of one Unix user can impersonate each other, so
 * isolation between mutually hostile containers needs distinct directories
 * or users (docs/protocol.md, "Local backend").
 *
 * Who may use it (docs/protocol.md, "Who may use rings"): whoever can read,
 * write and search XSOCK_LOCAL_DIR. The directory must belong to root or to
 * the caller and not be writable by everyone; a setgid directory (xsockctl
 * setup) is shared by its group: everything created below it is 0660 (files,
 * FIFOs) or 02770 (directories) whatever the umask, else 0600 and 0700. The
 * directory is opened once per process and that fd kept (local_open()), so
 * a process that chroot()s, or its forked children, still reach it.
 */
#ifndef XSOCK_PLATFORM_LOCAL_H
#define XSOCK_PLATFORM_LOCAL_H

#include <dirent.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "platform/platform.h"

struct local_priv {
	char dir[PATH_MAX];		/* XSOCK_LOCAL_DIR, absolute */
	char status[PATH_MAX];		/* dir + "/status" (xsp_status_base()) */
	int dirfd;			/* O_PATH|O_DIRECTORY of dir */
};

static inline struct local_priv *local_priv(const struct xsp *p)
{
	return (struct local_priv *)p->priv;
}

/*
 * Allocate a host-wide unique number from counter @name (a file below
 * dir), starting at 1, under an exclusive flock. Errors: -errno of I/O.
 */
int local_counter_next(struct xsp *p, const char *name, uint32_t *out);

#define LOCAL_COUNTER_MAX_BATCH 65536u

/*
 * Allocate @n consecutive numbers from counter @name in one locked
 * operation: *first .. *first + @n - 1, all in 1 .. 0x7FFFFFFF (the counter
 * starts over at 1 rather than wrap inside a batch).
 * Errors: -EINVAL (@n 0 or above LOCAL_COUNTER_MAX_BATCH), -errno of I/O.
 */
int local_counter_add(struct xsp *p, const char *name, uint32_t n, uint32_t *first);

/*
 * Creating below @dirfd with the tree's modes: 0660 and 02770 when @dirfd
 * is a setgid directory (a group's tree), else 0600 and 0700; a file we
 * own that an O_CREAT open finds (or a umask made) otherwise is fixed.
 * local_creat_at() opens @name with @flags | O_CREAT | O_CLOEXEC and
 * returns the fd or -errno; local_mkdir_at() and local_mkfifo_at() return
 * 0 or -errno (-EEXIST when @name exists; its mode is left alone).
 */
bool local_dir_shared(int dirfd);
int local_creat_at(int dirfd, const char *name, int flags);
int local_mkdir_at(int dirfd, const char *name);
int local_mkfifo_at(int dirfd, const char *name);

/*
 * Open @name (relative to @dirfd) with @flags and O_CLOEXEC (O_CREAT:
 * the tree's file mode, local_creat_at()) and wait for an exclusive flock on it. Returns the fd (close
 * it to unlock) or -errno.
 */
int local_lock_open(int dirfd, const char *name, int flags);

/*
 * Open FIFO @name (relative to @dirfd) for reading, then for writing, both
 * O_NONBLOCK and O_CLOEXEC: with a reader open, opening the writer
 * non-blocking cannot fail with ENXIO. On failure neither stays open (both
 * fds are -1). Errors: -errno of open.
 */
int local_fifo_open(int dirfd, const char *name, int *rfd, int *wfd);

/*
 * Open directory @name (relative to @dirfd; "." for @dirfd itself, which
 * stays open) as a stream, O_CLOEXEC plus @flags (0 or O_NOFOLLOW).
 * closedir() closes its own fd. Errors: -errno of open or fdopendir.
 */
int local_opendir_at(int dirfd, const char *name, int flags, DIR **out);

/* grant.c */
int local_share(struct xsp *p, xsp_domid_t peer, unsigned int npages,
		const struct xsp_unmap_notify *notify, struct xsp_share *s);
void local_unshare(struct xsp_share *s);
int local_map(struct xsp *p, xsp_domid_t peer, unsigned int n,
	      const xsp_gref_t *refs, const struct xsp_unmap_notify *notify,
	      struct xsp_map *m);
void local_unmap(struct xsp_map *m);
void local_map_forget(struct xsp_map *m);
int local_map_notify(struct xsp_map *m, const struct xsp_unmap_notify *notify);
int local_map_orphan(struct xsp_map *m, void *copy);
/* exec hand-over (platform.h, "exec: what crosses it") */
void local_share_forget(struct xsp_share *s);
void local_evtchn_forget(struct xsp_evtchn *e);
int local_share_export(const struct xsp_share *s, int *fd);
int local_share_import(struct xsp *p, int fd, const struct xsp_unmap_notify *notify,
		       struct xsp_share *s);

/*
 * The live pages domain @sharer shares, host-wide, as the budget counts
 * them (read under grant.lock). Errors: -ENODATA not known (the next share
 * of @sharer recounts by a walk), -errno of I/O. For tests and tools.
 */
int local_grant_pages(struct xsp *p, xsp_domid_t sharer, unsigned int *out);

/*
 * Test hooks (process-wide, not thread-safe): the number of full walks of
 * grant/ this process made, and the least time between two stale-grant
 * collections by share or map of this process (default one second).
 */
extern unsigned long local_grant_walks;
extern long long local_grant_gc_interval_ns;

/* evtchn.c */
int local_evtchn_alloc(struct xsp *p, xsp_domid_t peer, struct xsp_evtchn *e);
int local_evtchn_bind(struct xsp *p, xsp_domid_t peer, xsp_port_t remote_port,
		      struct xsp_evtchn *e);
int local_evtchn_notify(struct xsp_evtchn *e);
int local_evtchn_ack(struct xsp_evtchn *e);
void local_evtchn_close(struct xsp_evtchn *e);
int local_evtchn_export(const struct xsp_evtchn *e, struct xsp_evtchn_exec *x);
int local_evtchn_import(struct xsp *p, const struct xsp_evtchn_exec *x, struct xsp_evtchn *e);

/* store.c */
int local_store_open(struct xsp *p, struct xsp_store *st);
void local_store_close(struct xsp_store *st);
int local_store_read(struct xsp_store *st, xsp_txn_t t, const char *path,
		     char **val, size_t *len);
int local_store_write(struct xsp_store *st, xsp_txn_t t, const char *path,
		      const void *val, size_t len);
int local_store_rm(struct xsp_store *st, xsp_txn_t t, const char *path);
int local_store_list(struct xsp_store *st, xsp_txn_t t, const char *path,
		     char ***names, unsigned int *n);
int local_store_set_perms(struct xsp_store *st, xsp_txn_t t, const char *path,
			  const struct xsp_perm *perms, unsigned int n);
int local_store_get_perms(struct xsp_store *st, xsp_txn_t t, const char *path,
			  struct xsp_perm **perms, unsigned int *n);

/* store_txn.c */
int local_txn_start(struct xsp_store *st, xsp_txn_t *t);
int local_txn_end(struct xsp_store *st, xsp_txn_t t, bool abort);

/* store_watch.c */
int local_watch_add(struct xsp_store *st, const char *path, const char *token);
/* Fire the special watch @special ("@introduceDomain", ...) for domain 0's
 * handles; domain 0 only (-EACCES). */
int local_store_fire(struct xsp_store *st, const char *special);
int local_watch_rm(struct xsp_store *st, const char *path, const char *token);
int local_watch_read(struct xsp_store *st, char **path, char **token);

#endif /* XSOCK_PLATFORM_LOCAL_H */
