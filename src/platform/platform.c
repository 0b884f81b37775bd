/* SPDX-License-Identifier: MIT */
/*
 * Backend selection and the thin dispatch from the generic objects to the
 * chosen backend's table. Everything portable lives here; each backend is
 * one small directory below.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/env.h"
#include "common/log.h"
#include "platform/platform.h"

static const struct xsp_ops *find_backend(const char *name)
{
	if (strcmp(name, "local") == 0)
		return &xsp_local_ops;
	if (strcmp(name, "xen") == 0)
		return &xsp_xen_ops;
	return NULL;
}

int xsp_open_backend(const char *name, struct xsp **out)
{
	const struct xsp_ops *ops = find_backend(name);
	struct xsp *p;
	int rc;

	*out = NULL;
	if (!ops) {
		xs_log(XS_LOG_ERR, "unknown backend '%s' (want xen or local)", name);
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->ops = ops;
	rc = ops->open(p);
	if (rc < 0) {
		/* Not allowed (-EACCES, -EPERM): the caller says so, once. */
		if (rc != -EACCES && rc != -EPERM)
			xs_log(XS_LOG_ERR, "backend %s: open failed: %s", name, strerror(-rc));
		free(p);
		return rc;
	}
	*out = p;
	return 0;
}

int xsp_open(struct xsp **out)
{
	const char *name = xs_env_str("XSOCK_BACKEND");

	if (!name)
		name = access("/dev/xen/gntdev", F_OK) == 0 ? "xen" : "local";
	return xsp_open_backend(name, out);
}

void xsp_close(struct xsp *p)
{
	if (!p)
		return;
	p->ops->close(p);
	free(p);
}

const char *xsp_backend_name(const struct xsp *p)
{
	return p->ops->name;
}

const char *xsp_status_base(const struct xsp *p)
{
	return p->ops->status_base(p);
}

xsp_domid_t xsp_self_domid(const struct xsp *p)
{
	return p->self;
}

/* ---- grants -------------------------------------------------------- */

/* A share or map of @npages with notification @n: 0, or -EINVAL. */
static int check_pages(unsigned int npages, const struct xsp_unmap_notify *n)
{
	if (npages == 0 || npages > 1024)
		return -EINVAL;
	if (!n)
		return 0;
	if (npages != 1 || n->offset >= XSP_PAGE_SIZE)
		return -EINVAL;
	return 0;
}

