/* SPDX-License-Identifier: MIT */
/*
 * Same-domain cleanup of what dead processes left in the store: the
 * listen/<port> advertisements of SIGKILLed listeners and the requests of
 * clients killed while their connect() waited (docs/protocol.md,
 * "Liveness"). A node is removed only if the pid it names is gone and its
 * value is unchanged.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "conn/negotiate.h"
#include "conn/private.h"

/* One sweep: the children of a directory whose value names a dead pid. */
struct sweep {
	struct xsp_store *st;
	xsp_domid_t self;
	const char *what;		/* what a child is, for the log */
	size_t max_name;		/* longer names are not such children */
	pid_t (*pid_of)(const char *val, size_t len);	/* 0: names none */
	void (*removed)(struct sweep *sw, const char *name);	/* or NULL */
	unsigned int gone;		/* children removed so far */
};

/*
 * Remove the children of @dir whose value names a pid that no longer
 * exists (kill(pid, 0) fails with ESRCH), each only if its value is
 * unchanged meanwhile. Errors: those of listing @dir (-ENOENT: no such
 * directory); a child that cannot be read is skipped.
 */
static int sweep_dir(struct sweep *sw, const char *dir)
{
	char path[160];
	char **names = NULL;
	unsigned int n = 0, i;
	int rc;

	rc = xsp_store_list(sw->st, XSP_TXN_NONE, dir, &names, &n);
	if (rc < 0)
		return rc;
	for (i = 0; i < n; i++) {
		size_t len = 0;
		char *val;
		pid_t pid;

		if (strlen(names[i]) > sw->max_name)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (xsp_store_read(sw->st, XSP_TXN_NONE, path, &val, &len) < 0)
			continue;
		pid = sw->pid_of(val, len);
		if (pid > 0 && pid != getpid() && kill(pid, 0) < 0 && errno == ESRCH) {
			xs_log(XS_LOG_INFO, "removing stale %s %s (pid %d is gone)", sw->what, path,
			       (int)pid);
			xs_node_rm_if_unchanged(sw->st, path, val);
			if (sw->removed)
				sw->removed(sw, names[i]);
			sw->gone++;
		}
		free(val);
	}
	free(names);
	return 0;
}

static pid_t listener_pid(const char *val, size_t len)
{
	struct xs_neg_listen adv;

	return xs_neg_parse_listen(val, len, &adv) == 0 ? adv.pid : 0;
}

/* A stale advertisement's doorbells go with it. */
static void listener_removed(struct sweep *sw, const char *port)
{
	xs_bell_rm_dir(sw->st, sw->self, (uint16_t)atoi(port));
}

/*
 * Same-domain cleanup of SIGKILLed listeners: their listen/<port> nodes
 * name a pid that no longer exists. (Clients in other domains cannot see
 * our pids; they rely on the acknowledgement bound instead, see
 * wait_answer() in client.c.) A pid that was reused keeps its node until
 * the next sweep after that process is gone too; clients are safe
 * meanwhile.
 */
int xs_sweep_listen(struct xsp_store *st, xsp_domid_t self, unsigned int *removed)
{
	struct sweep sw = {
		.st = st, .self = self, .what = "advertisement", .max_name = 5,
		.pid_of = listener_pid, .removed = listener_removed,
	};
	char dir[96];
	int rc;

	snprintf(dir, sizeof(dir), XSOCK_LISTEN_DIR_FMT, self);
	rc = sweep_dir(&sw, dir);
	if (rc < 0)
		return rc == -ENOENT ? 0 : rc;
	if (removed)
		*removed = sw.gone;
	return 0;
}

static pid_t request_pid(const char *val, size_t len)
{
	unsigned long pid;

	return xs_kv_get_uint(val, len, XSOCK_KEY_PID, INT32_MAX, &pid) == 0 ? (pid_t)pid : 0;
}

/*
 * Remove this domain's requests (req/<S>/<id>) whose pid is dead: a client
 * killed while its connect() waited leaves its request behind (the server
 * may not remove it: the node is ours). Best effort.
 */
int xs_sweep_requests(struct xsp_store *st, xsp_domid_t self, unsigned int *removed)
{
	struct sweep sw = {
		.st = st, .self = self, .what = "request", .max_name = SIZE_MAX,
		.pid_of = request_pid, .removed = NULL,
	};
	char dir[96], sdir[128];
	char **peers = NULL;
	unsigned int np = 0, i;
	int rc;

	snprintf(dir, sizeof(dir), XSOCK_REQ_DIR_FMT, self);
	rc = xsp_store_list(st, XSP_TXN_NONE, dir, &peers, &np);
	if (rc < 0)
		return rc == -ENOENT ? 0 : rc;
	for (i = 0; i < np; i++) {
		snprintf(sdir, sizeof(sdir), "%s/%s", dir, peers[i]);
		sweep_dir(&sw, sdir);
	}
	free(peers);
	if (removed)
		*removed = sw.gone;
	return 0;
}

/* Run one of the sweeps above on a store handle of its own. */
static int sweep_with_store(struct xs_ctx *ctx,
			    int (*sweep)(struct xsp_store *, xsp_domid_t, unsigned int *),
			    unsigned int *removed)
{
	struct xsp_store *st;
	int rc;

	if (removed)
		*removed = 0;
	rc = xsp_store_open(ctx->plat, &st);
	if (rc < 0)
		return rc;
	rc = sweep(st, ctx->self, removed);
	xsp_store_close(st);
	return rc;
}

int xs_ctx_sweep_requests(struct xs_ctx *ctx, unsigned int *removed)
{
	return sweep_with_store(ctx, xs_sweep_requests, removed);
}

int xs_ctx_sweep_listeners(struct xs_ctx *ctx, unsigned int *removed)
{
	return sweep_with_store(ctx, xs_sweep_listen, removed);
}

