/* SPDX-License-Identifier: MIT */
/* STUB: to be implemented. */
#include "config.h"
#include <errno.h>
#include "conn/registry.h"

int xs_registry_add(struct xsp_store *st, xsp_domid_t self,
		    const struct xs_prefix *pfx, xsp_domid_t dom)
{
	return -ENOSYS;
}

int xs_registry_del(struct xsp_store *st, xsp_domid_t self,
		    const struct xs_prefix *pfx)
{
	return -ENOSYS;
}

int xs_registry_list(struct xsp_store *st, xsp_domid_t self,
		     struct xs_peer **peers, unsigned int *n)
{
	return -ENOSYS;
}

int xs_registry_lookup(const struct xs_peer *peers, unsigned int n,
		       const struct sockaddr *sa, socklen_t salen,
		       xsp_domid_t *dom)
{
	return -ENOSYS;
}

bool xs_registry_has_domain(const struct xs_peer *peers, unsigned int n,
			    xsp_domid_t dom)
{
	return false;
}

int xs_registry_addr_of(const struct xs_peer *peers, unsigned int n,
			xsp_domid_t dom, int family,
			struct sockaddr_storage *out, socklen_t *outlen)
{
	return -ENOSYS;
}
