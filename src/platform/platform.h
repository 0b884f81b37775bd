/* SPDX-License-Identifier: MIT */
/*
 * The platform layer: everything xsock needs from Xen, behind one small
 * interface with two implementations.
 *
 *   xen    libxengnttab (gntshr + gnttab), libxenevtchn, libxenstore.
 *   local  domains are processes named by XSOCK_DOMID; state lives under
 *          XSOCK_LOCAL_DIR (default /dev/shm/xsock). Granted pages are
 *          shared-memory files, event channels are pairs of FIFOs, the
 *          store is a file tree with a global lock, watches and
 *          transactions.
 *
 * Selection: XSOCK_BACKEND=xen|local; by default xen where /dev/xen/gntdev
 * exists, else local.
 *
 * Error contract: unless stated otherwise every function returns 0 (or a
 * non-negative count) on success and a negative errno value on failure.
 * No function prints anything; failures are logged through xs_log() only
 * when logging was asked for. No function calls abort().
 *
 * Xen semantics the upper layers rely on, kept by both backends:
 *  - Only the domain a page was shared with may map it (others: -EPERM on
 *    local, an error from the hypervisor on Xen).
 *  - Pages this process shared are inherited by fork(); pages it mapped
 *    from a peer are NOT (the child sees nothing at that address).
 *  - Peer death is observable: the survivor's event channel becomes
 *    readable and the peer's unmap notification takes effect (the notify
 *    byte is cleared) -- see "Unmap notification" below.
 *  - A domain cannot read or write another domain's store nodes without a
 *    permission entry for it; domain 0 may do anything.
 *
 * Thread safety: distinct objects may be used from distinct threads. One
 * object must not be used concurrently from two threads unless a function
 * says so (xsp_evtchn_notify() may).
 */
#ifndef XSOCK_PLATFORM_H
#define XSOCK_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XSP_PAGE_SIZE 4096u
#define XSP_DOMID_SELF 0x7FF0u	/* DOMID_SELF in Xen */
#define XSP_DOMID_INVALID 0xFFFFu

typedef uint16_t xsp_domid_t;
typedef uint32_t xsp_gref_t;
typedef uint32_t xsp_port_t;
typedef uint32_t xsp_txn_t;	/* store transaction; XSP_TXN_NONE outside one */
#define XSP_TXN_NONE 0u

struct xsp;		/* one backend instance (opaque) */
struct xsp_share;	/* pages we shared with a peer */
struct xsp_map;		/* a peer's pages we mapped */
struct xsp_evtchn;	/* one event channel endpoint with its own fd */
struct xsp_store;	/* one connection to the store */

/* ------------------------------------------------------------------ */
/* Backend                                                             */
/* ------------------------------------------------------------------ */

/*
 * Open the backend chosen by XSOCK_BACKEND (see above).
 * Errors: -EINVAL unknown XSOCK_BACKEND value or malformed XSOCK_DOMID,
 * -ENOENT xen requested but /dev/xen missing, or what the backend's own
 * open returns (-ENOMEM, ...). -EACCES or -EPERM: this process may not use
 * rings in this domain (docs/protocol.md, "Who may use rings"; local: no
 * access to XSOCK_LOCAL_DIR, or it belongs to another user than root or
 * us, or everyone may write it; xen: the devices refused us); not logged
 * here, so that the caller's one line is the only one.
 */
int xsp_open(struct xsp **out);

/* Open a named backend ("xen" or "local"). Errors as xsp_open(). */
int xsp_open_backend(const char *name, struct xsp **out);

void xsp_close(struct xsp *p);

/* "xen" or "local". Never fails. */
const char *xsp_backend_name(const struct xsp *p);

/*
 * The directory below which this host's processes keep per-process files
 * about their connections (`xsockctl status` reads them), without the
 * domain: local: $XSOCK_LOCAL_DIR/status (the backend's own directory),
 * xen: /dev/shm/xsock-status. Never fails; the string lives as long as @p.
 */
const char *xsp_status_base(const struct xsp *p);

/*
 * The domain this process runs in. xen: from the store ("domid"), local:
 * XSOCK_DOMID (default 0). Cached after the first call. Never fails once
 * xsp_open() succeeded.
 */
xsp_domid_t xsp_self_domid(const struct xsp *p);

/* ------------------------------------------------------------------ */
/* Unmap notification                                                  */
/* ------------------------------------------------------------------ */

