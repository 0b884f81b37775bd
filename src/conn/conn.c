/* SPDX-License-Identifier: MIT */
/*
 * Ring negotiation through the store, and established connections.
 * The layout and state machine are described in conn.h and
 * docs/protocol.md.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/compiler.h"
#include "common/env.h"
#include "common/log.h"
#include "conn/conn.h"
#include "conn/negotiate.h"
#include "conn/route.h"
#include "conn/status.h"

#define BASE_FMT "/local/domain/%u/data/xsock"
#define XS_LIFE_OFFSET 0	/* the client's life byte in its life page */

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
	ctx->fallback = xs_env_on("XSOCK_FALLBACK");
	fault = xs_env_str("XSOCK_FAULT");
	if (fault && strcmp(fault, "die-before-attach") == 0)
		ctx->fault_die_before_attach = true;
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

int xs_ctx_peers(struct xs_ctx *ctx, struct xs_peer **peers, unsigned int *n)
{
	struct xsp_store *st;
	int rc;

	*peers = NULL;
	*n = 0;
	rc = xsp_store_open(ctx->plat, &st);
	if (rc < 0)
		return rc;
	rc = xs_registry_list(st, ctx->self, peers, n);
	xsp_store_close(st);
	return rc;
}

/* ---- small helpers ---------------------------------------------------- */

static uint16_t sa_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

static void sa_set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static int sa_to_text(const struct sockaddr *sa, char *buf, size_t len)
{
	const void *a = sa->sa_family == AF_INET ?
		(const void *)&((const struct sockaddr_in *)sa)->sin_addr :
		(const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;

	return inet_ntop(sa->sa_family, a, buf, (socklen_t)len) ? 0 : -EINVAL;
}

/*
 * Make sure @dir exists with permissions "owner self, nobody else, @peer
 * may read". Children created later inherit them.
 */
static int ensure_dir_for(struct xsp_store *st, xsp_domid_t self, const char *dir,
			  xsp_domid_t peer)
{
	struct xsp_perm perms[2] = {
		{ .dom = self, .perm = XSP_PERM_NONE },
		{ .dom = peer, .perm = XSP_PERM_READ },
	};
	struct xsp_perm *cur = NULL;
	unsigned int ncur = 0;
	int rc;

	rc = xsp_store_get_perms(st, XSP_TXN_NONE, dir, &cur, &ncur);
	if (rc == 0) {
		bool ok = ncur == 2 && cur[0].dom == self && cur[0].perm == XSP_PERM_NONE &&
			  cur[1].dom == peer && cur[1].perm == XSP_PERM_READ;

		free(cur);
		if (ok)
			return 0;
	} else if (rc != -ENOENT) {
		return rc;
	} else {
		rc = xsp_store_write(st, XSP_TXN_NONE, dir, "", 0);
		if (rc < 0)
			return rc;
	}
	return xsp_store_set_perms(st, XSP_TXN_NONE, dir, perms, 2);
}

static void random_id(char *buf, size_t len)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
		v = ((uint64_t)getpid() << 32) ^ (uint64_t)xs_now_ms() ^ (uint64_t)(uintptr_t)buf;
	snprintf(buf, len, "%016" PRIx64, v);
}

/* ---- the established connection --------------------------------------- */

int xs_conn_kick(void *conn)
{
	struct xs_conn *c = conn;
	int rc = xsp_evtchn_notify(c->ev);

	/* A peer that is gone needs no wake-up; the ring reports EPIPE. */
	return rc == -EPIPE ? 0 : rc;
}

int xs_conn_event(struct xs_conn *c)
{
	int rc = xsp_evtchn_ack(c->ev);

	if (rc == -EPIPE) {
		xsr_peer_gone(&c->ring);
		return 1;
	}
	return rc;
}

static void conn_release(struct xs_conn *c, bool tell_peer)
{
	xs_status_detach(c);
	if (tell_peer && c->state == XS_CONN_CONNECTED)
		xsr_close(&c->ring);
	/* Unmapping fires the unmap notification (the peer's alive byte). */
	xsp_unmap(c->mp_data);
	xsp_unmap(c->mp_intf);
	xsp_unshare(c->sh_data);
	xsp_unshare(c->sh_intf);
	xsp_unmap(c->mp_life);
	xsp_unshare(c->sh_life);
	xsp_evtchn_close(c->ev);
	if (c->big)
		__atomic_fetch_sub(&c->ctx->big_rings, 1, __ATOMIC_RELAXED);
	c->state = XS_CONN_CLOSED;
	free(c);
}

void xs_conn_close(struct xs_conn *c)
{
	if (c)
		conn_release(c, true);
}

void xs_conn_abandon(struct xs_conn *c)
{
	if (c)
		conn_release(c, false);
}

/* ---- reuse --------------------------------------------------------------------- */

void xs_conn_park_begin(struct xs_conn *c)
{
	xs_status_detach(c);
	if (c->state == XS_CONN_CONNECTED)
		xsr_close(&c->ring);
	/* Nobody of ours waits on it any more: no events for the data of a
	 * use that is over (the peer's close, its unmap still signal). */
	xsr_set_wait(&c->ring, 0);
	c->state = XS_CONN_PARKING;
	c->idle_since_ms = xs_now_ms();
}

int xs_conn_park_step(struct xs_conn *c)
{
	int rc;

	if (c->state == XS_CONN_IDLE)
		return xsr_alive(&c->ring) ? 1 : -ECONNRESET;
	if (c->state != XS_CONN_PARKING)
		return -EINVAL;
	rc = xsr_park(&c->ring, c->use);
	if (rc == 1) {
		c->state = XS_CONN_IDLE;
		c->idle_since_ms = xs_now_ms();
		xs_log(XS_LOG_DEBUG, "ring %s to dom%u parked after use %u", c->id, c->peer,
		       c->use);
	}
	return rc;
}

