/* SPDX-License-Identifier: MIT */
/*
 * The listening half of a ring listener (conn.h, "Listener"), in the
 * process that called listen(): the advertisement of the port, the
 * watches on the registered domains' requests, the queue of requests
 * waiting for a doorbell, the acknowledgements and refusals, and the
 * doorbell records it writes and withdraws.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/compiler.h"
#include "common/log.h"
#include "conn/negotiate.h"
#include "conn/private.h"

int xs_listener_fd(const struct xs_listener *l)
{
	return xsp_watch_fd(l->st);
}

static int listener_advertise(struct xs_listener *l)
{
	struct xs_ctx *ctx = l->ctx;
	struct xsp_perm perms[65];
	unsigned int n = 0, i, j;
	char path[128], val[64];
	int rc;

	perms[n].dom = ctx->self;
	perms[n++].perm = XSP_PERM_NONE;
	for (i = 0; i < l->npeers && n < XS_ARRAY_SIZE(perms); i++) {
		for (j = 1; j < n; j++)
			if (perms[j].dom == l->peers[i].dom)
				break;
		if (j == n) {
			perms[n].dom = l->peers[i].dom;
			perms[n++].perm = XSP_PERM_READ;
		}
	}
	snprintf(path, sizeof(path), XSOCK_LISTEN_PATH_FMT, ctx->self, l->port);
	snprintf(val, sizeof(val), XSOCK_LISTEN_FMT, (int)getpid(), l->id);
	rc = xsp_store_write(l->st, XSP_TXN_NONE, path, val, strlen(val));
	if (rc < 0)
		return rc;
	return xsp_store_set_perms(l->st, XSP_TXN_NONE, path, perms, n);
}

/* Watch req/<self> of every registered domain, and our own registry. */
static int listener_refresh(struct xs_listener *l)
{
	struct xs_ctx *ctx = l->ctx;
	struct xs_peer *peers = NULL;
	xsp_domid_t *watched;
	unsigned int n = 0, i, j, nw = 0;
	char path[128];
	int rc;

	rc = xs_registry_list(l->st, ctx->self, &peers, &n);
	if (rc < 0)
		return rc;
	watched = calloc(n ? n : 1, sizeof(*watched));
	if (!watched) {
		free(peers);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < nw; j++)
			if (watched[j] == peers[i].dom)
				break;
		if (j < nw)
			continue;
		watched[nw++] = peers[i].dom;
	}
	/* Drop watches of domains no longer registered, add new ones. */
	for (i = 0; i < l->nwatched; i++) {
		for (j = 0; j < nw; j++)
			if (watched[j] == l->watched[i])
				break;
		if (j == nw) {
			snprintf(path, sizeof(path), XSOCK_REQ_PEER_FMT, l->watched[i], ctx->self);
			xsp_watch_rm(l->st, path, "req");
		}
	}
	for (j = 0; j < nw; j++) {
		for (i = 0; i < l->nwatched; i++)
			if (watched[j] == l->watched[i])
				break;
		if (i == l->nwatched) {
			snprintf(path, sizeof(path), XSOCK_REQ_PEER_FMT, watched[j], ctx->self);
			rc = xsp_watch_add(l->st, path, "req");
			if (rc < 0)
				xs_log(XS_LOG_WARN, "watch %s: %s", path, strerror(-rc));
		}
	}
	free(l->watched);
	l->watched = watched;
	l->nwatched = nw;
	free(l->peers);
	l->peers = peers;
	l->npeers = n;
	return listener_advertise(l);
}

int xs_listener_open(struct xs_ctx *ctx, const struct sockaddr *addr, socklen_t addrlen,
		     uint16_t port, struct xs_listener **out)
{
	struct xs_listener *l;
	char path[128];
	int rc;

	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	xs_random_id(l->id, sizeof(l->id));
	l->ctx = ctx;
	l->port = port;
	xs_sa_keep(&l->addr, &l->addrlen, addr, addrlen);
	rc = xsp_store_open(ctx->plat, &l->st);
	if (rc < 0)
		goto free_listener;
	/* Best effort: a failed sweep must not stop us from listening. */
	xs_sweep_listen(l->st, ctx->self, NULL);
	snprintf(path, sizeof(path), XSOCK_PEERS_FMT, ctx->self);
	rc = xsp_watch_add(l->st, path, "peers");
	if (rc < 0)
		goto close_store;
	rc = listener_refresh(l);
	if (rc < 0)
		goto close_store;
	*out = l;
	return 0;

close_store:
	xsp_store_close(l->st);
free_listener:
	free(l);
	return rc;
}