int xsp_share(struct xsp *p, xsp_domid_t peer, unsigned int npages,
	      const struct xsp_unmap_notify *notify, struct xsp_share **out)
{
	struct xsp_share *s;
	int rc;

	*out = NULL;
	rc = check_pages(npages, notify);
	if (rc < 0)
		return rc;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->refs = calloc(npages, sizeof(*s->refs));
	if (!s->refs) {
		free(s);
		return -ENOMEM;
	}
	s->p = p;
	s->peer = peer;
	s->npages = npages;
	rc = p->ops->share(p, peer, npages, notify, s);
	if (rc < 0) {
		free(s->refs);
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void *xsp_share_addr(const struct xsp_share *s) { return s->addr; }
unsigned int xsp_share_npages(const struct xsp_share *s) { return s->npages; }
const xsp_gref_t *xsp_share_refs(const struct xsp_share *s) { return s->refs; }

void xsp_unshare(struct xsp_share *s)
{
	if (!s)
		return;
	s->p->ops->unshare(s);
	free(s->refs);
	free(s);
}

int xsp_map(struct xsp *p, xsp_domid_t peer, unsigned int n,
	    const xsp_gref_t *refs, const struct xsp_unmap_notify *notify,
	    struct xsp_map **out)
{
	struct xsp_map *m;
	int rc;

	*out = NULL;
	rc = check_pages(n, notify);
	if (rc < 0)
		return rc;
	m = calloc(1, sizeof(*m) + (size_t)n * sizeof(*refs));
	if (!m)
		return -ENOMEM;
	m->p = p;
	m->peer = peer;
	m->npages = n;
	m->refs = (xsp_gref_t *)(m + 1);
	memcpy(m->refs, refs, (size_t)n * sizeof(*refs));
	rc = p->ops->map(p, peer, n, refs, notify, m);
	if (rc < 0) {
		free(m);
		return rc;
	}
	*out = m;
	return 0;
}

int xsp_map_again(struct xsp *p, struct xsp_map *m)
{
	struct xsp_map fresh = *m;
	int rc;

	if (!p || !m || p->ops != m->p->ops)
		return -EINVAL;
	/* An orphan is private memory: fork() copied it, at the same address. */
	if (m->orphan)
		return 0;
	fresh.p = p;
	fresh.addr = NULL;
	fresh.priv = NULL;
	rc = p->ops->map(p, m->peer, m->npages, m->refs, NULL, &fresh);
	if (rc < 0)
		return rc;
	/* The old mapping was not inherited: nothing to unmap. */
	if (m->p->ops->map_forget)
		m->p->ops->map_forget(m);
	m->p = p;
	m->addr = fresh.addr;
	m->priv = fresh.priv;
	return 0;
}

int xsp_map_set_notify(struct xsp_map *m, const struct xsp_unmap_notify *notify)
{
	if (!m || m->npages != 1 || (notify && notify->offset >= XSP_PAGE_SIZE))
		return -EINVAL;
	if (m->orphan)
		return 0;	/* nobody left to notify */
	return m->p->ops->map_notify(m, notify);
}

int xsp_map_orphan(struct xsp_map *m)
{
	size_t len;
	void *copy;
	int rc;

	if (!m || !m->addr)
		return -EINVAL;
	if (m->orphan)
		return 0;
	len = (size_t)m->npages * XSP_PAGE_SIZE;
	copy = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (copy == MAP_FAILED)
		return -ENOMEM;
	/*
	 * The peer is dead: nothing writes the pages from its side any more,
	 * so one copy is the final state. A reader of ours that runs during
	 * the swap reads the same bytes from either mapping.
	 */
	memcpy(copy, m->addr, len);
	rc = m->p->ops->map_orphan ? m->p->ops->map_orphan(m, copy) : -EOPNOTSUPP;
	if (rc < 0) {
		munmap(copy, len);
		return rc;
	}
	m->priv = NULL;
	m->orphan = true;
	return 0;
}

void *xsp_map_addr(const struct xsp_map *m) { return m->addr; }
unsigned int xsp_map_npages(const struct xsp_map *m) { return m->npages; }

void xsp_unmap(struct xsp_map *m)
{
	if (!m)
		return;
	if (m->orphan)
		munmap(m->addr, (size_t)m->npages * XSP_PAGE_SIZE);
	else
		m->p->ops->unmap(m);
	free(m);
}

/* ---- event channels -------------------------------------------------- */

static int evtchn_new(struct xsp *p, xsp_domid_t peer, struct xsp_evtchn **out)
{
	struct xsp_evtchn *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->p = p;
	e->peer = peer;
	e->fd = -1;
	*out = e;
	return 0;
}

int xsp_evtchn_alloc(struct xsp *p, xsp_domid_t peer, struct xsp_evtchn **out)
{
	struct xsp_evtchn *e;
	int rc;

	*out = NULL;
	rc = evtchn_new(p, peer, &e);
	if (rc < 0)
		return rc;
	rc = p->ops->evtchn_alloc(p, peer, e);
	if (rc < 0) {
		free(e);
		return rc;
	}
	*out = e;
	return 0;
}

int xsp_evtchn_bind(struct xsp *p, xsp_domid_t peer, xsp_port_t remote_port,
		    struct xsp_evtchn **out)
{
	struct xsp_evtchn *e;
	int rc;

	*out = NULL;
	rc = evtchn_new(p, peer, &e);
	if (rc < 0)
		return rc;
	rc = p->ops->evtchn_bind(p, peer, remote_port, e);
	if (rc < 0) {
		free(e);
		return rc;
	}
	*out = e;
	return 0;
}

xsp_port_t xsp_evtchn_port(const struct xsp_evtchn *e) { return e->port; }
int xsp_evtchn_fd(const struct xsp_evtchn *e) { return e->fd; }

int xsp_evtchn_notify(struct xsp_evtchn *e)
{
	return e->p->ops->evtchn_notify(e);
}

int xsp_evtchn_ack(struct xsp_evtchn *e)
{
	return e->p->ops->evtchn_ack(e);
}

int xsp_evtchn_rearm(struct xsp_evtchn *e)
{
	return e->p->ops->evtchn_rearm ? e->p->ops->evtchn_rearm(e) : 0;
}

int xsp_evtchn_wait(struct xsp_evtchn *e, int timeout_ms)
{
	struct pollfd pfd = { .fd = e->fd, .events = POLLIN };
	int rc;

	rc = xsp_evtchn_ack(e);
	if (rc != 0)
		return rc;
	rc = poll(&pfd, 1, timeout_ms);
	if (rc < 0)
		return -errno;
	if (rc == 0)
		return 0;
	rc = xsp_evtchn_ack(e);
	return rc;
}

void xsp_evtchn_close(struct xsp_evtchn *e)
{
	if (!e)
		return;
	e->p->ops->evtchn_close(e);
	free(e);
}

/* ---- store ------------------------------------------------------------ */

int xsp_store_open(struct xsp *p, struct xsp_store **out)
{
	struct xsp_store *st = calloc(1, sizeof(*st));
	int rc;

	*out = NULL;
	if (!st)
		return -ENOMEM;
	st->p = p;
	st->watch_fd = -1;
	rc = p->ops->store_open(p, st);
	if (rc < 0) {
		free(st);
		return rc;
	}
	*out = st;
	return 0;
}

void xsp_store_close(struct xsp_store *st)
{
	if (!st)
		return;
	st->p->ops->store_close(st);
	free(st);
}

int xsp_store_read(struct xsp_store *st, xsp_txn_t t, const char *path,
		   char **val, size_t *len)
{
	int rc = xsp_store_check_path(path);

	*val = NULL;
	if (len)
		*len = 0;
	return rc < 0 ? rc : st->p->ops->store_read(st, t, path, val, len);
}

int xsp_store_write(struct xsp_store *st, xsp_txn_t t, const char *path,
		    const void *val, size_t len)
{
	int rc = xsp_store_check_path(path);

	if (rc < 0)
		return rc;
	if (len > XSP_STORE_VALUE_MAX)
		return -EINVAL;
	return st->p->ops->store_write(st, t, path, val, len);
}

int xsp_store_rm(struct xsp_store *st, xsp_txn_t t, const char *path)
{
	int rc = xsp_store_check_path(path);

	return rc < 0 ? rc : st->p->ops->store_rm(st, t, path);
}

int xsp_store_list(struct xsp_store *st, xsp_txn_t t, const char *path,
		   char ***names, unsigned int *n)
{
	int rc = xsp_store_check_path(path);

	*names = NULL;
	*n = 0;
	return rc < 0 ? rc : st->p->ops->store_list(st, t, path, names, n);
}

int xsp_store_set_perms(struct xsp_store *st, xsp_txn_t t, const char *path,
			const struct xsp_perm *perms, unsigned int n)
{
	int rc = xsp_store_check_path(path);

	if (rc < 0)
		return rc;
	if (n == 0 || n > 64)
		return -EINVAL;
	return st->p->ops->store_set_perms(st, t, path, perms, n);
}

int xsp_store_get_perms(struct xsp_store *st, xsp_txn_t t, const char *path,
			struct xsp_perm **perms, unsigned int *n)
{
	int rc = xsp_store_check_path(path);

	*perms = NULL;
	*n = 0;
	return rc < 0 ? rc : st->p->ops->store_get_perms(st, t, path, perms, n);
}

int xsp_txn_start(struct xsp_store *st, xsp_txn_t *t)
{
	*t = XSP_TXN_NONE;
	return st->p->ops->txn_start(st, t);
}

int xsp_txn_end(struct xsp_store *st, xsp_txn_t t, bool abort)
{
	return st->p->ops->txn_end(st, t, abort);
}

int xsp_watch_add(struct xsp_store *st, const char *path, const char *token)
{
	int rc = xsp_store_check_path(path);

	if (rc < 0 && path[0] != '@')	/* special watches: @releaseDomain ... */
		return rc;
	return st->p->ops->watch_add(st, path, token);
}

int xsp_watch_rm(struct xsp_store *st, const char *path, const char *token)
{
	return st->p->ops->watch_rm(st, path, token);
}

int xsp_watch_fd(const struct xsp_store *st)
{
	return st->watch_fd;
}

int xsp_watch_read(struct xsp_store *st, char **path, char **token)
{
	*path = NULL;
	*token = NULL;
	return st->p->ops->watch_read(st, path, token);
}

/* The local backend's only: on Xen, xenstored fires them for the toolstack. */
int local_store_fire(struct xsp_store *st, const char *special);

int xsp_store_fire_special(struct xsp_store *st, const char *special)
{
	if (st->p->ops != &xsp_local_ops)
		return -EOPNOTSUPP;
	return local_store_fire(st, special);
}

/* ---- helpers ------------------------------------------------------------ */

int xsp_store_check_path(const char *path)
{
	size_t len;
	const char *c;

	if (!path || path[0] != '/')
		return -EINVAL;
	len = strlen(path);
	if (len > XSP_STORE_PATH_MAX)
		return -EINVAL;
	if (len > 1 && path[len - 1] == '/')
		return -EINVAL;
	for (c = path; *c; c++) {
		if (*c == '/') {
			if (c[1] == '/')
				return -EINVAL;
			continue;
		}
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' ||
		      *c == '@'))
			return -EINVAL;
	}
	return 0;
}

