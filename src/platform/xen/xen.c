/* SPDX-License-Identifier: MIT */
/*
 * The xen backend: the platform interface on top of the Xen userspace
 * libraries.
 *
 *   grants          libxengnttab: xengntshr_* (gntalloc) to share pages,
 *                   xengnttab_* (gntdev) to map a peer's pages. One handle
 *                   of each per backend instance; the kernel keeps the
 *                   per-mapping state, so both are safe to use from
 *                   several threads.
 *   event channels  libxenevtchn, ONE xenevtchn handle per endpoint, so
 *                   each endpoint has its own fd that polls readable only
 *                   for its own port. The fd is switched to O_NONBLOCK so
 *                   that ack can drain it without blocking.
 *   store           libxenstore, one xs_open() connection per xsp_store.
 *                   Watch events come from libxenstore's reader thread
 *                   through the pipe xs_fileno() returns; watch_read uses
 *                   xs_check_watch(), never the blocking xs_read_watch().
 *
 * Self domid: read from the store as the relative node "domid" (resolved by
 * xenstored to /local/domain/<self>/domid). Dom0 has no such node in some
 * setups (no xen-init-dom0, or xenstored just started): when the read fails
 * and /proc/xen/capabilities says "control_d" we are dom0 and use 0. A domU
 * whose store cannot be read cannot learn its id and the open fails with
 * -ENOENT.
 *
 * Error mapping (Xen -> the -errno contract of platform.h):
 *   - gntdev reports any failed grant map (not granted to us, no such ref,
 *     revoked) as EINVAL without the hypervisor's status: xsp_map() returns
 *     -ENOENT for all of them (it cannot return -EPERM on Xen).
 *   - EVTCHNOP_bind_interdomain reports a port that does not exist, is not
 *     unbound, or was allocated for another domain all as EINVAL: bind maps
 *     it to -ENOENT; ESRCH (the allocating domain is gone) to -ECONNREFUSED.
 *   - xenstored errors arrive as errno values; EPERM becomes -EACCES, E2BIG
 *     and EDQUOT (quota) -ENOSPC, a lost connection -EIO.
 *
 * Peer death: Xen tells nothing through the event channel itself when the
 * peer closes its end. The peer's kernel performs its unmap notification
 * (byte cleared + event on the port it registered), which arrives on our
 * endpoint as an ordinary event. xsp_evtchn_ack() therefore never returns
 * -EPIPE on this backend; callers must check the notify byte (platform.h,
 * "Unmap notification").
 *
 * Fork: the grant-sharing mappings are inherited by a child (gntalloc
 * VMAs); gntdev mappings are not (VM_DONTCOPY), as platform.h promises.
 * Event channel handles are opened close-on-exec and MUST NOT be used by a
 * forked child (the evtchn driver binds ports to the open file, which the
 * child shares with the parent: an unbind or ack in the child acts on the
 * parent's endpoint). A child that needs event channels opens its own
 * backend with xsp_open(). The same holds for libxenstore handles.
 *
 * Logging: the Xen libraries log through a xentoollog logger; we give them
 * one that forwards to xs_log(), so nothing reaches stderr.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xentoollog.h>
#include <xengnttab.h>
#include <xenevtchn.h>
#include <xenstore.h>

#include "common/log.h"
#include "platform/platform.h"

struct xen_priv {
	xengntshr_handle *gs;		/* gntalloc: pages we share */
	xengnttab_handle *gt;		/* gntdev: pages we map */
};

struct xen_evtchn {
	xenevtchn_handle *h;
};

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

/* ---- logging ------------------------------------------------------------- */

/* A vprintf-like callback of libxentoollog: @format is the Xen library's. */
__attribute__((format(printf, 5, 0)))
static void xen_log_vmessage(struct xentoollog_logger *logger, xentoollog_level level,
			     int errnoval, const char *context, const char *format,
			     va_list al)
{
	int lvl;
	char buf[512];

	if (level >= XTL_ERROR)
		lvl = XS_LOG_ERR;
	else if (level >= XTL_WARN)
		lvl = XS_LOG_WARN;
	else if (level >= XTL_PROGRESS)
		lvl = XS_LOG_INFO;
	else
		lvl = XS_LOG_DEBUG;
	if (xs_log_level() < lvl)
		return;
	vsnprintf(buf, sizeof(buf), format, al);
	if (errnoval > 0)
		xs_log(lvl, "%s: %s: %s", context ? context : "xen", buf, strerror(errnoval));
	else
		xs_log(lvl, "%s: %s", context ? context : "xen", buf);
}

