/* SPDX-License-Identifier: MIT */
/* STUB: to be implemented. */
#include "config.h"
#include <errno.h>
#include "platform/local/local.h"

int local_share(struct xsp *p, xsp_domid_t peer, unsigned int npages,
		const struct xsp_unmap_notify *notify, struct xsp_share *s)
{
	return -ENOSYS;
}

void local_unshare(struct xsp_share *s)
{
}

int local_map(struct xsp *p, xsp_domid_t peer, unsigned int n,
	      const xsp_gref_t *refs, const struct xsp_unmap_notify *notify,
	      struct xsp_map *m)
{
	return -ENOSYS;
}

void local_unmap(struct xsp_map *m)
{
}