int xs_conn_reopen(struct xs_conn *c, uint16_t sport)
{
	int rc;

	if (c->side != XSR_SIDE_B || c->state != XS_CONN_IDLE)
		return -EINVAL;
	rc = xsr_reopen(&c->ring, c->use + 1, sport);
	if (rc < 0)
		return rc;
	c->use++;
	c->lport = sport;
	/* The same route as the ring's first use, from the new port. */
	sa_set_port(&c->laddr, sport);
	c->state = XS_CONN_CONNECTED;
	return 0;
}

int xs_conn_reaccept(struct xs_conn *c)
{
	uint16_t sport = 0;
	int rc;

	if (c->side != XSR_SIDE_A || c->state != XS_CONN_IDLE)
		return -EINVAL;
	rc = xsr_peer_opened(&c->ring, c->use + 1, &sport);
	if (rc <= 0)
		return rc;
	rc = xsr_reaccept(&c->ring);
	if (rc < 0)
		return rc;
	c->use++;
	c->pport = sport;
	sa_set_port(&c->paddr, sport);
	c->state = XS_CONN_CONNECTED;
	return 1;
}

/* ---- client ---------------------------------------------------------------- */

static int sweep_requests(struct xsp_store *st, xsp_domid_t self, unsigned int *removed);
static int swept_requests;	/* atomic: this process swept its domain's requests */

/* Map what the server offered (it has bound our channel); attach side B. */
static int client_attach(struct xs_conn *c, const struct xs_neg_answer *a)
{
	struct xsp *p = c->ctx->plat;
	struct xsp_unmap_notify notify;
	uint32_t refs[1u << XSOCK_RING_MAX_ORDER];
	xsp_gref_t ref = (xsp_gref_t)a->ref;
	unsigned int order;
	int rc;

	notify.offset = XSOCK_B_ALIVE_OFFSET;
	notify.ev = c->ev;
	rc = xsp_map(p, c->peer, 1, &ref, &notify, &c->mp_intf);
	if (rc < 0)
		return rc;
	/* ring_order and the refs are read once and validated here. */
	rc = xsr_read_layout(xsp_map_addr(c->mp_intf), XSOCK_RING_MAX_ORDER, &order, refs);
	if (rc < 0)
		return rc;
	if (order != a->order)
		return -EPROTO;
	rc = xsp_map(p, c->peer, 1u << order, refs, NULL, &c->mp_data);
	if (rc < 0)
		return rc;
	c->order = order;
	return xsr_attach(&c->ring, XSR_SIDE_B, xsp_map_addr(c->mp_intf),
			  xsp_map_addr(c->mp_data), order, xs_conn_kick, c);
}

/*
 * Read the answer node once. 1 and *a filled: a final answer (offer or
 * refusal); 0: none yet, or "state=wait" (then *acked is set); <0 error.
 */
static int read_answer(struct xsp_store *st, const char *apath, struct xs_neg_answer *a,
		       bool *acked)
{
	size_t len = 0;
	char *val;
	int rc = xsp_store_read(st, XSP_TXN_NONE, apath, &val, &len);

	if (rc == -ENOENT || rc == -EACCES)
		return 0;
	if (rc < 0)
		return rc;
	rc = xs_neg_parse_answer(val, len, a);
	free(val);
	if (rc < 0)
		return rc;
	if (a->state == XS_NEG_WAIT) {
		*acked = true;
		return 0;
	}
	return 1;
}

/*
 * Wait for the answer to our request @rpath. A live listener's event
 * thread answers (or acknowledges with "state=wait") within a few
 * milliseconds of the request appearing. If nothing at all comes within
 * ctx->ack_timeout_ms, the advertisement is taken to be a dead process's
 * leftover: withdraw the request and report -EHOSTDOWN (we cannot look
 * at the server's pids from another domain). After an acknowledgement,
 * wait up to ctx->connect_timeout_ms in all, then -ETIMEDOUT.
 */
static int wait_answer(struct xs_conn *c, struct xsp_store *st, const char *apath,
		       const char *rpath, struct xs_neg_answer *a)
{
	int64_t start = xs_now_ms();
	int64_t deadline = start + c->ctx->connect_timeout_ms;
	int64_t ack_deadline = start + c->ctx->ack_timeout_ms;
	bool acked = ack_deadline >= deadline;	/* no separate bound then */
	int rc;

	for (;;) {
		struct pollfd pfd = { .fd = xsp_watch_fd(st), .events = POLLIN };
		char *path, *token;
		int64_t now, wait;

		/* Drain the watch queue, then look at the node itself. */
		while (xsp_watch_read(st, &path, &token) == 0)
			free(path);
		rc = read_answer(st, apath, a, &acked);
		if (rc != 0)
			return rc < 0 ? rc : 0;
		now = xs_now_ms();
		if (!acked && now >= ack_deadline) {
			/* Withdraw first, then look once more: an answer
			 * written in between is still good. */
			xsp_store_rm(st, XSP_TXN_NONE, rpath);
			rc = read_answer(st, apath, a, &acked);
			if (rc != 0)
				return rc < 0 ? rc : 0;
			if (!acked)
				return -EHOSTDOWN;
		}
		if (now >= deadline)
			return -ETIMEDOUT;
		wait = (acked ? deadline : ack_deadline) - now;
		rc = poll(&pfd, 1, (int)XS_MIN(wait, 1000));
		if (rc < 0 && errno != EINTR)
			return -errno;
	}
}