int xsp_perm_parse(const char *s, struct xsp_perm *out)
{
	char *end;
	unsigned long dom;

	switch (s[0]) {
	case 'n': out->perm = XSP_PERM_NONE; break;
	case 'r': out->perm = XSP_PERM_READ; break;
	case 'w': out->perm = XSP_PERM_WRITE; break;
	case 'b': out->perm = XSP_PERM_BOTH; break;
	default: return -EINVAL;
	}
	if (s[1] < '0' || s[1] > '9')
		return -EINVAL;
	errno = 0;
	dom = strtoul(s + 1, &end, 10);
	if (errno || *end || dom > 0xFFFF)
		return -EINVAL;
	out->dom = (xsp_domid_t)dom;
	return 0;
}

void xsp_perm_format(const struct xsp_perm *perm, char *buf)
{
	static const char letters[] = "nrwb";

	snprintf(buf, 8, "%c%u", letters[perm->perm & 3], (unsigned int)perm->dom);
}

/* ---- exec: what crosses it ------------------------------------------------------------ */

int xsp_evtchn_export(const struct xsp_evtchn *e, struct xsp_evtchn_exec *x)
{
	unsigned int i;

	if (!e || !x)
		return -EINVAL;
	if (!e->p->ops->evtchn_export)
		return -EOPNOTSUPP;
	for (i = 0; i < XSP_EXEC_FDS; i++)
		x->fd[i] = -1;
	x->port = e->port;
	x->flags = 0;
	return e->p->ops->evtchn_export(e, x);
}