static void xen_log_progress(struct xentoollog_logger *logger, const char *context,
			     const char *doing_what, int percent, unsigned long done,
			     unsigned long total)
{
}

static void xen_log_destroy(struct xentoollog_logger *logger)
{
}

/* Stateless, so one shared instance serves every handle. */
static struct xentoollog_logger xen_logger = {
	.vmessage = xen_log_vmessage,
	.progress = xen_log_progress,
	.destroy = xen_log_destroy,
};

/* ---- helpers ------------------------------------------------------------- */

static struct xen_priv *xen_priv(const struct xsp *p)
{
	return (struct xen_priv *)p->priv;
}

/* errno after a failed call, never 0 (some paths fail without setting it). */
static int err_or(int fallback)
{
	return errno > 0 ? errno : fallback;
}

/* Map an errno from a device open to the contract (-ENOENT: no Xen). */
static int map_open_errno(int e)
{
	switch (e) {
	case ENOENT:
	case ENODEV:
	case ENXIO:
		return -ENOENT;
	case EACCES:
	case EPERM:
		return -EACCES;
	case EMFILE:
	case ENFILE:
		return -EMFILE;
	default:
		return -e;
	}
}

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

static xsp_domid_t real_domid(const struct xsp *p, xsp_domid_t d)
{
	return d == XSP_DOMID_SELF ? p->self : d;
}

