/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "common/log.h"
#include "conn/conn.h"
#include "conn/route.h"

/* Our side ran out of something (store quota, memory, fds, grants). */
static bool short_of_resources(int rc)
{
	return rc == -ENOSPC || rc == -EDQUOT || rc == -ENOMEM || rc == -EMFILE ||
	       rc == -ENFILE || rc == -ENOBUFS;
}

struct xs_route xs_route_after_failure(const struct xs_ctx *ctx, xsp_domid_t dom, int rc)
{
	if (rc == -ENOENT || rc == -XS_EPEER_SHORT) {
		if (ctx->fallback) {
			xs_log(XS_LOG_INFO, "no ring from dom%u (%s): falling back to TCP", dom,
			       rc == -ENOENT ? "nothing listens" : "peer short of resources");
			return xs_route_libc();
		}
		return xs_route_fail(-ECONNREFUSED);
	}
	if (short_of_resources(rc)) {
		if (ctx->fallback) {
			xs_log(XS_LOG_WARN, "ring to dom%u: %s: falling back to TCP", dom,
			       strerror(-rc));
			return xs_route_libc();
		}
		xs_log(XS_LOG_WARN, "ring to dom%u: %s", dom, strerror(-rc));
		return xs_route_fail(rc == -ENOSPC || rc == -EDQUOT ? -ENOBUFS : rc);
	}
	return xs_route_fail(rc);
}

struct xs_route xs_route_peer_down(const struct xs_ctx *ctx, xsp_domid_t dom)
{
	if (ctx->fallback) {
		xs_log(XS_LOG_INFO, "peer dom%u is down or not the domain registered: "
		       "falling back to TCP", dom);
		return xs_route_libc();
	}
	xs_log(XS_LOG_INFO, "peer dom%u is down or not the domain registered", dom);
	return xs_route_fail(-EHOSTUNREACH);
}