/*
 * When the side that registered a notification unmaps its page -- in an
 * orderly way or because its process died, even by SIGKILL -- the byte at
 * @offset of the (first) page is set to zero for the peer to see, and @ev
 * (if not NULL) is signalled.
 *
 * On Xen the kernel does this (gntalloc/gntdev UNMAP_NOTIFY). On the local
 * backend an orderly unmap does exactly the same; a death is reported by
 * the survivor's event channel: its fd becomes readable and
 * xsp_evtchn_ack() returns -EPIPE from then on. Callers therefore treat
 * "notify byte is 0" OR "xsp_evtchn_ack() == -EPIPE" as "peer gone".
 *
 * The notification fires when the LAST holder goes away: a forked child
 * that inherited the shared page keeps it alive.
 */
struct xsp_unmap_notify {
	size_t offset;			/* byte offset in page 0 */
	struct xsp_evtchn *ev;		/* may be NULL */
};

/* ------------------------------------------------------------------ */
/* Grants                                                              */
/* ------------------------------------------------------------------ */

/*
 * Allocate @npages zeroed, contiguous pages and share them, writable, with
 * domain @peer. *out holds the address and the grant references.
 * @notify may be NULL; when given, @npages must be 1 (Xen supports one
 * notification per page).
 * Errors: -EINVAL (npages 0, notify with npages > 1, offset >= page),
 * -ENOSPC grant budget exhausted (gntalloc limit; local: XSOCK_GRANT_LIMIT),
 * -ENOMEM.
 */
int xsp_share(struct xsp *p, xsp_domid_t peer, unsigned int npages,
	      const struct xsp_unmap_notify *notify, struct xsp_share **out);
void *xsp_share_addr(const struct xsp_share *s);
unsigned int xsp_share_npages(const struct xsp_share *s);
const xsp_gref_t *xsp_share_refs(const struct xsp_share *s);
/* End the share (fires its notification). NULL is a no-op. */
void xsp_unshare(struct xsp_share *s);

/*
 * Map @n pages granted by domain @peer, contiguously, read-write.
 * The mapping is not inherited by fork().
 * @notify as for xsp_share() (then @n must be 1).
 * Errors: -EINVAL (n 0 or > 1024, notify with n > 1), -EPERM the grant
 * was not given to this domain (local backend; Xen reports every refused
 * grant alike, so the xen backend says -ENOENT), -ENOENT no such grant (or
 * it was revoked), -ENOMEM.
 */
int xsp_map(struct xsp *p, xsp_domid_t peer, unsigned int n,
	    const xsp_gref_t *refs, const struct xsp_unmap_notify *notify,
	    struct xsp_map **out);
void *xsp_map_addr(const struct xsp_map *m);
unsigned int xsp_map_npages(const struct xsp_map *m);
/* Unmap (fires its notification). NULL is a no-op. */
void xsp_unmap(struct xsp_map *m);
/*
 * Fork. A mapping is not inherited (gntdev: VM_DONTCOPY), but the grants
 * it maps still are ours to map: xsp_map_again() maps @m's grants again,
 * in this process, through backend @p (the caller's own; the one @m was
 * made with may be a parent's), at a new address (xsp_map_addr()), with no
 * notification armed. The old address is forgotten, not unmapped (it
 * names nothing in a forked child). Errors as for xsp_map() (-ENOENT: the
 * peer revoked the grant meanwhile); on error @m is unchanged.
 *
 * xsp_map_set_notify() arms (@notify) or disarms (NULL) @m's unmap
 * notification from now on: a process that lets go of a ring another
 * process still holds disarms its own, and the holder that carries on
 * arms its own. On Xen this is IOCTL_GNTDEV_SET_UNMAP_NOTIFY on the
 * mapping; only a one-page map may carry one. Errors: -EINVAL (@m spans
 * more than one page, offset out of the page), what the kernel says.
 */
int xsp_map_again(struct xsp *p, struct xsp_map *m);
int xsp_map_set_notify(struct xsp_map *m, const struct xsp_unmap_notify *notify);
/*
 * The domain that granted @m is dead (its home left the store): keep what
 * the pages hold, at the same address, in private memory of our own, and
 * let go of the grants, so that the dead domain's memory is not pinned by
 * our mapping (on Xen it would linger as a dying domain until we unmap).
 * Readers of the ring see the same bytes before and after; writes after
 * the swap reach only our copy. No unmap notification fires (there is
 * nobody to tell). xsp_unmap() then just frees the copy. Idempotent.
 * Errors: -ENOMEM, -EINVAL (nothing mapped), what the kernel says; on
 * error @m is unchanged.
 */