static int is_dom0(void)
{
	char buf[128];
	ssize_t n;
	int fd = open("/proc/xen/capabilities", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strstr(buf, "control_d") != NULL;
}

static int read_self_domid(xsp_domid_t *out)
{
	struct xs_handle *h = xs_open(0);
	unsigned int len = 0;
	char *val = NULL, *end;
	unsigned long v;

	if (h) {
		val = xs_read(h, XBT_NULL, "domid", &len);
		xs_close(h);
	}
	if (val) {
		errno = 0;
		v = strtoul(val, &end, 10);
		if (!errno && end != val && *end == '\0' && v < XSP_DOMID_SELF) {
			free(val);
			*out = (xsp_domid_t)v;
			return 0;
		}
		free(val);
	}
	if (is_dom0()) {
		*out = 0;
		return 0;
	}
	xs_log(XS_LOG_ERR, "xen: cannot read own domid from the store");
	return -ENOENT;
}

/* ---- backend -------------------------------------------------------------- */

static int xen_open(struct xsp *p)
{
	struct xen_priv *xp;
	int rc;

	xp = calloc(1, sizeof(*xp));
	if (!xp)
		return -ENOMEM;
	xp->gt = xengnttab_open(&xen_logger, 0);
	if (!xp->gt) {
		rc = map_open_errno(err_or(ENOENT));
		goto free_priv;
	}
	xp->gs = xengntshr_open(&xen_logger, 0);
	if (!xp->gs) {
		rc = map_open_errno(err_or(ENOENT));
		goto close_gnttab;
	}
	rc = read_self_domid(&p->self);
	if (rc < 0)
		goto close_gntshr;
	p->priv = xp;
	return 0;

close_gntshr:
	xengntshr_close(xp->gs);
close_gnttab:
	xengnttab_close(xp->gt);
free_priv:
	free(xp);
	return rc;
}

static void xen_close(struct xsp *p)
{
	struct xen_priv *xp = xen_priv(p);

	if (!xp)
		return;
	xengntshr_close(xp->gs);
	xengnttab_close(xp->gt);
	free(xp);
	p->priv = NULL;
}

/* ---- grants --------------------------------------------------------------- */

static int map_grant_errno(int e)
{
	switch (e) {
	case ENOSPC:
	case EDQUOT:
		return -ENOSPC;		/* gntalloc/gntdev limit */
	case ENOMEM:
	case EAGAIN:
		return -ENOMEM;
	case EINVAL:
	case ENOENT:
	case EFAULT:
		return -ENOENT;		/* the hypervisor refused the grant */
	case EPERM:
	case EACCES:
		return -EPERM;
	default:
		return -e;
	}
}

static int xen_share(struct xsp *p, xsp_domid_t peer, unsigned int npages,
		     const struct xsp_unmap_notify *notify, struct xsp_share *s)
{
	struct xen_priv *xp = xen_priv(p);
	uint32_t dom = real_domid(p, peer);
	void *addr;

	errno = 0;
	if (notify) {
		evtchn_port_t port = notify->ev ? notify->ev->port : (evtchn_port_t)-1;

		addr = xengntshr_share_page_notify(xp->gs, dom, &s->refs[0], 1,
						   (uint32_t)notify->offset, port);
	} else {
		addr = xengntshr_share_pages(xp->gs, dom, (int)npages, s->refs, 1);
	}
	if (!addr) {
		int e = err_or(ENOMEM);

		xs_log(XS_LOG_WARN, "xen: sharing %u page(s) with dom%u: %s", npages,
		       (unsigned int)dom, strerror(e));
		/* gntalloc says ENOSPC at its limit; EINVAL here is ours (bad
		 * notify offset/port) and stays EINVAL. */
		return e == EINVAL ? -EINVAL : map_grant_errno(e);
	}
	s->addr = addr;
	return 0;
}

static void xen_unshare(struct xsp_share *s)
{
	struct xen_priv *xp = xen_priv(s->p);

	if (s->addr && xengntshr_unshare(xp->gs, s->addr, s->npages) < 0)
		xs_log(XS_LOG_WARN, "xen: unshare: %s", strerror(errno));
	s->addr = NULL;
}

static int xen_map(struct xsp *p, xsp_domid_t peer, unsigned int n, const xsp_gref_t *refs,
		   const struct xsp_unmap_notify *notify, struct xsp_map *m)
{
	struct xen_priv *xp = xen_priv(p);
	uint32_t dom = real_domid(p, peer);
	void *addr;

	errno = 0;
	if (notify) {
		evtchn_port_t port = notify->ev ? notify->ev->port : (evtchn_port_t)-1;

		addr = xengnttab_map_grant_ref_notify(xp->gt, dom, refs[0],
						      PROT_READ | PROT_WRITE,
						      (uint32_t)notify->offset, port);
	} else {
		/* The library takes a non-const array but does not write it. */
		addr = xengnttab_map_domain_grant_refs(xp->gt, n, dom, (uint32_t *)refs,
						       PROT_READ | PROT_WRITE);
	}
	if (!addr) {
		int e = err_or(EINVAL);

		xs_log(XS_LOG_WARN, "xen: mapping %u grant(s) of dom%u (ref %u): %s", n,
		       (unsigned int)dom, (unsigned int)refs[0], strerror(e));
		return map_grant_errno(e);
	}
	m->addr = addr;
	return 0;
}

static void xen_unmap(struct xsp_map *m)
{
	struct xen_priv *xp = xen_priv(m->p);

	if (m->addr && xengnttab_unmap(xp->gt, m->addr, m->npages) < 0)
		xs_log(XS_LOG_WARN, "xen: unmap: %s", strerror(errno));
	m->addr = NULL;
}

/* ---- event channels ------------------------------------------------------- */

static int evtchn_handle_open(struct xsp_evtchn *e, struct xen_evtchn **out)
{
	struct xen_evtchn *xe = calloc(1, sizeof(*xe));
	int fd, fl;

	if (!xe)
		return -ENOMEM;
	xe->h = xenevtchn_open(&xen_logger, 0);
	if (!xe->h) {
		int rc = map_open_errno(err_or(ENOENT));

		free(xe);
		return rc;
	}
	fd = xenevtchn_fd(xe->h);
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		int rc = -err_or(EIO);

		xenevtchn_close(xe->h);
		free(xe);
		return rc;
	}
	e->fd = fd;
	*out = xe;
	return 0;
}

static void evtchn_handle_close(struct xsp_evtchn *e, struct xen_evtchn *xe)
{
	xenevtchn_close(xe->h);
	free(xe);
	e->fd = -1;
}