void xs_listener_close(struct xs_listener *l)
{
	struct xs_request *rq, *next;
	char path[128];
	unsigned int i;

	if (!l)
		return;
	/*
	 * Remove our advertisement -- only if it is still ours: the same
	 * program may already listen on the port again (iperf3 does between
	 * tests), and a close that is finished late must not take the new one
	 * away.
	 */
	snprintf(path, sizeof(path), XSOCK_LISTEN_PATH_FMT, l->ctx->self, l->port);
	xs_listen_rm_own(l->st, path, l->id);
	/* Requests nobody rang for: the port is closed, as TCP would say. */
	for (rq = l->pending; rq; rq = next) {
		next = rq->next;
		xs_listener_refuse(l, rq, ECONNREFUSED);
		free(rq);
	}
	xs_bell_rm_dir(l->st, l->ctx->self, l->port);
	xsp_store_close(l->st);
	for (i = 0; i < l->nseen; i++)
		free(l->seen[i]);
	free(l->seen);
	free(l->watched);
	free(l->peers);
	free(l);
}

static bool seen_has(struct xs_listener *l, const char *key)
{
	unsigned int i;

	for (i = 0; i < l->nseen; i++)
		if (strcmp(l->seen[i], key) == 0)
			return true;
	return false;
}

static void seen_add(struct xs_listener *l, const char *key)
{
	char *dup = strdup(key);

	if (!dup)
		return;
	if (l->nseen == l->seen_cap) {
		unsigned int cap = l->seen_cap ? l->seen_cap * 2 : 16;
		char **n = realloc(l->seen, cap * sizeof(*n));

		if (!n) {
			free(dup);
			return;
		}
		l->seen = n;
		l->seen_cap = cap;
	}
	l->seen[l->nseen++] = dup;
}

/* Forget ids whose request node is gone (keeps the list short). */
static void seen_prune(struct xs_listener *l, xsp_domid_t dom, char **names, unsigned int n)
{
	char prefix[16];
	size_t plen = (size_t)snprintf(prefix, sizeof(prefix), "%u/", dom);
	unsigned int i, j;

	for (i = 0; i < l->nseen;) {
		bool keep = strncmp(l->seen[i], prefix, plen) != 0;

		for (j = 0; !keep && j < n; j++)
			keep = strcmp(l->seen[i] + plen, names[j]) == 0;
		if (keep) {
			i++;
			continue;
		}
		free(l->seen[i]);
		l->seen[i] = l->seen[--l->nseen];
	}
}

/*
 * Acknowledge a request: tells the client that a live listener has it
 * while the offer waits for a process to accept() (docs/protocol.md,
 * "Liveness"). -EALREADY: another listener of ours has it.
 */
static int acknowledge(struct xs_listener *l, xsp_domid_t dom, const char *id)
{
	char adir[128], apath[160], val[48];
	int rc;

	snprintf(adir, sizeof(adir), XSOCK_CONN_PEER_FMT, l->ctx->self, dom);
	rc = xs_dir_ensure(l->st, l->ctx->self, adir, dom);
	if (rc < 0)
		return rc;
	snprintf(apath, sizeof(apath), "%s/%s", adir, id);
	snprintf(val, sizeof(val), XSOCK_ANSWER_WAIT_FMT, l->id);
	return xs_answer_publish(l->st, apath, val, l->id);
}

int xs_listener_refuse(struct xs_listener *l, const struct xs_request *rq, int err)
{
	return xs_answer_refuse(l->st, l->ctx->self, rq->dom, rq->id, err);
}

