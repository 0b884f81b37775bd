/* SPDX-License-Identifier: MIT */
/*
 * The connecting side (side B): xs_conn_connect() asks the listening
 * domain for a ring through the store, waits for its answer (or for the
 * listener's sign of life), maps the offered ring and attaches to it.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/compiler.h"
#include "common/log.h"
#include "conn/negotiate.h"
#include "conn/private.h"
#include "conn/route.h"

/* The port of an AF_INET or AF_INET6 address (0 for others). */
static uint16_t sa_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

/* The host part of @sa as text. -EINVAL if it is not an IP address. */
static int sa_to_text(const struct sockaddr *sa, char *buf, size_t len)
{
	const void *a = sa->sa_family == AF_INET ?
		(const void *)&((const struct sockaddr_in *)sa)->sin_addr :
		(const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;

	return inet_ntop(sa->sa_family, a, buf, (socklen_t)len) ? 0 : -EINVAL;
}

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
/* How long a listener's advertisement may be missing before it is gone. */
#define ADVERT_GAP_MS 300

static bool advert_gone(struct xsp_store *st, const char *advpath)
{
	char *v = NULL;
	int rc = xsp_store_read(st, XSP_TXN_NONE, advpath, &v, NULL);

	free(v);
	return rc == -ENOENT || rc == -EACCES;
}

/*
 * The advertisement at @advpath is gone: is another one serving us there
 * now (a listener that replaced a dead one on the port)? Then watch that
 * one (its path into @advpath) and keep waiting: our request is still
 * there for it. False when none is left.
 */
static bool advert_replaced(struct xs_conn *c, struct xsp_store *st, char *advpath)
{
	char found[XS_ADV_PATH_MAX];

	if (xs_adv_find(st, c->peer, c->pport, c->ctx->self, (const struct sockaddr *)&c->paddr,
			c->paddr_len, found, sizeof(found)) < 0)
		return false;
	if (strcmp(found, advpath) != 0 && xsp_watch_add(st, found, "advert2") == 0)
		snprintf(advpath, XS_ADV_PATH_MAX, "%s", found);
	return true;
}

static int wait_answer(struct xs_conn *c, struct xsp_store *st, const char *apath,
		       const char *rpath, char *advpath, struct xs_neg_answer *a)
{
	int64_t start = xs_now_ms();
	int64_t deadline = start + c->ctx->connect_timeout_ms;
	int64_t ack_deadline = start + c->ctx->ack_timeout_ms;
	bool acked = ack_deadline >= deadline;	/* no separate bound then */
	int64_t gone_at = -1;			/* the advertisement missing since */
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
		/*
		 * The listener's advertisement went away: it closed, or its
		 * whole domain died (the toolstack removed its home; on Xen
		 * nothing else would tell us). As TCP resets a connection a
		 * closed listener had not accepted yet: refused.
		 */
		/*
		 * (A listener that re-advertises, or a new one replacing a
		 * dead one, leaves a short gap: only an absence that lasts
		 * ADVERT_GAP_MS counts.)
		 */
		if (!advert_gone(st, advpath) || advert_replaced(c, st, advpath))
			gone_at = -1;
		else if (gone_at < 0)
			gone_at = xs_now_ms();
		if (gone_at >= 0 && xs_now_ms() - gone_at >= ADVERT_GAP_MS) {
			rc = read_answer(st, apath, a, &acked);
			if (rc != 0)
				return rc < 0 ? rc : 0;
			return -EPIPE;	/* ours: connect() says ECONNREFUSED */
		}
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
		rc = poll(&pfd, 1, (int)XS_MIN(wait, gone_at >= 0 ? 20 : 1000));
		if (rc < 0 && errno != EINTR)
			return -errno;
	}
}

int xs_conn_connect(struct xs_ctx *ctx, xsp_domid_t peer, const struct sockaddr *dst,
		    socklen_t dstlen, uint16_t sport, struct xs_conn **out)
{
	int rc = xs_conn_connect_on(ctx, NULL, peer, dst, dstlen, sport, out);

	if (rc == 0)
		xsp_store_close(xs_conn_store_take(*out));
	return rc;
}

int xs_conn_connect_on(struct xs_ctx *ctx, struct xsp_store *st, xsp_domid_t peer,
		       const struct sockaddr *dst, socklen_t dstlen, uint16_t sport,
		       struct xs_conn **out)
{
	char rdir[128], rpath[160], apath[160], req[192], daddr[INET6_ADDRSTRLEN];
	char advpath[XS_ADV_PATH_MAX];
	uint16_t port = sa_port(dst);
	struct xs_conn *c;
	struct xs_neg_answer a;
	struct xsp_unmap_notify life;
	int rc;

	*out = NULL;
	if (peer == ctx->self || peer >= XSP_DOMID_SELF) {
		rc = -EINVAL;
		goto close_given;
	}
	rc = sa_to_text(dst, daddr, sizeof(daddr));
	if (rc < 0)
		goto close_given;
	c = xs_conn_alloc(ctx, peer, XSR_SIDE_B);
	if (!c) {
		rc = -ENOMEM;
		goto close_given;
	}
	c->pport = port;
	c->lport = sport;
	xs_sa_keep(&c->paddr, &c->paddr_len, dst, dstlen);
	xs_random_id(c->id, sizeof(c->id));

