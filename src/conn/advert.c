/* SPDX-License-Identifier: MIT */
/*
 * Advertisements (<xsock/store.h>, docs/protocol.md section 2): the nodes
 * that tell a registered domain a ring listener serves a port, as the
 * listener writes and withdraws them and as a client looks for them.
 *
 * One node per registered domain C, listen/<port>-<C> (a wildcard
 * listener) or listen/<port>-<C>-<addr key> (a listener bound to one
 * address), each readable by C alone: a node names one permission entry
 * besides its owner, however many domains are registered (xenstored lets
 * a domain U give a node 5 at most, the local backend 63), and a domain
 * taken out of the registry loses its node. The legacy node
 * listen/<port>, for clients that predate these, names as many registered
 * domains as fit and nobody when they do not. Contracts in private.h.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "conn/negotiate.h"
#include "conn/private.h"

void xs_adv_path(char *buf, size_t len, xsp_domid_t self, uint16_t port, xsp_domid_t peer,
		 const char *key)
{
	if (key && *key)
		snprintf(buf, len, XSOCK_LISTEN_ADDR_PATH_FMT, self, port, peer, key);
	else
		snprintf(buf, len, XSOCK_LISTEN_PEER_FMT, self, port, peer);
}

/* The value every node of @l holds. */
static void adv_value(const struct xs_listener *l, char *buf, size_t len)
{
	if (l->addr_key[0])
		snprintf(buf, len, XSOCK_LISTEN_ADDR_FMT, (int)getpid(), l->id, l->addr_text);
	else
		snprintf(buf, len, XSOCK_LISTEN_FMT, (int)getpid(), l->id);
}

/*
 * The legacy node, readable by the domains of @doms when they fit in one
 * permission list and by nobody else otherwise (a registry that grew past
 * the store's limit must not leave the domains it had with access, nor
 * one that shrank).
 */
static int adv_legacy(struct xs_listener *l, const char *val, const xsp_domid_t *doms,
		      unsigned int n)
{
	struct xsp_perm perms[XSOCK_LEGACY_PERMS_MAX];
	xsp_domid_t self = l->ctx->self;
	unsigned int i, np = 0;
	char path[128];
	int rc;

	snprintf(path, sizeof(path), XSOCK_LISTEN_PATH_FMT, self, l->port);
	rc = xsp_store_write(l->st, XSP_TXN_NONE, path, val, strlen(val));
	if (rc < 0)
		return rc;
	perms[np].dom = self;
	perms[np++].perm = XSP_PERM_NONE;
	for (i = 0; i < n && n < XSOCK_LEGACY_PERMS_MAX; i++) {
		perms[np].dom = doms[i];
		perms[np++].perm = XSP_PERM_READ;
	}
	rc = xsp_store_set_perms(l->st, XSP_TXN_NONE, path, perms, np);
	if (rc < 0 && np > 1) {
		/* More than this store lets one node name (xenstored's
		 * per-node quota): the per-domain nodes serve them all. */
		xs_log(XS_LOG_DEBUG, "%s: %u domains do not fit its permissions (%s): "
		       "per-domain nodes only", path, n, strerror(-rc));
		rc = xsp_store_set_perms(l->st, XSP_TXN_NONE, path, perms, 1);
	}
	return rc;
}

int xs_adv_publish(struct xs_listener *l, const xsp_domid_t *doms, unsigned int n)
{
	xsp_domid_t self = l->ctx->self;
	char path[160], val[128];
	unsigned int i;
	int rc;

	adv_value(l, val, sizeof(val));
	for (i = 0; i < n; i++) {
		struct xsp_perm perms[2] = {
			{ .dom = self, .perm = XSP_PERM_NONE },
			{ .dom = doms[i], .perm = XSP_PERM_READ },
		};

		/* Created readable by us alone (as listen/ is), then opened
		 * to its domain: never readable by anyone else. */
		xs_adv_path(path, sizeof(path), self, l->port, doms[i], l->addr_key);
		rc = xsp_store_write(l->st, XSP_TXN_NONE, path, val, strlen(val));
		if (rc == 0)
			rc = xsp_store_set_perms(l->st, XSP_TXN_NONE, path, perms, 2);
		if (rc < 0)
			xs_log(XS_LOG_WARN, "advertise %s: %s", path, strerror(-rc));
	}
	return adv_legacy(l, val, doms, n);
}