int xs_conn_connect(struct xs_ctx *ctx, xsp_domid_t peer, const struct sockaddr *dst,
		    socklen_t dstlen, uint16_t sport, struct xs_conn **out)
{
	char lpath[128], rdir[128], rpath[160], apath[160], req[192], daddr[INET6_ADDRSTRLEN];
	uint16_t port = sa_port(dst);
	struct xsp_store *st;
	struct xs_conn *c;
	struct xs_neg_answer a;
	struct xsp_unmap_notify life;
	char *val;
	int rc;

	*out = NULL;
	if (peer == ctx->self || peer >= XSP_DOMID_SELF)
		return -EINVAL;
	rc = sa_to_text(dst, daddr, sizeof(daddr));
	if (rc < 0)
		return rc;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->ctx = ctx;
	c->peer = peer;
	c->side = XSR_SIDE_B;
	c->pport = port;
	c->lport = sport;
	memcpy(&c->paddr, dst, XS_MIN((size_t)dstlen, sizeof(c->paddr)));
	c->paddr_len = dstlen;
	random_id(c->id, sizeof(c->id));

	rc = xsp_store_open(ctx->plat, &st);
	if (rc < 0)
		goto free_conn;

	/* Is anything listening there that we may talk to? */
	snprintf(lpath, sizeof(lpath), BASE_FMT "/listen/%u", peer, port);
	rc = xsp_store_read(st, XSP_TXN_NONE, lpath, &val, NULL);
	if (rc < 0) {
		rc = (rc == -ENOENT || rc == -EACCES) ? -ENOENT : rc;
		goto close_store;
	}
	free(val);

	/*
	 * The ring's event channel is ours to allocate: the server binds it
	 * when it accepts, and finds it gone (or hanging up, on the local
	 * backend) if we die while waiting, instead of waiting for us.
	 */
	rc = xsp_evtchn_alloc(ctx->plat, peer, &c->ev);
	if (rc < 0)
		goto close_store;
	/*
	 * On Xen a channel the server has bound says nothing when we die, so
	 * until we attach we also share a life page: its unmap notification
	 * clears the byte and signals the channel when we go, even by
	 * SIGKILL (docs/protocol.md, section 2, step 5).
	 */
	life.offset = XS_LIFE_OFFSET;
	life.ev = c->ev;
	rc = xsp_share(ctx->plat, peer, 1, &life, &c->sh_life);
	if (rc < 0)
		goto close_store;
	__atomic_store_n((uint8_t *)xsp_share_addr(c->sh_life) + XS_LIFE_OFFSET, 1,
			 __ATOMIC_RELAXED);	/* published by the store write below */
	snprintf(rdir, sizeof(rdir), BASE_FMT "/req/%u", ctx->self, peer);
	rc = ensure_dir_for(st, ctx->self, rdir, peer);
	if (rc < 0)
		goto close_store;
	snprintf(apath, sizeof(apath), BASE_FMT "/conn/%u/%s", peer, ctx->self, c->id);
	rc = xsp_watch_add(st, apath, "answer");
	if (rc < 0)
		goto close_store;
	snprintf(rpath, sizeof(rpath), "%s/%s", rdir, c->id);
	/* A process's first connect removes what killed clients left. */
	if (__atomic_exchange_n(&swept_requests, 1, __ATOMIC_RELAXED) == 0)
		sweep_requests(st, ctx->self, NULL);
	/* pid= is for this domain's sweep only (pids are per kernel). */
	snprintf(req, sizeof(req), "port=%u sport=%u daddr=%s evtchn=%u life=%u pid=%d", port,
		 sport, daddr, xsp_evtchn_port(c->ev), xsp_share_refs(c->sh_life)[0],
		 (int)getpid());
	rc = xsp_store_write(st, XSP_TXN_NONE, rpath, req, strlen(req));
	if (rc < 0)
		goto unwatch;

	rc = wait_answer(c, st, apath, rpath, &a);
	if (rc == -EHOSTDOWN) {
		/* A dead listener's advertisement: as if nothing listened. */
		xs_log(XS_LOG_INFO, "dom%u port %u: no acknowledgement within %d ms, "
		       "listener presumed gone", peer, port, ctx->ack_timeout_ms);
		rc = -ENOENT;
	}
	if (rc == 0 && a.state == XS_NEG_REFUSED) {
		/* A server out of grants, channels or memory says so; whether
		 * TCP may do instead is xs_route_after_failure()'s call. */
		rc = (a.err == ENOSPC || a.err == ENOMEM || a.err == EMFILE) ? -XS_EPEER_SHORT :
									      -a.err;
		xs_log(XS_LOG_INFO, "dom%u port %u refused the ring: %s", peer, port,
		       strerror(a.err));
	}
	if (rc == 0 && ctx->fault_die_before_attach) {
		xs_log(XS_LOG_WARN, "XSOCK_FAULT=die-before-attach: offer %s read, dying", c->id);
		raise(SIGKILL);
	}
	if (rc == 0) {
		rc = client_attach(c, &a);
		c->reuse = a.reuse && ctx->reuse_max > 0;
	}
	if (rc == 0) {
		/* The first event tells the server we are attached. */
		rc = xsp_evtchn_notify(c->ev);
	}
	/* Attached (the server looks at b_attached before the life byte) or
	 * failed: the life page has done its work. */
	xsp_unshare(c->sh_life);
	c->sh_life = NULL;
	/* Our request has served its purpose either way. */
	xsp_store_rm(st, XSP_TXN_NONE, rpath);
unwatch:
	xsp_watch_rm(st, apath, "answer");
close_store:
	xsp_store_close(st);
	if (rc < 0) {
		xs_log(XS_LOG_INFO, "ring connect to dom%u port %u: %s", peer, port,
		       strerror(-rc));
		goto free_conn;
	}
	c->state = XS_CONN_CONNECTED;
	xs_log(XS_LOG_DEBUG, "ring %s to dom%u port %u connected (evtchn %u)", c->id, peer, port,
	       xsp_evtchn_port(c->ev));
	*out = c;
	return 0;

free_conn:
	xsp_unmap(c->mp_data);
	xsp_unmap(c->mp_intf);
	xsp_unshare(c->sh_life);
	xsp_evtchn_close(c->ev);
	free(c);
	return rc;
}