int xsp_map_orphan(struct xsp_map *m);

/* ------------------------------------------------------------------ */
/* Event channels                                                      */
/* ------------------------------------------------------------------ */

/*
 * Each endpoint is its own handle with its own pollable fd, so a
 * connection can be waited for alone or together with other fds.
 *
 * xsp_evtchn_alloc: allocate an unbound port that only domain @peer may
 * bind. Errors: -ENOSPC, -ENOMEM, -EMFILE.
 * xsp_evtchn_bind: bind to @peer's port @remote_port. Errors: -EPERM the
 * port was not allocated for this domain, -ENOENT no such port,
 * -ECONNREFUSED the allocating side is gone, -EBUSY already bound. (Xen
 * answers EINVAL to all of "no such port", "not for you" and "already
 * bound": the xen backend returns -ENOENT for each.) On Xen a freshly
 * bound port may see one spurious event: callers must tolerate it.
 */
int xsp_evtchn_alloc(struct xsp *p, xsp_domid_t peer,
		     struct xsp_evtchn **out);
int xsp_evtchn_bind(struct xsp *p, xsp_domid_t peer, xsp_port_t remote_port,
		    struct xsp_evtchn **out);

/* The local port number (what the peer binds / what notify uses). */
xsp_port_t xsp_evtchn_port(const struct xsp_evtchn *e);

/*
 * A fd that polls readable (POLLIN) while an event is pending or once the
 * peer endpoint is gone for good. Owned by the handle: do not close it.
 */
int xsp_evtchn_fd(const struct xsp_evtchn *e);

/*
 * Signal the peer. Safe to call from several threads at once. Events are
 * not counted: several notifies before the peer acks may arrive as one.
 * A notify before the peer has bound is delivered once it binds; one
 * after the peer's endpoint is gone succeeds and is lost (Xen drops a
 * send to a port whose remote end closed; the local backend does the
 * same), so a peer's death is told by xsp_evtchn_ack() only. Never raises
 * SIGPIPE. Errors: -EIO.
 */
int xsp_evtchn_notify(struct xsp_evtchn *e);

/*
 * Consume pending events without blocking and re-arm the channel.
 * Returns 1 if at least one event was pending, 0 if none, -EPIPE once the
 * peer endpoint is gone for good (after any pending events were returned).
 * The work per call is bounded, so a peer that keeps notifying cannot keep
 * it going: on Xen at most XEN_EVTCHN_ACK_MAX pending ports are read, and
 * what is left keeps the fd readable (return 1; call again after the next
 * poll). The local backend drains its pipe in one call.
 */
int xsp_evtchn_ack(struct xsp_evtchn *e);
/*
 * Another process that used this (inherited) endpoint is gone and this
 * one serves it from now on: make sure the next event is delivered. On
 * Xen a port whose event was read but not yet unmasked stays masked, so
 * a process killed in between would leave it deaf: unmask it. Nothing to
 * do on the local backend. 0 or -errno.
 */
int xsp_evtchn_rearm(struct xsp_evtchn *e);

/*
 * Block until an event is pending (then ack it) or @timeout_ms passes
 * (-1: forever). Returns 1 on event, 0 on timeout, -EPIPE peer gone,
 * -EINTR when a signal interrupted the wait.
 */
int xsp_evtchn_wait(struct xsp_evtchn *e, int timeout_ms);

/* Close the endpoint; the peer sees it as gone. NULL is a no-op. */
void xsp_evtchn_close(struct xsp_evtchn *e);

/* ------------------------------------------------------------------ */
/* exec: what crosses it                                               */
/* ------------------------------------------------------------------ */