int xsp_evtchn_import(struct xsp *p, xsp_domid_t peer, const struct xsp_evtchn_exec *x,
		      struct xsp_evtchn **out)
{
	struct xsp_evtchn *e;
	int rc;

	*out = NULL;
	if (!p || !x)
		return -EINVAL;
	if (!p->ops->evtchn_import)
		return -EOPNOTSUPP;
	rc = evtchn_new(p, peer, &e);
	if (rc < 0)
		return rc;
	e->port = x->port;
	rc = p->ops->evtchn_import(p, x, e);
	if (rc < 0) {
		free(e);
		return rc;
	}
	*out = e;
	return 0;
}

int xsp_share_export(const struct xsp_share *s, int *fd)
{
	if (!s || !fd)
		return -EINVAL;
	if (!s->p->ops->share_export)
		return -EOPNOTSUPP;
	return s->p->ops->share_export(s, fd);
}

int xsp_share_import(struct xsp *p, xsp_domid_t peer, unsigned int npages,
		     const xsp_gref_t *refs, int fd, const struct xsp_unmap_notify *notify,
		     struct xsp_share **out)
{
	struct xsp_share *s;
	int rc;

	*out = NULL;
	if (!p || !refs || fd < 0)
		return -EINVAL;
	if (!p->ops->share_import)
		return -EOPNOTSUPP;
	rc = check_pages(npages, notify);
	if (rc < 0)
		return rc;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->refs = calloc(npages, sizeof(*s->refs));
	if (!s->refs) {
		free(s);
		return -ENOMEM;
	}
	s->p = p;
	s->peer = peer;
	s->npages = npages;
	memcpy(s->refs, refs, (size_t)npages * sizeof(*refs));
	rc = p->ops->share_import(p, fd, notify, s);
	if (rc < 0) {
		free(s->refs);
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void xsp_share_forget(struct xsp_share *s)
{
	if (!s || !s->p->ops->share_forget)
		return;
	s->p->ops->share_forget(s);
	free(s->refs);
	free(s);
}

void xsp_evtchn_forget(struct xsp_evtchn *e)
{
	if (!e || !e->p->ops->evtchn_forget)
		return;
	e->p->ops->evtchn_forget(e);
	free(e);
}
