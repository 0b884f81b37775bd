/* SPDX-License-Identifier: MIT */
/* STUB: the xen backend, to be implemented. */
#include "config.h"
#include <errno.h>
#include "platform/platform.h"

static int xen_open(struct xsp *p)
{
	return -ENOSYS;
}

const struct xsp_ops xsp_xen_ops = {
	.name = "xen",
	.open = xen_open,
};