/*
 * A process image replaced by execve() keeps its fds (those without
 * FD_CLOEXEC) and loses its memory. The shim hands a connection over to
 * the new image (docs/protocol.md, "What crosses exec") by naming, for
 * each object, the fds it is made of, and rebuilding the object from them
 * in the new image.
 *
 * xsp_evtchn_export(): the fds of @e (up to XSP_EXEC_FDS, -1 for none)
 * and what else rebuilds it, into *@x. xsp_evtchn_import(): rebuild it in
 * this process from *@x (the fds become the new handle's, FD_CLOEXEC set
 * again). xsp_share_export(): the one fd that keeps share @s alive
 * (local: the share file's lock; xen: the share's own gntalloc file).
 * xsp_share_import(): share @npages pages of refs @refs (@npages of them;
 * local: consecutive) with @peer again, kept alive by @fd, mapped anew;
 * @notify as for xsp_share().
 * xen: an event channel is its evtchn fd (the binding is the open file's,
 * rebuilt with xenevtchn_fdopen()); a share is its gntalloc file, whose
 * grants stay in it (index 0) and are mmapped again. A mapping (gntdev)
 * does not cross exec: the new image maps the refs again with xsp_map(),
 * and the exec'ing process disarms its armed unmap notification first.
 * Errors: -EOPNOTSUPP the backend cannot, -EINVAL malformed (xen: the fd
 * is not the evtchn or gntalloc device, or holds no such grants), -ENOENT
 * the share file is gone, -EBADF @fd not open, -ENOMEM, -errno of mmap.
 */
#define XSP_EXEC_FDS 4
struct xsp_evtchn_exec {
	xsp_port_t port;
	uint32_t flags;			/* backend's own */
	int fd[XSP_EXEC_FDS];
};
int xsp_evtchn_export(const struct xsp_evtchn *e, struct xsp_evtchn_exec *x);
int xsp_evtchn_import(struct xsp *p, xsp_domid_t peer, const struct xsp_evtchn_exec *x,
		      struct xsp_evtchn **out);
int xsp_share_export(const struct xsp_share *s, int *fd);
int xsp_share_import(struct xsp *p, xsp_domid_t peer, unsigned int npages,
		     const xsp_gref_t *refs, int fd, const struct xsp_unmap_notify *notify,
		     struct xsp_share **out);
/*
 * A holder that lets go while others carry on (fork, exec: "last holder"):
 * drop this process's hold on share @s / channel @e (its mapping and
 * fds) without ending it for the others, and free the handle. A share
 * whose other holders all let go meanwhile ends here as with
 * xsp_unshare() (the last holder ends it); otherwise nothing reaches the
 * peer. xen: a share's hold is its mapping and its gntalloc fd, a
 * channel's its evtchn fd (closed without unbinding: the last holder's
 * close unbinds). NULL is a no-op.
 */
void xsp_share_forget(struct xsp_share *s);
void xsp_evtchn_forget(struct xsp_evtchn *e);

/* ------------------------------------------------------------------ */
/* Store (xenstore, or the local tree)                                 */
/* ------------------------------------------------------------------ */

/*
 * Paths are absolute ("/local/domain/3/data/xsock"), made of
 * [A-Za-z0-9_@/-] components, at most XSP_STORE_PATH_MAX bytes. Values are
 * byte strings of at most XSP_STORE_VALUE_MAX bytes.
 *
 * Permissions follow Xen: an array whose first entry names the owner and
 * the access of every domain not listed; further entries give a domain
 * its own access. The owner and domain 0 may do anything. A new node
 * inherits its parent's permissions with the creating domain as owner.
 * Reading needs READ, writing/removing needs WRITE (creating: WRITE on
 * the nearest existing ancestor), setting permissions needs ownership.
 * Access denied is -EACCES.
 *
 * Transactions: reads and writes made with a txn see a consistent snapshot
 * and take effect atomically at xsp_txn_end(). If anything it read changed
 * meanwhile, ending it fails with -EAGAIN and nothing is applied: the
 * caller retries from the start. A domain may hold at most
 * XSP_STORE_MAX_TXN open transactions (-ENOSPC beyond, like xenstored's
 * quota).
 *
 * Watches: xsp_watch_add() registers @path (which also covers every node
 * below it) with a @token; one event is queued immediately (Xen does the
 * same), then one per change. Events are read from a pollable fd. An
 * event is delivered only if this domain may read the changed node or the
 * node was removed.
 */
#define XSP_STORE_PATH_MAX 3072
#define XSP_STORE_VALUE_MAX 4096
#define XSP_STORE_MAX_TXN 10

enum xsp_perm_bits {
	XSP_PERM_NONE = 0,
	XSP_PERM_READ = 1,
	XSP_PERM_WRITE = 2,
	XSP_PERM_BOTH = 3,
};

struct xsp_perm {
	xsp_domid_t dom;
	unsigned int perm;		/* enum xsp_perm_bits */
};

