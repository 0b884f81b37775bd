/* SPDX-License-Identifier: MIT */
/*
 * The peer registry: which addresses belong to which domain on this host.
 * Each domain keeps its own, in the store, readable and writable by that
 * domain only:
 *     /local/domain/<self>/data/xsock/peers/<prefix-key> = "<domid> <prefix>"
 * (<prefix-key> from xs_prefix_to_key()), optionally followed by " name=<name>"
 * and/or " uuid=<uuid>" (<xsock/store.h>, "Identity"). It is both the routing table for
 * connect() and the access rule for accept(): a listener accepts ring
 * connections only from domains registered here.
 *
 * Errors: 0 or a negative errno from the store; malformed entries found in
 * the store are skipped (and logged), never fatal.
 */
#ifndef XSOCK_CONN_REGISTRY_H
#define XSOCK_CONN_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <xsock/store.h>

#include "conn/addr.h"
#include "platform/platform.h"

/* An entry's state once resolved (conn/identity.h, xs_registry_resolve()). */
enum xs_peer_state {
	XS_PEER_UP = 0,		/* usable: routes to @dom, accepts @dom */
	XS_PEER_NONAME,		/* its name resolves to no domain (the peer is down) */
	XS_PEER_AMBIGUOUS,	/* its name resolves to more than one domain */
	XS_PEER_MISMATCH,	/* the domain holding @dom is not the one bound (uuid) */
	XS_PEER_UNKNOWN,	/* bound to a uuid, but nothing is known of @dom */
};

/* Where an entry comes from. */
enum xs_peer_origin {
	XS_PEER_OWN = 0,	/* this domain's registry (B(self)/peers) */
	XS_PEER_DIR,		/* domain 0's directory (B(self)/dir/<d> addr=) */
};

struct xs_peer {
	struct xs_prefix prefix;
	xsp_domid_t dom;	/* the domain; for a named entry, its last resolution */
	char name[XSOCK_NAME_MAX + 1];	/* "" unless the entry names its domain */
	char uuid[XSOCK_UUID_LEN + 1];	/* "" unless bound to that identity */
	unsigned char state;	/* enum xs_peer_state */
	unsigned char origin;	/* enum xs_peer_origin */
};

static inline bool xs_peer_up(const struct xs_peer *p)
{
	return p->state == XS_PEER_UP;
}

/* "up", "down: no such domain", ...: for logs and xsockctl. */
const char *xs_peer_state_text(unsigned int state);

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
 * domain (by id, unless it has a name) or a reserved id, or has a
 * malformed name or uuid. An entry's name and uuid are stored with it.
 */
int xs_registry_add_all(struct xsp_store *st, xsp_domid_t self,
			const struct xs_peer *peers, unsigned int n);
/* -ENOENT if no such entry. */
int xs_registry_del(struct xsp_store *st, xsp_domid_t self,
		    const struct xs_prefix *pfx);
/*
 * The entries, resolved (conn/identity.h): names to the domids they have
 * now, identity bindings checked, domain 0's directory's addresses added.
 * *peers malloc()ed (free it), sorted by prefix length, longest first.
 * An absent registry is an empty list, not an error.
 */
int xs_registry_list(struct xsp_store *st, xsp_domid_t self,
		     struct xs_peer **peers, unsigned int *n);
/* The same as stored: nothing resolved, nothing added (all XS_PEER_UP). */
int xs_registry_list_raw(struct xsp_store *st, xsp_domid_t self,
			 struct xs_peer **peers, unsigned int *n);

/*
 * Longest-prefix match of @sa. -ENOENT if no entry matches;
 * -EHOSTUNREACH if the entry that matches is down (*dom: its last domid).
 */
int xs_registry_lookup(const struct xs_peer *peers, unsigned int n,
		       const struct sockaddr *sa, socklen_t salen,
		       xsp_domid_t *dom);

/* Is @dom registered by an entry that is up (the access rule for accept())? */
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