static void process_requests_of(struct xs_listener *l, xsp_domid_t dom)
{
	struct xs_ctx *ctx = l->ctx;
	char dir[128], path[192], key[48];
	char **names = NULL;
	unsigned int n = 0, i;
	int rc;

	snprintf(dir, sizeof(dir), XSOCK_REQ_PEER_FMT, dom, ctx->self);
	rc = xsp_store_list(l->st, XSP_TXN_NONE, dir, &names, &n);
	if (rc < 0)
		return;
	seen_prune(l, dom, names, n);
	for (i = 0; i < n; i++) {
		struct xs_request *rq, **pp;
		struct xs_neg_request req;
		unsigned long port;
		size_t len = 0;
		char *val;

		if (strlen(names[i]) > 20)
			continue;
		snprintf(key, sizeof(key), "%u/%s", dom, names[i]);
		if (seen_has(l, key))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		rc = xsp_store_read(l->st, XSP_TXN_NONE, path, &val, &len);
		if (rc < 0)
			continue;
		rc = xs_kv_get_uint(val, len, XSOCK_KEY_PORT, 65535, &port);
		if (rc == 0 && port != l->port) {
			free(val);	/* another listener's */
			continue;
		}
		seen_add(l, key);
		if (rc == 0)
			rc = xs_neg_parse_request(val, len, &req);
		free(val);
		if (rc < 0) {
			xs_log(XS_LOG_WARN, "malformed request %s", path);
			xs_answer_refuse(l->st, ctx->self, dom, names[i], EPROTO);
			continue;
		}
		/*
		 * The offer comes from whichever process accept()s the
		 * doorbell, maybe much later: acknowledge now, so that the
		 * client does not take a busy server for a dead one.
		 */
		rc = acknowledge(l, dom, names[i]);
		if (rc == -EALREADY)
			continue;	/* another listener of ours has it */
		if (rc < 0)
			xs_log(XS_LOG_WARN, "acknowledge dom%u: %s", dom, strerror(-rc));
		rq = calloc(1, sizeof(*rq));
		if (!rq) {
			xs_answer_refuse(l->st, ctx->self, dom, names[i], ENOMEM);
			continue;
		}
		rq->dom = dom;
		snprintf(rq->id, sizeof(rq->id), "%s", names[i]);
		/* Oldest first: accept() then hands out connections roughly in
		 * the order their clients arrived, as TCP's accept queue does. */
		for (pp = &l->pending; *pp; pp = &(*pp)->next)
			;
		*pp = rq;
	}
	free(names);
}

int xs_listener_process(struct xs_listener *l)
{
	bool peers_changed = false, reqs = false;
	char *path, *token;
	unsigned int i;

	while (xsp_watch_read(l->st, &path, &token) == 0) {
		if (strcmp(token, "peers") == 0)
			peers_changed = true;
		else
			reqs = true;
		free(path);
	}
	if (peers_changed) {
		int rc = listener_refresh(l);

		if (rc < 0)
			xs_log(XS_LOG_WARN, "registry refresh: %s", strerror(-rc));
		reqs = true;
	}
	if (reqs)
		for (i = 0; i < l->nwatched; i++)
			process_requests_of(l, l->watched[i]);
	return 0;
}

int xs_listener_take(struct xs_listener *l, struct xs_request **out)
{
	*out = l->pending;
	if (!*out)
		return 0;
	l->pending = (*out)->next;
	(*out)->next = NULL;
	return 1;
}

int xs_listener_bell(struct xs_listener *l, const struct xs_request *rq, uint16_t bell)
{
	char path[128], val[64];

	/* B(S) is readable by S alone, and so is everything created below it. */
	xs_bell_path(path, sizeof(path), l->ctx->self, l->port, bell);
	snprintf(val, sizeof(val), XSOCK_BELL_FMT, rq->dom, rq->id);
	return xsp_store_write(l->st, XSP_TXN_NONE, path, val, strlen(val));
}

int xs_listener_unbell(struct xs_listener *l, uint16_t bell)
{
	char path[128], id[XS_NEG_ID_LEN], *val = NULL;
	unsigned long dom;
	int rc;

	xs_bell_path(path, sizeof(path), l->ctx->self, l->port, bell);
	rc = xs_bell_take(l->st, path, &val);
	/* Withdrawn unclaimed: our acknowledgement must not outlive it. */
	if (rc == 1 && val &&
	    xs_kv_get_uint(val, strlen(val), XSOCK_KEY_DOM, XSP_DOMID_SELF - 1, &dom) == 0 &&
	    xs_kv_get_id(val, strlen(val), XSOCK_KEY_ID, id) == 0)
		xs_answer_rm_ack(l->st, l->ctx->self, (xsp_domid_t)dom, id, l->id);
	free(val);
	return rc;
}