/* ---- listener ----------------------------------------------------------------- */

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
	snprintf(path, sizeof(path), BASE_FMT "/listen/%u", ctx->self, l->port);
	snprintf(val, sizeof(val), "pid=%d id=%s", (int)getpid(), l->id);
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
			snprintf(path, sizeof(path), BASE_FMT "/req/%u", l->watched[i], ctx->self);
			xsp_watch_rm(l->st, path, "req");
		}
	}
	for (j = 0; j < nw; j++) {
		for (i = 0; i < l->nwatched; i++)
			if (watched[j] == l->watched[i])
				break;
		if (i == l->nwatched) {
			snprintf(path, sizeof(path), BASE_FMT "/req/%u", watched[j], ctx->self);
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

/*
 * Remove @path if its value still is @val (a transaction, so that a
 * listener advertising the port at the same moment is never removed).
 */
static void rm_if_unchanged(struct xsp_store *st, const char *path, const char *val)
{
	int tries;

	for (tries = 0; tries < 16; tries++) {
		char *cur = NULL;
		xsp_txn_t t;
		int rc = xsp_txn_start(st, &t);

		if (rc < 0)
			return;
		rc = xsp_store_read(st, t, path, &cur, NULL);
		if (rc == 0 && strcmp(cur, val) == 0)
			xsp_store_rm(st, t, path);
		free(cur);
		rc = xsp_txn_end(st, t, false);
		if (rc != -EAGAIN)
			return;
	}
}

/*
 * Same-domain cleanup of SIGKILLed listeners: their listen/<port> nodes
 * name a pid that no longer exists. (Clients in other domains cannot see
 * our pids; they rely on the acknowledgement bound instead, see
 * wait_answer().) A pid that was reused keeps its node until the next
 * sweep after that process is gone too; clients are safe meanwhile.
 */
/* Remove B(self)/bell/<port> if no doorbell is left in it. */
static void rm_bell_dir(struct xsp_store *st, xsp_domid_t self, uint16_t port)
{
	char dir[96];
	char **names = NULL;
	unsigned int n = 0;

	snprintf(dir, sizeof(dir), BASE_FMT "/bell/%u", self, port);
	if (xsp_store_list(st, XSP_TXN_NONE, dir, &names, &n) == 0 && n == 0)
		xsp_store_rm(st, XSP_TXN_NONE, dir);
	free(names);
}

static int sweep_listen(struct xsp_store *st, xsp_domid_t self, unsigned int *removed)
{
	char dir[96], path[160];
	char **names = NULL;
	unsigned int n = 0, i, gone = 0;
	int rc;

	snprintf(dir, sizeof(dir), BASE_FMT "/listen", self);
	rc = xsp_store_list(st, XSP_TXN_NONE, dir, &names, &n);
	if (rc < 0)
		return rc == -ENOENT ? 0 : rc;
	for (i = 0; i < n; i++) {
		struct xs_neg_listen adv;
		size_t len = 0;
		char *val;

		if (strlen(names[i]) > 5)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (xsp_store_read(st, XSP_TXN_NONE, path, &val, &len) < 0)
			continue;
		if (xs_neg_parse_listen(val, len, &adv) == 0 && adv.pid != getpid() &&
		    kill(adv.pid, 0) < 0 && errno == ESRCH) {
			xs_log(XS_LOG_INFO, "removing stale advertisement %s (pid %d is gone)",
			       path, (int)adv.pid);
			rm_if_unchanged(st, path, val);
			rm_bell_dir(st, self, (uint16_t)atoi(names[i]));
			gone++;
		}
		free(val);
	}
	free(names);
	if (removed)
		*removed = gone;
	return 0;
}

/*
 * Remove this domain's requests (req/<S>/<id>) whose pid is dead: a client
 * killed while its connect() waited leaves its request behind (the server
 * may not remove it: the node is ours). Best effort.
 */
static int sweep_requests(struct xsp_store *st, xsp_domid_t self, unsigned int *removed)
{
	char dir[96], sdir[128], path[160];
	char **peers = NULL, **ids;
	unsigned int np = 0, ni, i, j, gone = 0;
	int rc;

	snprintf(dir, sizeof(dir), BASE_FMT "/req", self);
	rc = xsp_store_list(st, XSP_TXN_NONE, dir, &peers, &np);
	if (rc < 0)
		return rc == -ENOENT ? 0 : rc;
	for (i = 0; i < np; i++) {
		snprintf(sdir, sizeof(sdir), "%s/%s", dir, peers[i]);
		ids = NULL;
		ni = 0;
		if (xsp_store_list(st, XSP_TXN_NONE, sdir, &ids, &ni) < 0)
			continue;
		for (j = 0; j < ni; j++) {
			unsigned long pid;
			size_t len = 0;
			char *val;

			snprintf(path, sizeof(path), "%s/%s", sdir, ids[j]);
			if (xsp_store_read(st, XSP_TXN_NONE, path, &val, &len) < 0)
				continue;
			if (xs_kv_get_uint(val, len, "pid", INT32_MAX, &pid) == 0 && pid > 0 &&
			    (pid_t)pid != getpid() && kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
				xs_log(XS_LOG_INFO, "removing stale request %s (pid %lu is gone)",
				       path, pid);
				rm_if_unchanged(st, path, val);
				gone++;
			}
			free(val);
		}
		free(ids);
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
	return sweep_with_store(ctx, sweep_requests, removed);
}

int xs_ctx_sweep_listeners(struct xs_ctx *ctx, unsigned int *removed)
{
	return sweep_with_store(ctx, sweep_listen, removed);
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
	l->ctx = ctx;
	l->port = port;
	random_id(l->id, sizeof(l->id));
	memcpy(&l->addr, addr, XS_MIN((size_t)addrlen, sizeof(l->addr)));
	l->addrlen = addrlen;
	rc = xsp_store_open(ctx->plat, &l->st);
	if (rc < 0)
		goto free_listener;
	/* Best effort: a failed sweep must not stop us from listening. */
	sweep_listen(l->st, ctx->self, NULL);
	snprintf(path, sizeof(path), BASE_FMT "/peers", ctx->self);
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

/* Remove the answer node @id of @dom (the negotiation is over). */
static void rm_answer(struct xsp_store *st, xsp_domid_t self, xsp_domid_t dom, const char *id)
{
	char path[160];

	snprintf(path, sizeof(path), BASE_FMT "/conn/%u/%s", self, dom, id);
	xsp_store_rm(st, XSP_TXN_NONE, path);
}

/*
 * Remove our advertisement -- only if it is still ours: the same program
 * may already listen on the port again (iperf3 does between tests), and
 * a close that is finished late must not take the new one away.
 */
static void listener_unadvertise(struct xs_listener *l, const char *path)
{
	int tries;

	for (tries = 0; tries < 16; tries++) {
		struct xs_neg_listen adv;
		char *val = NULL;
		size_t len = 0;
		xsp_txn_t t;
		int rc = xsp_txn_start(l->st, &t);

		if (rc < 0)
			return;
		rc = xsp_store_read(l->st, t, path, &val, &len);
		if (rc == 0 && xs_neg_parse_listen(val, len, &adv) == 0 &&
		    strcmp(adv.id, l->id) == 0)
			xsp_store_rm(l->st, t, path);
		free(val);
		rc = xsp_txn_end(l->st, t, false);
		if (rc != -EAGAIN)
			return;
	}
}

void xs_listener_close(struct xs_listener *l)
{
	struct xs_request *rq, *next;
	char path[128];
	unsigned int i;

	if (!l)
		return;
	snprintf(path, sizeof(path), BASE_FMT "/listen/%u", l->ctx->self, l->port);
	listener_unadvertise(l, path);
	/* Requests nobody rang for: the port is closed, as TCP would say. */
	for (rq = l->pending; rq; rq = next) {
		next = rq->next;
		xs_listener_refuse(l, rq, ECONNREFUSED);
		free(rq);
	}
	rm_bell_dir(l->st, l->ctx->self, l->port);
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
 * Publish an answer unless another one exists already. An existing
 * acknowledgement ("state=wait id=<listener id>", written by a listener of
 * this domain: only we may write here) may be replaced: by any offer or
 * refusal (@ack_id NULL: the acceptor answering what a listener
 * acknowledged), or by an acknowledgement of the same listener (@ack_id).
 * When several processes of ours listen on the port (SO_REUSEPORT), each
 * sees every request and the first to answer or acknowledge wins; the
 * others get -EALREADY.
 */
static int publish_answer(struct xsp_store *st, const char *apath, const char *val,
			  const char *ack_id)
{
	int tries;

	for (tries = 0; tries < 16; tries++) {
		xsp_txn_t t;
		char *old;
		size_t len = 0;
		int rc = xsp_txn_start(st, &t);

		if (rc < 0)
			return rc;
		rc = xsp_store_read(st, t, apath, &old, &len);
		if (rc == 0) {
			struct xs_neg_answer prev;
			bool replace = xs_neg_parse_answer(old, len, &prev) == 0 &&
				       prev.state == XS_NEG_WAIT &&
				       (!ack_id || strcmp(prev.id, ack_id) == 0);

			free(old);
			if (!replace) {
				xsp_txn_end(st, t, true);
				return -EALREADY;
			}
		}
		rc = xsp_store_write(st, t, apath, val, strlen(val));
		if (rc < 0) {
			xsp_txn_end(st, t, true);
			return rc;
		}
		rc = xsp_txn_end(st, t, false);
		if (rc != -EAGAIN)
			return rc;
	}
	return -EAGAIN;
}

static int refuse(struct xsp_store *st, xsp_domid_t self, xsp_domid_t dom, const char *id, int err)
{
	char apath[160], val[48];

	snprintf(apath, sizeof(apath), BASE_FMT "/conn/%u/%s", self, dom, id);
	snprintf(val, sizeof(val), "state=refused err=%d", err);
	return publish_answer(st, apath, val, NULL);
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

	snprintf(adir, sizeof(adir), BASE_FMT "/conn/%u", l->ctx->self, dom);
	rc = ensure_dir_for(l->st, l->ctx->self, adir, dom);
	if (rc < 0)
		return rc;
	snprintf(apath, sizeof(apath), "%s/%s", adir, id);
	snprintf(val, sizeof(val), "state=wait id=%s", l->id);
	return publish_answer(l->st, apath, val, l->id);
}

int xs_listener_refuse(struct xs_listener *l, const struct xs_request *rq, int err)
{
	return refuse(l->st, l->ctx->self, rq->dom, rq->id, err);
}

/* What a failure to serve a request tells the client: resource exhaustion
 * is passed on (the client falls back to TCP if allowed). */
static int refusal_errno(int rc)
{
	if (rc == -ENOSPC || rc == -ENOMEM || rc == -EMFILE)
		return -rc;
	return rc == -EPROTO ? EPROTO : ECONNREFUSED;
}

static void process_requests_of(struct xs_listener *l, xsp_domid_t dom)
{
	struct xs_ctx *ctx = l->ctx;
	char dir[128], path[192], key[48];
	char **names = NULL;
	unsigned int n = 0, i;
	int rc;

	snprintf(dir, sizeof(dir), BASE_FMT "/req/%u", dom, ctx->self);
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
		rc = xs_kv_get_uint(val, len, "port", 65535, &port);
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
			refuse(l->st, ctx->self, dom, names[i], EPROTO);
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
			refuse(l->st, ctx->self, dom, names[i], ENOMEM);
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

static void bell_path(char *buf, size_t len, xsp_domid_t self, uint16_t port, uint16_t bell)
{
	snprintf(buf, len, BASE_FMT "/bell/%u/%u", self, port, bell);
}

int xs_listener_bell(struct xs_listener *l, const struct xs_request *rq, uint16_t bell)
{
	char path[128], val[64];

	/* B(S) is readable by S alone, and so is everything created below it. */
	bell_path(path, sizeof(path), l->ctx->self, l->port, bell);
	snprintf(val, sizeof(val), "dom=%u id=%s", rq->dom, rq->id);
	return xsp_store_write(l->st, XSP_TXN_NONE, path, val, strlen(val));
}

/*
 * Take the doorbell record at @path away: 1 (and its value in *val if
 * @val is not NULL) if we removed it, 0 if it was not there. The store's
 * transaction makes the claim exclusive between the acceptor and the
 * listener's expiry.
 */
static int bell_take(struct xsp_store *st, const char *path, char **val)
{
	int tries;

	if (val)
		*val = NULL;
	for (tries = 0; tries < 16; tries++) {
		char *v = NULL;
		xsp_txn_t t;
		int rc = xsp_txn_start(st, &t);

		if (rc < 0)
			return rc;
		rc = xsp_store_read(st, t, path, &v, NULL);
		if (rc == 0)
			rc = xsp_store_rm(st, t, path);
		if (rc < 0) {
			free(v);
			xsp_txn_end(st, t, true);
			return rc == -ENOENT ? 0 : rc;
		}
		rc = xsp_txn_end(st, t, false);
		if (rc == 0) {
			if (val)
				*val = v;
			else
				free(v);
			return 1;
		}
		free(v);
		if (rc != -EAGAIN)
			return rc;
	}
	return -EAGAIN;
}

/* Remove the answer to (dom, id) if it is an acknowledgement (any listener's). */
static void rm_wait_answer(struct xsp_store *st, xsp_domid_t self, unsigned long dom,
			   const char *id)
{
	char apath[160], *val = NULL;
	struct xs_neg_answer a;
	size_t len = 0;

	snprintf(apath, sizeof(apath), BASE_FMT "/conn/%lu/%s", self, dom, id);
	if (xsp_store_read(st, XSP_TXN_NONE, apath, &val, &len) == 0 &&
	    xs_neg_parse_answer(val, len, &a) == 0 && a.state == XS_NEG_WAIT)
		rm_if_unchanged(st, apath, val);
	free(val);
}

/* Remove our own acknowledgement of (dom, id), if it is still there. */
static void rm_own_ack(struct xsp_store *st, xsp_domid_t self, unsigned long dom, const char *id,
		       const char *listener_id)
{
	char apath[160], val[48];

	snprintf(apath, sizeof(apath), BASE_FMT "/conn/%lu/%s", self, dom, id);
	snprintf(val, sizeof(val), "state=wait id=%s", listener_id);
	rm_if_unchanged(st, apath, val);
}

int xs_listener_unbell(struct xs_listener *l, uint16_t bell)
{
	char path[128], id[XS_NEG_ID_LEN], *val = NULL;
	unsigned long dom;
	int rc;

	bell_path(path, sizeof(path), l->ctx->self, l->port, bell);
	rc = bell_take(l->st, path, &val);
	/* Withdrawn unclaimed: our acknowledgement must not outlive it. */
	if (rc == 1 && val &&
	    xs_kv_get_uint(val, strlen(val), "dom", XSP_DOMID_SELF - 1, &dom) == 0 &&
	    xs_kv_get_id(val, strlen(val), "id", id) == 0)
		rm_own_ack(l->st, l->ctx->self, dom, id, l->id);
	free(val);
	return rc;
}

/* ---- acceptor ---------------------------------------------------------------- */

int xs_acceptor_open(struct xs_ctx *ctx, const struct sockaddr *addr, socklen_t addrlen,
		     uint16_t port, struct xs_acceptor **out)
{
	struct xs_acceptor *a;
	int rc;

	*out = NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->ctx = ctx;
	a->port = port;
	memcpy(&a->addr, addr, XS_MIN((size_t)addrlen, sizeof(a->addr)));
	a->addrlen = addrlen;
	rc = xsp_store_open(ctx->plat, &a->st);
	if (rc < 0) {
		free(a);
		return rc;
	}
	/* Best effort: a miss is looked up again when a request needs it. */
	xs_registry_list(a->st, ctx->self, &a->peers, &a->npeers);
	pthread_mutex_init(&a->lock, NULL);
	*out = a;
	return 0;
}

void xs_acceptor_close(struct xs_acceptor *a)
{
	if (!a)
		return;
	xsp_store_close(a->st);
	pthread_mutex_destroy(&a->lock);
	free(a->peers);
	free(a);
}

/* The registered address of @dom in @family, refreshing the snapshot once
 * if it does not know @dom (the registry may have grown since). */
static int acceptor_peer_addr(struct xs_acceptor *a, xsp_domid_t dom, int family,
			      struct sockaddr_storage *ss, socklen_t *len)
{
	struct xs_peer *peers = NULL;
	unsigned int n = 0;
	int rc;

	rc = xs_registry_addr_of(a->peers, a->npeers, dom, family, ss, len);
	if (rc != -ENOENT)
		return rc;
	rc = xs_registry_list(a->st, a->ctx->self, &peers, &n);
	if (rc < 0)
		return rc;
	free(a->peers);
	a->peers = peers;
	a->npeers = n;
	return xs_registry_addr_of(a->peers, a->npeers, dom, family, ss, len);
}

/*
 * While the offer waits: false once the client's life byte is 0 (its life
 * page unshared: the client attached, gave up or died). Clients without
 * a life page count as alive.
 */
static bool client_lives(struct xs_conn *c)
{
	if (!c->mp_life)
		return true;
	/* Acquire: pairs with the client's b_attached store, made before it
	 * unshared the page (a system call); b_attached is read after this. */
	return __atomic_load_n((const uint8_t *)xsp_map_addr(c->mp_life) + XS_LIFE_OFFSET,
			       __ATOMIC_ACQUIRE) != 0;
}

/* Build side A of a ring for @dom and publish the offer. */
static int offer(struct xs_acceptor *a, xsp_domid_t dom, const char *id,
		 const struct xs_neg_request *req, struct xs_conn **out)
{
	struct xs_ctx *ctx = a->ctx;
	struct xsp *p = ctx->plat;
	char adir[128], apath[160], val[128];
	struct xsp_unmap_notify notify;
	struct xs_conn *c;
	int rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->ctx = ctx;
	c->peer = dom;
	c->side = XSR_SIDE_A;
	/* A big ring while few are live, a small one beyond (conn.h). */
	c->order = ctx->small_order;
	if (__atomic_add_fetch(&ctx->big_rings, 1, __ATOMIC_RELAXED) <= ctx->big_rings_max) {
		c->order = ctx->ring_order;
		c->big = true;
	} else {
		__atomic_fetch_sub(&ctx->big_rings, 1, __ATOMIC_RELAXED);
	}
	c->lport = a->port;
	c->pport = req->sport;
	snprintf(c->id, sizeof(c->id), "%s", id);
	/* What accept() and getsockname() report. */
	if (xs_neg_text_to_sa(req->daddr, a->port, &c->laddr, &c->laddr_len) < 0) {
		memcpy(&c->laddr, &a->addr, sizeof(c->laddr));
		c->laddr_len = a->addrlen;
	}
	rc = acceptor_peer_addr(a, dom, c->laddr.ss_family, &c->paddr, &c->paddr_len);
	if (rc < 0)
		goto free_conn;
	sa_set_port(&c->paddr, c->pport);

	/*
	 * The client's channel first: it cannot be bound once the client is
	 * gone, which is how a client killed while it waited for accept() is
	 * told from a slow one (-ECONNRESET: nobody to refuse).
	 */
	rc = xsp_evtchn_bind(p, dom, (xsp_port_t)req->evtchn, &c->ev);
	if (rc < 0) {
		xs_log(XS_LOG_INFO, "ring %s from dom%u: client gone before accept() "
		       "(its channel %u: %s)", id, dom, req->evtchn, strerror(-rc));
		rc = -ECONNRESET;
		goto free_conn;
	}
	/*
	 * Its life page, when it sent one: mapped only while we wait for the
	 * attach. A page we cannot map or whose byte is already 0 is a client
	 * that left (or a broken one): dropped like a dead client's channel.
	 */
	if (req->has_life) {
		xsp_gref_t ref = (xsp_gref_t)req->life;

		rc = xsp_map(p, dom, 1, &ref, NULL, &c->mp_life);
		if (rc == 0 && !client_lives(c))
			rc = -ENOENT;
		if (rc < 0) {
			xs_log(XS_LOG_INFO, "ring %s from dom%u: client gone before accept() "
			       "(its life page %u: %s)", id, dom, req->life, strerror(-rc));
			rc = -ECONNRESET;
			goto free_conn;
		}
	}
	notify.offset = XSOCK_A_ALIVE_OFFSET;
	notify.ev = c->ev;
	rc = xsp_share(p, dom, 1, &notify, &c->sh_intf);
	if (rc < 0)
		goto free_conn;
	rc = xsp_share(p, dom, 1u << c->order, NULL, &c->sh_data);
	if ((rc == -ENOSPC || rc == -ENOMEM) && c->order > ctx->small_order) {
		/* Short of grants or memory for a big ring: try a small one. */
		__atomic_fetch_sub(&ctx->big_rings, 1, __ATOMIC_RELAXED);
		c->big = false;
		c->order = ctx->small_order;
		rc = xsp_share(p, dom, 1u << c->order, NULL, &c->sh_data);
	}
	if (rc < 0)
		goto free_conn;
	rc = xsr_format(xsp_share_addr(c->sh_intf), c->order, xsp_share_refs(c->sh_data));
	if (rc < 0)
		goto free_conn;
	rc = xsr_attach(&c->ring, XSR_SIDE_A, xsp_share_addr(c->sh_intf),
			xsp_share_addr(c->sh_data), c->order, xs_conn_kick, c);
	if (rc < 0)
		goto free_conn;

	snprintf(adir, sizeof(adir), BASE_FMT "/conn/%u", ctx->self, dom);
	rc = ensure_dir_for(a->st, ctx->self, adir, dom);
	if (rc < 0)
		goto free_conn;
	snprintf(apath, sizeof(apath), "%s/%s", adir, id);
	c->reuse = a->offer_reuse && ctx->reuse_max > 0;
	snprintf(val, sizeof(val), "state=offer ref=%u order=%u%s", xsp_share_refs(c->sh_intf)[0],
		 c->order, c->reuse ? " reuse=1" : "");
	rc = publish_answer(a->st, apath, val, NULL);	/* replaces the listener's ack */
	if (rc < 0)
		goto free_conn;
	c->state = XS_CONN_OFFERED;
	xs_log(XS_LOG_DEBUG, "offered ring %s to dom%u (evtchn %u)", id, dom, xsp_evtchn_port(c->ev));
	*out = c;
	return 0;

free_conn:
	xs_conn_abandon(c);
	return rc;
}

/*
 * The client attaches (setting b_attached in the interface page), then
 * signals the channel once; an event with b_attached set means connected
 * (an event without it is the one Xen leaves pending on the port we just
 * bound). The channel hanging up means connected if the client attached
 * (it already left, perhaps after sending data and closing, as a TCP
 * client may before accept()), else a client that died before attaching
 * (local backend; on Xen a dead client's channel says nothing once bound).
 * So the client's life byte going to 0 without b_attached is a client gone
 * too: its unmap notification clears the byte and signals the channel on
 * both platforms, also when it dies. The client removes its request once
 * it has signalled, or when it gives up: a request gone without an event
 * is a client gone (older clients without a life page).
 * Returns 0 connected, -ECONNABORTED, -ETIMEDOUT, or a channel error.
 */
static int offer_wait(struct xs_acceptor *a, struct xs_conn *c, const char *rpath)
{
	int64_t deadline = xs_now_ms() + a->ctx->accept_timeout_ms;
	int64_t gone_at = -1;

	for (;;) {
		struct pollfd pfd = { .fd = xsp_evtchn_fd(c->ev), .events = POLLIN };
		int64_t now, left;
		int rc = xsp_evtchn_ack(c->ev);

		/*
		 * An event counts only once B says it attached: on Xen the
		 * bind itself leaves one pending on our port.
		 */
		if (rc == -EPIPE) {
			if (!xsr_peer_attached(&c->ring))
				return -ECONNABORTED;
			xsr_peer_gone(&c->ring);
			return 0;
		}
		if (rc == 1 && xsr_peer_attached(&c->ring))
			return 0;
		if (rc < 0)
			return rc;
		/* The life byte last: b_attached is read after it (above). */
		if (!client_lives(c))
			return xsr_peer_attached(&c->ring) ? 0 : -ECONNABORTED;
		now = xs_now_ms();
		if (gone_at >= 0 && now - gone_at >= 100)
			return -ECONNABORTED;
		left = deadline - now;
		if (left <= 0)
			return -ETIMEDOUT;
		rc = poll(&pfd, 1, (int)XS_MIN(left, 50));
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc == 0 && gone_at < 0) {
			char *v = NULL;

			rc = xsp_store_read(a->st, XSP_TXN_NONE, rpath, &v, NULL);
			free(v);
			/* Give its event (sent before the removal) a moment. */
			if (rc == -ENOENT || rc == -EACCES)
				gone_at = xs_now_ms();
		}
	}
}

int xs_acceptor_claim(struct xs_acceptor *a, uint16_t bell, struct xs_conn **out)
{
	struct xs_ctx *ctx = a->ctx;
	char path[128], rpath[160], id[XS_NEG_ID_LEN], *val = NULL, *req = NULL;
	struct xs_neg_request nreq;
	size_t reqlen = 0;
	unsigned long dom;
	struct xs_conn *c = NULL;
	int rc;

	*out = NULL;
	bell_path(path, sizeof(path), ctx->self, a->port, bell);
	pthread_mutex_lock(&a->lock);
	/* Most connections from the doorbell address are not doorbells when
	 * there are any at all: look before starting a transaction. */
	rc = xsp_store_read(a->st, XSP_TXN_NONE, path, &val, NULL);
	free(val);
	val = NULL;
	if (rc < 0)
		goto unlock;
	rc = bell_take(a->st, path, &val);
	if (rc == 0) {
		/* Withdrawn by the listener meanwhile: it gave up on it. */
		rc = -ECONNABORTED;
		goto unlock;
	}
	if (rc < 0)
		goto unlock;
	if (xs_kv_get_uint(val, strlen(val), "dom", XSP_DOMID_SELF - 1, &dom) < 0 ||
	    xs_kv_get_id(val, strlen(val), "id", id) < 0) {
		xs_log(XS_LOG_WARN, "malformed doorbell record %s", path);
		rc = -ECONNABORTED;
		goto unlock;
	}
	snprintf(rpath, sizeof(rpath), BASE_FMT "/req/%u/%s", (unsigned int)dom, ctx->self, id);
	rc = xsp_store_read(a->st, XSP_TXN_NONE, rpath, &req, &reqlen);
	if (rc < 0) {
		xs_log(XS_LOG_INFO, "ring %s from dom%lu: client gone before accept()", id, dom);
		/* The listener's acknowledgement (another listener of ours on
		 * this port may have served the client meanwhile) goes too. */
		rm_wait_answer(a->st, ctx->self, dom, id);
		rc = -ECONNABORTED;
		goto unlock;
	}
	if (xs_neg_parse_request(req, reqlen, &nreq) < 0 || nreq.port != a->port) {
		refuse(a->st, ctx->self, (xsp_domid_t)dom, id, EPROTO);
		rc = -ECONNABORTED;
		goto unlock;
	}
	rc = offer(a, (xsp_domid_t)dom, id, &nreq, &c);
	if (rc == -EALREADY) {
		rc = -ECONNABORTED;	/* another listener of ours answered */
		goto unlock;
	}
	if (rc == -ECONNRESET) {
		rm_wait_answer(a->st, ctx->self, dom, id);
		rc = -ECONNABORTED;
		goto unlock;
	}
	if (rc < 0) {
		xs_log(XS_LOG_WARN, "offer to dom%lu: %s", dom, strerror(-rc));
		refuse(a->st, ctx->self, (xsp_domid_t)dom, id, refusal_errno(rc));
		rc = -ECONNABORTED;
		goto unlock;
	}
	rc = offer_wait(a, c, rpath);
	/* The negotiation is over either way. */
	xsp_unmap(c->mp_life);
	c->mp_life = NULL;
	rm_answer(a->st, ctx->self, c->peer, c->id);
	if (rc < 0) {
		xs_log(XS_LOG_INFO, "offer %s to dom%u dropped: %s", c->id, c->peer,
		       strerror(-rc));
		xs_conn_abandon(c);
		rc = -ECONNABORTED;
		goto unlock;
	}
	c->state = XS_CONN_CONNECTED;
	xs_log(XS_LOG_DEBUG, "ring %s from dom%u accepted (doorbell port %u)", c->id, c->peer,
	       bell);
	*out = c;
unlock:
	pthread_mutex_unlock(&a->lock);
	free(val);
	free(req);
	return rc;
}
