/* SPDX-License-Identifier: MIT */
/*
 * What the files of the xen backend share: the backend instance's state,
 * the logger handed to the Xen libraries, the errno helpers, and each
 * file's entries into the ops table (xen.c).
 *
 *   xen.c        opening and closing the backend, the self domid, logging,
 *                the ops table
 *   xengnttab.c  grants: libxengnttab (gntshr to share, gnttab to map)
 *   xenevtchn.c  event channels: libxenevtchn, one handle per endpoint
 *   xenstore.c   the store: libxenstore, transactions and watches
 */
#ifndef XSOCK_PLATFORM_XEN_PRIVATE_H
#define XSOCK_PLATFORM_XEN_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include <xentoollog.h>
#include <xengnttab.h>

#include "platform/platform.h"

struct xen_priv {
	xengntshr_handle *gs;		/* gntalloc: pages we share */
	xengnttab_handle *gt;		/* gntdev: pages we map */
};

static inline struct xen_priv *xen_priv(const struct xsp *p)
{
	return (struct xen_priv *)p->priv;
}

/* xen.c */
extern struct xentoollog_logger xen_logger;
int xen_err_or(int fallback);
int xen_map_open_errno(int e);
xsp_domid_t xen_real_domid(const struct xsp *p, xsp_domid_t d);

/* xengnttab.c */
int xen_share(struct xsp *p, xsp_domid_t peer, unsigned int npages,
	      const struct xsp_unmap_notify *notify, struct xsp_share *s);
void xen_unshare(struct xsp_share *s);
int xen_map(struct xsp *p, xsp_domid_t peer, unsigned int n, const xsp_gref_t *refs,
	    const struct xsp_unmap_notify *notify, struct xsp_map *m);
void xen_unmap(struct xsp_map *m);

/* xenevtchn.c */
int xen_evtchn_alloc(struct xsp *p, xsp_domid_t peer, struct xsp_evtchn *e);
int xen_evtchn_bind(struct xsp *p, xsp_domid_t peer, xsp_port_t remote_port,
		    struct xsp_evtchn *e);
int xen_evtchn_notify(struct xsp_evtchn *e);
int xen_evtchn_ack(struct xsp_evtchn *e);
void xen_evtchn_close(struct xsp_evtchn *e);

/* xenstore.c */
int xen_store_open(struct xsp *p, struct xsp_store *st);
void xen_store_close(struct xsp_store *st);
int xen_store_read(struct xsp_store *st, xsp_txn_t t, const char *path, char **val,
		   size_t *len);
int xen_store_write(struct xsp_store *st, xsp_txn_t t, const char *path,
		    const void *val, size_t len);
int xen_store_rm(struct xsp_store *st, xsp_txn_t t, const char *path);
int xen_store_list(struct xsp_store *st, xsp_txn_t t, const char *path, char ***names,
		   unsigned int *n);
int xen_store_set_perms(struct xsp_store *st, xsp_txn_t t, const char *path,
			const struct xsp_perm *perms, unsigned int n);
int xen_store_get_perms(struct xsp_store *st, xsp_txn_t t, const char *path,
			struct xsp_perm **perms, unsigned int *n);
int xen_txn_start(struct xsp_store *st, xsp_txn_t *t);
int xen_txn_end(struct xsp_store *st, xsp_txn_t t, bool abort);
int xen_watch_add(struct xsp_store *st, const char *path, const char *token);
int xen_watch_rm(struct xsp_store *st, const char *path, const char *token);
int xen_watch_read(struct xsp_store *st, char **path, char **token);

#endif /* XSOCK_PLATFORM_XEN_PRIVATE_H */
