/* SPDX-License-Identifier: MIT */
/*
 * Domain identities (docs/protocol.md, section 2, "Names and identity";
 * <xsock/store.h>, "Identity"): a domain's name and UUID, as the
 * toolstack records them (/local/domain/<d>/name, /local/domain/<d>/vm)
 * or as domain 0 publishes them into a domain's own directory
 * (B(U)/dir/<d>). Either source is trusted only when its nodes belong to
 * domain 0. Resolution of the registry's names and identity bindings is
 * here too (xs_registry_resolve()).
 *
 * Errors: 0 or a negative errno. The parsers never read past their length
 * and fill their output only on success.
 */
#ifndef XSOCK_CONN_IDENTITY_H
#define XSOCK_CONN_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

#include <xsock/store.h>

#include "conn/addr.h"
#include "platform/platform.h"

struct xs_peer;

struct xs_ident {
	xsp_domid_t dom;
	char name[XSOCK_NAME_MAX + 1];
	char uuid[XSOCK_UUID_LEN + 1];
	unsigned int naddrs;				/* dir/<d> only */
	struct xs_prefix addrs[XSOCK_DIR_ADDRS_MAX];
};

/* A domain name: 1..XSOCK_NAME_MAX of [A-Za-z0-9._-], not all digits. */
bool xs_ident_name_ok(const char *s, size_t n);
/* A UUID: 8-4-4-4-12 lowercase hex digits. */
bool xs_ident_uuid_ok(const char *s, size_t n);

/*
 * B(U)/dir/<d>: "name=<name> uuid=<uuid>[ addr=<a>[,<a>...]]" (each <a>
 * ADDR[/PREFIX], at most XSOCK_DIR_ADDRS_MAX). -EPROTO malformed, with
 * the reason in @why (may be NULL); out->dom is not touched.
 */
int xs_dir_parse(const char *val, size_t len, struct xs_ident *out, char *why, size_t whylen);
/* The value for @id (its name, uuid and addrs). -ENOSPC @len too small. */
int xs_dir_format(const struct xs_ident *id, char *buf, size_t len);

/* What @self can know of other domains' identities. */
struct xs_idents {
	struct xs_ident *v;
	unsigned int n;
	bool toolstack;		/* some were read from the toolstack's nodes */
	bool dir;		/* B(self)/dir exists (domain 0 publishes to us) */
};

/*
 * Every identity @self may read: the toolstack's nodes where readable
 * (domain 0), then B(self)/dir/<d> for domains not known so (owner 0
 * only; malformed nodes skipped and logged). @self itself is left out.
 * Free with xs_idents_free().
 */
int xs_idents_read(struct xsp_store *st, xsp_domid_t self, struct xs_idents *out);
/* The same, with only the toolstack's nodes of @doms (@ndoms of them)
 * read: what resolving bindings by id needs, without listing every domain. */
int xs_idents_read_some(struct xsp_store *st, xsp_domid_t self, const xsp_domid_t *doms,
			unsigned int ndoms, struct xs_idents *out);
void xs_idents_free(struct xs_idents *ids);
const struct xs_ident *xs_idents_by_dom(const struct xs_idents *ids, xsp_domid_t dom);
/* -ENOENT no domain of that name, -EEXIST more than one. */
int xs_idents_by_name(const struct xs_idents *ids, const char *name,
		      const struct xs_ident **out);

/*
 * The identity of domain @dom, read now: its toolstack nodes if @self may
 * read them (and they belong to domain 0), else B(self)/dir/<dom>.
 * -ENOENT nothing known of @dom (no such domain, or no source).
 */
int xs_ident_of(struct xsp_store *st, xsp_domid_t self, xsp_domid_t dom,
		struct xs_ident *out);

/*
 * Resolve @n registry entries in place (registry.h, struct xs_peer): an
 * entry with a name gets the domid that name has now (down when none or
 * several have it, or only this domain); an entry bound to a UUID is down
 * unless the domain holding its domid now has that UUID. Entries without
 * either are left as they are (up). Then the domains @ids publishes
 * addresses for (dir/ addr=) are appended as entries of their own, where
 * the registry has no entry for the same prefix: *peers may be
 * reallocated and *n grow.
 */
int xs_registry_resolve(const struct xs_idents *ids, xsp_domid_t self,
			struct xs_peer **peers, unsigned int *n);

#endif /* XSOCK_CONN_IDENTITY_H */