void xs_adv_withdraw(struct xs_listener *l, const xsp_domid_t *doms, unsigned int n, bool legacy)
{
	xsp_domid_t self = l->ctx->self;
	char path[160];
	unsigned int i;

	for (i = 0; i < n; i++) {
		xs_adv_path(path, sizeof(path), self, l->port, doms[i], l->addr_key);
		xs_listen_rm_own(l->st, path, l->id);
	}
	if (legacy) {
		snprintf(path, sizeof(path), XSOCK_LISTEN_PATH_FMT, self, l->port);
		xs_listen_rm_own(l->st, path, l->id);
	}
}

/* Is there a node at @path, and not one of listener @id? */
static bool adv_other(struct xsp_store *st, const char *path, const char *id)
{
	struct xs_neg_listen adv;
	size_t len = 0;
	char *val;
	bool other;

	if (xsp_store_read(st, XSP_TXN_NONE, path, &val, &len) < 0)
		return false;
	other = xs_neg_parse_listen(val, len, &adv) < 0 || strcmp(adv.id, id) != 0;
	free(val);
	return other;
}

bool xs_adv_other_serves(struct xs_listener *l, xsp_domid_t dom, const char *daddr)
{
	xsp_domid_t self = l->ctx->self;
	char path[160], key[XS_ADDR_KEYLEN];
	struct sockaddr_storage ss;
	socklen_t sslen;

	xs_adv_path(path, sizeof(path), self, l->port, dom, NULL);
	if (adv_other(l->st, path, l->id))
		return true;
	if (xs_neg_text_to_sa(daddr, l->port, &ss, &sslen) < 0 ||
	    xs_addr_key((struct sockaddr *)&ss, sslen, key, sizeof(key)) < 0)
		return false;
	xs_adv_path(path, sizeof(path), self, l->port, dom, key);
	return adv_other(l->st, path, l->id);
}

/* Read @path: 1 it is there (its value in *val if @val, to free()), 0 not
 * there or not for us, or a store error. */
static int adv_read(struct xsp_store *st, const char *path, char **val, size_t *len)
{
	char *v = NULL;
	int rc = xsp_store_read(st, XSP_TXN_NONE, path, &v, len);

	if (rc == -ENOENT || rc == -EACCES)
		return 0;
	if (rc < 0)
		return rc;
	if (val)
		*val = v;
	else
		free(v);
	return 1;
}

int xs_adv_find(struct xsp_store *st, xsp_domid_t server, uint16_t port, xsp_domid_t self,
		const struct sockaddr *dst, socklen_t dstlen, char *found, size_t foundlen)
{
	char path[XS_ADV_PATH_MAX], key[XS_ADDR_KEYLEN], akey[XS_ADDR_KEYLEN];
	struct sockaddr_storage ss;
	struct xs_neg_listen adv;
	socklen_t sslen;
	size_t len = 0;
	char *val = NULL;
	int rc;

	/* A wildcard listener first (the common case): one read. */
	xs_adv_path(path, sizeof(path), server, port, self, NULL);
	rc = adv_read(st, path, NULL, NULL);
	if (rc != 0)
		goto found;
	rc = xs_addr_key(dst, dstlen, key, sizeof(key));
	if (rc < 0)
		return rc;
	xs_adv_path(path, sizeof(path), server, port, self, key);
	rc = adv_read(st, path, NULL, NULL);
	if (rc != 0)
		goto found;
	/* A server older than the per-domain nodes. */
	snprintf(path, sizeof(path), XSOCK_LISTEN_PATH_FMT, server, port);
	rc = adv_read(st, path, &val, &len);
	if (rc <= 0)
		return rc < 0 ? rc : -ENOENT;
	/* Bound to another address: nothing listens on ours. (A value we
	 * cannot parse is left to the listener, as older clients do.) */
	rc = 0;
	if (xs_neg_parse_listen(val, len, &adv) == 0 && adv.has_addr &&
	    (xs_neg_text_to_sa(adv.addr, port, &ss, &sslen) < 0 ||
	     xs_addr_key((struct sockaddr *)&ss, sslen, akey, sizeof(akey)) < 0 ||
	     strcmp(akey, key) != 0))
		rc = -ENOENT;
	free(val);
	if (rc < 0)
		return rc;
found:
	if (rc < 0)
		return rc;
	if (found)
		snprintf(found, foundlen, "%s", path);
	return 0;
}
