/* SPDX-License-Identifier: MIT */
/* Local backend: what grant.c and grant_exec.c share about one share. */
#ifndef XSOCK_PLATFORM_LOCAL_GRANT_PRIV_H
#define XSOCK_PLATFORM_LOCAL_GRANT_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include "platform/platform.h"

#define GRANT_MAX_SHARE 1024u		/* pages of one share (xsp_share()) */

struct grant_notify {
	bool armed;
	size_t offset;
	struct xsp_evtchn *ev;
};

/* xsp_share's priv on this backend. */
struct share_priv {
	int lockfd;			/* share file, LOCK_SH held */
	char rec[48];			/* "grant/<peer>/<ref0>.<self>" */
	struct grant_notify notify;
};

/* Arm @dst as @src says (disarm it for NULL). */
void grant_notify_set(struct grant_notify *dst, const struct xsp_unmap_notify *src);

#endif /* XSOCK_PLATFORM_LOCAL_GRANT_PRIV_H */