	if (!st) {
		rc = xsp_store_open(ctx->plat, &st);
		if (rc < 0)
			goto free_conn;
	}

	/* Is anything listening there that we may talk to, on that address? */
	rc = xs_adv_find(st, peer, port, ctx->self, dst, dstlen, advpath, sizeof(advpath));
	if (rc < 0)
		goto close_store;

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
	life.offset = XSOCK_LIFE_OFFSET;
	life.ev = c->ev;
	rc = xsp_share(ctx->plat, peer, 1, &life, &c->sh_life);
	if (rc < 0)
		goto close_store;
	/* Relaxed: published by the store write below. */
	__atomic_store_n((uint8_t *)xsp_share_addr(c->sh_life) + XSOCK_LIFE_OFFSET,
			 XSOCK_LIFE_ALIVE, __ATOMIC_RELAXED);
	snprintf(rdir, sizeof(rdir), XSOCK_REQ_PEER_FMT, ctx->self, peer);
	rc = xs_dir_ensure(st, ctx->self, rdir, peer);
	if (rc < 0)
		goto close_store;
	snprintf(apath, sizeof(apath), XSOCK_CONN_PATH_FMT, peer, ctx->self, c->id);
	rc = xsp_watch_add(st, apath, "answer");
	if (rc < 0)
		goto close_store;
	/* Its removal wakes us: the listener or its domain is gone. */
	rc = xsp_watch_add(st, advpath, "advert");
	if (rc < 0)
		goto unwatch_answer;
	snprintf(rpath, sizeof(rpath), "%s/%s", rdir, c->id);
	/* A process's first connect removes what killed clients left. */
	if (__atomic_exchange_n(&swept_requests, 1, __ATOMIC_RELAXED) == 0)
		xs_sweep_requests(st, ctx->self, NULL);
	/* pid= is for this domain's sweep only (pids are per kernel). */
	snprintf(req, sizeof(req), XSOCK_REQUEST_FMT, port, sport, daddr, xsp_evtchn_port(c->ev),
		 xsp_share_refs(c->sh_life)[0], (int)getpid());
	rc = xsp_store_write(st, XSP_TXN_NONE, rpath, req, strlen(req));
	if (rc < 0)
		goto unwatch;

	rc = wait_answer(c, st, apath, rpath, advpath, &a);
	if (rc == -EHOSTDOWN) {
		/* A dead listener's advertisement: as if nothing listened. */
		xs_log(XS_LOG_INFO, "dom%u port %u: no acknowledgement within %d ms, "
		       "listener presumed gone", peer, port, ctx->ack_timeout_ms);
		rc = -ENOENT;
	}
	if (rc == -EPIPE) {
		xs_log(XS_LOG_INFO, "dom%u port %u: the listener's advertisement went away "
		       "during the negotiation (listener closed or domain dead)", peer, port);
		rc = -ECONNREFUSED;
	}
	if (rc == 0 && a.state == XS_NEG_REFUSED) {
		/* A server out of grants, channels or memory says so; whether
		 * TCP may do instead is xs_route_after_failure()'s call. The
		 * parser let through only errnos connect() may give. */
		rc = xs_neg_refusal_short(a.err) ? -XS_EPEER_SHORT : -a.err;
		xs_log(XS_LOG_INFO, "dom%u port %u refused the ring: %s", peer, port,
		       strerror(a.err));
	}
	if (rc == 0 && ctx->fault_die_before_attach) {
		xs_log(XS_LOG_WARN, "XSOCK_FAULT=die-before-attach: offer %s read, dying", c->id);
		raise(SIGKILL);
	}
	if (rc == 0 && ctx->fault_stop_before_attach) {
		xs_log(XS_LOG_WARN, "XSOCK_FAULT=stop-before-attach: offer %s read, stopping", c->id);
		raise(SIGSTOP);
	}
	if (rc == 0) {
		rc = client_attach(c, &a);
		c->reuse = a.reuse && ctx->reuse_max > 0;
		c->peer_idle_ms = a.idle_ms;
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
	xsp_watch_rm(st, advpath, "advert");
unwatch_answer:
	xsp_watch_rm(st, apath, "answer");
close_store:
	if (rc < 0) {
		xsp_store_close(st);
		xs_log(XS_LOG_INFO, "ring connect to dom%u port %u: %s", peer, port,
		       strerror(-rc));
		goto free_conn;
	}
	/* Its watches are gone: whoever keeps the connection may keep it. */
	c->st_spare = st;
	c->state = XS_CONN_CONNECTED;
	xs_log(XS_LOG_DEBUG, "ring %s to dom%u port %u connected (evtchn %u)", c->id, peer, port,
	       xsp_evtchn_port(c->ev));
	*out = c;
	return 0;

free_conn:
	/* Not connected: nothing to tell the peer; whatever was mapped goes. */
	xs_conn_abandon(c);
	return rc;

close_given:
	xsp_store_close(st);
	return rc;
}
