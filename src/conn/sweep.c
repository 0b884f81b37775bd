/* SPDX-License-Identifier: MIT */
/*
 * Same-domain cleanup of what dead processes left in the store: the
 * advertisements (listen/...) of SIGKILLed listeners and the requests of
 * clients killed while their connect() waited (docs/protocol.md,
 * "Liveness"): a node is removed only if the pid it names is gone and its
 * value is unchanged; and the answers (conn/<C>/<id>) whose request is
 * gone, which listeners that closed or died could not remove.
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
	/* What removing child @name (value @val) counts for (NULL: 1). */
	unsigned int (*removed)(struct sweep *sw, const char *name, const char *val, size_t len);
	unsigned int gone;		/* what was removed so far */
	char (*ids)[XS_NEG_ID_LEN];	/* listen: the dead listeners seen */
	unsigned int nids;
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
			sw->gone += sw->removed ? sw->removed(sw, names[i], val, len) : 1;
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

/*
 * A stale advertisement's doorbells go with it. A listener has one node
 * per registered domain and a legacy one: it counts once (by its id).
 */
static unsigned int listener_removed(struct sweep *sw, const char *name, const char *val,
				     size_t len)
{
	struct xs_neg_listen adv;
	char (*ids)[XS_NEG_ID_LEN];
	unsigned int i;

	xs_bell_rm_dir(sw->st, sw->self, (uint16_t)atoi(name));
	if (xs_neg_parse_listen(val, len, &adv) < 0)
		return 1;
	for (i = 0; i < sw->nids; i++)
		if (strcmp(sw->ids[i], adv.id) == 0)
			return 0;
	ids = realloc(sw->ids, (sw->nids + 1) * sizeof(*ids));
	if (!ids)
		return 1;
	sw->ids = ids;
	memcpy(sw->ids[sw->nids++], adv.id, XS_NEG_ID_LEN);
	return 1;
}

/*
 * Same-domain cleanup of SIGKILLed listeners: their listen/ nodes name a
 * pid that no longer exists; *removed counts listeners, not nodes.
 * (Clients in other domains cannot see our pids; they rely on the
 * acknowledgement bound instead, see wait_answer() in client.c.) A pid
 * that was reused keeps its node until the next sweep after that process
 * is gone too; clients are safe meanwhile.
 */
int xs_sweep_listen(struct xsp_store *st, xsp_domid_t self, unsigned int *removed)
{
	/* listen/<port>, listen/<port>-<C> and listen/<port>-<C>-<addr key>. */
	struct sweep sw = {
		.st = st, .self = self, .what = "advertisement", .max_name = 64,
		.pid_of = listener_pid, .removed = listener_removed,
	};
	char dir[96];
	int rc;

	snprintf(dir, sizeof(dir), XSOCK_LISTEN_DIR_FMT, self);
	rc = sweep_dir(&sw, dir);
	free(sw.ids);
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

/* Remove the answers of conn/<@dom> whose request is gone; the count. */
static unsigned int sweep_answers_of(struct xsp_store *st, xsp_domid_t self, xsp_domid_t dom,
				     const char *adir)
{
	char apath[256], rpath[160];
	char **ids = NULL;
	unsigned int n = 0, i, gone = 0;

	if (xsp_store_list(st, XSP_TXN_NONE, adir, &ids, &n) < 0)
		return 0;
	for (i = 0; i < n; i++) {
		size_t len = 0;
		char *val = NULL;
		int rc;

		if ((size_t)snprintf(apath, sizeof(apath), "%s/%s", adir, ids[i]) >= sizeof(apath))
			continue;
		if (xs_neg_check_id(ids[i]) < 0) {
			/* No client can name it: an older listener's leftover. */
			if (xsp_store_rm(st, XSP_TXN_NONE, apath) == 0)
				gone++;
			continue;
		}
		snprintf(rpath, sizeof(rpath), XSOCK_REQ_PATH_FMT, dom, self, ids[i]);
		rc = xsp_store_read(st, XSP_TXN_NONE, rpath, &val, NULL);
		free(val);
		val = NULL;
		if (rc != -ENOENT && rc != -EACCES)
			continue;	/* the client still waits (or the store failed) */
		if (xsp_store_read(st, XSP_TXN_NONE, apath, &val, &len) == 0) {
			xs_log(XS_LOG_INFO, "removing stale answer %s (its request is gone)", apath);
			xs_node_rm_if_unchanged(st, apath, val);
			gone++;
		}
		free(val);
	}
	free(ids);
	return gone;
}

int xs_sweep_answers(struct xsp_store *st, xsp_domid_t self, unsigned int *removed)
{
	char dir[96], adir[128];
	char **peers = NULL;
	unsigned int np = 0, i, gone = 0;
	int rc;

	if (removed)
		*removed = 0;
	snprintf(dir, sizeof(dir), XSOCK_STORE_BASE_FMT "/" XSOCK_NODE_CONN, self);
	rc = xsp_store_list(st, XSP_TXN_NONE, dir, &peers, &np);
	if (rc < 0)
		return rc == -ENOENT ? 0 : rc;
	for (i = 0; i < np; i++) {
		xsp_domid_t dom;

		if (xs_registry_parse_domid(peers[i], strlen(peers[i]), &dom) < 0)
			continue;
		snprintf(adir, sizeof(adir), XSOCK_CONN_PEER_FMT, self, dom);
		gone += sweep_answers_of(st, self, dom, adir);
	}
	free(peers);
	if (removed)
		*removed = gone;
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

int xs_ctx_sweep_answers(struct xs_ctx *ctx, unsigned int *removed)
{
	return sweep_with_store(ctx, xs_sweep_answers, removed);
}