/* Errors: -ENOENT no store (xenstored not running), -ENOMEM, -EACCES. */
int xsp_store_open(struct xsp *p, struct xsp_store **out);
void xsp_store_close(struct xsp_store *st);

/*
 * Read a node. *val is malloc()ed and NUL-terminated (the terminator is not
 * counted in *len); free() it. Errors: -ENOENT, -EACCES, -EINVAL bad path,
 * -EAGAIN (inside a transaction that can no longer succeed).
 */
int xsp_store_read(struct xsp_store *st, xsp_txn_t t, const char *path,
		   char **val, size_t *len);

/* Create or replace a node's value; missing parents are created (empty).
 * Errors: -EACCES, -EINVAL bad path or value too long, -ENOSPC quota. */
int xsp_store_write(struct xsp_store *st, xsp_txn_t t, const char *path,
		    const void *val, size_t len);

/* Remove a node and everything below it. Errors: -ENOENT, -EACCES. */
int xsp_store_rm(struct xsp_store *st, xsp_txn_t t, const char *path);

/*
 * The names of a node's children. *names is one malloc()ed block: free()
 * it once. Errors: -ENOENT, -EACCES.
 */
int xsp_store_list(struct xsp_store *st, xsp_txn_t t, const char *path,
		   char ***names, unsigned int *n);

/* Errors: -ENOENT, -EACCES (not the owner), -EINVAL (n == 0, n > 64). */
int xsp_store_set_perms(struct xsp_store *st, xsp_txn_t t, const char *path,
			const struct xsp_perm *perms, unsigned int n);
/* *perms malloc()ed. Errors: -ENOENT, -EACCES. */
int xsp_store_get_perms(struct xsp_store *st, xsp_txn_t t, const char *path,
			struct xsp_perm **perms, unsigned int *n);

/* Errors: -ENOSPC too many open transactions for this domain. */
int xsp_txn_start(struct xsp_store *st, xsp_txn_t *t);
/* Commit (@abort false) or discard. Errors: -EAGAIN conflict, retry. */
int xsp_txn_end(struct xsp_store *st, xsp_txn_t t, bool abort);

int xsp_watch_add(struct xsp_store *st, const char *path, const char *token);
/* Errors: -ENOENT no such watch. */
int xsp_watch_rm(struct xsp_store *st, const char *path, const char *token);
/* Readable while a watch event is queued. Owned by @st. */
int xsp_watch_fd(const struct xsp_store *st);
/*
 * Take one queued event without blocking. *path and *token point into one
 * malloc()ed block owned by the caller: free(*path) frees both.
 * Errors: -EAGAIN nothing queued.
 */
int xsp_watch_read(struct xsp_store *st, char **path, char **token);

/*
 * Local backend, domain 0 only: fire the special watch @special
 * ("@introduceDomain", "@releaseDomain") for domain 0's watchers, as
 * xenstored does when the toolstack introduces or releases a domain
 * (`xsockctl domain create|destroy`). -EOPNOTSUPP on Xen (xenstored does
 * it), -EACCES not domain 0, -EINVAL not a special path.
 */
int xsp_store_fire_special(struct xsp_store *st, const char *special);

/* ------------------------------------------------------------------ */
/* Backend table (implementations only)                                */
/* ------------------------------------------------------------------ */

struct xsp_ops {
	const char *name;
	const char *(*status_base)(const struct xsp *p);
	int (*open)(struct xsp *p);
	void (*close)(struct xsp *p);

	int (*share)(struct xsp *p, xsp_domid_t peer, unsigned int npages,
		     const struct xsp_unmap_notify *notify,
		     struct xsp_share *s);
	void (*unshare)(struct xsp_share *s);
	int (*map)(struct xsp *p, xsp_domid_t peer, unsigned int n,
		   const xsp_gref_t *refs, const struct xsp_unmap_notify *notify,
		   struct xsp_map *m);
	void (*unmap)(struct xsp_map *m);
	/* Forget @m's state without unmapping (a forked child's copy of a
	 * mapping it does not have). May be NULL. */
	void (*map_forget)(struct xsp_map *m);
	/* Arm (@notify) or disarm (NULL) @m's notification; m->npages == 1. */
	int (*map_notify)(struct xsp_map *m, const struct xsp_unmap_notify *notify);
	/*
	 * xsp_map_orphan()'s backend part: move the private mapping @copy (as
	 * large as @m) over m->addr and give the grants back, without firing
	 * @m's notification; on success @m's backend state is gone (as after
	 * map_forget) and @copy is no longer mapped at its own address.
	 */
	int (*map_orphan)(struct xsp_map *m, void *copy);

