/* SPDX-License-Identifier: MIT */
/* STUB: to be implemented. */
#include "config.h"
#include <errno.h>
#include "platform/local/local.h"

int local_evtchn_alloc(struct xsp *p, xsp_domid_t peer, struct xsp_evtchn *e)
{
	return -ENOSYS;
}

int local_evtchn_bind(struct xsp *p, xsp_domid_t peer, xsp_port_t remote_port,
		      struct xsp_evtchn *e)
{
	return -ENOSYS;
}

int local_evtchn_notify(struct xsp_evtchn *e)
{
	return -ENOSYS;
}

int local_evtchn_ack(struct xsp_evtchn *e)
{
	return -ENOSYS;
}

void local_evtchn_close(struct xsp_evtchn *e)
{
}