static int xen_evtchn_alloc(struct xsp *p, xsp_domid_t peer, struct xsp_evtchn *e)
{
	struct xen_evtchn *xe;
	xenevtchn_port_or_error_t port;
	int rc;

	rc = evtchn_handle_open(e, &xe);
	if (rc < 0)
		return rc;
	errno = 0;
	port = xenevtchn_bind_unbound_port(xe->h, real_domid(p, peer));
	if (port < 0) {
		int err = err_or(ENOSPC);

		xs_log(XS_LOG_WARN, "xen: evtchn alloc for dom%u: %s", (unsigned int)peer,
		       strerror(err));
		rc = err == ENOMEM ? -ENOMEM : (err == EMFILE ? -EMFILE : -ENOSPC);
		goto close_handle;
	}
	e->port = (xsp_port_t)port;
	e->priv = xe;
	return 0;

close_handle:
	evtchn_handle_close(e, xe);
	return rc;
}

static int xen_evtchn_bind(struct xsp *p, xsp_domid_t peer, xsp_port_t remote_port,
			   struct xsp_evtchn *e)
{
	struct xen_evtchn *xe;
	xenevtchn_port_or_error_t port;
	int rc;

	rc = evtchn_handle_open(e, &xe);
	if (rc < 0)
		return rc;
	errno = 0;
	port = xenevtchn_bind_interdomain(xe->h, real_domid(p, peer), remote_port);
	if (port < 0) {
		int err = err_or(EINVAL);

		xs_log(XS_LOG_WARN, "xen: evtchn bind to dom%u port %u: %s", (unsigned int)peer,
		       (unsigned int)remote_port, strerror(err));
		switch (err) {
		case ESRCH:
			rc = -ECONNREFUSED;
			break;
		case EPERM:
		case EACCES:
			rc = -EPERM;
			break;
		case EBUSY:
		case EEXIST:
			rc = -EBUSY;
			break;
		case ENOSPC:
		case ENOMEM:
		case EMFILE:
			rc = -err;
			break;
		default:
			rc = -ENOENT;	/* EINVAL: absent, bound, or not ours */
			break;
		}
		goto close_handle;
	}
	e->port = (xsp_port_t)port;
	e->priv = xe;
	return 0;

close_handle:
	evtchn_handle_close(e, xe);
	return rc;
}

static int xen_evtchn_notify(struct xsp_evtchn *e)
{
	struct xen_evtchn *xe = e->priv;

	/* An ioctl on the handle: safe from several threads at once. */
	if (xenevtchn_notify(xe->h, e->port) < 0) {
		xs_log(XS_LOG_WARN, "xen: notify port %u: %s", (unsigned int)e->port,
		       strerror(errno));
		return -EIO;
	}
	return 0;
}

/*
 * Drain the handle's pending ports (only ours is bound to it) and unmask
 * each, so the next event raises the fd again. Never -EPIPE (see top).
 */
static int xen_evtchn_ack(struct xsp_evtchn *e)
{
	struct xen_evtchn *xe = e->priv;
	xenevtchn_port_or_error_t port;
	int got = 0;

	for (;;) {
		errno = 0;
		port = xenevtchn_pending(xe->h);
		if (port < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			return got ? 1 : -EIO;
		}
		got = 1;
		if (xenevtchn_unmask(xe->h, (evtchn_port_t)port) < 0)
			return -EIO;
	}
	return got;
}

static void xen_evtchn_close(struct xsp_evtchn *e)
{
	struct xen_evtchn *xe = e->priv;

	if (!xe)
		return;
	/* Closing the handle would unbind too; explicit unbind keeps the
	 * intent visible and reports failures to the log. */
	if (xenevtchn_unbind(xe->h, e->port) < 0)
		xs_log(XS_LOG_DEBUG, "xen: unbind port %u: %s", (unsigned int)e->port,
		       strerror(errno));
	evtchn_handle_close(e, xe);
	e->priv = NULL;
}

/* ---- store ----------------------------------------------------------------- */

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

static int xen_store_open(struct xsp *p, struct xsp_store *st)
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
		e = err_or(ENOENT);
		free(xst);
		if (e == EACCES || e == EPERM)
			return -EACCES;
		if (e == ENOMEM)
			return -ENOMEM;
		return -ENOENT;
	}
	fd = xs_fileno(h);	/* creates the watch pipe */
	if (fd < 0) {
		e = err_or(ENOMEM);
		xs_close(h);
		free(xst);
		return e == EMFILE || e == ENFILE ? -EMFILE : -ENOMEM;
	}
	xst->h = h;
	st->watch_fd = fd;
	st->priv = xst;
	return 0;
}

static void xen_store_close(struct xsp_store *st)
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