	int (*evtchn_alloc)(struct xsp *p, xsp_domid_t peer,
			    struct xsp_evtchn *e);
	int (*evtchn_bind)(struct xsp *p, xsp_domid_t peer,
			   xsp_port_t remote_port, struct xsp_evtchn *e);
	int (*evtchn_notify)(struct xsp_evtchn *e);
	int (*evtchn_ack)(struct xsp_evtchn *e);
	int (*evtchn_rearm)(struct xsp_evtchn *e);	/* may be NULL */
	void (*evtchn_close)(struct xsp_evtchn *e);

	/* exec hand-over; may be NULL (then -EOPNOTSUPP) */
	int (*evtchn_export)(const struct xsp_evtchn *e, struct xsp_evtchn_exec *x);
	int (*evtchn_import)(struct xsp *p, const struct xsp_evtchn_exec *x,
			     struct xsp_evtchn *e);
	int (*share_export)(const struct xsp_share *s, int *fd);
	int (*share_import)(struct xsp *p, int fd, const struct xsp_unmap_notify *notify,
			    struct xsp_share *s);
	void (*share_forget)(struct xsp_share *s);
	void (*evtchn_forget)(struct xsp_evtchn *e);

	int (*store_open)(struct xsp *p, struct xsp_store *st);
	void (*store_close)(struct xsp_store *st);
	int (*store_read)(struct xsp_store *st, xsp_txn_t t, const char *path,
			  char **val, size_t *len);
	int (*store_write)(struct xsp_store *st, xsp_txn_t t, const char *path,
			   const void *val, size_t len);
	int (*store_rm)(struct xsp_store *st, xsp_txn_t t, const char *path);
	int (*store_list)(struct xsp_store *st, xsp_txn_t t, const char *path,
			  char ***names, unsigned int *n);
	int (*store_set_perms)(struct xsp_store *st, xsp_txn_t t,
			       const char *path, const struct xsp_perm *perms,
			       unsigned int n);
	int (*store_get_perms)(struct xsp_store *st, xsp_txn_t t,
			       const char *path, struct xsp_perm **perms,
			       unsigned int *n);
	int (*txn_start)(struct xsp_store *st, xsp_txn_t *t);
	int (*txn_end)(struct xsp_store *st, xsp_txn_t t, bool abort);
	int (*watch_add)(struct xsp_store *st, const char *path,
			 const char *token);
	int (*watch_rm)(struct xsp_store *st, const char *path,
			const char *token);
	int (*watch_read)(struct xsp_store *st, char **path, char **token);
};

/*
 * The generic objects. platform.c allocates them and fills the common
 * fields; backends keep their own state behind @priv.
 */
struct xsp {
	const struct xsp_ops *ops;
	xsp_domid_t self;
	void *priv;
};

struct xsp_share {
	struct xsp *p;
	xsp_domid_t peer;
	unsigned int npages;
	void *addr;
	xsp_gref_t *refs;		/* npages entries, set by the backend */
	void *priv;
};

struct xsp_map {
	struct xsp *p;
	xsp_domid_t peer;
	unsigned int npages;
	void *addr;
	xsp_gref_t *refs;		/* npages entries (xsp_map_again()) */
	bool orphan;			/* xsp_map_orphan(): addr is our own memory */
	void *priv;
};

struct xsp_evtchn {
	struct xsp *p;
	xsp_domid_t peer;
	xsp_port_t port;		/* local port */
	int fd;				/* pollable */
	void *priv;
};

struct xsp_store {
	struct xsp *p;
	int watch_fd;
	void *priv;
};

extern const struct xsp_ops xsp_local_ops;
extern const struct xsp_ops xsp_xen_ops;

/* Helpers shared by backends (platform.c). */
/* 0 if @path is a valid absolute store path, else -EINVAL. */
int xsp_store_check_path(const char *path);
/* Parse "<letter><domid>" Xen permission strings ("n0", "r3", "b5"). */
int xsp_perm_parse(const char *s, struct xsp_perm *out);
/* Format into @buf (at least 8 bytes). */
void xsp_perm_format(const struct xsp_perm *perm, char *buf);

#endif /* XSOCK_PLATFORM_H */
