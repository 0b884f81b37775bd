/* SPDX-License-Identifier: MIT */
/*
 * The process-wide context (conn.h): opening the platform backend, the
 * tunables read from the environment, and this domain's registry.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/env.h"
#include "common/log.h"
#include "conn/conn.h"

int xs_ctx_open(struct xs_ctx **out)
{
	struct xs_ctx *ctx = calloc(1, sizeof(*ctx));
	const char *fault;
	int rc;

	*out = NULL;
	if (!ctx)
		return -ENOMEM;
	rc = xsp_open(&ctx->plat);
	if (rc < 0) {
		free(ctx);
		return rc;
	}
	ctx->self = xsp_self_domid(ctx->plat);
	ctx->ring_order = (unsigned int)xs_env_long("XSOCK_RING_ORDER", XS_DEFAULT_RING_ORDER, 0,
						 XSOCK_RING_MAX_ORDER);
	ctx->small_order = (unsigned int)xs_env_long("XSOCK_RING_ORDER_SMALL", XS_DEFAULT_SMALL_ORDER,
						  0, XSOCK_RING_MAX_ORDER);
	if (ctx->small_order > ctx->ring_order)
		ctx->small_order = ctx->ring_order;
	ctx->big_rings_max = (int)xs_env_long("XSOCK_BIG_RINGS", XS_DEFAULT_BIG_RINGS, 0, 1000000);
	ctx->connect_timeout_ms = (int)xs_env_long("XSOCK_CONNECT_TIMEOUT_MS",
						XS_DEFAULT_CONNECT_TIMEOUT_MS, 1, 3600000);
	ctx->accept_timeout_ms = (int)xs_env_long("XSOCK_ACCEPT_TIMEOUT_MS",
					       XS_DEFAULT_ACCEPT_TIMEOUT_MS, 1, 3600000);
	ctx->ack_timeout_ms = (int)xs_env_long("XSOCK_LISTENER_ACK_MS", XS_DEFAULT_ACK_TIMEOUT_MS,
					    1, 3600000);
	ctx->reuse_max = (int)xs_env_long("XSOCK_REUSE", XS_DEFAULT_REUSE_MAX, 0, 65536);
	ctx->reuse_idle_ms = (int)xs_env_long("XSOCK_REUSE_IDLE_MS", XS_DEFAULT_REUSE_IDLE_MS, 1,
					   3600000);
	ctx->inflight_max = (int)xs_env_long("XSOCK_MAX_INFLIGHT_PER_PEER", XS_DEFAULT_INFLIGHT_MAX,
					  1, 65536);
	ctx->fallback = xs_env_on("XSOCK_FALLBACK");

	fault = xs_env_str("XSOCK_FAULT");
	if (fault && strcmp(fault, "die-before-attach") == 0)
		ctx->fault_die_before_attach = true;
	else if (fault && strcmp(fault, "stop-before-attach") == 0)
		ctx->fault_stop_before_attach = true;
	else if (fault)
		xs_log(XS_LOG_WARN, "ignoring unknown XSOCK_FAULT=%s", fault);
	*out = ctx;
	return 0;
}

void xs_ctx_close(struct xs_ctx *ctx)
{
	if (!ctx)
		return;
	xsp_close(ctx->plat);
	free(ctx);
}

int xs_ctx_peers(struct xs_ctx *ctx, struct xs_peer **peers, unsigned int *n,
		 struct xsp_store **keep)
{
	struct xsp_store *st;
	int rc;

	*peers = NULL;
	*n = 0;
	if (keep)
		*keep = NULL;
	rc = xsp_store_open(ctx->plat, &st);
	if (rc < 0)
		return rc;
	rc = xs_registry_list(st, ctx->self, peers, n);
	if (rc == 0 && keep)
		*keep = st;
	else
		xsp_store_close(st);
	return rc;
}
