/* SPDX-License-Identifier: MIT */
/*
 * The peer registry: which addresses belong to which domain on this host.
 * Each domain keeps its own, in the store, readable and writable by that
 * domain only:
 *     /local/domain/<self>/data/xsock/peers/<prefix-key> = "<domid> <prefix>"
 * (<prefix-key> from xs_prefix_to_key()). It is both the routing table for
 * connect() and the access rule for accept(): a listener accepts ring
 * connections only from domains registered here.
 *
 * Errors: 0 or a negative errno from the store; malformed entries found in
 * the store are skipped (and logged), never fatal.
 */
#ifndef XSOCK_CONN_REGISTRY_H
#define XSOCK_CONN_REGISTRY_H

#include <stddef.h>
#include <sys/socket.h>

#include "conn/addr.h"
#include "platform/platform.h"

struct xs_peer {
	struct xs_prefix prefix;
	xsp_domid_t dom;
};

/*
 * A domain id as the registry stores it and xsockctl takes it: @n decimal
 * digits at @s, no sign, no leading zeros, below XSP_DOMID_SELF (0x7FF0).
 * -EINVAL otherwise (*out untouched).
 */
int xs_registry_parse_domid(const char *s, size_t n, xsp_domid_t *out);

/* Add or replace. -EINVAL if @dom is this domain or reserved (>= 0x7FF0). */
int xs_registry_add(struct xsp_store *st, xsp_domid_t self,
		    const struct xs_prefix *pfx, xsp_domid_t dom);
/*
 * Add or replace all @n entries in one store transaction: all of them
 * take effect or none does. -EINVAL (nothing written) if any names this
 * domain or a reserved id.
 */
int xs_registry_add_all(struct xsp_store *st, xsp_domid_t self,
			const struct xs_peer *peers, unsigned int n);
/* -ENOENT if no such entry. */
int xs_registry_del(struct xsp_store *st, xsp_domid_t self,
		    const struct xs_prefix *pfx);
/* *peers malloc()ed (free it), sorted by prefix length, longest first.
 * An absent registry is an empty list, not an error. */
int xs_registry_list(struct xsp_store *st, xsp_domid_t self,
		     struct xs_peer **peers, unsigned int *n);

/* Longest-prefix match of @sa. -ENOENT if no entry matches. */
int xs_registry_lookup(const struct xs_peer *peers, unsigned int n,
		       const struct sockaddr *sa, socklen_t salen,
		       xsp_domid_t *dom);

/* Is @dom registered at all (the access rule for accept())? */
bool xs_registry_has_domain(const struct xs_peer *peers, unsigned int n,
			    xsp_domid_t dom);

/*
 * The address to report for a connection from @dom (accept(),
 * getpeername()): its longest registered prefix of @family (falling back
 * to the other family), as a host address. -ENOENT if none.
 */
int xs_registry_addr_of(const struct xs_peer *peers, unsigned int n,
			xsp_domid_t dom, int family,
			struct sockaddr_storage *out, socklen_t *outlen);

#endif /* XSOCK_CONN_REGISTRY_H */