static int xen_store_read(struct xsp_store *st, xsp_txn_t t, const char *path, char **val,
			  size_t *len)
{
	unsigned int l = 0;
	char *v;

	errno = 0;
	v = xs_read(xsh(st), t, path, &l);
	if (!v)
		return map_store_errno(err_or(EIO));
	*val = v;		/* libxenstore NUL-terminates */
	if (len)
		*len = l;
	return 0;
}

static int xen_store_write(struct xsp_store *st, xsp_txn_t t, const char *path,
			   const void *val, size_t len)
{
	errno = 0;
	if (!xs_write(xsh(st), t, path, val, (unsigned int)len))
		return map_store_errno(err_or(EIO));
	return 0;
}

/*
 * xenstored acknowledges removing a missing node whose parent exists, so
 * -ENOENT comes from a read first (a node we may not read goes straight to
 * the removal, which then decides).
 */
static int xen_store_rm(struct xsp_store *st, xsp_txn_t t, const char *path)
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
		return map_store_errno(err_or(EIO));
	return 0;
}

static int xen_store_list(struct xsp_store *st, xsp_txn_t t, const char *path, char ***names,
			  unsigned int *n)
{
	unsigned int num = 0;
	char **v;

	errno = 0;
	/* One block: the pointer array followed by the strings. */
	v = xs_directory(xsh(st), t, path, &num);
	if (!v)
		return map_store_errno(err_or(EIO));
	*names = v;
	*n = num;
	return 0;
}

static int xen_store_set_perms(struct xsp_store *st, xsp_txn_t t, const char *path,
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
		return map_store_errno(err_or(EIO));
	return 0;
}

static int xen_store_get_perms(struct xsp_store *st, xsp_txn_t t, const char *path,
			       struct xsp_perm **perms, unsigned int *n)
{
	struct xs_permissions *xp;
	struct xsp_perm *out;
	unsigned int num = 0, i;

	errno = 0;
	xp = xs_get_permissions(xsh(st), t, path, &num);
	if (!xp)
		return map_store_errno(err_or(EIO));
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

static int xen_txn_start(struct xsp_store *st, xsp_txn_t *t)
{
	xs_transaction_t x;

	errno = 0;
	x = xs_transaction_start(xsh(st));
	if (x == XBT_NULL)
		return map_store_errno(err_or(EIO));
	*t = x;
	return 0;
}

static int xen_txn_end(struct xsp_store *st, xsp_txn_t t, bool abort)
{
	errno = 0;
	if (!xs_transaction_end(xsh(st), t, abort))
		return map_store_errno(err_or(EIO));
	return 0;
}

static int xen_watch_add(struct xsp_store *st, const char *path, const char *token)
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
		int e = err_or(EIO);

		free(w);
		return map_store_errno(e);
	}
	w->next = xst->watches;
	xst->watches = w;
	return 0;
}

static int xen_watch_rm(struct xsp_store *st, const char *path, const char *token)
{
	struct xen_watch **link = find_watch(st, path, token), *w = *link;

	if (!w)
		return -ENOENT;
	*link = w->next;
	free(w);
	errno = 0;
	if (!xs_unwatch(xsh(st), path, token))
		return map_store_errno(err_or(ENOENT));
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

static int xen_watch_read(struct xsp_store *st, char **path, char **token)
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

const struct xsp_ops xsp_xen_ops = {
	.name = "xen",
	.open = xen_open,
	.close = xen_close,
	.share = xen_share,
	.unshare = xen_unshare,
	.map = xen_map,
	.unmap = xen_unmap,
	.evtchn_alloc = xen_evtchn_alloc,
	.evtchn_bind = xen_evtchn_bind,
	.evtchn_notify = xen_evtchn_notify,
	.evtchn_ack = xen_evtchn_ack,
	.evtchn_close = xen_evtchn_close,
	.store_open = xen_store_open,
	.store_close = xen_store_close,
	.store_read = xen_store_read,
	.store_write = xen_store_write,
	.store_rm = xen_store_rm,
	.store_list = xen_store_list,
	.store_set_perms = xen_store_set_perms,
	.store_get_perms = xen_store_get_perms,
	.txn_start = xen_txn_start,
	.txn_end = xen_txn_end,
	.watch_add = xen_watch_add,
	.watch_rm = xen_watch_rm,
	.watch_read = xen_watch_read,
};
